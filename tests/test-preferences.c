/* test-preferences.c
 *
 * Copyright 2026 The Tether authors
 *
 * SPDX-License-Identifier: GPL-3.0-or-later
 */

#include "config.h"

#include <string.h>

#include <adwaita.h>
#include <glib/gstdio.h>

#include "tether-account.h"
#include "tether-preferences-window.h"
#include "tether-resources.h"
#include "tether-test-soup-server.h"
#include "tether-test-util.h"

#define SCHEMA_ID "io.github.tetherapp.Tether"

typedef struct
{
  GSettings               *settings;
  TetherAccount           *account;
  TetherPreferencesWindow *window;
} Fixture;

/* The directories of the test runner (its keyring lives there), walked
 * with the test's own when looking for a leaked secret. */
static char **runner_dirs;

static void
iterate_until_idle (void)
{
  while (g_main_context_iteration (NULL, FALSE))
    ;
}

static gpointer
child (Fixture    *fixture,
       const char *name)
{
  GObject *object = gtk_widget_get_template_child (GTK_WIDGET (fixture->window),
                                                   TETHER_TYPE_PREFERENCES_WINDOW,
                                                   name);

  g_assert_nonnull (object);

  return object;
}

/* Whether @root holds a label reading @text. */
static gboolean
has_label (GtkWidget  *root,
           const char *text)
{
  for (GtkWidget *widget = gtk_widget_get_first_child (root);
       widget != NULL;
       widget = gtk_widget_get_next_sibling (widget))
    {
      if (GTK_IS_LABEL (widget) &&
          g_strcmp0 (gtk_label_get_text (GTK_LABEL (widget)), text) == 0 &&
          gtk_widget_get_visible (widget))
        return TRUE;

      if (has_label (widget, text))
        return TRUE;
    }

  return FALSE;
}

static void
reset_settings (GSettings *settings)
{
  g_autoptr(GSettingsSchema) schema = NULL;
  g_auto(GStrv) keys = NULL;

  g_object_get (settings, "settings-schema", &schema, NULL);
  keys = g_settings_schema_list_keys (schema);

  /* The memory backend lives as long as the process: start each test
   * from the schema's defaults. */
  for (guint i = 0; keys[i] != NULL; i++)
    g_settings_reset (settings, keys[i]);
}

static void
fixture_setup (Fixture       *fixture,
               gconstpointer  user_data)
{
  fixture->settings = g_settings_new (SCHEMA_ID);
  reset_settings (fixture->settings);
  fixture->account = tether_account_new_from_settings (fixture->settings);
  fixture->window = TETHER_PREFERENCES_WINDOW (tether_preferences_window_new (NULL,
                                                                              fixture->settings,
                                                                              fixture->account));
  /* GTK owns a toplevel; this reference is for the finalize check. */
  g_object_ref (fixture->window);
  gtk_window_present (GTK_WINDOW (fixture->window));
  iterate_until_idle ();
}

static void
set_flag (gpointer data)
{
  gboolean *flag = data;

  *flag = TRUE;
}

static gboolean
flag_is_set (gpointer user_data)
{
  gboolean *flag = user_data;

  return *flag;
}

static void
fixture_teardown (Fixture       *fixture,
                  gconstpointer  user_data)
{
  gboolean finalized[3] = { FALSE, FALSE, FALSE };
  GObject *objects[3] = {
    G_OBJECT (g_steal_pointer (&fixture->window)),
    G_OBJECT (g_steal_pointer (&fixture->account)),
    G_OBJECT (g_steal_pointer (&fixture->settings)),
  };

  /* Closing cancels what the window started, and the calls' callbacks
   * then drop what they hold: everything goes, soon. Object data is freed
   * at finalization (weak pointers are cleared before, at disposal, and
   * destroying a window disposes it). */
  for (guint i = 0; i < G_N_ELEMENTS (objects); i++)
    g_object_set_data_full (objects[i], "test-finalized", &finalized[i], set_flag);

  gtk_window_destroy (GTK_WINDOW (objects[0]));
  for (guint i = 0; i < G_N_ELEMENTS (objects); i++)
    g_object_unref (objects[i]);

  for (guint i = 0; i < G_N_ELEMENTS (objects); i++)
    tether_test_wait_until (flag_is_set, &finalized[i]);
}

/* Helpers */

static void
apply_text (Fixture    *fixture,
            const char *row_name,
            const char *text)
{
  AdwEntryRow *row = child (fixture, row_name);

  gtk_editable_set_text (GTK_EDITABLE (row), text);
  g_signal_emit_by_name (row, "apply");
  iterate_until_idle ();
}

static gboolean
error_shown (Fixture    *fixture,
             const char *row_name)
{
  g_autofree char *base = g_strndup (row_name, strlen (row_name) - strlen ("_row"));
  g_autofree char *error_name = g_strconcat (base, "_error_row", NULL);
  GtkWidget *row = child (fixture, row_name);
  GtkWidget *error_row = child (fixture, error_name);
  gboolean shown = gtk_widget_has_css_class (row, "error");

  g_assert_cmpint (shown, ==, gtk_widget_get_visible (error_row));
  if (shown)
    {
      const char *message = adw_preferences_row_get_title (ADW_PREFERENCES_ROW (error_row));

      g_assert_nonnull (message);
      g_assert_cmpuint (strlen (message), >, 10);
    }

  return shown;
}

