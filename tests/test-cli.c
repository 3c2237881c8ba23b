/* test-cli.c
 *
 * Copyright 2026 The Tether authors
 *
 * SPDX-License-Identifier: GPL-3.0-or-later
 */

#include "config.h"

#include <string.h>
#include <unistd.h>

#include <glib/gstdio.h>

#include "tether-store.h"
#include "tether-test-json-server.h"
#include "tether-test-soup-server.h"
#include "tether-test-util.h"

/* The tether-cli contract (issue 5), checked on the real binary: each test
 * runs tether-cli in a subprocess on a store directory of its own, most
 * against a real json-server. Every run checks the exit status, stdout and
 * stderr; a failure is exactly one line on stderr that starts with
 * "tether-cli: ". */

static char *cli_path;

#define EMPTY_SYNC "pulled 0, pushed 0, deleted 0, conflicts 0, errors 0"

typedef struct
{
  char                 *store_dir;
  TetherTestJsonServer *server;
  const char           *url;   /* --server, when set */

  /* Tweaks of the subprocess's environment. */
  GStrv                 unset_env;
  GStrv                 set_env;  /* NAME, VALUE, NAME, VALUE… */
  const char           *stdout_path;
  GStrv                 secrets;  /* never in any output */

  /* The last run. */
  int                   status;
  char                 *out;
  char                 *err;
} Fixture;

/*
 * Running tether-cli
 */

static void
delete_recursively (const char *path)
{
  g_autoptr(GDir) dir = NULL;
  const char *name;

  if (g_file_test (path, G_FILE_TEST_IS_DIR) && !g_file_test (path, G_FILE_TEST_IS_SYMLINK))
    {
      dir = g_dir_open (path, 0, NULL);
      while (dir != NULL && (name = g_dir_read_name (dir)) != NULL)
        {
          g_autofree char *child = g_build_filename (path, name, NULL);
          delete_recursively (child);
        }
      g_rmdir (path);
    }
  else
    g_unlink (path);
}

static void
fixture_set_up (Fixture       *fixture,
                gconstpointer  data)
{
  g_autoptr(GError) error = NULL;

  fixture->store_dir = g_dir_make_tmp ("tether-cli-store-XXXXXX", &error);
  g_assert_no_error (error);
}

static void
fixture_tear_down (Fixture       *fixture,
                   gconstpointer  data)
{
  delete_recursively (fixture->store_dir);
  g_free (fixture->store_dir);
  g_clear_pointer (&fixture->server, tether_test_json_server_free);
  g_clear_pointer (&fixture->unset_env, g_strfreev);
  g_clear_pointer (&fixture->set_env, g_strfreev);
  g_clear_pointer (&fixture->secrets, g_strfreev);
  g_free (fixture->out);
  g_free (fixture->err);
}

static void
start_server (Fixture    *fixture,
              const char *db_json)
{
  g_autoptr(GError) error = NULL;

  fixture->server = tether_test_json_server_new (db_json, &error);
  g_assert_no_error (error);
  fixture->url = tether_test_json_server_get_url (fixture->server);
}

static char *
bytes_to_string (GBytes *bytes)
{
  gsize size = 0;
  const char *data = bytes != NULL ? g_bytes_get_data (bytes, &size) : NULL;

  return g_strndup (data != NULL ? data : "", size);
}

/* Runs tether-cli with exactly @argv (after the program name). */
static void
run_argv (Fixture            *fixture,
          const char         *input,
          const char * const *argv)
{
  g_autoptr(GSubprocessLauncher) launcher = NULL;
  g_autoptr(GSubprocess) process = NULL;
  g_autoptr(GPtrArray) args = g_ptr_array_new ();
  g_autoptr(GBytes) stdin_bytes = NULL;
  g_autoptr(GBytes) stdout_bytes = NULL;
  g_autoptr(GBytes) stderr_bytes = NULL;
  g_autoptr(GError) error = NULL;
  g_autofree char *command_line = NULL;
  GSubprocessFlags flags = G_SUBPROCESS_FLAGS_STDIN_PIPE | G_SUBPROCESS_FLAGS_STDERR_PIPE;

  if (fixture->stdout_path == NULL)
    flags |= G_SUBPROCESS_FLAGS_STDOUT_PIPE;

  launcher = g_subprocess_launcher_new (flags);
  if (fixture->stdout_path != NULL)
    g_subprocess_launcher_set_stdout_file_path (launcher, fixture->stdout_path);

  for (guint i = 0; fixture->unset_env != NULL && fixture->unset_env[i] != NULL; i++)
    g_subprocess_launcher_unsetenv (launcher, fixture->unset_env[i]);
  for (guint i = 0; fixture->set_env != NULL && fixture->set_env[i] != NULL; i += 2)
    g_subprocess_launcher_setenv (launcher, fixture->set_env[i], fixture->set_env[i + 1], TRUE);

  g_ptr_array_add (args, cli_path);
  for (guint i = 0; argv[i] != NULL; i++)
    g_ptr_array_add (args, (gpointer) argv[i]);
  g_ptr_array_add (args, NULL);

  command_line = g_strjoinv (" ", (char **) args->pdata);
  g_test_message ("$ %s", command_line);

  process = g_subprocess_launcher_spawnv (launcher, (const char * const *) args->pdata, &error);
  g_assert_no_error (error);

  if (input != NULL)
    stdin_bytes = g_bytes_new (input, strlen (input));
  else
    stdin_bytes = g_bytes_new_static ("", 0);

  g_subprocess_communicate (process, stdin_bytes, NULL, &stdout_bytes, &stderr_bytes, &error);
  g_assert_no_error (error);

  /* A crash or an abort (a g_warning under G_DEBUG=fatal-warnings) is
   * never an acceptable outcome. */
  if (!g_subprocess_get_if_exited (process))
    {
      g_autofree char *err = bytes_to_string (stderr_bytes);

      g_error ("tether-cli was killed by signal %d; its stderr: %s",
               g_subprocess_get_term_sig (process), err);
    }

  g_free (fixture->out);
  g_free (fixture->err);
  fixture->status = g_subprocess_get_exit_status (process);
  fixture->out = bytes_to_string (stdout_bytes);
  fixture->err = bytes_to_string (stderr_bytes);

  g_test_message ("status %d\nstdout: %s\nstderr: %s", fixture->status, fixture->out, fixture->err);

  for (guint i = 0; fixture->secrets != NULL && fixture->secrets[i] != NULL; i++)
    {
      g_assert_null (strstr (fixture->out, fixture->secrets[i]));
      g_assert_null (strstr (fixture->err, fixture->secrets[i]));
    }
}

/* Runs tether-cli --store DIR [--server URL] ARGS... */
static void
run_with_input (Fixture    *fixture,
                const char *input,
                const char *first,
                ...) G_GNUC_NULL_TERMINATED;

static void
run_valist (Fixture    *fixture,
            const char *input,
            const char *first,
            va_list     args)
{
  g_autoptr(GPtrArray) argv = g_ptr_array_new ();

  g_ptr_array_add (argv, (gpointer) "--store");
  g_ptr_array_add (argv, fixture->store_dir);
  if (fixture->url != NULL)
    {
      g_ptr_array_add (argv, (gpointer) "--server");
      g_ptr_array_add (argv, (gpointer) fixture->url);
    }

  for (const char *arg = first; arg != NULL; arg = va_arg (args, const char *))
    g_ptr_array_add (argv, (gpointer) arg);
  g_ptr_array_add (argv, NULL);

  run_argv (fixture, input, (const char * const *) argv->pdata);
}

static void
run_with_input (Fixture    *fixture,
                const char *input,
                const char *first,
                ...)
{
  va_list args;

  va_start (args, first);
  run_valist (fixture, input, first, args);
  va_end (args);
}

static void run (Fixture    *fixture,
                 const char *first,
                 ...) G_GNUC_NULL_TERMINATED;

static void
run (Fixture    *fixture,
     const char *first,
     ...)
{
  va_list args;

  va_start (args, first);
  run_valist (fixture, NULL, first, args);
  va_end (args);
}

/*
 * Checking a run
 */

/* Success: status 0, nothing on stderr, exactly @expected_out on stdout
 * (unless it is %NULL: the caller checks stdout). */
static void
assert_ok (Fixture    *fixture,
           const char *expected_out)
{
  g_assert_cmpint (fixture->status, ==, 0);
  g_assert_cmpstr (fixture->err, ==, "");
  if (expected_out != NULL)
    g_assert_cmpstr (fixture->out, ==, expected_out);
}

/* Failure: @status, nothing on stdout, one line on stderr starting with
 * "tether-cli: " and containing @cause. */
