"""Many runs at once: listing the runs of a SOURCE, naming one by a uuid
prefix, opening a SOURCE for reading, and reading several runs into one
DataFrame, or comparing them.

A SOURCE is an SQLite file, a ``postgresql://`` URL, a pickle holding a
log, or a checkpoint of Blocks.

Everything here reads: nothing creates or changes a file.

"""
import os

from blocks_log import analysis
from blocks_log.base import TrainingLogBase
from blocks_log.errors import (AmbiguousRunError, LogDatabaseError,
                               LogError, UnknownRunError)
from blocks_log.pickles import find_log, load
from blocks_log.postgresql import PostgreSQLLog, is_postgresql
from blocks_log.stores import base
from blocks_log.stores.blocks import BlocksStore
from blocks_log.stores.postgresql import PostgreSQLStore
from blocks_log.stores.sqlite import SQLiteStore

SQLITE_MAGIC = b'SQLite format 3\x00'
#: Names the run started last, wherever a run is named (no uuid prefix
#: can be mistaken for it: it is not hex).
LAST = 'last'


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


class Run(object):
    """What a run is, at a glance.

    Attributes
    ----------
    uuid : str
        32 hex digits.
    parent : str or None
        The uuid it was resumed from.
    created : float or None
        When it was started, in seconds since the epoch (``None`` for runs
        of Blocks and logs of pickles).
    iterations, epochs : int or None
        ``status['iterations_done']`` and ``status['epochs_done']``.
    rows : int
        Times at which it holds a value (of its own, not of its parents).
    keys : list of str
        The keys it logged, sorted.
    last_time : int or None
        The last time at which it holds a value.
    writer : str or None
        Who writes it now (``'process 12 on host h'``), if anyone.
    written_by : str
        ``'blocks_log'``, ``'blocks'`` (Blocks' own tables) or ``'pickle'``.

    """
    FIELDS = ('uuid', 'parent', 'created', 'iterations', 'epochs', 'rows',
              'keys', 'last_time', 'writer', 'written_by')

    def __init__(self, **fields):
        vars(self).update(dict.fromkeys(self.FIELDS), **fields)

    def as_dict(self):
        """dict: the fields, for JSON and DataFrames."""
        return dict((name, getattr(self, name)) for name in self.FIELDS)

    def __getitem__(self, name):
        # run['uuid'], as the dicts of earlier releases.
        return getattr(self, name)

    def __repr__(self):
        return '<Run {} ({} iterations)>'.format(self.uuid, self.iterations)


def list_runs(source, trusted=False):
    """Describe every run of a SOURCE, without writing to it.

    Parameters
    ----------
    source : str
        An SQLite file, a ``postgresql://`` URL, or a pickle or checkpoint
        holding a log (one run).
    trusted : bool, optional
        Unpickle a pickle as :func:`pickle.load` would.

    Returns
    -------
    list of Run
        Blocks' runs first, then ours, each in order of creation.

    Raises
    ------
    LogDatabaseError
        If the source does not exist, or is no log database nor pickle.

    """
    if not is_database(source):
        log = open_source(source, trusted=trusted)
        times = sorted(log)
        return [Run(uuid=log.h_uuid, parent=log.status.get('resumed_from'),
                    iterations=log.status.get('iterations_done'),
                    epochs=log.status.get('epochs_done'),
                    rows=len([t for t in times if len(log[t])]),
                    keys=sorted(set(key for _, key, _ in log.records())),
                    last_time=times[-1] if times else None,
                    written_by='pickle')]
    store, blocks = open_stores(source)
    try:
        if store.version is None and blocks is None:
            raise LogDatabaseError('{}: is not a log database (no runs '
                                   'table)'.format(source))
        runs = []
        for each, written_by in ((blocks, 'blocks'), (store, 'blocks_log')):
            if each is not None:
                runs.extend(_summary(each, run, written_by)
                            for run in each.runs())
        return runs
    finally:
        store.close()


def _summary(store, run, written_by):
    # What the run's last writer saved when done; read from the run if it
    # saved nothing (a run being written, or whose writer was killed).
    summary = base.summary_of(run) or store.summarize(run)
    writer = None
    if run.writer is not None:
        from blocks_log.stores import claims
        writer = claims.describe(run.writer)
    return Run(uuid=run.uuid, parent=run.parent, created=run.created,
               writer=writer, written_by=written_by, **summary)


def is_database(source):
    """Whether `source` names a database (a ``postgresql://`` URL, or an
    SQLite file), rather than a pickle or a checkpoint."""
    return is_postgresql(source) or (os.path.isfile(source) and
                                     is_sqlite(source))


