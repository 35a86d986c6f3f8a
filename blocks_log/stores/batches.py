"""Batches: what one commit wrote into one block of a run, in one row.

A commit of an iteration writes one row of the head, not one per value:
the values it holds for the times of one block, packed, in the row ``(run,
time, key, value)`` of ``blocks_log_entries`` whose ``time`` is the first
of them and whose ``key`` is ``-(2 * part + spread)``, below every key id:
``part`` counts the run's commits (a later part wins where two hold a
(time, key)), ``spread`` is 1 when the batch holds more than one time (so
that a read of one time looks beyond the batches that begin at it only for
those). Measured on SQLite (``benchmarks/bench_sqlite.py``), one row of 10
floats and the status' row in one statement cost 12 us an iteration, where
11 rows of a value each cost 19 (and the raw limit, 10 rows of Blocks'
layout, 42).

A batch's BLOB is a byte for its form, its count, and its arrays:

``f``: floats at one time: key ids (int32), values (float64);
``F``: floats at several: times (int64), key ids, values;
``m``/``M``: ints and floats: as ``f``/``F``, and a byte per value, 1 for
an int (its word an int64) and 0 for a float (its word a float64);
``g``/``G``: anything: times (for ``G``), key ids, a byte per value saying
what it is, and each value (``q`` an int64, ``d`` a float64, ``n`` None,
``s`` a str and ``b`` bytes, each after its length).

A batch of schema version 6 may begin with ``w`` and a float64, the wall
clock of the commit that wrote it (see :mod:`blocks_log.stores.clock`).

A commit's values of a block that would take more than the store holds in
one value go in several batches, pieces each of a part of its own (see
:func:`pieces`).

Nothing of a BLOB is trusted before it is checked against its length.

"""
import array
import itertools
import operator
import struct
import sys

from blocks_log import codec

_SWAP = sys.byteorder != 'little'
_COUNT = struct.Struct('<I')
_LENGTH = struct.Struct('<I')
_FLOAT = float
_INT = int
_INT64 = (-2 ** 63, 2 ** 63 - 1)
_STAMP = struct.Struct('<cd')
_FLOAT64 = struct.Struct('<d')
_STAMP_BYTE = b'w'
_ORDER = operator.itemgetter(3)


class BatchError(ValueError):
    """A batch that cannot be read; the message says why."""


#: The key id (no key has it) under which a batch that cannot be read
#: reads, as an :class:`~blocks_log.placeholders.Undecodable` at its time.
DAMAGED_KEY = 0
#: Its name.
DAMAGED_NAME = '<a damaged batch>'


def head(rows, key_ids=None, start=None, values=True):
    """The entries ``(time, key id, stored, order)`` of rows of the head
    (``(time, key, stored)`` as the table holds them): a row of a value
    (``key`` an id; order 1) as it is, a batch decoded into its entries
    (order ``2 + part``: a later commit wins), only those of `key_ids` if
    given. Without `values`, the numbers of a batch of numbers only are not
    read (``None`` stands for each), for reads of times and keys: a
    deleted value, or a value that is not a number, is read as ever.

    A batch that cannot be read is a
    :class:`~blocks_log.placeholders.DamagedBatch` saying why, never
    nothing: an entry of :data:`DAMAGED_KEY`, or one for each of `key_ids`
    (which of them it held cannot be told), at its time, or at `start`
    (the first time the read looks at) if it held several times and began
    before."""
    entries = []
    layouts = {}  # what _wanted_floats learnt of each set of keys
    for time, key, stored in rows:
        if key >= 0:
            if key_ids is None or key in key_ids:
                entries.append((time, key, stored, 1))
            continue
        order = 2 + part_of(key)
        if key_ids is not None:
            found = _wanted_floats(stored, key_ids, layouts)
            if found is not None:
                entries.extend((time, entry_key, value, order)
                               for entry_key, value in found)
                continue
        try:
            times, ids, found = decode(time, stored, values)
        except BatchError as error:
            from blocks_log.placeholders import DamagedBatch
            placeholder = DamagedBatch(time, str(error))
            at = time
            if start is not None and start > time and spread_of(key):
                at = start
            entries.extend((at, damaged, placeholder, order) for damaged in (
                (DAMAGED_KEY,) if key_ids is None else key_ids))
            continue
        if found is None:
            found = itertools.repeat(None)
        if key_ids is None:  # in C, each entry
            entries.extend(zip(times, ids, found, itertools.repeat(order)))
            continue
        entries.extend((entry_time, entry_key, value, order) for
                       entry_time, entry_key, value in zip(times, ids, found)
                       if entry_key in key_ids)
    entries.sort(key=_ORDER)  # stable: in a batch, as written
    return entries


