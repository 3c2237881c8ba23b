/* bench-sync.c
 *
 * Copyright 2026 The Tether authors
 *
 * SPDX-License-Identifier: GPL-3.0-or-later
 */

/* A benchmark, not a test: it prints figures beside baselines measured in
 * the same run and asserts nothing about time.
 *
 *   1. Push 10 000 new records, against a bare libsoup loop sending the
 *      same POST bodies (checked byte for byte at the server) with the same
 *      concurrency on one SoupSession with the same connection limits.
 *      TetherRemote does not mark a POST idempotent, so libsoup opens a new
 *      connection for each create; the bare loop runs both ways, with that
 *      policy (the baseline of the target) and with keep-alive.
 *   2. Pull 100 000 records (1 000 pages of 100) into an empty store: the
 *      time, against a bare libsoup loop getting and parsing the same
 *      pages, and the longest main-loop stall.
 *   3. An idle sync of those 100 000 synced records: the requests made, the
 *      304s, the bytes written to the store and the time, against bare
 *      conditional GETs of the same pages.
 *   4. Push and pull of 1 000 records against json-server 0.17.4, for
 *      reference, against the same bare loops.
 *
 * 1 to 3 run against an in-process SoupServer in a thread of its own (see
 * "The servers" below for why not the shared fixture by default). Every
 * figure is the median of --repeats runs in this process (min–max beside
 * it); Tether and its baselines take turns so that whatever else the
 * machine does weighs on both alike, and each time has the client's CPU
 * time beside it, which that load moves much less.
 *
 *   bench-sync [--repeats N] [--only push,pull,json-server] [--fixture]
 *              [--push-records N] [--pull-records N]
 */

#include "config.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include <fcntl.h>
#include <unistd.h>
#include <pthread.h>
#include <sys/socket.h>

#include <libsoup/soup.h>

#include "tether-session.h"
#include "tether-test-json-server.h"
#include "tether-test-soup-server.h"

#define JSON_SERVER_RECORDS 1000
#define PUSH_TARGET_RATIO   1.3
#define STALL_TARGET_MS     50.0

static int repeats = 3;
static int push_records = 10000;
static int pull_records = 100000;

static const char *words[] = {
  "offline", "record", "server", "journal", "snapshot", "durable", "merge",
  "conflict", "pending", "synced", "field", "value", "title", "note", "edit",
  "collection", "store", "lorem", "ipsum", "dolor", "amet", "quick", "brown",
  "fox", "jumps", "over", "lazy", "dog", "élan", "naïve", "Grüße", "東京",
};

/* Plumbing */

static void
result_cb (GObject      *object,
           GAsyncResult *result,
           gpointer      user_data)
{
  GAsyncResult **ret = user_data;

  *ret = g_object_ref (result);
}

static void
wait_for (GAsyncResult **result)
{
  while (*result == NULL)
    g_main_context_iteration (NULL, TRUE);
}

static void
die_on_error (const GError *error,
              const char   *what)
{
  if (error == NULL)
    return;

  g_printerr ("bench-sync: %s: %s\n", what, error->message);
  exit (1);
}

static void
die (const char *what)
{
  g_printerr ("bench-sync: %s\n", what);
  exit (1);
}

static void
remove_tree (GFile *file)
{
  g_autoptr(GFileEnumerator) children = NULL;

  children = g_file_enumerate_children (file, G_FILE_ATTRIBUTE_STANDARD_NAME,
                                        G_FILE_QUERY_INFO_NOFOLLOW_SYMLINKS, NULL, NULL);
  if (children != NULL)
    {
      GFileInfo *info;
      GFile *child;

      while (g_file_enumerator_iterate (children, &info, &child, NULL, NULL) && info != NULL)
        {
          if (g_file_info_get_file_type (info) == G_FILE_TYPE_DIRECTORY)
            remove_tree (child);
          else
            g_file_delete (child, NULL, NULL);
        }
    }

  g_file_delete (file, NULL, NULL);
}

/* Lets the sockets closed by the last run go before the next starts. */
static void
settle (void)
{
  gint64 end = g_get_monotonic_time () + 200 * G_TIME_SPAN_MILLISECOND;

  while (g_get_monotonic_time () < end)
    {
      while (g_main_context_pending (NULL))
        g_main_context_iteration (NULL, FALSE);
      g_usleep (10 * G_TIME_SPAN_MILLISECOND);
    }
}

/* Series: one figure over the repeats */

typedef struct
{
  GArray *values;
} Series;

/* Every series' values, freed at the end. */
static GPtrArray *all_series;

static void
series_add (Series *series,
            double  value)
{
  if (series->values == NULL)
    {
      series->values = g_array_new (FALSE, FALSE, sizeof (double));
      if (all_series == NULL)
        all_series = g_ptr_array_new_with_free_func ((GDestroyNotify) g_array_unref);
      g_ptr_array_add (all_series, series->values);
    }
  g_array_append_val (series->values, value);
}

static int
compare_doubles (gconstpointer a,
                 gconstpointer b)
{
  double x = *(const double *) a;
  double y = *(const double *) b;

  return x < y ? -1 : x > y;
}

static double
series_nth (Series *series,
            guint   which)
{
  if (series->values == NULL || series->values->len == 0)
    return -1;

  g_array_sort (series->values, compare_doubles);

  switch (which)
    {
    case 0:
      return g_array_index (series->values, double, 0);
    case 1:
      return g_array_index (series->values, double, series->values->len / 2);
    default:
      return g_array_index (series->values, double, series->values->len - 1);
    }
}

static double
series_median (Series *series)
{
  return series_nth (series, 1);
}

/* "1234 ms (1200–1300)" */
static char *
series_format (Series     *series,
               int         decimals,
               const char *unit)
{
  g_autoptr(GString) text = g_string_new (NULL);

  g_string_append_printf (text, "%.*f", decimals, series_median (series));
  g_string_append (text, unit);
  if (series->values != NULL && series->values->len > 1)
    {
      g_string_append (text, " (");
      g_string_append_printf (text, "%.*f", decimals, series_nth (series, 0));
      g_string_append (text, "–");
      g_string_append_printf (text, "%.*f", decimals, series_nth (series, 2));
      g_string_append (text, ")");
    }

  return g_string_free (g_steal_pointer (&text), FALSE);
}

static const char *
verdict (gboolean met)
{
  return met ? "met" : "NOT met";
}

/* The stall meter: a high-priority 1 ms timeout; the longest gap between
 * two of its callbacks is the longest time the main loop could not run.
 * On a shared machine a gap also counts time the main thread was ready
 * but waited for a CPU that other processes had, so the meter splits the
 * longest gap with the scheduler's own account of the thread
 * (/proc/thread-self/schedstat): time on a CPU, time waiting for one, and
 * the rest, blocked (on the disk, a lock, the X server...). It also keeps
 * the most CPU time spent in any one gap: the longest piece of work done
 * in one go, which the machine's load does not inflate. */

typedef struct
{
  double wall_ms;   /* the longest gap */
  double cpu_ms;    /* on a CPU during that gap */
  double wait_ms;   /* ready, waiting for a CPU, during that gap */
  double burst_ms;  /* the most CPU time in any one gap */
} Stall;

typedef struct
{
  double wall_ms;
  double cpu_ms;
  double wait_ms;
} Gap;

typedef struct
{
  int    fd;
  gint64 last;
  gint64 last_cpu;
  gint64 last_wait;
} StallClock;

static gint64
thread_cpu_usec (void)
{
  struct timespec ts;

  clock_gettime (CLOCK_THREAD_CPUTIME_ID, &ts);

  return ts.tv_sec * G_USEC_PER_SEC + ts.tv_nsec / 1000;
}

