/* tether-preferences-window.c
 *
 * Copyright 2026 The Tether authors
 *
 * SPDX-License-Identifier: GPL-3.0-or-later
 */

#include "config.h"

#include <string.h>

#include <glib/gi18n.h>

#include "tether-preferences-window.h"
#include "tether-remote.h"

/* The preferences: the server and its collection, how Tether signs in,
 * and how it syncs.
 *
 * Switches and spin buttons follow their keys through g_settings_bind(),
 * combo rows through a mapping between a key's choices and the row's
 * positions. Text goes to its key only when the user applies it, after a
 * check: a URL or a collection path that Tether cannot use is refused with
 * a message under its row, and the key keeps its value.
 *
 * The password or token is never kept here nor in a setting: applying it
 * hands it to the keyring and empties the entry. The keyring row says
 * whether one is saved for the current server, username and kind, which
 * it asks the Secret Service without reading the secret itself. */

/* Seconds Test Connection waits for a silent server: less than a sync
 * does, as someone is looking at the spinner. */
#define TEST_CONNECTION_TIMEOUT 15

typedef gboolean (*ValidateFunc) (TetherPreferencesWindow  *self,
                                  const char               *text,
                                  char                    **value,
                                  GError                  **error);

struct _TetherPreferencesWindow
{
  AdwPreferencesWindow  parent_instance;

  GSettings            *settings;
  TetherAccount        *account;

  /* Cancelled when the window goes: the connection test and the keyring
   * status check. */
  GCancellable         *cancellable;
  /* The keyring status check in flight; a newer one replaces it. */
  GCancellable         *keyring_cancellable;
  /* The remote of the connection test in flight, if any. */
  TetherRemote         *test_remote;
  /* Bumped by each keyring status check, so that an older answer is
   * not shown over a newer one. */
  guint                 keyring_serial;
  /* Keyring calls in flight (store or clear). */
  guint                 keyring_busy;

  /* Shown at the end of their rows while the text is empty, and only
   * then: a hidden suffix would still take its spacing. */
  GtkWidget            *title_field_auto_label;
  GtkWidget            *client_id_field_off_label;
  /* Whether the keyring said it holds a secret for the account. */
  gboolean              secret_saved;

  /* Template widgets */
  AdwPreferencesPage   *server_page;
  AdwPreferencesPage   *sync_page;
  AdwPreferencesGroup  *auth_group;
  AdwEntryRow          *url_row;
  AdwActionRow         *url_error_row;
  AdwEntryRow          *collection_row;
  AdwActionRow         *collection_error_row;
  AdwEntryRow          *title_field_row;
  AdwActionRow         *test_row;
  GtkImage             *test_icon;
  GtkSpinner           *test_spinner;
  GtkButton            *test_button;
  AdwComboRow          *auth_kind_row;
  AdwEntryRow          *username_row;
  AdwActionRow         *username_error_row;
  AdwEntryRow          *secret_row;
  AdwActionRow         *keyring_row;
  GtkButton            *forget_button;
  AdwComboRow          *conflict_policy_row;
  GtkSwitch            *auto_sync_switch;
  GtkSpinButton        *auto_sync_interval_spin;
  AdwComboRow          *update_method_row;
  GtkSpinButton        *page_size_spin;
  GtkSpinButton        *push_concurrency_spin;
  AdwEntryRow          *id_field_row;
  AdwActionRow         *id_field_error_row;
  AdwEntryRow          *client_id_field_row;
  AdwActionRow         *client_id_field_error_row;
};

G_DEFINE_FINAL_TYPE (TetherPreferencesWindow, tether_preferences_window, ADW_TYPE_PREFERENCES_WINDOW)

enum {
  PROP_0,
  PROP_SETTINGS,
  PROP_ACCOUNT,
  N_PROPS
};

static GParamSpec *properties[N_PROPS];

static void check_keyring (TetherPreferencesWindow *self);

/* The positions of the combo rows, in the order of their models. */
static const char * const auth_kinds[] = { "none", "basic", "bearer", NULL };
static const char * const conflict_policies[] = { "ask", "local-wins", "server-wins", NULL };
static const char * const update_methods[] = { "patch", "put", NULL };

static void
show_toast (TetherPreferencesWindow *self,
            const char              *title)
{
  AdwToast *toast = adw_toast_new (title);

  adw_preferences_window_add_toast (ADW_PREFERENCES_WINDOW (self), toast);
}

/* The window's asynchronous calls hold it weakly: a strong reference
 * would keep it, and the calls, alive after it is closed, when closing is
 * what cancels them. @serial tells a call from the ones it replaced. */
typedef struct
{
  GWeakRef self;
  guint    serial;
} CallData;

static gpointer
call_data_new (TetherPreferencesWindow *self,
               guint                    serial)
{
  CallData *data = g_new0 (CallData, 1);

  g_weak_ref_init (&data->self, self);
  data->serial = serial;

  return data;
}

/* Frees @user_data. Returns: (transfer full) (nullable): the window, or
 * %NULL when it is gone. */
static TetherPreferencesWindow *
call_data_steal (gpointer  user_data,
                 guint    *serial)
{
  CallData *data = user_data;
  TetherPreferencesWindow *self = g_weak_ref_get (&data->self);

  if (serial != NULL)
    *serial = data->serial;

  g_weak_ref_clear (&data->self);
  g_free (data);

  return self;
}

/* Text rows
 *
 * Each text key has an entry row and, when its text is checked, a row
 * under it for the message of a refused value. */

static gboolean
validate_server_url (TetherPreferencesWindow  *self,
                     const char               *text,
                     char                    **value,
                     GError                  **error)
{
  const char *p;

  /* No server at all is a valid choice: Tether then works offline. */
  for (p = text; g_ascii_isspace (*p); p++)
    ;
  if (*p == '\0')
    {
      *value = g_strdup ("");
      return TRUE;
    }

  return tether_account_validate_url (text, value, error);
}

