"""A fork copies a process with none of the logs' threads: the checkpoints'
thread of each SQLite file and each log's commit timer are stopped before
it and start again when next needed. Python 3.12 and later warn at the fork
of a process of several threads (a ``DeprecationWarning``); their locks
aside, the child of such a fork may deadlock."""
import os
import sys
import threading
import warnings

import pytest

from blocks_log import SQLiteLog
from blocks_log.errors import LogWriteError
from blocks_log.stores import sqlite_checkpointer
from blocks_log.stores.sqlite import SQLiteStore
from blocks_log.stores.sqlite_connection import SQLiteConnection

from helpers import eventually, within

pytestmark = pytest.mark.skipif(not hasattr(os, 'fork'), reason='POSIX')

CHECKPOINTS, COMMITS = 'blocks_log checkpoints', 'blocks_log commits'


def ours(log):
    """The names of the threads of `log` alive in this process (others'
    logs, left open by other tests, have theirs)."""
    session = log._session
    threads = [session.store.db.checkpointer._thread,
               session.timer and session.timer._thread]
    return sorted(thread.name.rsplit(' of ', 1)[0] for thread in threads
                  if thread is not None and thread.is_alive())


def others():
    """Whether threads that are not the logs' run here besides this one
    (left by another test): a fork then warns whatever the logs do."""
    return any(thread is not threading.current_thread() and
               not thread.name.startswith('blocks_log')
               for thread in threading.enumerate())


def fork(log, warned=False):
    """Fork, the child exiting at once; the threads of `log` alive in the
    parent as the fork returns. On Python 3.12 and later, with no other
    thread about, the fork warns of none, unless it may be `warned`."""
    strict = not warned and sys.version_info >= (3, 12) and not others()
    with warnings.catch_warnings(record=True) as caught:
        warnings.simplefilter('always')
        pid = os.fork()
        if pid == 0:
            os._exit(0)
        alive = ours(log)
    assert os.waitpid(pid, 0)[1] == 0
    if strict:
        assert [str(warning.message) for warning in caught
                if 'multi-threaded' in str(warning.message)] == []
    return alive


def iterate(log, count):
    for _ in range(count):
        log.status['iterations_done'] += 1
        log.current_row['loss'] = float(log.status['iterations_done'])


def test_each_fork_copies_none_of_the_logs_threads(tmp_path, monkeypatch):
    # Forks again and again (a data loader's workers, each epoch): Python
    # 3.12's join returned before the kernel ended the thread, and the
    # fork found it (see lifecycle._wait_for_the_kernel).
    monkeypatch.setattr(sqlite_checkpointer, 'COMMITS', 1)
    path = str(tmp_path / 'fork.sqlite')
    log = SQLiteLog(path, commit_seconds=60)
    iterate(log, 3)
    assert ours(log) == [CHECKPOINTS, COMMITS]
    rounds = 100  # 3.12's warning came at some forks, not at each
    for _ in range(rounds):
        assert fork(log) == []
        iterate(log, 2)  # the timer starts again; the checkpoints' thread
        log.flush()  # at the next commit
        assert ours(log) == [CHECKPOINTS, COMMITS]
    log.close()
    with SQLiteLog(path, uuid='last', read_only=True) as read:
        assert read.history('loss') == [
            (time, float(time)) for time in range(1, 4 + 2 * rounds)]


def test_a_checkpoint_asked_for_and_not_begun_is_asked_again(tmp_path):
    # The fork's own flush asks for one, as a rule: dropped with the
    # thread, asked again at the next commit, not COMMITS later; and an
    # emptying of a large -wal file with it, else no checkpoint is asked
    # for again while the writer waits for that one.
    log = SQLiteLog(str(tmp_path / 'asked.sqlite'))
    iterate(log, 2)
    log.flush()
    checkpointer = log._session.store.db.checkpointer
    checkpointer._in_thread('PASSIVE')
    assert eventually(lambda: idle(checkpointer))
    with checkpointer._wake:  # asked, not begun: the thread not woken
        checkpointer._woken, checkpointer._mode = True, 'EMPTY'
        checkpointer.emptying = sqlite_checkpointer.PASSING
    assert fork(log) == []
    iterate(log, 1)
    log.flush()
    assert ours(log) == [CHECKPOINTS]
    assert eventually(lambda: idle(checkpointer))
    log.close()


