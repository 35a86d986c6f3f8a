"""The transactions of the SQLite store's connection: a write transaction
(``BEGIN IMMEDIATE`` ... ``COMMIT``), a read transaction, and retrying a
statement while another process holds the lock (see
:mod:`.sqlite_connection`).

"""
import sqlite3
import time

from blocks_log.errors import LogWriteError
from blocks_log.stores import sqlite_files as files, writing

#: Seconds a statement is retried while another process holds the lock
#: (SQLite's own wait, BUSY_TIMEOUT of sqlite_opening, comes first).
RETRY_FOR = 600.0
#: Seconds a reader waits for a writer to rebuild the index of the WAL.
RECOVERY_WAIT = 30.0


def is_busy(error):
    """Whether an ``sqlite3.OperationalError`` says another process holds
    the lock."""
    message = str(error).lower()
    return 'locked' in message or 'busy' in message


def roll_back(connection):
    """Roll back the transaction left open on `connection`, if any."""
    if connection.in_transaction:
        try:
            connection.execute('ROLLBACK')
        except sqlite3.Error:
            pass  # SQLite rolls back on its own when it cannot


def retry(action, *args, read_only=False):
    """``action(*args)``, again while another process holds the lock; for
    a read-only connection, again while the WAL's index is being rebuilt
    by a writer (SQLITE_READONLY_RECOVERY: a reader that never writes the
    -shm file cannot rebuild it, and waits for whoever does). Raises the
    last ``sqlite3.OperationalError`` once that has lasted
    :data:`RETRY_FOR` (or :data:`RECOVERY_WAIT`) seconds."""
    deadline = None
    while True:
        try:
            return action(*args)
        except sqlite3.OperationalError as error:
            recovering = read_only and 'readonly' in str(error).lower()
            if not (recovering or is_busy(error)):
                raise
            if deadline is None:
                deadline = time.monotonic() + (
                    RECOVERY_WAIT if recovering else RETRY_FOR)
            elif time.monotonic() > deadline:
                raise
            import random  # only when another process holds the lock
            time.sleep(random.uniform(0.005, 0.05))


class Transaction(object):
    """What :meth:`.SQLiteConnection.transaction` returns: a write
    transaction on the connection of `db`.

    A class rather than :func:`contextlib.contextmanager`: it runs once per
    training iteration, and costs a third of a generator's overhead. Not
    re-entrant: transactions do not nest.

    """
    __slots__ = ('_db', '_connection', '__weakref__')

    def __init__(self, db):
        self._db = db
        self._connection = None

    def __enter__(self):
        db = self._db
        try:
            connection = db.connection_to_write()
            roll_back(connection)  # one left open (see write())
            db.writes = True
            retry(connection.execute, 'BEGIN IMMEDIATE')
        except sqlite3.Error as error:
            raise LogWriteError(files.failure(db.path, 'cannot write', error))
        self._connection = connection
        writing.began(self, Transaction.is_open)
        return connection

    def is_open(self):
        """Whether the transaction is open (not once its connection is
        closed)."""
        try:
            return self._connection.in_transaction
        except sqlite3.ProgrammingError:
            return False

    def __exit__(self, error_type, error, traceback):
        connection = self._connection
        if error_type is None:
            try:
                retry(connection.execute, 'COMMIT')
                self._db.committed()
                return False
            except sqlite3.Error as commit_error:
                error = commit_error
        roll_back(connection)
        if isinstance(error, sqlite3.Error):
            raise LogWriteError(files.failure(
                self._db.path, 'cannot write', error))
        return False


class Reading(object):
    """What :meth:`.SQLiteConnection.reading` returns: a read transaction
    on the connection of `db`. Readings do not nest, nor run inside a
    write transaction."""
    __slots__ = ('_db',)

    def __init__(self, db):
        self._db = db

    def __enter__(self):
        connection = self._db.connection
        # One open here was left by a Ctrl-C (as BEGIN returned, or as a
        # `with` block's exit began): reads in it saw the state it began
        # in, for ever, whatever was committed since.
        roll_back(connection)
        self._db.writes = False
        self._db.query('BEGIN')
        return connection

    def __exit__(self, *exc_info):
        if self._db.connection.in_transaction:
            self._db.query('COMMIT')
        return False
