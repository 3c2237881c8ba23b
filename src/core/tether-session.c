/* tether-session.c
 *
 * Copyright 2026 The Tether authors
 *
 * SPDX-License-Identifier: GPL-3.0-or-later
 */

#include "config.h"

#include <glib/gi18n-lib.h>

#include "tether-session.h"

struct _TetherSession
{
  GObject           parent_instance;

  TetherAccount    *account;
  TetherCollection *collection;
  TetherStore      *store;
  TetherRemote     *remote;
  TetherSync       *sync;
  GFile            *directory;

  GHashTable       *dirty;
  guint             save_source;

  guint             open : 1;
};

G_DEFINE_FINAL_TYPE (TetherSession, tether_session, G_TYPE_OBJECT)

enum {
  PROP_0,
  PROP_ACCOUNT,
  PROP_COLLECTION,
  PROP_DIRECTORY,
  PROP_STORE,
  N_PROPS
};

static GParamSpec *properties[N_PROPS];

static void
on_record_added_cb (TetherSession *self,
                    TetherRecord  *record)
{
  tether_store_save (self->store, record);
}

static void
on_record_removed_cb (TetherSession *self,
                      TetherRecord  *record)
{
  /* A later save of an edit from this same iteration must not bring the
   * record back. */
  if (self->dirty != NULL)
    g_hash_table_remove (self->dirty, record);

  /* A tombstone stays in the store until its DELETE is pushed; a record
   * that never reached the server, or whose deletion is done, goes. */
  if (tether_record_get_sync_state (record) == TETHER_SYNC_STATE_DELETED &&
      g_ptr_array_find (tether_collection_get_tombstones (self->collection), record, NULL))
    tether_store_save (self->store, record);
  else
    tether_store_remove (self->store, tether_record_get_cid (record));
}

static gboolean
save_dirty_cb (gpointer user_data)
{
  TetherSession *self = user_data;
  g_autoptr(GHashTable) dirty = g_steal_pointer (&self->dirty);
  GHashTableIter iter;
  TetherRecord *record;

  self->save_source = 0;

  g_hash_table_iter_init (&iter, dirty);
  while (g_hash_table_iter_next (&iter, (gpointer *) &record, NULL))
    tether_store_save (self->store, record);

  return G_SOURCE_REMOVE;
}

static void
on_record_changed_cb (TetherSession *self,
                      TetherRecord  *record,
                      const char    *field)
{
  /* A single edit emits changed::FIELD only; a bulk edit emits one per
   * field and then changed. Either way the record is saved once, in the
   * same main-loop iteration, so the store writes it with whatever else
   * changed then. */
  if (self->dirty == NULL)
    self->dirty = g_hash_table_new_full (NULL, NULL, g_object_unref, NULL);

  if (!g_hash_table_contains (self->dirty, record))
    g_hash_table_add (self->dirty, g_object_ref (record));

  if (self->save_source == 0)
    {
      self->save_source = g_idle_add_full (G_PRIORITY_DEFAULT, save_dirty_cb, self, NULL);
      g_source_set_static_name (g_main_context_find_source_by_id (NULL, self->save_source),
                                "[tether-session] save");
    }
}

static void
save_dirty_now (TetherSession *self)
{
  if (self->save_source != 0)
    {
      g_clear_handle_id (&self->save_source, g_source_remove);
      save_dirty_cb (self);
    }
}

TetherSession *
tether_session_new (TetherAccount *account,
                    GFile         *store_directory)
{
  g_return_val_if_fail (TETHER_IS_ACCOUNT (account), NULL);
  g_return_val_if_fail (!store_directory || G_IS_FILE (store_directory), NULL);

  return g_object_new (TETHER_TYPE_SESSION,
                       "account", account,
                       "directory", store_directory,
                       NULL);
}

TetherAccount *
tether_session_get_account (TetherSession *self)
{
  g_return_val_if_fail (TETHER_IS_SESSION (self), NULL);

  return self->account;
}

TetherCollection *
tether_session_get_collection (TetherSession *self)
{
  g_return_val_if_fail (TETHER_IS_SESSION (self), NULL);

  return self->collection;
}

TetherStore *
tether_session_get_store (TetherSession *self)
{
  g_return_val_if_fail (TETHER_IS_SESSION (self), NULL);

  return self->store;
}

TetherRemote *
tether_session_get_remote (TetherSession *self)
{
  g_return_val_if_fail (TETHER_IS_SESSION (self), NULL);

  return self->remote;
}

TetherSync *
tether_session_get_sync (TetherSession *self)
{
  g_return_val_if_fail (TETHER_IS_SESSION (self), NULL);

  return self->sync;
}

GFile *
tether_session_get_directory (TetherSession *self)
{
  g_return_val_if_fail (TETHER_IS_SESSION (self), NULL);

  return self->directory;
}

