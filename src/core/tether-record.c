/* tether-record.c
 *
 * Copyright 2026 The Tether authors
 *
 * SPDX-License-Identifier: GPL-3.0-or-later
 */

#include "config.h"

#include <math.h>
#include <string.h>

#include "tether-collection-private.h"
#include "tether-enums.h"
#include "tether-json-scan.h"
#include "tether-record-private.h"

/**
 * TetherRecord:
 *
 * One record: the JSON object the user edits plus what the sync needs to
 * know about it (server id, last server version, state, revision).
 *
 * Records loaded from the store keep their stored line and parse it only
 * when something needs the attributes. Until then a record costs about the
 * size of this struct plus its share of the store's buffer.
 *
 * Edits through the "user" setters (set_attribute(), set_string(),
 * unset_attribute(), update()) bump the revision, set the modified time and
 * mark the record pending, except that a tombstone stays deleted and a
 * record in conflict stays in conflict: the DELETE is still what has to
 * be pushed, and a conflict is only resolved explicitly (set_conflict()
 * and set_sync_state()).
 *
 * Values are compared with json_node_equal(), which compares numbers by
 * value: setting the double 1.0 where the integer 1 is stored is no change
 * and keeps the integer.
 */

/* A UUID and its NUL fit in the struct; other cids are allocated. */
#define CID_INLINE_SIZE 37
#define NO_MODIFIED G_MININT64

struct _TetherRecord
{
  GObject           parent_instance;

  /* The stored line while it says something the fields below do not: the
   * attributes before they are parsed, or the exact bytes to write back
   * while nothing changed. It is a reference on the caller's buffer (the
   * whole store file, say) and where the line is in it. */
  GBytes           *buffer;
  gsize             line_offset;
  gsize             line_length;

  /* All NULL until the line is parsed (see ensure_parsed()). */
  JsonObject       *attributes;
  JsonObject       *base;
  JsonObject       *conflict;
  /* What the server holds if the update in flight was applied. */
  JsonObject       *sent;

  /* Not a reference: the collection holds one on us. */
  TetherCollection *collection;

  const char       *title_field;  /* interned */
  char             *title;        /* valid if title_valid */
  char             *error_message;
  char             *etag;
  char             *cid;          /* cid_inline, or allocated */
  JsonNode         *id_node;      /* made by tether_record_get_id() */
  GDateTime        *modified_dt;  /* made by tether_record_get_modified() */

  TetherRecordId    id;
  gint64            modified;     /* µs since the epoch (UTC), or NO_MODIFIED */
  guint64           revision;

  guint             sync_state : 4;
  guint             title_valid : 1;
  /* The line's bookkeeping members still match the fields. */
  guint             line_pristine : 1;

  char              cid_inline[CID_INLINE_SIZE];
};

G_DEFINE_FINAL_TYPE (TetherRecord, tether_record, G_TYPE_OBJECT)

G_DEFINE_QUARK (tether-record-error-quark, tether_record_error)

enum {
  PROP_0,
  PROP_CID,
  PROP_ID,
  PROP_TITLE,
  PROP_TITLE_FIELD,
  PROP_SYNC_STATE,
  PROP_ERROR_MESSAGE,
  PROP_MODIFIED,
  PROP_REVISION,
  PROP_ETAG,
  PROP_CONFLICT,
  N_PROPS
};

enum {
  CHANGED,
  N_SIGNALS
};

static GParamSpec *properties[N_PROPS];
static guint signals[N_SIGNALS];

/* JSON helpers */

static JsonNode *deep_copy_node (JsonNode *node);

static JsonObject *
deep_copy_object (JsonObject *object)
{
  JsonObject *copy = json_object_new ();
  JsonObjectIter iter;
  const char *name;
  JsonNode *member;

  json_object_iter_init_ordered (&iter, object);
  while (json_object_iter_next_ordered (&iter, &name, &member))
    json_object_set_member (copy, name, deep_copy_node (member));

  return copy;
}

static JsonArray *
deep_copy_array (JsonArray *array)
{
  guint length = json_array_get_length (array);
  JsonArray *copy = json_array_sized_new (length);

  for (guint i = 0; i < length; i++)
    json_array_add_element (copy, deep_copy_node (json_array_get_element (array, i)));

  return copy;
}

/* json_node_copy() shares objects and arrays; a record must not change
 * because its caller changes a JsonObject later. */
static JsonNode *
deep_copy_node (JsonNode *node)
{
  JsonNode *copy;

  switch (JSON_NODE_TYPE (node))
    {
    case JSON_NODE_OBJECT:
      copy = json_node_new (JSON_NODE_OBJECT);
      json_node_take_object (copy, deep_copy_object (json_node_get_object (node)));
      return copy;

    case JSON_NODE_ARRAY:
      copy = json_node_new (JSON_NODE_ARRAY);
      json_node_take_array (copy, deep_copy_array (json_node_get_array (node)));
      return copy;

    case JSON_NODE_VALUE:
    case JSON_NODE_NULL:
    default:
      return json_node_copy (node);
    }
}

static gboolean
objects_equal (JsonObject *a,
               JsonObject *b)
{
  if (a == b)
    return TRUE;
  if (a == NULL || b == NULL)
    return FALSE;

  return json_object_equal (a, b);
}

static const char *
node_get_nonempty_string (JsonNode *node)
{
  const char *str;

  if (node == NULL ||
      !JSON_NODE_HOLDS_VALUE (node) ||
      json_node_get_value_type (node) != G_TYPE_STRING)
    return NULL;

  str = json_node_get_string (node);

  return str != NULL && *str != '\0' ? str : NULL;
}

/* JSON writer. Ours rather than JsonGenerator so that what it writes is
 * always what the scanner accepts: shortest round-trip doubles that stay
 * doubles, no "inf", valid UTF-8, bounded nesting. */

static void write_node (GString  *out,
                        JsonNode *node,
                        guint     depth);

static void
write_string (GString    *out,
              const char *str)
{
  g_autofree char *valid = NULL;
  const char *run;
  const char *p;

  if (!g_utf8_validate (str, -1, NULL))
    str = valid = g_utf8_make_valid (str, -1);

  g_string_append_c (out, '"');

  for (p = run = str; *p != '\0'; p++)
    {
      guchar c = (guchar) *p;

      if (c >= 0x20 && c != '"' && c != '\\')
        continue;

      g_string_append_len (out, run, p - run);
      run = p + 1;

      switch (c)
        {
        case '"': g_string_append (out, "\\\""); break;
        case '\\': g_string_append (out, "\\\\"); break;
        case '\b': g_string_append (out, "\\b"); break;
        case '\f': g_string_append (out, "\\f"); break;
        case '\n': g_string_append (out, "\\n"); break;
        case '\r': g_string_append (out, "\\r"); break;
        case '\t': g_string_append (out, "\\t"); break;
        default: g_string_append_printf (out, "\\u%04x", c); break;
        }
    }

  g_string_append_len (out, run, p - run);
  g_string_append_c (out, '"');
}

static void
write_double (GString *out,
              double   value)
{
  static const char * const formats[] = { "%.15g", "%.16g", "%.17g" };
  char buf[G_ASCII_DTOSTR_BUF_SIZE];

  /* JSON has no infinity; json-glib makes one from 1e999. */
  if (!isfinite (value))
    {
      g_string_append (out, "null");
      return;
    }

  for (guint i = 0; i < G_N_ELEMENTS (formats); i++)
    {
      g_ascii_formatd (buf, sizeof buf, formats[i], value);
      if (g_ascii_strtod (buf, NULL) == value)
        break;
    }

  g_string_append (out, buf);

  /* Keep a double a double when it is read back. */
  if (strpbrk (buf, ".eE") == NULL)
    g_string_append (out, ".0");
}

static void
write_object (GString    *out,
              JsonObject *object,
              guint       depth)
{
  JsonObjectIter iter;
  const char *name;
  JsonNode *member;
  gboolean first = TRUE;

  g_string_append_c (out, '{');

  json_object_iter_init_ordered (&iter, object);
  while (json_object_iter_next_ordered (&iter, &name, &member))
    {
      if (!first)
        g_string_append_c (out, ',');
      first = FALSE;

      write_string (out, name);
      g_string_append_c (out, ':');
      write_node (out, member, depth);
    }

  g_string_append_c (out, '}');
}

static void
write_array (GString   *out,
             JsonArray *array,
             guint      depth)
{
  guint length = json_array_get_length (array);

  g_string_append_c (out, '[');

  for (guint i = 0; i < length; i++)
    {
      if (i > 0)
        g_string_append_c (out, ',');
      write_node (out, json_array_get_element (array, i), depth);
    }

  g_string_append_c (out, ']');
}

