"""What a list of runs shows of a finished run is saved by its writer as it
lets the run go, and cleared when a writer takes the run again: listing a
file of many finished runs reads no values, and never shows a stale
summary (SQLite and PostgreSQL alike)."""
import os
import sqlite3

import pytest
from hypothesis import HealthCheck, example, given, settings
from hypothesis import strategies as st

import blocks_log
from blocks_log.sources import Source
from blocks_log.sources import is_postgresql
from blocks_log.stores import base, chunks, run_packing

from helpers import in_child
from test_processes import start_writer


@pytest.fixture(params=['sqlite', 'postgresql'])
def source(request, tmp_path):
    if request.param == 'postgresql':
        return request.getfixturevalue('postgresql_url')
    return str(tmp_path / 'runs.sqlite')


def open_log(source, **kwargs):
    if is_postgresql(source):
        return blocks_log.PostgreSQLLog(source, **kwargs)
    return blocks_log.SQLiteLog(source, **kwargs)


def train(log, until, keys=('loss',)):
    while log.status['iterations_done'] < until:
        log.status['iterations_done'] += 1
        for key in keys:
            log.current_row[key] = 1.0 / log.status['iterations_done']
    if log.status['iterations_done'] % 10 == 0:
        log.status['epochs_done'] += 1


def stored(source, uuid):
    """The run's RunInfo and what its data says of it, read afresh."""
    with Source(source) as opened:
        run = opened.store.find_run(uuid)
        return run, opened.store.summarize(run)


def listed(source, uuid):
    run, = [run for run in blocks_log.list_runs(source) if run.uuid == uuid]
    return dict((name, getattr(run, name)) for name in base.SUMMARY_FIELDS)


def test_a_closed_run_keeps_what_its_list_shows(source):
    log = open_log(source)
    train(log, 30, keys=('loss', 'accuracy'))
    log.current_row['note'] = 'text'
    log.close()
    run, read = stored(source, log.h_uuid)
    assert base.summary_of(run) == read == {
        'iterations': 30, 'epochs': 1, 'rows': 30, 'last_time': 30,
        'keys': ['accuracy', 'loss', 'note']}
    assert listed(source, log.h_uuid) == read


def test_a_run_taken_again_is_listed_from_its_data(source):
    log = open_log(source)
    train(log, 20)
    log.close()
    with open_log(source, uuid=log.h_uuid) as again:
        train(again, 25, keys=('loss', 'new_key'))
        again.flush()
        run, read = stored(source, log.h_uuid)
        assert run.summary is None  # taken: what was saved is stale
        assert listed(source, log.h_uuid) == read
        assert read['rows'] == 25 and 'new_key' in read['keys']
    assert listed(source, log.h_uuid) == stored(source, log.h_uuid)[1]


def test_a_run_being_written_or_killed_is_listed_from_its_data(source):
    writer, uuid = start_writer(source, 40, pause=15)
    try:
        while writer.stdout.readline().strip() != 'paused':
            pass
        assert stored(source, uuid)[0].summary is None
        assert listed(source, uuid)['rows'] == stored(source, uuid)[1][
            'rows']
    finally:
        writer.kill()
        writer.wait()
    assert listed(source, uuid) == stored(source, uuid)[1]


def test_a_finished_run_is_listed_without_reading_its_values(tmp_path):
    path = str(tmp_path / 'runs.sqlite')
    log = open_log(path)
    train(log, 30)
    log.close()
    connection = sqlite3.connect(path)
    with connection:  # its values gone: only the summary can tell them
        connection.execute('DELETE FROM blocks_log_chunks')
        connection.execute('DELETE FROM blocks_log_entries WHERE time < ?',
                           (2 ** 63 - 1,))
    connection.close()
    assert listed(path, log.h_uuid)['rows'] == 30


def test_a_summary_this_version_cannot_read_is_ignored(tmp_path):
    path = str(tmp_path / 'runs.sqlite')
    log = open_log(path)
    train(log, 5)
    log.close()
    connection = sqlite3.connect(path)
    with connection:  # a summary of fields this version does not know
        connection.execute('UPDATE blocks_log_runs SET summary = ?',
                           ('{"rows": 99}',))
    connection.close()
    assert listed(path, log.h_uuid)['rows'] == 5


KEYS = st.sampled_from(['a', 'b', 'c'])
VALUES = st.one_of(st.floats(), st.integers(-5, 5), st.text(max_size=3),
                   st.none())
OPERATIONS = st.lists(st.one_of(
    st.tuples(st.just('next')),
    st.tuples(st.just('jump'), st.integers(0, 40)),
    st.tuples(st.just('row'), KEYS, VALUES),
    st.tuples(st.just('at'), st.integers(0, 40), KEYS, VALUES),
    st.tuples(st.just('delete'), st.integers(0, 40), KEYS),
    st.tuples(st.just('flush'))), max_size=40)


@settings(max_examples=60, deadline=None, suppress_health_check=[
    HealthCheck.function_scoped_fixture])
@given(OPERATIONS, st.sampled_from([1, 3]), st.sampled_from([3, 256]),
       st.sampled_from([4096, 2]))
# A time before the latest, in a later commit: it may hold a value already.
@example([('at', 5, 'a', 1.0), ('flush',), ('at', 3, 'b', 1.0)], 1, 256,
         4096)
