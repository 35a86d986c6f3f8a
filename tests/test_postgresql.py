"""What is particular to PostgreSQLLog (issue 10), against a real server
that the tests start (tests/postgres_server.py): connections, errors,
values, claims, a dropped connection, a server restart, writers killed
and writers on several hosts, and copies between stores."""
import io
import math
import os
import signal
import subprocess
import sys
import textwrap

import pytest
from hypothesis import HealthCheck, given, settings

import blocks_log
from blocks_log import PostgreSQLLog, SQLiteLog
from blocks_log.copy import copy
from blocks_log.errors import (LogDatabaseError, LogWriteError,
                               ReadOnlyLogError, RunInUseError,
                               UnknownRunError)

from helpers import ROOT, in_child, run_python, within
from test_codec import VALUES, same
from test_processes import (KEYS, check_consistent, check_sigterm,
                            start_writer)

pytestmark = pytest.mark.skipif(sys.platform == 'win32', reason='POSIX')
if os.environ.get('BLOCKS_LOG_BARE'):
    pytest.importorskip('psycopg', reason='the bare environment')


@pytest.fixture
def dsn(postgresql_dsn):
    return postgresql_dsn


def schema_tables(dsn):
    import psycopg
    with psycopg.connect(dsn) as connection:
        return connection.execute(
            "SELECT count(*) FROM information_schema.tables WHERE "
            "table_schema = current_schema()").fetchone()[0]


class TestConnecting:
    def test_dsn_from_the_environment(self, dsn, monkeypatch):
        monkeypatch.setenv('BLOCKS_LOG_DSN', dsn)
        with blocks_log.BACKENDS['postgresql']() as log:
            log[0]['a'] = 1
        with PostgreSQLLog(dsn, uuid=log.uuid, read_only=True) as again:
            assert again[0]['a'] == 1

    def test_libpq_variables(self, postgres_server, monkeypatch):
        monkeypatch.delenv('BLOCKS_LOG_DSN', raising=False)
        for name, value in (('PGHOST', postgres_server.sockets),
                            ('PGPORT', str(postgres_server.port)),
                            ('PGUSER', 'blocks'),
                            ('PGDATABASE', 'blocks_log_test')):
            monkeypatch.setenv(name, value)
        with PostgreSQLLog() as log:
            assert 'blocks_log_test' in repr(log)

    @pytest.mark.parametrize('change, words', [
        (lambda s: s.url.replace(str(s.port), str(s.port + 1)),
         'cannot connect'),
        (lambda s: s.url.replace('secret-pw-1', 'wrong-pw'),
         'password authentication failed'),
        (lambda s: s.url.replace('blocks_log_test', 'no_such_db'),
         'no_such_db'),
        (lambda s: 'host=127.0.0.1 port=notaport', 'port'),
        (lambda s: 'postgresql://blocks:secret-pw-1@127.0.0.1:1:2/x',
         'invalid integer value'),
        (lambda s: 'hots=127.0.0.1 password=secret-pw-1', 'DSN'),
    ])
    def test_bad_connections_say_where_never_the_password(
            self, postgres_server, change, words):
        with pytest.raises(LogDatabaseError) as raised:
            PostgreSQLLog(change(postgres_server))
        message = str(raised.value)
        assert words in message and '\n' not in message
        assert 'secret-pw-1' not in message and 'wrong-pw' not in message
        assert '127.0.0.1' in message or 'DSN' in message

    def test_the_command_line_too(self, postgres_server, capsys):
        from blocks_log import cli
        bad = postgres_server.url.replace('secret-pw-1', 'wrong-pw')
        assert cli.main(['runs', bad]) == 2
        error = capsys.readouterr().err
        assert 'blocks_log_test at 127.0.0.1' in error
        assert 'wrong-pw' not in error and len(error.splitlines()) == 1


