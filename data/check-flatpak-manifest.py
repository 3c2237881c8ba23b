#!/usr/bin/env python3
# Checks the Flatpak manifest: that it is JSON without duplicate members,
# that it builds the right app on a GNOME runtime recent enough for Tether,
# and that the sandbox grants what Tether needs and no more.
#
#   check-flatpak-manifest.py MANIFEST

import json
import os
import sys

BASE_ID = 'io.github.tetherapp.Tether'

REQUIRED_FINISH_ARGS = [
  '--share=network',
  '--share=ipc',
  '--socket=fallback-x11',
  '--socket=wayland',
  '--device=dri',
  '--talk-name=org.freedesktop.secrets',
]

# Holes in the sandbox that Tether has no use for.
FORBIDDEN_FINISH_ARGS = [
  '--socket=x11',
  '--filesystem=host',
  '--filesystem=home',
  '--talk-name=org.freedesktop.Flatpak',
  '--device=all',
]

# GTK >= 4.8, libadwaita >= 1.2, libsoup 3, json-glib and libsecret all
# ship in org.gnome.Platform from 43 on; 45 is the oldest we build on.
MIN_RUNTIME_VERSION = 45

errors = []


def fail(message):
  errors.append(message)


def no_duplicates(pairs):
  obj = {}
  for key, value in pairs:
    if key in obj:
      fail('member "{}" appears twice'.format(key))
    obj[key] = value
  return obj


def main():
  if len(sys.argv) != 2:
    print('usage: {} MANIFEST'.format(sys.argv[0]), file=sys.stderr)
    return 2

  path = sys.argv[1]
  try:
    with open(path, encoding='utf-8') as f:
      manifest = json.load(f, object_pairs_hook=no_duplicates)
  except (OSError, ValueError) as e:
    print('{}: not valid JSON: {}'.format(path, e), file=sys.stderr)
    return 1

  if not isinstance(manifest, dict):
    print('{}: the manifest is not a JSON object'.format(path), file=sys.stderr)
    return 1

  app_id = manifest.get('app-id', manifest.get('id'))
  expected_id = os.path.basename(path)[:-len('.json')]
  if app_id != expected_id:
    fail('app-id is {!r}, the file name says {!r}'.format(app_id, expected_id))
  if app_id != BASE_ID + '.Devel':
    fail('app-id is {!r}, expected {!r}'.format(app_id, BASE_ID + '.Devel'))

  if manifest.get('command') != 'tether':
    fail('command is {!r}, expected \'tether\''.format(manifest.get('command')))

  if manifest.get('runtime') != 'org.gnome.Platform':
    fail('runtime is {!r}, expected org.gnome.Platform'.format(manifest.get('runtime')))
  if manifest.get('sdk') != 'org.gnome.Sdk':
    fail('sdk is {!r}, expected org.gnome.Sdk'.format(manifest.get('sdk')))
  version = manifest.get('runtime-version')
  if version != 'master':
    try:
      if int(str(version)) < MIN_RUNTIME_VERSION:
        fail('runtime-version {} is older than {}'.format(version, MIN_RUNTIME_VERSION))
    except ValueError:
      fail('runtime-version {!r} is not a GNOME release number'.format(version))

  finish_args = manifest.get('finish-args', [])
  for arg in REQUIRED_FINISH_ARGS:
    if arg not in finish_args:
      fail('finish-args lacks {}'.format(arg))
  for arg in FORBIDDEN_FINISH_ARGS:
    if arg in finish_args:
      fail('finish-args has {}, which Tether does not need'.format(arg))
  for arg in sorted(set(a for a in finish_args if finish_args.count(a) > 1)):
    fail('finish-args lists {} more than once'.format(arg))

  modules = manifest.get('modules', [])
  tether = modules[-1] if modules and isinstance(modules[-1], dict) else {}
  if tether.get('name') != 'tether':
    fail('the last module must be tether itself')
  else:
    if tether.get('buildsystem') != 'meson':
      fail('the tether module must use buildsystem meson')
    if '-Ddevelopment=true' not in tether.get('config-opts', []):
      fail('the tether module must be configured with -Ddevelopment=true')
    if not tether.get('sources'):
      fail('the tether module has no sources')

  for message in errors:
    print('{}: {}'.format(path, message), file=sys.stderr)
  if not errors:
    print('{}: OK ({}, {} {})'.format(os.path.basename(path), app_id,
                                      manifest['runtime'], version))
  return 1 if errors else 0


if __name__ == '__main__':
  sys.exit(main())
