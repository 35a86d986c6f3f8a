"""``blocks-log serve`` over HTTP: the pages and the API, what they send
and refuse, and that serving never writes (the browser's view of the same
pages is tested in test_browser.py)."""
import array
import base64
import bisect
import csv
import io
import json
import math
import os
import pickle
import re
import subprocess
import sys

import pytest
from hypothesis import example, given, settings, strategies as st

import blocks_log
from blocks_log import SQLiteLog, TrainingLog
from blocks_log import tables
from blocks_log.sources import Source
from blocks_log.web import charts, data, downsampling, pages, streamed
from blocks_log.web import rows as rows_api

from helpers import (ROOT, file_state, lineage, log_sparse_run,
                     shallow_stack)
from web import get, serving

HOSTILE = '<script>window.pwned = 1</script>'


@pytest.fixture
def hostile_database(tmp_path):
    path = str(tmp_path / 'hostile.sqlite')
    with SQLiteLog(path) as log:
        for time in range(1, 4):
            log.status['iterations_done'] = time
            log.current_row[HOSTILE] = float(time)
            log.current_row['note'] = '<b>bold</b> & "quoted"'
    return path


def test_runs_page_and_api_list_the_runs_with_their_lineage(demo_database):
    runs = blocks_log.list_runs(demo_database)
    with serving(demo_database) as server:
        status, headers, page = get(server, '/')
        _, _, listed = get(server, '/api/runs')
    assert status == 200 and headers['Content-Type'].startswith('text/html')
    listed = json.loads(listed)
    assert sorted(run['uuid'] for run in listed) == sorted(
        run.uuid for run in runs)
    depth = dict((run['uuid'], run['depth']) for run in listed)
    for run in runs:
        assert depth[run.uuid] == (1 if run.parent else 0)
        assert '/run/{}'.format(run.uuid) in page
    order = [run['uuid'] for run in listed]
    for run in runs:  # a resumed run comes after the run it continues
        if run.parent:
            assert order.index(run.parent) < order.index(run.uuid)


def test_a_lineage_deeper_than_the_stack_is_listed(tmp_path):
    # A checkpoint each epoch begins a run: a lineage thousands of runs
    # deep, listed each right under its parent, set in at most
    # MAX_INDENT steps (the page grew as the square of the depth).
    path = str(tmp_path / 'deep.sqlite')
    deepest = lineage(path, 300)
    with Source(path, strict=True) as source, shallow_stack(100):
        listed = data.run_list(source)
    assert [run['depth'] for run in listed] == list(range(300))
    assert listed[-1]['uuid'] == deepest
    for parent, child in zip(listed, listed[1:]):
        assert child['parent'] == parent['uuid']
    with serving(path) as server:
        status, _, page = get(server, '/')
    assert status == 200
    indents = re.findall(r'<span class="lineage" title="resumed from '
                         r'(\w+)">((?:&nbsp;)*)&#x2514;', page)
    assert [parent for parent, _ in indents] == [
        run['parent'][:8] for run in listed[1:]]
    assert [len(spaces) // 12 for _, spaces in indents] == [
        min(depth, pages.MAX_INDENT) - 1 for depth in range(1, 300)]


def test_a_run_page_names_the_run_and_its_parent(demo_database):
    run = blocks_log.list_runs(demo_database)[-1]
    with serving(demo_database) as server:
        status, _, page = get(server, '/run/' + run.uuid[:8])
    assert status == 200
    assert 'Run ' + run.uuid in page
    text = re.sub('<[^>]*>', '', page)
    assert '{} iterations'.format(run.iterations) in text
    assert 'resumed from <a href="/run/{}">'.format(run.parent) in page
    assert 'data-runs="{}"'.format(run.uuid) in page


def test_series_hold_every_value_read_through_the_lineage(demo_database):
    with SQLiteLog(demo_database, uuid=blocks_log.find_run(
            demo_database, 'last'), read_only=True) as log:
        expected = log.series()
        uuid = log.h_uuid
    with serving(demo_database) as server:
        _, _, answer = get(server, '/api/series?runs=' + uuid)
    run = json.loads(answer)['runs'][uuid]
    assert set(run['keys']) == set(expected)
    for key, (times, values) in expected.items():
        assert run['keys'][key] == [list(times), list(values)]
        assert run['count'][key] == len(times)
    assert run['iterations'] == 200
    assert run['epochs'] == list(range(20, 201, 20))
    assert run['last_time'] == 200


def test_a_long_series_is_sent_as_the_extremes_of_its_buckets(tmp_path):
    path = str(tmp_path / 'long.sqlite')
    with SQLiteLog(path) as log:
        for time in range(1, 10001):
            log.status['iterations_done'] = time
            log.current_row['wave'] = math.sin(time / 50.0) * time
            if time == 4321:
                log.current_row['wave'] = 1e6  # a spike no chart may drop
        uuid = log.h_uuid
    with serving(path) as server:
        _, _, whole = get(server, '/api/series?points=500&runs=' + uuid)
        _, _, part = get(server, '/api/series?points=500&start=4000'
                                 '&stop=4200&runs=' + uuid)
    logged = dict((t, 1e6 if t == 4321 else math.sin(t / 50.0) * t)
                  for t in range(1, 10001))
    times, values = json.loads(whole)['runs'][uuid]['keys']['wave']
    assert len(times) <= 500
    assert max(values) == 1e6 and times[values.index(1e6)] == 4321
    assert min(values) == min(logged.values())
    assert times == sorted(times) and times[0] == 1
    # every point drawn is a value logged, at the time it was logged
    assert all(logged[t] == v for t, v in zip(times, values))
    # zoomed in, every value of the range, and one beyond each end
    times, values = json.loads(part)['runs'][uuid]['keys']['wave']
    assert times == list(range(3999, 4201))
    assert values == [logged[t] for t in times]
    assert json.loads(part)['runs'][uuid]['count']['wave'] == 200


@pytest.mark.parametrize('window', [None, 7])
def test_the_clock_of_each_time_named_is_sent(tmp_path, monkeypatch, window):
    # The wall clock of each point, epoch end and restart of the answer,
    # as the log reads it, and where the lineage began; in JSON and in
    # base64 alike, whole or zoomed; read a window of the clock at a time
    # or in one.
    if window:
        monkeypatch.setattr(charts, 'CLOCK_WINDOW', window)
    path = str(tmp_path / 'clocked.sqlite')
    with SQLiteLog(path) as log:
        for time in range(1, 3001):
            log.status['iterations_done'] = time
            log.current_row['loss'] = 1.0 / time
            if time % 700 == 0:
                log.status['epochs_done'] = time // 700
                log.status['_epoch_ends'] = log.status.get(
                    '_epoch_ends', []) + [time]
            if time == 1500:
                log.resume()
        uuid = log.h_uuid
    with SQLiteLog(path, uuid=uuid, read_only=True) as log:
        walls = dict(zip(*log.clock()))
    with serving(path) as server:
        answers = [json.loads(get(server, '/api/series?clock=1&points=200'
                                  '&runs=' + uuid + extra)[2])['runs'][uuid]
                   for extra in ('', '&numbers=base64', '&start=1000'
                                 '&stop=1600')]
        plain = json.loads(get(server, '/api/series?runs=' + uuid)[2])
    assert 'clock' not in plain['runs'][uuid]
    for answer in answers:
        times, found = answer['clock']
        if isinstance(found, str):
            found = array.array('d', base64.b64decode(found)).tolist()
        named = set(answer['keys']['loss'][0]) | set(
            time for _, time in answer['restarts'])
        named |= set(end for end in answer['epochs']
                     if min(named) <= end <= max(named))
        assert times == sorted(named)
        assert found == [walls[time] for time in times]
        assert answer['began'] == walls[1]
    assert 1501 in answers[2]['clock'][0]  # where the child began