class TestValues:
    @settings(max_examples=40, deadline=None,
              suppress_health_check=list(HealthCheck))
    @given(value=VALUES)
    def test_values_round_trip(self, dsn, value):
        with PostgreSQLLog(dsn) as log:
            log[1]['v'] = value
        with PostgreSQLLog(dsn, uuid=log.uuid, read_only=True) as again:
            assert same(again[1]['v'], value)

    def test_what_jsonb_and_text_would_change(self, dsn):
        values = {'nan': float('nan'), 'ninf': float('-inf'),
                  'negative zero': -0.0, 'big': 2 ** 200, 'nul': 'a\x00b',
                  'bytes': b'\x00\xff', 'tuple': (1, ('x', None)),
                  'bool': True}
        with PostgreSQLLog(dsn) as log:
            log[3].update(values)
        with PostgreSQLLog(dsn, uuid=log.uuid, read_only=True) as again:
            for key, value in values.items():
                assert same(again[3][key], value), key
            assert math.copysign(1, again[3]['negative zero']) == -1

    def test_numpy_arrays(self, dsn):
        numpy = pytest.importorskip('numpy')
        with PostgreSQLLog(dsn) as log:
            log[0]['w'] = numpy.arange(6, dtype='float32').reshape(2, 3)
        with PostgreSQLLog(dsn, uuid=log.uuid, read_only=True) as again:
            w = again[0]['w']
            assert w.dtype == numpy.float32 and w.shape == (2, 3)


class TestReadOnly:
    def test_never_creates_tables(self, dsn):
        with pytest.raises(UnknownRunError):
            PostgreSQLLog(dsn, uuid='0' * 32, read_only=True)
        with pytest.raises(UnknownRunError):
            PostgreSQLLog(dsn, uuid='0' * 32)
        assert schema_tables(dsn) == 0

    def test_refuses_writes(self, dsn):
        with PostgreSQLLog(dsn) as log:
            log[0]['a'] = 1
        with PostgreSQLLog(dsn, uuid=log.uuid, read_only=True) as reader:
            with pytest.raises(ReadOnlyLogError):
                reader[0]['a'] = 2


class TestOneWriter:
    def test_second_open_refused_then_taken_after_close(self, dsn):
        log = PostgreSQLLog(dsn)
        with pytest.raises(RunInUseError, match='another log of this '
                           'process') as raised:
            PostgreSQLLog(dsn, uuid=log.uuid)
        assert log.h_uuid in str(raised.value)
        log.close()
        PostgreSQLLog(dsn, uuid=log.uuid).close()

    def test_a_killed_writer_does_not_hold_the_run(self, dsn):
        process, run = start_writer(dsn, -1)
        process.stdout.readline()
        with pytest.raises(RunInUseError):
            PostgreSQLLog(dsn, uuid=run)
        process.kill()
        process.wait()
        with PostgreSQLLog(dsn, uuid=run) as log:
            log[10 ** 6]['taken over'] = True

    def test_a_writer_of_another_role_is_refused(self, dsn, postgres_server):
        # PostgreSQL hides the sessions of other roles from
        # pg_stat_activity: a claim that looked there found the live
        # writer of a run dead, and let a writer of another role in.
        log = PostgreSQLLog(dsn)
        intruder = role_of_its_own(postgres_server, dsn, 'intruder')
        with pytest.raises(RunInUseError, match=log.h_uuid):
            PostgreSQLLog(intruder, uuid=log.uuid)
        log.close()
        PostgreSQLLog(intruder, uuid=log.uuid).close()

    def test_a_role_that_may_not_make_the_tables_is_told_what_to_do(
            self, dsn, postgres_server):
        # PostgreSQL 15 lets only the database's owner create in its public
        # schema: another role writes once they are made, and granted.
        schema = dsn.split('search_path=')[1].rstrip("'")
        postgres_server.psql(
            "DO $$ BEGIN CREATE ROLE guest LOGIN; EXCEPTION WHEN "
            "duplicate_object THEN NULL; END $$; GRANT USAGE ON SCHEMA {} "
            "TO guest".format(schema), 'blocks_log_test')
        guest = dsn.replace('user=blocks', 'user=guest')
        with pytest.raises(LogWriteError, match='permission denied for '
                           'schema .*grant this one SELECT, INSERT'):
            PostgreSQLLog(guest)
        PostgreSQLLog(dsn).close()
        postgres_server.psql(
            'GRANT SELECT, INSERT, UPDATE, DELETE ON ALL TABLES IN SCHEMA {0}'
            ' TO guest; GRANT USAGE ON ALL SEQUENCES IN SCHEMA {0} TO '
            'guest'.format(schema), 'blocks_log_test')
        with PostgreSQLLog(guest) as log:
            log.current_row['x'] = 1.5
        with PostgreSQLLog(dsn, uuid=log.uuid, read_only=True) as again:
            assert dict(again[0]) == {'x': 1.5}

    def test_after_resume_and_pickling_the_runs_are_held(self, dsn):
        import pickle
        log = PostgreSQLLog(dsn)
        log.resume()
        assert opens_in_another_process(dsn, log.h_uuid) == 'in use'
        checkpoint = pickle.loads(pickle.dumps(log))  # log moves on
        assert checkpoint.uuid != log.uuid
        for held in (log, checkpoint):
            assert opens_in_another_process(dsn, held.h_uuid) == 'in use'
        checkpoint.close()
        assert opens_in_another_process(dsn, checkpoint.h_uuid) == 'opened'
        log.close()

    @pytest.mark.filterwarnings('ignore:.*buffered values lost')
    def test_a_run_taken_while_the_connection_was_lost_is_not_written(
            self, dsn, postgres_server):
        from blocks_log.errors import LogWriteError
        log = PostgreSQLLog(dsn)
        log[1]['v'] = 1.0
        log.flush()
        backend = log._session.store.db.connection.info.backend_pid
        postgres_server.psql('SELECT pg_terminate_backend({})'.format(
            backend), 'blocks_log_test')
        # The session that held the run is gone: another writer takes it.
        other = PostgreSQLLog(dsn, uuid=log.uuid)
        other[2]['v'] = 2.0
        other.flush()
        log[3]['v'] = 3.0
        with pytest.raises(LogWriteError, match='taken over'):
            log.flush()
        with pytest.raises(LogWriteError, match='taken over'):
            log.flush()
        other.close()
        with PostgreSQLLog(dsn, uuid=log.uuid, read_only=True) as again:
            assert again.history('v') == [(1, 1.0), (2, 2.0)]


