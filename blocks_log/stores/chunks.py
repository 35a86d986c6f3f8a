"""Chunks: a key's numbers over a span of times, packed.

A run's recent values are rows, one per value (the "head"), committed with
each iteration so that a crash loses nothing. Once the run has moved past
a block of :data:`SPAN` times, the writer reads that block's numbers back,
packs each key's into a chunk (its times and its values as arrays) and
deletes their rows, all at the start of the transaction of a later commit:
a crash keeps both or neither, and the rows that commit writes again stay
rows. Reads take the chunks and the head; where both hold a (time, key),
the head wins (a value written into a block after it was packed). Other
values (strings, tuples, bools, deleted values) stay rows.

Measured on SQLite (``benchmarks/bench_read.py``): a million iterations of
10 floats read into pandas in 0.02x the time one row per value takes, at
about 8.3 bytes per value instead of 22; ``benchmarks/bench_growth.py``
gives the slowest iteration, one that packs.

"""
import array
import bisect
import sys
import zlib

from blocks_log import codec, series

#: Times per block, for a new run.
SPAN = 256
#: Rows packed by one commit, at most: bounds the time it takes (about 3 ms
#: for 2,560 rows, the block of a run logging 10 keys). A run logging more
#: keys packs part of a block at a time.
PACK_ROWS = 4096

#: A float chunk holds NaN too, which rows keep as this tagged BLOB.
NAN = codec.encode(float('nan'))
_TYPECODES = {'f': 'd', 'i': 'q'}
_SWAP = sys.byteorder != 'little'


def kind_of(stored):
    """The chunk kind of a stored value: ``'f'``, ``'i'`` or ``None``."""
    kind = type(stored)
    if kind is float or stored == NAN:
        return 'f'
    if kind is int:
        return 'i'
    return None


def pack(times, values, kind):
    """``(count, step, times BLOB, values BLOB)`` of a chunk.

    Times are stored as a step when they are evenly spaced (``step`` times
    apart, no BLOB), else as their zlib-compressed differences; values as
    little-endian float64 or int64.

    """
    try:
        numbers = array.array(_TYPECODES[kind], values)
    except TypeError:  # a NaN, stored as its tagged BLOB
        numbers = array.array(_TYPECODES[kind], [
            float('nan') if value == NAN else value for value in values])
    if _SWAP:
        numbers.byteswap()
    step = times[1] - times[0] if len(times) > 1 else None
    if step is None or times == list(range(times[0], times[-1] + 1, step)):
        return len(times), step, None, numbers.tobytes()
    differences = array.array('q', [b - a for a, b in zip(times, times[1:])])
    if _SWAP:
        differences.byteswap()
    return (len(times), None, zlib.compress(differences.tobytes()),
            numbers.tobytes())


def unpack(first, count, step, times_blob, values_blob, kind):
    """The series ``(times, array values)`` of a chunk: times a ``range``
    when evenly spaced, else an ``array('q')``."""
    if times_blob is not None:
        times_blob = bytes(times_blob)
    if times_blob is None:
        times = range(first, first + (count - 1) * (step or 1) + 1,
                      step or 1)
    else:
        differences = array.array('q')
        differences.frombytes(zlib.decompress(times_blob))
        if _SWAP:
            differences.byteswap()
        times = array.array('q', [first])
        total = first
        for difference in differences:
            total += difference
            times.append(total)
    values = array.array(_TYPECODES[kind])
    values.frombytes(values_blob)
    if _SWAP:
        values.byteswap()
    return times, values


class Packing(object):
    """Where the writer of a run stands in packing it: times below `packed`
    are packed; `frontier` is the latest time written."""
    __slots__ = ('span', 'packed', 'frontier', 'pending')

    def __init__(self, span, packed):
        self.span, self.packed = span, packed
        self.frontier = packed - 1
        self.pending = None  # what `packed` becomes when a commit lands

    def due(self):
        """Whether a block the run has moved past is not packed."""
        return self.frontier - self.frontier % self.span > self.packed


