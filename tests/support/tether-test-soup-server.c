/* tether-test-soup-server.c
 *
 * Copyright 2026 The Tether authors
 *
 * SPDX-License-Identifier: GPL-3.0-or-later
 */

#include "config.h"

#include <string.h>

#include <libsoup/soup.h>

#include "tether-test-soup-server.h"

#define DEFAULT_PAGE_LIMIT 10

typedef struct
{
  TetherTestFault fault;
  guint           remaining;
} QueuedFault;

struct _TetherTestSoupServer
{
  GThread          *thread;
  GMainContext     *context;
  GMainLoop        *loop;
  GTlsCertificate  *certificate;
  char             *url;

  GMutex            mutex;
  GCond             cond;
  gboolean          ready;
  GError           *start_error;

  /* Protected by the mutex. */
  char             *collection;
  JsonArray        *records;
  GQueue            faults;
  GPtrArray        *requests;
  char             *required_authorization;
  gboolean          etags;

  /* Server thread only. */
  SoupServer       *server;
  GList            *pending;
};

/* What a request is answered with, before it is written out. */
typedef struct
{
  guint       status;
  JsonNode   *json;
  GBytes     *raw;
  char       *content_type;
  char       *location;
  char       *link;
  char       *retry_after;
  gint64      total_count;
  gboolean    chunked;
  gboolean    not_modified;
  char       *etag;
} Response;

typedef enum
{
  PENDING_DELAY,
  PENDING_DROP,
} PendingKind;

/* A reply held back (DELAY) or a connection about to be dropped. */
typedef struct
{
  TetherTestSoupServer *self;
  PendingKind           kind;
  SoupServerMessage    *msg;
  Response             *response;
  GSource              *source;
} Pending;

static Response *
response_new (guint status)
{
  Response *response = g_new0 (Response, 1);

  response->status = status;
  response->total_count = -1;

  return response;
}

static void
response_free (Response *response)
{
  g_clear_pointer (&response->json, json_node_unref);
  g_clear_pointer (&response->raw, g_bytes_unref);
  g_clear_pointer (&response->content_type, g_free);
  g_clear_pointer (&response->location, g_free);
  g_clear_pointer (&response->link, g_free);
  g_clear_pointer (&response->retry_after, g_free);
  g_clear_pointer (&response->etag, g_free);
  g_free (response);
}

G_DEFINE_AUTOPTR_CLEANUP_FUNC (Response, response_free)

static Response *
response_new_json (guint       status,
                   const char *json)
{
  Response *response = response_new (status);

  response->json = json_from_string (json, NULL);
  g_assert_nonnull (response->json);

  return response;
}

static void
fault_clear (TetherTestFault *fault)
{
  g_clear_pointer ((char **) &fault->method, g_free);
  g_clear_pointer ((char **) &fault->path, g_free);
  g_clear_pointer ((char **) &fault->body, g_free);
  g_clear_pointer ((char **) &fault->content_type, g_free);
  g_clear_pointer ((char **) &fault->retry_after, g_free);
  g_clear_pointer ((char **) &fault->location, g_free);
  g_clear_pointer ((char **) &fault->id_json, g_free);
  g_clear_pointer ((char **) &fault->link, g_free);
}

static void
queued_fault_free (QueuedFault *queued)
{
  fault_clear (&queued->fault);
  g_free (queued);
}

void
tether_test_request_free (TetherTestRequest *request)
{
  if (request == NULL)
    return;

  g_free (request->method);
  g_free (request->path);
  g_free (request->query);
  g_free (request->target);
  g_free (request->authorization);
  g_free (request->if_match);
  g_free (request->if_none_match);
  g_free (request->content_type);
  g_free (request->user_agent);
  g_free (request->body);
  g_free (request);
}

static TetherTestRequest *
request_copy (const TetherTestRequest *request)
{
  TetherTestRequest *copy = g_new0 (TetherTestRequest, 1);

  copy->method = g_strdup (request->method);
  copy->path = g_strdup (request->path);
  copy->query = g_strdup (request->query);
  copy->target = g_strdup (request->target);
  copy->authorization = g_strdup (request->authorization);
  copy->if_match = g_strdup (request->if_match);
  copy->if_none_match = g_strdup (request->if_none_match);
  copy->content_type = g_strdup (request->content_type);
  copy->user_agent = g_strdup (request->user_agent);
  copy->body = g_strdup (request->body);
  copy->status = request->status;
  copy->fault = request->fault;

  return copy;
}

/*
 * The collection
 */

static char *
id_to_text (JsonNode *id)
{
  if (id == NULL || !JSON_NODE_HOLDS_VALUE (id))
    return NULL;

  if (json_node_get_value_type (id) == G_TYPE_INT64)
    return g_strdup_printf ("%" G_GINT64_FORMAT, json_node_get_int (id));

  if (json_node_get_value_type (id) == G_TYPE_STRING)
    return g_strdup (json_node_get_string (id));

  return NULL;
}

static gint
find_record (TetherTestSoupServer *self,
             const char           *id)
{
  guint n = json_array_get_length (self->records);

  for (guint i = 0; i < n; i++)
    {
      JsonObject *record = json_array_get_object_element (self->records, i);
      g_autofree char *text = id_to_text (json_object_get_member (record, "id"));

      if (g_strcmp0 (text, id) == 0)
        return (gint) i;
    }

  return -1;
}

static gint64
max_numeric_id (TetherTestSoupServer *self)
{
  guint n = json_array_get_length (self->records);
  gint64 max = 0;

  for (guint i = 0; i < n; i++)
    {
      JsonObject *record = json_array_get_object_element (self->records, i);
      JsonNode *id = json_object_get_member (record, "id");

      if (id != NULL && JSON_NODE_HOLDS_VALUE (id) &&
          json_node_get_value_type (id) == G_TYPE_INT64)
        max = MAX (max, json_node_get_int (id));
    }

  return max;
}

