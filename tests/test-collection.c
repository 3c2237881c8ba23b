/* test-collection.c
 *
 * Copyright 2026 The Tether authors
 *
 * SPDX-License-Identifier: GPL-3.0-or-later
 */

#include <string.h>

#include "tether-collection.h"
#include "tether-test-util.h"

/* Everything the collection emits, in order. items-changed also records
 * how many items the model had when it was emitted, to check that the
 * model was already in the state the emission describes. */

typedef struct
{
  TetherCollection *collection;
  GPtrArray        *events;
} Log;

static void
log_items_changed_cb (GListModel *model,
                      guint       position,
                      guint       removed,
                      guint       added,
                      Log        *log)
{
  g_ptr_array_add (log->events,
                   g_strdup_printf ("items-changed(%u,%u,%u)=%u",
                                    position, removed, added,
                                    g_list_model_get_n_items (model)));
}

static void
log_record_added_cb (TetherCollection *collection,
                     TetherRecord     *record,
                     Log              *log)
{
  g_ptr_array_add (log->events, g_strdup_printf ("added:%s", tether_record_get_cid (record)));
}

static void
log_record_removed_cb (TetherCollection *collection,
                       TetherRecord     *record,
                       Log              *log)
{
  g_ptr_array_add (log->events, g_strdup_printf ("removed:%s", tether_record_get_cid (record)));
}

static void
log_record_changed_cb (TetherCollection *collection,
                       TetherRecord     *record,
                       const char       *field,
                       Log              *log)
{
  g_ptr_array_add (log->events,
                   g_strdup_printf ("changed:%s:%s", tether_record_get_cid (record),
                                    field != NULL ? field : "(null)"));
}

static void
log_notify_cb (GObject    *object,
               GParamSpec *pspec,
               Log        *log)
{
  g_ptr_array_add (log->events, g_strdup_printf ("notify:%s", pspec->name));
}

static Log *
log_new (TetherCollection *collection)
{
  Log *log = g_new0 (Log, 1);

  log->collection = collection;
  log->events = g_ptr_array_new_with_free_func (g_free);
  g_signal_connect (collection, "items-changed", G_CALLBACK (log_items_changed_cb), log);
  g_signal_connect (collection, "record-added", G_CALLBACK (log_record_added_cb), log);
  g_signal_connect (collection, "record-removed", G_CALLBACK (log_record_removed_cb), log);
  g_signal_connect (collection, "record-changed", G_CALLBACK (log_record_changed_cb), log);
  /* n-unsynced has its own test. */
  g_signal_connect (collection, "notify::n-items", G_CALLBACK (log_notify_cb), log);
  g_signal_connect (collection, "notify::title-field", G_CALLBACK (log_notify_cb), log);

  return log;
}

static char *
log_take (Log *log)
{
  GString *str = g_string_new (NULL);

  for (guint i = 0; i < log->events->len; i++)
    {
      if (i > 0)
        g_string_append_c (str, ' ');
      g_string_append (str, g_ptr_array_index (log->events, i));
    }

  g_ptr_array_set_size (log->events, 0);

  return g_string_free (str, FALSE);
}

static void
log_free (Log *log)
{
  g_signal_handlers_disconnect_by_data (log->collection, log);
  g_ptr_array_unref (log->events);
  g_free (log);
}

#define assert_events(log, expected) \
  G_STMT_START { \
    g_autofree char *_events = log_take (log); \
    g_assert_cmpstr (_events, ==, expected); \
  } G_STMT_END

static TetherRecord *
record_new (const char *cid,
            const char *title)
{
  TetherRecord *record = g_object_new (TETHER_TYPE_RECORD, "cid", cid, NULL);

  if (title != NULL)
    tether_record_set_string (record, "title", title);

  return record;
}

static TetherRecord *
record_new_with_id (const char *cid,
                    gint64      id)
{
  g_autoptr(JsonNode) node = json_node_init_int (json_node_alloc (), id);
  TetherRecord *record = record_new (cid, NULL);

  tether_record_set_id (record, node);

  return record;
}

static TetherRecord *
record_from_line (const char *line)
{
  g_autoptr(GBytes) bytes = g_bytes_new (line, strlen (line));
  g_autoptr(GError) error = NULL;
  TetherRecord *record = tether_record_new_from_line (bytes, &error);

  g_assert_no_error (error);

  return record;
}

/* The cids of the list, in order, space-separated. */
static char *
list_cids (GListModel *model)
{
  GString *str = g_string_new (NULL);

  for (guint i = 0; i < g_list_model_get_n_items (model); i++)
    {
      g_autoptr(TetherRecord) record = g_list_model_get_item (model, i);

      if (i > 0)
        g_string_append_c (str, ' ');
      g_string_append (str, tether_record_get_cid (record));
    }

  return g_string_free (str, FALSE);
}

