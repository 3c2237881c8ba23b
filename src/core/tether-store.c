/* tether-store.c
 *
 * Copyright 2026 The Tether authors
 *
 * SPDX-License-Identifier: GPL-3.0-or-later
 */

/* The store keeps one server collection on disk as two JSON Lines files in
 * its directory:
 *
 *   snapshot.jsonl  {"format":"tether-store","version":1,
 *                    "journal":{"generation":G,"offset":N},"meta":{...}}
 *                   then one record line per record, as made by
 *                   tether_record_serialize()
 *   journal.jsonl   {"format":"tether-journal","version":1,"generation":G}
 *                   then, appended as they happen:
 *                     a record line        (the record's newest state)
 *                     {"remove":"CID"}     (the record is gone)
 *                     {"meta-changes":{"KEY":VALUE|null,...}}
 *                                          (meta keys set, or removed:
 *                                          null; older journals may hold
 *                                          {"meta":{...}}, the whole object)
 *   lock            flock()ed while open, with the holder's PID inside
 *
 * Loading reads the snapshot and lays the journal over it: the newest line
 * per cid wins. The snapshot header says which journal (by its generation,
 * a random id in the journal's header) it already contains, and up to which
 * byte offset; a journal of another generation is entirely newer than the
 * snapshot. That is what makes compaction crash-safe without ever stopping
 * appends: see compaction_collect().
 *
 * Snapshots and fresh journals are only ever written to a temporary file,
 * fsync'd, renamed over the old one, and the directory fsync'd, so each file
 * is always either the old or the new version, complete. The journal is
 * only appended to; a batch is acknowledged after its fsync.
 */

#include "config.h"

#include <errno.h>
#include <fcntl.h>
#include <string.h>
#include <sys/file.h>
#include <unistd.h>

#include <glib/gi18n-lib.h>
#include <gio/gfiledescriptorbased.h>

#include "tether-json-scan.h"
#include "tether-store.h"
#include "tether-store-private.h"

#define STORE_FORMAT        "tether-store"
#define JOURNAL_FORMAT      "tether-journal"
#define STORE_VERSION       1
#define SNAPSHOT_NAME       "snapshot.jsonl"
#define JOURNAL_NAME        "journal.jsonl"
#define LOCK_NAME           "lock"
#define REMOVE_PREFIX       "{\"remove\":"
#define META_PREFIX         "{\"meta\":"
#define META_CHANGES_PREFIX "{\"meta-changes\":"
#define WRITE_BUFFER_SIZE   (1024 * 1024)

/* The journal is folded into a new snapshot once it is larger than this
 * and larger than the snapshot: loading then never reads more than about
 * twice the live data, and compaction costs stay proportional to edits. */
#define COMPACT_MIN_JOURNAL_SIZE (4 * 1024 * 1024)

/* Main-loop time one callback may spend serialising for a compaction. */
#define COMPACT_SLICE_USEC 4000

typedef enum
{
  STORE_CLOSED,
  STORE_OPENING,
  STORE_OPEN,
} StoreState;

/* The journal as the writer sees it. Whoever runs the current I/O step
 * owns it: a worker thread while io_busy is set, the main thread
 * otherwise. */
typedef struct
{
  GFile             *file;
  GFileOutputStream *stream;          /* opened for append on first use */
  char              *generation;      /* NULL: no usable journal on disk yet */
  guint64            length;          /* everything before is whole lines */
  gboolean           needs_truncate;  /* the file may hold more than length */
} Journal;

/* A record's line is made when its batch is taken, on the main thread:
 * a record saved several times before then (by the sync, then by the
 * session for the same change) is serialised once. */
typedef struct
{
  char         *cid;
  GBytes       *line;
  TetherRecord *record;  /* to serialise, until the batch is taken */
} PendingEntry;

/* One group commit, handed to a worker. */
typedef struct
{
  Journal   *journal;
  GPtrArray *entries;    /* PendingEntry */
  JsonObject *meta_changes;
  GBytes    *meta_line;
  guint64    seq;
  int        fault;
  guint64    bytes;
} WriteBatch;

typedef struct
{
  GFile     *file;
  GBytes    *head;
  GPtrArray *lines;              /* GBytes, each written with a newline */
  GBytes    *tail;
  int        fault;
  guint64    bytes;
} FileJob;

typedef struct
{
  GPtrArray *waiters;            /* GTask */
  gboolean   collected;
  gboolean   waiting_for_swap;
  char      *journal_generation; /* at the collection point, or NULL */
  guint64    journal_offset;
  GPtrArray *records;            /* fixed at the collection point */
  guint      next;               /* the next of them to serialise */
  FileJob   *job;                /* the snapshot being gathered */
  GSource   *source;
} Compaction;

typedef struct
{
  Journal *journal;
  guint64  offset;
  int      fault;
  guint64  bytes;
} SwapJob;

/* Shared by the loading thread and the main thread (atomic refcount). */
typedef struct
{
  GFile        *directory;
  GFile        *snapshot_file;
  GFile        *journal_file;
  GMainContext *context;         /* where batches are delivered */
  GCancellable *cancellable;
  int           fault;

  /* Main thread only */
  GTask        *task;

  GMutex        mutex;
  GQueue        batches;         /* GPtrArray of records, under mutex */
  gboolean      delivering;      /* an idle source is attached, under mutex */
  gboolean      done;            /* the worker pushed its last batch */

  /* Written by the worker before done is set */
  GError       *error;           /* the open failed */
  GError       *damage;          /* the open worked but some data was lost */
  JsonObject   *meta;
  Journal      *journal;
  guint64       snapshot_size;
  guint64       bytes_written;
} Loader;

struct _TetherStore
{
  GObject           parent_instance;

  GFile            *directory;
  GFile            *snapshot_file;
  GFile            *journal_file;

  StoreState        state;
  GMainContext     *context;
  TetherCollection *collection;
  GFileIOStream    *lock_stream;

  Loader           *loader;
  GCancellable     *open_cancellable;

  JsonObject       *meta;

  /* What waits to be written: the newest line per cid, in the order each
   * cid was first queued, plus the meta keys changed since the last write
   * (a removed key is null). */
  GPtrArray        *pending;
  GHashTable       *pending_by_cid;
  JsonObject       *meta_changes;
  guint64           queued_seq;
  guint64           written_seq;
  GQueue            flush_waiters;
  GSource          *write_source;
  gboolean          write_requested;

  Journal          *journal;
  gboolean          io_busy;

  Compaction       *compaction;
  GPtrArray        *compact_next;
  guint64           snapshot_size;
  gboolean          closing;

  GError           *write_error;
  guint64           bytes_written;
  guint             n_commits;
  int               write_fault;
};

G_DEFINE_FINAL_TYPE (TetherStore, tether_store, G_TYPE_OBJECT)

G_DEFINE_QUARK (tether-store-error-quark, tether_store_error)

enum {
  PROP_0,
  PROP_DIRECTORY,
  N_PROPS
};

static GParamSpec *properties[N_PROPS];

static void io_kick             (TetherStore *self);
static void start_compaction    (TetherStore *self,
                                 GTask       *task);

/* Plumbing */

static void
journal_free (Journal *journal)
{
  if (journal->stream != NULL)
    g_output_stream_close (G_OUTPUT_STREAM (journal->stream), NULL, NULL);
  g_clear_object (&journal->stream);
  g_clear_object (&journal->file);
  g_clear_pointer (&journal->generation, g_free);
  g_free (journal);
}

static void
pending_entry_free (PendingEntry *entry)
{
  if (entry == NULL)
    return;

  g_free (entry->cid);
  g_clear_pointer (&entry->line, g_bytes_unref);
  g_clear_object (&entry->record);
  g_free (entry);
}

static void
write_batch_free (WriteBatch *batch)
{
  g_clear_pointer (&batch->entries, g_ptr_array_unref);
  g_clear_pointer (&batch->meta_line, g_bytes_unref);
  g_clear_pointer (&batch->meta_changes, json_object_unref);
  g_free (batch);
}

static void
file_job_free (FileJob *job)
{
  g_clear_object (&job->file);
  g_clear_pointer (&job->head, g_bytes_unref);
  g_clear_pointer (&job->lines, g_ptr_array_unref);
  g_clear_pointer (&job->tail, g_bytes_unref);
  g_free (job);
}

static void
compaction_free (Compaction *compaction)
{
  g_assert (compaction->source == NULL);
  g_clear_pointer (&compaction->waiters, g_ptr_array_unref);
  g_clear_pointer (&compaction->journal_generation, g_free);
  /* The serialising slices dropped the records they took. */
  for (guint i = 0; compaction->records != NULL && i < compaction->records->len; i++)
    g_clear_object ((TetherRecord **) &compaction->records->pdata[i]);
  g_clear_pointer (&compaction->records, g_ptr_array_unref);
  g_clear_pointer (&compaction->job, file_job_free);
  g_free (compaction);
}

static void
loader_clear (Loader *loader)
{
  g_clear_object (&loader->directory);
  g_clear_object (&loader->snapshot_file);
  g_clear_object (&loader->journal_file);
  g_clear_pointer (&loader->context, g_main_context_unref);
  g_clear_object (&loader->cancellable);
  g_clear_object (&loader->task);
  g_queue_clear_full (&loader->batches, (GDestroyNotify) g_ptr_array_unref);
  g_mutex_clear (&loader->mutex);
  g_clear_error (&loader->error);
  g_clear_error (&loader->damage);
  g_clear_pointer (&loader->meta, json_object_unref);
  g_clear_pointer (&loader->journal, journal_free);
}

static void
loader_unref (Loader *loader)
{
  g_atomic_rc_box_release_full (loader, (GDestroyNotify) loader_clear);
}

static const char *
file_path (GFile *file)
{
  return g_file_peek_path (file);
}

static void
set_io_error (GError       **error,
              GFile         *file,
              gboolean       writing,
              const GError  *cause)
{
  /* A cancellation is not a failure to tell users about. */
  if (g_error_matches (cause, G_IO_ERROR, G_IO_ERROR_CANCELLED))
    g_set_error_literal (error, cause->domain, cause->code, cause->message);
  else if (writing)
    g_set_error (error, TETHER_STORE_ERROR, TETHER_STORE_ERROR_IO,
                 _("Could not write to “%s”: %s"),
                 file_path (file), cause->message);
  else
    g_set_error (error, TETHER_STORE_ERROR, TETHER_STORE_ERROR_IO,
                 _("Could not read “%s”: %s"),
                 file_path (file), cause->message);
}

static gboolean
set_errno_error (GError     **error,
                 int          errsv,
                 const char  *what)
{
  g_set_error (error, G_IO_ERROR, g_io_error_from_errno (errsv),
               "%s: %s", what, g_strerror (errsv));
  return FALSE;
}

static void
set_cloexec (GObject *stream)
{
  int fd;

  /* GIO does not open with O_CLOEXEC; a program spawned by the app must
   * not inherit the lock (it would keep the store locked after we close)
   * nor the journal. */
  if (!G_IS_FILE_DESCRIPTOR_BASED (stream))
    return;

  fd = g_file_descriptor_based_get_fd (G_FILE_DESCRIPTOR_BASED (stream));
  fcntl (fd, F_SETFD, fcntl (fd, F_GETFD) | FD_CLOEXEC);
}

static gboolean
fsync_stream (GOutputStream  *stream,
              GError        **error)
{
  int fd;

  if (!G_IS_FILE_DESCRIPTOR_BASED (stream))
    {
      g_set_error_literal (error, G_IO_ERROR, G_IO_ERROR_NOT_SUPPORTED,
                           _("The file system cannot make writes durable"));
      return FALSE;
    }

  fd = g_file_descriptor_based_get_fd (G_FILE_DESCRIPTOR_BASED (stream));

  while (fsync (fd) != 0)
    {
      if (errno != EINTR)
        return set_errno_error (error, errno, _("Error syncing file"));
    }

  return TRUE;
}

/* After a rename the new directory entry is only durable once the
 * directory itself is synced; GIO has no call for that. */
static gboolean
fsync_directory (GFile   *directory,
                 GError **error)
{
  int fd;
  int res;

  fd = open (file_path (directory), O_RDONLY | O_DIRECTORY | O_CLOEXEC);
  if (fd < 0)
    return set_errno_error (error, errno, _("Error opening directory"));

  while ((res = fsync (fd)) != 0 && errno == EINTR)
    ;

  /* Some file systems cannot sync a directory at all (EINVAL): their
   * renames are as durable as they get. */
  if (res != 0 && errno != EINVAL)
    {
      int errsv = errno;

      close (fd);
      return set_errno_error (error, errsv, _("Error syncing directory"));
    }

  close (fd);

  return TRUE;
}

