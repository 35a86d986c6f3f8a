"""Opening a SQLite file: the URI (read-only, immutable), the oldest
SQLite we run on, a file that cannot be opened said why, a -wal file
found without its index waited for, the connection's first statements.

"""
import os
import sqlite3
import time

from blocks_log.errors import LogDatabaseError, LogWriteError
from blocks_log.stores import claims, sqlite_files as files
from blocks_log.stores.sqlite_transactions import retry

# Seconds a statement waits for another process's lock before SQLite gives
# up; then the statement is retried, so that "database is locked" does not
# reach the user while another writer is merely slow.
BUSY_TIMEOUT = 30.0
#: Seconds a reader waits for a writer to make the index of the WAL.
INDEX_WAIT = 2.0
#: The oldest SQLite the store writes and reads with: the first with
#: upserts (``INSERT ... ON CONFLICT DO UPDATE``).
OLDEST_SQLITE = (3, 24, 0)


class Opening(object):
    """How :class:`~.sqlite_connection.SQLiteConnection` opens its file,
    by its ``path``, ``read_only``, ``in_memory`` and ``synchronous``: a
    new connection each call (counted in ``generation``; ``_made`` tells
    whether the first made the file, ``_immutable`` whether it reads a
    file with no -wal as immutable)."""

    def _uri(self, immutable=False):
        if self.in_memory:
            return 'file::memory:'
        # Read-only: the -shm index of the WAL opened read-only too, so
        # that a reader never writes it (SQLite reads the WAL into its own
        # memory where the index is stale, after its writer was killed).
        # An immutable file is opened read-only.
        options = '?immutable=1' if immutable else (
            '?mode=ro&readonly_shm=1' if self.read_only else '')
        return 'file:' + files.quote_path(self.path) + options

    def _open(self):
        if sqlite3.sqlite_version_info < OLDEST_SQLITE:
            # Before a file is made; else the first upsert's syntax error.
            raise LogDatabaseError(
                '{}: blocks_log needs SQLite {} or later, and this Python\'s '
                'sqlite3 module has SQLite {} (a newer Python, or one built '
                'with a newer SQLite, has it)'.format(
                    self.path, '.'.join(map(str, OLDEST_SQLITE)),
                    sqlite3.sqlite_version))
        if not self.in_memory:
            reason = files.not_a_file(self.path)
            if reason:
                raise LogDatabaseError('{}: cannot be opened ({})'.format(
                    self.path, reason))
        if self.read_only and not self.in_memory and not os.path.isfile(
                self.path):
            raise LogDatabaseError('{}: no such file'.format(self.path))
        deadline = None
        while True:
            # A WAL database that no connection has open has no -wal file
            # (or an empty one), and a read-only connection would make one
            # (and its -shm): read it as immutable, until a writer makes
            # them (see connection).
            self._immutable = self.read_only and not self.in_memory and (
                files.is_wal(self.path) and not files.holds_wal(self.path))
            self.generation += 1
            try:
                if not self.read_only or self.in_memory:
                    if self._made is None:
                        self._made = not os.path.exists(self.path)
                    return self._connect(self._uri())
                with claims.opening(self.path):
                    return self._connect(self._uri(self._immutable))
            except sqlite3.OperationalError as error:
                if not self.read_only and 'readonly' in str(error):
                    # The file, or its folder (where its -wal goes), may
                    # not be written by this process: it can be read.
                    raise LogWriteError(
                        '{}: cannot be written here ({}); open it with '
                        'read_only=True to read it'.format(self.path, error))
                if not (self.read_only and os.path.exists(self.path + '-wal')
                        and not os.path.exists(self.path + '-shm')):
                    raise LogDatabaseError(files.failure(
                        self.path, 'cannot be opened', error))
                # A -wal file without its -shm index: a writer starting
                # makes one a moment before the other; on read-only media,
                # a killed writer left only the -wal, which SQLite cannot
                # read without an index it may write.
                deadline = deadline or time.monotonic() + INDEX_WAIT
                if time.monotonic() > deadline:
                    raise LogDatabaseError(
                        '{}: cannot be read here ({}): its last writer left '
                        'commits in its -wal file but no -shm file; copy the '
                        'database and its -wal file somewhere writable to '
                        'read them'.format(self.path, error))
                time.sleep(0.01)
            except sqlite3.Error as error:
                raise LogDatabaseError('{}: cannot be opened as a log '
                                       'database ({})'.format(self.path,
                                                              error))

    def _connect(self, uri):
        connection = sqlite3.connect(
            uri, uri=True, timeout=BUSY_TIMEOUT, isolation_level=None,
            check_same_thread=False)
        try:
            # The first statement reads the WAL's index: while a writer
            # rebuilds it (after one was killed), a reader waits, whichever
            # statement comes first.
            retry(connection.execute, 'PRAGMA synchronous = {}'.format(
                self.synchronous), read_only=self.read_only)
            retry(connection.execute, 'SELECT count(*) FROM sqlite_master',
                  read_only=self.read_only)
        except BaseException:
            connection.close()
            raise
        return connection
