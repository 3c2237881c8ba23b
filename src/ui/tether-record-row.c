/* tether-record-row.c
 *
 * Copyright 2026 The Tether authors
 *
 * SPDX-License-Identifier: GPL-3.0-or-later
 */

#include "config.h"

#include <glib/gi18n.h>

#include "tether-record-row.h"

/* More than the list's width shows, and no more: GTK lays out every row
 * it keeps (up to some 200) whenever the list changes under a search, and
 * the cost is in the length of the text. */
#define DETAIL_MAX_CHARS 80

/* One row of the record list. It follows its record through signals
 * only: when a pushed record receives its server id, notify::id updates
 * the row without any refresh code elsewhere.
 *
 * GTK 4.8's list view makes a new row for every item that comes into its
 * reach (some 200 around the view) and drops the rows of items that leave
 * it, so that a search makes and drops hundreds of rows at each key
 * press. The row is therefore built in code, not from a template, of as
 * few widgets as it needs; its texts are inscriptions, sized from their
 * font rather than by laying out their text; and the state icon's tooltip
 * is made only when asked for. */
struct _TetherRecordRow
{
  GtkWidget     parent_instance;

  TetherRecord *record;
  char         *client_id_field;
  char         *id_field;

  GtkImage       *state_icon;
  /* Inscriptions, not labels: GTK measures every row the list keeps
   * (some 200) whenever the list changes, and an inscription's size comes
   * from its font, not from laying out its text. */
  GtkInscription *title_label;
  GtkInscription *detail_label;
  GtkLabel       *id_label;
};

G_DEFINE_FINAL_TYPE (TetherRecordRow, tether_record_row, GTK_TYPE_WIDGET)

enum {
  PROP_0,
  PROP_RECORD,
  PROP_CLIENT_ID_FIELD,
  PROP_ID_FIELD,
  N_PROPS
};

static GParamSpec *properties[N_PROPS];

const char *
tether_sync_state_icon_name (TetherSyncState state)
{
  switch (state)
    {
    case TETHER_SYNC_STATE_SYNCED:
      return "emblem-ok-symbolic";
    case TETHER_SYNC_STATE_PENDING:
      return "document-edit-symbolic";
    case TETHER_SYNC_STATE_PUSHING:
      return "emblem-synchronizing-symbolic";
    case TETHER_SYNC_STATE_CONFLICT:
      return "dialog-warning-symbolic";
    case TETHER_SYNC_STATE_ERROR:
      return "dialog-error-symbolic";
    case TETHER_SYNC_STATE_DELETED:
      return "user-trash-symbolic";
    default:
      g_return_val_if_reached (NULL);
    }
}

const char *
tether_sync_state_describe (TetherSyncState state)
{
  switch (state)
    {
    case TETHER_SYNC_STATE_SYNCED:
      return _("Synced");
    case TETHER_SYNC_STATE_PENDING:
      return _("Changed, not yet sent");
    case TETHER_SYNC_STATE_PUSHING:
      return _("Syncing");
    case TETHER_SYNC_STATE_CONFLICT:
      return _("In conflict with the server");
    case TETHER_SYNC_STATE_ERROR:
      return _("Could not be sent");
    case TETHER_SYNC_STATE_DELETED:
      return _("Deleted, not yet sent");
    default:
      g_return_val_if_reached (NULL);
    }
}

/**
 * tether_record_row_describe_modified:
 * @modified: when the record was last changed
 * @now: the time to describe it from
 *
 * Words the time of a record's last local change the way GNOME does:
 * relative to today while that reads better, as a date otherwise. Both
 * times are taken in the local time zone.
 *
 * Returns: (transfer full): the text for the row's second line
 */