static gboolean
validate_collection (TetherPreferencesWindow  *self,
                     const char               *text,
                     char                    **value,
                     GError                  **error)
{
  gsize len = strlen (text);

  if (len == 0)
    {
      g_set_error_literal (error, G_IO_ERROR, G_IO_ERROR_INVALID_ARGUMENT,
                           _("Enter the path of the collection on the server, for example “records”."));
      return FALSE;
    }

  for (const char *p = text; *p != '\0'; p++)
    {
      if (g_ascii_isspace (*p) || g_ascii_iscntrl (*p))
        {
          g_set_error_literal (error, G_IO_ERROR, G_IO_ERROR_INVALID_ARGUMENT,
                               _("The collection path contains spaces. Remove them and try again."));
          return FALSE;
        }
    }

  if (text[0] == '/' || text[len - 1] == '/')
    {
      g_set_error_literal (error, G_IO_ERROR, G_IO_ERROR_INVALID_ARGUMENT,
                           _("Leave out the “/” at the start and end of the collection path."));
      return FALSE;
    }

  if (strpbrk (text, "?#") != NULL)
    {
      g_set_error_literal (error, G_IO_ERROR, G_IO_ERROR_INVALID_ARGUMENT,
                           _("The collection path cannot contain “?” or “#”."));
      return FALSE;
    }

  *value = g_strdup (text);
  return TRUE;
}

static gboolean
validate_username (TetherPreferencesWindow  *self,
                   const char               *text,
                   char                    **value,
                   GError                  **error)
{
  /* HTTP Basic joins username and password with a colon. */
  if (strchr (text, ':') != NULL)
    {
      g_set_error_literal (error, G_IO_ERROR, G_IO_ERROR_INVALID_ARGUMENT,
                           _("A username for password sign-in cannot contain “:”."));
      return FALSE;
    }

  *value = g_strdup (text);
  return TRUE;
}

static gboolean
validate_id_field (TetherPreferencesWindow  *self,
                   const char               *text,
                   char                    **value,
                   GError                  **error)
{
  g_autofree char *client_id_field = g_settings_get_string (self->settings, "client-id-field");

  if (text[0] == '\0')
    {
      g_set_error_literal (error, G_IO_ERROR, G_IO_ERROR_INVALID_ARGUMENT,
                           _("Enter the field that holds a record’s ID on the server, for example “id”."));
      return FALSE;
    }

  if (g_str_equal (text, client_id_field))
    {
      g_set_error_literal (error, G_IO_ERROR, G_IO_ERROR_INVALID_ARGUMENT,
                           _("The ID field and the client ID field must be different fields."));
      return FALSE;
    }

  *value = g_strdup (text);
  return TRUE;
}

static gboolean
validate_client_id_field (TetherPreferencesWindow  *self,
                          const char               *text,
                          char                    **value,
                          GError                  **error)
{
  g_autofree char *id_field = g_settings_get_string (self->settings, "id-field");

  if (g_str_equal (text, id_field))
    {
      g_set_error_literal (error, G_IO_ERROR, G_IO_ERROR_INVALID_ARGUMENT,
                           _("The ID field and the client ID field must be different fields."));
      return FALSE;
    }

  *value = g_strdup (text);
  return TRUE;
}

typedef struct
{
  const char   *key;
  gsize         row_offset;
  gsize         error_row_offset;   /* 0: any text will do */
  ValidateFunc  validate;
} TextKey;

#define ROW_OFFSET(member) G_STRUCT_OFFSET (TetherPreferencesWindow, member)

static const TextKey text_keys[] = {
  { "server-url", ROW_OFFSET (url_row), ROW_OFFSET (url_error_row), validate_server_url },
  { "collection", ROW_OFFSET (collection_row), ROW_OFFSET (collection_error_row), validate_collection },
  { "title-field", ROW_OFFSET (title_field_row), 0, NULL },
  { "username", ROW_OFFSET (username_row), ROW_OFFSET (username_error_row), validate_username },
  { "id-field", ROW_OFFSET (id_field_row), ROW_OFFSET (id_field_error_row), validate_id_field },
  { "client-id-field", ROW_OFFSET (client_id_field_row), ROW_OFFSET (client_id_field_error_row), validate_client_id_field },
};

#undef ROW_OFFSET

static AdwEntryRow *
text_key_get_row (TetherPreferencesWindow *self,
                  const TextKey           *text_key)
{
  return G_STRUCT_MEMBER (AdwEntryRow *, self, text_key->row_offset);
}

static AdwActionRow *
text_key_get_error_row (TetherPreferencesWindow *self,
                        const TextKey           *text_key)
{
  if (text_key->error_row_offset == 0)
    return NULL;

  return G_STRUCT_MEMBER (AdwActionRow *, self, text_key->error_row_offset);
}

static const TextKey *
find_text_key_for_row (TetherPreferencesWindow *self,
                       AdwEntryRow             *row)
{
  for (guint i = 0; i < G_N_ELEMENTS (text_keys); i++)
    {
      if (text_key_get_row (self, &text_keys[i]) == row)
        return &text_keys[i];
    }

  return NULL;
}

static const TextKey *
find_text_key_for_key (const char *key)
{
  for (guint i = 0; i < G_N_ELEMENTS (text_keys); i++)
    {
      if (g_str_equal (text_keys[i].key, key))
        return &text_keys[i];
    }

  return NULL;
}

/* Sets the text of @row without showing its apply button: the button is
 * for what the user typed, and this text is what is saved. */
static void
set_entry_text (AdwEntryRow *row,
                const char  *text)
{
  if (g_strcmp0 (gtk_editable_get_text (GTK_EDITABLE (row)), text) == 0)
    return;

  adw_entry_row_set_show_apply_button (row, FALSE);
  gtk_editable_set_text (GTK_EDITABLE (row), text);
  adw_entry_row_set_show_apply_button (row, TRUE);
}

