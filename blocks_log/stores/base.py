"""The interface of a store, and the run records every store returns.

A run is named by its hex uuid everywhere above the stores; a store may
keep its own reference for it (an integer id), given back in
:class:`RunInfo`. Reads take the runs of a lineage, nearest first, and
merge them: where several hold the same (time, key), the nearest wins.
Deleted values come back as :data:`blocks_log.codec.DELETED`, so that a
lineage read across stores hides what they hide; the log drops them.

"""
import abc
import bisect
import collections

from blocks_log import codec, flat_json, series


#: What a store knows of a run. ``ref`` is the store's own reference,
#: passed back to its methods; ``parent`` the hex uuid it was resumed from;
#: ``created`` seconds since the epoch (or ``None``); ``writer`` the claim
#: of the handle writing it, or ``None``; ``summary`` what its last writer
#: saved of it when done (see :meth:`Store.summarize`), or ``None``.
RunInfo = collections.namedtuple(
    'RunInfo', ['ref', 'uuid', 'parent', 'created', 'writer', 'summary'],
    defaults=(None,))


#: Names the run started last, wherever a run is named (no uuid prefix
#: can be mistaken for it: it is not hex).
LAST = 'last'
_HEX = frozenset('0123456789abcdef')


def entries_of(items):
    """``(time, key, stored)`` of each value of `items`, a flat list of
    them one after the other (``[time, key, stored, time, ...]``, as a
    session buffers them and :meth:`Store.write` takes them), in order, as
    an iterator."""
    return zip(items[0::3], items[1::3], items[2::3])


def name_text(name):
    """The text of `name`, a run's name: a :class:`uuid.UUID`'s hex
    digits, or a str itself.

    Raises
    ------
    TypeError
        If `name` is neither (bytes, say: its ``hex`` is a method).
    """
    digits = getattr(name, 'hex', None)
    if isinstance(digits, str):
        return digits
    if isinstance(name, str):
        return name
    raise TypeError('a run is named by a uuid.UUID or a str (its uuid, a '
                    'unique prefix of it, or "last"), not {!r} ({})'.format(
                        name, type(name).__name__))


def resolve_run(name, uuids, where):
    """The hex uuid of the run that `name` names among `uuids` (hex uuids,
    oldest first): the one place where a run's name is read.

    Parameters
    ----------
    name : uuid.UUID or str
        A uuid (with or without dashes, any case), a unique prefix of its
        hex form, or ``'last'``, the run started last.
    uuids : list of str
    where : str
        The source, named in messages.

    Raises
    ------
    TypeError
        If `name` is neither a uuid nor a str (see :func:`name_text`).
    blocks_log.errors.UnknownRunError
        If no run matches (or `name` is neither a uuid nor hex).
    blocks_log.errors.AmbiguousRunError
        If several runs match; the message lists them.
    """
    from blocks_log.errors import AmbiguousRunError, UnknownRunError
    prefix = name_text(name).strip().lower().replace('-', '')
    if prefix == LAST:
        if not uuids:
            raise UnknownRunError('{}: holds no run, so no last one'.format(
                where))
        return uuids[-1]
    if not prefix or not set(prefix) <= _HEX:
        raise UnknownRunError('{}: no run {!r}: a run is named by its uuid, '
                              'a prefix of it, or "last"'.format(where, name))
    matches = sorted(set(uuid for uuid in uuids if uuid.startswith(prefix)))
    if not matches:
        raise UnknownRunError('{}: no run with uuid {}{}'.format(
            where, prefix, '' if len(prefix) == 32 else '...'))
    if len(matches) > 1:
        raise AmbiguousRunError('{}: {!r} names {} runs: {}'.format(
            where, prefix, len(matches), ', '.join(matches)))
    return matches[0]


def summary_text(summary):
    """The JSON a store keeps of a summary (``None`` stays ``None``)."""
    if summary is None:
        return None
    return flat_json.dumps(summary)


def summary_of(run):
    """The summary `run` (a :class:`RunInfo`) holds, as a dict, or
    ``None`` when it has none (or one this version cannot read)."""
    if not run.summary:
        return None
    import json  # not at start-up: closing a log writes one, never reads
    try:
        summary = json.loads(run.summary)
    except ValueError:
        return None
    if isinstance(summary, dict) and set(summary) == _SUMMARY_FIELDS:
        return summary
    return None


#: What a summary holds.
SUMMARY_FIELDS = ('iterations', 'epochs', 'rows', 'keys', 'last_time')
_SUMMARY_FIELDS = frozenset(SUMMARY_FIELDS)


class StalePieces(Exception):
    """Raised by :meth:`Store.write`, having written nothing, when a piece
    of a status list does not go on from what the store holds of the list:
    another process wrote it since (a forked parent or child). The list is
    then to be written whole."""


