/* test-fixtures.c
 *
 * Copyright 2026 The Tether authors
 *
 * SPDX-License-Identifier: GPL-3.0-or-later
 */

#include "config.h"

#include <signal.h>
#include <stdio.h>
#include <string.h>
#include <unistd.h>

#include <glib/gstdio.h>
#include <libsoup/soup.h>

#include "tether-test-json-server.h"
#include "tether-test-soup-server.h"
#include "tether-test-util.h"

/* The shared fixtures, tested a little so that a failure elsewhere is not
 * a fixture's. */

static JsonNode *
parse (GBytes *bytes)
{
  g_autoptr(JsonParser) parser = json_parser_new ();
  g_autoptr(GError) error = NULL;

  json_parser_load_from_data (parser, g_bytes_get_data (bytes, NULL), g_bytes_get_size (bytes), &error);
  g_assert_no_error (error);

  return json_node_ref (json_parser_get_root (parser));
}

static char *
url_for (TetherTestSoupServer *server,
         const char           *target)
{
  return g_strconcat (tether_test_soup_server_get_url (server), target, NULL);
}

/*
 * json-server
 */

static void
test_json_server_lifecycle (void)
{
  g_autoptr(TetherTestJsonServer) server = NULL;
  g_autoptr(GError) error = NULL;
  g_autoptr(JsonNode) created = NULL;
  g_autoptr(JsonArray) records = NULL;
  g_autoptr(GBytes) body = NULL;
  g_autofree char *url = NULL;
  guint status = 0;

  server = tether_test_json_server_new ("{\"records\": [{\"id\": 1, \"title\": \"One\"}]}", &error);
  g_assert_no_error (error);
  g_assert_true (g_str_has_prefix (tether_test_json_server_get_url (server), "http://127.0.0.1:"));
  g_assert_cmpuint (tether_test_json_server_get_port (server), >, 0);

  records = tether_test_json_server_dup_collection (server, "records");
  g_assert_cmpuint (json_array_get_length (records), ==, 1);

  created = tether_test_json_server_request (server, "POST", "/records",
                                             "{\"title\": \"Two\"}", &status, &error);
  g_assert_no_error (error);
  g_assert_cmpuint (status, ==, 201);
  g_assert_cmpint (json_object_get_int_member (json_node_get_object (created), "id"), ==, 2);

  /* It writes its db.json. */
  g_assert_true (g_file_test (tether_test_json_server_get_db_path (server), G_FILE_TEST_EXISTS));

  url = g_strconcat (tether_test_json_server_get_url (server), "/records", NULL);
  tether_test_json_server_stop (server);
  tether_test_json_server_stop (server);

  body = tether_test_http_request ("GET", url, NULL, &status, NULL, &error);
  g_assert_null (body);
  g_assert_error (error, G_IO_ERROR, G_IO_ERROR_CONNECTION_REFUSED);
}

static void
test_json_server_not_installed (void)
{
  g_autofree char *saved = g_strdup (g_getenv ("TETHER_SOURCE_ROOT"));
  g_autofree char *empty = NULL;
  g_autoptr(TetherTestJsonServer) server = NULL;
  g_autoptr(GError) error = NULL;

  empty = g_dir_make_tmp ("tether-no-node-modules-XXXXXX", &error);
  g_assert_no_error (error);

  g_setenv ("TETHER_SOURCE_ROOT", empty, TRUE);
  server = tether_test_json_server_new (NULL, &error);
  g_setenv ("TETHER_SOURCE_ROOT", saved, TRUE);

  g_assert_null (server);
  g_assert_error (error, G_IO_ERROR, G_IO_ERROR_NOT_FOUND);
  g_assert_nonnull (strstr (error->message, "npm ci"));

  g_rmdir (empty);
}

static char *
pid_file_path (pid_t test_pid)
{
  g_autofree char *name = g_strdup_printf ("tether-json-server-pid-%d", (int) test_pid);

  return g_build_filename (g_get_tmp_dir (), name, NULL);
}

static gboolean
process_is_gone (pid_t pid)
{
  g_autofree char *stat_path = g_strdup_printf ("/proc/%d/stat", (int) pid);
  g_autofree char *stat = NULL;
  const char *state;

  if (!g_file_get_contents (stat_path, &stat, NULL, NULL))
    return TRUE;

  /* A zombie nobody reaped yet (PID 1 in a container may not) is gone
   * too: "pid (comm) Z ...". */
  state = strrchr (stat, ')');

  return state != NULL && state[1] == ' ' && state[2] == 'Z';
}

