/* main.c
 *
 * Copyright 2026 The Tether authors
 *
 * SPDX-License-Identifier: GPL-3.0-or-later
 */

#include "config.h"

#include <gio/gunixinputstream.h>
#include <glib/gi18n.h>
#include <errno.h>
#include <locale.h>
#include <stdio.h>
#include <string.h>

#include "tether-cli-args.h"
#include "tether-json-scan.h"
#include "tether-session.h"
#include "tether-sync.h"

/* The exit statuses scripts rely on. */
enum {
  EXIT_OK = 0,
  EXIT_FAILURE_ = 1,
  EXIT_USAGE = 2,
  EXIT_UNRESOLVED = 3,
};

typedef struct
{
  char          *store_dir;
  char          *server;
  char          *collection;
  gboolean       json;
  gboolean       password_stdin;

  TetherAccount *account;
  TetherSession *session;
} Cli;

static void
cli_clear (Cli *cli)
{
  g_clear_object (&cli->session);
  g_clear_object (&cli->account);
  g_clear_pointer (&cli->store_dir, g_free);
  g_clear_pointer (&cli->server, g_free);
  g_clear_pointer (&cli->collection, g_free);
}

G_DEFINE_AUTO_CLEANUP_CLEAR_FUNC (Cli, cli_clear)

static const char commands_help[] =
  "Commands:\n"
  "  list                      every record except deleted ones: \"CID<TAB>ID<TAB>STATE<TAB>TITLE\" per line\n"
  "                            (ID is \"-\" while the record has no server id);\n"
  "                            --json: [{\"cid\":…, \"id\":…|null, \"state\":…, \"attributes\":{…}}, …]\n"
  "  show REF                  one record, its fields one per line as KEY=JSON; --json: the object above\n"
  "  add FIELD=VALUE...        a new local record; prints its cid; --json: {\"cid\":…}\n"
  "  set REF FIELD=VALUE...    change fields of a record\n"
  "  unset REF FIELD...        remove fields\n"
  "  delete REF                delete a record (pushed as DELETE by the next sync)\n"
  "  sync [--pull-only|--push-only]\n"
  "                            one sync; prints a summary line:\n"
  "                            \"pulled N, pushed N, deleted N, conflicts N, errors N\"\n"
  "                            --json: {\"pulled\":N,\"pushed\":N,\"deleted\":N,\"conflicts\":N,\"errors\":N}\n"
  "  status                    \"synced N, pending N, conflicts N, errors N, last sync TIME|never\"\n"
  "  conflicts                 each record in conflict with, per field, mine and theirs\n"
  "  resolve REF --mine|--theirs\n"
  "  export FILE               all records' attributes as a JSON array (\"-\" for stdout)\n"
  "  import FILE               add each object of a JSON array as a new local record\n"
  "\n"
  "REF is a cid, or a server id (its text form). VALUE is read as JSON when it\n"
  "parses as JSON (42, true, null, \"quoted\", [1,2], {\"a\":1}), otherwise as a\n"
  "plain string (title=Buy milk).\n"
  "\n"
  "Exit status: 0 success; 1 failure (the cause on stderr); 2 usage error;\n"
  "3 the sync finished but records remain in conflict or error.";

static int
fail (int         status,
      const char *format,
      ...) G_GNUC_PRINTF (2, 3);

static int
fail (int         status,
      const char *format,
      ...)
{
  g_autofree char *message = NULL;
  va_list args;

  va_start (args, format);
  message = g_strdup_vprintf (format, args);
  va_end (args);

  /* Scripts read the cause as one line: a server's message or a file
   * name may hold line breaks of its own. */
  g_strdelimit (message, "\r\n", ' ');
  g_strchomp (message);

  g_printerr ("tether-cli: %s\n", message);

  return status;
}

static void
print_json (JsonNode *node)
{
  g_autofree char *text = json_to_string (node, TRUE);

  g_print ("%s\n", text);
}

/*
 * Setting up
 */