def _one_run(database, run):
    # The uuid of `run` (a prefix), or of the only run of the database.
    if run is None:
        runs = _runs(database)
        if len(runs) != 1:
            raise UnknownRunError(
                '{}: holds {} runs; name one (blocks-log runs {} lists '
                'them)'.format(database, len(runs), database))
        return runs[0].uuid
    return find_run(database, run)


def _runs(database):
    # The runs of a database, without reading them.
    store, blocks = open_stores(database)
    try:
        return (blocks.runs() if blocks else []) + store.runs()
    finally:
        store.close()


def find_run(database, prefix):
    """Return the full hex uuid of the run whose uuid starts with `prefix`,
    or of the run started last when `prefix` is ``'last'``.

    Raises
    ------
    UnknownRunError
        If no run matches (a ``KeyError``).
    AmbiguousRunError
        If several runs match; the message lists them.

    """
    prefix = str(prefix).lower().replace('-', '')
    found = _runs(database)
    if prefix == LAST and found:
        return found[-1].uuid
    matches = sorted(set(run.uuid for run in found
                         if run.uuid.startswith(prefix)))
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


def close_source(log):
    """Close a log :func:`open_source` gave (a log from a pickle may be of
    a class without ``close``)."""
    getattr(log, 'close', lambda: None)()


def read_runs(source, runs=None, keys=None, start=None, stop=None,
              trusted=False):
    """Each run's values, through its lineage: a list of ``(uuid, {key:
    series})`` (see :mod:`blocks_log.series`).

    Parameters
    ----------
    source : str
        A SOURCE (see :func:`list_runs`).
    runs : list of str, optional
        Uuids or unique prefixes; every run of the source by default.
    keys : list of str, optional
        Only these keys.
    start, stop : int, optional
        Only times ``start <= time < stop``.
    trusted : bool, optional
        Unpickle a pickled SOURCE as :func:`pickle.load` would.

    Raises
    ------
    LogError
        If the source or a run cannot be found or read.
    TypeError, ValueError
        If `keys`, `start` or `stop` are not what they should be.

    """
    if runs is None:
        runs = [run.uuid for run in list_runs(source, trusted)] if (
            is_database(source)) else [None]
    found = []
    for run in runs:
        log = open_source(source, run, trusted=trusted)
        try:
            found.append((log.h_uuid, log.series(keys, start, stop)))
        finally:
            close_source(log)
    return found


def runs_dataframe(source, runs=None, keys=None, start=None, stop=None,
                   long=False, trusted=False):
    """One :class:`pandas.DataFrame` of several runs (see
    :func:`read_runs` for the parameters).

    Wide by default: a ``(run, time)`` index, one column per key. With
    `long`, one row per value: columns ``run``, ``time``, ``key``,
    ``value`` (what tbparse gives, and seaborn takes).

    Raises
    ------
    ImportError
        If pandas is not installed.
    LogError, TypeError, ValueError
        As :func:`read_runs`.

    """
    pandas = analysis.import_pandas()
    return analysis.runs_to_dataframe(
        pandas, read_runs(source, runs, keys, start, stop, trusted), long)


def runs_table(source, trusted=False):
    """:func:`list_runs` as a :class:`pandas.DataFrame`, one row per run,
    indexed by uuid.

    Raises
    ------
    ImportError
        If pandas is not installed.
    """
    pandas = analysis.import_pandas()
    rows = [run.as_dict() for run in list_runs(source, trusted)]
    return pandas.DataFrame(rows, columns=list(Run.FIELDS)).set_index(
        'uuid')


def compare(source, runs, keys=None, trusted=False):
    """For each run and key: how many values, the first and last time, the
    last value, and the smallest and largest with their times (numbers
    only; ``None`` where a key holds none).

    Returns
    -------
    list of dict
        Keys ``run``, ``key``, ``count``, ``first_time``, ``last_time``,
        ``last``, ``min``, ``min_time``, ``max``, ``max_time``.

    Raises
    ------
    LogError, TypeError, ValueError
        As :func:`read_runs`.
    """
    table = []
    for uuid, columns in read_runs(source, runs, keys, trusted=trusted):
        for key in sorted(columns):
            times, values = columns[key]
            numbers = [(value, time) for time, value in zip(times, values)
                       if analysis.is_number(value) and value == value]
            table.append({
                'run': uuid, 'key': key, 'count': len(times),
                'first_time': times[0] if len(times) else None,
                'last_time': times[-1] if len(times) else None,
                'last': values[-1] if len(times) else None,
                'min': min(numbers)[0] if numbers else None,
                'min_time': min(numbers)[1] if numbers else None,
                'max': max(numbers)[0] if numbers else None,
                'max_time': max(numbers, key=lambda item: (
                    item[0], -item[1]))[1] if numbers else None})
    return table
