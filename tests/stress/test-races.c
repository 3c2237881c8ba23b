/* test-races.c
 *
 * Copyright 2026 The Tether authors
 *
 * SPDX-License-Identifier: GPL-3.0-or-later
 */

/* The losses the crash loop and the convergence run found, each made to
 * happen on purpose against the in-process server: an edit or deletion
 * made while a push is in flight, a reply lost after the server applied
 * the request, and a conflict under "ask" meeting a later server change.
 * Each test states what the user must see; they are the regression tests
 * of those bugs.
 */

#include "config.h"

#include <string.h>

#include "stress-common.h"
#include "tether-test-soup-server.h"
#include "tether-test-util.h"

typedef struct
{
  TetherTestSoupServer *server;
  StressClient         *client;
} Fixture;

static void
fixture_setup (Fixture       *fixture,
               gconstpointer  data)
{
  TetherConflictPolicy policy = GPOINTER_TO_INT (data);

  fixture->server = tether_test_soup_server_new ();
  fixture->client = stress_client_new (tether_test_soup_server_get_url (fixture->server), policy, NULL);
  /* One try per request: a lost reply stays lost within the sync. */
  tether_sync_set_retry_delay (fixture->client->sync, 10, 100, 1);
}

static void
fixture_teardown (Fixture       *fixture,
                  gconstpointer  data)
{
  g_clear_pointer (&fixture->client, stress_client_free);
  g_clear_pointer (&fixture->server, tether_test_soup_server_free);
}

static TetherCollection *
collection (Fixture *fixture)
{
  return stress_client_collection (fixture->client);
}

static void
sync_ok (Fixture *fixture)
{
  g_autoptr(GError) error = NULL;
  TetherSyncReport report;

  g_assert_true (stress_client_sync (fixture->client, TETHER_SYNC_FLAGS_ALL, &report, &error));
  g_assert_no_error (error);
}

static void
push_fault (Fixture             *fixture,
            TetherTestFaultKind  kind,
            const char          *method,
            guint                times,
            guint                delay_ms)
{
  tether_test_soup_server_push_fault (fixture->server, &(TetherTestFault) {
                                        .kind = kind,
                                        .method = method,
                                        .times = times,
                                        .delay_ms = delay_ms,
                                        .status = kind == TETHER_TEST_FAULT_STATUS ? 500 : 0,
                                      });
}

static TetherRecord *
add_synced (Fixture    *fixture,
            const char *title)
{
  g_autoptr(TetherRecord) record = tether_record_new ();

  tether_record_set_string (record, "title", title);
  tether_collection_add (collection (fixture), record);
  sync_ok (fixture);
  g_assert_cmpint (tether_record_get_sync_state (record), ==, TETHER_SYNC_STATE_SYNCED);

  return record;
}

static gboolean
is_pushing (gpointer user_data)
{
  return tether_record_get_sync_state (user_data) == TETHER_SYNC_STATE_PUSHING;
}

/* Starts a sync, waits until @record's request is on its way (the server
 * holds the reply back), runs @during, then waits for the sync. */
static void
during_push (Fixture      *fixture,
             TetherRecord *record,
             void        (*during) (Fixture *, TetherRecord *))
{
  g_autoptr(GAsyncResult) result = NULL;
  g_autoptr(GError) error = NULL;

  g_object_ref (record);
  tether_sync_run_async (fixture->client->sync, TETHER_SYNC_FLAGS_ALL, NULL,
                         tether_test_async_result_cb, &result);
  tether_test_wait_until (is_pushing, record);
  during (fixture, record);
  tether_test_wait_for_result (&result);
  tether_sync_run_finish (fixture->client->sync, result, NULL, &error);
  g_assert_no_error (error);
  g_object_unref (record);
}

static void
delete_record (Fixture      *fixture,
               TetherRecord *record)
{
  tether_collection_delete (collection (fixture), record);
}

static guint
n_local (Fixture *fixture)
{
  return g_list_model_get_n_items (G_LIST_MODEL (collection (fixture)));
}

/* Deleted while its create is in flight: the reply must not bring it
 * back, here or from the server. */
static void
test_delete_during_create (Fixture       *fixture,
                           gconstpointer  data)
{
  g_autoptr(TetherRecord) record = tether_record_new ();

  tether_record_set_string (record, "title", "Short-lived");
  tether_collection_add (collection (fixture), record);

  push_fault (fixture, TETHER_TEST_FAULT_DELAY, "POST", 1, 300);
  during_push (fixture, record, delete_record);
  sync_ok (fixture);

  g_assert_null (tether_collection_lookup_cid (collection (fixture), tether_record_get_cid (record)));
  g_assert_cmpuint (n_local (fixture), ==, 0);
  g_assert_cmpuint (tether_test_soup_server_get_n_records (fixture->server), ==, 0);
}

