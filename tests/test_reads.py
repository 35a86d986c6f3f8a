"""Every read against a plain dict: random mixes of ints, floats, NaN and
inf, big ints and strings, sparse keys, late writes into past rows and
resumed runs, across block edges (four times a block, so that most values
are read from chunks), on SQLite and PostgreSQL (issue 19).

A wrong number read back without an error is the worst defect there is:
``history``, ``series`` and ``to_dataframe`` over random ranges,
``records``, ``log[t]``, ``len`` and iteration, ``blocks-log export``
(CSV, JSON Lines, a record per value), ``blocks-log show --json`` and
``runs.compare`` are each checked against the dict the same writes make,
through the writer and through a reader of its own.

"""
import csv
import io
import json
import math
import time as time_module

import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from blocks_log import SQLiteLog, cli, runs, tables
from blocks_log.sources import Source
from blocks_log.stores import batches, chunks, packing, run_packing
from blocks_log.web import data

import helpers
from conftest import (SMALL_LARGE_VALUE, SMALL_REST_BATCH, SMALL_ROWS_AT_ONCE,
                      backend_factories, use_backend)

#: Times per block: small, so that a run of a few dozen iterations crosses
#: many block edges and most values are read from chunks.
SPAN = 4
KEYS = ['loss', 'acc', 'lr', 'rare', 'alternating']
NUMBERS = st.one_of(
    st.integers(min_value=-2 ** 63, max_value=2 ** 63 - 1),
    st.floats(allow_nan=True, allow_infinity=True),
    st.sampled_from([0, 1, 0.0, 0.37, -0.0, float('nan')]))
VALUES = st.one_of(
    NUMBERS, NUMBERS, NUMBERS, NUMBERS,
    st.integers(min_value=2 ** 63, max_value=2 ** 70),  # a JSON row
    # A text a CSV file quotes (a comma, a quote, a line break).
    st.sampled_from(['text', 'a,"b"\nc', None]))
#: A training loop's iteration: the same keys each time, floats only (the
#: commits that packing slices without looking at a value), NaN and the
#: infinities among them (buffered as floats, as any float).
STEADY = st.fixed_dictionaries(dict(
    (key, st.floats(allow_nan=True, allow_infinity=True))
    for key in KEYS[:3]))
#: What an iteration logs of the first keys.
ITERATION_VALUES = st.one_of(st.dictionaries(st.sampled_from(KEYS[:3]),
                                             VALUES, max_size=3),
                             STEADY, STEADY)
ITERATION = st.fixed_dictionaries({
    'values': ITERATION_VALUES,
    # A key logged now and then, and writes into past rows.
    'rare': st.one_of(st.none(), st.none(), st.none(), VALUES),
    'late': st.lists(st.tuples(st.integers(0, 40), st.sampled_from(KEYS),
                               VALUES), max_size=1),
    'resume': st.integers(0, 11).map(lambda number: number == 0),
    # Closed and opened again: the run's last block left by another
    # handle, packed from the database.
    'reopen': st.integers(0, 11).map(lambda number: number == 0),
    # With commit_seconds: the commit timer's thread commits the
    # iterations completed, and leaves the one being written.
    'timer': st.integers(0, 3).map(lambda number: number == 0),
})
#: A plan's commit_seconds: none, or an hour (the timer's commits are
#: made when a step says, see write()).
COMMIT_SECONDS = st.sampled_from([None, None, 3600])
try:
    import numpy
except ImportError:
    numpy = None
#: A bound of a range read: None, an int, or a numpy int (as np.argmax()
#: gives one).
BOUNDS = st.one_of(st.none(), st.integers(0, 45), *(
    [st.integers(0, 45).map(numpy.int64)] if numpy is not None else []))
