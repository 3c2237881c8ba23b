/* fault-matrix.c
 *
 * Copyright 2026 The Tether authors
 *
 * SPDX-License-Identifier: GPL-3.0-or-later
 */

/* Every operation of a sync against every way a server fails.
 *
 *   fault-matrix [--verbose]
 *
 * For each cell (an operation × a fault) a fresh client syncs four records
 * from a fresh in-process server (REST as json-server 0.17.4, two records
 * a page), then has work for every operation: a record added here, one
 * edited here, one deleted here, and one on each page edited on the
 * server. The fault
 * is armed once for the cell's operation and a sync runs (it may fail);
 * then the fault is cleared and the client syncs until it converges (at
 * most MAX_SYNCS syncs in all).
 *
 * A cell passes when the client and the server hold the same records, with
 * every edit of both sides in them, and nothing twice. It prints "ok" when
 * the faulted sync itself got there, "ok/N" when N syncs were needed, and
 * "FAIL" with the reason below the table. A second table shows what the
 * faulted sync returned. Exits 1 on any FAIL.
 *
 * The client talks to the server through a proxy (stress_proxy_new()), so
 * that "refused" can happen at the moment the cell's request is made: the
 * proxy stops listening and cuts its connections.
 */

#include "config.h"

#include <locale.h>
#include <stdio.h>
#include <string.h>

#include "stress-common.h"
#include "tether-test-soup-server.h"
#include "tether-test-util.h"

#define MAX_SYNCS     5
#define HUGE_SIZE     (1024 * 1024)
#define MAX_REPLY     (64 * 1024)
#define TIMEOUT_S     1
#define DELAY_MS      2500

typedef enum
{
  ROW_LIST_FIRST,
  ROW_LIST_NEXT,
  ROW_CREATE,
  ROW_UPDATE,
  ROW_DELETE,
  N_ROWS
} Row;

static const struct
{
  const char *name;
  const char *method;
  const char *path;
} rows[N_ROWS] = {
  { "list page 1", "GET", "/records" },
  { "list page 2", "GET", "/records" },
  { "create", "POST", "/records" },
  { "update", "PATCH", "/records/2" },
  { "delete", "DELETE", "/records/3" },
};

typedef enum
{
  COL_REFUSED,
  COL_DROP,
  COL_DROP_UNPROCESSED,
  COL_MID_BODY,
  COL_500,
  COL_503,
  COL_429,
  COL_TIMEOUT,
  COL_MALFORMED,
  COL_TRUNCATED,
  COL_CONTENT_TYPE,
  COL_HUGE,
  N_COLS
} Col;

static const char * const col_names[N_COLS] = {
  "refused",
  "drop",
  "drop-unproc",
  "mid-body",
  "500",
  "503+RA",
  "429",
  "timeout",
  "malformed",
  "truncated",
  "content-type",
  "huge",
};

static const char * const col_help[N_COLS] = {
  "connection refused: the server stops listening as the request is made",
  "the server applies the request, then drops the connection without a reply",
  "the connection drops before the server applies the request",
  "the server applies it, sends the headers and half the body, then drops",
  "500 after the server applied the request",
  "503 with Retry-After: 1, not applied",
  "429 without Retry-After, not applied",
  "the reply comes 2.5 s late (the client's timeout is 1 s); applied",
  "the reply body is not JSON; applied",
  "the reply is the first half of the JSON text; applied",
  "the reply says text/html; applied",
  "a 1 MiB JSON reply, over the 64 KiB cap; not applied",
};

static gboolean verbose = FALSE;
static char *only_cell = NULL;

static const GOptionEntry entries[] = {
  { "cell", 0, 0, G_OPTION_ARG_STRING, &only_cell, "Run one cell here (ROW:COL) and print its result", "ROW:COL" },
  { NULL }
};

typedef struct
{
  Row                   row;
  Col                   col;
  TetherTestSoupServer *server;
  StressProxy          *proxy;
  StressClient         *client;
  TetherRecord         *created;
  gboolean              hook_fired;
  char                 *outcome;   /* of the faulted sync */
  char                 *result;    /* the cell */
  char                 *failure;   /* why, for a FAIL */
} Cell;

