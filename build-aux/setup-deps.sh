#!/usr/bin/env bash
# Installs what Tether needs to build, run and test on Debian 12, and
# nothing that is already there. Safe to run again: it only acts on what
# is missing. Runs as root, or as a user with sudo.
#
#   build-aux/setup-deps.sh            Debian packages and the npm test server
#   build-aux/setup-deps.sh --no-npm   Debian packages only
#   build-aux/setup-deps.sh --clang    also clang and its sanitizer runtimes

set -euo pipefail

here=$(cd "$(dirname "${BASH_SOURCE[0]}")" && pwd)
root=$(cd "$here/.." && pwd)

with_npm=1
with_clang=0
for arg in "$@"; do
  case "$arg" in
    --no-npm) with_npm=0 ;;
    --clang) with_clang=1 ;;
    -h|--help)
      sed -n '2,9p' "$0" | sed 's/^# \{0,1\}//'
      exit 0
      ;;
    *)
      echo "setup-deps: unknown option '$arg' (try --help)" >&2
      exit 2
      ;;
  esac
done

say () { printf 'setup-deps: %s\n' "$*"; }
die () { printf 'setup-deps: error: %s\n' "$*" >&2; exit 1; }

# Everything the build, the app, the tests and the screenshots use.
packages=(
  # compiler and build system
  gcc libc6-dev pkg-config meson ninja-build
  # libraries
  libglib2.0-dev libglib2.0-dev-bin libglib2.0-bin
  libgtk-4-dev libadwaita-1-dev libsoup-3.0-dev libjson-glib-dev libsecret-1-dev
  # translations and desktop integration checks
  gettext desktop-file-utils appstream
  # a headless session for the tests: X server, D-Bus, keyring
  xvfb xauth dbus dbus-x11 gnome-keyring
  # the test that drives the window through its accessibility tree: the
  # AT-SPI bus and registry, dogtail and the bindings under it
  at-spi2-core python3-dogtail python3-pyatspi gir1.2-atspi-2.0
  # what the window needs to look right: icons, fonts, SVG loading
  adwaita-icon-theme fonts-cantarell librsvg2-common
  # screenshots, test certificates
  imagemagick openssl
)

if [ "$with_clang" -eq 1 ]; then
  packages+=(clang lld libclang-rt-14-dev)
fi

if [ -r /etc/os-release ]; then
  # shellcheck disable=SC1091
  . /etc/os-release
  if [ "${ID:-}" != debian ] || [ "${VERSION_ID:-}" != 12 ]; then
    say "this script is made for Debian 12; found ${PRETTY_NAME:-an unknown system}. Trying anyway."
  fi
fi

command -v dpkg-query >/dev/null 2>&1 || die "dpkg-query not found: this script needs Debian's apt and dpkg."

missing=()
for pkg in "${packages[@]}"; do
  status=$(dpkg-query -W -f='${db:Status-Abbrev}' "$pkg" 2>/dev/null || true)
  case "$status" in
    ii*) ;;
    *) missing+=("$pkg") ;;
  esac
done

if [ ${#missing[@]} -gt 0 ]; then
  if [ "$(id -u)" -eq 0 ]; then
    sudo=()
  elif command -v sudo >/dev/null 2>&1; then
    sudo=(sudo)
  else
    die "missing packages (${missing[*]}) and no way to install them: run this script as root or install sudo."
  fi
  say "installing Debian packages: ${missing[*]}"
  export DEBIAN_FRONTEND=noninteractive
  "${sudo[@]}" apt-get update -q || die "apt-get update failed (is the network or the Debian mirror reachable?)"
  "${sudo[@]}" apt-get install -y -q --no-install-recommends "${missing[@]}" \
    || die "apt-get install failed for: ${missing[*]}"
else
  say "all Debian packages are present"
fi

if [ "$with_npm" -eq 1 ]; then
  command -v node >/dev/null 2>&1 || die "node is not installed; the tests need Node.js to run json-server (install nodejs from your distribution or nodejs.org)."
  command -v npm >/dev/null 2>&1 || die "npm is not installed; it comes with Node.js (Debian's separate npm package is not needed)."
  want=$(sha256sum "$root/package-lock.json" | cut -d' ' -f1)
  have=$(cat "$root/node_modules/.tether-lock-sha256" 2>/dev/null || true)
  if [ "$want" != "$have" ] || [ ! -f "$root/node_modules/json-server/package.json" ]; then
    say "installing the npm test server (json-server, pinned in package-lock.json)"
    (cd "$root" && npm ci --no-audit --no-fund --loglevel=error) \
      || die "npm ci failed; the npm registry must be reachable to install json-server."
    echo "$want" > "$root/node_modules/.tether-lock-sha256"
  else
    say "npm test server is present ($(node -p "require('$root/node_modules/json-server/package.json').version"))"
  fi
fi
