/* test-account.c
 *
 * Copyright 2026 The Tether authors
 *
 * SPDX-License-Identifier: GPL-3.0-or-later
 */

#include "config.h"

#include <string.h>

#include "tether-account.h"
#include "tether-enums.h"
#include "tether-test-util.h"

#define SCHEMA_ID   "io.github.tetherapp.Tether"
#define TEST_SECRET "c0rrect-H0rse-ßtaple ✓"

static void
notify_cb (GObject    *object,
           GParamSpec *pspec,
           guint      *count)
{
  (*count)++;
}

static void
test_account_defaults (void)
{
  TetherAccount *account = tether_account_new ();

  g_assert_cmpstr (tether_account_get_server_url (account), ==, "");
  g_assert_false (tether_account_has_server (account));
  g_assert_cmpstr (tether_account_get_collection (account), ==, "records");
  g_assert_cmpstr (tether_account_get_id_field (account), ==, "id");
  g_assert_cmpstr (tether_account_get_client_id_field (account), ==, "clientId");
  g_assert_cmpstr (tether_account_get_title_field (account), ==, "");
  g_assert_cmpint (tether_account_get_update_method (account), ==, TETHER_UPDATE_METHOD_PATCH);
  g_assert_cmpuint (tether_account_get_page_size (account), ==, 100);
  g_assert_cmpuint (tether_account_get_push_concurrency (account), ==, 4);
  g_assert_cmpint (tether_account_get_auth_kind (account), ==, TETHER_AUTH_KIND_NONE);
  g_assert_cmpstr (tether_account_get_username (account), ==, "");
  g_assert_cmpint (tether_account_get_conflict_policy (account), ==, TETHER_CONFLICT_POLICY_ASK);
  g_assert_true (tether_account_get_auto_sync (account));
  g_assert_cmpuint (tether_account_get_auto_sync_interval (account), ==, 0);

  g_assert_finalize_object (account);
}

static void
test_account_setters_notify (void)
{
  TetherAccount *account = tether_account_new ();
  guint count = 0;

  g_signal_connect (account, "notify", G_CALLBACK (notify_cb), &count);

  tether_account_set_server_url (account, "https://example.org/api");
  tether_account_set_server_url (account, "https://example.org/api");
  g_assert_cmpuint (count, ==, 1);
  g_assert_true (tether_account_has_server (account));

  tether_account_set_collection (account, "notes");
  tether_account_set_id_field (account, "_id");
  tether_account_set_client_id_field (account, "");
  tether_account_set_title_field (account, "name");
  tether_account_set_update_method (account, TETHER_UPDATE_METHOD_PUT);
  tether_account_set_page_size (account, 7);
  tether_account_set_push_concurrency (account, 8);
  tether_account_set_auth_kind (account, TETHER_AUTH_KIND_BEARER);
  tether_account_set_username (account, "alice");
  tether_account_set_conflict_policy (account, TETHER_CONFLICT_POLICY_SERVER_WINS);
  tether_account_set_auto_sync (account, FALSE);
  tether_account_set_auto_sync_interval (account, 15);
  g_assert_cmpuint (count, ==, 13);

  /* Setting the same values again notifies nothing. */
  tether_account_set_collection (account, "notes");
  tether_account_set_update_method (account, TETHER_UPDATE_METHOD_PUT);
  tether_account_set_page_size (account, 7);
  tether_account_set_auto_sync (account, FALSE);
  g_assert_cmpuint (count, ==, 13);

  /* NULL strings read back as empty. */
  tether_account_set_username (account, NULL);
  g_assert_cmpstr (tether_account_get_username (account), ==, "");

  /* The properties are the same values. */
  {
    g_autofree char *collection = NULL;
    TetherConflictPolicy policy;
    guint page_size;

    g_object_get (account,
                  "collection", &collection,
                  "conflict-policy", &policy,
                  "page-size", &page_size,
                  NULL);
    g_assert_cmpstr (collection, ==, "notes");
    g_assert_cmpint (policy, ==, TETHER_CONFLICT_POLICY_SERVER_WINS);
    g_assert_cmpuint (page_size, ==, 7);
  }

  g_assert_finalize_object (account);
}

