/* tether-account.c
 *
 * Copyright 2026 The Tether authors
 *
 * SPDX-License-Identifier: GPL-3.0-or-later
 */

#include "config.h"

#include <string.h>

#include <glib/gi18n-lib.h>

#include "tether-account.h"
#include "tether-enums.h"

/* Where and who: the server settings of one collection, and the secret for
 * it in the keyring. The account never holds the secret itself; the remote
 * gets it from the caller, who looks it up here. */

struct _TetherAccount
{
  GObject               parent_instance;

  char                 *server_url;
  char                 *collection;
  char                 *id_field;
  char                 *client_id_field;
  char                 *title_field;
  char                 *username;
  TetherUpdateMethod    update_method;
  TetherAuthKind        auth_kind;
  TetherConflictPolicy  conflict_policy;
  guint                 page_size;
  guint                 push_concurrency;
  guint                 auto_sync_interval;
  gboolean              auto_sync;

  GSettings            *settings;
};

G_DEFINE_FINAL_TYPE (TetherAccount, tether_account, G_TYPE_OBJECT)

G_DEFINE_QUARK (tether-account-error-quark, tether_account_error)

enum {
  PROP_0,
  PROP_SERVER_URL,
  PROP_COLLECTION,
  PROP_ID_FIELD,
  PROP_CLIENT_ID_FIELD,
  PROP_TITLE_FIELD,
  PROP_UPDATE_METHOD,
  PROP_PAGE_SIZE,
  PROP_PUSH_CONCURRENCY,
  PROP_AUTH_KIND,
  PROP_USERNAME,
  PROP_CONFLICT_POLICY,
  PROP_AUTO_SYNC,
  PROP_AUTO_SYNC_INTERVAL,
  N_PROPS
};

static GParamSpec *properties[N_PROPS];

#define DEFAULT_COLLECTION       "records"
#define DEFAULT_ID_FIELD         "id"
#define DEFAULT_CLIENT_ID_FIELD  "clientId"
#define DEFAULT_PAGE_SIZE        100
#define MAX_PAGE_SIZE            10000
#define DEFAULT_PUSH_CONCURRENCY 4
#define MAX_PUSH_CONCURRENCY     16
#define MAX_AUTO_SYNC_INTERVAL   1440

/* The properties that follow a GSettings key of the same name. */
static const char * const bound_keys[] = {
  "server-url",
  "collection",
  "id-field",
  "client-id-field",
  "title-field",
  "update-method",
  "page-size",
  "push-concurrency",
  "auth-kind",
  "username",
  "conflict-policy",
  "auto-sync",
  "auto-sync-interval",
};

static const SecretSchema secret_schema = {
  "io.github.tetherapp.Tether.Credentials",
  SECRET_SCHEMA_NONE,
  {
    { "server", SECRET_SCHEMA_ATTRIBUTE_STRING },
    { "username", SECRET_SCHEMA_ATTRIBUTE_STRING },
    { "kind", SECRET_SCHEMA_ATTRIBUTE_STRING },
    { NULL, 0 },
  }
};

static gboolean
set_string (char       **field,
            const char  *value)
{
  if (value == NULL)
    value = "";

  if (g_strcmp0 (*field, value) == 0)
    return FALSE;

  g_free (*field);
  *field = g_strdup (value);

  return TRUE;
}

static void
tether_account_dispose (GObject *object)
{
  TetherAccount *self = (TetherAccount *)object;

  g_clear_object (&self->settings);

  G_OBJECT_CLASS (tether_account_parent_class)->dispose (object);
}

static void
tether_account_finalize (GObject *object)
{
  TetherAccount *self = (TetherAccount *)object;

  g_clear_pointer (&self->server_url, g_free);
  g_clear_pointer (&self->collection, g_free);
  g_clear_pointer (&self->id_field, g_free);
  g_clear_pointer (&self->client_id_field, g_free);
  g_clear_pointer (&self->title_field, g_free);
  g_clear_pointer (&self->username, g_free);

  G_OBJECT_CLASS (tether_account_parent_class)->finalize (object);
}

