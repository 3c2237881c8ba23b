/* bench-store.c
 *
 * Copyright 2026 The Tether authors
 *
 * SPDX-License-Identifier: GPL-3.0-or-later
 */

/* A benchmark, not a test: it prints figures beside baselines measured in
 * the same run and asserts nothing about time.
 *
 * It makes stores of 1 000, 10 000 and 100 000 records in a temporary
 * directory, then measures, each in a fresh process so that earlier work
 * does not count:
 *   1. the cold open of the 100 000-record store until the collection
 *      holds every record, against json_parser_load_from_data() of the
 *      same records;
 *   2. persisting one edit durably (save_async, median of 100) at 1 000
 *      against 100 000 records, the two stores taking turns;
 *   3. the peak RSS after that open against the store's size on disk;
 *   4. the longest main-loop stall (gap between two callbacks of a 1 ms
 *      high-priority timeout) during the open and during a compaction.
 *
 *   bench-store [--keep]   runs it all and prints the table
 */

#include "config.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include <glib/gstdio.h>

#include "tether-collection.h"
#include "tether-store.h"

#define PERSIST_ROUNDS 100
#define REPEATS        3

static const guint sizes[] = { 1000, 10000, 100000 };

static const char *words[] = {
  "offline", "record", "server", "journal", "snapshot", "durable", "merge",
  "conflict", "pending", "synced", "field", "value", "title", "note", "edit",
  "collection", "store", "lorem", "ipsum", "dolor", "amet", "quick", "brown",
  "fox", "jumps", "over", "lazy", "dog", "élan", "naïve", "Grüße", "東京",
};

/* Plumbing */

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

static void
die_on_error (const GError *error,
              const char   *what)
{
  if (error == NULL)
    return;

  g_printerr ("bench-store: %s: %s\n", what, error->message);
  exit (1);
}

static long
vm_hwm_kb (void)
{
  g_autofree char *status = NULL;
  const char *line;

  if (!g_file_get_contents ("/proc/self/status", &status, NULL, NULL))
    return -1;

  line = strstr (status, "VmHWM:");
  if (line == NULL)
    return -1;

  return strtol (line + strlen ("VmHWM:"), NULL, 10);
}

static guint64
file_size (const char *path)
{
  GStatBuf st;

  if (g_stat (path, &st) != 0)
    return 0;

  return st.st_size;
}

static guint64
store_size (const char *dir)
{
  g_autofree char *snapshot = g_build_filename (dir, "snapshot.jsonl", NULL);
  g_autofree char *journal = g_build_filename (dir, "journal.jsonl", NULL);

  return file_size (snapshot) + file_size (journal);
}

static int
compare_doubles (gconstpointer a,
                 gconstpointer b)
{
  double x = *(const double *) a;
  double y = *(const double *) b;

  return x < y ? -1 : x > y;
}

static double
median (GArray *values)
{
  g_array_sort (values, compare_doubles);
  return g_array_index (values, double, values->len / 2);
}

/* Stall meter: a high-priority 1 ms timeout; the longest gap between two
 * of its callbacks is the longest time the main loop could not run. On a
 * shared machine that gap also counts time the thread was not scheduled,
 * so the meter keeps the main thread's CPU time over the longest gap too:
 * the work done in one go, whatever else ran. */

typedef struct
{
  gint64 last;
  gint64 last_cpu;
  gint64 longest;
  gint64 longest_cpu;
  guint  source;
} StallMeter;

static gint64
thread_cpu_usec (void)
{
  struct timespec ts;

  clock_gettime (CLOCK_THREAD_CPUTIME_ID, &ts);

  return ts.tv_sec * G_USEC_PER_SEC + ts.tv_nsec / 1000;
}

static gboolean
stall_tick_cb (gpointer user_data)
{
  StallMeter *meter = user_data;
  gint64 now = g_get_monotonic_time ();
  gint64 cpu = thread_cpu_usec ();

  meter->longest = MAX (meter->longest, now - meter->last);
  meter->longest_cpu = MAX (meter->longest_cpu, cpu - meter->last_cpu);
  meter->last = now;
  meter->last_cpu = cpu;

  return G_SOURCE_CONTINUE;
}

static void
stall_meter_start (StallMeter *meter)
{
  meter->last = g_get_monotonic_time ();
  meter->last_cpu = thread_cpu_usec ();
  meter->longest = 0;
  meter->longest_cpu = 0;
  meter->source = g_timeout_add_full (G_PRIORITY_HIGH, 1, stall_tick_cb, meter, NULL);
}