/* The second field of schedstat: nanoseconds spent runnable, not running. */
static gint64
stall_clock_wait_usec (StallClock *clock)
{
  char buffer[128];
  char *end;
  ssize_t n;

  if (clock->fd < 0 || (n = pread (clock->fd, buffer, sizeof buffer - 1, 0)) <= 0)
    return 0;

  buffer[n] = '\0';
  g_ascii_strtoull (buffer, &end, 10);

  return g_ascii_strtoull (end, NULL, 10) / 1000;
}

/* Call from the thread to measure: the main one. */
static void
stall_clock_start (StallClock *clock)
{
  clock->fd = open ("/proc/thread-self/schedstat", O_RDONLY | O_CLOEXEC);
  clock->last = g_get_monotonic_time ();
  clock->last_cpu = thread_cpu_usec ();
  clock->last_wait = stall_clock_wait_usec (clock);
}

/* The gap since the last sample. */
static void
stall_clock_sample (StallClock *clock,
                    Gap        *gap)
{
  gint64 now = g_get_monotonic_time ();
  gint64 cpu = thread_cpu_usec ();
  gint64 wait = stall_clock_wait_usec (clock);

  gap->wall_ms = (now - clock->last) / 1000.;
  gap->cpu_ms = (cpu - clock->last_cpu) / 1000.;
  gap->wait_ms = (wait - clock->last_wait) / 1000.;

  clock->last = now;
  clock->last_cpu = cpu;
  clock->last_wait = wait;
}

static void
stall_clock_stop (StallClock *clock)
{
  if (clock->fd >= 0)
    close (clock->fd);
  clock->fd = -1;
}

static void
stall_add (Stall     *stall,
           const Gap *gap)
{
  if (gap->wall_ms > stall->wall_ms)
    {
      stall->wall_ms = gap->wall_ms;
      stall->cpu_ms = gap->cpu_ms;
      stall->wait_ms = gap->wait_ms;
    }
  stall->burst_ms = MAX (stall->burst_ms, gap->cpu_ms);
}

/* The client's CPU time: the process's, less that of the in-process
 * server's thread when it is the lean server (the fixture's thread cannot
 * be told apart, so with --fixture the figure includes the server). All
 * the client's threads count: the main loop, the store's writer, GTask
 * workers, libsoup's. On a loaded machine it moves much less than the
 * wall clock. */
static clockid_t server_clock;
static gboolean server_clock_set;

static double
client_cpu_ms (void)
{
  struct timespec process, server = { 0 };

  clock_gettime (CLOCK_PROCESS_CPUTIME_ID, &process);
  if (server_clock_set)
    clock_gettime (server_clock, &server);

  return (process.tv_sec - server.tv_sec) * 1000. + (process.tv_nsec - server.tv_nsec) / 1e6;
}

typedef struct
{
  StallClock clock;
  Stall      stall;
  guint      source;
} StallMeter;

static gboolean
stall_tick_cb (gpointer user_data)
{
  StallMeter *meter = user_data;
  Gap gap;

  stall_clock_sample (&meter->clock, &gap);
  stall_add (&meter->stall, &gap);

  return G_SOURCE_CONTINUE;
}

static void
stall_meter_start (StallMeter *meter)
{
  memset (&meter->stall, 0, sizeof meter->stall);
  stall_clock_start (&meter->clock);
  meter->source = g_timeout_add_full (G_PRIORITY_HIGH, 1, stall_tick_cb, meter, NULL);
}

static void
stall_meter_stop (StallMeter *meter,
                  Stall      *stall)
{
  stall_tick_cb (meter);
  g_clear_handle_id (&meter->source, g_source_remove);
  stall_clock_stop (&meter->clock);

  *stall = meter->stall;
}

/* A stall over the repeats, each part its own median. */
typedef struct
{
  Series wall;
  Series cpu;
  Series wait;
  Series burst;
} StallSeries;

static void
stall_series_add (StallSeries *series,
                  const Stall *stall)
{
  series_add (&series->wall, stall->wall_ms);
  series_add (&series->cpu, stall->cpu_ms);
  series_add (&series->wait, stall->wait_ms);
  series_add (&series->burst, stall->burst_ms);
}

/* "138.2 ms (120.1–210.3): 100.6 on a CPU, 30.1 waiting for one; longest
 * CPU burst 100.6 ms" */
static char *
stall_series_format (StallSeries *series)
{
  g_autofree char *wall = series_format (&series->wall, 1, " ms");

  return g_strdup_printf ("%s: %.1f on a CPU, %.1f waiting for one; longest CPU burst %.1f ms",
                          wall, series_median (&series->cpu), series_median (&series->wait),
                          series_median (&series->burst));
}

/* Records and bodies */

static JsonObject *
make_attributes (GRand *rand,
                 guint  i)
{
  JsonObject *attributes = json_object_new ();
  g_autoptr(GString) text = g_string_new (NULL);
  g_autofree char *title = NULL;

  while (text->len < 200)
    {
      if (text->len > 0)
        g_string_append_c (text, ' ');
      g_string_append (text, words[g_rand_int_range (rand, 0, G_N_ELEMENTS (words))]);
    }

  title = g_strdup_printf ("Record %u: %s %s", i,
                           words[g_rand_int_range (rand, 0, G_N_ELEMENTS (words))],
                           words[g_rand_int_range (rand, 0, G_N_ELEMENTS (words))]);

  json_object_set_string_member (attributes, "title", title);
  json_object_set_string_member (attributes, "text", text->str);
  json_object_set_boolean_member (attributes, "done", g_rand_boolean (rand));
  json_object_set_double_member (attributes, "amount", g_rand_double_range (rand, 0, 10000));

  return attributes;
}

/* What the push sends for a new record (see push_op_start() in
 * tether-sync.c): its attributes without the id field, plus its cid in
 * the client-id field, as TetherRemote serializes a body. The push
 * benchmark checks that the server received exactly these bytes. */
static GBytes *
make_body (TetherAccount *account,
           TetherRecord  *record)
{
  g_autoptr(JsonObject) object = tether_record_to_json (record);
  g_autoptr(JsonNode) node = NULL;
  const char *cid_field = tether_account_get_client_id_field (account);
  char *text;

  if (json_object_has_member (object, tether_account_get_id_field (account)))
    json_object_remove_member (object, tether_account_get_id_field (account));
  if (cid_field != NULL && cid_field[0] != '\0')
    json_object_set_string_member (object, cid_field, tether_record_get_cid (record));

  node = json_node_init_object (json_node_alloc (), object);
  text = json_to_string (node, FALSE);

  return g_bytes_new_take (text, strlen (text));
}

/* The servers.
 *
 * The shared fixture (tether-test-soup-server) finds a record by scanning
 * the whole collection, formatting each id, and computes the next id by
 * another scan: a POST costs O(records) on its single thread. At 10 000
 * creates that is seconds of server time per run, the same for Tether and
 * for its baseline, which hides the client's own cost (the ratio tends to
 * 1 whatever the client does). So by default the benchmark serves the
 * records from a lean SoupServer of its own, in its own thread, with the
 * same conventions for what it measures (json-server's POST, pages with
 * Link, X-Total-Count, weak ETags and 304s) at O(1) per POST and O(page)
 * per GET. --fixture runs 1 to 3 against the shared fixture instead. */

typedef struct
{
  GMutex        mutex;
  GCond         cond;
  GThread      *thread;
  GMainContext *context;
  GMainLoop    *loop;
  SoupServer   *server;
  char         *url;
  gboolean      ready;
  GPtrArray    *records;
  GPtrArray    *bodies;
  gint64        next_id;
  GHashTable   *sockets;
  clockid_t     cpu_clock;
} LeanServer;

/* libsoup 3.2's SoupServer never closes a connection the client closed
 * while it was idle (fixed upstream by commit d20c6601, after 3.2.3): each
 * one stays in CLOSE-WAIT with its descriptor. A push that opens a
 * connection per POST leaves thousands, until accept() fails and the
 * kernel slows down. So the server thread looks at the connections it
 * has seen every 50 ms and closes those at end of stream. */