static void
assert_fails (Fixture    *fixture,
              int         status,
              const char *cause)
{
  const char *newline = strchr (fixture->err, '\n');

  g_assert_cmpint (fixture->status, ==, status);
  g_assert_cmpstr (fixture->out, ==, "");
  g_assert_true (g_str_has_prefix (fixture->err, "tether-cli: "));
  g_assert_nonnull (newline);
  g_assert_cmpstr (newline, ==, "\n");
  g_assert_cmpuint (strlen (fixture->err), >, strlen ("tether-cli: ") + 1);
  if (cause != NULL && strstr (fixture->err, cause) == NULL)
    g_error ("stderr “%s” does not name the cause “%s”", fixture->err, cause);
}

/* The sync's summary line and status 0 (or 3). */
static void
assert_sync (Fixture    *fixture,
             int         status,
             const char *summary)
{
  g_autofree char *line = g_strconcat (summary, "\n", NULL);

  g_assert_cmpint (fixture->status, ==, status);
  g_assert_cmpstr (fixture->err, ==, "");
  g_assert_cmpstr (fixture->out, ==, line);
}

static JsonNode *
parse_json (const char *text)
{
  g_autoptr(JsonParser) parser = json_parser_new ();
  g_autoptr(GError) error = NULL;

  json_parser_load_from_data (parser, text, -1, &error);
  g_assert_no_error (error);
  g_assert_nonnull (json_parser_get_root (parser));

  return json_node_ref (json_parser_get_root (parser));
}

static guint
count_lines (const char *text)
{
  guint n = 0;

  for (const char *p = text; *p != '\0'; p++)
    if (*p == '\n')
      n++;

  return n;
}

/* stdout without its newline: the cid that add printed. */
static char *
out_line (Fixture *fixture)
{
  g_assert_true (g_str_has_suffix (fixture->out, "\n"));
  g_assert_cmpuint (count_lines (fixture->out), ==, 1);

  return g_strndup (fixture->out, strlen (fixture->out) - 1);
}

static char *
add_record (Fixture    *fixture,
            const char *first,
            ...) G_GNUC_NULL_TERMINATED;

static char *
add_record (Fixture    *fixture,
            const char *first,
            ...)
{
  g_autoptr(GPtrArray) argv = g_ptr_array_new ();
  char *cid;
  va_list args;

  g_ptr_array_add (argv, (gpointer) "--store");
  g_ptr_array_add (argv, fixture->store_dir);
  g_ptr_array_add (argv, (gpointer) "add");

  va_start (args, first);
  for (const char *arg = first; arg != NULL; arg = va_arg (args, const char *))
    g_ptr_array_add (argv, (gpointer) arg);
  va_end (args);
  g_ptr_array_add (argv, NULL);

  run_argv (fixture, NULL, (const char * const *) argv->pdata);
  assert_ok (fixture, NULL);

  cid = out_line (fixture);
  g_assert_true (g_uuid_string_is_valid (cid));

  return cid;
}

/* `list --json`, parsed. */
static JsonArray *
list_json (Fixture *fixture)
{
  g_autoptr(JsonNode) root = NULL;

  run (fixture, "--json", "list", NULL);
  assert_ok (fixture, NULL);

  root = parse_json (fixture->out);
  g_assert_true (JSON_NODE_HOLDS_ARRAY (root));

  return json_array_ref (json_node_get_array (root));
}

/* `show --json REF`, parsed; asserts the object's shape. */
static JsonObject *
show_json (Fixture    *fixture,
           const char *ref)
{
  g_autoptr(JsonNode) root = NULL;
  JsonObject *object;

  run (fixture, "--json", "show", ref, NULL);
  assert_ok (fixture, NULL);

  root = parse_json (fixture->out);
  g_assert_true (JSON_NODE_HOLDS_OBJECT (root));
  object = json_node_get_object (root);
  g_assert_cmpuint (json_object_get_size (object), ==, 4);
  g_assert_true (JSON_NODE_HOLDS_VALUE (json_object_get_member (object, "cid")));
  g_assert_true (json_object_has_member (object, "id"));
  g_assert_true (JSON_NODE_HOLDS_VALUE (json_object_get_member (object, "state")));
  g_assert_true (JSON_NODE_HOLDS_OBJECT (json_object_get_member (object, "attributes")));

  return json_object_ref (object);
}

static JsonObject *
attributes_of (JsonObject *record)
{
  return json_object_get_object_member (record, "attributes");
}

/* The one record on the server whose clientId is @cid. */
static JsonObject *
server_record_for (Fixture    *fixture,
                   const char *cid)
{
  g_autoptr(JsonArray) records = tether_test_json_server_dup_collection (fixture->server, "records");

  for (guint i = 0; i < json_array_get_length (records); i++)
    {
      JsonObject *record = json_array_get_object_element (records, i);

      if (g_strcmp0 (json_object_get_string_member_with_default (record, "clientId", NULL), cid) == 0)
        return json_object_ref (record);
    }

  return NULL;
}

static JsonObject *
server_get (Fixture    *fixture,
            const char *path,
            guint      *out_status)
{
  g_autoptr(JsonNode) root = NULL;
  g_autoptr(GError) error = NULL;

  root = tether_test_json_server_request (fixture->server, "GET", path, NULL, out_status, &error);
  g_assert_no_error (error);
  g_assert_nonnull (root);
  g_assert_true (JSON_NODE_HOLDS_OBJECT (root));

  return json_object_ref (json_node_get_object (root));
}

static void
server_patch (Fixture    *fixture,
              const char *path,
              const char *body)
{
  g_autoptr(JsonNode) root = NULL;
  g_autoptr(GError) error = NULL;
  guint status = 0;

  root = tether_test_json_server_request (fixture->server, "PATCH", path, body, &status, &error);
  g_assert_no_error (error);
  g_assert_cmpuint (status, ==, 200);
}

static char *
id_text (JsonObject *record)
{
  JsonNode *id = json_object_get_member (record, "id");

  g_assert_nonnull (id);
  if (json_node_get_value_type (id) == G_TYPE_STRING)
    return g_strdup (json_node_get_string (id));

  return g_strdup_printf ("%" G_GINT64_FORMAT, json_node_get_int (id));
}

static void
assert_status_line (Fixture    *fixture,
                    const char *counts)
{
  g_autoptr(GRegex) regex = NULL;
  g_autoptr(GMatchInfo) match = NULL;
  g_autoptr(GDateTime) synced_at = NULL;
  g_autoptr(GDateTime) now = g_date_time_new_now_utc ();
  g_autofree char *pattern = NULL;
  g_autofree char *when = NULL;

  run (fixture, "status", NULL);
  assert_ok (fixture, NULL);

  pattern = g_strdup_printf ("^%s, last sync (never|\\d{4}-\\d\\d-\\d\\dT\\d\\d:\\d\\d:\\d\\d(\\.\\d+)?Z)\\n$", counts);
  regex = g_regex_new (pattern, 0, 0, NULL);
  if (!g_regex_match (regex, fixture->out, 0, &match))
    g_error ("status printed “%s”, not “%s, last sync TIME|never”", fixture->out, counts);

  when = g_match_info_fetch (match, 1);
  if (g_str_equal (when, "never"))
    return;

  /* A real time, and a recent one. */
  synced_at = g_date_time_new_from_iso8601 (when, NULL);
  g_assert_nonnull (synced_at);
  g_assert_cmpint (ABS (g_date_time_difference (now, synced_at)), <, 10 * 60 * G_TIME_SPAN_SECOND);
}

static char *
write_temp_file (Fixture    *fixture,
                 const char *name,
                 const char *contents)
{
  g_autoptr(GError) error = NULL;
  char *file;

  /* Beside the store directory, removed by the test. */
  file = g_strdup_printf ("%s.%s", fixture->store_dir, name);
  g_file_set_contents (file, contents, -1, &error);
  g_assert_no_error (error);

  return file;
}

/*
 * The shell scenario of the issue
 */

