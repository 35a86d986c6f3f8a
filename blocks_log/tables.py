"""What a command or a page shows of a run: its rows, read from where
they are wanted, and each value as a cell of a table, of a CSV file or of
JSON. Below both :mod:`blocks_log.cli` and :mod:`blocks_log.web`.

"""
import json
import re

from blocks_log import series
from blocks_log.analysis import series_records
from blocks_log.sources import checked_series

# The password of a postgresql:// URL, and of a key=value DSN.
_PASSWORDS = (re.compile(r'(postgres(?:ql)?://[^:/@\s]*:)[^@\s]*@'),
              re.compile(r"(password\s*=\s*)('[^']*'|\S+)"))


# What a terminal would act on rather than show: C0 and C1 control
# characters (line breaks, tabs, escapes), and DEL.
_UNPRINTABLE = re.compile('[\x00-\x1f\x7f-\x9f]')


def printable(text):
    """`text` with each control character written as a str's ``repr``
    writes it (``\\n``, ``\\t``, ``\\x1b``...): a key or a value printed
    to a terminal holds no line break that cuts a table's row, and no
    escape that the terminal would act on (a log someone sent you)."""
    if not _UNPRINTABLE.search(text):
        return text
    return _UNPRINTABLE.sub(lambda found: repr(found.group())[1:-1], text)


def redact(text):
    """`text` with every password of a URL or DSN in it replaced by
    ``***``: messages and pages name a database, never its password."""
    text = str(text)
    for pattern in _PASSWORDS:
        text = pattern.sub(lambda match: match.group(1) + '***', text)
    return text


def split_names(text):
    """The names of the comma-separated list `text`, as the command
    line's ``--keys`` and the page's ``?keys=`` take them: a comma within
    a name written ``\\,``, and a backslash before a comma or another
    backslash ``\\\\`` (keys are data: ``loss,top5`` is one key). Any
    other backslash is itself. Empty names are kept (``'a,'`` is ``['a',
    '']``)."""
    names, name, index = [], [], 0
    while index < len(text):
        char = text[index]
        if char == '\\' and text[index + 1:index + 2] in (',', '\\'):
            name.append(text[index + 1])
            index += 2
            continue
        if char == ',':
            names.append(''.join(name))
            name = []
        else:
            name.append(char)
        index += 1
    names.append(''.join(name))
    return names


def rows_of(log, keys=None, start=None, stop=None, head=None, tail=None):
    """``(columns, [(time, {key: value})])`` of `log`: the rows of times
    ``start <= time < stop`` (only the first `head` or the last `tail` of
    them, if given), times increasing; columns the keys of those rows in
    the order they first appear there, or `keys`.

    The first or last rows are read in a window at that end of the range,
    widened until it holds enough of them: their cost, in time and memory,
    does not grow with the run (the last rows of a run of any size in
    milliseconds, from where :meth:`~TrainingLogBase.last_time` says it
    ends).

    Raises
    ------
    blocks_log.errors.DamagedLogError
        If a value read is a damaged chunk's placeholder.
    """
    start = start or 0
    count = head if head is not None else tail
    if count is None:
        columns = checked_series(log, keys, start, stop)
    elif count == 0:
        columns = {}
    else:
        columns = _end_window(log, keys, start, stop, count, head is not None)
    rows, appeared = _rows(columns)
    if head is not None:
        rows = rows[:head]
    elif tail is not None:
        rows = rows[max(0, len(rows) - tail):]
    if keys is not None:
        return list(keys), rows
    shown = set(key for _, values in rows for key in values)
    return [key for key in appeared if key in shown], rows


def _rows(columns):
    # ([(time, {key: value})], [keys in the order they first appear]) of
    # `columns` (key -> series).
    rows, appeared = [], {}
    for time, key, value in series_records(columns):
        appeared.setdefault(key)
        if not rows or rows[-1][0] != time:
            rows.append((time, {}))
        rows[-1][1][key] = value
    return rows, list(appeared)


#: Values a reading of a whole range (see :func:`windows_of`) holds at
#: once, about; and the times its first window spans.
WINDOW_VALUES = 50000
WINDOW_SPAN = 64


def windows_of(log, keys=None, start=None, stop=None, values=None,
               strict=True):
    """Iterate over the series (key -> series) of `log` in ``[start,
    stop)``, of `keys` (all if ``None``), a window of times at a time, each
    holding about `values` values (:data:`WINDOW_VALUES` by default; see
    :func:`blocks_log.series.windows`):
    what an export of a whole run holds at once does not grow with the run
    (its rows at once, a run of 1,000,000 iterations of 10 values took
    842 MB). Not `strict`, a damaged chunk's placeholders are read as
    values.

    Raises
    ------
    blocks_log.errors.DamagedLogError
        If `strict` and a value read is a damaged chunk's placeholder.
    """
    start = start or 0
    last = log.last_time(start, stop)
    if last is None:
        return
    read = checked_series if strict else (
        lambda log, keys, low, high: log.series(keys, low, high))
    # A log in memory is read whole, in one window: each read of one
    # sorts its every time.
    for _, columns in series.windows(
            lambda low, high: read(log, keys, low, high),
            lambda low, high: log.last_time(low, high) is not None, start,
            last + 1, values or WINDOW_VALUES,
            WINDOW_SPAN if log._reads_ranges else last + 1 - start):
        yield columns


