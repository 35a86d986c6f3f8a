"""Misuse, bad options, bad values, read-only opens and broken or hostile
files (SPEC sections 4 and 5): each gets a clear error, and nothing already
logged is lost or changed."""
import gc
import math
import os
import pickle
import sqlite3
import subprocess
import sys
import time as clock
import uuid
import warnings

import pytest

from blocks_log import SQLiteLog, codec, placeholders, runs
from blocks_log.errors import (ClosedLogError, LogDatabaseError,
                               LogWriteError, ReadOnlyLogError,
                               RunInUseError, SchemaVersionError,
                               UnknownRunError)
from blocks_log.stores import sqlite_checkpointer as checkpointer
from blocks_log.stores import sqlite_connection
from blocks_log.stores import sqlite_sql as sql

from test_codec import Opaque
from helpers import ROOT, committed, count_entries, file_state, run_python


@pytest.fixture
def path(tmp_path):
    return str(tmp_path / 'log.sqlite')


class TestOptions:
    @pytest.mark.parametrize('value, error', [
        (0, ValueError), (-5, ValueError), (2.5, TypeError),
        (True, TypeError), ('3', TypeError)])
    def test_commit_every_is_checked_when_the_log_is_made(self, path, value,
                                                          error):
        with pytest.raises(error, match='commit_every'):
            SQLiteLog(path, commit_every=value)
        assert not os.path.exists(path)

    @pytest.mark.parametrize('value, error', [
        (0, ValueError), (-1.5, ValueError), (float('inf'), ValueError),
        (float('nan'), ValueError), (True, TypeError), ('3', TypeError)])
    def test_commit_seconds_is_checked_when_the_log_is_made(self, path,
                                                            value, error):
        with pytest.raises(error, match='commit_seconds'):
            SQLiteLog(path, commit_seconds=value)
        assert not os.path.exists(path)

    def test_numpy_numbers_are_options_as_python_numbers(self, path):
        # A numpy float32 of seconds killed the commits' thread (an
        # Event.wait of it raised), and no timed commit came.
        numpy = pytest.importorskip('numpy')
        with SQLiteLog(path, commit_every=numpy.int64(3),
                       commit_seconds=numpy.float32(0.05)) as log:
            session = log._session
            assert (type(session.commit_every), session.commit_every) == (
                int, 3)
            assert type(session.commit_seconds) is float
            for time in range(1, 5):
                log.status['iterations_done'] = time
                log.current_row['a'] = time
            assert session.flushes == 1  # the commit of the first three
            waited = 0
            while session.flushes < 2 and waited < 30:
                clock.sleep(0.05)
                waited += 0.05
            assert session.flushes == 2  # the thread's, of iteration 4
            copy = pickle.loads(pickle.dumps(log, protocol=2))
        with copy:
            assert type(copy._session.commit_every) is int

    @pytest.mark.parametrize('name, value', [
        ('synchronous', 'OFF'), ('synchronous', 1), ('read_only', 'yes'),
        ('allow_pickle', 1), ('database', 3)])
    def test_other_options_are_checked(self, path, name, value):
        options = {'database': path}
        options[name] = value
        with pytest.raises((TypeError, ValueError), match=name):
            SQLiteLog(**options)
        assert not os.path.exists(path)

    def test_options_are_keyword_only(self, path):
        with pytest.raises(TypeError):
            SQLiteLog(path, uuid.uuid4())

    def test_unknown_option(self, path):
        with pytest.raises(TypeError, match='colour'):
            SQLiteLog(path, colour='red')


def _numpy_strings_beyond_unicode():
    numpy = pytest.importorskip('numpy')
    return numpy.array([0x41, 0x110000], dtype=numpy.uint32).view('<U1')


