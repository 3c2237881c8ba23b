/* bench-window.c
 *
 * Copyright 2026 The Tether authors
 *
 * SPDX-License-Identifier: GPL-3.0-or-later
 */

/* A benchmark, not a test: it prints figures beside baselines measured in
 * the same run and asserts nothing about time. It needs a display (run it
 * through build-aux/run-tests --bench, which makes an Xvfb).
 *
 * It makes two stores through the core, in the XDG data directory the app
 * uses (a private HOME): one of 0 records and one of 100 000. Then, each in
 * a fresh process so that no launch warms the next, after one launch that
 * does not count (it fills the new HOME's caches):
 *   5. the real application is launched (g_application_run(), as main.c
 *      does) on each store in turn: the time from the start of main() to
 *      the first frame the window paints (GdkFrameClock "after-paint"), to
 *      the first frame showing record rows, and to the complete sorted
 *      list, and the longest main-loop stall from the first frame on;
 *   6. over 100 000 records, a query is typed into the search entry one
 *      character every 200 ms ("r", "re", … "record 42"), its results
 *      waited for, then the entry cleared, while a 1 ms high-priority
 *      timeout records the longest gap of the main loop; the baseline is
 *      the same meter over the same window left idle. It runs under GTK's
 *      default renderer and under the cairo one.
 * Stalls are split with the scheduler's account of the main thread: on a
 * CPU, waiting for one (the machine's load), and blocked.
 *
 *   bench-window [--repeats N] [--keep]
 */

#include "config.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include <fcntl.h>
#include <unistd.h>

#include <adwaita.h>
#include <glib/gstdio.h>

#include "tether-application.h"
#include "tether-record-row.h"
#include "tether-session.h"
#include "tether-window.h"

#define BIG_STORE           100000
#define LAUNCH_TARGET_RATIO 1.5
#define STALL_TARGET_MS     50.0
#define KEYSTROKE_MS        200
#define IDLE_PHASE_MS       3000
#define CHILD_TIMEOUT_S     300

static int repeats = 3;
static gboolean keep = FALSE;

/* What is typed, a character every KEYSTROKE_MS: a query narrowing to
 * 1 111 of the 100 000 records ("Record 42…", "Record 420…"…), whose
 * results are waited for; then the entry is cleared and the whole list
 * waited for. The search entry strips the text, so "record " counts as
 * "record". */
static const char *typed[] = {
  "r", "re", "rec", "reco", "recor", "record", "record ", "record 4", "record 42", "",
};
#define NARROWED_STEP 8
#define EXPECTED_NARROWED 1111

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

  g_printerr ("bench-window: %s: %s\n", what, error->message);
  exit (1);
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

static char *
collection_name (guint n)
{
  return g_strdup_printf ("bench-%u", n);
}

/* A private HOME and XDG directories for this process and its children,
 * removed at exit: the stores, GTK's caches and settings never touch the
 * user's own. */
static char *private_home;

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

static void
remove_private_home (void)
{
  g_autoptr(GFile) home = NULL;

  if (private_home == NULL)
    return;

  if (keep)
    {
      g_printerr ("bench-window: kept %s\n", private_home);
      g_clear_pointer (&private_home, g_free);
      return;
    }

  home = g_file_new_for_path (private_home);
  remove_tree (home);
  g_clear_pointer (&private_home, g_free);
}

static void
isolate_directories (void)
{
  static const char * const dirs[][2] = {
    { "XDG_DATA_HOME", "data" },
    { "XDG_CONFIG_HOME", "config" },
    { "XDG_CACHE_HOME", "cache" },
    { "XDG_STATE_HOME", "state" },
  };
  g_autoptr(GError) error = NULL;

  /* Before anything in GLib reads and caches the user directories. */
  private_home = g_dir_make_tmp ("tether-bench-window-XXXXXX", &error);
  die_on_error (error, "temporary directory");
  g_setenv ("HOME", private_home, TRUE);

  for (guint i = 0; i < G_N_ELEMENTS (dirs); i++)
    {
      g_autofree char *path = g_build_filename (private_home, dirs[i][1], NULL);

      g_mkdir_with_parents (path, 0700);
      g_setenv (dirs[i][0], path, TRUE);
    }

  atexit (remove_private_home);
}

/* Making the stores, through the core as the app would */

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

/* An offline store (no server URL) of the collection bench-N, with @n
 * records as a pull would have brought them: synced, with an id. */