static void
test_json_server_dies_with_test (void)
{
  g_autofree char *pid_path = NULL;
  g_autofree char *contents = NULL;
  g_autoptr(GError) error = NULL;
  gint64 pid = 0;
  gint64 deadline;

  if (g_test_subprocess ())
    {
      g_autoptr(TetherTestJsonServer) server = NULL;
      g_autofree char *server_pid = NULL;
      g_autofree char *path = pid_file_path (getppid ());

      server = tether_test_json_server_new (NULL, &error);
      g_assert_no_error (error);

      /* The server is our only child process. */
      {
        g_autoptr(GDir) proc = g_dir_open ("/proc", 0, NULL);
        const char *name;

        while (proc != NULL && (name = g_dir_read_name (proc)) != NULL)
          {
            g_autofree char *stat_path = g_build_filename ("/proc", name, "stat", NULL);
            g_autofree char *stat = NULL;
            const char *after;
            int ppid = 0;

            if (!g_ascii_isdigit (name[0]) || !g_file_get_contents (stat_path, &stat, NULL, NULL))
              continue;

            after = strrchr (stat, ')');
            if (after != NULL && sscanf (after + 2, "%*c %d", &ppid) == 1 && ppid == getpid ())
              server_pid = g_strdup (name);
          }
      }

      g_assert_nonnull (server_pid);
      g_file_set_contents (path, server_pid, -1, &error);
      g_assert_no_error (error);

      /* Die without freeing the fixture. */
      _exit (3);
    }

  pid_path = pid_file_path (getpid ());
  g_unlink (pid_path);

  g_test_trap_subprocess (NULL, 60 * G_USEC_PER_SEC, G_TEST_SUBPROCESS_INHERIT_STDERR);
  g_test_trap_assert_failed ();

  g_file_get_contents (pid_path, &contents, NULL, &error);
  g_assert_no_error (error);
  g_unlink (pid_path);
  g_assert_true (g_ascii_string_to_signed (contents, 10, 1, G_MAXINT, &pid, NULL));

  deadline = g_get_monotonic_time () + 10 * G_TIME_SPAN_SECOND;
  while (!process_is_gone ((pid_t) pid) && g_get_monotonic_time () < deadline)
    g_usleep (50 * 1000);

  if (!process_is_gone ((pid_t) pid))
    {
      /* Do not leave it behind, and fail. */
      kill ((pid_t) pid, SIGKILL);
      g_assert_not_reached ();
    }
}

/*
 * The SoupServer
 */