def _wanted_floats(blob, key_ids, layouts):
    # [(key id, value)] of those of `key_ids` that a batch of floats at one
    # time (form f, an iteration's, whose keys repeat) holds, each read
    # where the batch's keys put it, without decoding the rest; None for a
    # batch of another form (or not a BLOB), which decode() reads.
    # `layouts` keeps, for each set of keys met, where the wanted are.
    if type(blob) is not bytes:
        return None
    at = _form_at(blob)
    if blob[at:at + 1] != b'f' or len(blob) < at + 5:
        return None
    count, = _COUNT.unpack_from(blob, at + 1)
    values_at = at + 5 + 4 * count
    if len(blob) != values_at + 8 * count:
        return None  # decode() says why
    keys = blob[at + 5:values_at]
    layout = layouts.get(keys)
    if layout is None:
        layout = layouts[keys] = [
            (key, 8 * index) for index, key in enumerate(_from('i', keys))
            if key in key_ids]
    return [(key, _FLOAT64.unpack_from(blob, values_at + offset)[0])
            for key, offset in layout]


_DELETED = codec.DELETED_STORED
#: Rows of the head :class:`HeadMarks` is told at once, as a rule.
ROWS_AT_ONCE = 64


class HeadMarks(object):
    """What reads of times and keys need of the head over ``[start,
    stop)``, its rows (as :func:`head` takes them) told a few at a time
    (:meth:`add`, :data:`ROWS_AT_ONCE` as a rule), each let go once read:
    a head of arrays, read whole and then decoded, took twice its size
    (400 arrays of 256 KiB: 200 MiB). Told one at a time, 2,000 batches of
    10 floats took 18 ms where the head whole took 6.5.

    Attributes
    ----------
    found : dict
        ``{(time, key id): (order, deleted)}`` of the entries of
        :func:`head` without values, the later winning: its order, and
        whether it holds the deleted value. A row told again (a statement
        tried again) changes nothing.

    """
    __slots__ = ('start', 'stop', 'found')

    def __init__(self, start, stop):
        self.start, self.stop, self.found = start, stop, {}

    def add(self, rows):
        """Mark the entries of head rows `rows` (``(time, key, stored)``
        each)."""
        start, stop, found = self.start, self.stop, self.found
        # In a dict made in one step, the later winning (head() sorts its
        # entries by order), then laid over what rows told before told,
        # where they hold the same (time, key) with a later order (a
        # comparison of each entry took 1.3 times the time of reading the
        # times of 3,000 iterations).
        these = dict(((time, key), (order, stored == _DELETED))
                     for time, key, stored, order in head(
                         rows, None, start, False)
                     if start <= time < stop)
        for pair in found.keys() & these.keys():
            if found[pair][0] > these[pair][0]:
                these[pair] = found[pair]
        found.update(these)


def key_of(part, spread):
    """The key column of a batch: negative, below every key id."""
    return -(2 * part + (1 if spread else 0)) - 2


def part_of(key):
    """The part (commit count) of a batch's key column."""
    return (-key - 2) // 2


def spread_of(key):
    """Whether the batch of key column `key` holds several times."""
    return (-key - 2) % 2 == 1


def _array(code, items):
    # struct's '<' is little-endian on every machine, and it packs a
    # commit's 1,000 numbers in half the time array.array takes.
    return struct.pack('<{}{}'.format(len(items), code), *items)


def _from(code, data):
    numbers = array.array(code)
    numbers.frombytes(data)
    if _SWAP:
        numbers.byteswap()
    return numbers


def stamp(wall):
    """What a batch committed at `wall` (seconds since the epoch, a float)
    begins with, before its form."""
    return _STAMP.pack(_STAMP_BYTE, wall)


def _form_at(blob):
    # Where a batch's form stands in its BLOB: past its stamp, if any.
    return _STAMP.size if blob[:1] == _STAMP_BYTE else 0


def wall_of(blob):
    """The wall clock a batch's BLOB was stamped with, or ``None`` (none, or
    not a finite number: a damaged or forged stamp is no time)."""
    if not isinstance(blob, (bytes, bytearray, memoryview)) or bytes(
            blob[:1]) != _STAMP_BYTE or len(blob) < _STAMP.size:
        return None
    wall = _STAMP.unpack_from(blob)[1]
    return wall if wall - wall == 0.0 else None


