"""The blocks-log command line (SPEC section 7), through its entry point
and as a real subprocess."""
import csv
import io
import json
import math
import os
import pickle
import re
import shutil
import signal
import subprocess
import sys

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

import blocks_log
from blocks_log import SQLiteLog, TrainingLog, cli, tables

from conftest import FIXTURES, ROOT
from helpers import (ctrl_c_stops, file_state, log_sparse_run,
                     pickled_log)
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
    return blocks_log.list_runs(path)[-1].uuid


def test_every_command_and_argument_has_help_with_an_example():
    parser = cli.build_parser()
    commands = parser._subparsers._group_actions[0].choices
    assert set(commands) == {'demo', 'runs', 'show', 'compare', 'export',
                             'plot', 'watch', 'copy', 'serve'}
    for name, sub in commands.items():
        assert sub.description and 'example: blocks-log ' + name in (
            sub.format_help())
        for action in sub._actions:
            assert action.help, (name, action.dest)


def test_version(capsys):
    with pytest.raises(SystemExit) as exited:
        cli.main(['--version'])
    assert exited.value.code == 0
    assert capsys.readouterr().out.strip() == (
        'blocks-log ' + blocks_log.__version__)


def test_demo(demo_db):
    path, output = demo_db
    assert 'simulated crash' in output and 'train_loss' in output
    assert 'blocks-log show' in output
    assert os.path.abspath(path) in output  # says where it wrote
    runs = blocks_log.list_runs(path)
    assert len(runs) == 3
    final = SQLiteLog(path, uuid=runs[-1].uuid, read_only=True)
    assert final.status['iterations_done'] == 60
    assert final.status['resumed_from'] == runs[0].uuid
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
    assert status == 0 and lines[0].split()[:4] == ['run', 'parent',
                                                    'created', 'iterations']
    assert len(lines) == 4
    status, output = run_cli('runs', path, '--json')
    runs = json.loads(output)
    assert [run['uuid'] for run in runs] == [
        run.uuid for run in blocks_log.list_runs(path)]
    assert runs[-1]['iterations'] == 60 and runs[-1]['rows'] == 30
    assert runs[-1]['keys'] == ['train_loss', 'valid_loss']
    assert runs[-1]['parent'] == runs[0]['uuid'] and runs[0]['created']


def test_runs_of_many_keys_says_how_many(tmp_path):
    path = str(tmp_path / 'keys.sqlite')
    keys = ['step_{}'.format(index) for index in range(1000)]
    with SQLiteLog(path) as log:
        log.current_row.update(dict.fromkeys(keys, 1.0))
    line = run_cli('runs', path)[1].splitlines()[1]
    assert line.split()[7] == ','.join(sorted(keys))[:57] + '...'
    assert '(1,000 keys)' in line and len(line) < 160
    assert json.loads(run_cli('runs', path, '--json')[1])[0]['keys'] == (
        sorted(keys))


def test_show_json(demo_db):
    path, _ = demo_db
    status, output = run_cli('show', path, last_run(path)[:6], '--json',
                             '--head', '2')
    assert status == 0
    assert [row['time'] for row in json.loads(output)] == [0, 1]


def test_compare(demo_db):
    path, _ = demo_db
    runs = [run.uuid for run in blocks_log.list_runs(path)]
    status, output = run_cli('compare', path, runs[0][:6], runs[2][:6],
                             '--keys', 'valid_loss', '--json')
    table = json.loads(output)
    assert status == 0 and [row['run'] for row in table] == [runs[0],
                                                             runs[2]]
    with SQLiteLog(path, uuid=runs[2], read_only=True) as log:
        losses = log.history('valid_loss')
    final = table[1]
    assert final['last'] == losses[-1][1] and final['last_time'] == 60
    assert final['min'] == min(v for _, v in losses)
    assert final['max_time'] == max(losses, key=lambda p: p[1])[0]
    status, output = run_cli('compare', path, '--keys', 'valid_loss')
    assert status == 0 and len(output.splitlines()) == 4


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
        log[2]['loss'] = float('inf')
        log[3]['loss'] = -float('inf')
    status, output = run_cli('export', path, '--format', 'csv')
    assert output.splitlines()[1:] == ['1,nan', '2,inf', '3,-inf']
    status, output = run_cli('export', path, '--format', 'jsonl')
    assert output.splitlines() == ['{"time": 1, "loss": NaN}',
                                   '{"time": 2, "loss": Infinity}',
                                   '{"time": 3, "loss": -Infinity}']
    loss = [json.loads(line)['loss'] for line in output.splitlines()]
    assert math.isnan(loss[0]) and loss[1:] == [float('inf'),
                                                -float('inf')]


def test_export_several_runs(demo_db):
    path, _ = demo_db
    runs = [run.uuid for run in blocks_log.list_runs(path)]
    status, output = run_cli('export', path, runs[1][:6], runs[2][:6],
                             '--format', 'csv', '--keys', 'valid_loss')
    rows = list(csv.reader(io.StringIO(output)))
    assert status == 0 and rows[0] == ['run', 'time', 'valid_loss']
    assert set(row[0] for row in rows[1:]) == set(runs[1:])
    status, output = run_cli('export', path, runs[1][:6], runs[2][:6],
                             '--format', 'jsonl', '--long')
    records = [json.loads(line) for line in output.splitlines()]
    assert set(record['run'] for record in records) == set(runs[1:])