class Store(metaclass=abc.ABCMeta):
    """A place that holds runs.

    Attributes
    ----------
    name : str
        What to call it in messages (a path, a host and database).
    read_only : bool
        Whether it was opened read-only: then it never writes, creates nor
        changes anything.
    writable_runs : bool
        Whether runs can be written here at all (Blocks' tables cannot).
    appends_status : bool
        Whether :meth:`write` takes pieces of status lists (a list that
        grows is then written by what it adds).
    allow_pickle : bool
        Whether reads unpickle pickled values.
    max_time : int
        Times must be below this (a store may keep the status above).
    max_value_size : int or None
        The most bytes one stored text or BLOB may take here (``None``: no
        bound but memory's).
    timed_commit_values : int or None
        Buffered values after which a log that commits with time alone
        commits at the end of an iteration, where a commit costs the
        training thread in proportion to its size (``None``: only past the
        buffer's own bound, where a commit's cost is its round trips).

    """
    name = None
    read_only = True
    writable_runs = False
    appends_status = False
    allow_pickle = False
    #: Times must be below this.
    max_time = 2 ** 63 - 1
    max_value_size = None
    timed_commit_values = None

    # Runs.

    @abc.abstractmethod
    def find_run(self, uuid):
        """The :class:`RunInfo` of the run with hex `uuid`, or ``None``."""

    @abc.abstractmethod
    def runs(self):
        """Every run, as :class:`RunInfo`, oldest first."""

    def create_run(self, uuid, parent, status, claim, created=None):
        """Start a run: create the schema if needed, record the run with its
        parent and status (``{key: stored value}``), claimed by `claim`
        (``None``: by nobody), made at `created` (seconds since the epoch;
        now by default).

        Returns
        -------
        RunInfo

        Raises
        ------
        blocks_log.errors.LogWriteError
        """
        raise NotImplementedError('{} holds no new runs'.format(self.name))

    def claim_run(self, run, claim, is_stale):
        """Make `claim` the writer of `run` (a :class:`RunInfo`).

        `is_stale(writer)` tells whether a recorded writer is gone.

        Raises
        ------
        blocks_log.errors.RunInUseError
            If a writer that is not stale holds the run.
        """
        raise NotImplementedError

    def is_written(self, run):
        """Whether a writer that is still there holds `run` (a
        :class:`RunInfo`): what a reader following it waits for."""
        return False

    def written(self, runs):
        """The refs of those of `runs` that a writer still there holds (a
        claim left by a killed writer does not count)."""
        return set(run.ref for run in runs if self.is_written(run))

    def release_run(self, run, claim, summary=None):
        """Drop `claim` from `run`, if it still holds it, and keep its
        `summary` (see :meth:`summarize`) until a writer takes it again."""

    def set_parent(self, run, parent):
        """Make `parent` (a hex uuid, or ``None``) the run that `run` (a
        :class:`RunInfo`) was resumed from, and so reads through to: what
        a copy does, to hold a run as its source does.

        Returns
        -------
        RunInfo
            `run`, as it is now.

        Raises
        ------
        blocks_log.errors.LogWriteError
        """
        raise NotImplementedError('{} changes no run'.format(self.name))

    def summarize(self, run):
        """What a list of runs shows of `run` (a :class:`RunInfo`): a dict
        of its ``iterations`` and ``epochs`` (of its status), ``rows`` (the
        times that hold a value), ``keys`` and ``last_time``. Reads the
        run's times, unless this handle counted them (see :meth:`counted`):
        a writer saves it as it lets the run go, so that a list of finished
        runs needs not."""
        status = self.read_status(run)
        counted = self.counted(run)
        if counted is None:
            times = self.read_times([run], 0, self.max_time)
            counted = (len(times), list(self.read_keys(run)),
                       times[-1] if times else None)
        rows, keys, last_time = counted
        return {'iterations': status.get('iterations_done'),
                'epochs': status.get('epochs_done'), 'rows': rows,
                'keys': keys, 'last_time': last_time}

    def counted(self, run):
        """``(rows, keys, last time)`` of `run` (as :meth:`summarize` gives
        them) as this handle counted them while it wrote all of the run, or
        ``None``: read them. A store that counts nothing returns ``None``."""
        return None

    # Writing.

    def write(self, run, items, status, deleted_status, deletions=False,
              stamp=True, pieces=None):
        """Commit in one transaction: the values of `items` (flat, ``[time,
        key, stored, time, ...]``, see :func:`entries_of`; the later
        winning), the `status` values (``{key: stored}``), the `pieces` of
        status lists (see below) and the status keys `deleted_status`;
        `deletions` if `items` hold a deleted value
        (:data:`blocks_log.codec.DELETED`), which reads of the run must
        then look for. The times of `items` get a wall clock
        (see :mod:`blocks_log.stores.clock`) where they have none yet, as
        `stamp` says (:func:`~blocks_log.stores.clock.wall_of_commit`):
        ``True``, the commit's; ``(time, wall)``, `wall` if no entry is
        later than `time` (when a training loop's ``iterations_done``
        reached it), else the commit's; false, none (a copy, which writes
        the clock it copies with :meth:`write_clock`).

        Where :attr:`appends_status`, the status list `key` may be stored
        as its value followed by the items of its pieces, in order: a list
        that grows is then written by what it adds. `pieces` holds ``{key:
        (token, index, stored)}``: index 0 begins the pieces of `key`,
        whose value `status` holds (written whole), under `token` (an int);
        a piece of index 1 and up (`stored`, a stored list of its items)
        replaces those of `key` from `index` on, if the pieces there are
        still those begun under `token`. A value written whole or deleted
        drops its pieces. ``iterations_done`` has none.

        Raises
        ------
        blocks_log.errors.LogWriteError
            If nothing could be committed; nothing of it is then stored.
        StalePieces
            If a piece does not go on from the pieces begun under its
            token; nothing is then stored.
        """
        raise NotImplementedError

    def write_iteration(self, run, items, key, stored, stamp):
        """Commit what ``write(run, items, {key: stored}, (), False,
        stamp)`` commits, in fewer steps where this store has them: a
        training loop's iteration (`items` at one time, as a rule all
        floats, and ``iterations_done``). Returns true once committed; a
        false value if nothing was written, and :meth:`write` is the way
        (what a store's shorter way does not cover). This one is
        :meth:`write`.

        Raises
        ------
        blocks_log.errors.LogWriteError
            If it cannot be committed; nothing of it is then stored.
        """
        self.write(run, items, {key: stored}, (), False, stamp)
        return True

    def write_clock(self, run, times, walls):
        """Write the clock of `run`: `walls` (seconds since the epoch) of
        `times` (increasing), in place of what it held of them; what a
        copy of a run does. A store that keeps no clock does nothing.

        Raises
        ------
        blocks_log.errors.LogWriteError
        """

    def compact(self, run):
        """Pack now every block of `run` that its writes have moved past
        (see :mod:`blocks_log.stores.chunks`); a store that packs nothing
        does nothing."""

    # Reading: `runs` is a list of RunInfo, nearest first.

    @abc.abstractmethod
    def read_status(self, run, key=None):
        """The status of `run`, as ``{key: value}`` (only `key`, if
        given)."""

    @abc.abstractmethod
    def read_row(self, runs, time, key=None):
        """The merged row at `time` as ``{key: value}`` (only `key`, if
        given)."""

    @abc.abstractmethod
    def read_times(self, runs, start, stop):
        """The times in ``[start, stop)`` that hold a value, increasing."""

    @abc.abstractmethod
    def read_series(self, runs, keys, start, stop):
        """The merged values in ``[start, stop)`` of `keys` (all if
        ``None``), as ``{key: (times, values)}`` in increasing time (see
        :mod:`blocks_log.series`)."""

    def _without_deleted(self, runs, times, marked):
        """`times` (an increasing list) without those of `marked` (times
        holding a deleted value) whose every value is deleted, here or in a
        nearer run: they hold nothing."""
        empty = set()
        for time in sorted(marked):
            at = bisect.bisect_left(times, time)
            if at < len(times) and times[at] == time and not any(
                    value is not codec.DELETED for value in
                    self.read_row(runs, time).values()):
                empty.add(time)
        return [time for time in times if time not in empty] if empty else (
            times)

    def read_clock(self, runs, start, stop):
        """The clock of `runs` (nearest first) over ``[start, stop)``: a
        series (see :mod:`blocks_log.series`) of the wall clock (seconds
        since the epoch) at which each time was first committed, the
        nearest run winning; empty where the store keeps none (see
        :mod:`blocks_log.stores.clock`)."""
        return series.empty()

    def read_first(self, run):
        """The first time at which `run` itself (not its lineage) holds a
        value, or ``None``: where a resumed run began. Cheap where a store
        can tell it from an index."""
        times = self.read_times([run], 0, self.max_time)
        return times[0] if times else None

    def read_end(self, runs, start, stop):
        """A time past the last time of ``[start, stop)`` at which `runs`
        hold a value (a deleted one, or a time of a chunk that holds its
        first number before `stop`, may make it later), or ``None`` if they
        hold none there. Cheap: reads no value."""
        times = self.read_times(runs, start, stop)
        return times[-1] + 1 if times else None

    def read_keys(self, run):
        """The keys `run` holds a value of (its own), sorted."""
        return sorted(self.read_series([run], None, 0, self.max_time))

    def data_version(self):
        """A token that changes whenever another connection commits, or
        ``None`` if the store cannot tell cheaply."""
        return None

    def close(self):
        """Close the connection; safe twice."""

    def before_exit(self):
        """The log is closed by the garbage collector or at exit: give up
        soon on a server that is gone, rather than hold the process."""

    def before_fork(self):
        """A ``fork`` is next: drop the connection (the next use reopens)
        and hold off any work of other threads until :meth:`after_fork`."""

    def after_fork(self, child):
        """The ``fork`` is done: this is the `child`'s copy, or the
        parent's."""

    def hold_threads(self):
        """A ``fork`` that interrupted work on the store (see
        :meth:`forked_half_way`) is next: the connection stays as it is,
        but keep the store's own threads, if any, out of the database's
        library until :meth:`after_fork` (a child inherits its locks as
        they stand)."""

    def forked_half_way(self):
        """This is a forked child's copy, made half-way through the
        parent's work on the store (see
        :meth:`~blocks_log.database.session.Session.forked_half_way`): its
        connection is the parent's, and left alone."""
