/* tether-test-json-server.h
 *
 * Copyright 2026 The Tether authors
 *
 * SPDX-License-Identifier: GPL-3.0-or-later
 */

#pragma once

#include <gio/gio.h>
#include <json-glib/json-glib.h>

G_BEGIN_DECLS

/* A real json-server 0.17.4 (the reference server of DESIGN.md §4), run by
 * node from <source root>/node_modules on a free port of 127.0.0.1, on a
 * db.json of its own in a temporary directory. Its output goes to a log
 * file beside the db. The server is killed when the fixture is freed, and
 * also when the test process dies (PR_SET_PDEATHSIG). */
typedef struct _TetherTestJsonServer TetherTestJsonServer;

#define TETHER_TEST_JSON_SERVER_VERSION "0.17.4"

/* Starts the server and waits (up to 15 s) until GET /records answers.
 * @initial_db_json: the whole db.json, or %NULL for {"records": []}.
 * Fails with a message saying to run `npm ci` when json-server is not
 * installed. */
TetherTestJsonServer *tether_test_json_server_new          (const char            *initial_db_json,
                                                            GError               **error);
/* "http://127.0.0.1:PORT", without a trailing slash. */
const char           *tether_test_json_server_get_url      (TetherTestJsonServer  *self);
guint16               tether_test_json_server_get_port     (TetherTestJsonServer  *self);
const char           *tether_test_json_server_get_db_path  (TetherTestJsonServer  *self);
const char           *tether_test_json_server_get_log_path (TetherTestJsonServer  *self);

/* A blocking request to @path (e.g. "/records?_page=1") for assertions.
 * Returns the reply parsed as JSON (%NULL for an empty body) and the
 * status; fails when no reply came or the body is not JSON. */
JsonNode             *tether_test_json_server_request      (TetherTestJsonServer  *self,
                                                            const char            *method,
                                                            const char            *path,
                                                            const char            *body_json,
                                                            guint                 *out_status,
                                                            GError               **error);
/* GET /@collection, the whole array; asserts success. */
JsonArray            *tether_test_json_server_dup_collection (TetherTestJsonServer *self,
                                                              const char           *collection);

/* SIGTERM, then SIGKILL after 5 s; waits for the process to end. Safe to
 * call twice. */
void                  tether_test_json_server_stop         (TetherTestJsonServer  *self);
/* Stops the server and deletes its directory (unless the test failed,
 * in which case the log is kept and its path printed). */
void                  tether_test_json_server_free         (TetherTestJsonServer  *self);

G_DEFINE_AUTOPTR_CLEANUP_FUNC (TetherTestJsonServer, tether_test_json_server_free)

G_END_DECLS