static const char *
remote_error_name (const GError *error)
{
  static const char * const names[] = {
    "offline", "timeout", "server", "permanent", "not-found",
    "auth", "conflict", "protocol", "tls", "insecure",
  };

  if (error->domain == TETHER_REMOTE_ERROR && error->code >= 0 && (guint) error->code < G_N_ELEMENTS (names))
    return names[error->code];
  if (error->domain == TETHER_STORE_ERROR)
    return "store";

  return "other";
}

static guint16
url_port (const char *url)
{
  g_autoptr(GUri) uri = g_uri_parse (url, G_URI_FLAGS_NONE, NULL);

  g_assert_nonnull (uri);

  return (guint16) g_uri_get_port (uri);
}

/* The server's record with @title, or %NULL; counts them in @n. */
static JsonObject *
find_title (JsonArray  *records,
            const char *title,
            guint      *n)
{
  JsonObject *found = NULL;

  *n = 0;
  for (guint i = 0; i < json_array_get_length (records); i++)
    {
      JsonObject *object = json_array_get_object_element (records, i);

      if (g_strcmp0 (json_object_get_string_member_with_default (object, "title", NULL), title) == 0)
        {
          found = object;
          (*n)++;
        }
    }

  return found;
}

/* Whether the client and the server agree and hold every edit once. */
static gboolean
converged (Cell    *cell,
           GString *why)
{
  static const char * const wanted[] = { "one", "two edited", "four (server)", "new" };
  g_autoptr(JsonArray) records = tether_test_soup_server_dup_records (cell->server);
  gboolean ok = TRUE;
  JsonObject *object;
  guint n;

  g_string_truncate (why, 0);

  for (guint i = 0; i < G_N_ELEMENTS (wanted); i++)
    {
      object = find_title (records, wanted[i], &n);
      if (n != 1)
        {
          ok = FALSE;
          g_string_append_printf (why, "%s \"%s\" on the server %u times; ",
                                  n == 0 ? "lost:" : "duplicate:", wanted[i], n);
        }
    }

  object = find_title (records, "one", &n);
  if (object != NULL &&
      g_strcmp0 (json_object_get_string_member_with_default (object, "note", NULL), "from the server") != 0)
    {
      ok = FALSE;
      g_string_append (why, "lost: the server's note on \"one\"; ");
    }

  if (find_title (records, "three", &n) != NULL)
    {
      ok = FALSE;
      g_string_append (why, "lost: the deletion of \"three\"; ");
    }

  if (find_title (records, "two", &n) != NULL)
    {
      ok = FALSE;
      g_string_append (why, "lost: the edit of \"two\"; ");
    }

  object = find_title (records, "new", &n);
  if (object != NULL &&
      g_strcmp0 (json_object_get_string_member_with_default (object, "clientId", NULL),
                 tether_record_get_cid (cell->created)) != 0)
    {
      ok = FALSE;
      g_string_append (why, "the new record lost its client id; ");
    }

  if (stress_compare_with_server (stress_client_collection (cell->client), records, "id", TRUE, NULL) > 0)
    {
      g_autoptr(GString) differences = g_string_new (NULL);

      stress_compare_with_server (stress_client_collection (cell->client), records, "id", TRUE, differences);
      g_strchomp (differences->str);
      g_strchug (differences->str);
      ok = FALSE;
      g_string_append_printf (why, "client and server differ: %s; ", differences->str);
    }

  if (why->len > 2)
    g_string_truncate (why, why->len - 2);

  return ok;
}

/*
 * Refused: the proxy goes down when the cell's request is about to leave.
 */

static void
refuse_now (Cell *cell)
{
  if (!cell->hook_fired)
    {
      cell->hook_fired = TRUE;
      stress_proxy_refuse (cell->proxy);
    }
}

static void
on_progress_cb (TetherSync *sync,
                GParamSpec *pspec,
                Cell       *cell)
{
  const char *text = tether_sync_get_progress_text (sync);

  if (cell->row == ROW_LIST_NEXT && text != NULL && g_str_has_prefix (text, "Pulling page 2"))
    refuse_now (cell);
}

static void
on_phase_cb (TetherSync *sync,
             GParamSpec *pspec,
             Cell       *cell)
{
  /* Deletions go first in the push. */
  if (cell->row == ROW_DELETE && tether_sync_get_phase (sync) == TETHER_SYNC_PHASE_PUSHING)
    refuse_now (cell);
}

