"""The in-memory TrainingLog: Blocks' own test cases and what is particular
to a defaultdict backend (SPEC section 3)."""
import copy
import pickle
from collections import defaultdict

import pytest

from blocks_log import TrainingLog


def test_blocks_training_log():
    # Blocks' tests/test_log.py::test_training_log, unchanged but for names.
    log = TrainingLog()
    log[0]['field'] = 45
    assert log[0]['field'] == 45
    assert log[1] == {}
    assert log.current_row['field'] == 45
    log.status['iterations_done'] += 1
    assert log.status['iterations_done'] == 1
    assert log.previous_row['field'] == 45
    with pytest.raises(ValueError):
        log[-1]
    assert len(list(log)) == 2


def test_blocks_pickle_log(tmp_path):
    # Blocks' tests/test_log.py::test_pickle_log, in tmp_path.
    log1 = TrainingLog()
    with open(str(tmp_path / 'log1.pkl'), 'wb') as f:
        pickle.dump(log1, f)
    with open(str(tmp_path / 'log1.pkl'), 'rb') as f:
        log2 = pickle.load(f)
    with open(str(tmp_path / 'log2.pkl'), 'wb') as f:
        pickle.dump(log2, f)
    with open(str(tmp_path / 'log2.pkl'), 'rb') as f:
        pickle.load(f)
    log2.resume()
    with open(str(tmp_path / 'log3.pkl'), 'wb') as f:
        pickle.dump(log2, f)
    with open(str(tmp_path / 'log3.pkl'), 'rb') as f:
        log3 = pickle.load(f)
    assert log3.status['resumed_from'] == log1.h_uuid


def test_is_a_defaultdict_of_dicts():
    log = TrainingLog()
    assert isinstance(log, defaultdict) and log.default_factory is dict
    log[2]
    assert 2 in log and len(log) == 1


def test_no_constructor_arguments():
    with pytest.raises(TypeError):
        TrainingLog(dict)


def test_setting_rows_checks_times():
    log = TrainingLog()
    log[1] = {'a': 1}
    log.update({2: {'b': 2}})
    log.setdefault(3, {'c': 3})
    assert dict(log) == {1: {'a': 1}, 2: {'b': 2}, 3: {'c': 3}}
    for bad in (lambda: log.__setitem__(-1, {}),
                lambda: log.update({'x': {}}),
                lambda: log.setdefault(1.5, {}),
                lambda: log.update(a={})):
        with pytest.raises(ValueError):
            bad()
    assert sorted(log) == [1, 2, 3]


@pytest.mark.parametrize('change', [
    lambda log: log.__setitem__(0, {'replaced': True}),
    lambda log: log.update({0: {'replaced': True}}),
    lambda log: log.__ior__({0: {'replaced': True}}),
    lambda log: (log.pop(0), log[0].update({'replaced': True})),
    lambda log: (log.popitem(), log[0].update({'replaced': True})),
    lambda log: (log.clear(), log[0].update({'replaced': True})),
    lambda log: (log.__delitem__(0), log[0].update({'replaced': True})),
])
def test_current_row_sees_rows_replaced(change):
    log = TrainingLog()
    log.current_row['old'] = True
    change(log)
    assert dict(log.current_row) == {'replaced': True}


def test_status_is_a_plain_dict_of_the_instance():
    # Blocks: status is an attribute like any other.
    log = TrainingLog()
    assert type(log.status) is dict and vars(log)['status'] is log.status
    mine = {'iterations_done': 5, '_epoch_ends': []}
    log.status = mine
    assert log.status is mine
    log.current_row['at'] = 5
    mine['iterations_done'] = 6  # through a reference held elsewhere
    log.current_row['at'] = 6
    assert dict(log) == {5: {'at': 5}, 6: {'at': 6}}


def test_current_row_checks_the_time_of_a_new_row():
    log = TrainingLog()
    for bad in (-1, 1.5, 'x', None):
        log.status['iterations_done'] = bad
        with pytest.raises(ValueError):
            log.current_row
    assert dict(log) == {}


