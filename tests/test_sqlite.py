"""What is particular to SQLiteLog (SPEC sections 4 and 5): persistence,
lineage, Blocks' databases, values, misuse and corrupt files."""
import copy
import json
import math
import os
import pickle
import shutil
import sqlite3

import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

import blocks_log
from blocks_log import BACKENDS, SQLiteLog, codec, placeholders
from blocks_log.stores import chunks, packing, run_packing
from blocks_log.sqlite import SQLiteEntry, SQLiteStatus
from blocks_log.stores import sqlite_sql as sql
from blocks_log.errors import (ClosedLogError, LogDatabaseError, LogError,
                               ReadOnlyLogError)

import helpers
from conftest import FIXTURES, SMALL_SPAN
from helpers import (
    committed, count_entries, file_state, head_values, statements_of)
from test_codec import VALUES, same


@pytest.fixture
def path(tmp_path):
    return str(tmp_path / 'log.sqlite')


class TestDefaults:
    def test_backend_name(self):
        assert BACKENDS['sqlite'] is SQLiteLog

    def test_environment_variable(self, tmp_path, monkeypatch):
        monkeypatch.setenv('BLOCKS_SQLITEDB', str(tmp_path / 'env.sqlite'))
        with BACKENDS['sqlite']() as log:
            assert log.database == str(tmp_path / 'env.sqlite')
        assert os.path.exists(str(tmp_path / 'env.sqlite'))

    def test_home_default(self, tmp_path, monkeypatch):
        monkeypatch.delenv('BLOCKS_SQLITEDB', raising=False)
        monkeypatch.setenv('HOME', str(tmp_path))
        with SQLiteLog() as log:
            assert log.database == str(tmp_path / 'blocks_log.sqlite')

    def test_unknown_option(self, path):
        with pytest.raises(TypeError, match='colour'):
            SQLiteLog(path, colour='red')


class TestPersistence:
    def test_reopen_by_uuid(self, path):
        with SQLiteLog(path) as log:
            log.current_row['a'] = 1
            log.status['iterations_done'] += 1
            log.current_row['b'] = (1, 'x')
            run = log.uuid
        with SQLiteLog(path, uuid=run) as again:
            assert dict(again[0]) == {'a': 1} and again[1]['b'] == (1, 'x')
            assert again.status['iterations_done'] == 1
        with SQLiteLog(path, uuid=run.hex) as again:
            assert again.uuid == run

    def test_commit_when_iteration_advances(self, path):
        log = SQLiteLog(path)
        log.current_row['a'] = 1
        assert count_entries(path) == 0
        assert log[0]['a'] == 1  # reads see the buffer
        log.status['iterations_done'] += 1
        assert count_entries(path) == 1
        log.current_row['b'] = 2
        log.flush()
        assert count_entries(path) == 2
        log.close()

    def test_status_changes_survive_reopening(self, path):
        with SQLiteLog(path) as log:
            log.status['new key'] = {'nested': (1, 2)}
            log.status['gone'] = 1
            log.flush()
            del log.status['gone']
            del log.status['epochs_done']
            log.status['iterations_done'] = 7
            run = log.uuid
        with SQLiteLog(path, uuid=run) as again:
            assert dict(again.status) == {
                'iterations_done': 7, '_epoch_ends': [],
                'resumed_from': None, 'new key': {'nested': (1, 2)}}
            assert list(again) == []

    def test_one_commit_of_many_values_and_rewrites(self, path):
        # More values than one statement writes (sql.UPSERT_CHUNK), and a
        # value written twice: the later one is kept.
        with SQLiteLog(path) as log:
            for index in range(3 * sql.UPSERT_CHUNK + 7):
                log[index % 50]['k{}'.format(index)] = index
            log[3]['k3'] = 'again'
            run = log.uuid
        assert count_entries(path) == 3 * sql.UPSERT_CHUNK + 7
        with SQLiteLog(path, uuid=run) as again:
            assert again[3]['k3'] == 'again'
            assert again[7]['k{}'.format(sql.UPSERT_CHUNK + 7)] == (
                sql.UPSERT_CHUNK + 7)

    def test_commit_every(self, path):
        log = SQLiteLog(path, commit_every=3)
        for _ in range(2):
            log.current_row['a'] = 1
            log.status['iterations_done'] += 1
        assert count_entries(path) == 0
        log.status['iterations_done'] += 1
        assert count_entries(path) == 2
        log.close()

    def test_many_runs_in_one_file(self, path):
        logs = [SQLiteLog(path) for _ in range(3)]
        for index, log in enumerate(logs):
            log[0]['index'] = index
            log.close()
        for index, log in enumerate(logs):
            with SQLiteLog(path, uuid=log.uuid) as again:
                assert again[0]['index'] == index

    @settings(max_examples=60, deadline=None)
    @given(value=VALUES)
    def test_values_round_trip_through_the_file(self, tmp_path_factory,
                                                value):
        path = str(tmp_path_factory.mktemp('values') / 'log.sqlite')
        with SQLiteLog(path) as log:
            log[1]['v'] = value
            run = log.uuid
        with SQLiteLog(path, uuid=run) as again:
            assert same(again[1]['v'], value)

    def test_nan_inf_and_negative_zero(self, path):
        with SQLiteLog(path) as log:
            log[0].update({'nan': float('nan'), 'inf': float('-inf'),
                           'zero': -0.0})
            run = log.uuid
        with SQLiteLog(path, uuid=run) as again:
            assert math.isnan(again[0]['nan'])
            assert again[0]['inf'] == float('-inf')
            assert math.copysign(1, again[0]['zero']) == -1

    def test_keys_are_data(self, path):
        with SQLiteLog(path) as log:
            log[0]["it's \"quoted\"; DROP TABLE x"] = 1
            run = log.uuid
        with SQLiteLog(path, uuid=run) as again:
            assert list(again[0]) == ["it's \"quoted\"; DROP TABLE x"]