/* @depth: how many containers hold @node. */
static void
write_node (GString  *out,
            JsonNode *node,
            guint     depth)
{
  GType type;

  switch (JSON_NODE_TYPE (node))
    {
    case JSON_NODE_OBJECT:
    case JSON_NODE_ARRAY:
      /* Deeper than the store can read back; dropping the value is better
       * than a store that does not open. */
      if (depth + 1 > TETHER_JSON_SCAN_MAX_DEPTH)
        {
          g_warning ("A JSON value is nested too deeply to be stored; it was replaced by null");
          g_string_append (out, "null");
        }
      else if (JSON_NODE_HOLDS_OBJECT (node))
        write_object (out, json_node_get_object (node), depth + 1);
      else
        write_array (out, json_node_get_array (node), depth + 1);
      return;

    case JSON_NODE_VALUE:
      type = json_node_get_value_type (node);
      if (type == G_TYPE_INT64)
        g_string_append_printf (out, "%" G_GINT64_FORMAT, json_node_get_int (node));
      else if (type == G_TYPE_DOUBLE)
        write_double (out, json_node_get_double (node));
      else if (type == G_TYPE_BOOLEAN)
        g_string_append (out, json_node_get_boolean (node) ? "true" : "false");
      else if (type == G_TYPE_STRING && json_node_get_string (node) != NULL)
        write_string (out, json_node_get_string (node));
      else
        g_string_append (out, "null");
      return;

    case JSON_NODE_NULL:
    default:
      g_string_append (out, "null");
      return;
    }
}

/* Time */

static gint64
days_from_civil (gint64 year,
                 guint  month,
                 guint  day)
{
  gint64 era;
  guint year_of_era;
  guint day_of_year;
  guint day_of_era;

  /* Howard Hinnant's algorithm, with years starting in March. */
  year -= month <= 2;
  era = (year >= 0 ? year : year - 399) / 400;
  year_of_era = (guint) (year - era * 400);
  day_of_year = (153 * (month > 2 ? month - 3 : month + 9) + 2) / 5 + day - 1;
  day_of_era = year_of_era * 365 + year_of_era / 4 - year_of_era / 100 + day_of_year;

  return era * 146097 + (gint64) day_of_era - 719468;
}

static void
civil_from_days (gint64  days,
                 gint64 *year,
                 guint  *month,
                 guint  *day)
{
  gint64 era;
  guint day_of_era;
  guint year_of_era;
  guint day_of_year;
  guint mp;

  days += 719468;
  era = (days >= 0 ? days : days - 146096) / 146097;
  day_of_era = (guint) (days - era * 146097);
  year_of_era = (day_of_era - day_of_era / 1460 + day_of_era / 36524 - day_of_era / 146096) / 365;
  day_of_year = day_of_era - (365 * year_of_era + year_of_era / 4 - year_of_era / 100);
  mp = (5 * day_of_year + 2) / 153;

  *day = day_of_year - (153 * mp + 2) / 5 + 1;
  *month = mp < 10 ? mp + 3 : mp - 9;
  *year = (gint64) year_of_era + era * 400 + (*month <= 2);
}

static gint64
floor_div (gint64 a,
           gint64 b)
{
  return a / b - (a % b != 0 && (a < 0) != (b < 0));
}

/* 2026-04-25T12:27:45.123456Z: fixed width, so cheap to read back. */
static void
write_modified (GString *out,
                gint64   usec)
{
  gint64 secs = floor_div (usec, G_USEC_PER_SEC);
  gint64 days = floor_div (secs, 86400);
  gint64 sec_of_day = secs - days * 86400;
  gint64 year;
  guint month;
  guint day;

  civil_from_days (days, &year, &month, &day);

  g_string_append_printf (out, "\"%04" G_GINT64_FORMAT "-%02u-%02uT%02u:%02u:%02u.%06uZ\"",
                          year, month, day,
                          (guint) (sec_of_day / 3600),
                          (guint) (sec_of_day / 60 % 60),
                          (guint) (sec_of_day % 60),
                          (guint) (usec - secs * G_USEC_PER_SEC));
}

static gboolean
read_digits (const char *p,
             guint       n,
             guint      *out)
{
  guint v = 0;

  for (guint i = 0; i < n; i++)
    {
      if (!g_ascii_isdigit (p[i]))
        return FALSE;
      v = v * 10 + (guint) (p[i] - '0');
    }

  *out = v;
  return TRUE;
}

static gboolean
parse_modified_fast (const char *p,
                     gsize       length,
                     gint64     *usec)
{
  guint year, month, day, hour, minute, second, micro;

  if (length != 27 ||
      p[4] != '-' || p[7] != '-' || p[10] != 'T' || p[13] != ':' ||
      p[16] != ':' || p[19] != '.' || p[26] != 'Z' ||
      !read_digits (p, 4, &year) ||
      !read_digits (p + 5, 2, &month) ||
      !read_digits (p + 8, 2, &day) ||
      !read_digits (p + 11, 2, &hour) ||
      !read_digits (p + 14, 2, &minute) ||
      !read_digits (p + 17, 2, &second) ||
      !read_digits (p + 20, 6, &micro))
    return FALSE;

  if (year < 1 || month < 1 || month > 12 || day < 1 ||
      day > g_date_get_days_in_month (month, year) ||
      hour > 23 || minute > 59 || second > 59)
    return FALSE;

  *usec = ((days_from_civil (year, month, day) * 86400 +
            hour * 3600 + minute * 60 + second) * G_USEC_PER_SEC) + micro;

  return TRUE;
}

static gboolean
parse_modified (const TetherJsonValue *value,
                gint64                *usec)
{
  g_autofree char *text = NULL;
  g_autoptr(GTimeZone) utc = NULL;
  g_autoptr(GDateTime) dt = NULL;

  if (!value->escaped &&
      parse_modified_fast (value->start + 1, value->length - 2, usec))
    return TRUE;

  /* Anything else ISO 8601 (an offset, no fraction) is fine too. */
  text = tether_json_value_dup_string (value);
  utc = g_time_zone_new_utc ();
  dt = g_date_time_new_from_iso8601 (text, utc);
  if (dt == NULL)
    return FALSE;

  /* "9999-12-31T23:59:59-14:00" is a valid date and time whose instant,
   * in UTC, is past what a GDateTime holds: it could not be given back. */
  {
    g_autoptr(GDateTime) in_utc = g_date_time_to_utc (dt);

    if (in_utc == NULL)
      return FALSE;
  }

  *usec = g_date_time_to_unix (dt) * G_USEC_PER_SEC + g_date_time_get_microsecond (dt);

  return TRUE;
}

/* Ids */

gboolean
tether_record_id_is_valid (JsonNode *id)
{
  GType type;

  if (id == NULL || !JSON_NODE_HOLDS_VALUE (id))
    return FALSE;

  type = json_node_get_value_type (id);
  if (type == G_TYPE_INT64)
    return TRUE;

  return type == G_TYPE_STRING && node_get_nonempty_string (id) != NULL;
}

/* Fills @id from @node without copying the string. */
static gboolean
record_id_init_from_node (TetherRecordId *id,
                          JsonNode       *node)
{
  id->string = NULL;
  id->integer = 0;
  id->kind = TETHER_RECORD_ID_NONE;

  if (node == NULL)
    return TRUE;

  if (!tether_record_id_is_valid (node))
    return FALSE;

  if (json_node_get_value_type (node) == G_TYPE_INT64)
    {
      id->kind = TETHER_RECORD_ID_INTEGER;
      id->integer = json_node_get_int (node);
    }
  else
    {
      id->kind = TETHER_RECORD_ID_STRING;
      id->string = (char *) json_node_get_string (node);
    }

  return TRUE;
}

guint
tether_record_id_hash (gconstpointer key)
{
  const TetherRecordId *id = key;
  guint64 v;

  switch (id->kind)
    {
    case TETHER_RECORD_ID_INTEGER:
      v = (guint64) id->integer;
      return (guint) (v ^ (v >> 32));

    case TETHER_RECORD_ID_STRING:
      /* Keeps "42" and 42 apart in most buckets too. */
      return g_str_hash (id->string) ^ 0x5bd1e995;

    case TETHER_RECORD_ID_NONE:
    default:
      return 0;
    }
}

gboolean
tether_record_id_equal (gconstpointer a,
                        gconstpointer b)
{
  const TetherRecordId *id_a = a;
  const TetherRecordId *id_b = b;

  if (id_a->kind != id_b->kind)
    return FALSE;

  switch (id_a->kind)
    {
    case TETHER_RECORD_ID_INTEGER:
      return id_a->integer == id_b->integer;

    case TETHER_RECORD_ID_STRING:
      return strcmp (id_a->string, id_b->string) == 0;

    case TETHER_RECORD_ID_NONE:
    default:
      return TRUE;
    }
}

/* The record */

static inline const char *
line_data (TetherRecord *self)
{
  return (const char *) g_bytes_get_data (self->buffer, NULL) + self->line_offset;
}

/* The attributes are still in the line. */
static inline gboolean
is_lazy (TetherRecord *self)
{
  return self->attributes == NULL && self->buffer != NULL;
}

static void
set_cid (TetherRecord *self,
         const char   *cid,
         gsize         length)
{
  if (self->cid != self->cid_inline)
    g_free (self->cid);

  if (length < CID_INLINE_SIZE)
    {
      memcpy (self->cid_inline, cid, length);
      self->cid_inline[length] = '\0';
      self->cid = self->cid_inline;
    }
  else
    {
      self->cid = g_strndup (cid, length);
    }
}

typedef enum
{
  LINE_CID,
  LINE_ID,
  LINE_STATE,
  LINE_REV,
  LINE_MODIFIED,
  LINE_ETAG,
  LINE_ERROR,
  LINE_ATTRIBUTES,
  LINE_BASE,
  LINE_CONFLICT,
  LINE_SENT,
  N_LINE_MEMBERS
} LineMember;

