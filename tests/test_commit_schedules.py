"""The commit timer's thread against the training thread, switched at
every instruction of a commit (see :mod:`interleaving`).

The thread commits the iterations completed while the training loop goes
on without the session's lock: it writes values, reads them back, changes
a list it holds, appends to a status list. Here the commit is stopped
before each instruction of ``Commits._flush`` in turn, one of those steps
is made then (up to where it waits for the lock), and the commit goes on;
whatever was read then, and everything the log holds after, live and as
another handle reads it, is checked against a dict. A run of this before
the fixes of the commit timer's races (22d4857 and the three before it)
finds each of them.

The same for the commit a thread that ends an iteration makes itself
(a commit each iteration: ``Commits._next_iteration``), with another
thread writing into the log meanwhile, as threads may: it cuts the buffer
and counts the commit in a copy of ``_flush``'s steps of its own.

The steps that take the lock at once (a deletion, ``dict(row)``, a read
of series, a read of a row not read before) wait for the commit, at every
stop alike: what they give after it is checked at every stop.

"""
import itertools
import os
import time

import pytest

from blocks_log import SQLiteLog
from blocks_log.database.commits import Commits
from interleaving import (WatchedLock, in_a_thread, line_start,
                          needs_instruction_events, tracing_instructions)

pytestmark = pytest.mark.skipif(
    os.environ.get('BLOCKS_LOG_BARE') == '1',
    reason='the session runs no optional dependency: the full environment '
           'tests it')


def read_a_value_just_written(log, held, read):
    read['x'] = held['row'].get('x')


def write_a_number(log, held, read):
    log.current_row['y'] = 2.0


def write_a_text(log, held, read):
    log.current_row['s'] = 'text'


def append_to_a_status_list(log, held, read):
    log.status['_epoch_ends'].append(2)


def append_to_a_list_held(log, held, read):
    held['events'].append('held')


#: Each step: what it changes of the rows and status that the log holds.
STEPS = [
    (read_a_value_just_written, lambda rows, status: None),
    (write_a_number, lambda rows, status: rows[2].update(y=2.0)),
    (write_a_text, lambda rows, status: rows[2].update(s='text')),
    (append_to_a_status_list,
     lambda rows, status: status['_epoch_ends'].append(2)),
    (append_to_a_list_held,
     lambda rows, status: rows[0]['events'].append('held')),
]


def read_after(log, held):
    """What reads give once the commit is done: the value written since
    the row was kept, the value committed, the values deleted (before and
    after what the thread commits) and one not."""
    return {'x': held['row'].get('x'), 'loss': log[1].get('loss'),
            'b in': 'b' in log[0], 'c in': 'c' in log[0],
            'a': log[0].get('a')}


#: What each read must give.
READ = {'x': 3.0, 'loss': 1.0, 'b in': False, 'c in': False, 'a': 1.0}


def commit_stopped(make, base, step, stop):
    """Make the thread's commit with `step` made before its instruction
    number `stop` (counted as they run), in a run resumed from `base`;
    check the log against a dict. False if the commit ran fewer
    instructions."""
    # Keys this handle never wrote: read by their own way.
    log = make(uuid=base, commit_every=10 ** 6, commit_seconds=3600)
    log.resume()
    session = log._session
    session.lock = WatchedLock(session.lock)
    rows = {0: {'a': 1.0, 'events': ['e']}, 1: {'loss': 1.0},
            2: {'x': 3.0}}
    status = {'_epoch_ends': [0]}
    held = {'events': log[0]['events']}  # lent, and held
    del log[0]['c']  # committed by the thread
    log.current_row['loss'] = 1.0
    log.status['iterations_done'] += 1  # the iteration the thread commits
    held['row'] = row = log.current_row
    assert dict(row) == {}  # kept by the row
    row['x'] = 3.0  # as much as the thread commits
    del log[0]['b']  # past what the thread commits
    read = {}
    try:
        where, ran = run_stopped(
            Commits._flush.__code__,
            lambda: session.commit_if_late(time.monotonic() + 7200),
            stop, session.lock, step, lambda: step(log, held, read))
        if where is None:
            return None
        for name, value in read.items():
            assert value == READ[name], (where, name)
        assert read_after(log, held) == READ, where
        dict(STEPS)[step](rows, status)
        check_held(log, make, rows, status, where)
    finally:
        log.close()
    return ran


def write_into_the_row_committed(log, held, read):
    held['row']['y'] = 2.0


#: The steps beside a thread that ends an iteration, and commits it: each
#: with what it changes of the rows and status (as in :data:`STEPS`).
ITERATION_STEPS = [
    (read_a_value_just_written, lambda rows, status: None),
    (write_into_the_row_committed,
     lambda rows, status: rows[2].update(y=2.0)),
    (append_to_a_list_held,
     lambda rows, status: rows[0]['events'].append('held')),
]


