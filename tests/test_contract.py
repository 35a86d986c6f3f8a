"""The contract of TrainingLogBase (SPEC sections 2 and 6), once, run over
every backend through the ``make_log`` fixture."""
import math
import pickle
import sys
import uuid

import pytest

import helpers
from blocks_log import TrainingLogBase
from blocks_log.errors import RowNotAvailableError


def written_rows(log):
    """The rows that hold data, as plain dicts keyed by time."""
    return dict((time, dict(log[time])) for time in sorted(log)
                if len(log[time]))


def test_base_class_is_abstract():
    with pytest.raises(TypeError):
        TrainingLogBase()


def test_base_class_declares_what_it_uses():
    # The seed's finding: Blocks' base used self.status without declaring
    # it. Row access is abstract; the status is a declared attribute that
    # a backend sets (Blocks' way) or overrides.
    assert TrainingLogBase.__abstractmethods__ == frozenset(
        ['__getitem__', '__iter__'])
    assert 'status' in vars(TrainingLogBase)


class TestNewLog:
    def test_status_defaults(self, log):
        assert dict(log.status) == {'iterations_done': 0, 'epochs_done': 0,
                                    '_epoch_ends': [], 'resumed_from': None}

    def test_uuid(self, log):
        assert isinstance(log.uuid, uuid.UUID)
        assert log.h_uuid == log.uuid.hex and len(log.h_uuid) == 32

    def test_two_logs_have_different_uuids(self, make_log):
        assert make_log().uuid != make_log().uuid

    def test_holds_no_data(self, log):
        assert written_rows(log) == {}


class TestRows:
    def test_unwritten_row_reads_empty_and_is_writable(self, log):
        assert dict(log[3]) == {}
        log[3]['loss'] = 0.5
        assert log[3]['loss'] == 0.5
        assert dict(log[3]) == {'loss': 0.5}

    def test_bytes_of_a_tag_are_values(self, log):
        # b'X' is how a deleted value is stored: a logged b'X' (one object
        # in CPython, as every one-byte bytes) read as deleted, and
        # vanished.
        values = dict(('k{}'.format(index), bytes([byte])) for index, byte
                      in enumerate(b'XBJNP'))
        log[1].update(values)
        getattr(log, 'flush', lambda: None)()
        assert dict(log[1]) == values
        assert list(log) == [1] and log.history('k0') == [(1, b'X')]

    def test_update(self, log):
        log[2].update({'a': 1, 'b': 'two'})
        log[2].update(c=3.5)
        assert dict(log[2]) == {'a': 1, 'b': 'two', 'c': 3.5}

    def test_what_a_dict_does(self, log):
        # A row of a log in memory is a dict: code written for it runs on
        # every backend.
        log[2].update({'a': 1, 'b': [2]})
        copied = log[2].copy()
        assert type(copied) is dict and copied == {'a': 1, 'b': [2]}
        copied['a'] = 'not the row\'s'
        assert log[2] | {'a': 0, 'c': 3} == {'a': 0, 'b': [2], 'c': 3}
        assert {'a': 0, 'c': 3} | log[2] == {'a': 1, 'b': [2], 'c': 3}
        assert type(log[2] | {}) is dict and type({} | log[2]) is dict
        assert list(reversed(log[2])) == list(reversed(list(log[2])))
        log[2] |= {'c': 4}
        row = log[2]
        row |= {'d': 5}
        assert row is log[2] or row == log[2]
        assert written_rows(log) == {2: {'a': 1, 'b': [2], 'c': 4, 'd': 5}}

    def test_overwrite_a_value(self, log):
        log[1]['a'] = 1
        log[1]['a'] = 2
        assert log[1]['a'] == 2

    def test_missing_key_raises_key_error(self, log):
        log[1]['a'] = 1
        with pytest.raises(KeyError):
            log[1]['b']
        assert log[1].get('b', 'default') == 'default'
        assert 'a' in log[1] and 'b' not in log[1]

    def test_rows_are_independent(self, log):
        log[1]['a'] = 1
        log[2]['a'] = 2
        assert written_rows(log) == {1: {'a': 1}, 2: {'a': 2}}

    def test_iteration_yields_written_times(self, log):
        for time in (5, 0, 3):
            log[time]['x'] = time
        assert sorted(log) == [0, 3, 5]

    @pytest.mark.parametrize('time', [-1, 1.5, 1.0, '1', None, (1,)])
    def test_invalid_time_raises_value_error(self, log, time):
        with pytest.raises(ValueError, match='non-negative integer'):
            log[time]

    def test_invalid_time_changes_nothing(self, log):
        log[1]['a'] = 1
        with pytest.raises(ValueError):
            log[-1]['a'] = 2
        assert written_rows(log) == {1: {'a': 1}}

    def test_numpy_integer_times(self, log):
        numpy = pytest.importorskip('numpy')
        log[numpy.int64(4)]['a'] = 1
        assert log[4]['a'] == 1
        assert log[numpy.uint8(4)]['a'] == 1
        assert [type(time) for time in log if len(log[time])] == [int]


