"""Data frames hold each number as it was logged: ``to_dataframe`` on the
in-memory and the SQLite log, and ``runs.runs_dataframe``, wide and long,
against a plain dict, over random sparse rows of ints (past a float's 53
bits too), floats, NaN and inf.

pandas makes a column of numbers with gaps, or of ints and floats, float64;
an int past 2 ** 53 (a seed, a hash, a count of bytes) would then read back
as another number, without an error.

"""

import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from blocks_log import SQLiteLog, TrainingLog, runs

from conftest import backend_factories, use_backend
from test_contract import BlocksStyleLog
from test_reads import holds

pandas = pytest.importorskip('pandas')

KEYS = ['seed', 'loss', 'count']
NUMBERS = st.one_of(
    st.integers(min_value=-2 ** 63, max_value=2 ** 63 - 1),
    st.integers(min_value=2 ** 63, max_value=2 ** 70),
    st.floats(allow_nan=True, allow_infinity=True),
    st.sampled_from([0, 1, 0.5, 2 ** 53, 2 ** 53 + 1, -2 ** 53 - 1,
                     2 ** 60 + 1, 2 ** 63 - 1]))
ROWS = st.lists(st.dictionaries(st.sampled_from(KEYS), NUMBERS, max_size=3),
                min_size=1, max_size=12)


def model_of(rows):
    return dict((time, row) for time, row in enumerate(rows) if row)


def check_frame(frame, model):
    assert list(frame.index) == sorted(model)
    for time, row in model.items():
        for key in frame.columns:
            assert holds(frame.at[time, key], row.get(key)), (
                time, key, frame.at[time, key], row.get(key))


@pytest.mark.parametrize('backend', ['python', 'sqlite-chunked', 'base'])
def test_a_frame_holds_each_number_logged(backend, tmp_path_factory,
                                          monkeypatch, request):
    # 'base': TrainingLogBase's own to_dataframe, of a backend that has none.
    use_backend(backend, monkeypatch, request)

    @settings(max_examples=100, deadline=None,
              suppress_health_check=list(HealthCheck))
    @given(ROWS)
    def test(rows):
        factories = backend_factories(tmp_path_factory.mktemp('frames'))
        factories['base'] = BlocksStyleLog
        log = factories[backend]()
        try:
            for time, row in enumerate(rows):
                for key, value in row.items():
                    log[time][key] = value
            check_frame(log.to_dataframe(), model_of(rows))
        finally:
            getattr(log, 'close', lambda: None)()
    test()


@settings(max_examples=60, deadline=None,
          suppress_health_check=list(HealthCheck))
@given(st.lists(ROWS, min_size=1, max_size=3))
def test_the_frames_of_runs_hold_each_number_logged(tmp_path_factory, plans):
    path = str(tmp_path_factory.mktemp('runs') / 'runs.sqlite')
    models = {}
    for rows in plans:
        with SQLiteLog(path) as log:
            for time, row in enumerate(rows):
                for key, value in row.items():
                    log[time][key] = value
            models[log.h_uuid] = model_of(rows)
    wide = runs.runs_dataframe(path)
    assert wide.index.names == ['run', 'time']
    for uuid, model in models.items():
        if model:
            check_frame(wide.loc[uuid], model)
    long = runs.runs_dataframe(path, long=True)
    assert list(long.columns) == ['run', 'time', 'key', 'value']
    records = list(long.itertuples(index=False))
    assert sorted((run, time, key) for run, time, key, _ in records) == (
        sorted((uuid, time, key) for uuid, model in models.items()
               for time, row in model.items() for key in row))
    for run, time, key, value in records:
        assert holds(value, models[run][time][key]), (run, time, key, value)


def test_a_column_of_ints_in_one_run_only_keeps_them(tmp_path):
    # Exact in each run's frame (int64, no gap), then missing in another
    # run's: the frame of both would make the column float.
    path = str(tmp_path / 'runs.sqlite')
    with SQLiteLog(path) as first:
        for time in range(3):
            first[time]['seed'] = 2 ** 60 + time
    with SQLiteLog(path) as second:
        second[0]['loss'] = 0.5
    wide = runs.runs_dataframe(path)
    assert wide['seed'].dtype == object
    assert wide.loc[first.h_uuid]['seed'].tolist() == [
        2 ** 60, 2 ** 60 + 1, 2 ** 60 + 2]
    assert wide.loc[second.h_uuid]['seed'].isna().all()
    only_first = runs.runs_dataframe(path, runs=[first.h_uuid])
    assert only_first['seed'].dtype == 'int64'


@pytest.mark.parametrize('kind', ['python', 'base'])
def test_a_time_past_an_int64_is_named(kind):
    # A log in memory takes any int as a time; a frame's index does not.
    log = {'python': TrainingLog, 'base': BlocksStyleLog}[kind]()
    log[1]['a'] = 1
    log[2 ** 63]['a'] = 2
    with pytest.raises(OverflowError, match=r'time 9223372036854775808 is '
                       r'past .*\(int64'):
        log.to_dataframe()
    assert list(log.to_dataframe(stop=2 ** 63)['a']) == [1]
    assert len(log.to_dataframe(start=2 ** 63 - 1, stop=2 ** 63).index) == 0