static const struct {
  const char *name;
  gsize       length;
  LineMember  member;
} line_member_names[] = {
  { "cid", 3, LINE_CID },
  { "id", 2, LINE_ID },
  { "state", 5, LINE_STATE },
  { "rev", 3, LINE_REV },
  { "revision", 8, LINE_REV },
  { "modified", 8, LINE_MODIFIED },
  { "etag", 4, LINE_ETAG },
  { "error", 5, LINE_ERROR },
  { "attributes", 10, LINE_ATTRIBUTES },
  { "base", 4, LINE_BASE },
  { "conflict", 8, LINE_CONFLICT },
  { "sent", 4, LINE_SENT },
};

typedef struct
{
  TetherJsonValue values[N_LINE_MEMBERS];
  guint           seen;
} LineMembers;

static void
line_member_cb (const TetherJsonValue *key,
                const TetherJsonValue *value,
                gpointer               user_data)
{
  LineMembers *members = user_data;
  gsize length = key->length - 2;

  for (guint i = 0; i < G_N_ELEMENTS (line_member_names); i++)
    {
      if (key->escaped
          ? tether_json_value_equal_string (key, line_member_names[i].name)
          : (length == line_member_names[i].length &&
             memcmp (key->start + 1, line_member_names[i].name, length) == 0))
        {
          /* Like json-glib, the last of duplicate members wins. */
          members->values[line_member_names[i].member] = *value;
          members->seen |= 1u << line_member_names[i].member;
          return;
        }
    }
}

static gboolean
scan_line (TetherRecord *self,
           LineMembers  *members)
{
  memset (members, 0, sizeof *members);

  /* The line was valid when the record was made from it. */
  return tether_json_scan_object (line_data (self), self->line_length,
                                  line_member_cb, members, NULL);
}

static JsonObject *
steal_object_member (JsonObject *root,
                     const char *name)
{
  JsonNode *node = json_object_get_member (root, name);
  JsonObject *object;
  JsonObjectIter iter;
  const char *member_name;
  JsonNode *member;

  if (node == NULL || !JSON_NODE_HOLDS_OBJECT (node))
    return NULL;

  object = json_node_dup_object (node);

  /* The members' parent is the node that goes away with the parser. */
  json_object_iter_init (&iter, object);
  while (json_object_iter_next (&iter, &member_name, &member))
    json_node_set_parent (member, NULL);

  return object;
}

static void
ensure_parsed (TetherRecord *self)
{
  g_autoptr(JsonParser) parser = NULL;
  g_autoptr(GError) error = NULL;
  JsonObject *root;

  if (G_LIKELY (self->attributes != NULL))
    return;

  if (self->buffer == NULL)
    {
      self->attributes = json_object_new ();
      return;
    }

  parser = json_parser_new ();
  if (!json_parser_load_from_data (parser, line_data (self), self->line_length, &error))
    {
      /* The scanner accepted the line, so this is a bug in one of the
       * two. The line stays, so nothing is lost unless the record is
       * edited. */
      g_critical ("json-glib cannot parse a record line the scanner accepted: %s",
                  error->message);
      self->attributes = json_object_new ();
      return;
    }

  root = json_node_get_object (json_parser_get_root (parser));
  self->attributes = steal_object_member (root, "attributes");
  self->base = steal_object_member (root, "base");
  self->conflict = steal_object_member (root, "conflict");
  self->sent = steal_object_member (root, "sent");

  if (self->attributes == NULL)
    self->attributes = json_object_new ();

  /* Kept only while it can still be written back as it is. */
  if (!self->line_pristine)
    g_clear_pointer (&self->buffer, g_bytes_unref);
}

/* The attributes, base or conflict changed: the line says nothing the
 * parsed record does not, and keeping it would hold on to the buffer. */
static void
drop_line (TetherRecord *self)
{
  g_assert (self->attributes != NULL);

  g_clear_pointer (&self->buffer, g_bytes_unref);
  self->line_pristine = FALSE;
}

/* A bookkeeping field changed: the line's copy of it is stale. */
static void
bookkeeping_changed (TetherRecord *self)
{
  if (is_lazy (self))
    self->line_pristine = FALSE;
  else
    g_clear_pointer (&self->buffer, g_bytes_unref);
}

/* Titles */

static const char *
derive_title (JsonObject *attributes,
              const char *title_field)
{
  const char * const candidates[] = { title_field, "title", "name" };
  JsonObjectIter iter;
  const char *name;
  JsonNode *member;
  const char *title;

  for (guint i = 0; i < G_N_ELEMENTS (candidates); i++)
    {
      if (candidates[i] == NULL || *candidates[i] == '\0')
        continue;

      title = node_get_nonempty_string (json_object_get_member (attributes, candidates[i]));
      if (title != NULL)
        return title;
    }

  json_object_iter_init_ordered (&iter, attributes);
  /* json-glib 1.6 wants the name even when we do not. */
  while (json_object_iter_next_ordered (&iter, &name, &member))
    {
      title = node_get_nonempty_string (member);
      if (title != NULL)
        return title;
    }

  return "";
}

#define PEEK_MAX_MEMBERS 32

typedef struct
{
  TetherJsonValue keys[PEEK_MAX_MEMBERS];
  TetherJsonValue values[PEEK_MAX_MEMBERS];
  guint           n_members;
  gboolean        give_up;
} PeekMembers;

static void
peek_member_cb (const TetherJsonValue *key,
                const TetherJsonValue *value,
                gpointer               user_data)
{
  PeekMembers *peek = user_data;

  if (peek->n_members == PEEK_MAX_MEMBERS || key->escaped)
    {
      peek->give_up = TRUE;
      return;
    }

  peek->keys[peek->n_members] = *key;
  peek->values[peek->n_members] = *value;
  peek->n_members++;
}

static gboolean
peek_key_equal (const TetherJsonValue *key,
                const char            *name)
{
  gsize length = strlen (name);

  return key->length - 2 == length && memcmp (key->start + 1, name, length) == 0;
}

/* The title of a lazy record, found by scanning the line, without the cost
 * (in time and memory) of parsing it: sorting 100 000 records by title
 * must not parse them all. Returns %NULL for the rare attributes it does
 * not handle the way json-glib would (escaped or duplicate names, many
 * members), and derive_title() on the parsed record decides. */
static char *
peek_title (TetherRecord *self)
{
  const char * const candidates[] = { self->title_field, "title", "name" };
  LineMembers members;
  const TetherJsonValue *attributes;
  PeekMembers peek = { 0 };

  if (!scan_line (self, &members))
    return NULL;

  if ((members.seen & (1u << LINE_ATTRIBUTES)) == 0)
    return g_strdup ("");

  attributes = &members.values[LINE_ATTRIBUTES];
  if (!tether_json_scan_object (attributes->start, attributes->length,
                                peek_member_cb, &peek, NULL) ||
      peek.give_up)
    return NULL;

  for (guint i = 0; i < peek.n_members; i++)
    for (guint j = i + 1; j < peek.n_members; j++)
      if (peek.keys[i].length == peek.keys[j].length &&
          memcmp (peek.keys[i].start, peek.keys[j].start, peek.keys[i].length) == 0)
        return NULL;

  /* The same order of preference as derive_title(); an empty string is
   * two bytes, its quotes, since the scanner refuses \u0000. */
  for (guint c = 0; c < G_N_ELEMENTS (candidates); c++)
    {
      if (candidates[c] == NULL || *candidates[c] == '\0')
        continue;

      for (guint i = 0; i < peek.n_members; i++)
        {
          if (!peek_key_equal (&peek.keys[i], candidates[c]))
            continue;
          if (peek.values[i].kind == TETHER_JSON_STRING && peek.values[i].length > 2)
            return tether_json_value_dup_string (&peek.values[i]);
          break;
        }
    }

  for (guint i = 0; i < peek.n_members; i++)
    if (peek.values[i].kind == TETHER_JSON_STRING && peek.values[i].length > 2)
      return tether_json_value_dup_string (&peek.values[i]);

  return g_strdup ("");
}

static char *
compute_title (TetherRecord *self)
{
  if (is_lazy (self))
    {
      char *title = peek_title (self);

      if (title != NULL)
        return title;
    }

  ensure_parsed (self);

  return g_strdup (derive_title (self->attributes, self->title_field));
}

static void
ensure_title (TetherRecord *self)
{
  if (self->title_valid)
    return;

  g_free (self->title);
  self->title = compute_title (self);
  self->title_valid = TRUE;
}

/* Recomputes a title somebody may have seen; returns whether it changed,
 * for the caller to notify. */
static gboolean
refresh_title (TetherRecord *self)
{
  g_autofree char *title = NULL;

  if (!self->title_valid)
    return FALSE;

  title = compute_title (self);
  if (g_strcmp0 (title, self->title) == 0)
    return FALSE;

  g_free (self->title);
  self->title = g_steal_pointer (&title);

  return TRUE;
}

static void
update_title (TetherRecord *self)
{
  if (refresh_title (self))
    g_object_notify_by_pspec (G_OBJECT (self), properties[PROP_TITLE]);
}

/* Edits */

