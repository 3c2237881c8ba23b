/* tether-record-editor.c
 *
 * Copyright 2026 The Tether authors
 *
 * SPDX-License-Identifier: GPL-3.0-or-later
 */

#include "config.h"

#include <math.h>
#include <string.h>

#include <glib/gi18n.h>

#include "tether-record-editor.h"
#include "tether-record-row.h"

/* The editor of one record: a row per attribute with a widget that fits
 * its JSON type, the ids and sync state read-only above, and the choice
 * between both versions while the record is in conflict.
 *
 * Edits go to the record as they are typed. The editor never rebuilds the
 * row being typed in: its own edits are skipped when the record reports
 * them back, and changes from elsewhere (a sync, an undo, another view)
 * update rows in place while their type still fits. Rows are created or
 * destroyed only when fields come or go or change type. */

/* Strings longer than this, or with a line break, get a multi-line view
 * that wraps. An entry row cannot ellipsize: in a narrow window it shows
 * about this many characters and cuts the rest off without a sign. */
#define LONG_TEXT_CHARS 40
/* JSON fits on one line up to this many characters, else it is indented. */
#define INLINE_JSON_CHARS 60
/* Beyond 2^53 a double no longer holds every integer; stay well inside. */
#define NUMBER_LIMIT 1e15

typedef enum
{
  FIELD_KIND_TEXT,
  FIELD_KIND_LONG_TEXT,
  FIELD_KIND_INTEGER,
  FIELD_KIND_DOUBLE,
  FIELD_KIND_BOOLEAN,
  FIELD_KIND_NULL,
  FIELD_KIND_OBJECT,
  FIELD_KIND_ARRAY,
  /* A number a spin button cannot hold exactly: shown, not edited. */
  FIELD_KIND_LARGE_NUMBER,
} FieldKind;

/* The choices of the Add Field popover, in the order of its drop-down. */
typedef enum
{
  NEW_FIELD_TEXT,
  NEW_FIELD_LONG_TEXT,
  NEW_FIELD_NUMBER,
  NEW_FIELD_BOOLEAN,
} NewFieldType;

typedef struct _FieldRow FieldRow;

struct _TetherRecordEditor
{
  GtkWidget            parent_instance;

  TetherRecord        *record;
  char                *client_id_field;
  char                *id_field;

  /* Field name → FieldRow. The rows own their FieldRow (object data);
   * an entry leaves this table before its row leaves the list. */
  GHashTable          *fields;
  /* Names the user added as Long Text: they keep a multi-line view even
   * while their text is still short. */
  GHashTable          *long_fields;
  char                *conflict_signature;
  /* Set while the editor writes to the record, so that the record's
   * changed:: emission for that edit does not touch the rows. */
  guint                applying;

  /* Template widgets */
  AdwPreferencesPage  *page;
  GtkScrolledWindow   *scrolled;      /* the page's own, found at init */
  AdwPreferencesGroup *conflict_group;
  GtkListBox          *conflict_list;
  GtkButton           *keep_all_mine_button;
  GtkButton           *keep_all_theirs_button;
  AdwPreferencesGroup *about_group;
  AdwActionRow        *error_row;
  GtkLabel            *server_id_label;
  AdwPreferencesRow   *id_field_row;
  GtkLabel            *id_field_title;
  GtkLabel            *id_field_label;
  AdwPreferencesRow   *client_id_row;
  GtkLabel            *client_id_title;
  GtkLabel            *client_id_label;
  GtkLabel            *state_label;
  GtkListBox          *fields_list;
  GtkMenuButton       *add_field_button;
  GtkButton           *delete_button;
  GtkPopover          *add_field_popover;
  GtkEntry            *name_entry;
  GtkLabel            *name_error_label;
  GtkDropDown         *type_dropdown;
  GtkButton           *cancel_add_button;
  GtkButton           *confirm_add_button;
};

struct _FieldRow
{
  TetherRecordEditor *editor;       /* unowned; outlives its rows */
  char               *name;
  FieldKind           kind;
  guint               position;
  gboolean            removed;

  GtkWidget          *row;          /* unowned: the list holds it */
  GtkWidget          *value_widget; /* entry row, text view, spin, switch, label */
  GtkTextBuffer      *buffer;       /* long text only */
  gulong              value_handler;
  gulong              text_handler; /* spin buttons: text typed */
};

G_DEFINE_FINAL_TYPE (TetherRecordEditor, tether_record_editor, GTK_TYPE_WIDGET)

enum {
  PROP_0,
  PROP_RECORD,
  PROP_CLIENT_ID_FIELD,
  PROP_ID_FIELD,
  N_PROPS
};

enum {
  RESOLVE,
  N_SIGNALS
};

static GParamSpec *properties[N_PROPS];
static guint signals[N_SIGNALS];

static void sync_fields (TetherRecordEditor *self);

/* JSON as text */

static void
append_json_string (GString    *out,
                    const char *string)
{
  g_autoptr(JsonNode) node = json_node_init_string (json_node_alloc (), string);
  g_autofree char *text = json_to_string (node, FALSE);

  g_string_append (out, text);
}

/* JSON's own notation for a double, as short as reads back the same:
 * 53.8 rather than json-glib's 53.799999999999997. */
static void
append_json_double (GString *out,
                    double   value)
{
  char buffer[G_ASCII_DTOSTR_BUF_SIZE];

  for (int precision = 1; precision <= 17; precision++)
    {
      char format[8];

      g_snprintf (format, sizeof format, "%%.%dg", precision);
      g_ascii_formatd (buffer, sizeof buffer, format, value);
      if (g_ascii_strtod (buffer, NULL) == value)
        break;
    }

  g_string_append (out, buffer);
  /* Still a double to the reader: 4.0, not 4. */
  if (strpbrk (buffer, ".eEn") == NULL)
    g_string_append (out, ".0");
}

/* Appends @node on one line; returns %FALSE as soon as @out grows past
 * @limit, so that a large value costs no more than @limit to try. */
static gboolean
append_json_inline (GString  *out,
                    JsonNode *node,
                    gsize     limit)
{
  if (JSON_NODE_HOLDS_OBJECT (node))
    {
      JsonObject *object = json_node_get_object (node);
      g_autoptr(GList) members = json_object_get_members (object);

      g_string_append_c (out, '{');
      for (const GList *l = members; l != NULL; l = l->next)
        {
          if (l != members)
            g_string_append (out, ", ");
          append_json_string (out, l->data);
          g_string_append (out, ": ");
          if (!append_json_inline (out, json_object_get_member (object, l->data), limit))
            return FALSE;
        }
      g_string_append_c (out, '}');
    }
  else if (JSON_NODE_HOLDS_ARRAY (node))
    {
      JsonArray *array = json_node_get_array (node);
      guint length = json_array_get_length (array);

      g_string_append_c (out, '[');
      for (guint i = 0; i < length; i++)
        {
          if (i > 0)
            g_string_append (out, ", ");
          if (!append_json_inline (out, json_array_get_element (array, i), limit))
            return FALSE;
        }
      g_string_append_c (out, ']');
    }
  else if (JSON_NODE_HOLDS_VALUE (node) && json_node_get_value_type (node) == G_TYPE_DOUBLE)
    {
      append_json_double (out, json_node_get_double (node));
    }
  else
    {
      g_autofree char *text = json_to_string (node, FALSE);

      g_string_append (out, text);
    }

  return out->len <= limit;
}

static void
append_indent (GString *out,
               guint    indent)
{
  for (guint i = 0; i < indent; i++)
    g_string_append_c (out, ' ');
}

/* Compact pretty printing: a value stays on one line while the line
 * (@used characters of it taken by indent and key) is short, and only the
 * containers that do not fit are broken up. */
static void
append_json_pretty (GString  *out,
                    JsonNode *node,
                    guint     indent,
                    gsize     used)
{
  g_autoptr(GString) line = g_string_new (NULL);
  gsize limit = INLINE_JSON_CHARS > used + 20 ? INLINE_JSON_CHARS - used : 20;

  if (append_json_inline (line, node, limit))
    {
      g_string_append_len (out, line->str, line->len);
      return;
    }

  if (JSON_NODE_HOLDS_OBJECT (node))
    {
      JsonObject *object = json_node_get_object (node);
      g_autoptr(GList) members = json_object_get_members (object);

      g_string_append (out, "{\n");
      for (const GList *l = members; l != NULL; l = l->next)
        {
          gsize line_start = out->len;

          append_indent (out, indent + 2);
          append_json_string (out, l->data);
          g_string_append (out, ": ");
          append_json_pretty (out, json_object_get_member (object, l->data),
                              indent + 2, out->len - line_start);
          g_string_append (out, l->next != NULL ? ",\n" : "\n");
        }
      append_indent (out, indent);
      g_string_append_c (out, '}');
    }
  else if (JSON_NODE_HOLDS_ARRAY (node))
    {
      JsonArray *array = json_node_get_array (node);
      guint length = json_array_get_length (array);

      g_string_append (out, "[\n");
      for (guint i = 0; i < length; i++)
        {
          append_indent (out, indent + 2);
          append_json_pretty (out, json_array_get_element (array, i), indent + 2, indent + 2);
          g_string_append (out, i + 1 < length ? ",\n" : "\n");
        }
      append_indent (out, indent);
      g_string_append_c (out, ']');
    }
  else
    {
      /* A single long scalar, such as a long string. */
      g_string_append_len (out, line->str, line->len);
    }
}

