/* tether-cli-args.h
 *
 * Copyright 2026 The Tether authors
 *
 * SPDX-License-Identifier: GPL-3.0-or-later
 */

#pragma once

#include <json-glib/json-glib.h>

G_BEGIN_DECLS

/* Splits "FIELD=VALUE". VALUE is taken as JSON when it parses as JSON
 * (42, true, null, "quoted", [1,2], {"a":1}), else as a plain string.
 * FIELD must not be empty. */
gboolean tether_cli_parse_assignment (const char  *argument,
                                      char       **field,
                                      JsonNode   **value,
                                      GError     **error);

G_END_DECLS
