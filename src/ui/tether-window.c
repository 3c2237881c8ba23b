/* tether-window.c
 *
 * Copyright 2026 The Tether authors
 *
 * SPDX-License-Identifier: GPL-3.0-or-later
 */

#include "config.h"

#include <glib/gi18n.h>

#include "tether-record-editor.h"
#include "tether-record-row.h"
#include "tether-window.h"

struct _TetherWindow
{
  AdwApplicationWindow  parent_instance;

  GCancellable         *cancellable;
  GSettings            *settings;
  TetherSession        *session;

  TetherSession        *local_session;

  GtkCustomSorter      *sorter;
  GtkSortListModel     *sort_model;
  guint                 resort_source;
  guint                 sort_by_modified : 1;
  GtkCustomFilter      *filter;
  GtkFilterListModel   *filter_model;
  GtkSingleSelection   *selection;
  char                 *search_folded;

  TetherRecord         *shown_record;
  TetherRecord         *pending_selection;
  guint                 scroll_source;
  guint                 focus_tick;
  guint                 focus_tries;
  guint                 scroll_to_selection : 1;
  TetherRecord         *deleted_record;
  TetherSyncState       deleted_state;

  GNetworkMonitor      *network_monitor;
  guint                 interval_source;
  guint                 n_conflicts;
  guint                 waiting_for_network : 1;
  guint                 last_sync_failed : 1;
  guint                 banner_offline : 1;
  guint                 banner_local : 1;

  /* Template widgets */
  AdwToastOverlay      *toast_overlay;
  AdwLeaflet           *leaflet;
  GtkWidget            *sidebar_header;
  AdwWindowTitle       *window_title;
  AdwWindowTitle       *editor_title;
  GtkSearchBar         *search_bar;
  GtkSearchEntry       *search_entry;
  GtkToggleButton      *search_button;
  GtkRevealer          *banner_revealer;
  GtkLabel             *banner_label;
  GtkButton            *banner_button;
  GtkStack             *list_stack;
  GtkSpinner           *loading_spinner;
  GtkListView          *list_view;
  AdwStatusPage        *damaged_page;
  GtkStack             *content_stack;
  GtkBox               *editor_box;
  GtkButton            *sync_button;
  GtkStack             *sync_stack;
  GtkSpinner           *sync_spinner;
  GtkWidget            *content;
  TetherRecordEditor   *editor;
};

G_DEFINE_FINAL_TYPE (TetherWindow, tether_window, ADW_TYPE_APPLICATION_WINDOW)

static void tether_window_update_list_page (TetherWindow *self);
static void on_application_session_cb      (TetherWindow      *self,
                                            GParamSpec        *pspec,
                                            TetherApplication *app);
static void tether_window_show_record      (TetherWindow *self,
                                            TetherRecord *record);
static void tether_window_update_sync_tooltip (TetherWindow *self);
static void tether_window_focus_selection  (TetherWindow *self);
static void tether_window_show_error       (TetherWindow *self,
                                            const char   *title,
                                            const char   *details);

enum {
  PROP_0,
  PROP_SESSION,
  PROP_SETTINGS,
  N_PROPS
};

static GParamSpec *properties[N_PROPS];

TetherWindow *
tether_window_new (TetherApplication *application)
{
  TetherWindow *self;

  g_return_val_if_fail (TETHER_IS_APPLICATION (application), NULL);

  self = g_object_new (TETHER_TYPE_WINDOW,
                       "application", application,
                       "session", tether_application_get_session (application),
                       "settings", tether_application_get_settings (application),
                       NULL);
  g_signal_connect_object (application, "notify::session",
                           G_CALLBACK (on_application_session_cb), self,
                           G_CONNECT_SWAPPED);

  return self;
}

TetherSession *
tether_window_get_session (TetherWindow *self)
{
  g_return_val_if_fail (TETHER_IS_WINDOW (self), NULL);

  return self->session;
}

GListModel *
tether_window_get_visible_records (TetherWindow *self)
{
  g_return_val_if_fail (TETHER_IS_WINDOW (self), NULL);

  return G_LIST_MODEL (self->filter_model);
}

TetherRecord *
tether_window_get_selected_record (TetherWindow *self)
{
  g_return_val_if_fail (TETHER_IS_WINDOW (self), NULL);

  /* The record in the editor: selected in the list, or about to be. */
  return self->shown_record;
}

/* Whether sorting and filtering are done: until then, positions move. */
static gboolean
tether_window_models_settled (TetherWindow *self)
{
  return gtk_sort_list_model_get_pending (self->sort_model) == 0 &&
         gtk_filter_list_model_get_pending (self->filter_model) == 0;
}

static void
tether_window_scroll_to_selection (TetherWindow *self)
{
  guint position = gtk_single_selection_get_selected (self->selection);

  /* While sorting or filtering runs, the row still moves: it is scrolled
   * to once the list has settled. */
  self->scroll_to_selection = !tether_window_models_settled (self);

  if (position == GTK_INVALID_LIST_POSITION || self->scroll_to_selection)
    return;

  gtk_widget_activate_action (GTK_WIDGET (self->list_view), "list.scroll-to-item", "u", position);
}

static void
tether_window_select_position (TetherWindow *self,
                               guint         position)
{
  g_clear_object (&self->pending_selection);
  gtk_single_selection_set_selected (self->selection, position);
  tether_window_scroll_to_selection (self);
}

void
tether_window_select_record (TetherWindow *self,
                             TetherRecord *record)
{
  GListModel *model;
  guint n_items;

  g_return_if_fail (TETHER_IS_WINDOW (self));
  g_return_if_fail (!record || TETHER_IS_RECORD (record));

  g_clear_object (&self->pending_selection);
  self->scroll_to_selection = FALSE;

  if (record == NULL)
    {
      gtk_single_selection_set_selected (self->selection, GTK_INVALID_LIST_POSITION);
      return;
    }

  model = G_LIST_MODEL (self->selection);
  n_items = g_list_model_get_n_items (model);

  for (guint i = 0; i < n_items; i++)
    {
      g_autoptr(TetherRecord) item = g_list_model_get_item (model, i);

      if (item == record)
        {
          tether_window_select_position (self, i);
          return;
        }
    }

  /* Sorting and filtering are incremental: a record just added may not
   * have reached the list yet, and a search may hide it. It is shown in
   * the editor now and selected in the list when it gets there. */
  self->pending_selection = g_object_ref (record);
  tether_window_show_record (self, record);
}

/* Sorting and filtering
 *
 * Both run over every record, a sort many times: what they compare and
 * search is made once per record and kept on it (as qdata) until the
 * record changes. */

/* How long edits pause before a changed record takes its new place. */
#define RESORT_DELAY_MS 500

static GQuark sort_key_quark;
static GQuark search_text_quark;

typedef struct
{
  char *title;  /* the title the key was made from */
  char *key;    /* the collation key of its case-folded form */
} SortKey;

static void
sort_key_free (SortKey *key)
{
  g_free (key->title);
  g_free (key->key);
  g_free (key);
}

/* The key is checked against the title, which the record derives from
 * its fields: a key made from an older title is made again. */
static const char *
record_sort_key (TetherRecord *record)
{
  const char *title = tether_record_get_title (record);
  SortKey *key = g_object_get_qdata (G_OBJECT (record), sort_key_quark);

  if (title == NULL)
    title = "";

  if (key == NULL || strcmp (key->title, title) != 0)
    {
      g_autofree char *folded = g_utf8_casefold (title, -1);

      key = g_new (SortKey, 1);
      key->title = g_strdup (title);
      key->key = g_utf8_collate_key (folded, -1);
      g_object_set_qdata_full (G_OBJECT (record), sort_key_quark, key, (GDestroyNotify) sort_key_free);
    }

  return key->key;
}

static int
compare_titles (TetherRecord *a,
                TetherRecord *b)
{
  return strcmp (record_sort_key (a), record_sort_key (b));
}

static int
sort_records_cb (gconstpointer a,
                 gconstpointer b,
                 gpointer      user_data)
{
  TetherWindow *self = user_data;
  TetherRecord *ra = (TetherRecord *)a;
  TetherRecord *rb = (TetherRecord *)b;

  if (self->sort_by_modified)
    {
      GDateTime *ma = tether_record_get_modified (ra);
      GDateTime *mb = tether_record_get_modified (rb);

      /* Newest first; records never changed here go last. */
      if (ma != NULL && mb != NULL)
        {
          int cmp = g_date_time_compare (mb, ma);
          if (cmp != 0)
            return cmp;
        }
      else if (ma != NULL || mb != NULL)
        return ma != NULL ? -1 : 1;
    }

  return compare_titles (ra, rb);
}

/* Every text of a record, nested ones too (a list of tags, an address),
 * case-folded, one per line: a search never spans two. A record not
 * parsed yet is read from its stored text, and stays unparsed. */
