"""The psycopg parts of the PostgreSQL store: connecting, reconnecting
after a dropped connection or a server restart, a connection per process,
and turning every ``psycopg.Error`` into one of ours, named by host and
database and never by password.

"""
import os
import random
import time

from blocks_log.errors import LogDatabaseError, LogWriteError
from blocks_log.stores import writing as transactions

#: Seconds a commit or read waits for a server that went away to come back.
RECONNECT_FOR = 600.0
#: The same, for a log closed by the garbage collector or at exit: a
#: process must not hang for minutes on its way out.
RECONNECT_AT_EXIT_FOR = 5.0
#: Tries of one commit or read whose connection is lost at each: a server
#: that ends the session at a statement (one over its 1 GB message limit,
#: a trigger) would have it sent again for ever.
LOST_TRIES = 5
SYNCHRONOUS_COMMIT = ('on', 'off', 'local', 'remote_write', 'remote_apply')
# Connections a child process inherited by a fork it was not told of:
# never closed there, as closing one would end the parent's session.
_INHERITED = []
_SECRET_KEYS = ('password', 'passfile', 'sslpassword')


def import_psycopg():
    """Return the psycopg module.

    Raises
    ------
    ImportError
        If psycopg is not installed; the message says how to install it.
    """
    try:
        import psycopg
    except ImportError as error:
        raise ImportError("PostgreSQL needs psycopg, an optional dependency "
                          "of blocks_log: pip install 'blocks-log"
                          "[postgresql]' ({})".format(error))
    return psycopg


def _in_transaction(connection):
    # Whether `connection` (psycopg's) is in a transaction, or running a
    # statement: not once closed.
    from psycopg import pq
    return not connection.closed and (
        connection.info.transaction_status != pq.TransactionStatus.IDLE)


def default_dsn():
    """The DSN of a log given none: ``$BLOCKS_LOG_DSN``, else ``''`` (which
    libpq completes from its ``PG*`` variables)."""
    return os.environ.get('BLOCKS_LOG_DSN', '')


def describe(dsn):
    """A DSN in words, without its password: ``database D at H:P (user
    U)``, libpq's environment filling what the DSN leaves out."""
    psycopg = import_psycopg()
    try:
        parts = psycopg.conninfo.conninfo_to_dict(dsn)
    except psycopg.ProgrammingError as error:
        raise LogDatabaseError('not a PostgreSQL DSN ({})'.format(
            _without_secrets(str(error), dsn)))
    host = parts.get('host') or os.environ.get('PGHOST') or 'localhost'
    port = parts.get('port') or os.environ.get('PGPORT') or '5432'
    user = parts.get('user') or os.environ.get('PGUSER')
    database = (parts.get('dbname') or os.environ.get('PGDATABASE') or
                user or 'the default database')
    return 'PostgreSQL database {} at {}:{}{}'.format(
        database, host, port, ' (user {})'.format(user) if user else '')


def without_password(dsn):
    """`dsn` without its password (what a pickled log keeps): the password
    comes again from ``PGPASSWORD`` or ``~/.pgpass``."""
    psycopg = import_psycopg()
    parts = psycopg.conninfo.conninfo_to_dict(dsn)
    for key in _SECRET_KEYS:
        parts.pop(key, None)
    return psycopg.conninfo.make_conninfo(**parts)


def _without_secrets(message, dsn):
    try:
        parts = import_psycopg().conninfo.conninfo_to_dict(dsn)
    except Exception:
        parts = {}
    for key in _SECRET_KEYS:
        if parts.get(key):
            message = message.replace(parts[key], '***')
    return ' '.join(message.split())