static void
test_account_settings (void)
{
  g_autoptr(GSettings) settings = NULL;
  TetherAccount *account;

  g_assert_cmpstr (g_getenv ("GSETTINGS_BACKEND"), ==, "memory");

  settings = g_settings_new (SCHEMA_ID);
  account = tether_account_new_from_settings (settings);

  /* The schema's defaults. */
  g_assert_cmpstr (tether_account_get_server_url (account), ==, "");
  g_assert_cmpstr (tether_account_get_collection (account), ==, "records");
  g_assert_cmpstr (tether_account_get_client_id_field (account), ==, "clientId");
  g_assert_cmpint (tether_account_get_update_method (account), ==, TETHER_UPDATE_METHOD_PATCH);
  g_assert_cmpuint (tether_account_get_page_size (account), ==, 100);
  g_assert_cmpint (tether_account_get_conflict_policy (account), ==, TETHER_CONFLICT_POLICY_ASK);
  g_assert_true (tether_account_get_auto_sync (account));

  /* Every key flows into the account, the string choices as enums. */
  g_settings_set_string (settings, "server-url", "https://example.org/api");
  g_settings_set_string (settings, "collection", "notes");
  g_settings_set_string (settings, "id-field", "_id");
  g_settings_set_string (settings, "client-id-field", "");
  g_settings_set_string (settings, "title-field", "name");
  g_settings_set_string (settings, "update-method", "put");
  g_settings_set_uint (settings, "page-size", 25);
  g_settings_set_uint (settings, "push-concurrency", 8);
  g_settings_set_string (settings, "auth-kind", "basic");
  g_settings_set_string (settings, "username", "alice");
  g_settings_set_string (settings, "conflict-policy", "local-wins");
  g_settings_set_boolean (settings, "auto-sync", FALSE);
  g_settings_set_uint (settings, "auto-sync-interval", 30);

  g_assert_cmpstr (tether_account_get_server_url (account), ==, "https://example.org/api");
  g_assert_cmpstr (tether_account_get_collection (account), ==, "notes");
  g_assert_cmpstr (tether_account_get_id_field (account), ==, "_id");
  g_assert_cmpstr (tether_account_get_client_id_field (account), ==, "");
  g_assert_cmpstr (tether_account_get_title_field (account), ==, "name");
  g_assert_cmpint (tether_account_get_update_method (account), ==, TETHER_UPDATE_METHOD_PUT);
  g_assert_cmpuint (tether_account_get_page_size (account), ==, 25);
  g_assert_cmpuint (tether_account_get_push_concurrency (account), ==, 8);
  g_assert_cmpint (tether_account_get_auth_kind (account), ==, TETHER_AUTH_KIND_BASIC);
  g_assert_cmpstr (tether_account_get_username (account), ==, "alice");
  g_assert_cmpint (tether_account_get_conflict_policy (account), ==, TETHER_CONFLICT_POLICY_LOCAL_WINS);
  g_assert_false (tether_account_get_auto_sync (account));
  g_assert_cmpuint (tether_account_get_auto_sync_interval (account), ==, 30);

  g_settings_set_string (settings, "conflict-policy", "server-wins");
  g_settings_set_string (settings, "auth-kind", "bearer");
  g_assert_cmpint (tether_account_get_conflict_policy (account), ==, TETHER_CONFLICT_POLICY_SERVER_WINS);
  g_assert_cmpint (tether_account_get_auth_kind (account), ==, TETHER_AUTH_KIND_BEARER);

  /* An override for this account (tests, tether-cli) is not written back. */
  tether_account_set_server_url (account, "http://127.0.0.1:3000");
  tether_account_set_conflict_policy (account, TETHER_CONFLICT_POLICY_ASK);
  {
    g_autofree char *url = g_settings_get_string (settings, "server-url");
    g_autofree char *policy = g_settings_get_string (settings, "conflict-policy");

    g_assert_cmpstr (url, ==, "https://example.org/api");
    g_assert_cmpstr (policy, ==, "server-wins");
  }

  g_assert_finalize_object (account);
}

