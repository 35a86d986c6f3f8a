"""The database log: one buffered training log over any store."""
import numbers
import operator
import weakref

try:
    from collections.abc import Mapping
except ImportError:  # pragma: no cover (Python 2)
    from collections import Mapping

from blocks_log.database.log_reads import LogReads
from blocks_log.database.session import Session
from blocks_log.database.views import DatabaseRow, DatabaseStatus
from blocks_log.base import TrainingLogBase, default_status


def check_options(read_only, commit_every, commit_seconds=None):
    """Check the options every database log takes.

    Raises
    ------
    TypeError
        If `read_only` is not a bool, `commit_every` not an int (numpy's
        too) or ``None``, or `commit_seconds` not a number or ``None``.
    ValueError
        If `commit_every` is below 1, or `commit_seconds` not a finite
        number above 0.

    """
    if not isinstance(read_only, bool):
        raise TypeError('read_only must be True or False, got {!r}'.format(
            read_only))
    if commit_every is not None:  # None: as commit_seconds says (Session)
        if isinstance(commit_every, bool) or not isinstance(
                commit_every, numbers.Integral):
            raise TypeError('commit_every must be a whole number of '
                            'iterations or None, got {!r}'.format(
                                commit_every))
        if commit_every < 1:
            raise ValueError('commit_every must be at least 1, got '
                             '{!r}'.format(commit_every))
    if commit_seconds is not None:
        if isinstance(commit_seconds, bool) or not isinstance(
                commit_seconds, numbers.Real):
            raise TypeError('commit_seconds must be a number of seconds or '
                            'None, got {!r}'.format(commit_seconds))
        if not 0 < commit_seconds < float('inf'):
            raise ValueError('commit_seconds must be above 0 (and finite), '
                             'got {!r}'.format(commit_seconds))


class CurrentRow(object):
    """``DatabaseLog.current_row``: the row of ``status['iterations_done']``.

    A non-data descriptor. A writable session keeps the row of now in the
    log's own attributes as well (see
    :meth:`~blocks_log.database.session.Session.now`), where
    ``log.current_row``, once per logged value in a training loop, finds it
    without running Python code: a property cost 52 ns an access, and ten
    a training iteration were 3% of its instructions (callgrind). The
    session drops it whenever ``iterations_done`` changes, so that the row
    of a time before is never found there. The log refuses to have it set
    or deleted, as it would a property's.

    """
    def __get__(self, log, owner=None):
        if log is None:
            return self
        return log._session.row_of_now


