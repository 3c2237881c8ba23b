/* test-record.c
 *
 * Copyright 2026 The Tether authors
 *
 * SPDX-License-Identifier: GPL-3.0-or-later
 */

#include <math.h>
#include <string.h>

#include "tether-json-scan.h"
#include "tether-record.h"
#include "tether-test-util.h"

/* Signal log: every emission as a string, in order, so that tests can
 * check counts and order at once. */

typedef struct
{
  GPtrArray *events;
} Log;

static void
log_changed_cb (TetherRecord *record,
                const char   *field,
                Log          *log)
{
  g_ptr_array_add (log->events,
                   field != NULL ? g_strdup_printf ("changed:%s", field) : g_strdup ("changed"));
}

static void
log_notify_cb (GObject    *object,
               GParamSpec *pspec,
               Log        *log)
{
  g_ptr_array_add (log->events, g_strdup_printf ("notify:%s", pspec->name));
}

static Log *
log_new (TetherRecord *record)
{
  Log *log = g_new0 (Log, 1);

  log->events = g_ptr_array_new_with_free_func (g_free);
  g_signal_connect (record, "changed", G_CALLBACK (log_changed_cb), log);
  g_signal_connect (record, "notify", G_CALLBACK (log_notify_cb), log);

  return log;
}

/* The events since the last call, comma-separated. */
static char *
log_take (Log *log)
{
  GString *str = g_string_new (NULL);

  for (guint i = 0; i < log->events->len; i++)
    {
      if (i > 0)
        g_string_append_c (str, ',');
      g_string_append (str, g_ptr_array_index (log->events, i));
    }

  g_ptr_array_set_size (log->events, 0);

  return g_string_free (str, FALSE);
}

static void
log_free (Log          *log,
          TetherRecord *record)
{
  g_signal_handlers_disconnect_by_data (record, log);
  g_ptr_array_unref (log->events);
  g_free (log);
}

#define assert_events(log, expected) \
  G_STMT_START { \
    g_autofree char *_events = log_take (log); \
    g_assert_cmpstr (_events, ==, expected); \
  } G_STMT_END

static JsonObject *
object_from_string (const char *text)
{
  g_autoptr(JsonParser) parser = json_parser_new ();
  g_autoptr(GError) error = NULL;

  json_parser_load_from_data (parser, text, -1, &error);
  g_assert_no_error (error);

  return json_node_dup_object (json_parser_get_root (parser));
}

static JsonNode *
node_from_string (const char *text)
{
  g_autoptr(JsonParser) parser = json_parser_new ();
  g_autoptr(GError) error = NULL;

  json_parser_load_from_data (parser, text, -1, &error);
  g_assert_no_error (error);

  return json_node_copy (json_parser_get_root (parser));
}

static TetherRecord *
record_from_string (const char  *line,
                    GError     **error)
{
  g_autoptr(GBytes) bytes = g_bytes_new (line, strlen (line));

  return tether_record_new_from_line (bytes, error);
}

static char *
serialize_to_string (TetherRecord *record)
{
  g_autoptr(GBytes) bytes = tether_record_serialize (record);
  gsize size;
  const char *data = g_bytes_get_data (bytes, &size);

  g_assert_null (memchr (data, '\n', size));

  return g_strndup (data, size);
}

/* Equal and of the same JSON types: json_node_equal() takes 1 == 1.0. */
static gboolean
nodes_identical (JsonNode *a,
                 JsonNode *b)
{
  if (JSON_NODE_TYPE (a) != JSON_NODE_TYPE (b))
    return FALSE;

  switch (JSON_NODE_TYPE (a))
    {
    case JSON_NODE_OBJECT:
      {
        JsonObject *oa = json_node_get_object (a);
        JsonObject *ob = json_node_get_object (b);
        JsonObjectIter iter;
        const char *name;
        JsonNode *member;

        if (json_object_get_size (oa) != json_object_get_size (ob))
          return FALSE;

        json_object_iter_init_ordered (&iter, oa);
        while (json_object_iter_next_ordered (&iter, &name, &member))
          {
            JsonNode *other = json_object_get_member (ob, name);

            if (other == NULL || !nodes_identical (member, other))
              return FALSE;
          }
        return TRUE;
      }

    case JSON_NODE_ARRAY:
      {
        JsonArray *aa = json_node_get_array (a);
        JsonArray *ab = json_node_get_array (b);

        if (json_array_get_length (aa) != json_array_get_length (ab))
          return FALSE;

        for (guint i = 0; i < json_array_get_length (aa); i++)
          if (!nodes_identical (json_array_get_element (aa, i), json_array_get_element (ab, i)))
            return FALSE;
        return TRUE;
      }

    case JSON_NODE_VALUE:
      if (json_node_get_value_type (a) != json_node_get_value_type (b))
        return FALSE;
      if (json_node_get_value_type (a) == G_TYPE_DOUBLE)
        return json_node_get_double (a) == json_node_get_double (b) &&
               signbit (json_node_get_double (a)) == signbit (json_node_get_double (b));
      return json_node_equal (a, b);

    case JSON_NODE_NULL:
    default:
      return TRUE;
    }
}

static gboolean
objects_identical (JsonObject *a,
                   JsonObject *b)
{
  g_autoptr(JsonNode) na = json_node_init_object (json_node_alloc (), a);
  g_autoptr(JsonNode) nb = json_node_init_object (json_node_alloc (), b);

  return nodes_identical (na, nb);
}

static void
test_new (void)
{
  TetherRecord *record = tether_record_new ();
  GDateTime *modified;

  g_assert_true (g_uuid_string_is_valid (tether_record_get_cid (record)));
  g_assert_null (tether_record_get_id (record));
  g_assert_null (tether_record_dup_id_string (record));
  g_assert_cmpuint (json_object_get_size (tether_record_get_attributes (record)), ==, 0);
  g_assert_null (tether_record_get_base (record));
  g_assert_null (tether_record_get_conflict (record));
  g_assert_cmpint (tether_record_get_sync_state (record), ==, TETHER_SYNC_STATE_PENDING);
  g_assert_cmpuint (tether_record_get_revision (record), ==, 0);
  g_assert_cmpstr (tether_record_get_title (record), ==, "");
  g_assert_null (tether_record_get_error_message (record));
  g_assert_null (tether_record_get_etag (record));

  modified = tether_record_get_modified (record);
  g_assert_nonnull (modified);
  g_assert_cmpint (g_date_time_get_utc_offset (modified), ==, 0);

  /* Two records, two cids. */
  {
    g_autoptr(TetherRecord) other = tether_record_new ();

    g_assert_cmpstr (tether_record_get_cid (record), !=, tether_record_get_cid (other));
  }

  g_assert_finalize_object (record);
}

static void
test_properties (void)
{
  TetherRecord *record = g_object_new (TETHER_TYPE_RECORD, "cid", "my-cid", NULL);
  Log *log = log_new (record);
  g_autofree char *cid = NULL;
  g_autofree char *title = NULL;
  g_autofree char *etag = NULL;
  g_autoptr(JsonNode) id = NULL;
  g_autoptr(JsonNode) id_in = json_node_init_int (json_node_alloc (), 5);
  TetherSyncState state;
  guint64 revision;

  /* One at a time: g_object_set() queues notifications and gives them
   * in its own order. */
  g_object_set (record, "etag", "W/\"1\"", NULL);
  g_object_set (record, "error-message", "Boom", NULL);
  g_object_set (record, "sync-state", TETHER_SYNC_STATE_ERROR, NULL);
  g_object_set (record, "title-field", "label", NULL);
  g_object_set (record, "id", id_in, NULL);
  assert_events (log, "notify:etag,notify:error-message,notify:sync-state,notify:title-field,notify:id");

  /* Explicit notify: setting what is there says nothing. */
  g_object_set (record,
                "etag", "W/\"1\"",
                "error-message", "Boom",
                "sync-state", TETHER_SYNC_STATE_ERROR,
                "title-field", "label",
                "id", id_in,
                NULL);
  assert_events (log, "");

  g_object_get (record,
                "cid", &cid,
                "id", &id,
                "title", &title,
                "etag", &etag,
                "sync-state", &state,
                "revision", &revision,
                NULL);
  g_assert_cmpstr (cid, ==, "my-cid");
  g_assert_cmpint (json_node_get_int (id), ==, 5);
  g_assert_cmpstr (title, ==, "");
  g_assert_cmpstr (etag, ==, "W/\"1\"");
  g_assert_cmpint (state, ==, TETHER_SYNC_STATE_ERROR);
  g_assert_cmpuint (revision, ==, 0);

  log_free (log, record);
  g_assert_finalize_object (record);
}

