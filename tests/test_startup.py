"""A training script pays at start-up only for what opening a log needs
(issue 21): the rest of the package, and the standard library's heavier
modules, are imported on first use. Timed in benchmarks/bench_startup.py;
here, what is imported."""
import contextlib
import json
import sqlite3
import uuid

import blocks_log
from blocks_log.base import new_uuid

from helpers import run_python

# Never imported by opening a log, committing an iteration and closing it
# (unless the interpreter imported them as it started: a .pth file may).
DEFERRED = ['blocks_log.log', 'blocks_log.analysis',
            'blocks_log.postgresql', 'blocks_log.runs', 'blocks_log.loading',
            'blocks_log.checkpoints', 'blocks_log.pickles',
            'blocks_log.copy', 'blocks_log.sources',
            'blocks_log.stores.blocks', 'blocks_log.stores.postgresql',
            'blocks_log.integrations', 'blocks_log.cli', 'blocks_log.web',
            'pickle', 'socket', 'uuid', 'platform', 'random', 'base64',
            'tarfile', 'heapq', 'json', 're', 'enum', 'psycopg', 'numpy',
            'pandas']


def imported_by(code, *args):
    process = run_python(code + '''
print(' '.join(sorted(sys.modules)))
''', *args)
    assert process.returncode == 0, process.stderr
    return set(process.stdout.split())


def test_opening_a_log_imports_only_what_it_needs(tmp_path):
    already = imported_by('import sys')
    imported = imported_by('''
import sys
from blocks_log import SQLiteLog
log = SQLiteLog(sys.argv[1])
log.status['iterations_done'] += 1
log.current_row['loss'] = 0.5
log.current_row['nan'] = float('nan')
log.flush()
log.close()
''', str(tmp_path / 'log.sqlite'))
    assert [name for name in DEFERRED
            if name in imported and name not in already] == []
    connection = sqlite3.connect(str(tmp_path / 'log.sqlite'))
    with contextlib.closing(connection):
        (summary,), = connection.execute('SELECT summary FROM blocks_log_runs')
    assert json.loads(summary) == {'iterations': 1, 'epochs': 0, 'rows': 1,
                                   'keys': ['loss', 'nan'], 'last_time': 1}


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
