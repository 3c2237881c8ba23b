/* tether-collection.c
 *
 * Copyright 2026 The Tether authors
 *
 * SPDX-License-Identifier: GPL-3.0-or-later
 */

#include "config.h"

#include <string.h>

#include "tether-collection-private.h"
#include "tether-record-private.h"

/**
 * TetherCollection:
 *
 * The records of one server collection: a #GListModel of the live records
 * in insertion order, plus the tombstones (deleted records whose DELETE is
 * not pushed yet), which are not list items.
 *
 * Lookups by cid and by server id find list items and tombstones alike:
 * the sync must know that a server id it pulls belongs to a record the user
 * deleted.
 *
 * #TetherCollection::record-added and #TetherCollection::record-removed
 * follow list membership, like #GListModel::items-changed: a record that
 * becomes a tombstone is removed, a restored one is added, and adding or
 * forgetting a tombstone emits neither.
 *
 * The collection does not connect to its records' signals: a record calls
 * it directly when its id changes or it emits changed. With 100 000
 * records, two signal handlers per record would take more memory than the
 * records' text.
 */

/* forget_many() emits one items-changed per run of removed items, as long
 * as there are at most this many runs; beyond that, one items-changed
 * that spans them all. */
#define MAX_REMOVAL_RUNS 8

struct _TetherCollection
{
  GObject     parent_instance;

  /* Both own a reference on their records. */
  GPtrArray  *items;
  GPtrArray  *tombstones;

  /* Keys and values are borrowed from the records, which we hold. */
  GHashTable *by_cid;  /* cid → record */
  GHashTable *by_id;   /* TetherRecordId in the record → record */

  const char *title_field;  /* interned */

  /* Records (list items and tombstones) not in the synced state, kept up to
   * date by the records so that the count is O(1) at any size. */
  guint       n_unsynced;
};

static void list_model_iface_init (GListModelInterface *iface);

G_DEFINE_FINAL_TYPE_WITH_CODE (TetherCollection, tether_collection, G_TYPE_OBJECT,
                               G_IMPLEMENT_INTERFACE (G_TYPE_LIST_MODEL, list_model_iface_init))

enum {
  PROP_0,
  PROP_N_ITEMS,
  PROP_N_UNSYNCED,
  PROP_TITLE_FIELD,
  N_PROPS
};

enum {
  RECORD_ADDED,
  RECORD_REMOVED,
  RECORD_CHANGED,
  N_SIGNALS
};

static GParamSpec *properties[N_PROPS];
static guint signals[N_SIGNALS];

/* GListModel */

static GType
tether_collection_get_item_type (GListModel *model)
{
  return TETHER_TYPE_RECORD;
}

static guint
tether_collection_get_n_items (GListModel *model)
{
  TetherCollection *self = TETHER_COLLECTION (model);

  return self->items->len;
}

static gpointer
tether_collection_get_item (GListModel *model,
                            guint       position)
{
  TetherCollection *self = TETHER_COLLECTION (model);

  if (position >= self->items->len)
    return NULL;

  return g_object_ref (g_ptr_array_index (self->items, position));
}

static void
list_model_iface_init (GListModelInterface *iface)
{
  iface->get_item_type = tether_collection_get_item_type;
  iface->get_n_items = tether_collection_get_n_items;
  iface->get_item = tether_collection_get_item;
}

/* Indexes */

static void
index_id (TetherCollection *self,
          TetherRecord     *record)
{
  const TetherRecordId *key = tether_record_get_id_key (record);

  /* Two records with one server id should not happen; if it does, the
   * later one is found, and unindex_id() leaves it alone when the
   * earlier one goes. */
  if (key->kind != TETHER_RECORD_ID_NONE)
    g_hash_table_replace (self->by_id, (gpointer) key, record);
}

static void
unindex_id (TetherCollection *self,
            TetherRecord     *record)
{
  const TetherRecordId *key = tether_record_get_id_key (record);

  if (key->kind != TETHER_RECORD_ID_NONE &&
      g_hash_table_lookup (self->by_id, key) == record)
    g_hash_table_remove (self->by_id, key);
}