def test_export_names_the_file_it_wrote(demo_db, tmp_path):
    path, _ = demo_db
    target = str(tmp_path / 'rows')
    status, output = run_cli('export', path, last_run(path)[:6],
                             '--format', 'csv', '-o', target)
    assert status == 0 and output.strip() == 'wrote ' + target + '.csv'
    assert os.path.exists(target + '.csv')


def test_export_takes_its_format_from_the_file_it_writes(demo_db, tmp_path):
    path, _ = demo_db
    run = last_run(path)[:6]
    _, csv_text = run_cli('export', path, run, '--format', 'csv')
    _, jsonl_text = run_cli('export', path, run, '--format', 'jsonl')
    for name, expected in [('rows.csv', csv_text), ('rows.JSONL', jsonl_text)]:
        target = str(tmp_path / name)
        assert run_cli('export', path, run, '-o', target) == (
            0, 'wrote {}\n'.format(target))
        with open(target) as f:
            assert f.read() == expected
    # A name of no format, with one chosen: that one.
    target = str(tmp_path / 'rows.txt')
    assert run_cli('export', path, run, '--format', 'jsonl', '-o', target)[
        0] == 0
    with open(target) as f:
        assert f.read() == jsonl_text


@pytest.mark.parametrize('command', [
    ['show'], ['export', '--format', 'csv'], ['export', '--format', 'jsonl'],
    ['compare'], ['plot']])
def test_a_key_named_twice_is_one_key(demo_db, command):
    # As the page's ?keys= takes them: a CSV had two columns "valid_loss".
    path, _ = demo_db
    run = last_run(path)[:6]
    once = run_cli(command[0], path, run, *command[1:] + [
        '--keys', 'valid_loss', 'train_loss'])
    assert once[0] == 0
    assert run_cli(command[0], path, run, *command[1:] + [
        '--keys', 'valid_loss', 'train_loss,valid_loss',
        'train_loss']) == once


def read_a_pipe(pipe, command):
    """What `command(descriptor)` (a status and what it printed) writes
    into the named pipe `pipe`, read as it writes: ``(status, printed,
    bytes)``. `descriptor` is open on the pipe's end to write (as a shell's
    ``>(...)`` gives ``/dev/fd/63``), and closed once it returns: a command
    that does not write the pipe leaves it empty, never a reader waiting."""
    import threading
    reading = os.open(pipe, os.O_RDONLY | os.O_NONBLOCK)
    writing = os.open(pipe, os.O_WRONLY)
    os.set_blocking(reading, True)
    read = []
    reader = threading.Thread(target=lambda: read.append(
        os.fdopen(reading, 'rb').read()), daemon=True)
    reader.start()
    try:
        status, printed = command(writing)
    finally:
        os.close(writing)
        reader.join(60)
    return status, printed, read[0] if read else None


@pytest.mark.parametrize('form', ['csv', 'jsonl'])
def test_export_into_a_pipe_writes_it_as_named(demo_db, tmp_path, form):
    # A named pipe, or a shell's >(gzip > log.csv.gz) (/dev/fd/63): no
    # suffix added (rows.csv made beside it), no copy renamed over it (the
    # pipe replaced by a file, and its reader left waiting), and no
    # "wrote" line printed (into what may be the same stream).
    path, _ = demo_db
    run = last_run(path)[:6]
    _, expected = run_cli('export', path, run, '--format', form)
    pipe = str(tmp_path / 'rows')
    os.mkfifo(pipe)
    for name in (pipe, '/dev/fd/{}'):
        assert read_a_pipe(pipe, lambda descriptor: run_cli(
            'export', path, run, '--format', form, '-o',
            name.format(descriptor))) == (0, '', expected.encode())
        assert os.listdir(str(tmp_path)) == ['rows']
        assert not os.path.isfile(pipe)


def test_plot_into_a_pipe_writes_a_png(demo_db, tmp_path):
    pytest.importorskip('matplotlib')
    path, _ = demo_db
    pipe = str(tmp_path / 'chart')
    os.mkfifo(pipe)
    status, printed, image = read_a_pipe(pipe, lambda _: run_cli(
        'plot', path, last_run(path)[:6], '--keys', 'train_loss', '-o',
        pipe))
    assert (status, printed) == (0, '') and image.startswith(b'\x89PNG')
    assert os.listdir(str(tmp_path)) == ['chart']


def test_export_to_standard_output_by_its_name(demo_db, tmp_path):
    # -o /dev/stdout, the shell's ">" a file: written there, rather than
    # /dev/stdout.csv made in /dev; -o /dev/null: nothing made beside it.
    path, _ = demo_db
    run = last_run(path)[:6]
    _, expected = run_cli('export', path, run, '--format', 'csv')
    in_dev = set(os.listdir('/dev'))
    target = str(tmp_path / 'rows.csv')
    with open(target, 'w') as stdout:
        subprocess.run([sys.executable, '-m', 'blocks_log', 'export', path,
                        run, '--format', 'csv', '-o', '/dev/stdout'],
                       stdout=stdout, check=True, cwd=ROOT)
    assert run_cli('export', path, run, '--format', 'csv', '-o',
                   '/dev/null') == (0, '')
    made = set(os.listdir('/dev')) - in_dev
    for name in made:  # by a blocks-log that writes beside them
        os.remove(os.path.join('/dev', name))
    assert made == set()
    with open(target) as f:
        assert f.read() == expected