static JsonNode *
object_node_copy (JsonObject *object)
{
  g_autoptr(JsonNode) node = json_node_new (JSON_NODE_OBJECT);
  g_autofree char *text = NULL;

  /* A deep copy: json_node_copy() shares the object, and a fault that
   * edits a reply (say, strips its id) must not edit the stored record. */
  json_node_set_object (node, object);
  text = json_to_string (node, FALSE);

  return json_from_string (text, NULL);
}

static char *
serialize (JsonNode *node)
{
  return json_to_string (node, FALSE);
}

static char *
compute_etag (const char *data,
              gsize       size)
{
  g_autofree char *checksum = g_compute_checksum_for_data (G_CHECKSUM_SHA1, (const guchar *) data, size);

  /* The form Express (json-server) uses: W/"<length in hex>-<hash>". */
  return g_strdup_printf ("W/\"%" G_GSIZE_MODIFIER "x-%.27s\"", size, checksum);
}

static char *
record_etag (JsonObject *record)
{
  g_autoptr(JsonNode) node = object_node_copy (record);
  g_autofree char *text = serialize (node);

  return compute_etag (text, strlen (text));
}

static char *
page_url (SoupServerMessage *msg,
          const char        *path,
          gint64             page,
          gint64             limit)
{
  GUri *uri = soup_server_message_get_uri (msg);
  g_autofree char *query = NULL;
  g_autoptr(GUri) link = NULL;

  query = g_strdup_printf ("_page=%" G_GINT64_FORMAT "&_limit=%" G_GINT64_FORMAT, page, limit);
  link = g_uri_build (SOUP_HTTP_URI_FLAGS,
                      g_uri_get_scheme (uri), NULL,
                      g_uri_get_host (uri), g_uri_get_port (uri),
                      path, query, NULL);

  return g_uri_to_string (link);
}

static gint64
query_int (GHashTable *query,
           const char *name,
           gint64      fallback)
{
  const char *value;
  gint64 number;

  if (query == NULL || (value = g_hash_table_lookup (query, name)) == NULL)
    return fallback;

  if (!g_ascii_string_to_signed (value, 10, G_MININT64, G_MAXINT64, &number, NULL))
    return fallback;

  return number;
}

/* GET /collection, paginated like json-server 0.17.4 (utils.getPage and
 * the plural router). */
static Response *
list_records (TetherTestSoupServer *self,
              SoupServerMessage    *msg,
              const char           *path,
              GHashTable           *query)
{
  g_autoptr(JsonArray) items = json_array_new ();
  Response *response = response_new (SOUP_STATUS_OK);
  guint n = json_array_get_length (self->records);
  gboolean has_page = query != NULL && g_hash_table_contains (query, "_page");
  gboolean has_limit = query != NULL && g_hash_table_contains (query, "_limit");
  gint64 start = 0;
  gint64 end = n;

  if (has_page || has_limit)
    response->total_count = n;

  if (has_page)
    {
      gint64 page = MAX (1, query_int (query, "_page", 1));
      gint64 limit = query_int (query, "_limit", DEFAULT_PAGE_LIMIT);
      g_autoptr(GString) link = g_string_new (NULL);

      if (limit <= 0)
        limit = DEFAULT_PAGE_LIMIT;

      start = MIN ((page - 1) * limit, (gint64) n);
      end = MIN (page * limit, (gint64) n);

      if (end > start)
        {
          const char *rels[4] = { NULL, };
          gint64 targets[4];
          guint n_rels = 0;

          if (end - start != n)
            {
              rels[n_rels] = "first";
              targets[n_rels++] = 1;
            }
          if (page > 1)
            {
              rels[n_rels] = "prev";
              targets[n_rels++] = page - 1;
            }
          if (page * limit < n)
            {
              rels[n_rels] = "next";
              targets[n_rels++] = page + 1;
            }
          if (end - start != n)
            {
              rels[n_rels] = "last";
              targets[n_rels++] = (n + limit - 1) / limit;
            }

          for (guint i = 0; i < n_rels; i++)
            {
              g_autofree char *url = page_url (msg, path, targets[i], limit);

              g_string_append_printf (link, "%s<%s>; rel=\"%s\"",
                                      i > 0 ? ", " : "", url, rels[i]);
            }
        }

      response->link = g_string_free (g_steal_pointer (&link), FALSE);
    }
  else if (has_limit)
    {
      end = MIN (MAX (0, query_int (query, "_limit", n)), (gint64) n);
    }

  for (gint64 i = start; i < end; i++)
    json_array_add_element (items, object_node_copy (json_array_get_object_element (self->records, i)));

  response->json = json_node_new (JSON_NODE_ARRAY);
  json_node_set_array (response->json, items);

  return response;
}

static JsonObject *
parse_body_object (SoupServerMessage *msg)
{
  SoupMessageBody *body = soup_server_message_get_request_body (msg);
  g_autoptr(GBytes) bytes = soup_message_body_flatten (body);
  g_autoptr(JsonParser) parser = json_parser_new ();
  JsonNode *root;

  if (!json_parser_load_from_data (parser,
                                   g_bytes_get_data (bytes, NULL),
                                   g_bytes_get_size (bytes),
                                   NULL))
    return NULL;

  root = json_parser_get_root (parser);
  if (root == NULL || !JSON_NODE_HOLDS_OBJECT (root))
    return NULL;

  return json_object_ref (json_node_get_object (root));
}