static void
test_account_validate_url (void)
{
  static const struct {
    const char *url;
    const char *normalized;
  } valid[] = {
    { "https://example.org", "https://example.org" },
    { "https://example.org/", "https://example.org" },
    { "https://Example.ORG/api/", "https://example.org/api" },
    { "HTTP://127.0.0.1:3000", "http://127.0.0.1:3000" },
    { "http://localhost:8080/v1//", "http://localhost:8080/v1" },
    { "https://[::1]:8443/api", "https://[::1]:8443/api" },
    { "https://example.org/a%20b", "https://example.org/a%20b" },
    { "https://example.org:443/x", "https://example.org/x" },
    { "http://example.org:80", "http://example.org" },
    { "http://example.org:443", "http://example.org:443" },
  };
  static const char * const invalid[] = {
    NULL,
    "",
    "   ",
    "example.org",
    "ftp://example.org",
    "file:///etc/passwd",
    "https://",
    "https:///path",
    "https://user@example.org",
    "https://user:pa55word@example.org",
    "https://example.org/api?x=1",
    "https://example.org/api#top",
    "https://exa mple.org",
    " https://example.org",
    "https://example.org:99999",
    "mailto:someone@example.org",
  };

  for (guint i = 0; i < G_N_ELEMENTS (valid); i++)
    {
      g_autofree char *normalized = NULL;
      g_autoptr(GError) error = NULL;

      g_assert_true (tether_account_validate_url (valid[i].url, &normalized, &error));
      g_assert_no_error (error);
      g_assert_cmpstr (normalized, ==, valid[i].normalized);

      g_assert_true (tether_account_validate_url (valid[i].url, NULL, NULL));
    }

  for (guint i = 0; i < G_N_ELEMENTS (invalid); i++)
    {
      g_autofree char *normalized = NULL;
      g_autoptr(GError) error = NULL;

      g_test_message ("Invalid: %s", invalid[i] ? invalid[i] : "(null)");
      g_assert_false (tether_account_validate_url (invalid[i], &normalized, &error));
      g_assert_error (error, TETHER_ACCOUNT_ERROR, TETHER_ACCOUNT_ERROR_INVALID_URL);
      g_assert_null (normalized);

      /* A sentence for a human, that never repeats the URL: it could hold
       * a password typed into it. */
      g_assert_true (g_str_has_suffix (error->message, "."));
      g_assert_null (strstr (error->message, "pa55word"));
    }
}

/*
 * Secrets
 */

static void
store_secret (TetherAccount  *account,
              const char     *secret,
              GError        **error)
{
  g_autoptr(GAsyncResult) result = NULL;

  tether_account_store_secret_async (account, secret, NULL, tether_test_async_result_cb, &result);
  tether_test_wait_for_result (&result);
  tether_account_store_secret_finish (account, result, error);
}

static char *
lookup_secret (TetherAccount  *account,
               GError        **error)
{
  g_autoptr(GAsyncResult) result = NULL;

  tether_account_lookup_secret_async (account, NULL, tether_test_async_result_cb, &result);
  tether_test_wait_for_result (&result);

  return tether_account_lookup_secret_finish (account, result, error);
}

static void
clear_secret (TetherAccount  *account,
              GError        **error)
{
  g_autoptr(GAsyncResult) result = NULL;

  tether_account_clear_secret_async (account, NULL, tether_test_async_result_cb, &result);
  tether_test_wait_for_result (&result);
  tether_account_clear_secret_finish (account, result, error);
}

/* Whether @needle is in any file under @path. */
static gboolean
directory_contains (const char *path,
                    const char *needle)
{
  g_autoptr(GDir) dir = g_dir_open (path, 0, NULL);
  const char *name;

  if (dir == NULL)
    return FALSE;

  while ((name = g_dir_read_name (dir)) != NULL)
    {
      g_autofree char *child = g_build_filename (path, name, NULL);
      g_autofree char *contents = NULL;
      gsize length;

      if (g_file_test (child, G_FILE_TEST_IS_SYMLINK))
        continue;

      if (g_file_test (child, G_FILE_TEST_IS_DIR))
        {
          if (directory_contains (child, needle))
            return TRUE;
          continue;
        }

      if (g_file_get_contents (child, &contents, &length, NULL) &&
          g_strstr_len (contents, length, needle) != NULL)
        {
          g_test_message ("Found the secret in %s", child);
          return TRUE;
        }
    }

  return FALSE;
}

static void
assert_keyring_error (const GError *error)
{
  g_assert_nonnull (error);
  g_assert_true (error->domain == TETHER_ACCOUNT_ERROR);
  g_assert_true (error->code == TETHER_ACCOUNT_ERROR_NO_KEYRING ||
                 error->code == TETHER_ACCOUNT_ERROR_KEYRING_LOCKED);
  g_assert_null (strstr (error->message, TEST_SECRET));
  g_assert_nonnull (strstr (error->message, "keyring"));
}

