/* stress-common.c
 *
 * Copyright 2026 The Tether authors
 *
 * SPDX-License-Identifier: GPL-3.0-or-later
 */

#include "config.h"

#include <stdlib.h>
#include <glib/gstdio.h>

#include "stress-common.h"
#include "tether-test-util.h"

StressClient *
stress_client_new (const char           *url,
                   TetherConflictPolicy  policy,
                   const char           *dir)
{
  StressClient *client = g_new0 (StressClient, 1);
  g_autoptr(GFile) directory = NULL;
  g_autoptr(GError) error = NULL;

  if (dir != NULL)
    {
      client->dir = g_strdup (dir);
      g_mkdir_with_parents (dir, 0700);
    }
  else
    {
      client->dir = g_dir_make_tmp ("tether-stress-XXXXXX", &error);
      g_assert_no_error (error);
    }

  directory = g_file_new_for_path (client->dir);

  client->account = tether_account_new ();
  tether_account_set_server_url (client->account, url);
  tether_account_set_conflict_policy (client->account, policy);

  client->session = tether_session_new (client->account, directory);
  tether_session_open (client->session, &client->open_error);

  client->remote = g_object_ref (tether_session_get_remote (client->session));
  tether_remote_set_timeout (client->remote, 5);
  client->sync = g_object_ref (tether_session_get_sync (client->session));
  tether_sync_set_retry_delay (client->sync, 10, 2000, 3);

  return client;
}

void
stress_client_free_full (StressClient *client,
                         gboolean      remove_dir)
{
  g_autoptr(GError) error = NULL;

  if (client == NULL)
    return;

  if (!tether_session_close (client->session, &error))
    g_printerr ("Could not close the store in %s: %s\n", client->dir, error->message);

  g_clear_object (&client->sync);
  g_clear_object (&client->remote);
  g_clear_object (&client->session);
  g_clear_object (&client->account);
  g_clear_error (&client->open_error);

  if (remove_dir)
    stress_remove_tree (client->dir);

  g_free (client->dir);
  g_free (client);
}

void
stress_client_free (StressClient *client)
{
  stress_client_free_full (client, TRUE);
}

TetherCollection *
stress_client_collection (StressClient *client)
{
  return tether_session_get_collection (client->session);
}

gboolean
stress_client_sync (StressClient      *client,
                    TetherSyncFlags    flags,
                    TetherSyncReport  *report,
                    GError           **error)
{
  g_autoptr(GAsyncResult) result = NULL;

  tether_sync_run_async (client->sync, flags, NULL, tether_test_async_result_cb, &result);
  tether_test_wait_for_result (&result);

  return tether_sync_run_finish (client->sync, result, report, error);
}

static char *
id_text (JsonNode *id)
{
  g_autofree char *text = tether_remote_id_to_string (id);

  /* 42 and "42" are different ids: keep the type in the key. */
  if (text == NULL)
    return NULL;

  return g_strdup_printf ("%c%s", json_node_get_value_type (id) == G_TYPE_STRING ? 's' : 'i', text);
}

static gboolean
objects_equal (JsonObject *a,
               JsonObject *b)
{
  g_autoptr(JsonNode) na = json_node_init_object (json_node_alloc (), a);
  g_autoptr(JsonNode) nb = json_node_init_object (json_node_alloc (), b);

  return json_node_equal (na, nb);
}