static void
test_soup_server_rest (void)
{
  g_autoptr(TetherTestSoupServer) server = tether_test_soup_server_new ();
  g_autoptr(SoupMessageHeaders) headers = NULL;
  g_autoptr(GBytes) body = NULL;
  g_autoptr(JsonNode) node = NULL;
  g_autoptr(JsonObject) record = NULL;
  g_autoptr(GError) error = NULL;
  g_autofree char *page_url = url_for (server, "/records?_page=2&_limit=3");
  g_autofree char *collection_url = url_for (server, "/records");
  g_autofree char *record_url = url_for (server, "/records/8");
  g_autofree char *slash_url = url_for (server, "/records/a%2Fb");
  g_autofree char *etag = NULL;
  g_autofree char *expected_link = NULL;
  guint status;

  tether_test_soup_server_add_generated_records (server, 7);

  /* A middle page, with json-server's headers. */
  body = tether_test_http_request ("GET", page_url, NULL, &status, &headers, &error);
  g_assert_no_error (error);
  g_assert_cmpuint (status, ==, 200);
  g_assert_cmpstr (soup_message_headers_get_one (headers, "X-Total-Count"), ==, "7");
  expected_link = g_strdup_printf ("<%1$s/records?_page=1&_limit=3>; rel=\"first\", "
                                   "<%1$s/records?_page=1&_limit=3>; rel=\"prev\", "
                                   "<%1$s/records?_page=3&_limit=3>; rel=\"next\", "
                                   "<%1$s/records?_page=3&_limit=3>; rel=\"last\"",
                                   tether_test_soup_server_get_url (server));
  g_assert_cmpstr (soup_message_headers_get_one (headers, "Link"), ==, expected_link);
  node = parse (body);
  g_assert_cmpuint (json_array_get_length (json_node_get_array (node)), ==, 3);
  g_assert_cmpint (json_object_get_int_member (json_array_get_object_element (json_node_get_array (node), 0), "id"), ==, 4);

  /* The weak ETag, and a 304 for it that still has the Link. */
  etag = g_strdup (soup_message_headers_get_one (headers, "ETag"));
  g_assert_true (g_str_has_prefix (etag, "W/\""));
  g_clear_pointer (&body, g_bytes_unref);
  g_clear_pointer (&headers, soup_message_headers_unref);
  {
    const char * const request_headers[] = { "If-None-Match", etag, NULL };

    body = tether_test_http_request_with_headers ("GET", page_url, NULL, request_headers,
                                                  &status, &headers, &error);
    g_assert_no_error (error);
    g_assert_cmpuint (status, ==, 304);
    g_assert_cmpuint (g_bytes_get_size (body), ==, 0);
    g_assert_cmpstr (soup_message_headers_get_one (headers, "Link"), ==, expected_link);
    g_clear_pointer (&body, g_bytes_unref);
  }

  /* POST: max + 1; PATCH merges; PUT replaces; DELETE. */
  g_clear_pointer (&node, json_node_unref);
  node = tether_test_http_json ("POST", collection_url, "{\"title\": \"New\"}", &error);
  g_assert_no_error (error);
  g_assert_cmpint (json_object_get_int_member (json_node_get_object (node), "id"), ==, 8);

  g_clear_pointer (&node, json_node_unref);
  node = tether_test_http_json ("PATCH", record_url, "{\"done\": true}", &error);
  g_assert_no_error (error);
  g_assert_cmpstr (json_object_get_string_member (json_node_get_object (node), "title"), ==, "New");
  g_assert_true (json_object_get_boolean_member (json_node_get_object (node), "done"));

  g_clear_pointer (&node, json_node_unref);
  node = tether_test_http_json ("PUT", record_url, "{\"title\": \"Put\"}", &error);
  g_assert_no_error (error);
  g_assert_false (json_object_has_member (json_node_get_object (node), "done"));
  g_assert_cmpint (json_object_get_int_member (json_node_get_object (node), "id"), ==, 8);

  record = tether_test_soup_server_dup_record (server, "8");
  g_assert_cmpstr (json_object_get_string_member (record, "title"), ==, "Put");

  /* If-Match is checked. */
  {
    const char * const request_headers[] = { "If-Match", "W/\"nope\"", NULL };

    body = tether_test_http_request_with_headers ("PATCH", record_url, "{}", request_headers,
                                                  &status, NULL, &error);
    g_assert_no_error (error);
    g_assert_cmpuint (status, ==, 412);
    g_clear_pointer (&body, g_bytes_unref);
  }

  body = tether_test_http_request ("DELETE", record_url, NULL, &status, NULL, &error);
  g_assert_no_error (error);
  g_assert_cmpuint (status, ==, 200);
  g_clear_pointer (&body, g_bytes_unref);
  body = tether_test_http_request ("DELETE", record_url, NULL, &status, NULL, &error);
  g_assert_cmpuint (status, ==, 404);
  g_clear_pointer (&body, g_bytes_unref);

  /* A duplicate id is a 500, like json-server. */
  body = tether_test_http_request ("POST", collection_url, "{\"id\": 1}", &status, NULL, &error);
  g_assert_cmpuint (status, ==, 500);
  g_clear_pointer (&body, g_bytes_unref);

  /* Ids are one raw path segment. */
  body = tether_test_http_request ("POST", collection_url, "{\"id\": \"a/b\"}", &status, NULL, &error);
  g_assert_cmpuint (status, ==, 201);
  g_clear_pointer (&body, g_bytes_unref);
  body = tether_test_http_request ("GET", slash_url, NULL, &status, NULL, &error);
  g_assert_cmpuint (status, ==, 200);

  g_assert_cmpuint (tether_test_soup_server_get_n_records (server), ==, 8);
  g_assert_cmpuint (tether_test_soup_server_get_n_requests (server), ==, 11);
}

