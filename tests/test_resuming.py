"""blocks_log.integrations.resuming, without any framework: a log's place
in a checkpoint, and the child run that goes on from it, on every
backend."""
import pickle

import pytest

import blocks_log
from blocks_log.errors import LogError
from blocks_log.integrations import resuming


def train(log, until):
    while log.status['iterations_done'] < until:
        log.status['iterations_done'] += 1
        log.current_row['loss'] = float(log.status['iterations_done'])


def test_the_checkpoint_run_ends_and_the_resumed_view_has_each_step_once(
        make_log, tmp_path):
    log = make_log()
    train(log, 5)
    state = resuming.checkpoint_state(log)
    checkpointed = state['run']
    assert log.status['resumed_from'] == checkpointed  # the live log moved
    train(log, 9)  # the training that stops
    log.flush()
    resuming.save_state(state, str(tmp_path))
    resumed = resuming.resumed_log(make_log(), resuming.load_state(
        str(tmp_path)))
    assert resumed.status['resumed_from'] == checkpointed
    assert resumed.status['iterations_done'] == 5
    for time in range(6, 12):
        resumed.status['iterations_done'] = time
        resumed.current_row['loss'] = -float(time)
    assert [t for t, _ in resumed.history('loss')] == list(range(1, 12))
    assert dict(resumed.history('loss'))[7] == -7.0
    assert dict(log.history('loss'))[7] == 7.0  # the stopped branch
    resumed.close()


def test_a_state_must_be_one():
    with pytest.raises(ValueError, match='not a blocks_log checkpoint'):
        resuming.resumed_log(blocks_log.TrainingLog(), {'run': 'x'})


def test_a_database_state_needs_a_log_of_that_database(tmp_path):
    log = blocks_log.SQLiteLog(str(tmp_path / 'a.sqlite'))
    train(log, 3)
    state = resuming.checkpoint_state(log)
    log.close()
    with pytest.raises(LogError, match='held in memory'):
        resuming.resumed_log(blocks_log.TrainingLog(), state)
    other = blocks_log.SQLiteLog(str(tmp_path / 'b.sqlite'))
    with pytest.raises(LogError, match='cannot resume from the checkpoint'):
        resuming.resumed_log(other, state)
    other.close()


class Hostile(object):
    def __reduce__(self):
        return (exec, ('import sys; sys.hostile_ran = True',))


def test_the_values_of_a_checkpoint_run_no_code(tmp_path):
    import sys
    log = blocks_log.TrainingLog()
    state = resuming.checkpoint_state(log)
    state['values'] = pickle.dumps(Hostile())
    with pytest.raises(LogError, match='no training log'):
        resuming.resumed_log(blocks_log.TrainingLog(), state)
    assert not hasattr(sys, 'hostile_ran')