static TetherAccount *
make_account (Cli *cli)
{
  GSettingsSchemaSource *source = g_settings_schema_source_get_default ();
  g_autoptr(GSettingsSchema) schema = NULL;
  TetherAccount *account;

  /* The app's settings when they are installed; defaults otherwise, so
   * that the CLI works on a machine with no session at all. */
  if (source != NULL &&
      (schema = g_settings_schema_source_lookup (source, BASE_APP_ID, TRUE)) != NULL)
    {
      g_autoptr(GSettings) settings = g_settings_new (BASE_APP_ID);
      account = tether_account_new_from_settings (settings);
    }
  else
    account = tether_account_new ();

  if (cli->server != NULL)
    {
      g_settings_unbind (account, "server-url");
      tether_account_set_server_url (account, cli->server);
    }

  if (cli->collection != NULL)
    {
      g_settings_unbind (account, "collection");
      tether_account_set_collection (account, cli->collection);
    }

  return account;
}

static int
open_session (Cli *cli)
{
  g_autoptr(GFile) directory = NULL;
  g_autoptr(GError) error = NULL;

  if (cli->server != NULL)
    {
      g_autofree char *normalized = NULL;

      if (!tether_account_validate_url (cli->server, &normalized, &error))
        return fail (EXIT_USAGE, "--server: %s", error->message);
    }

  cli->account = make_account (cli);

  if (cli->store_dir != NULL)
    directory = g_file_new_for_commandline_arg (cli->store_dir);

  cli->session = tether_session_new (cli->account, directory);

  if (!tether_session_open (cli->session, &error))
    {
      if (tether_session_is_open (cli->session))
        {
          /* Damaged but recovered: say so and go on. */
          g_printerr ("tether-cli: warning: %s\n", error->message);
          return EXIT_OK;
        }

      if (g_error_matches (error, TETHER_STORE_ERROR, TETHER_STORE_ERROR_LOCKED))
        return fail (EXIT_FAILURE_, "store locked by another process: %s", error->message);

      return fail (EXIT_FAILURE_, "%s", error->message);
    }

  return EXIT_OK;
}

static int
close_session (Cli *cli,
               int  status)
{
  g_autoptr(GError) error = NULL;

  if (cli->session == NULL || !tether_session_is_open (cli->session))
    return status;

  /* Nothing is reported done before it is on disk. */
  if (!tether_session_close (cli->session, &error))
    return fail (EXIT_FAILURE_, "could not save: %s", error->message);

  return status;
}

static TetherRecord *
lookup_ref (Cli        *cli,
            const char *ref)
{
  TetherRecord *record;

  record = tether_collection_lookup_ref (tether_session_get_collection (cli->session), ref);

  /* A tombstone only waits for its DELETE: list does not show it, so no
   * other command finds it either. */
  if (record != NULL && tether_record_get_sync_state (record) == TETHER_SYNC_STATE_DELETED)
    return NULL;

  return record;
}

/*
 * Output of records
 */

static JsonNode *
record_to_json (TetherRecord *record)
{
  g_autoptr(JsonBuilder) builder = json_builder_new ();
  JsonNode *id = tether_record_get_id (record);

  json_builder_begin_object (builder);
  json_builder_set_member_name (builder, "cid");
  json_builder_add_string_value (builder, tether_record_get_cid (record));
  json_builder_set_member_name (builder, "id");
  if (id != NULL)
    json_builder_add_value (builder, json_node_copy (id));
  else
    json_builder_add_null_value (builder);
  json_builder_set_member_name (builder, "state");
  json_builder_add_string_value (builder, tether_sync_state_to_string (tether_record_get_sync_state (record)));
  json_builder_set_member_name (builder, "attributes");
  json_builder_add_value (builder, json_node_init_object (json_node_alloc (), tether_record_get_attributes (record)));
  json_builder_end_object (builder);

  return json_builder_get_root (builder);
}

static char *
node_to_string (JsonNode *node)
{
  if (node == NULL)
    return g_strdup ("(none)");

  return json_to_string (node, FALSE);
}

/*
 * Commands
 */

