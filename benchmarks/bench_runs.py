"""Listing the runs of a file: ``blocks-log runs`` on a file of one run
against a file of 200 runs (each 1,000 iterations x 10 values by default),
in-process (without the interpreter's start, the same for both).

The goal: 200 runs take at most 2x what one run takes, as listing a run
reads its row in the table of runs and its keys, never its values.

Run: ``python benchmarks/bench_runs.py [-n ITERATIONS] [-r ROUNDS]
[--runs 200]``.

"""
import argparse
import io
import os
import shutil
import sys
import tempfile

sys.path.insert(0, os.path.join(os.path.dirname(__file__), '..'))

from benchmarks.common import KEYS, report, run_rounds  # noqa
from blocks_log import SQLiteLog, cli  # noqa


def make(path, runs, iterations):
    for _ in range(runs):
        with SQLiteLog(path) as log:
            for iteration in range(1, iterations + 1):
                log.status['iterations_done'] = iteration
                for key in KEYS:
                    log.current_row[key] = iteration * 0.5


def list_runs(path):
    out = io.StringIO()
    assert cli.main(['runs', path], out=out) == 0


def main():
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument('--iterations', '-n', type=int, default=1000)
    parser.add_argument('--runs', type=int, default=200)
    parser.add_argument('--rounds', '-r', type=int, default=7)
    args = parser.parse_args()
    directory = tempfile.mkdtemp(prefix='bench_runs_')
    try:
        one = os.path.join(directory, 'one.sqlite')
        many = os.path.join(directory, 'many.sqlite')
        make(one, 1, args.iterations)
        make(many, args.runs, args.iterations)
        medians = run_rounds([
            ('blocks-log runs, 1 run', lambda: list_runs(one)),
            ('blocks-log runs, {} runs'.format(args.runs),
             lambda: list_runs(many)),
        ], args.rounds)
        report('blocks-log runs ({} iterations x {} values a run; goal: '
               'at most 2x)'.format(args.iterations, len(KEYS)), medians,
               'blocks-log runs, 1 run', 1)
    finally:
        shutil.rmtree(directory)


if __name__ == '__main__':
    main()
