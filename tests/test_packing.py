"""Every run packs its numbers into chunks, however it was opened, and as
fast as it writes them (issue 19): on SQLite and PostgreSQL."""
import array
import pickle

import pytest
from hypothesis import example, given, settings
from hypothesis import strategies as st

from blocks_log.stores import chunks, merging, run_packing

from conftest import backend_factories, use_backend
from helpers import refuse_inserts

SPAN = 4
BACKENDS = ['sqlite-file', 'postgresql']


@pytest.fixture(params=BACKENDS)
def factory(request, tmp_path, monkeypatch):
    dsn = use_backend(request.param, monkeypatch, request)
    monkeypatch.setattr(chunks, 'SPAN', SPAN)
    made = []

    def make(**kwargs):
        log = backend_factories(tmp_path, dsn)[request.param](**kwargs)
        made.append(log)
        return log
    make.backend = request.param
    yield make
    for log in made:
        log.close()


def select(log, statement, *parameters):
    """The rows of `statement` (``?`` its parameters, ``{value}`` the
    head's column of stored values) in `log`'s database."""
    if hasattr(log, 'database'):
        import sqlite3
        connection = sqlite3.connect(log.database)
        try:
            return connection.execute(statement.format(value='value'),
                                      parameters).fetchall()
        finally:
            connection.close()
    import psycopg
    with psycopg.connect(log.dsn) as connection:
        return connection.execute(statement.format(value='b').replace(
            '?', '%s'), parameters).fetchall()


HEAD = ('SELECT e.time, e.key, e.{value} FROM blocks_log_entries e JOIN '
        'blocks_log_runs r ON r.id = e.run WHERE r.uuid = ? AND '
        'e.time < 9223372036854775807')


def counts(log):
    """``(numbers in chunks, values in the head)`` of `log`'s own run, as
    the database holds them (the status left out)."""
    from blocks_log.stores import batches
    (chunked,), = select(
        log, 'SELECT coalesce(sum(c.count), 0) FROM blocks_log_chunks c '
        'JOIN blocks_log_runs r ON r.id = c.run WHERE r.uuid = ?',
        log.h_uuid)
    return chunked, len(batches.head(select(log, HEAD, log.h_uuid)))


def train(log, iterations):
    for _ in range(iterations):
        log.status['iterations_done'] += 1
        log.current_row['loss'] = 1.0 / log.status['iterations_done']
        log.current_row['step'] = log.status['iterations_done']


def test_a_new_run_packs(factory):
    log = factory()
    train(log, 6 * SPAN)
    log.flush()
    packed, rows = counts(log)
    assert packed >= 2 * 4 * SPAN and rows <= 2 * 2 * SPAN


@pytest.mark.parametrize('how', ['resume', 'pickle', 'reopen'])
def test_every_run_packs_however_it_was_opened(factory, how):
    log = factory()
    train(log, 3 * SPAN)
    if how == 'resume':
        log.resume()
    elif how == 'pickle':
        # The checkpoint keeps the run; the live log goes on in a child.
        checkpoint = pickle.dumps(log)
        assert pickle.loads(checkpoint).uuid != log.uuid
    else:
        uuid = log.uuid
        log.close()
        log = factory(uuid=uuid)
    first = log.status['iterations_done']
    train(log, 6 * SPAN)
    log.flush()
    packed, rows = counts(log)
    # The numbers written there, but the last blocks', are packed.
    assert rows <= 2 * 2 * SPAN
    assert packed + rows >= 2 * (log.status['iterations_done'] - first) - 2


def test_a_commit_of_many_blocks_packs_them_all(factory):
    # commit_every far above a block: each commit packs every complete
    # block the commits before it wrote, not one.
    log = factory(commit_every=25 * SPAN)
    for _ in range(8):
        train(log, 25 * SPAN)
        packed, rows = counts(log)
        assert rows <= 2 * (25 + 1) * SPAN, 'packing falls behind'
    assert packed >= 2 * 6 * 25 * SPAN
    history = log.history('step')
    assert [time for time, _ in history] == list(range(1, 200 * SPAN + 1))


