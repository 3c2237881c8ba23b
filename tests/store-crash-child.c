/* store-crash-child.c
 *
 * Copyright 2026 The Tether authors
 *
 * SPDX-License-Identifier: GPL-3.0-or-later
 */

/* The other process of test-store's crash and lock tests.
 *
 *   store-crash-child saves DIR SEED
 *     Opens the store, prints "ready", then edits, creates and removes
 *     records in a loop with several saves in flight and a compaction now
 *     and then, until it is killed. Once a save is durable it prints
 *     "S CID REVISION COUNTER". Before it removes a record it prints
 *     "r CID", and "R CID" once the removal is durable. The test kills it
 *     with SIGKILL and checks the store holds all it printed.
 *
 *   store-crash-child open DIR
 *     Tries to open the store and prints "opened" or
 *     "error DOMAIN CODE MESSAGE", then exits.
 *
 *   store-crash-child hold DIR
 *     Opens the store, prints "ready" and waits to be killed.
 *
 *   store-crash-child default-directory URL COLLECTION
 *     Prints tether_store_default_directory() in this environment.
 */

#include "config.h"

#include <stdio.h>
#include <stdlib.h>

#include "tether-collection.h"
#include "tether-store.h"

#define IN_FLIGHT        4
#define MIN_RECORDS      8
#define COMPACT_EVERY    120
#define GIVE_UP_SECONDS  120

typedef struct
{
  TetherStore      *store;
  TetherCollection *collection;
  GRand            *rand;
  guint             in_flight;
  guint             n_ops;
  gboolean          compacting;
  gint64            counter;
} Child;

static void step (Child *child);

static void
report (const char *format,
        ...) G_GNUC_PRINTF (1, 2);

static void
report (const char *format,
        ...)
{
  va_list args;

  va_start (args, format);
  vprintf (format, args);
  va_end (args);

  /* Each line must be in the pipe before the next save can complete, so
   * that a kill never loses a line whose save had completed. */
  fflush (stdout);
}

static void
check (gboolean    ok,
       GError     *error,
       const char *what)
{
  if (ok)
    return;

  fprintf (stderr, "store-crash-child: %s: %s\n", what, error ? error->message : "?");
  exit (3);
}

typedef struct
{
  Child  *child;
  char   *cid;
  guint64 revision;
  gint64  counter;
  gboolean removal;
} Op;

static void
op_done_cb (GObject      *object,
            GAsyncResult *result,
            gpointer      user_data)
{
  Op *op = user_data;
  Child *child = op->child;
  g_autoptr(GError) error = NULL;
  gboolean ok;

  if (op->removal)
    ok = tether_store_flush_finish (TETHER_STORE (object), result, &error);
  else
    ok = tether_store_save_finish (TETHER_STORE (object), result, &error);
  check (ok, error, "save");

  if (op->removal)
    report ("R %s\n", op->cid);
  else
    report ("S %s %" G_GUINT64_FORMAT " %" G_GINT64_FORMAT "\n",
            op->cid, op->revision, op->counter);

  g_free (op->cid);
  g_free (op);

  child->in_flight--;
  step (child);
}

static void
compact_done_cb (GObject      *object,
                 GAsyncResult *result,
                 gpointer      user_data)
{
  Child *child = user_data;
  g_autoptr(GError) error = NULL;

  check (tether_store_compact_finish (TETHER_STORE (object), result, &error),
         error, "compact");
  child->compacting = FALSE;
}

static TetherRecord *
random_record (Child *child)
{
  guint n = g_list_model_get_n_items (G_LIST_MODEL (child->collection));

  return g_list_model_get_item (G_LIST_MODEL (child->collection),
                                g_rand_int_range (child->rand, 0, n));
}

static void
step (Child *child)
{
  while (child->in_flight < IN_FLIGHT)
    {
      guint n = g_list_model_get_n_items (G_LIST_MODEL (child->collection));
      guint dice = g_rand_int_range (child->rand, 0, 100);
      Op *op = g_new0 (Op, 1);

      op->child = child;
      child->in_flight++;
      child->n_ops++;

      if (n > MIN_RECORDS && dice < 5)
        {
          g_autoptr(TetherRecord) record = random_record (child);

          op->cid = g_strdup (tether_record_get_cid (record));
          op->removal = TRUE;

          /* Said before it happens: a record the test saw saved may be
           * gone only if its removal had begun. */
          report ("r %s\n", op->cid);
          tether_collection_forget (child->collection, record);
          tether_store_remove (child->store, op->cid);
          tether_store_flush_async (child->store, NULL, op_done_cb, op);
        }
      else
        {
          g_autoptr(TetherRecord) record = NULL;
          g_autofree char *text = NULL;

          if (n < MIN_RECORDS || dice < 15)
            {
              record = tether_record_new ();
              tether_collection_add (child->collection, record);
            }
          else
            {
              record = random_record (child);
            }

          /* A little text of varying length, so that lines tear at all
           * sorts of places. */
          text = g_strnfill (g_rand_int_range (child->rand, 0, 600), 'x');
          tether_record_set_string (record, "text", text);
          tether_record_set_attribute (record, "counter",
                                       json_node_init_int (json_node_alloc (), ++child->counter));

          op->cid = g_strdup (tether_record_get_cid (record));
          op->revision = tether_record_get_revision (record);
          op->counter = child->counter;
          tether_store_save_async (child->store, record, NULL, op_done_cb, op);
        }

      if (child->n_ops % COMPACT_EVERY == 0 && !child->compacting)
        {
          child->compacting = TRUE;
          tether_store_compact_async (child->store, NULL, compact_done_cb, child);
        }
    }
}

static gboolean
give_up_cb (gpointer user_data)
{
  fprintf (stderr, "store-crash-child: nobody killed me\n");
  exit (4);
}

int
main (int   argc,
      char *argv[])
{
  g_autoptr(GFile) directory = NULL;
  g_autoptr(GError) error = NULL;
  g_autoptr(GMainLoop) loop = NULL;
  Child child = { 0 };

  if (argc < 3)
    {
      fprintf (stderr, "usage: store-crash-child saves|open|hold DIR [SEED]\n");
      return 2;
    }

  if (g_str_equal (argv[1], "default-directory") && argc == 4)
    {
      g_autoptr(GFile) file = tether_store_default_directory (argv[2], argv[3]);

      report ("%s\n", g_file_peek_path (file));
      return 0;
    }

  directory = g_file_new_for_path (argv[2]);
  child.store = tether_store_new (directory);
  child.collection = tether_collection_new ();
  child.rand = g_rand_new_with_seed (argc > 3 ? (guint32) g_ascii_strtoull (argv[3], NULL, 10) : 1);
  loop = g_main_loop_new (NULL, FALSE);

  if (g_str_equal (argv[1], "open"))
    {
      if (tether_store_open (child.store, child.collection, &error))
        report ("opened\n");
      else
        report ("error %s %d %s\n",
                g_quark_to_string (error->domain), error->code, error->message);

      g_clear_object (&child.store);
      g_clear_object (&child.collection);
      g_clear_pointer (&child.rand, g_rand_free);
      return 0;
    }

  check (tether_store_open (child.store, child.collection, &error), error, "open");
  g_timeout_add_seconds (GIVE_UP_SECONDS, give_up_cb, NULL);
  report ("ready\n");

  if (g_str_equal (argv[1], "saves"))
    step (&child);

  g_main_loop_run (loop);

  return 0;
}
