/* test-store.c
 *
 * Copyright 2026 The Tether authors
 *
 * SPDX-License-Identifier: GPL-3.0-or-later
 */

#include "config.h"

#include <errno.h>
#include <signal.h>
#include <string.h>
#include <sys/resource.h>
#include <sys/stat.h>
#include <unistd.h>

#include <glib/gstdio.h>

#include "tether-collection.h"
#include "tether-store.h"
#include "tether-store-private.h"
#include "tether-test-util.h"

static GMainLoop *main_loop;

/* Plumbing */

static void
result_cb (GObject      *object,
           GAsyncResult *result,
           gpointer      user_data)
{
  GAsyncResult **ret = user_data;

  g_assert_null (*ret);
  *ret = g_object_ref (result);
  g_main_loop_quit (main_loop);
}

static gboolean
timeout_cb (gpointer user_data)
{
  g_error ("Timed out waiting for an asynchronous call");
  return G_SOURCE_REMOVE;
}

static void
wait_for (GAsyncResult **result)
{
  guint id = g_timeout_add_seconds (120, timeout_cb, NULL);

  while (*result == NULL)
    g_main_loop_run (main_loop);

  g_source_remove (id);
}

static GFile *
store_dir (const char *name)
{
  /* tether_test_init() gives the test program its own data directory. */
  return g_file_new_build_filename (g_get_user_data_dir (), "stores", name, NULL);
}

static char *
dir_file (GFile      *dir,
          const char *name)
{
  return g_build_filename (g_file_peek_path (dir), name, NULL);
}

static GBytes *
read_bytes (GFile      *dir,
            const char *name)
{
  g_autofree char *path = dir_file (dir, name);
  g_autoptr(GError) error = NULL;
  char *contents = NULL;
  gsize length = 0;

  g_file_get_contents (path, &contents, &length, &error);
  g_assert_no_error (error);

  return g_bytes_new_take (contents, length);
}

static void
write_bytes (GFile      *dir,
             const char *name,
             const char *contents,
             gssize      length)
{
  g_autofree char *path = dir_file (dir, name);
  g_autoptr(GError) error = NULL;

  g_file_set_contents (path, contents, length, &error);
  g_assert_no_error (error);
}

static void
append_text (GFile      *dir,
             const char *name,
             const char *text,
             gssize      length)
{
  g_autoptr(GBytes) old = read_bytes (dir, name);
  g_autoptr(GString) contents = g_string_new_len (g_bytes_get_data (old, NULL),
                                                  g_bytes_get_size (old));

  g_string_append_len (contents, text, length);
  write_bytes (dir, name, contents->str, contents->len);
}

static gboolean
open_store (TetherStore       *store,
            TetherCollection  *collection,
            GError           **error)
{
  g_autoptr(GAsyncResult) result = NULL;

  tether_store_open_async (store, collection, NULL, result_cb, &result);
  wait_for (&result);

  return tether_store_open_finish (store, result, error);
}

static gboolean
save_and_wait (TetherStore   *store,
               TetherRecord  *record,
               GError       **error)
{
  g_autoptr(GAsyncResult) result = NULL;

  tether_store_save_async (store, record, NULL, result_cb, &result);
  wait_for (&result);

  return tether_store_save_finish (store, result, error);
}

static gboolean
flush_and_wait (TetherStore  *store,
                GError      **error)
{
  g_autoptr(GAsyncResult) result = NULL;

  tether_store_flush_async (store, NULL, result_cb, &result);
  wait_for (&result);

  return tether_store_flush_finish (store, result, error);
}

static gboolean
compact_and_wait (TetherStore  *store,
                  GError      **error)
{
  g_autoptr(GAsyncResult) result = NULL;

  tether_store_compact_async (store, NULL, result_cb, &result);
  wait_for (&result);

  return tether_store_compact_finish (store, result, error);
}

/* A store and its collection, open. */
typedef struct
{
  TetherStore      *store;
  TetherCollection *collection;
} Session;

static Session
session_open (GFile *dir)
{
  g_autoptr(GError) error = NULL;
  Session session;

  session.store = tether_store_new (dir);
  session.collection = tether_collection_new ();
  g_assert_true (open_store (session.store, session.collection, &error));
  g_assert_no_error (error);
  g_assert_true (tether_store_is_open (session.store));

  return session;
}

static void
session_close (Session *session)
{
  g_autoptr(GError) error = NULL;

  g_assert_true (tether_store_close (session->store, &error));
  g_assert_no_error (error);
  g_assert_false (tether_store_is_open (session->store));

  g_assert_finalize_object (session->store);
  g_assert_finalize_object (session->collection);
  session->store = NULL;
  session->collection = NULL;
}

static TetherRecord *
add_record (Session    *session,
            const char *title,
            gint64      number)
{
  g_autoptr(TetherRecord) record = tether_record_new ();

  tether_record_set_string (record, "title", title);
  tether_record_set_attribute (record, "number",
                               json_node_init_int (json_node_alloc (), number));
  tether_collection_add (session->collection, record);

  return record;
}

static void
assert_same_record (TetherRecord *a,
                    TetherRecord *b)
{
  g_autoptr(GBytes) line_a = tether_record_serialize (a);
  g_autoptr(GBytes) line_b = tether_record_serialize (b);

  g_assert_nonnull (a);
  g_assert_nonnull (b);
  g_assert_cmpmem (g_bytes_get_data (line_a, NULL), g_bytes_get_size (line_a),
                   g_bytes_get_data (line_b, NULL), g_bytes_get_size (line_b));
}

static gint64
get_int (TetherRecord *record,
         const char   *name)
{
  JsonNode *node = tether_record_get_attribute (record, name);

  g_assert_nonnull (node);
  return json_node_get_int (node);
}

/* Every line of the journal is whole and readable JSON. */
static void
assert_journal_clean (GFile *dir)
{
  g_autoptr(GBytes) bytes = read_bytes (dir, "journal.jsonl");
  gsize length;
  const char *data = g_bytes_get_data (bytes, &length);
  g_auto(GStrv) lines = NULL;
  g_autofree char *text = g_strndup (data, length);

  g_assert_cmpuint (length, >, 0);
  g_assert_cmpint (data[length - 1], ==, '\n');

  lines = g_strsplit (text, "\n", -1);
  for (guint i = 0; lines[i + 1] != NULL; i++)
    {
      g_autoptr(JsonParser) parser = json_parser_new ();
      g_autoptr(GError) error = NULL;

      json_parser_load_from_data (parser, lines[i], -1, &error);
      g_assert_no_error (error);
    }
}

/* Tests */

static void
test_default_directory (void)
{
  g_autoptr(GFile) a = tether_store_default_directory ("http://localhost:3000", "records");
  g_autoptr(GFile) a2 = tether_store_default_directory ("http://localhost:3000/", "/records/");
  g_autoptr(GFile) b = tether_store_default_directory ("http://localhost:3001", "records");
  g_autoptr(GFile) c = tether_store_default_directory ("http://localhost:3000", "notes");
  g_autoptr(GFile) d = tether_store_default_directory ("http://localhost:3000/api", "records");
  g_autoptr(GFile) offline = tether_store_default_directory ("", "records");
  g_autoptr(GFile) odd = tether_store_default_directory ("https://../..:8080/", "../../etc/passwd");
  g_autoptr(GFile) parent = NULL;
  g_autofree char *expected_parent = g_build_filename (g_get_user_data_dir (), "tether", NULL);
  g_autofree char *name = g_file_get_basename (a);
  g_autofree char *offline_name = g_file_get_basename (offline);
  g_autofree char *odd_name = g_file_get_basename (odd);
  g_autofree char *child_path = g_test_build_filename (G_TEST_BUILT, "store-crash-child", NULL);
  g_autofree char *data_home = g_build_filename (g_get_user_data_dir (), "elsewhere", NULL);
  g_autofree char *out = NULL;
  g_autofree char *expected = NULL;
  g_autoptr(GSubprocessLauncher) launcher = NULL;
  g_autoptr(GSubprocess) child = NULL;
  g_autoptr(GError) error = NULL;

  parent = g_file_get_parent (a);
  g_assert_cmpstr (g_file_peek_path (parent), ==, expected_parent);

  /* XDG_DATA_HOME moves the stores (GLib reads it once per process, and
   * the test harness fixes it for this one: ask another). */
  launcher = g_subprocess_launcher_new (G_SUBPROCESS_FLAGS_STDOUT_PIPE);
  g_subprocess_launcher_setenv (launcher, "XDG_DATA_HOME", data_home, TRUE);
  child = g_subprocess_launcher_spawn (launcher, &error, child_path, "default-directory",
                                       "http://localhost:3000", "records", NULL);
  g_assert_no_error (error);
  g_subprocess_communicate_utf8 (child, NULL, NULL, &out, NULL, &error);
  g_assert_no_error (error);
  expected = g_build_filename (data_home, "tether", name, NULL);
  g_assert_cmpstr (g_strstrip (out), ==, expected);

  /* Readable, and one server is one store whatever its slashes. */
  g_assert_true (g_str_has_prefix (name, "localhost-3000-records-"));
  g_assert_true (g_file_equal (a, a2));

  /* Other servers or collections never share a store, even when their
   * readable names are alike. */
  g_assert_false (g_file_equal (a, b));
  g_assert_false (g_file_equal (a, c));
  g_assert_false (g_file_equal (a, d));

  g_assert_true (g_str_has_prefix (offline_name, "offline"));

  /* Nothing in a URL gets out of the stores' directory. */
  g_assert_null (strchr (odd_name, '/'));
  g_assert_false (g_str_has_prefix (odd_name, "."));
  g_object_unref (parent);
  parent = g_file_get_parent (odd);
  g_assert_cmpstr (g_file_peek_path (parent), ==, expected_parent);
}