static void
assert_key_string (Fixture    *fixture,
                   const char *key,
                   const char *expected)
{
  g_autofree char *value = g_settings_get_string (fixture->settings, key);

  g_assert_cmpstr (value, ==, expected);
}

static gboolean
test_done (gpointer user_data)
{
  Fixture *fixture = user_data;

  return gtk_widget_get_sensitive (child (fixture, "test_button")) &&
         !gtk_widget_get_visible (child (fixture, "test_spinner"));
}

static const char *
run_test_connection (Fixture *fixture)
{
  GtkWidget *button = child (fixture, "test_button");
  AdwActionRow *row = child (fixture, "test_row");

  g_signal_emit_by_name (button, "clicked");
  g_assert_false (gtk_widget_get_sensitive (button));
  g_assert_true (gtk_widget_get_visible (child (fixture, "test_spinner")));
  g_assert_true (gtk_spinner_get_spinning (child (fixture, "test_spinner")));
  g_assert_cmpstr (adw_action_row_get_subtitle (row), ==, "Connecting…");

  tether_test_wait_until (test_done, fixture);

  return adw_action_row_get_subtitle (row);
}

typedef struct
{
  Fixture    *fixture;
  const char *prefix;
} KeyringWait;

static gboolean
keyring_status_is (gpointer user_data)
{
  KeyringWait *wait = user_data;
  const char *subtitle = adw_action_row_get_subtitle (child (wait->fixture, "keyring_row"));

  return subtitle != NULL && g_str_has_prefix (subtitle, wait->prefix);
}

static void
wait_for_keyring_status (Fixture    *fixture,
                         const char *prefix)
{
  KeyringWait wait = { fixture, prefix };

  tether_test_wait_until (keyring_status_is, &wait);
}

static char *
lookup_secret (const char *server,
               const char *username,
               const char *kind)
{
  g_autoptr(GError) error = NULL;
  char *secret;

  secret = secret_password_lookup_sync (tether_account_get_secret_schema (), NULL, &error,
                                        "server", server,
                                        "username", username,
                                        "kind", kind,
                                        NULL);
  g_assert_no_error (error);

  return secret;
}

static gboolean
contains_bytes (const char *haystack,
                gsize       length,
                const char *needle)
{
  gsize needle_length = strlen (needle);

  for (gsize i = 0; i + needle_length <= length; i++)
    {
      if (memcmp (haystack + i, needle, needle_length) == 0)
        return TRUE;
    }

  return FALSE;
}

/* Whether any regular file under @path holds @needle. */
static gboolean
tree_contains (const char *path,
               const char *needle)
{
  g_autoptr(GDir) dir = NULL;
  const char *name;

  if (!(dir = g_dir_open (path, 0, NULL)))
    return FALSE;

  while ((name = g_dir_read_name (dir)) != NULL)
    {
      g_autofree char *child_path = g_build_filename (path, name, NULL);
      GStatBuf st;

      if (g_lstat (child_path, &st) != 0)
        continue;

      if (S_ISDIR (st.st_mode))
        {
          if (tree_contains (child_path, needle))
            return TRUE;
        }
      else if (S_ISREG (st.st_mode))
        {
          g_autofree char *contents = NULL;
          gsize length;

          if (g_file_get_contents (child_path, &contents, &length, NULL) &&
              contains_bytes (contents, length, needle))
            {
              g_test_message ("%s holds the secret", child_path);
              return TRUE;
            }
        }
    }

  return FALSE;
}

static void
assert_secret_nowhere_but_keyring (Fixture    *fixture,
                                   const char *secret)
{
  g_autoptr(GSettingsSchema) schema = NULL;
  g_auto(GStrv) keys = NULL;
  const char *dirs[] = {
    g_get_home_dir (),
    g_get_user_data_dir (),
    g_get_user_config_dir (),
    g_get_user_cache_dir (),
    g_get_user_state_dir (),
  };

  for (guint i = 0; i < G_N_ELEMENTS (dirs); i++)
    g_assert_false (tree_contains (dirs[i], secret));
  for (guint i = 0; runner_dirs[i] != NULL; i++)
    g_assert_false (tree_contains (runner_dirs[i], secret));

  g_object_get (fixture->settings, "settings-schema", &schema, NULL);
  keys = g_settings_schema_list_keys (schema);
  for (guint i = 0; keys[i] != NULL; i++)
    {
      g_autoptr(GVariant) value = g_settings_get_value (fixture->settings, keys[i]);
      g_autofree char *text = g_variant_print (value, FALSE);

      g_assert_null (strstr (text, secret));
    }
}