static char *
format_json (JsonNode *node)
{
  GString *out = g_string_new (NULL);

  append_json_pretty (out, node, 0, 0);

  return g_string_free (out, FALSE);
}

/* A value as a person reads it: text as it is, anything else as JSON. */
static char *
format_value (JsonNode *node)
{
  if (JSON_NODE_HOLDS_VALUE (node) && json_node_get_value_type (node) == G_TYPE_STRING)
    return g_strdup (json_node_get_string (node));

  return format_json (node);
}

/* Numbers */

/* The shortest text in the user's locale that reads back as @value. */
static char *
format_double (double value)
{
  for (int decimals = 1; decimals <= 17; decimals++)
    {
      g_autofree char *text = g_strdup_printf ("%.*f", decimals, value);

      if (g_strtod (text, NULL) == value)
        return g_steal_pointer (&text);
    }

  return g_strdup_printf ("%.17g", value);
}

/* How many decimals a spin button shows for @value by default. */
static guint
decimals_for_double (double value)
{
  g_autofree char *text = format_double (value);
  const char *point = strpbrk (text, ".,");

  if (point == NULL || strpbrk (text, "eE") != NULL)
    return 6;

  return CLAMP (strlen (point + 1), 1, 15);
}

/* Reads a number as typed, in the user's locale or in C notation. */
static gboolean
parse_number (const char *text,
              double     *value)
{
  g_autofree char *copy = g_strstrip (g_strdup (text));
  char *end = NULL;
  double parsed;

  if (copy[0] == '\0')
    return FALSE;

  parsed = g_strtod (copy, &end);
  if (end == NULL || *end != '\0' || !isfinite (parsed) || fabs (parsed) > NUMBER_LIMIT)
    return FALSE;

  *value = parsed;
  return TRUE;
}

/* Kinds */

static gboolean
is_long_text (const char *text)
{
  return text != NULL &&
         (strchr (text, '\n') != NULL || g_utf8_strlen (text, -1) > LONG_TEXT_CHARS);
}

static FieldKind
kind_for_node (JsonNode *node,
               gboolean  prefer_long)
{
  switch (JSON_NODE_TYPE (node))
    {
    case JSON_NODE_OBJECT:
      return FIELD_KIND_OBJECT;
    case JSON_NODE_ARRAY:
      return FIELD_KIND_ARRAY;
    case JSON_NODE_NULL:
      return FIELD_KIND_NULL;
    case JSON_NODE_VALUE:
    default:
      break;
    }

  switch (json_node_get_value_type (node))
    {
    case G_TYPE_BOOLEAN:
      return FIELD_KIND_BOOLEAN;
    case G_TYPE_INT64:
      return fabs ((double) json_node_get_int (node)) <= NUMBER_LIMIT
             ? FIELD_KIND_INTEGER : FIELD_KIND_LARGE_NUMBER;
    case G_TYPE_DOUBLE:
      return fabs (json_node_get_double (node)) <= NUMBER_LIMIT
             ? FIELD_KIND_DOUBLE : FIELD_KIND_LARGE_NUMBER;
    case G_TYPE_STRING:
      return prefer_long || is_long_text (json_node_get_string (node))
             ? FIELD_KIND_LONG_TEXT : FIELD_KIND_TEXT;
    default:
      /* Not a JSON type json-glib produces; show it read-only. */
      return FIELD_KIND_OBJECT;
    }
}

/* Whether @field's row can show @node in place. A one-line entry keeps
 * a string that grew long (the user is typing in it) unless it now has a
 * line break; a multi-line view keeps any string. */
static gboolean
field_accepts (FieldRow *field,
               JsonNode *node)
{
  switch (field->kind)
    {
    case FIELD_KIND_TEXT:
      return JSON_NODE_HOLDS_VALUE (node) &&
             json_node_get_value_type (node) == G_TYPE_STRING &&
             strchr (json_node_get_string (node), '\n') == NULL;
    case FIELD_KIND_LONG_TEXT:
      return JSON_NODE_HOLDS_VALUE (node) &&
             json_node_get_value_type (node) == G_TYPE_STRING;
    case FIELD_KIND_INTEGER:
    case FIELD_KIND_DOUBLE:
    case FIELD_KIND_BOOLEAN:
    case FIELD_KIND_NULL:
    case FIELD_KIND_OBJECT:
    case FIELD_KIND_ARRAY:
    case FIELD_KIND_LARGE_NUMBER:
    default:
      return kind_for_node (node, FALSE) == field->kind;
    }
}

static gboolean
is_about_field (TetherRecordEditor *self,
                const char         *name)
{
  return g_strcmp0 (name, self->id_field) == 0 ||
         g_strcmp0 (name, self->client_id_field) == 0;
}

/* Writing to the record */

static gboolean
field_can_write (FieldRow *field)
{
  return !field->removed && field->editor->record != NULL;
}

static void
field_write (FieldRow *field,
             JsonNode *value)
{
  TetherRecordEditor *self = field->editor;
  g_autoptr(TetherRecord) record = g_object_ref (self->record);

  self->applying++;
  tether_record_set_attribute (record, field->name, value);
  self->applying--;
}

static void
text_changed_cb (GtkEditable *editable,
                 FieldRow    *field)
{
  TetherRecordEditor *self = field->editor;
  g_autoptr(TetherRecord) record = NULL;

  if (!field_can_write (field))
    return;

  record = g_object_ref (self->record);
  self->applying++;
  tether_record_set_string (record, field->name, gtk_editable_get_text (editable));
  self->applying--;
}

static char *
buffer_dup_text (GtkTextBuffer *buffer)
{
  GtkTextIter start;
  GtkTextIter end;

  gtk_text_buffer_get_bounds (buffer, &start, &end);
  return gtk_text_buffer_get_text (buffer, &start, &end, FALSE);
}

static void
buffer_changed_cb (GtkTextBuffer *buffer,
                   FieldRow      *field)
{
  TetherRecordEditor *self = field->editor;
  g_autoptr(TetherRecord) record = NULL;
  g_autofree char *text = NULL;

  if (!field_can_write (field))
    return;

  text = buffer_dup_text (buffer);
  record = g_object_ref (self->record);
  self->applying++;
  tether_record_set_string (record, field->name, text);
  self->applying--;
}

static void
write_number (FieldRow *field,
              double    value)
{
  g_autoptr(JsonNode) node = json_node_alloc ();

  /* A JSON integer stays an integer: 42 edited to 43 is not 43.0. */
  if (field->kind == FIELD_KIND_INTEGER)
    json_node_init_int (node, (gint64) llround (value));
  else
    json_node_init_double (node, value);

  field_write (field, node);
}

static void
spin_value_changed_cb (GtkSpinButton *spin,
                       FieldRow      *field)
{
  if (!field_can_write (field))
    return;

  write_number (field, gtk_spin_button_get_value (spin));
}

/* A spin button commits its value on Enter or when it loses the focus;
 * the record takes each number as soon as the text is one. */
static void
spin_text_changed_cb (GtkEditable *editable,
                      FieldRow    *field)
{
  double value;

  if (!field_can_write (field))
    return;

  if (!parse_number (gtk_editable_get_text (editable), &value))
    return;

  if (field->kind == FIELD_KIND_INTEGER && value != floor (value))
    return;

  write_number (field, value);
}

static gboolean
spin_output_cb (GtkSpinButton *spin,
                gpointer       user_data)
{
  g_autofree char *text = format_double (gtk_spin_button_get_value (spin));

  if (g_strcmp0 (gtk_editable_get_text (GTK_EDITABLE (spin)), text) != 0)
    gtk_editable_set_text (GTK_EDITABLE (spin), text);

  return TRUE;
}

static void
switch_active_cb (GtkSwitch  *sw,
                  GParamSpec *pspec,
                  FieldRow   *field)
{
  g_autoptr(JsonNode) node = NULL;

  if (!field_can_write (field))
    return;

  node = json_node_init_boolean (json_node_alloc (), gtk_switch_get_active (sw));
  field_write (field, node);
}

