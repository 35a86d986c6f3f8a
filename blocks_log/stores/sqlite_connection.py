"""The sqlite3 parts of the SQLite store: a file connected lazily
(opening it in :mod:`.sqlite_opening`), pragmas, statements (retried while
another process holds the lock; transactions in
:mod:`.sqlite_transactions`), re-opening after ``fork``, looking that the
file written is still there, and turning every ``sqlite3.Error`` into one
of ours (what the file on disk tells, in :mod:`.sqlite_files`).

"""
import contextlib
import os
import sqlite3
from time import monotonic as _monotonic

from blocks_log.errors import LogDatabaseError, LogWriteError
from blocks_log.stores import claims, sqlite_files as files
from blocks_log.stores.sqlite_opening import Opening
from blocks_log.stores.sqlite_transactions import (Reading, Transaction,
                                                   is_busy, retry, roll_back)
from blocks_log.stores.sqlite_checkpointer import (PASSING, Checkpointer,
                                                   size_limit_pragma)

SYNCHRONOUS = ('NORMAL', 'FULL', 'EXTRA')
#: Seconds between two looks at whether the file written is still at its
#: path (see SQLiteConnection._look_at_the_file).
LOOK_EVERY = 1.0
# Connections a child process inherited by a fork it was not told of (one
# made by C code): never closed there, as SQLite asks, since closing one
# can act on the parent's file locks and WAL.
_INHERITED = []
# The files (by device and inode) that this process cannot write: it was
# forked half-way through a commit while its parent held each one's write
# lock (see SQLiteConnection.forked_half_way).
_WRITTEN_BY_PARENT_AT_FORK = set()
# What a commit holds while no checkpoints' thread passes: nothing (a lock
# taken at each commit cost 2% of an iteration's instructions).
_NO_LOCK = contextlib.nullcontext()

PRAGMAS = (
    # Checkpoints run in a thread of their own (see sqlite_checkpointer),
    # which also says how far the -wal file is cut down (a pragma applied
    # with these).
    'PRAGMA wal_autocheckpoint = 0',
    # Small pages for a new file (an existing one keeps its own): a commit
    # appends each page it changed to the WAL, and an iteration changes a
    # few bytes of two or three pages. 1 KiB pages make the training-loop
    # workload about 30% faster than the default 4 KiB (issue 3,
    # benchmarks/bench_sqlite.py).
    'PRAGMA page_size = 1024',
    # WAL: readers never block the writer nor the writer the readers, and a
    # commit costs one append to the log instead of a rewrite of pages.
    'PRAGMA journal_mode = WAL',
)


