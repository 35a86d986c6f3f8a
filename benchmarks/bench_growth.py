"""Does a write cost the same late in a run as early? Both backends, and
their limits.

Runs the training-loop workload (``status['iterations_done'] += 1`` and 10
floats through ``current_row`` per iteration) for N iterations on one log,
timing blocks of iterations, and prints the cost per iteration of early and
of the last blocks (median of three each) and their ratio: about 1.0 when
the cost stays flat as the log grows (goal: within 1.1x at a million
iterations). The early blocks are taken after the
first tenth of the run, so that the warm-up of SQLite's WAL file and page
cache is not counted as the cost of a small log. Also the slowest single
iterations in CPU time of the training thread (SQLiteLog packs its numbers
into chunks in some of them; goal: none over 3 ms), of all and of those in
which the collector made no full pass (a full pass walks every object of
the process, whatever the step: in the iteration it falls in, it costs
milliseconds even for a plain dict), next
to those of the limit doing the same writes in the same run: a plain dict
of dicts (whose own growth, a resize of the dict, takes milliseconds) and
raw ``sqlite3`` (``executemany`` and a commit per iteration, as in
``bench_sqlite.py``), so that the machine's own pauses show as such. And
the slowest in wall time, which a training loop waits for whatever the
cause (a preemption on a shared machine, as much as a lock the log's own
threads hold or a disk sync), with SQLiteLog committing each iteration,
with an epoch ended each 100 iterations (as Blocks' main loop ends them:
a run of a million iterations ends 10,000), every 100, and by time alone
(``commit_seconds=60``: a commit at the end of the iteration past 2,048
values, in a loop this fast), and committing each iteration with a key
never logged before in each.

Run: ``python benchmarks/bench_growth.py [-n ITERATIONS]``.

"""
import gc
import os
import shutil
import statistics
import sys
import tempfile
import time
import uuid
from collections import defaultdict

sys.path.insert(0, os.path.join(os.path.dirname(__file__), '..'))

from benchmarks.common import KEYS, parse_args  # noqa
from benchmarks.bench_sqlite import raw_connection, raw_write  # noqa
from blocks_log import SQLiteLog, TrainingLog  # noqa

BLOCKS = 40


def log_step(log, epoch=None, new_keys=False):
    """One iteration of the workload on `log`; with `epoch`, each `epoch`
    iterations end an epoch, as Blocks' main loop ends one:
    ``epochs_done`` counts it and ``_epoch_ends``, a list that every commit
    compares with what it last stored, gets its last iteration. With
    `new_keys`, each iteration also logs a key never logged before (a key
    named after its step, by mistake or not)."""
    def step(iteration):
        log.status['iterations_done'] += 1
        value = iteration * 0.5
        for key in KEYS:
            log.current_row[key] = value
        if new_keys:
            log.current_row['step_{}'.format(iteration)] = value
        if epoch is not None and (iteration + 1) % epoch == 0:
            log.status['epochs_done'] += 1
            log.status['_epoch_ends'].append(log.status['iterations_done'])
    return step, log.close


def dict_step():
    """The same on a plain dict of dicts and a plain status dict."""
    rows, status = defaultdict(dict), {'iterations_done': 0}

    def step(iteration):
        status['iterations_done'] += 1
        value = iteration * 0.5
        for key in KEYS:
            rows[status['iterations_done']][key] = value
    return step, rows.clear


def raw_sqlite_step(path):
    """The same values written by raw sqlite3, a commit per iteration."""
    connection, run = raw_connection(path), uuid.uuid4().hex

    def step(iteration):
        raw_write(connection, run, iteration)
    return step, connection.close


def block_costs(step, iterations):
    """Seconds per iteration of each of BLOCKS consecutive blocks, and the
    slowest iterations of all in CPU time of this thread (so that another
    process taking the core, on a shared machine, does not count): of all,
    and of those in which the collector made no full pass (whose cost is
    that of every object of the process, not of the step). The collector
    stays on, as in a training loop."""
    size = max(iterations // BLOCKS, 1)
    costs, slowest, slowest_own, slowest_wall = [], [], [], []
    clock, cpu = time.perf_counter, time.thread_time
    full = []

    def count_full(phase, info):
        if phase == 'start' and info['generation'] == 2:
            full.append(None)
    gc.callbacks.append(count_full)
    try:
        for block in range(BLOCKS):
            worst, own, walls = [], [], []
            start = clock()
            for iteration in range(block * size, (block + 1) * size):
                passes = len(full)
                began, began_wall = cpu(), clock()
                step(iteration)
                spent = cpu() - began
                walls.append(clock() - began_wall)
                worst.append(spent)
                if len(full) == passes:
                    own.append(spent)
            costs.append((clock() - start) / size)
            slowest.extend(sorted(worst)[-3:])
            slowest_own.extend(sorted(own)[-3:])
            slowest_wall.extend(sorted(walls)[-3:])
    finally:
        gc.callbacks.remove(count_full)
    return (costs, sorted(slowest), sorted(slowest_own), len(full),
            sorted(slowest_wall))


def main():
    args = parse_args(__doc__.splitlines()[0], iterations=400000)
    directory = tempfile.mkdtemp(prefix='bench_growth_')
    try:
        for name, make in [
                ('plain dict', dict_step),
                ('TrainingLog', lambda: log_step(TrainingLog())),
                ('raw sqlite3', lambda: raw_sqlite_step(
                    os.path.join(directory, 'raw.sqlite'))),
                ('SQLiteLog file', lambda: log_step(SQLiteLog(
                    os.path.join(directory, 'growth.sqlite')))),
                ('  epochs of 100', lambda: log_step(SQLiteLog(
                    os.path.join(directory, 'epochs.sqlite')), epoch=100)),
                ('  every 100', lambda: log_step(SQLiteLog(
                    os.path.join(directory, 'every100.sqlite'),
                    commit_every=100))),
                ('  every 60 s', lambda: log_step(SQLiteLog(
                    os.path.join(directory, 'every60s.sqlite'),
                    commit_seconds=60))),
                ('  a new key each', lambda: log_step(SQLiteLog(
                    os.path.join(directory, 'newkeys.sqlite')),
                    new_keys=True))]:
            grown(name, make, args.iterations)
    finally:
        shutil.rmtree(directory)


def grown(name, make, iterations):
    """Run `iterations` of the step that ``make()`` gives (with what closes
    it) and print the line of contender `name`: the cost per iteration of
    its early and its last blocks, their ratio, and its slowest
    iterations."""
    step, close = make()
    costs, slowest, own, passes, walls = block_costs(step, iterations)
    close()
    early = statistics.median(costs[BLOCKS // 10:BLOCKS // 10 + 3])
    last = statistics.median(costs[-3:])

    def ms(times):
        return ', '.join('{:.2f}'.format(seconds * 1e3)
                         for seconds in times[-3:])
    print('{:<16} early blocks {:7.2f} us/iteration, last blocks '
          '{:7.2f} us/iteration ({} iterations): {:.2f}x; slowest '
          'iterations {} ms CPU; without a full collection (of {}) '
          '{} ms; in wall time {} ms'.format(
              name, early * 1e6, last * 1e6, iterations, last / early,
              ms(slowest), passes, ms(own), ms(walls)))


if __name__ == '__main__':
    main()
