"""Series: one key's values in increasing time, as two aligned sequences.

What stores read and logs merge. ``times`` is a ``range`` (evenly spaced
times, as a key logged at every iteration has), an ``array('q')`` or a
list of ints; ``values`` an ``array('d')`` (floats), an ``array('q')``
(ints) or a list (anything). Ranges and arrays keep a million numbers in
little memory and turn into numpy arrays without a Python loop; lists hold
what they cannot.

"""
import array
import bisect
import itertools
import operator

from blocks_log.placeholders import DamagedChunk

# The values an array of each typecode holds, exactly.
_EXACT = {'d': float, 'q': int}


def empty():
    """A series with no values."""
    return range(0), []


def spaced(times):
    """`times` (a list) as a ``range`` if they are evenly spaced."""
    if len(times) < 2:
        return times
    step = times[1] - times[0]
    if step > 0 and times[-1] - times[0] == step * (len(times) - 1) and (
            times == list(range(times[0], times[-1] + 1, step))):
        return range(times[0], times[-1] + 1, step)
    return times


def ordered(column):
    """`column` (lists of times and values, as rows came) in increasing
    time, times as a ``range`` where evenly spaced; where a time comes
    twice, the later value wins."""
    times, values = column
    if not all(map(operator.lt, times, itertools.islice(times, 1, None))):
        merged = dict(zip(times, values))
        times = sorted(merged)
        values = [merged[time] for time in times]
    return spaced(times), values


def concatenate(pieces):
    """One series of `pieces` (series each in increasing time), in order.

    Pieces that overlap or come out of order (a store damaged or forged)
    are merged instead, the later piece winning where two hold a time,
    but for the placeholder of a damaged chunk, which always wins (a
    number there may be forged): a series is always in increasing time.

    """
    pieces = [piece for piece in pieces if len(piece[0])]
    if not pieces:
        return empty()
    if len(pieces) == 1:
        return pieces[0]
    if any(after[0][0] <= before[0][-1]
           for before, after in zip(pieces, pieces[1:])):
        merged = {}
        for times, values in pieces:
            for time, value in zip(times, values):
                if not isinstance(merged.get(time), DamagedChunk):
                    merged[time] = value
        times = sorted(merged)
        return times, [merged[time] for time in times]
    return _concatenate_times([times for times, _ in pieces]), (
        _concatenate_values([values for _, values in pieces]))


def _concatenate_times(pieces):
    first = pieces[0]
    if all(type(piece) is range for piece in pieces):
        step = first.step if len(first) > 1 else None
        joined = True
        for before, after in zip(pieces, pieces[1:]):
            gap = after[0] - before[-1]
            for spacing in (gap, after.step if len(after) > 1 else gap):
                if step is None:
                    step = spacing
                joined = joined and spacing == step
        if joined:
            return range(first[0], pieces[-1][-1] + step, step)
    times = array.array('q')
    for piece in pieces:
        times.extend(piece if isinstance(piece, array.array) else
                     array.array('q', piece))
    return times


def _concatenate_values(pieces):
    codes = set(piece.typecode for piece in pieces
                if isinstance(piece, array.array))
    if len(codes) == 1:
        code = codes.pop()
        exact = _EXACT[code]
        if all(isinstance(piece, array.array) or all(
                type(value) is exact for value in piece)
               for piece in pieces):
            values = array.array(code)
            try:
                for piece in pieces:
                    if isinstance(piece, array.array):
                        values.extend(piece)
                    else:
                        values.fromlist(piece)
                return values
            except OverflowError:  # an int beyond 64 bits
                pass
    values = []
    for piece in pieces:
        values.extend(piece)
    return values


def merge(far, near):
    """`far` overlaid by `near`: where both hold a time, `near` wins."""
    far_times, near_times = far[0], near[0]
    if not len(near_times):
        return far
    if not len(far_times):
        return near
    if far_times[-1] < near_times[0]:
        return concatenate([far, near])
    if near_times[-1] < far_times[0]:
        return concatenate([near, far])
    merged = dict(zip(far_times, far[1]))
    merged.update(zip(near_times, near[1]))
    times = sorted(merged)
    return times, [merged[time] for time in times]