gboolean
tether_session_is_open (TetherSession *self)
{
  g_return_val_if_fail (TETHER_IS_SESSION (self), FALSE);

  return self->open;
}

guint
tether_session_get_n_unsynced (TetherSession *self)
{
  g_return_val_if_fail (TETHER_IS_SESSION (self), 0);

  return tether_collection_get_n_unsynced (self->collection);
}

static void
tether_session_opened (TetherSession *self)
{
  self->open = TRUE;

  g_signal_connect_object (self->collection, "record-added",
                           G_CALLBACK (on_record_added_cb), self,
                           G_CONNECT_SWAPPED);
  g_signal_connect_object (self->collection, "record-removed",
                           G_CALLBACK (on_record_removed_cb), self,
                           G_CONNECT_SWAPPED);
  g_signal_connect_object (self->collection, "record-changed",
                           G_CALLBACK (on_record_changed_cb), self,
                           G_CONNECT_SWAPPED);
}

static void
tether_session_open_cb (GObject      *object,
                        GAsyncResult *result,
                        gpointer      user_data)
{
  TetherStore *store = (TetherStore *)object;
  g_autoptr(GTask) task = user_data;
  TetherSession *self = g_task_get_source_object (task);
  g_autoptr(GError) error = NULL;

  if (!tether_store_open_finish (store, result, &error))
    {
      /* A damaged store is open with what could be read: the session
       * works, and the caller shows the error. */
      if (tether_store_is_open (store))
        tether_session_opened (self);
      g_task_return_error (task, g_steal_pointer (&error));
      return;
    }

  tether_session_opened (self);
  g_task_return_boolean (task, TRUE);
}

void
tether_session_open_async (TetherSession       *self,
                           GCancellable        *cancellable,
                           GAsyncReadyCallback  callback,
                           gpointer             user_data)
{
  g_autoptr(GTask) task = NULL;

  g_return_if_fail (TETHER_IS_SESSION (self));
  g_return_if_fail (!self->open);

  task = g_task_new (self, cancellable, callback, user_data);
  g_task_set_source_tag (task, tether_session_open_async);

  tether_store_open_async (self->store,
                           self->collection,
                           cancellable,
                           tether_session_open_cb,
                           g_steal_pointer (&task));
}

gboolean
tether_session_open_finish (TetherSession  *self,
                            GAsyncResult   *result,
                            GError        **error)
{
  g_return_val_if_fail (TETHER_IS_SESSION (self), FALSE);
  g_return_val_if_fail (g_task_is_valid (result, self), FALSE);

  return g_task_propagate_boolean (G_TASK (result), error);
}

gboolean
tether_session_open (TetherSession  *self,
                     GError        **error)
{
  g_return_val_if_fail (TETHER_IS_SESSION (self), FALSE);

  if (!tether_store_open (self->store, self->collection, error))
    {
      if (tether_store_is_open (self->store))
        tether_session_opened (self);
      return FALSE;
    }

  tether_session_opened (self);

  return TRUE;
}

gboolean
tether_session_close (TetherSession  *self,
                      GError        **error)
{
  g_return_val_if_fail (TETHER_IS_SESSION (self), FALSE);

  if (!self->open)
    return TRUE;

  /* Edits of this very iteration go with the last write. */
  save_dirty_now (self);

  self->open = FALSE;
  g_signal_handlers_disconnect_by_data (self->collection, self);

  return tether_store_close (self->store, error);
}

/* Moving records from another session */

static gboolean
is_local_only (TetherRecord *record)
{
  return tether_record_get_id (record) == NULL &&
         tether_record_get_base (record) == NULL &&
         tether_record_get_sync_state (record) != TETHER_SYNC_STATE_DELETED &&
         tether_record_get_sync_state (record) != TETHER_SYNC_STATE_PUSHING;
}

guint
tether_session_count_local_only (TetherSession *self)
{
  GListModel *model;
  guint n_items;
  guint count = 0;

  g_return_val_if_fail (TETHER_IS_SESSION (self), 0);

  model = G_LIST_MODEL (self->collection);
  n_items = g_list_model_get_n_items (model);

  for (guint i = 0; i < n_items; i++)
    {
      g_autoptr(TetherRecord) record = g_list_model_get_item (model, i);

      if (is_local_only (record))
        count++;
    }

  return count;
}

typedef struct
{
  TetherSession *source;
  GPtrArray     *moved;   /* the records of @source now also here */
} AdoptData;

static void
adopt_data_free (AdoptData *data)
{
  g_clear_object (&data->source);
  g_clear_pointer (&data->moved, g_ptr_array_unref);
  g_free (data);
}