#define assert_list(collection, expected) \
  G_STMT_START { \
    g_autofree char *_cids = list_cids (G_LIST_MODEL (collection)); \
    g_assert_cmpstr (_cids, ==, expected); \
  } G_STMT_END

static char *
array_cids (GPtrArray *records)
{
  GString *str = g_string_new (NULL);

  for (guint i = 0; i < records->len; i++)
    {
      if (i > 0)
        g_string_append_c (str, ' ');
      g_string_append (str, tether_record_get_cid (g_ptr_array_index (records, i)));
    }

  return g_string_free (str, FALSE);
}

static void
test_add (void)
{
  TetherCollection *collection = tether_collection_new ();
  Log *log = log_new (collection);
  TetherRecord *a = record_new ("a", "A");
  TetherRecord *b = record_new ("b", "B");
  g_autoptr(TetherRecord) item = NULL;
  guint n_items;

  g_assert_true (g_list_model_get_item_type (G_LIST_MODEL (collection)) == TETHER_TYPE_RECORD);
  g_assert_cmpuint (g_list_model_get_n_items (G_LIST_MODEL (collection)), ==, 0);

  tether_collection_add (collection, a);
  assert_events (log, "items-changed(0,0,1)=1 notify:n-items added:a");
  tether_collection_add (collection, b);
  assert_events (log, "items-changed(1,0,1)=2 notify:n-items added:b");

  g_assert_cmpuint (tether_collection_get_n_records (collection), ==, 2);
  g_object_get (collection, "n-items", &n_items, NULL);
  g_assert_cmpuint (n_items, ==, 2);
  item = g_list_model_get_item (G_LIST_MODEL (collection), 1);
  g_assert_true (item == b);
  g_assert_null (g_list_model_get_item (G_LIST_MODEL (collection), 2));
  g_assert_true (tether_collection_lookup_cid (collection, "a") == a);
  g_assert_null (tether_collection_lookup_cid (collection, "c"));
  g_assert_null (tether_collection_lookup_cid (collection, NULL));

  /* A record is in one collection, once. */
  g_test_expect_message ("Tether", G_LOG_LEVEL_CRITICAL, "*already in a collection*");
  tether_collection_add (collection, a);
  g_test_assert_expected_messages ();
  assert_events (log, "");

  {
    TetherRecord *twin = record_new ("a", NULL);

    g_test_expect_message ("Tether", G_LOG_LEVEL_CRITICAL, "*already has a record with cid a*");
    tether_collection_add (collection, twin);
    g_test_assert_expected_messages ();
    assert_events (log, "");
    g_assert_finalize_object (twin);
  }

  log_free (log);
  g_clear_object (&item);
  g_object_unref (a);
  g_object_unref (b);
  g_assert_finalize_object (collection);
}

static void
test_add_many (void)
{
  TetherCollection *collection = tether_collection_new ();
  Log *log;
  TetherRecord *records[5];
  g_autoptr(TetherRecord) first = record_new ("first", NULL);

  tether_collection_add (collection, first);
  log = log_new (collection);

  records[0] = record_new ("r0", NULL);
  records[1] = record_new ("r1", NULL);
  records[2] = record_new_with_id ("tomb", 9);
  records[3] = record_new ("r3", NULL);
  records[4] = record_new ("r4", NULL);
  tether_record_set_sync_state (records[2], TETHER_SYNC_STATE_DELETED);

  /* One items-changed for the batch; a deleted record is a tombstone. */
  tether_collection_add_many (collection, records, G_N_ELEMENTS (records));
  assert_events (log, "items-changed(1,0,4)=5 notify:n-items added:r0 added:r1 added:r3 added:r4");
  assert_list (collection, "first r0 r1 r3 r4");
  g_assert_cmpuint (tether_collection_get_tombstones (collection)->len, ==, 1);
  g_assert_true (g_ptr_array_index (tether_collection_get_tombstones (collection), 0) == records[2]);
  g_assert_true (tether_collection_lookup_cid (collection, "tomb") == records[2]);

  /* Nothing to add, nothing emitted. */
  tether_collection_add_many (collection, NULL, 0);
  assert_events (log, "");

  log_free (log);
  for (guint i = 0; i < G_N_ELEMENTS (records); i++)
    g_object_unref (records[i]);
  g_assert_finalize_object (collection);
}