static JsonNode *
node_from_json (const char *json)
{
  g_autoptr(GError) error = NULL;
  JsonNode *node = json_from_string (json, &error);

  g_assert_no_error (error);
  return node;
}

static void
test_round_trip (void)
{
  static const struct {
    const char *name;
    const char *json;
  } values[] = {
    { "title", "\"Grüße, 世界 🚀\"" },
    { "escapes", "\"quote \\\" backslash \\\\ slash / newline \\n tab \\t cr \\r bell \\u0007 nbsp \\u00a0\"" },
    { "empty", "\"\"" },
    { "null", "null" },
    { "yes", "true" },
    { "no", "false" },
    { "zero", "0" },
    { "negative", "-1" },
    { "max", "9223372036854775807" },
    { "min", "-9223372036854775808" },
    { "double", "0.1" },
    { "tiny", "-2.5e-300" },
    { "huge", "1e+300" },
    { "pi", "3.141592653589793" },
    { "nested", "{\"a\":{\"b\":[1,2,{\"c\":null,\"d\":\"é\"}]},\"e\":[]}" },
    { "empty-object", "{}" },
    { "array", "[true,false,null,\"x\",1.5,[[]]]" },
    { "ключ \"quoted\" key", "\"value\"" },
  };
  g_autoptr(GFile) dir = store_dir ("round-trip");
  g_autoptr(GError) error = NULL;
  g_autofree char *cid = NULL;
  Session session = session_open (dir);
  TetherRecord *record;
  TetherRecord *loaded;

  record = tether_record_new ();
  for (guint i = 0; i < G_N_ELEMENTS (values); i++)
    {
      g_autoptr(JsonNode) node = node_from_json (values[i].json);

      tether_record_set_attribute (record, values[i].name, node);
    }
  tether_collection_add (session.collection, record);
  g_object_unref (record);
  cid = g_strdup (tether_record_get_cid (record));

  g_assert_true (save_and_wait (session.store, record, &error));
  g_assert_no_error (error);
  session_close (&session);

  /* From the journal, then from a snapshot. */
  for (guint round = 0; round < 2; round++)
    {
      session = session_open (dir);
      loaded = tether_collection_lookup_cid (session.collection, cid);
      g_assert_nonnull (loaded);

      for (guint i = 0; i < G_N_ELEMENTS (values); i++)
        {
          g_autoptr(JsonNode) expected = node_from_json (values[i].json);
          JsonNode *actual = tether_record_get_attribute (loaded, values[i].name);

          g_assert_nonnull (actual);
          if (!json_node_equal (expected, actual))
            {
              g_autofree char *text = json_to_string (actual, FALSE);

              g_error ("%s: expected %s, got %s", values[i].name, values[i].json, text);
            }
        }

      g_assert_cmpuint (json_object_get_size (tether_record_get_attributes (loaded)), ==,
                        G_N_ELEMENTS (values));

      if (round == 0)
        {
          g_assert_true (compact_and_wait (session.store, &error));
          g_assert_no_error (error);
        }
      session_close (&session);
    }
}

static void
test_bookkeeping (void)
{
  g_autoptr(GFile) dir = store_dir ("bookkeeping");
  g_autoptr(GError) error = NULL;
  g_autoptr(GPtrArray) originals = g_ptr_array_new_with_free_func (g_object_unref);
  g_autoptr(JsonNode) int_id = json_node_init_int (json_node_alloc (), 42);
  g_autoptr(JsonNode) string_id = json_node_init_string (json_node_alloc (), "abc-1");
  g_autoptr(JsonNode) other_id = json_node_init_int (json_node_alloc (), 43);
  g_autoptr(JsonNode) tomb_id = json_node_init_int (json_node_alloc (), 7);
  g_autoptr(JsonNode) attributes_node = node_from_json ("{\"title\":\"server\",\"n\":1}");
  g_autoptr(JsonNode) conflict_node = node_from_json ("{\"title\":{\"theirs\":\"their title\"}}");
  JsonObject *attributes = json_node_get_object (attributes_node);
  Session session = session_open (dir);
  TetherRecord *synced, *errored, *conflicted, *tombstone, *fresh;

  /* Synced, with an integer id, a base and an ETag. */
  synced = tether_record_new_from_server (int_id, attributes);
  tether_record_set_etag (synced, "W/\"etag-1\"");
  tether_collection_add (session.collection, synced);

  /* A string id, local edits on top of a base, then a failed push. */
  errored = tether_record_new_from_server (string_id, attributes);
  tether_collection_add (session.collection, errored);
  tether_record_set_string (errored, "title", "mine");
  tether_record_set_string (errored, "title", "mine again");
  tether_record_set_sync_state (errored, TETHER_SYNC_STATE_ERROR);
  tether_record_set_error_message (errored, "The server said: 422 “Unprocessable”");

  /* A conflict. */
  conflicted = tether_record_new_from_server (other_id, attributes);
  tether_collection_add (session.collection, conflicted);
  tether_record_set_string (conflicted, "title", "my title");
  tether_record_set_conflict (conflicted, json_node_get_object (conflict_node));
  tether_record_set_sync_state (conflicted, TETHER_SYNC_STATE_CONFLICT);

  /* A tombstone: deleted here, the DELETE not pushed yet. */
  tombstone = tether_record_new_from_server (tomb_id, attributes);
  tether_collection_add (session.collection, tombstone);
  g_assert_true (tether_collection_delete (session.collection, tombstone));
  g_assert_cmpint (tether_record_get_sync_state (tombstone), ==, TETHER_SYNC_STATE_DELETED);

  /* New: no id, pending. */
  fresh = tether_record_new ();
  tether_record_set_string (fresh, "title", "new");
  tether_collection_add (session.collection, fresh);

  g_ptr_array_add (originals, synced);
  g_ptr_array_add (originals, errored);
  g_ptr_array_add (originals, conflicted);
  g_ptr_array_add (originals, tombstone);
  g_ptr_array_add (originals, fresh);

  for (guint i = 0; i < originals->len; i++)
    tether_store_save (session.store, g_ptr_array_index (originals, i));
  g_assert_true (flush_and_wait (session.store, &error));
  g_assert_no_error (error);

  /* Keep our own copies: closing lets go of the collection. */
  session_close (&session);

  for (guint round = 0; round < 2; round++)
    {
      TetherRecord *loaded;
      GPtrArray *tombstones;

      session = session_open (dir);
      g_assert_cmpuint (g_list_model_get_n_items (G_LIST_MODEL (session.collection)), ==, 4);
      tombstones = tether_collection_get_tombstones (session.collection);
      g_assert_cmpuint (tombstones->len, ==, 1);

      for (guint i = 0; i < originals->len; i++)
        {
          TetherRecord *original = g_ptr_array_index (originals, i);

          loaded = tether_collection_lookup_cid (session.collection,
                                                 tether_record_get_cid (original));
          g_assert_nonnull (loaded);
          assert_same_record (original, loaded);
          g_assert_cmpint (tether_record_get_sync_state (loaded), ==,
                           tether_record_get_sync_state (original));
          g_assert_cmpuint (tether_record_get_revision (loaded), ==,
                            tether_record_get_revision (original));
          g_assert_cmpstr (tether_record_get_etag (loaded), ==, tether_record_get_etag (original));
          g_assert_cmpstr (tether_record_get_error_message (loaded), ==,
                           tether_record_get_error_message (original));
          g_assert_true ((tether_record_get_id (loaded) == NULL) ==
                         (tether_record_get_id (original) == NULL));
          if (tether_record_get_id (loaded) != NULL)
            g_assert_true (json_node_equal (tether_record_get_id (loaded),
                                            tether_record_get_id (original)));
        }

      g_assert_true (g_ptr_array_index (tombstones, 0) ==
                     tether_collection_lookup_cid (session.collection,
                                                   tether_record_get_cid (tombstone)));

      /* The id kept its JSON type: 42 is not "42". */
      loaded = tether_collection_lookup_cid (session.collection, tether_record_get_cid (synced));
      g_assert_cmpint (json_node_get_value_type (tether_record_get_id (loaded)), ==, G_TYPE_INT64);
      loaded = tether_collection_lookup_cid (session.collection, tether_record_get_cid (errored));
      g_assert_cmpint (json_node_get_value_type (tether_record_get_id (loaded)), ==, G_TYPE_STRING);
      g_assert_cmpuint (tether_record_get_revision (loaded), >=, 2);
      g_assert_nonnull (tether_record_get_base (loaded));
      g_assert_cmpstr (json_object_get_string_member (tether_record_get_base (loaded), "title"), ==,
                       "server");
      loaded = tether_collection_lookup_cid (session.collection, tether_record_get_cid (conflicted));
      g_assert_nonnull (tether_record_get_conflict (loaded));
      loaded = tether_collection_lookup_cid (session.collection, tether_record_get_cid (fresh));
      g_assert_null (tether_record_get_base (loaded));
      g_assert_null (tether_record_get_id (loaded));

      if (round == 0)
        {
          g_assert_true (compact_and_wait (session.store, &error));
          g_assert_no_error (error);
        }
      session_close (&session);
    }
}