static void
on_state_cb (TetherRecord *record,
             GParamSpec   *pspec,
             Cell         *cell)
{
  if (tether_record_get_sync_state (record) == TETHER_SYNC_STATE_PUSHING)
    refuse_now (cell);
}

static void
arm_fault (Cell *cell)
{
  TetherTestFault fault = {
    .method = rows[cell->row].method,
    .path = rows[cell->row].path,
    .times = 1,
  };

  if (cell->col == COL_REFUSED)
    {
      TetherCollection *collection = stress_client_collection (cell->client);
      g_autoptr(JsonNode) two = json_node_init_int (json_node_alloc (), 2);

      switch (cell->row)
        {
        case ROW_LIST_FIRST:
          refuse_now (cell);
          break;
        case ROW_LIST_NEXT:
          g_signal_connect (cell->client->sync, "notify::progress-text", G_CALLBACK (on_progress_cb), cell);
          break;
        case ROW_CREATE:
          g_signal_connect (cell->created, "notify::sync-state", G_CALLBACK (on_state_cb), cell);
          break;
        case ROW_UPDATE:
          g_signal_connect (tether_collection_lookup_id (collection, two), "notify::sync-state",
                            G_CALLBACK (on_state_cb), cell);
          break;
        case ROW_DELETE:
          g_signal_connect (cell->client->sync, "notify::phase", G_CALLBACK (on_phase_cb), cell);
          break;
        case N_ROWS:
        default:
          g_assert_not_reached ();
        }
      return;
    }

  /* The second page: the first GET passes through a fault that changes
   * nothing (no delay), the second meets the real one. */
  if (cell->row == ROW_LIST_NEXT)
    {
      TetherTestFault pass = { .kind = TETHER_TEST_FAULT_DELAY, .method = "GET", .path = "/records",
                               .times = 1, .delay_ms = 0 };

      tether_test_soup_server_push_fault (cell->server, &pass);
    }

  switch (cell->col)
    {
    case COL_DROP:
      fault.kind = TETHER_TEST_FAULT_DROP;
      break;
    case COL_DROP_UNPROCESSED:
      fault.kind = TETHER_TEST_FAULT_DROP_UNPROCESSED;
      break;
    case COL_MID_BODY:
      fault.kind = TETHER_TEST_FAULT_DROP_MID_BODY;
      break;
    case COL_500:
      fault.kind = TETHER_TEST_FAULT_STATUS;
      fault.status = 500;
      fault.process = TRUE;
      break;
    case COL_503:
      fault.kind = TETHER_TEST_FAULT_STATUS;
      fault.status = 503;
      fault.retry_after = "1";
      break;
    case COL_429:
      fault.kind = TETHER_TEST_FAULT_STATUS;
      fault.status = 429;
      break;
    case COL_TIMEOUT:
      fault.kind = TETHER_TEST_FAULT_DELAY;
      fault.delay_ms = DELAY_MS;
      break;
    case COL_MALFORMED:
      fault.kind = TETHER_TEST_FAULT_MALFORMED_JSON;
      break;
    case COL_TRUNCATED:
      fault.kind = TETHER_TEST_FAULT_TRUNCATED_JSON;
      break;
    case COL_CONTENT_TYPE:
      fault.kind = TETHER_TEST_FAULT_CONTENT_TYPE;
      break;
    case COL_HUGE:
      fault.kind = TETHER_TEST_FAULT_HUGE_BODY;
      fault.size = HUGE_SIZE;
      break;
    case COL_REFUSED:
    case N_COLS:
    default:
      g_assert_not_reached ();
    }

  tether_test_soup_server_push_fault (cell->server, &fault);
}

static void
disarm (Cell *cell)
{
  g_signal_handlers_disconnect_by_data (cell->client->sync, cell);
  if (cell->created != NULL)
    g_signal_handlers_disconnect_by_data (cell->created, cell);

  {
    g_autoptr(JsonNode) two = json_node_init_int (json_node_alloc (), 2);
    TetherRecord *record = tether_collection_lookup_id (stress_client_collection (cell->client), two);

    if (record != NULL)
      g_signal_handlers_disconnect_by_data (record, cell);
  }
}

