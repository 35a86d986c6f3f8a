"""WAL checkpoints, off the training thread, and a -wal file kept small.

In WAL mode a commit appends to the -wal file, and a checkpoint copies those
pages back into the database and syncs it to disk. SQLite runs one at the
commit that crosses 1,000 pages, in the writer's thread: 10 to 20 ms, every
few hundred iterations, the slowest iterations of a training loop
(``benchmarks/bench_growth.py``). The writer's connection turns that off;
a thread of the store's, with a connection of its own, runs a PASSIVE
checkpoint every :data:`COMMITS` commits instead, which waits for nobody
and which nobody waits for; SQLite's C code runs it without the GIL.

With ``synchronous='FULL'`` (or ``'EXTRA'``), where every commit syncs
the -wal file, the writer runs the checkpoints itself instead: a thread's
sync of the database beside the writer's syncs of the -wal file made each
commit wait longer than the checkpoint costs (``bench_sqlite.py``, 3,000
iterations: 258-283 us an iteration with the thread, 190 inline, and 197
for raw sqlite3 checkpointing at its own 1,000 pages).

A PASSIVE checkpoint copies what no reader still reads; while writers keep
writing, it may never catch up, and the -wal file grows (480 MB beside a
database of 6 MB, after 64 writers). Past :data:`MAX_WAL_BYTES`, the thread
runs PASSIVE checkpoints, each copying what the writer committed during the
one before, until one copies few pages (see :data:`PASSES`), then has the
WAL start again from its beginning (a RESTART checkpoint that waits for no
one), copying what the writer committed during its last pass, between two
of the writer's commits: it holds :attr:`Checkpointer.writing`, which the
writer, while the thread passes, holds from the beginning of each commit
to its end (see :mod:`.sqlite_connection`). At the writer's next commit,
SQLite writes the WAL from the file's beginning again and cuts the file
down to :data:`MAX_WAL_BYTES` (``journal_size_limit``, see
:func:`size_limit_pragma`), and no further: a cut down to 4 MiB, the kernel
dropping the cached pages of the rest, made the commit after it the slowest
iteration in wall time (about 6 ms committing each iteration; 2 to 3 ms
now). The writer ran that RESTART itself until this release, in its own
thread: 0.7 to 2.5 ms of its CPU, on top of the commit it followed (by
time alone, one of 4,096 values, 1.6 ms): the run's slowest iteration, up
to 4.4 ms (``benchmarks/bench_growth.py``).

A checkpoint that holds SQLite's write lock while the writer commits
stalls the writer: it waits in SQLite's busy handler, which sleeps 1, 2, 5,
10, 15... ms between tries. A TRUNCATE run by the thread while the writer
wrote made the slowest iterations in wall time (300,000 iterations) 9 to
19 ms committing each iteration, 35 with ``commit_every=100`` and 85 with
``commit_seconds`` alone; hence the PASSIVE passes, and the RESTART between
commits. If the writer commits nothing within :data:`IDLE_WAIT` of it, the
thread empties the file (TRUNCATE). Where readers, or other writers, keep
the RESTART from going through, the thread empties the file instead,
waiting for them (each reads or writes one commit, a few milliseconds). A
writer that lets the file go empties it too if it is that large.

"""
import os
import sqlite3
import threading

from blocks_log.stores import writing

#: Commits between two checkpoints: a training iteration writes 3 or 4
#: pages of 1 KiB, so about SQLite's own 1,000 pages.
COMMITS = 250
#: A -wal file larger than this is emptied, and cut down to this size.
MAX_WAL_BYTES = 16 * 2 ** 20
#: A -wal file this large is checkpointed in the writer's thread: the
#: thread could not keep up, or could not run.
STUCK_WAL_BYTES = 4 * MAX_WAL_BYTES
#: Bytes of values a commit writes (an array's, as a rule) from which it
#: has the -wal file's size looked at, whatever the count of commits (see
#: Checkpointer.committed): 250 commits of an array of 256 KiB each took
#: the file past STUCK_WAL_BYTES before it was looked at, and the writer
#: checkpointed it itself, 80 ms of its CPU (``benchmarks/bench_arrays.py``).
LARGE_COMMIT_BYTES = 2 ** 16
#: Seconds a writer letting its file go waits to empty its -wal file.
CLOSING_WAIT = 1.0
#: Seconds the thread, having had the WAL start again, leaves a large -wal
#: file for the writer's next commit to cut down, before it empties it
#: itself (the writer makes none).
IDLE_WAIT = 0.1
#: Passes the thread makes at most over a large -wal file before it has the
#: WAL start again: the first copies what the file holds, each next what the
#: writer committed during the one before, for the RESTART, which the
#: writer's next commit may wait for, to copy the least. After one pass, a
#: RESTART (the writer's then) of what a loop committing every 5 ms wrote
#: during a pass over 16 MiB took 2.7 to 3.8 ms of CPU; after up to three,
#: 0.5 to 0.9 as a rule (``benchmarks/bench_growth.py``, ``commit_seconds``
#: alone).
PASSES = 3
#: Pages (frames of the WAL) a pass may copy and be the last: what was
#: committed during it is as little.
FEW_FRAMES = 64
#: Seconds a fork waits for the thread to end its work under way, so as to
#: stop it (see Checkpointer.before_fork).
FORK_WAIT = 1.0
#: The states of :attr:`Checkpointer.emptying` (besides ``None``), compared
#: by identity.
PASSING, RESTARTED = 'passing', 'restarted'