/* The test fault: behaves like the kernel refusing a write with @fault
 * once half of @data went through. */
static gboolean
write_all (GOutputStream  *stream,
           const void     *data,
           gsize           length,
           int             fault,
           GError        **error)
{
  if G_UNLIKELY (fault != 0)
    {
      g_output_stream_write_all (stream, data, length / 2, NULL, NULL, NULL);
      return set_errno_error (error, fault, _("Error writing to file"));
    }

  return g_output_stream_write_all (stream, data, length, NULL, NULL, error);
}

/* Reads a whole file in one allocation sized from its length. Returns
 * %NULL without error when it does not exist. */
static GBytes *
load_file (GFile         *file,
           GCancellable  *cancellable,
           GError       **error)
{
  g_autoptr(GFileInputStream) stream = NULL;
  g_autoptr(GFileInfo) info = NULL;
  g_autoptr(GError) local_error = NULL;
  g_autofree guint8 *data = NULL;
  gsize capacity;
  gsize length = 0;

  stream = g_file_read (file, cancellable, &local_error);
  if (stream == NULL)
    {
      if (g_error_matches (local_error, G_IO_ERROR, G_IO_ERROR_NOT_FOUND))
        return NULL;
      set_io_error (error, file, FALSE, local_error);
      return NULL;
    }

  info = g_file_input_stream_query_info (stream, G_FILE_ATTRIBUTE_STANDARD_SIZE,
                                         cancellable, &local_error);
  if (info == NULL)
    {
      set_io_error (error, file, FALSE, local_error);
      return NULL;
    }

  /* One byte more than the size, so that reaching the end of a file that
   * did not grow needs no second allocation. */
  capacity = MAX (g_file_info_get_size (info), 0) + 1;
  data = g_malloc (capacity);

  for (;;)
    {
      gsize n_read;

      if (length == capacity)
        {
          capacity *= 2;
          data = g_realloc (data, capacity);
        }

      if (!g_input_stream_read_all (G_INPUT_STREAM (stream),
                                    data + length, capacity - length,
                                    &n_read, cancellable, &local_error))
        {
          set_io_error (error, file, FALSE, local_error);
          return NULL;
        }

      length += n_read;

      if (length < capacity)
        break;
    }

  return g_bytes_new_take (g_steal_pointer (&data), length);
}

/* Writes @job's content to FILE.tmp, syncs it, renames it over FILE and
 * syncs the directory: FILE is at every instant either its old or its new
 * content, complete. */
static gboolean
replace_file (FileJob  *job,
              GError  **error)
{
  g_autoptr(GFile) parent = g_file_get_parent (job->file);
  g_autofree char *tmp_name = NULL;
  g_autoptr(GFile) tmp = NULL;
  g_autoptr(GFileOutputStream) stream = NULL;
  g_autoptr(GOutputStream) buffered = NULL;
  g_autoptr(GError) local_error = NULL;
  guint64 bytes = 0;

  tmp_name = g_strconcat (file_path (job->file), ".tmp", NULL);
  tmp = g_file_new_for_path (tmp_name);

  /* A leftover from a crash; it was never renamed, so it holds nothing. */
  g_file_delete (tmp, NULL, NULL);

  stream = g_file_create (tmp, G_FILE_CREATE_PRIVATE, NULL, &local_error);
  if (stream == NULL)
    goto failed;

  buffered = g_buffered_output_stream_new_sized (G_OUTPUT_STREAM (stream), WRITE_BUFFER_SIZE);
  g_filter_output_stream_set_close_base_stream (G_FILTER_OUTPUT_STREAM (buffered), FALSE);

  if (job->head != NULL)
    {
      if (!write_all (buffered,
                      g_bytes_get_data (job->head, NULL), g_bytes_get_size (job->head),
                      job->fault, &local_error))
        goto failed;
      bytes += g_bytes_get_size (job->head);
    }

  for (guint i = 0; job->lines != NULL && i < job->lines->len; i++)
    {
      GBytes *line = g_ptr_array_index (job->lines, i);
      gsize size;
      gconstpointer data = g_bytes_get_data (line, &size);

      if (!g_output_stream_write_all (buffered, data, size, NULL, NULL, &local_error) ||
          !g_output_stream_write_all (buffered, "\n", 1, NULL, NULL, &local_error))
        goto failed;
      bytes += size + 1;
    }

  if (job->tail != NULL)
    {
      if (!g_output_stream_write_all (buffered,
                                      g_bytes_get_data (job->tail, NULL),
                                      g_bytes_get_size (job->tail),
                                      NULL, NULL, &local_error))
        goto failed;
      bytes += g_bytes_get_size (job->tail);
    }

  if (!g_output_stream_flush (buffered, NULL, &local_error) ||
      !fsync_stream (G_OUTPUT_STREAM (stream), &local_error) ||
      !g_output_stream_close (G_OUTPUT_STREAM (stream), NULL, &local_error))
    goto failed;

  if (!g_file_move (tmp, job->file,
                    G_FILE_COPY_OVERWRITE | G_FILE_COPY_NO_FALLBACK_FOR_MOVE,
                    NULL, NULL, NULL, &local_error))
    goto failed;

  job->bytes += bytes;

  if (!fsync_directory (parent, &local_error))
    {
      set_io_error (error, parent, TRUE, local_error);
      return FALSE;
    }

  return TRUE;

failed:
  if (buffered != NULL)
    g_output_stream_clear_pending (buffered);
  if (stream != NULL)
    g_output_stream_close (G_OUTPUT_STREAM (stream), NULL, NULL);
  g_file_delete (tmp, NULL, NULL);
  set_io_error (error, job->file, TRUE, local_error);
  return FALSE;
}

static GBytes *
bytes_from_node (JsonNode   *node,
                 const char *suffix)
{
  g_autofree char *text = json_to_string (node, FALSE);
  char *line = g_strconcat (text, suffix, NULL);

  return g_bytes_new_take (line, strlen (line));
}

static JsonNode *
node_for_object (JsonObject *object)
{
  JsonNode *node = json_node_alloc ();

  json_node_init_object (node, object);

  return node;
}

/* {"format":"tether-journal","version":1,"generation":G} and a newline */
static GBytes *
journal_header (const char *generation)
{
  g_autoptr(JsonBuilder) builder = json_builder_new_immutable ();
  g_autoptr(JsonNode) root = NULL;

  json_builder_begin_object (builder);
  json_builder_set_member_name (builder, "format");
  json_builder_add_string_value (builder, JOURNAL_FORMAT);
  json_builder_set_member_name (builder, "version");
  json_builder_add_int_value (builder, STORE_VERSION);
  json_builder_set_member_name (builder, "generation");
  json_builder_add_string_value (builder, generation);
  json_builder_end_object (builder);
  root = json_builder_get_root (builder);

  return bytes_from_node (root, "\n");
}

/* {"format":"tether-store","version":1,"journal":{...},"meta":{...}} and a
 * newline; "journal" names the journal content already folded in. */
static GBytes *
snapshot_header (JsonObject *meta,
                 const char *journal_generation,
                 guint64     journal_offset)
{
  g_autoptr(JsonBuilder) builder = json_builder_new_immutable ();
  g_autoptr(JsonNode) root = NULL;

  json_builder_begin_object (builder);
  json_builder_set_member_name (builder, "format");
  json_builder_add_string_value (builder, STORE_FORMAT);
  json_builder_set_member_name (builder, "version");
  json_builder_add_int_value (builder, STORE_VERSION);
  if (journal_generation != NULL)
    {
      json_builder_set_member_name (builder, "journal");
      json_builder_begin_object (builder);
      json_builder_set_member_name (builder, "generation");
      json_builder_add_string_value (builder, journal_generation);
      json_builder_set_member_name (builder, "offset");
      json_builder_add_int_value (builder, journal_offset);
      json_builder_end_object (builder);
    }
  json_builder_set_member_name (builder, "meta");
  json_builder_add_value (builder, node_for_object (meta));
  json_builder_end_object (builder);
  root = json_builder_get_root (builder);

  return bytes_from_node (root, "\n");
}

static GBytes *
removal_line (const char *cid)
{
  g_autoptr(JsonBuilder) builder = json_builder_new_immutable ();
  g_autoptr(JsonNode) root = NULL;

  json_builder_begin_object (builder);
  json_builder_set_member_name (builder, "remove");
  json_builder_add_string_value (builder, cid);
  json_builder_end_object (builder);
  root = json_builder_get_root (builder);

  return bytes_from_node (root, "");
}

/* The meta keys changed since the last write: one short line however much
 * meta the store keeps (a pull keeps a key per page). */
static GBytes *
meta_changes_line (JsonObject *changes)
{
  g_autoptr(JsonBuilder) builder = json_builder_new_immutable ();
  g_autoptr(JsonNode) root = NULL;

  json_builder_begin_object (builder);
  json_builder_set_member_name (builder, "meta-changes");
  json_builder_add_value (builder, node_for_object (changes));
  json_builder_end_object (builder);
  root = json_builder_get_root (builder);

  return bytes_from_node (root, "");
}

/* Journal writing (worker threads, or the main thread while no worker
 * runs) */

static gboolean
journal_prepare (Journal  *journal,
                 int       fault,
                 guint64  *bytes,
                 GError  **error)
{
  g_autoptr(GError) local_error = NULL;

  if (journal->generation == NULL)
    {
      g_autofree char *generation = g_uuid_string_random ();
      FileJob job = { 0 };

      /* There is no journal with a header we wrote: start one, atomically,
       * so that no crash leaves a journal without its header. */
      job.file = journal->file;
      job.head = journal_header (generation);
      job.fault = fault;

      if (journal->stream != NULL)
        g_output_stream_close (G_OUTPUT_STREAM (journal->stream), NULL, NULL);
      g_clear_object (&journal->stream);

      if (!replace_file (&job, error))
        {
          g_bytes_unref (job.head);
          return FALSE;
        }

      *bytes += job.bytes;
      journal->generation = g_steal_pointer (&generation);
      journal->length = g_bytes_get_size (job.head);
      journal->needs_truncate = FALSE;
      g_bytes_unref (job.head);
    }

  if (journal->stream == NULL)
    {
      journal->stream = g_file_append_to (journal->file, G_FILE_CREATE_PRIVATE,
                                          NULL, &local_error);
      if (journal->stream == NULL)
        {
          set_io_error (error, journal->file, TRUE, local_error);
          return FALSE;
        }

      set_cloexec (G_OBJECT (journal->stream));
    }

  /* A torn last line from a crash, or the remains of a failed append:
   * never acknowledged, so cut them off before the next line goes in. */
  if (journal->needs_truncate)
    {
      if (!g_seekable_truncate (G_SEEKABLE (journal->stream), journal->length,
                                NULL, &local_error))
        {
          set_io_error (error, journal->file, TRUE, local_error);
          return FALSE;
        }

      journal->needs_truncate = FALSE;
    }

  return TRUE;
}

static gboolean
write_batch_run (WriteBatch  *batch,
                 GError     **error)
{
  Journal *journal = batch->journal;
  g_autoptr(GByteArray) buffer = NULL;
  g_autoptr(GError) local_error = NULL;
  gsize size = 0;

  if (!journal_prepare (journal, batch->fault, &batch->bytes, error))
    return FALSE;

  for (guint i = 0; i < batch->entries->len; i++)
    size += g_bytes_get_size (((PendingEntry *) g_ptr_array_index (batch->entries, i))->line) + 1;
  if (batch->meta_line != NULL)
    size += g_bytes_get_size (batch->meta_line) + 1;

  /* One buffer, so the batch is one write() and, with the fsync, one
   * commit however many records it holds. */
  buffer = g_byte_array_sized_new (size);
  for (guint i = 0; i < batch->entries->len; i++)
    {
      PendingEntry *entry = g_ptr_array_index (batch->entries, i);
      gsize line_size;
      const guint8 *data = g_bytes_get_data (entry->line, &line_size);

      g_byte_array_append (buffer, data, line_size);
      g_byte_array_append (buffer, (const guint8 *) "\n", 1);
    }
  if (batch->meta_line != NULL)
    {
      gsize line_size;
      const guint8 *data = g_bytes_get_data (batch->meta_line, &line_size);

      g_byte_array_append (buffer, data, line_size);
      g_byte_array_append (buffer, (const guint8 *) "\n", 1);
    }

  if (!write_all (G_OUTPUT_STREAM (journal->stream), buffer->data, buffer->len,
                  batch->fault, &local_error) ||
      !fsync_stream (G_OUTPUT_STREAM (journal->stream), &local_error))
    {
      /* Part of the batch may have reached the file. Cut it off again so
       * that the next append starts on a fresh line and a later load does
       * not take the remains for damage; if even that fails, the next
       * append tries again before it writes anything. */
      if (!g_seekable_truncate (G_SEEKABLE (journal->stream), journal->length, NULL, NULL))
        {
          g_output_stream_close (G_OUTPUT_STREAM (journal->stream), NULL, NULL);
          g_clear_object (&journal->stream);
          journal->needs_truncate = TRUE;
        }

      set_io_error (error, journal->file, TRUE, local_error);
      return FALSE;
    }

  journal->length += buffer->len;
  batch->bytes += buffer->len;

  return TRUE;
}