static int
cmd_list (Cli   *cli,
          char **args)
{
  GListModel *model = G_LIST_MODEL (tether_session_get_collection (cli->session));
  guint n_items = g_list_model_get_n_items (model);
  g_autoptr(JsonArray) array = json_array_new ();

  if (args[0] != NULL)
    return fail (EXIT_USAGE, "list takes no arguments");

  for (guint i = 0; i < n_items; i++)
    {
      g_autoptr(TetherRecord) record = g_list_model_get_item (model, i);

      if (cli->json)
        {
          json_array_add_element (array, record_to_json (record));
        }
      else
        {
          g_autofree char *id = tether_record_dup_id_string (record);
          const char *title = tether_record_get_title (record);
          g_autofree char *flat = g_strdelimit (g_strdup (title ? title : ""), "\t\n\r", ' ');

          g_print ("%s\t%s\t%s\t%s\n",
                   tether_record_get_cid (record),
                   id ? id : "-",
                   tether_sync_state_to_string (tether_record_get_sync_state (record)),
                   flat);
        }
    }

  if (cli->json)
    {
      g_autoptr(JsonNode) root = json_node_init_array (json_node_alloc (), array);
      print_json (root);
    }

  return EXIT_OK;
}

static void
print_field_cb (JsonObject *object,
                const char *name,
                JsonNode   *node,
                gpointer    user_data)
{
  g_autofree char *value = json_to_string (node, FALSE);

  g_print ("%s=%s\n", name, value);
}

static int
cmd_show (Cli   *cli,
          char **args)
{
  TetherRecord *record;

  if (args[0] == NULL || args[1] != NULL)
    return fail (EXIT_USAGE, "usage: show REF");

  if (!(record = lookup_ref (cli, args[0])))
    return fail (EXIT_USAGE, "no record with cid or id “%s”", args[0]);

  if (cli->json)
    {
      g_autoptr(JsonNode) node = record_to_json (record);
      print_json (node);
    }
  else
    tether_record_foreach (record, print_field_cb, NULL);

  return EXIT_OK;
}

static gboolean
parse_assignments (char       **args,
                   JsonObject **out,
                   GError     **error)
{
  g_autoptr(JsonObject) changes = json_object_new ();

  for (guint i = 0; args[i] != NULL; i++)
    {
      g_autofree char *field = NULL;
      JsonNode *value = NULL;

      if (!tether_cli_parse_assignment (args[i], &field, &value, error))
        return FALSE;

      json_object_set_member (changes, field, value);
    }

  *out = g_steal_pointer (&changes);

  return TRUE;
}

static int
cmd_add (Cli   *cli,
         char **args)
{
  g_autoptr(JsonObject) changes = NULL;
  g_autoptr(TetherRecord) record = NULL;
  g_autoptr(GError) error = NULL;

  if (args[0] == NULL)
    return fail (EXIT_USAGE, "usage: add FIELD=VALUE...");

  if (!parse_assignments (args, &changes, &error))
    return fail (EXIT_USAGE, "%s", error->message);

  record = tether_record_new ();
  tether_record_update (record, changes);
  tether_collection_add (tether_session_get_collection (cli->session), record);

  if (cli->json)
    g_print ("{\"cid\":\"%s\"}\n", tether_record_get_cid (record));
  else
    g_print ("%s\n", tether_record_get_cid (record));

  return EXIT_OK;
}

static int
cmd_set (Cli   *cli,
         char **args)
{
  g_autoptr(JsonObject) changes = NULL;
  g_autoptr(GError) error = NULL;
  TetherRecord *record;

  if (args[0] == NULL || args[1] == NULL)
    return fail (EXIT_USAGE, "usage: set REF FIELD=VALUE...");

  if (!parse_assignments (args + 1, &changes, &error))
    return fail (EXIT_USAGE, "%s", error->message);

  if (!(record = lookup_ref (cli, args[0])))
    return fail (EXIT_USAGE, "no record with cid or id “%s”", args[0]);

  tether_record_update (record, changes);

  return EXIT_OK;
}