static void
tether_account_get_property (GObject    *object,
                             guint       prop_id,
                             GValue     *value,
                             GParamSpec *pspec)
{
  TetherAccount *self = TETHER_ACCOUNT (object);

  switch (prop_id)
    {
    case PROP_SERVER_URL:
      g_value_set_string (value, self->server_url);
      break;

    case PROP_COLLECTION:
      g_value_set_string (value, self->collection);
      break;

    case PROP_ID_FIELD:
      g_value_set_string (value, self->id_field);
      break;

    case PROP_CLIENT_ID_FIELD:
      g_value_set_string (value, self->client_id_field);
      break;

    case PROP_TITLE_FIELD:
      g_value_set_string (value, self->title_field);
      break;

    case PROP_UPDATE_METHOD:
      g_value_set_enum (value, self->update_method);
      break;

    case PROP_PAGE_SIZE:
      g_value_set_uint (value, self->page_size);
      break;

    case PROP_PUSH_CONCURRENCY:
      g_value_set_uint (value, self->push_concurrency);
      break;

    case PROP_AUTH_KIND:
      g_value_set_enum (value, self->auth_kind);
      break;

    case PROP_USERNAME:
      g_value_set_string (value, self->username);
      break;

    case PROP_CONFLICT_POLICY:
      g_value_set_enum (value, self->conflict_policy);
      break;

    case PROP_AUTO_SYNC:
      g_value_set_boolean (value, self->auto_sync);
      break;

    case PROP_AUTO_SYNC_INTERVAL:
      g_value_set_uint (value, self->auto_sync_interval);
      break;

    default:
      G_OBJECT_WARN_INVALID_PROPERTY_ID (object, prop_id, pspec);
    }
}

static void
tether_account_set_property (GObject      *object,
                             guint         prop_id,
                             const GValue *value,
                             GParamSpec   *pspec)
{
  TetherAccount *self = TETHER_ACCOUNT (object);

  switch (prop_id)
    {
    case PROP_SERVER_URL:
      tether_account_set_server_url (self, g_value_get_string (value));
      break;

    case PROP_COLLECTION:
      tether_account_set_collection (self, g_value_get_string (value));
      break;

    case PROP_ID_FIELD:
      tether_account_set_id_field (self, g_value_get_string (value));
      break;

    case PROP_CLIENT_ID_FIELD:
      tether_account_set_client_id_field (self, g_value_get_string (value));
      break;

    case PROP_TITLE_FIELD:
      tether_account_set_title_field (self, g_value_get_string (value));
      break;

    case PROP_UPDATE_METHOD:
      tether_account_set_update_method (self, g_value_get_enum (value));
      break;

    case PROP_PAGE_SIZE:
      tether_account_set_page_size (self, g_value_get_uint (value));
      break;

    case PROP_PUSH_CONCURRENCY:
      tether_account_set_push_concurrency (self, g_value_get_uint (value));
      break;

    case PROP_AUTH_KIND:
      tether_account_set_auth_kind (self, g_value_get_enum (value));
      break;

    case PROP_USERNAME:
      tether_account_set_username (self, g_value_get_string (value));
      break;

    case PROP_CONFLICT_POLICY:
      tether_account_set_conflict_policy (self, g_value_get_enum (value));
      break;

    case PROP_AUTO_SYNC:
      tether_account_set_auto_sync (self, g_value_get_boolean (value));
      break;

    case PROP_AUTO_SYNC_INTERVAL:
      tether_account_set_auto_sync_interval (self, g_value_get_uint (value));
      break;

    default:
      G_OBJECT_WARN_INVALID_PROPERTY_ID (object, prop_id, pspec);
    }
}