static Response *
create_record (TetherTestSoupServer *self,
               SoupServerMessage    *msg,
               const char           *path,
               const char           *forced_id_json)
{
  g_autoptr(JsonObject) body = NULL;
  g_autofree char *id_text = NULL;
  g_autofree char *location = NULL;
  g_autofree char *segment = NULL;
  JsonObject *record;
  Response *response;
  GUri *uri;

  body = parse_body_object (msg);
  if (body == NULL)
    return response_new_json (SOUP_STATUS_BAD_REQUEST, "{\"error\": \"The body is not a JSON object\"}");

  record = json_object_new ();
  {
    g_autoptr(GList) members = json_object_get_members (body);

    for (GList *l = members; l != NULL; l = l->next)
      json_object_set_member (record, l->data,
                              json_node_copy (json_object_get_member (body, l->data)));
  }

  if (forced_id_json != NULL)
    json_object_set_member (record, "id", json_from_string (forced_id_json, NULL));
  else if (!json_object_has_member (record, "id"))
    json_object_set_int_member (record, "id", max_numeric_id (self) + 1);

  /* An id that is neither a string nor an integer (SET_ID can give one)
   * is stored as it is; it cannot collide. */
  id_text = id_to_text (json_object_get_member (record, "id"));
  if (id_text != NULL && find_record (self, id_text) >= 0)
    {
      json_object_unref (record);
      return response_new_json (SOUP_STATUS_INTERNAL_SERVER_ERROR,
                                "{\"error\": \"Insert failed, duplicate id\"}");
    }

  json_array_add_object_element (self->records, record);

  response = response_new (SOUP_STATUS_CREATED);
  response->json = object_node_copy (record);

  uri = soup_server_message_get_uri (msg);
  segment = g_uri_escape_string (id_text != NULL ? id_text : "", NULL, FALSE);
  location = g_strdup_printf ("%s://%s:%d%s/%s",
                              g_uri_get_scheme (uri), g_uri_get_host (uri),
                              g_uri_get_port (uri), path, segment);
  response->location = g_steal_pointer (&location);

  return response;
}

static Response *
process_request (TetherTestSoupServer *self,
                 SoupServerMessage    *msg,
                 const char           *forced_id_json)
{
  const char *method = soup_server_message_get_method (msg);
  SoupMessageHeaders *headers = soup_server_message_get_request_headers (msg);
  GUri *uri = soup_server_message_get_uri (msg);
  const char *path = g_uri_get_path (uri);
  g_autofree char *collection_path = g_strconcat ("/", self->collection, NULL);
  g_autoptr(GHashTable) query = NULL;
  g_autofree char *id = NULL;
  const char *rest;
  const char *if_match;
  gint index;

  if (!g_str_has_prefix (path, collection_path))
    return response_new_json (SOUP_STATUS_NOT_FOUND, "{}");

  rest = path + strlen (collection_path);

  if (g_uri_get_query (uri) != NULL)
    query = soup_form_decode (g_uri_get_query (uri));

  if (rest[0] == '\0' || strcmp (rest, "/") == 0)
    {
      if (strcmp (method, SOUP_METHOD_GET) == 0)
        return list_records (self, msg, collection_path, query);

      if (strcmp (method, SOUP_METHOD_POST) == 0)
        return create_record (self, msg, collection_path, forced_id_json);

      return response_new_json (SOUP_STATUS_NOT_FOUND, "{}");
    }

  /* One segment after the collection; the server keeps raw paths, so an
   * id's %2F is still escaped here. */
  if (rest[0] != '/' || strchr (rest + 1, '/') != NULL)
    return response_new_json (SOUP_STATUS_NOT_FOUND, "{}");

  id = g_uri_unescape_string (rest + 1, NULL);
  if (id == NULL)
    return response_new_json (SOUP_STATUS_BAD_REQUEST, "{\"error\": \"Bad id\"}");

  index = find_record (self, id);
  if (index < 0)
    return response_new_json (SOUP_STATUS_NOT_FOUND, "{}");

  if_match = soup_message_headers_get_one (headers, "If-Match");
  if (if_match != NULL && strcmp (method, SOUP_METHOD_GET) != 0)
    {
      g_autofree char *etag = record_etag (json_array_get_object_element (self->records, index));

      if (strcmp (if_match, "*") != 0 && strcmp (if_match, etag) != 0)
        return response_new_json (SOUP_STATUS_PRECONDITION_FAILED,
                                  "{\"error\": \"The record has changed\"}");
    }

  if (strcmp (method, SOUP_METHOD_GET) == 0)
    {
      Response *response = response_new (SOUP_STATUS_OK);

      response->json = object_node_copy (json_array_get_object_element (self->records, index));
      return response;
    }

  if (strcmp (method, "PATCH") == 0 || strcmp (method, SOUP_METHOD_PUT) == 0)
    {
      g_autoptr(JsonObject) body = parse_body_object (msg);
      JsonObject *record = json_array_get_object_element (self->records, index);
      JsonNode *id_node;
      g_autoptr(GList) members = NULL;
      Response *response;

      if (body == NULL)
        return response_new_json (SOUP_STATUS_BAD_REQUEST, "{\"error\": \"The body is not a JSON object\"}");

      id_node = json_node_copy (json_object_get_member (record, "id"));

      if (strcmp (method, SOUP_METHOD_PUT) == 0)
        {
          g_autoptr(GList) old = json_object_get_members (record);

          for (GList *l = old; l != NULL; l = l->next)
            json_object_remove_member (record, l->data);
        }

      members = json_object_get_members (body);
      for (GList *l = members; l != NULL; l = l->next)
        json_object_set_member (record, l->data,
                                json_node_copy (json_object_get_member (body, l->data)));

      json_object_set_member (record, "id", id_node);

      response = response_new (SOUP_STATUS_OK);
      response->json = object_node_copy (record);
      return response;
    }

  if (strcmp (method, SOUP_METHOD_DELETE) == 0)
    {
      json_array_remove_element (self->records, index);
      return response_new_json (SOUP_STATUS_OK, "{}");
    }

  return response_new_json (SOUP_STATUS_NOT_FOUND, "{}");
}