def test_a_status_key_deleted_by_another_handle_is_deleted(
        make_database_log):
    # A handle that never wrote the key deletes it: it must find its id.
    log = make_database_log()
    log.status['custom'] = [1, 2]
    log.close()
    again = make_database_log(uuid=log.uuid)
    del again.status['custom']
    again.close()
    reader = make_database_log(uuid=log.uuid, read_only=True)
    assert 'custom' not in reader.status


@pytest.mark.parametrize('commit_every', [1, 100])
def test_nan_and_inf_among_floats_read_back_from_head_and_chunks(
        make_database_log, commit_every):
    # Iterations of floats only, NaN and infinities among them (a loss
    # that diverged): batched as floats, packed into chunks past each
    # block, and read back as they were, from the buffer, the head and
    # the chunks, by row, history and records.
    def values(time):
        return {'loss': float('nan') if time % 7 == 0 else time / 8.0,
                'grad': float('inf') if time % 5 == 0 else -time / 4.0,
                'low': float('-inf') if time % 11 == 0 else 0.5}
    log = make_database_log(commit_every=commit_every)
    for time in range(1, 601):
        log.status['iterations_done'] = time
        log.current_row.update(values(time))
        if time in (300, 600):
            assert all(same(log[time][key], value)
                       for key, value in values(time).items())
    log.close()
    reader = make_database_log(uuid=log.uuid, read_only=True)
    for key in ('loss', 'grad', 'low'):
        history = reader.history(key)
        assert [time for time, _ in history] == list(range(1, 601))
        assert all(same(value, values(time)[key])
                   for time, value in history), key
    assert all(same(reader[time][key], value) for time in (7, 255, 256, 595)
               for key, value in values(time).items())
    assert sum(1 for time, key, value in reader.records()
               if value != value) == 600 // 7


@pytest.mark.parametrize('commit_every', [1, 3])
def test_iterations_done_set_where_it_was_deleted_or_a_list(
        make_database_log, commit_every):
    # A training loop's iterations_done (an int) set over a list changed
    # in place, and over its deletion: the int is what is written, and
    # is no longer watched for changes in place.
    log = make_database_log(commit_every=commit_every)
    log.status['iterations_done'] = [1]
    log.flush()
    log.status['iterations_done'].append(2)
    log.status['iterations_done'] = 4
    log.current_row['a'] = 1.0
    assert 'iterations_done' not in log._session.mutable
    del log.status['iterations_done']
    log.status['iterations_done'] = 5
    log.current_row['a'] = 2.0
    log.status['iterations_done'] = 6
    log.close()
    reader = make_database_log(uuid=log.uuid, read_only=True)
    assert reader.status['iterations_done'] == 6
    assert dict(reader[4]) == {'a': 1.0} and dict(reader[5]) == {'a': 2.0}


@pytest.mark.parametrize('value, change', [
    ([[1, 2], 3], lambda value: value[0].append(5)),
    ([{'a': 1}], lambda value: value[0].update(a=value[0]['a'] + 1)),
    ({'best': [1.0]}, lambda value: value['best'].insert(0, 0.5)),
    (([1],), lambda value: value[0].append(2)),
    ([1000, 2000], lambda value: value.__setitem__(1, value[1] + 1000)),
    ({'a': {'b': [None, 'x']}}, lambda value: value['a']['b'].reverse()),
    ([(1, 'a')], lambda value: value.append((2, ('b', None)))),
    ([(1, 'a')], lambda value: value.__setitem__(0, (3, 'c'))),
], ids=['list-in-list', 'dict-in-list', 'list-in-dict', 'list-in-tuple',
        'int-in-list', 'list-in-dict-in-dict', 'tuple-appended',
        'tuple-replaced'])
def test_a_status_value_changed_in_place_at_any_depth_is_committed(
        make_database_log, value, change):
    # The copy a commit compares a status value with shares only what
    # cannot change in place: a change anywhere in it is committed with
    # the next iteration, and so is the next change.
    log = make_database_log()
    log.status['value'] = value
    log.status['iterations_done'] += 1
    reader = make_database_log(uuid=log.uuid, read_only=True)
    expected = copy.deepcopy(value)
    for _ in range(2):
        change(log.status['value'])
        change(expected)
        log.status['iterations_done'] += 1
        assert reader.status['value'] == expected


#: Status lists that only a reference to them can change: of ints, and of
#: tuples of what cannot change in place (checkpoints' (epoch, path)).
FLAT_LISTS = pytest.mark.parametrize('key, items', [
    ('_epoch_ends', [1, 2, 3]),
    ('checkpoints', [(1, 'a.tar'), (2, ('b.tar', None)), (3, ())])],
    ids=['ints', 'tuples'])


