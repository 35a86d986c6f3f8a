"""The training-loop workload on SQLiteLog (a file), against the limit.

Write: each iteration does ``status['iterations_done'] += 1`` and logs 10
floats through ``current_row``. Side by side, in one run:

- the limit: raw ``sqlite3`` with WAL and ``synchronous=NORMAL``, one
  ``executemany`` of the iteration's 10 rows and one commit per iteration,
  on Blocks' table layout (uuid text, time, key text, value);
- Blocks' way: one ``INSERT OR REPLACE`` and one commit per value, with
  SQLite's default journal and sync, as Blocks ran it (a tenth of the
  iterations, scaled up: it is that slow).

Then the same with ``commit_every=100`` and with ``commit_seconds=60``
alone (a run this short then commits at an iteration's end past 2,048
values waiting), against the same limit, and the raw limit committing
every 100 iterations too, and the loop on ``TrainingLog``, in memory: what
the loop's own Python takes, with nothing stored; and with
``synchronous='FULL'`` (against the raw limit with ``FULL``: a disk sync
each commit). And Blocks' main loop: the same, with a read of the current
row after every batch (``current_row.get('training_finish_requested')``,
a key nothing wrote), in a new run, in a run resumed from another (as
every run is once Blocks' checkpoint extension pickled the log), and in a
file where a run before set that key (as each run of Blocks' default
database did when it finished), against the same limit (which reads
nothing: a loop on raw sqlite3 knows what it did not write).

Read: ``to_dataframe()`` of 3,000 iterations x 10 values against a raw
SELECT plus a dict pivot (no pandas: the limit does only the reading; see
``bench_read.py`` for larger runs). Also bytes on disk per value.

Run: ``python benchmarks/bench_sqlite.py [-n ITERATIONS] [-r ROUNDS]``.

"""
import importlib
import os
import shutil
import sqlite3
import sys
import tempfile
import uuid

sys.path.insert(0, os.path.join(os.path.dirname(__file__), '..'))

from benchmarks.common import (  # noqa
    KEYS, columns_of, numbered, parse_args, report, run_rounds, train,
    train_as_blocks)
from blocks_log import SQLiteLog, TrainingLog  # noqa

BLOCKS_SCHEMA = ('CREATE TABLE IF NOT EXISTS entries (uuid TEXT NOT NULL, '
                 'time INT NOT NULL, "key" TEXT NOT NULL, value, '
                 'PRIMARY KEY(uuid, time, "key"))')


def raw_connection(path, synchronous='NORMAL'):
    connection = sqlite3.connect(path, isolation_level=None)
    connection.execute('PRAGMA journal_mode = WAL')
    connection.execute('PRAGMA synchronous = ' + synchronous)
    connection.execute(BLOCKS_SCHEMA)
    return connection


def raw_write(connection, run, iteration):
    """One iteration's values, written by raw sqlite3."""
    value = iteration * 0.5
    connection.executemany(
        'INSERT OR REPLACE INTO entries VALUES (?, ?, ?, ?)',
        [(run, iteration, key, value) for key in KEYS])


def raw_limit(path, iterations, synchronous='NORMAL', commit_every=1):
    connection, run = raw_connection(path, synchronous), uuid.uuid4().hex
    for iteration in range(1, iterations + 1):
        if iteration % commit_every == 1 % commit_every:
            connection.execute('BEGIN')
        raw_write(connection, run, iteration)
        if iteration % commit_every == 0 or iteration == iterations:
            connection.execute('COMMIT')
    connection.close()


def blocks_way(path, iterations):
    # Blocks' connection: SQLite's defaults (rollback journal, synchronous
    # FULL), so each commit syncs the disk.
    connection, run = sqlite3.connect(path, isolation_level=None), (
        uuid.uuid4().hex)
    connection.execute(BLOCKS_SCHEMA)
    for iteration in range(1, iterations + 1):
        value = iteration * 0.5
        for key in KEYS:
            connection.execute('BEGIN')
            connection.execute(
                'INSERT OR REPLACE INTO entries VALUES (?, ?, ?, ?)',
                (run, iteration, key, value))
            connection.execute('COMMIT')
    connection.close()


def sqlite_log(path, iterations, loop=train, resumed=False, after=False,
               **options):
    if after:
        # A run before, in the same file, that Blocks' loop finished: the
        # key it reads each iteration is one the file holds.
        with SQLiteLog(path) as before:
            before.current_row['training_finish_requested'] = True
    log = SQLiteLog(path, **options)
    if resumed:
        log.resume()
    loop(log, iterations)
    return log.uuid


def raw_read(path):
    connection = sqlite3.connect(path)
    columns = columns_of(connection.execute(
        'SELECT time, key, value FROM entries'))
    connection.close()
    return columns


def size_per_value(directory, name, values):
    total = sum(os.path.getsize(os.path.join(directory, entry))
                for entry in os.listdir(directory) if entry.startswith(name))
    return total / float(values)


def writes_against(title, workloads, rounds, values, compared=None):
    """Time `workloads` (``(name, callable)``, the limit first and the log
    last) in interleaved rounds, report them under `title`, and print the
    values/s of those `compared` (names; by default the log) against the
    limit's: the ratio of the medians, and its range over rounds."""
    medians = run_rounds(workloads, rounds)
    limit = workloads[0][0]
    report(title, medians, limit, values)
    for name in compared or [workloads[-1][0]]:
        ratios = sorted(its / mine for its, mine in zip(
            medians.rounds[limit], medians.rounds[name]))
        print('  {}: {:.2f}x the raw limit\'s values/s [{:.2f}-{:.2f} over '
              'rounds]'.format(name, medians[limit] / medians[name],
                               ratios[0], ratios[-1]))