def role_of_its_own(postgres_server, dsn, role):
    """The DSN of `dsn`'s database and schema for another role, `role`,
    which may use every table there."""
    schema = dsn.split('search_path=')[1].rstrip("'")
    postgres_server.psql(
        "DO $$ BEGIN CREATE ROLE {0} LOGIN; EXCEPTION WHEN duplicate_object "
        "THEN NULL; END $$; GRANT ALL ON SCHEMA {1} TO {0}; GRANT ALL ON "
        "ALL TABLES IN SCHEMA {1} TO {0}; GRANT ALL ON ALL SEQUENCES IN "
        "SCHEMA {1} TO {0}".format(role, schema), 'blocks_log_test')
    return dsn.replace('user=blocks', 'user=' + role)


OPEN_FOR_WRITING = """
import sys
from blocks_log import PostgreSQLLog, RunInUseError
try:
    PostgreSQLLog(sys.argv[1], uuid=sys.argv[2]).close()
except RunInUseError:
    print('in use')
else:
    print('opened')
"""


def opens_in_another_process(dsn, run):
    """What another process gets opening run `run` for writing: ``'in
    use'`` or ``'opened'``."""
    process = run_python(OPEN_FOR_WRITING, dsn, run)
    assert process.returncode == 0, process.stderr
    return process.stdout.strip()


