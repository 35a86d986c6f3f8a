"""How far the training-loop workload could go: SQLiteLog against a lean
sketch of a durable log, and against the raw limit (as ``bench_sqlite.py``
measures it), in interleaved rounds.

The sketch is not a limit and not a log anyone should use: it commits what
SQLiteLog commits for an iteration (one statement of two rows in autocommit:
a BLOB of the iteration's floats, and ``iterations_done``) on the same
pragmas and page size, with type checks only, and leaves out everything
else SQLiteLog does: packing into chunks (its file takes 14.7 bytes a
value at 3,000 iterations, SQLiteLog's 10.3, and its head grows: every read
decodes every batch), the clock, claims on the run, the checkpoints' thread,
the summary and release at close, values that are not floats, resuming. What
it reaches is the headroom of a leaner write path; what SQLiteLog costs
beyond it is the price of those features and of its layers.

Then the same committing every 100 iterations, against the same limit: the
sketch's commit is then one row of the 100 iterations' times, key ids and
floats, and the status. The loop and the buffer are SQLiteLog's (a flat
list, time, key and value after each other), so that what the sketch
reaches there bounds any log that checks each value in a Python
``__setitem__`` and keeps a buffer of entries (SPEC 5). Beside it, a
second sketch keeps its buffer in columns (each key's times and values,
appended as they are written), which a commit writes with no split: the
headroom of a log built that way, with no packing, no status beyond a
dict, and no lock.

Run: ``python benchmarks/bench_lean.py [-n ITERATIONS] [-r ROUNDS]``.

"""
import array
import os
import sqlite3
import sys
import tempfile

sys.path.insert(0, os.path.join(os.path.dirname(__file__), '..'))

from benchmarks.bench_sqlite import (  # noqa
    raw_limit, sqlite_log, writes_against)
from benchmarks.common import KEYS, numbered, parse_args, train  # noqa


class _LeanRow(object):
    __slots__ = ('log', 'time')

    def __init__(self, log, time):
        self.log, self.time = log, time

    def __setitem__(self, key, value):
        if type(key) is not str or type(value) is not float:
            raise TypeError('the sketch takes str keys and float values')
        self.log.pending.extend((self.time, key, value))


class _LeanStatus(dict):
    __slots__ = ('log',)

    def __setitem__(self, key, value):
        dict.__setitem__(self, key, value)
        if key == 'iterations_done':
            self.log.advance(value)


class LeanLog(object):
    """The sketch (see the module docstring)."""
    Row = _LeanRow

    def __init__(self, path, commit_every=1):
        self.commit_every, self.uncommitted = commit_every, 0
        self.connection = sqlite3.connect(path, isolation_level=None)
        for pragma in ('page_size = 1024', 'journal_mode = WAL',
                       'synchronous = NORMAL'):
            self.connection.execute('PRAGMA ' + pragma)
        self.connection.execute(
            'CREATE TABLE entries (run INTEGER NOT NULL, time INTEGER NOT '
            'NULL, key INTEGER NOT NULL, value, PRIMARY KEY (run, time, key)) '
            'WITHOUT ROWID')
        self.ids, self.heads, self.pending, self.part = {}, {}, [], 0
        self.status = _LeanStatus(iterations_done=0)
        self.status.log = self
        self.current_row = self.Row(self, 0)

    def advance(self, iterations_done):
        self.uncommitted += 1
        if self.uncommitted >= self.commit_every:
            self.uncommitted = 0
            if self.commit_every == 1:
                self.commit(iterations_done)
            else:
                self.commit_iterations(iterations_done)
        self.current_row = self.Row(self, iterations_done)

    def _write(self, time, column, blob, iterations_done):
        # One statement: the batch's row and the status'.
        self.connection.execute(
            'INSERT INTO entries VALUES (?, ?, ?, ?), (?, ?, ?, ?) ON '
            'CONFLICT DO UPDATE SET value = excluded.value',
            (1, time, column, blob, 1, 2 ** 63 - 1, 0, iterations_done))

    def commit_iterations(self, iterations_done):
        pending = self.pending
        if pending:
            times, keys, values = pending[0::3], pending[1::3], pending[2::3]
            self.part += 1
            self._write(times[0], -2 * self.part - 1, b'F' + b''.join([
                array.array('q', times).tobytes(),
                array.array('i', [
                    self.ids.setdefault(key, len(self.ids) + 1)
                    for key in keys]).tobytes(),
                array.array('d', values).tobytes()]), iterations_done)
            del self.pending[:]

    def commit(self, iterations_done):
        pending = self.pending
        if pending:
            times, keys, values = (pending[0::3], tuple(pending[1::3]),
                                   pending[2::3])
            head = self.heads.get(keys)
            if head is None:
                head = self.heads[keys] = b'f' + array.array('i', [
                    self.ids.setdefault(key, len(self.ids) + 1)
                    for key in keys]).tobytes()
            self.part += 1
            self._write(times[0], -2 * self.part, head + array.array(
                'd', values).tobytes(), iterations_done)
            del self.pending[:]

    def close(self):
        self.commit_iterations(self.status['iterations_done'])
        self.connection.close()


