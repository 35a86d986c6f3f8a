"""Copying runs between stores: SQLite to PostgreSQL and back, Blocks'
databases and pickled logs (and checkpoints) into either.

A run is copied whole: its uuid, its parent, its status, every value,
typed as it was (values the copy cannot decode, such as pickles read
without the opt-in, are copied as they are stored), and when each time
was logged (its clock). Runs are copied parents first, so that the
lineage holds in the copy. A run the destination holds already is
compared with the source, value by value, and what differs is written:
copying again changes nothing if nothing changed, and otherwise brings
the copy up to date, whatever changed (an interrupted copy, more
iterations of a run then being written, or a write, or a deletion, into
a row before where the last copy got). It reads through to the parent
its source's does, and what the copy alone holds gives way to what the
run reads there through its ancestors (or to a deleted mark): the run
reads as its source, whatever the copy held before (a value written into
it, or a copy of a pickled log, which holds its parent's rows as its own
and reads through to none; see :class:`LogStore`).

"""
import struct
import sys

from blocks_log import codec, placeholders, series
from blocks_log.database.reads import lineage_groups
from blocks_log.errors import LogDatabaseError, UnknownRunError
from blocks_log.stores.base import RunInfo, Store

#: Values per commit of a copy, and about as many read at a time; and the
#: times its first read spans.
BATCH = 50000
FIRST_SPAN = 64
# In the status of a copy of a run then being written: the iterations it
# had done.
_COPYING = '_blocks_log_copying'
_DOUBLE = struct.Struct('<d')
_MISSING = object()


