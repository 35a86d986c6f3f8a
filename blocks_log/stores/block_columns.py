"""A block's parts (what commits wrote into it, oldest first) as columns:
the times and values of each key's numbers, the rest as rows, and the
wall clock of its times; by slicing, where the block is a training loop's
iterations.

"""
import itertools
import operator

from blocks_log import codec
from blocks_log.stores import clock

_NAN = codec.encode(float('nan'))


class Kept(object):
    """What a writer remembers of the values of a part whose batch holds a
    large value (see :data:`.run_packing.LARGE_VALUE_BYTES`) in their
    place: the head row of the batch, which stays as it was written when
    its block is packed.

    Attributes
    ----------
    time : int
        The row's time (the first of the batch's).
    column : int
        The row's key column (see :func:`.batches.key_of`).

    """
    __slots__ = ('time', 'column')

    def __init__(self, time, column):
        self.time, self.column = time, column


def columns(parts):
    """``({key id: (times, values)} of the numbers, [(time, key id,
    stored)] of the rest, kind)`` of `parts`, in the order committed: the
    later wins where two hold a (time, key); in increasing time. `kind` is
    ``'f'`` if every number is a float, so that packing them need not look
    again; else ``None``.

    A part is ``(times, key ids, values, wall, iteration, floats)``: what a
    commit wrote into a block (`wall` ``None`` where not stamped),
    `iteration` true if its values are floats all at one time (an
    iteration's, as :meth:`.run_packing.RunPacking.iteration` made its
    batch), `floats` true if they are all floats (none NaN's BLOB), as its
    batch's encoding found them; either may be false of floats (it only
    spares looking).

    A block of a training loop's iterations (the same keys at each time,
    in the same order, each time later than the one before) is turned into
    columns by slicing, without a Python loop over its values (a pack of a
    block of 10 keys took 1.1 ms, half of it here); without looking at a
    time or a value at all when its parts are all iterations (0.135 ms a
    block of 10 keys, and 0.079 ms so).
    """
    return sliced_columns(parts)[0]


def sliced_columns(parts):
    """``(found, times, width)``: :func:`columns` of `parts` as `found`;
    if it found them by slicing, the block's `times` (increasing) and
    `width`, the values each of them has, the parts concatenated holding
    the values of each time in turn (so the n-th time first appears at
    ``n * width``); else ``None, None``."""
    if not parts:
        return ({}, [], None), None, None
    sliced = _iterations(parts)
    if sliced is None:
        sliced = _sliced(parts)
        if sliced is None:
            return split(latest(parts)), None, None
    every, keys, floats = sliced
    width = len(keys)
    values = list(itertools.chain.from_iterable(map(_VALUES, parts)))
    # Floats as their batches found them, as a rule (their encoding
    # looked at each value: 2,300 instructions an iteration fewer in
    # commits of 100 iterations, 3%, callgrind).
    if floats or all(map(_FLOATS, parts)) or _FLOAT_TYPE.issuperset(
            map(type, values)):
        return (dict((key, (every, values[index::width]))
                     for index, key in enumerate(keys)), [], 'f'), every, width
    numbers, rest = {}, []
    for index, key in enumerate(keys):
        column = values[index::width]
        if _NUMBER_TYPES.issuperset(map(type, column)):
            numbers[key] = (every, column)
        else:
            _split_column(key, every, column, numbers, rest)
    rest.sort()
    return (numbers, rest, None), every, width


def _sliced(parts):
    # (their times, their key ids, False) if `parts` hold the same keys in
    # the same order at each time, each time later than the one before
    # (however many a commit held); else None.
    times = list(itertools.chain.from_iterable(map(_TIMES, parts)))
    ids = list(itertools.chain.from_iterable(map(_KEY_IDS, parts)))
    width = 1
    while width < len(times) and times[width] == times[0]:
        width += 1
    keys = ids[:width]
    count = len(times) // width
    every = times[::width]
    if (count * width == len(times) and len(set(keys)) == width and
            ids == keys * count and all(map(operator.lt, every, every[1:])) and
            all(times[index::width] == every for index in range(1, width))):
        return every, keys, False
    return None