static void
test_soup_server_faults_in_order (void)
{
  g_autoptr(TetherTestSoupServer) server = tether_test_soup_server_new ();
  g_autofree char *url = url_for (server, "/records");
  const guint expected[] = { 500, 503, 503, 200 };

  tether_test_soup_server_push_fault (server, &(TetherTestFault) {
                                        .kind = TETHER_TEST_FAULT_STATUS,
                                        .method = "POST",
                                        .status = 418,
                                      });
  tether_test_soup_server_push_fault (server, &(TetherTestFault) {
                                        .kind = TETHER_TEST_FAULT_STATUS,
                                        .method = "GET",
                                        .status = 500,
                                      });
  tether_test_soup_server_push_fault (server, &(TetherTestFault) {
                                        .kind = TETHER_TEST_FAULT_STATUS,
                                        .method = "GET",
                                        .path = "/records",
                                        .status = 503,
                                        .retry_after = "3",
                                        .times = 2,
                                      });
  g_assert_cmpuint (tether_test_soup_server_get_n_faults (server), ==, 3);

  for (guint i = 0; i < G_N_ELEMENTS (expected); i++)
    {
      g_autoptr(GBytes) body = NULL;
      g_autoptr(SoupMessageHeaders) headers = NULL;
      g_autoptr(GError) error = NULL;
      g_autoptr(TetherTestRequest) request = NULL;
      guint status = 0;

      body = tether_test_http_request ("GET", url, NULL, &status, &headers, &error);
      g_assert_no_error (error);
      g_assert_cmpuint (status, ==, expected[i]);

      if (status == 503)
        g_assert_cmpstr (soup_message_headers_get_one (headers, "Retry-After"), ==, "3");

      request = tether_test_soup_server_dup_last_request (server);
      g_assert_cmpuint (request->status, ==, expected[i]);
      g_assert_cmpint (request->fault, ==, expected[i] == 200 ? TETHER_TEST_FAULT_NONE : TETHER_TEST_FAULT_STATUS);
    }

  /* The POST fault is still waiting. */
  g_assert_cmpuint (tether_test_soup_server_get_n_faults (server), ==, 1);
  tether_test_soup_server_clear_faults (server);
  g_assert_cmpuint (tether_test_soup_server_get_n_faults (server), ==, 0);
}

static void
test_soup_server_drops (void)
{
  g_autoptr(TetherTestSoupServer) server = tether_test_soup_server_new ();
  g_autofree char *url = url_for (server, "/records");
  g_autoptr(GBytes) body = NULL;
  g_autoptr(GError) error = NULL;
  g_autoptr(TetherTestRequest) request = NULL;
  guint status = 0;

  /* Processed, then dropped: the record exists, no reply came. */
  tether_test_soup_server_push_fault (server, &(TetherTestFault) { .kind = TETHER_TEST_FAULT_DROP });
  body = tether_test_http_request ("POST", url, "{\"title\": \"Lost reply\"}", &status, NULL, &error);
  g_assert_null (body);
  g_assert_nonnull (error);
  g_clear_error (&error);
  g_assert_cmpuint (tether_test_soup_server_get_n_records (server), ==, 1);
  request = tether_test_soup_server_dup_last_request (server);
  g_assert_cmpuint (request->status, ==, 0);
  g_assert_cmpstr (request->body, ==, "{\"title\": \"Lost reply\"}");
  g_clear_pointer (&request, tether_test_request_free);

  /* Dropped unprocessed. */
  tether_test_soup_server_push_fault (server, &(TetherTestFault) { .kind = TETHER_TEST_FAULT_DROP_UNPROCESSED });
  body = tether_test_http_request ("POST", url, "{\"title\": \"Never\"}", &status, NULL, &error);
  g_assert_null (body);
  g_assert_nonnull (error);
  g_clear_error (&error);
  g_assert_cmpuint (tether_test_soup_server_get_n_records (server), ==, 1);

  /* Cut in the middle of the body. */
  tether_test_soup_server_push_fault (server, &(TetherTestFault) { .kind = TETHER_TEST_FAULT_DROP_MID_BODY });
  body = tether_test_http_request ("GET", url, NULL, &status, NULL, &error);
  g_assert_null (body);
  g_assert_error (error, G_IO_ERROR, G_IO_ERROR_PARTIAL_INPUT);
  g_clear_error (&error);

  /* And the server is still fine. */
  body = tether_test_http_request ("GET", url, NULL, &status, NULL, &error);
  g_assert_no_error (error);
  g_assert_cmpuint (status, ==, 200);
}

