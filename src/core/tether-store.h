/* tether-store.h
 *
 * Copyright 2026 The Tether authors
 *
 * SPDX-License-Identifier: GPL-3.0-or-later
 */

#pragma once

#include <gio/gio.h>
#include <json-glib/json-glib.h>

#include "tether-collection.h"

G_BEGIN_DECLS

#define TETHER_TYPE_STORE (tether_store_get_type ())

G_DECLARE_FINAL_TYPE (TetherStore, tether_store, TETHER, STORE, GObject)

#define TETHER_STORE_ERROR (tether_store_error_quark ())

typedef enum
{
  TETHER_STORE_ERROR_LOCKED,   /* another process has the store open */
  TETHER_STORE_ERROR_DAMAGED,  /* content was unreadable; see the message */
  TETHER_STORE_ERROR_VERSION,  /* written by a newer Tether; left untouched */
  TETHER_STORE_ERROR_IO,       /* reading or writing failed (disk full, permissions) */
  TETHER_STORE_ERROR_CLOSED,   /* the store is not open */
} TetherStoreError;

GQuark        tether_store_error_quark        (void);

/* The directory of the store for one server collection, under
 * g_get_user_data_dir()/tether/. */
GFile        *tether_store_default_directory  (const char           *server_url,
                                               const char           *collection_path);

TetherStore  *tether_store_new                (GFile                *directory);
GFile        *tether_store_get_directory      (TetherStore          *self);
gboolean      tether_store_is_open            (TetherStore          *self);

/* Takes the lock, reads the snapshot and the journal in a worker thread and
 * adds the records to @collection in batches on the main loop. When the
 * result is %FALSE with TETHER_STORE_ERROR_DAMAGED, the store IS open with
 * everything that could be read; the damaged file was kept aside and the
 * message says what was recovered and where the original is. */
void          tether_store_open_async         (TetherStore          *self,
                                               TetherCollection     *collection,
                                               GCancellable         *cancellable,
                                               GAsyncReadyCallback   callback,
                                               gpointer              user_data);
gboolean      tether_store_open_finish        (TetherStore          *self,
                                               GAsyncResult         *result,
                                               GError              **error);
/* A blocking open that runs its own main context; for tether-cli and tests. */
gboolean      tether_store_open               (TetherStore          *self,
                                               TetherCollection     *collection,
                                               GError              **error);

/* Queues the current state of @record; saves queued in one main-loop
 * iteration are written with one write and one fsync. */
void          tether_store_save               (TetherStore          *self,
                                               TetherRecord         *record);
/* Queues the removal of the record with @cid. */
void          tether_store_remove             (TetherStore          *self,
                                               const char           *cid);
/* Sync bookkeeping (page ETags, last sync time...), persisted with the next
 * batch. The node is copied. %NULL removes the key. */
void          tether_store_set_meta           (TetherStore          *self,
                                               const char           *key,
                                               JsonNode             *value);
JsonNode     *tether_store_get_meta           (TetherStore          *self,
                                               const char           *key);

/* Completes when everything queued before the call is on disk (fsync'd). */
void          tether_store_flush_async        (TetherStore          *self,
                                               GCancellable         *cancellable,
                                               GAsyncReadyCallback   callback,
                                               gpointer              user_data);
gboolean      tether_store_flush_finish       (TetherStore          *self,
                                               GAsyncResult         *result,
                                               GError              **error);
gboolean      tether_store_flush              (TetherStore          *self,
                                               GError              **error);
/* tether_store_save() then a flush. */
void          tether_store_save_async         (TetherStore          *self,
                                               TetherRecord         *record,
                                               GCancellable         *cancellable,
                                               GAsyncReadyCallback   callback,
                                               gpointer              user_data);
gboolean      tether_store_save_finish        (TetherStore          *self,
                                               GAsyncResult         *result,
                                               GError              **error);

/* Rewrites the snapshot from the current state and empties the journal,
 * in a worker thread. Also started by itself when the journal grows. */
void          tether_store_compact_async      (TetherStore          *self,
                                               GCancellable         *cancellable,
                                               GAsyncReadyCallback   callback,
                                               gpointer              user_data);
gboolean      tether_store_compact_finish     (TetherStore          *self,
                                               GAsyncResult         *result,
                                               GError              **error);

/* The last write error, or %NULL; edits stay queued and are written again
 * by the next flush. */
const GError *tether_store_get_write_error    (TetherStore          *self);
/* Bytes appended or written since the store was opened (benchmarks and
 * tests use it to show what a change cost). */
guint64       tether_store_get_bytes_written  (TetherStore          *self);

/* Writes what is queued, waits for it and releases the lock. */
gboolean      tether_store_close              (TetherStore          *self,
                                               GError              **error);

G_END_DECLS