static void
lean_request_started_cb (SoupServer        *server,
                         SoupServerMessage *msg,
                         LeanServer        *self)
{
  GSocket *socket = soup_server_message_get_socket (msg);

  if (socket != NULL && !g_hash_table_contains (self->sockets, socket))
    g_hash_table_add (self->sockets, g_object_ref (socket));
}

static gboolean
lean_sweep_cb (gpointer user_data)
{
  LeanServer *self = user_data;
  GHashTableIter iter;
  GSocket *socket;

  g_hash_table_iter_init (&iter, self->sockets);
  while (g_hash_table_iter_next (&iter, (gpointer *) &socket, NULL))
    {
      char byte;

      if (g_socket_is_closed (socket))
        {
          g_hash_table_iter_remove (&iter);
          continue;
        }

      if ((g_socket_condition_check (socket, G_IO_IN | G_IO_HUP | G_IO_ERR) & (G_IO_IN | G_IO_HUP | G_IO_ERR)) == 0)
        continue;

      /* Readable: a next request, or the end of the stream. */
      if (recv (g_socket_get_fd (socket), &byte, 1, MSG_PEEK | MSG_DONTWAIT) == 0)
        {
          g_socket_close (socket, NULL);
          g_hash_table_iter_remove (&iter);
        }
    }

  return G_SOURCE_CONTINUE;
}

static void
lean_reply (SoupServerMessage *msg,
            guint              status,
            GBytes            *body)
{
  soup_server_message_set_status (msg, status, NULL);
  if (body != NULL)
    soup_server_message_set_response (msg, "application/json; charset=utf-8", SOUP_MEMORY_COPY,
                                      g_bytes_get_data (body, NULL), g_bytes_get_size (body));
}

static char *
lean_etag (const char *data,
           gsize       size)
{
  g_autofree char *checksum = g_compute_checksum_for_data (G_CHECKSUM_SHA1, (const guchar *) data, size);

  return g_strdup_printf ("W/\"%" G_GSIZE_MODIFIER "x-%.27s\"", size, checksum);
}

static guint
lean_query_uint (GHashTable *query,
                 const char *name,
                 guint       fallback)
{
  const char *value = query ? g_hash_table_lookup (query, name) : NULL;
  guint64 number;

  if (value == NULL || !g_ascii_string_to_unsigned (value, 10, 1, G_MAXUINT, &number, NULL))
    return fallback;

  return (guint) number;
}

static void
lean_create (LeanServer        *self,
             SoupServerMessage *msg)
{
  g_autoptr(GBytes) body = soup_message_body_flatten (soup_server_message_get_request_body (msg));
  g_autoptr(JsonParser) parser = json_parser_new ();
  g_autofree char *location = NULL;
  JsonNode *root;
  gint64 id;
  char *text;
  GBytes *record;

  g_ptr_array_add (self->bodies, g_bytes_ref (body));

  if (!json_parser_load_from_data (parser, g_bytes_get_data (body, NULL), g_bytes_get_size (body), NULL) ||
      !JSON_NODE_HOLDS_OBJECT (root = json_parser_get_root (parser)))
    {
      g_autoptr(GBytes) error = g_bytes_new_static ("{}", 2);

      lean_reply (msg, SOUP_STATUS_BAD_REQUEST, error);
      return;
    }

  id = self->next_id++;
  json_object_set_int_member (json_node_get_object (root), "id", id);
  text = json_to_string (root, FALSE);
  record = g_bytes_new_take (text, strlen (text));
  g_ptr_array_add (self->records, record);

  location = g_strdup_printf ("%s/records/%" G_GINT64_FORMAT, self->url, id);
  soup_message_headers_replace (soup_server_message_get_response_headers (msg), "Location", location);
  lean_reply (msg, SOUP_STATUS_CREATED, record);
}

static void
lean_list (LeanServer        *self,
           SoupServerMessage *msg,
           GHashTable        *query)
{
  SoupMessageHeaders *headers = soup_server_message_get_response_headers (msg);
  const char *if_none_match;
  guint n = self->records->len;
  guint page = lean_query_uint (query, "_page", 1);
  guint limit = lean_query_uint (query, "_limit", 10);
  guint last = MAX (1, (n + limit - 1) / limit);
  guint start = MIN ((guint64) (page - 1) * limit, n);
  guint end = MIN ((guint64) page * limit, n);
  g_autoptr(GString) body = g_string_new ("[");
  g_autoptr(GString) link = g_string_new (NULL);
  g_autoptr(GBytes) bytes = NULL;
  g_autofree char *etag = NULL;
  g_autofree char *total = g_strdup_printf ("%u", n);

  for (guint i = start; i < end; i++)
    {
      GBytes *record = g_ptr_array_index (self->records, i);

      if (i > start)
        g_string_append_c (body, ',');
      g_string_append_len (body, g_bytes_get_data (record, NULL), g_bytes_get_size (record));
    }
  g_string_append_c (body, ']');

  g_string_append_printf (link, "<%s/records?_page=1&_limit=%u>; rel=\"first\"", self->url, limit);
  if (page > 1)
    g_string_append_printf (link, ", <%s/records?_page=%u&_limit=%u>; rel=\"prev\"", self->url, page - 1, limit);
  if (end < n)
    g_string_append_printf (link, ", <%s/records?_page=%u&_limit=%u>; rel=\"next\"", self->url, page + 1, limit);
  g_string_append_printf (link, ", <%s/records?_page=%u&_limit=%u>; rel=\"last\"", self->url, last, limit);

  etag = lean_etag (body->str, body->len);
  soup_message_headers_replace (headers, "Link", link->str);
  soup_message_headers_replace (headers, "X-Total-Count", total);
  soup_message_headers_replace (headers, "ETag", etag);

  if_none_match = soup_message_headers_get_one (soup_server_message_get_request_headers (msg), "If-None-Match");
  if (if_none_match != NULL && strcmp (if_none_match, etag) == 0)
    {
      lean_reply (msg, SOUP_STATUS_NOT_MODIFIED, NULL);
      return;
    }

  bytes = g_string_free_to_bytes (g_steal_pointer (&body));
  lean_reply (msg, SOUP_STATUS_OK, bytes);
}

static void
lean_handler_cb (SoupServer        *server,
                 SoupServerMessage *msg,
                 const char        *path,
                 GHashTable        *query,
                 gpointer           user_data)
{
  LeanServer *self = user_data;
  const char *method = soup_server_message_get_method (msg);
  g_autoptr(GMutexLocker) G_GNUC_UNUSED locker = g_mutex_locker_new (&self->mutex);

  if (strcmp (path, "/records") != 0)
    soup_server_message_set_status (msg, SOUP_STATUS_NOT_FOUND, NULL);
  else if (strcmp (method, SOUP_METHOD_POST) == 0)
    lean_create (self, msg);
  else if (strcmp (method, SOUP_METHOD_GET) == 0)
    lean_list (self, msg, query);
  else
    soup_server_message_set_status (msg, SOUP_STATUS_METHOD_NOT_ALLOWED, NULL);
}

static gboolean
lean_quit_cb (gpointer user_data)
{
  LeanServer *self = user_data;

  g_main_loop_quit (self->loop);

  return G_SOURCE_REMOVE;
}