@pytest.mark.parametrize('argv, words', [
    (['--format', 'csv', '-o', 'rows.jsonl'],
     ['rows.jsonl', '.jsonl name for --format csv', 'name it .csv',
      '--format jsonl']),
    (['--format', 'jsonl', '-o', 'rows.csv'], ['rows.csv', 'name it .jsonl']),
    (['-o', 'rows.txt'], ['which format?', 'rows.txt names none']),
    (['-o', 'rows'], ['which format?', 'rows names none']),
    ([], ['which format?', '--format csv', 'named .csv or .jsonl'])],
    ids=['csv-as-jsonl', 'jsonl-as-csv', 'unknown', 'no-suffix', 'stdout'])
def test_export_refuses_a_format_its_file_is_not_named_for(
        demo_db, tmp_path, capsys, argv, words):
    path, _ = demo_db
    argv = [str(tmp_path / each) if each.startswith('rows') else each
            for each in argv]
    status, output = run_cli('export', path, last_run(path)[:6], *argv)
    error = capsys.readouterr().err
    assert status == 2 and output == '' and len(error.splitlines()) == 1
    for word in words:
        assert word in error, error
    assert os.listdir(str(tmp_path)) == []


def show_reading_windows(monkeypatch):
    """Make ``show`` read a window of about 10 values at a time, and align
    its table over its first 8 lines: the ranges of times it reads."""
    monkeypatch.setattr(tables, 'WINDOW_VALUES', 10)
    monkeypatch.setattr(cli.common, 'TABLE_HELD', 8)
    read = tables.checked_series
    ranges = []

    def recorded(log, keys, start, stop):
        ranges.append((start, stop))
        return read(log, keys, start, stop)
    monkeypatch.setattr(tables, 'checked_series', recorded)
    return ranges


@pytest.mark.parametrize('keys', [None, ['every_7', 'first']])
def test_a_whole_run_is_shown_a_window_at_a_time(tmp_path, monkeypatch,
                                                 keys):
    path = str(tmp_path / 'sparse.sqlite')
    with SQLiteLog(path) as log:
        log_sparse_run(log, 300)
        # Wider and wider cells: a later window widens its columns.
        log[250]['every_7'] = 10 ** 12
        log[10 ** 5]['every_3'] = 0.5  # the times' column as wide from 0
        rows = [(time, dict((key, value) for key, value in log[time].items()
                            if keys is None or key in keys)) for time in log]
    rows = [(time, values) for time, values in rows if values]
    columns = keys or ['first', 'every_3', 'late', 'every_7']
    ranges = show_reading_windows(monkeypatch)
    keys_asked = ['--keys'] + keys if keys else []
    status, output = run_cli('show', path, '--json', *keys_asked)
    assert status == 0
    assert output == json.dumps([dict(time=time, **values)
                                 for time, values in rows], indent=1) + '\n'
    assert len(ranges) > 3 and max(high - low for low, high in ranges) < 300
    status, output = run_cli('show', path, *keys_asked)
    lines = output.splitlines()
    header = ['time'] + columns
    shown = [[str(time)] + [tables.cell(values.get(key)) for key in columns]
             for time, values in rows]
    assert status == 0 and [line.split() for line in lines] == [
        ' '.join(line).split() for line in [header] + shown]
    # The first lines aligned as a table of them and the last time alone;
    # the column of the widest cell widened only from the window where it
    # comes.
    assert lines[:9] == cli.common.table(
        header, shown[:8] + [['100000'] + [''] * len(columns)],
        right=header).splitlines()[:9]
    line_at = dict((time, line) for (time, _), line in zip(rows, lines[1:]))
    assert line_at[250].endswith(' 1000000000000')
    assert len(line_at[252]) == len(line_at[250]) == len(line_at[7]) + 6


def test_a_run_with_no_rows_is_shown_empty(tmp_path):
    path = str(tmp_path / 'empty.sqlite')
    SQLiteLog(path).close()
    assert run_cli('show', path) == (0, 'time\n')
    assert run_cli('show', path, '--json') == (0, '[]\n')


def test_a_table_in_batches_aligns_over_its_first_lines():
    header, right = ['name', 'n'], ('n',)
    batches = [[['a', '1'], ['bb', '22']], [['c', '333']], [],
               [['ddddd', '4']]]
    assert list(cli.common.table_lines(header, batches, right, held=3)) == (
        cli.common.table(header, batches[0] + batches[1],
                         right).splitlines() + ['ddddd    4'])
    assert list(cli.common.table_lines(header, batches, right)) == (
        cli.common.table(header, sum(batches, []), right).splitlines())
    assert list(cli.common.table_lines(header, [], right, least=[6])) == [
        'name    n']


@settings(max_examples=300, deadline=None)
@given(st.lists(st.text(alphabet=st.sampled_from('a,\\b '), max_size=6) |
                st.text(), min_size=1))
def test_a_list_of_keys_reads_back_what_was_joined(keys):
    # As the page joins a list: each backslash, then each comma, escaped.
    joined = ','.join(key.replace('\\', '\\\\').replace(',', '\\,')
                      for key in keys)
    assert tables.split_names(joined) == keys


