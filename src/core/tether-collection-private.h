/* tether-collection-private.h
 *
 * Copyright 2026 The Tether authors
 *
 * SPDX-License-Identifier: GPL-3.0-or-later
 */

#pragma once

#include "tether-collection.h"

G_BEGIN_DECLS

/* Called by a record in the collection around a change of its server id,
 * before notify::id, so that lookups by the new id work in notify::id
 * handlers already. */
void tether_collection_record_id_changing (TetherCollection *self,
                                           TetherRecord     *record);
void tether_collection_record_id_changed  (TetherCollection *self,
                                           TetherRecord     *record);
/* Called by a record in the collection when its sync state changed, before
 * notify::sync-state. */
void tether_collection_record_state_changed (TetherCollection *self,
                                             TetherRecord     *record,
                                             TetherSyncState   old_state);
/* Called by a record in the collection after each emission of its changed
 * signal, to forward it as record-changed. */
void tether_collection_record_changed     (TetherCollection *self,
                                           TetherRecord     *record,
                                           const char       *field,
                                           GQuark            detail);

G_END_DECLS
