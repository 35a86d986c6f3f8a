"""Chunks: a key's numbers over a span of times, packed and checked.

A run's recent values are its "head", committed with each iteration so
that a crash loses nothing (a row per commit and block, a batch; a row
per value in files of before). Once the run has moved past a block of
:data:`SPAN` times, the writer packs that block's numbers, one chunk per
key (its times and its values as arrays), and deletes its rows, in the
transaction of a later commit (see :mod:`.packing`): a crash keeps both or
neither. Reads take the chunks and the head (see :mod:`.merging`); where
both hold a (time, key), the head wins (a value written into a block after
it was packed). Other values (strings, tuples, bools, deleted values) stay
in the head.

A chunk holds a key's numbers of one block whatever their types: floats
(``'f'``, float64), ints (``'i'``, int64), or both (``'m'``: 8-byte words,
each an int64 or the bits of a float64, and a bitmap of which are ints), so
that a metric logged as ``0`` and then ``0.37`` keeps both types and its
order.

Every chunk is checked before a number of it is read: its count, first and
last times against its block and against the bytes of its arrays (so that
no size read from a file is trusted), its times against its first and last,
and (schema version 4) two CRC32 checksums, of its header and times and of
its values. A chunk that does not check reads as one
:class:`~blocks_log.placeholders.DamagedChunk` placeholder that says why
(at each of its times, when only its values are damaged; else at its
first time), and the rest of the run reads as usual.

Measured on SQLite (``benchmarks/bench_read.py``): a million iterations of
10 floats read into pandas in 0.04x the time one row per value takes, at
about 8.5 bytes per value instead of 22; ``benchmarks/bench_growth.py``
gives the slowest iteration, one that packs.

"""
import array
import itertools
import struct
import sys
import zlib

from blocks_log import codec, placeholders, series

#: Times per block, for a new run.
SPAN = 256
#: The largest span a run may have: what a damaged run record claims
#: beyond it is not believed.
MAX_SPAN = 2 ** 20

#: A float chunk holds NaN too, which rows keep as this tagged BLOB.
NAN = codec.NAN_STORED
_TYPECODES = {'f': 'd', 'i': 'q', 'm': 'q'}
KINDS = frozenset(_TYPECODES)
_SWAP = sys.byteorder != 'little'
_HEADER = struct.Struct('<7q')
_KIND_BYTES = dict((kind, kind.encode('ascii')) for kind in 'fi')
_U64 = 2 ** 64 - 1
_INT64 = (-2 ** 63, 2 ** 63 - 1)


class ChunkError(ValueError):
    """A chunk that does not check; the message says why."""


def _signed(number):
    # 64 bits as SQLite and PostgreSQL keep them: a signed integer.
    return number - 2 ** 64 if number >= 2 ** 63 else number


def _crcs(run, key, block, first, last, count, kind, step, times_blob,
          values_blob):
    # (CRC of the header and the times, CRC of the header and the values).
    header = _HEADER.pack(run, key, block, first, last, count,
                          -1 if step is None else step) + kind.encode('ascii')
    times_crc = zlib.crc32(times_blob or b'', zlib.crc32(header))
    values_crc = None
    if values_blob is not None:
        values_crc = zlib.crc32(values_blob, zlib.crc32(header))
    return times_crc, values_crc


def checksum(run, key, block, first, last, count, kind, step, times_blob,
             values_blob):
    """The checksum column of a chunk: the CRC32 of its header and times
    (high 32 bits) and of its header and values (low), as a signed 64-bit
    integer."""
    times_crc, values_crc = _crcs(run, key, block, first, last, count, kind,
                                  step, times_blob, values_blob)
    return _signed(times_crc << 32 | values_crc)


def _kind_of(types):
    # The kind of a chunk of values of `types`.
    if types <= {float, bytes}:  # bytes: the tagged BLOB of NaN
        return 'f'
    if types == {int}:
        return 'i'
    return 'm'


_FLOATS_ONLY = frozenset([float])


def _floats(values):
    return [float('nan') if type(value) is bytes else value
            for value in values]


