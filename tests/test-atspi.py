#!/usr/bin/python3
# test-atspi.py
#
# Copyright 2026 The Tether authors
#
# SPDX-License-Identifier: GPL-3.0-or-later
#
# The real Tether binary driven through its accessibility tree (AT-SPI),
# with dogtail, as a person would: press Add, type a title into the title
# field, see it in the list, press Sync, see the server's id in the row,
# and find the record on a real json-server. Prints TAP.
#
#   test-atspi.py TETHER-BINARY
#
# Run by meson test inside build-aux/run-tests, which gives it a display
# (Xvfb) and a D-Bus session bus that can start the accessibility bus.
#
# What GTK 4.8 allows: its AT-SPI objects have no screen coordinates (asking
# for them logs a warning, fatal here), so buttons are pressed through
# their "click" action rather than a pointer at a position; typing is real
# key presses (XTest, through the AT-SPI registry) into the field that has
# the keyboard focus; a text's contents are read with an explicit length,
# as GetText (0, -1) answers nothing.

import faulthandler
import json
import os
import re
import shutil
import signal
import socket
import subprocess
import sys
import tempfile
import time
import traceback
import urllib.request

BASE_ID = 'io.github.tetherapp.Tether'
TITLE = 'Typed through AT-SPI'

# Every wait is on a condition, bounded by this many seconds.
DEADLINE = 15
POLL = 0.05


class Failure(Exception):
  pass


STARTED = time.monotonic()


def diag(message):
  for line in str(message).splitlines():
    print('# ' + line, flush=True)


def step(message):
  diag('%4.1f s  %s' % (time.monotonic() - STARTED, message))


# G_DEBUG=fatal-warnings is for Tether. In this process it would also make
# fatal the warnings of the AT-SPI client library, which logs one when it
# asks a just-started app for its tree a moment too early, and then asks
# again. It is taken out before GLib is loaded, and given back to the app.
APP_G_DEBUG = os.environ.pop('G_DEBUG', None)


def bail_out(message):
  """Fails before anything started, with the reason where meson shows it."""
  print('1..1')
  print('not ok 1 - add, type a title, sync, through AT-SPI')
  diag(message)
  print('test-atspi.py: ' + message, file=sys.stderr)
  sys.exit(1)


# The AT-SPI client library ends the process outright when it finds no
# accessibility bus; this says why first.
if not os.environ.get('DISPLAY') or not os.environ.get('DBUS_SESSION_BUS_ADDRESS'):
  bail_out('this test needs a display and a D-Bus session bus: '
           'run it through build-aux/run-tests')

try:
  from dogtail.config import config
except ImportError as error:
  bail_out('%s: this test needs python3-dogtail and python3-pyatspi '
           '(build-aux/setup-deps.sh installs them) and Debian\'s own python3' % error)

# Set before dogtail.tree is imported: dogtail would otherwise stop at
# once because the desktop's "toolkit-accessibility" setting is off (GTK 4
# does not read it: it shows its tree whenever the accessibility bus is
# there), write a log file under /tmp, and wait a second after every action.
config.checkForA11y = False
config.logDebugToFile = False
config.logDebugToStdOut = False
config.actionDelay = 0
config.defaultDelay = 0
config.typingDelay = 0.02
config.ensureSensitivity = True

import pyatspi  # noqa: E402
from dogtail import rawinput, tree  # noqa: E402
from gi.repository import GLib  # noqa: E402


def wait_for(what, probe, seen=None, timeout=DEADLINE):
  """Returns probe()'s first true value; fails after timeout seconds,
  saying what seen() shows then."""
  deadline = time.monotonic() + timeout
  last_error = None
  while True:
    try:
      value = probe()
      if value:
        return value
    except (GLib.GError, LookupError) as error:
      # An object can leave the tree between a search and a read.
      last_error = error
    if time.monotonic() > deadline:
      message = 'gave up after %d s waiting for %s' % (timeout, what)
      if seen is not None:
        try:
          message += '; seen instead: %s' % (seen(),)
        except Exception as error:
          message += '; (%s)' % error
      if last_error is not None:
        message += ' (last error: %s)' % last_error
      raise Failure(message)
    time.sleep(POLL)