static void
test_remove (void)
{
  g_autoptr(GFile) dir = store_dir ("remove");
  g_autoptr(GError) error = NULL;
  g_autofree char *keep = NULL;
  g_autofree char *gone = NULL;
  g_autofree char *never = NULL;
  Session session = session_open (dir);
  TetherRecord *record;

  record = add_record (&session, "keep", 1);
  keep = g_strdup (tether_record_get_cid (record));
  tether_store_save (session.store, record);
  record = add_record (&session, "gone", 2);
  gone = g_strdup (tether_record_get_cid (record));
  tether_store_save (session.store, record);
  g_assert_true (flush_and_wait (session.store, &error));
  g_assert_no_error (error);

  /* Removed after it was written... */
  tether_collection_forget (session.collection,
                            tether_collection_lookup_cid (session.collection, gone));
  tether_store_remove (session.store, gone);

  /* ...and saved then removed within one batch. */
  record = add_record (&session, "never", 3);
  never = g_strdup (tether_record_get_cid (record));
  tether_store_save (session.store, record);
  tether_collection_forget (session.collection, record);
  tether_store_remove (session.store, never);

  g_assert_true (flush_and_wait (session.store, &error));
  g_assert_no_error (error);
  session_close (&session);

  for (guint round = 0; round < 2; round++)
    {
      session = session_open (dir);
      g_assert_nonnull (tether_collection_lookup_cid (session.collection, keep));
      g_assert_null (tether_collection_lookup_cid (session.collection, gone));
      g_assert_null (tether_collection_lookup_cid (session.collection, never));
      g_assert_cmpuint (g_list_model_get_n_items (G_LIST_MODEL (session.collection)), ==, 1);
      if (round == 0)
        g_assert_true (compact_and_wait (session.store, NULL));
      session_close (&session);
    }
}

static void
test_meta (void)
{
  g_autoptr(GFile) dir = store_dir ("meta");
  g_autoptr(GError) error = NULL;
  g_autoptr(JsonNode) etag = json_node_init_string (json_node_alloc (), "W/\"page-1\"");
  g_autoptr(JsonNode) last_sync = json_node_init_int (json_node_alloc (), 1777000000);
  g_autoptr(JsonNode) nested = node_from_json ("{\"pages\":[\"a\",\"b\"],\"n\":2}");
  Session session = session_open (dir);

  g_assert_null (tether_store_get_meta (session.store, "etag:1"));
  tether_store_set_meta (session.store, "etag:1", etag);
  tether_store_set_meta (session.store, "last-sync", last_sync);
  tether_store_set_meta (session.store, "nested", nested);
  tether_store_set_meta (session.store, "gone", last_sync);
  g_assert_true (flush_and_wait (session.store, &error));
  g_assert_no_error (error);
  tether_store_set_meta (session.store, "gone", NULL);
  g_assert_null (tether_store_get_meta (session.store, "gone"));
  g_assert_true (flush_and_wait (session.store, &error));
  g_assert_no_error (error);
  session_close (&session);

  /* From the journal, then from the snapshot's header. */
  for (guint round = 0; round < 2; round++)
    {
      session = session_open (dir);
      g_assert_true (json_node_equal (tether_store_get_meta (session.store, "etag:1"), etag));
      g_assert_true (json_node_equal (tether_store_get_meta (session.store, "last-sync"), last_sync));
      g_assert_true (json_node_equal (tether_store_get_meta (session.store, "nested"), nested));
      g_assert_null (tether_store_get_meta (session.store, "gone"));
      if (round == 0)
        g_assert_true (compact_and_wait (session.store, NULL));
      session_close (&session);
    }
}

/* A change of one meta key writes that key, not every key the store
 * keeps (a pull keeps one per page); journals that hold the whole meta
 * object, as older versions wrote it, still load. */
static void
test_meta_changes_only (void)
{
  g_autoptr(GFile) dir = store_dir ("meta-changes");
  g_autoptr(GError) error = NULL;
  g_autofree char *journal_path = dir_file (dir, "journal.jsonl");
  g_autofree char *journal = NULL;
  g_autoptr(JsonNode) big = NULL;
  g_autoptr(JsonNode) small = json_node_init_string (json_node_alloc (), "W/\"p2\"");
  g_autoptr(GString) text = g_string_new ("[");
  Session session = session_open (dir);
  gsize before, after;
  FILE *file;

  for (guint i = 0; i < 2000; i++)
    g_string_append_printf (text, "%s%u", i > 0 ? "," : "", i);
  g_string_append_c (text, ']');
  big = node_from_json (text->str);

  tether_store_set_meta (session.store, "page:1", big);
  g_assert_true (flush_and_wait (session.store, &error));
  g_assert_no_error (error);
  g_assert_true (g_file_get_contents (journal_path, &journal, &before, NULL));
  g_clear_pointer (&journal, g_free);

  tether_store_set_meta (session.store, "page:2", small);
  g_assert_true (flush_and_wait (session.store, &error));
  g_assert_no_error (error);
  g_assert_true (g_file_get_contents (journal_path, &journal, &after, NULL));
  g_assert_cmpstr (journal + before, ==, "{\"meta-changes\":{\"page:2\":\"W/\\\"p2\\\"\"}}\n");
  g_clear_pointer (&journal, g_free);

  tether_store_set_meta (session.store, "page:1", NULL);
  g_assert_true (flush_and_wait (session.store, &error));
  g_assert_no_error (error);
  session_close (&session);

  /* An older journal's whole-meta line, then a change on top of it. */
  file = fopen (journal_path, "a");
  g_assert_nonnull (file);
  fputs ("{\"meta\":{\"old\":1,\"page:2\":\"replaced\"}}\n"
         "{\"meta-changes\":{\"old\":null,\"new\":true}}\n", file);
  fclose (file);

  for (guint round = 0; round < 2; round++)
    {
      session = session_open (dir);
      g_assert_null (tether_store_get_meta (session.store, "page:1"));
      g_assert_null (tether_store_get_meta (session.store, "old"));
      g_assert_cmpstr (json_node_get_string (tether_store_get_meta (session.store, "page:2")), ==, "replaced");
      g_assert_true (json_node_get_boolean (tether_store_get_meta (session.store, "new")));
      if (round == 0)
        g_assert_true (compact_and_wait (session.store, NULL));
      session_close (&session);
    }
}

static void
count_items_changed_cb (GListModel *model,
                        guint       position,
                        guint       removed,
                        guint       added,
                        guint      *counts)
{
  g_assert_cmpuint (removed, ==, 0);
  counts[0]++;
  counts[1] += added;
}

/* Builds a store of @n records (and @n_tombstones tombstones), as a
 * snapshot when @compact. Returns the cids in order. */
static GPtrArray *
make_store (GFile    *dir,
            guint     n,
            guint     n_tombstones,
            gboolean  compact)
{
  GPtrArray *cids = g_ptr_array_new_with_free_func (g_free);
  g_autoptr(GError) error = NULL;
  Session session = session_open (dir);

  for (guint i = 0; i < n; i++)
    {
      g_autofree char *title = g_strdup_printf ("Record %u", i);
      TetherRecord *record = add_record (&session, title, i);

      tether_record_set_string (record, "text", "Lorem ipsum dolor sit amet, consectetur "
                                "adipiscing elit, sed do eiusmod tempor incididunt ut labore "
                                "et dolore magna aliqua.");
      tether_store_save (session.store, record);
      g_ptr_array_add (cids, g_strdup (tether_record_get_cid (record)));
    }

  for (guint i = 0; i < n_tombstones; i++)
    {
      g_autoptr(JsonNode) id = json_node_init_int (json_node_alloc (), 1000000 + i);
      g_autoptr(JsonObject) attributes = json_object_new ();
      g_autoptr(TetherRecord) record = tether_record_new_from_server (id, attributes);

      tether_collection_add (session.collection, record);
      tether_collection_delete (session.collection, record);
      tether_store_save (session.store, record);
    }

  g_assert_true (flush_and_wait (session.store, &error));
  g_assert_no_error (error);
  if (compact)
    {
      g_assert_true (compact_and_wait (session.store, &error));
      g_assert_no_error (error);
    }
  session_close (&session);

  return cids;
}

