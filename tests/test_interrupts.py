"""Ctrl-C in a training loop: a real SIGINT, raised as KeyboardInterrupt
wherever Python runs its handler, never breaks the log nor changes what
it holds. The loop may stop there and close the log, or catch it and go
on; either way every value logged reads back as a plain dict holds it.

Python runs a signal's handler as a call returns: most often one into C
that took the time the signal came in, a COMMIT say. Two tests send
SIGINT exactly there (after BEGIN, after COMMIT: the moments where a
transaction would be left open, or a commit that landed undone); the last
sends it at random moments, every fraction of a millisecond, under each
commit policy."""
import gc
import itertools
import os
import signal
import sys
import threading

import pytest

from blocks_log import SQLiteLog
from blocks_log.stores import chunks, sqlite_checkpointer, sqlite_transactions
from conftest import backend_factories, use_backend

KEYS = ['loss', 'rate', 'note']
# Where SIGINT is sent from: blocks_log's code, and the driver's it calls.
LIBRARIES = [os.path.join(name, '') for name in ('blocks_log', 'psycopg')]
# Calls an iteration's log calls make, at most, in the tests below (those
# of a commit that packs a block), by store.
CALLS = {'sqlite-file': 120, 'postgresql': 400}
# Of the calls a log's close() makes, one in this many is interrupted (by
# store): each a log of its own.
STRIDES = {'sqlite-file': 1, 'postgresql': 7}


class Loop(object):
    """A training loop that catches KeyboardInterrupt and goes on (doing
    again the call it interrupted), beside a plain dict of what it
    logged."""

    def __init__(self, log):
        self.log, self.rows, self.interrupts = log, {}, 0
        # A list, true while a call runs (its first try), for a handler of
        # SIGINT to raise only then; None where every SIGINT is sent from
        # inside blocks_log's code.
        self.armed = None

    def call(self, action):
        """`action()`, every call into the log made through here."""
        armed = self.armed
        try:
            if armed is not None:
                armed.append(True)
            return action()
        except KeyboardInterrupt:
            self.interrupts += 1
            return action()  # the signals this test sends come one by one
        finally:
            if armed is not None:
                del armed[:]  # no call: no handler runs before it

    def done(self):
        return self.call(lambda: self.log.status['iterations_done'])

    def iteration(self, epoch=False):
        done = self.done()

        def advance():
            if self.log.status['iterations_done'] == done:
                self.log.status['iterations_done'] += 1
        self.call(advance)
        time = self.done()
        for key in KEYS:
            value = 's{}'.format(time) if key == 'note' else float(
                time * 3 + len(key))
            if key == 'note' and time % 7:
                continue

            def write(key=key, value=value):
                self.log.current_row[key] = value
            self.call(write)
            self.rows.setdefault(time, {})[key] = value
        if epoch:
            # As Blocks' main loop ends an epoch: a status list that grows
            # is stored by what it gains, in pieces.
            ends = self.call(lambda: list(self.log.status['_epoch_ends']))

            def end_epoch():
                if self.log.status['_epoch_ends'] == ends:
                    self.log.status['_epoch_ends'] += [time]
            self.call(end_epoch)
            self.epoch_ends = ends + [time]

    def read_back(self, reopen=None):
        """What the log holds once closed, and its iterations_done, read
        by ``reopen(uuid)`` (a log read-only; of the SQLite file, by
        default)."""
        path, uuid = getattr(self.log, 'database', None), self.log.h_uuid
        self.call(self.log.close)
        rows = {}
        reopen = reopen or (lambda uuid: SQLiteLog(path, uuid=uuid,
                                                   read_only=True))
        with reopen(uuid) as log:
            for time, key, value in log.records():
                rows.setdefault(time, {})[key] = value
            self.status = dict(log.status)
            return rows, log.status['iterations_done']


def sigint_after(statement, monkeypatch, times=1):
    """Send this process SIGINT as `statement` (its first `times` runs)
    returns to Python, where its handler then runs."""
    retry, left = sqlite_transactions.retry, [times]

    def retrying(action, *args, **kwargs):
        result = retry(action, *args, **kwargs)
        if args and args[0] == statement and left[0]:
            left[0] -= 1
            signal.raise_signal(signal.SIGINT)
        return result
    monkeypatch.setattr(sqlite_transactions, 'retry', retrying)
    return left


@pytest.fixture
def small_blocks(monkeypatch):
    monkeypatch.setattr(chunks, 'SPAN', 8)


