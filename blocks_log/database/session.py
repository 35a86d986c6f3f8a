"""A session: what a database log holds of its open run.

The buffer and its commit policy (the commits in :mod:`.commits`), the
status (what its commits store of it in :mod:`.status`), the claim on the
run (taken and let go in :mod:`.opening`), and reads merged over the
lineage and the buffer. It never holds
its log (only a weak reference), so that a log dropped without ``close()``
is garbage-collected and its session finished: flushed, released, closed.

"""
import operator
import sys
import threading
import time as _time
import warnings
import weakref

from blocks_log import codec
from blocks_log.database import lifecycle
from blocks_log.database.commit_timer import CommitTimer
from blocks_log.database.commits import Commits
from blocks_log.database.lent import LentValues
from blocks_log.database.opening import Refusing, RunOpening
from blocks_log.database.reads import MergedReads
from blocks_log.database.status import IMMUTABLE, StatusCommits
from blocks_log.database.stored_tail import StoredTail
from blocks_log.database.views import DatabaseRow, RowOfNow
from blocks_log.database.work import Work
from blocks_log.errors import ClosedLogError, LogError
from blocks_log.stores import writing
from blocks_log.base import check_time

#: Values buffered before a commit even within one iteration: bounds the
#: memory a long iteration can hold, the work a crash can lose, and the
#: time one commit takes (one of 10,000 floats, as with ``commit_seconds``
#: alone in a fast loop, took 4 to 6 ms of the training thread's CPU, the
#: slowest iteration of the run; one of 4,096, 2 ms; the same values/s,
#: ``benchmarks/bench_sqlite.py``).
MAX_PENDING = 4096
#: Bytes of values that are not numbers (arrays, texts) buffered before a
#: commit even within one iteration: a 1 MiB array an iteration, committed
#: every 60 s, held 2 GiB (and a commit of 100 such iterations wrote one
#: batch of 100 MiB, decoded whole by a read of any of its times).
MAX_PENDING_BYTES = 2 ** 24
#: ``commit_every`` of a log that commits with time alone (``commit_seconds``
#: without ``commit_every``): a count no loop reaches, and an int, so that
#: a pickle of the log opens again as it was.
NO_COUNT = sys.maxsize


