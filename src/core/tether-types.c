/* tether-types.c
 *
 * Copyright 2026 The Tether authors
 *
 * SPDX-License-Identifier: GPL-3.0-or-later
 */

#include "config.h"

#include <string.h>

#include "tether-types.h"

static const char * const sync_state_names[] = {
  [TETHER_SYNC_STATE_SYNCED] = "synced",
  [TETHER_SYNC_STATE_PENDING] = "pending",
  [TETHER_SYNC_STATE_PUSHING] = "pushing",
  [TETHER_SYNC_STATE_CONFLICT] = "conflict",
  [TETHER_SYNC_STATE_ERROR] = "error",
  [TETHER_SYNC_STATE_DELETED] = "deleted",
};

const char *
tether_sync_state_to_string (TetherSyncState state)
{
  g_return_val_if_fail (state < G_N_ELEMENTS (sync_state_names), NULL);

  return sync_state_names[state];
}

gboolean
tether_sync_state_from_string (const char      *string,
                               TetherSyncState *state)
{
  g_return_val_if_fail (state != NULL, FALSE);

  if (string == NULL)
    return FALSE;

  for (guint i = 0; i < G_N_ELEMENTS (sync_state_names); i++)
    {
      if (strcmp (string, sync_state_names[i]) == 0)
        {
          *state = i;
          return TRUE;
        }
    }

  return FALSE;
}