static gpointer
lean_thread (gpointer user_data)
{
  LeanServer *self = user_data;
  g_autoptr(GError) error = NULL;
  g_autoptr(GSource) sweep = NULL;
  GSList *uris;

  g_main_context_push_thread_default (self->context);

  self->server = soup_server_new ("server-header", "tether-bench-server ", NULL);
  soup_server_add_handler (self->server, NULL, lean_handler_cb, self, NULL);
  g_signal_connect (self->server, "request-started", G_CALLBACK (lean_request_started_cb), self);
  sweep = g_timeout_source_new (50);
  g_source_set_callback (sweep, lean_sweep_cb, self, NULL);
  g_source_attach (sweep, self->context);
  soup_server_listen_local (self->server, 0, SOUP_SERVER_LISTEN_IPV4_ONLY, &error);
  die_on_error (error, "listen");

  uris = soup_server_get_uris (self->server);
  self->url = g_uri_to_string (uris->data);
  g_slist_free_full (uris, (GDestroyNotify) g_uri_unref);
  if (g_str_has_suffix (self->url, "/"))
    self->url[strlen (self->url) - 1] = '\0';

  pthread_getcpuclockid (pthread_self (), &self->cpu_clock);

  g_mutex_lock (&self->mutex);
  self->ready = TRUE;
  g_cond_signal (&self->cond);
  g_mutex_unlock (&self->mutex);

  g_main_loop_run (self->loop);

  g_source_destroy (sweep);
  g_hash_table_remove_all (self->sockets);
  soup_server_disconnect (self->server);
  g_clear_object (&self->server);
  while (g_main_context_iteration (self->context, FALSE))
    ;

  g_main_context_pop_thread_default (self->context);

  return NULL;
}

static LeanServer *
lean_server_new (void)
{
  LeanServer *self = g_new0 (LeanServer, 1);

  g_mutex_init (&self->mutex);
  g_cond_init (&self->cond);
  self->context = g_main_context_new ();
  self->loop = g_main_loop_new (self->context, FALSE);
  self->records = g_ptr_array_new_with_free_func ((GDestroyNotify) g_bytes_unref);
  self->bodies = g_ptr_array_new_with_free_func ((GDestroyNotify) g_bytes_unref);
  self->next_id = 1;
  self->sockets = g_hash_table_new_full (NULL, NULL, g_object_unref, NULL);
  self->thread = g_thread_new ("bench-server", lean_thread, self);

  g_mutex_lock (&self->mutex);
  while (!self->ready)
    g_cond_wait (&self->cond, &self->mutex);
  g_mutex_unlock (&self->mutex);

  server_clock = self->cpu_clock;
  server_clock_set = TRUE;

  return self;
}

static void
lean_server_free (LeanServer *self)
{
  g_autoptr(GSource) source = g_idle_source_new ();

  server_clock_set = FALSE;

  g_source_set_callback (source, lean_quit_cb, self, NULL);
  g_source_attach (source, self->context);
  g_thread_join (self->thread);

  g_main_loop_unref (self->loop);
  g_main_context_unref (self->context);
  g_ptr_array_unref (self->records);
  g_ptr_array_unref (self->bodies);
  g_hash_table_unref (self->sockets);
  g_mutex_clear (&self->mutex);
  g_cond_clear (&self->cond);
  g_free (self->url);
  g_free (self);
}

/* One or the other. */
typedef struct
{
  LeanServer           *lean;
  TetherTestSoupServer *fixture;
} Server;

static gboolean use_fixture = FALSE;

static Server *
server_new (void)
{
  Server *self = g_new0 (Server, 1);

  if (use_fixture)
    self->fixture = tether_test_soup_server_new ();
  else
    self->lean = lean_server_new ();

  return self;
}

static void
server_free (Server *self)
{
  g_clear_pointer (&self->fixture, tether_test_soup_server_free);
  g_clear_pointer (&self->lean, lean_server_free);
  g_free (self);
}

G_DEFINE_AUTOPTR_CLEANUP_FUNC (Server, server_free)

static const char *
server_get_url (Server *self)
{
  return self->fixture ? tether_test_soup_server_get_url (self->fixture) : self->lean->url;
}

/* Empties the collection and forgets the requests. */
static void
server_reset (Server *self)
{
  if (self->fixture)
    {
      tether_test_soup_server_set_records (self->fixture, "[]");
      tether_test_soup_server_clear_requests (self->fixture);
    }
  else
    {
      g_autoptr(GMutexLocker) G_GNUC_UNUSED locker = g_mutex_locker_new (&self->lean->mutex);

      g_ptr_array_set_size (self->lean->records, 0);
      g_ptr_array_set_size (self->lean->bodies, 0);
      self->lean->next_id = 1;
    }
}

/* {"id": i, "title": "Record i"}, as the fixture makes them. */
static void
server_add_generated_records (Server *self,
                              guint   n)
{
  g_autoptr(GMutexLocker) locker = NULL;

  if (self->fixture)
    {
      tether_test_soup_server_add_generated_records (self->fixture, n);
      return;
    }

  locker = g_mutex_locker_new (&self->lean->mutex);
  for (guint i = 0; i < n; i++)
    {
      gint64 id = self->lean->next_id++;
      char *text = g_strdup_printf ("{\"id\":%" G_GINT64_FORMAT ",\"title\":\"Record %" G_GINT64_FORMAT "\"}", id, id);

      g_ptr_array_add (self->lean->records, g_bytes_new_take (text, strlen (text)));
    }
}

static guint
server_get_n_records (Server *self)
{
  g_autoptr(GMutexLocker) locker = NULL;

  if (self->fixture)
    return tether_test_soup_server_get_n_records (self->fixture);

  locker = g_mutex_locker_new (&self->lean->mutex);

  return self->lean->records->len;
}

/* The POST bodies received since the last reset. */
static GPtrArray *
server_dup_bodies (Server *self)
{
  GPtrArray *bodies = g_ptr_array_new_with_free_func ((GDestroyNotify) g_bytes_unref);

  if (self->fixture)
    {
      for (guint i = 0; i < tether_test_soup_server_get_n_requests (self->fixture); i++)
        {
          g_autoptr(TetherTestRequest) request = tether_test_soup_server_dup_request (self->fixture, i);

          if (g_strcmp0 (request->method, "POST") == 0)
            g_ptr_array_add (bodies, g_bytes_new (request->body, strlen (request->body)));
        }
    }
  else
    {
      g_autoptr(GMutexLocker) G_GNUC_UNUSED locker = g_mutex_locker_new (&self->lean->mutex);

      for (guint i = 0; i < self->lean->bodies->len; i++)
        g_ptr_array_add (bodies, g_bytes_ref (g_ptr_array_index (self->lean->bodies, i)));
    }

  return bodies;
}

/* A client as the app puts one together: account, session, store. */

typedef struct
{
  GFile         *dir;
  TetherAccount *account;
  TetherSession *session;
} Client;

static Client *
client_new (const char *url)
{
  Client *client = g_new0 (Client, 1);
  g_autofree char *path = NULL;
  g_autoptr(GError) error = NULL;

  path = g_dir_make_tmp ("tether-bench-sync-XXXXXX", &error);
  die_on_error (error, "temporary directory");
  client->dir = g_file_new_for_path (path);

  client->account = tether_account_new ();
  tether_account_set_server_url (client->account, url);

  client->session = tether_session_new (client->account, client->dir);
  tether_session_open (client->session, &error);
  die_on_error (error, "open the store");

  return client;
}

static void
client_free (Client *client)
{
  g_autoptr(GError) error = NULL;

  tether_session_close (client->session, &error);
  die_on_error (error, "close the store");

  g_clear_object (&client->session);
  g_clear_object (&client->account);
  remove_tree (client->dir);
  g_clear_object (&client->dir);
  g_free (client);
}

G_DEFINE_AUTOPTR_CLEANUP_FUNC (Client, client_free)

static TetherCollection *
client_collection (Client *client)
{
  return tether_session_get_collection (client->session);
}

/* @n new records, added in one go and on disk before the clock starts.
 * Returns their bodies as the push will send them. */
static GPtrArray *
client_add_new_records (Client *client,
                        guint   n)
{
  g_autoptr(GPtrArray) records = g_ptr_array_new_full (n, g_object_unref);
  g_autoptr(GRand) rand = g_rand_new_with_seed (n);
  g_autoptr(GError) error = NULL;
  GPtrArray *bodies = g_ptr_array_new_full (n, (GDestroyNotify) g_bytes_unref);

  for (guint i = 0; i < n; i++)
    {
      g_autoptr(JsonObject) attributes = make_attributes (rand, i);
      TetherRecord *record = tether_record_new ();

      tether_record_update (record, attributes);
      g_ptr_array_add (records, record);
      g_ptr_array_add (bodies, make_body (client->account, record));
    }

  tether_collection_add_many (client_collection (client),
                              (TetherRecord **) records->pdata, records->len);

  /* Whatever the session queued from the main loop reaches the store
   * before the flush, so that none of it counts in the push. */
  while (g_main_context_iteration (NULL, FALSE))
    ;
  tether_store_flush (tether_session_get_store (client->session), &error);
  die_on_error (error, "flush the new records");

  return bodies;
}

