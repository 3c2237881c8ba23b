/* test-security.c
 *
 * Copyright 2026 The Tether authors
 *
 * SPDX-License-Identifier: GPL-3.0-or-later
 */

/* The promises of DESIGN.md §4 about secrets and addresses, checked on a
 * whole session (settings, keyring, store, sync), not one class:
 *
 *  - a password and a token stored in the keyring and used for syncs end
 *    up in no file under the test's HOME and XDG directories, no GSettings
 *    key, no log message, nothing written to stdout or stderr;
 *  - credentials are refused over plain HTTP to anything but loopback,
 *    before any connection;
 *  - a redirect to another origin never carries the Authorization header;
 *  - a self-signed HTTPS server is refused with a TLS error;
 *  - server ids with "/", "..", "%", spaces and non-ASCII stay one path
 *    segment through a sync.
 */

#include "config.h"

#include <ifaddrs.h>
#include <netinet/in.h>
#include <stdio.h>
#include <string.h>
#include <unistd.h>

#include "stress-common.h"
#include "tether-test-soup-server.h"
#include "tether-test-util.h"

#define SCHEMA_ID  "io.github.tetherapp.Tether"
#define USERNAME   "alice-security-test"
#define PASSWORD   "pw-Zq8#sEcReT-7731-pass"
#define TOKEN      "tok-K3x9-sEcReT-5521-bearer"

/*
 * Everything logged, whatever its level
 */

static GString *log_text;
static GLogFunc previous_handler;

static void
record_log (const char *domain,
            const char *message)
{
  if (log_text == NULL)
    log_text = g_string_new (NULL);

  g_string_append_printf (log_text, "%s: %s\n", domain ? domain : "", message ? message : "");
}

static GLogWriterOutput
capture_writer (GLogLevelFlags   log_level,
                const GLogField *fields,
                gsize            n_fields,
                gpointer         user_data)
{
  const char *domain = NULL;
  const char *message = NULL;

  for (gsize i = 0; i < n_fields; i++)
    {
      if (g_str_equal (fields[i].key, "GLIB_DOMAIN"))
        domain = fields[i].value;
      else if (g_str_equal (fields[i].key, "MESSAGE"))
        message = fields[i].value;
    }

  record_log (domain, message);

  /* Debug messages are generated (G_MESSAGES_DEBUG=all) so that they can
   * be checked; they are not shown. */
  if (log_level & (G_LOG_LEVEL_DEBUG | G_LOG_LEVEL_INFO))
    return G_LOG_WRITER_HANDLED;

  return g_log_writer_default (log_level, fields, n_fields, user_data);
}

static void
capture_handler (const char     *log_domain,
                 GLogLevelFlags  log_level,
                 const char     *message,
                 gpointer        user_data)
{
  record_log (log_domain, message);

  if (log_level & (G_LOG_LEVEL_DEBUG | G_LOG_LEVEL_INFO))
    return;

  previous_handler (log_domain, log_level, message, NULL);
}

/*
 * What a process writes to its standard output and error
 */

typedef struct
{
  int   saved_out;
  int   saved_err;
  FILE *file;
} Capture;

static void
capture_begin (Capture *capture)
{
  /* In the test's home: kept, with what was written, when a check fails
   * on the way (tether_test_init()). */
  g_autofree char *path = g_build_filename (g_get_home_dir (), "captured-output.txt", NULL);

  g_test_message ("Standard output and error go to %s for a while", path);
  capture->file = fopen (path, "w+");
  g_assert_nonnull (capture->file);

  fflush (stdout);
  fflush (stderr);
  capture->saved_out = dup (STDOUT_FILENO);
  capture->saved_err = dup (STDERR_FILENO);
  dup2 (fileno (capture->file), STDOUT_FILENO);
  dup2 (fileno (capture->file), STDERR_FILENO);
}

static char *
capture_end (Capture *capture)
{
  GString *text = g_string_new (NULL);
  char buffer[4096];
  size_t n;

  fflush (stdout);
  fflush (stderr);
  dup2 (capture->saved_out, STDOUT_FILENO);
  dup2 (capture->saved_err, STDERR_FILENO);
  close (capture->saved_out);
  close (capture->saved_err);

  rewind (capture->file);
  while ((n = fread (buffer, 1, sizeof buffer, capture->file)) > 0)
    g_string_append_len (text, buffer, n);
  fclose (capture->file);

  /* Shown after all, on stderr (stdout carries TAP). */
  if (text->len > 0)
    g_printerr ("%s", text->str);

  return g_string_free (text, FALSE);
}

