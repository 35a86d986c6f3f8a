"""A signal's handler that uses the log, run wherever Python runs it:
in the middle of the log's own work (a commit, a read), in the same
thread, which holds the log's lock (taken again: it is reentrant).

Blocks' main loop writes into the log from its handlers of SIGINT and
SIGTERM (``current_row['epoch_interrupt_received']``, and the status);
Lightning's handler of SLURM's SIGUSR1 saves a checkpoint (the log's
place: a flush and a resume); others flush the log, or another, print
what it holds, or fork (a snapshot, multiprocessing's fork start). Each
is made here at every call an iteration's log calls make (as the Ctrl-C
tests of :mod:`test_interrupts` raise KeyboardInterrupt), and every value
logged, and each checkpoint's run, is checked against a dict."""
import os
import pickle
import signal
import sqlite3
import sys
import threading

import pytest

from blocks_log import SQLiteLog
from blocks_log.errors import (ClosedLogError, LogWriteError,
                               ReentrantReadError)
from blocks_log.stores import sqlite_checkpointer
from helpers import eventually, within
from test_interrupts import (KEYS, backend, calls_of, sigint_at_call,
                             small_blocks)

__all__ = ['backend', 'small_blocks']  # fixtures, used by name


class Loop(object):
    """A training loop beside a plain dict of what it logged, whose
    handler of SIGUSR1 does ``action(self)``: what the loop is doing then
    (a call into the log, at most one) is ``self.doing``, the (time, key,
    value) it writes, if any."""

    def __init__(self, log, action, new_log=None):
        self.log, self.rows, self.action = log, {}, action
        self.new_log = new_log  # makes another log of the same store
        self.handled = 0
        self.answered, self.refused = {}, {}  # by read
        self.checkpoints = []
        self.forked_half_way = self.refused_own = 0
        self.doing = None

    def handle(self, number, frame):
        self.handled += 1
        self.action(self)

    def iteration(self):
        time = self.log.status['iterations_done'] + 1
        self.log.status['iterations_done'] = time
        for key in KEYS:
            value = 's{}'.format(time) if key == 'note' else float(
                time * 3 + len(key))
            if key == 'note' and time % 7:
                continue
            self.doing = time, key, value
            self.log.current_row[key] = value
            self.rows.setdefault(time, {})[key] = value
            self.doing = None
        # As Blocks' main loop asks after each batch: a read, during which
        # the handler runs too.
        assert self.log.current_row.get('training_finish_requested') is None

    def done_rows(self):
        """The rows logged before the handler, as far as they are known:
        all but the value being written (written or not)."""
        rows = dict((time, dict(row)) for time, row in self.rows.items())
        if self.doing is not None:
            time, key, _ = self.doing
            rows.get(time, {}).pop(key, None)
            if not rows.get(time, True):
                del rows[time]
        return rows

    def read_back(self, reopen, uuid=None):
        rows = {}
        with reopen(uuid or self.log.h_uuid) as log:
            for time, key, value in log.records():
                rows.setdefault(time, {})[key] = value
            return rows, dict(log.status)


def same_but_the_one_being_written(rows, loop, done):
    """Whether `rows` are `done` (see :meth:`Loop.done_rows`), with or
    without the value the loop was writing."""
    if rows == done or loop.doing is None:
        return rows == done
    time, key, value = loop.doing
    with_it = dict((t, dict(row)) for t, row in done.items())
    with_it.setdefault(time, {})[key] = value
    return rows == with_it


def write_as_blocks_does(loop):
    # Blocks' MainLoop._handle_epoch_interrupt.
    time = loop.log.status['iterations_done']
    loop.log.current_row['interrupt_received'] = loop.handled
    loop.log.status['interrupt_received'] = True
    loop.rows.setdefault(time, {})['interrupt_received'] = loop.handled