static void
test_soup_server_replies (void)
{
  g_autoptr(TetherTestSoupServer) server = tether_test_soup_server_new ();
  g_autofree char *url = url_for (server, "/records");
  g_autoptr(GError) error = NULL;
  gint64 start;

  tether_test_soup_server_add_generated_records (server, 2);

  /* Delay */
  {
    g_autoptr(GBytes) body = NULL;
    guint status = 0;

    tether_test_soup_server_push_fault (server, &(TetherTestFault) {
                                          .kind = TETHER_TEST_FAULT_DELAY,
                                          .delay_ms = 300,
                                        });
    start = g_get_monotonic_time ();
    body = tether_test_http_request ("GET", url, NULL, &status, NULL, &error);
    g_assert_no_error (error);
    g_assert_cmpuint (status, ==, 200);
    g_assert_cmpint (g_get_monotonic_time () - start, >=, 300 * 1000);
  }

  /* Malformed, truncated, not an array, no ids, content type, size. */
  {
    g_autoptr(GBytes) body = NULL;
    g_autoptr(JsonParser) parser = json_parser_new ();
    guint status = 0;

    tether_test_soup_server_push_fault (server, &(TetherTestFault) { .kind = TETHER_TEST_FAULT_MALFORMED_JSON });
    body = tether_test_http_request ("GET", url, NULL, &status, NULL, &error);
    g_assert_cmpuint (status, ==, 200);
    g_assert_false (json_parser_load_from_data (parser, g_bytes_get_data (body, NULL), g_bytes_get_size (body), NULL));
  }
  {
    g_autoptr(GBytes) body = NULL;
    g_autoptr(JsonParser) parser = json_parser_new ();
    guint status = 0;

    tether_test_soup_server_push_fault (server, &(TetherTestFault) { .kind = TETHER_TEST_FAULT_TRUNCATED_JSON });
    body = tether_test_http_request ("GET", url, NULL, &status, NULL, &error);
    g_assert_cmpuint (status, ==, 200);
    g_assert_false (json_parser_load_from_data (parser, g_bytes_get_data (body, NULL), g_bytes_get_size (body), NULL));
  }
  {
    g_autoptr(JsonNode) node = NULL;

    tether_test_soup_server_push_fault (server, &(TetherTestFault) { .kind = TETHER_TEST_FAULT_NOT_ARRAY });
    node = tether_test_http_json ("GET", url, NULL, &error);
    g_assert_no_error (error);
    g_assert_true (JSON_NODE_HOLDS_OBJECT (node));
  }
  {
    g_autoptr(JsonNode) node = NULL;

    tether_test_soup_server_push_fault (server, &(TetherTestFault) { .kind = TETHER_TEST_FAULT_NO_ID, .method = "POST" });
    node = tether_test_http_json ("POST", url, "{\"title\": \"x\"}", &error);
    g_assert_no_error (error);
    g_assert_false (json_object_has_member (json_node_get_object (node), "id"));
    /* The record itself has its id on the server. */
    g_assert_cmpuint (tether_test_soup_server_get_n_records (server), ==, 3);
  }
  {
    g_autoptr(JsonNode) node = NULL;

    tether_test_soup_server_push_fault (server, &(TetherTestFault) {
                                          .kind = TETHER_TEST_FAULT_SET_ID,
                                          .id_json = "\"../admin\"",
                                        });
    node = tether_test_http_json ("POST", url, "{\"title\": \"y\"}", &error);
    g_assert_no_error (error);
    g_assert_cmpstr (json_object_get_string_member (json_node_get_object (node), "id"), ==, "../admin");
  }
  {
    g_autoptr(GBytes) body = NULL;
    g_autoptr(SoupMessageHeaders) headers = NULL;
    guint status = 0;

    tether_test_soup_server_push_fault (server, &(TetherTestFault) {
                                          .kind = TETHER_TEST_FAULT_CONTENT_TYPE,
                                          .content_type = "text/html",
                                        });
    body = tether_test_http_request ("GET", url, NULL, &status, &headers, &error);
    g_assert_cmpstr (soup_message_headers_get_content_type (headers, NULL), ==, "text/html");
  }
  {
    g_autoptr(GBytes) body = NULL;
    g_autoptr(SoupMessageHeaders) headers = NULL;
    g_autoptr(JsonNode) node = NULL;
    guint status = 0;

    tether_test_soup_server_push_fault (server, &(TetherTestFault) {
                                          .kind = TETHER_TEST_FAULT_HUGE_BODY,
                                          .size = 100000,
                                        });
    body = tether_test_http_request ("GET", url, NULL, &status, &headers, &error);
    g_assert_cmpuint (g_bytes_get_size (body), ==, 100000);
    g_assert_cmpint (soup_message_headers_get_encoding (headers), ==, SOUP_ENCODING_CHUNKED);
    node = parse (body);
    g_assert_true (JSON_NODE_HOLDS_ARRAY (node));
  }
  {
    g_autoptr(GBytes) body = NULL;
    g_autoptr(SoupMessageHeaders) headers = NULL;
    guint status = 0;

    tether_test_soup_server_push_fault (server, &(TetherTestFault) {
                                          .kind = TETHER_TEST_FAULT_LINK,
                                          .link = "<http://elsewhere.invalid/records?_page=2>; rel=\"next\"",
                                        });
    body = tether_test_http_request ("GET", url, NULL, &status, &headers, &error);
    g_assert_cmpstr (soup_message_headers_get_one (headers, "Link"), ==,
                     "<http://elsewhere.invalid/records?_page=2>; rel=\"next\"");
  }
}