PLANS = st.fixed_dictionaries({
    'iterations': st.lists(ITERATION, min_size=1, max_size=40),
    'commit_every': st.sampled_from([1, 1, 3, 50]),
    'commit_seconds': COMMIT_SECONDS,
    # A metric that is 0 at one iteration and 0.37 at the next: ints and
    # floats interleaved in each block.
    'alternate': st.booleans(),
    'ranges': st.lists(st.tuples(BOUNDS, BOUNDS), max_size=3),
})
#: The last time a log takes, and where a far plan stops leaping.
LAST_TIME = 2 ** 63 - 2
#: How far the next iteration is: most often the next one, else across a
#: block, or far: past 32 and 53 bits (a time a float, or a JavaScript
#: number, holds no more), to near the last time a log takes.
GAPS = st.one_of(st.just(1), st.just(1), st.sampled_from(
    [2, SPAN - 1, SPAN + 1, 2 ** 20 + 3, 2 ** 32 + 1, 2 ** 53 + 1, 2 ** 58,
     2 ** 62, LAST_TIME]))
#: A place near a time the plan logged at: the index of the time among
#: them (modulo their count) and how far from it.
NEAR = st.tuples(st.integers(0, 40), st.sampled_from([-1, 0, 0, 1, SPAN]))
FAR_PLANS = st.fixed_dictionaries({
    'iterations': st.lists(st.fixed_dictionaries({
        'values': ITERATION_VALUES,
        'rare': st.one_of(st.none(), VALUES),
        'late': st.lists(st.tuples(NEAR, st.sampled_from(KEYS), VALUES),
                         max_size=1),
        'gap': GAPS,
        'resume': st.integers(0, 11).map(lambda number: number == 0),
        'reopen': st.integers(0, 11).map(lambda number: number == 0),
        'timer': st.integers(0, 3).map(lambda number: number == 0),
    }), min_size=1, max_size=25),
    'commit_every': st.sampled_from([1, 1, 3, 50]),
    'commit_seconds': COMMIT_SECONDS,
    'alternate': st.booleans(),
    'ranges': st.lists(st.tuples(st.one_of(st.none(), NEAR),
                                 st.one_of(st.none(), NEAR)), max_size=3),
})


def same(a, b):
    """Equal and of the same type, NaN equal to NaN, -0.0 not 0.0."""
    if type(a) is not type(b):
        return False
    if isinstance(a, float):
        return (math.isnan(a) and math.isnan(b)) or (
            a == b and math.copysign(1, a) == math.copysign(1, b))
    return a == b


def write(opened, plan, reopen):
    """Carry out `plan` on the log last in the list `opened`, to which a
    step that reopens it appends ``reopen(uuid)``; return the dict it must
    then hold."""
    model = {}
    for step in plan['iterations']:
        log = opened[-1]
        time = log.status['iterations_done'] + step.get('gap', 1)
        if time > LAST_TIME:
            break  # no time left in the log
        log.status['iterations_done'] = time
        values = dict(step['values'])
        if plan['alternate']:
            values['alternating'] = time % 7 if time % 2 else time * 0.37
        if step['rare'] is not None:
            values['rare'] = step['rare']
        for key, value in values.items():
            log.current_row[key] = value
            model.setdefault(time, {})[key] = value
        for late, key, value in step['late']:
            if isinstance(late, tuple):
                late = near(model, late)
            log[late][key] = value
            model.setdefault(late, {})[key] = value
        if step['timer'] and plan['commit_seconds']:
            # As the thread does once the hour has passed.
            log._session.commit_if_late(
                time_module.monotonic() + 2 * plan['commit_seconds'])
        if step['resume']:
            log.resume()
        if step['reopen']:
            log.close()
            opened.append(reopen(log.uuid))
    return model


def near(model, place):
    """The time at `place` (see :data:`NEAR`) among the times of
    `model`, within the times a log takes."""
    times = sorted(model) or [0]
    index, offset = place
    return min(max(0, times[index % len(times)] + offset), LAST_TIME)


def in_range(time, start, stop):
    return (start is None or time >= start) and (stop is None or time < stop)


