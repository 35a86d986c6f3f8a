"""The command line never loses a file and says the same thing everywhere
(issue 20): outputs written whole or not at all and never over the SOURCE,
an unknown key an error everywhere, a run named the same way in every
SOURCE and in the log classes, a dead writer shown gone, ``watch --new``,
Ctrl-C, and the small inconsistencies of a new user's first hour."""
import json
import os
import pickle
import shutil
import signal
import subprocess
import sys

import pytest

import blocks_log
from blocks_log import SQLiteLog, TrainingLog

from helpers import ROOT, ctrl_c_stops, file_state, unavailable
from test_cli import last_run, run_cli
from test_processes import start_writer
from web import get, serving


@pytest.fixture
def database(tmp_path):
    """A database of two runs (a parent and its child), the child last."""
    path = str(tmp_path / 'runs.sqlite')
    with SQLiteLog(path) as log:
        for time in range(1, 6):
            log.status['iterations_done'] = time
            log.current_row.update({'loss': 1.0 / time, 'step': time})
        log.resume()
        log.status['iterations_done'] += 1
        log.current_row['loss'] = 0.1
    return path


@pytest.fixture
def pickled(tmp_path):
    log = TrainingLog()
    log[1]['loss'] = 0.5
    path = str(tmp_path / 'log.pkl')
    with open(path, 'wb') as f:
        pickle.dump(log, f)
    return path, log.h_uuid


def one_line_error(capsys, status, *words):
    error = capsys.readouterr().err
    assert status == 2, error
    assert len(error.strip().splitlines()) == 1, error
    assert 'Traceback' not in error
    for word in words:
        assert word in error, error
    return error


# Never lose a file.

@pytest.mark.parametrize('by_link', [False, True])
@pytest.mark.parametrize('suffix', ['', '-wal', '-shm', '-claims'])
def test_an_output_that_is_the_source_is_refused(database, capsys, suffix,
                                                 by_link, tmp_path):
    # The SOURCE named by a symbolic link too: SQLite's files (and the
    # claims) lie beside the file linked to.
    source = database
    if by_link:
        (tmp_path / 'links').mkdir()
        source = str(tmp_path / 'links' / 'runs.sqlite')
        os.symlink(database, source)
    with SQLiteLog(database, uuid=last_run(database)) as live:
        live.flush()  # the -wal and -shm of a file being written
        target = database + suffix
        if not os.path.exists(target):
            pytest.skip('no {} file here'.format(suffix))
        before = file_state(database)
        status, _ = run_cli('export', source, 'last', '--format', 'csv',
                            '-o', target)
        one_line_error(capsys, status, 'is the SOURCE read')
        assert file_state(database) == before


def test_a_pickled_source_is_never_written_over(pickled, capsys):
    path, _ = pickled
    with open(path, 'rb') as f:
        before = f.read()
    for argv in (['export', path, '--format', 'csv', '-o', path],
                 ['plot', path, '--keys', 'loss', '-o', path]):
        status, _ = run_cli(*argv)
        one_line_error(capsys, status, 'is the SOURCE read')
    with open(path, 'rb') as f:
        assert f.read() == before


def test_a_failed_write_truncates_nothing(database, tmp_path, monkeypatch,
                                          capsys):
    # The output is written beside the file and renamed over it once
    # whole: a write that fails half-way leaves what was there.
    target = str(tmp_path / 'out.csv')
    with open(target, 'w') as f:
        f.write('what was there\n')
    from blocks_log.cli import rows

    def failing(runs, keys, out):
        out.write('time,loss\n')
        raise OSError(28, 'No space left on device')
    monkeypatch.setattr(rows, '_wide_csv', failing)
    status, _ = run_cli('export', database, 'last', '--format', 'csv', '-o',
                        target)
    one_line_error(capsys, status, 'No space left')
    with open(target) as f:
        assert f.read() == 'what was there\n'
    assert sorted(os.listdir(str(tmp_path))) == ['out.csv', 'runs.sqlite',
                                                 'runs.sqlite-claims']