static void
emit_changed (TetherRecord *self,
              const char   *field)
{
  /* No quark means nobody connected to changed::FIELD. Not making one
   * keeps member names from the server out of the quark table, which is
   * never freed. */
  GQuark detail = field != NULL ? g_quark_try_string (field) : 0;

  g_signal_emit (self, signals[CHANGED], detail, field);

  if (self->collection != NULL)
    tether_collection_record_changed (self->collection, self, field, detail);
}

static void
set_sync_state_internal (TetherRecord    *self,
                         TetherSyncState  state)
{
  TetherSyncState old_state = self->sync_state;

  if (old_state == state)
    return;

  self->sync_state = state;
  bookkeeping_changed (self);

  if (self->collection != NULL)
    tether_collection_record_state_changed (self->collection, self, old_state);

  g_object_notify_by_pspec (G_OBJECT (self), properties[PROP_SYNC_STATE]);
}

/* Before an attribute changes: the old title must be known to tell whether
 * the edit changes it. */
static void
begin_edit (TetherRecord *self)
{
  ensure_parsed (self);
  ensure_title (self);
}

/* After the attributes (or, from the server, the state) of a parsed record
 * changed. Everything is stored before anybody hears of it, so that each
 * handler sees the whole change: the new state, revision and title are
 * there for changed::FIELD handlers, the new attributes for notify ones.
 * A local edit bumps the revision, sets the modified time and the state. */
static void
finish_edit (TetherRecord    *self,
             GPtrArray       *fields,
             gboolean         local_edit,
             TetherSyncState  old_state,
             gboolean         bulk)
{
  gboolean title_changed;

  /* A handler may drop the last other reference. */
  g_object_ref (self);

  if (local_edit)
    {
      drop_line (self);

      /* The store writes the revision as a JSON integer, which this
       * code reads as a signed 64-bit value: it stops there rather than
       * write one it could not read back. */
      if (self->revision < G_MAXINT64)
        self->revision++;
      self->modified = g_get_real_time ();
      g_clear_pointer (&self->modified_dt, g_date_time_unref);

      if (self->sync_state != TETHER_SYNC_STATE_DELETED &&
          self->sync_state != TETHER_SYNC_STATE_CONFLICT)
        self->sync_state = TETHER_SYNC_STATE_PENDING;
    }

  title_changed = refresh_title (self);

  if (self->sync_state != old_state)
    {
      if (self->collection != NULL)
        tether_collection_record_state_changed (self->collection, self, old_state);
      g_object_notify_by_pspec (G_OBJECT (self), properties[PROP_SYNC_STATE]);
    }

  if (local_edit)
    {
      g_object_notify_by_pspec (G_OBJECT (self), properties[PROP_REVISION]);
      g_object_notify_by_pspec (G_OBJECT (self), properties[PROP_MODIFIED]);
    }

  if (title_changed)
    g_object_notify_by_pspec (G_OBJECT (self), properties[PROP_TITLE]);

  for (guint i = 0; i < fields->len; i++)
    emit_changed (self, g_ptr_array_index (fields, i));

  if (bulk && fields->len > 0)
    emit_changed (self, NULL);

  g_object_unref (self);
}

static void
finish_single_edit (TetherRecord *self,
                    const char   *name)
{
  g_autoptr(GPtrArray) fields = g_ptr_array_new_with_free_func (g_free);

  g_ptr_array_add (fields, g_strdup (name));
  finish_edit (self, fields, TRUE, self->sync_state, FALSE);
}

/* GObject */

static void
tether_record_finalize (GObject *object)
{
  TetherRecord *self = (TetherRecord *)object;

  g_clear_pointer (&self->buffer, g_bytes_unref);
  g_clear_pointer (&self->attributes, json_object_unref);
  g_clear_pointer (&self->base, json_object_unref);
  g_clear_pointer (&self->conflict, json_object_unref);
  g_clear_pointer (&self->sent, json_object_unref);
  g_clear_pointer (&self->title, g_free);
  g_clear_pointer (&self->error_message, g_free);
  g_clear_pointer (&self->etag, g_free);
  g_clear_pointer (&self->id_node, json_node_unref);
  g_clear_pointer (&self->modified_dt, g_date_time_unref);
  g_clear_pointer (&self->id.string, g_free);

  if (self->cid != self->cid_inline)
    g_free (self->cid);

  G_OBJECT_CLASS (tether_record_parent_class)->finalize (object);
}

static void
tether_record_get_property (GObject    *object,
                            guint       prop_id,
                            GValue     *value,
                            GParamSpec *pspec)
{
  TetherRecord *self = TETHER_RECORD (object);

  switch (prop_id)
    {
    case PROP_CID:
      g_value_set_string (value, tether_record_get_cid (self));
      break;

    case PROP_ID:
      g_value_set_boxed (value, tether_record_get_id (self));
      break;

    case PROP_TITLE:
      g_value_set_string (value, tether_record_get_title (self));
      break;

    case PROP_TITLE_FIELD:
      g_value_set_string (value, tether_record_get_title_field (self));
      break;

    case PROP_SYNC_STATE:
      g_value_set_enum (value, tether_record_get_sync_state (self));
      break;

    case PROP_ERROR_MESSAGE:
      g_value_set_string (value, tether_record_get_error_message (self));
      break;

    case PROP_MODIFIED:
      g_value_set_boxed (value, tether_record_get_modified (self));
      break;

    case PROP_REVISION:
      g_value_set_uint64 (value, tether_record_get_revision (self));
      break;

    case PROP_ETAG:
      g_value_set_string (value, tether_record_get_etag (self));
      break;

    case PROP_CONFLICT:
      g_value_set_boxed (value, tether_record_get_conflict (self));
      break;

    default:
      G_OBJECT_WARN_INVALID_PROPERTY_ID (object, prop_id, pspec);
    }
}

static void
tether_record_set_property (GObject      *object,
                            guint         prop_id,
                            const GValue *value,
                            GParamSpec   *pspec)
{
  TetherRecord *self = TETHER_RECORD (object);
  const char *str;

  switch (prop_id)
    {
    case PROP_CID:
      /* Without one, tether_record_get_cid() makes one when first asked:
       * records read from a line set theirs right after construction, and
       * should not pay for a random UUID first. */
      str = g_value_get_string (value);
      if (str != NULL && *str != '\0')
        set_cid (self, str, strlen (str));
      break;

    case PROP_ID:
      tether_record_set_id (self, g_value_get_boxed (value));
      break;

    case PROP_TITLE_FIELD:
      tether_record_set_title_field (self, g_value_get_string (value));
      break;

    case PROP_SYNC_STATE:
      tether_record_set_sync_state (self, g_value_get_enum (value));
      break;

    case PROP_ERROR_MESSAGE:
      tether_record_set_error_message (self, g_value_get_string (value));
      break;

    case PROP_ETAG:
      tether_record_set_etag (self, g_value_get_string (value));
      break;

    case PROP_CONFLICT:
      tether_record_set_conflict (self, g_value_get_boxed (value));
      break;

    default:
      G_OBJECT_WARN_INVALID_PROPERTY_ID (object, prop_id, pspec);
    }
}

