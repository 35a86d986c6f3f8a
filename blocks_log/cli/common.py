"""What the commands share: usage errors, opening a SOURCE once, the
arguments every command names the same way, tables of text, and files
written whole or not at all."""
import argparse
import contextlib
import itertools
import math
import os
import re
import tempfile
import unicodedata

from blocks_log.errors import LogError
from blocks_log.sources import Source
from blocks_log.tables import printable, redact, split_names

__all__ = ['UsageError', 'redact', 'open_source', 'is_stream', 'output_path',
           'written', 'say_written', 'table', 'table_lines']

# The names of a process's file descriptors: whatever they are open on (a
# file the shell's ">" made, too), they are not a name to add a suffix to.
_DESCRIPTOR = re.compile(r'/dev/(stdout|stderr|fd/[0-9]+)$|'
                         r'/proc/(self|[0-9]+)/fd/[0-9]+$')

# Files beside an SQLite database that are part of it.
_DATABASE_FILES = ('', '-wal', '-shm', '-journal', '-claims')


class UsageError(Exception):
    """Bad input from the user: reported on one line, exit status 2."""


def default_source():
    """The database of ``runs`` without a SOURCE: SQLiteLog's default."""
    from blocks_log.sqlite import default_database
    return default_database()


def open_source(args, name=None):
    """The :class:`~blocks_log.sources.Source` a command reads (``args
    .source``, or `name`), strict (a damaged chunk met is an error), as
    ``--trust-pickle`` says.

    Raises
    ------
    blocks_log.errors.LogError
        If it cannot be read (the message names it).
    """
    return Source(args.source if name is None else name,
                  trusted=getattr(args, 'trust_pickle', False), strict=True)


def add_source(parser, runs='?', trust=True):
    """SOURCE, and RUN (one, optional, by default; `runs` as argparse's
    nargs)."""
    parser.add_argument(
        'source', metavar='SOURCE',
        help="an SQLite log database, a PostgreSQL database (a "
             "postgresql:// URL, or libpq's 'host=... dbname=...'), a "
             "pickled log or a checkpoint tar of Blocks")
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
        help='the keys to use (also comma-separated; a comma within a key '
             'written \\, as in loss\\,top5); a key no run holds is '
             'an error that lists the keys there are' +
             ('' if required else '; default: every key'))


def add_json(parser):
    parser.add_argument('--json', action='store_true',
                        help='print JSON, for scripts, instead of a table')


def keys_of(args):
    """The keys of ``--keys`` (split at commas too, see
    :func:`blocks_log.tables.split_names`), each once, in order (as the
    page takes them: ``--keys loss loss`` is no CSV of two columns
    ``loss``), or ``None``."""
    if not getattr(args, 'keys', None):
        return None
    return list(dict.fromkeys(key for word in args.keys
                              for key in split_names(word) if key))


def whole_number(text):
    """The whole number of an argument, for an argparse type."""
    try:
        return int(text)
    except ValueError:
        raise argparse.ArgumentTypeError('not a whole number: ' + text)


def at_least(least):
    """argparse type: a whole number, `least` or more."""
    def parse(text):
        value = whole_number(text)
        if value < least:
            raise argparse.ArgumentTypeError('must be at least {}, got '
                                             '{}'.format(least, text))
        return value
    parse.__name__ = 'at least {}'.format(least)
    return parse


#: argparse type: a whole number, 0 or more.
natural = at_least(0)


def seconds(text):
    """argparse type: a number of seconds, more than 0."""
    try:
        value = float(text)
    except ValueError:
        raise argparse.ArgumentTypeError('not a number: ' + text)
    if not value > 0 or math.isinf(value):
        raise argparse.ArgumentTypeError('must be more than 0 seconds')
    return value


def table(header, lines, right=()):
    """Aligned columns: `header` and `lines` of strings; columns named in
    `right` aligned right."""
    return '\n'.join(table_lines(header, [lines], right))


#: Lines of a table held, at least, to align its columns (see
#: :func:`table_lines`).
TABLE_HELD = 10000


def table_lines(header, batches, right=(), least=(), held=None):
    """The lines of :func:`table` of `header` and the lines of `batches`
    (an iterable of lists of lines), made a batch at a time: a table of any
    length in the memory of its first lines and one batch.

    Columns are as wide as the header, `least` (widths, column by column)
    and the lines of the first batches, up to `held` lines or more
    (:data:`TABLE_HELD` by default), make them: a table of no more lines
    is aligned as :func:`table` aligns it. A later batch with a line wider
    than its column widens the column from that batch on.
    """
    held = TABLE_HELD if held is None else held
    batches = iter(batches)
    first = [header]
    for batch in batches:
        first.extend(batch)
        if len(first) > held:
            break
    widths = list(least) + [0] * (len(header) - len(least))
    plain = [str.rjust if name in right else str.ljust for name in header]
    wide = [_wide_rjust if name in right else _wide_ljust for name in header]
    for batch in itertools.chain([first], batches):
        batch, ascii_only = _printable(batch)
        # Padded by str's own ljust and rjust where every text is ASCII,
        # as a rule (a call of ours for each cell cost show 7% more time);
        # else by the columns each character takes.
        widths = _widths(batch, widths, len if ascii_only else _columns)
        justify = plain if ascii_only else wide
        for line in batch:
            yield '  '.join(align(text, width) for text, width, align in zip(
                line, widths, justify)).rstrip()