static void
adopt_source_flushed_cb (GObject      *object,
                         GAsyncResult *result,
                         gpointer      user_data)
{
  g_autoptr(GTask) task = user_data;
  g_autoptr(GError) error = NULL;

  if (!tether_store_flush_finish (TETHER_STORE (object), result, &error))
    {
      g_task_return_error (task, g_steal_pointer (&error));
      return;
    }

  g_task_return_int (task, ((AdoptData *) g_task_get_task_data (task))->moved->len);
}

static void
adopt_target_flushed_cb (GObject      *object,
                         GAsyncResult *result,
                         gpointer      user_data)
{
  g_autoptr(GTask) task = user_data;
  AdoptData *data = g_task_get_task_data (task);
  TetherSession *source = data->source;
  g_autoptr(GError) error = NULL;
  GCancellable *cancellable;

  /* Not on disk here: then they stay where they were. */
  if (!tether_store_flush_finish (TETHER_STORE (object), result, &error))
    {
      g_task_return_error (task, g_steal_pointer (&error));
      return;
    }

  if (!source->open)
    {
      g_task_return_new_error (task, TETHER_STORE_ERROR, TETHER_STORE_ERROR_CLOSED,
                               _("The records could not be moved: their store was closed."));
      return;
    }

  /* None of them ever reached a server, so each goes outright, with no
   * deletion left to send. */
  for (guint i = 0; i < data->moved->len; i++)
    tether_collection_delete (source->collection, g_ptr_array_index (data->moved, i));
  save_dirty_now (source);

  cancellable = g_task_get_cancellable (task);
  tether_store_flush_async (source->store,
                            cancellable,
                            adopt_source_flushed_cb,
                            g_steal_pointer (&task));
}

void
tether_session_adopt_records_async (TetherSession       *self,
                                    TetherSession       *source,
                                    GCancellable        *cancellable,
                                    GAsyncReadyCallback  callback,
                                    gpointer             user_data)
{
  g_autoptr(GTask) task = NULL;
  g_autoptr(GPtrArray) added = g_ptr_array_new_with_free_func (g_object_unref);
  GListModel *model;
  AdoptData *data;
  guint n_items;

  g_return_if_fail (TETHER_IS_SESSION (self));
  g_return_if_fail (TETHER_IS_SESSION (source));
  g_return_if_fail (self != source);

  task = g_task_new (self, cancellable, callback, user_data);
  g_task_set_source_tag (task, tether_session_adopt_records_async);

  if (!self->open || !source->open)
    {
      g_task_return_new_error (task, TETHER_STORE_ERROR, TETHER_STORE_ERROR_CLOSED,
                               _("The records could not be moved: a store is not open."));
      return;
    }

  data = g_new0 (AdoptData, 1);
  data->source = g_object_ref (source);
  data->moved = g_ptr_array_new_with_free_func (g_object_unref);
  g_task_set_task_data (task, data, (GDestroyNotify) adopt_data_free);

  model = G_LIST_MODEL (source->collection);
  n_items = g_list_model_get_n_items (model);

  for (guint i = 0; i < n_items; i++)
    {
      g_autoptr(TetherRecord) record = g_list_model_get_item (model, i);
      g_autoptr(TetherRecord) copy = NULL;
      g_autoptr(GBytes) line = NULL;
      g_autoptr(GError) error = NULL;

      if (!is_local_only (record))
        continue;

      /* Already here: a move that was cut short. */
      if (tether_collection_lookup_cid (self->collection, tether_record_get_cid (record)) != NULL)
        {
          g_ptr_array_add (data->moved, g_steal_pointer (&record));
          continue;
        }

      /* The record as its store keeps it: the same client id, fields,
       * revision and time of last change. */
      line = tether_record_serialize (record);
      copy = tether_record_new_from_line (line, &error);
      if (copy == NULL)
        {
          g_warning ("Could not copy record %s: %s", tether_record_get_cid (record), error->message);
          continue;
        }

      if (tether_record_get_sync_state (copy) != TETHER_SYNC_STATE_PENDING)
        tether_record_set_sync_state (copy, TETHER_SYNC_STATE_PENDING);

      g_ptr_array_add (added, g_steal_pointer (&copy));
      g_ptr_array_add (data->moved, g_steal_pointer (&record));
    }

  g_debug ("Moving %u records from %s to %s", data->moved->len,
           g_file_peek_path (source->directory), g_file_peek_path (self->directory));

  /* Saved by on_record_added_cb(); on disk here before they go there. */
  tether_collection_add_many (self->collection, (TetherRecord **) added->pdata, added->len);
  save_dirty_now (self);

  tether_store_flush_async (self->store,
                            cancellable,
                            adopt_target_flushed_cb,
                            g_steal_pointer (&task));
}