guint
stress_compare_with_server (TetherCollection *collection,
                            JsonArray        *server,
                            const char       *id_field,
                            gboolean          strict,
                            GString          *why)
{
  g_autoptr(GHashTable) listed = g_hash_table_new_full (g_str_hash, g_str_equal, g_free, NULL);
  g_autoptr(GHashTable) seen = g_hash_table_new_full (g_str_hash, g_str_equal, g_free, NULL);
  GListModel *model = G_LIST_MODEL (collection);
  GPtrArray *tombstones;
  guint differences = 0;

  for (guint i = 0; i < json_array_get_length (server); i++)
    {
      JsonObject *object = json_array_get_object_element (server, i);
      JsonNode *id = object ? json_object_get_member (object, id_field) : NULL;
      g_autoptr(JsonNode) attributes_node = NULL;
      g_autofree char *key = NULL;
      g_autofree char *shown = NULL;
      JsonObject *attributes;
      TetherRecord *record;

      if (id == NULL || (key = id_text (id)) == NULL)
        {
          differences++;
          if (why != NULL)
            g_string_append_printf (why, "  server record %u has no usable id\n", i);
          continue;
        }

      g_hash_table_add (listed, g_strdup (key));
      shown = stress_node_to_string (id);
      record = tether_collection_lookup_id (collection, id);

      if (record == NULL)
        {
          differences++;
          if (why != NULL)
            g_string_append_printf (why, "  server record %s is missing here\n", shown);
          continue;
        }

      if (tether_record_get_sync_state (record) == TETHER_SYNC_STATE_DELETED)
        {
          differences++;
          if (why != NULL)
            g_string_append_printf (why, "  server record %s is deleted here, not yet on the server\n", shown);
          continue;
        }

      /* The server's object without the id is what the record holds.
       * (Built anew: json_node_copy() would share the server's object.) */
      attributes = json_object_new ();
      {
        JsonObjectIter iter;
        const char *name;
        JsonNode *value;

        json_object_iter_init (&iter, object);
        while (json_object_iter_next (&iter, &name, &value))
          if (!g_str_equal (name, id_field))
            json_object_set_member (attributes, name, json_node_ref (value));
      }
      attributes_node = json_node_init_object (json_node_alloc (), attributes);
      json_object_unref (attributes);

      if (!objects_equal (attributes, tether_record_get_attributes (record)))
        {
          g_autoptr(JsonNode) local = json_node_init_object (json_node_alloc (),
                                                             tether_record_get_attributes (record));
          g_autofree char *local_text = stress_node_to_string (local);
          g_autofree char *server_text = stress_node_to_string (attributes_node);

          differences++;
          if (why != NULL)
            g_string_append_printf (why, "  record %s (%s): here %s, on the server %s\n",
                                    shown,
                                    tether_sync_state_to_string (tether_record_get_sync_state (record)),
                                    local_text, server_text);
          continue;
        }

      if (strict && tether_record_get_sync_state (record) != TETHER_SYNC_STATE_SYNCED)
        {
          differences++;
          if (why != NULL)
            g_string_append_printf (why, "  record %s is %s (%s)\n", shown,
                                    tether_sync_state_to_string (tether_record_get_sync_state (record)),
                                    tether_record_get_error_message (record)
                                      ? tether_record_get_error_message (record) : "no message");
        }
    }

  for (guint i = 0; i < g_list_model_get_n_items (model); i++)
    {
      g_autoptr(TetherRecord) record = g_list_model_get_item (model, i);
      g_autofree char *key = NULL;

      if (tether_record_get_id (record) != NULL)
        key = id_text (tether_record_get_id (record));

      /* One record per server id: a second one would hide behind the
       * first in the lookups above. */
      if (key != NULL && !g_hash_table_add (seen, g_strdup (key)))
        {
          differences++;
          if (why != NULL)
            g_string_append_printf (why, "  local record %s has the id %s of another local record\n",
                                    tether_record_get_cid (record), key + 1);
          continue;
        }

      if (key == NULL || !g_hash_table_contains (listed, key))
        {
          differences++;
          if (why != NULL)
            {
              g_autofree char *shown = stress_node_to_string (tether_record_get_id (record));

              g_string_append_printf (why, "  local record %s (id %s, %s) is not on the server\n",
                                      tether_record_get_cid (record), shown,
                                      tether_sync_state_to_string (tether_record_get_sync_state (record)));
            }
        }
    }

  tombstones = tether_collection_get_tombstones (collection);
  if (strict && tombstones->len > 0)
    {
      differences += tombstones->len;
      if (why != NULL)
        g_string_append_printf (why, "  %u deletions not yet sent\n", tombstones->len);
    }

  return differences;
}

guint
stress_count_duplicates (JsonArray  *server,
                         const char *field,
                         guint      *out_without)
{
  g_autoptr(GHashTable) counts = g_hash_table_new (g_str_hash, g_str_equal);
  guint surplus = 0;
  guint without = 0;

  for (guint i = 0; i < json_array_get_length (server); i++)
    {
      JsonObject *object = json_array_get_object_element (server, i);
      const char *value = NULL;
      guint n;

      if (object != NULL && json_object_has_member (object, field) &&
          JSON_NODE_HOLDS_VALUE (json_object_get_member (object, field)) &&
          json_node_get_value_type (json_object_get_member (object, field)) == G_TYPE_STRING)
        value = json_object_get_string_member (object, field);

      if (value == NULL)
        {
          without++;
          continue;
        }

      n = GPOINTER_TO_UINT (g_hash_table_lookup (counts, value)) + 1;
      g_hash_table_insert (counts, (gpointer) value, GUINT_TO_POINTER (n));
      if (n > 1)
        surplus++;
    }

  if (out_without != NULL)
    *out_without = without;

  return surplus;
}

guint32
stress_seed (guint32 default_seed)
{
  const char *text = g_getenv ("TETHER_STRESS_SEED");
  guint64 value;

  if (text == NULL || *text == '\0')
    return default_seed;

  if (!g_ascii_string_to_unsigned (text, 10, 0, G_MAXUINT32, &value, NULL))
    {
      g_printerr ("TETHER_STRESS_SEED must be a number from 0 to %u, not %s\n", G_MAXUINT32, text);
      exit (2);
    }

  return (guint32) value;
}