def row_windows(log, keys=None, start=None, stop=None, values=None):
    """Iterate over the rows of `log` as :func:`rows_of` gives them,
    ``[(time, {key: value})]``, a window of them at a time (see
    :func:`windows_of`); windows with none are left out.

    Raises
    ------
    blocks_log.errors.DamagedLogError
        If a value read is a damaged chunk's placeholder.
    """
    for columns in windows_of(log, keys, start, stop, values):
        rows, _ = _rows(columns)
        if rows:
            yield rows


def keys_in_order(logs, start=None, stop=None):
    """The keys that hold a value in ``[start, stop)`` of any of `logs`,
    in the order they first appear (a log after another, by time; within a
    time, in the order of the log's series), as :func:`rows_of` orders
    its columns: read a window at a time, taking each key's first time.

    Raises
    ------
    blocks_log.errors.DamagedLogError
        If a value read is a damaged chunk's placeholder.
    """
    found = {}
    for log in logs:
        for columns in windows_of(log, None, start, stop):
            firsts = sorted(
                (times[0], index, key) for index, (key, (times, _)) in
                enumerate(columns.items()) if len(times) and key not in found)
            found.update((key, None) for _, _, key in firsts)
    return list(found)


def _end_window(log, keys, start, stop, count, first):
    # The series of the first (or last) `count` times of [start, stop), at
    # least: a window at that end, four times wider each time it holds
    # fewer.
    end = log.last_time(start, stop)
    if end is None:
        return {}
    width = max(count, 16)
    while True:
        if first:
            low, high = start, min(start + width, end + 1)
        else:
            low, high = max(start, end + 1 - width), end + 1
        columns = checked_series(log, keys, low, high)
        times = set()
        for column_times, _ in columns.values():
            times.update(column_times[:count] if first else
                         column_times[-count:])
        if len(times) >= count or (low == start and high == end + 1):
            return columns
        width *= 4


def jsonable(value):
    """`value` as what JSON holds (numpy arrays and scalars as lists and
    numbers, tuples as lists, bytes as latin-1 text, NaN as NaN). What JSON
    has no number for is text: a complex number as its ``repr``, a numpy
    number past a float (``longdouble``) as numpy writes it, a date as
    ISO 8601."""
    if isinstance(value, (list, tuple)):
        return [jsonable(item) for item in value]
    if isinstance(value, dict):
        return dict((str(key), jsonable(item)) for key, item in
                    value.items())
    if isinstance(value, bytes):
        return value.decode('latin-1')
    value = plain(value)
    if value is None or isinstance(value, (bool, int, float, str)):
        return value
    if hasattr(value, 'tolist'):
        listed = value.tolist()  # an array's items, as plain() makes them
        if type(listed) is not type(value):
            return jsonable(listed)
    if hasattr(value, 'dtype'):  # a longdouble, which Python cannot hold
        return str(value)
    if hasattr(value, 'isoformat'):
        return value.isoformat()
    return repr(value)


def plain(value):
    """`value` as Python holds it: a numpy scalar as the Python number (or
    str, bytes) it is, as a store keeps it, but for those Python has none
    for (``longdouble``, dates); anything else as it is."""
    if type(value) in _PLAIN_ITEMS:  # most values: no attribute to look for
        return value
    if hasattr(value, 'dtype') and hasattr(value, 'item') and not hasattr(
            value, '__len__'):
        item = value.item()
        if type(item) in _PLAIN_ITEMS:
            return item
    return value


_PLAIN_ITEMS = frozenset([bool, int, float, complex, str, bytes, type(None)])


#: Characters of a value that a table shows at most: the rest is cut
#: (``...``), and an array of more numbers than fit shows its dtype and
#: shape. ``--json``, ``export`` and the CSV of a page write it whole.
CELL_WIDTH = 60


def cell(value):
    """`value` as a cell of a table: :func:`text_of` it, cut to
    :data:`CELL_WIDTH` characters."""
    if hasattr(value, 'dtype') and getattr(value, 'size', 1) > (
            CELL_WIDTH // 2):
        return '<{} array {}>'.format(value.dtype, 'x'.join(
            map(str, value.shape)))
    text = text_of(value)
    return text if len(text) <= CELL_WIDTH else (
        text[:CELL_WIDTH - 3] + '...')


def text_of(value):
    """`value` as text, whole: a float to 6 significant digits, a str or
    an int as it is, anything else as JSON (a numpy scalar as the Python
    value it is, see :func:`plain`)."""
    if type(value) is float:  # most cells
        return '{:.6g}'.format(value)
    if type(value) not in _PLAIN_ITEMS:
        value = plain(value)
    if value is None:
        return ''
    if isinstance(value, float) or (hasattr(value, 'dtype') and
                                    value.dtype.kind == 'f' and
                                    value.shape == ()):
        return '{:.6g}'.format(float(value))
    if isinstance(value, (str, int)):
        return str(value)
    return json.dumps(jsonable(value))


def csv_cell(value):
    """`value` as a cell of a CSV file: a float exactly (``repr``: NaN and
    inf as such; numpy's as the Python float it is, a ``longdouble`` as
    numpy writes it), anything else whole, as :func:`text_of` gives it."""
    if type(value) is float:  # most cells
        return repr(value)
    if type(value) not in _PLAIN_ITEMS:
        value = plain(value)
        if isinstance(value, float):
            return repr(value)
        if getattr(value, 'shape', None) == () and value.dtype.kind == 'f':
            return str(value)  # its every digit, where a float has too few
    return text_of(value)
