/* tether-record-editor.h
 *
 * Copyright 2026 The Tether authors
 *
 * SPDX-License-Identifier: GPL-3.0-or-later
 */

#pragma once

#include <adwaita.h>

#include "tether-record.h"

G_BEGIN_DECLS

#define TETHER_TYPE_RECORD_EDITOR (tether_record_editor_get_type ())

G_DECLARE_FINAL_TYPE (TetherRecordEditor, tether_record_editor, TETHER, RECORD_EDITOR, GtkWidget)

GtkWidget    *tether_record_editor_new                 (void);

TetherRecord *tether_record_editor_get_record          (TetherRecordEditor *self);
void          tether_record_editor_set_record          (TetherRecordEditor *self,
                                                        TetherRecord       *record);

const char   *tether_record_editor_get_client_id_field (TetherRecordEditor *self);
void          tether_record_editor_set_client_id_field (TetherRecordEditor *self,
                                                        const char         *client_id_field);

const char   *tether_record_editor_get_id_field        (TetherRecordEditor *self);
void          tether_record_editor_set_id_field        (TetherRecordEditor *self,
                                                        const char         *id_field);

/* Moves the keyboard focus to the widget that edits @name. Returns %FALSE
 * when the record has no such editable field. */
gboolean      tether_record_editor_focus_field         (TetherRecordEditor *self,
                                                        const char         *name);

G_END_DECLS