def _iterations(parts):
    # (their times, their key ids, True) if `parts` are iterations of
    # floats (see columns()) of the same keys, each later than the one
    # before; else None.
    if not all(map(_ITERATION, parts)):
        return None
    keys = parts[0][1]
    if not all(map(keys.__eq__, map(_KEY_IDS, parts))):
        return None
    every = list(map(_FIRST, map(_TIMES, parts)))
    if not all(map(operator.lt, every, every[1:])):
        return None
    return every, keys, True


_TIMES, _KEY_IDS, _VALUES = map(operator.itemgetter, range(3))


_FIRST, _ITERATION, _FLOATS = map(operator.itemgetter, (0, 4, 5))


_NUMBER_TYPES = frozenset([float, int])


_FLOAT_TYPE = frozenset([float])


def _split_column(key, times, values, numbers, rest):
    kept = ([], [])
    for time, stored in zip(times, values):
        kind = type(stored)
        if kind is float or kind is int or stored == _NAN:
            kept[0].append(time)
            kept[1].append(stored)
        else:
            rest.append((time, key, stored))
    if kept[0]:
        numbers[key] = kept


def kept_apart(parts, load):
    """``(found, rows)`` of `parts`, some of which are kept (their values a
    :class:`Kept`): `found`, :func:`columns` of the values of the other
    parts that no later part wrote again and no kept part holds, and
    `rows`, the ``(time, key column)`` of the kept parts' head rows. A kept
    part that a later part wrote a (time, key) of again is loaded
    (``load(kept)`` gives the ``(times, key ids, stored values)`` its batch
    holds) and packed with the others, its row not kept: left in the head,
    it would win over what came after. A later kept part wins over what
    came before it, as a commit does: the values written before are
    dropped."""
    last = {}
    for index, part in enumerate(parts):
        last.update(dict.fromkeys(zip(part[0], part[1]), index))
    final, rows = {}, []
    for index, part in enumerate(parts):
        times, keys, values = part[:3]
        if type(values) is Kept:
            if all(last[pair] == index for pair in zip(times, keys)):
                rows.append((values.time, values.column))
                continue
            times, keys, values = load(values)
        for pair, stored in zip(zip(times, keys), values):
            if last[pair] == index:
                final[pair] = stored
    return split(final), rows


def tally(parts, keys):
    """The count of the times at which `parts` (a block's) hold a value,
    deleted values included, their key ids added to the set `keys`; from
    their times and keys alone, kept parts' too."""
    keys.update(itertools.chain.from_iterable(map(_KEY_IDS, parts)))
    return len(set(itertools.chain.from_iterable(map(_TIMES, parts))))


def latest(parts):
    """``{(time, key id): stored}`` of `parts` (``(times, key ids, values,
    wall)``, oldest first): the later wins."""
    final = {}
    for part in parts:
        final.update(zip(zip(part[0], part[1]), part[2]))
    return final


def split(final):
    """:func:`columns` of `final` (as :func:`latest` gives it)."""
    numbers, rest = {}, []
    for (time, key), stored in sorted(final.items()):
        kind = type(stored)
        if kind is float or kind is int or stored == _NAN:
            column = numbers.get(key)
            if column is None:
                column = numbers[key] = ([], [])
            column[0].append(time)
            column[1].append(stored)
        else:
            rest.append((time, key, stored))
    return numbers, rest, None


def clock_of(parts, times=None, width=None):
    """What :func:`.clock.of_parts` gives of `parts`, a block's, found in
    fewer steps from the `times` and `width` that :func:`sliced_columns`
    gives of them, if it sliced them: from where each time first appears
    (75 us a block of 10 keys, 256 times, in commits of 100 iterations,
    looking at each time of each part; 3 us so). Parts of an iteration
    each are left to :func:`.clock.of_parts`, which takes their walls as
    they are (15 us a block of 256, where this would take 32)."""
    if times is None or all(map(_ITERATION, parts)):
        return clock.of_parts(parts)
    walls, stop, seen = [], 0, 0
    for part in parts:
        wall = part[3]
        if wall is None:  # unstamped: a later part's wall may be its
            return clock.of_parts(parts)
        stop += len(part[0])
        reached = -(-stop // width)  # the times first seen before `stop`
        walls += [wall] * (reached - seen)
        seen = reached
    return times, walls
