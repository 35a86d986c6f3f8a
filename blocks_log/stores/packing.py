"""Packing: the head of a run moved into chunks, block by block, by its
writer, mostly from memory.

A writer commits an iteration as a batch (see :mod:`.batches`). It keeps
what it committed into each block of its run in memory, and once the run
has moved past a block, a later commit writes that block's chunks from
memory (see :mod:`.chunks`) and deletes its batches by their range of
times, with no read back: a pack of a block of 10 keys cost 8.3 ms read
back from SQLite, and about 2 ms this way. A commit that itself moves
past blocks (of many iterations) packs them with its own values, never
writing its batches of them (see :func:`pack_in_commit`). A block that
holds rows written before this writer opened the run (before a restart,
by a run of blocks_log 0.2), or after a fork (parent and child write the
same run, and each remembers only its own), is packed from the database
instead. Values that are not numbers (strings, deleted values...) are
written again, in one batch of the block.

"""
import bisect
import itertools
import operator

from blocks_log import codec
from blocks_log.stores import batches, chunks, clock

#: Values a commit packs at least, besides twice those it writes: a commit
#: of one iteration packs one block (about 2 ms for 10 keys), one of many
#: every block they complete.
PACK_VALUES = 4096
_NAN = codec.encode(float('nan'))
_DELETED = codec.DELETED_STORED


# Kinds of iterations (sets of keys in their order) a writer remembers the
# ids of: a training loop has a few (training, validation...).
_ITERATION_KINDS = 64

#: The times of a block of batches, for a run whose values are never
#: packed (a run of blocks_log 0.1 has no span).
HEAD_SPAN = 256