static guint64
generate (guint n)
{
  g_autoptr(TetherAccount) account = tether_account_new ();
  g_autoptr(TetherSession) session = NULL;
  g_autoptr(GPtrArray) records = g_ptr_array_new_full (n, g_object_unref);
  g_autoptr(GRand) rand = g_rand_new_with_seed (n);
  g_autoptr(GAsyncResult) result = NULL;
  g_autoptr(GError) error = NULL;
  g_autofree char *collection = collection_name (n);
  g_autofree char *snapshot = NULL;
  TetherStore *store;
  GStatBuf st = { 0 };

  tether_account_set_server_url (account, "");
  tether_account_set_collection (account, collection);
  session = tether_session_new (account, NULL);
  tether_session_open (session, &error);
  die_on_error (error, "open the store");
  store = tether_session_get_store (session);

  for (guint i = 0; i < n; i++)
    {
      g_autoptr(JsonObject) attributes = make_attributes (rand, i);
      g_autoptr(JsonNode) id = json_node_init_int (json_node_alloc (), i + 1);

      g_ptr_array_add (records, tether_record_new_from_server (id, attributes));
    }

  tether_collection_add_many (tether_session_get_collection (session),
                              (TetherRecord **) records->pdata, records->len);

  /* Whatever the session queued from the main loop reaches the store
   * before the flush. */
  while (g_main_context_iteration (NULL, FALSE))
    ;
  tether_store_flush (store, &error);
  die_on_error (error, "flush");

  /* The shape a store has once the app has run a while: one snapshot. */
  tether_store_compact_async (store, NULL, result_cb, &result);
  wait_for (&result);
  tether_store_compact_finish (store, result, &error);
  die_on_error (error, "compact");

  snapshot = g_build_filename (g_file_peek_path (tether_session_get_directory (session)),
                               "snapshot.jsonl", NULL);
  g_stat (snapshot, &st);

  tether_session_close (session, &error);
  die_on_error (error, "close");

  return st.st_size;
}

/* The child: the real application */

typedef enum
{
  CHILD_LAUNCH,
  CHILD_FILTER,
} ChildMode;

typedef struct
{
  ChildMode          mode;
  guint              n_records;
  TetherApplication *app;
  TetherWindow      *window;
  GtkSearchEntry    *entry;

  /* Launch */
  gint64             begin;
  gint64             first_frame;
  gint64             opened;
  gint64             rows;
  gint64             sorted;
  gint64             mapped;
  double             frame_cpu_ms;
  double             frame_wait_ms;
  guint              frame_items;

  /* The meter, and what it polls */
  guint              tick_source;
  StallClock         clock;
  Stall              launch_stall;

  /* Filter */
  guint              step;
  Stall              idle_stall;
  Stall              typing_stall;
  guint              worst_step;
  Stall              step_stall[G_N_ELEMENTS (typed)];
  guint              step_visible[G_N_ELEMENTS (typed)];
  gint64             step_settled[G_N_ELEMENTS (typed)];
  gint64             last_keystroke;
  guint              visible;
  gboolean           idle_phase;
  gboolean           typing;
  gboolean           launched;
  gboolean           finished;
} Child;

static GtkFilterListModel *child_filter_model (Child *child);

static gboolean
child_quit_cb (gpointer user_data)
{
  Child *child = user_data;

  g_application_quit (G_APPLICATION (child->app));

  return G_SOURCE_REMOVE;
}

static void
child_finish (Child *child)
{
  if (child->finished)
    return;

  child->finished = TRUE;
  child->visible = g_list_model_get_n_items (G_LIST_MODEL (child_filter_model (child)));
  if (child->typing)
    child->step_visible[child->step] = child->visible;
  g_clear_handle_id (&child->tick_source, g_source_remove);
  g_idle_add (child_quit_cb, child);
}

static gboolean
child_timeout_cb (gpointer user_data)
{
  g_printerr ("bench-window: the window did not get there in %d s\n", CHILD_TIMEOUT_S);
  exit (1);

  return G_SOURCE_REMOVE;
}

static GtkWidget *
find_widget_of_type (GtkWidget *root,
                     GType      type)
{
  for (GtkWidget *child = gtk_widget_get_first_child (root);
       child != NULL;
       child = gtk_widget_get_next_sibling (child))
    {
      GtkWidget *found;

      if (G_TYPE_CHECK_INSTANCE_TYPE (child, type))
        return child;
      if ((found = find_widget_of_type (child, type)))
        return found;
    }

  return NULL;
}

/* A row on screen with a record bound to it. */
static gboolean
shows_rows (GtkWidget *root)
{
  for (GtkWidget *child = gtk_widget_get_first_child (root);
       child != NULL;
       child = gtk_widget_get_next_sibling (child))
    {
      if (!gtk_widget_get_mapped (child))
        continue;
      if (TETHER_IS_RECORD_ROW (child) &&
          tether_record_row_get_record (TETHER_RECORD_ROW (child)) != NULL)
        return TRUE;
      if (shows_rows (child))
        return TRUE;
    }

  return FALSE;
}