static void
stall_meter_stop (StallMeter *meter,
                  double     *wall_ms,
                  double     *cpu_ms)
{
  stall_tick_cb (meter);
  g_clear_handle_id (&meter->source, g_source_remove);

  *wall_ms = meter->longest / 1000.;
  *cpu_ms = meter->longest_cpu / 1000.;
}

/* Making the stores */

static JsonObject *
make_attributes (GRand *rand,
                 guint  i)
{
  JsonObject *attributes = json_object_new ();
  g_autoptr(GString) text = g_string_new (NULL);
  g_autofree char *title = NULL;

  while (text->len < 200)
    {
      if (text->len > 0)
        g_string_append_c (text, ' ');
      g_string_append (text, words[g_rand_int_range (rand, 0, G_N_ELEMENTS (words))]);
    }

  title = g_strdup_printf ("Record %u: %s %s", i,
                           words[g_rand_int_range (rand, 0, G_N_ELEMENTS (words))],
                           words[g_rand_int_range (rand, 0, G_N_ELEMENTS (words))]);

  json_object_set_string_member (attributes, "title", title);
  json_object_set_string_member (attributes, "text", text->str);
  json_object_set_boolean_member (attributes, "done", g_rand_boolean (rand));
  json_object_set_double_member (attributes, "amount", g_rand_double_range (rand, 0, 10000));

  return attributes;
}

static void
generate (const char *path,
          guint       n)
{
  g_autoptr(GFile) dir = g_file_new_for_path (path);
  g_autoptr(TetherStore) store = tether_store_new (dir);
  g_autoptr(TetherCollection) collection = tether_collection_new ();
  g_autoptr(GPtrArray) records = g_ptr_array_new_full (n, g_object_unref);
  g_autoptr(GAsyncResult) result = NULL;
  g_autoptr(GRand) rand = g_rand_new_with_seed (n);
  g_autoptr(GError) error = NULL;

  tether_store_open (store, collection, &error);
  die_on_error (error, "open");

  /* Records as a pull brings them: an id, and the base they came with. */
  for (guint i = 0; i < n; i++)
    {
      g_autoptr(JsonObject) attributes = make_attributes (rand, i);
      g_autoptr(JsonNode) id = json_node_init_int (json_node_alloc (), i + 1);

      g_ptr_array_add (records, tether_record_new_from_server (id, attributes));
    }

  tether_collection_add_many (collection, (TetherRecord **) records->pdata, records->len);

  tether_store_compact_async (store, NULL, result_cb, &result);
  wait_for (&result);
  tether_store_compact_finish (store, result, &error);
  die_on_error (error, "compact");

  tether_store_close (store, &error);
  die_on_error (error, "close");
}

/* Child: open, measure, compact, measure */

static int
child_open (const char *path)
{
  g_autoptr(GFile) dir = g_file_new_for_path (path);
  g_autoptr(TetherStore) store = tether_store_new (dir);
  g_autoptr(TetherCollection) collection = tether_collection_new ();
  g_autoptr(GAsyncResult) opened = NULL;
  g_autoptr(GAsyncResult) compacted = NULL;
  g_autoptr(GError) error = NULL;
  StallMeter meter = { 0 };
  double open_stall, compact_stall, open_cpu, compact_cpu;
  gint64 begin, open_us, compact_us;
  long hwm;

  stall_meter_start (&meter);
  begin = g_get_monotonic_time ();
  tether_store_open_async (store, collection, NULL, result_cb, &opened);
  wait_for (&opened);
  tether_store_open_finish (store, opened, &error);
  open_us = g_get_monotonic_time () - begin;
  stall_meter_stop (&meter, &open_stall, &open_cpu);
  die_on_error (error, "open");
  hwm = vm_hwm_kb ();

  stall_meter_start (&meter);
  begin = g_get_monotonic_time ();
  tether_store_compact_async (store, NULL, result_cb, &compacted);
  wait_for (&compacted);
  tether_store_compact_finish (store, compacted, &error);
  compact_us = g_get_monotonic_time () - begin;
  stall_meter_stop (&meter, &compact_stall, &compact_cpu);
  die_on_error (error, "compact");

  printf ("records=%u open_ms=%.1f open_stall_ms=%.2f open_cpu_ms=%.2f hwm_kb=%ld "
          "compact_ms=%.1f compact_stall_ms=%.2f compact_cpu_ms=%.2f\n",
          g_list_model_get_n_items (G_LIST_MODEL (collection)),
          open_us / 1000., open_stall, open_cpu, hwm,
          compact_us / 1000., compact_stall, compact_cpu);

  tether_store_close (store, &error);
  die_on_error (error, "close");

  return 0;
}

