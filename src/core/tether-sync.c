/* tether-sync.c
 *
 * Copyright 2026 The Tether authors
 *
 * SPDX-License-Identifier: GPL-3.0-or-later
 */

#include "config.h"

#include <glib/gi18n-lib.h>

#include "tether-enums.h"
#include "tether-sync.h"

/*
 * One sync is pull → merge → push, on the main loop:
 *
 * Pull fetches every page of the collection, sending the ETag of each page
 * from last time; a 304 page is known unchanged, and the ids it held (kept
 * in the store's meta) count as listed. Each server record is merged with
 * its local record and base: a three-way merge, field by field, whose
 * real clashes go to the conflict policy.
 *
 * Push sends deletions, creates and updates, a few in flight at once. Each
 * outcome is applied to its record (and so saved by the store) when it
 * arrives; a create's reply gives the record its server id.
 *
 * A create whose outcome is unknown (the connection dropped, the reply was
 * unreadable) is not sent again blindly: every create carries the record's
 * cid in the client-id field, so a second pull recognises the record if the
 * server did create it, and only then does the push run again. A 412 on an
 * update takes the same second round.
 */

#define PAGE_META_PREFIX "pull-page:"
#define LAST_SYNC_META   "last-sync"

struct _TetherSync
{
  GObject           parent_instance;

  TetherAccount    *account;
  TetherRemote     *remote;
  TetherCollection *collection;
  TetherStore      *store;

  struct _SyncRun  *run;

  TetherSyncPhase   phase;
  char             *progress_text;
  double            fraction;
  GDateTime        *last_sync;
  TetherSyncReport  last_report;

  guint             retry_base_ms;
  guint             retry_max_ms;
  guint             max_attempts;
};

G_DEFINE_FINAL_TYPE (TetherSync, tether_sync, G_TYPE_OBJECT)

enum {
  PROP_0,
  PROP_RUNNING,
  PROP_PHASE,
  PROP_PROGRESS_TEXT,
  PROP_FRACTION,
  PROP_LAST_SYNC,
  N_PROPS
};

enum {
  FINISHED,
  N_SIGNALS
};

static GParamSpec *properties[N_PROPS];
static guint signals[N_SIGNALS];

typedef enum
{
  OP_DELETE,
  OP_CREATE,
  OP_UPDATE,
} OpKind;

typedef struct _SyncRun SyncRun;

typedef struct
{
  SyncRun      *run;
  TetherRecord *record;
  OpKind        kind;
  /* The revision the body was made from: a later one is an edit made
   * while the request was out. */
  guint64       revision;
  guint         attempts;
  /* What a create or an update sends (made once, sent again as it is on
   * a retry), and the update's method. */
  JsonObject   *body;
  TetherUpdateMethod method;
  gboolean      prepared;
  gboolean      nothing;
} PushOp;

struct _SyncRun
{
  TetherSync       *self;
  GPtrArray        *tasks;
  GCancellable     *cancellable;
  TetherSyncFlags   flags;
  TetherSyncReport  report;
  GError           *error;
  guint             round;
  guint             need_second_round : 1;
  guint             stopping : 1;
  guint             pumping : 1;

  /* Pull */
  char             *page_url;
  guint             page_number;
  gint64            last_page;
  guint             page_attempts;
  /* The local records (list items and tombstones) the listing holds,
   * each with a reference: found by the ids it gave, or made from it. */
  GHashTable       *listed;
  /* The collection's size as the first page gave it, and whether a later
   * page gave another: records added or deleted meanwhile moved others
   * across page boundaries, and one may have been missed. */
  gint64            total_count;
  guint             listing_moved : 1;
  guint             listings_moved;

  /* Push */
  GQueue            queue;
  guint             in_flight;
  guint             push_done;
  guint             push_total;
  guint             pending_retries;
  guint             second_round_delay_ms;
};

/* Listings in one sync that saw the collection change under them before
 * it goes on without detecting deletions. */
#define MAX_MOVED_LISTINGS 3

static void sync_pull_start   (SyncRun *run);
static void sync_push_start   (SyncRun *run);
static void sync_push_pump    (SyncRun *run);
static void sync_finish       (SyncRun *run);

/*
 * JSON helpers
 */

static gboolean
nodes_equal (JsonNode *a,
             JsonNode *b)
{
  if (a == NULL || b == NULL)
    return a == b;

  return json_node_equal (a, b);
}

static gboolean
objects_equal (JsonObject *a,
               JsonObject *b)
{
  g_autoptr(JsonNode) na = NULL;
  g_autoptr(JsonNode) nb = NULL;

  if (a == NULL || b == NULL)
    return a == b;

  na = json_node_init_object (json_node_alloc (), a);
  nb = json_node_init_object (json_node_alloc (), b);

  return json_node_equal (na, nb);
}

static JsonObject *
object_copy (JsonObject *object)
{
  g_autoptr(JsonNode) node = json_node_init_object (json_node_alloc (), object);
  g_autofree char *text = json_to_string (node, FALSE);
  g_autoptr(JsonNode) copy = json_from_string (text, NULL);

  /* A deep copy: json_node_copy() shares the object it wraps. */
  return json_object_ref (json_node_get_object (copy));
}

/* A copy of a server object without its id member: the record keeps the id
 * apart, and the attributes are what the user edits. */
static JsonObject *
server_attributes (JsonObject *object,
                   const char *id_field)
{
  JsonObject *copy = json_object_new ();
  JsonObjectIter iter;
  const char *name;
  JsonNode *value;

  json_object_iter_init_ordered (&iter, object);
  while (json_object_iter_next_ordered (&iter, &name, &value))
    if (g_strcmp0 (name, id_field) != 0)
      json_object_set_member (copy, name, json_node_copy (value));

  return copy;
}

/*
 * Progress
 */

static void
set_progress (TetherSync      *self,
              TetherSyncPhase  phase,
              double           fraction,
              char            *text)
{
  if (self->phase != phase)
    {
      self->phase = phase;
      g_object_notify_by_pspec (G_OBJECT (self), properties[PROP_PHASE]);
    }

  if (self->fraction != fraction)
    {
      self->fraction = fraction;
      g_object_notify_by_pspec (G_OBJECT (self), properties[PROP_FRACTION]);
    }

  if (g_strcmp0 (self->progress_text, text) != 0)
    {
      g_free (self->progress_text);
      self->progress_text = text;
      g_object_notify_by_pspec (G_OBJECT (self), properties[PROP_PROGRESS_TEXT]);
    }
  else
    {
      g_free (text);
    }
}

static void
update_pull_progress (SyncRun *run)
{
  TetherSync *self = run->self;

  if (run->last_page > 0)
    set_progress (self, TETHER_SYNC_PHASE_PULLING,
                  CLAMP ((double) (run->page_number - 1) / run->last_page, 0.0, 1.0),
                  g_strdup_printf (_("Pulling page %u of %u"),
                                   run->page_number,
                                   (guint) MIN (MAX (run->last_page, (gint64) run->page_number), G_MAXUINT)));
  else
    set_progress (self, TETHER_SYNC_PHASE_PULLING, -1,
                  g_strdup_printf (_("Pulling page %u"), run->page_number));
}

static void
update_push_progress (SyncRun *run)
{
  TetherSync *self = run->self;
  guint current = MIN (run->push_done + 1, run->push_total);

  set_progress (self, TETHER_SYNC_PHASE_PUSHING,
                run->push_total > 0 ? (double) run->push_done / run->push_total : 1.0,
                g_strdup_printf (_("Pushing %u of %u"), current, run->push_total));
}

/*
 * Stopping
 */

/* Offline, auth, TLS, cancellation, a full disk: nothing more is sent in
 * this sync. What was not sent stays pending. */
static void
sync_stop (SyncRun *run,
           GError  *error)
{
  g_assert (error != NULL);

  if (run->error == NULL)
    run->error = error;
  else
    g_error_free (error);

  run->stopping = TRUE;
}

static gboolean
error_stops_sync (const GError *error)
{
  return g_error_matches (error, G_IO_ERROR, G_IO_ERROR_CANCELLED) ||
         g_error_matches (error, TETHER_REMOTE_ERROR, TETHER_REMOTE_ERROR_OFFLINE) ||
         g_error_matches (error, TETHER_REMOTE_ERROR, TETHER_REMOTE_ERROR_AUTH) ||
         g_error_matches (error, TETHER_REMOTE_ERROR, TETHER_REMOTE_ERROR_TLS) ||
         g_error_matches (error, TETHER_REMOTE_ERROR, TETHER_REMOTE_ERROR_INSECURE) ||
         error->domain == TETHER_STORE_ERROR;
}