/*
 * Looking for the secrets
 */

static const char *
secret_forms (guint i)
{
  static char *forms[4];

  if (forms[0] == NULL)
    {
      g_autofree char *pair = g_strdup_printf ("%s:%s", USERNAME, PASSWORD);

      forms[0] = g_strdup (PASSWORD);
      forms[1] = g_strdup (TOKEN);
      /* What goes in the Authorization header is as good as the
       * password. */
      forms[2] = g_base64_encode ((const guchar *) pair, strlen (pair));
      forms[3] = NULL;
    }

  return forms[i];
}

static const char *
find_secret (const char *text,
             gsize       length)
{
  for (guint i = 0; secret_forms (i) != NULL; i++)
    if (g_strstr_len (text, length, secret_forms (i)) != NULL)
      return secret_forms (i);

  return NULL;
}

/* Every file under @path; returns the number holding a secret. */
static guint
scan_tree (const char *path,
           guint      *n_files)
{
  g_autoptr(GDir) dir = g_dir_open (path, 0, NULL);
  const char *name;
  guint found = 0;

  if (dir == NULL)
    return 0;

  while ((name = g_dir_read_name (dir)) != NULL)
    {
      g_autofree char *child = g_build_filename (path, name, NULL);
      g_autofree char *contents = NULL;
      gsize length;
      const char *secret;

      if (g_file_test (child, G_FILE_TEST_IS_SYMLINK))
        continue;

      if (g_file_test (child, G_FILE_TEST_IS_DIR))
        {
          found += scan_tree (child, n_files);
          continue;
        }

      (*n_files)++;
      if (g_file_get_contents (child, &contents, &length, NULL) &&
          (secret = find_secret (contents, length)) != NULL)
        {
          g_test_message ("A secret is in %s", child);
          found++;
        }
    }

  return found;
}

static guint
scan_settings (GSettings *settings)
{
  g_autoptr(GSettingsSchema) schema = NULL;
  g_auto(GStrv) keys = NULL;
  guint found = 0;

  g_object_get (settings, "settings-schema", &schema, NULL);
  keys = g_settings_schema_list_keys (schema);

  for (guint i = 0; keys[i] != NULL; i++)
    {
      g_autoptr(GVariant) value = g_settings_get_value (settings, keys[i]);
      g_autofree char *text = g_variant_print (value, FALSE);

      if (find_secret (text, strlen (text)) != NULL)
        {
          g_test_message ("A secret is in the setting %s", keys[i]);
          found++;
        }
    }

  return found;
}

/*
 * Helpers
 */

static gboolean
keyring_store (TetherAccount  *account,
               const char     *secret,
               GError        **error)
{
  g_autoptr(GAsyncResult) result = NULL;

  tether_account_store_secret_async (account, secret, NULL, tether_test_async_result_cb, &result);
  tether_test_wait_for_result (&result);

  return tether_account_store_secret_finish (account, result, error);
}

static char *
keyring_lookup (TetherAccount  *account,
                GError        **error)
{
  g_autoptr(GAsyncResult) result = NULL;

  tether_account_lookup_secret_async (account, NULL, tether_test_async_result_cb, &result);
  tether_test_wait_for_result (&result);

  return tether_account_lookup_secret_finish (account, result, error);
}

static void
keyring_clear (TetherAccount *account)
{
  g_autoptr(GAsyncResult) result = NULL;

  tether_account_clear_secret_async (account, NULL, tether_test_async_result_cb, &result);
  tether_test_wait_for_result (&result);
  tether_account_clear_secret_finish (account, result, NULL);
}

static gboolean
session_sync (TetherSession     *session,
              TetherSyncReport  *report,
              GError           **error)
{
  g_autoptr(GAsyncResult) result = NULL;
  TetherSync *sync = tether_session_get_sync (session);

  tether_sync_run_async (sync, TETHER_SYNC_FLAGS_ALL, NULL, tether_test_async_result_cb, &result);
  tether_test_wait_for_result (&result);

  return tether_sync_run_finish (sync, result, report, error);
}

/* The secret for the account: from the keyring when there is one (the
 * suite's runner starts one), else given straight to the remote. */
