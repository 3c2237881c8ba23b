#!/usr/bin/env bash
# Checks po/POTFILES.in against the sources: every file under src/ and data/
# with strings to translate must be listed, every listed file must exist,
# and the list must be sorted. Prints what is wrong and exits 1.
#
#   po/check-potfiles.sh [SOURCE_ROOT]
#
# A file that matches by accident (say, a comment that mentions _() in a
# file with nothing to translate) goes into po/POTFILES.skip.

set -euo pipefail

srcdir=${1:-$(dirname "${BASH_SOURCE[0]}")/..}
cd "$srcdir"

potfiles=po/POTFILES.in
skipfiles=po/POTFILES.skip
status=0

# The paths a list names: no comments, no blank lines, no [type: …] tags.
list_paths () {
  [ -f "$1" ] || return 0
  sed -e '/^[[:space:]]*#/d' \
      -e 's/^\[[^]]*\][[:space:]]*//' \
      -e 's/[[:space:]]*$//' \
      -e '/^$/d' "$1"
}

# Files that always carry strings for translators, whatever their content.
by_name () {
  find src data -type f \( -name '*.desktop.in' -o -name '*.desktop.in.in' \
                         -o -name '*.metainfo.xml.in' -o -name '*.metainfo.xml.in.in' \
                         -o -name '*.appdata.xml.in' -o -name '*.appdata.xml.in.in' \
                         -o -name '*.gschema.xml' -o -name '*.gschema.xml.in' \) -print
}

# Files that mark strings: gettext macros in C (and Blueprint), or
# translatable properties in GtkBuilder XML. The macro must start a word,
# so g_autoptr( or FOO_( do not count.
by_content () {
  grep -rlIE \
       -e '(^|[^[:alnum:]_])(_|N_|C_|NC_|Q_)[[:space:]]*\(' \
       -e 'translatable[[:space:]]*=[[:space:]]*["'\'']yes' \
       src data || true
}

mapfile -t listed < <(list_paths "$potfiles")
mapfile -t skipped < <(list_paths "$skipfiles")
mapfile -t wanted < <({ by_name; by_content; } | LC_ALL=C sort -u)

missing=$(comm -23 <(printf '%s\n' "${wanted[@]}" | LC_ALL=C sort -u) \
                   <(printf '%s\n' "${listed[@]}" "${skipped[@]}" | LC_ALL=C sort -u) \
          | sed '/^$/d')
if [ -n "$missing" ]; then
  echo "$potfiles lacks these files, which have strings to translate:"
  sed 's/^/  /' <<<"$missing"
  status=1
fi

gone=()
for f in "${listed[@]}"; do
  [ -f "$f" ] || gone+=("$f")
done
if [ ${#gone[@]} -gt 0 ]; then
  echo "$potfiles lists files that do not exist:"
  printf '  %s\n' "${gone[@]}"
  status=1
fi

if ! printf '%s\n' "${listed[@]}" | LC_ALL=C sort -c 2>/dev/null; then
  echo "$potfiles is not sorted; sort it with: LC_ALL=C sort"
  status=1
fi

if [ $status -eq 0 ]; then
  echo "$potfiles lists all ${#listed[@]} files with translatable strings"
fi
exit $status
