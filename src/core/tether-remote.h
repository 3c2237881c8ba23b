/* tether-remote.h
 *
 * Copyright 2026 The Tether authors
 *
 * SPDX-License-Identifier: GPL-3.0-or-later
 */

#pragma once

#include <gio/gio.h>
#include <json-glib/json-glib.h>

#include "tether-account.h"
#include "tether-types.h"

G_BEGIN_DECLS

#define TETHER_TYPE_REMOTE (tether_remote_get_type ())

G_DECLARE_FINAL_TYPE (TetherRemote, tether_remote, TETHER, REMOTE, GObject)

#define TETHER_REMOTE_ERROR (tether_remote_error_quark ())

/**
 * TetherRemoteError:
 * @TETHER_REMOTE_ERROR_OFFLINE: the server could not be reached: connection
 *   refused, no route, network unreachable, name not found
 * @TETHER_REMOTE_ERROR_TIMEOUT: the server did not answer in time; the
 *   request may or may not have been processed
 * @TETHER_REMOTE_ERROR_SERVER: a transient server failure (408, 429, 5xx
 *   but 501/505, or a connection dropped before the reply); the request may
 *   have been processed. tether_remote_error_get_retry_after() gives the
 *   server's Retry-After
 * @TETHER_REMOTE_ERROR_PERMANENT: the server refused the request (a 4xx not
 *   listed elsewhere, 501, 505, a redirect Tether does not follow), or the
 *   record's id cannot be put in a URL; retrying will not help. The message
 *   includes the server's own message when it sent one
 * @TETHER_REMOTE_ERROR_NOT_FOUND: 404 or 410 on an update (the record is gone
 *   from the server); a kind of permanent error
 * @TETHER_REMOTE_ERROR_AUTH: 401 or 403, or credentials are needed but none
 *   were given
 * @TETHER_REMOTE_ERROR_CONFLICT: 409 or 412: the record changed on the server
 * @TETHER_REMOTE_ERROR_PROTOCOL: the reply is not what the REST convention
 *   promises: not JSON, wrong shape, a record without id, too large, a next
 *   link to another server, too many redirects. Nothing should be changed
 *   locally because of it
 * @TETHER_REMOTE_ERROR_TLS: the server's certificate is not trusted; nothing
 *   was sent
 * @TETHER_REMOTE_ERROR_INSECURE: credentials would have gone over plain HTTP
 *   to a host that is not this computer; nothing was sent
 *
 * Every message is a sentence for the user. None contains the secret or the
 * Authorization header.
 */
typedef enum
{
  TETHER_REMOTE_ERROR_OFFLINE,
  TETHER_REMOTE_ERROR_TIMEOUT,
  TETHER_REMOTE_ERROR_SERVER,
  TETHER_REMOTE_ERROR_PERMANENT,
  TETHER_REMOTE_ERROR_NOT_FOUND,
  TETHER_REMOTE_ERROR_AUTH,
  TETHER_REMOTE_ERROR_CONFLICT,
  TETHER_REMOTE_ERROR_PROTOCOL,
  TETHER_REMOTE_ERROR_TLS,
  TETHER_REMOTE_ERROR_INSECURE,
} TetherRemoteError;

GQuark            tether_remote_error_quark            (void);
/* Seconds from the server's Retry-After (delta or HTTP date, capped at one
 * day), 0 when it sent none or @error is not a TETHER_REMOTE_ERROR. */
guint             tether_remote_error_get_retry_after  (const GError *error);
/* TIMEOUT and SERVER: worth retrying with backoff. (OFFLINE is retried when
 * the network comes back, not by backoff.) */
gboolean          tether_remote_error_is_transient     (const GError *error);
/* Whether the request may have been carried out by the server even though
 * it failed: TIMEOUT, SERVER (a 5xx or a connection dropped before the
 * reply), PROTOCOL (a reply that could not be used) and a cancellation.
 * A create failing so must not simply be sent again: the next pull may
 * find it by its client id. */
gboolean          tether_remote_error_is_uncertain     (const GError *error);

#define TETHER_TYPE_REMOTE_PAGE (tether_remote_page_get_type ())

/**
 * TetherRemotePage:
 * @url: the URL that was requested
 * @items: (nullable): the records of the page, each a JSON object with the
 *   id field holding a string or an integer; %NULL when @not_modified
 * @not_modified: the server answered 304 to the If-None-Match sent
 * @etag: (nullable): the page's ETag (on a 304, the one sent)
 * @next_url: (nullable): the absolute URL of the next page, checked to be on
 *   the same origin as the server URL; %NULL on the last page (or when a 304
 *   came without a Link header: then the caller's last known next URL holds)
 * @total_count: X-Total-Count, or -1
 * @page: this page's number (the `_page` or `page` query parameter of @url),
 *   or -1
 * @last_page: the page number of rel="last", or -1
 *
 * One page of a listing. Read-only; reference counted.
 */
typedef struct
{
  char       *url;
  JsonArray  *items;
  gboolean    not_modified;
  char       *etag;
  char       *next_url;
  gint64      total_count;
  gint64      page;
  gint64      last_page;
} TetherRemotePage;

GType             tether_remote_page_get_type          (void) G_GNUC_CONST;
TetherRemotePage *tether_remote_page_ref               (TetherRemotePage *page);
void              tether_remote_page_unref             (TetherRemotePage *page);

G_DEFINE_AUTOPTR_CLEANUP_FUNC (TetherRemotePage, tether_remote_page_unref)

/* A remote for @account. It reads the account's server URL, collection, id
 * field, page size, auth kind and username when each operation starts; the
 * push concurrency sizes the connection pool once, here. */