static const char *
record_search_text (TetherRecord *record)
{
  char *text = g_object_get_qdata (G_OBJECT (record), search_text_quark);

  if (text == NULL)
    {
      g_autofree char *raw = tether_record_dup_text (record);

      text = g_utf8_casefold (raw, -1);
      g_object_set_qdata_full (G_OBJECT (record), search_text_quark, text, g_free);
    }

  return text;
}

static gboolean
filter_record_cb (gpointer item,
                  gpointer user_data)
{
  TetherWindow *self = user_data;

  if (self->search_folded == NULL || self->search_folded[0] == '\0')
    return TRUE;

  return strstr (record_search_text (TETHER_RECORD (item)), self->search_folded) != NULL;
}

static gboolean
resort_cb (gpointer user_data)
{
  TetherWindow *self = user_data;

  self->resort_source = 0;
  gtk_sorter_changed (GTK_SORTER (self->sorter), GTK_SORTER_CHANGE_DIFFERENT);

  return G_SOURCE_REMOVE;
}

/* A record changed: what was kept for searching it is stale, and when its
 * sort key moved, the list sorts again once the edits pause (not at every
 * key press, and once for a sync that changed many records). */
static void
on_record_changed_cb (TetherWindow *self,
                      TetherRecord *record,
                      const char   *field)
{
  SortKey *key = g_object_get_qdata (G_OBJECT (record), sort_key_quark);
  const char *title = tether_record_get_title (record);

  g_object_set_qdata (G_OBJECT (record), search_text_quark, NULL);

  /* Records change as the window's session closes, after dispose. */
  if (self->sorter == NULL)
    return;

  if (self->resort_source == 0 &&
      (self->sort_by_modified || key == NULL || g_strcmp0 (key->title, title ? title : "") != 0))
    self->resort_source = g_timeout_add (RESORT_DELAY_MS, resort_cb, self);
}

static void
on_search_changed_cb (TetherWindow   *self,
                      GtkSearchEntry *entry)
{
  const char *text = gtk_editable_get_text (GTK_EDITABLE (entry));
  g_autofree char *folded = g_utf8_casefold (text, -1);
  GtkFilterChange change = GTK_FILTER_CHANGE_DIFFERENT;

  g_strstrip (folded);
  g_debug ("Search for “%s”", folded);

  if (g_strcmp0 (folded, self->search_folded) == 0)
    return;

  /* Typing more only narrows the matches; GTK then re-checks only the
   * records that still match. */
  if (self->search_folded != NULL && self->search_folded[0] != '\0' &&
      strstr (folded, self->search_folded) != NULL)
    change = GTK_FILTER_CHANGE_MORE_STRICT;
  else if (folded[0] == '\0' ||
           (self->search_folded != NULL && strstr (self->search_folded, folded) != NULL))
    change = GTK_FILTER_CHANGE_LESS_STRICT;

  g_free (self->search_folded);
  self->search_folded = g_steal_pointer (&folded);

  if (self->search_folded[0] == '\0')
    gtk_filter_list_model_set_filter (self->filter_model, NULL);
  else if (gtk_filter_list_model_get_filter (self->filter_model) == NULL)
    gtk_filter_list_model_set_filter (self->filter_model, GTK_FILTER (self->filter));
  else
    gtk_filter_changed (GTK_FILTER (self->filter), change);

  tether_window_update_list_page (self);
}

static void
on_search_stopped_cb (TetherWindow   *self,
                      GtkSearchEntry *entry)
{
  gtk_editable_set_text (GTK_EDITABLE (entry), "");
  gtk_search_bar_set_search_mode (self->search_bar, FALSE);
}

static void
on_search_mode_cb (TetherWindow *self)
{
  if (gtk_search_bar_get_search_mode (self->search_bar))
    return;

  /* Closing the search shows every record again. */
  gtk_editable_set_text (GTK_EDITABLE (self->search_entry), "");

  if (gtk_single_selection_get_selected_item (self->selection) != NULL ||
      self->pending_selection != NULL)
    tether_window_focus_selection (self);
}

/* The list and the editor */

static void
tether_window_update_list_page (TetherWindow *self)
{
  TetherCollection *collection = tether_session_get_collection (self->session);
  const char *page;

  if (!tether_session_is_open (self->session))
    {
      if (g_strcmp0 (gtk_stack_get_visible_child_name (self->list_stack), "damaged") != 0)
        gtk_stack_set_visible_child_name (self->list_stack, "loading");
      return;
    }

  if (g_list_model_get_n_items (G_LIST_MODEL (collection)) == 0)
    page = "empty";
  else if (g_list_model_get_n_items (G_LIST_MODEL (self->filter_model)) == 0 &&
           !gtk_filter_list_model_get_pending (self->filter_model))
    page = "no-results";
  else
    page = "list";

  gtk_stack_set_visible_child_name (self->list_stack, page);
}

/* Records in conflict wait for the user and are not sent until they are
 * resolved. Counted when they can change: when the store opens, after a
 * sync, and when the user resolves or deletes one, not on every change
 * of the number of unsynced records (a sync changes it once per record). */
static void
tether_window_count_conflicts (TetherWindow *self)
{
  TetherCollection *collection = tether_session_get_collection (self->session);
  GPtrArray *tombstones = tether_collection_get_tombstones (collection);
  guint n_items = g_list_model_get_n_items (G_LIST_MODEL (collection));
  guint n_conflicts = 0;

  for (guint i = 0; i < n_items; i++)
    {
      g_autoptr(TetherRecord) record = g_list_model_get_item (G_LIST_MODEL (collection), i);

      if (tether_record_get_sync_state (record) == TETHER_SYNC_STATE_CONFLICT)
        n_conflicts++;
    }

  for (guint i = 0; i < tombstones->len; i++)
    if (tether_record_get_sync_state (g_ptr_array_index (tombstones, i)) == TETHER_SYNC_STATE_CONFLICT)
      n_conflicts++;

  self->n_conflicts = n_conflicts;
}

/* The line under the window title: where the records stand with the
 * server, in a few words that fit a narrow window (about 16 characters
 * beside the header bar's buttons at its narrowest). */
static void
tether_window_update_sync_status (TetherWindow *self)
{
  TetherSync *sync = tether_session_get_sync (self->session);
  guint n_unsynced = tether_session_get_n_unsynced (self->session);
  guint n_conflicts = MIN (self->n_conflicts, n_unsynced);
  guint n_to_send = n_unsynced - n_conflicts;
  g_autofree char *subtitle = NULL;

  if (tether_sync_get_running (sync) && tether_sync_get_progress_text (sync) != NULL)
    subtitle = g_strdup (tether_sync_get_progress_text (sync));
  else if (!tether_account_has_server (tether_session_get_account (self->session)))
    subtitle = g_strdup (_("No server set"));
  else if (self->waiting_for_network)
    subtitle = g_strdup (_("Offline"));
  else if (self->last_sync_failed)
    subtitle = g_strdup (_("Last sync failed"));
  else if (n_to_send > 0 && n_conflicts > 0)
    /* Translators: "3 to send, 1 conflict": changes not yet sent to the
     * server, and records in conflict with it. Keep it short. */
    subtitle = g_strdup_printf (g_dngettext (GETTEXT_PACKAGE,
                                             "%u to send, %u conflict",
                                             "%u to send, %u conflicts",
                                             n_conflicts),
                                n_to_send, n_conflicts);
  else if (n_to_send > 0)
    subtitle = g_strdup_printf (g_dngettext (GETTEXT_PACKAGE,
                                             "%u change to send",
                                             "%u changes to send",
                                             n_to_send),
                                n_to_send);
  else if (n_conflicts > 0)
    subtitle = g_strdup_printf (g_dngettext (GETTEXT_PACKAGE,
                                             "%u conflict",
                                             "%u conflicts",
                                             n_conflicts),
                                n_conflicts);
  else
    subtitle = g_strdup (_("All changes synced"));

  adw_window_title_set_subtitle (self->window_title, subtitle);
}

static void
update_editor_title (TetherWindow *self)
{
  const char *title = NULL;

  if (self->shown_record != NULL)
    title = tether_record_get_title (self->shown_record);

  if (self->shown_record != NULL && (title == NULL || title[0] == '\0'))
    title = _("Untitled");

  adw_window_title_set_title (self->editor_title, title ? title : "");
}

static void
tether_window_show_record (TetherWindow *self,
                           TetherRecord *record)
{
  if (self->shown_record == record)
    return;

  if (self->shown_record != NULL)
    g_signal_handlers_disconnect_by_func (self->shown_record, update_editor_title, self);

  g_set_object (&self->shown_record, record);

  if (record != NULL)
    g_signal_connect_object (record, "notify::title",
                             G_CALLBACK (update_editor_title), self,
                             G_CONNECT_SWAPPED);

  tether_record_editor_set_record (self->editor, record);
  gtk_stack_set_visible_child_name (self->content_stack, record ? "editor" : "none");
  gtk_widget_action_set_enabled (GTK_WIDGET (self), "win.delete-record", record != NULL);
  update_editor_title (self);

  g_settings_set_string (self->settings, "selected-record",
                         record ? tether_record_get_cid (record) : "");
}

