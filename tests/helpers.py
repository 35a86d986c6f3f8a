"""Small helpers shared by the test modules."""
import os
import sqlite3
import subprocess
import sys
import textwrap

ROOT = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))
STATUS_TIME = 2 ** 63 - 1


def committed(path, query, *parameters):
    """Rows of `query` on the file at `path`, through a connection of its
    own: what another process would see."""
    connection = sqlite3.connect(path)
    try:
        return connection.execute(query, parameters).fetchall()
    finally:
        connection.close()


def count_entries(path):
    """The committed values of every run (the status left out), in rows
    and in chunks."""
    rows = committed(path, 'SELECT count(*) FROM blocks_log_entries '
                           'WHERE time < ?', STATUS_TIME)[0][0]
    packed = committed(path, 'SELECT coalesce(sum(count), 0) '
                             'FROM blocks_log_chunks')[0][0]
    return rows + packed


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