def main():
    args = parse_args(__doc__.splitlines()[0], iterations=1000)
    n = args.iterations
    directory = tempfile.mkdtemp(prefix='bench_sqlite_')
    fresh = numbered(directory)
    try:
        medians = run_rounds([
            ('raw sqlite3, executemany+commit', lambda: raw_limit(
                fresh('raw'), n)),
            ('SQLiteLog.current_row', lambda: sqlite_log(fresh('log'), n)),
            ('Blocks way, commit per value', lambda: blocks_way(
                fresh('blocks'), n // 10 or 1)),
        ], args.rounds)
        # Blocks' way ran a tenth of the iterations: scale it to the others.
        scale = n / float(n // 10 or 1)
        medians['Blocks way, commit per value'] *= scale
        medians.rounds['Blocks way, commit per value'] = [
            seconds * scale for seconds in
            medians.rounds['Blocks way, commit per value']]
        raw_path, log_path = fresh('sizeraw'), fresh('sizelog')
        raw_limit(raw_path, n)
        sqlite_log(log_path, n)
        for path in (raw_path, log_path):
            connection = sqlite3.connect(path)
            connection.execute('PRAGMA wal_checkpoint(TRUNCATE)')
            connection.close()
        sizes = {
            'raw sqlite3, executemany+commit': size_per_value(
                directory, os.path.basename(raw_path), n * len(KEYS)),
            'SQLiteLog.current_row': size_per_value(
                directory, os.path.basename(log_path), n * len(KEYS))}
        report('write to a file ({} iterations x {} values)'.format(
            n, len(KEYS)), medians, 'raw sqlite3, executemany+commit',
            n * len(KEYS), extra=dict(
                (name, '{:.1f} bytes/value on disk'.format(size))
                for name, size in sizes.items()))
        log_time = medians['SQLiteLog.current_row']
        print('  SQLiteLog: {:.2f}x the raw limit\'s values/s, {:.0f}x '
              'faster than Blocks\' way'.format(
                  medians['raw sqlite3, executemany+commit'] / log_time,
                  medians['Blocks way, commit per value'] / log_time))
        writes_against('commit every 100 iterations', [
            ('raw sqlite3, executemany+commit', lambda: raw_limit(
                fresh('raw'), n)),
            ('raw sqlite3, commit every 100', lambda: raw_limit(
                fresh('raw100'), n, commit_every=100)),
            ('TrainingLog, nothing stored', lambda: train(TrainingLog(), n)),
            ('SQLiteLog(commit_every=100)', lambda: sqlite_log(
                fresh('log100'), n, commit_every=100)),
            ('SQLiteLog(commit_seconds=60)', lambda: sqlite_log(
                fresh('log60s'), n, commit_seconds=60)),
        ], args.rounds, n * len(KEYS), compared=[
            'TrainingLog, nothing stored', 'SQLiteLog(commit_every=100)',
            'SQLiteLog(commit_seconds=60)'])
        writes_against(
            "Blocks' main loop: a read of the current row each iteration", [
                ('raw sqlite3, executemany+commit', lambda: raw_limit(
                    fresh('raw'), n)),
                ('SQLiteLog.current_row', lambda: sqlite_log(
                    fresh('log'), n)),
                ('SQLiteLog, as Blocks', lambda: sqlite_log(
                    fresh('logblocks'), n, loop=train_as_blocks)),
                ('SQLiteLog, as Blocks, resumed', lambda: sqlite_log(
                    fresh('logresumed'), n, loop=train_as_blocks,
                    resumed=True)),
                ('SQLiteLog, as Blocks, after a run', lambda: sqlite_log(
                    fresh('logafter'), n, loop=train_as_blocks,
                    after=True)),
            ], args.rounds, n * len(KEYS), compared=[
                'SQLiteLog.current_row', 'SQLiteLog, as Blocks',
                'SQLiteLog, as Blocks, resumed',
                'SQLiteLog, as Blocks, after a run'])
        writes_against('a disk sync each commit (synchronous=FULL)', [
            ('raw sqlite3, synchronous=FULL', lambda: raw_limit(
                fresh('rawfull'), n, synchronous='FULL')),
            ("SQLiteLog(synchronous='FULL')", lambda: sqlite_log(
                fresh('logfull'), n, synchronous='FULL')),
        ], args.rounds, n * len(KEYS))
        try:
            # Imported here, so that no round pays for it.
            importlib.import_module('pandas')
        except ImportError:
            print('read: skipped, pandas is not installed')
            return
        read_n = 3000
        raw_path, log_path = fresh('readraw'), fresh('readlog')
        raw_limit(raw_path, read_n)
        run = sqlite_log(log_path, read_n)
        reader = SQLiteLog(log_path, uuid=run, read_only=True)
        medians = run_rounds([
            ('raw SELECT + dict pivot', lambda: raw_read(raw_path)),
            ('SQLiteLog.to_dataframe()', reader.to_dataframe),
        ], args.rounds)
        report('read {} x {} values into a DataFrame'.format(
            read_n, len(KEYS)), medians, 'raw SELECT + dict pivot',
            read_n * len(KEYS))
        reader.close()
    finally:
        shutil.rmtree(directory)


if __name__ == '__main__':
    main()