static guint
retry_delay_ms (TetherSync   *self,
                const GError *error,
                guint         attempts)
{
  guint retry_after = tether_remote_error_get_retry_after (error);
  guint64 delay;

  if (retry_after > 0)
    return (guint) MIN ((guint64) retry_after * 1000, G_MAXUINT);

  /* Exponential backoff with full jitter on the upper half, so that many
   * clients thrown off by the same outage do not come back in step. */
  delay = (guint64) self->retry_base_ms << MIN (attempts - 1, 16u);
  delay = MIN (delay, self->retry_max_ms);

  return (guint) (delay / 2 + g_random_int_range (0, (gint32) MAX (delay / 2, 1)));
}

/*
 * Merge
 */

static void
mark_listed (SyncRun      *run,
             TetherRecord *record)
{
  if (!g_hash_table_contains (run->listed, record))
    g_hash_table_add (run->listed, g_object_ref (record));
}

/* Whether the listing holds the record's server id. Two local records
 * with one id (which should not happen) go by the one the index finds. */
static gboolean
is_listed (SyncRun      *run,
           TetherRecord *record)
{
  JsonNode *id = tether_record_get_id (record);
  TetherRecord *indexed;

  if (id == NULL)
    return FALSE;

  indexed = tether_collection_lookup_id (run->self->collection, id);

  return indexed != NULL && g_hash_table_contains (run->listed, indexed);
}

static void
merge_three_way (SyncRun      *run,
                 TetherRecord *record,
                 JsonObject   *server)
{
  TetherConflictPolicy policy = tether_account_get_conflict_policy (run->self->account);
  JsonObject *base = tether_record_get_base (record);
  JsonObject *sent = tether_record_get_sent (record);
  JsonObject *local = tether_record_get_attributes (record);
  g_autoptr(JsonObject) merged = json_object_new ();
  g_autoptr(JsonObject) conflict = json_object_new ();
  g_autoptr(GHashTable) names = g_hash_table_new (g_str_hash, g_str_equal);
  g_autoptr(GPtrArray) order = g_ptr_array_new ();
  JsonObject *sources[] = { local, server, base };
  JsonObject *previous = tether_record_get_sync_state (record) == TETHER_SYNC_STATE_CONFLICT
                           ? tether_record_get_conflict (record)
                           : NULL;
  TetherSyncState state;

  /* Every field any side has, in the local order first. */
  for (guint i = 0; i < G_N_ELEMENTS (sources); i++)
    {
      JsonObjectIter iter;
      const char *name;
      JsonNode *value;

      if (sources[i] == NULL)
        continue;

      json_object_iter_init_ordered (&iter, sources[i]);
      while (json_object_iter_next_ordered (&iter, &name, &value))
        if (g_hash_table_add (names, (gpointer) name))
          g_ptr_array_add (order, (gpointer) name);
    }

  for (guint i = 0; i < order->len; i++)
    {
      const char *name = g_ptr_array_index (order, i);
      JsonNode *b = base ? json_object_get_member (base, name) : NULL;
      JsonNode *l = json_object_get_member (local, name);
      JsonNode *s = json_object_get_member (server, name);
      JsonNode *take;

      /* The server has what this client sent in an update whose reply
       * never came: that value is this client's own, not the server's
       * change. */
      if (sent != NULL && nodes_equal (s, json_object_get_member (sent, name)))
        b = s;

      /* A field already in conflict stays one until the user settles it
       * or both sides agree: the base moved on to the server's version
       * when the clash was found, so it no longer tells who changed what. */
      if (nodes_equal (l, s))
        take = l;
      else if (previous != NULL && json_object_has_member (previous, name))
        goto clash;
      else if (nodes_equal (l, b))
        take = s;                               /* changed on the server only */
      else if (nodes_equal (s, b))
        take = l;                               /* changed here only */
      else
clash:
        {
          /* Changed on both sides to different values: a real clash. */
          switch (policy)
            {
            case TETHER_CONFLICT_POLICY_LOCAL_WINS:
              take = l;
              break;

            case TETHER_CONFLICT_POLICY_SERVER_WINS:
              take = s;
              break;

            case TETHER_CONFLICT_POLICY_ASK:
            default:
              {
                JsonObject *entry = json_object_new ();

                if (s != NULL)
                  json_object_set_member (entry, "theirs", json_node_copy (s));
                json_object_set_object_member (conflict, name, entry);
                take = l;
              }
              break;
            }
        }

      if (take != NULL)
        json_object_set_member (merged, name, json_node_copy (take));
    }

  if (json_object_get_size (conflict) > 0)
    state = TETHER_SYNC_STATE_CONFLICT;
  else if (objects_equal (merged, server))
    state = TETHER_SYNC_STATE_SYNCED;
  else
    state = TETHER_SYNC_STATE_PENDING;

  tether_record_set_conflict (record, state == TETHER_SYNC_STATE_CONFLICT ? conflict : NULL);
  tether_record_apply_server (record, merged, server, state);
  if (state != TETHER_SYNC_STATE_CONFLICT)
    tether_record_set_error_message (record, NULL);
}

static void
merge_existing (SyncRun      *run,
                TetherRecord *record,
                JsonObject   *server)
{
  TetherSync *self = run->self;
  JsonObject *base = tether_record_get_base (record);
  TetherSyncState state = tether_record_get_sync_state (record);

  switch (state)
    {
    case TETHER_SYNC_STATE_SYNCED:
      if (objects_equal (base, server) &&
          objects_equal (tether_record_get_attributes (record), server))
        return;
      tether_record_apply_server (record, server, server, TETHER_SYNC_STATE_SYNCED);
      break;

    case TETHER_SYNC_STATE_PENDING:
    case TETHER_SYNC_STATE_PUSHING:
    case TETHER_SYNC_STATE_ERROR:
      /* Unchanged on the server since we last saw it: keep what is here. */
      if (base != NULL && objects_equal (base, server))
        return;
      merge_three_way (run, record, server);
      break;

    case TETHER_SYNC_STATE_CONFLICT:
      /* Merged again at every pull, even with the server unchanged: an
       * edit made here since may have settled a clash (both sides now
       * agree), and the record must not list it any more. */
      merge_three_way (run, record, server);
      break;

    case TETHER_SYNC_STATE_DELETED:
      if (base != NULL && objects_equal (base, server))
        return;

      /* Deleted here, and the server's version differs from the last one
       * seen. That may be another client's edit, or this client's own
       * update whose reply was lost. When the record says what that update
       * made, the two can be told apart; when they cannot, bringing back a
       * record the user deleted on a guess would undo an explicit choice.
       * The deletion stands, unless the policy is to take the server's
       * version of another client's edit. */
      if (tether_account_get_conflict_policy (self->account) != TETHER_CONFLICT_POLICY_SERVER_WINS ||
          objects_equal (tether_record_get_sent (record), server))
        {
          tether_record_apply_server (record, tether_record_get_attributes (record), server,
                                      TETHER_SYNC_STATE_DELETED);
          tether_record_set_etag (record, NULL);
          tether_store_save (self->store, record);
          return;
        }

      tether_collection_restore (self->collection, record, TETHER_SYNC_STATE_SYNCED);
      tether_record_apply_server (record, server, server, TETHER_SYNC_STATE_SYNCED);
      break;

    default:
      g_assert_not_reached ();
    }

  /* The ETag came with an earlier reply for this one record; a listing
   * gives none, and a stale one would make every update a 412. */
  tether_record_set_etag (record, NULL);
  tether_store_save (self->store, record);
  run->report.pulled++;
}

