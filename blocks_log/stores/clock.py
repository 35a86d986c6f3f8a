"""The clock: when each time of a run was first committed.

A writer stamps each batch it commits (see :mod:`.batches`) with a wall
clock (seconds since the epoch): in a training loop, when its
``iterations_done`` reached the latest time the commit holds (the
iteration was done: Blocks logs its values just after); else when the
commit was made. Packing a block (see :mod:`.packing`) writes, beside its
chunks, one chunk of the block's clock into ``blocks_log_clocks`` (the
layout of ``blocks_log_chunks``, key :data:`KEY`): each time of the block
that a stamped batch held, and the stamp of the first commit that held
it. So in a run that commits each iteration, each time has the wall at
which that iteration was done; with ``commit_every`` or
``commit_seconds``, the iterations of a commit share the wall of the last
of them. It costs a commit 9 bytes, and a block of 256 iterations one
chunk of 2 KB (0.8 bytes a value of 10 keys).

A lineage's clock reads as a key's values do: where two runs hold a time,
the nearest wins (a resumed run's commits, not those of the run it went on
from). Runs written before schema version 6, logs held in memory and
Blocks' databases have no clock; nor has a time whose chunk of the clock
is damaged: a wall is never made up.

"""
import bisect
import operator
import time as _time

from blocks_log import series
from blocks_log.numeric import all_finite
from blocks_log.stores import batches, chunks, merging

#: The key id of a chunk of the clock (no key has it).
KEY = 0
_TIMES, _WALL, _ITERATION = map(operator.itemgetter, (0, 3, 4))
_FIRST = operator.itemgetter(0)


def wall_of_commit(stamp, latest):
    """The wall clock a commit whose latest time is `latest` is stamped
    with, as `stamp` says (see :meth:`.Store.write`), or ``None``."""
    if type(stamp) is tuple:
        return stamp[1] if latest <= stamp[0] else _time.time()
    return _time.time() if stamp else None


def of_parts(parts):
    """``([times], [walls])`` of `parts` (what each commit wrote into a
    block, oldest first, as :func:`.block_columns.columns` takes them; a wall
    ``None`` where not stamped): each time once, with the wall of the
    first commit that held it, in increasing time."""
    if all(map(_ITERATION, parts)):
        # Iterations at one time each, stamped (a training loop's): in
        # increasing time, their walls are the clock.
        times = list(map(_FIRST, map(_TIMES, parts)))
        if all(map(operator.lt, times, times[1:])):
            return times, list(map(_WALL, parts))
    walls = {}
    for part in reversed(parts):  # the oldest written last: it wins
        wall = part[3]
        if wall is None:
            continue
        times = part[0]
        if times.count(times[0]) == len(times):  # an iteration, as a rule
            walls[times[0]] = wall
        else:
            walls.update(dict.fromkeys(times, wall))
    times = sorted(walls)
    return times, [walls[time] for time in times]


def chunk_rows(run, span, times, walls):
    """The parameters of ``INSERT_CLOCK`` that write the clock `walls` of
    `times` (increasing) of run `run`, of `span` times a block: a chunk a
    block."""
    rows, start = [], 0
    while start < len(times):
        block = times[start] // span
        stop = bisect.bisect_left(times, (block + 1) * span, start)
        rows.append(chunks.pack(run, KEY, span, list(times[start:stop]),
                                list(walls[start:stop])))
        start = stop
    return rows


def run_clock(run, span, packed_rows, head_rows, start, stop, checked=True):
    """The clock of one run over ``[start, stop)`` as a series, from its
    chunks of the clock (rows as :func:`.chunks.read` takes them, in time
    order) and the rows of its head (``(time, key, stored)`` as the table
    holds them): a chunk (of the first commits) wins over a batch, and of
    batches the earliest. `checked` as for :func:`.chunks.read`."""
    packed = merging.run_series(run, span, packed_rows, [], start, stop,
                                checked).get(KEY, series.empty())
    packed = _walls_only(packed)
    stamped = []
    for time, key, stored in head_rows:
        if key < 0:
            wall = batches.wall_of(stored)
            if wall is not None:
                stamped.append((batches.part_of(key), time, stored, wall))
    walls = {}
    for _, time, stored, wall in sorted(stamped, reverse=True):
        try:
            times = batches.decode(time, stored)[0]
        except batches.BatchError:
            continue  # its values read as damaged; its times have no wall
        walls.update(dict.fromkeys(
            (each for each in times if start <= each < stop), wall))
    if not walls:
        return packed
    head_times = sorted(walls)
    return series.merge((head_times, [walls[time] for time in head_times]),
                        packed)


def _walls_only(column):
    # A series of the clock without what is not a finite float (the
    # placeholders of a damaged chunk, numbers of a forged one).
    times, values = column
    if getattr(values, 'typecode', None) == 'd' and all_finite(values):
        return column
    kept = [(time, value) for time, value in zip(times, values)
            if type(value) is float and value - value == 0.0]
    return [time for time, _ in kept], [value for _, value in kept]


def lineage_clock(clocks):
    """One series of the clocks of a lineage's runs (`clocks`, nearest
    first): the nearest wins where several hold a time."""
    found = series.empty()
    for clock in reversed(clocks):
        found = series.merge(found, clock)
    return found