TetherRemote     *tether_remote_new                    (TetherAccount    *account);
TetherAccount    *tether_remote_get_account            (TetherRemote     *self);

/* The password (Basic) or token (Bearer). Kept in memory only and wiped when
 * replaced or when the remote is finalized. %NULL clears it. */
void              tether_remote_set_secret             (TetherRemote     *self,
                                                        const char       *secret);

/* Seconds of I/O inactivity before a request fails with TIMEOUT (default
 * 30). Applies to connections opened after the call. */
guint             tether_remote_get_timeout            (TetherRemote     *self);
void              tether_remote_set_timeout            (TetherRemote     *self,
                                                        guint             seconds);
/* Largest reply body accepted, in bytes (default 64 MiB). A larger reply is
 * a PROTOCOL error; no more than this is ever read into memory. */
guint64           tether_remote_get_max_reply_size     (TetherRemote     *self);
void              tether_remote_set_max_reply_size     (TetherRemote     *self,
                                                        guint64           bytes);

/* Counters since creation (or the last reset), for tests and benchmarks:
 * HTTP requests put on the wire (redirects count), 304 replies, and reply
 * body bytes read (after content decoding). */
guint64           tether_remote_get_requests_sent      (TetherRemote     *self);
guint64           tether_remote_get_not_modified_count (TetherRemote     *self);
guint64           tether_remote_get_bytes_received     (TetherRemote     *self);
void              tether_remote_reset_counters         (TetherRemote     *self);

/* The URL of the first page: base "/" collection "?_page=1&_limit=SIZE".
 * %NULL with an error when the account's server URL is not valid. */
char             *tether_remote_dup_first_page_url     (TetherRemote     *self,
                                                        GError          **error);

/* GET one page. @url: %NULL for the first page, else a next_url returned
 * by a previous page (it must be on the server's origin). @etag: (nullable)
 * sent as If-None-Match. */
void              tether_remote_list_page_async        (TetherRemote        *self,
                                                        const char          *url,
                                                        const char          *etag,
                                                        GCancellable        *cancellable,
                                                        GAsyncReadyCallback  callback,
                                                        gpointer             user_data);
TetherRemotePage *tether_remote_list_page_finish       (TetherRemote        *self,
                                                        GAsyncResult        *result,
                                                        GError             **error);

/* POST @object to the collection. The caller adds the client-id field and
 * leaves the id out. Returns the created record as the server sent it (an
 * object holding the id field with a string or integer), and its ETag. */
void              tether_remote_create_async           (TetherRemote        *self,
                                                        JsonObject          *object,
                                                        GCancellable        *cancellable,
                                                        GAsyncReadyCallback  callback,
                                                        gpointer             user_data);
JsonObject       *tether_remote_create_finish          (TetherRemote        *self,
                                                        GAsyncResult        *result,
                                                        char               **out_etag,
                                                        GError             **error);

/* PATCH (the changed fields) or PUT (the whole record) @object to the
 * record @id (a JSON string or integer node), with If-Match: @etag when not
 * %NULL. On success @out_object gets the record the server answered, or
 * %NULL when it answered without a body (204), and @out_etag its ETag. */
void              tether_remote_update_async           (TetherRemote        *self,
                                                        JsonNode            *id,
                                                        JsonObject          *object,
                                                        TetherUpdateMethod   method,
                                                        const char          *etag,
                                                        GCancellable        *cancellable,
                                                        GAsyncReadyCallback  callback,
                                                        gpointer             user_data);
gboolean          tether_remote_update_finish          (TetherRemote        *self,
                                                        GAsyncResult        *result,
                                                        JsonObject         **out_object,
                                                        char               **out_etag,
                                                        GError             **error);

/* DELETE the record @id. 404 and 410 count as success: it is gone. */
void              tether_remote_delete_async           (TetherRemote        *self,
                                                        JsonNode            *id,
                                                        const char          *etag,
                                                        GCancellable        *cancellable,
                                                        GAsyncReadyCallback  callback,
                                                        gpointer             user_data);
gboolean          tether_remote_delete_finish          (TetherRemote        *self,
                                                        GAsyncResult        *result,
                                                        GError             **error);

/* GET the first page with _limit=1. Returns a sentence for the user. */
void              tether_remote_test_connection_async  (TetherRemote        *self,
                                                        GCancellable        *cancellable,
                                                        GAsyncReadyCallback  callback,
                                                        gpointer             user_data);
char             *tether_remote_test_connection_finish (TetherRemote        *self,
                                                        GAsyncResult        *result,
                                                        GError             **error);

/* @id escaped as exactly one path segment: every byte but the unreserved
 * ones (RFC 3986: ALPHA DIGIT - . _ ~) percent-encoded, so "/", "%", "?",
 * "#", spaces and non-ASCII cannot change the path. An id that is empty,
 * "." or ".." has no safe form: HTTP libraries and servers (GUri and
 * SoupServer among them) decode "%2E%2E" back to ".." and remove it as a
 * dot-segment, so it is refused with a PERMANENT error. */
char             *tether_remote_id_to_path_segment     (const char          *id,
                                                        GError             **error);
/* The text of a string or integer id node ("42", "abc"); %NULL for any
 * other node. */
char             *tether_remote_id_to_string           (JsonNode            *id);

/* Parses an RFC 8288 Link header ("<url>; rel=\"next\", <url>; rel=last").
 * Returns a table mapping each relation type (lower case; a rel with
 * several types counts for each) to the first URL given for it, as written
 * (not resolved). Malformed link-values are skipped; never fails. */
GHashTable       *tether_remote_parse_link_header      (const char          *header);

G_END_DECLS