typedef struct
{
  double           ms;
  double           cpu_ms;
  double           call_ms;
  Stall            stall;
  TetherSyncReport report;
  guint64          requests;
  guint64          not_modified;
  guint64          bytes_received;
  guint64          bytes_written;
} SyncFigures;

static void
client_sync (Client          *client,
             TetherSyncFlags  flags,
             SyncFigures     *figures)
{
  TetherRemote *remote = tether_session_get_remote (client->session);
  TetherStore *store = tether_session_get_store (client->session);
  TetherSync *sync = tether_session_get_sync (client->session);
  g_autoptr(GAsyncResult) result = NULL;
  g_autoptr(GError) error = NULL;
  StallMeter meter = { 0 };
  guint64 written;
  gint64 begin;
  double cpu;

  tether_remote_reset_counters (remote);
  written = tether_store_get_bytes_written (store);

  stall_meter_start (&meter);
  cpu = client_cpu_ms ();
  begin = g_get_monotonic_time ();
  tether_sync_run_async (sync, flags, NULL, result_cb, &result);
  /* What the call itself takes blocks its caller (the Sync button). */
  figures->call_ms = (g_get_monotonic_time () - begin) / 1000.;
  wait_for (&result);
  figures->ms = (g_get_monotonic_time () - begin) / 1000.;
  figures->cpu_ms = client_cpu_ms () - cpu;
  stall_meter_stop (&meter, &figures->stall);

  tether_sync_run_finish (sync, result, &figures->report, &error);
  die_on_error (error, "sync");

  figures->requests = tether_remote_get_requests_sent (remote);
  figures->not_modified = tether_remote_get_not_modified_count (remote);
  figures->bytes_received = tether_remote_get_bytes_received (remote);
  figures->bytes_written = tether_store_get_bytes_written (store) - written;
}

/* Compacts the store and returns the bytes written meanwhile, the end of
 * a compaction already running included. */
static guint64
store_settle (Client *client)
{
  TetherStore *store = tether_session_get_store (client->session);
  guint64 written = tether_store_get_bytes_written (store);
  g_autoptr(GAsyncResult) result = NULL;
  g_autoptr(GError) error = NULL;

  tether_store_compact_async (store, NULL, result_cb, &result);
  wait_for (&result);
  tether_store_compact_finish (store, result, &error);
  die_on_error (error, "compact");

  return tether_store_get_bytes_written (store) - written;
}

/* The bare libsoup loops: the least an HTTP client must do */

/* A session made as TetherRemote makes its own (tether_remote_constructed()). */
static SoupSession *
bare_session_new (guint concurrency)
{
  guint per_host = MAX (2, concurrency);

  return soup_session_new_with_options ("user-agent", "Tether/" PACKAGE_VERSION,
                                        "timeout", 30,
                                        "max-conns-per-host", per_host,
                                        "max-conns", per_host + 8,
                                        NULL);
}

typedef struct
{
  SoupSession *session;
  GUri        *uri;
  GPtrArray   *bodies;
  guint        concurrency;
  gboolean     keep_alive;
  guint        next;
  guint        in_flight;
  guint        done;
  guint        failed;
  guint        last_status;
} BarePush;

static void bare_push_pump (BarePush *push);

static void
bare_push_cb (GObject      *object,
              GAsyncResult *result,
              gpointer      user_data)
{
  BarePush *push = user_data;
  SoupMessage *msg = soup_session_get_async_result_message (SOUP_SESSION (object), result);
  g_autoptr(GBytes) reply = NULL;
  g_autoptr(GError) error = NULL;

  reply = soup_session_send_and_read_finish (SOUP_SESSION (object), result, &error);
  if (error != NULL && push->failed == 0)
    g_printerr ("bench-sync: bare POST %u failed: %s\n", push->done, error->message);
  if (reply == NULL || soup_message_get_status (msg) != SOUP_STATUS_CREATED)
    {
      push->failed++;
      push->last_status = soup_message_get_status (msg);
    }

  push->in_flight--;
  push->done++;
  bare_push_pump (push);
}

static void
bare_push_pump (BarePush *push)
{
  while (push->in_flight < push->concurrency && push->next < push->bodies->len)
    {
      g_autoptr(SoupMessage) msg = soup_message_new_from_uri (SOUP_METHOD_POST, push->uri);
      SoupMessageFlags flags = SOUP_MESSAGE_NO_REDIRECT;

      /* Without IDEMPOTENT libsoup never reuses a connection for a POST:
       * the policy TetherRemote keeps for creates. */
      if (push->keep_alive)
        flags |= SOUP_MESSAGE_IDEMPOTENT;
      soup_message_set_flags (msg, flags);
      soup_message_headers_replace (soup_message_get_request_headers (msg),
                                    "Accept", "application/json");
      soup_message_set_request_body_from_bytes (msg, "application/json",
                                                g_ptr_array_index (push->bodies, push->next));

      push->next++;
      push->in_flight++;
      soup_session_send_and_read_async (push->session, msg, G_PRIORITY_DEFAULT, NULL,
                                        bare_push_cb, push);
    }
}

/* Returns the milliseconds the loop took. */
static double
bare_push (const char *collection_url,
           GPtrArray  *bodies,
           guint       concurrency,
           gboolean    keep_alive,
           double     *cpu_ms)
{
  g_autoptr(SoupSession) session = bare_session_new (concurrency);
  g_autoptr(GError) error = NULL;
  BarePush push = { 0 };
  gint64 begin;
  double ms, cpu;

  push.session = session;
  push.uri = g_uri_parse (collection_url, SOUP_HTTP_URI_FLAGS, &error);
  die_on_error (error, collection_url);
  push.bodies = bodies;
  push.concurrency = concurrency;
  push.keep_alive = keep_alive;

  cpu = client_cpu_ms ();
  begin = g_get_monotonic_time ();
  bare_push_pump (&push);
  while (push.done < bodies->len)
    g_main_context_iteration (NULL, TRUE);
  ms = (g_get_monotonic_time () - begin) / 1000.;
  if (cpu_ms != NULL)
    *cpu_ms = client_cpu_ms () - cpu;

  if (push.failed > 0)
    {
      g_printerr ("bench-sync: the bare push had %u failures (last status %u)\n",
                  push.failed, push.last_status);
      exit (1);
    }

  soup_session_abort (session);
  g_uri_unref (push.uri);

  return ms;
}

typedef struct
{
  GBytes *body;
  GError *error;
  guint   status;
  char   *etag;
  gboolean done;
} BareGet;

static void
bare_get_cb (GObject      *object,
             GAsyncResult *result,
             gpointer      user_data)
{
  BareGet *get = user_data;
  SoupMessage *msg = soup_session_get_async_result_message (SOUP_SESSION (object), result);

  get->body = soup_session_send_and_read_finish (SOUP_SESSION (object), result, &get->error);
  get->status = soup_message_get_status (msg);
  get->etag = g_strdup (soup_message_headers_get_one (soup_message_get_response_headers (msg), "ETag"));
  get->done = TRUE;
}

typedef struct
{
  double ms;
  double cpu_ms;
  double parse_ms;
  guint  requests;
  guint  not_modified;
  guint  records;
} BarePull;

/* GETs pages 1 to @n_pages one after the other, as a pull does. With
 * @etags empty it records each page's ETag and parses each page; with
 * ETags it sends them as If-None-Match. */
