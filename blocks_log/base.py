"""The abstract training log: rows by time, a status, a uuid and lineage,
and the reads every backend shares (records, series, data frames).

"""
import operator
from abc import ABCMeta, abstractmethod
from numbers import Integral
import os


from blocks_log.errors import RowNotAvailableError
from blocks_log.selection import check_keys, check_range, in_range


def new_uuid():
    """A new random run id: the 32 hex digits of a version 4 UUID, as
    ``uuid.uuid4().hex`` gives them.

    Made here from ``os.urandom``, as :func:`uuid.uuid4` makes it (the
    version in bits 76-79, the RFC 4122 variant in bits 62-63), because
    importing :mod:`uuid` imports :mod:`platform` too: 3 ms of a training
    script's start-up.
    """
    number = int.from_bytes(os.urandom(16), 'big')
    number = (number & ~(0xF << 76)) | (4 << 76)
    number = (number & ~(0x3 << 62)) | (0x2 << 62)
    return '{:032x}'.format(number)


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


class TrainingLogBase(metaclass=ABCMeta):
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

        Blocks' own persistent backend lost in-place changes of mutable
        status values (``log.status['key'].append(...)``). blocks_log's
        backends keep them (a persistent log saves them with its next
        commit); code that must also run on Blocks should assign instead,
        ``log.status['key'] = ...`` or ``log.status['key'] += [...]``.

    Subclasses provide ``__getitem__`` and ``__iter__`` and set
    :attr:`status` (in ``__init__``, as Blocks' backends did, or as a
    property); everything else here is written in terms of those three.

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
    #: dict-like: the state of training, not bound to a time. By default it
    #: holds ``iterations_done``, ``epochs_done``, ``_epoch_ends`` (the
    #: times at which epochs ended) and ``resumed_from`` (the hex uuid of
    #: the log this one continues, or ``None``). A subclass sets it in
    #: ``__init__`` (a plain dict if it has not when this ``__init__`` runs)
    #: or overrides it with a property.
    status = None

    def __init__(self, uuid=None):
        if self.status is None:
            self.status = {}
        if uuid is None:
            import uuid
            self.uuid = uuid.UUID(new_uuid())
            self.status.update(default_status())
        else:
            self.uuid = uuid

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
        import uuid
        self.uuid = uuid.UUID(new_uuid())
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

        ``status['_epoch_ends']`` may be any sequence, a numpy array
        included.

        Raises
        ------
        RowNotAvailableError
            Before the first epoch has ended, i.e. while
            ``status['_epoch_ends']`` is empty (a ``ValueError`` and an
            ``IndexError``).

        """
        epoch_ends = self.status['_epoch_ends']
        if len(epoch_ends) == 0:
            raise RowNotAvailableError(
                "last_epoch_row: no epoch has ended yet "
                "(status['_epoch_ends'] is empty)")
        return self[epoch_ends[-1]]

    # Analysis. Written on the abstract members only; persistent backends
    # override them with something faster.

    def records(self, start=None, stop=None):
        """Iterate over every value as a ``(time, key, value)`` record.

        Records come in increasing time; within a time, in the row's order.
        Rows that hold nothing yield nothing.

        Parameters
        ----------
        start, stop : int (numpy's too), optional
            Only times ``start <= time < stop``, as in :func:`range`.

        Returns
        -------
        iterator of tuple

        Raises
        ------
        ValueError
            If `start` or `stop` is not a non-negative integer.

        """
        start, stop = check_range(start, stop)
        for time in sorted(self):
            if in_range(time, start, stop):
                for key, value in self[time].items():
                    yield time, key, value

    #: bool: whether a writer of another handle or process still holds
    #: this run, so that more of it may come (a log held in memory: never).
    being_written = False

    # Whether a read of a range of times costs what the range holds (an
    # index finds it), rather than what the log holds (a log in memory
    # sorts all its times for each): whether a long range is best read a
    # window at a time (see tables.windows_of).
    _reads_ranges = False

    def last_time(self, start=None, stop=None):
        """The last time ``start <= time < stop`` at which the log holds a
        value, or ``None`` if it holds none there.

        Persistent logs find it without reading the run's values: what
        reads the last rows of a run of any size starts here.

        Raises
        ------
        ValueError
            If `start` or `stop` is not a non-negative integer.

        """
        last = None
        for time, _, _ in self.records(start, stop):
            last = time
        return last

    def series(self, keys=None, start=None, stop=None):
        """Return each key's values as a series: ``{key: (times, values)}``,
        times increasing (see :mod:`blocks_log.series`).

        Parameters
        ----------
        keys : iterable of str, optional
            Only these keys; a key never logged has an empty series.
        start, stop : int (numpy's too), optional
            Only times ``start <= time < stop``.

        Returns
        -------
        dict

        Raises
        ------
        TypeError, ValueError
            As :meth:`to_dataframe`.

        """
        keys = check_keys(keys)
        columns = {} if keys is None else dict((key, ([], []))
                                               for key in keys)
        for time, key, value in self.records(start, stop):
            if keys is None or key in columns:
                column = columns.setdefault(key, ([], []))
                column[0].append(time)
                column[1].append(value)
        return columns

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
        appears anywhere in the selected rows, in order of first appearance
        (keys first logged at one time: in the order they were logged, in
        memory; by name, in a database, where a row keeps no order once
        packed); a key first logged late is missing (NaN) in earlier rows.
        One row per time that holds at least one selected key. Each column's
        dtype is pandas' inference (numbers with gaps are floats), but
        where a float would round an int logged (one past 2 ** 53): that
        column holds the values as logged (dtype object). A key named twice
        in `keys` is one column.

        Parameters
        ----------
        keys : iterable of str, optional
            Only these columns, in this order. A key that was never logged
            is an all-missing column.
        start, stop : int (numpy's too), optional
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
        OverflowError
            If a time selected is past what an int64 holds (a log in memory
            takes any int); the message names it.

        """
        from blocks_log import analysis  # not at start-up (issue 21)
        return analysis.records_to_dataframe(
            self.records(), keys=keys, start=start, stop=stop)
