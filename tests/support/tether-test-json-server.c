/* tether-test-json-server.c
 *
 * Copyright 2026 The Tether authors
 *
 * SPDX-License-Identifier: GPL-3.0-or-later
 */

#include "config.h"

#include <errno.h>
#include <signal.h>
#include <string.h>
#include <sys/prctl.h>
#include <unistd.h>

#include <glib/gstdio.h>

#include "tether-test-json-server.h"
#include "tether-test-util.h"

#define START_TIMEOUT_SECONDS 15
#define STOP_TIMEOUT_SECONDS  5
#define MAX_START_ATTEMPTS    5
#define POLL_INTERVAL_MS      50

struct _TetherTestJsonServer
{
  GSubprocess  *process;
  GMainContext *context;
  gboolean      exited;

  char         *dir;
  char         *db_path;
  char         *log_path;
  char         *url;
  guint16       port;
};

static void
child_setup (gpointer user_data)
{
  pid_t parent = GPOINTER_TO_INT (user_data);

  /* Only async-signal-safe calls here: we are between fork and exec. If
   * the test dies, whatever the way, the server dies with it. */
  prctl (PR_SET_PDEATHSIG, SIGKILL);

  /* The parent may have died before prctl() took effect. */
  if (getppid () != parent)
    _exit (1);
}

static void
process_wait_cb (GObject      *object,
                 GAsyncResult *result,
                 gpointer      user_data)
{
  TetherTestJsonServer *self = user_data;

  g_subprocess_wait_finish (G_SUBPROCESS (object), result, NULL);
  self->exited = TRUE;
}

/* A port that was free a moment ago; json-server may still lose a race
 * for it, which start_server() notices and retries. */
static guint16
pick_free_port (GError **error)
{
  g_autoptr(GSocket) socket = NULL;
  g_autoptr(GInetAddress) loopback = NULL;
  g_autoptr(GSocketAddress) address = NULL;
  g_autoptr(GSocketAddress) bound = NULL;
  guint16 port;

  socket = g_socket_new (G_SOCKET_FAMILY_IPV4, G_SOCKET_TYPE_STREAM, G_SOCKET_PROTOCOL_TCP, error);
  if (socket == NULL)
    return 0;

  loopback = g_inet_address_new_loopback (G_SOCKET_FAMILY_IPV4);
  address = g_inet_socket_address_new (loopback, 0);

  if (!g_socket_bind (socket, address, FALSE, error))
    return 0;

  bound = g_socket_get_local_address (socket, error);
  if (bound == NULL)
    return 0;

  port = g_inet_socket_address_get_port (G_INET_SOCKET_ADDRESS (bound));
  g_socket_close (socket, NULL);

  return port;
}

static char *
read_log_tail (TetherTestJsonServer *self)
{
  g_autofree char *contents = NULL;
  gsize length = 0;

  if (!g_file_get_contents (self->log_path, &contents, &length, NULL))
    return g_strdup ("(no log)");

  if (length > 2000)
    return g_strdup (contents + length - 2000);

  return g_steal_pointer (&contents);
}

static gboolean
check_installed (const char  *source_root,
                 char       **out_bin,
                 GError     **error)
{
  g_autofree char *package_json = NULL;
  g_autofree char *bin = NULL;
  g_autoptr(JsonParser) parser = NULL;
  JsonNode *root;
  const char *version = NULL;

  package_json = g_build_filename (source_root, "node_modules", "json-server", "package.json", NULL);
  bin = g_build_filename (source_root, "node_modules", "json-server", "lib", "cli", "bin.js", NULL);

  parser = json_parser_new ();
  if (!g_file_test (bin, G_FILE_TEST_EXISTS) ||
      !json_parser_load_from_file (parser, package_json, NULL))
    {
      g_set_error (error, G_IO_ERROR, G_IO_ERROR_NOT_FOUND,
                   "json-server %s is not installed in %s/node_modules. "
                   "Run `npm ci` in the source root (build-aux's setup script does it) "
                   "and run the tests again.",
                   TETHER_TEST_JSON_SERVER_VERSION, source_root);
      return FALSE;
    }

  root = json_parser_get_root (parser);
  if (root != NULL && JSON_NODE_HOLDS_OBJECT (root))
    version = json_object_get_string_member_with_default (json_node_get_object (root), "version", NULL);

  if (g_strcmp0 (version, TETHER_TEST_JSON_SERVER_VERSION) != 0)
    {
      g_set_error (error, G_IO_ERROR, G_IO_ERROR_NOT_FOUND,
                   "%s/node_modules has json-server %s, not %s. "
                   "Run `npm ci` in the source root to install the pinned version.",
                   source_root, version ? version : "(unknown)", TETHER_TEST_JSON_SERVER_VERSION);
      return FALSE;
    }

  *out_bin = g_steal_pointer (&bin);

  return TRUE;
}