static void
run_cell (Cell *cell)
{
  TetherCollection *collection;
  g_autoptr(GString) why = g_string_new (NULL);
  g_autoptr(GError) error = NULL;
  g_autoptr(GBytes) reply = NULL;
  g_autofree char *path = NULL;
  g_autoptr(JsonNode) two = json_node_init_int (json_node_alloc (), 2);
  g_autoptr(JsonNode) three = json_node_init_int (json_node_alloc (), 3);
  TetherSyncReport report;
  guint status = 0;
  guint syncs;
  gboolean fired;

  cell->server = tether_test_soup_server_new ();
  tether_test_soup_server_set_records (cell->server,
                                       "[{\"id\": 1, \"title\": \"one\", \"n\": 1},"
                                       " {\"id\": 2, \"title\": \"two\", \"n\": 2},"
                                       " {\"id\": 3, \"title\": \"three\", \"n\": 3},"
                                       " {\"id\": 4, \"title\": \"four\", \"n\": 4}]");
  cell->proxy = stress_proxy_new (url_port (tether_test_soup_server_get_url (cell->server)));
  cell->client = stress_client_new (stress_proxy_get_url (cell->proxy), TETHER_CONFLICT_POLICY_ASK, NULL);

  /* Short, and before the first request: libsoup gives a connection its
   * timeout when it opens it. */
  tether_remote_set_timeout (cell->client->remote, TIMEOUT_S);
  tether_remote_set_max_reply_size (cell->client->remote, MAX_REPLY);
  tether_sync_set_retry_delay (cell->client->sync, 10, 1500, 3);
  tether_account_set_page_size (cell->client->account, 2);
  collection = stress_client_collection (cell->client);

  if (!stress_client_sync (cell->client, TETHER_SYNC_FLAGS_ALL, &report, &error) ||
      g_list_model_get_n_items (G_LIST_MODEL (collection)) != 4)
    {
      cell->result = g_strdup ("FAIL");
      cell->failure = g_strdup_printf ("the first sync, without a fault, did not work: %s",
                                       error ? error->message : "not 4 records");
      return;
    }

  /* Work for every operation, on both sides. */
  cell->created = tether_record_new ();
  tether_record_set_string (cell->created, "title", "new");
  tether_record_set_attribute (cell->created, "n", json_node_init_int (json_node_alloc (), 5));
  tether_collection_add (collection, cell->created);
  tether_record_set_string (tether_collection_lookup_id (collection, two), "title", "two edited");
  tether_collection_delete (collection, tether_collection_lookup_id (collection, three));

  /* On both pages, so that neither is answered 304 (which has no body
   * for a fault to spoil). */
  path = g_strdup_printf ("%s/records/4", tether_test_soup_server_get_url (cell->server));
  reply = tether_test_http_request ("PATCH", path, "{\"title\": \"four (server)\"}", &status, NULL, &error);
  g_assert_no_error (error);
  g_assert_cmpuint (status, ==, 200);
  g_clear_pointer (&path, g_free);
  g_clear_pointer (&reply, g_bytes_unref);
  path = g_strdup_printf ("%s/records/1", tether_test_soup_server_get_url (cell->server));
  reply = tether_test_http_request ("PATCH", path, "{\"note\": \"from the server\"}", &status, NULL, &error);
  g_assert_no_error (error);
  g_assert_cmpuint (status, ==, 200);

  arm_fault (cell);

  if (stress_client_sync (cell->client, TETHER_SYNC_FLAGS_ALL, &report, &error))
    cell->outcome = report.errors > 0 ? g_strdup_printf ("ok, %u err", report.errors) : g_strdup ("ok");
  else
    cell->outcome = g_strdup (remote_error_name (error));

  if (verbose)
    g_print ("  %s x %s: first sync %s%s%s\n", rows[cell->row].name, col_names[cell->col],
             cell->outcome, error ? ": " : "", error ? error->message : "");
  g_clear_error (&error);

  fired = cell->col == COL_REFUSED ? cell->hook_fired
                                   : tether_test_soup_server_get_n_faults (cell->server) == 0;

  /* The fault clears. */
  disarm (cell);
  tether_test_soup_server_clear_faults (cell->server);
  stress_proxy_resume (cell->proxy);

  if (!fired)
    {
      cell->result = g_strdup ("FAIL");
      cell->failure = g_strdup ("the fault never fired: the operation was not attempted");
      return;
    }

  for (syncs = 1; !converged (cell, why) && syncs < MAX_SYNCS; syncs++)
    {
      gboolean ok = stress_client_sync (cell->client, TETHER_SYNC_FLAGS_ALL, &report, &error);

      if (verbose)
        g_print ("  %s x %s: sync %u %s%s%s\n", rows[cell->row].name, col_names[cell->col],
                 syncs + 1, ok ? "ok" : remote_error_name (error),
                 error ? ": " : "", error ? error->message : "");
      g_clear_error (&error);
    }

  if (converged (cell, why))
    cell->result = syncs == 1 ? g_strdup ("ok") : g_strdup_printf ("ok/%u", syncs);
  else
    {
      cell->result = g_strdup ("FAIL");
      cell->failure = g_strdup_printf ("not converged after %u syncs: %s", syncs, why->str);
    }
}

