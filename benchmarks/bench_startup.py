"""Start-up: a whole process that imports the log, opens a new SQLiteLog,
commits its first iteration and closes it, against a raw ``sqlite3``
script doing the same work, and against an interpreter that does nothing.

The raw script opens a new file with WAL and ``synchronous=NORMAL``, makes
Blocks' table, writes one iteration's 10 values and commits, and closes:
the floor of a durable first iteration. The goal (issue 21): within 10 ms
of it. Each round runs each contender once, interleaved.

blocks_log's modules are compiled to bytecode first, as ``pip install``
leaves them (``PYTHONDONTWRITEBYTECODE`` would have every process compile
them again: 20 ms more).

Run it with the Python of a virtual environment that has nothing
installed, as a training script's new environment: an interpreter whose
start imports more (an editable install's finder imports ``pathlib`` and
``re``; pyenv's Python may import ``certifi``) pays before the clock what
opening a log would have imported. The first line printed says what the
interpreter imported before any code ran.

Run: ``python benchmarks/bench_startup.py [-r ROUNDS]``.

"""
import os
import statistics
import subprocess
import sys
import tempfile
import time

sys.path.insert(0, os.path.join(os.path.dirname(__file__), '..'))

from benchmarks.common import parse_args  # noqa

ROOT = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))

NOTHING = 'pass'
RAW = '''
import sqlite3, sys, uuid
connection = sqlite3.connect(sys.argv[1], isolation_level=None)
connection.execute('PRAGMA journal_mode = WAL')
connection.execute('PRAGMA synchronous = NORMAL')
connection.execute('CREATE TABLE IF NOT EXISTS entries (uuid TEXT NOT NULL, '
                   'time INT NOT NULL, "key" TEXT NOT NULL, value, '
                   'PRIMARY KEY(uuid, time, "key"))')
run = uuid.uuid4().hex
connection.execute('BEGIN')
connection.executemany('INSERT OR REPLACE INTO entries VALUES (?, ?, ?, ?)',
                       [(run, 1, 'value_%d' % key, 0.5) for key in range(10)])
connection.execute('COMMIT')
connection.close()
'''
LOG = '''
import sys
from blocks_log import SQLiteLog
log = SQLiteLog(sys.argv[1])
log.status['iterations_done'] += 1
for key in range(10):
    log.current_row['value_%d' % key] = 0.5
log.flush()
log.close()
'''
IMPORT = 'import blocks_log'


def run_once(code, directory, name, environment):
    path = os.path.join(directory, name)
    start = time.perf_counter()
    subprocess.run([sys.executable, '-c', code, path], check=True,
                   env=environment)
    return time.perf_counter() - start


def main():
    args = parse_args(__doc__.splitlines()[0], iterations=1)
    contenders = [('python -c pass', NOTHING),
                  ('raw sqlite3, first commit', RAW),
                  ('import blocks_log', IMPORT),
                  ('SQLiteLog, first commit', LOG)]
    times = dict((name, []) for name, _ in contenders)
    environment = dict(os.environ, PYTHONPATH=ROOT)
    environment.pop('PYTHONDONTWRITEBYTECODE', None)
    subprocess.run([sys.executable, '-m', 'compileall', '-q',
                    os.path.join(ROOT, 'blocks_log')], check=True,
                   env=environment)
    directory = tempfile.mkdtemp(prefix='bench_startup_')
    try:
        for round_ in range(max(args.rounds, 1)):
            for name, code in contenders:
                times[name].append(run_once(
                    code, directory, '{}{}.sqlite'.format(
                        len(times[name]), round_), environment))
    finally:
        subprocess.run(['rm', '-rf', directory])
    started = subprocess.run(
        [sys.executable, '-c', 'import sys; print(len(sys.modules), '
         '" ".join(sorted(set(sys.modules) & {"re", "json", "enum", '
         '"pathlib", "threading"})) or "none")'], check=True,
        env=environment, stdout=subprocess.PIPE, universal_newlines=True)
    count, heavy = started.stdout.split(None, 1)
    print('the interpreter starts with {} modules; of re, json, enum, '
          'pathlib and threading: {}'.format(count, heavy.strip()))
    raw = times['raw sqlite3, first commit']
    print('start-up: a whole process, ms (min/median/max over {} rounds)'
          .format(len(raw)))
    for name, _ in contenders:
        seconds = times[name]
        over = sorted((mine - its) * 1e3 for mine, its in zip(seconds, raw))
        print('  {:<28} {:6.1f} {:6.1f} {:6.1f}   over raw: {:+6.1f} ms '
              '[{:+.1f}/{:+.1f}]'.format(
                  name, min(seconds) * 1e3, statistics.median(seconds) * 1e3,
                  max(seconds) * 1e3, statistics.median(over), over[0],
                  over[-1]))


if __name__ == '__main__':
    main()