class DatabaseLog(LogReads, TrainingLogBase, Mapping):
    """A training log kept in a database, through a store.

    A mapping of time -> row over this run and the runs it was resumed from:
    iteration yields the times that hold data, in increasing order, and the
    nearest run wins where several hold the same (time, key). Writes are
    buffered and committed together when ``status['iterations_done']``
    changes (every `commit_every` changes), on :meth:`flush`,
    :meth:`close`, leaving a ``with`` block, pickling, before ``fork``, at
    interpreter exit, when the log is garbage-collected, and when
    :data:`~blocks_log.database.session.MAX_PENDING` values wait, or
    :data:`~blocks_log.database.session.MAX_PENDING_BYTES` of arrays and
    texts. Reads see buffered writes.

    One handle writes a run: a second writable open of it is refused
    (:class:`~blocks_log.errors.RunInUseError`) until the first is closed,
    collected, or its process ended. After ``os.fork()``, parent and child
    each commit what they write, into the same run, through their own
    connections.

    Threads may write into an open log at once, and one may flush while
    others write. Closing it while another thread still writes is a race:
    a value written at that moment may be lost.

    A signal's handler may use the log too, wherever it comes in the
    main thread (see :mod:`~blocks_log.database.work`): its writes go in
    at once, and ``flush()``, ``resume()``, pickling and ``close()`` in a
    handler that came half-way through a commit (or a read) are made as
    that ends; so are those of another log, if it came half-way through
    this one's commit (made there, in the same SQLite file, they waited
    for it: 600 s of retries). A read of what is no longer buffered,
    there, raises :class:`~blocks_log.errors.ReentrantReadError` (a
    ``RuntimeError``): every read of the log may, from such a handler. A
    ``fork`` there leaves the interrupted work to the parent, which goes
    on with it: in the child, the log is closed (a write raises
    :class:`~blocks_log.errors.ClosedLogError`), and the child must end
    without returning into that work (``os._exit()``, as a child of
    :mod:`multiprocessing` does). Nor may the child write a SQLite file
    whose write lock the parent held (its transaction, its checkpoints'
    thread's): a log of its own there raises
    :class:`~blocks_log.errors.LogWriteError` at its first write.

    Subclasses (:class:`~blocks_log.sqlite.SQLiteLog`) make the stores and
    say how to open them again (:meth:`_reopen_arguments`).

    Parameters
    ----------
    store : blocks_log.stores.base.Store
    blocks_store : blocks_log.stores.base.Store, optional
        Blocks' runs beside `store`, read-only.
    uuid : :class:`uuid.UUID` or str, optional
        Open this existing run: its uuid, a unique prefix of its hex form,
        or ``'last'`` (the run started last). Without it a new run is
        started.
    read_only : bool, optional
        Never write (needs `uuid`); see each committed iteration of a run
        another process writes.
    commit_every : int, optional
        Commit when the iteration advances this many times. By default
        each time, or, with `commit_seconds`, never for a count: commits
        then come with time (and past
        :data:`~blocks_log.database.session.MAX_PENDING` values).
    commit_seconds : float, optional
        Commit at least this often: at the end of an iteration once this
        many seconds have passed since the last commit, and, from a thread
        of the log's, the iterations completed that long ago while the loop
        stalls. A crash then loses at most this many seconds of
        iterations. With `commit_every`, whichever comes first.
    shared : bool, optional
        The stores are their opener's (a
        :class:`~blocks_log.sources.Source`), who closes them: closing the
        log leaves them open.

    Raises
    ------
    TypeError
        If `uuid` is neither a :class:`uuid.UUID` nor a str.
    UnknownRunError
        If `uuid` names no run (a ``KeyError``).
    blocks_log.errors.AmbiguousRunError
        If `uuid` is a prefix of several runs' uuids.
    blocks_log.errors.RunInUseError
        If another handle writes that run.
    blocks_log.errors.LogWriteError
        If a new run cannot be written (an ``OSError``).

    """
    def __init__(self, store, blocks_store=None, *, uuid=None,
                 read_only=False, commit_every=None, commit_seconds=None,
                 shared=False):
        check_options(read_only, commit_every, commit_seconds)
        session = Session(store, blocks_store, self, read_only, commit_every,
                          shared, commit_seconds)
        try:
            if uuid is None:
                session.start(default_status())
            else:
                session.open(uuid)
        except BaseException:
            session.finalize()
            raise
        self._session = session
        self._status = DatabaseStatus(session)
        # Flushed and closed when collected (or at exit), never holding the
        # log alive: the session refers to it weakly.
        self._finalizer = weakref.finalize(self, session.collected)

    def _set_status(self, status):
        # log.status |= values, which Python ends with log.status = status.
        if status is not self._status:
            raise AttributeError(
                'the status of {} is changed key by key: '
                'log.status.update(values), not log.status = values'.format(
                    type(self).__name__))

    # The hot path of a training loop, ``log.current_row[key] = value``,
    # runs no Python code until the row is written: the status' getter is
    # C, and the row of now an attribute of the log (see CurrentRow).
    status = property(operator.attrgetter('_status'), _set_status, doc="""
        The status of this run (see :class:`TrainingLogBase`): a mutable
        mapping, written with the next commit; set only to itself
        (``log.status |= values``), else ``AttributeError``.""")
    current_row = CurrentRow()
    _reads_ranges = True  # see TrainingLogBase

    def __setattr__(self, name, value):
        # current_row is the session's to set (see CurrentRow).
        if name == 'current_row':
            raise AttributeError("can't set attribute 'current_row'")
        object.__setattr__(self, name, value)

    def __delattr__(self, name):
        if name == 'current_row':
            raise AttributeError("can't delete attribute 'current_row'")
        object.__delattr__(self, name)

    @property
    def uuid(self):
        """:class:`uuid.UUID`: the run this log writes (or reads)."""
        import uuid
        return uuid.UUID(self._session.run.uuid)

    @property
    def read_only(self):
        """bool: whether this log was opened read-only."""
        return self._session.read_only

    @property
    def being_written(self):
        """bool: whether a writer (this log, or another handle or process)
        holds this run now. Read afresh each time."""
        session = self._session
        session.check_open()
        return session.writable or session.run_store.is_written(session.run)

    @property
    def closed(self):
        """bool: whether :meth:`close` was called."""
        return self._session.closed

    def __getitem__(self, time):
        """The row at `time`: a view that reads the database and the
        buffer, and buffers writes.

        Raises
        ------
        ValueError
            If `time` is not a non-negative integer below the store's bound.
        ClosedLogError
            If the log is closed.

        """
        session = self._session
        time = session.check_time(time)
        session.check_open()
        return DatabaseRow(session, time, self)

    def __setitem__(self, time, row):
        """Take back the row of `time` itself: ``log[time] |= values``
        (which Python makes ``log[time] = log[time].__ior__(values)``, the
        row written, then set), as a log in memory takes it.

        Raises
        ------
        TypeError
            If `row` is anything else: a row is written key by key
            (``log[time].update(values)``), as in Blocks' SQLiteLog.
        ValueError
            If `time` is not a non-negative integer below the store's bound.
        """
        time = self._session.check_time(time)
        if not (isinstance(row, DatabaseRow) and row.time == time and
                row.log is self):
            raise TypeError(
                'a row of {} is written key by key: log[{}].update(values), '
                'not log[{}] = values'.format(type(self).__name__, time, time))

    def __iter__(self):
        return iter(self._session.read_times())

    def __len__(self):
        return len(self._session.read_times())

    def __contains__(self, time):
        try:
            time = self._session.check_time(time)
        except ValueError:
            return False
        return bool(self._session.read_row(time))

    def __repr__(self):
        return '<{} of {}{}>'.format(type(self).__name__, self._session,
                                     ' (closed)' if self.closed else '')

    # Writing.

    def flush(self):
        """Commit every buffered write in one transaction.

        Raises
        ------
        LogWriteError
            If the database cannot be written (read-only file, full disk).
            The buffered writes are kept, and a later ``flush()`` tries
            again.

        """
        self._session.flush()

    def resume(self):
        """Start a child run of this one, as :meth:`TrainingLogBase.resume`.

        The buffer is committed first; the new run reads through this one.
        A run of Blocks is resumed into blocks_log's own tables.

        Raises
        ------
        ReadOnlyLogError
            If the log was opened read-only.
        LogWriteError
            If the new run cannot be written.

        """
        self._session.resume()

    def close(self):
        """Commit the buffer and close the database; safe to call twice.

        Raises
        ------
        LogWriteError
            If the buffer cannot be committed; the log then stays open, so
            nothing is lost.

        """
        self._session.close()

    def __enter__(self):
        return self

    def __exit__(self, *exc_info):
        self.close()

    # Pickling: what opens the store again and the uuid, never a
    # connection.

    def _reopen_arguments(self):
        """The keyword arguments of ``type(self)(...)`` that open this
        log's store again (other than `uuid`, `read_only`, `commit_every`,
        `commit_seconds`):
        what a subclass says of itself.
        """
        raise NotImplementedError

    @property
    def in_memory(self):
        """bool: whether nothing of this log's database outlives its
        process (an SQLite ``':memory:'`` database): what a checkpoint
        keeps must then be its values."""
        return False

    def open_run(self, uuid, **options):
        """Open another run of this log's database, as this log was opened
        (the same class, database and options).

        Parameters
        ----------
        uuid : uuid.UUID or str
            The run: its uuid, a unique prefix of it, or ``'last'``.
        **options
            ``read_only``, ``commit_every``, ``commit_seconds``: as for the
            class.

        Raises
        ------
        UnknownRunError, blocks_log.errors.RunInUseError
            As the class does.
        """
        return type(self)(uuid=uuid, **dict(self._reopen_arguments(),
                                            **options))

    def __getstate__(self):
        session = self._session
        with session.lock:
            session.check_open()
            session.flush()
            state = self._reopen_arguments()
            state.update(uuid=session.run.uuid, read_only=session.read_only,
                         commit_every=session.commit_every)
            if session.commit_seconds is not None:
                state['commit_seconds'] = session.commit_seconds
            if self.in_memory:
                # Nothing outlives this process: the pickle carries the data.
                state['snapshot'] = (list(self.records()),
                                     dict(session.status_values()),
                                     tuple(map(list, self.clock())))
            if session.writable:
                # Freeze the checkpoint at this run; the live log goes on in
                # a child, so the two never write into the same run.
                session.resume()
            return state

    def __setstate__(self, state):
        state = dict(state)
        snapshot = state.pop('snapshot', None)
        from blocks_log.pickles import loading_restricted
        if loading_restricted():
            state['allow_pickle'] = False
            if snapshot is None:
                # The file that names this database may be hostile; a log
                # held in memory names none.
                state['read_only'] = True
        if snapshot is None:
            self.__init__(**state)
            return
        read_only = state.pop('read_only')
        uuid = state.pop('uuid')
        self.__init__(**state)
        self._session.load_snapshot(uuid, *snapshot)
        if read_only:
            self._session.make_read_only()