char *
tether_record_row_describe_modified (GDateTime *modified,
                                     GDateTime *now)
{
  g_autoptr(GDateTime) when = NULL;
  g_autoptr(GDateTime) today = NULL;
  GDate when_date;
  GDate today_date;
  int year, month, day;
  int days;
  const char *format;

  g_return_val_if_fail (modified != NULL, NULL);
  g_return_val_if_fail (now != NULL, NULL);

  when = g_date_time_to_local (modified);
  today = g_date_time_to_local (now);

  g_date_time_get_ymd (when, &year, &month, &day);
  g_date_set_dmy (&when_date, day, month, year);
  g_date_time_get_ymd (today, &year, &month, &day);
  g_date_set_dmy (&today_date, day, month, year);
  days = g_date_days_between (&when_date, &today_date);

  if (days == 0)
    /* Translators: a record's last change, earlier today; a
     * g_date_time_format() format: %H:%M is the hour and minute (use
     * %l:%M %p for a 12-hour clock) */
    format = _("Changed today at %H:%M");
  else if (days == 1)
    /* Translators: a record's last change, yesterday; a
     * g_date_time_format() format: %H:%M is the hour and minute */
    format = _("Changed yesterday at %H:%M");
  else if (days > 0 && g_date_get_year (&when_date) == g_date_get_year (&today_date))
    /* Translators: a record's last change, earlier this year; a
     * g_date_time_format() format: %-e is the day, %b the month's short
     * name, %H:%M the hour and minute */
    format = _("Changed %-e %b at %H:%M");
  else
    /* Translators: a record's last change, in another year (or a clock
     * set wrong); a g_date_time_format() format: %-e is the day, %b the
     * month's short name, %Y the year */
    format = _("Changed %-e %b %Y");

  return g_date_time_format (when, format);
}

/* Fields that are the server's and the sync's bookkeeping, not something
 * a person wrote: the id and client-id fields, and any value that is a
 * bare UUID (a client id under a field name this row was not told of). */
static gboolean
is_bookkeeping (TetherRecordRow *self,
                const char      *name,
                const char      *text)
{
  return g_strcmp0 (name, self->client_id_field) == 0 ||
         g_strcmp0 (name, self->id_field) == 0 ||
         g_uuid_string_is_valid (text);
}

static char *
describe_detail (TetherRecordRow *self)
{
  TetherRecord *record = self->record;
  g_autoptr(GList) members = NULL;
  JsonObject *attributes;
  GDateTime *modified;
  const char *title;
  const char *title_field;

  /* The first text field other than the one used as the title, else the
   * time of the last local change. */
  attributes = tether_record_get_attributes (record);
  title = tether_record_get_title (record);
  title_field = tether_record_get_title_field (record);
  members = attributes != NULL ? json_object_get_members (attributes) : NULL;

  for (const GList *l = members; l != NULL; l = l->next)
    {
      const char *name = l->data;
      JsonNode *node = json_object_get_member (attributes, name);
      const char *text;

      if (JSON_NODE_HOLDS_VALUE (node) &&
          json_node_get_value_type (node) == G_TYPE_STRING &&
          (text = json_node_get_string (node)) != NULL &&
          text[0] != '\0' &&
          g_strcmp0 (name, title_field) != 0 &&
          g_strcmp0 (text, title) != 0 &&
          !is_bookkeeping (self, name, text))
        {
          const char *end = text;

          /* At most DETAIL_MAX_CHARS characters, cut between two of them.
           * g_utf8_substring() cannot be used: it reads past the end of a
           * shorter text. */
          for (guint n = 0; n < DETAIL_MAX_CHARS && *end != '\0'; n++)
            end = g_utf8_next_char (end);

          return g_strdelimit (g_strndup (text, end - text), "\n\r\t", ' ');
        }
    }

  modified = tether_record_get_modified (record);
  if (modified != NULL)
    {
      g_autoptr(GDateTime) now = g_date_time_new_now_local ();

      return tether_record_row_describe_modified (modified, now);
    }

  return g_strdup ("");
}

static void
update_title (TetherRecordRow *self)
{
  const char *title = tether_record_get_title (self->record);

  if (title == NULL || title[0] == '\0')
    {
      gtk_inscription_set_text (self->title_label, _("Untitled"));
      gtk_widget_add_css_class (GTK_WIDGET (self->title_label), "dim-label");
    }
  else
    {
      gtk_inscription_set_text (self->title_label, title);
      gtk_widget_remove_css_class (GTK_WIDGET (self->title_label), "dim-label");
    }
}

static void
update_detail (TetherRecordRow *self)
{
  g_autofree char *detail = NULL;

  if (self->record == NULL)
    return;

  detail = describe_detail (self);

  gtk_inscription_set_text (self->detail_label, detail);
  gtk_widget_set_visible (GTK_WIDGET (self->detail_label), detail[0] != '\0');
}