static GtkFilterListModel *
child_filter_model (Child *child)
{
  return GTK_FILTER_LIST_MODEL (tether_window_get_visible_records (child->window));
}

static gboolean
child_models_settled (Child *child)
{
  GtkFilterListModel *filter_model = child_filter_model (child);
  GListModel *sort_model = gtk_filter_list_model_get_model (filter_model);

  if (GTK_IS_SORT_LIST_MODEL (sort_model) &&
      gtk_sort_list_model_get_pending (GTK_SORT_LIST_MODEL (sort_model)) > 0)
    return FALSE;

  return gtk_filter_list_model_get_pending (filter_model) == 0;
}

static void     start_idle_phase (Child    *child);
static gboolean type_next_cb     (gpointer  user_data);

static void
child_launched (Child *child)
{
  child->launched = TRUE;

  if (child->mode == CHILD_LAUNCH)
    child_finish (child);
  else
    start_idle_phase (child);
}

/* Every frame: the first, and the first with rows. */
static void
after_paint_cb (GdkFrameClock *clock,
                Child         *child)
{
  gint64 now = g_get_monotonic_time ();

  if (child->first_frame == 0)
    {
      TetherCollection *collection = tether_session_get_collection (tether_window_get_session (child->window));

      /* Where the time to the first frame went, on the main thread. */
      child->first_frame = now;
      child->frame_cpu_ms = thread_cpu_usec () / 1000.;
      child->frame_wait_ms = stall_clock_wait_usec (&child->clock) / 1000.;
      child->frame_items = g_list_model_get_n_items (G_LIST_MODEL (collection));
    }

  if (child->rows == 0 && child->n_records > 0 && shows_rows (GTK_WIDGET (child->window)))
    child->rows = now;
}

static void
window_map_cb (GtkWidget *widget,
               Child     *child)
{
  GdkFrameClock *clock = gtk_widget_get_frame_clock (widget);

  child->mapped = g_get_monotonic_time ();
  g_signal_connect (clock, "after-paint", G_CALLBACK (after_paint_cb), child);
}

static void
window_added_cb (GtkApplication *app,
                 GtkWindow      *window,
                 Child          *child)
{
  if (!TETHER_IS_WINDOW (window) || child->window != NULL)
    return;

  child->window = TETHER_WINDOW (window);
  g_signal_connect (window, "map", G_CALLBACK (window_map_cb), child);
}

/* The meter: a high-priority 1 ms timeout whose longest gap is the longest
 * time the main loop could not run; the main thread's CPU time over a gap
 * is the work done in one go, whatever else the machine ran. It also
 * follows the launch. */
static gboolean
tick_cb (gpointer user_data)
{
  Child *child = user_data;
  gint64 now = g_get_monotonic_time ();
  Gap gap;

  stall_clock_sample (&child->clock, &gap);

  if (child->idle_phase)
    {
      stall_add (&child->idle_stall, &gap);
    }
  else if (child->typing)
    {
      if (gap.wall_ms > child->typing_stall.wall_ms)
        child->worst_step = child->step;
      stall_add (&child->typing_stall, &gap);
      stall_add (&child->step_stall[child->step], &gap);

      /* After the narrowing query and after the clearing: the time until
       * the search has been applied (the entry waits its search-delay
       * first) and every record filtered. */
      if ((child->step == NARROWED_STEP || child->step == G_N_ELEMENTS (typed) - 1) &&
          child->step_settled[child->step] == 0 &&
          now - child->last_keystroke > 300 * G_TIME_SPAN_MILLISECOND &&
          child_models_settled (child))
        {
          child->step_settled[child->step] = now - child->last_keystroke;
          child->step_visible[child->step] =
            g_list_model_get_n_items (G_LIST_MODEL (child_filter_model (child)));

          if (child->step == G_N_ELEMENTS (typed) - 1)
            child_finish (child);
          else
            g_timeout_add (KEYSTROKE_MS, type_next_cb, child);
        }
    }
  else if (child->window != NULL && !child->launched)
    {
      TetherSession *session = tether_window_get_session (child->window);

      /* Before the first frame the process is starting, not stalling. */
      if (child->first_frame != 0)
        stall_add (&child->launch_stall, &gap);

      if (child->opened == 0 && tether_session_is_open (session))
        child->opened = now;

      if (child->opened != 0 && child->sorted == 0 && child_models_settled (child) &&
          g_list_model_get_n_items (G_LIST_MODEL (child_filter_model (child))) == child->n_records)
        child->sorted = now;

      if (child->first_frame != 0 && child->sorted != 0 &&
          (child->n_records == 0 || child->rows != 0))
        child_launched (child);
    }

  return G_SOURCE_CONTINUE;
}

