/* tether-remote.c
 *
 * Copyright 2026 The Tether authors
 *
 * SPDX-License-Identifier: GPL-3.0-or-later
 */

#include "config.h"

#include <string.h>

#include <glib/gi18n-lib.h>
#include <libsoup/soup.h>

#include "tether-json-scan.h"
#include "tether-remote.h"

/* The REST client: one SoupSession, asynchronous on the main loop, every
 * reply checked before anything in it is believed.
 *
 * Each operation goes through remote_request_async(), which sends one
 * message (following redirects itself, so that credentials never follow a
 * redirect to another origin), reads the reply body with a size cap and
 * hands back a Reply. The operation then checks status, content type and
 * JSON shape and turns the reply into its result or a TETHER_REMOTE_ERROR.
 */

#define DEFAULT_TIMEOUT_SECONDS  30
#define DEFAULT_MAX_REPLY_SIZE   (G_GUINT64_CONSTANT (64) * 1024 * 1024)
/* Error replies are read only to find the server's message in them. */
#define MAX_ERROR_BODY_SIZE      (64 * 1024)
#define MAX_SERVER_MESSAGE_CHARS 200
#define MAX_REDIRECTS            5
#define MAX_RETRY_AFTER_SECONDS  (24 * 60 * 60)
#define READ_CHUNK_SIZE          (64 * 1024)
/* Bodies larger than this are parsed in a worker thread so that a large
 * page does not stall the main loop. */
#define THREADED_PARSE_THRESHOLD (256 * 1024)

/* libsoup 3.2 names neither. */
#define METHOD_PATCH             "PATCH"
#define STATUS_TOO_MANY_REQUESTS 429

struct _TetherRemote
{
  GObject        parent_instance;

  TetherAccount *account;
  SoupSession   *session;
  char          *secret;

  guint          timeout;
  guint64        max_reply_size;

  guint64        requests_sent;
  guint64        not_modified_count;
  guint64        bytes_received;
};

G_DEFINE_FINAL_TYPE (TetherRemote, tether_remote, G_TYPE_OBJECT)

enum {
  PROP_0,
  PROP_ACCOUNT,
  PROP_TIMEOUT,
  PROP_MAX_REPLY_SIZE,
  N_PROPS
};

static GParamSpec *properties[N_PROPS];

/*
 * Errors
 */

typedef struct
{
  guint retry_after;
} TetherRemoteErrorPrivate;

static void
tether_remote_error_private_init (TetherRemoteErrorPrivate *priv)
{
  priv->retry_after = 0;
}

static void
tether_remote_error_private_copy (const TetherRemoteErrorPrivate *src,
                                  TetherRemoteErrorPrivate       *dest)
{
  dest->retry_after = src->retry_after;
}

static void
tether_remote_error_private_clear (TetherRemoteErrorPrivate *priv)
{
}

G_DEFINE_EXTENDED_ERROR (TetherRemoteError, tether_remote_error)

guint
tether_remote_error_get_retry_after (const GError *error)
{
  TetherRemoteErrorPrivate *priv;

  if (error == NULL || error->domain != TETHER_REMOTE_ERROR)
    return 0;

  priv = tether_remote_error_get_private (error);

  return priv != NULL ? priv->retry_after : 0;
}

gboolean
tether_remote_error_is_transient (const GError *error)
{
  return g_error_matches (error, TETHER_REMOTE_ERROR, TETHER_REMOTE_ERROR_TIMEOUT) ||
         g_error_matches (error, TETHER_REMOTE_ERROR, TETHER_REMOTE_ERROR_SERVER);
}

gboolean
tether_remote_error_is_uncertain (const GError *error)
{
  return tether_remote_error_is_transient (error) ||
         g_error_matches (error, TETHER_REMOTE_ERROR, TETHER_REMOTE_ERROR_PROTOCOL) ||
         g_error_matches (error, G_IO_ERROR, G_IO_ERROR_CANCELLED);
}

static GError *
remote_error_new (TetherRemoteError  code,
                  guint              retry_after,
                  const char        *format,
                  ...) G_GNUC_PRINTF (3, 4);

static GError *
remote_error_new (TetherRemoteError  code,
                  guint              retry_after,
                  const char        *format,
                  ...)
{
  GError *error;
  va_list args;

  va_start (args, format);
  error = g_error_new_valist (TETHER_REMOTE_ERROR, code, format, args);
  va_end (args);

  tether_remote_error_get_private (error)->retry_after = retry_after;

  return error;
}

static GError *
protocol_error_new (const char *detail)
{
  return remote_error_new (TETHER_REMOTE_ERROR_PROTOCOL, 0,
                           _("The server sent a reply Tether does not understand: %s. Nothing was changed on this computer."),
                           detail);
}

/*
 * Pages
 */

G_DEFINE_BOXED_TYPE (TetherRemotePage, tether_remote_page,
                     tether_remote_page_ref, tether_remote_page_unref)

static TetherRemotePage *
tether_remote_page_new (void)
{
  TetherRemotePage *page;

  page = g_atomic_rc_box_new0 (TetherRemotePage);
  page->total_count = -1;
  page->page = -1;
  page->last_page = -1;

  return page;
}

TetherRemotePage *
tether_remote_page_ref (TetherRemotePage *page)
{
  g_return_val_if_fail (page != NULL, NULL);

  return g_atomic_rc_box_acquire (page);
}

static void
tether_remote_page_clear (gpointer data)
{
  TetherRemotePage *page = data;

  g_clear_pointer (&page->url, g_free);
  g_clear_pointer (&page->items, json_array_unref);
  g_clear_pointer (&page->etag, g_free);
  g_clear_pointer (&page->next_url, g_free);
}

void
tether_remote_page_unref (TetherRemotePage *page)
{
  g_return_if_fail (page != NULL);

  g_atomic_rc_box_release_full (page, tether_remote_page_clear);
}

/*
 * Helpers: ids, URLs, origins, headers
 */

/* Clears memory in a way the compiler cannot drop as a dead store. */
static void *(* const volatile memset_func) (void *, int, size_t) = memset;

static void
wipe_string (char *string)
{
  if (string != NULL)
    memset_func (string, 0, strlen (string));
}

char *
tether_remote_id_to_string (JsonNode *id)
{
  if (id == NULL || !JSON_NODE_HOLDS_VALUE (id))
    return NULL;

  switch (json_node_get_value_type (id))
    {
    case G_TYPE_INT64:
      return g_strdup_printf ("%" G_GINT64_FORMAT, json_node_get_int (id));

    case G_TYPE_STRING:
      return g_strdup (json_node_get_string (id));

    default:
      return NULL;
    }
}

/* A usable id: an integer or a non-empty string. */
static gboolean
id_node_is_valid (JsonNode *id)
{
  if (id == NULL || !JSON_NODE_HOLDS_VALUE (id))
    return FALSE;

  if (json_node_get_value_type (id) == G_TYPE_INT64)
    return TRUE;

  return json_node_get_value_type (id) == G_TYPE_STRING &&
         json_node_get_string (id)[0] != '\0';
}

char *
tether_remote_id_to_path_segment (const char  *id,
                                  GError     **error)
{
  if (id == NULL || id[0] == '\0' || strcmp (id, ".") == 0 || strcmp (id, "..") == 0)
    {
      g_propagate_error (error,
                         remote_error_new (TETHER_REMOTE_ERROR_PERMANENT, 0,
                                           _("The record’s server id “%s” cannot be used in a web address, so Tether cannot change or delete it on the server."),
                                           id != NULL ? id : ""));
      return NULL;
    }

  /* No reserved character is allowed through: "/" becomes %2F, "%" %25,
   * "?" %3F, "#" %23, and every byte of a non-ASCII character is escaped. */
  return g_uri_escape_string (id, NULL, FALSE);
}

static gboolean
host_is_loopback (const char *host)
{
  g_autoptr(GInetAddress) address = NULL;

  if (host == NULL)
    return FALSE;

  if (g_ascii_strcasecmp (host, "localhost") == 0)
    return TRUE;

  address = g_inet_address_new_from_string (host);

  return address != NULL && g_inet_address_get_is_loopback (address);
}

static gboolean
uri_is_https (GUri *uri)
{
  return g_ascii_strcasecmp (g_uri_get_scheme (uri), "https") == 0;
}

static int
uri_effective_port (GUri *uri)
{
  int port = g_uri_get_port (uri);

  if (port > 0)
    return port;

  return uri_is_https (uri) ? 443 : 80;
}

static gboolean
same_origin (GUri *a,
             GUri *b)
{
  return g_ascii_strcasecmp (g_uri_get_scheme (a), g_uri_get_scheme (b)) == 0 &&
         g_ascii_strcasecmp (g_uri_get_host (a), g_uri_get_host (b)) == 0 &&
         uri_effective_port (a) == uri_effective_port (b);
}

static gboolean
uri_is_http (GUri *uri)
{
  const char *scheme = g_uri_get_scheme (uri);

  return g_ascii_strcasecmp (scheme, "http") == 0 || g_ascii_strcasecmp (scheme, "https") == 0;
}

static char *
uri_to_display_string (GUri *uri)
{
  return g_uri_to_string_partial (uri, G_URI_HIDE_USERINFO);
}

/* The value of the `_page` (json-server) or `page` (GitHub) parameter of
 * @uri's query, or -1. */
static gint64
uri_get_page_number (GUri *uri)
{
  g_autoptr(GHashTable) params = NULL;
  const char *query = g_uri_get_query (uri);
  const char *value;
  gint64 number;

  if (query == NULL)
    return -1;

  params = g_uri_parse_params (query, -1, "&", G_URI_PARAMS_NONE, NULL);
  if (params == NULL)
    return -1;

  value = g_hash_table_lookup (params, "_page");
  if (value == NULL)
    value = g_hash_table_lookup (params, "page");

  if (value == NULL ||
      !g_ascii_string_to_signed (value, 10, 0, G_MAXINT64, &number, NULL))
    return -1;

  return number;
}

/* The account's server URL and collection as URIs: the base (for origin
 * checks) and the collection's path. */
