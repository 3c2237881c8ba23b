/* tether-json-scan.c
 *
 * Copyright 2026 The Tether authors
 *
 * SPDX-License-Identifier: GPL-3.0-or-later
 */

#include "config.h"

#include <math.h>
#include <string.h>

#include "tether-json-scan.h"

G_DEFINE_QUARK (tether-json-scan-error-quark, tether_json_scan_error)

typedef struct
{
  const char            *begin;
  const char            *p;
  const char            *end;
  GError               **error;
  /* Called for every string value, member names aside. */
  TetherJsonStringFunc   string_func;
  gpointer               string_data;
} Scanner;

static gboolean scan_value (Scanner         *s,
                            guint            depth,
                            TetherJsonValue *value);

static gboolean
scanner_fail_with_code (Scanner             *s,
                        TetherJsonScanError  code,
                        const char          *at,
                        const char          *what)
{
  g_set_error (s->error,
               TETHER_JSON_SCAN_ERROR,
               code,
               "Invalid JSON at byte %" G_GSIZE_FORMAT ": %s",
               (gsize) (at - s->begin),
               what);
  return FALSE;
}

static gboolean
scanner_fail (Scanner    *s,
              const char *at,
              const char *what)
{
  return scanner_fail_with_code (s, TETHER_JSON_SCAN_ERROR_INVALID, at, what);
}

static inline void
skip_whitespace (Scanner *s)
{
  const char *p = s->p;

  while (p < s->end && (*p == ' ' || *p == '\t' || *p == '\n' || *p == '\r'))
    p++;

  s->p = p;
}

/* Whether any of eight bytes is a quote, a backslash, a control character
 * or not ASCII: the bytes a string scan has to look at one by one. Each
 * test is the usual "has a zero byte" trick; a false positive would only
 * send us to the byte-by-byte path, and there is none for ASCII input. */
static inline gboolean
has_special_byte (guint64 w)
{
  const guint64 ones = G_GUINT64_CONSTANT (0x0101010101010101);
  const guint64 high = G_GUINT64_CONSTANT (0x8080808080808080);
  guint64 quote = w ^ (ones * '"');
  guint64 backslash = w ^ (ones * '\\');

  return (((w - ones * 0x20) | (quote - ones) | (backslash - ones) | w) & high) != 0;
}

static inline int
hex_value (char c)
{
  if (c >= '0' && c <= '9')
    return c - '0';
  if (c >= 'a' && c <= 'f')
    return c - 'a' + 10;
  if (c >= 'A' && c <= 'F')
    return c - 'A' + 10;
  return -1;
}

static gboolean
read_hex4 (const char *p,
           const char *end,
           gunichar   *out)
{
  gunichar cp = 0;

  if (end - p < 4)
    return FALSE;

  for (guint i = 0; i < 4; i++)
    {
      int v = hex_value (p[i]);

      if (v < 0)
        return FALSE;
      cp = (cp << 4) | (gunichar) v;
    }

  *out = cp;
  return TRUE;
}

/* The length of the valid UTF-8 sequence at @p (RFC 3629: no overlong
 * forms, no surrogates, nothing above U+10FFFF), or 0. */
static inline gsize
utf8_sequence_length (const guchar *p,
                      const guchar *end)
{
  guchar c = p[0];
  guchar lo = 0x80;
  guchar hi = 0xbf;

  if (c >= 0xc2 && c <= 0xdf)
    {
      if (end - p < 2 || p[1] < 0x80 || p[1] > 0xbf)
        return 0;
      return 2;
    }

  if (c >= 0xe0 && c <= 0xef)
    {
      if (c == 0xe0)
        lo = 0xa0;
      else if (c == 0xed)
        hi = 0x9f;

      if (end - p < 3 ||
          p[1] < lo || p[1] > hi ||
          p[2] < 0x80 || p[2] > 0xbf)
        return 0;
      return 3;
    }

  if (c >= 0xf0 && c <= 0xf4)
    {
      if (c == 0xf0)
        lo = 0x90;
      else if (c == 0xf4)
        hi = 0x8f;

      if (end - p < 4 ||
          p[1] < lo || p[1] > hi ||
          p[2] < 0x80 || p[2] > 0xbf ||
          p[3] < 0x80 || p[3] > 0xbf)
        return 0;
      return 4;
    }

  return 0;
}