@pytest.mark.parametrize('statement', ['BEGIN IMMEDIATE', 'COMMIT'])
@pytest.mark.parametrize('commit', ['packing', 'new-key', 'epochs', 'compact'])
def test_sigint_as_a_transaction_begins_or_lands(
        tmp_path, monkeypatch, small_blocks, statement, commit):
    # A transaction: one that packs a block (past a block's edge), one of
    # a key never written, the packing of the last blocks at close.
    options = {'commit_every': 20} if commit == 'compact' else {}
    loop = Loop(SQLiteLog(str(tmp_path / 'log.sqlite'), **options))
    for _ in range(5):
        loop.iteration()
    if commit == 'new-key':
        loop.log.current_row['new'] = 1.0
        loop.rows[5]['new'] = 1.0
    for _ in range(5 if commit == 'packing' else 0):
        loop.iteration()  # the next block's first iterations
    left = sigint_after(statement, monkeypatch)
    for _ in range(0 if commit == 'compact' else 12):
        loop.iteration(epoch=commit == 'epochs')
    rows, done = loop.read_back()
    if commit == 'epochs':
        assert loop.status['_epoch_ends'] == loop.epoch_ends
    assert left == [0], 'no such transaction'
    assert loop.interrupts == 1
    assert rows == loop.rows
    assert done == max(loop.rows)


def counted(frame, event):
    """Whether a profile function's `event` in `frame` is a call that
    blocks_log's code makes or returns from (of Python or C): where Python
    runs a signal's handler. Not in a __del__ (a driver's object collected
    meanwhile): Python drops what one raises, and the call it came in goes
    on."""
    return event in ('call', 'c_return') and any(
        name in frame.f_code.co_filename for name in LIBRARIES) and (
        frame.f_code.co_name != '__del__')


def sigint_at_call(number, signal_number=signal.SIGINT):
    """A profile function that sends SIGINT (or `signal_number`) at the
    `number`-th call (see :func:`counted`), and then profiles no more."""
    count = [0]

    def profile(frame, event, argument):
        if counted(frame, event):
            count[0] += 1
            if count[0] == number:
                sys.setprofile(None)
                signal.raise_signal(signal_number)
    return profile


def calls_of(action):
    """How many calls (see :func:`counted`) ``action()`` makes."""
    count = [0]

    def profile(frame, event, argument):
        count[0] += counted(frame, event)
    sys.setprofile(profile)
    try:
        action()
    finally:
        sys.setprofile(None)
    return count[0]


def interrupted(number, action):
    """Whether ``action()``, with a SIGINT at the `number`-th call that
    blocks_log's code makes in it (see :func:`sigint_at_call`), was
    interrupted; False if it makes fewer calls, and ran whole."""
    sys.setprofile(sigint_at_call(number))
    try:
        action()
    except KeyboardInterrupt:
        return True
    finally:
        sys.setprofile(None)
    return False


@pytest.fixture(params=['sqlite-file', 'postgresql'])
def backend(request, tmp_path, monkeypatch):
    """A callable making a log of a store, and one reopening a run of it
    read-only."""
    factory = backend_factories(tmp_path, use_backend(
        request.param, monkeypatch, request))[request.param]
    factory.reopen = lambda uuid: factory(uuid=uuid, read_only=True)
    factory.name, factory.calls = request.param, CALLS[request.param]
    factory.stride = STRIDES[request.param]
    return factory


@pytest.mark.parametrize('options', [
    {}, {'commit_every': 7}, {'commit_seconds': 60}],
    ids=['each', 'every-7', 'by-time'])
def test_sigint_at_each_call_of_an_iteration(backend, small_blocks,
                                             options):
    # Iteration after iteration, a SIGINT at the next call the log makes
    # in it (the Nth at the Nth iteration, cycling), caught and gone on
    # from: at every call that status['iterations_done'] += 1 makes, in a
    # commit or not, packing or not, and the writes of the values.
    loop = Loop(backend(**options))
    calls = backend.calls
    for index in range(3 * calls):
        interrupted(1 + index % calls, loop.iteration)  # caught in there
    rows, done = loop.read_back(backend.reopen)
    assert loop.interrupts > 50
    assert rows == loop.rows
    assert done == max(loop.rows)


@pytest.mark.parametrize('options', [{}, {'commit_every': 7}],
                         ids=['each', 'every-7'])
