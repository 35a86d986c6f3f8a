"""What the commands share: usage errors, opening a SOURCE, the arguments
every command names the same way, and writing values as text."""
import argparse
import json
import math
import os
import re

from blocks_log import runs
from blocks_log.analysis import series_records
from blocks_log.errors import DamagedLogError, LogError
from blocks_log.series import damaged

# The password of a postgresql:// URL, and of a key=value DSN.
_PASSWORDS = (re.compile(r'(postgres(?:ql)?://[^:/@\s]*:)[^@\s]*@'),
              re.compile(r"(password\s*=\s*)('[^']*'|\S+)"))


class UsageError(Exception):
    """Bad input from the user: reported on one line, exit status 2."""


def redact(text):
    """`text` with every password of a URL or DSN in it replaced by
    ``***``: messages name a database, never its password."""
    text = str(text)
    for pattern in _PASSWORDS:
        text = pattern.sub(lambda match: match.group(1) + '***', text)
    return text


def default_source():
    """The database of ``runs`` without a SOURCE: SQLiteLog's default."""
    from blocks_log.sqlite import default_database
    return default_database()


def open_log(source, run=None, trusted=False):
    """:func:`blocks_log.runs.open_source`, its errors as usage errors."""
    try:
        return runs.open_source(source, run, trusted=trusted)
    except (LogError, ValueError, OSError) as error:
        raise UsageError(str(error).strip('"\''))


def every_run(source):
    """The uuids of every run of a database `source`; ``[None]`` (its one
    log) for a pickle."""
    try:
        if runs.is_database(source):
            return [run.uuid for run in runs.list_runs(source)]
    except (LogError, ValueError, OSError) as error:
        raise UsageError(str(error))
    return [None]


close = runs.close_source


def add_source(parser, runs='?', trust=True):
    """SOURCE, and RUN (one, optional, by default; `runs` as argparse's
    nargs)."""
    parser.add_argument(
        'source', metavar='SOURCE',
        help='an SQLite log database, a postgresql:// URL, a pickled log or '
             'a checkpoint tar of Blocks')
    if runs is not None:
        parser.add_argument(
            'runs' if runs != '?' else 'run', nargs=runs, metavar='RUN',
            help='a uuid, a unique prefix of it (blocks-log runs lists '
                 'them), or "last", the run started last; ' + {
                     '?': 'optional for a source of one run',
                     '*': 'default: every run of the source'}.get(
                         runs, 'one or more'))
    if trust:
        parser.add_argument(
            '--trust-pickle', action='store_true',
            help='unpickle a pickled SOURCE as pickle.load would, running '
                 'the code it names (only for files you made); by default '
                 'anything but a log and plain values is read as an inert '
                 'placeholder')


def add_keys(parser, required=False):
    """``--keys KEY [KEY ...]``, the same in every command."""
    parser.add_argument(
        '--keys', nargs='+', metavar='KEY', required=required,
        help='the keys to use (also comma-separated)' +
             ('' if required else '; default: every key'))


def add_json(parser):
    parser.add_argument('--json', action='store_true',
                        help='print JSON, for scripts, instead of a table')


def keys_of(args):
    """The keys of ``--keys`` (split at commas too), or ``None``."""
    if not getattr(args, 'keys', None):
        return None
    return [key for word in args.keys for key in word.split(',') if key]


def check_keys(known, keys):
    """Raise a usage error naming the keys of `keys` not in `known`."""
    unknown = [key for key in keys or () if key not in known]
    if unknown:
        raise UsageError('unknown key{} {}; the log holds: {}'.format(
            's' if len(unknown) > 1 else '', ', '.join(unknown),
            ', '.join(sorted(known)) or 'nothing'))


def natural(text):
    """argparse type: a whole number, 0 or more."""
    try:
        value = int(text)
    except ValueError:
        raise argparse.ArgumentTypeError('not a whole number: ' + text)
    if value < 0:
        raise argparse.ArgumentTypeError('must not be negative')
    return value


def at_least_two(text):
    """argparse type: a whole number, 2 or more."""
    value = natural(text)
    if value < 2:
        raise argparse.ArgumentTypeError('must be at least 2')
    return value


def seconds(text):
    """argparse type: a number of seconds, more than 0."""
    try:
        value = float(text)
    except ValueError:
        raise argparse.ArgumentTypeError('not a number: ' + text)
    if not value > 0 or math.isinf(value):
        raise argparse.ArgumentTypeError('must be more than 0 seconds')
    return value


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


def cell(value):
    """`value` as a cell of a table."""
    if value is None:
        return ''
    if isinstance(value, float) or (hasattr(value, 'dtype') and
                                    value.dtype.kind == 'f' and
                                    value.shape == ()):
        return '{:.6g}'.format(float(value))
    if isinstance(value, (str, int)):
        return str(value)
    return json.dumps(jsonable(value))


def table(header, lines, right=()):
    """Aligned columns: `header` and `lines` of strings; columns named in
    `right` aligned right."""
    lines = [header] + lines
    widths = [max(map(len, column)) for column in zip(*lines)]
    justify = [str.rjust if name in right else str.ljust for name in header]
    return '\n'.join('  '.join(
        align(text, width) for text, width, align in zip(
            line, widths, justify)).rstrip() for line in lines)


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
        columns = read_series(log, keys, start, stop)
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
        columns = read_series(log, keys, low, high)
        times = set()
        for column_times, _ in columns.values():
            times.update(column_times[:count] if first else
                         column_times[-count:])
        if len(times) >= count or (low == start and high == end + 1):
            return columns
        width *= 4


def read_series(log, keys=None, start=None, stop=None):
    """``log.series(keys, start, stop)``, for a command or a page: a
    damaged chunk met is an error, not a value.

    Raises
    ------
    blocks_log.errors.DamagedLogError
    """
    columns = log.series(keys, start, stop)
    found = damaged(columns)
    if found is not None:
        key, placeholder = found
        raise DamagedLogError('run {}, key {!r}: {}'.format(
            log.h_uuid, key, placeholder.reason))
    return columns


def output_path(path, suffix):
    """Where to write a file the user named: `path`, with `suffix` added
    when it has none; checked before any work is done.

    Raises
    ------
    UsageError
        If its directory is missing, or it is a directory.
    """
    if os.path.isdir(path):
        raise UsageError('{}: is a directory'.format(path))
    if not os.path.splitext(path)[1]:
        path += suffix
    directory = os.path.dirname(os.path.abspath(path))
    if not os.path.isdir(directory):
        raise UsageError('{}: no such directory'.format(directory))
    return path