static gboolean
check_can_attach (TetherCollection *self,
                  TetherRecord     *record,
                  const char       *caller)
{
  if (!TETHER_IS_RECORD (record))
    {
      g_critical ("%s: not a TetherRecord", caller);
      return FALSE;
    }

  if (tether_record_get_collection (record) != NULL)
    {
      g_critical ("%s: record %s is already in a collection",
                  caller, tether_record_get_cid (record));
      return FALSE;
    }

  if (g_hash_table_contains (self->by_cid, tether_record_get_cid (record)))
    {
      g_critical ("%s: the collection already has a record with cid %s",
                  caller, tether_record_get_cid (record));
      return FALSE;
    }

  return TRUE;
}

/* Takes a reference for the array the caller puts @record in. */
static void
attach_record (TetherCollection *self,
               TetherRecord     *record)
{
  g_object_ref (record);
  tether_record_set_collection (record, self);
  tether_record_set_title_field (record, self->title_field);

  g_hash_table_replace (self->by_cid, (gpointer) tether_record_get_cid (record), record);
  index_id (self, record);

  if (tether_record_get_sync_state (record) != TETHER_SYNC_STATE_SYNCED)
    self->n_unsynced++;
}

/* Leaves the reference to the caller. */
static void
detach_record (TetherCollection *self,
               TetherRecord     *record)
{
  g_hash_table_remove (self->by_cid, tether_record_get_cid (record));
  unindex_id (self, record);
  tether_record_set_collection (record, NULL);

  if (tether_record_get_sync_state (record) != TETHER_SYNC_STATE_SYNCED)
    self->n_unsynced--;
}

/* After attaching or detaching records, or a state change. */
static void
notify_n_unsynced (TetherCollection *self,
                   guint             before)
{
  if (self->n_unsynced != before)
    g_object_notify_by_pspec (G_OBJECT (self), properties[PROP_N_UNSYNCED]);
}

/* Called by records */

void
tether_collection_record_id_changing (TetherCollection *self,
                                      TetherRecord     *record)
{
  unindex_id (self, record);
}

void
tether_collection_record_id_changed (TetherCollection *self,
                                     TetherRecord     *record)
{
  index_id (self, record);
}

void
tether_collection_record_state_changed (TetherCollection *self,
                                        TetherRecord     *record,
                                        TetherSyncState   old_state)
{
  gboolean was_synced = old_state == TETHER_SYNC_STATE_SYNCED;
  gboolean is_synced = tether_record_get_sync_state (record) == TETHER_SYNC_STATE_SYNCED;

  if (was_synced == is_synced)
    return;

  if (is_synced)
    self->n_unsynced--;
  else
    self->n_unsynced++;

  g_object_notify_by_pspec (G_OBJECT (self), properties[PROP_N_UNSYNCED]);
}

void
tether_collection_record_changed (TetherCollection *self,
                                  TetherRecord     *record,
                                  const char       *field,
                                  GQuark            detail)
{
  g_signal_emit (self, signals[RECORD_CHANGED], detail, record, field);
}

/* GObject */

static void
release_records (TetherCollection *self,
                 GPtrArray        *records)
{
  for (guint i = 0; i < records->len; i++)
    {
      TetherRecord *record = g_ptr_array_index (records, i);

      tether_record_set_collection (record, NULL);
      g_object_unref (record);
    }

  g_ptr_array_set_size (records, 0);
}

static void
tether_collection_dispose (GObject *object)
{
  TetherCollection *self = (TetherCollection *)object;

  /* No items-changed: nobody holds a model that is being disposed. */
  g_hash_table_remove_all (self->by_cid);
  g_hash_table_remove_all (self->by_id);
  release_records (self, self->items);
  release_records (self, self->tombstones);

  G_OBJECT_CLASS (tether_collection_parent_class)->dispose (object);
}

