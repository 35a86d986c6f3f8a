"""What the pages ask for: runs, series downsampled for a chart, rows and
CSV, read from a :class:`~blocks_log.sources.Source` that the server
opens, read-only and strict, once for each request (so that a run being
trained is seen as it grows)."""
import bisect
import csv
import io
import math

from blocks_log.analysis import finite, is_number
from blocks_log.sources import checked_series
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
    ``start``, ``stop``, ``points``)::

        {'runs': {uuid: {'keys': {key: [[times], [values]]},
                         'epochs': [...], 'iterations': n,
                         'last_time': t, 'count': {key: values in range}}}}

    Values that are not finite numbers are ``null`` (a gap). `gone()`,
    asked between runs, tells whether the client went away.

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
    uuids = [find(source, name) for name in uuids]
    source.check_keys(keys, uuids)
    answer = {}
    for uuid in uuids:
        if gone is not None and gone():
            raise Gone()
        log = _open(source, uuid)
        columns = checked_series(log, keys, start, stop)
        status = log.status
        answer[uuid] = {
            'keys': dict((key, downsample(times, values, points))
                         for key, (times, values) in columns.items()),
            'count': dict((key, len(times)) for key, (times, _) in
                          columns.items()),
            'epochs': [int(end) for end in status.get('_epoch_ends') or []],
            'iterations': status.get('iterations_done'),
            'last_time': max([int(times[-1]) for times, _ in
                              columns.values() if len(times)],
                             default=None)}
    return {'runs': answer}


def downsample(times, values, points):
    """``[times, values]`` of a series for a chart of `points` points at
    most: per bucket of times, its smallest and largest finite number
    (both at the bucket's first time; ``None``, a gap, where it holds none
    but NaN, inf or ``None``); the series as it is when it is short enough.
    Values that are not numbers are left out."""
    if len(times) <= points:
        kept = [(t, finite(v)) for t, v in zip(times, values)
                if v is None or is_number(v)]
        return [[t for t, _ in kept], [v for _, v in kept]]
    buckets = points // 2
    first = times[0]
    width = (times[-1] - first + 1) / float(buckets)
    out_times, out_values = [], []
    end = 0
    for bucket in range(buckets):
        start = end
        end = bisect.bisect_left(times, first + (bucket + 1) * width, start)
        if end > start:
            extremes = _extremes(values[start:end])
            if extremes is not None:
                out_times += [times[start], times[start]]
                out_values += extremes
    return [out_times, out_values]


def _extremes(part):
    # [smallest, largest] of a bucket, at C speed where it holds only
    # finite numbers (min and max skip a NaN unless it comes first: an
    # answer that is not finite is checked value by value); None if it
    # holds nothing to draw.
    try:
        low, high = min(part), max(part)
        if is_number(low) and is_number(high) and math.isfinite(
                low) and math.isfinite(high):
            return [float(low), float(high)]
    except TypeError:  # strings, None among the numbers
        pass
    numbers = [number for number in (finite(v) for v in part
                                     if v is None or is_number(v))
               if number is not None]
    if numbers:
        return [min(numbers), max(numbers)]
    if any(v is None or is_number(v) for v in part):
        return [None, None]
    return None




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


def csv_text(source, query):
    """CSV of the runs and keys of `query` (``runs``, ``keys``, ``start``,
    ``stop``): what the page shows, a row per run and time."""
    uuids = names(query, 'runs')
    if not uuids:
        raise BadRequest('name the runs: ?runs=uuid,uuid')
    keys = names(query, 'keys') or None
    start, stop = _bounds(query)
    uuids = [find(source, name) for name in uuids]
    source.check_keys(keys, uuids)
    table, columns = [], []
    for uuid in uuids:
        _, found = rows_of(source.open(uuid), keys, start, stop)
        for time, values in found:  # keys as they first appear
            columns.extend(key for key in values if key not in columns)
            table.append((uuid, time, values))
    out = io.StringIO()
    writer = csv.writer(out, lineterminator='\n')
    writer.writerow(['run', 'time'] + columns)
    for uuid, time, values in table:
        writer.writerow([uuid, time] + [csv_cell(values.get(key))
                                        for key in columns])
    return out.getvalue()
