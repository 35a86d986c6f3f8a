"""What the tests of the framework integrations share."""
import os

import blocks_log

from helpers import readme_examples


def make_log(kind, path):
    """A new log: ``'memory'`` (TrainingLog) or ``'sqlite'`` (a file at
    `path`)."""
    if kind == 'memory':
        return blocks_log.TrainingLog()
    return blocks_log.SQLiteLog(path)


def view(log, key):
    """``{time: value}`` of `key` in `log`'s view (its lineage
    included)."""
    return dict(log.history(key))


def own_times(database, uuid):
    """The times at which the run `uuid` of `database` holds values of
    its own (not of its parents)."""
    run, = [run for run in blocks_log.list_runs(database)
            if run.uuid == uuid]
    return run.rows, run.last_time


def branches(database):
    """``{uuid: (parent, rows of its own)}`` of every run of `database`."""
    return dict((run.uuid, (run.parent, run.rows))
                for run in blocks_log.list_runs(database))


def run_readme_example(needle, directory, monkeypatch):
    """Run the README.rst example that holds `needle`, in `directory`."""
    example, = readme_examples(needle)
    monkeypatch.chdir(str(directory))
    exec(compile(example, 'README.rst', 'exec'), {})
    return sorted(os.listdir(str(directory)))
