/* tether-types.h
 *
 * Copyright 2026 The Tether authors
 *
 * SPDX-License-Identifier: GPL-3.0-or-later
 */

#pragma once

#include <glib-object.h>

G_BEGIN_DECLS

typedef struct _TetherAccount    TetherAccount;
typedef struct _TetherCollection TetherCollection;
typedef struct _TetherRecord     TetherRecord;
typedef struct _TetherRemote     TetherRemote;
typedef struct _TetherStore      TetherStore;
typedef struct _TetherSync       TetherSync;

/**
 * TetherSyncState:
 * @TETHER_SYNC_STATE_SYNCED: the record equals what the server last confirmed
 * @TETHER_SYNC_STATE_PENDING: the record has local changes not yet pushed
 * @TETHER_SYNC_STATE_PUSHING: a push of the record is in flight
 * @TETHER_SYNC_STATE_CONFLICT: both sides changed a field; the user decides
 * @TETHER_SYNC_STATE_ERROR: the last push failed permanently; see the error message
 * @TETHER_SYNC_STATE_DELETED: a tombstone waiting for its DELETE to be pushed
 */
typedef enum
{
  TETHER_SYNC_STATE_SYNCED,
  TETHER_SYNC_STATE_PENDING,
  TETHER_SYNC_STATE_PUSHING,
  TETHER_SYNC_STATE_CONFLICT,
  TETHER_SYNC_STATE_ERROR,
  TETHER_SYNC_STATE_DELETED,
} TetherSyncState;

typedef enum
{
  TETHER_CONFLICT_POLICY_ASK,
  TETHER_CONFLICT_POLICY_LOCAL_WINS,
  TETHER_CONFLICT_POLICY_SERVER_WINS,
} TetherConflictPolicy;

typedef enum
{
  TETHER_UPDATE_METHOD_PATCH,
  TETHER_UPDATE_METHOD_PUT,
} TetherUpdateMethod;

typedef enum
{
  TETHER_AUTH_KIND_NONE,
  TETHER_AUTH_KIND_BASIC,
  TETHER_AUTH_KIND_BEARER,
} TetherAuthKind;

typedef enum
{
  TETHER_RECORD_SORT_NONE,
  TETHER_RECORD_SORT_TITLE,
  TETHER_RECORD_SORT_MODIFIED,
} TetherRecordSort;

typedef enum
{
  TETHER_SYNC_PHASE_IDLE,
  TETHER_SYNC_PHASE_PULLING,
  TETHER_SYNC_PHASE_PUSHING,
  TETHER_SYNC_PHASE_SAVING,
} TetherSyncPhase;

typedef enum /*< flags >*/
{
  TETHER_SYNC_FLAGS_PULL = 1 << 0,
  TETHER_SYNC_FLAGS_PUSH = 1 << 1,
  TETHER_SYNC_FLAGS_ALL  = TETHER_SYNC_FLAGS_PULL | TETHER_SYNC_FLAGS_PUSH,
} TetherSyncFlags;

const char      *tether_sync_state_to_string (TetherSyncState  state);
gboolean         tether_sync_state_from_string (const char      *string,
                                                TetherSyncState *state);

G_END_DECLS