static int
cmd_unset (Cli   *cli,
           char **args)
{
  TetherRecord *record;

  if (args[0] == NULL || args[1] == NULL)
    return fail (EXIT_USAGE, "usage: unset REF FIELD...");

  if (!(record = lookup_ref (cli, args[0])))
    return fail (EXIT_USAGE, "no record with cid or id “%s”", args[0]);

  for (guint i = 1; args[i] != NULL; i++)
    tether_record_unset_attribute (record, args[i]);

  return EXIT_OK;
}

static int
cmd_delete (Cli   *cli,
            char **args)
{
  TetherRecord *record;

  if (args[0] == NULL || args[1] != NULL)
    return fail (EXIT_USAGE, "usage: delete REF");

  if (!(record = lookup_ref (cli, args[0])))
    return fail (EXIT_USAGE, "no record with cid or id “%s”", args[0]);

  tether_collection_delete (tether_session_get_collection (cli->session), record);

  return EXIT_OK;
}

typedef struct
{
  GMainLoop        *loop;
  gboolean          ok;
  TetherSyncReport  report;
  GError           *error;
  char             *secret;
} Wait;

static void
secret_cb (GObject      *object,
           GAsyncResult *result,
           gpointer      user_data)
{
  Wait *wait = user_data;

  wait->secret = tether_account_lookup_secret_finish (TETHER_ACCOUNT (object), result, &wait->error);
  g_main_loop_quit (wait->loop);
}

static void
sync_cb (GObject      *object,
         GAsyncResult *result,
         gpointer      user_data)
{
  Wait *wait = user_data;

  wait->ok = tether_sync_run_finish (TETHER_SYNC (object), result, &wait->report, &wait->error);
  g_main_loop_quit (wait->loop);
}

static char *
read_secret_from_stdin (void)
{
  g_autoptr(GString) secret = g_string_new (NULL);
  int c;

  while ((c = getchar ()) != EOF && c != '\n')
    g_string_append_c (secret, (char) c);

  if (secret->len > 0 && secret->str[secret->len - 1] == '\r')
    g_string_truncate (secret, secret->len - 1);

  return g_string_free (g_steal_pointer (&secret), FALSE);
}

static int
prepare_sync (Cli *cli)
{
  TetherRemote *remote = tether_session_get_remote (cli->session);
  g_autofree char *secret = NULL;

  if (!tether_account_has_server (cli->account))
    return fail (EXIT_FAILURE_, "no server is set: give --server URL or set one in Tether’s preferences");

  if (tether_account_get_auth_kind (cli->account) == TETHER_AUTH_KIND_NONE)
    return EXIT_OK;

  if (cli->password_stdin)
    {
      secret = read_secret_from_stdin ();

      /* An empty line is no password: saying so beats a 401 later. */
      if (secret[0] == '\0')
        return fail (EXIT_FAILURE_, "--password-stdin: no password or token on standard input");
    }
  else
    {
      Wait wait = { g_main_loop_new (NULL, FALSE) };

      tether_account_lookup_secret_async (cli->account, NULL, secret_cb, &wait);
      g_main_loop_run (wait.loop);
      g_main_loop_unref (wait.loop);

      if (wait.error != NULL)
        {
          int status = fail (EXIT_FAILURE_, "%s", wait.error->message);
          g_error_free (wait.error);
          return status;
        }

      secret = wait.secret;
    }

  tether_remote_set_secret (remote, secret);
  if (secret != NULL)
    memset (secret, 0, strlen (secret));

  return EXIT_OK;
}