/* Deleted while an update of it is in flight: the reply must not turn
 * the tombstone back into a synced record. */
static void
test_delete_during_update (Fixture       *fixture,
                           gconstpointer  data)
{
  TetherRecord *record = add_synced (fixture, "Doomed");

  tether_record_set_string (record, "title", "Doomed, edited");
  push_fault (fixture, TETHER_TEST_FAULT_DELAY, "PATCH", 1, 300);
  g_object_ref (record);
  during_push (fixture, record, delete_record);

  /* The DELETE went out in the same push. */
  g_assert_cmpint (tether_record_get_sync_state (record), ==, TETHER_SYNC_STATE_DELETED);
  g_assert_null (tether_collection_lookup_cid (collection (fixture), tether_record_get_cid (record)));
  g_object_unref (record);
  sync_ok (fixture);
  g_assert_cmpuint (n_local (fixture), ==, 0);
  g_assert_cmpuint (tether_test_soup_server_get_n_records (fixture->server), ==, 0);
}

/* The server applied an update whose reply was lost; the user then puts
 * the field back as it was. The next sync must not take the lost value
 * for a change made on the server. */
static void
test_lost_update_reply_then_revert (Fixture       *fixture,
                                    gconstpointer  data)
{
  TetherRecord *record = add_synced (fixture, "A");
  g_autoptr(GError) error = NULL;
  g_autoptr(JsonObject) on_server = NULL;
  g_autofree char *id = NULL;
  TetherSyncReport report;

  tether_record_set_string (record, "title", "B");
  push_fault (fixture, TETHER_TEST_FAULT_DROP, "PATCH", 1, 0);
  stress_client_sync (fixture->client, TETHER_SYNC_FLAGS_ALL, &report, &error);
  g_clear_error (&error);
  /* The sync pulled again before giving up on the lost reply: it knows
   * the server took the update. */
  g_assert_cmpint (tether_record_get_sync_state (record), ==, TETHER_SYNC_STATE_SYNCED);

  /* Undo. */
  tether_record_set_string (record, "title", "A");
  sync_ok (fixture);
  sync_ok (fixture);

  g_assert_cmpstr (tether_record_get_title (record), ==, "A");
  id = tether_record_dup_id_string (record);
  on_server = tether_test_soup_server_dup_record (fixture->server, id);
  g_assert_nonnull (on_server);
  if (on_server != NULL)
    g_assert_cmpstr (json_object_get_string_member (on_server, "title"), ==, "A");
}

/* The same lost reply, then a different edit: under "ask" that is not a
 * conflict with anybody but ourselves. */
static void
test_lost_update_reply_then_edit (Fixture       *fixture,
                                  gconstpointer  data)
{
  TetherRecord *record = add_synced (fixture, "A");
  g_autoptr(GError) error = NULL;
  TetherSyncReport report;

  tether_record_set_string (record, "title", "B");
  push_fault (fixture, TETHER_TEST_FAULT_DROP, "PATCH", 1, 0);
  stress_client_sync (fixture->client, TETHER_SYNC_FLAGS_ALL, &report, &error);
  g_clear_error (&error);

  tether_record_set_string (record, "title", "C");
  sync_ok (fixture);

  g_assert_cmpint (tether_record_get_sync_state (record), ==, TETHER_SYNC_STATE_SYNCED);
  g_assert_cmpstr (tether_record_get_title (record), ==, "C");
}

/* The same lost reply, then a deletion: the deletion must go through, not
 * be undone as if somebody else had changed the record. */
static void
test_lost_update_reply_then_delete (Fixture       *fixture,
                                    gconstpointer  data)
{
  TetherRecord *record = add_synced (fixture, "A");
  g_autoptr(GError) error = NULL;
  TetherSyncReport report;

  tether_record_set_string (record, "title", "B");
  push_fault (fixture, TETHER_TEST_FAULT_DROP, "PATCH", 1, 0);
  stress_client_sync (fixture->client, TETHER_SYNC_FLAGS_ALL, &report, &error);
  g_clear_error (&error);

  tether_collection_delete (collection (fixture), record);
  sync_ok (fixture);

  g_assert_cmpuint (n_local (fixture), ==, 0);
  g_assert_cmpuint (tether_test_soup_server_get_n_records (fixture->server), ==, 0);
}

/* A create whose reply was lost, then not found by a pull (the listing
 * failed): the record is edited before the next sync adopts it. The
 * server's copy is our own first version, not a conflict. */
