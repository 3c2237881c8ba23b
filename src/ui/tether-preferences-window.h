/* tether-preferences-window.h
 *
 * Copyright 2026 The Tether authors
 *
 * SPDX-License-Identifier: GPL-3.0-or-later
 */

#pragma once

#include <adwaita.h>

#include "tether-account.h"

G_BEGIN_DECLS

#define TETHER_TYPE_PREFERENCES_WINDOW (tether_preferences_window_get_type ())

G_DECLARE_FINAL_TYPE (TetherPreferencesWindow, tether_preferences_window, TETHER, PREFERENCES_WINDOW, AdwPreferencesWindow)

/* Preferences for @settings (schema io.github.tetherapp.Tether), modal
 * over @parent. The password or token goes to the keyring for @account,
 * which should follow @settings (tether_account_new_from_settings()), so
 * that it is kept for the server and username the sync will use. */
GtkWindow *tether_preferences_window_new              (GtkWindow               *parent,
                                                       GSettings               *settings,
                                                       TetherAccount           *account);
GSettings     *tether_preferences_window_get_settings (TetherPreferencesWindow *self);
TetherAccount *tether_preferences_window_get_account  (TetherPreferencesWindow *self);

/* Shows the sign-in settings, focused where the user has to act, with a
 * toast saying that the server refused the credentials. For a sync that
 * failed with an authentication error. */
void       tether_preferences_window_show_credentials (TetherPreferencesWindow *self);

G_END_DECLS
