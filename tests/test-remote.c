/* test-remote.c
 *
 * Copyright 2026 The Tether authors
 *
 * SPDX-License-Identifier: GPL-3.0-or-later
 */

#include "config.h"

#include <string.h>

#include <libsoup/soup.h>

#include "tether-remote.h"
#include "tether-test-json-server.h"
#include "tether-test-soup-server.h"
#include "tether-test-util.h"

/* TetherRemote against a real json-server 0.17.4 and against the in-process
 * SoupServer taught to misbehave. HTTP only on loopback; libsoup is never
 * mocked. */

#define USERNAME "alice"
#define SECRET   "hunter2-Sekr3t!"

/* Every error message the remote produced, and whether any log line held
 * the secret: checked by the last test. */
static GPtrArray *error_messages;
static char *basic_credentials;
static gboolean secret_logged;
static guint n_log_lines;

static GLogWriterOutput
log_writer (GLogLevelFlags   level,
            const GLogField *fields,
            gsize            n_fields,
            gpointer         user_data)
{
  for (gsize i = 0; i < n_fields; i++)
    {
      g_autofree char *value = NULL;

      if (g_strcmp0 (fields[i].key, "MESSAGE") != 0)
        continue;

      if (fields[i].length < 0)
        value = g_strdup (fields[i].value);
      else
        value = g_strndup (fields[i].value, fields[i].length);

      n_log_lines++;
      if (strstr (value, SECRET) != NULL || strstr (value, basic_credentials) != NULL)
        secret_logged = TRUE;
    }

  return g_log_writer_default (level, fields, n_fields, user_data);
}

static void
remember_error (const GError *error)
{
  if (error != NULL)
    g_ptr_array_add (error_messages, g_strdup (error->message));
}

static JsonObject *
object_from_string (const char *json)
{
  g_autoptr(JsonNode) node = NULL;
  g_autoptr(GError) error = NULL;

  node = json_from_string (json, &error);
  g_assert_no_error (error);
  g_assert_true (JSON_NODE_HOLDS_OBJECT (node));

  return json_object_ref (json_node_get_object (node));
}

static JsonNode *
int_id (gint64 id)
{
  JsonNode *node = json_node_new (JSON_NODE_VALUE);

  json_node_set_int (node, id);

  return node;
}

static JsonNode *
string_id (const char *id)
{
  JsonNode *node = json_node_new (JSON_NODE_VALUE);

  json_node_set_string (node, id);

  return node;
}

/*
 * Synchronous wrappers: each runs the main loop until its operation ends.
 */

static TetherRemotePage *
list_page (TetherRemote  *remote,
           const char    *url,
           const char    *etag,
           GError       **error)
{
  g_autoptr(GAsyncResult) result = NULL;
  TetherRemotePage *page;

  tether_remote_list_page_async (remote, url, etag, NULL, tether_test_async_result_cb, &result);
  tether_test_wait_for_result (&result);
  page = tether_remote_list_page_finish (remote, result, error);
  remember_error (*error);

  g_assert_true ((page == NULL) == (*error != NULL));

  return page;
}

static JsonObject *
create_record (TetherRemote  *remote,
               const char    *json,
               char         **out_etag,
               GError       **error)
{
  g_autoptr(GAsyncResult) result = NULL;
  g_autoptr(JsonObject) object = object_from_string (json);
  JsonObject *created;

  tether_remote_create_async (remote, object, NULL, tether_test_async_result_cb, &result);
  tether_test_wait_for_result (&result);
  created = tether_remote_create_finish (remote, result, out_etag, error);
  remember_error (*error);

  g_assert_true ((created == NULL) == (*error != NULL));

  return created;
}

static gboolean
update_record (TetherRemote        *remote,
               JsonNode            *id,
               const char          *json,
               TetherUpdateMethod   method,
               const char          *etag,
               JsonObject         **out_object,
               char               **out_etag,
               GError             **error)
{
  g_autoptr(GAsyncResult) result = NULL;
  g_autoptr(JsonObject) object = object_from_string (json);
  gboolean ret;

  tether_remote_update_async (remote, id, object, method, etag, NULL, tether_test_async_result_cb, &result);
  tether_test_wait_for_result (&result);
  ret = tether_remote_update_finish (remote, result, out_object, out_etag, error);
  remember_error (*error);

  g_assert_true (ret == (*error == NULL));

  return ret;
}

static gboolean
delete_record (TetherRemote  *remote,
               JsonNode      *id,
               const char    *etag,
               GError       **error)
{
  g_autoptr(GAsyncResult) result = NULL;
  gboolean ret;

  tether_remote_delete_async (remote, id, etag, NULL, tether_test_async_result_cb, &result);
  tether_test_wait_for_result (&result);
  ret = tether_remote_delete_finish (remote, result, error);
  remember_error (*error);

  g_assert_true (ret == (*error == NULL));

  return ret;
}

static char *
test_connection (TetherRemote  *remote,
                 GError       **error)
{
  g_autoptr(GAsyncResult) result = NULL;
  char *sentence;

  tether_remote_test_connection_async (remote, NULL, tether_test_async_result_cb, &result);
  tether_test_wait_for_result (&result);
  sentence = tether_remote_test_connection_finish (remote, result, error);
  remember_error (*error);

  return sentence;
}

/*
 * Against json-server 0.17.4
 */

typedef struct
{
  TetherTestJsonServer *server;
  TetherAccount        *account;
  TetherRemote         *remote;
} JsonServerFixture;

static char *
generate_db (guint n)
{
  g_autoptr(GString) db = g_string_new ("{\"records\": [");

  for (guint i = 1; i <= n; i++)
    g_string_append_printf (db, "%s{\"id\": %u, \"title\": \"Record %u\", \"n\": %u}",
                            i > 1 ? ", " : "", i, i, i);
  g_string_append (db, "]}");

  return g_string_free (g_steal_pointer (&db), FALSE);
}

static void
json_server_setup (JsonServerFixture *fixture,
                   gconstpointer      data)
{
  g_autofree char *db = generate_db (GPOINTER_TO_UINT (data));
  g_autoptr(GError) error = NULL;

  fixture->server = tether_test_json_server_new (db, &error);
  g_assert_no_error (error);

  fixture->account = tether_account_new ();
  tether_account_set_server_url (fixture->account, tether_test_json_server_get_url (fixture->server));
  fixture->remote = tether_remote_new (fixture->account);
  tether_remote_set_timeout (fixture->remote, 60);
}

static void
json_server_teardown (JsonServerFixture *fixture,
                      gconstpointer      data)
{
  tether_test_wait_for_last_ref (fixture->remote);
  g_assert_finalize_object (fixture->remote);
  g_assert_finalize_object (fixture->account);
  tether_test_json_server_free (fixture->server);
}

static void
test_json_server_list_pages (JsonServerFixture *fixture,
                             gconstpointer      data)
{
  g_autofree char *url = NULL;
  g_autoptr(GHashTable) seen = g_hash_table_new (g_direct_hash, g_direct_equal);
  guint n_pages = 0;
  gint64 expected_id = 1;

  tether_account_set_page_size (fixture->account, 7);

  /* 25 records, 7 a page: 4 pages, the last one short. */
  do
    {
      g_autoptr(TetherRemotePage) page = NULL;
      g_autoptr(GError) error = NULL;

      page = list_page (fixture->remote, url, NULL, &error);
      g_assert_no_error (error);

      n_pages++;
      g_assert_false (page->not_modified);
      g_assert_nonnull (page->etag);
      g_assert_cmpint (page->total_count, ==, 25);
      g_assert_cmpint (page->page, ==, n_pages);
      g_assert_cmpint (page->last_page, ==, 4);
      g_assert_cmpuint (json_array_get_length (page->items), ==, n_pages < 4 ? 7 : 4);

      for (guint i = 0; i < json_array_get_length (page->items); i++)
        {
          JsonObject *record = json_array_get_object_element (page->items, i);

          g_assert_cmpint (json_object_get_int_member (record, "id"), ==, expected_id);
          g_hash_table_add (seen, GINT_TO_POINTER ((int) expected_id));
          expected_id++;
        }

      g_free (url);
      url = g_strdup (page->next_url);
    }
  while (url != NULL);

  g_assert_cmpuint (n_pages, ==, 4);
  g_assert_cmpuint (g_hash_table_size (seen), ==, 25);
  g_assert_cmpuint (tether_remote_get_requests_sent (fixture->remote), ==, 4);
  g_assert_cmpuint (tether_remote_get_not_modified_count (fixture->remote), ==, 0);
  g_assert_cmpuint (tether_remote_get_bytes_received (fixture->remote), >, 0);
}

static void
test_json_server_not_modified (JsonServerFixture *fixture,
                               gconstpointer      data)
{
  g_autoptr(GPtrArray) urls = g_ptr_array_new_with_free_func (g_free);
  g_autoptr(GPtrArray) etags = g_ptr_array_new_with_free_func (g_free);
  g_autoptr(JsonNode) patched = NULL;
  g_autoptr(GError) error = NULL;
  g_autofree char *url = NULL;
  guint status = 0;

  tether_account_set_page_size (fixture->account, 5);

  /* A first listing remembers each page's URL and ETag. */
  do
    {
      g_autoptr(TetherRemotePage) page = list_page (fixture->remote, url, NULL, &error);

      g_assert_no_error (error);
      g_ptr_array_add (urls, g_strdup (page->url));
      g_ptr_array_add (etags, g_strdup (page->etag));
      g_free (url);
      url = g_strdup (page->next_url);
    }
  while (url != NULL);

  g_assert_cmpuint (urls->len, ==, 4);
  tether_remote_reset_counters (fixture->remote);

  /* The second costs a 304 a page, which still carries the next link. */
  for (guint i = 0; i < urls->len; i++)
    {
      g_autoptr(TetherRemotePage) page = NULL;

      page = list_page (fixture->remote, i == 0 ? NULL : urls->pdata[i], etags->pdata[i], &error);
      g_assert_no_error (error);
      g_assert_true (page->not_modified);
      g_assert_null (page->items);
      g_assert_cmpstr (page->etag, ==, etags->pdata[i]);
      g_assert_cmpstr (page->next_url, ==, i + 1 < urls->len ? urls->pdata[i + 1] : NULL);
    }

  g_assert_cmpuint (tether_remote_get_requests_sent (fixture->remote), ==, 4);
  g_assert_cmpuint (tether_remote_get_not_modified_count (fixture->remote), ==, 4);
  g_assert_cmpuint (tether_remote_get_bytes_received (fixture->remote), ==, 0);

  /* A change on page 2 makes that page, and only it, come back whole. */
  patched = tether_test_json_server_request (fixture->server, "PATCH", "/records/7",
                                             "{\"title\": \"Changed\"}", &status, &error);
  g_assert_no_error (error);
  g_assert_cmpuint (status, ==, 200);

  for (guint i = 0; i < urls->len; i++)
    {
      g_autoptr(TetherRemotePage) page = NULL;

      page = list_page (fixture->remote, urls->pdata[i], etags->pdata[i], &error);
      g_assert_no_error (error);
      g_assert_true (page->not_modified == (i != 1));
      if (i == 1)
        {
          g_assert_cmpstr (json_object_get_string_member (json_array_get_object_element (page->items, 1), "title"),
                           ==, "Changed");
          g_assert_cmpstr (page->etag, !=, etags->pdata[i]);
        }
    }
}

