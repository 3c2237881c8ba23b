/* test-json-scan.c
 *
 * Copyright 2026 The Tether authors
 *
 * SPDX-License-Identifier: GPL-3.0-or-later
 */

#include <string.h>

#include <json-glib/json-glib.h>

#include "tether-json-scan.h"
#include "tether-test-util.h"

static gboolean
validate (const char *text)
{
  return tether_json_scan_validate (text, strlen (text), NULL);
}

static void
test_valid (void)
{
  static const char * const documents[] = {
    "{}",
    "[]",
    "  {\"a\" : 1 }\r\n",
    "\t[ 1 , 2 ]\n",
    "0",
    "-0",
    "-0.0",
    "1.5e-3",
    "1E5",
    "1e+5",
    "9223372036854775807",
    "-9223372036854775808",
    "1e308",
    "-1e308",
    "1e-400",
    "0.000000000000000000000000000000000000001",
    "true",
    "false",
    "null",
    "\"\"",
    "\"\\\"\\\\\\/\\b\\f\\n\\r\\t\"",
    "\"\\u00e9\\u65E5\\ud83d\\ude00\"",
    "\"Gr\xc3\xbc\xc3\x9f\x65 \xe6\x97\xa5 \xf0\x9f\x98\x80 \xef\xbf\xbe \xf4\x8f\xbf\xbf\"",
    "\"\x7f\"",
    "{\"a\":{\"b\":[{},[],\"\",null]},\"\":\"empty key\"}",
    "{\"a\":1,\"a\":2}",
  };

  for (guint i = 0; i < G_N_ELEMENTS (documents); i++)
    {
      g_autoptr(GError) error = NULL;
      g_autofree char *escaped = g_strescape (documents[i], NULL);

      g_test_message ("%s", escaped);
      g_assert_true (tether_json_scan_validate (documents[i], strlen (documents[i]), &error));
      g_assert_no_error (error);
    }
}

static void
test_invalid (void)
{
  static const char * const documents[] = {
    "",
    "   ",
    "{",
    "{\"a\":1",
    "{\"a\":1,}",
    "{\"a\" 1}",
    "{a:1}",
    "{'a':1}",
    "[1,]",
    "[1 2]",
    "{} x",
    "{} {}",
    "\"abc",
    "\"\\x\"",
    "\"\\u12\"",
    "\"\\u12g4\"",
    "\"\\u0000\"",
    "\"\\ud800\"",
    "\"\\ud800\\u0041\"",
    "\"\\udc00\"",
    "\"a\tb\"",
    "\"a\nb\"",
    "\"\xff\"",
    "\"\xc0\x80\"",
    "\"\xc3\"",
    "\"\xe0\x80\x80\"",
    "\"\xed\xa0\x80\"",
    "\"\xf4\x90\x80\x80\"",
    "\"\xf5\x80\x80\x80\"",
    "\"\x80\"",
    "01",
    "-",
    "+1",
    "1.",
    ".5",
    "1e",
    "1e+",
    "0x10",
    "NaN",
    "Infinity",
    "1e309",
    "-1e400",
    "9223372036854775808",
    "-9223372036854775809",
    "99999999999999999999",
    "tru",
    "nul",
    "True",
    "/* comment */ 1",
  };

  for (guint i = 0; i < G_N_ELEMENTS (documents); i++)
    {
      g_autoptr(GError) error = NULL;
      g_autofree char *escaped = g_strescape (documents[i], NULL);

      g_test_message ("%s", escaped);
      g_assert_false (tether_json_scan_validate (documents[i], strlen (documents[i]), &error));
      g_assert_error (error, TETHER_JSON_SCAN_ERROR, TETHER_JSON_SCAN_ERROR_INVALID);
    }
}

static void
test_embedded_nul (void)
{
  static const char in_string[] = "\"a\0b\"";
  static const char outside[] = "{}\0";

  g_assert_false (tether_json_scan_validate (in_string, sizeof in_string - 1, NULL));
  g_assert_false (tether_json_scan_validate (outside, sizeof outside - 1, NULL));
  /* The length rules, not the NUL. */
  g_assert_true (tether_json_scan_validate (outside, 2, NULL));
}