static void
use_secret (TetherAccount *account,
            TetherRemote  *remote,
            const char    *secret,
            gboolean      *have_keyring)
{
  g_autoptr(GError) error = NULL;
  char *found;

  if (!keyring_store (account, secret, &error))
    {
      g_assert_null (strstr (error->message, secret));

      if (g_strcmp0 (g_getenv ("TETHER_TEST_REQUIRE_KEYRING"), "1") == 0)
        g_error ("The keyring is required here but refused the secret: %s", error->message);

      g_test_message ("No usable keyring (%s): the secret goes to the remote directly", error->message);
      *have_keyring = FALSE;
      tether_remote_set_secret (remote, secret);
      return;
    }

  found = keyring_lookup (account, &error);
  g_assert_no_error (error);
  g_assert_cmpstr (found, ==, secret);
  tether_remote_set_secret (remote, found);
  tether_account_secret_free (found);
}

static TetherRecord *
add_record (TetherSession *session,
            const char    *title)
{
  g_autoptr(TetherRecord) record = tether_record_new ();

  tether_record_set_string (record, "title", title);
  tether_collection_add (tether_session_get_collection (session), record);

  return record;
}

/*
 * The tests
 */

static void
test_secrets_stay_in_keyring (void)
{
  g_autoptr(TetherTestSoupServer) server = tether_test_soup_server_new ();
  g_autoptr(GSettings) settings = g_settings_new (SCHEMA_ID);
  g_autoptr(TetherAccount) account = NULL;
  g_autoptr(TetherSession) session = NULL;
  g_autoptr(GError) error = NULL;
  g_autofree char *basic = NULL;
  g_autofree char *pair = NULL;
  g_autofree char *basic_b64 = NULL;
  g_autofree char *bearer = NULL;
  g_autofree char *output = NULL;
  TetherSyncReport report;
  TetherRemote *remote;
  TetherRecord *record;
  gboolean have_keyring = TRUE;
  Capture capture;
  guint n_files = 0;
  guint found;

  pair = g_strdup_printf ("%s:%s", USERNAME, PASSWORD);
  basic_b64 = g_base64_encode ((const guchar *) pair, strlen (pair));
  basic = g_strdup_printf ("Basic %s", basic_b64);
  bearer = g_strdup_printf ("Bearer %s", TOKEN);

  /* The account as the app has it: from settings; the store in its
   * default place under the (test's) user data directory. */
  g_settings_set_string (settings, "server-url", tether_test_soup_server_get_url (server));
  g_settings_set_string (settings, "username", USERNAME);
  g_settings_set_string (settings, "auth-kind", "basic");
  account = tether_account_new_from_settings (settings);
  session = tether_session_new (account, NULL);
  g_assert_true (g_str_has_prefix (g_file_peek_path (tether_session_get_directory (session)),
                                   g_get_user_data_dir ()));
  remote = tether_session_get_remote (session);
  tether_remote_set_timeout (remote, 5);

  capture_begin (&capture);

  tether_session_open (session, &error);
  g_assert_no_error (error);

  /* Basic: the password, from the keyring. */
  tether_test_soup_server_set_required_authorization (server, basic);
  use_secret (account, remote, PASSWORD, &have_keyring);
  record = add_record (session, "Private notes");
  g_assert_true (session_sync (session, &report, &error));
  g_assert_no_error (error);
  g_assert_cmpint (tether_record_get_sync_state (record), ==, TETHER_SYNC_STATE_SYNCED);

  /* A refused password: the error says so, without it. */
  tether_test_soup_server_set_required_authorization (server, "Basic c29tZW9uZTplbHNl");
  tether_record_set_string (record, "title", "Private notes, edited");
  g_assert_false (session_sync (session, &report, &error));
  g_assert_error (error, TETHER_REMOTE_ERROR, TETHER_REMOTE_ERROR_AUTH);
  g_assert_null (find_secret (error->message, strlen (error->message)));
  g_clear_error (&error);

  /* Bearer: the token, from the keyring. */
  g_settings_set_string (settings, "auth-kind", "bearer");
  tether_test_soup_server_set_required_authorization (server, bearer);
  use_secret (account, remote, TOKEN, &have_keyring);
  add_record (session, "More private notes");
  g_assert_true (session_sync (session, &report, &error));
  g_assert_no_error (error);
  g_assert_cmpuint (tether_test_soup_server_get_n_records (server), ==, 2);

  tether_session_close (session, &error);
  g_assert_no_error (error);

  output = capture_end (&capture);

  /* The credentials did travel, to the server they are for. */
  {
    g_autoptr(TetherTestRequest) last = tether_test_soup_server_dup_last_request (server);

    g_assert_cmpstr (last->authorization, ==, bearer);
  }

  /* Nowhere else: files (store, settings, cache, state, anything under
   * the test's HOME), GSettings, output, logs. */
  found = scan_tree (g_get_home_dir (), &n_files);
  g_test_message ("Scanned %u files under %s", n_files, g_get_home_dir ());
  g_assert_cmpuint (n_files, >, 0);
  g_assert_cmpuint (found, ==, 0);

  g_assert_cmpuint (scan_settings (settings), ==, 0);
  g_assert_null (find_secret (output, strlen (output)));
  g_assert_nonnull (log_text);
  g_assert_null (find_secret (log_text->str, log_text->len));

  /* And the search does find a secret where there is one. */
  {
    g_autofree char *control = g_dir_make_tmp ("tether-security-control-XXXXXX", NULL);
    g_autofree char *file = g_build_filename (control, "leak.json", NULL);
    g_autofree char *leak = g_strdup_printf ("{\"authorization\": \"%s\"}", basic);
    guint n_control = 0;

    g_assert_true (g_file_set_contents (file, leak, -1, NULL));
    g_assert_cmpuint (scan_tree (control, &n_control), ==, 1);
    stress_remove_tree (control);
  }

  if (have_keyring)
    {
      g_settings_set_string (settings, "auth-kind", "basic");
      keyring_clear (account);
      g_settings_set_string (settings, "auth-kind", "bearer");
      keyring_clear (account);
    }
}