static void
on_editor_resolve_cb (TetherWindow       *self,
                      const char         *field,
                      gboolean            keep_mine,
                      TetherRecordEditor *editor)
{
  TetherRecord *record = tether_record_editor_get_record (editor);

  if (record == NULL)
    return;

  tether_sync_resolve (tether_session_get_sync (self->session), record, field, keep_mine);
  tether_window_count_conflicts (self);
  tether_window_update_sync_status (self);
}

static void
on_selection_changed_cb (TetherWindow *self)
{
  TetherRecord *selected = gtk_single_selection_get_selected_item (self->selection);

  if (selected == NULL && self->pending_selection != NULL)
    return;

  /* The user chose another record than the one waiting to be selected. */
  if (selected != NULL)
    g_clear_object (&self->pending_selection);

  tether_window_show_record (self, selected);
}

static void
on_selection_items_changed_cb (TetherWindow *self,
                               guint         position,
                               guint         removed,
                               guint         added,
                               GListModel   *model)
{
  if (self->pending_selection != NULL)
    {
      /* A record that was not in the list comes in among the added ones. */
      for (guint i = position; i < position + added; i++)
        {
          g_autoptr(TetherRecord) item = g_list_model_get_item (model, i);

          if (item == self->pending_selection)
            {
              tether_window_select_position (self, i);
              return;
            }
        }

      return;
    }

  /* The record in the editor left the list without being removed from
   * the collection (that is on_record_removed_cb()): a search hides it,
   * or a refilter takes it out to put it back. It stays in the editor and
   * is selected again when it comes back. */
  if (gtk_single_selection_get_selected_item (self->selection) == NULL &&
      self->shown_record != NULL)
    {
      self->pending_selection = g_object_ref (self->shown_record);
      return;
    }

  on_selection_changed_cb (self);
}

/* The row widgets exist once the list has been laid out after scrolling:
 * the focus goes to the selected one from the next frames. */
static gboolean
focus_selection_tick_cb (GtkWidget     *widget,
                         GdkFrameClock *frame_clock,
                         gpointer       user_data)
{
  TetherWindow *self = user_data;
  TetherRecord *selected = gtk_single_selection_get_selected_item (self->selection);
  GtkWidget *item = NULL;

  if (selected != NULL && tether_window_models_settled (self))
    item = gtk_widget_get_first_child (widget);

  for (; item != NULL; item = gtk_widget_get_next_sibling (item))
    {
      GtkWidget *row = gtk_widget_get_first_child (item);

      if (row != NULL && TETHER_IS_RECORD_ROW (row) &&
          tether_record_row_get_record (TETHER_RECORD_ROW (row)) == selected &&
          gtk_widget_get_mapped (item))
        {
          gtk_widget_grab_focus (item);
          self->focus_tick = 0;
          return G_SOURCE_REMOVE;
        }
    }

  if (self->focus_tries-- > 0)
    return G_SOURCE_CONTINUE;

  self->focus_tick = 0;
  return G_SOURCE_REMOVE;
}

/* Where the keyboard goes when the search closes: back to the selected
 * record in the list. The list would otherwise give the focus to the row
 * it last had, and scroll there, away from the selection. */
static void
tether_window_focus_selection (TetherWindow *self)
{
  self->focus_tries = 30;

  if (self->focus_tick == 0)
    self->focus_tick = gtk_widget_add_tick_callback (GTK_WIDGET (self->list_view),
                                                     focus_selection_tick_cb,
                                                     self, NULL);
}

static gboolean
scroll_to_selection_cb (gpointer user_data)
{
  TetherWindow *self = user_data;

  self->scroll_source = 0;

  if (self->scroll_to_selection)
    tether_window_scroll_to_selection (self);

  return G_SOURCE_REMOVE;
}

static void
on_models_pending_cb (TetherWindow *self)
{
  tether_window_update_list_page (self);

  /* Not from here: the sort model says it is done before the models
   * after it and the list view have seen its last change. */
  if (self->scroll_to_selection && tether_window_models_settled (self) &&
      self->scroll_source == 0)
    self->scroll_source = g_idle_add (scroll_to_selection_cb, self);
}

static void
on_record_removed_cb (TetherWindow     *self,
                      TetherRecord     *record,
                      TetherCollection *collection)
{
  /* Deleted here, or by the server: no longer something to come back to. */
  if (record == self->pending_selection)
    g_clear_object (&self->pending_selection);

  if (record == self->shown_record)
    tether_window_show_record (self, gtk_single_selection_get_selected_item (self->selection));
}

static void
on_list_activate_cb (TetherWindow *self,
                     guint         position)
{
  gtk_single_selection_set_selected (self->selection, position);
  adw_leaflet_navigate (self->leaflet, ADW_NAVIGATION_DIRECTION_FORWARD);
}

/* A click on a row selects it (the row's own gesture does that first);
 * when the leaflet is folded the list fills the window, so the click also
 * opens the record, as Enter and a double click do. */
static void
on_list_released_cb (GtkGestureClick *gesture,
                     int              n_press,
                     double           x,
                     double           y,
                     TetherWindow    *self)
{
  GtkWidget *picked;
  TetherRecord *selected;

  if (n_press != 1 || !adw_leaflet_get_folded (self->leaflet))
    return;

  selected = gtk_single_selection_get_selected_item (self->selection);
  if (selected == NULL)
    return;

  picked = gtk_widget_pick (GTK_WIDGET (self->list_view), x, y, GTK_PICK_DEFAULT);
  while (picked != NULL && !TETHER_IS_RECORD_ROW (picked))
    picked = gtk_widget_get_parent (picked);

  /* A click beside the rows, or one that unselected the row, opens
   * nothing. */
  if (picked == NULL || tether_record_row_get_record (TETHER_RECORD_ROW (picked)) != selected)
    return;

  adw_leaflet_navigate (self->leaflet, ADW_NAVIGATION_DIRECTION_FORWARD);
}

/* Each row takes the focus, so Tab would walk the list row by row and
 * only Ctrl+Tab would leave it. Tab goes on to the editor instead, and
 * Shift+Tab back to the search entry or the header bar; the arrow keys
 * move in the list. */
static gboolean
on_list_key_pressed_cb (GtkEventControllerKey *controller,
                        guint                  keyval,
                        guint                  keycode,
                        GdkModifierType        state,
                        TetherWindow          *self)
{
  gboolean backward;

  if (keyval != GDK_KEY_Tab && keyval != GDK_KEY_KP_Tab && keyval != GDK_KEY_ISO_Left_Tab)
    return FALSE;

  /* Ctrl+Tab already leaves the list. */
  if ((state & (GDK_CONTROL_MASK | GDK_ALT_MASK)) != 0)
    return FALSE;

  backward = keyval == GDK_KEY_ISO_Left_Tab || (state & GDK_SHIFT_MASK) != 0;

  if (!backward)
    {
      /* Folded, the editor is not on screen: nothing to go on to. */
      if (!gtk_widget_get_mapped (self->content))
        return FALSE;

      return gtk_widget_child_focus (GTK_WIDGET (self->editor), GTK_DIR_TAB_FORWARD) ||
             gtk_widget_child_focus (self->content, GTK_DIR_TAB_FORWARD);
    }

  if (gtk_search_bar_get_search_mode (self->search_bar) &&
      gtk_widget_grab_focus (GTK_WIDGET (self->search_entry)))
    return TRUE;

  return gtk_widget_child_focus (self->sidebar_header, GTK_DIR_TAB_BACKWARD);
}

static void
on_items_changed_cb (TetherWindow *self)
{
  tether_window_update_list_page (self);
}

static void
setup_row_cb (GtkSignalListItemFactory *factory,
              GtkListItem              *item,
              TetherWindow             *self)
{
  GtkWidget *row = tether_record_row_new ();

  /* The row's detail line leaves out the server's bookkeeping, whose
   * field names are settings of the account all sessions share. */
  if (self->session != NULL)
    {
      TetherAccount *account = tether_session_get_account (self->session);

      g_object_bind_property (account, "id-field", row, "id-field", G_BINDING_SYNC_CREATE);
      g_object_bind_property (account, "client-id-field", row, "client-id-field", G_BINDING_SYNC_CREATE);
    }

  gtk_list_item_set_child (item, row);
}

static void
bind_row_cb (GtkSignalListItemFactory *factory,
             GtkListItem              *item,
             gpointer                  user_data)
{
  tether_record_row_set_record (TETHER_RECORD_ROW (gtk_list_item_get_child (item)),
                                gtk_list_item_get_item (item));
}

