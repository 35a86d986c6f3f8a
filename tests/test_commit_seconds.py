"""``commit_seconds``: a commit at least every so many seconds, at the end
of an iteration and, while the loop stalls, from the log's own thread;
what a crash loses is bounded by it (issue 21). Real processes, real
kill -9, on SQLite and PostgreSQL."""
import os
import signal
import subprocess
import sys
import textwrap
import threading
import time

import pytest

from blocks_log import LogWriteError
from blocks_log.database.commits import Commits
from blocks_log.database.session import Session
from conftest import backend_factories, use_backend
from helpers import ROOT, eventually, refuse_inserts, within
from interleaving import (WatchedLock, in_a_thread, line_start,
                          needs_instruction_events, offsets, stopping)

BACKENDS = ['sqlite-file', 'postgresql']
SECONDS = 0.2
# What a test waits at most for the thread's commit: a failure, not a
# slow machine, if it never comes.
PATIENCE = 30


@pytest.fixture(params=BACKENDS)
def backend(request, tmp_path, monkeypatch):
    dsn = use_backend(request.param, monkeypatch, request)
    factory = backend_factories(tmp_path, dsn)[request.param]
    made = []

    def make(**options):
        log = factory(**options)
        made.append(log)
        return log
    make.name, make.dsn, make.path = (request.param, dsn,
                                      str(tmp_path / 'log.sqlite'))
    yield make
    for log in made:
        log.close()


def reader(make, writer):
    """A read-only log of `writer`'s run, opened as another process
    would."""
    return make(uuid=writer.uuid, read_only=True)


def committed_times(make, writer):
    with reader(make, writer) as log:
        return [time for time in log if dict(log[time])]


def wait_for(condition):
    assert eventually(condition, PATIENCE), 'never happened'


def train(log, iterations):
    for _ in range(iterations):
        log.current_row['loss'] = float(log.status['iterations_done'])
        log.status['iterations_done'] += 1


def test_a_stalled_loop_commits_what_it_completed(backend):
    # Never by count; the thread commits the completed iterations once they
    # waited, and never the row being written.
    log = backend(commit_every=10 ** 6, commit_seconds=SECONDS)
    train(log, 3)
    log.current_row['half'] = 1.0  # the iteration still running
    wait_for(lambda: committed_times(backend, log) == [0, 1, 2])
    with reader(backend, log) as seen:
        assert 'half' not in dict(seen[3])
        assert seen.status['iterations_done'] == 3
    log.flush()
    with reader(backend, log) as seen:
        assert dict(seen[3]) == {'half': 1.0}


def test_an_iteration_commits_once_the_time_has_passed(backend):
    # The training thread's own check, as an iteration ends: an hour
    # passes (the clock of the last commit set back), the thread's first
    # look is an hour away.
    log = backend(commit_every=10 ** 6, commit_seconds=3600)
    train(log, 2)
    assert committed_times(backend, log) == []
    log._session.committed_at -= 3600
    train(log, 1)
    assert committed_times(backend, log) == [0, 1, 2]
    train(log, 1)
    assert committed_times(backend, log) == [0, 1, 2]


def test_alone_it_commits_with_time_not_each_iteration(backend):
    # commit_seconds without commit_every: what a long run asks for, a
    # commit every so often, not one each iteration as by default (the
    # first log); a checkpoint of it opens again the same.
    import pickle
    each = backend()
    train(each, 2)
    assert committed_times(backend, each) == [0, 1]
    log = backend(commit_seconds=3600)
    train(log, 3)
    assert committed_times(backend, log) == []
    log.flush()
    assert committed_times(backend, log) == [0, 1, 2]
    again = pickle.loads(pickle.dumps(log))
    try:
        train(again, 2)
        assert committed_times(backend, again) == [0, 1, 2]
    finally:
        again.close()