static void
make_text_clicked_cb (GtkButton *button,
                      FieldRow  *field)
{
  TetherRecordEditor *self = field->editor;
  g_autoptr(TetherRecord) record = NULL;
  g_autofree char *name = NULL;

  if (!field_can_write (field))
    return;

  /* The row is replaced by a text row: keep what is needed after. */
  name = g_strdup (field->name);
  record = g_object_ref (self->record);
  tether_record_set_string (record, name, "");
  tether_record_editor_focus_field (self, name);
}

static void
remove_clicked_cb (GtkButton *button,
                   FieldRow  *field)
{
  g_autoptr(TetherRecord) record = NULL;
  g_autofree char *name = NULL;

  if (!field_can_write (field))
    return;

  name = g_strdup (field->name);
  record = g_object_ref (field->editor->record);
  tether_record_unset_attribute (record, name);
}

/* Field rows */

static void
field_row_free (gpointer data)
{
  FieldRow *field = data;

  g_free (field->name);
  g_free (field);
}

static GtkWidget *
make_remove_button (FieldRow *field)
{
  GtkWidget *button = gtk_button_new_from_icon_name ("user-trash-symbolic");
  g_autofree char *label = NULL;

  gtk_widget_set_valign (button, GTK_ALIGN_CENTER);
  gtk_widget_add_css_class (button, "flat");
  gtk_widget_set_tooltip_text (button, _("Remove Field"));
  /* Translators: %s is the name of a field of a record */
  label = g_strdup_printf (_("Remove Field “%s”"), field->name);
  gtk_accessible_update_property (GTK_ACCESSIBLE (button),
                                  GTK_ACCESSIBLE_PROPERTY_LABEL, label,
                                  -1);
  g_signal_connect (button, "clicked", G_CALLBACK (remove_clicked_cb), field);

  return button;
}

static void
set_accessible_label (GtkWidget  *widget,
                      const char *label)
{
  gtk_accessible_update_property (GTK_ACCESSIBLE (widget),
                                  GTK_ACCESSIBLE_PROPERTY_LABEL, label,
                                  -1);
}

/* A row whose content is not a standard Adw row: the field's name above
 * its value, with the remove button beside the name. */
static GtkWidget *
make_stacked_row (FieldRow   *field,
                  const char *kind_label,
                  GtkWidget  *value,
                  GtkLabel  **name_label_out)
{
  GtkWidget *row = adw_preferences_row_new ();
  GtkWidget *box = gtk_box_new (GTK_ORIENTATION_VERTICAL, 6);
  GtkWidget *header = gtk_box_new (GTK_ORIENTATION_HORIZONTAL, 6);
  GtkWidget *name_label = gtk_label_new (field->name);

  adw_preferences_row_set_use_markup (ADW_PREFERENCES_ROW (row), FALSE);
  adw_preferences_row_set_title (ADW_PREFERENCES_ROW (row), field->name);
  gtk_list_box_row_set_activatable (GTK_LIST_BOX_ROW (row), FALSE);

  gtk_widget_set_margin_top (box, 6);
  gtk_widget_set_margin_bottom (box, 12);
  gtk_widget_set_margin_start (box, 12);
  gtk_widget_set_margin_end (box, 12);

  gtk_label_set_xalign (GTK_LABEL (name_label), 0);
  gtk_label_set_wrap (GTK_LABEL (name_label), TRUE);
  gtk_label_set_wrap_mode (GTK_LABEL (name_label), PANGO_WRAP_WORD_CHAR);
  gtk_widget_set_hexpand (name_label, TRUE);
  gtk_box_append (GTK_BOX (header), name_label);

  if (kind_label != NULL)
    {
      GtkWidget *kind = gtk_label_new (kind_label);

      gtk_widget_add_css_class (kind, "caption");
      gtk_widget_add_css_class (kind, "dim-label");
      gtk_box_append (GTK_BOX (header), kind);
    }

  gtk_box_append (GTK_BOX (header), make_remove_button (field));
  gtk_box_append (GTK_BOX (box), header);

  gtk_box_append (GTK_BOX (box), value);
  gtk_list_box_row_set_child (GTK_LIST_BOX_ROW (row), box);

  if (name_label_out != NULL)
    *name_label_out = GTK_LABEL (name_label);

  return row;
}

static GtkWidget *
make_action_row (FieldRow *field)
{
  GtkWidget *row = adw_action_row_new ();

  adw_preferences_row_set_use_markup (ADW_PREFERENCES_ROW (row), FALSE);
  adw_preferences_row_set_title (ADW_PREFERENCES_ROW (row), field->name);

  return row;
}

static void
build_text_row (FieldRow   *field,
                const char *text)
{
  GtkWidget *row = adw_entry_row_new ();

  adw_preferences_row_set_use_markup (ADW_PREFERENCES_ROW (row), FALSE);
  adw_preferences_row_set_title (ADW_PREFERENCES_ROW (row), field->name);
  gtk_editable_set_text (GTK_EDITABLE (row), text);
  adw_entry_row_add_suffix (ADW_ENTRY_ROW (row), make_remove_button (field));

  field->row = row;
  field->value_widget = row;
  field->value_handler = g_signal_connect (row, "changed", G_CALLBACK (text_changed_cb), field);
}

/* A text view outside a scrolled window asks for the height its text had
 * at the last layout, and a request made while it is being laid out is
 * dropped: it would stay cut off after the first layout, or after the
 * window gets narrower and the text takes more lines. So once its text
 * moved, it asks again on the next frame, when it knows its new height. */
static gboolean
text_view_fit_tick_cb (GtkWidget     *view,
                       GdkFrameClock *frame_clock,
                       gpointer       user_data)
{
  g_object_set_data (G_OBJECT (view), "tether-fit-pending", NULL);
  gtk_widget_queue_resize (view);

  return G_SOURCE_REMOVE;
}

static void
text_view_fit (GtkWidget *view)
{
  if (g_object_get_data (G_OBJECT (view), "tether-fit-pending") != NULL)
    return;

  g_object_set_data (G_OBJECT (view), "tether-fit-pending", GINT_TO_POINTER (TRUE));
  gtk_widget_add_tick_callback (view, text_view_fit_tick_cb, NULL, NULL);
}

static void
build_long_text_row (FieldRow   *field,
                     const char *text)
{
  GtkWidget *frame = gtk_frame_new (NULL);
  GtkWidget *view = gtk_text_view_new ();
  GtkLabel *name_label;

  gtk_text_view_set_wrap_mode (GTK_TEXT_VIEW (view), GTK_WRAP_WORD_CHAR);
  /* Tab moves on to the next control, as everywhere else in the editor. */
  gtk_text_view_set_accepts_tab (GTK_TEXT_VIEW (view), FALSE);
  gtk_text_view_set_top_margin (GTK_TEXT_VIEW (view), 8);
  gtk_text_view_set_bottom_margin (GTK_TEXT_VIEW (view), 8);
  gtk_text_view_set_left_margin (GTK_TEXT_VIEW (view), 8);
  gtk_text_view_set_right_margin (GTK_TEXT_VIEW (view), 8);
  /* Room to write in for a field meant for several lines; a sentence
   * that is only too long for an entry takes the lines it needs. Either
   * grows with its text: the page scrolls, the view never cuts it off. */
  if (g_hash_table_contains (field->editor->long_fields, field->name) ||
      strchr (text, '\n') != NULL)
    gtk_widget_set_size_request (view, -1, 96);
  g_signal_connect_object (gtk_scrollable_get_vadjustment (GTK_SCROLLABLE (view)), "changed",
                           G_CALLBACK (text_view_fit), view,
                           G_CONNECT_SWAPPED);
  set_accessible_label (view, field->name);
  gtk_frame_set_child (GTK_FRAME (frame), view);

  field->buffer = gtk_text_view_get_buffer (GTK_TEXT_VIEW (view));
  gtk_text_buffer_set_text (field->buffer, text, -1);
  g_signal_connect_object (field->buffer, "changed",
                           G_CALLBACK (text_view_fit), view,
                           G_CONNECT_SWAPPED);

  field->row = make_stacked_row (field, NULL, frame, &name_label);
  gtk_label_set_mnemonic_widget (name_label, view);
  field->value_widget = view;
  field->value_handler = g_signal_connect (field->buffer, "changed",
                                           G_CALLBACK (buffer_changed_cb), field);
}

/* A spin button takes every wheel turn over it, even one meant to scroll
 * the page, and changes its number: a value the user never meant to edit,
 * sent with the next sync. Its scroll controller is taken out of the event
 * path so that the wheel scrolls the page; the buttons and the arrow keys
 * still step the value. GTK offers no other way to stop it; AdwSpinRow does
 * the same. */
