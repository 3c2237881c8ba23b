/* tether-test-util.h
 *
 * Copyright 2026 The Tether authors
 *
 * SPDX-License-Identifier: GPL-3.0-or-later
 */

#pragma once

#include <gio/gio.h>
#include <json-glib/json-glib.h>
#include <libsoup/soup.h>

G_BEGIN_DECLS

/* Waiting for asynchronous calls under a real GMainLoop:
 *
 *   g_autoptr(GAsyncResult) result = NULL;
 *
 *   tether_remote_list_page_async (remote, NULL, NULL, NULL,
 *                                  tether_test_async_result_cb, &result);
 *   tether_test_wait_for_result (&result);
 *   page = tether_remote_list_page_finish (remote, result, &error);
 *
 * The callback stores a reference to the result in the GAsyncResult * that
 * user_data points to; the wait runs a GMainLoop on the default context
 * until it is set, and aborts the test after TETHER_TEST_WAIT_TIMEOUT
 * seconds. */
#define TETHER_TEST_WAIT_TIMEOUT 120

/* g_test_init() plus a private HOME and XDG directories for the whole
 * test program, removed at exit. Unlike G_TEST_OPTION_ISOLATE_DIRS it
 * keeps XDG_DATA_DIRS (GTK needs the system's icons and MIME data) and
 * leaks nothing. */
void          tether_test_init             (int           *argc,
                                            char        ***argv);

void          tether_test_async_result_cb  (GObject       *source,
                                            GAsyncResult  *result,
                                            gpointer       user_data);
void          tether_test_wait_for_result  (GAsyncResult **result);
/* Runs the default main loop until @condition returns TRUE (checked after
 * each iteration), with the same time limit. */
void          tether_test_wait_until       (gboolean     (*condition) (gpointer user_data),
                                            gpointer       user_data);

/* Waits (with the same time limit) until the caller holds the last
 * reference on @object. A task run in a worker thread (a large reply
 * parsed off the main thread) holds its source object until that thread
 * lets go of the task, which may be just after its result reached the
 * main loop; call this before g_assert_finalize_object() on such an
 * object. */
void          tether_test_wait_for_last_ref (gpointer      object);

/* A blocking HTTP request for test assertions, done with libsoup's async
 * API on a private GMainContext (so the default main loop does not run
 * meanwhile). @body_json (nullable) is sent as application/json. Returns
 * the reply body (possibly empty, never %NULL on success); @out_status and
 * @out_headers (both optional) get the status and the response headers.
 * Fails only when no HTTP reply came. */
GBytes       *tether_test_http_request     (const char          *method,
                                            const char          *url,
                                            const char          *body_json,
                                            guint               *out_status,
                                            SoupMessageHeaders **out_headers,
                                            GError             **error);
/* The same with request headers: @request_headers holds name, value,
 * name, value… and ends with %NULL. */
GBytes       *tether_test_http_request_with_headers (const char          *method,
                                                     const char          *url,
                                                     const char          *body_json,
                                                     const char * const  *request_headers,
                                                     guint               *out_status,
                                                     SoupMessageHeaders **out_headers,
                                                     GError             **error);
/* The same, parsing the reply as JSON; fails unless the status is 2xx. */
JsonNode     *tether_test_http_json        (const char          *method,
                                            const char          *url,
                                            const char          *body_json,
                                            GError             **error);

/* tests/data/@name in the source tree. */
char         *tether_test_dup_data_path    (const char          *name);

G_END_DECLS