static void
test_json_server_create (JsonServerFixture *fixture,
                         gconstpointer      data)
{
  g_autoptr(JsonObject) created = NULL;
  g_autoptr(JsonArray) records = NULL;
  g_autoptr(GError) error = NULL;
  g_autofree char *etag = NULL;
  JsonObject *stored;

  created = create_record (fixture->remote,
                           "{\"title\": \"Made offline\", \"clientId\": \"3b5d1f36-cid\"}",
                           &etag, &error);
  g_assert_no_error (error);
  g_assert_cmpint (json_object_get_int_member (created, "id"), ==, 4);
  g_assert_cmpstr (json_object_get_string_member (created, "title"), ==, "Made offline");
  g_assert_nonnull (etag);

  records = tether_test_json_server_dup_collection (fixture->server, "records");
  g_assert_cmpuint (json_array_get_length (records), ==, 4);
  stored = json_array_get_object_element (records, 3);
  g_assert_cmpstr (json_object_get_string_member (stored, "clientId"), ==, "3b5d1f36-cid");
}

static void
test_json_server_update (JsonServerFixture *fixture,
                         gconstpointer      data)
{
  g_autoptr(JsonNode) id = int_id (2);
  g_autoptr(JsonObject) reply = NULL;
  g_autoptr(JsonArray) records = NULL;
  g_autoptr(GError) error = NULL;
  g_autofree char *etag = NULL;
  JsonObject *stored;

  /* PATCH sends the changed fields; the rest stays. */
  update_record (fixture->remote, id, "{\"done\": true}", TETHER_UPDATE_METHOD_PATCH,
                 NULL, &reply, &etag, &error);
  g_assert_no_error (error);
  g_assert_cmpstr (json_object_get_string_member (reply, "title"), ==, "Record 2");
  g_assert_true (json_object_get_boolean_member (reply, "done"));
  g_assert_nonnull (etag);
  g_clear_pointer (&reply, json_object_unref);

  /* PUT replaces the whole record. */
  update_record (fixture->remote, id, "{\"title\": \"Replaced\"}", TETHER_UPDATE_METHOD_PUT,
                 NULL, &reply, NULL, &error);
  g_assert_no_error (error);
  g_assert_cmpstr (json_object_get_string_member (reply, "title"), ==, "Replaced");
  g_assert_false (json_object_has_member (reply, "done"));
  g_assert_cmpint (json_object_get_int_member (reply, "id"), ==, 2);

  records = tether_test_json_server_dup_collection (fixture->server, "records");
  stored = json_array_get_object_element (records, 1);
  g_assert_cmpstr (json_object_get_string_member (stored, "title"), ==, "Replaced");
  g_assert_false (json_object_has_member (stored, "n"));

  /* An update to a record the server does not have (json-server: 404). */
  {
    g_autoptr(JsonNode) missing = int_id (99);

    g_assert_false (update_record (fixture->remote, missing, "{\"x\": 1}", TETHER_UPDATE_METHOD_PATCH,
                                   NULL, NULL, NULL, &error));
    g_assert_error (error, TETHER_REMOTE_ERROR, TETHER_REMOTE_ERROR_NOT_FOUND);
  }
}

static void
test_json_server_delete (JsonServerFixture *fixture,
                         gconstpointer      data)
{
  g_autoptr(JsonNode) id = int_id (3);
  g_autoptr(JsonArray) records = NULL;
  g_autoptr(GError) error = NULL;

  g_assert_true (delete_record (fixture->remote, id, NULL, &error));
  g_assert_no_error (error);

  records = tether_test_json_server_dup_collection (fixture->server, "records");
  g_assert_cmpuint (json_array_get_length (records), ==, 2);

  /* Already gone (404): success all the same. */
  g_assert_true (delete_record (fixture->remote, id, NULL, &error));
  g_assert_no_error (error);
}

static void
test_json_server_special_ids (JsonServerFixture *fixture,
                              gconstpointer      data)
{
  static const char * const ids[] = {
    "a/b", "50% off", "two words", "ünïcødé ✓", "../admin", "..x", "a?b#c", "~user",
  };
  g_autoptr(JsonArray) records = NULL;
  g_autoptr(GError) error = NULL;

  for (guint i = 0; i < G_N_ELEMENTS (ids); i++)
    {
      g_autoptr(JsonObject) created = NULL;
      g_autoptr(JsonObject) body = json_object_new ();
      g_autoptr(JsonNode) node = json_node_new (JSON_NODE_OBJECT);
      g_autofree char *json = NULL;

      json_object_set_string_member (body, "id", ids[i]);
      json_object_set_string_member (body, "title", "Before");
      json_node_set_object (node, body);
      json = json_to_string (node, FALSE);

      created = create_record (fixture->remote, json, NULL, &error);
      g_assert_no_error (error);
      g_assert_cmpstr (json_object_get_string_member (created, "id"), ==, ids[i]);
    }

  /* Each update reaches its own record and nothing else. */
  for (guint i = 0; i < G_N_ELEMENTS (ids); i++)
    {
      g_autoptr(JsonNode) id = string_id (ids[i]);
      g_autoptr(JsonObject) reply = NULL;

      g_test_message ("Updating “%s”", ids[i]);
      update_record (fixture->remote, id, "{\"title\": \"After\"}", TETHER_UPDATE_METHOD_PATCH,
                     NULL, &reply, NULL, &error);
      g_assert_no_error (error);
      g_assert_cmpstr (json_object_get_string_member (reply, "id"), ==, ids[i]);
    }

  records = tether_test_json_server_dup_collection (fixture->server, "records");
  g_assert_cmpuint (json_array_get_length (records), ==, 3 + G_N_ELEMENTS (ids));
  for (guint i = 0; i < json_array_get_length (records); i++)
    {
      JsonObject *record = json_array_get_object_element (records, i);

      g_assert_cmpstr (json_object_get_string_member (record, "title"), ==,
                       i < 3 ? json_object_get_string_member (record, "title") : "After");
      if (i < 3)
        g_assert_true (g_str_has_prefix (json_object_get_string_member (record, "title"), "Record "));
    }

  for (guint i = 0; i < G_N_ELEMENTS (ids); i++)
    {
      g_autoptr(JsonNode) id = string_id (ids[i]);

      g_assert_true (delete_record (fixture->remote, id, NULL, &error));
      g_assert_no_error (error);
    }

  g_clear_pointer (&records, json_array_unref);
  records = tether_test_json_server_dup_collection (fixture->server, "records");
  g_assert_cmpuint (json_array_get_length (records), ==, 3);
}

static void
test_json_server_test_connection (JsonServerFixture *fixture,
                                  gconstpointer      data)
{
  g_autoptr(GError) error = NULL;
  g_autofree char *sentence = NULL;

  sentence = test_connection (fixture->remote, &error);
  g_assert_no_error (error);
  g_assert_nonnull (strstr (sentence, "holds 3 records"));
  g_assert_nonnull (strstr (sentence, tether_test_json_server_get_url (fixture->server)));
}

/*
 * Against the in-process SoupServer
 */

typedef struct
{
  TetherTestSoupServer *server;
  TetherAccount        *account;
  TetherRemote         *remote;
} Fixture;

static void
fixture_setup (Fixture       *fixture,
               gconstpointer  data)
{
  fixture->server = tether_test_soup_server_new ();
  tether_test_soup_server_add_generated_records (fixture->server, 3);

  fixture->account = tether_account_new ();
  tether_account_set_server_url (fixture->account, tether_test_soup_server_get_url (fixture->server));
  fixture->remote = tether_remote_new (fixture->account);
  tether_remote_set_timeout (fixture->remote, 60);
}

static void
fixture_teardown (Fixture       *fixture,
                  gconstpointer  data)
{
  tether_test_wait_for_last_ref (fixture->remote);
  g_assert_finalize_object (fixture->remote);
  g_assert_finalize_object (fixture->account);
  tether_test_soup_server_free (fixture->server);
}

static void
fixture_use_auth (Fixture        *fixture,
                  TetherAuthKind  kind)
{
  tether_account_set_auth_kind (fixture->account, kind);
  tether_account_set_username (fixture->account, USERNAME);
  tether_remote_set_secret (fixture->remote, SECRET);

  if (kind == TETHER_AUTH_KIND_BASIC)
    {
      g_autofree char *expected = g_strconcat ("Basic ", basic_credentials, NULL);

      tether_test_soup_server_set_required_authorization (fixture->server, expected);
    }
  else
    {
      tether_test_soup_server_set_required_authorization (fixture->server, "Bearer " SECRET);
    }
}

static void
assert_no_secret (const GError *error)
{
  g_assert_nonnull (error);
  g_assert_null (strstr (error->message, SECRET));
  g_assert_null (strstr (error->message, basic_credentials));
}

static void
test_ids_path_segment (void)
{
  static const struct {
    const char *id;
    const char *segment;
  } cases[] = {
    { "42", "42" },
    { "abc", "abc" },
    { "a/b", "a%2Fb" },
    { "../admin", "..%2Fadmin" },
    { "..x", "..x" },
    { "...", "..." },
    { "a.b", "a.b" },
    { "50%", "50%25" },
    { "%2F", "%252F" },
    { "two words", "two%20words" },
    { "a?b#c", "a%3Fb%23c" },
    { "é", "%C3%A9" },
    { "✓", "%E2%9C%93" },
    { "~_-", "~_-" },
    { "a;b=c&d+e", "a%3Bb%3Dc%26d%2Be" },
    { "\\", "%5C" },
  };
  static const char * const refused[] = { "", ".", ".." };

  for (guint i = 0; i < G_N_ELEMENTS (cases); i++)
    {
      g_autofree char *segment = NULL;
      g_autoptr(GError) error = NULL;

      segment = tether_remote_id_to_path_segment (cases[i].id, &error);
      g_assert_no_error (error);
      g_assert_cmpstr (segment, ==, cases[i].segment);
    }

  for (guint i = 0; i < G_N_ELEMENTS (refused); i++)
    {
      g_autofree char *segment = NULL;
      g_autoptr(GError) error = NULL;

      segment = tether_remote_id_to_path_segment (refused[i], &error);
      g_assert_null (segment);
      g_assert_error (error, TETHER_REMOTE_ERROR, TETHER_REMOTE_ERROR_PERMANENT);
    }

  /* Integer and string ids, nothing else. */
  {
    g_autoptr(JsonNode) number = int_id (-7);
    g_autoptr(JsonNode) text = string_id ("x");
    g_autoptr(JsonNode) real = json_node_new (JSON_NODE_VALUE);
    g_autoptr(JsonNode) null = json_node_new (JSON_NODE_NULL);
    g_autofree char *a = tether_remote_id_to_string (number);
    g_autofree char *b = tether_remote_id_to_string (text);

    json_node_set_double (real, 1.5);
    g_assert_cmpstr (a, ==, "-7");
    g_assert_cmpstr (b, ==, "x");
    g_assert_null (tether_remote_id_to_string (real));
    g_assert_null (tether_remote_id_to_string (null));
    g_assert_null (tether_remote_id_to_string (NULL));
  }
}