static void
count_cb (TetherRecord *record,
          const char   *field,
          guint        *count)
{
  (*count)++;
}

static void
test_set_attribute (void)
{
  TetherRecord *record = tether_record_new ();
  Log *log = log_new (record);
  g_autoptr(JsonNode) one = json_node_init_int (json_node_alloc (), 1);
  g_autoptr(JsonNode) one_double = json_node_init_double (json_node_alloc (), 1.0);
  g_autoptr(JsonNode) null = json_node_new (JSON_NODE_NULL);
  g_autoptr(JsonNode) nested = node_from_string ("{\"a\":[1,{\"b\":null}]}");
  g_autoptr(JsonNode) nested_again = node_from_string ("{\"a\":[1,{\"b\":null}]}");
  guint title_changes = 0;
  guint other_changes = 0;

  /* Counted through the detail only. */
  g_signal_connect (record, "changed::title", G_CALLBACK (count_cb), &title_changes);
  g_signal_connect (record, "changed::other", G_CALLBACK (count_cb), &other_changes);

  tether_record_set_string (record, "title", "Milk");
  assert_events (log, "notify:revision,notify:modified,notify:title,changed:title");
  g_assert_cmpuint (title_changes, ==, 1);
  g_assert_cmpuint (other_changes, ==, 0);
  g_assert_cmpuint (tether_record_get_revision (record), ==, 1);
  g_assert_cmpstr (json_node_get_string (tether_record_get_attribute (record, "title")), ==, "Milk");

  /* The same value: nothing at all. */
  tether_record_set_string (record, "title", "Milk");
  assert_events (log, "");
  g_assert_cmpuint (title_changes, ==, 1);
  g_assert_cmpuint (tether_record_get_revision (record), ==, 1);

  /* The value is stored before changed:: runs. */
  tether_record_set_attribute (record, "other", one);
  assert_events (log, "notify:revision,notify:modified,changed:other");
  g_assert_cmpuint (other_changes, ==, 1);
  g_assert_cmpuint (title_changes, ==, 1);

  /* json_node_equal() says 1.0 == 1: no change, and the integer stays. */
  tether_record_set_attribute (record, "other", one_double);
  assert_events (log, "");
  g_assert_cmpint (json_node_get_value_type (tether_record_get_attribute (record, "other")), ==, G_TYPE_INT64);

  /* NULL and a null node both mean JSON null. */
  tether_record_set_attribute (record, "other", NULL);
  assert_events (log, "notify:revision,notify:modified,changed:other");
  g_assert_true (JSON_NODE_HOLDS_NULL (tether_record_get_attribute (record, "other")));
  tether_record_set_attribute (record, "other", null);
  tether_record_set_string (record, "other", NULL);
  assert_events (log, "");

  /* Nested values are compared deeply and copied. */
  tether_record_set_attribute (record, "nested", nested);
  assert_events (log, "notify:revision,notify:modified,changed:nested");
  json_object_set_int_member (json_node_get_object (nested), "later", 1);
  g_assert_false (json_object_has_member (json_node_get_object (tether_record_get_attribute (record, "nested")), "later"));
  tether_record_set_attribute (record, "nested", nested_again);
  assert_events (log, "");

  g_assert_true (tether_record_has_attribute (record, "nested"));
  g_assert_false (tether_record_has_attribute (record, "missing"));
  g_assert_null (tether_record_get_attribute (record, "missing"));
  g_assert_cmpuint (tether_record_get_revision (record), ==, 4);

  log_free (log, record);
  g_signal_handlers_disconnect_by_data (record, &title_changes);
  g_signal_handlers_disconnect_by_data (record, &other_changes);
  g_assert_finalize_object (record);
}

static void
test_unset_attribute (void)
{
  TetherRecord *record = tether_record_new ();
  Log *log;

  tether_record_set_string (record, "a", "x");
  tether_record_set_string (record, "b", "y");
  log = log_new (record);

  tether_record_unset_attribute (record, "missing");
  assert_events (log, "");
  g_assert_cmpuint (tether_record_get_revision (record), ==, 2);

  /* "a" was the title; "b" takes over. */
  tether_record_unset_attribute (record, "a");
  assert_events (log, "notify:revision,notify:modified,notify:title,changed:a");
  g_assert_false (tether_record_has_attribute (record, "a"));
  g_assert_cmpstr (tether_record_get_title (record), ==, "y");
  g_assert_cmpuint (tether_record_get_revision (record), ==, 3);

  log_free (log, record);
  g_assert_finalize_object (record);
}

static void
test_update (void)
{
  TetherRecord *record = tether_record_new ();
  g_autoptr(JsonObject) changes = object_from_string ("{\"c\":3,\"b\":2,\"a\":null,\"d\":{\"x\":[]}}");
  g_autoptr(JsonObject) same = object_from_string ("{\"b\":2,\"c\":3.0}");
  g_autoptr(JsonNode) two = json_node_init_int (json_node_alloc (), 2);
  Log *log;

  tether_record_set_attribute (record, "b", two);
  log = log_new (record);

  /* Each changed field in the order of @changes, then one changed. */
  tether_record_update (record, changes);
  assert_events (log, "notify:revision,notify:modified,changed:c,changed:a,changed:d,changed");
  g_assert_cmpuint (tether_record_get_revision (record), ==, 2);
  g_assert_true (JSON_NODE_HOLDS_NULL (tether_record_get_attribute (record, "a")));

  /* Nothing changes: nothing emitted, no revision. */
  tether_record_update (record, same);
  assert_events (log, "");
  g_assert_cmpuint (tether_record_get_revision (record), ==, 2);

  /* Updating from its own attributes changes nothing either. */
  tether_record_update (record, tether_record_get_attributes (record));
  assert_events (log, "");

  log_free (log, record);
  g_assert_finalize_object (record);
}

static void
test_revision_and_modified (void)
{
  TetherRecord *record = tether_record_new ();
  g_autoptr(GDateTime) before = NULL;
  GDateTime *modified;

  before = g_date_time_ref (tether_record_get_modified (record));
  g_usleep (2000);

  tether_record_set_string (record, "title", "x");
  modified = tether_record_get_modified (record);
  g_assert_cmpint (g_date_time_compare (modified, before), >, 0);
  g_assert_cmpint (g_date_time_get_utc_offset (modified), ==, 0);
  g_assert_cmpuint (tether_record_get_revision (record), ==, 1);

  /* Bookkeeping is not an edit. */
  tether_record_set_sync_state (record, TETHER_SYNC_STATE_SYNCED);
  tether_record_set_etag (record, "e");
  tether_record_set_error_message (record, "m");
  g_assert_cmpuint (tether_record_get_revision (record), ==, 1);
  g_assert_true (tether_record_get_modified (record) == modified);

  g_assert_finalize_object (record);
}