/* A loopback port that nothing listens on. */
static char *
dup_closed_port_url (void)
{
  g_autoptr(GError) error = NULL;
  g_autoptr(GSocket) socket = NULL;
  g_autoptr(GInetAddress) loopback = g_inet_address_new_loopback (G_SOCKET_FAMILY_IPV4);
  g_autoptr(GSocketAddress) address = g_inet_socket_address_new (loopback, 0);
  g_autoptr(GSocketAddress) bound = NULL;
  guint16 port;

  socket = g_socket_new (G_SOCKET_FAMILY_IPV4, G_SOCKET_TYPE_STREAM, G_SOCKET_PROTOCOL_TCP, &error);
  g_assert_no_error (error);
  g_socket_bind (socket, address, FALSE, &error);
  g_assert_no_error (error);
  bound = g_socket_get_local_address (socket, &error);
  g_assert_no_error (error);
  port = g_inet_socket_address_get_port (G_INET_SOCKET_ADDRESS (bound));
  g_socket_close (socket, NULL);

  return g_strdup_printf ("http://127.0.0.1:%u", port);
}

/* Tests */

static void
test_structure (Fixture       *fixture,
                gconstpointer  user_data)
{
  AdwPreferencesWindow *window = ADW_PREFERENCES_WINDOW (fixture->window);

  g_assert_cmpstr (gtk_window_get_title (GTK_WINDOW (window)), ==, "Preferences");
  g_assert_true (gtk_window_get_modal (GTK_WINDOW (window)));
  g_assert_cmpstr (adw_preferences_window_get_visible_page_name (window), ==, "server");
  g_assert_true (tether_preferences_window_get_settings (fixture->window) == fixture->settings);
  g_assert_true (tether_preferences_window_get_account (fixture->window) == fixture->account);

  /* The rows show the keys' values. */
  g_assert_cmpstr (gtk_editable_get_text (child (fixture, "url_row")), ==, "");
  g_assert_cmpstr (gtk_editable_get_text (child (fixture, "collection_row")), ==, "records");
  g_assert_cmpstr (gtk_editable_get_text (child (fixture, "id_field_row")), ==, "id");
  g_assert_cmpstr (gtk_editable_get_text (child (fixture, "client_id_field_row")), ==, "clientId");
  g_assert_cmpstr (gtk_editable_get_text (child (fixture, "title_field_row")), ==, "");
  g_assert_true (has_label (child (fixture, "title_field_row"), "Automatic"));
  g_assert_false (has_label (child (fixture, "client_id_field_row"), "Off"));
  g_assert_cmpuint (adw_combo_row_get_selected (child (fixture, "auth_kind_row")), ==, 0);
  g_assert_cmpuint (adw_combo_row_get_selected (child (fixture, "conflict_policy_row")), ==, 0);
  g_assert_cmpuint (adw_combo_row_get_selected (child (fixture, "update_method_row")), ==, 0);
  g_assert_true (gtk_switch_get_active (child (fixture, "auto_sync_switch")));
  g_assert_cmpfloat (gtk_spin_button_get_value (child (fixture, "auto_sync_interval_spin")), ==, 0);
  g_assert_cmpfloat (gtk_spin_button_get_value (child (fixture, "page_size_spin")), ==, 100);
  g_assert_cmpfloat (gtk_spin_button_get_value (child (fixture, "push_concurrency_spin")), ==, 4);

  /* Signing in is off: nothing asks for a username or a secret. */
  g_assert_false (gtk_widget_get_visible (child (fixture, "username_row")));
  g_assert_false (gtk_widget_get_visible (child (fixture, "secret_row")));
  g_assert_false (gtk_widget_get_visible (child (fixture, "keyring_row")));

  /* Each text row applies what was typed; none writes as one types. */
  g_assert_true (adw_entry_row_get_show_apply_button (child (fixture, "url_row")));
  g_assert_true (adw_entry_row_get_show_apply_button (child (fixture, "secret_row")));
  g_assert_true (ADW_IS_PASSWORD_ENTRY_ROW (child (fixture, "secret_row")));
  gtk_editable_set_text (child (fixture, "collection_row"), "typed");
  iterate_until_idle ();
  assert_key_string (fixture, "collection", "records");
}

static void
test_url_invalid (Fixture       *fixture,
                  gconstpointer  user_data)
{
  const char *invalid[] = {
    "ftp://x",
    "not a url",
    "http://",
    "https://user:secret@example.org",
    "https://example.org/api?x=1",
  };

  g_settings_set_string (fixture->settings, "server-url", "https://old.example.org");
  iterate_until_idle ();
  g_assert_cmpstr (gtk_editable_get_text (child (fixture, "url_row")), ==, "https://old.example.org");
  g_assert_false (error_shown (fixture, "url_row"));

  for (guint i = 0; i < G_N_ELEMENTS (invalid); i++)
    {
      const char *message;

      apply_text (fixture, "url_row", invalid[i]);

      assert_key_string (fixture, "server-url", "https://old.example.org");
      g_assert_true (error_shown (fixture, "url_row"));
      /* The typed text stays, to be corrected. */
      g_assert_cmpstr (gtk_editable_get_text (child (fixture, "url_row")), ==, invalid[i]);
      /* The message never repeats the URL: it could hold a password. */
      message = adw_preferences_row_get_title (child (fixture, "url_error_row"));
      g_assert_null (strstr (message, "secret"));
    }

  /* Pressing Enter again does not save it either. */
  g_signal_emit_by_name (child (fixture, "url_row"), "entry-activated");
  assert_key_string (fixture, "server-url", "https://old.example.org");
  g_assert_true (error_shown (fixture, "url_row"));

  /* Typing clears the message: it was about the text that is gone. */
  gtk_editable_set_text (child (fixture, "url_row"), "https://new.example.org");
  g_assert_false (error_shown (fixture, "url_row"));
  assert_key_string (fixture, "server-url", "https://old.example.org");
}

