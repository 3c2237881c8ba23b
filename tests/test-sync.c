/* test-sync.c
 *
 * Copyright 2026 The Tether authors
 *
 * SPDX-License-Identifier: GPL-3.0-or-later
 */

#include "config.h"

#include <string.h>

#include "tether-session.h"
#include "tether-sync.h"
#include "tether-test-json-server.h"
#include "tether-test-soup-server.h"
#include "tether-test-util.h"

/*
 * A client: its own store, account, remote and sync engine, as the app
 * and tether-cli put them together. Several in one test are several
 * computers sharing one server.
 */

typedef struct
{
  char          *dir;
  TetherAccount *account;
  TetherSession *session;
  TetherRemote  *remote;
  TetherSync    *sync;
} Client;

static Client *
client_new (const char           *url,
            TetherConflictPolicy  policy)
{
  Client *client = g_new0 (Client, 1);
  g_autoptr(GFile) directory = NULL;
  g_autoptr(GError) error = NULL;

  client->dir = g_dir_make_tmp ("tether-sync-XXXXXX", &error);
  g_assert_no_error (error);
  directory = g_file_new_for_path (client->dir);

  client->account = tether_account_new ();
  tether_account_set_server_url (client->account, url);
  tether_account_set_conflict_policy (client->account, policy);

  client->session = tether_session_new (client->account, directory);
  tether_session_open (client->session, &error);
  g_assert_no_error (error);

  client->remote = g_object_ref (tether_session_get_remote (client->session));
  tether_remote_set_timeout (client->remote, 5);
  client->sync = g_object_ref (tether_session_get_sync (client->session));
  tether_sync_set_retry_delay (client->sync, 10, 2000, 3);

  return client;
}

static void
client_free (Client *client)
{
  g_autoptr(GError) error = NULL;

  tether_session_close (client->session, &error);
  g_assert_no_error (error);

  g_object_unref (client->sync);
  g_object_unref (client->remote);
  g_assert_finalize_object (client->session);
  g_assert_finalize_object (client->account);

  g_free (client->dir);
  g_free (client);
}

G_DEFINE_AUTOPTR_CLEANUP_FUNC (Client, client_free)

static TetherCollection *
client_collection (Client *client)
{
  return tether_session_get_collection (client->session);
}

static gboolean
client_sync_flags (Client           *client,
                   TetherSyncFlags   flags,
                   TetherSyncReport *report,
                   GError          **error)
{
  g_autoptr(GAsyncResult) result = NULL;

  tether_sync_run_async (client->sync, flags, NULL, tether_test_async_result_cb, &result);
  tether_test_wait_for_result (&result);

  return tether_sync_run_finish (client->sync, result, report, error);
}

static void
client_sync_ok (Client           *client,
                TetherSyncReport *report)
{
  g_autoptr(GError) error = NULL;
  gboolean ok;

  ok = client_sync_flags (client, TETHER_SYNC_FLAGS_ALL, report, &error);
  g_assert_no_error (error);
  g_assert_true (ok);
}

static TetherRecord *
client_add (Client     *client,
            const char *title)
{
  g_autoptr(TetherRecord) record = tether_record_new ();

  tether_record_set_string (record, "title", title);
  tether_collection_add (client_collection (client), record);

  return record;
}

static TetherRecord *
client_find_title (Client     *client,
                   const char *title)
{
  GListModel *model = G_LIST_MODEL (client_collection (client));

  for (guint i = 0; i < g_list_model_get_n_items (model); i++)
    {
      g_autoptr(TetherRecord) record = g_list_model_get_item (model, i);

      if (g_strcmp0 (tether_record_get_title (record), title) == 0)
        return record;
    }

  return NULL;
}

static JsonObject *
find_object (JsonArray  *array,
             const char *member,
             const char *value)
{
  for (guint i = 0; i < json_array_get_length (array); i++)
    {
      JsonObject *object = json_array_get_object_element (array, i);

      if (g_strcmp0 (json_object_get_string_member_with_default (object, member, NULL), value) == 0)
        return object;
    }

  return NULL;
}

static void
count_cb (gpointer *counter)
{
  (*(guint *)counter)++;
}

static TetherTestJsonServer *
start_json_server (const char *db)
{
  g_autoptr(GError) error = NULL;
  TetherTestJsonServer *server = tether_test_json_server_new (db, &error);

  g_assert_no_error (error);
  g_assert_nonnull (server);

  return server;
}

/*
 * Against json-server 0.17.4
 */

/* The seeds' scenario: a record made offline has no server id; the sync
 * gives it the server's id, the row learns of it through notify::id, and
 * the collection finds it by that id from then on. */
static void
test_sync_offline_create (void)
{
  g_autoptr(TetherTestJsonServer) server = start_json_server (NULL);
  g_autoptr(Client) client = client_new (tether_test_json_server_get_url (server),
                                         TETHER_CONFLICT_POLICY_ASK);
  g_autoptr(JsonArray) records = NULL;
  TetherSyncReport report;
  TetherRecord *a, *b;
  guint id_notifies = 0;
  JsonObject *object;

  a = client_add (client, "Buy milk");
  b = client_add (client, "Call Anna");
  tether_record_set_attribute (b, "done", json_node_init_boolean (json_node_alloc (), FALSE));
  g_assert_null (tether_record_get_id (a));
  g_assert_cmpint (tether_record_get_sync_state (a), ==, TETHER_SYNC_STATE_PENDING);
  g_signal_connect_swapped (a, "notify::id", G_CALLBACK (count_cb), &id_notifies);

  client_sync_ok (client, &report);
  g_assert_cmpuint (report.pushed, ==, 2);
  g_assert_cmpuint (report.pulled, ==, 0);
  g_assert_cmpuint (report.conflicts, ==, 0);
  g_assert_cmpuint (report.errors, ==, 0);

  g_assert_cmpuint (id_notifies, ==, 1);
  g_assert_nonnull (tether_record_get_id (a));
  g_assert_nonnull (tether_record_get_id (b));
  g_assert_cmpint (tether_record_get_sync_state (a), ==, TETHER_SYNC_STATE_SYNCED);
  g_assert_cmpint (tether_record_get_sync_state (b), ==, TETHER_SYNC_STATE_SYNCED);
  g_assert_true (tether_collection_lookup_id (client_collection (client), tether_record_get_id (a)) == a);

  records = tether_test_json_server_dup_collection (server, "records");
  g_assert_cmpuint (json_array_get_length (records), ==, 2);
  object = find_object (records, "title", "Call Anna");
  g_assert_nonnull (object);
  g_assert_false (json_object_get_boolean_member (object, "done"));
  /* The cid travels with the create: a lost reply cannot make a twin. */
  g_assert_cmpstr (json_object_get_string_member (object, "clientId"), ==, tether_record_get_cid (b));

  /* A second sync has nothing to do. */
  client_sync_ok (client, &report);
  g_assert_cmpuint (report.pushed, ==, 0);
  g_assert_cmpuint (report.pulled, ==, 0);
  g_clear_pointer (&records, json_array_unref);
  records = tether_test_json_server_dup_collection (server, "records");
  g_assert_cmpuint (json_array_get_length (records), ==, 2);
}