def test_a_log_that_keeps_no_clock_sends_none(tmp_path):
    path = str(tmp_path / 'memory.pkl')
    log = TrainingLog()
    for time in range(1, 11):
        log[time]['loss'] = float(time)
    with open(path, 'wb') as out:
        pickle.dump(log, out)
    with serving(path) as server:
        answer = json.loads(get(server, '/api/series?clock=1&runs=' +
                                log.h_uuid)[2])['runs'][log.h_uuid]
    assert answer['clock'] is None and answer['began'] is None


@pytest.mark.parametrize('window', [None, 1, 7, 4999, 5000])
def test_smoothing_is_that_of_the_whole_run_however_zoomed(tmp_path,
                                                           monkeypatch,
                                                           window):
    # Smoothed a window at a time (of the default size, or of one value, or
    # ending at or beside the last value): the smoothing of the whole run.
    if window is not None:
        monkeypatch.setattr(charts, 'SMOOTHING_WINDOW', window)
    # TensorBoard's smoothing over every value logged, before they are
    # downsampled; a zoomed range goes on from what came before it; the
    # state it ends in is where a page goes on from.
    from blocks_log import smoothing
    path = str(tmp_path / 'noisy.sqlite')
    logged = [(time, math.sin(time) + time / 1000.0)
              for time in range(1, 5001)]
    with SQLiteLog(path) as log:
        for time, value in logged:
            log.status['iterations_done'] = time
            log.current_row['loss'] = value
            if time == 2000:
                log.current_row['loss'] = float('nan')  # a gap
        uuid = log.h_uuid
    values = [float('nan') if time == 2000 else value
              for time, value in logged]
    expected = dict(zip([time for time, _ in logged],
                        smoothing.ema(values, 0.6)))
    with serving(path) as server:
        _, _, whole = get(server, '/api/series?points=500&smoothing=0.6&runs='
                          + uuid)
        _, _, part = get(server, '/api/series?smoothing=0.6&start=3000'
                         '&stop=3100&runs=' + uuid)
    run = json.loads(whole)['runs'][uuid]
    times, smoothed = run['keys']['loss'][0], run['smoothed']['loss']
    assert len(times) <= 500
    assert all(smoothed[index] == expected[time] for index, time in
               enumerate(times) if time != 2000)
    last, count, before_last, before_count = run['ema']['loss']
    assert count == 4999 and before_count == 4998
    going = smoothing.EMA(0.6, before_last, before_count)
    assert going.smooth([values[-1]]) == [expected[5000]]
    times = json.loads(part)['runs'][uuid]['keys']['loss'][0]
    smoothed = json.loads(part)['runs'][uuid]['smoothed']['loss']
    assert times == list(range(2999, 3101))  # one beyond each end
    assert smoothed == [expected[time] for time in times]


QUERIES = [
    {}, {'smoothing': '0.6'}, {'start': '100', 'stop': '400'},
    {'start': '650', 'smoothing': '0.9', 'points': '40'},
    {'start': '100', 'stop': '400', 'smoothing': '0.6', 'points': '20'},
    {'start': '100', 'stop': '400', 'smoothing': '0.6'},
    {'stop': '3'}, {'start': '2000'}]


@pytest.mark.parametrize('query', QUERIES)
def test_a_large_run_read_key_by_key_is_the_same_answer(tmp_path,
                                                        monkeypatch, query):
    # What a request reads one key at a time (a run too large to hold
    # every key at once) is what it reads at once, keys absent from the
    # range, a late write and a value that is not a number included.
    check_drawn_by_window(str(tmp_path / 'sparse.sqlite'), log_sparse_run,
                          query, (5, 64, 65536), monkeypatch)


def check_drawn_by_window(path, write, query, windows, monkeypatch):
    """What `query` of series() answers of a run that `write(log)` wrote is
    the same read at once and a window of each of `windows` times at a
    time."""
    with SQLiteLog(path) as log:
        write(log)
        uuid = log.h_uuid
    query = dict(query, runs=uuid)
    with Source(path, strict=True) as opened:
        at_once = charts.series(opened, query)
    monkeypatch.setattr(charts, 'READ_AT_ONCE', 0)
    monkeypatch.setattr(charts, 'SHORT_RANGE', 0)
    for window in windows:
        monkeypatch.setattr(streamed, 'WINDOW', window)
        with Source(path, strict=True) as opened:
            by_window = charts.series(opened, query)
        assert by_window == at_once, window


def log_awkward_run(log, iterations=3000):
    """Keys a chart gets wrong most easily: NaN, inf, text, bools and ints
    past a float's range among numbers, ints and floats mixed, a constant,
    a key logged now and then with long stretches of nothing, equal
    extremes."""
    for time in range(1, iterations):
        log.status['iterations_done'] = time
        row = log.current_row
        row['wave'] = float('nan') if time % 97 == 0 else float(
            'inf') if time % 389 == 0 else math.sin(time / 30.0)
        row['const'] = 1.0
        row['mixed'] = 'text' if time % 50 == 0 else (
            10 ** 400 if time % 613 == 0 else time % 7) if (
                time % 2) else time * 0.25
        if time % 40 == 0 or 1700 < time < 1710:
            row['sparse'] = float(time % 3)
        if 900 <= time < 1100:
            row['gaps'] = float('nan')
        row['flag'] = True if time % 5 == 0 else time / 1000.0


@pytest.mark.parametrize('query', QUERIES + [
    {'keys': 'sparse,gaps,wave', 'start': '1710', 'stop': '1719',
     'smoothing': '0.6'},
    {'keys': 'gaps,sparse', 'start': '2001', 'stop': '2039'},
    {'keys': 'const,mixed', 'points': '10'},
    {'points': '30', 'smoothing': '0.5'},
    {'start': '1500', 'stop': '1800', 'points': '10', 'smoothing': '0.3'},
    {'start': '950', 'stop': '1050', 'points': '4'}])
def test_a_large_run_drawn_a_window_at_a_time_is_the_same_answer(
        tmp_path, monkeypatch, query):
    # What a request reads a window at a time is what it reads at once,
    # however the windows fall.
    check_drawn_by_window(str(tmp_path / 'awkward.sqlite'), log_awkward_run,
                          query, (1, 7, 100, 65536), monkeypatch)


def test_a_range_past_every_time_a_store_holds(tmp_path):
    # A bound past 2 ** 63 is no bound (a stop) or past everything (a
    # start), as for range(): not a 500 of an int SQL refuses.
    path = str(tmp_path / 'bounds.sqlite')
    with SQLiteLog(path) as log:
        for time in range(1, 6):
            log[time]['loss'] = 1.0 / time
        uuid = log.h_uuid
    past = str(10 ** 23)
    with serving(path) as server:
        answers = dict((name, get(server, '/api/{}?runs={}&keys=loss{}'.format(
            endpoint, uuid, bounds))) for name, endpoint, bounds in [
                ('series', 'series', ''),
                ('series, stop', 'series', '&stop=' + past),
                ('series, start', 'series', '&start=' + past),
                ('series, start 100', 'series', '&start=100'),
                ('csv, stop', 'csv', '&stop=' + past),
                ('json, start', 'json', '&start=' + past)])
    assert dict((name, status) for name, (status, _, _) in
                answers.items()) == dict.fromkeys(answers, 200)
    assert answers['series, stop'][2] == answers['series'][2]
    # The nearest value before the range, which a chart's line comes from.
    assert answers['series, start'][2] == answers['series, start 100'][2]
    assert json.loads(answers['series, start'][2])['runs'][uuid]['keys'] == {
        'loss': [[5], [0.2]]}
    assert answers['csv, stop'][2].count('\n') == 6
    assert json.loads(answers['json, start'][2]) == {uuid: {'loss': []}}


@pytest.mark.parametrize('query', [
    {'points': '20'}, {'points': '20', 'smoothing': '0.6'}, {}])