static void
test_lookup_id (void)
{
  TetherCollection *collection = tether_collection_new ();
  g_autoptr(TetherRecord) int_record = record_new_with_id ("int-cid", 42);
  g_autoptr(TetherRecord) string_record = record_new ("string-cid", NULL);
  g_autoptr(TetherRecord) cid_like = record_new ("abc", NULL);
  g_autoptr(JsonNode) int_id = json_node_init_int (json_node_alloc (), 42);
  g_autoptr(JsonNode) string_id = json_node_init_string (json_node_alloc (), "42");
  g_autoptr(JsonNode) abc_id = json_node_init_string (json_node_alloc (), "abc");
  g_autoptr(JsonNode) double_id = json_node_init_double (json_node_alloc (), 42.0);
  g_autoptr(JsonNode) other_id = json_node_init_string (json_node_alloc (), "zz");

  tether_collection_add (collection, int_record);
  tether_collection_add (collection, string_record);
  tether_collection_add (collection, cid_like);

  /* Only 42 so far: "42" is a different id. */
  g_assert_true (tether_collection_lookup_id (collection, int_id) == int_record);
  g_assert_null (tether_collection_lookup_id (collection, string_id));
  g_assert_null (tether_collection_lookup_id (collection, double_id));
  g_assert_null (tether_collection_lookup_id (collection, NULL));
  g_assert_true (tether_collection_lookup_ref (collection, "42") == int_record);

  tether_record_set_id (string_record, string_id);
  g_assert_true (tether_collection_lookup_id (collection, string_id) == string_record);
  g_assert_true (tether_collection_lookup_id (collection, int_id) == int_record);

  /* A ref: the cid first, then the integer, then the string. */
  g_assert_true (tether_collection_lookup_ref (collection, "int-cid") == int_record);
  g_assert_true (tether_collection_lookup_ref (collection, "42") == int_record);
  g_assert_null (tether_collection_lookup_ref (collection, "042"));
  g_assert_null (tether_collection_lookup_ref (collection, "+42"));
  g_assert_null (tether_collection_lookup_ref (collection, ""));
  g_assert_null (tether_collection_lookup_ref (collection, NULL));

  tether_record_set_id (int_record, other_id);
  g_assert_true (tether_collection_lookup_ref (collection, "42") == string_record);
  g_assert_true (tether_collection_lookup_ref (collection, "zz") == int_record);

  /* A cid wins over a string id equal to it. */
  tether_record_set_id (string_record, abc_id);
  g_assert_true (tether_collection_lookup_ref (collection, "abc") == cid_like);
  g_assert_true (tether_collection_lookup_id (collection, abc_id) == string_record);

  g_assert_finalize_object (collection);
}

typedef struct
{
  TetherCollection *collection;
  TetherRecord     *record;
  guint             notifies;
  gboolean          found_new;
  gboolean          found_old;
  JsonNode         *old_id;
} RekeyCheck;

static void
rekey_notify_cb (TetherRecord *record,
                 GParamSpec   *pspec,
                 RekeyCheck   *check)
{
  JsonNode *id = tether_record_get_id (record);

  check->notifies++;
  check->found_new = id != NULL && tether_collection_lookup_id (check->collection, id) == record;
  check->found_old = check->old_id != NULL &&
                     tether_collection_lookup_id (check->collection, check->old_id) != NULL;
}

static void
test_rekey (void)
{
  TetherCollection *collection = tether_collection_new ();
  TetherRecord *record = record_new ("temp", "New");
  g_autoptr(JsonNode) first_id = json_node_init_int (json_node_alloc (), 101);
  g_autoptr(JsonNode) second_id = json_node_init_string (json_node_alloc (), "srv-101");
  RekeyCheck check = { collection, record, 0, FALSE, FALSE, NULL };

  tether_collection_add (collection, record);
  g_signal_connect (record, "notify::id", G_CALLBACK (rekey_notify_cb), &check);

  /* The server assigns an id: found by it in notify::id already. */
  tether_record_set_id (record, first_id);
  g_assert_cmpuint (check.notifies, ==, 1);
  g_assert_true (check.found_new);
  g_assert_true (tether_collection_lookup_id (collection, first_id) == record);
  g_assert_true (tether_collection_lookup_cid (collection, "temp") == record);

  /* Re-keyed again: the old key is gone. */
  check.old_id = first_id;
  tether_record_set_id (record, second_id);
  g_assert_cmpuint (check.notifies, ==, 2);
  g_assert_true (check.found_new);
  g_assert_false (check.found_old);
  g_assert_null (tether_collection_lookup_id (collection, first_id));
  g_assert_true (tether_collection_lookup_ref (collection, "srv-101") == record);

  check.old_id = second_id;
  tether_record_set_id (record, NULL);
  g_assert_false (check.found_old);
  g_assert_null (tether_collection_lookup_ref (collection, "srv-101"));

  g_signal_handlers_disconnect_by_data (record, &check);
  g_object_unref (record);
  g_assert_finalize_object (collection);
}