def check_reads(log, model, ranges):
    """Every read of `log` against `model` (time -> {key: value})."""
    times = sorted(model)
    assert list(log) == times and len(log) == len(times)
    # Every time up to past the last, or, where times are far apart, each
    # time and those beside it.
    probes = set(range(min(max(times + [0]) + 2, 100)))
    probes.update(near for time in times for near in (time - 1, time + 1)
                  if 0 <= near <= LAST_TIME)
    for time in sorted(probes | set(times)):
        row = dict(log[time])
        expected = model.get(time, {})
        assert set(row) == set(expected), time
        for key, value in expected.items():
            assert same(log[time][key], value), (time, key)
            assert same(row[key], value), (time, key)
    for key in KEYS:
        expected = sorted((time, values[key]) for time, values in
                          model.items() if key in values)
        history = log.history(key)
        assert [time for time, _ in history] == [time for time, _ in expected]
        assert all(same(a, b) for (_, a), (_, b) in zip(history, expected))
    records = list(log.records())
    assert [time for time, _, _ in records] == sorted(
        time for time, _, _ in records)
    assert sorted(records, key=repr) == sorted(
        [(time, key, value) for time in model
         for key, value in model[time].items()], key=repr) or all(
             same(a[2], b[2]) for a, b in zip(
                 sorted(records, key=lambda r: r[:2]),
                 sorted([(time, key, value) for time in model
                         for key, value in model[time].items()],
                        key=lambda r: r[:2])))
    for start, stop in ranges + [(None, None)]:
        columns = log.series(None, start, stop)
        for key, (series_times, values) in columns.items():
            expected = [(time, model[time][key]) for time in times
                        if key in model[time] and in_range(time, start, stop)]
            assert list(series_times) == [time for time, _ in expected]
            assert all(same(a, b) for a, (_, b) in zip(values, expected))
        # Every key holding a value in the range, and no other.
        assert set(columns) == set(
            key for time in times if in_range(time, start, stop)
            for key in model[time])
        assert log.last_time(start, stop) == max(
            [time for time in times if in_range(time, start, stop)],
            default=None)
        check_frame(log, model, start, stop)


def check_frame(log, model, start, stop):
    try:
        frame = log.to_dataframe(start=start, stop=stop)
    except ImportError:
        return  # no pandas here: the bare environment
    times = [time for time in sorted(model) if in_range(time, start, stop)]
    assert list(frame.index) == times
    for time in times:
        for key in frame.columns:
            assert holds(frame.at[time, key], model[time].get(key)), (
                time, key)


def holds(cell, expected):
    """Whether a data frame's `cell` holds `expected`, a value logged
    (``None``: none, or None, which pandas makes a gap in a column of
    numbers): numbers compared as Python compares them, exactly (numpy's
    float64 equals an int it cannot hold: it rounds the int first), NaN
    holding NaN."""
    import pandas
    if expected is None:
        return cell is None or pandas.isna(cell)
    cell = cell.item() if hasattr(cell, 'item') else cell
    return cell == expected or (
        cell is not None and not isinstance(cell, str) and
        not isinstance(expected, str) and
        math.isnan(cell) and math.isnan(expected))


def check_export(source, uuid, model):
    """``blocks-log export SOURCE RUN --format csv``: a row per time that
    holds a value, each cell the value as written (floats exactly)."""
    out = io.StringIO()
    assert cli.main(['export', source, uuid, '--format', 'csv'], out) == 0
    rows = list(csv.reader(io.StringIO(out.getvalue())))
    header, body = rows[0], rows[1:]
    assert [int(row[0]) for row in body] == sorted(model)

    def cell(value):
        if value is None:
            return ''
        return repr(value) if isinstance(value, float) else str(value)
    for row in body:
        values = model[int(row[0])]
        assert dict((key, text) for key, text in zip(header[1:], row[1:])
                    if text) == dict((key, cell(value)) for key, value in
                                     values.items() if cell(value))


