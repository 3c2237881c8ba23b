/* tether-test-soup-server.h
 *
 * Copyright 2026 The Tether authors
 *
 * SPDX-License-Identifier: GPL-3.0-or-later
 */

#pragma once

#include <gio/gio.h>
#include <json-glib/json-glib.h>

G_BEGIN_DECLS

/* An in-process SoupServer on 127.0.0.1 (a random port) that serves one
 * collection from memory with json-server 0.17.4's conventions, records
 * every request, and misbehaves on cue.
 *
 * The REST convention, as json-server 0.17.4 does it:
 *  - GET /records: the whole array. With _page (and _limit, default 10):
 *    that page, a Link header (first, prev, next, last, absolute URLs on the
 *    request's Host) and X-Total-Count; _limit alone: the first _limit.
 *  - GET /records/:id: the record or 404 {}.
 *  - POST /records: keeps the body's id (a duplicate is a 500), else
 *    max numeric id + 1; 201 with the record and a Location.
 *  - PATCH merges the body's members, PUT replaces the record (the id is
 *    kept either way); 404 {} for an unknown id.
 *  - DELETE: 200 {}, or 404 {} for an unknown id.
 *  - Ids are matched on their text ("3" is 3), the path segment being
 *    percent-decoded (the server keeps raw paths, so "%2F" in an id is not
 *    a path separator).
 *  - Every JSON reply has a weak ETag; a GET whose If-None-Match equals it
 *    is answered 304 (with Link and X-Total-Count still). Unlike
 *    json-server, If-Match on PATCH, PUT and DELETE is checked against the
 *    record's ETag: a mismatch is a 412.
 *
 * The server runs in a thread of its own, with its own GMainContext, so
 * that a test's main loop (or a blocked test) does not drive it. All the
 * functions below are called from the test's thread.
 */
typedef struct _TetherTestSoupServer TetherTestSoupServer;

/**
 * TetherTestFaultKind:
 * @TETHER_TEST_FAULT_DROP: apply the request, then close the connection
 *   without a reply (a create whose reply was lost)
 * @TETHER_TEST_FAULT_DROP_UNPROCESSED: close the connection without
 *   applying the request or replying
 * @TETHER_TEST_FAULT_DROP_MID_BODY: apply the request, send the headers
 *   (with the full Content-Length) and half of the body, then close
 * @TETHER_TEST_FAULT_STATUS: reply @status with @body (default "{}") of
 *   @content_type (default application/json) and Retry-After: @retry_after
 *   if set; the request is applied first only if @process is set. Use it
 *   for 500, 503 or 429 with Retry-After, 401, 403, 404, 409, 412, 422…
 * @TETHER_TEST_FAULT_DELAY: apply the request, send the normal reply after
 *   @delay_ms
 * @TETHER_TEST_FAULT_MALFORMED_JSON: apply, reply the normal status with a
 *   body that is not JSON (content type application/json)
 * @TETHER_TEST_FAULT_TRUNCATED_JSON: apply, reply the first half of the
 *   normal body (a complete HTTP message with a cut JSON text)
 * @TETHER_TEST_FAULT_NOT_ARRAY: apply, reply a JSON object
 *   {"records": [...]} where an array was due
 * @TETHER_TEST_FAULT_NO_ID: apply, reply the record(s) without the id
 *   member
 * @TETHER_TEST_FAULT_CONTENT_TYPE: apply, reply the normal body with
 *   @content_type (default text/html)
 * @TETHER_TEST_FAULT_HUGE_BODY: reply 200 with a valid JSON array of @size
 *   bytes, chunked (no Content-Length) unless @content_length is set
 * @TETHER_TEST_FAULT_REDIRECT: reply @status (default 302) with Location:
 *   @location followed by the request's path and query; not applied
 * @TETHER_TEST_FAULT_SET_ID: POST: the created record gets the id @id_json
 *   (JSON text: "7", "\"../admin\"")
 * @TETHER_TEST_FAULT_LINK: apply, reply normally but with Link: @link
 *   (a next page on another server, a malformed header…)
 */
typedef enum
{
  TETHER_TEST_FAULT_NONE,
  TETHER_TEST_FAULT_DROP,
  TETHER_TEST_FAULT_DROP_UNPROCESSED,
  TETHER_TEST_FAULT_DROP_MID_BODY,
  TETHER_TEST_FAULT_STATUS,
  TETHER_TEST_FAULT_DELAY,
  TETHER_TEST_FAULT_MALFORMED_JSON,
  TETHER_TEST_FAULT_TRUNCATED_JSON,
  TETHER_TEST_FAULT_NOT_ARRAY,
  TETHER_TEST_FAULT_NO_ID,
  TETHER_TEST_FAULT_CONTENT_TYPE,
  TETHER_TEST_FAULT_HUGE_BODY,
  TETHER_TEST_FAULT_REDIRECT,
  TETHER_TEST_FAULT_SET_ID,
  TETHER_TEST_FAULT_LINK,
} TetherTestFaultKind;