def test_an_output_keeps_the_mode_of_the_file_it_replaces(database,
                                                          tmp_path):
    target = str(tmp_path / 'out.csv')
    with open(target, 'w'):
        pass
    os.chmod(target, 0o640)
    assert run_cli('export', database, 'last', '--format', 'csv', '-o',
                   target)[0] == 0
    assert os.stat(target).st_mode & 0o777 == 0o640


def test_an_output_named_by_a_symbolic_link_is_written_where_it_links(
        database, tmp_path):
    (tmp_path / 'results').mkdir()
    target = str(tmp_path / 'results' / 'run7.csv')
    with open(target, 'w') as f:
        f.write('what was there\n')
    os.symlink(target, str(tmp_path / 'latest.csv'))
    assert run_cli('export', database, 'last', '--format', 'csv', '-o',
                   str(tmp_path / 'latest.csv'))[0] == 0
    assert os.readlink(str(tmp_path / 'latest.csv')) == target
    with open(target) as f:
        assert f.readline() == 'time,loss,step\n'
    assert os.listdir(str(tmp_path / 'results')) == ['run7.csv']


UNWRITABLE = [
    ['export', '{db}', 'last', '--format', 'csv', '-o', '{ro}/out.csv'],
    ['export', '{db}', 'last', '--format', 'jsonl', '-o', '{ro}/x.jsonl'],
    ['plot', '{db}', 'last', '--keys', 'loss', '-o', '{ro}/p.png'],
    ['copy', '{db}', '{ro}/copy.sqlite'],
]


@pytest.mark.parametrize('argv', UNWRITABLE, ids=[a[0] + ' ' + a[-1]
                                                  for a in UNWRITABLE])
def test_an_output_that_cannot_be_written_is_one_line(database, tmp_path,
                                                      argv):
    # Outputs on read-only media (a read-only bind mount, which refuses
    # root too) and, below, as a user without the right to write there.
    if argv[0] == 'plot':
        pytest.importorskip('matplotlib')
    if os.geteuid() != 0 or not shutil_which('unshare'):
        unavailable('read-only mounts', 'they need root')
    media = tmp_path / 'media'
    media.mkdir()
    mount = tmp_path / 'ro'
    mount.mkdir()
    words = [word.format(db=database, ro=str(mount)) for word in argv]
    script = ('mount --bind {0} {1} && mount -o remount,ro,bind {1} && '
              'exec "$@"'.format(media, mount))
    process = subprocess.run(
        ['unshare', '-m', 'sh', '-c', script, 'sh', sys.executable, '-m',
         'blocks_log'] + words, stdout=subprocess.PIPE,
        stderr=subprocess.PIPE, universal_newlines=True, cwd=ROOT,
        env=dict(os.environ, PYTHONPATH=ROOT))
    assert process.returncode == 2, process.stderr
    assert len(process.stderr.strip().splitlines()) == 1, process.stderr
    assert 'Traceback' not in process.stderr
    assert os.listdir(str(media)) == []


def test_as_another_user_an_unwritable_output_is_one_line(database):
    import tempfile
    python = python_for_nobody()
    # A directory the user nobody may read, not write (pytest's own are
    # root's alone).
    top = tempfile.mkdtemp(prefix='blocks_log_nobody_')
    try:
        os.chmod(top, 0o755)
        shutil.copy(database, top)
        database = os.path.join(top, os.path.basename(database))
        os.chmod(database, 0o644)
        check_as_nobody(python, database, top)
    finally:
        shutil.rmtree(top)