static void
test_ids_request_path (Fixture       *fixture,
                       gconstpointer  data)
{
  static const struct {
    const char *id;
    const char *path;
  } cases[] = {
    { "a/b", "/records/a%2Fb" },
    { "50%", "/records/50%25" },
    { "two words", "/records/two%20words" },
    { "é", "/records/%C3%A9" },
    { "../admin", "/records/..%2Fadmin" },
    { "a?b#c", "/records/a%3Fb%23c" },
    { "a/../../b", "/records/a%2F..%2F..%2Fb" },
    { "~user", "/records/~user" },
    { "...", "/records/..." },
  };
  g_autoptr(JsonArray) seed = json_array_new ();
  g_autoptr(JsonNode) seed_node = json_node_new (JSON_NODE_ARRAY);
  g_autofree char *seed_json = NULL;

  for (guint i = 0; i < G_N_ELEMENTS (cases); i++)
    {
      JsonObject *record = json_object_new ();

      json_object_set_string_member (record, "id", cases[i].id);
      json_object_set_string_member (record, "title", "Before");
      json_array_add_object_element (seed, record);
    }
  json_node_set_array (seed_node, seed);
  seed_json = json_to_string (seed_node, FALSE);
  tether_test_soup_server_set_records (fixture->server, seed_json);

  for (guint i = 0; i < G_N_ELEMENTS (cases); i++)
    {
      g_autoptr(JsonNode) id = string_id (cases[i].id);
      g_autoptr(TetherTestRequest) request = NULL;
      g_autoptr(JsonObject) stored = NULL;
      g_autoptr(GError) error = NULL;

      update_record (fixture->remote, id, "{\"title\": \"After\"}", TETHER_UPDATE_METHOD_PUT,
                     NULL, NULL, NULL, &error);
      g_assert_no_error (error);

      request = tether_test_soup_server_dup_last_request (fixture->server);
      g_assert_cmpstr (request->method, ==, "PUT");
      g_assert_cmpstr (request->path, ==, cases[i].path);
      g_assert_null (request->query);

      stored = tether_test_soup_server_dup_record (fixture->server, cases[i].id);
      g_assert_cmpstr (json_object_get_string_member (stored, "title"), ==, "After");
    }

  /* "." and ".." have no form that stays one segment: refused before any
   * request. */
  {
    static const char * const dots[] = { ".", ".." };

    tether_test_soup_server_clear_requests (fixture->server);

    for (guint i = 0; i < G_N_ELEMENTS (dots); i++)
      {
        g_autoptr(JsonNode) id = string_id (dots[i]);
        g_autoptr(GError) error = NULL;

        update_record (fixture->remote, id, "{}", TETHER_UPDATE_METHOD_PATCH, NULL, NULL, NULL, &error);
        g_assert_error (error, TETHER_REMOTE_ERROR, TETHER_REMOTE_ERROR_PERMANENT);
        g_clear_error (&error);

        delete_record (fixture->remote, id, NULL, &error);
        g_assert_error (error, TETHER_REMOTE_ERROR, TETHER_REMOTE_ERROR_PERMANENT);
      }

    g_assert_cmpuint (tether_test_soup_server_get_n_requests (fixture->server), ==, 0);
  }
}

static void
test_link_header (void)
{
  g_autoptr(GHashTable) links = NULL;

  /* json-server 0.17.4 */
  links = tether_remote_parse_link_header ("<http://127.0.0.1:3000/records?_page=1&_limit=3>; rel=\"first\", "
                                           "<http://127.0.0.1:3000/records?_page=1&_limit=3>; rel=\"prev\", "
                                           "<http://127.0.0.1:3000/records?_page=3&_limit=3>; rel=\"next\", "
                                           "<http://127.0.0.1:3000/records?_page=4&_limit=3>; rel=\"last\"");
  g_assert_cmpuint (g_hash_table_size (links), ==, 4);
  g_assert_cmpstr (g_hash_table_lookup (links, "first"), ==, "http://127.0.0.1:3000/records?_page=1&_limit=3");
  g_assert_cmpstr (g_hash_table_lookup (links, "next"), ==, "http://127.0.0.1:3000/records?_page=3&_limit=3");
  g_assert_cmpstr (g_hash_table_lookup (links, "last"), ==, "http://127.0.0.1:3000/records?_page=4&_limit=3");
  g_clear_pointer (&links, g_hash_table_unref);

  /* GitHub */
  links = tether_remote_parse_link_header ("<https://api.github.com/repositories/1300192/issues?page=2>; rel=\"next\", "
                                           "<https://api.github.com/repositories/1300192/issues?page=10>; rel=\"last\"");
  g_assert_cmpstr (g_hash_table_lookup (links, "next"), ==, "https://api.github.com/repositories/1300192/issues?page=2");
  g_assert_cmpstr (g_hash_table_lookup (links, "last"), ==, "https://api.github.com/repositories/1300192/issues?page=10");
  g_clear_pointer (&links, g_hash_table_unref);

  /* Tokens, case, several relation types, commas and semicolons inside
   * the URL and inside quoted parameters. */
  links = tether_remote_parse_link_header ("</a,b;c>; REL=Next ,"
                                           "<y>; title=\"x, y; <z>\"; rel=\"prev  start\","
                                           "<w>;rel=next");
  g_assert_cmpstr (g_hash_table_lookup (links, "next"), ==, "/a,b;c");
  g_assert_cmpstr (g_hash_table_lookup (links, "prev"), ==, "y");
  g_assert_cmpstr (g_hash_table_lookup (links, "start"), ==, "y");
  g_assert_cmpuint (g_hash_table_size (links), ==, 3);
  g_clear_pointer (&links, g_hash_table_unref);

  /* Junk is skipped, not fatal. */
  links = tether_remote_parse_link_header ("garbage, <ok>; rel=\"next\", <unterminated; rel=last");
  g_assert_cmpstr (g_hash_table_lookup (links, "next"), ==, "ok");
  g_assert_cmpuint (g_hash_table_size (links), ==, 1);
  g_clear_pointer (&links, g_hash_table_unref);

  {
    static const char * const empty[] = {
      NULL, "", " ", ",,,", "<>", "<x>", "<x>; rel", "<x>; rel=", "<x>; rel=\"\"",
      "<x>; rel=\"unterminated", "\"<x>; rel=next\"", ";;;;", "<x>;;; =;",
    };

    for (guint i = 0; i < G_N_ELEMENTS (empty); i++)
      {
        links = tether_remote_parse_link_header (empty[i]);
        g_assert_nonnull (links);
        g_clear_pointer (&links, g_hash_table_unref);
      }
  }
}

static void
test_list_etag_and_counters (Fixture       *fixture,
                             gconstpointer  data)
{
  g_autoptr(GPtrArray) etags = g_ptr_array_new_with_free_func (g_free);
  g_autoptr(GPtrArray) urls = g_ptr_array_new_with_free_func (g_free);
  g_autoptr(GError) error = NULL;
  g_autofree char *url = NULL;
  g_autofree char *first = NULL;
  guint64 bytes;

  tether_test_soup_server_add_generated_records (fixture->server, 2);
  tether_account_set_page_size (fixture->account, 2);

  first = tether_remote_dup_first_page_url (fixture->remote, &error);
  g_assert_no_error (error);
  g_assert_true (g_str_has_suffix (first, "/records?_page=1&_limit=2"));

  do
    {
      g_autoptr(TetherRemotePage) page = list_page (fixture->remote, url, NULL, &error);
      g_autoptr(TetherTestRequest) request = tether_test_soup_server_dup_last_request (fixture->server);

      g_assert_no_error (error);
      g_assert_null (request->if_none_match);
      g_assert_cmpint (page->total_count, ==, 5);
      g_assert_cmpint (page->last_page, ==, 3);
      g_ptr_array_add (urls, g_strdup (page->url));
      g_ptr_array_add (etags, g_strdup (page->etag));
      g_free (url);
      url = g_strdup (page->next_url);
    }
  while (url != NULL);

  g_assert_cmpstr (urls->pdata[0], ==, first);
  g_assert_cmpuint (tether_remote_get_requests_sent (fixture->remote), ==, 3);
  bytes = tether_remote_get_bytes_received (fixture->remote);
  g_assert_cmpuint (bytes, >, 0);

  for (guint i = 0; i < urls->len; i++)
    {
      g_autoptr(TetherRemotePage) page = list_page (fixture->remote, urls->pdata[i], etags->pdata[i], &error);
      g_autoptr(TetherTestRequest) request = tether_test_soup_server_dup_last_request (fixture->server);

      g_assert_no_error (error);
      g_assert_cmpstr (request->if_none_match, ==, etags->pdata[i]);
      g_assert_true (page->not_modified);
      g_assert_cmpint (page->page, ==, i + 1);
    }

  g_assert_cmpuint (tether_remote_get_requests_sent (fixture->remote), ==, 6);
  g_assert_cmpuint (tether_remote_get_not_modified_count (fixture->remote), ==, 3);
  g_assert_cmpuint (tether_remote_get_bytes_received (fixture->remote), ==, bytes);

  tether_remote_reset_counters (fixture->remote);
  g_assert_cmpuint (tether_remote_get_requests_sent (fixture->remote), ==, 0);
  g_assert_cmpuint (tether_remote_get_not_modified_count (fixture->remote), ==, 0);
  g_assert_cmpuint (tether_remote_get_bytes_received (fixture->remote), ==, 0);
}