class TestLostConnections:
    def test_a_dropped_connection_loses_nothing(self, dsn, postgres_server):
        log = PostgreSQLLog(dsn)
        for _ in range(20):
            log.status['iterations_done'] += 1
            log.current_row['v'] = 1.0
            if log.status['iterations_done'] % 5 == 0:
                backend = log._session.store.db.connection.info.backend_pid
                postgres_server.psql('SELECT pg_terminate_backend({})'
                                     .format(backend), 'blocks_log_test')
        log.close()
        with PostgreSQLLog(dsn, uuid=log.uuid, read_only=True) as again:
            assert [t for t, _ in again.history('v')] == list(range(1, 21))

    @pytest.mark.parametrize('how', ['refused', 'lost'])
    def test_a_commit_that_did_not_land_forgets_the_key_ids_it_made(
            self, dsn, how):
        # A key never written gets its id in the commit's transaction; if
        # the server refuses that transaction (a constraint here, a full
        # disk in life), or the connection is lost in it and it runs
        # again, that id is not the key's: it is made again, and never
        # names the values of another key.
        import psycopg
        log = PostgreSQLLog(dsn)
        log.status['iterations_done'] += 1
        log.current_row['loss'] = 1.0
        log.flush()
        side = psycopg.connect(dsn, autocommit=True)
        if how == 'refused':
            side.execute('ALTER TABLE blocks_log_entries ADD CONSTRAINT '
                         'refused CHECK (false) NOT VALID')
        else:  # the backend ends itself, once, as the values go in
            side.execute('CREATE SEQUENCE once')
            side.execute(
                "CREATE FUNCTION lose() RETURNS trigger LANGUAGE plpgsql "
                "AS $$ BEGIN IF nextval('once') = 1 THEN PERFORM "
                "pg_terminate_backend(pg_backend_pid()); END IF; "
                "RETURN NULL; END $$")
            side.execute('CREATE TRIGGER lose BEFORE INSERT ON '
                         'blocks_log_entries FOR EACH STATEMENT EXECUTE '
                         'FUNCTION lose()')
        log.current_row['new'] = 2.0
        if how == 'refused':
            with pytest.raises(LogWriteError, match='refused'):
                log.flush()
            side.execute('ALTER TABLE blocks_log_entries DROP CONSTRAINT '
                         'refused')
        log.flush()
        with PostgreSQLLog(dsn) as other:  # the next key made
            other.current_row['other'] = 3.0
        log.current_row['new'] = 4.0
        log.close()
        side.close()
        with PostgreSQLLog(dsn, uuid=log.uuid, read_only=True) as again:
            assert dict(again[1]) == {'loss': 1.0, 'new': 4.0}

    def test_a_commit_that_loses_the_connection_each_time_is_an_error(
            self, dsn):
        # The server ends the session at each try of this commit (as at a
        # message over its 1 GB limit): it was sent again for ever, and the
        # training hung. It is an error after a few tries, and the values
        # stay buffered until a commit lands.
        import psycopg
        from blocks_log.stores.postgresql_connection import LOST_TRIES
        log = PostgreSQLLog(dsn)
        log.status['iterations_done'] += 1
        log.current_row['loss'] = 1.0
        log.flush()
        side = psycopg.connect(dsn, autocommit=True)
        side.execute('CREATE SEQUENCE tries')
        side.execute(
            "CREATE FUNCTION lose() RETURNS trigger LANGUAGE plpgsql AS $$ "
            "BEGIN PERFORM nextval('tries'); PERFORM "
            "pg_terminate_backend(pg_backend_pid()); RETURN NULL; END $$")
        side.execute('CREATE TRIGGER lose BEFORE INSERT ON blocks_log_entries'
                     ' FOR EACH STATEMENT EXECUTE FUNCTION lose()')
        log[2]['loss'] = 2.0
        with within(60), pytest.raises(
                LogWriteError, match='lost at each of 5 tries of this commit'):
            log.flush()
        assert side.execute('SELECT last_value FROM tries').fetchone() == (
            LOST_TRIES,)
        side.execute('DROP TRIGGER lose ON blocks_log_entries')
        side.close()
        log.close()
        with PostgreSQLLog(dsn, uuid=log.uuid, read_only=True) as again:
            assert list(again.history('loss')) == [(1, 1.0), (2, 2.0)]

    @pytest.mark.parametrize('keys', ['new', 'known'])
    def test_a_commit_larger_than_a_message_goes_in_several_statements(
            self, dsn, postgres_server, keys):
        # The server takes no message over 1 GB. Nine status values of 60
        # MB and an iteration's batch went as arrays of hex text, 1.08 GB:
        # the server ended the session at each try, and the commit was
        # sent again for ever. Each value is far below what a value holds.
        # Keys never written commit in a transaction, others in one
        # statement as a rule. Over TCP: psycopg sends as much over the
        # unix socket 4 times slower.
        size = 60 * 10 ** 6
        dsn = postgres_server.dsn + dsn[dsn.index(' options='):]
        log = PostgreSQLLog(dsn)
        names = ['s{}'.format(index) for index in range(9)]
        if keys == 'known':
            for name in names:
                log.status[name] = None
            log.current_row['x'] = 0.0
            log.status['iterations_done'] += 1
        for index, name in enumerate(names):
            log.status[name] = bytes([index]) * size
        log.current_row['x'] = 1.0
        with within(120):
            log.status['iterations_done'] += 1
        log.close()
        # Opened to write: its status is read once (a reader's, at each
        # read, a value of which reads them all).
        with PostgreSQLLog(dsn, uuid=log.uuid) as again:
            assert again.history('x') == [(0, 0.0)] * (keys == 'known') + [
                (log.status['iterations_done'] - 1, 1.0)]
            status = dict(again.status)
        for index, name in enumerate(names):
            value = status.pop(name)
            assert len(value) == size and value.count(index) == size

    @pytest.mark.parametrize('seed', range(2))
    def test_sigterm_with_readmes_handler_keeps_every_value_logged(
            self, dsn, seed):
        # The handler's SystemExit may land in psycopg: the connection
        # is closed, and the log, closing itself at exit, connects again.
        check_sigterm(dsn, seed, {'WRITER_COMMIT_EVERY': '100'},
                      PostgreSQLLog)

    def test_a_server_restart_loses_no_completed_iteration(
            self, postgres_server, dsn):
        process, run = start_writer(dsn, -1)
        for _ in range(50):
            process.stdout.readline()
        postgres_server.restart()
        for _ in range(50):
            completed = int(process.stdout.readline())
        process.send_signal(signal.SIGKILL)
        process.wait()
        with PostgreSQLLog(dsn, uuid=run, read_only=True) as log:
            assert check_consistent(log) >= completed
            assert len(log) >= completed

    def test_a_log_left_open_lets_its_process_exit_when_the_server_is_gone(
            self, postgres_server, dsn):
        # At exit, the log closes itself: it waits a few seconds for the
        # server (RECONNECT_AT_EXIT_FOR), not minutes, and says what it lost.
        process = subprocess.Popen([sys.executable, '-c', textwrap.dedent('''
            import sys
            from blocks_log import PostgreSQLLog
            log = PostgreSQLLog(sys.argv[1])
            log.status['iterations_done'] = 1
            log.current_row['loss'] = 1.0
            log.flush()
            log.current_row['late'] = 2.0  # buffered, never committed
            print('ready', flush=True)
            sys.stdin.readline()
            '''), dsn], stdin=subprocess.PIPE, stdout=subprocess.PIPE,
                                   stderr=subprocess.PIPE,
                                   universal_newlines=True,
                                   env=dict(os.environ, PYTHONPATH=ROOT))
        try:
            assert process.stdout.readline().strip() == 'ready'
            postgres_server.halt()
            _, errors = process.communicate('\n', timeout=120)
        finally:
            process.kill()
            postgres_server.start()
        assert process.returncode == 0
        assert 'buffered values lost at exit' in errors

    @pytest.mark.parametrize('seed', range(2))
    def test_kill_9(self, dsn, seed):
        process, run = start_writer(dsn, -1, span=4)
        for _ in range(20 + 40 * seed):
            completed = int(process.stdout.readline())
        process.send_signal(signal.SIGKILL)
        process.wait()
        with PostgreSQLLog(dsn, uuid=run, read_only=True) as log:
            assert check_consistent(log) >= completed