static gboolean
end_idle_phase_cb (gpointer user_data)
{
  Child *child = user_data;
  GtkWidget *bar;

  child->idle_phase = FALSE;
  gtk_widget_activate_action (GTK_WIDGET (child->window), "win.search", NULL);
  /* The search bar's entry (other widgets have search entries of their
   * own: drop-downs with search, for one). */
  bar = find_widget_of_type (GTK_WIDGET (child->window), GTK_TYPE_SEARCH_BAR);
  g_assert (bar != NULL);
  child->entry = GTK_SEARCH_ENTRY (gtk_search_bar_get_child (GTK_SEARCH_BAR (bar)));
  g_assert (GTK_IS_SEARCH_ENTRY (child->entry));

  /* The search bar opening is not part of the measure. */
  g_timeout_add (500, type_next_cb, child);

  return G_SOURCE_REMOVE;
}

/* The baseline: the same window, idle, for as long as the typing lasts. */
static void
start_idle_phase (Child *child)
{
  child->idle_phase = TRUE;
  g_timeout_add (IDLE_PHASE_MS, end_idle_phase_cb, child);
}

static gboolean
type_next_cb (gpointer user_data)
{
  Child *child = user_data;
  gint64 now = g_get_monotonic_time ();

  /* What the last text showed, once the next is about to be typed. */
  if (!child->typing)
    child->typing = TRUE;
  else if (child->step_settled[child->step] == 0)
    child->step_visible[child->step++] =
      g_list_model_get_n_items (G_LIST_MODEL (child_filter_model (child)));
  else
    child->step++;

  child->last_keystroke = now;

  /* As a keyboard types: the next character goes at the end. Replacing
   * the whole text would first empty the entry, which a search entry
   * reports at once, and every step would start the search afresh. */
  {
    GtkEditable *editable = GTK_EDITABLE (child->entry);
    const char *shown = gtk_editable_get_text (editable);
    const char *next = typed[child->step];

    if (next[0] != '\0' && g_str_has_prefix (next, shown))
      {
        int position = (int) g_utf8_strlen (shown, -1);

        gtk_editable_insert_text (editable, next + strlen (shown), -1, &position);
      }
    else
      {
        gtk_editable_set_text (editable, next);
      }
  }

  /* The narrowing query and the clearing wait for their results. */
  if (child->step != NARROWED_STEP && child->step + 1 < G_N_ELEMENTS (typed))
    g_timeout_add (KEYSTROKE_MS, type_next_cb, child);

  return G_SOURCE_REMOVE;
}

/* " NAME_wall_ms=… NAME_cpu_ms=… NAME_wait_ms=… NAME_burst_ms=…" */
static char *
print_stall (const char  *name,
             const Stall *stall)
{
  return g_strdup_printf (" %s_wall_ms=%.1f %s_cpu_ms=%.1f %s_wait_ms=%.1f %s_burst_ms=%.1f",
                          name, stall->wall_ms, name, stall->cpu_ms,
                          name, stall->wait_ms, name, stall->burst_ms);
}

