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
instead. Values that are not numbers (strings, arrays, deleted
values...) are written again, in batches of about
:data:`REST_BATCH_BYTES` at most (or of one value); but a batch that holds
a large one (see :data:`.run_packing.LARGE_VALUE_BYTES`) stays in the head
as it was written: the writer remembers only its times and keys, and a
pack from the database lets it go as it reads it (see
:func:`.block_columns.kept_apart`).

What a writer remembers, and where it stands, is a
:class:`~.run_packing.RunPacking`; a block's parts become columns in
:mod:`.block_columns`; this module writes them, and sends a commit that
packs into a transaction (:class:`PackingWrites`).

"""
import operator
import os

from blocks_log.stores import (batches, chunks, clock, run_packing,
                               status_pieces)
from blocks_log.stores.block_columns import (clock_of, kept_apart,
                                             sliced_columns)

#: Values a commit packs at least, besides twice those it writes: a commit
#: of one iteration packs one block (about 2 ms for 10 keys), one of many
#: every block they complete.
PACK_VALUES = 4096
#: Bytes a batch of the rest of a block (its values that are not numbers)
#: takes at most, or one value (see batches.pieces): a read of a time
#: decodes the batches that may hold it, not a block's worth of arrays (a
#: block of 256 iterations of a 1 MiB array each was one batch of 256
#: MiB), and a pack holds one batch at a time (that block's pack took 1
#: GiB of memory at its peak).
REST_BATCH_BYTES = 2 ** 16


class PackingWrites(object):
    """:meth:`.Store.write` of a store whose writer packs its runs'
    blocks in its commits (SQLite's, PostgreSQL's): in one statement where
    the commit packs nothing, deletes nothing and changes no status list
    stored in pieces, else in a transaction that does. The store gives
    ``_running_to_write(run)`` (the :class:`~.run_packing.RunPacking` of a
    run it may write), ``_write_in_one_statement()`` (False if the commit
    takes a transaction after all), ``_write_in_transaction()``,
    ``_in_forked_child()``, ``_pid`` and ``_pieced``."""

    def write(self, run, items, status, deleted_status, deletions=False,
              stamp=True, pieces=None):
        # Once per iteration: one statement in autocommit, as a rule.
        if self._pid != os.getpid():
            self._in_forked_child()  # by C code, which runs no at-fork hook
        running = self._running_to_write(run)
        if deletions:
            running.rows = None  # a time may be left with nothing
        # Blocks that earlier commits moved past (this one's batches are
        # remembered once it lands), or that this one does: packed in its
        # transaction.
        due = running.due()
        pieced = self._pieced[run.ref]
        if not (due or deleted_status or deletions or pieces or (
                status and status_pieces.may_have_pieces(pieced, status)) or
                running.crosses(items)) and self._write_in_one_statement(
                    run, running, items, status, stamp):
            return
        self._write_in_transaction(run, running, items, status,
                                   deleted_status, deletions, stamp, pieces,
                                   due)


def pack_in_commit(connection, ref, packing, dialect, items, due,
                   batches_of):
    """Pack what the write transaction of a commit of `items` (as
    :meth:`RunPacking.batches <.run_packing.RunPacking.batches>` takes
    them) packs, and make its batches: ``(rows, found, saved, packed)``,
    what ``batches_of()`` gives (its rows and their `found`, as
    ``RunPacking.batches`` gives it) made once packing is done, `saved`
    what ``RunPacking.undo`` takes if the transaction does not land
    (``None``: nothing to undo), and `packed` the times packed, into which
    no batch of `rows` must be written. Once it lands,
    ``RunPacking.commit_landed``.

    A commit that moves past blocks of its own (see
    ``RunPacking.packs_whole``) is remembered first, and packs them with
    its values; else the blocks that earlier commits moved past are
    packed, if `due`, before its batches are made (a value that packing
    writes again takes a part below theirs). It packs about
    :data:`PACK_VALUES` values, and two for each of the commit's. Other
    parameters as for :func:`pack`."""
    budget = PACK_VALUES + 2 * (len(items) // 3)
    if packing.crosses(items):
        rows, found = batches_of()
        if packing.packs_whole(found) and only_its_own(
                connection, ref, packing, dialect, packing.packed,
                packing.limit_after(found), [block for block, _, _ in found]):
            saved = packing.remember_first(found)
            try:
                start = pack(connection, ref, packing, dialect, budget,
                             checked=True)
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


def pack(connection, ref, packing, dialect, budget=PACK_VALUES,
         checked=False):
    """Pack the blocks of run `ref` that its writes have moved past, in the
    write transaction of `connection` (its ``execute`` as in the DB-API),
    until about `budget` values are packed; `packing.pending` is then where
    packing stands, and where it stood is returned. The blocks `packing`
    remembers are packed from memory, unless the database holds rows of
    them that its writer did not write (see :func:`only_its_own`; already
    `checked`, by a commit that packs its own values).

    Where packing stands is read from the database, in the transaction.
    `dialect` holds the store's statements (``SELECT_PACKED``,
    ``SELECT_BLOCK_ROWS``, ``SELECT_NEXT_ROW``, ``INSERT_CHUNK``,
    ``INSERT_CLOCK``, ``DELETE_BLOCK_ROWS``, ``COUNT_BLOCK_ROWS``,
    ``SET_PACKED``),
    ``write_rest(connection, ref, rest, packing)`` (writes values of a
    block that are not numbers, ``(times, key ids, stored values)``,
    again) and
    ``entry_of(row)`` (``(time, key, stored)`` of a row of
    ``SELECT_BLOCK_ROWS``).

    """
    span = packing.span
    start, = connection.execute(dialect.SELECT_PACKED, (ref,)).fetchone()
    limit = packing.frontier - packing.frontier % span
    packing.begin(start)
    if start >= limit:
        return start
    if packing.fresh is not None and not checked:
        only_its_own(connection, ref, packing, dialect, start, limit)
    done = 0
    block = start // span
    while block * span < limit and done < budget:
        parts, rows, times, width, kept = None, None, None, None, ()
        remembered = packing.fresh is not None and block >= packing.fresh
        if remembered:
            if block not in packing.memory:  # skip to the next it holds
                later = [held for held in packing.memory if held > block]
                block = min(later) if later else limit // span
                continue
            parts = packing.memory[block]
            if block in packing.large:
                rows = _rows_as_remembered(connection, ref, block, span,
                                           dialect, packing)
                if rows is None:
                    parts, remembered = None, False
            else:
                found, times, width = sliced_columns(parts)
                packing.count(block, parts, found)
        if parts is None:
            parts, rows = _from_database(connection, ref, block, span,
                                         dialect)
            if parts is None:  # nothing up to the next row: skip there
                following, = connection.execute(dialect.SELECT_NEXT_ROW, (
                    ref, (block + 1) * span, limit)).fetchone()
                block = limit // span if following is None else (
                    following // span)
                continue
        if rows is not None:
            found, kept = kept_apart(parts, lambda row: _load(
                connection, ref, row, dialect))
            if remembered:
                packing.count(block, parts, None)
        _write_block(connection, ref, block, span, found, dialect, packing,
                     kept, rows)
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


def _rows_as_remembered(connection, ref, block, span, dialect, packing):
    # The (time, key) of the rows of `block`, which `packing` remembers
    # holding a large value, if they are the rows it remembers; else None,
    # having it pack from the database (see only_its_own()). Counted here,
    # not there: a read of a range of a table WITHOUT ROWID reads the
    # whole of each row (each comparison with its end does), a count too,
    # and once costs 27 ms a block of 256 arrays of 256 KiB.
    rows = connection.execute(dialect.SELECT_BLOCK_KEYS, (
        ref, block * span, block * span + span)).fetchall()
    if len(rows) != len(packing.memory[block]):
        packing.forked()
        return None
    return rows


def _load(connection, ref, row, dialect):
    # (times, key ids, stored values) of the head row `row` (a Kept).
    found, = connection.execute(dialect.SELECT_HEAD_ROW, (
        ref, row.time, row.column)).fetchall()
    time, key, stored = dialect.entry_of(found)
    if key >= 0:
        return [time], [key], [stored]
    return batches.decode(time, stored)


def only_its_own(connection, ref, packing, dialect, start, stop,
                 blocks=()):
    """Whether the blocks of times ``[start, stop)`` (those a pack is about
    to pack) that `packing` (a :class:`~.run_packing.RunPacking`)
    remembers, and those of `blocks` (a commit's), hold the rows its
    writer wrote and no other (a row a commit, each a part it remembers).
    If not, it forgets them (see :meth:`~.run_packing.RunPacking.forked`)
    and packs from the database from now on: a process forked by C code,
    which runs no at-fork hook, wrote into the run as well, and packed
    from memory, the other's values would be deleted with the block's
    rows. A count of the rows of each block remembered (a block or two),
    where a pack reads them all; but of a block holding a large value,
    counted as it is packed (see :func:`_rows_as_remembered`), which a commit
    never packs with its own values (see
    :meth:`~.run_packing.RunPacking.packs_whole`)."""
    span, memory = packing.span, packing.memory
    for block in set(memory).union(blocks):
        if start <= block * span and block * span + span <= stop and (
                block not in packing.large):
            count, = connection.execute(dialect.COUNT_BLOCK_ROWS, (
                ref, block * span, block * span + span)).fetchone()
            if count != len(memory.get(block, ())):
                packing.forked()
                return False
    return True


def _delete_rows_but(connection, ref, stop, rows, kept, dialect):
    # `rows` ((time, key) each, of run `ref`, at times below `stop`)
    # deleted, but those `kept`: each run of rows between two kept times
    # by a range of times, the others at a kept time one by one (a
    # statement for each would cost a round trip each to PostgreSQL: a
    # block of 256 iterations, an array logged at every tenth).
    kept = set(kept)
    at_kept = set(time for time, _ in kept)
    rows = sorted(rows)
    ranges, low, high = [], None, None
    for row in rows + [(stop, None)]:
        time = row[0]
        if time not in at_kept and time < stop:
            if low is None:
                low = time
            high = time
            continue
        if low is not None:
            ranges.append((ref, low, high + 1))
            low = None
        if time < stop and tuple(row) not in kept:
            connection.execute(dialect.DELETE_ROW, (ref, time, row[1]))
    for parameters in ranges:
        connection.execute(dialect.DELETE_BLOCK_ROWS, parameters)


def _from_database(connection, ref, block, span, dialect):
    # (parts, rows): the parts of a block as the database holds them (as
    # RunPacking remembers them: a row that holds a large value kept) and
    # the (time, key) of its rows; None, None if it holds no row there, or
    # a batch that cannot be read. Rows of a value each (a file of
    # blocks_log 0.2) first, then batches, oldest first. Read a row at a
    # time: large values are let go as they are read.
    parts, batched, rows = [], [], []
    for row in connection.execute(dialect.SELECT_BLOCK_ROWS, (
            ref, block * span, block * span + span)):
        time, key, stored = dialect.entry_of(row)
        rows.append((time, key))
        if key >= 0:
            part = [time], [key], [stored], None, False, False
        else:
            try:
                part = batches.decode(time, stored) + (
                    batches.wall_of(stored), False, False)
            except batches.BatchError:
                # Left as it is (it reads as damaged), never dropped.
                return None, None
        if type(stored) in (str, bytes) and (
                len(stored) >= run_packing.LARGE_VALUE_BYTES):
            part = run_packing.kept_if_large(part, (time, key))
        if key >= 0:
            parts.append(part)
        else:
            batched.append((batches.part_of(key), part))
    if not rows:
        return None, None
    batched.sort(key=_FIRST)
    return parts + [part for _, part in batched], rows


_FIRST = operator.itemgetter(0)


def _write_block(connection, ref, block, span, found, dialect, packing,
                 kept=(), rows=None):
    # Chunks of the numbers, the rest written again, the block's rows
    # gone, but those `kept` ((time, key column) each) of its `rows`.
    numbers, rest, kind = found
    if kept:
        _delete_rows_but(connection, ref, block * span + span, rows, kept,
                         dialect)
    else:
        connection.execute(dialect.DELETE_BLOCK_ROWS, (
            ref, block * span, block * span + span))
    # The keys of a loop's block share one list of times (see
    # block_columns.columns()): how it is stored is found once (4 us of a
    # key's 9, 256 times).
    shared = None
    for key, (times, values) in numbers.items():
        if shared is None or shared[0] is not times:
            shared = times, chunks.stored_times(times)
        connection.execute(dialect.INSERT_CHUNK, chunks.pack(
            ref, key, span, times, values, kind, shared[1]))
    if rest:
        # Cut before a value that would take a batch past its bound: a
        # value near the store's limit must not join others (the pack
        # would fail at each commit).
        for piece in batches.pieces(*map(list, zip(*rest)), size=min(
                REST_BATCH_BYTES, packing.batch_bytes)):
            dialect.write_rest(connection, ref, piece, packing)