def test_a_commit_writes_the_blocks_it_completes_as_chunks_alone(factory):
    # A commit of many blocks packs those it completes in its own
    # transaction, from memory: only the block it ends in is left in the
    # head, never the rest as batches for the next commit to delete.
    iterations = 25 * SPAN + 1
    log = factory(commit_every=iterations)
    store, run = log._session.store, log._session.run
    for round in range(1, 5):
        train(log, iterations)
        packed, rows = counts(log)
        assert rows <= 2 * SPAN
        # Committed as the last iteration began: the ones before it.
        done = round * iterations - 1
        assert packed + rows == 2 * done
        # Each pack landed: the writer still counts the run itself.
        assert store.counted(run) == (done, ['loss', 'step'], done)
    log.flush()
    history = log.history('step')
    assert history == [(time, time) for time in range(1, 4 * iterations + 1)]


def test_a_commit_into_a_block_written_before_the_run_was_opened(factory):
    # The block this writer found unpacked is packed from the database,
    # not from memory: a commit that writes into it as well as past it
    # writes its batch there first.
    log = factory(commit_every=10 ** 6)
    train(log, 2 * SPAN - 1)  # the second block whole, left unpacked
    uuid = log.uuid
    log.close()
    log = factory(uuid=uuid, commit_every=10 ** 6)
    train(log, SPAN)
    log[SPAN + 1]['late'] = 0.5
    train(log, 2 * SPAN)
    log.flush()
    assert log.history('late') == [(SPAN + 1, 0.5)]
    assert log.history('step') == [(time, time)
                                   for time in range(1, 5 * SPAN)]


def test_a_late_write_into_a_block_packed_in_its_commit_wins(factory):
    # Packing writes a block's strings again, as one batch; a commit that
    # packs the block and writes into it too (at an earlier time, and over
    # a string) writes its batch in a later part, which wins.
    log = factory(commit_every=10 ** 6)
    log.status['iterations_done'] = 2
    log.current_row['note'] = 'old'
    log.current_row['step'] = 2
    log.flush()
    log.status['iterations_done'] = SPAN + 1  # past the block
    log.current_row['step'] = 1
    log.flush()
    log[1]['step'] = 0.5
    log[2]['note'] = 'new'
    log.flush()
    assert log.history('note') == [(2, 'new')]
    assert counts(log)[0] >= 1  # the block is packed
    source = getattr(log, 'database', None) or log.dsn
    with type(log)(source, uuid=log.uuid, read_only=True) as reader:
        assert reader.history('note') == [(2, 'new')]
        assert reader.history('step') == [(1, 0.5), (2, 2), (SPAN + 1, 1)]


def head_batches(log):
    """``[(first time, times)]`` of the batches in the head of `log`'s own
    run (the status left out), as the database holds them."""
    from blocks_log.stores import batches
    rows = select(log, HEAD + ' AND e.key < 0 ORDER BY e.time', log.h_uuid)
    return [(time, sorted(set(entry[0] for entry in batches.head([
        (time, key, blob)])))) for time, key, blob in rows]


@pytest.mark.parametrize('size', [10, 30 * 1024, 40 * 1024])
def test_a_block_s_values_that_are_not_numbers_are_packed_a_few_times_a_batch(
        factory, size, monkeypatch):
    # Written again in a pack: in one batch if small (strings, flags), in
    # batches of a few times each if large, at most REST_BATCH_BYTES or
    # one value, so that a read of a time decodes those alone, and a pack
    # holds one at a time. (Values this large stay in the batches they
    # were written in, see the test below, unless told they are not.)
    monkeypatch.setattr(run_packing, 'LARGE_VALUE_BYTES', 2 ** 20)
    log = factory()
    logged = {}
    for time in range(1, 2 * SPAN + 1):
        log.status['iterations_done'] = time
        log.current_row['step'] = float(time)
        log.current_row['note'] = str(time) * size
        logged[time] = {'step': float(time), 'note': str(time) * size}
    log.flush()
    packed = [(first, times) for first, times in head_batches(log)
              if times[-1] < SPAN]
    # The block of times 0 to SPAN - 1 packed (time 0 holds nothing).
    assert [times for _, times in packed] == {
        10: [[1, 2, 3]], 30 * 1024: [[1, 2], [3]],
        40 * 1024: [[1], [2], [3]]}[size]
    assert all(first == times[0] for first, times in packed)
    source = getattr(log, 'database', None) or log.dsn
    with type(log)(source, uuid=log.uuid, read_only=True) as reader:
        for each in (log, reader):
            assert dict((time, dict(each[time])) for time in each) == logged
            assert each.history('note') == [
                (time, row['note']) for time, row in sorted(logged.items())]


