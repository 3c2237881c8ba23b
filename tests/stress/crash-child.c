/* crash-child.c
 *
 * Copyright 2026 The Tether authors
 *
 * SPDX-License-Identifier: GPL-3.0-or-later
 */

/* The process crash-loop kills.
 *
 *   crash-child STORE-DIR SERVER-URL SEED [avoid-known-bugs]
 *
 * Opens the store as the app does (a session), prints "READY N" (N list
 * records), then edits records at random and starts a sync now and then,
 * all on the main loop, until it is killed. Each edit is announced before
 * it is made and confirmed once it is on disk:
 *
 *   EDIT SEQ add CID {"title": …, …}
 *   EDIT SEQ set CID FIELD JSON
 *   EDIT SEQ unset CID FIELD
 *   EDIT SEQ delete CID
 *   SAVED SEQ                  the edit SEQ is durable (a store flush
 *                              begun after the session queued it
 *                              completed)
 *   SYNC ok|error MESSAGE      a sync ended (for the log)
 *
 * With "avoid-known-bugs", a diagnostic, the child steers clear of the
 * core bugs this loop found, to show what else a run finds: it hands each
 * edited record to tether_store_save() itself, and it deletes nothing
 * while a sync runs (the reply to a create or an update in flight brings
 * the record back).
 *
 * When the store does not open it prints "OPEN-ERROR DOMAIN CODE MESSAGE"
 * and exits with status 3.
 */

#include "config.h"

#include <stdio.h>
#include <stdlib.h>
#include <sys/prctl.h>
#include <signal.h>

#include "tether-session.h"

#define GIVE_UP_SECONDS 120
#define MAX_RECORDS     24
#define MIN_RECORDS     3

typedef struct
{
  TetherSession    *session;
  TetherCollection *collection;
  TetherStore      *store;
  TetherSync       *sync;
  GRand            *rand;
  guint64           seq;
  gboolean          syncing;
  gboolean          avoid_known_bugs;
} Child;

static const char * const fields[] = {
  "title", "note", "count", "done", "tags", "meta", "prioritè",
};

static void say (const char *format,
                 ...) G_GNUC_PRINTF (1, 2);

static void
say (const char *format,
     ...)
{
  va_list args;

  va_start (args, format);
  vprintf (format, args);
  va_end (args);

  /* In the pipe before anything that depends on it happens: a line about
   * an edit is never behind the edit itself. */
  fflush (stdout);
}

static JsonNode *
random_value (Child *child)
{
  g_autoptr(JsonBuilder) builder = NULL;

  switch (g_rand_int_range (child->rand, 0, 7))
    {
    case 0:
      return json_node_init_int (json_node_alloc (), g_rand_int_range (child->rand, -1000, 1000000));

    case 1:
      return json_node_init_boolean (json_node_alloc (), g_rand_boolean (child->rand));

    case 2:
      return json_node_init_null (json_node_alloc ());

    case 3:
      builder = json_builder_new ();
      json_builder_begin_array (builder);
      json_builder_add_int_value (builder, (gint64) child->seq);
      json_builder_add_string_value (builder, "tag ✓");
      json_builder_end_array (builder);
      return json_builder_get_root (builder);

    case 4:
      builder = json_builder_new ();
      json_builder_begin_object (builder);
      json_builder_set_member_name (builder, "n");
      json_builder_add_int_value (builder, (gint64) child->seq);
      json_builder_set_member_name (builder, "nested");
      json_builder_begin_object (builder);
      json_builder_set_member_name (builder, "s");
      json_builder_add_string_value (builder, "é \"quoted\"\n");
      json_builder_end_object (builder);
      json_builder_end_object (builder);
      return json_builder_get_root (builder);

    default:
      {
        g_autofree char *text = g_strdup_printf ("value %" G_GUINT64_FORMAT " ünïcødé %s",
                                                 child->seq,
                                                 g_rand_boolean (child->rand) ? "\t\"x\"\\" : "");

        return json_node_init_string (json_node_alloc (), text);
      }
    }
}

static char *
node_text (JsonNode *node)
{
  return json_to_string (node, FALSE);
}

static void
flushed_cb (GObject      *object,
            GAsyncResult *result,
            gpointer      user_data)
{
  guint64 seq = GPOINTER_TO_SIZE (user_data);
  g_autoptr(GError) error = NULL;

  if (!tether_store_flush_finish (TETHER_STORE (object), result, &error))
    {
      /* Not saved: never say so. The driver counts the edit as
       * announced only. */
      g_printerr ("crash-child: flush failed: %s\n", error->message);
      return;
    }

  say ("SAVED %" G_GUINT64_FORMAT "\n", seq);
}

static Child *the_child;

static gboolean
flush_idle_cb (gpointer user_data)
{
  tether_store_flush_async (the_child->store, NULL, flushed_cb, user_data);

  return G_SOURCE_REMOVE;
}

static void
sync_done_cb (GObject      *object,
              GAsyncResult *result,
              gpointer      user_data)
{
  Child *child = user_data;
  g_autoptr(GError) error = NULL;

  child->syncing = FALSE;

  if (tether_sync_run_finish (TETHER_SYNC (object), result, NULL, &error))
    say ("SYNC ok\n");
  else
    say ("SYNC error %s\n", error->message);
}

static TetherRecord *
random_record (Child *child)
{
  GListModel *model = G_LIST_MODEL (child->collection);
  guint n = g_list_model_get_n_items (model);

  if (n == 0)
    return NULL;

  return g_list_model_get_item (model, g_rand_int_range (child->rand, 0, n));
}

