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


def concatenate(pieces):
    """One series of `pieces` (series in increasing, disjoint times)."""
    pieces = [piece for piece in pieces if len(piece[0])]
    if not pieces:
        return empty()
    if len(pieces) == 1:
        return pieces[0]
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