static int
child_main (ChildMode   mode,
            guint       n_records,
            gint64      begin)
{
  g_autoptr(GSettings) settings = g_settings_new (BASE_APP_ID);
  g_autofree char *collection = collection_name (n_records);
  g_autofree char *app_id = g_strdup_printf ("%s.Bench%u", APP_ID, (guint) getpid ());
  Child child = { 0 };

  /* A warning is reported by the parent, not fatal here: a benchmark
   * that aborts measures nothing. Criticals still abort. */
  g_log_set_always_fatal (G_LOG_FATAL_MASK | G_LOG_LEVEL_CRITICAL);

  child.mode = mode;
  child.n_records = n_records;
  child.begin = begin;

  /* The store the app opens is the default one for these settings. */
  g_settings_set_string (settings, "server-url", "");
  g_settings_set_string (settings, "collection", collection);
  g_settings_set_string (settings, "selected-record", "");
  g_settings_set_string (settings, "sort-order", "title");

  child.app = tether_application_new (app_id, G_APPLICATION_NON_UNIQUE);
  g_signal_connect (child.app, "window-added", G_CALLBACK (window_added_cb), &child);

  stall_clock_start (&child.clock);
  child.tick_source = g_timeout_add_full (G_PRIORITY_HIGH, 1, tick_cb, &child, NULL);
  g_timeout_add_seconds (CHILD_TIMEOUT_S, child_timeout_cb, NULL);

  g_application_run (G_APPLICATION (child.app), 0, NULL);

  stall_clock_stop (&child.clock);

  if (mode == CHILD_LAUNCH)
    {
      g_autofree char *stall = print_stall ("launch", &child.launch_stall);

      printf ("records=%u mapped_ms=%.1f first_frame_ms=%.1f frame_cpu_ms=%.1f frame_wait_ms=%.1f "
              "frame_items=%u open_ms=%.1f rows_ms=%.1f sorted_ms=%.1f%s\n",
              n_records,
              (child.mapped - begin) / 1000.,
              (child.first_frame - begin) / 1000.,
              child.frame_cpu_ms, child.frame_wait_ms, child.frame_items,
              (child.opened - begin) / 1000.,
              child.rows ? (child.rows - begin) / 1000. : -1,
              (child.sorted - begin) / 1000.,
              stall);
    }
  else
    {
      g_autofree char *idle = print_stall ("idle", &child.idle_stall);
      g_autofree char *typing = print_stall ("typing", &child.typing_stall);
      g_autoptr(GString) steps = g_string_new (NULL);

      for (guint i = 0; i < G_N_ELEMENTS (typed); i++)
        g_string_append_printf (steps, " step%u_wall_ms=%.1f step%u_visible=%u",
                                i, child.step_stall[i].wall_ms, i, child.step_visible[i]);

      printf ("records=%u worst_step=%u narrowed_ms=%.1f narrowed_visible=%u cleared_ms=%.1f "
              "visible=%u%s%s%s\n",
              n_records, child.worst_step,
              child.step_settled[NARROWED_STEP] / 1000., child.step_visible[NARROWED_STEP],
              child.step_settled[G_N_ELEMENTS (typed) - 1] / 1000.,
              child.visible, idle, typing, steps->str);
    }

  g_clear_object (&child.app);

  return 0;
}

/* The parent */

/* Warnings the children logged, each once. */
static GPtrArray *child_warnings;

static void
collect_warnings (const char *err)
{
  g_auto(GStrv) lines = g_strsplit (err != NULL ? err : "", "\n", -1);

  for (guint i = 0; lines[i] != NULL; i++)
    {
      /* "(bench-window:PID): Domain-WARNING **: HH:MM:SS.mmm: message":
       * the domain and message, without what differs in each child. */
      const char *marker = strstr (lines[i], "-WARNING **: ");
      const char *domain = strstr (lines[i], "): ");
      const char *text;
      g_autofree char *message = NULL;

      if (marker == NULL)
        continue;

      domain = domain != NULL && domain < marker ? domain + 3 : lines[i];
      text = marker + strlen ("-WARNING **: ");
      if (g_ascii_isdigit (*text) && strstr (text, ": ") != NULL)
        text = strstr (text, ": ") + 2;

      message = g_strdup_printf ("%.*s: %s", (int) (marker - domain), domain, text);
      if (!g_ptr_array_find_with_equal_func (child_warnings, message, g_str_equal, NULL))
        g_ptr_array_add (child_warnings, g_steal_pointer (&message));
    }
}

static GHashTable *
run_child (const char *self,
           const char *mode,
           guint       n_records,
           const char *renderer)
{
  g_autofree char *count = g_strdup_printf ("%u", n_records);
  const char *argv[] = { self, mode, count, NULL };
  g_autofree char *out = NULL;
  g_autofree char *err = NULL;
  g_autoptr(GError) error = NULL;
  g_auto(GStrv) fields = NULL;
  GHashTable *values = g_hash_table_new_full (g_str_hash, g_str_equal, g_free, g_free);
  int status;

  g_auto(GStrv) envp = g_get_environ ();

  if (renderer != NULL)
    envp = g_environ_setenv (envp, "GSK_RENDERER", renderer, TRUE);

  g_spawn_sync (NULL, (char **) argv, envp, G_SPAWN_DEFAULT, NULL, NULL,
                &out, &err, &status, &error);
  die_on_error (error, mode);
  g_spawn_check_wait_status (status, &error);
  if (error != NULL)
    g_printerr ("%s", err);
  die_on_error (error, mode);
  collect_warnings (err);

  fields = g_strsplit_set (g_strstrip (out), " ", -1);
  for (guint i = 0; fields[i] != NULL; i++)
    {
      char *eq = strchr (fields[i], '=');

      if (eq != NULL)
        g_hash_table_insert (values,
                             g_strndup (fields[i], eq - fields[i]),
                             g_strdup (eq + 1));
    }

  return values;
}

static double
get (GHashTable *values,
     const char *key)
{
  const char *value = g_hash_table_lookup (values, key);

  return value ? g_ascii_strtod (value, NULL) : -1;
}

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