typedef struct
{
  guint connections;
} Listener;

static gboolean
count_incoming_cb (GSocketService    *service,
                   GSocketConnection *connection,
                   GObject           *source,
                   Listener          *listener)
{
  listener->connections++;

  return FALSE;
}

/* An IPv4 address of this machine that is not loopback, or %NULL. */
static char *
dup_own_address (void)
{
  struct ifaddrs *list = NULL;
  char *found = NULL;

  if (getifaddrs (&list) != 0)
    return NULL;

  for (struct ifaddrs *i = list; i != NULL && found == NULL; i = i->ifa_next)
    {
      g_autoptr(GInetAddress) address = NULL;

      if (i->ifa_addr == NULL || i->ifa_addr->sa_family != AF_INET)
        continue;

      address = g_inet_address_new_from_bytes ((const guint8 *) &((struct sockaddr_in *) i->ifa_addr)->sin_addr,
                                               G_SOCKET_FAMILY_IPV4);
      if (!g_inet_address_get_is_loopback (address))
        found = g_inet_address_to_string (address);
    }

  freeifaddrs (list);

  return found;
}

static void
check_insecure (const char *url,
                Listener   *listener)
{
  g_autoptr(StressClient) client = stress_client_new (url, TETHER_CONFLICT_POLICY_ASK, NULL);
  g_autoptr(TetherRemotePage) page = NULL;
  g_autoptr(GAsyncResult) result = NULL;
  g_autoptr(GError) error = NULL;
  TetherSyncReport report;
  TetherRecord *record;
  gint64 start;

  g_test_message ("Credentials to %s", url);
  tether_account_set_auth_kind (client->account, TETHER_AUTH_KIND_BASIC);
  tether_account_set_username (client->account, USERNAME);
  tether_remote_set_secret (client->remote, PASSWORD);

  start = g_get_monotonic_time ();
  tether_remote_list_page_async (client->remote, NULL, NULL, NULL, tether_test_async_result_cb, &result);
  tether_test_wait_for_result (&result);
  page = tether_remote_list_page_finish (client->remote, result, &error);
  g_assert_null (page);
  g_assert_error (error, TETHER_REMOTE_ERROR, TETHER_REMOTE_ERROR_INSECURE);
  g_assert_null (find_secret (error->message, strlen (error->message)));
  g_clear_error (&error);

  /* A whole sync with something to push: refused the same way, and the
   * record waits. */
  record = add_record (client->session, "Not over plain http");
  g_assert_false (stress_client_sync (client, TETHER_SYNC_FLAGS_ALL, &report, &error));
  g_assert_error (error, TETHER_REMOTE_ERROR, TETHER_REMOTE_ERROR_INSECURE);
  g_clear_error (&error);
  g_assert_false (stress_client_sync (client, TETHER_SYNC_FLAGS_PUSH, &report, &error));
  g_assert_error (error, TETHER_REMOTE_ERROR, TETHER_REMOTE_ERROR_INSECURE);
  g_assert_cmpint (tether_record_get_sync_state (record), ==, TETHER_SYNC_STATE_PENDING);

  /* Before any connection: no time spent reaching an address that does
   * not answer, and nothing arrived where one does. */
  g_assert_cmpint (g_get_monotonic_time () - start, <, G_USEC_PER_SEC);
  if (listener != NULL)
    {
      /* Give a connection that was made the time to be accepted. */
      for (guint i = 0; i < 20; i++)
        g_main_context_iteration (NULL, FALSE);
      g_assert_cmpuint (listener->connections, ==, 0);
    }
}

