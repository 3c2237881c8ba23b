#!/usr/bin/env bash
# Checks that every catalogue in po/LINGUAS translates every string the
# sources have now: the template is made afresh from po/POTFILES.in with
# the keywords of meson's glib preset, merged into each catalogue, and any
# string left untranslated or fuzzy is printed. Exits 1 if there is one.
#
#   po/check-translations.sh [SOURCE_ROOT]

set -euo pipefail

srcdir=${1:-$(dirname "${BASH_SOURCE[0]}")/..}
cd "$srcdir"

tmp=$(mktemp -d "${TMPDIR:-/tmp}/tether-po.XXXXXX")
trap 'rm -rf "$tmp"' EXIT

# The keywords and flags of i18n.gettext (preset: 'glib').
xgettext --package-name=tether --from-code=UTF-8 --add-comments \
  --keyword=_ --keyword=N_ --keyword=C_:1c,2 --keyword=NC_:1c,2 \
  --keyword=g_dcgettext:2 --keyword=g_dngettext:2,3 --keyword=g_dpgettext2:2c,3 \
  --flag=N_:1:pass-c-format --flag=C_:2:pass-c-format --flag=NC_:2:pass-c-format \
  --flag=g_dngettext:2:pass-c-format --flag=g_strdup_printf:1:c-format \
  --flag=g_string_printf:2:c-format --flag=g_string_append_printf:2:c-format \
  --flag=g_error_new:3:c-format --flag=g_set_error:4:c-format \
  --flag=g_markup_printf_escaped:1:c-format --flag=g_log:3:c-format \
  --flag=g_print:1:c-format --flag=g_printerr:1:c-format \
  --flag=g_printf:1:c-format --flag=g_fprintf:2:c-format \
  --flag=g_sprintf:2:c-format --flag=g_snprintf:3:c-format \
  --files-from=po/POTFILES.in --directory=. --output="$tmp/tether.pot"

status=0
while read -r lang; do
  case "$lang" in ''|'#'*) continue ;; esac

  msgmerge --quiet --no-fuzzy-matching "po/$lang.po" "$tmp/tether.pot" --output-file="$tmp/$lang.po"
  missing=$(msgattrib --untranslated --no-obsolete "$tmp/$lang.po" | grep -c '^msgid ' || true)
  fuzzy=$(msgattrib --only-fuzzy --no-obsolete "$tmp/$lang.po" | grep -c '^msgid ' || true)
  # Each listing has the header's empty msgid first.
  missing=$(( missing > 0 ? missing - 1 : 0 ))
  fuzzy=$(( fuzzy > 0 ? fuzzy - 1 : 0 ))

  if [ "$missing" -gt 0 ] || [ "$fuzzy" -gt 0 ]; then
    echo "po/$lang.po: $missing untranslated, $fuzzy fuzzy:"
    msgattrib --untranslated --no-obsolete --no-wrap "$tmp/$lang.po" | sed -n 's/^msgid "\(..*\)"$/  untranslated: \1/p'
    msgattrib --only-fuzzy --no-obsolete --no-wrap "$tmp/$lang.po" | sed -n 's/^msgid "\(..*\)"$/  fuzzy: \1/p'
    echo "Update it with: msgmerge --update po/$lang.po po/tether.pot (ninja -C BUILDDIR tether-pot makes the template)"
    status=1
  else
    echo "po/$lang.po translates all $(grep -c '^msgid ' "$tmp/tether.pot" | awk '{print $1 - 1}') strings"
  fi
done < po/LINGUAS

exit $status
