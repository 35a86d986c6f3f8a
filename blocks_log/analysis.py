"""Turning log records into pandas objects.

pandas is an optional dependency: it is imported here, lazily, and nowhere
else.

"""
import array
import heapq
import math
import operator
from numbers import Integral, Real

#: A float64 holds every int of at most this magnitude exactly, and only
#: some past it: its significand has 53 bits.
EXACT_INTS = 2 ** 53

#: The last time an int64 index holds.
MAX_INDEX_TIME = 2 ** 63 - 1

PANDAS_HINT = ("this needs pandas, an optional dependency of blocks_log: "
               "pip install 'blocks-log[pandas]'")


def import_pandas():
    """Return the pandas module.

    Raises
    ------
    ImportError
        If pandas is not installed; the message says how to install it.

    """
    try:
        import pandas
    except ImportError as error:
        raise ImportError("{} ({})".format(PANDAS_HINT, error))
    return pandas


def check_keys(keys):
    """Return `keys` as a list of strings, each once (a key named again is
    dropped), or ``None`` for all keys.

    Raises
    ------
    TypeError
        If `keys` is a single string, or holds something that is not one.

    """
    if keys is None:
        return None
    if isinstance(keys, (str, bytes)):
        raise TypeError("keys must be a collection of strings, not the single "
                        "string {!r}; write [{!r}]".format(keys, keys))
    keys = list(keys)
    for key in keys:
        if not isinstance(key, str):
            raise TypeError("keys must be strings, got {!r} ({})"
                            .format(key, type(key).__name__))
    return list(dict.fromkeys(keys))


def check_range(start, stop):
    """Return `start` and `stop`, the bounds of a range of times, as
    ``int`` (or ``None``): a numpy integer would reach SQL as the bytes of
    its buffer, which compare past every time.

    Raises
    ------
    ValueError
        If either is neither ``None`` nor a non-negative integer.

    """
    for name, bound in (('start', start), ('stop', stop)):
        if bound is not None and (not isinstance(bound, Integral) or
                                  bound < 0):
            raise ValueError("{} must be a non-negative integer or None, "
                             "got {!r}".format(name, bound))
    return (None if start is None else operator.index(start),
            None if stop is None else operator.index(stop))


def in_range(time, start, stop):
    """Whether `time` lies in ``[start, stop)``; ``None`` bounds are open."""
    return ((start is None or time >= start) and
            (stop is None or time < stop))


def pivot(records, keys=None, start=None, stop=None):
    """Gather ``(time, key, value)`` records into rows.

    Parameters
    ----------
    records : iterable of tuple
        In increasing time.
    keys : list of str, optional
        Only these keys.
    start, stop : int, optional
        Only times in ``[start, stop)``.

    Returns
    -------
    times : list of int
        Each time that holds at least one selected key, increasing.
    columns : dict
        key -> list of values aligned with `times` (``None`` where missing),
        keys in order of first appearance, or in the order of `keys`.

    """
    wanted = None if keys is None else set(keys)
    times = []
    columns = {} if keys is None else dict((key, []) for key in keys)
    for time, key, value in records:
        if not in_range(time, start, stop) or (
                wanted is not None and key not in wanted):
            continue
        if not times or times[-1] != time:
            times.append(time)
        column = columns.get(key)
        if column is None:
            column = columns[key] = []
        # Pad a key that is missing in the rows since its last value.
        column.extend([None] * (len(times) - 1 - len(column)))
        column.append(value)
    for column in columns.values():
        column.extend([None] * (len(times) - len(column)))
    return times, columns


def records_to_dataframe(records, keys=None, start=None, stop=None):
    """Build the data frame of :meth:`TrainingLogBase.to_dataframe`.

    See that method for the parameters and what is raised.

    """
    keys = check_keys(keys)
    start, stop = check_range(start, stop)
    pandas = import_pandas()
    times, columns = pivot(records, keys, start, stop)
    return columns_to_dataframe(pandas, times, columns)


