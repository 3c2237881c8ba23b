/* test-window.c
 *
 * Copyright 2026 The Tether authors
 *
 * SPDX-License-Identifier: GPL-3.0-or-later
 */

#include "config.h"

#include <adwaita.h>

#include "tether-application.h"
#include "tether-preferences-window.h"
#include "tether-record-editor.h"
#include "tether-record-row.h"
#include "tether-test-json-server.h"
#include "tether-test-soup-server.h"
#include "tether-test-util.h"
#include "tether-window.h"

/*
 * Driving the real window: its actions, its widgets, its models. The
 * main loop runs for real; waits are on conditions with a deadline.
 */

static gboolean
deadline_cb (gpointer user_data)
{
  g_error ("Timed out waiting for the window");
  return G_SOURCE_REMOVE;
}

static void
wait_for (gboolean (*condition) (gpointer),
          gpointer   data)
{
  guint id = g_timeout_add_seconds (60, deadline_cb, NULL);

  while (!condition (data))
    g_main_context_iteration (NULL, TRUE);

  g_source_remove (id);
}

static gboolean
time_passed_cb (gpointer user_data)
{
  gboolean *done = user_data;

  *done = TRUE;
  return G_SOURCE_REMOVE;
}

static gboolean
flag_is_set (gpointer data)
{
  return *(gboolean *)data;
}

/* Lets redraws, idles and incremental sorting happen for @ms. */
static void
run_for (guint ms)
{
  gboolean done = FALSE;

  g_timeout_add (ms, time_passed_cb, &done);
  wait_for (flag_is_set, &done);
}

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

static GtkWidget *
find_named (GtkWidget  *root,
            const char *buildable_id)
{
  /* Template children are found by walking to a widget that the tests
   * can tell apart: the id label of rows, the banner... */
  for (GtkWidget *child = gtk_widget_get_first_child (root);
       child != NULL;
       child = gtk_widget_get_next_sibling (child))
    {
      GtkWidget *found;

      /* A widget from a template has a buildable id; the list rows,
       * built in code, name theirs. */
      if (g_strcmp0 (gtk_buildable_get_buildable_id (GTK_BUILDABLE (child)), buildable_id) == 0 ||
          g_strcmp0 (gtk_widget_get_name (child), buildable_id) == 0)
        return child;
      if ((found = find_named (child, buildable_id)))
        return found;
    }

  return NULL;
}

typedef struct
{
  TetherApplication *app;
  TetherWindow      *window;
  TetherSession     *session;
  TetherCollection  *collection;
} Ui;

static gboolean
session_is_open (gpointer data)
{
  Ui *ui = data;

  return tether_session_is_open (ui->session);
}

static guint ui_counter;

/* The collection the next ui_open() without a server uses. */
static char *
next_collection (void)
{
  return g_strdup_printf ("records%u", ui_counter + 1);
}

static void
ui_open_selected (Ui         *ui,
                  const char *server_url,
                  const char *selected_cid,
                  gboolean    wait)
{
  g_autoptr(GError) error = NULL;
  g_autoptr(GSettings) settings = g_settings_new (BASE_APP_ID);
  g_autofree char *app_id = NULL;
  g_autofree char *collection = NULL;
  guint counter = ++ui_counter;

  /* Each test has its own store: its own collection name. */
  collection = g_strdup_printf ("records%u", counter);
  g_settings_set_string (settings, "server-url", server_url ? server_url : "");
  g_settings_set_string (settings, "collection", server_url ? "records" : collection);
  g_settings_set_string (settings, "selected-record", selected_cid ? selected_cid : "");
  g_settings_reset (settings, "window-width");
  g_settings_reset (settings, "window-height");
  g_settings_set_string (settings, "sort-order", "title");

  /* Each test gets its own id: the D-Bus object path of a finished
   * application is released only when its connection is. */
  app_id = g_strdup_printf ("%s.Test%u", APP_ID, counter);
  ui->app = tether_application_new (app_id, G_APPLICATION_NON_UNIQUE);
  g_application_register (G_APPLICATION (ui->app), NULL, &error);
  g_assert_no_error (error);

  g_application_activate (G_APPLICATION (ui->app));
  ui->window = TETHER_WINDOW (gtk_application_get_active_window (GTK_APPLICATION (ui->app)));
  g_assert_true (TETHER_IS_WINDOW (ui->window));
  ui->session = tether_window_get_session (ui->window);
  ui->collection = tether_session_get_collection (ui->session);

  if (wait)
    {
      wait_for (session_is_open, ui);
      run_for (50);
    }
}

static void
ui_open (Ui         *ui,
         const char *server_url)
{
  ui_open_selected (ui, server_url, NULL, TRUE);
}

static void
ui_close (Ui *ui)
{
  TetherApplication *app = g_steal_pointer (&ui->app);
  GtkWindow *window = GTK_WINDOW (g_steal_pointer (&ui->window));
  g_autoptr(GError) error = NULL;

  g_object_add_weak_pointer (G_OBJECT (window), (gpointer *) &window);
  gtk_window_destroy (window);
  run_for (50);
  g_assert_null (window);

  /* What the application does when it shuts down: the last edits reach
   * the disk and the store's lock is let go. (A registered application
   * is kept alive by its D-Bus export, so it is not finalized here.) */
  tether_session_close (ui->session, &error);
  g_assert_no_error (error);
  g_assert_false (tether_store_is_open (tether_session_get_store (ui->session)));
  g_object_unref (app);
}

static void
activate (Ui         *ui,
          const char *action)
{
  g_assert_true (gtk_widget_activate_action (GTK_WIDGET (ui->window), action, NULL));
  run_for (20);
}

static const char *
list_page (Ui *ui)
{
  GtkStack *stack = GTK_STACK (find_named (GTK_WIDGET (ui->window), "list_stack"));

  return gtk_stack_get_visible_child_name (stack);
}

/* The row widget that shows @record, if the list has realized one. */
static TetherRecordRow *
find_row (Ui           *ui,
          TetherRecord *record)
{
  GtkWidget *list = find_named (GTK_WIDGET (ui->window), "list_view");
  GQueue queue = G_QUEUE_INIT;

  g_queue_push_tail (&queue, list);
  while (!g_queue_is_empty (&queue))
    {
      GtkWidget *widget = g_queue_pop_head (&queue);

      if (TETHER_IS_RECORD_ROW (widget) &&
          tether_record_row_get_record (TETHER_RECORD_ROW (widget)) == record)
        {
          g_queue_clear (&queue);
          return TETHER_RECORD_ROW (widget);
        }

      for (GtkWidget *child = gtk_widget_get_first_child (widget);
           child != NULL;
           child = gtk_widget_get_next_sibling (child))
        g_queue_push_tail (&queue, child);
    }

  return NULL;
}

typedef struct
{
  Ui           *ui;
  TetherRecord *record;
} RowWait;

static gboolean
row_is_shown (gpointer data)
{
  RowWait *wait = data;

  return find_row (wait->ui, wait->record) != NULL;
}

/* The row of @record, once incremental sorting has placed it. */
static TetherRecordRow *
wait_for_row (Ui           *ui,
              TetherRecord *record)
{
  RowWait wait = { ui, record };

  wait_for (row_is_shown, &wait);

  return find_row (ui, record);
}

static const char *
row_label (TetherRecordRow *row,
           const char      *name)
{
  GtkWidget *widget = find_named (GTK_WIDGET (row), name);

  if (GTK_IS_INSCRIPTION (widget))
    return gtk_inscription_get_text (GTK_INSCRIPTION (widget));

  return gtk_label_get_text (GTK_LABEL (widget));
}

static const char *
subtitle (Ui *ui)
{
  AdwWindowTitle *title = ADW_WINDOW_TITLE (find_named (GTK_WIDGET (ui->window), "window_title"));

  return adw_window_title_get_subtitle (title);
}

static gboolean
sync_is_idle (gpointer data)
{
  Ui *ui = data;

  return !tether_sync_get_running (tether_session_get_sync (ui->session));
}

static void
sync_and_wait (Ui *ui)
{
  activate (ui, "win.sync");
  wait_for (sync_is_idle, ui);
  run_for (50);
}