static void
test_list_next_link_checked (Fixture       *fixture,
                             gconstpointer  data)
{
  const char *base = tether_test_soup_server_get_url (fixture->server);
  g_autofree char *self_link = NULL;
  g_autofree char *userinfo_link = NULL;
  g_autoptr(GError) error = NULL;

  /* A relative link is resolved against the page's URL. */
  {
    g_autoptr(TetherRemotePage) page = NULL;
    g_autofree char *expected = g_strconcat (base, "/records?_page=2&_limit=100", NULL);

    tether_test_soup_server_push_fault (fixture->server, &(TetherTestFault) {
                                          .kind = TETHER_TEST_FAULT_LINK,
                                          .link = "</records?_page=2&_limit=100>; rel=next",
                                        });
    page = list_page (fixture->remote, NULL, NULL, &error);
    g_assert_no_error (error);
    g_assert_cmpstr (page->next_url, ==, expected);
  }

  /* Another origin, the same page again, a user name: refused. */
  self_link = g_strdup_printf ("<%s/records?_page=1&_limit=100>; rel=\"next\"", base);
  userinfo_link = g_strdup_printf ("<http://user:pw@%s/records?_page=2>; rel=\"next\"", base + strlen ("http://"));
  {
    const char *links[] = {
      "<http://elsewhere.invalid/records?_page=2&_limit=100>; rel=\"next\"",
      "<https://127.0.0.1/records?_page=2>; rel=\"next\"",
      "<ftp://127.0.0.1/records?_page=2>; rel=\"next\"",
      self_link,
      userinfo_link,
    };

    for (guint i = 0; i < G_N_ELEMENTS (links); i++)
      {
        g_autoptr(TetherRemotePage) page = NULL;

        tether_test_soup_server_push_fault (fixture->server, &(TetherTestFault) {
                                              .kind = TETHER_TEST_FAULT_LINK,
                                              .link = links[i],
                                            });
        page = list_page (fixture->remote, NULL, NULL, &error);
        g_assert_error (error, TETHER_REMOTE_ERROR, TETHER_REMOTE_ERROR_PROTOCOL);
        g_clear_error (&error);
      }
  }

  /* A URL from elsewhere given by the caller is refused before sending. */
  {
    g_autoptr(TetherRemotePage) page = NULL;

    tether_test_soup_server_clear_requests (fixture->server);
    page = list_page (fixture->remote, "http://elsewhere.invalid/records?_page=2", NULL, &error);
    g_assert_error (error, TETHER_REMOTE_ERROR, TETHER_REMOTE_ERROR_PROTOCOL);
    g_assert_cmpuint (tether_test_soup_server_get_n_requests (fixture->server), ==, 0);
  }
}

typedef enum
{
  OP_LIST,
  OP_CREATE,
  OP_UPDATE,
  OP_DELETE,
} Op;

static const char *
op_method (Op op)
{
  switch (op)
    {
    case OP_LIST: return "GET";
    case OP_CREATE: return "POST";
    case OP_UPDATE: return "PATCH";
    case OP_DELETE: return "DELETE";
    default: g_assert_not_reached ();
    }
}

/* Runs @op on record 1 (or the collection) and returns its error. */
static GError *
run_op (Fixture *fixture,
        Op       op)
{
  g_autoptr(JsonNode) id = int_id (1);
  g_autoptr(TetherRemotePage) page = NULL;
  g_autoptr(JsonObject) created = NULL;
  GError *error = NULL;

  switch (op)
    {
    case OP_LIST:
      g_clear_pointer (&page, tether_remote_page_unref);
      page = list_page (fixture->remote, NULL, NULL, &error);
      break;

    case OP_CREATE:
      g_clear_pointer (&created, json_object_unref);
      created = create_record (fixture->remote, "{\"title\": \"New\"}", NULL, &error);
      break;

    case OP_UPDATE:
      update_record (fixture->remote, id, "{\"title\": \"Changed\"}", TETHER_UPDATE_METHOD_PATCH,
                     NULL, NULL, NULL, &error);
      break;

    case OP_DELETE:
      delete_record (fixture->remote, id, NULL, &error);
      break;

    default:
      g_assert_not_reached ();
    }

  return error;
}

static void
test_faults_status (Fixture       *fixture,
                    gconstpointer  data)
{
  static const struct {
    Op          op;
    guint       status;
    const char *body;
    int         code;       /* -1: success */
    guint       retry_after;
    const char *in_message;
  } cases[] = {
    { OP_LIST, 500, NULL, TETHER_REMOTE_ERROR_SERVER, 0, "500" },
    { OP_LIST, 502, NULL, TETHER_REMOTE_ERROR_SERVER, 0, "502 Bad Gateway" },
    { OP_LIST, 504, "{\"message\": \"Upstream timed out\"}", TETHER_REMOTE_ERROR_SERVER, 0, "Upstream timed out" },
    { OP_LIST, 408, NULL, TETHER_REMOTE_ERROR_SERVER, 0, "408" },
    { OP_LIST, 401, NULL, TETHER_REMOTE_ERROR_AUTH, 0, "401" },
    { OP_LIST, 403, NULL, TETHER_REMOTE_ERROR_AUTH, 0, "403" },
    { OP_LIST, 404, NULL, TETHER_REMOTE_ERROR_PERMANENT, 0, "“records”" },
    { OP_LIST, 400, NULL, TETHER_REMOTE_ERROR_PERMANENT, 0, "400" },
    { OP_LIST, 501, NULL, TETHER_REMOTE_ERROR_PERMANENT, 0, "501" },
    { OP_LIST, 302, NULL, TETHER_REMOTE_ERROR_PROTOCOL, 0, "redirected" },
    { OP_LIST, 304, NULL, TETHER_REMOTE_ERROR_PROTOCOL, 0, "not modified" },
    { OP_CREATE, 422, "{\"message\": \"Title is required\"}", TETHER_REMOTE_ERROR_PERMANENT, 0, "Title is required" },
    { OP_CREATE, 400, "{\"error\": {\"message\": \"Nested reason\"}}", TETHER_REMOTE_ERROR_PERMANENT, 0, "Nested reason" },
    { OP_CREATE, 400, "\"A JSON string\"", TETHER_REMOTE_ERROR_PERMANENT, 0, "A JSON string" },
    { OP_CREATE, 409, NULL, TETHER_REMOTE_ERROR_CONFLICT, 0, "409" },
    { OP_CREATE, 404, NULL, TETHER_REMOTE_ERROR_PERMANENT, 0, "not found" },
    { OP_UPDATE, 412, NULL, TETHER_REMOTE_ERROR_CONFLICT, 0, "412" },
    { OP_UPDATE, 409, NULL, TETHER_REMOTE_ERROR_CONFLICT, 0, "409" },
    { OP_UPDATE, 404, NULL, TETHER_REMOTE_ERROR_NOT_FOUND, 0, "404" },
    { OP_UPDATE, 410, NULL, TETHER_REMOTE_ERROR_NOT_FOUND, 0, "410" },
    { OP_UPDATE, 429, NULL, TETHER_REMOTE_ERROR_SERVER, 0, "429" },
    { OP_DELETE, 404, NULL, -1, 0, NULL },
    { OP_DELETE, 410, NULL, -1, 0, NULL },
    { OP_DELETE, 412, NULL, TETHER_REMOTE_ERROR_CONFLICT, 0, "412" },
    { OP_DELETE, 500, NULL, TETHER_REMOTE_ERROR_SERVER, 0, "500" },
    { OP_DELETE, 403, NULL, TETHER_REMOTE_ERROR_AUTH, 0, "403" },
  };

  for (guint i = 0; i < G_N_ELEMENTS (cases); i++)
    {
      g_autoptr(GError) error = NULL;

      g_test_message ("%s → %u", op_method (cases[i].op), cases[i].status);

      tether_test_soup_server_push_fault (fixture->server, &(TetherTestFault) {
                                            .kind = TETHER_TEST_FAULT_STATUS,
                                            .method = op_method (cases[i].op),
                                            .status = cases[i].status,
                                            .body = cases[i].body,
                                          });
      error = run_op (fixture, cases[i].op);
      g_assert_cmpuint (tether_test_soup_server_get_n_faults (fixture->server), ==, 0);

      if (cases[i].code < 0)
        {
          g_assert_no_error (error);
          continue;
        }

      g_assert_error (error, TETHER_REMOTE_ERROR, cases[i].code);
      g_assert_cmpuint (tether_remote_error_get_retry_after (error), ==, cases[i].retry_after);
      g_test_message ("  %s", error->message);
      g_assert_nonnull (strstr (error->message, cases[i].in_message));
      g_assert_true (tether_remote_error_is_transient (error) ==
                     (cases[i].code == TETHER_REMOTE_ERROR_SERVER));
    }

  /* None of those replies changed anything (STATUS faults do not apply
   * the request). */
  g_assert_cmpuint (tether_test_soup_server_get_n_records (fixture->server), ==, 3);
}

static void
test_faults_server_message (Fixture       *fixture,
                            gconstpointer  data)
{
  g_autoptr(GString) long_text = g_string_new (NULL);
  g_autoptr(GError) error = NULL;
  const char *colon;

  for (guint i = 0; i < 100; i++)
    g_string_append (long_text, "Too long\n\t");

  tether_test_soup_server_push_fault (fixture->server, &(TetherTestFault) {
                                        .kind = TETHER_TEST_FAULT_STATUS,
                                        .status = 400,
                                        .body = long_text->str,
                                        .content_type = "text/plain; charset=utf-8",
                                      });
  error = run_op (fixture, OP_CREATE);
  g_assert_error (error, TETHER_REMOTE_ERROR, TETHER_REMOTE_ERROR_PERMANENT);

  /* One line, cut to 200 characters. */
  colon = strstr (error->message, "): ");
  g_assert_nonnull (colon);
  g_assert_cmpuint (g_utf8_strlen (colon + 3, -1), <=, 201);
  g_assert_true (g_str_has_suffix (error->message, "…"));
  g_assert_null (strchr (error->message, '\n'));
  g_assert_null (strchr (error->message, '\t'));
  g_clear_error (&error);

  /* An HTML error page is not repeated to the user. */
  tether_test_soup_server_push_fault (fixture->server, &(TetherTestFault) {
                                        .kind = TETHER_TEST_FAULT_STATUS,
                                        .status = 400,
                                        .body = "<html><body>Bad <b>request</b></body></html>",
                                        .content_type = "text/html",
                                      });
  error = run_op (fixture, OP_CREATE);
  g_assert_error (error, TETHER_REMOTE_ERROR, TETHER_REMOTE_ERROR_PERMANENT);
  g_assert_null (strstr (error->message, "<html>"));
}