def read(loop):
    # What a handler printing the progress reads: a time done, whole, and
    # a key's history up to it; each refused half-way through a commit,
    # and right otherwise.
    time = loop.log.status['iterations_done']
    if time < 2:
        return
    done = loop.done_rows()
    log = loop.log
    reads = [
        ('row', lambda: dict(log[time - 1]), done[time - 1]),
        ('previous_row', lambda: dict(log.previous_row), done[time - 1]),
        ('history', lambda: [(t, value) for t, value in log.history('loss')
                             if t < time],
         [(t, row['loss']) for t, row in sorted(done.items())
          if 'loss' in row and t < time])]
    for name, made, expected in reads:
        try:
            value = made()
        except ReentrantReadError:
            assert log._session.busy == 'commit', name
            loop.refused[name] = loop.refused.get(name, 0) + 1
        else:
            assert value == expected, name
            loop.answered[name] = loop.answered.get(name, 0) + 1


def flush(loop):
    loop.log.flush()


def checkpoint(loop):
    # As pickling for a checkpoint does: the checkpoint's run ends here,
    # holding all that was logged so far; the live log goes on in a child.
    uuid = loop.log.h_uuid
    pickle.dumps(loop.log)
    loop.checkpoints.append((uuid, loop.done_rows(), loop.doing))


def count_the_iteration_again(loop):
    # status['iterations_done'] set to what it holds: a commit of the
    # iteration, made each iteration its own way.
    loop.log.status['iterations_done'] = loop.log.status['iterations_done']


#: Where a child forked by a handler writes: past the loop's times.
CHILD_TIMES = 10 ** 6