def size_limit_pragma():
    """The pragma that has SQLite cut a -wal file down to
    :data:`MAX_WAL_BYTES` when the WAL starts again: what a file is found
    large past, so that the next cut comes once the WAL has filled it
    again."""
    return 'PRAGMA journal_size_limit = {}'.format(MAX_WAL_BYTES)


def wal_size(path):
    """The size of the -wal file of the database at `path` (0 if none)."""
    try:
        return os.path.getsize(path + '-wal')
    except OSError:
        return 0


class Checkpointer(object):
    """Runs the checkpoints of one database file in a thread of its own.

    Parameters
    ----------
    path : str
        The database file.
    connect : callable
        Returns a new :class:`sqlite3.Connection` to it.
    inline : bool, optional
        Run the checkpoints on the writer's connection, in its thread.

    Attributes
    ----------
    emptying : {None, PASSING, RESTARTED}
        Where the emptying of a large -wal file stands: :data:`PASSING`,
        asked of the thread, which passes over the file and then has the WAL
        start again (no other checkpoint is asked for meanwhile);
        :data:`RESTARTED`, the writer's next commit writes the WAL from its
        beginning again, and SQLite cuts the file down.
    writing : threading.Lock
        While the thread is :data:`PASSING`, held by the writer from the
        beginning of each commit to its end, and by the thread while it has
        the WAL start again: so that neither waits for the other in
        SQLite's busy handler. Only then: taking a lock at each commit cost
        2% of an iteration's instructions (callgrind). Made anew in a
        forked child.

    """
    def __init__(self, path, connect, inline=False):
        self.path = path
        self._connect = connect
        self.inline = inline
        self._make_locks()
        self._thread = None
        self._pid = None
        self._commits = 0
        self._held = False  # self.lock, by before_fork
        self._closed = False
        self.emptying = None

    def _make_locks(self):
        # Every lock the thread takes, made anew in a forked child: a child
        # that started with one held (the thread held it at the fork) hung
        # at its exit. Held while a checkpoint runs.
        self.lock = threading.Lock()
        # See the class's docstring.
        self.writing = threading.Lock()
        # Held to hand what follows the thread's RESTART to one side.
        self._handoff = threading.Lock()
        # Held to wake the thread, and by the thread to wait.
        self._wake = threading.Condition(threading.Lock())
        self._woken = False
        # Whether the thread waits to be woken, with nothing asked of it;
        # told to stop (see before_fork).
        self._waiting = self._stopping = False
        self._mode = 'PASSIVE'
        # Whether the thread's checkpoint under way holds the file's write
        # lock (a RESTART, a TRUNCATE): see holds_the_write_lock().
        self.locking = False

    def committed(self, connection, sized=False):
        """Count a commit of `connection`, the writer's; every
        :data:`COMMITS`, have a checkpoint run; past
        :data:`MAX_WAL_BYTES`, have the thread pass over the file and have
        the WAL start again.

        Never raises: a checkpoint that fails leaves the -wal file to the
        next (the commit counted landed whatever a checkpoint does).

        With `sized`, the -wal file's size is looked at now, whatever the
        count: for a commit that may write much (one of many iterations,
        or packing blocks), after which a count of commits finds a file
        large too late (past 30 MiB after 250 commits of 1,000
        iterations: a cut of 17 MiB, 6 to 13 ms of the writer's CPU).
        """
        self._commits += 1
        if self.emptying is RESTARTED:
            # This commit wrote the WAL from its beginning again, and SQLite
            # cut the file down: nothing is left for the thread to empty.
            self._take_restarted()
        if self._commits < COMMITS and not sized:
            return
        size = wal_size(self.path)
        if self._commits < COMMITS and size <= MAX_WAL_BYTES:
            return
        self._commits = 0
        if self.inline and size > MAX_WAL_BYTES:
            _checkpoint_waiting(connection, 'TRUNCATE', CLOSING_WAIT)
            return
        if size > STUCK_WAL_BYTES or self.inline:
            try:
                connection.execute('PRAGMA wal_checkpoint(PASSIVE)')
            except sqlite3.Error:
                # The commit landed all the same (a full disk fails the
                # copy into the database, not the WAL's frames): the next
                # count tries again.
                pass
            return
        if self.emptying is not None:
            # The thread is emptying the file: another checkpoint now
            # would hold off its RESTART.
            return
        if size > MAX_WAL_BYTES:
            self.emptying = PASSING
            self._in_thread('EMPTY')
        else:
            self._in_thread('PASSIVE')

    def _in_thread(self, mode):
        # Have the thread (started in this process if it runs in none)
        # checkpoint: in `mode`, or, for 'EMPTY', pass over a large file and
        # have the WAL start again (see _run()).
        self._mode = mode
        if self._thread is None or self._pid != os.getpid():
            self._pid = os.getpid()
            self._thread = threading.Thread(
                target=self._run, name='blocks_log checkpoints of ' +
                os.path.basename(self.path), daemon=True)
            self._thread.start()
        self._wake_up()

    def _wake_up(self):
        with self._wake:
            self._woken = True
            self._wake.notify_all()  # the thread, not a fork's wait

    def _run(self):
        writing.own_thread()  # a log collected here closes elsewhere
        connection = None
        while True:
            with self._wake:
                while not self._woken:
                    self._waiting = True
                    self._wake.notify_all()  # a fork may wait for it
                    self._wake.wait()
                self._waiting = self._woken = False
            if self._closed or self._stopping:
                break
            mode = self._mode
            if mode != 'EMPTY':
                connection, _ = self._checkpoint(connection, mode)
                continue
            connection, done = self._pass_over(connection)
            if done:
                connection, done = self._restart(connection)
            if not done:
                self.emptying = None  # asked again at a later commit
                continue
            # The writer's next commit cuts the file down; if it makes none
            # soon (its loop paused, or ended), the thread empties it.
            with self._wake:
                self._wake.wait_for(lambda: self._woken, IDLE_WAIT)
            if self._take_restarted() and not self._closed:
                connection, _ = self._checkpoint(connection, 'TRUNCATE')
        if connection is not None:
            connection.close()

    def _pass_over(self, connection):
        # PASSIVE checkpoints over a large -wal file, up to PASSES, for
        # the RESTART to copy little (see PASSES): the connection, and
        # whether the first ran.
        connection, backfilled = self._checkpoint(connection, 'PASSIVE')
        if backfilled is None:
            return connection, False
        copied, passes = backfilled, 1
        while copied > FEW_FRAMES and passes < PASSES:
            connection, now = self._checkpoint(connection, 'PASSIVE')
            if now is None:
                break  # the RESTART copies more
            # All it copied, if the WAL started again since the last pass.
            copied = now - backfilled if now >= backfilled else now
            backfilled = now
            passes += 1
        return connection, True

    def _checkpoint(self, connection, mode):
        # A checkpoint in `mode` on the thread's connection (made if
        # `connection` is None): the connection, and the frames of the WAL
        # copied into the database since it last started again (None if
        # the checkpoint could not run).
        with self.lock:
            self.locking = mode != 'PASSIVE'
            try:
                if connection is None:
                    connection = self._connect()
                _, _, backfilled = connection.execute(
                    'PRAGMA wal_checkpoint({})'.format(mode)).fetchone()
            except sqlite3.Error:
                # The writer checkpoints when the -wal grows large.
                return connection, None
            finally:
                self.locking = False
        return connection, backfilled

    def _restart(self, connection):
        # Has the WAL start again (see the module's docstring), between two
        # of the writer's commits: the connection, and whether it went
        # through. Where readers or other writers keep it from going
        # through, empties the file instead, waiting for them, without
        # holding `writing` (a wait of seconds, for other processes).
        with self.lock:
            with self.writing:
                self.locking = True
                try:
                    restarted = _checkpoint_waiting(connection, 'RESTART', 0)
                finally:
                    self.locking = False
                if restarted:
                    # Before the writer's next commit, which cuts the file
                    # down, so that it finds the RESTART done.
                    self.emptying = RESTARTED
        if restarted:
            return connection, True
        connection, _ = self._checkpoint(connection, 'TRUNCATE')
        return connection, False

    def _take_restarted(self):
        # Whether what follows the thread's RESTART was left to do, and
        # now to the caller alone.
        with self._handoff:
            taken = self.emptying is RESTARTED
            if taken:
                self.emptying = None
        return taken

    def before_fork(self, half_way=False):
        """Stop the thread if it waits for work, else wait for its
        checkpoint under way to end (:data:`FORK_WAIT` at most, if the
        fork is made `half_way` through the writer's work); hold off the
        next until :meth:`after_fork`.

        A process of several threads that forks may deadlock in the child
        (on a lock another thread held), and Python 3.12 and later warn of
        it at each fork (a ``DeprecationWarning``); the at-fork hooks make
        the thread's locks safe, but only the fork of a process of one
        thread goes without the warning. The next checkpoint asked for
        starts the thread again. One still at work after
        :data:`FORK_WAIT` (passes over a large -wal file, waiting for
        readers) is left to it.

        Nor may the thread be inside SQLite's C code at the fork: a child
        inherits the library's locks as they stand, and one held there
        (its allocator's, which every call takes) is never let go: the
        child's first call into SQLite, on any file, waited for ever.
        The wait is bounded where the fork interrupted the writer's work,
        which the thread may be waiting for (its lock ``writing``): blocked
        there, it is in no SQLite call.
        """
        thread = self._thread
        if thread is not None and self._pid == os.getpid():
            with self._wake:
                # At work, it may end soon (a checkpoint, which the fork
                # waited for before): a while for it to.
                idle = self._wake.wait_for(lambda: self._waiting, FORK_WAIT)
                if idle:
                    if self._woken:
                        # Asked for a checkpoint, not begun (the fork's
                        # flush asked, as a rule): asked again at the
                        # next commit, of parent or child.
                        self._commits = COMMITS
                        if self.emptying is PASSING:
                            self.emptying = None
                    self._stopping = self._woken = True
                    self._wake.notify()
            if idle:
                thread.join()  # it only closes its connection
                self._thread, self._stopping = None, False
        self._held = self.lock.acquire(timeout=FORK_WAIT if half_way else -1)

    def after_fork(self, child):
        """Let checkpoints run again; a child starts its own thread (its
        copy of the parent's connection is never used nor closed), with
        locks of its own."""
        if child:
            self._make_locks()
            self._thread = None
            self.emptying = None  # the parent's thread is not here
        elif self._held:
            self.lock.release()
        self._held = False

    def holds_the_write_lock(self):
        """Whether the thread's checkpoint under way holds the file's
        write lock (a RESTART, a TRUNCATE, which waits for readers with it
        held); in a child forked half-way through a commit, whether the
        parent's thread held it at the fork."""
        return self.locking  # set and cleared under self.lock

    def finish(self, connection):
        """The writer lets the file go: if its -wal file is large, empty it
        with `connection` (the writer's), waiting at most
        :data:`CLOSING_WAIT` for the file's readers."""
        if wal_size(self.path) > MAX_WAL_BYTES:
            _checkpoint_waiting(connection, 'TRUNCATE', CLOSING_WAIT)

    def close(self):
        """Stop the thread (of this process), after its checkpoint."""
        self._closed = True
        self._wake_up()
        if self._thread is not None and self._pid == os.getpid():
            self._thread.join(timeout=60)
        self._thread = None


def _checkpoint_waiting(connection, mode, wait):
    # A checkpoint in `mode` (RESTART: the WAL starts again at the next
    # commit, and SQLite cuts the file down to MAX_WAL_BYTES; TRUNCATE:
    # the file emptied) with `connection`, waiting at most
    # `wait` seconds for the file's readers (and other writers); whether
    # it went through (else a later checkpoint will).
    waited, = connection.execute('PRAGMA busy_timeout').fetchone()
    try:
        connection.execute('PRAGMA busy_timeout = {}'.format(
            int(wait * 1000)))
        busy, _, _ = connection.execute(
            'PRAGMA wal_checkpoint({})'.format(mode)).fetchone()
    except sqlite3.Error:
        return False
    finally:
        connection.execute('PRAGMA busy_timeout = {}'.format(waited))
    return not busy