static void
test_faults_retry_after (Fixture       *fixture,
                         gconstpointer  data)
{
  g_autoptr(GDateTime) now = g_date_time_new_now_utc ();
  g_autoptr(GDateTime) later = g_date_time_add_seconds (now, 30);
  g_autoptr(GDateTime) earlier = g_date_time_add_seconds (now, -30);
  g_autofree char *later_string = soup_date_time_to_string (later, SOUP_DATE_HTTP);
  g_autofree char *earlier_string = soup_date_time_to_string (earlier, SOUP_DATE_HTTP);
  const struct {
    guint       status;
    const char *value;
    guint       min;
    guint       max;
  } cases[] = {
    { 503, "7", 7, 7 },
    { 429, "120", 120, 120 },
    { 503, " 5 ", 5, 5 },
    { 503, "0", 0, 0 },
    { 503, "999999999", 86400, 86400 },
    { 503, later_string, 28, 31 },
    { 503, earlier_string, 0, 0 },
    { 429, "soon", 0, 0 },
    { 503, "-5", 0, 0 },
  };

  for (guint i = 0; i < G_N_ELEMENTS (cases); i++)
    {
      g_autoptr(GError) error = NULL;
      guint retry_after;

      tether_test_soup_server_push_fault (fixture->server, &(TetherTestFault) {
                                            .kind = TETHER_TEST_FAULT_STATUS,
                                            .status = cases[i].status,
                                            .retry_after = cases[i].value,
                                          });
      error = run_op (fixture, OP_LIST);
      g_assert_error (error, TETHER_REMOTE_ERROR, TETHER_REMOTE_ERROR_SERVER);
      g_assert_true (tether_remote_error_is_transient (error));

      retry_after = tether_remote_error_get_retry_after (error);
      g_test_message ("Retry-After: %s → %u", cases[i].value, retry_after);
      g_assert_cmpuint (retry_after, >=, cases[i].min);
      g_assert_cmpuint (retry_after, <=, cases[i].max);

      /* Retry-After survives a copy of the error. */
      {
        g_autoptr(GError) copy = g_error_copy (error);

        g_assert_cmpuint (tether_remote_error_get_retry_after (copy), ==, retry_after);
      }
    }

  /* Other errors have none. */
  {
    g_autoptr(GError) other = g_error_new_literal (G_IO_ERROR, G_IO_ERROR_FAILED, "x");

    g_assert_cmpuint (tether_remote_error_get_retry_after (other), ==, 0);
    g_assert_cmpuint (tether_remote_error_get_retry_after (NULL), ==, 0);
  }
}

static void
test_faults_drops (Fixture       *fixture,
                   gconstpointer  data)
{
  g_autoptr(GError) error = NULL;

  /* The create went through but its reply was lost: a transient error
   * whose outcome is uncertain. */
  tether_test_soup_server_push_fault (fixture->server, &(TetherTestFault) {
                                        .kind = TETHER_TEST_FAULT_DROP,
                                        .method = "POST",
                                      });
  error = run_op (fixture, OP_CREATE);
  g_assert_error (error, TETHER_REMOTE_ERROR, TETHER_REMOTE_ERROR_SERVER);
  g_assert_true (tether_remote_error_is_transient (error));
  g_assert_true (tether_remote_error_is_uncertain (error));
  g_assert_nonnull (strstr (error->message, "lost"));
  g_assert_cmpuint (tether_test_soup_server_get_n_records (fixture->server), ==, 4);
  g_clear_error (&error);

  tether_test_soup_server_push_fault (fixture->server, &(TetherTestFault) {
                                        .kind = TETHER_TEST_FAULT_DROP_UNPROCESSED,
                                        .method = "PATCH",
                                      });
  error = run_op (fixture, OP_UPDATE);
  g_assert_error (error, TETHER_REMOTE_ERROR, TETHER_REMOTE_ERROR_SERVER);
  g_clear_error (&error);

  tether_test_soup_server_push_fault (fixture->server, &(TetherTestFault) {
                                        .kind = TETHER_TEST_FAULT_DROP_MID_BODY,
                                        .method = "GET",
                                      });
  error = run_op (fixture, OP_LIST);
  g_assert_error (error, TETHER_REMOTE_ERROR, TETHER_REMOTE_ERROR_SERVER);
  g_clear_error (&error);

  /* And the next request works. */
  error = run_op (fixture, OP_LIST);
  g_assert_no_error (error);
}

static void
test_faults_bad_replies (Fixture       *fixture,
                         gconstpointer  data)
{
  static const struct {
    Op                   op;
    TetherTestFaultKind  kind;
    const char          *content_type;
    const char          *id_json;
    const char          *in_message;
  } cases[] = {
    { OP_LIST, TETHER_TEST_FAULT_MALFORMED_JSON, NULL, NULL, "not valid JSON" },
    { OP_LIST, TETHER_TEST_FAULT_TRUNCATED_JSON, NULL, NULL, "not valid JSON" },
    { OP_LIST, TETHER_TEST_FAULT_NOT_ARRAY, NULL, NULL, "not a JSON array" },
    { OP_LIST, TETHER_TEST_FAULT_NO_ID, NULL, NULL, "item 1" },
    { OP_LIST, TETHER_TEST_FAULT_CONTENT_TYPE, "text/html", NULL, "text/html" },
    { OP_LIST, TETHER_TEST_FAULT_CONTENT_TYPE, "application/jsonp", NULL, "application/jsonp" },
    { OP_CREATE, TETHER_TEST_FAULT_NO_ID, NULL, NULL, "“id”" },
    { OP_CREATE, TETHER_TEST_FAULT_SET_ID, NULL, "1.5", "“id”" },
    { OP_CREATE, TETHER_TEST_FAULT_SET_ID, NULL, "\"\"", "“id”" },
    { OP_CREATE, TETHER_TEST_FAULT_SET_ID, NULL, "true", "“id”" },
    { OP_CREATE, TETHER_TEST_FAULT_MALFORMED_JSON, NULL, NULL, "not valid JSON" },
    { OP_CREATE, TETHER_TEST_FAULT_NOT_ARRAY, NULL, NULL, NULL },
    { OP_CREATE, TETHER_TEST_FAULT_CONTENT_TYPE, "text/plain", NULL, "text/plain" },
    { OP_UPDATE, TETHER_TEST_FAULT_MALFORMED_JSON, NULL, NULL, "not valid JSON" },
    { OP_UPDATE, TETHER_TEST_FAULT_CONTENT_TYPE, "text/html", NULL, "text/html" },
  };

  for (guint i = 0; i < G_N_ELEMENTS (cases); i++)
    {
      g_autoptr(GError) error = NULL;

      g_test_message ("%s with fault %d", op_method (cases[i].op), cases[i].kind);

      tether_test_soup_server_push_fault (fixture->server, &(TetherTestFault) {
                                            .kind = cases[i].kind,
                                            .method = op_method (cases[i].op),
                                            .content_type = cases[i].content_type,
                                            .id_json = cases[i].id_json,
                                          });
      error = run_op (fixture, cases[i].op);

      /* A record without "id" inside {"records": ...} is still an object:
       * for a create the wrapped reply lacks the id field. */
      g_assert_error (error, TETHER_REMOTE_ERROR, TETHER_REMOTE_ERROR_PROTOCOL);
      g_assert_true (tether_remote_error_is_uncertain (error));
      g_assert_false (tether_remote_error_is_transient (error));
      g_assert_nonnull (strstr (error->message, "Nothing was changed"));
      if (cases[i].in_message != NULL)
        g_assert_nonnull (strstr (error->message, cases[i].in_message));
    }
}

static void
test_faults_content_types (Fixture       *fixture,
                           gconstpointer  data)
{
  static const char * const accepted[] = {
    "application/json",
    "application/json; charset=utf-8",
    "Application/JSON; charset=UTF-8",
    "application/vnd.api+json",
  };

  for (guint i = 0; i < G_N_ELEMENTS (accepted); i++)
    {
      g_autoptr(GError) error = NULL;

      tether_test_soup_server_push_fault (fixture->server, &(TetherTestFault) {
                                            .kind = TETHER_TEST_FAULT_CONTENT_TYPE,
                                            .content_type = accepted[i],
                                          });
      error = run_op (fixture, OP_LIST);
      g_assert_no_error (error);
    }
}

/* 421 Misdirected Request is the server's refusal, at once: not sent
 * again by libsoup, whose PATCH would then wait for the timeout. */
static void
test_faults_misdirected (Fixture       *fixture,
                         gconstpointer  data)
{
  static const Op ops[] = { OP_LIST, OP_CREATE, OP_UPDATE, OP_DELETE };

  tether_remote_set_timeout (fixture->remote, 5);

  for (guint i = 0; i < G_N_ELEMENTS (ops); i++)
    {
      g_autoptr(GError) error = NULL;
      guint before;
      gint64 start;

      g_test_message ("%s → 421", op_method (ops[i]));

      /* A kept-alive connection first, as a sync has. */
      error = run_op (fixture, OP_LIST);
      g_assert_no_error (error);

      before = tether_test_soup_server_get_n_requests (fixture->server);
      tether_test_soup_server_push_fault (fixture->server, &(TetherTestFault) {
                                            .kind = TETHER_TEST_FAULT_STATUS,
                                            .method = op_method (ops[i]),
                                            .status = 421,
                                          });
      start = g_get_monotonic_time ();
      error = run_op (fixture, ops[i]);
      g_assert_error (error, TETHER_REMOTE_ERROR, TETHER_REMOTE_ERROR_PERMANENT);
      g_assert_nonnull (strstr (error->message, "421"));
      g_assert_cmpint (g_get_monotonic_time () - start, <, 3 * G_USEC_PER_SEC);
      g_assert_cmpuint (tether_test_soup_server_get_n_requests (fixture->server) - before, ==, 1);
    }
}

static void
test_faults_timeout (Fixture       *fixture,
                     gconstpointer  data)
{
  g_autoptr(GError) error = NULL;
  gint64 start;

  tether_remote_set_timeout (fixture->remote, 1);
  g_assert_cmpuint (tether_remote_get_timeout (fixture->remote), ==, 1);

  tether_test_soup_server_push_fault (fixture->server, &(TetherTestFault) {
                                        .kind = TETHER_TEST_FAULT_DELAY,
                                        .delay_ms = 4000,
                                      });
  start = g_get_monotonic_time ();
  error = run_op (fixture, OP_LIST);
  g_assert_error (error, TETHER_REMOTE_ERROR, TETHER_REMOTE_ERROR_TIMEOUT);
  g_assert_cmpint (g_get_monotonic_time () - start, <, 3500 * 1000);
  g_assert_nonnull (strstr (error->message, "1 second"));
  g_assert_true (tether_remote_error_is_transient (error));
  g_assert_true (tether_remote_error_is_uncertain (error));
}