static void
test_insecure_http (void)
{
  static const char * const urls[] = {
    "http://192.0.2.1",
    "http://10.0.0.1:8080",
    "http://[2001:db8::1]:8080",
    "http://example.invalid",
    "http://127.0.0.1.example.invalid",
    "http://localhost.example.invalid",
    "http://0x7f000001.invalid",
  };
  g_autoptr(GSocketService) service = g_socket_service_new ();
  g_autofree char *own = dup_own_address ();
  g_autoptr(GError) error = NULL;
  Listener listener = { 0 };
  guint16 port;

  for (guint i = 0; i < G_N_ELEMENTS (urls); i++)
    check_insecure (urls[i], NULL);

  /* This machine's own address, not loopback, with a server listening:
   * it must not even be connected to. */
  port = g_socket_listener_add_any_inet_port (G_SOCKET_LISTENER (service), NULL, &error);
  g_assert_no_error (error);
  g_signal_connect (service, "incoming", G_CALLBACK (count_incoming_cb), &listener);
  g_socket_service_start (service);

  if (own != NULL)
    {
      g_autofree char *url = g_strdup_printf ("http://%s:%u", own, port);

      check_insecure (url, &listener);
    }
  else
    g_test_message ("No non-loopback IPv4 address here; checked by time only");

  g_socket_service_stop (service);
  g_socket_listener_close (G_SOCKET_LISTENER (service));
}