static void
tether_account_class_init (TetherAccountClass *klass)
{
  GObjectClass *object_class = G_OBJECT_CLASS (klass);

  object_class->dispose = tether_account_dispose;
  object_class->finalize = tether_account_finalize;
  object_class->get_property = tether_account_get_property;
  object_class->set_property = tether_account_set_property;

  properties[PROP_SERVER_URL] =
    g_param_spec_string ("server-url", NULL, NULL,
                         "",
                         (G_PARAM_READWRITE | G_PARAM_EXPLICIT_NOTIFY | G_PARAM_STATIC_STRINGS));

  properties[PROP_COLLECTION] =
    g_param_spec_string ("collection", NULL, NULL,
                         DEFAULT_COLLECTION,
                         (G_PARAM_READWRITE | G_PARAM_EXPLICIT_NOTIFY | G_PARAM_STATIC_STRINGS));

  properties[PROP_ID_FIELD] =
    g_param_spec_string ("id-field", NULL, NULL,
                         DEFAULT_ID_FIELD,
                         (G_PARAM_READWRITE | G_PARAM_EXPLICIT_NOTIFY | G_PARAM_STATIC_STRINGS));

  properties[PROP_CLIENT_ID_FIELD] =
    g_param_spec_string ("client-id-field", NULL, NULL,
                         DEFAULT_CLIENT_ID_FIELD,
                         (G_PARAM_READWRITE | G_PARAM_EXPLICIT_NOTIFY | G_PARAM_STATIC_STRINGS));

  properties[PROP_TITLE_FIELD] =
    g_param_spec_string ("title-field", NULL, NULL,
                         "",
                         (G_PARAM_READWRITE | G_PARAM_EXPLICIT_NOTIFY | G_PARAM_STATIC_STRINGS));

  properties[PROP_UPDATE_METHOD] =
    g_param_spec_enum ("update-method", NULL, NULL,
                       TETHER_TYPE_UPDATE_METHOD,
                       TETHER_UPDATE_METHOD_PATCH,
                       (G_PARAM_READWRITE | G_PARAM_EXPLICIT_NOTIFY | G_PARAM_STATIC_STRINGS));

  properties[PROP_PAGE_SIZE] =
    g_param_spec_uint ("page-size", NULL, NULL,
                       1, MAX_PAGE_SIZE, DEFAULT_PAGE_SIZE,
                       (G_PARAM_READWRITE | G_PARAM_EXPLICIT_NOTIFY | G_PARAM_STATIC_STRINGS));

  properties[PROP_PUSH_CONCURRENCY] =
    g_param_spec_uint ("push-concurrency", NULL, NULL,
                       1, MAX_PUSH_CONCURRENCY, DEFAULT_PUSH_CONCURRENCY,
                       (G_PARAM_READWRITE | G_PARAM_EXPLICIT_NOTIFY | G_PARAM_STATIC_STRINGS));

  properties[PROP_AUTH_KIND] =
    g_param_spec_enum ("auth-kind", NULL, NULL,
                       TETHER_TYPE_AUTH_KIND,
                       TETHER_AUTH_KIND_NONE,
                       (G_PARAM_READWRITE | G_PARAM_EXPLICIT_NOTIFY | G_PARAM_STATIC_STRINGS));

  properties[PROP_USERNAME] =
    g_param_spec_string ("username", NULL, NULL,
                         "",
                         (G_PARAM_READWRITE | G_PARAM_EXPLICIT_NOTIFY | G_PARAM_STATIC_STRINGS));

  properties[PROP_CONFLICT_POLICY] =
    g_param_spec_enum ("conflict-policy", NULL, NULL,
                       TETHER_TYPE_CONFLICT_POLICY,
                       TETHER_CONFLICT_POLICY_ASK,
                       (G_PARAM_READWRITE | G_PARAM_EXPLICIT_NOTIFY | G_PARAM_STATIC_STRINGS));

  properties[PROP_AUTO_SYNC] =
    g_param_spec_boolean ("auto-sync", NULL, NULL,
                          TRUE,
                          (G_PARAM_READWRITE | G_PARAM_EXPLICIT_NOTIFY | G_PARAM_STATIC_STRINGS));

  properties[PROP_AUTO_SYNC_INTERVAL] =
    g_param_spec_uint ("auto-sync-interval", NULL, NULL,
                       0, MAX_AUTO_SYNC_INTERVAL, 0,
                       (G_PARAM_READWRITE | G_PARAM_EXPLICIT_NOTIFY | G_PARAM_STATIC_STRINGS));

  g_object_class_install_properties (object_class, N_PROPS, properties);
}

static void
tether_account_init (TetherAccount *self)
{
  self->server_url = g_strdup ("");
  self->collection = g_strdup (DEFAULT_COLLECTION);
  self->id_field = g_strdup (DEFAULT_ID_FIELD);
  self->client_id_field = g_strdup (DEFAULT_CLIENT_ID_FIELD);
  self->title_field = g_strdup ("");
  self->username = g_strdup ("");
  self->update_method = TETHER_UPDATE_METHOD_PATCH;
  self->auth_kind = TETHER_AUTH_KIND_NONE;
  self->conflict_policy = TETHER_CONFLICT_POLICY_ASK;
  self->page_size = DEFAULT_PAGE_SIZE;
  self->push_concurrency = DEFAULT_PUSH_CONCURRENCY;
  self->auto_sync = TRUE;
  self->auto_sync_interval = 0;
}

TetherAccount *
tether_account_new (void)
{
  return g_object_new (TETHER_TYPE_ACCOUNT, NULL);
}