static void
merge_server_object (SyncRun    *run,
                     JsonObject *object,
                     GPtrArray  *new_records)
{
  TetherSync *self = run->self;
  const char *id_field = tether_account_get_id_field (self->account);
  const char *cid_field = tether_account_get_client_id_field (self->account);
  JsonNode *id = json_object_get_member (object, id_field);
  g_autoptr(JsonObject) attributes = NULL;
  TetherRecord *record;

  if (id == NULL || !tether_record_id_is_valid (id))
    return;

  attributes = server_attributes (object, id_field);

  record = tether_collection_lookup_id (self->collection, id);

  /* A record we created whose reply never came back: the server has it
   * under our cid. It is that record, not a new one. */
  if (record == NULL && cid_field != NULL && cid_field[0] != '\0')
    {
      JsonNode *cid = json_object_get_member (object, cid_field);

      if (cid != NULL &&
          JSON_NODE_HOLDS_VALUE (cid) &&
          json_node_get_value_type (cid) == G_TYPE_STRING)
        {
          TetherRecord *mine = tether_collection_lookup_cid (self->collection, json_node_get_string (cid));

          if (mine != NULL && tether_record_get_id (mine) == NULL)
            {
              g_debug ("Record %s was created by an earlier push; adopting id",
                       tether_record_get_cid (mine));
              tether_record_set_id (mine, id);
              tether_record_set_etag (mine, NULL);

              /* Deleted here before we knew the create had worked: the
               * deletion stands, and goes out as a DELETE. */
              if (tether_record_get_sync_state (mine) == TETHER_SYNC_STATE_DELETED)
                {
                  tether_record_apply_server (mine, tether_record_get_attributes (mine),
                                              attributes, TETHER_SYNC_STATE_DELETED);
                  tether_store_save (self->store, mine);
                  mark_listed (run, mine);
                  return;
                }

              record = mine;
            }
        }
    }

  if (record == NULL)
    {
      g_ptr_array_add (new_records, tether_record_new_from_server (id, attributes));
      run->report.pulled++;
      return;
    }

  mark_listed (run, record);
  merge_existing (run, record, attributes);
}

/* A record the server no longer lists. */
static void
handle_server_deletion (SyncRun      *run,
                        TetherRecord *record,
                        GPtrArray    *forget)
{
  TetherSync *self = run->self;
  TetherSyncState state = tether_record_get_sync_state (record);
  TetherConflictPolicy policy = tether_account_get_conflict_policy (self->account);
  JsonObject *attributes;

  if (state == TETHER_SYNC_STATE_SYNCED ||
      state == TETHER_SYNC_STATE_DELETED ||
      policy == TETHER_CONFLICT_POLICY_SERVER_WINS)
    {
      g_ptr_array_add (forget, g_object_ref (record));
      return;
    }

  /* Changed here, deleted there. The record loses its server id: keeping
   * it means creating it again. */
  attributes = tether_record_get_attributes (record);
  tether_record_set_id (record, NULL);

  if (policy == TETHER_CONFLICT_POLICY_LOCAL_WINS)
    {
      tether_record_set_conflict (record, NULL);
      tether_record_apply_server (record, attributes, NULL, TETHER_SYNC_STATE_PENDING);
    }
  else
    {
      g_autoptr(JsonObject) conflict = json_object_new ();
      JsonObjectIter iter;
      const char *name;
      JsonNode *value;

      /* Every field against "the server has nothing": keeping all of
       * theirs deletes the record, keeping any of mine creates it again. */
      json_object_iter_init_ordered (&iter, attributes);
      while (json_object_iter_next_ordered (&iter, &name, &value))
        json_object_set_object_member (conflict, name, json_object_new ());

      tether_record_set_conflict (record, conflict);
      tether_record_apply_server (record, attributes, NULL, TETHER_SYNC_STATE_CONFLICT);
      tether_record_set_error_message (record, _("This record was deleted on the server after you changed it here."));
    }

  tether_store_save (self->store, record);
}

static void
detect_server_deletions (SyncRun *run)
{
  TetherSync *self = run->self;
  g_autoptr(GPtrArray) forget = g_ptr_array_new_with_free_func (g_object_unref);
  GPtrArray *tombstones;

  /* Every record the id index holds was listed: none was deleted on the
   * server, and the records need not be looked at one by one (an idle
   * sync of a large collection would stall the main loop on it). */
  if (g_hash_table_size (run->listed) < tether_collection_get_n_with_id (self->collection))
    {
      GListModel *model = G_LIST_MODEL (self->collection);
      guint n_items = g_list_model_get_n_items (model);

      for (guint i = 0; i < n_items; i++)
        {
          g_autoptr(TetherRecord) record = g_list_model_get_item (model, i);

          if (tether_record_get_id (record) != NULL && !is_listed (run, record))
            handle_server_deletion (run, record, forget);
        }
    }

  /* A tombstone the listing does not hold is done; one without an id is
   * a create that never reached the server (the listing would have
   * matched its cid). */
  tombstones = tether_collection_get_tombstones (self->collection);
  for (guint i = 0; i < tombstones->len; i++)
    {
      TetherRecord *record = g_ptr_array_index (tombstones, i);

      if (!is_listed (run, record))
        g_ptr_array_add (forget, g_object_ref (record));
    }

  for (guint i = 0; i < forget->len; i++)
    tether_store_remove (self->store, tether_record_get_cid (g_ptr_array_index (forget, i)));

  if (forget->len > 0)
    tether_collection_forget_many (self->collection, (TetherRecord **) forget->pdata, forget->len);

  run->report.deleted += forget->len;
}

/*
 * Pull
 */

static char *
page_meta_key (const char *url)
{
  return g_strconcat (PAGE_META_PREFIX, url, NULL);
}

static JsonObject *
lookup_page_meta (TetherSync *self,
                  const char *url)
{
  g_autofree char *key = page_meta_key (url);
  JsonNode *node = tether_store_get_meta (self->store, key);

  if (node == NULL || !JSON_NODE_HOLDS_OBJECT (node))
    return NULL;

  return json_node_get_object (node);
}

/* What a page held, so that a 304 next time still tells which records the
 * server lists. Written only when it differs from what is stored. */
static void
save_page_meta (TetherSync       *self,
                TetherRemotePage *page)
{
  g_autoptr(JsonObject) meta = json_object_new ();
  g_autoptr(JsonNode) node = NULL;
  g_autofree char *key = page_meta_key (page->url);
  const char *id_field = tether_account_get_id_field (self->account);
  JsonArray *ids = json_array_new ();
  JsonNode *old;

  for (guint i = 0; i < json_array_get_length (page->items); i++)
    {
      JsonObject *object = json_array_get_object_element (page->items, i);
      JsonNode *id = object ? json_object_get_member (object, id_field) : NULL;

      if (id != NULL)
        json_array_add_element (ids, json_node_copy (id));
    }

  if (page->etag != NULL)
    json_object_set_string_member (meta, "etag", page->etag);
  if (page->next_url != NULL)
    json_object_set_string_member (meta, "next", page->next_url);
  json_object_set_int_member (meta, "last", page->last_page);
  json_object_set_array_member (meta, "ids", ids);

  node = json_node_init_object (json_node_alloc (), meta);
  old = tether_store_get_meta (self->store, key);
  if (old == NULL || !json_node_equal (old, node))
    tether_store_set_meta (self->store, key, node);
}

static void sync_fetch_page (SyncRun *run);

static gboolean
retry_page_cb (gpointer user_data)
{
  SyncRun *run = user_data;

  run->pending_retries--;
  if (run->stopping)
    sync_finish (run);
  else
    sync_fetch_page (run);

  return G_SOURCE_REMOVE;
}

