"""Nothing is lost by the way a process ends, forks or drops a log, and one
handle writes a run (SPEC section 4). Real processes, real forks."""
import ctypes
import gc
import os
import shutil
import signal
import sqlite3
import struct
import subprocess
import sys
import threading
import time as _time
import uuid

import pytest

from blocks_log import PostgreSQLLog, SQLiteLog
from blocks_log.database import session as session_module
from blocks_log.errors import LogWriteError, RunInUseError
from blocks_log.stores import (chunks, claims, run_packing,
                               sqlite_checkpointer)
from blocks_log.stores import sqlite_transactions

from blocks_log.database.commits import Commits
from blocks_log.stores.sqlite_checkpointer import wal_size
from helpers import (committed, count_entries, eventually, head_values,
                     in_child, run_python, unavailable)
from interleaving import (line_start, needs_instruction_events, stopping,
                          tracing_new_threads)

pytestmark = pytest.mark.skipif(sys.platform == 'win32',
                                reason='POSIX processes and fork')


TESTS = os.path.dirname(os.path.abspath(__file__))
#: A log dropped in a reference cycle, collected (gc.collect(), where the
#: garbage collector may run) inside the write transaction of another log
#: of the same database, which makes the same new key: argv: the tests'
#: folder, 'sqlite' or 'postgresql', the database. Prints the dropped
#: log's run.
COLLECTED_INSIDE_A_COMMIT = '''
    import gc
    import sys
    sys.path.insert(0, sys.argv[1])
    from interleaving import inner, line_start, stopping
    if sys.argv[2] == 'sqlite':
        from blocks_log import SQLiteLog as Log
        from blocks_log.stores.sqlite_writes import SQLiteWrites
        write = SQLiteWrites._write_in_transaction.__code__
    else:
        from blocks_log import PostgreSQLLog as Log
        from blocks_log.stores.postgresql_writes import PostgreSQLWrites
        write = inner(PostgreSQLWrites._write_in_transaction, 'work')
    gc.disable()
    dropped = Log(sys.argv[3], commit_every=10 ** 6)
    dropped[0]['shared'] = 1.0
    dropped.me = dropped
    print(dropped.h_uuid, flush=True)
    del dropped
    log = Log(sys.argv[3])
    log[1]['shared'] = 2.0
    with stopping(write, line_start(write, 'ids = self._cache_new_ids'),
                  gc.collect):
        log.flush()
    log.close()
    '''


COLLECTED_AS_ANOTHER_THREAD_FORKS = '''
    import gc
    import os
    import sys
    import threading
    import time
    sys.path.insert(0, sys.argv[1])
    from interleaving import in_a_thread, line_start, stopping
    from blocks_log import SQLiteLog
    from blocks_log.database import lifecycle
    from blocks_log.database.commits import Commits

    class InOrder(dict):
        # The sessions as they opened (a set's order is its hashes'): the
        # fork locks the dropped log's first.
        def add(self, session):
            self[session] = None

        def discard(self, session):
            self.pop(session, None)
    lifecycle.OPEN_SESSIONS = InOrder()
    gc.disable()
    dropped = SQLiteLog(sys.argv[2], commit_every=10 ** 6)
    dropped[0]['kept'] = 1.0
    dropped.me = dropped
    print(dropped.h_uuid, flush=True)
    dropped_lock = dropped._session.lock
    del dropped
    flushed = SQLiteLog(sys.argv[3])
    flushed[0]['other'] = 1.0
    flushing = threading.Event()

    def collect_once_the_fork_holds_the_dropped_log():
        flushing.set()
        while dropped_lock.acquire(False):  # not yet
            dropped_lock.release()
            time.sleep(0.001)
        gc.collect()

    def flush():
        # Its lock held, as a thread's flush (or read) holds it.
        flush = Commits._flush
        with stopping(flush.__code__, line_start(flush, 'self.writable'),
                      collect_once_the_fork_holds_the_dropped_log):
            flushed.flush()
    thread = in_a_thread(flush)
    flushing.wait()
    child = os.fork()
    if not child:
        os._exit(0)
    os.waitpid(child, 0)
    thread.join()
    flushed.close()
    for closing in threading.enumerate():
        if closing.name == 'blocks_log close':
            closing.join()
    '''


@pytest.fixture
def collector_off():
    """The garbage collector off (it runs where the test runs it), and on
    again after, if it was."""
    was_enabled = gc.isenabled()
    gc.disable()
    yield
    if was_enabled:
        gc.enable()


@pytest.fixture
def path(tmp_path):
    return str(tmp_path / 'log.sqlite')


def read(path, run):
    with SQLiteLog(path, uuid=run, read_only=True) as log:
        return dict((time, dict(log[time])) for time in log)