TetherAccount *
tether_account_new_from_settings (GSettings *settings)
{
  TetherAccount *self;

  g_return_val_if_fail (G_IS_SETTINGS (settings), NULL);

  self = tether_account_new ();
  self->settings = g_object_ref (settings);

  /* GSettings maps the string keys with <choices> to the enum properties
   * by their nicks ("local-wins" ↔ TETHER_CONFLICT_POLICY_LOCAL_WINS), so a
   * plain binding does for every key. */
  for (guint i = 0; i < G_N_ELEMENTS (bound_keys); i++)
    g_settings_bind (settings, bound_keys[i],
                     self, bound_keys[i],
                     G_SETTINGS_BIND_GET | G_SETTINGS_BIND_NO_SENSITIVITY);

  return self;
}

const char *
tether_account_get_server_url (TetherAccount *self)
{
  g_return_val_if_fail (TETHER_IS_ACCOUNT (self), NULL);

  return self->server_url;
}

void
tether_account_set_server_url (TetherAccount *self,
                               const char    *server_url)
{
  g_return_if_fail (TETHER_IS_ACCOUNT (self));

  if (set_string (&self->server_url, server_url))
    g_object_notify_by_pspec (G_OBJECT (self), properties[PROP_SERVER_URL]);
}

const char *
tether_account_get_collection (TetherAccount *self)
{
  g_return_val_if_fail (TETHER_IS_ACCOUNT (self), NULL);

  return self->collection;
}

void
tether_account_set_collection (TetherAccount *self,
                               const char    *collection)
{
  g_return_if_fail (TETHER_IS_ACCOUNT (self));

  if (set_string (&self->collection, collection))
    g_object_notify_by_pspec (G_OBJECT (self), properties[PROP_COLLECTION]);
}

const char *
tether_account_get_id_field (TetherAccount *self)
{
  g_return_val_if_fail (TETHER_IS_ACCOUNT (self), NULL);

  return self->id_field;
}

void
tether_account_set_id_field (TetherAccount *self,
                             const char    *id_field)
{
  g_return_if_fail (TETHER_IS_ACCOUNT (self));

  if (set_string (&self->id_field, id_field))
    g_object_notify_by_pspec (G_OBJECT (self), properties[PROP_ID_FIELD]);
}

const char *
tether_account_get_client_id_field (TetherAccount *self)
{
  g_return_val_if_fail (TETHER_IS_ACCOUNT (self), NULL);

  return self->client_id_field;
}

void
tether_account_set_client_id_field (TetherAccount *self,
                                    const char    *client_id_field)
{
  g_return_if_fail (TETHER_IS_ACCOUNT (self));

  if (set_string (&self->client_id_field, client_id_field))
    g_object_notify_by_pspec (G_OBJECT (self), properties[PROP_CLIENT_ID_FIELD]);
}

const char *
tether_account_get_title_field (TetherAccount *self)
{
  g_return_val_if_fail (TETHER_IS_ACCOUNT (self), NULL);

  return self->title_field;
}

void
tether_account_set_title_field (TetherAccount *self,
                                const char    *title_field)
{
  g_return_if_fail (TETHER_IS_ACCOUNT (self));

  if (set_string (&self->title_field, title_field))
    g_object_notify_by_pspec (G_OBJECT (self), properties[PROP_TITLE_FIELD]);
}

TetherUpdateMethod
tether_account_get_update_method (TetherAccount *self)
{
  g_return_val_if_fail (TETHER_IS_ACCOUNT (self), TETHER_UPDATE_METHOD_PATCH);

  return self->update_method;
}

void
tether_account_set_update_method (TetherAccount      *self,
                                  TetherUpdateMethod  method)
{
  g_return_if_fail (TETHER_IS_ACCOUNT (self));
  g_return_if_fail (method <= TETHER_UPDATE_METHOD_PUT);

  if (self->update_method == method)
    return;

  self->update_method = method;
  g_object_notify_by_pspec (G_OBJECT (self), properties[PROP_UPDATE_METHOD]);
}

guint
tether_account_get_page_size (TetherAccount *self)
{
  g_return_val_if_fail (TETHER_IS_ACCOUNT (self), DEFAULT_PAGE_SIZE);

  return self->page_size;
}

void
tether_account_set_page_size (TetherAccount *self,
                              guint          page_size)
{
  g_return_if_fail (TETHER_IS_ACCOUNT (self));
  g_return_if_fail (page_size >= 1 && page_size <= MAX_PAGE_SIZE);

  if (self->page_size == page_size)
    return;

  self->page_size = page_size;
  g_object_notify_by_pspec (G_OBJECT (self), properties[PROP_PAGE_SIZE]);
}

guint
tether_account_get_push_concurrency (TetherAccount *self)
{
  g_return_val_if_fail (TETHER_IS_ACCOUNT (self), DEFAULT_PUSH_CONCURRENCY);

  return self->push_concurrency;
}

