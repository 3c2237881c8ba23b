/* tether-account.h
 *
 * Copyright 2026 The Tether authors
 *
 * SPDX-License-Identifier: GPL-3.0-or-later
 */

#pragma once

#include <gio/gio.h>
#include <libsecret/secret.h>

#include "tether-types.h"

G_BEGIN_DECLS

#define TETHER_TYPE_ACCOUNT (tether_account_get_type ())

G_DECLARE_FINAL_TYPE (TetherAccount, tether_account, TETHER, ACCOUNT, GObject)

#define TETHER_ACCOUNT_ERROR (tether_account_error_quark ())

/**
 * TetherAccountError:
 * @TETHER_ACCOUNT_ERROR_INVALID_URL: the server URL is empty or not an
 *   http(s) URL Tether can use
 * @TETHER_ACCOUNT_ERROR_NO_KEYRING: no Secret Service answers on the session
 *   bus (or there is no session bus)
 * @TETHER_ACCOUNT_ERROR_KEYRING_LOCKED: the keyring is locked and was not
 *   unlocked
 * @TETHER_ACCOUNT_ERROR_KEYRING_FAILED: the keyring answered with an error
 */
typedef enum
{
  TETHER_ACCOUNT_ERROR_INVALID_URL,
  TETHER_ACCOUNT_ERROR_NO_KEYRING,
  TETHER_ACCOUNT_ERROR_KEYRING_LOCKED,
  TETHER_ACCOUNT_ERROR_KEYRING_FAILED,
} TetherAccountError;

GQuark                tether_account_error_quark            (void);

/* The schema of the keyring items: attributes "server" (the normalized
 * server URL), "username" and "kind" ("basic" or "bearer"). */
const SecretSchema   *tether_account_get_secret_schema      (void);

/* An account with the schema's defaults, bound to nothing. */
TetherAccount        *tether_account_new                    (void);
/* An account whose properties follow @settings (schema
 * io.github.tetherapp.Tether). The binding is one way, settings to
 * account: the setters below override a value for this account only (tests,
 * tether-cli) and never write to @settings. */
TetherAccount        *tether_account_new_from_settings      (GSettings      *settings);

const char           *tether_account_get_server_url         (TetherAccount  *self);
void                  tether_account_set_server_url         (TetherAccount  *self,
                                                             const char     *server_url);
const char           *tether_account_get_collection         (TetherAccount  *self);
void                  tether_account_set_collection         (TetherAccount  *self,
                                                             const char     *collection);
const char           *tether_account_get_id_field           (TetherAccount  *self);
void                  tether_account_set_id_field           (TetherAccount  *self,
                                                             const char     *id_field);
/* Empty when the client-id field is turned off. */
const char           *tether_account_get_client_id_field    (TetherAccount  *self);
void                  tether_account_set_client_id_field    (TetherAccount  *self,
                                                             const char     *client_id_field);
const char           *tether_account_get_title_field        (TetherAccount  *self);
void                  tether_account_set_title_field        (TetherAccount  *self,
                                                             const char     *title_field);
TetherUpdateMethod    tether_account_get_update_method      (TetherAccount  *self);
void                  tether_account_set_update_method      (TetherAccount  *self,
                                                             TetherUpdateMethod method);
guint                 tether_account_get_page_size          (TetherAccount  *self);
void                  tether_account_set_page_size          (TetherAccount  *self,
                                                             guint           page_size);
guint                 tether_account_get_push_concurrency   (TetherAccount  *self);
void                  tether_account_set_push_concurrency   (TetherAccount  *self,
                                                             guint           push_concurrency);
TetherAuthKind        tether_account_get_auth_kind          (TetherAccount  *self);
void                  tether_account_set_auth_kind          (TetherAccount  *self,
                                                             TetherAuthKind  auth_kind);
const char           *tether_account_get_username           (TetherAccount  *self);
void                  tether_account_set_username           (TetherAccount  *self,
                                                             const char     *username);
TetherConflictPolicy  tether_account_get_conflict_policy    (TetherAccount  *self);
void                  tether_account_set_conflict_policy    (TetherAccount  *self,
                                                             TetherConflictPolicy policy);
gboolean              tether_account_get_auto_sync          (TetherAccount  *self);
void                  tether_account_set_auto_sync          (TetherAccount  *self,
                                                             gboolean        auto_sync);
/* In minutes; 0 turns periodic sync off. */
guint                 tether_account_get_auto_sync_interval (TetherAccount  *self);
void                  tether_account_set_auto_sync_interval (TetherAccount  *self,
                                                             guint           minutes);

/* Whether a server URL is set at all (an empty one means offline only). */
gboolean              tether_account_has_server             (TetherAccount  *self);

/* Checks a server URL: http or https, a host, no user name or password in
 * it, no query and no fragment. On success @normalized_url (optional) gets
 * the URL with a lower-case scheme and host and without a trailing slash.
 * The error message is a sentence for the user and never repeats the URL
 * (it could hold a password typed by mistake). */
gboolean              tether_account_validate_url           (const char     *url,
                                                             char          **normalized_url,
                                                             GError        **error);

/* The password (Basic) or token (Bearer) in the keyring, keyed by the
 * account's normalized server URL, username and auth kind. Secrets are only
 * ever kept by the Secret Service: nothing here writes them to a file, a
 * setting, a log or an error message. */
void                  tether_account_store_secret_async     (TetherAccount       *self,
                                                             const char          *secret,
                                                             GCancellable        *cancellable,
                                                             GAsyncReadyCallback  callback,
                                                             gpointer             user_data);
gboolean              tether_account_store_secret_finish    (TetherAccount       *self,
                                                             GAsyncResult        *result,
                                                             GError             **error);
void                  tether_account_lookup_secret_async    (TetherAccount       *self,
                                                             GCancellable        *cancellable,
                                                             GAsyncReadyCallback  callback,
                                                             gpointer             user_data);
/* Returns: (transfer full) (nullable): the secret, or %NULL without an error
 * when none is stored. Free it with tether_account_secret_free(). */
char                 *tether_account_lookup_secret_finish   (TetherAccount       *self,
                                                             GAsyncResult        *result,
                                                             GError             **error);
void                  tether_account_clear_secret_async     (TetherAccount       *self,
                                                             GCancellable        *cancellable,
                                                             GAsyncReadyCallback  callback,
                                                             gpointer             user_data);
/* Succeeds when there was nothing to clear. */
gboolean              tether_account_clear_secret_finish    (TetherAccount       *self,
                                                             GAsyncResult        *result,
                                                             GError             **error);

/* Wipes and frees a secret returned by tether_account_lookup_secret_finish(). */
void                  tether_account_secret_free            (char           *secret);

G_END_DECLS