static void
show_entry_error (TetherPreferencesWindow *self,
                  const TextKey           *text_key,
                  const char              *message)
{
  AdwEntryRow *row = text_key_get_row (self, text_key);
  AdwActionRow *error_row = text_key_get_error_row (self, text_key);

  gtk_widget_add_css_class (GTK_WIDGET (row), "error");
  gtk_accessible_update_state (GTK_ACCESSIBLE (row),
                               GTK_ACCESSIBLE_STATE_INVALID, GTK_ACCESSIBLE_INVALID_TRUE,
                               -1);
  gtk_accessible_update_property (GTK_ACCESSIBLE (row),
                                  GTK_ACCESSIBLE_PROPERTY_DESCRIPTION, message,
                                  -1);

  adw_preferences_row_set_title (ADW_PREFERENCES_ROW (error_row), message);
  gtk_widget_set_visible (GTK_WIDGET (error_row), TRUE);
}

static void
hide_entry_error (TetherPreferencesWindow *self,
                  const TextKey           *text_key)
{
  AdwEntryRow *row = text_key_get_row (self, text_key);
  AdwActionRow *error_row = text_key_get_error_row (self, text_key);

  if (error_row == NULL || !gtk_widget_get_visible (GTK_WIDGET (error_row)))
    return;

  gtk_widget_remove_css_class (GTK_WIDGET (row), "error");
  gtk_accessible_reset_state (GTK_ACCESSIBLE (row), GTK_ACCESSIBLE_STATE_INVALID);
  gtk_accessible_reset_property (GTK_ACCESSIBLE (row), GTK_ACCESSIBLE_PROPERTY_DESCRIPTION);
  gtk_widget_set_visible (GTK_WIDGET (error_row), FALSE);
}

static GtkWidget *
empty_value_label_new (const char *text,
                       const char *tooltip)
{
  GtkWidget *label = gtk_label_new (text);

  gtk_widget_set_valign (label, GTK_ALIGN_CENTER);
  gtk_widget_set_tooltip_text (label, tooltip);
  gtk_widget_add_css_class (label, "dim-label");

  return g_object_ref_sink (label);
}

static void
update_empty_label (AdwEntryRow *row,
                    GtkWidget   *label)
{
  gboolean empty = gtk_editable_get_text (GTK_EDITABLE (row))[0] == '\0';
  gboolean shown = gtk_widget_get_parent (label) != NULL;

  if (empty && !shown)
    adw_entry_row_add_suffix (row, label);
  else if (!empty && shown)
    adw_entry_row_remove (row, label);
}

static void
update_empty_labels (TetherPreferencesWindow *self)
{
  update_empty_label (self->title_field_row, self->title_field_auto_label);
  update_empty_label (self->client_id_field_row, self->client_id_field_off_label);
}

static void
entry_changed_cb (TetherPreferencesWindow *self,
                  AdwEntryRow             *row)
{
  const TextKey *text_key;

  /* Rows can outlive the window a moment while it is disposed. */
  if (self->title_field_row == NULL)
    return;

  text_key = find_text_key_for_row (self, row);

  /* The message was about the text that is no longer there. */
  if (text_key != NULL)
    hide_entry_error (self, text_key);

  update_empty_labels (self);
}

static void
entry_apply_cb (TetherPreferencesWindow *self,
                AdwEntryRow             *row)
{
  const TextKey *text_key = find_text_key_for_row (self, row);
  const char *text = gtk_editable_get_text (GTK_EDITABLE (row));
  g_autofree char *value = NULL;
  g_autofree char *current = NULL;
  g_autoptr(GError) error = NULL;

  g_return_if_fail (text_key != NULL);

  if (text_key->validate == NULL)
    value = g_strdup (text);
  else if (!text_key->validate (self, text, &value, &error))
    {
      g_debug ("Refused a value for %s: %s", text_key->key, error->message);
      show_entry_error (self, text_key, error->message);
      return;
    }

  hide_entry_error (self, text_key);

  /* Show the value as it is saved (a URL without its trailing slash). */
  set_entry_text (row, value);

  current = g_settings_get_string (self->settings, text_key->key);
  if (!g_str_equal (current, value))
    g_settings_set_string (self->settings, text_key->key, value);
}

static void
update_entry_from_settings (TetherPreferencesWindow *self,
                            const TextKey           *text_key)
{
  g_autofree char *value = g_settings_get_string (self->settings, text_key->key);

  hide_entry_error (self, text_key);
  set_entry_text (text_key_get_row (self, text_key), value);
}

/* Combo rows: a string key with <choices> ↔ a position in the row */

static gboolean
choice_to_position_cb (GValue   *value,
                       GVariant *variant,
                       gpointer  user_data)
{
  const char * const *choices = user_data;
  const char *choice = g_variant_get_string (variant, NULL);

  for (guint i = 0; choices[i] != NULL; i++)
    {
      if (g_str_equal (choices[i], choice))
        {
          g_value_set_uint (value, i);
          return TRUE;
        }
    }

  return FALSE;
}

static GVariant *
position_to_choice_cb (const GValue       *value,
                       const GVariantType *expected_type,
                       gpointer            user_data)
{
  const char * const *choices = user_data;
  guint position = g_value_get_uint (value);

  /* GTK_INVALID_LIST_POSITION while a model is being replaced. */
  if (position >= g_strv_length ((char **) choices))
    return NULL;

  return g_variant_new_string (choices[position]);
}

static void
bind_combo_row (TetherPreferencesWindow *self,
                const char              *key,
                AdwComboRow             *row,
                const char * const      *choices)
{
  g_settings_bind_with_mapping (self->settings, key,
                                row, "selected",
                                G_SETTINGS_BIND_DEFAULT,
                                choice_to_position_cb,
                                position_to_choice_cb,
                                (gpointer) choices, NULL);
}