def check_as_nobody(python, database, top):
    directory = os.path.join(top, 'theirs')
    os.mkdir(directory)
    # A folder anyone may write, and a file in it that only root may.
    shared = os.path.join(top, 'shared')
    os.mkdir(shared)
    os.chmod(shared, 0o777)
    protected = os.path.join(shared, 'protected.csv')
    with open(protected, 'w') as f:
        f.write('kept\n')
    for argv in (['export', database, 'last', '--format', 'csv', '-o',
                  os.path.join(directory, 'out.csv')],
                 ['export', database, 'last', '--format', 'csv', '-o',
                  database + '.csv'],
                 ['export', database, 'last', '--format', 'csv', '-o',
                  protected]):
        process = subprocess.run(
            ['runuser', '-u', 'nobody', '--', python, '-m', 'blocks_log'] +
            argv, stdout=subprocess.PIPE, stderr=subprocess.PIPE,
            universal_newlines=True, cwd='/',
            env=dict(os.environ, PYTHONPATH=ROOT, HOME='/nonexistent'))
        assert process.returncode == 2, process.stderr
        assert 'permission denied' in process.stderr.lower()
        assert len(process.stderr.strip().splitlines()) == 1
    with open(protected) as f:
        assert f.read() == 'kept\n'
    assert os.listdir(shared) == ['protected.csv']
    # A writable open of a file it may not write; and, where SQLite says
    # only "unable to open database file", why: a new file in a directory
    # it may not write, a file it may not read.
    secret = os.path.join(top, 'secret.sqlite')
    shutil.copy(database, secret)
    os.chmod(secret, 0o600)
    for path, says in [
            (database, 'LogWriteError {}: cannot be written here'),
            (os.path.join(directory, 'new.sqlite'), 'LogDatabaseError {}: '
             'cannot be opened (unable to open database file: its '
             'directory may not be written)'),
            (secret, 'LogDatabaseError {}: cannot be opened (unable to '
             'open database file: permission denied)')]:
        process = subprocess.run(
            ['runuser', '-u', 'nobody', '--', python, '-c',
             'import sys; from blocks_log import SQLiteLog\n'
             'try:\n    SQLiteLog(sys.argv[1])\nexcept Exception as e:\n'
             '    print(type(e).__name__, e)', path],
            stdout=subprocess.PIPE, stderr=subprocess.PIPE,
            universal_newlines=True, cwd='/',
            env=dict(os.environ, PYTHONPATH=ROOT, HOME='/nonexistent'))
        assert process.stdout.startswith(says.format(path)), (
            process.stdout, process.stderr)


def shutil_which(name):
    return shutil.which(name)


def python_for_nobody():
    """An interpreter the user ``nobody`` may run that imports this
    checkout, or skip: the tests run as root, and root writes anywhere."""
    if os.geteuid() != 0 or not shutil_which('runuser'):
        pytest.skip('switching to another user needs root')
    for python in (sys.executable, '/usr/bin/python3'):
        probe = subprocess.run(
            ['runuser', '-u', 'nobody', '--', python, '-c',
             'import sqlite3, blocks_log'], stdout=subprocess.PIPE,
            stderr=subprocess.PIPE, cwd='/',
            env=dict(os.environ, PYTHONPATH=ROOT))
        if probe.returncode == 0:
            return python
    pytest.skip('no interpreter that the user nobody may run imports this '
                'checkout (it is in a directory only root may read)')


# Say the same thing everywhere.

UNKNOWN_KEY = [
    ['show', '{db}', 'last', '--keys', 'nope'],
    ['export', '{db}', '--format', 'csv', '--keys', 'nope'],
    ['export', '{db}', 'last', '--format', 'jsonl', '--long', '--keys',
     'loss,nope'],
    ['compare', '{db}', '--keys', 'nope'],
    ['plot', '{db}', 'last', '--keys', 'nope'],
    ['watch', '{db}', 'last', '--keys', 'nope'],
    ['show', '{pickle}', '--keys', 'nope'],
]


@pytest.mark.parametrize('argv', UNKNOWN_KEY, ids=' '.join)
def test_an_unknown_key_is_the_same_error_everywhere(database, pickled,
                                                     capsys, argv):
    words = [word.format(db=database, pickle=pickled[0]) for word in argv]
    status, output = run_cli(*words)
    one_line_error(capsys, status, 'unknown key nope', 'loss')
    assert output == ''


@pytest.mark.parametrize('source', ['db', 'pickle'])
def test_a_mistyped_key_is_told_the_key_it_is_near(
        database, pickled, capsys, source):
    path = database if source == 'db' else pickled[0]
    status, _ = run_cli('show', path, *(['last'] if source == 'db' else [])
                        + ['--keys', 'los,nope'])
    error = one_line_error(capsys, status, 'unknown keys los (did you mean '
                           'loss?), nope; the run holds')
    assert error.count('did you mean') == 1