/* The toasts a window shows, newest last. */
static GPtrArray *
find_toasts (GtkWidget *root)
{
  GPtrArray *toasts = g_ptr_array_new ();
  GQueue queue = G_QUEUE_INIT;

  g_queue_push_tail (&queue, root);
  while (!g_queue_is_empty (&queue))
    {
      GtkWidget *widget = g_queue_pop_head (&queue);

      if (g_strcmp0 (G_OBJECT_TYPE_NAME (widget), "AdwToastWidget") == 0)
        g_ptr_array_add (toasts, widget);

      for (GtkWidget *child = gtk_widget_get_first_child (widget);
           child != NULL;
           child = gtk_widget_get_next_sibling (child))
        g_queue_push_tail (&queue, child);
    }

  return toasts;
}

static const char *
toast_title (GtkWidget *toast)
{
  GtkWidget *label = find_widget (toast, GTK_TYPE_LABEL, NULL);

  return gtk_label_get_text (GTK_LABEL (label));
}

static gboolean
toast_shown (gpointer data)
{
  g_autoptr(GPtrArray) toasts = find_toasts (data);

  return toasts->len > 0;
}

/*
 * Tests
 */

static void
test_window_structure (void)
{
  Ui ui = { NULL };
  GtkWidget *header;

  ui_open (&ui, NULL);

  g_assert_true (gtk_widget_get_visible (GTK_WIDGET (ui.window)));
  g_assert_cmpstr (gtk_window_get_title (GTK_WINDOW (ui.window)), ==, "Tether");

  header = find_named (GTK_WIDGET (ui.window), "sidebar_header");
  g_assert_nonnull (header);
  g_assert_nonnull (find_widget (header, GTK_TYPE_BUTTON, "win.add"));
  g_assert_nonnull (find_widget (header, GTK_TYPE_BUTTON, "win.sync"));
  g_assert_nonnull (find_named (header, "search_button"));
  g_assert_nonnull (find_widget (header, GTK_TYPE_MENU_BUTTON, NULL));

  /* Every icon button of the header bar is drawn the same, flat: GTK
   * marks a button holding an image as an image button, and the Sync
   * button, which holds a stack (icon or spinner), must be marked too. */
  g_assert_true (gtk_widget_has_css_class (find_widget (header, GTK_TYPE_BUTTON, "win.add"), "image-button"));
  g_assert_true (gtk_widget_has_css_class (find_widget (header, GTK_TYPE_BUTTON, "win.sync"), "image-button"));

  /* An empty store: the status page with its Add button. */
  g_assert_cmpstr (list_page (&ui), ==, "empty");
  g_assert_nonnull (find_widget (find_named (GTK_WIDGET (ui.window), "empty_page"), GTK_TYPE_BUTTON, "win.add"));
  /* Nothing is synced without a server, and the title does not say so. */
  g_assert_cmpstr (subtitle (&ui), ==, "No server set");

  ui_close (&ui);
}