# Whatever way this test ends, even killed, json-server and the app end
# with it: they would otherwise hold meson's output pipes open until its
# timeout. (setpriv is util-linux's, always on Debian.)
DIE_WITH_TEST = ['setpriv', '--pdeathsig', 'KILL', '--']


#
# json-server
#

def free_port():
  with socket.socket(socket.AF_INET, socket.SOCK_STREAM) as sock:
    sock.bind(('127.0.0.1', 0))
    return sock.getsockname()[1]


def http_get_json(url):
  with urllib.request.urlopen(url, timeout=5) as reply:
    return json.load(reply)


class JsonServer:
  VERSION = '0.17.4'

  def __init__(self, source_root, workdir):
    self.process = None
    self.dir = os.path.join(workdir, 'json-server')
    self.log_path = os.path.join(self.dir, 'json-server.log')
    bin_js = os.path.join(source_root, 'node_modules', 'json-server', 'lib', 'cli', 'bin.js')
    package = os.path.join(source_root, 'node_modules', 'json-server', 'package.json')
    try:
      with open(package, encoding='utf-8') as f:
        version = json.load(f).get('version')
    except (OSError, ValueError):
      version = None
    if version != self.VERSION or not os.path.exists(bin_js):
      raise Failure('json-server %s is not installed in %s/node_modules; run `npm ci` there '
                    '(build-aux/setup-deps.sh does it)' % (self.VERSION, source_root))
    node = shutil.which('node') or shutil.which('nodejs')
    if node is None:
      raise Failure('node is not in PATH; json-server needs Node.js')

    os.makedirs(self.dir)
    with open(os.path.join(self.dir, 'db.json'), 'w', encoding='utf-8') as f:
      f.write('{"records": []}')

    # The port was free a moment ago; json-server may still lose it.
    for _ in range(5):
      self.port = free_port()
      self.url = 'http://127.0.0.1:%d' % self.port
      with open(self.log_path, 'w') as log:
        self.process = subprocess.Popen(DIE_WITH_TEST + [node, bin_js, '--host', '127.0.0.1',
                                         '--port', str(self.port), '--quiet', 'db.json'],
                                        cwd=self.dir, stdin=subprocess.DEVNULL,
                                        stdout=log, stderr=subprocess.STDOUT)
      if wait_for('json-server to answer on %s or exit' % self.url, self._answers_or_exited):
        if self.process.poll() is None:
          return
      with open(self.log_path, encoding='utf-8', errors='replace') as log:
        output = log.read()
      self.process = None
      if 'EADDRINUSE' not in output:
        raise Failure('json-server exited before answering:\n' + output[-2000:])
    raise Failure('json-server found no free port in 5 attempts')

  def _answers_or_exited(self):
    if self.process.poll() is not None:
      return True
    try:
      http_get_json(self.url + '/records?_limit=1')
      return True
    except OSError:
      return False

  def records(self):
    return http_get_json(self.url + '/records')

  def stop(self):
    if self.process is not None:
      stop_process(self.process, signal.SIGTERM)
      self.process = None


def stop_process(process, sig):
  if process.poll() is None:
    process.send_signal(sig)
    try:
      process.wait(timeout=5)
    except subprocess.TimeoutExpired:
      process.kill()
      process.wait()


#
# The app and its accessibility tree
#