static void
write_batch_worker (GTask        *task,
                    gpointer      source_object,
                    gpointer      task_data,
                    GCancellable *cancellable)
{
  GError *error = NULL;

  if (write_batch_run (task_data, &error))
    g_task_return_boolean (task, TRUE);
  else
    g_task_return_error (task, error);
}

/* The journal swap of a compaction: the new journal holds a fresh header
 * and the tail written after the collection point. */
static gboolean
swap_run (SwapJob  *swap,
          GError  **error)
{
  Journal *journal = swap->journal;
  g_autoptr(GFileInputStream) input = NULL;
  g_autoptr(GError) local_error = NULL;
  g_autofree char *generation = g_uuid_string_random ();
  g_autofree guint8 *tail = NULL;
  gsize tail_size = journal->length - swap->offset;
  gsize n_read = 0;
  FileJob job = { 0 };
  gboolean ret;

  tail = g_malloc (MAX (tail_size, 1));

  input = g_file_read (journal->file, NULL, &local_error);
  if (input == NULL ||
      !g_seekable_seek (G_SEEKABLE (input), swap->offset, G_SEEK_SET, NULL, &local_error) ||
      !g_input_stream_read_all (G_INPUT_STREAM (input), tail, tail_size, &n_read,
                                NULL, &local_error))
    {
      set_io_error (error, journal->file, FALSE, local_error);
      return FALSE;
    }

  if (n_read != tail_size)
    {
      g_set_error (error, TETHER_STORE_ERROR, TETHER_STORE_ERROR_IO,
                   _("Could not read “%s”: the file is shorter than written"),
                   file_path (journal->file));
      return FALSE;
    }

  job.file = journal->file;
  job.head = journal_header (generation);
  job.tail = g_bytes_new_take (g_steal_pointer (&tail), tail_size);
  job.fault = swap->fault;

  ret = replace_file (&job, error);
  swap->bytes += job.bytes;

  if (ret)
    {
      /* Our append stream still points at the replaced file. */
      if (journal->stream != NULL)
        g_output_stream_close (G_OUTPUT_STREAM (journal->stream), NULL, NULL);
      g_clear_object (&journal->stream);
      g_free (journal->generation);
      journal->generation = g_steal_pointer (&generation);
      journal->length = g_bytes_get_size (job.head) + tail_size;
      journal->needs_truncate = FALSE;
    }

  g_bytes_unref (job.head);
  g_bytes_unref (job.tail);

  return ret;
}

static void
swap_worker (GTask        *task,
             gpointer      source_object,
             gpointer      task_data,
             GCancellable *cancellable)
{
  GError *error = NULL;

  if (swap_run (task_data, &error))
    g_task_return_boolean (task, TRUE);
  else
    g_task_return_error (task, error);
}

static void
file_job_worker (GTask        *task,
                 gpointer      source_object,
                 gpointer      task_data,
                 GCancellable *cancellable)
{
  GError *error = NULL;

  if (replace_file (task_data, &error))
    g_task_return_boolean (task, TRUE);
  else
    g_task_return_error (task, error);
}

/* The write queue (main thread) */

/* A task for one of our own I/O steps. It has no source object: the
 * thread pool lets go of a task only after its callback ran, and the store
 * must not live on in it after close(). The callback owns the reference
 * on the store passed as its data. */
static GTask *
internal_task_new (TetherStore         *self,
                   GAsyncReadyCallback  callback)
{
  return g_task_new (NULL, NULL, callback, g_object_ref (self));
}

static gboolean
has_pending (TetherStore *self)
{
  return self->pending->len > 0 || self->meta_changes != NULL;
}

static void
fail_waiters (TetherStore  *self,
              const GError *error)
{
  GTask *task;

  while ((task = g_queue_pop_head (&self->flush_waiters)))
    {
      g_task_return_error (task, g_error_copy (error));
      g_object_unref (task);
    }
}

static void
complete_waiters (TetherStore *self)
{
  GList *link = self->flush_waiters.head;

  while (link != NULL)
    {
      GList *next = link->next;
      GTask *task = link->data;
      guint64 target = *(guint64 *) g_task_get_task_data (task);

      if (target <= self->written_seq)
        {
          g_queue_delete_link (&self->flush_waiters, link);
          g_task_return_boolean (task, TRUE);
          g_object_unref (task);
        }

      link = next;
    }
}

/* Queues @line, or @record to serialise when the batch is taken. */
static void
queue_entry (TetherStore  *self,
             const char   *cid,
             GBytes       *line,
             TetherRecord *record)
{
  PendingEntry *entry = g_hash_table_lookup (self->pending_by_cid, cid);

  /* A later state of the same record replaces the queued one: only the
   * newest state needs to reach the disk. */
  if (entry != NULL)
    {
      g_clear_pointer (&entry->line, g_bytes_unref);
      g_clear_object (&entry->record);
    }
  else
    {
      entry = g_new0 (PendingEntry, 1);
      entry->cid = g_strdup (cid);
      g_ptr_array_add (self->pending, entry);
      g_hash_table_insert (self->pending_by_cid, entry->cid, entry);
    }

  entry->line = line;
  entry->record = record != NULL ? g_object_ref (record) : NULL;
  self->queued_seq++;
}

/* Our sources live on the store's context, which g_source_remove() does
 * not search unless it is the default one. */
static void
clear_write_source (TetherStore *self)
{
  if (self->write_source != NULL)
    g_source_destroy (self->write_source);
  g_clear_pointer (&self->write_source, g_source_unref);
}

static gboolean
write_source_cb (gpointer data)
{
  TetherStore *self = data;

  g_clear_pointer (&self->write_source, g_source_unref);
  io_kick (self);

  return G_SOURCE_REMOVE;
}

/* Everything queued until the idle runs goes out as one batch: saves made
 * in one main-loop iteration share one write and one fsync, and saves made
 * while a batch is in flight gather for the next one. */
static void
schedule_write (TetherStore *self)
{
  self->write_requested = TRUE;

  if (self->state != STORE_OPEN || self->io_busy || self->write_source != NULL)
    return;

  {
    GSource *source = g_idle_source_new ();

    g_source_set_priority (source, G_PRIORITY_DEFAULT);
    g_source_set_callback (source, write_source_cb, self, NULL);
    g_source_set_static_name (source, "[tether-store] write");
    g_source_attach (source, self->context);
    self->write_source = source;
  }
}

static WriteBatch *
take_batch (TetherStore *self)
{
  WriteBatch *batch = g_new0 (WriteBatch, 1);

  batch->journal = self->journal;
  batch->entries = g_steal_pointer (&self->pending);
  for (guint i = 0; i < batch->entries->len; i++)
    {
      PendingEntry *entry = g_ptr_array_index (batch->entries, i);

      if (entry->record != NULL)
        {
          entry->line = tether_record_serialize (entry->record);
          g_clear_object (&entry->record);
        }
    }
  batch->seq = self->queued_seq;
  batch->fault = self->write_fault;
  if (self->meta_changes != NULL)
    {
      batch->meta_changes = g_steal_pointer (&self->meta_changes);
      batch->meta_line = meta_changes_line (batch->meta_changes);
    }

  self->pending = g_ptr_array_new_with_free_func ((GDestroyNotify) pending_entry_free);
  g_hash_table_remove_all (self->pending_by_cid);
  self->write_requested = FALSE;

  return batch;
}

static void
batch_completed (TetherStore  *self,
                 WriteBatch   *batch,
                 const GError *error)
{
  self->bytes_written += batch->bytes;

  if (error == NULL)
    {
      self->n_commits++;
      self->written_seq = batch->seq;
      g_clear_error (&self->write_error);

      if (self->compaction == NULL && !self->closing &&
          self->journal->length > MAX (COMPACT_MIN_JOURNAL_SIZE, self->snapshot_size))
        start_compaction (self, NULL);

      /* Last: a waiter's callback may close the store. */
      complete_waiters (self);
      return;
    }

  g_debug ("Write to %s failed: %s", file_path (self->directory), error->message);

  /* Nothing is lost: the entries go back in the queue, unless a newer
   * state of the same record was queued meanwhile, and are written by the
   * next flush. */
  for (guint i = 0; i < batch->entries->len; i++)
    {
      PendingEntry *entry = g_ptr_array_index (batch->entries, i);

      if (!g_hash_table_contains (self->pending_by_cid, entry->cid))
        {
          g_ptr_array_add (self->pending, entry);
          g_hash_table_insert (self->pending_by_cid, entry->cid, entry);
          batch->entries->pdata[i] = NULL;
        }
    }
  if (batch->meta_changes != NULL)
    {
      JsonObjectIter iter;
      const char *key;
      JsonNode *value;

      if (self->meta_changes == NULL)
        self->meta_changes = json_object_new ();
      json_object_iter_init (&iter, batch->meta_changes);
      while (json_object_iter_next (&iter, &key, &value))
        if (!json_object_has_member (self->meta_changes, key))
          json_object_set_member (self->meta_changes, key, json_node_copy (value));
    }

  g_clear_error (&self->write_error);
  self->write_error = g_error_copy (error);

  /* Every waiter needs the failed entries, so every waiter fails. */
  fail_waiters (self, error);
}

static void
write_batch_done_cb (GObject      *object,
                     GAsyncResult *result,
                     gpointer      user_data)
{
  g_autoptr(TetherStore) self = user_data;
  WriteBatch *batch = g_task_get_task_data (G_TASK (result));
  g_autoptr(GError) error = NULL;

  self->io_busy = FALSE;

  g_task_propagate_boolean (G_TASK (result), &error);
  batch_completed (self, batch, error);

  io_kick (self);
}

static void
start_batch (TetherStore *self)
{
  g_autoptr(GTask) task = NULL;

  g_assert (!self->io_busy);

  task = internal_task_new (self, write_batch_done_cb);
  g_task_set_source_tag (task, start_batch);
  g_task_set_name (task, "[tether-store] append");
  g_task_set_task_data (task, take_batch (self), (GDestroyNotify) write_batch_free);

  self->io_busy = TRUE;
  g_task_run_in_thread (task, write_batch_worker);
}

/* For close() and the blocking flush: writes the queue on this thread. */
static gboolean
write_pending_now (TetherStore  *self,
                   GError      **error)
{
  WriteBatch *batch;
  g_autoptr(GError) local_error = NULL;

  g_assert (!self->io_busy);

  if (!has_pending (self))
    return TRUE;

  clear_write_source (self);

  batch = take_batch (self);
  write_batch_run (batch, &local_error);
  batch_completed (self, batch, local_error);
  write_batch_free (batch);

  if (local_error != NULL)
    {
      g_propagate_error (error, g_steal_pointer (&local_error));
      return FALSE;
    }

  return TRUE;
}

/* Compaction (main thread steps) */

static void
compaction_complete (TetherStore  *self,
                     const GError *error)
{
  Compaction *compaction = g_steal_pointer (&self->compaction);

  if (error != NULL)
    g_debug ("Compaction of %s failed: %s", file_path (self->directory), error->message);

  for (guint i = 0; i < compaction->waiters->len; i++)
    {
      GTask *task = g_ptr_array_index (compaction->waiters, i);

      if (error != NULL)
        g_task_return_error (task, g_error_copy (error));
      else
        g_task_return_boolean (task, TRUE);
    }

  compaction_free (compaction);

  /* compact_async() calls made after our collection point want a newer
   * snapshot than this one. */
  if (self->compact_next->len > 0 && self->state == STORE_OPEN)
    {
      g_autoptr(GPtrArray) next = g_steal_pointer (&self->compact_next);

      self->compact_next = g_ptr_array_new_with_free_func (g_object_unref);
      start_compaction (self, NULL);
      g_ptr_array_extend_and_steal (self->compaction->waiters, g_steal_pointer (&next));
    }
}

