/* test-window.c
 *
 * Copyright 2026 The Tether authors
 *
 * SPDX-License-Identifier: GPL-3.0-or-later
 */

#include "config.h"

#include <adwaita.h>

#include "tether-application.h"
#include "tether-window.h"

static void
iterate_until_idle (void)
{
  while (g_main_context_iteration (NULL, FALSE))
    ;
}

/* Walks the widget tree for the first widget that is of @type and, when
 * @action_name is given, whose GtkActionable action is @action_name. */
static GtkWidget *
find_widget (GtkWidget  *root,
             GType       type,
             const char *action_name)
{
  for (GtkWidget *child = gtk_widget_get_first_child (root);
       child != NULL;
       child = gtk_widget_get_next_sibling (child))
    {
      GtkWidget *found;

      if (G_TYPE_CHECK_INSTANCE_TYPE (child, type))
        {
          if (action_name == NULL)
            return child;
          if (GTK_IS_ACTIONABLE (child) &&
              g_strcmp0 (gtk_actionable_get_action_name (GTK_ACTIONABLE (child)), action_name) == 0)
            return child;
        }

      if ((found = find_widget (child, type, action_name)))
        return found;
    }

  return NULL;
}

static TetherApplication *
make_application (void)
{
  static guint counter;
  g_autoptr(GError) error = NULL;
  g_autofree char *app_id = NULL;
  TetherApplication *app;

  /* Each test gets its own id: the D-Bus object path of a finished
   * application is released only when its connection is. */
  app_id = g_strdup_printf ("%s.Test%u", APP_ID, ++counter);
  app = tether_application_new (app_id, G_APPLICATION_NON_UNIQUE);
  g_application_register (G_APPLICATION (app), NULL, &error);
  g_assert_no_error (error);

  return app;
}

static GtkWindow *
find_toplevel_of_type (GType type)
{
  GListModel *toplevels = gtk_window_get_toplevels ();

  for (guint i = 0; i < g_list_model_get_n_items (toplevels); i++)
    {
      g_autoptr(GtkWindow) window = g_list_model_get_item (toplevels, i);

      if (G_TYPE_CHECK_INSTANCE_TYPE (window, type))
        return window;
    }

  return NULL;
}

static void
test_window_structure (void)
{
  g_autoptr(TetherApplication) app = make_application ();
  GtkWindow *window;
  GtkWidget *header;

  g_application_activate (G_APPLICATION (app));
  iterate_until_idle ();

  window = gtk_application_get_active_window (GTK_APPLICATION (app));
  g_assert_true (TETHER_IS_WINDOW (window));
  g_assert_true (gtk_widget_get_visible (GTK_WIDGET (window)));
  g_assert_cmpstr (gtk_window_get_title (window), ==, "Tether");

  header = find_widget (GTK_WIDGET (window), ADW_TYPE_HEADER_BAR, NULL);
  g_assert_nonnull (header);
  g_assert_nonnull (find_widget (header, GTK_TYPE_BUTTON, "win.add"));
  g_assert_nonnull (find_widget (header, GTK_TYPE_BUTTON, "win.sync"));
  g_assert_nonnull (find_widget (header, GTK_TYPE_MENU_BUTTON, NULL));

  /* The empty state offers the way forward: an Add button. */
  g_assert_nonnull (find_widget (GTK_WIDGET (window), ADW_TYPE_STATUS_PAGE, NULL));

  gtk_window_destroy (window);
  iterate_until_idle ();
}

static void
test_window_accels (void)
{
  g_autoptr(TetherApplication) app = make_application ();
  g_auto(GStrv) quit = NULL;
  g_auto(GStrv) add = NULL;
  g_auto(GStrv) sync = NULL;

  g_application_activate (G_APPLICATION (app));
  iterate_until_idle ();

  quit = gtk_application_get_accels_for_action (GTK_APPLICATION (app), "app.quit");
  add = gtk_application_get_accels_for_action (GTK_APPLICATION (app), "win.add");
  sync = gtk_application_get_accels_for_action (GTK_APPLICATION (app), "win.sync");
  g_assert_cmpstrv (quit, ((const char *[]) { "<Control>q", NULL }));
  g_assert_cmpstrv (add, ((const char *[]) { "<Control>n", NULL }));
  g_assert_cmpstrv (sync, ((const char *[]) { "<Control>r", NULL }));

  gtk_window_destroy (gtk_application_get_active_window (GTK_APPLICATION (app)));
  iterate_until_idle ();
}

static void
test_window_about (void)
{
  g_autoptr(TetherApplication) app = make_application ();
  GtkWindow *about;

  g_application_activate (G_APPLICATION (app));
  iterate_until_idle ();

  g_assert_true (g_action_group_has_action (G_ACTION_GROUP (app), "about"));
  g_action_group_activate_action (G_ACTION_GROUP (app), "about", NULL);
  iterate_until_idle ();

  about = find_toplevel_of_type (ADW_TYPE_ABOUT_WINDOW);
  g_assert_nonnull (about);
  g_assert_cmpstr (adw_about_window_get_version (ADW_ABOUT_WINDOW (about)), ==, PACKAGE_VERSION);
  g_assert_cmpstr (adw_about_window_get_application_name (ADW_ABOUT_WINDOW (about)), ==, "Tether");
  g_assert_cmpint (adw_about_window_get_license_type (ADW_ABOUT_WINDOW (about)), ==, GTK_LICENSE_GPL_3_0);
  gtk_window_destroy (about);

  gtk_window_destroy (gtk_application_get_active_window (GTK_APPLICATION (app)));
  iterate_until_idle ();
}

static void
test_window_quit (void)
{
  g_autoptr(TetherApplication) app = make_application ();

  g_application_activate (G_APPLICATION (app));
  iterate_until_idle ();
  g_assert_nonnull (gtk_application_get_active_window (GTK_APPLICATION (app)));

  g_action_group_activate_action (G_ACTION_GROUP (app), "quit", NULL);
  iterate_until_idle ();

  g_assert_null (gtk_application_get_windows (GTK_APPLICATION (app)));
}

int
main (int   argc,
      char *argv[])
{
  g_autofree char *tmpdir = NULL;

  /* Not G_TEST_OPTION_ISOLATE_DIRS: it also empties XDG_DATA_DIRS, and
   * GTK needs the system's icon themes and MIME database. The user's own
   * directories are still kept out of reach. */
  g_test_init (&argc, &argv, NULL);
  tmpdir = g_dir_make_tmp ("tether-test-window-XXXXXX", NULL);
  g_assert_nonnull (tmpdir);
  g_setenv ("HOME", tmpdir, TRUE);
  g_setenv ("XDG_DATA_HOME", tmpdir, TRUE);
  g_setenv ("XDG_CONFIG_HOME", tmpdir, TRUE);
  g_setenv ("XDG_CACHE_HOME", tmpdir, TRUE);
  g_setenv ("XDG_STATE_HOME", tmpdir, TRUE);

  gtk_init ();
  adw_init ();

  g_test_add_func ("/window/structure", test_window_structure);
  g_test_add_func ("/window/accels", test_window_accels);
  g_test_add_func ("/window/about", test_window_about);
  g_test_add_func ("/window/quit", test_window_quit);

  return g_test_run ();
}