static void
test_scenario (Fixture       *fixture,
               gconstpointer  data)
{
  g_autoptr(JsonArray) records = NULL;
  g_autoptr(JsonObject) on_server = NULL;
  g_autoptr(JsonObject) again = NULL;
  g_autofree char *cid = NULL;
  g_autofree char *id = NULL;
  g_autofree char *expected = NULL;
  g_autofree char *path = NULL;
  guint status = 0;

  /* Offline: no server at all yet. */
  cid = add_record (fixture, "title=Buy milk", NULL);

  run (fixture, "list", NULL);
  expected = g_strdup_printf ("%s\t-\tpending\tBuy milk\n", cid);
  assert_ok (fixture, expected);
  g_clear_pointer (&expected, g_free);

  start_server (fixture, NULL);

  run (fixture, "sync", NULL);
  assert_sync (fixture, 0, "pulled 0, pushed 1, deleted 0, conflicts 0, errors 0");

  records = tether_test_json_server_dup_collection (fixture->server, "records");
  g_assert_cmpuint (json_array_get_length (records), ==, 1);
  on_server = server_record_for (fixture, cid);
  g_assert_nonnull (on_server);
  g_assert_cmpstr (json_object_get_string_member (on_server, "title"), ==, "Buy milk");
  id = id_text (on_server);

  run (fixture, "list", NULL);
  expected = g_strdup_printf ("%s\t%s\tsynced\tBuy milk\n", cid, id);
  assert_ok (fixture, expected);
  g_clear_pointer (&expected, g_free);

  run (fixture, "set", cid, "title=Buy oat milk", NULL);
  assert_ok (fixture, "");

  run (fixture, "list", NULL);
  expected = g_strdup_printf ("%s\t%s\tpending\tBuy oat milk\n", cid, id);
  assert_ok (fixture, expected);
  g_clear_pointer (&expected, g_free);

  run (fixture, "sync", NULL);
  assert_sync (fixture, 0, "pulled 0, pushed 1, deleted 0, conflicts 0, errors 0");

  path = g_strdup_printf ("/records/%s", id);
  again = server_get (fixture, path, &status);
  g_assert_cmpuint (status, ==, 200);
  g_assert_cmpstr (json_object_get_string_member (again, "title"), ==, "Buy oat milk");

  /* Deleted by its server id this time. */
  run (fixture, "delete", id, NULL);
  assert_ok (fixture, "");

  run (fixture, "list", NULL);
  assert_ok (fixture, "");
  assert_status_line (fixture, "synced 0, pending 1, conflicts 0, errors 0");

  run (fixture, "sync", NULL);
  assert_sync (fixture, 0, "pulled 0, pushed 0, deleted 1, conflicts 0, errors 0");

  g_clear_pointer (&records, json_array_unref);
  records = tether_test_json_server_dup_collection (fixture->server, "records");
  g_assert_cmpuint (json_array_get_length (records), ==, 0);

  run (fixture, "list", NULL);
  assert_ok (fixture, "");
  assert_status_line (fixture, "synced 0, pending 0, conflicts 0, errors 0");

  /* A sync with nothing to do does nothing. */
  run (fixture, "sync", NULL);
  assert_sync (fixture, 0, EMPTY_SYNC);
}

/*
 * list and show
 */

static void
test_list_show (Fixture       *fixture,
                gconstpointer  data)
{
  g_autoptr(JsonArray) array = NULL;
  g_autoptr(JsonObject) by_id = NULL;
  g_autoptr(JsonObject) by_cid = NULL;
  g_autoptr(JsonObject) by_text_id = NULL;
  g_autoptr(JsonObject) local = NULL;
  g_autofree char *one_cid = NULL;
  g_autofree char *abc_cid = NULL;
  g_autofree char *new_cid = NULL;
  g_auto(GStrv) lines = NULL;
  g_autofree char *expected = NULL;

  /* Two server records, one with an integer id and one with a string id. */
  start_server (fixture,
                "{\"records\": [{\"id\": 1, \"title\": \"One\", \"n\": 1},"
                "               {\"id\": \"abc\", \"title\": \"Two\\tTabbed\", \"done\": true}]}");

  /* An empty store lists nothing, in both forms. */
  run (fixture, "list", NULL);
  assert_ok (fixture, "");
  array = list_json (fixture);
  g_assert_cmpuint (json_array_get_length (array), ==, 0);
  g_clear_pointer (&array, json_array_unref);

  run (fixture, "sync", "--pull-only", NULL);
  assert_sync (fixture, 0, "pulled 2, pushed 0, deleted 0, conflicts 0, errors 0");

  array = list_json (fixture);
  g_assert_cmpuint (json_array_get_length (array), ==, 2);
  for (guint i = 0; i < 2; i++)
    {
      JsonObject *record = json_array_get_object_element (array, i);
      JsonNode *id = json_object_get_member (record, "id");
      const char *cid = json_object_get_string_member (record, "cid");

      g_assert_cmpuint (json_object_get_size (record), ==, 4);
      g_assert_true (g_uuid_string_is_valid (cid));
      g_assert_cmpstr (json_object_get_string_member (record, "state"), ==, "synced");
      /* The id keeps its JSON type and is not an attribute. */
      g_assert_false (json_object_has_member (attributes_of (record), "id"));

      if (json_node_get_value_type (id) == G_TYPE_INT64)
        {
          g_assert_cmpint (json_node_get_int (id), ==, 1);
          g_assert_cmpstr (json_object_get_string_member (attributes_of (record), "title"), ==, "One");
          g_assert_cmpint (json_object_get_int_member (attributes_of (record), "n"), ==, 1);
          one_cid = g_strdup (cid);
        }
      else
        {
          g_assert_cmpstr (json_node_get_string (id), ==, "abc");
          g_assert_cmpstr (json_object_get_string_member (attributes_of (record), "title"), ==, "Two\tTabbed");
          g_assert_true (json_object_get_boolean_member (attributes_of (record), "done"));
          abc_cid = g_strdup (cid);
        }
    }
  g_assert_nonnull (one_cid);
  g_assert_nonnull (abc_cid);

  /* Text: CID<TAB>ID<TAB>STATE<TAB>TITLE, a tab in the title flattened. */
  run (fixture, "list", NULL);
  assert_ok (fixture, NULL);
  lines = g_strsplit (fixture->out, "\n", -1);
  g_assert_cmpuint (g_strv_length (lines), ==, 3);
  g_assert_cmpstr (lines[2], ==, "");
  expected = g_strdup_printf ("%s\t1\tsynced\tOne", one_cid);
  g_assert_true (g_strv_contains ((const char * const *) lines, expected));
  g_clear_pointer (&expected, g_free);
  expected = g_strdup_printf ("%s\tabc\tsynced\tTwo Tabbed", abc_cid);
  g_assert_true (g_strv_contains ((const char * const *) lines, expected));
  g_clear_pointer (&expected, g_free);

  /* show: KEY=JSON per line, by server id or by cid alike. */
  run (fixture, "show", "1", NULL);
  assert_ok (fixture, "title=\"One\"\nn=1\n");
  run (fixture, "show", one_cid, NULL);
  assert_ok (fixture, "title=\"One\"\nn=1\n");
  run (fixture, "show", "abc", NULL);
  assert_ok (fixture, "title=\"Two\\tTabbed\"\ndone=true\n");

  by_id = show_json (fixture, "1");
  by_cid = show_json (fixture, one_cid);
  g_assert_cmpstr (json_object_get_string_member (by_id, "cid"), ==, one_cid);
  g_assert_cmpint (json_object_get_int_member (by_id, "id"), ==, 1);
  g_assert_cmpstr (json_object_get_string_member (by_id, "state"), ==, "synced");
  g_assert_true (json_node_equal (json_object_get_member (by_id, "attributes"),
                                  json_object_get_member (by_cid, "attributes")));
  g_assert_cmpstr (json_object_get_string_member (by_cid, "cid"), ==, one_cid);

  by_text_id = show_json (fixture, "abc");
  g_assert_cmpstr (json_object_get_string_member (by_text_id, "id"), ==, "abc");
  g_assert_cmpstr (json_object_get_string_member (by_text_id, "cid"), ==, abc_cid);

  /* A local record: no id yet, "-" in text, null in JSON. */
  new_cid = add_record (fixture, "title=Local", NULL);
  local = show_json (fixture, new_cid);
  g_assert_true (JSON_NODE_HOLDS_NULL (json_object_get_member (local, "id")));
  g_assert_cmpstr (json_object_get_string_member (local, "state"), ==, "pending");
  g_assert_cmpstr (json_object_get_string_member (attributes_of (local), "title"), ==, "Local");

  run (fixture, "list", NULL);
  assert_ok (fixture, NULL);
  expected = g_strdup_printf ("%s\t-\tpending\tLocal\n", new_cid);
  g_assert_true (g_str_has_suffix (fixture->out, expected));

  json_array_unref (array);
  array = list_json (fixture);
  g_assert_cmpuint (json_array_get_length (array), ==, 3);

  /* --json add prints one JSON document too. */
  run (fixture, "--json", "add", "title=Another", NULL);
  assert_ok (fixture, NULL);
  {
    g_autoptr(JsonNode) root = parse_json (fixture->out);

    g_assert_true (JSON_NODE_HOLDS_OBJECT (root));
    g_assert_true (g_uuid_string_is_valid (json_object_get_string_member (json_node_get_object (root), "cid")));
  }
}

/*
 * FIELD=VALUE
 */