static int
cmd_sync (Cli   *cli,
          char **args)
{
  TetherSync *sync = tether_session_get_sync (cli->session);
  TetherSyncFlags flags = TETHER_SYNC_FLAGS_ALL;
  Wait wait = { NULL };
  int status;

  for (guint i = 0; args[i] != NULL; i++)
    {
      if (g_str_equal (args[i], "--pull-only") && flags == TETHER_SYNC_FLAGS_ALL)
        flags = TETHER_SYNC_FLAGS_PULL;
      else if (g_str_equal (args[i], "--push-only") && flags == TETHER_SYNC_FLAGS_ALL)
        flags = TETHER_SYNC_FLAGS_PUSH;
      else
        return fail (EXIT_USAGE, "usage: sync [--pull-only|--push-only]");
    }

  if ((status = prepare_sync (cli)) != EXIT_OK)
    return status;

  wait.loop = g_main_loop_new (NULL, FALSE);
  tether_sync_run_async (sync, flags, NULL, sync_cb, &wait);
  g_main_loop_run (wait.loop);
  g_main_loop_unref (wait.loop);

  if (!wait.ok)
    {
      status = fail (EXIT_FAILURE_, "%s", wait.error->message);
      g_error_free (wait.error);
      return status;
    }

  if (cli->json)
    g_print ("{\"pulled\":%u,\"pushed\":%u,\"deleted\":%u,\"conflicts\":%u,\"errors\":%u}\n",
             wait.report.pulled, wait.report.pushed, wait.report.deleted,
             wait.report.conflicts, wait.report.errors);
  else
    g_print ("pulled %u, pushed %u, deleted %u, conflicts %u, errors %u\n",
             wait.report.pulled, wait.report.pushed, wait.report.deleted,
             wait.report.conflicts, wait.report.errors);

  return wait.report.conflicts > 0 || wait.report.errors > 0 ? EXIT_UNRESOLVED : EXIT_OK;
}

static int
cmd_status (Cli   *cli,
            char **args)
{
  GListModel *model = G_LIST_MODEL (tether_session_get_collection (cli->session));
  guint n_items = g_list_model_get_n_items (model);
  guint counts[TETHER_SYNC_STATE_DELETED + 1] = { 0 };
  g_autofree char *last = NULL;
  JsonNode *meta;

  if (args[0] != NULL)
    return fail (EXIT_USAGE, "status takes no arguments");

  for (guint i = 0; i < n_items; i++)
    {
      g_autoptr(TetherRecord) record = g_list_model_get_item (model, i);
      counts[tether_record_get_sync_state (record)]++;
    }

  /* Deletions not yet sent are changes waiting, like any other. */
  counts[TETHER_SYNC_STATE_PENDING] += counts[TETHER_SYNC_STATE_PUSHING];
  counts[TETHER_SYNC_STATE_PENDING] += tether_collection_get_tombstones (tether_session_get_collection (cli->session))->len;

  meta = tether_store_get_meta (tether_session_get_store (cli->session), "last-sync");
  if (meta != NULL && JSON_NODE_HOLDS_VALUE (meta) && json_node_get_value_type (meta) == G_TYPE_STRING)
    last = g_strdup (json_node_get_string (meta));

  if (cli->json)
    g_print ("{\"synced\":%u,\"pending\":%u,\"conflicts\":%u,\"errors\":%u,\"last_sync\":%s%s%s}\n",
             counts[TETHER_SYNC_STATE_SYNCED], counts[TETHER_SYNC_STATE_PENDING],
             counts[TETHER_SYNC_STATE_CONFLICT], counts[TETHER_SYNC_STATE_ERROR],
             last ? "\"" : "", last ? last : "null", last ? "\"" : "");
  else
    g_print ("synced %u, pending %u, conflicts %u, errors %u, last sync %s\n",
             counts[TETHER_SYNC_STATE_SYNCED], counts[TETHER_SYNC_STATE_PENDING],
             counts[TETHER_SYNC_STATE_CONFLICT], counts[TETHER_SYNC_STATE_ERROR],
             last ? last : "never");

  return EXIT_OK;
}