static void
swap_done_cb (GObject      *object,
              GAsyncResult *result,
              gpointer      user_data)
{
  g_autoptr(TetherStore) self = user_data;
  SwapJob *swap = g_task_get_task_data (G_TASK (result));
  g_autoptr(GError) error = NULL;

  self->io_busy = FALSE;
  self->bytes_written += swap->bytes;

  /* A failed swap leaves a consistent store: the new snapshot names the
   * old journal and the offset it already holds, and appends go on there. */
  g_task_propagate_boolean (G_TASK (result), &error);
  compaction_complete (self, error);

  io_kick (self);
}

static void
start_swap (TetherStore *self)
{
  g_autoptr(GTask) task = NULL;
  SwapJob *swap;

  g_assert (!self->io_busy);

  self->compaction->waiting_for_swap = FALSE;

  swap = g_new0 (SwapJob, 1);
  swap->journal = self->journal;
  swap->offset = self->compaction->journal_offset;
  swap->fault = self->write_fault;

  task = internal_task_new (self, swap_done_cb);
  g_task_set_source_tag (task, start_swap);
  g_task_set_name (task, "[tether-store] swap journal");
  g_task_set_task_data (task, swap, g_free);

  self->io_busy = TRUE;
  g_task_run_in_thread (task, swap_worker);
}

static void
snapshot_done_cb (GObject      *object,
                  GAsyncResult *result,
                  gpointer      user_data)
{
  g_autoptr(TetherStore) self = user_data;
  FileJob *job = g_task_get_task_data (G_TASK (result));
  g_autoptr(GError) error = NULL;

  self->bytes_written += job->bytes;

  if (!g_task_propagate_boolean (G_TASK (result), &error))
    {
      compaction_complete (self, error);
      return;
    }

  self->snapshot_size = job->bytes;

  /* Without a journal at the collection point, whatever journal exists now
   * is newer than the snapshot as a whole, and is kept as it is. */
  if (self->compaction->journal_generation == NULL)
    {
      compaction_complete (self, NULL);
      return;
    }

  self->compaction->waiting_for_swap = TRUE;
  io_kick (self);
}

static void
start_snapshot (TetherStore *self)
{
  Compaction *compaction = self->compaction;
  g_autoptr(GTask) task = NULL;

  g_debug ("Writing a snapshot of %u records", compaction->job->lines->len);

  task = internal_task_new (self, snapshot_done_cb);
  g_task_set_source_tag (task, start_snapshot);
  g_task_set_name (task, "[tether-store] write snapshot");
  g_task_set_task_data (task, g_steal_pointer (&compaction->job), (GDestroyNotify) file_job_free);
  g_task_run_in_thread (task, file_job_worker);
}

/* Serialising is cheap for records nobody touched (their line as it was
 * read), but 100 000 of them still take longer than a frame: take them
 * in slices of a few milliseconds each. */
static gboolean
serialize_slice_cb (gpointer data)
{
  TetherStore *self = data;
  Compaction *compaction = self->compaction;
  gint64 deadline = g_get_monotonic_time () + COMPACT_SLICE_USEC;

  while (compaction->next < compaction->records->len)
    {
      guint end = MIN (compaction->next + 256, compaction->records->len);

      /* Each reference goes with its slice: dropping 100 000 at the end
       * would be a stall of its own. */
      for (; compaction->next < end; compaction->next++)
        {
          TetherRecord *record = g_steal_pointer (&compaction->records->pdata[compaction->next]);

          g_ptr_array_add (compaction->job->lines, tether_record_serialize (record));
          g_object_unref (record);
        }

      if (g_get_monotonic_time () >= deadline)
        return G_SOURCE_CONTINUE;
    }

  g_clear_pointer (&compaction->source, g_source_unref);
  g_clear_pointer (&compaction->records, g_ptr_array_unref);
  start_snapshot (self);

  return G_SOURCE_REMOVE;
}

/* The collection point of a compaction. It runs on the main thread while
 * no append is in flight, so the journal length J is exact: every line
 * before J was written before this instant, every line after it later.
 * The new snapshot holds the records of the collection as it is now, each
 * in its state now or (serialised a few slices later) newer, so it holds
 * the effect of everything before J; its header names (journal, J).
 *
 *  - Until the snapshot's rename, the old snapshot and the whole journal
 *    are on disk, as before.
 *  - Between the rename and the journal swap, a load skips the journal up
 *    to J and applies the rest, written after this instant.
 *  - The swap writes a new journal (new generation) holding just that
 *    rest; a load of a journal whose generation the snapshot does not name
 *    applies all of it.
 *
 * So at every instant the files give every acknowledged save, and appends
 * go on while the snapshot is written. */
static void
compaction_collect (TetherStore *self)
{
  Compaction *compaction = self->compaction;
  GPtrArray *tombstones = tether_collection_get_tombstones (self->collection);
  GSource *source;

  g_assert (!self->io_busy);

  compaction->collected = TRUE;
  compaction->journal_generation = g_strdup (self->journal->generation);
  compaction->journal_offset = self->journal->length;

  /* The set of records is fixed here, in list order, tombstones last. A
   * record added later reaches the disk through its own save, after J. */
  compaction->records = tether_collection_dup_sorted (self->collection, TETHER_RECORD_SORT_NONE);
  g_ptr_array_set_free_func (compaction->records, NULL);
  for (guint i = 0; i < tombstones->len; i++)
    g_ptr_array_add (compaction->records, g_object_ref (g_ptr_array_index (tombstones, i)));

  compaction->job = g_new0 (FileJob, 1);
  compaction->job->file = g_object_ref (self->snapshot_file);
  compaction->job->lines = g_ptr_array_new_full (compaction->records->len,
                                                 (GDestroyNotify) g_bytes_unref);
  compaction->job->head = snapshot_header (self->meta,
                                           compaction->journal_generation,
                                           compaction->journal_offset);
  compaction->job->fault = self->write_fault;

  source = g_idle_source_new ();
  g_source_set_priority (source, G_PRIORITY_DEFAULT_IDLE);
  g_source_set_callback (source, serialize_slice_cb, g_object_ref (self), g_object_unref);
  g_source_set_static_name (source, "[tether-store] serialise");
  g_source_attach (source, self->context);
  compaction->source = source;
}

static void
start_compaction (TetherStore *self,
                  GTask       *task)
{
  g_assert (self->compaction == NULL);

  self->compaction = g_new0 (Compaction, 1);
  self->compaction->waiters = g_ptr_array_new_with_free_func (g_object_unref);
  if (task != NULL)
    g_ptr_array_add (self->compaction->waiters, g_object_ref (task));

  io_kick (self);
}

/* Starts whatever I/O step may run now. Journal appends and the journal
 * swap of a compaction take turns; the snapshot is written beside them. */
static void
io_kick (TetherStore *self)
{
  if (self->io_busy || self->state != STORE_OPEN)
    return;

  if (self->compaction != NULL && !self->compaction->collected)
    compaction_collect (self);

  if (self->compaction != NULL && self->compaction->waiting_for_swap)
    {
      start_swap (self);
      return;
    }

  if (self->write_requested && has_pending (self))
    {
      start_batch (self);
      return;
    }

  self->write_requested = FALSE;
}

/* Loading (worker thread) */

/* Where a record's line is: in the snapshot's or the journal's buffer. */
typedef struct
{
  GBytes *buffer;
  gsize   offset;
  gsize   length;
} LineRef;

typedef struct
{
  TetherRecord *record;   /* NULL: removed */
  LineRef       line;
  gboolean      consumed;
} JournalEntry;

static void
journal_entry_free (JournalEntry *entry)
{
  g_clear_object (&entry->record);
  g_free (entry);
}

typedef struct
{
  Loader       *loader;
  GCancellable *cancellable;

  GBytes       *snapshot;
  gsize         snapshot_body;
  gboolean      snapshot_damaged;
  guint         snapshot_lost;
  char         *journal_ref;          /* the generation the snapshot names */
  guint64       journal_ref_offset;

  GBytes       *journal;
  char         *journal_generation;   /* from the journal's header */
  guint64       journal_good_end;
  gboolean      journal_damaged;
  guint         journal_lost;

  JsonObject   *meta;
  GHashTable   *journal_entries;      /* cid → JournalEntry */
  GPtrArray    *journal_order;        /* JournalEntry, first seen first */

  GHashTable   *seen;                 /* cids emitted, owned by records */
  GPtrArray    *records;              /* every record emitted */
  GArray       *lines;                /* and its LineRef */
  GPtrArray    *batch;
} LoadState;

static void
load_state_clear (LoadState *state)
{
  g_clear_pointer (&state->snapshot, g_bytes_unref);
  g_clear_pointer (&state->journal_ref, g_free);
  g_clear_pointer (&state->journal, g_bytes_unref);
  g_clear_pointer (&state->journal_generation, g_free);
  g_clear_pointer (&state->meta, json_object_unref);
  g_clear_pointer (&state->journal_entries, g_hash_table_unref);
  g_clear_pointer (&state->journal_order, g_ptr_array_unref);
  g_clear_pointer (&state->seen, g_hash_table_unref);
  g_clear_pointer (&state->records, g_ptr_array_unref);
  g_clear_pointer (&state->lines, g_array_unref);
  g_clear_pointer (&state->batch, g_ptr_array_unref);
}

typedef enum
{
  HEADER_OK,
  HEADER_BAD,
  HEADER_NEWER,
} HeaderStatus;

static gboolean
next_line (const char  *data,
           gsize        length,
           gsize       *pos,
           gsize       *start,
           gsize       *line_length,
           gboolean    *complete)
{
  const char *newline;

  if (*pos >= length)
    return FALSE;

  *start = *pos;
  newline = memchr (data + *pos, '\n', length - *pos);

  if (newline != NULL)
    {
      *line_length = newline - (data + *pos);
      *complete = TRUE;
      *pos = newline - data + 1;
    }
  else
    {
      *line_length = length - *pos;
      *complete = FALSE;
      *pos = length;
    }

  return TRUE;
}

/* A header, removal or meta line. The scanner goes first: json-glib
 * takes a lone surrogate escape and makes invalid UTF-8 of it, which the
 * store would write back where the next open cannot read it, and it
 * recurses without a limit, so that deep nesting overflows the stack. */
static JsonObject *
parse_object (const char *data,
              gsize       length)
{
  g_autoptr(JsonParser) parser = json_parser_new_immutable ();
  JsonNode *root;

  if (!tether_json_scan_validate (data, length, NULL) ||
      !json_parser_load_from_data (parser, data, length, NULL))
    return NULL;

  root = json_parser_get_root (parser);
  if (root == NULL || !JSON_NODE_HOLDS_OBJECT (root))
    return NULL;

  return json_object_ref (json_node_get_object (root));
}

/* Reads the header line at the start of @data; *body is where the lines
 * after it begin. A header that cannot be read makes every line a
 * candidate record, so nothing readable is lost with it. */

/* A member read from a file the store did not necessarily write well:
 * anything but a string (or an integer) reads as absent, never as a
 * critical warning. */
static const char *
member_string (JsonObject *object,
               const char *name)
{
  JsonNode *node = json_object_get_member (object, name);

  if (node == NULL || !JSON_NODE_HOLDS_VALUE (node) || json_node_get_value_type (node) != G_TYPE_STRING)
    return NULL;

  return json_node_get_string (node);
}

static gint64
member_int (JsonObject *object,
            const char *name,
            gint64      fallback)
{
  JsonNode *node = json_object_get_member (object, name);

  if (node == NULL || !JSON_NODE_HOLDS_VALUE (node) || json_node_get_value_type (node) != G_TYPE_INT64)
    return fallback;

  return json_node_get_int (node);
}

static HeaderStatus
parse_header (GBytes      *bytes,
              const char  *format,
              gsize       *body,
              JsonObject **header)
{
  gsize length;
  const char *data = g_bytes_get_data (bytes, &length);
  const char *newline = memchr (data, '\n', length);
  g_autoptr(JsonObject) object = NULL;
  JsonNode *version;

  *body = 0;
  *header = NULL;

  if (newline == NULL)
    return HEADER_BAD;

  object = parse_object (data, newline - data);
  if (object == NULL ||
      g_strcmp0 (member_string (object, "format"), format) != 0)
    return HEADER_BAD;

  version = json_object_get_member (object, "version");
  if (version == NULL || json_node_get_value_type (version) != G_TYPE_INT64 ||
      json_node_get_int (version) < 1)
    return HEADER_BAD;

  if (json_node_get_int (version) > STORE_VERSION)
    return HEADER_NEWER;

  *body = newline - data + 1;
  *header = g_steal_pointer (&object);

  return HEADER_OK;
}

