/* test-session.c
 *
 * Copyright 2026 The Tether authors
 *
 * SPDX-License-Identifier: GPL-3.0-or-later
 */

#include "config.h"

#include "tether-session.h"
#include "tether-test-util.h"

static TetherSession *
open_session (const char *dir)
{
  g_autoptr(TetherAccount) account = tether_account_new ();
  g_autoptr(GFile) directory = g_file_new_for_path (dir);
  g_autoptr(GError) error = NULL;
  TetherSession *session = tether_session_new (account, directory);

  tether_session_open (session, &error);
  g_assert_no_error (error);

  return session;
}

static void
close_session (TetherSession *session)
{
  g_autoptr(GError) error = NULL;

  g_assert_true (tether_session_close (session, &error));
  g_assert_no_error (error);
  g_assert_finalize_object (session);
}

static void
iterate (void)
{
  while (g_main_context_iteration (NULL, FALSE))
    ;
}

/* Every kind of change made through the collection reaches the store by
 * itself: single edits, bulk edits, adds, deletes and undos. */
static void
test_session_saves_every_change (void)
{
  g_autofree char *dir = g_dir_make_tmp ("tether-session-XXXXXX", NULL);
  g_autoptr(TetherRecord) kept = tether_record_new ();
  g_autoptr(TetherRecord) dropped = tether_record_new ();
  g_autoptr(JsonObject) bulk = json_object_new ();
  g_autofree char *kept_cid = g_strdup (tether_record_get_cid (kept));
  g_autofree char *dropped_cid = g_strdup (tether_record_get_cid (dropped));
  TetherSession *session = open_session (dir);
  TetherCollection *collection = tether_session_get_collection (session);
  TetherRecord *record;

  tether_record_set_string (kept, "title", "Draft");
  tether_record_set_string (kept, "note", "goes away");
  tether_collection_add (collection, kept);
  tether_collection_add (collection, dropped);
  iterate ();

  /* One field at a time, as the editor writes them. */
  tether_record_set_string (kept, "title", "Final");
  tether_record_unset_attribute (kept, "note");
  json_object_set_int_member (bulk, "pages", 3);
  json_object_set_boolean_member (bulk, "done", TRUE);
  tether_record_update (kept, bulk);

  /* Edited and deleted in the same iteration: it must stay deleted. */
  tether_record_set_string (dropped, "title", "Gone");
  tether_collection_delete (collection, dropped);

  close_session (session);

  session = open_session (dir);
  collection = tether_session_get_collection (session);
  g_assert_cmpuint (g_list_model_get_n_items (G_LIST_MODEL (collection)), ==, 1);
  g_assert_null (tether_collection_lookup_cid (collection, dropped_cid));
  record = tether_collection_lookup_cid (collection, kept_cid);
  g_assert_nonnull (record);
  g_assert_cmpstr (tether_record_get_title (record), ==, "Final");
  g_assert_false (tether_record_has_attribute (record, "note"));
  g_assert_cmpint (json_node_get_int (tether_record_get_attribute (record, "pages")), ==, 3);
  g_assert_true (json_node_get_boolean (tether_record_get_attribute (record, "done")));
  g_assert_cmpint (tether_record_get_sync_state (record), ==, TETHER_SYNC_STATE_PENDING);
  close_session (session);
}

static TetherRecord *
add_local (TetherCollection *collection,
           const char       *title)
{
  g_autoptr(TetherRecord) record = tether_record_new ();

  tether_record_set_string (record, "title", title);
  tether_collection_add (collection, record);

  return record;
}

/* Records made without a server move into a server's store as new,
 * pending records, written there before they leave the other store; a
 * record the server has seen stays where it is. */