def make_keys_at_once(dsn, reverse, barrier, rounds, results):
    """A writer making 30 new keys each round, as another does at the same
    moment (`reverse`: in the opposite order); puts the errors it met and
    its run."""
    errors = []
    log = PostgreSQLLog(dsn)
    for round_ in range(rounds):
        names = ['k{}_{}'.format(round_, index) for index in range(30)]
        barrier.wait(timeout=60)
        log.status['iterations_done'] += 1
        for name in reversed(names) if reverse else names:
            log.current_row[name] = float(round_)
        try:
            log.flush()
        except LogWriteError as error:
            errors.append(str(error))
    log.close()
    results.put((errors, log.h_uuid))


@pytest.mark.parametrize('isolation', ['read committed', 'serializable'])
def test_writers_making_the_same_keys_at_once(postgres_server, isolation):
    # In opposite orders they deadlocked on the keys' index; under a
    # database's SERIALIZABLE (or REPEATABLE READ), "could not serialize
    # access": a commit failed, and a training loop with it.
    import multiprocessing
    import uuid
    database = 'keys_' + uuid.uuid4().hex[:12]
    postgres_server.psql('CREATE DATABASE {} OWNER blocks'.format(database))
    postgres_server.psql("ALTER DATABASE {} SET default_transaction_isolation"
                         " = '{}'".format(database, isolation))
    dsn = postgres_server.dsn.replace('dbname=blocks_log_test',
                                      'dbname=' + database)
    PostgreSQLLog(dsn).close()  # the tables
    context = multiprocessing.get_context('fork')
    barrier, results = context.Barrier(2), context.Queue()
    writers = [context.Process(target=make_keys_at_once, args=(
        dsn, reverse, barrier, 40, results)) for reverse in (False, True)]
    for writer in writers:
        writer.start()
    found = [results.get(timeout=120) for _ in writers]
    for writer in writers:
        writer.join()
        assert writer.exitcode == 0
    for errors, run in found:
        assert errors == []
        with PostgreSQLLog(dsn, uuid=run, read_only=True) as log:
            for round_ in range(40):
                assert dict(log[round_ + 1]) == dict(
                    ('k{}_{}'.format(round_, index), float(round_))
                    for index in range(30))


