"""The blocks-log command line (SPEC section 7), through its entry point
and as a real subprocess."""
import csv
import io
import json
import os
import signal
import subprocess
import sys

import pytest

import blocks_log
from blocks_log import SQLiteLog, cli

from conftest import FIXTURES, ROOT
from helpers import file_state
from test_processes import start_writer


def run_cli(*argv):
    out = io.StringIO()
    status = cli.main(list(argv), out=out)
    return status, out.getvalue()


@pytest.fixture(scope='module')
def demo_db(tmp_path_factory):
    path = str(tmp_path_factory.mktemp('demo') / 'demo.sqlite')
    status, output = run_cli('demo', '--database', path, '--iterations', '60')
    assert status == 0
    return path, output


def last_run(path):
    return sorted(SQLiteLog(path, uuid=run['uuid'], read_only=True)
                  for run in [blocks_log.list_runs(path)[-1]])[0].h_uuid


def test_every_command_has_help_with_an_example():
    parser = cli.build_parser()
    commands = parser._subparsers._group_actions[0].choices
    assert set(commands) == {'demo', 'runs', 'show', 'export', 'plot',
                             'watch'}
    for name, sub in commands.items():
        assert sub.description and 'example: blocks-log ' + name in (
            sub.format_help())


def test_demo(demo_db):
    path, output = demo_db
    assert 'simulated crash' in output and 'train_loss' in output
    assert 'blocks-log show' in output
    runs = blocks_log.list_runs(path)
    assert len(runs) == 3
    final = SQLiteLog(path, uuid=runs[-1]['uuid'], read_only=True)
    assert final.status['iterations_done'] == 60
    assert final.status['resumed_from'] == runs[0]['uuid']
    assert len(final) == 61


def test_demo_default_database(tmp_path, monkeypatch):
    monkeypatch.setenv('BLOCKS_SQLITEDB', str(tmp_path / 'default.sqlite'))
    assert run_cli('demo', '--iterations', '10')[0] == 0
    assert os.path.exists(str(tmp_path / 'default.sqlite'))


def test_demo_database_that_cannot_be_opened(tmp_path, capsys):
    status, _ = run_cli('demo', '--database',
                        str(tmp_path / 'missing-dir' / 'demo.sqlite'))
    error = capsys.readouterr().err
    assert status == 2 and 'missing-dir' in error
    assert 'Traceback' not in error


def test_runs(demo_db):
    path, _ = demo_db
    status, output = run_cli('runs', path)
    lines = output.splitlines()
    assert status == 0 and lines[0].split()[:3] == ['run', 'parent',
                                                    'iterations']
    assert len(lines) == 4


def test_show_with_a_prefix(demo_db):
    path, _ = demo_db
    prefix = last_run(path)[:6]
    status, output = run_cli('show', path, prefix, '--tail', '2',
                             '--keys', 'train_loss')
    lines = output.splitlines()
    assert status == 0 and lines[0].split() == ['time', 'train_loss']
    assert [line.split()[0] for line in lines[1:]] == ['59', '60']


def test_export_csv_has_every_key(demo_db, tmp_path):
    path, _ = demo_db
    target = str(tmp_path / 'out.csv')
    assert run_cli('export', path, last_run(path)[:6], '--format', 'csv',
                   '-o', target)[0] == 0
    with open(target) as f:
        rows = list(csv.reader(f))
    # Row 0 holds valid_loss only; train_loss first appears later.
    assert rows[0][0] == 'time' and set(rows[0][1:]) == {'train_loss',
                                                         'valid_loss'}
    assert len(rows) == 62


def test_export_jsonl(demo_db):
    path, _ = demo_db
    status, output = run_cli('export', path, last_run(path)[:6],
                             '--format', 'jsonl')
    records = [json.loads(line) for line in output.splitlines()]
    assert status == 0 and records[0]['time'] == 0 and len(records) == 61


def test_export_keeps_nan(tmp_path):
    path = str(tmp_path / 'nan.sqlite')
    with SQLiteLog(path) as log:
        log[1]['loss'] = float('nan')
    status, output = run_cli('export', path, '--format', 'csv')
    assert output.splitlines()[1] == '1,nan'
    status, output = run_cli('export', path, '--format', 'jsonl')
    assert output.strip() == '{"time": 1, "loss": NaN}'


def test_plot_terminal_and_png(demo_db, tmp_path):
    path, _ = demo_db
    run = last_run(path)[:6]
    status, output = run_cli('plot', path, run, 'train_loss', 'valid_loss')
    assert status == 0 and '* train_loss' in output
    pytest.importorskip('matplotlib')
    target = str(tmp_path / 'plot.png')
    assert run_cli('plot', path, run, 'train_loss', '-o', target)[0] == 0
    with open(target, 'rb') as f:
        assert f.read(8) == b'\x89PNG\r\n\x1a\n'


def test_plot_png_without_matplotlib(demo_db, tmp_path, monkeypatch,
                                     capsys):
    monkeypatch.setitem(sys.modules, 'matplotlib', None)
    path, _ = demo_db
    status, _ = run_cli('plot', path, last_run(path)[:6], 'train_loss',
                        '-o', str(tmp_path / 'x.png'))
    assert status == 2 and "blocks-log[plot]" in capsys.readouterr().err


def test_blocks_pickle_source():
    pytest.importorskip('numpy')
    status, output = run_cli('show', os.path.join(
        FIXTURES, 'blocks_training_log.p4.pkl'), '--head', '2')
    assert status == 0 and output.splitlines()[1].split()[0] == '0'