def fork_a_child(loop):
    # The child writes into the run, then into a run of its own in the same
    # file or database, and ends, as a child of multiprocessing does
    # (os._exit). The first is refused only where the fork interrupted the
    # log's own work or read, which is the parent's; the second only in a
    # SQLite file whose write lock the parent held (there, SQLite's record
    # of the parent's lock, copied into the child, had each write of the
    # child wait out 600 s of retries). A log of its own in one child of
    # `stride` (a connection to PostgreSQL takes 20 ms).
    session = loop.log._session
    half_way = bool(session.busy or session.reading)
    own = loop.new_log is not None and (
        loop.handled % loop.new_log.stride == 0)
    refused_own = own and write_lock_held(loop.log)
    time = CHILD_TIMES + loop.handled
    pid = os.fork()
    if pid == 0:
        codes = [99]  # if the thread waits for ever

        def write():
            try:
                loop.log[time]['child'] = loop.handled
                loop.log.flush()
                code = 0
            except ClosedLogError:
                code = 1
            except BaseException:
                code = 2
            try:
                if own:
                    log = loop.new_log()
                    log.current_row['child'] = 1.0
                    log.close()
            except LogWriteError:
                code += 4
            except BaseException:
                code += 8
            codes[0] = code
        # From a thread, which no lock held in the parent keeps out.
        thread = threading.Thread(target=write, daemon=True)
        thread.start()
        thread.join(HANG // 4)
        os._exit(codes[0])
    _, status = os.waitpid(pid, 0)
    assert os.WEXITSTATUS(status) == (1 if half_way else 0) + (
        4 if refused_own else 0), (half_way, refused_own)
    if half_way:
        loop.forked_half_way += 1
        loop.refused_own += refused_own
    else:
        loop.rows[time] = {'child': loop.handled}


def write_lock_held(log):
    """Whether the write lock of `log`'s SQLite file is held, asked of
    SQLite on a connection of the test's own."""
    if not isinstance(log, SQLiteLog):
        return False
    probe = sqlite3.connect(log._session.store.db.path, timeout=0,
                            isolation_level=None)
    try:
        probe.execute('BEGIN IMMEDIATE')
        probe.execute('ROLLBACK')
        return False
    except sqlite3.OperationalError:  # "database is locked"
        return True
    finally:
        probe.close()


ACTIONS = [write_as_blocks_does, read, flush, checkpoint,
           count_the_iteration_again, fork_a_child]


#: Seconds a test may take: a commit made inside the one a handler
#: interrupted waited for ever with PostgreSQL.
HANG = 120


def assert_free(lock):
    """Assert that a thread other than this one can take `lock`."""
    taken = []

    def take():
        if lock.acquire(timeout=HANG // 4):
            lock.release()
            taken.append(True)
    thread = threading.Thread(target=take)
    thread.start()
    thread.join()
    assert taken, 'held'


def handled_at_each_call(loop, numbers, action, seconds=HANG):
    """Each of ``action()`` with SIGUSR1 sent at the call that is the next
    of `numbers` (see :func:`test_interrupts.sigint_at_call`), `loop`
    handling it; within `seconds`."""
    handled_where(loop, (sigint_at_call(number, signal.SIGUSR1)
                         for number in numbers), action, seconds)


def handled_where(loop, profiles, action, seconds=HANG):
    """Each of ``action()`` profiled by the next of `profiles`, which
    sends SIGUSR1 where it will, `loop` handling it; within `seconds`."""
    previous = signal.signal(signal.SIGUSR1, loop.handle)
    try:
        with within(seconds):
            for profile in profiles:
                sys.setprofile(profile)
                try:
                    action()
                finally:
                    sys.setprofile(None)
    finally:
        signal.signal(signal.SIGUSR1, previous)


@pytest.mark.parametrize('action', ACTIONS)
@pytest.mark.parametrize('options', [{}, {'commit_every': 7}],
                         ids=['each', 'every-7'])
def test_a_handler_at_each_call_of_an_iteration(backend, small_blocks,
                                                options, action):
    loop = Loop(backend(**options), action, backend)
    calls = backend.calls
    numbers = list(range(1, calls + 1)) * 3
    if action is checkpoint:
        # Each adds a run to the lineage that every read after goes
        # through: with PostgreSQL, at every seventh call (1,200 took 200 s).
        numbers = numbers[::backend.stride]
    handled_at_each_call(loop, numbers, loop.iteration)
    assert loop.handled > 50
    assert_free(loop.log._session.lock)
    loop.log.close()
    rows, status = loop.read_back(backend.reopen)
    assert rows == loop.rows
    assert status['iterations_done'] == max(
        time for time in loop.rows if time < CHILD_TIMES)
    if action is fork_a_child:  # both ways, and both in SQLite's
        assert 0 < loop.forked_half_way < loop.handled
        assert (0 < loop.refused_own < loop.forked_half_way) is (
            backend.name == 'sqlite-file'), loop.refused_own
    if action is read:  # each read answered, and refused
        assert min(loop.answered.values()) > 10, loop.answered
        assert len(loop.refused) == 3 and min(loop.refused.values()) > 0
    for uuid, done, doing in loop.checkpoints:
        held, _ = loop.read_back(backend.reopen, uuid)
        loop.doing = doing
        assert same_but_the_one_being_written(held, loop, done), uuid


def test_a_fork_at_each_call_of_a_read(backend, small_blocks):
    # Half-way through reads from the store (in SQLite, in a read
    # transaction, whose locks, copied into the child, keep no writer
    # out): the child's write into the run is refused, and its log of its
    # own writes.
    loop = Loop(backend(), fork_a_child, backend)
    for _ in range(40):
        loop.iteration()
    log = loop.log

    def read():
        assert list(log.history('loss')) == [
            (time, row['loss']) for time, row in sorted(loop.rows.items())
            if 'loss' in row]
        assert dict(log[3]) == loop.rows[3]
    handled_at_each_call(loop, range(1, calls_of(read) + 1, backend.stride),
                         read)
    assert loop.forked_half_way > 20 and loop.refused_own == 0
    log.close()
    assert loop.read_back(backend.reopen)[0] == loop.rows


@pytest.mark.parametrize('emptying', ['TRUNCATE', 'RESTART'])
def test_a_fork_as_the_checkpoints_thread_holds_the_write_lock(
        tmp_path, monkeypatch, emptying):
    # Half-way through a commit, before its transaction, while the
    # checkpoints' thread empties the -wal file (a TRUNCATE, or a RESTART
    # made to wait, each holding the file's write lock as it waits for a
    # reader): the child's log of its own is refused at once there too (it
    # waited out 600 s); not while the thread holds no such lock (a
    # PASSIVE checkpoint, after).
    checkpoint_waiting = sqlite_checkpointer._checkpoint_waiting
    monkeypatch.setattr(
        sqlite_checkpointer, '_checkpoint_waiting',
        lambda connection, mode, wait: checkpoint_waiting(
            connection, mode, HANG if mode == 'RESTART' else wait))
    path = str(tmp_path / 'log.sqlite')

    def own():
        return SQLiteLog(path)
    own.stride = 1
    loop = Loop(SQLiteLog(path), fork_a_child, own)
    checkpointer = loop.log._session.store.db.checkpointer
    reader = sqlite3.connect(path, isolation_level=None)
    for _ in range(10):
        loop.iteration()
    reader.execute('BEGIN')
    reader.execute('SELECT count(*) FROM blocks_log_entries').fetchall()
    for _ in range(10):
        loop.iteration()  # past what the reader reads: the TRUNCATE waits
    if emptying == 'RESTART':  # as a commit past MAX_WAL_BYTES asks it
        checkpointer.emptying = sqlite_checkpointer.PASSING
        checkpointer._in_thread('EMPTY')
    else:
        checkpointer._in_thread('TRUNCATE')
    assert eventually(lambda: write_lock_held(loop.log), HANG)

    def fork_then_let_the_thread_go(loop):
        fork_a_child(loop)
        reader.execute('COMMIT')
    try:
        forked_in_a_commit(loop, fork_then_let_the_thread_go)
    finally:
        reader.close()
    assert (loop.forked_half_way, loop.refused_own) == (1, 1)
    assert eventually(lambda: not write_lock_held(loop.log), HANG)
    with checkpointer.lock:  # as a PASSIVE checkpoint holds it
        forked_in_a_commit(loop, fork_a_child)
    assert (loop.forked_half_way, loop.refused_own) == (2, 1)
    loop.log.close()
    assert loop.read_back(lambda uuid: SQLiteLog(
        path, uuid=uuid, read_only=True))[0] == loop.rows


def forked_in_a_commit(loop, action):
    """An iteration of `loop`, whose handler does ``action(loop)`` at the
    first call its commit makes (before its transaction)."""
    session = loop.log._session

    def in_the_commit(frame, event, argument):
        if event == 'call' and session.busy:
            sys.setprofile(None)
            signal.raise_signal(signal.SIGUSR1)
    loop.action = action
    handled_where(loop, [in_the_commit], loop.iteration)


def close_and_exit(loop):
    # A handler of SIGTERM that ends the run.
    loop.log.close()
    raise SystemExit(143)


@pytest.mark.parametrize('options', [{}, {'commit_every': 7},
                                     {'commit_seconds': 60}],
                         ids=['each', 'every-7', 'by-time'])
def test_a_handler_that_closes_at_each_call_of_an_iteration(
        backend, small_blocks, options):
    # The log closed (as the commit it interrupted ends), and the process
    # exiting: everything logged before is there, and no run is held.
    # close() asked for so waits for no commit timer's thread (which has
    # not been told to stop yet: it took the wait's timeout, 60 s).
    for number in range(1, backend.calls + 1, backend.stride):
        loop = Loop(backend(**options), close_and_exit)
        for _ in range(5):
            loop.iteration()
        try:
            handled_at_each_call(loop, [number], loop.iteration, 30)
        except SystemExit:
            pass
        if not loop.handled:
            break  # past the calls of an iteration
        assert loop.log._session.closed
        done = loop.done_rows()
        rows, status = loop.read_back(lambda uuid: backend(uuid=uuid))
        assert same_but_the_one_being_written(rows, loop, done), number
    assert number > 20


class Another(object):
    """A second log of the loop's store, which its handler writes, beside a
    plain dict of what it wrote; `checkpoints`: (uuid, rows it holds)."""

    def __init__(self, log):
        self.log, self.rows, self.checkpoints = log, {}, []

    def write(self, value):
        # As a loop does: an iteration's values, and their commit (the
        # quick way, Commits._next_iteration, where no work is under way).
        time = len(self.rows)
        self.log[time]['handled'] = value
        self.rows[time] = {'handled': value}
        self.log.status['iterations_done'] = time


def flush_another(loop):
    loop.another.write(loop.handled)
    loop.another.log.flush()


def checkpoint_another(loop):
    another = loop.another
    another.write(loop.handled)
    uuid = another.log.h_uuid
    pickle.dumps(another.log)
    another.checkpoints.append((uuid, dict(another.rows)))


def fork_beside_another(loop):
    loop.another.write(loop.handled)  # buffered as the fork comes
    fork_a_child(loop)


@pytest.mark.parametrize('action', [flush_another, checkpoint_another,
                                    fork_beside_another])
def test_a_handler_that_uses_another_log_at_each_call(backend, small_blocks,
                                                      action):
    # Another log of the same file (database), in the same thread: its
    # commit, made in the loop's, waited for the loop's transaction, which
    # waited for it (SQLite's busy handler, 600 s).
    loop = Loop(backend(), action, backend)
    loop.another = Another(backend())
    numbers = list(range(1, backend.calls + 1)) * 2
    if action is checkpoint_another:
        numbers = numbers[::backend.stride]
    handled_at_each_call(loop, numbers, loop.iteration, HANG // 2)
    assert loop.handled > 20
    for log in (loop.log, loop.another.log):
        assert_free(log._session.lock)
        log.close()
    assert loop.read_back(backend.reopen)[0] == loop.rows
    another = loop.another
    assert loop.read_back(backend.reopen, another.log.h_uuid)[0] == (
        another.rows)
    for uuid, rows in another.checkpoints:
        assert loop.read_back(backend.reopen, uuid)[0] == rows


def test_another_log_held_by_another_thread_is_left_to_its_next_commit(
        tmp_path):
    # The work asked of another log during the loop's commit is not
    # waited for as that commit ends where another thread took that log's
    # lock meanwhile (a fork there takes every log's in turn, and may wait
    # for the loop's next): that log's next commit makes it.
    path = str(tmp_path / 'log.sqlite')
    holding, let_go = threading.Event(), threading.Event()

    def hold(lock):
        with lock:
            holding.set()
            let_go.wait(HANG)

    def flush_another_then_hold_it(loop):
        if loop.log._session.busy and not holding.is_set():
            flush_another(loop)
            threading.Thread(target=hold, args=(
                loop.another.log._session.lock,)).start()
            holding.wait()
    loop = Loop(SQLiteLog(path), flush_another_then_hold_it)
    loop.another = Another(SQLiteLog(path))
    try:
        handled_at_each_call(loop, range(1, 30), loop.iteration, HANG // 2)
    finally:
        let_go.set()
    assert holding.is_set()
    for log in (loop.log, loop.another.log):
        log.close()

    def reopen(uuid):
        return SQLiteLog(path, uuid=uuid, read_only=True)
    assert loop.read_back(reopen)[0] == loop.rows
    assert loop.read_back(reopen, loop.another.log.h_uuid)[0] == (
        loop.another.rows)


def test_another_log_at_work_in_another_thread_is_not_waited_for(tmp_path):
    # Only work under way in the calling thread makes a log's commit wait
    # for it: a flush while another thread's log commits is made at once.
    path = str(tmp_path / 'log.sqlite')
    working, go_on = threading.Event(), threading.Event()

    def commit_held_up(*arguments):
        working.set()
        go_on.wait(HANG)
    other = SQLiteLog(path)
    other._session._flush = commit_held_up
    thread = threading.Thread(target=other.flush)
    thread.start()
    working.wait(HANG)
    try:
        log = SQLiteLog(path)
        log[1]['loss'] = 0.5
        log.flush()
        with SQLiteLog(path, uuid=log.h_uuid, read_only=True) as again:
            assert again[1] == {'loss': 0.5}
    finally:
        go_on.set()
        thread.join()
    del other._session._flush
    for each in (log, other):
        each.close()