static void
unbind_row_cb (GtkSignalListItemFactory *factory,
               GtkListItem              *item,
               gpointer                  user_data)
{
  tether_record_row_set_record (TETHER_RECORD_ROW (gtk_list_item_get_child (item)), NULL);
}

/* The banner under the header bar: one message at a time, each with a
 * way forward, instead of a stack of dialogs. The user can dismiss it. */

static void
tether_window_show_banner (TetherWindow *self,
                           const char   *message,
                           const char   *button_label,
                           const char   *action_name)
{
  gtk_label_set_text (self->banner_label, message);
  gtk_button_set_label (self->banner_button, button_label);
  gtk_actionable_set_action_name (GTK_ACTIONABLE (self->banner_button), action_name);
  gtk_widget_set_visible (GTK_WIDGET (self->banner_button), button_label != NULL);
  gtk_revealer_set_reveal_child (self->banner_revealer, TRUE);
  self->banner_offline = FALSE;
  self->banner_local = FALSE;
}

static void
tether_window_hide_banner (TetherWindow *self)
{
  gtk_revealer_set_reveal_child (self->banner_revealer, FALSE);
  self->banner_offline = FALSE;
  self->banner_local = FALSE;
}

/* Records made without a server live in a store of their own, apart from
 * each server's: once a server is set they are out of sight, and a user
 * would think them lost. The window opens that store beside its own,
 * says how many records wait there, and offers to move them into this
 * server's collection, where the next sync creates them. */

static void
tether_window_close_local_session (TetherWindow *self)
{
  g_autoptr(TetherSession) session = g_steal_pointer (&self->local_session);
  g_autoptr(GError) error = NULL;

  if (session != NULL && tether_session_is_open (session) &&
      !tether_session_close (session, &error))
    g_warning ("Could not close the store of records made without a server: %s", error->message);
}

static void
on_local_session_open_cb (GObject      *object,
                          GAsyncResult *result,
                          gpointer      user_data)
{
  TetherSession *session = TETHER_SESSION (object);
  g_autoptr(TetherWindow) self = user_data;
  g_autoptr(GError) error = NULL;
  g_autofree char *message = NULL;
  guint n_records;

  /* A damaged store is open with what could be read. */
  if (!tether_session_open_finish (session, result, &error) &&
      !tether_session_is_open (session))
    {
      if (!g_error_matches (error, G_IO_ERROR, G_IO_ERROR_CANCELLED))
        g_debug ("Records made without a server cannot be read: %s", error->message);
      if (session == self->local_session)
        g_clear_object (&self->local_session);
      return;
    }

  /* The window moved on to another collection meanwhile. */
  if (session != self->local_session)
    {
      tether_session_close (session, NULL);
      return;
    }

  n_records = tether_session_count_local_only (session);
  if (n_records == 0)
    {
      tether_window_close_local_session (self);
      return;
    }

  message = g_strdup_printf (g_dngettext (GETTEXT_PACKAGE,
                                          "%u record made without a server is kept apart",
                                          "%u records made without a server are kept apart",
                                          n_records),
                             n_records);
  tether_window_show_banner (self, message, _("_Move Here"), "win.adopt-records");
  self->banner_local = TRUE;
}

static void
tether_window_look_for_local_records (TetherWindow *self)
{
  TetherAccount *account = tether_session_get_account (self->session);
  g_autoptr(GFile) directory = NULL;

  if (!tether_account_has_server (account) || self->local_session != NULL)
    return;

  directory = tether_store_default_directory ("", tether_account_get_collection (account));

  /* Tether never ran without a server for this collection. */
  if (g_file_equal (directory, tether_session_get_directory (self->session)) ||
      !g_file_query_exists (directory, NULL))
    return;

  self->local_session = tether_session_new (account, directory);
  tether_session_open_async (self->local_session,
                             self->cancellable,
                             on_local_session_open_cb,
                             g_object_ref (self));
}

static void
on_adopt_records_cb (GObject      *object,
                     GAsyncResult *result,
                     gpointer      user_data)
{
  g_autoptr(TetherWindow) self = user_data;
  g_autoptr(GError) error = NULL;
  g_autofree char *title = NULL;
  AdwToast *toast;
  guint n_records;

  n_records = tether_session_adopt_records_finish (TETHER_SESSION (object), result, &error);
  gtk_widget_action_set_enabled (GTK_WIDGET (self), "win.adopt-records", TRUE);

  if (error != NULL)
    {
      if (!g_error_matches (error, G_IO_ERROR, G_IO_ERROR_CANCELLED))
        tether_window_show_error (self, _("Records not moved"), error->message);
      return;
    }

  if (self->banner_local)
    tether_window_hide_banner (self);
  tether_window_close_local_session (self);

  title = g_strdup_printf (g_dngettext (GETTEXT_PACKAGE,
                                        "%u record moved here; sync to send it",
                                        "%u records moved here; sync to send them",
                                        n_records),
                           n_records);
  toast = adw_toast_new (title);
  adw_toast_set_button_label (toast, _("_Sync"));
  adw_toast_set_action_name (toast, "win.sync");
  adw_toast_overlay_add_toast (self->toast_overlay, toast);
}

static void
tether_window_adopt_records_action (GtkWidget  *widget,
                                    const char *action_name,
                                    GVariant   *parameter)
{
  TetherWindow *self = TETHER_WINDOW (widget);

  if (self->local_session == NULL ||
      !tether_session_is_open (self->local_session) ||
      !tether_session_is_open (self->session))
    return;

  gtk_widget_action_set_enabled (GTK_WIDGET (self), "win.adopt-records", FALSE);
  tether_session_adopt_records_async (self->session,
                                      self->local_session,
                                      self->cancellable,
                                      on_adopt_records_cb,
                                      g_object_ref (self));
}

static void
on_banner_close_cb (TetherWindow *self)
{
  /* The records stay where they are, and the offer comes back next time. */
  if (self->banner_local)
    tether_window_close_local_session (self);

  tether_window_hide_banner (self);
}

/* The store could not read part of its files: what was read is here, and
 * the rest was set aside unchanged in the store's folder. The user hears
 * it in plain words; where the file is, for whoever wants to look, is
 * one click further. */

static void
on_damage_response_cb (AdwMessageDialog *dialog,
                       const char       *response,
                       TetherWindow     *self)
{
  if (g_strcmp0 (response, "open") == 0)
    {
      GFile *directory = tether_session_get_directory (self->session);
      g_autofree char *uri = g_file_get_uri (directory);

      gtk_show_uri (GTK_WINDOW (self), uri, GDK_CURRENT_TIME);
    }
}

static void
tether_window_damage_details_action (GtkWidget  *widget,
                                     const char *action_name,
                                     GVariant   *parameter)
{
  TetherWindow *self = TETHER_WINDOW (widget);
  GtkWidget *dialog;
  GtkWidget *path;

  dialog = adw_message_dialog_new (GTK_WINDOW (self),
                                   _("Some Records Could Not Be Read"),
                                   _("Tether kept every record it could read. "
                                     "The part of the file it could not read was set aside, "
                                     "unchanged, in a file whose name contains “damaged”, "
                                     "in this folder:"));
  path = gtk_label_new (g_file_peek_path (tether_session_get_directory (self->session)));
  gtk_label_set_selectable (GTK_LABEL (path), TRUE);
  gtk_label_set_wrap (GTK_LABEL (path), TRUE);
  gtk_label_set_wrap_mode (GTK_LABEL (path), PANGO_WRAP_CHAR);
  gtk_widget_add_css_class (path, "monospace");
  adw_message_dialog_set_extra_child (ADW_MESSAGE_DIALOG (dialog), path);
  adw_message_dialog_add_responses (ADW_MESSAGE_DIALOG (dialog),
                                    "close", _("_Close"),
                                    "open", _("_Open Folder"),
                                    NULL);
  adw_message_dialog_set_default_response (ADW_MESSAGE_DIALOG (dialog), "close");
  adw_message_dialog_set_close_response (ADW_MESSAGE_DIALOG (dialog), "close");
  g_signal_connect_object (dialog, "response",
                           G_CALLBACK (on_damage_response_cb), self,
                           0);
  gtk_window_present (GTK_WINDOW (dialog));
}

/* Opening the store */

static void
tether_window_session_opened (TetherWindow *self)
{
  g_autofree char *selected = g_settings_get_string (self->settings, "selected-record");
  TetherCollection *collection = tether_session_get_collection (self->session);
  TetherRecord *record;

  gtk_spinner_stop (self->loading_spinner);
  tether_window_update_list_page (self);
  tether_window_count_conflicts (self);
  tether_window_update_sync_status (self);
  /* The time of the last sync is kept in the store: known only now. */
  tether_window_update_sync_tooltip (self);

  if (selected[0] != '\0' &&
      (record = tether_collection_lookup_cid (collection, selected)) != NULL)
    tether_window_select_record (self, record);

  tether_window_look_for_local_records (self);
}

