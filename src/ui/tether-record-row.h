/* tether-record-row.h
 *
 * Copyright 2026 The Tether authors
 *
 * SPDX-License-Identifier: GPL-3.0-or-later
 */

#pragma once

#include <gtk/gtk.h>

#include "tether-record.h"

G_BEGIN_DECLS

#define TETHER_TYPE_RECORD_ROW (tether_record_row_get_type ())

G_DECLARE_FINAL_TYPE (TetherRecordRow, tether_record_row, TETHER, RECORD_ROW, GtkWidget)

GtkWidget    *tether_record_row_new                 (void);
TetherRecord *tether_record_row_get_record          (TetherRecordRow *self);
void          tether_record_row_set_record          (TetherRecordRow *self,
                                                     TetherRecord    *record);

/* The attributes never shown as the row's detail, as in the account. */
const char   *tether_record_row_get_client_id_field (TetherRecordRow *self);
void          tether_record_row_set_client_id_field (TetherRecordRow *self,
                                                     const char      *client_id_field);
const char   *tether_record_row_get_id_field        (TetherRecordRow *self);
void          tether_record_row_set_id_field        (TetherRecordRow *self,
                                                     const char      *id_field);

char         *tether_record_row_describe_modified   (GDateTime       *modified,
                                                     GDateTime       *now);

const char   *tether_sync_state_icon_name           (TetherSyncState  state);
const char   *tether_sync_state_describe            (TetherSyncState  state);

G_END_DECLS