static void
test_soup_server_redirect (void)
{
  g_autoptr(TetherTestSoupServer) first = tether_test_soup_server_new ();
  g_autoptr(TetherTestSoupServer) second = tether_test_soup_server_new ();
  g_autofree char *url = url_for (first, "/records?_page=1");
  g_autoptr(GBytes) body = NULL;
  g_autoptr(GError) error = NULL;
  g_autoptr(TetherTestRequest) request = NULL;
  guint status = 0;

  tether_test_soup_server_push_fault (first, &(TetherTestFault) {
                                        .kind = TETHER_TEST_FAULT_REDIRECT,
                                        .location = tether_test_soup_server_get_url (second),
                                      });

  /* libsoup follows the redirect by itself here. */
  body = tether_test_http_request ("GET", url, NULL, &status, NULL, &error);
  g_assert_no_error (error);
  g_assert_cmpuint (status, ==, 200);

  request = tether_test_soup_server_dup_last_request (first);
  g_assert_cmpuint (request->status, ==, 302);
  g_clear_pointer (&request, tether_test_request_free);
  request = tether_test_soup_server_dup_last_request (second);
  g_assert_cmpstr (request->target, ==, "/records?_page=1");
}

static void
test_soup_server_auth_and_tls (void)
{
  g_autoptr(TetherTestSoupServer) server = tether_test_soup_server_new ();
  g_autoptr(TetherTestSoupServer) tls_server = NULL;
  g_autoptr(GTlsCertificate) certificate = NULL;
  g_autofree char *cert_path = tether_test_dup_data_path ("self-signed-cert.pem");
  g_autofree char *key_path = tether_test_dup_data_path ("self-signed-key.pem");
  g_autofree char *url = url_for (server, "/records");
  g_autoptr(GBytes) body = NULL;
  g_autoptr(GError) error = NULL;
  guint status = 0;

  tether_test_soup_server_set_required_authorization (server, "Bearer t0ken");
  body = tether_test_http_request ("GET", url, NULL, &status, NULL, &error);
  g_assert_no_error (error);
  g_assert_cmpuint (status, ==, 401);

  certificate = g_tls_certificate_new_from_files (cert_path, key_path, &error);
  g_assert_no_error (error);
  tls_server = tether_test_soup_server_new_tls (certificate);
  g_assert_true (g_str_has_prefix (tether_test_soup_server_get_url (tls_server), "https://127.0.0.1:"));
}

int
main (int   argc,
      char *argv[])
{
  tether_test_init (&argc, &argv);

  g_test_add_func ("/fixtures/json-server/lifecycle", test_json_server_lifecycle);
  g_test_add_func ("/fixtures/json-server/not-installed", test_json_server_not_installed);
  g_test_add_func ("/fixtures/json-server/dies-with-test", test_json_server_dies_with_test);
  g_test_add_func ("/fixtures/soup-server/rest", test_soup_server_rest);
  g_test_add_func ("/fixtures/soup-server/faults-in-order", test_soup_server_faults_in_order);
  g_test_add_func ("/fixtures/soup-server/drops", test_soup_server_drops);
  g_test_add_func ("/fixtures/soup-server/replies", test_soup_server_replies);
  g_test_add_func ("/fixtures/soup-server/redirect", test_soup_server_redirect);
  g_test_add_func ("/fixtures/soup-server/auth-and-tls", test_soup_server_auth_and_tls);

  return g_test_run ();
}