static void
wait_for_exit (TetherTestJsonServer *self,
               guint                 seconds)
{
  gint64 deadline = g_get_monotonic_time () + seconds * G_TIME_SPAN_SECOND;

  while (!self->exited && g_get_monotonic_time () < deadline)
    {
      if (!g_main_context_iteration (self->context, FALSE))
        g_usleep (POLL_INTERVAL_MS * 1000);
    }
}

typedef enum
{
  START_OK,
  START_PORT_TAKEN,
  START_FAILED,
} StartResult;

static StartResult
start_server (TetherTestJsonServer  *self,
              const char            *node,
              const char            *bin,
              GError               **error)
{
  g_autoptr(GSubprocessLauncher) launcher = NULL;
  g_autofree char *port_string = NULL;
  g_autofree char *probe_url = NULL;
  gint64 deadline;

  self->port = pick_free_port (error);
  if (self->port == 0)
    return START_FAILED;

  port_string = g_strdup_printf ("%u", self->port);
  g_free (self->url);
  self->url = g_strdup_printf ("http://127.0.0.1:%u", self->port);
  probe_url = g_strdup_printf ("%s/records?_limit=1", self->url);

  launcher = g_subprocess_launcher_new (G_SUBPROCESS_FLAGS_STDERR_MERGE);
  g_subprocess_launcher_set_cwd (launcher, self->dir);
  g_subprocess_launcher_set_stdout_file_path (launcher, self->log_path);
  g_subprocess_launcher_set_child_setup (launcher, child_setup,
                                         GINT_TO_POINTER (getpid ()), NULL);

  self->exited = FALSE;
  self->process = g_subprocess_launcher_spawn (launcher, error,
                                               node, bin,
                                               "--host", "127.0.0.1",
                                               "--port", port_string,
                                               "--quiet",
                                               self->db_path,
                                               NULL);
  if (self->process == NULL)
    return START_FAILED;

  g_main_context_push_thread_default (self->context);
  g_subprocess_wait_async (self->process, NULL, process_wait_cb, self);
  g_main_context_pop_thread_default (self->context);

  deadline = g_get_monotonic_time () + START_TIMEOUT_SECONDS * G_TIME_SPAN_SECOND;

  while (g_get_monotonic_time () < deadline)
    {
      g_autoptr(GBytes) body = NULL;
      guint status = 0;

      while (g_main_context_iteration (self->context, FALSE))
        ;

      if (self->exited)
        {
          g_autofree char *log = read_log_tail (self);

          g_clear_object (&self->process);

          if (strstr (log, "EADDRINUSE") != NULL)
            return START_PORT_TAKEN;

          g_set_error (error, G_IO_ERROR, G_IO_ERROR_FAILED,
                       "json-server exited before answering. Its output:\n%s", log);
          return START_FAILED;
        }

      body = tether_test_http_request ("GET", probe_url, NULL, &status, NULL, NULL);
      if (body != NULL && status == 200)
        return START_OK;

      g_usleep (POLL_INTERVAL_MS * 1000);
    }

  {
    g_autofree char *log = read_log_tail (self);

    tether_test_json_server_stop (self);
    g_set_error (error, G_IO_ERROR, G_IO_ERROR_TIMED_OUT,
                 "json-server did not answer on %s within %d s. Its output:\n%s",
                 self->url, START_TIMEOUT_SECONDS, log);
  }

  return START_FAILED;
}

TetherTestJsonServer *
tether_test_json_server_new (const char  *initial_db_json,
                             GError     **error)
{
  g_autoptr(TetherTestJsonServer) self = NULL;
  g_autofree char *bin = NULL;
  g_autofree char *node = NULL;
  const char *source_root;

  source_root = g_getenv ("TETHER_SOURCE_ROOT");
  if (source_root == NULL)
    {
      g_set_error_literal (error, G_IO_ERROR, G_IO_ERROR_NOT_FOUND,
                           "TETHER_SOURCE_ROOT is not set; run the tests with `meson test`.");
      return NULL;
    }

  if (!check_installed (source_root, &bin, error))
    return NULL;

  node = g_find_program_in_path ("node");
  if (node == NULL)
    node = g_find_program_in_path ("nodejs");
  if (node == NULL)
    {
      g_set_error_literal (error, G_IO_ERROR, G_IO_ERROR_NOT_FOUND,
                           "node is not in PATH; json-server needs Node.js (v18 or later).");
      return NULL;
    }

  self = g_new0 (TetherTestJsonServer, 1);
  self->context = g_main_context_new ();

  self->dir = g_dir_make_tmp ("tether-json-server-XXXXXX", error);
  if (self->dir == NULL)
    return NULL;

  self->db_path = g_build_filename (self->dir, "db.json", NULL);
  self->log_path = g_build_filename (self->dir, "json-server.log", NULL);

  if (!g_file_set_contents (self->db_path,
                            initial_db_json != NULL ? initial_db_json : "{\"records\": []}",
                            -1, error))
    return NULL;

  for (guint attempt = 0; attempt < MAX_START_ATTEMPTS; attempt++)
    {
      switch (start_server (self, node, bin, error))
        {
        case START_OK:
          g_debug ("json-server %s listening on %s", TETHER_TEST_JSON_SERVER_VERSION, self->url);
          return g_steal_pointer (&self);

        case START_PORT_TAKEN:
          g_debug ("Port %u was taken; trying another", self->port);
          continue;

        case START_FAILED:
        default:
          return NULL;
        }
    }

  g_set_error (error, G_IO_ERROR, G_IO_ERROR_ADDRESS_IN_USE,
               "json-server could not get a free port in %d attempts", MAX_START_ATTEMPTS);

  return NULL;
}

