"""Helpers shared by the benchmark scripts: timing rounds and reporting.

Every benchmark runs its contenders in interleaved rounds in one process, so
that the machine's noise hits them alike, and reports medians and ratios to
the limit measured in the same run.

"""
import argparse
import gc
import os
import statistics
import sys
import time

KEYS = ['metric_{}'.format(index) for index in range(10)]


def parse_args(description, iterations):
    """Parse the options every benchmark takes."""
    parser = argparse.ArgumentParser(description=description)
    parser.add_argument('--iterations', '-n', type=int, default=iterations,
                        help='training iterations per round '
                             '(default: %(default)s)')
    parser.add_argument('--rounds', '-r', type=int, default=7,
                        help='rounds per contender (default: %(default)s)')
    args = parser.parse_args()
    if sys.dont_write_bytecode:
        # Two trees compared so, one compiled and one not, differed by 5%
        # in bench_sqlite.py's first line: the same instructions a round.
        print('note: Python writes no bytecode here (PYTHONDONTWRITEBYTECODE '
              'or -B): a tree never compiled compiles its modules in each '
              'process, those imported on first use inside the first '
              'rounds; compare trees compiled alike (python -m compileall)')
    return args


def train(log, iterations):
    """The training-loop workload on `log`, then ``log.close()``: each
    iteration does ``status['iterations_done'] += 1`` and logs the values
    of :data:`KEYS` through ``current_row``."""
    for iteration in range(iterations):
        log.status['iterations_done'] += 1
        value = iteration * 0.5
        for key in KEYS:
            log.current_row[key] = value
    log.close()


def train_as_blocks(log, iterations):
    """:func:`train`, with what Blocks' main loop asks after every batch:
    ``log.current_row.get('training_finish_requested')``, a key nothing
    wrote, and ``log.status.get('batch_interrupt_received')``."""
    for iteration in range(iterations):
        log.status['iterations_done'] += 1
        value = iteration * 0.5
        for key in KEYS:
            log.current_row[key] = value
        if log.current_row.get('training_finish_requested') or (
                log.status.get('batch_interrupt_received')):
            break
    log.close()


def numbered(directory, suffix='.sqlite'):
    """``path(name)``: a new path in `directory` at each call, numbered."""
    counter = [0]

    def path(name):
        counter[0] += 1
        return os.path.join(directory, '{}{}{}'.format(name, counter[0],
                                                       suffix))
    return path


def columns_of(rows):
    """Group ``(time, key, value)`` rows by key, as the raw read limits
    do: ``{key: {time: value}}``."""
    columns = {}
    for time_, key, value in rows:
        column = columns.get(key)
        if column is None:
            column = columns[key] = {}
        column[time_] = value
    return columns


def time_once(function, *args):
    """Return the seconds one call takes. The collector runs before it,
    and stays on during it, as it does in a training loop."""
    gc.collect()
    start = time.perf_counter()
    function(*args)
    return time.perf_counter() - start


class Medians(dict):
    """name -> median seconds, and in ``rounds`` name -> the seconds of
    each round."""

    def __init__(self, *args, **kwargs):
        super(Medians, self).__init__(*args, **kwargs)
        self.rounds = {}


def run_rounds(contenders, rounds):
    """Time each contender `rounds` times, interleaved.

    Parameters
    ----------
    contenders : list of (name, callable)
        Each callable takes no argument and does the whole workload.
    rounds : int

    Returns
    -------
    Medians
        name -> median seconds; its ``rounds``, name -> each round's.

    """
    times = dict((name, []) for name, _ in contenders)
    for _ in range(rounds):
        for name, function in contenders:
            times[name].append(time_once(function))
    medians = Medians((name, statistics.median(values))
                      for name, values in times.items())
    medians.rounds.update(times)
    return medians


def report(title, medians, limit, values, extra=None):
    """Print a table: median, cost per value, and ratio to `limit`.

    Parameters
    ----------
    title : str
    medians : dict
        name -> median seconds.
    limit : str
        The name whose median is the 1.0 of the ratios.
    values : int
        How many values each contender wrote or read.
    extra : dict, optional
        name -> a short note printed at the end of its line.

    """
    print(title)
    base = medians[limit]
    rounds = getattr(medians, 'rounds', {})
    for name, seconds in medians.items():
        note = (extra or {}).get(name, '')
        if name in rounds and limit in rounds:
            # The ratio of each round (the contenders run interleaved):
            # min/median/max.
            ratios = sorted(mine / its for mine, its in zip(rounds[name],
                                                            rounds[limit]))
            note = '[{:.2f}/{:.2f}/{:.2f}] {}'.format(
                ratios[0], statistics.median(ratios), ratios[-1], note)
        print('  {:<34} {:9.4f} s  {:8.0f} ns/value  {:6.2f}x {}'.format(
            name, seconds, seconds / values * 1e9, seconds / base, note))