/* Authentication */

static TetherAuthKind
get_auth_kind (TetherPreferencesWindow *self)
{
  g_autofree char *kind = g_settings_get_string (self->settings, "auth-kind");

  /* A string key with choices, in the order of the enum. */
  for (guint i = 0; auth_kinds[i] != NULL; i++)
    {
      if (g_str_equal (auth_kinds[i], kind))
        return (TetherAuthKind) i;
    }

  return TETHER_AUTH_KIND_NONE;
}

static void
update_auth_rows (TetherPreferencesWindow *self)
{
  TetherAuthKind kind = get_auth_kind (self);

  gtk_widget_set_visible (GTK_WIDGET (self->username_row), kind == TETHER_AUTH_KIND_BASIC);
  gtk_widget_set_visible (GTK_WIDGET (self->secret_row), kind != TETHER_AUTH_KIND_NONE);
  gtk_widget_set_visible (GTK_WIDGET (self->keyring_row), kind != TETHER_AUTH_KIND_NONE);

  if (kind != TETHER_AUTH_KIND_BASIC)
    {
      const TextKey *text_key = find_text_key_for_key ("username");

      hide_entry_error (self, text_key);
    }

  adw_preferences_row_set_title (ADW_PREFERENCES_ROW (self->secret_row),
                                 kind == TETHER_AUTH_KIND_BEARER ? _("Token") : _("Password"));
}

static void
set_keyring_status (TetherPreferencesWindow *self,
                    const char              *message,
                    gboolean                 is_error,
                    gboolean                 saved)
{
  adw_action_row_set_subtitle (self->keyring_row, message);

  if (is_error)
    gtk_widget_add_css_class (GTK_WIDGET (self->keyring_row), "error");
  else
    gtk_widget_remove_css_class (GTK_WIDGET (self->keyring_row), "error");

  self->secret_saved = saved;
  gtk_widget_set_sensitive (GTK_WIDGET (self->forget_button), saved && self->keyring_busy == 0);
}

/* The Secret Service's own messages are technical; they go to the debug
 * log and the user gets a sentence. None of them carries a secret. */
static const char *
keyring_search_error_message (const GError *error)
{
  g_debug ("Keyring search failed: %s (%s, %d)",
           error->message, g_quark_to_string (error->domain), error->code);

  if (error->domain == G_DBUS_ERROR || error->domain == G_IO_ERROR)
    return _("No keyring is available to keep the password or token. Start a Secret Service such as GNOME Keyring and try again.");

  return _("The keyring could not be read.");
}

static void
keyring_search_cb (GObject      *object,
                   GAsyncResult *result,
                   gpointer      user_data)
{
  g_autoptr(TetherPreferencesWindow) self = NULL;
  g_autoptr(GError) error = NULL;
  GList *items;
  gboolean bearer;
  guint serial;

  items = secret_password_search_finish (result, &error);
  self = call_data_steal (user_data, &serial);

  /* Gone, or replaced by a check for other settings. */
  if (self == NULL || serial != self->keyring_serial ||
      g_error_matches (error, G_IO_ERROR, G_IO_ERROR_CANCELLED))
    {
      g_list_free_full (items, g_object_unref);
      return;
    }

  bearer = tether_account_get_auth_kind (self->account) == TETHER_AUTH_KIND_BEARER;

  if (error != NULL)
    set_keyring_status (self, keyring_search_error_message (error), TRUE, FALSE);
  else if (items != NULL)
    set_keyring_status (self, _("Saved in the keyring"), FALSE, TRUE);
  else if (bearer)
    set_keyring_status (self, _("No token saved yet. Type it above and press Enter."), FALSE, FALSE);
  else
    set_keyring_status (self, _("No password saved yet. Type it above and press Enter."), FALSE, FALSE);

  g_list_free_full (items, g_object_unref);
}

/* Asks the keyring whether it holds a secret for the account's server,
 * username and kind, the attributes tether_account_store_secret_async()
 * keys it by. A search without SECRET_SEARCH_UNLOCK and
 * SECRET_SEARCH_LOAD_SECRETS reads no secret and shows no prompt. */
static void
check_keyring (TetherPreferencesWindow *self)
{
  TetherAuthKind kind = tether_account_get_auth_kind (self->account);
  g_autoptr(GHashTable) attributes = NULL;
  g_autofree char *server = NULL;

  g_cancellable_cancel (self->keyring_cancellable);
  g_clear_object (&self->keyring_cancellable);
  self->keyring_serial++;

  if (kind == TETHER_AUTH_KIND_NONE)
    return;

  if (!tether_account_validate_url (tether_account_get_server_url (self->account), &server, NULL))
    {
      set_keyring_status (self,
                          kind == TETHER_AUTH_KIND_BEARER
                            ? _("Set the server URL first: the token is saved for that server.")
                            : _("Set the server URL first: the password is saved for that server."),
                          FALSE, FALSE);
      return;
    }

  attributes = g_hash_table_new_full (g_str_hash, g_str_equal, NULL, g_free);
  g_hash_table_insert (attributes, (gpointer) "server", g_steal_pointer (&server));
  g_hash_table_insert (attributes, (gpointer) "username",
                       g_strdup (tether_account_get_username (self->account)));
  g_hash_table_insert (attributes, (gpointer) "kind",
                       g_strdup (kind == TETHER_AUTH_KIND_BEARER ? "bearer" : "basic"));

  self->keyring_cancellable = g_cancellable_new ();
  secret_password_searchv (tether_account_get_secret_schema (),
                           attributes,
                           SECRET_SEARCH_NONE,
                           self->keyring_cancellable,
                           keyring_search_cb,
                           call_data_new (self, self->keyring_serial));
}