static void
test_huge_numbers (void)
{
  g_autoptr(GString) digits = g_string_new ("1");

  for (guint i = 0; i < 400; i++)
    g_string_append_c (digits, '0');

  /* An integer that does not fit, and the same digits as a double, which
   * is infinite. */
  g_assert_false (validate (digits->str));
  g_string_append (digits, ".0");
  g_assert_false (validate (digits->str));
  /* ...unless the exponent brings it back. */
  g_string_append (digits, "e-200");
  g_assert_true (validate (digits->str));
}

static void
test_depth (void)
{
  g_autoptr(GString) text = g_string_new (NULL);
  g_autoptr(GError) error = NULL;

  for (guint i = 0; i < TETHER_JSON_SCAN_MAX_DEPTH; i++)
    g_string_append_c (text, '[');
  for (guint i = 0; i < TETHER_JSON_SCAN_MAX_DEPTH; i++)
    g_string_append_c (text, ']');
  g_assert_true (validate (text->str));

  g_string_prepend_c (text, '[');
  g_string_append_c (text, ']');
  g_assert_false (tether_json_scan_validate (text->str, text->len, &error));
  g_assert_error (error, TETHER_JSON_SCAN_ERROR, TETHER_JSON_SCAN_ERROR_TOO_DEEP);
  g_clear_error (&error);

  /* Far too deep must fail cleanly, not overflow the stack. */
  g_string_truncate (text, 0);
  for (guint i = 0; i < 1000000; i++)
    g_string_append (text, "{\"a\":");
  g_assert_false (tether_json_scan_object (text->str, text->len, NULL, NULL, &error));
  g_assert_error (error, TETHER_JSON_SCAN_ERROR, TETHER_JSON_SCAN_ERROR_TOO_DEEP);
}

typedef struct
{
  GPtrArray *keys;
  GArray    *kinds;
  GPtrArray *texts;
} Members;

static void
member_cb (const TetherJsonValue *key,
           const TetherJsonValue *value,
           gpointer               user_data)
{
  Members *members = user_data;
  TetherJsonKind kind = value->kind;

  g_ptr_array_add (members->keys, tether_json_value_dup_string (key));
  g_array_append_val (members->kinds, kind);
  g_ptr_array_add (members->texts, g_strndup (value->start, value->length));
}

static void
test_object_members (void)
{
  static const char text[] =
    " {\"s\":\"x\\ny\", \"i\":-12, \"d\":2.5e3, \"b\":true, \"n\":null,"
    " \"a\":[1,{\"deep\":1}], \"o\":{\"k\":\"v\"}, \"k\\u00e9y\":false} ";
  static const char * const keys[] = { "s", "i", "d", "b", "n", "a", "o", "k\xc3\xa9y" };
  static const TetherJsonKind kinds[] = {
    TETHER_JSON_STRING, TETHER_JSON_INTEGER, TETHER_JSON_DOUBLE, TETHER_JSON_BOOLEAN,
    TETHER_JSON_NULL, TETHER_JSON_ARRAY, TETHER_JSON_OBJECT, TETHER_JSON_BOOLEAN,
  };
  static const char * const texts[] = {
    "\"x\\ny\"", "-12", "2.5e3", "true", "null", "[1,{\"deep\":1}]", "{\"k\":\"v\"}", "false",
  };
  Members members = {
    g_ptr_array_new_with_free_func (g_free),
    g_array_new (FALSE, FALSE, sizeof (TetherJsonKind)),
    g_ptr_array_new_with_free_func (g_free),
  };

  g_assert_true (tether_json_scan_object (text, strlen (text), member_cb, &members, NULL));
  g_assert_cmpuint (members.keys->len, ==, G_N_ELEMENTS (keys));

  for (guint i = 0; i < G_N_ELEMENTS (keys); i++)
    {
      g_assert_cmpstr (g_ptr_array_index (members.keys, i), ==, keys[i]);
      g_assert_cmpint (g_array_index (members.kinds, TetherJsonKind, i), ==, kinds[i]);
      g_assert_cmpstr (g_ptr_array_index (members.texts, i), ==, texts[i]);
    }

  /* Not an object. */
  g_assert_false (tether_json_scan_object ("[1]", 3, member_cb, &members, NULL));

  g_ptr_array_unref (members.keys);
  g_array_unref (members.kinds);
  g_ptr_array_unref (members.texts);
}

