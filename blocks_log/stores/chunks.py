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
import sys
import zlib

from blocks_log import codec

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


def group(rows):
    """The chunks of `rows` (``(time, key id, stored)`` in increasing
    time): ``(key, kind, times, values)`` for each key and kind."""
    groups = {}
    for time, key, stored in rows:
        kind = 'i' if type(stored) is int else 'f'
        column = groups.get((key, kind))
        if column is None:
            column = groups[key, kind] = ([], [])
        column[0].append(time)
        column[1].append(stored)
    return [(key, kind, times, values)
            for (key, kind), (times, values) in groups.items()]
