/* test-record-editor.c
 *
 * Copyright 2026 The Tether authors
 *
 * SPDX-License-Identifier: GPL-3.0-or-later
 */

#include "config.h"

#include <string.h>

#include <adwaita.h>

#include "tether-record-editor.h"
#include "tether-record-row.h"
#include "tether-resources.h"
#include "tether-session.h"

typedef struct
{
  GtkWindow          *window;
  TetherRecordEditor *editor;
  TetherRecord       *record;
} Fixture;

static void
iterate_until_idle (void)
{
  while (g_main_context_iteration (NULL, FALSE))
    ;
}

/* One step of the main loop that does not block when nothing is due,
 * for waiting on the frame clock (animations, X11 mapping). */
static void
step_main_loop (void)
{
  if (!g_main_context_iteration (NULL, FALSE))
    g_usleep (G_USEC_PER_SEC / 1000);
}

/* Popovers are placed relative to the window's monitor, which X11 knows
 * only once the window is mapped. */
static void
wait_for_monitor (GtkWindow *window)
{
  gint64 until = g_get_monotonic_time () + 5 * G_USEC_PER_SEC;

  while (g_get_monotonic_time () < until)
    {
      GdkSurface *surface = gtk_native_get_surface (GTK_NATIVE (window));

      if (gtk_widget_get_mapped (GTK_WIDGET (window)) && surface != NULL &&
          gdk_display_get_monitor_at_surface (gdk_surface_get_display (surface), surface) != NULL)
        return;

      step_main_loop ();
    }

  g_assert_not_reached ();
}

static JsonObject *
parse_object (const char *json)
{
  g_autoptr(GError) error = NULL;
  g_autoptr(JsonNode) node = json_from_string (json, &error);

  g_assert_no_error (error);
  g_assert_true (JSON_NODE_HOLDS_OBJECT (node));

  return json_object_ref (json_node_get_object (node));
}

static JsonNode *
parse_node (const char *json)
{
  g_autoptr(GError) error = NULL;
  JsonNode *node = json_from_string (json, &error);

  g_assert_no_error (error);

  return node;
}

static void
set_json (TetherRecord *record,
          const char   *name,
          const char   *json)
{
  g_autoptr(JsonNode) node = parse_node (json);

  tether_record_set_attribute (record, name, node);
}

/* A new local record with one attribute of each kind, in this order. */
static TetherRecord *
make_local_record (void)
{
  TetherRecord *record = tether_record_new ();

  set_json (record, "clientId", "\"a1b2c3\"");
  set_json (record, "title", "\"Groceries\"");
  set_json (record, "notes", "\"Milk\\nEggs\"");
  set_json (record, "summary", "\"This sentence is rather longer than eighty characters, so it gets a view of its own.\"");
  set_json (record, "count", "42");
  set_json (record, "price", "2.5");
  set_json (record, "done", "true");
  set_json (record, "nothing", "null");
  set_json (record, "meta", "{\"a\": 1, \"b\": [true, null]}");
  set_json (record, "tags", "[1, 2, 3]");
  set_json (record, "Fish & <Chips>", "\"markup is not parsed\"");
  set_json (record, "big", "9007199254740993");

  return record;
}

static TetherRecord *
make_server_record (void)
{
  g_autoptr(JsonNode) id = parse_node ("7");
  g_autoptr(JsonObject) attributes =
    parse_object ("{\"title\": \"A\", \"done\": false, \"count\": 1, \"notes\": \"one\\ntwo\"}");

  return tether_record_new_from_server (id, attributes);
}

static void
fixture_show (Fixture      *fixture,
              TetherRecord *record)
{
  fixture->record = record;
  fixture->window = GTK_WINDOW (gtk_window_new ());
  /* Well inside the 1280×800 screen of the test run: popovers and
   * tooltips are placed on the monitor under their anchor, and X11 has
   * none for a point off the screen. */
  gtk_window_set_default_size (fixture->window, 480, 600);
  fixture->editor = TETHER_RECORD_EDITOR (tether_record_editor_new ());
  gtk_window_set_child (fixture->window, GTK_WIDGET (fixture->editor));
  tether_record_editor_set_record (fixture->editor, record);
  gtk_window_present (fixture->window);
  wait_for_monitor (fixture->window);
  iterate_until_idle ();
}

static void
fixture_setup_local (Fixture       *fixture,
                     gconstpointer  data)
{
  fixture_show (fixture, make_local_record ());
}

static void
fixture_setup_server (Fixture       *fixture,
                      gconstpointer  data)
{
  fixture_show (fixture, make_server_record ());
}

static void
fixture_teardown (Fixture       *fixture,
                  gconstpointer  data)
{
  gtk_window_destroy (fixture->window);
  iterate_until_idle ();

  /* The editor let go of the record and of its signal handlers. */
  g_assert_finalize_object (fixture->record);
}

static GObject *
template_child (Fixture    *fixture,
                const char *name)
{
  GObject *child = gtk_widget_get_template_child (GTK_WIDGET (fixture->editor),
                                                  TETHER_TYPE_RECORD_EDITOR,
                                                  name);
  g_assert_nonnull (child);

  return child;
}

static GtkWidget *
find_descendant (GtkWidget  *root,
                 GType       type,
                 const char *label)
{
  for (GtkWidget *child = gtk_widget_get_first_child (root);
       child != NULL;
       child = gtk_widget_get_next_sibling (child))
    {
      GtkWidget *found;

      if (G_TYPE_CHECK_INSTANCE_TYPE (child, type))
        {
          if (label == NULL)
            return child;
          if (GTK_IS_BUTTON (child) &&
              (g_strcmp0 (gtk_button_get_label (GTK_BUTTON (child)), label) == 0 ||
               g_strcmp0 (gtk_widget_get_tooltip_text (child), label) == 0))
            return child;
          if (GTK_IS_LABEL (child) && g_strcmp0 (gtk_label_get_text (GTK_LABEL (child)), label) == 0)
            return child;
        }

      if ((found = find_descendant (child, type, label)))
        return found;
    }

  return NULL;
}

static guint
count_rows (GtkListBox *list)
{
  guint n = 0;

  for (GtkWidget *child = gtk_widget_get_first_child (GTK_WIDGET (list));
       child != NULL;
       child = gtk_widget_get_next_sibling (child))
    if (GTK_IS_LIST_BOX_ROW (child) && gtk_widget_get_visible (child))
      n++;

  return n;
}

static GtkListBoxRow *
field_row_at (Fixture *fixture,
              guint    index)
{
  return gtk_list_box_get_row_at_index (GTK_LIST_BOX (template_child (fixture, "fields_list")), index);
}

static GtkWidget *
field_row (Fixture    *fixture,
           const char *name)
{
  GtkListBox *list = GTK_LIST_BOX (template_child (fixture, "fields_list"));
  GtkListBoxRow *row;

  for (guint i = 0; (row = gtk_list_box_get_row_at_index (list, i)) != NULL; i++)
    if (g_strcmp0 (adw_preferences_row_get_title (ADW_PREFERENCES_ROW (row)), name) == 0)
      return GTK_WIDGET (row);

  return NULL;
}

static void
count_cb (guint *count)
{
  (*count)++;
}

static gboolean
focus_is_in (Fixture   *fixture,
             GtkWidget *widget)
{
  GtkWidget *focus = gtk_root_get_focus (GTK_ROOT (fixture->window));

  return focus != NULL && (focus == widget || gtk_widget_is_ancestor (focus, widget));
}

