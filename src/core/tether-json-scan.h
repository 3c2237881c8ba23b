/* tether-json-scan.h
 *
 * Copyright 2026 The Tether authors
 *
 * SPDX-License-Identifier: GPL-3.0-or-later
 */

#pragma once

#include <glib.h>

G_BEGIN_DECLS

/* A small validating JSON scanner. It checks full JSON syntax (RFC 8259:
 * strings, escapes, strict UTF-8, numbers, nesting) without building a
 * tree, so that the store can open a large file without paying for
 * json-glib's parser and its memory on records nobody looks at.
 *
 * It is deliberately stricter than json-glib in the places where json-glib
 * would silently change data, so that anything it accepts parses to the
 * same values with json-glib later:
 *  - integers must fit in 64 bits (json-glib wraps them around);
 *  - numbers must be finite as doubles (json-glib makes 1e999 infinite and
 *    then writes it out as "inf.0", which is not JSON);
 *  - "\u0000" is refused (json-glib cuts the string there);
 *  - nesting is limited to TETHER_JSON_SCAN_MAX_DEPTH (json-glib recurses
 *    without a limit and overflows the stack on deep input). */

#define TETHER_JSON_SCAN_MAX_DEPTH 512

#define TETHER_JSON_SCAN_ERROR (tether_json_scan_error_quark ())

typedef enum
{
  TETHER_JSON_SCAN_ERROR_INVALID,
  /* Nested deeper than TETHER_JSON_SCAN_MAX_DEPTH; what follows that
   * point is not looked at. */
  TETHER_JSON_SCAN_ERROR_TOO_DEEP,
} TetherJsonScanError;

typedef enum
{
  TETHER_JSON_NULL,
  TETHER_JSON_BOOLEAN,
  TETHER_JSON_INTEGER,
  TETHER_JSON_DOUBLE,
  TETHER_JSON_STRING,
  TETHER_JSON_ARRAY,
  TETHER_JSON_OBJECT,
} TetherJsonKind;

/* Where a scanned value is in the buffer: @start points at its first byte
 * (the opening quote of a string) and @length covers it up to its last
 * byte (the closing quote, bracket or brace). */
typedef struct
{
  const char     *start;
  gsize           length;
  TetherJsonKind  kind;
  /* Strings: whether there is a backslash escape in it. */
  gboolean        escaped;
} TetherJsonValue;

/* Called for each member of the scanned object, in document order. @key is
 * a TETHER_JSON_STRING value. */
typedef void (*TetherJsonMemberFunc) (const TetherJsonValue *key,
                                      const TetherJsonValue *value,
                                      gpointer               user_data);

/* Called for a string value (never a member name). */
typedef void (*TetherJsonStringFunc) (const TetherJsonValue *value,
                                      gpointer               user_data);

GQuark    tether_json_scan_error_quark      (void);

/* Validates that @data is exactly one JSON value, surrounded by nothing but
 * JSON whitespace. */
gboolean  tether_json_scan_validate         (const char             *data,
                                             gsize                   length,
                                             GError                **error);
/* Validates that @data is exactly one JSON object (surrounded by nothing but
 * JSON whitespace) and calls @func for each of its top-level members. */
gboolean  tether_json_scan_object           (const char             *data,
                                             gsize                   length,
                                             TetherJsonMemberFunc    func,
                                             gpointer                user_data,
                                             GError                **error);

/* Validates that @data is exactly one JSON value (surrounded by nothing
 * but JSON whitespace) and calls @func for every string value in it, at
 * any depth, in document order. */
gboolean  tether_json_scan_strings          (const char             *data,
                                             gsize                   length,
                                             TetherJsonStringFunc    func,
                                             gpointer                user_data,
                                             GError                **error);

/* The following work on values a scan returned, which are known to be
 * valid. */

/* The unescaped text of a string value; always valid UTF-8. */
char     *tether_json_value_dup_string      (const TetherJsonValue  *value);
/* Whether a string value's text equals @str, without allocating. */
gboolean  tether_json_value_equal_string    (const TetherJsonValue  *value,
                                             const char             *str);
/* The value of an integer value (which the scan checked fits). */
gint64    tether_json_value_get_int         (const TetherJsonValue  *value);

G_END_DECLS