class TestDroppedWithoutClose:
    def test_garbage_collected(self, path):
        log = SQLiteLog(path)
        log[0]['kept'] = 1  # buffered
        run = log.uuid
        del log
        gc.collect()
        assert read(path, run) == {0: {'kept': 1}}

    def test_in_a_reference_cycle(self, path):
        log = SQLiteLog(path)
        log.current_row['kept'] = 1
        log.me = log
        run = log.uuid
        del log
        gc.collect()
        assert read(path, run) == {0: {'kept': 1}}

    @pytest.mark.parametrize('backend', ['sqlite', 'postgresql'])
    @needs_instruction_events
    def test_collected_inside_another_logs_commit(self, path, backend,
                                                  request):
        # A log in a reference cycle, collected by the garbage collector
        # while a log of the same database commits, in the same thread:
        # its commit would wait for that one, which waits for it to return
        # (SQLite's write lock, retried for 600 s; a PostgreSQL key both
        # make, for ever). It is closed by a thread of its own instead.
        target = path if backend == 'sqlite' else request.getfixturevalue(
            'postgresql_dsn')
        process = run_python(COLLECTED_INSIDE_A_COMMIT, TESTS, backend,
                             target)
        assert process.returncode == 0, process.stderr
        run = process.stdout.split()[0]
        log_class = SQLiteLog if backend == 'sqlite' else PostgreSQLLog
        with log_class(target, uuid=run, read_only=True) as log:
            assert dict((time, dict(log[time])) for time in log) == {
                0: {'shared': 1.0}}

    @pytest.mark.skipif(not hasattr(os, 'fork'), reason='POSIX')
    @needs_instruction_events
    def test_collected_in_a_thread_as_another_forks(self, path, tmp_path):
        # Collected in a thread that holds another log's lock (its flush,
        # a read), as another thread forks: the fork locks each log, the
        # dropped one's first, and waits for the other; the collecting
        # thread, closing the dropped log there, waited for the fork. Both
        # waited for ever. It is closed by a thread of its own instead.
        process = run_python(COLLECTED_AS_ANOTHER_THREAD_FORKS, TESTS, path,
                             str(tmp_path / 'other.sqlite'))
        assert process.returncode == 0, process.stderr
        assert read(path, process.stdout.split()[0]) == {0: {'kept': 1.0}}

    @needs_instruction_events
    def test_collected_in_the_commit_timers_thread(self, path, collector_off):
        # Collected by the garbage collector in the commit timer's thread,
        # half-way through a commit of that same log, under its lock: it
        # was closed there, and the rest of the commit opened the store
        # again and left it open (its -wal file left beside the database).
        # It is closed by a thread of its own, once the commit is done.
        collected = threading.Event()

        def collect_in_the_timers_thread(frame):
            if frame.f_lasti == writes and not collected.is_set() and (
                    threading.current_thread().name == 'blocks_log commits'):
                collected.set()
                gc.collect()
        flush = Commits._flush
        writes = line_start(flush, 'self.store.write(')
        with tracing_new_threads(flush.__code__,
                                 collect_in_the_timers_thread):
            log = SQLiteLog(path, commit_every=10 ** 6, commit_seconds=0.2)
            log.status['iterations_done'] = 1
        log.current_row['kept'] = 1
        log.status['iterations_done'] = 2
        log.me = log
        run, session = log.uuid, log._session
        del log
        assert collected.wait(30), 'the thread never committed'
        assert eventually(lambda: session.closed and not os.path.exists(
            path + '-wal'))
        assert read(path, run) == {1: {'kept': 1}}

    @needs_instruction_events
    def test_collected_in_the_checkpointers_thread(self, path, monkeypatch,
                                                   collector_off):
        # Collected by the garbage collector in its store's checkpointer
        # thread, during a checkpoint: closing the store there joined that
        # thread from itself ("cannot join current thread", raised in the
        # finalizer and ignored, the store left half closed). It is closed
        # by a thread of its own.
        dropped, collected = threading.Event(), threading.Event()
        unraisable, checkpointing = [], []
        monkeypatch.setattr(sys, 'unraisablehook', unraisable.append)

        def collect_in_the_checkpoint(frame):
            if frame.f_lasti == checkpoints and not collected.is_set():
                dropped.wait(30)
                checkpointing.append(threading.current_thread())
                gc.collect()
                collected.set()
        checkpoint = sqlite_checkpointer.Checkpointer._checkpoint
        checkpoints = line_start(checkpoint, 'connection.execute(')
        with tracing_new_threads(checkpoint.__code__,
                                 collect_in_the_checkpoint):
            log = SQLiteLog(path)
            for time in range(sqlite_checkpointer.COMMITS + 1):
                log.current_row['loss'] = float(time)
                log.status['iterations_done'] += 1
        log.me = log
        run, session = log.uuid, log._session
        del log
        dropped.set()
        assert collected.wait(30), 'no checkpoint ran'
        assert eventually(lambda: session.closed and not (
            checkpointing[0].is_alive()))
        assert unraisable == []
        assert len(read(path, run)) == sqlite_checkpointer.COMMITS + 1

    @needs_instruction_events
    def test_collected_half_way_through_its_own_commit(self, path,
                                                       collector_off):
        # A row kept, its log dropped in a reference cycle: a write past
        # the buffer's bound commits, and the garbage collector, run
        # there, closed the log under that commit, whose rest opened the
        # store again and left it open. It is closed once that is done.
        log = SQLiteLog(path, commit_every=10 ** 6)
        log.status['iterations_done'] = 1
        row = log.current_row
        log.me = log
        run, session = log.uuid, log._session
        del log
        flush = Commits._flush
        with stopping(flush.__code__, line_start(
                flush, 'self.store.write('), gc.collect):
            for value in range(session.max_items // 3):
                row[str(value)] = float(value)
        assert eventually(lambda: session.closed and not os.path.exists(
            path + '-wal'))
        assert len(read(path, run)[1]) == session.max_items // 3

    def test_at_interpreter_exit(self, path):
        process = run_python('''
            import sys
            from blocks_log import PostgreSQLLog, SQLiteLog
            log = SQLiteLog(sys.argv[1])
            log[0]['kept'] = 1
            print(log.h_uuid)
            ''', path)
        assert process.returncode == 0, process.stderr
        assert read(path, process.stdout.strip()) == {0: {'kept': 1}}

    def test_a_ctrl_c_as_its_finalizer_begins(self, path):
        # weakref.finalize forgets itself, then calls: a Ctrl-C between
        # the two is ignored there ("Exception ignored in"), and the log
        # is finished at exit instead (it was never finished).
        process = run_python('''
            import gc, sys, weakref
            from blocks_log import PostgreSQLLog, SQLiteLog
            log = SQLiteLog(sys.argv[1], commit_every=1000)
            for time in range(1, 6):
                log.status['iterations_done'] = time
                log.current_row['kept'] = time
            print(log.h_uuid)
            call = weakref.finalize.__call__.__code__

            def interrupt(frame, event, argument):
                if event == 'c_return' and frame.f_code is call:
                    sys.setprofile(None)
                    raise KeyboardInterrupt
            sys.setprofile(interrupt)
            del log
            sys.setprofile(None)
            gc.collect()  # nothing else holds the session now
            ''', path)
        assert process.returncode == 0, process.stderr
        assert 'Exception ignored' in process.stderr
        assert 'KeyboardInterrupt' in process.stderr
        assert read(path, process.stdout.strip()) == dict(
            (time, {'kept': time}) for time in range(1, 6))

    def test_the_run_is_released(self, path):
        log = SQLiteLog(path)
        run = log.uuid
        del log
        gc.collect()
        SQLiteLog(path, uuid=run).close()


class TestFork:
    @pytest.mark.parametrize('first', ['parent', 'child'])
    @pytest.mark.parametrize('trial', range(4))
    @pytest.mark.parametrize('span', [None, 4])
    def test_each_keeps_what_it_wrote_whichever_closes_first(
            self, path, first, trial, span, monkeypatch):
        # With small blocks, both pack the run they share.
        if span:
            monkeypatch.setattr(chunks, 'SPAN', span)
        log = SQLiteLog(path)
        log[0]['before'] = 0
        to_child, from_parent = os.pipe()
        to_parent, from_child = os.pipe()
        pid = os.fork()
        if pid == 0:
            try:
                if first == 'parent':
                    os.read(to_child, 1)  # the parent has closed
                for time in range(1, 40):
                    log[time]['child'] = time
                    log.flush()
                log.close()
            finally:
                os.write(from_child, b'x')
                os._exit(0)

        def write_and_close():
            for time in range(100, 140):
                log[time]['parent'] = time
                log.flush()
            log.close()
        if first == 'parent':
            write_and_close()
            os.write(from_parent, b'x')
            os.read(to_parent, 1)
        else:
            os.read(to_parent, 1)  # the child has closed
            write_and_close()
        assert os.waitpid(pid, 0)[1] == 0
        rows = read(path, log.uuid)
        assert rows[0] == {'before': 0}
        assert sorted(t for t in rows if 'child' in rows[t]) == list(
            range(1, 40))
        assert sorted(t for t in rows if 'parent' in rows[t]) == list(
            range(100, 140))
        assert committed(path, 'PRAGMA integrity_check') == [('ok',)]

    def test_parent_and_child_pack_the_run_they_share(self, path,
                                                      monkeypatch):
        # The child packs after the parent did, from where the file says
        # packing stands, not from where it stood at the fork; else it
        # would pack again the row the parent wrote after its packing.
        monkeypatch.setattr(chunks, 'SPAN', 4)
        log = SQLiteLog(path)
        for time in range(1, 10):
            log[time]['v'] = float(time)
            log.flush()
        parent_done, child_go = os.pipe()
        pid = os.fork()
        if pid == 0:
            try:
                os.read(parent_done, 1)
                for time in (40, 41, 42):
                    log[time]['child'] = float(time)
                    log.flush()
                log.close()
            finally:
                os._exit(0)
        for time in range(10, 30):
            log[time]['v'] = float(time)
            log.flush()
        log[9]['v'] = -9.0  # a row, in a block packed already
        log.close()
        os.write(child_go, b'x')
        assert os.waitpid(pid, 0)[1] == 0
        with SQLiteLog(path, uuid=log.uuid, read_only=True) as again:
            history = again.history('v')
            assert [time for time, _ in history] == list(range(1, 30))
            assert dict(history)[9] == -9.0
            assert again.history('child') == [(40, 40.0), (41, 41.0),
                                              (42, 42.0)]

    def test_buffer_is_flushed_before_fork(self, path):
        log = SQLiteLog(path)
        log[0]['buffered'] = 1
        pid = os.fork()
        if pid == 0:
            os._exit(0)  # nothing of the child's flushes
        os.waitpid(pid, 0)
        assert count_entries(path) == 1
        log.close()

    def test_the_child_opens_its_own_connection(self, path):
        # Even after a fork the log was not told of: one made by C code
        # (here libc's fork), which runs no at-fork hook.
        libc = ctypes.CDLL(None, use_errno=True)
        log = SQLiteLog(path)
        log[0]['parent'] = 0
        log.flush()
        parent_connection = log.conn
        read_end, write_end = os.pipe()
        pid = libc.fork()
        if pid == 0:
            status = 1
            try:
                inherited = parent_connection.total_changes
                log[1]['child'] = 1
                log.flush()
                log[3]['child'] = 3  # a key known: one statement
                log.flush()
                # Written through a connection of the child's own, not
                # merely opened.
                status = 0 if log.conn is not parent_connection and (
                    log.conn.total_changes and
                    parent_connection.total_changes == inherited) else 3
            finally:
                os.write(write_end, bytes([status]))
                os._exit(0)
        os.waitpid(pid, 0)
        assert os.read(read_end, 1) == b'\x00'
        log[2]['parent'] = 2
        log.close()
        assert read(path, log.uuid) == {0: {'parent': 0}, 1: {'child': 1},
                                        2: {'parent': 2}, 3: {'child': 3}}
        assert committed(path, 'PRAGMA integrity_check') == [('ok',)]

    def test_a_child_forked_by_c_code_while_the_wal_starts_again_writes(
            self, path, monkeypatch):
        # The checkpoints' thread holds its locks while it has the WAL start
        # again, and the writer takes one at each commit meanwhile; a fork
        # made by C code, which runs no at-fork hook, copies them held, and
        # the thread not. The child's writer must not hang.
        libc = ctypes.CDLL(None, use_errno=True)
        restarting, go_on = threading.Event(), threading.Event()
        real_checkpoint_waiting = sqlite_checkpointer._checkpoint_waiting

        def checkpoint_waiting(connection, mode, wait):
            if mode == 'RESTART':
                restarting.set()
                go_on.wait(60)
            return real_checkpoint_waiting(connection, mode, wait)
        monkeypatch.setattr(sqlite_checkpointer, '_checkpoint_waiting',
                            checkpoint_waiting)
        small_wal_bounds(monkeypatch, idle_wait=600)
        log = SQLiteLog(path)
        log.flush()
        grow_the_wal(log, path)
        checkpointer = commit_until_the_wal_is_found_large(log)
        assert restarting.wait(60)
        assert checkpointer.writing.locked()
        pid = libc.fork()
        if pid == 0:
            status = 1
            try:
                log[10 ** 6]['child'] = 1  # a new key: a transaction
                log.flush()
                log[10 ** 6 + 1]['child'] = 2  # one statement
                log.flush()
                status = 0
            finally:
                os._exit(status)
        go_on.set()
        assert exits_within(pid, 60) == 0
        log.close()
        with SQLiteLog(path, uuid=log.uuid, read_only=True) as again:
            assert again.history('child') == [(10 ** 6, 1),
                                              (10 ** 6 + 1, 2)]

    def test_fork_while_another_thread_commits(self, path):
        # Every child must finish: one that inherited a lock in its held
        # state would hang, and its alarm would kill it.
        log = SQLiteLog(path)
        stop = threading.Event()

        def commit():
            time = 1000
            while not stop.is_set():
                log[time]['thread'] = time
                log.flush()
                time += 1
        thread = threading.Thread(target=commit)
        thread.start()
        children = []
        try:
            for index in range(24):
                pid = os.fork()
                if pid == 0:
                    signal.alarm(20)
                    # From a thread of the child's own, which a lock left
                    # held by the forking thread would block.

                    def write():
                        log[index]['child'] = index
                        log.close()
                    writer = threading.Thread(target=write)
                    writer.start()
                    writer.join()
                    os._exit(0)
                children.append(pid)
        finally:
            stop.set()
            thread.join()
        statuses = [os.waitpid(pid, 0)[1] for pid in children]
        assert statuses == [0] * len(children)
        log.close()
        rows = read(path, log.uuid)
        assert sorted(t for t in rows if 'child' in rows[t]) == list(
            range(24))


class TestOneWriterPerRun:
    def test_second_open_in_one_process(self, path):
        # Most often a notebook's earlier cell holds the first: the
        # message says it is of this process.
        log = SQLiteLog(path)
        with pytest.raises(RunInUseError, match=log.h_uuid) as raised:
            SQLiteLog(path, uuid=log.uuid)
        assert 'another log of this process' in str(raised.value)
        assert 'close() that one first' in str(raised.value)
        with SQLiteLog(path, uuid=log.uuid, read_only=True):
            pass  # reading is always allowed
        log.close()
        SQLiteLog(path, uuid=log.uuid).close()

    def test_second_open_in_another_process(self, path):
        log = SQLiteLog(path)
        log.flush()
        process = run_python('''
            import sys
            from blocks_log import PostgreSQLLog, SQLiteLog
            SQLiteLog(sys.argv[1], uuid=sys.argv[2])
            ''', path, log.h_uuid)
        assert process.returncode != 0
        assert 'RunInUseError' in process.stderr
        assert 'process {}'.format(os.getpid()) in process.stderr
        assert 'of this process' not in process.stderr
        log.close()

    def test_a_killed_writer_does_not_hold_the_run(self, path):
        process = subprocess.Popen(
            [sys.executable, '-c', 'import sys; from blocks_log import '
             'SQLiteLog; log = SQLiteLog(sys.argv[1]); print(log.h_uuid, '
             'flush=True); sys.stdin.read()', path],
            stdin=subprocess.PIPE, stdout=subprocess.PIPE,
            universal_newlines=True, env=dict(
                os.environ, PYTHONPATH=os.path.dirname(
                    os.path.dirname(os.path.abspath(__file__)))))
        run = process.stdout.readline().strip()
        with pytest.raises(RunInUseError):
            SQLiteLog(path, uuid=run)
        process.kill()
        process.wait()
        with SQLiteLog(path, uuid=run) as log:
            log[1]['taken over'] = True

    def test_a_claim_of_a_reused_process_id_is_stale(self, path):
        log = SQLiteLog(path)
        log.close()
        forged = ('{{"handle": "x", "host": "{}", "pid": {}, "start": -1}}'
                  .format(os.uname()[1], os.getppid()))
        committed_update(path, forged, log.h_uuid)
        SQLiteLog(path, uuid=log.uuid).close()

    def test_a_writer_in_another_pid_namespace_is_refused(self, path):
        # A container on the same host: the writer's process id means
        # nothing there, and a claim that trusted it let a second writer
        # in. The lock on the claims file holds across namespaces.
        if os.geteuid() != 0 or not shutil.which('unshare'):
            unavailable('PID namespaces', 'unshare --pid needs root')
        log = SQLiteLog(path)
        log.flush()
        process = run_python('''
            import sys
            from blocks_log import RunInUseError, SQLiteLog
            try:
                SQLiteLog(sys.argv[1], uuid=sys.argv[2]).close()
            except RunInUseError:
                print('in use')
            else:
                print('opened')
            ''', path, log.h_uuid, prefix=['unshare', '--pid', '--fork'])
        assert process.returncode == 0, process.stderr
        assert process.stdout.strip() == 'in use'
        log.close()

    def test_resume_moves_the_claim(self, path):
        log = SQLiteLog(path)
        parent = log.uuid
        log.resume()
        SQLiteLog(path, uuid=parent).close()
        with pytest.raises(RunInUseError):
            SQLiteLog(path, uuid=log.uuid)
        log.close()


def test_a_claim_of_this_process_is_held_until_its_handle_drops_it():
    # Where no lock tells (a database in memory, a system without open file
    # description locks), a claim of this process is held while its handle
    # is open, whichever other claims come and go.
    claim, other = claims.new_claim(), claims.new_claim()
    assert claim != other
    assert not claims.is_stale(claim) and not claims.is_stale(other)
    claims.drop(claim)
    assert claims.is_stale(claim) and not claims.is_stale(other)
    claims.drop(other)
    assert claims.is_stale(other)


def committed_update(path, writer, run):
    connection = sqlite3.connect(path)
    with connection:
        connection.execute('UPDATE blocks_log_runs SET writer = ? '
                           'WHERE uuid = ?', (writer, run))
    connection.close()


class TestPromisesOfTheWritePath:
    @pytest.mark.parametrize('bound', [None, 8 * 2 ** 20])
    def test_the_wal_is_cut_down_to_where_it_is_found_large(
            self, path, monkeypatch, bound):
        # To MAX_WAL_BYTES, as it is when the writer opens the file (tests
        # make it smaller), not below it: a cut further down cost the
        # commit after it milliseconds.
        if bound is not None:
            monkeypatch.setattr(sqlite_checkpointer, 'MAX_WAL_BYTES', bound)
        log = SQLiteLog(path)
        log.flush()
        assert log.conn.execute('PRAGMA journal_size_limit').fetchone() == (
            sqlite_checkpointer.MAX_WAL_BYTES,)
        log.close()

    @pytest.mark.parametrize('synchronous, by_link', [
        ('NORMAL', False), ('FULL', False), ('NORMAL', True)])
    def test_a_large_wal_is_emptied_by_the_checkpoints(
            self, path, monkeypatch, synchronous, by_link):
        # A reader that holds a read transaction keeps every checkpoint
        # from reaching the end of the WAL, which grows; once it lets go,
        # the checkpoints (the thread's, or the writer's) empty it. Opened
        # by a symbolic link, they find the WAL beside the file linked to.
        monkeypatch.setattr(sqlite_checkpointer, 'COMMITS', 5)
        monkeypatch.setattr(sqlite_checkpointer, 'MAX_WAL_BYTES',
                            8 * 2 ** 20)
        opened = path
        if by_link:
            opened = path + '.link'
            os.symlink(path, opened)
        log = SQLiteLog(opened, synchronous=synchronous)
        log.flush()
        reader = sqlite3.connect(path, isolation_level=None)
        reader.execute('BEGIN')
        reader.execute('SELECT count(*) FROM blocks_log_entries').fetchone()
        grow_the_wal(log, path)
        reader.execute('COMMIT')
        for _ in range(20):
            log.status['iterations_done'] += 1
        assert eventually(lambda: wal_size(path) <= (
            sqlite_checkpointer.MAX_WAL_BYTES))
        log.close()
        reader.close()

    def test_the_thread_restarts_a_large_wal_between_the_writers_commits(
            self, path, monkeypatch):
        # After its PASSIVE passes, the thread has the WAL start again
        # (RESTART) holding the writer's lock, so that no commit of the
        # writer's waits for it in SQLite's busy handler; the writer runs no
        # checkpoint, and its next commit has SQLite cut the file down.
        small_wal_bounds(monkeypatch, idle_wait=600)
        statements = traced_checkpoints(monkeypatch)
        log = SQLiteLog(path)
        log.flush()
        trace_checkpoints(log.conn, statements)
        checkpointer = log._session.store.db.checkpointer
        held_at_restart = []
        real_checkpoint_waiting = sqlite_checkpointer._checkpoint_waiting

        def checkpoint_waiting(connection, mode, wait):
            # The writer commits nothing meanwhile: a held lock is the
            # thread's own.
            held_at_restart.append((mode, checkpointer.writing.locked()))
            return real_checkpoint_waiting(connection, mode, wait)
        monkeypatch.setattr(sqlite_checkpointer, '_checkpoint_waiting',
                            checkpoint_waiting)
        grow_the_wal(log, path)
        commit_until_the_wal_is_found_large(log)
        assert eventually(lambda: checkpointer.emptying is (
            sqlite_checkpointer.RESTARTED))
        assert held_at_restart == [('RESTART', True)]
        for _ in range(3):  # the WAL starts again, then the file is cut
            log.status['iterations_done'] += 1
        # Cut down to the bound, no further: the WAL starts again at the
        # file's beginning.
        assert wal_size(path) == sqlite_checkpointer.MAX_WAL_BYTES
        assert checkpointer.emptying is None
        by_thread = [statement for thread, statement in statements
                     if thread.startswith('blocks_log checkpoints')]
        assert by_thread[-1] == 'PRAGMA wal_checkpoint(RESTART)'
        assert set(by_thread[:-1]) == set(['PRAGMA wal_checkpoint(PASSIVE)'])
        assert not [statement for thread, statement in statements
                    if not thread.startswith('blocks_log checkpoints')]
        log.close()

    def test_each_commit_of_the_writer_holds_its_lock_while_the_thread_passes(
            self, path, monkeypatch):
        # What keeps the thread's RESTART between two commits: while the
        # thread passes over a large file, the writer holds `writing` from
        # each commit's beginning to its end, in one statement (an
        # iteration's) or a transaction (a new key's).
        log, checkpointer, go_on = a_log_whose_thread_passes(path,
                                                             monkeypatch)
        held = []
        log.conn.set_trace_callback(lambda statement: held.append((
            statement.split()[0], checkpointer.writing.locked())))
        # The status alone, then a new key (a transaction), then an
        # iteration (one statement); the lock let go at each commit's end.
        for value in (None, 1.0, 2.0):
            if value is not None:
                log.current_row['a'] = value
            log.status['iterations_done'] += 1
            assert not checkpointer.writing.locked()
        log.conn.set_trace_callback(None)
        assert checkpointer.emptying is sqlite_checkpointer.PASSING
        go_on.set()
        verbs = [verb for verb, _ in held]
        assert verbs.count('BEGIN') == 1
        assert 'INSERT' in verbs[verbs.index('COMMIT') + 1:]
        assert all(holding for _, holding in held)
        log.close()

    def test_no_checkpoint_is_asked_of_the_thread_while_it_passes_over(
            self, path, monkeypatch):
        # Commits go on while the thread makes its pass over a large file:
        # none of them wakes it again, which would have it take the
        # writer's turn (a TRUNCATE that holds the writer up).
        statements = traced_checkpoints(monkeypatch)
        log, checkpointer, go_on = a_log_whose_thread_passes(path,
                                                             monkeypatch)
        for _ in range(2 * sqlite_checkpointer.COMMITS):
            log.status['iterations_done'] += 1
        go_on.set()
        assert eventually(lambda: checkpointer.emptying is not (
            sqlite_checkpointer.PASSING))
        for _ in range(3):  # the WAL starts again, then the file is cut
            log.status['iterations_done'] += 1
        assert wal_size(path) <= sqlite_checkpointer.MAX_WAL_BYTES
        assert not any('TRUNCATE' in statement for _, statement in statements)
        log.close()

    @pytest.mark.parametrize('bound, count', [(None, 3), (2, 2), (10, 3)])
    def test_the_thread_passes_again_over_what_was_committed_meanwhile(
            self, path, monkeypatch, bound, count):
        # The writer commits megabytes while the thread passes over a
        # large file: the thread passes again over them, so that its
        # RESTART, which the writer's commits may wait for, has nothing
        # left to copy (here, where the writer commits nothing during that
        # pass);
        # a pass that copies nothing is the last, if PASSES (`bound`) is
        # not reached first.
        small_wal_bounds(monkeypatch, idle_wait=600)
        if bound is not None:
            monkeypatch.setattr(sqlite_checkpointer, 'PASSES', bound)
        passing, passed, go_on = (threading.Event(), threading.Event(),
                                  threading.Event())
        passes = []
        checkpointer_class = sqlite_checkpointer.Checkpointer
        real_pass_over = checkpointer_class._pass_over
        real_checkpoint = checkpointer_class._checkpoint

        def pass_over(self, connection):
            passing.set()
            return real_pass_over(self, connection)

        def checkpoint(self, connection, mode):
            result = real_checkpoint(self, connection, mode)
            if passing.is_set():
                passes.append(mode)
            if passing.is_set() and not passed.is_set():  # its first pass
                passed.set()
                go_on.wait(60)
            return result
        monkeypatch.setattr(checkpointer_class, '_pass_over', pass_over)
        monkeypatch.setattr(checkpointer_class, '_checkpoint', checkpoint)
        log = SQLiteLog(path)
        log.flush()
        grow_the_wal(log, path)
        checkpointer = commit_until_the_wal_is_found_large(log)
        assert passed.wait(60)
        assert frames_not_copied(path) == 0
        for _ in range(100):
            log.status['iterations_done'] += 1
            log.current_row['text'] = 'x' * 10000
        assert frames_not_copied(path) > 1000
        go_on.set()
        assert eventually(lambda: checkpointer.emptying is (
            sqlite_checkpointer.RESTARTED))
        assert frames_not_copied(path) == 0
        assert passes == ['PASSIVE'] * count
        log.close()

    @pytest.mark.skipif(not hasattr(os, 'fork'), reason='POSIX')
    def test_a_child_forked_while_a_large_wal_is_passed_over_checkpoints(
            self, path, monkeypatch):
        # The parent's thread, busy with a pass over a large file at the
        # fork, does not run in the child, which asks its own.
        log, checkpointer, go_on = a_log_whose_thread_passes(path,
                                                             monkeypatch)

        def child():
            go_on.set()  # the child's own thread passes as it is asked
            grow_the_wal(log, path)
            for _ in range(20 * sqlite_checkpointer.COMMITS):
                if wal_size(path) <= sqlite_checkpointer.MAX_WAL_BYTES:
                    break
                log.status['iterations_done'] += 1
                _time.sleep(0.002)
            assert wal_size(path) <= sqlite_checkpointer.MAX_WAL_BYTES
            log.close()
        pid = in_child(child)
        go_on.set()
        assert exits_within(pid, 60) == 0
        log.close()

    def test_the_thread_empties_a_large_wal_the_writer_left(
            self, path, monkeypatch):
        # A writer that commits nothing after the thread's pass (its loop
        # paused, or ended) leaves the emptying to the thread.
        small_wal_bounds(monkeypatch, idle_wait=0.01)
        statements = traced_checkpoints(monkeypatch)
        log = SQLiteLog(path)
        log.flush()
        grow_the_wal(log, path)
        commit_until_the_wal_is_found_large(log)
        assert eventually(lambda: wal_size(path) <= (
            sqlite_checkpointer.MAX_WAL_BYTES))
        assert any(thread.startswith('blocks_log checkpoints') and
                   'TRUNCATE' in statement for thread, statement in statements)
        log.close()

    def test_a_large_wal_a_reader_holds_is_emptied_once_it_lets_go(
            self, path, monkeypatch):
        # A RESTART, which waits for no one, cannot go through while a
        # reader reads an older state: the thread then empties the file
        # (TRUNCATE), waiting for the reader.
        small_wal_bounds(monkeypatch, idle_wait=600)
        statements = traced_checkpoints(monkeypatch)
        log = SQLiteLog(path)
        log.flush()
        grow_the_wal(log, path)
        reader = sqlite3.connect(path, isolation_level=None)
        reader.execute('BEGIN')
        reader.execute('SELECT count(*) FROM blocks_log_entries').fetchone()
        commit_until_the_wal_is_found_large(log)
        assert eventually(lambda: 'PRAGMA wal_checkpoint(TRUNCATE)' in (
            statement for _, statement in statements))
        assert 'PRAGMA wal_checkpoint(RESTART)' in (
            statement for _, statement in statements)
        assert wal_size(path) > sqlite_checkpointer.MAX_WAL_BYTES
        reader.execute('COMMIT')
        assert eventually(lambda: wal_size(path) <= (
            sqlite_checkpointer.MAX_WAL_BYTES))
        assert all(thread.startswith('blocks_log checkpoints')
                   for thread, _ in statements)
        reader.close()
        log.close()

    def test_a_wal_grown_by_large_commits_starts_again_soon_past_its_bound(
            self, path, monkeypatch):
        # Commits of many iterations each (and packing) write much: the
        # writer looks at the file's size after each, not only every
        # COMMITS commits (here never), and has the WAL start again at the
        # first commit past the bound, rather than when the file is far
        # larger. The test waits for the thread's passes and RESTART at
        # each request: what it measures is when the writer finds the file
        # large, not how soon a loaded machine schedules the thread (it
        # once let the file reach 4,226,616 bytes, past twice the bound).
        log, found_large = watched_as_it_empties(path, monkeypatch,
                                                 commit_every=1000)
        largest = 0
        for iteration in range(80000):
            log.status['iterations_done'] += 1
            for index in range(10):
                log.current_row['k{}'.format(index)] = iteration * 0.5
            if iteration % 1000 == 0:
                largest = max(largest, wal_size(path))
        assert_emptied_soon_past_the_bound(found_large)
        assert largest < 2 * sqlite_checkpointer.MAX_WAL_BYTES
        log.close()

    @pytest.mark.parametrize('commit', ['of an iteration', 'of two times'])
    def test_a_wal_grown_by_commits_of_arrays_starts_again_soon_past_its_bound(
            self, path, monkeypatch, commit):
        # A commit holding an array writes much too, in one statement: its
        # writer looks at the file's size after it (an iteration of an
        # array of 256 KiB each: 250 commits took the file past
        # STUCK_WAL_BYTES, and the writer checkpointed it itself, 80 ms).
        log, found_large = watched_as_it_empties(path, monkeypatch)
        array = bytes(sqlite_checkpointer.LARGE_COMMIT_BYTES)
        for iteration in range(200):
            log.status['iterations_done'] += 1
            log.current_row['image'] = array
            if commit == 'of two times':
                log[iteration]['step'] = 0.5
        assert_emptied_soon_past_the_bound(found_large)
        log.close()

    def test_a_writer_that_lets_a_large_wal_go_empties_it(self, path,
                                                          monkeypatch):
        # Another connection keeps the file open, so that SQLite does not
        # delete the -wal file: the writer empties it as it closes.
        monkeypatch.setattr(sqlite_checkpointer, 'COMMITS', 10 ** 9)
        log = SQLiteLog(path)
        log.flush()
        reader = sqlite3.connect(path, isolation_level=None)
        reader.execute('SELECT count(*) FROM blocks_log_meta').fetchone()
        grow_the_wal(log, path)
        log.close()
        assert wal_size(path) == 0
        reader.close()

    def test_the_buffer_is_bounded(self, path, monkeypatch):
        log = SQLiteLog(path)
        log._session.max_pending = 50
        for index in range(120):
            log[0]['k{}'.format(index)] = index
        assert count_entries(path) == 100  # two commits of 50
        log.close()
        assert count_entries(path) == 120

    @pytest.mark.parametrize('known', [False, True],
                             ids=['a-transaction', 'one-statement'])
    def test_busy_writer_is_waited_for(self, path, monkeypatch, known):
        # Another process holds the write lock; SQLite's own wait is made
        # short, so that our retry must do the waiting. The holder lets go
        # at our first retry. The commit of a key never written takes a
        # transaction; a commit of known keys, one statement.
        log = SQLiteLog(path)
        if known:
            log[1]['a'] = 1
            log.flush()
        holder = subprocess.Popen(
            [sys.executable, '-c', 'import sqlite3, sys; c = sqlite3.connect('
             'sys.argv[1], isolation_level=None); c.execute("BEGIN '
             'IMMEDIATE"); print("locked", flush=True); sys.stdin.readline();'
             ' c.execute("COMMIT")', path],
            stdin=subprocess.PIPE, stdout=subprocess.PIPE,
            universal_newlines=True)
        assert holder.stdout.readline() == 'locked\n'
        log.conn.execute('PRAGMA busy_timeout = 1')
        retries = []

        def release(seconds):
            retries.append(seconds)
            if len(retries) == 1:
                holder.stdin.write('go\n')
                holder.stdin.flush()
                holder.wait()
        monkeypatch.setattr(sqlite_transactions.time, 'sleep', release)
        log[0]['a'] = 1
        log.flush()
        assert retries and log.conn.execute(
            'SELECT COUNT(*) FROM blocks_log_entries WHERE time = 0').fetchone(
            ) == (1,)
        log.close()

    def test_wal_and_synchronous(self, path):
        with SQLiteLog(path, synchronous='FULL') as log:
            assert log.conn.execute('PRAGMA journal_mode').fetchone() == (
                'wal',)
            assert log.conn.execute('PRAGMA synchronous').fetchone() == (2,)
        with SQLiteLog(path) as log:
            assert log.conn.execute('PRAGMA synchronous').fetchone() == (1,)

    def test_a_reader_is_not_blocked_by_an_open_write(self, path):
        # WAL: a reader reads while another connection holds a write
        # transaction (in the rollback journal it would wait).
        with SQLiteLog(path) as log:
            log[0]['a'] = 1
            run = log.uuid
        blocker = sqlite3.connect(path, isolation_level=None)
        blocker.execute('BEGIN EXCLUSIVE')
        blocker.execute("UPDATE blocks_log_meta SET value = value")
        with SQLiteLog(path, uuid=run, read_only=True) as reader:
            reader.conn.execute('PRAGMA busy_timeout = 0')
            assert dict(reader[0]) == {'a': 1}
        blocker.execute('ROLLBACK')

    def test_question_mark_and_hash_in_paths(self, tmp_path):
        directory = tmp_path / 'a?b#c%20d'
        directory.mkdir()
        path = str(directory / 'log?.sqlite')
        with SQLiteLog(path) as log:
            log[0]['a'] = 1
        # The database, and the (empty) file whose bytes writers lock.
        assert sorted(os.listdir(str(directory))) == [
            'log?.sqlite', 'log?.sqlite-claims']
        assert count_entries(path) == 1

    def test_a_failed_commit_rolls_back_all_of_it(self, path):
        log = SQLiteLog(path)
        log.flush()
        pages = committed(path, 'PRAGMA page_count')[0][0]
        log.conn.execute('PRAGMA max_page_count = {}'.format(pages + 2))
        for index in range(3000):  # many statements; the disk fills late
            log[index]['v'] = index
        with pytest.raises(LogWriteError, match='full'):
            log.flush()
        assert count_entries(path) == 0
        assert not log.conn.in_transaction
        log.conn.execute('PRAGMA max_page_count = 100000000')
        log.close()
        assert count_entries(path) == 3000

    def test_a_read_only_log_follows_the_writer(self, path):
        writer = SQLiteLog(path)
        writer.flush()
        reader = SQLiteLog(path, uuid=writer.uuid, read_only=True)
        assert list(reader) == []
        writer.current_row['a'] = 0
        writer.status['iterations_done'] += 1
        assert reader.status['iterations_done'] == 1
        assert list(reader) == [0] and reader[0]['a'] == 0
        writer.status['epochs_done'] = 5
        writer.flush()
        assert dict(reader.status)['epochs_done'] == 5
        writer.close()
        reader.close()


def test_unknown_uuid_of_a_log_in_one_process_is_refused_cleanly(path):
    with pytest.raises(KeyError):
        SQLiteLog(path, uuid=uuid.uuid4())
    assert not os.path.exists(path)


def test_max_pending_is_the_module_bound():
    assert session_module.MAX_PENDING == 4096


class TestCheckpoints:
    def test_the_writer_leaves_checkpoints_to_a_thread(self, path,
                                                       monkeypatch):
        monkeypatch.setattr(sqlite_checkpointer, 'COMMITS', 5)
        done = threading.Event()
        threads = []
        real_connect = sqlite_checkpointer.Checkpointer.__init__

        def init(self, path, connect, inline=False):
            def counting_connect():
                connection = connect()
                connection.set_trace_callback(lambda statement: (
                    threads.append(threading.current_thread().name),
                    done.set()) if 'wal_checkpoint' in statement else None)
                return connection
            real_connect(self, path, counting_connect, inline)
        monkeypatch.setattr(sqlite_checkpointer.Checkpointer, '__init__',
                            init)
        log = SQLiteLog(path)
        assert log.conn.execute('PRAGMA wal_autocheckpoint').fetchone() == (
            0,)
        size = os.path.getsize(path)
        for _ in range(20):
            log.status['iterations_done'] += 1
            log.current_row['v'] = 1.0
        assert done.wait(60)
        assert threads[0].startswith('blocks_log checkpoints')
        log.close()
        assert os.path.getsize(path) > size  # pages copied back

    def test_a_writer_that_syncs_each_commit_checkpoints_itself(
            self, path, monkeypatch):
        # synchronous='FULL': a thread's sync of the database beside the
        # writer's syncs of the -wal made commits slower than running the
        # checkpoint in the writer's thread (bench_sqlite.py).
        monkeypatch.setattr(sqlite_checkpointer, 'COMMITS', 5)
        log = SQLiteLog(path, synchronous='FULL')
        log.flush()
        size = os.path.getsize(path)
        threads = []
        log.conn.set_trace_callback(lambda statement: threads.append(
            threading.current_thread().name)
            if 'wal_checkpoint' in statement else None)
        for _ in range(20):
            log.status['iterations_done'] += 1
            log.current_row['v'] = 1.0
        assert threads and set(threads) == set(['MainThread'])
        assert log._session.store.db.checkpointer._thread is None
        assert os.path.getsize(path) > size  # pages copied back
        log.close()

    def test_a_fork_waits_for_a_running_checkpoint(self, path):
        # The checkpoint thread holds the lock while it runs; the fork
        # takes it first, and both sides have it free afterwards.
        log = SQLiteLog(path)
        log.flush()
        checkpointer = log._session.store.db.checkpointer
        held_at_fork = []
        real_before_fork = checkpointer.before_fork

        def before_fork():
            real_before_fork()
            held_at_fork.append(checkpointer.lock.locked())
        checkpointer.before_fork = before_fork
        pid = os.fork()
        if pid == 0:
            os._exit(3 if checkpointer.lock.locked() else 0)
        assert os.waitpid(pid, 0)[1] == 0
        assert held_at_fork == [True] and not checkpointer.lock.locked()
        log.close()

    def test_a_fork_while_the_thread_is_woken(self, path):
        # The fork takes the lock the thread is woken and waits with: a
        # child that started with it held hung at its exit.
        log = SQLiteLog(path)
        log.flush()
        checkpointer = log._session.store.db.checkpointer
        held, forked = threading.Event(), threading.Event()

        def waking():
            with checkpointer._wake:  # as committed() does, a moment
                held.set()
                forked.wait(0.5)
        thread = threading.Thread(target=waking)
        thread.start()
        held.wait()
        pid = in_child(log.close)
        forked.set()
        thread.join()
        assert exits_within(pid, 30) == 0, 'the child hung at its exit'
        log.close()


def exits_within(pid, seconds):
    """The exit status of child `pid`, or ``None`` (and the child killed)
    if it has not ended within `seconds`: a hang, not a slow machine."""
    deadline = _time.monotonic() + seconds
    while _time.monotonic() < deadline:
        done, status = os.waitpid(pid, os.WNOHANG)
        if done:
            return status
        _time.sleep(0.05)
    os.kill(pid, signal.SIGKILL)
    os.waitpid(pid, 0)
    return None


def grow_the_wal(log, path):
    """Write iterations into `log` until its -wal file is larger than the
    checkpoints let it be. The checkpoints' thread is held off meanwhile:
    on a loaded machine its passes copied all of the WAL between two
    commits, SQLite had the WAL start again by itself, and the file did
    not grow."""
    checkpointer = log._session.store.db.checkpointer
    text = 'x' * 10000
    with checkpointer.lock:
        while wal_size(path) <= sqlite_checkpointer.MAX_WAL_BYTES:
            log.status['iterations_done'] += 1
            log.current_row['text'] = text


def frames_not_copied(path):
    """Frames of the WAL of the database at `path` not yet copied into the
    database: ``mxFrame`` less ``nBackfill``, read from the WAL-index (the
    -shm file; https://www.sqlite.org/walformat.html, in the byte order of
    the machine)."""
    with open(path + '-shm', 'rb') as shm:
        header = shm.read(100)
    written, = struct.unpack_from('=I', header, 16)
    copied, = struct.unpack_from('=I', header, 96)
    return written - copied


def small_wal_bounds(monkeypatch, idle_wait):
    """Checkpoints every 5 commits, a -wal file large past 8 MiB (above
    what SQLite cuts it down to), and `idle_wait` for IDLE_WAIT."""
    monkeypatch.setattr(sqlite_checkpointer, 'COMMITS', 5)
    monkeypatch.setattr(sqlite_checkpointer, 'MAX_WAL_BYTES', 8 * 2 ** 20)
    monkeypatch.setattr(sqlite_checkpointer, 'IDLE_WAIT', idle_wait)


def a_log_whose_thread_passes(path, monkeypatch):
    """A new SQLiteLog at `path` whose checkpoints' thread passes over a
    large -wal file, and waits there (see
    :func:`hold_the_thread_in_its_pass`) with the bounds of
    :func:`small_wal_bounds`: the log, its checkpointer, and the event
    that lets the thread go on."""
    small_wal_bounds(monkeypatch, idle_wait=600)
    in_pass, go_on = hold_the_thread_in_its_pass(monkeypatch)
    log = SQLiteLog(path)
    log.flush()
    grow_the_wal(log, path)
    checkpointer = commit_until_the_wal_is_found_large(log)
    assert in_pass.wait(60)
    return log, checkpointer, go_on


def hold_the_thread_in_its_pass(monkeypatch):
    """Have the checkpoints' thread, at each checkpoint of its passes over
    a large -wal file, wait until the returned `go_on` is set; the returned
    `in_pass` is set once it does."""
    in_pass, go_on = threading.Event(), threading.Event()
    real_checkpoint = sqlite_checkpointer.Checkpointer._checkpoint

    def checkpoint(self, connection, mode):
        if self.emptying is sqlite_checkpointer.PASSING and (
                not go_on.is_set()):
            in_pass.set()
            go_on.wait(60)
        return real_checkpoint(self, connection, mode)
    monkeypatch.setattr(sqlite_checkpointer.Checkpointer, '_checkpoint',
                        checkpoint)
    return in_pass, go_on


def commit_until_the_wal_is_found_large(log):
    """Commit iterations of `log` up to the one whose checkpoint finds its
    -wal file large, and no further; its checkpointer."""
    checkpointer = log._session.store.db.checkpointer
    for _ in range(sqlite_checkpointer.COMMITS):
        if checkpointer._mode == 'EMPTY':
            break
        log.status['iterations_done'] += 1
    assert checkpointer._mode == 'EMPTY'
    return checkpointer


def trace_checkpoints(connection, statements):
    """Have `statements` get ``(thread name, statement)`` of each
    checkpoint run on `connection`."""
    connection.set_trace_callback(lambda statement: statements.append((
        threading.current_thread().name, statement)) if (
            'wal_checkpoint' in statement) else None)


def traced_checkpoints(monkeypatch):
    """A list that gets ``(thread name, statement)`` of each checkpoint run
    on the connections of the checkpoints' threads made from now on."""
    statements = []
    real_init = sqlite_checkpointer.Checkpointer.__init__

    def init(self, path, connect, inline=False):
        def tracing_connect():
            connection = connect()
            trace_checkpoints(connection, statements)
            return connection
        real_init(self, path, tracing_connect, inline)
    monkeypatch.setattr(sqlite_checkpointer.Checkpointer, '__init__', init)
    return statements


def watched_as_it_empties(path, monkeypatch, **options):
    """``(log, sizes)``: a SQLiteLog on `path` (of `options`) whose writer
    looks at its -wal file's size only after commits that may write much
    (COMMITS never), against a bound of 2 MiB, and the sizes at which it
    has the thread empty the file (a list, growing). Each emptying is
    waited for: what a test measures is when the writer finds the file
    large, not how soon a loaded machine schedules the thread."""
    monkeypatch.setattr(sqlite_checkpointer, 'COMMITS', 10 ** 9)
    monkeypatch.setattr(sqlite_checkpointer, 'MAX_WAL_BYTES', 2 ** 21)
    monkeypatch.setattr(sqlite_checkpointer, 'IDLE_WAIT', 600)
    log = SQLiteLog(path, **options)
    checkpointer = log._session.store.db.checkpointer
    found_large = []
    real_in_thread = checkpointer._in_thread

    def in_thread(mode):
        if mode == 'EMPTY':
            found_large.append(wal_size(path))
        real_in_thread(mode)
        if mode == 'EMPTY':
            assert eventually(lambda: checkpointer.emptying is not (
                sqlite_checkpointer.PASSING))
    monkeypatch.setattr(checkpointer, '_in_thread', in_thread)
    return log, found_large


def assert_emptied_soon_past_the_bound(sizes):
    """The writer had the -wal file emptied more than once, each time
    past its bound, and never twice past it."""
    assert len(sizes) > 1
    assert all(sqlite_checkpointer.MAX_WAL_BYTES < size < (
        2 * sqlite_checkpointer.MAX_WAL_BYTES) for size in sizes)


@pytest.mark.skipif(not hasattr(os, 'fork'), reason='POSIX')
@pytest.mark.parametrize('commit', ['of an iteration', 'of a new key'])
@pytest.mark.parametrize('fork', ['os.fork', 'unseen'])
@pytest.mark.parametrize('values', ['numbers', 'large'])
def test_parent_and_child_write_one_block(make_database_log, monkeypatch,
                                          commit, fork, values):
    # Each remembers only what it wrote into the block: the one that packs
    # it reads it from the store, or the other's values are lost. Both
    # count the parts of their commits from where the parent stood: their
    # first batches of a time collide, and neither is lost. A fork by C
    # code runs no at-fork hook: the parent finds the child's rows in the
    # block it packs (large values: where it leaves its own batches).
    monkeypatch.setattr(chunks, 'SPAN', 4)
    if values == 'large':
        monkeypatch.setattr(run_packing, 'LARGE_VALUE_BYTES', 4)
    value = float if values == 'numbers' else 'value {}'.format
    log = make_database_log()
    log[1]['child'] = log[1]['parent'] = value(1)

    def child():
        for time in range(20, 24):
            log[time]['child'] = float(time)
            log.flush()
        log.close()
    assert os.waitpid(in_child(child, unseen=fork == 'unseen'), 0)[1] == 0
    if commit == 'of a new key':  # a transaction, not one statement
        log[20]['new key'] = 0.5
    for time in range(20, 32):
        log[time]['parent'] = value(time)
        log.flush()
    log.close()
    again = make_database_log(uuid=log.uuid, read_only=True)
    assert again.history('new key') == (
        [(20, 0.5)] if commit == 'of a new key' else [])
    assert [time for time, _ in again.history('child')] == [1] + list(
        range(20, 24))
    assert again.history('parent') == [
        (time, value(time)) for time in [1] + list(range(20, 32))]
    if make_database_log.backend == 'sqlite-file' and values == 'numbers':
        # Packed all the same; but for the row at 1 of an unseen fork: not
        # flushed before it, committed by both, the later into a block the
        # earlier packed (where it stays a row).
        assert [time for _, time, key, _ in head_values(log.database)
                if time < 28] == ([] if fork == 'os.fork' else [1] * 4)


@pytest.mark.skipif(not hasattr(os, 'fork'), reason='POSIX')
def test_a_commit_of_many_blocks_after_an_unseen_fork(make_database_log,
                                                      monkeypatch):
    # A commit of several blocks packs those it wrote everything of with
    # its own values, from memory: after a fork by C code (no at-fork
    # hook), a block the child wrote into is packed from the database.
    monkeypatch.setattr(chunks, 'SPAN', 4)
    log = make_database_log(commit_every=100)
    log.flush()

    def child():
        log[2]['child'] = 2.0
        log[3]['child'] = 3.0
        log.close()
    assert os.waitpid(in_child(child, unseen=True), 0)[1] == 0
    for time in range(1, 11):
        log[time]['parent'] = float(time)
    log.close()
    again = make_database_log(uuid=log.uuid, read_only=True)
    assert again.history('child') == [(2, 2.0), (3, 3.0)]
    assert again.history('parent') == [(time, float(time))
                                       for time in range(1, 11)]


def test_what_an_iteration_changes_commits_with_it(make_database_log):
    # A training loop that commits each iteration: whatever else an
    # iteration changed (a status value set, changed in place or deleted, a
    # value deleted) commits with its values, and another handle reads it
    # at once.
    log = make_database_log()
    reader = make_database_log(uuid=log.uuid, read_only=True)

    def iteration(change=lambda: None):
        done = log.status['iterations_done']
        log.current_row['loss'] = float(done)
        log.current_row['rate'] = 0.5
        change()
        log.status['iterations_done'] += 1
        return done

    for _ in range(3):
        iteration()
    iteration(lambda: log.status.__setitem__('best', 0.25))
    assert reader.status['best'] == 0.25
    iteration(lambda: log.status['_epoch_ends'].append(4))
    assert reader.status['_epoch_ends'] == [4]
    iteration(lambda: log.status.__delitem__('best'))
    assert 'best' not in reader.status
    time = iteration(lambda: log.current_row.__delitem__('loss'))
    assert dict(reader[time]) == {'rate': 0.5}

    def forgotten():
        del log.current_row['loss']
        del log.current_row['rate']
    time = iteration(forgotten)
    assert time not in reader and len(reader) == time
    assert reader.status['iterations_done'] == time + 1
    assert dict(reader[time - 1]) == {'rate': 0.5}
    assert reader[2] == {'loss': 2.0, 'rate': 0.5}


def test_values_ahead_and_written_again_in_a_training_loop(
        make_database_log):
    # Iterations of the same keys commit in one statement each; a commit
    # of those keys at two times, a value written again at a time already
    # committed: each value at its own time, none lost.
    log = make_database_log()
    for step in range(4):
        log.current_row['x'] = float(step)
        log.current_row['y'] = -float(step)
        log.status['iterations_done'] += 1
    log[3]['x'] = 12.0  # the iteration just committed, written again
    log.flush()
    log.current_row['x'] = 10.0
    log[5]['y'] = 11.0  # the next iteration's, ahead of it
    log.status['iterations_done'] += 1
    reader = make_database_log(uuid=log.uuid, read_only=True)
    assert reader[4] == {'x': 10.0} and reader[5] == {'y': 11.0}
    assert reader[3] == {'x': 12.0, 'y': -3.0}
    assert reader[2] == {'x': 2.0, 'y': -2.0}


def test_a_status_key_first_set_in_a_training_loop(make_database_log):
    # Iterations whose keys came before commit in one statement; a status
    # key never written before needs its id made first.
    log = make_database_log()
    for iteration in range(6):
        log.current_row['loss'] = float(iteration)
        if iteration == 3:
            log.status['best'] = 0.25
        log.status['iterations_done'] += 1
    run = log.uuid
    log.close()
    reader = make_database_log(uuid=run, read_only=True)
    assert reader.status['best'] == 0.25
    assert reader.status['iterations_done'] == 6
    assert [reader[time]['loss'] for time in range(6)] == [
        0.0, 1.0, 2.0, 3.0, 4.0, 5.0]


def test_a_status_key_first_set_with_values_of_one_time(make_database_log):
    # A commit of one status value and values at one time, the status key
    # never written before: its id made first.
    log = make_database_log()
    log.current_row['loss'] = 1.0
    log.flush()
    log.status['best'] = 0.25
    log.current_row['loss'] = 0.5
    log.flush()
    run = log.uuid
    log.close()
    reader = make_database_log(uuid=run, read_only=True)
    assert reader.status['best'] == 0.25 and reader[0] == {'loss': 0.5}