typedef struct
{
  TetherJsonValue value;
} FirstValue;

static void
first_value_cb (const TetherJsonValue *key,
                const TetherJsonValue *value,
                gpointer               user_data)
{
  FirstValue *first = user_data;

  first->value = *value;
}

static TetherJsonValue
scan_member (const char *text)
{
  FirstValue first = { { 0 } };

  g_assert_true (tether_json_scan_object (text, strlen (text), first_value_cb, &first, NULL));

  return first.value;
}

static void
collect_string_cb (const TetherJsonValue *value,
                   gpointer               user_data)
{
  g_ptr_array_add (user_data, tether_json_value_dup_string (value));
}

/* Every string value, at any depth, in order; member names are not
 * values. */
static void
test_string_values (void)
{
  static const char text[] =
    "{\"a\": \"x\", \"b\": {\"c\": [\"y\", 1, \"z\\n\"], \"k\": null},"
    " \"d\": \"q\\u00e9\", \"e\": [[[]]]}";
  g_autoptr(GPtrArray) strings = g_ptr_array_new_with_free_func (g_free);
  g_autoptr(GError) error = NULL;

  g_assert_true (tether_json_scan_strings (text, strlen (text), collect_string_cb, strings, &error));
  g_assert_no_error (error);
  g_assert_cmpuint (strings->len, ==, 4);
  g_assert_cmpstr (g_ptr_array_index (strings, 0), ==, "x");
  g_assert_cmpstr (g_ptr_array_index (strings, 1), ==, "y");
  g_assert_cmpstr (g_ptr_array_index (strings, 2), ==, "z\n");
  g_assert_cmpstr (g_ptr_array_index (strings, 3), ==, "q\xc3\xa9");

  /* A lone string is a value too; invalid text is refused. */
  g_ptr_array_set_size (strings, 0);
  g_assert_true (tether_json_scan_strings ("\"s\"", 3, collect_string_cb, strings, NULL));
  g_assert_cmpuint (strings->len, ==, 1);
  g_assert_false (tether_json_scan_strings ("[\"s\"", 4, collect_string_cb, strings, &error));
  g_assert_error (error, TETHER_JSON_SCAN_ERROR, TETHER_JSON_SCAN_ERROR_INVALID);
}

static void
test_strings (void)
{
  TetherJsonValue value;
  g_autofree char *plain = NULL;
  g_autofree char *escaped = NULL;

  value = scan_member ("{\"k\":\"plain text\"}");
  g_assert_false (value.escaped);
  plain = tether_json_value_dup_string (&value);
  g_assert_cmpstr (plain, ==, "plain text");
  g_assert_true (tether_json_value_equal_string (&value, "plain text"));
  g_assert_false (tether_json_value_equal_string (&value, "plain tex"));
  g_assert_false (tether_json_value_equal_string (&value, "plain text!"));

  value = scan_member ("{\"k\":\"q\\\" b\\\\ s\\/ \\b\\f\\n\\r\\t \\u0041\\u00e9\\u65e5\\uD83D\\uDE00 end\"}");
  g_assert_true (value.escaped);
  escaped = tether_json_value_dup_string (&value);
  g_assert_cmpstr (escaped, ==, "q\" b\\ s/ \b\f\n\r\t A\xc3\xa9\xe6\x97\xa5\xf0\x9f\x98\x80 end");
  g_assert_true (tether_json_value_equal_string (&value, escaped));

  /* Agrees with json-glib. */
  {
    g_autoptr(JsonParser) parser = json_parser_new ();

    g_assert_true (json_parser_load_from_data (parser, value.start, value.length, NULL));
    g_assert_cmpstr (json_node_get_string (json_parser_get_root (parser)), ==, escaped);
  }
}