@pytest.fixture
def pooled(postgres_server, request):
    """``(pooled, direct)``: DSNs of a database of the test's own through
    pgbouncer pooling in the mode `request.param` (``'session'``,
    ``'transaction'``, or ``'session, as installed'``: refusing the
    startup parameter ``options``), and straight to the server."""
    import uuid
    from postgres_server import Pooler
    database = 'pooled_' + uuid.uuid4().hex[:12]
    postgres_server.psql('CREATE DATABASE {} OWNER blocks'.format(database))
    pooler = Pooler(postgres_server, request.param.split(',')[0],
                    ignore_options=',' not in request.param)
    yield pooler.dsn(database), postgres_server.dsn.replace(
        'dbname=blocks_log_test', 'dbname=' + database)
    pooler.stop()


def write_iterations(log, count):
    for _ in range(count):
        log.status['iterations_done'] += 1
        log.current_row['x'] = float(log.status['iterations_done'])


class TestPoolers:
    @pytest.mark.parametrize('pooled', ['transaction'], indirect=True)
    def test_in_transaction_mode_a_writer_is_refused_not_let_in(
            self, pooled):
        # pgbouncer pooling transactions runs each in whichever server
        # session is free (here, its one): a second writer there would take
        # the run that the session holds for the first, and write it too.
        dsn, direct = pooled
        log = PostgreSQLLog(dsn)
        write_iterations(log, 20)
        log.flush()
        for kwargs in ({'uuid': log.uuid}, {}):
            with pytest.raises(LogDatabaseError, match='pooler in '
                               'transaction mode'):
                PostgreSQLLog(dsn, **kwargs)
        for _ in range(2):  # each a client of its own
            with PostgreSQLLog(dsn, uuid=log.uuid, read_only=True) as reader:
                # Reading needs no session of its own, nor the statements
                # that psycopg prepares after five runs of one (a session
                # keeps an earlier client's, under the same names).
                for _ in range(6):
                    assert len(reader) == 20
                    assert reader.history('x')[-1] == (20, 20.0)
        write_iterations(log, 1)
        log.close()
        with PostgreSQLLog(direct, uuid=log.uuid, read_only=True) as again:
            assert again.history('x') == [(time, float(time))
                                          for time in range(1, 22)]

    @pytest.mark.parametrize('pooled', ['session, as installed'],
                             indirect=True)
    def test_a_pooler_refusing_options_is_said(self, pooled):
        dsn, _ = pooled
        with pytest.raises(LogDatabaseError, match='unsupported startup '
                           r'parameter: options\); a connection pooler'):
            PostgreSQLLog(dsn)

    @pytest.mark.parametrize('pooled', ['session'], indirect=True)
    def test_in_session_mode_writers_hold_their_runs(self, pooled):
        dsn, direct = pooled
        log = PostgreSQLLog(dsn)
        write_iterations(log, 20)
        log.flush()
        with pytest.raises(RunInUseError, match=log.h_uuid):
            PostgreSQLLog(dsn, uuid=log.uuid)
        with PostgreSQLLog(dsn) as other:
            write_iterations(other, 5)
        log.close()  # its server session goes back to the pool, reset
        with PostgreSQLLog(dsn, uuid=log.uuid) as again:
            write_iterations(again, 1)
        with PostgreSQLLog(direct, uuid=log.uuid, read_only=True) as again:
            assert again.history('x') == [(time, float(time))
                                          for time in range(1, 22)]


@pytest.mark.parametrize('first', ['child', 'parent'])
def test_fork(dsn, first):
    # Parent and child each keep what they wrote, whichever closes first.
    log = PostgreSQLLog(dsn)
    log[0]['parent'] = 0
    parent_done, child_go = os.pipe()

    def child():
        if first == 'parent':
            os.read(parent_done, 1)
        # A read first: the child's connection, opened by it, holds the
        # run as a forked child's does (the at-fork hook told the store).
        assert list(log)[:1] == [0]
        log[1]['child'] = 1
        log.close()
    pid = in_child(child)
    if first == 'child':
        assert os.waitpid(pid, 0)[1] == 0
    log[2]['parent'] = 2
    log.close()
    os.write(child_go, b'x')
    if first == 'parent':
        assert os.waitpid(pid, 0)[1] == 0
    with PostgreSQLLog(dsn, uuid=log.uuid, read_only=True) as again:
        assert dict((t, dict(again[t])) for t in again) == {
            0: {'parent': 0}, 1: {'child': 1}, 2: {'parent': 2}}