def check_json(source, uuid, model):
    """``blocks-log export`` as JSON Lines, an object per time and a
    record per value (run, time, key, value), and ``blocks-log show
    --json``: each value as written, NaN and inf as Python's json writes
    them."""
    outputs = []
    for argv in (['export', source, uuid, '--format', 'jsonl'],
                 ['export', source, uuid, '--format', 'jsonl', '--long'],
                 ['show', source, uuid, '--json']):
        out = io.StringIO()
        assert cli.main(argv, out) == 0, argv
        outputs.append(out.getvalue())
    rows, records, shown = outputs
    for listed in ([json.loads(line) for line in rows.splitlines()],
                   json.loads(shown)):
        assert [row.pop('time') for row in listed] == sorted(model)
        for row, time in zip(listed, sorted(model)):
            assert sorted(row) == sorted(model[time]), time
            assert all(same(row[key], value)
                       for key, value in model[time].items()), time
    records = [json.loads(line) for line in records.splitlines()]
    assert [(record['run'], record['time']) for record in records] == [
        (uuid, time) for time in sorted(model) for _ in model[time]]
    assert all(same(record['value'], model[record['time']][record['key']])
               for record in records)


def check_compare(source, uuid, model):
    """``runs.compare`` of the run (read in windows): per key, the count,
    first and last time, last value, and the smallest and largest number
    (ints and floats, inf included, NaN and bools not) with its time, the
    earliest of equal ones."""
    def orders(value):
        return type(value) in (int, float) and not (
            isinstance(value, float) and math.isnan(value))
    table = runs.compare(source, [uuid])
    assert [row['key'] for row in table] == sorted(set(
        key for values in model.values() for key in values))
    for row in table:
        series = [(time, model[time][row['key']]) for time in sorted(model)
                  if row['key'] in model[time]]
        numbers = [(value, time) for time, value in series if orders(value)]
        smallest = min(numbers, key=lambda pair: (pair[0], pair[1]),
                       default=(None, None))
        largest = min(numbers, key=lambda pair: (-pair[0], pair[1]),
                      default=(None, None))
        assert row['count'] == len(series), row
        assert (row['first_time'], row['last_time']) == (
            series[0][0], series[-1][0]), row
        assert same(row['last'], series[-1][1]), row
        assert (row['min_time'], row['max_time']) == (
            smallest[1], largest[1]), row
        assert same(row['min'], smallest[0]) and same(
            row['max'], largest[0]), row


def summary_of(times, values):
    """The runs page's summary of a key of a run whose series (through
    its lineage) is `times`, `values`: its last, smallest and largest
    finite numbers (not bools), each ``[time, value]``, the earliest of
    equal ones, an int past 2 ** 53 as its digits, a time as a value."""
    numbers = [(time, value if type(value) is int else float(value))
               for time, value in zip(times, values)
               if isinstance(value, (int, float)) and not isinstance(
                   value, bool) and math.isfinite(value)]

    def exact(number):
        return number if type(number) is not int or abs(
            number) <= 2 ** 53 else str(number)

    def shown(pair):
        return [exact(pair[0]), exact(pair[1])]
    if not numbers:
        return {'last': None, 'min': None, 'max': None}
    return {'last': shown(numbers[-1]),
            'min': shown(min(numbers, key=lambda pair: pair[1])),
            'max': shown(max(numbers, key=lambda pair: pair[1]))}