static void
sync_page_cb (GObject      *object,
              GAsyncResult *result,
              gpointer      user_data)
{
  TetherRemote *remote = (TetherRemote *)object;
  SyncRun *run = user_data;
  TetherSync *self = run->self;
  g_autoptr(TetherRemotePage) page = NULL;
  g_autoptr(GError) error = NULL;
  const char *next_url = NULL;

  page = tether_remote_list_page_finish (remote, result, &error);

  if (page == NULL)
    {
      if (!error_stops_sync (error) &&
          tether_remote_error_is_transient (error) &&
          ++run->page_attempts < self->max_attempts)
        {
          guint delay = retry_delay_ms (self, error, run->page_attempts);

          if (delay <= self->retry_max_ms)
            {
              g_debug ("Page %u failed (%s); trying again in %u ms",
                       run->page_number, error->message, delay);
              run->pending_retries++;
              g_timeout_add (delay, retry_page_cb, run);
              return;
            }
        }

      /* Without the whole listing nothing is merged further and nothing
       * is pushed: a bad page changes nothing here. */
      sync_stop (run, g_steal_pointer (&error));
      sync_finish (run);
      return;
    }

  run->page_attempts = 0;

  if (page->total_count >= 0)
    {
      if (run->total_count < 0)
        run->total_count = page->total_count;
      else if (run->total_count != page->total_count)
        run->listing_moved = TRUE;
    }

  if (page->not_modified)
    {
      JsonObject *meta = lookup_page_meta (self, page->url);
      JsonArray *ids = meta ? json_object_get_array_member (meta, "ids") : NULL;

      if (meta == NULL || ids == NULL)
        {
          /* A 304 for a page we know nothing of: only possible if the
           * store lost its meta. Ask again without the ETag. */
          g_autofree char *key = page_meta_key (page->url);

          tether_store_set_meta (self->store, key, NULL);
          sync_fetch_page (run);
          return;
        }

      for (guint i = 0; i < json_array_get_length (ids); i++)
        {
          JsonNode *id = json_array_get_element (ids, i);
          TetherRecord *record = tether_record_id_is_valid (id)
                                   ? tether_collection_lookup_id (self->collection, id)
                                   : NULL;

          if (record != NULL)
            mark_listed (run, record);
        }

      next_url = json_object_get_string_member_with_default (meta, "next", NULL);
      run->last_page = json_object_get_int_member_with_default (meta, "last", 0);
    }
  else
    {
      g_autoptr(GPtrArray) new_records = g_ptr_array_new_with_free_func (g_object_unref);

      for (guint i = 0; i < json_array_get_length (page->items); i++)
        merge_server_object (run, json_array_get_object_element (page->items, i), new_records);

      /* One items-changed for the page's new records. */
      if (new_records->len > 0)
        {
          tether_collection_add_many (self->collection,
                                      (TetherRecord **) new_records->pdata,
                                      new_records->len);
          for (guint i = 0; i < new_records->len; i++)
            {
              tether_store_save (self->store, g_ptr_array_index (new_records, i));
              mark_listed (run, g_ptr_array_index (new_records, i));
            }
        }

      save_page_meta (self, page);
      next_url = page->next_url;
      if (page->last_page > 0)
        run->last_page = page->last_page;
    }

  if (next_url != NULL && !run->stopping)
    {
      g_free (run->page_url);
      run->page_url = g_strdup (next_url);
      run->page_number++;
      sync_fetch_page (run);
      return;
    }

  if (run->stopping)
    {
      sync_finish (run);
      return;
    }

  if (run->listing_moved)
    {
      /* A record missing from this listing may still be on the server:
       * list again (most pages are then 304). After a few tries, go on
       * without taking anything for deleted. */
      if (++run->listings_moved < MAX_MOVED_LISTINGS)
        {
          g_debug ("The collection changed during the listing; listing it again");
          sync_pull_start (run);
          return;
        }
    }
  else
    {
      /* The listing is complete: what it does not hold was deleted. */
      detect_server_deletions (run);
    }

  if (run->flags & TETHER_SYNC_FLAGS_PUSH)
    sync_push_start (run);
  else
    sync_finish (run);
}

static void
sync_fetch_page (SyncRun *run)
{
  TetherSync *self = run->self;
  JsonObject *meta = lookup_page_meta (self, run->page_url);
  const char *etag = NULL;

  if (meta != NULL)
    etag = json_object_get_string_member_with_default (meta, "etag", NULL);

  update_pull_progress (run);
  tether_remote_list_page_async (self->remote,
                                 run->page_url,
                                 etag,
                                 run->cancellable,
                                 sync_page_cb,
                                 run);
}

static void
sync_pull_start (SyncRun *run)
{
  TetherSync *self = run->self;
  GError *error = NULL;

  g_clear_pointer (&run->page_url, g_free);
  g_clear_pointer (&run->listed, g_hash_table_unref);

  run->page_url = tether_remote_dup_first_page_url (self->remote, &error);
  if (run->page_url == NULL)
    {
      sync_stop (run, error);
      sync_finish (run);
      return;
    }

  run->listed = g_hash_table_new_full (NULL, NULL, g_object_unref, NULL);
  run->page_number = 1;
  run->page_attempts = 0;
  run->last_page = 0;
  run->total_count = -1;
  run->listing_moved = FALSE;

  sync_fetch_page (run);
}

/*
 * Push
 */

static void
push_op_free (PushOp *op)
{
  g_clear_object (&op->record);
  g_clear_pointer (&op->body, json_object_unref);
  g_free (op);
}

static PushOp *
push_op_new (SyncRun      *run,
             TetherRecord *record,
             OpKind        kind)
{
  PushOp *op = g_new0 (PushOp, 1);

  op->run = run;
  op->record = g_object_ref (record);
  op->kind = kind;

  return op;
}

/* Applies a reply of the server (the record as it now is there) to the
 * record that was sent. An edit made while the request was in flight
 * bumped the revision: it stays, pending, on top of the new base. */
static void
apply_reply (SyncRun      *run,
             PushOp       *op,
             JsonObject   *reply,
             JsonObject   *sent)
{
  TetherSync *self = run->self;
  const char *id_field = tether_account_get_id_field (self->account);
  g_autoptr(JsonObject) server = NULL;
  gboolean unchanged = tether_record_get_revision (op->record) == op->revision;

  if (reply != NULL)
    server = server_attributes (reply, id_field);
  else if (tether_record_get_base (op->record) != NULL && sent != NULL)
    {
      /* No body in the reply (204): the server now holds the base with
       * what was sent applied. */
      JsonObjectIter iter;
      const char *name;
      JsonNode *value;

      server = server_attributes (tether_record_get_base (op->record), id_field);
      json_object_iter_init_ordered (&iter, sent);
      while (json_object_iter_next_ordered (&iter, &name, &value))
        json_object_set_member (server, name, json_node_copy (value));
    }
  else
    server = tether_record_to_json (op->record);

  if (unchanged)
    tether_record_apply_server (op->record, server, server, TETHER_SYNC_STATE_SYNCED);
  else
    {
      /* Edited meanwhile: the local version stays, with what the server
       * added by itself (the client-id field, a creation date) so that a
       * later PUT does not take it away again. */
      const char *cid_field = tether_account_get_client_id_field (self->account);
      g_autoptr(JsonObject) local = object_copy (tether_record_get_attributes (op->record));
      JsonObjectIter iter;
      const char *name;
      JsonNode *value;

      JsonObject *old_base = tether_record_get_base (op->record);

      /* Added by the server: in its reply, but neither in what was sent
       * nor in the version it had before. A field the user removed
       * meanwhile was in that version, and stays removed. */
      json_object_iter_init_ordered (&iter, server);
      while (json_object_iter_next_ordered (&iter, &name, &value))
        if (!json_object_has_member (local, name) &&
            (g_strcmp0 (name, cid_field) == 0 ||
             ((sent == NULL || !json_object_has_member (sent, name)) &&
              (old_base == NULL || json_object_get_size (old_base) == 0 ||
               !json_object_has_member (old_base, name)))))
          json_object_set_member (local, name, json_node_copy (value));

      tether_record_apply_server (op->record, local, server,
                                  objects_equal (local, server)
                                    ? TETHER_SYNC_STATE_SYNCED
                                    : TETHER_SYNC_STATE_PENDING);
    }

  tether_record_set_error_message (op->record, NULL);
}

/* The user deleted the record while its create or update was in flight.
 * The server has the record now: it is a tombstone with that id, and its
 * DELETE goes out in this same push. Returns %TRUE if that was the case. */
static gboolean
deleted_in_flight (SyncRun    *run,
                   PushOp     *op,
                   JsonObject *reply)
{
  TetherSync *self = run->self;
  TetherRecord *record = op->record;
  const char *id_field = tether_account_get_id_field (self->account);
  gboolean gone = tether_collection_lookup_cid (self->collection, tether_record_get_cid (record)) == NULL;

  if (!gone && tether_record_get_sync_state (record) != TETHER_SYNC_STATE_DELETED)
    return FALSE;

  if (reply != NULL)
    {
      g_autoptr(JsonObject) server = server_attributes (reply, id_field);

      if (tether_record_get_id (record) == NULL)
        tether_record_set_id (record, json_object_get_member (reply, id_field));
      tether_record_apply_server (record, tether_record_get_attributes (record), server,
                                  TETHER_SYNC_STATE_DELETED);
    }

  /* A new record deleted before its create came back was dropped from
   * the collection outright: it returns as a tombstone. */
  tether_record_set_sync_state (record, TETHER_SYNC_STATE_DELETED);
  if (gone)
    tether_collection_add (self->collection, record);

  tether_store_save (self->store, record);
  g_queue_push_tail (&run->queue, push_op_new (run, record, OP_DELETE));
  run->push_total++;

  return TRUE;
}

static gboolean
retry_op_cb (gpointer user_data)
{
  PushOp *op = user_data;
  SyncRun *run = op->run;

  run->pending_retries--;
  g_queue_push_head (&run->queue, op);
  sync_push_pump (run);

  return G_SOURCE_REMOVE;
}

