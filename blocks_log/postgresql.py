"""The training log on a PostgreSQL server, for runs on many machines.

:class:`PostgreSQLLog` is the log of :class:`~blocks_log.sqlite.SQLiteLog`
(same lineage, pickling, values, status, one writer per run) over
:class:`~blocks_log.stores.postgresql.PostgreSQLStore`. It needs psycopg 3:
``pip install 'blocks-log[postgresql]'``.

"""
from blocks_log.database import DatabaseLog, check_options
from blocks_log.stores.postgresql import PostgreSQLStore
from blocks_log.stores.postgresql_connection import (default_dsn,
                                                     without_password)


class PostgreSQLLog(DatabaseLog):
    """Training log stored in a PostgreSQL database.

    .. warning::

        Durability: every completed iteration is committed, as one
        statement, when ``status['iterations_done']`` moves past it. With
        the default ``synchronous_commit='on'`` a committed iteration
        survives a crash of the server or its machine; with ``'off'`` (2-3x
        the write speed) a crash of the server's machine may lose the last
        few hundred milliseconds of commits, though never leave a partial
        one. A crash of the training process loses nothing committed, and
        a connection lost or a server restarted meanwhile loses nothing
        either: the buffer is kept, and committed once the server answers
        again (commits wait for it up to ten minutes).

    Parameters
    ----------
    dsn : str, optional
        A libpq connection string or ``postgresql://`` URL; by default
        ``$BLOCKS_LOG_DSN``, else libpq's ``PG*`` environment variables.
    uuid : :class:`uuid.UUID` or str, optional
        Open this existing run: its uuid, a unique prefix of it, or
        ``'last'``. Without it a new run is started. This and
        every later option is keyword-only, and checked here.
    read_only : bool, optional
        Open a run without ever writing (every transaction read-only).
    allow_pickle : bool, optional
        As for :class:`~blocks_log.sqlite.SQLiteLog`.
    synchronous_commit : {'on', 'off', 'local', 'remote_write', \
'remote_apply'}, optional
    commit_every : int, optional
    commit_seconds : float, optional
        As for :class:`~blocks_log.sqlite.SQLiteLog`: by default a commit
        each iteration; `commit_seconds` alone commits with time.

    Attributes
    ----------
    dsn : str
        As given (a pickle keeps it without its password, which comes
        again from ``PGPASSWORD`` or ``~/.pgpass``).

    Raises
    ------
    TypeError, ValueError
        If an option is of the wrong type or out of range.
    LogDatabaseError
        If the server cannot be reached, refuses the connection (a wrong
        password, an unknown database) or the DSN is not one: the message
        names the host and database, never the password.
    UnknownRunError, RunInUseError, SchemaVersionError, LogWriteError
        As for :class:`~blocks_log.sqlite.SQLiteLog`.
    ImportError
        If psycopg is not installed.

    """
    def __init__(self, dsn=None, *, uuid=None, read_only=False,
                 allow_pickle=False, synchronous_commit='on',
                 commit_every=None, commit_seconds=None):
        check_options(read_only, commit_every, commit_seconds)
        if not isinstance(allow_pickle, bool):
            raise TypeError('allow_pickle must be True or False, got '
                            '{!r}'.format(allow_pickle))
        if dsn is None:
            dsn = default_dsn()
        if not isinstance(dsn, str):
            raise TypeError('dsn must be a str, got {!r}'.format(dsn))
        self.dsn = dsn
        store = PostgreSQLStore(dsn, read_only=read_only,
                                synchronous_commit=synchronous_commit,
                                allow_pickle=allow_pickle)
        try:
            DatabaseLog.__init__(
                self, store, uuid=uuid,
                read_only=read_only, commit_every=commit_every,
                commit_seconds=commit_seconds)
        except BaseException:
            store.close()
            raise

    @property
    def allow_pickle(self):
        """bool: whether pickled values are unpickled when read."""
        return self._session.allow_pickle

    def _reopen_arguments(self):
        store = self._session.store
        return {'dsn': without_password(self.dsn),
                'allow_pickle': store.allow_pickle,
                'synchronous_commit': store.db.synchronous_commit}
