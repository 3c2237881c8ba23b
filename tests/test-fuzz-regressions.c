/* test-fuzz-regressions.c
 *
 * Copyright 2026 The Tether authors
 *
 * SPDX-License-Identifier: GPL-3.0-or-later
 */

#include "config.h"

#include <string.h>

#include <glib/gstdio.h>

#include "fuzz-targets.h"
#include "tether-collection.h"
#include "tether-store.h"
#include "tether-test-util.h"

/* Replays through the fuzz harnesses' own code (tests/fuzz/fuzz-targets.c)
 * the seed corpora, tests/fuzz/corpus/HARNESS/, and every input that once
 * made a harness fail, tests/fuzz/regressions/HARNESS/: one test each,
 * /fuzz/corpus/HARNESS/FILE and /fuzz/regressions/HARNESS/FILE. A failing
 * input aborts, as it did in the harness, so each runs in a subprocess and
 * the others still run. build-aux/fuzz runs the harnesses themselves. */

typedef struct
{
  const TetherFuzzTarget *target;
  char                   *path;     /* the input file */
  GString                *built;    /* or the input itself */
} Input;

static void
input_free (Input *input)
{
  g_free (input->path);
  if (input->built != NULL)
    g_string_free (input->built, TRUE);
  g_free (input);
}

static void
test_input (gconstpointer data)
{
  const Input *input = data;

  if (g_test_subprocess ())
    {
      g_autofree char *contents = NULL;
      gsize length;
      g_autoptr(GError) error = NULL;

      if (input->built != NULL)
        {
          g_assert_cmpint (input->target->func ((const guint8 *) input->built->str,
                                                input->built->len), ==, 0);
          return;
        }

      g_file_get_contents (input->path, &contents, &length, &error);
      g_assert_no_error (error);
      g_assert_cmpint (input->target->func ((const guint8 *) contents, length), ==, 0);
      return;
    }

  /* A failure fails this input only; the others still run. */
  g_test_set_nonfatal_assertions ();
  g_test_trap_subprocess (NULL, 0, G_TEST_SUBPROCESS_INHERIT_STDERR);
  g_test_trap_assert_passed ();
}

static int
compare_names (gconstpointer a,
               gconstpointer b)
{
  return strcmp (*(const char * const *) a, *(const char * const *) b);
}

/* Adds a test for each file of tests/fuzz/KIND/TARGET/; returns how many. */
static guint
add_inputs (GPtrArray              *inputs,
            const TetherFuzzTarget *target,
            const char             *kind)
{
  g_autofree char *path = g_test_build_filename (G_TEST_DIST, "fuzz", kind, target->name, NULL);
  g_autoptr(GDir) dir = g_dir_open (path, 0, NULL);
  g_autoptr(GPtrArray) names = g_ptr_array_new_with_free_func (g_free);
  const char *name;

  /* A harness that never failed has no regressions directory. */
  if (dir == NULL)
    return 0;

  while ((name = g_dir_read_name (dir)) != NULL)
    if (name[0] != '.' && strcmp (name, "README.md") != 0)
      g_ptr_array_add (names, g_strdup (name));
  g_ptr_array_sort (names, compare_names);

  for (guint i = 0; i < names->len; i++)
    {
      Input *input = g_new0 (Input, 1);
      g_autofree char *test_path = NULL;

      input->target = target;
      input->path = g_build_filename (path, g_ptr_array_index (names, i), NULL);
      g_ptr_array_add (inputs, input);

      test_path = g_strdup_printf ("/fuzz/%s/%s/%s", kind, target->name,
                                   (const char *) g_ptr_array_index (names, i));
      g_test_add_data_func (test_path, input, test_input);
    }

  return names->len;
}

/* Inputs too large to keep as files (100 kB each): nesting deep enough to
 * overflow json-glib's recursive parser, in each place Tether gives it
 * text from outside. See tests/fuzz/regressions/README.md. */
static const struct
{
  const char *target;
  const char *name;
  const char *prefix;
} deep_inputs[] = {
  { "fuzz-store-snapshot", "header", "{\"format\":\"tether-store\",\"version\":1,\"meta\":" },
  { "fuzz-store-journal", "meta-line", "{\"format\":\"tether-journal\",\"version\":1,\"generation\":\"g\"}\n{\"meta\":" },
  { "fuzz-store-journal", "line", "{\"format\":\"tether-journal\",\"version\":1,\"generation\":\"g\"}\n" },
  { "fuzz-reply-page", "body", "200\nContent-Type: application/json\n\n" },
  { "fuzz-reply-created", "body", "201\nContent-Type: application/json\n\n" },
  { "fuzz-assignment", "value", "field=" },
};