static void
test_edit_state_rules (void)
{
  static const struct {
    TetherSyncState before;
    TetherSyncState after;
  } cases[] = {
    { TETHER_SYNC_STATE_SYNCED, TETHER_SYNC_STATE_PENDING },
    { TETHER_SYNC_STATE_PENDING, TETHER_SYNC_STATE_PENDING },
    { TETHER_SYNC_STATE_PUSHING, TETHER_SYNC_STATE_PENDING },
    { TETHER_SYNC_STATE_ERROR, TETHER_SYNC_STATE_PENDING },
    /* Still to be deleted; still for the user to resolve. */
    { TETHER_SYNC_STATE_DELETED, TETHER_SYNC_STATE_DELETED },
    { TETHER_SYNC_STATE_CONFLICT, TETHER_SYNC_STATE_CONFLICT },
  };

  for (guint i = 0; i < G_N_ELEMENTS (cases); i++)
    {
      TetherRecord *record = tether_record_new ();
      Log *log;

      tether_record_set_sync_state (record, cases[i].before);
      log = log_new (record);

      tether_record_set_string (record, "title", "x");
      if (cases[i].before != cases[i].after)
        assert_events (log, "notify:sync-state,notify:revision,notify:modified,notify:title,changed:title");
      else
        assert_events (log, "notify:revision,notify:modified,notify:title,changed:title");

      g_assert_cmpint (tether_record_get_sync_state (record), ==, cases[i].after);
      g_assert_cmpuint (tether_record_get_revision (record), ==, 1);

      log_free (log, record);
      g_assert_finalize_object (record);
    }
}

static void
test_new_from_server (void)
{
  g_autoptr(JsonNode) id = json_node_init_int (json_node_alloc (), 7);
  g_autoptr(JsonObject) attributes = object_from_string ("{\"title\":\"Bread\",\"n\":2}");
  g_autoptr(GPtrArray) removed = NULL;
  g_autoptr(JsonObject) diff = NULL;
  TetherRecord *record = tether_record_new_from_server (id, attributes);

  g_assert_cmpint (tether_record_get_sync_state (record), ==, TETHER_SYNC_STATE_SYNCED);
  g_assert_cmpint (json_node_get_int (tether_record_get_id (record)), ==, 7);
  g_assert_true (g_uuid_string_is_valid (tether_record_get_cid (record)));
  g_assert_cmpuint (tether_record_get_revision (record), ==, 0);
  g_assert_null (tether_record_get_modified (record));
  g_assert_true (json_object_equal (tether_record_get_attributes (record), attributes));
  g_assert_true (json_object_equal (tether_record_get_base (record), attributes));
  g_assert_true (tether_record_get_attributes (record) != attributes);
  g_assert_true (tether_record_get_base (record) != tether_record_get_attributes (record));
  g_assert_cmpstr (tether_record_get_title (record), ==, "Bread");

  diff = tether_record_diff_from_base (record, &removed);
  g_assert_cmpuint (json_object_get_size (diff), ==, 0);
  g_assert_cmpuint (removed->len, ==, 0);

  /* Copies: the caller's object is the caller's. */
  json_object_set_string_member (attributes, "title", "Changed");
  g_assert_cmpstr (tether_record_get_title (record), ==, "Bread");

  g_assert_finalize_object (record);
}

static void
test_apply_server (void)
{
  g_autoptr(JsonNode) id = json_node_init_int (json_node_alloc (), 7);
  g_autoptr(JsonObject) attributes = object_from_string ("{\"title\":\"A\",\"n\":1,\"keep\":true}");
  g_autoptr(JsonObject) server = object_from_string ("{\"title\":\"B\",\"extra\":[1],\"keep\":true}");
  g_autoptr(JsonObject) other_base = object_from_string ("{\"title\":\"C\"}");
  TetherRecord *record = tether_record_new_from_server (id, attributes);
  Log *log;

  tether_record_get_title (record);
  log = log_new (record);

  /* Changed, added, then removed fields; no revision, no pending. */
  tether_record_apply_server (record, server, server, TETHER_SYNC_STATE_SYNCED);
  assert_events (log, "notify:title,changed:title,changed:extra,changed:n,changed");
  g_assert_cmpuint (tether_record_get_revision (record), ==, 0);
  g_assert_cmpint (tether_record_get_sync_state (record), ==, TETHER_SYNC_STATE_SYNCED);
  g_assert_null (tether_record_get_modified (record));
  g_assert_true (json_object_equal (tether_record_get_attributes (record), server));
  g_assert_true (json_object_equal (tether_record_get_base (record), server));
  g_assert_cmpstr (tether_record_get_title (record), ==, "B");

  /* The same again: nothing. */
  tether_record_apply_server (record, server, server, TETHER_SYNC_STATE_SYNCED);
  assert_events (log, "");

  /* Only the state and base: the state's notify, no changed. */
  tether_record_apply_server (record, server, other_base, TETHER_SYNC_STATE_PENDING);
  assert_events (log, "notify:sync-state");
  g_assert_true (json_object_equal (tether_record_get_base (record), other_base));

  /* Its own attributes as base (the sync confirming a push). */
  tether_record_apply_server (record,
                              tether_record_get_attributes (record),
                              tether_record_get_attributes (record),
                              TETHER_SYNC_STATE_SYNCED);
  assert_events (log, "notify:sync-state");
  g_assert_true (json_object_equal (tether_record_get_base (record), server));

  /* A NULL base. */
  tether_record_apply_server (record, server, NULL, TETHER_SYNC_STATE_SYNCED);
  g_assert_null (tether_record_get_base (record));

  log_free (log, record);
  g_assert_finalize_object (record);
}

static void
test_title (void)
{
  static const struct {
    const char *attributes;
    const char *title_field;
    const char *title;
  } cases[] = {
    { "{}", NULL, "" },
    { "{\"n\":1,\"ok\":true}", NULL, "" },
    { "{\"x\":\"first\",\"name\":\"N\",\"title\":\"T\"}", NULL, "T" },
    { "{\"x\":\"first\",\"name\":\"N\"}", NULL, "N" },
    { "{\"n\":1,\"x\":\"first\",\"y\":\"second\"}", NULL, "first" },
    { "{\"title\":\"\",\"name\":\"N\"}", NULL, "N" },
    { "{\"title\":42,\"x\":\"first\"}", NULL, "first" },
    { "{\"title\":\"T\",\"label\":\"L\"}", "label", "L" },
    { "{\"title\":\"T\",\"label\":\"\"}", "label", "T" },
    { "{\"title\":\"T\"}", "label", "T" },
    { "{\"x\":\"\",\"y\":\"Y\"}", NULL, "Y" },
    { "{\"title\":\"caf\\u00e9 \\\"q\\\"\"}", NULL, "caf\xc3\xa9 \"q\"" },
    /* Names json-glib and the peek must read alike. */
    { "{\"ti\\u0074le\":\"escaped key\",\"x\":\"first\"}", NULL, "escaped key" },
    { "{\"title\":\"first\",\"title\":\"\",\"name\":\"N\"}", NULL, "N" },
    { "{\"x\":\"a\",\"x\":3,\"y\":\"b\"}", NULL, "b" },
    { "{\"x\":1,\"x\":\"later\"}", NULL, "later" },
  };

  for (guint i = 0; i < G_N_ELEMENTS (cases); i++)
    {
      g_autofree char *line = g_strdup_printf ("{\"cid\":\"c%u\",\"attributes\":%s}", i, cases[i].attributes);
      g_autoptr(TetherRecord) lazy = record_from_string (line, NULL);
      g_autoptr(TetherRecord) parsed = record_from_string (line, NULL);

      g_test_message ("%s", line);

      /* Found without parsing, and after parsing, alike. */
      tether_record_set_title_field (lazy, cases[i].title_field);
      g_assert_cmpstr (tether_record_get_title (lazy), ==, cases[i].title);

      tether_record_get_attributes (parsed);
      tether_record_set_title_field (parsed, cases[i].title_field);
      g_assert_cmpstr (tether_record_get_title (parsed), ==, cases[i].title);
    }

  /* Many members: past what the peek looks at. */
  {
    g_autoptr(GString) line = g_string_new ("{\"cid\":\"many\",\"attributes\":{");
    g_autoptr(TetherRecord) record = NULL;

    for (guint i = 0; i < 100; i++)
      g_string_append_printf (line, "\"n%u\":%u,", i, i);
    g_string_append (line, "\"last\":\"L\"}}");

    record = record_from_string (line->str, NULL);
    g_assert_cmpstr (tether_record_get_title (record), ==, "L");
  }
}