class TestValuesThatCannotBeStored:
    BAD = [
        ('value', lambda log: log[1].__setitem__('k', 'caf\udce9')),
        ('key', lambda log: log[1].__setitem__('k\udcff', 1.0)),
        ('recursive', lambda log: log[1].__setitem__('k', _recursive())),
        ('deep', lambda log: log[1].__setitem__('k', _deep())),
        ('status', lambda log: log.status.__setitem__('k', 'x\ud800')),
        ('update', lambda log: log[1].update({'ok': 1, 'k': '\ud800'})),
        # What a store would refuse at every commit after: PostgreSQL's
        # text holds no NUL, and its index of keys no key of 2,700 bytes.
        ('key with NUL', lambda log: log[1].__setitem__('k\x00', 1.0)),
        ('long key', lambda log: log[1].__setitem__('k' * 2800, 1.0)),
        ('status key with NUL', lambda log: log.status.__setitem__(
            'k\x00', 1)),
        # Code points a Python string cannot hold, which made the row and
        # every read of the run raise.
        ('numpy strings', lambda log: log[1].__setitem__(
            'k', _numpy_strings_beyond_unicode())),
        ('a numpy string', lambda log: log[1].__setitem__(
            'k', _numpy_strings_beyond_unicode()[1:].reshape(()))),
    ]

    @pytest.mark.parametrize('name, write', BAD, ids=[n for n, _ in BAD])
    def test_refused_at_write_time_and_later_commits_work(
            self, make_database_log, name, write):
        log = make_database_log()
        log.current_row['before'] = 0
        with pytest.raises(ValueError, match='k'):
            write(log)
        for _ in range(3):
            log.status['iterations_done'] += 1
            log.current_row['after'] = 1.0
        log.close()
        reader = make_database_log(uuid=log.uuid, read_only=True)
        assert dict((t, dict(reader[t])) for t in reader) == {
            0: {'before': 0}, 1: {'after': 1.0}, 2: {'after': 1.0},
            3: {'after': 1.0}}
        assert not any(key.startswith('k') for key in reader.status)

    def test_a_value_larger_than_the_store_holds(self, make_database_log):
        log = make_database_log()
        limit = log._session.store.max_value_size
        if make_database_log.backend == 'postgresql':
            assert limit == 2 ** 28
        else:  # SQLite's: 10**9 bytes a row, unless built otherwise
            assert limit == log.conn.getlimit(
                sqlite3.SQLITE_LIMIT_LENGTH) - 1024 if hasattr(
                    log.conn, 'getlimit') else 10 ** 9 - 1024
        for write in (lambda: log.current_row.__setitem__('k', b'x' * limit),
                      lambda: log.status.__setitem__('k', 'x' * (limit + 1))):
            with pytest.raises(ValueError, match="'k'.*holds at most"):
                write()
        log.status['iterations_done'] += 1
        log.current_row['after'] = 1.0
        log.close()
        reader = make_database_log(uuid=log.uuid, read_only=True)
        assert dict((t, dict(reader[t])) for t in reader) == {
            1: {'after': 1.0}}

    def test_numpy_longdouble(self, path):
        numpy = pytest.importorskip('numpy')
        with SQLiteLog(path) as log:
            with pytest.raises(TypeError, match="'loss'"):
                log[0]['loss'] = numpy.longdouble(0.5)
            log[0]['loss'] = 0.5
        assert count_entries(path) == 1

    @pytest.mark.parametrize('change', [
        lambda ends: ends.append(object()),
        lambda ends: ends.append(ends),
    ], ids=['an-object', 'itself'])
    def test_a_status_value_changed_in_place_into_nonsense(self, path,
                                                           change):
        log = SQLiteLog(path)
        change(log.status['_epoch_ends'])
        with pytest.warns(RuntimeWarning, match='_epoch_ends'):
            log.status['iterations_done'] += 1
        with warnings.catch_warnings():
            warnings.simplefilter('error')  # said once
            log.status['iterations_done'] += 1
            log.close()
        with SQLiteLog(path, uuid=log.uuid, read_only=True) as again:
            assert again.status['_epoch_ends'] == []
            assert again.status['iterations_done'] == 2


def _recursive():
    value = [1]
    value.append(value)
    return value


