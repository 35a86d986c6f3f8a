"""What the writer of a run remembers of the blocks it wrote (the parts
of each, as its commits wrote them), and where it stands in packing them
(see :mod:`.packing`): a :class:`RunPacking` for each run a store writes.

"""
import bisect
import itertools

from blocks_log.stores import batches, clock
from blocks_log.stores.block_columns import Kept, columns, tally


# Kinds of iterations (sets of keys in their order) a writer remembers the
# ids of: a training loop has a few (training, validation...).
_ITERATION_KINDS = 64


#: The times of a block of batches, for a run whose values are never
#: packed (a run of blocks_log 0.1 has no span).
HEAD_SPAN = 256

#: A value that is not a number and takes this many bytes or more (an
#: array, a long text) is not remembered by its writer: the batch that holds
#: it stays in the head as it was written when its block is packed (see
#: :func:`.block_columns.kept_apart`), and the writer remembers its times
#: and keys only. Remembered, the values of a block of arrays were packed
#: from memory, and written again: a writer logging an array of 256 KiB an
#: iteration held 64 MiB more, and the commit that packed took 0.8 s of CPU
#: (``benchmarks/bench_arrays.py``).
LARGE_VALUE_BYTES = 4096
_SIZED = (str, bytes)


def kept_if_large(part, row):
    """What a writer remembers of a batch (of :data:`LARGE_VALUE_BYTES` or
    more) whose part (as :func:`columns` takes it) is `part`: `part`, or,
    if it holds a large value, the part kept (its values the
    :class:`~.block_columns.Kept` of its head row, `row`, ``(time, key
    column)``)."""
    times, key_ids, values, wall, _, floats = part
    if not floats and any(type(value) in _SIZED and len(
            value) >= LARGE_VALUE_BYTES for value in values):
        return times, key_ids, Kept(*row), wall, False, False
    return part


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
    batch_bytes : int
        The most bytes the store holds in one value: a commit's batch of a
        block that would pass it is cut into pieces, each of a part of its
        own (see :func:`.batches.pieces`).
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
    large : set
        The blocks remembered that hold a large value (a part kept, see
        :data:`LARGE_VALUE_BYTES`): a pack of a block looks no further to
        know (looking at each part of each, twice a pack, cost 1,000
        instructions an iteration of the training-loop workload). Looked
        at only while `fresh`.

    """
    __slots__ = ('span', 'packed', 'frontier', 'pending', 'part', 'fresh',
                 'memory', '_iterations', 'rows', 'keys', '_packing_count',
                 'batch_bytes', 'large')

    def __init__(self, span, packed, part, fresh, batch_bytes, new=False):
        self.span, self.packed, self.part, self.fresh = (
            span, packed, part, fresh)
        self.batch_bytes = batch_bytes
        self.rows = 0 if new else None
        self.keys = set()
        # What the pack in flight counted (see count()).
        self._packing_count = None
        self.frontier = packed - 1
        self.pending = None  # what `packed` becomes when a commit lands
        # block -> [part] committed (see columns())
        self.memory = {}
        self.large = set()
        # The keys of an iteration (they repeat) -> the batches.AtOneTime
        # of their ids.
        self._iterations = {}

    def due(self):
        """Whether a block the run has moved past is not packed."""
        span = self.span
        return span is not None and (
            self.frontier - self.frontier % span > self.packed)

    def limit_after(self, found):
        """Where packing may go once a commit whose batches are `found` (as
        :meth:`batches` gives them) is remembered: to the block of the last
        time written."""
        last = max([self.frontier] + [time for _, time, _ in found])
        return last - last % self.span

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
        several times, or take more than :attr:`batch_bytes`.

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
            if kind.floats_size > self.batch_bytes:
                return None  # never kept: cut into pieces by batches()
            if committed_ids:
                self._iterations[keys] = kind
        wall = clock.wall_of_commit(stamp, first)
        # Floats, as a rule: then packing their block need look at none.
        if wall is not None and batches.all_floats(values):
            blob, floats = kind.stamped_floats(values, wall), True
        else:
            blob, floats = kind.encode(values, wall), False
            if len(blob) > self.batch_bytes:
                return None  # cut into pieces by batches()
            if len(blob) >= LARGE_VALUE_BYTES:
                column = batches.key_of(self.part, False)
                return first, column, blob, kept_if_large((
                    times, kind.key_ids, values, wall, False, False), (
                        first, column))
        return (first, batches.key_of(self.part, False), blob,
                (times, kind.key_ids, values, wall, floats, floats))

    def remember(self, time, part):
        """What :meth:`committed` does for the batch :meth:`iteration`
        made, of `time` and `part`, once written."""
        self.part += 1
        block = time // (self.span or HEAD_SPAN)
        if self.fresh is not None and block >= self.fresh:
            self.memory.setdefault(block, []).append(part)
            if type(part[2]) is Kept:
                self.large.add(block)
        if time > self.frontier:
            self.frontier = time

    def batches(self, items, key_ids, committed_ids=True, stamp=None):
        """The batches of a commit's `items` (flat, ``[time, key, stored,
        time, ...]``, see :func:`.base.entries_of`), one per block:
        ``([(time, key, BLOB)] of the head rows, [(block, latest time,
        part)] to remember)`` (a part as :func:`columns` takes it), all of
        the part this commit gets (a block's batch that would pass
        :attr:`batch_bytes` is cut into pieces, in `found` one after
        another, each of the part after the one before it; see
        :func:`parts_of`), each stamped with a wall
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
            spread, blob = batches.encode(times, ids, values, prefix)
            if len(blob) <= self.batch_bytes:
                pieces = [(times, ids, values, first, last, spread, blob)]
            else:
                pieces = [
                    (times, ids, values, min(times), max(times)) +
                    batches.encode(times, ids, values, prefix)
                    for times, ids, values in batches.pieces(
                        times, ids, values, self.batch_bytes - len(prefix))]
            for index, (times, ids, values, first, last, spread,
                        blob) in enumerate(pieces):
                row = first, batches.key_of(self.part + index, spread)
                rows.append(row + (blob,))
                part = (times, ids, values, wall, False,
                        batches.holds_floats(blob))
                if len(blob) >= LARGE_VALUE_BYTES:
                    part = kept_if_large(part, row)
                blocks.append((block, last, part))
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
            # Iterations in order, across blocks: cut where each begins,
            # going from block to block that holds a time (a commit may
            # hold times 0 and 2 ** 62: not every block between).
            found, start, count = [], 0, len(times)
            while start < count:
                block = times[start] // span
                stop = bisect.bisect_left(times, (block + 1) * span, start)
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
        """The batches `found` were committed: the next commit gets the part
        after theirs; remember them, and where the run stands."""
        self.part += parts_of(found)
        fresh = self.fresh
        for block, last, part in found:
            if fresh is not None and block >= fresh:
                self.memory.setdefault(block, []).append(part)
                if type(part[2]) is Kept:
                    self.large.add(block)
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
        reads back and deletes. Not while a block remembered holds a
        large value (see :data:`LARGE_VALUE_BYTES`), nor one the commit
        writes: its batch must be written, to stay, and a pack of a block
        holding one counts its rows as it packs it (see
        :func:`.packing.only_its_own`), where the commit's would not be.

        See :func:`pack_in_commit`."""
        fresh = self.fresh
        return fresh is not None and len(found) > 1 and all(
            block >= fresh for block, _, _ in found) and not self.large and (
                not any(type(part[2]) is Kept for _, _, part in found))

    def remember_first(self, found):
        """:meth:`committed` of the batches `found` before they are written
        (see :meth:`packs_whole`); what :meth:`undo` takes to forget them
        again, and what a pack that did not land did."""
        # Nothing large to forget: packs_whole() holds of none.
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
        (see :func:`columns`; ``None``: some of `parts` are kept, see
        :func:`.block_columns.kept_apart`)."""
        if self.rows is None:
            return
        if self._packing_count is None:
            self._packing_count = [0, set(), {}]  # rows, key ids, parts
        counting = self._packing_count
        counting[0] += tally(parts, counting[1]) if found is None else (
            _tally(found, counting[1]))
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
            self.large.discard(block)
        if self.rows is not None:
            self.rows += counting[0]
            self.keys.update(counting[1])

    def forked(self):
        """A ``fork`` is next: parent and child will each write the run, and
        remember only their own batches: pack from the database (and read
        the run to summarize it)."""
        self.fresh = self.rows = None
        self.memory.clear()