class SQLiteConnection(Opening):
    """One database file (or ``:memory:``), connected lazily.

    Parameters
    ----------
    path : str
        A file path or ``':memory:'``.
    read_only : bool
        Open with ``mode=ro``: nothing is ever written, created or switched
        to WAL. A file on read-only media is opened as immutable.
    synchronous : {'NORMAL', 'FULL', 'EXTRA'}
        SQLite's ``synchronous`` pragma: ``'NORMAL'`` (with WAL, a committed
        transaction survives a process crash, and the file stays consistent
        after a power loss, which may lose the last commits) or ``'FULL'``
        (each commit survives a power loss too; slower).

    Raises
    ------
    ValueError
        If `synchronous` is not one of those.

    """
    def __init__(self, path, read_only=False, synchronous='NORMAL'):
        if not isinstance(synchronous, str) or (
                synchronous.upper() not in SYNCHRONOUS):
            raise ValueError("synchronous must be 'NORMAL', 'FULL' or "
                             "'EXTRA', got {!r}".format(synchronous))
        # Absolute, as SQLite keeps it: a relative path must not follow the
        # process into another working directory (Hydra changes it) when
        # a connection is made again (a checkpoint's thread, a forked
        # child) or the file looked at. And with its symbolic links
        # resolved, as SQLite resolves them (its -wal and -shm files lie
        # beside the file linked to): the claims, a reader's look for a
        # WAL and the checkpointer's at its size find them there, whatever
        # name each process opened the file by.
        self.path = path if path == ':memory:' else os.path.realpath(path)
        self.read_only = read_only
        self.synchronous = synchronous.upper()
        self._connection = None
        self._cursor = None  # of the connection, for write()
        self._pid = None
        self._ready_to_write = False
        # (device, inode) of the file written, from the first write on (a
        # child of a fork, opening the path again, must find the same), and
        # when to look at the path again (see _look_at_the_file).
        self._identity = None
        # Whether the first connection made the file (see close).
        self._made = None
        self._look_again = float('inf') if (
            read_only or self.in_memory) else 0.0
        self.checkpointer = None  # of a file written to
        self._immutable = False
        # Counts the connections opened: a new one may see anything anew.
        self.generation = 0
        # One per database, made once: a transaction runs per iteration.
        self._transaction = Transaction(self)
        # Whether the transaction open, if any, is a write transaction:
        # said as one begins (sqlite3 tells only that one is open).
        self.writes = False

    @property
    def in_memory(self):
        """bool: whether the database lives in this process's memory."""
        return self.path == ':memory:'

    @property
    def connection(self):
        """The :class:`sqlite3.Connection`, opened on first use and again
        in a child process after ``fork`` (a connection must not cross a
        fork), or when a writer starts on a file read as immutable."""
        if self._immutable and files.holds_wal(self.path):
            self.close()
        if self._connection is None or (self._pid != os.getpid() and
                                        not self.in_memory):
            if self._connection is not None:
                _INHERITED.append(self._connection)
            if self.checkpointer is not None and (
                    self._pid not in (None, os.getpid())):
                # A fork, perhaps one made by C code, which runs no at-fork
                # hook: the checkpointer starts afresh, its locks free
                # whatever the parent's thread held at the fork.
                self.checkpointer.after_fork(child=True)
            self._connection = self._open()
            self._cursor = self._connection.cursor()
            self._pid = os.getpid()
            self._ready_to_write = False
        return self._connection

    def connection_to_write(self):
        """The connection, ready for a write: opened (again after
        ``fork``), the file's pragmas applied at its first write, and the
        file looked at (see :meth:`write`, which does the same inline).

        Raises
        ------
        sqlite3.Error
            If the pragmas cannot be applied.
        LogWriteError
            If the file was deleted or replaced, or this process cannot
            write it (see :meth:`forked_half_way`).
        """
        connection = self._connection
        if connection is None or self._pid != os.getpid():
            connection = self.connection
        if not self._ready_to_write or _monotonic() >= self._look_again:
            self._prepare_to_write(connection)
        return connection

    def _prepare_to_write(self, connection):
        # The pragmas that change the file, applied at the first write
        # rather than at opening, so that an open that fails (an unknown
        # run) or only reads changes nothing; and, then and every
        # LOOK_EVERY seconds, a look at the file.
        if not self.in_memory and not self.read_only:
            self._look_at_the_file()
            if self._ready_to_write:
                return
            if self._identity in _WRITTEN_BY_PARENT_AT_FORK:
                raise LogWriteError(
                    '{}: cannot be written by this process, forked (by a '
                    'signal\'s handler) half-way through a commit while '
                    'its parent held the file\'s write lock: SQLite\'s '
                    'record of that lock, copied here, keeps every '
                    'connection of this process from writing it (each '
                    'write would wait in vain); write it from the parent, '
                    'or from a process started afresh (multiprocessing\'s '
                    '"spawn" or "forkserver")'.format(self.path))
            for pragma in PRAGMAS + (size_limit_pragma(),):
                retry(connection.execute, pragma)
            if self.checkpointer is None:
                self.checkpointer = Checkpointer(
                    self.path, lambda: self._connect(self._uri()),
                    inline=self.synchronous != 'NORMAL')
        self._ready_to_write = True

    def _look_at_the_file(self):
        # SQLite goes on writing a file deleted, moved or replaced under it
        # (SQLITE_READONLY_DBMOVED is of rollback journals only), where
        # the path no longer reaches: the file at the path must be the one
        # written, by device and inode (as logging.handlers.
        # WatchedFileHandler tells), at the first write and then before
        # the first commit each LOOK_EVERY seconds (a stat of the path,
        # 1.8 us: at each commit, 6% of a training iteration's).
        identity = files.identity(self.path)
        if identity is None or self._identity not in (None, identity):
            raise LogWriteError(
                '{}: the file was deleted or replaced while this log wrote '
                'it; its commits of the last {} s at most went to the file '
                'it has open, which is no longer there, and it writes no '
                'more'.format(self.path, LOOK_EVERY))
        self._identity = identity
        self._look_again = _monotonic() + LOOK_EVERY

    def query(self, sql, parameters=()):
        """Run one statement outside a transaction; return its rows.

        Raises
        ------
        LogDatabaseError
            If SQLite reports any error (corrupt file, not a database, an
            I/O error).

        """
        return self._read(
            lambda: self.connection.execute(sql, parameters).fetchall())

    def query_each(self, sql, parameters, handle, size):
        """Run one statement outside a transaction, handing its rows to
        `handle` as they are read, a list of `size` at most at a time,
        rather than returning them all at once. A statement tried again
        (another process held the file) hands its rows again from the
        first: `handle` must keep the last it is told.

        Raises
        ------
        LogDatabaseError
            As :meth:`query` does.
        """
        def each():
            cursor = self.connection.execute(sql, parameters)
            for rows in iter(lambda: cursor.fetchmany(size), []):
                handle(rows)
        self._read(each)

    def _read(self, statement):
        # `statement()`, tried again while another process holds the file.
        try:
            return retry(statement, read_only=self.read_only)
        except sqlite3.Error as error:
            raise LogDatabaseError(files.failure(
                self.path, 'cannot be read', error))

    def commit_lock(self):
        """The lock a write holds from its beginning to its end: the
        checkpointer's :attr:`~.Checkpointer.writing` while its thread
        passes over a large -wal file (see :mod:`.sqlite_checkpointer`),
        else nothing to hold.

        Held by ``with`` alone: a lock's ``__exit__`` is C code, where no
        Ctrl-C lands before the lock is let go (one may at the start of a
        Python ``__exit__``; a lock left held had the next commit, and the
        thread's next RESTART, wait for ever).
        """
        if self._pid != os.getpid():
            self.connection  # a fork: the checkpointer's locks made anew
        checkpointer = self.checkpointer
        if checkpointer is not None and checkpointer.emptying is PASSING:
            return checkpointer.writing
        return _NO_LOCK

    def transaction(self):
        """A write transaction: ``BEGIN IMMEDIATE`` ... ``COMMIT``, rolled
        back on any exception.

        Used as ``with db.commit_lock(), db.transaction() as connection:``
        (see :meth:`commit_lock`). Waits (and retries) while another
        process holds the write lock.

        Raises
        ------
        LogWriteError
            If the transaction cannot be committed (read-only file, full
            disk, I/O error). Nothing of it is then in the database.

        """
        return self._transaction

    def write(self, statement, parameters, sized=False):
        """Run one writing statement in autocommit: its own transaction,
        one commit (what an iteration's commit is, as a rule: two fewer
        statements than ``BEGIN``...``COMMIT``). Waits (and retries) while
        another process holds the write lock. Returns the count of rows it
        changed. `sized`: it may write much (see
        :meth:`.Checkpointer.committed`).

        Raises
        ------
        LogWriteError
            If it cannot be committed (read-only file, full disk, I/O
            error, see also :meth:`forked_half_way`). Nothing of it is then
            in the database.
        """
        connection = self._connection
        try:
            if connection is None or self._pid != os.getpid():
                connection = self.connection
            if not self._ready_to_write or (
                    _monotonic() >= self._look_again):
                self._prepare_to_write(connection)
            if connection.in_transaction:
                # Left open by Ctrl-C (raised as BEGIN returned, or as a
                # `with` block's exit began): in it, this statement would
                # not be committed.
                roll_back(connection)
            checkpointer = self.checkpointer
            if checkpointer is not None and checkpointer.emptying is PASSING:
                # The checkpoints' thread has the WAL start again between
                # two commits only (see commit_lock).
                with checkpointer.writing:
                    changes = self._execute(connection, statement,
                                            parameters)
            else:
                changes = self._execute(connection, statement, parameters)
        except sqlite3.Error as error:
            raise LogWriteError(files.failure(
                self.path, 'cannot write', error))
        if checkpointer is not None:  # committed(), a frame fewer
            checkpointer.committed(connection, sized)
        return changes

    def _execute(self, connection, statement, parameters):
        # One statement of write(): the count of rows it changed.
        try:
            # The cursor kept: connection.execute() makes one each time.
            return self._cursor.execute(statement, parameters).rowcount
        except sqlite3.OperationalError as error:
            if not is_busy(error):
                raise
            # Another process holds the lock: again, while it may.
            return retry(connection.execute, statement, parameters).rowcount

    def reading(self):
        """A read transaction, for reads of several statements that must see
        the same commits: ``with db.reading(): ...``.

        Raises
        ------
        LogDatabaseError
            If it cannot begin (corrupt file).

        """
        return Reading(self)

    def max_length(self):
        """The most bytes SQLite holds in one text, BLOB or row here
        (``SQLITE_MAX_LENGTH``, 10**9 unless SQLite was built otherwise)."""
        getlimit = getattr(self.connection, 'getlimit', None)  # 3.11+
        return getlimit(sqlite3.SQLITE_LIMIT_LENGTH) if getlimit else 10 ** 9

    def data_version(self):
        """What changes when another connection commits: SQLite's
        ``data_version``, and which connection tells it."""
        version = self.query('PRAGMA data_version')[0][0]
        return self.generation, version

    def before_fork(self):
        """A ``fork`` is next: close the connection of a file (the next use
        opens a new one) and hold off checkpoints until
        :meth:`after_fork`. An in-memory database is kept: it would be
        lost."""
        if not self.in_memory:
            self._close_connection()
            if self.checkpointer is not None:
                self.checkpointer.before_fork()

    def after_fork(self, child):
        """A ``fork`` is done: checkpoints may run again."""
        if self.checkpointer is not None:
            self.checkpointer.after_fork(child)

    def hold_threads(self):
        """A ``fork`` that interrupted work on the file is next (see
        :meth:`forked_half_way`): the connection is left as it is, and the
        checkpoints' thread kept out of SQLite until :meth:`after_fork`
        (see :meth:`.Checkpointer.before_fork`)."""
        if self.checkpointer is not None:
            self.checkpointer.before_fork(half_way=True)

    def forked_half_way(self):
        """In a child forked half-way through the parent's work on the
        file (:meth:`before_fork` not called), whose copy of the
        connection is the parent's and never used nor closed here. If the
        parent held the file's write lock at the fork (that connection in
        a write transaction, or the checkpoints' thread in a RESTART or
        TRUNCATE), SQLite's record in this process of the file's locks
        (one per file, which every connection to it asks) holds it for
        good (a read transaction's locks keep no writer out): every later
        write of this process to the file is refused at once, rather than
        wait out its retries (see :data:`~.sqlite_transactions.RETRY_FOR`)
        and fail."""
        connection, checkpointer = self._connection, self.checkpointer
        if (connection is not None and connection.in_transaction and
                self.writes) or (checkpointer is not None and
                                 checkpointer.holds_the_write_lock()):
            _WRITTEN_BY_PARENT_AT_FORK.add(self._identity)

    def committed(self):
        """A write transaction was committed (see :mod:`.checkpointer`):
        one that may have written much, so the -wal file's size is looked
        at."""
        if self.checkpointer is not None:
            self.checkpointer.committed(self._connection, sized=True)

    def _close_connection(self):
        if self._connection is not None and self._pid == os.getpid():
            if self.read_only or self.in_memory:
                self._connection.close()
            else:
                # The last connection deletes the -wal and -shm files.
                with claims.closing(self.path):
                    self._connection.close()
        self._connection = self._cursor = None

    def close(self):
        """Close the connection (if this process opened it) and stop its
        checkpoints; safe twice."""
        if self.checkpointer is not None:
            self.checkpointer.close()
            if self._connection is not None and self._pid == os.getpid():
                self.checkpointer.finish(self._connection)
            self.checkpointer = None
        self._close_connection()
        if self._made and self._pid == os.getpid():
            # Made, and empty: the log's first write failed (a full disk);
            # a failed open leaves no file.
            self._made = False
            files.remove_if_empty(self.path)