static void
test_open_batches (void)
{
  const guint n = 2 * TETHER_STORE_LOAD_BATCH_SIZE + 1;
  const guint n_tombstones = 3;
  g_autoptr(GFile) dir = store_dir ("batches");
  g_autoptr(GPtrArray) cids = make_store (dir, n, n_tombstones, TRUE);
  g_autoptr(TetherStore) store = tether_store_new (dir);
  g_autoptr(TetherCollection) collection = tether_collection_new ();
  g_autoptr(GError) error = NULL;
  guint counts[2] = { 0, 0 };

  g_signal_connect (collection, "items-changed", G_CALLBACK (count_items_changed_cb), counts);
  g_assert_true (open_store (store, collection, &error));
  g_assert_no_error (error);

  /* One items-changed per batch, not per record, and every record in. */
  g_assert_cmpuint (counts[0], ==,
                    (n + n_tombstones + TETHER_STORE_LOAD_BATCH_SIZE - 1) / TETHER_STORE_LOAD_BATCH_SIZE);
  g_assert_cmpuint (counts[1], ==, n);
  g_assert_cmpuint (tether_collection_get_tombstones (collection)->len, ==, n_tombstones);

  /* In the order they were made. */
  for (guint i = 0; i < n; i += 997)
    {
      g_autoptr(TetherRecord) record = g_list_model_get_item (G_LIST_MODEL (collection), i);

      g_assert_cmpstr (tether_record_get_cid (record), ==, g_ptr_array_index (cids, i));
    }

  g_assert_true (tether_store_close (store, &error));
  g_assert_no_error (error);
  g_assert_finalize_object (g_steal_pointer (&store));
  g_assert_finalize_object (g_steal_pointer (&collection));
}

typedef struct
{
  guint64  revision;
  gint64   counter;
  gboolean removing;  /* the child began to remove it */
  gboolean removed;   /* and the removal was durable */
} Expect;

static void
test_crash (void)
{
  g_autoptr(GFile) dir = store_dir ("crash");
  g_autofree char *child_path = g_test_build_filename (G_TEST_BUILT, "store-crash-child", NULL);
  g_autoptr(GHashTable) expect = g_hash_table_new_full (g_str_hash, g_str_equal, g_free, g_free);
  guint iterations = g_test_slow () ? 200 : 30;
  guint n_saves = 0;
  guint n_removals = 0;

  for (guint i = 0; i < iterations; i++)
    {
      g_autoptr(GSubprocess) child = NULL;
      g_autoptr(GDataInputStream) output = NULL;
      g_autoptr(GError) error = NULL;
      g_autofree char *seed = g_strdup_printf ("%u", g_test_rand_int ());
      g_autofree char *ready = NULL;
      g_autoptr(GString) rest = g_string_new (NULL);
      g_auto(GStrv) lines = NULL;
      GHashTableIter iter;
      gpointer key, value;
      Session session;
      char buffer[4096];
      gssize n_read;

      child = g_subprocess_new (G_SUBPROCESS_FLAGS_STDOUT_PIPE, &error,
                                child_path, "saves", g_file_peek_path (dir), seed, NULL);
      g_assert_no_error (error);
      output = g_data_input_stream_new (g_subprocess_get_stdout_pipe (child));

      ready = g_data_input_stream_read_line (output, NULL, NULL, &error);
      g_assert_no_error (error);
      g_assert_cmpstr (ready, ==, "ready");

      /* Anywhere: mid-append, mid-fsync, mid-compaction. */
      g_usleep (1000 * g_test_rand_int_range (1, 101));
      g_subprocess_send_signal (child, SIGKILL);
      g_subprocess_wait (child, NULL, &error);
      g_assert_no_error (error);
      g_assert_true (g_subprocess_get_if_signaled (child));

      while ((n_read = g_input_stream_read (G_INPUT_STREAM (output), buffer, sizeof buffer,
                                            NULL, &error)) > 0)
        g_string_append_len (rest, buffer, n_read);
      g_assert_no_error (error);

      /* A line the kill cut short was never complete: ignore it. */
      lines = g_strsplit (rest->str, "\n", -1);
      for (guint j = 0; lines[j] != NULL && lines[j + 1] != NULL; j++)
        {
          g_auto(GStrv) fields = g_strsplit (lines[j], " ", -1);
          Expect *e = g_hash_table_lookup (expect, fields[1]);

          if (e == NULL)
            {
              e = g_new0 (Expect, 1);
              g_hash_table_insert (expect, g_strdup (fields[1]), e);
            }

          if (g_str_equal (fields[0], "r"))
            {
              e->removing = TRUE;
            }
          else if (g_str_equal (fields[0], "R"))
            {
              g_assert_true (e->removing);
              e->removed = TRUE;
              n_removals++;
            }
          else
            {
              guint64 revision = g_ascii_strtoull (fields[2], NULL, 10);

              g_assert_cmpstr (fields[0], ==, "S");
              if (revision >= e->revision)
                {
                  e->revision = revision;
                  e->counter = g_ascii_strtoll (fields[3], NULL, 10);
                }
              n_saves++;
            }
        }

      /* Every completed save is there, at least as new as reported, and
       * the store opens without a word of damage. */
      session = session_open (dir);

      g_hash_table_iter_init (&iter, expect);
      while (g_hash_table_iter_next (&iter, &key, &value))
        {
          TetherRecord *record = tether_collection_lookup_cid (session.collection, key);
          Expect *e = value;

          if (e->removed)
            {
              g_assert_null (record);
              continue;
            }

          /* A removal that had begun may have become durable before the
           * kill, without the child getting to say so. */
          if (record == NULL && e->removing)
            continue;

          if (record == NULL)
            g_error ("iteration %u: record %s (revision %" G_GUINT64_FORMAT ") was lost",
                     i, (char *) key, e->revision);

          g_assert_cmpuint (tether_record_get_revision (record), >=, e->revision);
          if (tether_record_get_revision (record) == e->revision)
            g_assert_cmpint (get_int (record, "counter"), ==, e->counter);
        }

      session_close (&session);
    }

  g_test_message ("%u saves and %u removals checked over %u kills",
                  n_saves, n_removals, iterations);
  g_assert_cmpuint (n_saves, >, iterations);
}

static void
test_torn_journal (void)
{
  g_autoptr(GFile) dir = store_dir ("torn");
  g_autoptr(GError) error = NULL;
  g_autoptr(GBytes) journal = NULL;
  g_autofree char *half = NULL;
  g_autofree char *fresh = NULL;
  const char *data;
  const char *last_line;
  Session session;
  TetherRecord *record;

  g_ptr_array_unref (make_store (dir, 5, 0, FALSE));
  journal = read_bytes (dir, "journal.jsonl");
  data = g_bytes_get_data (journal, NULL);

  /* A crash in the middle of an append: the first half of a line. */
  last_line = g_strrstr_len (data, g_bytes_get_size (journal) - 1, "\n") + 1;
  half = g_strndup (last_line, strlen (last_line) / 2);
  append_text (dir, "journal.jsonl", half, -1);

  session = session_open (dir);
  g_assert_cmpuint (g_list_model_get_n_items (G_LIST_MODEL (session.collection)), ==, 5);

  /* The next append cuts the torn bytes off first. */
  record = add_record (&session, "after the crash", 6);
  fresh = g_strdup (tether_record_get_cid (record));
  g_assert_true (save_and_wait (session.store, record, &error));
  g_assert_no_error (error);
  session_close (&session);
  assert_journal_clean (dir);

  session = session_open (dir);
  g_assert_cmpuint (g_list_model_get_n_items (G_LIST_MODEL (session.collection)), ==, 6);
  g_assert_nonnull (tether_collection_lookup_cid (session.collection, fresh));
  session_close (&session);

  /* Unreadable whole lines at the very end are a torn append too. */
  append_text (dir, "journal.jsonl", "{\"cid\":\"0000\",\"garbage\n\0\0\0\0\n", 28);
  session = session_open (dir);
  g_assert_cmpuint (g_list_model_get_n_items (G_LIST_MODEL (session.collection)), ==, 6);
  g_assert_true (flush_and_wait (session.store, NULL));
  session_close (&session);

  /* Nothing was reported as damage, so nothing was kept aside. */
  {
    g_autoptr(GDir) listing = g_dir_open (g_file_peek_path (dir), 0, NULL);
    const char *name;

    while ((name = g_dir_read_name (listing)))
      g_assert_null (strstr (name, "damaged"));
  }
}

/* Replaces line @index (0 is the header) of @name with @garbage and
 * returns the damaged content. */
static GBytes *
damage_line (GFile      *dir,
             const char *name,
             guint       index,
             const char *garbage)
{
  g_autoptr(GBytes) bytes = read_bytes (dir, name);
  g_autofree char *text = g_strndup (g_bytes_get_data (bytes, NULL), g_bytes_get_size (bytes));
  g_auto(GStrv) lines = g_strsplit (text, "\n", -1);
  g_autofree char *joined = NULL;

  g_assert_cmpuint (g_strv_length (lines), >, index + 1);
  g_free (lines[index]);
  lines[index] = g_strdup (garbage);
  joined = g_strjoinv ("\n", lines);
  write_bytes (dir, name, joined, -1);

  return g_bytes_new (joined, strlen (joined));
}