static void
test_title_notify (void)
{
  TetherRecord *record = tether_record_new ();
  Log *log = log_new (record);

  tether_record_set_string (record, "x", "X");
  assert_events (log, "notify:revision,notify:modified,notify:title,changed:x");
  g_assert_cmpstr (tether_record_get_title (record), ==, "X");

  /* "name" takes over from the first string. */
  tether_record_set_string (record, "name", "N");
  assert_events (log, "notify:revision,notify:modified,notify:title,changed:name");

  /* Not the title: no notify::title. */
  tether_record_set_string (record, "x", "X2");
  assert_events (log, "notify:revision,notify:modified,changed:x");
  tether_record_set_string (record, "label", "L");
  assert_events (log, "notify:revision,notify:modified,changed:label");

  /* The title field makes "label" the title... */
  tether_record_set_title_field (record, "label");
  assert_events (log, "notify:title-field,notify:title");
  g_assert_cmpstr (tether_record_get_title (record), ==, "L");

  /* ...and a field that would give the same title notifies nothing. */
  tether_record_set_string (record, "title", "L");
  tether_record_set_title_field (record, "title");
  assert_events (log, "notify:revision,notify:modified,changed:title,notify:title-field");

  log_free (log, record);
  g_assert_finalize_object (record);
}

static void
test_title_lazy_notify (void)
{
  TetherRecord *record = record_from_string ("{\"cid\":\"c\",\"attributes\":{\"title\":\"T\",\"label\":\"L\"}}", NULL);
  Log *log = log_new (record);

  /* Nobody saw a title yet: nothing to tell. */
  tether_record_set_title_field (record, "label");
  assert_events (log, "notify:title-field");

  g_assert_cmpstr (tether_record_get_title (record), ==, "L");
  tether_record_set_title_field (record, NULL);
  assert_events (log, "notify:title-field,notify:title");
  g_assert_cmpstr (tether_record_get_title (record), ==, "T");

  log_free (log, record);
  g_assert_finalize_object (record);
}

static void
test_id (void)
{
  TetherRecord *record = tether_record_new ();
  Log *log = log_new (record);
  g_autoptr(JsonNode) int_id = json_node_init_int (json_node_alloc (), 42);
  g_autoptr(JsonNode) int_id_again = json_node_init_int (json_node_alloc (), 42);
  g_autoptr(JsonNode) string_id = json_node_init_string (json_node_alloc (), "42");
  g_autoptr(JsonNode) abc = json_node_init_string (json_node_alloc (), "abc");
  g_autoptr(JsonNode) big = json_node_init_int (json_node_alloc (), G_GINT64_CONSTANT (-9007199254740993));
  g_autoptr(JsonNode) double_id = json_node_init_double (json_node_alloc (), 1.5);
  g_autoptr(JsonNode) empty = json_node_init_string (json_node_alloc (), "");
  g_autofree char *text = NULL;

  tether_record_set_id (record, int_id);
  assert_events (log, "notify:id");
  g_assert_cmpint (json_node_get_value_type (tether_record_get_id (record)), ==, G_TYPE_INT64);
  g_assert_cmpint (json_node_get_int (tether_record_get_id (record)), ==, 42);
  text = tether_record_dup_id_string (record);
  g_assert_cmpstr (text, ==, "42");
  g_clear_pointer (&text, g_free);

  tether_record_set_id (record, int_id_again);
  assert_events (log, "");

  /* "42" is not 42. */
  tether_record_set_id (record, string_id);
  assert_events (log, "notify:id");
  g_assert_cmpint (json_node_get_value_type (tether_record_get_id (record)), ==, G_TYPE_STRING);
  text = tether_record_dup_id_string (record);
  g_assert_cmpstr (text, ==, "42");
  g_clear_pointer (&text, g_free);

  tether_record_set_id (record, abc);
  text = tether_record_dup_id_string (record);
  g_assert_cmpstr (text, ==, "abc");
  g_clear_pointer (&text, g_free);

  tether_record_set_id (record, big);
  text = tether_record_dup_id_string (record);
  g_assert_cmpstr (text, ==, "-9007199254740993");
  g_clear_pointer (&text, g_free);

  /* Not an edit. */
  g_assert_cmpuint (tether_record_get_revision (record), ==, 0);

  tether_record_set_id (record, NULL);
  assert_events (log, "notify:id,notify:id,notify:id");
  g_assert_null (tether_record_get_id (record));

  g_assert_true (tether_record_id_is_valid (int_id));
  g_assert_true (tether_record_id_is_valid (abc));
  g_assert_false (tether_record_id_is_valid (double_id));
  g_assert_false (tether_record_id_is_valid (empty));
  g_assert_false (tether_record_id_is_valid (NULL));

  g_test_expect_message ("Tether", G_LOG_LEVEL_CRITICAL, "*tether_record_id_is_valid*");
  tether_record_set_id (record, double_id);
  g_test_assert_expected_messages ();
  assert_events (log, "");

  log_free (log, record);
  g_assert_finalize_object (record);
}

static void
test_diff (void)
{
  g_autoptr(JsonNode) id = json_node_init_string (json_node_alloc (), "x");
  g_autoptr(JsonObject) attributes = object_from_string ("{\"a\":1,\"b\":\"x\",\"c\":[1],\"d\":{\"e\":1}}");
  g_autoptr(JsonObject) changes = object_from_string ("{\"a\":2,\"d\":{\"e\":1},\"f\":true}");
  g_autoptr(JsonObject) expected = object_from_string ("{\"a\":2,\"f\":true}");
  g_autoptr(JsonObject) diff = NULL;
  g_autoptr(GPtrArray) removed = NULL;
  TetherRecord *record = tether_record_new_from_server (id, attributes);
  TetherRecord *fresh = tether_record_new ();

  tether_record_update (record, changes);
  tether_record_unset_attribute (record, "c");
  tether_record_unset_attribute (record, "b");

  diff = tether_record_diff_from_base (record, &removed);
  g_assert_true (json_object_equal (diff, expected));
  g_assert_cmpuint (removed->len, ==, 2);
  g_assert_cmpstr (g_ptr_array_index (removed, 0), ==, "b");
  g_assert_cmpstr (g_ptr_array_index (removed, 1), ==, "c");
  g_clear_pointer (&diff, json_object_unref);
  g_clear_pointer (&removed, g_ptr_array_unref);

  /* Without a base everything is changed. */
  tether_record_update (fresh, changes);
  diff = tether_record_diff_from_base (fresh, &removed);
  g_assert_true (json_object_equal (diff, changes));
  g_assert_cmpuint (removed->len, ==, 0);
  g_clear_pointer (&diff, json_object_unref);

  /* @removed is optional. */
  diff = tether_record_diff_from_base (fresh, NULL);
  g_assert_cmpuint (json_object_get_size (diff), ==, 3);

  g_assert_finalize_object (record);
  g_assert_finalize_object (fresh);
}

static void
append_name_cb (JsonObject *object,
                const char *name,
                JsonNode   *node,
                gpointer    user_data)
{
  g_string_append (user_data, name);
}