static void
test_lost_create_reply_then_edit (Fixture       *fixture,
                                  gconstpointer  data)
{
  g_autoptr(TetherRecord) record = tether_record_new ();
  g_autoptr(GError) error = NULL;
  g_autoptr(JsonArray) records = NULL;
  TetherSyncReport report;

  tether_record_set_string (record, "title", "First version");
  tether_collection_add (collection (fixture), record);

  /* The first listing passes, the create's reply is lost, and the
   * listing that would find it fails. */
  push_fault (fixture, TETHER_TEST_FAULT_DELAY, "GET", 1, 0);
  push_fault (fixture, TETHER_TEST_FAULT_DROP, "POST", 1, 0);
  push_fault (fixture, TETHER_TEST_FAULT_STATUS, "GET", 10, 0);
  g_assert_false (stress_client_sync (fixture->client, TETHER_SYNC_FLAGS_ALL, &report, &error));
  g_clear_error (&error);
  tether_test_soup_server_clear_faults (fixture->server);
  g_assert_null (tether_record_get_id (record));
  g_assert_cmpuint (tether_test_soup_server_get_n_records (fixture->server), ==, 1);

  tether_record_set_string (record, "title", "Second version");
  sync_ok (fixture);

  g_assert_cmpint (tether_record_get_sync_state (record), ==, TETHER_SYNC_STATE_SYNCED);
  records = tether_test_soup_server_dup_records (fixture->server);
  g_assert_cmpuint (json_array_get_length (records), ==, 1);
  if (json_array_get_length (records) > 0)
    g_assert_cmpstr (json_object_get_string_member (json_array_get_object_element (records, 0), "title"),
                     ==, "Second version");
}

/* The same lost create, then a deletion: the server's copy must go too,
 * not come back as a new record. */
static void
test_lost_create_reply_then_delete (Fixture       *fixture,
                                    gconstpointer  data)
{
  g_autoptr(TetherRecord) record = tether_record_new ();
  g_autoptr(GError) error = NULL;
  TetherSyncReport report;

  tether_record_set_string (record, "title", "Unwanted");
  tether_collection_add (collection (fixture), record);

  /* The first listing passes, the create's reply is lost, and the
   * listing that would find it fails. */
  push_fault (fixture, TETHER_TEST_FAULT_DELAY, "GET", 1, 0);
  push_fault (fixture, TETHER_TEST_FAULT_DROP, "POST", 1, 0);
  push_fault (fixture, TETHER_TEST_FAULT_STATUS, "GET", 10, 0);
  g_assert_false (stress_client_sync (fixture->client, TETHER_SYNC_FLAGS_ALL, &report, &error));
  g_clear_error (&error);
  tether_test_soup_server_clear_faults (fixture->server);
  g_assert_cmpuint (tether_test_soup_server_get_n_records (fixture->server), ==, 1);

  tether_collection_delete (collection (fixture), record);
  sync_ok (fixture);
  sync_ok (fixture);

  g_assert_cmpuint (n_local (fixture), ==, 0);
  g_assert_cmpuint (tether_test_soup_server_get_n_records (fixture->server), ==, 0);
}

/* Edited and put back before a sync: the push has nothing to send, and
 * the sync ends once (it used to end twice: the push step finished
 * synchronously inside the loop that starts the pushes). */
static guint n_finished;

static void
on_finished_cb (TetherSync *sync,
                gpointer    report,
                GError     *error,
                gpointer    user_data)
{
  n_finished++;
}

static void
test_edit_and_revert (Fixture       *fixture,
                      gconstpointer  data)
{
  TetherRecord *record = add_synced (fixture, "A");
  gulong handler;

  tether_record_set_string (record, "title", "B");
  tether_record_set_string (record, "title", "A");
  g_assert_cmpint (tether_record_get_sync_state (record), ==, TETHER_SYNC_STATE_PENDING);

  n_finished = 0;
  handler = g_signal_connect (fixture->client->sync, "finished", G_CALLBACK (on_finished_cb), NULL);
  sync_ok (fixture);

  /* A second end, if any, comes from the main loop after the first. */
  for (guint i = 0; i < 50; i++)
    g_main_context_iteration (NULL, FALSE);
  g_signal_handler_disconnect (fixture->client->sync, handler);

  g_assert_cmpuint (n_finished, ==, 1);
  g_assert_cmpint (tether_record_get_sync_state (record), ==, TETHER_SYNC_STATE_SYNCED);
  sync_ok (fixture);
}

/* Under "ask", a conflict on one field stays a conflict when the server
 * then changes another field: the local value is not pushed until the
 * user resolves it. */