def test_a_key_holding_arrays_among_numbers_is_drawn(tmp_path, monkeypatch,
                                                     query):
    # Arrays are not drawn; comparing one with a number has no truth value
    # (it raised ValueError: a request answered 500).
    numpy = pytest.importorskip('numpy')

    def write(log):
        for time in range(1, 400):
            log[time]['mixed'] = numpy.array([1.0, time]) if (
                time % 3 == 0) else time * 0.5
    check_drawn_by_window(str(tmp_path / 'arrays.sqlite'), write, query,
                          (1, 7, 100), monkeypatch)
    with Source(str(tmp_path / 'arrays.sqlite'), strict=True) as opened:
        answer = charts.series(opened, dict(query, runs='last'))
    run, = answer['runs'].values()
    times, values = run['keys']['mixed']
    # Left out, not gaps: only the numbers, the first of them first.
    assert all(time % 3 for time in times) and None not in values
    assert values[0] == 0.5 and len(times) == (20 if query else 266)


def test_a_request_holds_one_key_of_a_large_run_at_a_time(tmp_path,
                                                          monkeypatch):
    # 12 keys of 200,000 iterations (2.4 million values): read one key at
    # a time, a request's peak is a fraction of that of reading them all
    # at once (as it did), and the same answer.
    import tracemalloc
    path = str(tmp_path / 'large.sqlite')
    keys = ['key_{}'.format(index) for index in range(12)]
    with SQLiteLog(path, commit_every=1000) as log:
        for time in range(200000):
            log.status['iterations_done'] = time
            row = log.current_row
            for index, key in enumerate(keys):
                row[key] = time * 0.5 + index
        uuid = log.h_uuid

    def peak_of_a_request():
        with Source(path, strict=True) as opened:
            tracemalloc.start()
            try:
                answer = charts.series(opened, {'runs': uuid,
                                                'smoothing': '0.6'})
                return answer, tracemalloc.get_traced_memory()[1]
            finally:
                tracemalloc.stop()
    by_key, peak = peak_of_a_request()
    monkeypatch.setattr(charts, 'READ_AT_ONCE', 10 ** 9)
    at_once, peak_at_once = peak_of_a_request()
    assert by_key == at_once
    assert sorted(by_key['runs'][uuid]['keys']) == sorted(keys)
    assert by_key['runs'][uuid]['count']['key_5'] == 200000
    assert peak * 3 < peak_at_once, (peak, peak_at_once)


