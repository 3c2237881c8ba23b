/* tether-store-private.h
 *
 * Copyright 2026 The Tether authors
 *
 * SPDX-License-Identifier: GPL-3.0-or-later
 */

#pragma once

#include "tether-store.h"

G_BEGIN_DECLS

/* How many records one main-loop callback adds to the collection while a
 * store opens; tests count the items-changed emissions against it. */
#define TETHER_STORE_LOAD_BATCH_SIZE 2000

/* For tests only. While @errno_value is not 0, every write the store makes
 * fails with it (ENOSPC, EACCES...); a journal append first writes half of
 * its batch for real, the way a disk that fills up mid-write does. 0 lifts
 * the fault. */
void     tether_store_set_write_fault_for_testing  (TetherStore *self,
                                                    int          errno_value);
/* For tests only: journal commits (one write and one fsync each) since the
 * store was opened. */
guint    tether_store_get_n_commits_for_testing    (TetherStore *self);

G_END_DECLS
