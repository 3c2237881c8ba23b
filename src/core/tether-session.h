/* tether-session.h
 *
 * Copyright 2026 The Tether authors
 *
 * SPDX-License-Identifier: GPL-3.0-or-later
 */

#pragma once

#include <gio/gio.h>

#include "tether-account.h"
#include "tether-collection.h"
#include "tether-remote.h"
#include "tether-store.h"
#include "tether-sync.h"

G_BEGIN_DECLS

#define TETHER_TYPE_SESSION (tether_session_get_type ())

G_DECLARE_FINAL_TYPE (TetherSession, tether_session, TETHER, SESSION, GObject)

/* One server collection opened on this computer: its account settings,
 * its records and the store that keeps them. Every change made to a
 * record through the collection (an edit, an add, a delete, an undo) is
 * saved to the store by the session, batched by the store. */
TetherSession    *tether_session_new               (TetherAccount       *account,
                                                    GFile               *store_directory);
TetherAccount    *tether_session_get_account       (TetherSession       *self);
TetherCollection *tether_session_get_collection    (TetherSession       *self);
TetherStore      *tether_session_get_store         (TetherSession       *self);
TetherRemote     *tether_session_get_remote        (TetherSession       *self);
TetherSync       *tether_session_get_sync          (TetherSession       *self);
GFile            *tether_session_get_directory     (TetherSession       *self);
gboolean          tether_session_is_open           (TetherSession       *self);
/* Records changed here and not yet on the server: pending, in error or in
 * conflict, plus deletions not yet sent. */
guint             tether_session_get_n_unsynced    (TetherSession       *self);

/* Opens the store into the collection. %FALSE with TETHER_STORE_ERROR_DAMAGED
 * leaves the session open with what could be recovered. */
void              tether_session_open_async        (TetherSession       *self,
                                                    GCancellable        *cancellable,
                                                    GAsyncReadyCallback  callback,
                                                    gpointer             user_data);
gboolean          tether_session_open_finish       (TetherSession       *self,
                                                    GAsyncResult        *result,
                                                    GError             **error);
gboolean          tether_session_open              (TetherSession       *self,
                                                    GError             **error);

/* Records made here that no server has seen: no server id, never sent,
 * not deleted. In the store used without a server, every record. */
guint             tether_session_count_local_only  (TetherSession       *self);

/* Moves the local-only records of @source (see above) into this
 * session's collection, for the next sync to create them on this
 * session's server: the records made while no server was set, which
 * that store keeps apart from each server's. Each keeps its client id,
 * fields and time of last change, and arrives pending. Both sessions
 * must be open. The records are written here before they are removed
 * from @source, so a move cut short by a crash leaves them in both
 * stores, never in neither; moving again then only removes from @source
 * what is already here. Completes when both stores have the change on
 * disk; the result is the number of records moved. */
void              tether_session_adopt_records_async  (TetherSession       *self,
                                                       TetherSession       *source,
                                                       GCancellable        *cancellable,
                                                       GAsyncReadyCallback  callback,
                                                       gpointer             user_data);
guint             tether_session_adopt_records_finish (TetherSession       *self,
                                                       GAsyncResult        *result,
                                                       GError             **error);

/* Writes what is queued and releases the store. */
gboolean          tether_session_close             (TetherSession       *self,
                                                    GError             **error);

G_END_DECLS