static void
tether_collection_finalize (GObject *object)
{
  TetherCollection *self = (TetherCollection *)object;

  g_clear_pointer (&self->items, g_ptr_array_unref);
  g_clear_pointer (&self->tombstones, g_ptr_array_unref);
  g_clear_pointer (&self->by_cid, g_hash_table_unref);
  g_clear_pointer (&self->by_id, g_hash_table_unref);

  G_OBJECT_CLASS (tether_collection_parent_class)->finalize (object);
}

static void
tether_collection_get_property (GObject    *object,
                                guint       prop_id,
                                GValue     *value,
                                GParamSpec *pspec)
{
  TetherCollection *self = TETHER_COLLECTION (object);

  switch (prop_id)
    {
    case PROP_N_ITEMS:
      g_value_set_uint (value, self->items->len);
      break;

    case PROP_N_UNSYNCED:
      g_value_set_uint (value, self->n_unsynced);
      break;

    case PROP_TITLE_FIELD:
      g_value_set_string (value, tether_collection_get_title_field (self));
      break;

    default:
      G_OBJECT_WARN_INVALID_PROPERTY_ID (object, prop_id, pspec);
    }
}

static void
tether_collection_set_property (GObject      *object,
                                guint         prop_id,
                                const GValue *value,
                                GParamSpec   *pspec)
{
  TetherCollection *self = TETHER_COLLECTION (object);

  switch (prop_id)
    {
    case PROP_TITLE_FIELD:
      tether_collection_set_title_field (self, g_value_get_string (value));
      break;

    default:
      G_OBJECT_WARN_INVALID_PROPERTY_ID (object, prop_id, pspec);
    }
}

static void
tether_collection_class_init (TetherCollectionClass *klass)
{
  GObjectClass *object_class = G_OBJECT_CLASS (klass);

  object_class->dispose = tether_collection_dispose;
  object_class->finalize = tether_collection_finalize;
  object_class->get_property = tether_collection_get_property;
  object_class->set_property = tether_collection_set_property;

  /**
   * TetherCollection:n-items:
   *
   * The number of list items (tombstones are not counted).
   */
  properties[PROP_N_ITEMS] =
    g_param_spec_uint ("n-items", NULL, NULL,
                       0, G_MAXUINT, 0,
                       (G_PARAM_READABLE |
                        G_PARAM_EXPLICIT_NOTIFY |
                        G_PARAM_STATIC_STRINGS));

  /**
   * TetherCollection:n-unsynced:
   *
   * See tether_collection_get_n_unsynced().
   */
  properties[PROP_N_UNSYNCED] =
    g_param_spec_uint ("n-unsynced", NULL, NULL,
                       0, G_MAXUINT, 0,
                       (G_PARAM_READABLE |
                        G_PARAM_EXPLICIT_NOTIFY |
                        G_PARAM_STATIC_STRINGS));

  /**
   * TetherCollection:title-field:
   *
   * The attribute records take their title from first; set on every
   * record in the collection.
   */
  properties[PROP_TITLE_FIELD] =
    g_param_spec_string ("title-field", NULL, NULL,
                         NULL,
                         (G_PARAM_READWRITE |
                          G_PARAM_EXPLICIT_NOTIFY |
                          G_PARAM_STATIC_STRINGS));

  g_object_class_install_properties (object_class, N_PROPS, properties);

  /**
   * TetherCollection::record-added:
   * @self: the collection
   * @record: the record that became a list item
   *
   * Emitted after the items-changed that added @record.
   */
  signals[RECORD_ADDED] =
    g_signal_new ("record-added",
                  G_TYPE_FROM_CLASS (klass),
                  G_SIGNAL_RUN_LAST,
                  0,
                  NULL, NULL,
                  NULL,
                  G_TYPE_NONE, 1, TETHER_TYPE_RECORD);

  /**
   * TetherCollection::record-removed:
   * @self: the collection
   * @record: the record that stopped being a list item
   *
   * Emitted after the items-changed that removed @record. A record that
   * became a tombstone is in the deleted state by then.
   */
  signals[RECORD_REMOVED] =
    g_signal_new ("record-removed",
                  G_TYPE_FROM_CLASS (klass),
                  G_SIGNAL_RUN_LAST,
                  0,
                  NULL, NULL,
                  NULL,
                  G_TYPE_NONE, 1, TETHER_TYPE_RECORD);

  /**
   * TetherCollection::record-changed:
   * @self: the collection
   * @record: the record (a list item or a tombstone)
   * @field: (nullable): as in #TetherRecord::changed
   *
   * Forwards #TetherRecord::changed of every record, with the same detail,
   * after the record's own handlers ran.
   */
  signals[RECORD_CHANGED] =
    g_signal_new ("record-changed",
                  G_TYPE_FROM_CLASS (klass),
                  G_SIGNAL_RUN_LAST | G_SIGNAL_DETAILED,
                  0,
                  NULL, NULL,
                  NULL,
                  G_TYPE_NONE, 2,
                  TETHER_TYPE_RECORD,
                  G_TYPE_STRING | G_SIGNAL_TYPE_STATIC_SCOPE);
}