/* s->p is at the opening quote. */
static gboolean
scan_string (Scanner         *s,
             TetherJsonValue *value)
{
  const char *start = s->p;
  const char *p = start + 1;
  const char *end = s->end;
  gboolean escaped = FALSE;

  for (;;)
    {
      guchar c = 0;

      /* Most text is plain ASCII: look at it eight bytes at a time. */
      while (end - p >= 8)
        {
          guint64 w;

          memcpy (&w, p, sizeof w);
          if (has_special_byte (w))
            break;
          p += 8;
        }

      while (p < end)
        {
          c = (guchar) *p;
          if (c < 0x20 || c >= 0x80 || c == '"' || c == '\\')
            break;
          p++;
        }

      if (G_UNLIKELY (p >= end))
        return scanner_fail (s, start, "unterminated string");

      if (c == '"')
        break;

      if (c == '\\')
        {
          const char *escape = p;

          escaped = TRUE;
          p++;
          if (p >= end)
            return scanner_fail (s, start, "unterminated string");

          switch (*p)
            {
            case '"': case '\\': case '/':
            case 'b': case 'f': case 'n': case 'r': case 't':
              p++;
              break;

            case 'u':
              {
                gunichar cp;
                gunichar low;

                if (!read_hex4 (p + 1, end, &cp))
                  return scanner_fail (s, escape, "bad \\u escape");
                p += 5;

                /* Strings are C strings everywhere else in Tether. */
                if (cp == 0)
                  return scanner_fail (s, escape, "\\u0000 is not supported");

                if (cp >= 0xdc00 && cp <= 0xdfff)
                  return scanner_fail (s, escape, "unpaired surrogate in \\u escape");

                if (cp >= 0xd800 && cp <= 0xdbff)
                  {
                    if (end - p < 6 || p[0] != '\\' || p[1] != 'u' ||
                        !read_hex4 (p + 2, end, &low) ||
                        low < 0xdc00 || low > 0xdfff)
                      return scanner_fail (s, escape, "unpaired surrogate in \\u escape");
                    p += 6;
                  }
              }
              break;

            default:
              return scanner_fail (s, escape, "bad escape");
            }
        }
      else if (c < 0x20)
        {
          return scanner_fail (s, p, "control character in string");
        }
      else
        {
          gsize n = utf8_sequence_length ((const guchar *) p, (const guchar *) end);

          if (n == 0)
            return scanner_fail (s, p, "invalid UTF-8");
          p += n;
        }
    }

  /* p is at the closing quote. */
  value->start = start;
  value->length = p + 1 - start;
  value->kind = TETHER_JSON_STRING;
  value->escaped = escaped;
  s->p = p + 1;

  return TRUE;
}

static gboolean
number_is_finite (const char *start,
                  gsize       length)
{
  g_autofree char *copy = g_strndup (start, length);

  return isfinite (g_ascii_strtod (copy, NULL));
}

