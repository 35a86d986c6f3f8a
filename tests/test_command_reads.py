"""What the command line writes of a run, against a plain dict of what was
logged: ``export`` (CSV, JSON Lines, one record per value), ``show
--json`` and ``compare --json``, of random values of every kind a store
keeps (NaN, inf and -0.0, ints past 2 ** 63, texts holding commas, quotes
and line breaks, numpy's scalars), under sparse keys, over a lineage of
resumes, read a window of any size at a time (so across block edges)."""
import csv
import io
import json
import math
import os

import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from blocks_log import SQLiteLog, tables
from test_cli import run_cli

KEYS = st.sampled_from(['loss', 'acc', 'a,b', 'q"t', 'n\nl'])
FLOATS = st.floats() | st.sampled_from(
    [-0.0, float('nan'), float('inf'), -float('inf'), 2.0 ** 53 + 2])
# Small numbers again and again: smallest and largest tie.
PLAIN = [FLOATS, st.integers(), st.integers(2 ** 62, 2 ** 70),
         st.sampled_from([0, 1, 2.5]),
         st.booleans(), st.text(max_size=6), st.none(),
         st.tuples(st.integers(-5, 5), st.text(max_size=2))]
try:
    import numpy
except ImportError:  # the bare environment: no numpy scalars
    VALUES = st.one_of(*PLAIN)
else:
    VALUES = st.one_of(*PLAIN + [
        st.floats(width=32).map(numpy.float32),
        st.integers(-2 ** 40, 2 ** 40).map(numpy.int64)])
TIMES = st.integers(0, 40) | st.integers(0, 3000)
#: A run's writes: scattered (of few values, as often: they tie), or a
#: key over a range of times (packed).
WRITES = st.lists(st.tuples(TIMES, KEYS, VALUES), max_size=40) | st.lists(
    st.tuples(TIMES, KEYS, st.sampled_from([0, 1, 2.5])), max_size=20) | (
        st.builds(
            lambda start, count, key: [
                (time, key, time * 0.5)
                for time in range(start, start + count)],
            st.integers(0, 2000), st.integers(0, 700), KEYS))


def same(read, logged):
    """Whether `read` is `logged` (NaN as NaN, -0.0 as -0.0, types too)."""
    if type(read) is float and type(logged) is float:
        if math.isnan(logged):
            return math.isnan(read)
        return read == logged and (math.copysign(1, read) ==
                                   math.copysign(1, logged))
    return type(read) is type(logged) and read == logged


def plain(value):
    """`value` as a store gives it back: a numpy scalar as its number."""
    return value.item() if type(value).__module__ == 'numpy' else value


def as_json(value):
    """`value` as JSON holds it, as README says: a tuple as a list."""
    return [as_json(item) for item in value] if (
        type(value) is tuple) else value


def csv_cell_holds(cell, value):
    """Whether the CSV `cell` holds `value`, as README says: a float
    exactly (NaN and inf as such), an int's digits, a text as it is, a
    tuple as JSON, None as nothing."""
    if type(value) is float:
        return same(float(cell), value) and cell.lower() not in ('', 'none')
    if type(value) is int:
        return int(cell) == value
    if type(value) is tuple:
        return json.loads(cell) == as_json(value)
    return cell == ('' if value is None else str(value))


def logged_runs(path, runs, every):
    """Write `runs` (lists of (time, key, value)), each resumed from the
    one before, into a log of `path`; the last run's uuid and the dict of
    what its lineage holds (time -> key -> value, as a store keeps it)."""
    model = {}
    with SQLiteLog(path, commit_every=every) as log:
        for index, writes in enumerate(runs):
            if index:
                log.resume()
            for time, key, value in writes:
                log[time][key] = value
                model.setdefault(time, {})[key] = plain(value)
    return log.h_uuid, model


@settings(max_examples=int(os.environ.get('BLOCKS_LOG_MODEL_EXAMPLES', 50)),
          deadline=None, suppress_health_check=list(HealthCheck))
