/* tether-record.h
 *
 * Copyright 2026 The Tether authors
 *
 * SPDX-License-Identifier: GPL-3.0-or-later
 */

#pragma once

#include <json-glib/json-glib.h>

#include "tether-types.h"

G_BEGIN_DECLS

#define TETHER_TYPE_RECORD (tether_record_get_type ())

G_DECLARE_FINAL_TYPE (TetherRecord, tether_record, TETHER, RECORD, GObject)

#define TETHER_RECORD_ERROR (tether_record_error_quark ())

typedef enum
{
  TETHER_RECORD_ERROR_INVALID,
} TetherRecordError;

GQuark           tether_record_error_quark          (void);

/* A new local record: a fresh cid, no server id, empty attributes, pending. */
TetherRecord    *tether_record_new                  (void);
/* A record as the store keeps it (one serialized line, see
 * tether_record_serialize()). Only the bookkeeping members are read now;
 * the attributes are parsed on first use, so opening a large store does not
 * pay for records nobody looks at. The line's syntax is validated here
 * (full JSON, see tether-json-scan.h); errors are TETHER_RECORD_ERROR_INVALID.
 * May run in a worker thread, on a record no other thread sees yet. */
TetherRecord    *tether_record_new_from_line        (GBytes         *line,
                                                     GError        **error);
/* The same for the line at @offset, @length bytes long, inside @buffer (for
 * instance a whole store file): the record keeps a reference on @buffer
 * instead of allocating a GBytes per line. */
TetherRecord    *tether_record_new_from_buffer      (GBytes         *buffer,
                                                     gsize           offset,
                                                     gsize           length,
                                                     GError        **error);
/* A record first seen on the server: attributes and base are copies of
 * @attributes, state synced, no modified time. The caller leaves the id
 * member out of @attributes (its name is a setting). */
TetherRecord    *tether_record_new_from_server      (JsonNode       *id,
                                                     JsonObject     *attributes);

const char      *tether_record_get_cid              (TetherRecord   *self);

/* The server id, a JSON integer or string node, or %NULL while unset. */
JsonNode        *tether_record_get_id               (TetherRecord   *self);
void             tether_record_set_id               (TetherRecord   *self,
                                                     JsonNode       *id);
/* The id in text form ("42", "abc"), or %NULL while unset. */
char            *tether_record_dup_id_string        (TetherRecord   *self);
/* Whether @id can be a server id: a JSON integer or a non-empty string. */
gboolean         tether_record_id_is_valid          (JsonNode       *id);

/* Never %NULL: "" when no attribute gives a title. Found without parsing
 * a record loaded from a line. */
const char      *tether_record_get_title            (TetherRecord   *self);
const char      *tether_record_get_title_field      (TetherRecord   *self);
void             tether_record_set_title_field      (TetherRecord   *self,
                                                     const char     *title_field);

TetherSyncState  tether_record_get_sync_state       (TetherRecord   *self);
void             tether_record_set_sync_state       (TetherRecord   *self,
                                                     TetherSyncState state);
const char      *tether_record_get_error_message    (TetherRecord   *self);
void             tether_record_set_error_message    (TetherRecord   *self,
                                                     const char     *message);
GDateTime       *tether_record_get_modified         (TetherRecord   *self);
guint64          tether_record_get_revision         (TetherRecord   *self);
const char      *tether_record_get_etag             (TetherRecord   *self);
void             tether_record_set_etag             (TetherRecord   *self,
                                                     const char     *etag);

/* Attributes: the JSON object the user edits; treat what the getters
 * return as read-only. The "user" setters (set_attribute, set_string,
 * unset_attribute, update) bump the revision, set the modified time and
 * mark the record pending; a tombstone stays deleted and a record in
 * conflict stays in conflict. Values are copied and compared with
 * json_node_equal(), so setting 1.0 where 1 is stored changes nothing.
 * %NULL values are stored as JSON null. */
JsonObject      *tether_record_get_attributes       (TetherRecord   *self);
JsonNode        *tether_record_get_attribute        (TetherRecord   *self,
                                                     const char     *name);
gboolean         tether_record_has_attribute        (TetherRecord   *self,
                                                     const char     *name);
void             tether_record_set_attribute        (TetherRecord   *self,
                                                     const char     *name,
                                                     JsonNode       *value);
void             tether_record_set_string           (TetherRecord   *self,
                                                     const char     *name,
                                                     const char     *value);
void             tether_record_unset_attribute      (TetherRecord   *self,
                                                     const char     *name);
/* Bulk user edit: every member of @changes is set (a %NULL-typed member is
 * stored as JSON null, not removed); each changed field emits
 * changed::FIELD, then one changed without detail. */
void             tether_record_update               (TetherRecord   *self,
                                                     JsonObject     *changes);
void             tether_record_foreach              (TetherRecord   *self,
                                                     JsonObjectForeach func,
                                                     gpointer        user_data);
/* Every text of the attributes, nested ones too, each followed by a line
 * break, in order: what a search looks through. A record not parsed yet
 * stays so. */
char            *tether_record_dup_text             (TetherRecord   *self);

/* What is sent to a server: a copy of the attributes. */
JsonObject      *tether_record_to_json              (TetherRecord   *self);

/* The last version the server confirmed, or %NULL for a new record. */
JsonObject      *tether_record_get_base             (TetherRecord   *self);
/* The fields changed locally since base: members set or changed carry their
 * new value; removed members are listed in @removed. */
JsonObject      *tether_record_diff_from_base       (TetherRecord   *self,
                                                     GPtrArray     **removed);

/* Used by the sync: replaces attributes and base without counting as a
 * local edit (no revision bump). Emits changed::FIELD for each field that
 * differs, then changed. */
void             tether_record_apply_server         (TetherRecord   *self,
                                                     JsonObject     *attributes,
                                                     JsonObject     *base,
                                                     TetherSyncState state);

/* Conflict data kept while the state is conflict: an object mapping each
 * conflicting field to an object with the server's value as member
 * "theirs" (absent when the server removed the field). "mine" is the
 * current attribute. %NULL when there is none. Setting it emits
 * notify::conflict when it changes. */
JsonObject      *tether_record_get_conflict         (TetherRecord   *self);
void             tether_record_set_conflict         (TetherRecord   *self,
                                                     JsonObject     *conflict);

/* Used by the sync before an update goes out: the version the server will
 * hold if it applies the update. Kept (and stored) until a reply or a pull
 * tells what the server holds, so that a merge after a lost reply knows
 * the server's new values for this client's own. */
JsonObject      *tether_record_get_sent             (TetherRecord   *self);
void             tether_record_set_sent             (TetherRecord   *self,
                                                     JsonObject     *sent);

/* The store's form: one line of JSON (no trailing newline), members in
 * this order:
 * {"cid":"…","id":42|"abc"|null,"state":"pending","rev":3,
 *  "modified":"2026-04-25T12:27:45.123456Z"|null,"etag":"…"|null,
 *  "error":"…"|null,"attributes":{…},"base":{…}|null,"conflict":{…}|null
 *  [,"sent":{…}]}
 * A record loaded from a line and not changed since returns that line (a
 * reference or a slice of the buffer, no copy). Not thread-safe against
 * edits: call it where the record is edited (the main thread). */
GBytes          *tether_record_serialize            (TetherRecord   *self);

G_END_DECLS