def group(rows, number_of):
    """The chunks of `rows` (in increasing time; ``number_of(row)`` gives
    ``(time, key id, stored number)``): ``(key, kind, times, values)`` for
    each key and kind."""
    groups = {}
    for row in rows:
        time, key, stored = number_of(row)
        kind = 'i' if type(stored) is int else 'f'
        column = groups.get((key, kind))
        if column is None:
            column = groups[key, kind] = ([], [])
        column[0].append(time)
        column[1].append(stored)
    return [(key, kind, times, values)
            for (key, kind), (times, values) in groups.items()]


def pack_next(connection, ref, packing, dialect):
    """Pack the next span of numbers of run `ref`, in the write transaction
    of `connection` (its ``execute`` as in the DB-API): read back, written
    as chunks, deleted in one sweep; at most :data:`PACK_ROWS` of them, so
    that no commit takes long.

    Where packing stands is read from the database, in the transaction:
    another process (a forked child) may write the run too. `dialect` holds
    the store's statements (``SELECT_PACKED``, ``SELECT_NUMBER_AFTER``,
    ``SELECT_NUMBERS``, ``SELECT_NEXT_NUMBER``, ``INSERT_CHUNK``,
    ``DELETE_NUMBERS``, ``SET_PACKED``) and ``number_of(row)``.
    `packing.pending` is set to where packing then stands.

    """
    span = packing.span
    start, = connection.execute(dialect.SELECT_PACKED, (ref,)).fetchone()
    limit = packing.frontier - packing.frontier % span
    packing.pending = start
    if start >= limit:
        return
    stop = min(start - start % span + span, limit)
    after = connection.execute(dialect.SELECT_NUMBER_AFTER, (
        ref, start, stop, PACK_ROWS)).fetchone()
    if after is not None:  # whole times only, at least one
        stop = max(after[0], start + 1)
    rows = connection.execute(dialect.SELECT_NUMBERS, (
        ref, start, stop)).fetchall()
    if not rows:  # nothing to pack before the next number
        following, = connection.execute(dialect.SELECT_NEXT_NUMBER, (
            ref, stop, limit)).fetchone()
        stop = limit if following is None else following
    for key, kind, times, values in group(rows, dialect.number_of):
        count, step, times_blob, values_blob = pack(times, values, kind)
        connection.execute(dialect.INSERT_CHUNK, (
            ref, times[0] // span, key, times[0], times[-1], count, kind,
            step, times_blob, values_blob))
    if rows:
        connection.execute(dialect.DELETE_NUMBERS, (ref, start, stop))
    connection.execute(dialect.SET_PACKED, (stop, ref))
    packing.pending = stop


def merged_row(rows, time, depth):
    """The values of one time from `rows` of rows and chunks, ``(run, key
    id, stored, kind, count, step, times, values)`` (``kind`` ``None`` for
    a row; for a chunk, ``stored`` is its first time): key id -> stored,
    the nearest run (``depth[run]``) winning, and in a run a row winning
    over a chunk."""
    rows = sorted(rows, key=lambda row: (-depth[row[0]], row[3] is None))
    values = {}
    for _, key, stored, kind, count, step, times, packed in rows:
        if kind is not None:  # a chunk: find the time in it
            chunk_times, chunk_values = unpack(stored, count, step, times,
                                               bytes(packed), kind)
            index = bisect.bisect_left(chunk_times, time)
            if index == len(chunk_times) or chunk_times[index] != time:
                continue
            stored = chunk_values[index]
        values[key] = stored
    return values


def run_series(chunk_rows, head_rows, start, stop):
    """Key id -> series of one run over ``[start, stop)``, from its chunks
    (``(key, first, count, kind, step, times, values)`` in time order) and
    its rows (``(time, key, value)``, decoded): a row wins over a chunk."""
    pieces = {}
    for key, first, count, kind, step, times, packed in chunk_rows:
        pieces.setdefault(key, []).append(unpack(
            first, count, step, times, bytes(packed), kind))
    rows = {}
    for time, key, value in head_rows:
        column = rows.get(key)
        if column is None:
            column = rows[key] = ([], [])
        column[0].append(time)
        column[1].append(value)
    columns = {}
    for key in list(pieces) + [key for key in rows if key not in pieces]:
        column = series.between(series.concatenate(pieces.get(key, [])),
                                start, stop)
        if key in rows:
            times, values = rows[key]
            column = series.merge(column, (series.spaced(times), values))
        columns[key] = column
    return columns