static void
test_rows (Fixture       *fixture,
           gconstpointer  data)
{
  static const char * const order[] = {
    "title", "notes", "summary", "count", "price", "done", "nothing", "meta", "tags",
    "Fish & <Chips>", "big",
  };
  GtkListBox *list = GTK_LIST_BOX (template_child (fixture, "fields_list"));
  GtkWidget *row;
  GtkWidget *widget;

  g_assert_true (gtk_widget_get_visible (GTK_WIDGET (template_child (fixture, "page"))));

  /* One row per attribute, in member order; the client id is not one. */
  g_assert_cmpuint (count_rows (list), ==, G_N_ELEMENTS (order));
  for (guint i = 0; i < G_N_ELEMENTS (order); i++)
    g_assert_cmpstr (adw_preferences_row_get_title (ADW_PREFERENCES_ROW (field_row_at (fixture, i))), ==, order[i]);
  g_assert_null (field_row (fixture, "clientId"));

  row = field_row (fixture, "title");
  g_assert_true (ADW_IS_ENTRY_ROW (row));
  g_assert_cmpstr (gtk_editable_get_text (GTK_EDITABLE (row)), ==, "Groceries");

  row = field_row (fixture, "Fish & <Chips>");
  g_assert_true (ADW_IS_ENTRY_ROW (row));
  g_assert_cmpstr (gtk_editable_get_text (GTK_EDITABLE (row)), ==, "markup is not parsed");

  for (guint i = 0; i < 2; i++)
    {
      GtkTextBuffer *buffer;
      GtkTextIter start, end;
      g_autofree char *text = NULL;

      row = field_row (fixture, i == 0 ? "notes" : "summary");
      widget = find_descendant (row, GTK_TYPE_TEXT_VIEW, NULL);
      g_assert_nonnull (widget);
      g_assert_cmpint (gtk_text_view_get_wrap_mode (GTK_TEXT_VIEW (widget)), ==, GTK_WRAP_WORD_CHAR);
      g_assert_false (gtk_text_view_get_accepts_tab (GTK_TEXT_VIEW (widget)));
      buffer = gtk_text_view_get_buffer (GTK_TEXT_VIEW (widget));
      gtk_text_buffer_get_bounds (buffer, &start, &end);
      text = gtk_text_buffer_get_text (buffer, &start, &end, FALSE);
      g_assert_cmpstr (text, ==, json_node_get_string (tether_record_get_attribute (fixture->record, i == 0 ? "notes" : "summary")));
      g_assert_nonnull (find_descendant (row, GTK_TYPE_LABEL, i == 0 ? "notes" : "summary"));
    }

  row = field_row (fixture, "count");
  g_assert_true (ADW_IS_ACTION_ROW (row));
  widget = find_descendant (row, GTK_TYPE_SPIN_BUTTON, NULL);
  g_assert_nonnull (widget);
  g_assert_cmpuint (gtk_spin_button_get_digits (GTK_SPIN_BUTTON (widget)), ==, 0);
  g_assert_cmpfloat (gtk_spin_button_get_value (GTK_SPIN_BUTTON (widget)), ==, 42);

  row = field_row (fixture, "price");
  widget = find_descendant (row, GTK_TYPE_SPIN_BUTTON, NULL);
  g_assert_nonnull (widget);
  g_assert_cmpuint (gtk_spin_button_get_digits (GTK_SPIN_BUTTON (widget)), >, 0);
  g_assert_cmpfloat (gtk_spin_button_get_value (GTK_SPIN_BUTTON (widget)), ==, 2.5);

  row = field_row (fixture, "done");
  g_assert_true (ADW_IS_ACTION_ROW (row));
  widget = find_descendant (row, GTK_TYPE_SWITCH, NULL);
  g_assert_nonnull (widget);
  g_assert_true (gtk_switch_get_active (GTK_SWITCH (widget)));
  g_assert_true (adw_action_row_get_activatable_widget (ADW_ACTION_ROW (row)) == widget);

  row = field_row (fixture, "nothing");
  g_assert_true (ADW_IS_ACTION_ROW (row));
  g_assert_cmpstr (adw_action_row_get_subtitle (ADW_ACTION_ROW (row)), ==, "Empty");
  g_assert_null (find_descendant (row, GTK_TYPE_EDITABLE, NULL));

  row = field_row (fixture, "meta");
  widget = find_descendant (row, GTK_TYPE_LABEL, "{\"a\": 1, \"b\": [true, null]}");
  g_assert_nonnull (widget);
  g_assert_true (gtk_widget_has_css_class (widget, "monospace"));
  g_assert_true (gtk_label_get_selectable (GTK_LABEL (widget)));
  g_assert_true (gtk_label_get_wrap (GTK_LABEL (widget)));
  g_assert_null (find_descendant (row, GTK_TYPE_EDITABLE, NULL));

  row = field_row (fixture, "tags");
  g_assert_nonnull (find_descendant (row, GTK_TYPE_LABEL, "[1, 2, 3]"));

  /* Beyond what a spin button holds exactly: shown, never rounded. */
  row = field_row (fixture, "big");
  g_assert_nonnull (find_descendant (row, GTK_TYPE_LABEL, "9007199254740993"));
  g_assert_null (find_descendant (row, GTK_TYPE_SPIN_BUTTON, NULL));

  /* Every editable row can be removed. */
  for (guint i = 0; i < G_N_ELEMENTS (order); i++)
    {
      GtkWidget *button = find_descendant (field_row (fixture, order[i]), GTK_TYPE_BUTTON, "Remove Field");

      g_assert_nonnull (button);
      g_assert_true (gtk_widget_has_css_class (button, "flat"));
    }
}

static void
test_json_layout (Fixture       *fixture,
                  gconstpointer  data)
{
  GtkWidget *label;

  /* Long containers break up; short ones inside stay on one line. */
  set_json (fixture->record, "meta",
            "{\"name\": \"a fairly long name for a nested value\", \"list\": [1, 2, 3], "
            "\"more\": {\"deep\": \"enough to break the line once again\", \"x\": 1}}");
  iterate_until_idle ();

  label = find_descendant (field_row (fixture, "meta"), GTK_TYPE_LABEL,
                           "{\n"
                           "  \"name\": \"a fairly long name for a nested value\",\n"
                           "  \"list\": [1, 2, 3],\n"
                           "  \"more\": {\n"
                           "    \"deep\": \"enough to break the line once again\",\n"
                           "    \"x\": 1\n"
                           "  }\n"
                           "}");
  g_assert_nonnull (label);
}

static void
test_about (Fixture       *fixture,
            gconstpointer  data)
{
  GtkWidget *about = GTK_WIDGET (template_child (fixture, "about_group"));
  GtkWidget *client_id_row = GTK_WIDGET (template_child (fixture, "client_id_row"));
  GtkWidget *id_field_row = GTK_WIDGET (template_child (fixture, "id_field_row"));
  GtkLabel *server_id_label = GTK_LABEL (template_child (fixture, "server_id_label"));
  g_autoptr(JsonNode) id = parse_node ("42");

  /* Read-only: nothing in the group takes text or a toggle. */
  g_assert_null (find_descendant (about, GTK_TYPE_EDITABLE, NULL));
  g_assert_null (find_descendant (about, GTK_TYPE_SWITCH, NULL));

  g_assert_true (gtk_widget_get_visible (client_id_row));
  g_assert_cmpstr (adw_preferences_row_get_title (ADW_PREFERENCES_ROW (client_id_row)), ==, "clientId");
  g_assert_nonnull (find_descendant (client_id_row, GTK_TYPE_LABEL, "a1b2c3"));
  g_assert_false (gtk_widget_get_visible (id_field_row));
  g_assert_cmpstr (gtk_label_get_text (server_id_label), ==, "Not yet synced");
  g_assert_cmpstr (gtk_label_get_text (GTK_LABEL (template_child (fixture, "state_label"))), ==,
                   "Changed, not yet sent");

  /* The server id arrives: shown at once. */
  tether_record_set_id (fixture->record, id);
  g_assert_cmpstr (gtk_label_get_text (server_id_label), ==, "42");

  /* An id field among the attributes is shown, not edited. */
  set_json (fixture->record, "id", "42");
  g_assert_true (gtk_widget_get_visible (id_field_row));
  g_assert_null (field_row (fixture, "id"));
  g_assert_nonnull (find_descendant (id_field_row, GTK_TYPE_LABEL, "42"));

  /* Other names for the fields move rows between the groups. */
  tether_record_editor_set_client_id_field (fixture->editor, "uuid");
  g_assert_cmpstr (tether_record_editor_get_client_id_field (fixture->editor), ==, "uuid");
  g_assert_false (gtk_widget_get_visible (client_id_row));
  g_assert_true (ADW_IS_ENTRY_ROW (field_row (fixture, "clientId")));

  g_object_set (fixture->editor, "id-field", "title", NULL);
  g_assert_cmpstr (tether_record_editor_get_id_field (fixture->editor), ==, "title");
  g_assert_null (field_row (fixture, "title"));
  g_assert_nonnull (field_row (fixture, "id"));
  g_assert_nonnull (find_descendant (id_field_row, GTK_TYPE_LABEL, "Groceries"));
}

static void
test_error_state (Fixture       *fixture,
                  gconstpointer  data)
{
  GtkWidget *error_row = GTK_WIDGET (template_child (fixture, "error_row"));
  const char *message = "422 Unprocessable: <title> & \"body\" are required";

  g_assert_false (gtk_widget_get_visible (error_row));

  tether_record_set_error_message (fixture->record, message);
  tether_record_set_sync_state (fixture->record, TETHER_SYNC_STATE_ERROR);
  g_assert_true (gtk_widget_get_visible (error_row));
  g_assert_true (gtk_widget_has_css_class (error_row, "error"));
  g_assert_cmpstr (adw_preferences_row_get_title (ADW_PREFERENCES_ROW (error_row)), ==, message);
  g_assert_cmpstr (gtk_label_get_text (GTK_LABEL (template_child (fixture, "state_label"))), ==,
                   "Could not be sent");

  tether_record_set_sync_state (fixture->record, TETHER_SYNC_STATE_PENDING);
  g_assert_false (gtk_widget_get_visible (error_row));
}