def test_a_fork_stops_the_thread_once_its_checkpoint_ends(
        tmp_path, monkeypatch):
    # A checkpoint under way at the fork: the fork waits for it to end (as
    # it did before), told so by the thread, and then stops it.
    monkeypatch.setattr(sqlite_checkpointer, 'FORK_WAIT', 600)
    go_on = threading.Event()
    log, _ = a_log_at_a_checkpoint(tmp_path, monkeypatch,
                                   lambda: go_on.wait(60))
    threading.Timer(0.1, go_on.set).start()
    with within(30):  # not FORK_WAIT
        assert fork(log) == []
    log.close()


def test_a_fork_half_way_through_a_commit_waits_for_the_checkpoint(
        tmp_path, monkeypatch):
    # A signal's handler forked in the middle of a commit while the
    # checkpoints' thread was inside SQLite: the child inherited a lock of
    # SQLite's held (its allocator's), and its first call into SQLite, on
    # any file, waited for ever (test_signal_handlers, about one run in
    # thirty). The fork now waits for that checkpoint to end.
    monkeypatch.setattr(sqlite_checkpointer, 'FORK_WAIT', 60)
    log, inside = a_log_at_a_checkpoint(
        tmp_path, monkeypatch, lambda: threading.Event().wait(0.2))
    write, children = SQLiteStore.write, []

    def forking(self, *args, **kwargs):
        # The fork of a handler, with the commit under way.
        if not children:
            pid = os.fork()
            if pid == 0:
                os._exit(1 if inside[0] else 0)
            children.append(pid)
        return write(self, *args, **kwargs)
    monkeypatch.setattr(SQLiteStore, 'write', forking)
    iterate(log, 1)
    log.flush()
    assert os.waitpid(children[0], 0)[1] == 0  # no checkpoint at the fork
    log.close()


def a_log_at_a_checkpoint(tmp_path, monkeypatch, pause):
    """A new SQLiteLog whose checkpoints' thread is at a checkpoint, which
    calls `pause()` first (as SQLite's C code takes a while, as a rule):
    the log, and ``[whether the thread is in a checkpoint]``."""
    log = SQLiteLog(str(tmp_path / 'at_work.sqlite'))
    iterate(log, 2)
    log.flush()
    inside, at_work = [False], threading.Event()
    checkpoint = sqlite_checkpointer.Checkpointer._checkpoint

    def slow(self, connection, mode):
        inside[0] = True
        at_work.set()
        try:
            pause()
            return checkpoint(self, connection, mode)
        finally:
            inside[0] = False
    monkeypatch.setattr(sqlite_checkpointer.Checkpointer, '_checkpoint', slow)
    log._session.store.db.checkpointer._in_thread('PASSIVE')
    assert at_work.wait(60)
    return log, inside


