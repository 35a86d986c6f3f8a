"""The commit clock (see blocks_log.stores.clock): the wall clock of the
first commit of each time, on each store, through packing, reopening,
resuming, copying, pickling, damage, and in files written before it."""
import itertools
import os
import pickle
import shutil
import signal
import sqlite3
import struct
import subprocess
import sys
import time as _time

import pytest
from hypothesis import given, settings, strategies as st

import blocks_log
from blocks_log.stores import batches, chunks, clock

SPAN = 8


@pytest.fixture
def small_blocks(monkeypatch):
    monkeypatch.setattr(chunks, 'SPAN', SPAN)


def commit_each(log, times, key='loss'):
    """Log `key` at each of `times`, as a training loop does, a commit
    each: {time: (before, after)}, the wall clock around the moment the
    iteration was done (its iterations_done set)."""
    bounds = {}
    for time in times:
        before = _time.time()
        log.status['iterations_done'] = time
        bounds[time] = (before, _time.time())
        log.current_row[key] = time * 0.5
        log.flush()
    return bounds


def check_walls(found, bounds):
    times, walls = found
    assert list(times) == sorted(bounds)
    for time, wall in zip(times, walls):
        low, high = bounds[time]
        assert type(wall) is float and low <= wall <= high, time


def test_each_time_has_the_wall_of_its_first_commit(make_database_log,
                                                    small_blocks):
    log = make_database_log()
    bounds = commit_each(log, range(1, 4 * SPAN + 3))
    # Written again later: in a block packed (its clock in a chunk), and
    # in the head (a batch of a later part): the first commit's wall;
    # still once that block is packed.
    log[3]['loss'] = -1.0
    log[4 * SPAN + 1]['other'] = -1.0
    log.flush()
    check_walls(log.clock(), bounds)
    bounds.update(commit_each(log, range(4 * SPAN + 3, 6 * SPAN)))
    check_walls(log.clock(), bounds)
    inside = dict((time, bounds[time]) for time in range(5, SPAN + 3))
    check_walls(log.clock(5, SPAN + 3), inside)
    uuid = log.h_uuid
    log.close()
    with make_database_log(uuid=uuid, read_only=True) as reader:
        check_walls(reader.clock(), bounds)


def test_a_training_loop_s_iterations_get_the_wall_of_when_each_was_done(
        make_database_log, small_blocks):
    # No flush: each iteration is committed when the next is done, with
    # the wall of when its own iterations_done was set.
    log = make_database_log()
    bounds = {}
    for time in range(1, 3 * SPAN):
        before = _time.time()
        log.status['iterations_done'] = time
        bounds[time] = (before, _time.time())
        log.current_row['loss'] = time * 0.5
        log.current_row['rate'] = 0.5
    log.flush()
    check_walls(log.clock(), bounds)
    log.close()


def test_values_ahead_of_a_training_loop_get_the_wall_of_their_commit(
        make_database_log, small_blocks):
    # Each iteration also logs the next one's values: committed as the
    # next is done, they have the wall of that commit.
    log = make_database_log()
    bounds = {}
    for time in range(1, 3 * SPAN):
        log[time]['rate'] = 0.5 * time
        log[time]['momentum'] = 0.5
        before = _time.time()
        log.status['iterations_done'] = time
        bounds[time] = (before, _time.time())
    check_walls(log.clock(), bounds)
    log.close()


def test_times_past_the_iterations_done_get_the_wall_of_their_commit(
        make_database_log):
    # Written at times iterations_done has not reached: not the wall of
    # when it was last set, but of each commit.
    log = make_database_log()
    log.status['iterations_done'] = 0
    bounds = {}
    for time in range(1, 6):
        log[time]['loss'] = 1.0
        before = _time.time()
        log.flush()
        bounds[time] = (before, _time.time())
    check_walls(log.clock(), bounds)
    log.close()