guint16
stress_closed_port (void)
{
  g_autoptr(GSocket) socket = NULL;
  g_autoptr(GInetAddress) loopback = NULL;
  g_autoptr(GSocketAddress) address = NULL;
  g_autoptr(GSocketAddress) bound = NULL;
  g_autoptr(GError) error = NULL;
  guint16 port;

  socket = g_socket_new (G_SOCKET_FAMILY_IPV4, G_SOCKET_TYPE_STREAM, G_SOCKET_PROTOCOL_TCP, &error);
  g_assert_no_error (error);

  loopback = g_inet_address_new_loopback (G_SOCKET_FAMILY_IPV4);
  address = g_inet_socket_address_new (loopback, 0);
  g_socket_bind (socket, address, FALSE, &error);
  g_assert_no_error (error);

  bound = g_socket_get_local_address (socket, &error);
  g_assert_no_error (error);
  port = g_inet_socket_address_get_port (G_INET_SOCKET_ADDRESS (bound));

  /* Never listened on: closing it leaves the port refusing connections. */
  g_socket_close (socket, NULL);

  return port;
}

void
stress_test_init (int    *argc,
                  char ***argv)
{
  /* Kept for the whole run: GTest holds on to argv. */
  static char **with_keep_going;

  with_keep_going = g_new0 (char *, *argc + 2);
  with_keep_going[0] = (*argv)[0];
  with_keep_going[1] = (char *) "--keep-going";
  for (int i = 1; i < *argc; i++)
    with_keep_going[i + 1] = (*argv)[i];

  (*argc)++;
  *argv = with_keep_going;

  tether_test_init (argc, argv);
}

static GLogWriterOutput
quiet_writer (GLogLevelFlags   log_level,
              const GLogField *fields,
              gsize            n_fields,
              gpointer         user_data)
{
  if (log_level & (G_LOG_LEVEL_DEBUG | G_LOG_LEVEL_INFO))
    return G_LOG_WRITER_HANDLED;

  return g_log_writer_default (log_level, fields, n_fields, user_data);
}

static GLogFunc previous_handler;
static gpointer previous_handler_data;

static void
quiet_handler (const char     *log_domain,
               GLogLevelFlags  log_level,
               const char     *message,
               gpointer        user_data)
{
  if (log_level & (G_LOG_LEVEL_DEBUG | G_LOG_LEVEL_INFO))
    return;

  previous_handler (log_domain, log_level, message, previous_handler_data);
}

void
stress_quiet_debug (void)
{
  if (g_getenv ("TETHER_STRESS_DEBUG") != NULL)
    return;

  /* GTest shows g_log() messages through its default handler, structured
   * ones through the writer: both. */
  g_log_set_writer_func (quiet_writer, NULL, NULL);
  previous_handler = g_log_set_default_handler (quiet_handler, NULL);
  previous_handler_data = NULL;
}

void
stress_remove_tree (const char *path)
{
  g_autoptr(GDir) dir = NULL;
  const char *name;

  if (path == NULL)
    return;

  dir = g_dir_open (path, 0, NULL);
  if (dir != NULL)
    {
      while ((name = g_dir_read_name (dir)) != NULL)
        {
          g_autofree char *child = g_build_filename (path, name, NULL);

          if (g_file_test (child, G_FILE_TEST_IS_DIR) && !g_file_test (child, G_FILE_TEST_IS_SYMLINK))
            stress_remove_tree (child);
          else
            g_unlink (child);
        }
    }

  g_rmdir (path);
}

char *
stress_node_to_string (JsonNode *node)
{
  if (node == NULL)
    return g_strdup ("-");

  return json_to_string (node, FALSE);
}

JsonNode *
stress_node_from_string (const char *text)
{
  return json_from_string (text, NULL);
}

/*
 * The proxy
 */

struct _StressProxy
{
  GSocketService *service;
  guint16         port;
  guint16         upstream_port;
  char           *url;
  GPtrArray      *links;
};

typedef struct
{
  StressProxy       *proxy;
  GSocketConnection *in;
  GSocketConnection *out;
  GCancellable      *cancellable;
} ProxyLink;

static void
proxy_link_free (ProxyLink *link)
{
  g_clear_object (&link->in);
  g_clear_object (&link->out);
  g_clear_object (&link->cancellable);
  g_free (link);
}

/* Synchronous, so that the peer sees the end of the connection before the
 * caller's next request looks for an idle one to reuse. */
static void
proxy_link_cut (ProxyLink *link)
{
  g_cancellable_cancel (link->cancellable);

  if (link->in != NULL)
    g_socket_close (g_socket_connection_get_socket (link->in), NULL);
  if (link->out != NULL)
    g_socket_close (g_socket_connection_get_socket (link->out), NULL);
}