static void
bare_pull (const char *collection_url,
           guint       n_pages,
           guint       page_size,
           GPtrArray  *etags,
           BarePull   *figures)
{
  g_autoptr(SoupSession) session = bare_session_new (1);
  gboolean conditional = etags->len > 0;
  gint64 begin = g_get_monotonic_time ();
  double cpu = client_cpu_ms ();
  gint64 parse_us = 0;

  memset (figures, 0, sizeof *figures);

  for (guint page = 1; page <= n_pages; page++)
    {
      g_autofree char *url = g_strdup_printf ("%s?_page=%u&_limit=%u", collection_url, page, page_size);
      g_autoptr(SoupMessage) msg = soup_message_new (SOUP_METHOD_GET, url);
      SoupMessageHeaders *headers = soup_message_get_request_headers (msg);
      BareGet get = { 0 };

      soup_message_set_flags (msg, SOUP_MESSAGE_NO_REDIRECT);
      soup_message_headers_replace (headers, "Accept", "application/json");
      if (conditional)
        soup_message_headers_replace (headers, "If-None-Match", g_ptr_array_index (etags, page - 1));

      soup_session_send_and_read_async (session, msg, G_PRIORITY_DEFAULT, NULL, bare_get_cb, &get);
      while (!get.done)
        g_main_context_iteration (NULL, TRUE);

      die_on_error (get.error, url);
      figures->requests++;

      if (get.status == SOUP_STATUS_NOT_MODIFIED)
        {
          figures->not_modified++;
        }
      else if (get.status == SOUP_STATUS_OK)
        {
          g_autoptr(JsonParser) parser = json_parser_new ();
          g_autoptr(GError) error = NULL;
          gint64 parse_begin = g_get_monotonic_time ();

          json_parser_load_from_data (parser,
                                      g_bytes_get_data (get.body, NULL),
                                      g_bytes_get_size (get.body),
                                      &error);
          die_on_error (error, "parse a page");
          figures->records += json_array_get_length (json_node_get_array (json_parser_get_root (parser)));
          parse_us += g_get_monotonic_time () - parse_begin;
        }
      else
        {
          g_printerr ("bench-sync: %s answered %u\n", url, get.status);
          exit (1);
        }

      if (!conditional)
        g_ptr_array_add (etags, g_steal_pointer (&get.etag));

      g_clear_pointer (&get.etag, g_free);
      g_clear_pointer (&get.body, g_bytes_unref);
    }

  figures->ms = (g_get_monotonic_time () - begin) / 1000.;
  figures->cpu_ms = client_cpu_ms () - cpu;
  figures->parse_ms = parse_us / 1000.;

  soup_session_abort (session);
}

/* 1. Push */

static gboolean
bodies_were_received (Server    *server,
                      GPtrArray *bodies)
{
  g_autoptr(GHashTable) sent = g_hash_table_new (g_bytes_hash, g_bytes_equal);
  g_autoptr(GPtrArray) received = server_dup_bodies (server);

  for (guint i = 0; i < bodies->len; i++)
    g_hash_table_add (sent, g_ptr_array_index (bodies, i));

  for (guint i = 0; i < received->len; i++)
    if (!g_hash_table_contains (sent, g_ptr_array_index (received, i)))
      return FALSE;

  return received->len == bodies->len;
}

typedef struct
{
  Series tether;
  Series tether_cpu;
  StallSeries tether_stall;
  Series tether_call;
  Series tether_requests;
  Series bare_new;
  Series bare_new_cpu;
  Series bare_keep;
  Series bare_keep_cpu;
  Series ratio_new;
  Series ratio_new_cpu;
  Series ratio_keep;
  gboolean same_bodies;
  guint concurrency;
} PushResults;

static void
bench_push (PushResults *results)
{
  g_autoptr(Server) server = server_new ();
  g_autofree char *collection_url = g_strconcat (server_get_url (server), "/records", NULL);
  g_autoptr(GPtrArray) bodies = NULL;

  results->same_bodies = TRUE;

  for (int round = 0; round < repeats; round++)
    {
      double tether_ms = 0, new_ms = 0, keep_ms = 0;
      double tether_cpu = 0, new_cpu = 0, keep_cpu = 0;

      /* Tether first in the first round: its bodies are the baseline's. */
      for (int turn = 0; turn < 3; turn++)
        {
          int which = (turn + round) % 3;

          server_reset (server);
          settle ();

          if (which == 0)
            {
              g_autoptr(Client) client = client_new (server_get_url (server));
              g_autoptr(GPtrArray) sent = client_add_new_records (client, (guint) push_records);
              SyncFigures figures = { 0 };

              results->concurrency = tether_account_get_push_concurrency (client->account);
              client_sync (client, TETHER_SYNC_FLAGS_PUSH, &figures);

              if (figures.report.pushed != (guint) push_records || figures.report.errors != 0 ||
                  server_get_n_records (server) != (guint) push_records ||
                  tether_collection_get_n_unsynced (client_collection (client)) != 0)
                die ("Tether's push did not create every record");

              if (!bodies_were_received (server, sent))
                results->same_bodies = FALSE;
              if (bodies == NULL)
                bodies = g_ptr_array_ref (sent);

              tether_ms = figures.ms;
              tether_cpu = figures.cpu_ms;
              series_add (&results->tether, figures.ms);
              series_add (&results->tether_cpu, figures.cpu_ms);
              stall_series_add (&results->tether_stall, &figures.stall);
              series_add (&results->tether_call, figures.call_ms);
              series_add (&results->tether_requests, figures.requests);
            }
          else
            {
              double cpu;
              double ms = bare_push (collection_url, bodies, results->concurrency, which == 2, &cpu);

              if (server_get_n_records (server) != (guint) push_records)
                die ("the bare push did not create every record");

              if (which == 1)
                {
                  new_ms = ms;
                  new_cpu = cpu;
                  series_add (&results->bare_new, ms);
                  series_add (&results->bare_new_cpu, cpu);
                }
              else
                {
                  keep_ms = ms;
                  keep_cpu = cpu;
                  series_add (&results->bare_keep, ms);
                  series_add (&results->bare_keep_cpu, cpu);
                }
            }
        }

      series_add (&results->ratio_new, tether_ms / new_ms);
      series_add (&results->ratio_new_cpu, tether_cpu / new_cpu);
      series_add (&results->ratio_keep, tether_ms / keep_ms);
      printf ("  push round %d: Tether %.0f ms (%.0f ms CPU), bare with a new connection per POST "
              "%.0f ms (%.0f ms CPU), bare with keep-alive %.0f ms (%.0f ms CPU)\n",
              round + 1, tether_ms, tether_cpu, new_ms, new_cpu, keep_ms, keep_cpu);
      fflush (stdout);
    }
}

/* 2 and 3. Pull, then an idle sync */

typedef struct
{
  Series tether;
  Series tether_cpu;
  StallSeries stall;
  Series bare;
  Series bare_cpu;
  Series bare_parse;
  Series ratio;
  Series pages;
  Series idle;
  Series idle_cpu;
  StallSeries idle_stall;
  Series idle_requests;
  Series idle_304;
  Series idle_written;
  Series idle_bare;
  Series idle_bare_cpu;
  Series idle_ratio;
  Series pull_written;
  Series settle_written;
  guint  n_pages;
} PullResults;

