"""Copying runs between stores: SQLite to PostgreSQL and back, Blocks'
databases and pickled logs (and checkpoints) into either.

A run is copied whole: its uuid, its parent, its status, every value,
typed as it was (values the copy cannot decode, such as pickles read
without the opt-in, are copied as they are stored), and when each time
was logged (its clock). Runs are copied
parents first, so that the lineage holds in the copy. Copying again
changes nothing: a run the destination holds is left as it is, unless an
earlier copy of it was interrupted, or made while the run was still being
written, which is then finished (from the first iteration it may have
missed).

"""
import sys

from blocks_log import codec, placeholders, series
from blocks_log.errors import LogDatabaseError, UnknownRunError
from blocks_log.stores.base import RunInfo, Store

#: Values per commit of a copy, and about as many read at a time; and the
#: times its first read spans.
BATCH = 50000
FIRST_SPAN = 64
# In the status of a run being copied, until its values are all there.
_COPYING = '_blocks_log_copying'


class LogStore(Store):
    """A log held in memory (a pickled log, a checkpoint's), as a store of
    its one run, read-only."""

    def __init__(self, log, name):
        self.log, self.name = log, name
        self.run = RunInfo(None, log.h_uuid, log.status.get('resumed_from'),
                           None, None)

    def find_run(self, uuid):
        return self.run if uuid == self.run.uuid else None

    def runs(self):
        return [self.run]

    def read_status(self, run):
        return dict(self.log.status)

    def read_row(self, runs, time, key=None):
        return dict(self.log[time])

    def read_times(self, runs, start, stop):
        return sorted(time for time in self.log if start <= time < stop)

    def read_series(self, runs, keys, start, stop):
        return self.log.series(keys, start, stop)


def _stored(value):
    # A value read from a store, as a store keeps it again.
    if value is codec.DELETED:
        return codec.DELETED_STORED
    if isinstance(value, placeholders.Pickled):
        return codec.PICKLE_TAG + value.data
    if isinstance(value, placeholders.Undecodable):
        return value.data
    return codec.encode(value, allow_pickle=True)


def copy_runs(sources, destination, uuids=None, progress=None):
    """Copy runs from `sources` into `destination`.

    Parameters
    ----------
    sources : list of blocks_log.stores.base.Store
        Where the runs are (blocks_log's store, and Blocks' beside it).
    destination : blocks_log.stores.base.Store
        A writable store.
    uuids : list of str, optional
        The hex uuids of the runs to copy, with their ancestors; all runs
        by default.
    progress : callable, optional
        Called as ``progress(run uuid, done, total)`` as a run is copied:
        `done` of the `total` times it spans copied.

    Returns
    -------
    list of (str, str)
        For each run: its uuid and ``'copied'``, ``'finished'`` (an
        interrupted copy, or one of a run then being written), ``'present'``
        or ``'copied so far'`` (the run is being written: a later copy
        finishes it).

    Raises
    ------
    blocks_log.errors.UnknownRunError
        If one of `uuids` is in none of the sources.
    blocks_log.errors.LogError
        If a store cannot be read or written.

    """
    found = {}
    for store in sources:
        for run in store.runs():
            found.setdefault(run.uuid, (store, run))
    order = _parents_first(found, uuids)
    results = []
    for uuid in order:
        store, run = found[uuid]
        present = destination.find_run(uuid)
        start = 0
        if present is not None:
            start = destination.read_status(present).get(_COPYING)
            if start is None:
                results.append((uuid, 'present'))
                continue
            if type(start) is not int:  # a copy of 0.2.0.dev0: True
                start = 0
        # Whether a writer holds it, asked before its status is read: the
        # times below the iterations done that status says are whole.
        live = store.is_written(run)
        values = store.read_status(run)
        status = dict((key, _stored(value)) for key, value in
                      values.items())
        if present is None:
            created = destination.create_run(
                uuid, run.parent, dict(status, **{
                    _COPYING: codec.encode(0)}), None, created=run.created)
        _copy_values(store, run, destination, present or created, progress,
                     start)
        if live:
            # A later copy goes on from the first iteration not whole now.
            done = values.get('iterations_done')
            again = max(start, done if type(done) is int else 0)
            destination.write(present or created, [], dict(status, **{
                _COPYING: codec.encode(again)}), set())
        else:
            destination.write(present or created, [], status,
                              set([_COPYING]))
        destination.compact(present or created)
        destination.release_run(present or created, None)
        results.append((uuid, 'copied so far' if live else
                        'copied' if present is None else 'finished'))
    return results