static void
update_id (TetherRecordRow *self)
{
  g_autofree char *id = tether_record_dup_id_string (self->record);

  if (id != NULL)
    {
      /* Translators: %s is the id the server gave a record */
      g_autofree char *text = g_strdup_printf (_("#%s"), id);
      gtk_label_set_text (self->id_label, text);
    }
  else
    {
      gtk_label_set_text (self->id_label, _("Not yet synced"));
    }
}

static gboolean
query_state_tooltip_cb (GtkWidget       *icon,
                        int              x,
                        int              y,
                        gboolean         keyboard_mode,
                        GtkTooltip      *tooltip,
                        TetherRecordRow *self)
{
  if (self->record == NULL)
    return FALSE;

  gtk_tooltip_set_text (tooltip, tether_sync_state_describe (tether_record_get_sync_state (self->record)));

  return TRUE;
}

static void
update_state (TetherRecordRow *self)
{
  static const char * const classes[] = {
    "sync-state-conflict",
    "sync-state-error",
  };
  TetherSyncState state = tether_record_get_sync_state (self->record);
  const char *description = tether_sync_state_describe (state);

  gtk_image_set_from_icon_name (self->state_icon, tether_sync_state_icon_name (state));
  gtk_accessible_update_property (GTK_ACCESSIBLE (self->state_icon),
                                  GTK_ACCESSIBLE_PROPERTY_LABEL, description,
                                  -1);

  for (guint i = 0; i < G_N_ELEMENTS (classes); i++)
    gtk_widget_remove_css_class (GTK_WIDGET (self->state_icon), classes[i]);
  if (state == TETHER_SYNC_STATE_CONFLICT)
    gtk_widget_add_css_class (GTK_WIDGET (self->state_icon), "sync-state-conflict");
  else if (state == TETHER_SYNC_STATE_ERROR)
    gtk_widget_add_css_class (GTK_WIDGET (self->state_icon), "sync-state-error");
  gtk_widget_set_opacity (GTK_WIDGET (self->state_icon),
                          state == TETHER_SYNC_STATE_SYNCED ? 0.55 : 1.0);
}

static void
on_title_changed_cb (TetherRecordRow *self)
{
  update_title (self);
}

static void
on_record_changed_cb (TetherRecordRow *self)
{
  update_detail (self);
}

static void
on_id_changed_cb (TetherRecordRow *self)
{
  update_id (self);
}

static void
on_state_changed_cb (TetherRecordRow *self)
{
  update_state (self);
}

TetherRecord *
tether_record_row_get_record (TetherRecordRow *self)
{
  g_return_val_if_fail (TETHER_IS_RECORD_ROW (self), NULL);

  return self->record;
}

void
tether_record_row_set_record (TetherRecordRow *self,
                              TetherRecord    *record)
{
  g_return_if_fail (TETHER_IS_RECORD_ROW (self));
  g_return_if_fail (!record || TETHER_IS_RECORD (record));

  if (self->record == record)
    return;

  if (self->record != NULL)
    g_signal_handlers_disconnect_by_data (self->record, self);

  g_set_object (&self->record, record);

  if (record != NULL)
    {
      g_signal_connect_object (record, "notify::title",
                               G_CALLBACK (on_title_changed_cb), self,
                               G_CONNECT_SWAPPED);
      g_signal_connect_object (record, "changed",
                               G_CALLBACK (on_record_changed_cb), self,
                               G_CONNECT_SWAPPED);
      g_signal_connect_object (record, "notify::id",
                               G_CALLBACK (on_id_changed_cb), self,
                               G_CONNECT_SWAPPED);
      g_signal_connect_object (record, "notify::sync-state",
                               G_CALLBACK (on_state_changed_cb), self,
                               G_CONNECT_SWAPPED);
      update_title (self);
      update_detail (self);
      update_id (self);
      update_state (self);
    }

  g_object_notify_by_pspec (G_OBJECT (self), properties[PROP_RECORD]);
}

const char *
tether_record_row_get_client_id_field (TetherRecordRow *self)
{
  g_return_val_if_fail (TETHER_IS_RECORD_ROW (self), NULL);

  return self->client_id_field;
}