def start_app(binary, workdir, server_url):
  """Tether, uninstalled, with its own settings and store. The server URL
  is a setting: a keyfile settings backend (GLib's own, as in a Flatpak)
  holds it, where the memory backend of the other tests cannot be seeded
  from outside the process."""
  env = dict(os.environ)
  for name in ('HOME', 'XDG_CONFIG_HOME', 'XDG_DATA_HOME', 'XDG_CACHE_HOME', 'XDG_STATE_HOME'):
    path = os.path.join(workdir, 'app', name.lower())
    os.makedirs(path)
    env[name] = path

  settings_dir = os.path.join(env['XDG_CONFIG_HOME'], 'glib-2.0', 'settings')
  os.makedirs(settings_dir)
  with open(os.path.join(settings_dir, 'keyfile'), 'w', encoding='utf-8') as f:
    f.write('[%s]\n' % BASE_ID.replace('.', '/'))
    f.write('server-url=%s\n' % GLib.Variant('s', server_url).print_(False))
    f.write("collection='records'\n")

  env['GSETTINGS_BACKEND'] = 'keyfile'
  if APP_G_DEBUG is not None:
    env['G_DEBUG'] = APP_G_DEBUG
  # GTK 4's AT-SPI backend, by name. NO_AT_BRIDGE, which the suite sets,
  # is GTK 3's switch for its ATK bridge and GTK 4 does not read it; it is
  # dropped all the same, as this app is meant to be seen.
  env.pop('NO_AT_BRIDGE', None)
  env['GTK_A11Y'] = 'atspi'
  # As `meson devenv` runs it: schemas from the build, icons from the source.
  build_root = os.environ.get('TETHER_BUILD_ROOT')
  source_root = os.environ.get('TETHER_SOURCE_ROOT')
  if build_root and 'GSETTINGS_SCHEMA_DIR' not in env:
    env['GSETTINGS_SCHEMA_DIR'] = os.path.join(build_root, 'data')
  if source_root:
    env['XDG_DATA_DIRS'] = ':'.join([os.path.join(source_root, 'data'),
                                     env.get('XDG_DATA_DIRS') or '/usr/local/share:/usr/share'])

  return subprocess.Popen(DIE_WITH_TEST + [binary], env=env, stdin=subprocess.DEVNULL)


def find(node, pred):
  """One search of node's subtree, no retries: the caller waits."""
  if node is None:
    return None
  return node.findChild(pred, retry=False, requireResult=False)


def find_all(node, pred):
  if node is None:
    return []
  return node.findChildren(pred)


def ended(process):
  status = process.returncode
  return 'killed by signal %d' % -status if status < 0 else 'with status %d' % status


def app_of(process):
  def probe():
    if process.poll() is not None:
      raise Failure('Tether ended %s before it showed a window (its output is on stderr)'
                    % ended(process))
    for app in tree.root.children:
      if app is not None and app.get_process_id() == process.pid:
        return app
    return None
  return probe


def button(description):
  return lambda n: n.roleName == 'push button' and n.description.startswith(description)


def text_of(node):
  text = node.queryText()
  return text.getText(0, text.characterCount)


def row_labels(item):
  return [n.name for n in find_all(item, lambda n: n.roleName == 'label')]


def list_items(records):
  return find_all(records, lambda n: n.roleName == 'list item')


def the_row(records):
  items = list_items(records)
  if len(items) > 1:
    raise Failure('the list shows %d rows, not one: %s'
                  % (len(items), [row_labels(i) for i in items]))
  return items[0] if items else None


def label(name):
  return lambda n: n.roleName == 'label' and n.name == name


#
# The test
#