class PostgreSQLConnection(object):
    """One database on a server, connected lazily, again in a child after
    ``fork``, and again after the connection was lost.

    Parameters
    ----------
    dsn : str
        A libpq connection string or ``postgresql://`` URL.
    read_only : bool
        Every transaction read-only: nothing is ever created or changed.
    synchronous_commit : str
        PostgreSQL's ``synchronous_commit`` for this connection's commits.

    Raises
    ------
    ValueError
        If `synchronous_commit` is not one of PostgreSQL's values.
    ImportError
        If psycopg is not installed.

    """
    def __init__(self, dsn, read_only=False, synchronous_commit='on'):
        if synchronous_commit not in SYNCHRONOUS_COMMIT:
            raise ValueError('synchronous_commit must be one of {}, got '
                             '{!r}'.format(', '.join(SYNCHRONOUS_COMMIT),
                                           synchronous_commit))
        self.psycopg = import_psycopg()
        self.dsn = dsn
        self.name = describe(dsn)
        #: Seconds to wait for a lost server (see RECONNECT_FOR).
        self.reconnect_for = RECONNECT_FOR
        self.read_only = read_only
        self.synchronous_commit = synchronous_commit
        self._connection = None
        self._pid = None
        #: Called with each new connection (a new session: after a lost
        #: one, or in a forked child), before it is used.
        self.on_open = None

    @property
    def connection(self):
        """The psycopg connection, opened on first use, again in a child
        process after ``fork`` (the parent keeps its own), and again after
        it was lost."""
        if self._connection is None or self._pid != os.getpid():
            if self._connection is not None and self._pid != os.getpid():
                # Never closed here: closing it would end the parent's
                # session (psycopg leaves it alone when collected).
                _INHERITED.append(self._connection)
            self._connection = self._open()
            self._pid = os.getpid()
            if self.on_open is not None:
                self.on_open(self._connection)
        return self._connection

    def _open(self):
        # Ours after the DSN's own options (a search_path, say). Writes in
        # READ COMMITTED, PostgreSQL's default, whatever the database's:
        # under SERIALIZABLE or REPEATABLE READ, two writers making keys at
        # once failed ("could not serialize access"). A read sets its own.
        options = ('{} -c synchronous_commit={} -c '
                   'default_transaction_isolation=read\\ committed').format(
            self.psycopg.conninfo.conninfo_to_dict(self.dsn).get(
                'options', ''), self.synchronous_commit).strip()
        if self.read_only:
            options += ' -c default_transaction_read_only=on'
        try:
            # A reader prepares no statement: through a pooler in
            # transaction mode (where writers are refused, see
            # PostgreSQLStore), a server session keeps an earlier client's
            # prepared statements, whose names psycopg would use again.
            unprepared = {'prepare_threshold': None} if self.read_only else {}
            return self.psycopg.connect(
                self.dsn, autocommit=True, options=options,
                connect_timeout=10, **unprepared)
        except self.psycopg.Error as error:
            message = '{}: cannot connect ({})'.format(
                self.name, _without_secrets(str(error), self.dsn))
            if 'unsupported startup parameter: options' in message:
                message += (
                    "; a connection pooler (pgbouncer) refuses the "
                    "parameter by which blocks_log sets synchronous_commit,"
                    " its isolation and read-only: connect to the server "
                    "directly, or add options to the pooler's "
                    "ignore_startup_parameters (the server's settings then "
                    "hold), in session mode")
            raise LogDatabaseError(message)

    def _lost(self, error):
        # Whether `error` means the connection is gone (a server restart,
        # a network failure), rather than a statement that failed.
        connection = self._connection
        return connection is not None and (
            connection.closed or connection.broken) or isinstance(
                error, self.psycopg.errors.AdminShutdown)

    def run(self, work, writing=False):
        """Call ``work(connection)`` and return what it returns; if the
        connection is lost meanwhile, connect again (waiting up to
        :attr:`reconnect_for` for the server) and call it again, up to
        :data:`LOST_TRIES` calls in all: `work` must be idempotent (a
        transaction is).

        Raises
        ------
        LogWriteError
            If `writing` and the work fails otherwise, or loses the
            connection at each try (nothing of it is stored).
        LogDatabaseError
            If reading fails or loses the connection at each try, or the
            server does not come back.
        """
        deadline, tries = None, 0
        while True:
            try:
                connection = self.connection
                if writing:
                    transactions.began(connection, _in_transaction)
                return work(connection)
            except (KeyboardInterrupt, SystemExit):
                # Raised by a signal's handler anywhere in the driver's
                # code, it may leave a transaction open on the server, or
                # psycopg's count of those wrong (every later one failed):
                # the connection is closed, which rolls back, and made
                # again at the next use, as after a lost one.
                self.close()
                raise
            except self.psycopg.Error as error:
                if not self._lost(error):
                    raise (LogWriteError if writing else LogDatabaseError)(
                        '{}: {}'.format(self.name, _without_secrets(
                            str(error), self.dsn)))
                tries += 1
                if tries == LOST_TRIES:
                    raise (LogWriteError if writing else LogDatabaseError)(
                        '{}: the connection was lost at each of {} tries of '
                        'this {} ({})'.format(
                            self.name, tries, 'commit' if writing else 'read',
                            _without_secrets(str(error), self.dsn).strip()))
                deadline = deadline or time.monotonic() + self.reconnect_for
                self._reconnect(deadline, error)

    def _reconnect(self, deadline, error):
        self.close()
        while True:
            try:
                self.connection
                return
            except LogDatabaseError:
                if time.monotonic() > deadline:
                    raise LogDatabaseError(
                        '{}: the connection was lost ({}) and did not come '
                        'back'.format(self.name, _without_secrets(
                            str(error), self.dsn)))
                time.sleep(random.uniform(0.05, 0.25))

    def query(self, statement, parameters=(), binary=False):
        """The rows of one statement, in autocommit."""
        def work(connection):
            with connection.cursor(binary=binary) as cursor:
                cursor.execute(statement, parameters)
                return cursor.fetchall() if cursor.description else []
        return self.run(work)

    def close(self):
        """Close the connection (if this process opened it); safe twice."""
        if self._connection is not None and self._pid == os.getpid():
            try:
                self._connection.close()
            except self.psycopg.Error:
                pass
        self._connection = None