class Session(RunOpening, MergedReads, StatusCommits, LentValues,
              Commits, Work):
    """The open run of a database log (see the module docstring).

    Parameters
    ----------
    store : blocks_log.stores.base.Store
        Where runs are written.
    blocks_store : blocks_log.stores.base.Store or None
        Runs of Blocks in the same file, read-only.
    log : DatabaseLog
        Referred to weakly, for ``row.log``.
    read_only : bool
    commit_every : int or None
        ``None``: each iteration, or, with `commit_seconds`, never for a
        count (:data:`NO_COUNT`).
    shared : bool, optional
        The stores are their opener's, who closes them.
    commit_seconds : float, optional
        Commit at least this often (see :mod:`.commit_timer`).

    """
    row_of_now = RowOfNow()

    def __init__(self, store, blocks_store, log, read_only, commit_every,
                 shared=False, commit_seconds=None):
        self.store, self.blocks_store = store, blocks_store
        self.log = weakref.ref(log)
        self.read_only = read_only
        if commit_every is None:
            commit_every = 1 if commit_seconds is None else NO_COUNT
        # Python's own numbers (numpy's too are taken): compared at every
        # iteration, and pickled with the log.
        self.commit_every = operator.index(commit_every)
        self.commit_seconds = None if commit_seconds is None else float(
            commit_seconds)
        # Buffer items (three a value) after which an iteration's end
        # commits, by time alone (see Store.timed_commit_values).
        timed = store.timed_commit_values
        self.timed_items = 3 * timed if timed and (
            commit_every == NO_COUNT and commit_seconds is not None) else (
                NO_COUNT)
        self.timer = None if commit_seconds is None else CommitTimer(
            self, self.commit_seconds)
        # When the last commit was (time.monotonic(); kept up to date only
        # with commit_seconds), and how much of the buffer the iterations
        # completed since then hold.
        self.committed_at = _time.monotonic()
        self.completed = 0
        # (iterations_done, time.time()) when it was last set: the wall
        # clock a commit of what was logged up to then is stamped with
        # (see Store.write); True (the commit's own) before.
        self.advanced = True
        self.shared = shared
        self.allow_pickle = store.allow_pickle
        self.max_time = store.max_time
        self.max_size = store.max_value_size
        self.max_pending = MAX_PENDING
        self.lock = threading.RLock()
        Work.__init__(self)
        self.known_keys = set()
        self.flushes = self.uncommitted = 0
        # Bytes of the values that buffer_sized() buffered, until their
        # commit (see MAX_PENDING_BYTES).
        self.pending_bytes = 0
        self.last_commit = []
        self.claim = None
        self.closed = self.writable = self.deletions = False
        self.refreshing = read_only
        self.pending = Refusing(ClosedLogError, 'the log is not open')
        # The run open, and what of it is held here (see _enter).
        self.run = self.run_store = None
        self.groups = []  # (store, [runs]) of its lineage, nearest first
        self.tail = StoredTail()  # what the store holds of it, known
        self.values = {}  # the status
        self.dirty = {}  # status values to commit: key -> stored
        self.deleted_status = set()
        self.mutable = {}  # key -> (stored, copy) of mutable status values
        # The lists among them that only a reference to them can change,
        # and whether one may have been (see StatusCommits).
        self.flat_lists, self.handed_out = set(), True
        # Status lists that grew: key -> the items they gained since the
        # last commit; and key -> (token, sizes) of those stored in pieces
        # by this session (see Store.appends_status).
        self.appended, self.pieces = {}, {}
        # (time, key) -> [value, stored, position] of the values rows lent
        # (see LentValues).
        self.lent = {}
        lifecycle.register(self)

    @property
    def max_pending(self):
        """int: values buffered before a commit even within one iteration
        (see :data:`MAX_PENDING`)."""
        return self.max_items // 3

    @max_pending.setter
    def max_pending(self, count):
        # The buffer holds three items a value (see _flush).
        self.max_items = 3 * count

    def __repr__(self):
        return 'run {} of {}'.format(self.run.uuid if self.run else '?',
                                     self.store.name)

    # Values and the status.

    def encode(self, value, key):
        """`value` as stored; refuses what the store cannot hold."""
        if type(key) is not str or key not in self.known_keys:
            self.admit_key(key)
        return codec.encode(value, key, self.allow_pickle, self.max_size)

    def buffer_sized(self, time, key, stored):
        """Buffer `stored`, a value stored as bytes or a str, at (`time`,
        `key`), and commit once :data:`MAX_PENDING_BYTES` of such values
        (or :data:`MAX_PENDING` values) wait.

        Raises
        ------
        LogWriteError
            If that commit fails; `stored` stays buffered.
        """
        # Without the lock, as every write: a commit by another thread
        # meanwhile may leave the count high, which only brings the next
        # commit sooner (each commit counts again what it leaves).
        pending = self.pending
        pending.extend((time, key, stored))
        self.pending_bytes += len(stored)
        if (len(pending) >= self.max_items or
                self.pending_bytes >= MAX_PENDING_BYTES):
            self.flush()

    def admit_key(self, key):
        """Check a key not written before (see :func:`codec.check_key`)."""
        codec.check_key(key)
        self.known_keys.add(key)

    def check_time(self, time):
        """`time` as an ``int``, or raise ``ValueError``."""
        if type(time) is not int or time < 0:
            time = check_time(time)
        if time >= self.max_time:
            raise ValueError('time must be below {} in this log, got '
                             '{!r}'.format(self.max_time, time))
        return time

    def check_open(self):
        if self.closed:
            raise ClosedLogError('the log of {} is closed'.format(self))

    def refuse_writes(self):
        """Raise the error that a write into this session gets."""
        self.check_open()
        self.pending.extend(())

    def status_values(self, key=None):
        """The status as a dict (holding `key` alone, if given and read):
        read afresh for a read-only log, so that it follows a run another
        process writes."""
        if self.refreshing:
            self.check_open()
            if key is not None:
                return self.run_store.read_status(self.run, key)
            self.values = self.run_store.read_status(self.run)
        return self.values

    def set_status(self, key, value):
        # `counted`: iterations_done set to a time, a training loop's, as a
        # rule; then stored as it is (max_time < 2**63), and, as _advance()
        # is told, a time.
        counted = key == 'iterations_done' and type(value) is int and (
            0 <= value < self.max_time)
        if counted:
            if self.commit_every == 1 and self._next_iteration(value):
                return
            stored = value
        else:
            if type(key) is not str or key not in self.known_keys:
                self.admit_key(key)
            if type(value) is list and key in self.mutable:
                with self.lock:
                    # status['_epoch_ends'] += [t], as Blocks' loop does
                    if self.writable and self._grew(key, value):
                        self.values[key] = value
                        return
            if type(value) in IMMUTABLE:
                stored = codec.encode(value, key, self.allow_pickle,
                                      self.max_size)
            else:
                stored, copy = self._encoded_with_copy(value, key)
        with self.lock:
            if not self.writable:
                self.refuse_writes()
            if counted:
                self.move_on(value)
            else:
                self.values[key] = value
            self.dirty[key] = stored
            if self.deleted_status:
                self.deleted_status.discard(key)
            if self.appended or self.pieces:
                self._written_whole(key)
            if type(value) in IMMUTABLE:
                if key in self.mutable:
                    del self.mutable[key]
            else:
                self._watch(key, stored, copy)
            if key == 'iterations_done':
                self._advance(value, counted)

    def delete_status(self, key):
        with self.lock:
            if not self.writable:
                self.refuse_writes()
            del self.values[key]
            self.dirty.pop(key, None)
            self.mutable.pop(key, None)
            self._written_whole(key)
            self.deleted_status.add(key)
            if key == 'iterations_done':
                self.forget_row_of_now()

    def now(self, row):
        """Make `row` the row of now: the session's ``row_of_now``, and
        the log's ``current_row`` (see :class:`.log.CurrentRow`). The log
        is reached through its weak reference: a session holding it, or
        its attributes, would keep a log in a reference cycle from ever
        being collected, and closed."""
        self.row_of_now = row
        log = self.log()
        if log is not None:
            log.__dict__['current_row'] = row

    def move_on(self, iterations_done):
        """Set ``status['iterations_done']`` to `iterations_done` (a time)
        with the row of now (see :meth:`now`), the row made first (the
        next ``current_row``, made now rather than on first use)."""
        row = DatabaseRow(self, iterations_done)
        log = self.log()
        rows = log.__dict__ if log is not None else {}
        # Stores alone from here, with no call between them: Ctrl-C's
        # KeyboardInterrupt, raised as a call returns or begins, never
        # finds the status moved on and current_row, where the loop's
        # next values go, still the row before (they would overwrite it).
        self.values['iterations_done'] = iterations_done
        self.row_of_now = row
        rows['current_row'] = row

    def forget_row_of_now(self):
        # The log's copy by its __dict__ (see now()); the session's own not
        # by self.__dict__.pop(): asking for the session's __dict__ makes
        # CPython 3.11 drop its fast attribute loads on it, and the hot path
        # loads several per value (4x the instructions, callgrind).
        log = self.log()
        if log is not None:
            log.__dict__.pop('current_row', None)
        try:
            del self.row_of_now
        except AttributeError:
            pass

    def delete_value(self, time, key):
        """Delete `key` at `time`, hiding it in the runs resumed from too.

        Raises
        ------
        KeyError
            If the row holds no `key`.
        """
        # With the lock, unlike a write: a commit by the timer's thread
        # between the deletion and its mark would clear the mark (see
        # Commits._flush), and a read of the key would miss the deletion.
        with self.lock:
            if key not in self.read_row(time, key):
                raise KeyError(key)
            self.pending.extend((time, key, codec.DELETED_STORED))
            self.deletions = True

    def before_fork(self):
        """Flush and drop the connection (the lock is held): True. False,
        doing neither, if the fork interrupted work or a read of this
        session, or work of another, in this thread (a signal's handler
        forked: see :mod:`~blocks_log.database.work`), in which a flush
        would be made, or for which it would wait: the parent goes on as
        it was, and commits what is buffered as that work ends; in the
        child, the log is closed (see :meth:`forked_half_way`)."""
        if self.busy or self.reading or (
                lifecycle.work_under_way_here(self) is not None):
            return False  # the child writes nothing: the tail stays as it is
        try:
            self._flush()
        except LogError:
            pass  # kept, and committed by parent or child later
        self.tail.fork()
        self.store.before_fork()
        return True

    def close(self):
        """Flush, release the run and close the store; safe twice.

        Raises
        ------
        blocks_log.errors.LogWriteError
            If the buffer cannot be committed; the session stays open.
        """
        with self.lock:
            self.exclusive('close', self._close)
        if self.closed:  # not asked for, as work under way ends
            self._join_timer()

    def _close(self):
        if not self.closed:
            self._flush()
            self._shut()

    def collected(self):
        """:meth:`finalize` the session of a log the garbage collector
        collected; by a thread of its own where the collector ran inside a
        write transaction of this thread (another log's), in a thread of
        the log's own (see :mod:`blocks_log.stores.writing`), or half-way
        through this session's own work (a row's write that commits, its
        log dropped) or another's, under that session's lock (see
        :func:`~blocks_log.database.lifecycle.holds_a_lock`): once that is
        over."""
        if writing.in_progress() or lifecycle.holds_a_lock():
            threading.Thread(target=self.finalize,
                             name='blocks_log close').start()
            return
        self.finalize()

    def finalize(self):
        """Close at garbage collection or exit, saying what is lost."""
        try:
            self.store.before_exit()
            self.close()
        except LogError as error:
            warnings.warn('{}: buffered values lost at exit ({})'.format(
                self, error), RuntimeWarning)
            self._shut()
            self._join_timer()

    def _shut(self):
        # With the lock held, as a rule: the commit timer's thread is told
        # to stop here, and waited for after (see _join_timer).
        if self.timer is not None:
            self.timer.stop()
        self._release()
        self._closed_here('the log of {} is closed'.format(self))
        if not self.shared:
            self.store.close()

    def _closed_here(self, message):
        # Closed for this process: every write refused with `message`.
        self.closed, self.writable, self.refreshing = True, False, False
        self.pending = Refusing(ClosedLogError, message)
        self.forget_row_of_now()
        lifecycle.unregister(self)

    def forked_half_way(self):
        """In the child of a fork that interrupted work (see
        :meth:`before_fork`): that work is the parent's, copied here
        half-way, and so is the store's connection, which the child must
        leave alone. The log is closed here as it stands, with no commit,
        and refuses every write with
        :class:`~blocks_log.errors.ClosedLogError`: nothing it logged in
        the child would be committed. A SQLite file whose write lock the
        parent held at the fork cannot be written by this process at all
        (see
        :meth:`~blocks_log.stores.sqlite_connection.SQLiteConnection.
        forked_half_way`)."""
        self.busy, self.reading, self.requested = None, 0, []
        self.store.forked_half_way()
        self._closed_here(
            'the log of {} was copied into this process by a fork made '
            'half-way through a commit or read (by a signal\'s handler): '
            'it is the parent\'s; open a log of this process\'s own (not '
            'in a SQLite file that the parent was writing at the fork: '
            'that is refused)'.format(self))

    def stop_timer(self):
        """Stop the commit timer's thread of this process, if it runs, and
        wait for it: before a fork, which copies a process of one thread
        fewer (see :meth:`.sqlite_checkpointer.Checkpointer.before_fork`).
        The next iteration completed starts it again. Out of the lock,
        which the thread may be waiting for."""
        if self.timer is not None:
            self.timer.stop()
            self._join_timer()

    def _join_timer(self):
        # Out of the lock, which the thread may be waiting for (to commit
        # as the log closed): waited for under it, close() took the join's
        # whole timeout, 60 s.
        if self.timer is not None:
            self.timer.join()