static void
test_to_json_and_foreach (void)
{
  g_autoptr(JsonObject) attributes = object_from_string ("{\"z\":1,\"a\":{\"n\":[1]},\"m\":\"x\"}");
  g_autoptr(JsonObject) copy = NULL;
  g_autoptr(GString) order = g_string_new (NULL);
  TetherRecord *record = tether_record_new_from_server (NULL, attributes);

  copy = tether_record_to_json (record);
  g_assert_true (json_object_equal (copy, attributes));
  g_assert_true (copy != tether_record_get_attributes (record));
  /* Deep: changing the copy's nested object leaves the record alone. */
  json_object_set_int_member (json_object_get_object_member (copy, "a"), "later", 1);
  g_assert_true (json_object_equal (tether_record_get_attributes (record), attributes));

  tether_record_foreach (record, append_name_cb, order);
  g_assert_cmpstr (order->str, ==, "zam");

  g_assert_finalize_object (record);
}

static void
count_notify_cb (GObject    *object,
                 GParamSpec *pspec,
                 guint      *count)
{
  (*count)++;
}

static void
test_conflict (void)
{
  g_autoptr(JsonObject) conflict = object_from_string ("{\"title\":{\"theirs\":\"B\"},\"gone\":{}}");
  g_autoptr(JsonObject) fewer = object_from_string ("{\"title\":{\"theirs\":\"B\"}}");
  g_autoptr(JsonObject) attributes = object_from_string ("{\"title\":\"A\"}");
  TetherRecord *record = tether_record_new_from_server (NULL, attributes);
  TetherRecord *loaded;
  g_autoptr(GBytes) line = NULL;
  JsonObject *property = NULL;
  guint notifies = 0;

  g_assert_null (tether_record_get_conflict (record));

  tether_record_set_sync_state (record, TETHER_SYNC_STATE_CONFLICT);
  g_signal_connect (record, "notify::conflict", G_CALLBACK (count_notify_cb), &notifies);
  tether_record_set_conflict (record, conflict);
  g_assert_true (json_object_equal (tether_record_get_conflict (record), conflict));
  g_assert_true (tether_record_get_conflict (record) != conflict);
  g_assert_cmpuint (notifies, ==, 1);

  /* The same data again is no change. */
  tether_record_set_conflict (record, conflict);
  g_assert_cmpuint (notifies, ==, 1);

  /* One field settled, the other still in conflict: the state stays, the
   * data changes, and a view showing it learns so. */
  tether_record_set_conflict (record, fewer);
  g_assert_cmpuint (notifies, ==, 2);
  g_assert_true (json_object_equal (tether_record_get_conflict (record), fewer));
  g_object_get (record, "conflict", &property, NULL);
  g_assert_true (json_object_equal (property, fewer));
  g_clear_pointer (&property, json_object_unref);

  g_object_set (record, "conflict", conflict, NULL);
  g_assert_cmpuint (notifies, ==, 3);
  g_assert_cmpint (tether_record_get_sync_state (record), ==, TETHER_SYNC_STATE_CONFLICT);
  g_signal_handlers_disconnect_by_func (record, count_notify_cb, &notifies);

  line = tether_record_serialize (record);
  loaded = tether_record_new_from_line (line, NULL);
  g_assert_nonnull (loaded);
  g_assert_cmpint (tether_record_get_sync_state (loaded), ==, TETHER_SYNC_STATE_CONFLICT);
  g_assert_true (json_object_equal (tether_record_get_conflict (loaded), conflict));

  /* Resolving: clear, and the state is the caller's to set. */
  notifies = 0;
  g_signal_connect (loaded, "notify::conflict", G_CALLBACK (count_notify_cb), &notifies);
  tether_record_set_conflict (loaded, NULL);
  g_assert_null (tether_record_get_conflict (loaded));
  g_assert_cmpuint (notifies, ==, 1);
  g_signal_handlers_disconnect_by_func (loaded, count_notify_cb, &notifies);
  g_assert_cmpint (tether_record_get_sync_state (loaded), ==, TETHER_SYNC_STATE_CONFLICT);

  g_assert_finalize_object (record);
  g_assert_finalize_object (loaded);
}

static void
test_serialize_format (void)
{
  g_autoptr(JsonNode) id = json_node_init_int (json_node_alloc (), 7);
  g_autoptr(JsonObject) attributes = object_from_string ("{\"title\":\"x\",\"n\":1.5,\"i\":2,\"b\":false,\"z\":null}");
  TetherRecord *record = tether_record_new_from_server (id, attributes);
  g_autofree char *line = serialize_to_string (record);
  g_autofree char *expected = NULL;
  g_autofree char *after_edit = NULL;
  g_autofree char *modified = NULL;

  expected = g_strdup_printf ("{\"cid\":\"%s\",\"id\":7,\"state\":\"synced\",\"rev\":0,"
                              "\"modified\":null,\"etag\":null,\"error\":null,"
                              "\"attributes\":{\"title\":\"x\",\"n\":1.5,\"i\":2,\"b\":false,\"z\":null},"
                              "\"base\":{\"title\":\"x\",\"n\":1.5,\"i\":2,\"b\":false,\"z\":null},"
                              "\"conflict\":null}",
                              tether_record_get_cid (record));
  g_assert_cmpstr (line, ==, expected);

  tether_record_set_string (record, "title", "y");
  tether_record_set_etag (record, "W/\"e\"");
  tether_record_set_error_message (record, "Line\nbreak");
  after_edit = serialize_to_string (record);
  modified = g_date_time_format (tether_record_get_modified (record), "%Y-%m-%dT%H:%M:%S.%fZ");
  g_clear_pointer (&expected, g_free);
  expected = g_strdup_printf ("{\"cid\":\"%s\",\"id\":7,\"state\":\"pending\",\"rev\":1,"
                              "\"modified\":\"%s\",\"etag\":\"W/\\\"e\\\"\",\"error\":\"Line\\nbreak\","
                              "\"attributes\":{\"title\":\"y\",\"n\":1.5,\"i\":2,\"b\":false,\"z\":null},"
                              "\"base\":{\"title\":\"x\",\"n\":1.5,\"i\":2,\"b\":false,\"z\":null},"
                              "\"conflict\":null}",
                              tether_record_get_cid (record), modified);
  g_assert_cmpstr (after_edit, ==, expected);

  g_assert_finalize_object (record);
}

/* Every JSON type survives the store's round trip, in its type. */
static const char every_type[] =
  "{\"title\":\"Gr\xc3\xbc\xc3\x9f" "e, \xe4\xb8\x96\xe7\x95\x8c \xf0\x9f\x98\x80\","
  "\"escapes\":\"quote\\\" backslash\\\\ slash\\/ \\b\\f\\n\\r\\t \\u0001 \\u001f \x7f \\u2028\","
  "\"empty\":\"\",\"null\":null,\"true\":true,\"false\":false,"
  "\"int\":42,\"negative\":-17,\"zero\":0,\"big\":9007199254740993,\"negbig\":-9007199254740993,"
  "\"max\":9223372036854775807,\"min\":-9223372036854775808,"
  "\"double\":0.1,\"one\":1.0,\"negzero\":-0.0,\"huge\":1e300,\"tiny\":5e-324,"
  "\"pi\":3.141592653589793,\"neg\":-2.5e-8,\"whole\":12345678901234567.0,"
  "\"array\":[1,\"two\",[3,[4]],{\"five\":5},null,true,1.5],\"empty_array\":[],\"empty_object\":{},"
  "\"nested\":{\"a\":{\"b\":{\"c\":{\"d\":\"deep\"}}}},\"cl\\u00e9\":\"unicode key\",\"\":\"empty key\"}";

