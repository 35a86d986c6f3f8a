"""The training log: its abstract base and the in-memory backend.

Mirrors Blocks' ``blocks.log.log`` so that ``from blocks.log.log import
TrainingLog`` ports by renaming the package.

"""
import operator
from abc import ABCMeta, abstractmethod
from collections import defaultdict
from numbers import Integral
from uuid import uuid4

import six

from blocks_log import analysis
from blocks_log.errors import RowNotAvailableError

_dict_get = dict.get
_dict_setdefault = dict.setdefault
_dict_setitem = dict.__setitem__


def default_status():
    """Return the status of a new log (Blocks' defaults).

    Returns
    -------
    dict
        ``iterations_done=0``, ``epochs_done=0``, ``_epoch_ends=[]`` and
        ``resumed_from=None``.

    """
    return {'iterations_done': 0, 'epochs_done': 0, '_epoch_ends': [],
            'resumed_from': None}


def check_time(time):
    """Return `time` as an ``int`` if it is a valid time, else raise.

    Parameters
    ----------
    time : numbers.Integral
        An iteration number; numpy integers and ``bool`` are accepted as
        Blocks accepted them.

    Returns
    -------
    int

    Raises
    ------
    ValueError
        If `time` is not an integral number or is negative.

    """
    if not isinstance(time, Integral) or time < 0:
        raise ValueError("time must be a non-negative integer, got {!r}"
                         .format(time))
    return operator.index(time)


@six.add_metaclass(ABCMeta)
class TrainingLogBase(object):
    """Base class for training logs.

    A training log stores the training timeline, statistics and other
    auxiliary information. Training logs can use different backends, e.g.
    in-memory Python objects (:class:`TrainingLog`) or an SQLite database
    (:class:`~blocks_log.sqlite.SQLiteLog`).

    Information is stored similar to a nested dictionary, so use
    ``log[time][key]`` to read data. An entry without stored data returns
    an empty dictionary-like object that can be written to,
    ``log[time][key] = value``.

    Depending on the backend, ``log[time] = {'key': 'value'}`` could fail.
    Use ``log[time].update({'key': 'value'})`` for compatibility across
    backends.

    In addition to the set of records displaying training dynamics, a
    training log has a :attr:`status` attribute, a dictionary with data
    that is not bound to a particular time.

    .. warning::

        Changes to mutable objects might not be reflected in the log,
        depending on the backend. So don't use
        ``log.status['key'].append(...)``, use ``log.status['key'] = ...``
        (or ``log.status['key'] += [...]``) instead.

    Subclasses provide :attr:`status`, ``__getitem__`` and ``__iter__``;
    everything else here is written in terms of those three.

    Parameters
    ----------
    uuid : :class:`uuid.UUID`, optional
        The UUID of this log. For persistent log backends, passing the UUID
        loads an existing log. Otherwise a new, random UUID is created and
        the status gets its defaults (see :func:`default_status`).

    Attributes
    ----------
    uuid : :class:`uuid.UUID`
        The identity of this log (of this run, for persistent backends).

    Raises
    ------
    TypeError
        When instantiated directly: the class is abstract.

    """
    def __init__(self, uuid=None):
        if uuid is None:
            self.uuid = uuid4()
            self.status.update(default_status())
        else:
            self.uuid = uuid

    @property
    @abstractmethod
    def status(self):
        """dict-like: the state of training, not bound to a time.

        By default it holds ``iterations_done``, ``epochs_done``,
        ``_epoch_ends`` (the times at which epochs ended) and
        ``resumed_from`` (the hex uuid of the log this one continues, or
        ``None``).

        """

    @abstractmethod
    def __getitem__(self, time):
        """Return the row (a mutable mapping of key -> value) at `time`.

        Raises
        ------
        ValueError
            If `time` is not a non-negative integer.

        """

    @abstractmethod
    def __iter__(self):
        """Iterate over the times that hold a row."""

    @property
    def h_uuid(self):
        """str: the UUID as 32 hexadecimal digits, as databases store it."""
        return self.uuid.hex

    def resume(self):
        """Continue this log under a new random UUID.

        The status of the old log is copied into the new one, and
        ``status['resumed_from']`` is set to the old :attr:`h_uuid`, so that
        the lineage of a run can be followed back.

        """
        old_uuid = self.h_uuid
        old_status = dict(self.status)
        self.uuid = uuid4()
        self.status.update(old_status)
        self.status['resumed_from'] = old_uuid

    def _check_time(self, time):
        # Kept under Blocks' name for subclasses written against Blocks.
        return check_time(time)

    @property
    def current_row(self):
        """The row of the current iteration, ``status['iterations_done']``."""
        return self[self.status['iterations_done']]

    @property
    def previous_row(self):
        """The row of the previous iteration.

        Raises
        ------
        RowNotAvailableError
            Before the first iteration is done (a ``ValueError`` and an
            ``IndexError``).

        """
        iterations_done = self.status['iterations_done']
        if iterations_done < 1:
            raise RowNotAvailableError(
                "previous_row: no iteration is done yet "
                "(status['iterations_done'] is {!r})".format(iterations_done))
        return self[iterations_done - 1]

    @property
    def last_epoch_row(self):
        """The row of the time at which the last epoch ended.

        Raises
        ------
        RowNotAvailableError
            Before the first epoch has ended, i.e. while
            ``status['_epoch_ends']`` is empty (a ``ValueError`` and an
            ``IndexError``).

        """
        epoch_ends = self.status['_epoch_ends']
        if not epoch_ends:
            raise RowNotAvailableError(
                "last_epoch_row: no epoch has ended yet "
                "(status['_epoch_ends'] is empty)")
        return self[epoch_ends[-1]]

    # Analysis. Written on the abstract members only; persistent backends
    # override them with something faster.

    def records(self):
        """Iterate over every value as a ``(time, key, value)`` record.

        Records come in increasing time; within a time, in the row's order.
        Rows that hold nothing yield nothing.

        Returns
        -------
        iterator of tuple

        """
        for time in sorted(self):
            for key, value in self[time].items():
                yield time, key, value

    def history(self, key):
        """Return the values of one key in increasing time.

        Parameters
        ----------
        key : str

        Returns
        -------
        list of tuple
            ``(time, value)`` pairs, only where `key` was logged; empty for a
            key that was never logged.

        """
        history = []
        for time in sorted(self):
            row = self[time]
            if key in row:
                history.append((time, row[key]))
        return history

    def to_dataframe(self, keys=None, start=None, stop=None):
        """Return the log as a :class:`pandas.DataFrame`.

        The index is the time (named ``time``), one column per key that
        appears anywhere in the selected rows, in order of first appearance;
        a key first logged late is missing (NaN) in earlier rows. One row per
        time that holds at least one selected key.

        Parameters
        ----------
        keys : iterable of str, optional
            Only these columns, in this order. A key that was never logged
            is an all-missing column.
        start, stop : int, optional
            Only times ``start <= time < stop``, as in :func:`range`.

        Returns
        -------
        pandas.DataFrame

        Raises
        ------
        ImportError
            If pandas is not installed (``pip install 'blocks-log[pandas]'``).
        TypeError
            If `keys` is a single string rather than a collection of them.
        ValueError
            If `start` or `stop` is not a non-negative integer.

        """
        return analysis.records_to_dataframe(
            self.records(), keys=keys, start=start, stop=stop)


