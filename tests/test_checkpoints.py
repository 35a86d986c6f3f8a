"""Checkpoint tars of Blocks (blocks.serialization): the log and the
parameters read without Theano, without Blocks and without running anything
the files name (tests/fixtures/blocks/checkpoints, written by Blocks)."""
import io
import json
import os
import pickle
import shutil
import tarfile

import pytest

import blocks_log
from blocks_log.checkpoints import (Checkpoint, CheckpointError,
                                    load_parameters)
from blocks_log.pickles import Placeholder

from conftest import FIXTURES
from test_load import Hostile, blocks_sqlite_log_pickle

numpy = pytest.importorskip('numpy')

CHECKPOINTS = os.path.join(FIXTURES, 'checkpoints')
with open(os.path.join(CHECKPOINTS, 'expected.json')) as _f:
    EXPECTED = json.load(_f)
NAMES = ['checkpoint_main_loop.tar', 'checkpoint_with_log.tar']


def matches(log, expected):
    """The log reads back as Blocks read it (expected.json)."""
    assert log.h_uuid == expected['uuid']
    for key in ('iterations_done', 'epochs_done', '_epoch_ends'):
        assert log.status[key] == expected[key]
    for key in ('train_loss', 'valid_loss'):
        assert dict((str(time), value) for time, value in log.history(key)
                    ) == expected[key]


@pytest.mark.parametrize('name', NAMES)
def test_the_log_of_a_checkpoint(name):
    path = os.path.join(CHECKPOINTS, name)
    expected = EXPECTED[name]
    log = blocks_log.load(path)
    assert isinstance(log, blocks_log.TrainingLog)
    matches(log, expected['log' if 'log' in expected else '_pkl'])
    # numpy scalars are numbers, tuples stay tuples
    grad_norms = [row['grad_norm'] for _, row in sorted(log.items())
                  if 'grad_norm' in row]
    assert grad_norms and all(isinstance(value, numpy.float32)
                              for value in grad_norms)
    assert float(grad_norms[0]) == pytest.approx(0.5)
    saved = [row['saved_to'] for row in log.values() if 'saved_to' in row]
    assert saved and all(isinstance(value, tuple) for value in saved)


@pytest.mark.parametrize('name', NAMES)
def test_the_main_loop_parameters_and_status(name):
    checkpoint = Checkpoint(os.path.join(CHECKPOINTS, name))
    expected = EXPECTED[name]
    assert sorted(checkpoint.names) == sorted(expected['members'])
    main_loop = checkpoint.main_loop()
    assert isinstance(main_loop, Placeholder)
    assert main_loop.pickle_module == 'blocks.main_loop'
    matches(blocks_log.find_log(main_loop), expected['_pkl'])
    assert checkpoint.parameters['W'].tolist() == expected['W']
    assert checkpoint.parameters['W'].dtype == numpy.float32
    assert load_parameters(os.path.join(CHECKPOINTS, name))['b'].tolist() \
        == [0.0, 0.0, 0.0]
    assert checkpoint.status['iterations_done'] == expected['_pkl'][
        'iterations_done']
    # The persistent ids of the Theano variables resolve to the arrays.
    model = main_loop.state['model']
    storage = model.state['parameters'][0].state['container'].state[
        'storage']
    assert storage[0].tolist() == expected['W']


def test_without_its_parameters_the_ids_are_placeholders(tmp_path):
    path = rebuild(tmp_path, 'checkpoint_main_loop.tar', drop='_parameters')
    checkpoint = Checkpoint(path)
    assert checkpoint.parameters == {}
    model = checkpoint.main_loop().state['model']
    storage = model.state['parameters'][0].state['container'].state[
        'storage']
    assert storage[0].persistent_id == '#1numpy_ndarray.None.W'
    matches(checkpoint.log, EXPECTED['checkpoint_main_loop.tar']['_pkl'])


def rebuild(tmp_path, name, drop=None, add=()):
    """A copy of a fixture without the member `drop` and with `add`
    (``(name, bytes)`` pairs)."""
    target = str(tmp_path / ('rebuilt_' + name))
    with tarfile.open(os.path.join(CHECKPOINTS, name)) as source, \
            tarfile.open(target, 'w') as copy:
        for member in source.getmembers():
            if member.name != drop:
                copy.addfile(member, source.extractfile(member))
        for member_name, data in add:
            info = tarfile.TarInfo(member_name)
            info.size = len(data)
            copy.addfile(info, io.BytesIO(data))
    return target