static void
test_sync_update_patch_and_put (void)
{
  g_autoptr(TetherTestJsonServer) server = start_json_server (NULL);
  g_autoptr(Client) client = client_new (tether_test_json_server_get_url (server),
                                         TETHER_CONFLICT_POLICY_ASK);
  g_autoptr(JsonArray) records = NULL;
  TetherSyncReport report;
  TetherRecord *record;
  JsonObject *object;

  record = client_add (client, "Draft");
  tether_record_set_attribute (record, "pages", json_node_init_int (json_node_alloc (), 3));
  tether_record_set_string (record, "note", "remove me");
  client_sync_ok (client, &report);

  /* PATCH sends what changed. */
  tether_record_set_string (record, "title", "Final");
  client_sync_ok (client, &report);
  g_assert_cmpuint (report.pushed, ==, 1);
  records = tether_test_json_server_dup_collection (server, "records");
  object = json_array_get_object_element (records, 0);
  g_assert_cmpstr (json_object_get_string_member (object, "title"), ==, "Final");
  g_assert_cmpint (json_object_get_int_member (object, "pages"), ==, 3);
  g_clear_pointer (&records, json_array_unref);

  /* A removed field cannot go in a PATCH: the whole record is PUT. */
  tether_record_unset_attribute (record, "note");
  client_sync_ok (client, &report);
  records = tether_test_json_server_dup_collection (server, "records");
  object = json_array_get_object_element (records, 0);
  g_assert_false (json_object_has_member (object, "note"));
  g_assert_cmpstr (json_object_get_string_member (object, "title"), ==, "Final");
  g_clear_pointer (&records, json_array_unref);

  /* PUT as the setting. */
  tether_account_set_update_method (client->account, TETHER_UPDATE_METHOD_PUT);
  tether_record_set_attribute (record, "pages", json_node_init_int (json_node_alloc (), 4));
  client_sync_ok (client, &report);
  records = tether_test_json_server_dup_collection (server, "records");
  object = json_array_get_object_element (records, 0);
  g_assert_cmpint (json_object_get_int_member (object, "pages"), ==, 4);
  g_assert_cmpstr (json_object_get_string_member (object, "title"), ==, "Final");
  g_assert_cmpint (tether_record_get_sync_state (record), ==, TETHER_SYNC_STATE_SYNCED);
}

static void
test_sync_deletes_both_ways (void)
{
  g_autoptr(TetherTestJsonServer) server = start_json_server (NULL);
  g_autoptr(Client) client = client_new (tether_test_json_server_get_url (server),
                                         TETHER_CONFLICT_POLICY_ASK);
  g_autoptr(JsonArray) records = NULL;
  g_autoptr(JsonNode) gone = NULL;
  g_autoptr(GError) error = NULL;
  g_autofree char *path = NULL;
  g_autofree char *id = NULL;
  TetherSyncReport report;
  TetherRecord *local, *remote;
  guint status = 0;

  local = client_add (client, "Delete here");
  remote = client_add (client, "Delete there");
  client_add (client, "Keep");
  client_sync_ok (client, &report);
  g_object_ref (remote);

  /* Here: a tombstone, sent as DELETE. */
  g_assert_true (tether_collection_delete (client_collection (client), local));
  g_assert_cmpuint (tether_collection_get_tombstones (client_collection (client))->len, ==, 1);

  /* There: gone from the server's listing. */
  id = tether_record_dup_id_string (remote);
  path = g_strdup_printf ("/records/%s", id);
  gone = tether_test_json_server_request (server, "DELETE", path, NULL, &status, &error);
  g_assert_no_error (error);
  g_assert_cmpuint (status, ==, 200);

  client_sync_ok (client, &report);
  g_assert_cmpuint (report.deleted, ==, 2);
  g_assert_cmpuint (tether_collection_get_tombstones (client_collection (client))->len, ==, 0);
  g_assert_cmpuint (g_list_model_get_n_items (G_LIST_MODEL (client_collection (client))), ==, 1);
  g_assert_null (tether_collection_lookup_cid (client_collection (client), tether_record_get_cid (remote)));

  records = tether_test_json_server_dup_collection (server, "records");
  g_assert_cmpuint (json_array_get_length (records), ==, 1);
  g_assert_nonnull (find_object (records, "title", "Keep"));

  g_object_unref (remote);
}

typedef struct
{
  guint notifies;
  guint saw_pushing;
} StateWatch;

static void
on_state_cb (TetherRecord *record,
             GParamSpec   *pspec,
             StateWatch   *watch)
{
  watch->notifies++;
  if (tether_record_get_sync_state (record) == TETHER_SYNC_STATE_PUSHING)
    watch->saw_pushing++;
}