class AtOneTime(object):
    """The BLOBs of batches at one time of `key_ids` (a tuple): what the
    commits of a training loop's iterations write, whose keys repeat. What
    does not change from one to the next (the form, count and key ids) is
    made once, and a batch of floats stamped with a wall clock is packed in
    one call.

    Attributes
    ----------
    key_ids : tuple of int
    floats_size : int
        The bytes of a BLOB of :meth:`stamped_floats`.

    """
    __slots__ = ('key_ids', 'floats_size', '_head', '_stamped_floats')

    def __init__(self, key_ids):
        self.key_ids = key_ids
        self._head = b'f' + _COUNT.pack(len(key_ids)) + _array('i', key_ids)
        self._stamped_floats = struct.Struct('<cd{}s{}d'.format(
            len(self._head), len(key_ids)))
        self.floats_size = self._stamped_floats.size

    def encode(self, values, wall=None):
        """The BLOB of the batch of stored `values` (in the order of the key
        ids), as :func:`encode` makes it, stamped with `wall` (see
        :func:`stamp`) unless it is ``None``."""
        return encode([0] * len(values), self.key_ids, values,
                      b'' if wall is None else stamp(wall))[1]

    def stamped_floats(self, values, wall):
        """:meth:`encode` of `values` that are all floats (as
        :func:`all_floats` tells) and a `wall` that is not ``None``, the
        same bytes in one call."""
        return self._stamped_floats.pack(_STAMP_BYTE, wall, self._head,
                                         *values)


def all_floats(values):
    """Whether every one of `values` is a float (not an int, not NaN's
    BLOB)."""
    return _FLOATS.issuperset(map(type, values))


_FLOATS = frozenset([_FLOAT])


def encode(times, key_ids, values, prefix=b''):
    """The BLOB of a batch: `times`, `key_ids` and stored `values` (as
    :func:`blocks_log.codec.encode` made them) of one block, in the order
    written, after `prefix` (its :func:`stamp`, if any); ``(spread,
    BLOB)``. Made in one join: a commit of 16 MiB of arrays made five
    copies of them, three held at once."""
    count = _COUNT.pack(len(key_ids))
    first = times[0]
    spread = times[-1] != first or times.count(first) != len(times)
    kinds = set(map(type, values))
    head = (b'F' if spread else b'f') if kinds == {_FLOAT} else (
        (b'M' if spread else b'm') if kinds <= {_FLOAT, _INT} and all(
            _INT64[0] <= value <= _INT64[1] for value in values
            if type(value) is _INT) else (b'G' if spread else b'g'))
    parts = [prefix, head, count]
    if spread:
        parts.append(_array('q', times))
    parts.append(_array('i', key_ids))
    if head in b'fF':
        parts.append(_array('d', values))
    elif head in b'mM':
        parts.append(bytes(type(value) is _INT for value in values))
        words = array.array('q', array.array('d', [
            0.0 if type(value) is _INT else value for value in values])
            .tobytes())
        for index, value in enumerate(values):
            if type(value) is _INT:
                words[index] = value
        if _SWAP:
            words.byteswap()
        parts.append(words.tobytes())
    else:
        parts += _general(values)
    return spread, b''.join(parts)


def pieces(times, key_ids, values, size):
    """`times`, `key_ids` and stored `values` of a batch (as :func:`encode`
    takes them) cut into pieces in their order, ``[(times, key ids,
    values)]``, each of whose BLOBs takes at most about `size` bytes, or
    holds one value: a store holds no BLOB over its limit (SQLite's
    ``SQLITE_MAX_LENGTH``), and a commit's values of one block (arrays
    logged over many iterations between commits, or one array near that
    limit beside the numbers of its iteration) may pass it."""
    cut, start, used = [], 0, 0
    for index, value in enumerate(values):
        kind = type(value)
        cost = 25  # time, key id, tag, and a number or a length
        if kind is str:
            cost += codec.utf8_size(value)
        elif kind is not _FLOAT and kind is not _INT and value is not None:
            cost += len(value)
        if index > start and used + cost > size:
            cut.append((start, index))
            start, used = index, 0
        used += cost
    cut.append((start, len(values)))
    return [(times[begin:end], key_ids[begin:end], values[begin:end])
            for begin, end in cut]


