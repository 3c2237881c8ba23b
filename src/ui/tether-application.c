/* tether-application.c
 *
 * Copyright 2026 The Tether authors
 *
 * SPDX-License-Identifier: GPL-3.0-or-later
 */

#include "config.h"

#include <glib/gi18n.h>

#include "tether-application.h"
#include "tether-preferences-window.h"
#include "tether-resources.h"
#include "tether-window.h"

struct _TetherApplication
{
  AdwApplication  parent_instance;

  GSettings      *settings;
  TetherAccount  *account;
  TetherSession  *session;
  gulong          finished_handler;
};

G_DEFINE_FINAL_TYPE (TetherApplication, tether_application, ADW_TYPE_APPLICATION)

enum {
  PROP_0,
  PROP_SESSION,
  N_PROPS
};

static GParamSpec *properties[N_PROPS];

GSettings *
tether_application_get_settings (TetherApplication *self)
{
  g_return_val_if_fail (TETHER_IS_APPLICATION (self), NULL);

  return self->settings;
}

TetherSession *
tether_application_get_session (TetherApplication *self)
{
  g_return_val_if_fail (TETHER_IS_APPLICATION (self), NULL);

  return self->session;
}

TetherApplication *
tether_application_new (const char        *application_id,
                        GApplicationFlags  flags)
{
  g_return_val_if_fail (application_id != NULL, NULL);

  return g_object_new (TETHER_TYPE_APPLICATION,
                       "application-id", application_id,
                       "flags", flags,
                       "resource-base-path", RESOURCE_PREFIX,
                       NULL);
}

static void tether_application_switch_session (TetherApplication *self);

static void
on_sync_finished_switch_cb (TetherApplication *self)
{
  g_clear_signal_handler (&self->finished_handler, tether_session_get_sync (self->session));
  tether_application_switch_session (self);
}

/* Another server or collection is another store. The old one is closed
 * (its last edits written); a sync in flight is let finish first. */
static void
tether_application_switch_session (TetherApplication *self)
{
  g_autoptr(TetherSession) old = NULL;
  g_autoptr(GFile) directory = NULL;
  g_autoptr(GError) error = NULL;
  TetherSync *sync;

  if (self->session == NULL)
    return;

  directory = tether_store_default_directory (tether_account_get_server_url (self->account),
                                              tether_account_get_collection (self->account));
  if (g_file_equal (directory, tether_session_get_directory (self->session)))
    return;

  sync = tether_session_get_sync (self->session);
  if (tether_sync_get_running (sync))
    {
      if (self->finished_handler == 0)
        self->finished_handler = g_signal_connect_swapped (sync, "finished",
                                                           G_CALLBACK (on_sync_finished_switch_cb),
                                                           self);
      return;
    }

  old = g_steal_pointer (&self->session);
  if (!tether_session_close (old, &error))
    g_warning ("Could not save the last changes in %s: %s",
               g_file_peek_path (tether_session_get_directory (old)), error->message);

  self->session = tether_session_new (self->account, directory);
  g_object_notify_by_pspec (G_OBJECT (self), properties[PROP_SESSION]);
}

static void
on_location_changed_cb (TetherApplication *self)
{
  tether_application_switch_session (self);
}

static void
tether_application_activate (GApplication *app)
{
  GtkWindow *window;

  g_assert (TETHER_IS_APPLICATION (app));

  window = gtk_application_get_active_window (GTK_APPLICATION (app));
  if (window == NULL)
    window = GTK_WINDOW (tether_window_new (TETHER_APPLICATION (app)));

  gtk_window_present (window);
}

static void
tether_application_about_action (GSimpleAction *action,
                                 GVariant      *parameter,
                                 gpointer       user_data)
{
  static const char *developers[] = { "The Tether authors", NULL };
  TetherApplication *self = user_data;
  GtkWindow *window;
  GtkWidget *about;

  g_assert (TETHER_IS_APPLICATION (self));

  window = gtk_application_get_active_window (GTK_APPLICATION (self));
  about = g_object_new (ADW_TYPE_ABOUT_WINDOW,
                        "transient-for", window,
                        "application-name", _("Tether"),
                        "application-icon", APP_ID,
                        "developer-name", _("The Tether authors"),
                        "version", PACKAGE_VERSION,
                        "website", PACKAGE_WEBSITE,
                        "issue-url", PACKAGE_WEBSITE "/issues",
                        "developers", developers,
                        "copyright", "© 2026 The Tether authors",
                        "license-type", GTK_LICENSE_GPL_3_0,
                        "comments", _("Edit records offline and sync them with a REST server"),
                        /* Translators: put your names here, one per line. */
                        "translator-credits", _("translator-credits"),
                        NULL);
  gtk_window_present (GTK_WINDOW (about));
}

static void
tether_application_quit_action (GSimpleAction *action,
                                GVariant      *parameter,
                                gpointer       user_data)
{
  TetherApplication *self = user_data;
  GList *windows;

  g_assert (TETHER_IS_APPLICATION (self));

  /* Close the windows rather than quitting outright, so that each one
   * saves its state and waits for its edits to reach the disk. */
  windows = gtk_application_get_windows (GTK_APPLICATION (self));
  for (GList *l = windows; l != NULL;)
    {
      GtkWindow *window = l->data;

      l = l->next;
      gtk_window_close (window);
    }
}