static void
tether_collection_init (TetherCollection *self)
{
  self->items = g_ptr_array_new ();
  self->tombstones = g_ptr_array_new ();
  self->by_cid = g_hash_table_new (g_str_hash, g_str_equal);
  self->by_id = g_hash_table_new (tether_record_id_hash, tether_record_id_equal);
}

/* Public API */

TetherCollection *
tether_collection_new (void)
{
  return g_object_new (TETHER_TYPE_COLLECTION, NULL);
}

/**
 * tether_collection_get_n_records:
 *
 * Returns: the number of list items, tombstones not counted
 */
guint
tether_collection_get_n_records (TetherCollection *self)
{
  g_return_val_if_fail (TETHER_IS_COLLECTION (self), 0);

  return self->items->len;
}

/**
 * tether_collection_get_n_with_id:
 *
 * Returns: the number of list items and tombstones the server id index
 *   holds: those with a server id (one per id)
 */
guint
tether_collection_get_n_with_id (TetherCollection *self)
{
  g_return_val_if_fail (TETHER_IS_COLLECTION (self), 0);

  return g_hash_table_size (self->by_id);
}

guint
tether_collection_get_n_unsynced (TetherCollection *self)
{
  g_return_val_if_fail (TETHER_IS_COLLECTION (self), 0);

  return self->n_unsynced;
}

/**
 * tether_collection_lookup_cid:
 *
 * Returns: (transfer none) (nullable): the list item or tombstone with @cid
 */
TetherRecord *
tether_collection_lookup_cid (TetherCollection *self,
                              const char       *cid)
{
  g_return_val_if_fail (TETHER_IS_COLLECTION (self), NULL);

  if (cid == NULL)
    return NULL;

  return g_hash_table_lookup (self->by_cid, cid);
}

/**
 * tether_collection_lookup_id:
 *
 * Returns: (transfer none) (nullable): the list item or tombstone with the
 *   server id @id
 */
TetherRecord *
tether_collection_lookup_id (TetherCollection *self,
                             JsonNode         *id)
{
  TetherRecordId key;

  g_return_val_if_fail (TETHER_IS_COLLECTION (self), NULL);

  if (!tether_record_id_init_from_node (&key, id) || key.kind == TETHER_RECORD_ID_NONE)
    return NULL;

  return g_hash_table_lookup (self->by_id, &key);
}

/**
 * tether_collection_lookup_ref:
 * @ref: a cid or a server id in text form
 *
 * Tries @ref as a cid, then as an integer id when it is one written the
 * usual way ("42", not "042" or "+42"), then as a string id.
 *
 * Returns: (transfer none) (nullable): the list item or tombstone
 */
