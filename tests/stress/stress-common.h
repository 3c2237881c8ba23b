/* stress-common.h
 *
 * Copyright 2026 The Tether authors
 *
 * SPDX-License-Identifier: GPL-3.0-or-later
 */

#pragma once

#include <gio/gio.h>
#include <json-glib/json-glib.h>

#include "tether-session.h"

G_BEGIN_DECLS

/* What the stress programs share: a client put together as the app and
 * tether-cli do it (a session with its store, remote and sync), blocking
 * helpers to drive it, and the comparison of a client with the server. */

typedef struct
{
  char          *dir;
  TetherAccount *account;
  TetherSession *session;
  TetherRemote  *remote;
  TetherSync    *sync;
  GError        *open_error;
} StressClient;

/* A client of @url with its store in @dir (made when missing), or in a
 * new temporary directory when @dir is %NULL. The store is opened; a
 * damaged store is kept open with what was recovered and the error is in
 * open_error. Timeouts and retry delays are short, for tests. */
StressClient     *stress_client_new           (const char            *url,
                                               TetherConflictPolicy   policy,
                                               const char            *dir);
/* Closes the store and frees the client. The directory is removed only
 * when @remove_dir is set. */
void              stress_client_free_full     (StressClient          *client,
                                               gboolean               remove_dir);
void              stress_client_free          (StressClient          *client);
TetherCollection *stress_client_collection    (StressClient          *client);
gboolean          stress_client_sync          (StressClient          *client,
                                               TetherSyncFlags        flags,
                                               TetherSyncReport      *report,
                                               GError               **error);

G_DEFINE_AUTOPTR_CLEANUP_FUNC (StressClient, stress_client_free)

/* Compares a client's collection with the server's collection (a JSON
 * array of objects holding @id_field). Every server record must have one
 * local list record with the same id and the same attributes (the server
 * object without its id), and every local list record must be on the
 * server. With @strict, a local record that is not synced, or any
 * tombstone, is a difference too. Returns the number of differing
 * records; each is described on a line of @why (nullable). */
guint             stress_compare_with_server  (TetherCollection      *collection,
                                               JsonArray             *server,
                                               const char            *id_field,
                                               gboolean               strict,
                                               GString               *why);

/* Counts the server records per value of @field (a string member);
 * records without it count under "". Returns the number of surplus records:
 * for each value held by n > 1 records, n - 1. */
guint             stress_count_duplicates     (JsonArray             *server,
                                               const char            *field,
                                               guint                 *out_without);

/* @default_seed, or TETHER_STRESS_SEED when it is set. */
guint32           stress_seed                 (guint32                default_seed);

/* A TCP port on 127.0.0.1 that nothing listens on (it was bound, then
 * closed): connecting to it is refused. */
guint16           stress_closed_port          (void);

/* tether_test_init() in keep-going mode: a failed check ends the test
 * with status 1 and the figures printed, rather than with an abort. */
void              stress_test_init            (int                   *argc,
                                               char                ***argv);

/* Drops debug and info messages (GTest shows them otherwise) unless
 * TETHER_STRESS_DEBUG is set; warnings and errors go on as before. Call
 * it once, early. */
void              stress_quiet_debug          (void);

/* Removes @path and everything under it. */
void              stress_remove_tree          (const char            *path);

/* Compact one-line JSON of @node (%NULL: "-"). */
char             *stress_node_to_string       (JsonNode              *node);
/* Parses JSON text into a node; %NULL on a syntax error. */
JsonNode         *stress_node_from_string     (const char            *text);

/* A TCP proxy on 127.0.0.1 in front of another local server, so that a
 * test can take "the server" down at any moment: refusing closes the
 * listening socket and every open connection (keep-alive ones included),
 * so the next request meets a refused connection; resuming listens on the
 * same port again. It runs on the thread-default main context. */
typedef struct _StressProxy StressProxy;

StressProxy      *stress_proxy_new            (guint16                upstream_port);
/* "http://127.0.0.1:PORT" */
const char       *stress_proxy_get_url        (StressProxy           *proxy);
void              stress_proxy_refuse         (StressProxy           *proxy);
void              stress_proxy_resume         (StressProxy           *proxy);
gboolean          stress_proxy_is_refusing    (StressProxy           *proxy);
void              stress_proxy_free           (StressProxy           *proxy);

G_DEFINE_AUTOPTR_CLEANUP_FUNC (StressProxy, stress_proxy_free)

G_END_DECLS