@pytest.mark.parametrize('make, message', [
    (lambda tmp: rebuild(tmp, 'checkpoint_main_loop.tar', drop='_pkl'),
     'holds neither'),
    (lambda tmp: truncated(tmp), 'not a whole tar'),
    (lambda tmp: rebuild(tmp, 'checkpoint_main_loop.tar',
                         add=[('../../escape', b'x')]), 'outside'),
    (lambda tmp: rebuild(tmp, 'checkpoint_main_loop.tar',
                         add=[('/etc/evil', b'x')]), 'outside'),
    (lambda tmp: rebuild(tmp, 'checkpoint_with_log.tar', drop='log',
                         add=[('log', b'\x80\x02not a pickle')]),
     'cannot be read'),
])
def test_bad_checkpoints_give_one_clear_error(tmp_path, make, message):
    path = make(tmp_path)
    before = sorted(os.listdir(str(tmp_path)))
    with pytest.raises(CheckpointError, match=message) as raised:
        blocks_log.load(path)
    assert path in str(raised.value) and '\n' not in str(raised.value)
    assert sorted(os.listdir(str(tmp_path))) == before  # nothing extracted


def truncated(tmp_path):
    target = str(tmp_path / 'truncated.tar')
    with open(os.path.join(CHECKPOINTS, 'checkpoint_main_loop.tar'),
              'rb') as f:
        data = f.read()
    with open(target, 'wb') as f:
        f.write(data[:1000])
    return target


def test_a_hostile_checkpoint_runs_nothing(tmp_path):
    marker = str(tmp_path / 'ran')
    log = blocks_log.TrainingLog()
    log[1]['loss'] = 0.5
    path = rebuild(tmp_path, 'checkpoint_main_loop.tar', drop='_pkl', add=[
        ('_pkl', pickle.dumps({'evil': Hostile(marker), 'log': log}))])
    assert blocks_log.load(path)[1] == {'loss': 0.5}
    assert not os.path.exists(marker)


def test_a_checkpoint_holding_blocks_sqlite_log(tmp_path, monkeypatch):
    database = str(tmp_path / 'blocks.sqlite')
    shutil.copy(os.path.join(FIXTURES, 'blocks_log.sqlite'), database)
    with open(os.path.join(FIXTURES, 'expected.json')) as f:
        run = json.load(f)['sqlite']['live_child_uuid']
    path = rebuild(tmp_path, 'checkpoint_main_loop.tar', drop='_pkl', add=[
        ('_pkl', blocks_sqlite_log_pickle(database, run, monkeypatch))])
    with blocks_log.load(path) as log:
        assert isinstance(log, blocks_log.SQLiteLog) and log.read_only
        assert log.h_uuid == run and len(log) > 0
    os.remove(database)
    with pytest.raises(blocks_log.LogDatabaseError, match='blocks.sqlite'):
        blocks_log.load(path)
    assert not os.path.exists(database)


def test_the_command_line_reads_a_checkpoint(tmp_path):
    from test_cli import run_cli
    path = os.path.join(CHECKPOINTS, 'checkpoint_with_log.tar')
    status, output = run_cli('show', path, '--keys', 'valid_loss')
    assert status == 0
    assert output.split()[:6] == ['time', 'valid_loss', '0', '2', '4',
                                  '0.375']
    status, output = run_cli('export', path, '--format', 'csv')
    assert status == 0 and output.splitlines()[0].startswith('time,')


@pytest.mark.parametrize('name', NAMES)
def test_a_checkpoint_is_copied_into_a_database_with_its_uuid(name,
                                                              tmp_path):
    from test_cli import run_cli
    path = os.path.join(CHECKPOINTS, name)
    expected = EXPECTED[name]
    database = str(tmp_path / 'runs.sqlite')
    status, output = run_cli('copy', path, database)
    assert status == 0 and output.split() == [
        blocks_log.load(path).h_uuid, 'copied']
    copied = blocks_log.SQLiteLog(database, uuid=output.split()[0],
                                  read_only=True)
    matches(copied, expected['log' if 'log' in expected else '_pkl'])
    import importlib.util
    if importlib.util.find_spec('pandas') is not None:  # the frames need it
        assert copied.to_dataframe().sort_index(axis=1).equals(
            blocks_log.load(path).to_dataframe().sort_index(axis=1))
    copied.close()
    assert run_cli('copy', path, database)[1].split()[1] == 'present'
