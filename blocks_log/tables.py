"""What a command or a page shows of a run: its rows, read from where
they are wanted, and each value as a cell of a table, of a CSV file or of
JSON. Below both :mod:`blocks_log.cli` and :mod:`blocks_log.web`.

"""
import json
import re

from blocks_log.analysis import series_records
from blocks_log.sources import checked_series

# The password of a postgresql:// URL, and of a key=value DSN.
_PASSWORDS = (re.compile(r'(postgres(?:ql)?://[^:/@\s]*:)[^@\s]*@'),
              re.compile(r"(password\s*=\s*)('[^']*'|\S+)"))


def redact(text):
    """`text` with every password of a URL or DSN in it replaced by
    ``***``: messages and pages name a database, never its password."""
    text = str(text)
    for pattern in _PASSWORDS:
        text = pattern.sub(lambda match: match.group(1) + '***', text)
    return text


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
    rows, appeared = [], []
    for time, key, value in series_records(columns):
        if key not in appeared:
            appeared.append(key)
        if not rows or rows[-1][0] != time:
            rows.append((time, {}))
        rows[-1][1][key] = value
    if head is not None:
        rows = rows[:head]
    elif tail is not None:
        rows = rows[max(0, len(rows) - tail):]
    if keys is not None:
        return list(keys), rows
    shown = set(key for _, values in rows for key in values)
    return [key for key in appeared if key in shown], rows


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
    numbers, tuples as lists, bytes as latin-1 text, NaN as NaN)."""
    if isinstance(value, (list, tuple)):
        return [jsonable(item) for item in value]
    if isinstance(value, dict):
        return dict((str(key), jsonable(item)) for key, item in
                    value.items())
    if isinstance(value, bytes):
        return value.decode('latin-1')
    if hasattr(value, 'tolist'):
        return value.tolist()
    if value is None or isinstance(value, (bool, int, float, str)):
        return value
    return repr(value)


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
    an int as it is, anything else as JSON."""
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
    inf as such), anything else whole, as :func:`text_of` gives it."""
    if isinstance(value, float):
        return repr(value)
    return text_of(value)