static gboolean
remote_get_endpoints (TetherRemote  *self,
                      GUri         **out_base,
                      char         **out_collection_path,
                      GError       **error)
{
  g_autofree char *normalized = NULL;
  g_autoptr(GUri) base = NULL;
  g_auto(GStrv) segments = NULL;
  g_autoptr(GString) path = NULL;
  guint n_segments = 0;

  if (!tether_account_validate_url (tether_account_get_server_url (self->account),
                                    &normalized, error))
    return FALSE;

  base = g_uri_parse (normalized, SOUP_HTTP_URI_FLAGS, error);
  if (base == NULL)
    return FALSE;

  path = g_string_new (g_uri_get_path (base));
  while (path->len > 0 && path->str[path->len - 1] == '/')
    g_string_truncate (path, path->len - 1);

  /* The collection is a path relative to the server URL: each of its
   * segments is escaped like an id, so that neither "?" nor ".." in the
   * setting can point the requests somewhere else. */
  segments = g_strsplit (tether_account_get_collection (self->account), "/", -1);
  for (guint i = 0; segments[i] != NULL; i++)
    {
      g_autofree char *escaped = NULL;

      if (segments[i][0] == '\0')
        continue;

      escaped = tether_remote_id_to_path_segment (segments[i], NULL);
      if (escaped == NULL)
        {
          g_set_error_literal (error, TETHER_ACCOUNT_ERROR, TETHER_ACCOUNT_ERROR_INVALID_URL,
                               _("The collection path contains “.” or “..”. Enter the path of the collection on the server, for example “records”."));
          return FALSE;
        }

      g_string_append_c (path, '/');
      g_string_append (path, escaped);
      n_segments++;
    }

  if (n_segments == 0)
    {
      g_set_error_literal (error, TETHER_ACCOUNT_ERROR, TETHER_ACCOUNT_ERROR_INVALID_URL,
                           _("No collection is set. Enter the path of the collection on the server, for example “records”."));
      return FALSE;
    }

  *out_base = g_steal_pointer (&base);
  *out_collection_path = g_string_free (g_steal_pointer (&path), FALSE);

  return TRUE;
}

static GUri *
build_uri (GUri       *base,
           const char *path,
           const char *query)
{
  return g_uri_build (SOUP_HTTP_URI_FLAGS,
                      g_uri_get_scheme (base), NULL,
                      g_uri_get_host (base), g_uri_get_port (base),
                      path, query, NULL);
}

static GUri *
build_page_uri (GUri       *base,
                const char *collection_path,
                guint       page_size)
{
  g_autofree char *query = g_strdup_printf ("_page=1&_limit=%u", page_size);

  return build_uri (base, collection_path, query);
}

/* Retry-After is either delay-seconds or an HTTP date. */
static guint
parse_retry_after (const char *value)
{
  g_autoptr(GDateTime) date = NULL;
  g_autoptr(GDateTime) now = NULL;
  g_autofree char *stripped = NULL;
  guint64 seconds;
  GTimeSpan delta;

  if (value == NULL)
    return 0;

  stripped = g_strstrip (g_strdup (value));

  if (g_ascii_string_to_unsigned (stripped, 10, 0, G_MAXUINT64, &seconds, NULL))
    return (guint) MIN (seconds, MAX_RETRY_AFTER_SECONDS);

  date = soup_date_time_new_from_http_string (stripped);
  if (date == NULL)
    return 0;

  now = g_date_time_new_now_utc ();
  delta = g_date_time_difference (date, now);
  if (delta <= 0)
    return 0;

  return (guint) MIN ((delta + G_TIME_SPAN_SECOND - 1) / G_TIME_SPAN_SECOND,
                      MAX_RETRY_AFTER_SECONDS);
}

static gboolean
content_type_is_json (SoupMessageHeaders  *headers,
                      char               **out_content_type)
{
  const char *content_type;

  content_type = soup_message_headers_get_content_type (headers, NULL);

  if (out_content_type != NULL)
    *out_content_type = g_strdup (content_type);

  if (content_type == NULL)
    return FALSE;

  /* application/json, or a structured type such as application/problem+json */
  return g_ascii_strcasecmp (content_type, "application/json") == 0 ||
         (g_ascii_strncasecmp (content_type, "application/", strlen ("application/")) == 0 &&
          strlen (content_type) > strlen ("+json") &&
          g_ascii_strcasecmp (content_type + strlen (content_type) - strlen ("+json"), "+json") == 0);
}

/*
 * The Link header (RFC 8288)
 */

static void
skip_ows (const char **p)
{
  while (**p == ' ' || **p == '\t')
    (*p)++;
}

static gboolean
is_token_char (char c)
{
  return g_ascii_isalnum (c) || (c != '\0' && strchr ("!#$%&'*+-.^_`|~", c) != NULL);
}

/* Reads a token or a quoted-string (with backslash escapes). */
static char *
read_param_value (const char **p)
{
  GString *value = g_string_new (NULL);

  if (**p == '"')
    {
      (*p)++;
      while (**p != '\0' && **p != '"')
        {
          if (**p == '\\' && (*p)[1] != '\0')
            (*p)++;
          g_string_append_c (value, **p);
          (*p)++;
        }
      if (**p == '"')
        (*p)++;
    }
  else
    {
      while (**p != '\0' && **p != ';' && **p != ',' && **p != ' ' && **p != '\t')
        {
          g_string_append_c (value, **p);
          (*p)++;
        }
    }

  return g_string_free (value, FALSE);
}

/* Moves to the next link-value: past the next ',' that is outside <> and
 * quotes, or to the end. */
static void
skip_to_next_link (const char **p)
{
  gboolean in_quotes = FALSE;

  while (**p != '\0')
    {
      if (in_quotes)
        {
          if (**p == '\\' && (*p)[1] != '\0')
            (*p)++;
          else if (**p == '"')
            in_quotes = FALSE;
        }
      else if (**p == '"')
        in_quotes = TRUE;
      else if (**p == ',')
        {
          (*p)++;
          return;
        }
      (*p)++;
    }
}

GHashTable *
tether_remote_parse_link_header (const char *header)
{
  GHashTable *links;
  const char *p = header;

  links = g_hash_table_new_full (g_str_hash, g_str_equal, g_free, g_free);

  if (header == NULL)
    return links;

  while (*p != '\0')
    {
      g_autofree char *target = NULL;
      const char *end;

      while (*p == ' ' || *p == '\t' || *p == ',')
        p++;

      if (*p == '\0')
        break;

      if (*p != '<' || (end = strchr (p + 1, '>')) == NULL)
        {
          skip_to_next_link (&p);
          continue;
        }

      target = g_strndup (p + 1, end - (p + 1));
      p = end + 1;

      /* link-params: *( OWS ";" OWS link-param ) */
      for (;;)
        {
          g_autofree char *name = NULL;
          g_autofree char *value = NULL;
          const char *name_start;

          skip_ows (&p);
          if (*p != ';')
            break;
          p++;
          skip_ows (&p);

          name_start = p;
          while (is_token_char (*p))
            p++;
          name = g_ascii_strdown (name_start, p - name_start);

          skip_ows (&p);
          if (*p == '=')
            {
              p++;
              skip_ows (&p);
              value = read_param_value (&p);
            }

          if (value != NULL && strcmp (name, "rel") == 0)
            {
              g_auto(GStrv) types = g_strsplit_set (value, " \t", -1);

              for (guint i = 0; types[i] != NULL; i++)
                {
                  char *type;

                  if (types[i][0] == '\0')
                    continue;

                  type = g_ascii_strdown (types[i], -1);
                  if (g_hash_table_contains (links, type))
                    g_free (type);
                  else
                    g_hash_table_insert (links, type, g_strdup (target));
                }
            }
        }

      skip_to_next_link (&p);
    }

  return links;
}

/*
 * Transport errors
 */

static const char *
describe_certificate_errors (GTlsCertificateFlags flags)
{
  if (flags & G_TLS_CERTIFICATE_UNKNOWN_CA)
    return _("it is self-signed or signed by an unknown authority");
  if (flags & G_TLS_CERTIFICATE_BAD_IDENTITY)
    return _("it is for a different server name");
  if (flags & G_TLS_CERTIFICATE_EXPIRED)
    return _("it has expired");
  if (flags & G_TLS_CERTIFICATE_NOT_ACTIVATED)
    return _("it is not valid yet");
  if (flags & G_TLS_CERTIFICATE_REVOKED)
    return _("it has been revoked");
  if (flags & G_TLS_CERTIFICATE_INSECURE)
    return _("it uses an insecure algorithm");

  return _("it could not be verified");
}

static GError *
transport_error_new (TetherRemote *self,
                     SoupMessage  *msg,
                     const GError *error)
{
  GTlsCertificateFlags tls_errors = 0;

  if (g_error_matches (error, G_IO_ERROR, G_IO_ERROR_CANCELLED))
    return g_error_copy (error);

  if (msg != NULL)
    tls_errors = soup_message_get_tls_peer_certificate_errors (msg);

  if (error->domain == G_TLS_ERROR || tls_errors != 0)
    {
      if (tls_errors == 0 && !g_error_matches (error, G_TLS_ERROR, G_TLS_ERROR_BAD_CERTIFICATE))
        return remote_error_new (TETHER_REMOTE_ERROR_TLS, 0,
                                 _("A secure connection to the server could not be made (%s). Nothing was sent."),
                                 error->message);

      return remote_error_new (TETHER_REMOTE_ERROR_TLS, 0,
                               _("The server’s certificate is not trusted (%s), so Tether refused the connection and nothing was sent."),
                               describe_certificate_errors (tls_errors));
    }

  if (g_error_matches (error, G_IO_ERROR, G_IO_ERROR_TIMED_OUT))
    return remote_error_new (TETHER_REMOTE_ERROR_TIMEOUT, 0,
                             g_dngettext (GETTEXT_PACKAGE,
                                          "The server did not answer within %u second. Your changes are kept and will be sent when you sync again.",
                                          "The server did not answer within %u seconds. Your changes are kept and will be sent when you sync again.",
                                          self->timeout),
                             self->timeout);

  if (g_error_matches (error, G_IO_ERROR, G_IO_ERROR_CONNECTION_REFUSED))
    return remote_error_new (TETHER_REMOTE_ERROR_OFFLINE, 0, "%s",
                             _("The server could not be reached (connection refused). Your changes are kept and will be sent when you sync again."));

  if (g_error_matches (error, G_IO_ERROR, G_IO_ERROR_HOST_UNREACHABLE))
    return remote_error_new (TETHER_REMOTE_ERROR_OFFLINE, 0, "%s",
                             _("The server could not be reached (no route to the server). Your changes are kept and will be sent when you sync again."));

  if (g_error_matches (error, G_IO_ERROR, G_IO_ERROR_NETWORK_UNREACHABLE) ||
      g_error_matches (error, G_IO_ERROR, G_IO_ERROR_NOT_CONNECTED))
    return remote_error_new (TETHER_REMOTE_ERROR_OFFLINE, 0, "%s",
                             _("The server could not be reached (the network is unreachable). Your changes are kept and will be sent when you sync again."));

  if (error->domain == G_RESOLVER_ERROR ||
      g_error_matches (error, G_IO_ERROR, G_IO_ERROR_HOST_NOT_FOUND))
    return remote_error_new (TETHER_REMOTE_ERROR_OFFLINE, 0, "%s",
                             _("The server could not be reached (its name could not be found). Your changes are kept and will be sent when you sync again."));

  if (g_error_matches (error, G_IO_ERROR, G_IO_ERROR_PROXY_FAILED) ||
      g_error_matches (error, G_IO_ERROR, G_IO_ERROR_PROXY_AUTH_FAILED) ||
      g_error_matches (error, G_IO_ERROR, G_IO_ERROR_PROXY_NEED_AUTH) ||
      g_error_matches (error, G_IO_ERROR, G_IO_ERROR_PROXY_NOT_ALLOWED))
    return remote_error_new (TETHER_REMOTE_ERROR_OFFLINE, 0, "%s",
                             _("The server could not be reached (the proxy refused the connection). Your changes are kept and will be sent when you sync again."));

  if (error->domain == SOUP_SESSION_ERROR)
    return protocol_error_new (error->message);

  /* Anything else (connection reset, closed before the reply, a body cut
   * short) happened after the request may have reached the server. */
  return remote_error_new (TETHER_REMOTE_ERROR_SERVER, 0,
                           _("The connection to the server was lost before it answered (%s). Your changes are kept and Tether will try again."),
                           error->message);
}

