"""What the pages ask for, and what the API modules share: the runs of a
:class:`~blocks_log.sources.Source` that the server opens, read-only and
strict, once for each request (so that a run being trained is seen as it
grows), each run's summary of a key, the query's lists and range, and the
errors a request gets. The charts' series are in :mod:`.charts`, rows and
exports in :mod:`.rows`.

"""
from blocks_log.numeric import EXACT_INTS
from blocks_log.sources import checked
from blocks_log.tables import split_names
from blocks_log.web import summaries

#: What one request may name, at most: runs and keys (points of a series
#: and rows: see :mod:`.charts` and :mod:`.rows`). More is a 400 (3,000
#: runs in one request took minutes).
MAX_RUNS = 256
MAX_KEYS = 256


class BadRequest(ValueError):
    """A query the API cannot answer (HTTP 400)."""


class NotFound(LookupError):
    """No such run or page (HTTP 404)."""


class Gone(Exception):
    """The client went away: its answer is not made."""


def run_list(source):
    """The runs of `source`, each a dict (see
    :class:`blocks_log.sources.Run`) with its ``depth`` in the lineage
    tree, parents before their children (each right under its parent, in
    the source's order)."""
    found = source.runs()
    by_uuid = dict((run.uuid, run) for run in found)
    children = {}
    for run in found:
        parent = run.parent if run.parent in by_uuid else None
        children.setdefault(parent, []).append(run)
    ordered = []
    # Depth first, on a stack of its own: a lineage of a checkpoint every
    # epoch is thousands deep, past Python's recursion limit.
    stack = [(run, 0) for run in reversed(children.get(None, []))]
    while stack:
        run, depth = stack.pop()
        ordered.append(dict(run.as_dict(), depth=depth))
        stack.extend((child, depth + 1)
                     for child in reversed(children.get(run.uuid, [])))
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


def open_run(source, name):
    """The log of the run `name` of `source` (see :func:`find`).

    Raises
    ------
    NotFound
    """
    return source.open(find(source, name))


def bounds(query):
    """``[start, stop]`` of a query's range, each ``None`` where it names
    none.

    Raises
    ------
    BadRequest
        If either is not a whole number, or is negative.
    """
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


#: The most items of each list a request may name.
_MOST = {'runs': MAX_RUNS, 'keys': MAX_KEYS}


def names(query, name):
    """The comma-separated list `name` of a query (empty if missing; see
    :func:`blocks_log.tables.split_names`), each item once, in order.

    Raises
    ------
    BadRequest
        If it names more than :data:`MAX_RUNS` runs or :data:`MAX_KEYS`
        keys.
    """
    items = []
    for item in split_names(query.get(name) or ''):
        if item and item not in items:
            items.append(item)
    most = _MOST.get(name)
    if most is not None and len(items) > most:
        raise BadRequest('ask for at most {} {} at once, not {}'.format(
            most, name, len(items)))
    return items


def checking(log, key):
    """What checks each part of the series of `key` that a chart reads, as
    :func:`blocks_log.sources.checked` does."""
    def check(times, values):
        checked(log, {key: (times, values)})
    return check


def summary(source, query, gone=None):
    """Of each run of `source` that logged the key ``key`` of `query`: its
    last value and its smallest and largest (finite numbers only), with
    their times::

        {uuid: {'last': [time, value], 'min': [time, value],
                'max': [time, value]}}

    (``None`` where it logged no number). What the runs page sorts and
    shows runs by. An int past 2 ** 53, which a JavaScript number would
    round, is the text of its digits, a time as a value (see
    :func:`exact_in_javascript`).

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
    lineages = summaries.Lineages(source, key, gone)
    answer = {}
    for run in source.runs():
        if key in run.keys:
            found = lineages.of(run.uuid)
            answer[run.uuid] = {'last': _pair_in_javascript(found.last),
                                'min': _pair_in_javascript(found.low),
                                'max': _pair_in_javascript(found.high)}
    return answer


def _pair_in_javascript(found):
    # `found` ([time, value] or None) as the page shows it.
    if found is None:
        return None
    return [exact_in_javascript(found[0]), exact_in_javascript(found[1])]


def exact_in_javascript(number):
    """`number` as the page is sent what it shows as text: an int past
    2 ** 53 (a time of a clock's nanoseconds, a seed), which a JavaScript
    number (a float64) would round, as the text of its digits; anything
    else as it is."""
    if type(number) is int and not -EXACT_INTS <= number <= EXACT_INTS:
        return str(number)
    return number