static void
test_url_normalized (Fixture       *fixture,
                     gconstpointer  user_data)
{
  apply_text (fixture, "url_row", "HTTPS://Example.ORG/api/");
  assert_key_string (fixture, "server-url", "https://example.org/api");
  g_assert_cmpstr (gtk_editable_get_text (child (fixture, "url_row")), ==, "https://example.org/api");
  g_assert_false (error_shown (fixture, "url_row"));
  g_assert_cmpstr (tether_account_get_server_url (fixture->account), ==, "https://example.org/api");

  apply_text (fixture, "url_row", "http://127.0.0.1:3000/");
  assert_key_string (fixture, "server-url", "http://127.0.0.1:3000");

  /* No server at all means offline only: that is allowed. */
  apply_text (fixture, "url_row", "");
  assert_key_string (fixture, "server-url", "");
  g_assert_false (error_shown (fixture, "url_row"));
}

static void
test_collection (Fixture       *fixture,
                 gconstpointer  user_data)
{
  const char *invalid[] = { "", "/records", "records/", "/", "a?b", "a#b", "my records" };

  for (guint i = 0; i < G_N_ELEMENTS (invalid); i++)
    {
      apply_text (fixture, "collection_row", invalid[i]);
      assert_key_string (fixture, "collection", "records");
      g_assert_true (error_shown (fixture, "collection_row"));
    }

  apply_text (fixture, "collection_row", "api/notes");
  assert_key_string (fixture, "collection", "api/notes");
  g_assert_false (error_shown (fixture, "collection_row"));
  g_assert_cmpstr (tether_account_get_collection (fixture->account), ==, "api/notes");
}

static void
test_other_text_keys (Fixture       *fixture,
                      gconstpointer  user_data)
{
  /* Empty is automatic. */
  apply_text (fixture, "title_field_row", "name");
  assert_key_string (fixture, "title-field", "name");
  g_assert_false (has_label (child (fixture, "title_field_row"), "Automatic"));
  apply_text (fixture, "title_field_row", "");
  assert_key_string (fixture, "title-field", "");
  g_assert_true (has_label (child (fixture, "title_field_row"), "Automatic"));

  apply_text (fixture, "username_row", "al:ice");
  assert_key_string (fixture, "username", "");
  g_assert_true (error_shown (fixture, "username_row"));
  apply_text (fixture, "username_row", "alice");
  assert_key_string (fixture, "username", "alice");
  g_assert_false (error_shown (fixture, "username_row"));

  apply_text (fixture, "id_field_row", "");
  g_assert_true (error_shown (fixture, "id_field_row"));
  apply_text (fixture, "id_field_row", "clientId");
  g_assert_true (error_shown (fixture, "id_field_row"));
  assert_key_string (fixture, "id-field", "id");
  apply_text (fixture, "id_field_row", "_id");
  assert_key_string (fixture, "id-field", "_id");

  apply_text (fixture, "client_id_field_row", "_id");
  g_assert_true (error_shown (fixture, "client_id_field_row"));
  assert_key_string (fixture, "client-id-field", "clientId");
  /* Empty turns the client id off. */
  apply_text (fixture, "client_id_field_row", "");
  assert_key_string (fixture, "client-id-field", "");
  g_assert_false (error_shown (fixture, "client_id_field_row"));
  g_assert_true (has_label (child (fixture, "client_id_field_row"), "Off"));
}

static void
test_rows_follow_settings (Fixture       *fixture,
                           gconstpointer  user_data)
{
  apply_text (fixture, "collection_row", "/bad");
  g_assert_true (error_shown (fixture, "collection_row"));

  /* A change made elsewhere replaces the text and its message. */
  g_settings_set_string (fixture->settings, "collection", "notes");
  iterate_until_idle ();
  g_assert_cmpstr (gtk_editable_get_text (child (fixture, "collection_row")), ==, "notes");
  g_assert_false (error_shown (fixture, "collection_row"));

  g_settings_set_string (fixture->settings, "server-url", "https://example.org");
  g_settings_set_string (fixture->settings, "title-field", "label");
  iterate_until_idle ();
  g_assert_cmpstr (gtk_editable_get_text (child (fixture, "url_row")), ==, "https://example.org");
  g_assert_cmpstr (gtk_editable_get_text (child (fixture, "title_field_row")), ==, "label");
}

typedef struct
{
  const char *row;
  const char *key;
  const char *choices[4];
} ComboCase;