static void
test_sync_pagination_and_idle (void)
{
  g_autoptr(GString) db = g_string_new ("{\"records\": [");
  g_autoptr(TetherTestJsonServer) server = NULL;
  g_autoptr(Client) client = NULL;
  TetherSyncReport report;
  guint64 requests, not_modified, written;
  StateWatch watch = { 0 };
  TetherRecord *record;

  for (guint i = 1; i <= 9; i++)
    g_string_append_printf (db, "%s{\"id\": %u, \"title\": \"Record %u\"}", i > 1 ? "," : "", i, i);
  g_string_append (db, "]}");

  server = start_json_server (db->str);
  client = client_new (tether_test_json_server_get_url (server), TETHER_CONFLICT_POLICY_ASK);
  tether_account_set_page_size (client->account, 2);

  client_sync_ok (client, &report);
  g_assert_cmpuint (report.pulled, ==, 9);
  g_assert_cmpuint (g_list_model_get_n_items (G_LIST_MODEL (client_collection (client))), ==, 9);
  /* Five pages of two, followed by their Link headers. */
  g_assert_cmpuint (tether_remote_get_requests_sent (client->remote), ==, 5);

  record = client_find_title (client, "Record 7");
  g_assert_nonnull (record);
  g_assert_cmpint (json_node_get_int (tether_record_get_id (record)), ==, 7);
  g_assert_cmpint (tether_record_get_sync_state (record), ==, TETHER_SYNC_STATE_SYNCED);

  /* Nothing changed anywhere: only conditional GETs, each answered 304,
   * and not one byte written to the store. */
  requests = tether_remote_get_requests_sent (client->remote);
  not_modified = tether_remote_get_not_modified_count (client->remote);
  written = tether_store_get_bytes_written (tether_session_get_store (client->session));
  g_signal_connect (record, "notify::sync-state", G_CALLBACK (on_state_cb), &watch);

  client_sync_ok (client, &report);
  g_assert_cmpuint (report.pulled, ==, 0);
  g_assert_cmpuint (report.pushed, ==, 0);
  g_assert_cmpuint (tether_remote_get_requests_sent (client->remote) - requests, ==, 5);
  g_assert_cmpuint (tether_remote_get_not_modified_count (client->remote) - not_modified, ==, 5);
  g_assert_cmpuint (tether_store_get_bytes_written (tether_session_get_store (client->session)), ==, written);
  g_assert_cmpuint (g_list_model_get_n_items (G_LIST_MODEL (client_collection (client))), ==, 9);
  g_assert_cmpuint (watch.notifies, ==, 0);

  /* An edit goes pending → pushing → synced. */
  tether_record_set_string (record, "title", "Seven");
  client_sync_ok (client, &report);
  g_assert_cmpuint (report.pushed, ==, 1);
  g_assert_cmpuint (watch.saw_pushing, ==, 1);
  g_assert_cmpint (tether_record_get_sync_state (record), ==, TETHER_SYNC_STATE_SYNCED);

  g_signal_handlers_disconnect_by_data (record, &watch);

  /* Record 9, alone on the last page, is deleted there: the pages before
   * it are 304s, and the records they held (known from the last listing)
   * stay; record 9 goes. */
  {
    g_autoptr(GError) error = NULL;
    g_autoptr(JsonNode) gone = NULL;
    guint status = 0;

    gone = tether_test_json_server_request (server, "DELETE", "/records/9", NULL, &status, &error);
    g_assert_no_error (error);
    g_assert_cmpuint (status, ==, 200);
  }

  not_modified = tether_remote_get_not_modified_count (client->remote);
  client_sync_ok (client, &report);
  g_assert_cmpuint (report.deleted, ==, 1);
  g_assert_cmpuint (tether_remote_get_not_modified_count (client->remote) - not_modified, >=, 3);
  g_assert_cmpuint (g_list_model_get_n_items (G_LIST_MODEL (client_collection (client))), ==, 8);
  g_assert_null (client_find_title (client, "Record 9"));
  g_assert_nonnull (client_find_title (client, "Record 1"));
  g_assert_cmpint (tether_record_get_sync_state (record), ==, TETHER_SYNC_STATE_SYNCED);
}

/* Two computers edit different fields of one record: after two syncs
 * each, both edits are everywhere. */
static void
test_sync_two_clients_merge (void)
{
  g_autoptr(TetherTestJsonServer) server = start_json_server ("{\"records\": [{\"id\": 1, \"title\": \"Plan\", \"place\": \"Here\", \"count\": 1}]}");
  const char *url = tether_test_json_server_get_url (server);
  g_autoptr(Client) one = client_new (url, TETHER_CONFLICT_POLICY_ASK);
  g_autoptr(Client) two = client_new (url, TETHER_CONFLICT_POLICY_ASK);
  g_autoptr(JsonArray) records = NULL;
  TetherSyncReport report;
  TetherRecord *r1, *r2;
  JsonObject *object;

  client_sync_ok (one, &report);
  client_sync_ok (two, &report);
  r1 = client_find_title (one, "Plan");
  r2 = client_find_title (two, "Plan");

  tether_record_set_string (r1, "place", "There");
  tether_record_set_attribute (r2, "count", json_node_init_int (json_node_alloc (), 2));

  client_sync_ok (one, &report);
  client_sync_ok (two, &report);
  g_assert_cmpuint (report.conflicts, ==, 0);
  client_sync_ok (one, &report);
  client_sync_ok (two, &report);

  for (guint i = 0; i < 2; i++)
    {
      TetherRecord *r = i == 0 ? r1 : r2;

      g_assert_cmpint (tether_record_get_sync_state (r), ==, TETHER_SYNC_STATE_SYNCED);
      g_assert_cmpstr (json_node_get_string (tether_record_get_attribute (r, "place")), ==, "There");
      g_assert_cmpint (json_node_get_int (tether_record_get_attribute (r, "count")), ==, 2);
    }

  records = tether_test_json_server_dup_collection (server, "records");
  object = json_array_get_object_element (records, 0);
  g_assert_cmpstr (json_object_get_string_member (object, "place"), ==, "There");
  g_assert_cmpint (json_object_get_int_member (object, "count"), ==, 2);
}

