/* fuzz-targets.h
 *
 * Copyright 2026 The Tether authors
 *
 * SPDX-License-Identifier: GPL-3.0-or-later
 */

#pragma once

#include <stdint.h>
#include <stddef.h>

#include <glib.h>

G_BEGIN_DECLS

/* The bodies of the libFuzzer harnesses, as plain functions: each
 * tests/fuzz/fuzz-NAME.c calls one from LLVMFuzzerTestOneInput(), and
 * test-fuzz-regressions feeds the seed corpora and every input that once
 * crashed through the very same code in the normal test suite.
 *
 * A target returns 0. A bug is an abort: a sanitizer report, a failed
 * check of one of the properties the target asserts (say, a record the
 * store wrote must read back), or a g_warning() or g_critical(), which
 * tether_fuzz_init() makes fatal. */

typedef int (*TetherFuzzFunc) (const guint8 *data,
                               gsize         size);

typedef struct
{
  const char     *name;   /* the harness, and its directory under corpus/ */
  TetherFuzzFunc  func;
} TetherFuzzTarget;

/* Every target, ended by { NULL, NULL }. */
extern const TetherFuzzTarget tether_fuzz_targets[];

/* Once per process, before any target: makes warnings and criticals fatal,
 * silences g_message() and g_debug(), and makes a private directory for the
 * store targets (removed at exit) and the loopback server of the reply
 * targets. */
void tether_fuzz_init            (void);

/* The store loader: @data is snapshot.jsonl (beside a fixed journal), or
 * journal.jsonl (beside a fixed snapshot that names it). The store is
 * opened, every record read, an edit and a meta change saved, and it is
 * closed; then it must open again as a sound store holding the same
 * records and meta, and again after a compaction. */
int  tether_fuzz_store_snapshot  (const guint8 *data,
                                  gsize         size);
int  tether_fuzz_store_journal   (const guint8 *data,
                                  gsize         size);
/* One record line (tether_record_new_from_line()) and the JSON scanner on
 * the same bytes: whatever the scanner accepts json-glib must parse, and
 * whatever the record writes back must read back equal. */
int  tether_fuzz_record_line     (const guint8 *data,
                                  gsize         size);
/* tether_remote_parse_link_header(). */
int  tether_fuzz_link_header     (const guint8 *data,
                                  gsize         size);
/* A reply from a loopback SoupServer to a list-page GET (reply-page) or to
 * a POST, PATCH, PUT or DELETE (reply-created). @data is a small text:
 *
 *   STATUS [FLAG]\n
 *   Name: value\n      (any number of headers)
 *   \n
 *   body
 *
 * FLAG for reply-page: "c" sends If-None-Match; for reply-created: "u"
 * (PATCH), "p" (PUT) or "d" (DELETE) instead of a create. */
int  tether_fuzz_reply_page      (const guint8 *data,
                                  gsize         size);
int  tether_fuzz_reply_created   (const guint8 *data,
                                  gsize         size);
/* tether_cli_parse_assignment() on one command-line argument. */
int  tether_fuzz_assignment      (const guint8 *data,
                                  gsize         size);

/* libFuzzer's entry points, defined by each harness. */
int  LLVMFuzzerInitialize        (int          *argc,
                                  char       ***argv);
int  LLVMFuzzerTestOneInput      (const uint8_t *data,
                                  size_t         size);

G_END_DECLS