static void
test_combo_rows (Fixture       *fixture,
                 gconstpointer  user_data)
{
  static const ComboCase cases[] = {
    { "auth_kind_row", "auth-kind", { "none", "basic", "bearer", NULL } },
    { "conflict_policy_row", "conflict-policy", { "ask", "local-wins", "server-wins", NULL } },
    { "update_method_row", "update-method", { "patch", "put", NULL } },
  };

  for (guint c = 0; c < G_N_ELEMENTS (cases); c++)
    {
      AdwComboRow *row = child (fixture, cases[c].row);
      guint n = g_strv_length ((char **) cases[c].choices);

      g_assert_cmpuint (g_list_model_get_n_items (adw_combo_row_get_model (row)), ==, n);

      /* The key changes: the row follows. */
      for (guint i = n; i-- > 0;)
        {
          g_settings_set_string (fixture->settings, cases[c].key, cases[c].choices[i]);
          iterate_until_idle ();
          g_assert_cmpuint (adw_combo_row_get_selected (row), ==, i);
        }

      /* The user chooses: the key changes. */
      for (guint i = 0; i < n; i++)
        {
          adw_combo_row_set_selected (row, i);
          iterate_until_idle ();
          assert_key_string (fixture, cases[c].key, cases[c].choices[i]);
        }
    }

  /* The account reads the same keys. */
  g_assert_cmpint (tether_account_get_auth_kind (fixture->account), ==, TETHER_AUTH_KIND_BEARER);
  g_assert_cmpint (tether_account_get_conflict_policy (fixture->account), ==, TETHER_CONFLICT_POLICY_SERVER_WINS);
  g_assert_cmpint (tether_account_get_update_method (fixture->account), ==, TETHER_UPDATE_METHOD_PUT);
}

static void
test_auth_rows (Fixture       *fixture,
                gconstpointer  user_data)
{
  AdwComboRow *kind_row = child (fixture, "auth_kind_row");

  adw_combo_row_set_selected (kind_row, 1);
  iterate_until_idle ();
  g_assert_true (gtk_widget_get_visible (child (fixture, "username_row")));
  g_assert_true (gtk_widget_get_visible (child (fixture, "secret_row")));
  g_assert_true (gtk_widget_get_visible (child (fixture, "keyring_row")));
  g_assert_cmpstr (adw_preferences_row_get_title (child (fixture, "secret_row")), ==, "Password");
  /* No server yet: the keyring row says what to do first. */
  wait_for_keyring_status (fixture, "Set the server URL first");

  adw_combo_row_set_selected (kind_row, 2);
  iterate_until_idle ();
  g_assert_false (gtk_widget_get_visible (child (fixture, "username_row")));
  g_assert_true (gtk_widget_get_visible (child (fixture, "secret_row")));
  g_assert_cmpstr (adw_preferences_row_get_title (child (fixture, "secret_row")), ==, "Token");

  adw_combo_row_set_selected (kind_row, 0);
  iterate_until_idle ();
  g_assert_false (gtk_widget_get_visible (child (fixture, "username_row")));
  g_assert_false (gtk_widget_get_visible (child (fixture, "secret_row")));
  g_assert_false (gtk_widget_get_visible (child (fixture, "keyring_row")));
}

static void
test_switch_and_spins (Fixture       *fixture,
                       gconstpointer  user_data)
{
  static const struct {
    const char *spin;
    const char *key;
    guint       value;
  } spins[] = {
    { "auto_sync_interval_spin", "auto-sync-interval", 30 },
    { "page_size_spin", "page-size", 250 },
    { "push_concurrency_spin", "push-concurrency", 8 },
  };
  GtkSwitch *sw = child (fixture, "auto_sync_switch");

  gtk_switch_set_active (sw, FALSE);
  g_assert_false (g_settings_get_boolean (fixture->settings, "auto-sync"));
  g_settings_set_boolean (fixture->settings, "auto-sync", TRUE);
  iterate_until_idle ();
  g_assert_true (gtk_switch_get_active (sw));

  for (guint i = 0; i < G_N_ELEMENTS (spins); i++)
    {
      GtkSpinButton *spin = child (fixture, spins[i].spin);

      gtk_spin_button_set_value (spin, spins[i].value);
      g_assert_cmpuint (g_settings_get_uint (fixture->settings, spins[i].key), ==, spins[i].value);

      g_settings_set_uint (fixture->settings, spins[i].key, spins[i].value + 1);
      iterate_until_idle ();
      g_assert_cmpfloat (gtk_spin_button_get_value (spin), ==, spins[i].value + 1);
    }

  /* The spin buttons stop at the keys' ranges. */
  gtk_spin_button_set_value (child (fixture, "push_concurrency_spin"), 100);
  g_assert_cmpuint (g_settings_get_uint (fixture->settings, "push-concurrency"), ==, 16);
  gtk_spin_button_set_value (child (fixture, "page_size_spin"), 0);
  g_assert_cmpuint (g_settings_get_uint (fixture->settings, "page-size"), ==, 1);
  gtk_spin_button_set_value (child (fixture, "auto_sync_interval_spin"), 5000);
  g_assert_cmpuint (g_settings_get_uint (fixture->settings, "auto-sync-interval"), ==, 1440);
}