static void
account_changed_cb (TetherPreferencesWindow *self,
                    GParamSpec              *pspec,
                    TetherAccount           *account)
{
  check_keyring (self);
}

static void
keyring_call_done (TetherPreferencesWindow *self)
{
  g_assert (self->keyring_busy > 0);

  self->keyring_busy--;
  gtk_widget_set_sensitive (GTK_WIDGET (self->secret_row), self->keyring_busy == 0);
  check_keyring (self);
}

static void
keyring_call_start (TetherPreferencesWindow *self)
{
  self->keyring_busy++;
  gtk_widget_set_sensitive (GTK_WIDGET (self->secret_row), FALSE);
  gtk_widget_set_sensitive (GTK_WIDGET (self->forget_button), FALSE);
}

static void
store_secret_cb (GObject      *object,
                 GAsyncResult *result,
                 gpointer      user_data)
{
  TetherAccount *account = TETHER_ACCOUNT (object);
  g_autoptr(TetherPreferencesWindow) self = NULL;
  g_autoptr(GError) error = NULL;
  gboolean bearer = tether_account_get_auth_kind (account) == TETHER_AUTH_KIND_BEARER;
  gboolean stored;

  stored = tether_account_store_secret_finish (account, result, &error);
  if (!(self = call_data_steal (user_data, NULL)))
    return;

  if (!stored)
    {
      /* The typed text stays, so that it can be saved again once the
       * keyring works. */
      keyring_call_done (self);
      self->keyring_serial++;
      set_keyring_status (self, error->message, TRUE, self->secret_saved);
      return;
    }

  set_entry_text (self->secret_row, "");
  keyring_call_done (self);
  show_toast (self, bearer ? _("Token saved in the keyring") : _("Password saved in the keyring"));
}

static void
secret_apply_cb (TetherPreferencesWindow *self,
                 AdwEntryRow             *row)
{
  const char *secret = gtk_editable_get_text (GTK_EDITABLE (row));

  if (secret[0] == '\0' || self->keyring_busy > 0)
    return;

  if (!tether_account_has_server (self->account))
    {
      /* check_keyring() says what to do first. */
      check_keyring (self);
      gtk_widget_add_css_class (GTK_WIDGET (self->keyring_row), "error");
      return;
    }

  keyring_call_start (self);
  /* The keyring copies the text into memory of its own before this
   * returns; the entry keeps it in non-pageable memory until cleared.
   * Not cancelled by closing the window: what the user saved is saved. */
  tether_account_store_secret_async (self->account,
                                     secret,
                                     NULL,
                                     store_secret_cb,
                                     call_data_new (self, 0));
}

static void
clear_secret_cb (GObject      *object,
                 GAsyncResult *result,
                 gpointer      user_data)
{
  TetherAccount *account = TETHER_ACCOUNT (object);
  g_autoptr(TetherPreferencesWindow) self = NULL;
  g_autoptr(GError) error = NULL;
  gboolean cleared;

  cleared = tether_account_clear_secret_finish (account, result, &error);
  if (!(self = call_data_steal (user_data, NULL)))
    return;

  if (!cleared)
    {
      keyring_call_done (self);
      self->keyring_serial++;
      set_keyring_status (self, error->message, TRUE, self->secret_saved);
      return;
    }

  keyring_call_done (self);
  show_toast (self, _("Removed from the keyring"));
}

static void
forget_clicked_cb (TetherPreferencesWindow *self,
                   GtkButton               *button)
{
  if (self->keyring_busy > 0)
    return;

  keyring_call_start (self);
  /* Like saving, forgetting goes through even if the window closes. */
  tether_account_clear_secret_async (self->account,
                                     NULL,
                                     clear_secret_cb,
                                     call_data_new (self, 0));
}

/* Test Connection */

static void
set_test_result (TetherPreferencesWindow *self,
                 const char              *message,
                 gboolean                 success)
{
  GtkWidget *icon = GTK_WIDGET (self->test_icon);

  gtk_spinner_stop (self->test_spinner);
  gtk_widget_set_visible (GTK_WIDGET (self->test_spinner), FALSE);
  gtk_widget_set_sensitive (GTK_WIDGET (self->test_button), TRUE);

  adw_action_row_set_subtitle (self->test_row, message);

  gtk_image_set_from_icon_name (self->test_icon,
                                success ? "emblem-ok-symbolic" : "dialog-error-symbolic");
  gtk_widget_remove_css_class (icon, success ? "error" : "success");
  gtk_widget_add_css_class (icon, success ? "success" : "error");
  gtk_widget_set_visible (icon, TRUE);
}

static void
test_connection_cb (GObject      *object,
                    GAsyncResult *result,
                    gpointer      user_data)
{
  TetherRemote *remote = TETHER_REMOTE (object);
  g_autoptr(TetherPreferencesWindow) self = NULL;
  g_autoptr(GError) error = NULL;
  g_autofree char *sentence = NULL;

  sentence = tether_remote_test_connection_finish (remote, result, &error);
  self = call_data_steal (user_data, NULL);

  if (self == NULL || g_error_matches (error, G_IO_ERROR, G_IO_ERROR_CANCELLED))
    return;

  g_clear_object (&self->test_remote);

  if (sentence != NULL)
    set_test_result (self, sentence, TRUE);
  else
    set_test_result (self, error->message, FALSE);
}

