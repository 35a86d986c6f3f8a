"""Turning what a log holds into what analysis takes: records in time
order, and pandas objects.

pandas is an optional dependency: it is imported here, lazily, and nowhere
else. This module is imported by the reads that need it, when first
called: opening a log and writing to it never import it.

"""
import array
import heapq

from blocks_log.numeric import EXACT_INTS, rounded_by_float
from blocks_log.selection import check_keys, check_range, in_range

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