/* The same field on both sides, under each policy. */
static void
run_conflict (TetherConflictPolicy  policy,
              const char           *expect_local,
              const char           *expect_server,
              TetherSyncState       expect_state)
{
  g_autoptr(TetherTestJsonServer) server = start_json_server ("{\"records\": [{\"id\": 1, \"title\": \"Base\", \"other\": \"x\"}]}");
  g_autoptr(Client) client = client_new (tether_test_json_server_get_url (server), policy);
  g_autoptr(JsonNode) reply = NULL;
  g_autoptr(JsonArray) records = NULL;
  g_autoptr(GError) error = NULL;
  TetherSyncReport report;
  TetherRecord *record;
  JsonObject *conflict;
  guint status = 0;

  client_sync_ok (client, &report);
  record = client_find_title (client, "Base");
  g_assert_nonnull (record);

  tether_record_set_string (record, "title", "Mine");
  reply = tether_test_json_server_request (server, "PATCH", "/records/1",
                                           "{\"title\": \"Theirs\", \"other\": \"y\"}",
                                           &status, &error);
  g_assert_no_error (error);
  g_assert_cmpuint (status, ==, 200);

  client_sync_ok (client, &report);
  g_assert_cmpint (tether_record_get_sync_state (record), ==, expect_state);
  g_assert_cmpstr (tether_record_get_title (record), ==, expect_local);
  /* The field changed on the server only is taken whatever the policy. */
  g_assert_cmpstr (json_node_get_string (tether_record_get_attribute (record, "other")), ==, "y");

  records = tether_test_json_server_dup_collection (server, "records");
  g_assert_cmpstr (json_object_get_string_member (json_array_get_object_element (records, 0), "title"),
                   ==, expect_server);

  if (expect_state != TETHER_SYNC_STATE_CONFLICT)
    {
      g_assert_null (tether_record_get_conflict (record));
      return;
    }

  /* Ask: both values are kept, nothing is pushed until the user says. */
  g_assert_cmpuint (report.conflicts, ==, 1);
  conflict = tether_record_get_conflict (record);
  g_assert_nonnull (conflict);
  g_assert_true (json_object_has_member (conflict, "title"));
  g_assert_false (json_object_has_member (conflict, "other"));
  g_assert_cmpstr (json_object_get_string_member (json_object_get_object_member (conflict, "title"), "theirs"),
                   ==, "Theirs");

  client_sync_ok (client, &report);
  g_assert_cmpint (tether_record_get_sync_state (record), ==, TETHER_SYNC_STATE_CONFLICT);
  g_clear_pointer (&records, json_array_unref);
  records = tether_test_json_server_dup_collection (server, "records");
  g_assert_cmpstr (json_object_get_string_member (json_array_get_object_element (records, 0), "title"), ==, "Theirs");

  /* Keep mine: pending, then pushed. */
  tether_sync_resolve (client->sync, record, "title", TRUE);
  g_assert_cmpint (tether_record_get_sync_state (record), ==, TETHER_SYNC_STATE_PENDING);
  g_assert_null (tether_record_get_conflict (record));
  client_sync_ok (client, &report);
  g_assert_cmpint (tether_record_get_sync_state (record), ==, TETHER_SYNC_STATE_SYNCED);
  g_clear_pointer (&records, json_array_unref);
  records = tether_test_json_server_dup_collection (server, "records");
  g_assert_cmpstr (json_object_get_string_member (json_array_get_object_element (records, 0), "title"), ==, "Mine");
}

static void
test_sync_conflict_ask (void)
{
  run_conflict (TETHER_CONFLICT_POLICY_ASK, "Mine", "Theirs", TETHER_SYNC_STATE_CONFLICT);
}

static void
test_sync_conflict_local_wins (void)
{
  run_conflict (TETHER_CONFLICT_POLICY_LOCAL_WINS, "Mine", "Mine", TETHER_SYNC_STATE_SYNCED);
}

static void
test_sync_conflict_server_wins (void)
{
  run_conflict (TETHER_CONFLICT_POLICY_SERVER_WINS, "Theirs", "Theirs", TETHER_SYNC_STATE_SYNCED);
}

static void
test_sync_resolve_theirs (void)
{
  g_autoptr(TetherTestJsonServer) server = start_json_server ("{\"records\": [{\"id\": 1, \"title\": \"Base\"}]}");
  g_autoptr(Client) client = client_new (tether_test_json_server_get_url (server), TETHER_CONFLICT_POLICY_ASK);
  g_autoptr(JsonNode) reply = NULL;
  g_autoptr(GError) error = NULL;
  TetherSyncReport report;
  TetherRecord *record;
  guint status = 0;

  client_sync_ok (client, &report);
  record = client_find_title (client, "Base");
  tether_record_set_string (record, "title", "Mine");
  reply = tether_test_json_server_request (server, "PATCH", "/records/1", "{\"title\": \"Theirs\"}", &status, &error);
  g_assert_no_error (error);
  client_sync_ok (client, &report);
  g_assert_cmpint (tether_record_get_sync_state (record), ==, TETHER_SYNC_STATE_CONFLICT);

  tether_sync_resolve (client->sync, record, NULL, FALSE);
  g_assert_cmpstr (tether_record_get_title (record), ==, "Theirs");
  g_assert_cmpint (tether_record_get_sync_state (record), ==, TETHER_SYNC_STATE_SYNCED);
  g_assert_null (tether_record_get_conflict (record));
}

/* Changed here, deleted there: under "ask" a conflict, not a loss. */
static void
test_sync_deleted_on_server_changed_here (void)
{
  g_autoptr(TetherTestJsonServer) server = start_json_server ("{\"records\": [{\"id\": 1, \"title\": \"Doomed\"}]}");
  g_autoptr(Client) client = client_new (tether_test_json_server_get_url (server), TETHER_CONFLICT_POLICY_ASK);
  g_autoptr(JsonNode) reply = NULL;
  g_autoptr(JsonArray) records = NULL;
  g_autoptr(GError) error = NULL;
  TetherSyncReport report;
  TetherRecord *record;
  guint status = 0;

  client_sync_ok (client, &report);
  record = client_find_title (client, "Doomed");
  tether_record_set_string (record, "title", "Saved");
  reply = tether_test_json_server_request (server, "DELETE", "/records/1", NULL, &status, &error);
  g_assert_no_error (error);

  client_sync_ok (client, &report);
  g_assert_cmpint (tether_record_get_sync_state (record), ==, TETHER_SYNC_STATE_CONFLICT);
  g_assert_cmpstr (tether_record_get_title (record), ==, "Saved");
  g_assert_null (tether_record_get_id (record));
  g_assert_nonnull (tether_record_get_error_message (record));

  /* Keeping mine creates it again. */
  tether_sync_resolve (client->sync, record, NULL, TRUE);
  g_assert_cmpint (tether_record_get_sync_state (record), ==, TETHER_SYNC_STATE_PENDING);
  client_sync_ok (client, &report);
  records = tether_test_json_server_dup_collection (server, "records");
  g_assert_cmpuint (json_array_get_length (records), ==, 1);
  g_assert_nonnull (find_object (records, "title", "Saved"));
}

static void
test_sync_offline (void)
{
  g_autoptr(TetherTestJsonServer) server = start_json_server (NULL);
  g_autofree char *url = g_strdup (tether_test_json_server_get_url (server));
  g_autoptr(Client) client = NULL;
  g_autoptr(GError) error = NULL;
  TetherSyncReport report;
  TetherRecord *record;

  /* The server goes away; the port is closed. */
  tether_test_json_server_stop (server);
  client = client_new (url, TETHER_CONFLICT_POLICY_ASK);
  record = client_add (client, "On the train");

  g_assert_false (client_sync_flags (client, TETHER_SYNC_FLAGS_ALL, &report, &error));
  g_assert_error (error, TETHER_REMOTE_ERROR, TETHER_REMOTE_ERROR_OFFLINE);
  g_assert_cmpint (tether_record_get_sync_state (record), ==, TETHER_SYNC_STATE_PENDING);
  g_assert_null (tether_record_get_id (record));
  g_assert_false (tether_sync_get_running (client->sync));
}

