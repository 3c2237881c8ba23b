/* tether-cli-args.c
 *
 * Copyright 2026 The Tether authors
 *
 * SPDX-License-Identifier: GPL-3.0-or-later
 */

#include "config.h"

#include <glib/gi18n.h>
#include <string.h>

#include "tether-cli-args.h"
#include "tether-json-scan.h"

gboolean
tether_cli_parse_assignment (const char  *argument,
                             char       **field,
                             JsonNode   **value,
                             GError     **error)
{
  g_autoptr(JsonParser) parser = NULL;
  g_autoptr(GError) scan_error = NULL;
  g_autofree char *name = NULL;
  const char *equals;
  const char *text;

  g_return_val_if_fail (argument != NULL, FALSE);
  g_return_val_if_fail (field != NULL, FALSE);
  g_return_val_if_fail (value != NULL, FALSE);

  if (!g_utf8_validate (argument, -1, NULL))
    {
      g_set_error (error, G_IO_ERROR, G_IO_ERROR_INVALID_ARGUMENT,
                   _("“%s” is not valid UTF-8"), "FIELD=VALUE");
      return FALSE;
    }

  equals = strchr (argument, '=');
  if (equals == NULL || equals == argument)
    {
      g_set_error (error, G_IO_ERROR, G_IO_ERROR_INVALID_ARGUMENT,
                   _("“%s” is not of the form FIELD=VALUE"), argument);
      return FALSE;
    }

  name = g_strndup (argument, equals - argument);
  text = equals + 1;

  /* JSON when it is JSON, text otherwise: title=Buy milk is a string,
   * count=42 a number, tags=["a"] an array. The scanner decides what is
   * JSON: json-glib also takes a lone surrogate escape (and makes invalid
   * UTF-8 of it) or a second value after the first, and recurses without
   * a limit. */
  parser = json_parser_new_immutable ();
  if (text[0] != '\0' && tether_json_scan_validate (text, strlen (text), &scan_error) &&
      json_parser_load_from_data (parser, text, -1, NULL))
    {
      *value = json_node_copy (json_parser_get_root (parser));
    }
  else if (g_error_matches (scan_error, TETHER_JSON_SCAN_ERROR, TETHER_JSON_SCAN_ERROR_TOO_DEEP))
    {
      g_set_error (error, G_IO_ERROR, G_IO_ERROR_INVALID_ARGUMENT,
                   _("The value of “%s” is nested more than %d levels deep"),
                   name, TETHER_JSON_SCAN_MAX_DEPTH);
      return FALSE;
    }
  else
    {
      *value = json_node_new (JSON_NODE_VALUE);
      json_node_set_string (*value, text);
    }

  *field = g_steal_pointer (&name);

  return TRUE;
}