def test_default_factory_none_and_a_subclass_missing():
    log = TrainingLog()
    log.default_factory = None
    with pytest.raises(KeyError):
        log[3]
    with pytest.raises(KeyError):
        log.current_row

    class Defaults(TrainingLog):
        def __missing__(self, time):
            row = self[time] = {'made': time}
            return row
    log = Defaults()
    assert log[4] == {'made': 4} and log.current_row == {'made': 0}

    class Counting(TrainingLog):
        pass
    log = Counting()
    log.default_factory = lambda: {'fresh': True}
    assert log[2] == {'fresh': True}


def test_equality_and_hash_are_a_dicts():
    log, other = TrainingLog(), TrainingLog()
    log[1]['a'] = 1
    other[1]['a'] = 1
    assert log == other == {1: {'a': 1}}
    with pytest.raises(TypeError):
        hash(log)


def test_relative_rows_are_read_only():
    log = TrainingLog()
    for name in ('current_row', 'previous_row', 'last_epoch_row'):
        with pytest.raises(AttributeError):
            setattr(log, name, {})


def test_status_pickles_alone_as_a_dict():
    log = TrainingLog()
    status = pickle.loads(pickle.dumps(log.status))
    assert type(status) is dict and status == dict(log.status)


def test_pickle_keeps_user_attributes():
    log = TrainingLog()
    log.note = 'kept'
    log.current_row['a'] = 1
    again = pickle.loads(pickle.dumps(log))
    assert again.note == 'kept' and again == log
    assert type(again.status) is dict


@pytest.mark.parametrize('make_copy', [copy.copy, TrainingLog.copy])
def test_copy(make_copy):
    log = TrainingLog()
    log[1]['a'] = 1
    other = make_copy(log)
    assert type(other) is TrainingLog and dict(other) == dict(log)
    assert other.uuid == log.uuid
    other.status['iterations_done'] = 7
    assert log.status['iterations_done'] == 0


def test_deepcopy():
    log = TrainingLog()
    log[1]['a'] = [1]
    other = copy.deepcopy(log)
    other[1]['a'].append(2)
    assert log[1]['a'] == [1] and other.uuid == log.uuid


def test_pandas_from_dict_as_blocks_documents():
    pandas = pytest.importorskip('pandas')
    log = TrainingLog()
    log[1]['a'] = 1.0
    log[2]['b'] = 2.0
    frame = pandas.DataFrame.from_dict(log, orient='index')
    assert frame.loc[2, 'b'] == 2.0 and frame['a'].isna().tolist() == [
        False, True]


class BlocksStyle(TrainingLog):
    """A subclass that extends pickling as Blocks' own TrainingLog did."""

    def __reduce__(self):
        constructor, args, _, _, items = super(BlocksStyle, self).__reduce__()
        return constructor, (), self.__dict__, _, items


@pytest.mark.parametrize('protocol', range(pickle.HIGHEST_PROTOCOL + 1))
def test_reduce_gives_what_blocks_gave(protocol):
    log = BlocksStyle()
    log[1]['a'] = 1
    log.status['iterations_done'] = 1
    reduced = TrainingLog.__reduce__(log)
    assert len(reduced) == 5 and reduced[1] == () and reduced[3] is None
    again = pickle.loads(pickle.dumps(log, protocol=protocol))
    assert type(again) is BlocksStyle and dict(again) == {1: {'a': 1}}
    assert again.status == log.status and again.uuid == log.uuid
    with pytest.raises(ValueError):  # the times checked, as ever
        again[-1] = {}


def test_a_pickle_of_blocks_log_0_1_loads():
    # Its rows in the state of the pickle.
    state = {'status': {'iterations_done': 2}, '__rows__': {2: {'x': 1.5}}}
    data = pickle.dumps((TrainingLog, (), state))
    log = TrainingLog()
    log.__setstate__(pickle.loads(data)[2])
    assert dict(log) == {2: {'x': 1.5}} and log.status['iterations_done'] == 2