static void
bench_pull (PullResults *results)
{
  g_autoptr(Server) server = server_new ();
  g_autofree char *collection_url = g_strconcat (server_get_url (server), "/records", NULL);
  g_autoptr(TetherAccount) defaults = tether_account_new ();
  guint page_size = tether_account_get_page_size (defaults);

  server_add_generated_records (server, (guint) pull_records);
  results->n_pages = ((guint) pull_records + page_size - 1) / page_size;

  for (int round = 0; round < repeats; round++)
    {
      SyncFigures pull = { 0 };
      SyncFigures idle = { 0 };
      BarePull bare = { 0 };
      BarePull bare_idle = { 0 };
      guint64 compact_written = 0;

      for (int turn = 0; turn < 2; turn++)
        {
          settle ();

          if ((turn + round) % 2 == 0)
            {
              g_autoptr(Client) client = client_new (server_get_url (server));

              client_sync (client, TETHER_SYNC_FLAGS_ALL, &pull);
              if (tether_collection_get_n_records (client_collection (client)) != (guint) pull_records)
                die ("the pull did not bring every record");

              /* A compaction the pull's writes started may still run; its
               * bytes are the pull's, not the idle sync's. Compacting
               * once more waits for it and leaves the store at rest. */
              compact_written = store_settle (client);

              client_sync (client, TETHER_SYNC_FLAGS_ALL, &idle);
            }
          else
            {
              g_autoptr(GPtrArray) etags = g_ptr_array_new_with_free_func (g_free);

              bare_pull (collection_url, results->n_pages, page_size, etags, &bare);
              if (bare.records != (guint) pull_records)
                die ("the bare pull did not bring every record");
              bare_pull (collection_url, results->n_pages, page_size, etags, &bare_idle);
            }
        }

      series_add (&results->tether, pull.ms);
      series_add (&results->tether_cpu, pull.cpu_ms);
      series_add (&results->bare_cpu, bare.cpu_ms);
      series_add (&results->idle_cpu, idle.cpu_ms);
      series_add (&results->idle_bare_cpu, bare_idle.cpu_ms);
      stall_series_add (&results->stall, &pull.stall);
      series_add (&results->pages, pull.requests);
      series_add (&results->pull_written, pull.bytes_written);
      series_add (&results->settle_written, compact_written);
      series_add (&results->bare, bare.ms);
      series_add (&results->bare_parse, bare.parse_ms);
      series_add (&results->ratio, pull.ms / bare.ms);

      series_add (&results->idle, idle.ms);
      stall_series_add (&results->idle_stall, &idle.stall);
      series_add (&results->idle_requests, idle.requests);
      series_add (&results->idle_304, idle.not_modified);
      series_add (&results->idle_written, idle.bytes_written);
      series_add (&results->idle_bare, bare_idle.ms);
      series_add (&results->idle_ratio, idle.ms / bare_idle.ms);

      printf ("  pull round %d: Tether %.0f ms (%.0f ms CPU, %" G_GUINT64_FORMAT " requests, "
              "%" G_GUINT64_FORMAT " bytes written, longest stall %.1f ms, %.1f ms CPU), "
              "bare %.0f ms (%.0f ms CPU)\n",
              round + 1, pull.ms, pull.cpu_ms, pull.requests, pull.bytes_written,
              pull.stall.wall_ms, pull.stall.cpu_ms, bare.ms, bare.cpu_ms);
      printf ("  idle round %d: Tether %.0f ms (%.0f ms CPU, %" G_GUINT64_FORMAT " requests, "
              "%" G_GUINT64_FORMAT " × 304, %" G_GUINT64_FORMAT " bytes written, longest stall "
              "%.1f ms), bare %.0f ms (%.0f ms CPU, %u × 304)\n",
              round + 1, idle.ms, idle.cpu_ms, idle.requests, idle.not_modified,
              idle.bytes_written, idle.stall.wall_ms, bare_idle.ms, bare_idle.cpu_ms,
              bare_idle.not_modified);
      fflush (stdout);
    }
}

/* 4. json-server */

typedef struct
{
  Series push;
  Series push_requests;
  Series push_bare;
  Series pull;
  Series pull_requests;
  Series pull_bare;
  gboolean available;
  char *missing;
} JsonServerResults;

static void
bench_json_server (JsonServerResults *results)
{
  results->available = TRUE;

  for (int round = 0; round < repeats; round++)
    {
      g_autoptr(GError) error = NULL;
      g_autoptr(TetherTestJsonServer) server = NULL;
      g_autoptr(TetherTestJsonServer) bare_server = NULL;
      g_autoptr(GPtrArray) bodies = NULL;
      g_autoptr(GPtrArray) etags = g_ptr_array_new_with_free_func (g_free);
      g_autofree char *collection_url = NULL;
      g_autofree char *bare_url = NULL;
      SyncFigures push = { 0 };
      SyncFigures pull = { 0 };
      BarePull bare_pull_figures = { 0 };
      double bare_push_ms = 0;
      guint n_pages;

      server = tether_test_json_server_new (NULL, &error);
      if (server == NULL)
        {
          results->available = FALSE;
          results->missing = g_strdup (error->message);
          return;
        }
      bare_server = tether_test_json_server_new (NULL, &error);
      die_on_error (error, "json-server");

      collection_url = g_strconcat (tether_test_json_server_get_url (server), "/records", NULL);
      bare_url = g_strconcat (tether_test_json_server_get_url (bare_server), "/records", NULL);

      /* Push: Tether to one server, the bare loop to another, each empty. */
      {
        g_autoptr(Client) client = client_new (tether_test_json_server_get_url (server));

        bodies = client_add_new_records (client, JSON_SERVER_RECORDS);

        if (round % 2 == 1)
          bare_push_ms = bare_push (bare_url, bodies,
                                    tether_account_get_push_concurrency (client->account), FALSE, NULL);
        client_sync (client, TETHER_SYNC_FLAGS_PUSH, &push);
        if (push.report.pushed != JSON_SERVER_RECORDS || push.report.errors != 0)
          die ("Tether's push to json-server did not create every record");
        if (round % 2 == 0)
          bare_push_ms = bare_push (bare_url, bodies,
                                    tether_account_get_push_concurrency (client->account), FALSE, NULL);
      }

      /* Pull what Tether pushed into an empty store, and the same pages bare. */
      {
        g_autoptr(Client) client = client_new (tether_test_json_server_get_url (server));
        guint page_size = tether_account_get_page_size (client->account);

        n_pages = (JSON_SERVER_RECORDS + page_size - 1) / page_size;
        if (round % 2 == 1)
          bare_pull (collection_url, n_pages, page_size, etags, &bare_pull_figures);
        client_sync (client, TETHER_SYNC_FLAGS_ALL, &pull);
        if (tether_collection_get_n_records (client_collection (client)) != JSON_SERVER_RECORDS)
          die ("the pull from json-server did not bring every record");
        if (round % 2 == 0)
          bare_pull (collection_url, n_pages, page_size, etags, &bare_pull_figures);
      }

      series_add (&results->push, push.ms);
      series_add (&results->push_requests, push.requests);
      series_add (&results->push_bare, bare_push_ms);
      series_add (&results->pull, pull.ms);
      series_add (&results->pull_requests, pull.requests);
      series_add (&results->pull_bare, bare_pull_figures.ms);

      printf ("  json-server round %d: push Tether %.0f ms (%" G_GUINT64_FORMAT " requests), "
              "bare %.0f ms; pull Tether %.0f ms (%" G_GUINT64_FORMAT " requests), bare %.0f ms\n",
              round + 1, push.ms, push.requests, bare_push_ms,
              pull.ms, pull.requests, bare_pull_figures.ms);
      fflush (stdout);
    }
}

/* The table */

static void
print_cell (Series     *series,
            int         decimals,
            const char *unit)
{
  g_autofree char *text = series_format (series, decimals, unit);

  printf ("%s", text);
}