static void
test_type_text (Fixture       *fixture,
                gconstpointer  data)
{
  GtkWidget *row = field_row (fixture, "title");
  guint changes = 0;

  GtkWidget *text = GTK_WIDGET (gtk_editable_get_delegate (GTK_EDITABLE (row)));
  const char *typed = " list";

  g_signal_connect_swapped (fixture->record, "changed::title", G_CALLBACK (count_cb), &changes);

  /* Typed at the end, a key at a time: one change per key, and the row
   * and its cursor stay where they are. */
  gtk_widget_grab_focus (text);
  gtk_editable_set_position (GTK_EDITABLE (row), -1);
  for (guint i = 0; typed[i] != '\0'; i++)
    {
      int position = gtk_editable_get_position (GTK_EDITABLE (row));

      gtk_editable_insert_text (GTK_EDITABLE (row), &typed[i], 1, &position);
      gtk_editable_set_position (GTK_EDITABLE (row), position);
      iterate_until_idle ();
      g_assert_cmpuint (changes, ==, i + 1);
    }
  g_assert_cmpstr (json_node_get_string (tether_record_get_attribute (fixture->record, "title")), ==, "Groceries list");
  g_assert_true (field_row (fixture, "title") == row);
  g_assert_true (gtk_editable_get_delegate (GTK_EDITABLE (row)) == GTK_EDITABLE (text));
  g_assert_true (focus_is_in (fixture, row));
  g_assert_cmpint (gtk_editable_get_position (GTK_EDITABLE (row)), ==, strlen ("Groceries list"));
  g_assert_cmpint (tether_record_get_sync_state (fixture->record), ==, TETHER_SYNC_STATE_PENDING);

  /* Deleting is a change too. */
  gtk_editable_delete_text (GTK_EDITABLE (row), 9, -1);
  g_assert_cmpuint (changes, ==, strlen (typed) + 1);
  g_assert_cmpstr (json_node_get_string (tether_record_get_attribute (fixture->record, "title")), ==, "Groceries");

  /* Replacing the whole text lands in the record as well. */
  gtk_editable_set_text (GTK_EDITABLE (row), "Hello");
  g_assert_cmpstr (json_node_get_string (tether_record_get_attribute (fixture->record, "title")), ==, "Hello");
  g_assert_true (field_row (fixture, "title") == row);

  g_signal_handlers_disconnect_by_data (fixture->record, &changes);
}

static void
test_type_text_keeps_focus (Fixture       *fixture,
                            gconstpointer  data)
{
  GtkWidget *row = field_row (fixture, "title");
  g_autofree char *long_text = g_strnfill (100, 'x');

  g_assert_true (tether_record_editor_focus_field (fixture->editor, "title"));
  g_assert_true (focus_is_in (fixture, row));

  /* Growing past the long-text length while typing keeps the entry. */
  gtk_editable_set_text (GTK_EDITABLE (row), long_text);
  set_json (fixture->record, "count", "7");
  iterate_until_idle ();
  g_assert_true (field_row (fixture, "title") == row);
  g_assert_true (focus_is_in (fixture, row));
  g_assert_cmpstr (json_node_get_string (tether_record_get_attribute (fixture->record, "title")), ==, long_text);
}

static void
test_long_text (Fixture       *fixture,
                gconstpointer  data)
{
  GtkWidget *view = find_descendant (field_row (fixture, "notes"), GTK_TYPE_TEXT_VIEW, NULL);
  GtkTextBuffer *buffer = gtk_text_view_get_buffer (GTK_TEXT_VIEW (view));
  GtkTextIter end;
  guint changes = 0;

  g_signal_connect_swapped (fixture->record, "changed::notes", G_CALLBACK (count_cb), &changes);

  gtk_text_buffer_get_end_iter (buffer, &end);
  gtk_text_buffer_insert (buffer, &end, "\nBread", -1);
  g_assert_cmpstr (json_node_get_string (tether_record_get_attribute (fixture->record, "notes")), ==, "Milk\nEggs\nBread");
  g_assert_cmpuint (changes, ==, 1);

  /* Shorter than a line: still the same view. */
  gtk_text_buffer_set_text (buffer, "Tea", -1);
  g_assert_cmpstr (json_node_get_string (tether_record_get_attribute (fixture->record, "notes")), ==, "Tea");
  g_assert_true (find_descendant (field_row (fixture, "notes"), GTK_TYPE_TEXT_VIEW, NULL) == view);

  g_signal_handlers_disconnect_by_data (fixture->record, &changes);
}

static gboolean
text_view_fits (GtkWidget *view)
{
  GtkAdjustment *adjustment = gtk_scrollable_get_vadjustment (GTK_SCROLLABLE (view));

  return gtk_widget_get_mapped (view) &&
         gtk_adjustment_get_upper (adjustment) > 1 &&
         gtk_adjustment_get_upper (adjustment) <= gtk_widget_get_height (view);
}

static void
wait_for_fit (GtkWidget *view)
{
  gint64 until = g_get_monotonic_time () + 5 * G_USEC_PER_SEC;

  while (!text_view_fits (view) && g_get_monotonic_time () < until)
    step_main_loop ();
}

/* A one-line text too long for an entry row, which would cut it off
 * without a sign, wraps in a view that shows all of it, however narrow
 * the window. */
static void
test_long_line (Fixture       *fixture,
                gconstpointer  data)
{
  g_autoptr(GString) text = g_string_new (NULL);
  GtkWidget *view;
  GtkAdjustment *adjustment;
  double one_width;

  /* Past an entry row's width in a narrow window, but no line break. */
  set_json (fixture->record, "subtitle", "\"Figures from the regional offices, to be checked\"");
  iterate_until_idle ();
  g_assert_false (ADW_IS_ENTRY_ROW (field_row (fixture, "subtitle")));
  view = find_descendant (field_row (fixture, "subtitle"), GTK_TYPE_TEXT_VIEW, NULL);
  g_assert_nonnull (view);
  g_assert_cmpint (gtk_text_view_get_wrap_mode (GTK_TEXT_VIEW (view)), !=, GTK_WRAP_NONE);
  g_assert_true (ADW_IS_ENTRY_ROW (field_row (fixture, "title")));

  /* All of its text is shown: nothing is left to scroll to. */
  wait_for_fit (view);
  g_assert_true (text_view_fits (view));
  adjustment = gtk_scrollable_get_vadjustment (GTK_SCROLLABLE (view));
  one_width = gtk_adjustment_get_upper (adjustment);

  /* Many lines' worth, then a narrower window: it grows each time. */
  for (guint i = 0; i < 12; i++)
    g_string_append (text, "A long sentence about the trip that wraps. ");
  tether_record_set_string (fixture->record, "subtitle", text->str);
  iterate_until_idle ();
  g_assert_true (find_descendant (field_row (fixture, "subtitle"), GTK_TYPE_TEXT_VIEW, NULL) == view);
  wait_for_fit (view);
  g_assert_true (text_view_fits (view));
  g_assert_cmpfloat (gtk_adjustment_get_upper (adjustment), >, 3 * one_width / 2);

  gtk_window_set_default_size (fixture->window, 360, 600);
  for (gint64 until = g_get_monotonic_time () + 5 * G_USEC_PER_SEC;
       gtk_widget_get_width (GTK_WIDGET (fixture->window)) > 360 && g_get_monotonic_time () < until;)
    step_main_loop ();
  wait_for_fit (view);
  g_assert_true (text_view_fits (view));
}

static void
test_switch (Fixture       *fixture,
             gconstpointer  data)
{
  GtkWidget *sw = find_descendant (field_row (fixture, "done"), GTK_TYPE_SWITCH, NULL);
  JsonNode *node;

  gtk_switch_set_active (GTK_SWITCH (sw), FALSE);
  node = tether_record_get_attribute (fixture->record, "done");
  g_assert_cmpint (json_node_get_value_type (node), ==, G_TYPE_BOOLEAN);
  g_assert_false (json_node_get_boolean (node));

  gtk_switch_set_active (GTK_SWITCH (sw), TRUE);
  g_assert_true (json_node_get_boolean (tether_record_get_attribute (fixture->record, "done")));

  /* Activating the row toggles too, once the switch has slid over. */
  adw_action_row_activate (ADW_ACTION_ROW (field_row (fixture, "done")));
  for (gint64 until = g_get_monotonic_time () + 5 * G_USEC_PER_SEC;
       json_node_get_boolean (tether_record_get_attribute (fixture->record, "done")) &&
       g_get_monotonic_time () < until;)
    step_main_loop ();
  g_assert_false (json_node_get_boolean (tether_record_get_attribute (fixture->record, "done")));
  g_assert_false (gtk_switch_get_active (GTK_SWITCH (sw)));
}