def test_alone_it_commits_whole_iterations_past_a_bound(backend):
    # In a loop faster than its time, a log in SQLite that commits with
    # time alone commits at the end of the iteration that took its buffer
    # past 2,048 values (smaller commits, a shorter slowest iteration),
    # never inside one; a log that counts iterations waits for its count,
    # and so does PostgreSQL, where a commit costs its round trips.
    from blocks_log.stores.sqlite import SQLiteStore
    bound = SQLiteStore.timed_commit_values
    width = 100
    whole = -(-bound // width)  # the iterations that pass it
    alone = backend(commit_seconds=3600)
    counting = backend(commit_every=10 ** 6, commit_seconds=3600)
    for log in (alone, counting):
        for index in range(whole - 1):
            for key in range(width):
                log.current_row['k{}'.format(key)] = float(index)
            log.status['iterations_done'] += 1
        for key in range(width):
            log.current_row['k{}'.format(key)] = 1.0
        assert committed_times(backend, log) == []
        log.status['iterations_done'] += 1
    assert committed_times(backend, counting) == []
    if backend.name == 'postgresql':
        assert committed_times(backend, alone) == []
        return
    assert committed_times(backend, alone) == list(range(whole))
    with reader(backend, alone) as seen:
        assert seen.status['iterations_done'] == whole
        assert dict(seen[whole - 2]) == dict(
            ('k{}'.format(key), float(whole - 2)) for key in range(width))


@pytest.mark.parametrize('kind', [bytes, str])
def test_large_values_are_committed_past_a_bound_in_bytes(backend, kind):
    # An array an iteration, committed by time: the buffer holds at most
    # MAX_PENDING_BYTES of them (and the value that passes it), committed
    # as it passes, inside an iteration too; then it counts again from
    # what it holds.
    from blocks_log.database.session import MAX_PENDING_BYTES
    size = MAX_PENDING_BYTES // 4
    value = (b'\x01' if kind is bytes else 'x') * size
    log = backend(commit_seconds=3600)
    for _ in range(3):
        log.current_row['image'] = value
        log.current_row['loss'] = 0.5  # a float: never counted
        log.status['iterations_done'] += 1
    assert committed_times(backend, log) == []
    log.current_row['image'] = value  # the fourth: the buffer is full
    assert committed_times(backend, log) == [0, 1, 2, 3]
    log.current_row['loss'] = 0.5
    for _ in range(2):
        log.status['iterations_done'] += 1
        log.current_row['image'] = value
    assert committed_times(backend, log) == [0, 1, 2, 3]
    log.flush()
    with reader(backend, log) as seen:
        assert [time for time, _ in seen.history('image')] == list(range(6))
        assert seen[5]['image'] == value


def test_a_commit_of_large_values_holds_one_batch_of_them(backend):
    # The commit that MAX_PENDING_BYTES of arrays call for holds, besides
    # the values buffered, one batch of them, made in one join: it made
    # five copies of them, three held at once. Python's memory, as
    # tracemalloc counts what is allocated after it starts: SQLite binds a
    # copy of its own, in its own; psycopg, one in Python's.
    import tracemalloc
    from blocks_log.database.session import MAX_PENDING_BYTES
    log = backend(commit_seconds=3600)
    for index in range(3):
        log.current_row['image'] = bytes([index]) * (MAX_PENDING_BYTES // 4)
        log.status['iterations_done'] += 1
    value = b'\x03' * (MAX_PENDING_BYTES // 4)
    tracemalloc.start()
    try:
        log.current_row['image'] = value  # the fourth: the buffer is full
        peak = tracemalloc.get_traced_memory()[1]
    finally:
        tracemalloc.stop()
    assert committed_times(backend, log) == [0, 1, 2, 3]
    # The value's own copy (a quarter of the bound), the batch (the
    # whole), the driver's copy of it, and little else.
    copies = 1 if backend.name == 'sqlite-file' else 2
    assert peak < (copies + 0.5) * MAX_PENDING_BYTES
    with reader(backend, log) as seen:
        assert [seen[index]['image'][:1] for index in range(4)] == [
            b'\x00', b'\x01', b'\x02', b'\x03']


def test_a_commit_each_iteration_counts_bytes_from_there(backend):
    # Each iteration committed as it ends: what it wrote is no longer
    # counted, and a large value inside the next waits for its end.
    from blocks_log.database.session import MAX_PENDING_BYTES
    value = b'\x01' * (MAX_PENDING_BYTES // 4)
    log = backend()
    for _ in range(8):
        log.current_row['image'] = value
        log.status['iterations_done'] += 1
    log.current_row['image'] = value
    assert committed_times(backend, log) == list(range(8))


def test_a_large_value_whose_commit_fails_stays_buffered(backend):
    # The commit that its bytes called for fails (the database refuses
    # it): the value is kept, and the next commit writes it.
    from blocks_log.database.session import MAX_PENDING_BYTES
    log = backend(commit_seconds=3600)
    log.current_row['loss'] = 0.5
    log.flush()
    refuse_inserts(log, 'blocks_log_entries', True)
    with pytest.raises(LogWriteError, match='not today'):
        log.current_row['image'] = b'\x01' * MAX_PENDING_BYTES
    with pytest.raises(LogWriteError, match='not today'):
        log.current_row['text'] = 'x' * 10  # past the bound: again
    refuse_inserts(log, 'blocks_log_entries', False)
    log.status['iterations_done'] += 1
    log.flush()
    with reader(backend, log) as seen:
        assert dict(seen[0]) == {'loss': 0.5, 'image': b'\x01' *
                                 MAX_PENDING_BYTES, 'text': 'x' * 10}


def test_closing_stops_the_thread(backend):
    log = backend(commit_seconds=SECONDS, commit_every=10)
    train(log, 1)
    assert any(thread.name == 'blocks_log commits'
               for thread in threading.enumerate())
    log.close()
    assert not any(thread.name == 'blocks_log commits'
                   for thread in threading.enumerate())


@needs_instruction_events
def test_closing_as_the_thread_waits_to_commit(backend):
    # The thread, due to commit, waits for the session's lock, which
    # close() holds as it commits: close() waited for the thread under that
    # lock, the whole timeout of its join (60 s). It waits for it once it
    # has let the lock go; the thread, given the lock, finds the log closed.
    log = backend(commit_every=10 ** 6, commit_seconds=SECONDS)
    session = log._session
    session.lock = WatchedLock(session.lock)
    train(log, 2)  # the thread runs, and has an iteration to commit
    flush = Commits._flush
    with within(PATIENCE), stopping(
            flush.__code__, line_start(flush, 'if not self.writable'),
            lambda: wait_for(lambda: session.lock.waiting)):
        log.close()
    assert not any(thread.name == 'blocks_log commits'
                   for thread in threading.enumerate())
    assert committed_times(backend, log) == [0, 1]


def test_a_checkpoint_keeps_the_bound(backend):
    import pickle
    log = backend(commit_seconds=SECONDS, commit_every=10 ** 6)
    train(log, 1)
    again = pickle.loads(pickle.dumps(log))
    try:
        assert again._session.commit_seconds == SECONDS
    finally:
        again.close()


WRITER = '''
import os, sys, time
from blocks_log import {cls}
log = {cls}({where!r}, commit_every=10 ** 6, commit_seconds={seconds})
for _ in range(5):
    log.current_row['loss'] = 1.0
    log.status['iterations_done'] += 1
log.current_row['half'] = 1.0
{fork}
print(log.uuid.hex, flush=True)
time.sleep(600)
'''
# The child of a fork writes on, with a thread of its own: the parent's
# does not run there. (The fork commits the parent's buffer whole.)
FORK = '''
if os.fork() == 0:
    for _ in range(3):
        log.current_row['child'] = 2.0
        log.status['iterations_done'] += 1
    log.current_row['half'] = 3.0
    print(log.uuid.hex, flush=True)
    time.sleep(600)
    os._exit(0)
log.close()
os._exit(0)
'''


@pytest.mark.parametrize('fork', [False, True])
def test_a_killed_writer_loses_at_most_the_time_bound(backend, fork):
    if fork and not hasattr(os, 'fork'):
        pytest.skip('no fork here')
    where = backend.path if backend.dsn is None else backend.dsn
    cls = 'SQLiteLog' if backend.dsn is None else 'PostgreSQLLog'
    process = subprocess.Popen(
        [sys.executable, '-c', textwrap.dedent(WRITER.format(
            cls=cls, where=where, seconds=SECONDS,
            fork=FORK if fork else ''))],
        stdout=subprocess.PIPE, universal_newlines=True,
        env=dict(os.environ, PYTHONPATH=ROOT), start_new_session=True)
    try:
        uuid = process.stdout.readline().strip()
        assert uuid, 'the writer did not start'
        expected = list(range(8)) if fork else list(range(5))

        def seen():
            with backend(uuid=uuid, read_only=True) as log:
                return [time for time in log if dict(log[time])]
        wait_for(lambda: seen() == expected)
    finally:
        os.killpg(process.pid, signal.SIGKILL)
        process.wait()
    with backend(uuid=uuid, read_only=True) as log:
        assert [time for time in log if dict(log[time])] == expected
        assert 'half' not in dict(log[expected[-1] + 1])


def test_a_value_deleted_after_what_the_thread_commits_stays_deleted(
        backend):
    # The thread commits the completed iterations, not a deletion made
    # since: a read still finds it in the buffer, for a key this handle
    # never wrote too (it reads such a key from the buffer only while the
    # buffer holds a deletion).
    with backend() as log:
        log[0].update(a=1.0, b=2.0)
        log.status['iterations_done'] += 1
    log = backend(uuid=log.uuid, commit_every=10 ** 6,
                  commit_seconds=SECONDS)
    train(log, 1)
    del log[0]['a']
    wait_for(lambda: log._session.flushes)
    assert 'a' not in log[0] and log[0].get('a') is None
    assert dict(log[0]) == {'b': 2.0}
    log.flush()
    assert dict(reader(backend, log)[0]) == {'b': 2.0}


FLUSH = Commits._flush.__code__


@needs_instruction_events
def test_a_deletion_made_as_the_thread_commits_stays_deleted(backend):
    # The thread's commit finds no deletion left past what it commits, and
    # clears the mark; a deletion buffered before it stores that (between
    # two of its instructions) would lose its mark, and a read of the key
    # would miss it: a deletion is made with the session's lock, and the
    # commit waits. The deletion is stopped as it buffers, while the
    # commit comes (if it can) and is stopped as it clears the mark.
    with backend() as log:
        log[0].update(a=1.0, b=2.0)
        log.status['iterations_done'] += 1
    log = backend(uuid=log.uuid, commit_every=10 ** 6, commit_seconds=3600)
    del log[0]['b']  # the mark set; the thread commits this deletion
    train(log, 1)
    at_the_mark, deleted, threads = (threading.Event(), threading.Event(),
                                     [])

    def stop_at_the_mark():
        at_the_mark.set()
        deleted.wait(timeout=0.5)  # for ever, if the deletion waits

    def commit():
        with stopping(FLUSH, offsets(FLUSH, 'STORE_ATTR', 'deletions')[0],
                      stop_at_the_mark):
            log._session.commit_if_late(time.monotonic() + 7200)

    def start_the_commit():
        threads.append(in_a_thread(commit))
        at_the_mark.wait(timeout=0.5)  # none while the lock is held
    try:
        with stopping(Session.delete_value.__code__, line_start(
                Session.delete_value, 'pending.extend'), start_the_commit):
            del log[0]['a']
    finally:
        deleted.set()
        for thread in threads:
            thread.join()
    assert log._session.flushes
    assert 'a' not in log[0] and log[0].get('a') is None
    assert dict(log[0]) == {}
    log.flush()
    assert dict(reader(backend, log)[0]) == {}


def row_read_as_the_thread_commits(backend, stop):
    """What ``row.get('x')`` gives, a value just written into a row kept
    since a read, where a commit of the thread cuts the buffer by as much
    and `stop(commit)` makes `commit()` come about."""
    log = backend(commit_every=10 ** 6, commit_seconds=3600)
    train(log, 1)  # the thread commits this iteration's value
    row = log.current_row
    assert dict(row) == {}  # kept, with its stamp
    row['x'] = 1.0  # as much written as the thread commits
    seen = stop(row, lambda: log._session.commit_if_late(
        time.monotonic() + 7200))
    assert log._session.flushes == 1
    return seen


@needs_instruction_events
def test_a_row_read_as_the_thread_commits_holds_what_was_written(backend):
    # A row keeps what it read while nothing was committed nor written
    # since: a stamp of the commits and the buffer's length; reads of it
    # take no lock. A commit of the thread that cut the buffer by what was
    # written since, then counted itself, left a stamp between the two as
    # it was: a value just written read as missing. The commit is stopped
    # between the two, whichever comes first, while the row is read.
    stopped, read = threading.Event(), threading.Event()

    def stop_between():
        stopped.set()
        read.wait(timeout=0.5)  # for ever, if the read waits

    def stop(row, commit):
        def stopped_commit():
            with stopping(FLUSH, max(offsets(FLUSH, 'DELETE_SUBSCR') +
                                     offsets(FLUSH, 'STORE_ATTR', 'flushes')),
                          stop_between):
                commit()
        thread = in_a_thread(stopped_commit)
        try:
            assert stopped.wait(timeout=PATIENCE), 'the commit never came'
            return row.get('x')
        finally:
            read.set()
            thread.join()
    assert row_read_as_the_thread_commits(backend, stop) == 1.0


@needs_instruction_events
def test_a_stamp_taken_as_the_thread_commits_is_not_the_one_before(
        backend):
    # The same, the read stopped between its two looks (the buffer's
    # length, the count of commits) while the commit comes and goes: the
    # length is looked at first, so the count tells the commit.
    stamp = Session.stamp.__code__

    def stop(row, commit):
        with stopping(stamp, max(offsets(stamp, 'LOAD_ATTR', 'pending')[0],
                                 offsets(stamp, 'LOAD_ATTR', 'flushes')[0]),
                      lambda: in_a_thread(commit).join()):
            return row.get('x')
    assert row_read_as_the_thread_commits(backend, stop) == 1.0
