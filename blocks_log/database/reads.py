"""Reads of a session, merged over its lineage and its buffer.

A run reads through the runs it was resumed from: where several hold a
(time, key), the nearest wins, and a value deleted in a nearer run hides
the others. The buffer, not committed yet, is nearest of all. The stores
merge their own runs; this merges the stores (blocks_log's runs over
Blocks') and the buffer, and drops what was deleted.

"""
from blocks_log import codec, series
from blocks_log.database.work import read
from blocks_log.stores.base import entries_of

_DELETED = codec.DELETED
_NOT_BUFFERED = object()


def lineage_groups(store, run, find):
    """The lineage of `run`, as ``(store, [runs])`` pairs, nearest first:
    consecutive runs of one store, which it reads in one go.

    `find(uuid)` gives the ``(store, run)`` of a parent, or ``(None,
    None)``; the lineage stops there (a run resumed from a log kept
    elsewhere) or where it would loop.

    """
    groups, seen = [(store, [run])], set([run.uuid])
    parent = run.parent
    while parent and parent not in seen:
        seen.add(parent)
        parent_store, parent_run = find(parent)
        if parent_run is None:
            break
        if parent_store is groups[-1][0]:
            groups[-1][1].append(parent_run)
        else:
            groups.append((parent_store, [parent_run]))
        parent = parent_run.parent
    return groups


def _decoded(items, time, key, allow_pickle):
    # (time, key, value) of the flat `items` (a copy of the buffer, or a
    # commit's), of `time` and `key` if given.
    return [(t, k, codec.decode(stored, allow_pickle))
            for t, k, stored in entries_of(items)
            if (time is None or t == time) and (key is None or k == key)]


def _latest(items, time, key, allow_pickle):
    # The value of (time, key) in the flat `items` last (DELETED if it was
    # deleted), or _NOT_BUFFERED: found from the end, in C.
    keys = items[-2::-3]
    if key not in keys:  # as a rule: no exception raised and caught
        return _NOT_BUFFERED
    times = items[-3::-3]
    start = 0
    while True:
        try:
            index = keys.index(key, start)
        except ValueError:
            return _NOT_BUFFERED
        if times[index] == time:
            return codec.decode(items[-1 - 3 * index], allow_pickle)
        start = index + 1


