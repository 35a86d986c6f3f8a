"""The training log: the in-memory backend, with its abstract base.

Mirrors Blocks' ``blocks.log.log`` so that ``from blocks.log.log import
TrainingLog`` ports by renaming the package; pickles name
``blocks_log.log.TrainingLog``.

"""
from collections import defaultdict

from blocks_log import analysis
from blocks_log.base import TrainingLogBase, check_time, default_status
from blocks_log.selection import check_keys, check_range, in_range

__all__ = ['TrainingLogBase', 'TrainingLog', 'check_time', 'default_status']

# The rows in the state of a TrainingLog pickled by blocks_log 0.1.
_ROWS = '__rows__'
_INT_ONLY = {int}
_NAN = float('nan')
_dict_get = dict.get
_dict_getitem = dict.__getitem__
_dict_setdefault = dict.setdefault
_dict_setitem = dict.__setitem__


class _AllRows(object):
    """The key under which a pickled :class:`TrainingLog` holds all its
    rows, as one dict item: pickled by name, so that a pickle names this
    very object, and no time can be it."""
    __slots__ = ()

    def __reduce__(self):
        return '_ALL_ROWS'

    def __repr__(self):
        return 'blocks_log.log._ALL_ROWS'


_ALL_ROWS = _AllRows()