def _printable(lines):
    # `lines` (lists of strings) with each string printable (see
    # tables.printable), found in one search (as they are where all are);
    # and whether all are ASCII.
    joined = ' '.join(map(' '.join, lines))
    if printable(joined) is not joined:
        lines = [[printable(text) for text in line] for line in lines]
    return lines, joined.isascii()


def _columns(text):
    # The columns of a terminal that `text` takes: two a wide character
    # (CJK, most emoji), none a combining one.
    if text.isascii():
        return len(text)
    return sum(0 if unicodedata.combining(char) else 2 if (
        unicodedata.east_asian_width(char) in 'WF') else 1 for char in text)


def _wide_rjust(text, width):
    return ' ' * (width - _columns(text)) + text


def _wide_ljust(text, width):
    return text + ' ' * (width - _columns(text))


def _widths(lines, widths, width_of=len):
    # `widths`, each widened to the widest text of its column in `lines`
    # (lists of strings), as `width_of` measures a text.
    return [max(width, *map(width_of, column)) for width, column in zip(
        widths, zip(*lines))] if lines else widths


def is_stream(path):
    """Whether `path` names a file descriptor (``/dev/stdout``, the
    ``/dev/fd/63`` of a shell's ``>(gzip > log.csv.gz)``), or is there and
    neither a regular file nor a directory: a pipe, a terminal or another
    device (``/dev/null``)."""
    return bool(_DESCRIPTOR.match(os.path.abspath(path))) or (
        os.path.exists(path) and not (
            os.path.isfile(path) or os.path.isdir(path)))


def output_path(path, suffix, sources=()):
    """Where to write a file the user named: `path`, with `suffix` added
    when it has none; checked before any work is done. A stream (see
    :func:`is_stream`) is written as it is named.

    Raises
    ------
    UsageError
        If its directory is missing, it is a directory, it is (a file of)
        one of `sources` (names of the SOURCE read), or a file that may not
        be written.
    """
    if os.path.isdir(path):
        raise UsageError('{}: is a directory'.format(path))
    if is_stream(path):
        # Not a name to add a suffix to (/dev/stdout.csv, made beside the
        # device), nor a file a copy can be renamed over.
        return path
    if not os.path.splitext(path)[1]:
        path += suffix
    directory = os.path.dirname(os.path.abspath(path))
    if not os.path.isdir(directory):
        raise UsageError('{}: no such directory'.format(directory))
    for source in sources:
        # SQLite's files lie beside the file a symbolic link names.
        source = os.path.realpath(source)
        for suffix in _DATABASE_FILES:
            if _same_file(path, source + suffix):
                raise UsageError('{}: is the SOURCE read{}; write to another '
                                 'file'.format(path, suffix and (
                                     ' (its {} file)'.format(suffix))))
    if os.path.exists(path) and not os.access(path, os.W_OK):
        # Renamed over, a file that may not be written would be replaced.
        raise UsageError('{}: may not be written (permission '
                         'denied)'.format(path))
    return path


def _same_file(path, other):
    try:
        return os.path.samefile(path, other)
    except OSError:
        return False


@contextlib.contextmanager
def written(path, mode='w'):
    """``with written(path) as target:`` writes `path` whole or not at
    all: into a file beside it, renamed over it when the block ends well
    (and removed when it does not), so that a failed write truncates
    nothing. `mode` is ``'w'`` (text, newlines as written) or ``'wb'``.
    A stream (see :func:`is_stream`) is written directly, as it goes.

    Raises
    ------
    UsageError
        If the file cannot be written (the message says why).
    """
    if is_stream(path):
        try:
            with open(path, mode, **_text(mode)) as target:
                yield target
        except OSError as error:
            raise UsageError('{}: cannot write ({})'.format(
                path, error.strerror or error))
        return
    # Through a symbolic link, as the shell's ">" writes: the file linked
    # to is replaced, and the link kept.
    path = os.path.realpath(path)
    directory = os.path.dirname(path)
    try:
        descriptor, temporary = tempfile.mkstemp(
            dir=directory, prefix='.' + os.path.basename(path) + '.',
            suffix='.part')
    except OSError as error:
        raise UsageError('{}: cannot write ({})'.format(
            path, error.strerror or error))
    try:
        if os.path.exists(path):
            os.chmod(temporary, os.stat(path).st_mode & 0o7777)
        else:  # what open() would have made
            umask = os.umask(0)
            os.umask(umask)
            os.chmod(temporary, 0o666 & ~umask)
        with open(descriptor, mode, **_text(mode)) as target:
            yield target
        os.replace(temporary, path)
    except OSError as error:
        _remove(temporary)
        raise UsageError('{}: cannot write ({})'.format(
            path, error.strerror or error))
    except BaseException:
        _remove(temporary)
        raise


def say_written(path, out):
    """Print that `path` was written, unless it is a stream (see
    :func:`is_stream`), which may be this very output (``-o /dev/stdout``:
    a CSV would end on a line that is no row)."""
    if not is_stream(path):
        print('wrote {}'.format(path), file=out)


def _text(mode):
    # open()'s arguments for `mode`: text as the commands print it.
    return {} if 'b' in mode else {'newline': '', 'encoding': 'utf-8'}


def _remove(path):
    try:
        os.remove(path)
    except OSError:
        pass


def usage_errors(action, *arguments):
    """``action(*arguments)``, what goes wrong in what the user named (a
    value, a file) reported as a :class:`UsageError`."""
    try:
        return action(*arguments)
    except (LogError, ValueError, OSError) as error:
        raise UsageError(str(error).strip('"\''))