static char *
kept_path_from_message (const char *message)
{
  const char *start = strstr (message, "kept as “");
  const char *end;

  g_assert_nonnull (start);
  start += strlen ("kept as “");
  end = strstr (start, "”");
  g_assert_nonnull (end);

  return g_strndup (start, end - start);
}

static void
check_damage (const char *file_name,
              gboolean    compact,
              guint       index,
              const char *garbage,
              guint       n_expected)
{
  g_autofree char *dir_name = g_strdup_printf ("damaged-%s-%u", file_name, index);
  g_autoptr(GFile) dir = store_dir (dir_name);
  g_autoptr(GPtrArray) cids = make_store (dir, 10, 0, compact);
  g_autoptr(GBytes) damaged = damage_line (dir, file_name, index, garbage);
  g_autoptr(GError) error = NULL;
  g_autoptr(GBytes) kept = NULL;
  g_autofree char *kept_path = NULL;
  g_autofree char *kept_name = NULL;
  g_autofree char *expected = g_strdup_printf ("%u records were recovered", n_expected);
  g_autoptr(TetherStore) store = tether_store_new (dir);
  g_autoptr(TetherCollection) collection = tether_collection_new ();
  Session session;
  TetherRecord *record;

  g_assert_false (open_store (store, collection, &error));
  g_assert_error (error, TETHER_STORE_ERROR, TETHER_STORE_ERROR_DAMAGED);
  g_test_message ("%s", error->message);

  /* The message says what was recovered, what was lost, and where the
   * original is, kept byte for byte. */
  g_assert_nonnull (strstr (error->message, expected));
  g_assert_nonnull (strstr (error->message, "1 unreadable line was lost"));
  g_assert_nonnull (strstr (error->message, g_file_peek_path (dir)));
  kept_path = kept_path_from_message (error->message);
  kept_name = g_path_get_basename (kept_path);
  g_assert_true (g_str_has_prefix (kept_name, file_name));
  g_assert_nonnull (strstr (kept_name, ".damaged-"));
  kept = read_bytes (dir, kept_name);
  g_assert_true (g_bytes_equal (kept, damaged));
  g_clear_error (&error);

  /* Open with what could be read, and usable. */
  g_assert_true (tether_store_is_open (store));
  g_assert_cmpuint (g_list_model_get_n_items (G_LIST_MODEL (collection)), ==, n_expected);
  record = tether_record_new ();
  tether_record_set_string (record, "title", "after the damage");
  tether_collection_add (collection, record);
  g_object_unref (record);
  g_assert_true (save_and_wait (store, record, &error));
  g_assert_no_error (error);
  g_assert_true (tether_store_close (store, &error));
  g_assert_no_error (error);
  g_assert_finalize_object (g_steal_pointer (&store));
  g_assert_finalize_object (g_steal_pointer (&collection));

  /* The next open is clean. */
  session = session_open (dir);
  g_assert_cmpuint (g_list_model_get_n_items (G_LIST_MODEL (session.collection)), ==,
                    n_expected + 1);
  for (guint i = 0; i < cids->len; i++)
    if (i + 1 != index || n_expected == cids->len)
      g_assert_nonnull (tether_collection_lookup_cid (session.collection,
                                                      g_ptr_array_index (cids, i)));
  session_close (&session);
}

static void
test_damaged_snapshot (void)
{
  check_damage ("snapshot.jsonl", TRUE, 5, "{\"cid\":\"broken", 9);
}

static void
test_damaged_snapshot_header (void)
{
  /* The header is lost, not the records. */
  check_damage ("snapshot.jsonl", TRUE, 0, "{\"format\":\"tether-st", 10);
}

static void
test_damaged_journal (void)
{
  check_damage ("journal.jsonl", FALSE, 4, "this is not JSON", 9);
}

static void
test_damaged_journal_header (void)
{
  /* Its header gone, the journal's records are still read. */
  check_damage ("journal.jsonl", FALSE, 0, "{\"format\":\"tether-jour", 10);
}

static void
test_locked (void)
{
  g_autoptr(GFile) dir = store_dir ("locked");
  g_autoptr(TetherStore) second = tether_store_new (dir);
  g_autoptr(TetherCollection) collection = tether_collection_new ();
  g_autoptr(GError) error = NULL;
  Session session = session_open (dir);

  /* flock belongs to the open file, so a second store in this process
   * is refused like another process would be. */
  g_assert_false (open_store (second, collection, &error));
  g_assert_error (error, TETHER_STORE_ERROR, TETHER_STORE_ERROR_LOCKED);
  g_assert_nonnull (strstr (error->message, g_file_peek_path (dir)));
  g_assert_nonnull (strstr (error->message, "tether-cli"));
  g_assert_false (tether_store_is_open (second));
  g_clear_error (&error);

  /* The first one is not disturbed. */
  g_assert_true (save_and_wait (session.store, add_record (&session, "x", 1), &error));
  g_assert_no_error (error);
  session_close (&session);

  g_assert_true (open_store (second, collection, &error));
  g_assert_no_error (error);
  g_assert_cmpuint (g_list_model_get_n_items (G_LIST_MODEL (collection)), ==, 1);
  g_assert_true (tether_store_close (second, &error));
  g_assert_finalize_object (g_steal_pointer (&second));
  g_assert_finalize_object (g_steal_pointer (&collection));
}

static void
test_locked_process (void)
{
  g_autoptr(GFile) dir = store_dir ("locked-process");
  g_autofree char *child_path = g_test_build_filename (G_TEST_BUILT, "store-crash-child", NULL);
  g_autoptr(GSubprocess) child = NULL;
  g_autoptr(GDataInputStream) output = NULL;
  g_autoptr(GError) error = NULL;
  g_autofree char *out = NULL;
  g_autofree char *expected = NULL;
  g_autofree char *ready = NULL;
  g_autoptr(TetherStore) store = NULL;
  g_autoptr(TetherCollection) collection = NULL;
  Session session = session_open (dir);

  /* We hold it: the other process is refused. */
  child = g_subprocess_new (G_SUBPROCESS_FLAGS_STDOUT_PIPE, &error,
                            child_path, "open", g_file_peek_path (dir), NULL);
  g_assert_no_error (error);
  g_subprocess_communicate_utf8 (child, NULL, NULL, &out, NULL, &error);
  g_assert_no_error (error);
  expected = g_strdup_printf ("error tether-store-error-quark %d ", TETHER_STORE_ERROR_LOCKED);
  g_assert_true (g_str_has_prefix (out, expected));
  g_assert_nonnull (strstr (out, g_file_peek_path (dir)));
  g_clear_object (&child);
  session_close (&session);

  /* It holds it: we are refused, told which process has it... */
  child = g_subprocess_new (G_SUBPROCESS_FLAGS_STDOUT_PIPE, &error,
                            child_path, "hold", g_file_peek_path (dir), NULL);
  g_assert_no_error (error);
  output = g_data_input_stream_new (g_subprocess_get_stdout_pipe (child));
  ready = g_data_input_stream_read_line (output, NULL, NULL, &error);
  g_assert_no_error (error);
  g_assert_cmpstr (ready, ==, "ready");

  store = tether_store_new (dir);
  collection = tether_collection_new ();
  g_assert_false (open_store (store, collection, &error));
  g_assert_error (error, TETHER_STORE_ERROR, TETHER_STORE_ERROR_LOCKED);
  g_assert_nonnull (strstr (error->message, g_subprocess_get_identifier (child)));
  g_clear_error (&error);

  /* ...and once it dies, however it dies, the store is free. */
  g_subprocess_send_signal (child, SIGKILL);
  g_subprocess_wait (child, NULL, &error);
  g_assert_no_error (error);
  g_assert_true (open_store (store, collection, &error));
  g_assert_no_error (error);
  g_assert_true (tether_store_close (store, &error));
  g_assert_finalize_object (g_steal_pointer (&store));
  g_assert_finalize_object (g_steal_pointer (&collection));
}

