/* tether-application.h
 *
 * Copyright 2026 The Tether authors
 *
 * SPDX-License-Identifier: GPL-3.0-or-later
 */

#pragma once

#include <adwaita.h>

#include "tether-session.h"

G_BEGIN_DECLS

#define TETHER_TYPE_APPLICATION (tether_application_get_type ())

G_DECLARE_FINAL_TYPE (TetherApplication, tether_application, TETHER, APPLICATION, AdwApplication)

TetherApplication *tether_application_new         (const char        *application_id,
                                                   GApplicationFlags  flags);
GSettings         *tether_application_get_settings (TetherApplication *self);
/* The opened server collection that the windows show. It is replaced
 * when the server or collection changes in Preferences. */
TetherSession     *tether_application_get_session  (TetherApplication *self);

G_END_DECLS
