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

The steps that take the lock at once (a deletion, ``dict(row)``, a read
of series, a read of a row not read before) wait for the commit, at every
stop alike: what they give after it is checked at every stop.

"""
import os
import time

import pytest

from blocks_log import SQLiteLog
from blocks_log.database.commits import Commits
from interleaving import WatchedLock, in_a_thread, tracing_instructions

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
    read, ran, stepping = {}, [], []

    def visit(frame):
        if len(ran) == stop:
            stepping.append(session.lock.run_until_done_or_waiting(
                lambda: step(log, held, read)))
        ran.append(frame.f_lasti)

    def commit():
        with tracing_instructions(Commits._flush.__code__, visit):
            session.commit_if_late(time.monotonic() + 7200)
    in_a_thread(commit).join()
    try:
        if not stepping:
            return False
        stepping[0].join()
        where = 'step {} before instruction {} (offset {})'.format(
            step.__name__, stop, ran[stop])
        for name, value in read.items():
            assert value == READ[name], (where, name)
        assert read_after(log, held) == READ, where
        dict(STEPS)[step](rows, status)
        assert dict((time, dict(log[time])) for time in log) == rows, where
        assert log.status['_epoch_ends'] == status['_epoch_ends'], where
        log.flush()
        with make(uuid=log.uuid, read_only=True) as reader:
            assert dict((time, dict(reader[time])) for time in reader) == (
                rows), where
            assert reader.status['_epoch_ends'] == status['_epoch_ends']
            assert reader.status.get('custom') == status.get('custom')
    finally:
        log.close()
    return True


@pytest.mark.parametrize('step', [step for step, _ in STEPS])
def test_a_step_at_each_instruction_of_a_commit(tmp_path, step):
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
        stop = 0
        while commit_stopped(make, base.uuid, step, stop):
            stop += 1
    assert stop > 50  # the commit was stopped all along
