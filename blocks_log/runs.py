"""Many runs at once: listing the runs of a source, naming one by a uuid
prefix, and opening a source (a database or a pickle) for reading.

Everything here reads: nothing creates or changes a file.

"""
import os

from blocks_log.errors import (AmbiguousRunError, LogDatabaseError,
                               LogError, UnknownRunError)
from blocks_log.log import TrainingLogBase
from blocks_log.pickles import find_log, load
from blocks_log.postgresql import PostgreSQLLog, is_postgresql
from blocks_log.stores.blocks import BlocksStore
from blocks_log.stores.postgresql import PostgreSQLStore
from blocks_log.stores.sqlite import SQLiteStore

SQLITE_MAGIC = b'SQLite format 3\x00'


def is_sqlite(path):
    """Whether the file at `path` is an SQLite database."""
    with open(path, 'rb') as f:
        return f.read(16) == SQLITE_MAGIC


def open_stores(database):
    """The stores of a database, opened read-only: blocks_log's, and
    Blocks' beside it (or ``None``).

    Parameters
    ----------
    database : str
        An SQLite file, or a ``postgresql://`` URL.

    Raises
    ------
    LogDatabaseError
        If it cannot be opened.

    """
    if is_postgresql(database):
        return PostgreSQLStore(database, read_only=True), None
    store = SQLiteStore(database, read_only=True)
    return store, BlocksStore(store.db) if store.has_blocks_tables else None


def list_runs(database):
    """Describe every run of a database, without writing to it.

    Parameters
    ----------
    database : str
        An SQLite file, or a ``postgresql://`` URL.

    Returns
    -------
    list of dict
        One per run, Blocks' first then ours, each in order of creation:
        ``uuid`` (hex), ``resumed_from``, ``created`` (seconds since the
        epoch, ``None`` for Blocks' runs), ``written_by`` (``'blocks_log'``
        or ``'blocks'``).

    Raises
    ------
    LogDatabaseError
        If the database does not exist, is not a database, or holds no
        runs.

    """
    store, blocks = open_stores(database)
    try:
        if store.version is None and blocks is None:
            raise LogDatabaseError('{}: is not a log database (no runs '
                                   'table)'.format(database))
        runs = []
        if blocks is not None:
            runs.extend(_describe(run, 'blocks') for run in blocks.runs())
        runs.extend(_describe(run, 'blocks_log') for run in store.runs())
        return runs
    finally:
        store.close()


def _one_run(database, run):
    # The uuid of `run` (a prefix), or of the only run of the database.
    if run is None:
        runs = list_runs(database)
        if len(runs) != 1:
            raise UnknownRunError(
                '{}: holds {} runs; name one (blocks-log runs {} lists '
                'them)'.format(database, len(runs), database))
        return runs[0]['uuid']
    return find_run(database, run)


def _describe(run, written_by):
    return {'uuid': run.uuid, 'resumed_from': run.parent,
            'created': run.created, 'written_by': written_by}


def find_run(database, prefix):
    """Return the full hex uuid of the run whose uuid starts with `prefix`.

    Raises
    ------
    UnknownRunError
        If no run matches (a ``KeyError``).
    AmbiguousRunError
        If several runs match; the message lists them.

    """
    prefix = str(prefix).lower().replace('-', '')
    matches = sorted(set(run['uuid'] for run in list_runs(database)
                         if run['uuid'].startswith(prefix)))
    if not matches:
        raise UnknownRunError('{}: no run with uuid {}...'.format(
            database, prefix))
    if len(matches) > 1:
        raise AmbiguousRunError('{}: {!r} names {} runs: {}'.format(
            database, prefix, len(matches), ', '.join(matches)))
    return matches[0]


def open_source(source, run=None, trusted=False):
    """Open a log for reading: a run of an SQLite database, or the log in a
    pickle (a pickled log, or a pickle holding one), or in a checkpoint tar
    of Blocks.

    Parameters
    ----------
    source : str
        A path, or a ``postgresql://`` URL.
    run : str, optional
        A uuid or uuid prefix; needed for a database of several runs.
    trusted : bool, optional
        Unpickle a pickle as :func:`pickle.load` would, running what it
        names (see :func:`blocks_log.load`).

    Returns
    -------
    TrainingLogBase
        Read-only if it is a database's.

    Raises
    ------
    LogDatabaseError
        If the file is missing, a directory, or neither a log database nor a
        pickle holding a log.
    UnknownRunError, AmbiguousRunError
        If `run` names no run or several, or is needed and missing.

    """
    from blocks_log.sqlite import SQLiteLog
    if is_postgresql(source):
        return PostgreSQLLog(source, uuid=_one_run(source, run),
                             read_only=True)
    if os.path.isdir(source):
        raise LogDatabaseError('{}: is a directory, not a log'.format(source))
    if not os.path.isfile(source):
        raise LogDatabaseError('{}: no such file'.format(source))
    if is_sqlite(source):
        return SQLiteLog(source, uuid=_one_run(source, run), read_only=True)
    try:
        log = find_log(load(source, trusted=trusted))
    except LogError:
        raise
    except Exception as error:
        raise LogDatabaseError('{}: not a log database nor a pickled log '
                               '({}: {})'.format(source, type(error).__name__,
                                                 error))
    if not isinstance(log, TrainingLogBase):
        raise LogDatabaseError('{}: the pickle holds no training log'.format(
            source))
    if run is not None and not log.h_uuid.startswith(
            str(run).lower().replace('-', '')):
        raise UnknownRunError('{}: holds run {}, not {}'.format(
            source, log.h_uuid, run))
    return log