static void
test_faults_size_cap (Fixture       *fixture,
                      gconstpointer  data)
{
  g_autoptr(GError) error = NULL;

  g_assert_cmpuint (tether_remote_get_max_reply_size (fixture->remote), ==, 64 * 1024 * 1024);
  tether_remote_set_max_reply_size (fixture->remote, 4096);

  /* Announced by Content-Length: refused before reading any of it. */
  tether_test_soup_server_push_fault (fixture->server, &(TetherTestFault) {
                                        .kind = TETHER_TEST_FAULT_HUGE_BODY,
                                        .size = 1024 * 1024,
                                        .content_length = TRUE,
                                      });
  tether_remote_reset_counters (fixture->remote);
  error = run_op (fixture, OP_LIST);
  g_assert_error (error, TETHER_REMOTE_ERROR, TETHER_REMOTE_ERROR_PROTOCOL);
  g_assert_nonnull (strstr (error->message, "larger than"));
  g_assert_cmpuint (tether_remote_get_bytes_received (fixture->remote), ==, 0);
  g_clear_error (&error);

  /* Chunked, no length: reading stops at the cap. */
  tether_test_soup_server_push_fault (fixture->server, &(TetherTestFault) {
                                        .kind = TETHER_TEST_FAULT_HUGE_BODY,
                                        .size = 4 * 1024 * 1024,
                                      });
  tether_remote_reset_counters (fixture->remote);
  error = run_op (fixture, OP_LIST);
  g_assert_error (error, TETHER_REMOTE_ERROR, TETHER_REMOTE_ERROR_PROTOCOL);
  g_assert_nonnull (strstr (error->message, "larger than"));
  g_assert_cmpuint (tether_remote_get_bytes_received (fixture->remote), <=, 4096 + 64 * 1024);
  g_clear_error (&error);

  /* Under the cap is fine. */
  tether_test_soup_server_push_fault (fixture->server, &(TetherTestFault) {
                                        .kind = TETHER_TEST_FAULT_HUGE_BODY,
                                        .size = 4000,
                                      });
  error = run_op (fixture, OP_LIST);
  g_assert_no_error (error);

  /* An error body over the limit still gives the status's error. */
  tether_remote_set_max_reply_size (fixture->remote, 64 * 1024 * 1024);
  {
    g_autofree char *big = g_strnfill (200 * 1024, 'x');

    tether_test_soup_server_push_fault (fixture->server, &(TetherTestFault) {
                                          .kind = TETHER_TEST_FAULT_STATUS,
                                          .status = 500,
                                          .body = big,
                                          .content_type = "text/plain",
                                        });
    error = run_op (fixture, OP_LIST);
    g_assert_error (error, TETHER_REMOTE_ERROR, TETHER_REMOTE_ERROR_SERVER);
    g_clear_error (&error);
  }

  /* A large page is parsed off the main thread, and comes back whole. */
  {
    g_autoptr(TetherRemotePage) page = NULL;

    tether_test_soup_server_add_generated_records (fixture->server, 9000);
    tether_account_set_page_size (fixture->account, 10000);
    page = list_page (fixture->remote, NULL, NULL, &error);
    g_assert_no_error (error);
    g_assert_cmpuint (json_array_get_length (page->items), ==, 9003);
    g_assert_cmpuint (tether_remote_get_bytes_received (fixture->remote), >, 256 * 1024);
  }
}

static void
test_faults_offline (Fixture       *fixture,
                     gconstpointer  data)
{
  g_autoptr(GSocket) socket = NULL;
  g_autoptr(GInetAddress) loopback = g_inet_address_new_loopback (G_SOCKET_FAMILY_IPV4);
  g_autoptr(GSocketAddress) address = g_inet_socket_address_new (loopback, 0);
  g_autoptr(GSocketAddress) bound = NULL;
  g_autoptr(GError) error = NULL;
  g_autofree char *url = NULL;

  /* A port nobody listens on. */
  socket = g_socket_new (G_SOCKET_FAMILY_IPV4, G_SOCKET_TYPE_STREAM, G_SOCKET_PROTOCOL_TCP, &error);
  g_assert_no_error (error);
  g_socket_bind (socket, address, FALSE, &error);
  g_assert_no_error (error);
  bound = g_socket_get_local_address (socket, &error);
  g_assert_no_error (error);
  url = g_strdup_printf ("http://127.0.0.1:%u", g_inet_socket_address_get_port (G_INET_SOCKET_ADDRESS (bound)));
  g_socket_close (socket, NULL);

  tether_account_set_server_url (fixture->account, url);
  error = run_op (fixture, OP_CREATE);
  g_assert_error (error, TETHER_REMOTE_ERROR, TETHER_REMOTE_ERROR_OFFLINE);
  g_assert_cmpstr (error->message, ==,
                   "The server could not be reached (connection refused). "
                   "Your changes are kept and will be sent when you sync again.");
  g_assert_false (tether_remote_error_is_transient (error));
  g_assert_false (tether_remote_error_is_uncertain (error));
}

static void
cancel_cb (gpointer user_data)
{
  g_cancellable_cancel (user_data);
}

static void
test_faults_cancel (Fixture       *fixture,
                    gconstpointer  data)
{
  g_autoptr(GCancellable) cancellable = g_cancellable_new ();
  g_autoptr(GAsyncResult) result = NULL;
  g_autoptr(TetherRemotePage) page = NULL;
  g_autoptr(GError) error = NULL;

  tether_test_soup_server_push_fault (fixture->server, &(TetherTestFault) {
                                        .kind = TETHER_TEST_FAULT_DELAY,
                                        .delay_ms = 3000,
                                      });
  g_timeout_add_once (100, cancel_cb, cancellable);
  tether_remote_list_page_async (fixture->remote, NULL, NULL, cancellable,
                                 tether_test_async_result_cb, &result);
  tether_test_wait_for_result (&result);
  page = tether_remote_list_page_finish (fixture->remote, result, &error);
  g_assert_null (page);
  g_assert_error (error, G_IO_ERROR, G_IO_ERROR_CANCELLED);
}

static void
test_update_etag_and_conflict (Fixture       *fixture,
                               gconstpointer  data)
{
  g_autoptr(JsonObject) created = NULL;
  g_autoptr(JsonNode) id = NULL;
  g_autoptr(TetherTestRequest) request = NULL;
  g_autoptr(GError) error = NULL;
  g_autofree char *etag = NULL;
  g_autofree char *etag2 = NULL;

  created = create_record (fixture->remote, "{\"title\": \"Versioned\", \"clientId\": \"c1\"}", &etag, &error);
  g_assert_no_error (error);
  g_assert_nonnull (etag);

  request = tether_test_soup_server_dup_last_request (fixture->server);
  g_assert_cmpstr (request->method, ==, "POST");
  g_assert_cmpstr (request->path, ==, "/records");
  g_assert_true (g_str_has_prefix (request->content_type, "application/json"));
  g_assert_cmpstr (request->body, ==, "{\"title\":\"Versioned\",\"clientId\":\"c1\"}");
  g_clear_pointer (&request, tether_test_request_free);

  id = json_node_copy (json_object_get_member (created, "id"));

  /* If-Match with the ETag the server gave. */
  update_record (fixture->remote, id, "{\"title\": \"v2\"}", TETHER_UPDATE_METHOD_PATCH,
                 etag, NULL, &etag2, &error);
  g_assert_no_error (error);
  request = tether_test_soup_server_dup_last_request (fixture->server);
  g_assert_cmpstr (request->if_match, ==, etag);
  g_assert_cmpstr (request->body, ==, "{\"title\":\"v2\"}");
  g_assert_nonnull (etag2);
  g_assert_cmpstr (etag2, !=, etag);
  g_clear_pointer (&request, tether_test_request_free);

  /* The old ETag no longer matches: a conflict, for updates and deletes. */
  update_record (fixture->remote, id, "{\"title\": \"v3\"}", TETHER_UPDATE_METHOD_PUT,
                 etag, NULL, NULL, &error);
  g_assert_error (error, TETHER_REMOTE_ERROR, TETHER_REMOTE_ERROR_CONFLICT);
  g_clear_error (&error);

  delete_record (fixture->remote, id, etag, &error);
  g_assert_error (error, TETHER_REMOTE_ERROR, TETHER_REMOTE_ERROR_CONFLICT);
  g_clear_error (&error);

  g_assert_true (delete_record (fixture->remote, id, etag2, &error));
  g_assert_no_error (error);
  g_assert_cmpuint (tether_test_soup_server_get_n_records (fixture->server), ==, 3);
}

static void
test_update_replies (Fixture       *fixture,
                     gconstpointer  data)
{
  g_autoptr(JsonNode) id = int_id (1);
  g_autoptr(JsonObject) reply = NULL;
  g_autoptr(JsonObject) stored = NULL;
  g_autoptr(GError) error = NULL;

  /* 204 No Content: success without a body. */
  tether_test_soup_server_push_fault (fixture->server, &(TetherTestFault) {
                                        .kind = TETHER_TEST_FAULT_STATUS,
                                        .status = 204,
                                        .body = "",
                                        .process = TRUE,
                                      });
  g_assert_true (update_record (fixture->remote, id, "{\"title\": \"Quiet\"}", TETHER_UPDATE_METHOD_PATCH,
                                NULL, &reply, NULL, &error));
  g_assert_no_error (error);
  g_assert_null (reply);
  stored = tether_test_soup_server_dup_record (fixture->server, "1");
  g_assert_cmpstr (json_object_get_string_member (stored, "title"), ==, "Quiet");

  /* An answer about another record is not believed. */
  tether_test_soup_server_push_fault (fixture->server, &(TetherTestFault) {
                                        .kind = TETHER_TEST_FAULT_STATUS,
                                        .status = 200,
                                        .body = "{\"id\": 999, \"title\": \"Someone else\"}",
                                      });
  g_assert_false (update_record (fixture->remote, id, "{\"title\": \"x\"}", TETHER_UPDATE_METHOD_PATCH,
                                 NULL, &reply, NULL, &error));
  g_assert_error (error, TETHER_REMOTE_ERROR, TETHER_REMOTE_ERROR_PROTOCOL);
  g_assert_nonnull (strstr (error->message, "999"));
  g_assert_null (reply);
  g_clear_error (&error);

  /* 42 and "42" are the same record in a URL. */
  tether_test_soup_server_push_fault (fixture->server, &(TetherTestFault) {
                                        .kind = TETHER_TEST_FAULT_STATUS,
                                        .status = 200,
                                        .body = "{\"id\": \"1\", \"title\": \"Text id\"}",
                                      });
  g_assert_true (update_record (fixture->remote, id, "{}", TETHER_UPDATE_METHOD_PATCH,
                                NULL, &reply, NULL, &error));
  g_assert_no_error (error);
}

static void
test_auth_basic (Fixture       *fixture,
                 gconstpointer  data)
{
  g_autoptr(TetherTestRequest) request = NULL;
  g_autoptr(GError) error = NULL;

  fixture_use_auth (fixture, TETHER_AUTH_KIND_BASIC);

  error = run_op (fixture, OP_LIST);
  g_assert_no_error (error);
  error = run_op (fixture, OP_UPDATE);
  g_assert_no_error (error);

  request = tether_test_soup_server_dup_last_request (fixture->server);
  g_assert_true (g_str_has_prefix (request->authorization, "Basic "));
  g_assert_cmpstr (request->authorization + strlen ("Basic "), ==, basic_credentials);
}

static void
test_auth_bearer (Fixture       *fixture,
                  gconstpointer  data)
{
  g_autoptr(TetherTestRequest) request = NULL;
  g_autoptr(GError) error = NULL;

  fixture_use_auth (fixture, TETHER_AUTH_KIND_BEARER);

  error = run_op (fixture, OP_CREATE);
  g_assert_no_error (error);

  request = tether_test_soup_server_dup_last_request (fixture->server);
  g_assert_cmpstr (request->authorization, ==, "Bearer " SECRET);
}