static void
test_window_accels (void)
{
  Ui ui = { NULL };
  struct { const char *action; const char *accel; } expected[] = {
    { "app.quit", "<Control>q" },
    { "win.add", "<Control>n" },
    { "win.sync", "<Control>r" },
    { "app.preferences", "<Control>comma" },
    { "win.show-help-overlay", "<Control>question" },
  };

  ui_open (&ui, NULL);

  for (guint i = 0; i < G_N_ELEMENTS (expected); i++)
    {
      g_auto(GStrv) accels = gtk_application_get_accels_for_action (GTK_APPLICATION (ui.app), expected[i].action);

      g_assert_nonnull (accels);
      g_assert_cmpstr (accels[0], ==, expected[i].accel);
    }

  ui_close (&ui);
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
test_window_about (void)
{
  Ui ui = { NULL };
  GtkWindow *about;

  ui_open (&ui, NULL);

  g_action_group_activate_action (G_ACTION_GROUP (ui.app), "about", NULL);
  run_for (50);

  about = find_toplevel_of_type (ADW_TYPE_ABOUT_WINDOW);
  g_assert_nonnull (about);
  g_assert_cmpstr (adw_about_window_get_version (ADW_ABOUT_WINDOW (about)), ==, PACKAGE_VERSION);
  g_assert_cmpstr (adw_about_window_get_application_name (ADW_ABOUT_WINDOW (about)), ==, "Tether");
  g_assert_cmpint (adw_about_window_get_license_type (ADW_ABOUT_WINDOW (about)), ==, GTK_LICENSE_GPL_3_0);
  g_assert_nonnull (adw_about_window_get_website (ADW_ABOUT_WINDOW (about)));
  gtk_window_destroy (about);

  ui_close (&ui);
}

static void
test_window_add_and_edit (void)
{
  Ui ui = { NULL };
  TetherRecordEditor *editor;
  TetherRecordRow *row;
  TetherRecord *record;

  ui_open (&ui, NULL);

  activate (&ui, "win.add");
  g_assert_cmpuint (g_list_model_get_n_items (G_LIST_MODEL (ui.collection)), ==, 1);
  record = tether_window_get_selected_record (ui.window);
  g_assert_nonnull (record);
  g_assert_cmpstr (list_page (&ui), ==, "list");

  /* The editor shows the new record, its title field ready. */
  editor = TETHER_RECORD_EDITOR (find_named (GTK_WIDGET (ui.window), "editor"));
  g_assert_true (tether_record_editor_get_record (editor) == record);

  row = wait_for_row (&ui, record);
  g_assert_cmpstr (row_label (row, "title_label"), ==, "Untitled");
  g_assert_cmpstr (row_label (row, "id_label"), ==, "Not yet synced");

  /* Typing a title shows in the row by itself. */
  tether_record_set_string (record, "title", "Buy milk");
  run_for (20);
  g_assert_cmpstr (row_label (row, "title_label"), ==, "Buy milk");
  g_assert_cmpstr (subtitle (&ui), ==, "No server set");

  ui_close (&ui);
}

static void
test_window_delete_undo (void)
{
  Ui ui = { NULL };
  TetherRecord *record;
  guint64 revision;

  ui_open (&ui, NULL);

  activate (&ui, "win.add");
  record = g_object_ref (tether_window_get_selected_record (ui.window));
  tether_record_set_string (record, "title", "Keep me & <mine>");
  revision = tether_record_get_revision (record);

  activate (&ui, "win.delete-record");
  g_assert_cmpuint (g_list_model_get_n_items (G_LIST_MODEL (ui.collection)), ==, 0);
  g_assert_cmpstr (list_page (&ui), ==, "empty");
  /* The title as typed, not read as markup. */
  wait_for (toast_shown, ui.window);
  {
    g_autoptr(GPtrArray) toasts = find_toasts (GTK_WIDGET (ui.window));

    g_assert_cmpstr (toast_title (g_ptr_array_index (toasts, 0)), ==, "“Keep me & <mine>” deleted");
  }

  activate (&ui, "win.undo-delete");
  g_assert_cmpuint (g_list_model_get_n_items (G_LIST_MODEL (ui.collection)), ==, 1);
  g_assert_true (g_list_model_get_item (G_LIST_MODEL (ui.collection), 0) == record);
  g_object_unref (record);   /* the reference get_item gave */
  g_assert_cmpint (tether_record_get_sync_state (record), ==, TETHER_SYNC_STATE_PENDING);
  g_assert_cmpuint (tether_record_get_revision (record), ==, revision);
  g_assert_cmpstr (tether_record_get_title (record), ==, "Keep me & <mine>");
  g_assert_true (tether_window_get_selected_record (ui.window) == record);

  /* Undo is once. */
  gtk_widget_activate_action (GTK_WIDGET (ui.window), "win.undo-delete", NULL);
  run_for (20);
  g_assert_cmpuint (g_list_model_get_n_items (G_LIST_MODEL (ui.collection)), ==, 1);

  g_object_unref (record);
  ui_close (&ui);
}

static gboolean
filter_settled (gpointer data)
{
  Ui *ui = data;
  GListModel *visible = tether_window_get_visible_records (ui->window);

  return gtk_filter_list_model_get_pending (GTK_FILTER_LIST_MODEL (visible)) == 0;
}

typedef struct
{
  GListModel *model;
  guint       count;
} CountWait;

static gboolean
count_reached (gpointer data)
{
  CountWait *wait = data;

  return g_list_model_get_n_items (wait->model) == wait->count &&
         gtk_filter_list_model_get_pending (GTK_FILTER_LIST_MODEL (wait->model)) == 0;
}

/* Sorting and filtering run incrementally; wait for them to settle. */
static void
wait_for_count (GListModel *visible,
                guint       count)
{
  CountWait wait = { visible, count };

  wait_for (count_reached, &wait);
}

typedef struct
{
  GListModel *model;
  const char *title;
} FirstWait;

static gboolean
first_is (gpointer data)
{
  FirstWait *wait = data;
  g_autoptr(TetherRecord) first = g_list_model_get_item (wait->model, 0);

  return first != NULL && g_strcmp0 (tether_record_get_title (first), wait->title) == 0;
}

static void
wait_for_first (GListModel *visible,
                const char *title)
{
  FirstWait wait = { visible, title };

  wait_for (first_is, &wait);
}

static void
set_search (Ui         *ui,
            const char *text)
{
  GtkSearchBar *bar = GTK_SEARCH_BAR (find_named (GTK_WIDGET (ui->window), "search_bar"));
  GtkEditable *entry = GTK_EDITABLE (gtk_search_bar_get_child (bar));

  gtk_editable_set_text (entry, text);
  /* The search entry waits a moment before it says the text changed. */
  run_for (400);
  wait_for (filter_settled, ui);
}

static void
test_window_filter_and_sort (void)
{
  static const char * const titles[] = { "Cherry", "apple", "Banana split" };
  Ui ui = { NULL };
  GListModel *visible;
  g_autoptr(GSettings) settings = g_settings_new (BASE_APP_ID);

  ui_open (&ui, NULL);
  visible = tether_window_get_visible_records (ui.window);

  for (guint i = 0; i < G_N_ELEMENTS (titles); i++)
    {
      g_autoptr(TetherRecord) record = tether_record_new ();

      tether_record_set_string (record, "title", titles[i]);
      tether_record_set_string (record, "note", i == 2 ? "with cream" : "plain");
      tether_collection_add (ui.collection, record);
    }
  wait_for_count (visible, 3);

  /* Sorted by title, case-insensitively. */
  wait_for_first (visible, "apple");

  /* By last change: the newest first. */
  g_settings_set_string (settings, "sort-order", "modified");
  wait_for_first (visible, "Banana split");
  g_settings_set_string (settings, "sort-order", "title");
  wait_for_first (visible, "apple");

  /* Every text field counts, whatever the case. */
  activate (&ui, "win.search");
  set_search (&ui, "CREAM");
  wait_for_count (visible, 1);
  wait_for_first (visible, "Banana split");

  set_search (&ui, "an");
  wait_for_count (visible, 1);

  set_search (&ui, "zzz");
  wait_for_count (visible, 0);
  g_assert_cmpstr (list_page (&ui), ==, "no-results");

  set_search (&ui, "");
  wait_for_count (visible, 3);
  g_assert_cmpstr (list_page (&ui), ==, "list");

  /* An edited record is searched as it is now, not as it was when the
   * search last looked at it. */
  {
    g_autoptr(TetherRecord) cherry = g_list_model_get_item (visible, 2);

    g_assert_cmpstr (tether_record_get_title (cherry), ==, "Cherry");
    tether_record_set_string (cherry, "note", "with jam");
    set_search (&ui, "JAM");
    wait_for_count (visible, 1);
    wait_for_first (visible, "Cherry");
    set_search (&ui, "");
    wait_for_count (visible, 3);
  }

  /* A retitled record takes its new place once the typing pauses. */
  {
    g_autoptr(TetherRecord) apple = g_list_model_get_item (visible, 0);

    g_assert_cmpstr (tether_record_get_title (apple), ==, "apple");
    tether_record_set_string (apple, "title", "Zucchini");
    wait_for_first (visible, "Banana split");
    wait_for_count (visible, 3);
    {
      g_autoptr(TetherRecord) last = g_list_model_get_item (visible, 2);

      g_assert_cmpstr (tether_record_get_title (last), ==, "Zucchini");
    }
  }

  ui_close (&ui);
}

static TetherTestJsonServer *
start_json_server (const char *db)
{
  g_autoptr(GError) error = NULL;
  TetherTestJsonServer *server = tether_test_json_server_new (db, &error);

  g_assert_no_error (error);

  return server;
}

static void
test_window_sync (void)
{
  g_autoptr(TetherTestJsonServer) server = start_json_server (NULL);
  g_autoptr(JsonArray) records = NULL;
  TetherRecordRow *row;
  TetherRecord *record;
  Ui ui = { NULL };

  ui_open (&ui, tether_test_json_server_get_url (server));

  activate (&ui, "win.add");
  record = tether_window_get_selected_record (ui.window);
  tether_record_set_string (record, "title", "From the train");
  row = wait_for_row (&ui, record);
  g_assert_cmpstr (row_label (row, "id_label"), ==, "Not yet synced");
  g_assert_cmpstr (subtitle (&ui), ==, "1 change to send");

  sync_and_wait (&ui);

  /* The server's id reached the row through notify::id alone. */
  g_assert_cmpstr (row_label (row, "id_label"), ==, "#1");
  g_assert_cmpstr (subtitle (&ui), ==, "All changes synced");
  g_assert_cmpuint (tether_collection_get_n_unsynced (ui.collection), ==, 0);

  records = tether_test_json_server_dup_collection (server, "records");
  g_assert_cmpuint (json_array_get_length (records), ==, 1);
  g_assert_cmpstr (json_object_get_string_member (json_array_get_object_element (records, 0), "title"),
                   ==, "From the train");

  ui_close (&ui);
}

static void
test_window_offline (void)
{
  g_autoptr(TetherTestJsonServer) server = start_json_server (NULL);
  g_autofree char *url = g_strdup (tether_test_json_server_get_url (server));
  GtkRevealer *banner;
  Ui ui = { NULL };

  tether_test_json_server_stop (server);
  ui_open (&ui, url);

  activate (&ui, "win.add");
  tether_record_set_string (tether_window_get_selected_record (ui.window), "title", "Kept");
  sync_and_wait (&ui);

  banner = GTK_REVEALER (find_named (GTK_WIDGET (ui.window), "banner_revealer"));
  g_assert_true (gtk_revealer_get_reveal_child (banner));
  g_assert_cmpstr (gtk_label_get_text (GTK_LABEL (find_named (GTK_WIDGET (ui.window), "banner_label"))),
                   ==, "Offline — changes are kept and will be sent when you sync");
  g_assert_cmpstr (gtk_actionable_get_action_name (GTK_ACTIONABLE (find_named (GTK_WIDGET (ui.window), "banner_button"))),
                   ==, "win.sync");
  g_assert_cmpstr (subtitle (&ui), ==, "Offline");
  /* Nothing lost. */
  g_assert_cmpuint (tether_collection_get_n_unsynced (ui.collection), ==, 1);

  ui_close (&ui);
}

/* The Sync button tells when the last sync was, also after a restart:
 * the store keeps that time, and it is read once the store is open. */
static void
test_window_sync_tooltip (void)
{
  g_autoptr(TetherTestJsonServer) server = start_json_server (NULL);
  const char *url = tether_test_json_server_get_url (server);
  GtkWidget *button;
  Ui ui = { NULL };

  ui_open (&ui, url);
  button = find_widget (GTK_WIDGET (ui.window), GTK_TYPE_BUTTON, "win.sync");
  g_assert_cmpstr (gtk_widget_get_tooltip_text (button), ==, "Sync (never synced yet)");
  sync_and_wait (&ui);
  g_assert_true (g_str_has_prefix (gtk_widget_get_tooltip_text (button), "Sync (last synced "));
  ui_close (&ui);

  ui_open (&ui, url);
  button = find_widget (GTK_WIDGET (ui.window), GTK_TYPE_BUTTON, "win.sync");
  g_assert_true (g_str_has_prefix (gtk_widget_get_tooltip_text (button), "Sync (last synced "));
  ui_close (&ui);
}

static void
test_window_conflict (void)
{
  g_autoptr(TetherTestJsonServer) server = start_json_server ("{\"records\": [{\"id\": 1, \"title\": \"Agenda\"}]}");
  g_autoptr(JsonNode) reply = NULL;
  g_autoptr(JsonArray) records = NULL;
  g_autoptr(GError) error = NULL;
  g_autoptr(TetherRecord) record = NULL;
  TetherRecordEditor *editor;
  TetherRecordRow *row;
  Ui ui = { NULL };
  guint status = 0;

  ui_open (&ui, tether_test_json_server_get_url (server));
  sync_and_wait (&ui);
  g_assert_cmpuint (g_list_model_get_n_items (G_LIST_MODEL (ui.collection)), ==, 1);
  record = g_list_model_get_item (G_LIST_MODEL (ui.collection), 0);

  tether_record_set_string (record, "title", "Agenda (mine)");
  reply = tether_test_json_server_request (server, "PATCH", "/records/1", "{\"title\": \"Agenda (theirs)\"}",
                                           &status, &error);
  g_assert_no_error (error);
  sync_and_wait (&ui);

  g_assert_cmpint (tether_record_get_sync_state (record), ==, TETHER_SYNC_STATE_CONFLICT);
  /* A conflict is not a change to send: it waits for the user. */
  g_assert_cmpstr (subtitle (&ui), ==, "1 conflict");
  activate (&ui, "win.add");
  tether_record_set_string (tether_window_get_selected_record (ui.window), "title", "Another");
  run_for (20);
  g_assert_cmpstr (subtitle (&ui), ==, "1 to send, 1 conflict");
  row = wait_for_row (&ui, record);
  /* The row marks it; its tooltip, made when asked for, says so. */
  {
    GtkWidget *icon = find_named (GTK_WIDGET (row), "state_icon");

    g_assert_cmpstr (gtk_image_get_icon_name (GTK_IMAGE (icon)), ==,
                     tether_sync_state_icon_name (TETHER_SYNC_STATE_CONFLICT));
    g_assert_true (gtk_widget_has_css_class (icon, "sync-state-conflict"));
    g_assert_true (gtk_widget_get_has_tooltip (icon));
    g_assert_cmpstr (tether_sync_state_describe (TETHER_SYNC_STATE_CONFLICT), ==, "In conflict with the server");
  }

  /* The editor offers both; keeping mine makes it pending. */
  tether_window_select_record (ui.window, record);
  run_for (50);
  editor = TETHER_RECORD_EDITOR (find_named (GTK_WIDGET (ui.window), "editor"));
  g_assert_true (tether_record_editor_get_record (editor) == record);
  g_signal_emit_by_name (editor, "resolve", NULL, TRUE);
  g_assert_cmpint (tether_record_get_sync_state (record), ==, TETHER_SYNC_STATE_PENDING);
  g_assert_cmpstr (subtitle (&ui), ==, "2 changes to send");

  sync_and_wait (&ui);
  g_assert_cmpint (tether_record_get_sync_state (record), ==, TETHER_SYNC_STATE_SYNCED);
  g_assert_cmpstr (subtitle (&ui), ==, "All changes synced");
  records = tether_test_json_server_dup_collection (server, "records");
  g_assert_cmpstr (json_object_get_string_member (json_array_get_object_element (records, 0), "title"),
                   ==, "Agenda (mine)");

  g_clear_object (&record);
  ui_close (&ui);
}

static void
test_window_preferences (void)
{
  Ui ui = { NULL };
  GtkWindow *preferences;

  ui_open (&ui, NULL);

  g_action_group_activate_action (G_ACTION_GROUP (ui.app), "preferences", NULL);
  run_for (50);
  preferences = find_toplevel_of_type (TETHER_TYPE_PREFERENCES_WINDOW);
  g_assert_nonnull (preferences);
  g_assert_true (gtk_window_get_transient_for (preferences) == GTK_WINDOW (ui.window));

  /* One at a time. */
  g_action_group_activate_action (G_ACTION_GROUP (ui.app), "preferences", NULL);
  run_for (50);
  g_assert_cmpuint (g_list_length (gtk_application_get_windows (GTK_APPLICATION (ui.app))), ==, 2);

  gtk_window_destroy (preferences);
  ui_close (&ui);
}

static gboolean
preferences_shown (gpointer data)
{
  return find_toplevel_of_type (TETHER_TYPE_PREFERENCES_WINDOW) != NULL;
}

/* A refused sign-in opens the place where it is fixed, and sends
 * nothing. */
static void
test_window_auth_failure (void)
{
  g_autoptr(TetherTestSoupServer) server = tether_test_soup_server_new ();
  g_autoptr(GSettings) settings = g_settings_new (BASE_APP_ID);
  GtkWindow *preferences;
  Ui ui = { NULL };

  tether_test_soup_server_set_required_authorization (server, "Bearer not-this-one");
  g_settings_set_string (settings, "auth-kind", "bearer");
  ui_open (&ui, tether_test_soup_server_get_url (server));

  activate (&ui, "win.add");
  tether_record_set_string (tether_window_get_selected_record (ui.window), "title", "Private");
  /* The secret is looked up in the keyring before the sync starts. */
  activate (&ui, "win.sync");
  wait_for (preferences_shown, NULL);
  wait_for (sync_is_idle, &ui);

  preferences = find_toplevel_of_type (TETHER_TYPE_PREFERENCES_WINDOW);
  g_assert_cmpuint (tether_test_soup_server_get_n_records (server), ==, 0);
  g_assert_cmpuint (tether_collection_get_n_unsynced (ui.collection), ==, 1);
  g_assert_cmpstr (subtitle (&ui), ==, "Last sync failed");

  /* One message, where it is fixed: none in the main window. */
  wait_for (toast_shown, preferences);
  run_for (100);
  {
    g_autoptr(GPtrArray) in_window = find_toasts (GTK_WIDGET (ui.window));
    g_autoptr(GPtrArray) in_preferences = find_toasts (GTK_WIDGET (preferences));

    g_assert_cmpuint (in_window->len, ==, 0);
    g_assert_cmpuint (in_preferences->len, ==, 1);
    g_assert_cmpstr (toast_title (g_ptr_array_index (in_preferences, 0)), ==,
                     "The server did not accept the token");
  }

  gtk_window_destroy (preferences);
  g_settings_reset (settings, "auth-kind");
  ui_close (&ui);
}

/* A failed sync says so in a few words that fit, and gives the whole
 * message, with its advice, behind Details. */
static void
test_window_error_details (void)
{
  g_autoptr(TetherTestSoupServer) server = tether_test_soup_server_new ();
  g_autoptr(GPtrArray) toasts = NULL;
  GtkWidget *details;
  GtkWindow *dialog;
  Ui ui = { NULL };

  tether_test_soup_server_push_fault (server, &(TetherTestFault) {
    .kind = TETHER_TEST_FAULT_STATUS, .method = "GET", .times = 100,
    .status = 400, .body = "{\"error\": \"nope\"}", .content_type = "application/json" });
  ui_open (&ui, tether_test_soup_server_get_url (server));
  sync_and_wait (&ui);
  wait_for (toast_shown, ui.window);

  toasts = find_toasts (GTK_WIDGET (ui.window));
  g_assert_cmpuint (toasts->len, ==, 1);
  g_assert_cmpstr (toast_title (g_ptr_array_index (toasts, 0)), ==, "Refused by the server");
  g_assert_cmpstr (subtitle (&ui), ==, "Last sync failed");

  details = find_widget (g_ptr_array_index (toasts, 0), GTK_TYPE_BUTTON, NULL);
  g_assert_cmpstr (gtk_button_get_label (GTK_BUTTON (details)), ==, "_Details");
  g_signal_emit_by_name (details, "clicked");
  run_for (50);

  dialog = find_toplevel_of_type (ADW_TYPE_MESSAGE_DIALOG);
  g_assert_nonnull (dialog);
  g_assert_cmpstr (adw_message_dialog_get_heading (ADW_MESSAGE_DIALOG (dialog)), ==, "Refused by the server");
  g_assert_true (strlen (adw_message_dialog_get_body (ADW_MESSAGE_DIALOG (dialog))) >
                 strlen ("Refused by the server"));
  g_test_message ("Details: %s", adw_message_dialog_get_body (ADW_MESSAGE_DIALOG (dialog)));
  gtk_window_destroy (dialog);

  ui_close (&ui);
}

/* Another collection in Preferences is another store: the window follows. */
static void
test_window_switch_collection (void)
{
  g_autoptr(GSettings) settings = g_settings_new (BASE_APP_ID);
  g_autofree char *first = NULL;
  TetherSession *before;
  Ui ui = { NULL };

  ui_open (&ui, NULL);
  first = g_settings_get_string (settings, "collection");
  before = g_object_ref (ui.session);

  activate (&ui, "win.add");
  tether_record_set_string (tether_window_get_selected_record (ui.window), "title", "In the first");
  g_assert_cmpuint (g_list_model_get_n_items (tether_window_get_visible_records (ui.window)) +
                    g_list_model_get_n_items (G_LIST_MODEL (ui.collection)), >=, 1);

  g_settings_set_string (settings, "collection", "elsewhere");
  ui.session = tether_window_get_session (ui.window);
  ui.collection = tether_session_get_collection (ui.session);
  g_assert_true (ui.session != before);
  wait_for (session_is_open, &ui);
  run_for (50);
  g_assert_cmpuint (g_list_model_get_n_items (G_LIST_MODEL (ui.collection)), ==, 0);
  g_assert_cmpstr (list_page (&ui), ==, "empty");
  g_assert_false (tether_store_is_open (tether_session_get_store (before)));

  /* And back: the first store kept its record. */
  g_settings_set_string (settings, "collection", first);
  ui.session = tether_window_get_session (ui.window);
  ui.collection = tether_session_get_collection (ui.session);
  wait_for (session_is_open, &ui);
  wait_for_count (tether_window_get_visible_records (ui.window), 1);

  g_object_unref (before);
  ui_close (&ui);
}

/* The row's second line is the first other text field, cut to 80
 * characters between two of them, whatever their size in bytes. */
static void
test_window_row_detail (void)
{
  g_autoptr(TetherRecord) record = tether_record_new ();
  g_autoptr(GString) long_text = g_string_new (NULL);
  g_autoptr(GString) expected = g_string_new (NULL);
  g_autoptr(JsonNode) title = json_node_init_string (json_node_alloc (), "Groceries");
  g_autoptr(JsonNode) note = NULL;
  GtkWidget *row = g_object_ref_sink (tether_record_row_new ());

  tether_record_set_attribute (record, "title", title);

  /* Shorter than the limit: kept whole, its line breaks made spaces. */
  note = json_node_init_string (json_node_alloc (), "oat\nmilk");
  tether_record_set_attribute (record, "note", note);
  tether_record_row_set_record (TETHER_RECORD_ROW (row), record);
  g_assert_cmpstr (row_label (TETHER_RECORD_ROW (row), "detail_label"), ==, "oat milk");

  /* Longer, in characters of two, three and four bytes. */
  for (guint i = 0; i < 100; i++)
    g_string_append (long_text, "é€𝄞");
  for (guint i = 0; i < 26; i++)
    g_string_append (expected, "é€𝄞");
  g_string_append (expected, "é€");
  json_node_unref (note);
  note = json_node_init_string (json_node_alloc (), long_text->str);
  tether_record_set_attribute (record, "note", note);
  g_assert_cmpstr (row_label (TETHER_RECORD_ROW (row), "detail_label"), ==, expected->str);
  g_assert_cmpint (g_utf8_strlen (row_label (TETHER_RECORD_ROW (row), "detail_label"), -1), ==, 80);

  tether_record_row_set_record (TETHER_RECORD_ROW (row), NULL);
  g_object_unref (row);
  g_assert_finalize_object (g_steal_pointer (&record));
}

/* A store of @n records as a pull would have left it (synced, with an
 * id, compacted to one snapshot), in the offline store of @collection.
 * Titles are "Record 00000"…, so the sorted order is the order made.
 * Returns the client id of record @keep. */
static char *
fill_store (const char *collection,
            guint       n,
            guint       keep)
{
  g_autoptr(TetherAccount) account = tether_account_new ();
  g_autoptr(TetherSession) session = NULL;
  g_autoptr(GPtrArray) records = g_ptr_array_new_full (n, g_object_unref);
  g_autoptr(GAsyncResult) result = NULL;
  g_autoptr(GError) error = NULL;
  char *cid = NULL;
  TetherStore *store;

  tether_account_set_server_url (account, "");
  tether_account_set_collection (account, collection);
  session = tether_session_new (account, NULL);
  tether_session_open (session, &error);
  g_assert_no_error (error);
  store = tether_session_get_store (session);

  /* Added in an order that is not the sorted one. */
  for (guint j = 0; j < n; j++)
    {
      guint i = (j * 7919) % n;
      g_autoptr(JsonObject) attributes = json_object_new ();
      g_autoptr(JsonNode) id = json_node_init_int (json_node_alloc (), i + 1);
      g_autofree char *title = g_strdup_printf ("Record %05u", i);
      TetherRecord *record;

      json_object_set_string_member (attributes, "title", title);
      json_object_set_string_member (attributes, "note", i % 2 ? "odd" : "even");
      record = tether_record_new_from_server (id, attributes);
      if (i == keep)
        cid = g_strdup (tether_record_get_cid (record));
      g_ptr_array_add (records, record);
    }

  tether_collection_add_many (tether_session_get_collection (session),
                              (TetherRecord **) records->pdata, records->len);
  while (g_main_context_iteration (NULL, FALSE))
    ;
  tether_store_flush (store, &error);
  g_assert_no_error (error);
  tether_store_compact_async (store, NULL, tether_test_async_result_cb, &result);
  tether_test_wait_for_result (&result);
  tether_store_compact_finish (store, result, &error);
  g_assert_no_error (error);
  tether_session_close (session, &error);
  g_assert_no_error (error);

  return cid;
}

/* How many record rows lie, at least in part, inside the list's visible
 * area. */
static guint
count_rows_in_view (Ui *ui)
{
  GtkWidget *list = find_named (GTK_WIDGET (ui->window), "list_view");
  int height = gtk_widget_get_height (list);
  guint n = 0;

  for (GtkWidget *child = gtk_widget_get_first_child (list);
       child != NULL;
       child = gtk_widget_get_next_sibling (child))
    {
      graphene_rect_t bounds;

      if (!gtk_widget_get_mapped (child) ||
          !gtk_widget_compute_bounds (child, list, &bounds))
        continue;
      if (bounds.origin.y + bounds.size.height > 0 && bounds.origin.y < height)
        n++;
    }

  return n;
}

typedef struct
{
  Ui    *ui;
  guint  frames;
  guint  blank_frames;
} FrameWatch;

/* After each frame is painted: the list page is up and records exist,
 * yet no row is drawn in it. */
static void
after_paint_cb (GdkFrameClock *clock,
                FrameWatch    *watch)
{
  Ui *ui = watch->ui;

  if (ui->window == NULL || !tether_session_is_open (ui->session) ||
      g_strcmp0 (list_page (ui), "list") != 0)
    return;

  watch->frames++;
  if (count_rows_in_view (ui) == 0)
    watch->blank_frames++;
}

static gboolean
models_settled (gpointer data)
{
  Ui *ui = data;
  GtkFilterListModel *visible = GTK_FILTER_LIST_MODEL (tether_window_get_visible_records (ui->window));
  GtkSortListModel *sorted = GTK_SORT_LIST_MODEL (gtk_filter_list_model_get_model (visible));

  return tether_session_is_open (ui->session) &&
         g_list_model_get_n_items (G_LIST_MODEL (ui->collection)) > 0 &&
         gtk_filter_list_model_get_pending (visible) == 0 &&
         gtk_sort_list_model_get_pending (sorted) == 0;
}

static TetherRecord *
list_selected_record (Ui *ui)
{
  GtkListView *list = GTK_LIST_VIEW (find_named (GTK_WIDGET (ui->window), "list_view"));
  GtkSingleSelection *selection = GTK_SINGLE_SELECTION (gtk_list_view_get_model (list));

  return gtk_single_selection_get_selected_item (selection);
}

/* A row of @record is drawn inside the list's visible area. */
static gboolean
row_in_view (Ui           *ui,
             TetherRecord *record)
{
  GtkWidget *list = find_named (GTK_WIDGET (ui->window), "list_view");
  TetherRecordRow *row = find_row (ui, record);
  graphene_rect_t bounds;

  if (row == NULL || !gtk_widget_get_mapped (GTK_WIDGET (row)) ||
      !gtk_widget_compute_bounds (GTK_WIDGET (row), list, &bounds))
    return FALSE;

  return bounds.origin.y >= 0 &&
         bounds.origin.y + bounds.size.height <= gtk_widget_get_height (list);
}

static gboolean
row_comes_into_view (gpointer data)
{
  RowWait *wait = data;

  return row_in_view (wait->ui, wait->record);
}

/* Scrolling takes effect when the list is next laid out, a frame later. */
static void
wait_for_row_in_view (Ui           *ui,
                      TetherRecord *record)
{
  RowWait wait = { ui, record };

  wait_for (row_comes_into_view, &wait);
}

/* A large store: the list is never left blank while it loads and sorts,
 * and the record selected last time is selected again, in view, once
 * the sorting is done. */
static void
test_window_big_list (void)
{
  g_autofree char *collection = next_collection ();
  g_autofree char *cid = fill_store (collection, 2000, 1234);
  FrameWatch watch = { NULL };
  GdkFrameClock *clock;
  TetherRecord *record;
  gulong handler;
  Ui ui = { NULL };

  ui_open_selected (&ui, NULL, cid, FALSE);
  watch.ui = &ui;
  clock = gtk_widget_get_frame_clock (GTK_WIDGET (ui.window));
  handler = g_signal_connect (clock, "after-paint", G_CALLBACK (after_paint_cb), &watch);

  wait_for (session_is_open, &ui);
  wait_for (models_settled, &ui);
  run_for (300);
  g_signal_handler_disconnect (clock, handler);

  g_assert_cmpuint (g_list_model_get_n_items (tether_window_get_visible_records (ui.window)), ==, 2000);
  g_assert_cmpuint (watch.frames, >, 0);
  g_assert_cmpuint (watch.blank_frames, ==, 0);

  record = tether_collection_lookup_cid (ui.collection, cid);
  g_assert_nonnull (record);
  g_assert_true (tether_window_get_selected_record (ui.window) == record);
  g_assert_true (list_selected_record (&ui) == record);
  wait_for_row_in_view (&ui, record);

  ui_close (&ui);
}

/* The position of @record in the list, or GTK_INVALID_LIST_POSITION. */
static guint
list_position (Ui           *ui,
               TetherRecord *record)
{
  GListModel *visible = tether_window_get_visible_records (ui->window);

  for (guint i = 0; i < g_list_model_get_n_items (visible); i++)
    {
      g_autoptr(TetherRecord) item = g_list_model_get_item (visible, i);

      if (item == record)
        return i;
    }

  return GTK_INVALID_LIST_POSITION;
}

/* A single click on the row of @record, as GTK delivers it: the row's own
 * click gesture selects the row when the button is released, then the
 * release bubbles up to the click gestures of the list view around it. */
static void
click_row (Ui           *ui,
           TetherRecord *record)
{
  GtkWidget *list = find_named (GTK_WIDGET (ui->window), "list_view");
  TetherRecordRow *row = wait_for_row (ui, record);
  g_autoptr(GListModel) controllers = gtk_widget_observe_controllers (list);
  graphene_point_t center, point;

  center = GRAPHENE_POINT_INIT (gtk_widget_get_width (GTK_WIDGET (row)) / 2.f,
                                gtk_widget_get_height (GTK_WIDGET (row)) / 2.f);
  g_assert_true (gtk_widget_compute_point (GTK_WIDGET (row), list, &center, &point));

  g_assert_true (gtk_widget_activate_action (GTK_WIDGET (row), "list.select-item", "(ubb)",
                                             list_position (ui, record), FALSE, FALSE));

  for (guint i = 0; i < g_list_model_get_n_items (controllers); i++)
    {
      g_autoptr(GtkEventController) controller = g_list_model_get_item (controllers, i);

      if (GTK_IS_GESTURE_CLICK (controller) &&
          gtk_event_controller_get_propagation_phase (controller) == GTK_PHASE_BUBBLE)
        g_signal_emit_by_name (controller, "released", 1, (double) point.x, (double) point.y);
    }

  run_for (50);
}

static gboolean
leaflet_is_folded (gpointer data)
{
  Ui *ui = data;

  return adw_leaflet_get_folded (ADW_LEAFLET (find_named (GTK_WIDGET (ui->window), "leaflet")));
}

static const char *
leaflet_page (Ui *ui)
{
  AdwLeaflet *leaflet = ADW_LEAFLET (find_named (GTK_WIDGET (ui->window), "leaflet"));

  return gtk_buildable_get_buildable_id (GTK_BUILDABLE (adw_leaflet_get_visible_child (leaflet)));
}

/* On a narrow window the list fills it: a click on a record opens it, and
 * so does Enter, while moving the selection with the keyboard does not. */
static void
test_window_folded_open (void)
{
  Ui ui = { NULL };
  TetherRecord *records[3];
  TetherRecordEditor *editor;

  ui_open (&ui, NULL);
  for (guint i = 0; i < G_N_ELEMENTS (records); i++)
    {
      g_autofree char *title = g_strdup_printf ("Narrow %u", i);
      g_autoptr(TetherRecord) record = tether_record_new ();

      tether_record_set_string (record, "title", title);
      tether_collection_add (ui.collection, record);
      records[i] = record;
    }
  wait_for_count (tether_window_get_visible_records (ui.window), 3);

  gtk_window_set_default_size (GTK_WINDOW (ui.window), 360, 600);
  wait_for (leaflet_is_folded, &ui);
  run_for (50);
  g_assert_cmpstr (leaflet_page (&ui), ==, "sidebar");
  editor = TETHER_RECORD_EDITOR (find_named (GTK_WIDGET (ui.window), "editor"));

  click_row (&ui, records[1]);
  g_assert_true (tether_window_get_selected_record (ui.window) == records[1]);
  g_assert_cmpstr (leaflet_page (&ui), ==, "content");
  g_assert_true (tether_record_editor_get_record (editor) == records[1]);

  /* Back, and the same row again: already selected, it still opens. */
  activate (&ui, "win.back");
  g_assert_cmpstr (leaflet_page (&ui), ==, "sidebar");
  click_row (&ui, records[1]);
  g_assert_cmpstr (leaflet_page (&ui), ==, "content");

  /* The keyboard moves the selection without leaving the list... */
  activate (&ui, "win.back");
  g_assert_true (gtk_widget_activate_action (find_named (GTK_WIDGET (ui.window), "list_view"),
                                             "list.select-item", "(ubb)",
                                             list_position (&ui, records[2]), FALSE, FALSE));
  run_for (50);
  g_assert_true (tether_window_get_selected_record (ui.window) == records[2]);
  g_assert_cmpstr (leaflet_page (&ui), ==, "sidebar");

  /* ...and Enter opens the record. */
  g_assert_true (gtk_widget_activate_action (find_named (GTK_WIDGET (ui.window), "list_view"),
                                             "list.activate-item", "u",
                                             list_position (&ui, records[2])));
  run_for (50);
  g_assert_cmpstr (leaflet_page (&ui), ==, "content");
  g_assert_true (tether_record_editor_get_record (editor) == records[2]);

  ui_close (&ui);
}

static int
sidebar_width (Ui *ui)
{
  run_for (100);

  return gtk_widget_get_width (find_named (GTK_WIDGET (ui->window), "sidebar"));
}

/* The divider between the list and the editor stays where it is whatever
 * the editor shows, a banner or a deletion. */
static void
test_window_sidebar_width (void)
{
  g_autoptr(TetherTestJsonServer) server = start_json_server (NULL);
  g_autofree char *url = g_strdup (tether_test_json_server_get_url (server));
  g_autoptr(GString) long_text = g_string_new (NULL);
  TetherRecord *plain, *wide;
  Ui ui = { NULL };
  int width;

  tether_test_json_server_stop (server);
  ui_open (&ui, url);
  gtk_window_set_default_size (GTK_WINDOW (ui.window), 1100, 700);
  run_for (100);
  g_assert_false (leaflet_is_folded (&ui));
  width = sidebar_width (&ui);
  g_assert_cmpint (width, >=, 300);
  g_assert_cmpint (width, <=, 400);

  activate (&ui, "win.add");
  plain = tether_window_get_selected_record (ui.window);
  tether_record_set_string (plain, "title", "Short");
  g_assert_cmpint (sidebar_width (&ui), ==, width);

  for (guint i = 0; i < 40; i++)
    g_string_append (long_text, "unbreakable-words-without-spaces-");
  activate (&ui, "win.add");
  wide = tether_window_get_selected_record (ui.window);
  tether_record_set_string (wide, "title", "A title that is long enough to be cut in the list and the header");
  tether_record_set_string (wide, "note", long_text->str);
  tether_window_select_record (ui.window, NULL);
  tether_window_select_record (ui.window, wide);
  g_assert_cmpint (sidebar_width (&ui), ==, width);

  tether_window_select_record (ui.window, plain);
  g_assert_cmpint (sidebar_width (&ui), ==, width);

  /* The offline banner, with its long sentence. */
  sync_and_wait (&ui);
  g_assert_true (gtk_revealer_get_reveal_child (GTK_REVEALER (find_named (GTK_WIDGET (ui.window), "banner_revealer"))));
  g_assert_cmpint (sidebar_width (&ui), ==, width);

  activate (&ui, "win.delete-record");
  g_assert_cmpint (sidebar_width (&ui), ==, width);

  ui_close (&ui);
}

/* A store whose file is partly unreadable: the window says so in plain
 * words, shows where the original was kept on demand, and lets the user
 * dismiss the message. */
static void
test_window_damaged_store (void)
{
  g_autofree char *collection = next_collection ();
  g_autoptr(GFile) directory = tether_store_default_directory ("", collection);
  g_autofree char *snapshot = g_build_filename (g_file_peek_path (directory), "snapshot.jsonl", NULL);
  g_autofree char *contents = NULL;
  g_auto(GStrv) lines = NULL;
  g_autoptr(GError) error = NULL;
  g_autofree char *damaged = NULL;
  GtkRevealer *banner;
  GtkWidget *button, *close;
  const char *text;
  GtkWindow *dialog;
  GtkWidget *extra;
  Ui ui = { NULL };

  /* A record line in the middle of the snapshot becomes garbage. */
  g_free (fill_store (collection, 5, 0));
  g_file_get_contents (snapshot, &contents, NULL, &error);
  g_assert_no_error (error);
  lines = g_strsplit (contents, "\n", -1);
  g_assert_cmpuint (g_strv_length (lines), >=, 4);
  g_free (lines[2]);
  lines[2] = g_strdup ("{\"cid\": \"broken");
  damaged = g_strjoinv ("\n", lines);
  g_file_set_contents (snapshot, damaged, -1, &error);
  g_assert_no_error (error);

  ui_open (&ui, NULL);
  wait_for_count (tether_window_get_visible_records (ui.window), 4);

  banner = GTK_REVEALER (find_named (GTK_WIDGET (ui.window), "banner_revealer"));
  g_assert_true (gtk_revealer_get_reveal_child (banner));
  text = gtk_label_get_text (GTK_LABEL (find_named (GTK_WIDGET (ui.window), "banner_label")));
  g_assert_cmpstr (text, ==, "Some records could not be read. All the others are here.");
  g_assert_null (strchr (text, '/'));

  /* Where the original is, one click further. */
  button = find_named (GTK_WIDGET (ui.window), "banner_button");
  g_assert_true (gtk_widget_get_visible (button));
  g_assert_cmpstr (gtk_actionable_get_action_name (GTK_ACTIONABLE (button)), ==, "win.damage-details");
  activate (&ui, "win.damage-details");
  dialog = find_toplevel_of_type (ADW_TYPE_MESSAGE_DIALOG);
  g_assert_nonnull (dialog);
  extra = adw_message_dialog_get_extra_child (ADW_MESSAGE_DIALOG (dialog));
  g_assert_cmpstr (gtk_label_get_text (GTK_LABEL (extra)), ==, g_file_peek_path (directory));
  g_assert_true (adw_message_dialog_has_response (ADW_MESSAGE_DIALOG (dialog), "open"));
  gtk_window_destroy (dialog);

  /* And it can be dismissed. */
  close = find_named (GTK_WIDGET (ui.window), "banner_close_button");
  g_assert_true (gtk_widget_get_visible (close));
  g_signal_emit_by_name (close, "clicked");
  run_for (20);
  g_assert_false (gtk_revealer_get_reveal_child (banner));

  ui_close (&ui);
}

static gboolean focus_is_in (Ui        *ui,
                             GtkWidget *ancestor);

/* A search that hides the selected record keeps it in the editor; when
 * the search closes it is selected again and scrolled into view. Text
 * inside nested objects and arrays matches too. */
static void
test_window_search_keeps_selection (void)
{
  g_autofree char *collection = next_collection ();
  g_autofree char *cid = fill_store (collection, 60, 45);
  g_autoptr(TetherRecord) tagged = tether_record_new ();
  g_autoptr(JsonNode) meta = NULL;
  GtkSearchBar *bar;
  TetherRecord *record;
  GListModel *visible;
  Ui ui = { NULL };

  ui_open_selected (&ui, NULL, cid, TRUE);
  visible = tether_window_get_visible_records (ui.window);
  wait_for (models_settled, &ui);
  run_for (200);
  record = tether_collection_lookup_cid (ui.collection, cid);
  g_assert_true (list_selected_record (&ui) == record);
  wait_for_row_in_view (&ui, record);

  /* A record whose only match is deep inside. */
  meta = json_from_string ("{\"tags\": [\"plain\", {\"place\": \"Zanzibar\"}]}", NULL);
  tether_record_set_string (tagged, "title", "Trip");
  tether_record_set_attribute (tagged, "meta", meta);
  tether_collection_add (ui.collection, tagged);
  wait_for_count (visible, 61);

  activate (&ui, "win.search");
  set_search (&ui, "zanzibar");
  wait_for_count (visible, 1);
  wait_for_first (visible, "Trip");

  /* The selected record is hidden, not dropped. */
  g_assert_true (tether_window_get_selected_record (ui.window) == record);

  /* Closing the search brings it back, selected and in view. */
  bar = GTK_SEARCH_BAR (find_named (GTK_WIDGET (ui.window), "search_bar"));
  gtk_search_bar_set_search_mode (bar, FALSE);
  set_search (&ui, "");
  wait_for_count (visible, 61);
  run_for (200);
  g_assert_true (tether_window_get_selected_record (ui.window) == record);
  g_assert_true (list_selected_record (&ui) == record);
  wait_for_row_in_view (&ui, record);
  /* The keyboard is back on it too. */
  g_assert_true (focus_is_in (&ui, gtk_widget_get_parent (GTK_WIDGET (find_row (&ui, record)))));

  ui_close (&ui);
}

/* A Tab key press as GTK handles it: the key controllers of the focus
 * widget and its ancestors get it in the capture phase, from the window
 * down; when none takes it, the window moves the focus along its chain. */
static void
press_tab (Ui       *ui,
           gboolean  backward)
{
  GtkWidget *focus = gtk_root_get_focus (GTK_ROOT (ui->window));
  g_autoptr(GPtrArray) path = g_ptr_array_new ();
  guint keyval = backward ? GDK_KEY_ISO_Left_Tab : GDK_KEY_Tab;
  GdkModifierType state = backward ? GDK_SHIFT_MASK : 0;

  g_assert_nonnull (focus);
  for (GtkWidget *widget = focus; widget != NULL; widget = gtk_widget_get_parent (widget))
    g_ptr_array_insert (path, 0, widget);

  for (guint i = 0; i < path->len; i++)
    {
      g_autoptr(GListModel) controllers = gtk_widget_observe_controllers (g_ptr_array_index (path, i));

      for (guint j = 0; j < g_list_model_get_n_items (controllers); j++)
        {
          g_autoptr(GtkEventController) controller = g_list_model_get_item (controllers, j);
          gboolean handled = FALSE;

          if (!GTK_IS_EVENT_CONTROLLER_KEY (controller) ||
              gtk_event_controller_get_propagation_phase (controller) != GTK_PHASE_CAPTURE)
            continue;

          g_signal_emit_by_name (controller, "key-pressed", keyval, 0, state, &handled);
          if (handled)
            {
              run_for (20);
              return;
            }
        }
    }

  g_signal_emit_by_name (ui->window, "move-focus", backward ? GTK_DIR_TAB_BACKWARD : GTK_DIR_TAB_FORWARD);
  run_for (20);
}

static gboolean
focus_is_in (Ui        *ui,
             GtkWidget *ancestor)
{
  GtkWidget *focus = gtk_root_get_focus (GTK_ROOT (ui->window));

  return focus != NULL && (focus == ancestor || gtk_widget_is_ancestor (focus, ancestor));
}

static gboolean
focus_is_inside (Ui         *ui,
                 const char *name)
{
  return focus_is_in (ui, find_named (GTK_WIDGET (ui->window), name));
}

/* Tab leaves the list for the editor instead of walking row by row, and
 * Shift+Tab goes back out of the list the other way. */
static void
test_window_tab_from_list (void)
{
  g_autofree char *collection = next_collection ();
  g_autofree char *cid = fill_store (collection, 10, 3);
  TetherRecordRow *row;
  Ui ui = { NULL };

  ui_open_selected (&ui, NULL, cid, TRUE);
  wait_for (models_settled, &ui);
  run_for (100);

  row = wait_for_row (&ui, tether_collection_lookup_cid (ui.collection, cid));
  g_assert_true (gtk_widget_grab_focus (gtk_widget_get_parent (GTK_WIDGET (row))));
  g_assert_true (focus_is_inside (&ui, "list_view"));

  press_tab (&ui, FALSE);
  g_assert_true (focus_is_inside (&ui, "editor"));

  g_assert_true (gtk_widget_grab_focus (gtk_widget_get_parent (GTK_WIDGET (row))));
  press_tab (&ui, TRUE);
  g_assert_false (focus_is_inside (&ui, "list_view"));
  g_assert_true (focus_is_inside (&ui, "sidebar_header"));

  /* With the search open, Shift+Tab goes to the search entry. */
  activate (&ui, "win.search");
  g_assert_true (gtk_widget_grab_focus (gtk_widget_get_parent (GTK_WIDGET (row))));
  press_tab (&ui, TRUE);
  g_assert_true (focus_is_in (&ui, gtk_search_bar_get_child (GTK_SEARCH_BAR (find_named (GTK_WIDGET (ui.window), "search_bar")))));

  ui_close (&ui);
}

static gboolean
banner_shown (gpointer data)
{
  Ui *ui = data;

  return gtk_revealer_get_reveal_child (GTK_REVEALER (find_named (GTK_WIDGET (ui->window), "banner_revealer")));
}

static gboolean
banner_hidden (gpointer data)
{
  return !banner_shown (data);
}

/* Records made before a server was set are kept in a store of their own:
 * once there is a server the window says they are there, and moves them
 * into the server's collection on request, for the next sync to create. */
static void
test_window_local_records (void)
{
  g_autoptr(GSettings) settings = g_settings_new (BASE_APP_ID);
  g_autofree char *collection = next_collection ();
  g_autofree char *db = g_strdup_printf ("{\"records\": [], \"%s\": []}", collection);
  g_autoptr(TetherTestJsonServer) server = start_json_server (db);
  g_autoptr(JsonArray) on_server = NULL;
  GListModel *visible;
  GtkWidget *button;
  Ui ui = { NULL };

  ui_open (&ui, NULL);
  g_assert_cmpstr (g_settings_get_string (settings, "collection"), ==, collection);
  activate (&ui, "win.add");
  tether_record_set_string (tether_window_get_selected_record (ui.window), "title", "Made on the train");
  activate (&ui, "win.add");
  tether_record_set_string (tether_window_get_selected_record (ui.window), "title", "Made at home");
  run_for (50);

  /* A server is set: its store is another one, empty. */
  g_settings_set_string (settings, "server-url", tether_test_json_server_get_url (server));
  ui.session = tether_window_get_session (ui.window);
  ui.collection = tether_session_get_collection (ui.session);
  wait_for (session_is_open, &ui);
  visible = tether_window_get_visible_records (ui.window);
  g_assert_cmpuint (g_list_model_get_n_items (visible), ==, 0);

  /* The window says where the records are. */
  wait_for (banner_shown, &ui);
  g_assert_cmpstr (gtk_label_get_text (GTK_LABEL (find_named (GTK_WIDGET (ui.window), "banner_label"))),
                   ==, "2 records made without a server are kept apart");
  button = find_named (GTK_WIDGET (ui.window), "banner_button");
  g_assert_cmpstr (gtk_actionable_get_action_name (GTK_ACTIONABLE (button)), ==, "win.adopt-records");

  /* Moved here, they are changes to send... */
  activate (&ui, "win.adopt-records");
  wait_for_count (visible, 2);
  wait_for (banner_hidden, &ui);
  g_assert_cmpstr (subtitle (&ui), ==, "2 changes to send");

  /* ...which the next sync creates on the server. */
  sync_and_wait (&ui);
  on_server = tether_test_json_server_dup_collection (server, collection);
  g_assert_cmpuint (json_array_get_length (on_server), ==, 2);
  g_assert_cmpstr (subtitle (&ui), ==, "All changes synced");

  ui_close (&ui);

  /* Nothing is left behind, so nothing is offered again. */
  ui_open (&ui, tether_test_json_server_get_url (server));
  g_settings_set_string (settings, "collection", collection);
  ui.session = tether_window_get_session (ui.window);
  ui.collection = tether_session_get_collection (ui.session);
  wait_for (session_is_open, &ui);
  wait_for_count (tether_window_get_visible_records (ui.window), 2);
  run_for (200);
  g_assert_false (banner_shown (&ui));
  ui_close (&ui);
}

/* A row's detail line leaves out the client-id field under the name the
 * account gives it, as the editor does. */
static void
test_window_row_bookkeeping (void)
{
  Ui ui = { NULL };
  TetherRecordRow *row;
  TetherRecord *record;

  ui_open (&ui, NULL);
  tether_account_set_client_id_field (tether_session_get_account (ui.session), "ref");

  activate (&ui, "win.add");
  record = tether_window_get_selected_record (ui.window);
  tether_record_set_string (record, "title", "Buy milk");
  tether_record_set_string (record, "ref", "made-on-the-laptop");
  tether_record_set_string (record, "note", "semi-skimmed");

  row = wait_for_row (&ui, record);
  run_for (20);
  g_assert_cmpstr (row_label (row, "detail_label"), ==, "semi-skimmed");

  ui_close (&ui);
}

static void
test_window_quit (void)
{
  Ui ui = { NULL };

  ui_open (&ui, NULL);
  g_action_group_activate_action (G_ACTION_GROUP (ui.app), "quit", NULL);
  run_for (50);
  g_assert_null (gtk_application_get_windows (GTK_APPLICATION (ui.app)));
  tether_session_close (ui.session, NULL);
  g_clear_object (&ui.app);
}

int
main (int   argc,
      char *argv[])
{
  tether_test_init (&argc, &argv);
  gtk_init ();
  adw_init ();
  /* The application registers the UI resources, which a row made without
   * it (/window/row-detail) needs too. */
  g_type_class_unref (g_type_class_ref (TETHER_TYPE_APPLICATION));

  g_test_add_func ("/window/structure", test_window_structure);
  g_test_add_func ("/window/accels", test_window_accels);
  g_test_add_func ("/window/about", test_window_about);
  g_test_add_func ("/window/add-and-edit", test_window_add_and_edit);
  g_test_add_func ("/window/delete-undo", test_window_delete_undo);
  g_test_add_func ("/window/filter-and-sort", test_window_filter_and_sort);
  g_test_add_func ("/window/sync", test_window_sync);
  g_test_add_func ("/window/offline", test_window_offline);
  g_test_add_func ("/window/sync-tooltip", test_window_sync_tooltip);
  g_test_add_func ("/window/conflict", test_window_conflict);
  g_test_add_func ("/window/preferences", test_window_preferences);
  g_test_add_func ("/window/auth-failure", test_window_auth_failure);
  g_test_add_func ("/window/error-details", test_window_error_details);
  g_test_add_func ("/window/switch-collection", test_window_switch_collection);
  g_test_add_func ("/window/row-detail", test_window_row_detail);
  g_test_add_func ("/window/row-bookkeeping", test_window_row_bookkeeping);
  g_test_add_func ("/window/quit", test_window_quit);
  g_test_add_func ("/window/big-list", test_window_big_list);
  g_test_add_func ("/window/folded-open", test_window_folded_open);
  g_test_add_func ("/window/sidebar-width", test_window_sidebar_width);
  g_test_add_func ("/window/damaged-store", test_window_damaged_store);
  g_test_add_func ("/window/search-keeps-selection", test_window_search_keeps_selection);
  g_test_add_func ("/window/tab-from-list", test_window_tab_from_list);
  g_test_add_func ("/window/local-records", test_window_local_records);

  return g_test_run ();
}