static void
set_version_error (GError **error,
                   GFile   *file)
{
  g_set_error (error, TETHER_STORE_ERROR, TETHER_STORE_ERROR_VERSION,
               _("The store at “%s” was written by a newer version of Tether "
                 "and cannot be opened by this one. It was left untouched; "
                 "update Tether to open it."),
               file_path (file));
}

static void
push_batch (LoadState *state,
            GPtrArray *records);

/* Records in the deleted state go in the batches too: the collection
 * makes them tombstones instead of list items. */
static void
emit_record (LoadState     *state,
             TetherRecord  *record,
             const LineRef *line)
{
  g_ptr_array_add (state->records, g_object_ref (record));
  g_array_append_vals (state->lines, line, 1);
  g_hash_table_add (state->seen, (gpointer) tether_record_get_cid (record));
  g_ptr_array_add (state->batch, g_object_ref (record));

  if (state->batch->len >= TETHER_STORE_LOAD_BATCH_SIZE)
    {
      push_batch (state, g_steal_pointer (&state->batch));
      state->batch = g_ptr_array_new_full (TETHER_STORE_LOAD_BATCH_SIZE, g_object_unref);
    }
}

static JournalEntry *
journal_entry_for (LoadState  *state,
                   const char *cid)
{
  JournalEntry *entry = g_hash_table_lookup (state->journal_entries, cid);

  if (entry == NULL)
    {
      entry = g_new0 (JournalEntry, 1);
      g_hash_table_insert (state->journal_entries, g_strdup (cid), entry);
      g_ptr_array_add (state->journal_order, entry);
    }

  return entry;
}

static gboolean
apply_object_line (LoadState  *state,
                   JsonObject *object)
{
  JsonNode *member;

  if (json_object_get_size (object) != 1)
    return FALSE;

  if ((member = json_object_get_member (object, "remove")) != NULL &&
      json_node_get_value_type (member) == G_TYPE_STRING)
    {
      JournalEntry *entry = journal_entry_for (state, json_node_get_string (member));

      g_clear_object (&entry->record);
      return TRUE;
    }

  if ((member = json_object_get_member (object, "meta")) != NULL &&
      JSON_NODE_HOLDS_OBJECT (member))
    {
      g_clear_pointer (&state->meta, json_object_unref);
      state->meta = json_object_ref (json_node_get_object (member));
      return TRUE;
    }

  if ((member = json_object_get_member (object, "meta-changes")) != NULL &&
      JSON_NODE_HOLDS_OBJECT (member))
    {
      JsonObjectIter iter;
      const char *key;
      JsonNode *value;

      if (state->meta == NULL)
        state->meta = json_object_new ();
      json_object_iter_init (&iter, json_node_get_object (member));
      while (json_object_iter_next (&iter, &key, &value))
        {
          if (JSON_NODE_HOLDS_NULL (value))
            json_object_remove_member (state->meta, key);
          else
            json_object_set_member (state->meta, key, json_node_copy (value));
        }
      return TRUE;
    }

  return FALSE;
}

static gboolean
apply_journal_line (LoadState *state,
                    gsize      start,
                    gsize      length)
{
  const char *data = (const char *) g_bytes_get_data (state->journal, NULL) + start;
  g_autoptr(TetherRecord) record = NULL;
  g_autoptr(JsonObject) object = NULL;
  JournalEntry *entry;

  /* Removals and meta lines are rare and short: parse them. Everything
   * else is a record line, read lazily by the record itself. */
  if ((length >= strlen (REMOVE_PREFIX) && memcmp (data, REMOVE_PREFIX, strlen (REMOVE_PREFIX)) == 0) ||
      (length >= strlen (META_PREFIX) && memcmp (data, META_PREFIX, strlen (META_PREFIX)) == 0) ||
      (length >= strlen (META_CHANGES_PREFIX) &&
       memcmp (data, META_CHANGES_PREFIX, strlen (META_CHANGES_PREFIX)) == 0))
    {
      object = parse_object (data, length);
      return object != NULL && apply_object_line (state, object);
    }

  record = tether_record_new_from_buffer (state->journal, start, length, NULL);

  if (record == NULL)
    {
      /* Perhaps a removal or meta line that someone reformatted. */
      object = parse_object (data, length);
      return object != NULL && apply_object_line (state, object);
    }

  entry = journal_entry_for (state, tether_record_get_cid (record));
  g_set_object (&entry->record, record);
  entry->line.buffer = state->journal;
  entry->line.offset = start;
  entry->line.length = length;

  return TRUE;
}

static gboolean
read_journal (LoadState  *state,
              GError    **error)
{
  Loader *loader = state->loader;
  g_autoptr(JsonObject) header = NULL;
  gsize length;
  const char *data;
  gsize pos;
  gsize start;
  gsize line_length;
  gboolean complete;
  gboolean header_bad = FALSE;
  guint unreadable = 0;

  state->journal = load_file (loader->journal_file, state->cancellable, error);
  if (state->journal == NULL)
    return error == NULL || *error == NULL;

  data = g_bytes_get_data (state->journal, &length);

  /* An empty journal holds nothing; the writer starts a new one. */
  if (length == 0)
    {
      g_clear_pointer (&state->journal, g_bytes_unref);
      return TRUE;
    }

  switch (parse_header (state->journal, JOURNAL_FORMAT, &pos, &header))
    {
    case HEADER_NEWER:
      set_version_error (error, loader->directory);
      return FALSE;

    case HEADER_BAD:
      header_bad = TRUE;
      break;

    case HEADER_OK:
    default:
      state->journal_generation =
        g_strdup (member_string (header, "generation"));

      /* Without its generation the journal cannot be matched to the
       * snapshot, and the writer would start a new one over it. */
      if (state->journal_generation == NULL)
        {
          header_bad = TRUE;
          pos = 0;
        }
      break;
    }

  /* Skip what the snapshot already holds. */
  if (state->journal_generation != NULL &&
      g_strcmp0 (state->journal_generation, state->journal_ref) == 0)
    {
      if (state->journal_ref_offset >= pos &&
          state->journal_ref_offset <= length &&
          data[state->journal_ref_offset - 1] == '\n')
        pos = state->journal_ref_offset;
      else
        state->journal_damaged = TRUE;
    }

  state->journal_good_end = pos;

  while (next_line (data, length, &pos, &start, &line_length, &complete))
    {
      if (!complete)
        break;

      if (line_length == 0)
        continue;

      if (apply_journal_line (state, start, line_length))
        {
          /* Unreadable lines with good ones after them are damage; at the
           * end they are the remains of an append that never finished. */
          if (unreadable > 0)
            {
              state->journal_damaged = TRUE;
              state->journal_lost += unreadable;
              unreadable = 0;
            }

          state->journal_good_end = pos;
        }
      else
        {
          unreadable++;
        }
    }

  /* In a journal whose header is gone, nothing is a mere torn append. */
  if (header_bad)
    {
      state->journal_damaged = TRUE;
      state->journal_lost += unreadable;
    }
  else if (unreadable > 0 || state->journal_good_end < length)
    {
      g_debug ("Dropping %" G_GUINT64_FORMAT " bytes of torn journal tail in %s",
               (guint64) (length - state->journal_good_end),
               file_path (loader->journal_file));
    }

  return TRUE;
}

static gboolean
read_snapshot_header (LoadState  *state,
                      GError    **error)
{
  Loader *loader = state->loader;
  g_autoptr(JsonObject) header = NULL;
  JsonNode *member;

  state->snapshot = load_file (loader->snapshot_file, state->cancellable, error);
  if (state->snapshot == NULL)
    return error == NULL || *error == NULL;

  loader->snapshot_size = g_bytes_get_size (state->snapshot);
  if (loader->snapshot_size == 0)
    {
      g_clear_pointer (&state->snapshot, g_bytes_unref);
      return TRUE;
    }

  switch (parse_header (state->snapshot, STORE_FORMAT, &state->snapshot_body, &header))
    {
    case HEADER_NEWER:
      set_version_error (error, loader->directory);
      return FALSE;

    case HEADER_BAD:
      state->snapshot_damaged = TRUE;
      return TRUE;

    case HEADER_OK:
    default:
      break;
    }

  if ((member = json_object_get_member (header, "meta")) != NULL &&
      JSON_NODE_HOLDS_OBJECT (member))
    state->meta = json_object_ref (json_node_get_object (member));

  if ((member = json_object_get_member (header, "journal")) != NULL &&
      JSON_NODE_HOLDS_OBJECT (member))
    {
      JsonObject *journal = json_node_get_object (member);

      state->journal_ref =
        g_strdup (member_string (journal, "generation"));
      state->journal_ref_offset =
        MAX (0, member_int (journal, "offset", 0));
    }

  return TRUE;
}

static void
read_snapshot_records (LoadState *state)
{
  gsize length;
  const char *data = g_bytes_get_data (state->snapshot, &length);
  gsize pos = state->snapshot_body;
  gsize start;
  gsize line_length;
  gboolean complete;
  gboolean check_journal = g_hash_table_size (state->journal_entries) > 0;
  guint n = 0;

  while (next_line (data, length, &pos, &start, &line_length, &complete))
    {
      g_autoptr(TetherRecord) record = NULL;
      JournalEntry *entry = NULL;
      LineRef line = { state->snapshot, start, line_length };
      const char *cid;

      if (line_length == 0)
        continue;

      if (++n % TETHER_STORE_LOAD_BATCH_SIZE == 0 &&
          g_cancellable_is_cancelled (state->cancellable))
        return;

      record = tether_record_new_from_buffer (state->snapshot, start, line_length, NULL);

      if (record == NULL)
        {
          state->snapshot_damaged = TRUE;
          state->snapshot_lost++;
          continue;
        }

      cid = tether_record_get_cid (record);

      /* The snapshot writer never repeats a cid; a repeat is damage. */
      if (g_hash_table_contains (state->seen, cid))
        {
          state->snapshot_damaged = TRUE;
          state->snapshot_lost++;
          continue;
        }

      if (check_journal)
        entry = g_hash_table_lookup (state->journal_entries, cid);

      /* A newer state from the journal takes the record's place in the
       * list, so the order survives a reload. */
      if (entry != NULL)
        {
          entry->consumed = TRUE;
          if (entry->record != NULL)
            emit_record (state, entry->record, &entry->line);
        }
      else
        {
          emit_record (state, record, &line);
        }
    }
}

static char *
aside_name (GFile      *file,
            const char *stamp)
{
  for (guint i = 1; ; i++)
    {
      g_autofree char *name = NULL;

      if (i == 1)
        name = g_strdup_printf ("%s.damaged-%s", file_path (file), stamp);
      else
        name = g_strdup_printf ("%s.damaged-%s-%u", file_path (file), stamp, i);

      if (!g_file_test (name, G_FILE_TEST_EXISTS))
        return g_steal_pointer (&name);
    }
}

static gboolean
keep_aside (GFile       *file,
            GBytes      *content,
            const char  *stamp,
            int          fault,
            guint64     *bytes,
            char       **kept_path,
            GError     **error)
{
  g_autofree char *name = aside_name (file, stamp);
  FileJob job = { 0 };
  gboolean ret;

  /* A durable copy, not a rename: until the new snapshot is in place the
   * original must stay where a crash-restart will find it. */
  job.file = g_file_new_for_path (name);
  job.head = content;
  job.fault = fault;

  ret = replace_file (&job, error);
  *bytes += job.bytes;
  g_object_unref (job.file);

  if (ret)
    *kept_path = g_steal_pointer (&name);

  return ret;
}

/* Some content could not be read. Keep the damaged files aside as they
 * are, then write a consistent store of everything that could be read. */
