"""Crash, concurrency and fork, with real processes (SPEC section 4)."""
import os
import random
import signal
import sqlite3
import subprocess
import sys
import threading
import warnings

import pytest

from blocks_log import SQLiteLog

from helpers import eventually, in_child

WRITER = os.path.join(os.path.dirname(os.path.abspath(__file__)),
                      'writer.py')
KEYS = ['value_{}'.format(index) for index in range(10)]

pytestmark = pytest.mark.skipif(sys.platform == 'win32',
                                reason='POSIX signals and fork')


def start_writer(database, iterations, pause=None, span=None, every=None):
    environment = dict(os.environ)
    if span is not None:
        environment['WRITER_SPAN'] = str(span)
    if every is not None:
        environment['WRITER_COMMIT_EVERY'] = str(every)
    process = subprocess.Popen(
        [sys.executable, WRITER, database, str(iterations)] + (
            [] if pause is None else [str(pause)]),
        stdin=subprocess.PIPE, stdout=subprocess.PIPE,
        universal_newlines=True, env=environment)
    run = process.stdout.readline().strip()
    return process, run


def check_consistent(log):
    """Every completed iteration of a run being written reads whole, and
    nothing is there that was not written: what was completed before the
    records were read is in them, what they hold was written before the
    status read after them."""
    done = log.status['iterations_done']
    rows = {}
    for time, key, value in log.records():
        rows.setdefault(time, {})[key] = value
    done_after = log.status['iterations_done']
    for time in range(1, done):
        assert rows[time] == dict((key, float(time)) for key in KEYS)
    assert all(time <= done_after for time in rows)
    return done