static void
test_secret_store_and_forget (Fixture       *fixture,
                              gconstpointer  user_data)
{
  g_autofree char *uuid = g_uuid_string_random ();
  g_autofree char *password = g_strdup_printf ("pw-%s", uuid);
  g_autofree char *stored = NULL;
  g_autofree char *after = NULL;
  AdwEntryRow *secret_row = child (fixture, "secret_row");

  apply_text (fixture, "url_row", "https://keyring.example.org/");
  adw_combo_row_set_selected (child (fixture, "auth_kind_row"), 1);
  apply_text (fixture, "username_row", "alice");
  wait_for_keyring_status (fixture, "No password saved yet");
  g_assert_false (gtk_widget_get_sensitive (child (fixture, "forget_button")));

  gtk_editable_set_text (GTK_EDITABLE (secret_row), password);
  g_signal_emit_by_name (secret_row, "apply");
  wait_for_keyring_status (fixture, "Saved in the keyring");

  /* The entry no longer holds it, and it is in the keyring under the
   * normalized server URL. */
  g_assert_cmpstr (gtk_editable_get_text (GTK_EDITABLE (secret_row)), ==, "");
  g_assert_true (gtk_widget_get_sensitive (GTK_WIDGET (secret_row)));
  g_assert_true (gtk_widget_get_sensitive (child (fixture, "forget_button")));
  g_assert_false (gtk_widget_has_css_class (child (fixture, "keyring_row"), "error"));
  stored = lookup_secret ("https://keyring.example.org", "alice", "basic");
  g_assert_cmpstr (stored, ==, password);

  /* Nowhere else: no file of the test's or the runner's, no setting. */
  assert_secret_nowhere_but_keyring (fixture, password);

  /* The status is per server, username and kind. */
  apply_text (fixture, "username_row", "bob");
  wait_for_keyring_status (fixture, "No password saved yet");
  apply_text (fixture, "username_row", "alice");
  wait_for_keyring_status (fixture, "Saved in the keyring");

  g_signal_emit_by_name (child (fixture, "forget_button"), "clicked");
  wait_for_keyring_status (fixture, "No password saved yet");
  after = lookup_secret ("https://keyring.example.org", "alice", "basic");
  g_assert_null (after);
  g_assert_false (gtk_widget_get_sensitive (child (fixture, "forget_button")));
}

static void
test_secret_token (Fixture       *fixture,
                   gconstpointer  user_data)
{
  g_autofree char *uuid = g_uuid_string_random ();
  g_autofree char *token = g_strdup_printf ("tok-%s", uuid);
  g_autofree char *stored = NULL;
  AdwEntryRow *secret_row = child (fixture, "secret_row");

  apply_text (fixture, "url_row", "https://token.example.org");
  adw_combo_row_set_selected (child (fixture, "auth_kind_row"), 2);
  wait_for_keyring_status (fixture, "No token saved yet");

  gtk_editable_set_text (GTK_EDITABLE (secret_row), token);
  g_signal_emit_by_name (secret_row, "entry-activated");
  wait_for_keyring_status (fixture, "Saved in the keyring");
  g_assert_cmpstr (gtk_editable_get_text (GTK_EDITABLE (secret_row)), ==, "");

  stored = lookup_secret ("https://token.example.org", "", "bearer");
  g_assert_cmpstr (stored, ==, token);
  assert_secret_nowhere_but_keyring (fixture, token);

  g_signal_emit_by_name (child (fixture, "forget_button"), "clicked");
  wait_for_keyring_status (fixture, "No token saved yet");
}

static void
test_secret_without_server (Fixture       *fixture,
                            gconstpointer  user_data)
{
  AdwEntryRow *secret_row = child (fixture, "secret_row");

  adw_combo_row_set_selected (child (fixture, "auth_kind_row"), 1);
  wait_for_keyring_status (fixture, "Set the server URL first");

  gtk_editable_set_text (GTK_EDITABLE (secret_row), "not-kept");
  g_signal_emit_by_name (secret_row, "apply");
  iterate_until_idle ();

  /* Refused, and said so; the text stays to be saved once a server is
   * set. */
  wait_for_keyring_status (fixture, "Set the server URL first");
  g_assert_true (gtk_widget_has_css_class (child (fixture, "keyring_row"), "error"));
  g_assert_cmpstr (gtk_editable_get_text (GTK_EDITABLE (secret_row)), ==, "not-kept");
  gtk_editable_set_text (GTK_EDITABLE (secret_row), "");
}

static void
test_connection_success (Fixture       *fixture,
                         gconstpointer  user_data)
{
  g_autoptr(TetherTestSoupServer) server = tether_test_soup_server_new ();
  g_autoptr(TetherTestRequest) request = NULL;
  const char *result;

  tether_test_soup_server_add_generated_records (server, 3);

  /* Typed, not yet applied: the test tries what is on screen. */
  gtk_editable_set_text (child (fixture, "url_row"), tether_test_soup_server_get_url (server));
  result = run_test_connection (fixture);

  g_assert_true (g_str_has_prefix (result, "Connected to http://127.0.0.1:"));
  g_assert_nonnull (strstr (result, "3 records"));
  g_assert_true (gtk_widget_get_visible (child (fixture, "test_icon")));
  g_assert_true (gtk_widget_has_css_class (child (fixture, "test_icon"), "success"));
  assert_key_string (fixture, "server-url", "");

  request = tether_test_soup_server_dup_last_request (server);
  g_assert_cmpstr (request->method, ==, "GET");
  g_assert_cmpstr (request->path, ==, "/records");
  g_assert_null (request->authorization);
}