static void
test_round_trip (void)
{
  g_autoptr(JsonObject) attributes = object_from_string (every_type);
  g_autoptr(JsonNode) id = json_node_init_string (json_node_alloc (), "s-\xc3\xa9-\"1\"");
  TetherRecord *record = tether_record_new_from_server (id, attributes);
  TetherRecord *loaded;
  TetherRecord *reloaded;
  g_autoptr(GBytes) line = NULL;
  g_autoptr(GBytes) line_again = NULL;
  g_autoptr(GBytes) line_regenerated = NULL;
  g_autoptr(GError) error = NULL;

  g_assert_true (objects_identical (tether_record_get_attributes (record), attributes));

  tether_record_set_string (record, "edited", "yes");
  tether_record_set_sync_state (record, TETHER_SYNC_STATE_ERROR);
  tether_record_set_error_message (record, "Server said \"no\"\n\t\xe2\x9c\x97");
  tether_record_set_etag (record, "W/\"abc\"");

  line = tether_record_serialize (record);
  g_assert_true (tether_json_scan_validate (g_bytes_get_data (line, NULL), g_bytes_get_size (line), NULL));

  loaded = tether_record_new_from_line (line, &error);
  g_assert_no_error (error);
  g_assert_nonnull (loaded);

  g_assert_cmpstr (tether_record_get_cid (loaded), ==, tether_record_get_cid (record));
  g_assert_true (json_node_equal (tether_record_get_id (loaded), id));
  g_assert_cmpint (json_node_get_value_type (tether_record_get_id (loaded)), ==, G_TYPE_STRING);
  g_assert_cmpint (tether_record_get_sync_state (loaded), ==, TETHER_SYNC_STATE_ERROR);
  g_assert_cmpuint (tether_record_get_revision (loaded), ==, 1);
  g_assert_cmpstr (tether_record_get_error_message (loaded), ==, tether_record_get_error_message (record));
  g_assert_cmpstr (tether_record_get_etag (loaded), ==, "W/\"abc\"");
  g_assert_true (g_date_time_equal (tether_record_get_modified (loaded), tether_record_get_modified (record)));
  g_assert_cmpint (g_date_time_get_microsecond (tether_record_get_modified (loaded)), ==,
                   g_date_time_get_microsecond (tether_record_get_modified (record)));

  /* Never parsed: the very same bytes, not a copy. */
  line_again = tether_record_serialize (loaded);
  g_assert_true (g_bytes_equal (line, line_again));
  g_assert_true (g_bytes_get_data (line, NULL) == g_bytes_get_data (line_again, NULL));

  g_assert_true (objects_identical (tether_record_get_attributes (loaded),
                                    tether_record_get_attributes (record)));
  g_assert_true (objects_identical (tether_record_get_base (loaded), attributes));
  g_assert_cmpstr (tether_record_get_title (loaded), ==, "Gr\xc3\xbc\xc3\x9f" "e, \xe4\xb8\x96\xe7\x95\x8c \xf0\x9f\x98\x80");

  /* Parsed but unchanged: still the same line. */
  g_clear_pointer (&line_again, g_bytes_unref);
  line_again = tether_record_serialize (loaded);
  g_assert_true (g_bytes_equal (line, line_again));

  /* Written again from the parsed values: the same bytes (the writer is
   * deterministic and reads back what it writes). */
  tether_record_set_etag (loaded, NULL);
  tether_record_set_etag (loaded, "W/\"abc\"");
  line_regenerated = tether_record_serialize (loaded);
  g_assert_true (g_bytes_equal (line, line_regenerated));

  reloaded = tether_record_new_from_line (line_regenerated, &error);
  g_assert_no_error (error);
  g_assert_true (objects_identical (tether_record_get_attributes (reloaded), tether_record_get_attributes (record)));

  g_assert_finalize_object (record);
  g_assert_finalize_object (loaded);
  g_assert_finalize_object (reloaded);
}

/* What an update in flight would make the server hold is kept in the
 * line, through a bookkeeping-only rewrite too, and cleared once the
 * server's version is known. */
static void
test_sent (void)
{
  g_autoptr(JsonObject) attributes = object_from_string ("{\"title\":\"Sent\",\"n\":1}");
  g_autoptr(JsonObject) sent = object_from_string ("{\"title\":\"Sent\",\"n\":2,\"note\":\"new\"}");
  g_autoptr(JsonNode) id = json_node_init_int (json_node_alloc (), 7);
  g_autoptr(TetherRecord) record = tether_record_new_from_server (id, attributes);
  g_autoptr(TetherRecord) loaded = NULL;
  g_autoptr(TetherRecord) relazy = NULL;
  g_autoptr(GBytes) line = NULL;
  g_autoptr(GBytes) rewritten = NULL;
  g_autofree char *plain = NULL;
  g_autoptr(GError) error = NULL;

  g_assert_null (tether_record_get_sent (record));
  plain = serialize_to_string (record);
  g_assert_null (strstr (plain, "\"sent\""));

  tether_record_set_sent (record, sent);
  g_assert_true (objects_identical (tether_record_get_sent (record), sent));
  g_assert_cmpuint (tether_record_get_revision (record), ==, 0);

  line = tether_record_serialize (record);
  g_assert_true (tether_json_scan_validate (g_bytes_get_data (line, NULL), g_bytes_get_size (line), NULL));
  loaded = tether_record_new_from_line (line, &error);
  g_assert_no_error (error);

  /* A bookkeeping change rewrites the line without parsing it. */
  tether_record_set_sync_state (loaded, TETHER_SYNC_STATE_PUSHING);
  rewritten = tether_record_serialize (loaded);
  relazy = tether_record_new_from_line (rewritten, &error);
  g_assert_no_error (error);
  g_assert_true (objects_identical (tether_record_get_sent (relazy), sent));
  g_assert_true (objects_identical (tether_record_get_sent (loaded), sent));

  tether_record_apply_server (loaded, sent, sent, TETHER_SYNC_STATE_SYNCED);
  g_assert_null (tether_record_get_sent (loaded));
  g_clear_pointer (&plain, g_free);
  plain = serialize_to_string (loaded);
  g_assert_null (strstr (plain, "\"sent\""));

  g_assert_null (record_from_string ("{\"cid\":\"c\",\"attributes\":{},\"sent\":[1]}", &error));
  g_assert_error (error, TETHER_RECORD_ERROR, TETHER_RECORD_ERROR_INVALID);
}

static void
test_lazy_bookkeeping (void)
{
  g_autoptr(JsonObject) attributes = object_from_string (every_type);
  g_autoptr(JsonNode) id = json_node_init_int (json_node_alloc (), 3);
  g_autoptr(TetherRecord) record = tether_record_new_from_server (id, attributes);
  g_autofree char *text = serialize_to_string (record);
  g_autoptr(TetherRecord) loaded = record_from_string (text, NULL);
  g_autoptr(GString) expected = g_string_new (text);
  g_autofree char *spliced = NULL;
  g_autoptr(JsonNode) new_id = json_node_init_int (json_node_alloc (), 4);

  /* Changing bookkeeping of a lazy record writes the attributes text back
   * as it was, without parsing it. */
  tether_record_set_sync_state (loaded, TETHER_SYNC_STATE_PUSHING);
  tether_record_set_id (loaded, new_id);
  g_string_replace (expected, "\"state\":\"synced\"", "\"state\":\"pushing\"", 1);
  g_string_replace (expected, "\"id\":3,", "\"id\":4,", 1);

  spliced = serialize_to_string (loaded);
  g_assert_cmpstr (spliced, ==, expected->str);
  g_assert_true (objects_identical (tether_record_get_attributes (loaded), attributes));
}