/* The network goes between the pull and the push: the push stops with
 * the error and keeps everything. */
static void
test_sync_push_offline (void)
{
  g_autoptr(TetherTestJsonServer) server = start_json_server (NULL);
  g_autofree char *url = g_strdup (tether_test_json_server_get_url (server));
  g_autoptr(Client) client = NULL;
  g_autoptr(GError) error = NULL;
  TetherSyncReport report;
  TetherRecord *record;

  tether_test_json_server_stop (server);
  client = client_new (url, TETHER_CONFLICT_POLICY_ASK);
  record = client_add (client, "Not yet");

  g_assert_false (client_sync_flags (client, TETHER_SYNC_FLAGS_PUSH, &report, &error));
  g_assert_error (error, TETHER_REMOTE_ERROR, TETHER_REMOTE_ERROR_OFFLINE);
  g_assert_cmpint (tether_record_get_sync_state (record), ==, TETHER_SYNC_STATE_PENDING);
  g_assert_false (tether_sync_get_running (client->sync));
}

static void
test_sync_join (void)
{
  g_autoptr(TetherTestJsonServer) server = start_json_server (NULL);
  g_autoptr(Client) client = client_new (tether_test_json_server_get_url (server), TETHER_CONFLICT_POLICY_ASK);
  g_autoptr(GAsyncResult) first = NULL;
  g_autoptr(GAsyncResult) second = NULL;
  g_autoptr(GError) error = NULL;
  g_autoptr(JsonArray) records = NULL;
  guint finished = 0;

  client_add (client, "Once");
  g_signal_connect_swapped (client->sync, "finished", G_CALLBACK (count_cb), &finished);

  tether_sync_run_async (client->sync, TETHER_SYNC_FLAGS_ALL, NULL, tether_test_async_result_cb, &first);
  g_assert_true (tether_sync_get_running (client->sync));
  tether_sync_run_async (client->sync, TETHER_SYNC_FLAGS_ALL, NULL, tether_test_async_result_cb, &second);
  tether_test_wait_for_result (&first);
  tether_test_wait_for_result (&second);

  g_assert_true (tether_sync_run_finish (client->sync, first, NULL, &error));
  g_assert_no_error (error);
  g_assert_true (tether_sync_run_finish (client->sync, second, NULL, &error));
  g_assert_no_error (error);
  g_assert_cmpuint (finished, ==, 1);

  records = tether_test_json_server_dup_collection (server, "records");
  g_assert_cmpuint (json_array_get_length (records), ==, 1);
}

/*
 * Against the misbehaving SoupServer
 */

typedef struct
{
  TetherTestSoupServer *server;
  Client               *client;
} Faulty;

static void
faulty_setup (Faulty        *fixture,
              gconstpointer  data)
{
  fixture->server = tether_test_soup_server_new ();
  fixture->client = client_new (tether_test_soup_server_get_url (fixture->server),
                                TETHER_CONFLICT_POLICY_ASK);
}

static void
faulty_teardown (Faulty        *fixture,
                 gconstpointer  data)
{
  g_clear_pointer (&fixture->client, client_free);
  g_clear_pointer (&fixture->server, tether_test_soup_server_free);
}

static void
push_fault (Faulty                *fixture,
            const TetherTestFault *fault)
{
  tether_test_soup_server_push_fault (fixture->server, fault);
}

/* The server creates the record and the connection drops before the
 * reply: after the sync, exactly one server record, and ours has its id. */
static void
test_fault_create_reply_lost (Faulty        *fixture,
                              gconstpointer  data)
{
  TetherRecord *record = client_add (fixture->client, "Exactly once");
  TetherSyncReport report;

  push_fault (fixture, &(TetherTestFault) { .kind = TETHER_TEST_FAULT_DROP, .method = "POST", .times = 1 });

  client_sync_ok (fixture->client, &report);
  g_assert_cmpuint (tether_test_soup_server_get_n_records (fixture->server), ==, 1);
  g_assert_nonnull (tether_record_get_id (record));
  g_assert_cmpint (tether_record_get_sync_state (record), ==, TETHER_SYNC_STATE_SYNCED);

  /* And again later: still one. */
  client_sync_ok (fixture->client, &report);
  g_assert_cmpuint (tether_test_soup_server_get_n_records (fixture->server), ==, 1);
}

static void
test_fault_create_without_id (Faulty        *fixture,
                              gconstpointer  data)
{
  TetherRecord *record = client_add (fixture->client, "No id in reply");
  TetherSyncReport report;

  push_fault (fixture, &(TetherTestFault) { .kind = TETHER_TEST_FAULT_NO_ID, .method = "POST", .times = 1 });

  client_sync_ok (fixture->client, &report);
  g_assert_cmpuint (tether_test_soup_server_get_n_records (fixture->server), ==, 1);
  g_assert_nonnull (tether_record_get_id (record));
  g_assert_cmpint (tether_record_get_sync_state (record), ==, TETHER_SYNC_STATE_SYNCED);
}

static void
test_fault_500_then_success (Faulty        *fixture,
                             gconstpointer  data)
{
  TetherRecord *record = client_add (fixture->client, "Retry me");
  TetherSyncReport report;

  push_fault (fixture, &(TetherTestFault) { .kind = TETHER_TEST_FAULT_STATUS, .method = "POST", .status = 500, .times = 1 });

  client_sync_ok (fixture->client, &report);
  g_assert_cmpuint (report.pushed, ==, 1);
  g_assert_cmpuint (report.errors, ==, 0);
  g_assert_cmpint (tether_record_get_sync_state (record), ==, TETHER_SYNC_STATE_SYNCED);
  g_assert_cmpuint (tether_test_soup_server_get_n_records (fixture->server), ==, 1);
}

