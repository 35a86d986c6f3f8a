"""The chart of one key of a large run, read a window of times at a time.

What :func:`blocks_log.web.charts.series` answers of a key, made in one pass
over its values in windows of about :data:`WINDOW` values, so that a
request holds one window of one key, the points picked (at most the
chart's) and a few numbers, whatever the size of the run (but where a
key's values grow denser: a window is sized by the one before it, four
times as wide at most, and the first past a sparse stretch may hold up to
four times its length). The key's first and last
times in the range, found first, place the buckets; then each bucket
keeps its smallest and largest finite number as the values pass (the
first of equal ones, as ``min`` and ``max`` find them), and the values
themselves while they are no more than the chart's points. TensorBoard's
smoothing at a time depends only on what came before it: it goes along in
the same pass, and is kept where a point may be drawn.

"""
import bisect
from numbers import Integral

from blocks_log import smoothing
from blocks_log.numeric import all_finite, finite, is_number

#: Times of a key a request reads at once, at first, and the values it
#: reads at once, about (see :func:`windows`).
WINDOW = 65536


def chart(log, key, start, stop, points, weight, edges, places, check,
          named=False):
    """The chart of `key` of `log` over ``[start, stop)`` (``None``: from
    its first time, to its last), as :func:`blocks_log.web.charts.series`
    answers it: ``(shown, buckets, count, last, smoothed)``: `shown` the
    ``[[times], [values]]`` drawn, with `edges` (the points beyond each
    end, found by the caller, as ``[[times], [values]]``); `buckets`
    ``[first, width]``, or ``None`` where the key is drawn whole; `count`
    its values in the range and `last` its last time there; `smoothed`
    ``(values at the times shown, state)`` with a smoothing `weight`, else
    ``None``. ``None`` where the key holds no value in the range, unless
    it is `named` (asked for by name: then its points beyond the ends).
    `places(times, bounds)` finds where each bound goes in `times`;
    `check(times, values)` raises where a part of the range holds what
    cannot be drawn (a damaged chunk)."""
    low = start or 0
    extent = _extent(log, key, low, stop)
    if extent is None:
        if not named:
            return None
        extent = (low, low - 1)  # nothing in the range: its edges only
    first, last = extent
    picking = _Picking(points, first if start is None else start,
                       last + 1 if stop is None else stop, places)
    smoothed = _Smoothing(weight, edges[0]) if weight else None
    begin = 0 if smoothed is not None else first
    finish = last + 1
    if smoothed is not None and edges[0] and edges[0][-1] >= finish:
        finish = edges[0][-1] + 1  # the right edge is smoothed too
    for times, values in windows(_reader(log, key), begin, finish):
        numbers = smoothed.add(times, values) if smoothed else None
        inside = _within(times, low, stop)
        if inside is not None:
            check(times[inside[0]:inside[1]], values[inside[0]:inside[1]])
            picking.add(times, values, inside, numbers)
    shown = picking.shown()
    left = [index for index, time in enumerate(edges[0]) if time < low]
    right = [index for index, time in enumerate(edges[0])
             if stop is not None and time >= stop]
    times = [edges[0][index] for index in left] + shown[0] + [
        edges[0][index] for index in right]
    values = [edges[1][index] for index in left] + shown[1] + [
        edges[1][index] for index in right]
    if smoothed is not None:
        smoothed = smoothed.at(times, shown[2])
    return ([times, values], picking.geometry(), picking.count,
            picking.last, smoothed)


def extremes(log, key, check):
    """The :class:`Extremes` of `key` of `log`, read a window at a time.
    `check` as for :func:`chart`."""
    bound = log.last_time()
    found = Extremes()
    for times, values in windows(_reader(log, key), 0, -1 if (
            bound is None) else bound + 1):
        check(times, values)
        found.add(times, values)
    return found


class Extremes(object):
    """The last, smallest and largest finite numbers of a key, each
    ``[time, value]`` (the first of equal ones), or ``None`` where it holds
    no finite number; and ``last_time``, the last time it holds any value
    at, or ``None``. An int is given as logged (a float may round it), any
    other number as a float."""
    __slots__ = ('last', 'low', 'high', 'last_time')

    def __init__(self):
        self.last = self.low = self.high = self.last_time = None

    def add(self, times, values):
        """Take in the values at `times`, later than any taken so far."""
        if not len(times):
            return
        self.last_time = times[-1]
        if not all_finite(values):
            kept = [(time, int(value) if isinstance(value, Integral) else
                     number) for time, value, number in zip(
                         times, values, map(finite, values))
                    if number is not None]
            if not kept:
                return
            times = [time for time, _ in kept]
            values = [number for _, number in kept]
        self.last = [times[-1], values[-1]]
        smallest, largest = min(values), max(values)
        if self.low is None or smallest < self.low[1]:
            self.low = [times[values.index(smallest)], smallest]
        if self.high is None or largest > self.high[1]:
            self.high = [times[values.index(largest)], largest]

    def followed_by(self, later):
        """These extremes and then `later`'s, of times after all of these
        (a new :class:`Extremes`)."""
        both = Extremes()
        both.last = later.last or self.last
        both.last_time = later.last_time if later.last_time is not None else (
            self.last_time)
        both.low = later.low if later.low is not None and (
            self.low is None or later.low[1] < self.low[1]) else self.low
        both.high = later.high if later.high is not None and (
            self.high is None or later.high[1] > self.high[1]) else self.high
        return both