const char *
tether_test_json_server_get_url (TetherTestJsonServer *self)
{
  g_return_val_if_fail (self != NULL, NULL);

  return self->url;
}

guint16
tether_test_json_server_get_port (TetherTestJsonServer *self)
{
  g_return_val_if_fail (self != NULL, 0);

  return self->port;
}

const char *
tether_test_json_server_get_db_path (TetherTestJsonServer *self)
{
  g_return_val_if_fail (self != NULL, NULL);

  return self->db_path;
}

const char *
tether_test_json_server_get_log_path (TetherTestJsonServer *self)
{
  g_return_val_if_fail (self != NULL, NULL);

  return self->log_path;
}

JsonNode *
tether_test_json_server_request (TetherTestJsonServer  *self,
                                 const char            *method,
                                 const char            *path,
                                 const char            *body_json,
                                 guint                 *out_status,
                                 GError               **error)
{
  g_autofree char *url = NULL;
  g_autoptr(GBytes) body = NULL;
  g_autoptr(JsonParser) parser = NULL;

  g_return_val_if_fail (self != NULL, NULL);
  g_return_val_if_fail (path != NULL && path[0] == '/', NULL);

  url = g_strconcat (self->url, path, NULL);
  body = tether_test_http_request (method, url, body_json, out_status, NULL, error);
  if (body == NULL)
    return NULL;

  if (g_bytes_get_size (body) == 0)
    return NULL;

  parser = json_parser_new ();
  if (!json_parser_load_from_data (parser,
                                   g_bytes_get_data (body, NULL),
                                   g_bytes_get_size (body),
                                   error))
    return NULL;

  return json_node_ref (json_parser_get_root (parser));
}

JsonArray *
tether_test_json_server_dup_collection (TetherTestJsonServer *self,
                                        const char           *collection)
{
  g_autofree char *path = g_strconcat ("/", collection, NULL);
  g_autoptr(JsonNode) root = NULL;
  g_autoptr(GError) error = NULL;
  guint status = 0;

  root = tether_test_json_server_request (self, "GET", path, NULL, &status, &error);
  g_assert_no_error (error);
  g_assert_cmpuint (status, ==, 200);
  g_assert_nonnull (root);
  g_assert_true (JSON_NODE_HOLDS_ARRAY (root));

  return json_array_ref (json_node_get_array (root));
}

void
tether_test_json_server_stop (TetherTestJsonServer *self)
{
  g_return_if_fail (self != NULL);

  if (self->process == NULL)
    return;

  if (!self->exited)
    {
      g_subprocess_send_signal (self->process, SIGTERM);
      wait_for_exit (self, STOP_TIMEOUT_SECONDS);
    }

  if (!self->exited)
    {
      g_subprocess_force_exit (self->process);
      wait_for_exit (self, STOP_TIMEOUT_SECONDS);
    }

  if (!self->exited)
    g_warning ("json-server (pid %s) did not exit", g_subprocess_get_identifier (self->process));

  g_clear_object (&self->process);
}

static void
remove_directory (const char *path)
{
  g_autoptr(GDir) dir = NULL;
  const char *name;

  dir = g_dir_open (path, 0, NULL);
  if (dir == NULL)
    return;

  while ((name = g_dir_read_name (dir)) != NULL)
    {
      g_autofree char *child = g_build_filename (path, name, NULL);

      if (g_file_test (child, G_FILE_TEST_IS_DIR) && !g_file_test (child, G_FILE_TEST_IS_SYMLINK))
        remove_directory (child);
      else
        g_unlink (child);
    }

  g_rmdir (path);
}

void
tether_test_json_server_free (TetherTestJsonServer *self)
{
  if (self == NULL)
    return;

  tether_test_json_server_stop (self);

  if (self->dir != NULL)
    {
      if (g_test_failed ())
        g_test_message ("json-server's log and db are kept in %s", self->dir);
      else
        remove_directory (self->dir);
    }

  while (g_main_context_iteration (self->context, FALSE))
    ;

  g_clear_pointer (&self->context, g_main_context_unref);
  g_clear_pointer (&self->dir, g_free);
  g_clear_pointer (&self->db_path, g_free);
  g_clear_pointer (&self->log_path, g_free);
  g_clear_pointer (&self->url, g_free);
  g_free (self);
}
