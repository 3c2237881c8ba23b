/* tether-record-private.h
 *
 * Copyright 2026 The Tether authors
 *
 * SPDX-License-Identifier: GPL-3.0-or-later
 */

#pragma once

#include "tether-record.h"

G_BEGIN_DECLS

/* What TetherCollection needs from a record beyond the public API. It is
 * private so that a record can be indexed without a per-record allocation
 * or signal connection: with 100 000 records, two signal handlers each
 * would cost more memory than the records' text. */

typedef enum
{
  TETHER_RECORD_ID_NONE,
  TETHER_RECORD_ID_INTEGER,
  TETHER_RECORD_ID_STRING,
} TetherRecordIdKind;

/* A server id in compact form. 42 and "42" are different ids. */
typedef struct
{
  char               *string;
  gint64              integer;
  TetherRecordIdKind  kind;
} TetherRecordId;

/* The record's own id, usable as a GHashTable key for as long as the record
 * lives and its id does not change. */
const TetherRecordId *tether_record_get_id_key      (TetherRecord         *self);
/* Fills @id from @node (%NULL, an integer or a non-empty string) for a
 * lookup; the string is not copied. */
gboolean              tether_record_id_init_from_node (TetherRecordId     *id,
                                                     JsonNode             *node);
guint                 tether_record_id_hash         (gconstpointer         key);
gboolean              tether_record_id_equal        (gconstpointer         a,
                                                     gconstpointer         b);

/* The collection a record is in (not a reference), or %NULL. A record is
 * in at most one collection. */
TetherCollection     *tether_record_get_collection  (TetherRecord         *self);
void                  tether_record_set_collection  (TetherRecord         *self,
                                                     TetherCollection     *collection);

/* The modified time in microseconds since the Unix epoch, or G_MININT64. */
gint64                tether_record_get_modified_usec (TetherRecord       *self);

G_END_DECLS