static void
test_redirect_other_origin (void)
{
  static const struct
  {
    const char *method;
    const char *path;
    guint       status;
  } cases[] = {
    { "GET", "/records", 301 },
    { "GET", "/records", 302 },
    { "GET", "/records", 303 },
    { "GET", "/records", 307 },
    { "GET", "/records", 308 },
    { "POST", "/records", 307 },
    { "POST", "/records", 308 },
    { "PATCH", "/records/1", 307 },
    { "PATCH", "/records/1", 302 },
    { "DELETE", "/records/2", 308 },
    { "DELETE", "/records/2", 301 },
  };
  g_autofree char *bearer = g_strdup_printf ("Bearer %s", TOKEN);

  for (guint i = 0; i < G_N_ELEMENTS (cases); i++)
    {
      g_autoptr(TetherTestSoupServer) home = tether_test_soup_server_new ();
      g_autoptr(TetherTestSoupServer) other = tether_test_soup_server_new ();
      g_autoptr(StressClient) client = NULL;
      g_autoptr(GError) error = NULL;
      TetherCollection *collection;
      TetherSyncReport report;
      TetherRecord *one, *two;
      gboolean redirected = FALSE;

      g_test_message ("%s %s redirected by %u to another origin", cases[i].method, cases[i].path, cases[i].status);

      /* The same host on another port: another origin. */
      tether_test_soup_server_set_records (home, "[{\"id\": 1, \"title\": \"one\"}, {\"id\": 2, \"title\": \"two\"}]");
      tether_test_soup_server_set_records (other, "[{\"id\": 1, \"title\": \"one\"}, {\"id\": 2, \"title\": \"two\"}]");
      tether_test_soup_server_set_required_authorization (home, bearer);

      client = stress_client_new (tether_test_soup_server_get_url (home), TETHER_CONFLICT_POLICY_ASK, NULL);
      tether_account_set_auth_kind (client->account, TETHER_AUTH_KIND_BEARER);
      tether_remote_set_secret (client->remote, TOKEN);
      collection = stress_client_collection (client);
      g_assert_true (stress_client_sync (client, TETHER_SYNC_FLAGS_ALL, &report, &error));
      g_assert_no_error (error);

      /* Work for each method. */
      add_record (client->session, "three");
      one = tether_collection_lookup_ref (collection, "1");
      two = tether_collection_lookup_ref (collection, "2");
      tether_record_set_string (one, "title", "one, edited");
      tether_collection_delete (collection, two);

      tether_test_soup_server_push_fault (home, &(TetherTestFault) {
                                            .kind = TETHER_TEST_FAULT_REDIRECT,
                                            .method = cases[i].method,
                                            .path = cases[i].path,
                                            .status = cases[i].status,
                                            .location = tether_test_soup_server_get_url (other),
                                            .times = 1,
                                          });

      stress_client_sync (client, TETHER_SYNC_FLAGS_ALL, &report, &error);
      g_clear_error (&error);

      for (guint j = 0; j < tether_test_soup_server_get_n_requests (home); j++)
        {
          g_autoptr(TetherTestRequest) request = tether_test_soup_server_dup_request (home, j);

          redirected |= request->fault == TETHER_TEST_FAULT_REDIRECT;
          g_assert_cmpstr (request->authorization, ==, bearer);
        }
      g_assert_true (redirected);

      /* Whatever reached the other server went without credentials. */
      for (guint j = 0; j < tether_test_soup_server_get_n_requests (other); j++)
        {
          g_autoptr(TetherTestRequest) request = tether_test_soup_server_dup_request (other, j);

          g_test_message ("  the other origin got %s %s", request->method, request->target);
          g_assert_null (request->authorization);
          /* Nor was a change carried there. */
          g_assert_cmpstr (request->method, ==, "GET");
        }
    }
}

/* The check can see an Authorization header when one is sent: a redirect
 * to the same origin keeps it. */
static void
test_redirect_same_origin (void)
{
  g_autoptr(TetherTestSoupServer) home = tether_test_soup_server_new ();
  g_autoptr(StressClient) client = NULL;
  g_autoptr(GError) error = NULL;
  g_autofree char *bearer = g_strdup_printf ("Bearer %s", TOKEN);
  TetherSyncReport report;
  guint followed = 0;

  tether_test_soup_server_set_required_authorization (home, bearer);
  client = stress_client_new (tether_test_soup_server_get_url (home), TETHER_CONFLICT_POLICY_ASK, NULL);
  tether_account_set_auth_kind (client->account, TETHER_AUTH_KIND_BEARER);
  tether_remote_set_secret (client->remote, TOKEN);

  tether_test_soup_server_push_fault (home, &(TetherTestFault) {
                                        .kind = TETHER_TEST_FAULT_REDIRECT,
                                        .method = "GET",
                                        .status = 302,
                                        .location = tether_test_soup_server_get_url (home),
                                        .times = 1,
                                      });
  g_assert_true (stress_client_sync (client, TETHER_SYNC_FLAGS_ALL, &report, &error));
  g_assert_no_error (error);

  for (guint j = 0; j < tether_test_soup_server_get_n_requests (home); j++)
    {
      g_autoptr(TetherTestRequest) request = tether_test_soup_server_dup_request (home, j);

      g_assert_cmpstr (request->authorization, ==, bearer);
      followed += request->fault == TETHER_TEST_FAULT_NONE;
    }
  g_assert_cmpuint (followed, >=, 1);
}

