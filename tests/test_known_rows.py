"""A writer reads the rows it writes without asking the store where it
knows what the store holds (:mod:`blocks_log.database.stored_tail`): the
current row, where Blocks' main loop looks for
``training_finish_requested`` after every batch, and the row its last
commit wrote. What it answers so must be what the store holds, whoever
else writes: a forked child, another handle writing the run it was
resumed from, the writer a reader follows. Real processes and handles."""
import os

import pytest

from blocks_log import SQLiteLog
from blocks_log.database import stored_tail

from helpers import in_child, statements_of

needs_fork = pytest.mark.skipif(not hasattr(os, 'fork'), reason='no fork')


def train(log, until, keys=('loss', 'acc')):
    """Blocks' main loop: an iteration counted, its values logged, the
    current row asked for a key nobody wrote."""
    while log.status['iterations_done'] < until:
        log.status['iterations_done'] += 1
        for key in keys:
            log.current_row[key] = float(log.status['iterations_done'])
        assert log.current_row.get('training_finish_requested') is None
        if log.status['iterations_done'] > 1:
            previous = dict(log.previous_row)
            assert [previous.get(key) for key in keys] == [
                log.status['iterations_done'] - 1.0] * len(keys)


def test_the_main_loop_reads_its_rows_without_asking_the_file(tmp_path):
    with SQLiteLog(str(tmp_path / 'log.sqlite')) as log:
        log.current_row['lr'] = 0.1  # before training, in a new run
        log.status['iterations_done'] = 1
        assert statements_of(log, lambda: log.previous_row['lr']) == []
        log.current_row.update(loss=1.0, acc=1.0)
        train(log, 5)

        def read():
            for _ in range(3):
                assert log.current_row.get('training_finish_requested') is (
                    None)
                assert 'loss' in log.current_row
                assert log.previous_row['loss'] == 4.0
                assert dict(log.previous_row) == {'loss': 4.0, 'acc': 4.0}
        assert statements_of(log, read) == []
        # Rows before the last commit's are the file's to tell.
        assert statements_of(log, lambda: dict(log[3])) != []


def test_a_commit_into_a_row_before_the_last_is_read(tmp_path):
    # One commit since the last read, of the row of now and of one the
    # store held already: the rows past it are known, the others read.
    with SQLiteLog(str(tmp_path / 'log.sqlite')) as log:
        train(log, 3)
        log[2]['late'] = 2.0
        log.current_row['x'] = 1.0
        log.flush()
        assert statements_of(log, lambda: (
            log[3]['x'], log[4].get('loss'), log.current_row['loss'])) == []
        assert dict(log[3]) == {'loss': 3.0, 'acc': 3.0, 'x': 1.0}
        assert dict(log[2]) == {'loss': 2.0, 'acc': 2.0, 'late': 2.0}


def test_commits_unread_are_read_from_the_store(tmp_path):
    # Several commits since the last read: only the last one's items are
    # kept (a loop that reads seldom pays nothing for it), so the store
    # is asked, and tells each of them.
    with SQLiteLog(str(tmp_path / 'log.sqlite')) as log:
        train(log, 3)
        for _ in range(3):
            log.status['iterations_done'] += 1
            log.current_row['loss'] = 1.0
        log.flush()
        assert statements_of(log, lambda: log[4].get('loss')) != []
        assert [log[time].get('loss') for time in range(3, 8)] == [
            3.0, 1.0, 1.0, 1.0, None]
        log.status['iterations_done'] += 1
        assert log.current_row.get('loss') is None
        log.current_row['loss'] = 5.0
        log.status['iterations_done'] += 1
        assert log.previous_row == {'loss': 5.0}


@needs_fork
def test_a_forked_child_s_commit_is_read_by_its_parent(make_database_log):
    # A forked child writes on into the run it shares with its parent
    # (a data loader's worker, say): the parent, which knew the store held
    # nothing past its last commit, reads what the child committed.
    log = make_database_log()
    train(log, 20)
    assert log.current_row.get('from_child') is None

    def child():
        log.current_row['from_child'] = 1.0
        log[30]['later'] = 2.0
        log.flush()
    assert os.waitpid(in_child(child), 0)[1] == 0
    assert log.current_row.get('from_child') == 1.0
    assert dict(log[30]) == {'later': 2.0}
    log.status['iterations_done'] += 1
    assert dict(log.previous_row) == {'loss': 20.0, 'acc': 20.0,
                                      'from_child': 1.0}


def test_a_write_into_the_run_resumed_from_is_read(make_database_log):
    # The run resumed from is let go: another handle may write it (a
    # restart from an older checkpoint), and the child reads through it.
    log = make_database_log()
    train(log, 3)
    parent = log.uuid
    log.resume()
    train(log, 6)
    assert log.current_row.get('x') is None
    other = make_database_log(uuid=parent)
    other[6]['x'] = 2.0
    other[5]['loss'] = -1.0  # hidden: the child wrote loss at 5
    other[5]['y'] = 3.0
    other.close()
    assert log.current_row.get('x') == 2.0
    assert dict(log.previous_row) == {'loss': 5.0, 'acc': 5.0, 'y': 3.0}
    log.current_row.update(loss=6.0, acc=6.0)
    train(log, 300)  # past the block where the runs ended
    if make_database_log.backend == 'sqlite-file':
        # Nothing else wrote the file since: SQLite's data_version says so.
        assert statements_of(log, lambda: (
            log.current_row.get('x'), log.previous_row['loss'])) == [
                'PRAGMA data_version'] * 2


def test_a_reader_reads_each_commit_of_the_writer_it_follows(
        make_database_log):
    writer = make_database_log()
    train(writer, 2)
    reader = make_database_log(uuid=writer.uuid, read_only=True)
    assert dict(reader[3]) == {}
    writer.status['iterations_done'] += 1
    writer.current_row['loss'] = 3.0
    writer.flush()

    def read():
        assert dict(reader[3]) == {'loss': 3.0}
        assert [reader[3].get('loss') for _ in range(3)] == [3.0] * 3
    if make_database_log.backend != 'sqlite-file':
        return read()
    # What a reader reads is what the writer committed, as a rule: it
    # never looks for where the rows end, which would tell it nothing.
    asked = statements_of(reader, read)
    assert asked and not [each for each in asked if 'max(time)' in each]


def test_a_writer_in_a_busy_file_reads_it_at_once(tmp_path):
    # Another run of the file commits before each read of a resumed run:
    # data_version changes each time, so the writer stops asking it for a
    # while, and reads the file at once; what it reads stays right.
    path = str(tmp_path / 'log.sqlite')
    with SQLiteLog(path) as log, SQLiteLog(path) as other:
        log.resume()
        for time in range(1, stored_tail.BUSY + 3):
            other[time]['x'] = 1.0
            other.flush()
            log.status['iterations_done'] = time
            log.current_row['loss'] = float(time)
            assert log.current_row.get('x') is None
            assert log.previous_row.get('loss') == (
                None if time == 1 else time - 1.0)
        asked = statements_of(log, lambda: log.current_row.get('x'))
        assert asked and 'PRAGMA data_version' not in asked