def test_keys_holding_commas_and_backslashes_are_named(tmp_path):
    path = str(tmp_path / 'commas.sqlite')
    with SQLiteLog(path) as log:
        log.current_row.update({'loss': 1.0, 'loss,top5': 2.0,
                                'a\\b': 3.0, 'c\\': 4.0})
    status, output = run_cli('show', path, '--json', '--keys',
                             'loss\\,top5,a\\b', 'c\\\\')
    assert status == 0 and json.loads(output) == [
        {'time': 0, 'loss,top5': 2.0, 'a\\b': 3.0, 'c\\': 4.0}]
    status, output = run_cli('export', path, '--format', 'csv', '--keys',
                             'loss\\,top5')
    assert status == 0 and output.splitlines()[0] == 'time,"loss,top5"'


def test_what_a_terminal_would_act_on_is_shown_escaped(tmp_path, capsys,
                                                       monkeypatch):
    # A log someone sent: keys and values holding line breaks, tabs and
    # escapes, printed as a str's repr writes them; JSON and CSV whole.
    monkeypatch.setattr(shutil, 'get_terminal_size',
                        lambda *args, **kwargs: os.terminal_size((80, 40)))
    path = str(tmp_path / 'sent.sqlite')
    key, text = 'loss\n\x1b[2J', 'line\nbreak\t\x9b'
    with SQLiteLog(path) as log:
        for time in (1, 2):
            log[time].update({key: time / 2.0, 'note': text})
    printed = []
    for argv in (['show', path], ['compare', path], ['watch', path],
                 ['runs', path], ['plot', path, '--keys', key],
                 ['show', path, '--keys', '\x1bnope']):
        printed.append(run_cli(*argv)[1] + capsys.readouterr().err)
    show, compare, watch, runs, plot, error = printed
    shown = show.splitlines()
    assert [re.split(' {2,}', line.strip()) for line in shown] == [
        ['time', 'loss\\n\\x1b[2J', 'note'],
        ['1', '0.5', 'line\\nbreak\\t\\x9b'],
        ['2', '1', 'line\\nbreak\\t\\x9b']]
    assert len(set(map(len, shown))) == 1  # aligned
    assert len(compare.splitlines()) == 3 and len(watch.splitlines()) == 2
    assert 'loss\\n\\x1b[2J=0.5  note=line\\nbreak' in watch
    assert '* loss\\n\\x1b[2J' in plot and len(runs.splitlines()) == 2
    assert error.startswith('blocks-log show: unknown key \\x1bnope ')
    assert 'loss \\x1b[2J' in error and len(error.splitlines()) == 1
    for output in printed:
        assert not re.search('[\x00-\x09\x0b-\x1f\x7f-\x9f]', output)
    assert json.loads(run_cli('show', path, '--json')[1])[0] == {
        'time': 1, key: 0.5, 'note': text}


def test_a_table_aligns_wide_and_combining_characters(tmp_path):
    # A terminal gives a CJK character or an emoji two columns, and a
    # combining accent none.
    path = str(tmp_path / 'wide.sqlite')
    with SQLiteLog(path) as log:
        for time, note in enumerate(['e\u0301t\u00e9', '学习率很高',
                                     'ok \U0001F600'], 1):
            log[time].update({'损失': time / 3.0, 'note': note, 'acc': 0.5})
    assert run_cli('show', path)[1].splitlines() == [
        'time  acc        note      损失',
        '   1  0.5         e\u0301t\u00e9  0.333333',
        '   2  0.5  学习率很高  0.666667',
        '   3  0.5       ok \U0001F600         1']


def test_a_table_cuts_long_values_and_json_and_csv_keep_them(tmp_path):
    numpy = pytest.importorskip('numpy')
    path = str(tmp_path / 'long.sqlite')
    note, small = 'n' * 100, numpy.eye(2)
    with SQLiteLog(path) as log:
        log.current_row.update({'note': note, 'weights': numpy.ones((16, 8)),
                                'small': small})
    status, output = run_cli('show', path)
    row = output.splitlines()[1]
    assert status == 0 and '<float64 array 16x8>' in row
    assert 'n' * 57 + '...' in row and 'n' * 58 not in row
    assert '[[1.0, 0.0], [0.0, 1.0]]' in row  # short enough: whole
    status, output = run_cli('show', path, '--json')
    shown, = json.loads(output)
    assert shown['note'] == note and shown['weights'] == [[1.0] * 8] * 16
    status, output = run_cli('export', path, '--format', 'csv')
    exported = dict(zip(*csv.reader(output.splitlines())))
    assert exported['note'] == note
    assert json.loads(exported['weights']) == [[1.0] * 8] * 16


def test_plot_terminal(demo_db, monkeypatch):
    path, _ = demo_db
    run = last_run(path)[:6]
    monkeypatch.setattr(shutil, 'get_terminal_size',
                        lambda *args, **kwargs: os.terminal_size((120, 40)))
    status, output = run_cli('plot', path, run, '--keys', 'train_loss',
                             'valid_loss')
    assert status == 0 and '* train_loss' in output
    lines = output.splitlines()
    assert max(len(line) for line in lines) > 100  # the terminal's width
    labelled = [line for line in lines if line.split('|')[0].strip()]
    assert len(labelled) >= 5  # more than the smallest and largest