static void
op_finished (PushOp *op,
             GError *error)
{
  SyncRun *run = op->run;
  TetherSync *self = run->self;
  TetherRecord *record = op->record;

  run->in_flight--;

  if (error != NULL)
    {
      gboolean gone = tether_collection_lookup_cid (self->collection, tether_record_get_cid (record)) == NULL;
      TetherSyncState back = op->kind == OP_DELETE ||
                             tether_record_get_sync_state (record) == TETHER_SYNC_STATE_DELETED ||
                             gone
                               ? TETHER_SYNC_STATE_DELETED
                               : TETHER_SYNC_STATE_PENDING;

      /* Deleted while its create was in flight. If the create may have
       * reached the server, the tombstone (without an id) waits for a pull
       * to match it by cid, then goes out as a DELETE; if it surely did
       * not, there is nothing left to do. */
      if (op->kind == OP_CREATE && back == TETHER_SYNC_STATE_DELETED)
        {
          tether_record_set_sync_state (record, TETHER_SYNC_STATE_DELETED);
          if (tether_remote_error_is_uncertain (error) || error_stops_sync (error))
            {
              if (gone)
                tether_collection_add (self->collection, record);
              tether_store_save (self->store, record);
              run->need_second_round = run->need_second_round || run->round == 1;
            }
          else if (!gone)
            {
              tether_store_remove (self->store, tether_record_get_cid (record));
              tether_collection_forget (self->collection, record);
            }
          run->push_done++;
          push_op_free (op);
          if (error_stops_sync (error))
            sync_stop (run, g_error_copy (error));
          goto next;
        }

      if (error_stops_sync (error))
        {
          tether_record_set_sync_state (record, back);
          tether_store_save (self->store, record);
          push_op_free (op);
          /* The caller owns @error. */
          sync_stop (run, g_error_copy (error));
          goto next;
        }

      /* A create that may have reached the server is not sent again
       * before a pull has had the chance to find it by its cid. */
      if (op->kind == OP_CREATE && tether_remote_error_is_uncertain (error))
        {
          const char *cid_field = tether_account_get_client_id_field (self->account);

          if (cid_field != NULL && cid_field[0] != '\0')
            {
              JsonObject *sent = op->body;

              g_debug ("Create of %s has an unknown outcome: %s",
                       tether_record_get_cid (record), error->message);

              /* What the server may now hold: the base a later merge and
               * a later delete must reckon with. */
              if (sent != NULL)
                {
                  g_autoptr(JsonObject) maybe = server_attributes (sent, tether_account_get_id_field (self->account));
                  tether_record_apply_server (record, tether_record_get_attributes (record), maybe, back);
                }
              tether_record_set_sync_state (record, back);
              tether_record_set_error_message (record, error->message);
              tether_store_save (self->store, record);
              push_op_free (op);

              /* In the first round, a second pull finds the record if the
               * server made it, after the Retry-After the server asked
               * for. In the second, it waits for the next sync. */
              if (run->round == 1)
                {
                  run->need_second_round = TRUE;
                  run->second_round_delay_ms = MAX (run->second_round_delay_ms,
                                                    tether_remote_error_get_retry_after (error) * 1000);
                }
              else
                {
                  run->report.errors++;
                  run->push_done++;
                }
              goto next;
            }
        }

      /* An update the server may or may not have applied: sending it
       * again is harmless, but the base would then be stale if the reply
       * is lost again. A pull first settles what the server holds. */
      if (op->kind == OP_UPDATE && tether_remote_error_is_uncertain (error) && run->round == 1)
        {
          run->need_second_round = TRUE;
          run->second_round_delay_ms = MAX (run->second_round_delay_ms,
                                            tether_remote_error_get_retry_after (error) * 1000);
          tether_record_set_sync_state (record, back);
          tether_store_save (self->store, record);
          push_op_free (op);
          goto next;
        }

      if (g_error_matches (error, TETHER_REMOTE_ERROR, TETHER_REMOTE_ERROR_CONFLICT) &&
          run->round == 1)
        {
          /* Changed on the server since the pull: pull again, merge, and
           * send what is still ours. */
          run->need_second_round = TRUE;
          tether_record_set_sync_state (record, back);
          tether_store_save (self->store, record);
          push_op_free (op);
          goto next;
        }

      if (tether_remote_error_is_transient (error) && ++op->attempts < self->max_attempts)
        {
          guint delay = retry_delay_ms (self, error, op->attempts);

          if (delay <= self->retry_max_ms)
            {
              g_debug ("Push of %s failed (%s); trying again in %u ms",
                       tether_record_get_cid (record), error->message, delay);
              run->pending_retries++;
              g_timeout_add (delay, retry_op_cb, op);
              goto next;
            }
        }

      if (op->kind == OP_UPDATE &&
          g_error_matches (error, TETHER_REMOTE_ERROR, TETHER_REMOTE_ERROR_NOT_FOUND))
        {
          /* Gone from the server: the same as a deletion seen by a pull. */
          g_autoptr(GPtrArray) forget = g_ptr_array_new_with_free_func (g_object_unref);

          handle_server_deletion (run, record, forget);
          for (guint i = 0; i < forget->len; i++)
            {
              tether_store_remove (self->store, tether_record_get_cid (g_ptr_array_index (forget, i)));
              tether_collection_forget (self->collection, g_ptr_array_index (forget, i));
            }
          run->report.deleted += forget->len;
          run->push_done++;
          push_op_free (op);
          goto next;
        }

      /* A transient error that outlasted its retries leaves the record
       * pending, to be sent next time; anything else is this record's
       * own problem, shown on it, and the others go on. */
      if (tether_remote_error_is_transient (error) ||
          g_error_matches (error, TETHER_REMOTE_ERROR, TETHER_REMOTE_ERROR_CONFLICT))
        tether_record_set_sync_state (record, back);
      else
        tether_record_set_sync_state (record, op->kind == OP_DELETE ? back : TETHER_SYNC_STATE_ERROR);
      tether_record_set_error_message (record, error->message);
      tether_store_save (self->store, record);
      run->report.errors++;
      run->push_done++;
      push_op_free (op);
      goto next;
    }

  run->push_done++;
  push_op_free (op);

next:
  if (!run->stopping && self->store != NULL && tether_store_get_write_error (self->store) != NULL)
    sync_stop (run, g_error_copy (tether_store_get_write_error (self->store)));

  sync_push_pump (run);
}

static void
create_cb (GObject      *object,
           GAsyncResult *result,
           gpointer      user_data)
{
  PushOp *op = user_data;
  SyncRun *run = op->run;
  TetherSync *self = run->self;
  g_autoptr(TetherRecord) G_GNUC_UNUSED record = g_object_ref (op->record);
  g_autoptr(JsonObject) reply = NULL;
  g_autofree char *etag = NULL;
  g_autoptr(GError) error = NULL;

  reply = tether_remote_create_finish (TETHER_REMOTE (object), result, &etag, &error);
  if (reply == NULL)
    {
      op_finished (op, error);
      return;
    }

  if (deleted_in_flight (run, op, reply))
    {
      run->report.pushed++;
      op_finished (op, NULL);
      return;
    }

  /* The server id arrives: notify::id re-keys the collection and updates
   * every widget that shows the record. */
  tether_record_set_id (op->record,
                        json_object_get_member (reply, tether_account_get_id_field (self->account)));
  tether_record_set_etag (op->record, etag);
  apply_reply (run, op, reply, NULL);
  tether_store_save (self->store, op->record);
  run->report.pushed++;

  op_finished (op, NULL);
}

static void
update_cb (GObject      *object,
           GAsyncResult *result,
           gpointer      user_data)
{
  PushOp *op = user_data;
  SyncRun *run = op->run;
  TetherSync *self = run->self;
  g_autoptr(JsonObject) reply = NULL;
  g_autofree char *etag = NULL;
  g_autoptr(GError) error = NULL;

  if (!tether_remote_update_finish (TETHER_REMOTE (object), result, &reply, &etag, &error))
    {
      op_finished (op, error);
      return;
    }

  tether_record_set_etag (op->record, etag);
  if (deleted_in_flight (run, op, reply))
    {
      run->report.pushed++;
      op_finished (op, NULL);
      return;
    }
  apply_reply (run, op, reply, op->body);
  tether_store_save (self->store, op->record);
  run->report.pushed++;

  op_finished (op, NULL);
}

static void
delete_cb (GObject      *object,
           GAsyncResult *result,
           gpointer      user_data)
{
  PushOp *op = user_data;
  SyncRun *run = op->run;
  TetherSync *self = run->self;
  g_autoptr(GError) error = NULL;

  if (!tether_remote_delete_finish (TETHER_REMOTE (object), result, &error))
    {
      op_finished (op, error);
      return;
    }

  tether_store_remove (self->store, tether_record_get_cid (op->record));
  tether_collection_forget (self->collection, op->record);
  run->report.deleted++;

  op_finished (op, NULL);
}