void
tether_account_set_push_concurrency (TetherAccount *self,
                                     guint          push_concurrency)
{
  g_return_if_fail (TETHER_IS_ACCOUNT (self));
  g_return_if_fail (push_concurrency >= 1 && push_concurrency <= MAX_PUSH_CONCURRENCY);

  if (self->push_concurrency == push_concurrency)
    return;

  self->push_concurrency = push_concurrency;
  g_object_notify_by_pspec (G_OBJECT (self), properties[PROP_PUSH_CONCURRENCY]);
}

TetherAuthKind
tether_account_get_auth_kind (TetherAccount *self)
{
  g_return_val_if_fail (TETHER_IS_ACCOUNT (self), TETHER_AUTH_KIND_NONE);

  return self->auth_kind;
}

void
tether_account_set_auth_kind (TetherAccount  *self,
                              TetherAuthKind  auth_kind)
{
  g_return_if_fail (TETHER_IS_ACCOUNT (self));
  g_return_if_fail (auth_kind <= TETHER_AUTH_KIND_BEARER);

  if (self->auth_kind == auth_kind)
    return;

  self->auth_kind = auth_kind;
  g_object_notify_by_pspec (G_OBJECT (self), properties[PROP_AUTH_KIND]);
}

const char *
tether_account_get_username (TetherAccount *self)
{
  g_return_val_if_fail (TETHER_IS_ACCOUNT (self), NULL);

  return self->username;
}

void
tether_account_set_username (TetherAccount *self,
                             const char    *username)
{
  g_return_if_fail (TETHER_IS_ACCOUNT (self));

  if (set_string (&self->username, username))
    g_object_notify_by_pspec (G_OBJECT (self), properties[PROP_USERNAME]);
}

TetherConflictPolicy
tether_account_get_conflict_policy (TetherAccount *self)
{
  g_return_val_if_fail (TETHER_IS_ACCOUNT (self), TETHER_CONFLICT_POLICY_ASK);

  return self->conflict_policy;
}

void
tether_account_set_conflict_policy (TetherAccount        *self,
                                    TetherConflictPolicy  policy)
{
  g_return_if_fail (TETHER_IS_ACCOUNT (self));
  g_return_if_fail (policy <= TETHER_CONFLICT_POLICY_SERVER_WINS);

  if (self->conflict_policy == policy)
    return;

  self->conflict_policy = policy;
  g_object_notify_by_pspec (G_OBJECT (self), properties[PROP_CONFLICT_POLICY]);
}

gboolean
tether_account_get_auto_sync (TetherAccount *self)
{
  g_return_val_if_fail (TETHER_IS_ACCOUNT (self), FALSE);

  return self->auto_sync;
}

void
tether_account_set_auto_sync (TetherAccount *self,
                              gboolean       auto_sync)
{
  g_return_if_fail (TETHER_IS_ACCOUNT (self));

  auto_sync = !!auto_sync;

  if (self->auto_sync == auto_sync)
    return;

  self->auto_sync = auto_sync;
  g_object_notify_by_pspec (G_OBJECT (self), properties[PROP_AUTO_SYNC]);
}

guint
tether_account_get_auto_sync_interval (TetherAccount *self)
{
  g_return_val_if_fail (TETHER_IS_ACCOUNT (self), 0);

  return self->auto_sync_interval;
}

void
tether_account_set_auto_sync_interval (TetherAccount *self,
                                       guint          minutes)
{
  g_return_if_fail (TETHER_IS_ACCOUNT (self));
  g_return_if_fail (minutes <= MAX_AUTO_SYNC_INTERVAL);

  if (self->auto_sync_interval == minutes)
    return;

  self->auto_sync_interval = minutes;
  g_object_notify_by_pspec (G_OBJECT (self), properties[PROP_AUTO_SYNC_INTERVAL]);
}

gboolean
tether_account_has_server (TetherAccount *self)
{
  g_return_val_if_fail (TETHER_IS_ACCOUNT (self), FALSE);

  return self->server_url[0] != '\0';
}

