"""Many runs at once: listing the runs of a SOURCE, naming one, opening one
for reading, and reading several runs into one DataFrame, or comparing
them.

A SOURCE is an SQLite file, a ``postgresql://`` URL, a pickle holding a
log, or a checkpoint of Blocks; each function here opens it once, as a
:class:`~blocks_log.sources.Source` (which a command or a page holding
one already can call itself).

Everything here reads: nothing creates or changes a file.

"""
from blocks_log import analysis, numeric
from blocks_log.sources import LAST, Run, Source, is_postgresql, is_sqlite
from blocks_log.tables import windows_of

__all__ = ['LAST', 'Run', 'compare', 'find_run', 'is_database', 'is_sqlite',
           'list_runs', 'open_source', 'read_runs', 'runs_dataframe',
           'runs_table']


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
    with Source(source, trusted) as opened:
        return opened.runs()


def is_database(source):
    """Whether `source` names a database (a ``postgresql://`` URL, or an
    SQLite file), rather than a pickle or a checkpoint."""
    return is_postgresql(source) or is_sqlite(source)


def find_run(source, name):
    """Return the full hex uuid of the run that `name` names in a SOURCE:
    its uuid, a unique prefix of it, or ``'last'``, the run started last.

    Raises
    ------
    UnknownRunError
        If no run matches (a ``KeyError``).
    AmbiguousRunError
        If several runs match; the message lists them.
    LogDatabaseError
        If the source cannot be read.

    """
    with Source(source) as opened:
        return opened.find(name)


def open_source(source, run=None, trusted=False):
    """Open a log for reading: a run of a database (read-only), or the log
    in a pickle (a pickled log, or a pickle holding one), or in a
    checkpoint tar of Blocks. Close it when done (:func:`close_source`).

    Parameters
    ----------
    source : str
        A path, or a ``postgresql://`` URL.
    run : str, optional
        A uuid, a unique prefix of it, or ``'last'``; needed for a database
        of several runs.
    trusted : bool, optional
        Unpickle a pickle as :func:`pickle.load` would, running what it
        names (see :func:`blocks_log.load`).

    Returns
    -------
    TrainingLogBase

    Raises
    ------
    LogDatabaseError
        If the file is missing, a directory, or neither a log database nor a
        pickle holding a log.
    UnknownRunError, AmbiguousRunError
        If `run` names no run or several, or is needed and missing.

    """
    opened = Source(source, trusted)
    if not opened.is_database:
        try:
            opened.find(run)
        except BaseException:
            opened.close()
            raise
        return opened.open()
    try:
        uuid = opened.find(run)
    finally:
        opened.close()
    if opened.kind == 'postgresql':
        from blocks_log.postgresql import PostgreSQLLog
        return PostgreSQLLog(source, uuid=uuid, read_only=True)
    from blocks_log.sqlite import SQLiteLog
    return SQLiteLog(source, uuid=uuid, read_only=True)


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
    source : str or Source
        A SOURCE (see :func:`list_runs`), or one opened already.
    runs : list of str, optional
        Uuids, unique prefixes or ``'last'``; every run of the source by
        default.
    keys : list of str, optional
        Only these keys.
    start, stop : int (numpy's too), optional
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
    if isinstance(source, Source):
        return _read_runs(source, runs, keys, start, stop)
    with Source(source, trusted) as opened:
        return _read_runs(opened, runs, keys, start, stop)


def _read_runs(source, runs, keys, start, stop):
    return [source.read(uuid, keys, start, stop)
            for uuid in _uuids(source, runs)]


def _uuids(source, runs):
    # The uuids of `runs` (names), or of every run of `source`.
    return source.uuids() if runs is None else [source.find(run)
                                                for run in runs]


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
    indexed by uuid; ``created`` as a time (``NaT`` where unknown).

    Raises
    ------
    ImportError
        If pandas is not installed.
    """
    pandas = analysis.import_pandas()
    rows = [run.as_dict() for run in list_runs(source, trusted)]
    table = pandas.DataFrame(rows, columns=list(Run.FIELDS))
    table['created'] = pandas.to_datetime(table['created'], unit='s')
    return table.set_index('uuid')


def compare(source, runs, keys=None, trusted=False):
    """For each run and key: how many values, the first and last time, the
    last value, and the smallest and largest with their times (of the
    values that are numbers, NaN left out; ``None`` where a key holds
    none). Each run is read a window of times at a time (see
    :func:`blocks_log.tables.windows_of`): what this holds at once does not
    grow with the runs.

    Returns
    -------
    list of dict
        Keys ``run``, ``key``, ``count``, ``first_time``, ``last_time``,
        ``last``, ``min``, ``min_time``, ``max``, ``max_time``; runs in the
        order given (of the source, by default), and each run's keys
        sorted: every key of `keys`, or each key that holds a value.

    Raises
    ------
    LogError, TypeError, ValueError
        As :func:`read_runs`.
    """
    if isinstance(source, Source):
        return _compare(source, runs, keys)
    with Source(source, trusted) as opened:
        return _compare(opened, runs, keys)


def _compare(source, runs, keys):
    table = []
    for uuid in _uuids(source, runs):
        log = source.open(uuid)
        found = dict((key, _Summary()) for key in keys or ())
        for columns in windows_of(log, keys, strict=source.strict):
            for key, (times, values) in columns.items():
                if len(times):
                    if key not in found:
                        found[key] = _Summary()
                    found[key].add(times, values)
        table.extend(found[key].row(log.h_uuid, key) for key in sorted(found))
    return table


def _largest_earliest(item):
    # Of (value, time) pairs, the largest value, and of equal ones the
    # earliest time.
    return item[0], -item[1]


class _Summary(object):
    # What compare() says of a key of a run, gathered a window at a time.

    def __init__(self):
        self.count = 0
        self.first_time = self.last_time = self.last = None
        self.smallest = self.largest = None  # (value, time)

    def add(self, times, values):
        # The series (`times`, `values`) of a window after the last added.
        if not self.count:
            self.first_time = times[0]
        self.count += len(times)
        self.last_time, self.last = times[-1], values[-1]
        numbers = [(value, time) for time, value in zip(times, values)
                   if numeric.orders(value)]
        if not numbers:
            return
        smallest = min(numbers)
        largest = max(numbers, key=_largest_earliest)
        if self.smallest is not None:
            smallest = min(self.smallest, smallest)
            largest = max(self.largest, largest, key=_largest_earliest)
        self.smallest, self.largest = smallest, largest

    def row(self, uuid, key):
        smallest = self.smallest or (None, None)
        largest = self.largest or (None, None)
        return {'run': uuid, 'key': key, 'count': self.count,
                'first_time': self.first_time, 'last_time': self.last_time,
                'last': self.last, 'min': smallest[0],
                'min_time': smallest[1], 'max': largest[0],
                'max_time': largest[1]}