static gboolean
recover (LoadState  *state,
         GError    **error)
{
  Loader *loader = state->loader;
  g_autoptr(GDateTime) now = g_date_time_new_now_local ();
  g_autofree char *stamp = g_date_time_format (now, "%Y%m%d-%H%M%S");
  g_autofree char *snapshot_kept = NULL;
  g_autofree char *journal_kept = NULL;
  g_autofree char *generation = g_uuid_string_random ();
  g_autoptr(GString) message = g_string_new (NULL);
  FileJob job = { 0 };
  guint lost = state->snapshot_lost + state->journal_lost;
  guint recovered = state->records->len;
  gboolean ret;

  if (state->snapshot_damaged &&
      !keep_aside (loader->snapshot_file, state->snapshot, stamp, loader->fault,
                   &loader->bytes_written, &snapshot_kept, error))
    return FALSE;

  if (state->journal_damaged &&
      !keep_aside (loader->journal_file, state->journal, stamp, loader->fault,
                   &loader->bytes_written, &journal_kept, error))
    return FALSE;

  /* The new snapshot names the old journal, up to its last good line, as
   * folded in: a crash before the journal below replaces it must not
   * apply it a second time over newer states. */
  job.file = loader->snapshot_file;
  job.head = snapshot_header (state->meta, state->journal_generation, state->journal_good_end);
  job.lines = g_ptr_array_new_full (state->lines->len, (GDestroyNotify) g_bytes_unref);
  for (guint i = 0; i < state->lines->len; i++)
    {
      const LineRef *line = &g_array_index (state->lines, LineRef, i);

      g_ptr_array_add (job.lines, g_bytes_new_from_bytes (line->buffer, line->offset, line->length));
    }
  job.fault = loader->fault;
  ret = replace_file (&job, error);
  loader->bytes_written += job.bytes;
  g_bytes_unref (job.head);
  g_ptr_array_unref (job.lines);
  if (!ret)
    return FALSE;
  loader->snapshot_size = job.bytes;

  memset (&job, 0, sizeof job);
  job.file = loader->journal_file;
  job.head = journal_header (generation);
  job.fault = loader->fault;
  ret = replace_file (&job, error);
  loader->bytes_written += job.bytes;
  if (ret)
    {
      g_free (loader->journal->generation);
      loader->journal->generation = g_steal_pointer (&generation);
      loader->journal->length = g_bytes_get_size (job.head);
      loader->journal->needs_truncate = FALSE;
    }
  g_bytes_unref (job.head);
  if (!ret)
    return FALSE;

  g_string_append_printf (message, _("The store at “%s” was damaged."),
                          file_path (loader->directory));
  g_string_append_c (message, ' ');
  g_string_append_printf (message,
                          g_dngettext (GETTEXT_PACKAGE,
                                       "%u record was recovered",
                                       "%u records were recovered",
                                       recovered),
                          recovered);
  g_string_append (message, "; ");
  g_string_append_printf (message,
                          g_dngettext (GETTEXT_PACKAGE,
                                       "%u unreadable line was lost.",
                                       "%u unreadable lines were lost.",
                                       lost),
                          lost);
  g_string_append_c (message, ' ');
  if (snapshot_kept != NULL && journal_kept != NULL)
    g_string_append_printf (message,
                            _("The damaged files were kept as “%s” and “%s”."),
                            snapshot_kept, journal_kept);
  else
    g_string_append_printf (message,
                            _("The damaged file was kept as “%s”."),
                            snapshot_kept != NULL ? snapshot_kept : journal_kept);

  loader->damage = g_error_new_literal (TETHER_STORE_ERROR,
                                        TETHER_STORE_ERROR_DAMAGED,
                                        message->str);

  return TRUE;
}

static gboolean
load_store (LoadState  *state,
            GError    **error)
{
  Loader *loader = state->loader;

  state->journal_entries = g_hash_table_new_full (g_str_hash, g_str_equal, g_free,
                                                  (GDestroyNotify) journal_entry_free);
  state->journal_order = g_ptr_array_new ();
  state->seen = g_hash_table_new (g_str_hash, g_str_equal);
  state->records = g_ptr_array_new_with_free_func (g_object_unref);
  state->lines = g_array_new (FALSE, FALSE, sizeof (LineRef));
  state->batch = g_ptr_array_new_full (TETHER_STORE_LOAD_BATCH_SIZE, g_object_unref);

  /* Both headers are checked before a single record reaches the
   * collection, so a refused version leaves everything untouched. */
  if (!read_snapshot_header (state, error) ||
      !read_journal (state, error))
    return FALSE;

  if (state->snapshot != NULL)
    read_snapshot_records (state);

  if (g_cancellable_set_error_if_cancelled (state->cancellable, error))
    return FALSE;

  /* Records the snapshot does not have yet, in the order they were made. */
  for (guint i = 0; i < state->journal_order->len; i++)
    {
      JournalEntry *entry = g_ptr_array_index (state->journal_order, i);

      if (!entry->consumed && entry->record != NULL &&
          !g_hash_table_contains (state->seen, tether_record_get_cid (entry->record)))
        emit_record (state, entry->record, &entry->line);
    }

  if (state->batch->len > 0)
    push_batch (state, g_steal_pointer (&state->batch));

  loader->journal = g_new0 (Journal, 1);
  loader->journal->file = g_object_ref (loader->journal_file);
  loader->journal->generation = g_strdup (state->journal_generation);
  loader->journal->length = state->journal_good_end;
  loader->journal->needs_truncate =
    state->journal != NULL && g_bytes_get_size (state->journal) > state->journal_good_end;

  if (state->meta == NULL)
    state->meta = json_object_new ();

  if (state->snapshot_damaged || state->journal_damaged)
    {
      if (!recover (state, error))
        return FALSE;
    }

  loader->meta = g_steal_pointer (&state->meta);

  return TRUE;
}

/* Loading (main thread side) */

static void
open_complete (TetherStore *self,
               Loader      *loader);

static gboolean
deliver_cb (gpointer data)
{
  Loader *loader = data;
  GPtrArray *batch;
  gboolean finished;
  TetherStore *self = g_task_get_source_object (loader->task);

  g_mutex_lock (&loader->mutex);
  batch = g_queue_pop_head (&loader->batches);
  finished = loader->done && g_queue_is_empty (&loader->batches);
  if (batch == NULL || finished)
    loader->delivering = FALSE;
  g_mutex_unlock (&loader->mutex);

  if (batch != NULL)
    {
      tether_collection_add_many (self->collection,
                                  (TetherRecord **) batch->pdata,
                                  batch->len);
      g_ptr_array_unref (batch);
    }

  if (finished)
    {
      open_complete (self, loader);
      return G_SOURCE_REMOVE;
    }

  return batch != NULL ? G_SOURCE_CONTINUE : G_SOURCE_REMOVE;
}

static void
loader_schedule (Loader *loader)
{
  GSource *source;

  if (loader->delivering)
    return;

  loader->delivering = TRUE;

  /* Default priority, not idle: a window that animates (a spinner, on a
   * slow renderer) can keep the loop busy drawing, and idle sources would
   * then never run. Each callback adds one bounded batch, so the main loop
   * never stalls for long. */
  source = g_idle_source_new ();
  g_source_set_priority (source, G_PRIORITY_DEFAULT);
  g_source_set_callback (source, deliver_cb,
                         g_atomic_rc_box_acquire (loader),
                         (GDestroyNotify) loader_unref);
  g_source_set_static_name (source, "[tether-store] load");
  g_source_attach (source, loader->context);
  g_source_unref (source);
}

static void
push_batch (LoadState *state,
            GPtrArray *records)
{
  Loader *loader = state->loader;

  g_mutex_lock (&loader->mutex);
  g_queue_push_tail (&loader->batches, records);
  loader_schedule (loader);
  g_mutex_unlock (&loader->mutex);
}

static void
open_worker (GTask        *task,
             gpointer      source_object,
             gpointer      task_data,
             GCancellable *cancellable)
{
  Loader *loader = task_data;
  LoadState state = { 0 };
  g_autoptr(GError) error = NULL;
  gint64 begin = g_get_monotonic_time ();

  state.loader = loader;
  state.cancellable = cancellable;

  if (!load_store (&state, &error))
    loader->error = g_steal_pointer (&error);

  g_debug ("Read %u records from %s in %.1f ms",
           state.records ? state.records->len : 0,
           file_path (loader->directory),
           (g_get_monotonic_time () - begin) / 1000.);

  load_state_clear (&state);

  g_mutex_lock (&loader->mutex);
  loader->done = TRUE;
  loader_schedule (loader);
  g_mutex_unlock (&loader->mutex);

  g_task_return_boolean (task, TRUE);
}

/* The lock */

static char *
read_lock_holder (GFile *file)
{
  g_autofree char *contents = NULL;
  gsize length;

  if (!g_file_load_contents (file, NULL, &contents, &length, NULL, NULL))
    return NULL;

  g_strstrip (contents);
  if (contents[0] == '\0')
    return NULL;

  return g_steal_pointer (&contents);
}

static gboolean
acquire_lock (TetherStore  *self,
              GError      **error)
{
  g_autoptr(GFile) file = g_file_get_child (self->directory, LOCK_NAME);
  g_autoptr(GFileIOStream) stream = NULL;
  g_autoptr(GError) local_error = NULL;
  g_autofree char *pid = NULL;
  GOutputStream *output;
  int fd;

  if (g_file_make_directory_with_parents (self->directory, NULL, &local_error))
    {
      g_autoptr(GFile) parent = g_file_get_parent (self->directory);
      g_autoptr(GFile) grandparent = g_file_get_parent (parent);

      /* A new directory's name is durable once its parent is synced; its
       * first save syncs the directory itself. Two levels cover
       * DATA_DIR/tether/NAME, the usual case. */
      if (!fsync_directory (parent, &local_error) ||
          (grandparent != NULL && !fsync_directory (grandparent, &local_error)))
        {
          set_io_error (error, parent, TRUE, local_error);
          return FALSE;
        }
    }
  else if (!g_error_matches (local_error, G_IO_ERROR, G_IO_ERROR_EXISTS))
    {
      set_io_error (error, self->directory, TRUE, local_error);
      return FALSE;
    }
  g_clear_error (&local_error);

  for (guint attempt = 0; stream == NULL && attempt < 3; attempt++)
    {
      g_clear_error (&local_error);
      stream = g_file_open_readwrite (file, NULL, &local_error);
      if (stream == NULL && g_error_matches (local_error, G_IO_ERROR, G_IO_ERROR_NOT_FOUND))
        {
          g_clear_error (&local_error);
          stream = g_file_create_readwrite (file, G_FILE_CREATE_PRIVATE, NULL, &local_error);
          if (stream == NULL && !g_error_matches (local_error, G_IO_ERROR, G_IO_ERROR_EXISTS))
            break;
        }
      else if (stream == NULL)
        break;
    }

  if (stream == NULL)
    {
      set_io_error (error, file, TRUE, local_error);
      return FALSE;
    }

  output = g_io_stream_get_output_stream (G_IO_STREAM (stream));
  if (!G_IS_FILE_DESCRIPTOR_BASED (output))
    {
      g_set_error (error, TETHER_STORE_ERROR, TETHER_STORE_ERROR_IO,
                   _("The store at “%s” is not on a local file system"),
                   file_path (self->directory));
      return FALSE;
    }

  set_cloexec (G_OBJECT (output));
  fd = g_file_descriptor_based_get_fd (G_FILE_DESCRIPTOR_BASED (output));

  /* flock() and not fcntl() locks: flock belongs to the open file, so a
   * second TetherStore in this very process is refused too, and the
   * kernel drops it when the holder dies, however it dies. */
  if (flock (fd, LOCK_EX | LOCK_NB) != 0)
    {
      int errsv = errno;
      g_autofree char *holder = NULL;

      if (errsv != EWOULDBLOCK)
        {
          set_errno_error (&local_error, errsv, _("Error locking file"));
          set_io_error (error, file, TRUE, local_error);
          return FALSE;
        }

      holder = read_lock_holder (file);
      if (holder != NULL)
        g_set_error (error, TETHER_STORE_ERROR, TETHER_STORE_ERROR_LOCKED,
                     _("The store at “%s” is in use by another Tether or tether-cli "
                       "(process %s). Close it there and try again."),
                     file_path (self->directory), holder);
      else
        g_set_error (error, TETHER_STORE_ERROR, TETHER_STORE_ERROR_LOCKED,
                     _("The store at “%s” is in use by another Tether or tether-cli. "
                       "Close it there and try again."),
                     file_path (self->directory));
      return FALSE;
    }

  /* The PID only helps people find the other process; the lock is the
   * flock, so a stale PID from a crash is harmless. */
  pid = g_strdup_printf ("%d\n", (int) getpid ());
  if (!g_seekable_truncate (G_SEEKABLE (stream), 0, NULL, NULL) ||
      !g_seekable_seek (G_SEEKABLE (stream), 0, G_SEEK_SET, NULL, NULL) ||
      !g_output_stream_write_all (output, pid, strlen (pid), NULL, NULL, NULL))
    g_debug ("Could not write the PID to %s", file_path (file));

  self->lock_stream = g_steal_pointer (&stream);

  return TRUE;
}