void
tether_record_row_set_client_id_field (TetherRecordRow *self,
                                       const char      *client_id_field)
{
  g_return_if_fail (TETHER_IS_RECORD_ROW (self));

  if (g_strcmp0 (self->client_id_field, client_id_field) == 0)
    return;

  g_free (self->client_id_field);
  self->client_id_field = g_strdup (client_id_field);

  update_detail (self);
  g_object_notify_by_pspec (G_OBJECT (self), properties[PROP_CLIENT_ID_FIELD]);
}

const char *
tether_record_row_get_id_field (TetherRecordRow *self)
{
  g_return_val_if_fail (TETHER_IS_RECORD_ROW (self), NULL);

  return self->id_field;
}

void
tether_record_row_set_id_field (TetherRecordRow *self,
                                const char      *id_field)
{
  g_return_if_fail (TETHER_IS_RECORD_ROW (self));

  if (g_strcmp0 (self->id_field, id_field) == 0)
    return;

  g_free (self->id_field);
  self->id_field = g_strdup (id_field);

  update_detail (self);
  g_object_notify_by_pspec (G_OBJECT (self), properties[PROP_ID_FIELD]);
}

static void
place (TetherRecordRow *self,
       GtkWidget       *child,
       int              column,
       int              row,
       int              row_span)
{
  GtkLayoutManager *layout = gtk_widget_get_layout_manager (GTK_WIDGET (self));
  GtkGridLayoutChild *info = GTK_GRID_LAYOUT_CHILD (gtk_layout_manager_get_layout_child (layout, child));

  gtk_grid_layout_child_set_column (info, column);
  gtk_grid_layout_child_set_row (info, row);
  gtk_grid_layout_child_set_row_span (info, row_span);
}

GtkWidget *
tether_record_row_new (void)
{
  return g_object_new (TETHER_TYPE_RECORD_ROW, NULL);
}

static void
tether_record_row_dispose (GObject *object)
{
  TetherRecordRow *self = (TetherRecordRow *)object;
  GtkWidget *child;

  tether_record_row_set_record (self, NULL);

  while ((child = gtk_widget_get_first_child (GTK_WIDGET (self))))
    gtk_widget_unparent (child);

  G_OBJECT_CLASS (tether_record_row_parent_class)->dispose (object);
}

static void
tether_record_row_finalize (GObject *object)
{
  TetherRecordRow *self = (TetherRecordRow *)object;

  g_clear_pointer (&self->client_id_field, g_free);
  g_clear_pointer (&self->id_field, g_free);

  G_OBJECT_CLASS (tether_record_row_parent_class)->finalize (object);
}