class MergedReads(object):
    """What :class:`~blocks_log.database.session.Session` reads with.

    Uses the session's ``lock``, ``groups`` (``(store, runs)`` of the
    lineage, nearest first), ``pending`` (the buffer, flat: see
    :func:`~blocks_log.stores.base.entries_of`), ``known_keys`` (each key
    it wrote is among them), ``deletions`` (whether the buffer holds a
    deleted value), ``writable``, ``allow_pickle``, ``max_time``,
    ``flushes`` (its count of commits) and ``last_commit`` (the items of
    the last), ``tail`` (a
    :class:`~blocks_log.database.stored_tail.StoredTail`) and
    ``check_open()``.

    """
    def stamp(self):
        """What changes whenever a read could give something new, or
        ``None`` if the store cannot tell cheaply."""
        # Without the lock. The buffer's length is read first, and a commit
        # counts itself before it cuts the buffer (see Commits._flush): a
        # stamp taken while the commit timer's thread commits is never
        # one taken before the commit, whatever the writes since.
        if self.tail.sole:  # nothing else writes the lineage
            return len(self.pending), self.flushes
        version = self.store.data_version()
        if version is None:
            return None
        return len(self.pending), self.flushes, version

    def _buffered(self, time=None, key=None):
        return _decoded(self.pending[:], time, key, self.allow_pickle)

    def _latest_buffered(self, time, key):
        return _latest(self.pending[:], time, key, self.allow_pickle)

    def _stored_items(self, time):
        """Flat items that hold all the store holds of the lineage at
        `time`, known without reading it (see :mod:`.stored_tail`); or
        ``None`` if the store is to be read."""
        tail = self.tail
        if not tail.sole:
            if not self.writable or tail.skipped():
                return None
            stamp = self.store.data_version()
            if stamp is None or not tail.still_holds(stamp, self.flushes):
                return None
        if tail.catch_up(self.flushes, self.last_commit):
            tail.looked(max(self._stored_ends(0, self.max_time) or [0]),
                        self.flushes)
        return tail.items_at(time)

    def read_row(self, time, key=None):
        """The values at `time` (only `key`, if given), as a dict."""
        with self.lock:
            self.check_open()
            # A key this session never wrote is in its buffer and its
            # commits only where it deleted it: found at once, with no
            # look at a buffer of many iterations (commit_every).
            written = key is None or key in self.known_keys
            if key is not None and (written or self.deletions):
                # Buffered, it is nearest of all: nothing stored is read
                # ("loss" in log.current_row, after a write, in a loop).
                # Read from a copy of the buffer, whole, even during work.
                value = self._latest_buffered(time, key)
                if value is not _NOT_BUFFERED:
                    return {} if value is _DELETED else {key: value}
            # A read (see .work), marked without a call: the hot one.
            if self.busy:
                self.refuse_read()
            self.reading += 1
            try:
                known = self._stored_items(time)
                if known is None:
                    values = {}
                    for store, runs in reversed(self.groups):
                        values.update(store.read_row(runs, time, key))
                elif key is not None:
                    value = _latest(known, time, key, self.allow_pickle) if (
                        written) else _NOT_BUFFERED
                    return {} if value is _NOT_BUFFERED or (
                        value is _DELETED) else {key: value}
                else:
                    values = dict((name, value) for _, name, value in _decoded(
                        known, time, None, self.allow_pickle))
                if key is None:
                    for _, name, value in self._buffered(time):
                        values[name] = value
            finally:
                self.reading -= 1
                if self.requested and not self.reading:
                    self.do_requested()
        return dict((name, value) for name, value in values.items()
                    if value is not _DELETED)

    def bounded(self, start, stop):
        """``(start, stop)`` of a read (`stop` ``None``: no bound) within
        the times a store holds: a bound past them, as big as Python's ints
        go, is no bound, where SQL would refuse the int."""
        bound = self.max_time
        return min(start, bound), bound if stop is None else min(stop, bound)

    def read_series(self, keys=None, start=0, stop=None):
        """``{key: (times, values)}`` over ``[start, stop)`` (see
        :mod:`blocks_log.series`), keys in the order of `keys`, else in the
        order of their first time, and of their names within a time: the
        same whatever the store, and however its values are packed."""
        start, stop = self.bounded(start, stop)
        # The buffer is laid over what was read once the lock is let go:
        # a pass over every value read, which a training thread waiting
        # for the lock need not wait for.
        columns, buffered = self._series_read(keys, start, stop)
        columns = series.overlay(columns, buffered)
        for name, column in columns.items():
            columns[name] = series.without(column, _DELETED)
        if keys is None:
            # Only the keys holding a value in the range, as in memory: a
            # store may find a key in a block it reads and none of its
            # values in the range, or each of them deleted.
            columns = dict(sorted(
                ((name, column) for name, column in columns.items()
                 if len(column[0])),
                key=lambda item: (item[1][0][0], item[0])))
        return columns

    @read
    def _series_read(self, keys, start, stop):
        # read_series()'s reads: what the stores hold (key -> series), and
        # the buffer's [(time, key, value)] in the range.
        self.check_open()
        if self.lent:  # what a row's value changed in place holds now
            self._store_lent()
        columns = {} if keys is None else dict(
            (key, series.empty()) for key in keys)
        for store, runs in reversed(self.groups):
            for name, column in store.read_series(
                    runs, keys, start, stop).items():
                columns[name] = series.merge(
                    columns.get(name, series.empty()), column)
        wanted = None if keys is None else set(keys)
        buffered = [(time, name, value)
                    for time, name, value in self._buffered()
                    if start <= time < stop and (
                        wanted is None or name in wanted)]
        return columns, buffered

    @read
    def read_clock(self, start=0, stop=None):
        """The wall clock of each committed time of the lineage in
        ``[start, stop)``, as a series (see
        :meth:`blocks_log.stores.base.Store.read_clock`): the nearest run
        winning, as for values. The buffer has none yet."""
        start, stop = self.bounded(start, stop)
        self.check_open()
        found = series.empty()
        for store, runs in reversed(self.groups):
            found = series.merge(found, store.read_clock(runs, start, stop))
        return found

    @read
    def restarts(self):
        """``[(uuid, time)]``: where each run of the lineage after its
        first began (the first time it holds a value of its own; ``None``
        if it holds none), oldest first."""
        self.check_open()
        chain = [(store, run) for store, runs in self.groups
                 for run in runs]
        found = [(run.uuid, store.read_first(run))
                 for store, run in chain[:-1]]
        # The run's own buffer, not committed yet, is its too.
        buffered = self.pending[0::3]
        if found and buffered:
            firsts = [time for time in [found[0][1]] + buffered
                      if time is not None]
            found[0] = (found[0][0], min(firsts))
        return found[::-1]

    @read
    def read_end(self, start, stop):
        """A time past the last of ``[start, stop)`` that holds a value
        (at most `stop`), found without reading values; ``None`` if
        nothing there may hold one."""
        self.check_open()
        ends = self._stored_ends(start, stop) + [
            time + 1 for time in self.pending[0::3] if start <= time < stop]
        return min(max(ends), stop) if ends else None

    def _stored_ends(self, start, stop):
        # What each store of the lineage says its read_end is (those that
        # say one), the buffer left out.
        ends = [store.read_end(runs, start, stop)
                for store, runs in self.groups]
        return [end for end in ends if end is not None]

    @read
    def read_times(self, start=0, stop=None):
        """The times that hold a value, increasing."""
        start, stop = self.bounded(start, stop)
        if len(self.groups) > 1:  # a run resumed from one of Blocks'
            return sorted(set(
                time for times, _ in self.read_series(
                    None, start, stop).values() for time in times))
        self.check_open()
        store, runs = self.groups[0]
        times = store.read_times(runs, start, stop)
        buffered = [(time, value) for time, _, value in self._buffered()
                    if start <= time < stop]
        if not buffered:
            return times
        times = set(times)
        times.update(time for time, _ in buffered)
        # A value deleted may leave its time with nothing.
        for time in set(time for time, value in buffered
                        if value is _DELETED):
            if not self.read_row(time):
                times.discard(time)
        return sorted(times)