static int
cmd_conflicts (Cli   *cli,
               char **args)
{
  GListModel *model = G_LIST_MODEL (tether_session_get_collection (cli->session));
  guint n_items = g_list_model_get_n_items (model);
  g_autoptr(JsonArray) array = json_array_new ();

  if (args[0] != NULL)
    return fail (EXIT_USAGE, "conflicts takes no arguments");

  for (guint i = 0; i < n_items; i++)
    {
      g_autoptr(TetherRecord) record = g_list_model_get_item (model, i);
      JsonObject *conflict;
      JsonObjectIter iter;
      const char *name;
      JsonNode *entry;
      JsonObject *fields = NULL;

      if (tether_record_get_sync_state (record) != TETHER_SYNC_STATE_CONFLICT ||
          (conflict = tether_record_get_conflict (record)) == NULL)
        continue;

      if (cli->json)
        fields = json_object_new ();
      else
        {
          g_autofree char *id = tether_record_dup_id_string (record);
          const char *title = tether_record_get_title (record);

          g_print ("%s\t%s\t%s\n", tether_record_get_cid (record), id ? id : "-", title ? title : "");
          if (tether_record_get_error_message (record) != NULL)
            g_print ("  (%s)\n", tether_record_get_error_message (record));
        }

      json_object_iter_init_ordered (&iter, conflict);
      while (json_object_iter_next_ordered (&iter, &name, &entry))
        {
          JsonNode *mine = tether_record_get_attribute (record, name);
          JsonObject *entry_object = JSON_NODE_HOLDS_OBJECT (entry) ? json_node_get_object (entry) : NULL;
          JsonNode *theirs = entry_object ? json_object_get_member (entry_object, "theirs") : NULL;

          if (cli->json)
            {
              JsonObject *pair = json_object_new ();

              json_object_set_member (pair, "mine", mine ? json_node_copy (mine) : json_node_new (JSON_NODE_NULL));
              json_object_set_member (pair, "theirs", theirs ? json_node_copy (theirs) : json_node_new (JSON_NODE_NULL));
              json_object_set_boolean_member (pair, "theirs_removed", theirs == NULL);
              json_object_set_object_member (fields, name, pair);
            }
          else
            {
              g_autofree char *mine_text = node_to_string (mine);
              g_autofree char *theirs_text = theirs ? json_to_string (theirs, FALSE) : g_strdup ("(removed)");

              g_print ("  %s: mine=%s theirs=%s\n", name, mine_text, theirs_text);
            }
        }

      if (cli->json)
        {
          JsonNode *item = record_to_json (record);

          json_object_set_object_member (json_node_get_object (item), "conflicts", fields);
          json_array_add_element (array, item);
        }
    }

  if (cli->json)
    {
      g_autoptr(JsonNode) root = json_node_init_array (json_node_alloc (), array);
      print_json (root);
    }

  return EXIT_OK;
}

static int
cmd_resolve (Cli   *cli,
             char **args)
{
  TetherRecord *record;
  gboolean keep_mine;

  if (args[0] == NULL || args[1] == NULL || args[2] != NULL ||
      (!g_str_equal (args[1], "--mine") && !g_str_equal (args[1], "--theirs")))
    return fail (EXIT_USAGE, "usage: resolve REF --mine|--theirs");

  keep_mine = g_str_equal (args[1], "--mine");

  if (!(record = lookup_ref (cli, args[0])))
    return fail (EXIT_USAGE, "no record with cid or id “%s”", args[0]);

  if (tether_record_get_sync_state (record) != TETHER_SYNC_STATE_CONFLICT)
    return fail (EXIT_USAGE, "record “%s” is not in conflict", args[0]);

  /* Resolving needs no network: the choice is applied here and sent by
   * the next sync. */
  tether_sync_resolve (tether_session_get_sync (cli->session), record, NULL, keep_mine);

  return EXIT_OK;
}

