"""The training-loop workload on the in-memory TrainingLog, against the limit.

Each iteration does ``status['iterations_done'] += 1`` and logs one value per
key of ``KEYS`` (10 floats), as Blocks' main loop and extensions do. The
limit is a plain ``defaultdict(dict)`` and a plain status dict doing the same
lookups:

- "current_row": the row looked up per value, ``log.current_row[key] = v``
  against ``rows[status['iterations_done']][key] = v``;
- "fetched row": ``row = log[t]`` once per iteration, then ``row[key] = v``;
- "read": every value read back as ``log[t][key]``;
- ``to_dataframe()`` against ``pandas.DataFrame.from_dict(rows,
  orient='index')`` of the same dict of dicts (Blocks' documented way);
- unpickling the log against unpickling the plain dict of its rows.

Run: ``python benchmarks/bench_memory.py [-n ITERATIONS] [-r ROUNDS]``.
Not collected by pytest; no assertion on speed anywhere.

"""
import os
import sys
from collections import defaultdict

sys.path.insert(0, os.path.join(os.path.dirname(__file__), '..'))

from benchmarks.common import KEYS, parse_args, report, run_rounds  # noqa
from blocks_log import TrainingLog  # noqa


_RECORDS = [dict((key, iteration * 0.5) for key in KEYS)
            for iteration in range(1000)]


def records(iteration):
    """The values a training step reports, as a dict (as Blocks'
    extensions pass them to ``add_records``)."""
    return _RECORDS[iteration % 1000]


def plain_current_row(iterations):
    rows, status = defaultdict(dict), {'iterations_done': 0}
    for iteration in range(iterations):
        status['iterations_done'] += 1
        for key, value in records(iteration).items():
            rows[status['iterations_done']][key] = value
    return rows


def log_current_row(iterations):
    log = TrainingLog()
    for iteration in range(iterations):
        log.status['iterations_done'] += 1
        for key, value in records(iteration).items():
            log.current_row[key] = value
    return log


def plain_fetched_row(iterations):
    rows, status = defaultdict(dict), {'iterations_done': 0}
    for iteration in range(iterations):
        status['iterations_done'] += 1
        row = rows[status['iterations_done']]
        for key, value in records(iteration).items():
            row[key] = value
    return rows


def log_fetched_row(iterations):
    log = TrainingLog()
    for iteration in range(iterations):
        log.status['iterations_done'] += 1
        row = log[log.status['iterations_done']]
        for key, value in records(iteration).items():
            row[key] = value
    return log


def read_all(rows, iterations):
    total = 0.0
    for time in range(1, iterations + 1):
        for key in KEYS:
            total += rows[time][key]
    return total


def main():
    args = parse_args(__doc__.splitlines()[0], iterations=20000)
    n = args.iterations
    values = n * len(KEYS)
    medians = run_rounds([
        ('plain dict, row per value', lambda: plain_current_row(n)),
        ('TrainingLog.current_row', lambda: log_current_row(n)),
    ], args.rounds)
    report('write through current_row ({} iterations x {} values)'
           .format(n, len(KEYS)), medians, 'plain dict, row per value',
           values)
    medians = run_rounds([
        ('plain dict, fetched row', lambda: plain_fetched_row(n)),
        ('TrainingLog, fetched row', lambda: log_fetched_row(n)),
    ], args.rounds)
    report('write into a fetched row', medians, 'plain dict, fetched row',
           values)
    plain, log = plain_current_row(n), log_current_row(n)
    medians = run_rounds([
        ('plain dict, log[t][key]', lambda: read_all(plain, n)),
        ('TrainingLog, log[t][key]', lambda: read_all(log, n)),
    ], args.rounds)
    report('read every value back', medians, 'plain dict, log[t][key]',
           values)
    import pickle
    log_pickle, plain_pickle = pickle.dumps(log), pickle.dumps(dict(plain))
    medians = run_rounds([
        ('pickle.loads of the dict', lambda: pickle.loads(plain_pickle)),
        ('pickle.loads of TrainingLog', lambda: pickle.loads(log_pickle)),
    ], args.rounds)
    report('unpickle {} rows'.format(n), medians, 'pickle.loads of the dict',
           values)
    try:
        import pandas
    except ImportError:
        print('to_dataframe: skipped, pandas is not installed')
        return
    medians = run_rounds([
        ('DataFrame.from_dict(rows)', lambda: pandas.DataFrame.from_dict(
            plain, orient='index')),
        ('TrainingLog.to_dataframe()', log.to_dataframe),
    ], args.rounds)
    report('into a DataFrame', medians, 'DataFrame.from_dict(rows)', values)


if __name__ == '__main__':
    main()