@FLAT_LISTS
@pytest.mark.parametrize('commit_every', [1, 3])
@pytest.mark.parametrize('change', [
    lambda ends: ends.__setitem__(0, 99), lambda ends: ends.append(99),
    lambda ends: ends.reverse(), lambda ends: ends.clear(),
], ids=['an-item-set', 'appended', 'reversed', 'cleared'])
def test_a_status_list_held_and_changed_commits_later_is_committed(
        make_database_log, commit_every, change, key, items):
    # A loop that keeps a reference to the list and changes it through
    # that reference, many commits later, with no status read between:
    # the next commit stores the change.
    log = make_database_log(commit_every=commit_every)
    log.status.setdefault(key, [])
    ends = log.status[key]
    ends.extend(items)
    for _ in range(2 * commit_every + 1):
        log.status['iterations_done'] += 1
    expected = list(ends)
    for _ in range(2):
        change(ends)
        change(expected)
        for _ in range(commit_every):
            log.status['iterations_done'] += 1
        reader = make_database_log(uuid=log.uuid, read_only=True)
        assert list(reader.status[key]) == expected


@pytest.mark.parametrize('commit_every', [1, 3])
@pytest.mark.parametrize('reach', [
    lambda status: status['_epoch_ends'],
    lambda status: status.get('_epoch_ends'),
    lambda status: dict(status)['_epoch_ends'],
    lambda status: dict(status.items())['_epoch_ends'],
    lambda status: [value for value in status.values()
                    if type(value) is list][0],
    lambda status: copy.copy(status)['_epoch_ends'],
], ids=['getitem', 'get', 'dict', 'items', 'values', 'copy'])
def test_a_status_list_reached_changed_and_let_go_is_committed(
        make_database_log, commit_every, reach):
    # The list reached through the status, changed in place, and no
    # longer held when the commit comes: that commit stores the change.
    log = make_database_log(commit_every=commit_every)
    log.status['_epoch_ends'].extend([1, 2, 3])
    for _ in range(2 * commit_every + 1):
        log.status['iterations_done'] += 1
    for value in (99, 98):
        reach(log.status)[0] = value
        for _ in range(commit_every):
            log.status['iterations_done'] += 1
        reader = make_database_log(uuid=log.uuid, read_only=True)
        assert list(reader.status['_epoch_ends']) == [value, 2, 3]


def test_a_list_in_a_tuple_of_a_status_list_held_and_changed_later(
        make_database_log):
    # Not a list that only a reference to it can change: what its tuples
    # hold can change too, with the list itself let go.
    log = make_database_log()
    log.status['pairs'] = [(1, [2])]
    log.status['iterations_done'] += 1
    held = log.status['pairs'][0][1]
    for _ in range(3):
        log.status['iterations_done'] += 1
    held.append(3)
    log.status['iterations_done'] += 1
    reader = make_database_log(uuid=log.uuid, read_only=True)
    assert reader.status['pairs'] == [(1, [2, 3])]


@FLAT_LISTS
def test_a_status_list_that_nothing_else_holds_is_not_compared(
        make_database_log, key, items):
    # What keeps a commit's cost flat as a run ends epochs: the list of
    # their ends is compared with its copy only after it was handed out,
    # and at each commit while something else holds it.
    from blocks_log.database import status
    if status._ALONE is None:
        pytest.skip('reference counts do not tell here: every commit '
                    'compares')
    compared = []

    class Copy(list):
        def __eq__(self, other):
            compared.append(None)
            return list.__eq__(self, other)
        __hash__ = None

    log = make_database_log()
    log.status[key] = list(items)
    for _ in range(2):
        log.status['iterations_done'] += 1
    session = log._session
    stored, kept = session.mutable[key]
    session.mutable[key] = stored, Copy(kept)

    def compares(iterations):
        del compared[:]
        for _ in range(iterations):
            log.status['iterations_done'] += 1
        return len(compared)
    assert compares(5) == 0
    log.status[key]  # handed out, let go
    assert compares(5) == 1
    held = [log.status[key]]
    assert compares(5) == 5
    del held
    assert compares(5) == 1
    assert compares(5) == 0


def test_a_status_array_changed_in_place_is_committed(make_database_log):
    numpy = pytest.importorskip('numpy')
    log = make_database_log()
    log.status['value'] = [numpy.zeros(2), 1]
    log.status['iterations_done'] += 1
    log.status['value'][0][1] = 0.5
    log.status['iterations_done'] += 1
    reader = make_database_log(uuid=log.uuid, read_only=True)
    assert reader.status['value'][0].tolist() == [0.0, 0.5]


@pytest.mark.parametrize('when', ['set', 'resumed'])
def test_a_status_value_changed_as_it_is_encoded_is_committed_next(
        path, monkeypatch, when):
    # Another thread (the commit timer's) may change a status value while
    # it is encoded, as it is set or as resume() starts the next run with
    # it: that change is committed with the next iteration, never taken as
    # stored.
    log = SQLiteLog(path)
    value = [1]
    if when == 'resumed':
        log.status['value'] = value
        log.status['iterations_done'] += 1
    real_encode = codec.encode

    def encode_then_change(encoded, *args):
        stored = real_encode(encoded, *args)
        if encoded == [1] and value == [1]:
            value.append(2)  # as if by another thread, meanwhile
        return stored
    monkeypatch.setattr(codec, 'encode', encode_then_change)
    if when == 'set':
        log.status['value'] = value
    else:
        log.resume()
    log.status['iterations_done'] += 1
    reader = SQLiteLog(path, uuid=log.uuid, read_only=True)
    assert reader.status['value'] == [1, 2]
    reader.close()
    log.close()