/*
 * Faults
 */

static QueuedFault *
take_fault (TetherTestSoupServer *self,
            const char           *method,
            const char           *path)
{
  for (GList *l = self->faults.head; l != NULL; l = l->next)
    {
      QueuedFault *queued = l->data;

      if (queued->fault.method != NULL && g_ascii_strcasecmp (queued->fault.method, method) != 0)
        continue;

      if (queued->fault.path != NULL && strcmp (queued->fault.path, path) != 0)
        continue;

      if (--queued->remaining == 0)
        {
          g_queue_delete_link (&self->faults, l);
          return queued;
        }

      /* Still armed for later requests: hand out a copy. */
      {
        QueuedFault *copy = g_new0 (QueuedFault, 1);

        copy->fault = queued->fault;
        copy->fault.method = g_strdup (queued->fault.method);
        copy->fault.path = g_strdup (queued->fault.path);
        copy->fault.body = g_strdup (queued->fault.body);
        copy->fault.content_type = g_strdup (queued->fault.content_type);
        copy->fault.retry_after = g_strdup (queued->fault.retry_after);
        copy->fault.location = g_strdup (queued->fault.location);
        copy->fault.id_json = g_strdup (queued->fault.id_json);
        copy->fault.link = g_strdup (queued->fault.link);

        return copy;
      }
    }

  return NULL;
}

static void
strip_ids (JsonNode *node)
{
  if (JSON_NODE_HOLDS_OBJECT (node))
    {
      json_object_remove_member (json_node_get_object (node), "id");
    }
  else if (JSON_NODE_HOLDS_ARRAY (node))
    {
      JsonArray *array = json_node_get_array (node);

      for (guint i = 0; i < json_array_get_length (array); i++)
        strip_ids (json_array_get_element (array, i));
    }
}

static GBytes *
huge_body (gsize size)
{
  static const char prefix[] = "[{\"id\": 1, \"pad\": \"";
  static const char suffix[] = "\"}]";
  gsize overhead = strlen (prefix) + strlen (suffix);
  GString *body;

  size = MAX (size, overhead);
  body = g_string_sized_new (size);
  g_string_append (body, prefix);
  while (body->len < size - strlen (suffix))
    g_string_append_c (body, 'x');
  g_string_append (body, suffix);

  return g_string_free_to_bytes (body);
}

/* Applies a fault that changes a reply already made. */
static void
apply_reply_fault (Response              *response,
                   const TetherTestFault *fault)
{
  switch (fault->kind)
    {
    case TETHER_TEST_FAULT_MALFORMED_JSON:
      g_clear_pointer (&response->json, json_node_unref);
      response->raw = g_bytes_new_static ("[{\"id\": 1, \"title\": \"Malformed", 30);
      break;

    case TETHER_TEST_FAULT_TRUNCATED_JSON:
      if (response->json != NULL)
        {
          g_autofree char *text = serialize (response->json);

          response->raw = g_bytes_new (text, strlen (text) / 2);
          g_clear_pointer (&response->json, json_node_unref);
        }
      break;

    case TETHER_TEST_FAULT_NOT_ARRAY:
      if (response->json != NULL)
        {
          g_autoptr(JsonObject) object = json_object_new ();

          json_object_set_member (object, "records", g_steal_pointer (&response->json));
          response->json = json_node_new (JSON_NODE_OBJECT);
          json_node_set_object (response->json, object);
        }
      break;

    case TETHER_TEST_FAULT_NO_ID:
      if (response->json != NULL)
        strip_ids (response->json);
      break;

    case TETHER_TEST_FAULT_CONTENT_TYPE:
      g_free (response->content_type);
      response->content_type = g_strdup (fault->content_type ? fault->content_type : "text/html");
      break;

    case TETHER_TEST_FAULT_LINK:
      g_free (response->link);
      response->link = g_strdup (fault->link);
      break;

    case TETHER_TEST_FAULT_NONE:
    case TETHER_TEST_FAULT_DROP:
    case TETHER_TEST_FAULT_DROP_UNPROCESSED:
    case TETHER_TEST_FAULT_DROP_MID_BODY:
    case TETHER_TEST_FAULT_STATUS:
    case TETHER_TEST_FAULT_DELAY:
    case TETHER_TEST_FAULT_HUGE_BODY:
    case TETHER_TEST_FAULT_REDIRECT:
    case TETHER_TEST_FAULT_SET_ID:
    default:
      break;
    }
}

/* Serializes the body and decides on the ETag and a 304. */
static void
response_finish (TetherTestSoupServer *self,
                 Response             *response,
                 SoupServerMessage    *msg)
{
  SoupMessageHeaders *headers = soup_server_message_get_request_headers (msg);
  const char *if_none_match;

  if (response->json != NULL)
    {
      g_autofree char *text = serialize (response->json);
      gsize length = strlen (text);

      response->raw = g_bytes_new_take (g_steal_pointer (&text), length);
      g_clear_pointer (&response->json, json_node_unref);
    }

  if (response->content_type == NULL && response->raw != NULL)
    response->content_type = g_strdup ("application/json; charset=utf-8");

  if (!self->etags || response->raw == NULL || !SOUP_STATUS_IS_SUCCESSFUL (response->status))
    return;

  response->etag = compute_etag (g_bytes_get_data (response->raw, NULL),
                                 g_bytes_get_size (response->raw));

  if_none_match = soup_message_headers_get_one (headers, "If-None-Match");
  if (strcmp (soup_server_message_get_method (msg), SOUP_METHOD_GET) == 0 &&
      if_none_match != NULL && strcmp (if_none_match, response->etag) == 0)
    {
      response->status = SOUP_STATUS_NOT_MODIFIED;
      response->not_modified = TRUE;
      g_clear_pointer (&response->raw, g_bytes_unref);
    }
}