static void
test_values (Fixture       *fixture,
             gconstpointer  data)
{
  g_autoptr(JsonObject) record = NULL;
  g_autoptr(JsonObject) on_server = NULL;
  g_autoptr(JsonObject) changed = NULL;
  g_autofree char *cid = NULL;
  JsonObject *attributes;
  JsonNode *node;

  cid = add_record (fixture,
                    "n=42",
                    "x=1.5",
                    "yes=true",
                    "nothing=null",
                    "quoted=\"quoted\"",
                    "list=[1,2]",
                    "object={\"a\":1}",
                    "title=Buy milk and bread",
                    "equation=a=b",
                    "empty=",
                    "broken={not json",
                    "spaced= 7 ",
                    NULL);

  record = show_json (fixture, cid);
  attributes = attributes_of (record);
  g_assert_cmpuint (json_object_get_size (attributes), ==, 12);

  g_assert_cmpint (json_node_get_value_type (json_object_get_member (attributes, "n")), ==, G_TYPE_INT64);
  g_assert_cmpint (json_object_get_int_member (attributes, "n"), ==, 42);
  g_assert_cmpfloat (json_object_get_double_member (attributes, "x"), ==, 1.5);
  g_assert_cmpint (json_node_get_value_type (json_object_get_member (attributes, "yes")), ==, G_TYPE_BOOLEAN);
  g_assert_true (json_object_get_boolean_member (attributes, "yes"));
  g_assert_true (JSON_NODE_HOLDS_NULL (json_object_get_member (attributes, "nothing")));
  g_assert_cmpstr (json_object_get_string_member (attributes, "quoted"), ==, "quoted");

  node = json_object_get_member (attributes, "list");
  g_assert_true (JSON_NODE_HOLDS_ARRAY (node));
  g_assert_cmpuint (json_array_get_length (json_node_get_array (node)), ==, 2);
  g_assert_cmpint (json_array_get_int_element (json_node_get_array (node), 1), ==, 2);

  node = json_object_get_member (attributes, "object");
  g_assert_true (JSON_NODE_HOLDS_OBJECT (node));
  g_assert_cmpint (json_object_get_int_member (json_node_get_object (node), "a"), ==, 1);

  /* Not JSON: plain strings, whatever they hold. */
  g_assert_cmpstr (json_object_get_string_member (attributes, "title"), ==, "Buy milk and bread");
  g_assert_cmpstr (json_object_get_string_member (attributes, "equation"), ==, "a=b");
  g_assert_cmpstr (json_object_get_string_member (attributes, "empty"), ==, "");
  g_assert_cmpstr (json_object_get_string_member (attributes, "broken"), ==, "{not json");
  /* JSON around blanks is still JSON. */
  g_assert_cmpint (json_object_get_int_member (attributes, "spaced"), ==, 7);

  /* The text form prints each value as JSON, in the order given. */
  run (fixture, "show", cid, NULL);
  assert_ok (fixture,
             "n=42\n"
             "x=1.5\n"
             "yes=true\n"
             "nothing=null\n"
             "quoted=\"quoted\"\n"
             "list=[1,2]\n"
             "object={\"a\":1}\n"
             "title=\"Buy milk and bread\"\n"
             "equation=\"a=b\"\n"
             "empty=\"\"\n"
             "broken=\"{not json\"\n"
             "spaced=7\n");

  /* set parses the same way and changes only what it names. */
  run (fixture, "set", cid, "n=\"42\"", "extra=[]", NULL);
  assert_ok (fixture, "");
  changed = show_json (fixture, cid);
  g_assert_cmpstr (json_object_get_string_member (attributes_of (changed), "n"), ==, "42");
  g_assert_cmpuint (json_array_get_length (json_object_get_array_member (attributes_of (changed), "extra")), ==, 0);
  g_assert_cmpstr (json_object_get_string_member (attributes_of (changed), "title"), ==, "Buy milk and bread");

  /* And the server gets them with their JSON types. */
  start_server (fixture, NULL);
  run (fixture, "sync", NULL);
  assert_sync (fixture, 0, "pulled 0, pushed 1, deleted 0, conflicts 0, errors 0");
  on_server = server_record_for (fixture, cid);
  g_assert_nonnull (on_server);
  g_assert_cmpstr (json_object_get_string_member (on_server, "n"), ==, "42");
  g_assert_true (json_object_get_boolean_member (on_server, "yes"));
  g_assert_true (JSON_NODE_HOLDS_NULL (json_object_get_member (on_server, "nothing")));
  g_assert_true (JSON_NODE_HOLDS_OBJECT (json_object_get_member (on_server, "object")));
  g_assert_cmpstr (json_object_get_string_member (on_server, "equation"), ==, "a=b");
}

static void
test_unset (Fixture       *fixture,
            gconstpointer  data)
{
  g_autoptr(JsonObject) on_server = NULL;
  g_autofree char *cid = NULL;

  cid = add_record (fixture, "a=1", "b=2", "c=null", NULL);

  /* Each run is its own process: what is shown next was saved. */
  run (fixture, "unset", cid, "a", "c", NULL);
  assert_ok (fixture, "");
  run (fixture, "show", cid, NULL);
  assert_ok (fixture, "b=2\n");

  /* A field that is not there: nothing to do. */
  run (fixture, "unset", cid, "missing", NULL);
  assert_ok (fixture, "");
  run (fixture, "show", cid, NULL);
  assert_ok (fixture, "b=2\n");

  run (fixture, "unset", cid, NULL);
  assert_fails (fixture, 2, "usage: unset REF FIELD...");
  run (fixture, "unset", "no-such-record", "b", NULL);
  assert_fails (fixture, 2, "no-such-record");

  /* A removal on a synced record reaches the server. */
  start_server (fixture, NULL);
  run (fixture, "sync", NULL);
  assert_sync (fixture, 0, "pulled 0, pushed 1, deleted 0, conflicts 0, errors 0");
  run (fixture, "unset", cid, "b", NULL);
  assert_ok (fixture, "");
  assert_status_line (fixture, "synced 0, pending 1, conflicts 0, errors 0");
  run (fixture, "sync", NULL);
  assert_sync (fixture, 0, "pulled 0, pushed 1, deleted 0, conflicts 0, errors 0");
  on_server = server_record_for (fixture, cid);
  g_assert_nonnull (on_server);
  g_assert_false (json_object_has_member (on_server, "b"));
}

/*
 * status and sync
 */

static void
test_status (Fixture       *fixture,
             gconstpointer  data)
{
  g_autofree char *first = NULL;
  g_autoptr(JsonNode) root = NULL;
  JsonObject *object;

  run (fixture, "status", NULL);
  assert_ok (fixture, "synced 0, pending 0, conflicts 0, errors 0, last sync never\n");

  first = add_record (fixture, "title=One", NULL);
  g_free (add_record (fixture, "title=Two", NULL));
  run (fixture, "status", NULL);
  assert_ok (fixture, "synced 0, pending 2, conflicts 0, errors 0, last sync never\n");

  start_server (fixture, NULL);
  run (fixture, "sync", NULL);
  assert_sync (fixture, 0, "pulled 0, pushed 2, deleted 0, conflicts 0, errors 0");
  assert_status_line (fixture, "synced 2, pending 0, conflicts 0, errors 0");

  run (fixture, "set", first, "title=Uno", NULL);
  assert_ok (fixture, "");
  assert_status_line (fixture, "synced 1, pending 1, conflicts 0, errors 0");

  run (fixture, "--json", "status", NULL);
  assert_ok (fixture, NULL);
  root = parse_json (fixture->out);
  object = json_node_get_object (root);
  g_assert_cmpint (json_object_get_int_member (object, "synced"), ==, 1);
  g_assert_cmpint (json_object_get_int_member (object, "pending"), ==, 1);
  g_assert_cmpint (json_object_get_int_member (object, "conflicts"), ==, 0);
  g_assert_cmpint (json_object_get_int_member (object, "errors"), ==, 0);
  g_assert_nonnull (json_object_get_string_member (object, "last_sync"));

  run (fixture, "status", "extra", NULL);
  assert_fails (fixture, 2, "status takes no arguments");
}

static void
test_sync_directions (Fixture       *fixture,
                      gconstpointer  data)
{
  g_autoptr(JsonArray) records = NULL;
  g_autoptr(JsonArray) local = NULL;
  g_autoptr(JsonNode) created = NULL;
  g_autoptr(GError) error = NULL;
  g_autofree char *cid = NULL;
  guint status = 0;

  start_server (fixture, "{\"records\": [{\"id\": 1, \"title\": \"From the server\"}]}");
  cid = add_record (fixture, "title=From here", NULL);

  /* Pull only: the server's record comes, ours stays here. */
  run (fixture, "sync", "--pull-only", NULL);
  assert_sync (fixture, 0, "pulled 1, pushed 0, deleted 0, conflicts 0, errors 0");
  records = tether_test_json_server_dup_collection (fixture->server, "records");
  g_assert_cmpuint (json_array_get_length (records), ==, 1);
  assert_status_line (fixture, "synced 1, pending 1, conflicts 0, errors 0");

  /* Push only: ours goes, and a new one on the server does not come. */
  created = tether_test_json_server_request (fixture->server, "POST", "/records",
                                             "{\"title\": \"Later\"}", &status, &error);
  g_assert_no_error (error);
  g_assert_cmpuint (status, ==, 201);

  run (fixture, "sync", "--push-only", NULL);
  assert_sync (fixture, 0, "pulled 0, pushed 1, deleted 0, conflicts 0, errors 0");
  g_clear_pointer (&records, json_array_unref);
  records = tether_test_json_server_dup_collection (fixture->server, "records");
  g_assert_cmpuint (json_array_get_length (records), ==, 3);
  local = list_json (fixture);
  g_assert_cmpuint (json_array_get_length (local), ==, 2);
  assert_status_line (fixture, "synced 2, pending 0, conflicts 0, errors 0");

  run (fixture, "sync", "--pull-only", NULL);
  assert_sync (fixture, 0, "pulled 1, pushed 0, deleted 0, conflicts 0, errors 0");
  g_clear_pointer (&local, json_array_unref);
  local = list_json (fixture);
  g_assert_cmpuint (json_array_get_length (local), ==, 3);

  /* Bad sync arguments are usage errors. */
  run (fixture, "sync", "--pull-only", "--push-only", NULL);
  assert_fails (fixture, 2, "usage: sync [--pull-only|--push-only]");
  run (fixture, "sync", "--both", NULL);
  assert_fails (fixture, 2, "usage: sync [--pull-only|--push-only]");
}

