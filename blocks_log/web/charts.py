"""The charts' series: each run's keys over a range, downsampled (see
:mod:`.downsampling`), smoothed as TensorBoard smooths, with the wall
clock of the times drawn; a large run read a key and a window at a time
(see :mod:`.streamed`).

"""
import array
import base64
import bisect
import sys

from blocks_log import smoothing
from blocks_log.numeric import all_finite, finite, is_number
from blocks_log.sources import checked_series
from blocks_log.web import data, downsampling, streamed

#: Points a series sends at most (two per bucket of times: its smallest and
#: largest value), whatever the length of the run.
MAX_POINTS = 2000
#: The most points a request may ask for (more is a 400).
MOST_POINTS = 100000


def _points(query):
    text = query.get('points') or str(MAX_POINTS)
    try:
        points = int(text)
    except ValueError:
        raise data.BadRequest('points must be a whole number')
    if not 2 <= points <= MOST_POINTS:
        raise data.BadRequest('points must be from 2 to {}'.format(
            MOST_POINTS))
    return points


def series(source, query, gone=None):
    """The chart data of the runs and keys of `query` (``runs``, ``keys``,
    ``start``, ``stop``, ``points``, ``smoothing``, ``numbers``)::

        {'runs': {uuid: {'keys': {key: [[times], [values]]},
                         'epochs': [...], 'iterations': n (its digits
                         past 2 ** 53),
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
    answer data.names (its points, restarts and epochs) that has one, and
    ``'began'``, the first wall of its lineage (``None`` for both where it
    keeps no clock): what the page draws on a wall-clock or a relative
    time axis. `gone()`, asked between runs, tells whether the client
    went away.

    Raises
    ------
    data.BadRequest, NotFound
    data.Gone
        If `gone()` says so.
    """
    uuids = data.names(query, 'runs')
    if not uuids:
        raise data.BadRequest('name the runs: ?runs=uuid,uuid')
    keys = data.names(query, 'keys') or None
    start, stop = data.bounds(query)
    points = _points(query)
    weight = _smoothing(query)
    packed = _numbers(query)
    timed = _flag(query, 'clock')
    uuids = [data.find(source, name) for name in uuids]
    source.check_keys(keys, uuids)
    answer = {}
    for uuid in uuids:
        if gone is not None and gone():
            raise data.Gone()
        log = data.open_run(source, uuid)
        status = log.status
        iterations = status.get('iterations_done')
        shown, buckets, counts, lasts = {}, {}, {}, {}
        smoothed, emas = {}, {}
        for key, column in _columns(source, log, uuid, keys, start, stop,
                                    iterations):
            if column is None:  # a large run: a window at a time
                found = streamed.chart(
                    log, key, start, stop, points, weight, _with_edges(
                        log, key, start, stop, [[], []]),
                    downsampling.places_of, data.checking(log, key),
                    keys is not None)
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
            # shown as text, and so exact past 2 ** 53 (the steps drawn,
            # and the times the page asks from, are floats, and say so)
            'iterations': data.exact_in_javascript(iterations),
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
    places, picked = downsampling.picks(times, values, points, start, stop)
    geometry = None
    if len(times) > points:
        geometry = list(downsampling.bucket_geometry(times, points, start,
                                                     stop))
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
        raise data.BadRequest('{} must be 0 or 1, not {!r}'.format(name, text))
    return text == '1'


def _clock(log, run, packed):
    # ([[times], [walls]], the lineage's first wall) of the times `run` (an
    # answer of series()) data.names, looked up in the clock read a window at a
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


def _numbers(query):
    text = query.get('numbers')
    if text in (None, '', 'json'):
        return False
    if text != 'base64':
        raise data.BadRequest(
            'numbers must be json or base64, not {!r}'.format(text))
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
        raise data.BadRequest(str(error))


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