def iteration_stopped(make, base, step, stop):
    """As :func:`commit_stopped`, for the commit that a thread ending an
    iteration makes itself, with a commit each iteration
    (``Commits._next_iteration``, which cuts and counts as ``_flush``
    does, in a copy of its own): the row of time 2, read with nothing
    buffered and kept, then written, is what it commits."""
    log = make(uuid=base)
    log.resume()
    session = log._session
    session.lock = WatchedLock(session.lock)
    rows = {0: {'a': 1.0, 'b': 2.0, 'c': 3.0, 'events': ['e']},
            1: {'x': 1.0}, 2: {'x': 3.0}}
    status = {'_epoch_ends': [0]}
    # The run's first commit, and that of a key never written, take the
    # general way (Commits._flush).
    log.current_row['x'] = 1.0
    log.status['iterations_done'] += 1
    held = {'events': log[0]['events']}  # lent, and held
    held['row'] = row = log[2]
    assert dict(row) == {} and not session.pending  # kept by the row
    row['x'] = 3.0
    read = {}
    try:
        def end_iteration():
            log.status['iterations_done'] += 1
        where, ran = run_stopped(
            Commits._next_iteration.__code__, end_iteration, stop,
            session.lock, step, lambda: step(log, held, read))
        if where is None:
            return None
        assert read.get('x', 3.0) == 3.0, where
        assert held['row'].get('x') == 3.0, where
        assert log.status['iterations_done'] == 3, where
        dict(ITERATION_STEPS)[step](rows, status)
        check_held(log, make, rows, status, where)
    finally:
        log.close()
    return ran


def run_stopped(code, action, stop, lock, step, make_step):
    """Do `action()` in a thread of its own, stopped before its
    instruction number `stop` of `code` (counted as they run) while
    another thread does `make_step()` (`step` named), up to where that
    waits for `lock`; both done, where it was stopped, in words (``None``
    if `action` ran fewer instructions of `code`), and the offsets of the
    instructions it ran."""
    ran, stepping = [], []

    def visit(frame):
        if len(ran) == stop:
            stepping.append(lock.run_until_done_or_waiting(make_step))
        ran.append(frame.f_lasti)

    def traced():
        with tracing_instructions(code, visit):
            action()
    in_a_thread(traced).join()
    if not stepping:
        return None, ran
    stepping[0].join()
    return 'step {} before instruction {} (offset {})'.format(
        step.__name__, stop, ran[stop]), ran


def check_held(log, make, rows, status, where):
    """Check the rows and status `log` holds against `rows` and
    `status`, live and, once committed, as a reader of the run reads
    them."""
    assert dict((time, dict(log[time])) for time in log) == rows, where
    assert log.status['_epoch_ends'] == status['_epoch_ends'], where
    log.flush()
    with make(uuid=log.uuid, read_only=True) as reader:
        assert dict((time, dict(reader[time])) for time in reader) == (
            rows), where
        assert reader.status['_epoch_ends'] == status['_epoch_ends']


def stops(tmp_path, stopped, step):
    """The offsets of the instructions a commit ran, at each stop of
    ``stopped(make, base, step, stop)`` in turn (a commit each, stopped
    before its instruction number `stop`, which gives them, or ``None``
    past the last); `make` opens logs of one file, `base` a run of it
    (time 0's row, ``_epoch_ends``, ``iterations_done`` of 1)."""
    path = str(tmp_path / 'log.sqlite')

    def make(**options):
        return SQLiteLog(path, **options)
    with make() as base:
        base[0].update(a=1.0, b=2.0, c=3.0, events=['e'])
        base.status['_epoch_ends'] = [0]
        base.status['iterations_done'] = 1
    # Open throughout: no handle that closes is the file's last, which
    # would checkpoint it (and sync the disk), at each stop.
    with make(uuid=base.uuid, read_only=True):
        runs = []
        for stop in itertools.count():
            ran = stopped(make, base.uuid, step, stop)
            if ran is None:
                return runs
            runs.append(ran)


@pytest.mark.parametrize('step', [step for step, _ in STEPS])
@needs_instruction_events
def test_a_step_at_each_instruction_of_a_commit(tmp_path, step):
    assert len(stops(tmp_path, commit_stopped, step)) > 50  # all along


@pytest.mark.parametrize('step', [step for step, _ in ITERATION_STEPS])
@needs_instruction_events
def test_a_step_at_each_instruction_of_an_iterations_commit(tmp_path, step):
    # Threads may write into a log while one of them ends the iterations
    # (see DatabaseLog): the commit each iteration makes is the timer's,
    # seen from another thread.
    runs = stops(tmp_path, iteration_stopped, step)
    # Stopped all along its own way (a step made before it takes the
    # buffer's length, of a value Commits._next_iteration does not commit
    # itself, sends it the general way).
    cut = line_start(Commits._next_iteration, 'del pending')
    assert len([ran for ran in runs if cut in ran]) > 50