static void
count_title_cb (TetherCollection *collection,
                TetherRecord     *record,
                const char       *field,
                guint            *count)
{
  g_assert_cmpstr (field, ==, "title");
  (*count)++;
}

static void
test_record_changed (void)
{
  TetherCollection *collection = tether_collection_new ();
  g_autoptr(TetherRecord) record = record_new ("r", NULL);
  g_autoptr(JsonObject) changes = json_object_new ();
  Log *log;
  guint title_changes = 0;

  tether_collection_add (collection, record);
  log = log_new (collection);
  g_signal_connect (collection, "record-changed::title", G_CALLBACK (count_title_cb), &title_changes);

  tether_record_set_string (record, "title", "T");
  assert_events (log, "changed:r:title");
  g_assert_cmpuint (title_changes, ==, 1);

  tether_record_set_string (record, "other", "x");
  assert_events (log, "changed:r:other");
  g_assert_cmpuint (title_changes, ==, 1);

  /* A bulk change: each field, then one without detail. */
  json_object_set_int_member (changes, "a", 1);
  json_object_set_int_member (changes, "b", 2);
  tether_record_update (record, changes);
  assert_events (log, "changed:r:a changed:r:b changed:r:(null)");
  g_assert_cmpuint (title_changes, ==, 1);

  /* Tombstones are still the collection's records. */
  {
    g_autoptr(JsonNode) id = json_node_init_int (json_node_alloc (), 1);

    tether_record_set_id (record, id);
    tether_collection_delete (collection, record);
    assert_events (log, "items-changed(0,1,0)=0 notify:n-items removed:r");
    tether_record_set_string (record, "title", "U");
    assert_events (log, "changed:r:title");
    g_assert_cmpuint (title_changes, ==, 2);
  }

  /* Forgotten: no longer forwarded. */
  tether_collection_forget (collection, record);
  tether_record_set_string (record, "title", "V");
  assert_events (log, "");

  g_signal_handlers_disconnect_by_data (collection, &title_changes);
  log_free (log);
  g_assert_finalize_object (collection);
  g_assert_finalize_object (g_steal_pointer (&record));
}

static void
test_delete (void)
{
  TetherCollection *collection = tether_collection_new ();
  TetherRecord *pushed = record_new_with_id ("pushed", 5);
  TetherRecord *fresh = record_new ("fresh", NULL);
  TetherRecord *last = record_new ("last", NULL);
  g_autoptr(JsonNode) id = json_node_init_int (json_node_alloc (), 5);
  TetherRecord *records[] = { pushed, fresh, last };
  Log *log;
  GPtrArray *tombstones;

  tether_record_set_sync_state (pushed, TETHER_SYNC_STATE_SYNCED);
  tether_collection_add_many (collection, records, G_N_ELEMENTS (records));
  log = log_new (collection);

  /* Pushed before: a tombstone, still found, deleted before record-removed. */
  g_assert_true (tether_collection_delete (collection, pushed));
  assert_events (log, "items-changed(0,1,0)=2 notify:n-items removed:pushed");
  assert_list (collection, "fresh last");
  g_assert_cmpint (tether_record_get_sync_state (pushed), ==, TETHER_SYNC_STATE_DELETED);
  tombstones = tether_collection_get_tombstones (collection);
  g_assert_cmpuint (tombstones->len, ==, 1);
  g_assert_true (g_ptr_array_index (tombstones, 0) == pushed);
  g_assert_true (tether_collection_lookup_cid (collection, "pushed") == pushed);
  g_assert_true (tether_collection_lookup_id (collection, id) == pushed);
  g_assert_cmpuint (tether_collection_get_n_records (collection), ==, 2);

  /* Again: it is a tombstone already. */
  g_assert_true (tether_collection_delete (collection, pushed));
  assert_events (log, "");

  /* Never pushed: gone, state untouched. */
  g_assert_false (tether_collection_delete (collection, fresh));
  assert_events (log, "items-changed(0,1,0)=1 notify:n-items removed:fresh");
  assert_list (collection, "last");
  g_assert_null (tether_collection_lookup_cid (collection, "fresh"));
  g_assert_cmpint (tether_record_get_sync_state (fresh), ==, TETHER_SYNC_STATE_PENDING);
  g_assert_cmpuint (tombstones->len, ==, 1);

  log_free (log);
  g_object_unref (pushed);
  g_object_unref (last);
  g_assert_finalize_object (collection);
  /* Nothing of the collection holds it any more. */
  g_assert_finalize_object (fresh);
}