def _deep():
    value = 0
    for _ in range(codec.MAX_DEPTH + 1):
        value = {'k': value}
    return value


class TestMisuse:
    def test_closed(self, path):
        log = SQLiteLog(path)
        log.close()
        log.close()
        with pytest.raises(ClosedLogError, match='closed'):
            log[0]['a'] = 1
        with pytest.raises(ClosedLogError):
            list(log)

    @pytest.mark.parametrize('known', [False, True],
                             ids=['a-transaction', 'one-statement'])
    def test_full_disk_keeps_the_buffer(self, path, known):
        # The commit of a key never written takes a transaction; a commit
        # of known keys, one statement.
        log = SQLiteLog(path)
        if known:
            log[1]['big'] = 'x'
            log.flush()
        log.conn.execute('PRAGMA max_page_count = 1')
        pages = committed(path, 'PRAGMA page_count')[0][0]
        log.conn.execute(
            'PRAGMA max_page_count = {}'.format(pages))
        log[0]['big'] = 'x' * 100000
        with pytest.raises(LogWriteError, match='full'):
            log.flush()
        assert log[0]['big'] == 'x' * 100000
        log.conn.execute('PRAGMA max_page_count = 1000000')
        log.flush()
        run = log.uuid
        log.close()
        with SQLiteLog(path, uuid=run) as again:
            assert len(again[0]['big']) == 100000

    def test_a_failed_commit_keeps_its_status(self, path):
        # What a commit that failed was to write of the status (a new key,
        # a deleted one, iterations_done) is written by the next.
        log = SQLiteLog(path)
        log.status['gone'] = 1
        log.flush()
        pages = committed(path, 'PRAGMA page_count')[0][0]
        log.conn.execute('PRAGMA max_page_count = {}'.format(pages))
        log.status['note'] = 'x' * 100000
        del log.status['gone']
        with pytest.raises(LogWriteError, match='full'):
            log.status['iterations_done'] += 1
        log.conn.execute('PRAGMA max_page_count = 1000000')
        log.flush()
        run = log.uuid
        log.close()
        with SQLiteLog(path, uuid=run, read_only=True) as again:
            assert again.status['iterations_done'] == 1
            assert len(again.status['note']) == 100000
            assert 'gone' not in again.status

    @pytest.mark.parametrize('how', ['deleted', 'replaced', 'moved'])
    @pytest.mark.parametrize('key', ['loss', 'new'],
                             ids=['one-statement', 'a-transaction'])
    @pytest.mark.parametrize('options', [
        {}, {'commit_every': 10}, {'synchronous': 'FULL'}],
        ids=['each', 'every-10', 'full-sync'])
    def test_a_file_taken_from_under_its_writer_is_said(
            self, tmp_path, path, monkeypatch, how, key, options):
        # SQLite goes on writing a file deleted, moved or replaced under
        # it, where the path no longer reaches. The writer looks before a
        # commit (every LOOK_EVERY seconds; here, each commit): the commit
        # is refused, its values kept, no file is made at the path, nor the
        # one put there changed.
        monkeypatch.setattr(sqlite_connection, 'LOOK_EVERY', 0.0)
        log, written = SQLiteLog(path, **options), {}

        def iteration(log, loss, key='loss'):
            # A commit of a key never written takes a transaction.
            try:
                log.status['iterations_done'] += 1
            finally:
                log.current_row[key] = written[
                    log.status['iterations_done'], key] = loss
        for _ in range(3):
            iteration(log, 1.0)
        log.flush()
        other = str(tmp_path / 'other.sqlite')
        if how == 'deleted':
            for name in os.listdir(str(tmp_path)):
                os.remove(str(tmp_path / name))
        elif how == 'replaced':
            with SQLiteLog(other) as another:
                another[1]['x'] = 2.0
            os.replace(other, path)
        else:
            os.rename(path, other)
        there = file_state(path)
        with pytest.raises(LogWriteError) as raised:
            for _ in range(10):
                iteration(log, 2.0, key)
        assert path in str(raised.value)
        assert 'deleted or replaced' in str(raised.value)
        with pytest.raises(LogWriteError):
            iteration(log, 3.0)  # and so on
        with pytest.raises(LogWriteError):
            log.close()
        assert file_state(path) == there
        # Kept: committed before, or buffered since.
        assert dict((time_key, log[time_key[0]][time_key[1]])
                    for time_key in written) == written
        raised = None  # its traceback holds the log
        with pytest.warns(RuntimeWarning, match='lost at exit'):
            del log
            gc.collect()

    def test_a_relative_path_stays_where_the_log_was_opened(
            self, tmp_path, monkeypatch):
        # After a chdir (Hydra makes one), the look at the file (above) and
        # the connection of the checkpoints' thread (made at the first
        # checkpoint, after checkpointer.COMMITS commits) find the file the
        # log opened, not a new one in the new working directory.
        monkeypatch.setattr(sqlite_connection, 'LOOK_EVERY', 0.0)
        monkeypatch.chdir(tmp_path)
        log = SQLiteLog('log.sqlite')
        log.status['iterations_done'] += 1
        log.current_row['loss'] = 1.0
        elsewhere = tmp_path / 'elsewhere'
        elsewhere.mkdir()
        monkeypatch.chdir(elsewhere)
        for _ in range(checkpointer.COMMITS + 10):
            log.status['iterations_done'] += 1
            log.current_row['loss'] = 2.0
        log.resume()  # a new run, claimed in the file's -claims file
        with pytest.raises(RunInUseError):
            SQLiteLog(str(tmp_path / 'log.sqlite'), uuid=log.h_uuid)
        log.close()
        assert os.listdir(str(elsewhere)) == []
        with SQLiteLog(str(tmp_path / 'log.sqlite'), uuid=log.h_uuid,
                       read_only=True) as again:
            assert len(again) == checkpointer.COMMITS + 11
            assert again[checkpointer.COMMITS + 11]['loss'] == 2.0

    def test_a_symbolic_link_opens_the_file_it_links_to(self, tmp_path):
        # SQLite resolves the link (the -wal and -shm files lie beside the
        # file linked to); the claims and a reader's look for a WAL follow
        # it, whichever name each handle opened the file by.
        data, runs = tmp_path / 'data', tmp_path / 'runs'
        data.mkdir()
        runs.mkdir()
        os.symlink(str(data / 'log.sqlite'), str(runs / 'log.sqlite'))
        names = [str(data / 'log.sqlite'), str(runs / 'log.sqlite')]
        for by, other in [names, names[::-1]]:
            log = SQLiteLog(by)
            log.status['iterations_done'] += 1
            log.current_row['loss'] = 1.5
            log.flush()  # in the WAL: no checkpoint after one commit
            with pytest.raises(RunInUseError):
                SQLiteLog(other, uuid=log.h_uuid)
            with SQLiteLog(other, uuid=log.h_uuid, read_only=True) as reader:
                assert dict(reader[1]) == {'loss': 1.5}
                log.status['iterations_done'] += 1
                log.current_row['loss'] = float('nan')
                log.flush()
                assert reader.status['iterations_done'] == 2
                assert math.isnan(reader[2]['loss'])
            log.close()
        assert os.listdir(str(runs)) == ['log.sqlite']

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
        assert count_entries(path) == 400

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
        assert count_entries(path) == 5000

    def test_time_of_the_status_is_refused(self, path):
        with SQLiteLog(path) as log:
            with pytest.raises(ValueError, match='below {}'.format(
                    sql.STATUS_TIME)):
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

    def test_deleting_a_missing_key(self, path):
        with SQLiteLog(path) as log:
            with pytest.raises(KeyError):
                del log[0]['nothing']

    def test_pickle_opt_in(self, path):
        with SQLiteLog(path, allow_pickle=True) as log:
            log[0]['o'] = Opaque()
            run = log.uuid
        with SQLiteLog(path, uuid=run) as again:
            assert 'allow_pickle' in repr(again[0]['o'])
        with SQLiteLog(path, uuid=run, allow_pickle=True) as again:
            assert again[0]['o'] == Opaque()