static void
test_lookup_secret_cb (GObject      *object,
                       GAsyncResult *result,
                       gpointer      user_data)
{
  TetherAccount *account = TETHER_ACCOUNT (object);
  g_autoptr(TetherPreferencesWindow) self = NULL;
  g_autoptr(GError) error = NULL;
  char *secret;

  secret = tether_account_lookup_secret_finish (account, result, &error);
  self = call_data_steal (user_data, NULL);

  if (self == NULL || g_error_matches (error, G_IO_ERROR, G_IO_ERROR_CANCELLED))
    {
      g_clear_pointer (&secret, tether_account_secret_free);
      return;
    }

  if (error != NULL)
    {
      g_clear_object (&self->test_remote);
      set_test_result (self, error->message, FALSE);
      return;
    }

  if (secret == NULL)
    {
      g_clear_object (&self->test_remote);
      set_test_result (self,
                       get_auth_kind (self) == TETHER_AUTH_KIND_BEARER
                         ? _("Type the token first.")
                         : _("Type the password first."),
                       FALSE);
      return;
    }

  tether_remote_set_secret (self->test_remote, secret);
  g_clear_pointer (&secret, tether_account_secret_free);

  tether_remote_test_connection_async (self->test_remote,
                                       self->cancellable,
                                       test_connection_cb,
                                       call_data_new (self, 0));
}

/* Checks the typed text of @text_key's row as applying it would; on
 * failure the message goes under the row and into the test's result. */
static char *
dup_checked_text (TetherPreferencesWindow *self,
                  const char              *key)
{
  const TextKey *text_key = find_text_key_for_key (key);
  const char *text = gtk_editable_get_text (GTK_EDITABLE (text_key_get_row (self, text_key)));
  g_autofree char *value = NULL;
  g_autoptr(GError) error = NULL;

  if (!text_key->validate (self, text, &value, &error))
    {
      show_entry_error (self, text_key, error->message);
      set_test_result (self, error->message, FALSE);
      return NULL;
    }

  return g_steal_pointer (&value);
}

static void
test_clicked_cb (TetherPreferencesWindow *self,
                 GtkButton               *button)
{
  g_autoptr(TetherAccount) account = NULL;
  g_autofree char *url = NULL;
  g_autofree char *collection = NULL;
  g_autofree char *username = NULL;
  TetherAuthKind kind = get_auth_kind (self);
  const char *secret;

  if (self->test_remote != NULL)
    return;

  /* What is typed, checked as if applied, so that settings can be tried
   * before they are saved. */
  if (!(url = dup_checked_text (self, "server-url")) ||
      !(collection = dup_checked_text (self, "collection")) ||
      (kind == TETHER_AUTH_KIND_BASIC && !(username = dup_checked_text (self, "username"))))
    return;

  if (url[0] == '\0')
    {
      set_test_result (self, _("Enter the server URL first."), FALSE);
      return;
    }

  /* A copy of the account with the settings as they are and the typed
   * values over them; the real account is left alone. */
  account = tether_account_new_from_settings (self->settings);
  tether_account_set_server_url (account, url);
  tether_account_set_collection (account, collection);
  if (username != NULL)
    tether_account_set_username (account, username);

  self->test_remote = tether_remote_new (account);
  tether_remote_set_timeout (self->test_remote, TEST_CONNECTION_TIMEOUT);

  gtk_widget_set_sensitive (GTK_WIDGET (self->test_button), FALSE);
  gtk_widget_set_visible (GTK_WIDGET (self->test_icon), FALSE);
  gtk_widget_set_visible (GTK_WIDGET (self->test_spinner), TRUE);
  gtk_spinner_start (self->test_spinner);
  adw_action_row_set_subtitle (self->test_row, _("Connecting…"));

  secret = gtk_editable_get_text (GTK_EDITABLE (self->secret_row));

  if (kind != TETHER_AUTH_KIND_NONE && secret[0] == '\0')
    {
      tether_account_lookup_secret_async (account,
                                          self->cancellable,
                                          test_lookup_secret_cb,
                                          call_data_new (self, 0));
      return;
    }

  if (kind != TETHER_AUTH_KIND_NONE)
    tether_remote_set_secret (self->test_remote, secret);

  tether_remote_test_connection_async (self->test_remote,
                                       self->cancellable,
                                       test_connection_cb,
                                       call_data_new (self, 0));
}

/* Settings */

static void
settings_changed_cb (TetherPreferencesWindow *self,
                     const char              *key,
                     GSettings               *settings)
{
  const TextKey *text_key = find_text_key_for_key (key);

  if (text_key != NULL)
    update_entry_from_settings (self, text_key);
  else if (g_str_equal (key, "auth-kind"))
    update_auth_rows (self);
}

/* Public API */

GtkWindow *
tether_preferences_window_new (GtkWindow     *parent,
                               GSettings     *settings,
                               TetherAccount *account)
{
  g_return_val_if_fail (!parent || GTK_IS_WINDOW (parent), NULL);
  g_return_val_if_fail (G_IS_SETTINGS (settings), NULL);
  g_return_val_if_fail (TETHER_IS_ACCOUNT (account), NULL);

  return g_object_new (TETHER_TYPE_PREFERENCES_WINDOW,
                       "transient-for", parent,
                       "settings", settings,
                       "account", account,
                       NULL);
}

GSettings *
tether_preferences_window_get_settings (TetherPreferencesWindow *self)
{
  g_return_val_if_fail (TETHER_IS_PREFERENCES_WINDOW (self), NULL);

  return self->settings;
}

TetherAccount *
tether_preferences_window_get_account (TetherPreferencesWindow *self)
{
  g_return_val_if_fail (TETHER_IS_PREFERENCES_WINDOW (self), NULL);

  return self->account;
}