static void
test_fault_503_retry_after (Faulty        *fixture,
                            gconstpointer  data)
{
  TetherRecord *record = client_add (fixture->client, "Later");
  TetherSyncReport report;
  gint64 start;

  push_fault (fixture, &(TetherTestFault) { .kind = TETHER_TEST_FAULT_STATUS, .method = "POST", .status = 503,
                                            .retry_after = "1", .times = 1 });

  start = g_get_monotonic_time ();
  client_sync_ok (fixture->client, &report);

  /* Retry-After was honoured: a second passed before the retry. */
  g_assert_cmpint (g_get_monotonic_time () - start, >=, G_USEC_PER_SEC * 9 / 10);
  g_assert_cmpint (tether_record_get_sync_state (record), ==, TETHER_SYNC_STATE_SYNCED);
  g_assert_cmpuint (tether_test_soup_server_get_n_records (fixture->server), ==, 1);
}

static void
test_fault_timeout (Faulty        *fixture,
                    gconstpointer  data)
{
  TetherRecord *record = client_add (fixture->client, "Slow");
  TetherSyncReport report;
  g_autoptr(GError) error = NULL;

  /* Set before the first request: libsoup gives a connection its
   * timeout when it opens it, and the PATCH reuses the GET's. */
  tether_remote_set_timeout (fixture->client->remote, 1);
  client_sync_ok (fixture->client, &report);
  tether_record_set_string (record, "title", "Slower");

  /* The server applies the update but answers too late: the sync pulls
   * again rather than guess, and finds the update there. */
  push_fault (fixture, &(TetherTestFault) { .kind = TETHER_TEST_FAULT_DELAY, .method = "PATCH", .delay_ms = 2500, .times = 1 });
  g_assert_true (client_sync_flags (fixture->client, TETHER_SYNC_FLAGS_ALL, &report, &error));
  g_assert_no_error (error);
  g_assert_cmpuint (report.errors, ==, 0);
  g_assert_cmpint (tether_record_get_sync_state (record), ==, TETHER_SYNC_STATE_SYNCED);

  /* It never reaches the server: not lost, not in error, pending with
   * the reason shown, after the retries. */
  tether_record_set_string (record, "title", "Slowest");
  push_fault (fixture, &(TetherTestFault) { .kind = TETHER_TEST_FAULT_DROP_UNPROCESSED, .method = "PATCH", .times = 10 });
  g_assert_true (client_sync_flags (fixture->client, TETHER_SYNC_FLAGS_ALL, &report, &error));
  g_assert_no_error (error);
  g_assert_cmpuint (report.errors, ==, 1);
  g_assert_cmpint (tether_record_get_sync_state (record), ==, TETHER_SYNC_STATE_PENDING);
  g_assert_nonnull (tether_record_get_error_message (record));
  g_assert_cmpstr (tether_record_get_title (record), ==, "Slowest");
  tether_test_soup_server_clear_faults (fixture->server);
}

static void
check_bad_list (Faulty              *fixture,
                TetherTestFaultKind  kind)
{
  g_autoptr(GError) error = NULL;
  TetherSyncReport report;
  TetherRecord *record;

  tether_test_soup_server_set_records (fixture->server, "[{\"id\": 1, \"title\": \"One\"}]");
  client_sync_ok (fixture->client, &report);
  record = client_find_title (fixture->client, "One");
  g_assert_nonnull (record);
  tether_record_set_string (record, "title", "Local edit");

  push_fault (fixture, &(TetherTestFault) { .kind = kind, .method = "GET", .times = 1 });
  g_assert_false (client_sync_flags (fixture->client, TETHER_SYNC_FLAGS_ALL, &report, &error));
  g_assert_error (error, TETHER_REMOTE_ERROR, TETHER_REMOTE_ERROR_PROTOCOL);

  /* A bad reply changes nothing here, and nothing was pushed. */
  g_assert_cmpuint (g_list_model_get_n_items (G_LIST_MODEL (client_collection (fixture->client))), ==, 1);
  g_assert_cmpint (tether_record_get_sync_state (record), ==, TETHER_SYNC_STATE_PENDING);
  g_assert_cmpstr (tether_record_get_title (record), ==, "Local edit");
}

static void
test_fault_malformed_list (Faulty        *fixture,
                           gconstpointer  data)
{
  check_bad_list (fixture, TETHER_TEST_FAULT_MALFORMED_JSON);
}

static void
test_fault_list_not_array (Faulty        *fixture,
                           gconstpointer  data)
{
  check_bad_list (fixture, TETHER_TEST_FAULT_NOT_ARRAY);
}

static void
test_fault_huge_reply (Faulty        *fixture,
                       gconstpointer  data)
{
  g_autoptr(GError) error = NULL;
  TetherSyncReport report;

  tether_remote_set_max_reply_size (fixture->client->remote, 64 * 1024);
  push_fault (fixture, &(TetherTestFault) { .kind = TETHER_TEST_FAULT_HUGE_BODY, .method = "GET",
                                            .size = 1024 * 1024, .times = 1 });

  g_assert_false (client_sync_flags (fixture->client, TETHER_SYNC_FLAGS_ALL, &report, &error));
  g_assert_error (error, TETHER_REMOTE_ERROR, TETHER_REMOTE_ERROR_PROTOCOL);
  g_assert_cmpuint (g_list_model_get_n_items (G_LIST_MODEL (client_collection (fixture->client))), ==, 0);
}

/* A server id with "/" and ".." is one path segment, always. */
static void
test_fault_hostile_id (Faulty        *fixture,
                       gconstpointer  data)
{
  g_autoptr(TetherTestRequest) request = NULL;
  TetherRecord *record = client_add (fixture->client, "Odd id");
  TetherSyncReport report;

  push_fault (fixture, &(TetherTestFault) { .kind = TETHER_TEST_FAULT_SET_ID, .method = "POST",
                                            .id_json = "\"../admin/x y%\"", .times = 1 });
  client_sync_ok (fixture->client, &report);
  g_assert_cmpstr (json_node_get_string (tether_record_get_id (record)), ==, "../admin/x y%");

  tether_record_set_string (record, "title", "Still odd");
  tether_test_soup_server_clear_requests (fixture->server);
  client_sync_ok (fixture->client, &report);

  request = tether_test_soup_server_dup_last_request (fixture->server);
  g_assert_cmpstr (request->method, ==, "PATCH");
  g_assert_cmpstr (request->path, ==, "/records/..%2Fadmin%2Fx%20y%25");
  g_assert_cmpint (tether_record_get_sync_state (record), ==, TETHER_SYNC_STATE_SYNCED);
}