static void
test_sync_json (Fixture       *fixture,
                gconstpointer  data)
{
  g_autoptr(JsonNode) root = NULL;
  JsonObject *object;
  static const char * const members[] = { "pulled", "pushed", "deleted", "conflicts", "errors" };
  static const gint64 values[] = { 0, 1, 0, 0, 0 };

  start_server (fixture, NULL);
  g_free (add_record (fixture, "title=One", NULL));

  run (fixture, "--json", "sync", NULL);
  assert_ok (fixture, "{\"pulled\":0,\"pushed\":1,\"deleted\":0,\"conflicts\":0,\"errors\":0}\n");

  root = parse_json (fixture->out);
  g_assert_true (JSON_NODE_HOLDS_OBJECT (root));
  object = json_node_get_object (root);
  g_assert_cmpuint (json_object_get_size (object), ==, G_N_ELEMENTS (members));
  for (guint i = 0; i < G_N_ELEMENTS (members); i++)
    {
      JsonNode *member = json_object_get_member (object, members[i]);

      g_assert_nonnull (member);
      g_assert_cmpint (json_node_get_value_type (member), ==, G_TYPE_INT64);
      g_assert_cmpint (json_node_get_int (member), ==, values[i]);
    }

  run (fixture, "--json", "sync", NULL);
  assert_ok (fixture, "{\"pulled\":0,\"pushed\":0,\"deleted\":0,\"conflicts\":0,\"errors\":0}\n");
}

/*
 * Conflicts
 */

static void
test_conflicts (Fixture       *fixture,
                gconstpointer  data)
{
  g_autoptr(JsonNode) root = NULL;
  g_autoptr(JsonObject) on_server = NULL;
  g_autoptr(JsonObject) shown = NULL;
  g_autofree char *cid = NULL;
  g_autofree char *id = NULL;
  g_autofree char *path = NULL;
  g_autofree char *expected = NULL;
  g_autofree char *other_store = NULL;
  g_autofree char *mine_store = NULL;
  g_autoptr(GError) error = NULL;
  JsonArray *array;
  JsonObject *entry;
  JsonObject *title;

  start_server (fixture, NULL);
  cid = add_record (fixture, "title=One", "n=1", NULL);
  run (fixture, "sync", NULL);
  assert_sync (fixture, 0, "pulled 0, pushed 1, deleted 0, conflicts 0, errors 0");
  on_server = server_record_for (fixture, cid);
  id = id_text (on_server);
  path = g_strdup_printf ("/records/%s", id);

  /* No conflict yet. */
  run (fixture, "conflicts", NULL);
  assert_ok (fixture, "");
  run (fixture, "resolve", cid, "--mine", NULL);
  assert_fails (fixture, 2, "not in conflict");

  /* Both sides change the title; only we change n. */
  server_patch (fixture, path, "{\"title\": \"Theirs\"}");
  run (fixture, "set", id, "title=Mine", "n=2", NULL);
  assert_ok (fixture, "");

  run (fixture, "sync", NULL);
  assert_sync (fixture, 3, "pulled 1, pushed 0, deleted 0, conflicts 1, errors 0");

  run (fixture, "list", NULL);
  expected = g_strdup_printf ("%s\t%s\tconflict\tMine\n", cid, id);
  assert_ok (fixture, expected);
  g_clear_pointer (&expected, g_free);
  assert_status_line (fixture, "synced 0, pending 0, conflicts 1, errors 0");

  run (fixture, "conflicts", NULL);
  expected = g_strdup_printf ("%s\t%s\tMine\n  title: mine=\"Mine\" theirs=\"Theirs\"\n", cid, id);
  assert_ok (fixture, expected);
  g_clear_pointer (&expected, g_free);

  run (fixture, "--json", "conflicts", NULL);
  assert_ok (fixture, NULL);
  root = parse_json (fixture->out);
  array = json_node_get_array (root);
  g_assert_cmpuint (json_array_get_length (array), ==, 1);
  entry = json_array_get_object_element (array, 0);
  g_assert_cmpstr (json_object_get_string_member (entry, "cid"), ==, cid);
  g_assert_cmpstr (json_object_get_string_member (entry, "state"), ==, "conflict");
  title = json_object_get_object_member (json_object_get_object_member (entry, "conflicts"), "title");
  g_assert_cmpstr (json_object_get_string_member (title, "mine"), ==, "Mine");
  g_assert_cmpstr (json_object_get_string_member (title, "theirs"), ==, "Theirs");
  g_assert_cmpuint (json_object_get_size (json_object_get_object_member (entry, "conflicts")), ==, 1);

  /* A conflict left alone stays one, and nothing of it is pushed. */
  run (fixture, "sync", NULL);
  assert_sync (fixture, 3, "pulled 0, pushed 0, deleted 0, conflicts 1, errors 0");
  g_clear_pointer (&on_server, json_object_unref);
  on_server = server_get (fixture, path, NULL);
  g_assert_cmpstr (json_object_get_string_member (on_server, "title"), ==, "Theirs");
  g_assert_cmpint (json_object_get_int_member (on_server, "n"), ==, 1);

  run (fixture, "resolve", cid, NULL);
  assert_fails (fixture, 2, "usage: resolve REF --mine|--theirs");
  run (fixture, "resolve", cid, "--ours", NULL);
  assert_fails (fixture, 2, "usage: resolve REF --mine|--theirs");
  run (fixture, "resolve", "no-such-record", "--mine", NULL);
  assert_fails (fixture, 2, "no-such-record");

  /* --mine: ours goes to the server. */
  run (fixture, "resolve", id, "--mine", NULL);
  assert_ok (fixture, "");
  assert_status_line (fixture, "synced 0, pending 1, conflicts 0, errors 0");
  run (fixture, "conflicts", NULL);
  assert_ok (fixture, "");
  run (fixture, "sync", NULL);
  assert_sync (fixture, 0, "pulled 0, pushed 1, deleted 0, conflicts 0, errors 0");
  g_clear_pointer (&on_server, json_object_unref);
  on_server = server_get (fixture, path, NULL);
  g_assert_cmpstr (json_object_get_string_member (on_server, "title"), ==, "Mine");
  g_assert_cmpint (json_object_get_int_member (on_server, "n"), ==, 2);

  /* A second store changes the same record: a conflict between two
   * copies of tether-cli. --theirs takes the other store's value. */
  other_store = g_dir_make_tmp ("tether-cli-other-XXXXXX", &error);
  g_assert_no_error (error);
  mine_store = g_steal_pointer (&fixture->store_dir);
  fixture->store_dir = other_store;
  run (fixture, "sync", NULL);
  assert_sync (fixture, 0, "pulled 1, pushed 0, deleted 0, conflicts 0, errors 0");
  run (fixture, "set", id, "title=Other store", NULL);
  assert_ok (fixture, "");
  run (fixture, "sync", NULL);
  assert_sync (fixture, 0, "pulled 0, pushed 1, deleted 0, conflicts 0, errors 0");
  fixture->store_dir = g_steal_pointer (&mine_store);
  delete_recursively (other_store);

  run (fixture, "set", cid, "title=Mine again", NULL);
  assert_ok (fixture, "");
  run (fixture, "sync", NULL);
  assert_sync (fixture, 3, "pulled 1, pushed 0, deleted 0, conflicts 1, errors 0");

  run (fixture, "resolve", cid, "--theirs", NULL);
  assert_ok (fixture, "");
  shown = show_json (fixture, cid);
  g_assert_cmpstr (json_object_get_string_member (attributes_of (shown), "title"), ==, "Other store");
  g_assert_cmpstr (json_object_get_string_member (shown, "state"), ==, "synced");
  run (fixture, "sync", NULL);
  assert_sync (fixture, 0, EMPTY_SYNC);
  g_clear_pointer (&on_server, json_object_unref);
  on_server = server_get (fixture, path, NULL);
  g_assert_cmpstr (json_object_get_string_member (on_server, "title"), ==, "Other store");
}