/*
 * One request
 */

typedef struct
{
  guint               status;
  SoupMessageHeaders *headers;
  GUri               *uri;
  GBytes             *body;
  gboolean            truncated;
  gboolean            sent_credentials;
} Reply;

static void
reply_free (Reply *reply)
{
  g_clear_pointer (&reply->headers, soup_message_headers_unref);
  g_clear_pointer (&reply->uri, g_uri_unref);
  g_clear_pointer (&reply->body, g_bytes_unref);
  g_free (reply);
}

G_DEFINE_AUTOPTR_CLEANUP_FUNC (Reply, reply_free)

typedef struct
{
  char         *method;
  GUri         *base;
  GUri         *uri;
  GBytes       *body;
  char         *if_match;
  char         *if_none_match;
  char         *authorization;
  guint         redirects;
  gboolean      sent_credentials;

  SoupMessage  *msg;
  GInputStream *stream;
  GByteArray   *buffer;
  guint64       limit;

  /* What the send is cancelled with: the task's cancellable, through
   * cancel_id, or a 421 (see request_got_headers_cb()). */
  GCancellable *cancellable;
  GCancellable *task_cancellable;
  gulong        cancel_id;
  gboolean      misdirected;
} Request;

static void
request_free (Request *request)
{
  g_clear_pointer (&request->method, g_free);
  g_clear_pointer (&request->base, g_uri_unref);
  g_clear_pointer (&request->uri, g_uri_unref);
  g_clear_pointer (&request->body, g_bytes_unref);
  g_clear_pointer (&request->if_match, g_free);
  g_clear_pointer (&request->if_none_match, g_free);
  wipe_string (request->authorization);
  g_clear_pointer (&request->authorization, g_free);
  g_clear_object (&request->msg);
  g_clear_object (&request->stream);
  g_clear_pointer (&request->buffer, g_byte_array_unref);
  if (request->cancel_id != 0)
    g_cancellable_disconnect (request->task_cancellable, request->cancel_id);
  g_clear_object (&request->task_cancellable);
  g_clear_object (&request->cancellable);
  g_free (request);
}

static void request_send (GTask *task);

static void
request_abandon_stream (Request *request)
{
  /* Closing a body stream before its end makes libsoup drop the
   * connection instead of reading the rest. */
  if (request->stream != NULL)
    {
      g_input_stream_close_async (request->stream, G_PRIORITY_DEFAULT, NULL, NULL, NULL);
      g_clear_object (&request->stream);
    }
}

static void
request_return_reply (GTask *task)
{
  Request *request = g_task_get_task_data (task);
  Reply *reply;

  reply = g_new0 (Reply, 1);
  reply->status = soup_message_get_status (request->msg);
  reply->headers = soup_message_headers_ref (soup_message_get_response_headers (request->msg));
  reply->uri = g_uri_ref (request->uri);
  reply->sent_credentials = request->sent_credentials;
  if (request->buffer != NULL && request->buffer->len > 0)
    reply->body = g_byte_array_free_to_bytes (g_steal_pointer (&request->buffer));
  else
    reply->body = NULL;

  g_task_return_pointer (task, reply, (GDestroyNotify) reply_free);
}

static void
request_read_cb (GObject      *object,
                 GAsyncResult *result,
                 gpointer      user_data)
{
  g_autoptr(GTask) task = user_data;
  TetherRemote *self = g_task_get_source_object (task);
  Request *request = g_task_get_task_data (task);
  g_autoptr(GBytes) bytes = NULL;
  g_autoptr(GError) error = NULL;
  gsize size;
  GCancellable *cancellable;

  bytes = g_input_stream_read_bytes_finish (G_INPUT_STREAM (object), result, &error);
  if (bytes == NULL)
    {
      g_task_return_error (task, transport_error_new (self, request->msg, error));
      return;
    }

  size = g_bytes_get_size (bytes);
  self->bytes_received += size;

  if (size == 0)
    {
      g_clear_object (&request->stream);
      request_return_reply (task);
      return;
    }

  if (request->buffer->len + (guint64) size > request->limit)
    {
      guint status = soup_message_get_status (request->msg);

      request_abandon_stream (request);

      if (SOUP_STATUS_IS_SUCCESSFUL (status))
        {
          g_autofree char *limit = g_format_size (request->limit);
          g_autofree char *detail = g_strdup_printf (_("the reply is larger than %s"), limit);

          g_task_return_error (task, protocol_error_new (detail));
          return;
        }

      /* An error reply is only read for the server's message; one too
       * long to be a message is dropped, and the status speaks alone. */
      g_byte_array_set_size (request->buffer, 0);
      request_return_reply (task);
      return;
    }

  g_byte_array_append (request->buffer, g_bytes_get_data (bytes, NULL), size);

  cancellable = g_task_get_cancellable (task);
  g_input_stream_read_bytes_async (request->stream,
                                   READ_CHUNK_SIZE,
                                   G_PRIORITY_DEFAULT,
                                   cancellable,
                                   request_read_cb,
                                   g_steal_pointer (&task));
}

static gboolean
is_redirect_status (guint status)
{
  return status == SOUP_STATUS_MOVED_PERMANENTLY ||
         status == SOUP_STATUS_FOUND ||
         status == SOUP_STATUS_SEE_OTHER ||
         status == SOUP_STATUS_TEMPORARY_REDIRECT ||
         status == SOUP_STATUS_PERMANENT_REDIRECT;
}

static gboolean remote_text_has_secret (TetherRemote *self,
                                        const char   *text);

/* Follows a redirect ourselves rather than letting libsoup do it, so that
 * the Authorization header is only ever added for the server's own origin,
 * and so that changes are never silently turned into GETs or sent to
 * another server. Returns FALSE with @error when the redirect is refused. */
static gboolean
request_follow_redirect (TetherRemote  *self,
                         Request       *request,
                         guint          status,
                         GError       **error)
{
  g_autoptr(GUri) target = NULL;
  g_autofree char *display = NULL;
  const char *location;
  gboolean is_get;

  location = soup_message_headers_get_one (soup_message_get_response_headers (request->msg),
                                           "Location");

  if (location != NULL)
    target = g_uri_parse_relative (request->uri, location, SOUP_HTTP_URI_FLAGS, NULL);

  if (target == NULL || !uri_is_http (target) || g_uri_get_host (target) == NULL)
    {
      *error = protocol_error_new (_("the server redirected to an invalid address"));
      return FALSE;
    }

  if (g_uri_get_userinfo (target) != NULL)
    {
      *error = protocol_error_new (_("the server redirected to an address with a user name in it"));
      return FALSE;
    }

  if (++request->redirects > MAX_REDIRECTS)
    {
      *error = protocol_error_new (_("the server redirected too many times"));
      return FALSE;
    }

  is_get = strcmp (request->method, SOUP_METHOD_GET) == 0;
  display = uri_to_display_string (target);

  /* A change (POST, PATCH, PUT, DELETE) is only re-sent as it was, by a
   * 307 or 308 on the same server. */
  if (!is_get &&
      (!same_origin (target, request->base) ||
       (status != SOUP_STATUS_TEMPORARY_REDIRECT && status != SOUP_STATUS_PERMANENT_REDIRECT)))
    {
      g_autofree char *unescaped = g_uri_unescape_string (display, NULL);

      /* The server chose the address: it is repeated only if it cannot
       * carry the secret back into a message, as it is or percent-encoded
       * (an address that does not unescape to text is not repeated). */
      if (unescaped == NULL ||
          remote_text_has_secret (self, display) ||
          remote_text_has_secret (self, unescaped))
        *error = remote_error_new (TETHER_REMOTE_ERROR_PERMANENT, 0,
                                   _("The server redirected the change to another address, and Tether does not follow such redirects with changes. If the server has moved, change its address in Preferences."));
      else
        *error = remote_error_new (TETHER_REMOTE_ERROR_PERMANENT, 0,
                                   _("The server redirected the change to %s, and Tether does not follow such redirects with changes. If the server has moved, change its address in Preferences."),
                                   display);
      return FALSE;
    }

  g_debug ("Following redirect %u to %s", status, display);

  g_uri_unref (request->uri);
  request->uri = g_steal_pointer (&target);

  return TRUE;
}