def test_a_row_is_not_set_whole(make_database_log):
    # As in Blocks' SQLiteLog; said, rather than 'does not support item
    # assignment'. Its own row set back (log[t] |= values) is taken.
    log, other = make_database_log(), make_database_log()
    log[1]['kept'] = 1
    for time, row in [(1, {'a': 1}), (1, log[2]), (1, dict(log[1])),
                      (1, other[1])]:
        with pytest.raises(TypeError, match=r'log\[1\]\.update\(values\)'):
            log[time] = row
    with pytest.raises(ValueError, match='non-negative'):
        log[-1] = log[1]
    log[1] = log[1]
    assert dict((time, dict(log[time])) for time in log) == {1: {'kept': 1}}
    # Nor the status (its own taken back, as log.status |= values does).
    status = log.status
    for other in ({'iterations_done': 5}, other.status):
        with pytest.raises(AttributeError, match=r'log\.status\.update'):
            log.status = other
    log.status = status
    assert log.status is status and log.status['iterations_done'] == 0


class TestReadOnly:
    def test_read_only_never_writes(self, path):
        with SQLiteLog(path) as log:
            log[0]['a'] = 1
            run = log.uuid
        with SQLiteLog(path, uuid=run, read_only=True) as reader:
            assert reader[0]['a'] == 1
            with pytest.raises(ReadOnlyLogError, match='read-only'):
                reader[0]['a'] = 2
            with pytest.raises(ReadOnlyLogError, match='read-only'):
                reader.status['x'] = 1
        with pytest.raises(LogDatabaseError, match='no such file'):
            SQLiteLog(path + '.missing', uuid=run, read_only=True)
        assert not os.path.exists(path + '.missing')

    def test_stays_read_only_when_pickled(self, path):
        with SQLiteLog(path) as log:
            log[0]['a'] = 1
        with SQLiteLog(path, uuid=log.uuid, read_only=True) as reader:
            copy = pickle.loads(pickle.dumps(reader))
        assert copy.read_only and copy.uuid == log.uuid
        with pytest.raises(ReadOnlyLogError):
            copy[1]['a'] = 2
        copy.close()
        assert count_entries(path) == 1

    def test_changes_no_file(self, tmp_path, path):
        with SQLiteLog(path) as log:
            log[0]['a'] = 1
        before = file_state(path)
        with SQLiteLog(path, uuid=log.uuid, read_only=True) as reader:
            assert dict(reader[0]) == {'a': 1} and len(reader) == 1
            reader.to_dataframe if False else list(reader.records())
            dict(reader.status)
        assert file_state(path) == before
        assert sorted(os.listdir(str(tmp_path))) == ['log.sqlite',
                                                     'log.sqlite-claims']

    def test_never_switches_the_journal_to_wal(self, path):
        with SQLiteLog(path) as log:
            log[0]['a'] = 1
        connection = sqlite3.connect(path)
        connection.execute('PRAGMA journal_mode = DELETE')
        connection.close()
        before = file_state(path)
        with SQLiteLog(path, uuid=log.uuid, read_only=True) as reader:
            assert reader[0]['a'] == 1
        assert committed(path, 'PRAGMA journal_mode') == [('delete',)]
        assert file_state(path) == before

    def test_a_failed_open_changes_nothing(self, path):
        with SQLiteLog(path) as log:
            log[0]['a'] = 1
        before = file_state(path)
        for options in ({'uuid': uuid.uuid4()}, {'uuid': uuid.uuid4(),
                                                 'read_only': True}):
            with pytest.raises(UnknownRunError):
                SQLiteLog(path, **options)
        assert file_state(path) == before

    def test_a_run_named_by_what_names_none(self, path):
        # Bytes (a uuid's .bytes) had a .hex method taken for its digits.
        with SQLiteLog(path) as log:
            log[0]['a'] = 1
            named = log.uuid
        before = file_state(path)
        for name in (named.bytes, named.int, 1.5):
            for read_only in (False, True):
                with pytest.raises(TypeError, match=r'a run is named by a '
                                   r'uuid\.UUID or a str .*\({}\)'.format(
                                       type(name).__name__)):
                    SQLiteLog(path, uuid=name, read_only=read_only)
        assert file_state(path) == before
        with pytest.raises(TypeError, match=r'\(bytes\)'):
            runs.compare(path, [named.bytes])
        for name in (named, named.hex, str(named), named.hex[:6].upper()):
            with SQLiteLog(path, uuid=name, read_only=True) as reader:
                assert reader.uuid == named
            assert runs.compare(path, [name])[0]['key'] == 'a'

    def test_a_read_only_open_of_a_file_without_our_tables(self, path):
        connection = sqlite3.connect(path)
        connection.execute('CREATE TABLE other (x)')
        connection.close()
        before = file_state(path)
        with pytest.raises(UnknownRunError):
            SQLiteLog(path, uuid=uuid.uuid4(), read_only=True)
        with pytest.raises(UnknownRunError):
            SQLiteLog(path, uuid=uuid.uuid4())
        assert file_state(path) == before

    def test_a_checkpoint_whose_database_is_gone_makes_no_file(
            self, tmp_path, path):
        with SQLiteLog(path) as log:
            log[0]['a'] = 1
            checkpoint = pickle.dumps(log)
        os.remove(path)
        left = os.listdir(str(tmp_path))  # the writer's -claims file
        with pytest.raises(UnknownRunError, match='no such file'):
            pickle.loads(checkpoint)
        assert os.listdir(str(tmp_path)) == left

    def test_a_relative_path_is_kept_absolute_in_a_checkpoint(
            self, tmp_path, monkeypatch):
        monkeypatch.chdir(str(tmp_path))
        with SQLiteLog('relative.sqlite') as log:
            log[0]['a'] = 1
            checkpoint = pickle.dumps(log)
        elsewhere = tmp_path / 'elsewhere'
        elsewhere.mkdir()
        monkeypatch.chdir(str(elsewhere))
        with pickle.loads(checkpoint) as again:
            assert again[0]['a'] == 1
        assert os.listdir(str(elsewhere)) == []

    def test_a_file_on_read_only_media(self, tmp_path):
        source = tmp_path / 'media'
        source.mkdir()
        path = str(source / 'log.sqlite')
        with SQLiteLog(path) as log:
            log[0]['a'] = 1
        process = read_on_read_only_media(source, log.h_uuid)
        assert process.returncode == 0, process.stderr
        assert process.stdout.split('\n')[0] == "{'a': 1} 0"
        assert sorted(os.listdir(str(source))) == ['log.sqlite',
                                                   'log.sqlite-claims']

    @pytest.mark.parametrize('writer_open', [True, False])
    def test_its_connection_refuses_writes_too(self, path, writer_open):
        # Blocks' log.conn of a read-only log: SQLite itself refuses to
        # write through it, whether the file has a writer (and a WAL) or
        # not (read as immutable).
        log = SQLiteLog(path)
        log[0]['a'] = 1
        log.flush()
        if not writer_open:
            log.close()
        before = file_state(path)
        with SQLiteLog(path, uuid=log.uuid, read_only=True) as reader:
            assert dict(reader[0]) == {'a': 1}
            with pytest.raises(sqlite3.OperationalError, match='readonly'):
                reader.conn.execute('CREATE TABLE intruder (x)')
        log.close()
        if writer_open:
            assert 'intruder' not in str(committed(
                path, "SELECT name FROM sqlite_master"))
        else:
            assert file_state(path) == before

    def test_a_reading_process_changes_no_byte_after_a_killed_writer(
            self, path):
        # A writer killed leaves its -wal and its -shm index behind, and
        # the first connection after it rebuilt that index: a reading
        # process must not, nor write anything else.
        writer = subprocess.Popen(
            [sys.executable, os.path.join(ROOT, 'tests', 'writer.py'), path,
             '-1'], stdout=subprocess.PIPE, universal_newlines=True,
            env=dict(os.environ, PYTHONPATH=ROOT))
        run = writer.stdout.readline().strip()
        for _ in range(300):
            completed = int(writer.stdout.readline())
        writer.kill()
        writer.wait()
        before = file_state(path)
        assert set(before) == {'log.sqlite', 'log.sqlite-wal',
                               'log.sqlite-shm', 'log.sqlite-claims'}
        process = run_python('''
            import sys
            from blocks_log import SQLiteLog, list_runs
            list_runs(sys.argv[1])
            with SQLiteLog(sys.argv[1], uuid=sys.argv[2],
                           read_only=True) as log:
                print(len(log), len(list(log.records())),
                      log.status['iterations_done'])
            ''', path, run)
        assert process.returncode == 0, process.stderr
        rows, values, _ = map(int, process.stdout.split())
        assert rows >= completed and values >= 10 * completed
        assert file_state(path) == before

    def test_commits_left_in_a_wal_without_its_shm(self, tmp_path):
        # A writer killed on writable media, its files then made read-only
        # without the -shm: its last commits cannot be read there, and the
        # error says so rather than showing the file without them.
        source = tmp_path / 'media'
        source.mkdir()
        path = str(source / 'log.sqlite')
        writer = subprocess.Popen(
            [sys.executable, '-c', 'import sys; from blocks_log import '
             'SQLiteLog; log = SQLiteLog(sys.argv[1]); log[0]["a"] = 1; '
             'log.flush(); print(log.h_uuid, flush=True); sys.stdin.read()',
             path], stdin=subprocess.PIPE, stdout=subprocess.PIPE,
            universal_newlines=True, env=dict(os.environ, PYTHONPATH=ROOT))
        run = writer.stdout.readline().strip()
        writer.kill()
        writer.wait()
        os.remove(path + '-shm')
        process = read_on_read_only_media(source, run)
        if os.geteuid() != 0:
            pytest.skip('without root, SQLite makes no -shm either way')
        assert process.returncode != 0
        assert 'copy the database and its -wal file' in process.stderr