#define DEEP_NESTING 100000

static void
add_deep_inputs (GPtrArray *inputs)
{
  for (guint i = 0; i < G_N_ELEMENTS (deep_inputs); i++)
    {
      Input *input = g_new0 (Input, 1);
      g_autofree char *test_path = NULL;

      for (guint t = 0; tether_fuzz_targets[t].name != NULL; t++)
        if (strcmp (tether_fuzz_targets[t].name, deep_inputs[i].target) == 0)
          input->target = &tether_fuzz_targets[t];
      g_assert_nonnull (input->target);

      input->built = g_string_new (deep_inputs[i].prefix);
      for (guint n = 0; n < DEEP_NESTING; n++)
        g_string_append_c (input->built, '[');
      /* A line of the store ends with a newline. */
      g_string_append_c (input->built, '\n');
      g_ptr_array_add (inputs, input);

      test_path = g_strdup_printf ("/fuzz/deep-nesting/%s/%s", deep_inputs[i].target, deep_inputs[i].name);
      g_test_add_data_func (test_path, input, test_input);
    }
}

/* Found by fuzz-store-snapshot, which ran out of file descriptors after a
 * few thousand inputs: tether_store_open() left its private main context
 * (and its eventfd) behind now and then. See
 * tests/fuzz/regressions/README.md. */
static guint
count_open_fds (void)
{
  g_autoptr(GDir) dir = g_dir_open ("/proc/self/fd", 0, NULL);
  guint n = 0;

  g_assert_nonnull (dir);
  while (g_dir_read_name (dir) != NULL)
    n++;

  return n;
}

static void
open_and_close (GFile *directory)
{
  g_autoptr(TetherStore) store = tether_store_new (directory);
  g_autoptr(TetherCollection) collection = tether_collection_new ();
  g_autoptr(GError) error = NULL;

  g_assert_true (tether_store_open (store, collection, &error));
  g_assert_no_error (error);
  g_assert_true (tether_store_close (store, &error));
  g_assert_no_error (error);
}

static void
test_blocking_open_fds (void)
{
  g_autofree char *path = g_build_filename (g_get_user_data_dir (), "blocking-open", NULL);
  g_autoptr(GFile) directory = g_file_new_for_path (path);
  guint before;

  if (!g_test_subprocess ())
    {
      g_test_set_nonfatal_assertions ();
      g_test_trap_subprocess (NULL, 0, G_TEST_SUBPROCESS_INHERIT_STDERR);
      g_test_trap_assert_passed ();
      return;
    }

  if (!g_file_test ("/proc/self/fd", G_FILE_TEST_IS_DIR))
    {
      g_test_skip ("No /proc/self/fd to count file descriptors in");
      return;
    }

  /* The first open starts GLib's thread pool, which keeps its own. */
  open_and_close (directory);
  before = count_open_fds ();

  for (guint i = 0; i < 50; i++)
    open_and_close (directory);

  /* The store's threads may still be closing a file of the last open or
   * close: what they close within a second is not left behind. */
  for (guint i = 0; i < 100 && count_open_fds () > before; i++)
    g_usleep (10 * G_TIME_SPAN_MILLISECOND);

  g_assert_cmpuint (count_open_fds (), <=, before);
}

int
main (int   argc,
      char *argv[])
{
  g_autoptr(GPtrArray) inputs = g_ptr_array_new_with_free_func ((GDestroyNotify) input_free);
  g_autofree char *tmp = NULL;

  tether_test_init (&argc, &argv);

  /* The subprocesses' own private directories go inside this one, which
   * is removed at exit, or kept for a look when a test failed. */
  tmp = g_build_filename (g_get_home_dir (), "tmp", NULL);
  g_mkdir_with_parents (tmp, 0700);
  g_setenv ("TMPDIR", tmp, TRUE);

  tether_fuzz_init ();

  for (guint i = 0; tether_fuzz_targets[i].name != NULL; i++)
    {
      /* The seeds are what the harness starts from: there must be some. */
      if (add_inputs (inputs, &tether_fuzz_targets[i], "corpus") == 0)
        g_error ("No seeds in tests/fuzz/corpus/%s", tether_fuzz_targets[i].name);

      add_inputs (inputs, &tether_fuzz_targets[i], "regressions");
    }

  add_deep_inputs (inputs);
  g_test_add_func ("/fuzz/found/blocking-open-fds", test_blocking_open_fds);

  return g_test_run ();
}