/* Writes @response into @msg. */
static void
response_write (Response          *response,
                SoupServerMessage *msg)
{
  SoupMessageHeaders *headers = soup_server_message_get_response_headers (msg);
  SoupMessageBody *body = soup_server_message_get_response_body (msg);

  soup_server_message_set_status (msg, response->status, NULL);

  if (response->total_count >= 0)
    {
      g_autofree char *count = g_strdup_printf ("%" G_GINT64_FORMAT, response->total_count);

      soup_message_headers_replace (headers, "X-Total-Count", count);
      soup_message_headers_replace (headers, "Access-Control-Expose-Headers", "X-Total-Count, Link");
    }

  if (response->link != NULL)
    soup_message_headers_replace (headers, "Link", response->link);
  if (response->location != NULL)
    soup_message_headers_replace (headers, "Location", response->location);
  if (response->retry_after != NULL)
    soup_message_headers_replace (headers, "Retry-After", response->retry_after);
  if (response->etag != NULL)
    soup_message_headers_replace (headers, "ETag", response->etag);

  if (response->status == SOUP_STATUS_UNAUTHORIZED)
    soup_message_headers_replace (headers, "WWW-Authenticate", "Basic realm=\"tether-test\"");

  if (response->raw != NULL && g_bytes_get_size (response->raw) > 0 && !response->not_modified)
    {
      soup_message_headers_replace (headers, "Content-Type", response->content_type);

      if (response->chunked)
        soup_message_headers_set_encoding (headers, SOUP_ENCODING_CHUNKED);

      soup_message_body_append_bytes (body, response->raw);
    }

  soup_message_body_complete (body);
}

/*
 * Held back replies and dropped connections (server thread)
 */

static void
pending_free (Pending *pending)
{
  if (pending->source != NULL)
    {
      g_source_destroy (pending->source);
      g_clear_pointer (&pending->source, g_source_unref);
    }

  g_clear_pointer (&pending->response, response_free);
  g_clear_object (&pending->msg);
  g_free (pending);
}

static void
pending_remove (Pending *pending)
{
  pending->self->pending = g_list_remove (pending->self->pending, pending);
  g_clear_pointer (&pending->source, g_source_unref);
  pending_free (pending);
}

static gboolean
pending_fire_cb (gpointer user_data)
{
  Pending *pending = user_data;

  if (pending->kind == PENDING_DELAY)
    {
      response_write (pending->response, pending->msg);
      soup_server_message_unpause (pending->msg);
    }
  else
    {
      GIOStream *stream;

      /* We hold a reference, so the message outlives
       * steal_connection(), which may drop the server's. */
      stream = soup_server_message_steal_connection (pending->msg);
      if (stream != NULL)
        {
          g_io_stream_close (stream, NULL, NULL);
          g_object_unref (stream);
        }
    }

  pending_remove (pending);

  return G_SOURCE_REMOVE;
}

static void
pending_add (TetherTestSoupServer *self,
             PendingKind           kind,
             SoupServerMessage    *msg,
             Response             *response,
             guint                 delay_ms,
             gboolean              pause)
{
  Pending *pending = g_new0 (Pending, 1);

  pending->self = self;
  pending->kind = kind;
  pending->msg = g_object_ref (msg);
  pending->response = response;

  if (pause)
    soup_server_message_pause (msg);

  pending->source = delay_ms > 0 ? g_timeout_source_new (delay_ms) : g_idle_source_new ();
  g_source_set_callback (pending->source, pending_fire_cb, pending, NULL);
  g_source_attach (pending->source, self->context);

  self->pending = g_list_prepend (self->pending, pending);
}

static void
mid_body_wrote_chunk_cb (SoupServerMessage    *msg,
                         TetherTestSoupServer *self)
{
  g_signal_handlers_disconnect_by_func (msg, mid_body_wrote_chunk_cb, self);

  /* The message is being written: drop the connection from an idle, with
   * the half body sent. */
  pending_add (self, PENDING_DROP, msg, NULL, 0, FALSE);
}

/*
 * The handler (server thread)
 */

static TetherTestRequest *
record_request (TetherTestSoupServer *self,
                SoupServerMessage    *msg)
{
  SoupMessageHeaders *headers = soup_server_message_get_request_headers (msg);
  SoupMessageBody *body = soup_server_message_get_request_body (msg);
  GUri *uri = soup_server_message_get_uri (msg);
  TetherTestRequest *request = g_new0 (TetherTestRequest, 1);

  request->method = g_strdup (soup_server_message_get_method (msg));
  request->path = g_strdup (g_uri_get_path (uri));
  request->query = g_strdup (g_uri_get_query (uri));
  request->target = request->query != NULL
                    ? g_strconcat (request->path, "?", request->query, NULL)
                    : g_strdup (request->path);
  request->authorization = g_strdup (soup_message_headers_get_one (headers, "Authorization"));
  request->if_match = g_strdup (soup_message_headers_get_one (headers, "If-Match"));
  request->if_none_match = g_strdup (soup_message_headers_get_one (headers, "If-None-Match"));
  request->content_type = g_strdup (soup_message_headers_get_one (headers, "Content-Type"));
  request->user_agent = g_strdup (soup_message_headers_get_one (headers, "User-Agent"));

  if (body->length > 0)
    {
      g_autoptr(GBytes) bytes = soup_message_body_flatten (body);

      request->body = g_strndup (g_bytes_get_data (bytes, NULL), g_bytes_get_size (bytes));
    }

  g_ptr_array_add (self->requests, request);

  return request;
}