/**
 * TetherTestFault:
 * @kind: what goes wrong
 * @method: (nullable): only requests with this method ("POST"); %NULL: any
 * @path: (nullable): only requests with this path (no query), as sent,
 *   percent-encoding included ("/records", "/records/3"); %NULL: any
 * @times: how many matching requests it applies to; 0 means once
 * @status: for STATUS and REDIRECT
 * @body: for STATUS
 * @content_type: for STATUS and CONTENT_TYPE
 * @retry_after: for STATUS: the Retry-After header's value
 * @delay_ms: for DELAY
 * @size: for HUGE_BODY
 * @content_length: for HUGE_BODY: send a Content-Length
 * @location: for REDIRECT: the base URL to redirect to (another server's
 *   URL, say)
 * @id_json: for SET_ID
 * @link: for LINK
 * @process: for STATUS: apply the request before replying
 *
 * Faults wait in a queue, in the order they were pushed. A request takes
 * the first fault that matches its method and path; each fault fires
 * @times times and is then gone. The strings are copied.
 */
typedef struct
{
  TetherTestFaultKind  kind;
  const char          *method;
  const char          *path;
  guint                times;
  guint                status;
  const char          *body;
  const char          *content_type;
  const char          *retry_after;
  guint                delay_ms;
  gsize                size;
  gboolean             content_length;
  const char          *location;
  const char          *id_json;
  const char          *link;
  gboolean             process;
} TetherTestFault;

/**
 * TetherTestRequest:
 * @method: the request method
 * @path: the path as received, percent-encoding kept
 * @query: (nullable): the query
 * @target: path and query as one string ("/records?_page=1&_limit=3")
 * @authorization: (nullable): the Authorization header
 * @if_match: (nullable): the If-Match header
 * @if_none_match: (nullable): the If-None-Match header
 * @content_type: (nullable): the request's Content-Type
 * @user_agent: (nullable): the User-Agent header
 * @body: (nullable): the request body, NUL-terminated
 * @status: the status of the reply, 0 when the connection was dropped
 * @fault: the fault that fired for this request, or NONE
 */
typedef struct
{
  char                *method;
  char                *path;
  char                *query;
  char                *target;
  char                *authorization;
  char                *if_match;
  char                *if_none_match;
  char                *content_type;
  char                *user_agent;
  char                *body;
  guint                status;
  TetherTestFaultKind  fault;
} TetherTestRequest;

void                  tether_test_request_free                      (TetherTestRequest    *request);
G_DEFINE_AUTOPTR_CLEANUP_FUNC (TetherTestRequest, tether_test_request_free)

/* An HTTP server for the collection "records", empty. */
TetherTestSoupServer *tether_test_soup_server_new                   (void);
/* The same over HTTPS with @certificate (for a self-signed server). */
TetherTestSoupServer *tether_test_soup_server_new_tls               (GTlsCertificate      *certificate);
void                  tether_test_soup_server_free                  (TetherTestSoupServer *self);

/* "http://127.0.0.1:PORT" (or https), without a trailing slash. */
const char           *tether_test_soup_server_get_url               (TetherTestSoupServer *self);

/* The collection's name (default "records"): it is served at /NAME. */
void                  tether_test_soup_server_set_collection        (TetherTestSoupServer *self,
                                                                     const char           *name);
/* Replaces the collection with @records_json, a JSON array of objects. */
void                  tether_test_soup_server_set_records           (TetherTestSoupServer *self,
                                                                     const char           *records_json);
/* Adds @n records {"id": i, "title": "Record i"} after the existing ones,
 * with ids continuing the largest. */
void                  tether_test_soup_server_add_generated_records (TetherTestSoupServer *self,
                                                                     guint                 n);
/* A copy of the collection. */
JsonArray            *tether_test_soup_server_dup_records           (TetherTestSoupServer *self);
guint                 tether_test_soup_server_get_n_records         (TetherTestSoupServer *self);
/* A copy of the record whose id has the text @id, or %NULL. */
JsonObject           *tether_test_soup_server_dup_record            (TetherTestSoupServer *self,
                                                                     const char           *id);

/* Requests whose Authorization header is not exactly @authorization get
 * 401 with WWW-Authenticate: Basic. %NULL turns it off. */
void                  tether_test_soup_server_set_required_authorization (TetherTestSoupServer *self,
                                                                          const char           *authorization);
/* ETags and 304s on (the default) or off. */
void                  tether_test_soup_server_set_etags             (TetherTestSoupServer *self,
                                                                     gboolean              etags);

void                  tether_test_soup_server_push_fault            (TetherTestSoupServer  *self,
                                                                     const TetherTestFault *fault);
/* Faults still waiting to fire. */
guint                 tether_test_soup_server_get_n_faults          (TetherTestSoupServer *self);
void                  tether_test_soup_server_clear_faults          (TetherTestSoupServer *self);

guint                 tether_test_soup_server_get_n_requests        (TetherTestSoupServer *self);
/* A copy of request @index (0 is the first since the last clear). */
TetherTestRequest    *tether_test_soup_server_dup_request           (TetherTestSoupServer *self,
                                                                     guint                 index);
TetherTestRequest    *tether_test_soup_server_dup_last_request      (TetherTestSoupServer *self);
void                  tether_test_soup_server_clear_requests        (TetherTestSoupServer *self);

G_DEFINE_AUTOPTR_CLEANUP_FUNC (TetherTestSoupServer, tether_test_soup_server_free)

G_END_DECLS