static void
tether_record_class_init (TetherRecordClass *klass)
{
  GObjectClass *object_class = G_OBJECT_CLASS (klass);

  object_class->finalize = tether_record_finalize;
  object_class->get_property = tether_record_get_property;
  object_class->set_property = tether_record_set_property;

  /**
   * TetherRecord:cid:
   *
   * The client id, a UUID made locally; never changes.
   */
  properties[PROP_CID] =
    g_param_spec_string ("cid", NULL, NULL,
                         NULL,
                         (G_PARAM_READWRITE |
                          G_PARAM_CONSTRUCT_ONLY |
                          G_PARAM_STATIC_STRINGS));

  /**
   * TetherRecord:id:
   *
   * The server id: a #JsonNode holding an integer or a string, or %NULL
   * while the server has not assigned one.
   */
  properties[PROP_ID] =
    g_param_spec_boxed ("id", NULL, NULL,
                        JSON_TYPE_NODE,
                        (G_PARAM_READWRITE |
                         G_PARAM_EXPLICIT_NOTIFY |
                         G_PARAM_STATIC_STRINGS));

  /**
   * TetherRecord:title:
   *
   * What the record is called: the first non-empty string among the
   * attributes named by #TetherRecord:title-field, "title" and "name",
   * else the first non-empty string attribute, else "".
   */
  properties[PROP_TITLE] =
    g_param_spec_string ("title", NULL, NULL,
                         NULL,
                         (G_PARAM_READABLE |
                          G_PARAM_EXPLICIT_NOTIFY |
                          G_PARAM_STATIC_STRINGS));

  properties[PROP_TITLE_FIELD] =
    g_param_spec_string ("title-field", NULL, NULL,
                         NULL,
                         (G_PARAM_READWRITE |
                          G_PARAM_EXPLICIT_NOTIFY |
                          G_PARAM_STATIC_STRINGS));

  properties[PROP_SYNC_STATE] =
    g_param_spec_enum ("sync-state", NULL, NULL,
                       TETHER_TYPE_SYNC_STATE,
                       TETHER_SYNC_STATE_PENDING,
                       (G_PARAM_READWRITE |
                        G_PARAM_EXPLICIT_NOTIFY |
                        G_PARAM_STATIC_STRINGS));

  properties[PROP_ERROR_MESSAGE] =
    g_param_spec_string ("error-message", NULL, NULL,
                         NULL,
                         (G_PARAM_READWRITE |
                          G_PARAM_EXPLICIT_NOTIFY |
                          G_PARAM_STATIC_STRINGS));

  /**
   * TetherRecord:modified:
   *
   * When the record was last changed locally (UTC), or %NULL for a record
   * as it came from the server.
   */
  properties[PROP_MODIFIED] =
    g_param_spec_boxed ("modified", NULL, NULL,
                        G_TYPE_DATE_TIME,
                        (G_PARAM_READABLE |
                         G_PARAM_EXPLICIT_NOTIFY |
                         G_PARAM_STATIC_STRINGS));

  properties[PROP_REVISION] =
    g_param_spec_uint64 ("revision", NULL, NULL,
                         0, G_MAXUINT64, 0,
                         (G_PARAM_READABLE |
                          G_PARAM_EXPLICIT_NOTIFY |
                          G_PARAM_STATIC_STRINGS));

  properties[PROP_ETAG] =
    g_param_spec_string ("etag", NULL, NULL,
                         NULL,
                         (G_PARAM_READWRITE |
                          G_PARAM_EXPLICIT_NOTIFY |
                          G_PARAM_STATIC_STRINGS));

  /**
   * TetherRecord:conflict:
   *
   * The conflict data (see tether_record_get_conflict()), or %NULL. Set
   * apart from the sync state, so that a view showing the conflict follows
   * each field settled while the record stays in conflict.
   */
  properties[PROP_CONFLICT] =
    g_param_spec_boxed ("conflict", NULL, NULL,
                        JSON_TYPE_OBJECT,
                        (G_PARAM_READWRITE |
                         G_PARAM_EXPLICIT_NOTIFY |
                         G_PARAM_STATIC_STRINGS));

  g_object_class_install_properties (object_class, N_PROPS, properties);

  /**
   * TetherRecord::changed:
   * @self: the record
   * @field: (nullable): the attribute that changed, or %NULL at the end of
   *   a bulk change
   *
   * Emitted after an attribute changed, with the attribute's name as
   * detail. A bulk change (tether_record_update(),
   * tether_record_apply_server()) emits it for each changed attribute,
   * then once with %NULL and no detail.
   */
  signals[CHANGED] =
    g_signal_new ("changed",
                  G_TYPE_FROM_CLASS (klass),
                  G_SIGNAL_RUN_LAST | G_SIGNAL_DETAILED,
                  0,
                  NULL, NULL,
                  g_cclosure_marshal_VOID__STRING,
                  G_TYPE_NONE, 1, G_TYPE_STRING | G_SIGNAL_TYPE_STATIC_SCOPE);
  g_signal_set_va_marshaller (signals[CHANGED],
                              G_TYPE_FROM_CLASS (klass),
                              g_cclosure_marshal_VOID__STRINGv);
}

static void
tether_record_init (TetherRecord *self)
{
  self->sync_state = TETHER_SYNC_STATE_PENDING;
  self->modified = NO_MODIFIED;
}

/* Constructors */

/**
 * tether_record_new:
 *
 * Returns: (transfer full): a new local record: a fresh cid, no server id,
 *   empty attributes, pending, modified now
 */
TetherRecord *
tether_record_new (void)
{
  TetherRecord *self = g_object_new (TETHER_TYPE_RECORD, NULL);

  tether_record_get_cid (self);
  self->attributes = json_object_new ();
  self->modified = g_get_real_time ();

  return self;
}

static gboolean
line_error (GError     **error,
            const char  *message)
{
  g_set_error (error, TETHER_RECORD_ERROR, TETHER_RECORD_ERROR_INVALID,
               "Invalid record: %s", message);
  return FALSE;
}

static gboolean
load_bookkeeping (TetherRecord  *self,
                  LineMembers   *members,
                  GError       **error)
{
  const TetherJsonValue *v;
  guint i;

  v = &members->values[LINE_CID];
  if ((members->seen & (1u << LINE_CID)) == 0 || v->kind != TETHER_JSON_STRING || v->length == 2)
    return line_error (error, "no “cid”");

  if (!v->escaped)
    {
      set_cid (self, v->start + 1, v->length - 2);
    }
  else
    {
      g_autofree char *cid = tether_json_value_dup_string (v);

      set_cid (self, cid, strlen (cid));
    }

  if (members->seen & (1u << LINE_ID))
    {
      v = &members->values[LINE_ID];
      if (v->kind == TETHER_JSON_INTEGER)
        {
          self->id.kind = TETHER_RECORD_ID_INTEGER;
          self->id.integer = tether_json_value_get_int (v);
        }
      else if (v->kind == TETHER_JSON_STRING && v->length > 2)
        {
          self->id.kind = TETHER_RECORD_ID_STRING;
          self->id.string = tether_json_value_dup_string (v);
        }
      else if (v->kind != TETHER_JSON_NULL)
        {
          return line_error (error, "“id” is not an integer, a non-empty string or null");
        }
    }

  if (members->seen & (1u << LINE_STATE))
    {
      v = &members->values[LINE_STATE];
      for (i = 0; i <= TETHER_SYNC_STATE_DELETED; i++)
        if (v->kind == TETHER_JSON_STRING &&
            tether_json_value_equal_string (v, tether_sync_state_to_string (i)))
          break;

      if (i > TETHER_SYNC_STATE_DELETED)
        return line_error (error, "“state” is not a known state");

      self->sync_state = i;
    }

  if (members->seen & (1u << LINE_REV))
    {
      v = &members->values[LINE_REV];
      if (v->kind != TETHER_JSON_INTEGER || tether_json_value_get_int (v) < 0)
        return line_error (error, "“rev” is not a non-negative integer");

      self->revision = (guint64) tether_json_value_get_int (v);
    }

  if (members->seen & (1u << LINE_MODIFIED))
    {
      v = &members->values[LINE_MODIFIED];
      if (v->kind == TETHER_JSON_STRING)
        {
          if (!parse_modified (v, &self->modified))
            return line_error (error, "“modified” is not an ISO 8601 date and time");
        }
      else if (v->kind != TETHER_JSON_NULL)
        {
          return line_error (error, "“modified” is not a string or null");
        }
    }

  if (members->seen & (1u << LINE_ETAG))
    {
      v = &members->values[LINE_ETAG];
      if (v->kind == TETHER_JSON_STRING)
        self->etag = tether_json_value_dup_string (v);
      else if (v->kind != TETHER_JSON_NULL)
        return line_error (error, "“etag” is not a string or null");
    }

  if (members->seen & (1u << LINE_ERROR))
    {
      v = &members->values[LINE_ERROR];
      if (v->kind == TETHER_JSON_STRING)
        self->error_message = tether_json_value_dup_string (v);
      else if (v->kind != TETHER_JSON_NULL)
        return line_error (error, "“error” is not a string or null");
    }

  if ((members->seen & (1u << LINE_ATTRIBUTES)) &&
      members->values[LINE_ATTRIBUTES].kind != TETHER_JSON_OBJECT)
    return line_error (error, "“attributes” is not an object");

  if ((members->seen & (1u << LINE_BASE)) &&
      members->values[LINE_BASE].kind != TETHER_JSON_OBJECT &&
      members->values[LINE_BASE].kind != TETHER_JSON_NULL)
    return line_error (error, "“base” is not an object or null");

  if ((members->seen & (1u << LINE_CONFLICT)) &&
      members->values[LINE_CONFLICT].kind != TETHER_JSON_OBJECT &&
      members->values[LINE_CONFLICT].kind != TETHER_JSON_NULL)
    return line_error (error, "“conflict” is not an object or null");

  if ((members->seen & (1u << LINE_SENT)) &&
      members->values[LINE_SENT].kind != TETHER_JSON_OBJECT &&
      members->values[LINE_SENT].kind != TETHER_JSON_NULL)
    return line_error (error, "“sent” is not an object or null");

  return TRUE;
}

/**
 * tether_record_new_from_buffer:
 * @buffer: bytes holding the line, for instance a whole store file
 * @offset: where the line starts in @buffer
 * @length: the length of the line, without its newline
 * @error: return location for a #TETHER_RECORD_ERROR_INVALID error
 *
 * Makes a record from one line as tether_record_serialize() writes it. The
 * whole line is checked to be one valid JSON object, but only the
 * bookkeeping members are read; the attributes are parsed when first
 * needed. The record keeps a reference on @buffer until then.
 *
 * Members this version does not know are ignored; they are written back
 * only as long as the record is not changed.
 *
 * Returns: (transfer full): the record, or %NULL with @error set
 */
TetherRecord *
tether_record_new_from_buffer (GBytes  *buffer,
                               gsize    offset,
                               gsize    length,
                               GError **error)
{
  g_autoptr(TetherRecord) self = NULL;
  g_autoptr(GError) scan_error = NULL;
  LineMembers members = { 0 };
  const char *data;
  gsize size;

  g_return_val_if_fail (buffer != NULL, NULL);
  g_return_val_if_fail (error == NULL || *error == NULL, NULL);

  data = g_bytes_get_data (buffer, &size);
  g_return_val_if_fail (offset <= size && length <= size - offset, NULL);

  /* An empty GBytes has no data pointer at all. */
  if (data == NULL)
    data = "";

  if (!tether_json_scan_object (data + offset, length, line_member_cb, &members, &scan_error))
    {
      line_error (error, scan_error->message);
      return NULL;
    }

  self = g_object_new (TETHER_TYPE_RECORD, NULL);

  if (!load_bookkeeping (self, &members, error))
    return NULL;

  self->buffer = g_bytes_ref (buffer);
  self->line_offset = offset;
  self->line_length = length;
  self->line_pristine = TRUE;

  return g_steal_pointer (&self);
}