# A commit of the latest time again and of a later one: one more row.
@example([('at', 2, 'a', 1.0), ('flush',), ('at', 2, 'b', 1.0),
          ('at', 4, 'a', 1.0)], 1, 256, 4096)
# The only value of a time, deleted: the time holds nothing.
@example([('at', 1, 'a', 1.0), ('flush',), ('delete', 1, 'a')], 1, 256,
         4096)
# Blocks of 3 times: block 0 packed, then written again, at a time it held
# nothing (and later blocks packed), or at one it held; keys at times of
# their own in a block.
@example([('at', 1, 'a', 1.0), ('at', 7, 'a', 1.0), ('flush',),
          ('at', 8, 'a', 1.0), ('flush',), ('at', 0, 'b', 1.0), ('flush',),
          ('at', 10, 'a', 1.0), ('flush',), ('at', 11, 'a', 1.0)], 1, 3,
         4096)
@example([('at', 1, 'a', 1.0), ('at', 7, 'a', 1.0), ('flush',),
          ('at', 8, 'a', 1.0), ('flush',), ('at', 1, 'b', 1.0)], 1, 3, 4096)
@example([('at', 0, 'a', 1.0), ('at', 1, 'a', 1.0), ('at', 2, 'b', 'x'),
          ('flush',), ('at', 7, 'a', 1.0), ('flush',), ('at', 8, 'a', 1.0)],
         1, 3, 4096)
# A training loop whose last commits are an iteration each, of a key that
# had one before.
@example([('row', 'a', 1.0), ('next',), ('row', 'a', 1.0), ('next',),
          ('row', 'a', 1.0), ('next',)], 1, 256, 4096)
# A value of the row of the iteration in progress, deleted: its time holds
# nothing once it is committed.
@example([('row', 'a', 1.0), ('next',), ('row', 'a', 1.0),
          ('delete', 1, 'a'), ('next',)], 1, 256, 4096)
# Texts of two characters or more large: their batches stay as written, the
# writer remembers their times and keys alone; counted from those, in a
# block it packs and in one it still holds.
@example([('at', 1, 'a', 'xy'), ('at', 2, 'b', 1.0), ('flush',),
          ('at', 2, 'a', 1.0), ('at', 4, 'c', 'no'), ('flush',),
          ('at', 7, 'a', 'xy')], 1, 3, 2)
def test_what_a_writer_counts_is_what_reading_its_run_tells(
        source, monkeypatch, operations, commit_every, span, large):
    # The summary a writer saves of a new run comes from what it counted
    # as it wrote, not from reading the run back: a training loop, values
    # at earlier and later times, deleted values, several iterations a
    # commit, blocks of 3 times packed as the run goes (or of 256, none).
    # Each must give what reading the run tells. Some texts large, or none.
    monkeypatch.setattr(chunks, 'SPAN', span)
    monkeypatch.setattr(run_packing, 'LARGE_VALUE_BYTES', large)
    log = open_log(source, commit_every=commit_every)
    for operation in operations:
        kind = operation[0]
        if kind == 'next':
            log.status['iterations_done'] += 1
        elif kind == 'jump':
            log.status['iterations_done'] = operation[1]
        elif kind == 'row':
            log.current_row[operation[1]] = operation[2]
        elif kind == 'at':
            log[operation[1]][operation[2]] = operation[3]
        elif kind == 'delete':
            row = log[operation[1]]
            if operation[2] in row:
                del row[operation[2]]
        else:
            log.flush()
    log.close()
    run, read = stored(source, log.h_uuid)
    assert base.summary_of(run) == read


def test_a_run_written_by_parent_and_child_is_summarized_from_its_data(
        source):
    # After a fork, each writer counts only what it wrote itself: the
    # summary the last to let the run go saves is read from the run.
    log = open_log(source)
    train(log, 3)

    def child():
        log[9]['child'] = 1.0
        log.flush()
    assert os.waitpid(in_child(child), 0)[1] == 0
    log[7]['parent'] = 1.0
    log.close()
    run, read = stored(source, log.h_uuid)
    assert base.summary_of(run) == read
    assert read['rows'] == 5 and read['last_time'] == 9
    assert read['keys'] == ['child', 'loss', 'parent']


def test_a_pack_that_did_not_land_is_counted_once(tmp_path, monkeypatch):
    # A commit that packs a block, and fails (a full disk): the next packs
    # it again, and the block's times are counted once.
    monkeypatch.setattr(chunks, 'SPAN', 4)
    path = str(tmp_path / 'runs.sqlite')
    log = open_log(path)
    train(log, 5)  # times 1 to 4 committed: block 0 is due
    log.current_row['note'] = 'x' * 100000
    pages, = log.conn.execute('PRAGMA page_count').fetchone()
    log.conn.execute('PRAGMA max_page_count = {}'.format(pages))
    with pytest.raises(blocks_log.LogWriteError, match='full'):
        log.status['iterations_done'] += 1
    log.conn.execute('PRAGMA max_page_count = 1000000')
    train(log, 9)  # times 7 to 9 (6 holds nothing: its increment failed)
    log.close()
    run, read = stored(path, log.h_uuid)
    assert base.summary_of(run) == read
    assert read['rows'] == 8 and read['keys'] == ['loss', 'note']