def run(binary, workdir):
  source_root = os.environ.get('TETHER_SOURCE_ROOT')
  if not source_root:
    raise Failure('TETHER_SOURCE_ROOT is not set; run the test with meson test')

  server = JsonServer(source_root, workdir)
  app_process = None
  quitting = False
  try:
    step('json-server %s on %s' % (JsonServer.VERSION, server.url))
    app_process = start_app(binary, workdir, server.url)

    app = wait_for('Tether in the accessibility tree', app_of(app_process))
    window = wait_for('the Tether window',
                      lambda: find(app, lambda n: n.roleName == 'frame' and n.name == 'Tether'))
    records = wait_for('the Records list',
                       lambda: find(window, lambda n: n.roleName == 'list' and n.name == 'Records'))
    if list_items(records):
      raise Failure('the list is not empty at start: %s'
                    % [row_labels(i) for i in list_items(records)])
    step('window up: an empty Records list')

    add = wait_for('the Add Record button', lambda: find(window, button('Add Record')))
    add.doActionNamed('click')

    # Add puts the cursor in the new record's title field.
    field = wait_for('the editor\'s title field',
                     lambda: find(window, lambda n: n.roleName == 'text' and n.name == 'title'))
    if not field.getState().contains(pyatspi.STATE_EDITABLE):
      raise Failure('the title field is not editable')
    if text_of(field) != '':
      raise Failure('the new record\'s title is %r, not empty' % text_of(field))
    row = wait_for('a row for the new record', lambda: the_row(records))
    wait_for('"Not yet synced" in the new row', lambda: find(row, label('Not yet synced')),
             seen=lambda: row_labels(row))
    step('Add: a row and an empty title field')

    rawinput.typeText(TITLE)
    wait_for('%r in the title field' % TITLE, lambda: text_of(field) == TITLE,
             seen=lambda: repr(text_of(field)))
    wait_for('%r in the list row' % TITLE, lambda: find(the_row(records), label(TITLE)),
             seen=lambda: row_labels(the_row(records)))
    wait_for('"1 change to send" under the window title', lambda: find(window, label('1 change to send')))
    step('typed: the row shows %s' % row_labels(the_row(records)))

    if server.records() != []:
      raise Failure('the server has records before the sync: %s' % server.records())

    sync = wait_for('the Sync button', lambda: find(window, button('Sync')))
    sync.doActionNamed('click')

    def server_id_shown():
      for name in row_labels(the_row(records)):
        if re.fullmatch(r'#\S+', name):
          return name
      return None

    shown = wait_for('the server\'s id in the row', server_id_shown,
                     seen=lambda: row_labels(the_row(records)))
    wait_for('"All changes synced" under the window title',
             lambda: find(window, label('All changes synced')))
    step('synced: the row shows %s' % row_labels(the_row(records)))

    on_server = server.records()
    if len(on_server) != 1:
      raise Failure('the server holds %d records, not 1: %s' % (len(on_server), on_server))
    record = on_server[0]
    if record.get('title') != TITLE:
      raise Failure('the server\'s record has the title %r, not %r' % (record.get('title'), TITLE))
    if shown != '#%s' % record.get('id'):
      raise Failure('the row shows %s, the server gave the id %r' % (shown, record.get('id')))
    if not find(the_row(records), label(TITLE)):
      raise Failure('the row no longer shows %r: %s' % (TITLE, row_labels(the_row(records))))
    step('the server holds %s' % json.dumps(record))

    # Quit as a person would, and the app must end cleanly: any warning
    # on the way out is fatal under G_DEBUG=fatal-warnings.
    quitting = True
    rawinput.keyCombo('<Control>q')
    wait_for('Tether to quit after Ctrl+Q', lambda: app_process.poll() is not None)
    if app_process.returncode != 0:
      raise Failure('Tether ended %s after Ctrl+Q (its output is on stderr)' % ended(app_process))
    step('Ctrl+Q: Tether quit cleanly')
  except Exception as error:
    # A step that failed because the app died says so first. (A call to
    # an app that is dying can fail a moment before it is gone.)
    if app_process is not None and not quitting and 'before it showed a window' not in str(error):
      try:
        app_process.wait(timeout=1)
      except subprocess.TimeoutExpired:
        pass
      if app_process.poll() is not None:
        raise Failure('Tether ended on its own, %s (its output is on stderr); then: %s'
                      % (ended(app_process), error if isinstance(error, Failure) else repr(error))) \
          from error
    raise
  finally:
    if app_process is not None:
      stop_process(app_process, signal.SIGTERM)
    server.stop()


def main():
  if len(sys.argv) != 2:
    print('usage: test-atspi.py TETHER-BINARY', file=sys.stderr)
    return 2

  # meson test ends a test that runs too long with SIGTERM: clean up then
  # too, and first say where it was, even if that was inside a call to the
  # accessibility bus (faulthandler's handler runs at once, then this one).
  def on_sigterm(signum, frame):
    raise Failure('stopped by signal %d' % signum)
  signal.signal(signal.SIGTERM, on_sigterm)
  faulthandler.register(signal.SIGTERM, chain=True)

  print('1..1', flush=True)
  workdir = tempfile.mkdtemp(prefix='tether-atspi-')
  try:
    run(os.path.abspath(sys.argv[1]), workdir)
  except Exception as error:
    message = str(error) if isinstance(error, Failure) else traceback.format_exc()
    print('not ok 1 - add, type a title, sync, through AT-SPI', flush=True)
    diag(message)
    # Also where meson test --print-errorlogs shows it.
    print('test-atspi.py: ' + message, file=sys.stderr, flush=True)
    return 1
  finally:
    shutil.rmtree(workdir, ignore_errors=True)
  print('ok 1 - add, type a title, sync, through AT-SPI (%.1f s)' % (time.monotonic() - STARTED),
        flush=True)
  return 0


if __name__ == '__main__':
  sys.exit(main())