static void
test_from_buffer (void)
{
  static const char text[] =
    "{\"cid\":\"one\",\"attributes\":{\"title\":\"First\"}}\n"
    "{\"cid\":\"two\",\"id\":2,\"state\":\"synced\",\"attributes\":{\"title\":\"Second\"},\"base\":{\"title\":\"Second\"}}\n";
  g_autoptr(GBytes) buffer = g_bytes_new (text, sizeof text - 1);
  const char *data = g_bytes_get_data (buffer, NULL);
  /* (The buffer's copy is not NUL-terminated.) */
  gsize first_length = strchr (text, '\n') - text;
  gsize second_length = sizeof text - 1 - (first_length + 1) - 1;
  const char *newline = data + first_length;
  TetherRecord *first;
  TetherRecord *second;
  g_autoptr(GBytes) first_line = NULL;
  g_autoptr(GBytes) second_line = NULL;

  first = tether_record_new_from_buffer (buffer, 0, first_length, NULL);
  second = tether_record_new_from_buffer (buffer, first_length + 1, second_length, NULL);
  g_assert_nonnull (first);
  g_assert_nonnull (second);

  g_assert_cmpstr (tether_record_get_cid (first), ==, "one");
  g_assert_cmpint (tether_record_get_sync_state (first), ==, TETHER_SYNC_STATE_PENDING);
  g_assert_cmpuint (tether_record_get_revision (first), ==, 0);
  g_assert_null (tether_record_get_modified (first));
  g_assert_cmpstr (tether_record_get_cid (second), ==, "two");
  g_assert_cmpint (json_node_get_int (tether_record_get_id (second)), ==, 2);
  g_assert_cmpstr (tether_record_get_title (second), ==, "Second");

  /* Slices of the caller's buffer. */
  first_line = tether_record_serialize (first);
  second_line = tether_record_serialize (second);
  g_assert_true (g_bytes_get_data (first_line, NULL) == (gconstpointer) data);
  g_assert_cmpuint (g_bytes_get_size (first_line), ==, first_length);
  g_assert_true (g_bytes_get_data (second_line, NULL) == (gconstpointer) (newline + 1));
  g_assert_cmpuint (g_bytes_get_size (second_line), ==, second_length);

  g_assert_cmpstr (tether_record_get_title (first), ==, "First");

  g_assert_finalize_object (first);
  g_assert_finalize_object (second);
}

static void
test_hand_written_line (void)
{
  /* Any member order, spaces, "revision", an offset, unknown members. */
  static const char line[] =
    " { \"attributes\" : { \"name\" : \"N\" } , \"future\" : [1, {\"x\": null}],"
    " \"revision\" : 12 , \"modified\" : \"2026-04-25T14:27:45+02:00\" ,"
    " \"state\" : \"error\" , \"error\" : \"bad\" , \"c\\u0069d\" : \"esc\\u00e9\" , \"id\" : \"srv\" } \r";
  g_autoptr(GError) error = NULL;
  TetherRecord *record = record_from_string (line, &error);
  g_autoptr(GDateTime) expected = g_date_time_new_utc (2026, 4, 25, 12, 27, 45);
  g_autoptr(GBytes) bytes = NULL;

  g_assert_no_error (error);
  g_assert_cmpstr (tether_record_get_cid (record), ==, "esc\xc3\xa9");
  g_assert_cmpstr (json_node_get_string (tether_record_get_id (record)), ==, "srv");
  g_assert_cmpuint (tether_record_get_revision (record), ==, 12);
  g_assert_cmpint (tether_record_get_sync_state (record), ==, TETHER_SYNC_STATE_ERROR);
  g_assert_cmpstr (tether_record_get_error_message (record), ==, "bad");
  g_assert_true (g_date_time_equal (tether_record_get_modified (record), expected));
  g_assert_cmpstr (tether_record_get_title (record), ==, "N");
  g_assert_null (tether_record_get_base (record));

  /* Unchanged: written back as it was, unknown member and all. */
  bytes = tether_record_serialize (record);
  g_assert_cmpmem (g_bytes_get_data (bytes, NULL), g_bytes_get_size (bytes), line, sizeof line - 1);

  g_assert_finalize_object (record);
}

/* The text a search looks through: every string value, nested ones too,
 * the same whether the record was parsed or only scanned. */
static void
test_text (void)
{
  static const char line[] =
    "{\"cid\":\"c1\",\"state\":\"synced\",\"rev\":0,\"attributes\":"
    "{\"title\":\"Buy milk\",\"tags\":[\"dairy\",\"Bio\"],\"where\":"
    "{\"shop\":\"Corner \\\"Shop\\\"\"},\"n\":2,\"ok\":true,\"none\":null}}";
  static const char expected[] = "Buy milk\ndairy\nBio\nCorner \"Shop\"\n";
  g_autoptr(GError) error = NULL;
  TetherRecord *record = record_from_string (line, &error);
  TetherRecord *fresh = tether_record_new ();
  g_autofree char *scanned = NULL;
  g_autofree char *parsed = NULL;
  g_autofree char *edited = NULL;
  g_autofree char *empty = NULL;

  g_assert_no_error (error);
  scanned = tether_record_dup_text (record);
  g_assert_cmpstr (scanned, ==, expected);

  /* Parsed now (the attributes were asked for): the same text. */
  g_assert_nonnull (tether_record_get_attributes (record));
  parsed = tether_record_dup_text (record);
  g_assert_cmpstr (parsed, ==, expected);

  tether_record_set_string (record, "note", "semi-skimmed");
  edited = tether_record_dup_text (record);
  g_assert_true (g_str_has_suffix (edited, "semi-skimmed\n"));

  empty = tether_record_dup_text (fresh);
  g_assert_cmpstr (empty, ==, "");

  g_assert_finalize_object (record);
  g_assert_finalize_object (fresh);
}

static void
test_modified_dates (void)
{
  static const char * const dates[] = {
    "1583-01-01T00:00:00.000000Z",
    "1969-12-31T23:59:59.999999Z",
    "1970-01-01T00:00:00.000000Z",
    "2000-02-29T12:00:00.000001Z",
    "2026-04-25T12:27:45.123456Z",
    "9999-12-31T23:59:59.999999Z",
  };

  for (guint i = 0; i < G_N_ELEMENTS (dates); i++)
    {
      g_autofree char *line = g_strdup_printf ("{\"cid\":\"c\",\"modified\":\"%s\",\"etag\":\"x\"}", dates[i]);
      g_autoptr(TetherRecord) record = record_from_string (line, NULL);
      g_autofree char *formatted = NULL;
      g_autofree char *written = NULL;
      g_autofree char *needle = g_strdup_printf ("\"modified\":\"%s\"", dates[i]);

      g_assert_nonnull (record);
      formatted = g_date_time_format (tether_record_get_modified (record), "%Y-%m-%dT%H:%M:%S.%fZ");
      g_assert_cmpstr (formatted, ==, dates[i]);

      /* Written back the same way. */
      tether_record_set_etag (record, NULL);
      written = serialize_to_string (record);
      g_assert_nonnull (strstr (written, needle));
    }
}

