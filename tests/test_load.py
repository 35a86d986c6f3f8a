"""blocks_log.load on pickles written by Blocks itself
(tests/fixtures/blocks, copied from shared/fixtures/blocks)."""
import io
import json
import os
import pickle
import sys
import types
import uuid

import pytest

import blocks_log
from blocks_log import TrainingLog

from conftest import FIXTURES

numpy = pytest.importorskip('numpy')

with open(os.path.join(FIXTURES, 'expected.json')) as _f:
    EXPECTED = json.load(_f)['training_log']

PICKLES = ['blocks_training_log.p2.pkl', 'blocks_training_log.p4.pkl']


def plain(value):
    """A value as expected.json writes it: tuples and arrays as lists."""
    if isinstance(value, (tuple, list, numpy.ndarray)):
        return [plain(item) for item in value]
    if isinstance(value, numpy.generic):
        return value.item()
    return value


@pytest.fixture(params=PICKLES)
def blocks_log_file(request):
    return os.path.join(FIXTURES, request.param)


def test_loads_as_our_training_log(blocks_log_file):
    log = blocks_log.load(blocks_log_file)
    assert type(log) is TrainingLog
    assert log.uuid == uuid.UUID(EXPECTED['uuid'])
    assert dict(log.status) == EXPECTED['status']
    assert sorted(log) == EXPECTED['times']
    rows = dict((str(time), dict((key, plain(value))
                                 for key, value in row.items()))
                for time, row in log.items())
    assert rows == EXPECTED['rows']


def test_types_survive(blocks_log_file):
    log = blocks_log.load(blocks_log_file)
    assert log[5]['saved_to'] == ('model_0.tar',)
    assert log[5]['saved_to'] + ('x',) == ('model_0.tar', 'x')
    assert isinstance(log[3]['np_loss'], numpy.float32)
    assert log[10]['weights_norm'].dtype == numpy.float64
    assert log[0]['before_training'] is True


def test_loaded_log_works_and_repickles_as_ours(blocks_log_file):
    log = blocks_log.load(blocks_log_file)
    log.status['iterations_done'] += 1
    log.current_row['loss'] = 0.0
    assert log.previous_row['training_finished'] is True
    data = pickle.dumps(log)
    assert b'blocks.log' not in data
    again = pickle.loads(data)
    assert again.uuid == log.uuid and again[16] == {'loss': 0.0}


def blocks_pickle_of(obj_factory, monkeypatch):
    """Pickle what `obj_factory` makes while a stand-in ``blocks.log.log``
    module is importable, as Blocks' own pickles name it; then remove it."""
    module = types.ModuleType('blocks.log.log')

    class BlocksTrainingLog(TrainingLog):
        pass
    BlocksTrainingLog.__module__ = 'blocks.log.log'
    BlocksTrainingLog.__name__ = BlocksTrainingLog.__qualname__ = (
        'TrainingLog')
    module.TrainingLog = BlocksTrainingLog
    with monkeypatch.context() as patch:
        for name in ('blocks', 'blocks.log', 'blocks.log.log'):
            patch.setitem(sys.modules, name, module)
        data = pickle.dumps(obj_factory(BlocksTrainingLog), 2)
    assert b'blocks.log.log' in data
    return data


def test_log_inside_a_larger_object(monkeypatch):
    def checkpoint(log_class):
        log = log_class()
        log[1]['loss'] = 0.5
        return {'step': 3, 'extensions': [('log', log)]}
    data = blocks_pickle_of(checkpoint, monkeypatch)
    assert 'blocks' not in sys.modules
    loaded = blocks_log.load(io.BytesIO(data))
    log = loaded['extensions'][0][1]
    assert type(log) is TrainingLog and log[1] == {'loss': 0.5}


def test_load_from_file_object(blocks_log_file):
    with open(blocks_log_file, 'rb') as f:
        assert isinstance(blocks_log.load(f), TrainingLog)


def test_load_errors(tmp_path):
    with pytest.raises(OSError):
        blocks_log.load(str(tmp_path / 'missing.pkl'))
    (tmp_path / 'junk').write_bytes(b'not a pickle')
    with pytest.raises(pickle.UnpicklingError):
        blocks_log.load(str(tmp_path / 'junk'))