def first_found(read, low, high):
    """What ``read(start, stop)`` gives (something sized) of the first of
    the windows from `low` towards `high` that holds anything, or
    ``None``: windows growing fourfold from 64 times, so that a dense key
    costs one small read and a sparse one a few."""
    at, width = low, 64
    while at < high:
        found = read(at, min(at + width, high))
        if len(found):
            return found
        at, width = at + width, width * 4
    return None


def last_found(read, low, high):
    """As :func:`first_found`, from `high` down towards `low`."""
    end, width = high, 64
    while end > low:
        found = read(max(low, end - width), end)
        if len(found):
            return found
        end, width = end - width, width * 4
    return None


def _extent(log, key, low, stop):
    # (first, last) of the key's times in [low, stop); None if it holds
    # none there.
    bound = log.last_time(low, stop)
    if bound is None:
        return None

    def times(start, end):
        return log.series([key], start, end)[key][0]
    first = first_found(times, low, bound + 1)
    if first is None:
        return None
    return first[0], last_found(times, first[0], bound + 1)[-1]


def _reader(log, key):
    # read(start, stop): the series of `key` of `log` there.
    return lambda start, stop: log.series([key], start, stop)[key]


def windows(read, begin, finish):
    """What ``read(start, stop)`` (a series, see :mod:`blocks_log.series`)
    gives of ``[begin, finish)``, a window at a time: the first of
    :data:`WINDOW` times, each next one as wide as should hold about
    :data:`WINDOW` values, as the one before held them, and four times as
    wide at most (so across times that hold nothing); an iterator of
    ``(times, values)``, none empty."""
    at, width = begin, WINDOW
    while at < finish:
        upto = min(finish, at + width)
        times, values = read(at, upto)
        if len(times):
            yield times, values
            # Not back to WINDOW: values far apart (a clock's nanoseconds
            # as the time) would take a dozen reads each.
            width = max(WINDOW, min(width * 4,
                                    width * WINDOW // len(times)))
        else:
            width *= 4
        at = upto


def _within(times, low, stop):
    # (first, end): the places of a window's times in [low, stop), or None.
    first = bisect.bisect_left(times, low) if times[0] < low else 0
    end = len(times) if stop is None or times[-1] < stop else (
        bisect.bisect_left(times, stop))
    return (first, end) if end > first else None


def _drawable(times, values):
    # ([times], [numbers]) of what a chart draws of a window: numbers as
    # floats, None where not finite; values that are not numbers left out.
    kept = [(time, finite(value)) for time, value in zip(times, values)
            if value is None or is_number(value)]
    return [time for time, _ in kept], [number for _, number in kept]


class _Smoothing(object):
    """TensorBoard's smoothing of a key's numbers as they pass (see
    :func:`blocks_log.web.charts._smoothed`), and its values and the numbers
    at the times that may be drawn: each point picked, and `edges`."""

    def __init__(self, weight, edges):
        self.ema = smoothing.EMA(weight)
        self.edges = set(edges)
        self.at_edges = {}  # time -> (smoothed, number)
        self.seen, self.first, self.equal, self.before = False, None, True, \
            None

    def add(self, times, values):
        """Go on with a window; ``(times, smoothed, numbers)`` of it, for
        :meth:`_Picking.add`."""
        if not all_finite(values):
            times, values = _drawable(times, values)
        if not len(values):
            return times, [], values
        if not self.seen:
            self.seen, self.first = True, values[0]
        if self.equal and values.count(self.first) != len(values):
            self.equal = False
        out = self.ema.smooth(values[:-1])
        self.before = [self.ema.last, self.ema.count]
        out += self.ema.smooth(values[-1:])
        for time in self.edges:
            if times[0] <= time <= times[-1]:
                place = bisect.bisect_left(times, time)
                if place < len(times) and times[place] == time:
                    self.at_edges[time] = (out[place], values[place])
        return times, out, values

    def at(self, times, picked):
        """(smoothed values at `times`, the state it ends in) as
        :func:`blocks_log.web.charts._smoothed` gives them; `picked` holds
        (smoothed, number) of each point picked, in order."""
        found, place = [], 0
        for time in times:
            if place < len(picked) and picked[place][0] == time:
                found.append(picked[place][1:])
                place += 1
            else:
                found.append(self.at_edges[time])
        if not self.seen or self.equal:
            return [float(number) if number is not None else None
                    for _, number in found], None
        return [float(value) if value is not None else None
                for value, _ in found], [self.ema.last, self.ema.count] + (
                    self.before)


class _Picking(object):
    """The points drawn of a key as its values pass in time order: each
    one while they are at most `points`, else the extremes of each of
    ``points // 2`` buckets of equal width over ``[low, high)``."""

    def __init__(self, points, low, high, places):
        self.points, self.count, self.last = points, 0, None
        buckets = points // 2
        self.first, self.width = low, (high - low) / float(buckets)
        self.bounds = [low + bucket * self.width
                       for bucket in range(1, buckets)]
        self.places = places
        self.few = ([], [], [])  # times, values, (time, smoothed, number)
        self.done = ([], [], [])
        self.bucket = None  # [index, first drawable, low, high] of now

    def geometry(self):
        return [self.first, self.width] if self.count > self.points else None

    def add(self, times, values, inside, smoothing):
        """Go on with a window's `times` and `values`, those at places
        ``inside = (first, end)`` in the range; `smoothing` as
        :meth:`_Smoothing.add` gives it, or ``None``."""
        first, end = inside
        times, values = times[first:end], values[first:end]
        self.count += len(times)
        self.last = int(times[-1])
        if self.count <= self.points:
            kept = _drawable(times, values)
            self.few[0].extend(kept[0])
            self.few[1].extend(kept[1])
            self.few[2].extend(self._smoothed(kept[0], smoothing))
        else:
            self.few = None
        low = bisect.bisect_right(self.bounds, times[0])
        high = bisect.bisect_right(self.bounds, times[-1])
        ends = self.places(times, self.bounds[low:high]) + [len(times)]
        for index, (begin, stop) in enumerate(zip([0] + ends[:-1], ends)):
            if stop > begin:
                self._merge(low + index, times[begin:stop],
                            values[begin:stop], smoothing)

    def _smoothed(self, times, smoothing):
        # (time, smoothed, number) at each of `times` (drawable ones).
        if smoothing is None:
            return [(time, None, None) for time in times]
        smooth_times, out, numbers = smoothing
        found = []
        for time in times:
            place = bisect.bisect_left(smooth_times, time)
            found.append((time, out[place], numbers[place]))
        return found

    def _merge(self, index, times, values, smoothing):
        # A bucket's values: its extremes so far, the first kept.
        if self.bucket is not None and self.bucket[0] != index:
            self._close()
        if self.bucket is None:
            self.bucket = [index, None, None, None]
        bucket = self.bucket
        try:
            low, high = min(values), max(values)
            low_number, high_number = finite(low), finite(high)
            plain = low_number is not None and high_number is not None
        except (TypeError, ValueError):  # as in downsampling._extremes
            plain = False
        if plain:
            lowest = (low_number, times[values.index(low)])
            highest = (high_number, times[values.index(high)])
            drawable = times[0]
        else:
            kept = _drawable(times, values)
            pairs = [(number, time) for time, number in zip(*kept)
                     if number is not None]
            drawable = kept[0][0] if kept[0] else None
            lowest = highest = None
            if pairs:
                lowest = min(pairs, key=_number)
                highest = max(pairs, key=_number)
        if bucket[1] is None:
            bucket[1] = drawable
        if lowest is not None:
            if bucket[2] is None or lowest[0] < bucket[2][0]:
                bucket[2] = lowest + self._smoothed(
                    [lowest[1]], smoothing)[0][1:]
            if bucket[3] is None or highest[0] > bucket[3][0]:
                bucket[3] = highest + self._smoothed(
                    [highest[1]], smoothing)[0][1:]

    def _close(self):
        # The points of the bucket of now, done.
        _, drawable, lowest, highest = self.bucket
        self.bucket = None
        if lowest is None:
            if drawable is not None:
                self._put(drawable, None, (drawable, None, None))
            return
        extremes = [lowest] if lowest[1] == highest[1] else sorted(
            [lowest, highest], key=_time_of)
        for number, time, smoothed, raw in extremes:
            self._put(time, number, (time, smoothed, raw))

    def _put(self, time, value, smoothed):
        self.done[0].append(time)
        self.done[1].append(value)
        self.done[2].append(smoothed)

    def shown(self):
        """``[times, values, (time, smoothed, number) of each]`` drawn."""
        if self.few is not None:
            return [list(part) for part in self.few]
        if self.bucket is not None:
            self._close()
        return [list(part) for part in self.done]


def _number(pair):
    return pair[0]


def _time_of(extreme):
    return extreme[1]