static void
test_tls_self_signed (void)
{
  g_autofree char *cert_path = tether_test_dup_data_path ("self-signed-cert.pem");
  g_autofree char *key_path = tether_test_dup_data_path ("self-signed-key.pem");
  g_autoptr(GTlsCertificate) certificate = NULL;
  g_autoptr(TetherTestSoupServer) server = NULL;
  g_autoptr(StressClient) client = NULL;
  g_autoptr(GAsyncResult) result = NULL;
  g_autoptr(GError) error = NULL;
  g_autofree char *sentence = NULL;
  TetherSyncReport report;
  TetherRecord *record;

  certificate = g_tls_certificate_new_from_files (cert_path, key_path, &error);
  g_assert_no_error (error);
  server = tether_test_soup_server_new_tls (certificate);
  g_assert_true (g_str_has_prefix (tether_test_soup_server_get_url (server), "https://"));

  client = stress_client_new (tether_test_soup_server_get_url (server), TETHER_CONFLICT_POLICY_ASK, NULL);
  tether_account_set_auth_kind (client->account, TETHER_AUTH_KIND_BEARER);
  tether_remote_set_secret (client->remote, TOKEN);
  record = add_record (client->session, "Over TLS only");

  g_assert_false (stress_client_sync (client, TETHER_SYNC_FLAGS_ALL, &report, &error));
  g_assert_error (error, TETHER_REMOTE_ERROR, TETHER_REMOTE_ERROR_TLS);
  g_assert_null (find_secret (error->message, strlen (error->message)));
  g_clear_error (&error);

  g_assert_false (stress_client_sync (client, TETHER_SYNC_FLAGS_PUSH, &report, &error));
  g_assert_error (error, TETHER_REMOTE_ERROR, TETHER_REMOTE_ERROR_TLS);
  g_clear_error (&error);

  /* "Test connection" in Preferences says the same. */
  tether_remote_test_connection_async (client->remote, NULL, tether_test_async_result_cb, &result);
  tether_test_wait_for_result (&result);
  sentence = tether_remote_test_connection_finish (client->remote, result, &error);
  g_assert_null (sentence);
  g_assert_error (error, TETHER_REMOTE_ERROR, TETHER_REMOTE_ERROR_TLS);

  /* Refused at the handshake: not one request reached the server. */
  g_assert_cmpuint (tether_test_soup_server_get_n_requests (server), ==, 0);
  g_assert_cmpint (tether_record_get_sync_state (record), ==, TETHER_SYNC_STATE_PENDING);
  g_assert_null (tether_record_get_id (record));
}

static gboolean
is_one_segment (const char *path,
                const char *id,
                const char *method)
{
  const char *segment;
  g_autofree char *decoded = NULL;

  if (!g_str_has_prefix (path, "/records/"))
    return FALSE;

  segment = path + strlen ("/records/");
  if (strchr (segment, '/') != NULL || g_str_equal (segment, "..") || g_str_equal (segment, "."))
    return FALSE;

  decoded = g_uri_unescape_string (segment, NULL);
  if (g_strcmp0 (decoded, id) != 0)
    {
      g_test_message ("%s %s does not decode to the id %s", method, path, id);
      return FALSE;
    }

  return TRUE;
}