static void
tether_window_open_cb (GObject      *object,
                       GAsyncResult *result,
                       gpointer      user_data)
{
  TetherSession *session = (TetherSession *)object;
  g_autoptr(TetherWindow) self = user_data;
  g_autoptr(GError) error = NULL;

  if (!tether_session_open_finish (session, result, &error))
    {
      if (g_error_matches (error, G_IO_ERROR, G_IO_ERROR_CANCELLED))
        return;

      if (tether_session_is_open (session))
        {
          /* Damaged but recovered: the records that could be read are
           * here, and the details say where the original is kept. The
           * store's own message, with its paths, goes to the log. */
          g_message ("%s", error->message);
          tether_window_show_banner (self,
                                     _("Some records could not be read. All the others are here."),
                                     _("_Details"),
                                     "win.damage-details");
        }
      else
        {
          gtk_spinner_stop (self->loading_spinner);
          adw_status_page_set_description (self->damaged_page, error->message);
          gtk_stack_set_visible_child_name (self->list_stack, "damaged");
          gtk_widget_action_set_enabled (GTK_WIDGET (self), "win.add", FALSE);
          gtk_widget_action_set_enabled (GTK_WIDGET (self), "win.sync", FALSE);
          return;
        }
    }

  tether_window_session_opened (self);
}

/* Actions */

static void
tether_window_add_action (GtkWidget  *widget,
                          const char *action_name,
                          GVariant   *parameter)
{
  TetherWindow *self = TETHER_WINDOW (widget);
  g_autoptr(TetherRecord) record = NULL;
  TetherCollection *collection;

  if (!tether_session_is_open (self->session))
    return;

  collection = tether_session_get_collection (self->session);
  record = tether_record_new ();
  tether_record_set_string (record, "title", "");

  /* A search that hides the new record would leave the user lost. */
  gtk_editable_set_text (GTK_EDITABLE (self->search_entry), "");

  tether_collection_add (collection, record);
  tether_window_select_record (self, record);
  adw_leaflet_navigate (self->leaflet, ADW_NAVIGATION_DIRECTION_FORWARD);
  tether_record_editor_focus_field (self->editor, "title");
}

static void
tether_window_delete_record_action (GtkWidget  *widget,
                                    const char *action_name,
                                    GVariant   *parameter)
{
  TetherWindow *self = TETHER_WINDOW (widget);
  TetherRecord *record = self->shown_record;
  g_autoptr(TetherRecord) hold = NULL;
  g_autofree char *escaped = NULL;
  g_autofree char *title = NULL;
  AdwToast *toast;
  const char *name;

  if (record == NULL || !tether_session_is_open (self->session))
    return;

  hold = g_object_ref (record);
  name = tether_record_get_title (record);
  if (name == NULL || name[0] == '\0')
    name = _("Untitled");

  /* The record object itself is kept for Undo, with its revision, base
   * and state: nothing of it is thrown away. */
  g_clear_object (&self->deleted_record);
  self->deleted_record = g_object_ref (record);
  self->deleted_state = tether_record_get_sync_state (record);
  tether_collection_delete (tether_session_get_collection (self->session), record);
  gtk_widget_action_set_enabled (GTK_WIDGET (self), "win.undo-delete", TRUE);
  if (self->deleted_state == TETHER_SYNC_STATE_CONFLICT)
    {
      tether_window_count_conflicts (self);
      tether_window_update_sync_status (self);
    }

  /* The toast's title is markup: a title with "&" or "<" is shown as
   * typed. */
  escaped = g_markup_escape_text (name, -1);
  /* Translators: %s is the title of a record */
  title = g_strdup_printf (_("“%s” deleted"), escaped);
  toast = adw_toast_new (title);
  adw_toast_set_button_label (toast, _("_Undo"));
  adw_toast_set_action_name (toast, "win.undo-delete");
  adw_toast_set_priority (toast, ADW_TOAST_PRIORITY_HIGH);
  adw_toast_overlay_add_toast (self->toast_overlay, toast);

  adw_leaflet_navigate (self->leaflet, ADW_NAVIGATION_DIRECTION_BACK);
}

static void
tether_window_undo_delete_action (GtkWidget  *widget,
                                  const char *action_name,
                                  GVariant   *parameter)
{
  TetherWindow *self = TETHER_WINDOW (widget);
  g_autoptr(TetherRecord) record = g_steal_pointer (&self->deleted_record);
  TetherCollection *collection;

  gtk_widget_action_set_enabled (GTK_WIDGET (self), "win.undo-delete", FALSE);

  if (record == NULL || !tether_session_is_open (self->session))
    return;

  collection = tether_session_get_collection (self->session);

  /* A sync may have sent the DELETE meanwhile: then it is gone for good. */
  if (tether_collection_lookup_cid (collection, tether_record_get_cid (record)) == NULL &&
      tether_record_get_id (record) != NULL)
    return;

  tether_collection_restore (collection, record, self->deleted_state);
  tether_window_select_record (self, record);
  tether_window_count_conflicts (self);
  tether_window_update_sync_status (self);
}

/* Sync */

static void
tether_window_update_sync_tooltip (TetherWindow *self)
{
  TetherSync *sync = tether_session_get_sync (self->session);
  GDateTime *last = tether_sync_get_last_sync (sync);
  g_autofree char *tooltip = NULL;

  if (tether_sync_get_running (sync))
    tooltip = g_strdup (tether_sync_get_progress_text (sync) ? tether_sync_get_progress_text (sync) : _("Syncing…"));
  else if (last != NULL)
    {
      g_autoptr(GDateTime) local = g_date_time_to_local (last);
      g_autofree char *when = g_date_time_format (local, "%x %X");

      /* Translators: %s is a date and time */
      tooltip = g_strdup_printf (_("Sync (last synced %s)"), when);
    }
  else
    tooltip = g_strdup (_("Sync (never synced yet)"));

  gtk_widget_set_tooltip_text (GTK_WIDGET (self->sync_button), tooltip);
}

static void
on_sync_running_cb (TetherWindow *self)
{
  gboolean running = tether_sync_get_running (tether_session_get_sync (self->session));

  /* One sync at a time: the button shows the one that runs. */
  gtk_stack_set_visible_child_name (self->sync_stack, running ? "running" : "idle");
  gtk_spinner_set_spinning (self->sync_spinner, running);
  gtk_widget_action_set_enabled (GTK_WIDGET (self), "win.sync", !running);
  tether_window_update_sync_tooltip (self);
}

static void
on_sync_progress_cb (TetherWindow *self)
{
  TetherSync *sync = tether_session_get_sync (self->session);
  const char *text = tether_sync_get_progress_text (sync);

  if (text != NULL)
    adw_window_title_set_subtitle (self->window_title, text);
  else
    tether_window_update_sync_status (self);

  tether_window_update_sync_tooltip (self);
}

static void
on_details_response_cb (AdwMessageDialog *dialog,
                        const char       *response)
{
  gtk_window_destroy (GTK_WINDOW (dialog));
}

static void
on_error_details_cb (AdwToast     *toast,
                     TetherWindow *self)
{
  GtkWidget *dialog;

  dialog = adw_message_dialog_new (GTK_WINDOW (self),
                                   g_object_get_data (G_OBJECT (toast), "tether-heading"),
                                   g_object_get_data (G_OBJECT (toast), "tether-details"));
  adw_message_dialog_add_response (ADW_MESSAGE_DIALOG (dialog), "close", _("_Close"));
  g_signal_connect (dialog, "response", G_CALLBACK (on_details_response_cb), NULL);
  gtk_window_present (GTK_WINDOW (dialog));
}

/* A toast for an error: a few words that fit, and the whole sentence,
 * with its advice, behind Details. */
static void
tether_window_show_error (TetherWindow *self,
                          const char   *title,
                          const char   *details)
{
  g_autofree char *markup = g_markup_escape_text (title, -1);
  AdwToast *toast = adw_toast_new (markup);

  adw_toast_set_button_label (toast, _("_Details"));
  adw_toast_set_priority (toast, ADW_TOAST_PRIORITY_HIGH);
  adw_toast_set_timeout (toast, 0);
  g_object_set_data_full (G_OBJECT (toast), "tether-heading", g_strdup (title), g_free);
  g_object_set_data_full (G_OBJECT (toast), "tether-details", g_strdup (details), g_free);
  g_signal_connect_object (toast, "button-clicked",
                           G_CALLBACK (on_error_details_cb), self,
                           0);
  adw_toast_overlay_add_toast (self->toast_overlay, toast);
}