static void
test_connection_credentials (Fixture       *fixture,
                             gconstpointer  user_data)
{
  g_autoptr(TetherTestSoupServer) server = tether_test_soup_server_new ();
  g_autofree char *uuid = g_uuid_string_random ();
  g_autofree char *password = g_strdup_printf ("pw-%s", uuid);
  g_autofree char *userpass = g_strdup_printf ("alice:%s", password);
  g_autofree char *encoded = g_base64_encode ((const guchar *) userpass, strlen (userpass));
  g_autofree char *authorization = g_strdup_printf ("Basic %s", encoded);
  AdwEntryRow *secret_row = child (fixture, "secret_row");
  const char *result;

  tether_test_soup_server_set_required_authorization (server, authorization);
  apply_text (fixture, "url_row", tether_test_soup_server_get_url (server));
  adw_combo_row_set_selected (child (fixture, "auth_kind_row"), 1);
  apply_text (fixture, "username_row", "alice");
  wait_for_keyring_status (fixture, "No password saved yet");

  /* Nothing typed, nothing stored: nothing is sent. */
  result = run_test_connection (fixture);
  g_assert_cmpstr (result, ==, "Type the password first.");
  g_assert_true (gtk_widget_has_css_class (child (fixture, "test_icon"), "error"));
  g_assert_cmpuint (tether_test_soup_server_get_n_requests (server), ==, 0);

  /* A wrong password: the server refuses, and the row says so. */
  gtk_editable_set_text (GTK_EDITABLE (secret_row), "wrong");
  result = run_test_connection (fixture);
  g_assert_false (g_str_has_prefix (result, "Connected"));
  g_assert_true (gtk_widget_has_css_class (child (fixture, "test_icon"), "error"));
  g_assert_cmpuint (tether_test_soup_server_get_n_requests (server), ==, 1);

  /* The typed password is used before it is saved. */
  gtk_editable_set_text (GTK_EDITABLE (secret_row), password);
  result = run_test_connection (fixture);
  g_assert_true (g_str_has_prefix (result, "Connected to"));
  g_assert_cmpstr (gtk_editable_get_text (GTK_EDITABLE (secret_row)), ==, password);

  /* Once saved, the one in the keyring is. */
  g_signal_emit_by_name (secret_row, "apply");
  wait_for_keyring_status (fixture, "Saved in the keyring");
  result = run_test_connection (fixture);
  g_assert_true (g_str_has_prefix (result, "Connected to"));
  g_assert_null (strstr (result, password));

  assert_secret_nowhere_but_keyring (fixture, password);

  g_signal_emit_by_name (child (fixture, "forget_button"), "clicked");
  wait_for_keyring_status (fixture, "No password saved yet");
}

static void
test_connection_offline (Fixture       *fixture,
                         gconstpointer  user_data)
{
  g_autofree char *url = dup_closed_port_url ();
  const char *result;

  apply_text (fixture, "url_row", url);
  result = run_test_connection (fixture);

  g_assert_nonnull (strstr (result, "could not be reached"));
  g_assert_true (gtk_widget_has_css_class (child (fixture, "test_icon"), "error"));
}

static void
test_connection_invalid (Fixture       *fixture,
                         gconstpointer  user_data)
{
  AdwActionRow *row = child (fixture, "test_row");

  /* Nothing is sent; the message says why, at the test and at the row. */
  g_signal_emit_by_name (child (fixture, "test_button"), "clicked");
  g_assert_cmpstr (adw_action_row_get_subtitle (row), ==, "Enter the server URL first.");
  g_assert_true (gtk_widget_get_sensitive (child (fixture, "test_button")));

  gtk_editable_set_text (child (fixture, "url_row"), "ftp://x");
  g_signal_emit_by_name (child (fixture, "test_button"), "clicked");
  g_assert_true (error_shown (fixture, "url_row"));
  g_assert_cmpstr (adw_action_row_get_subtitle (row), ==,
                   adw_preferences_row_get_title (child (fixture, "url_error_row")));
}

static void
test_connection_cancelled_on_close (Fixture       *fixture,
                                    gconstpointer  user_data)
{
  g_autoptr(TetherTestSoupServer) server = tether_test_soup_server_new ();
  TetherTestFault fault = { .kind = TETHER_TEST_FAULT_DELAY, .delay_ms = 10000 };
  gint64 start;

  tether_test_soup_server_push_fault (server, &fault);
  apply_text (fixture, "url_row", tether_test_soup_server_get_url (server));
  g_signal_emit_by_name (child (fixture, "test_button"), "clicked");
  g_assert_true (gtk_widget_get_visible (child (fixture, "test_spinner")));

  /* The teardown closes the window; it must go without waiting for the
   * slow server. */
  start = g_get_monotonic_time ();
  fixture_teardown (fixture, user_data);
  g_assert_cmpint (g_get_monotonic_time () - start, <, 5 * G_TIME_SPAN_SECOND);
}