def test_a_read_sees_a_packing_commit_whole(dsn, monkeypatch):
    # The writer packs between the statements of a read (chunks, then
    # rows): the read still sees one state of the database, not the
    # blocks packed meanwhile missing from both.
    from blocks_log.stores import chunks
    monkeypatch.setattr(chunks, 'SPAN', 4)
    writer = PostgreSQLLog(dsn)

    def write(iterations):
        for _ in range(iterations):
            writer.status['iterations_done'] += 1
            writer.current_row['v'] = float(writer.status['iterations_done'])
        writer.flush()
    write(9)
    reader = PostgreSQLLog(dsn, uuid=writer.uuid, read_only=True)
    store = reader._session.store
    real_chunks = store._chunks
    calls = []

    def chunks_then_a_packing(*arguments, **options):
        found = real_chunks(*arguments, **options)
        if not calls:
            calls.append(None)
            write(12)
        return found
    monkeypatch.setattr(store, '_chunks', chunks_then_a_packing)
    history = reader.history('v')
    assert calls
    assert [time for time, _ in history] == list(range(1, 10))
    writer.close()
    reader.close()


def test_copy_there_and_back(postgresql_url, tmp_path, monkeypatch):
    from blocks_log.stores import chunks
    monkeypatch.setattr(chunks, 'SPAN', 4)
    source = str(tmp_path / 'source.sqlite')
    with SQLiteLog(source) as log:
        for time in range(30):
            log[time].update({'f': time / 7.0, 'i': time, 'x': (time, 'x')})
        log[3]['nan'] = float('nan')
        log.resume()
        del log[4]['f']
        log[31]['bytes'] = b'\x00'
        log.status['custom'] = {'a': [1.5]}
    url = postgresql_url
    assert [state for _, state in copy(source, url)] == ['copied'] * 2
    assert [state for _, state in copy(source, url)] == ['present'] * 2
    back = str(tmp_path / 'back.sqlite')
    copy(url, back)
    for run in blocks_log.list_runs(source):
        with SQLiteLog(source, uuid=run['uuid'], read_only=True) as a, \
                PostgreSQLLog(url, uuid=run['uuid'], read_only=True) as b, \
                SQLiteLog(back, uuid=run['uuid'], read_only=True) as c:
            for other in (b, c):
                assert all(same(x, y) for x, y in zip(
                    a.records(), other.records()))
                assert len(list(a.records())) == len(list(other.records()))
                assert dict(other.status) == dict(a.status)


def test_the_dsn_a_log_took_is_a_source(postgresql_dsn, tmp_path,
                                        monkeypatch):
    # libpq's key=value DSN, as PostgreSQLLog took it, names the database
    # to every reader too (it was taken for a file: "no such file"),
    # unless a file has that name.
    from blocks_log import cli
    from blocks_log.sources import is_postgresql
    assert '=' in postgresql_dsn and not is_postgresql(
        postgresql_dsn.replace('host=', 'host '))
    with PostgreSQLLog(dsn=postgresql_dsn) as log:
        log[3]['loss'] = 0.25
    assert [run.uuid for run in blocks_log.list_runs(postgresql_dsn)] == [
        log.h_uuid]
    out = io.StringIO()
    assert cli.main(['export', postgresql_dsn, '--format', 'csv'],
                    out=out) == 0
    assert out.getvalue().splitlines() == ['time,loss', '3,0.25']
    monkeypatch.chdir(tmp_path)
    with SQLiteLog('dbname=runs') as there:
        there[1]['loss'] = 0.5
    assert [run.uuid for run in blocks_log.list_runs('dbname=runs')] == [
        there.h_uuid]