static void
test_restore (void)
{
  TetherCollection *collection = tether_collection_new ();
  TetherRecord *pushed = record_new_with_id ("pushed", 5);
  TetherRecord *fresh = record_new ("fresh", NULL);
  TetherRecord *other = record_new ("other", NULL);
  TetherRecord *records[] = { pushed, fresh, other };
  Log *log;

  tether_record_set_sync_state (pushed, TETHER_SYNC_STATE_SYNCED);
  tether_collection_add_many (collection, records, G_N_ELEMENTS (records));
  tether_collection_delete (collection, pushed);
  tether_collection_delete (collection, fresh);
  log = log_new (collection);

  /* Back at the end, in the state given. */
  tether_collection_restore (collection, pushed, TETHER_SYNC_STATE_SYNCED);
  assert_events (log, "items-changed(1,0,1)=2 notify:n-items added:pushed");
  assert_list (collection, "other pushed");
  g_assert_cmpint (tether_record_get_sync_state (pushed), ==, TETHER_SYNC_STATE_SYNCED);
  g_assert_cmpuint (tether_collection_get_tombstones (collection)->len, ==, 0);

  /* A record deleted outright comes back too. */
  tether_collection_restore (collection, fresh, TETHER_SYNC_STATE_PENDING);
  assert_events (log, "items-changed(2,0,1)=3 notify:n-items added:fresh");
  g_assert_true (tether_collection_lookup_cid (collection, "fresh") == fresh);

  /* A tombstone the sync is pushing is still a tombstone. */
  tether_collection_delete (collection, pushed);
  tether_record_set_sync_state (pushed, TETHER_SYNC_STATE_PUSHING);
  assert_events (log, "items-changed(1,1,0)=2 notify:n-items removed:pushed");
  tether_collection_restore (collection, pushed, TETHER_SYNC_STATE_PENDING);
  assert_events (log, "items-changed(2,0,1)=3 notify:n-items added:pushed");
  assert_list (collection, "other fresh pushed");

  /* A list item: only its state. */
  tether_collection_restore (collection, other, TETHER_SYNC_STATE_ERROR);
  assert_events (log, "");
  g_assert_cmpint (tether_record_get_sync_state (other), ==, TETHER_SYNC_STATE_ERROR);

  log_free (log);
  g_object_unref (pushed);
  g_object_unref (fresh);
  g_object_unref (other);
  g_assert_finalize_object (collection);
}

static void
test_forget (void)
{
  TetherCollection *collection = tether_collection_new ();
  TetherRecord *a = record_new ("a", NULL);
  TetherRecord *b = record_new_with_id ("b", 2);
  TetherRecord *c = record_new ("c", NULL);
  TetherRecord *records[] = { a, b, c };
  g_autoptr(JsonNode) id = json_node_init_int (json_node_alloc (), 2);
  TetherCollection *other;
  Log *log;

  tether_collection_add_many (collection, records, G_N_ELEMENTS (records));
  tether_collection_delete (collection, b);
  log = log_new (collection);

  /* A tombstone: gone for good, no list signal. */
  tether_collection_forget (collection, b);
  assert_events (log, "");
  g_assert_cmpuint (tether_collection_get_tombstones (collection)->len, ==, 0);
  g_assert_null (tether_collection_lookup_cid (collection, "b"));
  g_assert_null (tether_collection_lookup_id (collection, id));

  /* A list item. */
  tether_collection_forget (collection, c);
  assert_events (log, "items-changed(1,1,0)=1 notify:n-items removed:c");
  g_assert_null (tether_collection_lookup_cid (collection, "c"));

  /* Free to join another collection now. */
  other = tether_collection_new ();
  tether_collection_add (other, c);
  g_assert_true (tether_collection_lookup_cid (other, "c") == c);

  g_test_expect_message ("Tether", G_LOG_LEVEL_CRITICAL, "*not a record of this collection*");
  tether_collection_forget (collection, c);
  g_test_assert_expected_messages ();
  assert_events (log, "");

  log_free (log);
  g_object_unref (a);
  g_object_unref (c);
  g_assert_finalize_object (collection);
  g_assert_finalize_object (other);
  g_assert_finalize_object (b);
}

static void
fill (TetherCollection  *collection,
      guint              n,
      TetherRecord    ***out)
{
  TetherRecord **records = g_new0 (TetherRecord *, n);

  for (guint i = 0; i < n; i++)
    {
      g_autofree char *cid = g_strdup_printf ("%u", i);

      records[i] = record_new (cid, NULL);
    }

  tether_collection_add_many (collection, records, n);
  *out = records;
}