static void
print_series (Series     *series,
              int         decimals,
              const char *unit)
{
  printf ("%.*f%s", decimals, series_median (series), unit);
  if (series->values != NULL && series->values->len > 1)
    printf (" (%.*f–%.*f)", decimals, series_nth (series, 0), decimals, series_nth (series, 2));
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
                  GHashTable  *values,
                  const char  *name)
{
  const char *parts[] = { "wall", "cpu", "wait", "burst" };
  Series *targets[] = { &series->wall, &series->cpu, &series->wait, &series->burst };

  for (guint i = 0; i < G_N_ELEMENTS (parts); i++)
    {
      g_autofree char *key = g_strdup_printf ("%s_%s_ms", name, parts[i]);

      series_add (targets[i], get (values, key));
    }
}

/* "138.2 ms (120.1–210.3): 100.6 on a CPU, 30.1 waiting for one; longest
 * CPU burst 100.6 ms" */
static void
print_stall_series (StallSeries *series)
{
  print_series (&series->wall, 1, " ms");
  printf (": %.1f on a CPU, %.1f waiting for one; longest CPU burst %.1f ms",
          series_median (&series->cpu), series_median (&series->wait),
          series_median (&series->burst));
}

static const char *
verdict (gboolean met)
{
  return met ? "met" : "NOT met";
}

static const char *
step_text (guint step)
{
  static char buffer[64];

  g_snprintf (buffer, sizeof buffer, "“%s”", typed[MIN (step, G_N_ELEMENTS (typed) - 1)]);

  return buffer;
}

/* The filter measure runs under GTK's default renderer (GL, which under
 * Xvfb is Mesa's llvmpipe: software rasterizing threads the main thread
 * waits for at each frame) and under the cairo renderer. */
static const struct
{
  const char *name;
  const char *label;
} renderers[] = {
  { NULL, "default (GL) renderer" },
  { "cairo", "cairo renderer" },
};

typedef struct
{
  StallSeries  typing;
  StallSeries  idle;
  Series       narrowed;
  Series       narrowed_visible;
  Series       cleared;
  Series       steps[G_N_ELEMENTS (typed)];
  GArray      *worst_steps;
} Filter;

static void
filter_add (Filter     *filter,
            GHashTable *values)
{
  guint worst = (guint) get (values, "worst_step");

  stall_series_add (&filter->typing, values, "typing");
  stall_series_add (&filter->idle, values, "idle");
  series_add (&filter->narrowed, get (values, "narrowed_ms"));
  series_add (&filter->narrowed_visible, get (values, "narrowed_visible"));
  series_add (&filter->cleared, get (values, "cleared_ms"));

  for (guint i = 0; i < G_N_ELEMENTS (typed); i++)
    {
      g_autofree char *key = g_strdup_printf ("step%u_wall_ms", i);

      series_add (&filter->steps[i], get (values, key));
    }

  if (filter->worst_steps == NULL)
    filter->worst_steps = g_array_new (FALSE, FALSE, sizeof (guint));
  g_array_append_val (filter->worst_steps, worst);
}