gboolean
tether_account_validate_url (const char  *url,
                             char       **normalized_url,
                             GError     **error)
{
  g_autoptr(GUri) uri = NULL;
  g_autofree char *scheme = NULL;
  g_autofree char *host = NULL;
  g_autofree char *path = NULL;
  g_autoptr(GUri) normalized = NULL;
  g_autoptr(GError) local_error = NULL;
  const char *stripped;
  int port;

  if (normalized_url != NULL)
    *normalized_url = NULL;

  stripped = url != NULL ? url : "";
  while (g_ascii_isspace (*stripped))
    stripped++;

  if (*stripped == '\0')
    {
      g_set_error_literal (error, TETHER_ACCOUNT_ERROR, TETHER_ACCOUNT_ERROR_INVALID_URL,
                           _("No server address is set. Enter one in Preferences, for example https://example.org/api."));
      return FALSE;
    }

  /* Whitespace inside or around an address is a typing mistake, not
   * something to fix up silently. */
  for (const char *p = url; *p != '\0'; p++)
    {
      if (g_ascii_isspace (*p) || g_ascii_iscntrl (*p))
        {
          g_set_error_literal (error, TETHER_ACCOUNT_ERROR, TETHER_ACCOUNT_ERROR_INVALID_URL,
                               _("The server address contains spaces. Remove them and try again."));
          return FALSE;
        }
    }

  uri = g_uri_parse (url, G_URI_FLAGS_HAS_PASSWORD | G_URI_FLAGS_ENCODED | G_URI_FLAGS_SCHEME_NORMALIZE,
                     &local_error);
  if (uri == NULL)
    {
      g_set_error_literal (error, TETHER_ACCOUNT_ERROR, TETHER_ACCOUNT_ERROR_INVALID_URL,
                           _("The server address is not a valid web address. It should look like https://example.org/api."));
      return FALSE;
    }

  scheme = g_ascii_strdown (g_uri_get_scheme (uri), -1);
  if (strcmp (scheme, "http") != 0 && strcmp (scheme, "https") != 0)
    {
      g_set_error_literal (error, TETHER_ACCOUNT_ERROR, TETHER_ACCOUNT_ERROR_INVALID_URL,
                           _("The server address must start with https:// (or http:// for a server on this computer)."));
      return FALSE;
    }

  if (g_uri_get_host (uri) == NULL || g_uri_get_host (uri)[0] == '\0')
    {
      g_set_error_literal (error, TETHER_ACCOUNT_ERROR, TETHER_ACCOUNT_ERROR_INVALID_URL,
                           _("The server address has no server name. It should look like https://example.org/api."));
      return FALSE;
    }

  if (g_uri_get_userinfo (uri) != NULL)
    {
      g_set_error_literal (error, TETHER_ACCOUNT_ERROR, TETHER_ACCOUNT_ERROR_INVALID_URL,
                           _("The server address contains a user name or password. Remove it from the address and enter the credentials in the fields for them, which keep the password in the keyring."));
      return FALSE;
    }

  if (g_uri_get_query (uri) != NULL)
    {
      g_set_error_literal (error, TETHER_ACCOUNT_ERROR, TETHER_ACCOUNT_ERROR_INVALID_URL,
                           _("The server address must not contain a query (the part after “?”)."));
      return FALSE;
    }

  if (g_uri_get_fragment (uri) != NULL)
    {
      g_set_error_literal (error, TETHER_ACCOUNT_ERROR, TETHER_ACCOUNT_ERROR_INVALID_URL,
                           _("The server address must not contain a fragment (the part after “#”)."));
      return FALSE;
    }

  if (normalized_url == NULL)
    return TRUE;

  host = g_ascii_strdown (g_uri_get_host (uri), -1);
  path = g_strdup (g_uri_get_path (uri));
  while (path[0] != '\0' && path[strlen (path) - 1] == '/')
    path[strlen (path) - 1] = '\0';

  /* Built without G_URI_FLAGS_SCHEME_NORMALIZE, which would turn the
   * empty path back into "/", and without the scheme's default port. */
  port = g_uri_get_port (uri);
  if ((port == 80 && strcmp (scheme, "http") == 0) ||
      (port == 443 && strcmp (scheme, "https") == 0))
    port = -1;

  normalized = g_uri_build (G_URI_FLAGS_ENCODED,
                            scheme, NULL, host, port,
                            path, NULL, NULL);
  *normalized_url = g_uri_to_string (normalized);

  return TRUE;
}

/*
 * Secrets
 */

const SecretSchema *
tether_account_get_secret_schema (void)
{
  return &secret_schema;
}

static const char *
auth_kind_to_attribute (TetherAuthKind kind)
{
  switch (kind)
    {
    case TETHER_AUTH_KIND_BASIC:
      return "basic";

    case TETHER_AUTH_KIND_BEARER:
      return "bearer";

    case TETHER_AUTH_KIND_NONE:
    default:
      return "none";
    }
}