TetherRecord *
tether_collection_lookup_ref (TetherCollection *self,
                              const char       *ref)
{
  TetherRecord *record;
  TetherRecordId key = { 0 };
  gint64 integer;

  g_return_val_if_fail (TETHER_IS_COLLECTION (self), NULL);

  if (ref == NULL || *ref == '\0')
    return NULL;

  record = g_hash_table_lookup (self->by_cid, ref);
  if (record != NULL)
    return record;

  if (g_ascii_string_to_signed (ref, 10, G_MININT64, G_MAXINT64, &integer, NULL))
    {
      g_autofree char *canonical = g_strdup_printf ("%" G_GINT64_FORMAT, integer);

      if (strcmp (canonical, ref) == 0)
        {
          key.kind = TETHER_RECORD_ID_INTEGER;
          key.integer = integer;
          record = g_hash_table_lookup (self->by_id, &key);
          if (record != NULL)
            return record;
        }
    }

  key.kind = TETHER_RECORD_ID_STRING;
  key.string = (char *) ref;

  return g_hash_table_lookup (self->by_id, &key);
}

void
tether_collection_add (TetherCollection *self,
                       TetherRecord     *record)
{
  g_return_if_fail (TETHER_IS_COLLECTION (self));
  g_return_if_fail (TETHER_IS_RECORD (record));

  tether_collection_add_many (self, &record, 1);
}

/**
 * tether_collection_add_many:
 * @records: (array length=n_records): the records to add
 *
 * Appends the records to the list in one items-changed, then emits
 * record-added for each. Records in the deleted state become tombstones
 * instead (so that a store can load them with the rest).
 */
void
tether_collection_add_many (TetherCollection  *self,
                            TetherRecord     **records,
                            guint              n_records)
{
  g_autoptr(GPtrArray) added = NULL;
  guint n_unsynced;
  guint position;

  g_return_if_fail (TETHER_IS_COLLECTION (self));
  g_return_if_fail (records != NULL || n_records == 0);

  n_unsynced = self->n_unsynced;
  position = self->items->len;

  for (guint i = 0; i < n_records; i++)
    {
      TetherRecord *record = records[i];

      if (!check_can_attach (self, record, G_STRFUNC))
        continue;

      attach_record (self, record);

      if (tether_record_get_sync_state (record) == TETHER_SYNC_STATE_DELETED)
        g_ptr_array_add (self->tombstones, record);
      else
        g_ptr_array_add (self->items, record);
    }

  if (self->items->len == position)
    {
      notify_n_unsynced (self, n_unsynced);
      return;
    }

  /* Handlers may forget records; keep what we emit about alive. Skipped
   * when nobody listens, as during a store's bulk load. */
  if (g_signal_has_handler_pending (self, signals[RECORD_ADDED], 0, FALSE))
    {
      added = g_ptr_array_new_full (self->items->len - position, g_object_unref);
      for (guint i = position; i < self->items->len; i++)
        g_ptr_array_add (added, g_object_ref (g_ptr_array_index (self->items, i)));
    }

  g_list_model_items_changed (G_LIST_MODEL (self), position, 0, self->items->len - position);
  g_object_notify_by_pspec (G_OBJECT (self), properties[PROP_N_ITEMS]);
  notify_n_unsynced (self, n_unsynced);

  if (added != NULL)
    for (guint i = 0; i < added->len; i++)
      g_signal_emit (self, signals[RECORD_ADDED], 0, g_ptr_array_index (added, i));
}

/**
 * tether_collection_delete:
 *
 * A record with a server id becomes a tombstone (in this order: it leaves
 * the list, it is put in the deleted state, record-removed is emitted). A
 * record never pushed leaves the collection with its state unchanged, so
 * that adding it again (or tether_collection_restore()) undoes the delete.
 * Deleting a tombstone again does nothing.
 *
 * Returns: %TRUE if @record is a tombstone now
 */