static void
test_auth_refused (Fixture       *fixture,
                   gconstpointer  data)
{
  g_autoptr(GError) error = NULL;
  g_autofree char *sentence = NULL;

  /* The server wants credentials and gets none. */
  tether_test_soup_server_set_required_authorization (fixture->server, "Bearer " SECRET);
  error = run_op (fixture, OP_LIST);
  g_assert_error (error, TETHER_REMOTE_ERROR, TETHER_REMOTE_ERROR_AUTH);
  g_assert_nonnull (strstr (error->message, "requires signing in"));
  g_clear_error (&error);

  /* Wrong secret. */
  fixture_use_auth (fixture, TETHER_AUTH_KIND_BEARER);
  tether_remote_set_secret (fixture->remote, "not-" SECRET "-either");
  error = run_op (fixture, OP_UPDATE);
  g_assert_error (error, TETHER_REMOTE_ERROR, TETHER_REMOTE_ERROR_AUTH);
  g_assert_nonnull (strstr (error->message, "did not accept"));
  assert_no_secret (error);
  g_assert_null (strstr (error->message, "not-" SECRET "-either"));
  g_clear_error (&error);

  sentence = test_connection (fixture->remote, &error);
  g_assert_null (sentence);
  g_assert_error (error, TETHER_REMOTE_ERROR, TETHER_REMOTE_ERROR_AUTH);
  g_clear_error (&error);

  /* Credentials needed but not given: refused before sending. */
  tether_remote_set_secret (fixture->remote, NULL);
  tether_test_soup_server_clear_requests (fixture->server);
  tether_remote_reset_counters (fixture->remote);
  error = run_op (fixture, OP_CREATE);
  g_assert_error (error, TETHER_REMOTE_ERROR, TETHER_REMOTE_ERROR_AUTH);
  g_assert_cmpuint (tether_remote_get_requests_sent (fixture->remote), ==, 0);
  g_assert_cmpuint (tether_test_soup_server_get_n_requests (fixture->server), ==, 0);
}

static void
test_auth_insecure (Fixture       *fixture,
                    gconstpointer  data)
{
  static const char * const urls[] = {
    "http://192.0.2.1:8080/api",
    "http://192.0.2.1",
    "http://example.invalid/api",
    "http://[2001:db8::1]:8080",
  };

  fixture_use_auth (fixture, TETHER_AUTH_KIND_BASIC);

  for (guint i = 0; i < G_N_ELEMENTS (urls); i++)
    {
      g_autoptr(GError) error = NULL;
      gint64 start;

      tether_account_set_server_url (fixture->account, urls[i]);
      tether_remote_reset_counters (fixture->remote);

      /* Refused before any connection: no packet leaves, so no timeout or
       * "no route" comes back, and quickly. */
      start = g_get_monotonic_time ();
      for (Op op = OP_LIST; op <= OP_DELETE; op++)
        {
          g_clear_error (&error);
          error = run_op (fixture, op);
          g_assert_error (error, TETHER_REMOTE_ERROR, TETHER_REMOTE_ERROR_INSECURE);
          assert_no_secret (error);
          g_assert_nonnull (strstr (error->message, "https://"));
        }
      g_assert_cmpint (g_get_monotonic_time () - start, <, G_TIME_SPAN_SECOND);
      g_assert_cmpuint (tether_remote_get_requests_sent (fixture->remote), ==, 0);
    }

  /* Also with a token. */
  {
    g_autoptr(GError) error = NULL;

    tether_account_set_auth_kind (fixture->account, TETHER_AUTH_KIND_BEARER);
    error = run_op (fixture, OP_LIST);
    g_assert_error (error, TETHER_REMOTE_ERROR, TETHER_REMOTE_ERROR_INSECURE);
  }

  /* Plain HTTP to this computer is fine: every other test does it. */
  g_assert_cmpuint (tether_test_soup_server_get_n_requests (fixture->server), ==, 0);
}

static void
test_auth_redirect_other_origin (Fixture       *fixture,
                                 gconstpointer  data)
{
  g_autoptr(TetherTestSoupServer) other = tether_test_soup_server_new ();
  g_autoptr(TetherTestRequest) first = NULL;
  g_autoptr(TetherTestRequest) second = NULL;
  g_autoptr(TetherRemotePage) page = NULL;
  g_autoptr(GError) error = NULL;

  tether_test_soup_server_add_generated_records (other, 10);
  fixture_use_auth (fixture, TETHER_AUTH_KIND_BASIC);

  tether_test_soup_server_push_fault (fixture->server, &(TetherTestFault) {
                                        .kind = TETHER_TEST_FAULT_REDIRECT,
                                        .location = tether_test_soup_server_get_url (other),
                                      });
  page = list_page (fixture->remote, NULL, NULL, &error);
  g_assert_no_error (error);
  g_assert_cmpuint (json_array_get_length (page->items), ==, 10);

  /* The server got the credentials; the other origin did not. */
  first = tether_test_soup_server_dup_last_request (fixture->server);
  g_assert_cmpuint (first->status, ==, 302);
  g_assert_nonnull (first->authorization);
  g_assert_cmpuint (tether_test_soup_server_get_n_requests (other), ==, 1);
  second = tether_test_soup_server_dup_last_request (other);
  g_assert_cmpstr (second->target, ==, first->target);
  g_assert_null (second->authorization);
  g_assert_cmpuint (tether_remote_get_requests_sent (fixture->remote), ==, 2);

  /* A change is not re-sent to another server at all. */
  g_clear_pointer (&second, tether_test_request_free);
  tether_test_soup_server_clear_requests (other);
  tether_test_soup_server_push_fault (fixture->server, &(TetherTestFault) {
                                        .kind = TETHER_TEST_FAULT_REDIRECT,
                                        .status = 307,
                                        .location = tether_test_soup_server_get_url (other),
                                      });
  error = run_op (fixture, OP_CREATE);
  g_assert_error (error, TETHER_REMOTE_ERROR, TETHER_REMOTE_ERROR_PERMANENT);
  assert_no_secret (error);
  g_assert_cmpuint (tether_test_soup_server_get_n_requests (other), ==, 0);
}

static void
test_auth_redirect_same_origin (Fixture       *fixture,
                                gconstpointer  data)
{
  const char *base = tether_test_soup_server_get_url (fixture->server);
  g_autoptr(GError) error = NULL;

  fixture_use_auth (fixture, TETHER_AUTH_KIND_BEARER);

  /* A GET redirected on the same server keeps its credentials. */
  tether_test_soup_server_push_fault (fixture->server, &(TetherTestFault) {
                                        .kind = TETHER_TEST_FAULT_REDIRECT,
                                        .status = 301,
                                        .location = base,
                                      });
  error = run_op (fixture, OP_LIST);
  g_assert_no_error (error);
  g_assert_cmpuint (tether_test_soup_server_get_n_requests (fixture->server), ==, 2);
  for (guint i = 0; i < 2; i++)
    {
      g_autoptr(TetherTestRequest) request = tether_test_soup_server_dup_request (fixture->server, i);

      g_assert_cmpstr (request->authorization, ==, "Bearer " SECRET);
    }

  /* A 307 or 308 re-sends a change as it was. */
  tether_test_soup_server_clear_requests (fixture->server);
  tether_test_soup_server_push_fault (fixture->server, &(TetherTestFault) {
                                        .kind = TETHER_TEST_FAULT_REDIRECT,
                                        .status = 308,
                                        .location = base,
                                      });
  error = run_op (fixture, OP_UPDATE);
  g_assert_no_error (error);
  {
    g_autoptr(TetherTestRequest) request = tether_test_soup_server_dup_request (fixture->server, 1);

    g_assert_cmpstr (request->method, ==, "PATCH");
    g_assert_cmpstr (request->body, ==, "{\"title\":\"Changed\"}");
    g_assert_cmpstr (request->authorization, ==, "Bearer " SECRET);
  }

  /* A 303 would turn it into a GET: refused. */
  tether_test_soup_server_push_fault (fixture->server, &(TetherTestFault) {
                                        .kind = TETHER_TEST_FAULT_REDIRECT,
                                        .status = 303,
                                        .location = base,
                                      });
  error = run_op (fixture, OP_UPDATE);
  g_assert_error (error, TETHER_REMOTE_ERROR, TETHER_REMOTE_ERROR_PERMANENT);
  g_clear_error (&error);

  /* Endless redirects end. */
  tether_test_soup_server_clear_requests (fixture->server);
  tether_test_soup_server_push_fault (fixture->server, &(TetherTestFault) {
                                        .kind = TETHER_TEST_FAULT_REDIRECT,
                                        .location = base,
                                        .times = 100,
                                      });
  error = run_op (fixture, OP_LIST);
  g_assert_error (error, TETHER_REMOTE_ERROR, TETHER_REMOTE_ERROR_PROTOCOL);
  g_assert_nonnull (strstr (error->message, "too many"));
  g_assert_cmpuint (tether_test_soup_server_get_n_requests (fixture->server), ==, 6);
  tether_test_soup_server_clear_faults (fixture->server);
}

static void
test_auth_secret_echoed (Fixture       *fixture,
                         gconstpointer  data)
{
  g_autofree char *echo_bearer = g_strdup_printf ("{\"message\": \"Bad header: Authorization: Bearer %s\"}", SECRET);
  g_autofree char *echo_basic = NULL;
  g_autoptr(GError) error = NULL;

  /* A server that repeats the credentials in its error message: the
   * message is not passed on. */
  fixture_use_auth (fixture, TETHER_AUTH_KIND_BEARER);
  tether_test_soup_server_push_fault (fixture->server, &(TetherTestFault) {
                                        .kind = TETHER_TEST_FAULT_STATUS,
                                        .status = 400,
                                        .body = echo_bearer,
                                      });
  error = run_op (fixture, OP_CREATE);
  g_assert_error (error, TETHER_REMOTE_ERROR, TETHER_REMOTE_ERROR_PERMANENT);
  assert_no_secret (error);
  g_assert_null (strstr (error->message, "Bad header"));
  g_clear_error (&error);

  fixture_use_auth (fixture, TETHER_AUTH_KIND_BASIC);
  echo_basic = g_strdup_printf ("{\"message\": \"Rejected Basic %s\"}", basic_credentials);
  tether_test_soup_server_push_fault (fixture->server, &(TetherTestFault) {
                                        .kind = TETHER_TEST_FAULT_STATUS,
                                        .status = 503,
                                        .body = echo_basic,
                                      });
  error = run_op (fixture, OP_LIST);
  g_assert_error (error, TETHER_REMOTE_ERROR, TETHER_REMOTE_ERROR_SERVER);
  assert_no_secret (error);
  g_assert_null (strstr (error->message, "Rejected"));
}

