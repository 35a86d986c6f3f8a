"""``blocks-log demo``: a tiny real training, logged the Blocks way into
SQLite.

A logistic regression on a synthetic two-class data set, trained by
minibatch SGD in pure Python. Half-way the log is checkpointed (pickled);
the process then "crashes" a few iterations later, and training restarts
from the checkpoint, so the final run has a lineage.

"""
import math
import os
import pickle
import random
import time

from blocks_log.errors import LogError
from blocks_log.sqlite import SQLiteLog
from blocks_log.tables import cell, rows_of

FEATURES = 4
BATCH = 16
EPOCH = 20  # iterations per epoch


def make_data(rng, count):
    """Two Gaussian blobs, labelled 0 and 1."""
    data = []
    for _ in range(count):
        label = rng.random() < 0.5
        centre = 1.0 if label else -1.0
        data.append(([rng.gauss(centre * (index + 1) / FEATURES, 1.0)
                      for index in range(FEATURES)], int(label)))
    return data


def loss_and_gradient(weights, batch):
    """Mean cross-entropy of the batch and its gradient (bias last)."""
    total, gradient = 0.0, [0.0] * (FEATURES + 1)
    for features, label in batch:
        z = weights[-1] + sum(w * x for w, x in zip(weights, features))
        p = 1.0 / (1.0 + math.exp(-max(min(z, 30.0), -30.0)))
        total -= math.log(p if label else 1.0 - p)
        for index, x in enumerate(features + [1.0]):
            gradient[index] += (p - label) * x
    return total / len(batch), [g / len(batch) for g in gradient]


def train(log, state, train_set, valid_set, until, rng):
    """Train from ``log.status['iterations_done']`` to `until`, Blocks'
    main-loop style."""
    while log.status['iterations_done'] < until:
        batch = rng.sample(train_set, BATCH)
        loss, gradient = loss_and_gradient(state['weights'], batch)
        state['weights'] = [w - state['learning_rate'] * g
                            for w, g in zip(state['weights'], gradient)]
        log.status['iterations_done'] += 1
        log.current_row['train_loss'] = loss
        if log.status['iterations_done'] % EPOCH == 0:
            valid_loss, _ = loss_and_gradient(state['weights'], valid_set)
            log.current_row['valid_loss'] = valid_loss
            log.status['epochs_done'] += 1
            log.status['_epoch_ends'] += [log.status['iterations_done']]


def run(database=None, iterations=200, seed=0):
    """Run the demo; return the final log (open) and a story of what
    happened.

    Parameters
    ----------
    database : str, optional
        Where to log; SQLiteLog's default when omitted.
    iterations : int
        Total training iterations (at least 2).
    seed : int

    Returns
    -------
    log : SQLiteLog
        The run that finished training (resumed from the checkpoint).
    story : list of str

    """
    if iterations < 2:
        raise ValueError('iterations must be at least 2, got {}'.format(
            iterations))
    rng = random.Random(seed)
    train_set, valid_set = make_data(rng, 400), make_data(rng, 100)
    log = SQLiteLog(database)
    story = ['logging to {} (run {})'.format(log.database, log.h_uuid)]
    state = {'weights': [0.0] * (FEATURES + 1), 'learning_rate': 0.1}
    valid_loss, _ = loss_and_gradient(state['weights'], valid_set)
    log.current_row['valid_loss'] = valid_loss  # row 0: before training
    half = iterations // 2
    train(log, state, train_set, valid_set, half, rng)
    checkpoint_run = log.h_uuid
    checkpoint = pickle.dumps({'log': log, 'state': state})
    story.append('iteration {}: checkpoint pickled (run {}); the live log '
                 'moved on to run {}'.format(half, checkpoint_run,
                                             log.h_uuid))
    crash_at = min(half + 7, iterations)
    train(log, dict(state), train_set, valid_set, crash_at, rng)
    log.close()
    story.append('iteration {}: simulated crash'.format(crash_at))
    restored = pickle.loads(checkpoint)
    log, state = restored['log'], restored['state']
    log.resume()
    story.append('restart from the checkpoint: run {} resumed from {}'.format(
        log.h_uuid, log.status['resumed_from']))
    train(log, state, train_set, valid_set, iterations, rng)
    log.flush()
    story.append('iteration {}: training finished'.format(iterations))
    return log, story


def cmd_demo(args, out):
    from blocks_log.cli import common, termplot
    started = time.time()
    try:
        log, story = run(args.database, args.iterations)
    except (LogError, OSError) as error:
        raise common.UsageError(str(error))
    with log:
        for line in story:
            print(line, file=out)
        columns, rows = rows_of(log, tail=5)
        print('\nlast rows of run {}:'.format(log.h_uuid[:8]), file=out)
        print(common.table(['time'] + columns, [
            [str(t)] + [cell(values.get(key)) for key in columns]
            for t, values in rows], right=['time'] + columns), file=out)
        losses = log.series(['train_loss', 'valid_loss'])
        print('\n' + termplot.chart(dict(
            (key, losses[key]) for key in ('train_loss', 'valid_loss'))),
            file=out)
        database, short = os.path.abspath(log.database), log.h_uuid[:8]
    print('\ndone in {:.2f} s; the log is in {}. Look at it with:'.format(
        time.time() - started, database), file=out)
    for command in NEXT_COMMANDS:
        print('  blocks-log ' + command.format(db=database, run=short),
              file=out)


#: What the demo suggests next (README.rst runs each of these in a test).
NEXT_COMMANDS = ('runs {db}', 'show {db} {run} --tail 5',
                 'compare {db} --keys valid_loss',
                 'export {db} {run} -o losses.csv',
                 'plot {db} {run} --keys train_loss valid_loss',
                 'serve {db}')


def add_commands(command):
    """Declare the commands of this module with `command(name, help,
    example)`."""
    from blocks_log.cli import common
    parser = command('demo', 'train a tiny model, logging to SQLite, and show '
                     'its log', 'blocks-log demo --database demo.sqlite')
    parser.add_argument('--database', metavar='FILE',
                        help='the SQLite file (default: $BLOCKS_SQLITEDB or '
                             '~/blocks_log.sqlite)')
    parser.add_argument('--iterations', type=common.at_least(2),
                        default=200, metavar='N',
                        help='training iterations (default: %(default)s)')
    parser.set_defaults(run_command=cmd_demo)