static void
handler_cb (SoupServer        *server,
            SoupServerMessage *msg,
            const char        *path,
            GHashTable        *query,
            gpointer           user_data)
{
  TetherTestSoupServer *self = user_data;
  g_autoptr(Response) response = NULL;
  QueuedFault *queued = NULL;
  TetherTestFault *fault = NULL;
  TetherTestRequest *request;
  const char *authorization;

  g_mutex_lock (&self->mutex);

  request = record_request (self, msg);
  authorization = request->authorization;

  if (self->required_authorization != NULL &&
      g_strcmp0 (authorization, self->required_authorization) != 0)
    {
      response = response_new_json (SOUP_STATUS_UNAUTHORIZED, "{\"error\": \"Unauthorized\"}");
      response_finish (self, response, msg);
      request->status = response->status;
      response_write (response, msg);
      goto out;
    }

  queued = take_fault (self, request->method, request->path);
  if (queued != NULL)
    {
      fault = &queued->fault;
      request->fault = fault->kind;
    }

  switch (fault != NULL ? fault->kind : TETHER_TEST_FAULT_NONE)
    {
    case TETHER_TEST_FAULT_DROP_UNPROCESSED:
      request->status = 0;
      pending_add (self, PENDING_DROP, msg, NULL, 0, TRUE);
      goto out;

    case TETHER_TEST_FAULT_STATUS:
      if (fault->process)
        response_free (process_request (self, msg, NULL));
      response = response_new (fault->status != 0 ? fault->status : SOUP_STATUS_INTERNAL_SERVER_ERROR);
      response->raw = g_bytes_new (fault->body ? fault->body : "{}",
                                   strlen (fault->body ? fault->body : "{}"));
      response->content_type = g_strdup (fault->content_type ? fault->content_type : "application/json");
      response->retry_after = g_strdup (fault->retry_after);
      break;

    case TETHER_TEST_FAULT_REDIRECT:
      response = response_new (fault->status != 0 ? fault->status : SOUP_STATUS_FOUND);
      response->location = g_strconcat (fault->location ? fault->location : "", request->target, NULL);
      break;

    case TETHER_TEST_FAULT_HUGE_BODY:
      response = response_new (SOUP_STATUS_OK);
      response->raw = huge_body (fault->size);
      response->content_type = g_strdup ("application/json");
      response->chunked = !fault->content_length;
      break;

    case TETHER_TEST_FAULT_SET_ID:
      response = process_request (self, msg, fault->id_json);
      break;

    case TETHER_TEST_FAULT_DROP:
      response_free (process_request (self, msg, NULL));
      request->status = 0;
      pending_add (self, PENDING_DROP, msg, NULL, 0, TRUE);
      goto out;

    case TETHER_TEST_FAULT_NONE:
    case TETHER_TEST_FAULT_DROP_MID_BODY:
    case TETHER_TEST_FAULT_DELAY:
    case TETHER_TEST_FAULT_MALFORMED_JSON:
    case TETHER_TEST_FAULT_TRUNCATED_JSON:
    case TETHER_TEST_FAULT_NOT_ARRAY:
    case TETHER_TEST_FAULT_NO_ID:
    case TETHER_TEST_FAULT_CONTENT_TYPE:
    case TETHER_TEST_FAULT_LINK:
    default:
      response = process_request (self, msg, NULL);
      if (fault != NULL)
        apply_reply_fault (response, fault);
      break;
    }

  response_finish (self, response, msg);
  request->status = response->status;

  if (fault != NULL && fault->kind == TETHER_TEST_FAULT_DELAY)
    {
      pending_add (self, PENDING_DELAY, msg, g_steal_pointer (&response), fault->delay_ms, TRUE);
      goto out;
    }

  if (fault != NULL && fault->kind == TETHER_TEST_FAULT_DROP_MID_BODY)
    {
      SoupMessageHeaders *headers = soup_server_message_get_response_headers (msg);
      gsize size = response->raw != NULL ? g_bytes_get_size (response->raw) : 0;

      request->status = 0;
      soup_server_message_set_status (msg, response->status, NULL);
      soup_message_headers_replace (headers, "Content-Type", "application/json");
      soup_message_headers_set_content_length (headers, MAX (size, 2));
      soup_message_body_append (soup_server_message_get_response_body (msg),
                                SOUP_MEMORY_COPY,
                                size > 0 ? g_bytes_get_data (response->raw, NULL) : "[",
                                MAX (size / 2, 1));
      g_signal_connect (msg, "wrote-chunk", G_CALLBACK (mid_body_wrote_chunk_cb), self);
      goto out;
    }

  response_write (response, msg);

out:
  if (queued != NULL)
    queued_fault_free (queued);

  g_mutex_unlock (&self->mutex);
}

/*
 * The thread
 */

static gboolean
quit_idle_cb (gpointer user_data)
{
  TetherTestSoupServer *self = user_data;

  g_main_loop_quit (self->loop);

  return G_SOURCE_REMOVE;
}