/**
 * tether_record_new_from_line:
 * @line: one line as tether_record_serialize() writes it
 * @error: return location for a #TETHER_RECORD_ERROR_INVALID error
 *
 * Like tether_record_new_from_buffer() on the whole of @line. A slice of a
 * larger buffer (g_bytes_new_from_bytes()) is fine.
 *
 * Returns: (transfer full): the record, or %NULL with @error set
 */
TetherRecord *
tether_record_new_from_line (GBytes  *line,
                             GError **error)
{
  g_return_val_if_fail (line != NULL, NULL);

  return tether_record_new_from_buffer (line, 0, g_bytes_get_size (line), error);
}

/**
 * tether_record_new_from_server:
 * @id: (nullable): the server id, an integer or a non-empty string
 * @attributes: (nullable): the record as the server sent it, without the
 *   id member (it is not removed here: the id field's name is a setting)
 *
 * Returns: (transfer full): a synced record whose attributes and base are
 *   copies of @attributes. Its modified time is unset: it was not changed
 *   here.
 */
TetherRecord *
tether_record_new_from_server (JsonNode   *id,
                               JsonObject *attributes)
{
  TetherRecord *self;

  g_return_val_if_fail (id == NULL || tether_record_id_is_valid (id), NULL);

  self = g_object_new (TETHER_TYPE_RECORD, NULL);
  tether_record_get_cid (self);

  record_id_init_from_node (&self->id, id);
  self->id.string = g_strdup (self->id.string);

  self->attributes = attributes != NULL ? deep_copy_object (attributes) : json_object_new ();
  self->base = deep_copy_object (self->attributes);
  self->sync_state = TETHER_SYNC_STATE_SYNCED;

  return self;
}

/* Properties */

const char *
tether_record_get_cid (TetherRecord *self)
{
  g_return_val_if_fail (TETHER_IS_RECORD (self), NULL);

  if (G_UNLIKELY (self->cid == NULL))
    {
      g_autofree char *uuid = g_uuid_string_random ();

      set_cid (self, uuid, strlen (uuid));
    }

  return self->cid;
}

/**
 * tether_record_get_id:
 *
 * Returns: (transfer none) (nullable): the server id
 */
JsonNode *
tether_record_get_id (TetherRecord *self)
{
  g_return_val_if_fail (TETHER_IS_RECORD (self), NULL);

  if (self->id.kind == TETHER_RECORD_ID_NONE)
    return NULL;

  /* Kept compact until asked for: the collection's index does not need a
   * JsonNode per record. */
  if (self->id_node == NULL)
    {
      if (self->id.kind == TETHER_RECORD_ID_INTEGER)
        self->id_node = json_node_init_int (json_node_alloc (), self->id.integer);
      else
        self->id_node = json_node_init_string (json_node_alloc (), self->id.string);
    }

  return self->id_node;
}

/**
 * tether_record_set_id:
 * @id: (nullable): an integer or non-empty string node, or %NULL
 *
 * Sets the server id (not a local edit: the revision stays). The
 * collection holding the record re-indexes it before notify::id.
 */
void
tether_record_set_id (TetherRecord *self,
                      JsonNode     *id)
{
  TetherRecordId new_id;

  g_return_if_fail (TETHER_IS_RECORD (self));
  g_return_if_fail (id == NULL || tether_record_id_is_valid (id));

  record_id_init_from_node (&new_id, id);
  if (tether_record_id_equal (&self->id, &new_id))
    return;

  if (self->collection != NULL)
    tether_collection_record_id_changing (self->collection, self);

  g_free (self->id.string);
  self->id = new_id;
  self->id.string = g_strdup (new_id.string);
  g_clear_pointer (&self->id_node, json_node_unref);
  bookkeeping_changed (self);

  if (self->collection != NULL)
    tether_collection_record_id_changed (self->collection, self);

  g_object_notify_by_pspec (G_OBJECT (self), properties[PROP_ID]);
}

char *
tether_record_dup_id_string (TetherRecord *self)
{
  g_return_val_if_fail (TETHER_IS_RECORD (self), NULL);

  switch (self->id.kind)
    {
    case TETHER_RECORD_ID_INTEGER:
      return g_strdup_printf ("%" G_GINT64_FORMAT, self->id.integer);

    case TETHER_RECORD_ID_STRING:
      return g_strdup (self->id.string);

    case TETHER_RECORD_ID_NONE:
    default:
      return NULL;
    }
}

/**
 * tether_record_get_title:
 *
 * See #TetherRecord:title. Records not parsed yet find it without being
 * parsed. notify::title is emitted when the title changes after it was
 * computed once.
 *
 * Returns: (transfer none) (not nullable): the title, "" when there is none
 */
const char *
tether_record_get_title (TetherRecord *self)
{
  g_return_val_if_fail (TETHER_IS_RECORD (self), NULL);

  ensure_title (self);

  return self->title;
}

const char *
tether_record_get_title_field (TetherRecord *self)
{
  g_return_val_if_fail (TETHER_IS_RECORD (self), NULL);

  return self->title_field;
}

void
tether_record_set_title_field (TetherRecord *self,
                               const char   *title_field)
{
  const char *interned;

  g_return_if_fail (TETHER_IS_RECORD (self));

  /* Interned: a collection sets the same field on every record. */
  interned = g_intern_string (title_field);
  if (self->title_field == interned)
    return;

  self->title_field = interned;

  g_object_notify_by_pspec (G_OBJECT (self), properties[PROP_TITLE_FIELD]);
  update_title (self);
}

TetherSyncState
tether_record_get_sync_state (TetherRecord *self)
{
  g_return_val_if_fail (TETHER_IS_RECORD (self), TETHER_SYNC_STATE_SYNCED);

  return self->sync_state;
}

void
tether_record_set_sync_state (TetherRecord    *self,
                              TetherSyncState  state)
{
  g_return_if_fail (TETHER_IS_RECORD (self));
  g_return_if_fail (state <= TETHER_SYNC_STATE_DELETED);

  set_sync_state_internal (self, state);
}

const char *
tether_record_get_error_message (TetherRecord *self)
{
  g_return_val_if_fail (TETHER_IS_RECORD (self), NULL);

  return self->error_message;
}

void
tether_record_set_error_message (TetherRecord *self,
                                 const char   *message)
{
  g_return_if_fail (TETHER_IS_RECORD (self));

  if (g_strcmp0 (self->error_message, message) == 0)
    return;

  g_free (self->error_message);
  self->error_message = g_strdup (message);
  bookkeeping_changed (self);

  g_object_notify_by_pspec (G_OBJECT (self), properties[PROP_ERROR_MESSAGE]);
}

/**
 * tether_record_get_modified:
 *
 * Returns: (transfer none) (nullable): when the record was last changed
 *   locally, in UTC
 */
GDateTime *
tether_record_get_modified (TetherRecord *self)
{
  g_return_val_if_fail (TETHER_IS_RECORD (self), NULL);

  if (self->modified == NO_MODIFIED)
    return NULL;

  if (self->modified_dt == NULL)
    {
      /* g_date_time_new_from_unix_utc_usec() is GLib 2.80. */
      gint64 secs = floor_div (self->modified, G_USEC_PER_SEC);
      g_autoptr(GDateTime) whole = g_date_time_new_from_unix_utc (secs);

      self->modified_dt = g_date_time_add (whole, self->modified - secs * G_USEC_PER_SEC);
    }

  return self->modified_dt;
}

guint64
tether_record_get_revision (TetherRecord *self)
{
  g_return_val_if_fail (TETHER_IS_RECORD (self), 0);

  return self->revision;
}

const char *
tether_record_get_etag (TetherRecord *self)
{
  g_return_val_if_fail (TETHER_IS_RECORD (self), NULL);

  return self->etag;
}

void
tether_record_set_etag (TetherRecord *self,
                        const char   *etag)
{
  g_return_if_fail (TETHER_IS_RECORD (self));

  if (g_strcmp0 (self->etag, etag) == 0)
    return;

  g_free (self->etag);
  self->etag = g_strdup (etag);
  bookkeeping_changed (self);

  g_object_notify_by_pspec (G_OBJECT (self), properties[PROP_ETAG]);
}

/* Attributes */

/**
 * tether_record_get_attributes:
 *
 * Returns: (transfer none): the attributes; change them only through the
 *   setters, which keep the signals, revision and store right
 */
JsonObject *
tether_record_get_attributes (TetherRecord *self)
{
  g_return_val_if_fail (TETHER_IS_RECORD (self), NULL);

  ensure_parsed (self);

  return self->attributes;
}

/**
 * tether_record_get_attribute:
 *
 * Returns: (transfer none) (nullable): the attribute's value, or %NULL
 *   when there is no such attribute
 */
