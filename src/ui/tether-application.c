/* tether-application.c
 *
 * Copyright 2026 The Tether authors
 *
 * SPDX-License-Identifier: GPL-3.0-or-later
 */

#include "config.h"

#include <glib/gi18n.h>

#include "tether-application.h"
#include "tether-resources.h"
#include "tether-window.h"

struct _TetherApplication
{
  AdwApplication  parent_instance;

  GSettings      *settings;
  TetherAccount  *account;
  TetherSession  *session;
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

static const GActionEntry app_actions[] = {
  { "quit", tether_application_quit_action },
  { "about", tether_application_about_action },
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