static int
cmd_export (Cli   *cli,
            char **args)
{
  GListModel *model = G_LIST_MODEL (tether_session_get_collection (cli->session));
  guint n_items = g_list_model_get_n_items (model);
  g_autoptr(JsonArray) array = json_array_new ();
  g_autoptr(JsonNode) root = NULL;
  g_autoptr(GFile) file = NULL;
  g_autofree char *text = NULL;
  g_autoptr(GError) error = NULL;

  if (args[0] == NULL || args[1] != NULL)
    return fail (EXIT_USAGE, "usage: export FILE");

  for (guint i = 0; i < n_items; i++)
    {
      g_autoptr(TetherRecord) record = g_list_model_get_item (model, i);
      json_array_add_object_element (array, tether_record_to_json (record));
    }

  root = json_node_init_array (json_node_alloc (), array);
  text = json_to_string (root, TRUE);

  if (g_str_equal (args[0], "-"))
    {
      g_print ("%s\n", text);
      return EXIT_OK;
    }

  file = g_file_new_for_commandline_arg (args[0]);
  if (!g_file_replace_contents (file, text, strlen (text), NULL, FALSE,
                                G_FILE_CREATE_REPLACE_DESTINATION, NULL, NULL, &error))
    return fail (EXIT_FAILURE_, "cannot write %s: %s", args[0], error->message);

  return EXIT_OK;
}

static int
cmd_import (Cli   *cli,
            char **args)
{
  g_autoptr(JsonParser) parser = json_parser_new ();
  g_autoptr(GPtrArray) records = g_ptr_array_new_with_free_func (g_object_unref);
  g_autoptr(GError) error = NULL;
  g_autofree char *contents = NULL;
  gsize length;
  JsonNode *root;
  JsonArray *array;

  if (args[0] == NULL || args[1] != NULL)
    return fail (EXIT_USAGE, "usage: import FILE");

  if (g_str_equal (args[0], "-"))
    {
      g_autoptr(GInputStream) in = g_unix_input_stream_new (0, FALSE);
      g_autoptr(GOutputStream) out = g_memory_output_stream_new_resizable ();

      if (g_output_stream_splice (out, in, G_OUTPUT_STREAM_SPLICE_CLOSE_TARGET, NULL, &error) < 0)
        return fail (EXIT_FAILURE_, "cannot read standard input: %s", error->message);
      length = g_memory_output_stream_get_data_size (G_MEMORY_OUTPUT_STREAM (out));
      contents = g_memory_output_stream_steal_data (G_MEMORY_OUTPUT_STREAM (out));
    }
  else if (!g_file_get_contents (args[0], &contents, &length, &error))
    return fail (EXIT_FAILURE_, "cannot read %s: %s", args[0], error->message);

  /* The scanner first: json-glib also takes a lone surrogate escape (and
   * makes invalid UTF-8 of it) or a second value after the first, and
   * recurses without a limit, so that deep nesting overflows the stack. */
  if (!tether_json_scan_validate (contents, length, &error) ||
      !json_parser_load_from_data (parser, contents, length, &error))
    {
      if (g_error_matches (error, TETHER_JSON_SCAN_ERROR, TETHER_JSON_SCAN_ERROR_TOO_DEEP))
        return fail (EXIT_FAILURE_, "%s is nested more than %d levels deep",
                     args[0], TETHER_JSON_SCAN_MAX_DEPTH);

      return fail (EXIT_FAILURE_, "%s is not valid JSON: %s", args[0], error->message);
    }

  root = json_parser_get_root (parser);
  if (root == NULL || !JSON_NODE_HOLDS_ARRAY (root))
    return fail (EXIT_FAILURE_, "%s must hold a JSON array of objects", args[0]);

  array = json_node_get_array (root);
  for (guint i = 0; i < json_array_get_length (array); i++)
    {
      JsonNode *element = json_array_get_element (array, i);
      TetherRecord *record;

      if (!JSON_NODE_HOLDS_OBJECT (element))
        return fail (EXIT_FAILURE_, "%s: element %u is not an object; nothing was imported", args[0], i);

      record = tether_record_new ();
      tether_record_update (record, json_node_get_object (element));
      g_ptr_array_add (records, record);
    }

  /* All or nothing: one bad element above imports none. */
  for (guint i = 0; i < records->len; i++)
    tether_collection_add (tether_session_get_collection (cli->session), g_ptr_array_index (records, i));

  if (!cli->json)
    g_print ("imported %u\n", records->len);
  else
    g_print ("{\"imported\":%u}\n", records->len);

  return EXIT_OK;
}