def test_a_fork_half_way_through_a_commit_the_thread_waits_for(
        tmp_path, monkeypatch):
    # While the thread passes over a large -wal file, each commit holds the
    # lock its RESTART takes after its own: a fork in such a commit cannot
    # wait for the thread, which waits for the commit (the fork waited for
    # ever); it waits FORK_WAIT, and forks with the thread out of SQLite.
    from test_lifecycle import a_log_whose_thread_passes
    monkeypatch.setattr(sqlite_checkpointer, 'FORK_WAIT', 0.1)
    log, checkpointer, go_on = a_log_whose_thread_passes(
        str(tmp_path / 'restart.sqlite'), monkeypatch)
    restart, restarting = sqlite_checkpointer.Checkpointer._restart, (
        threading.Event())

    def announced(self, connection):
        restarting.set()
        return restart(self, connection)
    monkeypatch.setattr(sqlite_checkpointer.Checkpointer, '_restart',
                        announced)
    transaction, children = SQLiteConnection.transaction, []

    def forking(self):
        # In the commit, `writing` held: the thread ends its pass, takes
        # its lock and waits for `writing`; a handler forks.
        if not children and checkpointer.writing.locked():
            go_on.set()
            assert restarting.wait(60)
            assert eventually(checkpointer.lock.locked)
            pid = os.fork()
            if pid == 0:
                os._exit(0)
            children.append(pid)
        return transaction(self)
    monkeypatch.setattr(SQLiteConnection, 'transaction', forking)
    unraisable = []
    monkeypatch.setattr(sys, 'unraisablehook', unraisable.append)
    with within(30):  # an error in the fork's hook, unraisable
        log.current_row['a new key'] = 1.0  # made in a transaction
        log.flush()
    assert children and os.waitpid(children[0], 0)[1] == 0
    assert unraisable == []
    log.close()


@pytest.mark.skipif(not hasattr(os, 'sched_setaffinity') or not (
    os.path.isdir('/proc/self/task')), reason='Linux')
def test_a_fork_waits_for_the_kernel_to_end_the_threads_it_stopped(
        tmp_path, monkeypatch):
    # Before Python 3.13, join() returns as a thread lets go of its last
    # lock, a moment before the kernel's thread ends: the kernel still
    # counted it as Python 3.12 looked at the fork, and it warned, one
    # fork in two with the process on one CPU, where the thread that
    # joined runs first.
    monkeypatch.setattr(sqlite_checkpointer, 'COMMITS', 1)
    cpus = os.sched_getaffinity(0)
    os.sched_setaffinity(0, [min(cpus)])  # the log's threads too
    try:
        log = SQLiteLog(str(tmp_path / 'kernel.sqlite'))
        checkpointer = log._session.store.db.checkpointer
        for _ in range(10):
            iterate(log, 1)  # the thread starts, to checkpoint
            assert eventually(lambda: idle(checkpointer))
            before = kernel_threads()
            assert fork(log) == []  # on 3.12, no warning
            assert kernel_threads() <= before - 1  # others may end too
        log.close()
    finally:
        os.sched_setaffinity(0, cpus)


def kernel_threads():
    """The threads of this process, as the kernel counts them."""
    return len(os.listdir('/proc/self/task'))


def idle(checkpointer):
    """Whether the checkpoints' thread waits, with nothing asked of it."""
    with checkpointer._wake:
        return checkpointer._waiting and not checkpointer._woken


def test_iterations_a_fork_could_not_commit_wait_no_longer(
        tmp_path, monkeypatch):
    # The fork flushes before it: where that fails, the commit timer's
    # thread starts again at once in the parent, to commit them within
    # commit_seconds, not at the next iteration (which may be long in
    # coming: a validation, a data loader's first batch).
    path = str(tmp_path / 'late.sqlite')
    log = SQLiteLog(path, commit_seconds=0.2)
    iterate(log, 3)  # iterations 1 and 2 completed
    flush = type(log._session)._flush
    failures = [LogWriteError('the disk is full, once')]

    def failing(session, *args, **kwargs):
        # This log's (the fork flushes every log open, another test's too).
        if failures and session is log._session:
            raise failures.pop()
        return flush(session, *args, **kwargs)
    monkeypatch.setattr(type(log._session), '_flush', failing)
    # Started at the fork's end, the thread is one that Python 3.13 sees.
    fork(log, warned=True)
    assert not failures  # the fork's flush failed

    def committed():
        with SQLiteLog(path, uuid=log.uuid, read_only=True) as read:
            return read.history('loss') == [(1, 1.0), (2, 2.0)]
    assert eventually(committed)
    log.close()