static void
test_show_credentials (Fixture       *fixture,
                       gconstpointer  user_data)
{
  AdwPreferencesWindow *window = ADW_PREFERENCES_WINDOW (fixture->window);
  GtkWidget *focus;

  adw_preferences_window_set_visible_page_name (window, "sync");

  /* Signing in is off: the choice of how to sign in gets the focus. */
  tether_preferences_window_show_credentials (fixture->window);
  iterate_until_idle ();
  g_assert_cmpstr (adw_preferences_window_get_visible_page_name (window), ==, "server");
  focus = gtk_root_get_focus (GTK_ROOT (window));
  g_assert_nonnull (focus);
  g_assert_true (focus == child (fixture, "auth_kind_row") ||
                 gtk_widget_is_ancestor (focus, child (fixture, "auth_kind_row")));

  /* Password: the username first when there is none, else the password. */
  adw_combo_row_set_selected (child (fixture, "auth_kind_row"), 1);
  tether_preferences_window_show_credentials (fixture->window);
  iterate_until_idle ();
  focus = gtk_root_get_focus (GTK_ROOT (window));
  g_assert_true (gtk_widget_is_ancestor (focus, child (fixture, "username_row")));

  apply_text (fixture, "username_row", "alice");
  adw_preferences_window_set_visible_page_name (window, "sync");
  tether_preferences_window_show_credentials (fixture->window);
  iterate_until_idle ();
  g_assert_cmpstr (adw_preferences_window_get_visible_page_name (window), ==, "server");
  focus = gtk_root_get_focus (GTK_ROOT (window));
  g_assert_true (gtk_widget_is_ancestor (focus, child (fixture, "secret_row")));
}

static void
test_finalize (void)
{
  GSettings *settings = g_settings_new (SCHEMA_ID);
  TetherAccount *account = tether_account_new_from_settings (settings);
  GtkWindow *window = tether_preferences_window_new (NULL, settings, account);

  g_object_ref (window);
  gtk_window_destroy (window);
  g_assert_finalize_object (window);
  g_assert_finalize_object (account);
  g_assert_finalize_object (settings);
}

static char **
dup_runner_dirs (void)
{
  static const char * const variables[] = {
    "HOME", "XDG_DATA_HOME", "XDG_CONFIG_HOME", "XDG_CACHE_HOME",
    "XDG_STATE_HOME", "XDG_RUNTIME_DIR",
  };
  g_autoptr(GStrvBuilder) builder = g_strv_builder_new ();
  const char *tmp = g_get_tmp_dir ();

  /* Only throwaway directories, as build-aux/run-tests makes: a real
   * home is not ours to read through. */
  for (guint i = 0; i < G_N_ELEMENTS (variables); i++)
    {
      const char *dir = g_getenv (variables[i]);

      if (dir != NULL && g_str_has_prefix (dir, tmp) && strlen (dir) > strlen (tmp) + 1)
        g_strv_builder_add (builder, dir);
    }

  return g_strv_builder_end (builder);
}

int
main (int   argc,
      char *argv[])
{
  runner_dirs = dup_runner_dirs ();

  /* Not G_TEST_OPTION_ISOLATE_DIRS: it empties XDG_DATA_DIRS, and GTK
   * needs the system's icon themes. This gives a private HOME and XDG
   * directories by hand. */
  tether_test_init (&argc, &argv);

  gtk_init ();
  adw_init ();
  /* The application registers the UI resources; here there is none. */
  tether_register_resource ();

#define ADD(path, func) \
  g_test_add (path, Fixture, NULL, fixture_setup, func, fixture_teardown)

  ADD ("/preferences/structure", test_structure);
  ADD ("/preferences/url/invalid", test_url_invalid);
  ADD ("/preferences/url/normalized", test_url_normalized);
  ADD ("/preferences/collection", test_collection);
  ADD ("/preferences/other-text-keys", test_other_text_keys);
  ADD ("/preferences/rows-follow-settings", test_rows_follow_settings);
  ADD ("/preferences/combo-rows", test_combo_rows);
  ADD ("/preferences/auth-rows", test_auth_rows);
  ADD ("/preferences/switch-and-spins", test_switch_and_spins);
  ADD ("/preferences/secret/store-and-forget", test_secret_store_and_forget);
  ADD ("/preferences/secret/token", test_secret_token);
  ADD ("/preferences/secret/without-server", test_secret_without_server);
  ADD ("/preferences/test-connection/success", test_connection_success);
  ADD ("/preferences/test-connection/credentials", test_connection_credentials);
  ADD ("/preferences/test-connection/offline", test_connection_offline);
  ADD ("/preferences/test-connection/invalid", test_connection_invalid);
  ADD ("/preferences/show-credentials", test_show_credentials);
  g_test_add ("/preferences/test-connection/cancelled-on-close", Fixture, NULL,
              fixture_setup, test_connection_cancelled_on_close, NULL);
  g_test_add_func ("/preferences/finalize", test_finalize);

#undef ADD

  return g_test_run ();
}