/* One Preferences window at a time, beside the active window. */
static TetherPreferencesWindow *
tether_application_present_preferences (TetherApplication *self)
{
  GtkWindow *parent = gtk_application_get_active_window (GTK_APPLICATION (self));
  GList *windows = gtk_application_get_windows (GTK_APPLICATION (self));
  GtkWindow *preferences = NULL;

  for (const GList *l = windows; l != NULL; l = l->next)
    {
      if (TETHER_IS_PREFERENCES_WINDOW (l->data))
        {
          preferences = l->data;
          break;
        }
    }

  if (preferences == NULL)
    {
      if (parent != NULL && TETHER_IS_PREFERENCES_WINDOW (parent))
        parent = gtk_window_get_transient_for (parent);
      preferences = tether_preferences_window_new (parent, self->settings, self->account);
      gtk_window_set_application (preferences, GTK_APPLICATION (self));
    }

  gtk_window_present (preferences);

  return TETHER_PREFERENCES_WINDOW (preferences);
}

static void
tether_application_preferences_action (GSimpleAction *action,
                                       GVariant      *parameter,
                                       gpointer       user_data)
{
  tether_application_present_preferences (TETHER_APPLICATION (user_data));
}

static void
tether_application_credentials_action (GSimpleAction *action,
                                       GVariant      *parameter,
                                       gpointer       user_data)
{
  TetherPreferencesWindow *preferences;

  /* The server refused the sign-in: straight to where it is fixed. */
  preferences = tether_application_present_preferences (TETHER_APPLICATION (user_data));
  tether_preferences_window_show_credentials (preferences);
}

static const GActionEntry app_actions[] = {
  { "quit", tether_application_quit_action },
  { "about", tether_application_about_action },
  { "preferences", tether_application_preferences_action },
  { "credentials", tether_application_credentials_action },
};

static void
tether_application_startup (GApplication *app)
{
  TetherApplication *self = TETHER_APPLICATION (app);

  G_APPLICATION_CLASS (tether_application_parent_class)->startup (app);

  if (g_get_application_name () == NULL)
    g_set_application_name (_("Tether"));
  gtk_window_set_default_icon_name (APP_ID);

  self->settings = g_settings_new (BASE_APP_ID);
  self->account = tether_account_new_from_settings (self->settings);
  self->session = tether_session_new (self->account, NULL);

  /* Connected after the account's own bindings: it has the new values by
   * the time these run. */
  g_signal_connect_object (self->settings, "changed::server-url",
                           G_CALLBACK (on_location_changed_cb), self,
                           G_CONNECT_SWAPPED);
  g_signal_connect_object (self->settings, "changed::collection",
                           G_CALLBACK (on_location_changed_cb), self,
                           G_CONNECT_SWAPPED);

  g_action_map_add_action_entries (G_ACTION_MAP (self),
                                   app_actions,
                                   G_N_ELEMENTS (app_actions),
                                   self);

  gtk_application_set_accels_for_action (GTK_APPLICATION (self), "app.quit",
                                         (const char *[]) { "<Control>q", NULL });
  gtk_application_set_accels_for_action (GTK_APPLICATION (self), "win.close",
                                         (const char *[]) { "<Control>w", NULL });
  gtk_application_set_accels_for_action (GTK_APPLICATION (self), "win.add",
                                         (const char *[]) { "<Control>n", NULL });
  gtk_application_set_accels_for_action (GTK_APPLICATION (self), "win.sync",
                                         (const char *[]) { "<Control>r", NULL });
  gtk_application_set_accels_for_action (GTK_APPLICATION (self), "app.preferences",
                                         (const char *[]) { "<Control>comma", NULL });
  gtk_application_set_accels_for_action (GTK_APPLICATION (self), "win.show-help-overlay",
                                         (const char *[]) { "<Control>question", NULL });
}

static void
tether_application_shutdown (GApplication *app)
{
  TetherApplication *self = TETHER_APPLICATION (app);

  /* Every edit is already on its way to the disk; closing waits for the
   * last batch and releases the store's lock. */
  if (self->session != NULL)
    {
      g_autoptr(GError) error = NULL;

      if (!tether_session_close (self->session, &error))
        g_warning ("Could not save the last changes: %s", error->message);
    }

  G_APPLICATION_CLASS (tether_application_parent_class)->shutdown (app);
}

static void
tether_application_finalize (GObject *object)
{
  TetherApplication *self = (TetherApplication *)object;

  if (self->finished_handler != 0 && self->session != NULL)
    g_clear_signal_handler (&self->finished_handler, tether_session_get_sync (self->session));
  g_clear_object (&self->session);
  g_clear_object (&self->account);
  g_clear_object (&self->settings);

  G_OBJECT_CLASS (tether_application_parent_class)->finalize (object);
}

static void
tether_application_get_property (GObject    *object,
                                 guint       prop_id,
                                 GValue     *value,
                                 GParamSpec *pspec)
{
  TetherApplication *self = TETHER_APPLICATION (object);

  switch (prop_id)
    {
    case PROP_SESSION:
      g_value_set_object (value, self->session);
      break;

    default:
      G_OBJECT_WARN_INVALID_PROPERTY_ID (object, prop_id, pspec);
    }
}

static void
tether_application_class_init (TetherApplicationClass *klass)
{
  GObjectClass *object_class = G_OBJECT_CLASS (klass);
  GApplicationClass *app_class = G_APPLICATION_CLASS (klass);

  tether_register_resource ();

  object_class->finalize = tether_application_finalize;
  object_class->get_property = tether_application_get_property;

  app_class->activate = tether_application_activate;
  app_class->startup = tether_application_startup;
  app_class->shutdown = tether_application_shutdown;

  properties[PROP_SESSION] =
    g_param_spec_object ("session", NULL, NULL,
                         TETHER_TYPE_SESSION,
                         (G_PARAM_READABLE | G_PARAM_EXPLICIT_NOTIFY | G_PARAM_STATIC_STRINGS));

  g_object_class_install_properties (object_class, N_PROPS, properties);
}

static void
tether_application_init (TetherApplication *self)
{
}