static void
test_tls_self_signed (void)
{
  g_autofree char *cert_path = tether_test_dup_data_path ("self-signed-cert.pem");
  g_autofree char *key_path = tether_test_dup_data_path ("self-signed-key.pem");
  g_autoptr(GTlsCertificate) certificate = NULL;
  g_autoptr(TetherTestSoupServer) server = NULL;
  g_autoptr(TetherRemotePage) page = NULL;
  g_autoptr(GError) error = NULL;
  TetherAccount *account;
  TetherRemote *remote;

  certificate = g_tls_certificate_new_from_files (cert_path, key_path, &error);
  g_assert_no_error (error);
  server = tether_test_soup_server_new_tls (certificate);

  account = tether_account_new ();
  tether_account_set_server_url (account, tether_test_soup_server_get_url (server));
  tether_account_set_auth_kind (account, TETHER_AUTH_KIND_BEARER);
  remote = tether_remote_new (account);
  tether_remote_set_secret (remote, SECRET);

  page = list_page (remote, NULL, NULL, &error);
  g_assert_null (page);
  g_assert_error (error, TETHER_REMOTE_ERROR, TETHER_REMOTE_ERROR_TLS);
  g_assert_nonnull (strstr (error->message, "not trusted"));
  g_assert_nonnull (strstr (error->message, "nothing was sent"));
  assert_no_secret (error);
  g_clear_error (&error);

  /* Refused during the handshake: the server never saw a request, so the
   * token never left. */
  g_assert_cmpuint (tether_test_soup_server_get_n_requests (server), ==, 0);

  /* And it stays refused. */
  {
    g_autoptr(JsonObject) created = NULL;

    created = create_record (remote, "{\"title\": \"x\"}", NULL, &error);
    g_assert_null (created);
    g_assert_error (error, TETHER_REMOTE_ERROR, TETHER_REMOTE_ERROR_TLS);
  }
  g_assert_cmpuint (tether_test_soup_server_get_n_requests (server), ==, 0);

  g_assert_finalize_object (remote);
  g_assert_finalize_object (account);
}

static void
test_account_settings_checked (Fixture       *fixture,
                               gconstpointer  data)
{
  static const char * const bad_urls[] = { "", "ftp://127.0.0.1", "https://user:pw@127.0.0.1" };
  static const char * const bad_collections[] = { "", "/", "..", "api/../admin", "." };

  for (guint i = 0; i < G_N_ELEMENTS (bad_urls); i++)
    {
      g_autoptr(GError) error = NULL;
      g_autofree char *url = NULL;

      tether_account_set_server_url (fixture->account, bad_urls[i]);
      error = run_op (fixture, OP_LIST);
      g_assert_error (error, TETHER_ACCOUNT_ERROR, TETHER_ACCOUNT_ERROR_INVALID_URL);
      g_clear_error (&error);

      url = tether_remote_dup_first_page_url (fixture->remote, &error);
      g_assert_null (url);
      g_assert_error (error, TETHER_ACCOUNT_ERROR, TETHER_ACCOUNT_ERROR_INVALID_URL);
    }

  tether_account_set_server_url (fixture->account, tether_test_soup_server_get_url (fixture->server));
  for (guint i = 0; i < G_N_ELEMENTS (bad_collections); i++)
    {
      g_autoptr(GError) error = NULL;

      tether_account_set_collection (fixture->account, bad_collections[i]);
      error = run_op (fixture, OP_CREATE);
      g_assert_error (error, TETHER_ACCOUNT_ERROR, TETHER_ACCOUNT_ERROR_INVALID_URL);
    }

  g_assert_cmpuint (tether_test_soup_server_get_n_requests (fixture->server), ==, 0);

  /* A collection below a path of the server URL, and one with a space. */
  {
    g_autofree char *base = g_strconcat (tether_test_soup_server_get_url (fixture->server), "/api/", NULL);
    g_autofree char *url = NULL;
    g_autoptr(GError) error = NULL;

    tether_account_set_server_url (fixture->account, base);
    tether_account_set_collection (fixture->account, "/v1/my records/");
    url = tether_remote_dup_first_page_url (fixture->remote, &error);
    g_assert_no_error (error);
    g_assert_true (g_str_has_suffix (url, "/api/v1/my%20records?_page=1&_limit=100"));
  }
}

static void
test_concurrency (Fixture       *fixture,
                  gconstpointer  data)
{
  GAsyncResult *results[4] = { NULL, };
  gint64 start;

  /* Four requests in flight at once (push-concurrency 4), not two (the
   * libsoup default per host). */
  tether_test_soup_server_push_fault (fixture->server, &(TetherTestFault) {
                                        .kind = TETHER_TEST_FAULT_DELAY,
                                        .method = "PATCH",
                                        .delay_ms = 1000,
                                        .times = 4,
                                      });

  start = g_get_monotonic_time ();
  for (guint i = 0; i < G_N_ELEMENTS (results); i++)
    {
      g_autoptr(JsonNode) id = int_id (1 + i % 3);
      g_autoptr(JsonObject) body = object_from_string ("{\"touched\": true}");

      tether_remote_update_async (fixture->remote, id, body, TETHER_UPDATE_METHOD_PATCH, NULL,
                                  NULL, tether_test_async_result_cb, &results[i]);
    }

  for (guint i = 0; i < G_N_ELEMENTS (results); i++)
    {
      g_autoptr(GError) error = NULL;

      tether_test_wait_for_result (&results[i]);
      g_assert_true (tether_remote_update_finish (fixture->remote, results[i], NULL, NULL, &error));
      g_assert_no_error (error);
      g_clear_object (&results[i]);
    }

  g_test_message ("4 delayed requests took %" G_GINT64_FORMAT " ms",
                  (g_get_monotonic_time () - start) / 1000);
  g_assert_cmpint (g_get_monotonic_time () - start, <, 1800 * 1000);
}

static void
test_headers (Fixture       *fixture,
              gconstpointer  data)
{
  g_autoptr(TetherTestRequest) request = NULL;
  g_autoptr(GError) error = NULL;
  g_autofree char *sentence = NULL;

  sentence = test_connection (fixture->remote, &error);
  g_assert_no_error (error);
  g_assert_nonnull (strstr (sentence, "holds 3 records"));

  request = tether_test_soup_server_dup_last_request (fixture->server);
  g_assert_cmpstr (request->target, ==, "/records?_page=1&_limit=1");
  g_assert_cmpstr (request->user_agent, ==, "Tether/" PACKAGE_VERSION);
  g_assert_null (request->authorization);
}

static void
test_secret_in_no_message (void)
{
  g_test_message ("%u error messages, %u log lines checked", error_messages->len, n_log_lines);

  g_assert_cmpuint (error_messages->len, >, 50);
  for (guint i = 0; i < error_messages->len; i++)
    {
      const char *message = error_messages->pdata[i];

      g_assert_null (strstr (message, SECRET));
      g_assert_null (strstr (message, basic_credentials));
      g_assert_true (g_utf8_validate (message, -1, NULL));
    }

  g_assert_false (secret_logged);
}

int
main (int   argc,
      char *argv[])
{
  g_autofree char *credentials = g_strconcat (USERNAME, ":", SECRET, NULL);
  int ret;

  tether_test_init (&argc, &argv);

  /* Every log line goes through the writer, debug included, to be checked
   * for the secret. */
  g_log_set_writer_func (log_writer, NULL, NULL);
  basic_credentials = g_base64_encode ((const guchar *) credentials, strlen (credentials));
  error_messages = g_ptr_array_new_with_free_func (g_free);

#define ADD_JSON_SERVER_TEST(path, func, n) \
  g_test_add ("/remote/json-server/" path, JsonServerFixture, GUINT_TO_POINTER (n), \
              json_server_setup, func, json_server_teardown)
#define ADD_TEST(path, func) \
  g_test_add ("/remote/" path, Fixture, NULL, fixture_setup, func, fixture_teardown)

  ADD_JSON_SERVER_TEST ("list-pages", test_json_server_list_pages, 25);
  ADD_JSON_SERVER_TEST ("not-modified", test_json_server_not_modified, 20);
  ADD_JSON_SERVER_TEST ("create", test_json_server_create, 3);
  ADD_JSON_SERVER_TEST ("update", test_json_server_update, 3);
  ADD_JSON_SERVER_TEST ("delete", test_json_server_delete, 3);
  ADD_JSON_SERVER_TEST ("special-ids", test_json_server_special_ids, 3);
  ADD_JSON_SERVER_TEST ("test-connection", test_json_server_test_connection, 3);

  g_test_add_func ("/remote/ids/path-segment", test_ids_path_segment);
  ADD_TEST ("ids/request-path", test_ids_request_path);
  g_test_add_func ("/remote/link-header", test_link_header);
  ADD_TEST ("list/etag-and-counters", test_list_etag_and_counters);
  ADD_TEST ("list/next-link-checked", test_list_next_link_checked);
  ADD_TEST ("faults/status", test_faults_status);
  ADD_TEST ("faults/server-message", test_faults_server_message);
  ADD_TEST ("faults/retry-after", test_faults_retry_after);
  ADD_TEST ("faults/drops", test_faults_drops);
  ADD_TEST ("faults/bad-replies", test_faults_bad_replies);
  ADD_TEST ("faults/content-types", test_faults_content_types);
  ADD_TEST ("faults/timeout", test_faults_timeout);
  ADD_TEST ("faults/misdirected", test_faults_misdirected);
  ADD_TEST ("faults/size-cap", test_faults_size_cap);
  ADD_TEST ("faults/offline", test_faults_offline);
  ADD_TEST ("faults/cancel", test_faults_cancel);
  ADD_TEST ("update/etag-and-conflict", test_update_etag_and_conflict);
  ADD_TEST ("update/replies", test_update_replies);
  ADD_TEST ("auth/basic", test_auth_basic);
  ADD_TEST ("auth/bearer", test_auth_bearer);
  ADD_TEST ("auth/refused", test_auth_refused);
  ADD_TEST ("auth/insecure", test_auth_insecure);
  ADD_TEST ("auth/redirect-other-origin", test_auth_redirect_other_origin);
  ADD_TEST ("auth/redirect-same-origin", test_auth_redirect_same_origin);
  ADD_TEST ("auth/secret-echoed", test_auth_secret_echoed);
  g_test_add_func ("/remote/tls/self-signed", test_tls_self_signed);
  ADD_TEST ("account-settings-checked", test_account_settings_checked);
  ADD_TEST ("concurrency", test_concurrency);
  ADD_TEST ("headers", test_headers);
  /* Last: it checks what all the others produced. */
  g_test_add_func ("/remote/finally/secret-in-no-message", test_secret_in_no_message);

#undef ADD_TEST
#undef ADD_JSON_SERVER_TEST

  ret = g_test_run ();

  g_clear_pointer (&error_messages, g_ptr_array_unref);
  g_clear_pointer (&basic_credentials, g_free);

  return ret;
}