class LogStore(Store):
    """A log held in memory (a pickled log, a checkpoint's), as a store of
    its one run, read-only.

    The run has no parent here, whatever its ``status['resumed_from']``
    says (which its copy keeps): the log holds every row it reads, its
    ancestors' as they were when it resumed, and its copy reads those
    alone. Had its copy fallen through to a copy of its parent, it would
    read what the log deleted from the parent's rows, and what the parent
    logged after the log resumed from it (a ``TrainingLog`` keeps its
    uuid when pickled: a later checkpoint of the parent holds more of
    it).
    """

    def __init__(self, log, name):
        self.log, self.name = log, name
        self.run = RunInfo(None, log.h_uuid, None, None, None)

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
        `done` of the `total` times it spans copied, or compared.

    Returns
    -------
    list of (str, str)
        For each run: its uuid and ``'copied'``, ``'finished'`` (an
        interrupted copy, or one of a run then being written),
        ``'updated'`` (the run changed since it was copied, or its copy
        did, or was made from a source where the run read through to
        another parent), ``'present'`` (the copy holds the run as it is:
        nothing was written) or
        ``'copied so far'`` (the run is being written: a later copy
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
        # Whether a writer holds it, asked before its status is read: the
        # times below the iterations done that status says are whole.
        live = store.is_written(run)
        values = store.read_status(run)
        status = dict((key, _stored(value)) for key, value in
                      values.items())
        copied = destination.find_run(uuid)
        stale = set()  # status keys of the copy that the run has not
        if copied is None:
            copied = destination.create_run(
                uuid, run.parent, dict(status, **{
                    _COPYING: codec.encode(0)}), None, created=run.created)
            state = 'copied'
        else:
            held = destination.read_status(copied)
            state = 'finished' if _COPYING in held else 'present'
            held.pop(_COPYING, None)
            stale = set(held) - set(values)
            if stale or not all(key in held and _same(value, held[key])
                                for key, value in values.items()):
                state = 'updated' if state == 'present' else state
            if copied.parent != run.parent:
                # Copied from a source where it read through to another
                # run (a pickled log's, read through to none; see
                # LogStore): it reads as this source's now.
                copied = destination.set_parent(copied, run.parent)
                state = 'updated' if state == 'present' else state
        groups = lineage_groups(store, run, lambda parent: found.get(
            parent, (None, None)))
        ancestors = [(group_store, runs) for group_store, runs in (
            [(store, groups[0][1][1:])] + groups[1:]) if runs]
        if _copy_values(store, run, destination, copied, ancestors,
                        progress):
            state = 'updated' if state == 'present' else state
        if live:
            done = values.get('iterations_done')
            destination.write(copied, [], dict(status, **{
                _COPYING: codec.encode(done if type(done) is int else 0)}),
                stale)
            state = 'copied so far'
        if state != 'present':
            # The clock as well: an interrupted copy may have written none.
            destination.write_clock(copied, *store.read_clock(
                [run], 0, store.max_time))
            if not live:
                destination.write(copied, [], status, stale | {_COPYING})
            destination.compact(copied)
            destination.release_run(copied, None)
        results.append((uuid, state))
    return results


def _parents_first(found, uuids):
    wanted = list(found) if uuids is None else list(uuids)
    for uuid in wanted:
        if uuid not in found:
            raise UnknownRunError('no run with uuid {} to copy'.format(uuid))
    order, seen = [], set()
    for uuid in wanted:
        # Up the lineage to a run already placed, in a loop: a lineage of
        # a checkpoint every epoch is past Python's recursion limit.
        chain = []
        while uuid not in seen and uuid in found:
            seen.add(uuid)
            chain.append(uuid)
            uuid = found[uuid][1].parent
        order.extend(reversed(chain))
    return order


def _copy_values(store, run, destination, copied, ancestors, progress):
    # The values of `run` (its own, and the marks of those deleted) that
    # `copied` does not hold as they are, written into it (stamped with no
    # clock: a time was committed when the run wrote it, not when it was
    # copied); whether any was. Read from both a window of times at a time
    # (see series.windows), each sized by what both sides held in the one
    # before: whole, a run of 1,000,000 iterations of 10 values took
    # 1.5 GB; sized by the run's alone, a window of a run with few values
    # of its own read all that a copy held of its parent's rows (a
    # pickled log's). `ancestors`: the run's, as (store, runs) pairs,
    # nearest first (see _Inherited).
    end = max(store.read_end([run], 0, store.max_time) or 0,
              destination.read_end([copied], 0, destination.max_time) or 0)

    def read(low, high):
        # {(whether the run's, key): series}
        columns = dict(((True, key), column) for key, column in
                       store.read_series([run], None, low, high).items())
        for key, column in destination.read_series(
                [copied], None, low, high).items():
            columns[False, key] = column
        return columns

    def holds(low, high):
        return store.read_end([run], low, high) is not None or (
            destination.read_end([copied], low, high) is not None)
    items = []  # flat, as Store.write takes them
    # What the run's windows whose values `items` holds weigh (see
    # series.weight): arrays are written a few MB at a time, not BATCH.
    weighed = 0
    low, deletions, changed = 0, False, False
    for stop, columns in series.windows(
            read, holds, 0, end, 2 * BATCH,
            # A log in memory, whole: each read of it sorts its every time.
            end if isinstance(store, LogStore) else FIRST_SPAN):
        mine, held = {}, {}
        for (ours, key), column in columns.items():
            (mine if ours else held)[key] = column
        for time, key, value in sorted(_differences(
                mine, held, _Inherited(ancestors, low, stop))):
            items.extend((time, key, _stored(value)))
            deletions = deletions or value is codec.DELETED
        weighed += series.weight(mine)
        if len(items) >= 3 * BATCH or (items and weighed >= BATCH):
            destination.write(copied, items, {}, set(), deletions,
                              stamp=False)
            items, changed, weighed = [], True, 0
        if progress and stop < end:
            progress(run.uuid, stop, end)
        low = stop
    if items:
        destination.write(copied, items, {}, set(), deletions, stamp=False)
        changed = True
    if progress and end:
        progress(run.uuid, end, end)
    return changed


def _differences(mine, held, inherited):
    # (time, key, value) of `mine` (key -> series: a run's) where `held`
    # (a copy's) holds none, or another; and where `held` holds what
    # `mine` does not, what the run reads there through its ancestors
    # (`inherited`, see _Inherited), or a deleted mark if it reads
    # nothing: a value written into the copy, or the rows of a parent
    # that a pickled log's copy held as its own.
    for key in set(mine) | set(held):
        ours = mine.get(key) or series.empty()
        theirs = held.get(key) or series.empty()
        if _identical(ours, theirs):
            continue
        theirs = dict(zip(*theirs))
        for time, value in zip(*ours):
            other = theirs.pop(time, _MISSING)
            if other is _MISSING or not _same(value, other):
                yield time, key, value
        if theirs:
            through = inherited(key)
        for time, other in theirs.items():
            value = through.get(time, codec.DELETED)
            if not _same(value, other):
                yield time, key, value


class _Inherited(object):
    """What a run reads through its ancestors, a key at a time, over
    ``[start, stop)``: called with a key, ``{time: value}`` (a deleted
    mark where the nearest of them deleted it). `ancestors`: ``(store,
    runs)`` pairs, nearest first. Read only when asked: as a rule a copy
    holds nothing that its run does not."""

    def __init__(self, ancestors, start, stop):
        self.ancestors, self.start, self.stop = ancestors, start, stop

    def __call__(self, key):
        # Merged as a log merges its lineage's stores: farthest first.
        column = series.empty()
        for store, runs in reversed(self.ancestors):
            column = series.merge(column, store.read_series(
                runs, [key], self.start, self.stop).get(key) or (
                    series.empty()))
        return dict(zip(*column))


def _identical(column, other):
    # Whether two series hold the same values at the same times: arrays
    # compared by their bytes, at once.
    (times, values), (other_times, other_values) = column, other
    if len(times) != len(other_times):
        return False
    if type(times) is not type(other_times):
        times, other_times = list(times), list(other_times)
    if times != other_times:
        return False
    if type(values) is type(other_values) is not list and (
            values.typecode == other_values.typecode):
        return values.tobytes() == other_values.tobytes()
    return all(map(_same, values, other_values))


def _same(value, other):
    # Whether a copy holding `other` holds `value`: stored alike (a numpy
    # float as a float; True not as 1), a float of the same bits (NaN is
    # NaN, -0.0 is not 0.0).
    if value is codec.DELETED or other is codec.DELETED:
        return value is other
    value, other = _stored(value), _stored(other)
    if type(value) is not type(other):
        return False
    if type(value) is float:
        return _DOUBLE.pack(value) == _DOUBLE.pack(other)
    return value == other


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