class TestStatus:
    def test_what_a_dict_does(self, log):
        # The status of a log in memory is a dict: code written for it runs
        # on every backend, log.status |= values too.
        log.status |= {'custom': [1]}
        log.status['iterations_done'] += 1
        expected = dict(log.status)
        assert expected['custom'] == [1] and expected['iterations_done'] == 1
        copied = log.status.copy()
        assert type(copied) is dict and copied == expected
        copied['custom'] = 'not the status\'s'
        assert log.status | {'more': 2} == dict(expected, more=2)
        assert {'custom': 0, 'more': 2} | log.status == dict(expected, more=2)
        assert list(reversed(log.status)) == list(reversed(list(log.status)))
        copy = pickle.loads(pickle.dumps(log))
        try:
            assert dict(copy.status) == expected
        finally:
            getattr(copy, 'close', lambda: None)()

    def test_set_and_increment(self, log):
        log.status['iterations_done'] += 1
        log.status['custom'] = 'value'
        assert log.status['iterations_done'] == 1
        assert log.status['custom'] == 'value'

    def test_list_augmented_assignment_persists(self, log):
        log.status['_epoch_ends'] += [3]
        log.status['_epoch_ends'] += [7]
        assert list(log.status['_epoch_ends']) == [3, 7]

    def test_is_a_mapping(self, log):
        log.status['k'] = 1
        assert 'k' in log.status and 'nope' not in log.status
        assert log.status.get('nope', 5) == 5
        assert set(log.status) >= {'iterations_done', 'k'}