static void
test_fault_auth (Faulty        *fixture,
                 gconstpointer  data)
{
  static const char secret[] = "s3cr3t-never-printed";
  g_autoptr(GError) error = NULL;
  TetherSyncReport report;
  TetherRecord *record = client_add (fixture->client, "Private");

  tether_account_set_auth_kind (fixture->client->account, TETHER_AUTH_KIND_BEARER);
  tether_remote_set_secret (fixture->client->remote, secret);
  tether_test_soup_server_set_required_authorization (fixture->server, "Bearer something-else");

  g_assert_false (client_sync_flags (fixture->client, TETHER_SYNC_FLAGS_ALL, &report, &error));
  g_assert_error (error, TETHER_REMOTE_ERROR, TETHER_REMOTE_ERROR_AUTH);
  g_assert_null (strstr (error->message, secret));
  g_assert_cmpint (tether_record_get_sync_state (record), ==, TETHER_SYNC_STATE_PENDING);
  g_assert_cmpuint (tether_test_soup_server_get_n_records (fixture->server), ==, 0);
}

static void
test_fault_precondition (Faulty        *fixture,
                         gconstpointer  data)
{
  TetherRecord *record = client_add (fixture->client, "Versioned");
  TetherSyncReport report;

  client_sync_ok (fixture->client, &report);
  tether_record_set_string (record, "title", "New");

  /* Someone else changed it between our pull and our push. */
  push_fault (fixture, &(TetherTestFault) { .kind = TETHER_TEST_FAULT_STATUS, .method = "PATCH", .status = 412, .times = 1 });
  client_sync_ok (fixture->client, &report);

  g_assert_cmpint (tether_record_get_sync_state (record), ==, TETHER_SYNC_STATE_SYNCED);
  g_assert_cmpuint (report.pushed, ==, 1);
}

static void
test_fault_permanent (Faulty        *fixture,
                      gconstpointer  data)
{
  TetherRecord *bad = client_add (fixture->client, "Rejected");
  TetherSyncReport report;
  g_autoptr(GError) error = NULL;

  client_add (fixture->client, "Accepted");
  /* One request at a time, so that the fault meets the first record. */
  tether_account_set_push_concurrency (fixture->client->account, 1);
  push_fault (fixture, &(TetherTestFault) { .kind = TETHER_TEST_FAULT_STATUS, .method = "POST", .status = 422,
                                            .body = "{\"error\": \"title is too short\"}", .times = 1 });

  g_assert_true (client_sync_flags (fixture->client, TETHER_SYNC_FLAGS_ALL, &report, &error));
  g_assert_cmpuint (report.errors, ==, 1);
  g_assert_cmpuint (report.pushed, ==, 1);
  g_assert_cmpint (tether_record_get_sync_state (bad), ==, TETHER_SYNC_STATE_ERROR);
  g_assert_nonnull (strstr (tether_record_get_error_message (bad), "title is too short"));
  g_assert_cmpuint (tether_test_soup_server_get_n_records (fixture->server), ==, 1);

  /* An edit makes it pending; the server takes it this time. */
  tether_record_set_string (bad, "title", "Rejected no more");
  g_assert_cmpint (tether_record_get_sync_state (bad), ==, TETHER_SYNC_STATE_PENDING);
  client_sync_ok (fixture->client, &report);
  g_assert_cmpint (tether_record_get_sync_state (bad), ==, TETHER_SYNC_STATE_SYNCED);
  g_assert_null (tether_record_get_error_message (bad));
}

/* An edit made while the record's push is in flight stays pending. */
static void
test_fault_edit_during_push (Faulty        *fixture,
                             gconstpointer  data)
{
  g_autoptr(GAsyncResult) result = NULL;
  g_autoptr(GError) error = NULL;
  TetherRecord *record = client_add (fixture->client, "First");
  TetherSyncReport report;

  push_fault (fixture, &(TetherTestFault) { .kind = TETHER_TEST_FAULT_DELAY, .method = "POST", .delay_ms = 300, .times = 1 });
  tether_sync_run_async (fixture->client->sync, TETHER_SYNC_FLAGS_ALL, NULL, tether_test_async_result_cb, &result);

  while (tether_record_get_sync_state (record) != TETHER_SYNC_STATE_PUSHING)
    g_main_context_iteration (NULL, TRUE);
  tether_record_set_string (record, "title", "Second");

  tether_test_wait_for_result (&result);
  g_assert_true (tether_sync_run_finish (fixture->client->sync, result, &report, &error));
  g_assert_no_error (error);

  g_assert_nonnull (tether_record_get_id (record));
  g_assert_cmpint (tether_record_get_sync_state (record), ==, TETHER_SYNC_STATE_PENDING);
  g_assert_cmpstr (tether_record_get_title (record), ==, "Second");

  client_sync_ok (fixture->client, &report);
  g_assert_cmpint (tether_record_get_sync_state (record), ==, TETHER_SYNC_STATE_SYNCED);
  g_assert_cmpuint (tether_test_soup_server_get_n_records (fixture->server), ==, 1);
}

/* The server applies an update and the reply is lost; the user removes
 * the field the update added before the sync hears of it. The server's
 * value is this client's own (the record wrote down what it sent before
 * the request went out), so the removal stands and reaches the server. */
static void
test_fault_update_reply_lost (Faulty        *fixture,
                              gconstpointer  data)
{
  g_autoptr(GAsyncResult) result = NULL;
  g_autoptr(GError) error = NULL;
  g_autoptr(JsonObject) on_server = NULL;
  g_autofree char *journal_path = g_build_filename (fixture->client->dir, "journal.jsonl", NULL);
  g_autofree char *journal = NULL;
  g_autofree char *id = NULL;
  TetherRecord *record = client_add (fixture->client, "Note taker");
  TetherSyncReport report;

  client_sync_ok (fixture->client, &report);
  g_assert_cmpint (tether_record_get_sync_state (record), ==, TETHER_SYNC_STATE_SYNCED);
  g_assert_null (tether_record_get_sent (record));

  tether_record_set_string (record, "note", "written on the train");
  push_fault (fixture, &(TetherTestFault) { .kind = TETHER_TEST_FAULT_DROP, .method = "PATCH", .times = 1 });
  tether_sync_run_async (fixture->client->sync, TETHER_SYNC_FLAGS_ALL, NULL, tether_test_async_result_cb, &result);

  while (tether_record_get_sync_state (record) != TETHER_SYNC_STATE_PUSHING)
    g_main_context_iteration (NULL, TRUE);

  /* On disk before the request went out. */
  g_assert_true (g_file_get_contents (journal_path, &journal, NULL, &error));
  g_assert_no_error (error);
  g_assert_nonnull (strstr (journal, "\"sent\":{"));
  g_assert_nonnull (strstr (journal, "\"note\":\"written on the train\"}"));
  g_assert_cmpstr (json_object_get_string_member (tether_record_get_sent (record), "note"), ==,
                   "written on the train");

  tether_record_unset_attribute (record, "note");

  tether_test_wait_for_result (&result);
  g_assert_true (tether_sync_run_finish (fixture->client->sync, result, &report, &error));
  g_assert_no_error (error);
  g_assert_false (tether_record_has_attribute (record, "note"));
  g_assert_null (tether_record_get_conflict (record));

  client_sync_ok (fixture->client, &report);
  g_assert_cmpint (tether_record_get_sync_state (record), ==, TETHER_SYNC_STATE_SYNCED);
  g_assert_false (tether_record_has_attribute (record, "note"));
  g_assert_null (tether_record_get_sent (record));
  id = tether_record_dup_id_string (record);
  on_server = tether_test_soup_server_dup_record (fixture->server, id);
  g_assert_nonnull (on_server);
  g_assert_false (json_object_has_member (on_server, "note"));
}