def test_a_list_in_the_status_is_compared_by_the_identity_of_its_ints(
        path):
    # What keeps each commit's look at _epoch_ends (an int an epoch) from
    # growing costly in a run of many epochs: its copy holds the same
    # ints, which comparing finds identical without comparing them.
    # So too when it is set again (as Blocks' main loop ends an epoch),
    # after resume(), and after a pickle (a checkpoint each epoch), which
    # moves the live log on to a new run.
    log = SQLiteLog(path)
    log.status['_epoch_ends'].extend(range(1000, 6000, 1000))

    def end_an_epoch():
        log.status['_epoch_ends'] += [log.status['iterations_done']]
    for then in (lambda: None, end_an_epoch, log.resume,
                 lambda: pickle.dumps(log)):
        then()
        log.status['iterations_done'] += 1
        ends = log.status['_epoch_ends']
        _, copied = log._session.mutable['_epoch_ends']
        assert copied == ends and copied is not ends
        assert all(mine is theirs for mine, theirs in zip(copied, ends))
    log.close()


@pytest.mark.parametrize('commit_every', [1, 3])
def test_iterations_done_is_refused_where_writes_are(make_database_log,
                                                     commit_every):
    log = make_database_log(commit_every=commit_every)
    log.status['iterations_done'] = 2
    log.close()
    with pytest.raises(ClosedLogError):
        log.status['iterations_done'] = 3
    reader = make_database_log(uuid=log.uuid, read_only=True,
                               commit_every=commit_every)
    with pytest.raises(ReadOnlyLogError):
        reader.status['iterations_done'] += 1
    assert reader.status['iterations_done'] == 2


#: SQLite's bound on a text, BLOB or row, lowered for the test below:
#: above a chunk's row of SMALL_SPAN times, small enough that a few values
#: pass it together.
LENGTH = 2 ** 13
_NEAR_LIMIT = LENGTH - 1024 - 8  # what a value may take, with its tag