static void
spin_stop_wheel (GtkWidget *spin)
{
  g_autoptr(GListModel) controllers = gtk_widget_observe_controllers (spin);
  guint n = g_list_model_get_n_items (controllers);

  for (guint i = 0; i < n; i++)
    {
      g_autoptr(GtkEventController) controller = g_list_model_get_item (controllers, i);

      if (GTK_IS_EVENT_CONTROLLER_SCROLL (controller))
        gtk_event_controller_set_propagation_phase (controller, GTK_PHASE_NONE);
    }
}

static void
build_number_row (FieldRow *field,
                  double    value)
{
  GtkAdjustment *adjustment;
  GtkWidget *spin;
  GtkWidget *row = make_action_row (field);
  guint digits = 0;

  if (field->kind == FIELD_KIND_DOUBLE)
    digits = decimals_for_double (value);

  adjustment = gtk_adjustment_new (value, -NUMBER_LIMIT, NUMBER_LIMIT, 1, 10, 0);
  spin = gtk_spin_button_new (adjustment, 1, digits);
  /* Numeric mode refuses more decimals than the digits; only integers,
   * which have none, use it. */
  gtk_spin_button_set_numeric (GTK_SPIN_BUTTON (spin), field->kind == FIELD_KIND_INTEGER);
  gtk_editable_set_width_chars (GTK_EDITABLE (spin), 10);
  gtk_widget_set_valign (spin, GTK_ALIGN_CENTER);
  set_accessible_label (spin, field->name);
  spin_stop_wheel (spin);

  if (field->kind == FIELD_KIND_DOUBLE)
    {
      /* The default output rounds to the digits; show every digit the
       * double has, so that displaying a value never changes it. */
      g_signal_connect (spin, "output", G_CALLBACK (spin_output_cb), NULL);
      spin_output_cb (GTK_SPIN_BUTTON (spin), NULL);
    }

  adw_action_row_add_suffix (ADW_ACTION_ROW (row), spin);
  adw_action_row_add_suffix (ADW_ACTION_ROW (row), make_remove_button (field));
  adw_action_row_set_activatable_widget (ADW_ACTION_ROW (row), spin);

  field->row = row;
  field->value_widget = spin;
  field->value_handler = g_signal_connect (spin, "value-changed",
                                           G_CALLBACK (spin_value_changed_cb), field);
  field->text_handler = g_signal_connect (spin, "changed",
                                          G_CALLBACK (spin_text_changed_cb), field);
}

static void
build_boolean_row (FieldRow *field,
                   gboolean  value)
{
  GtkWidget *row = make_action_row (field);
  GtkWidget *sw = gtk_switch_new ();

  gtk_switch_set_active (GTK_SWITCH (sw), value);
  gtk_widget_set_valign (sw, GTK_ALIGN_CENTER);
  set_accessible_label (sw, field->name);
  adw_action_row_add_suffix (ADW_ACTION_ROW (row), sw);
  adw_action_row_add_suffix (ADW_ACTION_ROW (row), make_remove_button (field));
  adw_action_row_set_activatable_widget (ADW_ACTION_ROW (row), sw);

  field->row = row;
  field->value_widget = sw;
  field->value_handler = g_signal_connect (sw, "notify::active",
                                           G_CALLBACK (switch_active_cb), field);
}

static void
build_null_row (FieldRow *field)
{
  GtkWidget *row = make_action_row (field);
  /* No mnemonic: there can be many such rows. */
  GtkWidget *button = gtk_button_new_with_label (_("Enter Text"));

  adw_action_row_set_subtitle (ADW_ACTION_ROW (row), _("Empty"));
  gtk_widget_set_valign (button, GTK_ALIGN_CENTER);
  gtk_widget_set_tooltip_text (button, _("Turn this empty field into text"));
  g_signal_connect (button, "clicked", G_CALLBACK (make_text_clicked_cb), field);
  adw_action_row_add_suffix (ADW_ACTION_ROW (row), button);
  adw_action_row_add_suffix (ADW_ACTION_ROW (row), make_remove_button (field));

  field->row = row;
  field->value_widget = button;
}

static void
build_json_row (FieldRow *field,
                JsonNode *node)
{
  g_autofree char *text = format_json (node);
  GtkWidget *label = gtk_label_new (text);
  const char *kind_label;

  switch (field->kind)
    {
    case FIELD_KIND_ARRAY:
      kind_label = _("List");
      break;
    case FIELD_KIND_LARGE_NUMBER:
      kind_label = _("Number");
      break;
    case FIELD_KIND_OBJECT:
    default:
      kind_label = _("Object");
      break;
    }

  gtk_label_set_xalign (GTK_LABEL (label), 0);
  gtk_label_set_selectable (GTK_LABEL (label), TRUE);
  gtk_label_set_wrap (GTK_LABEL (label), TRUE);
  gtk_label_set_wrap_mode (GTK_LABEL (label), PANGO_WRAP_WORD_CHAR);
  gtk_widget_add_css_class (label, "monospace");
  set_accessible_label (label, field->name);

  field->row = make_stacked_row (field, kind_label, label, NULL);
  field->value_widget = label;
}

static void
field_row_update (FieldRow *field,
                  JsonNode *node)
{
  switch (field->kind)
    {
    case FIELD_KIND_TEXT:
      {
        const char *text = json_node_get_string (node);

        if (g_strcmp0 (gtk_editable_get_text (GTK_EDITABLE (field->value_widget)), text) != 0)
          {
            g_signal_handler_block (field->value_widget, field->value_handler);
            gtk_editable_set_text (GTK_EDITABLE (field->value_widget), text);
            g_signal_handler_unblock (field->value_widget, field->value_handler);
          }
      }
      break;

    case FIELD_KIND_LONG_TEXT:
      {
        const char *text = json_node_get_string (node);
        g_autofree char *shown = buffer_dup_text (field->buffer);

        if (g_strcmp0 (shown, text) != 0)
          {
            g_signal_handler_block (field->buffer, field->value_handler);
            gtk_text_buffer_set_text (field->buffer, text, -1);
            g_signal_handler_unblock (field->buffer, field->value_handler);
          }
      }
      break;

    case FIELD_KIND_INTEGER:
    case FIELD_KIND_DOUBLE:
      {
        GtkSpinButton *spin = GTK_SPIN_BUTTON (field->value_widget);
        double value = field->kind == FIELD_KIND_INTEGER
                       ? (double) json_node_get_int (node)
                       : json_node_get_double (node);

        if (gtk_spin_button_get_value (spin) != value)
          {
            g_signal_handler_block (spin, field->value_handler);
            g_signal_handler_block (spin, field->text_handler);
            gtk_spin_button_set_value (spin, value);
            g_signal_handler_unblock (spin, field->text_handler);
            g_signal_handler_unblock (spin, field->value_handler);
          }
      }
      break;

    case FIELD_KIND_BOOLEAN:
      {
        gboolean value = json_node_get_boolean (node);

        if (gtk_switch_get_active (GTK_SWITCH (field->value_widget)) != value)
          {
            g_signal_handler_block (field->value_widget, field->value_handler);
            gtk_switch_set_active (GTK_SWITCH (field->value_widget), value);
            g_signal_handler_unblock (field->value_widget, field->value_handler);
          }
      }
      break;

    case FIELD_KIND_OBJECT:
    case FIELD_KIND_ARRAY:
    case FIELD_KIND_LARGE_NUMBER:
      {
        g_autofree char *text = format_json (node);

        if (g_strcmp0 (gtk_label_get_text (GTK_LABEL (field->value_widget)), text) != 0)
          gtk_label_set_text (GTK_LABEL (field->value_widget), text);
      }
      break;

    case FIELD_KIND_NULL:
    default:
      break;
    }
}

static FieldRow *
field_row_new (TetherRecordEditor *self,
               const char         *name,
               JsonNode           *node,
               guint               position)
{
  FieldRow *field = g_new0 (FieldRow, 1);

  field->editor = self;
  field->name = g_strdup (name);
  field->position = position;
  field->kind = kind_for_node (node, g_hash_table_contains (self->long_fields, name));

  switch (field->kind)
    {
    case FIELD_KIND_TEXT:
      build_text_row (field, json_node_get_string (node));
      break;
    case FIELD_KIND_LONG_TEXT:
      build_long_text_row (field, json_node_get_string (node));
      break;
    case FIELD_KIND_INTEGER:
      build_number_row (field, (double) json_node_get_int (node));
      break;
    case FIELD_KIND_DOUBLE:
      build_number_row (field, json_node_get_double (node));
      break;
    case FIELD_KIND_BOOLEAN:
      build_boolean_row (field, json_node_get_boolean (node));
      break;
    case FIELD_KIND_NULL:
      build_null_row (field);
      break;
    case FIELD_KIND_OBJECT:
    case FIELD_KIND_ARRAY:
    case FIELD_KIND_LARGE_NUMBER:
    default:
      build_json_row (field, node);
      break;
    }

  g_object_set_data_full (G_OBJECT (field->row), "tether-field-row", field, field_row_free);

  return field;
}

