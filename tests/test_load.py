"""blocks_log.load on pickles written by Blocks itself
(tests/fixtures/blocks, copied from shared/fixtures/blocks)."""
import collections
import io
import json
import os
import pickle
import shutil
import sys
import types
import uuid

import pytest

import blocks_log
import blocks_log.pickles
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


@pytest.mark.parametrize('source', ['sqlite', 'postgresql://db.lab/runs',
                                    'host=db.lab dbname=runs'])
def test_a_log_database_is_not_read_as_a_pickle(tmp_path, source):
    # Read as a pickle, an SQLite file raised "the STRING opcode argument
    # must be quoted", and a URL that no file is named.
    if source == 'sqlite':
        source = str(tmp_path / 'log.sqlite')
        with blocks_log.SQLiteLog(source) as log:
            log.current_row['loss'] = 0.5
    with pytest.raises(pickle.UnpicklingError, match=(
            r"is a log database, not a pickle: "
            r"blocks_log\.runs\.open_source\(")):
        blocks_log.load(source)


# Restricted unpickling: nothing named by a file runs unless trusted.

class Hostile(object):
    """Unpickles by calling os.makedirs: a stand-in for os.system."""
    def __init__(self, marker):
        self.marker = marker

    def __reduce__(self):
        return os.makedirs, (self.marker,)


def hostile_log(marker):
    """A pickled log that also asks to run code."""
    log = TrainingLog()
    log[1]['loss'] = 0.5
    return pickle.dumps({'payload': Hostile(marker), 'log': log})


def test_a_hostile_pickle_runs_nothing(tmp_path):
    marker = str(tmp_path / 'ran')
    loaded = blocks_log.load(io.BytesIO(hostile_log(marker)))
    assert not os.path.exists(marker)
    placeholder = loaded['payload']
    assert isinstance(placeholder, blocks_log.pickles.Placeholder)
    assert placeholder.args == (marker,)
    assert 'makedirs' in repr(placeholder)
    assert blocks_log.find_log(loaded)[1] == {'loss': 0.5}


def test_trusted_load_runs_what_the_file_names(tmp_path):
    marker = str(tmp_path / 'ran')
    blocks_log.load(io.BytesIO(hostile_log(marker)), trusted=True)
    assert os.path.isdir(marker)


class MainLoop(object):
    """Stands for an object of a framework that is not installed."""


def test_the_log_is_found_inside_placeholders(monkeypatch):
    def main_loop(log_class):
        loop = MainLoop()
        loop.log = log_class()
        loop.log[3]['loss'] = 1.5
        loop.algorithm = MainLoop()
        return loop
    MainLoop.__module__ = 'theano_like.main_loop'
    module = types.ModuleType('theano_like.main_loop')
    module.MainLoop = MainLoop
    monkeypatch.setitem(sys.modules, 'theano_like', module)
    monkeypatch.setitem(sys.modules, 'theano_like.main_loop', module)
    data = blocks_pickle_of(main_loop, monkeypatch)
    monkeypatch.delitem(sys.modules, 'theano_like.main_loop')
    loaded = blocks_log.load(io.BytesIO(data))
    assert isinstance(loaded, blocks_log.pickles.Placeholder)
    assert loaded.pickle_module == 'theano_like.main_loop'
    log = blocks_log.find_log(loaded)
    assert type(log) is TrainingLog and log[3] == {'loss': 1.5}
    assert blocks_log.find_log({'nothing': [1, 2]}) is None


def test_persistent_ids_become_placeholders():
    parameter = MainLoop()

    class WithPersistentIds(pickle.Pickler):
        def persistent_id(self, obj):
            return 'param' if obj is parameter else None
    stream = io.BytesIO()
    WithPersistentIds(stream).dump({'W': parameter, 'log': TrainingLog()})
    loaded = blocks_log.load(io.BytesIO(stream.getvalue()))
    assert loaded['W'].persistent_id == 'param'
    assert isinstance(loaded['log'], TrainingLog)


@pytest.mark.parametrize('protocol', range(pickle.HIGHEST_PROTOCOL + 1))
def test_plain_values_load_on_every_protocol(protocol):
    value = {'a': [1, 2.5, 'x', b'y', None, True], 't': (1, frozenset([2])),
             'c': 1j, 'o': collections.OrderedDict(b=1),
             'u': uuid.UUID(int=5)}
    assert blocks_log.load(io.BytesIO(pickle.dumps(value, protocol))) == (
        value)


def test_a_pickled_sqlite_log_loads_read_only(tmp_path):
    path = str(tmp_path / 'log.sqlite')
    log = blocks_log.SQLiteLog(path, allow_pickle=True)
    log[0]['a'] = 1
    data = pickle.dumps(log)
    log.close()
    loaded = blocks_log.load(io.BytesIO(data))
    assert loaded.read_only and not loaded.allow_pickle
    assert loaded[0]['a'] == 1
    with pytest.raises(blocks_log.ReadOnlyLogError):
        loaded[0]['a'] = 2
    loaded.close()
    writable = pickle.loads(data)
    assert not writable.read_only
    writable.close()


def test_a_pickled_sqlite_log_whose_database_is_gone(tmp_path):
    path = str(tmp_path / 'log.sqlite')
    with blocks_log.SQLiteLog(path) as log:
        data = pickle.dumps(log)
    os.remove(path)
    left = os.listdir(str(tmp_path))  # the writer's -claims file
    with pytest.raises(blocks_log.LogDatabaseError, match='log.sqlite'):
        blocks_log.load(io.BytesIO(data))
    assert os.listdir(str(tmp_path)) == left


def blocks_sqlite_log_pickle(database, run, monkeypatch):
    """A pickle of Blocks' own SQLiteLog, as Blocks' __getstate__ made it:
    the instance's attributes, the connection left out, the status an
    SQLiteStatus that refers back to the log."""
    module = types.ModuleType('blocks.log.sqlite')

    class SQLiteLog(object):
        def __getstate__(self):
            return dict(self.__dict__)

    class SQLiteStatus(object):
        pass
    for cls in (SQLiteLog, SQLiteStatus):
        cls.__module__ = 'blocks.log.sqlite'
        cls.__qualname__ = cls.__name__
        setattr(module, cls.__name__, cls)
    log = SQLiteLog()
    log.database = database
    log.uuid = uuid.UUID(run)
    log.status = SQLiteStatus()
    log.status.log = log
    with monkeypatch.context() as patch:
        for name in ('blocks', 'blocks.log', 'blocks.log.sqlite'):
            patch.setitem(sys.modules, name, module)
        return pickle.dumps({'main_loop_log': log}, 2)


def test_a_pickle_of_blocks_sqlite_log(tmp_path, monkeypatch):
    database = str(tmp_path / 'blocks.sqlite')
    shutil.copy(os.path.join(FIXTURES, 'blocks_log.sqlite'), database)
    with open(os.path.join(FIXTURES, 'expected.json')) as f:
        expected = json.load(f)['sqlite']
    run = expected['live_child_uuid']
    data = blocks_sqlite_log_pickle(database, run, monkeypatch)
    log = blocks_log.find_log(blocks_log.load(io.BytesIO(data)))
    assert isinstance(log, blocks_log.SQLiteLog) and log.read_only
    assert log.h_uuid == run
    assert log.status['iterations_done'] == expected['live_child'][
        'iterations_done']
    log.close()
    trusted = blocks_log.load(io.BytesIO(data), trusted=True)
    live = trusted['main_loop_log']
    assert not live.read_only and live.h_uuid == run
    live.resume()  # Blocks' run is continued in our tables
    live.current_row['loss'] = 0.0
    live.close()