class TrainingLog(defaultdict, TrainingLogBase):
    """Training log using a :class:`~collections.defaultdict` as backend.

    ``log[time]`` of a time that was never written creates an empty row,
    as for any ``defaultdict(dict)`` (``default_factory`` and a subclass's
    ``__missing__`` are honoured); iterating over the log yields the times
    of every row created so far, in the order they were created.
    :attr:`~TrainingLogBase.status` is a plain dict in the instance's
    ``__dict__``, as in Blocks.

    Pickles with its rows, :attr:`status` and :attr:`uuid` on every pickle
    protocol. Pickles written by Blocks' ``blocks.log.TrainingLog`` load
    through :func:`blocks_log.load`.

    Notes
    -----
    For analysis, :meth:`~TrainingLogBase.to_dataframe` turns the log into a
    Pandas_ data frame, as does the Blocks way:

    .. code:: python

        df = DataFrame.from_dict(log, orient='index')

    .. _Pandas: https://pandas.pydata.org

    """
    def __init__(self):
        defaultdict.__init__(self, dict)
        self.status = {}
        TrainingLogBase.__init__(self)

    @property
    def current_row(self):
        """The row of ``status['iterations_done']``.

        The hot path of a training loop (``log.current_row[key] = value``),
        in one Python frame: the row is looked up by ``dict`` itself, and
        only a row not made yet goes through :meth:`__missing__`, which
        checks the time. So a time that is not an ``int`` but equals one
        (``2.0``) finds that time's row if it exists, where Blocks raised
        ``ValueError``; checking its type here cost 10% of the whole loop
        (callgrind, ``benchmarks/bench_memory.py``).

        """
        return _dict_getitem(self, self.status['iterations_done'])

    def __init_subclass__(cls, **kwargs):
        super(TrainingLog, cls).__init_subclass__(**kwargs)
        if (cls.__missing__ is not TrainingLog.__missing__ and
                cls.__getitem__ is TrainingLog.__getitem__):
            # The fast path below makes rows itself; a subclass's own
            # __missing__ makes them instead.
            cls.__getitem__ = TrainingLog._getitem_through_missing

    def __getitem__(self, time):
        if type(time) is not int or time < 0:
            time = check_time(time)
        row = _dict_get(self, time)
        if row is None:
            # The row is made here rather than by __missing__, a Python
            # frame called from C that cost 15% of the fetched-row loop
            # (callgrind, bench_memory.py).
            if self.default_factory is not dict:
                return _dict_getitem(self, time)
            row = _dict_setdefault(self, time, {})  # a row may be None
        return row

    def _getitem_through_missing(self, time):
        return _dict_getitem(self, check_time(time))

    def __missing__(self, time):
        """Make the row of a time never written, as ``defaultdict`` does.

        Raises
        ------
        ValueError
            If `time` is not a non-negative integer.
        KeyError
            If ``default_factory`` is ``None``.

        """
        if type(time) is not int or time < 0:
            time = check_time(time)
        factory = self.default_factory
        if factory is dict:
            row = {}
        elif factory is None:
            raise KeyError(time)
        else:
            row = factory()
        _dict_setitem(self, time, row)
        return row

    def __setitem__(self, time, row):
        if time is _ALL_ROWS:  # unpickling: every row at once
            self._set_rows(row)
            return
        _dict_setitem(self, check_time(time), row)

    def __reduce__(self):
        # What Blocks returned: the class, no constructor arguments, the
        # instance's attributes (status and uuid) as state, no list items,
        # and the rows as dict items; so that a subclass that extends this
        # as Blocks' own did (``constructor, args, _, _, items = super()
        # .__reduce__()``) pickles its rows. But one item holds every row,
        # set by one C call, where Blocks' rows one by one through
        # __setitem__ unpickled at 1.7-2.1x the time of a plain dict (issue
        # 11). Pickles of Blocks' layout, and of blocks_log 0.1's (the rows
        # in the state), load too.
        return self.__class__, (), vars(self), None, iter(
            [(_ALL_ROWS, dict(self))])

    def __setstate__(self, state):
        state = dict(state)
        rows = state.pop(_ROWS, None)
        vars(self).update(state)
        if rows:
            self._set_rows(rows)

    def _set_rows(self, rows):
        # The times checked in C: a pickle may come from anywhere.
        if set(map(type, rows)) != _INT_ONLY or min(rows) < 0:
            rows = dict((check_time(time), row) for time, row in rows.items())
        dict.update(self, rows)

    def to_dataframe(self, keys=None, start=None, stop=None):
        """As :meth:`TrainingLogBase.to_dataframe`; pandas reads the rows
        themselves, in half the time of ``DataFrame.from_dict(log,
        orient='index')`` (``benchmarks/bench_memory.py``)."""
        keys = check_keys(keys)
        start, stop = check_range(start, stop)
        pandas = analysis.import_pandas()
        if start is None and stop is None:
            times = sorted(time for time, row in dict.items(self) if row)
        else:
            times = sorted(time for time, row in dict.items(self) if row and
                           in_range(time, start, stop))
        if keys is not None:
            wanted = set(keys)
            times = [time for time in times
                     if not wanted.isdisjoint(_dict_getitem(self, time))]
        index = analysis.time_index(pandas, times)
        if not times:
            return pandas.DataFrame(index=index, columns=keys)
        rows = [_dict_getitem(self, time) for time in times]
        return analysis.keep_ints_exact(
            pandas.DataFrame(rows, index=index, columns=keys),
            lambda key: pandas.Series([row.get(key, _NAN) for row in rows],
                                      index=index, dtype=object))

    def __copy__(self):
        copy = self.__class__()
        vars(copy).update(vars(self))
        copy.status = dict(self.status)
        dict.update(copy, self)
        return copy

    def copy(self):
        """Return a shallow copy: same uuid, a copy of the status, the same
        row objects."""
        return self.__copy__()

    def flush(self):
        """Do nothing: nothing is buffered (as a persistent log's
        ``flush()``, so that a loop runs on either)."""

    def close(self):
        """Do nothing: nothing is open (as a persistent log's ``close()``,
        so that a loop runs on either). The log stays usable."""

    def __enter__(self):
        return self

    def __exit__(self, *exc_info):
        self.close()

    def __ior__(self, other):
        self.update(other)
        return self

    def update(self, *args, **kwargs):
        """Set rows from a mapping or pairs, checking every time.

        Raises
        ------
        ValueError
            If a time is not a non-negative integer; no row is set then.

        """
        rows = [(check_time(time), row)
                for time, row in dict(*args, **kwargs).items()]
        dict.update(self, rows)

    def setdefault(self, time, row=None):
        """``log.setdefault(time, row)``, checking `time`.

        Raises
        ------
        ValueError
            If `time` is not a non-negative integer.

        """
        return dict.setdefault(self, check_time(time), row)