static void
check_hostile_id (const char *id)
{
  g_autoptr(TetherTestSoupServer) server = tether_test_soup_server_new ();
  g_autoptr(StressClient) client = NULL;
  g_autoptr(JsonNode) id_node = json_node_init_string (json_node_alloc (), id);
  g_autofree char *id_json = json_to_string (id_node, FALSE);
  g_autoptr(JsonObject) on_server = NULL;
  g_autoptr(GError) error = NULL;
  TetherSyncReport report;
  TetherRecord *record;
  guint updates = 0;
  guint deletes = 0;

  g_test_message ("Server id %s", id_json);

  tether_test_soup_server_set_records (server, "[{\"id\": \"bystander\", \"title\": \"not to be touched\"}]");
  client = stress_client_new (tether_test_soup_server_get_url (server), TETHER_CONFLICT_POLICY_ASK, NULL);
  record = add_record (client->session, "Odd id");

  /* The server gives the created record the id. */
  tether_test_soup_server_push_fault (server, &(TetherTestFault) {
                                        .kind = TETHER_TEST_FAULT_SET_ID,
                                        .method = "POST",
                                        .id_json = id_json,
                                        .times = 1,
                                      });
  g_assert_true (stress_client_sync (client, TETHER_SYNC_FLAGS_ALL, &report, &error));
  g_assert_no_error (error);
  g_assert_nonnull (tether_record_get_id (record));
  g_assert_cmpstr (json_node_get_string (tether_record_get_id (record)), ==, id);

  /* Updated here: the request names it in one segment, and it is the
   * record that changes on the server. */
  tether_record_set_string (record, "title", "Odd id, edited");
  tether_test_soup_server_clear_requests (server);
  stress_client_sync (client, TETHER_SYNC_FLAGS_ALL, &report, &error);

  if (g_str_equal (id, ".") || g_str_equal (id, ".."))
    {
      /* No safe form: refused, never sent to another path. */
      g_assert_no_error (error);
      g_assert_cmpint (tether_record_get_sync_state (record), ==, TETHER_SYNC_STATE_ERROR);
      for (guint j = 0; j < tether_test_soup_server_get_n_requests (server); j++)
        {
          g_autoptr(TetherTestRequest) request = tether_test_soup_server_dup_request (server, j);

          g_assert_cmpstr (request->method, ==, "GET");
        }
      on_server = tether_test_soup_server_dup_record (server, id);
      g_assert_nonnull (on_server);
      g_assert_cmpstr (json_object_get_string_member (on_server, "title"), ==, "Odd id");
      return;
    }

  g_assert_no_error (error);
  g_assert_cmpint (tether_record_get_sync_state (record), ==, TETHER_SYNC_STATE_SYNCED);

  for (guint j = 0; j < tether_test_soup_server_get_n_requests (server); j++)
    {
      g_autoptr(TetherTestRequest) request = tether_test_soup_server_dup_request (server, j);

      if (g_str_equal (request->method, "GET"))
        continue;
      updates++;
      g_assert_true (is_one_segment (request->path, id, request->method));
    }
  g_assert_cmpuint (updates, ==, 1);

  on_server = tether_test_soup_server_dup_record (server, id);
  g_assert_nonnull (on_server);
  g_assert_cmpstr (json_object_get_string_member (on_server, "title"), ==, "Odd id, edited");
  g_clear_pointer (&on_server, json_object_unref);

  /* A pull finds it again by the same id: no second record. */
  g_assert_true (stress_client_sync (client, TETHER_SYNC_FLAGS_ALL, &report, &error));
  g_assert_cmpuint (g_list_model_get_n_items (G_LIST_MODEL (stress_client_collection (client))), ==, 2);

  /* Deleted here: the DELETE names it in one segment too. */
  tether_collection_delete (stress_client_collection (client), record);
  tether_test_soup_server_clear_requests (server);
  g_assert_true (stress_client_sync (client, TETHER_SYNC_FLAGS_ALL, &report, &error));
  g_assert_no_error (error);

  for (guint j = 0; j < tether_test_soup_server_get_n_requests (server); j++)
    {
      g_autoptr(TetherTestRequest) request = tether_test_soup_server_dup_request (server, j);

      if (g_str_equal (request->method, "GET"))
        continue;
      deletes++;
      g_assert_cmpstr (request->method, ==, "DELETE");
      g_assert_true (is_one_segment (request->path, id, request->method));
    }
  g_assert_cmpuint (deletes, ==, 1);

  g_assert_null (tether_test_soup_server_dup_record (server, id));
  on_server = tether_test_soup_server_dup_record (server, "bystander");
  g_assert_nonnull (on_server);
  g_assert_cmpstr (json_object_get_string_member (on_server, "title"), ==, "not to be touched");
}

static void
test_hostile_ids (void)
{
  static const char * const ids[] = {
    "a/b",
    "../admin",
    "../../records/bystander",
    "a..b",
    "..%2F..",
    "%",
    "%2F",
    "50% off",
    "with space",
    "tab\there",
    "?q=1#frag",
    "a\\b",
    "ünïcødé ✓ 日本",
    "..",
    ".",
  };

  for (guint i = 0; i < G_N_ELEMENTS (ids); i++)
    check_hostile_id (ids[i]);
}

int
main (int   argc,
      char *argv[])
{
  /* Debug messages are made, so that they can be searched too. */
  g_setenv ("G_MESSAGES_DEBUG", "all", TRUE);

  tether_test_init (&argc, &argv);

  g_log_set_writer_func (capture_writer, NULL, NULL);
  previous_handler = g_log_set_default_handler (capture_handler, NULL);

  g_test_add_func ("/security/secrets-stay-in-keyring", test_secrets_stay_in_keyring);
  g_test_add_func ("/security/insecure-http", test_insecure_http);
  g_test_add_func ("/security/redirect/other-origin", test_redirect_other_origin);
  g_test_add_func ("/security/redirect/same-origin", test_redirect_same_origin);
  g_test_add_func ("/security/tls-self-signed", test_tls_self_signed);
  g_test_add_func ("/security/hostile-ids", test_hostile_ids);

  return g_test_run ();
}