def test_sigint_at_each_call_as_the_checkpoints_pass(
        tmp_path, small_blocks, monkeypatch, options):
    # While the checkpoints' thread passes over a large -wal file, each
    # commit holds the checkpointer's `writing` lock, from its beginning
    # to its end (see sqlite_checkpointer): a SIGINT at any call of an
    # iteration never leaves it held. Left held, the writer's next commit,
    # and the thread's next RESTART, waited for ever. The thread runs no
    # checkpoint here, and the writer passes all along.
    monkeypatch.setattr(sqlite_checkpointer.Checkpointer, 'committed',
                        lambda self, connection=None, sized=False: None)
    loop = Loop(SQLiteLog(str(tmp_path / 'log.sqlite'), **options))
    checkpointer = loop.log._session.store.db.checkpointer
    # Reentrant, so that a lock left held fails the test below rather than
    # hang the next commit; C code, as a Lock is, for the calls counted.
    checkpointer.writing = threading.RLock()
    checkpointer.emptying = sqlite_checkpointer.PASSING
    calls = CALLS['sqlite-file']
    for index in range(2 * calls):
        interrupted(1 + index % calls, loop.iteration)  # caught in there
        assert not checkpointer.writing._is_owned(), index
    checkpointer.emptying = None
    rows, done = loop.read_back()
    assert loop.interrupts > 50
    assert rows == loop.rows


@pytest.mark.parametrize('options', [{}, {'commit_every': 7}])
def test_a_transaction_left_open_is_rolled_back_first(tmp_path, options):
    # Ctrl-C at the start of a `with` block's exit leaves its transaction
    # open (its COMMIT never ran): the commits after must not go into it,
    # where they would never be committed. Left open here by hand.
    loop = Loop(SQLiteLog(str(tmp_path / 'log.sqlite'), **options))
    for _ in range(3):
        loop.iteration()
    loop.log.flush()
    loop.log.conn.execute('BEGIN IMMEDIATE')
    loop.log.conn.execute("DELETE FROM blocks_log_entries")
    for _ in range(10):
        loop.iteration()
    loop.log.flush()
    # Read by another connection while the log is open: committed.
    with SQLiteLog(loop.log.database, uuid=loop.log.h_uuid,
                   read_only=True) as log:
        assert log.status['iterations_done'] == 13
        assert dict(log[13]) == loop.rows[13]
    rows, done = loop.read_back()
    assert rows == loop.rows


@pytest.mark.parametrize('options', [
    {}, {'commit_every': 7}, {'commit_seconds': 60}, {'synchronous': 'FULL'}],
    ids=['each', 'every-7', 'by-time', 'full-sync'])
def test_sigint_at_random_moments(tmp_path, small_blocks, options):
    loop = Loop(SQLiteLog(str(tmp_path / 'log.sqlite'), **options))
    armed = loop.armed = []

    def interrupt(number, frame):
        if armed:
            del armed[:]
            raise KeyboardInterrupt
    stop, main = threading.Event(), threading.main_thread().ident

    def send():
        while not stop.wait(0.0002):
            signal.pthread_kill(main, signal.SIGINT)
    handler = signal.signal(signal.SIGINT, interrupt)
    sender = threading.Thread(target=send, daemon=True)
    sender.start()
    try:
        # Past a few blocks and fifty interrupts (bounded: a loop of time
        # alone commits rarely, a commit syncing each iteration is slow).
        for count in range(20000):
            loop.iteration()
            if count > 600 and loop.interrupts >= 50:
                break
    finally:
        stop.set()
        sender.join()
        signal.signal(signal.SIGINT, handler)
    rows, done = loop.read_back()
    assert loop.interrupts >= 50
    assert rows == loop.rows
    assert done == max(loop.rows)


@pytest.mark.parametrize('options', [
    {}, {'commit_every': 7}, {'commit_seconds': 60}],
    ids=['each', 'every-7', 'by-time'])
def test_sigint_at_each_call_of_close(backend, small_blocks, options):
    # Ctrl-C twice: the first stops the loop, the second comes as the
    # log closes (its last commit, packing, releasing the run). Closed
    # again, the log holds all: for a SIGINT at each call close() makes
    # (at every seventh with PostgreSQL, whose driver makes 600 to 2,400).
    for number in itertools.count(1, backend.stride):
        assert number < 5000, 'close() makes more calls than that?'
        loop = Loop(backend(**options))
        for _ in range(20):
            loop.iteration()
        if not interrupted(number, loop.log.close):
            break  # past the calls of close()
        rows, done = loop.read_back(backend.reopen)
        assert rows == loop.rows
        assert done == 20
    assert number > 100