static gboolean
scan_number (Scanner         *s,
             TetherJsonValue *value)
{
  const char *start = s->p;
  const char *p = start;
  const char *end = s->end;
  const char *digits;
  gsize n_digits;
  gboolean negative = FALSE;
  gboolean is_double = FALSE;
  gboolean exponent_negative = FALSE;
  gint64 exponent = 0;

  if (*p == '-')
    {
      negative = TRUE;
      p++;
    }

  if (p >= end || !g_ascii_isdigit (*p))
    return scanner_fail (s, p, "expected a digit");

  digits = p;
  if (*p == '0')
    {
      p++;
      if (p < end && g_ascii_isdigit (*p))
        return scanner_fail (s, p, "leading zero in number");
    }
  else
    {
      while (p < end && g_ascii_isdigit (*p))
        p++;
    }
  n_digits = p - digits;

  if (p < end && *p == '.')
    {
      p++;
      if (p >= end || !g_ascii_isdigit (*p))
        return scanner_fail (s, p, "expected a digit after the decimal point");
      while (p < end && g_ascii_isdigit (*p))
        p++;
      is_double = TRUE;
    }

  if (p < end && (*p == 'e' || *p == 'E'))
    {
      p++;
      if (p < end && (*p == '+' || *p == '-'))
        {
          exponent_negative = (*p == '-');
          p++;
        }
      if (p >= end || !g_ascii_isdigit (*p))
        return scanner_fail (s, p, "expected a digit in the exponent");
      while (p < end && g_ascii_isdigit (*p))
        {
          /* Only its size matters, so stop counting early. */
          if (exponent < 100000)
            exponent = exponent * 10 + (*p - '0');
          p++;
        }
      is_double = TRUE;
    }

  if (!is_double)
    {
      /* json-glib would wrap a larger integer around silently. */
      if (n_digits > 19 ||
          (n_digits == 19 &&
           memcmp (digits, negative ? "9223372036854775808" : "9223372036854775807", 19) > 0))
        return scanner_fail (s, start, "integer does not fit in 64 bits");
    }
  else if (n_digits > 300 ||
           (!exponent_negative && exponent + (gint64) n_digits > 300))
    {
      /* Only a number this large can overflow to infinity; checking the
       * others with strtod would cost for nothing. */
      if (!number_is_finite (start, p - start))
        return scanner_fail (s, start, "number is too large");
    }

  value->start = start;
  value->length = p - start;
  value->kind = is_double ? TETHER_JSON_DOUBLE : TETHER_JSON_INTEGER;
  value->escaped = FALSE;
  s->p = p;

  return TRUE;
}

static gboolean
scan_literal (Scanner         *s,
              const char      *literal,
              gsize            length,
              TetherJsonKind   kind,
              TetherJsonValue *value)
{
  if ((gsize) (s->end - s->p) < length || memcmp (s->p, literal, length) != 0)
    return scanner_fail (s, s->p, "unexpected character");

  value->start = s->p;
  value->length = length;
  value->kind = kind;
  value->escaped = FALSE;
  s->p += length;

  return TRUE;
}

/* s->p is at the opening brace; @depth is the object's own depth. */
static gboolean
scan_object_body (Scanner              *s,
                  guint                 depth,
                  TetherJsonMemberFunc  func,
                  gpointer              user_data,
                  TetherJsonValue      *value)
{
  const char *start = s->p;

  if (depth > TETHER_JSON_SCAN_MAX_DEPTH)
    return scanner_fail_with_code (s, TETHER_JSON_SCAN_ERROR_TOO_DEEP, start, "nested too deeply");

  s->p++;
  skip_whitespace (s);

  if (s->p < s->end && *s->p == '}')
    {
      s->p++;
      goto done;
    }

  for (;;)
    {
      TetherJsonValue member_key;
      TetherJsonValue member_value;

      if (s->p >= s->end || *s->p != '"')
        return scanner_fail (s, s->p, "expected a member name");
      if (!scan_string (s, &member_key))
        return FALSE;

      skip_whitespace (s);
      if (s->p >= s->end || *s->p != ':')
        return scanner_fail (s, s->p, "expected ':'");
      s->p++;
      skip_whitespace (s);

      if (!scan_value (s, depth, &member_value))
        return FALSE;

      if (func != NULL)
        func (&member_key, &member_value, user_data);

      skip_whitespace (s);
      if (s->p < s->end && *s->p == ',')
        {
          s->p++;
          skip_whitespace (s);
          continue;
        }
      if (s->p < s->end && *s->p == '}')
        {
          s->p++;
          break;
        }

      return scanner_fail (s, s->p, "expected ',' or '}'");
    }

done:
  value->start = start;
  value->length = s->p - start;
  value->kind = TETHER_JSON_OBJECT;
  value->escaped = FALSE;

  return TRUE;
}