static gpointer
server_thread (gpointer user_data)
{
  TetherTestSoupServer *self = user_data;
  g_autoptr(GError) error = NULL;
  SoupServerListenOptions options = SOUP_SERVER_LISTEN_IPV4_ONLY;
  GSList *uris;

  g_main_context_push_thread_default (self->context);

  /* raw-paths: the handler sees "/records/a%2Fb", not a path with one
   * more segment, so ids with "/" can be served. */
  self->server = soup_server_new ("server-header", "tether-test-soup-server ",
                                  "raw-paths", TRUE,
                                  "tls-certificate", self->certificate,
                                  NULL);
  soup_server_add_handler (self->server, NULL, handler_cb, self, NULL);

  if (self->certificate != NULL)
    options |= SOUP_SERVER_LISTEN_HTTPS;

  if (soup_server_listen_local (self->server, 0, options, &error))
    {
      g_autofree char *url = NULL;

      uris = soup_server_get_uris (self->server);
      url = g_uri_to_string (uris->data);
      g_slist_free_full (uris, (GDestroyNotify) g_uri_unref);

      if (g_str_has_suffix (url, "/"))
        url[strlen (url) - 1] = '\0';
      self->url = g_steal_pointer (&url);
    }

  g_mutex_lock (&self->mutex);
  self->start_error = g_steal_pointer (&error);
  self->ready = TRUE;
  g_cond_signal (&self->cond);
  g_mutex_unlock (&self->mutex);

  if (self->url != NULL)
    g_main_loop_run (self->loop);

  g_list_free_full (g_steal_pointer (&self->pending), (GDestroyNotify) pending_free);
  soup_server_disconnect (self->server);
  g_clear_object (&self->server);

  while (g_main_context_iteration (self->context, FALSE))
    ;

  g_main_context_pop_thread_default (self->context);

  return NULL;
}

static TetherTestSoupServer *
soup_server_new_internal (GTlsCertificate *certificate)
{
  TetherTestSoupServer *self = g_new0 (TetherTestSoupServer, 1);

  g_mutex_init (&self->mutex);
  g_cond_init (&self->cond);
  g_queue_init (&self->faults);
  self->context = g_main_context_new ();
  self->loop = g_main_loop_new (self->context, FALSE);
  self->certificate = certificate != NULL ? g_object_ref (certificate) : NULL;
  self->collection = g_strdup ("records");
  self->records = json_array_new ();
  self->requests = g_ptr_array_new_with_free_func ((GDestroyNotify) tether_test_request_free);
  self->etags = TRUE;

  self->thread = g_thread_new ("tether-test-soup-server", server_thread, self);

  g_mutex_lock (&self->mutex);
  while (!self->ready)
    g_cond_wait (&self->cond, &self->mutex);
  g_mutex_unlock (&self->mutex);

  g_assert_no_error (self->start_error);
  g_assert_nonnull (self->url);

  return self;
}

TetherTestSoupServer *
tether_test_soup_server_new (void)
{
  return soup_server_new_internal (NULL);
}

TetherTestSoupServer *
tether_test_soup_server_new_tls (GTlsCertificate *certificate)
{
  g_return_val_if_fail (G_IS_TLS_CERTIFICATE (certificate), NULL);

  return soup_server_new_internal (certificate);
}

void
tether_test_soup_server_free (TetherTestSoupServer *self)
{
  GSource *source;

  if (self == NULL)
    return;

  source = g_idle_source_new ();
  g_source_set_callback (source, quit_idle_cb, self, NULL);
  g_source_attach (source, self->context);
  g_source_unref (source);

  g_thread_join (self->thread);

  g_clear_pointer (&self->loop, g_main_loop_unref);
  g_clear_pointer (&self->context, g_main_context_unref);
  g_clear_object (&self->certificate);
  g_clear_pointer (&self->url, g_free);
  g_clear_error (&self->start_error);
  g_clear_pointer (&self->collection, g_free);
  g_clear_pointer (&self->records, json_array_unref);
  g_queue_clear_full (&self->faults, (GDestroyNotify) queued_fault_free);
  g_clear_pointer (&self->requests, g_ptr_array_unref);
  g_clear_pointer (&self->required_authorization, g_free);
  g_mutex_clear (&self->mutex);
  g_cond_clear (&self->cond);
  g_free (self);
}

const char *
tether_test_soup_server_get_url (TetherTestSoupServer *self)
{
  g_return_val_if_fail (self != NULL, NULL);

  return self->url;
}

void
tether_test_soup_server_set_collection (TetherTestSoupServer *self,
                                        const char           *name)
{
  g_autoptr(GMutexLocker) locker = NULL;

  g_return_if_fail (self != NULL);
  g_return_if_fail (name != NULL && name[0] != '\0');

  locker = g_mutex_locker_new (&self->mutex);
  g_free (self->collection);
  self->collection = g_strdup (name);
}

void
tether_test_soup_server_set_records (TetherTestSoupServer *self,
                                     const char           *records_json)
{
  g_autoptr(GMutexLocker) locker = NULL;
  g_autoptr(JsonNode) root = NULL;
  g_autoptr(GError) error = NULL;

  g_return_if_fail (self != NULL);

  root = json_from_string (records_json, &error);
  g_assert_no_error (error);
  g_assert_true (JSON_NODE_HOLDS_ARRAY (root));

  locker = g_mutex_locker_new (&self->mutex);
  g_clear_pointer (&self->records, json_array_unref);
  self->records = json_array_ref (json_node_get_array (root));
}

void
tether_test_soup_server_add_generated_records (TetherTestSoupServer *self,
                                               guint                 n)
{
  g_autoptr(GMutexLocker) locker = NULL;
  gint64 next;

  g_return_if_fail (self != NULL);

  locker = g_mutex_locker_new (&self->mutex);
  next = max_numeric_id (self) + 1;

  for (guint i = 0; i < n; i++)
    {
      JsonObject *record = json_object_new ();
      g_autofree char *title = g_strdup_printf ("Record %" G_GINT64_FORMAT, next + i);

      json_object_set_int_member (record, "id", next + i);
      json_object_set_string_member (record, "title", title);
      json_array_add_object_element (self->records, record);
    }
}