guint
tether_session_adopt_records_finish (TetherSession  *self,
                                     GAsyncResult   *result,
                                     GError        **error)
{
  gssize n;

  g_return_val_if_fail (TETHER_IS_SESSION (self), 0);
  g_return_val_if_fail (g_task_is_valid (result, self), 0);

  n = g_task_propagate_int (G_TASK (result), error);

  return n < 0 ? 0 : (guint) n;
}

static void
tether_session_constructed (GObject *object)
{
  TetherSession *self = (TetherSession *)object;

  G_OBJECT_CLASS (tether_session_parent_class)->constructed (object);

  if (self->directory == NULL)
    self->directory = tether_store_default_directory (tether_account_get_server_url (self->account),
                                                      tether_account_get_collection (self->account));

  self->collection = tether_collection_new ();
  self->store = tether_store_new (self->directory);
  self->remote = tether_remote_new (self->account);
  self->sync = tether_sync_new (self->account, self->remote, self->collection, self->store);

  g_object_bind_property (self->account, "title-field",
                          self->collection, "title-field",
                          G_BINDING_SYNC_CREATE);
}

static void
tether_session_dispose (GObject *object)
{
  TetherSession *self = (TetherSession *)object;

  if (self->open)
    {
      g_autoptr(GError) error = NULL;

      if (!tether_session_close (self, &error))
        g_warning ("Could not close the store in %s: %s",
                   g_file_peek_path (self->directory), error->message);
    }

  G_OBJECT_CLASS (tether_session_parent_class)->dispose (object);
}

static void
tether_session_finalize (GObject *object)
{
  TetherSession *self = (TetherSession *)object;

  g_clear_handle_id (&self->save_source, g_source_remove);
  g_clear_pointer (&self->dirty, g_hash_table_unref);
  g_clear_object (&self->sync);
  g_clear_object (&self->remote);
  g_clear_object (&self->store);
  g_clear_object (&self->collection);
  g_clear_object (&self->account);
  g_clear_object (&self->directory);

  G_OBJECT_CLASS (tether_session_parent_class)->finalize (object);
}

static void
tether_session_get_property (GObject    *object,
                             guint       prop_id,
                             GValue     *value,
                             GParamSpec *pspec)
{
  TetherSession *self = TETHER_SESSION (object);

  switch (prop_id)
    {
    case PROP_ACCOUNT:
      g_value_set_object (value, self->account);
      break;

    case PROP_COLLECTION:
      g_value_set_object (value, self->collection);
      break;

    case PROP_DIRECTORY:
      g_value_set_object (value, self->directory);
      break;

    case PROP_STORE:
      g_value_set_object (value, self->store);
      break;

    default:
      G_OBJECT_WARN_INVALID_PROPERTY_ID (object, prop_id, pspec);
    }
}

static void
tether_session_set_property (GObject      *object,
                             guint         prop_id,
                             const GValue *value,
                             GParamSpec   *pspec)
{
  TetherSession *self = TETHER_SESSION (object);

  switch (prop_id)
    {
    case PROP_ACCOUNT:
      self->account = g_value_dup_object (value);
      break;

    case PROP_DIRECTORY:
      self->directory = g_value_dup_object (value);
      break;

    default:
      G_OBJECT_WARN_INVALID_PROPERTY_ID (object, prop_id, pspec);
    }
}

static void
tether_session_class_init (TetherSessionClass *klass)
{
  GObjectClass *object_class = G_OBJECT_CLASS (klass);

  object_class->constructed = tether_session_constructed;
  object_class->dispose = tether_session_dispose;
  object_class->finalize = tether_session_finalize;
  object_class->get_property = tether_session_get_property;
  object_class->set_property = tether_session_set_property;

  properties[PROP_ACCOUNT] =
    g_param_spec_object ("account", NULL, NULL,
                         TETHER_TYPE_ACCOUNT,
                         (G_PARAM_READWRITE | G_PARAM_CONSTRUCT_ONLY | G_PARAM_STATIC_STRINGS));

  properties[PROP_COLLECTION] =
    g_param_spec_object ("collection", NULL, NULL,
                         TETHER_TYPE_COLLECTION,
                         (G_PARAM_READABLE | G_PARAM_STATIC_STRINGS));

  properties[PROP_DIRECTORY] =
    g_param_spec_object ("directory", NULL, NULL,
                         G_TYPE_FILE,
                         (G_PARAM_READWRITE | G_PARAM_CONSTRUCT_ONLY | G_PARAM_STATIC_STRINGS));

  properties[PROP_STORE] =
    g_param_spec_object ("store", NULL, NULL,
                         TETHER_TYPE_STORE,
                         (G_PARAM_READABLE | G_PARAM_STATIC_STRINGS));

  g_object_class_install_properties (object_class, N_PROPS, properties);
}

static void
tether_session_init (TetherSession *self)
{
}