static void
test_spin (Fixture       *fixture,
           gconstpointer  data)
{
  GtkWidget *spin = find_descendant (field_row (fixture, "count"), GTK_TYPE_SPIN_BUTTON, NULL);
  GtkWidget *price = find_descendant (field_row (fixture, "price"), GTK_TYPE_SPIN_BUTTON, NULL);
  JsonNode *node;

  gtk_spin_button_set_value (GTK_SPIN_BUTTON (spin), 43);
  node = tether_record_get_attribute (fixture->record, "count");
  g_assert_cmpint (json_node_get_value_type (node), ==, G_TYPE_INT64);
  g_assert_cmpint (json_node_get_int (node), ==, 43);

  /* The record follows the text as it is typed, before Enter. */
  gtk_editable_set_text (GTK_EDITABLE (spin), "1234");
  node = tether_record_get_attribute (fixture->record, "count");
  g_assert_cmpint (json_node_get_value_type (node), ==, G_TYPE_INT64);
  g_assert_cmpint (json_node_get_int (node), ==, 1234);

  /* Enter (or the focus leaving) commits the text; + then adds a step. */
  gtk_spin_button_update (GTK_SPIN_BUTTON (spin));
  g_assert_cmpfloat (gtk_spin_button_get_value (GTK_SPIN_BUTTON (spin)), ==, 1234);
  gtk_spin_button_spin (GTK_SPIN_BUTTON (spin), GTK_SPIN_STEP_FORWARD, 1);
  g_assert_cmpint (json_node_get_int (tether_record_get_attribute (fixture->record, "count")), ==, 1235);

  /* Doubles stay doubles, with every digit. */
  gtk_spin_button_set_value (GTK_SPIN_BUTTON (price), 3.125);
  node = tether_record_get_attribute (fixture->record, "price");
  g_assert_cmpint (json_node_get_value_type (node), ==, G_TYPE_DOUBLE);
  g_assert_cmpfloat (json_node_get_double (node), ==, 3.125);
  g_assert_cmpfloat (gtk_spin_button_get_value (GTK_SPIN_BUTTON (price)), ==, 3.125);
  g_assert_cmpstr (gtk_editable_get_text (GTK_EDITABLE (price)), ==, "3.125");

  gtk_spin_button_set_value (GTK_SPIN_BUTTON (price), 4);
  node = tether_record_get_attribute (fixture->record, "price");
  g_assert_cmpint (json_node_get_value_type (node), ==, G_TYPE_DOUBLE);
  g_assert_cmpfloat (json_node_get_double (node), ==, 4.0);
}

static gboolean
emit_scroll (GtkWidget           *widget,
             GtkPropagationPhase  phase,
             double               dy)
{
  g_autoptr(GListModel) controllers = gtk_widget_observe_controllers (widget);

  for (guint i = 0; i < g_list_model_get_n_items (controllers); i++)
    {
      g_autoptr(GtkEventController) controller = g_list_model_get_item (controllers, i);
      gboolean handled = FALSE;

      if (!GTK_IS_EVENT_CONTROLLER_SCROLL (controller) ||
          gtk_event_controller_get_propagation_phase (controller) != phase)
        continue;

      g_signal_emit_by_name (controller, "scroll", 0.0, dy, &handled);
      if (handled)
        return TRUE;
    }

  return FALSE;
}

/* What GTK does with a wheel turn over @target, up to @top: the scroll
 * controllers in the capture phase from @top down, then in the target and
 * bubble phases back up, until one takes the event. GTK has no public way
 * to make the event itself. Returns whether a controller took it; if none
 * did, it goes on to the page's scrolled window. */
static gboolean
dispatch_scroll (GtkWidget *target,
                 GtkWidget *top,
                 double     dy)
{
  g_autoptr(GPtrArray) path = g_ptr_array_new ();

  for (GtkWidget *widget = target; widget != NULL; widget = gtk_widget_get_parent (widget))
    {
      g_ptr_array_add (path, widget);
      if (widget == top)
        break;
    }

  for (guint i = path->len; i-- > 0;)
    if (emit_scroll (g_ptr_array_index (path, i), GTK_PHASE_CAPTURE, dy))
      return TRUE;

  if (emit_scroll (target, GTK_PHASE_TARGET, dy))
    return TRUE;

  for (guint i = 0; i < path->len; i++)
    if (emit_scroll (g_ptr_array_index (path, i), GTK_PHASE_BUBBLE, dy))
      return TRUE;

  return FALSE;
}

/* The wheel over a number field scrolls the page: it changes no value. */
static void
test_spin_wheel (Fixture       *fixture,
                 gconstpointer  data)
{
  GtkWidget *row = field_row (fixture, "count");
  GtkWidget *spin = find_descendant (row, GTK_TYPE_SPIN_BUTTON, NULL);
  GtkWidget *text = find_descendant (spin, GTK_TYPE_TEXT, NULL);
  guint64 revision = tether_record_get_revision (fixture->record);

  g_assert_nonnull (text);
  g_assert_cmpint (tether_record_get_sync_state (fixture->record), ==, TETHER_SYNC_STATE_SYNCED);

  g_assert_false (dispatch_scroll (text, row, 1.0));
  g_assert_false (dispatch_scroll (spin, row, -3.0));
  iterate_until_idle ();

  g_assert_cmpfloat (gtk_spin_button_get_value (GTK_SPIN_BUTTON (spin)), ==, 1);
  g_assert_cmpint (json_node_get_int (tether_record_get_attribute (fixture->record, "count")), ==, 1);
  g_assert_cmpint (tether_record_get_sync_state (fixture->record), ==, TETHER_SYNC_STATE_SYNCED);
  g_assert_cmpuint (tether_record_get_revision (fixture->record), ==, revision);
  g_assert_false (focus_is_in (fixture, spin));

  /* The buttons and the keyboard still step it. */
  gtk_spin_button_spin (GTK_SPIN_BUTTON (spin), GTK_SPIN_STEP_FORWARD, 1);
  g_assert_cmpint (json_node_get_int (tether_record_get_attribute (fixture->record, "count")), ==, 2);
}

/* Waits for the page's layout, which comes with a frame. */
static void
wait_for_upper (GtkAdjustment *adjustment,
                double         upper)
{
  gint64 until = g_get_monotonic_time () + 5 * G_USEC_PER_SEC;

  while (gtk_adjustment_get_upper (adjustment) < upper && g_get_monotonic_time () < until)
    step_main_loop ();
}

/* Another record opens at its top, wherever the last one was left. */
static void
test_new_record_at_top (Fixture       *fixture,
                        gconstpointer  data)
{
  GtkWidget *scrolled = find_descendant (GTK_WIDGET (template_child (fixture, "page")),
                                         GTK_TYPE_SCROLLED_WINDOW, NULL);
  GtkAdjustment *adjustment = gtk_scrolled_window_get_vadjustment (GTK_SCROLLED_WINDOW (scrolled));
  TetherRecord *other = make_local_record ();
  double page_size;

  /* The record is several screens long. */
  wait_for_upper (adjustment, 2 * gtk_widget_get_height (GTK_WIDGET (fixture->window)));
  page_size = gtk_adjustment_get_page_size (adjustment);
  g_assert_cmpfloat (gtk_adjustment_get_upper (adjustment), >, 2 * page_size);

  gtk_adjustment_set_value (adjustment, gtk_adjustment_get_upper (adjustment));
  iterate_until_idle ();
  g_assert_cmpfloat (gtk_adjustment_get_value (adjustment), >, page_size);

  tether_record_editor_set_record (fixture->editor, other);
  g_assert_cmpfloat (gtk_adjustment_get_value (adjustment), ==, 0);
  wait_for_upper (adjustment, 2 * page_size);
  iterate_until_idle ();
  g_assert_cmpfloat (gtk_adjustment_get_value (adjustment), ==, 0);

  tether_record_editor_set_record (fixture->editor, fixture->record);
  g_assert_finalize_object (other);
}