static void
check_version (const char *snapshot,
               const char *journal)
{
  g_autoptr(GFile) dir = store_dir ("version");
  g_autoptr(GError) error = NULL;
  g_autoptr(GBytes) snapshot_after = NULL;
  g_autoptr(GBytes) journal_after = NULL;
  g_autoptr(GDir) listing = NULL;
  const char *name;

  g_file_make_directory_with_parents (dir, NULL, NULL);
  if (snapshot != NULL)
    write_bytes (dir, "snapshot.jsonl", snapshot, -1);
  if (journal != NULL)
    write_bytes (dir, "journal.jsonl", journal, -1);

  for (guint round = 0; round < 2; round++)
    {
      g_autoptr(TetherStore) store = tether_store_new (dir);
      g_autoptr(TetherCollection) collection = tether_collection_new ();

      /* Refused every time: VERSION again, not LOCKED, so the lock went. */
      g_assert_false (open_store (store, collection, &error));
      g_assert_error (error, TETHER_STORE_ERROR, TETHER_STORE_ERROR_VERSION);
      g_assert_nonnull (strstr (error->message, "newer version"));
      g_assert_nonnull (strstr (error->message, g_file_peek_path (dir)));
      g_assert_false (tether_store_is_open (store));
      g_assert_cmpuint (g_list_model_get_n_items (G_LIST_MODEL (collection)), ==, 0);
      g_clear_error (&error);
      g_assert_finalize_object (g_steal_pointer (&store));
      g_assert_finalize_object (g_steal_pointer (&collection));
    }

  /* Untouched, and nothing written beside it but the lock. */
  if (snapshot != NULL)
    {
      snapshot_after = read_bytes (dir, "snapshot.jsonl");
      g_assert_cmpmem (snapshot, strlen (snapshot),
                       g_bytes_get_data (snapshot_after, NULL), g_bytes_get_size (snapshot_after));
    }
  if (journal != NULL)
    {
      journal_after = read_bytes (dir, "journal.jsonl");
      g_assert_cmpmem (journal, strlen (journal),
                       g_bytes_get_data (journal_after, NULL), g_bytes_get_size (journal_after));
    }

  listing = g_dir_open (g_file_peek_path (dir), 0, NULL);
  while ((name = g_dir_read_name (listing)))
    g_assert_true (g_str_equal (name, "lock") ||
                   (snapshot != NULL && g_str_equal (name, "snapshot.jsonl")) ||
                   (journal != NULL && g_str_equal (name, "journal.jsonl")));
}

static void
test_version_snapshot (void)
{
  check_version ("{\"format\":\"tether-store\",\"version\":2,\"meta\":{},\"new\":\"thing\"}\n"
                 "{\"something\":\"we do not know\"}\n"
                 "not even JSON\n",
                 NULL);
}

static void
test_version_journal (void)
{
  check_version ("{\"format\":\"tether-store\",\"version\":1,\"meta\":{}}\n",
                 "{\"format\":\"tether-journal\",\"version\":3,\"generation\":\"x\"}\n"
                 "{\"future\":1}\n");
}

/* A write failure: a clear error naming the file, edits kept in memory
 * and written by the next flush once the cause is gone. */
static void
check_write_error (const char *what,
                   void      (*fail) (Session *session, GFile *dir),
                   void      (*heal) (Session *session, GFile *dir),
                   const char *expected_cause)
{
  g_autoptr(GFile) dir = store_dir (what);
  g_autoptr(GPtrArray) cids = make_store (dir, 20, 0, FALSE);
  g_autoptr(GBytes) journal_before = read_bytes (dir, "journal.jsonl");
  g_autoptr(GBytes) journal_failed = NULL;
  g_autoptr(GError) error = NULL;
  g_autoptr(JsonNode) meta = json_node_init_string (json_node_alloc (), "kept");
  g_autofree char *journal_path = dir_file (dir, "journal.jsonl");
  g_autofree char *fresh = NULL;
  Session session = session_open (dir);
  TetherRecord *edited;
  TetherRecord *record;

  edited = tether_collection_lookup_cid (session.collection, g_ptr_array_index (cids, 3));
  tether_record_set_string (edited, "title", "edited while the disk was failing");
  tether_store_set_meta (session.store, "sync", meta);

  fail (&session, dir);

  g_assert_false (save_and_wait (session.store, edited, &error));
  g_assert_error (error, TETHER_STORE_ERROR, TETHER_STORE_ERROR_IO);
  g_test_message ("%s", error->message);
  g_assert_nonnull (strstr (error->message, journal_path));
  g_assert_nonnull (strstr (error->message, expected_cause));
  g_assert_nonnull (tether_store_get_write_error (session.store));
  g_assert_error ((GError *) tether_store_get_write_error (session.store),
                  TETHER_STORE_ERROR, TETHER_STORE_ERROR_IO);
  g_clear_error (&error);

  /* More edits while failing: queued like the first. */
  record = add_record (&session, "made while the disk was failing", 99);
  fresh = g_strdup (tether_record_get_cid (record));
  g_assert_false (save_and_wait (session.store, record, &error));
  g_assert_error (error, TETHER_STORE_ERROR, TETHER_STORE_ERROR_IO);
  g_clear_error (&error);

  /* Whatever half of a batch reached the file was cut off again. */
  journal_failed = read_bytes (dir, "journal.jsonl");
  g_assert_true (g_bytes_equal (journal_before, journal_failed));

  heal (&session, dir);

  g_assert_true (flush_and_wait (session.store, &error));
  g_assert_no_error (error);
  g_assert_null (tether_store_get_write_error (session.store));
  session_close (&session);
  assert_journal_clean (dir);

  session = session_open (dir);
  edited = tether_collection_lookup_cid (session.collection, g_ptr_array_index (cids, 3));
  g_assert_cmpstr (tether_record_get_title (edited), ==, "edited while the disk was failing");
  g_assert_nonnull (tether_collection_lookup_cid (session.collection, fresh));
  g_assert_cmpstr (json_node_get_string (tether_store_get_meta (session.store, "sync")), ==, "kept");
  session_close (&session);
}

static void
fault_enospc (Session *session,
              GFile   *dir)
{
  tether_store_set_write_fault_for_testing (session->store, ENOSPC);
}

static void
fault_clear (Session *session,
             GFile   *dir)
{
  tether_store_set_write_fault_for_testing (session->store, 0);
}

static void
test_write_error_disk_full (void)
{
  check_write_error ("disk-full", fault_enospc, fault_clear, g_strerror (ENOSPC));
}

static void
make_read_only (Session *session,
                GFile   *dir)
{
  g_autofree char *journal = dir_file (dir, "journal.jsonl");

  /* Permissions do not stop root: there the fault hook stands in. */
  if (geteuid () == 0)
    {
      tether_store_set_write_fault_for_testing (session->store, EACCES);
      return;
    }

  g_assert_no_errno (g_chmod (journal, 0444));
  g_assert_no_errno (g_chmod (g_file_peek_path (dir), 0555));
}

static void
make_writable (Session *session,
               GFile   *dir)
{
  g_autofree char *journal = dir_file (dir, "journal.jsonl");

  tether_store_set_write_fault_for_testing (session->store, 0);
  g_assert_no_errno (g_chmod (g_file_peek_path (dir), 0755));
  g_assert_no_errno (g_chmod (journal, 0644));
}

static void
test_write_error_read_only (void)
{
  check_write_error ("read-only", make_read_only, make_writable, g_strerror (EACCES));
}

static struct rlimit saved_fsize;

static void
limit_file_size (Session *session,
                 GFile   *dir)
{
  g_autofree char *journal = dir_file (dir, "journal.jsonl");
  struct rlimit limit;
  GStatBuf st;

  /* A real failure that root cannot ignore: the kernel lets the append
   * write a few bytes, then refuses the rest with EFBIG. */
  g_assert_no_errno (g_stat (journal, &st));
  g_assert_no_errno (getrlimit (RLIMIT_FSIZE, &saved_fsize));
  limit = saved_fsize;
  limit.rlim_cur = st.st_size + 10;
  signal (SIGXFSZ, SIG_IGN);
  g_assert_no_errno (setrlimit (RLIMIT_FSIZE, &limit));
}

static void
unlimit_file_size (Session *session,
                   GFile   *dir)
{
  g_assert_no_errno (setrlimit (RLIMIT_FSIZE, &saved_fsize));
}

static void
test_write_error_file_size (void)
{
  check_write_error ("file-size", limit_file_size, unlimit_file_size, g_strerror (EFBIG));
}