@given(runs=st.lists(WRITES, min_size=1, max_size=3),
       window=st.integers(1, 30), every=st.integers(1, 7))
def test_commands_write_what_a_dict_holds(tmp_path_factory, runs, window,
                                          every):
    path = str(tmp_path_factory.mktemp('commands') / 'log.sqlite')
    uuid, model = logged_runs(path, runs, every)
    keys = set(key for row in model.values() for key in row)
    json_rows = dict((time, dict((key, as_json(value))
                                 for key, value in row.items()))
                     for time, row in model.items())
    saved = tables.WINDOW_VALUES
    tables.WINDOW_VALUES = window
    try:
        outputs = dict((form, run_cli('export', path, uuid, *form))
                       for form in (('--format', 'jsonl'),
                                    ('--format', 'csv'),
                                    ('--format', 'jsonl', '--long')))
        outputs['show'] = run_cli('show', path, uuid, '--json')
        outputs['compare'] = run_cli('compare', path, uuid, '--json')
    finally:
        tables.WINDOW_VALUES = saved
    assert set(status for status, _ in outputs.values()) == {0}

    for form in (('--format', 'jsonl'), 'show'):
        text = outputs[form][1]
        read = [json.loads(line) for line in text.splitlines()] if (
            form != 'show') else json.loads(text)
        read = dict((row.pop('time'), row) for row in read)
        assert sorted(read) == sorted(json_rows), form
        for time, row in json_rows.items():
            assert sorted(read[time]) == sorted(row), (form, time)
            for key, value in row.items():
                assert same(read[time][key], value), (form, time, key)

    lines = list(csv.reader(io.StringIO(outputs['--format', 'csv'][1])))
    header = lines[0]
    assert header[0] == 'time' and sorted(header[1:]) == sorted(keys)
    assert [int(line[0]) for line in lines[1:]] == sorted(model)
    for line in lines[1:]:
        row = model[int(line[0])]
        for key, cell in zip(header[1:], line[1:]):
            if key in row:
                assert csv_cell_holds(cell, row[key]), (line[0], key, cell)
            else:
                assert cell == ''

    records = [json.loads(line) for line in
               outputs['--format', 'jsonl', '--long'][1].splitlines()]
    assert [(record['time'], record['run']) for record in records] == [
        (time, uuid) for time in sorted(model) for _ in model[time]]
    for record in records:
        assert same(record['value'],
                    json_rows[record['time']][record['key']]), record

    summaries = dict((summary['key'], summary)
                     for summary in json.loads(outputs['compare'][1]))
    assert sorted(summaries) == sorted(keys)
    for key, summary in summaries.items():
        column = sorted((time, row[key]) for time, row in model.items()
                        if key in row)
        numbers = [(value, time) for time, value in column
                   if type(value) in (int, float) and value == value]
        smallest = min(numbers) if numbers else (None, None)
        largest = max(numbers, key=lambda pair: (pair[0], -pair[1])) if (
            numbers) else (None, None)
        expected = {'count': len(column), 'first_time': column[0][0],
                    'last_time': column[-1][0], 'min_time': smallest[1],
                    'max_time': largest[1]}
        assert dict((name, summary[name]) for name in expected) == expected
        for name, value in (('last', column[-1][1]), ('min', smallest[0]),
                            ('max', largest[0])):
            assert same(summary[name], as_json(value)), (key, name)


@pytest.mark.parametrize('window', [1, 7])
def test_an_example_across_block_edges(tmp_path_factory, window):
    # One example always run: a key over three blocks, sparse keys, a
    # resume that writes over part of it, smallest and largest tied.
    test_commands_write_what_a_dict_holds.hypothesis.inner_test(
        tmp_path_factory,
        [[(time, 'loss', time * 0.5) for time in range(200, 800)],
         [(0, 'acc', float('nan')), (513, 'loss', -0.0), (5, 'acc', 2.5),
          (6, 'acc', 0), (8, 'acc', 0), (9, 'acc', 2.5),
          (700, 'a,b', 'x,"y"\nz'), (3000, 'q"t', 2 ** 64)]],
        window, 3)