static void
request_send_cb (GObject      *object,
                 GAsyncResult *result,
                 gpointer      user_data)
{
  g_autoptr(GTask) task = user_data;
  TetherRemote *self = g_task_get_source_object (task);
  Request *request = g_task_get_task_data (task);
  g_autoptr(GError) error = NULL;
  guint status;
  goffset content_length;
  GCancellable *cancellable;

  request->stream = soup_session_send_finish (SOUP_SESSION (object), result, &error);
  if (request->stream == NULL && request->misdirected)
    {
      g_debug ("%s %s → 421", request->method, g_uri_get_path (request->uri));
      request_return_reply (task);
      return;
    }

  if (request->stream == NULL)
    {
      g_debug ("%s %s failed: %s", request->method,
               g_uri_get_path (request->uri), error->message);
      g_task_return_error (task, transport_error_new (self, request->msg, error));
      return;
    }

  status = soup_message_get_status (request->msg);
  g_debug ("%s %s → %u", request->method, g_uri_get_path (request->uri), status);

  if (is_redirect_status (status))
    {
      request_abandon_stream (request);

      if (!request_follow_redirect (self, request, status, &error))
        {
          g_task_return_error (task, g_steal_pointer (&error));
          return;
        }

      request_send (g_steal_pointer (&task));
      return;
    }

  if (status == SOUP_STATUS_NOT_MODIFIED)
    self->not_modified_count++;

  if (SOUP_STATUS_IS_SUCCESSFUL (status))
    request->limit = self->max_reply_size;
  else
    request->limit = MIN (self->max_reply_size, MAX_ERROR_BODY_SIZE);

  /* Refuse a reply announced as too large before reading any of it. (The
   * length is that of the encoded body; the cap counts decoded bytes, which
   * compression only makes more.) */
  content_length = soup_message_headers_get_content_length (soup_message_get_response_headers (request->msg));
  if (SOUP_STATUS_IS_SUCCESSFUL (status) &&
      content_length > 0 && (guint64) content_length > request->limit)
    {
      g_autofree char *limit = g_format_size (request->limit);
      g_autofree char *detail = g_strdup_printf (_("the reply is larger than %s"), limit);

      request_abandon_stream (request);
      g_task_return_error (task, protocol_error_new (detail));
      return;
    }

  request->buffer = g_byte_array_new ();

  cancellable = g_task_get_cancellable (task);
  g_input_stream_read_bytes_async (request->stream,
                                   READ_CHUNK_SIZE,
                                   G_PRIORITY_DEFAULT,
                                   cancellable,
                                   request_read_cb,
                                   g_steal_pointer (&task));
}

static void
forward_cancel_cb (GCancellable *task_cancellable,
                   GCancellable *cancellable)
{
  g_cancellable_cancel (cancellable);
}

/* libsoup sends a request answered 421 (Misdirected Request) once more on
 * another connection, and the PATCH of libsoup 3.2 then never leaves:
 * the request waits for the timeout. The status says all there is to
 * say: the send stops here, and the reply is the 421. */
static void
request_got_headers_cb (SoupMessage *msg,
                        Request     *request)
{
  if (soup_message_get_status (msg) == SOUP_STATUS_MISDIRECTED_REQUEST)
    {
      request->misdirected = TRUE;
      g_cancellable_cancel (request->cancellable);
    }
}

static void
request_send (GTask *task)
{
  TetherRemote *self = g_task_get_source_object (task);
  Request *request = g_task_get_task_data (task);
  SoupMessageHeaders *headers;
  SoupMessageFlags flags;

  g_clear_object (&request->msg);
  g_clear_pointer (&request->buffer, g_byte_array_unref);

  request->msg = soup_message_new_from_uri (request->method, request->uri);
  g_signal_connect (request->msg, "got-headers", G_CALLBACK (request_got_headers_cb), request);

  if (request->cancellable == NULL)
    {
      request->cancellable = g_cancellable_new ();
      if (g_task_get_cancellable (task) != NULL)
        {
          request->task_cancellable = g_object_ref (g_task_get_cancellable (task));
          request->cancel_id = g_cancellable_connect (request->task_cancellable,
                                                      G_CALLBACK (forward_cancel_cb),
                                                      request->cancellable, NULL);
        }
    }

  flags = SOUP_MESSAGE_NO_REDIRECT;
  /* A merge PATCH can be sent twice without harm, so it may go over a kept
   * alive connection (libsoup re-sends a request once if a reused
   * connection turns out closed). A POST never is: a second POST would be
   * a second record. */
  if (strcmp (request->method, METHOD_PATCH) == 0)
    flags |= SOUP_MESSAGE_IDEMPOTENT;
  soup_message_set_flags (request->msg, flags);

  /* Credentials are added by hand below; libsoup's own auth manager would
   * answer challenges with cached credentials. */
  soup_message_disable_feature (request->msg, SOUP_TYPE_AUTH_MANAGER);

  headers = soup_message_get_request_headers (request->msg);
  soup_message_headers_replace (headers, "Accept", "application/json");

  if (request->if_match != NULL)
    soup_message_headers_replace (headers, "If-Match", request->if_match);
  if (request->if_none_match != NULL)
    soup_message_headers_replace (headers, "If-None-Match", request->if_none_match);

  /* The credentials go to the server's own origin only: never to the
   * other server a redirect points to. */
  request->sent_credentials = FALSE;
  if (request->authorization != NULL && same_origin (request->uri, request->base))
    {
      soup_message_headers_replace (headers, "Authorization", request->authorization);
      request->sent_credentials = TRUE;
    }

  if (request->body != NULL)
    soup_message_set_request_body_from_bytes (request->msg, "application/json", request->body);

  self->requests_sent++;

  soup_session_send_async (self->session,
                           request->msg,
                           G_PRIORITY_DEFAULT,
                           request->cancellable,
                           request_send_cb,
                           task);
}

/* Starts @method on @uri. Returns a Reply whatever the status; transport
 * failures, refused redirects and oversized success bodies are errors. */
static void
remote_request_async (TetherRemote        *self,
                      const char          *method,
                      GUri                *base,
                      GUri                *uri,
                      JsonNode            *body,
                      const char          *if_match,
                      const char          *if_none_match,
                      GCancellable        *cancellable,
                      GAsyncReadyCallback  callback,
                      gpointer             user_data)
{
  g_autoptr(GTask) task = NULL;
  Request *request;
  TetherAuthKind auth_kind;

  task = g_task_new (self, cancellable, callback, user_data);
  g_task_set_source_tag (task, remote_request_async);

  request = g_new0 (Request, 1);
  request->method = g_strdup (method);
  request->base = g_uri_ref (base);
  request->uri = g_uri_ref (uri);
  request->if_match = g_strdup (if_match);
  request->if_none_match = g_strdup (if_none_match);
  g_task_set_task_data (task, request, (GDestroyNotify) request_free);

  if (body != NULL)
    {
      g_autofree char *text = json_to_string (body, FALSE);
      gsize length = strlen (text);

      request->body = g_bytes_new_take (g_steal_pointer (&text), length);
    }

  auth_kind = tether_account_get_auth_kind (self->account);
  if (auth_kind != TETHER_AUTH_KIND_NONE)
    {
      const char *host = g_uri_get_host (base);

      /* Refused before any connection is made: not a single packet goes
       * to the server. */
      if (!uri_is_https (base) && !host_is_loopback (host))
        {
          g_task_return_error (task,
                               remote_error_new (TETHER_REMOTE_ERROR_INSECURE, 0,
                                                 _("Tether did not send your credentials: the server address uses plain http:// and %s is not this computer, so anyone on the network could read them. Use an https:// address."),
                                                 host));
          return;
        }

      if (self->secret == NULL)
        {
          g_task_return_error (task,
                               remote_error_new (TETHER_REMOTE_ERROR_AUTH, 0, "%s",
                                                 auth_kind == TETHER_AUTH_KIND_BEARER
                                                 ? _("No token is set for this server. Enter it in Preferences.")
                                                 : _("No password is set for this server. Enter it in Preferences.")));
          return;
        }

      if (auth_kind == TETHER_AUTH_KIND_BASIC)
        {
          g_autofree char *credentials = NULL;
          g_autofree char *encoded = NULL;

          credentials = g_strconcat (tether_account_get_username (self->account), ":",
                                     self->secret, NULL);
          encoded = g_base64_encode ((const guchar *) credentials, strlen (credentials));
          request->authorization = g_strconcat ("Basic ", encoded, NULL);
          wipe_string (credentials);
          wipe_string (encoded);
        }
      else
        {
          request->authorization = g_strconcat ("Bearer ", self->secret, NULL);
        }
    }

  request_send (g_steal_pointer (&task));
}

static Reply *
remote_request_finish (TetherRemote  *self,
                       GAsyncResult  *result,
                       GError       **error)
{
  g_return_val_if_fail (g_task_is_valid (result, self), NULL);
  g_return_val_if_fail (g_task_get_source_tag (G_TASK (result)) == remote_request_async, NULL);

  return g_task_propagate_pointer (G_TASK (result), error);
}

/*
 * Replies: status, server message, JSON shape
 */

/* The secret could be echoed back in an error body (some servers repeat
 * the request headers): such a message is dropped whole. */
static gboolean
remote_text_has_secret (TetherRemote *self,
                        const char   *text)
{
  if (self->secret == NULL || self->secret[0] == '\0')
    return FALSE;

  if (strstr (text, self->secret) != NULL)
    return TRUE;

  if (tether_account_get_auth_kind (self->account) == TETHER_AUTH_KIND_BASIC)
    {
      g_autofree char *credentials = NULL;
      g_autofree char *encoded = NULL;
      gboolean found;

      credentials = g_strconcat (tether_account_get_username (self->account), ":",
                                 self->secret, NULL);
      encoded = g_base64_encode ((const guchar *) credentials, strlen (credentials));
      found = strstr (text, encoded) != NULL;
      wipe_string (credentials);
      wipe_string (encoded);

      return found;
    }

  return FALSE;
}

static const char *
find_message_in_json (JsonNode *node)
{
  static const char * const members[] = { "message", "error_description", "detail", "error", "title" };
  JsonObject *object;

  if (JSON_NODE_HOLDS_VALUE (node) && json_node_get_value_type (node) == G_TYPE_STRING)
    return json_node_get_string (node);

  if (!JSON_NODE_HOLDS_OBJECT (node))
    return NULL;

  object = json_node_get_object (node);

  for (guint i = 0; i < G_N_ELEMENTS (members); i++)
    {
      JsonNode *member = json_object_get_member (object, members[i]);

      if (member == NULL)
        continue;

      if (JSON_NODE_HOLDS_VALUE (member) && json_node_get_value_type (member) == G_TYPE_STRING)
        return json_node_get_string (member);

      /* {"error": {"message": "..."}} */
      if (JSON_NODE_HOLDS_OBJECT (member))
        {
          const char *nested = find_message_in_json (member);

          if (nested != NULL)
            return nested;
        }
    }

  return NULL;
}

/* The server's own explanation from an error body, cleaned up: one line,
 * valid UTF-8, at most MAX_SERVER_MESSAGE_CHARS characters. %NULL if there
 * is none worth showing. */