def columns_to_dataframe(pandas, times, columns):
    """Return a data frame from aligned columns, index named ``time``.

    The dtype of each column is pandas' inference: numbers with gaps become
    float with NaN in the gaps, as ``DataFrame.from_dict(log,
    orient='index')`` makes them, unless a float would round one (see
    :func:`keep_ints_exact`); anything else is an object column.

    """
    index = time_index(pandas, times)
    frame = pandas.DataFrame(
        dict((key, pandas.Series(values, index=index))
             for key, values in columns.items()),
        index=index, columns=list(columns))
    return keep_ints_exact(frame, lambda key: pandas.Series(
        columns[key], index=index, dtype=object))


def time_index(pandas, times):
    """The index of a data frame of `times` (increasing): int64, named
    ``time``.

    Raises
    ------
    OverflowError
        If a time is past what an int64 holds (a log in memory takes any
        int), naming it.
    """
    if times and times[-1] > MAX_INDEX_TIME:
        raise OverflowError(
            'time {} is past what a data frame\'s index holds (int64, at '
            'most {}); read those rows with records()'.format(
                times[-1], MAX_INDEX_TIME))
    return pandas.Index(times, name='time', dtype='int64')


def keep_ints_exact(frame, logged, keys=None):
    """Make each float column of `frame` in which a float rounded an int
    an object column of the values as logged.

    pandas makes a column of numbers float64 where it has gaps (NaN), or
    floats as well as ints; an int past :data:`EXACT_INTS` (a seed, a
    hash, a count of bytes) would then silently read back as another
    number. Its column holds the ints themselves instead, NaN in the gaps.
    Only columns holding a float of that magnitude are looked into.

    Parameters
    ----------
    frame : pandas.DataFrame
        Its columns each named once; changed in place.
    logged : callable
        ``logged(key)``: the values of column `key` as logged, a
        ``pandas.Series`` of dtype object on the frame's index.
    keys : iterable of str, optional
        Only these columns (those of values that may be ints); all by
        default.

    Returns
    -------
    pandas.DataFrame
        `frame`.

    """
    import numpy
    for key in frame.columns if keys is None else keys:
        column = frame[key]
        if column.dtype.kind != 'f':
            continue
        numbers = column.to_numpy()
        # NaN compares False; inf is never a rounded int.
        suspect = (numpy.abs(numbers) >= EXACT_INTS) & numpy.isfinite(numbers)
        if not suspect.any():
            continue
        values = logged(key)
        if any(map(rounded_by_float, values.to_numpy()[suspect])):
            frame[key] = values
    return frame


def rounded_by_float(value):
    """Whether `value` is an int (numpy's too, not a bool) that no float
    equals."""
    if not isinstance(value, Integral) or isinstance(value, bool):
        return False
    try:
        return int(float(value)) != int(value)
    except OverflowError:  # past any float: pandas keeps it an object
        return True


def is_number(value):
    """Whether `value` is a real number (numpy's too), not a bool."""
    return isinstance(value, Real) and not isinstance(value, bool) and (
        not hasattr(value, 'dtype') or value.dtype.kind in 'iuf')


def orders(value):
    """Whether `value` is a number that has a place among others: a real
    number (numpy's too, not a bool), inf included, NaN not. What a
    smallest and a largest value are taken of."""
    return is_number(value) and value == value


def all_finite(values):
    """Whether `values` are all finite floats and ints (as a store reads a
    column of numbers), checked in C: a chart then needs no check of each
    (bools and numpy's numbers are checked one by one elsewhere). An int
    past a float's range (``10 ** 400``) is not finite here: a chart
    cannot draw it (see :func:`finite`)."""
    if type(values) is array.array:
        return values.typecode == 'q' or (values.typecode == 'd' and all(
            map(math.isfinite, values)))
    try:
        return _PLAIN.issuperset(map(type, values)) and all(
            map(math.isfinite, values))
    except OverflowError:
        return False


_PLAIN = frozenset([float, int])


def finite(value):
    """`value` as a float if it is a finite real number (numpy's too, not a
    bool), else ``None``: what a chart can draw (NaN, inf, an int past a
    float's range and what is no number are gaps). The one check of a
    finite number of the charts, the command line's and the page's."""
    if not is_number(value):
        return None
    try:
        number = float(value)
    except OverflowError:  # an int, such as 10 ** 400
        return None
    return number if math.isfinite(number) else None