/* The error's own message is a sentence or two, too long for a toast. */
static const char *
brief_error_title (const GError *error)
{
  if (error->domain == TETHER_REMOTE_ERROR)
    {
      switch ((TetherRemoteError) error->code)
        {
        case TETHER_REMOTE_ERROR_OFFLINE:
          return _("Server not reachable");
        case TETHER_REMOTE_ERROR_TIMEOUT:
          return _("The server did not answer");
        case TETHER_REMOTE_ERROR_SERVER:
          return _("The server had a problem");
        case TETHER_REMOTE_ERROR_PERMANENT:
        case TETHER_REMOTE_ERROR_NOT_FOUND:
        case TETHER_REMOTE_ERROR_CONFLICT:
          return _("Refused by the server");
        case TETHER_REMOTE_ERROR_AUTH:
          return _("Sign-in refused");
        case TETHER_REMOTE_ERROR_PROTOCOL:
          return _("Unexpected server reply");
        case TETHER_REMOTE_ERROR_TLS:
          return _("Untrusted server certificate");
        case TETHER_REMOTE_ERROR_INSECURE:
          return _("Connection not secure");
        default:
          break;
        }
    }
  else if (error->domain == TETHER_ACCOUNT_ERROR)
    {
      switch ((TetherAccountError) error->code)
        {
        case TETHER_ACCOUNT_ERROR_INVALID_URL:
          return _("Invalid server address");
        case TETHER_ACCOUNT_ERROR_NO_KEYRING:
          return _("No keyring available");
        case TETHER_ACCOUNT_ERROR_KEYRING_LOCKED:
          return _("The keyring is locked");
        case TETHER_ACCOUNT_ERROR_KEYRING_FAILED:
          return _("Keyring error");
        default:
          break;
        }
    }
  else if (error->domain == TETHER_STORE_ERROR)
    {
      return _("Could not save changes");
    }

  return _("Sync failed");
}

static char *
describe_report (const TetherSyncReport *report)
{
  g_autofree char *sent = NULL;
  g_autofree char *received = NULL;
  guint n_sent = report->pushed + report->deleted;

  if (report->conflicts > 0)
    return g_strdup_printf (g_dngettext (GETTEXT_PACKAGE,
                                         "Synced, %u record needs your decision",
                                         "Synced, %u records need your decision",
                                         report->conflicts),
                            report->conflicts);

  if (report->errors > 0)
    return g_strdup_printf (g_dngettext (GETTEXT_PACKAGE,
                                         "Synced, but %u record could not be sent",
                                         "Synced, but %u records could not be sent",
                                         report->errors),
                            report->errors);

  if (n_sent == 0 && report->pulled == 0)
    return g_strdup (_("Everything is up to date"));

  /* Translators: the start of "Synced: 3 sent, 12 received" */
  sent = g_strdup_printf (g_dngettext (GETTEXT_PACKAGE, "%u sent", "%u sent", n_sent), n_sent);
  received = g_strdup_printf (g_dngettext (GETTEXT_PACKAGE, "%u received", "%u received", report->pulled),
                              report->pulled);

  /* Translators: "Synced: 3 sent, 12 received" */
  return g_strdup_printf (_("Synced: %s, %s"), sent, received);
}

static void
on_sync_finished_cb (TetherWindow           *self,
                     const TetherSyncReport *report,
                     const GError           *error,
                     TetherSync             *sync)
{
  AdwToast *toast;

  if (error == NULL)
    {
      self->waiting_for_network = FALSE;
      self->last_sync_failed = FALSE;
    }
  else if (!g_error_matches (error, G_IO_ERROR, G_IO_ERROR_CANCELLED))
    {
      self->waiting_for_network = g_error_matches (error, TETHER_REMOTE_ERROR, TETHER_REMOTE_ERROR_OFFLINE);
      self->last_sync_failed = TRUE;
    }

  tether_window_count_conflicts (self);
  tether_window_update_sync_status (self);

  if (error == NULL)
    {
      g_autofree char *title = describe_report (report);

      if (self->banner_offline)
        tether_window_hide_banner (self);
      toast = adw_toast_new (title);
      adw_toast_set_timeout (toast, 3);
      adw_toast_overlay_add_toast (self->toast_overlay, toast);
      return;
    }

  if (g_error_matches (error, G_IO_ERROR, G_IO_ERROR_CANCELLED))
    return;

  if (g_error_matches (error, TETHER_REMOTE_ERROR, TETHER_REMOTE_ERROR_OFFLINE))
    {
      /* Not a failure of the user's: a state of the world. Say what it
       * means, offer the way on, and try again when the network is back. */
      tether_window_show_banner (self,
                                 _("Offline — changes are kept and will be sent when you sync"),
                                 _("_Retry"),
                                 "win.sync");
      self->banner_offline = TRUE;
      return;
    }

  if (g_error_matches (error, TETHER_REMOTE_ERROR, TETHER_REMOTE_ERROR_AUTH))
    {
      /* Straight to where it is fixed, which says what went wrong in its
       * own toast: one message, not one in each window. */
      gtk_widget_activate_action (GTK_WIDGET (self), "app.credentials", NULL);
      return;
    }

  /* A locked or missing keyring is fixed outside Tether; the details say
   * how. */
  tether_window_show_error (self, brief_error_title (error), error->message);
}

static void
tether_window_sync_done_cb (GObject      *object,
                            GAsyncResult *result,
                            gpointer      user_data)
{
  g_autoptr(GError) error = NULL;

  /* The outcome is shown by on_sync_finished_cb(), which also sees the
   * syncs started by themselves. */
  tether_sync_run_finish (TETHER_SYNC (object), result, NULL, &error);
}

static void
tether_window_run_sync (TetherWindow *self)
{
  tether_sync_run_async (tether_session_get_sync (self->session),
                         TETHER_SYNC_FLAGS_ALL,
                         self->cancellable,
                         tether_window_sync_done_cb,
                         NULL);
}

static void
tether_window_secret_cb (GObject      *object,
                         GAsyncResult *result,
                         gpointer      user_data)
{
  g_autoptr(TetherWindow) self = user_data;
  g_autoptr(GError) error = NULL;
  char *secret;

  secret = tether_account_lookup_secret_finish (TETHER_ACCOUNT (object), result, &error);

  if (error != NULL)
    {
      if (!g_error_matches (error, G_IO_ERROR, G_IO_ERROR_CANCELLED))
        on_sync_finished_cb (self, NULL, error, NULL);
      return;
    }

  tether_remote_set_secret (tether_session_get_remote (self->session), secret);
  tether_account_secret_free (secret);
  tether_window_run_sync (self);
}

static void
tether_window_start_sync (TetherWindow *self)
{
  TetherAccount *account = tether_session_get_account (self->session);
  AdwToast *toast;

  if (!tether_session_is_open (self->session) ||
      tether_sync_get_running (tether_session_get_sync (self->session)))
    return;

  if (!tether_account_has_server (account))
    {
      toast = adw_toast_new (_("Choose a server to sync with"));
      adw_toast_set_button_label (toast, _("_Preferences"));
      adw_toast_set_action_name (toast, "app.preferences");
      adw_toast_overlay_add_toast (self->toast_overlay, toast);
      return;
    }

  /* The secret comes from the keyring each time: it may have changed in
   * Preferences since, and it is never kept anywhere but there. */
  if (tether_account_get_auth_kind (account) != TETHER_AUTH_KIND_NONE)
    {
      tether_account_lookup_secret_async (account,
                                          self->cancellable,
                                          tether_window_secret_cb,
                                          g_object_ref (self));
      return;
    }

  tether_window_run_sync (self);
}

static void
tether_window_sync_action (GtkWidget  *widget,
                           const char *action_name,
                           GVariant   *parameter)
{
  tether_window_start_sync (TETHER_WINDOW (widget));
}

static void
on_network_changed_cb (TetherWindow    *self,
                       gboolean         available,
                       GNetworkMonitor *monitor)
{
  TetherAccount *account = tether_session_get_account (self->session);

  if (available && self->waiting_for_network && tether_account_get_auto_sync (account))
    {
      self->waiting_for_network = FALSE;
      tether_window_start_sync (self);
    }
}

static gboolean
tether_window_interval_cb (gpointer user_data)
{
  TetherWindow *self = user_data;

  tether_window_start_sync (self);

  return G_SOURCE_CONTINUE;
}

static void
on_interval_changed_cb (TetherWindow *self)
{
  guint minutes = g_settings_get_uint (self->settings, "auto-sync-interval");

  g_clear_handle_id (&self->interval_source, g_source_remove);

  if (minutes > 0)
    self->interval_source = g_timeout_add_seconds (minutes * 60, tether_window_interval_cb, self);
}

static void
tether_window_search_action (GtkWidget  *widget,
                             const char *action_name,
                             GVariant   *parameter)
{
  TetherWindow *self = TETHER_WINDOW (widget);
  gboolean active = gtk_search_bar_get_search_mode (self->search_bar);

  gtk_search_bar_set_search_mode (self->search_bar, !active);
  if (!active)
    gtk_widget_grab_focus (GTK_WIDGET (self->search_entry));
}