/* Makes what a create or an update sends, from the record as it is now,
 * and writes down on the record what the server may hold once it is sent:
 * a create carries its cid in the client-id field and the version sent
 * as its base; an update keeps the version it would make as "sent".
 * Killed with the request out, the app then knows on its next start what
 * the server may have, and a merge tells its own edits from others'. The
 * caller saves the record. Returns %FALSE for an update with nothing to
 * send (edited back to what the server has). */
static gboolean
push_op_prepare (PushOp *op)
{
  TetherSync *self = op->run->self;
  TetherRecord *record = op->record;
  const char *id_field = tether_account_get_id_field (self->account);
  const char *cid_field = tether_account_get_client_id_field (self->account);
  gboolean tag = cid_field != NULL && cid_field[0] != '\0';

  op->prepared = TRUE;
  op->nothing = FALSE;
  op->revision = tether_record_get_revision (record);
  g_clear_pointer (&op->body, json_object_unref);

  if (op->kind == OP_CREATE)
    {
      op->body = tether_record_to_json (record);
      if (json_object_has_member (op->body, id_field))
        json_object_remove_member (op->body, id_field);
      if (tag)
        {
          g_autoptr(JsonObject) tagged = tether_record_to_json (record);
          JsonObject *base = tether_record_get_base (record);

          json_object_set_string_member (op->body, cid_field, tether_record_get_cid (record));
          json_object_set_string_member (tagged, cid_field, tether_record_get_cid (record));
          /* The version the server may hold from now on is the one sent. */
          tether_record_apply_server (record, tagged, base != NULL ? base : tagged,
                                      tether_record_get_sync_state (record));
        }
      return TRUE;
    }

  if (op->kind == OP_UPDATE)
    {
      g_autoptr(GPtrArray) removed = NULL;
      g_autoptr(JsonObject) result = NULL;
      JsonObject *base = tether_record_get_base (record);
      JsonObjectIter iter;
      const char *name;
      JsonNode *value;

      op->method = tether_account_get_update_method (self->account);
      op->body = tether_record_diff_from_base (record, &removed);
      if (json_object_has_member (op->body, id_field))
        json_object_remove_member (op->body, id_field);

      /* PATCH merges: a removed field can only go with a PUT of the
       * whole record. */
      if (op->method == TETHER_UPDATE_METHOD_PUT || (removed != NULL && removed->len > 0))
        {
          g_clear_pointer (&op->body, json_object_unref);
          op->body = tether_record_to_json (record);
          if (json_object_has_member (op->body, id_field))
            json_object_remove_member (op->body, id_field);
          op->method = TETHER_UPDATE_METHOD_PUT;
          result = tether_record_to_json (record);
        }
      else if (json_object_get_size (op->body) == 0)
        {
          op->nothing = TRUE;
          return FALSE;
        }
      else
        {
          /* The server's version with the fields sent merged in. */
          result = json_object_new ();
          if (base != NULL)
            {
              json_object_iter_init_ordered (&iter, base);
              while (json_object_iter_next_ordered (&iter, &name, &value))
                json_object_set_member (result, name, json_node_copy (value));
            }
          json_object_iter_init_ordered (&iter, op->body);
          while (json_object_iter_next_ordered (&iter, &name, &value))
            json_object_set_member (result, name, json_node_copy (value));
        }

      if (json_object_has_member (result, id_field))
        json_object_remove_member (result, id_field);
      tether_record_set_sent (record, result);
    }

  return TRUE;
}

static void
push_op_start (PushOp *op)
{
  SyncRun *run = op->run;
  TetherSync *self = run->self;
  TetherRecord *record = op->record;

  /* Made when the push began, and on disk before any request went out;
   * an operation queued later is made now. */
  if (op->kind != OP_DELETE && !op->prepared)
    {
      push_op_prepare (op);
      tether_store_save (self->store, record);
    }

  if (op->nothing)
    {
      /* Edited back to what the server has: nothing to send. */
      run->in_flight++;
      apply_reply (run, op, NULL, op->body);
      tether_store_save (self->store, record);
      op_finished (op, NULL);
      return;
    }

  run->in_flight++;

  switch (op->kind)
    {
    case OP_DELETE:
      tether_remote_delete_async (self->remote,
                                  tether_record_get_id (record),
                                  tether_record_get_etag (record),
                                  run->cancellable,
                                  delete_cb, op);
      break;

    case OP_CREATE:
      tether_record_set_sync_state (record, TETHER_SYNC_STATE_PUSHING);
      tether_remote_create_async (self->remote, op->body, run->cancellable, create_cb, op);
      break;

    case OP_UPDATE:
      tether_record_set_sync_state (record, TETHER_SYNC_STATE_PUSHING);
      tether_remote_update_async (self->remote,
                                  tether_record_get_id (record),
                                  op->body,
                                  op->method,
                                  tether_record_get_etag (record),
                                  run->cancellable,
                                  update_cb, op);
      break;

    default:
      g_assert_not_reached ();
    }
}

static gboolean
second_round_cb (gpointer user_data)
{
  SyncRun *run = user_data;

  run->pending_retries--;
  if (run->stopping)
    sync_finish (run);
  else
    sync_pull_start (run);

  return G_SOURCE_REMOVE;
}

static void
sync_push_pump (SyncRun *run)
{
  TetherSync *self = run->self;
  guint limit = MAX (tether_account_get_push_concurrency (self->account), 1);

  /* An operation may finish inside push_op_start() (an edit undone has
   * nothing to send): the outer loop carries on and ends the push. */
  if (run->pumping)
    return;

  run->pumping = TRUE;
  while (!run->stopping && run->in_flight < limit && !g_queue_is_empty (&run->queue))
    {
      PushOp *op = g_queue_pop_head (&run->queue);
      TetherSyncState state = tether_record_get_sync_state (op->record);

      /* The queue was made before the first request went out; a record
       * may have been resolved, deleted or forgotten since. */
      if (tether_collection_lookup_cid (self->collection, tether_record_get_cid (op->record)) == NULL ||
          (op->kind == OP_DELETE) != (state == TETHER_SYNC_STATE_DELETED) ||
          state == TETHER_SYNC_STATE_CONFLICT ||
          state == TETHER_SYNC_STATE_SYNCED)
        {
          run->push_done++;
          push_op_free (op);
          continue;
        }

      push_op_start (op);
      update_push_progress (run);
    }
  run->pumping = FALSE;

  if (run->in_flight > 0 || run->pending_retries > 0)
    return;

  if (run->stopping)
    {
      g_queue_clear_full (&run->queue, (GDestroyNotify) push_op_free);
      sync_finish (run);
      return;
    }

  if (!g_queue_is_empty (&run->queue))
    return;

  if (run->need_second_round && run->round == 1)
    {
      guint delay = run->second_round_delay_ms;

      run->round = 2;
      run->need_second_round = FALSE;
      run->second_round_delay_ms = 0;

      if (delay > self->retry_max_ms)
        {
          /* The server asked for more patience than one sync has. */
          sync_finish (run);
          return;
        }

      run->pending_retries++;
      g_timeout_add (delay, second_round_cb, run);
      return;
    }

  sync_finish (run);
}

static void
creates_tagged_cb (GObject      *object,
                   GAsyncResult *result,
                   gpointer      user_data)
{
  SyncRun *run = user_data;
  g_autoptr(GError) error = NULL;

  if (!tether_store_flush_finish (TETHER_STORE (object), result, &error))
    sync_stop (run, g_steal_pointer (&error));

  sync_push_pump (run);
}