@pytest.mark.skipif(os.geteuid() != 0, reason='network namespaces need root')
def test_sixteen_writers_on_four_hosts(postgres_server, postgresql_dsn):
    from hosts import namespaces
    schema = postgresql_dsn.split('search_path=')[1].rstrip("'")
    with namespaces(4) as hosts:
        writers = []
        for index in range(16):
            host = hosts[index % 4]
            dsn = ("host={} port={} dbname=blocks_log_test user=blocks "
                   "password=secret-pw-1 options='-c search_path={}'".format(
                       host.server_address, postgres_server.port, schema))
            process = subprocess.Popen(
                host.command([sys.executable, os.path.join(
                    ROOT, 'tests', 'writer.py'), dsn, '2000']),
                stdout=subprocess.PIPE, universal_newlines=True)
            writers.append((process, process.stdout.readline().strip()))
        for process, _ in writers:
            assert process.communicate(timeout=300)[0].split()[-1] == '1999'
            assert process.returncode == 0
    for _, run in writers:
        with PostgreSQLLog(postgresql_dsn, uuid=run, read_only=True) as log:
            assert check_consistent(log) == 2000
            assert len(log) == 2000 and sum(
                len(times) for times, _ in log._session.read_series(
                    ).values()) == 2000 * len(KEYS)


def test_a_database_of_version_4_is_read_and_written_on(dsn):
    # Version 4 kept a row per value in the head; version 5 writes a batch
    # per commit. A run of version 4 (more than a block of rows, never
    # packed, as a writer killed before packing leaves it) reads as it is,
    # read-only leaves it at 4, and a writer that goes on with it brings
    # the database to 5, packs the old rows from the database, and every
    # value reads back.
    import psycopg
    from blocks_log.stores import postgresql_sql
    with PostgreSQLLog(dsn) as log:
        uuid = log.h_uuid
    model = dict((time, {'loss': time * 0.25, 'step': time})
                 for time in range(1, 301))
    with psycopg.connect(dsn) as connection:
        connection.execute("UPDATE blocks_log_meta SET value = 4 "
                           "WHERE name = 'schema_version'")
        ref, = connection.execute('SELECT id FROM blocks_log_runs WHERE '
                                  'uuid = %s', (uuid,)).fetchone()
        ids = {}
        for name in ('loss', 'step', 'iterations_done'):
            connection.execute(postgresql_sql.INSERT_KEY, (name,))
            ids[name], = connection.execute(postgresql_sql.SELECT_KEY_ID,
                                            (name,)).fetchone()
        connection.cursor().executemany(
            'INSERT INTO blocks_log_entries (run, key, time, f, i) '
            'VALUES (%s, %s, %s, %s, %s)',
            [(ref, ids['loss'], time, values['loss'], None)
             for time, values in model.items()] +
            [(ref, ids['step'], time, None, values['step'])
             for time, values in model.items()])
        connection.execute(
            'UPDATE blocks_log_entries SET i = 300 WHERE run = %s AND '
            'key = %s AND time = %s', (ref, ids['iterations_done'],
                                       postgresql_sql.STATUS_TIME))

    def version():
        with psycopg.connect(dsn) as connection:
            return connection.execute(postgresql_sql.SELECT_SCHEMA_VERSION
                                      ).fetchone()[0]

    def check(log):
        assert list(log) == sorted(model)
        for time, values in model.items():
            assert log[time] == values
        assert log.history('loss') == [(time, values['loss']) for
                                       time, values in sorted(model.items())]
        assert log.last_time() == max(model)
    with PostgreSQLLog(dsn, uuid=uuid, read_only=True) as reader:
        assert reader.status['iterations_done'] == 300
        check(reader)
    assert version() == 4
    with PostgreSQLLog(dsn, uuid=uuid) as log:
        for time in range(301, 601):
            log.status['iterations_done'] = time
            log.current_row['loss'] = time * 0.25
            log.current_row['step'] = time
            model[time] = {'loss': time * 0.25, 'step': time}
        log.flush()
        check(log)
    assert version() == postgresql_sql.SCHEMA_VERSION
    with psycopg.connect(dsn) as connection:
        batches, rows = connection.execute(
            'SELECT count(*) FILTER (WHERE key < 0), count(*) FILTER (WHERE '
            'key >= 0 AND time < %s) FROM blocks_log_entries WHERE run = %s',
            (postgresql_sql.STATUS_TIME, ref)).fetchone()
        chunks, = connection.execute('SELECT count(*) FROM blocks_log_chunks '
                                     'WHERE run = %s', (ref,)).fetchone()
    assert batches > 0 and rows == 0 and chunks >= 2
    with PostgreSQLLog(dsn, uuid=uuid, read_only=True) as reader:
        check(reader)