JsonNode *
tether_record_get_attribute (TetherRecord *self,
                             const char   *name)
{
  g_return_val_if_fail (TETHER_IS_RECORD (self), NULL);
  g_return_val_if_fail (name != NULL, NULL);

  ensure_parsed (self);

  return json_object_get_member (self->attributes, name);
}

gboolean
tether_record_has_attribute (TetherRecord *self,
                             const char   *name)
{
  g_return_val_if_fail (TETHER_IS_RECORD (self), FALSE);
  g_return_val_if_fail (name != NULL, FALSE);

  ensure_parsed (self);

  return json_object_has_member (self->attributes, name);
}

/**
 * tether_record_set_attribute:
 * @name: the attribute, valid UTF-8
 * @value: (nullable): the new value, copied; %NULL stores JSON null
 *
 * A user edit. Nothing happens when the attribute already holds an equal
 * value (json_node_equal()).
 */
void
tether_record_set_attribute (TetherRecord *self,
                             const char   *name,
                             JsonNode     *value)
{
  JsonNode *old;

  g_return_if_fail (TETHER_IS_RECORD (self));
  g_return_if_fail (name != NULL && g_utf8_validate (name, -1, NULL));

  begin_edit (self);

  old = json_object_get_member (self->attributes, name);
  if (old != NULL &&
      (value == NULL ? JSON_NODE_HOLDS_NULL (old) : json_node_equal (old, value)))
    return;

  json_object_set_member (self->attributes, name,
                          value != NULL ? deep_copy_node (value) : json_node_new (JSON_NODE_NULL));

  finish_single_edit (self, name);
}

/**
 * tether_record_set_string:
 * @value: (nullable): the new value; %NULL stores JSON null
 */
void
tether_record_set_string (TetherRecord *self,
                          const char   *name,
                          const char   *value)
{
  g_autoptr(JsonNode) node = NULL;

  g_return_if_fail (TETHER_IS_RECORD (self));
  g_return_if_fail (name != NULL);

  if (value != NULL)
    node = json_node_init_string (json_node_alloc (), value);

  tether_record_set_attribute (self, name, node);
}

void
tether_record_unset_attribute (TetherRecord *self,
                               const char   *name)
{
  g_return_if_fail (TETHER_IS_RECORD (self));
  g_return_if_fail (name != NULL);

  begin_edit (self);

  if (!json_object_has_member (self->attributes, name))
    return;

  json_object_remove_member (self->attributes, name);

  finish_single_edit (self, name);
}

void
tether_record_update (TetherRecord *self,
                      JsonObject   *changes)
{
  g_autoptr(GPtrArray) fields = NULL;
  JsonObjectIter iter;
  const char *name;
  JsonNode *value;

  g_return_if_fail (TETHER_IS_RECORD (self));
  g_return_if_fail (changes != NULL);

  begin_edit (self);

  if (changes == self->attributes)
    return;

  fields = g_ptr_array_new_with_free_func (g_free);

  json_object_iter_init_ordered (&iter, changes);
  while (json_object_iter_next_ordered (&iter, &name, &value))
    {
      JsonNode *old = json_object_get_member (self->attributes, name);

      if (old != NULL && json_node_equal (old, value))
        continue;

      json_object_set_member (self->attributes, name, deep_copy_node (value));
      g_ptr_array_add (fields, g_strdup (name));
    }

  if (fields->len == 0)
    return;

  finish_edit (self, fields, TRUE, self->sync_state, TRUE);
}

/**
 * tether_record_foreach:
 * @func: (scope call): called for each attribute, in order
 *
 * @func must not change the record.
 */
void
tether_record_foreach (TetherRecord      *self,
                       JsonObjectForeach  func,
                       gpointer           user_data)
{
  g_return_if_fail (TETHER_IS_RECORD (self));
  g_return_if_fail (func != NULL);

  ensure_parsed (self);

  json_object_foreach_member (self->attributes, func, user_data);
}

static void
append_scanned_text_cb (const TetherJsonValue *value,
                        gpointer               user_data)
{
  GString *text = user_data;

  if (value->escaped)
    {
      g_autofree char *unescaped = tether_json_value_dup_string (value);

      g_string_append (text, unescaped);
    }
  else
    {
      /* Between the quotes, as it is. */
      g_string_append_len (text, value->start + 1, value->length - 2);
    }

  g_string_append_c (text, '\n');
}

static void append_node_text (GString  *text,
                              JsonNode *node);

static void
append_member_text_cb (JsonObject *object,
                       const char *name,
                       JsonNode   *node,
                       gpointer    user_data)
{
  append_node_text (user_data, node);
}

static void
append_element_text_cb (JsonArray *array,
                        guint      index,
                        JsonNode  *node,
                        gpointer   user_data)
{
  append_node_text (user_data, node);
}

static void
append_node_text (GString  *text,
                  JsonNode *node)
{
  if (JSON_NODE_HOLDS_OBJECT (node))
    json_object_foreach_member (json_node_get_object (node), append_member_text_cb, text);
  else if (JSON_NODE_HOLDS_ARRAY (node))
    json_array_foreach_element (json_node_get_array (node), append_element_text_cb, text);
  else if (JSON_NODE_HOLDS_VALUE (node) && json_node_get_value_type (node) == G_TYPE_STRING)
    {
      g_string_append (text, json_node_get_string (node));
      g_string_append_c (text, '\n');
    }
}

/**
 * tether_record_dup_text:
 *
 * Every string value of the attributes, at any depth, each followed by
 * "\n", in document order. A record not parsed yet is scanned in its stored
 * text instead, so that searching a large collection does not parse (and
 * keep in memory) every record it looks at.
 *
 * Returns: (transfer full): the text, possibly empty
 */
char *
tether_record_dup_text (TetherRecord *self)
{
  GString *text;

  g_return_val_if_fail (TETHER_IS_RECORD (self), NULL);

  text = g_string_new (NULL);

  if (is_lazy (self))
    {
      LineMembers members;

      if (scan_line (self, &members) && (members.seen & (1u << LINE_ATTRIBUTES)))
        tether_json_scan_strings (members.values[LINE_ATTRIBUTES].start,
                                  members.values[LINE_ATTRIBUTES].length,
                                  append_scanned_text_cb, text, NULL);
    }
  else if (self->attributes != NULL)
    {
      json_object_foreach_member (self->attributes, append_member_text_cb, text);
    }

  return g_string_free (text, FALSE);
}

/**
 * tether_record_to_json:
 *
 * Returns: (transfer full): a deep copy of the attributes
 */
JsonObject *
tether_record_to_json (TetherRecord *self)
{
  g_return_val_if_fail (TETHER_IS_RECORD (self), NULL);

  ensure_parsed (self);

  return deep_copy_object (self->attributes);
}

/**
 * tether_record_get_base:
 *
 * Returns: (transfer none) (nullable): the last version the server confirmed
 */
JsonObject *
tether_record_get_base (TetherRecord *self)
{
  g_return_val_if_fail (TETHER_IS_RECORD (self), NULL);

  ensure_parsed (self);

  return self->base;
}

/**
 * tether_record_diff_from_base:
 * @removed: (out) (optional) (transfer full) (element-type utf8): the names
 *   of attributes the base has and the record does not, in base order
 *
 * With no base, every attribute counts as changed and nothing as removed.
 *
 * Returns: (transfer full): the attributes added or changed since the base,
 *   with their current values
 */
JsonObject *
tether_record_diff_from_base (TetherRecord  *self,
                              GPtrArray    **removed)
{
  JsonObject *diff;
  JsonObjectIter iter;
  const char *name;
  JsonNode *value;

  g_return_val_if_fail (TETHER_IS_RECORD (self), NULL);

  ensure_parsed (self);

  if (removed != NULL)
    *removed = g_ptr_array_new_with_free_func (g_free);

  if (self->base == NULL)
    return deep_copy_object (self->attributes);

  diff = json_object_new ();

  json_object_iter_init_ordered (&iter, self->attributes);
  while (json_object_iter_next_ordered (&iter, &name, &value))
    {
      JsonNode *old = json_object_get_member (self->base, name);

      if (old == NULL || !json_node_equal (old, value))
        json_object_set_member (diff, name, deep_copy_node (value));
    }

  if (removed != NULL)
    {
      json_object_iter_init_ordered (&iter, self->base);
      while (json_object_iter_next_ordered (&iter, &name, &value))
        if (!json_object_has_member (self->attributes, name))
          g_ptr_array_add (*removed, g_strdup (name));
    }

  return diff;
}

/**
 * tether_record_apply_server:
 * @attributes: the attributes to take, copied
 * @base: (nullable): the new base, copied (it may be @attributes)
 * @state: the new sync state
 *
 * Not a local edit: the revision and modified time stay. The conflict data
 * is left as it is; the sync sets it. Emits changed::FIELD for each
 * attribute that differs (added, changed or removed), then one changed
 * without detail, and nothing if no attribute differs (a change of the
 * base alone only shows in the serialized record).
 */
