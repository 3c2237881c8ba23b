/* tether-sync.h
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

G_BEGIN_DECLS

#define TETHER_TYPE_SYNC (tether_sync_get_type ())

G_DECLARE_FINAL_TYPE (TetherSync, tether_sync, TETHER, SYNC, GObject)

/* What one sync did. */
typedef struct
{
  guint pulled;     /* records added or changed from the server */
  guint pushed;     /* creates and updates the server accepted */
  guint deleted;    /* deletions sent, and records the server deleted */
  guint conflicts;  /* records left in conflict */
  guint errors;     /* records left in error, or not sent for an error */
} TetherSyncReport;

TetherSync      *tether_sync_new                (TetherAccount       *account,
                                                 TetherRemote        *remote,
                                                 TetherCollection    *collection,
                                                 TetherStore         *store);
TetherRemote    *tether_sync_get_remote         (TetherSync          *self);
gboolean         tether_sync_get_running        (TetherSync          *self);
TetherSyncPhase  tether_sync_get_phase          (TetherSync          *self);
/* "Pulling page 3 of 10", "Pushing 12 of 40"; %NULL while idle. */
const char      *tether_sync_get_progress_text  (TetherSync          *self);
/* Between 0 and 1, or -1 when the total is not known yet. */
double           tether_sync_get_fraction       (TetherSync          *self);
/* The end of the last sync that finished without error, or %NULL. */
GDateTime       *tether_sync_get_last_sync      (TetherSync          *self);
const TetherSyncReport *
                 tether_sync_get_last_report    (TetherSync          *self);

/* Pull, merge, push, once. A call while a sync runs joins it and gets
 * its result. Completes after the outcome is on disk. */
void             tether_sync_run_async          (TetherSync          *self,
                                                 TetherSyncFlags      flags,
                                                 GCancellable        *cancellable,
                                                 GAsyncReadyCallback  callback,
                                                 gpointer             user_data);
gboolean         tether_sync_run_finish         (TetherSync          *self,
                                                 GAsyncResult        *result,
                                                 TetherSyncReport    *report,
                                                 GError             **error);

/* Resolves a record in conflict: for @field, or for every conflicting
 * field when %NULL, keep the local value or take the server's. The record
 * then goes to pending (sent by the next sync), or synced when it equals
 * the server's version. */
void             tether_sync_resolve            (TetherSync          *self,
                                                 TetherRecord        *record,
                                                 const char          *field,
                                                 gboolean             keep_mine);

/* Retry timing; tests make it short. */
void             tether_sync_set_retry_delay    (TetherSync          *self,
                                                 guint                base_ms,
                                                 guint                max_ms,
                                                 guint                max_attempts);

G_END_DECLS