class TestRelativeRows:
    def test_current_row_follows_iterations_done(self, log):
        log.current_row['before_training'] = True
        log.status['iterations_done'] += 1
        log.current_row['loss'] = 1.0
        assert dict(log[0]) == {'before_training': True}
        assert dict(log[1]) == {'loss': 1.0}
        assert log.current_row['loss'] == 1.0

    def test_previous_row(self, log):
        log.current_row['a'] = 0
        log.status['iterations_done'] += 1
        assert log.previous_row['a'] == 0

    def test_previous_row_before_any_iteration(self, log):
        with pytest.raises(RowNotAvailableError, match='no iteration'):
            log.previous_row
        with pytest.raises(ValueError):
            log.previous_row

    def test_last_epoch_row(self, log):
        log.status['iterations_done'] = 4
        log.current_row['epoch_end'] = True
        log.status['epochs_done'] += 1
        log.status['_epoch_ends'] += [4]
        log.status['iterations_done'] = 6
        assert dict(log.last_epoch_row) == {'epoch_end': True}

    def test_last_epoch_row_before_any_epoch(self, log):
        with pytest.raises(RowNotAvailableError, match='no epoch'):
            log.last_epoch_row
        with pytest.raises(IndexError):
            log.last_epoch_row

    def test_a_row_read_before_a_commit_reads_what_is_written_after(self,
                                                                    log):
        log.current_row['a'] = 0.0
        log.status['iterations_done'] = 1  # 'a' known from now on
        row = log.current_row
        row['a'] = 1.0
        assert dict(row) == {'a': 1.0}
        log.status['iterations_done'] += 1  # commits it
        log[1]['a'] = 2.0  # as much buffered as when it was read
        assert row['a'] == 2.0 and dict(row) == {'a': 2.0}

    def test_current_row_after_status_replaced_wholesale(self, log):
        log.current_row['a'] = 0
        log.status.update({'iterations_done': 2})
        log.current_row['b'] = 2
        assert written_rows(log) == {0: {'a': 0}, 2: {'b': 2}}

    def test_current_row_while_iterations_done_is_no_time(self, log):
        # Never the row of the time before: a write there would land at
        # the wrong time without an error.
        log.status['iterations_done'] = 3
        log.current_row['a'] = 1
        for value in (-1, 'x'):
            log.status['iterations_done'] = value
            with pytest.raises(ValueError):
                log.current_row
        del log.status['iterations_done']
        with pytest.raises(KeyError):
            log.current_row
        log.status['iterations_done'] = 5
        log.current_row['b'] = 2
        assert written_rows(log) == {3: {'a': 1}, 5: {'b': 2}}

    def test_current_row_cannot_be_set_or_deleted(self, log):
        log.current_row['a'] = 1
        log.status['iterations_done'] += 1
        log.current_row['b'] = 2
        with pytest.raises(AttributeError):
            log.current_row = {}
        with pytest.raises(AttributeError):
            del log.current_row
        assert dict(log.current_row) == {'b': 2}