/* Child: the baseline, json-glib parsing the same records as one
 * document (the store's lines joined into an array). */
static int
child_parse (const char *path)
{
  g_autofree char *snapshot_path = g_build_filename (path, "snapshot.jsonl", NULL);
  g_autofree char *contents = NULL;
  g_autoptr(GString) document = NULL;
  g_autoptr(JsonParser) parser = json_parser_new ();
  g_autoptr(GError) error = NULL;
  const char *line;
  gsize length;
  gint64 begin, parse_us;
  long hwm_before;

  g_file_get_contents (snapshot_path, &contents, &length, &error);
  die_on_error (error, "read");

  /* Skip the header line: only the records. */
  document = g_string_sized_new (length + 16);
  g_string_append_c (document, '[');
  line = strchr (contents, '\n') + 1;
  while (*line != '\0')
    {
      const char *end = strchr (line, '\n');

      if (document->len > 1)
        g_string_append_c (document, ',');
      g_string_append_len (document, line, end - line);
      line = end + 1;
    }
  g_string_append_c (document, ']');
  g_clear_pointer (&contents, g_free);

  hwm_before = vm_hwm_kb ();
  begin = g_get_monotonic_time ();
  json_parser_load_from_data (parser, document->str, document->len, &error);
  parse_us = g_get_monotonic_time () - begin;
  die_on_error (error, "parse");

  printf ("parse_ms=%.1f hwm_kb=%ld hwm_before_kb=%ld records=%u\n",
          parse_us / 1000., vm_hwm_kb (), hwm_before,
          json_array_get_length (json_node_get_array (json_parser_get_root (parser))));

  return 0;
}

/* Child: persisting one edit, median of PERSIST_ROUNDS per store. Both
 * stores are open in this one process and take turns, so that whatever
 * else the machine does weighs on both alike. */

typedef struct
{
  TetherStore      *store;
  TetherCollection *collection;
  GArray           *times;
  guint64           bytes;
  guint64           line_bytes;
} PersistSide;

static void
persist_one (PersistSide *side,
             GRand       *rand,
             guint        round)
{
  guint n = g_list_model_get_n_items (G_LIST_MODEL (side->collection));
  g_autoptr(TetherRecord) record = g_list_model_get_item (G_LIST_MODEL (side->collection),
                                                          g_rand_int_range (rand, 0, n));
  g_autoptr(GAsyncResult) result = NULL;
  g_autoptr(GBytes) line = NULL;
  g_autoptr(GError) error = NULL;
  g_autofree char *title = g_strdup_printf ("Edited %u", round);
  guint64 written = tether_store_get_bytes_written (side->store);
  gint64 begin = g_get_monotonic_time ();
  double ms;

  tether_record_set_string (record, "title", title);
  tether_store_save_async (side->store, record, NULL, result_cb, &result);
  wait_for (&result);
  tether_store_save_finish (side->store, result, &error);
  die_on_error (error, "save");
  ms = (g_get_monotonic_time () - begin) / 1000.;
  g_array_append_val (side->times, ms);

  line = tether_record_serialize (record);
  side->line_bytes += g_bytes_get_size (line);
  side->bytes += tether_store_get_bytes_written (side->store) - written;
}

static int
child_persist (const char *small_path,
               const char *big_path)
{
  const char *paths[2] = { small_path, big_path };
  const char *names[2] = { "small", "big" };
  PersistSide sides[2] = { { 0 } };
  g_autoptr(GRand) rand = g_rand_new_with_seed (42);
  g_autoptr(GError) error = NULL;

  for (guint i = 0; i < 2; i++)
    {
      g_autoptr(GFile) dir = g_file_new_for_path (paths[i]);

      sides[i].store = tether_store_new (dir);
      sides[i].collection = tether_collection_new ();
      sides[i].times = g_array_new (FALSE, FALSE, sizeof (double));
      tether_store_open (sides[i].store, sides[i].collection, &error);
      die_on_error (error, "open");
    }

  for (guint round = 0; round < PERSIST_ROUNDS; round++)
    for (guint i = 0; i < 2; i++)
      persist_one (&sides[(round + i) % 2], rand, round);

  for (guint i = 0; i < 2; i++)
    {
      printf ("%s_records=%u %s_persist_ms=%.3f %s_bytes_per_edit=%.0f %s_line_bytes=%.0f ",
              names[i], g_list_model_get_n_items (G_LIST_MODEL (sides[i].collection)),
              names[i], median (sides[i].times),
              names[i], (double) sides[i].bytes / PERSIST_ROUNDS,
              names[i], (double) sides[i].line_bytes / PERSIST_ROUNDS);

      tether_store_close (sides[i].store, &error);
      die_on_error (error, "close");
      g_clear_object (&sides[i].store);
      g_clear_object (&sides[i].collection);
      g_clear_pointer (&sides[i].times, g_array_unref);
    }
  printf ("\n");

  return 0;
}