void
tether_preferences_window_show_credentials (TetherPreferencesWindow *self)
{
  GtkWidget *focus;
  const char *message;

  g_return_if_fail (TETHER_IS_PREFERENCES_WINDOW (self));

  adw_preferences_window_set_visible_page (ADW_PREFERENCES_WINDOW (self), self->server_page);

  switch (get_auth_kind (self))
    {
    case TETHER_AUTH_KIND_BASIC:
      if (gtk_editable_get_text (GTK_EDITABLE (self->username_row))[0] == '\0')
        focus = GTK_WIDGET (self->username_row);
      else
        focus = GTK_WIDGET (self->secret_row);
      message = _("The server did not accept the username and password");
      break;

    case TETHER_AUTH_KIND_BEARER:
      focus = GTK_WIDGET (self->secret_row);
      message = _("The server did not accept the token");
      break;

    case TETHER_AUTH_KIND_NONE:
    default:
      focus = GTK_WIDGET (self->auth_kind_row);
      message = _("The server asks Tether to sign in");
      break;
    }

  /* The page scrolls to the focused row. */
  gtk_widget_grab_focus (focus);
  show_toast (self, message);
}

/* GObject */

static void
tether_preferences_window_constructed (GObject *object)
{
  TetherPreferencesWindow *self = (TetherPreferencesWindow *)object;

  G_OBJECT_CLASS (tether_preferences_window_parent_class)->constructed (object);

  g_assert (G_IS_SETTINGS (self->settings));
  g_assert (TETHER_IS_ACCOUNT (self->account));

  /* Connected before the keys are read: GSettings only reports changes
   * to keys read since a handler was connected. */
  g_signal_connect_object (self->settings, "changed",
                           G_CALLBACK (settings_changed_cb), self,
                           G_CONNECT_SWAPPED);

  for (guint i = 0; i < G_N_ELEMENTS (text_keys); i++)
    update_entry_from_settings (self, &text_keys[i]);
  update_empty_labels (self);

  bind_combo_row (self, "auth-kind", self->auth_kind_row, auth_kinds);
  bind_combo_row (self, "conflict-policy", self->conflict_policy_row, conflict_policies);
  bind_combo_row (self, "update-method", self->update_method_row, update_methods);

  g_settings_bind (self->settings, "auto-sync",
                   self->auto_sync_switch, "active",
                   G_SETTINGS_BIND_DEFAULT);
  g_settings_bind (self->settings, "auto-sync-interval",
                   self->auto_sync_interval_spin, "value",
                   G_SETTINGS_BIND_DEFAULT);
  g_settings_bind (self->settings, "page-size",
                   self->page_size_spin, "value",
                   G_SETTINGS_BIND_DEFAULT);
  g_settings_bind (self->settings, "push-concurrency",
                   self->push_concurrency_spin, "value",
                   G_SETTINGS_BIND_DEFAULT);

  update_auth_rows (self);

  g_signal_connect_object (self->account, "notify::server-url",
                           G_CALLBACK (account_changed_cb), self,
                           G_CONNECT_SWAPPED);
  g_signal_connect_object (self->account, "notify::username",
                           G_CALLBACK (account_changed_cb), self,
                           G_CONNECT_SWAPPED);
  g_signal_connect_object (self->account, "notify::auth-kind",
                           G_CALLBACK (account_changed_cb), self,
                           G_CONNECT_SWAPPED);
  check_keyring (self);
}

static void
tether_preferences_window_dispose (GObject *object)
{
  TetherPreferencesWindow *self = (TetherPreferencesWindow *)object;

  g_cancellable_cancel (self->cancellable);
  g_cancellable_cancel (self->keyring_cancellable);

  if (self->settings != NULL)
    g_signal_handlers_disconnect_by_data (self->settings, self);
  if (self->account != NULL)
    g_signal_handlers_disconnect_by_data (self->account, self);

  /* libadwaita 1.2 keeps the groups of an AdwPreferencesWindow's pages
   * (and so their rows) alive after the window is gone: its search model
   * takes a reference to each group and never drops it. Nothing of ours
   * may outlive the window with them: no binding to the settings, and no
   * typed secret left in the entry. */
  if (self->secret_row != NULL)
    {
      gpointer bound[][2] = {
        { self->auth_kind_row, "selected" },
        { self->conflict_policy_row, "selected" },
        { self->update_method_row, "selected" },
        { self->auto_sync_switch, "active" },
        { self->auto_sync_interval_spin, "value" },
        { self->page_size_spin, "value" },
        { self->push_concurrency_spin, "value" },
      };

      gtk_editable_set_text (GTK_EDITABLE (self->secret_row), "");

      /* Each binding has a second one that follows the key's
       * writability with the widget's sensitivity. */
      for (guint i = 0; i < G_N_ELEMENTS (bound); i++)
        {
          g_settings_unbind (bound[i][0], bound[i][1]);
          g_settings_unbind (bound[i][0], "sensitive");
        }
    }

  gtk_widget_dispose_template (GTK_WIDGET (self), TETHER_TYPE_PREFERENCES_WINDOW);

  g_clear_object (&self->test_remote);
  g_clear_object (&self->keyring_cancellable);
  g_clear_object (&self->title_field_auto_label);
  g_clear_object (&self->client_id_field_off_label);

  G_OBJECT_CLASS (tether_preferences_window_parent_class)->dispose (object);
}

static void
tether_preferences_window_finalize (GObject *object)
{
  TetherPreferencesWindow *self = (TetherPreferencesWindow *)object;

  g_clear_object (&self->settings);
  g_clear_object (&self->account);
  g_clear_object (&self->cancellable);

  G_OBJECT_CLASS (tether_preferences_window_parent_class)->finalize (object);
}

static void
tether_preferences_window_get_property (GObject    *object,
                                        guint       prop_id,
                                        GValue     *value,
                                        GParamSpec *pspec)
{
  TetherPreferencesWindow *self = TETHER_PREFERENCES_WINDOW (object);

  switch (prop_id)
    {
    case PROP_SETTINGS:
      g_value_set_object (value, self->settings);
      break;

    case PROP_ACCOUNT:
      g_value_set_object (value, self->account);
      break;

    default:
      G_OBJECT_WARN_INVALID_PROPERTY_ID (object, prop_id, pspec);
    }
}