def test_the_iterations_of_a_commit_share_its_wall(make_database_log,
                                                   small_blocks):
    log = make_database_log(commit_every=5)
    for _ in range(3 * SPAN):
        log.status['iterations_done'] += 1
        log.current_row['loss'] = 1.0
    log.flush()
    times, walls = log.clock()
    assert list(times) == list(range(1, 3 * SPAN + 1))
    # A commit each 5 iterations (the first holds 4: an iteration is
    # committed once the next is done), their times side by side, at the
    # wall of the last of them.
    commits = [len(list(group)) for _, group in itertools.groupby(walls)]
    assert commits[0] == 4 and set(commits[1:-1]) == {5}
    assert list(walls) == sorted(walls)
    log.close()


def test_a_resumed_run_reads_its_own_clock_and_below_it_its_parents(
        make_database_log, small_blocks):
    log = make_database_log()
    bounds = commit_each(log, range(1, 3 * SPAN))
    log.resume()
    again = commit_each(log, range(2 * SPAN, 4 * SPAN))
    bounds.update(again)
    check_walls(log.clock(), bounds)
    log.close()


KILLED_WRITER = """
import os, signal, sys
from blocks_log.stores import chunks
chunks.SPAN = {span}
import blocks_log
log = blocks_log.SQLiteLog(sys.argv[1])
print(log.h_uuid, flush=True)
for time in range(1, {last} + 1):
    log.status['iterations_done'] = time
    log.current_row['loss'] = time * 0.5
    log.flush()
os.kill(os.getpid(), signal.SIGKILL)
"""


def test_a_killed_writer_leaves_the_clock_of_what_it_committed(
        tmp_path, small_blocks):
    # Its last block unpacked, in the head: the next writer packs it from
    # the database, each time with the wall its batch was stamped with.
    path = str(tmp_path / 'killed.sqlite')
    last = 3 * SPAN + 4
    before = _time.time()
    done = subprocess.run(
        [sys.executable, '-c', KILLED_WRITER.format(span=SPAN, last=last),
         path], stdout=subprocess.PIPE, universal_newlines=True, timeout=60)
    bounds = dict.fromkeys(range(1, last + 1), (before, _time.time()))
    assert done.returncode == -signal.SIGKILL
    with blocks_log.SQLiteLog(path, uuid=done.stdout.split()[0]) as log:
        bounds.update(commit_each(log, range(last + 1, last + 2 * SPAN)))
        check_walls(log.clock(), bounds)


def test_a_log_in_memory_has_no_clock():
    log = blocks_log.TrainingLog()
    assert not hasattr(log, 'clock')


def test_a_file_of_schema_5_has_no_clock_and_stamps_what_is_written_on(
        tmp_path, small_blocks):
    from conftest import FIXTURES
    path = str(tmp_path / 'schema_5.sqlite')
    shutil.copy(os.path.join(FIXTURES, '..', 'blocks_log_schema_5.sqlite'),
                path)
    uuid, = [run.uuid for run in blocks_log.list_runs(path)]
    with blocks_log.SQLiteLog(path, uuid=uuid, read_only=True) as log:
        assert list(log.clock()[0]) == []
        assert len(log.history('train_loss')) == 40
    with blocks_log.SQLiteLog(path, uuid=uuid) as log:
        bounds = commit_each(log, range(41, 41 + 3 * SPAN), 'train_loss')
        check_walls(log.clock(), bounds)
        assert len(log.history('train_loss')) == 40 + 3 * SPAN
    version, = sqlite3.connect(path).execute(
        "SELECT value FROM blocks_log_meta WHERE name = 'schema_version'"
    ).fetchone()
    assert version == 7