def _sized(size, fill):
    # A text or bytes whose stored form takes about `size` bytes.
    if isinstance(fill, int):
        return bytes([fill]) * size
    return fill * (size // len(fill.encode('utf-8')))


SIZES = st.one_of(st.integers(0, 40),
                  st.integers(_NEAR_LIMIT // 3, _NEAR_LIMIT))
SIZED = st.builds(_sized, SIZES, st.one_of(st.integers(0, 255),
                                           st.sampled_from('aé€😀')))
STEP = st.tuples(st.integers(0, 4), st.dictionaries(
    st.sampled_from(['a', 'b', 'c']),
    st.one_of(SIZED, st.floats(allow_nan=False), st.integers()),
    min_size=1))
#: For the tests that lower SQLite's limits (helpers.lower_sqlite_limits).
needs_setlimit = pytest.mark.skipif(
    not hasattr(sqlite3.Connection, 'setlimit'),
    reason='Python 3.11 and later set SQLite limits')


@needs_setlimit
@settings(max_examples=60, deadline=None,
          suppress_health_check=list(HealthCheck))
@given(commit_every=st.sampled_from([1, 2, 5, 1000]),
       steps=st.lists(STEP, min_size=1, max_size=30),
       in_status=st.lists(SIZED, max_size=4))
def test_values_that_pass_the_store_limit_together_are_kept(
        tmp_path_factory, monkeypatch, commit_every, steps, in_status):
    # Each value within what the store holds, several together past it, in
    # a commit's batch of a block, or a pack's batch of what is not a
    # number: the commit failed at each try ("string or blob too big"),
    # and every value it held was lost at exit.
    helpers.lower_sqlite_limits(monkeypatch, length=LENGTH)
    monkeypatch.setattr(chunks, 'SPAN', SMALL_SPAN)
    path = str(tmp_path_factory.mktemp('limit') / 'log.sqlite')
    model = {}
    with SQLiteLog(path, commit_every=commit_every) as log:
        assert log._session.store.max_value_size == LENGTH - 1024
        for index, value in enumerate(in_status):
            log.status['s{}'.format(index)] = value
        for back, values in steps:
            log.status['iterations_done'] += 1
            time = max(0, log.status['iterations_done'] - back)
            log[time].update(values)
            model.setdefault(time, {}).update(values)
        assert dict((t, dict(log[t])) for t in log) == model
        # Each piece is a row of its writer's: it never takes them for
        # another process's, and packs from memory on.
        assert log._session.store._packing[
            log._session.run.ref].fresh is not None
    with SQLiteLog(path, uuid=log.uuid, read_only=True) as reader:
        assert dict((t, dict(reader[t])) for t in reader) == model
        assert [reader.status['s{}'.format(index)] for index in range(
            len(in_status))] == in_status


@needs_setlimit
@pytest.mark.parametrize('wide', [False, True], ids=['arrays', 'floats'])
def test_a_value_written_after_a_commit_cut_into_pieces_wins(
        tmp_path, monkeypatch, wide):
    # Each piece of a commit takes a part of its own: a later commit's
    # batches are of parts above them all, and win. An iteration of many
    # floats is cut too.
    helpers.lower_sqlite_limits(monkeypatch, length=LENGTH)
    if wide:
        big = dict(('k{}'.format(index), float(index))
                   for index in range(LENGTH // 8))
    else:
        big = dict((key, _sized(_NEAR_LIMIT, fill)) for key, fill in zip(
            'abc', range(3)))
    with SQLiteLog(str(tmp_path / 'log.sqlite')) as log:
        log.status['iterations_done'] = 1
        log[1].update(big)
        log.status['iterations_done'] = 2  # a commit of pieces
        for key in big:
            log[1][key] = 2.0
        log[2]['x'] = 3.0
        log.status['iterations_done'] = 3  # one of batches at 1 and 2
        assert dict(log[1]) == dict.fromkeys(big, 2.0)
        assert committed(log.database, 'SELECT count(*) FROM '
                         'blocks_log_entries WHERE key < 0')[0][0] >= 4


class TestLineage:
    def test_tree_and_nearest_wins(self, path):
        root = SQLiteLog(path)
        for time in range(4):
            root[time]['loss'] = float(time)
        root.status['iterations_done'] = 3
        checkpoint = pickle.dumps(root)
        root[3]['loss'] = 30.0  # the live process, now in a child run
        root[4]['loss'] = 40.0
        root.close()
        branch = pickle.loads(checkpoint)
        branch.resume()
        branch[3]['loss'] = -3.0
        assert [branch[t]['loss'] for t in range(4)] == [0.0, 1.0, 2.0,
                                                         -3.0]
        assert 4 not in branch
        branch.close()
        with SQLiteLog(path, uuid=root.uuid) as live:
            assert [live[t]['loss'] for t in range(5)] == [
                0.0, 1.0, 2.0, 30.0, 40.0]

    def test_records_history_and_frame_through_lineage(self, path):
        log = SQLiteLog(path)
        log[1]['a'] = 1
        log[2]['a'] = 2
        log.resume()
        log[2]['a'] = 20
        log[3]['b'] = 3
        assert list(log.records()) == [(1, 'a', 1), (2, 'a', 20),
                                       (3, 'b', 3)]
        assert log.history('a') == [(1, 1), (2, 20)]
        assert len(log) == 3 and list(log) == [1, 2, 3]
        log.close()


class TestBlocksDatabase:
    @pytest.fixture
    def blocks_db(self, tmp_path):
        target = str(tmp_path / 'blocks.sqlite')
        shutil.copy(os.path.join(FIXTURES, 'blocks_log.sqlite'), target)
        with open(os.path.join(FIXTURES, 'expected.json')) as f:
            return target, json.load(f)['sqlite']

    @pytest.mark.parametrize('name', ['live_child', 'branch'])
    def test_reads_every_run_of_the_tree(self, blocks_db, name):
        pytest.importorskip('numpy')
        path, expected = blocks_db
        with SQLiteLog(path, uuid=expected[name + '_uuid'],
                       read_only=True) as log:
            assert log.status['iterations_done'] == expected[name][
                'iterations_done']
            assert log.status['_epoch_ends'] == expected[name]['_epoch_ends']
            assert dict((str(t), log[t]['loss']) for t in log
                        if 'loss' in log[t]) == expected[name]['loss_at']
            assert log[5]['saved_to'] == ('ckpt_5.tar',)
            assert log[5]['arr'].shape

    def test_new_runs_in_the_same_file(self, blocks_db):
        pytest.importorskip('numpy')
        path, expected = blocks_db
        before = committed(path, 'SELECT count(*) FROM entries')
        log = SQLiteLog(path, uuid=expected['live_child_uuid'])
        with pytest.raises(LogError, match='resume'):
            log[11]['loss'] = 1.0
        log.resume()
        log[11]['loss'] = 1.0
        assert log[10]['loss'] == 0.1 and log[11]['loss'] == 1.0
        log.close()
        assert committed(path, 'SELECT count(*) FROM entries') == before

    def test_pickled_code_is_never_run(self, blocks_db):
        path, expected = blocks_db
        evil = pickle.dumps(os.system)
        with sqlite3.connect(path) as connection:
            connection.execute("INSERT INTO entries VALUES (?, 99, 'x', ?)",
                               (expected['root_uuid'], evil))
        with SQLiteLog(path, uuid=expected['root_uuid'],
                       read_only=True) as log:
            refused = log[99]['x']
            assert isinstance(refused, placeholders.Undecodable)
            assert 'system' in refused.reason
            assert log[5]['saved_to'] == ('ckpt_5.tar',)


class TestBlocksFidelity:
    """What Blocks' SQLiteLog did, and where ours goes further (README)."""

    def test_rows_delete_pop_and_clear(self, path):
        log = SQLiteLog(path)
        log[1].update({'a': 1, 'b': 2, 'c': 3})
        log[2]['a'] = 1
        del log[1]['a']
        assert log[1].pop('b') == 2 and dict(log[1]) == {'c': 3}
        log[2].clear()
        assert list(log) == [1] and 2 not in log
        log.close()
        with SQLiteLog(path, uuid=log.uuid, read_only=True) as again:
            assert dict((t, dict(again[t])) for t in again) == {1: {'c': 3}}

    def test_a_key_written_again_after_deletion(self, path):
        with SQLiteLog(path) as log:
            log[1]['a'] = 1
            del log[1]['a']
            log[1]['a'] = 'back'
            assert dict(log[1]) == {'a': 'back'}
        with SQLiteLog(path, uuid=log.uuid, read_only=True) as again:
            assert dict(again[1]) == {'a': 'back'}

    def test_blocks_names(self, path):
        with SQLiteLog(path) as log:
            row = log[3]
            assert isinstance(row, SQLiteEntry)
            assert row.log is log and row.time == 3
            assert isinstance(log.status, SQLiteStatus)
            assert isinstance(log.conn, sqlite3.Connection)
            assert log.conn.execute(
                'SELECT count(*) FROM blocks_log_runs').fetchone() == (1,)

    def test_equality_and_hash_as_for_a_mapping(self, path):
        with SQLiteLog(path) as one, SQLiteLog(path) as two:
            one[1]['a'] = 1
            two[1]['a'] = 1
            assert one == two and one == {1: {'a': 1}}
            two[2]['b'] = 2
            assert one != two
            with pytest.raises(TypeError):
                hash(one)

    def test_a_status_value_changed_in_place_is_saved(self, path):
        log = SQLiteLog(path)
        reader = SQLiteLog(path, uuid=log.uuid, read_only=True)
        log.status['iterations_done'] = 4
        log.status['_epoch_ends'].append(4)  # as Blocks' main loop does
        log.status['history'] = {'best': [1.0]}
        log.status['history']['best'].append(0.5)
        log.status['iterations_done'] += 1
        assert reader.status['_epoch_ends'] == [4]
        assert reader.status['history'] == {'best': [1.0, 0.5]}
        log.status['_epoch_ends'].append(5)
        checkpoint = pickle.loads(pickle.dumps(log))
        assert checkpoint.status['_epoch_ends'] == [4, 5]
        assert reader.status['_epoch_ends'] == [4, 5]
        for each in (checkpoint, log, reader):
            each.close()

    def test_membership_is_one_indexed_query(self, path):
        with SQLiteLog(path) as writer:
            for time in range(500):
                writer[time]['v'] = time
        # Read by a reader: the writer knows what it last committed.
        with SQLiteLog(path, uuid=writer.uuid, read_only=True) as log:
            def member():
                assert 250 in log and 600 not in log
            queries = statements_of(log, member)
            selects = [q for q in queries if 'blocks_log_entries' in q]
            assert len(selects) == 2
            plan = log.conn.execute(
                'EXPLAIN QUERY PLAN ' + selects[0]).fetchall()
            assert 'SEARCH' in str(plan) and 'SCAN' not in str(plan)

    def test_history_decodes_only_its_key(self, path, monkeypatch):
        with SQLiteLog(path) as log:
            for time in range(100):
                log[time].update(('k{}'.format(key), (time, key))
                                 for key in range(10))
            log.flush()
            decoded = []
            real_decode = codec.decode
            monkeypatch.setattr(codec, 'decode', lambda stored, *args: (
                decoded.append(stored) or real_decode(stored, *args)))
            history = log.history('k3')
            assert history == [(time, (time, 3)) for time in range(100)]
            assert len(decoded) == 100

    def test_a_row_is_read_once_by_dict(self, path):
        with SQLiteLog(path) as writer:
            writer[5].update(('key{}'.format(index), index)
                             for index in range(2000))
        with SQLiteLog(path, uuid=writer.uuid, read_only=True) as log:
            rows = []
            queries = statements_of(log, lambda: rows.append(dict(log[5])))
            row, = rows
            assert row == dict(('key{}'.format(index), index)
                               for index in range(2000))
            reads = [q for q in queries if 'blocks_log_entries' in q]
            assert len(reads) == 1

    def test_a_row_read_again_sees_new_commits(self, path):
        with SQLiteLog(path) as log:
            log[5]['a'] = 1
            log.flush()
            reader = SQLiteLog(path, uuid=log.uuid, read_only=True)
            row = reader[5]
            assert dict(row) == {'a': 1}
            log[5]['b'] = 2
            log.flush()
            assert row['b'] == 2 and dict(row) == {'a': 1, 'b': 2}
            reader.close()

    def test_raw_bytes_in_a_blocks_database(self, tmp_path):
        path = str(tmp_path / 'blocks.sqlite')
        shutil.copy(os.path.join(FIXTURES, 'blocks_log.sqlite'), path)
        with open(os.path.join(FIXTURES, 'expected.json')) as f:
            root = json.load(f)['sqlite']['root_uuid']
        with sqlite3.connect(path) as connection:
            connection.execute("INSERT INTO entries VALUES (?, 98, 'raw', ?)",
                               (root, b'\x00\x01 not a pickle'))
        with SQLiteLog(path, uuid=root, read_only=True) as log:
            assert log[98]['raw'] == b'\x00\x01 not a pickle'


class TestChunks:
    """Numbers of past blocks are packed into chunks; everything reads back
    exactly as rows did (issue 15)."""

    @pytest.fixture(autouse=True)
    def small_blocks(self, monkeypatch):
        monkeypatch.setattr(chunks, 'SPAN', 4)

    def packed(self, path):
        return committed(path, 'SELECT count(*), coalesce(sum(count), 0) '
                               'FROM blocks_log_chunks')[0]

    def write(self, log, iterations, values):
        for _ in range(iterations):
            log.status['iterations_done'] += 1
            time = log.status['iterations_done']
            log.current_row.update(values(time))

    def test_numbers_are_packed_and_read_back_exactly(self, path):
        def values(time):
            return {'f': time / 3.0, 'i': time * 7 - 50, 'big': 2 ** 62,
                    'nan': float('nan') if time % 3 else -0.0,
                    'inf': float('-inf'), 'text': 'at {}'.format(time),
                    'flag': time % 2 == 0}
        with SQLiteLog(path) as log:
            self.write(log, 60, values)
        chunk_rows, packed_values = self.packed(path)
        assert chunk_rows > 50 and packed_values > 5 * 50
        assert count_entries(path) == 60 * 7  # a value packed is no row
        with SQLiteLog(path, uuid=log.uuid, read_only=True) as again:
            for time in range(1, 61):
                row = again[time]
                for key, expected in values(time).items():
                    assert same(row[key], expected), (time, key)
            assert [t for t, _ in again.history('nan')] == list(range(1, 61))
            assert list(again) == list(range(1, 61))
            frame_like = list(again.records())
            assert len(frame_like) == 60 * 7

    def test_late_writes_deletes_and_sparse_keys(self, path):
        with SQLiteLog(path) as log:
            self.write(log, 40, lambda time: dict(
                {'loss': float(time)},
                **({'rare': time} if time % 9 == 0 else {})))
            assert self.packed(path)[0] > 0
            log[2]['loss'] = 'rewritten'  # after its block was packed
            log[3]['loss'] = -3.0
            del log[5]['loss']
            log[6].clear()
            log.resume()
            log[7]['loss'] = 'child'
            del log[8]['loss']
            self.write(log, 12, lambda time: {'loss': -float(time)})
        with SQLiteLog(path, uuid=log.uuid, read_only=True) as again:
            times = [time for time, _ in again.history('loss')]
            assert times == sorted(set(times))
            history = dict(again.history('loss'))
            assert history[2] == 'rewritten' and history[3] == -3.0
            assert 5 not in history and 6 not in again and 8 not in history
            assert history[7] == 'child' and history[9] == 9.0
            assert history[52] == -52.0 and history[41] == -41.0
            assert again.history('rare') == [(9, 9), (18, 18), (27, 27),
                                             (36, 36)]
            assert 5 not in again and 6 not in again and 8 not in again
            assert dict(again[2]) == {'loss': 'rewritten'}
            assert list(again.records(start=1, stop=4)) == [
                (1, 'loss', 1.0), (2, 'loss', 'rewritten'), (3, 'loss', -3.0)]

    def test_a_read_sees_a_packing_commit_whole(self, path, monkeypatch):
        # The writer packs between the two statements of a read (chunks,
        # then rows): the read still sees one state of the file.
        writer = SQLiteLog(path)
        self.write(writer, 9, lambda time: {'v': float(time)})
        reader = SQLiteLog(path, uuid=writer.uuid, read_only=True)
        real_query = reader._session.store.db.query
        calls = []

        def query(statement, parameters=()):
            rows = real_query(statement, parameters)
            if 'blocks_log_chunks' in statement and not calls:
                calls.append(statement)
                self.write(writer, 8, lambda time: {'v': float(time)})
            return rows
        monkeypatch.setattr(reader._session.store.db, 'query', query)
        history = reader.history('v')
        assert calls
        assert [time for time, _ in history] == list(range(1, 9))
        writer.close()
        reader.close()

    @pytest.mark.parametrize('budget', [1500, 500])
    def test_a_thousand_keys_per_iteration(self, path, monkeypatch,
                                           budget):
        # More values in a block than a commit packs: a commit packs a
        # whole block all the same, and one at a time.
        monkeypatch.setattr(packing, 'PACK_VALUES', budget)
        keys = ['key{}'.format(index) for index in range(1000)]
        with SQLiteLog(path) as log:
            self.write(log, 12, lambda time: dict(
                (key, time + index / 1000.0)
                for index, key in enumerate(keys)))
        assert self.packed(path)[0] > 0
        assert committed(path, 'SELECT max(count) FROM blocks_log_chunks')[
            0][0] == 4
        with SQLiteLog(path, uuid=log.uuid, read_only=True) as again:
            for time in (1, 5, 12):
                assert dict(again[time]) == dict(
                    (key, time + index / 1000.0)
                    for index, key in enumerate(keys))
            assert again.history('key999') == [
                (time, time + 0.999) for time in range(1, 13)]

    def test_a_commit_packs_about_its_budget_of_a_backlog(self, path,
                                                          monkeypatch):
        # Blocks left unpacked by a writer (here, told none was due) are
        # packed a few at a time by the commits of the next, so that no
        # iteration takes the whole backlog; its close packs the rest.
        with monkeypatch.context() as patched:
            patched.setattr(run_packing.RunPacking, 'due', lambda self: False)
            with SQLiteLog(path) as log:
                self.write(log, 10 * 256, lambda time: dict(
                    ('k{}'.format(key), time / 2.0) for key in range(10)))
        assert self.packed(path)[0] == 0
        with SQLiteLog(path, uuid=log.uuid) as again:
            # The first commit of values finds where the run stands; the
            # next packs.
            self.write(again, 3, lambda time: {'k0': 0.5})
            packed, = committed(path, 'SELECT packed FROM blocks_log_runs')[0]
            # 40 values a block of 4: about PACK_VALUES of them.
            assert 0 < packed <= 4 * (packing.PACK_VALUES // 40 + 2)
        assert committed(path, 'SELECT packed FROM blocks_log_runs')[0][0] == (
            10 * 256)
        with SQLiteLog(path, uuid=log.uuid, read_only=True) as reader:
            assert reader.history('k9')[-2:] == [(2559, 1279.5),
                                                 (2560, 1280.0)]
            assert reader.history('k0')[-4:] == [
                (2560, 1280.0), (2561, 0.5), (2562, 0.5), (2563, 0.5)]

    def test_a_key_logged_now_and_then_is_packed(self, path):
        with SQLiteLog(path) as log:
            self.write(log, 200, lambda time: (
                {'rare': float(time)} if time % 25 == 0 else {}))
        rows = len(head_values(path))
        assert self.packed(path)[1] == 8 - rows and rows <= 1
        with SQLiteLog(path, uuid=log.uuid, read_only=True) as again:
            assert again.history('rare') == [(t, float(t))
                                             for t in range(25, 201, 25)]

    def test_blocks_without_numbers_are_skipped_to_the_next(self, path):
        # Block [4, 8) holds nothing; 9 is packed, not passed over.
        with SQLiteLog(path) as log:
            for times in ([1], [9, 17], [30], [31], [32], [33]):
                for time in times:
                    log[time]['v'] = float(time)
                log.flush()
            assert committed(path, 'SELECT count(*) FROM blocks_log_entries '
                                   'WHERE time = 9') == [(0,)]
            assert log.history('v')[:3] == [(1, 1.0), (9, 9.0), (17, 17.0)]

    def test_frames_from_chunks_and_rows(self, path):
        pytest.importorskip('pandas')
        with SQLiteLog(path) as log:
            self.write(log, 30, lambda time: dict(
                {'a': float(time)}, **({'b': time} if time > 10 else {})))
            log[20]['a'] = 'text'
        with SQLiteLog(path, uuid=log.uuid, read_only=True) as again:
            frame = again.to_dataframe()
            assert list(frame.index) == list(range(1, 31))
            assert frame.loc[20, 'a'] == 'text' and frame.loc[21, 'a'] == 21
            assert frame['b'].isna().sum() == 10 and frame.loc[30, 'b'] == 30
            part = again.to_dataframe(keys=['b'], start=12, stop=15)
            assert list(part.index) == [12, 13, 14]
            assert part['b'].tolist() == [12, 13, 14]

    def test_reopening_a_run_packs_on(self, path):
        with SQLiteLog(path) as log:
            self.write(log, 20, lambda time: {'v': float(time)})
        first = self.packed(path)[1]
        with SQLiteLog(path, uuid=log.uuid) as again:
            self.write(again, 20, lambda time: {'v': float(time)})
        with SQLiteLog(path, uuid=log.uuid, read_only=True) as again:
            assert again.history('v') == [(t, float(t)) for t in range(1, 41)]
        assert 0 < first < self.packed(path)[1]

    def test_a_file_of_version_2_is_migrated_and_reads_as_before(self,
                                                                 path):
        shutil.copy(os.path.join(FIXTURES, '..', 'blocks_log_0.1.sqlite'),
                    path)
        before = file_state(path)
        runs = blocks_log.list_runs(path)
        with SQLiteLog(path, uuid=runs[-1]['uuid'], read_only=True) as old:
            rows = dict((t, dict(old[t])) for t in old)
            status = dict(old.status)
        assert file_state(path) == before and rows
        with SQLiteLog(path, uuid=runs[-1]['uuid']) as writer:
            assert dict((t, dict(writer[t])) for t in writer) == rows
            self.write(writer, 10, lambda time: {'new': float(time)})
        assert committed(path, 'SELECT value FROM blocks_log_meta') == [(
            sql.SCHEMA_VERSION,)]
        with SQLiteLog(path, uuid=runs[-1]['uuid'], read_only=True) as again:
            assert dict(again.status)['epochs_done'] == status['epochs_done']
            assert dict(again[1])['train_loss'] == rows[1]['train_loss']


def test_each_commit_of_a_training_loop_is_a_part_of_its_own(tmp_path):
    # A later part wins where two batches hold a (time, key): each commit
    # gets the next, iterations committed in one statement too.
    from blocks_log.stores import batches
    from helpers import committed
    path = str(tmp_path / 'parts.sqlite')
    with SQLiteLog(path) as log:
        for step in range(6):
            log.current_row['x'] = float(step)
            log.status['iterations_done'] += 1
        log[5]['x'] = 1.0
        log.flush()
        rows = committed(path, 'SELECT time, key FROM blocks_log_entries '
                               'WHERE key < 0 ORDER BY time, key DESC')
    parts = [batches.part_of(key) for _, key in rows]
    assert [time for time, _ in rows] == [0, 1, 2, 3, 4, 5, 5]
    assert parts == sorted(set(parts))


def test_an_sqlite_older_than_upserts_is_named(tmp_path, monkeypatch):
    # Python's sqlite3 module as built with SQLite 3.22 (Ubuntu 18.04's):
    # no SQLite that old can be had here, so its version numbers stand in
    # for it. Opening says what is needed, before a file is made, rather
    # than fail at the first commit on a syntax error.
    path = str(tmp_path / 'old.sqlite')
    with SQLiteLog(path) as log:
        log[1]['loss'] = 0.5
    monkeypatch.setattr(sqlite3, 'sqlite_version_info', (3, 22, 0))
    monkeypatch.setattr(sqlite3, 'sqlite_version', '3.22.0')
    for where, options in ((path, {}), (path, {'read_only': True}),
                           (str(tmp_path / 'new.sqlite'), {}),
                           (':memory:', {})):
        with pytest.raises(LogDatabaseError, match=r'needs SQLite 3\.24\.0 '
                           r'or later, .* has SQLite 3\.22\.0'):
            SQLiteLog(where, **options)
    assert not os.path.exists(str(tmp_path / 'new.sqlite'))
    monkeypatch.undo()
    with SQLiteLog(path, uuid=log.uuid, read_only=True) as reader:
        assert reader[1]['loss'] == 0.5