/* s->p is at the opening bracket; @depth is the array's own depth. */
static gboolean
scan_array_body (Scanner         *s,
                 guint            depth,
                 TetherJsonValue *value)
{
  const char *start = s->p;

  if (depth > TETHER_JSON_SCAN_MAX_DEPTH)
    return scanner_fail_with_code (s, TETHER_JSON_SCAN_ERROR_TOO_DEEP, start, "nested too deeply");

  s->p++;
  skip_whitespace (s);

  if (s->p < s->end && *s->p == ']')
    {
      s->p++;
      goto done;
    }

  for (;;)
    {
      TetherJsonValue element;

      if (!scan_value (s, depth, &element))
        return FALSE;

      skip_whitespace (s);
      if (s->p < s->end && *s->p == ',')
        {
          s->p++;
          skip_whitespace (s);
          continue;
        }
      if (s->p < s->end && *s->p == ']')
        {
          s->p++;
          break;
        }

      return scanner_fail (s, s->p, "expected ',' or ']'");
    }

done:
  value->start = start;
  value->length = s->p - start;
  value->kind = TETHER_JSON_ARRAY;
  value->escaped = FALSE;

  return TRUE;
}

/* s->p is at the value's first byte; @depth is how many containers hold
 * the value. */
static gboolean
scan_value (Scanner         *s,
            guint            depth,
            TetherJsonValue *value)
{
  if (s->p >= s->end)
    return scanner_fail (s, s->p, "unexpected end of data");

  switch (*s->p)
    {
    case '"':
      if (!scan_string (s, value))
        return FALSE;
      if (s->string_func != NULL)
        s->string_func (value, s->string_data);
      return TRUE;

    case '{':
      return scan_object_body (s, depth + 1, NULL, NULL, value);

    case '[':
      return scan_array_body (s, depth + 1, value);

    case '-':
    case '0': case '1': case '2': case '3': case '4':
    case '5': case '6': case '7': case '8': case '9':
      return scan_number (s, value);

    case 't':
      return scan_literal (s, "true", 4, TETHER_JSON_BOOLEAN, value);

    case 'f':
      return scan_literal (s, "false", 5, TETHER_JSON_BOOLEAN, value);

    case 'n':
      return scan_literal (s, "null", 4, TETHER_JSON_NULL, value);

    default:
      return scanner_fail (s, s->p, "unexpected character");
    }
}

/* One whole value, nothing but whitespace around it, @func called for
 * each string value in it (if not %NULL). */
static gboolean
scan_whole_value (const char            *data,
                  gsize                  length,
                  TetherJsonStringFunc   func,
                  gpointer               user_data,
                  GError               **error)
{
  Scanner s = { data, data, data + length, error, func, user_data };
  TetherJsonValue value;

  skip_whitespace (&s);
  if (!scan_value (&s, 0, &value))
    return FALSE;
  skip_whitespace (&s);

  if (s.p != s.end)
    return scanner_fail (&s, s.p, "unexpected data after the value");

  return TRUE;
}

gboolean
tether_json_scan_validate (const char  *data,
                           gsize        length,
                           GError     **error)
{
  g_return_val_if_fail (data != NULL || length == 0, FALSE);

  return scan_whole_value (data, length, NULL, NULL, error);
}