static char *
remote_dup_server_message (TetherRemote *self,
                           Reply        *reply)
{
  g_autoptr(JsonParser) parser = NULL;
  g_autofree char *text = NULL;
  g_autofree char *valid = NULL;
  g_autofree char *content_type = NULL;
  g_autoptr(GString) clean = NULL;
  const char *message = NULL;
  gsize size;
  const char *data;

  if (reply->body == NULL)
    return NULL;

  data = g_bytes_get_data (reply->body, &size);

  if (content_type_is_json (reply->headers, &content_type))
    {
      parser = json_parser_new_immutable ();
      if (json_parser_load_from_data (parser, data, size, NULL) &&
          json_parser_get_root (parser) != NULL)
        message = find_message_in_json (json_parser_get_root (parser));
    }
  else if (content_type != NULL && g_ascii_strcasecmp (content_type, "text/plain") == 0)
    {
      text = g_strndup (data, size);
      message = text;
    }

  if (message == NULL)
    return NULL;

  valid = g_utf8_make_valid (message, -1);
  clean = g_string_new (NULL);

  for (const char *p = valid; *p != '\0'; p = g_utf8_next_char (p))
    {
      gunichar c = g_utf8_get_char (p);

      if (g_unichar_iscntrl (c) || g_unichar_isspace (c))
        {
          if (clean->len > 0 && clean->str[clean->len - 1] != ' ')
            g_string_append_c (clean, ' ');
          continue;
        }

      if (g_utf8_strlen (clean->str, clean->len) >= MAX_SERVER_MESSAGE_CHARS)
        {
          g_string_append (clean, "…");
          break;
        }

      g_string_append_unichar (clean, c);
    }

  while (clean->len > 0 && clean->str[clean->len - 1] == ' ')
    g_string_truncate (clean, clean->len - 1);

  if (clean->len == 0 || remote_text_has_secret (self, clean->str))
    return NULL;

  return g_string_free (g_steal_pointer (&clean), FALSE);
}

typedef enum
{
  OP_LIST,
  OP_CREATE,
  OP_UPDATE,
  OP_DELETE,
} Operation;

/* "404 Not Found", or the bare number when libsoup has no phrase for it. */
static char *
status_to_text (guint status)
{
  const char *phrase;

  if (status == STATUS_TOO_MANY_REQUESTS)
    phrase = "Too Many Requests";
  else
    phrase = soup_status_get_phrase (status);

  if (phrase == NULL || phrase[0] == '\0' || strcmp (phrase, "Unknown Error") == 0)
    return g_strdup_printf ("%u", status);

  return g_strdup_printf ("%u %s", status, phrase);
}

/* Turns a reply that is not a success into the error of its kind. */
static GError *
remote_status_error_new (TetherRemote *self,
                         Reply        *reply,
                         Operation     op)
{
  g_autofree char *server_message = NULL;
  g_autofree char *status_text = NULL;
  guint status = reply->status;

  status_text = status_to_text (status);

  switch (status)
    {
    case SOUP_STATUS_UNAUTHORIZED:
      if (!reply->sent_credentials)
        return remote_error_new (TETHER_REMOTE_ERROR_AUTH, 0, "%s",
                                 _("The server requires signing in (401 Unauthorized). Choose how to sign in and enter the credentials in Preferences."));
      return remote_error_new (TETHER_REMOTE_ERROR_AUTH, 0, "%s",
                               _("The server did not accept the credentials (401 Unauthorized). Check the user name and the password or token in Preferences."));

    case SOUP_STATUS_FORBIDDEN:
      return remote_error_new (TETHER_REMOTE_ERROR_AUTH, 0, "%s",
                               _("The server refused access (403 Forbidden). Check that this account may use the collection."));

    case SOUP_STATUS_CONFLICT:
    case SOUP_STATUS_PRECONDITION_FAILED:
      return remote_error_new (TETHER_REMOTE_ERROR_CONFLICT, 0,
                               _("The record was changed on the server since Tether last fetched it (%s)."),
                               status_text);

    case SOUP_STATUS_NOT_FOUND:
    case SOUP_STATUS_GONE:
      if (op == OP_LIST || op == OP_CREATE)
        return remote_error_new (TETHER_REMOTE_ERROR_PERMANENT, 0,
                                 _("The collection “%s” was not found on the server (%s). Check the server address and the collection in Preferences."),
                                 tether_account_get_collection (self->account), status_text);
      return remote_error_new (TETHER_REMOTE_ERROR_NOT_FOUND, 0,
                               _("The record is no longer on the server (%s)."),
                               status_text);

    default:
      break;
    }

  server_message = remote_dup_server_message (self, reply);

  if (status == SOUP_STATUS_REQUEST_TIMEOUT ||
      status == STATUS_TOO_MANY_REQUESTS ||
      (SOUP_STATUS_IS_SERVER_ERROR (status) &&
       status != SOUP_STATUS_NOT_IMPLEMENTED &&
       status != SOUP_STATUS_HTTP_VERSION_NOT_SUPPORTED))
    {
      guint retry_after;

      retry_after = parse_retry_after (soup_message_headers_get_one (reply->headers, "Retry-After"));

      if (server_message != NULL)
        return remote_error_new (TETHER_REMOTE_ERROR_SERVER, retry_after,
                                 _("The server is having trouble (%s: %s). Your changes are kept and Tether will try again."),
                                 status_text, server_message);

      return remote_error_new (TETHER_REMOTE_ERROR_SERVER, retry_after,
                               _("The server is having trouble (%s). Your changes are kept and Tether will try again."),
                               status_text);
    }

  if (SOUP_STATUS_IS_CLIENT_ERROR (status) || SOUP_STATUS_IS_SERVER_ERROR (status))
    {
      if (server_message != NULL)
        return remote_error_new (TETHER_REMOTE_ERROR_PERMANENT, 0,
                                 _("The server refused the request (%s): %s"),
                                 status_text, server_message);

      return remote_error_new (TETHER_REMOTE_ERROR_PERMANENT, 0,
                               _("The server refused the request (%s)."),
                               status_text);
    }

  {
    g_autofree char *detail = g_strdup_printf (_("the unexpected status %s"), status_text);

    return protocol_error_new (detail);
  }
}

typedef enum
{
  SHAPE_RECORD_LIST,
  SHAPE_RECORD,
  SHAPE_OBJECT,
} Shape;

/* Parses @body as JSON and checks it has @shape. Runs in a worker thread
 * for large bodies, so it touches nothing but its arguments. */
static JsonNode *
parse_reply (GBytes      *body,
             Shape        shape,
             const char  *id_field,
             GError     **error)
{
  g_autoptr(JsonParser) parser = NULL;
  g_autoptr(GError) local_error = NULL;
  JsonNode *root;
  const char *data;
  gsize size;

  if (body == NULL)
    {
      *error = protocol_error_new (_("the reply is empty"));
      return NULL;
    }

  data = g_bytes_get_data (body, &size);

  /* The scanner first: json-glib takes a lone surrogate escape (and makes
   * invalid UTF-8 of it) or a second value after the first, and recurses
   * without a limit, so that deep nesting overflows the stack. */
  if (!tether_json_scan_validate (data, size, &local_error))
    {
      g_autofree char *detail = NULL;

      if (g_error_matches (local_error, TETHER_JSON_SCAN_ERROR, TETHER_JSON_SCAN_ERROR_TOO_DEEP))
        detail = g_strdup_printf (_("it is nested more than %d levels deep"), TETHER_JSON_SCAN_MAX_DEPTH);
      else
        detail = g_strdup (_("it is not valid JSON"));

      g_debug ("Unreadable reply: %s", local_error->message);
      *error = protocol_error_new (detail);
      return NULL;
    }

  parser = json_parser_new_immutable ();
  if (!json_parser_load_from_data (parser, data, size, &local_error) ||
      (root = json_parser_get_root (parser)) == NULL)
    {
      *error = protocol_error_new (_("it is not valid JSON"));
      return NULL;
    }

  switch (shape)
    {
    case SHAPE_RECORD_LIST:
      {
        JsonArray *array;
        guint n;

        if (!JSON_NODE_HOLDS_ARRAY (root))
          {
            *error = protocol_error_new (_("the list of records is not a JSON array"));
            return NULL;
          }

        array = json_node_get_array (root);
        n = json_array_get_length (array);

        for (guint i = 0; i < n; i++)
          {
            JsonNode *element = json_array_get_element (array, i);

            if (!JSON_NODE_HOLDS_OBJECT (element))
              {
                g_autofree char *detail = g_strdup_printf (_("item %u of the list is not a JSON object"), i + 1);

                *error = protocol_error_new (detail);
                return NULL;
              }

            if (!id_node_is_valid (json_object_get_member (json_node_get_object (element), id_field)))
              {
                g_autofree char *detail = g_strdup_printf (_("item %u of the list has no usable “%s” field"), i + 1, id_field);

                *error = protocol_error_new (detail);
                return NULL;
              }
          }
      }
      break;

    case SHAPE_RECORD:
      if (!JSON_NODE_HOLDS_OBJECT (root))
        {
          *error = protocol_error_new (_("the record is not a JSON object"));
          return NULL;
        }
      if (!id_node_is_valid (json_object_get_member (json_node_get_object (root), id_field)))
        {
          g_autofree char *detail = g_strdup_printf (_("the created record has no usable “%s” field"), id_field);

          *error = protocol_error_new (detail);
          return NULL;
        }
      break;

    case SHAPE_OBJECT:
      if (!JSON_NODE_HOLDS_OBJECT (root))
        {
          *error = protocol_error_new (_("the record is not a JSON object"));
          return NULL;
        }
      break;

    default:
      g_assert_not_reached ();
    }

  return json_node_ref (root);
}

typedef struct
{
  GBytes *body;
  Shape   shape;
  char   *id_field;
} ParseData;

static void
parse_data_free (ParseData *data)
{
  g_clear_pointer (&data->body, g_bytes_unref);
  g_clear_pointer (&data->id_field, g_free);
  g_free (data);
}

static void
parse_reply_thread (GTask        *task,
                    gpointer      source_object,
                    gpointer      task_data,
                    GCancellable *cancellable)
{
  ParseData *data = task_data;
  GError *error = NULL;
  JsonNode *root;

  root = parse_reply (data->body, data->shape, data->id_field, &error);

  if (root == NULL)
    g_task_return_error (task, error);
  else
    g_task_return_pointer (task, root, (GDestroyNotify) json_node_unref);
}