static void
test_outside_change (Fixture       *fixture,
                     gconstpointer  data)
{
  GtkWidget *title = field_row (fixture, "title");
  GtkWidget *done = field_row (fixture, "done");
  GtkWidget *count = field_row (fixture, "count");
  GtkWidget *notes = field_row (fixture, "notes");
  GtkWidget *sw = find_descendant (done, GTK_TYPE_SWITCH, NULL);
  GtkWidget *spin = find_descendant (count, GTK_TYPE_SPIN_BUTTON, NULL);
  GtkWidget *view = find_descendant (notes, GTK_TYPE_TEXT_VIEW, NULL);
  g_autoptr(JsonObject) update = NULL;
  g_autoptr(JsonObject) retype = NULL;
  guint64 revision = tether_record_get_revision (fixture->record);
  GtkTextIter start, end;
  g_autofree char *text = NULL;

  g_assert_cmpint (tether_record_get_sync_state (fixture->record), ==, TETHER_SYNC_STATE_SYNCED);
  g_assert_true (ADW_IS_ENTRY_ROW (title));
  g_assert_cmpstr (gtk_label_get_text (GTK_LABEL (template_child (fixture, "server_id_label"))), ==, "7");

  update = parse_object ("{\"title\": \"B\", \"done\": true, \"count\": 2, \"notes\": \"three\\nfour\"}");
  tether_record_apply_server (fixture->record, update, update, TETHER_SYNC_STATE_SYNCED);
  iterate_until_idle ();

  /* Updated in place: same widgets, new values, and no edit came back. */
  g_assert_true (field_row (fixture, "title") == title);
  g_assert_true (field_row (fixture, "done") == done);
  g_assert_true (field_row (fixture, "count") == count);
  g_assert_true (field_row (fixture, "notes") == notes);
  g_assert_cmpstr (gtk_editable_get_text (GTK_EDITABLE (title)), ==, "B");
  g_assert_true (gtk_switch_get_active (GTK_SWITCH (sw)));
  g_assert_cmpfloat (gtk_spin_button_get_value (GTK_SPIN_BUTTON (spin)), ==, 2);
  gtk_text_buffer_get_bounds (gtk_text_view_get_buffer (GTK_TEXT_VIEW (view)), &start, &end);
  text = gtk_text_iter_get_text (&start, &end);
  g_assert_cmpstr (text, ==, "three\nfour");
  g_assert_cmpint (tether_record_get_sync_state (fixture->record), ==, TETHER_SYNC_STATE_SYNCED);
  g_assert_cmpuint (tether_record_get_revision (fixture->record), ==, revision);

  /* A type change replaces that row only; a new field gets a row, in
   * member order; a removed field loses its row. */
  retype = parse_object ("{\"title\": \"B\", \"extra\": \"new\", \"count\": \"two\", \"notes\": \"three\\nfour\"}");
  tether_record_apply_server (fixture->record, retype, retype, TETHER_SYNC_STATE_SYNCED);
  iterate_until_idle ();
  g_assert_true (field_row (fixture, "title") == title);
  g_assert_true (field_row (fixture, "notes") == notes);
  g_assert_true (ADW_IS_ENTRY_ROW (field_row (fixture, "count")));
  g_assert_cmpstr (gtk_editable_get_text (GTK_EDITABLE (field_row (fixture, "count"))), ==, "two");
  g_assert_null (field_row (fixture, "done"));
  g_assert_cmpuint (count_rows (GTK_LIST_BOX (template_child (fixture, "fields_list"))), ==, 4);
  g_assert_cmpstr (adw_preferences_row_get_title (ADW_PREFERENCES_ROW (field_row_at (fixture, 0))), ==, "title");
  g_assert_cmpstr (adw_preferences_row_get_title (ADW_PREFERENCES_ROW (field_row_at (fixture, 1))), ==, "extra");
  g_assert_cmpstr (adw_preferences_row_get_title (ADW_PREFERENCES_ROW (field_row_at (fixture, 2))), ==, "count");
  g_assert_cmpstr (adw_preferences_row_get_title (ADW_PREFERENCES_ROW (field_row_at (fixture, 3))), ==, "notes");
  g_assert_cmpint (tether_record_get_sync_state (fixture->record), ==, TETHER_SYNC_STATE_SYNCED);
  g_assert_cmpuint (tether_record_get_revision (fixture->record), ==, revision);
}

static void
test_remove (Fixture       *fixture,
             gconstpointer  data)
{
  GtkWidget *button = find_descendant (field_row (fixture, "title"), GTK_TYPE_BUTTON, "Remove Field");
  GtkWidget *spin_button = find_descendant (field_row (fixture, "count"), GTK_TYPE_BUTTON, "Remove Field");
  guint n = count_rows (GTK_LIST_BOX (template_child (fixture, "fields_list")));

  g_assert_nonnull (button);
  g_signal_emit_by_name (button, "clicked");
  iterate_until_idle ();
  g_assert_false (tether_record_has_attribute (fixture->record, "title"));
  g_assert_null (field_row (fixture, "title"));

  g_signal_emit_by_name (spin_button, "clicked");
  iterate_until_idle ();
  g_assert_false (tether_record_has_attribute (fixture->record, "count"));
  g_assert_null (field_row (fixture, "count"));
  g_assert_cmpuint (count_rows (GTK_LIST_BOX (template_child (fixture, "fields_list"))), ==, n - 2);
}

/* As a person would: the button scrolls into view when it takes the
 * focus, then opens its popover (placed on screen, so it must be seen). */
static void
open_add_field (Fixture *fixture)
{
  GtkWidget *button = GTK_WIDGET (template_child (fixture, "add_field_button"));
  GtkWidget *scrolled = find_descendant (GTK_WIDGET (template_child (fixture, "page")),
                                         GTK_TYPE_SCROLLED_WINDOW, NULL);
  gint64 until = g_get_monotonic_time () + 5 * G_USEC_PER_SEC;
  graphene_rect_t bounds;

  gtk_widget_grab_focus (button);
  gtk_adjustment_set_value (gtk_scrolled_window_get_vadjustment (GTK_SCROLLED_WINDOW (scrolled)), G_MAXDOUBLE);
  do
    {
      step_main_loop ();
      g_assert_true (gtk_widget_compute_bounds (button, GTK_WIDGET (fixture->window), &bounds));
    }
  while (bounds.origin.y + bounds.size.height > gtk_widget_get_height (GTK_WIDGET (fixture->window)) &&
         g_get_monotonic_time () < until);

  gtk_menu_button_popup (GTK_MENU_BUTTON (button));
  iterate_until_idle ();
}

static void
add_field (Fixture    *fixture,
           const char *name,
           guint       type)
{
  GtkWidget *entry = GTK_WIDGET (template_child (fixture, "name_entry"));

  open_add_field (fixture);
  g_assert_true (gtk_widget_get_visible (GTK_WIDGET (template_child (fixture, "add_field_popover"))));
  g_assert_cmpstr (gtk_editable_get_text (GTK_EDITABLE (entry)), ==, "");
  g_assert_false (gtk_widget_get_sensitive (GTK_WIDGET (template_child (fixture, "confirm_add_button"))));

  gtk_editable_set_text (GTK_EDITABLE (entry), name);
  gtk_drop_down_set_selected (GTK_DROP_DOWN (template_child (fixture, "type_dropdown")), type);
  g_assert_true (gtk_widget_get_sensitive (GTK_WIDGET (template_child (fixture, "confirm_add_button"))));
  g_signal_emit_by_name (template_child (fixture, "confirm_add_button"), "clicked");
  iterate_until_idle ();
  g_assert_false (gtk_widget_get_visible (GTK_WIDGET (template_child (fixture, "add_field_popover"))));
}

static void
test_add (Fixture       *fixture,
          gconstpointer  data)
{
  GtkWidget *row;
  JsonNode *node;

  add_field (fixture, "subtitle", 0);
  node = tether_record_get_attribute (fixture->record, "subtitle");
  g_assert_cmpint (json_node_get_value_type (node), ==, G_TYPE_STRING);
  g_assert_cmpstr (json_node_get_string (node), ==, "");
  row = field_row (fixture, "subtitle");
  g_assert_true (ADW_IS_ENTRY_ROW (row));
  g_assert_true (focus_is_in (fixture, row));
  /* The new row comes last, as the new member does. */
  g_assert_true (field_row_at (fixture, count_rows (GTK_LIST_BOX (template_child (fixture, "fields_list"))) - 1) ==
                 GTK_LIST_BOX_ROW (row));

  add_field (fixture, "description", 1);
  node = tether_record_get_attribute (fixture->record, "description");
  g_assert_cmpstr (json_node_get_string (node), ==, "");
  row = field_row (fixture, "description");
  g_assert_nonnull (find_descendant (row, GTK_TYPE_TEXT_VIEW, NULL));
  g_assert_true (focus_is_in (fixture, find_descendant (row, GTK_TYPE_TEXT_VIEW, NULL)));

  add_field (fixture, "amount", 2);
  node = tether_record_get_attribute (fixture->record, "amount");
  g_assert_cmpint (json_node_get_value_type (node), ==, G_TYPE_INT64);
  g_assert_cmpint (json_node_get_int (node), ==, 0);
  row = field_row (fixture, "amount");
  g_assert_nonnull (find_descendant (row, GTK_TYPE_SPIN_BUTTON, NULL));
  g_assert_true (focus_is_in (fixture, find_descendant (row, GTK_TYPE_SPIN_BUTTON, NULL)));

  add_field (fixture, "paid", 3);
  node = tether_record_get_attribute (fixture->record, "paid");
  g_assert_cmpint (json_node_get_value_type (node), ==, G_TYPE_BOOLEAN);
  g_assert_false (json_node_get_boolean (node));
  row = field_row (fixture, "paid");
  g_assert_nonnull (find_descendant (row, GTK_TYPE_SWITCH, NULL));
  g_assert_true (focus_is_in (fixture, find_descendant (row, GTK_TYPE_SWITCH, NULL)));
}