JsonArray *
tether_test_soup_server_dup_records (TetherTestSoupServer *self)
{
  g_autoptr(GMutexLocker) locker = NULL;
  g_autoptr(JsonNode) node = NULL;
  g_autoptr(JsonNode) copy = NULL;

  g_return_val_if_fail (self != NULL, NULL);

  locker = g_mutex_locker_new (&self->mutex);
  node = json_node_new (JSON_NODE_ARRAY);
  json_node_set_array (node, self->records);
  copy = json_node_copy (node);

  return json_array_ref (json_node_get_array (copy));
}

guint
tether_test_soup_server_get_n_records (TetherTestSoupServer *self)
{
  g_autoptr(GMutexLocker) locker = NULL;

  g_return_val_if_fail (self != NULL, 0);

  locker = g_mutex_locker_new (&self->mutex);

  return json_array_get_length (self->records);
}

JsonObject *
tether_test_soup_server_dup_record (TetherTestSoupServer *self,
                                    const char           *id)
{
  g_autoptr(GMutexLocker) locker = NULL;
  g_autoptr(JsonNode) copy = NULL;
  gint index;

  g_return_val_if_fail (self != NULL, NULL);

  locker = g_mutex_locker_new (&self->mutex);
  index = find_record (self, id);
  if (index < 0)
    return NULL;

  copy = object_node_copy (json_array_get_object_element (self->records, index));

  return json_object_ref (json_node_get_object (copy));
}

void
tether_test_soup_server_set_required_authorization (TetherTestSoupServer *self,
                                                    const char           *authorization)
{
  g_autoptr(GMutexLocker) locker = NULL;

  g_return_if_fail (self != NULL);

  locker = g_mutex_locker_new (&self->mutex);
  g_free (self->required_authorization);
  self->required_authorization = g_strdup (authorization);
}

void
tether_test_soup_server_set_etags (TetherTestSoupServer *self,
                                   gboolean              etags)
{
  g_autoptr(GMutexLocker) locker = NULL;

  g_return_if_fail (self != NULL);

  locker = g_mutex_locker_new (&self->mutex);
  self->etags = !!etags;
}

void
tether_test_soup_server_push_fault (TetherTestSoupServer  *self,
                                    const TetherTestFault *fault)
{
  g_autoptr(GMutexLocker) locker = NULL;
  QueuedFault *queued;

  g_return_if_fail (self != NULL);
  g_return_if_fail (fault != NULL);
  g_return_if_fail (fault->kind != TETHER_TEST_FAULT_NONE);

  queued = g_new0 (QueuedFault, 1);
  queued->fault = *fault;
  queued->fault.method = g_strdup (fault->method);
  queued->fault.path = g_strdup (fault->path);
  queued->fault.body = g_strdup (fault->body);
  queued->fault.content_type = g_strdup (fault->content_type);
  queued->fault.retry_after = g_strdup (fault->retry_after);
  queued->fault.location = g_strdup (fault->location);
  queued->fault.id_json = g_strdup (fault->id_json);
  queued->fault.link = g_strdup (fault->link);
  queued->remaining = fault->times > 0 ? fault->times : 1;

  locker = g_mutex_locker_new (&self->mutex);
  g_queue_push_tail (&self->faults, queued);
}

guint
tether_test_soup_server_get_n_faults (TetherTestSoupServer *self)
{
  g_autoptr(GMutexLocker) locker = NULL;

  g_return_val_if_fail (self != NULL, 0);

  locker = g_mutex_locker_new (&self->mutex);

  return g_queue_get_length (&self->faults);
}

void
tether_test_soup_server_clear_faults (TetherTestSoupServer *self)
{
  g_autoptr(GMutexLocker) locker = NULL;

  g_return_if_fail (self != NULL);

  locker = g_mutex_locker_new (&self->mutex);
  g_queue_clear_full (&self->faults, (GDestroyNotify) queued_fault_free);
  g_queue_init (&self->faults);
}

guint
tether_test_soup_server_get_n_requests (TetherTestSoupServer *self)
{
  g_autoptr(GMutexLocker) locker = NULL;

  g_return_val_if_fail (self != NULL, 0);

  locker = g_mutex_locker_new (&self->mutex);

  return self->requests->len;
}

TetherTestRequest *
tether_test_soup_server_dup_request (TetherTestSoupServer *self,
                                     guint                 index)
{
  g_autoptr(GMutexLocker) locker = NULL;

  g_return_val_if_fail (self != NULL, NULL);

  locker = g_mutex_locker_new (&self->mutex);
  g_assert_cmpuint (index, <, self->requests->len);

  return request_copy (g_ptr_array_index (self->requests, index));
}

TetherTestRequest *
tether_test_soup_server_dup_last_request (TetherTestSoupServer *self)
{
  g_autoptr(GMutexLocker) locker = NULL;

  g_return_val_if_fail (self != NULL, NULL);

  locker = g_mutex_locker_new (&self->mutex);
  if (self->requests->len == 0)
    return NULL;

  return request_copy (g_ptr_array_index (self->requests, self->requests->len - 1));
}

void
tether_test_soup_server_clear_requests (TetherTestSoupServer *self)
{
  g_autoptr(GMutexLocker) locker = NULL;

  g_return_if_fail (self != NULL);

  locker = g_mutex_locker_new (&self->mutex);
  g_ptr_array_set_size (self->requests, 0);
}