def _parents_first(found, uuids):
    wanted = list(found) if uuids is None else list(uuids)
    for uuid in wanted:
        if uuid not in found:
            raise UnknownRunError('no run with uuid {} to copy'.format(uuid))
    order, seen = [], set()

    def visit(uuid):
        if uuid in seen or uuid not in found:
            return
        seen.add(uuid)
        visit(found[uuid][1].parent)
        order.append(uuid)
    for uuid in wanted:
        visit(uuid)
    return order


def _copy_values(store, run, destination, copy, progress, start=0):
    # The values of `run` from time `start` on, and their clock (the
    # copy's commits stamp none: a time was committed when the run wrote
    # it, not when it was copied). Read a window of times at a time (see
    # series.windows): whole, a run of 1,000,000 iterations of 10 values
    # took 1.5 GB.
    end = store.read_end([run], start, store.max_time)
    items = []  # flat, as Store.write takes them
    deletions = False
    for stop, columns in series.windows(
            lambda low, high: store.read_series([run], None, low, high),
            lambda low, high: store.read_end([run], low, high) is not None,
            start, end or start, BATCH,
            # A log in memory, whole: each read of it sorts its every time.
            (end or start) - start if isinstance(store, LogStore) else
            FIRST_SPAN):
        for time, key, value in sorted(
                (time, key, value) for key, (times, values) in
                columns.items() for time, value in zip(times, values)):
            items.extend((time, key, _stored(value)))
            deletions = deletions or value is codec.DELETED
            if len(items) >= 3 * BATCH:
                destination.write(copy, items, {}, set(), deletions,
                                  stamp=False)
                items = []
        if progress and stop < end:
            progress(run.uuid, stop - start, end - start)
    destination.write(copy, items, {}, set(), deletions, stamp=False)
    destination.write_clock(copy, *store.read_clock([run], start,
                                                    store.max_time))
    if progress and end is not None:
        progress(run.uuid, end - start, end - start)


def print_progress(stream=sys.stderr):
    """A `progress` for :func:`copy_runs` that draws a bar on `stream` (a
    terminal) for runs that span more than 10,000 times."""
    def show(uuid, done, total):
        if total < 10000 or not stream.isatty():
            return
        width = 30
        filled = int(width * done / float(total))
        stream.write('\rcopying {} [{}{}] {:3.0f}%'.format(
            uuid[:8], '#' * filled, '.' * (width - filled),
            100.0 * done / total))
        if done == total:
            stream.write('\n')
        stream.flush()
    return show


def copy(source, destination, runs=None, trusted=False, progress=None):
    """Copy runs from a SOURCE into a database (see :func:`copy_runs`).

    Parameters
    ----------
    source : str
        An SQLite file, a ``postgresql://`` URL, a pickled log or a
        checkpoint of Blocks.
    destination : str
        An SQLite file (made if missing) or a ``postgresql://`` URL.
    runs : list of str, optional
        Uuids or unique prefixes of the runs to copy (with their
        ancestors); all runs by default.
    trusted : bool, optional
        Unpickle a pickled SOURCE as :func:`pickle.load` would.
    progress : callable, optional
        See :func:`copy_runs`.

    Returns
    -------
    list of (str, str)
        As :func:`copy_runs`.

    Raises
    ------
    blocks_log.errors.LogError
        If a database cannot be opened, read or written, a run is unknown,
        or source and destination are the same.

    """
    from blocks_log.sources import Source, is_postgresql
    if source == destination or _same_file(source, destination):
        raise LogDatabaseError('{}: copying a database into itself'.format(
            source))
    opened = Source(source, trusted)
    try:
        uuids = None if not runs else [opened.find(run) for run in runs]
        sources = opened.stores() or [LogStore(opened.open(), source)]
        if is_postgresql(destination):
            from blocks_log.stores.postgresql import PostgreSQLStore
            target = PostgreSQLStore(destination)
        else:
            from blocks_log.stores.sqlite import SQLiteStore
            target = SQLiteStore(destination)
    except BaseException:
        opened.close()
        raise
    try:
        return copy_runs(sources, target, uuids, progress)
    finally:
        target.close()
        opened.close()


def _same_file(path, other):
    import os
    try:
        return os.path.samefile(path, other)
    except (OSError, ValueError):
        return False