class _ColumnRow(object):
    __slots__ = ('columns', 'time')

    def __init__(self, log, time):
        self.columns, self.time = log.columns, time

    def __setitem__(self, key, value):
        if type(key) is not str or type(value) is not float:
            raise TypeError('the sketch takes str keys and float values')
        column = self.columns.get(key)
        if column is None:
            column = self.columns[key] = ([], [])
        column[0].append(self.time)
        column[1].append(value)


class ColumnLog(LeanLog):
    """The second sketch (see the module docstring): a buffer of columns,
    committed every `commit_every` iterations as one row."""
    Row = _ColumnRow

    def __init__(self, path, commit_every):
        self.columns = {}
        LeanLog.__init__(self, path, commit_every)

    def commit_iterations(self, iterations_done):
        if any(times for times, _ in self.columns.values()):
            self.part += 1
            parts, first = [b'C'], None
            for key, (times, values) in self.columns.items():
                parts += [array.array('i', [
                    self.ids.setdefault(key, len(self.ids) + 1),
                    len(times)]).tobytes(), array.array('q', times).tobytes(),
                    array.array('d', values).tobytes()]
                first = times[0] if first is None else min(first, times[0])
                del times[:], values[:]
            self._write(first, -2 * self.part - 1, b''.join(parts),
                        iterations_done)

    commit = commit_iterations  # of one iteration, the same way


def main():
    args = parse_args(__doc__.splitlines()[0], iterations=3000)
    n = args.iterations
    with tempfile.TemporaryDirectory(prefix='bench_lean_') as directory:
        fresh = numbered(directory)
        writes_against('write to a file ({} iterations x {} values)'.format(
            n, len(KEYS)), [
                ('raw sqlite3, executemany+commit', lambda: raw_limit(
                    fresh('raw'), n)),
                ('a lean sketch of a log', lambda: train(
                    LeanLog(fresh('lean')), n)),
                ('SQLiteLog.current_row', lambda: sqlite_log(
                    fresh('log'), n)),
            ], args.rounds, n * len(KEYS),
            compared=['a lean sketch of a log', 'SQLiteLog.current_row'])
        writes_against('commit every 100 iterations', [
            ('raw sqlite3, executemany+commit', lambda: raw_limit(
                fresh('raw'), n)),
            ('the lean sketch, commit every 100', lambda: train(
                LeanLog(fresh('lean100'), commit_every=100), n)),
            ('the sketch in columns, every 100', lambda: train(
                ColumnLog(fresh('columns100'), commit_every=100), n)),
            ('SQLiteLog(commit_every=100)', lambda: sqlite_log(
                fresh('log100'), n, commit_every=100)),
        ], args.rounds, n * len(KEYS), compared=[
            'the lean sketch, commit every 100',
            'the sketch in columns, every 100',
            'SQLiteLog(commit_every=100)'])


if __name__ == '__main__':
    main()