static void
tether_record_row_get_property (GObject    *object,
                                guint       prop_id,
                                GValue     *value,
                                GParamSpec *pspec)
{
  TetherRecordRow *self = TETHER_RECORD_ROW (object);

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
tether_record_row_set_property (GObject      *object,
                                guint         prop_id,
                                const GValue *value,
                                GParamSpec   *pspec)
{
  TetherRecordRow *self = TETHER_RECORD_ROW (object);

  switch (prop_id)
    {
    case PROP_RECORD:
      tether_record_row_set_record (self, g_value_get_object (value));
      break;

    case PROP_CLIENT_ID_FIELD:
      tether_record_row_set_client_id_field (self, g_value_get_string (value));
      break;

    case PROP_ID_FIELD:
      tether_record_row_set_id_field (self, g_value_get_string (value));
      break;

    default:
      G_OBJECT_WARN_INVALID_PROPERTY_ID (object, prop_id, pspec);
    }
}

static void
tether_record_row_class_init (TetherRecordRowClass *klass)
{
  GObjectClass *object_class = G_OBJECT_CLASS (klass);
  GtkWidgetClass *widget_class = GTK_WIDGET_CLASS (klass);

  object_class->dispose = tether_record_row_dispose;
  object_class->finalize = tether_record_row_finalize;
  object_class->get_property = tether_record_row_get_property;
  object_class->set_property = tether_record_row_set_property;

  properties[PROP_RECORD] =
    g_param_spec_object ("record", NULL, NULL,
                         TETHER_TYPE_RECORD,
                         (G_PARAM_READWRITE | G_PARAM_EXPLICIT_NOTIFY | G_PARAM_STATIC_STRINGS));

  /**
   * TetherRecordRow:client-id-field:
   *
   * The attribute holding the client id (#TetherAccount:client-id-field),
   * never shown as the row's detail.
   */
  properties[PROP_CLIENT_ID_FIELD] =
    g_param_spec_string ("client-id-field", NULL, NULL,
                         "clientId",
                         (G_PARAM_READWRITE | G_PARAM_EXPLICIT_NOTIFY | G_PARAM_STATIC_STRINGS));

  /**
   * TetherRecordRow:id-field:
   *
   * The attribute holding the server id (#TetherAccount:id-field), never
   * shown as the row's detail.
   */
  properties[PROP_ID_FIELD] =
    g_param_spec_string ("id-field", NULL, NULL,
                         "id",
                         (G_PARAM_READWRITE | G_PARAM_EXPLICIT_NOTIFY | G_PARAM_STATIC_STRINGS));

  g_object_class_install_properties (object_class, N_PROPS, properties);

  gtk_widget_class_set_layout_manager_type (widget_class, GTK_TYPE_GRID_LAYOUT);
  gtk_widget_class_set_css_name (widget_class, "tether-record-row");
}

static void
tether_record_row_init (TetherRecordRow *self)
{
  GtkLayoutManager *layout = gtk_widget_get_layout_manager (GTK_WIDGET (self));

  self->client_id_field = g_strdup ("clientId");
  self->id_field = g_strdup ("id");

  gtk_widget_add_css_class (GTK_WIDGET (self), "record-row");
  gtk_grid_layout_set_column_spacing (GTK_GRID_LAYOUT (layout), 12);
  gtk_grid_layout_set_row_spacing (GTK_GRID_LAYOUT (layout), 3);

  /* icon │ title   │ id
   *      │ detail  │      (the children straight in the row's grid) */
  self->state_icon = g_object_new (GTK_TYPE_IMAGE,
                                   "accessible-role", GTK_ACCESSIBLE_ROLE_IMG,
                                   "valign", GTK_ALIGN_CENTER,
                                   "has-tooltip", TRUE,
                                   "name", "state_icon",
                                   NULL);
  g_signal_connect_object (self->state_icon, "query-tooltip",
                           G_CALLBACK (query_state_tooltip_cb), self, 0);
  gtk_widget_set_parent (GTK_WIDGET (self->state_icon), GTK_WIDGET (self));
  place (self, GTK_WIDGET (self->state_icon), 0, 0, 2);

  self->title_label = g_object_new (GTK_TYPE_INSCRIPTION,
                                    "xalign", 0.0f,
                                    "hexpand", TRUE,
                                    "text-overflow", GTK_INSCRIPTION_OVERFLOW_ELLIPSIZE_END,
                                    "css-classes", (const char * const[]) { "heading", NULL },
                                    "name", "title_label",
                                    NULL);
  gtk_widget_set_parent (GTK_WIDGET (self->title_label), GTK_WIDGET (self));
  place (self, GTK_WIDGET (self->title_label), 1, 0, 1);

  self->detail_label = g_object_new (GTK_TYPE_INSCRIPTION,
                                     "xalign", 0.0f,
                                     "hexpand", TRUE,
                                     "text-overflow", GTK_INSCRIPTION_OVERFLOW_ELLIPSIZE_END,
                                     "css-classes", (const char * const[]) { "dim-label", NULL },
                                     "name", "detail_label",
                                     NULL);
  gtk_widget_set_parent (GTK_WIDGET (self->detail_label), GTK_WIDGET (self));
  place (self, GTK_WIDGET (self->detail_label), 1, 1, 1);

  self->id_label = g_object_new (GTK_TYPE_LABEL,
                                 "valign", GTK_ALIGN_CENTER,
                                 "xalign", 1.0f,
                                 "css-classes", (const char * const[]) { "caption", "dim-label", "record-id", NULL },
                                 "name", "id_label",
                                 NULL);
  gtk_widget_set_parent (GTK_WIDGET (self->id_label), GTK_WIDGET (self));
  place (self, GTK_WIDGET (self->id_label), 2, 0, 2);
}