static GHashTable *
secret_attributes (TetherAccount  *self,
                   GError        **error)
{
  g_autofree char *server = NULL;
  GHashTable *attributes;

  if (!tether_account_validate_url (self->server_url, &server, error))
    return NULL;

  attributes = g_hash_table_new_full (g_str_hash, g_str_equal, NULL, g_free);
  g_hash_table_insert (attributes, (gpointer) "server", g_steal_pointer (&server));
  g_hash_table_insert (attributes, (gpointer) "username", g_strdup (self->username));
  g_hash_table_insert (attributes, (gpointer) "kind",
                       g_strdup (auth_kind_to_attribute (self->auth_kind)));

  return attributes;
}

/* The keyring's own messages can be technical ("The name
 * org.freedesktop.secrets was not provided by any .service files"); they go
 * to the debug log and the user gets a sentence that says what to do. None
 * of them carries the secret. */
static GError *
keyring_error_new (const GError *error,
                   GCancellable *cancellable)
{
  g_debug ("Keyring error: %s (%s, %d)",
           error->message, g_quark_to_string (error->domain), error->code);

  if (g_error_matches (error, G_IO_ERROR, G_IO_ERROR_CANCELLED))
    {
      /* A prompt to unlock the keyring that was dismissed also ends as
       * cancelled; only our own cancellable means the caller gave up. */
      if (g_cancellable_is_cancelled (cancellable))
        return g_error_copy (error);

      return g_error_new_literal (TETHER_ACCOUNT_ERROR, TETHER_ACCOUNT_ERROR_KEYRING_LOCKED,
                                  _("The keyring is locked. Unlock it (for example by logging in again) and try again."));
    }

  if (g_error_matches (error, SECRET_ERROR, SECRET_ERROR_IS_LOCKED))
    return g_error_new_literal (TETHER_ACCOUNT_ERROR, TETHER_ACCOUNT_ERROR_KEYRING_LOCKED,
                                _("The keyring is locked. Unlock it (for example by logging in again) and try again."));

  if (error->domain == G_DBUS_ERROR ||
      error->domain == G_IO_ERROR ||
      error->domain == G_SPAWN_ERROR)
    return g_error_new_literal (TETHER_ACCOUNT_ERROR, TETHER_ACCOUNT_ERROR_NO_KEYRING,
                                _("No keyring is available to keep the password or token, so it was not saved or read. Start a Secret Service such as GNOME Keyring and try again."));

  return g_error_new (TETHER_ACCOUNT_ERROR, TETHER_ACCOUNT_ERROR_KEYRING_FAILED,
                      _("The keyring could not be used: %s"), error->message);
}

static void
store_secret_cb (GObject      *object,
                 GAsyncResult *result,
                 gpointer      user_data)
{
  g_autoptr(GTask) task = user_data;
  g_autoptr(GError) error = NULL;

  if (!secret_password_store_finish (result, &error))
    g_task_return_error (task, keyring_error_new (error, g_task_get_cancellable (task)));
  else
    g_task_return_boolean (task, TRUE);
}

void
tether_account_store_secret_async (TetherAccount       *self,
                                   const char          *secret,
                                   GCancellable        *cancellable,
                                   GAsyncReadyCallback  callback,
                                   gpointer             user_data)
{
  g_autoptr(GTask) task = NULL;
  g_autoptr(GHashTable) attributes = NULL;
  g_autoptr(GError) error = NULL;
  g_autofree char *label = NULL;

  g_return_if_fail (TETHER_IS_ACCOUNT (self));
  g_return_if_fail (secret != NULL);
  g_return_if_fail (!cancellable || G_IS_CANCELLABLE (cancellable));

  task = g_task_new (self, cancellable, callback, user_data);
  g_task_set_source_tag (task, tether_account_store_secret_async);

  if (!(attributes = secret_attributes (self, &error)))
    {
      g_task_return_error (task, g_steal_pointer (&error));
      return;
    }

  if (self->auth_kind == TETHER_AUTH_KIND_BEARER)
    /* Translators: the label of the keyring item; %s is the server URL. */
    label = g_strdup_printf (_("Tether token for %s"),
                             (const char *) g_hash_table_lookup (attributes, "server"));
  else
    /* Translators: the label of the keyring item: user name and server URL. */
    label = g_strdup_printf (_("Tether password for %s on %s"),
                             self->username,
                             (const char *) g_hash_table_lookup (attributes, "server"));

  secret_password_storev (&secret_schema, attributes, SECRET_COLLECTION_DEFAULT,
                          label, secret, cancellable,
                          store_secret_cb, g_steal_pointer (&task));
}

