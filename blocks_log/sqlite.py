"""The persistent backend: a training log in an SQLite database.

Mirrors Blocks' ``blocks.log.sqlite``: :class:`SQLiteLog`, and its rows
and status under the names Blocks gave them (:data:`SQLiteEntry`,
:data:`SQLiteStatus`).

"""
import os

from blocks_log.database import DatabaseLog, check_options
from blocks_log.database.views import DatabaseRow, DatabaseStatus
from blocks_log.errors import UnknownRunError
from blocks_log.stores.sqlite import SQLiteStore

DEFAULT_DATABASE = os.path.join('~', 'blocks_log.sqlite')

#: Blocks' name for a row of an SQLite log.
SQLiteEntry = DatabaseRow
#: Blocks' name for the status of an SQLite log.
SQLiteStatus = DatabaseStatus


def default_database():
    """The database a log uses when none is given (Blocks' defaults).

    Returns
    -------
    str
        ``$BLOCKS_SQLITEDB`` if set, else ``~/blocks_log.sqlite``.

    """
    return os.path.expanduser(os.environ.get('BLOCKS_SQLITEDB',
                                             DEFAULT_DATABASE))


class SQLiteLog(DatabaseLog):
    """Training log stored in an SQLite database.

    A :class:`~blocks_log.database.DatabaseLog` (buffered writes, lineage,
    one writer per run, nothing lost by a crash, a fork or a dropped
    handle) over :class:`~blocks_log.stores.sqlite.SQLiteStore`. One file
    holds many runs; several processes may write their own runs into it at
    once while others read, and runs written by Blocks' own ``SQLiteLog``
    in the same file are read as they are.

    .. warning::

        Durability: after a crash of the process (``kill -9`` included),
        every iteration that was completed (whose
        ``status['iterations_done']`` was advanced past) reads back whole and
        the file opens cleanly. After a power loss or OS crash with the
        default ``synchronous='NORMAL'``, the file stays consistent but the
        last commits may be lost; ``synchronous='FULL'`` keeps them too, at
        the cost of one disk sync per iteration. ``commit_every=N`` commits
        every N iterations only, and may lose up to N-1 of them in a crash;
        ``commit_seconds=S`` commits at least every S seconds (alone, only
        then, and at an iteration's end past 2,048 values waiting), and may
        lose up to S seconds of them.

    Parameters
    ----------
    database : str, optional
        A path or ``':memory:'``; by default ``$BLOCKS_SQLITEDB``, else
        ``~/blocks_log.sqlite``.
    uuid : :class:`uuid.UUID` or str, optional
        Open this existing run: its uuid (a str may be its hex form), a
        unique prefix of it, or ``'last'`` (the run started last). Without
        it a new run is started. This and every later option is
        keyword-only, and checked here.
    read_only : bool, optional
        Open without ever writing, creating or changing the file (needs
        `uuid`): what the command line does. Sees each iteration another
        process commits. A file on read-only media opens this way.
    allow_pickle : bool, optional
        Pickle values that have no encoding of their own, and unpickle them
        when reading. Off by default: a database is data, and a pickle in it
        could run code.
    synchronous : {'NORMAL', 'FULL', 'EXTRA'}, optional
    commit_every : int, optional
        Commit when the iteration advances this many times; by default each
        time, or, with `commit_seconds`, never for a count (see
        :class:`~blocks_log.database.DatabaseLog`).
    commit_seconds : float, optional
        Commit at least this often (see
        :class:`~blocks_log.database.DatabaseLog`): a crash loses at most
        this many seconds of iterations. Alone, commits come with time
        (the usual choice for long runs); with `commit_every`, whichever
        comes first.

    Attributes
    ----------
    database : str
        The path, as given.
    conn : sqlite3.Connection
        The connection (Blocks' name); use it to read, never to write.

    Raises
    ------
    TypeError, ValueError
        If an option is of the wrong type or out of range, or `database`
        is empty.
    UnknownRunError
        If `uuid` names no run of the database, or the file does not exist
        (a ``KeyError``); nothing is created then.
    LogDatabaseError
        If the file is not a database, is corrupt, is not a regular file
        (a directory, ``/dev/null``), or cannot be opened (a
        ``ValueError``; the message says why where the file system tells,
        and of an I/O error on a full disk gives the bytes left); or if
        Python's ``sqlite3`` module has an SQLite older than 3.24.
    SchemaVersionError
        If the file was written by a newer blocks_log.
    RunInUseError
        If another handle writes that run, or another machine writes any
        run of the file (a file on a network filesystem).
    LogWriteError
        If a new run cannot be written (an ``OSError``: a read-only file, a
        full disk; a process forked by a signal's handler half-way through
        its parent's commit to the file, see
        :class:`~blocks_log.database.DatabaseLog`).

    Warns
    -----
    RuntimeWarning
        Opened `read_only` while another machine writes a run of the file:
        what is read may be out of date.

    """
    def __init__(self, database=None, *, uuid=None, read_only=False,
                 allow_pickle=False, synchronous='NORMAL',
                 commit_every=None, commit_seconds=None):
        check_options(read_only, commit_every, commit_seconds)
        if not isinstance(allow_pickle, bool):
            raise TypeError('allow_pickle must be True or False, got '
                            '{!r}'.format(allow_pickle))
        if database is None:
            database = default_database()
        if not isinstance(database, (str, os.PathLike)):
            raise TypeError('database must be a path, got {!r}'.format(
                database))
        database = os.fspath(database)
        if not database:
            # sqlite3 would make a temporary file; the path made absolute
            # would name the working directory.
            raise ValueError("database must be a path or ':memory:', got "
                             "''")
        if uuid is not None:
            if database != ':memory:' and not read_only and not (
                    os.path.exists(database)):
                # Before anything is made: a failed open creates no file.
                raise UnknownRunError('{}: no such file, so no run {}'.format(
                    database, getattr(uuid, 'hex', uuid)))
        self.database = database
        store = SQLiteStore(database, read_only=read_only,
                            synchronous=synchronous,
                            allow_pickle=allow_pickle)
        blocks = None
        if store.has_blocks_tables:  # imported only for such a file
            from blocks_log.stores.blocks import BlocksStore
            blocks = BlocksStore(store.db, allow_pickle=allow_pickle)
        try:
            DatabaseLog.__init__(self, store, blocks, uuid=uuid,
                                 read_only=read_only,
                                 commit_every=commit_every,
                                 commit_seconds=commit_seconds)
        except BaseException:
            store.close()
            raise

    @property
    def conn(self):
        """The :class:`sqlite3.Connection` of this log (Blocks' name)."""
        return self._session.store.connection

    @property
    def allow_pickle(self):
        """bool: whether pickled values are unpickled when read."""
        return self._session.allow_pickle

    def _reopen_arguments(self):
        store = self._session.store
        database = self.database
        if database != ':memory:':
            # A checkpoint may be loaded from another directory.
            database = os.path.abspath(database)
        return {'database': database, 'allow_pickle': store.allow_pickle,
                'synchronous': store.db.synchronous}

    @property
    def in_memory(self):
        """bool: whether the database is ``':memory:'``, which nothing
        outlives."""
        return self.database == ':memory:'

    def __setstate__(self, state):
        if 'database' in state and 'commit_every' not in state:
            # Pickled by Blocks: its attributes, the connection left out.
            state = {'database': state['database'],
                     'uuid': state['uuid'], 'read_only': False}
        DatabaseLog.__setstate__(self, state)