static void
test_add_validation (Fixture       *fixture,
                     gconstpointer  data)
{
  GtkWidget *entry = GTK_WIDGET (template_child (fixture, "name_entry"));
  GtkWidget *confirm = GTK_WIDGET (template_child (fixture, "confirm_add_button"));
  GtkWidget *error = GTK_WIDGET (template_child (fixture, "name_error_label"));
  JsonNode *node;

  open_add_field (fixture);

  gtk_editable_set_text (GTK_EDITABLE (entry), "   ");
  g_assert_false (gtk_widget_get_sensitive (confirm));
  g_assert_false (gtk_widget_get_visible (error));

  gtk_editable_set_text (GTK_EDITABLE (entry), "title");
  g_assert_false (gtk_widget_get_sensitive (confirm));
  g_assert_true (gtk_widget_get_visible (error));
  g_assert_cmpstr (gtk_label_get_text (GTK_LABEL (error)), ==, "A field with this name already exists");

  gtk_editable_set_text (GTK_EDITABLE (entry), "clientId");
  g_assert_false (gtk_widget_get_sensitive (confirm));
  g_assert_true (gtk_widget_get_visible (error));

  gtk_editable_set_text (GTK_EDITABLE (entry), "id");
  g_assert_false (gtk_widget_get_sensitive (confirm));

  /* Enter on an invalid name adds nothing and keeps the popover. */
  g_signal_emit_by_name (entry, "activate");
  iterate_until_idle ();
  g_assert_false (tether_record_has_attribute (fixture->record, "id"));
  g_assert_true (gtk_widget_get_visible (GTK_WIDGET (template_child (fixture, "add_field_popover"))));

  /* Enter on a valid name adds a text field. */
  gtk_editable_set_text (GTK_EDITABLE (entry), "  colour ");
  g_assert_true (gtk_widget_get_sensitive (confirm));
  g_assert_false (gtk_widget_get_visible (error));
  g_signal_emit_by_name (entry, "activate");
  iterate_until_idle ();
  node = tether_record_get_attribute (fixture->record, "colour");
  g_assert_nonnull (node);
  g_assert_cmpstr (json_node_get_string (node), ==, "");
  g_assert_false (gtk_widget_get_visible (GTK_WIDGET (template_child (fixture, "add_field_popover"))));

  /* Cancel closes and adds nothing. */
  open_add_field (fixture);
  gtk_editable_set_text (GTK_EDITABLE (entry), "unused");
  g_signal_emit_by_name (template_child (fixture, "cancel_add_button"), "clicked");
  iterate_until_idle ();
  g_assert_false (tether_record_has_attribute (fixture->record, "unused"));
  g_assert_false (gtk_widget_get_visible (GTK_WIDGET (template_child (fixture, "add_field_popover"))));
}

static void
test_null_to_text (Fixture       *fixture,
                   gconstpointer  data)
{
  GtkWidget *button = find_descendant (field_row (fixture, "nothing"), GTK_TYPE_BUTTON, "Enter Text");
  GtkWidget *row;
  JsonNode *node;

  g_assert_nonnull (button);
  g_signal_emit_by_name (button, "clicked");
  iterate_until_idle ();

  node = tether_record_get_attribute (fixture->record, "nothing");
  g_assert_cmpint (json_node_get_value_type (node), ==, G_TYPE_STRING);
  row = field_row (fixture, "nothing");
  g_assert_true (ADW_IS_ENTRY_ROW (row));
  g_assert_true (focus_is_in (fixture, row));
}

typedef struct
{
  guint     count;
  char     *field;
  gboolean  keep_mine;
} ResolveData;

static void
resolve_cb (TetherRecordEditor *editor,
            const char         *field,
            gboolean            keep_mine,
            ResolveData        *resolved)
{
  resolved->count++;
  g_free (resolved->field);
  resolved->field = g_strdup (field);
  resolved->keep_mine = keep_mine;
}

static GtkWidget *
conflict_row (Fixture    *fixture,
              const char *name)
{
  GtkListBox *list = GTK_LIST_BOX (template_child (fixture, "conflict_list"));
  GtkListBoxRow *row;

  for (guint i = 0; (row = gtk_list_box_get_row_at_index (list, i)) != NULL; i++)
    if (g_strcmp0 (adw_preferences_row_get_title (ADW_PREFERENCES_ROW (row)), name) == 0)
      return GTK_WIDGET (row);

  return NULL;
}

static void
test_conflict (Fixture       *fixture,
               gconstpointer  data)
{
  GtkWidget *group = GTK_WIDGET (template_child (fixture, "conflict_group"));
  g_autoptr(JsonObject) conflict =
    parse_object ("{\"title\": {\"theirs\": \"Shopping\"}, \"count\": {}}");
  ResolveData resolved = { 0, };
  GtkWidget *row;

  g_signal_connect (fixture->editor, "resolve", G_CALLBACK (resolve_cb), &resolved);
  g_assert_false (gtk_widget_get_visible (group));

  /* The sync may set the state before the data: both orders work. */
  tether_record_set_sync_state (fixture->record, TETHER_SYNC_STATE_CONFLICT);
  tether_record_set_conflict (fixture->record, conflict);
  iterate_until_idle ();
  g_assert_true (gtk_widget_get_visible (group));
  g_assert_cmpuint (count_rows (GTK_LIST_BOX (template_child (fixture, "conflict_list"))), ==, 2);

  row = conflict_row (fixture, "title");
  g_assert_nonnull (row);
  g_assert_nonnull (find_descendant (row, GTK_TYPE_LABEL, "Yours"));
  g_assert_nonnull (find_descendant (row, GTK_TYPE_LABEL, "Server’s"));
  g_assert_nonnull (find_descendant (row, GTK_TYPE_LABEL, "Groceries"));
  g_assert_nonnull (find_descendant (row, GTK_TYPE_LABEL, "Shopping"));

  /* The server removed count: its side says so. */
  row = conflict_row (fixture, "count");
  g_assert_nonnull (find_descendant (row, GTK_TYPE_LABEL, "42"));
  g_assert_nonnull (find_descendant (row, GTK_TYPE_LABEL, "Removed"));

  /* Mine follows my edits. */
  gtk_editable_set_text (GTK_EDITABLE (field_row (fixture, "title")), "Groceries!");
  g_assert_nonnull (find_descendant (conflict_row (fixture, "title"), GTK_TYPE_LABEL, "Groceries!"));

  g_signal_emit_by_name (find_descendant (conflict_row (fixture, "title"), GTK_TYPE_BUTTON, "Keep Mine"), "clicked");
  g_assert_cmpuint (resolved.count, ==, 1);
  g_assert_cmpstr (resolved.field, ==, "title");
  g_assert_true (resolved.keep_mine);

  g_signal_emit_by_name (find_descendant (conflict_row (fixture, "count"), GTK_TYPE_BUTTON, "Keep Theirs"), "clicked");
  g_assert_cmpuint (resolved.count, ==, 2);
  g_assert_cmpstr (resolved.field, ==, "count");
  g_assert_false (resolved.keep_mine);

  g_signal_emit_by_name (template_child (fixture, "keep_all_theirs_button"), "clicked");
  g_assert_cmpuint (resolved.count, ==, 3);
  g_assert_null (resolved.field);
  g_assert_false (resolved.keep_mine);

  g_signal_emit_by_name (template_child (fixture, "keep_all_mine_button"), "clicked");
  g_assert_cmpuint (resolved.count, ==, 4);
  g_assert_null (resolved.field);
  g_assert_true (resolved.keep_mine);

  /* The editor resolved nothing itself. */
  g_assert_cmpint (tether_record_get_sync_state (fixture->record), ==, TETHER_SYNC_STATE_CONFLICT);
  g_assert_nonnull (tether_record_get_conflict (fixture->record));

  /* Resolved elsewhere: the group goes. */
  tether_record_set_conflict (fixture->record, NULL);
  tether_record_set_sync_state (fixture->record, TETHER_SYNC_STATE_PENDING);
  iterate_until_idle ();
  g_assert_false (gtk_widget_get_visible (group));

  g_free (resolved.field);
}

/* The label showing one side's value: the one after its heading. */
static GtkWidget *
conflict_value (GtkWidget  *row,
                const char *heading)
{
  GtkWidget *label = find_descendant (row, GTK_TYPE_LABEL, heading);

  g_assert_nonnull (label);
  label = gtk_widget_get_next_sibling (label);
  g_assert_true (GTK_IS_LABEL (label));

  return label;
}

static void
assert_conflict_value (GtkWidget  *row,
                       const char *heading,
                       const char *text,
                       const char *css_class)
{
  GtkWidget *label = conflict_value (row, heading);

  g_assert_cmpstr (gtk_label_get_text (GTK_LABEL (label)), ==, text);
  g_assert_cmpint (gtk_widget_has_css_class (label, "monospace"), ==,
                   g_strcmp0 (css_class, "monospace") == 0);
  g_assert_cmpint (gtk_widget_has_css_class (label, "dim-label"), ==,
                   g_strcmp0 (css_class, "dim-label") == 0);
}

/* Both sides of a conflict read as the editor shows them, not as JSON:
 * text plain, numbers and yes/no readable, a missing value said so. */