@pytest.mark.parametrize('commit_every', [1, 3])
def test_a_batch_that_holds_a_large_value_stays_as_it_was_written(
        factory, commit_every):
    # A pack leaves the batches that hold a large value as they are (their
    # numbers too), and packs the rest of the block: large values are
    # neither written twice nor held by the writer. In the second block, a
    # large value written over by a later commit: its batch is read back,
    # and packed with the rest (left, it would win over the later value).
    large = 'x' * run_packing.LARGE_VALUE_BYTES
    log = factory(commit_every=commit_every)
    logged, written = {}, {}
    for time in range(1, 3 * SPAN + 1):
        if time % SPAN == 0:  # the block before, committed, not packed
            log.flush()
            written[time // SPAN - 1] = set(block_rows(log, time // SPAN - 1))
        log.status['iterations_done'] = time
        logged[time] = {'step': float(time), 'note': 'small'}
        if time in (1, 3, SPAN + 1, SPAN + 2):
            logged[time]['array'] = large + str(time)
        for key, value in logged[time].items():
            log.current_row[key] = value
        if time == SPAN + 2:
            log[SPAN + 1]['array'] = logged[SPAN + 1]['array'] = 'small'
    log.flush()
    first, second = set(block_rows(log, 0)), set(block_rows(log, 1))
    stays = set(row for row in written[0] if large in str(row[2]))
    assert stays and first & written[0] == stays
    assert all(large not in str(row[2]) for row in first - stays)
    # The large value written over, read back, gone; the other, once.
    over, kept = ((large + str(time)).encode() for time in (SPAN + 1,
                                                            SPAN + 2))
    assert not any(over in row[2] for row in second)
    assert len([row for row in second if kept in row[2]]) == 1
    if commit_every == 1:  # in a batch of its own, which stays
        assert set(row for row in written[1] if kept in row[2]) < second
    source = getattr(log, 'database', None) or log.dsn
    with type(log)(source, uuid=log.uuid, read_only=True) as reader:
        for each in (log, reader):
            assert dict((time, dict(each[time])) for time in each) == logged
            assert each.history('array') == [
                (time, row['array']) for time, row in sorted(logged.items())
                if 'array' in row]


@pytest.mark.parametrize('large_at', ['a commit before', 'the commit'])
def test_a_commit_of_several_blocks_beside_a_large_value(factory, large_at):
    # A commit of values of several blocks packs those it completes with
    # its own values, never writing their batches; not where a block holds
    # a large value, whose batch must be written to stay: one remembered
    # from a commit before, or one of its own.
    large = 'x' * run_packing.LARGE_VALUE_BYTES
    log = factory(commit_every=100)
    logged = {1: {'step': 1.0}, 2: {'step': 2.0}, SPAN: {'step': 4.0},
              2 * SPAN: {'step': 8.0}}
    logged[0 if large_at == 'a commit before' else 3] = {'note': large}
    log[0]['note'] = large if 0 in logged else 0.5
    log[1]['step'] = 1.0
    log.flush()
    if 0 not in logged:
        del log[0]['note']
    for time in (2, 3, SPAN, 2 * SPAN):
        log[time].update(logged.get(time, {}))
    log.flush()
    log[3 * SPAN]['step'] = 12.0
    logged[3 * SPAN] = {'step': 12.0}
    log.close()
    assert counts(log)[0] >= 2  # packed
    source = getattr(log, 'database', None) or log.dsn
    with type(log)(source, uuid=log.uuid, read_only=True) as reader:
        assert dict((time, dict(reader[time])) for time in reader) == logged


def test_a_loop_that_logs_an_array_late_in_each_block(factory):
    # An iteration's commit of the same keys as the one before, in one
    # statement, remembered as kept when it holds a large value (here, in
    # blocks whose first commits held none): its batch stays, the batches
    # of the iterations before it are packed.
    log = factory()
    logged, written = {}, {}
    for time in range(1, 4 * SPAN + 2):
        log.status['iterations_done'] = time
        if time % SPAN == 1 and time > 1:  # committed, not packed yet
            written[time // SPAN - 1] = set(block_rows(log, time // SPAN - 1))
        logged[time] = {'step': float(time)}
        if time % SPAN >= 2:
            logged[time]['array'] = bytes([time]) * (
                run_packing.LARGE_VALUE_BYTES)
        log.current_row.update(logged[time])
    log.flush()
    for block in (0, 1, 2):
        stays = set(row for row in written[block] if row[0] % SPAN >= 2)
        assert len(stays) == 2 and set(block_rows(log, block)) == stays
    source = getattr(log, 'database', None) or log.dsn
    with type(log)(source, uuid=log.uuid, read_only=True) as reader:
        assert dict((time, dict(reader[time])) for time in reader) == logged


def test_once_a_large_value_is_packed_commits_pack_whole_blocks_again(
        factory):
    # A commit of many blocks packs those it completes with its own values
    # again once the block holding a large value is packed: only the block
    # it ends in is left in the head as a batch.
    log = factory(commit_every=1000)
    log[1]['note'] = 'x' * run_packing.LARGE_VALUE_BYTES
    log.flush()
    for time in (SPAN, SPAN + 1):  # past block 0, then packing it
        log[time]['step'] = float(time)
        log.flush()
    assert block_rows(log, 0)  # the large value's batch, left
    for time in range(2 * SPAN, 8 * SPAN + 1):
        log[time]['step'] = float(time)
    log.flush()
    assert [len(block_rows(log, block)) for block in range(2, 9)] == [
        0] * 6 + [1]
    assert log.history('step')[-1] == (8 * SPAN, 8.0 * SPAN)


def test_a_block_packed_from_the_database_leaves_its_large_values(factory):
    # A block its writer does not remember (written before the run was
    # opened again) is read a row at a time, its large values let go:
    # their batches stay as they were written, the rest is packed.
    large = 'x' * run_packing.LARGE_VALUE_BYTES
    log = factory()
    logged = {}
    for time in range(1, SPAN):
        log.status['iterations_done'] = time
        logged[time] = {'step': float(time)}
        if time != 2:
            logged[time]['array'] = large + str(time)
        log.current_row.update(logged[time])
    uuid = log.uuid
    log.close()
    written = set(block_rows(log, 0))
    log = factory(uuid=uuid)
    for time in range(SPAN, 3 * SPAN):
        log.status['iterations_done'] = time
        log.current_row['step'] = float(time)
        logged[time] = {'step': float(time)}
    log.flush()
    stays = set(row for row in written if large in str(row[2]))
    assert len(stays) == 2 and set(block_rows(log, 0)) == stays
    source = getattr(log, 'database', None) or log.dsn
    with type(log)(source, uuid=uuid, read_only=True) as reader:
        assert dict((time, dict(reader[time])) for time in reader) == logged


def test_a_batch_beside_one_that_stays_at_its_time_goes(factory):
    # Rows that begin at the time of a batch that stays are deleted one by
    # one, the others by ranges of times: a row left would win over the
    # chunk of a later value (here, 1.0 over 2.0).
    log = factory(commit_every=100)
    log[1]['a'] = 1.0
    log.flush()
    log[1]['big'] = large = 'x' * run_packing.LARGE_VALUE_BYTES
    log.flush()
    log[0]['x'], log[1]['a'] = 0.5, 2.0  # one batch, from time 0
    log.flush()
    log[2 * SPAN]['a'] = 3.0
    log.close()
    assert len(block_rows(log, 0)) == 1  # the large value's, alone
    source = getattr(log, 'database', None) or log.dsn
    with type(log)(source, uuid=log.uuid, read_only=True) as reader:
        assert dict((time, dict(reader[time])) for time in reader) == {
            0: {'x': 0.5}, 1: {'a': 2.0, 'big': large},
            2 * SPAN: {'a': 3.0}}


def block_rows(log, block):
    """The batches in the head of `log`'s own run in `block`, ``(time,
    key, BLOB)`` each, as the database holds them."""
    return [(time, key, bytes(blob)) for time, key, blob in select(
        log, HEAD + ' AND e.key < 0 AND e.time >= ? AND e.time < ?',
        log.h_uuid, block * SPAN, block * SPAN + SPAN)]


def test_a_read_of_a_few_times_late_in_a_block_reads_their_batches(
        factory, monkeypatch):
    # Of the batches that begin before the times read, in their block,
    # only those of several times may hold one: a window of a few arrays
    # late in a block read every array of the block before it (an export
    # or a copy of a run of arrays, a window at a time, read each block's
    # again and again).
    from blocks_log.stores import batches
    span = 64
    monkeypatch.setattr(chunks, 'SPAN', span)
    log = factory()
    for time in range(1, span):
        log.status['iterations_done'] = time
        log.current_row['note'] = str(time)
    log[1]['note'], log[span - 5]['note'] = 'again', 'late'  # one batch
    log.flush()
    source = getattr(log, 'database', None) or log.dsn
    head, rows = batches.head, []

    def counted(read, *arguments, **options):
        rows.append(len(read))
        return head(read, *arguments, **options)
    monkeypatch.setattr(batches, 'head', counted)
    with type(log)(source, uuid=log.uuid, read_only=True) as reader:
        times, values = reader.series(['note'], span - 10, span)['note']
    assert list(times) == list(range(span - 10, span))
    assert list(values) == [str(time) if time != span - 5 else 'late'
                            for time in times]
    # A batch each of 9 iterations, and the last commit's (of times 1,
    # span - 5 and span - 1), not every batch from the block's first time.
    assert rows == [9 + 1]


@pytest.mark.parametrize('table', ['blocks_log_chunks',
                                   'blocks_log_entries'])
def test_a_commit_that_packs_and_fails_leaves_its_writer_as_it_was(factory,
                                                                   table):
    # The blocks a commit completes are remembered, and packed, before its
    # batches are written: if its transaction rolls back (as it packs, or
    # after), the writer forgets them again (what it counted of the run is
    # what a release records), and the commit made again writes them all.
    from blocks_log.errors import LogWriteError
    log = factory(commit_every=10 ** 6)
    store, run = log._session.store, log._session.run
    train(log, 3 * SPAN)
    log.flush()
    before = store.summarize(run)
    assert before['rows'] == 3 * SPAN
    train(log, 3 * SPAN)
    refuse_inserts(log, table, True)
    try:
        with pytest.raises(LogWriteError, match='not today'):
            log.flush()
        assert store.summarize(run) == before
    finally:
        refuse_inserts(log, table, False)
    train(log, 3 * SPAN)
    log.flush()
    assert store.summarize(run)['rows'] == 9 * SPAN
    assert log.history('step') == [(time, time)
                                   for time in range(1, 9 * SPAN + 1)]
    packed, rows = counts(log)
    assert packed + rows == 2 * 9 * SPAN and rows <= 2 * SPAN


@pytest.mark.parametrize('backend', ['postgresql'])
@pytest.mark.parametrize('table', ['blocks_log_chunks',
                                   'blocks_log_entries'])
def test_a_commit_that_packs_goes_again_whole_when_its_connection_drops(
        backend, table, tmp_path, monkeypatch, request):
    # The connection dropped as the commit packs, or after, as it writes
    # its batch (its server process ends itself, once): the commit is made
    # again on a new connection, and remembered once, as if it had gone
    # through the first time.
    dsn = use_backend(backend, monkeypatch, request)
    import psycopg
    monkeypatch.setattr(chunks, 'SPAN', SPAN)
    log = backend_factories(tmp_path, dsn)[backend](commit_every=10 ** 6)
    try:
        train(log, 3 * SPAN)
        log.flush()
        with psycopg.connect(log.dsn, autocommit=True) as connection:
            connection.execute(
                "CREATE SEQUENCE drops; CREATE FUNCTION drop_once() RETURNS "
                "trigger AS $$ BEGIN IF nextval('drops') = 1 THEN PERFORM "
                "pg_terminate_backend(pg_backend_pid()); PERFORM "
                "pg_sleep(10); END IF; RETURN NEW; END $$ LANGUAGE plpgsql; "
                "CREATE TRIGGER drop_once BEFORE INSERT ON {} FOR EACH ROW "
                "EXECUTE FUNCTION drop_once()".format(table))
        train(log, 3 * SPAN)
        log.flush()
        with psycopg.connect(log.dsn) as connection:
            # Dropped at the first row; those of the commit made again.
            assert connection.execute(
                "SELECT last_value FROM drops").fetchone()[0] > 1
        running = log._session.store._packing[log._session.run.ref]
        assert [len(parts) for parts in running.memory.values()] == [1]
        assert log.history('step') == [(time, time)
                                       for time in range(1, 6 * SPAN + 1)]
    finally:
        log.close()


def test_a_file_of_rows_per_value_reads_right_and_packs_on(tmp_path):
    # A file of schema version 4 (a row per value), left by a killed
    # writer with its last blocks unpacked: it reads right as it is; a
    # writer that goes on packs those blocks from the database, and its
    # own from memory, into chunks; it reads right after.
    import os
    import shutil
    import blocks_log
    from conftest import FIXTURES
    from helpers import head_values
    from test_damage import same, schema_3_values
    path = str(tmp_path / 'schema_4.sqlite')
    shutil.copy(os.path.join(FIXTURES, '..', 'blocks_log_schema_4.sqlite'),
                path)

    def expected(time):
        values = schema_3_values(time)
        if time == 19:
            values['note'] = 'written again at 20'
        return values

    def check(log, last):
        for time in range(0, last + 1):
            row = dict(log[time])
            assert set(row) == set(expected(time)), time
            assert all(same(row[key], value)
                       for key, value in expected(time).items()), time
        assert [time for time, _ in log.history('mixed')] == list(
            range(1, last + 1))
    uuid, = [run.uuid for run in blocks_log.list_runs(path)]
    with blocks_log.SQLiteLog(path, uuid=uuid, read_only=True) as log:
        check(log, 40)
    with blocks_log.SQLiteLog(path, uuid=uuid) as log:
        before = counts(log)
        assert before[1] > 40  # rows of values, unpacked
        for time in range(41, 81):
            log.status['iterations_done'] += 1
            for key, value in expected(time).items():
                log[time][key] = value
        check(log, 80)
    with blocks_log.SQLiteLog(path, uuid=uuid, read_only=True) as log:
        check(log, 80)
        assert counts(log)[0] > before[0]
    # Every number below the last two blocks (of 8 times), packed: what
    # the killed writer left as well.
    assert [(time, stored) for _, time, _, stored in head_values(path)
            if not isinstance(stored, str) and time < 64] == []


@pytest.mark.parametrize('commit_every', [1, 3, 7])
def test_a_block_of_keys_at_times_of_their_own_packs_right(factory,
                                                           commit_every):
    # Each commit holds the same keys in the same order, but not at the
    # same times: packed from memory, every value keeps its own time.
    log = factory(commit_every=commit_every)
    expected = {}
    for step in range(1, 6 * SPAN):
        for key, time in (('a', 2 * step), ('b', 2 * step),
                          ('c', 2 * step + 1)):
            log[time][key] = float(time)
            expected.setdefault(key, []).append((time, float(time)))
        log.status['iterations_done'] = 2 * step + 1
    log.flush()
    assert counts(log)[0] > 0  # packed
    for key, history in expected.items():
        assert log.history(key) == history, key


def test_columns_slice_only_what_shares_its_times():
    # The keys of the first time repeat, but not at the same times: no
    # slicing, every value at its own time.
    from blocks_log.stores import block_columns
    numbers, rest, _ = block_columns.columns([(
        (1, 1, 2, 3), (5, 6, 5, 6), (1.0, 1.0, 2.0, 3.0), None, False, True)])
    assert numbers == {5: ([1, 2], [1.0, 2.0]), 6: ([1, 3], [1.0, 3.0])}
    numbers, rest, _ = block_columns.columns([
        ((1, 1), (5, 6), (1.0, 'x'), None, False, False),
        ((2, 2), (5, 6), (2.0, 2), None, False, False)])
    assert numbers == {5: ([1, 2], [1.0, 2.0]), 6: ([2], [2])}
    assert rest == [(1, 6, 'x')]


_STORED = st.one_of(st.floats(allow_nan=False), st.integers(-3, 3),
                    st.just(chunks.NAN), st.text(max_size=2))


_KEYS = st.lists(st.integers(1, 4), min_size=1, max_size=3)


@settings(max_examples=400, deadline=None)
@given(st.lists(_KEYS, min_size=1, max_size=2),
       st.lists(st.tuples(st.integers(-2, 3), st.integers(0, 1),
                          st.booleans(), st.booleans()), max_size=12),
       st.data())
@example([[1, 2]], [(1, 0, False, True), (1, 0, False, True)], None)
@example([[1, 1]], [(1, 0, False, True), (1, 0, False, True)], None)
@example([[1, 2]], [(2, 0, False, True), (-1, 0, False, True)], None)
@example([[1, 2], [2, 1]], [(1, 0, False, True), (1, 1, False, True)],
         None)
@example([[1, 2]], [(1, 0, False, True), (0, 0, False, True)], None)
def test_columns_are_what_the_latest_values_split_into(kinds, commits, data):
    # Commits of a block as a writer remembers them: an iteration (of one
    # of the kinds of keys; floats only, or any stored values; stamped or
    # not, and told an iteration of floats when it is one, as
    # RunPacking.iteration tells), or keys at times of their own (a step
    # of 0); told floats, or not, when they are (as RunPacking.batches
    # tells). Sliced or not, the columns and the clock are what looking at
    # every part gives.
    from blocks_log.stores import block_columns, clock
    parts, time = [], 10
    for step, kind, anything, stamped in commits:
        keys = tuple(kinds[kind % len(kinds)])
        time += step
        values = st.lists(_STORED if anything else st.floats(
            allow_nan=False), min_size=len(keys), max_size=len(keys))
        drawn = tuple(data.draw(values)) if data else tuple(
            len(parts) + index / 4 for index in range(len(keys)))
        times = (time,) * len(keys) if step else tuple(
            data.draw(st.integers(0, 13)) if data else time + 1 + index
            for index in range(len(keys)))
        wall = 1e9 + len(parts) if stamped else None
        iteration = bool(step and stamped and all(
            type(value) is float for value in drawn))
        floats = all(type(value) is float for value in drawn) and (
            iteration or not data or data.draw(st.booleans()))
        parts.append((times, keys, drawn, wall, iteration, floats))
    looked_at = [part[:4] + (False, False) for part in parts]
    numbers, rest, kind = block_columns.columns(parts)
    latest = block_columns.latest(parts)
    assert (numbers, rest) == block_columns.split(latest)[:2]
    assert block_columns.columns(looked_at)[:2] == (numbers, rest)
    first_walls = {}  # each time's wall: that of the first part holding it
    for times, _, _, wall, _, _ in parts:
        for time in times if wall is not None else ():
            first_walls.setdefault(time, wall)
    clocked = sorted(first_walls)
    assert clock.of_parts(parts) == (clocked, [
        first_walls[time] for time in clocked]) == clock.of_parts(looked_at)
    found, times, width = block_columns.sliced_columns(parts)
    assert found == (numbers, rest, kind)
    if times is not None and all(part[5] for part in parts):
        assert kind == 'f'  # sliced, and told floats
    assert block_columns.clock_of(parts, times, width) == clock.of_parts(parts)
    floats = [type(value) is float for part in parts for value in part[2]]
    if kind == 'f':
        assert all(floats)
    if parts and all(part[4] for part in parts) and len(set(
            part[1] for part in parts)) == 1 and all(
                step > 0 for step, _, _, _ in commits[1:]):
        assert kind == 'f'  # a training loop's iterations of floats
    if kind == 'f':
        for key, (times, values) in numbers.items():
            assert chunks.pack(1, key, 256, times, values, 'f') == (
                chunks.pack(1, key, 256, times, values))


@settings(max_examples=400, deadline=None)
@given(st.lists(st.tuples(
    st.lists(st.tuples(st.integers(0, 3), st.integers(1, 3), _STORED),
             min_size=1, max_size=4), st.booleans()), max_size=8))
@example([([(1, 1, 'big')], True), ([(1, 1, 0.5)], False)])  # written again
@example([([(1, 1, 'x')], False), ([(1, 1, 'big')], True)])  # over a text
@example([([(1, 1, 'big')], True), ([(1, 1, 'bigger')], True)])
def test_a_block_with_parts_kept_packs_what_they_leave(commits):
    # Parts kept (a batch holding a large value, which stays in the head
    # as it was written: a Kept of its row in place of its values) and
    # parts remembered: what the pack writes (their columns) and the kept
    # batches that stay (which win over it, as the head wins over chunks)
    # hold what the latest values are, each (time, key) once. A kept part
    # that a later part wrote a (time, key) of again is loaded, and packed
    # with the rest (its batch would win over the later value). The times
    # and keys counted are those of the latest values.
    from blocks_log.stores import block_columns
    from blocks_log.stores.block_columns import Kept
    parts, remembered, batches_held = [], [], {}
    for index, (entries, kept) in enumerate(commits):
        times, keys, values = (tuple(column) for column in zip(*entries))
        parts.append((times, keys, values, None, False, False))
        row = Kept(min(times), -index)
        batches_held[row] = times, keys, values
        remembered.append((times, keys, row if kept else values, None, False,
                           False))
    latest = block_columns.latest(parts)
    loaded = []

    def load(row):
        loaded.append(row)
        return batches_held[row]
    found, rows = block_columns.kept_apart(remembered, load)
    kept = [part[2] for part in remembered if type(part[2]) is Kept]
    overwritten = [
        part[2] for index, part in enumerate(remembered)
        if type(part[2]) is Kept and any(
            pair in zip(later[0], later[1])
            for later in remembered[index + 1:]
            for pair in zip(part[0], part[1]))]
    assert loaded == overwritten
    assert rows == [(row.time, row.column) for row in kept
                    if row not in overwritten]
    numbers, rest, _ = found
    packed = dict(((time, key), value) for key, (times, values) in
                  numbers.items() for time, value in zip(times, values))
    packed.update(((time, key), value) for time, key, value in rest)
    stays = {}
    for row in kept:
        if row not in overwritten:
            times, keys, values = batches_held[row]
            stays.update(zip(zip(times, keys), values))
    assert not set(packed) & set(stays)
    packed.update(stays)
    assert packed == latest
    counted = set()
    assert block_columns.tally(remembered, counted) == len(
        set(time for time, _ in latest))
    assert counted == set(key for _, key in latest)


def test_a_block_of_commits_told_floats_is_not_looked_at_again(
        monkeypatch):
    # Commits of several iterations each, told floats as their batches'
    # encoding found them: packed as floats without a look at the type
    # of each value (which took 3% of a loop committing every 100).
    from blocks_log.stores import block_columns

    class Unasked(object):
        def issuperset(self, types):
            raise AssertionError('the types of the values were looked at')
    times = [time for time in range(8) for _ in range(2)]
    parts = [(times[:6], [1, 2] * 3, [0.5] * 6, None, False, True),
             (times[6:], [1, 2] * 5, [1.5] * 10, None, False, True)]
    monkeypatch.setattr(block_columns, '_FLOAT_TYPE', Unasked())
    numbers, rest, kind = block_columns.columns(parts)
    assert kind == 'f' and rest == [] and numbers == {
        1: (list(range(8)), [0.5] * 3 + [1.5] * 5),
        2: (list(range(8)), [0.5] * 3 + [1.5] * 5)}


@settings(max_examples=300, deadline=None)
@given(st.integers(1, 4), st.lists(st.integers(1, 3), min_size=1,
                                   max_size=12),
       st.lists(st.tuples(st.integers(1, 9), st.booleans()), min_size=1))
@example(3, [1, 1, 1], [(4, True), (5, True)])  # cut mid-iteration
@example(2, [1, 1, 1], [(1, True), (1, False), (4, True)])
def test_the_clock_of_a_loop_block_is_the_first_commit_of_each_time(
        width, steps, cuts):
    # A training loop's block: iterations of the same keys, committed in
    # parts of several iterations (commit_every), of one (told so, as
    # RunPacking.iteration tells), or cut anywhere (a buffer committed
    # when full), stamped or not; the last part holds the rest. Each
    # time's wall is that of the first part holding it, found by slicing
    # as by looking at every part.
    from blocks_log.stores import block_columns, clock
    times, time = [], 10
    for step in steps:
        time += step
        times += [time] * width
    keys = list(range(1, width + 1)) * len(steps)
    values = [float(index) for index in range(len(times))]
    parts, start = [], 0
    for number, (size, stamped) in enumerate(cuts):
        stop = len(times) if number == len(cuts) - 1 else (
            min(start + size, len(times)))
        if stop > start:
            piece = slice(start, stop)
            one = stop - start == width and times[start] == times[stop - 1]
            parts.append((tuple(times[piece]), tuple(keys[piece]),
                          tuple(values[piece]),
                          1e9 + len(parts) if stamped else None,
                          one and stamped, one and stamped))
        start = stop
    found, times, width = block_columns.sliced_columns(parts)
    assert found == block_columns.columns(parts) and times is not None
    first_walls = {}
    for part_times, _, _, wall, _, _ in parts:
        for each in part_times if wall is not None else ():
            first_walls.setdefault(each, wall)
    clocked = sorted(first_walls)
    assert block_columns.clock_of(parts, times, width) == (
        clocked, [first_walls[each] for each in clocked]) == (
        clock.of_parts(parts))


@settings(max_examples=300, deadline=None)
@given(st.lists(st.tuples(st.integers(0, 20), st.integers(1, 4),
                          st.integers(0, 8), st.sampled_from('rla'))),
       st.sets(st.integers(0, 40)), st.integers(0, 40), st.integers(0, 45))
@example([(0, 1, 5, 'r'), (4, 1, 3, 'l')], set(), 0, 45)  # 4 in both
@example([(0, 1, 5, 'r'), (5, 1, 3, 'a')], {2}, 1, 7)  # the head's early
def test_the_times_of_chunks_join_as_a_set_would(pieces, loose, start, stop):
    # Pieces end to end (a run's blocks), overlapping (a lineage's runs),
    # out of order, empty, and loose times of the head anywhere: the
    # union, each time once, in increasing order, within [start, stop).
    made = []
    for first, step, count, form in pieces:
        times = range(first, first + step * count, step)
        made.append(times if form == 'r' else list(times) if form == 'l'
                    else array.array('q', times))
    joined = merging.union_of(made, loose, start, stop)
    assert type(joined) is list
    assert joined == sorted(time for time in set(loose).union(*made)
                            if start <= time < stop)