def check_summary(source, uuid, model):
    """The runs page's summary of each key (see :func:`summary_of`), of
    the run and of each of its ancestors (each built on its parent's),
    against what each reads through its lineage; of the run, against the
    dict."""
    with Source(source, strict=True) as opened:
        listed = dict((run.uuid, run) for run in opened.runs())
        lineage = [uuid]
        while listed[lineage[-1]].parent in listed:
            lineage.append(listed[lineage[-1]].parent)
        for key in KEYS:
            found = data.summary(opened, {'key': key})
            for run in lineage:
                if key in listed[run].keys:
                    assert found[run] == summary_of(
                        *opened.open(run).series([key])[key]), (run, key)
                else:
                    assert run not in found
            if key in listed[uuid].keys:
                expected = [(time, model[time][key]) for time in
                            sorted(model) if key in model[time]]
                assert found[uuid] == summary_of(
                    [time for time, _ in expected],
                    [value for _, value in expected]), key


def check_plan(plan, opened, reopen, backend):
    """Carry out `plan` (see :func:`write`), then check every read of
    the log, and of a reader of its own, against the dict."""
    model = write(opened, plan, reopen)
    log = opened[-1]
    ranges = [tuple(near(model, bound) if isinstance(bound, tuple) else bound
                    for bound in bounds) for bounds in plan['ranges']]
    check_reads(log, model, ranges)
    log.flush()
    source = getattr(log, 'database', None) or log.dsn
    with type(log)(source, uuid=log.uuid, read_only=True) as reader:
        check_reads(reader, model, ranges)
    if backend != 'postgresql':
        check_export(source, log.h_uuid, model)
        check_json(source, log.h_uuid, model)
    check_compare(source, log.h_uuid, model)
    check_summary(source, log.h_uuid, model)


def run_plans(backend, tmp_path_factory, dsn, examples, plans=PLANS):
    counter = []

    @settings(max_examples=examples, deadline=None,
              suppress_health_check=list(HealthCheck))
    @given(plans)
    def test(plan):
        counter.append(None)
        factories = backend_factories(tmp_path_factory.mktemp('reads'), dsn)
        options = dict(commit_every=plan['commit_every'],
                       commit_seconds=plan['commit_seconds'])
        opened = [factories[backend](**options)]
        try:
            check_plan(plan, opened, lambda uuid: factories[backend](
                uuid=uuid, **options), backend)
        finally:
            for log in opened:
                log.close()
    test()
    assert counter


@pytest.mark.parametrize('backend', ['sqlite-chunked', 'postgresql'])
def test_reads_hold_what_a_dict_holds(backend, tmp_path_factory, tmp_path,
                                      monkeypatch, request):
    dsn = use_backend(backend, monkeypatch, request)
    monkeypatch.setattr(chunks, 'SPAN', SPAN)
    # A block's values that are not numbers, packed, as several batches;
    # some left in the batches they were written in.
    monkeypatch.setattr(packing, 'REST_BATCH_BYTES', SMALL_REST_BATCH)
    monkeypatch.setattr(run_packing, 'LARGE_VALUE_BYTES', SMALL_LARGE_VALUE)
    # The head read two rows at a time by reads of times and keys: a later
    # value and the one it wins over read apart.
    monkeypatch.setattr(batches, 'ROWS_AT_ONCE', SMALL_ROWS_AT_ONCE)
    # An export read in windows of a few times, each edge a place to lose
    # or repeat a row.
    monkeypatch.setattr(tables, 'WINDOW_SPAN', 2)
    monkeypatch.setattr(tables, 'WINDOW_VALUES', 3)
    run_plans(backend, tmp_path_factory, dsn,
              examples=150 if backend != 'postgresql' else 40)


@pytest.mark.parametrize('backend', ['sqlite-chunked', 'postgresql'])
def test_reads_hold_what_a_dict_holds_at_times_far_apart(
        backend, tmp_path_factory, monkeypatch, request):
    # Times past 32 and 53 bits, up to the last a log takes, and gaps of
    # any length between them, in one commit too (see
    # test_a_commit_of_times_far_apart for the hang that once was).
    dsn = use_backend(backend, monkeypatch, request)
    monkeypatch.setattr(chunks, 'SPAN', SPAN)
    monkeypatch.setattr(packing, 'REST_BATCH_BYTES', SMALL_REST_BATCH)
    monkeypatch.setattr(run_packing, 'LARGE_VALUE_BYTES', SMALL_LARGE_VALUE)
    monkeypatch.setattr(batches, 'ROWS_AT_ONCE', SMALL_ROWS_AT_ONCE)
    monkeypatch.setattr(tables, 'WINDOW_SPAN', 2)
    monkeypatch.setattr(tables, 'WINDOW_VALUES', 3)
    run_plans(backend, tmp_path_factory, dsn, plans=FAR_PLANS,
              examples=80 if backend != 'postgresql' else 25)