int
main (int   argc,
      char *argv[])
{
  gint64 begin = g_get_monotonic_time ();
  g_autofree char *self = NULL;
  g_autoptr(GOptionContext) context = NULL;
  g_autoptr(GError) error = NULL;
  const GOptionEntry entries[] = {
    { "repeats", 0, 0, G_OPTION_ARG_INT, &repeats, "Fresh processes per measure (default 3)", "N" },
    { "keep", 0, 0, G_OPTION_ARG_NONE, &keep, "Keep the stores (for profiling a child)", NULL },
    { NULL }
  };
  Series small_frame = { 0 }, big_frame = { 0 }, frame_ratio = { 0 };
  Series small_open = { 0 }, big_open = { 0 }, big_rows = { 0 }, big_sorted = { 0 };
  StallSeries small_stall = { { 0 } }, big_stall = { { 0 } };
  Series small_frame_cpu = { 0 }, big_frame_cpu = { 0 }, small_frame_wait = { 0 }, big_frame_wait = { 0 };
  Series big_frame_items = { 0 };
  Filter filters[G_N_ELEMENTS (renderers)] = { { { { 0 } } } };
  guint64 big_size;
  double ratio;

  if (argc == 3 && (g_str_equal (argv[1], "child-launch") || g_str_equal (argv[1], "child-filter")))
    {
      ChildMode mode = g_str_equal (argv[1], "child-launch") ? CHILD_LAUNCH : CHILD_FILTER;

      return child_main (mode, (guint) g_ascii_strtoull (argv[2], NULL, 10), begin);
    }

  context = g_option_context_new ("— Tether's window benchmark");
  g_option_context_add_main_entries (context, entries, NULL);
  if (!g_option_context_parse (context, &argc, &argv, &error))
    die_on_error (error, "options");
  repeats = MAX (repeats, 1);

  isolate_directories ();

  self = g_file_read_link ("/proc/self/exe", &error);
  die_on_error (error, "/proc/self/exe");
  child_warnings = g_ptr_array_new_with_free_func (g_free);

  printf ("Tether window benchmark: stores in %s\n", g_get_user_data_dir ());
  generate (0);
  big_size = generate (BIG_STORE);
  printf ("  %u records: %.1f MB snapshot\n", BIG_STORE, big_size / 1e6);
  fflush (stdout);

  /* The first GTK process in a new HOME builds caches (fontconfig's):
   * one launch that does not count. */
  g_hash_table_unref (run_child (self, "child-launch", 0, NULL));

  for (int round = 0; round < repeats; round++)
    {
      g_autoptr(GHashTable) small = NULL;
      g_autoptr(GHashTable) big = NULL;

      /* Taking turns, so that the machine's load weighs on both alike. */
      if (round % 2 == 0)
        {
          small = run_child (self, "child-launch", 0, NULL);
          big = run_child (self, "child-launch", BIG_STORE, NULL);
        }
      else
        {
          big = run_child (self, "child-launch", BIG_STORE, NULL);
          small = run_child (self, "child-launch", 0, NULL);
        }

      series_add (&small_frame, get (small, "first_frame_ms"));
      series_add (&big_frame, get (big, "first_frame_ms"));
      series_add (&frame_ratio, get (big, "first_frame_ms") / get (small, "first_frame_ms"));
      series_add (&small_open, get (small, "open_ms"));
      series_add (&big_open, get (big, "open_ms"));
      series_add (&big_rows, get (big, "rows_ms"));
      series_add (&big_sorted, get (big, "sorted_ms"));
      series_add (&small_frame_cpu, get (small, "frame_cpu_ms"));
      series_add (&big_frame_cpu, get (big, "frame_cpu_ms"));
      series_add (&small_frame_wait, get (small, "frame_wait_ms"));
      series_add (&big_frame_wait, get (big, "frame_wait_ms"));
      series_add (&big_frame_items, get (big, "frame_items"));
      stall_series_add (&small_stall, small, "launch");
      stall_series_add (&big_stall, big, "launch");

      printf ("  launch round %d: first frame %.0f ms (0 records) / %.0f ms (%u); rows %.0f ms, "
              "sorted %.0f ms, longest stall %.1f ms (%.1f on a CPU, %.1f waiting for one)\n",
              round + 1, get (small, "first_frame_ms"), get (big, "first_frame_ms"), BIG_STORE,
              get (big, "rows_ms"), get (big, "sorted_ms"), get (big, "launch_wall_ms"),
              get (big, "launch_cpu_ms"), get (big, "launch_wait_ms"));
      fflush (stdout);
    }

  for (int round = 0; round < repeats; round++)
    for (guint r = 0; r < G_N_ELEMENTS (renderers); r++)
      {
        guint which = (r + round) % G_N_ELEMENTS (renderers);
        g_autoptr(GHashTable) values = run_child (self, "child-filter", BIG_STORE, renderers[which].name);

        filter_add (&filters[which], values);
        printf ("  filter round %d, %s: longest stall typing %.1f ms (%.1f on a CPU, %.1f waiting for "
                "one, longest CPU burst %.1f) at %s; idle %.1f ms; %u results %.0f ms after the last "
                "keystroke, all back %.0f ms after clearing\n",
                round + 1, renderers[which].label, get (values, "typing_wall_ms"),
                get (values, "typing_cpu_ms"), get (values, "typing_wait_ms"),
                get (values, "typing_burst_ms"), step_text ((guint) get (values, "worst_step")),
                get (values, "idle_wall_ms"), (guint) get (values, "narrowed_visible"),
                get (values, "narrowed_ms"), get (values, "cleared_ms"));
        fflush (stdout);
      }

  ratio = series_median (&frame_ratio);

  printf ("\nMedians of %d fresh processes, (min–max) beside. Launch times run from the start of the\n"
          "process's main() through g_application_run() to the frame clock's after-paint. A stall is\n"
          "the longest gap of a 1 ms high-priority timeout, split into time on a CPU and time ready\n"
          "but waiting for one (the machine's load; from /proc/thread-self/schedstat), the rest\n"
          "blocked; the longest CPU burst is the most main-thread CPU time in any one gap.\n\n", repeats);
  printf ("| # | measure | Tether | baseline (same run) | ratio | target | |\n");
  printf ("|---|---|---|---|---|---|---|\n");

  printf ("| 5 | launch to first frame, %u records | ", BIG_STORE);
  print_series (&big_frame, 0, " ms");
  printf (" | 0 records: ");
  print_series (&small_frame, 0, " ms");
  printf (" | ");
  print_series (&frame_ratio, 2, "");
  printf (" | ≤ %.1f | %s |\n", LAUNCH_TARGET_RATIO, verdict (ratio <= LAUNCH_TARGET_RATIO));

  printf ("| 5a | main thread until that frame: on a CPU / waiting for one | %.0f ms / %.0f ms "
          "(%.0f records in the list by then) | %.0f ms / %.0f ms | | | |\n",
          series_median (&big_frame_cpu), series_median (&big_frame_wait), series_median (&big_frame_items),
          series_median (&small_frame_cpu), series_median (&small_frame_wait));

  printf ("| 5b | launch until the list shows rows, %u records | ", BIG_STORE);
  print_series (&big_rows, 0, " ms");
  printf (" | first frame at 0 records: ");
  print_series (&small_frame, 0, " ms");
  printf (" | %.2f | (no target) | |\n", series_median (&big_rows) / series_median (&small_frame));

  printf ("| 5c | launch until the list is sorted and complete, %u records | ", BIG_STORE);
  print_series (&big_sorted, 0, " ms");
  printf (" | 0 records: ");
  print_series (&small_open, 0, " ms");
  printf (" | | (no target) | |\n");

  printf ("| 5d | longest main-loop stall from the first frame until sorted, %u records | ", BIG_STORE);
  print_stall_series (&big_stall);
  printf (" | 0 records: ");
  print_series (&small_stall.wall, 1, " ms");
  printf (" | | (no target) | |\n");

  for (guint r = 0; r < G_N_ELEMENTS (renderers); r++)
    {
      Filter *filter = &filters[r];
      double stall = series_median (&filter->typing.wall);
      double unloaded = stall - series_median (&filter->typing.wait);

      printf ("| 6%s | longest main-loop stall typing a filter over %u records, %s | ",
              r == 0 ? "" : "b", BIG_STORE, renderers[r].label);
      print_stall_series (&filter->typing);
      printf (" | same window idle for %d s: ", IDLE_PHASE_MS / 1000);
      print_stall_series (&filter->idle);
      printf (" | | ≤ %.0f ms | %s |\n", STALL_TARGET_MS,
              stall <= STALL_TARGET_MS ? "met" :
              unloaded <= STALL_TARGET_MS ? "NOT met (met less the wait for a CPU)" : "NOT met");
      printf ("| 6%s | results of “%s” (expected %u), after the last keystroke, %s | ",
              r == 0 ? "a" : "c", typed[NARROWED_STEP], EXPECTED_NARROWED, renderers[r].label);
      print_series (&filter->narrowed, 0, " ms");
      printf (", %.0f shown | all back after clearing: ", series_median (&filter->narrowed_visible));
      print_series (&filter->cleared, 0, " ms");
      printf (" | | (no target) | %s |\n",
              series_median (&filter->narrowed_visible) == EXPECTED_NARROWED ? "right results" : "WRONG results");
    }

  printf ("\nTyped one character every %d ms (", KEYSTROKE_MS);
  for (guint i = 0; i < G_N_ELEMENTS (typed); i++)
    printf ("%s%s", i > 0 ? ", " : "", step_text (i));
  printf ("), waiting for the results after %s and after clearing; the search entry applies\n"
          "a text after its 150 ms search-delay.\n", step_text (NARROWED_STEP));
  for (guint r = 0; r < G_N_ELEMENTS (renderers); r++)
    {
      printf ("%s: longest stall per step (median): ", renderers[r].label);
      for (guint i = 0; i < G_N_ELEMENTS (typed); i++)
        printf ("%s%s %.1f ms", i > 0 ? ", " : "", step_text (i), series_median (&filters[r].steps[i]));
      printf ("; the worst step was");
      for (guint i = 0; i < filters[r].worst_steps->len; i++)
        printf ("%s %s", i > 0 ? "," : "", step_text (g_array_index (filters[r].worst_steps, guint, i)));
      printf (".\n");
      g_clear_pointer (&filters[r].worst_steps, g_array_unref);
    }
  printf ("Store open (session open) with %u records: ", BIG_STORE);
  print_series (&big_open, 0, " ms");
  printf (" from launch.\n");

  if (child_warnings->len > 0)
    {
      printf ("\nWARNING: the application logged %u distinct warning(s) while measured:\n", child_warnings->len);
      for (guint i = 0; i < child_warnings->len; i++)
        printf ("  %s\n", (const char *) g_ptr_array_index (child_warnings, i));
    }
  g_clear_pointer (&child_warnings, g_ptr_array_unref);
  g_clear_pointer (&all_series, g_ptr_array_unref);

  return 0;
}