/* A record the server refuses ends in error: the sync finishes, exit 3. */
static void
test_sync_errors (Fixture       *fixture,
                  gconstpointer  data)
{
  g_autoptr(JsonObject) shown = NULL;
  g_autofree char *cid = NULL;

  start_server (fixture, NULL);
  cid = add_record (fixture, "title=Refused", NULL);

  /* json-server answers 404 to a POST on a collection it does not have:
   * a permanent error for that record. */
  run (fixture, "--collection", "missing", "sync", "--push-only", NULL);
  assert_sync (fixture, 3, "pulled 0, pushed 0, deleted 0, conflicts 0, errors 1");
  assert_status_line (fixture, "synced 0, pending 0, conflicts 0, errors 1");
  shown = show_json (fixture, cid);
  g_assert_cmpstr (json_object_get_string_member (shown, "state"), ==, "error");

  /* Pulling a collection that is not there is no sync at all: exit 1,
   * with what the server said. */
  run (fixture, "--collection", "missing", "sync", NULL);
  assert_fails (fixture, 1, "404");

  /* The record is retried with the right collection. */
  run (fixture, "sync", NULL);
  assert_sync (fixture, 0, "pulled 0, pushed 1, deleted 0, conflicts 0, errors 0");
}

/*
 * export and import
 */

static void
assert_exported (const char *text,
                 guint       n_records)
{
  g_autoptr(JsonNode) root = parse_json (text);
  JsonArray *array;

  g_assert_true (JSON_NODE_HOLDS_ARRAY (root));
  array = json_node_get_array (root);
  g_assert_cmpuint (json_array_get_length (array), ==, n_records);

  for (guint i = 0; i < n_records; i++)
    g_assert_true (JSON_NODE_HOLDS_OBJECT (json_array_get_element (array, i)));
}

static void
test_export (Fixture       *fixture,
             gconstpointer  data)
{
  g_autoptr(JsonNode) root = NULL;
  g_autoptr(GError) error = NULL;
  g_autofree char *file = NULL;
  g_autofree char *contents = NULL;
  g_autofree char *deleted = NULL;
  g_autofree char *stdout_copy = NULL;
  JsonArray *array;

  file = g_strdup_printf ("%s.export.json", fixture->store_dir);

  /* Nothing yet: an empty array. */
  run (fixture, "export", "-", NULL);
  assert_ok (fixture, NULL);
  assert_exported (fixture->out, 0);

  g_free (add_record (fixture, "title=One", "n=1", NULL));
  g_free (add_record (fixture, "title=Two", "tags=[\"a\",\"b\"]", NULL));
  deleted = add_record (fixture, "title=Gone", NULL);
  run (fixture, "delete", deleted, NULL);
  assert_ok (fixture, "");

  run (fixture, "export", "-", NULL);
  assert_ok (fixture, NULL);
  assert_exported (fixture->out, 2);
  stdout_copy = g_strdup (fixture->out);

  root = parse_json (fixture->out);
  array = json_node_get_array (root);
  g_assert_cmpstr (json_object_get_string_member (json_array_get_object_element (array, 0), "title"), ==, "One");
  g_assert_cmpint (json_object_get_int_member (json_array_get_object_element (array, 0), "n"), ==, 1);
  g_assert_cmpuint (json_object_get_size (json_array_get_object_element (array, 0)), ==, 2);
  g_assert_cmpstr (json_object_get_string_member (json_array_get_object_element (array, 1), "title"), ==, "Two");

  run (fixture, "export", file, NULL);
  assert_ok (fixture, "");
  g_file_get_contents (file, &contents, NULL, &error);
  g_assert_no_error (error);
  assert_exported (contents, 2);
  g_assert_cmpstr (g_strchomp (contents), ==, g_strchomp (stdout_copy));

  /* An export round-trips through import. */
  run (fixture, "import", file, NULL);
  assert_ok (fixture, "imported 2\n");
  run (fixture, "export", "-", NULL);
  assert_ok (fixture, NULL);
  assert_exported (fixture->out, 4);
  g_unlink (file);

  run (fixture, "export", NULL);
  assert_fails (fixture, 2, "usage: export FILE");
  run (fixture, "export", "/nonexistent-dir/out.json", NULL);
  assert_fails (fixture, 1, "/nonexistent-dir/out.json");
}

static void
test_import (Fixture       *fixture,
             gconstpointer  data)
{
  g_autoptr(JsonArray) array = NULL;
  g_autofree char *good = NULL;
  g_autofree char *malformed = NULL;
  g_autofree char *surrogate = NULL;
  g_autofree char *deep = NULL;
  g_autoptr(GString) nesting = g_string_new (NULL);
  g_autofree char *not_array = NULL;
  g_autofree char *mixed = NULL;
  g_autofree char *unreadable = NULL;
  g_autofree char *missing = NULL;
  g_autofree char *empty = NULL;

  good = write_temp_file (fixture, "good.json",
                          "[{\"title\": \"First\", \"n\": 1}, {\"title\": \"Second\", \"done\": false}]");
  malformed = write_temp_file (fixture, "malformed.json", "[{\"title\": \"First\",");
  /* json-glib makes invalid UTF-8 of a lone surrogate, and overflows the
   * stack on deep nesting (100 000 levels). */
  surrogate = write_temp_file (fixture, "surrogate.json", "[{\"title\": \"\\ud800x\"}]");
  for (guint i = 0; i < 100000; i++)
    g_string_append_c (nesting, '[');
  deep = write_temp_file (fixture, "deep.json", nesting->str);
  not_array = write_temp_file (fixture, "object.json", "{\"title\": \"Alone\"}");
  mixed = write_temp_file (fixture, "mixed.json", "[{\"title\": \"Fine\"}, 42]");
  empty = write_temp_file (fixture, "empty.json", "[]");
  unreadable = write_temp_file (fixture, "unreadable.json", "[{\"title\": \"Secret\"}]");
  g_chmod (unreadable, 0);
  missing = g_strdup_printf ("%s.missing.json", fixture->store_dir);

  run (fixture, "import", good, NULL);
  assert_ok (fixture, "imported 2\n");

  array = list_json (fixture);
  g_assert_cmpuint (json_array_get_length (array), ==, 2);
  for (guint i = 0; i < 2; i++)
    {
      JsonObject *record = json_array_get_object_element (array, i);

      g_assert_true (JSON_NODE_HOLDS_NULL (json_object_get_member (record, "id")));
      g_assert_cmpstr (json_object_get_string_member (record, "state"), ==, "pending");
    }
  g_assert_cmpstr (json_object_get_string_member (attributes_of (json_array_get_object_element (array, 0)), "title"), ==, "First");
  g_assert_false (json_object_get_boolean_member (attributes_of (json_array_get_object_element (array, 1)), "done"));

  run (fixture, "--json", "import", empty, NULL);
  assert_ok (fixture, "{\"imported\":0}\n");

  /* Each bad file: exit 1, one line naming the cause, nothing imported. */
  run (fixture, "import", malformed, NULL);
  assert_fails (fixture, 1, "is not valid JSON");
  g_assert_nonnull (strstr (fixture->err, malformed));

  run (fixture, "import", surrogate, NULL);
  assert_fails (fixture, 1, "is not valid JSON");

  run (fixture, "import", deep, NULL);
  assert_fails (fixture, 1, "is nested more than 512 levels deep");

  run (fixture, "import", not_array, NULL);
  assert_fails (fixture, 1, "must hold a JSON array of objects");

  run (fixture, "import", mixed, NULL);
  assert_fails (fixture, 1, "nothing was imported");

  run (fixture, "import", missing, NULL);
  assert_fails (fixture, 1, "cannot read");
  g_assert_nonnull (strstr (fixture->err, "No such file"));

  /* root reads any file: only check the mode where it means something. */
  if (access (unreadable, R_OK) != 0)
    {
      run (fixture, "import", unreadable, NULL);
      assert_fails (fixture, 1, "cannot read");
      g_assert_nonnull (strstr (fixture->err, "ermission denied"));
    }
  else
    g_test_message ("running as root: the unreadable file is readable");

  run (fixture, "import", fixture->store_dir, NULL);
  assert_fails (fixture, 1, "cannot read");

  run (fixture, "import", NULL);
  assert_fails (fixture, 2, "usage: import FILE");

  run (fixture, "list", NULL);
  assert_ok (fixture, NULL);
  g_assert_cmpuint (count_lines (fixture->out), ==, 2);
  assert_status_line (fixture, "synced 0, pending 2, conflicts 0, errors 0");

  /* From stdin too. */
  run_with_input (fixture, "[{\"title\": \"Piped\"}]", "import", "-", NULL);
  assert_ok (fixture, "imported 1\n");

  g_unlink (good);
  g_unlink (malformed);
  g_unlink (surrogate);
  g_unlink (deep);
  g_unlink (not_array);
  g_unlink (mixed);
  g_unlink (empty);
  g_chmod (unreadable, 0600);
  g_unlink (unreadable);
}

