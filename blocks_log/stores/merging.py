"""A run's values merged from its chunks and its head.

What both stores' reads make of the rows they fetch (see
:mod:`.sqlite_reads`, :mod:`.postgresql_reads`): a run's series over a
range of times, the values of one time over a lineage, the times that hold
values, and where they end. Each chunk is read, and checked, by
:mod:`.chunks`; where a chunk and the head hold the same (time, key), the
head wins.

"""
import bisect
import itertools
import operator

from blocks_log import series
from blocks_log.stores import chunks


def times_of(run, span, rows, checked=True):
    """The times of the chunks `rows` of `run` (each as for
    :func:`.chunks.read_times`, its values BLOB left out): a list of increasing
    sequences of times, one per set of them. The keys of a block mostly
    share their times: each set of them is unpacked and listed once (each
    chunk's checked against its own header and checksum)."""
    unpacked, listed = {}, {}
    for row in rows:
        found = chunks.read_times(run, span, row, unpacked, checked)
        # By identity: the same times, unpacked once, shared by the
        # chunks that hold them; kept in `listed` so that no id is reused.
        listed[id(found)] = found
    return list(listed.values())


def union_of(pieces, loose, start, stop):
    """The times in ``[start, stop)`` of `pieces` (increasing sequences of
    times, as :func:`times_of` gives them) and of `loose` (any iterable of
    times), each once, as an increasing list. Pieces that do not overlap
    (a block's times after the block before, as a run's chunks hold them)
    are joined end to end, in C, rather than hashed time by time:
    ``len(log)`` of 1,000,000 iterations took 227 ms, and takes 58."""
    pieces = sorted((piece for piece in pieces if len(piece)),
                    key=operator.itemgetter(0))
    loose = sorted(set(loose))
    joined = []
    for piece in pieces + [loose]:
        if joined and piece and piece[0] <= joined[-1]:
            # Overlapping times (two runs of a lineage, a time written
            # again after its block was packed): each once, by a set.
            joined = sorted(set(itertools.chain(loose, *pieces)))
            break
        joined.extend(piece)
    if joined and (joined[0] < start or joined[-1] >= stop):
        return joined[bisect.bisect_left(joined, start):
                      bisect.bisect_left(joined, stop)]
    return joined


def end_of(lasts, stop):
    """What :meth:`~blocks_log.stores.base.Store.read_end` gives of the
    last times found of rows and chunks (``None`` for none; what is no
    time, in a damaged chunk, counts as `stop`)."""
    ends = [min(last + 1, stop) if type(last) is int else stop
            for last in lasts if last is not None]
    return max(ends) if ends else None


def merged_row(rows, time, depth, spans, checked=True):
    """The values of one time from `rows` of chunks and entries of the
    head, ``(run, order, key id, stored, chunk)``: a chunk has order 0, key
    and stored ``None`` and its columns as :func:`.chunks.read` takes them in
    ``chunk``; an entry (see :func:`blocks_log.stores.batches.head`) its
    order, and no chunk. Key id -> stored, the nearest run
    (``depth[run]``) winning, and in a run the highest order (the head
    over chunks, a later commit over an earlier one). `spans` gives each
    run's span; `checked` as for :func:`.chunks.read`."""
    rows = sorted(rows, key=lambda row: (-depth[row[0]], row[1]))
    values = {}
    for run, _, key, stored, chunk in rows:
        if chunk is not None:  # a chunk: find the time in it
            times, found = chunks.read(run, spans[run], chunk, time,
                                       time + 1, checked)
            if not len(times):
                continue
            key, stored = chunk[0], found[0]
        values[key] = stored
    return values


def _extends(chain, plain):
    # Whether the plain chunk `plain` goes on from `chain` (kind, step,
    # first, last, BLOBs) at the same step.
    kind, step, _, last, _ = chain
    gap = plain[2] - last
    return (plain[0] == kind and gap > 0 and (step or gap) == gap and
            (plain[1] or gap) == gap)


def run_series(run, span, chunk_rows, head_rows, start, stop,
               checked=True):
    """Key id -> series of one run over ``[start, stop)``, from its chunks
    (as :func:`.chunks.read` takes them, in time order) and its rows (``(time,
    key, value)``, decoded, in any order): a row wins over a chunk.
    `checked` as for :func:`.chunks.read`."""
    pieces, chains = {}, {}
    series_of_plain = chunks.series_of_plain
    for row in chunk_rows:
        key = row[0]
        plain = chunks.plain_of(run, span, row) if checked else None
        chain = chains.get(key)
        if chain is not None and plain is not None and _extends(chain,
                                                                plain):
            # Evenly spaced on from the chunk before: one range, and one
            # array made of every BLOB of the chain at the end.
            chain[1] = chain[1] or plain[2] - chain[3]
            chain[3] = plain[3]
            chain[4].append(plain[4])
            continue
        if chain is not None:
            pieces.setdefault(key, []).append(series_of_plain(*chain))
        if plain is not None:
            chains[key] = list(plain[:4]) + [[plain[4]]]
        else:
            chains.pop(key, None)
            pieces.setdefault(key, []).append(chunks.read(
                run, span, row, start, stop, checked))
    for key, chain in chains.items():
        pieces.setdefault(key, []).append(series_of_plain(*chain))
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
            column = series.merge(column, series.ordered(rows[key]))
        columns[key] = column
    return columns
