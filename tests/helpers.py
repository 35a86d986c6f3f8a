"""Small helpers shared by the test modules."""
import contextlib
import os
import shutil
import signal
import sqlite3
import subprocess
import sys
import textwrap
import time as _time
import traceback

import pytest

ROOT = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))
STATUS_TIME = 2 ** 63 - 1


def in_child(work, unseen=False):
    """Fork; the child runs ``work()`` and exits, with status 0 once it
    returned, 1 (its traceback on stderr) if it raised, so that the parent
    sees a child that failed. Returns the child's pid. `unseen`: forked by
    libc's ``fork()``, as C code forks, which runs no at-fork hook."""
    if unseen:
        import ctypes
        pid = ctypes.CDLL(None, use_errno=True).fork()
    else:
        pid = os.fork()
    if pid == 0:
        status = 1
        try:
            work()
            status = 0
        except BaseException:
            traceback.print_exc()
        finally:
            os._exit(status)
    return pid


def in_ci():
    """Whether the tests run under CI (``CI=true``)."""
    return os.environ.get('CI', '').lower() == 'true'


def unavailable(component, reason):
    """A real component a test needs cannot start: fail under ``CI=true``,
    skip elsewhere, and say why."""
    if in_ci():
        pytest.fail('{} is needed under CI=true: {}'.format(
            component, reason), pytrace=False)
    pytest.skip('{} tests skipped: {}'.format(component, reason))


def debian_install(*packages):
    """apt-get install Debian's `packages`, when we are root on a machine
    with apt-get (quietly; whether it worked shows in what is found)."""
    if os.geteuid() != 0 or not shutil.which('apt-get'):
        return
    environment = dict(os.environ, DEBIAN_FRONTEND='noninteractive')
    for command in (['apt-get', 'update', '-qq'],
                    ['apt-get', 'install', '-y', '-qq'] + list(packages)):
        subprocess.run(command, env=environment, timeout=600,
                       stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)


def committed(path, query, *parameters):
    """Rows of `query` on the file at `path`, through a connection of its
    own: what another process would see."""
    connection = sqlite3.connect(path)
    try:
        return connection.execute(query, parameters).fetchall()
    finally:
        connection.close()


def head_values(path, query='', *parameters):
    """``(run, time, key id, stored)`` of every value in the head of the
    file at `path` (the status left out), batches decoded (`query` ends
    the WHERE clause of the rows read, as ``AND ...``)."""
    from blocks_log.stores import batches
    values = []
    for run, time, key, stored in committed(
            path, 'SELECT run, time, key, value FROM blocks_log_entries '
                  'WHERE time < ? ' + query, STATUS_TIME, *parameters):
        if key >= 0:
            values.append((run, time, key, stored))
        else:
            values.extend((run,) + entry for entry in zip(
                *batches.decode(time, stored)))
    return values


def count_entries(path):
    """The committed values of every run (the status left out), in the
    head and in chunks."""
    packed = committed(path, 'SELECT coalesce(sum(count), 0) '
                             'FROM blocks_log_chunks')[0][0]
    return len(set(value[:3] for value in head_values(path))) + packed


def run_python(code, *args, **kwargs):
    """Run `code` in a new interpreter that imports this checkout; return
    the completed process (stdout and stderr as text)."""
    environment = dict(os.environ, PYTHONPATH=ROOT)
    environment.update(kwargs.pop('env', {}))
    prefix = kwargs.pop('prefix', [])
    return subprocess.run(
        prefix + [sys.executable, '-c', textwrap.dedent(code)] + list(args),
        stdout=subprocess.PIPE, stderr=subprocess.PIPE,
        universal_newlines=True, env=environment, timeout=120, **kwargs)


@contextlib.contextmanager
def within(seconds):
    """Fail the test, rather than hang the suite, if the block takes more
    than `seconds` (an alarm: the main thread only)."""
    def hung(signum, frame):
        raise AssertionError('still running after {} s'.format(seconds))
    previous = signal.signal(signal.SIGALRM, hung)
    signal.alarm(seconds)
    try:
        yield
    finally:
        signal.alarm(0)
        signal.signal(signal.SIGALRM, previous)


def ctrl_c_stops():
    """A ``preexec_fn`` under which Ctrl-C (SIGINT) stops a child Python as
    it does in a terminal: a test run started in the background (``cmd
    &``) ignores SIGINT, and a child would inherit that."""
    import signal
    signal.signal(signal.SIGINT, signal.SIG_DFL)


def file_state(path):
    """What changes when a file or its siblings are written: names, sizes,
    modification times and contents of the files of `path`'s database."""
    directory = os.path.dirname(path) or '.'
    state = {}
    for name in sorted(os.listdir(directory)):
        if name.startswith(os.path.basename(path)):
            full = os.path.join(directory, name)
            with open(full, 'rb') as f:
                state[name] = (os.stat(full).st_mtime_ns, f.read())
    return state


def framework(module, environment):
    """Import the framework `module` for the tests of an integration: in
    the tox environment `environment` (``$BLOCKS_LOG_FRAMEWORK``) it must
    be there; elsewhere its tests skip when it is not."""
    import importlib
    try:
        return importlib.import_module(module)
    except ImportError as error:
        if os.environ.get('BLOCKS_LOG_FRAMEWORK') == environment:
            pytest.fail('{} is needed in the {} environment: {}'.format(
                module, environment, error), pytrace=False)
        pytest.skip('{} is not installed (tox -e {})'.format(
            module, environment), allow_module_level=True)