static void
remote_parse_reply_async (TetherRemote        *self,
                          GBytes              *body,
                          Shape                shape,
                          GCancellable        *cancellable,
                          GAsyncReadyCallback  callback,
                          gpointer             user_data)
{
  g_autoptr(GTask) task = NULL;
  ParseData *data;

  task = g_task_new (self, cancellable, callback, user_data);
  g_task_set_source_tag (task, remote_parse_reply_async);

  data = g_new0 (ParseData, 1);
  data->body = body != NULL ? g_bytes_ref (body) : NULL;
  data->shape = shape;
  data->id_field = g_strdup (tether_account_get_id_field (self->account));
  g_task_set_task_data (task, data, (GDestroyNotify) parse_data_free);

  if (body != NULL && g_bytes_get_size (body) > THREADED_PARSE_THRESHOLD)
    g_task_run_in_thread (task, parse_reply_thread);
  else
    parse_reply_thread (task, self, data, cancellable);
}

static JsonNode *
remote_parse_reply_finish (TetherRemote  *self,
                           GAsyncResult  *result,
                           GError       **error)
{
  g_return_val_if_fail (g_task_is_valid (result, self), NULL);

  return g_task_propagate_pointer (G_TASK (result), error);
}

/* A success reply whose body is about to be parsed must say it is JSON. */
static gboolean
reply_check_json (TetherRemote  *self,
                  Reply         *reply,
                  GError       **error)
{
  g_autofree char *content_type = NULL;
  g_autofree char *detail = NULL;

  if (content_type_is_json (reply->headers, &content_type))
    return TRUE;

  /* The server chose the content type: it is repeated only if it cannot
   * carry the secret back into a message. */
  if (content_type == NULL)
    detail = g_strdup (_("the reply has no content type"));
  else if (remote_text_has_secret (self, content_type))
    detail = g_strdup (_("the reply is not JSON"));
  else
    detail = g_strdup_printf (_("the reply is “%s”, not JSON"), content_type);

  *error = protocol_error_new (detail);

  return FALSE;
}

/*
 * GObject
 */

static void
tether_remote_constructed (GObject *object)
{
  TetherRemote *self = (TetherRemote *)object;
  guint per_host;

  G_OBJECT_CLASS (tether_remote_parent_class)->constructed (object);

  g_assert (TETHER_IS_ACCOUNT (self->account));

  /* libsoup keeps two connections per host by default; the push keeps up
   * to push-concurrency requests in flight. */
  per_host = MAX (2, tether_account_get_push_concurrency (self->account));

  self->session = soup_session_new_with_options ("user-agent", "Tether/" PACKAGE_VERSION,
                                                 "timeout", self->timeout,
                                                 "max-conns-per-host", per_host,
                                                 "max-conns", per_host + 8,
                                                 NULL);
}

static void
tether_remote_dispose (GObject *object)
{
  TetherRemote *self = (TetherRemote *)object;

  if (self->session != NULL)
    soup_session_abort (self->session);

  g_clear_object (&self->session);
  g_clear_object (&self->account);

  G_OBJECT_CLASS (tether_remote_parent_class)->dispose (object);
}

static void
tether_remote_finalize (GObject *object)
{
  TetherRemote *self = (TetherRemote *)object;

  wipe_string (self->secret);
  g_clear_pointer (&self->secret, g_free);

  G_OBJECT_CLASS (tether_remote_parent_class)->finalize (object);
}

static void
tether_remote_get_property (GObject    *object,
                            guint       prop_id,
                            GValue     *value,
                            GParamSpec *pspec)
{
  TetherRemote *self = TETHER_REMOTE (object);

  switch (prop_id)
    {
    case PROP_ACCOUNT:
      g_value_set_object (value, self->account);
      break;

    case PROP_TIMEOUT:
      g_value_set_uint (value, self->timeout);
      break;

    case PROP_MAX_REPLY_SIZE:
      g_value_set_uint64 (value, self->max_reply_size);
      break;

    default:
      G_OBJECT_WARN_INVALID_PROPERTY_ID (object, prop_id, pspec);
    }
}

static void
tether_remote_set_property (GObject      *object,
                            guint         prop_id,
                            const GValue *value,
                            GParamSpec   *pspec)
{
  TetherRemote *self = TETHER_REMOTE (object);

  switch (prop_id)
    {
    case PROP_ACCOUNT:
      self->account = g_value_dup_object (value);
      break;

    case PROP_TIMEOUT:
      tether_remote_set_timeout (self, g_value_get_uint (value));
      break;

    case PROP_MAX_REPLY_SIZE:
      tether_remote_set_max_reply_size (self, g_value_get_uint64 (value));
      break;

    default:
      G_OBJECT_WARN_INVALID_PROPERTY_ID (object, prop_id, pspec);
    }
}

static void
tether_remote_class_init (TetherRemoteClass *klass)
{
  GObjectClass *object_class = G_OBJECT_CLASS (klass);

  object_class->constructed = tether_remote_constructed;
  object_class->dispose = tether_remote_dispose;
  object_class->finalize = tether_remote_finalize;
  object_class->get_property = tether_remote_get_property;
  object_class->set_property = tether_remote_set_property;

  properties[PROP_ACCOUNT] =
    g_param_spec_object ("account", NULL, NULL,
                         TETHER_TYPE_ACCOUNT,
                         (G_PARAM_READWRITE | G_PARAM_CONSTRUCT_ONLY | G_PARAM_STATIC_STRINGS));

  properties[PROP_TIMEOUT] =
    g_param_spec_uint ("timeout", NULL, NULL,
                       1, G_MAXUINT, DEFAULT_TIMEOUT_SECONDS,
                       (G_PARAM_READWRITE | G_PARAM_EXPLICIT_NOTIFY | G_PARAM_STATIC_STRINGS));

  properties[PROP_MAX_REPLY_SIZE] =
    g_param_spec_uint64 ("max-reply-size", NULL, NULL,
                         1, G_MAXUINT64, DEFAULT_MAX_REPLY_SIZE,
                         (G_PARAM_READWRITE | G_PARAM_EXPLICIT_NOTIFY | G_PARAM_STATIC_STRINGS));

  g_object_class_install_properties (object_class, N_PROPS, properties);
}

static void
tether_remote_init (TetherRemote *self)
{
  self->timeout = DEFAULT_TIMEOUT_SECONDS;
  self->max_reply_size = DEFAULT_MAX_REPLY_SIZE;
}

TetherRemote *
tether_remote_new (TetherAccount *account)
{
  g_return_val_if_fail (TETHER_IS_ACCOUNT (account), NULL);

  return g_object_new (TETHER_TYPE_REMOTE,
                       "account", account,
                       NULL);
}

TetherAccount *
tether_remote_get_account (TetherRemote *self)
{
  g_return_val_if_fail (TETHER_IS_REMOTE (self), NULL);

  return self->account;
}

void
tether_remote_set_secret (TetherRemote *self,
                          const char   *secret)
{
  g_return_if_fail (TETHER_IS_REMOTE (self));

  wipe_string (self->secret);
  g_clear_pointer (&self->secret, g_free);

  if (secret != NULL)
    self->secret = g_strdup (secret);
}

guint
tether_remote_get_timeout (TetherRemote *self)
{
  g_return_val_if_fail (TETHER_IS_REMOTE (self), 0);

  return self->timeout;
}

void
tether_remote_set_timeout (TetherRemote *self,
                           guint         seconds)
{
  g_return_if_fail (TETHER_IS_REMOTE (self));
  g_return_if_fail (seconds > 0);

  if (self->timeout == seconds)
    return;

  self->timeout = seconds;

  if (self->session != NULL)
    soup_session_set_timeout (self->session, seconds);

  g_object_notify_by_pspec (G_OBJECT (self), properties[PROP_TIMEOUT]);
}

guint64
tether_remote_get_max_reply_size (TetherRemote *self)
{
  g_return_val_if_fail (TETHER_IS_REMOTE (self), 0);

  return self->max_reply_size;
}

void
tether_remote_set_max_reply_size (TetherRemote *self,
                                  guint64       bytes)
{
  g_return_if_fail (TETHER_IS_REMOTE (self));
  g_return_if_fail (bytes > 0);

  if (self->max_reply_size == bytes)
    return;

  self->max_reply_size = bytes;
  g_object_notify_by_pspec (G_OBJECT (self), properties[PROP_MAX_REPLY_SIZE]);
}

guint64
tether_remote_get_requests_sent (TetherRemote *self)
{
  g_return_val_if_fail (TETHER_IS_REMOTE (self), 0);

  return self->requests_sent;
}

guint64
tether_remote_get_not_modified_count (TetherRemote *self)
{
  g_return_val_if_fail (TETHER_IS_REMOTE (self), 0);

  return self->not_modified_count;
}

guint64
tether_remote_get_bytes_received (TetherRemote *self)
{
  g_return_val_if_fail (TETHER_IS_REMOTE (self), 0);

  return self->bytes_received;
}

void
tether_remote_reset_counters (TetherRemote *self)
{
  g_return_if_fail (TETHER_IS_REMOTE (self));

  self->requests_sent = 0;
  self->not_modified_count = 0;
  self->bytes_received = 0;
}

char *
tether_remote_dup_first_page_url (TetherRemote  *self,
                                  GError       **error)
{
  g_autoptr(GUri) base = NULL;
  g_autoptr(GUri) uri = NULL;
  g_autofree char *collection_path = NULL;

  g_return_val_if_fail (TETHER_IS_REMOTE (self), NULL);

  if (!remote_get_endpoints (self, &base, &collection_path, error))
    return NULL;

  uri = build_page_uri (base, collection_path, tether_account_get_page_size (self->account));

  return g_uri_to_string (uri);
}

/*
 * List
 */

typedef struct
{
  GUri             *base;
  TetherRemotePage *page;
  GUri             *request_uri;
} ListData;

static void
list_data_free (ListData *data)
{
  g_clear_pointer (&data->base, g_uri_unref);
  g_clear_pointer (&data->page, tether_remote_page_unref);
  g_clear_pointer (&data->request_uri, g_uri_unref);
  g_free (data);
}