def test_plot_draws_numpy_scalars():
    pytest.importorskip('numpy')
    status, output = run_cli('plot', os.path.join(
        FIXTURES, 'blocks_training_log.p4.pkl'), '--keys', 'np_loss')
    assert status == 0 and 'not drawn' not in output
    assert output.count('*') > 5


def test_plot_png(demo_db, tmp_path, monkeypatch):
    pyplot = pytest.importorskip('matplotlib.pyplot')
    path, _ = demo_db
    runs = [run.uuid for run in blocks_log.list_runs(path)]
    figures = []
    real_savefig = pyplot.Figure.savefig
    monkeypatch.setattr(pyplot.Figure, 'savefig', lambda self, *args, **kw: (
        figures.append(self), real_savefig(self, *args, **kw)))
    target = str(tmp_path / 'curves')
    status, output = run_cli('plot', path, runs[1][:6], runs[2][:6],
                             '--keys', 'valid_loss', '-o', target)
    assert status == 0 and output.strip() == 'wrote ' + target + '.png'
    with open(target + '.png', 'rb') as f:
        assert f.read(8) == b'\x89PNG\r\n\x1a\n'
    axes = figures[0].axes[0]
    assert axes.get_ylabel() == 'valid_loss'
    assert 'demo.sqlite' in axes.get_title() and runs[1][:8] in (
        axes.get_title())
    assert len(axes.get_legend().get_texts()) == 2


@pytest.fixture
def undrawable(tmp_path):
    """A log whose keys hold NaN, inf, an int past a float's range, text
    and lists among numbers."""
    path = str(tmp_path / 'undrawable.sqlite')
    with SQLiteLog(path) as log:
        for time in range(1, 11):
            log[time]['loss'] = (float('nan') if time in (3, 4) else
                                 float('-inf') if time == 8 else
                                 10 ** 400 if time == 9 else time / 2.0)
            log[time]['note'] = 'epoch' if time % 5 else [time]
            log[time]['stage'] = 'warm-up' if time < 6 else 2.5
    return path


def test_plot_says_what_it_does_not_draw(undrawable, monkeypatch):
    monkeypatch.setattr(shutil, 'get_terminal_size',
                        lambda *args, **kwargs: os.terminal_size((80, 40)))
    status, output = run_cli('plot', undrawable, '--keys', 'loss', 'note',
                             'stage')
    legend = output.splitlines()[-3:]
    assert status == 0 and legend == [
        '  * loss (3 NaN or inf, 1 too large for a float: not drawn)',
        '  + note (10 not numbers: not drawn)',
        '  o stage (5 not numbers: not drawn)']


def test_plot_png_leaves_gaps_and_says_so(undrawable, tmp_path, monkeypatch):
    pyplot = pytest.importorskip('matplotlib.pyplot')
    figures = []
    real_savefig = pyplot.Figure.savefig
    monkeypatch.setattr(pyplot.Figure, 'savefig', lambda self, *args, **kw: (
        figures.append(self), real_savefig(self, *args, **kw)))
    status, _ = run_cli('plot', undrawable, '--keys', 'loss', 'stage', '-o',
                        str(tmp_path / 'chart.png'))
    assert status == 0
    loss, stage = figures[0].axes[0].get_lines()
    assert [text.get_text() for text in figures[0].axes[0].get_legend(
        ).get_texts()] == ['loss (3 NaN or inf, 1 too large for a float: '
                           'not drawn)',
                           'stage (5 not numbers: not drawn)']
    # A gap where a value is not drawn: a line across it would hide it.
    assert list(loss.get_xdata()) == list(range(1, 11))
    assert [time for time, value in zip(loss.get_xdata(), loss.get_ydata())
            if math.isnan(value)] == [3, 4, 8, 9]
    assert list(stage.get_ydata())[5:] == [2.5] * 5


@pytest.mark.parametrize('output', [None, 'chart.png'])
def test_plot_of_nothing_drawable_is_refused(
        undrawable, tmp_path, capsys, output):
    argv = ['-o', str(tmp_path / output)] if output else []
    if output:
        pytest.importorskip('matplotlib')
    status, printed = run_cli('plot', undrawable, '--keys', 'note', *argv)
    error = capsys.readouterr().err
    assert status == 2 and printed == '' and error.splitlines() == [
        'blocks-log plot: nothing to plot: no finite number in note (10 not '
        'numbers)']
    assert not os.path.exists(str(tmp_path / 'chart.png'))