def readme_blocks(text):
    """``(kind, source)`` of each block: ``'python'`` for ``.. code::
    python``, ``'literal'`` for the block after a paragraph ending in
    ``::``; in order."""
    found, lines, index = [], text.splitlines(), 0
    while index < len(lines):
        line = lines[index]
        kind = 'python' if line.strip() == '.. code:: python' else (
            'literal' if line.rstrip().endswith('::') and not
            line.strip().startswith('..') else None)
        index += 1
        if kind is None:
            continue
        body = []
        while index < len(lines) and (not lines[index].strip() or
                                      lines[index].startswith('    ')):
            body.append(lines[index][4:])
            index += 1
        found.append((kind, '\n'.join(body).strip('\n')))
    return found


def readme_examples(needle):
    """The Python blocks of README.rst that hold `needle`."""
    with open(os.path.join(ROOT, 'README.rst')) as f:
        return [source for kind, source in readme_blocks(f.read())
                if kind == 'python' and needle in source]


def log_sparse_run(log, iterations=700):
    """Write what a range read can get wrong into `log`: keys logged now
    and then (every 3rd and 7th iteration, one only at time 0), a late
    write into a past row, more iterations than a block of chunks."""
    log[0]['first'] = 'only at 0'
    for time in range(1, iterations):
        log.status['iterations_done'] = time
        if time % 3 == 0:
            log.current_row['every_3'] = float(time)
        if time % 7 == 0:
            log.current_row['every_7'] = time
    log[5]['late'] = -1.0


def statements_of(log, action):
    """The SQL statements that `action()` asks of an SQLiteLog's
    connection, in order."""
    statements = []
    log.conn.set_trace_callback(statements.append)
    try:
        action()
    finally:
        log.conn.set_trace_callback(None)
    return statements


def refuse_inserts(log, table, refusing):
    """Make every insert into `table` of `log`'s database fail (a trigger
    of the database's own), or, not `refusing`, no longer."""
    if hasattr(log, 'database'):
        log._session.store.connection.execute(
            "CREATE TEMP TRIGGER refuse BEFORE INSERT ON main.{} BEGIN "
            "SELECT RAISE(ABORT, 'not today'); END".format(table)
            if refusing else 'DROP TRIGGER refuse')
        return
    import psycopg
    with psycopg.connect(log.dsn, autocommit=True) as connection:
        connection.execute(
            "CREATE FUNCTION refuse() RETURNS trigger AS $$ BEGIN RAISE "
            "EXCEPTION 'not today'; END $$ LANGUAGE plpgsql; CREATE TRIGGER "
            "refuse BEFORE INSERT ON {} FOR EACH ROW EXECUTE FUNCTION "
            "refuse()".format(table) if refusing else
            'DROP TRIGGER refuse ON {}; DROP FUNCTION refuse()'.format(table))


def eventually(condition, seconds=30):
    """Whether `condition()` holds within `seconds` (a thread's or a
    process's work that the test waits for; a failure, not a slow machine,
    if it never does)."""
    deadline = _time.monotonic() + seconds
    while not condition():
        if _time.monotonic() > deadline:
            return False
        _time.sleep(0.02)
    return True


def pickled_log(path, iterations=3000):
    """Pickle into `path` a :class:`TrainingLog` holding a ``loss`` at each
    of `iterations` times from 1; return `path`."""
    import pickle
    from blocks_log import TrainingLog
    log = TrainingLog()
    for time in range(1, iterations + 1):
        log[time]['loss'] = time * 0.5
    with open(path, 'wb') as pickled:
        pickle.dump(log, pickled)
    return path


def lower_sqlite_limits(monkeypatch, compound_selects=None, variables=None,
                        length=None):
    """Open each SQLite connection of blocks_log, from now to the test's
    end, with SQLite's limits on the SELECTs a statement joins, on the
    values it binds and on the bytes of a text, BLOB or row lowered to
    those given (those of old builds, or of smaller cases). Before Python
    3.11, which cannot set them, nothing changes."""
    if not hasattr(sqlite3.Connection, 'setlimit'):
        return
    from blocks_log.stores.sqlite_connection import SQLiteConnection
    connect = SQLiteConnection._connect
    limits = [(limit, value) for limit, value in (
        (sqlite3.SQLITE_LIMIT_COMPOUND_SELECT, compound_selects),
        (sqlite3.SQLITE_LIMIT_VARIABLE_NUMBER, variables),
        (sqlite3.SQLITE_LIMIT_LENGTH, length)) if value is not None]

    def limited(self, uri):
        connection = connect(self, uri)
        for limit, value in limits:
            connection.setlimit(limit, value)
        return connection
    monkeypatch.setattr(SQLiteConnection, '_connect', limited)


def lineage(path, runs):
    """A run of `runs` runs in the SQLite file `path`, each resumed from
    the one before (as a checkpoint each epoch makes them), each holding
    its iteration's ``x``; closed; its uuid, the deepest."""
    from blocks_log import SQLiteLog
    with SQLiteLog(path) as log:
        for _ in range(runs - 1):
            log.status['iterations_done'] += 1
            log.current_row['x'] = log.status['iterations_done']
            log.resume()
        log.status['iterations_done'] += 1
        log.current_row['x'] = log.status['iterations_done']
    return log.h_uuid


@contextlib.contextmanager
def shallow_stack(frames):
    """Python's recursion limit set `frames` above the caller's depth
    until the block ends: work that recursed once per run of a lineage
    (thousands of runs, past the limit of 1,000) fails on a few hundred."""
    depth, frame = 0, sys._getframe()
    while frame is not None:
        depth, frame = depth + 1, frame.f_back
    limit = sys.getrecursionlimit()
    sys.setrecursionlimit(depth + frames)
    try:
        yield
    finally:
        sys.setrecursionlimit(limit)