static void
proxy_link_done (ProxyLink *link)
{
  if (link->proxy != NULL)
    g_ptr_array_remove (link->proxy->links, link);

  proxy_link_free (link);
}

static void
proxy_spliced_cb (GObject      *object,
                  GAsyncResult *result,
                  gpointer      user_data)
{
  ProxyLink *link = user_data;

  g_io_stream_splice_finish (result, NULL);
  proxy_link_cut (link);
  proxy_link_done (link);
}

static void
proxy_connected_cb (GObject      *object,
                    GAsyncResult *result,
                    gpointer      user_data)
{
  ProxyLink *link = user_data;
  g_autoptr(GError) error = NULL;

  link->out = g_socket_client_connect_finish (G_SOCKET_CLIENT (object), result, &error);
  if (link->out == NULL)
    {
      proxy_link_cut (link);
      proxy_link_done (link);
      return;
    }

  g_io_stream_splice_async (G_IO_STREAM (link->in), G_IO_STREAM (link->out),
                            G_IO_STREAM_SPLICE_CLOSE_STREAM1 | G_IO_STREAM_SPLICE_CLOSE_STREAM2,
                            G_PRIORITY_DEFAULT, link->cancellable,
                            proxy_spliced_cb, link);
}

static gboolean
proxy_incoming_cb (GSocketService    *service,
                   GSocketConnection *connection,
                   GObject           *source_object,
                   StressProxy       *proxy)
{
  g_autoptr(GSocketClient) client = g_socket_client_new ();
  ProxyLink *link = g_new0 (ProxyLink, 1);

  link->proxy = proxy;
  link->in = g_object_ref (connection);
  link->cancellable = g_cancellable_new ();
  g_ptr_array_add (proxy->links, link);

  g_socket_client_connect_to_host_async (client, "127.0.0.1", proxy->upstream_port,
                                         link->cancellable, proxy_connected_cb, link);

  return TRUE;
}

static void
proxy_listen (StressProxy *proxy)
{
  g_autoptr(GError) error = NULL;
  g_autoptr(GInetAddress) loopback = g_inet_address_new_loopback (G_SOCKET_FAMILY_IPV4);
  g_autoptr(GSocketAddress) address = g_inet_socket_address_new (loopback, proxy->port);
  g_autoptr(GSocketAddress) effective = NULL;

  proxy->service = g_socket_service_new ();
  g_socket_listener_add_address (G_SOCKET_LISTENER (proxy->service), address,
                                 G_SOCKET_TYPE_STREAM, G_SOCKET_PROTOCOL_TCP,
                                 NULL, &effective, &error);
  g_assert_no_error (error);

  if (proxy->port == 0)
    proxy->port = g_inet_socket_address_get_port (G_INET_SOCKET_ADDRESS (effective));

  g_signal_connect (proxy->service, "incoming", G_CALLBACK (proxy_incoming_cb), proxy);
  g_socket_service_start (proxy->service);
}

StressProxy *
stress_proxy_new (guint16 upstream_port)
{
  StressProxy *proxy = g_new0 (StressProxy, 1);

  proxy->upstream_port = upstream_port;
  proxy->links = g_ptr_array_new ();
  proxy_listen (proxy);
  proxy->url = g_strdup_printf ("http://127.0.0.1:%u", proxy->port);

  return proxy;
}

const char *
stress_proxy_get_url (StressProxy *proxy)
{
  return proxy->url;
}

gboolean
stress_proxy_is_refusing (StressProxy *proxy)
{
  return proxy->service == NULL;
}

void
stress_proxy_refuse (StressProxy *proxy)
{
  if (proxy->service == NULL)
    return;

  /* Stopped first, so that the pending accept ends as cancelled. */
  g_socket_service_stop (proxy->service);
  g_socket_listener_close (G_SOCKET_LISTENER (proxy->service));
  g_signal_handlers_disconnect_by_data (proxy->service, proxy);
  g_clear_object (&proxy->service);

  for (guint i = 0; i < proxy->links->len; i++)
    proxy_link_cut (g_ptr_array_index (proxy->links, i));
}

void
stress_proxy_resume (StressProxy *proxy)
{
  if (proxy->service == NULL)
    proxy_listen (proxy);
}

void
stress_proxy_free (StressProxy *proxy)
{
  stress_proxy_refuse (proxy);

  /* The links end in their callbacks; they must not find the proxy. */
  for (guint i = 0; i < proxy->links->len; i++)
    ((ProxyLink *) g_ptr_array_index (proxy->links, i))->proxy = NULL;

  g_ptr_array_unref (proxy->links);
  g_free (proxy->url);
  g_free (proxy);
}