static void
tether_window_back_action (GtkWidget  *widget,
                           const char *action_name,
                           GVariant   *parameter)
{
  TetherWindow *self = TETHER_WINDOW (widget);

  adw_leaflet_navigate (self->leaflet, ADW_NAVIGATION_DIRECTION_BACK);
}

static void
on_sort_order_changed_cb (TetherWindow *self)
{
  g_autofree char *order = g_settings_get_string (self->settings, "sort-order");

  self->sort_by_modified = g_strcmp0 (order, "modified") == 0;
  g_clear_handle_id (&self->resort_source, g_source_remove);
  gtk_sorter_changed (GTK_SORTER (self->sorter), GTK_SORTER_CHANGE_DIFFERENT);
}

/* The session: the window follows the application's, which changes when
 * Preferences point it at another server or collection. */

static void
tether_window_attach_session (TetherWindow *self)
{
  TetherCollection *collection = tether_session_get_collection (self->session);
  TetherSync *sync = tether_session_get_sync (self->session);

  gtk_sort_list_model_set_model (self->sort_model, G_LIST_MODEL (collection));

  /* The id and client-id fields are the server's bookkeeping: shown, not
   * edited. Their names are settings. */
  g_object_bind_property (tether_session_get_account (self->session), "id-field",
                          self->editor, "id-field", G_BINDING_SYNC_CREATE);
  g_object_bind_property (tether_session_get_account (self->session), "client-id-field",
                          self->editor, "client-id-field", G_BINDING_SYNC_CREATE);

  g_signal_connect_object (collection, "items-changed",
                           G_CALLBACK (on_items_changed_cb), self,
                           G_CONNECT_SWAPPED);
  g_signal_connect_object (collection, "record-removed",
                           G_CALLBACK (on_record_removed_cb), self,
                           G_CONNECT_SWAPPED);
  g_signal_connect_object (collection, "record-changed",
                           G_CALLBACK (on_record_changed_cb), self,
                           G_CONNECT_SWAPPED);
  g_signal_connect_object (collection, "notify::n-unsynced",
                           G_CALLBACK (tether_window_update_sync_status), self,
                           G_CONNECT_SWAPPED);
  g_signal_connect_object (sync, "notify::running",
                           G_CALLBACK (on_sync_running_cb), self,
                           G_CONNECT_SWAPPED);
  g_signal_connect_object (sync, "notify::progress-text",
                           G_CALLBACK (on_sync_progress_cb), self,
                           G_CONNECT_SWAPPED);
  g_signal_connect_object (sync, "finished",
                           G_CALLBACK (on_sync_finished_cb), self,
                           G_CONNECT_SWAPPED);
  on_sync_running_cb (self);

  if (tether_session_is_open (self->session))
    {
      tether_window_session_opened (self);
    }
  else
    {
      gtk_spinner_start (self->loading_spinner);
      tether_window_update_list_page (self);
      tether_session_open_async (self->session,
                                 self->cancellable,
                                 tether_window_open_cb,
                                 g_object_ref (self));
    }
}

static void
tether_window_detach_session (TetherWindow *self)
{
  g_signal_handlers_disconnect_by_data (tether_session_get_collection (self->session), self);
  g_signal_handlers_disconnect_by_data (tether_session_get_sync (self->session), self);

  tether_window_select_record (self, NULL);
  tether_window_show_record (self, NULL);
  g_clear_object (&self->deleted_record);
  gtk_widget_action_set_enabled (GTK_WIDGET (self), "win.undo-delete", FALSE);
  tether_window_hide_banner (self);
  tether_window_close_local_session (self);
  self->waiting_for_network = FALSE;
  self->last_sync_failed = FALSE;
  self->n_conflicts = 0;

  gtk_sort_list_model_set_model (self->sort_model, NULL);
}

static void
on_application_session_cb (TetherWindow      *self,
                           GParamSpec        *pspec,
                           TetherApplication *app)
{
  TetherSession *session = tether_application_get_session (app);

  if (session == self->session)
    return;

  tether_window_detach_session (self);
  g_set_object (&self->session, session);
  tether_window_attach_session (self);
}

/* GObject */

static void
tether_window_constructed (GObject *object)
{
  TetherWindow *self = (TetherWindow *)object;
  g_autoptr(GtkListItemFactory) factory = NULL;
  g_autoptr(GAction) sort_action = NULL;
  GActionGroup *group;

  G_OBJECT_CLASS (tether_window_parent_class)->constructed (object);

  g_assert (TETHER_IS_SESSION (self->session));
  g_assert (G_IS_SETTINGS (self->settings));

  g_settings_bind (self->settings, "window-width", self, "default-width", G_SETTINGS_BIND_DEFAULT);
  g_settings_bind (self->settings, "window-height", self, "default-height", G_SETTINGS_BIND_DEFAULT);
  g_settings_bind (self->settings, "window-maximized", self, "maximized", G_SETTINGS_BIND_DEFAULT);

  /* collection → sort → filter → selection → list view. GTK sorts and
   * filters incrementally, so a large collection never stalls a frame. */
  {
    g_autofree char *order = g_settings_get_string (self->settings, "sort-order");

    self->sort_by_modified = g_strcmp0 (order, "modified") == 0;
  }
  self->sorter = gtk_custom_sorter_new (sort_records_cb, self, NULL);
  self->sort_model = gtk_sort_list_model_new (NULL, g_object_ref (GTK_SORTER (self->sorter)));
  gtk_sort_list_model_set_incremental (self->sort_model, TRUE);
  self->filter = gtk_custom_filter_new (filter_record_cb, self, NULL);
  /* The filter is set only while a search is typed. A GtkCustomFilter
   * matches "some" items as far as GTK knows, so an incremental filter
   * model would take every record the sort moves out of the list and put
   * it back a chunk at a time: the list goes blank while a large store
   * sorts, and the selection is lost. Without a filter the sort's changes
   * go straight through. */
  self->filter_model = gtk_filter_list_model_new (g_object_ref (G_LIST_MODEL (self->sort_model)), NULL);
  gtk_filter_list_model_set_incremental (self->filter_model, TRUE);
  self->selection = gtk_single_selection_new (g_object_ref (G_LIST_MODEL (self->filter_model)));
  gtk_single_selection_set_autoselect (self->selection, FALSE);
  gtk_single_selection_set_can_unselect (self->selection, TRUE);
  gtk_single_selection_set_selected (self->selection, GTK_INVALID_LIST_POSITION);

  factory = gtk_signal_list_item_factory_new ();
  g_signal_connect (factory, "setup", G_CALLBACK (setup_row_cb), self);
  g_signal_connect (factory, "bind", G_CALLBACK (bind_row_cb), NULL);
  g_signal_connect (factory, "unbind", G_CALLBACK (unbind_row_cb), NULL);
  gtk_list_view_set_factory (self->list_view, factory);
  gtk_list_view_set_model (self->list_view, GTK_SELECTION_MODEL (self->selection));

  g_signal_connect_object (self->selection, "selection-changed",
                           G_CALLBACK (on_selection_changed_cb), self,
                           G_CONNECT_SWAPPED);
  g_signal_connect_object (self->selection, "items-changed",
                           G_CALLBACK (on_selection_items_changed_cb), self,
                           G_CONNECT_SWAPPED);
  g_signal_connect_object (self->filter_model, "items-changed",
                           G_CALLBACK (on_items_changed_cb), self,
                           G_CONNECT_SWAPPED);
  g_signal_connect_object (self->filter_model, "notify::pending",
                           G_CALLBACK (on_models_pending_cb), self,
                           G_CONNECT_SWAPPED);
  g_signal_connect_object (self->sort_model, "notify::pending",
                           G_CALLBACK (on_models_pending_cb), self,
                           G_CONNECT_SWAPPED);
  g_signal_connect_object (self->settings, "changed::sort-order",
                           G_CALLBACK (on_sort_order_changed_cb), self,
                           G_CONNECT_SWAPPED);

  group = G_ACTION_GROUP (g_simple_action_group_new ());
  sort_action = g_settings_create_action (self->settings, "sort-order");
  g_action_map_add_action (G_ACTION_MAP (group), sort_action);
  gtk_widget_insert_action_group (GTK_WIDGET (self), "list", group);
  g_object_unref (group);

  gtk_widget_action_set_enabled (GTK_WIDGET (self), "win.delete-record", FALSE);
  gtk_widget_action_set_enabled (GTK_WIDGET (self), "win.undo-delete", FALSE);

  g_signal_connect_object (self->editor, "resolve",
                           G_CALLBACK (on_editor_resolve_cb), self,
                           G_CONNECT_SWAPPED);


  self->network_monitor = g_object_ref (g_network_monitor_get_default ());
  g_signal_connect_object (self->network_monitor, "network-changed",
                           G_CALLBACK (on_network_changed_cb), self,
                           G_CONNECT_SWAPPED);
  g_signal_connect_object (self->settings, "changed::auto-sync-interval",
                           G_CALLBACK (on_interval_changed_cb), self,
                           G_CONNECT_SWAPPED);
  on_interval_changed_cb (self);

  tether_window_attach_session (self);
}

