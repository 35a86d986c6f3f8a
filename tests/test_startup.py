"""A training script pays at start-up only for what opening a log needs
(issue 21): the rest of the package, and the standard library's heavier
modules, are imported on first use. Timed in benchmarks/bench_startup.py;
here, what is imported."""
import uuid

import blocks_log
from blocks_log.base import new_uuid

from helpers import run_python

# Never imported by opening a log and committing an iteration.
DEFERRED = ['blocks_log.log', 'blocks_log.analysis',
            'blocks_log.postgresql', 'blocks_log.runs', 'blocks_log.loading',
            'blocks_log.checkpoints', 'blocks_log.pickles',
            'blocks_log.copy', 'blocks_log.sources',
            'blocks_log.stores.blocks', 'blocks_log.stores.postgresql',
            'blocks_log.integrations', 'blocks_log.cli', 'blocks_log.web',
            'pickle', 'socket', 'uuid', 'platform', 'random', 'base64',
            'tarfile', 'heapq', 'psycopg', 'numpy', 'pandas']


def test_opening_a_log_imports_only_what_it_needs(tmp_path):
    process = run_python('''
        import sys
        from blocks_log import SQLiteLog
        log = SQLiteLog(sys.argv[1])
        log.status['iterations_done'] += 1
        log.current_row['loss'] = 0.5
        log.flush()
        print(' '.join(sorted(sys.modules)))
        log.close()
        ''', str(tmp_path / 'log.sqlite'))
    assert process.returncode == 0, process.stderr
    imported = set(process.stdout.split())
    assert [name for name in DEFERRED if name in imported] == []


def test_the_names_imported_later_are_there():
    assert blocks_log.BACKENDS['postgresql'] is blocks_log.PostgreSQLLog
    assert blocks_log.BACKENDS['sqlite'] is blocks_log.SQLiteLog
    for name in blocks_log.__all__:
        assert getattr(blocks_log, name) is not None, name
    assert set(blocks_log.__all__) <= set(dir(blocks_log))
    namespace = {}
    exec('from blocks_log import *', namespace)
    assert namespace['list_runs'] is blocks_log.list_runs


def test_a_run_id_is_a_version_4_uuid():
    ids = set(new_uuid() for _ in range(1000))
    assert len(ids) == 1000
    for made in ids:
        parsed = uuid.UUID(made)
        assert parsed.version == 4 and parsed.variant == uuid.RFC_4122
        assert parsed.hex == made
