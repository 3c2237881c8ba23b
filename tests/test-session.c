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

int
main (int   argc,
      char *argv[])
{
  tether_test_init (&argc, &argv);

  g_test_add_func ("/session/saves-every-change", test_session_saves_every_change);

  return g_test_run ();
}
