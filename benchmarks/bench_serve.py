"""Opening a big run in ``blocks-log serve``: the requests of a run's page
(the page; ``/api/series``, every key of the run downsampled to 2,000
points a curve (a chart 1,000 pixels wide), smoothed at the page's
default of 0.6 and its values sent as base64, as the page asks, for its
charts; ``/api/rows``, its last 20 rows, for its
table), over HTTP to a real server, against the raw limit; then the page
comparing 200 runs of 5,000 iterations (goal: 1 s).

The run: ITERATIONS iterations of ``train_loss`` and, every 100th,
``valid_loss``, written by ``SQLiteLog`` as a training loop does. The limit:
the same values in Blocks' table layout, read with one ``SELECT time,
value`` per key (no downsampling, no JSON, no HTTP). The goal: a run of a
million iterations opens in about a second.

Run: ``python benchmarks/bench_serve.py [-n 1000000] [-r 5]``.

"""
import contextlib
import os
import shutil
import sqlite3
import sys
import tempfile
import threading
import urllib.request
import uuid

sys.path.insert(0, os.path.join(os.path.dirname(__file__), '..'))

from benchmarks.bench_read import BLOCKS_SCHEMA  # noqa
from benchmarks.common import parse_args, report, run_rounds  # noqa
from blocks_log import SQLiteLog  # noqa
from blocks_log.web.server import Server  # noqa


def values(iterations):
    for time in range(1, iterations + 1):
        yield time, 'train_loss', 1.0 / time
        if time % 100 == 0:
            yield time, 'valid_loss', 2.0 / time


def make_ours(path, iterations):
    log = SQLiteLog(path)
    for time, key, value in values(iterations):
        log.status['iterations_done'] = time
        log.current_row[key] = value
    log.close()
    return log.h_uuid


def make_raw(path, iterations):
    connection = sqlite3.connect(path, isolation_level=None)
    connection.execute(BLOCKS_SCHEMA.replace(
        'CREATE TABLE', 'CREATE TABLE IF NOT EXISTS', 1))
    run = uuid.uuid4().hex
    connection.execute('BEGIN')
    connection.executemany('INSERT INTO entries VALUES (?, ?, ?, ?)', (
        (run, time, key, value) for time, key, value in values(iterations)))
    connection.execute('COMMIT')
    connection.close()
    return run


def raw_read(path, runs):
    connection = sqlite3.connect(path)
    for run in runs:
        for key in ('train_loss', 'valid_loss'):
            connection.execute('SELECT time, value FROM entries WHERE '
                               'uuid = ? AND "key" = ?', (run, key)).fetchall()
    connection.close()


def fetch(url):
    with urllib.request.urlopen(url, timeout=120) as response:
        response.read()


@contextlib.contextmanager
def serving(path):
    """A :class:`Server` of `path` answering in a thread of its own until
    the block ends."""
    server = Server(path, port=0)
    thread = threading.Thread(target=server.serve_forever, daemon=True)
    thread.start()
    try:
        yield server
    finally:
        server.shutdown()
        server.server_close()


def compare(directory, args):
    """The page comparing COMPARED runs of COMPARED_ITERATIONS each: the
    page, and its charts (every run's keys, smoothed, in one request)."""
    ours = os.path.join(directory, 'compare.sqlite')
    raw = os.path.join(directory, 'compare-raw.sqlite')
    runs = [make_ours(ours, COMPARED_ITERATIONS) for _ in range(COMPARED)]
    raw_runs = [make_raw(raw, COMPARED_ITERATIONS) for _ in range(COMPARED)]
    with serving(ours) as server:
        names = ','.join(runs)
        medians = run_rounds([
            ('raw SELECT of each key', lambda: raw_read(raw, raw_runs)),
            ('GET /compare?runs=... (the page)', lambda: fetch(
                server.url + 'compare?runs=' + names)),
            ('GET /api/series (the charts)', lambda: fetch(
                server.url + 'api/series?' + SERIES + '&runs=' +
                names)),
        ], args.rounds)
        count = COMPARED * sum(1 for _ in values(COMPARED_ITERATIONS))
        report('compare {} runs of {} iterations ({} values)'.format(
            COMPARED, COMPARED_ITERATIONS, count), medians,
            'raw SELECT of each key', count)


#: What the page asks of /api/series: a chart 1,000 pixels wide, its
#: default smoothing, the values as base64.
SERIES = 'points=2000&smoothing=0.6&numbers=base64'
#: The comparison timed: runs, and iterations of each.
COMPARED, COMPARED_ITERATIONS = 200, 5000


def main():
    args = parse_args(__doc__.splitlines()[0], 1000000)
    args.rounds = min(args.rounds, 5)
    directory = tempfile.mkdtemp(prefix='bench_serve_')
    try:
        ours = os.path.join(directory, 'ours.sqlite')
        raw = os.path.join(directory, 'raw.sqlite')
        run = make_ours(ours, args.iterations)
        raw_run = make_raw(raw, args.iterations)
        count = sum(1 for _ in values(args.iterations))
        with serving(ours) as server:
            url = server.url + 'api/series?' + SERIES + '&runs=' + run
            medians = run_rounds([
                ('raw SELECT of each key', lambda: raw_read(raw, [raw_run])),
                ('GET /api/series (the charts)', lambda: fetch(url)),
                ('GET /run/<id> (the page)', lambda: fetch(
                    server.url + 'run/' + run)),
                ('GET /api/rows (its last 20 rows)', lambda: fetch(
                    server.url + 'api/rows?limit=20&run=' + run)),
            ], args.rounds)
        report('open a run of {} iterations ({} values)'.format(
            args.iterations, count), medians, 'raw SELECT of each key',
            count)
        compare(directory, args)
    finally:
        shutil.rmtree(directory)


if __name__ == '__main__':
    main()