def test_an_unknown_key_in_the_api_is_a_400(database):
    with serving(database) as server:
        for path in ('/api/csv?runs=last&keys=nope',
                     '/api/series?runs=last&keys=nope',
                     '/api/rows?run=last&keys=nope'):
            status, _, body = get(server, path)
            assert status == 400, path
            assert 'unknown key nope' in json.loads(body)['error']
            assert 'loss' in json.loads(body)['error']


def test_last_names_the_run_of_a_pickle_too(pickled):
    path, uuid = pickled
    for name in ('last', uuid[:5], uuid):
        status, output = run_cli('show', path, name, '--json')
        assert status == 0 and json.loads(output) == [{'time': 1,
                                                       'loss': 0.5}]
    assert blocks_log.find_run(path, 'last') == uuid
    with serving(path) as server:
        assert get(server, '/run/last')[0] == 200


def test_the_log_classes_take_what_the_command_line_takes(database):
    uuid = last_run(database)
    for name in (uuid[:4], uuid.upper(), 'last', uuid[:8] + '-' + uuid[8:12]):
        with SQLiteLog(database, uuid=name, read_only=True) as log:
            assert log.h_uuid == uuid
    with pytest.raises(blocks_log.UnknownRunError, match='no run'):
        SQLiteLog(database, uuid='not-hex', read_only=True)


def test_a_writer_that_was_killed_is_not_shown_as_writing(tmp_path):
    path = str(tmp_path / 'killed.sqlite')
    for kill in (signal.SIGKILL, signal.SIGTERM):
        process, run = start_writer(path, -1)
        process.stdout.readline()
        writers = dict((found.uuid, found.writer)
                       for found in blocks_log.list_runs(path))
        assert 'process {}'.format(process.pid) in writers[run]
        process.send_signal(kill)
        process.wait()
        writers = dict((found.uuid, found.writer)
                       for found in blocks_log.list_runs(path))
        assert writers[run] is None
        status, output = run_cli('runs', path)
        assert 'process {}'.format(process.pid) not in output


def test_watch_new_waits_for_the_next_run(tmp_path):
    path = str(tmp_path / 'watched.sqlite')
    SQLiteLog(path).close()  # a run of before
    watcher = subprocess.Popen(
        [sys.executable, '-m', 'blocks_log', 'watch', path, '--new',
         '--interval', '0.05'], stdout=subprocess.PIPE,
        stderr=subprocess.PIPE, universal_newlines=True, cwd=ROOT)
    assert 'waiting for a new run' in watcher.stderr.readline()
    writer, run = start_writer(path, 30)
    writer.communicate()
    output, _ = watcher.communicate(timeout=120)
    assert watcher.returncode == 0
    assert [line.split()[0] for line in output.splitlines()] == [
        str(time) for time in range(1, 31)]


def test_ctrl_c_in_serve_exits_130(database):
    server = subprocess.Popen(
        [sys.executable, '-m', 'blocks_log', 'serve', database, '--port',
         '0'], stdout=subprocess.PIPE, stderr=subprocess.PIPE,
        universal_newlines=True, cwd=ROOT, preexec_fn=ctrl_c_stops)
    assert server.stdout.readline().startswith('serving ')
    server.send_signal(signal.SIGINT)
    _, errors = server.communicate(timeout=30)  # a full pipe would hold it
    assert server.returncode == 130
    assert 'Traceback' not in errors


@pytest.mark.parametrize('argv, words', [
    (['runs', ''], 'no SOURCE given'),
    (['demo', '--iterations', '0'], 'must be at least 2, got 0'),
    (['demo', '--iterations', '-5'], 'must be at least 2, got -5'),
    (['show', '{db}', 'last', '--tail', '-1'], 'must be at least 0'),
    (['watch', '{db}', 'last', '--new'], 'name no RUN'),
])
def test_what_a_new_user_mistypes(database, capsys, argv, words):
    try:
        status, _ = run_cli(*[word.format(db=database) for word in argv])
    except SystemExit as exited:
        status = exited.code
    one_line_error(capsys, status, words)


def test_runs_table_gives_when_each_run_was_created(database):
    pandas = pytest.importorskip('pandas')
    table = blocks_log.runs.runs_table(database)
    assert pandas.api.types.is_datetime64_any_dtype(table['created'])
    assert table['created'].notna().all()