@pytest.mark.parametrize('target, words', [
    ('{tmp}/missing/x.png', 'no such directory'),
    ('{tmp}', 'is a directory'),
    ('{tmp}/x.nosuchformat', 'writes no .nosuchformat'),
])
def test_plot_bad_outputs(demo_db, tmp_path, capsys, target, words):
    pytest.importorskip('matplotlib')
    path, _ = demo_db
    status, _ = run_cli('plot', path, last_run(path)[:6], '--keys',
                        'train_loss', '-o', target.format(tmp=tmp_path))
    error = capsys.readouterr().err
    assert status == 2 and words in error and len(error.splitlines()) == 1


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
    (['plot', '{db}', '{run}'], 'required: --keys'),
    (['watch', '{db}', '{run}', '--interval', '-1'], 'more than 0'),
    (['show', '{db}', '{run}', '--head', 'x'], 'not a whole number'),
    (['copy', '{db}', '{db}'], 'into itself'),
    (['runs', '{pipe}'], 'not a regular file (a pipe or a device)'),
    (['show', '/dev/zero'], 'not a regular file'),
])
def test_bad_input_one_line_no_traceback(demo_db, tmp_path, capsys, argv,
                                         message):
    path, _ = demo_db
    junk = str(tmp_path / 'junk')
    with open(junk, 'w') as f:
        f.write('not a log')
    # A pipe nobody writes, or a device of endless zeros: read, either
    # would hang the command.
    pipe = str(tmp_path / 'pipe')
    os.mkfifo(pipe)
    values = dict(db=path, run=last_run(path)[:6], junk=junk, pipe=pipe,
                  missing=str(tmp_path / 'missing.sqlite'))
    before = os.path.getmtime(path)
    try:
        status, _ = run_cli(*[word.format(**values) for word in argv])
    except SystemExit as exited:  # what argparse refuses
        status = exited.code
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


def test_watch_follows_a_writer_from_its_start(tmp_path):
    # Started with the training, before any key is committed; every
    # iteration once, in order, even those committed while it slept.
    database = str(tmp_path / 'watched.sqlite')
    writer, run = start_writer(database, 200, pause=0)
    watcher = subprocess.Popen(
        [sys.executable, '-m', 'blocks_log', 'watch', database, run[:8],
         '--keys', 'value_0', '--interval', '0.05'],
        stdout=subprocess.PIPE, stderr=subprocess.PIPE,
        universal_newlines=True, cwd=ROOT)
    writer.stdin.write('go\n')
    writer.stdin.flush()
    writer.communicate()
    # The writer closed its run: the watcher prints the rest and ends.
    output, error = watcher.communicate(timeout=60)
    assert watcher.returncode == 0, error
    times = [int(line.split()[0]) for line in output.splitlines()]
    assert times == list(range(1, 201))
    assert all(line.split()[1].startswith('value_0=')
               for line in output.splitlines())


WRITER_OF_CHECKPOINTS = """
import pickle, sys
from blocks_log import SQLiteLog
log = SQLiteLog(sys.argv[1])
print(log.h_uuid, flush=True)
for iteration in range(1, 61):
    log.status['iterations_done'] = iteration
    log.current_row['loss'] = iteration / 4
    log.flush()
    if iteration % 20 == 0:
        sys.stdin.readline()  # the watcher is there
        pickle.dumps(log)  # a checkpoint: the log goes on in a new run
log.close()
"""


def line_reader(pipe):
    """``read(count)``: the next `count` lines of `pipe` (text), each
    within 60 s, read on a thread of their own; ``read()``: the lines
    left once `pipe` is closed."""
    import queue
    import threading
    lines = queue.Queue()
    thread = threading.Thread(target=lambda: [
        lines.put(line.rstrip('\n')) for line in pipe], daemon=True)
    thread.start()

    def read(count=None):
        if count is None:
            thread.join(60)
            return [lines.get_nowait() for _ in range(lines.qsize())]
        return [lines.get(timeout=60) for _ in range(count)]
    return read


def test_watch_follows_a_training_past_its_checkpoints(tmp_path):
    # Each checkpoint (a pickle, as Blocks' extension makes one each
    # epoch) lets the watched run go and goes on in a new one: watch goes
    # on in it, and says so, until the training ends. Each checkpoint
    # waits until the watcher printed the iterations before it.
    database = str(tmp_path / 'epochs.sqlite')
    writer = subprocess.Popen([sys.executable, '-c', WRITER_OF_CHECKPOINTS,
                               database], stdin=subprocess.PIPE,
                              stdout=subprocess.PIPE,
                              universal_newlines=True, cwd=ROOT)
    run = writer.stdout.readline().strip()
    watcher = subprocess.Popen(
        [sys.executable, '-m', 'blocks_log', 'watch', database, run[:8],
         '--keys', 'loss', '--interval', '0.05'],
        stdout=subprocess.PIPE, stderr=subprocess.PIPE,
        universal_newlines=True, cwd=ROOT)
    read = line_reader(watcher.stdout)
    try:
        # Printed up to the iteration before the one being written.
        output = read(19)
        for _ in range(2):
            writer.stdin.write('\n')
            writer.stdin.flush()
            output += read(20)
        writer.communicate('\n', timeout=60)
        error = watcher.stderr.read()
        watcher.wait(timeout=60)
        output += read()
    finally:
        for process in (writer, watcher):
            if process.poll() is None:
                process.kill()
    assert watcher.returncode == 0 and writer.returncode == 0, error
    assert output == [
        '{}  loss={}'.format(time, tables.cell(time / 4))
        for time in range(1, 61)]
    lineage = [run.uuid for run in blocks_log.list_runs(database)]
    assert len(lineage) == 4
    assert error.splitlines() == [
        'run {} went on in run {}'.format(parent[:8], child[:8])
        for parent, child in zip(lineage, lineage[1:])]