@pytest.mark.parametrize('argv, message', [
    (['show', '{missing}'], 'no such file'),
    (['show', '{junk}'], 'not a log'),
    (['show', '{db}', 'ffffffff'], 'no run with uuid'),
    (['show', '{db}'], 'holds 3 runs'),
    (['show', '{db}', '{run}', '--keys', 'nope'], 'unknown key nope'),
    (['runs', '{missing}'], 'no such file'),
    (['runs', '{junk}'], 'not'),
])
def test_bad_input_one_line_no_traceback(demo_db, tmp_path, capsys, argv,
                                         message):
    path, _ = demo_db
    junk = str(tmp_path / 'junk')
    with open(junk, 'w') as f:
        f.write('not a log')
    values = dict(db=path, run=last_run(path)[:6], junk=junk,
                  missing=str(tmp_path / 'missing.sqlite'))
    before = os.path.getmtime(path)
    status, _ = run_cli(*[word.format(**values) for word in argv])
    error = capsys.readouterr().err
    assert status == 2 and message in error
    assert len(error.strip().splitlines()) == 1 and 'Traceback' not in error
    assert not os.path.exists(values['missing'])
    assert os.path.getmtime(path) == before


def test_ambiguous_prefix(tmp_path, capsys):
    path = str(tmp_path / 'many.sqlite')
    for _ in range(40):
        SQLiteLog(path).close()
    prefixes = [run['uuid'][0] for run in blocks_log.list_runs(path)]
    shared = max(set(prefixes), key=prefixes.count)
    assert run_cli('show', path, shared)[0] == 2
    assert 'names' in capsys.readouterr().err


def test_installed_script_runs_as_a_process(demo_db):
    path, _ = demo_db
    result = subprocess.run(
        [sys.executable, '-m', 'blocks_log', 'runs', path],
        stdout=subprocess.PIPE, stderr=subprocess.PIPE,
        universal_newlines=True, cwd=ROOT)
    assert result.returncode == 0 and len(result.stdout.splitlines()) == 4


def test_console_script(demo_db):
    import shutil
    script = shutil.which('blocks-log')
    if script is None:
        pytest.skip('blocks-log is not installed on PATH')
    path, _ = demo_db
    result = subprocess.run([script, 'show', path, last_run(path)[:6],
                             '--head', '1'], stdout=subprocess.PIPE,
                            universal_newlines=True)
    assert result.returncode == 0 and result.stdout.startswith('time')


def test_watch_follows_a_writer(tmp_path):
    database = str(tmp_path / 'watched.sqlite')
    writer, run = start_writer(database, -1)
    watcher = subprocess.Popen(
        [sys.executable, '-m', 'blocks_log', 'watch', database, run[:8],
         'value_0', '--interval', '0.05'],
        stdout=subprocess.PIPE, stderr=subprocess.PIPE,
        universal_newlines=True, cwd=ROOT)
    try:
        lines = [watcher.stdout.readline() for _ in range(5)]
    finally:
        writer.kill()
        writer.wait()
    watcher.send_signal(signal.SIGINT)
    assert watcher.wait() == 0
    times = [int(line.split()[0]) for line in lines]
    assert times == sorted(times) and len(set(times)) == 5
    assert all('value_0=' in line for line in lines)


def test_reading_commands_change_no_file(demo_db, tmp_path):
    path, _ = demo_db
    run = last_run(path)[:8]
    before = file_state(path)
    listing = sorted(os.listdir(os.path.dirname(path)))
    for argv in (['runs', path], ['show', path, run, '--tail', '3'],
                 ['export', path, run, '--format', 'jsonl'],
                 ['plot', path, run, 'train_loss']):
        assert run_cli(*argv)[0] == 0
    assert file_state(path) == before
    assert sorted(os.listdir(os.path.dirname(path))) == listing


def hostile_pickle(tmp_path):
    from test_load import hostile_log
    marker = str(tmp_path / 'ran')
    pickled = str(tmp_path / 'evil.pkl')
    with open(pickled, 'wb') as f:
        f.write(hostile_log(marker))
    return pickled, marker


def test_a_hostile_pickle_shown_runs_nothing(tmp_path):
    pickled, marker = hostile_pickle(tmp_path)
    status, output = run_cli('show', pickled)
    assert status == 0 and output.split() == ['time', 'loss', '1', '0.5']
    assert not os.path.exists(marker)


def test_trusting_a_pickle_is_asked_for(tmp_path):
    pickled, marker = hostile_pickle(tmp_path)
    assert run_cli('show', pickled, '--trust-pickle')[0] == 0
    assert os.path.isdir(marker)


def test_a_directory_as_source(tmp_path, capsys):
    assert run_cli('show', str(tmp_path))[0] == 2
    assert 'is a directory' in capsys.readouterr().err


def test_export_long(demo_db):
    path, _ = demo_db
    run = last_run(path)
    status, output = run_cli('export', path, run[:8], '--format', 'csv',
                             '--long')
    rows = list(csv.reader(io.StringIO(output)))
    assert status == 0 and rows[0] == ['run', 'time', 'key', 'value']
    with SQLiteLog(path, uuid=run, read_only=True) as log:
        assert [(int(t), k) for _, t, k, _ in rows[1:]] == [
            (t, k) for t, k, _ in log.records()]
        assert set(r for r, _, _, _ in rows[1:]) == {run}
    status, output = run_cli('export', path, run[:8], '--format', 'jsonl',
                             '--long')
    first = json.loads(output.splitlines()[0])
    assert sorted(first) == ['key', 'run', 'time', 'value']