static void
release (TetherStore *self)
{
  if (!g_queue_is_empty (&self->flush_waiters))
    {
      g_autoptr(GError) error = NULL;

      error = g_error_new (TETHER_STORE_ERROR, TETHER_STORE_ERROR_CLOSED,
                           _("The store at “%s” is not open"),
                           file_path (self->directory));
      fail_waiters (self, error);
    }

  /* What could not be written before closing is gone; it must not reach
   * the disk later over what a reopened store reads. */
  g_ptr_array_set_size (self->pending, 0);
  g_hash_table_remove_all (self->pending_by_cid);
  g_clear_pointer (&self->meta_changes, json_object_unref);
  self->write_requested = FALSE;
  self->queued_seq = self->written_seq = 0;

  clear_write_source (self);
  g_clear_pointer (&self->journal, journal_free);

  if (self->lock_stream != NULL)
    g_io_stream_close (G_IO_STREAM (self->lock_stream), NULL, NULL);
  g_clear_object (&self->lock_stream);

  g_clear_object (&self->collection);
  g_clear_pointer (&self->context, g_main_context_unref);
  self->state = STORE_CLOSED;
}

/* Opening */

static void
open_complete (TetherStore *self,
               Loader      *loader)
{
  g_autoptr(GTask) task = g_steal_pointer (&loader->task);

  g_assert (self->loader == loader);

  self->loader = NULL;
  g_clear_object (&self->open_cancellable);

  if (loader->error != NULL)
    {
      release (self);
      g_task_return_error (task, g_steal_pointer (&loader->error));
      loader_unref (loader);
      return;
    }

  g_clear_pointer (&self->meta, json_object_unref);
  self->meta = g_steal_pointer (&loader->meta);
  self->journal = g_steal_pointer (&loader->journal);
  self->snapshot_size = loader->snapshot_size;
  self->bytes_written = loader->bytes_written;
  self->state = STORE_OPEN;

  if (loader->damage != NULL)
    {
      g_message ("%s", loader->damage->message);
      g_task_return_error (task, g_steal_pointer (&loader->damage));
    }
  else
    {
      g_task_return_boolean (task, TRUE);
    }

  loader_unref (loader);

  /* Saves made while the store was opening. */
  if (has_pending (self))
    schedule_write (self);
}

/* Returns the loader's worker task, if it started one. */
static GTask *
open_internal (TetherStore         *self,
               TetherCollection    *collection,
               GMainContext        *home,
               GCancellable        *cancellable,
               GAsyncReadyCallback  callback,
               gpointer             user_data)
{
  g_autoptr(GTask) task = NULL;
  g_autoptr(GTask) worker = NULL;
  g_autoptr(GError) error = NULL;
  Loader *loader;

  task = g_task_new (self, cancellable, callback, user_data);
  g_task_set_source_tag (task, tether_store_open_async);

  if (self->state != STORE_CLOSED)
    {
      g_task_return_new_error (task, G_IO_ERROR, G_IO_ERROR_BUSY,
                               _("The store at “%s” is already open"),
                               file_path (self->directory));
      return NULL;
    }

  if (!acquire_lock (self, &error))
    {
      g_task_return_error (task, g_steal_pointer (&error));
      return NULL;
    }

  self->state = STORE_OPENING;
  self->context = home != NULL ? g_main_context_ref (home) : g_main_context_ref_thread_default ();
  self->collection = g_object_ref (collection);
  self->bytes_written = 0;
  self->n_commits = 0;
  self->open_cancellable = g_cancellable_new ();
  if (cancellable != NULL)
    {
      g_signal_connect_object (cancellable, "cancelled",
                               G_CALLBACK (g_cancellable_cancel),
                               self->open_cancellable,
                               G_CONNECT_SWAPPED);
      if (g_cancellable_is_cancelled (cancellable))
        g_cancellable_cancel (self->open_cancellable);
    }

  loader = g_atomic_rc_box_new0 (Loader);
  g_mutex_init (&loader->mutex);
  loader->directory = g_object_ref (self->directory);
  loader->snapshot_file = g_object_ref (self->snapshot_file);
  loader->journal_file = g_object_ref (self->journal_file);
  loader->context = g_main_context_ref_thread_default ();
  loader->cancellable = g_object_ref (self->open_cancellable);
  loader->fault = self->write_fault;
  loader->task = g_object_ref (task);
  self->loader = loader;

  /* The records are made in the worker: nobody else can see them yet.
   * The worker's own task returns nothing; the open completes on the main
   * thread once the last batch is in the collection. */
  worker = g_task_new (NULL, loader->cancellable, NULL, NULL);
  g_task_set_source_tag (worker, open_worker);
  g_task_set_name (worker, "[tether-store] load");
  g_task_set_task_data (worker, g_atomic_rc_box_acquire (loader), (GDestroyNotify) loader_unref);
  g_task_run_in_thread (worker, open_worker);

  return g_steal_pointer (&worker);
}

/* GObject */

static void
tether_store_dispose (GObject *object)
{
  TetherStore *self = TETHER_STORE (object);

  if (self->state != STORE_CLOSED)
    {
      g_autoptr(GError) error = NULL;

      if (!tether_store_close (self, &error))
        g_warning ("%s", error->message);
    }

  G_OBJECT_CLASS (tether_store_parent_class)->dispose (object);
}

static void
tether_store_finalize (GObject *object)
{
  TetherStore *self = TETHER_STORE (object);

  g_clear_object (&self->directory);
  g_clear_object (&self->snapshot_file);
  g_clear_object (&self->journal_file);
  g_clear_pointer (&self->meta_changes, json_object_unref);
  g_clear_pointer (&self->meta, json_object_unref);
  g_clear_pointer (&self->pending_by_cid, g_hash_table_unref);
  g_clear_pointer (&self->pending, g_ptr_array_unref);
  g_clear_pointer (&self->compact_next, g_ptr_array_unref);
  g_clear_error (&self->write_error);

  G_OBJECT_CLASS (tether_store_parent_class)->finalize (object);
}

static void
tether_store_get_property (GObject    *object,
                           guint       prop_id,
                           GValue     *value,
                           GParamSpec *pspec)
{
  TetherStore *self = TETHER_STORE (object);

  switch (prop_id)
    {
    case PROP_DIRECTORY:
      g_value_set_object (value, self->directory);
      break;

    default:
      G_OBJECT_WARN_INVALID_PROPERTY_ID (object, prop_id, pspec);
    }
}

static void
tether_store_set_property (GObject      *object,
                           guint         prop_id,
                           const GValue *value,
                           GParamSpec   *pspec)
{
  TetherStore *self = TETHER_STORE (object);

  switch (prop_id)
    {
    case PROP_DIRECTORY:
      self->directory = g_value_dup_object (value);
      break;

    default:
      G_OBJECT_WARN_INVALID_PROPERTY_ID (object, prop_id, pspec);
    }
}

static void
tether_store_constructed (GObject *object)
{
  TetherStore *self = TETHER_STORE (object);

  G_OBJECT_CLASS (tether_store_parent_class)->constructed (object);

  g_assert (G_IS_FILE (self->directory));

  self->snapshot_file = g_file_get_child (self->directory, SNAPSHOT_NAME);
  self->journal_file = g_file_get_child (self->directory, JOURNAL_NAME);
}

static void
tether_store_class_init (TetherStoreClass *klass)
{
  GObjectClass *object_class = G_OBJECT_CLASS (klass);

  object_class->dispose = tether_store_dispose;
  object_class->finalize = tether_store_finalize;
  object_class->get_property = tether_store_get_property;
  object_class->set_property = tether_store_set_property;
  object_class->constructed = tether_store_constructed;

  properties[PROP_DIRECTORY] =
    g_param_spec_object ("directory", NULL, NULL,
                         G_TYPE_FILE,
                         (G_PARAM_READWRITE |
                          G_PARAM_CONSTRUCT_ONLY |
                          G_PARAM_STATIC_STRINGS));

  g_object_class_install_properties (object_class, N_PROPS, properties);
}

static void
tether_store_init (TetherStore *self)
{
  self->pending = g_ptr_array_new_with_free_func ((GDestroyNotify) pending_entry_free);
  self->pending_by_cid = g_hash_table_new (g_str_hash, g_str_equal);
  self->compact_next = g_ptr_array_new_with_free_func (g_object_unref);
  g_queue_init (&self->flush_waiters);
}

/* Public API */

static void
append_safe_name (GString    *name,
                  const char *text)
{
  for (const char *p = text; *p != '\0'; p++)
    {
      char c = g_ascii_tolower (*p);

      if (g_ascii_isalnum (c) || c == '.' || c == '_')
        g_string_append_c (name, c);
      else if (name->len > 0 && name->str[name->len - 1] != '-')
        g_string_append_c (name, '-');
    }
}

/**
 * tether_store_default_directory:
 * @server_url: (nullable): the server's base URL; empty or %NULL offline
 * @collection_path: (nullable): the collection on that server
 *
 * A readable name from the server's host and port and the collection
 * (`localhost-3000-records-1a2b3c4d`), made safe for a file name, with a
 * short hash of the full URL and collection so that two servers never
 * share a store.
 *
 * Returns: (transfer full): g_get_user_data_dir()/tether/NAME
 */
GFile *
tether_store_default_directory (const char *server_url,
                                const char *collection_path)
{
  g_autofree char *url = g_strstrip (g_strdup (server_url ? server_url : ""));
  g_autofree char *collection = g_strstrip (g_strdup (collection_path ? collection_path : ""));
  g_autoptr(GString) name = g_string_new (NULL);
  g_autofree char *key = NULL;
  g_autofree char *hash = NULL;
  gsize len;

  /* "http://host:3000/" and "http://host:3000" are one server, and
   * "/records/" and "records" one collection. */
  while ((len = strlen (url)) > 0 && url[len - 1] == '/')
    url[len - 1] = '\0';
  while ((len = strlen (collection)) > 0 && collection[len - 1] == '/')
    collection[len - 1] = '\0';
  g_strchug (collection);
  while (collection[0] == '/')
    memmove (collection, collection + 1, strlen (collection));

  if (url[0] == '\0')
    {
      g_string_append (name, "offline");
    }
  else
    {
      g_autoptr(GUri) uri = g_uri_parse (url, G_URI_FLAGS_NONE, NULL);

      if (uri != NULL && g_uri_get_host (uri) != NULL && g_uri_get_host (uri)[0] != '\0')
        {
          append_safe_name (name, g_uri_get_host (uri));
          if (g_uri_get_port (uri) > 0)
            g_string_append_printf (name, "-%d", g_uri_get_port (uri));
        }
      else
        {
          append_safe_name (name, url);
        }
    }

  if (collection[0] != '\0')
    {
      g_string_append_c (name, '-');
      append_safe_name (name, collection);
    }

  /* Readable, but not too long, and never hidden nor "." or "..". */
  while (name->len > 0 && (name->str[0] == '.' || name->str[0] == '-'))
    g_string_erase (name, 0, 1);
  if (name->len > 48)
    g_string_truncate (name, 48);
  while (name->len > 0 && name->str[name->len - 1] == '-')
    g_string_truncate (name, name->len - 1);
  if (name->len == 0)
    g_string_append (name, "store");

  /* The readable part may be the same for two servers (a path in the URL,
   * characters folded to '-'); the hash of the full URL and collection
   * keeps their stores apart. */
  key = g_strconcat (url, "\n", collection, NULL);
  hash = g_compute_checksum_for_string (G_CHECKSUM_SHA256, key, -1);
  g_string_append_printf (name, "-%.8s", hash);

  return g_file_new_build_filename (g_get_user_data_dir (), "tether", name->str, NULL);
}

TetherStore *
tether_store_new (GFile *directory)
{
  g_return_val_if_fail (G_IS_FILE (directory), NULL);

  return g_object_new (TETHER_TYPE_STORE,
                       "directory", directory,
                       NULL);
}

GFile *
tether_store_get_directory (TetherStore *self)
{
  g_return_val_if_fail (TETHER_IS_STORE (self), NULL);

  return self->directory;
}

gboolean
tether_store_is_open (TetherStore *self)
{
  g_return_val_if_fail (TETHER_IS_STORE (self), FALSE);

  return self->state == STORE_OPEN;
}

/**
 * tether_store_open_async:
 * @collection: an empty collection; the store keeps a reference to it
 *   until closed, and it is what compaction writes
 *
 * The lock is taken before this returns; the files are read in a worker
 * and the records reach @collection in batches of
 * TETHER_STORE_LOAD_BATCH_SIZE, one items-changed each. Saves made before
 * the open completes are queued and written after it.
 */