class RunPacking(object):
    """Where the writer of a run stands in packing it, and what it
    remembers of the blocks it wrote.

    Parameters
    ----------
    span : int or None
        Times per block of the run; ``None`` for a run never packed.
    packed : int
        Times below this are packed (the run's ``packed`` column).
    part : int
        The part the next batch gets: above every part of the run.
    fresh : int or None
        The first block of which this writer wrote everything (the first
        past every value the run held when it was opened); ``None``: pack
        from the database only.
    new : bool, optional
        The run is new, and this writer writes all of it: count the times
        and keys of each block it packs from memory (see :func:`counted`).

    Attributes
    ----------
    rows : int or None
        While counted, the times that hold a value in the blocks packed;
        ``None`` once not known without reading (a value written into a
        block packed, a deleted value, a ``fork``).
    keys : set
        While counted, the ids of the keys those blocks hold a value of.

    """
    __slots__ = ('span', 'packed', 'frontier', 'pending', 'part', 'fresh',
                 'memory', '_iterations', 'rows', 'keys', '_packing_count')

    def __init__(self, span, packed, part, fresh, new=False):
        self.span, self.packed, self.part, self.fresh = (
            span, packed, part, fresh)
        self.rows = 0 if new else None
        self.keys = set()
        # What the pack in flight counted (see count()).
        self._packing_count = None
        self.frontier = packed - 1
        self.pending = None  # what `packed` becomes when a commit lands
        # block -> [part] committed (see columns())
        self.memory = {}
        # The keys of an iteration (they repeat) -> the batches.AtOneTime
        # of their ids.
        self._iterations = {}

    def due(self):
        """Whether a block the run has moved past is not packed."""
        span = self.span
        return span is not None and (
            self.frontier - self.frontier % span > self.packed)

    def above(self, lowest):
        """The next part goes above that of the batch of key column
        `lowest` (``None``: none)."""
        if lowest is not None:
            self.part = max(self.part, batches.part_of(lowest) + 1)

    def next_part(self):
        part, self.part = self.part, self.part + 1
        return part

    def iteration(self, times, keys, values, key_ids, committed_ids=True,
                  stamp=None):
        """The batch of a commit whose values (`times`, `keys` and stored
        `values` in the order written, `keys` a tuple) are all at one
        time, as an iteration's are: ``(time, key column, BLOB, part)``,
        the head row and the part (as :func:`columns` takes it) for
        :meth:`remember` once the row is written; ``None`` if they are at
        several times.

        Raises
        ------
        KeyError
            If a key has no id in `key_ids` yet.
        """
        first = times[0]
        if times.count(first) != len(times):
            return None
        kind = self._iterations.get(keys)
        if kind is None:
            if len(self._iterations) >= _ITERATION_KINDS:
                self._iterations.clear()
            kind = batches.AtOneTime(tuple(map(key_ids.__getitem__, keys)))
            if committed_ids:
                self._iterations[keys] = kind
        wall = clock.wall_of_commit(stamp, first)
        # Floats, as a rule: then packing their block need look at none.
        floats = wall is not None and batches.all_floats(values)
        blob = kind.stamped_floats(values, wall) if floats else kind.encode(
            values, wall)
        return (first, batches.key_of(self.part, False), blob,
                (times, kind.key_ids, values, wall, floats, floats))

    def remember(self, time, part):
        """What :meth:`committed` does for the batch :meth:`iteration`
        made, of `time` and `part`, once written."""
        self.part += 1
        block = time // (self.span or HEAD_SPAN)
        if self.fresh is not None and block >= self.fresh:
            self.memory.setdefault(block, []).append(part)
        if time > self.frontier:
            self.frontier = time

    def batches(self, items, key_ids, committed_ids=True, stamp=None):
        """The batches of a commit's `items` (flat, ``[time, key, stored,
        time, ...]``, see :func:`.base.entries_of`), one per block:
        ``([(time, key, BLOB)] of the head rows, [(block, latest time,
        part)] to remember)`` (a part as :func:`columns` takes it), all of
        the part this commit gets, each stamped with a wall
        clock as `stamp` says (see :meth:`.Store.write` and :mod:`.clock`).
        The ids of an iteration's keys are remembered for the next, unless
        `committed_ids` is false (ids made in a transaction that may yet
        roll back).

        Raises
        ------
        KeyError
            If a key has no id in `key_ids` yet.
        """
        # Sliced out, in C (a commit of 1,000 values: 5 us, where taking
        # each item of a tuple per value took 30).
        times, keys, values = items[0::3], items[1::3], items[2::3]
        if times[0] == times[-1]:  # an iteration, as a rule
            one = self.iteration(times, tuple(keys), values, key_ids,
                                 committed_ids, stamp)
            if one is not None:
                first, column, blob, part = one
                return [(first, column, blob)], [
                    (first // (self.span or HEAD_SPAN), first, part)]
        # In order, as a rule: sorting what is sorted takes 6 us a commit
        # of 1,000 values, min() and max() 19.
        ordered = sorted(times) == times
        if ordered:
            first, last = times[0], times[-1]
        else:
            first, last = min(times), max(times)
        wall = clock.wall_of_commit(stamp, last)
        prefix = b'' if wall is None else batches.stamp(wall)
        ids = list(map(key_ids.__getitem__, keys))
        blocks = []
        rows = []
        for block, times, ids, values, first, last in self._by_block(
                times, ids, values, first, last, ordered):
            spread, blob = batches.encode(times, ids, values)
            rows.append((first, batches.key_of(self.part, spread),
                         prefix + blob))
            blocks.append((block, last, (times, ids, values, wall, False,
                                         batches.holds_floats(blob))))
        return rows, blocks

    def _by_block(self, times, ids, values, first, last, ordered):
        # [(block, times, key ids, values, first time, last time)] of a
        # commit whose times run from `first` to `last`, in block order;
        # `ordered` if its times never decrease.
        span = self.span or HEAD_SPAN
        low, high = first // span, last // span
        if low == high:  # iterations of one block, as a rule
            return [(low, times, ids, values, first, last)]
        if ordered:
            # Iterations in order, across blocks: cut where each begins.
            found, start = [], 0
            for block in range(low, high + 1):
                stop = bisect.bisect_left(times, (block + 1) * span, start)
                if stop > start:
                    found.append((block, times[start:stop], ids[start:stop],
                                  values[start:stop], times[start],
                                  times[stop - 1]))
                start = stop
            return found
        blocks = {}
        for time, key, value in zip(times, ids, values):
            column = blocks.get(time // span)
            if column is None:
                column = blocks[time // span] = ([], [], [])
            column[0].append(time)
            column[1].append(key)
            column[2].append(value)
        return [(block, times, ids, values, min(times), max(times))
                for block, (times, ids, values) in sorted(blocks.items())]

    def committed(self, found):
        """The batches `found` were committed: the next commit gets the next
        part; remember them, and where the run stands."""
        self.part += 1
        fresh = self.fresh
        for block, last, part in found:
            if fresh is not None and block >= fresh:
                self.memory.setdefault(block, []).append(part)
            if last > self.frontier:
                self.frontier = last

    def crosses(self, items):
        """Whether a commit of `items` (as :meth:`batches` takes them)
        begins and ends in different blocks this writer wrote everything
        of: whether :meth:`packs_whole` may hold of it, told without making
        its batches."""
        span, fresh = self.span, self.fresh
        if span is None or fresh is None or not items:
            return False
        first, last = items[0] // span, items[-3] // span
        return first != last and first >= fresh and last >= fresh

    def packs_whole(self, found):
        """Whether a commit whose batches are `found` (as :meth:`batches`
        gives them) moves past blocks that its own transaction can pack
        from memory, with its values, writing none of its batches of them:
        it holds several blocks, and this writer wrote everything of each.
        A commit of many iterations (1,000 of 10 keys) so writes its whole
        blocks once, as chunks, not first as batches that the next commit
        reads back and deletes.

        See :func:`pack_in_commit`."""
        fresh = self.fresh
        return fresh is not None and len(found) > 1 and all(
            block >= fresh for block, _, _ in found)

    def remember_first(self, found):
        """:meth:`committed` of the batches `found` before they are written
        (see :meth:`packs_whole`); what :meth:`undo` takes to forget them
        again, and what a pack that did not land did."""
        saved = self.part, self.frontier, dict(
            (block, list(parts)) for block, parts in self.memory.items())
        self.committed(found)
        return saved

    def undo(self, saved):
        """Forget what was remembered since :meth:`remember_first` gave
        `saved`: its transaction rolled back."""
        self.part, self.frontier, self.memory = saved

    def begin(self, start):
        """A pack begins where packing stands, `start` (see :func:`pack`):
        what a pack that did not land counted is dropped."""
        self.pending = start
        self._packing_count = None

    def count(self, block, parts, found):
        """Count, for the pack in flight, the times and keys of `block`,
        packed from `parts` (what this writer remembers of it) as `found`
        (see :func:`columns`)."""
        if self.rows is None:
            return
        if self._packing_count is None:
            self._packing_count = [0, set(), {}]  # rows, key ids, parts
        counting = self._packing_count
        counting[0] += _tally(found, counting[1])
        counting[2][block] = len(parts)

    def commit_landed(self, found, remembered, due):
        """The transaction of a commit whose batches are `found` landed
        (see :func:`pack_in_commit`): they are remembered, unless
        `remembered` already (:meth:`remember_first`); and what it packed
        (if it did, `remembered` or `due`) has :meth:`landed`."""
        if not remembered:
            self.committed(found)
        if remembered or due:
            self.landed()

    def landed(self):
        """The commit that packed landed: times below `pending` are packed,
        and what was remembered of them is forgotten (and counted, if
        counted whole)."""
        self.packed = self.pending
        first = self.packed // self.span
        counting = self._packing_count or [0, (), {}]
        self._packing_count = None
        for block in [block for block in self.memory if block < first]:
            # A block packed before, or written again since it was
            # counted: its times may hold values already counted.
            if counting[2].get(block) != len(self.memory.pop(block)):
                self.rows = None
        if self.rows is not None:
            self.rows += counting[0]
            self.keys.update(counting[1])

    def forked(self):
        """A ``fork`` is next: parent and child will each write the run, and
        remember only their own batches: pack from the database (and read
        the run to summarize it)."""
        self.fresh = self.rows = None
        self.memory.clear()


def counted(running, key_name):
    """``(rows, keys, last time)`` of a run as :class:`RunPacking` `running`
    (or ``None``) counted them while its writer wrote it, with the blocks
    it remembers and has not packed (see :meth:`.Store.summarize`), key
    names by ``key_name(key id)``; ``None`` if it did not, or could not."""
    if running is None or running.rows is None:
        return None
    rows, keys = running.rows, set(running.keys)
    first = running.packed // running.span
    for block, parts in running.memory.items():
        if block < first:
            return None  # written again after it was packed
        rows += _tally(columns(parts), keys)
    return rows, sorted(map(key_name, keys)), (
        running.frontier if rows else None)


def _tally(found, keys):
    # The count of the times of a block as columns() found it, its key ids
    # added to the set `keys`.
    numbers, rest, _ = found
    keys.update(numbers, (key for _, key, _ in rest))
    shared = list(numbers.values())
    if not rest and all(times is shared[0][0] for times, _ in shared):
        return len(shared[0][0]) if shared else 0  # an iteration's
    return len(set(itertools.chain((time for time, _, _ in rest),
                                   *(times for times, _ in shared))))


def going_on(span, one, dialect):
    """The :class:`RunPacking` of a writer that opens a run of `span`
    (``None``: never packed, as a run of blocks_log 0.1): its part above
    every batch's, and its fresh blocks past every value the run holds.
    ``one(statement)`` gives the one value of a statement of `dialect`
    (``SELECT_PACKED``, ``SELECT_LOWEST_KEY``,
    ``SELECT_LAST_ROW_BEFORE_STATUS``, ``SELECT_LAST_BLOCK``) on the run.
    """
    running = RunPacking(None, 0, 0, None)
    running.above(one(dialect.SELECT_LOWEST_KEY))
    if not span:
        return running
    packed = one(dialect.SELECT_PACKED)
    ends = [packed // span]
    last = one(dialect.SELECT_LAST_ROW_BEFORE_STATUS)
    if last is not None:
        ends.append(last // span + 1)
    block = one(dialect.SELECT_LAST_BLOCK)
    if block is not None:
        ends.append(block + 1)
    running.span, running.packed, running.fresh = span, packed, max(ends)
    running.frontier = packed - 1
    return running


def going_on_in(connection, ref, span, dialect):
    """:func:`going_on` of run `ref`, read in the transaction of
    `connection` (its ``execute`` as in the DB-API)."""
    return going_on(span, lambda statement: connection.execute(
        statement, (ref,)).fetchone()[0], dialect)


def columns(parts):
    """``({key id: (times, values)} of the numbers, [(time, key id,
    stored)] of the rest, kind)`` of `parts`, in the order committed: the
    later wins where two hold a (time, key); in increasing time. `kind` is
    ``'f'`` if every number is a float, so that packing them need not look
    again; else ``None``.

    A part is ``(times, key ids, values, wall, iteration, floats)``: what a
    commit wrote into a block (`wall` ``None`` where not stamped),
    `iteration` true if its values are floats all at one time (an
    iteration's, as :meth:`RunPacking.iteration` made its batch), `floats`
    true if they are all floats (none NaN's BLOB), as its batch's encoding
    found them; either may be false of floats (it only spares looking).

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


def pack_in_commit(connection, ref, packing, dialect, items, due,
                   batches_of):
    """Pack what the write transaction of a commit of `items` (as
    :meth:`RunPacking.batches` takes them) packs, and make its batches:
    ``(rows, found, saved, packed)``, what ``batches_of()`` gives (its
    rows and their `found`, as :meth:`RunPacking.batches` gives it) made
    once packing is done, `saved` what :meth:`RunPacking.undo` takes if
    the transaction does not land (``None``: nothing to undo), and
    `packed` the times packed, into which no batch of `rows` must be
    written. Once it lands, :meth:`RunPacking.commit_landed`.

    A commit that moves past blocks of its own (see
    :meth:`RunPacking.packs_whole`) is remembered first, and packs them
    with its values; else the blocks that earlier commits moved past are
    packed, if `due`, before its batches are made (a value that packing
    writes again takes a part below theirs). It packs about
    :data:`PACK_VALUES` values, and two for each of the commit's. Other
    parameters as for :func:`pack`."""
    budget = PACK_VALUES + 2 * (len(items) // 3)
    if packing.crosses(items):
        rows, found = batches_of()
        if packing.packs_whole(found):
            saved = packing.remember_first(found)
            try:
                start = pack(connection, ref, packing, dialect, budget)
            except BaseException:
                packing.undo(saved)
                raise
            return rows, found, saved, range(start, packing.pending)
        if not due:
            return rows, found, None, ()  # nothing to pack before them
    if due:
        pack(connection, ref, packing, dialect, budget)
    rows, found = batches_of()
    return rows, found, None, ()


def pack(connection, ref, packing, dialect, budget=PACK_VALUES):
    """Pack the blocks of run `ref` that its writes have moved past, in the
    write transaction of `connection` (its ``execute`` as in the DB-API),
    until about `budget` values are packed; `packing.pending` is then where
    packing stands, and where it stood is returned.

    Where packing stands is read from the database, in the transaction.
    `dialect` holds the store's statements (``SELECT_PACKED``,
    ``SELECT_BLOCK_ROWS``, ``SELECT_NEXT_ROW``, ``INSERT_CHUNK``,
    ``INSERT_CLOCK``, ``DELETE_BLOCK_ROWS``, ``SET_PACKED``),
    ``write_rest(connection, ref, rest, packing)`` (writes the values of a
    block that are not numbers, ``[(time, key id, stored)]``, again) and
    ``entry_of(row)`` (``(time, key, stored)`` of a row of
    ``SELECT_BLOCK_ROWS``).

    """
    span = packing.span
    start, = connection.execute(dialect.SELECT_PACKED, (ref,)).fetchone()
    limit = packing.frontier - packing.frontier % span
    packing.begin(start)
    if start >= limit:
        return start
    done = 0
    block = start // span
    while block * span < limit and done < budget:
        if packing.fresh is not None and block >= packing.fresh:
            if block not in packing.memory:  # skip to the next it holds
                later = [kept for kept in packing.memory if kept > block]
                block = min(later) if later else limit // span
                continue
            parts = packing.memory[block]
            found, times, width = sliced_columns(parts)
            packing.count(block, parts, found)
        else:
            parts = _from_database(connection, ref, block, span, dialect)
            if parts is None:  # nothing up to the next row: skip there
                following, = connection.execute(dialect.SELECT_NEXT_ROW, (
                    ref, (block + 1) * span, limit)).fetchone()
                block = limit // span if following is None else (
                    following // span)
                continue
            found, times, width = split(latest(parts)), None, None
        _write_block(connection, ref, block, span, found, dialect, packing)
        walls = clock_of(parts, times, width)
        if walls[0]:
            connection.execute(dialect.INSERT_CLOCK, chunks.pack(
                ref, clock.KEY, span, *walls))
        done += sum(len(times) for times, _ in found[0].values()) + len(
            found[1])
        block += 1
    packed = min(block * span, limit)
    connection.execute(dialect.SET_PACKED, (packed, ref))
    packing.pending = packed
    return start


def _from_database(connection, ref, block, span, dialect):
    # The parts of a block as the database holds them (as RunPacking
    # remembers them), or None if it holds no row there: rows of a value
    # each (a file of blocks_log 0.2) first, then batches, oldest first.
    rows = connection.execute(dialect.SELECT_BLOCK_ROWS, (
        ref, block * span, block * span + span)).fetchall()
    if not rows:
        return None
    parts, batched = [], []
    for row in rows:
        time, key, stored = dialect.entry_of(row)
        if key >= 0:
            parts.append(([time], [key], [stored], None, False, False))
        else:
            batched.append((batches.part_of(key), time, stored))
    for _, time, blob in sorted(batched):
        try:
            parts.append(batches.decode(time, blob) + (
                batches.wall_of(blob), False, False))
        except batches.BatchError:
            # Left as it is (it reads as damaged), never dropped.
            return None
    return parts


def _write_block(connection, ref, block, span, found, dialect, packing):
    # Chunks of the numbers, the rest written again, the block's rows
    # gone.
    numbers, rest, kind = found
    connection.execute(dialect.DELETE_BLOCK_ROWS, (
        ref, block * span, block * span + span))
    # The keys of a loop's block share one list of times (see columns()):
    # how it is stored is found once (4 us of a key's 9, 256 times).
    shared = None
    for key, (times, values) in numbers.items():
        if shared is None or shared[0] is not times:
            shared = times, chunks.stored_times(times)
        connection.execute(dialect.INSERT_CHUNK, chunks.pack(
            ref, key, span, times, values, kind, shared[1]))
    if rest:
        dialect.write_rest(connection, ref, rest, packing)


__all__ = ['HEAD_SPAN', 'PACK_VALUES', 'RunPacking', 'clock_of', 'columns',
           'counted', 'latest', 'pack', 'pack_in_commit', 'sliced_columns',
           'split']
