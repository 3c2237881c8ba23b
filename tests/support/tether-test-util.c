/* tether-test-util.c
 *
 * Copyright 2026 The Tether authors
 *
 * SPDX-License-Identifier: GPL-3.0-or-later
 */

#include "config.h"

#include <stdlib.h>
#include <string.h>

#include "tether-test-util.h"

static GMainLoop *wait_loop;
static char *test_home;

static void
remove_tree (GFile *file)
{
  g_autoptr(GFileEnumerator) children = NULL;

  children = g_file_enumerate_children (file, G_FILE_ATTRIBUTE_STANDARD_NAME,
                                        G_FILE_QUERY_INFO_NOFOLLOW_SYMLINKS, NULL, NULL);
  if (children != NULL)
    {
      GFileInfo *info;
      GFile *child;

      while (g_file_enumerator_iterate (children, &info, &child, NULL, NULL) && info != NULL)
        {
          if (g_file_info_get_file_type (info) == G_FILE_TYPE_DIRECTORY)
            remove_tree (child);
          else
            g_file_delete (child, NULL, NULL);
        }
    }

  g_file_delete (file, NULL, NULL);
}

static void
remove_test_home (void)
{
  g_autoptr(GFile) home = NULL;

  if (test_home == NULL)
    return;

  /* Kept when a test failed, for the post-mortem. */
  if (!g_test_failed ())
    {
      home = g_file_new_for_path (test_home);
      remove_tree (home);
    }

  g_clear_pointer (&test_home, g_free);
}

void
tether_test_init (int    *argc,
                  char ***argv)
{
  static const char * const dirs[][2] = {
    { "XDG_DATA_HOME", "data" },
    { "XDG_CONFIG_HOME", "config" },
    { "XDG_CACHE_HOME", "cache" },
    { "XDG_STATE_HOME", "state" },
  };
  g_autoptr(GError) error = NULL;

  /* Before anything in GLib reads and caches the user directories. */
  test_home = g_dir_make_tmp ("tether-test-XXXXXX", &error);
  g_assert_no_error (error);
  g_setenv ("HOME", test_home, TRUE);

  for (guint i = 0; i < G_N_ELEMENTS (dirs); i++)
    {
      g_autofree char *path = g_build_filename (test_home, dirs[i][1], NULL);

      g_mkdir_with_parents (path, 0700);
      g_setenv (dirs[i][0], path, TRUE);
    }

  g_test_init (argc, argv, NULL);
  atexit (remove_test_home);
}

static gboolean
wait_timeout_cb (gpointer user_data)
{
  g_error ("Timed out after %d s waiting for an asynchronous operation",
           TETHER_TEST_WAIT_TIMEOUT);

  return G_SOURCE_REMOVE;
}

void
tether_test_async_result_cb (GObject      *source,
                             GAsyncResult *result,
                             gpointer      user_data)
{
  GAsyncResult **slot = user_data;

  g_assert_nonnull (slot);
  g_assert_null (*slot);

  *slot = g_object_ref (result);

  if (wait_loop != NULL)
    g_main_loop_quit (wait_loop);
}

void
tether_test_wait_for_result (GAsyncResult **result)
{
  guint timeout_id;

  g_assert_nonnull (result);
  g_assert_null (wait_loop);

  if (*result != NULL)
    return;

  wait_loop = g_main_loop_new (NULL, FALSE);
  timeout_id = g_timeout_add_seconds (TETHER_TEST_WAIT_TIMEOUT, wait_timeout_cb, NULL);

  while (*result == NULL)
    g_main_loop_run (wait_loop);

  g_source_remove (timeout_id);
  g_clear_pointer (&wait_loop, g_main_loop_unref);
}

void
tether_test_wait_until (gboolean (*condition) (gpointer user_data),
                        gpointer   user_data)
{
  gint64 deadline;

  deadline = g_get_monotonic_time () + TETHER_TEST_WAIT_TIMEOUT * G_TIME_SPAN_SECOND;

  while (!condition (user_data))
    {
      if (g_get_monotonic_time () > deadline)
        g_error ("Timed out after %d s waiting for a condition", TETHER_TEST_WAIT_TIMEOUT);

      g_main_context_iteration (NULL, TRUE);
    }
}

void
tether_test_wait_for_last_ref (gpointer object)
{
  gint64 deadline = g_get_monotonic_time () + TETHER_TEST_WAIT_TIMEOUT * G_TIME_SPAN_SECOND;

  g_return_if_fail (G_IS_OBJECT (object));

  /* The worker thread drops its reference without waking the main loop:
   * poll, briefly. */
  while (g_atomic_int_get (&G_OBJECT (object)->ref_count) > 1)
    {
      if (g_get_monotonic_time () > deadline)
        g_error ("Timed out after %d s waiting for the last reference on a %s",
                 TETHER_TEST_WAIT_TIMEOUT, G_OBJECT_TYPE_NAME (object));

      if (!g_main_context_iteration (NULL, FALSE))
        g_usleep (1000);
    }
}