def read_on_read_only_media(source, run):
    """Read run `run` of source/log.sqlite in another process, with the
    directory read-only: as root, a read-only bind mount in a mount
    namespace of its own; otherwise without write permission."""
    reader = """
        import sys
        from blocks_log import SQLiteLog
        with SQLiteLog(sys.argv[1], uuid=sys.argv[2],
                       read_only=True) as log:
            print(dict(log[0]), log.status['iterations_done'])
        """
    path = str(source / 'log.sqlite')
    if os.geteuid() != 0:
        os.chmod(path, 0o444)
        os.chmod(str(source), 0o555)
        try:
            return run_python(reader, path, run)
        finally:
            os.chmod(str(source), 0o755)
    mount = source.parent / 'read-only'
    mount.mkdir(exist_ok=True)
    script = ('mount --bind {0} {1} && mount -o remount,ro,bind {1} && '
              'exec "$@"'.format(source, mount))
    try:
        process = run_python(reader, str(mount / 'log.sqlite'), run,
                             prefix=['unshare', '-m', 'sh', '-c', script,
                                     'sh'])
    except FileNotFoundError:
        pytest.skip('unshare is not installed')
    if process.returncode and 'mount:' in process.stderr:
        pytest.skip('cannot mount here: ' + process.stderr.strip())
    return process