@pytest.mark.parametrize('span, every', [(None, 1), (3, 1), (3, 7)])
@pytest.mark.parametrize('seed', range(4))
def test_kill_9_keeps_every_completed_iteration(tmp_path, seed, span, every):
    # With small blocks, the kill often falls in a commit that packs: with
    # a commit each 7 iterations, in one that packs the blocks it moves
    # past from its own values.
    database = str(tmp_path / 'crash.sqlite')
    process, run = start_writer(database, -1, span=span, every=every)
    # The writer prints an iteration once status['iterations_done'] moved
    # past it, i.e. once it was committed; kill it a random while later.
    for _ in range(random.Random(seed).randint(5, 300) // every + 1):
        completed = int(process.stdout.readline())
    process.send_signal(signal.SIGKILL)
    process.wait()
    with sqlite3.connect(database) as connection:
        assert connection.execute('PRAGMA integrity_check').fetchall() == [
            ('ok',)]
        if span:
            assert connection.execute('SELECT count(*) FROM '
                                      'blocks_log_chunks').fetchone()[0]
    with SQLiteLog(database, uuid=run, read_only=True) as log:
        for time in range(1, completed + 1):
            assert dict(log[time]) == dict((key, float(time))
                                           for key in KEYS)
        assert log.status['iterations_done'] >= completed


@pytest.mark.parametrize('policy', [
    {'WRITER_COMMIT_EVERY': '1'}, {'WRITER_COMMIT_EVERY': '100'},
    {'WRITER_COMMIT_SECONDS': '60'}], ids=['each', 'every-100', '60-s'])
@pytest.mark.parametrize('seed', range(3))
def test_sigterm_with_readmes_handler_keeps_every_value_logged(
        tmp_path, seed, policy):
    # SIGTERM (SLURM's, Kubernetes') ends Python without its exit
    # handlers, unless a handler raises SystemExit: wherever that lands in
    # the loop, the log closes itself as the process exits, and holds
    # every value logged; without it, values not committed are lost, as
    # at kill -9.
    check_sigterm(str(tmp_path / 'term.sqlite'), seed, policy, SQLiteLog)


def check_sigterm(database, seed, policy, log_class):
    """A writer into `database` (with `policy`, its environment) stopped
    by SIGTERM a random while after it started, with README's handler:
    its log holds every value logged."""
    process = subprocess.Popen(
        [sys.executable, WRITER, database, '-1'], stdout=subprocess.PIPE,
        universal_newlines=True, env=dict(
            os.environ, WRITER_PRINT_EACH='1', WRITER_ON_SIGTERM='exit',
            WRITER_SPAN='16', **policy))
    run = process.stdout.readline().strip()
    for _ in range(random.Random(seed).randint(150, 400)):
        logged = int(process.stdout.readline())
    process.send_signal(signal.SIGTERM)
    process.communicate()
    assert process.returncode == 128 + signal.SIGTERM
    with log_class(database, uuid=run, read_only=True) as log:
        done = check_consistent(log)
        assert done >= logged
        assert dict(log[logged]) == dict(
            (key, float(logged)) for key in KEYS)
        assert set(log[done]) <= set(KEYS)
        assert all(value == float(done) for value in log[done].values())


@pytest.mark.parametrize('span', [None, 5])
def test_eight_writers_and_a_reader(tmp_path, span):
    # With small blocks, the reader reads while runs are being packed.
    database = str(tmp_path / 'shared.sqlite')
    SQLiteLog(database).close()  # the schema, so the reader can start
    writers = [start_writer(database, 300, pause=150, span=span)
               for _ in range(8)]
    # Each writer stops half-way: the reader sees exactly that much.
    for process, run in writers:
        lines = iter(process.stdout.readline, 'paused\n')
        assert list(lines)[-1] == '150\n'
        with SQLiteLog(database, uuid=run, read_only=True) as reader:
            assert check_consistent(reader) == 151
            assert list(reader) == list(range(1, 151))
    for process, _ in writers:
        process.stdin.write('go\n')
        process.stdin.flush()
    # While they all write, whatever the reader sees is whole.
    progress = dict((run, 0) for _, run in writers)
    while any(process.poll() is None for process, _ in writers):
        for _, run in writers:
            with SQLiteLog(database, uuid=run, read_only=True) as reader:
                done = check_consistent(reader)
                assert done >= progress[run]
                progress[run] = done
    for process, run in writers:
        rest = process.communicate()[0]
        assert process.returncode == 0
        assert rest.split()[-1] == '299'
        with SQLiteLog(database, uuid=run, read_only=True) as log:
            assert len(log) == 300
            assert check_consistent(log) == 300


def test_fork(tmp_path):
    database = str(tmp_path / 'fork.sqlite')
    log = SQLiteLog(database)
    log[0]['parent'] = 1  # buffered: flushed before the fork
    log.resume()
    child_run = log.h_uuid

    def child():  # writes through its own connection
        log[1]['child'] = 2
        log.close()
    assert os.waitpid(in_child(child), 0)[1] == 0
    log.status['iterations_done'] += 1
    log.close()
    with SQLiteLog(database, uuid=child_run, read_only=True) as again:
        assert dict(again[0]) == {'parent': 1}
        assert dict(again[1]) == {'child': 2}


@pytest.mark.parametrize('times', [[5], [5, 6]],
                         ids=['an-iteration', 'several-times'])
def test_parent_and_child_commit_the_same_time(tmp_path, times):
    # After a fork, parent and child count their commits alike: the
    # parent's batch of the same time and part finds the child's there,
    # keeps it, and goes again above it; nothing of either is lost. An
    # iteration's commit (values at one time and iterations_done) takes
    # one statement of its own, a commit of several times another.
    database = str(tmp_path / 'fork.sqlite')
    log = SQLiteLog(database)
    for time in times:
        log[time]['a'] = log[time]['b'] = 0.0
    log.status['iterations_done'] = 1

    def child():
        for time in times:
            log[time]['a'] = 1.0
        log.status['iterations_done'] = 7
        log.close()
    assert os.waitpid(in_child(child), 0)[1] == 0
    for time in times:
        log[time]['b'] = 2.0
    log.status['iterations_done'] = 7
    run = log.uuid
    log.close()
    with SQLiteLog(database, uuid=run, read_only=True) as again:
        for time in times:
            assert dict(again[time]) == {'a': 1.0, 'b': 2.0}


STOPPED_AS_IT_CLOSES = '''
import os, signal, sys
from blocks_log import SQLiteLog
from blocks_log.stores import claims

real_closing = claims.closing


class Stopping(object):
    # The gate taken as the writer closes its connection, and the
    # process stopped there, as Ctrl-Z would stop it.
    def __init__(self, database):
        self.gate = real_closing(database)

    def __enter__(self):
        self.gate.__enter__()
        os.kill(os.getpid(), signal.SIGSTOP)

    def __exit__(self, *exc_info):
        return self.gate.__exit__(*exc_info)


claims.closing = Stopping
log = SQLiteLog(sys.argv[1])
log[1]['loss'] = 0.5
log.flush()
print(log.h_uuid, flush=True)
log.close()
'''


def stopped(pid):
    with open('/proc/{}/stat'.format(pid)) as stat:
        return stat.read().rsplit(')', 1)[1].split()[0] == 'T'


@pytest.mark.skipif(not sys.platform.startswith('linux'),
                    reason='the gate is a Linux lock; /proc')
def test_a_writer_stopped_as_it_closes_holds_no_reader_for_ever(
        tmp_path, monkeypatch):
    # A reader waits at the gate while a writer closes the file (see
    # claims): for a writer stopped there, GATE_WAIT seconds, and then it
    # says why it cannot open the file, rather than wait for ever.
    from blocks_log.errors import LogDatabaseError
    from blocks_log.stores import claims
    path = str(tmp_path / 'log.sqlite')
    writer = subprocess.Popen([sys.executable, '-c', STOPPED_AS_IT_CLOSES,
                               path], stdout=subprocess.PIPE)
    try:
        uuid = writer.stdout.readline().decode().strip()
        assert eventually(lambda: stopped(writer.pid))
        monkeypatch.setattr(claims, 'GATE_WAIT', 0.5)
        with pytest.raises(LogDatabaseError) as refused:
            SQLiteLog(path, uuid=uuid, read_only=True)
        assert path in str(refused.value)
        assert 'stopped (Ctrl-Z, SIGSTOP)' in str(refused.value)
        os.kill(writer.pid, signal.SIGCONT)
        assert writer.wait(30) == 0
    finally:
        writer.kill()
        writer.wait()
    with SQLiteLog(path, uuid=uuid, read_only=True) as log:
        assert log.history('loss') == [(1, 0.5)]


STOPPED_AS_IT_OPENS = '''
import os, signal, sys
from blocks_log import SQLiteLog
from blocks_log.stores import claims

real_opening = claims.opening


class Stopping(object):
    # The gate taken as the reader first opens the file, and the process
    # stopped there, as Ctrl-Z would stop it.
    stops = 1

    def __init__(self, database):
        self.gate = real_opening(database)

    def __enter__(self):
        self.gate.__enter__()
        if Stopping.stops:
            Stopping.stops -= 1
            os.kill(os.getpid(), signal.SIGSTOP)

    def __exit__(self, *exc_info):
        return self.gate.__exit__(*exc_info)


claims.opening = Stopping
with SQLiteLog(sys.argv[1], uuid=sys.argv[2], read_only=True) as log:
    print(log.history('loss'), flush=True)
'''


@pytest.mark.skipif(not sys.platform.startswith('linux'),
                    reason='the gate is a Linux lock; /proc')
def test_a_reader_stopped_as_it_opens_holds_no_writer_for_ever(
        tmp_path, monkeypatch):
    # The other side of the gate: a writer closing the file waits for a
    # reader that opens it GATE_WAIT seconds, and then closes all the same,
    # and says so, rather than hold the training process at its exit for
    # ever. The reader, let go on, reads what the writer wrote.
    from blocks_log.stores import claims
    path = str(tmp_path / 'log.sqlite')
    log = SQLiteLog(path)
    log[1]['loss'] = 0.5
    log.flush()
    reader = subprocess.Popen([sys.executable, '-c', STOPPED_AS_IT_OPENS,
                               path, log.h_uuid], stdout=subprocess.PIPE,
                              stderr=subprocess.PIPE, universal_newlines=True)
    warned = []

    def close():
        with warnings.catch_warnings(record=True) as caught:
            warnings.simplefilter('always')
            log.close()
        warned.extend(caught)
    # In a thread, so that a writer that waits for ever fails the test.
    closer = threading.Thread(target=close)
    try:
        assert eventually(lambda: stopped(reader.pid))
        monkeypatch.setattr(claims, 'GATE_WAIT', 0.5)
        closer.start()
        closer.join(30)
        assert not closer.is_alive()
        assert [warning.category for warning in warned] == [RuntimeWarning]
        message = str(warned[0].message)
        assert path in message and 'stopped: Ctrl-Z, SIGSTOP' in message
        assert not os.path.exists(path + '-wal')  # closed: SQLite deleted it
        os.kill(reader.pid, signal.SIGCONT)
        out, err = reader.communicate(timeout=60)
        assert (reader.returncode, out) == (0, '[(1, 0.5)]\n'), err
    finally:
        reader.send_signal(signal.SIGCONT)  # no-op once it ended
        reader.kill()
        reader.communicate()
        if closer.is_alive():
            closer.join()