gboolean
tether_account_store_secret_finish (TetherAccount  *self,
                                    GAsyncResult   *result,
                                    GError        **error)
{
  g_return_val_if_fail (TETHER_IS_ACCOUNT (self), FALSE);
  g_return_val_if_fail (g_task_is_valid (result, self), FALSE);
  g_return_val_if_fail (g_task_get_source_tag (G_TASK (result)) == tether_account_store_secret_async, FALSE);

  return g_task_propagate_boolean (G_TASK (result), error);
}

static void
lookup_secret_cb (GObject      *object,
                  GAsyncResult *result,
                  gpointer      user_data)
{
  g_autoptr(GTask) task = user_data;
  g_autoptr(GError) error = NULL;
  char *secret;

  secret = secret_password_lookup_nonpageable_finish (result, &error);

  if (error != NULL)
    g_task_return_error (task, keyring_error_new (error, g_task_get_cancellable (task)));
  else
    g_task_return_pointer (task, secret, (GDestroyNotify) secret_password_free);
}

void
tether_account_lookup_secret_async (TetherAccount       *self,
                                    GCancellable        *cancellable,
                                    GAsyncReadyCallback  callback,
                                    gpointer             user_data)
{
  g_autoptr(GTask) task = NULL;
  g_autoptr(GHashTable) attributes = NULL;
  g_autoptr(GError) error = NULL;

  g_return_if_fail (TETHER_IS_ACCOUNT (self));
  g_return_if_fail (!cancellable || G_IS_CANCELLABLE (cancellable));

  task = g_task_new (self, cancellable, callback, user_data);
  g_task_set_source_tag (task, tether_account_lookup_secret_async);

  if (!(attributes = secret_attributes (self, &error)))
    {
      g_task_return_error (task, g_steal_pointer (&error));
      return;
    }

  secret_password_lookupv (&secret_schema, attributes, cancellable,
                           lookup_secret_cb, g_steal_pointer (&task));
}

char *
tether_account_lookup_secret_finish (TetherAccount  *self,
                                     GAsyncResult   *result,
                                     GError        **error)
{
  g_return_val_if_fail (TETHER_IS_ACCOUNT (self), NULL);
  g_return_val_if_fail (g_task_is_valid (result, self), NULL);
  g_return_val_if_fail (g_task_get_source_tag (G_TASK (result)) == tether_account_lookup_secret_async, NULL);

  return g_task_propagate_pointer (G_TASK (result), error);
}

static void
clear_secret_cb (GObject      *object,
                 GAsyncResult *result,
                 gpointer      user_data)
{
  g_autoptr(GTask) task = user_data;
  g_autoptr(GError) error = NULL;

  /* FALSE without an error means there was nothing to clear. */
  secret_password_clear_finish (result, &error);

  if (error != NULL)
    g_task_return_error (task, keyring_error_new (error, g_task_get_cancellable (task)));
  else
    g_task_return_boolean (task, TRUE);
}

void
tether_account_clear_secret_async (TetherAccount       *self,
                                   GCancellable        *cancellable,
                                   GAsyncReadyCallback  callback,
                                   gpointer             user_data)
{
  g_autoptr(GTask) task = NULL;
  g_autoptr(GHashTable) attributes = NULL;
  g_autoptr(GError) error = NULL;

  g_return_if_fail (TETHER_IS_ACCOUNT (self));
  g_return_if_fail (!cancellable || G_IS_CANCELLABLE (cancellable));

  task = g_task_new (self, cancellable, callback, user_data);
  g_task_set_source_tag (task, tether_account_clear_secret_async);

  if (!(attributes = secret_attributes (self, &error)))
    {
      g_task_return_error (task, g_steal_pointer (&error));
      return;
    }

  secret_password_clearv (&secret_schema, attributes, cancellable,
                          clear_secret_cb, g_steal_pointer (&task));
}

gboolean
tether_account_clear_secret_finish (TetherAccount  *self,
                                    GAsyncResult   *result,
                                    GError        **error)
{
  g_return_val_if_fail (TETHER_IS_ACCOUNT (self), FALSE);
  g_return_val_if_fail (g_task_is_valid (result, self), FALSE);
  g_return_val_if_fail (g_task_get_source_tag (G_TASK (result)) == tether_account_clear_secret_async, FALSE);

  return g_task_propagate_boolean (G_TASK (result), error);
}

void
tether_account_secret_free (char *secret)
{
  secret_password_free (secret);
}