static void
test_session_adopt_records (void)
{
  g_autofree char *source_dir = g_dir_make_tmp ("tether-session-XXXXXX", NULL);
  g_autofree char *target_dir = g_dir_make_tmp ("tether-session-XXXXXX", NULL);
  g_autoptr(JsonObject) attributes = json_object_new ();
  g_autoptr(JsonNode) id = json_node_init_int (json_node_alloc (), 7);
  g_autoptr(TetherRecord) from_server = NULL;
  g_autoptr(GAsyncResult) result = NULL;
  g_autoptr(GError) error = NULL;
  g_autofree char *milk_cid = NULL;
  g_autofree char *bread_cid = NULL;
  g_autofree char *server_cid = NULL;
  g_autoptr(GDateTime) milk_modified = NULL;
  TetherSession *source = open_session (source_dir);
  TetherSession *target = open_session (target_dir);
  TetherCollection *from = tether_session_get_collection (source);
  TetherCollection *to = tether_session_get_collection (target);
  TetherRecord *milk, *bread, *record;
  guint64 milk_revision;

  milk = add_local (from, "Milk");
  tether_record_set_string (milk, "note", "oat");
  bread = add_local (from, "Bread");
  json_object_set_string_member (attributes, "title", "Seen by a server");
  from_server = tether_record_new_from_server (id, attributes);
  tether_collection_add (from, from_server);
  add_local (to, "Already there");
  iterate ();

  milk_cid = g_strdup (tether_record_get_cid (milk));
  bread_cid = g_strdup (tether_record_get_cid (bread));
  server_cid = g_strdup (tether_record_get_cid (from_server));
  milk_modified = g_date_time_ref (tether_record_get_modified (milk));
  milk_revision = tether_record_get_revision (milk);
  g_assert_cmpuint (tether_session_count_local_only (source), ==, 2);
  g_assert_cmpuint (tether_session_count_local_only (target), ==, 1);

  tether_session_adopt_records_async (target, source, NULL, tether_test_async_result_cb, &result);
  tether_test_wait_for_result (&result);
  g_assert_cmpuint (tether_session_adopt_records_finish (target, result, &error), ==, 2);
  g_assert_no_error (error);
  g_clear_object (&result);

  g_assert_cmpuint (g_list_model_get_n_items (G_LIST_MODEL (from)), ==, 1);
  g_assert_nonnull (tether_collection_lookup_cid (from, server_cid));
  g_assert_cmpuint (g_list_model_get_n_items (G_LIST_MODEL (to)), ==, 3);
  g_assert_cmpuint (tether_session_count_local_only (source), ==, 0);

  g_clear_object (&from_server);
  close_session (source);
  close_session (target);

  /* On disk, both of them. */
  source = open_session (source_dir);
  target = open_session (target_dir);
  from = tether_session_get_collection (source);
  to = tether_session_get_collection (target);
  g_assert_cmpuint (g_list_model_get_n_items (G_LIST_MODEL (from)), ==, 1);
  g_assert_null (tether_collection_lookup_cid (from, milk_cid));
  g_assert_cmpuint (g_list_model_get_n_items (G_LIST_MODEL (to)), ==, 3);

  record = tether_collection_lookup_cid (to, milk_cid);
  g_assert_nonnull (record);
  g_assert_cmpstr (tether_record_get_title (record), ==, "Milk");
  g_assert_cmpstr (json_node_get_string (tether_record_get_attribute (record, "note")), ==, "oat");
  g_assert_cmpint (tether_record_get_sync_state (record), ==, TETHER_SYNC_STATE_PENDING);
  g_assert_null (tether_record_get_id (record));
  g_assert_cmpuint (tether_record_get_revision (record), ==, milk_revision);
  g_assert_true (g_date_time_equal (tether_record_get_modified (record), milk_modified));
  record = tether_collection_lookup_cid (to, bread_cid);
  g_assert_nonnull (record);
  g_assert_cmpint (tether_record_get_sync_state (record), ==, TETHER_SYNC_STATE_PENDING);

  close_session (source);
  close_session (target);
}

/* A move cut short after the records reached the new store: moving again
 * only takes them out of the old one, with no second copy. */
static void
test_session_adopt_records_again (void)
{
  g_autofree char *source_dir = g_dir_make_tmp ("tether-session-XXXXXX", NULL);
  g_autofree char *target_dir = g_dir_make_tmp ("tether-session-XXXXXX", NULL);
  g_autoptr(GAsyncResult) result = NULL;
  g_autoptr(GError) error = NULL;
  g_autoptr(GBytes) line = NULL;
  g_autoptr(TetherRecord) copy = NULL;
  TetherSession *source = open_session (source_dir);
  TetherSession *target = open_session (target_dir);
  TetherRecord *milk;

  milk = add_local (tether_session_get_collection (source), "Milk");
  add_local (tether_session_get_collection (source), "Bread");
  iterate ();

  /* What the first attempt had written before it stopped. */
  line = tether_record_serialize (milk);
  copy = tether_record_new_from_line (line, &error);
  g_assert_no_error (error);
  tether_collection_add (tether_session_get_collection (target), copy);
  iterate ();

  tether_session_adopt_records_async (target, source, NULL, tether_test_async_result_cb, &result);
  tether_test_wait_for_result (&result);
  g_assert_cmpuint (tether_session_adopt_records_finish (target, result, &error), ==, 2);
  g_assert_no_error (error);

  g_assert_cmpuint (g_list_model_get_n_items (G_LIST_MODEL (tether_session_get_collection (source))), ==, 0);
  g_assert_cmpuint (g_list_model_get_n_items (G_LIST_MODEL (tether_session_get_collection (target))), ==, 2);

  g_clear_object (&result);
  g_clear_object (&copy);
  close_session (source);
  close_session (target);
}

int
main (int   argc,
      char *argv[])
{
  tether_test_init (&argc, &argv);

  g_test_add_func ("/session/saves-every-change", test_session_saves_every_change);
  g_test_add_func ("/session/adopt-records", test_session_adopt_records);
  g_test_add_func ("/session/adopt-records-again", test_session_adopt_records_again);

  return g_test_run ();
}