static void
remove_field_row (TetherRecordEditor *self,
                  FieldRow           *field)
{
  GtkWidget *row = field->row;

  /* A widget still held elsewhere can outlive its row (a spin button
   * commits its text when it loses the focus); it must not write back. */
  field->removed = TRUE;
  g_hash_table_remove (self->fields, field->name);
  gtk_list_box_remove (self->fields_list, row);
}

static void
clear_fields (TetherRecordEditor *self)
{
  GHashTableIter iter;
  gpointer value;
  g_autoptr(GPtrArray) rows = g_ptr_array_new ();

  g_hash_table_iter_init (&iter, self->fields);
  while (g_hash_table_iter_next (&iter, NULL, &value))
    g_ptr_array_add (rows, value);

  for (guint i = 0; i < rows->len; i++)
    remove_field_row (self, g_ptr_array_index (rows, i));
}

static int
fields_sort_func (GtkListBoxRow *row1,
                  GtkListBoxRow *row2,
                  gpointer       user_data)
{
  FieldRow *field1 = g_object_get_data (G_OBJECT (row1), "tether-field-row");
  FieldRow *field2 = g_object_get_data (G_OBJECT (row2), "tether-field-row");

  if (field1 == NULL || field2 == NULL)
    return 0;

  return field1->position < field2->position ? -1 : field1->position > field2->position;
}

/* Brings the rows in line with the record's attributes: rows whose type
 * still fits are updated in place, the others are replaced, and rows of
 * removed fields go. */
static void
sync_fields (TetherRecordEditor *self)
{
  g_autoptr(GList) members = NULL;
  g_autoptr(GHashTable) seen = NULL;
  g_autoptr(GPtrArray) gone = NULL;
  JsonObject *attributes = NULL;
  GHashTableIter iter;
  gpointer value;
  gboolean resort = FALSE;
  guint position = 0;

  if (self->record != NULL)
    attributes = tether_record_get_attributes (self->record);

  if (attributes == NULL)
    {
      clear_fields (self);
      return;
    }

  seen = g_hash_table_new (g_str_hash, g_str_equal);
  members = json_object_get_members (attributes);

  for (const GList *l = members; l != NULL; l = l->next)
    {
      const char *name = l->data;
      JsonNode *node = json_object_get_member (attributes, name);
      FieldRow *field;

      if (is_about_field (self, name))
        continue;

      g_hash_table_add (seen, (gpointer) name);
      field = g_hash_table_lookup (self->fields, name);

      if (field != NULL && !field_accepts (field, node))
        {
          remove_field_row (self, field);
          field = NULL;
        }

      if (field == NULL)
        {
          field = field_row_new (self, name, node, position);
          g_hash_table_insert (self->fields, field->name, field);
          gtk_list_box_append (self->fields_list, field->row);
          resort = TRUE;
        }
      else
        {
          field_row_update (field, node);
          if (field->position != position)
            {
              field->position = position;
              resort = TRUE;
            }
        }

      position++;
    }

  gone = g_ptr_array_new ();
  g_hash_table_iter_init (&iter, self->fields);
  while (g_hash_table_iter_next (&iter, NULL, &value))
    {
      FieldRow *field = value;

      if (!g_hash_table_contains (seen, field->name))
        g_ptr_array_add (gone, field);
    }
  for (guint i = 0; i < gone->len; i++)
    remove_field_row (self, g_ptr_array_index (gone, i));

  if (resort)
    gtk_list_box_invalidate_sort (self->fields_list);
}

/* The About group */

static void
update_about_row (AdwPreferencesRow *row,
                  GtkLabel          *title,
                  GtkLabel          *label,
                  TetherRecord      *record,
                  const char        *name)
{
  JsonNode *node = NULL;

  if (record != NULL && name != NULL && name[0] != '\0')
    node = tether_record_get_attribute (record, name);

  gtk_widget_set_visible (GTK_WIDGET (row), node != NULL);

  if (node != NULL)
    {
      g_autofree char *text = format_value (node);

      adw_preferences_row_set_title (row, name);
      gtk_label_set_text (title, name);
      gtk_label_set_text (label, text);
      gtk_widget_set_tooltip_text (GTK_WIDGET (label), text);
    }
}

static void
update_about (TetherRecordEditor *self)
{
  g_autofree char *id = NULL;
  TetherSyncState state;

  if (self->record == NULL)
    return;

  id = tether_record_dup_id_string (self->record);
  gtk_label_set_text (self->server_id_label, id != NULL ? id : _("Not yet synced"));

  update_about_row (self->id_field_row, self->id_field_title, self->id_field_label,
                    self->record, self->id_field);
  update_about_row (self->client_id_row, self->client_id_title, self->client_id_label,
                    self->record, self->client_id_field);

  state = tether_record_get_sync_state (self->record);
  gtk_label_set_text (self->state_label, tether_sync_state_describe (state));

  if (state == TETHER_SYNC_STATE_ERROR)
    {
      const char *message = tether_record_get_error_message (self->record);

      if (message == NULL || message[0] == '\0')
        message = _("The server gave no reason.");

      /* The message is the row's title, so that it reads at full
       * strength rather than dimmed like a subtitle. */
      adw_preferences_row_set_title (ADW_PREFERENCES_ROW (self->error_row), message);
      gtk_widget_set_visible (GTK_WIDGET (self->error_row), TRUE);
    }
  else
    {
      gtk_widget_set_visible (GTK_WIDGET (self->error_row), FALSE);
    }
}

/* Conflicts */

static void
resolve_clicked_cb (GtkButton          *button,
                    TetherRecordEditor *self)
{
  const char *name = g_object_get_data (G_OBJECT (button), "tether-field");
  gboolean keep_mine = GPOINTER_TO_INT (g_object_get_data (G_OBJECT (button), "tether-keep-mine"));
  g_autofree char *field = g_strdup (name);

  /* The handler may resolve at once and so rebuild this very button. */
  g_signal_emit (self, signals[RESOLVE], 0, field, keep_mine);
}

static void
keep_all_mine_clicked_cb (TetherRecordEditor *self)
{
  g_signal_emit (self, signals[RESOLVE], 0, NULL, TRUE);
}

static void
keep_all_theirs_clicked_cb (TetherRecordEditor *self)
{
  g_signal_emit (self, signals[RESOLVE], 0, NULL, FALSE);
}

typedef enum
{
  VALUE_STYLE_TEXT,
  /* Stands for a missing or empty value: not the value itself. */
  VALUE_STYLE_PLACEHOLDER,
  /* An object or a list, in JSON's notation. */
  VALUE_STYLE_JSON,
} ValueStyle;

/* One side of a conflict as a person reads it, the way the editor shows
 * the same value: text as it is, numbers in the user's notation, yes or
 * no, and only objects and lists as JSON. @node is %NULL when the field
 * is not there. */
static char *
describe_value (JsonNode   *node,
                ValueStyle *style)
{
  *style = VALUE_STYLE_TEXT;

  if (node == NULL)
    {
      *style = VALUE_STYLE_PLACEHOLDER;
      return g_strdup (_("Removed"));
    }

  switch (kind_for_node (node, FALSE))
    {
    case FIELD_KIND_TEXT:
    case FIELD_KIND_LONG_TEXT:
      if (json_node_get_string (node)[0] == '\0')
        {
          *style = VALUE_STYLE_PLACEHOLDER;
          return g_strdup (_("Empty text"));
        }
      return g_strdup (json_node_get_string (node));

    case FIELD_KIND_INTEGER:
      return g_strdup_printf ("%" G_GINT64_FORMAT, json_node_get_int (node));

    case FIELD_KIND_DOUBLE:
      return format_double (json_node_get_double (node));

    case FIELD_KIND_BOOLEAN:
      return g_strdup (json_node_get_boolean (node) ? _("Yes") : _("No"));

    case FIELD_KIND_NULL:
      *style = VALUE_STYLE_PLACEHOLDER;
      return g_strdup (_("Empty"));

    case FIELD_KIND_LARGE_NUMBER:
      /* Digits only: JSON's notation is the plainest there is. */
      return format_json (node);

    case FIELD_KIND_OBJECT:
    case FIELD_KIND_ARRAY:
    default:
      *style = VALUE_STYLE_JSON;
      return format_json (node);
    }
}