def test_watch_a_finished_run_and_a_pickle(demo_db):
    path, _ = demo_db
    status, output = run_cli('watch', path, last_run(path)[:6], '--keys',
                             'valid_loss')
    assert status == 0 and output.splitlines()[-1].startswith('60 ')
    pytest.importorskip('numpy')  # the pickle holds numpy scalars
    status, output = run_cli('watch', os.path.join(
        FIXTURES, 'blocks_training_log.p4.pkl'), '--keys', 'loss')
    assert status == 0 and len(output.splitlines()) > 5


def test_watch_reads_a_run_a_window_at_a_time(tmp_path, monkeypatch):
    path = str(tmp_path / 'sparse.sqlite')
    with SQLiteLog(path) as log:
        log_sparse_run(log, 300)
        rows = [(time, dict(log[time])) for time in log]
    ranges = show_reading_windows(monkeypatch)
    status, output = run_cli('watch', path)
    assert status == 0
    assert [(int(line.split()[0]), set(line.split('  ')[1:]))
            for line in output.splitlines()] == [
        (time, set('{}={}'.format(key, tables.cell(value))
                   for key, value in values.items()))
        for time, values in rows]
    assert len(ranges) > 3 and max(high - low for low, high in ranges) < 300


def test_watch_stops_on_ctrl_c(tmp_path):
    database = str(tmp_path / 'watched.sqlite')
    writer, run = start_writer(database, -1)
    watcher = subprocess.Popen(
        [sys.executable, '-m', 'blocks_log', 'watch', database, run[:8],
         '--interval', '0.05'],
        stdout=subprocess.PIPE, stderr=subprocess.PIPE,
        universal_newlines=True, cwd=ROOT, preexec_fn=ctrl_c_stops)
    try:
        assert watcher.stdout.readline()
    finally:
        writer.kill()
        writer.wait()
    watcher.send_signal(signal.SIGINT)
    # Read to the end, not wait(): the watcher prints every row the writer
    # made (thousands), and a pipe left full would hold it for ever.
    _, errors = watcher.communicate(timeout=60)
    # Stopped by Ctrl-C: 130, as a shell reports SIGINT; no traceback.
    assert watcher.returncode == 130
    assert 'Traceback' not in errors


def test_reading_commands_change_no_file(demo_db, tmp_path):
    path, _ = demo_db
    run = last_run(path)[:8]
    before = file_state(path)
    listing = sorted(os.listdir(os.path.dirname(path)))
    for argv in (['runs', path], ['show', path, run, '--tail', '3'],
                 ['export', path, run, '--format', 'jsonl'],
                 ['plot', path, run, '--keys', 'train_loss'],
                 ['compare', path, '--json']):
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


def reads_of_series(monkeypatch):
    """The values each read of a log's series by :mod:`blocks_log.tables`
    reads, listed as they are read."""
    from blocks_log import tables
    counts = []
    checked_series = tables.checked_series

    def counted(*arguments):
        columns = checked_series(*arguments)
        counts.append(sum(len(times) for times, _ in columns.values()))
        return columns
    monkeypatch.setattr(tables, 'checked_series', counted)
    return counts


@pytest.mark.parametrize('form', [['--format', 'csv'], ['--format', 'jsonl'],
                                  ['--format', 'csv', '--long'],
                                  ['--format', 'csv', '--keys', 'late']])
def test_export_reads_a_window_at_a_time(tmp_path, monkeypatch, form):
    # What an export holds at once does not grow with the run (its rows at
    # once, 1,000,000 iterations of 10 values took 842 MB); it writes what
    # the whole run read at once writes, the header too (every key in the
    # order it first appears: 'late' last); a key logged only at the end
    # is found in a few reads.
    from blocks_log import tables
    path = str(tmp_path / 'long.sqlite')
    with SQLiteLog(path, commit_every=100) as log:
        for time in range(1, 3001):
            log.status['iterations_done'] = time
            log.current_row['loss'] = time * 0.5
            if time % 3 == 0:
                log.current_row['acc'] = time
        log.current_row['late'] = 'at last'
    whole = run_cli('export', path, *form)
    monkeypatch.setattr(tables, 'WINDOW_VALUES', 100)
    counts = reads_of_series(monkeypatch)
    from blocks_log.sources import Source
    opened, open_run = [], Source.open
    monkeypatch.setattr(Source, 'open', lambda self, *name: opened.append(
        name) or open_run(self, *name))
    status, output = run_cli('export', path, *form)
    assert status == 0 and output == whole[1]
    assert len(opened) == 1  # the run opened once, its keys read from it
    if form[1] == 'csv' and len(form) == 2:
        assert output.splitlines()[0] == 'time,loss,acc,late'
    assert max(counts) <= 8 * 100 and len(counts) < 200
    if '--keys' in form:
        assert len(counts) < 20


def test_a_pickled_log_is_exported_in_one_read(tmp_path, monkeypatch):
    # A log in memory sorts all its times at each read of a range: read in
    # windows, an export of it would take time that grows as its square.
    from blocks_log import tables
    source = pickled_log(str(tmp_path / 'log.pkl'))
    monkeypatch.setattr(tables, 'WINDOW_VALUES', 100)
    counts = reads_of_series(monkeypatch)
    status, output = run_cli('export', source, '--format', 'csv')
    assert status == 0 and len(output.splitlines()) == 3001
    assert counts == [3000] * 2  # the header's keys, then the rows


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