def parts_of(found):
    """How far above the part of batches `found` (as
    :meth:`RunPacking.batches` gives them) the next commit's part is: one,
    and one more for each piece after the first of a block's batch cut
    into pieces (those follow one another), so that a later commit's
    values win over every piece's."""
    if len(found) == 1:
        return 1
    return 1 + sum(1 for before, after in zip(found, found[1:])
                   if before[0] == after[0])


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
        rows += tally(parts, keys) if block in running.large else _tally(
            columns(parts), keys)
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


def going_on(span, one, dialect, batch_bytes):
    """The :class:`RunPacking` of a writer that opens a run of `span`
    (``None``: never packed, as a run of blocks_log 0.1): its part above
    every batch's, and its fresh blocks past every value the run holds.
    ``one(statement)`` gives the one value of a statement of `dialect`
    (``SELECT_PACKED``, ``SELECT_LOWEST_KEY``,
    ``SELECT_LAST_ROW_BEFORE_STATUS``, ``SELECT_LAST_BLOCK``) on the run;
    `batch_bytes` as :class:`RunPacking` takes it.
    """
    running = RunPacking(None, 0, 0, None, batch_bytes=batch_bytes)
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


def going_on_in(connection, ref, span, dialect, batch_bytes):
    """:func:`going_on` of run `ref`, read in the transaction of
    `connection` (its ``execute`` as in the DB-API)."""
    return going_on(span, lambda statement: connection.execute(
        statement, (ref,)).fetchone()[0], dialect, batch_bytes)