/*
 * Usage errors
 */

static void
test_usage_errors (Fixture       *fixture,
                   gconstpointer  data)
{
  g_autofree char *cid = NULL;
  static const char * const no_command[] = { NULL };
  static const char * const unknown_option[] = { "--frobnicate", "list", NULL };
  static const char * const missing_value[] = { "--store", NULL };
  static const char * const bad_url[] = { "--server", "ftp://example.org", "list", NULL };

  run (fixture, "frobnicate", NULL);
  assert_fails (fixture, 2, "unknown command “frobnicate”");

  run_argv (fixture, NULL, no_command);
  assert_fails (fixture, 2, "no command");
  {
    const char * const store_only[] = { "--store", fixture->store_dir, NULL };

    run_argv (fixture, NULL, store_only);
    assert_fails (fixture, 2, "no command");
  }

  run_argv (fixture, NULL, unknown_option);
  assert_fails (fixture, 2, "--frobnicate");
  run_argv (fixture, NULL, missing_value);
  assert_fails (fixture, 2, "--store");
  run_argv (fixture, NULL, bad_url);
  assert_fails (fixture, 2, "--server");

  /* Options go before the command. */
  run (fixture, "list", "--json", NULL);
  assert_fails (fixture, 2, "list takes no arguments");

  cid = add_record (fixture, "title=Real", NULL);

  run (fixture, "set", "no-such-record", "title=x", NULL);
  assert_fails (fixture, 2, "no record with cid or id “no-such-record”");
  run (fixture, "show", "no-such-record", NULL);
  assert_fails (fixture, 2, "no-such-record");
  run (fixture, "delete", "42", NULL);
  assert_fails (fixture, 2, "“42”");

  run (fixture, "add", "=x", NULL);
  assert_fails (fixture, 2, "FIELD=VALUE");
  run (fixture, "add", "novalue", NULL);
  assert_fails (fixture, 2, "FIELD=VALUE");
  run (fixture, "add", NULL);
  assert_fails (fixture, 2, "usage: add FIELD=VALUE...");
  run (fixture, "set", cid, "=x", NULL);
  assert_fails (fixture, 2, "FIELD=VALUE");
  run (fixture, "set", cid, "title=ok", "novalue", NULL);
  assert_fails (fixture, 2, "“novalue”");
  run (fixture, "set", cid, NULL);
  assert_fails (fixture, 2, "usage: set REF FIELD=VALUE...");
  run (fixture, "show", NULL);
  assert_fails (fixture, 2, "usage: show REF");
  run (fixture, "delete", cid, "extra", NULL);
  assert_fails (fixture, 2, "usage: delete REF");
  run (fixture, "conflicts", "extra", NULL);
  assert_fails (fixture, 2, "conflicts takes no arguments");

  /* A line break in an argument does not make a second line. */
  run (fixture, "show", "two\nlines", NULL);
  assert_fails (fixture, 2, "two lines");

  /* A failed command changed nothing. */
  run (fixture, "show", cid, NULL);
  assert_ok (fixture, "title=\"Real\"\n");
  run (fixture, "list", NULL);
  assert_ok (fixture, NULL);
  g_assert_cmpuint (count_lines (fixture->out), ==, 1);

  /* A deleted record is gone for every command, not only list. */
  run (fixture, "delete", cid, NULL);
  assert_ok (fixture, "");
  run (fixture, "show", cid, NULL);
  assert_fails (fixture, 2, cid);
  run (fixture, "set", cid, "title=Back", NULL);
  assert_fails (fixture, 2, cid);
  run (fixture, "delete", cid, NULL);
  assert_fails (fixture, 2, cid);
}

static void
test_version_help (Fixture       *fixture,
                   gconstpointer  data)
{
  static const char * const version[] = { "--version", NULL };
  static const char * const help[] = { "--help", NULL };
  static const char * const contract[] = {
    "--store=DIR", "--server=URL", "--collection=PATH", "--json", "--version",
    "--password-stdin",
    "list", "show REF", "add FIELD=VALUE...", "set REF FIELD=VALUE...",
    "unset REF FIELD...", "delete REF", "sync [--pull-only|--push-only]",
    "pulled N, pushed N, deleted N, conflicts N, errors N",
    "status", "synced N, pending N, conflicts N, errors N, last sync TIME|never",
    "conflicts", "resolve REF --mine|--theirs", "export FILE", "import FILE",
    "Exit status",
  };

  run_argv (fixture, NULL, version);
  assert_ok (fixture, "tether-cli " PACKAGE_VERSION "\n");

  run_argv (fixture, NULL, help);
  assert_ok (fixture, NULL);
  g_assert_true (g_str_has_prefix (fixture->out, "Usage:"));
  for (guint i = 0; i < G_N_ELEMENTS (contract); i++)
    if (strstr (fixture->out, contract[i]) == NULL)
      g_error ("--help does not mention “%s”", contract[i]);

  /* Neither opened a store. */
  {
    g_autoptr(GDir) dir = g_dir_open (fixture->store_dir, 0, NULL);

    g_assert_nonnull (dir);
    g_assert_null (g_dir_read_name (dir));
  }
}

/*
 * Failures of the environment
 */

static void
test_offline (Fixture       *fixture,
              gconstpointer  data)
{
  g_autofree char *cid = NULL;
  g_autofree char *expected = NULL;

  start_server (fixture, NULL);
  cid = add_record (fixture, "title=Kept", NULL);
  tether_test_json_server_stop (fixture->server);

  run (fixture, "sync", NULL);
  assert_fails (fixture, 1, "could not be reached");
  run (fixture, "--json", "sync", NULL);
  assert_fails (fixture, 1, "could not be reached");

  /* The record waits, unharmed. */
  run (fixture, "list", NULL);
  expected = g_strdup_printf ("%s\t-\tpending\tKept\n", cid);
  assert_ok (fixture, expected);
  assert_status_line (fixture, "synced 0, pending 1, conflicts 0, errors 0");

  /* No server at all is a failure too. */
  fixture->url = NULL;
  run (fixture, "sync", NULL);
  assert_fails (fixture, 1, "no server is set");
}

/* A push that finds the server gone stops the sync like a pull does. */
static void
test_offline_push (Fixture       *fixture,
                   gconstpointer  data)
{
  g_autofree char *cid = NULL;
  g_autofree char *expected = NULL;

  start_server (fixture, NULL);
  cid = add_record (fixture, "title=Kept", NULL);
  tether_test_json_server_stop (fixture->server);

  run (fixture, "sync", "--push-only", NULL);
  assert_fails (fixture, 1, "could not be reached");

  run (fixture, "list", NULL);
  expected = g_strdup_printf ("%s\t-\tpending\tKept\n", cid);
  assert_ok (fixture, expected);
}

static void
test_locked (Fixture       *fixture,
             gconstpointer  data)
{
  g_autoptr(TetherStore) store = NULL;
  g_autoptr(TetherCollection) collection = tether_collection_new ();
  g_autoptr(GFile) directory = g_file_new_for_path (fixture->store_dir);
  g_autoptr(GError) error = NULL;
  g_autofree char *cid = NULL;
  static const char * const commands[][3] = {
    { "list", NULL },
    { "add", "title=Blocked" },
    { "status", NULL },
    { "sync", NULL },
    { "export", "-" },
  };

  cid = add_record (fixture, "title=Before", NULL);

  /* This process holds the store, as the app would. */
  store = tether_store_new (directory);
  tether_store_open (store, collection, &error);
  g_assert_no_error (error);
  g_assert_cmpuint (tether_collection_get_n_records (collection), ==, 1);

  start_server (fixture, NULL);

  for (guint i = 0; i < G_N_ELEMENTS (commands); i++)
    {
      run (fixture, commands[i][0], commands[i][1], NULL);
      assert_fails (fixture, 1, "store locked by another process");
    }

  /* Nothing was written meanwhile; once released, it all works. */
  tether_store_close (store, &error);
  g_assert_no_error (error);

  run (fixture, "list", NULL);
  assert_ok (fixture, NULL);
  g_assert_true (g_str_has_prefix (fixture->out, cid));
  g_assert_cmpuint (count_lines (fixture->out), ==, 1);
  run (fixture, "sync", NULL);
  assert_sync (fixture, 0, "pulled 0, pushed 1, deleted 0, conflicts 0, errors 0");
}

/* No display and no D-Bus session: everything works when the account
 * needs no credentials. */