static void
test_invalid_lines (void)
{
  static const char * const lines[] = {
    /* Syntax */
    "",
    "{",
    "{\"cid\":\"c\",\"attributes\":{\"a\":1}",
    "{\"cid\":\"c\",\"attributes\":{\"a\":\"trunc",
    "{\"cid\":\"c\"} garbage",
    "{\"cid\":\"c\"}{\"cid\":\"d\"}",
    "{\"cid\":\"c\",}",
    "{\"cid\":\"c\",\"attributes\":{\"a\":\"\\q\"}}",
    "{\"cid\":\"c\",\"attributes\":{\"a\":\"\\u00\"}}",
    "{\"cid\":\"c\",\"attributes\":{\"a\":\"\\ud800\"}}",
    "{\"cid\":\"c\",\"attributes\":{\"a\":\"\\u0000\"}}",
    "{\"cid\":\"c\",\"attributes\":{\"a\":\"\xff\"}}",
    "{\"cid\":\"c\",\"attributes\":{\"a\":\"\xc3\"}}",
    "{\"cid\":\"c\",\"attributes\":{\"a\":\"\xed\xa0\x80\"}}",
    "{\"cid\":\"c\",\"attributes\":{\"\xc0\xaf\":1}}",
    "{\"cid\":\"c\",\"attributes\":{\"a\":\"tab\there\"}}",
    "{\"cid\":\"c\",\"attributes\":{\"a\":012}}",
    "{\"cid\":\"c\",\"attributes\":{\"a\":1.}}",
    "{\"cid\":\"c\",\"attributes\":{\"a\":99999999999999999999}}",
    "{\"cid\":\"c\",\"attributes\":{\"a\":1e999}}",
    "{\"cid\":\"c\",\"attributes\":{\"a\":NaN}}",
    "{\"cid\":\"c\",\"attributes\":{'a':1}}",
    "[{\"cid\":\"c\"}]",
    "\"cid\"",
    /* Shape */
    "{}",
    "{\"cid\":\"\"}",
    "{\"cid\":42}",
    "{\"cid\":\"c\",\"id\":1.5}",
    "{\"cid\":\"c\",\"id\":\"\"}",
    "{\"cid\":\"c\",\"id\":[1]}",
    "{\"cid\":\"c\",\"state\":\"sleeping\"}",
    "{\"cid\":\"c\",\"state\":1}",
    "{\"cid\":\"c\",\"rev\":-1}",
    "{\"cid\":\"c\",\"rev\":\"1\"}",
    "{\"cid\":\"c\",\"modified\":\"yesterday\"}",
    "{\"cid\":\"c\",\"modified\":\"2026-02-30T00:00:00.000000Z\"}",
    /* Valid, but past what GDateTime holds once in UTC (year 10000). */
    "{\"cid\":\"c\",\"modified\":\"9999-12-31T23:59:59-14:00\"}",
    "{\"cid\":\"c\",\"modified\":\"0001-01-01T00:00:00+14:00\"}",
    "{\"cid\":\"c\",\"modified\":0}",
    "{\"cid\":\"c\",\"etag\":1}",
    "{\"cid\":\"c\",\"error\":false}",
    "{\"cid\":\"c\",\"attributes\":null}",
    "{\"cid\":\"c\",\"attributes\":[]}",
    "{\"cid\":\"c\",\"base\":\"x\"}",
    "{\"cid\":\"c\",\"conflict\":[]}",
  };

  for (guint i = 0; i < G_N_ELEMENTS (lines); i++)
    {
      g_autoptr(GError) error = NULL;
      g_autoptr(TetherRecord) record = NULL;
      g_autofree char *escaped = g_strescape (lines[i], NULL);

      g_test_message ("%s", escaped);
      record = record_from_string (lines[i], &error);
      g_assert_null (record);
      g_assert_error (error, TETHER_RECORD_ERROR, TETHER_RECORD_ERROR_INVALID);
    }

  /* Nested too deeply for the store, safely refused. */
  {
    g_autoptr(GString) line = g_string_new ("{\"cid\":\"c\",\"attributes\":{\"a\":");
    g_autoptr(GError) error = NULL;
    g_autoptr(TetherRecord) record = NULL;

    for (guint i = 0; i < 100000; i++)
      g_string_append_c (line, '[');
    for (guint i = 0; i < 100000; i++)
      g_string_append_c (line, ']');
    g_string_append (line, "}}");

    record = record_from_string (line->str, &error);
    g_assert_null (record);
    g_assert_error (error, TETHER_RECORD_ERROR, TETHER_RECORD_ERROR_INVALID);
  }
}

static void
test_deep_but_valid (void)
{
  g_autoptr(GString) line = g_string_new ("{\"cid\":\"c\",\"attributes\":{\"a\":");
  g_autoptr(GError) error = NULL;
  TetherRecord *record;
  g_autoptr(GBytes) bytes = NULL;
  g_autoptr(GBytes) regenerated = NULL;
  /* The line and the attributes take two levels. */
  guint depth = TETHER_JSON_SCAN_MAX_DEPTH - 2;

  for (guint i = 0; i < depth; i++)
    g_string_append_c (line, '[');
  for (guint i = 0; i < depth; i++)
    g_string_append_c (line, ']');
  g_string_append (line, "}}");

  record = record_from_string (line->str, &error);
  g_assert_no_error (error);
  g_assert_nonnull (tether_record_get_attribute (record, "a"));

  bytes = tether_record_serialize (record);
  tether_record_set_etag (record, "x");
  tether_record_set_etag (record, NULL);
  regenerated = tether_record_serialize (record);
  g_assert_true (tether_json_scan_validate (g_bytes_get_data (regenerated, NULL),
                                            g_bytes_get_size (regenerated), NULL));

  g_assert_finalize_object (record);
}

static void
test_writer_sanitizes (void)
{
  TetherRecord *record = tether_record_new ();
  g_autoptr(JsonNode) infinite = json_node_init_double (json_node_alloc (), INFINITY);
  g_autoptr(GBytes) line = NULL;
  g_autoptr(TetherRecord) loaded = NULL;
  g_autoptr(GError) error = NULL;

  /* JSON has no infinity, and strings must be UTF-8: what json-glib lets
   * in must not make a line the store cannot read back. */
  tether_record_set_attribute (record, "inf", infinite);
  tether_record_set_string (record, "bad", "a\xff" "b");

  line = tether_record_serialize (record);
  loaded = tether_record_new_from_line (line, &error);
  g_assert_no_error (error);
  g_assert_true (JSON_NODE_HOLDS_NULL (tether_record_get_attribute (loaded, "inf")));
  g_assert_cmpstr (json_node_get_string (tether_record_get_attribute (loaded, "bad")), ==, "a\xef\xbf\xbd" "b");

  g_assert_finalize_object (record);
}

int
main (int   argc,
      char *argv[])
{
  tether_test_init (&argc, &argv);

  g_test_add_func ("/record/new", test_new);
  g_test_add_func ("/record/properties", test_properties);
  g_test_add_func ("/record/set-attribute", test_set_attribute);
  g_test_add_func ("/record/unset-attribute", test_unset_attribute);
  g_test_add_func ("/record/update", test_update);
  g_test_add_func ("/record/revision-and-modified", test_revision_and_modified);
  g_test_add_func ("/record/edit-state-rules", test_edit_state_rules);
  g_test_add_func ("/record/new-from-server", test_new_from_server);
  g_test_add_func ("/record/apply-server", test_apply_server);
  g_test_add_func ("/record/title", test_title);
  g_test_add_func ("/record/title-notify", test_title_notify);
  g_test_add_func ("/record/title-lazy-notify", test_title_lazy_notify);
  g_test_add_func ("/record/id", test_id);
  g_test_add_func ("/record/diff", test_diff);
  g_test_add_func ("/record/to-json-and-foreach", test_to_json_and_foreach);
  g_test_add_func ("/record/conflict", test_conflict);
  g_test_add_func ("/record/serialize/format", test_serialize_format);
  g_test_add_func ("/record/serialize/round-trip", test_round_trip);
  g_test_add_func ("/record/serialize/lazy-bookkeeping", test_lazy_bookkeeping);
  g_test_add_func ("/record/serialize/sent", test_sent);
  g_test_add_func ("/record/serialize/writer-sanitizes", test_writer_sanitizes);
  g_test_add_func ("/record/line/from-buffer", test_from_buffer);
  g_test_add_func ("/record/line/hand-written", test_hand_written_line);
  g_test_add_func ("/record/line/modified-dates", test_modified_dates);
  g_test_add_func ("/record/line/text", test_text);
  g_test_add_func ("/record/line/invalid", test_invalid_lines);
  g_test_add_func ("/record/line/deep-but-valid", test_deep_but_valid);

  return g_test_run ();
}