static void
test_forget_many_runs (void)
{
  TetherCollection *collection = tether_collection_new ();
  TetherRecord **records;
  TetherRecord *doomed[6];
  Log *log;

  fill (collection, 20, &records);
  log = log_new (collection);

  /* Three runs, given out of order and with a duplicate: one items-changed
   * per run, from the last, each with the model already changed. */
  doomed[0] = records[15];
  doomed[1] = records[3];
  doomed[2] = records[2];
  doomed[3] = records[10];
  doomed[4] = records[4];
  doomed[5] = records[3];
  tether_collection_forget_many (collection, doomed, G_N_ELEMENTS (doomed));
  assert_events (log,
                 "items-changed(15,1,0)=19 items-changed(10,1,0)=18 items-changed(2,3,0)=15 "
                 "notify:n-items removed:2 removed:3 removed:4 removed:10 removed:15");
  assert_list (collection, "0 1 5 6 7 8 9 11 12 13 14 16 17 18 19");

  log_free (log);
  for (guint i = 0; i < 20; i++)
    g_object_unref (records[i]);
  g_free (records);
  g_assert_finalize_object (collection);
}

static void
test_forget_many_scattered (void)
{
  TetherCollection *collection = tether_collection_new ();
  TetherRecord **records;
  g_autoptr(GPtrArray) doomed = g_ptr_array_new ();
  g_autoptr(JsonNode) id = json_node_init_int (json_node_alloc (), 1000);
  Log *log;

  fill (collection, 30, &records);

  /* And a tombstone among them. */
  tether_record_set_id (records[29], id);
  tether_collection_delete (collection, records[29]);
  log = log_new (collection);

  /* Ten runs: one items-changed spanning them. */
  for (guint i = 3; i < 23; i += 2)
    g_ptr_array_add (doomed, records[i]);
  g_ptr_array_add (doomed, records[29]);

  tether_collection_forget_many (collection, (TetherRecord **) doomed->pdata, doomed->len);
  assert_events (log,
                 "items-changed(3,19,9)=19 notify:n-items "
                 "removed:3 removed:5 removed:7 removed:9 removed:11 "
                 "removed:13 removed:15 removed:17 removed:19 removed:21");
  assert_list (collection, "0 1 2 4 6 8 10 12 14 16 18 20 22 23 24 25 26 27 28");
  g_assert_cmpuint (tether_collection_get_tombstones (collection)->len, ==, 0);
  g_assert_null (tether_collection_lookup_id (collection, id));

  for (guint i = 3; i < 23; i += 2)
    g_assert_null (tether_collection_lookup_cid (collection, tether_record_get_cid (records[i])));

  /* Only tombstones, or nothing: no items-changed. */
  tether_collection_forget_many (collection, NULL, 0);
  assert_events (log, "");

  log_free (log);
  g_assert_finalize_object (collection);
  for (guint i = 0; i < 30; i++)
    g_assert_finalize_object (records[i]);
  g_free (records);
}

static void
count_notify_cb (GObject    *object,
                 GParamSpec *pspec,
                 guint      *count)
{
  (*count)++;
}

static void
test_title_field (void)
{
  TetherCollection *collection = tether_collection_new ();
  g_autoptr(TetherRecord) a = record_new ("a", "Title A");
  g_autoptr(TetherRecord) b = record_new ("b", "Title B");
  g_autoptr(TetherRecord) c = record_new ("c", "Title C");
  g_autoptr(TetherRecord) tomb = record_new_with_id ("tomb", 1);
  guint notifies = 0;
  g_autofree char *field = NULL;

  tether_record_set_string (a, "label", "Label A");
  tether_collection_add (collection, a);
  tether_collection_add (collection, b);
  tether_collection_add (collection, tomb);
  tether_collection_delete (collection, tomb);
  g_assert_cmpstr (tether_record_get_title (a), ==, "Title A");

  g_signal_connect (a, "notify::title", G_CALLBACK (count_notify_cb), &notifies);

  g_object_set (collection, "title-field", "label", NULL);
  g_object_get (collection, "title-field", &field, NULL);
  g_assert_cmpstr (field, ==, "label");
  g_assert_cmpstr (tether_collection_get_title_field (collection), ==, "label");
  g_assert_cmpstr (tether_record_get_title_field (a), ==, "label");
  g_assert_cmpstr (tether_record_get_title_field (b), ==, "label");
  g_assert_cmpstr (tether_record_get_title_field (tomb), ==, "label");
  g_assert_cmpstr (tether_record_get_title (a), ==, "Label A");
  g_assert_cmpstr (tether_record_get_title (b), ==, "Title B");
  g_assert_cmpuint (notifies, ==, 1);

  /* Records added later get it too. */
  tether_collection_add (collection, c);
  g_assert_cmpstr (tether_record_get_title_field (c), ==, "label");

  tether_collection_set_title_field (collection, NULL);
  g_assert_cmpstr (tether_record_get_title (a), ==, "Title A");
  g_assert_cmpuint (notifies, ==, 2);

  g_signal_handlers_disconnect_by_data (a, &notifies);
  g_assert_finalize_object (collection);
}

