"""What the pages ask for: runs, series downsampled (and smoothed) for a
chart, each run's summary of a key, rows, and CSV and JSON, read from a
:class:`~blocks_log.sources.Source` that the server opens, read-only and
strict, once for each request (so that a run being trained is seen as it
grows)."""
import array
import base64
import bisect
import csv
import io
import itertools
import json
import math
import operator
import sys
from numbers import Integral

from blocks_log import smoothing
from blocks_log.web import streamed
from blocks_log.analysis import all_finite, finite, is_number
from blocks_log.sources import checked, checked_series
from blocks_log.tables import cell, csv_cell, rows_of

#: Points a series sends at most (two per bucket of times: its smallest and
#: largest value), whatever the length of the run.
MAX_POINTS = 2000
#: What one request may ask for, at most: runs, keys, points of a series,
#: rows. More is a 400 (3,000 runs in one request took minutes).
MAX_RUNS = 256
MAX_KEYS = 256
MOST_POINTS = 100000
MAX_ROWS = 10000


class BadRequest(ValueError):
    """A query the API cannot answer (HTTP 400)."""


class NotFound(LookupError):
    """No such run or page (HTTP 404)."""


class Gone(Exception):
    """The client went away: its answer is not made."""


def run_list(source):
    """The runs of `source`, each a dict (see
    :class:`blocks_log.sources.Run`) with its ``depth`` in the lineage
    tree, parents before their children."""
    found = source.runs()
    by_uuid = dict((run.uuid, run) for run in found)
    children = {}
    for run in found:
        parent = run.parent if run.parent in by_uuid else None
        children.setdefault(parent, []).append(run)
    ordered = []

    def visit(parent, depth):
        for run in children.get(parent, []):
            ordered.append(dict(run.as_dict(), depth=depth))
            visit(run.uuid, depth + 1)
    visit(None, 0)
    return ordered


def described(source, uuids):
    """The dicts of :func:`run_list` of the runs `uuids`, in that order.

    Raises
    ------
    NotFound
    """
    by_uuid = dict((run['uuid'], run) for run in run_list(source))
    missing = [uuid for uuid in uuids if uuid not in by_uuid]
    if missing:
        raise NotFound('no run {}'.format(missing[0]))
    return [by_uuid[uuid] for uuid in uuids]


def find(source, name):
    """The full uuid of the run `name` (a uuid, a prefix, ``last``).

    Raises
    ------
    NotFound
    """
    try:
        return source.find(name)
    except LookupError as error:
        raise NotFound(str(error).strip('"\''))


def _open(source, name):
    return source.open(find(source, name))


def _bounds(query):
    bounds = []
    for name in ('start', 'stop'):
        text = query.get(name)
        if text in (None, ''):
            bounds.append(None)
            continue
        try:
            value = int(text)
        except ValueError:
            raise BadRequest('{} must be a whole number, not {!r}'.format(
                name, text))
        if value < 0:
            raise BadRequest('{} must not be negative'.format(name))
        bounds.append(value)
    return bounds


def _points(query):
    text = query.get('points') or str(MAX_POINTS)
    try:
        points = int(text)
    except ValueError:
        raise BadRequest('points must be a whole number')
    if not 2 <= points <= MOST_POINTS:
        raise BadRequest('points must be from 2 to {}'.format(MOST_POINTS))
    return points


#: The most items of each list a request may name.
_MOST = {'runs': MAX_RUNS, 'keys': MAX_KEYS}


def names(query, name):
    """The comma-separated list `name` of a query (empty if missing), each
    item once, in order.

    Raises
    ------
    BadRequest
        If it names more than :data:`MAX_RUNS` runs or :data:`MAX_KEYS`
        keys.
    """
    items = []
    for item in (query.get(name) or '').split(','):
        if item and item not in items:
            items.append(item)
    most = _MOST.get(name)
    if most is not None and len(items) > most:
        raise BadRequest('ask for at most {} {} at once, not {}'.format(
            most, name, len(items)))
    return items


