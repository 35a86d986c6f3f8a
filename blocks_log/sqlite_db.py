"""The sqlite3-specific parts of the SQLite backend: opening a file,
pragmas, transactions, retrying when another process holds the lock, and
re-opening after ``fork``.

"""
import os
import random
import sqlite3
import time

from blocks_log.errors import LogDatabaseError, LogWriteError

# Seconds a statement waits for another process's lock before SQLite gives
# up; then transact() retries, so that "database is locked" does not reach
# the user while another writer is merely slow.
BUSY_TIMEOUT = 30.0
RETRY_FOR = 600.0

PRAGMAS = (
    # Small pages for a new file (an existing one keeps its own): a commit
    # appends each page it changed to the WAL, and an iteration changes a
    # few bytes of two or three pages. 1 KiB pages make the training-loop
    # workload about 10% faster than the default 4 KiB
    # (benchmarks/bench_sqlite.py).
    'PRAGMA page_size = 1024',
    # WAL: readers never block the writer nor the writer the readers, and a
    # commit costs one append to the log instead of a rewrite of pages.
    'PRAGMA journal_mode = WAL',
)


def _is_busy(error):
    message = str(error).lower()
    return 'locked' in message or 'busy' in message


class SQLiteDatabase(object):
    """One database file (or ``:memory:``), opened lazily.

    Parameters
    ----------
    path : str
        A file path or ``':memory:'``.
    read_only : bool
        Open with ``mode=ro``: nothing is ever written or created.
    synchronous : str
        SQLite's ``synchronous`` pragma: ``'NORMAL'`` (the default; with WAL,
        a committed transaction survives a process crash, and the file stays
        consistent after a power loss, which may lose the last commits) or
        ``'FULL'`` (each commit survives a power loss too; slower).

    """
    def __init__(self, path, read_only=False, synchronous='NORMAL'):
        if synchronous.upper() not in ('NORMAL', 'FULL', 'EXTRA'):
            raise ValueError("synchronous must be 'NORMAL', 'FULL' or "
                             "'EXTRA', got {!r}".format(synchronous))
        self.path = path
        self.read_only = read_only
        self.synchronous = synchronous.upper()
        self._connection = None
        self._pid = None
        # One per database, made once: a transaction runs per iteration.
        self._transaction = _Transaction(self)

    @property
    def in_memory(self):
        """bool: whether the database lives in this process's memory."""
        return self.path == ':memory:'

    @property
    def connection(self):
        """The :class:`sqlite3.Connection`, opened on first use and again
        in a child process after ``fork`` (a connection must not cross a
        fork)."""
        if self._connection is None or (self._pid != os.getpid() and
                                        not self.in_memory):
            self._connection = self._open()
            self._pid = os.getpid()
        return self._connection

    def _open(self):
        if self.in_memory:
            uri = 'file::memory:'
        else:
            if self.read_only and not os.path.exists(self.path):
                raise LogDatabaseError(
                    '{}: no such file'.format(self.path))
            uri = 'file:{}{}'.format(
                _quote_path(os.path.abspath(self.path)),
                '?mode=ro' if self.read_only else '')
        try:
            connection = sqlite3.connect(
                uri, uri=True, timeout=BUSY_TIMEOUT, isolation_level=None,
                check_same_thread=False)
            connection.execute(
                'PRAGMA synchronous = {}'.format(self.synchronous))
            if not self.in_memory and not self.read_only:
                for pragma in PRAGMAS:
                    self._retry(connection.execute, pragma)
            connection.execute('SELECT count(*) FROM sqlite_master')
        except sqlite3.DatabaseError as error:
            raise LogDatabaseError('{}: cannot be opened as a log database '
                                   '({})'.format(self.path, error))
        return connection

    def _retry(self, action, *args):
        deadline = None
        while True:
            try:
                return action(*args)
            except sqlite3.OperationalError as error:
                if not _is_busy(error):
                    raise
                if deadline is None:
                    deadline = time.monotonic() + RETRY_FOR
                elif time.monotonic() > deadline:
                    raise
                time.sleep(random.uniform(0.005, 0.05))

    def execute(self, sql, parameters=()):
        """Run one statement outside a transaction; return its rows.

        Raises
        ------
        LogDatabaseError
            If SQLite reports the file as corrupt or not a database.

        """
        try:
            return self._retry(
                lambda: self.connection.execute(sql, parameters).fetchall())
        except sqlite3.DatabaseError as error:
            if isinstance(error, sqlite3.OperationalError) and not (
                    'malformed' in str(error) or 'not a database' in str(
                        error)):
                raise
            raise LogDatabaseError('{}: {}'.format(self.path, error))

    def transaction(self):
        """A write transaction: ``BEGIN IMMEDIATE`` ... ``COMMIT``, rolled
        back on any exception.

        Used as ``with db.transaction() as connection:``. Waits (and
        retries) while another process holds the write lock.

        Raises
        ------
        LogWriteError
            If the transaction cannot be committed (read-only file, full
            disk, I/O error). Nothing of it is then in the database.

        """
        return self._transaction

    def close(self):
        """Close the connection (if this process opened it); safe twice."""
        if self._connection is not None and self._pid == os.getpid():
            self._connection.close()
        self._connection = None


class _Transaction(object):
    """What :meth:`SQLiteDatabase.transaction` returns.

    A class rather than :func:`contextlib.contextmanager`: it runs once per
    training iteration, and costs a third of a generator's overhead. Not
    re-entrant: transactions do not nest.

    """
    __slots__ = ('_db', '_connection')

    def __init__(self, db):
        self._db = db
        self._connection = None

    def __enter__(self):
        db = self._db
        connection = db._connection
        if connection is None or db._pid != os.getpid():
            connection = db.connection
        self._connection = connection
        try:
            db._retry(connection.execute, 'BEGIN IMMEDIATE')
        except sqlite3.Error as error:
            raise LogWriteError('{}: cannot write ({})'.format(
                db.path, error))
        return connection

    def __exit__(self, error_type, error, traceback):
        connection = self._connection
        if error_type is None:
            try:
                self._db._retry(connection.execute, 'COMMIT')
                return False
            except sqlite3.Error as commit_error:
                error = commit_error
        if connection.in_transaction:
            connection.execute('ROLLBACK')
        if isinstance(error, sqlite3.Error):
            raise LogWriteError('{}: cannot write ({})'.format(
                self._db.path, error))
        return False


def _quote_path(path):
    # A path inside a file: URI; '?' and '#' would start its query part.
    return path.replace('%', '%25').replace('?', '%3f').replace('#', '%23')