typedef struct
{
  GBytes  *body;
  GError  *error;
  gboolean done;
} HttpData;

static void
http_send_cb (GObject      *object,
              GAsyncResult *result,
              gpointer      user_data)
{
  HttpData *data = user_data;

  data->body = soup_session_send_and_read_finish (SOUP_SESSION (object), result, &data->error);
  data->done = TRUE;
}

GBytes *
tether_test_http_request (const char          *method,
                          const char          *url,
                          const char          *body_json,
                          guint               *out_status,
                          SoupMessageHeaders **out_headers,
                          GError             **error)
{
  return tether_test_http_request_with_headers (method, url, body_json, NULL,
                                                out_status, out_headers, error);
}

GBytes *
tether_test_http_request_with_headers (const char          *method,
                                       const char          *url,
                                       const char          *body_json,
                                       const char * const  *request_headers,
                                       guint               *out_status,
                                       SoupMessageHeaders **out_headers,
                                       GError             **error)
{
  g_autoptr(GMainContext) context = NULL;
  g_autoptr(SoupSession) session = NULL;
  g_autoptr(SoupMessage) msg = NULL;
  HttpData data = { NULL, NULL, FALSE };

  g_return_val_if_fail (method != NULL, NULL);
  g_return_val_if_fail (url != NULL, NULL);

  if (out_status != NULL)
    *out_status = 0;
  if (out_headers != NULL)
    *out_headers = NULL;

  msg = soup_message_new (method, url);
  if (msg == NULL)
    {
      g_set_error (error, G_IO_ERROR, G_IO_ERROR_INVALID_ARGUMENT, "Invalid URL %s", url);
      return NULL;
    }

  for (guint i = 0; request_headers != NULL && request_headers[i] != NULL; i += 2)
    {
      g_assert_nonnull (request_headers[i + 1]);
      soup_message_headers_replace (soup_message_get_request_headers (msg),
                                    request_headers[i], request_headers[i + 1]);
    }

  if (body_json != NULL)
    {
      g_autoptr(GBytes) body = g_bytes_new (body_json, strlen (body_json));

      soup_message_set_request_body_from_bytes (msg, "application/json", body);
    }

  /* The session belongs to the context that is the thread default when it
   * is created: make both private to this call. */
  context = g_main_context_new ();
  g_main_context_push_thread_default (context);

  session = soup_session_new_with_options ("timeout", 30, NULL);
  soup_session_send_and_read_async (session, msg, G_PRIORITY_DEFAULT, NULL, http_send_cb, &data);

  while (!data.done)
    g_main_context_iteration (context, TRUE);

  soup_session_abort (session);
  g_clear_object (&session);

  while (g_main_context_pending (context))
    g_main_context_iteration (context, FALSE);

  g_main_context_pop_thread_default (context);

  if (data.error != NULL)
    {
      g_propagate_error (error, data.error);
      return NULL;
    }

  if (out_status != NULL)
    *out_status = soup_message_get_status (msg);
  if (out_headers != NULL)
    *out_headers = soup_message_headers_ref (soup_message_get_response_headers (msg));

  return data.body;
}

JsonNode *
tether_test_http_json (const char  *method,
                       const char  *url,
                       const char  *body_json,
                       GError     **error)
{
  g_autoptr(GBytes) body = NULL;
  g_autoptr(JsonParser) parser = NULL;
  guint status;

  body = tether_test_http_request (method, url, body_json, &status, NULL, error);
  if (body == NULL)
    return NULL;

  if (!SOUP_STATUS_IS_SUCCESSFUL (status))
    {
      g_set_error (error, G_IO_ERROR, G_IO_ERROR_FAILED,
                   "%s %s answered %u: %.*s", method, url, status,
                   (int) MIN (g_bytes_get_size (body), 500),
                   (const char *) g_bytes_get_data (body, NULL));
      return NULL;
    }

  parser = json_parser_new ();
  if (!json_parser_load_from_data (parser,
                                   g_bytes_get_data (body, NULL),
                                   g_bytes_get_size (body),
                                   error))
    return NULL;

  return json_node_ref (json_parser_get_root (parser));
}

char *
tether_test_dup_data_path (const char *name)
{
  const char *root = g_getenv ("TETHER_SOURCE_ROOT");

  g_assert_nonnull (root);

  return g_build_filename (root, "tests", "data", name, NULL);
}