static void
test_no_session (Fixture       *fixture,
                 gconstpointer  data)
{
  g_autofree char *cid = NULL;
  g_autoptr(JsonObject) on_server = NULL;
  static const char * const session_env[] = {
    "DBUS_SESSION_BUS_ADDRESS", "DISPLAY", "WAYLAND_DISPLAY", "GSETTINGS_BACKEND", NULL,
  };

  fixture->unset_env = g_strdupv ((char **) session_env);
  start_server (fixture, NULL);

  cid = add_record (fixture, "title=Headless", NULL);
  run (fixture, "list", NULL);
  assert_ok (fixture, NULL);
  run (fixture, "sync", NULL);
  assert_sync (fixture, 0, "pulled 0, pushed 1, deleted 0, conflicts 0, errors 0");
  run (fixture, "set", cid, "done=true", NULL);
  assert_ok (fixture, "");
  run (fixture, "sync", NULL);
  assert_sync (fixture, 0, "pulled 0, pushed 1, deleted 0, conflicts 0, errors 0");
  assert_status_line (fixture, "synced 1, pending 0, conflicts 0, errors 0");

  on_server = server_record_for (fixture, cid);
  g_assert_true (json_object_get_boolean_member (on_server, "done"));
}

/* With auth set in the app's settings (a keyfile backend here, since the
 * CLI has no option for it), --password-stdin gives the secret, which is
 * sent to the server and never printed or stored. */
static void
test_password_stdin (Fixture       *fixture,
                     gconstpointer  data)
{
  g_autoptr(TetherTestSoupServer) server = tether_test_soup_server_new ();
  g_autoptr(GError) error = NULL;
  g_autofree char *config = NULL;
  g_autofree char *settings_dir = NULL;
  g_autofree char *keyfile = NULL;
  g_autofree char *credentials = NULL;
  g_autofree char *encoded = NULL;
  g_autofree char *authorization = NULL;
  g_autoptr(GDir) dir = NULL;
  const char *name;
  static const char secret[] = "s3cret-Tr0ub4dor";
  static const char * const no_session[] = { "DBUS_SESSION_BUS_ADDRESS", "DISPLAY", NULL };

  config = g_strdup_printf ("%s.config", fixture->store_dir);
  settings_dir = g_build_filename (config, "glib-2.0", "settings", NULL);
  g_mkdir_with_parents (settings_dir, 0700);
  keyfile = g_build_filename (settings_dir, "keyfile", NULL);
  g_file_set_contents (keyfile,
                       "[io/github/tetherapp/Tether]\n"
                       "auth-kind='basic'\n"
                       "username='alice'\n", -1, &error);
  g_assert_no_error (error);

  fixture->set_env = g_strdupv ((char *[]) { "GSETTINGS_BACKEND", "keyfile",
                                             "XDG_CONFIG_HOME", config, NULL });
  fixture->url = tether_test_soup_server_get_url (server);

  credentials = g_strdup_printf ("alice:%s", secret);
  encoded = g_base64_encode ((const guchar *) credentials, strlen (credentials));
  authorization = g_strconcat ("Basic ", encoded, NULL);
  tether_test_soup_server_set_required_authorization (server, authorization);

  /* Every run below checks that none of these is in its output. */
  fixture->secrets = g_strdupv ((char *[]) { (char *) secret, "wrong-Tr0ub4dor", "t0ken-Tr0ub4dor",
                                             encoded, NULL });

  g_free (add_record (fixture, "title=Private", NULL));

  /* The right secret on stdin: the sync goes through. */
  run_with_input (fixture, "s3cret-Tr0ub4dor\n",
                  "--password-stdin", "sync", NULL);
  assert_sync (fixture, 0, "pulled 0, pushed 1, deleted 0, conflicts 0, errors 0");
  g_assert_cmpuint (tether_test_soup_server_get_n_records (server), ==, 1);
  run (fixture, "status", NULL);
  assert_ok (fixture, NULL);

  /* A wrong one: the server refuses, exit 1, and neither secret shows. */
  run_with_input (fixture, "wrong-Tr0ub4dor\n",
                  "--password-stdin", "sync", NULL);
  assert_fails (fixture, 1, "401");

  /* Nothing on stdin. */
  run_with_input (fixture, "",
                  "--password-stdin", "sync", NULL);
  assert_fails (fixture, 1, "--password-stdin");

  /* Without --password-stdin the keyring is asked; with no session bus
   * there is none, and that is the cause given. */
  fixture->unset_env = g_strdupv ((char **) no_session);
  run (fixture, "sync", NULL);
  assert_fails (fixture, 1, "keyring");
  g_clear_pointer (&fixture->unset_env, g_strfreev);

  /* Nor in the store's files. */
  dir = g_dir_open (fixture->store_dir, 0, &error);
  g_assert_no_error (error);
  while ((name = g_dir_read_name (dir)) != NULL)
    {
      g_autofree char *path = g_build_filename (fixture->store_dir, name, NULL);
      g_autofree char *contents = NULL;
      gsize length = 0;

      if (g_file_get_contents (path, &contents, &length, NULL))
        g_assert_null (g_strstr_len (contents, length, secret));
    }

  /* The bearer kind sends the token as is. */
  g_file_set_contents (keyfile,
                       "[io/github/tetherapp/Tether]\n"
                       "auth-kind='bearer'\n", -1, &error);
  g_assert_no_error (error);
  tether_test_soup_server_set_required_authorization (server, "Bearer t0ken-Tr0ub4dor");
  g_free (add_record (fixture, "title=Second", NULL));
  run_with_input (fixture, "t0ken-Tr0ub4dor\n",
                  "--password-stdin", "sync", NULL);
  assert_sync (fixture, 0, "pulled 0, pushed 1, deleted 0, conflicts 0, errors 0");

  fixture->url = NULL;
  delete_recursively (config);
}

/* A failed write of the output is a failure. */
static void
test_output_error (Fixture       *fixture,
                   gconstpointer  data)
{
  if (!g_file_test ("/dev/full", G_FILE_TEST_EXISTS))
    {
      g_test_message ("no /dev/full here");
      return;
    }

  g_free (add_record (fixture, "title=One", NULL));

  fixture->stdout_path = "/dev/full";
  run (fixture, "list", NULL);
  fixture->stdout_path = NULL;

  g_assert_cmpint (fixture->status, ==, 1);
  g_assert_cmpstr (fixture->out, ==, "");
  g_assert_true (g_str_has_prefix (fixture->err, "tether-cli: cannot write to standard output"));
  g_assert_true (g_str_has_suffix (fixture->err, "\n"));
  g_assert_cmpuint (count_lines (fixture->err), ==, 1);
}

/* Without --store, the store is the app's, under the user data directory
 * (this test program's own). */
static void
test_default_store (Fixture       *fixture,
                    gconstpointer  data)
{
  static const char * const add[] = { "add", "title=Default", NULL };
  static const char * const list[] = { "list", NULL };
  g_autofree char *tether_dir = g_build_filename (g_get_user_data_dir (), "tether", NULL);

  run_argv (fixture, NULL, add);
  assert_ok (fixture, NULL);
  run_argv (fixture, NULL, list);
  assert_ok (fixture, NULL);
  g_assert_nonnull (strstr (fixture->out, "\tpending\tDefault\n"));
  g_assert_true (g_file_test (tether_dir, G_FILE_TEST_IS_DIR));

  delete_recursively (tether_dir);
}

int
main (int   argc,
      char *argv[])
{
  const char *build_root;

  tether_test_init (&argc, &argv);

  /* meson passes the binary as the first argument. */
  if (argc > 1)
    cli_path = g_canonicalize_filename (argv[1], NULL);
  else if (g_getenv ("TETHER_CLI") != NULL)
    cli_path = g_strdup (g_getenv ("TETHER_CLI"));
  else if ((build_root = g_getenv ("TETHER_BUILD_ROOT")) != NULL)
    cli_path = g_build_filename (build_root, "src", "cli", "tether-cli", NULL);
  g_assert_nonnull (cli_path);
  g_assert_true (g_file_test (cli_path, G_FILE_TEST_IS_EXECUTABLE));

#define ADD(path, func) \
  g_test_add ("/cli/" path, Fixture, NULL, fixture_set_up, func, fixture_tear_down)

  ADD ("scenario", test_scenario);
  ADD ("list-show", test_list_show);
  ADD ("values", test_values);
  ADD ("unset", test_unset);
  ADD ("status", test_status);
  ADD ("sync/directions", test_sync_directions);
  ADD ("sync/json", test_sync_json);
  ADD ("sync/errors", test_sync_errors);
  /* Last: it crashes tether-cli while core's op_finished() frees the
   * offline error twice, and a crash ends the test program. */
  ADD ("sync/push-only-offline", test_offline_push);
  ADD ("conflicts", test_conflicts);
  ADD ("export", test_export);
  ADD ("import", test_import);
  ADD ("usage-errors", test_usage_errors);
  ADD ("version-help", test_version_help);
  ADD ("offline", test_offline);
  ADD ("locked", test_locked);
  ADD ("no-session", test_no_session);
  ADD ("password-stdin", test_password_stdin);
  ADD ("output-error", test_output_error);
  ADD ("default-store", test_default_store);

#undef ADD

  return g_test_run ();
}