class _Status(dict):
    """The status of a :class:`TrainingLog` while its ``current_row`` is not
    cached: a plain dict, every change of which costs no Python code.

    Caching the row turns the status into a :class:`_WatchedStatus` (by
    assigning ``__class__``), which drops the row at its next change and
    turns back into this class. So a loop that never reads ``current_row``
    (``row = log[t]`` per iteration) pays nothing for the cache; one that
    does pays a Python frame per change of the status, which it needs.

    The status holds the log's instance ``__dict__``, where the cache lives,
    rather than the log.

    """
    __slots__ = ('_log_dict',)

    def __init__(self, log_dict, *args, **kwargs):
        dict.__init__(self, *args, **kwargs)
        self._log_dict = log_dict

    def __reduce__(self):
        # A status pickled alone comes back as the plain dict it stands for.
        return dict, (dict(self),)


class _WatchedStatus(_Status):
    """A :class:`_Status` whose log caches ``current_row``; see there."""
    __slots__ = ()

    def _forget_current_row(self):
        self._log_dict.pop('current_row', None)
        self.__class__ = _Status

    def __setitem__(self, key, value):
        # The one change a training loop makes per iteration: inlined.
        _dict_setitem(self, key, value)
        self._log_dict.pop('current_row', None)
        self.__class__ = _Status

    def __delitem__(self, key):
        dict.__delitem__(self, key)
        self._forget_current_row()

    def __ior__(self, other):
        self.update(other)
        return self

    def update(self, *args, **kwargs):
        try:
            dict.update(self, *args, **kwargs)
        finally:
            # Even when a bad pair stops it half-way.
            self._forget_current_row()

    def setdefault(self, key, default=None):
        self._forget_current_row()
        return dict.setdefault(self, key, default)

    def pop(self, *args):
        self._forget_current_row()
        return dict.pop(self, *args)

    def popitem(self):
        self._forget_current_row()
        return dict.popitem(self)

    def clear(self):
        dict.clear(self)
        self._forget_current_row()