static void
test_n_unsynced (void)
{
  TetherCollection *collection = tether_collection_new ();
  g_autoptr(JsonObject) attributes = json_object_new ();
  g_autoptr(JsonNode) id = json_node_init_int (json_node_alloc (), 1);
  g_autoptr(TetherRecord) synced = tether_record_new_from_server (id, attributes);
  g_autoptr(TetherRecord) fresh = record_new ("fresh", NULL);
  g_autoptr(TetherRecord) tomb = record_new_with_id ("tomb", 2);
  TetherRecord *records[] = { synced, fresh, tomb };
  guint notifies = 0;
  guint n;

  g_signal_connect (collection, "notify::n-unsynced", G_CALLBACK (count_notify_cb), &notifies);
  tether_record_set_sync_state (tomb, TETHER_SYNC_STATE_DELETED);

  /* Pending and deleted count; one notify for the batch. */
  tether_collection_add_many (collection, records, G_N_ELEMENTS (records));
  g_assert_cmpuint (tether_collection_get_n_unsynced (collection), ==, 2);
  g_object_get (collection, "n-unsynced", &n, NULL);
  g_assert_cmpuint (n, ==, 2);
  g_assert_cmpuint (notifies, ==, 1);

  /* Follows the records' states... */
  tether_record_set_string (synced, "title", "edited");
  g_assert_cmpuint (tether_collection_get_n_unsynced (collection), ==, 3);
  g_assert_cmpuint (notifies, ==, 2);
  tether_record_set_sync_state (synced, TETHER_SYNC_STATE_PUSHING);
  g_assert_cmpuint (notifies, ==, 2);
  tether_record_set_sync_state (synced, TETHER_SYNC_STATE_SYNCED);
  g_assert_cmpuint (tether_collection_get_n_unsynced (collection), ==, 2);
  g_assert_cmpuint (notifies, ==, 3);

  /* ...deletes, restores and forgets. */
  tether_collection_delete (collection, synced);
  g_assert_cmpuint (tether_collection_get_n_unsynced (collection), ==, 3);
  g_assert_cmpuint (notifies, ==, 4);
  tether_collection_restore (collection, synced, TETHER_SYNC_STATE_SYNCED);
  g_assert_cmpuint (tether_collection_get_n_unsynced (collection), ==, 2);
  g_assert_cmpuint (notifies, ==, 5);
  tether_collection_delete (collection, fresh);
  g_assert_cmpuint (tether_collection_get_n_unsynced (collection), ==, 1);
  g_assert_cmpuint (notifies, ==, 6);
  tether_collection_restore (collection, fresh, TETHER_SYNC_STATE_PENDING);
  g_assert_cmpuint (tether_collection_get_n_unsynced (collection), ==, 2);
  g_assert_cmpuint (notifies, ==, 7);
  tether_collection_forget (collection, tomb);
  g_assert_cmpuint (tether_collection_get_n_unsynced (collection), ==, 1);
  g_assert_cmpuint (notifies, ==, 8);

  /* Not its record any more. */
  tether_record_set_sync_state (tomb, TETHER_SYNC_STATE_PENDING);
  g_assert_cmpuint (notifies, ==, 8);

  g_signal_handlers_disconnect_by_data (collection, &notifies);
  g_assert_finalize_object (collection);
}

static void
test_sort_title (void)
{
  TetherCollection *collection = tether_collection_new ();
  static const char * const titles[] = { "banana", "Apple", "cherry", "apple", NULL, "Banana" };
  g_autoptr(GPtrArray) sorted = NULL;
  g_autofree char *cids = NULL;

  for (guint i = 0; i < G_N_ELEMENTS (titles); i++)
    {
      g_autofree char *cid = g_strdup_printf ("%u", i);
      g_autoptr(TetherRecord) record = record_new (cid, titles[i]);

      tether_collection_add (collection, record);
    }

  /* Case-insensitive; equal titles keep their list order. */
  sorted = tether_collection_dup_sorted (collection, TETHER_RECORD_SORT_TITLE);
  cids = array_cids (sorted);
  g_assert_cmpstr (cids, ==, "4 1 3 0 5 2");
  g_clear_pointer (&cids, g_free);
  g_clear_pointer (&sorted, g_ptr_array_unref);

  /* The list itself keeps insertion order. */
  assert_list (collection, "0 1 2 3 4 5");

  sorted = tether_collection_dup_sorted (collection, TETHER_RECORD_SORT_NONE);
  cids = array_cids (sorted);
  g_assert_cmpstr (cids, ==, "0 1 2 3 4 5");

  g_clear_pointer (&sorted, g_ptr_array_unref);
  g_assert_finalize_object (collection);
}