static char *
random_present_field (Child        *child,
                      TetherRecord *record)
{
  g_autoptr(GList) names = json_object_get_members (tether_record_get_attributes (record));
  g_autoptr(GPtrArray) choices = g_ptr_array_new ();

  for (const GList *l = names; l != NULL; l = l->next)
    {
      /* The client-id field is the server's bookkeeping, not an edit. */
      if (!g_str_equal (l->data, "clientId"))
        g_ptr_array_add (choices, l->data);
    }

  if (choices->len == 0)
    return NULL;

  return g_strdup (g_ptr_array_index (choices, g_rand_int_range (child->rand, 0, choices->len)));
}

static void
edit (Child *child)
{
  guint n = g_list_model_get_n_items (G_LIST_MODEL (child->collection));
  guint dice = g_rand_int_range (child->rand, 0, 100);
  g_autoptr(TetherRecord) record = NULL;
  guint64 seq = ++child->seq;

  if (n < MIN_RECORDS || (n < MAX_RECORDS && dice < 20))
    {
      g_autoptr(JsonObject) attributes = json_object_new ();
      g_autoptr(JsonNode) node = NULL;
      g_autofree char *title = g_strdup_printf ("Record %" G_GUINT64_FORMAT, seq);
      g_autofree char *text = NULL;
      const char *extra = fields[g_rand_int_range (child->rand, 1, G_N_ELEMENTS (fields))];

      json_object_set_string_member (attributes, "title", title);
      json_object_set_member (attributes, extra, random_value (child));
      node = json_node_init_object (json_node_alloc (), attributes);
      text = node_text (node);

      record = tether_record_new ();
      say ("EDIT %" G_GUINT64_FORMAT " add %s %s\n", seq, tether_record_get_cid (record), text);
      tether_record_update (record, attributes);
      tether_collection_add (child->collection, record);
    }
  else if ((n > MAX_RECORDS || dice < 32) &&
           (record = random_record (child)) != NULL &&
           !(child->avoid_known_bugs && child->syncing))
    {
      say ("EDIT %" G_GUINT64_FORMAT " delete %s\n", seq, tether_record_get_cid (record));
      tether_collection_delete (child->collection, record);
    }
  else
    {
      g_autofree char *present = NULL;

      g_clear_object (&record);
      record = random_record (child);

      if (dice < 47 && (present = random_present_field (child, record)) != NULL)
        {
          say ("EDIT %" G_GUINT64_FORMAT " unset %s %s\n", seq, tether_record_get_cid (record), present);
          tether_record_unset_attribute (record, present);
        }
      else
        {
          const char *field = fields[g_rand_int_range (child->rand, 0, G_N_ELEMENTS (fields))];
          g_autoptr(JsonNode) value = random_value (child);
          g_autofree char *text = node_text (value);

          say ("EDIT %" G_GUINT64_FORMAT " set %s %s %s\n", seq, tether_record_get_cid (record), field, text);
          tether_record_set_attribute (record, field, value);
        }
    }

  if (child->avoid_known_bugs && tether_collection_lookup_cid (child->collection, tether_record_get_cid (record)) != NULL)
    tether_store_save (child->store, record);

  /* The session queues the record's new state from an idle of default
   * priority; a flush started after it completes once that is on disk. */
  g_idle_add_full (G_PRIORITY_LOW, flush_idle_cb, GSIZE_TO_POINTER (seq), NULL);
}

static gboolean
step_cb (gpointer user_data)
{
  Child *child = user_data;

  if (!child->syncing && g_rand_int_range (child->rand, 0, 100) < 10)
    {
      child->syncing = TRUE;
      tether_sync_run_async (child->sync, TETHER_SYNC_FLAGS_ALL, NULL, sync_done_cb, child);
    }
  else
    edit (child);

  g_timeout_add (g_rand_int_range (child->rand, 0, 12), step_cb, child);

  return G_SOURCE_REMOVE;
}

static gboolean
give_up_cb (gpointer user_data)
{
  g_printerr ("crash-child: nobody killed me\n");
  exit (4);
}

int
main (int   argc,
      char *argv[])
{
  g_autoptr(GFile) directory = NULL;
  g_autoptr(TetherAccount) account = NULL;
  g_autoptr(GMainLoop) loop = NULL;
  g_autoptr(GError) error = NULL;
  Child child = { 0 };

  /* Dies with the driver, whatever kills it. */
  prctl (PR_SET_PDEATHSIG, SIGKILL);

  if (argc != 4 && !(argc == 5 && g_str_equal (argv[4], "avoid-known-bugs")))
    {
      g_printerr ("usage: crash-child STORE-DIR SERVER-URL SEED [avoid-known-bugs]\n");
      return 2;
    }

  account = tether_account_new ();
  tether_account_set_server_url (account, argv[2]);
  directory = g_file_new_for_path (argv[1]);

  child.session = tether_session_new (account, directory);
  child.collection = tether_session_get_collection (child.session);
  child.store = tether_session_get_store (child.session);
  child.sync = tether_session_get_sync (child.session);
  child.rand = g_rand_new_with_seed ((guint32) g_ascii_strtoull (argv[3], NULL, 10));
  child.avoid_known_bugs = argc == 5;
  the_child = &child;

  tether_remote_set_timeout (tether_session_get_remote (child.session), 5);
  tether_sync_set_retry_delay (child.sync, 10, 500, 3);

  if (!tether_session_open (child.session, &error))
    {
      say ("OPEN-ERROR %s %d %s\n", g_quark_to_string (error->domain), error->code, error->message);
      return 3;
    }

  say ("READY %u\n", g_list_model_get_n_items (G_LIST_MODEL (child.collection)));

  loop = g_main_loop_new (NULL, FALSE);
  g_timeout_add_seconds (GIVE_UP_SECONDS, give_up_cb, NULL);
  g_timeout_add (0, step_cb, &child);
  g_main_loop_run (loop);

  return 0;
}