static const struct {
  const char *name;
  int (*run) (Cli *cli, char **args);
} commands[] = {
  { "list", cmd_list },
  { "show", cmd_show },
  { "add", cmd_add },
  { "set", cmd_set },
  { "unset", cmd_unset },
  { "delete", cmd_delete },
  { "sync", cmd_sync },
  { "status", cmd_status },
  { "conflicts", cmd_conflicts },
  { "resolve", cmd_resolve },
  { "export", cmd_export },
  { "import", cmd_import },
};

int
main (int   argc,
      char *argv[])
{
  g_autoptr(GOptionContext) context = NULL;
  g_autoptr(GError) error = NULL;
  gboolean version = FALSE;
  g_auto(Cli) cli = { NULL };
  int status;
  int (*run) (Cli *, char **) = NULL;
  const GOptionEntry entries[] = {
    { "store", 0, 0, G_OPTION_ARG_FILENAME, &cli.store_dir,
      "use the store in DIR (created if missing) instead of the app's store", "DIR" },
    { "server", 0, 0, G_OPTION_ARG_STRING, &cli.server,
      "server base URL, e.g. http://127.0.0.1:3000 (default: the app's setting)", "URL" },
    { "collection", 0, 0, G_OPTION_ARG_STRING, &cli.collection,
      "collection path (default: the app's setting, \"records\")", "PATH" },
    { "json", 0, 0, G_OPTION_ARG_NONE, &cli.json,
      "machine-readable output on stdout (one JSON document)", NULL },
    { "password-stdin", 0, 0, G_OPTION_ARG_NONE, &cli.password_stdin,
      "read the password or token from the first line of stdin", NULL },
    { "version", 0, 0, G_OPTION_ARG_NONE, &version,
      "print the version and exit", NULL },
    { NULL }
  };

  setlocale (LC_ALL, "");
  bindtextdomain (GETTEXT_PACKAGE, LOCALEDIR);
  bind_textdomain_codeset (GETTEXT_PACKAGE, "UTF-8");
  textdomain (GETTEXT_PACKAGE);

  /* The CLI runs where there may be no session bus: GIO must not try to
   * reach one for settings it only reads. */
  if (g_getenv ("DBUS_SESSION_BUS_ADDRESS") == NULL && g_getenv ("GSETTINGS_BACKEND") == NULL)
    g_setenv ("GSETTINGS_BACKEND", "memory", TRUE);

  context = g_option_context_new ("COMMAND [ARGS...]");
  g_option_context_set_summary (context, "Tether's records and sync from a shell.");
  g_option_context_set_description (context, commands_help);
  g_option_context_add_main_entries (context, entries, NULL);
  /* Options come before the command; what follows is the command's. */
  g_option_context_set_strict_posix (context, TRUE);

  if (!g_option_context_parse (context, &argc, &argv, &error))
    return fail (EXIT_USAGE, "%s (see tether-cli --help)", error->message);

  if (version)
    {
      g_print ("tether-cli %s\n", PACKAGE_VERSION);
      return EXIT_OK;
    }

  if (argc < 2)
    return fail (EXIT_USAGE, "no command given (see tether-cli --help)");

  for (guint i = 0; i < G_N_ELEMENTS (commands); i++)
    if (g_str_equal (argv[1], commands[i].name))
      run = commands[i].run;

  if (run == NULL)
    return fail (EXIT_USAGE, "unknown command “%s” (see tether-cli --help)", argv[1]);

  if ((status = open_session (&cli)) == EXIT_OK)
    status = run (&cli, argv + 2);

  status = close_session (&cli, status);

  /* Output a script did not get is a failure, not a success: a full disk
   * or a closed pipe must show in the exit status. */
  errno = 0;
  if (fflush (stdout) != 0 || ferror (stdout))
    {
      int saved_errno = errno;

      status = fail (EXIT_FAILURE_, "cannot write to standard output%s%s",
                     saved_errno != 0 ? ": " : "",
                     saved_errno != 0 ? g_strerror (saved_errno) : "");
    }

  return status;
}