static void
sync_push_start (SyncRun *run)
{
  TetherSync *self = run->self;
  GListModel *model = G_LIST_MODEL (self->collection);
  GPtrArray *tombstones = tether_collection_get_tombstones (self->collection);
  guint n_items = g_list_model_get_n_items (model);
  g_autoptr(GPtrArray) creates = g_ptr_array_new ();
  g_autoptr(GPtrArray) updates = g_ptr_array_new ();

  for (guint i = 0; i < tombstones->len; i++)
    {
      TetherRecord *record = g_ptr_array_index (tombstones, i);

      if (tether_record_get_id (record) != NULL)
        g_queue_push_tail (&run->queue, push_op_new (run, record, OP_DELETE));
    }

  for (guint i = 0; i < n_items; i++)
    {
      g_autoptr(TetherRecord) record = g_list_model_get_item (model, i);
      TetherSyncState state = tether_record_get_sync_state (record);

      /* A record in error is tried again: the server may take it now. A
       * conflict waits for the user. */
      if (state != TETHER_SYNC_STATE_PENDING && state != TETHER_SYNC_STATE_ERROR)
        continue;

      if (tether_record_get_id (record) == NULL)
        {
          /* A create that may have reached the server is sent again only
           * after a listing that surely would have shown it. */
          if (run->listing_moved && tether_record_get_base (record) != NULL)
            continue;
          g_ptr_array_add (creates, push_op_new (run, record, OP_CREATE));
        }
      else
        g_ptr_array_add (updates, push_op_new (run, record, OP_UPDATE));
    }

  /* Deletions first (they free ids and names on servers that keep them
   * unique), then creates, then updates. */
  for (guint i = 0; i < creates->len; i++)
    g_queue_push_tail (&run->queue, g_ptr_array_index (creates, i));
  for (guint i = 0; i < updates->len; i++)
    g_queue_push_tail (&run->queue, g_ptr_array_index (updates, i));

  run->push_done = 0;
  run->push_total = g_queue_get_length (&run->queue);
  update_push_progress (run);

  /* Before a create or an update goes out, the record says on disk what
   * the server may hold once it is sent (see push_op_prepare()). Killed in
   * mid-request, the app then knows on its next start that a delete must
   * be sent to the server rather than just dropped, that the server's new
   * values are its own, and no later update strips the client-id field. */
  for (guint i = 0; i < creates->len; i++)
    {
      PushOp *op = g_ptr_array_index (creates, i);

      push_op_prepare (op);
      tether_store_save (self->store, op->record);
    }
  for (guint i = 0; i < updates->len; i++)
    {
      PushOp *op = g_ptr_array_index (updates, i);

      push_op_prepare (op);
      if (!op->nothing)
        tether_store_save (self->store, op->record);
    }

  if (creates->len > 0 || updates->len > 0)
    tether_store_flush_async (self->store, NULL, creates_tagged_cb, run);
  else
    sync_push_pump (run);
}

/*
 * Start and finish
 */

static void
sync_run_free (SyncRun *run)
{
  g_clear_pointer (&run->tasks, g_ptr_array_unref);
  g_clear_object (&run->cancellable);
  g_clear_error (&run->error);
  g_clear_pointer (&run->page_url, g_free);
  g_clear_pointer (&run->listed, g_hash_table_unref);
  g_queue_clear_full (&run->queue, (GDestroyNotify) push_op_free);
  g_clear_object (&run->self);
  g_free (run);
}

static void
count_leftovers (SyncRun *run)
{
  GListModel *model = G_LIST_MODEL (run->self->collection);
  guint n_items = g_list_model_get_n_items (model);
  guint errors = 0;
  guint conflicts = 0;

  for (guint i = 0; i < n_items; i++)
    {
      g_autoptr(TetherRecord) record = g_list_model_get_item (model, i);

      switch ((int) tether_record_get_sync_state (record))
        {
        case TETHER_SYNC_STATE_CONFLICT:
          conflicts++;
          break;

        case TETHER_SYNC_STATE_ERROR:
          errors++;
          break;

        default:
          break;
        }
    }

  run->report.conflicts = conflicts;
  run->report.errors = MAX (run->report.errors, errors);
}

static void
sync_flush_cb (GObject      *object,
               GAsyncResult *result,
               gpointer      user_data)
{
  SyncRun *run = user_data;
  TetherSync *self = run->self;
  g_autoptr(GError) error = NULL;
  g_autoptr(GPtrArray) tasks = NULL;

  if (!tether_store_flush_finish (TETHER_STORE (object), result, &error) && run->error == NULL)
    run->error = g_steal_pointer (&error);

  self->last_report = run->report;
  self->run = NULL;

  if (run->error == NULL)
    {
      g_clear_pointer (&self->last_sync, g_date_time_unref);
      self->last_sync = g_date_time_new_now_utc ();
      g_object_notify_by_pspec (G_OBJECT (self), properties[PROP_LAST_SYNC]);
    }

  set_progress (self, TETHER_SYNC_PHASE_IDLE, 0.0, NULL);
  g_object_notify_by_pspec (G_OBJECT (self), properties[PROP_RUNNING]);

  tasks = g_steal_pointer (&run->tasks);
  for (guint i = 0; i < tasks->len; i++)
    {
      GTask *task = g_ptr_array_index (tasks, i);

      if (run->error != NULL)
        g_task_return_error (task, g_error_copy (run->error));
      else
        g_task_return_boolean (task, TRUE);
    }

  g_signal_emit (self, signals[FINISHED], 0, &run->report, run->error);

  sync_run_free (run);
}

static void
sync_finish (SyncRun *run)
{
  TetherSync *self = run->self;

  if (run->in_flight > 0 || run->pending_retries > 0)
    return;

  count_leftovers (run);
  set_progress (self, TETHER_SYNC_PHASE_SAVING, 1.0, g_strdup (_("Saving")));

  /* The time of the last good sync is kept with the sync's own writes: a
   * sync that changed nothing writes nothing at all (but the very first
   * one is remembered). */
  if (run->error == NULL &&
      (run->report.pulled > 0 || run->report.pushed > 0 || run->report.deleted > 0 ||
       tether_store_get_meta (self->store, LAST_SYNC_META) == NULL))
    {
      g_autoptr(GDateTime) now = g_date_time_new_now_utc ();
      g_autofree char *text = g_date_time_format_iso8601 (now);
      g_autoptr(JsonNode) node = json_node_new (JSON_NODE_VALUE);

      json_node_set_string (node, text);
      tether_store_set_meta (self->store, LAST_SYNC_META, node);
    }

  /* Whatever the outcome, what it changed here is on disk before the
   * sync says it is done. */
  tether_store_flush_async (self->store, NULL, sync_flush_cb, run);
}

void
tether_sync_run_async (TetherSync          *self,
                       TetherSyncFlags      flags,
                       GCancellable        *cancellable,
                       GAsyncReadyCallback  callback,
                       gpointer             user_data)
{
  g_autoptr(GTask) task = NULL;
  GListModel *model;
  guint n_items;
  SyncRun *run;

  g_return_if_fail (TETHER_IS_SYNC (self));
  g_return_if_fail (!cancellable || G_IS_CANCELLABLE (cancellable));

  task = g_task_new (self, cancellable, callback, user_data);
  g_task_set_source_tag (task, tether_sync_run_async);

  /* One sync at a time: a second caller joins the one that runs. */
  if (self->run != NULL)
    {
      g_ptr_array_add (self->run->tasks, g_steal_pointer (&task));
      return;
    }

  if (flags == 0)
    flags = TETHER_SYNC_FLAGS_ALL;

  run = g_new0 (SyncRun, 1);
  run->self = g_object_ref (self);
  run->tasks = g_ptr_array_new_with_free_func (g_object_unref);
  run->cancellable = cancellable ? g_object_ref (cancellable) : g_cancellable_new ();
  run->flags = flags;
  run->round = 1;
  g_queue_init (&run->queue);
  g_ptr_array_add (run->tasks, g_steal_pointer (&task));
  self->run = run;

  g_object_notify_by_pspec (G_OBJECT (self), properties[PROP_RUNNING]);

  /* A sync that was cut off (the app was killed mid-push) left records
   * in pushing: they are pending again. */
  model = G_LIST_MODEL (self->collection);
  n_items = g_list_model_get_n_items (model);
  for (guint i = 0; i < n_items; i++)
    {
      g_autoptr(TetherRecord) record = g_list_model_get_item (model, i);

      if (tether_record_get_sync_state (record) == TETHER_SYNC_STATE_PUSHING)
        tether_record_set_sync_state (record, TETHER_SYNC_STATE_PENDING);
    }

  if (flags & TETHER_SYNC_FLAGS_PULL)
    sync_pull_start (run);
  else
    sync_push_start (run);
}

gboolean
tether_sync_run_finish (TetherSync        *self,
                        GAsyncResult      *result,
                        TetherSyncReport  *report,
                        GError           **error)
{
  g_return_val_if_fail (TETHER_IS_SYNC (self), FALSE);
  g_return_val_if_fail (g_task_is_valid (result, self), FALSE);

  if (report != NULL)
    *report = self->last_report;

  return g_task_propagate_boolean (G_TASK (result), error);
}

/*
 * Conflicts
 */