static GtkWidget *
make_conflict_side (TetherRecordEditor *self,
                    const char         *name,
                    const char         *heading,
                    JsonNode           *value,
                    gboolean            as_json,
                    const char         *button_label,
                    gboolean            keep_mine)
{
  GtkWidget *box = gtk_box_new (GTK_ORIENTATION_VERTICAL, 6);
  GtkWidget *heading_label = gtk_label_new (heading);
  GtkWidget *value_label;
  GtkWidget *button = gtk_button_new_with_label (button_label);
  g_autofree char *accessible = NULL;
  g_autofree char *text = NULL;
  ValueStyle style;

  gtk_label_set_xalign (GTK_LABEL (heading_label), 0);
  gtk_widget_add_css_class (heading_label, "caption-heading");
  gtk_widget_add_css_class (heading_label, "dim-label");
  gtk_box_append (GTK_BOX (box), heading_label);

  if (as_json && value != NULL)
    {
      text = format_json (value);
      style = VALUE_STYLE_JSON;
    }
  else
    {
      text = describe_value (value, &style);
    }

  value_label = gtk_label_new (text);
  if (style == VALUE_STYLE_PLACEHOLDER)
    gtk_widget_add_css_class (value_label, "dim-label");
  else if (style == VALUE_STYLE_JSON)
    gtk_widget_add_css_class (value_label, "monospace");

  gtk_label_set_xalign (GTK_LABEL (value_label), 0);
  gtk_label_set_yalign (GTK_LABEL (value_label), 0);
  gtk_label_set_wrap (GTK_LABEL (value_label), TRUE);
  gtk_label_set_wrap_mode (GTK_LABEL (value_label), PANGO_WRAP_WORD_CHAR);
  gtk_label_set_selectable (GTK_LABEL (value_label), style != VALUE_STYLE_PLACEHOLDER);
  gtk_widget_set_vexpand (value_label, TRUE);
  gtk_box_append (GTK_BOX (box), value_label);
  gtk_accessible_update_relation (GTK_ACCESSIBLE (value_label),
                                  GTK_ACCESSIBLE_RELATION_LABELLED_BY, heading_label, NULL,
                                  -1);

  gtk_widget_set_halign (button, GTK_ALIGN_START);
  /* Translators: the first %s is "Keep Mine" or "Keep Theirs", the second a field name */
  accessible = g_strdup_printf (_("%s: %s"), button_label, name);
  set_accessible_label (button, accessible);
  g_object_set_data_full (G_OBJECT (button), "tether-field", g_strdup (name), g_free);
  g_object_set_data (G_OBJECT (button), "tether-keep-mine", GINT_TO_POINTER (keep_mine));
  g_signal_connect (button, "clicked", G_CALLBACK (resolve_clicked_cb), self);
  gtk_box_append (GTK_BOX (box), button);

  return box;
}

static GtkWidget *
make_conflict_row (TetherRecordEditor *self,
                   const char         *name,
                   JsonNode           *mine,
                   JsonNode           *theirs)
{
  GtkWidget *row = adw_preferences_row_new ();
  GtkWidget *box = gtk_box_new (GTK_ORIENTATION_VERTICAL, 12);
  GtkWidget *name_label = gtk_label_new (name);
  GtkWidget *sides = gtk_box_new (GTK_ORIENTATION_HORIZONTAL, 18);
  g_autofree char *mine_text = NULL;
  g_autofree char *theirs_text = NULL;
  ValueStyle mine_style;
  ValueStyle theirs_style;
  gboolean as_json;

  adw_preferences_row_set_use_markup (ADW_PREFERENCES_ROW (row), FALSE);
  adw_preferences_row_set_title (ADW_PREFERENCES_ROW (row), name);
  gtk_list_box_row_set_activatable (GTK_LIST_BOX_ROW (row), FALSE);

  gtk_widget_set_margin_top (box, 12);
  gtk_widget_set_margin_bottom (box, 12);
  gtk_widget_set_margin_start (box, 12);
  gtk_widget_set_margin_end (box, 12);

  gtk_label_set_xalign (GTK_LABEL (name_label), 0);
  gtk_label_set_wrap (GTK_LABEL (name_label), TRUE);
  gtk_label_set_wrap_mode (GTK_LABEL (name_label), PANGO_WRAP_WORD_CHAR);
  gtk_widget_add_css_class (name_label, "heading");
  gtk_box_append (GTK_BOX (box), name_label);

  /* Two values that would read the same, such as the number 42 and the
   * text "42", are told apart in JSON's notation. */
  mine_text = describe_value (mine, &mine_style);
  theirs_text = describe_value (theirs, &theirs_style);
  as_json = g_str_equal (mine_text, theirs_text) && mine_style == theirs_style;

  gtk_box_set_homogeneous (GTK_BOX (sides), TRUE);
  gtk_box_append (GTK_BOX (sides),
                  make_conflict_side (self, name, _("Yours"), mine, as_json, _("Keep Mine"), TRUE));
  gtk_box_append (GTK_BOX (sides),
                  make_conflict_side (self, name, _("Server’s"), theirs, as_json, _("Keep Theirs"), FALSE));
  gtk_box_append (GTK_BOX (box), sides);

  gtk_list_box_row_set_child (GTK_LIST_BOX_ROW (row), box);

  return row;
}

static void
append_signature_node (GString  *signature,
                       JsonNode *node)
{
  if (node != NULL)
    {
      g_autofree char *text = json_to_string (node, FALSE);

      g_string_append (signature, text);
    }

  g_string_append_c (signature, '\n');
}

/* The Keep Mine or Keep Theirs button in @widget, if any. */
static GtkWidget *
find_resolve_button (GtkWidget *widget,
                     gboolean   keep_mine)
{
  if (GTK_IS_BUTTON (widget) &&
      g_object_get_data (G_OBJECT (widget), "tether-field") != NULL &&
      GPOINTER_TO_INT (g_object_get_data (G_OBJECT (widget), "tether-keep-mine")) == keep_mine)
    return widget;

  for (GtkWidget *child = gtk_widget_get_first_child (widget);
       child != NULL;
       child = gtk_widget_get_next_sibling (child))
    {
      GtkWidget *found = find_resolve_button (child, keep_mine);

      if (found != NULL)
        return found;
    }

  return NULL;
}

static void
refresh_conflicts (TetherRecordEditor *self)
{
  g_autoptr(GString) signature = g_string_new (NULL);
  g_autoptr(GList) members = NULL;
  JsonObject *conflict = NULL;
  GtkRoot *root = gtk_widget_get_root (GTK_WIDGET (self));
  GtkWidget *focus = root != NULL ? gtk_root_get_focus (root) : NULL;
  GtkWidget *child;
  int focus_index = -1;
  gboolean focus_mine = TRUE;

  if (self->record != NULL &&
      tether_record_get_sync_state (self->record) == TETHER_SYNC_STATE_CONFLICT)
    conflict = tether_record_get_conflict (self->record);

  if (conflict != NULL)
    members = json_object_get_members (conflict);

  /* Rebuilt only when what it shows changed, so that a button keeps the
   * focus while the rest of the record changes. */
  for (const GList *l = members; l != NULL; l = l->next)
    {
      JsonNode *entry = json_object_get_member (conflict, l->data);
      JsonNode *theirs = NULL;

      if (JSON_NODE_HOLDS_OBJECT (entry))
        theirs = json_object_get_member (json_node_get_object (entry), "theirs");

      append_json_string (signature, l->data);
      g_string_append_c (signature, '\n');
      append_signature_node (signature, theirs);
      append_signature_node (signature, tether_record_get_attribute (self->record, l->data));
    }

  if (g_strcmp0 (signature->str, self->conflict_signature) == 0)
    return;

  g_free (self->conflict_signature);
  self->conflict_signature = g_strdup (signature->str);

  /* Settling one field rebuilds the list under the button just pressed:
   * the focus goes on to the same side of the field now in its place. */
  if (focus != NULL && gtk_widget_is_ancestor (focus, GTK_WIDGET (self->conflict_list)))
    {
      GtkWidget *row = gtk_widget_get_ancestor (focus, GTK_TYPE_LIST_BOX_ROW);

      if (row != NULL)
        focus_index = gtk_list_box_row_get_index (GTK_LIST_BOX_ROW (row));
      if (GTK_IS_BUTTON (focus))
        focus_mine = GPOINTER_TO_INT (g_object_get_data (G_OBJECT (focus), "tether-keep-mine"));
    }

  while ((child = gtk_widget_get_first_child (GTK_WIDGET (self->conflict_list))) != NULL)
    gtk_list_box_remove (self->conflict_list, child);

  for (const GList *l = members; l != NULL; l = l->next)
    {
      JsonNode *entry = json_object_get_member (conflict, l->data);
      JsonNode *theirs = NULL;

      if (JSON_NODE_HOLDS_OBJECT (entry))
        theirs = json_object_get_member (json_node_get_object (entry), "theirs");

      gtk_list_box_append (self->conflict_list,
                           make_conflict_row (self,
                                              l->data,
                                              tether_record_get_attribute (self->record, l->data),
                                              theirs));
    }

  gtk_widget_set_visible (GTK_WIDGET (self->conflict_group), members != NULL);

  if (focus_index >= 0 && members != NULL)
    {
      guint n = g_list_length (members);
      GtkListBoxRow *row = gtk_list_box_get_row_at_index (self->conflict_list,
                                                          MIN ((guint) focus_index, n - 1));
      GtkWidget *button = find_resolve_button (GTK_WIDGET (row), focus_mine);

      if (button != NULL)
        gtk_widget_grab_focus (button);
    }
}