static void
test_integers (void)
{
  TetherJsonValue value;

  value = scan_member ("{\"k\":9223372036854775807}");
  g_assert_cmpint (value.kind, ==, TETHER_JSON_INTEGER);
  g_assert_cmpint (tether_json_value_get_int (&value), ==, G_MAXINT64);

  value = scan_member ("{\"k\":-9223372036854775808}");
  g_assert_cmpint (tether_json_value_get_int (&value), ==, G_MININT64);

  value = scan_member ("{\"k\":9007199254740993}");
  g_assert_cmpint (tether_json_value_get_int (&value), ==, G_GINT64_CONSTANT (9007199254740993));

  value = scan_member ("{\"k\":-0}");
  g_assert_cmpint (tether_json_value_get_int (&value), ==, 0);

  value = scan_member ("{\"k\":1.0}");
  g_assert_cmpint (value.kind, ==, TETHER_JSON_DOUBLE);
}

/* Whatever the scanner accepts, json-glib must parse, or a record that
 * loaded would fail when first used. Random mutations of valid JSON. */
static void
test_agrees_with_json_glib (void)
{
  static const char * const seeds[] = {
    ("{\"a\":[1,2.5,-0.0,1e5,\"x\\u00e9\\ud83d\\ude00\\n\",true,false,null,{\"b\":{}}],"
     "\"c\":\"\xc3\xa9\xe6\x97\xa5\xf0\x9f\x98\x80\",\"d\":-9223372036854775808}"),
    "{\"cid\":\"x\",\"attributes\":{\"t\":\"abc\\\"\\\\\\/\\b\\f\\r\\t\",\"n\":12345678901234,\"e\":1.5E-7}}",
    "[[[[[]]]],{},\"\",0,-1,123.456e+78]",
  };
  static const char alphabet[] =
    "{}[]\",:\\/u0123456789abcdefABCDEF.eE+-tfnrl \t\n\x01\x7f\x80\xbf\xc0\xc3\xe0\xed\xf0\xf4\xff";
  g_autoptr(JsonParser) parser = json_parser_new ();
  guint n_accepted = 0;

  for (guint i = 0; i < 20000; i++)
    {
      g_autoptr(GString) text = g_string_new (seeds[g_test_rand_int_range (0, G_N_ELEMENTS (seeds))]);
      guint n_mutations = g_test_rand_int_range (1, 4);

      for (guint m = 0; m < n_mutations; m++)
        {
          guint position = g_test_rand_int_range (0, text->len + 1);
          char c = alphabet[g_test_rand_int_range (0, sizeof alphabet - 1)];

          switch (g_test_rand_int_range (0, 3))
            {
            case 0:
              g_string_insert_c (text, position, c);
              break;

            case 1:
              if (position < text->len)
                g_string_erase (text, position, 1);
              break;

            default:
              if (position < text->len)
                text->str[position] = c;
              break;
            }
        }

      if (tether_json_scan_validate (text->str, text->len, NULL))
        {
          g_autoptr(GError) error = NULL;

          n_accepted++;
          if (!json_parser_load_from_data (parser, text->str, text->len, &error))
            g_error ("The scanner accepts what json-glib refuses (%s): %s",
                     error->message, text->str);
        }
    }

  g_test_message ("%u of 20000 mutations were valid", n_accepted);
  g_assert_cmpuint (n_accepted, >, 0);
}

int
main (int   argc,
      char *argv[])
{
  tether_test_init (&argc, &argv);

  g_test_add_func ("/json-scan/valid", test_valid);
  g_test_add_func ("/json-scan/invalid", test_invalid);
  g_test_add_func ("/json-scan/embedded-nul", test_embedded_nul);
  g_test_add_func ("/json-scan/huge-numbers", test_huge_numbers);
  g_test_add_func ("/json-scan/depth", test_depth);
  g_test_add_func ("/json-scan/object-members", test_object_members);
  g_test_add_func ("/json-scan/strings", test_strings);
  g_test_add_func ("/json-scan/string-values", test_string_values);
  g_test_add_func ("/json-scan/integers", test_integers);
  g_test_add_func ("/json-scan/agrees-with-json-glib", test_agrees_with_json_glib);

  return g_test_run ();
}
