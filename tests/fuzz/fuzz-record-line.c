/* fuzz-record-line.c
 *
 * Copyright 2026 The Tether authors
 *
 * SPDX-License-Identifier: GPL-3.0-or-later
 */

#include "config.h"

#include "fuzz-targets.h"

/* The body is tether_fuzz_record_line() in fuzz-targets.c, which
 * test-fuzz-regressions runs on the corpus and regressions too. */

int
LLVMFuzzerInitialize (int    *argc,
                      char ***argv)
{
  tether_fuzz_init ();

  return 0;
}

int
LLVMFuzzerTestOneInput (const uint8_t *data,
                        size_t         size)
{
  return tether_fuzz_record_line (data, size);
}
