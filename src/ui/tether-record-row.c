/* tether-record-row.c
 *
 * Copyright 2026 The Tether authors
 *
 * SPDX-License-Identifier: GPL-3.0-or-later
 */

#include "config.h"

#include <glib/gi18n.h>

#include "tether-record-row.h"

/* One row of the record list. It follows its record through signals
 * only: when a pushed record receives its server id, notify::id updates
 * the row without any refresh code elsewhere. */
struct _TetherRecordRow
{
  GtkWidget     parent_instance;

  TetherRecord *record;

  GtkImage     *state_icon;
  GtkLabel     *title_label;
  GtkLabel     *detail_label;
  GtkLabel     *id_label;
};

G_DEFINE_FINAL_TYPE (TetherRecordRow, tether_record_row, GTK_TYPE_WIDGET)

enum {
  PROP_0,
  PROP_RECORD,
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

static char *
describe_detail (TetherRecord *record)
{
  g_autoptr(GList) members = NULL;
  JsonObject *attributes;
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
          g_strcmp0 (text, title) != 0)
        {
          const char *end = text;

          /* At most 200 characters, cut between two of them.
           * g_utf8_substring() cannot be used: it reads past the end of a
           * shorter text. */
          for (guint n = 0; n < 200 && *end != '\0'; n++)
            end = g_utf8_next_char (end);

          return g_strdelimit (g_strndup (text, end - text), "\n\r\t", ' ');
        }
    }

  if (tether_record_get_modified (record) != NULL)
    {
      g_autoptr(GDateTime) local = g_date_time_to_local (tether_record_get_modified (record));
      g_autofree char *when = g_date_time_format (local, "%x %X");

      /* Translators: %s is a date and time */
      return g_strdup_printf (_("Changed %s"), when);
    }

  return g_strdup ("");
}

static void
update_title (TetherRecordRow *self)
{
  const char *title = tether_record_get_title (self->record);

  if (title == NULL || title[0] == '\0')
    {
      gtk_label_set_text (self->title_label, _("Untitled"));
      gtk_widget_add_css_class (GTK_WIDGET (self->title_label), "dim-label");
    }
  else
    {
      gtk_label_set_text (self->title_label, title);
      gtk_widget_remove_css_class (GTK_WIDGET (self->title_label), "dim-label");
    }
}

static void
update_detail (TetherRecordRow *self)
{
  g_autofree char *detail = describe_detail (self->record);

  gtk_label_set_text (self->detail_label, detail);
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
  gtk_widget_set_tooltip_text (GTK_WIDGET (self->state_icon), description);
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
  gtk_widget_dispose_template (GTK_WIDGET (self), TETHER_TYPE_RECORD_ROW);

  /* The template's box has no name, so dispose_template() leaves it. */
  while ((child = gtk_widget_get_first_child (GTK_WIDGET (self))))
    gtk_widget_unparent (child);

  G_OBJECT_CLASS (tether_record_row_parent_class)->dispose (object);
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
  object_class->get_property = tether_record_row_get_property;
  object_class->set_property = tether_record_row_set_property;

  properties[PROP_RECORD] =
    g_param_spec_object ("record", NULL, NULL,
                         TETHER_TYPE_RECORD,
                         (G_PARAM_READWRITE | G_PARAM_EXPLICIT_NOTIFY | G_PARAM_STATIC_STRINGS));

  g_object_class_install_properties (object_class, N_PROPS, properties);

  gtk_widget_class_set_template_from_resource (widget_class, RESOURCE_PREFIX "/tether-record-row.ui");
  gtk_widget_class_bind_template_child (widget_class, TetherRecordRow, state_icon);
  gtk_widget_class_bind_template_child (widget_class, TetherRecordRow, title_label);
  gtk_widget_class_bind_template_child (widget_class, TetherRecordRow, detail_label);
  gtk_widget_class_bind_template_child (widget_class, TetherRecordRow, id_label);

  gtk_widget_class_set_layout_manager_type (widget_class, GTK_TYPE_BIN_LAYOUT);
  gtk_widget_class_set_css_name (widget_class, "tether-record-row");
}

static void
tether_record_row_init (TetherRecordRow *self)
{
  gtk_widget_init_template (GTK_WIDGET (self));
}
