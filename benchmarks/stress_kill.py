"""Stress: training loops killed with ``kill -9`` at random moments and
started again, checked against what they logged.

Each of WRITERS threads trains a run of DATABASE (an SQLite file, or a
PostgreSQL DSN or URL), in rounds. A round starts a writer process that
logs iterations (10 floats, a string every 5th, an epoch ended every 37th
as Blocks' main loop ends one) under a commit policy drawn at random (a
commit each iteration, every 7 or every 100, with ``commit_seconds=0.05``
or without, or by time alone: every 0.05 s or 60 s, and at the end of
each iteration that passes 2,048 values waiting), kills it with
``SIGKILL`` a random while later (now and then while it opens the run),
and reads the run back read-only: every iteration before the last one
committed must read back whole and exact, none after it, and the status's
epochs as the loop ended them. The next
round opens the same run again (a killed writer holds nothing) and goes on
from the iteration that the kill cut short, as a loop restarted from its
log would.

Not a test: it runs for minutes, and its kills fall where they fall. The
crash tests that CI runs are in ``tests/test_processes.py`` and
``tests/test_status_pieces.py``; this is the long run behind them. Exit
status 1 at the first difference, saying what differed.

Run: ``python benchmarks/stress_kill.py DATABASE [--writers 3] [--rounds
20] [--seconds 2.5] [--seed 0]``.

"""
import argparse
import os
import random
import signal
import subprocess
import sys
import threading
import time

sys.path.insert(0, os.path.join(os.path.dirname(__file__), '..'))

from blocks_log import PostgreSQLLog, SQLiteLog  # noqa

KEYS = ['value_{}'.format(index) for index in range(10)]
EPOCH = 37
SPARSE = 5
POLICIES = [{'commit_every': 1}, {'commit_every': 7},
            {'commit_every': 100}, {'commit_every': 1, 'commit_seconds': 0.05},
            {'commit_every': 100, 'commit_seconds': 0.05},
            {'commit_seconds': 0.05}, {'commit_seconds': 60}]


def log_class(database):
    return PostgreSQLLog if database.startswith(
        ('postgresql://', 'postgres://', 'host=')) else SQLiteLog


def row_of(iteration):
    """What the loop logs at `iteration`."""
    row = dict((key, iteration + index / 16.0)
               for index, key in enumerate(KEYS))
    if iteration % SPARSE == 0:
        row['note'] = 'iteration {}'.format(iteration)
    return row


def write(database, uuid, policy):
    """The writer process: train the run `uuid` (``'-'``: a new one) of
    `database` until killed, printing its uuid once it is open."""
    log = log_class(database)(database, uuid=None if uuid == '-' else uuid,
                              **policy)
    print(log.h_uuid, flush=True)

    def end_epoch_and_log(iteration):
        if iteration % EPOCH == 0 and (
                log.status['_epoch_ends'][-1:] != [iteration]):
            log.status['epochs_done'] += 1
            log.status['_epoch_ends'].append(iteration)
        log.current_row.update(row_of(iteration))
    if log.status['iterations_done']:
        end_epoch_and_log(log.status['iterations_done'])  # cut short
    while True:
        log.status['iterations_done'] += 1
        end_epoch_and_log(log.status['iterations_done'])


def check(database, uuid, policy):
    """Read the run back and compare it with what the loop logged; the
    last iteration committed, or raise ``AssertionError``."""
    with log_class(database)(database, uuid=uuid, read_only=True) as log:
        done = log.status['iterations_done']
        ends = list(log.status['_epoch_ends'])
        ended = list(range(EPOCH, done + 1, EPOCH))
        # The epoch ended at `done`, after it was counted, is committed
        # with the next iteration; or earlier, by commit_seconds' thread.
        assert ends in (ended, [end for end in ended if end < done]), (
            'epochs ended: {}... stored, {}... logged'.format(
                ends[-3:], ended[-3:]))
        assert log.status['epochs_done'] == len(ends)
        rows = {}
        for iteration, key, value in log.records():
            rows.setdefault(iteration, {})[key] = value
    assert not rows or max(rows) <= done, (
        'time {} stored, past iterations_done {}'.format(max(rows), done))
    for iteration in range(1, done):
        assert rows.get(iteration) == row_of(iteration), (
            'time {}: {!r} stored, {!r} logged'.format(
                iteration, rows.get(iteration), row_of(iteration)))
    cut_short = rows.get(done, {})
    assert all(row_of(done)[key] == value
               for key, value in cut_short.items()), (
        'time {}: {!r} stored'.format(done, cut_short))
    return done


def stress(database, rounds, seconds, seed, say):
    """One writer's rounds; the iterations checked."""
    chance = random.Random(seed)
    uuid, checked = '-', 0
    for round_ in range(rounds):
        policy = chance.choice(POLICIES)
        writer = subprocess.Popen(
            [sys.executable, __file__, '--write', database, uuid,
             repr(policy)], stdout=subprocess.PIPE, stderr=subprocess.PIPE,
            universal_newlines=True)
        if uuid != '-' and chance.random() < 0.1:
            time.sleep(chance.uniform(0, 0.03))  # while it opens the run
        else:
            line = writer.stdout.readline().strip()
            if not line:
                raise RuntimeError('the writer failed: ' +
                                   writer.stderr.read()[-2000:])
            uuid = line
            time.sleep(chance.uniform(0.05, seconds))
        writer.send_signal(signal.SIGKILL)
        writer.communicate()
        if uuid == '-':
            continue
        try:
            done = check(database, uuid, policy)
        except AssertionError as error:
            raise AssertionError('run {}, round {}, {}: {}'.format(
                uuid, round_, policy, error))
        checked += done
        say('run {} round {}: {} iterations, {}'.format(
            uuid[:8], round_, done, policy))
    return checked


def main():
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument('database', help='an SQLite file, or a PostgreSQL '
                        'DSN or URL')
    parser.add_argument('--writers', type=int, default=3)
    parser.add_argument('--rounds', type=int, default=20,
                        help='kills per writer (default: %(default)s)')
    parser.add_argument('--seconds', type=float, default=2.5,
                        help='the longest a writer runs before its kill')
    parser.add_argument('--seed', type=int, default=0)
    args = parser.parse_args()
    lock, failures, checked = threading.Lock(), [], []

    def say(line):
        with lock:
            print(line, flush=True)

    def one(index):
        try:
            checked.append(stress(args.database, args.rounds, args.seconds,
                                  args.seed * 1000 + index, say))
        except Exception as error:
            failures.append(error)
            say('FAILED: {}'.format(error))
    started = time.time()
    threads = [threading.Thread(target=one, args=(index,))
               for index in range(args.writers)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join()
    print('{} writers x {} kills, {} iterations read back, in {:.0f} s: {}'
          .format(args.writers, args.rounds, sum(checked),
                  time.time() - started,
                  'FAILED' if failures else 'all as logged'))
    return 1 if failures else 0


if __name__ == '__main__':
    if sys.argv[1:2] == ['--write']:
        import ast
        write(sys.argv[2], sys.argv[3], ast.literal_eval(sys.argv[4]))
    else:
        sys.exit(main())