/* The parent */

static GHashTable *
run_child (const char *self,
           const char *mode,
           const char *path,
           const char *path2)
{
  const char *argv[] = { self, mode, path, path2, NULL };
  g_autofree char *out = NULL;
  g_autofree char *err = NULL;
  g_autoptr(GError) error = NULL;
  g_auto(GStrv) fields = NULL;
  GHashTable *values = g_hash_table_new_full (g_str_hash, g_str_equal, g_free, g_free);
  int status;

  g_spawn_sync (NULL, (char **) argv, NULL, G_SPAWN_DEFAULT, NULL, NULL,
                &out, &err, &status, &error);
  die_on_error (error, mode);
  g_spawn_check_wait_status (status, &error);
  if (error != NULL)
    g_printerr ("%s", err);
  die_on_error (error, mode);

  fields = g_strsplit_set (g_strstrip (out), " ", -1);
  for (guint i = 0; fields[i] != NULL; i++)
    {
      char *eq = strchr (fields[i], '=');

      if (eq != NULL)
        g_hash_table_insert (values,
                             g_strndup (fields[i], eq - fields[i]),
                             g_strdup (eq + 1));
    }

  return values;
}

static double
get (GHashTable *values,
     const char *key)
{
  const char *value = g_hash_table_lookup (values, key);

  return value ? g_ascii_strtod (value, NULL) : -1;
}

/* Every figure as its median over REPEATS fresh processes. */
static GHashTable *
run_median (const char *self,
            const char *mode,
            const char *path,
            const char *path2)
{
  g_autoptr(GPtrArray) runs = g_ptr_array_new_with_free_func ((GDestroyNotify) g_hash_table_unref);
  GHashTable *medians = g_hash_table_new_full (g_str_hash, g_str_equal, g_free, g_free);
  GHashTableIter iter;
  gpointer key;

  for (guint i = 0; i < REPEATS; i++)
    g_ptr_array_add (runs, run_child (self, mode, path, path2));

  g_hash_table_iter_init (&iter, g_ptr_array_index (runs, 0));
  while (g_hash_table_iter_next (&iter, &key, NULL))
    {
      g_autoptr(GArray) values = g_array_new (FALSE, FALSE, sizeof (double));
      char buffer[G_ASCII_DTOSTR_BUF_SIZE];

      for (guint i = 0; i < runs->len; i++)
        {
          double value = get (g_ptr_array_index (runs, i), key);

          g_array_append_val (values, value);
        }

      g_ascii_dtostr (buffer, sizeof buffer, median (values));
      g_hash_table_insert (medians, g_strdup (key), g_strdup (buffer));
    }

  return medians;
}

static const char *
verdict (gboolean met)
{
  return met ? "met" : "NOT met";
}