class TestBrokenFiles:
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

    @pytest.mark.parametrize('name, says, read_only_says', [
        ('', 'must be a path', 'must be a path'),
        ('.', 'it is a directory', 'it is a directory'),
        ('/dev/null', 'it is not a regular file', 'not a regular file'),
        ('missing/log.sqlite', 'no such directory ', 'no such file'),
        ('a-file/log.sqlite', 'a-file is not a directory', 'no such file')])
    def test_a_path_that_cannot_be_a_database_says_why(
            self, tmp_path, monkeypatch, name, says, read_only_says):
        # Where SQLite says only "unable to open database file", or fails
        # at the first write (/dev/null, given to log nowhere, left
        # /dev/null-claims and /dev/null-journal).
        monkeypatch.chdir(tmp_path)
        (tmp_path / 'a-file').write_text('')
        for read_only in (False, True):
            with pytest.raises((LogDatabaseError, ValueError)) as raised:
                SQLiteLog(name, read_only=read_only)
            assert (read_only_says if read_only else says) in str(
                raised.value)
        assert os.listdir(str(tmp_path)) == ['a-file']
        assert not [name for name in os.listdir('/dev')
                    if name.startswith('null-')]

    def test_newer_schema(self, path):
        SQLiteLog(path).close()
        committed_write(path, "UPDATE blocks_log_meta SET value = 99")
        with pytest.raises(SchemaVersionError, match='99'):
            SQLiteLog(path)

    def test_schema_of_a_development_version(self, path):
        SQLiteLog(path).close()
        committed_write(path, "UPDATE blocks_log_meta SET value = 1")
        with pytest.raises(SchemaVersionError, match='development version'):
            SQLiteLog(path)

    @pytest.mark.parametrize('damage', [
        "UPDATE blocks_log_meta SET value = 'three'",
        "UPDATE blocks_log_meta SET value = NULL",
        "DELETE FROM blocks_log_meta"])
    def test_damaged_schema_version(self, path, damage):
        SQLiteLog(path).close()
        committed_write(path, damage)
        with pytest.raises(SchemaVersionError, match='damaged'):
            SQLiteLog(path)

    def test_a_foreign_table_of_our_name(self, path):
        committed_write(path, 'CREATE TABLE blocks_log_runs (name, score)')
        before = file_state(path)
        with pytest.raises(LogDatabaseError, match='blocks_log_runs'):
            SQLiteLog(path)
        assert file_state(path) == before

    def test_a_forged_value_reads_as_a_placeholder(self, path):
        from blocks_log.stores import batches
        with SQLiteLog(path) as log:
            log[0].update({'good': 1.5, 'bad': (1, 2)})
            log[1]['good'] = 2.5
        # The stored form of (1, 2) cut short, in the batch of time 0.
        (key, blob), = committed(path, 'SELECT key, value FROM '
                                       'blocks_log_entries WHERE time = 0')
        times, ids, values = batches.decode(0, blob)
        values = [b'J{"t":[1' if type(value) is bytes else value
                  for value in values]
        committed_write(path, 'UPDATE blocks_log_entries SET value = ? '
                              'WHERE time = 0', batches.encode(
                                  times, ids, values)[1])
        with SQLiteLog(path, uuid=log.uuid, read_only=True) as again:
            assert again[0]['good'] == 1.5 and again[1]['good'] == 2.5
            bad = again[0]['bad']
            assert isinstance(bad, placeholders.Undecodable)
            assert 'JSONDecodeError' in repr(bad)
            assert [key for _, key, _ in again.records()] == [
                'good', 'bad', 'good'] or len(list(again.records())) == 3

    @pytest.mark.parametrize('damage', ['truncate', 'overwrite'])
    def test_a_damaged_file_gives_our_error(self, path, damage):
        with SQLiteLog(path) as log:
            for time in range(2000):
                log[time]['v'] = 'x' * 50
        size = os.path.getsize(path)
        with open(path, 'r+b') as f:
            if damage == 'truncate':  # found when opening
                f.truncate(size // 2)
            else:  # found when reading the damaged pages
                f.seek(size // 2)
                f.write(b'\xff' * 4096)
        with pytest.raises(LogDatabaseError, match='malformed') as raised:
            with SQLiteLog(path, uuid=log.uuid, read_only=True) as again:
                list(again.records())
        assert not isinstance(raised.value, sqlite3.Error)
        assert 'log.sqlite' in str(raised.value)


def committed_write(path, statement, *parameters):
    connection = sqlite3.connect(path)
    with connection:
        connection.execute(statement, parameters)
    connection.close()