static void
tether_preferences_window_set_property (GObject      *object,
                                        guint         prop_id,
                                        const GValue *value,
                                        GParamSpec   *pspec)
{
  TetherPreferencesWindow *self = TETHER_PREFERENCES_WINDOW (object);

  switch (prop_id)
    {
    case PROP_SETTINGS:
      self->settings = g_value_dup_object (value);
      break;

    case PROP_ACCOUNT:
      self->account = g_value_dup_object (value);
      break;

    default:
      G_OBJECT_WARN_INVALID_PROPERTY_ID (object, prop_id, pspec);
    }
}

static void
tether_preferences_window_class_init (TetherPreferencesWindowClass *klass)
{
  GObjectClass *object_class = G_OBJECT_CLASS (klass);
  GtkWidgetClass *widget_class = GTK_WIDGET_CLASS (klass);

  object_class->constructed = tether_preferences_window_constructed;
  object_class->dispose = tether_preferences_window_dispose;
  object_class->finalize = tether_preferences_window_finalize;
  object_class->get_property = tether_preferences_window_get_property;
  object_class->set_property = tether_preferences_window_set_property;

  properties[PROP_SETTINGS] =
    g_param_spec_object ("settings", NULL, NULL,
                         G_TYPE_SETTINGS,
                         (G_PARAM_READWRITE | G_PARAM_CONSTRUCT_ONLY | G_PARAM_STATIC_STRINGS));

  properties[PROP_ACCOUNT] =
    g_param_spec_object ("account", NULL, NULL,
                         TETHER_TYPE_ACCOUNT,
                         (G_PARAM_READWRITE | G_PARAM_CONSTRUCT_ONLY | G_PARAM_STATIC_STRINGS));

  g_object_class_install_properties (object_class, N_PROPS, properties);

  gtk_widget_class_set_template_from_resource (widget_class, RESOURCE_PREFIX "/tether-preferences-window.ui");
  gtk_widget_class_bind_template_child (widget_class, TetherPreferencesWindow, server_page);
  gtk_widget_class_bind_template_child (widget_class, TetherPreferencesWindow, sync_page);
  gtk_widget_class_bind_template_child (widget_class, TetherPreferencesWindow, auth_group);
  gtk_widget_class_bind_template_child (widget_class, TetherPreferencesWindow, url_row);
  gtk_widget_class_bind_template_child (widget_class, TetherPreferencesWindow, url_error_row);
  gtk_widget_class_bind_template_child (widget_class, TetherPreferencesWindow, collection_row);
  gtk_widget_class_bind_template_child (widget_class, TetherPreferencesWindow, collection_error_row);
  gtk_widget_class_bind_template_child (widget_class, TetherPreferencesWindow, title_field_row);
  gtk_widget_class_bind_template_child (widget_class, TetherPreferencesWindow, test_row);
  gtk_widget_class_bind_template_child (widget_class, TetherPreferencesWindow, test_icon);
  gtk_widget_class_bind_template_child (widget_class, TetherPreferencesWindow, test_spinner);
  gtk_widget_class_bind_template_child (widget_class, TetherPreferencesWindow, test_button);
  gtk_widget_class_bind_template_child (widget_class, TetherPreferencesWindow, auth_kind_row);
  gtk_widget_class_bind_template_child (widget_class, TetherPreferencesWindow, username_row);
  gtk_widget_class_bind_template_child (widget_class, TetherPreferencesWindow, username_error_row);
  gtk_widget_class_bind_template_child (widget_class, TetherPreferencesWindow, secret_row);
  gtk_widget_class_bind_template_child (widget_class, TetherPreferencesWindow, keyring_row);
  gtk_widget_class_bind_template_child (widget_class, TetherPreferencesWindow, forget_button);
  gtk_widget_class_bind_template_child (widget_class, TetherPreferencesWindow, conflict_policy_row);
  gtk_widget_class_bind_template_child (widget_class, TetherPreferencesWindow, auto_sync_switch);
  gtk_widget_class_bind_template_child (widget_class, TetherPreferencesWindow, auto_sync_interval_spin);
  gtk_widget_class_bind_template_child (widget_class, TetherPreferencesWindow, update_method_row);
  gtk_widget_class_bind_template_child (widget_class, TetherPreferencesWindow, page_size_spin);
  gtk_widget_class_bind_template_child (widget_class, TetherPreferencesWindow, push_concurrency_spin);
  gtk_widget_class_bind_template_child (widget_class, TetherPreferencesWindow, id_field_row);
  gtk_widget_class_bind_template_child (widget_class, TetherPreferencesWindow, id_field_error_row);
  gtk_widget_class_bind_template_child (widget_class, TetherPreferencesWindow, client_id_field_row);
  gtk_widget_class_bind_template_child (widget_class, TetherPreferencesWindow, client_id_field_error_row);
  gtk_widget_class_bind_template_callback (widget_class, entry_apply_cb);
  gtk_widget_class_bind_template_callback (widget_class, entry_changed_cb);
  gtk_widget_class_bind_template_callback (widget_class, secret_apply_cb);
  gtk_widget_class_bind_template_callback (widget_class, test_clicked_cb);
  gtk_widget_class_bind_template_callback (widget_class, forget_clicked_cb);
}

static void
tether_preferences_window_init (TetherPreferencesWindow *self)
{
  self->cancellable = g_cancellable_new ();

  gtk_widget_init_template (GTK_WIDGET (self));

  self->title_field_auto_label =
    empty_value_label_new (C_("title field", "Automatic"),
                           _("Uses “title”, else “name”, else the first text field"));
  self->client_id_field_off_label =
    empty_value_label_new (C_("client ID field", "Off"),
                           _("Without it, a create whose reply was lost can make a duplicate record on the server"));

  if (DEVELOPMENT_BUILD)
    gtk_widget_add_css_class (GTK_WIDGET (self), "devel");
}