int
main (int   argc,
      char *argv[])
{
  g_autofree char *self = NULL;
  g_autofree char *root = NULL;
  g_autoptr(GError) error = NULL;
  g_autoptr(GHashTable) open_big = NULL;
  g_autoptr(GHashTable) parse_big = NULL;
  g_autoptr(GHashTable) persist = NULL;
  char *paths[G_N_ELEMENTS (sizes)] = { NULL };
  gboolean keep = FALSE;
  double open_ms, parse_ms, small_ms, big_ms, hwm_mb, disk_mb;
  double open_stall, compact_stall, open_cpu, compact_cpu;

  if (argc == 3 && g_str_equal (argv[1], "child-open"))
    return child_open (argv[2]);
  if (argc == 3 && g_str_equal (argv[1], "child-parse"))
    return child_parse (argv[2]);
  if (argc == 4 && g_str_equal (argv[1], "child-persist"))
    return child_persist (argv[2], argv[3]);
  if (argc == 2 && g_str_equal (argv[1], "--keep"))
    keep = TRUE;

  self = g_file_read_link ("/proc/self/exe", &error);
  die_on_error (error, "/proc/self/exe");
  root = g_dir_make_tmp ("tether-bench-XXXXXX", &error);
  die_on_error (error, "temporary directory");

  printf ("Tether store benchmark: stores in %s\n", root);
  for (guint i = 0; i < G_N_ELEMENTS (sizes); i++)
    {
      g_autofree char *name = g_strdup_printf ("store-%u", sizes[i]);
      gint64 begin = g_get_monotonic_time ();

      paths[i] = g_build_filename (root, name, NULL);
      generate (paths[i], sizes[i]);
      printf ("  %6u records: %7.1f MB on disk (made in %.1f s)\n",
              sizes[i], store_size (paths[i]) / 1e6,
              (g_get_monotonic_time () - begin) / 1e6);
    }
  fflush (stdout);

  for (guint i = 0; i + 1 < G_N_ELEMENTS (sizes); i++)
    {
      g_autoptr(GHashTable) open_small = run_median (self, "child-open", paths[i], NULL);

      printf ("  open of %u records: %.1f ms, longest stall %.1f ms (%.1f ms CPU)\n",
              sizes[i], get (open_small, "open_ms"), get (open_small, "open_stall_ms"),
              get (open_small, "open_cpu_ms"));
    }

  open_big = run_median (self, "child-open", paths[2], NULL);
  parse_big = run_median (self, "child-parse", paths[2], NULL);
  persist = run_median (self, "child-persist", paths[0], paths[2]);

  open_ms = get (open_big, "open_ms");
  parse_ms = get (parse_big, "parse_ms");
  small_ms = get (persist, "small_persist_ms");
  big_ms = get (persist, "big_persist_ms");
  hwm_mb = get (open_big, "hwm_kb") / 1024.;
  disk_mb = store_size (paths[2]) / (1024. * 1024.);
  open_stall = get (open_big, "open_stall_ms");
  compact_stall = get (open_big, "compact_stall_ms");
  open_cpu = get (open_big, "open_cpu_ms");
  compact_cpu = get (open_big, "compact_cpu_ms");

  printf ("\nMedians of %d fresh processes; the stalls' CPU figure is the main thread's own\n"
          "time over the longest gap, which preemption by other processes does not inflate.\n\n",
          REPEATS);
  printf ("| # | measure (100 000 records unless said) | Tether | baseline (same run) | ratio | target | |\n");
  printf ("|---|---|---|---|---|---|---|\n");
  printf ("| 1 | cold open until the collection holds all | %.0f ms | json_parser_load_from_data: %.0f ms | %.2f | ≤ 0.5 | %s |\n",
          open_ms, parse_ms, open_ms / parse_ms, verdict (open_ms / parse_ms <= 0.5));
  printf ("| 2 | persist one edit durably, median of %d | %.2f ms at 100 000 | %.2f ms at 1 000 | %.2f | ≤ 1.5 | %s |\n",
          PERSIST_ROUNDS, big_ms, small_ms, big_ms / small_ms, verdict (big_ms / small_ms <= 1.5));
  printf ("| 3 | peak RSS after open (VmHWM, fresh process) | %.1f MiB | store on disk: %.1f MiB | %.2f | ≤ 2 | %s |\n",
          hwm_mb, disk_mb, hwm_mb / disk_mb, verdict (hwm_mb / disk_mb <= 2));
  printf ("| 4a | longest main-loop stall during open | %.1f ms (%.1f ms CPU) | | | ≤ 16 ms | %s |\n",
          open_stall, open_cpu, verdict (open_stall <= 16));
  printf ("| 4b | longest main-loop stall during compaction | %.1f ms (%.1f ms CPU) | | | ≤ 16 ms | %s |\n",
          compact_stall, compact_cpu, verdict (compact_stall <= 16));
  printf ("\n");
  printf ("Details: compaction of 100 000 records took %.0f ms; json-glib's parse peaked at %.1f MiB RSS;\n"
          "one edit wrote %.0f bytes for a %.0f-byte record line at 100 000 records (%.0f at 1 000).\n",
          get (open_big, "compact_ms"), get (parse_big, "hwm_kb") / 1024.,
          get (persist, "big_bytes_per_edit"), get (persist, "big_line_bytes"),
          get (persist, "small_bytes_per_edit"));

  if (!keep)
    {
      for (guint i = 0; i < G_N_ELEMENTS (sizes); i++)
        {
          g_autoptr(GDir) dir = g_dir_open (paths[i], 0, NULL);
          const char *name;

          while (dir != NULL && (name = g_dir_read_name (dir)))
            {
              g_autofree char *file = g_build_filename (paths[i], name, NULL);

              g_unlink (file);
            }
          g_rmdir (paths[i]);
        }
      g_rmdir (root);
    }

  for (guint i = 0; i < G_N_ELEMENTS (sizes); i++)
    g_clear_pointer (&paths[i], g_free);

  return 0;
}
