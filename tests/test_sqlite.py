"""What is particular to SQLiteLog (SPEC sections 4 and 5): persistence,
lineage, Blocks' databases, values, misuse and corrupt files."""
import json
import math
import os
import pickle
import shutil
import sqlite3
import uuid

import pytest
from hypothesis import given, settings

from blocks_log import BACKENDS, SQLiteLog, sql
from blocks_log.errors import (ClosedLogError, LogDatabaseError, LogError,
                               LogWriteError, SchemaVersionError,
                               UnknownRunError)

from conftest import FIXTURES
from test_codec import VALUES, same


@pytest.fixture
def path(tmp_path):
    return str(tmp_path / 'log.sqlite')


# The committed values; the status is stored in the same table.
COUNT_ENTRIES = ('SELECT count(*) FROM blocks_log_entries '
                 'WHERE time < {}'.format(sql.STATUS_TIME))


def committed(path, query, *parameters):
    with sqlite3.connect(path) as connection:
        return connection.execute(query, parameters).fetchall()


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
        count = COUNT_ENTRIES
        assert committed(path, count) == [(0,)]
        assert log[0]['a'] == 1  # reads see the buffer
        log.status['iterations_done'] += 1
        assert committed(path, count) == [(1,)]
        log.current_row['b'] = 2
        log.flush()
        assert committed(path, count) == [(2,)]
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
        assert committed(path, COUNT_ENTRIES) == [(3 * sql.UPSERT_CHUNK + 7,)]
        with SQLiteLog(path, uuid=run) as again:
            assert again[3]['k3'] == 'again'
            assert again[7]['k{}'.format(sql.UPSERT_CHUNK + 7)] == (
                sql.UPSERT_CHUNK + 7)

    def test_commit_every(self, path):
        log = SQLiteLog(path, commit_every=3)
        count = COUNT_ENTRIES
        for _ in range(2):
            log.current_row['a'] = 1
            log.status['iterations_done'] += 1
        assert committed(path, count) == [(0,)]
        log.status['iterations_done'] += 1
        assert committed(path, count) == [(2,)]
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
            with pytest.raises(pickle.UnpicklingError, match='system'):
                log[99]['x']


class TestMisuse:
    def test_unknown_uuid_changes_nothing(self, path):
        with pytest.raises(UnknownRunError, match=uuid.UUID(int=1).hex):
            SQLiteLog(path, uuid=uuid.UUID(int=1))
        assert not os.path.exists(path) or committed(
            path, "SELECT name FROM sqlite_master") == []
        with pytest.raises(KeyError):
            SQLiteLog(path, uuid='not-a-uuid')

    def test_not_a_database(self, path):
        with open(path, 'wb') as f:
            f.write(b'this is not a database' * 100)
        with pytest.raises(LogDatabaseError, match='log.sqlite'):
            SQLiteLog(path)
        with open(path, 'rb') as f:
            assert f.read() == b'this is not a database' * 100

    def test_newer_schema(self, path):
        SQLiteLog(path).close()
        committed(path, "UPDATE blocks_log_meta SET value = 99")
        with pytest.raises(SchemaVersionError, match='99'):
            SQLiteLog(path)

    def test_schema_of_a_development_version(self, path):
        SQLiteLog(path).close()
        committed(path, "UPDATE blocks_log_meta SET value = 1")
        with pytest.raises(SchemaVersionError, match='development version'):
            SQLiteLog(path)

    def test_time_of_the_status_is_refused(self, path):
        with SQLiteLog(path) as log:
            with pytest.raises(ValueError, match='below 2 \\*\\* 63 - 1'):
                log[sql.STATUS_TIME]
            log[sql.STATUS_TIME - 1]['last'] = 1
            assert list(log) == [sql.STATUS_TIME - 1]
            assert list(log.records()) == [(sql.STATUS_TIME - 1, 'last', 1)]
            assert log.history('iterations_done') == []

    def test_bad_key_and_value_write_nothing(self, path):
        with SQLiteLog(path) as log:
            with pytest.raises(TypeError, match='keys must be strings'):
                log[0][1] = 1
            with pytest.raises(TypeError, match="object for key 'k'"):
                log[0]['k'] = object()
            with pytest.raises(TypeError):
                log[0].update({'ok': 1, 'bad': object()})
            assert dict(log[0]) == {}
            with pytest.raises(TypeError):
                log.status['k'] = object()
            assert 'k' not in log.status

    def test_closed(self, path):
        log = SQLiteLog(path)
        log.close()
        log.close()
        with pytest.raises(ClosedLogError, match='closed'):
            log[0]['a'] = 1
        with pytest.raises(ClosedLogError):
            list(log)

    def test_read_only_never_writes(self, path):
        with SQLiteLog(path) as log:
            log[0]['a'] = 1
            run = log.uuid
        with SQLiteLog(path, uuid=run, read_only=True) as reader:
            assert reader[0]['a'] == 1
            with pytest.raises(LogError, match='read-only'):
                reader[0]['a'] = 2
            with pytest.raises(LogError, match='read-only'):
                reader.status['x'] = 1
        with pytest.raises(LogDatabaseError, match='no such file'):
            SQLiteLog(path + '.missing', uuid=run, read_only=True)
        assert not os.path.exists(path + '.missing')

    def test_full_disk_keeps_the_buffer(self, path):
        log = SQLiteLog(path)
        log._db.connection.execute('PRAGMA max_page_count = 1')
        pages = committed(path, 'PRAGMA page_count')[0][0]
        log._db.connection.execute(
            'PRAGMA max_page_count = {}'.format(pages))
        log[0]['big'] = 'x' * 100000
        with pytest.raises(LogWriteError, match='full'):
            log.flush()
        assert log[0]['big'] == 'x' * 100000
        log._db.connection.execute('PRAGMA max_page_count = 1000000')
        log.flush()
        run = log.uuid
        log.close()
        with SQLiteLog(path, uuid=run) as again:
            assert len(again[0]['big']) == 100000

    def test_writes_from_another_thread(self, path):
        import threading
        log = SQLiteLog(path)

        def write(offset):
            for time in range(200):
                log[time]['t{}'.format(offset)] = time
                if time % 50 == 0:
                    log.flush()
        threads = [threading.Thread(target=write, args=(i,))
                   for i in range(2)]
        for thread in threads:
            thread.start()
        for thread in threads:
            thread.join()
        log.close()
        assert committed(path, COUNT_ENTRIES) == [(400,)]

    def test_writes_while_another_thread_flushes(self, path):
        # A write takes no lock: what is written while a flush runs is
        # committed by the next one, never dropped.
        import threading
        log = SQLiteLog(path)
        done = threading.Event()

        def write():
            for time in range(5000):
                log[time]['v'] = time
            done.set()
        writer = threading.Thread(target=write)
        writer.start()
        while not done.is_set():
            log.flush()
        writer.join()
        log.close()
        assert committed(path, COUNT_ENTRIES) == [(5000,)]

    def test_pickle_opt_in(self, path):
        from test_codec import Opaque
        with SQLiteLog(path, allow_pickle=True) as log:
            log[0]['o'] = Opaque()
            run = log.uuid
        with SQLiteLog(path, uuid=run) as again:
            assert 'allow_pickle' in repr(again[0]['o'])
        with SQLiteLog(path, uuid=run, allow_pickle=True) as again:
            assert again[0]['o'] == Opaque()
