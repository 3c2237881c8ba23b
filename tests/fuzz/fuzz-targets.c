/* fuzz-targets.c
 *
 * Copyright 2026 The Tether authors
 *
 * SPDX-License-Identifier: GPL-3.0-or-later
 */

#include "config.h"

#include <math.h>
#include <stdlib.h>
#include <string.h>

#include <glib/gstdio.h>
#include <libsoup/soup.h>

#include "tether-account.h"
#include "tether-cli-args.h"
#include "tether-collection.h"
#include "tether-json-scan.h"
#include "tether-record.h"
#include "tether-remote.h"
#include "tether-store.h"

#include "fuzz-targets.h"

/* What the store targets put beside the fuzzed file, as Tether wrote them
 * (and as in the seed corpora): a compacted store's snapshot, and the
 * journal it appended to since. The snapshot names the journal before
 * compaction; corpus/fuzz-store-journal/ has that one too, whose lines the
 * snapshot already holds. */
static const char fixed_journal[] =
  "{\"format\":\"tether-journal\",\"version\":1,"
  "\"generation\":\"5db27337-5c3c-44ac-b3b0-2079f688ba8b\"}\n"
  "{\"cid\":\"6576d3b6-078f-4262-8181-24bb55ef5b45\",\"id\":null,\"state\":\"pending\","
  "\"rev\":2,\"modified\":\"2026-11-22T13:34:23.211995Z\",\"etag\":null,\"error\":null,"
  "\"attributes\":{\"name\":\"Nouveau \303\251l\303\251ment \342\230\203\",\"n\":-7},"
  "\"base\":null,\"conflict\":null}\n"
  "{\"cid\":\"e8eac949-6855-40e7-a21f-6f574e96316d\",\"id\":1,\"state\":\"pending\","
  "\"rev\":2,\"modified\":\"2026-11-22T13:34:23.212059Z\",\"etag\":null,\"error\":null,"
  "\"attributes\":{\"title\":\"Buy oat milk\",\"done\":true,\"count\":2,\"price\":1.25,"
  "\"tags\":[\"a\",\"b\"]},\"base\":{\"title\":\"Buy bread\",\"done\":false,\"count\":2,"
  "\"price\":1.25,\"tags\":[\"a\"]},\"conflict\":null}\n"
  "{\"remove\":\"81840e5f-ec54-4c17-b397-84de8e491fa3\"}\n"
  "{\"meta\":{\"last-sync\":\"2026-04-24T09:00:00Z\",\"etag:1\":\"W/\\\"10-xyz\\\"\"}}\n";

static const char fixed_snapshot[] =
  "{\"format\":\"tether-store\",\"version\":1,"
  "\"journal\":{\"generation\":\"a81fcaf8-46b2-4f82-9d23-bc6eda2fd6b4\",\"offset\":1516},"
  "\"meta\":{\"last-sync\":\"2026-04-24T09:00:00Z\"}}\n"
  "{\"cid\":\"e8eac949-6855-40e7-a21f-6f574e96316d\",\"id\":1,\"state\":\"pending\","
  "\"rev\":1,\"modified\":\"2026-11-22T13:34:23.207498Z\",\"etag\":null,\"error\":null,"
  "\"attributes\":{\"title\":\"Buy milk\",\"done\":true,\"count\":2,\"price\":1.25,"
  "\"tags\":[\"a\",\"b\"]},\"base\":{\"title\":\"Buy bread\",\"done\":false,\"count\":2,"
  "\"price\":1.25,\"tags\":[\"a\"]},\"conflict\":null}\n"
  "{\"cid\":\"81840e5f-ec54-4c17-b397-84de8e491fa3\",\"id\":\"abc\",\"state\":\"synced\","
  "\"rev\":0,\"modified\":null,\"etag\":null,\"error\":null,"
  "\"attributes\":{\"title\":\"Old\"},\"base\":{\"title\":\"Old\"},\"conflict\":null}\n"
  "{\"cid\":\"e7cbb479-8bf5-4d6d-baa2-8340c4d02040\",\"id\":2,\"state\":\"deleted\","
  "\"rev\":0,\"modified\":null,\"etag\":null,"
  "\"error\":\"The server is having trouble (503 Service Unavailable).\","
  "\"attributes\":{\"title\":\"Gone\",\"nested\":{\"k\":[1,2.5,null,\"x\"]}},"
  "\"base\":{\"title\":\"Gone\",\"nested\":{\"k\":[1,2.5,null,\"x\"]}},\"conflict\":null}\n";

/* The deepest attributes, base or conflict object the store writes as it
 * is: with the record around it, TETHER_JSON_SCAN_MAX_DEPTH levels. Deeper
 * values are written as null, with a warning (tether-record.c); the round
 * trips skip them. */
#define STORABLE_DEPTH (TETHER_JSON_SCAN_MAX_DEPTH - 1)

#define FUZZ_SECRET "s3cr3t-fuzz-token"

static char *work_dir;
static char *store_path;

/* TETHER_FUZZ_VERBOSE=1 tells what each input led to, for a look at one
 * input by hand: build-fuzz/tests/fuzz/fuzz-reply-page FILE. */
static gboolean verbose;

#define fuzz_trace(...)                                                 \
  G_STMT_START {                                                        \
    if (G_UNLIKELY (verbose))                                           \
      g_printerr (__VA_ARGS__);                                         \
  } G_STMT_END

/* abort() rather than g_error(): GLib stops a fatal message with SIGTRAP,
 * which libFuzzer does not catch, so it would save no crashing input. */