static void
test_compact (void)
{
  g_autoptr(GFile) dir = store_dir ("compact");
  g_autoptr(GPtrArray) cids = make_store (dir, 1000, 0, FALSE);
  g_autoptr(GPtrArray) during = g_ptr_array_new_with_free_func (g_free);
  g_autoptr(GAsyncResult) compacted = NULL;
  g_autoptr(GError) error = NULL;
  g_autoptr(GBytes) journal = NULL;
  g_autoptr(GBytes) snapshot = NULL;
  g_autoptr(GBytes) header = NULL;
  g_autoptr(GPtrArray) lines = g_ptr_array_new_with_free_func ((GDestroyNotify) g_bytes_unref);
  g_autofree char *removed = NULL;
  Session session = session_open (dir);
  guint n_during = 0;

  /* Saves, removals and new records while the snapshot is written. */
  tether_store_compact_async (session.store, NULL, result_cb, &compacted);
  removed = g_strdup (g_ptr_array_index (cids, 10));
  tether_collection_forget (session.collection,
                            tether_collection_lookup_cid (session.collection, removed));
  tether_store_remove (session.store, removed);
  while (compacted == NULL || n_during < 5)
    {
      g_autofree char *title = g_strdup_printf ("during %u", n_during);
      /* Past the removed record (index 10), however long the
       * compaction takes on a loaded machine. */
      TetherRecord *edited = tether_collection_lookup_cid (session.collection,
                                                           g_ptr_array_index (cids, 100 + n_during % 800));
      TetherRecord *record = add_record (&session, title, n_during);

      tether_record_set_string (edited, "title", title);
      tether_store_save (session.store, edited);
      g_ptr_array_add (during, g_strdup (tether_record_get_cid (record)));
      g_assert_true (save_and_wait (session.store, record, &error));
      g_assert_no_error (error);
      n_during++;
    }
  g_assert_true (tether_store_compact_finish (session.store, compacted, &error));
  g_assert_no_error (error);
  g_clear_object (&compacted);

  for (guint i = 0; i < g_list_model_get_n_items (G_LIST_MODEL (session.collection)); i++)
    {
      g_autoptr(TetherRecord) record = g_list_model_get_item (G_LIST_MODEL (session.collection), i);

      g_ptr_array_add (lines, tether_record_serialize (record));
    }
  session_close (&session);

  /* The journal holds its header and only what came after the
   * collection point. */
  journal = read_bytes (dir, "journal.jsonl");
  snapshot = read_bytes (dir, "snapshot.jsonl");
  g_test_message ("journal %zu bytes, snapshot %zu bytes, %u saves during the compaction",
                  g_bytes_get_size (journal), g_bytes_get_size (snapshot), n_during);
  g_assert_cmpuint (g_bytes_get_size (journal), <, 2 * 400 * (n_during + 2));
  assert_journal_clean (dir);

  /* Reloading gives the same records, in the same order. */
  for (guint round = 0; round < 2; round++)
    {
      session = session_open (dir);
      g_assert_cmpuint (g_list_model_get_n_items (G_LIST_MODEL (session.collection)), ==, lines->len);
      for (guint i = 0; i < lines->len; i++)
        {
          g_autoptr(TetherRecord) record = g_list_model_get_item (G_LIST_MODEL (session.collection), i);
          g_autoptr(GBytes) line = tether_record_serialize (record);

          g_assert_true (g_bytes_equal (line, g_ptr_array_index (lines, i)));
        }
      g_assert_null (tether_collection_lookup_cid (session.collection, removed));
      for (guint i = 0; i < during->len; i++)
        g_assert_nonnull (tether_collection_lookup_cid (session.collection,
                                                        g_ptr_array_index (during, i)));

      /* A second compaction with nothing new leaves a bare journal. */
      g_assert_true (compact_and_wait (session.store, &error));
      g_assert_no_error (error);
      session_close (&session);

      g_clear_pointer (&journal, g_bytes_unref);
      journal = read_bytes (dir, "journal.jsonl");
      header = g_bytes_new_static ("{\"format\":\"tether-journal\"", 26);
      g_assert_cmpmem (g_bytes_get_data (journal, NULL), 26, g_bytes_get_data (header, NULL), 26);
      g_assert_cmpuint (g_bytes_get_size (journal), <, 100);
      g_clear_pointer (&header, g_bytes_unref);
    }
}

static void
test_compact_auto (void)
{
  g_autoptr(GFile) dir = store_dir ("compact-auto");
  g_autoptr(GPtrArray) cids = NULL;
  g_autoptr(GBytes) journal = NULL;
  g_autoptr(GBytes) snapshot = NULL;
  Session session;

  /* One batch of more than 4 MiB with no snapshot yet: the store compacts
   * by itself, and closing waits for it. */
  cids = make_store (dir, 15000, 0, FALSE);
  journal = read_bytes (dir, "journal.jsonl");
  snapshot = read_bytes (dir, "snapshot.jsonl");
  g_test_message ("journal %zu bytes, snapshot %zu bytes",
                  g_bytes_get_size (journal), g_bytes_get_size (snapshot));
  g_assert_cmpuint (g_bytes_get_size (journal), <, 100);
  g_assert_cmpuint (g_bytes_get_size (snapshot), >, 4 * 1024 * 1024);

  session = session_open (dir);
  g_assert_cmpuint (g_list_model_get_n_items (G_LIST_MODEL (session.collection)), ==, 15000);
  g_assert_nonnull (tether_collection_lookup_cid (session.collection, g_ptr_array_index (cids, 14999)));
  session_close (&session);
}

/* The instant between the new snapshot's rename and the journal swap:
 * the old journal is still there and must not be applied again over the
 * newer states the snapshot holds. */
static void
test_compact_crash_window (void)
{
  g_autoptr(GFile) dir = store_dir ("compact-window");
  g_autoptr(GPtrArray) cids = make_store (dir, 20, 0, FALSE);
  g_autoptr(GBytes) old_journal = NULL;
  g_autoptr(GBytes) tail_line = NULL;
  g_autoptr(GError) error = NULL;
  g_autoptr(GString) tail = NULL;
  Session session = session_open (dir);
  TetherRecord *record;

  /* A state newer than the journal's, never saved: only the snapshot has
   * it. And a record forgotten without a removal line. */
  record = tether_collection_lookup_cid (session.collection, g_ptr_array_index (cids, 0));
  tether_record_set_string (record, "title", "only in the snapshot");
  tether_collection_forget (session.collection,
                            tether_collection_lookup_cid (session.collection,
                                                          g_ptr_array_index (cids, 1)));
  old_journal = read_bytes (dir, "journal.jsonl");
  g_assert_true (compact_and_wait (session.store, &error));
  g_assert_no_error (error);

  /* And a save written after the collection point. */
  record = tether_collection_lookup_cid (session.collection, g_ptr_array_index (cids, 2));
  tether_record_set_string (record, "title", "after the collection point");
  tail_line = tether_record_serialize (record);
  session_close (&session);

  /* Put the old journal back, with that save appended to it. */
  tail = g_string_new_len (g_bytes_get_data (old_journal, NULL), g_bytes_get_size (old_journal));
  g_string_append_len (tail, g_bytes_get_data (tail_line, NULL), g_bytes_get_size (tail_line));
  g_string_append_c (tail, '\n');
  write_bytes (dir, "journal.jsonl", tail->str, tail->len);

  session = session_open (dir);
  record = tether_collection_lookup_cid (session.collection, g_ptr_array_index (cids, 0));
  g_assert_cmpstr (tether_record_get_title (record), ==, "only in the snapshot");
  g_assert_null (tether_collection_lookup_cid (session.collection, g_ptr_array_index (cids, 1)));
  record = tether_collection_lookup_cid (session.collection, g_ptr_array_index (cids, 2));
  g_assert_cmpstr (tether_record_get_title (record), ==, "after the collection point");
  g_assert_cmpuint (g_list_model_get_n_items (G_LIST_MODEL (session.collection)), ==, 19);
  session_close (&session);
}

static void
test_cost (void)
{
  g_autoptr(GFile) dir = store_dir ("cost");
  g_autoptr(GPtrArray) cids = make_store (dir, 10000, 0, TRUE);
  g_autoptr(GBytes) line = NULL;
  g_autoptr(GError) error = NULL;
  Session session = session_open (dir);
  TetherRecord *record;
  guint64 before;
  guint64 cost;

  for (guint i = 0; i < 3; i++)
    {
      record = tether_collection_lookup_cid (session.collection, g_ptr_array_index (cids, 5000 + i));
      tether_record_set_string (record, "title", "one small edit");
      g_clear_pointer (&line, g_bytes_unref);
      line = tether_record_serialize (record);

      before = tether_store_get_bytes_written (session.store);
      g_assert_true (save_and_wait (session.store, record, &error));
      g_assert_no_error (error);
      cost = tether_store_get_bytes_written (session.store) - before;

      /* The record's line and its newline, whatever the store's size. */
      g_test_message ("saving a %zu-byte record wrote %" G_GUINT64_FORMAT " bytes",
                      g_bytes_get_size (line), cost);
      g_assert_cmpuint (cost, >=, g_bytes_get_size (line));
      g_assert_cmpuint (cost, <, 2 * g_bytes_get_size (line));
    }

  session_close (&session);
}

static void
test_group_commit (void)
{
  g_autoptr(GFile) dir = store_dir ("group");
  g_autoptr(GPtrArray) results = g_ptr_array_new_with_free_func (g_free);
  g_autoptr(GError) error = NULL;
  Session session = session_open (dir);
  guint commits;

  /* Fifty saves in one main-loop iteration: one write, one fsync. */
  for (guint i = 0; i < 50; i++)
    {
      GAsyncResult **result = g_new0 (GAsyncResult *, 1);

      g_ptr_array_add (results, result);
      tether_store_save_async (session.store, add_record (&session, "x", i), NULL, result_cb, result);
    }
  for (guint i = 0; i < results->len; i++)
    {
      GAsyncResult **result = g_ptr_array_index (results, i);

      wait_for (result);
      g_assert_true (tether_store_save_finish (session.store, *result, &error));
      g_assert_no_error (error);
      g_clear_object (result);
    }
  g_assert_cmpuint (tether_store_get_n_commits_for_testing (session.store), ==, 1);

  /* Saves made while a write is in flight gather for the next one. */
  commits = tether_store_get_n_commits_for_testing (session.store);
  g_ptr_array_set_size (results, 0);
  for (guint i = 0; i < 21; i++)
    {
      GAsyncResult **result = g_new0 (GAsyncResult *, 1);

      g_ptr_array_add (results, result);
      tether_store_save_async (session.store, add_record (&session, "y", i), NULL, result_cb, result);

      /* Starts the first write. */
      if (i == 0)
        g_main_context_iteration (NULL, FALSE);
    }
  for (guint i = 0; i < results->len; i++)
    {
      GAsyncResult **result = g_ptr_array_index (results, i);

      wait_for (result);
      g_assert_true (tether_store_save_finish (session.store, *result, &error));
      g_clear_object (result);
    }
  g_assert_cmpuint (tether_store_get_n_commits_for_testing (session.store), ==, commits + 2);

  session_close (&session);
}