@pytest.mark.parametrize('backend', ['sqlite', 'memory'])
@pytest.mark.parametrize('keys', [None, ['every_7'], ['first', 'every_3']])
@pytest.mark.parametrize('end', ['head', 'tail'])
@pytest.mark.parametrize('count,start,stop', [
    (0, None, None), (1, None, None), (5, None, None), (900, None, None),
    (4, 10, 300), (3, 20, None), (2, 0, 1)])
def test_first_and_last_rows_are_those_of_every_row(tmp_path, backend, keys,
                                                    end, count, start,
                                                    stop):
    # Read from where they begin or end (found from the series): the same
    # rows as cutting every row of the range.
    from blocks_log.tables import rows_of
    log = SQLiteLog(str(tmp_path / 'rows.sqlite')) if (
        backend == 'sqlite') else blocks_log.TrainingLog()
    log_sparse_run(log)
    _, every = rows_of(log, keys, start, stop)
    every = every[:count] if end == 'head' else every[len(every) - count:]
    # Columns: the keys of the rows shown, in the order they appear there.
    columns = list(keys) if keys is not None else []
    for _, values in every:
        columns.extend(key for key in values if key not in columns)
    assert rows_of(log, keys, start, stop, **{end: count}) == (
        columns, every)
    log.close()


def test_numpy_values_are_written_as_what_they_are(tmp_path):
    # A log in memory keeps numpy scalars (Blocks' channels are float32s);
    # a database keeps the Python value each is. Written out, either is the
    # same text: a float32 not cut to 6 digits, a float64 not as numpy
    # 2's repr, a bool as a bool.
    numpy = pytest.importorskip('numpy')
    values = {'f32': numpy.float32(0.123456789),
              'f64': numpy.float64(0.123456789123),
              'f16': numpy.float16(0.1), 'i64': numpy.int64(2 ** 60 + 1),
              'flag': numpy.bool_(True), 'nan': numpy.float32('nan')}
    memory, database = TrainingLog(), str(tmp_path / 'values.sqlite')
    memory[1].update(values)
    pickled = str(tmp_path / 'values.pkl')
    with open(pickled, 'wb') as f:
        pickle.dump(memory, f)
    with SQLiteLog(database) as log:
        log[1].update(values)
    written = {}
    for source in (pickled, database):
        # (A database keeps no order of the keys of a time: by name.)
        (status, csv_text), (_, jsonl) = [
            run_cli('export', source, 'last', '--format', format)
            for format in ('csv', 'jsonl')]
        assert status == 0
        written[source] = (dict(zip(*[line.split(',') for line in
                                      csv_text.splitlines()])), jsonl)
    cells, jsonl = written[pickled]
    assert cells == written[database][0]
    assert cells == {
        'time': '1', 'f32': repr(float(values['f32'])),
        'f64': '0.123456789123', 'f16': '0.0999755859375',
        'i64': str(2 ** 60 + 1), 'flag': 'True', 'nan': 'nan'}
    record, stored = json.loads(jsonl), json.loads(written[database][1])
    assert math.isnan(record.pop('nan')) and math.isnan(stored.pop('nan'))
    assert record == stored
    shown = [run_cli('show', source, 'last', '--keys', 'f32', 'flag', 'i64')
             for source in (pickled, database)]
    assert shown[0] == shown[1] and shown[0][1].split('\n')[1].split() == [
        '1', '0.123457', 'True', str(2 ** 60 + 1)]
    # A longdouble, which a database refuses, has more digits than a float.
    memory[2]['long'] = numpy.longdouble(1) / 3
    with open(pickled, 'wb') as f:
        pickle.dump(memory, f)
    status, csv_text = run_cli('export', pickled, 'last', '--keys', 'long',
                               '--format', 'csv')
    assert csv_text.splitlines()[1:] == [
        '2,' + str(numpy.longdouble(1) / 3)]
    assert record['f32'] == float(values['f32'])
    assert record['i64'] == 2 ** 60 + 1 and record['flag'] is True


def test_arrays_json_has_no_number_for_are_written_as_text(tmp_path):
    # Arrays a database keeps (float128, complex, dates) were a traceback
    # in show, export and the page's CSV: JSON has no number for them.
    numpy = pytest.importorskip('numpy')
    path = str(tmp_path / 'arrays.sqlite')
    with SQLiteLog(path) as log:
        log[1]['long'] = numpy.array([numpy.longdouble(1) / 3])
        log[2]['complex'] = numpy.array([1 + 2j])
        log[3]['dates'] = numpy.array(['2020-01-01'], dtype='datetime64[D]')
    expected = {1: ('long', [str(numpy.longdouble(1) / 3)]),
                2: ('complex', ['(1+2j)']), 3: ('dates', ['2020-01-01'])}
    status, jsonl = run_cli('export', path, 'last', '--format', 'jsonl')
    assert status == 0
    for line in jsonl.splitlines():
        record = json.loads(line)
        key, listed = expected[record.pop('time')]
        assert record == {key: listed}
    status, shown = run_cli('show', path, 'last', '--json')
    assert status == 0 and [row['complex'] for row in json.loads(shown)
                            if 'complex' in row] == [['(1+2j)']]
    status, csv_text = run_cli('export', path, 'last', '--format', 'csv')
    assert status == 0 and len(csv_text.splitlines()) == 4
