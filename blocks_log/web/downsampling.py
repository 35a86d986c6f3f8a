"""A series downsampled for a chart: its times cut into buckets of equal
width, one to a pixel, and of each bucket its smallest and largest finite
number, at C speed where it can.

"""
import bisect
import itertools
import math
import operator

from blocks_log.numeric import all_finite, finite, is_number


def downsample(times, values, points, low=None, high=None):
    """``[times, values]`` of a series for a chart of `points` points at
    most (twice the pixels of its width): the times ``low <= time < high``
    (the series' own first and last by default) cut into ``points // 2``
    buckets of equal width, one to a pixel, and of each bucket its smallest
    and its largest finite number, each at the time it was logged, in time
    order (one point where they are one value). A bucket that holds
    nothing but NaN, inf or ``None`` is a gap (``None``) at its first time.
    The series as it is when it is short enough. Values that are not
    numbers are left out."""
    places, picked = picks(times, values, points, low, high)
    return [[times[place] for place in places], picked]


def picks(times, values, points, low=None, high=None):
    """:func:`downsample`, as the places of the values picked among
    `values` and those values."""
    if len(times) <= points:
        kept = [(place, finite(value)) for place, value in enumerate(values)
                if value is None or is_number(value)]
        return [place for place, _ in kept], [value for _, value in kept]
    buckets = points // 2
    first, width = bucket_geometry(times, points, low, high)
    # Where each bucket begins; the last ends with the series.
    ends = places_of(times, [first + bucket * width
                             for bucket in range(1, buckets)]) + [len(times)]
    spans = [(start, end) for start, end in zip([0] + ends, ends)
             if end > start]
    if all_finite(values):
        return _finite_extremes(values, spans)
    places, picked = [], []
    for start, end in spans:
        for offset, value in _extremes(values[start:end]):
            places.append(start + offset)
            picked.append(value)
    return places, picked


def places_of(times, bounds):
    """``[bisect.bisect_left(times, bound) for bound in bounds]``, of the
    sorted `times`; computed where `times` are a range (a key logged at a
    regular step, as a store reads it), where each bisection made an int
    of each probe (a comparison of 200 runs: 0.23 s of its 1.0 s; a list
    of the times would be as fast, at 36 bytes a time)."""
    if type(times) is not range or times.step <= 0 or not times:
        return [bisect.bisect_left(times, bound) for bound in bounds]
    start, step, count = times.start, times.step, len(times)
    if step == 1 and (not bounds or (start <= bounds[0] and bounds[-1] <= (
            start + count) and bounds[-1] < 2 ** 53)):
        # A key logged at every step, bounds within its times (as a whole
        # series' buckets are): each place in C. Exact: a float below
        # 2 ** 53 minus an integer not above it is a float.
        return list(map(math.ceil, map(operator.sub, bounds,
                                       itertools.repeat(start))))
    places = []
    for bound in bounds:
        place = min(count, max(0, math.ceil((bound - start) / step)))
        # The division rounds: checked against the times themselves.
        while place > 0 and start + (place - 1) * step >= bound:
            place -= 1
        while place < count and start + place * step < bound:
            place += 1
        places.append(place)
    return places


def bucket_geometry(times, points, low=None, high=None):
    """``(first time, width)`` of the buckets of a series downsampled to
    `points` (see :func:`downsample`): bucket b holds ``first + b * width
    <= time < first + (b + 1) * width`` (the last one, every later
    time)."""
    first = times[0] if low is None else low
    return first, ((times[-1] + 1 if high is None else high) - first) / float(
        points // 2)


def _finite_extremes(values, spans):
    # picks() of finite numbers: a bucket's min, max and their places
    # found by C loops over every bucket at once (a comparison of 200 runs
    # of 5,000 iterations: 2.0 s -> 1.1 s a request).
    parts = [values[start:end] for start, end in spans]
    lows, highs = list(map(min, parts)), list(map(max, parts))
    index = type(parts[0]).index if parts else None
    low_at = list(map(index, parts, lows))
    high_at = list(map(index, parts, highs))
    places, picked = [], []
    for (start, _), low, high, low_offset, high_offset in zip(
            spans, lows, highs, low_at, high_at):
        if low_offset == high_offset:
            places.append(start + low_offset)
            picked.append(float(low))
        elif low_offset < high_offset:
            places += (start + low_offset, start + high_offset)
            picked += (float(low), float(high))
        else:
            places += (start + high_offset, start + low_offset)
            picked += (float(high), float(low))
    return places, picked


def _extremes(part):
    # [(offset, value)] of the smallest and the largest finite number of a
    # bucket, in the order they were logged; a gap (None) at its first
    # number where it holds numbers but none finite; [] where it holds
    # nothing to draw. At C speed where it holds only finite numbers (min
    # and max skip a NaN unless it comes first: an answer that is not
    # finite is checked value by value).
    try:
        low, high = min(part), max(part)
        low_number, high_number = finite(low), finite(high)
        if low_number is not None and high_number is not None:
            return _in_order(part.index(low), low_number, part.index(high),
                             high_number)
    except (TypeError, ValueError):
        # Strings, None among the numbers; arrays (whose comparison with a
        # number has no truth value).
        pass
    numbers = [(offset, number) for offset, number in (
        (offset, finite(value)) for offset, value in enumerate(part)
        if value is None or is_number(value)) if number is not None]
    if numbers:
        smallest = min(numbers, key=lambda pair: pair[1])
        largest = max(numbers, key=lambda pair: pair[1])
        return _in_order(smallest[0], smallest[1], largest[0], largest[1])
    for offset, value in enumerate(part):
        if value is None or is_number(value):
            return [(offset, None)]
    return []


def _in_order(first, first_value, second, second_value):
    if first == second:
        return [(first, first_value)]
    if second < first:
        return [(second, second_value), (first, first_value)]
    return [(first, first_value), (second, second_value)]
