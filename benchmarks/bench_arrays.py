"""A training loop that logs an array each iteration, on SQLiteLog, against
the limit: its time, the writer's memory, and its slowest iteration.

Each iteration does ``status['iterations_done'] += 1`` and logs 10 floats
and one numpy array of ``--kib`` KiB (float64; weights, an image) through
``current_row``. The limit: raw ``sqlite3`` with WAL and
``synchronous=NORMAL``, one ``executemany`` of the iteration's 11 rows on
Blocks' table layout (the array's bytes as a BLOB) and one commit per
iteration.

Each contender runs in a process of its own, in alternated rounds, and
reports its time, its peak resident memory above what it held before the
loop (``ru_maxrss``; the array's own bytes and the buffer of an iteration
are in both), and its slowest iteration's CPU time (the thread's, so that
preemption on a shared machine does not count).

Run: ``python benchmarks/bench_arrays.py [-n ITERATIONS] [-r ROUNDS]
[--kib KIB]``.

"""
import argparse
import importlib
import json
import os
import resource
import sqlite3
import statistics
import subprocess
import sys
import tempfile
import time
import uuid

sys.path.insert(0, os.path.join(os.path.dirname(__file__), '..'))

from benchmarks.bench_sqlite import raw_connection  # noqa
from benchmarks.common import KEYS  # noqa

CONTENDERS = ['raw sqlite3, executemany+commit', 'SQLiteLog.current_row',
              'SQLiteLog(commit_every=100)']


def _peak_kib():
    return resource.getrusage(resource.RUSAGE_SELF).ru_maxrss


def raw_loop(path, iterations, weights, slowest):
    connection, run = raw_connection(path), uuid.uuid4().hex
    blob = sqlite3.Binary(weights.tobytes())
    for iteration in range(1, iterations + 1):
        began = time.thread_time()
        value = iteration * 0.5
        connection.execute('BEGIN')
        connection.executemany(
            'INSERT OR REPLACE INTO entries VALUES (?, ?, ?, ?)',
            [(run, iteration, key, value) for key in KEYS] +
            [(run, iteration, 'weights', blob)])
        connection.execute('COMMIT')
        slowest[0] = max(slowest[0], time.thread_time() - began)
    connection.close()


def log_loop(path, iterations, weights, slowest, **options):
    from blocks_log import SQLiteLog
    log = SQLiteLog(path, **options)
    for iteration in range(iterations):
        began = time.thread_time()
        log.status['iterations_done'] += 1
        value = iteration * 0.5
        for key in KEYS:
            log.current_row[key] = value
        log.current_row['weights'] = weights
        slowest[0] = max(slowest[0], time.thread_time() - began)
    log.close()


def child(name, path, iterations, kib):
    """One round of contender `name`, in this process: a JSON line."""
    import numpy
    importlib.import_module('blocks_log')  # before the memory is measured
    weights = numpy.random.rand(kib * 1024 // 8)
    loop = {CONTENDERS[0]: raw_loop, CONTENDERS[1]: log_loop,
            CONTENDERS[2]: lambda *args: log_loop(*args, commit_every=100)}
    slowest, before = [0.0], _peak_kib()
    began = time.perf_counter()
    loop[name](path, iterations, weights, slowest)
    seconds = time.perf_counter() - began
    print(json.dumps({'seconds': seconds,
                      'memory': (_peak_kib() - before) / 1024.0,
                      'slowest': slowest[0]}))


def main():
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument('--iterations', '-n', type=int, default=768)
    parser.add_argument('--rounds', '-r', type=int, default=5)
    parser.add_argument('--kib', type=int, default=256,
                        help='KiB of the array logged each iteration')
    parser.add_argument('--child', help=argparse.SUPPRESS)
    parser.add_argument('--path', help=argparse.SUPPRESS)
    args = parser.parse_args()
    if args.child:
        return child(args.child, args.path, args.iterations, args.kib)
    found = dict((name, []) for name in CONTENDERS)
    with tempfile.TemporaryDirectory(prefix='bench_arrays_') as directory:
        for round_ in range(args.rounds):
            for index, name in enumerate(CONTENDERS):
                path = os.path.join(directory, '{}_{}.sqlite'.format(
                    round_, index))
                output = subprocess.check_output([
                    sys.executable, __file__, '--child', name, '--path',
                    path, '-n', str(args.iterations), '--kib',
                    str(args.kib)])
                found[name].append(json.loads(output))
                for entry in os.listdir(directory):
                    os.remove(os.path.join(directory, entry))
    print('{} iterations x (10 floats + an array of {} KiB), {} rounds, '
          'each in a process of its own'.format(args.iterations, args.kib,
                                                args.rounds))
    limit = [result['seconds'] for result in found[CONTENDERS[0]]]
    for name in CONTENDERS:
        results = found[name]
        ratios = sorted(its / raw for its, raw in zip(
            [result['seconds'] for result in results], limit))
        memory = sorted(result['memory'] for result in results)
        slowest = sorted(result['slowest'] * 1e3 for result in results)
        print('  {:<32} {:7.3f} s  {:5.2f}x time [{:.2f}-{:.2f}]  memory '
              '+{:.0f} MiB [{:.0f}-{:.0f}]  slowest iteration {:.1f} ms CPU '
              '[{:.1f}-{:.1f}]'.format(
                  name, statistics.median(
                      result['seconds'] for result in results),
                  statistics.median(ratios), ratios[0], ratios[-1],
                  statistics.median(memory), memory[0], memory[-1],
                  statistics.median(slowest), slowest[0], slowest[-1]))


if __name__ == '__main__':
    main()
