"""Reading a run for analysis, at several sizes, against the raw limit.

For each size (iterations x 10 floats), in one run:

- the raw layout is Blocks' own: one row per value in ``entries(uuid,
  time, key, value)``, filled in large transactions; ours is written by
  ``SQLiteLog`` as a training loop writes it (a commit per iteration);
- ``to_dataframe()`` against the raw limit: ``SELECT time, key, value``
  of the run and a dict-of-dicts pivot, no pandas;
- ``history(key)`` against ``SELECT time, value ... WHERE key = ?``;
- bytes on disk per value, after a WAL checkpoint.

Run: ``python benchmarks/bench_read.py [--sizes 3000 100000 1000000]
[-r ROUNDS]``. Each size after the first gets fewer rounds (at least 3).

"""
import argparse
import os
import shutil
import sqlite3
import sys
import tempfile
import uuid

sys.path.insert(0, os.path.join(os.path.dirname(__file__), '..'))

from benchmarks.common import KEYS, columns_of, report, run_rounds  # noqa
from blocks_log import SQLiteLog  # noqa

BLOCKS_SCHEMA = ('CREATE TABLE entries (uuid TEXT NOT NULL, time INT NOT '
                 'NULL, "key" TEXT NOT NULL, value, PRIMARY KEY(uuid, time, '
                 '"key"))')


def make_raw(path, iterations):
    connection = sqlite3.connect(path, isolation_level=None)
    connection.execute('PRAGMA journal_mode = WAL')
    connection.execute(BLOCKS_SCHEMA)
    run = uuid.uuid4().hex
    for start in range(1, iterations + 1, 10000):
        connection.execute('BEGIN')
        connection.executemany(
            'INSERT INTO entries VALUES (?, ?, ?, ?)',
            [(run, time, key, time * 0.5) for time in range(
                start, min(start + 10000, iterations + 1)) for key in KEYS])
        connection.execute('COMMIT')
    connection.close()
    return run


def make_ours(path, iterations):
    log = SQLiteLog(path)
    for iteration in range(1, iterations + 1):
        log.status['iterations_done'] += 1
        value = iteration * 0.5
        for key in KEYS:
            log.current_row[key] = value
    log.close()
    return log.uuid


def raw_read(path, run):
    connection = sqlite3.connect(path)
    columns = columns_of(connection.execute(
        'SELECT time, key, value FROM entries WHERE uuid = ?', (run,)))
    connection.close()
    return columns


def raw_history(path, run, key):
    connection = sqlite3.connect(path)
    rows = connection.execute(
        'SELECT time, value FROM entries WHERE uuid = ? AND "key" = ?',
        (run, key)).fetchall()
    connection.close()
    return rows


def bytes_per_value(path, values):
    connection = sqlite3.connect(path)
    connection.execute('PRAGMA wal_checkpoint(TRUNCATE)')
    connection.close()
    total = sum(os.path.getsize(path + suffix) for suffix in ('', '-wal')
                if os.path.exists(path + suffix))
    return total / float(values)


def measure(directory, iterations, rounds):
    raw_path = os.path.join(directory, 'raw{}.sqlite'.format(iterations))
    log_path = os.path.join(directory, 'log{}.sqlite'.format(iterations))
    raw_run = make_raw(raw_path, iterations)
    log_run = make_ours(log_path, iterations)
    values = iterations * len(KEYS)
    sizes = {'raw SELECT + dict pivot': bytes_per_value(raw_path, values),
             'SQLiteLog.to_dataframe()': bytes_per_value(log_path, values)}
    reader = SQLiteLog(log_path, uuid=log_run, read_only=True)
    medians = run_rounds([
        ('raw SELECT + dict pivot', lambda: raw_read(raw_path, raw_run)),
        ('SQLiteLog.to_dataframe()', reader.to_dataframe),
    ], rounds)
    report('read {} x {} values into a DataFrame'.format(
        iterations, len(KEYS)), medians, 'raw SELECT + dict pivot', values,
        extra=dict((name, '{:.1f} bytes/value on disk'.format(size))
                   for name, size in sizes.items()))
    medians = run_rounds([
        ('raw SELECT of one key', lambda: raw_history(
            raw_path, raw_run, KEYS[3])),
        ('SQLiteLog.history(key)', lambda: reader.history(KEYS[3])),
    ], rounds)
    report('one key of {} x {}'.format(iterations, len(KEYS)), medians,
           'raw SELECT of one key', iterations)
    reader.close()
    os.remove(raw_path)


def main():
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument('--sizes', type=int, nargs='+',
                        default=[3000, 100000])
    parser.add_argument('--rounds', '-r', type=int, default=7)
    args = parser.parse_args()
    directory = tempfile.mkdtemp(prefix='bench_read_')
    try:
        for index, iterations in enumerate(args.sizes):
            measure(directory, iterations, max(3, args.rounds - 2 * index))
    finally:
        shutil.rmtree(directory)


if __name__ == '__main__':
    main()