@pytest.mark.parametrize('options', [{}, {'commit_every': 7}],
                         ids=['each', 'every-7'])
def test_sigint_at_each_call_of_resume(backend, small_blocks, options):
    # Ctrl-C as the log resumes (its flush, the new run made and claimed,
    # the old one compacted and let go), caught and gone on from: the log
    # holds every value, in whichever run it then writes, and once closed
    # no run is held (a claim forgotten while held was held until the
    # process ended).
    from blocks_log import list_runs
    seen = set()
    for number in itertools.count(1, backend.stride):
        assert number < 5000, 'resume() makes more calls than that?'
        loop = Loop(backend(**options))
        source = getattr(loop.log, 'database', None) or loop.log.dsn
        for _ in range(5):
            loop.iteration()
        if not interrupted(number, loop.log.resume):
            break  # past the calls of resume()
        for _ in range(5):
            loop.iteration()
        rows, done = loop.read_back(backend.reopen)
        assert rows == loop.rows
        assert done == 10
        for run in list_runs(source):
            if run.uuid not in seen:
                seen.add(run.uuid)
                backend(uuid=run.uuid).close()  # none held
    assert number > 100


@pytest.mark.parametrize('read', ['row', 'history', 'records'])
def test_sigint_at_each_call_of_a_read(tmp_path, small_blocks, read):
    # Ctrl-C as a reader reads (a notebook's stop button), caught: the
    # reader's next reads see what was committed since, never the state
    # the interrupted one saw.
    path = str(tmp_path / 'log.sqlite')
    writer = SQLiteLog(path)
    for time in range(1, 30):
        writer[time]['loss'] = float(time)
    writer.flush()
    reader = SQLiteLog(path, uuid=writer.uuid, read_only=True)
    reads = {'row': lambda: dict(reader[20]),
             'history': lambda: reader.history('loss'),
             'records': lambda: list(reader.records(stop=30))}
    reads[read]()  # what it caches, read
    calls = calls_of(reads[read])
    assert calls > 10
    for number in range(1, calls + 1):
        if not interrupted(number, reads[read]):
            break  # a read of a longer log, ended sooner
        # Written after it, and read: the reads it was made for, and the
        # read interrupted, each the same calls again.
        time = 100 + number
        writer[time]['seen'] = float(number)
        writer.flush()
        assert reader.history('seen')[-1] == (time, number), number
        assert dict(reader[time]) == {'seen': number}, number
        assert reads[read]() == reads[read](), number
    assert number > calls // 2
    reader.close()
    writer.close()


@pytest.fixture
def young_heap():
    """The objects alive before the test left out of the garbage
    collector's passes (see gc.freeze), and back in after: a test that
    collects at each of its steps collects only what it made, in a few ms
    rather than one pass over every object of the test session."""
    gc.collect()
    gc.freeze()
    yield
    gc.unfreeze()


@pytest.mark.parametrize('existing', [False, True], ids=['new', 'a-run'])
def test_sigint_at_each_call_of_opening(tmp_path, young_heap, existing):
    # Ctrl-C as a log opens (a new file made, a run made and claimed; or
    # a run of a file opened and claimed again): once it is gone, no run
    # is held, and the next log opens and writes. A lock taken as Ctrl-C
    # came, never handed over, was held until the process ended: the next
    # run made (a run rolled back gives its id again) could not be
    # claimed, by any process.
    from blocks_log import list_runs
    path, run = str(tmp_path / 'log.sqlite'), None
    if existing:  # one run, opened again and again
        with SQLiteLog(path) as log:
            log.current_row['loss'] = 0.25
        run = log.uuid
    for number in itertools.count(1):
        assert number < 2000, 'opening makes more calls than that?'
        if not existing:
            path = str(tmp_path / '{}.sqlite'.format(number))
        opened = []
        if not interrupted(number, lambda: opened.append(
                SQLiteLog(path, uuid=run))):
            opened[0].close()
            break  # past the calls of opening
        gc.collect()
        with SQLiteLog(path) as log:
            log.current_row['loss'] = 0.5
        runs = [run] if existing else [found.uuid
                                       for found in list_runs(path)]
        for held in runs + [log.uuid]:
            SQLiteLog(path, uuid=held).close()  # none held
    assert number > 100