static void
test_conflict_values (Fixture       *fixture,
                      gconstpointer  data)
{
  g_autoptr(JsonObject) conflict =
    parse_object ("{\"title\": {\"theirs\": \"Say \\\"hi\\\"\\nthen go\"},"
                  " \"count\": {\"theirs\": 7},"
                  " \"price\": {\"theirs\": 3.25},"
                  " \"done\": {\"theirs\": false},"
                  " \"nothing\": {\"theirs\": \"\"},"
                  " \"meta\": {\"theirs\": [1, 2]},"
                  " \"tags\": {},"
                  " \"Fish & <Chips>\": {\"theirs\": null},"
                  " \"big\": {\"theirs\": \"9007199254740993\"}}");
  g_autofree char *price = g_strdup_printf ("%.1f", 2.5);
  g_autofree char *price_theirs = g_strdup_printf ("%.2f", 3.25);

  tether_record_set_sync_state (fixture->record, TETHER_SYNC_STATE_CONFLICT);
  tether_record_set_conflict (fixture->record, conflict);
  iterate_until_idle ();

  assert_conflict_value (conflict_row (fixture, "title"), "Yours", "Groceries", NULL);
  assert_conflict_value (conflict_row (fixture, "title"), "Server’s", "Say \"hi\"\nthen go", NULL);
  assert_conflict_value (conflict_row (fixture, "count"), "Yours", "42", NULL);
  assert_conflict_value (conflict_row (fixture, "count"), "Server’s", "7", NULL);
  /* In the user's notation, as the spin button shows it. */
  assert_conflict_value (conflict_row (fixture, "price"), "Yours", price, NULL);
  assert_conflict_value (conflict_row (fixture, "price"), "Server’s", price_theirs, NULL);
  assert_conflict_value (conflict_row (fixture, "done"), "Yours", "Yes", NULL);
  assert_conflict_value (conflict_row (fixture, "done"), "Server’s", "No", NULL);
  assert_conflict_value (conflict_row (fixture, "nothing"), "Yours", "Empty", "dim-label");
  assert_conflict_value (conflict_row (fixture, "nothing"), "Server’s", "Empty text", "dim-label");
  /* Only objects and lists are JSON. */
  assert_conflict_value (conflict_row (fixture, "meta"), "Yours", "{\"a\": 1, \"b\": [true, null]}", "monospace");
  assert_conflict_value (conflict_row (fixture, "meta"), "Server’s", "[1, 2]", "monospace");
  assert_conflict_value (conflict_row (fixture, "tags"), "Server’s", "Removed", "dim-label");
  assert_conflict_value (conflict_row (fixture, "Fish & <Chips>"), "Server’s", "Empty", "dim-label");
  /* Text and a number that would read the same are told apart. */
  assert_conflict_value (conflict_row (fixture, "big"), "Yours", "9007199254740993", "monospace");
  assert_conflict_value (conflict_row (fixture, "big"), "Server’s", "\"9007199254740993\"", "monospace");
}

static void
resolve_with_sync_cb (TetherRecordEditor *editor,
                      const char         *field,
                      gboolean            keep_mine,
                      TetherSync         *sync)
{
  tether_sync_resolve (sync, tether_record_editor_get_record (editor), field, keep_mine);
}

/* Settling one field through the sync engine, as the window does: the
 * panel follows at once, and the focus stays in it. */
static void
test_conflict_resolve_one (Fixture       *fixture,
                           gconstpointer  data)
{
  GtkWidget *group = GTK_WIDGET (template_child (fixture, "conflict_group"));
  GtkListBox *list = GTK_LIST_BOX (template_child (fixture, "conflict_list"));
  g_autoptr(JsonObject) conflict =
    parse_object ("{\"title\": {\"theirs\": \"Shopping\"}, \"count\": {}}");
  g_autofree char *dir = g_dir_make_tmp ("tether-test-resolve-XXXXXX", NULL);
  g_autoptr(GFile) directory = g_file_new_for_path (dir);
  g_autoptr(TetherAccount) account = tether_account_new ();
  g_autoptr(TetherSession) session = tether_session_new (account, directory);
  g_autoptr(GError) error = NULL;
  GtkWidget *button;

  tether_session_open (session, &error);
  g_assert_no_error (error);
  tether_collection_add (tether_session_get_collection (session), fixture->record);
  g_signal_connect (fixture->editor, "resolve", G_CALLBACK (resolve_with_sync_cb),
                    tether_session_get_sync (session));

  tether_record_set_sync_state (fixture->record, TETHER_SYNC_STATE_CONFLICT);
  tether_record_set_conflict (fixture->record, conflict);
  g_assert_cmpuint (count_rows (list), ==, 2);

  /* Keep Mine on one field: that field leaves the panel, with no other
   * change to the record to set it off. */
  button = find_descendant (conflict_row (fixture, "title"), GTK_TYPE_BUTTON, "Keep Mine");
  gtk_widget_grab_focus (button);
  g_signal_emit_by_name (button, "clicked");
  g_assert_null (conflict_row (fixture, "title"));
  g_assert_cmpuint (count_rows (list), ==, 1);
  g_assert_true (gtk_widget_get_visible (group));
  g_assert_cmpstr (json_node_get_string (tether_record_get_attribute (fixture->record, "title")), ==, "Groceries");
  g_assert_cmpint (tether_record_get_sync_state (fixture->record), ==, TETHER_SYNC_STATE_CONFLICT);
  g_assert_true (focus_is_in (fixture, find_descendant (conflict_row (fixture, "count"),
                                                        GTK_TYPE_BUTTON, "Keep Mine")));

  /* The last one settled: the panel goes. */
  g_signal_emit_by_name (find_descendant (conflict_row (fixture, "count"), GTK_TYPE_BUTTON, "Keep Theirs"),
                         "clicked");
  g_assert_false (gtk_widget_get_visible (group));
  g_assert_false (tether_record_has_attribute (fixture->record, "count"));
  g_assert_cmpint (tether_record_get_sync_state (fixture->record), ==, TETHER_SYNC_STATE_PENDING);

  g_signal_handlers_disconnect_by_func (fixture->editor, resolve_with_sync_cb,
                                        tether_session_get_sync (session));
  tether_session_close (session, &error);
  g_assert_no_error (error);
  g_clear_object (&session);
  g_assert_finalize_object (g_steal_pointer (&account));
}

static const char *
row_detail (GtkWidget *row)
{
  GtkWidget *label = NULL;

  /* The row is built in code and names its parts. */
  for (GtkWidget *w = gtk_widget_get_first_child (row); w != NULL && label == NULL;)
    {
      if (g_strcmp0 (gtk_widget_get_name (w), "detail_label") == 0)
        label = w;
      else if (gtk_widget_get_first_child (w) != NULL)
        w = gtk_widget_get_first_child (w);
      else
        {
          while (w != NULL && gtk_widget_get_next_sibling (w) == NULL && w != row)
            w = gtk_widget_get_parent (w);
          w = (w == NULL || w == row) ? NULL : gtk_widget_get_next_sibling (w);
        }
    }
  g_assert_nonnull (label);

  return gtk_widget_get_visible (label) ? gtk_inscription_get_text (GTK_INSCRIPTION (label)) : "";
}

/* The list row's second line is something a person wrote, never the
 * sync's bookkeeping: not the client id, not the server id, not a UUID. */
static void
test_row_detail_bookkeeping (void)
{
  g_autoptr(TetherRecord) record = tether_record_new ();
  GtkWidget *row = g_object_ref_sink (tether_record_row_new ());
  g_autoptr(GDateTime) now = NULL;
  g_autofree char *today = NULL;
  g_autofree char *uuid = g_uuid_string_random ();
  g_autofree char *uuid_json = g_strdup_printf ("\"%s\"", uuid);

  set_json (record, "clientId", uuid_json);
  set_json (record, "title", "\"Groceries\"");
  set_json (record, "id", "\"a-server-id\"");
  tether_record_row_set_record (TETHER_RECORD_ROW (row), record);

  /* Nothing else to show: when it was changed, today. */
  now = g_date_time_new_now_local ();
  today = tether_record_row_describe_modified (tether_record_get_modified (record), now);
  g_assert_true (g_str_has_prefix (today, "Changed today at "));
  g_assert_cmpstr (row_detail (row), ==, today);

  /* A UUID under another name is bookkeeping too. */
  set_json (record, "ref", uuid_json);
  g_assert_cmpstr (row_detail (row), ==, today);

  /* The client-id field is a setting: whatever it names is skipped. */
  set_json (record, "tag", "\"abc\"");
  g_assert_cmpstr (row_detail (row), ==, "abc");
  tether_record_row_set_client_id_field (TETHER_RECORD_ROW (row), "tag");
  g_assert_cmpstr (row_detail (row), ==, today);

  set_json (record, "notes", "\"Milk\"");
  g_assert_cmpstr (row_detail (row), ==, "Milk");

  tether_record_row_set_record (TETHER_RECORD_ROW (row), NULL);
  g_assert_finalize_object (row);
}

/* The time of the last change reads plainly: today, yesterday, a day of
 * this year, or a date with its year; never 12/06/26. */