static void
cell_clear (Cell *cell)
{
  g_clear_object (&cell->created);
  g_clear_pointer (&cell->client, stress_client_free);
  g_clear_pointer (&cell->proxy, stress_proxy_free);
  g_clear_pointer (&cell->server, tether_test_soup_server_free);
}

/* The child's side of run_cell_in_child(). */
static int
run_one_cell (const char *spec)
{
  Cell cell = { 0 };
  guint r, c;

  if (sscanf (spec, "%u:%u", &r, &c) != 2 || r >= N_ROWS || c >= N_COLS)
    {
      g_printerr ("fault-matrix: no cell %s\n", spec);
      return 2;
    }

  cell.row = r;
  cell.col = c;
  run_cell (&cell);
  cell_clear (&cell);

  g_print ("RESULT\t%s\t%s\t%s\n", cell.result, cell.outcome ? cell.outcome : "-",
           cell.failure ? cell.failure : "");

  g_free (cell.outcome);
  g_free (cell.result);
  g_free (cell.failure);

  return 0;
}

/* Each cell runs in a process of its own: a crash is that cell's result,
 * not the end of the matrix. */
static void
run_cell_in_child (Cell *cell)
{
  g_autofree char *self = g_file_read_link ("/proc/self/exe", NULL);
  g_autofree char *spec = g_strdup_printf ("%u:%u", cell->row, cell->col);
  g_autoptr(GSubprocess) process = NULL;
  g_autoptr(GError) error = NULL;
  g_autofree char *out = NULL;
  g_autofree char *err = NULL;
  g_auto(GStrv) lines = NULL;

  process = g_subprocess_new (G_SUBPROCESS_FLAGS_STDOUT_PIPE | G_SUBPROCESS_FLAGS_STDERR_PIPE, &error,
                              self, "--cell", spec, verbose ? "--verbose" : NULL, NULL);
  g_assert_no_error (error);
  g_subprocess_communicate_utf8 (process, NULL, NULL, &out, &err, &error);
  g_assert_no_error (error);

  lines = g_strsplit (out ? out : "", "\n", -1);
  for (guint i = 0; lines[i] != NULL; i++)
    {
      if (g_str_has_prefix (lines[i], "RESULT\t"))
        {
          g_auto(GStrv) parts = g_strsplit (lines[i], "\t", 4);

          if (g_strv_length (parts) == 4)
            {
              cell->result = g_strdup (parts[1]);
              cell->outcome = g_strdup (parts[2]);
              cell->failure = parts[3][0] != '\0' ? g_strdup (parts[3]) : NULL;
            }
        }
      else if (verbose && lines[i][0] != '\0')
        g_print ("%s\n", lines[i]);
    }

  if (cell->result == NULL)
    {
      g_auto(GStrv) err_lines = g_strsplit (err ? err : "", "\n", -1);
      GString *tail = g_string_new (NULL);
      guint n = g_strv_length (err_lines);

      /* The last words of the crashed cell. */
      for (guint i = n > 4 ? n - 4 : 0; i < n; i++)
        if (err_lines[i][0] != '\0')
          g_string_append_printf (tail, " | %s", err_lines[i]);

      cell->result = g_strdup ("CRASH");
      cell->outcome = g_strdup ("crash");
      if (g_subprocess_get_if_signaled (process))
        cell->failure = g_strdup_printf ("the client crashed (signal %d)%s",
                                         g_subprocess_get_term_sig (process), tail->str);
      else
        cell->failure = g_strdup_printf ("the client exited with status %d%s",
                                         g_subprocess_get_exit_status (process), tail->str);
      g_string_free (tail, TRUE);
    }
  else if (err != NULL && err[0] != '\0' && verbose)
    g_printerr ("%s", err);
}