static void
test_sort_modified (void)
{
  TetherCollection *collection = tether_collection_new ();
  static const char * const modified[] = {
    "\"2026-01-01T00:00:00.000000Z\"",
    "\"2026-03-01T00:00:00.000000Z\"",
    "null",
    "\"2026-02-01T00:00:00.000000Z\"",
    "\"2026-03-01T00:00:00.000000Z\"",
    "\"2026-03-01T00:00:00.000001Z\"",
  };
  g_autoptr(GPtrArray) sorted = NULL;
  g_autofree char *cids = NULL;

  for (guint i = 0; i < G_N_ELEMENTS (modified); i++)
    {
      g_autofree char *line = g_strdup_printf ("{\"cid\":\"%u\",\"modified\":%s}", i, modified[i]);
      g_autoptr(TetherRecord) record = record_from_line (line);

      tether_collection_add (collection, record);
    }

  /* Newest first, ties in list order, never changed here last. */
  sorted = tether_collection_dup_sorted (collection, TETHER_RECORD_SORT_MODIFIED);
  cids = array_cids (sorted);
  g_assert_cmpstr (cids, ==, "5 1 4 3 0 2");

  g_clear_pointer (&sorted, g_ptr_array_unref);
  g_assert_finalize_object (collection);
}

static void
test_lazy_records (void)
{
  TetherCollection *collection = tether_collection_new ();
  g_autoptr(GString) text = g_string_new (NULL);
  g_autoptr(GBytes) buffer = NULL;
  g_autoptr(GPtrArray) records = g_ptr_array_new_with_free_func (g_object_unref);
  g_autoptr(GPtrArray) sorted = NULL;
  const char *data;
  gsize offset = 0;

  for (guint i = 0; i < 100; i++)
    g_string_append_printf (text,
                            "{\"cid\":\"c%02u\",\"id\":%u,\"state\":\"synced\","
                            "\"attributes\":{\"title\":\"Item %02u\",\"n\":%u},\"base\":null}\n",
                            i, i, 99 - i, i);

  buffer = g_string_free_to_bytes (g_steal_pointer (&text));
  data = g_bytes_get_data (buffer, NULL);

  while (offset < g_bytes_get_size (buffer))
    {
      const char *newline = strchr (data + offset, '\n');
      g_autoptr(GError) error = NULL;
      TetherRecord *record = tether_record_new_from_buffer (buffer, offset, newline - (data + offset), &error);

      g_assert_no_error (error);
      g_ptr_array_add (records, record);
      offset = newline - data + 1;
    }

  tether_collection_add_many (collection, (TetherRecord **) records->pdata, records->len);
  g_assert_cmpuint (g_list_model_get_n_items (G_LIST_MODEL (collection)), ==, 100);
  g_assert_true (tether_collection_lookup_ref (collection, "42") == g_ptr_array_index (records, 42));

  sorted = tether_collection_dup_sorted (collection, TETHER_RECORD_SORT_TITLE);
  g_assert_cmpuint (sorted->len, ==, 100);
  g_assert_cmpstr (tether_record_get_cid (g_ptr_array_index (sorted, 0)), ==, "c99");
  g_assert_cmpstr (tether_record_get_cid (g_ptr_array_index (sorted, 99)), ==, "c00");

  /* Still the stored lines. */
  for (guint i = 0; i < records->len; i++)
    {
      g_autoptr(GBytes) line = tether_record_serialize (g_ptr_array_index (records, i));

      g_assert_true ((const char *) g_bytes_get_data (line, NULL) >= data);
      g_assert_true ((const char *) g_bytes_get_data (line, NULL) < data + g_bytes_get_size (buffer));
    }

  g_clear_pointer (&sorted, g_ptr_array_unref);
  g_assert_finalize_object (collection);
}

int
main (int   argc,
      char *argv[])
{
  tether_test_init (&argc, &argv);

  g_test_add_func ("/collection/add", test_add);
  g_test_add_func ("/collection/add-many", test_add_many);
  g_test_add_func ("/collection/lookup-id", test_lookup_id);
  g_test_add_func ("/collection/rekey", test_rekey);
  g_test_add_func ("/collection/record-changed", test_record_changed);
  g_test_add_func ("/collection/delete", test_delete);
  g_test_add_func ("/collection/restore", test_restore);
  g_test_add_func ("/collection/forget", test_forget);
  g_test_add_func ("/collection/forget-many/runs", test_forget_many_runs);
  g_test_add_func ("/collection/forget-many/scattered", test_forget_many_scattered);
  g_test_add_func ("/collection/n-unsynced", test_n_unsynced);
  g_test_add_func ("/collection/title-field", test_title_field);
  g_test_add_func ("/collection/sort/title", test_sort_title);
  g_test_add_func ("/collection/sort/modified", test_sort_modified);
  g_test_add_func ("/collection/lazy-records", test_lazy_records);

  return g_test_run ();
}