static void
test_account_secret_round_trip (void)
{
  TetherAccount *account = tether_account_new ();
  TetherAccount *other = tether_account_new ();
  g_autoptr(GError) error = NULL;
  g_autofree char *secret = NULL;
  gboolean have_bus = g_getenv ("DBUS_SESSION_BUS_ADDRESS") != NULL;
  gboolean require_keyring = g_strcmp0 (g_getenv ("TETHER_TEST_REQUIRE_KEYRING"), "1") == 0;

  tether_account_set_server_url (account, "https://keyring-test.tether.invalid/api/");
  tether_account_set_username (account, "tether-test-user");
  tether_account_set_auth_kind (account, TETHER_AUTH_KIND_BASIC);

  store_secret (account, TEST_SECRET, &error);

  if (error != NULL && !require_keyring &&
      (g_error_matches (error, TETHER_ACCOUNT_ERROR, TETHER_ACCOUNT_ERROR_NO_KEYRING) ||
       g_error_matches (error, TETHER_ACCOUNT_ERROR, TETHER_ACCOUNT_ERROR_KEYRING_LOCKED)))
    {
      /* No usable Secret Service here: the store says so clearly, and the
       * secret went nowhere else. */
      g_test_message ("No keyring (%s); checking the no-keyring errors: %s",
                      have_bus ? "none usable on the session bus" : "no session bus",
                      error->message);
      assert_keyring_error (error);
      g_clear_error (&error);

      /* Without a bus, every call fails the same way. With one, a Secret
       * Service that could not store (its keyring could not be created or
       * unlocked without a prompt) may still answer "nothing stored". */
      secret = lookup_secret (account, &error);
      g_assert_null (secret);
      if (!have_bus || error != NULL)
        assert_keyring_error (error);
      g_clear_error (&error);

      clear_secret (account, &error);
      if (!have_bus || error != NULL)
        assert_keyring_error (error);
      g_clear_error (&error);

      g_assert_false (directory_contains (g_get_home_dir (), TEST_SECRET));
      g_assert_finalize_object (account);
      g_assert_finalize_object (other);
      return;
    }

  /* Without a session bus there is no keyring to find. */
  g_assert_true (have_bus);
  g_assert_no_error (error);

  /* The same server written differently is the same item. */
  tether_account_set_server_url (other, "https://KEYRING-TEST.tether.invalid/api");
  tether_account_set_username (other, "tether-test-user");
  tether_account_set_auth_kind (other, TETHER_AUTH_KIND_BASIC);

  secret = lookup_secret (other, &error);
  g_assert_no_error (error);
  g_assert_cmpstr (secret, ==, TEST_SECRET);
  g_clear_pointer (&secret, tether_account_secret_free);

  /* Another user or kind is another item. */
  tether_account_set_auth_kind (other, TETHER_AUTH_KIND_BEARER);
  secret = lookup_secret (other, &error);
  g_assert_no_error (error);
  g_assert_null (secret);

  clear_secret (account, &error);
  g_assert_no_error (error);

  secret = lookup_secret (account, &error);
  g_assert_no_error (error);
  g_assert_null (secret);

  /* Clearing nothing is fine. */
  clear_secret (account, &error);
  g_assert_no_error (error);

  /* Nothing under the test's home, data, config or cache directories holds
   * the secret: it only ever went to the keyring. */
  g_assert_false (directory_contains (g_get_home_dir (), TEST_SECRET));
  g_assert_false (directory_contains (g_get_user_data_dir (), TEST_SECRET));
  g_assert_false (directory_contains (g_get_user_config_dir (), TEST_SECRET));
  g_assert_false (directory_contains (g_get_user_cache_dir (), TEST_SECRET));

  g_assert_finalize_object (account);
  g_assert_finalize_object (other);
}

static void
test_account_secret_needs_server (void)
{
  TetherAccount *account = tether_account_new ();
  g_autoptr(GError) error = NULL;
  g_autofree char *secret = NULL;

  /* No server URL: nothing to key the secret on, and no keyring call. */
  store_secret (account, TEST_SECRET, &error);
  g_assert_error (error, TETHER_ACCOUNT_ERROR, TETHER_ACCOUNT_ERROR_INVALID_URL);
  g_assert_null (strstr (error->message, TEST_SECRET));
  g_clear_error (&error);

  secret = lookup_secret (account, &error);
  g_assert_error (error, TETHER_ACCOUNT_ERROR, TETHER_ACCOUNT_ERROR_INVALID_URL);
  g_assert_null (secret);

  g_assert_finalize_object (account);
}

static void
test_account_secret_schema (void)
{
  const SecretSchema *schema = tether_account_get_secret_schema ();

  g_assert_cmpstr (schema->name, ==, "io.github.tetherapp.Tether.Credentials");
  g_assert_cmpstr (schema->attributes[0].name, ==, "server");
  g_assert_cmpstr (schema->attributes[1].name, ==, "username");
  g_assert_cmpstr (schema->attributes[2].name, ==, "kind");
  g_assert_null (schema->attributes[3].name);
}

int
main (int   argc,
      char *argv[])
{
  tether_test_init (&argc, &argv);

  g_test_add_func ("/account/defaults", test_account_defaults);
  g_test_add_func ("/account/setters-notify", test_account_setters_notify);
  g_test_add_func ("/account/settings", test_account_settings);
  g_test_add_func ("/account/validate-url", test_account_validate_url);
  g_test_add_func ("/account/secret/schema", test_account_secret_schema);
  g_test_add_func ("/account/secret/needs-server", test_account_secret_needs_server);
  g_test_add_func ("/account/secret/round-trip", test_account_secret_round_trip);

  return g_test_run ();
}