/* Fills next_url, last_page and total_count from the reply's headers. */
static gboolean
list_read_links (ListData  *data,
                 Reply     *reply,
                 GError   **error)
{
  g_autoptr(GHashTable) links = NULL;
  const char *header;
  const char *next;
  const char *last;
  gint64 total;

  header = soup_message_headers_get_one (reply->headers, "X-Total-Count");
  if (header != NULL &&
      g_ascii_string_to_signed (header, 10, 0, G_MAXINT64, &total, NULL))
    data->page->total_count = total;

  header = soup_message_headers_get_list (reply->headers, "Link");
  links = tether_remote_parse_link_header (header);

  /* Links are relative to the URL that answered (RFC 8288 §3.2): the
   * one asked for, or where a redirect led. */
  if ((last = g_hash_table_lookup (links, "last")) != NULL)
    {
      g_autoptr(GUri) last_uri = g_uri_parse_relative (reply->uri, last, SOUP_HTTP_URI_FLAGS, NULL);

      if (last_uri != NULL)
        data->page->last_page = uri_get_page_number (last_uri);
    }

  if ((next = g_hash_table_lookup (links, "next")) != NULL)
    {
      g_autoptr(GUri) next_uri = NULL;
      g_autoptr(GUri) clean = NULL;

      next_uri = g_uri_parse_relative (reply->uri, next, SOUP_HTTP_URI_FLAGS, NULL);
      if (next_uri == NULL || !uri_is_http (next_uri) || g_uri_get_host (next_uri) == NULL)
        {
          *error = protocol_error_new (_("the link to the next page is not a valid address"));
          return FALSE;
        }

      if (!same_origin (next_uri, data->base) || g_uri_get_userinfo (next_uri) != NULL)
        {
          *error = protocol_error_new (_("the link to the next page points to another server"));
          return FALSE;
        }

      clean = build_uri (next_uri, g_uri_get_path (next_uri), g_uri_get_query (next_uri));
      data->page->next_url = g_uri_to_string (clean);

      if (g_strcmp0 (data->page->next_url, data->page->url) == 0)
        {
          *error = protocol_error_new (_("the link to the next page points to the same page"));
          return FALSE;
        }
    }

  return TRUE;
}

static void
list_parse_cb (GObject      *object,
               GAsyncResult *result,
               gpointer      user_data)
{
  TetherRemote *self = TETHER_REMOTE (object);
  g_autoptr(GTask) task = user_data;
  ListData *data = g_task_get_task_data (task);
  g_autoptr(JsonNode) root = NULL;
  g_autoptr(GError) error = NULL;

  root = remote_parse_reply_finish (self, result, &error);
  if (root == NULL)
    {
      g_task_return_error (task, g_steal_pointer (&error));
      return;
    }

  data->page->items = json_array_ref (json_node_get_array (root));

  g_task_return_pointer (task,
                         tether_remote_page_ref (data->page),
                         (GDestroyNotify) tether_remote_page_unref);
}

static void
list_request_cb (GObject      *object,
                 GAsyncResult *result,
                 gpointer      user_data)
{
  TetherRemote *self = TETHER_REMOTE (object);
  g_autoptr(GTask) task = user_data;
  ListData *data = g_task_get_task_data (task);
  g_autoptr(Reply) reply = NULL;
  g_autoptr(GError) error = NULL;
  const char *etag;
  GCancellable *cancellable;

  reply = remote_request_finish (self, result, &error);
  if (reply == NULL)
    {
      g_task_return_error (task, g_steal_pointer (&error));
      return;
    }

  if (reply->status == SOUP_STATUS_NOT_MODIFIED)
    {
      const char *sent = soup_message_headers_get_one (reply->headers, "ETag");

      if (data->page->etag == NULL)
        {
          g_task_return_error (task, protocol_error_new (_("the server answered “not modified” to a request that was not conditional")));
          return;
        }

      if (sent != NULL)
        {
          g_free (data->page->etag);
          data->page->etag = g_strdup (sent);
        }

      data->page->not_modified = TRUE;

      if (!list_read_links (data, reply, &error))
        {
          g_task_return_error (task, g_steal_pointer (&error));
          return;
        }

      g_task_return_pointer (task,
                             tether_remote_page_ref (data->page),
                             (GDestroyNotify) tether_remote_page_unref);
      return;
    }

  if (!SOUP_STATUS_IS_SUCCESSFUL (reply->status))
    {
      g_task_return_error (task, remote_status_error_new (self, reply, OP_LIST));
      return;
    }

  if (!reply_check_json (self, reply, &error) || !list_read_links (data, reply, &error))
    {
      g_task_return_error (task, g_steal_pointer (&error));
      return;
    }

  g_clear_pointer (&data->page->etag, g_free);
  etag = soup_message_headers_get_one (reply->headers, "ETag");
  data->page->etag = g_strdup (etag);

  cancellable = g_task_get_cancellable (task);
  remote_parse_reply_async (self, reply->body, SHAPE_RECORD_LIST,
                            cancellable,
                            list_parse_cb,
                            g_steal_pointer (&task));
}

static void
remote_list_async (TetherRemote        *self,
                   const char          *url,
                   guint                page_size,
                   const char          *etag,
                   gpointer             source_tag,
                   GCancellable        *cancellable,
                   GAsyncReadyCallback  callback,
                   gpointer             user_data)
{
  g_autoptr(GTask) task = NULL;
  g_autofree char *collection_path = NULL;
  g_autoptr(GError) error = NULL;
  ListData *data;

  task = g_task_new (self, cancellable, callback, user_data);
  g_task_set_source_tag (task, source_tag);

  data = g_new0 (ListData, 1);
  data->page = tether_remote_page_new ();
  g_task_set_task_data (task, data, (GDestroyNotify) list_data_free);

  if (!remote_get_endpoints (self, &data->base, &collection_path, &error))
    {
      g_task_return_error (task, g_steal_pointer (&error));
      return;
    }

  if (url == NULL)
    {
      data->request_uri = build_page_uri (data->base, collection_path, page_size);
    }
  else
    {
      data->request_uri = g_uri_parse (url, SOUP_HTTP_URI_FLAGS, NULL);

      if (data->request_uri == NULL ||
          !uri_is_http (data->request_uri) ||
          g_uri_get_host (data->request_uri) == NULL ||
          !same_origin (data->request_uri, data->base) ||
          g_uri_get_userinfo (data->request_uri) != NULL)
        {
          g_task_return_error (task, protocol_error_new (_("the link to the next page points to another server")));
          return;
        }
    }

  data->page->url = g_uri_to_string (data->request_uri);
  data->page->page = uri_get_page_number (data->request_uri);
  data->page->etag = g_strdup (etag);

  remote_request_async (self, SOUP_METHOD_GET, data->base, data->request_uri,
                        NULL, NULL, etag,
                        cancellable,
                        list_request_cb,
                        g_steal_pointer (&task));
}

void
tether_remote_list_page_async (TetherRemote        *self,
                               const char          *url,
                               const char          *etag,
                               GCancellable        *cancellable,
                               GAsyncReadyCallback  callback,
                               gpointer             user_data)
{
  g_return_if_fail (TETHER_IS_REMOTE (self));
  g_return_if_fail (!cancellable || G_IS_CANCELLABLE (cancellable));

  remote_list_async (self, url, tether_account_get_page_size (self->account), etag,
                     tether_remote_list_page_async,
                     cancellable, callback, user_data);
}

TetherRemotePage *
tether_remote_list_page_finish (TetherRemote  *self,
                                GAsyncResult  *result,
                                GError       **error)
{
  g_return_val_if_fail (TETHER_IS_REMOTE (self), NULL);
  g_return_val_if_fail (g_task_is_valid (result, self), NULL);
  g_return_val_if_fail (g_task_get_source_tag (G_TASK (result)) == tether_remote_list_page_async, NULL);

  return g_task_propagate_pointer (G_TASK (result), error);
}

/*
 * Create, update, delete
 */

typedef struct
{
  Operation  op;
  char      *id;
  char      *etag;
  JsonNode  *object;
} WriteData;

static void
write_data_free (WriteData *data)
{
  g_clear_pointer (&data->id, g_free);
  g_clear_pointer (&data->etag, g_free);
  g_clear_pointer (&data->object, json_node_unref);
  g_free (data);
}

typedef struct
{
  JsonObject *object;
  char       *etag;
} WriteResult;

static void
write_result_free (WriteResult *result)
{
  g_clear_pointer (&result->object, json_object_unref);
  g_clear_pointer (&result->etag, g_free);
  g_free (result);
}

static void
write_return_result (GTask *task)
{
  WriteData *data = g_task_get_task_data (task);
  WriteResult *result;

  result = g_new0 (WriteResult, 1);
  if (data->object != NULL)
    result->object = json_object_ref (json_node_get_object (data->object));
  result->etag = g_strdup (data->etag);

  g_task_return_pointer (task, result, (GDestroyNotify) write_result_free);
}

static void
write_parse_cb (GObject      *object,
                GAsyncResult *result,
                gpointer      user_data)
{
  TetherRemote *self = TETHER_REMOTE (object);
  g_autoptr(GTask) task = user_data;
  WriteData *data = g_task_get_task_data (task);
  g_autoptr(GError) error = NULL;
  JsonObject *record;
  JsonNode *id;

  data->object = remote_parse_reply_finish (self, result, &error);
  if (data->object == NULL)
    {
      g_task_return_error (task, g_steal_pointer (&error));
      return;
    }

  /* An update answered with another record than the one changed is not
   * a reply to trust. */
  record = json_node_get_object (data->object);
  id = json_object_get_member (record, tether_account_get_id_field (self->account));
  if (data->op == OP_UPDATE && id != NULL)
    {
      g_autofree char *reply_id = tether_remote_id_to_string (id);

      if (g_strcmp0 (reply_id, data->id) != 0)
        {
          g_autofree char *detail = NULL;

          detail = g_strdup_printf (_("the server answered with the record “%s” instead of “%s”"),
                                    reply_id != NULL ? reply_id : "?", data->id);
          g_task_return_error (task, protocol_error_new (detail));
          return;
        }
    }

  write_return_result (task);
}