#define fuzz_assert(cond, ...)                                          \
  G_STMT_START {                                                        \
    if (G_UNLIKELY (!(cond)))                                           \
      {                                                                 \
        g_autofree char *fuzz_message = g_strdup_printf (__VA_ARGS__);  \
                                                                        \
        g_printerr ("%s:%d: check failed: %s: %s\n",                    \
                    __FILE__, __LINE__, #cond, fuzz_message);           \
        abort ();                                                       \
      }                                                                 \
  } G_STMT_END

/* Setup */

static GLogWriterOutput
quiet_writer_cb (GLogLevelFlags   log_level,
                 const GLogField *fields,
                 gsize            n_fields,
                 gpointer         user_data)
{
  /* The store reports damage with g_message(), and most inputs are
   * damage: that is only noise. */
  if (log_level & (G_LOG_LEVEL_MESSAGE | G_LOG_LEVEL_INFO | G_LOG_LEVEL_DEBUG))
    return G_LOG_WRITER_HANDLED;

  g_log_writer_default (log_level, fields, n_fields, user_data);

  /* See fuzz_assert(). (g_log() hands the writer its message without the
   * fatal flag, and stops the program itself.) */
  if (log_level & (G_LOG_FLAG_FATAL | G_LOG_LEVEL_ERROR | G_LOG_LEVEL_CRITICAL | G_LOG_LEVEL_WARNING))
    abort ();

  return G_LOG_WRITER_HANDLED;
}

static void
remove_tree (const char *path)
{
  g_autoptr(GDir) dir = g_dir_open (path, 0, NULL);
  const char *name;

  if (dir != NULL)
    {
      while ((name = g_dir_read_name (dir)) != NULL)
        {
          g_autofree char *child = g_build_filename (path, name, NULL);

          if (g_file_test (child, G_FILE_TEST_IS_DIR) &&
              !g_file_test (child, G_FILE_TEST_IS_SYMLINK))
            remove_tree (child);
          else
            g_unlink (child);
        }
    }

  g_rmdir (path);
}

static void
remove_work_dir (void)
{
  if (work_dir != NULL)
    remove_tree (work_dir);
}

void
tether_fuzz_init (void)
{
  g_autoptr(GError) error = NULL;

  if (work_dir != NULL)
    return;

  g_log_set_always_fatal (G_LOG_FATAL_MASK | G_LOG_LEVEL_WARNING | G_LOG_LEVEL_CRITICAL);
  g_log_set_writer_func (quiet_writer_cb, NULL, NULL);

  work_dir = g_dir_make_tmp ("tether-fuzz-XXXXXX", &error);
  if (work_dir == NULL)
    g_error ("Cannot make a working directory: %s", error->message);
  store_path = g_build_filename (work_dir, "store", NULL);
  atexit (remove_work_dir);

  verbose = g_getenv ("TETHER_FUZZ_VERBOSE") != NULL;
}

/* JSON as the store keeps it */

/* Whether @node holds containers nested deeper than @limit (a scalar is
 * at depth 0, [1] at 1). It looks no deeper than @limit, so it does not
 * recurse more than json-glib's nesting allows. */
static gboolean
json_deeper_than (JsonNode *node,
                  guint     limit)
{
  if (!JSON_NODE_HOLDS_OBJECT (node) && !JSON_NODE_HOLDS_ARRAY (node))
    return FALSE;

  if (limit == 0)
    return TRUE;

  if (JSON_NODE_HOLDS_OBJECT (node))
    {
      JsonObjectIter iter;
      const char *name;
      JsonNode *member;

      json_object_iter_init (&iter, json_node_get_object (node));
      while (json_object_iter_next (&iter, &name, &member))
        if (json_deeper_than (member, limit - 1))
          return TRUE;
    }
  else
    {
      JsonArray *array = json_node_get_array (node);

      for (guint i = 0; i < json_array_get_length (array); i++)
        if (json_deeper_than (json_array_get_element (array, i), limit - 1))
          return TRUE;
    }

  return FALSE;
}

/* Whether @stored is what the store may make of @original: the same
 * value, except that a non-finite double becomes null and invalid UTF-8
 * is repaired (both documented in tether-record.c). */
static gboolean
json_stored_equal (JsonNode *original,
                   JsonNode *stored)
{
  if (original == NULL || stored == NULL)
    return original == stored;

  if (JSON_NODE_HOLDS_VALUE (original) &&
      json_node_get_value_type (original) == G_TYPE_DOUBLE &&
      !isfinite (json_node_get_double (original)))
    return JSON_NODE_HOLDS_NULL (stored);

  if (JSON_NODE_TYPE (original) != JSON_NODE_TYPE (stored))
    return FALSE;

  switch (JSON_NODE_TYPE (original))
    {
    case JSON_NODE_OBJECT:
      {
        JsonObject *a = json_node_get_object (original);
        JsonObject *b = json_node_get_object (stored);
        JsonObjectIter iter;
        const char *name;
        JsonNode *member;

        if (json_object_get_size (a) != json_object_get_size (b))
          return FALSE;

        json_object_iter_init (&iter, a);
        while (json_object_iter_next (&iter, &name, &member))
          {
            g_autofree char *valid = g_utf8_make_valid (name, -1);

            if (!json_stored_equal (member, json_object_get_member (b, valid)))
              return FALSE;
          }

        return TRUE;
      }

    case JSON_NODE_ARRAY:
      {
        JsonArray *a = json_node_get_array (original);
        JsonArray *b = json_node_get_array (stored);

        if (json_array_get_length (a) != json_array_get_length (b))
          return FALSE;

        for (guint i = 0; i < json_array_get_length (a); i++)
          if (!json_stored_equal (json_array_get_element (a, i), json_array_get_element (b, i)))
            return FALSE;

        return TRUE;
      }

    case JSON_NODE_VALUE:
      if (json_node_get_value_type (original) != json_node_get_value_type (stored))
        return FALSE;

      switch (json_node_get_value_type (original))
        {
        case G_TYPE_INT64:
          return json_node_get_int (original) == json_node_get_int (stored);

        case G_TYPE_DOUBLE:
          return json_node_get_double (original) == json_node_get_double (stored);

        case G_TYPE_BOOLEAN:
          return json_node_get_boolean (original) == json_node_get_boolean (stored);

        case G_TYPE_STRING:
          {
            g_autofree char *valid = g_utf8_make_valid (json_node_get_string (original), -1);

            return g_strcmp0 (valid, json_node_get_string (stored)) == 0;
          }

        default:
          return FALSE;
        }

    case JSON_NODE_NULL:
    default:
      return TRUE;
    }
}

static gboolean
json_object_stored_equal (JsonObject *original,
                          JsonObject *stored)
{
  g_autoptr(JsonNode) a = NULL;
  g_autoptr(JsonNode) b = NULL;

  if (original == NULL || stored == NULL)
    return original == stored;

  a = json_node_init_object (json_node_alloc (), original);
  b = json_node_init_object (json_node_alloc (), stored);

  return json_stored_equal (a, b);
}

/* Whether the store writes @object as it is: see STORABLE_DEPTH. */
static gboolean
json_object_storable (JsonObject *object)
{
  g_autoptr(JsonNode) node = NULL;

  if (object == NULL)
    return TRUE;

  node = json_node_init_object (json_node_alloc (), object);

  return !json_deeper_than (node, STORABLE_DEPTH);
}

/* Records */

/* Reads everything a list row, the editor and a sync read, so that the
 * lazily parsed parts are parsed too. */
static void
exercise_record (TetherRecord *record)
{
  g_autofree char *id = tether_record_dup_id_string (record);
  const char *title = tether_record_get_title (record);
  GDateTime *modified = tether_record_get_modified (record);
  JsonObject *attributes = tether_record_get_attributes (record);

  fuzz_assert (title != NULL && g_utf8_validate (title, -1, NULL), "bad title");
  fuzz_assert (id == NULL || g_utf8_validate (id, -1, NULL), "bad id");
  fuzz_assert (attributes != NULL, "no attributes");
  (void) modified;
  (void) tether_record_get_base (record);
  (void) tether_record_get_conflict (record);
  (void) tether_record_get_etag (record);
  (void) tether_record_get_error_message (record);
  (void) tether_record_get_revision (record);
  (void) tether_record_get_sync_state (record);
}

/* What the store reads back from what @record wrote must be @record. */
static void
check_round_trip (TetherRecord *record,
                  const char   *what)
{
  g_autoptr(GBytes) line = tether_record_serialize (record);
  g_autoptr(TetherRecord) copy = NULL;
  g_autoptr(GError) error = NULL;
  g_autofree char *id = NULL;
  g_autofree char *copy_id = NULL;

  copy = tether_record_new_from_line (line, &error);
  fuzz_assert (copy != NULL, "%s: the store cannot read back the line it wrote: %s\n%.*s",
               what, error->message,
               (int) MIN (g_bytes_get_size (line), 4096), (const char *) g_bytes_get_data (line, NULL));

  id = tether_record_dup_id_string (record);
  copy_id = tether_record_dup_id_string (copy);

  fuzz_assert (strcmp (tether_record_get_cid (record), tether_record_get_cid (copy)) == 0, "%s: cid", what);
  fuzz_assert (g_strcmp0 (id, copy_id) == 0, "%s: id", what);
  fuzz_assert (tether_record_get_sync_state (record) == tether_record_get_sync_state (copy), "%s: state", what);
  fuzz_assert (tether_record_get_revision (record) == tether_record_get_revision (copy), "%s: rev", what);
  fuzz_assert (g_strcmp0 (tether_record_get_etag (record), tether_record_get_etag (copy)) == 0, "%s: etag", what);
  fuzz_assert (g_strcmp0 (tether_record_get_error_message (record),
                          tether_record_get_error_message (copy)) == 0, "%s: error", what);
  fuzz_assert ((tether_record_get_modified (record) == NULL) == (tether_record_get_modified (copy) == NULL) &&
               (tether_record_get_modified (record) == NULL ||
                g_date_time_equal (tether_record_get_modified (record), tether_record_get_modified (copy))),
               "%s: modified", what);
  fuzz_assert (json_object_stored_equal (tether_record_get_attributes (record),
                                         tether_record_get_attributes (copy)),
               "%s: attributes changed\n%.*s", what,
               (int) MIN (g_bytes_get_size (line), 4096), (const char *) g_bytes_get_data (line, NULL));
  fuzz_assert (json_object_stored_equal (tether_record_get_base (record), tether_record_get_base (copy)),
               "%s: base changed", what);
  fuzz_assert (json_object_stored_equal (tether_record_get_conflict (record), tether_record_get_conflict (copy)),
               "%s: conflict changed", what);
  fuzz_assert (strcmp (tether_record_get_title (record), tether_record_get_title (copy)) == 0,
               "%s: title “%s” became “%s”", what,
               tether_record_get_title (record), tether_record_get_title (copy));
}

/* A record first seen on a server, as a pull makes it: it must be
 * storable. */
static void
check_server_object (JsonObject *object)
{
  g_autoptr(JsonObject) attributes = json_object_new ();
  g_autoptr(TetherRecord) record = NULL;
  JsonObjectIter iter;
  const char *name;
  JsonNode *member;
  JsonNode *id = json_object_get_member (object, "id");

  fuzz_assert (tether_record_id_is_valid (id), "a reply passed without a usable id");

  if (!json_object_storable (object))
    return;

  json_object_iter_init (&iter, object);
  while (json_object_iter_next (&iter, &name, &member))
    if (strcmp (name, "id") != 0)
      json_object_set_member (attributes, name, json_node_copy (member));

  record = tether_record_new_from_server (id, attributes);
  exercise_record (record);
  check_round_trip (record, "record from the server");
}

int
tether_fuzz_record_line (const guint8 *data,
                         gsize         size)
{
  g_autoptr(GBytes) bytes = g_bytes_new (data, size);
  g_autoptr(TetherRecord) lazy = NULL;
  g_autoptr(TetherRecord) parsed = NULL;
  g_autoptr(TetherRecord) spliced = NULL;
  g_autoptr(GBytes) line = NULL;
  g_autofree char *lazy_title = NULL;
  g_autoptr(GError) error = NULL;

  /* The scanner promises that json-glib parses whatever it accepts. */
  if (tether_json_scan_validate ((const char *) data, size, NULL))
    {
      g_autoptr(JsonParser) parser = json_parser_new_immutable ();

      fuzz_assert (json_parser_load_from_data (parser, (const char *) data, size, &error),
                   "the scanner accepted JSON that json-glib refuses: %s", error->message);
    }

  lazy = tether_record_new_from_line (bytes, &error);
  fuzz_trace ("record: %s\n", error != NULL ? error->message : "fine");
  if (lazy == NULL)
    {
      fuzz_assert (g_error_matches (error, TETHER_RECORD_ERROR, TETHER_RECORD_ERROR_INVALID),
                   "unexpected error");
      return 0;
    }

  /* A record nobody touched writes back its line as it was. */
  line = tether_record_serialize (lazy);
  fuzz_assert (g_bytes_equal (line, bytes), "an untouched record changed its line");

  /* The title found by peeking into the line is the one the parsed
   * attributes give. */
  lazy_title = g_strdup (tether_record_get_title (lazy));
  parsed = tether_record_new_from_line (bytes, NULL);
  fuzz_assert (parsed != NULL, "a line was accepted once only");
  exercise_record (parsed);
  fuzz_assert (strcmp (lazy_title, tether_record_get_title (parsed)) == 0,
               "the lazy title “%s” is not the parsed one “%s”",
               lazy_title, tether_record_get_title (parsed));

  if (!json_object_storable (tether_record_get_attributes (parsed)) ||
      !json_object_storable (tether_record_get_base (parsed)) ||
      !json_object_storable (tether_record_get_conflict (parsed)))
    return 0;

  /* Bookkeeping changed on a lazy record: the line is spliced. */
  spliced = tether_record_new_from_line (bytes, NULL);
  tether_record_set_etag (spliced, "W/\"fuzz\"");
  tether_record_set_error_message (spliced, NULL);
  check_round_trip (spliced, "spliced line");

  /* A user edit: the line is written from the parsed record. */
  tether_record_set_string (parsed, "fuzz", "edited");
  check_round_trip (parsed, "edited record");

  return 0;
}

/* The store */

static void
result_cb (GObject      *object,
           GAsyncResult *result,
           gpointer      user_data)
{
  GAsyncResult **ret = user_data;

  *ret = g_object_ref (result);
}

static void
wait_for (GAsyncResult **result)
{
  while (*result == NULL)
    g_main_context_iteration (NULL, TRUE);
}

/* As the app opens a store. */
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

static void
write_store_file (const char   *name,
                  const guint8 *data,
                  gsize         size)
{
  g_autofree char *path = g_build_filename (store_path, name, NULL);
  g_autoptr(GError) error = NULL;

  if (data == NULL)
    return;

  if (!g_file_set_contents (path, (const char *) data, size, &error))
    g_error ("Cannot write %s: %s", path, error->message);
}

static gboolean
store_file_equals (const char   *name,
                   const guint8 *data,
                   gsize         size)
{
  g_autofree char *path = g_build_filename (store_path, name, NULL);
  g_autofree char *contents = NULL;
  gsize length;

  if (!g_file_get_contents (path, &contents, &length, NULL))
    return data == NULL;

  return data != NULL && length == size && memcmp (contents, data, size) == 0;
}

/* cid → serialized line of every record, list items and tombstones. */
static GHashTable *
dump_collection (TetherCollection *collection)
{
  GHashTable *lines = g_hash_table_new_full (g_str_hash, g_str_equal,
                                             g_free, (GDestroyNotify) g_bytes_unref);
  guint n = g_list_model_get_n_items (G_LIST_MODEL (collection));
  GPtrArray *tombstones = tether_collection_get_tombstones (collection);

  for (guint i = 0; i < n + tombstones->len; i++)
    {
      g_autoptr(TetherRecord) record = NULL;

      if (i < n)
        record = g_list_model_get_item (G_LIST_MODEL (collection), i);
      else
        record = g_object_ref (g_ptr_array_index (tombstones, i - n));

      exercise_record (record);
      fuzz_assert (!g_hash_table_contains (lines, tether_record_get_cid (record)),
                   "cid %s twice in the collection", tether_record_get_cid (record));
      g_hash_table_insert (lines,
                           g_strdup (tether_record_get_cid (record)),
                           tether_record_serialize (record));
    }

  return lines;
}

static void
check_same_records (GHashTable *before,
                    GHashTable *after)
{
  GHashTableIter iter;
  const char *cid;
  GBytes *line;

  fuzz_assert (g_hash_table_size (before) == g_hash_table_size (after),
               "%u records before reopening, %u after",
               g_hash_table_size (before), g_hash_table_size (after));

  g_hash_table_iter_init (&iter, before);
  while (g_hash_table_iter_next (&iter, (gpointer *) &cid, (gpointer *) &line))
    {
      GBytes *other = g_hash_table_lookup (after, cid);

      fuzz_assert (other != NULL, "record %s lost by reopening", cid);
      fuzz_assert (g_bytes_equal (line, other), "record %s changed by reopening", cid);
    }
}

/* Opens the store made of @snapshot and @journal (%NULL: no such file),
 * reads every record, saves an edit and a meta change and closes it; then
 * the store must open again, undamaged, with the same records and meta,
 * and again after a compaction. */
static void
run_store (const guint8 *snapshot,
           gsize         snapshot_size,
           const guint8 *journal,
           gsize         journal_size)
{
  g_autoptr(GFile) directory = g_file_new_for_path (store_path);
  g_autoptr(TetherStore) store = NULL;
  g_autoptr(TetherCollection) collection = NULL;
  g_autoptr(GHashTable) before = NULL;
  g_autoptr(GHashTable) after = NULL;
  g_autoptr(GError) error = NULL;
  g_autoptr(JsonNode) mark = json_node_init_int (json_node_alloc (), 42);
  JsonNode *meta;
  gboolean opened;

  remove_tree (store_path);
  if (g_mkdir_with_parents (store_path, 0700) != 0)
    g_error ("Cannot make %s", store_path);

  write_store_file ("snapshot.jsonl", snapshot, snapshot_size);
  write_store_file ("journal.jsonl", journal, journal_size);

  store = tether_store_new (directory);
  collection = tether_collection_new ();
  opened = open_store (store, collection, &error);
  fuzz_trace ("open: %s, %u records, %u tombstones\n",
              error != NULL ? error->message : "fine",
              g_list_model_get_n_items (G_LIST_MODEL (collection)),
              tether_collection_get_tombstones (collection)->len);

  if (!opened && g_error_matches (error, TETHER_STORE_ERROR, TETHER_STORE_ERROR_VERSION))
    {
      /* A newer Tether's store is left exactly as it was. */
      fuzz_assert (!tether_store_is_open (store), "open after a version error");
      fuzz_assert (g_list_model_get_n_items (G_LIST_MODEL (collection)) == 0, "records after a version error");
      fuzz_assert (store_file_equals ("snapshot.jsonl", snapshot, snapshot_size), "snapshot touched");
      fuzz_assert (store_file_equals ("journal.jsonl", journal, journal_size), "journal touched");
      return;
    }

  /* Damage is reported, and what could be read is open. */
  fuzz_assert (opened || g_error_matches (error, TETHER_STORE_ERROR, TETHER_STORE_ERROR_DAMAGED),
               "the store did not open: %s", error->message);
  fuzz_assert (tether_store_is_open (store), "not open");
  g_clear_error (&error);

  before = dump_collection (collection);

  /* An edit and a meta change, written by close(): over a torn journal
   * tail, into a journal of another generation, or a new one. */
  if (g_list_model_get_n_items (G_LIST_MODEL (collection)) > 0)
    {
      g_autoptr(TetherRecord) record = g_list_model_get_item (G_LIST_MODEL (collection), 0);

      if (json_object_storable (tether_record_get_attributes (record)) &&
          json_object_storable (tether_record_get_base (record)) &&
          json_object_storable (tether_record_get_conflict (record)))
        {
          tether_record_set_string (record, "fuzz", "edited");
          tether_store_save (store, record);
          g_hash_table_replace (before,
                                g_strdup (tether_record_get_cid (record)),
                                tether_record_serialize (record));
        }
    }
  tether_store_set_meta (store, "fuzz", mark);

  fuzz_assert (tether_store_close (store, &error), "close failed: %s", error->message);
  g_clear_object (&store);
  g_clear_object (&collection);

  /* Whatever the first open found, it left a sound store behind; and so
   * does a compaction of that store, which writes all it holds, the meta
   * too, into a new snapshot. */
  for (guint round = 0; round < 2; round++)
    {
      const char *when = round == 0 ? "" : " after a compaction";

      store = tether_store_new (directory);
      collection = tether_collection_new ();
      fuzz_assert (open_store (store, collection, &error),
                   "the store did not reopen cleanly%s: %s", when, error->message);

      after = dump_collection (collection);
      check_same_records (before, after);
      g_clear_pointer (&after, g_hash_table_unref);

      meta = tether_store_get_meta (store, "fuzz");
      fuzz_assert (meta != NULL && JSON_NODE_HOLDS_VALUE (meta) &&
                   json_node_get_value_type (meta) == G_TYPE_INT64 &&
                   json_node_get_int (meta) == 42,
                   "meta lost by reopening%s", when);

      if (round == 0)
        {
          g_autoptr(GAsyncResult) result = NULL;

          tether_store_compact_async (store, NULL, result_cb, &result);
          wait_for (&result);
          fuzz_assert (tether_store_compact_finish (store, result, &error),
                       "compaction failed: %s", error->message);
        }

      fuzz_assert (tether_store_close (store, &error), "close failed%s: %s", when, error->message);
      g_clear_object (&store);
      g_clear_object (&collection);
    }
}

int
tether_fuzz_store_snapshot (const guint8 *data,
                            gsize         size)
{
  run_store (data, size, (const guint8 *) fixed_journal, strlen (fixed_journal));

  return 0;
}

int
tether_fuzz_store_journal (const guint8 *data,
                           gsize         size)
{
  /* A young store has a journal only; a compacted one a snapshot that
   * names its journal. */
  run_store (NULL, 0, data, size);
  run_store ((const guint8 *) fixed_snapshot, strlen (fixed_snapshot), data, size);
  return 0;
}

/* The Link header */

int
tether_fuzz_link_header (const guint8 *data,
                         gsize         size)
{
  g_autofree char *header = g_strndup ((const char *) data, size);
  g_autoptr(GHashTable) links = NULL;
  GHashTableIter iter;
  const char *rel;
  const char *target;

  links = tether_remote_parse_link_header (header);
  fuzz_assert (links != NULL, "no table");

  g_hash_table_iter_init (&iter, links);
  while (g_hash_table_iter_next (&iter, (gpointer *) &rel, (gpointer *) &target))
    {
      g_autofree char *lower = g_ascii_strdown (rel, -1);

      fuzz_assert (rel[0] != '\0', "empty relation type");
      fuzz_assert (strpbrk (rel, " \t") == NULL, "relation type “%s” has a blank", rel);
      fuzz_assert (strcmp (lower, rel) == 0, "relation type “%s” is not lower case", rel);
      fuzz_assert (target != NULL && strstr (header, target) != NULL,
                   "target of “%s” is not from the header", rel);
    }

  return 0;
}

/* The command line */

int
tether_fuzz_assignment (const guint8 *data,
                        gsize         size)
{
  g_autofree char *argument = g_strndup ((const char *) data, size);
  g_autofree char *field = NULL;
  g_autoptr(JsonNode) value = NULL;
  g_autoptr(GError) error = NULL;
  g_autoptr(TetherRecord) record = NULL;
  g_autofree char *text = NULL;

  if (!tether_cli_parse_assignment (argument, &field, &value, &error))
    {
      fuzz_assert (error != NULL && g_utf8_validate (error->message, -1, NULL),
                   "a refusal without a readable message");
      fuzz_assert (field == NULL && value == NULL, "a refusal with a result");
      return 0;
    }

  fuzz_assert (field != NULL && field[0] != '\0', "empty field");
  fuzz_assert (strchr (field, '=') == NULL, "field “%s” holds the =", field);
  fuzz_assert (g_str_has_prefix (argument, field) && argument[strlen (field)] == '=',
               "field “%s” is not what precedes the =", field);
  fuzz_assert (value != NULL, "no value");

  text = json_to_string (value, FALSE);
  fuzz_assert (text != NULL, "value cannot be written");

  /* tether-cli set stores it. */
  if (json_deeper_than (value, STORABLE_DEPTH - 1))
    return 0;

  record = tether_record_new ();
  tether_record_set_attribute (record, field, value);
  check_round_trip (record, "assignment");

  return 0;
}

/* Replies */

typedef struct
{
  guint      status;
  char       flag;
  GPtrArray *headers;   /* name, value, name, value… */
  GBytes    *body;
} FuzzReply;

static SoupServer *reply_server;
static char *server_url;
static TetherAccount *reply_account;
static TetherRemote *reply_remote;
static FuzzReply current_reply;

static const char * const dropped_headers[] = {
  /* SoupServer frames the body itself; these would make the reply lie
   * about its length or the connection, which tests libsoup, not us. */
  "content-length", "transfer-encoding", "connection", "keep-alive",
  "upgrade", "te", "trailer", "proxy-connection",
};

static gboolean
is_token_char (char c)
{
  return g_ascii_isalnum (c) || (c != '\0' && strchr ("!#$%&'*+-.^_`|~", c) != NULL);
}

/* A redirect target stays on the loopback server: a reference with a
 * scheme or a host elsewhere is turned into a path. */
static char *
confine_location (const char *value)
{
  gsize prefix = strcspn (value, ":/?#");

  if (g_str_has_prefix (value, server_url))
    return g_strdup (value);

  if (!g_str_has_prefix (value, "//") && value[prefix] != ':')
    return g_strdup (value);

  while (*value == '/')
    value++;

  return g_strconcat ("/", value, NULL);
}

static void
fuzz_reply_clear (FuzzReply *reply)
{
  g_clear_pointer (&reply->headers, g_ptr_array_unref);
  g_clear_pointer (&reply->body, g_bytes_unref);
}

static void
fuzz_reply_parse (FuzzReply    *reply,
                  const guint8 *data,
                  gsize         size)
{
  const char *p = (const char *) data;
  const char *end = p + size;
  guint status = 0;

  reply->headers = g_ptr_array_new_with_free_func (g_free);
  reply->flag = '\0';
  reply->body = NULL;

  while (p < end && g_ascii_isdigit (*p))
    {
      if (status < 1000)
        status = status * 10 + (guint) (*p - '0');
      p++;
    }
  /* Informational replies are libsoup's business. */
  reply->status = status >= 200 && status <= 599 ? status : 200;

  while (p < end && *p == ' ')
    p++;
  if (p < end && *p != '\n' && *p != '\r')
    reply->flag = *p;
  p = memchr (p, '\n', end - p);
  if (p == NULL)
    return;
  p++;

  while (p < end)
    {
      const char *eol = memchr (p, '\n', end - p);
      const char *line_end = eol != NULL ? eol : end;
      const char *colon;
      g_autofree char *name = NULL;
      g_autoptr(GString) value = NULL;
      gboolean dropped = FALSE;

      if (line_end > p && line_end[-1] == '\r')
        line_end--;

      if (line_end == p)
        {
          /* The blank line: the body follows. */
          if (eol != NULL)
            reply->body = g_bytes_new (eol + 1, end - (eol + 1));
          return;
        }

      colon = memchr (p, ':', line_end - p);
      if (colon == NULL || colon == p)
        goto next;

      for (const char *c = p; c < colon; c++)
        if (!is_token_char (*c))
          goto next;

      name = g_strndup (p, colon - p);
      for (guint i = 0; i < G_N_ELEMENTS (dropped_headers); i++)
        dropped |= g_ascii_strcasecmp (name, dropped_headers[i]) == 0;
      if (dropped)
        goto next;

      value = g_string_new (NULL);
      for (const char *c = colon + 1; c < line_end; c++)
        if ((guchar) *c >= 0x20 && *c != 0x7f)
          g_string_append_c (value, *c);
        else if (*c == '\t')
          g_string_append_c (value, ' ');
      g_strstrip (value->str);

      g_ptr_array_add (reply->headers, g_steal_pointer (&name));
      if (g_ascii_strcasecmp (g_ptr_array_index (reply->headers, reply->headers->len - 1), "Location") == 0)
        g_ptr_array_add (reply->headers, confine_location (value->str));
      else
        g_ptr_array_add (reply->headers, g_strdup (value->str));

    next:
      if (eol == NULL)
        return;
      p = eol + 1;
    }
}

static void
server_cb (SoupServer        *server,
           SoupServerMessage *msg,
           const char        *path,
           GHashTable        *query,
           gpointer           user_data)
{
  SoupMessageHeaders *headers = soup_server_message_get_response_headers (msg);

  soup_server_message_set_status (msg, current_reply.status, NULL);

  /* The client drops the connection after a redirect (it does not read
   * on, see request_abandon_stream()) and after a POST (it never sends
   * one on a kept-alive connection), and libsoup 3.2's SoupServer then
   * keeps its end open for ever, in CLOSE-WAIT: ten thousand sockets in a
   * few minutes. The server closes those itself instead. */
  if (SOUP_STATUS_IS_REDIRECTION (current_reply.status) ||
      strcmp (soup_server_message_get_method (msg), SOUP_METHOD_POST) == 0)
    soup_message_headers_replace (headers, "Connection", "close");

  for (guint i = 0; i + 1 < current_reply.headers->len; i += 2)
    soup_message_headers_append (headers,
                                 g_ptr_array_index (current_reply.headers, i),
                                 g_ptr_array_index (current_reply.headers, i + 1));

  if (current_reply.body != NULL && g_bytes_get_size (current_reply.body) > 0)
    soup_message_body_append_bytes (soup_server_message_get_response_body (msg),
                                    current_reply.body);
}

static void
ensure_server (void)
{
  g_autoptr(GError) error = NULL;
  GSList *uris;

  if (reply_server != NULL)
    return;

  reply_server = soup_server_new ("server-header", "tether-fuzz", NULL);
  soup_server_add_handler (reply_server, NULL, server_cb, NULL, NULL);
  if (!soup_server_listen_local (reply_server, 0, SOUP_SERVER_LISTEN_IPV4_ONLY, &error))
    g_error ("Cannot listen on the loopback interface: %s", error->message);

  uris = soup_server_get_uris (reply_server);
  server_url = g_uri_to_string (uris->data);
  g_slist_free_full (uris, (GDestroyNotify) g_uri_unref);

  /* Bearer credentials on loopback: every error message is also checked
   * not to repeat them. */
  reply_account = tether_account_new ();
  tether_account_set_server_url (reply_account, server_url);
  tether_account_set_auth_kind (reply_account, TETHER_AUTH_KIND_BEARER);
  reply_remote = tether_remote_new (reply_account);
  tether_remote_set_secret (reply_remote, FUZZ_SECRET);
  tether_remote_set_timeout (reply_remote, 10);
  tether_remote_set_max_reply_size (reply_remote, 1024 * 1024);
}

/* @text with every %XX but %00 decoded, and the rest as it is. */
static char *
percent_decode (const char *text)
{
  GString *decoded = g_string_new (NULL);

  for (const char *p = text; *p != '\0'; p++)
    {
      int c = p[0] == '%' && g_ascii_isxdigit (p[1]) && g_ascii_isxdigit (p[2])
              ? g_ascii_xdigit_value (p[1]) * 16 + g_ascii_xdigit_value (p[2])
              : 0;

      if (c != 0)
        {
          g_string_append_c (decoded, (char) c);
          p += 2;
        }
      else
        {
          g_string_append_c (decoded, *p);
        }
    }

  return g_string_free (decoded, FALSE);
}

static void
check_remote_error (const GError *error)
{
  g_autofree char *unescaped = NULL;

  fuzz_assert (error->domain == TETHER_REMOTE_ERROR,
               "not a remote error: %s", error->message);
  fuzz_assert (g_utf8_validate (error->message, -1, NULL),
               "the message for the user is not valid UTF-8: %s", error->message);
  fuzz_assert (strstr (error->message, FUZZ_SECRET) == NULL,
               "the message repeats the token: %s", error->message);
  /* Nor percent-encoded, as in a URL. */
  unescaped = percent_decode (error->message);
  fuzz_assert (strstr (unescaped, FUZZ_SECRET) == NULL,
               "the message repeats the token, percent-encoded: %s", error->message);
}

int
tether_fuzz_reply_page (const guint8 *data,
                        gsize         size)
{
  g_autoptr(GAsyncResult) result = NULL;
  g_autoptr(TetherRemotePage) page = NULL;
  g_autoptr(GError) error = NULL;
  const char *etag;

  ensure_server ();
  fuzz_reply_parse (&current_reply, data, size);
  etag = current_reply.flag == 'c' ? "W/\"fuzz\"" : NULL;

  tether_remote_list_page_async (reply_remote, NULL, etag, NULL, result_cb, &result);
  wait_for (&result);
  page = tether_remote_list_page_finish (reply_remote, result, &error);
  fuzz_reply_clear (&current_reply);

  if (page == NULL)
    {
      fuzz_trace ("error: %s\n", error->message);
      check_remote_error (error);
      return 0;
    }

  fuzz_trace ("page: %u items, not modified %d, etag %s, next %s, total %" G_GINT64_FORMAT
              ", last page %" G_GINT64_FORMAT "\n",
              page->items != NULL ? json_array_get_length (page->items) : 0,
              page->not_modified, page->etag, page->next_url,
              page->total_count, page->last_page);

  fuzz_assert (page->url != NULL, "a page without its URL");
  fuzz_assert (page->not_modified == (page->items == NULL), "items and not-modified disagree");
  fuzz_assert (!page->not_modified || etag != NULL, "not modified without a condition");

  if (page->next_url != NULL)
    {
      /* Parsed as the remote parses it when it asks for that page. */
      g_autoptr(GUri) next = g_uri_parse (page->next_url, SOUP_HTTP_URI_FLAGS, NULL);
      g_autoptr(GUri) base = g_uri_parse (server_url, SOUP_HTTP_URI_FLAGS, NULL);

      fuzz_assert (next != NULL, "the next page “%s” is not a URL", page->next_url);
      fuzz_assert (g_uri_get_userinfo (next) == NULL &&
                   g_strcmp0 (g_uri_get_scheme (next), "http") == 0 &&
                   g_strcmp0 (g_uri_get_host (next), g_uri_get_host (base)) == 0 &&
                   g_uri_get_port (next) == g_uri_get_port (base),
                   "the next page “%s” is not on %s", page->next_url, server_url);
      fuzz_assert (strcmp (page->next_url, page->url) != 0, "the next page is this one");
    }

  for (guint i = 0; page->items != NULL && i < json_array_get_length (page->items); i++)
    {
      JsonNode *item = json_array_get_element (page->items, i);

      fuzz_assert (JSON_NODE_HOLDS_OBJECT (item), "item %u is not an object", i);
      check_server_object (json_node_get_object (item));
    }

  return 0;
}

int
tether_fuzz_reply_created (const guint8 *data,
                           gsize         size)
{
  g_autoptr(GAsyncResult) result = NULL;
  g_autoptr(JsonObject) object = json_object_new ();
  g_autoptr(JsonObject) created = NULL;
  g_autoptr(JsonNode) id = json_node_init_int (json_node_alloc (), 42);
  g_autofree char *etag = NULL;
  g_autoptr(GError) error = NULL;
  gboolean ok;

  ensure_server ();
  fuzz_reply_parse (&current_reply, data, size);

  json_object_set_string_member (object, "title", "Buy milk");
  json_object_set_string_member (object, "clientId", "0a1f6a4e-1d9b-4f0e-8d43-7a2b9c6e5f10");

  switch (current_reply.flag)
    {
    case 'u':
    case 'p':
      tether_remote_update_async (reply_remote, id, object,
                                  current_reply.flag == 'p' ? TETHER_UPDATE_METHOD_PUT : TETHER_UPDATE_METHOD_PATCH,
                                  "W/\"fuzz\"", NULL, result_cb, &result);
      wait_for (&result);
      ok = tether_remote_update_finish (reply_remote, result, &created, &etag, &error);
      break;

    case 'd':
      tether_remote_delete_async (reply_remote, id, "W/\"fuzz\"", NULL, result_cb, &result);
      wait_for (&result);
      ok = tether_remote_delete_finish (reply_remote, result, &error);
      break;

    default:
      tether_remote_create_async (reply_remote, object, NULL, result_cb, &result);
      wait_for (&result);
      created = tether_remote_create_finish (reply_remote, result, &etag, &error);
      ok = created != NULL;
      fuzz_assert (ok || error != NULL, "a create failed without an error");
      break;
    }

  fuzz_reply_clear (&current_reply);

  if (!ok)
    {
      fuzz_trace ("error: %s\n", error->message);
      check_remote_error (error);
      return 0;
    }

  fuzz_trace ("done: etag %s, %u members\n", etag,
              created != NULL ? json_object_get_size (created) : 0);

  if (created != NULL && json_object_has_member (created, "id"))
    check_server_object (created);
  else
    fuzz_assert (current_reply.flag == 'u' || current_reply.flag == 'p' || current_reply.flag == 'd',
                 "a created record without an id");

  return 0;
}

const TetherFuzzTarget tether_fuzz_targets[] = {
  { "fuzz-store-snapshot", tether_fuzz_store_snapshot },
  { "fuzz-store-journal", tether_fuzz_store_journal },
  { "fuzz-record-line", tether_fuzz_record_line },
  { "fuzz-link-header", tether_fuzz_link_header },
  { "fuzz-reply-page", tether_fuzz_reply_page },
  { "fuzz-reply-created", tether_fuzz_reply_created },
  { "fuzz-assignment", tether_fuzz_assignment },
  { NULL, NULL },
};