gboolean
tether_json_scan_strings (const char            *data,
                          gsize                  length,
                          TetherJsonStringFunc   func,
                          gpointer               user_data,
                          GError               **error)
{
  g_return_val_if_fail (data != NULL || length == 0, FALSE);
  g_return_val_if_fail (func != NULL, FALSE);

  return scan_whole_value (data, length, func, user_data, error);
}

gboolean
tether_json_scan_object (const char            *data,
                         gsize                  length,
                         TetherJsonMemberFunc   func,
                         gpointer               user_data,
                         GError               **error)
{
  Scanner s = { data, data, data + length, error };
  TetherJsonValue value;

  g_return_val_if_fail (data != NULL || length == 0, FALSE);

  skip_whitespace (&s);
  if (s.p >= s.end || *s.p != '{')
    return scanner_fail (&s, s.p, "expected an object");

  if (!scan_object_body (&s, 1, func, user_data, &value))
    return FALSE;

  skip_whitespace (&s);
  if (s.p != s.end)
    return scanner_fail (&s, s.p, "unexpected data after the object");

  return TRUE;
}

char *
tether_json_value_dup_string (const TetherJsonValue *value)
{
  const char *p;
  const char *end;
  char *out;
  char *q;

  g_return_val_if_fail (value != NULL, NULL);
  g_return_val_if_fail (value->kind == TETHER_JSON_STRING, NULL);

  p = value->start + 1;
  end = value->start + value->length - 1;

  if (!value->escaped)
    return g_strndup (p, end - p);

  /* Unescaping never makes a string longer: the longest result, four
   * bytes of UTF-8, comes from twelve bytes of surrogate pair escapes. */
  out = g_malloc (end - p + 1);
  q = out;

  while (p < end)
    {
      const char *backslash = memchr (p, '\\', end - p);
      gunichar cp;
      gunichar low;

      if (backslash == NULL)
        backslash = end;

      memcpy (q, p, backslash - p);
      q += backslash - p;
      p = backslash;

      if (p >= end)
        break;

      p++;
      switch (*p++)
        {
        case 'b': *q++ = '\b'; break;
        case 'f': *q++ = '\f'; break;
        case 'n': *q++ = '\n'; break;
        case 'r': *q++ = '\r'; break;
        case 't': *q++ = '\t'; break;

        case 'u':
          read_hex4 (p, end, &cp);
          p += 4;
          if (cp >= 0xd800 && cp <= 0xdbff)
            {
              read_hex4 (p + 2, end, &low);
              p += 6;
              cp = 0x10000 + ((cp - 0xd800) << 10) + (low - 0xdc00);
            }
          q += g_unichar_to_utf8 (cp, q);
          break;

        default:
          /* '"', '\\' and '/' stand for themselves. */
          *q++ = p[-1];
          break;
        }
    }

  *q = '\0';

  return out;
}

gboolean
tether_json_value_equal_string (const TetherJsonValue *value,
                                const char            *str)
{
  g_autofree char *text = NULL;

  g_return_val_if_fail (value != NULL, FALSE);
  g_return_val_if_fail (str != NULL, FALSE);

  if (value->kind != TETHER_JSON_STRING)
    return FALSE;

  if (!value->escaped)
    {
      gsize length = value->length - 2;

      return strlen (str) == length && memcmp (value->start + 1, str, length) == 0;
    }

  text = tether_json_value_dup_string (value);

  return strcmp (text, str) == 0;
}

gint64
tether_json_value_get_int (const TetherJsonValue *value)
{
  const char *p;
  const char *end;
  gboolean negative = FALSE;
  gint64 result = 0;

  g_return_val_if_fail (value != NULL, 0);
  g_return_val_if_fail (value->kind == TETHER_JSON_INTEGER, 0);

  p = value->start;
  end = value->start + value->length;

  if (*p == '-')
    {
      negative = TRUE;
      p++;
    }

  /* Accumulate downwards so that G_MININT64 does not overflow. */
  for (; p < end; p++)
    result = result * 10 - (*p - '0');

  return negative ? result : -result;
}