def test_what_a_request_holds_does_not_grow_with_the_run(tmp_path,
                                                         monkeypatch):
    # Two keys of 40,000 and of 160,000 iterations, smoothed, whole,
    # zoomed, and one key named: read a window of 5,000 times at a time, a
    # request's peak is about the same for both (read at once, it grew
    # fourfold).
    import tracemalloc
    monkeypatch.setattr(charts, 'READ_AT_ONCE', 0)
    monkeypatch.setattr(streamed, 'WINDOW', 5000)
    peaks = {}
    for iterations in (40000, 160000):
        path = str(tmp_path / '{}.sqlite'.format(iterations))
        with SQLiteLog(path, commit_every=1000) as log:
            for time in range(iterations):
                log.status['iterations_done'] = time
                log.current_row.update({'loss': math.sin(time / 99.0),
                                        'lr': time * 0.5})
            uuid = log.h_uuid
        for extra in ({}, {'start': str(iterations // 2)}, {
                'keys': 'loss', 'start': str(iterations // 2)}):
            with Source(path, strict=True) as opened:
                tracemalloc.start()
                try:
                    answer = charts.series(opened, dict(
                        extra, runs=uuid, smoothing='0.6', points='400'))
                    peaks[iterations, len(extra)] = (
                        tracemalloc.get_traced_memory()[1])
                finally:
                    tracemalloc.stop()
            assert answer['runs'][uuid]['count']['loss'] == iterations - (
                iterations // 2 if extra else 0)
    for extra in (0, 1, 2):
        assert peaks[160000, extra] < 1.3 * peaks[40000, extra], peaks


def test_an_int_past_a_floats_range_is_a_gap_not_an_error(tmp_path):
    # 10 ** 400 is stored and read back as it is; a chart cannot draw it
    # (float() of it raises): a gap there, the rest of the key drawn, and
    # its digits in the rows, JSON and CSV.
    path = str(tmp_path / 'huge.sqlite')
    huge = 10 ** 400
    with SQLiteLog(path) as log:
        for time in range(1, 301):
            log[time]['loss'] = -huge if time == 150 else (
                huge if time % 100 == 0 else time * 0.5)
        uuid = log.h_uuid
    with serving(path) as server:
        # Each value, or downsampled; smoothed, or not.
        for points, smoothing in [('1000', '0.6'), ('20', '0.6'),
                                  ('20', '0')]:
            status, _, body = get(server, '/api/series?smoothing={}&points='
                                  '{}&runs={}'.format(smoothing, points, uuid))
            assert status == 200, body
            times, values = json.loads(body)['runs'][uuid]['keys']['loss']
            drawn = dict(zip(times, values))
            assert all(drawn.get(time) is None for time in (100, 150, 200))
            assert drawn.get(1) == 0.5 and len(drawn) > 10
        status, _, body = get(server, '/api/summary?key=loss&runs=' + uuid)
        assert status == 200 and json.loads(body)[uuid] == {
            'last': [299, 149.5], 'min': [1, 0.5], 'max': [299, 149.5]}
        status, _, body = get(server, '/api/json?runs=' + uuid)
        assert status == 200 and json.loads(body)[uuid]['loss'][99] == [
            100, str(huge)]
        status, _, body = get(server, '/api/csv?runs=' + uuid)
        assert status == 200 and ',150,' + str(-huge) in body


def test_numbers_in_base64_are_the_numbers_of_the_json(tmp_path):
    # What the page asks for: each list of values as float64s, a gap NaN;
    # the same values as the JSON answer, bit for bit, gaps included.
    path = str(tmp_path / 'packed.sqlite')
    with SQLiteLog(path) as log:
        for time in range(1, 3001):
            log.status['iterations_done'] = time
            log.current_row['loss'] = 1.0 / time + math.sin(time) * 1e-3
            if time in (5, 1500):
                log.current_row['loss'] = float('inf' if time == 5 else 'nan')
            if time % 7 == 0:  # not downsampled: its gap is sent
                log.current_row['rare'] = float('nan') if time == 21 else (
                    -time * 1e300 if time < 50 else 2.5)
        uuid = log.h_uuid
    with serving(path) as server:
        url = '/api/series?points=600&smoothing=0.6&runs=' + uuid
        _, _, plain = get(server, url)
        _, _, packed = get(server, url + '&numbers=base64')
    plain = json.loads(plain)['runs'][uuid]
    packed = json.loads(packed)['runs'][uuid]

    def unpacked(text):
        numbers = array.array('d')
        numbers.frombytes(base64.b64decode(text))
        if sys.byteorder != 'little':
            numbers.byteswap()
        return [None if math.isnan(value) else value for value in numbers]
    assert set(packed['keys']) == {'loss', 'rare'} == set(plain['keys'])
    for key in packed['keys']:
        times, values = packed['keys'][key]
        assert times == plain['keys'][key][0]
        assert unpacked(values) == plain['keys'][key][1]
        assert unpacked(packed['smoothed'][key]) == plain['smoothed'][key]
    assert None in plain['keys']['rare'][1]  # the gap was sent
    assert packed['ema'] == plain['ema']


@pytest.mark.parametrize('start, stop, edges', [
    (2500, 2600, [2000, 3000]), (2000, 2001, [1000, 2000, 3000]),
    (0, 1500, [0, 1000, 2000]), (9500, 20000, [9000]),
    (3500, 9000, [3000, 4000, 5000, 6000, 7000, 8000, 9000])])
def test_a_sparse_key_zoomed_holds_a_point_beyond_each_end(
        tmp_path, start, stop, edges):
    # A key logged every 1,000 iterations, beside one logged at each: a
    # range between two of its points still draws the line across it.
    path = str(tmp_path / 'sparse.sqlite')
    with SQLiteLog(path) as log:
        for time in range(0, 9501):
            log.status['iterations_done'] = time
            log.current_row['dense'] = float(time)
            if time % 1000 == 0:
                log.current_row['sparse'] = time / 1000.0
        uuid = log.h_uuid
    with serving(path) as server:
        _, _, answer = get(server, '/api/series?runs={}&keys=dense,sparse'
                           '&start={}&stop={}'.format(uuid, start, stop))
    run = json.loads(answer)['runs'][uuid]
    assert run['keys']['sparse'] == [edges, [t / 1000.0 for t in edges]]
    assert run['count']['sparse'] == len([t for t in edges
                                          if start <= t < stop])


def test_downsample_keeps_gaps_and_short_series_whole():
    times, values = downsampling.downsample(
        [1, 2, 3], [1.0, float('nan'), 'x'], 10)
    assert (times, values) == ([1, 2], [1.0, None])
    # a bucket of nothing but infinities is a gap; the others hold their
    # smallest and largest numbers
    # at the times they were logged
    times, values = downsampling.downsample(
        list(range(100)),
        [float('inf')] * 20 + [float(t) for t in range(20, 100)], 10)
    assert times == [0, 20, 39, 40, 59, 60, 79, 80, 99]
    assert values == [None, 20.0, 39.0, 40.0, 59.0, 60.0, 79.0, 80.0, 99.0]
    # the largest before the smallest where it came first; one point where
    # they are one value
    times, values = downsampling.downsample(
        [1, 2, 3, 4, 5, 6], [5, 1, 1, 7, 7, 7], 4)
    assert (times, values) == ([1, 2, 4], [5.0, 1.0, 7.0])


def reference_downsample(times, values, points):
    """The meaning of downsampling.downsample, value by value: buckets of equal
    width, a bucket to a pixel; of each, its smallest and its largest
    finite number, each at the time it was logged, in time order."""
    def drawable(value):
        return value is None or (isinstance(value, (int, float)) and
                                 not isinstance(value, bool))

    def finite(value):
        if value is None or (isinstance(value, int) and abs(value) > 1e308):
            return None  # an int past a float's range: not drawn
        return float(value) if math.isfinite(value) else None
    if len(times) <= points:
        kept = [(t, finite(v)) for t, v in zip(times, values) if drawable(v)]
        return [[t for t, _ in kept], [v for _, v in kept]]
    width = (times[-1] - times[0] + 1) / float(points // 2)
    buckets = {}
    for time, value in zip(times, values):
        bucket = min(int((time - times[0]) / width), points // 2 - 1)
        buckets.setdefault(bucket, []).append((time, value))
    out = []
    for bucket in sorted(buckets):
        members = [(t, v) for t, v in buckets[bucket] if drawable(v)]
        numbers = [(t, finite(v)) for t, v in members
                   if finite(v) is not None]
        if not members:
            continue
        if not numbers:
            out.append((members[0][0], None))
            continue
        smallest = min(numbers, key=lambda pair: pair[1])
        largest = max(numbers, key=lambda pair: pair[1])
        out.extend(sorted(set([smallest, largest])))
    return [[t for t, _ in out], [v for _, v in out]]


@settings(max_examples=300, deadline=None)
@given(st.one_of(st.lists(st.floats(), max_size=60), st.lists(st.one_of(
    st.floats(), st.integers(-10 ** 6, 10 ** 6), st.none(), st.booleans(),
    st.just('text'), st.sampled_from([10 ** 400, -10 ** 400])),
    max_size=60)), st.integers(2, 12),
    st.integers(1, 3), st.booleans(), st.integers(0, 10 ** 12),
    st.booleans())
def test_downsample_is_the_extremes_of_each_bucket(values, points, step,
                                                   as_array, first, as_range):
    # Times as a list, or as a range, as stores read a regular key.
    times = range(first, first + step * len(values), step)
    if not as_range:
        times = list(times)
    if as_array and all(type(v) is float for v in values):
        values = array.array('d', values)
    assert downsampling.downsample(times, values, points) == (
        reference_downsample(list(times), list(values), points))


@settings(max_examples=500, deadline=None)
@given(st.integers(0, 2 ** 60), st.integers(1, 10 ** 6), st.integers(0, 50),
       st.lists(st.tuples(st.integers(-2, 52), st.floats(-1, 1)),
                max_size=8))
# Times beyond a float's 53 bits, where the computed place is one off
# either way.
@example(2 ** 60 + 1, 1, 300, [(255, 0.0)])
@example(2 ** 60 + 255, 1, 300, [(1, 0.0)])
# A step of 1, bounds within the times (a whole series' buckets).
@example(0, 1, 50, [(0, 0.0), (3, 0.5), (10, 0.0), (49, 0.999), (50, 0.0)])
@example(2 ** 52 + 7, 1, 40, [(0, 0.25), (3, 0.5), (39, 0.75)])
@example(2 ** 53 - 10, 1, 40, [(0, 0.0), (11, 0.0), (12, 0.0), (39, 0.5)])
@example(100, 1, 10, [(-2, 0.0), (3, 0.0)])  # beyond either end
@example(100, 1, 10, [(3, 0.0), (12, 0.5)])
def test_bucket_edges_in_a_range_of_times(start, step, count, near):
    # Where buckets begin in times that are a range (computed, where a
    # float's rounding may land one time off), as bisecting them says.
    times = range(start, start + step * count, step)
    bounds = sorted(start + index * step + fraction * step
                    for index, fraction in near)
    assert downsampling.places_of(times, bounds) == [
        bisect.bisect_left(times, bound) for bound in bounds]


def test_rows_and_csv_show_what_was_logged(hostile_database):
    uuid = blocks_log.list_runs(hostile_database)[0].uuid
    with serving(hostile_database) as server:
        _, _, rows = get(server, '/api/rows?limit=2&run=' + uuid)
        status, headers, text = get(
            server, '/api/csv?runs={}&keys=note'.format(uuid))
    rows = json.loads(rows)
    assert set(rows['columns']) == {HOSTILE, 'note'}
    assert [row[0] for row in rows['rows']] == [2, 3]
    assert status == 200 and headers['Content-Type'].startswith('text/csv')
    assert 'attachment' in headers['Content-Disposition']
    assert text.splitlines() == ['run,time,note'] + [
        '{},{},"<b>bold</b> & ""quoted"""'.format(uuid, time)
        for time in (1, 2, 3)]


@pytest.mark.parametrize('backend', ['sqlite', 'pickle'])
@pytest.mark.parametrize('keys', [None, ['every_7']])
@pytest.mark.parametrize('limit,start,stop', [
    (5, None, None), (1, None, None), (500, None, None), (4, 10, 200),
    (3, None, 600), (2, 0, 1)])
def test_the_last_rows_are_those_of_the_whole_run(tmp_path, backend, keys,
                                                  limit, start, stop):
    # The rows sent are the tail of every row of the range.
    source = str(tmp_path / 'rows.sqlite')
    log = SQLiteLog(source) if backend == 'sqlite' else TrainingLog()
    log_sparse_run(log)
    log.flush()
    if backend == 'pickle':
        source = str(tmp_path / 'rows.pkl')
        with open(source, 'wb') as f:
            pickle.dump(log, f)
    query = {'run': log.h_uuid, 'limit': str(limit)}
    if keys:
        query['keys'] = ','.join(keys)
    query.update((name, str(value)) for name, value in (
        ('start', start), ('stop', stop)) if value is not None)
    with Source(source, strict=True) as opened:
        sent = rows_api.rows(opened, query)
    every = sorted(
        (time, dict((key, value) for key, value in row.items()
                    if keys is None or key in keys))
        for time, row in log.items()
        if (start is None or time >= start) and (stop is None or time < stop)
        and any(keys is None or key in keys for key in row))[-limit:]
    assert [row[0] for row in sent['rows']] == [time for time, _ in every]
    for row, (time, values) in zip(sent['rows'], every):
        assert dict((key, text) for key, text in zip(sent['columns'],
                                                     row[1:])
                    if text != '') == dict(
            (key, tables.cell(value)) for key, value in values.items())
    log.close()


def test_keys_are_escaped_and_no_inline_script_may_run(hostile_database):
    uuid = blocks_log.list_runs(hostile_database)[0].uuid
    with serving(hostile_database) as server:
        _, headers, page = get(server, '/')
        _, _, run_page = get(server, '/run/' + uuid)
    for html in (page, run_page):
        assert '<script>window' not in html
        assert '<b>bold' not in html
        assert all(line.startswith('<script src="/static/') for line in
                   html.splitlines() if '<script' in line)
    assert '&lt;script&gt;window.pwned = 1&lt;/script&gt;' in page
    assert "default-src 'self'" in headers['Content-Security-Policy']
    assert headers['X-Content-Type-Options'] == 'nosniff'


@pytest.mark.parametrize('path', [
    '/static/../server.py', '/static/%2e%2e/server.py', '/static/',
    '/static//etc/passwd', '/../../etc/passwd', '/etc/passwd',
    '/static/app.js/', '/run/', '/run/zzz', '/run/00000000',
    '/run/a/b', '/compare?runs=ffffffff', '/api/series?runs=ffffffff',
    '/api/nothing'])
def test_what_is_not_there_is_a_404_page(demo_database, path):
    with serving(demo_database) as server:
        status, headers, body = get(server, path)
    assert status == 404
    assert 'Traceback' not in body and 'root:' not in body
    if path.startswith('/api/'):
        assert json.loads(body)['error']
    else:
        assert '<h1>Not found</h1>' in body and 'href="/"' in body


@pytest.mark.parametrize('query', [
    '/api/series', '/api/series?runs={uuid}&start=abc',
    '/api/series?runs={uuid}&stop=-1', '/api/series?runs={uuid}&points=1',
    '/api/rows', '/api/rows?run={uuid}&limit=many',
    '/api/rows?run={uuid}&limit=0', '/api/csv',
    '/api/series?runs={uuid}&smoothing=1', '/api/series?runs={uuid}'
    '&smoothing=high', '/api/series?runs={uuid}&numbers=binary',
    '/api/series?runs={uuid}&clock=yes', '/compare',
    '/compare?runs='])
def test_a_bad_query_is_a_400_that_says_what_was_wrong(demo_database,
                                                       query):
    uuid = blocks_log.list_runs(demo_database)[0].uuid
    with serving(demo_database) as server:
        status, _, body = get(server, query.format(uuid=uuid))
    assert status == 400
    assert 'Traceback' not in body
    message = json.loads(body)['error'] if '/api/' in query else body
    assert any(word in message for word in ('runs', 'run=', 'start', 'stop',
                                            'points', 'limit', 'smoothing',
                                            'numbers', 'clock'))


def test_the_static_files_are_served_with_their_licence(demo_database):
    with serving(demo_database) as server:
        for name in ('app.js', 'style.css', 'uPlot.iife.min.js',
                     'uPlot.min.css', 'uPlot.LICENSE'):
            status, headers, body = get(server, '/static/' + name)
            assert status == 200 and body
        assert 'MIT' in get(server, '/static/uPlot.LICENSE')[2]


def test_serving_never_writes_to_the_store(tmp_path):
    path = str(tmp_path / 'live.sqlite')
    log = SQLiteLog(path)  # a run being written, left open: WAL and all
    for time in range(1, 50):
        log.status['iterations_done'] = time
        log.current_row['loss'] = 1.0 / time
    log.flush()

    def served_everything():
        with serving(path) as server:
            for page in ('/', '/run/' + log.h_uuid, '/api/runs',
                         '/api/series?runs=' + log.h_uuid,
                         '/api/rows?run=' + log.h_uuid,
                         '/api/csv?runs=' + log.h_uuid, '/run/ffffffff'):
                assert get(server, page)[0] in (200, 404)

    def stored():
        # SQLite's -shm index of the WAL is shared within a process: a
        # reader in the writer's own process (as here) marks what it reads
        # in its writer's map. (A reading process never writes it:
        # test_misuse.TestReadOnly.)
        return dict((name, state) for name, state in file_state(
            path).items() if not name.endswith('-shm'))
    before = stored()
    assert set(before) == {'live.sqlite', 'live.sqlite-wal',
                           'live.sqlite-claims'}
    served_everything()
    assert stored() == before
    log.close()
    before = file_state(path)
    assert list(before) == ['live.sqlite', 'live.sqlite-claims']
    served_everything()
    assert file_state(path) == before


def test_a_missing_file_is_not_created(tmp_path):
    path = str(tmp_path / 'nothing.sqlite')
    with serving(path) as server:
        status, _, body = get(server, '/')
    assert status in (404, 500) and 'Traceback' not in body
    assert os.listdir(str(tmp_path)) == []


def test_a_file_broken_while_served_is_an_error_page(tmp_path):
    path = str(tmp_path / 'broken.sqlite')
    with SQLiteLog(path) as log:
        log.current_row['loss'] = 1.0
    with serving(path) as server:
        assert get(server, '/')[0] == 200
        with open(path, 'wb') as f:
            f.write(b'not a database at all' * 100)
        status, _, body = get(server, '/')
    assert status == 500
    assert 'Traceback' not in body and '<h1>Error</h1>' in body


def test_a_pickled_log_is_served_without_running_its_code(tmp_path):
    log = TrainingLog()
    for time in range(1, 5):
        log.status['iterations_done'] = time
        log.current_row['loss'] = float(time)
    path = str(tmp_path / 'log.pkl')
    with open(path, 'wb') as f:
        pickle.dump(log, f)
    with serving(path) as server:
        _, _, listed = get(server, '/api/runs')
        _, _, series = get(server, '/api/series?runs=' + log.h_uuid)
        assert get(server, '/run/ffffffff')[0] == 404
    assert [run['uuid'] for run in json.loads(listed)] == [log.h_uuid]
    assert json.loads(series)['runs'][log.h_uuid]['keys']['loss'] == [
        [1, 2, 3, 4], [1.0, 2.0, 3.0, 4.0]]


def test_a_postgresql_store_is_served(postgresql_url):
    log = blocks_log.PostgreSQLLog(postgresql_url)
    for time in range(1, 6):
        log.status['iterations_done'] = time
        log.current_row['loss'] = 0.5 * time
    log.close()
    with serving(postgresql_url) as server:
        status, _, page = get(server, '/')
        _, _, series = get(server, '/api/series?runs=' + log.h_uuid)
    assert status == 200 and log.h_uuid[:8] in page
    assert 'secret' not in page  # the password is never shown
    assert json.loads(series)['runs'][log.h_uuid]['keys']['loss'][1] == [
        0.5, 1.0, 1.5, 2.0, 2.5]


def serve_process(*arguments):
    return subprocess.Popen(
        [sys.executable, '-m', 'blocks_log', 'serve'] + list(arguments),
        stdout=subprocess.PIPE, stderr=subprocess.PIPE,
        universal_newlines=True, cwd=ROOT,
        env=dict(os.environ, PYTHONPATH=ROOT))


def test_the_serve_command_prints_its_address(demo_database):
    process = serve_process(demo_database, '--port', '0')
    try:
        line = process.stdout.readline()
        assert line.startswith('serving ' + demo_database + ' at ')
        url = line.split(' at ')[1].split()[0]
        assert url.startswith('http://127.0.0.1:')
        import urllib.request
        with urllib.request.urlopen(url, timeout=30) as response:
            assert response.status == 200
    finally:
        process.terminate()
        process.communicate(timeout=30)


def test_another_host_than_loopback_needs_public_and_is_warned_about(
        demo_database):
    refused = serve_process(demo_database, '--port', '0', '--host',
                            '0.0.0.0')
    _, errors = refused.communicate(timeout=30)
    assert refused.returncode == 2 and '--public' in errors
    assert len(errors.strip().splitlines()) == 1
    process = serve_process(demo_database, '--port', '0',
                            '--host', '0.0.0.0', '--public')
    try:
        assert process.stdout.readline().startswith('serving ')
    finally:
        process.terminate()
        _, errors = process.communicate(timeout=30)
    assert 'anyone who can reach 0.0.0.0' in errors


@pytest.mark.parametrize('arguments, message', [
    (['--port', '70000'], 'at most 65535'),
    (['--port', 'x'], '--port'),
])
def test_serve_refuses_bad_arguments(demo_database, arguments, message):
    process = serve_process(demo_database, *arguments)
    _, errors = process.communicate(timeout=30)
    assert process.returncode == 2 and message in errors
    assert 'Traceback' not in errors


def test_serve_refuses_a_source_it_cannot_read_or_a_port_in_use(
        tmp_path, demo_database):
    process = serve_process(str(tmp_path / 'missing.sqlite'))
    _, errors = process.communicate(timeout=30)
    assert process.returncode == 2 and 'missing.sqlite' in errors
    with serving(demo_database) as server:
        port = str(server.server_address[1])
        process = serve_process(demo_database, '--port', port)
        _, errors = process.communicate(timeout=30)
    assert process.returncode == 2
    assert 'cannot listen on 127.0.0.1:' + port in errors
    assert not os.path.exists(str(tmp_path / 'missing.sqlite'))


# What a hostile world does to a server: it must not be the way in nor the
# way down (issue 19).

def raw_request(server, request, host=None, port=None):
    """The status of a request sent as bytes (`host` and `port`: where to
    connect, by default the server's)."""
    import socket
    address = (host or server.server_address[0],
               port or server.server_address[1])
    with socket.create_connection(address, timeout=30) as connection:
        connection.sendall(request.encode('ascii'))
        answer = b''
        while b'\r\n' not in answer:
            part = connection.recv(4096)
            if not part:
                break
            answer += part
    return int(answer.split()[1]) if answer else None


@pytest.mark.parametrize('host, status', [
    ('127.0.0.1:{port}', 200), ('localhost:{port}', 200),
    ('[::1]:{port}', 200), ('evil.example:{port}', 421),
    ('127.0.0.1.nip.io:{port}', 421), ('127.0.0.1:{other}', 421),
    ('127.0.0.1', 421), ('', 421), (None, 421)])
def test_only_requests_for_this_server_are_answered(demo_database, host,
                                                    status):
    # A page of another site whose name resolves here (DNS rebinding)
    # sends its own name as the Host: it reads nothing.
    with serving(demo_database) as server:
        port = server.server_address[1]
        header = '' if host is None else 'Host: {}\r\n'.format(
            host.format(port=port, other=port + 1))
        for path in ('/', '/api/runs'):
            assert raw_request(server, 'GET {} HTTP/1.1\r\n{}Connection: '
                               'close\r\n\r\n'.format(path, header)) == status


def test_idle_and_slow_clients_are_cut(demo_database, monkeypatch):
    import socket
    from blocks_log.web import server as server_module
    monkeypatch.setattr(server_module, 'IDLE_SECONDS', 1)
    monkeypatch.setattr(server_module, 'REQUEST_SECONDS', 1)
    with serving(demo_database) as server:
        # Idle: a connection that sends nothing is closed.
        with socket.create_connection(server.server_address[:2],
                                      timeout=30) as idle:
            assert idle.recv(100) == b''
        # Slow: headers a byte at a time, each within the idle timeout,
        # are cut once the request has taken too long, not answered.
        with socket.create_connection(server.server_address[:2],
                                      timeout=30) as slow:
            cut = False
            for byte in 'GET / HTTP/1.1\r\nX-Slow: ' + 'x' * 200:
                try:
                    slow.sendall(byte.encode())
                    if select_readable(slow, 0.3) and slow.recv(100) == b'':
                        cut = True
                        break
                except OSError:
                    cut = True
                    break
            assert cut, 'a slow client held its connection'
        assert get(server, '/api/runs')[0] == 200


def select_readable(connection, seconds):
    import select
    return bool(select.select([connection], [], [], seconds)[0])


def test_many_requests_at_once_are_all_answered(demo_database):
    # 200 at once: each is answered (200, or a 503 past the connections
    # answered at once), none left to time out in the listen queue.
    import concurrent.futures
    with serving(demo_database) as server:
        with concurrent.futures.ThreadPoolExecutor(200) as pool:
            statuses = list(pool.map(lambda _: get(server, '/api/runs')[0],
                                     range(200)))
    assert set(statuses) <= {200, 503} and statuses.count(200) >= 64


@pytest.mark.parametrize('query, status', [
    ('/api/series?runs=' + ','.join(['last'] * 3000), 200),
    ('/api/series?runs=' + ','.join('{:x}'.format(n) for n in range(300)),
     400),
    ('/api/series?runs=last&keys=' + ','.join('k{}'.format(n)
                                              for n in range(300)), 400),
    ('/api/series?runs=last&points=100001', 400),
    ('/api/rows?run=last&limit=10001', 400),
    ('/api/csv?runs=' + ','.join('{:x}'.format(n) for n in range(300)),
     400)])
def test_what_one_request_may_ask_for_is_bounded(demo_database, query,
                                                 status):
    with serving(demo_database) as server:
        answer, _, body = get(server, query)
    assert answer == status
    if status == 400:
        assert 'at most' in json.loads(body)['error'] or (
            'from' in json.loads(body)['error'])


def test_the_work_for_a_closed_connection_stops(tmp_path, monkeypatch):
    # A page closed while its charts load: the server stops reading runs.
    import socket
    import threading
    path = str(tmp_path / 'many.sqlite')
    uuids = []
    for _ in range(40):
        with SQLiteLog(path) as log:
            log[1]['loss'] = 1.0
            uuids.append(log.h_uuid)
    opened, closed = [], threading.Event()
    real_open = data.open_run

    def counting_open(source, name):
        opened.append(name)
        if len(opened) == 3:
            closed.wait(30)  # the client is gone by the next run
        return real_open(source, name)
    monkeypatch.setattr(data, 'open_run', counting_open)
    with serving(path) as server:
        with socket.create_connection(server.server_address[:2],
                                      timeout=30) as client:
            client.sendall('GET /api/series?runs={} HTTP/1.1\r\nHost: '
                           '127.0.0.1:{}\r\n\r\n'.format(
                               ','.join(uuids),
                               server.server_address[1]).encode())
            while len(opened) < 3:
                select_readable(client, 0.01)
        closed.set()
        assert get(server, '/api/runs')[0] == 200  # it goes on serving
    assert len(opened) <= 4


def test_ipv6_loopback(demo_database):
    with serving(demo_database, host='::1') as server:
        assert server.url.startswith('http://[::1]:')
        assert get(server, '/api/runs')[0] == 200


def test_the_last_rows_are_read_from_the_end(tmp_path, monkeypatch):
    # All keys share their last times: the rows table and show --tail
    # read a window at the end of the run, not the run.
    path = str(tmp_path / 'long.sqlite')
    with SQLiteLog(path) as log:
        for time in range(1, 5001):
            log.status['iterations_done'] = time
            log.current_row.update({'a': float(time), 'b': time})
    read = []
    real_series = SQLiteLog.series

    def measured_series(self, keys=None, start=None, stop=None):
        columns = real_series(self, keys, start, stop)
        read.append(sum(len(times) for times, _ in columns.values()))
        return columns
    monkeypatch.setattr(SQLiteLog, 'series', measured_series)
    with Source(path, strict=True) as opened:
        answer = rows_api.rows(opened, {'run': log.h_uuid, 'limit': '3'})
    assert [row[0] for row in answer['rows']] == [4998, 4999, 5000]
    assert sum(read) <= 2 * 64
    read[:] = []
    from blocks_log.cli import main
    import io
    out = io.StringIO()
    assert main(['show', path, '--tail', '3'], out) == 0
    assert out.getvalue().split()[-3] == '5000'
    assert sum(read) <= 2 * 64


def test_connections_past_the_bound_get_a_503(demo_database, monkeypatch):
    # Connections left open (idle, or by a process that means harm) hold
    # a thread each: past MAX_CONNECTIONS, a new one is told to come back.
    import socket
    from blocks_log.web import server as server_module
    monkeypatch.setattr(server_module, 'MAX_CONNECTIONS', 5)
    with serving(demo_database) as server:
        idle = [socket.create_connection(server.server_address[:2],
                                         timeout=30) for _ in range(5)]
        try:
            assert get(server, '/api/runs')[0] == 503
        finally:
            for connection in idle:
                connection.close()
        assert eventually_answered(server)


def eventually_answered(server, tries=200):
    import time
    for _ in range(tries):
        if get(server, '/api/runs')[0] == 200:
            return True
        time.sleep(0.05)
    return False


def test_connections_wait_in_the_queue_until_answered(demo_database):
    # The system holds connections the server has not taken yet, up to
    # its listen queue: 100 made before it takes any are all held.
    import select
    import socket
    from blocks_log.web.server import Server
    server = Server(demo_database, port=0)  # listening, not answering
    clients = []
    try:
        for _ in range(100):
            client = socket.socket()
            client.setblocking(False)
            client.connect_ex(server.server_address[:2])
            clients.append(client)
        # A connection the queue holds completes its handshake at once;
        # one past it waits for a SYN the system dropped.
        _, connected, _ = select.select([], clients, [], 2)
        assert len(connected) == 100
    finally:
        for client in clients:
            client.close()
        server.server_close()


def test_a_client_that_reads_nothing_does_not_hold_its_thread(
        tmp_path, monkeypatch):
    # Asked for a large CSV and never reading it: the server's writes
    # time out, and its thread serves others again.
    import socket
    from blocks_log.web import server as server_module
    monkeypatch.setattr(server_module, 'MAX_CONNECTIONS', 1)
    monkeypatch.setattr(server_module, 'IDLE_SECONDS', 1)
    path = str(tmp_path / 'large.sqlite')
    with SQLiteLog(path) as log:  # a CSV of about 10 MB
        for time in range(1, 30001):
            log.status['iterations_done'] = time
            log.current_row.update(
                ('key{}'.format(key), time / (key + 7.0)) for key in range(16))
    with serving(path) as server:
        stuck = socket.socket()
        stuck.setsockopt(socket.SOL_SOCKET, socket.SO_RCVBUF, 4096)
        stuck.connect(server.server_address[:2])
        stuck.sendall('GET /api/csv?runs={} HTTP/1.1\r\nHost: 127.0.0.1:{}'
                      '\r\n\r\n'.format(log.h_uuid, server.server_address[1])
                      .encode())
        try:
            assert eventually_answered(server)
        finally:
            stuck.close()


def test_a_request_opens_its_source_once(demo_database, monkeypatch):
    # One Source a request: the file's header read once, the store opened
    # once, the runs listed once (/api/series did each two or three times).
    from blocks_log import sources
    from blocks_log.stores.sqlite import SQLiteStore
    counts = {'header': 0, 'store': 0, 'runs': 0}

    def counting(name, real):
        def counted(*arguments, **options):
            counts[name] += 1
            return real(*arguments, **options)
        return counted
    monkeypatch.setattr(sources, 'is_sqlite', counting(
        'header', sources.is_sqlite))
    monkeypatch.setattr(SQLiteStore, '__init__', counting(
        'store', SQLiteStore.__init__))
    monkeypatch.setattr(SQLiteStore, 'runs', counting(
        'runs', SQLiteStore.runs))
    with serving(demo_database) as server:
        uuid = blocks_log.list_runs(demo_database)[-1].uuid
        counts.update(header=0, store=0, runs=0)
        for path in ('/api/series?runs=last', '/api/rows?run=' + uuid[:6],
                     '/run/last', '/api/csv?runs=last,' + uuid):
            assert get(server, path)[0] == 200
            assert counts == {'header': 1, 'store': 1, 'runs': 1}, path
            counts.update(header=0, store=0, runs=0)


def test_the_summary_of_a_key_is_its_last_and_extreme_numbers(tmp_path):
    path = str(tmp_path / 'summary.sqlite')
    with SQLiteLog(path) as log:
        for time, value in enumerate([3.0, float('nan'), -1.5, float('inf'),
                                      2, 'text', 0.5], 1):
            log.status['iterations_done'] = time
            log.current_row['loss'] = value
        mixed = log.h_uuid
    with SQLiteLog(path) as log:
        log.status['iterations_done'] = 1
        log.current_row['other'] = 1.0
    with SQLiteLog(path) as log:
        log.status['iterations_done'] = 1
        log.current_row['loss'] = float('nan')
        none = log.h_uuid
    with serving(path) as server:
        status, _, body = get(server, '/api/summary?key=loss')
        missing, _, _ = get(server, '/api/summary')
    assert status == 200 and missing == 400
    assert json.loads(body) == {
        mixed: {'last': [7, 0.5], 'min': [3, -1.5], 'max': [1, 3.0]},
        none: {'last': None, 'min': None, 'max': None}}


SUMMED = st.one_of(
    st.floats(allow_nan=True, allow_infinity=True),
    st.integers(-3, 3), st.sampled_from([2 ** 60 + 1, -2 ** 60, True, 'a',
                                         None, 1.0, 0.0, -0.0]))
LINEAGE_STEPS = st.lists(st.one_of(
    st.tuples(st.just('next'), SUMMED),  # the next iteration's value
    st.tuples(st.just('late'), st.integers(0, 12), SUMMED),  # a past row's
    st.tuples(st.just('delete'), st.integers(0, 12)),
    st.tuples(st.just('resume')),  # as a checkpoint does
    st.tuples(st.just('branch'), st.integers(0, 30)),  # from an older run
    st.tuples(st.just('window'), st.sampled_from([1, 2, 65536]))),
    max_size=30)


@settings(max_examples=100, deadline=None)
@given(LINEAGE_STEPS)
# A child's value at its parent's last time, hiding the parent's smallest.
@example([('next', 5.0), ('resume',), ('late', 1, 7.0)])
# The same, from a grandchild, past a run that holds nothing of the key.
@example([('next', 5.0), ('resume',), ('resume',), ('late', 1, 7.0)])
# A deleted value, in a child, of the parent's largest.
@example([('next', 5.0), ('next', 1.0), ('resume',), ('delete', 1),
          ('next', 2.0)])
def test_each_runs_summary_is_read_through_its_lineage(steps):
    # Runs that only add later times build on their parent's summary;
    # those that write or delete values of earlier times, branch off an
    # older run, or hold nothing of the key, each as read through their
    # lineage; read a window of 1, 2 or 65536 times at a time.
    import tempfile
    from test_reads import summary_of
    with tempfile.TemporaryDirectory() as directory:
        path = os.path.join(directory, 'tree.sqlite')
        log, uuids, window = SQLiteLog(path), [], streamed.WINDOW
        try:
            for step in steps:
                uuids.append(log.h_uuid)
                if step[0] == 'next':
                    log.status['iterations_done'] += 1
                    log.current_row['loss'] = step[1]
                elif step[0] == 'late':
                    log[step[1]]['loss'] = step[2]
                elif step[0] == 'delete' and 'loss' in log[step[1]]:
                    del log[step[1]]['loss']
                elif step[0] == 'resume':
                    log.resume()
                elif step[0] == 'branch':
                    log.close()
                    log = SQLiteLog(path, uuid=uuids[step[1] % len(uuids)])
                    log.resume()
                elif step[0] == 'window':
                    window = step[1]
        finally:
            log.close()
        original = streamed.WINDOW
        streamed.WINDOW = window
        try:
            with Source(path, strict=True) as source:
                found = data.summary(source, {'key': 'loss'})
                for run in source.runs():
                    if 'loss' in run.keys:
                        assert found.pop(run.uuid) == summary_of(
                            *source.open(run.uuid).series(['loss'])['loss'])
        finally:
            streamed.WINDOW = original
        assert found == {}


@pytest.mark.parametrize('window', [1, 65536])
def test_the_summary_gives_ints_as_logged(tmp_path, monkeypatch, window):
    # Ints past 2 ** 53 (seeds, say) among floats and NaN, read in windows
    # of one value each (ints alone) and in one window (a mix): the
    # page's summary holds them exactly, as text, which a JavaScript number
    # would round; a float, and an int a float holds, as numbers.
    path = str(tmp_path / 'ints.sqlite')
    with SQLiteLog(path) as log:
        for time, value in enumerate([2 ** 60 + 3, float('nan'), 2 ** 60 + 1,
                                      0.5, -2 ** 60 - 1, 2 ** 53], 1):
            log[time]['seed'] = value
        uuid = log.h_uuid
    monkeypatch.setattr(streamed, 'WINDOW', window)
    with Source(path, strict=True) as opened:
        found = json.loads(json.dumps(data.summary(opened,
                                                   {'key': 'seed'})))
    assert found[uuid] == {'last': [6, 2 ** 53],
                           'min': [5, str(-2 ** 60 - 1)],
                           'max': [1, str(2 ** 60 + 3)]}


def windows_of(times, begin, window):
    """``streamed.windows`` over values at `times` (sorted), from `begin`,
    `window` values at a time: what it gives, and the reads it made."""
    reads = []

    def read(start, stop):
        reads.append((start, stop))
        low, high = (bisect.bisect_left(times, bound)
                     for bound in (start, stop))
        return times[low:high], [time * 2 for time in times[low:high]]
    original = streamed.WINDOW
    streamed.WINDOW = window
    try:
        found = list(streamed.windows(read, begin, times[-1] + 1))
    finally:
        streamed.WINDOW = original
    assert [time for each, _ in found for time in each] == times
    assert all(values == [time * 2 for time in each]
               for each, values in found)
    # Each window next to the one before, four times as wide at most.
    assert [start for start, _ in reads] == [begin] + [
        stop for _, stop in reads[:-1]]
    assert all(stop - start <= 4 * (end - first) for (first, end), (
        start, stop) in zip(reads, reads[1:]))
    return found, reads


@settings(max_examples=200, deadline=None)
@given(st.integers(1, 64), st.lists(st.integers(1, 2 ** 50), min_size=1,
                                    max_size=200), st.integers(0, 2 ** 60))
def test_windows_read_each_value_once_in_order(window, gaps, begin):
    # The windows of a chart or a summary, over values spaced anyhow.
    windows_of([begin + sum(gaps[:index + 1]) for index in range(len(gaps))],
               begin, window)


@settings(max_examples=200, deadline=None)
@given(st.integers(1, 64), st.integers(1, 2 ** 50), st.integers(1, 3000),
       st.integers(0, 2 ** 60))
def test_windows_read_values_far_apart_a_few_at_a_time(window, gap, count,
                                                       begin):
    # Values evenly spaced, however far apart (a clock's nanoseconds as
    # the time): a read for about `window` values, once the windows have
    # grown to hold them (fourfold a read), not a dozen reads a value
    # (which took the runs page 37 s, a chart 93 s, for 60,000 values
    # 2 ** 44 apart); and no window holds many more than `window`.
    found, reads = windows_of([begin + gap * (index + 1)
                               for index in range(count)], begin, window)
    assert len(reads) <= count // window + gap.bit_length() // 2 + 3
    assert max(len(times) for times, _ in found) <= 4 * window + 1


@pytest.mark.parametrize('window', [1, 7, 65536])
def test_the_summary_read_a_window_at_a_time(tmp_path, monkeypatch,
                                             window):
    # Extremes that repeat (the first one is given), NaN and ints among
    # floats, the last number before a value that is none: however the
    # windows fall.
    path = str(tmp_path / 'windows.sqlite')
    logged = {}
    with SQLiteLog(path) as log:
        for time in range(1, 200):
            value = float('nan') if time % 17 == 0 else (
                time * 37 % 11 - 5 if time % 2 else (time * 37 % 11) / 2.0)
            logged[time] = value
            log.status['iterations_done'] = time
            log.current_row['x'] = value
        log.status['iterations_done'] = 200
        log.current_row['x'] = 'text'
        uuid = log.h_uuid
    numbers = [(time, value) for time, value in sorted(logged.items())
               if value == value]
    monkeypatch.setattr(streamed, 'WINDOW', window)
    with Source(path, strict=True) as opened:
        found = data.summary(opened, {'key': 'x'})[uuid]
    assert found == {
        'last': list(numbers[-1]),
        'min': list(min(numbers, key=lambda pair: pair[1])),
        'max': list(max(numbers, key=lambda pair: pair[1]))}


@pytest.mark.parametrize('query', ['', '&keys=every_3,late', '&start=10'
                                   '&stop=600'])
def test_exports_are_sent_as_they_are_read(tmp_path, monkeypatch, query):
    # A few values at a time (about 7 here), however long the runs: every
    # row of each run exported, exactly, in CSV and in JSON.
    path = str(tmp_path / 'export.sqlite')
    uuids = []
    for _ in range(2):
        with SQLiteLog(path) as log:
            log_sparse_run(log)
            uuids.append(log.h_uuid)
    monkeypatch.setattr(rows_api, 'EXPORT_VALUES', 7)
    monkeypatch.setattr(tables, 'WINDOW_SPAN', 4)
    read = []
    checked_series = tables.checked_series

    def counted(*arguments, **options):
        found = checked_series(*arguments, **options)
        read.append(sum(len(times) for times, _ in found.values()))
        return found
    monkeypatch.setattr(tables, 'checked_series', counted)
    with serving(path) as server:
        status, headers, text = get(server, '/api/csv?runs={}{}'.format(
            ','.join(uuids), query))
        _, _, exported = get(server, '/api/json?runs={}{}'.format(
            ','.join(uuids), query))
    parameters = dict(part.split('=') for part in query.split('&') if part)
    start, stop = int(parameters.get('start', 0)), int(parameters.get(
        'stop', 10 ** 9))
    with SQLiteLog(path, uuid=uuids[0], read_only=True) as log:
        every = dict((time, dict(log[time])) for time in log)
    rows = dict((time, values) for time, values in every.items()
                if start <= time < stop)
    # the keys named, or every key of the runs
    keys = parameters['keys'].split(',') if 'keys' in parameters else sorted(
        set(key for values in every.values() for key in values))
    expected = [['run', 'time'] + keys] + [
        [uuid, str(time)] + [tables.csv_cell(values.get(key)) for key in keys]
        for uuid in uuids for time, values in sorted(rows.items())
        if any(key in values for key in keys)]
    assert status == 200 and headers['Transfer-Encoding'] == 'chunked'
    assert list(csv.reader(io.StringIO(text))) == expected
    assert max(read) <= 8 * 7 and len(read) > 2 * len(rows) // 7
    exported = json.loads(exported)
    for uuid in uuids:
        assert exported[uuid] == dict(
            (key, [[time, rows_api._json_value(values[key])] for time, values
                   in sorted(rows.items()) if key in values])
            for key in keys)
