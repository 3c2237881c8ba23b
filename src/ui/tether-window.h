/* tether-window.h
 *
 * Copyright 2026 The Tether authors
 *
 * SPDX-License-Identifier: GPL-3.0-or-later
 */

#pragma once

#include <adwaita.h>

#include "tether-application.h"
#include "tether-session.h"

G_BEGIN_DECLS

#define TETHER_TYPE_WINDOW (tether_window_get_type ())

G_DECLARE_FINAL_TYPE (TetherWindow, tether_window, TETHER, WINDOW, AdwApplicationWindow)

TetherWindow  *tether_window_new                (TetherApplication *application);
TetherSession *tether_window_get_session        (TetherWindow      *self);
/* The records as the list shows them: sorted and filtered. */
GListModel    *tether_window_get_visible_records (TetherWindow     *self);
/* The record the editor shows. */
TetherRecord  *tether_window_get_selected_record (TetherWindow     *self);
void           tether_window_select_record      (TetherWindow      *self,
                                                 TetherRecord      *record);

G_END_DECLS