static void
tether_window_dispose (GObject *object)
{
  TetherWindow *self = (TetherWindow *)object;

  g_cancellable_cancel (self->cancellable);
  g_clear_handle_id (&self->interval_source, g_source_remove);
  g_clear_handle_id (&self->scroll_source, g_source_remove);
  if (self->focus_tick != 0 && self->list_view != NULL)
    gtk_widget_remove_tick_callback (GTK_WIDGET (self->list_view), self->focus_tick);
  self->focus_tick = 0;
  tether_window_close_local_session (self);
  g_clear_object (&self->network_monitor);

  if (self->shown_record != NULL)
    g_signal_handlers_disconnect_by_func (self->shown_record, update_editor_title, self);
  g_clear_object (&self->shown_record);
  g_clear_object (&self->pending_selection);
  g_clear_object (&self->deleted_record);

  if (self->list_view != NULL)
    gtk_list_view_set_model (self->list_view, NULL);

  gtk_widget_dispose_template (GTK_WIDGET (self), TETHER_TYPE_WINDOW);

  g_clear_object (&self->selection);
  g_clear_object (&self->filter_model);
  g_clear_object (&self->filter);
  g_clear_object (&self->sort_model);
  g_clear_object (&self->sorter);
  g_clear_handle_id (&self->resort_source, g_source_remove);

  G_OBJECT_CLASS (tether_window_parent_class)->dispose (object);
}

static void
tether_window_finalize (GObject *object)
{
  TetherWindow *self = (TetherWindow *)object;

  g_clear_pointer (&self->search_folded, g_free);
  g_clear_object (&self->session);
  g_clear_object (&self->settings);
  g_clear_object (&self->cancellable);

  G_OBJECT_CLASS (tether_window_parent_class)->finalize (object);
}

static void
tether_window_get_property (GObject    *object,
                            guint       prop_id,
                            GValue     *value,
                            GParamSpec *pspec)
{
  TetherWindow *self = TETHER_WINDOW (object);

  switch (prop_id)
    {
    case PROP_SESSION:
      g_value_set_object (value, self->session);
      break;

    case PROP_SETTINGS:
      g_value_set_object (value, self->settings);
      break;

    default:
      G_OBJECT_WARN_INVALID_PROPERTY_ID (object, prop_id, pspec);
    }
}

static void
tether_window_set_property (GObject      *object,
                            guint         prop_id,
                            const GValue *value,
                            GParamSpec   *pspec)
{
  TetherWindow *self = TETHER_WINDOW (object);

  switch (prop_id)
    {
    case PROP_SESSION:
      self->session = g_value_dup_object (value);
      break;

    case PROP_SETTINGS:
      self->settings = g_value_dup_object (value);
      break;

    default:
      G_OBJECT_WARN_INVALID_PROPERTY_ID (object, prop_id, pspec);
    }
}

static void
tether_window_class_init (TetherWindowClass *klass)
{
  GObjectClass *object_class = G_OBJECT_CLASS (klass);
  GtkWidgetClass *widget_class = GTK_WIDGET_CLASS (klass);

  sort_key_quark = g_quark_from_static_string ("tether-window-sort-key");
  search_text_quark = g_quark_from_static_string ("tether-window-search-text");

  object_class->constructed = tether_window_constructed;
  object_class->dispose = tether_window_dispose;
  object_class->finalize = tether_window_finalize;
  object_class->get_property = tether_window_get_property;
  object_class->set_property = tether_window_set_property;

  properties[PROP_SESSION] =
    g_param_spec_object ("session", NULL, NULL,
                         TETHER_TYPE_SESSION,
                         (G_PARAM_READWRITE | G_PARAM_CONSTRUCT_ONLY | G_PARAM_STATIC_STRINGS));

  properties[PROP_SETTINGS] =
    g_param_spec_object ("settings", NULL, NULL,
                         G_TYPE_SETTINGS,
                         (G_PARAM_READWRITE | G_PARAM_CONSTRUCT_ONLY | G_PARAM_STATIC_STRINGS));

  g_object_class_install_properties (object_class, N_PROPS, properties);

  g_type_ensure (TETHER_TYPE_RECORD_EDITOR);

  gtk_widget_class_set_template_from_resource (widget_class, RESOURCE_PREFIX "/tether-window.ui");
  gtk_widget_class_bind_template_child (widget_class, TetherWindow, toast_overlay);
  gtk_widget_class_bind_template_child (widget_class, TetherWindow, leaflet);
  gtk_widget_class_bind_template_child (widget_class, TetherWindow, sidebar_header);
  gtk_widget_class_bind_template_child (widget_class, TetherWindow, window_title);
  gtk_widget_class_bind_template_child (widget_class, TetherWindow, editor_title);
  gtk_widget_class_bind_template_child (widget_class, TetherWindow, search_bar);
  gtk_widget_class_bind_template_child (widget_class, TetherWindow, search_entry);
  gtk_widget_class_bind_template_child (widget_class, TetherWindow, search_button);
  gtk_widget_class_bind_template_child (widget_class, TetherWindow, banner_revealer);
  gtk_widget_class_bind_template_child (widget_class, TetherWindow, banner_label);
  gtk_widget_class_bind_template_child (widget_class, TetherWindow, banner_button);
  gtk_widget_class_bind_template_child (widget_class, TetherWindow, list_stack);
  gtk_widget_class_bind_template_child (widget_class, TetherWindow, loading_spinner);
  gtk_widget_class_bind_template_child (widget_class, TetherWindow, list_view);
  gtk_widget_class_bind_template_child (widget_class, TetherWindow, damaged_page);
  gtk_widget_class_bind_template_child (widget_class, TetherWindow, content_stack);
  gtk_widget_class_bind_template_child (widget_class, TetherWindow, editor_box);
  gtk_widget_class_bind_template_child (widget_class, TetherWindow, sync_button);
  gtk_widget_class_bind_template_child (widget_class, TetherWindow, sync_stack);
  gtk_widget_class_bind_template_child (widget_class, TetherWindow, sync_spinner);
  gtk_widget_class_bind_template_child (widget_class, TetherWindow, content);
  gtk_widget_class_bind_template_child (widget_class, TetherWindow, editor);
  gtk_widget_class_bind_template_callback (widget_class, on_list_activate_cb);
  gtk_widget_class_bind_template_callback (widget_class, on_list_released_cb);
  gtk_widget_class_bind_template_callback (widget_class, on_list_key_pressed_cb);
  gtk_widget_class_bind_template_callback (widget_class, on_banner_close_cb);

  gtk_widget_class_install_action (widget_class, "win.add", NULL, tether_window_add_action);
  gtk_widget_class_install_action (widget_class, "win.sync", NULL, tether_window_sync_action);
  gtk_widget_class_install_action (widget_class, "win.search", NULL, tether_window_search_action);
  gtk_widget_class_install_action (widget_class, "win.back", NULL, tether_window_back_action);
  gtk_widget_class_install_action (widget_class, "win.delete-record", NULL, tether_window_delete_record_action);
  gtk_widget_class_install_action (widget_class, "win.undo-delete", NULL, tether_window_undo_delete_action);
  gtk_widget_class_install_action (widget_class, "win.damage-details", NULL, tether_window_damage_details_action);
  gtk_widget_class_install_action (widget_class, "win.adopt-records", NULL, tether_window_adopt_records_action);

  gtk_widget_class_add_binding_action (widget_class, GDK_KEY_f, GDK_CONTROL_MASK, "win.search", NULL);
  gtk_widget_class_add_binding_action (widget_class, GDK_KEY_Delete, GDK_CONTROL_MASK, "win.delete-record", NULL);
}

static void
tether_window_init (TetherWindow *self)
{
  gtk_widget_init_template (GTK_WIDGET (self));

  self->cancellable = g_cancellable_new ();

  g_signal_connect_object (self->search_entry, "search-changed",
                           G_CALLBACK (on_search_changed_cb), self,
                           G_CONNECT_SWAPPED);
  g_signal_connect_object (self->search_entry, "stop-search",
                           G_CALLBACK (on_search_stopped_cb), self,
                           G_CONNECT_SWAPPED);
  g_signal_connect_object (self->search_bar, "notify::search-mode-enabled",
                           G_CALLBACK (on_search_mode_cb), self,
                           G_CONNECT_SWAPPED);
  g_object_bind_property (self->search_button, "active",
                          self->search_bar, "search-mode-enabled",
                          G_BINDING_BIDIRECTIONAL | G_BINDING_SYNC_CREATE);

  if (DEVELOPMENT_BUILD)
    gtk_widget_add_css_class (GTK_WIDGET (self), "devel");
}