gboolean
tether_collection_delete (TetherCollection *self,
                          TetherRecord     *record)
{
  g_autoptr(TetherRecord) hold = NULL;
  gboolean tombstone;
  guint n_unsynced;
  guint position;

  g_return_val_if_fail (TETHER_IS_COLLECTION (self), FALSE);
  g_return_val_if_fail (TETHER_IS_RECORD (record), FALSE);
  g_return_val_if_fail (tether_record_get_collection (record) == self, FALSE);

  if (!g_ptr_array_find (self->items, record, &position))
    return TRUE;

  hold = g_object_ref (record);
  n_unsynced = self->n_unsynced;
  g_ptr_array_remove_index (self->items, position);

  /* A record the server may have is kept as a tombstone, to be deleted
   * there: one with a server id, one whose create is in flight, and one
   * whose create may have reached the server (the sync then gave it the
   * sent version as its base). Only a record that never left is dropped. */
  tombstone = tether_record_get_id_key (record)->kind != TETHER_RECORD_ID_NONE ||
              tether_record_get_sync_state (record) == TETHER_SYNC_STATE_PUSHING ||
              tether_record_get_base (record) != NULL;
  if (tombstone)
    {
      g_ptr_array_add (self->tombstones, record);
    }
  else
    {
      detach_record (self, record);
      g_object_unref (record);
    }

  g_list_model_items_changed (G_LIST_MODEL (self), position, 1, 0);
  g_object_notify_by_pspec (G_OBJECT (self), properties[PROP_N_ITEMS]);
  notify_n_unsynced (self, n_unsynced);

  if (tombstone)
    tether_record_set_sync_state (record, TETHER_SYNC_STATE_DELETED);

  g_signal_emit (self, signals[RECORD_REMOVED], 0, record);

  return tombstone;
}

/**
 * tether_collection_restore:
 * @record: a tombstone of this collection, or a record
 *   tether_collection_delete() removed outright
 * @state: the state to restore, not %TETHER_SYNC_STATE_DELETED
 *
 * Undoes a delete: @record is put in @state and appended at the end of the
 * list (its old position may mean nothing by now; views sort anyway).
 */
void
tether_collection_restore (TetherCollection *self,
                           TetherRecord     *record,
                           TetherSyncState   state)
{
  g_autoptr(TetherRecord) hold = NULL;
  guint n_unsynced;
  guint index;

  g_return_if_fail (TETHER_IS_COLLECTION (self));
  g_return_if_fail (TETHER_IS_RECORD (record));
  g_return_if_fail (state != TETHER_SYNC_STATE_DELETED);

  hold = g_object_ref (record);

  if (tether_record_get_collection (record) == self)
    {
      /* Not by state: the sync may have a tombstone pushing. */
      if (!g_ptr_array_find (self->tombstones, record, &index))
        {
          /* Already a list item: only the state to restore. */
          tether_record_set_sync_state (record, state);
          return;
        }

      g_ptr_array_remove_index (self->tombstones, index);
      /* Counted (and notified) by the record's state change. */
      tether_record_set_sync_state (record, state);
      n_unsynced = self->n_unsynced;
    }
  else
    {
      if (!check_can_attach (self, record, G_STRFUNC))
        return;

      /* Counted when attached, notified below. */
      tether_record_set_sync_state (record, state);
      n_unsynced = self->n_unsynced;
      attach_record (self, record);
    }

  g_ptr_array_add (self->items, record);

  g_list_model_items_changed (G_LIST_MODEL (self), self->items->len - 1, 0, 1);
  g_object_notify_by_pspec (G_OBJECT (self), properties[PROP_N_ITEMS]);
  notify_n_unsynced (self, n_unsynced);

  g_signal_emit (self, signals[RECORD_ADDED], 0, record);
}

void
tether_collection_forget (TetherCollection *self,
                          TetherRecord     *record)
{
  g_return_if_fail (TETHER_IS_COLLECTION (self));
  g_return_if_fail (TETHER_IS_RECORD (record));

  tether_collection_forget_many (self, &record, 1);
}

typedef struct
{
  guint start;
  guint length;
} Run;

/**
 * tether_collection_forget_many:
 * @records: (array length=n_records): list items or tombstones of this
 *   collection
 *
 * Removes the records for good. The list items go in one items-changed per
 * run of adjacent items when there are few runs (so that views keep the
 * rows in between), else in one items-changed spanning them all; then
 * record-removed is emitted for each, in list order.
 */