/* Another client deletes a record while this one lists the collection
 * page by page: the pages after it move up by one, and the record that
 * moved from the second page onto the first is in neither. It is not
 * taken for deleted: the sync sees the collection's size change between
 * pages and lists again. */
static void
test_fault_listing_moves (Faulty        *fixture,
                          gconstpointer  data)
{
  g_autoptr(GAsyncResult) result = NULL;
  g_autoptr(GError) error = NULL;
  TetherCollection *collection = client_collection (fixture->client);
  TetherSyncReport report;
  guint requests;

  tether_account_set_page_size (fixture->client->account, 2);
  tether_test_soup_server_set_records (fixture->server,
                                       "[{\"id\":1,\"title\":\"One\"},{\"id\":2,\"title\":\"Two\"},"
                                       "{\"id\":3,\"title\":\"Three\"},{\"id\":4,\"title\":\"Four\"},"
                                       "{\"id\":5,\"title\":\"Five\"}]");
  client_sync_ok (fixture->client, &report);
  g_assert_cmpuint (g_list_model_get_n_items (G_LIST_MODEL (collection)), ==, 5);

  /* The first page is made, then held back while record 1 goes. */
  push_fault (fixture, &(TetherTestFault) { .kind = TETHER_TEST_FAULT_DELAY, .method = "GET", .delay_ms = 300, .times = 1 });
  requests = tether_test_soup_server_get_n_requests (fixture->server);
  tether_sync_run_async (fixture->client->sync, TETHER_SYNC_FLAGS_ALL, NULL, tether_test_async_result_cb, &result);
  while (tether_test_soup_server_get_n_requests (fixture->server) == requests)
    g_main_context_iteration (NULL, TRUE);
  tether_test_soup_server_set_records (fixture->server,
                                       "[{\"id\":2,\"title\":\"Two\"},{\"id\":3,\"title\":\"Three\"},"
                                       "{\"id\":4,\"title\":\"Four\"},{\"id\":5,\"title\":\"Five\"}]");

  tether_test_wait_for_result (&result);
  g_assert_true (tether_sync_run_finish (fixture->client->sync, result, &report, &error));
  g_assert_no_error (error);

  for (gint64 id = 2; id <= 5; id++)
    {
      g_autoptr(JsonNode) node = json_node_init_int (json_node_alloc (), id);

      g_assert_nonnull (tether_collection_lookup_id (collection, node));
    }
  g_assert_cmpuint (g_list_model_get_n_items (G_LIST_MODEL (collection)), ==, 4);
  g_assert_cmpuint (report.deleted, ==, 1);
}

int
main (int   argc,
      char *argv[])
{
  tether_test_init (&argc, &argv);

  g_test_add_func ("/sync/json-server/offline-create", test_sync_offline_create);
  g_test_add_func ("/sync/json-server/update-patch-and-put", test_sync_update_patch_and_put);
  g_test_add_func ("/sync/json-server/deletes-both-ways", test_sync_deletes_both_ways);
  g_test_add_func ("/sync/json-server/pagination-and-idle", test_sync_pagination_and_idle);
  g_test_add_func ("/sync/json-server/two-clients-merge", test_sync_two_clients_merge);
  g_test_add_func ("/sync/json-server/conflict-ask", test_sync_conflict_ask);
  g_test_add_func ("/sync/json-server/conflict-local-wins", test_sync_conflict_local_wins);
  g_test_add_func ("/sync/json-server/conflict-server-wins", test_sync_conflict_server_wins);
  g_test_add_func ("/sync/json-server/resolve-theirs", test_sync_resolve_theirs);
  g_test_add_func ("/sync/json-server/deleted-there-changed-here", test_sync_deleted_on_server_changed_here);
  g_test_add_func ("/sync/json-server/offline", test_sync_offline);
  g_test_add_func ("/sync/json-server/push-offline", test_sync_push_offline);
  g_test_add_func ("/sync/json-server/join", test_sync_join);

#define FAULT_TEST(path, func) \
  g_test_add ("/sync/faults/" path, Faulty, NULL, faulty_setup, func, faulty_teardown)

  FAULT_TEST ("create-reply-lost", test_fault_create_reply_lost);
  FAULT_TEST ("update-reply-lost", test_fault_update_reply_lost);
  FAULT_TEST ("listing-moves", test_fault_listing_moves);
  FAULT_TEST ("create-without-id", test_fault_create_without_id);
  FAULT_TEST ("500-then-success", test_fault_500_then_success);
  FAULT_TEST ("503-retry-after", test_fault_503_retry_after);
  FAULT_TEST ("timeout", test_fault_timeout);
  FAULT_TEST ("malformed-list", test_fault_malformed_list);
  FAULT_TEST ("list-not-array", test_fault_list_not_array);
  FAULT_TEST ("huge-reply", test_fault_huge_reply);
  FAULT_TEST ("hostile-id", test_fault_hostile_id);
  FAULT_TEST ("auth", test_fault_auth);
  FAULT_TEST ("precondition-failed", test_fault_precondition);
  FAULT_TEST ("permanent-error", test_fault_permanent);
  FAULT_TEST ("edit-during-push", test_fault_edit_during_push);

#undef FAULT_TEST

  return g_test_run ();
}