/* Following the record */

static void
record_changed_cb (TetherRecordEditor *self)
{
  /* The editor's own edit: the row already shows it. */
  if (self->applying == 0)
    sync_fields (self);

  update_about (self);
  refresh_conflicts (self);
}

static void
record_notify_cb (TetherRecordEditor *self,
                  GParamSpec         *pspec)
{
  const char *name = g_param_spec_get_name (pspec);

  if (g_str_equal (name, "id") ||
      g_str_equal (name, "sync-state") ||
      g_str_equal (name, "error-message"))
    {
      update_about (self);
      refresh_conflicts (self);
    }
  /* Each field settled while others are still in conflict changes only
   * the conflict data; whether the sync sets it before or after the state,
   * the second of the two shows the result. */
  else if (g_str_equal (name, "conflict"))
    {
      refresh_conflicts (self);
    }
}

static void
rebuild (TetherRecordEditor *self)
{
  clear_fields (self);
  sync_fields (self);
  update_about (self);
  refresh_conflicts (self);
}

/* Adding a field */

static gboolean
validate_new_name (TetherRecordEditor  *self,
                   const char          *name,
                   const char         **error)
{
  *error = NULL;

  if (name[0] == '\0')
    return FALSE;

  if (is_about_field (self, name))
    *error = _("This name is kept for the record’s id");
  else if (self->record != NULL && tether_record_has_attribute (self->record, name))
    *error = _("A field with this name already exists");

  return *error == NULL;
}

static char *
dup_new_name (TetherRecordEditor *self)
{
  return g_strstrip (g_strdup (gtk_editable_get_text (GTK_EDITABLE (self->name_entry))));
}

static void
name_entry_changed_cb (TetherRecordEditor *self)
{
  g_autofree char *name = dup_new_name (self);
  const char *error;
  gboolean valid = validate_new_name (self, name, &error);

  gtk_widget_set_sensitive (GTK_WIDGET (self->confirm_add_button), valid);
  gtk_label_set_text (self->name_error_label, error != NULL ? error : "");
  gtk_widget_set_visible (GTK_WIDGET (self->name_error_label), error != NULL);

  if (error != NULL)
    gtk_widget_add_css_class (GTK_WIDGET (self->name_entry), "error");
  else
    gtk_widget_remove_css_class (GTK_WIDGET (self->name_entry), "error");
}

static void
add_field_popover_show_cb (TetherRecordEditor *self)
{
  gtk_editable_set_text (GTK_EDITABLE (self->name_entry), "");
  gtk_drop_down_set_selected (self->type_dropdown, NEW_FIELD_TEXT);
  name_entry_changed_cb (self);
  gtk_widget_grab_focus (GTK_WIDGET (self->name_entry));
}

static void
add_new_field (TetherRecordEditor *self)
{
  g_autofree char *name = dup_new_name (self);
  g_autoptr(JsonNode) node = json_node_alloc ();
  g_autoptr(TetherRecord) record = NULL;
  const char *error;

  if (self->record == NULL || !validate_new_name (self, name, &error))
    {
      gtk_widget_error_bell (GTK_WIDGET (self->name_entry));
      return;
    }

  switch (gtk_drop_down_get_selected (self->type_dropdown))
    {
    case NEW_FIELD_LONG_TEXT:
      g_hash_table_add (self->long_fields, g_strdup (name));
      json_node_init_string (node, "");
      break;
    case NEW_FIELD_NUMBER:
      json_node_init_int (node, 0);
      break;
    case NEW_FIELD_BOOLEAN:
      json_node_init_boolean (node, FALSE);
      break;
    case NEW_FIELD_TEXT:
    default:
      json_node_init_string (node, "");
      break;
    }

  gtk_popover_popdown (self->add_field_popover);

  record = g_object_ref (self->record);
  tether_record_set_attribute (record, name, node);
  tether_record_editor_focus_field (self, name);
}

static void
name_entry_activate_cb (TetherRecordEditor *self)
{
  add_new_field (self);
}

static void
confirm_add_clicked_cb (TetherRecordEditor *self)
{
  add_new_field (self);
}

static void
cancel_add_clicked_cb (TetherRecordEditor *self)
{
  gtk_popover_popdown (self->add_field_popover);
}

/* Public API */

GtkWidget *
tether_record_editor_new (void)
{
  return g_object_new (TETHER_TYPE_RECORD_EDITOR, NULL);
}

TetherRecord *
tether_record_editor_get_record (TetherRecordEditor *self)
{
  g_return_val_if_fail (TETHER_IS_RECORD_EDITOR (self), NULL);

  return self->record;
}

void
tether_record_editor_set_record (TetherRecordEditor *self,
                                 TetherRecord       *record)
{
  g_return_if_fail (TETHER_IS_RECORD_EDITOR (self));
  g_return_if_fail (!record || TETHER_IS_RECORD (record));

  if (self->record == record)
    return;

  if (self->record != NULL)
    g_signal_handlers_disconnect_by_data (self->record, self);

  clear_fields (self);
  g_hash_table_remove_all (self->long_fields);
  g_clear_pointer (&self->conflict_signature, g_free);
  g_set_object (&self->record, record);

  if (record != NULL)
    {
      g_signal_connect_object (record, "changed",
                               G_CALLBACK (record_changed_cb), self,
                               G_CONNECT_SWAPPED);
      g_signal_connect_object (record, "notify",
                               G_CALLBACK (record_notify_cb), self,
                               G_CONNECT_SWAPPED);
    }

  rebuild (self);
  gtk_popover_popdown (self->add_field_popover);
  gtk_widget_set_visible (GTK_WIDGET (self->page), record != NULL);

  /* Another record starts at its top, not where the last one was left. */
  if (self->scrolled != NULL)
    {
      GtkAdjustment *adjustment = gtk_scrolled_window_get_vadjustment (self->scrolled);

      gtk_adjustment_set_value (adjustment, gtk_adjustment_get_lower (adjustment));
    }

  g_object_notify_by_pspec (G_OBJECT (self), properties[PROP_RECORD]);
}

const char *
tether_record_editor_get_client_id_field (TetherRecordEditor *self)
{
  g_return_val_if_fail (TETHER_IS_RECORD_EDITOR (self), NULL);

  return self->client_id_field;
}

void
tether_record_editor_set_client_id_field (TetherRecordEditor *self,
                                          const char         *client_id_field)
{
  g_return_if_fail (TETHER_IS_RECORD_EDITOR (self));

  if (g_strcmp0 (self->client_id_field, client_id_field) == 0)
    return;

  g_free (self->client_id_field);
  self->client_id_field = g_strdup (client_id_field);
  rebuild (self);

  g_object_notify_by_pspec (G_OBJECT (self), properties[PROP_CLIENT_ID_FIELD]);
}

const char *
tether_record_editor_get_id_field (TetherRecordEditor *self)
{
  g_return_val_if_fail (TETHER_IS_RECORD_EDITOR (self), NULL);

  return self->id_field;
}

void
tether_record_editor_set_id_field (TetherRecordEditor *self,
                                   const char         *id_field)
{
  g_return_if_fail (TETHER_IS_RECORD_EDITOR (self));

  if (g_strcmp0 (self->id_field, id_field) == 0)
    return;

  g_free (self->id_field);
  self->id_field = g_strdup (id_field);
  rebuild (self);

  g_object_notify_by_pspec (G_OBJECT (self), properties[PROP_ID_FIELD]);
}

gboolean
tether_record_editor_focus_field (TetherRecordEditor *self,
                                  const char         *name)
{
  FieldRow *field;
  GtkWidget *target;

  g_return_val_if_fail (TETHER_IS_RECORD_EDITOR (self), FALSE);
  g_return_val_if_fail (name != NULL, FALSE);

  field = g_hash_table_lookup (self->fields, name);
  if (field == NULL)
    return FALSE;

  target = field->value_widget;
  /* Entries and spin buttons take the focus in their text. */
  if (GTK_IS_EDITABLE (target) && gtk_editable_get_delegate (GTK_EDITABLE (target)) != NULL)
    target = GTK_WIDGET (gtk_editable_get_delegate (GTK_EDITABLE (target)));

  return gtk_widget_grab_focus (target);
}

/* GObject */