void
tether_collection_forget_many (TetherCollection  *self,
                               TetherRecord     **records,
                               guint              n_records)
{
  g_autoptr(GHashTable) doomed = NULL;
  g_autoptr(GPtrArray) removed = NULL;
  g_autoptr(GArray) runs = NULL;
  guint n_unsynced;
  guint kept;
  guint n_removed_items = 0;

  g_return_if_fail (TETHER_IS_COLLECTION (self));
  g_return_if_fail (records != NULL || n_records == 0);

  n_unsynced = self->n_unsynced;

  doomed = g_hash_table_new (NULL, NULL);

  for (guint i = 0; i < n_records; i++)
    {
      if (!TETHER_IS_RECORD (records[i]) ||
          tether_record_get_collection (records[i]) != self)
        {
          g_critical ("%s: not a record of this collection", G_STRFUNC);
          continue;
        }

      g_hash_table_add (doomed, records[i]);
    }

  if (g_hash_table_size (doomed) == 0)
    return;

  /* Tombstones are not list items: no signal. */
  kept = 0;
  for (guint i = 0; i < self->tombstones->len; i++)
    {
      TetherRecord *record = g_ptr_array_index (self->tombstones, i);

      if (g_hash_table_contains (doomed, record))
        {
          detach_record (self, record);
          g_object_unref (record);
        }
      else
        {
          g_ptr_array_index (self->tombstones, kept++) = record;
        }
    }
  g_ptr_array_set_size (self->tombstones, kept);

  /* Runs of adjacent list items to remove, in list order. */
  runs = g_array_new (FALSE, FALSE, sizeof (Run));
  for (guint i = 0; i < self->items->len; i++)
    {
      if (!g_hash_table_contains (doomed, g_ptr_array_index (self->items, i)))
        continue;

      n_removed_items++;

      if (runs->len > 0)
        {
          Run *last = &g_array_index (runs, Run, runs->len - 1);

          if (last->start + last->length == i)
            {
              last->length++;
              continue;
            }
        }

      g_array_append_val (runs, ((Run) { i, 1 }));
    }

  if (n_removed_items == 0)
    {
      notify_n_unsynced (self, n_unsynced);
      return;
    }

  /* Takes over the list's references until the signals are out. Nothing
   * finds the records any more by the time views hear of it. */
  removed = g_ptr_array_new_full (n_removed_items, g_object_unref);
  for (guint r = 0; r < runs->len; r++)
    {
      Run *run = &g_array_index (runs, Run, r);

      for (guint i = run->start; i < run->start + run->length; i++)
        {
          TetherRecord *record = g_ptr_array_index (self->items, i);

          detach_record (self, record);
          g_ptr_array_add (removed, record);
        }
    }

  if (runs->len <= MAX_REMOVAL_RUNS)
    {
      /* From the last run back, so that earlier positions stay right. */
      for (guint r = runs->len; r > 0; r--)
        {
          Run *run = &g_array_index (runs, Run, r - 1);

          g_ptr_array_remove_range (self->items, run->start, run->length);
          g_list_model_items_changed (G_LIST_MODEL (self), run->start, run->length, 0);
        }
    }
  else
    {
      Run *first = &g_array_index (runs, Run, 0);
      Run *last = &g_array_index (runs, Run, runs->len - 1);
      guint start = first->start;
      guint end = last->start + last->length;

      kept = start;
      for (guint i = start; i < self->items->len; i++)
        {
          TetherRecord *record = g_ptr_array_index (self->items, i);

          if (!g_hash_table_contains (doomed, record))
            g_ptr_array_index (self->items, kept++) = record;
        }
      g_ptr_array_set_size (self->items, kept);

      g_list_model_items_changed (G_LIST_MODEL (self), start, end - start,
                                  end - start - n_removed_items);
    }

  g_object_notify_by_pspec (G_OBJECT (self), properties[PROP_N_ITEMS]);
  notify_n_unsynced (self, n_unsynced);

  for (guint i = 0; i < removed->len; i++)
    g_signal_emit (self, signals[RECORD_REMOVED], 0, g_ptr_array_index (removed, i));
}

/**
 * tether_collection_get_tombstones:
 *
 * Returns: (transfer none) (element-type TetherRecord): the tombstones, in
 *   deletion order
 */
