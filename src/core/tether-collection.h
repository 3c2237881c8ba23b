/* tether-collection.h
 *
 * Copyright 2026 The Tether authors
 *
 * SPDX-License-Identifier: GPL-3.0-or-later
 */

#pragma once

#include <gio/gio.h>

#include "tether-record.h"

G_BEGIN_DECLS

#define TETHER_TYPE_COLLECTION (tether_collection_get_type ())

G_DECLARE_FINAL_TYPE (TetherCollection, tether_collection, TETHER, COLLECTION, GObject)

/* A GListModel of TetherRecord in insertion order. Tombstones (deleted
 * records whose DELETE is not pushed yet) are not list items but are kept
 * in the collection until tether_collection_forget() drops them.
 *
 * Lookups find list items and tombstones alike. record-added and
 * record-removed follow list membership (after the items-changed);
 * record-changed::FIELD forwards every record's changed signal. A record is
 * in at most one collection. */
TetherCollection *tether_collection_new               (void);

/* List items, tombstones not counted (the n-items property). */
guint             tether_collection_get_n_records     (TetherCollection *self);
/* List items and tombstones with a server id, as the id index holds them. */
guint             tether_collection_get_n_with_id     (TetherCollection *self);
/* Records not in the synced state, tombstones included: what a sync still
 * has to send or the user to resolve (the n-unsynced property). */
guint             tether_collection_get_n_unsynced    (TetherCollection *self);
TetherRecord     *tether_collection_lookup_cid        (TetherCollection *self,
                                                       const char       *cid);
/* @id: a JSON integer or string node; 42 and "42" are different ids. */
TetherRecord     *tether_collection_lookup_id         (TetherCollection *self,
                                                       JsonNode         *id);
/* Looks up by cid, then by the id's text form (for command-line refs):
 * "42" finds the integer id 42 first, then the string id "42". */
TetherRecord     *tether_collection_lookup_ref        (TetherCollection *self,
                                                       const char       *ref);

void              tether_collection_add               (TetherCollection *self,
                                                       TetherRecord     *record);
/* Adds every record of @records in one items-changed (appended). Records
 * in the deleted state become tombstones instead: a store loads them so. */
void              tether_collection_add_many          (TetherCollection *self,
                                                       TetherRecord    **records,
                                                       guint             n_records);
/* The user deletes @record: a record with a server id becomes a tombstone
 * (state deleted, out of the list, kept in the pending deletions); a record
 * never pushed is removed outright. Returns %TRUE if it became a tombstone. */
gboolean          tether_collection_delete            (TetherCollection *self,
                                                       TetherRecord     *record);
/* Puts a tombstone back in the list (undo of a delete), in @state, at the
 * end of the list. A record delete removed outright is added back. */
void              tether_collection_restore           (TetherCollection *self,
                                                       TetherRecord     *record,
                                                       TetherSyncState   state);
/* Removes @record (list item or tombstone) for good: the server deleted it,
 * or its DELETE was pushed. */
void              tether_collection_forget            (TetherCollection *self,
                                                       TetherRecord     *record);
/* Removes many records for good in as few items-changed as possible: one
 * per run of adjacent items up to 8 runs, else one spanning them all. */
void              tether_collection_forget_many       (TetherCollection *self,
                                                       TetherRecord    **records,
                                                       guint             n_records);
/* Borrowed array of tombstones in deletion order. */
GPtrArray        *tether_collection_get_tombstones    (TetherCollection *self);

const char       *tether_collection_get_title_field   (TetherCollection *self);
void              tether_collection_set_title_field   (TetherCollection *self,
                                                       const char       *title_field);

/* A new array (of references) of the list's records sorted by @sort:
 * title (case-insensitive, g_utf8_collate_key()) or modified (newest
 * first, never-modified last); ties keep list order. */
GPtrArray        *tether_collection_dup_sorted        (TetherCollection *self,
                                                       TetherRecordSort  sort);

G_END_DECLS
