"""Status lists that grow, stored by what they gain (SQLite, schema 7):
an epoch's end writes what it adds to ``_epoch_ends``, not the whole list
again, and every read gives the list the writer holds, across reopening,
forks and files of the schema before."""
import ctypes
import os
import shutil
import signal
import sqlite3

import pytest

from blocks_log import SQLiteLog, codec
from blocks_log.stores import sqlite_sql as sql

from conftest import FIXTURES


@pytest.fixture
def path(tmp_path):
    return str(tmp_path / 'log.sqlite')


def stored(path, key='_epoch_ends'):
    """The status value of `key` as its row holds it (its bytes) and the
    indexes of its pieces, of the one run in `path`."""
    with sqlite3.connect(path) as connection:
        value, = connection.execute(
            'SELECT e.value FROM blocks_log_entries e JOIN blocks_log_keys k '
            'ON k.id = e.key WHERE e.time = ? AND k.name = ?',
            (sql.STATUS_TIME, key)).fetchone()
        pieces = [piece for piece, in connection.execute(
            'SELECT p.piece FROM blocks_log_status_pieces p JOIN '
            'blocks_log_keys k ON k.id = p.key WHERE k.name = ? '
            'ORDER BY p.piece', (key,))]
    return value, pieces


def read_status(path, uuid):
    with SQLiteLog(path, uuid=uuid, read_only=True) as reader:
        return dict(reader.status)


@pytest.mark.parametrize('way', ['+=', 'append'])
def test_an_epoch_end_writes_what_it_adds(path, way):
    # 1,000 epochs: the list written whole once, at the first; its pieces
    # never more than log2 of its length.
    log = SQLiteLog(path)
    values, most = set(), 0
    for epoch in range(1000):
        log.status['iterations_done'] += 1
        if way == '+=':  # as Blocks' main loop ends an epoch
            log.status['_epoch_ends'] += [log.status['iterations_done']]
        else:
            log.status['_epoch_ends'].append(log.status['iterations_done'])
        log.status['iterations_done'] += 1  # commits it
        value, pieces = stored(path)
        values.add(value)
        most = max(most, len(pieces))
        if epoch % 97 == 0:
            assert read_status(path, log.uuid)['_epoch_ends'] == list(
                range(1, 2 * epoch + 2, 2))
    assert values == {codec.encode([1])}  # as the first epoch stored it
    assert 3 <= most <= 11  # a token and at most 10 pieces
    assert read_status(path, log.uuid)['_epoch_ends'] == list(
        range(1, 2000, 2))
    log.close()


def test_a_list_changed_otherwise_is_written_whole(path):
    log = SQLiteLog(path)
    ends = log.status['_epoch_ends']
    for time in range(1, 20):
        ends.append(time)
        log.status['iterations_done'] = time
    assert len(stored(path)[1]) > 1
    expected = list(range(1, 20))
    for change, done in (
            (lambda: ends.__setitem__(3, -3), lambda: expected.__setitem__(
                3, -3)),
            (lambda: ends.append([1, 2]), lambda: expected.append([1, 2])),
            (lambda: ends.append(1.5), lambda: expected.append(1.5)),
            (lambda: ends.pop(), lambda: expected.pop()),
            (lambda: ends.pop(), lambda: expected.pop()),
            (lambda: ends.extend(['a', None, True, b'x']),
             lambda: expected.extend(['a', None, True, b'x']))):
        change()
        done()
        log.status['iterations_done'] += 1
        assert read_status(path, log.uuid)['_epoch_ends'] == expected
    # Set anew, shorter: its pieces dropped.
    log.status['_epoch_ends'] = [7]
    log.status['iterations_done'] += 1
    assert stored(path)[1] == []
    assert read_status(path, log.uuid)['_epoch_ends'] == [7]
    del log.status['_epoch_ends']
    log.status['iterations_done'] += 1
    assert '_epoch_ends' not in read_status(path, log.uuid)
    log.close()


def test_a_reader_follows_the_list_as_it_grows(path):
    log = SQLiteLog(path)
    reader = SQLiteLog(path, uuid=log.uuid, read_only=True)
    for time in range(1, 40):
        log.status['_epoch_ends'] += [time]
        log.status['iterations_done'] = time
        assert reader.status['_epoch_ends'] == list(range(1, time + 1))
    reader.close()
    log.close()


@pytest.mark.parametrize('ending', ['close', 'kill -9'])
def test_a_run_opened_again_goes_on_with_its_list(path, ending):
    read_end, write_end = os.pipe()
    pid = os.fork()
    if pid == 0:
        try:
            log = SQLiteLog(path)
            for time in range(1, 30):
                log.status['_epoch_ends'] += [time]
                log.status['iterations_done'] = time
            if ending == 'close':
                log.close()
            os.write(write_end, log.uuid.bytes)
            if ending == 'kill -9':
                os.kill(os.getpid(), 9)
        finally:
            os._exit(0)
    uuid = os.read(read_end, 16).hex()
    os.waitpid(pid, 0)
    assert stored(path)[1][:2] == [0, 1]  # a token, pieces
    assert read_status(path, uuid)['_epoch_ends'] == list(range(1, 30))
    with SQLiteLog(path, uuid=uuid) as again:
        for time in range(30, 60):
            again.status['_epoch_ends'] += [time]
            again.status['iterations_done'] = time
            assert read_status(path, uuid)['_epoch_ends'] == list(
                range(1, time + 1))


FORKS = {
    'os.fork': os.fork,
    # C code's fork runs no at-fork hook: the store finds it by its pid.
    'libc fork': lambda: ctypes.CDLL(None, use_errno=True).fork()}