void
tether_store_open_async (TetherStore         *self,
                         TetherCollection    *collection,
                         GCancellable        *cancellable,
                         GAsyncReadyCallback  callback,
                         gpointer             user_data)
{
  g_autoptr(GTask) worker = NULL;

  g_return_if_fail (TETHER_IS_STORE (self));
  g_return_if_fail (TETHER_IS_COLLECTION (collection));
  g_return_if_fail (!cancellable || G_IS_CANCELLABLE (cancellable));

  worker = open_internal (self, collection, NULL, cancellable, callback, user_data);
}

gboolean
tether_store_open_finish (TetherStore   *self,
                          GAsyncResult  *result,
                          GError       **error)
{
  g_return_val_if_fail (TETHER_IS_STORE (self), FALSE);
  g_return_val_if_fail (g_task_is_valid (result, self), FALSE);
  g_return_val_if_fail (g_task_get_source_tag (G_TASK (result)) == tether_store_open_async, FALSE);

  return g_task_propagate_boolean (G_TASK (result), error);
}

static void
sync_result_cb (GObject      *object,
                GAsyncResult *result,
                gpointer      user_data)
{
  GAsyncResult **ret = user_data;

  *ret = g_object_ref (result);
}

gboolean
tether_store_open (TetherStore       *self,
                   TetherCollection  *collection,
                   GError           **error)
{
  g_autoptr(GMainContext) home = NULL;
  g_autoptr(GMainContext) context = NULL;
  g_autoptr(GAsyncResult) result = NULL;
  g_autoptr(GTask) worker = NULL;

  g_return_val_if_fail (TETHER_IS_STORE (self), FALSE);
  g_return_val_if_fail (TETHER_IS_COLLECTION (collection), FALSE);

  /* The loading runs in a private context, so that nothing else of the
   * caller's runs meanwhile; later writes belong to the caller's. */
  home = g_main_context_ref_thread_default ();
  context = g_main_context_new ();

  g_main_context_push_thread_default (context);
  worker = open_internal (self, collection, home, NULL, sync_result_cb, &result);
  /* The worker's task completes in this context too, often after the
   * open: left pending, it and the context would keep each other alive,
   * with the context's file descriptor. */
  while (result == NULL || (worker != NULL && !g_task_get_completed (worker)))
    g_main_context_iteration (context, TRUE);
  g_main_context_pop_thread_default (context);

  return tether_store_open_finish (self, result, error);
}

/**
 * tether_store_save:
 * @record: a record of the store's collection (list item or tombstone)
 *
 * Serialises @record now and queues the line. A record that is not in the
 * collection is written to the journal but not kept by the next
 * compaction, which writes what the collection holds.
 */
void
tether_store_save (TetherStore  *self,
                   TetherRecord *record)
{
  g_return_if_fail (TETHER_IS_STORE (self));
  g_return_if_fail (TETHER_IS_RECORD (record));
  g_return_if_fail (self->state != STORE_CLOSED);

  /* Serialising is O(record) and happens on the main thread, where the
   * record lives, when the batch is taken; the worker only sees bytes. */
  queue_entry (self, tether_record_get_cid (record), NULL, record);
  schedule_write (self);
}

void
tether_store_remove (TetherStore *self,
                     const char  *cid)
{
  g_return_if_fail (TETHER_IS_STORE (self));
  g_return_if_fail (cid != NULL);
  g_return_if_fail (self->state != STORE_CLOSED);

  queue_entry (self, cid, removal_line (cid), NULL);
  schedule_write (self);
}

void
tether_store_set_meta (TetherStore *self,
                       const char  *key,
                       JsonNode    *value)
{
  g_return_if_fail (TETHER_IS_STORE (self));
  g_return_if_fail (key != NULL);
  g_return_if_fail (self->state == STORE_OPEN);

  /* A JSON null is a removal: the journal says so with null. */
  if (value != NULL && JSON_NODE_HOLDS_NULL (value))
    value = NULL;

  if (value != NULL)
    json_object_set_member (self->meta, key, json_node_copy (value));
  else if (json_object_has_member (self->meta, key))
    json_object_remove_member (self->meta, key);
  else
    return;

  if (self->meta_changes == NULL)
    self->meta_changes = json_object_new ();
  json_object_set_member (self->meta_changes, key,
                          value != NULL ? json_node_copy (value) : json_node_new (JSON_NODE_NULL));
  self->queued_seq++;
  schedule_write (self);
}

/**
 * tether_store_get_meta:
 *
 * Returns: (transfer none) (nullable): the value, valid until the key is
 *   set again or the store is closed
 */
JsonNode *
tether_store_get_meta (TetherStore *self,
                       const char  *key)
{
  g_return_val_if_fail (TETHER_IS_STORE (self), NULL);
  g_return_val_if_fail (key != NULL, NULL);

  if (self->meta == NULL)
    return NULL;

  return json_object_get_member (self->meta, key);
}

static void
queue_flush (TetherStore *self,
             GTask       *task)
{
  if (self->state == STORE_CLOSED)
    {
      g_task_return_new_error (task, TETHER_STORE_ERROR, TETHER_STORE_ERROR_CLOSED,
                               _("The store at “%s” is not open"),
                               file_path (self->directory));
      return;
    }

  if (self->queued_seq <= self->written_seq)
    {
      g_task_return_boolean (task, TRUE);
      return;
    }

  g_task_set_task_data (task, g_memdup2 (&self->queued_seq, sizeof self->queued_seq), g_free);
  g_queue_push_tail (&self->flush_waiters, g_object_ref (task));
  schedule_write (self);
}

void
tether_store_flush_async (TetherStore         *self,
                          GCancellable        *cancellable,
                          GAsyncReadyCallback  callback,
                          gpointer             user_data)
{
  g_autoptr(GTask) task = NULL;

  g_return_if_fail (TETHER_IS_STORE (self));
  g_return_if_fail (!cancellable || G_IS_CANCELLABLE (cancellable));

  task = g_task_new (self, cancellable, callback, user_data);
  g_task_set_source_tag (task, tether_store_flush_async);

  queue_flush (self, task);
}

gboolean
tether_store_flush_finish (TetherStore   *self,
                           GAsyncResult  *result,
                           GError       **error)
{
  g_return_val_if_fail (TETHER_IS_STORE (self), FALSE);
  g_return_val_if_fail (g_task_is_valid (result, self), FALSE);
  g_return_val_if_fail (g_task_get_source_tag (G_TASK (result)) == tether_store_flush_async, FALSE);

  return g_task_propagate_boolean (G_TASK (result), error);
}

static gboolean
wait_for_io (TetherStore *self)
{
  /* Writes and compactions complete on the store's main context. */
  while (self->state == STORE_OPEN && (self->io_busy || self->compaction != NULL))
    g_main_context_iteration (self->context, TRUE);

  return self->state == STORE_OPEN;
}

gboolean
tether_store_flush (TetherStore  *self,
                    GError      **error)
{
  g_return_val_if_fail (TETHER_IS_STORE (self), FALSE);

  if (self->state == STORE_OPENING)
    {
      g_autoptr(GMainContext) context = g_main_context_ref (self->loader->context);

      while (self->state == STORE_OPENING)
        g_main_context_iteration (context, TRUE);
    }

  if (self->state != STORE_OPEN)
    {
      g_set_error (error, TETHER_STORE_ERROR, TETHER_STORE_ERROR_CLOSED,
                   _("The store at “%s” is not open"),
                   file_path (self->directory));
      return FALSE;
    }

  while (self->io_busy)
    g_main_context_iteration (self->context, TRUE);

  if (!write_pending_now (self, error))
    return FALSE;

  io_kick (self);

  return TRUE;
}

void
tether_store_save_async (TetherStore         *self,
                         TetherRecord        *record,
                         GCancellable        *cancellable,
                         GAsyncReadyCallback  callback,
                         gpointer             user_data)
{
  g_autoptr(GTask) task = NULL;

  g_return_if_fail (TETHER_IS_STORE (self));
  g_return_if_fail (TETHER_IS_RECORD (record));
  g_return_if_fail (!cancellable || G_IS_CANCELLABLE (cancellable));

  task = g_task_new (self, cancellable, callback, user_data);
  g_task_set_source_tag (task, tether_store_save_async);

  if (self->state != STORE_CLOSED)
    tether_store_save (self, record);

  queue_flush (self, task);
}

gboolean
tether_store_save_finish (TetherStore   *self,
                          GAsyncResult  *result,
                          GError       **error)
{
  g_return_val_if_fail (TETHER_IS_STORE (self), FALSE);
  g_return_val_if_fail (g_task_is_valid (result, self), FALSE);
  g_return_val_if_fail (g_task_get_source_tag (G_TASK (result)) == tether_store_save_async, FALSE);

  return g_task_propagate_boolean (G_TASK (result), error);
}

/**
 * tether_store_compact_async:
 *
 * Completes once a snapshot taken after this call is in place. Saves go on
 * meanwhile; the ones made after the collection point stay in the journal.
 */
void
tether_store_compact_async (TetherStore         *self,
                            GCancellable        *cancellable,
                            GAsyncReadyCallback  callback,
                            gpointer             user_data)
{
  g_autoptr(GTask) task = NULL;

  g_return_if_fail (TETHER_IS_STORE (self));
  g_return_if_fail (!cancellable || G_IS_CANCELLABLE (cancellable));

  task = g_task_new (self, cancellable, callback, user_data);
  g_task_set_source_tag (task, tether_store_compact_async);

  if (self->state != STORE_OPEN)
    {
      g_task_return_new_error (task, TETHER_STORE_ERROR, TETHER_STORE_ERROR_CLOSED,
                               _("The store at “%s” is not open"),
                               file_path (self->directory));
      return;
    }

  if (self->compaction == NULL)
    start_compaction (self, task);
  else if (!self->compaction->collected)
    g_ptr_array_add (self->compaction->waiters, g_object_ref (task));
  else
    g_ptr_array_add (self->compact_next, g_object_ref (task));
}

gboolean
tether_store_compact_finish (TetherStore   *self,
                             GAsyncResult  *result,
                             GError       **error)
{
  g_return_val_if_fail (TETHER_IS_STORE (self), FALSE);
  g_return_val_if_fail (g_task_is_valid (result, self), FALSE);
  g_return_val_if_fail (g_task_get_source_tag (G_TASK (result)) == tether_store_compact_async, FALSE);

  return g_task_propagate_boolean (G_TASK (result), error);
}

const GError *
tether_store_get_write_error (TetherStore *self)
{
  g_return_val_if_fail (TETHER_IS_STORE (self), NULL);

  return self->write_error;
}

guint64
tether_store_get_bytes_written (TetherStore *self)
{
  g_return_val_if_fail (TETHER_IS_STORE (self), 0);

  return self->bytes_written;
}

/**
 * tether_store_close:
 *
 * Waits for the write or compaction in flight (iterating the store's main
 * context), writes what is queued on this thread, and releases the lock.
 * An opening store stops opening. Returns %FALSE when queued changes could
 * not be written; the store is closed all the same.
 */
gboolean
tether_store_close (TetherStore  *self,
                    GError      **error)
{
  g_autoptr(GError) local_error = NULL;

  g_return_val_if_fail (TETHER_IS_STORE (self), FALSE);

  if (self->state == STORE_OPENING)
    {
      g_autoptr(GMainContext) context = g_main_context_ref (self->loader->context);

      /* The open completes (cancelled) once its worker stops; the records
       * it already added stay in the collection. */
      g_cancellable_cancel (self->open_cancellable);
      while (self->state == STORE_OPENING)
        g_main_context_iteration (context, TRUE);
    }

  if (self->state == STORE_CLOSED)
    return TRUE;

  self->closing = TRUE;

  /* Let an append or a compaction in flight finish: their threads use the
   * journal and the directory we are about to let go of. */
  wait_for_io (self);

  if (!write_pending_now (self, &local_error))
    g_prefix_error (&local_error, "%s ", _("Changes were lost while closing the store."));

  if (local_error != NULL)
    fail_waiters (self, local_error);
  release (self);
  self->closing = FALSE;

  if (local_error != NULL)
    {
      g_propagate_error (error, g_steal_pointer (&local_error));
      return FALSE;
    }

  return TRUE;
}

void
tether_store_set_write_fault_for_testing (TetherStore *self,
                                          int          errno_value)
{
  g_return_if_fail (TETHER_IS_STORE (self));

  self->write_fault = errno_value;
}

guint
tether_store_get_n_commits_for_testing (TetherStore *self)
{
  g_return_val_if_fail (TETHER_IS_STORE (self), 0);

  return self->n_commits;
}