@pytest.mark.parametrize('commit_every', [1, 100])
def test_a_commit_of_times_far_apart(tmp_path, commit_every):
    # One commit of times 2 ** 54 blocks apart: a commit once went through
    # every block between them (a hang; in a child, so that a hang fails).
    path = str(tmp_path / 'far.sqlite')
    times = [0, 1, 2 ** 31, 2 ** 53 + 1, 2 ** 62, 2 ** 63 - 2]
    child = helpers.run_python('''
        import sys
        from blocks_log import SQLiteLog
        with SQLiteLog(sys.argv[1], commit_every=int(sys.argv[2])) as log:
            for time in {times!r}:
                log[time]['x'] = time
            log.status['iterations_done'] = {times!r}[-1]
            print(log.h_uuid)
        '''.format(times=times), path, str(commit_every))
    assert child.returncode == 0, child.stderr
    with SQLiteLog(path, uuid=child.stdout.strip(), read_only=True) as log:
        assert log.history('x') == [(time, time) for time in times]


def test_compare_takes_the_earliest_of_equal_values(tmp_path, monkeypatch):
    # Equal smallest and largest values in every window of the read.
    monkeypatch.setattr(tables, 'WINDOW_SPAN', 2)
    monkeypatch.setattr(tables, 'WINDOW_VALUES', 3)
    path = str(tmp_path / 'flat.sqlite')
    with SQLiteLog(path) as log:
        for time in range(1, 31):
            log[time]['flat'] = 1.0
            log[time]['zeros'] = -0.0 if time % 2 else 0
        uuid = log.h_uuid
    flat, zeros = runs.compare(path, [uuid])
    assert (flat['min_time'], flat['max_time']) == (1, 1)
    assert (zeros['min_time'], zeros['max_time']) == (1, 1)
    assert same(zeros['min'], -0.0) and same(zeros['max'], -0.0)
    assert (zeros['count'], zeros['last_time']) == (30, 30)
    assert same(zeros['last'], 0)


@pytest.mark.parametrize('backend', ['sqlite-file', 'postgresql'])
def test_a_range_that_begins_inside_a_batch(backend, tmp_path, monkeypatch,
                                            request):
    # A commit of many iterations is one batch, under the first of its
    # times: a read of a range that begins (or ends) inside it, and where
    # the values of a range end, must look into it.
    dsn = use_backend(backend, monkeypatch, request)
    log = backend_factories(tmp_path, dsn)[backend](commit_every=50)
    model = {}
    for time in range(1, 41):
        log.status['iterations_done'] = time
        log.current_row['loss'] = time * 0.5
        model[time] = {'loss': time * 0.5}
        if time % 3 == 0:
            log.current_row['sparse'] = time
            model[time]['sparse'] = time
    log.flush()
    try:
        source = getattr(log, 'database', None) or log.dsn
        with type(log)(source, uuid=log.uuid, read_only=True) as reader:
            ranges = [(start, stop) for start in range(0, 43, 3)
                      for stop in (None, start + 1, start + 5, 41)]
            for each in (log, reader):
                check_reads(each, model, ranges)
    finally:
        log.close()