def runs_to_dataframe(pandas, runs, long=False):
    """The frame of :func:`blocks_log.runs.runs_dataframe` from its runs
    (``(uuid, {key: series})``)."""
    if long:
        columns = {'run': [], 'time': [], 'key': [], 'value': []}
        for uuid, keys in runs:
            for time, key, value in series_records(keys):
                columns['run'].append(uuid)
                columns['time'].append(time)
                columns['key'].append(key)
                columns['value'].append(value)
        frame = pandas.DataFrame(columns, columns=['run', 'time', 'key',
                                                   'value'])
        frame['time'] = frame['time'].astype('int64')
        return keep_ints_exact(frame, lambda key: pandas.Series(
            columns[key], dtype=object))
    frames = [series_to_dataframe(pandas, keys) for _, keys in runs]
    if not frames:
        return pandas.DataFrame(index=pandas.MultiIndex.from_arrays(
            [[], []], names=['run', 'time']))
    uuids = [uuid for uuid, _ in runs]
    # A column of ints in one run, missing in another (or floats there),
    # is float in the whole: each run's column as logged, if it rounds.
    return keep_ints_exact(
        pandas.concat(frames, keys=uuids, names=['run', 'time'], sort=False),
        lambda key: pandas.concat(
            [frame[key].astype(object) if key in frame.columns else
             pandas.Series(float('nan'), index=frame.index, dtype=object)
             for frame in frames], keys=uuids, names=['run', 'time']))


def series_records(columns):
    """Iterate over ``(time, key, value)`` records of `columns` (key ->
    series, see :mod:`blocks_log.series`) in time order; within a time, in
    the order of `columns`."""
    streams = [_stream(index, key, column)
               for index, (key, column) in enumerate(columns.items())]
    for time, _, key, value in heapq.merge(*streams):
        yield time, key, value


def _stream(index, key, column):
    for time, value in zip(*column):
        yield time, index, key, value


def series_to_dataframe(pandas, columns):
    """Return a data frame from `columns` (key -> series), index named
    ``time``: every time of any column, increasing; NaN where a column has
    no value.

    Columns of arrays become numpy arrays without a copy; when every column
    has the same times (a key logged at every iteration) no alignment is
    needed at all. Otherwise the dtype of each column is pandas' inference,
    as ``DataFrame.from_dict(log, orient='index')`` makes it, unless a
    float would round one of its ints (see :func:`keep_ints_exact`).

    """
    import numpy
    arrays = dict((key, (_as_numpy(numpy, times, numpy.int64),
                         _as_numpy(numpy, values, None)))
                  for key, (times, values) in columns.items())
    shared = None
    for times, _ in arrays.values():
        if shared is None:
            shared = times
        elif not numpy.array_equal(shared, times):
            shared = None
            break
    if shared is not None:
        index = pandas.Index(shared, name='time')
        frame = pandas.DataFrame(
            dict((key, values) for key, (_, values) in arrays.items()),
            index=index, columns=list(arrays))
    else:
        frame = pandas.DataFrame(dict(
            (key, pandas.Series(values, index=times))
            for key, (times, values) in arrays.items()), columns=list(arrays))
        if not len(frame.index):
            frame.index = pandas.Index([], dtype='int64')
        frame = frame.sort_index()
        frame.index.name = 'time'

    def logged(key):
        times, values = arrays[key]
        return pandas.Series(values, index=times, dtype=object).reindex(
            frame.index)
    # A column read as floats (an array('d')) holds no int to round.
    return keep_ints_exact(frame, logged, [
        key for key, (_, values) in arrays.items()
        if getattr(values, 'dtype', None) != numpy.float64])


def _as_numpy(numpy, sequence, dtype):
    if isinstance(sequence, array.array):
        return numpy.frombuffer(sequence, dtype=sequence.typecode)
    if isinstance(sequence, range):
        # Not numpy.arange(start, stop, step), which counts the times in
        # floats: past 2 ** 53, one too few or too many.
        times = numpy.arange(len(sequence), dtype=numpy.int64)
        times *= sequence.step
        times += sequence.start
        return times
    if dtype is not None:
        return numpy.asarray(sequence, dtype=dtype)
    return sequence  # a list: pandas infers its dtype