static void
write_request_cb (GObject      *object,
                  GAsyncResult *result,
                  gpointer      user_data)
{
  TetherRemote *self = TETHER_REMOTE (object);
  g_autoptr(GTask) task = user_data;
  WriteData *data = g_task_get_task_data (task);
  g_autoptr(Reply) reply = NULL;
  g_autoptr(GError) error = NULL;
  GCancellable *cancellable;

  reply = remote_request_finish (self, result, &error);
  if (reply == NULL)
    {
      g_task_return_error (task, g_steal_pointer (&error));
      return;
    }

  if (data->op == OP_DELETE &&
      (reply->status == SOUP_STATUS_NOT_FOUND || reply->status == SOUP_STATUS_GONE))
    {
      g_debug ("Record %s was already gone", data->id);
      write_return_result (task);
      return;
    }

  if (!SOUP_STATUS_IS_SUCCESSFUL (reply->status))
    {
      g_task_return_error (task, remote_status_error_new (self, reply, data->op));
      return;
    }

  g_clear_pointer (&data->etag, g_free);
  data->etag = g_strdup (soup_message_headers_get_one (reply->headers, "ETag"));

  /* A delete's body says nothing we need. */
  if (data->op == OP_DELETE)
    {
      write_return_result (task);
      return;
    }

  /* An update may answer 204 No Content. A create must send the record
   * back: its id is the whole point. */
  if (data->op == OP_UPDATE && reply->body == NULL)
    {
      write_return_result (task);
      return;
    }

  if (data->op == OP_CREATE && reply->body == NULL)
    {
      g_task_return_error (task, protocol_error_new (_("the server did not send the created record back")));
      return;
    }

  if (!reply_check_json (self, reply, &error))
    {
      g_task_return_error (task, g_steal_pointer (&error));
      return;
    }

  cancellable = g_task_get_cancellable (task);
  remote_parse_reply_async (self, reply->body,
                            data->op == OP_CREATE ? SHAPE_RECORD : SHAPE_OBJECT,
                            cancellable,
                            write_parse_cb,
                            g_steal_pointer (&task));
}

static void
remote_write_async (TetherRemote        *self,
                    Operation            op,
                    const char          *method,
                    JsonNode            *id,
                    JsonObject          *object,
                    const char          *etag,
                    gpointer             source_tag,
                    GCancellable        *cancellable,
                    GAsyncReadyCallback  callback,
                    gpointer             user_data)
{
  g_autoptr(GTask) task = NULL;
  g_autoptr(GUri) base = NULL;
  g_autoptr(GUri) uri = NULL;
  g_autoptr(JsonNode) body = NULL;
  g_autofree char *collection_path = NULL;
  g_autofree char *path = NULL;
  g_autoptr(GError) error = NULL;
  WriteData *data;

  task = g_task_new (self, cancellable, callback, user_data);
  g_task_set_source_tag (task, source_tag);

  data = g_new0 (WriteData, 1);
  data->op = op;
  g_task_set_task_data (task, data, (GDestroyNotify) write_data_free);

  if (!remote_get_endpoints (self, &base, &collection_path, &error))
    {
      g_task_return_error (task, g_steal_pointer (&error));
      return;
    }

  if (op == OP_CREATE)
    {
      path = g_steal_pointer (&collection_path);
    }
  else
    {
      g_autofree char *segment = NULL;

      data->id = tether_remote_id_to_string (id);
      if (data->id == NULL)
        {
          g_task_return_error (task,
                               remote_error_new (TETHER_REMOTE_ERROR_PERMANENT, 0, "%s",
                                                 _("The record’s server id is neither a text nor a whole number, so Tether cannot address it on the server.")));
          return;
        }

      if (!(segment = tether_remote_id_to_path_segment (data->id, &error)))
        {
          g_task_return_error (task, g_steal_pointer (&error));
          return;
        }

      path = g_strconcat (collection_path, "/", segment, NULL);
    }

  uri = build_uri (base, path, NULL);

  if (object != NULL)
    {
      body = json_node_new (JSON_NODE_OBJECT);
      json_node_set_object (body, object);
    }

  remote_request_async (self, method, base, uri, body, etag, NULL,
                        cancellable,
                        write_request_cb,
                        g_steal_pointer (&task));
}

void
tether_remote_create_async (TetherRemote        *self,
                            JsonObject          *object,
                            GCancellable        *cancellable,
                            GAsyncReadyCallback  callback,
                            gpointer             user_data)
{
  g_return_if_fail (TETHER_IS_REMOTE (self));
  g_return_if_fail (object != NULL);
  g_return_if_fail (!cancellable || G_IS_CANCELLABLE (cancellable));

  remote_write_async (self, OP_CREATE, SOUP_METHOD_POST, NULL, object, NULL,
                      tether_remote_create_async,
                      cancellable, callback, user_data);
}

JsonObject *
tether_remote_create_finish (TetherRemote  *self,
                             GAsyncResult  *result,
                             char         **out_etag,
                             GError       **error)
{
  WriteResult *write_result;
  JsonObject *object;

  g_return_val_if_fail (TETHER_IS_REMOTE (self), NULL);
  g_return_val_if_fail (g_task_is_valid (result, self), NULL);
  g_return_val_if_fail (g_task_get_source_tag (G_TASK (result)) == tether_remote_create_async, NULL);

  if (out_etag != NULL)
    *out_etag = NULL;

  write_result = g_task_propagate_pointer (G_TASK (result), error);
  if (write_result == NULL)
    return NULL;

  object = g_steal_pointer (&write_result->object);
  if (out_etag != NULL)
    *out_etag = g_steal_pointer (&write_result->etag);
  write_result_free (write_result);

  return object;
}

void
tether_remote_update_async (TetherRemote        *self,
                            JsonNode            *id,
                            JsonObject          *object,
                            TetherUpdateMethod   method,
                            const char          *etag,
                            GCancellable        *cancellable,
                            GAsyncReadyCallback  callback,
                            gpointer             user_data)
{
  g_return_if_fail (TETHER_IS_REMOTE (self));
  g_return_if_fail (id != NULL);
  g_return_if_fail (object != NULL);
  g_return_if_fail (method == TETHER_UPDATE_METHOD_PATCH || method == TETHER_UPDATE_METHOD_PUT);
  g_return_if_fail (!cancellable || G_IS_CANCELLABLE (cancellable));

  remote_write_async (self, OP_UPDATE,
                      method == TETHER_UPDATE_METHOD_PUT ? SOUP_METHOD_PUT : METHOD_PATCH,
                      id, object, etag,
                      tether_remote_update_async,
                      cancellable, callback, user_data);
}

gboolean
tether_remote_update_finish (TetherRemote  *self,
                             GAsyncResult  *result,
                             JsonObject   **out_object,
                             char         **out_etag,
                             GError       **error)
{
  WriteResult *write_result;

  g_return_val_if_fail (TETHER_IS_REMOTE (self), FALSE);
  g_return_val_if_fail (g_task_is_valid (result, self), FALSE);
  g_return_val_if_fail (g_task_get_source_tag (G_TASK (result)) == tether_remote_update_async, FALSE);

  if (out_object != NULL)
    *out_object = NULL;
  if (out_etag != NULL)
    *out_etag = NULL;

  write_result = g_task_propagate_pointer (G_TASK (result), error);
  if (write_result == NULL)
    return FALSE;

  if (out_object != NULL)
    *out_object = g_steal_pointer (&write_result->object);
  if (out_etag != NULL)
    *out_etag = g_steal_pointer (&write_result->etag);
  write_result_free (write_result);

  return TRUE;
}

void
tether_remote_delete_async (TetherRemote        *self,
                            JsonNode            *id,
                            const char          *etag,
                            GCancellable        *cancellable,
                            GAsyncReadyCallback  callback,
                            gpointer             user_data)
{
  g_return_if_fail (TETHER_IS_REMOTE (self));
  g_return_if_fail (id != NULL);
  g_return_if_fail (!cancellable || G_IS_CANCELLABLE (cancellable));

  remote_write_async (self, OP_DELETE, SOUP_METHOD_DELETE, id, NULL, etag,
                      tether_remote_delete_async,
                      cancellable, callback, user_data);
}

gboolean
tether_remote_delete_finish (TetherRemote  *self,
                             GAsyncResult  *result,
                             GError       **error)
{
  WriteResult *write_result;

  g_return_val_if_fail (TETHER_IS_REMOTE (self), FALSE);
  g_return_val_if_fail (g_task_is_valid (result, self), FALSE);
  g_return_val_if_fail (g_task_get_source_tag (G_TASK (result)) == tether_remote_delete_async, FALSE);

  write_result = g_task_propagate_pointer (G_TASK (result), error);
  if (write_result == NULL)
    return FALSE;

  write_result_free (write_result);

  return TRUE;
}

/*
 * Test connection
 */

static void
test_connection_list_cb (GObject      *object,
                         GAsyncResult *result,
                         gpointer      user_data)
{
  TetherRemote *self = TETHER_REMOTE (object);
  g_autoptr(GTask) task = user_data;
  g_autoptr(TetherRemotePage) page = NULL;
  g_autoptr(GError) error = NULL;
  const char *server;
  const char *collection;

  page = g_task_propagate_pointer (G_TASK (result), &error);
  if (page == NULL)
    {
      g_task_return_error (task, g_steal_pointer (&error));
      return;
    }

  server = tether_account_get_server_url (self->account);
  collection = tether_account_get_collection (self->account);

  if (page->total_count >= 0)
    {
      g_autofree char *count = g_strdup_printf ("%" G_GINT64_FORMAT, page->total_count);
      gulong n = (gulong) MIN ((guint64) page->total_count, (guint64) G_MAXULONG);

      /* Translators: the first %s is the server URL, the second the
       * collection, the third a number of records. */
      g_task_return_pointer (task,
                             g_strdup_printf (g_dngettext (GETTEXT_PACKAGE,
                                                           "Connected to %s. The collection “%s” holds %s record.",
                                                           "Connected to %s. The collection “%s” holds %s records.",
                                                           n),
                                              server, collection, count),
                             g_free);
    }
  else
    {
      g_task_return_pointer (task,
                             g_strdup_printf (_("Connected to %s. The collection “%s” answered."),
                                              server, collection),
                             g_free);
    }
}

void
tether_remote_test_connection_async (TetherRemote        *self,
                                     GCancellable        *cancellable,
                                     GAsyncReadyCallback  callback,
                                     gpointer             user_data)
{
  g_autoptr(GTask) task = NULL;

  g_return_if_fail (TETHER_IS_REMOTE (self));
  g_return_if_fail (!cancellable || G_IS_CANCELLABLE (cancellable));

  task = g_task_new (self, cancellable, callback, user_data);
  g_task_set_source_tag (task, tether_remote_test_connection_async);

  remote_list_async (self, NULL, 1, NULL,
                     remote_list_async,
                     cancellable,
                     test_connection_list_cb,
                     g_steal_pointer (&task));
}

char *
tether_remote_test_connection_finish (TetherRemote  *self,
                                      GAsyncResult  *result,
                                      GError       **error)
{
  g_return_val_if_fail (TETHER_IS_REMOTE (self), NULL);
  g_return_val_if_fail (g_task_is_valid (result, self), NULL);
  g_return_val_if_fail (g_task_get_source_tag (G_TASK (result)) == tether_remote_test_connection_async, NULL);

  return g_task_propagate_pointer (G_TASK (result), error);
}