class TestResume:
    def test_new_uuid_and_lineage(self, log):
        log.status['iterations_done'] = 3
        old = log.h_uuid
        log.resume()
        assert log.h_uuid != old
        assert log.status['resumed_from'] == old
        assert log.status['iterations_done'] == 3

    def test_rows_stay_readable(self, log):
        log[1]['a'] = 1
        log.resume()
        log[2]['a'] = 2
        assert written_rows(log) == {1: {'a': 1}, 2: {'a': 2}}

    def test_overwrite_after_resume(self, log):
        log[1]['a'] = 1
        log.resume()
        log[1]['a'] = 'new'
        assert log[1]['a'] == 'new'

    def test_a_lineage_deeper_than_a_statement_joins(
            self, make_log, monkeypatch):
        # A checkpoint (a pickle) begins a run, and Blocks checkpoints
        # each epoch: a lineage hundreds of runs deep. SQLite joins at most
        # 500 SELECTs in a statement, and builds before 3.32 bind at most
        # 999 values; with both limits lowered, 30 runs pass them.
        helpers.lower_sqlite_limits(monkeypatch, compound_selects=3,
                                    variables=20)
        log = make_log()
        model = {}

        def write(time, key, value):
            log[time][key] = value
            model.setdefault(time, {})[key] = value
        for epoch in range(30):
            log.status['iterations_done'] += 1
            write(log.status['iterations_done'], 'loss', epoch / 4)
            write(log.status['iterations_done'], 'step', epoch)
            if epoch % 7 == 6:  # a value of an ancestor, anew
                write(epoch // 2, 'loss', 'again {}'.format(epoch))
            if epoch == 20:  # a value of an ancestor, deleted
                del log[3]['step']
                del model[3]['step']
            log.status['epochs_done'] += 1
            log.status['_epoch_ends'] += [log.status['iterations_done']]
            if epoch % 2:
                pickle.dumps(log)
            else:
                log.resume()
        log.current_row['end'] = True
        model[30]['end'] = True
        for read in (log, pickle.loads(pickle.dumps(log))):
            assert written_rows(read) == model
            assert len(read) == len(model)
            assert [3 in read, 31 in read] == [True, False]
            assert dict(read.previous_row) == model[29]
            assert dict(read.last_epoch_row) == model[30]
            assert read[11].get('loss') == model[11]['loss']
            assert read.last_time() == 30
            assert sorted(read.records(), key=lambda item: item[:2]) == [
                (time, key, value) for time in sorted(model)
                for key, value in sorted(model[time].items())]

    def test_a_read_of_more_keys_than_a_statement_binds(
            self, make_log, monkeypatch):
        # A log of each layer's norms holds thousands of keys, and a
        # statement binds at most 999 values before SQLite 3.32: lowered
        # to 20, 30 keys pass it.
        helpers.lower_sqlite_limits(monkeypatch, compound_selects=3,
                                    variables=20)
        log = make_log()
        keys = ['norm {}'.format(index) for index in range(30)]
        for time in range(1, 13):
            for index, key in enumerate(keys):
                log[time][key] = time * 100 + index
        log.status['iterations_done'] = 13
        for read in (log, pickle.loads(pickle.dumps(log))):
            assert dict((key, (list(times), list(values))) for key, (
                times, values) in read.series(keys, start=2).items()) == dict(
                (key, (list(range(2, 13)), [time * 100 + index for time in
                                            range(2, 13)]))
                for index, key in enumerate(keys))


class TestPickling:
    @pytest.mark.parametrize('protocol',
                             range(pickle.HIGHEST_PROTOCOL + 1))
    def test_round_trip(self, log, protocol):
        log.current_row['before_training'] = True
        log.status['iterations_done'] += 1
        log.current_row['loss'] = 0.25
        log.status['_epoch_ends'] += [1]
        rows, status, uuid = written_rows(log), dict(log.status), log.uuid
        copy = pickle.loads(pickle.dumps(log, protocol))
        try:
            assert type(copy) is type(log)
            assert copy.uuid == uuid
            assert written_rows(copy) == rows
            assert dict(copy.status) == status
            with pytest.raises(ValueError):
                copy[-1]
            copy.status['iterations_done'] += 1
            copy.current_row['loss'] = 0.125
            assert copy[2]['loss'] == 0.125
        finally:
            getattr(copy, 'close', lambda: None)()

    def test_pickling_a_resumed_log(self, log):
        log[0]['a'] = 1
        log.resume()
        copy = pickle.loads(pickle.dumps(log))
        try:
            assert copy.status['resumed_from'] is not None
            assert written_rows(copy) == {0: {'a': 1}}
        finally:
            getattr(copy, 'close', lambda: None)()


class TestAnalysis:
    def fill(self, log):
        log[0]['before'] = True
        for time in range(1, 5):
            log[time]['loss'] = 1.0 / time
        log[3]['valid'] = 0.5
        log[4]['valid'] = 0.25

    def test_series_of_every_key_holds_those_in_the_range(self, log):
        # Keys logged now and then, near a range that holds none of their
        # values (a store reads their block): not in the series.
        log[0]['first'] = 'only at 0'
        for time in range(1, 40):
            log.status['iterations_done'] = time
            if time % 3 == 0:
                log.current_row['every_3'] = float(time)
            if time % 7 == 0:
                log.current_row['every_7'] = time
        log.status['iterations_done'] += 1
        assert dict((key, list(times)) for key, (times, _) in
                    log.series(None, 0, 3).items()) == {'first': [0]}
        assert list(log.series(None, 4, 6)) == []
        assert dict((key, list(times)) for key, (times, _) in log.series(
            None, 5, 10).items()) == {'every_3': [6, 9], 'every_7': [7]}
        assert list(log.series(['every_7'], 0, 3)['every_7'][0]) == []

    def test_series_of_some_keys_holds_those_only(self, log):
        # An iteration's floats, committed together (one batch of a store):
        # a read of some of its keys gives those, at their values.
        for time in range(1, 6):
            log.status['iterations_done'] = time
            log.current_row.update({'a': time * 1.0, 'b': -time * 1.0,
                                    'c': time / 4.0})
        log.status['iterations_done'] += 1
        found = log.series(['c', 'a'])
        assert list(found) == ['c', 'a']
        assert [list(times) for times, _ in found.values()] == [
            list(range(1, 6))] * 2
        assert list(found['c'][1]) == [time / 4.0 for time in range(1, 6)]
        assert list(found['a'][1]) == [time * 1.0 for time in range(1, 6)]
        assert log.history('b') == [(time, -time * 1.0)
                                    for time in range(1, 6)]

    def test_records_in_time_order(self, log):
        log[2]['b'] = 2
        log[1]['a'] = 1
        log[1]['c'] = 3
        assert sorted(log.records()) == [(1, 'a', 1), (1, 'c', 3),
                                         (2, 'b', 2)]
        assert [time for time, _, _ in log.records()] == [1, 1, 2]

    def test_history(self, log):
        self.fill(log)
        assert log.history('valid') == [(3, 0.5), (4, 0.25)]
        assert log.history('unknown') == []

    def test_dataframe(self, log):
        pytest.importorskip('pandas')
        self.fill(log)
        frame = log.to_dataframe()
        assert list(frame.index) == [0, 1, 2, 3, 4]
        assert frame.index.name == 'time'
        assert set(frame.columns) == {'before', 'loss', 'valid'}
        assert frame['valid'].isna().tolist() == [True, True, True, False,
                                                  False]
        assert frame.loc[4, 'loss'] == 0.25

    def test_dataframe_selection(self, log):
        pytest.importorskip('pandas')
        self.fill(log)
        frame = log.to_dataframe(keys=['valid', 'loss'], start=2, stop=4)
        assert list(frame.columns) == ['valid', 'loss']
        assert list(frame.index) == [2, 3]
        only_valid = log.to_dataframe(keys=['valid'])
        assert list(only_valid.index) == [3, 4]

    def test_a_range_past_every_time_a_store_holds(self, log):
        # As range() takes any int: a bound past 2 ** 63 is no bound, not
        # an int that SQL refuses.
        self.fill(log)
        past = 10 ** 23
        assert log.series(start=past) == {}
        assert log.last_time(past) is None and log.last_time(0, past) == 4
        assert [list(times) for times, _ in log.series(
            ['loss'], 0, past).values()] == [[1, 2, 3, 4]]

    def test_numpy_ints_as_bounds(self, log):
        # As np.argmax() gives them; SQL took one for a BLOB, past every
        # time: an empty answer, silently.
        numpy = pytest.importorskip('numpy')
        self.fill(log)
        log.flush()  # read from the store, not the buffer
        start, stop = numpy.int64(2), numpy.uint64(4)
        assert [list(times) for times, _ in log.series(
            ['loss'], start, stop).values()] == [[2, 3]]
        assert log.last_time(start, stop) == 3
        assert sorted(set(time for time, _, _ in log.records(
            start, stop))) == [2, 3]
        if 'pandas' in sys.modules:
            assert list(log.to_dataframe(start=start, stop=stop).index) == [
                2, 3]

    def test_dataframe_of_a_range_past_every_time(self, log):
        pytest.importorskip('pandas')
        self.fill(log)
        past = 10 ** 23
        assert len(log.to_dataframe(start=past, stop=past + 1).index) == 0
        assert list(log.to_dataframe(stop=past).index) == [0, 1, 2, 3, 4]

    def test_dataframe_unknown_key_is_an_empty_column(self, log):
        pytest.importorskip('pandas')
        self.fill(log)
        frame = log.to_dataframe(keys=['loss', 'typo'])
        assert frame['typo'].isna().all()

    def test_dataframe_keeps_each_number_logged(self, log):
        # pandas makes a column of numbers with gaps, or of ints and
        # floats, float64: past 2 ** 53, an int would read back rounded.
        pytest.importorskip('pandas')
        import numpy
        seed = 2 ** 60 + 1
        log[1]['seed'] = seed  # once: a gap at every other time
        log[2]['numpy'] = numpy.int64(seed)
        log[1]['ints'] = 2 ** 53 + 1
        log[2]['ints'] = 0.5  # ints and floats, no gap
        log[1]['small'] = 3  # in a float's range: float, as from_dict
        log[1]['huge'] = 1e300
        log[2]['huge'] = float('inf')
        log[2]['every'] = -2 ** 62 - 1  # no gap: ints stay int64
        log[1]['every'] = 2 ** 62 + 1
        frame = log.to_dataframe()
        assert frame['seed'].dtype == object
        assert frame.at[1, 'seed'] == seed and type(frame.at[1, 'seed']) is (
            int)
        assert math.isnan(frame.at[2, 'seed'])
        assert frame['numpy'].dtype == object
        assert int(frame.at[2, 'numpy']) == seed
        assert frame['ints'].tolist() == [2 ** 53 + 1, 0.5]
        assert frame['small'].dtype == 'float64'
        assert frame['huge'].dtype == 'float64'
        assert frame['every'].dtype == 'int64'
        assert frame['every'].tolist() == [2 ** 62 + 1, -2 ** 62 - 1]
        only = log.to_dataframe(keys=['seed', 'seed'], start=1, stop=2)
        assert list(only.columns) == ['seed'] and only.at[1, 'seed'] == seed

    def test_dataframe_bad_arguments(self, log):
        with pytest.raises(TypeError, match='single string'):
            log.to_dataframe(keys='loss')
        with pytest.raises(ValueError, match='start'):
            log.to_dataframe(start=-1)
        with pytest.raises(ValueError, match='stop'):
            log.to_dataframe(stop=2.5)

    def test_dataframe_without_pandas(self, log, monkeypatch):
        monkeypatch.setitem(sys.modules, 'pandas', None)
        log[1]['a'] = 1
        with pytest.raises(ImportError, match=r'blocks-log\[pandas\]'):
            log.to_dataframe()
        assert log.history('a') == [(1, 1)]


class TestBlocksWays:
    def test_epoch_ends_as_a_numpy_array(self, log):
        numpy = pytest.importorskip('numpy')
        log[7]['end'] = True
        log.status['_epoch_ends'] = numpy.array([3, 7])
        assert dict(log.last_epoch_row) == {'end': True}
        log.status['_epoch_ends'] = numpy.array([], dtype=int)
        with pytest.raises(RowNotAvailableError):
            log.last_epoch_row

    def test_deleting_from_a_row(self, log):
        log[1].update({'a': 1, 'b': 2, 'c': 3})
        del log[1]['a']
        assert log[1].pop('b') == 2
        assert dict(log[1]) == {'c': 3}
        with pytest.raises(KeyError):
            del log[1]['a']
        log[1].clear()
        assert written_rows(log) == {}

    def test_equality_is_that_of_a_mapping(self, make_log):
        one, two = make_log(), make_log()
        one[1]['a'] = 1
        two[1]['a'] = 1
        assert one == two and one == {1: {'a': 1}}
        two[1]['a'] = 2
        assert one != two
        with pytest.raises(TypeError):
            hash(one)

    def test_a_status_value_changed_in_place(self, log):
        log.status['_epoch_ends'].append(3)
        log.status['iterations_done'] += 1
        assert list(log.status['_epoch_ends']) == [3]

    @pytest.mark.parametrize('value', [-1, 2 ** 63 - 1, 2 ** 64])
    def test_iterations_done_past_every_time_of_a_row(self, log, value):
        # No row has such a time, and the status keeps it as it is.
        log.status['iterations_done'] = value
        copy = pickle.loads(pickle.dumps(log))
        try:
            done = copy.status['iterations_done']
            assert done == value and type(done) is int
        finally:
            getattr(copy, 'close', lambda: None)()

    def test_a_mutable_status_value_in_a_pickle(self, log):
        log.status['_epoch_ends'].append(3)
        copy = pickle.loads(pickle.dumps(log))
        try:
            assert list(copy.status['_epoch_ends']) == [3]
        finally:
            getattr(copy, 'close', lambda: None)()


class TestValuesChangedInPlace:
    """A list, dict or array read from a row is the row's, as a dict's
    value is: changed in place, the log holds the change (a database log's
    next commit stores it)."""

    def committed(self, log):
        # What a checkpoint of the log holds, once its iteration is done.
        log.status['iterations_done'] += 1
        copy = pickle.loads(pickle.dumps(log))
        try:
            return written_rows(copy)
        finally:
            getattr(copy, 'close', lambda: None)()

    def test_a_list_or_dict_read_from_a_row_and_changed(self, log):
        log.current_row.setdefault('events', []).append('start')
        log.current_row['events'].append('end')
        assert log.current_row['events'] is log.current_row['events']
        log[0]['nested'] = {'best': [1]}
        log[0].get('nested')['best'].append(2)
        log[0]['pair'] = (1, [2])
        log[0]['pair'][1].append(3)
        expected = {0: {'events': ['start', 'end'], 'nested': {
            'best': [1, 2]}, 'pair': (1, [2, 3])}}
        assert written_rows(log) == expected and log[0] == expected[0]
        assert list(log.records()) == [(0, key, value) for key, value in
                                       log[0].items()]
        assert log.history('events') == [(0, ['start', 'end'])]
        # Still the row's, after reads that found it changed.
        events = log.current_row['events']
        events.append('again')
        assert log.history('events') == [(0, ['start', 'end', 'again'])]
        events.append('end')
        assert log.current_row['events'] is events
        expected[0]['events'] += ['again', 'end']
        assert self.committed(log) == expected
        # A row of before, after its commit.
        log[0]['events'].append('late')
        expected[0]['events'].append('late')
        assert self.committed(log) == expected

    def test_a_list_held_across_iterations(self, log):
        events = log.current_row.setdefault('events', [])
        for time in range(1, 6):
            events.append(time)
            log.status['iterations_done'] = time
        assert self.committed(log) == {0: {'events': [1, 2, 3, 4, 5]}}

    def test_an_array_changed_in_place(self, log):
        numpy = pytest.importorskip('numpy')
        log.current_row['weights'] = numpy.zeros(3)
        log.current_row['weights'][1] = 5
        committed = self.committed(log)
        assert committed[0]['weights'].tolist() == [0, 5, 0]

    def test_a_write_or_deletion_after_wins(self, log):
        log[0]['events'] = []
        events = log[0]['events']
        log[0]['events'] = ['set']
        events.append('not the row\'s')
        held = log[1].setdefault('gone', [])
        del log[1]['gone']
        held.append('not the row\'s')
        expected = {0: {'events': ['set']}}
        assert written_rows(log) == expected
        assert self.committed(log) == expected
        events.append('still not')
        assert self.committed(log) == expected
        # Read with values waiting in the buffer, and written over after
        # they were committed.
        log[5]['loss'] = 1.0
        events = log[0]['events']
        log.status['iterations_done'] += 1
        log[0]['events'] = ['set again']
        events.append('not the row\'s')
        expected = {0: {'events': ['set again']}, 5: {'loss': 1.0}}
        assert self.committed(log) == expected


class BlocksStyleLog(TrainingLogBase):
    """A backend written Blocks' way: it sets self.status itself."""

    def __init__(self, uuid=None):
        self.rows = {}
        self.status = {}
        super(BlocksStyleLog, self).__init__(uuid)

    def __getitem__(self, time):
        return self.rows.setdefault(self._check_time(time), {})

    def __iter__(self):
        return iter(self.rows)


def test_a_backend_written_blocks_way():
    log = BlocksStyleLog()
    assert log.status['iterations_done'] == 0
    log.current_row['a'] = 1
    log.status['iterations_done'] += 1
    assert log.previous_row == {'a': 1}
    log.resume()
    assert log.status['resumed_from'] is not None