static void
test_row_modified_format (void)
{
  g_autoptr(GDateTime) now = g_date_time_new_local (2026, 6, 12, 18, 53, 12);
  static const struct {
    int         year, month, day, hour, minute;
    const char *expected;
  } cases[] = {
    { 2026, 6, 12, 9, 5, "Changed today at 09:05" },
    { 2026, 6, 12, 18, 53, "Changed today at 18:53" },
    { 2026, 6, 11, 23, 59, "Changed yesterday at 23:59" },
    /* %b: the month's short name in the locale of the test run. */
    { 2026, 3, 4, 7, 0, "Changed 4 %b at 07:00" },
    { 2025, 12, 31, 22, 0, "Changed 31 %b 2025" },
    /* A clock set wrong: a plain date, not "in 2 days". */
    { 2026, 6, 14, 10, 0, "Changed 14 %b 2026" },
  };

  for (guint i = 0; i < G_N_ELEMENTS (cases); i++)
    {
      g_autoptr(GDateTime) when = g_date_time_new_local (cases[i].year, cases[i].month, cases[i].day,
                                                         cases[i].hour, cases[i].minute, 0);
      g_autoptr(GDateTime) when_utc = g_date_time_to_utc (when);
      g_autofree char *expected = g_date_time_format (when, cases[i].expected);
      g_autofree char *text = tether_record_row_describe_modified (when_utc, now);

      g_assert_cmpstr (text, ==, expected);
    }
}

/* A record changed long ago, as the store gives it back. */
static void
test_row_modified_old (void)
{
  static const char text[] =
    "{\"cid\":\"c1\",\"id\":null,\"state\":\"pending\",\"rev\":1,"
    "\"modified\":\"2020-02-03T10:20:30.000000Z\",\"etag\":null,\"error\":null,"
    "\"attributes\":{\"title\":\"Old\",\"count\":3},\"base\":null,\"conflict\":null}";
  g_autoptr(GBytes) line = g_bytes_new_static (text, strlen (text));
  g_autoptr(GError) error = NULL;
  TetherRecord *record;
  GtkWidget *row = g_object_ref_sink (tether_record_row_new ());
  g_autoptr(GDateTime) local = NULL;
  g_autofree char *expected = NULL;

  record = tether_record_new_from_line (line, &error);
  g_assert_no_error (error);
  tether_record_row_set_record (TETHER_RECORD_ROW (row), record);

  local = g_date_time_to_local (tether_record_get_modified (record));
  expected = g_date_time_format (local, "Changed %-e %b %Y");
  g_assert_cmpstr (row_detail (row), ==, expected);
  g_assert_true (g_str_has_suffix (row_detail (row), " 2020"));

  tether_record_row_set_record (TETHER_RECORD_ROW (row), NULL);
  g_assert_finalize_object (row);
  g_assert_finalize_object (record);
}

static void
delete_record_cb (GSimpleAction *action,
                  GVariant      *parameter,
                  gpointer       user_data)
{
  (*(guint *)user_data)++;
}

static void
test_delete_button (Fixture       *fixture,
                    gconstpointer  data)
{
  g_autoptr(GSimpleActionGroup) group = g_simple_action_group_new ();
  g_autoptr(GSimpleAction) action = g_simple_action_new ("delete-record", NULL);
  GtkWidget *button = GTK_WIDGET (template_child (fixture, "delete_button"));
  guint activated = 0;

  g_assert_true (gtk_widget_has_css_class (button, "destructive-action"));
  g_assert_cmpstr (gtk_actionable_get_action_name (GTK_ACTIONABLE (button)), ==, "win.delete-record");

  g_signal_connect (action, "activate", G_CALLBACK (delete_record_cb), &activated);
  g_action_map_add_action (G_ACTION_MAP (group), G_ACTION (action));
  gtk_widget_insert_action_group (GTK_WIDGET (fixture->window), "win", G_ACTION_GROUP (group));
  iterate_until_idle ();

  g_assert_true (gtk_widget_get_sensitive (button));
  g_signal_emit_by_name (button, "clicked");
  g_assert_cmpuint (activated, ==, 1);
  /* Deleting is the window's job; the record is untouched here. */
  g_assert_true (tether_record_has_attribute (fixture->record, "title"));

  gtk_widget_insert_action_group (GTK_WIDGET (fixture->window), "win", NULL);
}

static void
test_null_record (Fixture       *fixture,
                  gconstpointer  data)
{
  GtkListBox *list = GTK_LIST_BOX (template_child (fixture, "fields_list"));
  g_autoptr(TetherRecord) other = make_server_record ();
  GtkWidget *row;

  tether_record_editor_set_record (fixture->editor, NULL);
  iterate_until_idle ();
  g_assert_null (tether_record_editor_get_record (fixture->editor));
  g_assert_false (gtk_widget_get_visible (GTK_WIDGET (template_child (fixture, "page"))));
  g_assert_cmpuint (count_rows (list), ==, 0);

  /* Changes to the old record no longer reach the editor. */
  set_json (fixture->record, "late", "1");
  iterate_until_idle ();
  g_assert_cmpuint (count_rows (list), ==, 0);

  /* Another record, through the property. */
  g_object_set (fixture->editor, "record", other, NULL);
  iterate_until_idle ();
  g_assert_true (gtk_widget_get_visible (GTK_WIDGET (template_child (fixture, "page"))));
  g_assert_cmpuint (count_rows (list), ==, 4);
  row = field_row (fixture, "title");
  g_assert_cmpstr (gtk_editable_get_text (GTK_EDITABLE (row)), ==, "A");

  tether_record_editor_set_record (fixture->editor, NULL);
  g_assert_finalize_object (g_steal_pointer (&other));
}

static void
test_finalize (void)
{
  TetherRecord *record = make_local_record ();
  GtkWidget *editor = tether_record_editor_new ();

  g_object_ref_sink (editor);
  tether_record_editor_set_record (TETHER_RECORD_EDITOR (editor), record);
  g_assert_true (tether_record_editor_get_record (TETHER_RECORD_EDITOR (editor)) == record);

  /* Dropping the editor first, then the record, leaves nothing behind. */
  g_assert_finalize_object (editor);
  set_json (record, "title", "\"after\"");
  g_assert_finalize_object (record);
}

int
main (int   argc,
      char *argv[])
{
  g_autofree char *tmpdir = NULL;

  /* Not G_TEST_OPTION_ISOLATE_DIRS: it also empties XDG_DATA_DIRS, and
   * GTK needs the system's icon themes and MIME database. */
  g_test_init (&argc, &argv, NULL);
  tmpdir = g_dir_make_tmp ("tether-test-record-editor-XXXXXX", NULL);
  g_assert_nonnull (tmpdir);
  g_setenv ("HOME", tmpdir, TRUE);
  g_setenv ("XDG_DATA_HOME", tmpdir, TRUE);
  g_setenv ("XDG_CONFIG_HOME", tmpdir, TRUE);
  g_setenv ("XDG_CACHE_HOME", tmpdir, TRUE);
  g_setenv ("XDG_STATE_HOME", tmpdir, TRUE);

  gtk_init ();
  adw_init ();
  /* The application registers the UI resources; here there is none. */
  tether_register_resource ();

#define ADD(path, setup, func) \
  g_test_add (path, Fixture, NULL, setup, func, fixture_teardown)

  ADD ("/record-editor/rows", fixture_setup_local, test_rows);
  ADD ("/record-editor/json-layout", fixture_setup_local, test_json_layout);
  ADD ("/record-editor/about", fixture_setup_local, test_about);
  ADD ("/record-editor/error-state", fixture_setup_local, test_error_state);
  ADD ("/record-editor/type-text", fixture_setup_local, test_type_text);
  ADD ("/record-editor/type-text-keeps-focus", fixture_setup_local, test_type_text_keeps_focus);
  ADD ("/record-editor/long-text", fixture_setup_local, test_long_text);
  ADD ("/record-editor/long-line", fixture_setup_local, test_long_line);
  ADD ("/record-editor/switch", fixture_setup_local, test_switch);
  ADD ("/record-editor/spin", fixture_setup_local, test_spin);
  ADD ("/record-editor/spin-wheel", fixture_setup_server, test_spin_wheel);
  ADD ("/record-editor/new-record-at-top", fixture_setup_local, test_new_record_at_top);
  ADD ("/record-editor/outside-change", fixture_setup_server, test_outside_change);
  ADD ("/record-editor/remove", fixture_setup_local, test_remove);
  ADD ("/record-editor/add", fixture_setup_local, test_add);
  ADD ("/record-editor/add-validation", fixture_setup_local, test_add_validation);
  ADD ("/record-editor/null-to-text", fixture_setup_local, test_null_to_text);
  ADD ("/record-editor/conflict", fixture_setup_local, test_conflict);
  ADD ("/record-editor/conflict-values", fixture_setup_local, test_conflict_values);
  ADD ("/record-editor/conflict-resolve-one", fixture_setup_local, test_conflict_resolve_one);
  ADD ("/record-editor/delete-button", fixture_setup_local, test_delete_button);
  ADD ("/record-editor/null-record", fixture_setup_local, test_null_record);
  g_test_add_func ("/record-editor/finalize", test_finalize);
  g_test_add_func ("/record-row/detail-bookkeeping", test_row_detail_bookkeeping);
  g_test_add_func ("/record-row/modified-format", test_row_modified_format);
  g_test_add_func ("/record-row/modified-old", test_row_modified_old);

#undef ADD

  return g_test_run ();
}