def test_a_copy_keeps_the_clock(tmp_path, small_blocks):
    from blocks_log.copy import copy
    source = str(tmp_path / 'source.sqlite')
    with blocks_log.SQLiteLog(source) as log:
        bounds = commit_each(log, range(1, 3 * SPAN + 3))
        uuid = log.h_uuid
    _time.sleep(0.01)  # a copy's own commits are later than every wall
    copy(source, str(tmp_path / 'copy.sqlite'))
    with blocks_log.SQLiteLog(str(tmp_path / 'copy.sqlite'), uuid=uuid,
                              read_only=True) as log:
        check_walls(log.clock(), bounds)


def test_a_copy_into_postgresql_keeps_the_clock(tmp_path, postgresql_dsn,
                                                postgresql_url, small_blocks):
    from blocks_log.copy import copy
    source = str(tmp_path / 'source.sqlite')
    with blocks_log.SQLiteLog(source) as log:
        bounds = commit_each(log, range(1, 3 * SPAN + 3))
        uuid = log.h_uuid
    copy(source, postgresql_url)
    with blocks_log.PostgreSQLLog(postgresql_dsn, uuid=uuid,
                                  read_only=True) as log:
        check_walls(log.clock(), bounds)


def test_a_pickled_log_in_memory_keeps_its_clock(small_blocks):
    log = blocks_log.SQLiteLog(':memory:')
    bounds = commit_each(log, range(1, 2 * SPAN + 3))
    loaded = pickle.loads(pickle.dumps(log))
    check_walls(loaded.clock(), bounds)
    # Its blocks packed as it goes on: still when each was committed.
    bounds.update(commit_each(loaded, range(2 * SPAN + 3, 4 * SPAN)))
    check_walls(loaded.clock(), bounds)
    loaded.close()
    log.close()


def test_a_damaged_clock_has_no_wall_where_it_is_damaged(tmp_path,
                                                         small_blocks):
    path = str(tmp_path / 'damaged.sqlite')
    with blocks_log.SQLiteLog(path) as log:
        bounds = commit_each(log, range(1, 3 * SPAN + 3))
        uuid = log.h_uuid
    with sqlite3.connect(path) as connection:
        # The clock of the first block: its values changed (its checksum
        # then fails), of the second: ints (a forged kind, its checksum
        # made again).
        values, = connection.execute(
            'SELECT "values" FROM blocks_log_clocks WHERE block = 0'
        ).fetchone()
        connection.execute('UPDATE blocks_log_clocks SET "values" = ? '
                           'WHERE block = 0', (values[:-8] + b'\x00' * 8,))
        run, = connection.execute(
            'SELECT run FROM blocks_log_clocks WHERE block = 1').fetchone()
        times = list(range(SPAN, 2 * SPAN))
        connection.execute('DELETE FROM blocks_log_clocks WHERE block = 1')
        connection.execute(
            'INSERT INTO blocks_log_clocks VALUES (?, ?, ?, ?, ?, ?, ?, ?, '
            '?, ?, ?)', chunks.pack(run, clock.KEY, SPAN, times, [
                int(bounds[time][0]) for time in times]))
        # A batch of the head stamped with NaN, one with garbage.
        rows = connection.execute(
            'SELECT time, key, value FROM blocks_log_entries WHERE key < 0 '
            'ORDER BY time').fetchall()
        assert len(rows) >= 2
        for (time, key, blob), wall in zip(rows[-2:], [
                struct.pack('<d', float('nan')), b'\xff' * 8]):
            connection.execute(
                'UPDATE blocks_log_entries SET value = ? WHERE time = ? AND '
                'key = ?', (blob[:1] + wall + blob[9:], time, key))
    connection.close()
    damaged = set(range(0, 2 * SPAN)) | set(time for time, _, _ in rows[-2:])
    with blocks_log.SQLiteLog(path, uuid=uuid, read_only=True) as log:
        check_walls(log.clock(), dict(
            (time, wall) for time, wall in bounds.items()
            if time not in damaged))
        # The values themselves are as they were.
        assert [time for time, _ in log.history('loss')] == sorted(bounds)