def pack(run, key, span, times, values, kind=None, times_stored=None):
    """The parameters of a chunk for ``INSERT_CHUNK``: ``(run, block, key,
    first, last, count, kind, step, times BLOB, values BLOB, checksum)``.

    `times` (increasing, within one block) and `values` (ints, floats and
    the tagged BLOB of NaN, as rows store them) of key id `key` of run
    `run`; `kind` ``'f'`` if the caller knows them all floats (none is
    NaN's BLOB), which spares looking at each; `times_stored` the
    :func:`stored_times` of `times`, if the caller has it (the keys of a
    block often share their times). Times are stored as a step when they
    are evenly spaced (no BLOB), else as their zlib-compressed
    differences; values as little-endian float64 or int64, or 8-byte words
    and a bitmap of the ints where a key mixes both.

    """
    types = _FLOATS_ONLY if kind == 'f' else set(map(type, values))
    kind = _kind_of(types)
    if kind == 'f':
        numbers = array.array('d', values if types == _FLOATS_ONLY else
                              _floats(values))
        extra = b''
    elif kind == 'i':
        numbers = array.array('q', values)
        extra = b''
    else:
        # The bits of each float, as an int64 word; ints as they are.
        numbers = array.array('q', array.array('d', [
            0.0 if type(value) is int else value
            for value in _floats(values)]).tobytes())
        bitmap = bytearray((len(values) + 7) // 8)
        for index, value in enumerate(values):
            if type(value) is int:
                numbers[index] = value
                bitmap[index >> 3] |= 1 << (index & 7)
        extra = bytes(bitmap)
    if _SWAP:
        numbers.byteswap()
    values_blob = numbers.tobytes() + extra
    first, last, count = times[0], times[-1], len(times)
    step, times_blob = times_stored or stored_times(times)
    block = first // span
    return (run, block, key, first, last, count, kind, step, times_blob,
            values_blob, checksum(run, key, block, first, last, count, kind,
                                  step, times_blob, values_blob))


def stored_times(times):
    """``(step, times BLOB)`` of a chunk of `times` (increasing): the step
    of evenly spaced times (``None`` for a single time) and no BLOB; else
    no step, and the BLOB of their differences."""
    step = times[1] - times[0] if len(times) > 1 else None
    if step is None or times == list(range(times[0], times[-1] + 1, step)):
        return step, None
    differences = array.array('q', [b - a for a, b in zip(times, times[1:])])
    if _SWAP:
        differences.byteswap()
    return None, zlib.compress(differences.tobytes())


def _check_header(span, block, first, last, count, kind, step):
    for name, number in (('block', block), ('first', first),
                         ('last', last), ('count', count)):
        if type(number) is not int:
            raise ChunkError('its {} is {!r}, not an integer'.format(
                name, number))
    if not (type(span) is int and 0 < span <= MAX_SPAN):
        raise ChunkError('its run has a span of {!r} times'.format(span))
    if not 0 <= block <= _INT64[1] // span:
        raise ChunkError('its block {} is out of range'.format(block))
    low, high = block * span, block * span + span - 1
    if not low <= first <= last <= high:
        raise ChunkError('its times {} to {} are not within its block, '
                         '{} to {}'.format(first, last, low, high))
    if not 1 <= count <= last - first + 1:
        raise ChunkError('it claims {} values between times {} and '
                         '{}'.format(count, first, last))
    if kind not in KINDS:
        raise ChunkError('its kind is {!r}'.format(kind))
    if step is not None and (type(step) is not int or not
                             0 < step <= span):
        raise ChunkError('its step is {!r}'.format(step))


def _blob(blob, name):
    if blob is None or isinstance(blob, bytes):
        return blob
    if isinstance(blob, (bytearray, memoryview)):
        return bytes(blob)
    raise ChunkError('its {} are a {}, not bytes'.format(
        name, type(blob).__name__))


def _times(first, last, count, step, times_blob):
    if times_blob is None:
        if count == 1:
            if first != last:
                raise ChunkError('it holds one value but spans times {} to '
                                 '{}'.format(first, last))
            return range(first, first + 1)
        if step is None or first + (count - 1) * step != last:
            raise ChunkError('its step {!r} does not lead from {} to {} in '
                             '{} times'.format(step, first, last, count))
        return range(first, last + 1, step)
    # The differences, never more bytes than `count` times take (a forged
    # BLOB cannot make a read allocate more).
    expected = 8 * (count - 1)
    inflater = zlib.decompressobj()
    try:
        raw = inflater.decompress(times_blob, expected + 1)
    except zlib.error as error:
        raise ChunkError('its times do not decompress ({})'.format(error))
    if len(raw) != expected or not inflater.eof or inflater.unconsumed_tail:
        raise ChunkError('its times hold other than {} differences'.format(
            count - 1))
    differences = array.array('q')
    differences.frombytes(raw)
    if _SWAP:
        differences.byteswap()
    if count > 1 and min(differences) <= 0:
        raise ChunkError('its times do not increase')
    times = array.array('q', itertools.accumulate(
        itertools.chain([first], differences)))
    if times[-1] != last:
        raise ChunkError('its times end at {}, not at its last time, '
                         '{}'.format(times[-1], last))
    return times


def _values(count, kind, values_blob):
    size = 8 * count + ((count + 7) // 8 if kind == 'm' else 0)
    if len(values_blob) != size:
        raise ChunkError('its values take {} bytes, not the {} of {} '
                         'values'.format(len(values_blob), size, count))
    numbers = array.array(_TYPECODES[kind])
    numbers.frombytes(values_blob[:8 * count])
    if _SWAP:
        numbers.byteswap()
    if kind != 'm':
        return numbers
    floats = array.array('d', numbers.tobytes())
    bitmap = values_blob[8 * count:]
    return [numbers[index] if bitmap[index >> 3] >> (index & 7) & 1 else
            floats[index] for index in range(count)]


def read(run, span, row, start=0, stop=None, checked=True):
    """The series ``(times, values)`` of a chunk, its times within
    ``[start, stop)``: times a ``range`` or an ``array('q')``, values an
    array (a list for a chunk of ints and floats).

    `row` is ``(key, block, first, last, count, kind, step, times,
    values, checksum)`` as the store holds it; `checked` is false for a
    store of schema version 3, whose chunks have no checksum. A chunk that
    does not check reads as :class:`~blocks_log.placeholders.DamagedChunk`
    placeholders (see the module docstring). Never raises.

    """
    stop = _INT64[1] if stop is None else stop
    if checked:
        plain = plain_of(run, span, row)
        if plain is not None:
            found = series_of_plain(*plain[:4], blobs=[plain[4]])
            if plain[2] >= start and plain[3] < stop:
                return found
            return series.between(found, start, stop)
    try:
        times, values = _read(run, span, row, True, checked)
    except ChunkError as error:
        return _damaged(span, row, str(error), start, stop)
    except _ValuesDamaged as damage:
        times, reason = damage.args
        kept = series.between((times, [None] * len(times)), start, stop)[0]
        placeholder = _placeholder(row, reason)
        return kept, [placeholder] * len(kept)
    return series.between((times, values), start, stop)


def plain_of(run, span, row):
    """``(kind, step, first, last, values BLOB)`` of the usual chunk (`row`
    as for :func:`read`): floats or ints at evenly spaced times (`step`
    ``None`` for a chunk of one value), if it checks; else ``None``, for
    :func:`read` to say why. Never raises."""
    # One frame: a read of a million iterations checks 40,000 chunks.
    key, block, first, last, count, kind, step, times_blob, values_blob, \
        stored_checksum = row
    if times_blob is not None or type(stored_checksum) is not int or type(
            values_blob) is not bytes:
        return None
    try:
        crc = zlib.crc32(_HEADER.pack(run, key, block, first, last, count,
                                      -1 if step is None else step) +
                         _KIND_BYTES[kind])
        low = block * span
    except (struct.error, TypeError, KeyError):
        return None
    # No times BLOB: the times' CRC is the header's.
    if (crc << 32 | zlib.crc32(values_blob, crc) != stored_checksum & _U64
            or len(values_blob) != 8 * count or not 0 < count <= span or
            not low <= first <= last < low + span):
        return None
    if count == 1:
        return (kind, None, first, last, values_blob) if (
            first == last) else None
    if type(step) is not int or step <= 0 or (
            first + (count - 1) * step != last):
        return None
    return kind, step, first, last, values_blob


def series_of_plain(kind, step, first, last, blobs):
    """The series ``(times, values)`` of plain chunks (see :func:`plain_of`)
    that go on from one another at the same step, from `first` to `last`:
    times a ``range``, values an array made of their values BLOBs
    (`blobs`, in time order)."""
    values = array.array(_TYPECODES[kind])
    values.frombytes(blobs[0] if len(blobs) == 1 else b''.join(blobs))
    if _SWAP:
        values.byteswap()
    return range(first, last + 1, step or 1), values


def read_times(run, span, row, unpacked=None, checked=True):
    """The times of a chunk (`row` as for :func:`read`, its values BLOB
    may be left out as ``None``): checked against its header, its times
    checksum and its count; a chunk whose times do not check holds one
    time, where its placeholder is. Never raises.

    `unpacked`, a dict kept over the chunks of a read, holds the times
    unpacked so far: the keys of a block mostly share theirs, and each set
    is unpacked once (each chunk's checked, though).

    """
    try:
        return _read(run, span, row, False, checked, unpacked)[0]
    except ChunkError:
        return _damaged(span, row, '', 0, _INT64[1])[0]


class _ValuesDamaged(Exception):
    # The times of a chunk check, its values do not: (times, reason).
    pass


def _read(run, span, row, values, checked, unpacked=None):
    key, block, first, last, count, kind, step, times_blob, values_blob, \
        stored_checksum = row
    _check_header(span, block, first, last, count, kind, step)
    times_blob = _blob(times_blob, 'times')
    values_blob = _blob(values_blob, 'values') if values else None
    values_crc = None
    if checked:
        if type(stored_checksum) is not int:
            raise ChunkError('its checksum is missing' if stored_checksum is
                             None else 'its checksum is {!r}'.format(
                                 stored_checksum))
        times_crc, values_crc = _crcs(run, key, block, first, last, count,
                                      kind, step, times_blob, values_blob)
        if _signed(times_crc << 32 | (stored_checksum & 0xffffffff)) != (
                stored_checksum):
            raise ChunkError('its header or times do not match their '
                             'checksum')
    shared = (first, last, count, step, times_blob)
    times = unpacked.get(shared) if unpacked is not None else None
    if times is None:
        times = _times(first, last, count, step, times_blob)
        if unpacked is not None:
            unpacked[shared] = times
    if len(times) != count:
        raise ChunkError('it claims {} values and holds {} times'.format(
            count, len(times)))
    if not values:
        return times, None
    if values_blob is None:
        raise _ValuesDamaged(times, 'its values are missing')
    if values_crc is not None and values_crc != stored_checksum & 0xffffffff:
        raise _ValuesDamaged(times, 'its values do not match their checksum')
    try:
        return times, _values(count, kind, values_blob)
    except ChunkError as error:
        raise _ValuesDamaged(times, str(error))


def _placeholder(row, reason):
    key, block, first, last, count = row[:5]
    return placeholders.DamagedChunk(first, last, count, reason)


def _damaged(span, row, reason, start, stop):
    # One placeholder, at the chunk's first time if that lies in its block
    # (the block that reads found it by), else at its block's first time.
    key, block, first = row[:3]
    time = first
    if type(span) is int and span > 0 and type(block) is int and (
            type(first) is not int or not
            block * span <= first < block * span + span):
        time = block * span
    if type(time) is not int or not start <= time < stop:
        return [], []
    return [time], [_placeholder(row, reason)]


def checksums(rows, spans):
    """The checksums of chunks of schema version 3 (`rows` of ``(run,)``
    and the columns :func:`read` takes; `spans` gives each run's span), as
    parameters of ``UPDATE_CHECKSUM``: ``(checksum, run, block, key,
    first)``; a chunk that does not check is left without one, and reads
    as damaged."""
    for row in rows:
        run, chunk = row[0], row[1:]
        try:
            _read(run, spans.get(run), chunk, True, False)
        except (ChunkError, _ValuesDamaged):
            continue
        key, block, first, last, count, kind, step, times, values = chunk[:9]
        times = _blob(times, 'times')
        values = _blob(values, 'values')
        yield (checksum(run, key, block, first, last, count, kind, step,
                        times, values), run, block, key, first)