int
main (int   argc,
      char *argv[])
{
  g_autofree char *only = NULL;
  g_autoptr(GOptionContext) context = NULL;
  g_autoptr(GError) error = NULL;
  const GOptionEntry entries[] = {
    { "repeats", 0, 0, G_OPTION_ARG_INT, &repeats, "Runs of each measure (default 3)", "N" },
    { "push-records", 0, 0, G_OPTION_ARG_INT, &push_records, "Records pushed (default 10 000)", "N" },
    { "pull-records", 0, 0, G_OPTION_ARG_INT, &pull_records, "Records pulled (default 100 000)", "N" },
    { "fixture", 0, 0, G_OPTION_ARG_NONE, &use_fixture, "Serve 1 to 3 from the shared test fixture", NULL },
    { "only", 0, 0, G_OPTION_ARG_STRING, &only, "Only these parts: push, pull, json-server", "LIST" },
    { NULL }
  };
  PushResults push = { { 0 } };
  PullResults pull = { { 0 } };
  JsonServerResults json = { { 0 } };
  gboolean do_push, do_pull, do_json;

  context = g_option_context_new ("— Tether's sync benchmark");
  g_option_context_add_main_entries (context, entries, NULL);
  if (!g_option_context_parse (context, &argc, &argv, &error))
    die_on_error (error, "options");
  repeats = MAX (repeats, 1);

  do_push = only == NULL || strstr (only, "push") != NULL;
  do_pull = only == NULL || strstr (only, "pull") != NULL;
  do_json = only == NULL || strstr (only, "json-server") != NULL;

  printf ("Tether sync benchmark: %d runs of each, Tether and its baselines taking turns\n", repeats);
  fflush (stdout);

  if (do_push)
    bench_push (&push);
  if (do_pull)
    bench_pull (&pull);
  if (do_json)
    bench_json_server (&json);

  printf ("\nMedians of %d runs, (min–max) beside; the baselines are bare libsoup loops run in the same\n"
          "process against the same server (%s), taking turns with Tether. Ratios are\n"
          "the median of each round's ratio. CPU is the client's: the whole process's, less the\n"
          "server thread's. A stall's CPU figure is the main thread's own time over the longest gap,\n"
          "which preemption by other processes does not inflate.\n\n",
          repeats, use_fixture ? "the shared tether-test-soup-server fixture"
                               : "a lean in-process SoupServer, O(1) per POST");
  printf ("| # | measure | Tether | baseline (same run) | ratio | target | |\n");
  printf ("|---|---|---|---|---|---|---|\n");

  if (do_push)
    {
      double ratio = series_median (&push.ratio_new);

      printf ("| 1 | push %u new records, %u in flight | ", (guint) push_records, push.concurrency);
      print_cell (&push.tether, 0, " ms");
      printf (" | bare libsoup, a new connection per POST (Tether's policy): ");
      print_cell (&push.bare_new, 0, " ms");
      printf (" | ");
      print_cell (&push.ratio_new, 2, "");
      printf (" | ≤ %.1f | %s |\n", PUSH_TARGET_RATIO, verdict (ratio <= PUSH_TARGET_RATIO));

      printf ("| 1b | the same, client CPU time | ");
      print_cell (&push.tether_cpu, 0, " ms");
      printf (" | ");
      print_cell (&push.bare_new_cpu, 0, " ms");
      printf (" | ");
      print_cell (&push.ratio_new_cpu, 2, "");
      printf (" | | |\n");

      printf ("| 1c | the same | | bare libsoup, keep-alive (POST marked idempotent): ");
      print_cell (&push.bare_keep, 0, " ms");
      printf (", ");
      print_cell (&push.bare_keep_cpu, 0, " ms CPU");
      printf (" | ");
      print_cell (&push.ratio_keep, 2, "");
      printf (" | (for reference) | |\n");
    }

  if (do_pull)
    {
      double stall = series_median (&pull.stall.wall);
      double stall_unloaded = series_median (&pull.stall.wall) - series_median (&pull.stall.wait);
      g_autofree char *stall_text = stall_series_format (&pull.stall);
      double requests = series_median (&pull.idle_requests);
      double not_modified = series_median (&pull.idle_304);
      double written = series_median (&pull.idle_written);

      printf ("| 2 | pull %u records (%u pages of %u) into an empty store | ",
              (guint) pull_records, pull.n_pages, (guint) pull_records / pull.n_pages);
      print_cell (&pull.tether, 0, " ms");
      printf (", ");
      print_cell (&pull.tether_cpu, 0, " ms CPU");
      printf (" | bare libsoup GETs + json-glib parse: ");
      print_cell (&pull.bare, 0, " ms");
      printf (", ");
      print_cell (&pull.bare_cpu, 0, " ms CPU");
      printf (" | ");
      print_cell (&pull.ratio, 2, "");
      printf (" | (no target) | |\n");

      printf ("| 2b | longest main-loop stall during that pull | %s | less the wait for a CPU: %.1f ms | | ≤ %.0f ms | %s |\n",
              stall_text, stall_unloaded, STALL_TARGET_MS, verdict (stall <= STALL_TARGET_MS));

      printf ("| 3 | idle sync of those %u synced records: requests | %.0f requests, %.0f × 304 | "
              "%u pages | | one conditional GET per page, all 304 | %s |\n",
              (guint) pull_records, requests, not_modified, pull.n_pages,
              verdict (requests == pull.n_pages && not_modified == pull.n_pages));
      printf ("| 3b | idle sync: bytes written to the store | %.0f bytes | | | 0 | %s |\n",
              written, verdict (written == 0));
      printf ("| 3c | idle sync: time | ");
      print_cell (&pull.idle, 0, " ms");
      printf (", ");
      print_cell (&pull.idle_cpu, 0, " ms CPU");
      printf (" | bare libsoup conditional GETs: ");
      print_cell (&pull.idle_bare, 0, " ms");
      printf (", ");
      print_cell (&pull.idle_bare_cpu, 0, " ms CPU");
      printf (" | ");
      print_cell (&pull.idle_ratio, 2, "");
      printf (" | (no target) | |\n");
    }

  if (do_json && json.available)
    {
      printf ("| 4 | json-server %s: push %u new records | ", TETHER_TEST_JSON_SERVER_VERSION, JSON_SERVER_RECORDS);
      print_cell (&json.push, 0, " ms");
      printf (", ");
      print_cell (&json.push_requests, 0, " requests");
      printf (" | bare libsoup, same bodies and concurrency: ");
      print_cell (&json.push_bare, 0, " ms");
      printf (" | %.2f | (for reference) | |\n",
              series_median (&json.push) / series_median (&json.push_bare));
      printf ("| 4b | json-server %s: pull %u records into an empty store | ", TETHER_TEST_JSON_SERVER_VERSION, JSON_SERVER_RECORDS);
      print_cell (&json.pull, 0, " ms");
      printf (", ");
      print_cell (&json.pull_requests, 0, " requests");
      printf (" | bare libsoup GETs + parse: ");
      print_cell (&json.pull_bare, 0, " ms");
      printf (" | %.2f | (for reference) | |\n",
              series_median (&json.pull) / series_median (&json.pull_bare));
    }
  else if (do_json)
    {
      printf ("| 4 | json-server %s | not run: %s | | | (for reference) | |\n",
              TETHER_TEST_JSON_SERVER_VERSION, json.missing);
    }

  printf ("\n");
  if (do_push)
    {
      g_autofree char *stall_text = stall_series_format (&push.tether_stall);

      printf ("Push: Tether made ");
      print_cell (&push.tether_requests, 0, " requests");
      printf ("; its longest main-loop stall was %s;\nthe call to tether_sync_run_async() itself took ", stall_text);
      print_cell (&push.tether_call, 0, " ms");
      printf ("; the server received %s the bodies the baseline sends.\n",
              push.same_bodies ? "exactly" : "NOT");
    }
  if (do_pull)
    {
      g_autofree char *idle_stall_text = stall_series_format (&pull.idle_stall);

      printf ("Pull: Tether made ");
      print_cell (&pull.pages, 0, " requests");
      printf (" and wrote ");
      print_cell (&pull.pull_written, 0, " bytes");
      printf (" to its store (then ");
      print_cell (&pull.settle_written, 0, " bytes");
      printf (" in compactions before the idle sync); the baseline's json-glib parse took ");
      print_cell (&pull.bare_parse, 0, " ms");
      printf (".\nIdle sync: longest main-loop stall %s.\n", idle_stall_text);
    }

  g_clear_pointer (&all_series, g_ptr_array_unref);
  g_free (json.missing);

  return 0;
}