void
tether_record_apply_server (TetherRecord    *self,
                            JsonObject      *attributes,
                            JsonObject      *base,
                            TetherSyncState  state)
{
  g_autoptr(GPtrArray) fields = NULL;
  TetherSyncState old_state;
  JsonObjectIter iter;
  const char *name;
  JsonNode *value;

  g_return_if_fail (TETHER_IS_RECORD (self));
  g_return_if_fail (attributes != NULL);
  g_return_if_fail (state <= TETHER_SYNC_STATE_DELETED);

  begin_edit (self);

  fields = g_ptr_array_new_with_free_func (g_free);

  json_object_iter_init_ordered (&iter, attributes);
  while (json_object_iter_next_ordered (&iter, &name, &value))
    {
      JsonNode *old = json_object_get_member (self->attributes, name);

      if (old == NULL || !json_node_equal (old, value))
        g_ptr_array_add (fields, g_strdup (name));
    }

  json_object_iter_init_ordered (&iter, self->attributes);
  while (json_object_iter_next_ordered (&iter, &name, &value))
    if (!json_object_has_member (attributes, name))
      g_ptr_array_add (fields, g_strdup (name));

  /* The server's version is known again: an update in flight is settled. */
  if (self->sent != NULL)
    {
      g_clear_pointer (&self->sent, json_object_unref);
      drop_line (self);
    }

  /* Copy before letting go of the old objects: @base may be one of them. */
  if (!objects_equal (self->base, base))
    {
      JsonObject *new_base = base != NULL ? deep_copy_object (base) : NULL;

      g_clear_pointer (&self->base, json_object_unref);
      self->base = new_base;
      drop_line (self);
    }

  if (fields->len > 0)
    {
      JsonObject *new_attributes = deep_copy_object (attributes);

      json_object_unref (self->attributes);
      self->attributes = new_attributes;
      drop_line (self);
    }

  old_state = self->sync_state;
  if (state != old_state)
    {
      self->sync_state = state;
      bookkeeping_changed (self);
    }

  finish_edit (self, fields, FALSE, old_state, TRUE);
}

/**
 * tether_record_get_conflict:
 *
 * Returns: (transfer none) (nullable): the conflict data
 */
JsonObject *
tether_record_get_conflict (TetherRecord *self)
{
  g_return_val_if_fail (TETHER_IS_RECORD (self), NULL);

  ensure_parsed (self);

  return self->conflict;
}

/**
 * tether_record_set_conflict:
 * @conflict: (nullable): the conflict data, copied; %NULL clears it
 *
 * Does not change the sync state: resolving a conflict is clearing this
 * and setting the state the record should be in.
 */
void
tether_record_set_conflict (TetherRecord *self,
                            JsonObject   *conflict)
{
  JsonObject *copy;

  g_return_if_fail (TETHER_IS_RECORD (self));

  ensure_parsed (self);

  if (objects_equal (self->conflict, conflict))
    return;

  copy = conflict != NULL ? deep_copy_object (conflict) : NULL;
  g_clear_pointer (&self->conflict, json_object_unref);
  self->conflict = copy;
  drop_line (self);

  g_object_notify_by_pspec (G_OBJECT (self), properties[PROP_CONFLICT]);
}

/**
 * tether_record_get_sent:
 *
 * Returns: (transfer none) (nullable): the version the server holds if the
 *   update last sent was applied, while its outcome is not known
 */
JsonObject *
tether_record_get_sent (TetherRecord *self)
{
  g_return_val_if_fail (TETHER_IS_RECORD (self), NULL);

  ensure_parsed (self);

  return self->sent;
}

/**
 * tether_record_set_sent:
 * @sent: (nullable): the version the server will hold if the update about
 *   to be sent is applied, copied; %NULL clears it
 *
 * Not a local edit. tether_record_apply_server() clears it: the server's
 * version is then known.
 */
void
tether_record_set_sent (TetherRecord *self,
                        JsonObject   *sent)
{
  JsonObject *copy;

  g_return_if_fail (TETHER_IS_RECORD (self));

  ensure_parsed (self);

  if (objects_equal (self->sent, sent))
    return;

  copy = sent != NULL ? deep_copy_object (sent) : NULL;
  g_clear_pointer (&self->sent, json_object_unref);
  self->sent = copy;
  drop_line (self);
}

/* Serialization */

static void
write_bookkeeping (TetherRecord *self,
                   GString      *out)
{
  g_string_append (out, "{\"cid\":");
  write_string (out, tether_record_get_cid (self));

  g_string_append (out, ",\"id\":");
  switch (self->id.kind)
    {
    case TETHER_RECORD_ID_INTEGER:
      g_string_append_printf (out, "%" G_GINT64_FORMAT, self->id.integer);
      break;

    case TETHER_RECORD_ID_STRING:
      write_string (out, self->id.string);
      break;

    case TETHER_RECORD_ID_NONE:
    default:
      g_string_append (out, "null");
      break;
    }

  g_string_append (out, ",\"state\":\"");
  g_string_append (out, tether_sync_state_to_string (self->sync_state));
  g_string_append_printf (out, "\",\"rev\":%" G_GUINT64_FORMAT, self->revision);

  g_string_append (out, ",\"modified\":");
  if (self->modified != NO_MODIFIED)
    write_modified (out, self->modified);
  else
    g_string_append (out, "null");

  g_string_append (out, ",\"etag\":");
  if (self->etag != NULL)
    write_string (out, self->etag);
  else
    g_string_append (out, "null");

  g_string_append (out, ",\"error\":");
  if (self->error_message != NULL)
    write_string (out, self->error_message);
  else
    g_string_append (out, "null");
}

static void
write_line_span (GString          *out,
                 const char       *name,
                 const LineMembers *members,
                 LineMember        member,
                 const char       *fallback)
{
  g_string_append (out, name);

  if (members->seen & (1u << member))
    g_string_append_len (out, members->values[member].start, members->values[member].length);
  else
    g_string_append (out, fallback);
}

/**
 * tether_record_serialize:
 *
 * The line is, with no spaces and in this order:
 * {"cid":S,"id":I|S|null,"state":S,"rev":N,"modified":S|null,
 *  "etag":S|null,"error":S|null,"attributes":{…},"base":{…}|null,
 *  "conflict":{…}|null[,"sent":{…}]}
 * where "modified" is UTC with microseconds (2026-04-25T12:27:45.123456Z).
 * A record read from a line and not changed since gives that line back
 * without copying it.
 *
 * Returns: (transfer full): the line, without a newline
 */
GBytes *
tether_record_serialize (TetherRecord *self)
{
  GString *out;

  g_return_val_if_fail (TETHER_IS_RECORD (self), NULL);

  if (self->buffer != NULL && self->line_pristine)
    {
      if (self->line_offset == 0 && self->line_length == g_bytes_get_size (self->buffer))
        return g_bytes_ref (self->buffer);

      return g_bytes_new_from_bytes (self->buffer, self->line_offset, self->line_length);
    }

  if (is_lazy (self))
    {
      LineMembers members;

      /* Only the bookkeeping changed: copy the attributes, base and
       * conflict text as they are instead of parsing them. */
      out = g_string_sized_new (self->line_length + 64);
      write_bookkeeping (self, out);

      if (scan_line (self, &members))
        {
          write_line_span (out, ",\"attributes\":", &members, LINE_ATTRIBUTES, "{}");
          write_line_span (out, ",\"base\":", &members, LINE_BASE, "null");
          write_line_span (out, ",\"conflict\":", &members, LINE_CONFLICT, "null");
          if (members.seen & (1u << LINE_SENT))
            write_line_span (out, ",\"sent\":", &members, LINE_SENT, "null");
        }
      else
        {
          g_assert_not_reached ();
        }

      g_string_append_c (out, '}');

      return g_string_free_to_bytes (out);
    }

  ensure_parsed (self);

  out = g_string_sized_new (256);
  write_bookkeeping (self, out);

  g_string_append (out, ",\"attributes\":");
  write_object (out, self->attributes, 2);

  g_string_append (out, ",\"base\":");
  if (self->base != NULL)
    write_object (out, self->base, 2);
  else
    g_string_append (out, "null");

  g_string_append (out, ",\"conflict\":");
  if (self->conflict != NULL)
    write_object (out, self->conflict, 2);
  else
    g_string_append (out, "null");

  if (self->sent != NULL)
    {
      g_string_append (out, ",\"sent\":");
      write_object (out, self->sent, 2);
    }

  g_string_append_c (out, '}');

  return g_string_free_to_bytes (out);
}

/* Private API for TetherCollection */

const TetherRecordId *
tether_record_get_id_key (TetherRecord *self)
{
  g_return_val_if_fail (TETHER_IS_RECORD (self), NULL);

  return &self->id;
}

TetherCollection *
tether_record_get_collection (TetherRecord *self)
{
  g_return_val_if_fail (TETHER_IS_RECORD (self), NULL);

  return self->collection;
}

void
tether_record_set_collection (TetherRecord     *self,
                              TetherCollection *collection)
{
  g_return_if_fail (TETHER_IS_RECORD (self));
  g_return_if_fail (collection == NULL || self->collection == NULL);

  self->collection = collection;
}

gint64
tether_record_get_modified_usec (TetherRecord *self)
{
  g_return_val_if_fail (TETHER_IS_RECORD (self), NO_MODIFIED);

  return self->modified;
}

gboolean
tether_record_id_init_from_node (TetherRecordId *id,
                                 JsonNode       *node)
{
  g_return_val_if_fail (id != NULL, FALSE);

  return record_id_init_from_node (id, node);
}
