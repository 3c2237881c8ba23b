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
   * count=42 a number, tags=["a"] an array. */
  parser = json_parser_new_immutable ();
  if (text[0] != '\0' && json_parser_load_from_data (parser, text, -1, NULL) &&
      json_parser_get_root (parser) != NULL &&
      tether_json_node_text_is_valid (json_parser_get_root (parser)))
    {
      *value = json_node_copy (json_parser_get_root (parser));
    }
  else
    {
      *value = json_node_new (JSON_NODE_VALUE);
      json_node_set_string (*value, text);
    }

  *field = g_steal_pointer (&name);

  return TRUE;
}