static void
test_ask_conflict_survives_server_change (Fixture       *fixture,
                                          gconstpointer  data)
{
  g_autoptr(GBytes) reply = NULL;
  g_autoptr(GError) error = NULL;
  g_autoptr(JsonObject) on_server = NULL;
  g_autofree char *url = g_strdup_printf ("%s/records/1", tether_test_soup_server_get_url (fixture->server));
  TetherRecord *record;
  guint status;

  tether_test_soup_server_set_records (fixture->server, "[{\"id\": 1, \"title\": \"Base\", \"note\": \"n\"}]");
  sync_ok (fixture);
  record = tether_collection_lookup_ref (collection (fixture), "1");

  tether_record_set_string (record, "title", "Mine");
  reply = tether_test_http_request ("PATCH", url, "{\"title\": \"Theirs\"}", &status, NULL, &error);
  g_assert_no_error (error);
  sync_ok (fixture);
  g_assert_cmpint (tether_record_get_sync_state (record), ==, TETHER_SYNC_STATE_CONFLICT);

  /* Somebody changes another field. */
  g_clear_pointer (&reply, g_bytes_unref);
  reply = tether_test_http_request ("PATCH", url, "{\"note\": \"n2\"}", &status, NULL, &error);
  g_assert_no_error (error);
  sync_ok (fixture);

  g_assert_cmpint (tether_record_get_sync_state (record), ==, TETHER_SYNC_STATE_CONFLICT);
  g_assert_nonnull (tether_record_get_conflict (record));
  if (tether_record_get_conflict (record) != NULL)
    g_assert_true (json_object_has_member (tether_record_get_conflict (record), "title"));
  g_assert_cmpstr (tether_record_get_title (record), ==, "Mine");
  on_server = tether_test_soup_server_dup_record (fixture->server, "1");
  g_assert_nonnull (on_server);
  if (on_server != NULL)
    g_assert_cmpstr (json_object_get_string_member (on_server, "title"), ==, "Theirs");
}

typedef void (*RaceFunc) (Fixture *fixture, gconstpointer data);

typedef struct
{
  RaceFunc             func;
  TetherConflictPolicy policy;
} Race;

/* Each case runs in a process of its own: some of these bugs crash, and
 * the other cases must still say what they found. */
static void
run_race (gconstpointer data)
{
  const Race *race = data;
  Fixture fixture = { 0 };

  if (!g_test_subprocess ())
    {
      g_test_trap_subprocess (NULL, 0, G_TEST_SUBPROCESS_INHERIT_STDOUT | G_TEST_SUBPROCESS_INHERIT_STDERR);
      g_test_trap_assert_passed ();
      return;
    }

  fixture_setup (&fixture, GINT_TO_POINTER (race->policy));
  race->func (&fixture, NULL);
  fixture_teardown (&fixture, NULL);
}

/* The cases live in a static table: a subprocess runs one of them, and
 * data allocated for the others would be reported as leaked. */
static const struct
{
  const char *path;
  Race        race;
} races[] = {
  { "/races/delete-during-create", { test_delete_during_create, TETHER_CONFLICT_POLICY_ASK } },
  { "/races/delete-during-update", { test_delete_during_update, TETHER_CONFLICT_POLICY_ASK } },
  { "/races/lost-update-reply/revert", { test_lost_update_reply_then_revert, TETHER_CONFLICT_POLICY_ASK } },
  { "/races/lost-update-reply/edit", { test_lost_update_reply_then_edit, TETHER_CONFLICT_POLICY_ASK } },
  { "/races/lost-update-reply/delete", { test_lost_update_reply_then_delete, TETHER_CONFLICT_POLICY_ASK } },
  { "/races/lost-create-reply/edit", { test_lost_create_reply_then_edit, TETHER_CONFLICT_POLICY_ASK } },
  { "/races/lost-create-reply/delete", { test_lost_create_reply_then_delete, TETHER_CONFLICT_POLICY_ASK } },
  { "/races/edit-and-revert", { test_edit_and_revert, TETHER_CONFLICT_POLICY_ASK } },
  { "/races/ask-conflict-survives-server-change", { test_ask_conflict_survives_server_change, TETHER_CONFLICT_POLICY_ASK } },
};

int
main (int   argc,
      char *argv[])
{
  tether_test_init (&argc, &argv);
  /* Each case says everything it found. */
  g_test_set_nonfatal_assertions ();

  for (guint i = 0; i < G_N_ELEMENTS (races); i++)
    g_test_add_data_func (races[i].path, &races[i].race, run_race);

  return g_test_run ();
}