def test_a_metric_that_is_0_then_0_37(tmp_path, monkeypatch):
    # The case of issue 19: ints and floats in one block of one key.
    monkeypatch.setattr(chunks, 'SPAN', 256)
    from blocks_log import SQLiteLog
    path = str(tmp_path / 'mixed.sqlite')
    model = {}
    with SQLiteLog(path) as log:
        for time in range(1, 600):
            log.status['iterations_done'] = time
            model[time] = {'m': 0 if time % 2 else 0.37 * time}
            log.current_row['m'] = model[time]['m']
    with SQLiteLog(path, uuid=log.uuid, read_only=True) as reader:
        check_reads(reader, model, [(100, 200), (255, 257), (None, 513)])
        assert len(reader.to_dataframe(start=100, stop=200)
                   if _has_pandas() else range(100)) == 100
    check_export(path, log.h_uuid, model)


def _has_pandas():
    import importlib.util
    return importlib.util.find_spec('pandas') is not None


@pytest.mark.parametrize('backend', ['sqlite-file', 'postgresql'])
def test_where_each_resumed_run_began(backend, tmp_path, monkeypatch,
                                      request):
    # The first time each run of a lineage holds a value of its own, from
    # its chunks (a child longer than a block) or its head.
    dsn = use_backend(backend, monkeypatch, request)
    log = backend_factories(tmp_path, dsn)[backend](commit_every=50)
    try:
        def train(until):
            while log.status['iterations_done'] < until:
                log.status['iterations_done'] += 1
                log.current_row['loss'] = 1.0
        train(10)
        assert log.restarts() == []
        root = log.h_uuid
        log.resume()
        child = log.h_uuid
        train(400)  # past a block: its first values packed
        log.resume()
        grandchild = log.h_uuid
        log.flush()
        assert log.restarts() == [(child, 11), (grandchild, None)]
        train(402)  # not committed yet: the buffer counts
        assert log.restarts() == [(child, 11), (grandchild, 401)]
        log.flush()
        source = getattr(log, 'database', None) or log.dsn
        with type(log)(source, uuid=grandchild, read_only=True) as reader:
            assert reader.restarts() == [(child, 11), (grandchild, 401)]
        with type(log)(source, uuid=root, read_only=True) as reader:
            assert reader.restarts() == []
    finally:
        log.close()


def test_a_deleted_key_is_gone_for_this_run_only(make_database_log):
    # Deleted in a nearer run: gone from its rows, records and times (a
    # time whose every value is deleted holds nothing), not from its
    # parent's.
    log = make_database_log()
    log[1].update({'a': 1, 'b': 2})
    log[2]['a'] = 2
    log[3]['a'] = 3
    parent = log.uuid
    log.resume()
    del log[1]['a']
    log[2].clear()
    log.flush()
    assert dict(log[1]) == {'b': 2} and 2 not in log
    assert list(log) == [1, 3] and len(log) == 2
    assert list(log.records()) == [(1, 'b', 2), (3, 'a', 3)]
    assert log.history('a') == [(3, 3)]
    before = make_database_log(uuid=parent, read_only=True)
    assert dict(before[1]) == {'a': 1, 'b': 2} and list(before) == [1, 2, 3]
    again = make_database_log(uuid=log.uuid, read_only=True)
    assert list(again) == [1, 3] and dict(again[1]) == {'b': 2}


def test_the_buffer_is_laid_over_a_read_out_of_the_lock(tmp_path,
                                                        monkeypatch):
    # A pass over every value read (to_dataframe of a run in a thread
    # that watches it) never holds the session's lock, which the training
    # thread waits for to commit.
    from blocks_log import series
    log = SQLiteLog(str(tmp_path / 'log.sqlite'))
    log[1]['loss'] = 1.0
    log.flush()
    log[2]['loss'] = 2.0
    held, overlay = [], series.overlay

    def watched(columns, records):
        held.append(log._session.lock._is_owned())
        return overlay(columns, records)
    monkeypatch.setattr(series, 'overlay', watched)
    assert log.history('loss') == [(1, 1.0), (2, 2.0)]
    assert held == [False]
    log.close()