static void
test_closed (void)
{
  g_autoptr(GFile) dir = store_dir ("closed");
  g_autoptr(TetherStore) store = tether_store_new (dir);
  g_autoptr(TetherRecord) record = tether_record_new ();
  g_autoptr(GError) error = NULL;

  g_assert_false (tether_store_is_open (store));
  g_assert_true (g_file_equal (tether_store_get_directory (store), dir));

  g_assert_false (tether_store_flush (store, &error));
  g_assert_error (error, TETHER_STORE_ERROR, TETHER_STORE_ERROR_CLOSED);
  g_clear_error (&error);

  g_assert_false (flush_and_wait (store, &error));
  g_assert_error (error, TETHER_STORE_ERROR, TETHER_STORE_ERROR_CLOSED);
  g_clear_error (&error);

  g_assert_false (compact_and_wait (store, &error));
  g_assert_error (error, TETHER_STORE_ERROR, TETHER_STORE_ERROR_CLOSED);
  g_clear_error (&error);

  g_assert_false (save_and_wait (store, record, &error));
  g_assert_error (error, TETHER_STORE_ERROR, TETHER_STORE_ERROR_CLOSED);
  g_clear_error (&error);

  g_assert_true (tether_store_close (store, &error));
  g_assert_true (tether_store_close (store, &error));
  g_assert_no_error (error);
  g_assert_finalize_object (g_steal_pointer (&store));
}

static void
close_in_flush_cb (GObject      *object,
                   GAsyncResult *result,
                   gpointer      user_data)
{
  gboolean *closed = user_data;
  g_autoptr(GError) error = NULL;

  g_assert_true (tether_store_flush_finish (TETHER_STORE (object), result, &error));
  g_assert_no_error (error);
  g_assert_true (tether_store_close (TETHER_STORE (object), &error));
  g_assert_no_error (error);
  *closed = TRUE;
}

/* Closing the store from the callback of a flush: the write that
 * completed the flush must not look at the store's journal afterwards. */
static void
test_close_in_flush (void)
{
  g_autoptr(GFile) dir = store_dir ("close-in-flush");
  g_autoptr(TetherStore) store = tether_store_new (dir);
  g_autoptr(TetherCollection) collection = tether_collection_new ();
  g_autoptr(TetherCollection) reopened = tether_collection_new ();
  g_autoptr(GError) error = NULL;
  gboolean closed = FALSE;

  g_assert_true (open_store (store, collection, &error));
  g_assert_no_error (error);

  for (guint i = 0; i < 10; i++)
    {
      g_autoptr(TetherRecord) record = tether_record_new ();
      g_autofree char *title = g_strdup_printf ("Record %u", i);

      tether_record_set_string (record, "title", title);
      tether_collection_add (collection, record);
      tether_store_save (store, record);
    }

  tether_store_flush_async (store, NULL, close_in_flush_cb, &closed);
  while (!closed)
    g_main_context_iteration (NULL, TRUE);
  g_assert_false (tether_store_is_open (store));

  /* Everything flushed is there. */
  g_clear_object (&store);
  store = tether_store_new (dir);
  g_assert_true (open_store (store, reopened, &error));
  g_assert_no_error (error);
  g_assert_cmpuint (g_list_model_get_n_items (G_LIST_MODEL (reopened)), ==, 10);
  g_assert_true (tether_store_close (store, &error));
}

static void
test_close_while_opening (void)
{
  g_autoptr(GFile) dir = store_dir ("close-opening");
  g_autoptr(TetherStore) store = NULL;
  g_autoptr(TetherCollection) collection = tether_collection_new ();
  g_autoptr(GAsyncResult) result = NULL;
  g_autoptr(GError) error = NULL;
  Session session;

  g_ptr_array_unref (make_store (dir, 5000, 0, TRUE));
  store = tether_store_new (dir);

  /* Closing an opening store cancels the open (unless it won the race)
   * and lets go of the lock. */
  tether_store_open_async (store, collection, NULL, result_cb, &result);
  g_assert_true (tether_store_close (store, &error));
  g_assert_no_error (error);
  wait_for (&result);
  if (!tether_store_open_finish (store, result, &error))
    g_assert_error (error, G_IO_ERROR, G_IO_ERROR_CANCELLED);
  g_assert_false (tether_store_is_open (store));
  g_clear_object (&result);
  g_assert_finalize_object (g_steal_pointer (&store));
  g_assert_finalize_object (g_steal_pointer (&collection));

  session = session_open (dir);
  g_assert_cmpuint (g_list_model_get_n_items (G_LIST_MODEL (session.collection)), ==, 5000);
  session_close (&session);
}

static void
test_blocking (void)
{
  g_autoptr(GFile) dir = store_dir ("blocking");
  g_autoptr(GPtrArray) cids = make_store (dir, 10, 0, FALSE);
  g_autoptr(TetherStore) store = tether_store_new (dir);
  g_autoptr(TetherCollection) collection = tether_collection_new ();
  g_autoptr(GError) error = NULL;
  TetherRecord *record;

  /* tether-cli's way: no main loop of its own. */
  g_assert_true (tether_store_open (store, collection, &error));
  g_assert_no_error (error);
  g_assert_cmpuint (g_list_model_get_n_items (G_LIST_MODEL (collection)), ==, 10);

  record = tether_collection_lookup_cid (collection, g_ptr_array_index (cids, 0));
  tether_record_set_string (record, "title", "blocking");
  tether_store_save (store, record);
  g_assert_true (tether_store_flush (store, &error));
  g_assert_no_error (error);

  /* Dropping the last reference closes too, writing what is queued. */
  record = tether_collection_lookup_cid (collection, g_ptr_array_index (cids, 1));
  tether_record_set_string (record, "title", "closed by dispose");
  tether_store_save (store, record);
  g_assert_finalize_object (g_steal_pointer (&store));
  g_assert_finalize_object (g_steal_pointer (&collection));

  store = tether_store_new (dir);
  collection = tether_collection_new ();
  g_assert_true (tether_store_open (store, collection, &error));
  record = tether_collection_lookup_cid (collection, g_ptr_array_index (cids, 0));
  g_assert_cmpstr (tether_record_get_title (record), ==, "blocking");
  record = tether_collection_lookup_cid (collection, g_ptr_array_index (cids, 1));
  g_assert_cmpstr (tether_record_get_title (record), ==, "closed by dispose");
  g_assert_true (tether_store_close (store, &error));
  g_assert_finalize_object (g_steal_pointer (&store));
  g_assert_finalize_object (g_steal_pointer (&collection));
}

int
main (int   argc,
      char *argv[])
{
  int ret;

  tether_test_init (&argc, &argv);

  main_loop = g_main_loop_new (NULL, FALSE);

  g_test_add_func ("/store/default-directory", test_default_directory);
  g_test_add_func ("/store/round-trip", test_round_trip);
  g_test_add_func ("/store/bookkeeping", test_bookkeeping);
  g_test_add_func ("/store/remove", test_remove);
  g_test_add_func ("/store/meta", test_meta);
  g_test_add_func ("/store/meta-changes-only", test_meta_changes_only);
  g_test_add_func ("/store/open-batches", test_open_batches);
  g_test_add_func ("/store/crash", test_crash);
  g_test_add_func ("/store/torn-journal", test_torn_journal);
  g_test_add_func ("/store/damaged/snapshot", test_damaged_snapshot);
  g_test_add_func ("/store/damaged/snapshot-header", test_damaged_snapshot_header);
  g_test_add_func ("/store/damaged/journal", test_damaged_journal);
  g_test_add_func ("/store/damaged/journal-header", test_damaged_journal_header);
  g_test_add_func ("/store/locked/same-process", test_locked);
  g_test_add_func ("/store/locked/other-process", test_locked_process);
  g_test_add_func ("/store/version/snapshot", test_version_snapshot);
  g_test_add_func ("/store/version/journal", test_version_journal);
  g_test_add_func ("/store/write-error/disk-full", test_write_error_disk_full);
  g_test_add_func ("/store/write-error/read-only", test_write_error_read_only);
  g_test_add_func ("/store/write-error/file-size-limit", test_write_error_file_size);
  g_test_add_func ("/store/compact", test_compact);
  g_test_add_func ("/store/compact-auto", test_compact_auto);
  g_test_add_func ("/store/compact-crash-window", test_compact_crash_window);
  g_test_add_func ("/store/cost", test_cost);
  g_test_add_func ("/store/group-commit", test_group_commit);
  g_test_add_func ("/store/closed", test_closed);
  g_test_add_func ("/store/close-while-opening", test_close_while_opening);
  g_test_add_func ("/store/close-in-flush", test_close_in_flush);
  g_test_add_func ("/store/blocking", test_blocking);

  ret = g_test_run ();

  g_main_loop_unref (main_loop);

  return ret;
}