finite = st.floats(allow_nan=False, allow_infinity=False)


@given(st.lists(st.one_of(finite, st.integers(-2 ** 63, 2 ** 63 - 1),
                          st.text(max_size=5)), min_size=1, max_size=20),
       st.integers(0, 3), finite)
def test_a_stamp_changes_nothing_a_batch_holds(values, spread, wall):
    times = [100 + (index % (spread + 1)) for index in range(len(values))]
    key_ids = list(range(1, len(values) + 1))
    _, blob = batches.encode(times, key_ids, values)
    stamped = batches.stamp(wall) + blob
    assert batches.encode(times, key_ids, values,
                          batches.stamp(wall))[1] == stamped
    assert batches.decode(100, stamped) == batches.decode(100, blob)
    assert batches.wall_of(stamped) == wall
    assert batches.wall_of(blob) is None


@pytest.mark.parametrize('wall', [float('nan'), float('inf'),
                                  -float('inf')])
def test_a_stamp_that_is_no_time_is_none(wall):
    _, blob = batches.encode([1], [1], [0.5])
    assert batches.wall_of(batches.stamp(wall) + blob) is None
    assert batches.wall_of(b'w\x00') is None


OPERATIONS = st.lists(st.one_of(
    st.tuples(st.just('iterate'), st.sampled_from(['a', 'b', 'ab'])),
    st.tuples(st.just('past'), st.integers(0, 12), st.sampled_from('ab')),
    st.tuples(st.just('future'), st.integers(1, 12), st.sampled_from('ab')),
    st.tuples(st.just('flush')), st.tuples(st.just('reopen'))),
    max_size=60)


@settings(max_examples=40, deadline=None)
@given(OPERATIONS, st.sampled_from([1, 2, 3]))
def test_every_wall_is_when_its_time_was_logged_or_first_committed(
        operations, commit_every):
    # Random training, writes before and past iterations_done, flushes and
    # reopenings, over blocks of 4 times: each time logged has one wall,
    # no earlier than the iteration done last before it was first logged
    # (if that reached it; else than that write), and no later than the
    # first commit sure to hold it.
    import tempfile
    spans = chunks.SPAN
    chunks.SPAN = 4
    try:
        with tempfile.TemporaryDirectory() as directory:
            path = os.path.join(directory, 'model.sqlite')
            log = blocks_log.SQLiteLog(path, commit_every=commit_every)
            uuid, time, done = log.h_uuid, 0, None  # done: (time, began)
            logged, bounds = {}, {}

            def log_at(at, key, began):
                log[at][key] = float(at)
                if at not in logged:
                    logged[at] = began if done is None or done[0] < at \
                        else done[1]
                    bounds[at] = None  # committed by the next sure commit
            for operation in operations:
                began = _time.time()
                if operation[0] == 'iterate':
                    time += 1
                    log.status['iterations_done'] = time
                    done = (time, began)
                    for key in operation[1]:
                        log_at(time, key, began)
                elif operation[0] == 'past':
                    log_at(max(0, time - operation[1]), operation[2], began)
                elif operation[0] == 'future':
                    log_at(time + operation[1], operation[2], began)
                elif operation[0] == 'flush':
                    log.flush()
                else:
                    log.close()
                    log = blocks_log.SQLiteLog(path, uuid=uuid,
                                               commit_every=commit_every)
                    done = None  # a new session knows of no iteration
                if operation[0] in ('flush', 'reopen'):
                    ended = _time.time()
                    for at in bounds:
                        bounds[at] = bounds[at] or ended
            log.close()
            ended = _time.time()
            with blocks_log.SQLiteLog(path, uuid=uuid,
                                      read_only=True) as reader:
                times, walls = reader.clock()
    finally:
        chunks.SPAN = spans
    assert list(times) == sorted(logged)
    for at, wall in zip(times, walls):
        assert logged[at] <= wall <= (bounds[at] or ended), at