#: What a forked child adds to the list, in one commit: more than its
#: pieces hold, so that a child going on with its parent's pieces would
#: write its own over all of them but the first.
THE_CHILDS = list(range(-1, -21, -1))


def child_ends_an_epoch(log, fork=os.fork, go=None):
    """Fork a child that adds :data:`THE_CHILDS` to the list of `log` and
    commits it, once `go` (a pipe's read end, if given) says so; returns
    the parent's wait for it."""
    done_end, done = os.pipe()
    pid = fork()
    if pid == 0:
        try:
            signal.alarm(20)
            if go is not None:
                os.read(go, 1)
            log.status['_epoch_ends'] += THE_CHILDS
            log.status['iterations_done'] = 100
            log.flush()
        finally:
            os.write(done, b'x')
            os._exit(0)

    def wait():
        os.read(done_end, 1)
        assert os.waitpid(pid, 0)[1] == 0
    return wait


@pytest.mark.parametrize('how', sorted(FORKS))
def test_a_forked_child_that_writes_the_list_mixes_nothing_into_it(
        path, how):
    # The parent has pieces of the list when it forks; the child writes
    # the list its own way, then the parent goes on: the list is the
    # parent's, not the child's with the parent's pieces on it.
    log = SQLiteLog(path)
    for time in range(1, 21):
        log.status['_epoch_ends'] += [time]
        log.status['iterations_done'] = time
    assert stored(path)[1][:2] == [0, 1]  # a token, pieces
    child_ends_an_epoch(log, FORKS[how])()
    assert read_status(path, log.uuid)['_epoch_ends'] == list(
        range(1, 21)) + THE_CHILDS
    for time in range(21, 30):
        log.status['_epoch_ends'] += [time]
        log.status['iterations_done'] = time
        assert read_status(path, log.uuid)['_epoch_ends'] == list(
            range(1, time + 1))
    log.close()


def test_a_forked_child_drops_the_pieces_its_parent_began_since(path):
    log = SQLiteLog(path)
    log.status['iterations_done'] = 1
    go_end, go = os.pipe()
    wait = child_ends_an_epoch(log, go=go_end)
    try:
        for time in range(2, 20):
            log.status['_epoch_ends'] += [time]
            log.status['iterations_done'] = time
        assert stored(path)[1][:2] == [0, 1]  # a token, pieces
    finally:
        os.write(go, b'x')
    wait()
    # The child's, written last: [] and its own items.
    assert read_status(path, log.uuid)['_epoch_ends'] == THE_CHILDS
    log.close()


def test_a_file_of_schema_6_reads_as_it_is_and_goes_on_in_pieces(tmp_path):
    path = str(tmp_path / 'schema_6.sqlite')
    shutil.copy(os.path.join(FIXTURES, '..', 'blocks_log_schema_6.sqlite'),
                path)
    ends = [8, 16, 24, 32, 40]
    with SQLiteLog(path, uuid='last', read_only=True) as log:
        assert log.status['_epoch_ends'] == ends
        assert log.status['epochs_done'] == 5
        uuid = log.uuid
    # A reader opened on version 6 follows a writer that brings the file
    # up to 7, and writes pieces.
    reader = SQLiteLog(path, uuid=uuid, read_only=True)
    assert reader.status['_epoch_ends'] == ends
    with SQLiteLog(path, uuid=uuid) as log:
        for time in range(41, 81):
            log.status['iterations_done'] = time
            log.current_row['train_loss'] = 1.0 / time
            if time % 8 == 0:
                log.status['epochs_done'] += 1
                log.status['_epoch_ends'] += [time]
                ends.append(time)
                log.flush()
                assert reader.status['_epoch_ends'] == ends
    assert stored(path)[1][:2] == [0, 1]  # a token, pieces
    assert reader.status['_epoch_ends'] == ends == list(range(8, 81, 8))
    assert len(reader.history('train_loss')) == 80
    reader.close()
    version, = sqlite3.connect(path).execute(
        "SELECT value FROM blocks_log_meta WHERE name = 'schema_version'"
    ).fetchone()
    assert version == 7


@pytest.mark.parametrize('damage', [
    'a piece that is not JSON', 'a piece that is not a list',
    'a value that is not a list'])
def test_a_damaged_piece_gives_an_undecodable_list_and_nothing_else(
        path, damage):
    log = SQLiteLog(path)
    for time in range(1, 20):
        log.current_row['loss'] = float(time)
        log.status['_epoch_ends'] += [time]
        log.status['iterations_done'] = time
    log.close()
    with sqlite3.connect(path) as connection:
        if damage == 'a value that is not a list':
            connection.execute(
                'UPDATE blocks_log_entries SET value = ? WHERE time = ? AND '
                'key = (SELECT id FROM blocks_log_keys WHERE name = ?)',
                (codec.encode((1, 2)), sql.STATUS_TIME, '_epoch_ends'))
        else:
            connection.execute(
                'UPDATE blocks_log_status_pieces SET value = ? WHERE piece = '
                '(SELECT max(piece) FROM blocks_log_status_pieces)',
                (codec.JSON_TAG + b'[1,' if damage.endswith('JSON') else
                 codec.encode({'a': 1}),))
    with SQLiteLog(path, uuid=log.uuid, read_only=True) as reader:
        ends = reader.status['_epoch_ends']
        assert isinstance(ends, codec.Undecodable), ends
        assert reader.status['iterations_done'] == 19
        assert reader.history('loss') == [(time - 1, float(time))
                                          for time in range(1, 20)]