static void
print_table (Cell        cells[N_ROWS][N_COLS],
             const char *title,
             gboolean    outcomes)
{
  g_print ("\n%s\n%-12s", title, "");
  for (guint c = 0; c < N_COLS; c++)
    g_print (" %-12s", col_names[c]);
  g_print ("\n");

  for (guint r = 0; r < N_ROWS; r++)
    {
      g_print ("%-12s", rows[r].name);
      for (guint c = 0; c < N_COLS; c++)
        {
          const char *text = outcomes ? cells[r][c].outcome : cells[r][c].result;

          g_print (" %-12s", text ? text : "-");
        }
      g_print ("\n");
    }
}

static void
test_fault_matrix (void)
{
  Cell cells[N_ROWS][N_COLS] = { 0 };
  guint failures = 0;
  guint passed = 0;
  gint64 start;

  start = g_get_monotonic_time ();

  for (guint r = 0; r < N_ROWS; r++)
    for (guint c = 0; c < N_COLS; c++)
      {
        Cell *cell = &cells[r][c];

        cell->row = r;
        cell->col = c;
        run_cell_in_child (cell);

        if (cell->failure != NULL)
          failures++;
        else
          passed++;
      }

  g_print ("fault matrix: %u operations x %u faults, each armed once; then the fault clears\n"
           "and the client syncs until it converges (at most %u syncs).\n",
           N_ROWS, N_COLS, MAX_SYNCS);

  print_table (cells, "Outcome (ok: converged in the faulted sync; ok/N: after N syncs)", FALSE);
  print_table (cells, "What the faulted sync returned (an error kind, or ok)", TRUE);

  g_print ("\nFaults:\n");
  for (guint c = 0; c < N_COLS; c++)
    g_print ("  %-12s %s\n", col_names[c], col_help[c]);

  if (failures > 0)
    {
      g_print ("\nFailures:\n");
      for (guint r = 0; r < N_ROWS; r++)
        for (guint c = 0; c < N_COLS; c++)
          if (cells[r][c].failure != NULL)
            g_print ("  %s x %s: %s\n", rows[r].name, col_names[c], cells[r][c].failure);
    }

  g_print ("\ncells %u, passed %u, failed %u, time %.1f s\n%s\n",
           N_ROWS * N_COLS, passed, failures,
           (g_get_monotonic_time () - start) / (double) G_USEC_PER_SEC,
           failures > 0 ? "FAIL" : "PASS");

  for (guint r = 0; r < N_ROWS; r++)
    for (guint c = 0; c < N_COLS; c++)
      {
        g_free (cells[r][c].outcome);
        g_free (cells[r][c].result);
        g_free (cells[r][c].failure);
      }

  if (failures > 0)
    g_test_fail ();
}

static void
test_one_cell (void)
{
  if (run_one_cell (only_cell) != 0)
    g_test_fail ();
}

int
main (int   argc,
      char *argv[])
{
  g_autoptr(GOptionContext) context = NULL;
  g_autoptr(GError) error = NULL;

  setlocale (LC_ALL, "");
  stress_test_init (&argc, &argv);
  stress_quiet_debug ();

  context = g_option_context_new ("- every sync operation against every server failure");
  g_option_context_add_main_entries (context, entries, NULL);
  if (!g_option_context_parse (context, &argc, &argv, &error))
    {
      g_printerr ("%s\n", error->message);
      return 2;
    }

  /* GTest takes --verbose for itself. */
  verbose = g_test_verbose ();

  /* GTest cases, so that a pass cleans up and a failure keeps the
   * evidence (tether_test_init()). */
  if (only_cell != NULL)
    g_test_add_func ("/stress/fault-matrix/cell", test_one_cell);
  else
    g_test_add_func ("/stress/fault-matrix", test_fault_matrix);

  return g_test_run ();
}