def series(source, query, gone=None):
    """The chart data of the runs and keys of `query` (``runs``, ``keys``,
    ``start``, ``stop``, ``points``, ``smoothing``, ``numbers``)::

        {'runs': {uuid: {'keys': {key: [[times], [values]]},
                         'epochs': [...], 'iterations': n,
                         'epochs_done': n, 'restarts': [[uuid, t]],
                         'last_time': t, 'count': {key: values in range},
                         'last': {key: its last time in range},
                         'buckets': {key: [first, width, count]}}}}

    Values that are not finite numbers are ``null`` (a gap). A range
    (``start``, ``stop``) holds, beyond each of its ends, the key's nearest
    point outside it, so that a line crosses the edge of a zoomed chart
    (``count`` does not count them). A key downsampled has its
    ``buckets``: bucket ``b`` (of ``count``) holds the times from ``first +
    b * width``, below ``first + (b + 1) * width`` (the last, every later
    one). With a ``smoothing`` weight (from 0
    to below 1), each run also has ``'smoothed': {key: [values]}``,
    TensorBoard's smoothing (see :mod:`blocks_log.smoothing`) over the run
    up to the range's end, at the times of ``keys`` (one list: the times
    are theirs), and
    ``'ema': {key: [last, count, last, count] or None}``, where it ends
    (after its last time, and before it). With ``numbers=base64``, each
    list of values (not of times) is a str instead: the base64 of its
    float64s, little-endian, a gap NaN; what the page asks for, since
    writing each float as text took half the time of a comparison of 200
    runs. With ``clock=1``, each run also has ``'clock': [[times],
    [walls]]``, the wall clock (seconds since the epoch; see
    :meth:`blocks_log.database.log.DatabaseLog.clock`) of every time the
    answer names (its points, restarts and epochs) that has one, and
    ``'began'``, the first wall of its lineage (``None`` for both where it
    keeps no clock): what the page draws on a wall-clock or a relative
    time axis. `gone()`, asked between runs, tells whether the client
    went away.

    Raises
    ------
    BadRequest, NotFound
    Gone
        If `gone()` says so.
    """
    uuids = names(query, 'runs')
    if not uuids:
        raise BadRequest('name the runs: ?runs=uuid,uuid')
    keys = names(query, 'keys') or None
    start, stop = _bounds(query)
    points = _points(query)
    weight = _smoothing(query)
    packed = _numbers(query)
    timed = _flag(query, 'clock')
    uuids = [find(source, name) for name in uuids]
    source.check_keys(keys, uuids)
    answer = {}
    for uuid in uuids:
        if gone is not None and gone():
            raise Gone()
        log = _open(source, uuid)
        status = log.status
        iterations = status.get('iterations_done')
        shown, buckets, counts, lasts = {}, {}, {}, {}
        smoothed, emas = {}, {}
        for key, column in _columns(source, log, uuid, keys, start, stop,
                                    iterations):
            if column is None:  # a large run: a window at a time
                found = streamed.chart(
                    log, key, start, stop, points, weight, _with_edges(
                        log, key, start, stop, [[], []]), _places,
                    _checking(log, key), keys is not None)
                if found is None:
                    continue
            else:
                found = _chart(log, key, column, start, stop, points,
                               weight)
            shown[key], geometry, counts[key], lasts[key], smooth = found
            if geometry is not None:
                buckets[key] = geometry + [points // 2]
            if weight:
                smoothed[key], emas[key] = smooth
                if packed:
                    smoothed[key] = base64_numbers(smoothed[key])
            if packed:
                shown[key][1] = base64_numbers(shown[key][1])
        answer[uuid] = {
            'keys': shown,
            'buckets': buckets,
            'count': counts,
            'last': lasts,
            'epochs': [int(end) for end in status.get('_epoch_ends') or []],
            'iterations': iterations,
            'epochs_done': status.get('epochs_done'),
            # where each run it resumed through began (a log held in
            # memory keeps no lineage of its own)
            'restarts': [[run, first] for run, first in getattr(
                log, 'restarts', list)() if first is not None],
            'last_time': max([last for last in lasts.values()
                              if last is not None], default=None)}
        if weight:
            answer[uuid]['smoothed'], answer[uuid]['ema'] = smoothed, emas
        if timed:
            answer[uuid]['clock'], answer[uuid]['began'] = _clock(
                log, answer[uuid], packed)
    return {'runs': answer}


def _chart(log, key, column, start, stop, points, weight):
    # streamed.chart() of a key's series `column`, read whole.
    times, values = column
    places, picked = _picked(times, values, points, start, stop)
    geometry = None
    if len(times) > points:
        geometry = list(_buckets(times, points, start, stop))
    shown = _with_edges(log, key, start, stop, [
        [times[place] for place in places], picked])
    smooth = None
    if weight:
        smooth = _smoothed(log, key, times, values, start, stop, weight,
                           shown[0], places)
    return (shown, geometry, len(times),
            int(times[-1]) if len(times) else None, smooth)


def _flag(query, name):
    text = query.get(name)
    if text not in (None, '', '0', '1'):
        raise BadRequest('{} must be 0 or 1, not {!r}'.format(name, text))
    return text == '1'


def _clock(log, run, packed):
    # ([[times], [walls]], the lineage's first wall) of the times `run` (an
    # answer of series()) names, looked up in the clock read a window at a
    # time; (None, None) for a log that keeps no clock (one held in
    # memory).
    if not hasattr(log, 'clock'):
        return None, None
    named = set(time for times, _ in run['keys'].values() for time in times)
    named.update(time for _, time in run['restarts'])
    high = 0
    if named:
        low, high = min(named), max(named) + 1
        named.update(end for end in run['epochs'] if low <= end < high)
    named = sorted(named)
    found, at = [[], []], 0
    while at < len(named):
        # A window of the clock at a time, from the next time named: a
        # request holds no more of it than of a key's values.
        end = named[at] + CLOCK_WINDOW
        times, walls = log.clock(named[at], end)
        while at < len(named) and named[at] < end:
            place = bisect.bisect_left(times, named[at])
            if place < len(times) and times[place] == named[at]:
                found[0].append(named[at])
                found[1].append(walls[place])
            at += 1
    if packed:
        found[1] = base64_numbers(found[1])
    return found, _began(log, high)


#: Times of the clock a request reads at once (see _clock).
CLOCK_WINDOW = 65536


def _began(log, high):
    # The first wall of the log's lineage below `high`, looked for from
    # time 0 (where a run begins, as a rule).
    found = streamed.first_found(
        lambda low, end: log.clock(low, end)[1], 0, high)
    return None if found is None else found[0]


#: Values of a run's range a request reads at once, at most (about 16 MB
#: with their times): a larger run is drawn a key and a window of times at
#: a time (see streamed), so that what a request holds does not grow with
#: the run (a run of 100 keys of a million iterations: 800 MB at once).
READ_AT_ONCE = 2 * 10 ** 6
#: Iterations of a range read at once without counting its keys (which
#: costs a read of each run's head: 0.1 s of a comparison of 200 runs).
SHORT_RANGE = 10000


def _columns(source, log, uuid, keys, start, stop, done):
    # (key, (times, values)) of each key of `keys` (every key holding a
    # value in the range, if None) of the run, its series in the range
    # read at once; (key, None) of each key of a large range, which
    # streamed.chart draws a window at a time.
    # The range's iterations, as its status says (`done`, its
    # iterations_done; no read: a comparison of 200 runs asking for their
    # last times took 0.3 s more); an estimate, which picks only how to
    # read.
    span = None  # not known: a window at a time
    if type(done) is int:
        span = (done + 1 if stop is None else min(stop, done + 1)) - (
            start or 0)
    every = keys
    if keys is None:
        every = source.keys(uuid) if span is None or span > SHORT_RANGE \
            else ()
    if every and (span is None or span * len(every) > READ_AT_ONCE):
        for key in every:
            yield key, None
        return
    yield from checked_series(log, keys, start, stop).items()


def _checking(log, key):
    # What checks each part of a key's series a chart reads (see
    # sources.checked).
    def check(times, values):
        checked(log, {key: (times, values)})
    return check


def _numbers(query):
    text = query.get('numbers')
    if text in (None, '', 'json'):
        return False
    if text != 'base64':
        raise BadRequest('numbers must be json or base64, not {!r}'.format(
            text))
    return True


def base64_numbers(values):
    """`values` (finite floats, or ``None`` for a gap) as the base64 text of
    their float64s, little-endian, a gap NaN: what JavaScript reads as a
    ``Float64Array`` in one step."""
    try:
        numbers = array.array('d', values)
    except TypeError:  # gaps among them
        numbers = array.array('d', [_NAN if value is None else value
                                    for value in values])
    if sys.byteorder != 'little':
        numbers.byteswap()
    return base64.b64encode(numbers.tobytes()).decode('ascii')


_NAN = float('nan')


def _smoothing(query):
    text = query.get('smoothing')
    if text in (None, ''):
        return 0.0
    try:
        return smoothing.check_weight(text)
    except ValueError as error:
        raise BadRequest(str(error))


def _smoothed(log, key, times, values, start, stop, weight, shown,
              places):
    # TensorBoard's smoothing of the key over the whole run up to the end
    # of the range (so that a zoomed range goes on from what came before
    # it), at the times its values are drawn at (`shown`: each bucket's
    # extremes, and the point beyond each end of a range; `places`: where
    # the extremes are among `values`): one x axis for
    # both curves, and no second downsampling. And the state it ends in
    # ([last, count] after its last time and before it; None where the
    # series is one value, which is not smoothed), from which a page goes
    # on with the values that come next.
    whole = not start and stop is None
    if not whole:
        # To the range's end (and its point beyond it): the state is that
        # after the range's last value, drawn or not.
        end = stop if stop is None or not shown else max(stop,
                                                         shown[-1] + 1)
        times, values = log.series([key], 0, end)[key]
    if all_finite(values):
        numbers = values  # numbers, all finite: as they are (1M: 50 ms)
    else:
        whole = False  # its places are not those of `places`
        kept = [(time, finite(value)) for time, value in zip(times, values)
                if value is None or is_number(value)]
        times = [time for time, _ in kept]
        numbers = [value for _, value in kept]
    at = places if whole else [bisect.bisect_left(times, time)
                               for time in shown]
    if not numbers or all(value == numbers[0] for value in numbers):
        return [float(numbers[index]) if numbers[index] is not None else None
                for index in at], None
    # Smoothed a window at a time, and only the values drawn kept, so that
    # a request holds one window of the smoothing, not the whole run's (a
    # million floats: 32 MB). The state before the last time too: a page
    # asks again for the last time it knows (its row may have grown), and
    # goes on from before it.
    running = smoothing.EMA(weight)
    kept, next_at, begin, last = [], 0, 0, len(numbers) - 1
    while begin <= last:
        end = min(begin + SMOOTHING_WINDOW, last)
        window = running.smooth(numbers[begin:end])
        if end == last:
            before = [running.last, running.count]
            window += running.smooth(numbers[last:])
            end += 1
        while next_at < len(at) and at[next_at] < end:
            value = window[at[next_at] - begin]
            kept.append(float(value) if value is not None else None)
            next_at += 1
        begin = end
    return kept, [running.last, running.count] + before


#: Values smoothed at once by a request (see _smoothed).
SMOOTHING_WINDOW = 65536


def _with_edges(log, key, start, stop, points):
    # `points` with the key's last drawable point before `start` and first
    # from `stop` on, found in windows that grow fourfold, so that a dense
    # key costs one small read and a sparse one a few.
    times, values = points

    def drawable(low, high):
        return _drawable(log, key, low, high)
    if start:
        found = streamed.last_found(drawable, 0, start)
        if found:
            times, values = [found[-1][0]] + times, [found[-1][1]] + values
    if stop is not None:
        last = log.last_time(stop)
        found = None if last is None else streamed.first_found(
            drawable, stop, last + 1)
        if found:
            times, values = times + [found[0][0]], values + [found[0][1]]
    return [times, values]


def _drawable(log, key, start, stop):
    times, values = log.series([key], start, stop)[key]
    return [(time, finite(value)) for time, value in zip(times, values)
            if value is None or is_number(value)]


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
    places, picked = _picked(times, values, points, low, high)
    return [[times[place] for place in places], picked]


def _picked(times, values, points, low=None, high=None):
    # downsample(), as the places of the values picked and those values.
    if len(times) <= points:
        kept = [(place, finite(value)) for place, value in enumerate(values)
                if value is None or is_number(value)]
        return [place for place, _ in kept], [value for _, value in kept]
    buckets = points // 2
    first, width = _buckets(times, points, low, high)
    # Where each bucket begins; the last ends with the series.
    ends = _places(times, [first + bucket * width
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


def _places(times, bounds):
    # [bisect.bisect_left(times, bound) for bound in bounds]; computed
    # where `times` are a range (a key logged at a regular step, as a
    # store reads it), where each bisection made an int of each probe (a
    # comparison of 200 runs: 0.23 s of its 1.0 s; a list of the times
    # would be as fast, at 36 bytes a time).
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


def _buckets(times, points, low=None, high=None):
    # (first time, width) of the buckets of a series downsampled to
    # `points`: bucket b holds first + b * width <= time < first + (b + 1)
    # * width (the last one, every later time).
    first = times[0] if low is None else low
    return first, ((times[-1] + 1 if high is None else high) - first) / float(
        points // 2)


def _finite_extremes(values, spans):
    # _picked() of finite numbers: a bucket's min, max and their places
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
        if is_number(low) and is_number(high) and math.isfinite(
                low) and math.isfinite(high):
            return _in_order(part.index(low), float(low), part.index(high),
                             float(high))
    except TypeError:  # strings, None among the numbers
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


def summary(source, query, gone=None):
    """Of each run of `source` that logged the key ``key`` of `query`: its
    last value and its smallest and largest (finite numbers only), with
    their times::

        {uuid: {'last': [time, value], 'min': [time, value],
                'max': [time, value]}}

    (``None`` where it logged no number). What the runs page sorts and
    shows runs by.

    Raises
    ------
    BadRequest
        If no key is named.
    Gone
        If `gone()` says so, asked between runs.
    """
    key = query.get('key')
    if not key:
        raise BadRequest('name the key: ?key=loss')
    answer = {}
    for run in source.runs():
        if key not in run.keys:
            continue
        if gone is not None and gone():
            raise Gone()
        # A window at a time: a request holds no more of a run than that.
        log = source.open(run.uuid)
        last, low, high = streamed.extremes(log, key, _checking(log, key))
        answer[run.uuid] = {'last': last, 'min': low, 'max': high}
    return answer


def rows(source, query):
    """The rows of one run (``run``; ``keys``, ``start``, ``stop``,
    ``limit``: the last rows, 200 by default): ``{'columns': [...],
    'rows': [[time, value, ...]]}``, values as text."""
    uuid = query.get('run')
    if not uuid:
        raise BadRequest('name the run: ?run=uuid')
    keys = names(query, 'keys') or None
    start, stop = _bounds(query)
    try:
        limit = int(query.get('limit') or 200)
    except ValueError:
        limit = 0
    if not 1 <= limit <= MAX_ROWS:
        raise BadRequest('limit must be a whole number from 1 to {}'.format(
            MAX_ROWS))
    log = _open(source, uuid)
    source.check_keys(keys, [log.h_uuid])
    columns, found = rows_of(log, keys, start, stop, tail=limit)
    return {'columns': columns, 'rows': [
        [t] + [cell(values.get(key)) for key in columns]
        for t, values in found]}


#: Rows an export reads at a time: what one request holds, whatever the
#: size of the runs it exports.
EXPORT_ROWS = 4096


def _export(source, query):
    # The runs, columns and range of an export, checked before a byte of
    # it is sent: the keys named, or every key of the runs (sorted).
    uuids = names(query, 'runs')
    if not uuids:
        raise BadRequest('name the runs: ?runs=uuid,uuid')
    keys = names(query, 'keys') or None
    start, stop = _bounds(query)
    uuids = [find(source, name) for name in uuids]
    source.check_keys(keys, uuids)
    columns = keys or sorted(set(key for uuid in uuids
                                 for key in source.keys(uuid)))
    return uuids, columns, start or 0, stop


def _pages(log, keys, start, stop):
    # The rows of `log` in [start, stop), EXPORT_ROWS at a time.
    while True:
        _, rows = rows_of(log, keys, start, stop, head=EXPORT_ROWS)
        if not rows:
            return
        yield rows
        start = rows[-1][0] + 1


def json_text(source, query):
    """JSON of the runs and keys of `query` (as :func:`csv_text`), every
    value logged in the range, as pieces of text to send in turn::

        {uuid: {key: [[time, value], ...]}}

    A finite number as a number; NaN, inf and anything else as the text a
    CSV cell holds (``'nan'``, ``'inf'``...), which JSON cannot hold as
    numbers. The runs and keys are checked at once; the values are read a
    key and :data:`EXPORT_ROWS` rows at a time.

    Raises
    ------
    BadRequest, NotFound
    blocks_log.errors.UnknownKeyError
    """
    uuids, columns, start, stop = _export(source, query)

    def pieces():
        yield '{'
        for run_at, uuid in enumerate(uuids):
            log = source.open(uuid)
            yield '{}{}: {{'.format(', ' if run_at else '', json.dumps(uuid))
            for key_at, key in enumerate(columns):
                yield '{}{}: ['.format(', ' if key_at else '', json.dumps(key))
                first = True
                for rows in _pages(log, [key], start, stop):
                    pairs = [[time, _json_value(values[key])]
                             for time, values in rows if key in values]
                    if pairs:
                        text = json.dumps(pairs, allow_nan=False,
                                          default=str)[1:-1]
                        yield text if first else ', ' + text
                        first = False
                yield ']'
            yield '}'
        yield '}'
    return pieces()


def _json_value(value):
    # What JSON holds of a value: a finite number as one (numpy's too), and
    # anything else as the text of its CSV cell.
    if is_number(value) and math.isfinite(value):
        return int(value) if isinstance(value, Integral) else float(value)
    return csv_cell(value)


def csv_text(source, query):
    """CSV of the runs and keys of `query` (``runs``, ``keys``, ``start``,
    ``stop``): what the page shows, a row per run and time, a column per
    key named (or of the runs, sorted), as pieces of text to send in turn.
    The runs and keys are checked at once; the rows are read
    :data:`EXPORT_ROWS` at a time.

    Raises
    ------
    BadRequest, NotFound
    blocks_log.errors.UnknownKeyError
    """
    uuids, columns, start, stop = _export(source, query)

    def lines(rows):
        out = io.StringIO()
        writer = csv.writer(out, lineterminator='\n')
        writer.writerows(rows)
        return out.getvalue()

    def pieces():
        yield lines([['run', 'time'] + columns])
        for uuid in uuids:
            for rows in _pages(source.open(uuid), columns, start, stop):
                yield lines([[uuid, time] + [csv_cell(values.get(key))
                                             for key in columns]
                             for time, values in rows])
    return pieces()