void
tether_sync_resolve (TetherSync   *self,
                     TetherRecord *record,
                     const char   *field,
                     gboolean      keep_mine)
{
  g_autoptr(JsonObject) conflict = NULL;
  g_autoptr(GList) names = NULL;
  JsonObject *current;
  JsonObject *base;
  TetherSyncState state;

  g_return_if_fail (TETHER_IS_SYNC (self));
  g_return_if_fail (TETHER_IS_RECORD (record));

  current = tether_record_get_conflict (record);
  if (current == NULL || tether_record_get_sync_state (record) != TETHER_SYNC_STATE_CONFLICT)
    return;

  /* Work on a copy: the record's own object is replaced below. */
  conflict = object_copy (current);

  if (field != NULL)
    names = g_list_prepend (NULL, (gpointer) field);
  else
    names = json_object_get_members (conflict);

  for (const GList *l = names; l != NULL; l = l->next)
    {
      const char *name = l->data;
      JsonObject *entry;

      if (!json_object_has_member (conflict, name))
        continue;

      entry = json_object_get_object_member (conflict, name);

      if (!keep_mine)
        {
          /* Taking theirs is the user's choice, an edit like any other. */
          if (entry != NULL && json_object_has_member (entry, "theirs"))
            tether_record_set_attribute (record, name, json_object_get_member (entry, "theirs"));
          else
            tether_record_unset_attribute (record, name);
        }

      json_object_remove_member (conflict, name);
    }

  if (json_object_get_size (conflict) > 0)
    {
      tether_record_set_conflict (record, conflict);
      tether_store_save (self->store, record);
      return;
    }

  tether_record_set_conflict (record, NULL);
  tether_record_set_error_message (record, NULL);
  base = tether_record_get_base (record);

  if (tether_record_get_id (record) == NULL && base == NULL &&
      json_object_get_size (tether_record_get_attributes (record)) == 0)
    {
      /* Deleted on the server and every field given up: it is gone. */
      tether_store_remove (self->store, tether_record_get_cid (record));
      tether_collection_forget (self->collection, record);
      return;
    }

  if (base != NULL && objects_equal (base, tether_record_get_attributes (record)))
    state = TETHER_SYNC_STATE_SYNCED;
  else
    state = TETHER_SYNC_STATE_PENDING;

  tether_record_set_sync_state (record, state);
  tether_store_save (self->store, record);
}

/*
 * Accessors
 */

TetherSync *
tether_sync_new (TetherAccount    *account,
                 TetherRemote     *remote,
                 TetherCollection *collection,
                 TetherStore      *store)
{
  TetherSync *self;

  g_return_val_if_fail (TETHER_IS_ACCOUNT (account), NULL);
  g_return_val_if_fail (TETHER_IS_REMOTE (remote), NULL);
  g_return_val_if_fail (TETHER_IS_COLLECTION (collection), NULL);
  g_return_val_if_fail (TETHER_IS_STORE (store), NULL);

  self = g_object_new (TETHER_TYPE_SYNC, NULL);
  self->account = g_object_ref (account);
  self->remote = g_object_ref (remote);
  self->collection = g_object_ref (collection);
  self->store = g_object_ref (store);

  return self;
}

TetherRemote *
tether_sync_get_remote (TetherSync *self)
{
  g_return_val_if_fail (TETHER_IS_SYNC (self), NULL);

  return self->remote;
}

gboolean
tether_sync_get_running (TetherSync *self)
{
  g_return_val_if_fail (TETHER_IS_SYNC (self), FALSE);

  return self->run != NULL;
}

TetherSyncPhase
tether_sync_get_phase (TetherSync *self)
{
  g_return_val_if_fail (TETHER_IS_SYNC (self), TETHER_SYNC_PHASE_IDLE);

  return self->phase;
}

const char *
tether_sync_get_progress_text (TetherSync *self)
{
  g_return_val_if_fail (TETHER_IS_SYNC (self), NULL);

  return self->progress_text;
}

double
tether_sync_get_fraction (TetherSync *self)
{
  g_return_val_if_fail (TETHER_IS_SYNC (self), 0.0);

  return self->fraction;
}

GDateTime *
tether_sync_get_last_sync (TetherSync *self)
{
  g_return_val_if_fail (TETHER_IS_SYNC (self), NULL);

  /* Until this process syncs, the last sync is the one the store keeps. */
  if (self->last_sync == NULL && tether_store_is_open (self->store))
    {
      JsonNode *node = tether_store_get_meta (self->store, LAST_SYNC_META);

      if (node != NULL && JSON_NODE_HOLDS_VALUE (node) &&
          json_node_get_value_type (node) == G_TYPE_STRING)
        self->last_sync = g_date_time_new_from_iso8601 (json_node_get_string (node), NULL);
    }

  return self->last_sync;
}

const TetherSyncReport *
tether_sync_get_last_report (TetherSync *self)
{
  g_return_val_if_fail (TETHER_IS_SYNC (self), NULL);

  return &self->last_report;
}

void
tether_sync_set_retry_delay (TetherSync *self,
                             guint       base_ms,
                             guint       max_ms,
                             guint       max_attempts)
{
  g_return_if_fail (TETHER_IS_SYNC (self));

  self->retry_base_ms = MAX (base_ms, 1);
  self->retry_max_ms = MAX (max_ms, base_ms);
  self->max_attempts = MAX (max_attempts, 1);
}

static void
tether_sync_finalize (GObject *object)
{
  TetherSync *self = (TetherSync *)object;

  g_assert (self->run == NULL);

  g_clear_pointer (&self->progress_text, g_free);
  g_clear_pointer (&self->last_sync, g_date_time_unref);
  g_clear_object (&self->store);
  g_clear_object (&self->collection);
  g_clear_object (&self->remote);
  g_clear_object (&self->account);

  G_OBJECT_CLASS (tether_sync_parent_class)->finalize (object);
}

static void
tether_sync_get_property (GObject    *object,
                          guint       prop_id,
                          GValue     *value,
                          GParamSpec *pspec)
{
  TetherSync *self = TETHER_SYNC (object);

  switch (prop_id)
    {
    case PROP_RUNNING:
      g_value_set_boolean (value, tether_sync_get_running (self));
      break;

    case PROP_PHASE:
      g_value_set_enum (value, self->phase);
      break;

    case PROP_PROGRESS_TEXT:
      g_value_set_string (value, self->progress_text);
      break;

    case PROP_FRACTION:
      g_value_set_double (value, self->fraction);
      break;

    case PROP_LAST_SYNC:
      g_value_set_boxed (value, self->last_sync);
      break;

    default:
      G_OBJECT_WARN_INVALID_PROPERTY_ID (object, prop_id, pspec);
    }
}

static void
tether_sync_class_init (TetherSyncClass *klass)
{
  GObjectClass *object_class = G_OBJECT_CLASS (klass);

  object_class->finalize = tether_sync_finalize;
  object_class->get_property = tether_sync_get_property;

  properties[PROP_RUNNING] =
    g_param_spec_boolean ("running", NULL, NULL,
                          FALSE,
                          (G_PARAM_READABLE | G_PARAM_EXPLICIT_NOTIFY | G_PARAM_STATIC_STRINGS));

  properties[PROP_PHASE] =
    g_param_spec_enum ("phase", NULL, NULL,
                       TETHER_TYPE_SYNC_PHASE,
                       TETHER_SYNC_PHASE_IDLE,
                       (G_PARAM_READABLE | G_PARAM_EXPLICIT_NOTIFY | G_PARAM_STATIC_STRINGS));

  properties[PROP_PROGRESS_TEXT] =
    g_param_spec_string ("progress-text", NULL, NULL,
                         NULL,
                         (G_PARAM_READABLE | G_PARAM_EXPLICIT_NOTIFY | G_PARAM_STATIC_STRINGS));

  properties[PROP_FRACTION] =
    g_param_spec_double ("fraction", NULL, NULL,
                         -1.0, 1.0, 0.0,
                         (G_PARAM_READABLE | G_PARAM_EXPLICIT_NOTIFY | G_PARAM_STATIC_STRINGS));

  properties[PROP_LAST_SYNC] =
    g_param_spec_boxed ("last-sync", NULL, NULL,
                        G_TYPE_DATE_TIME,
                        (G_PARAM_READABLE | G_PARAM_EXPLICIT_NOTIFY | G_PARAM_STATIC_STRINGS));

  g_object_class_install_properties (object_class, N_PROPS, properties);

  /**
   * TetherSync::finished:
   * @report: (type gpointer): the TetherSyncReport of the sync
   * @error: (nullable) (type GLib.Error): what stopped it, or %NULL
   *
   * Emitted after every sync, whoever started it.
   */
  signals[FINISHED] =
    g_signal_new ("finished",
                  G_TYPE_FROM_CLASS (klass),
                  G_SIGNAL_RUN_LAST,
                  0,
                  NULL, NULL,
                  NULL,
                  G_TYPE_NONE, 2, G_TYPE_POINTER, G_TYPE_ERROR);
}

static void
tether_sync_init (TetherSync *self)
{
  self->retry_base_ms = 500;
  self->retry_max_ms = 30000;
  self->max_attempts = 4;
}
