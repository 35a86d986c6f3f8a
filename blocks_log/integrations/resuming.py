"""A log's place in a framework's checkpoint, and the log that goes on
from it.

:func:`checkpoint_state` is called as a checkpoint is saved: it returns
what the checkpoint keeps (the run, and the values themselves for a log
that holds them in memory), plain data that any checkpoint format holds,
and moves the live log on to a child run, as pickling a log for a Blocks
checkpoint does. The run in the checkpoint thus ends where the checkpoint
was taken. :func:`resumed_log` is called as training restarts from that
checkpoint: it gives a new child run of it, in the store of the log given
(a database log) or made from the values kept (an in-memory log). What
the stopped training logged after the checkpoint stays in the run it went
on in, out of the resumed run's view.

"""
import io
import json
import os
import pickle

from blocks_log.base import TrainingLogBase
from blocks_log.database.log import DatabaseLog
from blocks_log.errors import LogError
from blocks_log.loading import load

#: The version of the checkpoint state's layout.
STATE_VERSION = 1
#: The files of :func:`save_state` in a checkpoint's directory.
STATE_FILE, VALUES_FILE = 'blocks_log.json', 'blocks_log.pickle'


def checkpoint_state(log):
    """What a checkpoint keeps of `log`, as a checkpoint is saved.

    The log goes on in a child run (a database log is flushed first); the
    state names the run it leaves, which ends here.

    Parameters
    ----------
    log : TrainingLogBase

    Returns
    -------
    dict
        ``version``, ``run`` (the hex uuid of the run the checkpoint holds)
        and ``iterations_done``; with ``values`` (a pickle of the log,
        read back without running code) for a log held in memory.

    Raises
    ------
    TypeError
        If `log` is not a training log.
    blocks_log.errors.LogWriteError
        If the buffer cannot be committed.
    """
    if not isinstance(log, TrainingLogBase):
        raise TypeError('a training log is needed, got {!r}'.format(log))
    state = {'version': STATE_VERSION, 'run': log.h_uuid,
             'iterations_done': log.status['iterations_done']}
    # The live log goes on in a child run, as a database log does when
    # pickled for Blocks' checkpoints: the run named above ends here.
    if not isinstance(log, DatabaseLog):
        state['values'] = pickle.dumps(log, protocol=2)
        log.resume()
    elif log.in_memory:
        state['values'] = pickle.dumps(log, protocol=2)  # and goes on
    elif not log.read_only:
        log.resume()
    return state


def resumed_log(log, state):
    """The log that goes on from the checkpoint `state` was saved in: a
    new child run of the run it names.

    Parameters
    ----------
    log : TrainingLogBase
        The log training was started with this time. A database log gives
        the store, which must hold the checkpoint's run; it is closed (its
        own run, left as it is, is empty when made for the restart).
    state : dict
        What :func:`checkpoint_state` gave.

    Returns
    -------
    TrainingLogBase
        A log of the same class, ``status['resumed_from']`` the run of the
        checkpoint.

    Raises
    ------
    ValueError
        If `state` is not such a state.
    blocks_log.errors.LogError
        If the store of `log` does not hold the checkpoint's run, or it
        cannot be written.
    """
    if not isinstance(state, dict) or state.get('version') != STATE_VERSION:
        raise ValueError('not a blocks_log checkpoint state: {!r}'.format(
            state))
    values = state.get('values')
    if values is not None:
        # Read back as blocks_log.load reads a file someone sent: no code
        # the checkpoint names runs.
        resumed = load(io.BytesIO(values))
        if not isinstance(resumed, TrainingLogBase):
            raise LogError('the checkpoint\'s values hold no training log, '
                           'but {!r}'.format(resumed))
    elif isinstance(log, DatabaseLog):
        try:
            resumed = log.open_run(state['run'])
        except LogError as error:
            raise type(error)('cannot resume from the checkpoint: {}'.format(
                error))
    else:
        raise LogError(
            'the checkpoint names run {} of a database, and the log given '
            'is a {} held in memory: give a log of that database'.format(
                state['run'], type(log).__name__))
    if log is not resumed and isinstance(log, DatabaseLog):
        log.close()
    resumed.resume()
    return resumed


def save_state(state, directory):
    """Write `state` (of :func:`checkpoint_state`) into a checkpoint's
    `directory`: ``blocks_log.json``, and ``blocks_log.pickle`` for the
    values of a log held in memory.

    Raises
    ------
    OSError
        If the files cannot be written.
    """
    state = dict(state)
    values = state.pop('values', None)
    if values is not None:
        with open(os.path.join(directory, VALUES_FILE), 'wb') as f:
            f.write(values)
    with open(os.path.join(directory, STATE_FILE), 'w') as f:
        json.dump(state, f)


def load_state(directory):
    """The state :func:`save_state` wrote into `directory`, or ``None`` if
    it holds none.

    Raises
    ------
    ValueError
        If ``blocks_log.json`` is not one.
    OSError
        If the files are there but cannot be read.
    """
    try:
        with open(os.path.join(directory, STATE_FILE)) as f:
            state = json.load(f)
    except FileNotFoundError:
        return None
    if not isinstance(state, dict):
        raise ValueError('{}: not a blocks_log checkpoint state'.format(
            os.path.join(directory, STATE_FILE)))
    values = os.path.join(directory, VALUES_FILE)
    if os.path.exists(values):
        with open(values, 'rb') as f:
            state['values'] = f.read()
    return state