def between(series, start, stop):
    """The part of `series` with times in ``[start, stop)``."""
    times, values = series
    if not len(times) or (times[0] >= start and times[-1] < stop):
        return series
    low = bisect.bisect_left(times, start)
    high = bisect.bisect_left(times, stop)
    return times[low:high], values[low:high]


def without(series, hidden):
    """`series` without the values that are `hidden` (deleted values)."""
    times, values = series
    if isinstance(values, array.array) or not any(
            value is hidden for value in values):
        return series
    kept = [(time, value) for time, value in zip(times, values)
            if value is not hidden]
    return [time for time, _ in kept], [value for _, value in kept]


def overlay(columns, records):
    """`columns` (key -> series) with `records` ``(time, key, value)`` laid
    over them, later records winning; returns a new dict."""
    by_key = {}
    for time, key, value in records:
        by_key.setdefault(key, {})[time] = value
    merged = dict(columns)
    for key, values in by_key.items():
        times = sorted(values)
        merged[key] = merge(columns.get(key, empty()),
                            (times, [values[time] for time in times]))
    return merged


def damaged(columns):
    """The first ``(key, placeholder)`` of `columns` (key -> series) whose
    value is a :class:`~blocks_log.placeholders.DamagedChunk` (or a
    :class:`~blocks_log.placeholders.DamagedBatch`), or ``None``.

    Only lists are looked at: an array holds no placeholder."""
    for key, (_, values) in columns.items():
        if type(values) is list:
            for value in values:
                if isinstance(value, DamagedChunk):
                    return key, value
    return None


#: Bytes of a text, BLOB or array that weigh as much as a value in
#: sizing windows (see :func:`weight`).
VALUE_BYTES = 1024


def weight(columns):
    """What `columns` (key -> series) hold, in values: each value, and
    each text, BLOB or array (anything with ``nbytes``) once more for each
    :data:`VALUE_BYTES` bytes it takes, so that a window of a run logging
    an array each iteration holds about as much memory as one of
    numbers."""
    total = 0
    for times, values in columns.values():
        total += len(times)
        if type(values) is list:
            for value in values:
                kind = type(value)
                if kind is bytes or kind is str:
                    total += len(value) // VALUE_BYTES
                elif kind is not float and kind is not int:
                    total += getattr(value, 'nbytes', 0) // VALUE_BYTES
    return total


def windows(read, holds, start, end, values, span):
    """Iterate over ``(stop, columns)``: ``read(low, stop)`` (key ->
    series) for consecutive windows of times ``[low, stop)`` that cover
    ``[start, end)``, those that hold a value, so that what is held at
    once does not grow with the range.

    `holds(low, high)` says whether ``[low, high)`` may hold a value
    (``True`` where unsure); it should be cheap, reading no value. The
    first window spans `span` times, and each next one as many as should
    hold about `values` values (by :func:`weight`), as the window before
    held them (eight times as many at most). A window that holds none is
    followed by one from the first time that `holds` finds a value at (by
    bisection: a gap of any length, as before a resumed run's own first
    time, is crossed in a few dozen calls), as wide as it was; eight times
    as wide if `holds` found one there that `read` did not (another
    key's).

    """
    found = False
    while start < end:
        stop = min(start + span, end)
        columns = read(start, stop)
        count = weight(columns)
        if count:
            yield stop, columns
            span = max(1, min(span * 8, span * values // count))
            start, found = stop, False
            continue
        if found:
            span *= 8
        start, found = _first_held(holds, stop, end), True
        if start is None:
            return


def _first_held(holds, low, high):
    # The first time of [low, high) at which holds() finds a value, or
    # None: none in [low, time), one in [time, time + 1).
    if low >= high or not holds(low, high):
        return None
    while high - low > 1:
        middle = (low + high) // 2
        if holds(low, middle):
            high = middle
        else:
            low = middle
    return low