def holds_floats(blob):
    """Whether the BLOB :func:`encode` made holds floats only (forms
    ``f`` and ``F``), after its stamp if any."""
    at = _form_at(blob)
    return blob[at:at + 1] in _FLOAT_FORMS


_FLOAT_FORMS = frozenset([b'f', b'F'])


def _general(values):
    # The parts of values of any kind, in a batch's order: their tags,
    # then each payload (a text's or a BLOB's length and its bytes apart,
    # joined only with the whole batch).
    tags, payloads = [], []
    for value in values:
        kind = type(value)
        if kind is _FLOAT:
            tags.append(b'd')
            payloads.append(struct.pack('<d', value))
        elif kind is _INT:
            tags.append(b'q')
            payloads.append(struct.pack('<q', value))
        elif value is None:
            tags.append(b'n')
        elif kind is str:
            data = value.encode('utf-8')
            tags.append(b's')
            payloads += _LENGTH.pack(len(data)), data
        else:  # a tagged BLOB of the codec
            data = bytes(value)
            tags.append(b'b')
            payloads += _LENGTH.pack(len(data)), data
    return [b''.join(tags)] + payloads


def decode(time, blob, values=True):
    """The entries of the batch beginning at `time`: lists ``(times, key
    ids, values)``, values as stored; without `values`, ``None`` for those
    of a batch of numbers only (each checked against its length, not
    read).

    Raises
    ------
    BatchError
        If the BLOB is not that of a batch (damaged, forged): its sizes are
        checked against its length before anything is read.
    """
    if type(blob) is not bytes:
        if not isinstance(blob, (bytearray, memoryview)):
            raise BatchError('not a BLOB but a {}'.format(
                type(blob).__name__))
        blob = bytes(blob)
    # Read past the stamp where it stands, not from a copy of the rest:
    # a batch of arrays is megabytes.
    at = _form_at(blob)
    form = blob[at:at + 1]
    if len(blob) < at + 5 or form not in (b'f', b'F', b'm', b'M', b'g',
                                          b'G'):
        raise BatchError('not a batch')
    count, = _COUNT.unpack_from(blob, at + 1)
    spread = form in b'FMG'
    fixed = count * ((8 if spread else 0) + 4 + (
        8 if form in b'fF' else 9 if form in b'mM' else 1))
    size = len(blob) - at
    if size < 5 + fixed or (form in b'fFmM' and size != 5 + fixed):
        raise BatchError('{} bytes cannot hold {} values'.format(
            size, count))
    at += 5
    if spread:
        times = _from('q', blob[at:at + 8 * count]).tolist()
        at += 8 * count
    else:
        times = [time] * count
    key_ids = _from('i', blob[at:at + 4 * count]).tolist()
    at += 4 * count
    if not values and form in b'fFmM':
        return times, key_ids, None
    if form in b'fF':
        values = _from('d', blob[at:]).tolist()
    elif form in b'mM':
        ints = blob[at:at + count]
        words = blob[at + count:]
        as_ints, as_floats = _from('q', words), _from('d', words)
        values = [as_ints[index] if ints[index] else as_floats[index]
                  for index in range(count)]
    else:
        values = _general_values(blob, at, count)
    return times, key_ids, values


def _general_values(blob, at, count):
    tags = blob[at:at + count]
    at += count
    values = []
    for tag in tags:
        if tag in (0x64, 0x71):  # d, q
            if at + 8 > len(blob):
                raise BatchError('a value runs past its BLOB')
            values.append(struct.unpack_from('<d' if tag == 0x64 else '<q',
                                             blob, at)[0])
            at += 8
        elif tag == 0x6e:  # n
            values.append(None)
        elif tag in (0x73, 0x62):  # s, b
            if at + 4 > len(blob):
                raise BatchError('a value runs past its BLOB')
            length, = _LENGTH.unpack_from(blob, at)
            at += 4
            if at + length > len(blob):
                raise BatchError('a value runs past its BLOB')
            data = blob[at:at + length]
            at += length
            if tag == 0x73:
                try:
                    values.append(data.decode('utf-8'))
                except UnicodeDecodeError as error:
                    raise BatchError('a text is not UTF-8 ({})'.format(
                        error))
            else:
                values.append(data)
        else:
            raise BatchError('an unknown tag {!r}'.format(bytes([tag])))
        if at > len(blob):
            raise BatchError('a value runs past its BLOB')
    if at != len(blob):
        raise BatchError('{} bytes past its values'.format(len(blob) - at))
    return values