static void
tether_record_editor_dispose (GObject *object)
{
  TetherRecordEditor *self = (TetherRecordEditor *)object;

  tether_record_editor_set_record (self, NULL);
  gtk_widget_dispose_template (GTK_WIDGET (self), TETHER_TYPE_RECORD_EDITOR);
  self->scrolled = NULL;

  G_OBJECT_CLASS (tether_record_editor_parent_class)->dispose (object);
}

static void
tether_record_editor_finalize (GObject *object)
{
  TetherRecordEditor *self = (TetherRecordEditor *)object;

  g_clear_pointer (&self->fields, g_hash_table_unref);
  g_clear_pointer (&self->long_fields, g_hash_table_unref);
  g_clear_pointer (&self->conflict_signature, g_free);
  g_clear_pointer (&self->client_id_field, g_free);
  g_clear_pointer (&self->id_field, g_free);

  G_OBJECT_CLASS (tether_record_editor_parent_class)->finalize (object);
}

static void
tether_record_editor_get_property (GObject    *object,
                                   guint       prop_id,
                                   GValue     *value,
                                   GParamSpec *pspec)
{
  TetherRecordEditor *self = TETHER_RECORD_EDITOR (object);

  switch (prop_id)
    {
    case PROP_RECORD:
      g_value_set_object (value, self->record);
      break;

    case PROP_CLIENT_ID_FIELD:
      g_value_set_string (value, self->client_id_field);
      break;

    case PROP_ID_FIELD:
      g_value_set_string (value, self->id_field);
      break;

    default:
      G_OBJECT_WARN_INVALID_PROPERTY_ID (object, prop_id, pspec);
    }
}

static void
tether_record_editor_set_property (GObject      *object,
                                   guint         prop_id,
                                   const GValue *value,
                                   GParamSpec   *pspec)
{
  TetherRecordEditor *self = TETHER_RECORD_EDITOR (object);

  switch (prop_id)
    {
    case PROP_RECORD:
      tether_record_editor_set_record (self, g_value_get_object (value));
      break;

    case PROP_CLIENT_ID_FIELD:
      tether_record_editor_set_client_id_field (self, g_value_get_string (value));
      break;

    case PROP_ID_FIELD:
      tether_record_editor_set_id_field (self, g_value_get_string (value));
      break;

    default:
      G_OBJECT_WARN_INVALID_PROPERTY_ID (object, prop_id, pspec);
    }
}

static void
tether_record_editor_class_init (TetherRecordEditorClass *klass)
{
  GObjectClass *object_class = G_OBJECT_CLASS (klass);
  GtkWidgetClass *widget_class = GTK_WIDGET_CLASS (klass);

  object_class->dispose = tether_record_editor_dispose;
  object_class->finalize = tether_record_editor_finalize;
  object_class->get_property = tether_record_editor_get_property;
  object_class->set_property = tether_record_editor_set_property;

  properties[PROP_RECORD] =
    g_param_spec_object ("record", NULL, NULL,
                         TETHER_TYPE_RECORD,
                         (G_PARAM_READWRITE | G_PARAM_EXPLICIT_NOTIFY | G_PARAM_STATIC_STRINGS));

  properties[PROP_CLIENT_ID_FIELD] =
    g_param_spec_string ("client-id-field", NULL, NULL,
                         "clientId",
                         (G_PARAM_READWRITE | G_PARAM_EXPLICIT_NOTIFY | G_PARAM_STATIC_STRINGS));

  properties[PROP_ID_FIELD] =
    g_param_spec_string ("id-field", NULL, NULL,
                         "id",
                         (G_PARAM_READWRITE | G_PARAM_EXPLICIT_NOTIFY | G_PARAM_STATIC_STRINGS));

  g_object_class_install_properties (object_class, N_PROPS, properties);

  /**
   * TetherRecordEditor::resolve:
   * @self: the editor
   * @field: (nullable): the conflicting field, or %NULL for every field
   * @keep_mine: %TRUE to keep the local value, %FALSE to take the server's
   *
   * The user chose a side of a conflict. The editor does not resolve
   * anything itself; the window passes this on to the sync engine.
   */
  signals[RESOLVE] =
    g_signal_new ("resolve",
                  G_TYPE_FROM_CLASS (klass),
                  G_SIGNAL_RUN_LAST,
                  0,
                  NULL, NULL,
                  NULL,
                  G_TYPE_NONE, 2,
                  G_TYPE_STRING,
                  G_TYPE_BOOLEAN);

  gtk_widget_class_set_template_from_resource (widget_class, RESOURCE_PREFIX "/tether-record-editor.ui");
  gtk_widget_class_bind_template_child (widget_class, TetherRecordEditor, page);
  gtk_widget_class_bind_template_child (widget_class, TetherRecordEditor, conflict_group);
  gtk_widget_class_bind_template_child (widget_class, TetherRecordEditor, conflict_list);
  gtk_widget_class_bind_template_child (widget_class, TetherRecordEditor, keep_all_mine_button);
  gtk_widget_class_bind_template_child (widget_class, TetherRecordEditor, keep_all_theirs_button);
  gtk_widget_class_bind_template_child (widget_class, TetherRecordEditor, about_group);
  gtk_widget_class_bind_template_child (widget_class, TetherRecordEditor, error_row);
  gtk_widget_class_bind_template_child (widget_class, TetherRecordEditor, server_id_label);
  gtk_widget_class_bind_template_child (widget_class, TetherRecordEditor, id_field_row);
  gtk_widget_class_bind_template_child (widget_class, TetherRecordEditor, id_field_title);
  gtk_widget_class_bind_template_child (widget_class, TetherRecordEditor, id_field_label);
  gtk_widget_class_bind_template_child (widget_class, TetherRecordEditor, client_id_row);
  gtk_widget_class_bind_template_child (widget_class, TetherRecordEditor, client_id_title);
  gtk_widget_class_bind_template_child (widget_class, TetherRecordEditor, client_id_label);
  gtk_widget_class_bind_template_child (widget_class, TetherRecordEditor, state_label);
  gtk_widget_class_bind_template_child (widget_class, TetherRecordEditor, fields_list);
  gtk_widget_class_bind_template_child (widget_class, TetherRecordEditor, add_field_button);
  gtk_widget_class_bind_template_child (widget_class, TetherRecordEditor, delete_button);
  gtk_widget_class_bind_template_child (widget_class, TetherRecordEditor, add_field_popover);
  gtk_widget_class_bind_template_child (widget_class, TetherRecordEditor, name_entry);
  gtk_widget_class_bind_template_child (widget_class, TetherRecordEditor, name_error_label);
  gtk_widget_class_bind_template_child (widget_class, TetherRecordEditor, type_dropdown);
  gtk_widget_class_bind_template_child (widget_class, TetherRecordEditor, cancel_add_button);
  gtk_widget_class_bind_template_child (widget_class, TetherRecordEditor, confirm_add_button);
  gtk_widget_class_bind_template_callback (widget_class, keep_all_mine_clicked_cb);
  gtk_widget_class_bind_template_callback (widget_class, keep_all_theirs_clicked_cb);
  gtk_widget_class_bind_template_callback (widget_class, name_entry_changed_cb);
  gtk_widget_class_bind_template_callback (widget_class, name_entry_activate_cb);
  gtk_widget_class_bind_template_callback (widget_class, add_field_popover_show_cb);
  gtk_widget_class_bind_template_callback (widget_class, confirm_add_clicked_cb);
  gtk_widget_class_bind_template_callback (widget_class, cancel_add_clicked_cb);

  gtk_widget_class_set_layout_manager_type (widget_class, GTK_TYPE_BIN_LAYOUT);
  gtk_widget_class_set_css_name (widget_class, "tether-record-editor");
}

static void
tether_record_editor_init (TetherRecordEditor *self)
{
  self->client_id_field = g_strdup ("clientId");
  self->id_field = g_strdup ("id");
  self->fields = g_hash_table_new (g_str_hash, g_str_equal);
  self->long_fields = g_hash_table_new_full (g_str_hash, g_str_equal, g_free, NULL);

  gtk_widget_init_template (GTK_WIDGET (self));

  gtk_list_box_set_sort_func (self->fields_list, fields_sort_func, NULL, NULL);

  /* AdwPreferencesPage scrolls its groups in a scrolled window it keeps
   * to itself; libadwaita 1.2 has no call to scroll it back up. */
  for (GtkWidget *child = gtk_widget_get_first_child (GTK_WIDGET (self->page));
       child != NULL;
       child = gtk_widget_get_next_sibling (child))
    {
      if (GTK_IS_SCROLLED_WINDOW (child))
        {
          self->scrolled = GTK_SCROLLED_WINDOW (child);
          break;
        }
    }
  g_warn_if_fail (self->scrolled != NULL);
}