GPtrArray *
tether_collection_get_tombstones (TetherCollection *self)
{
  g_return_val_if_fail (TETHER_IS_COLLECTION (self), NULL);

  return self->tombstones;
}

const char *
tether_collection_get_title_field (TetherCollection *self)
{
  g_return_val_if_fail (TETHER_IS_COLLECTION (self), NULL);

  return self->title_field;
}

void
tether_collection_set_title_field (TetherCollection *self,
                                   const char       *title_field)
{
  const char *interned;

  g_return_if_fail (TETHER_IS_COLLECTION (self));

  interned = g_intern_string (title_field);
  if (self->title_field == interned)
    return;

  self->title_field = interned;

  for (guint i = 0; i < self->items->len; i++)
    tether_record_set_title_field (g_ptr_array_index (self->items, i), interned);
  for (guint i = 0; i < self->tombstones->len; i++)
    tether_record_set_title_field (g_ptr_array_index (self->tombstones, i), interned);

  g_object_notify_by_pspec (G_OBJECT (self), properties[PROP_TITLE_FIELD]);
}

typedef struct
{
  TetherRecord *record;
  char         *key;
  gint64        modified;
  guint         index;
} SortEntry;

static int
compare_title (gconstpointer a,
               gconstpointer b,
               gpointer      user_data)
{
  const SortEntry *entry_a = a;
  const SortEntry *entry_b = b;
  int cmp = strcmp (entry_a->key, entry_b->key);

  if (cmp != 0)
    return cmp;

  return entry_a->index < entry_b->index ? -1 : entry_a->index > entry_b->index;
}

static int
compare_modified (gconstpointer a,
                  gconstpointer b,
                  gpointer      user_data)
{
  const SortEntry *entry_a = a;
  const SortEntry *entry_b = b;

  /* Newest first; records never changed here (G_MININT64) last. */
  if (entry_a->modified != entry_b->modified)
    return entry_a->modified > entry_b->modified ? -1 : 1;

  return entry_a->index < entry_b->index ? -1 : entry_a->index > entry_b->index;
}

/**
 * tether_collection_dup_sorted:
 *
 * Sorts by title case-insensitively in the user's locale
 * (g_utf8_collate_key() of the case-folded title), or by modified time
 * newest first; records that compare equal keep their list order. Titles
 * of records not parsed yet are found without parsing them.
 *
 * Returns: (transfer full) (element-type TetherRecord): the list's records
 */
GPtrArray *
tether_collection_dup_sorted (TetherCollection *self,
                              TetherRecordSort  sort)
{
  g_autofree SortEntry *entries = NULL;
  GPtrArray *sorted;
  guint n;

  g_return_val_if_fail (TETHER_IS_COLLECTION (self), NULL);

  n = self->items->len;
  entries = g_new0 (SortEntry, MAX (n, 1));

  for (guint i = 0; i < n; i++)
    {
      TetherRecord *record = g_ptr_array_index (self->items, i);

      entries[i].record = record;
      entries[i].index = i;

      if (sort == TETHER_RECORD_SORT_TITLE)
        {
          g_autofree char *folded = g_utf8_casefold (tether_record_get_title (record), -1);

          entries[i].key = g_utf8_collate_key (folded, -1);
        }
      else if (sort == TETHER_RECORD_SORT_MODIFIED)
        {
          entries[i].modified = tether_record_get_modified_usec (record);
        }
    }

  if (sort == TETHER_RECORD_SORT_TITLE)
    g_qsort_with_data (entries, n, sizeof (SortEntry), compare_title, NULL);
  else if (sort == TETHER_RECORD_SORT_MODIFIED)
    g_qsort_with_data (entries, n, sizeof (SortEntry), compare_modified, NULL);

  sorted = g_ptr_array_new_full (n, g_object_unref);
  for (guint i = 0; i < n; i++)
    {
      g_ptr_array_add (sorted, g_object_ref (entries[i].record));
      g_free (entries[i].key);
    }

  return sorted;
}