class _CachedRow(object):
    """The ``current_row`` of a :class:`TrainingLog`, cached on the instance.

    A non-data descriptor: once computed, the row is stored in the
    instance's ``__dict__``, where later lookups find it without calling any
    Python code, and the status is watched until its next change, which
    drops the row (see :class:`_Status`); so does any change to the set of
    rows. As a plain property, ``log.current_row[key] = value`` cost 2.2x
    the instructions of a plain dict-of-dicts (callgrind, issue 2); cached,
    about 1.45x.

    """
    def __get__(self, log, owner=None):
        if log is None:
            return self
        status = log.status
        row = log[status['iterations_done']]
        log.__dict__['current_row'] = row
        if type(status) is _Status:
            status.__class__ = _WatchedStatus
        return row


class TrainingLog(defaultdict, TrainingLogBase):
    """Training log using a :class:`~collections.defaultdict` as backend.

    ``log[time]`` of a time that was never written creates an empty row,
    as for any ``defaultdict(dict)``; iterating over the log yields the times
    of every row created so far, in the order they were created.

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
    # A slot makes ``status`` a concrete member of the class (the base
    # declares it abstract) that reads as fast as an instance attribute.
    __slots__ = ('status', 'uuid')

    current_row = _CachedRow()

    def __init__(self):
        defaultdict.__init__(self, dict)
        self.status = {}
        TrainingLogBase.__init__(self)

    def _forget_current_row(self):
        self.__dict__.pop('current_row', None)

    def __setattr__(self, name, value):
        if name == 'status':
            value = _Status(self.__dict__, value)
            self._forget_current_row()
        elif name in ('current_row', 'previous_row', 'last_epoch_row'):
            raise AttributeError("can't set attribute {!r}".format(name))
        defaultdict.__setattr__(self, name, value)

    def __getstate__(self):
        # Blocks' state: status and uuid (slots here), and any attribute a
        # user set, but not the cache.
        state = dict(self.__dict__)
        state.pop('current_row', None)
        state['status'] = dict(self.status)
        state['uuid'] = self.uuid
        return state

    def __setstate__(self, state):
        for name, value in state.items():
            setattr(self, name, value)

    def __reduce__(self):
        # Blocks' layout: no constructor arguments, state, then the rows.
        return (self.__class__, (), self.__getstate__(), None,
                iter(dict.items(self)))

    def __copy__(self):
        copy = self.__class__()
        copy.__setstate__(self.__getstate__())
        dict.update(copy, self)
        return copy

    def copy(self):
        """Return a shallow copy: same uuid, a copy of the status, the same
        row objects."""
        return self.__copy__()

    def __getitem__(self, time):
        # The hot path of every read and of a training loop: no call to
        # Python code when the time is a plain int (check_time()'s ABC check
        # costs more than the lookup), and a missing row is created inline
        # rather than through __missing__ and __setitem__ (issue 2, measured
        # in benchmarks/bench_memory.py).
        if type(time) is not int or time < 0:
            time = check_time(time)
        row = _dict_get(self, time)
        if row is None:
            # setdefault keeps a row that is there but is None.
            row = _dict_setdefault(self, time, {})
        return row

    def __setitem__(self, time, row):
        _dict_setitem(self, check_time(time), row)
        self._forget_current_row()

    def __delitem__(self, time):
        dict.__delitem__(self, time)
        self._forget_current_row()

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
        self._forget_current_row()

    def setdefault(self, time, row=None):
        """``log.setdefault(time, row)``, checking `time`.

        Raises
        ------
        ValueError
            If `time` is not a non-negative integer.

        """
        return dict.setdefault(self, check_time(time), row)

    def pop(self, *args):
        """Remove a row and return it, as :meth:`dict.pop`."""
        result = dict.pop(self, *args)
        self._forget_current_row()
        return result

    def popitem(self):
        """Remove and return the last ``(time, row)`` pair."""
        result = dict.popitem(self)
        self._forget_current_row()
        return result

    def clear(self):
        """Remove every row; the status and uuid stay."""
        dict.clear(self)
        self._forget_current_row()
