"""``blocks-log serve`` in a real headless Chromium (see browser.py): what
a person sees on the runs page, a run's page, a comparison and the 404
page, at a laptop's size and at a phone's width; a run growing while its
page is open; a hostile key.

A screenshot of each page is saved in ``$BLOCKS_LOG_SCREENSHOTS``, or else
in ``screenshots/`` of pytest's temporary directory of the run.
"""
import csv
import io
import json
import math
import os
import time as clock
import urllib.parse
import urllib.request

import pytest

import blocks_log
from blocks_log import SQLiteLog, TrainingLog

import browser
from test_processes import start_writer
from test_serve import HOSTILE
from web import serving

SIZES = {'laptop': (1280, 800), 'phone': (390, 844),
         'small phone': (375, 667)}


@pytest.fixture(scope='module')
def chromium(tmp_path_factory):
    session = browser.start(tmp_path_factory.mktemp('chromium-profile'))
    yield session
    session.quit()


@pytest.fixture(scope='module')
def screenshots(tmp_path_factory):
    place = os.environ.get('BLOCKS_LOG_SCREENSHOTS') or str(
        tmp_path_factory.getbasetemp() / 'screenshots')
    os.makedirs(place, exist_ok=True)

    def save(session, name):
        assert session.save_screenshot(os.path.join(place, name + '.png'))
    return save


def wait(session, condition, timeout=30):
    from selenium.webdriver.support.ui import WebDriverWait
    return WebDriverWait(session, timeout, poll_frequency=0.05).until(
        lambda _: session.execute_script('return ' + condition))


def open_page(session, url, size='laptop'):
    session.get_log('browser')  # what pages before this one reported
    browser.viewport(session, *SIZES[size])
    session.get(url)
    if session.execute_script("return !!document.getElementById('app')"):
        wait(session, "document.getElementById('app').dataset.ready")


def points(session):
    """{key: points in its chart}."""
    return session.execute_script(
        'var found = {}; document.querySelectorAll(".chart").forEach('
        'function (c) { found[c.dataset.key] = Number(c.dataset.points); });'
        'return found;')


def logged(session):
    """{key: values logged, as its chart says}."""
    return session.execute_script(
        'var found = {}; document.querySelectorAll(".chart").forEach('
        'function (c) { found[c.dataset.key] = Number(c.dataset.logged); });'
        'return found;')


def fits(session):
    """Nothing sticks out sideways: the page is no wider than the
    screen, every chart fits in its box, and no table of the page scrolls
    sideways."""
    return session.execute_script(
        'var wide = document.documentElement.scrollWidth <= window.innerWidth'
        ' && Array.prototype.every.call(document.querySelectorAll(".table"),'
        ' function (t) { return t.scrollWidth <= t.clientWidth; });'
        'var charts = Array.prototype.every.call('
        '  document.querySelectorAll(".chart"), function (box) {'
        '    var canvas = box.querySelector("canvas");'
        '    return canvas.getBoundingClientRect().right <= '
        '      box.getBoundingClientRect().right + 1; });'
        'return wide && charts;')


def errors(session):
    """What the browser's console reported as errors (a script failing, a
    Content-Security-Policy refusal, a file not found)."""
    return [entry['message'] for entry in session.get_log('browser')
            if entry['level'] == 'SEVERE']


def count_values(source, uuid):
    with SQLiteLog(source, uuid=uuid, read_only=True) as log:
        return dict((key, len(times))
                    for key, (times, _) in log.series().items())


@pytest.mark.parametrize('size', sorted(SIZES))
def test_the_runs_page_lists_the_demo_runs(chromium, demo_database,
                                           screenshots, size):
    runs = blocks_log.list_runs(demo_database)
    with serving(demo_database) as server:
        open_page(chromium, server.url, size)
        screenshots(chromium, 'runs-' + size)
        shown = chromium.execute_script(
            'return Array.prototype.map.call(document.querySelectorAll('
            '"#runs tbody tr"), function (row) { return [row.querySelector('
            '".pick").value, !!row.querySelector(".lineage")]; });')
        assert fits(chromium)
        assert errors(chromium) == []
    assert sorted(shown) == sorted([run.uuid, bool(run.parent)]
                                   for run in runs)


@pytest.mark.parametrize('size', sorted(SIZES))
def test_a_run_chart_holds_every_value(chromium, demo_database,
                                       screenshots, size):
    run = blocks_log.list_runs(demo_database)[-1]
    with serving(demo_database) as server:
        open_page(chromium, server.url + 'run/' + run.uuid[:8], size)
        screenshots(chromium, 'run-' + size)
        assert points(chromium) == count_values(demo_database, run.uuid)
        legend = chromium.execute_script(
            'return Array.prototype.map.call(document.querySelectorAll('
            '".chart .u-legend .u-series"), function (s) {'
            ' return s.textContent; });')
        about = chromium.find_element('css selector', '.about').text
        # the run's id on one line, not broken
        lines = chromium.execute_script(
            'var text = document.querySelector("h1").firstChild;'
            'var range = document.createRange();'
            'range.setStart(text, text.data.indexOf(arguments[0]));'
            'range.setEnd(text, text.data.indexOf(arguments[0]) + 32);'
            'return new Set(Array.prototype.map.call(range.getClientRects(),'
            ' function (r) { return Math.round(r.top); })).size;', run.uuid)
        assert lines == 1
        assert fits(chromium)
        assert errors(chromium) == []
    assert any(text.startswith('train_loss') for text in legend)
    assert '200 iterations' in about and run.parent[:8] in about


def test_two_runs_overlaid(chromium, demo_database, screenshots):
    first, _, last = blocks_log.list_runs(demo_database)
    with serving(demo_database) as server:
        open_page(chromium, server.url)
        for uuid in (first.uuid, last.uuid):
            chromium.find_element(
                'css selector', '.pick[value="{}"]'.format(uuid)).click()
        chromium.find_element('id', 'compare').click()
        wait(chromium, "document.getElementById('app') && "
                       "document.getElementById('app').dataset.ready")
        screenshots(chromium, 'compare')
        chart = chromium.execute_script(
            'var chart = window.blocksLog.charts.train_loss.chart;'
            'return [chart.series.map(function (s) { return s.label; }),'
            ' chart.data.slice(1).map(function (d) { return d.filter('
            '  function (v) { return v !== null && v !== undefined; })'
            '  .length; })];')
        assert errors(chromium) == []
    labels, counts = chart
    # each run's logged values (faint) and their smoothing
    assert labels == ['time', first.uuid[:8] + ' (logged)', first.uuid[:8],
                      last.uuid[:8] + ' (logged)', last.uuid[:8]]
    assert counts[0::2] == [
        count_values(demo_database, first.uuid)['train_loss'],
        count_values(demo_database, last.uuid)['train_loss']]


def test_new_iterations_appear_while_the_page_is_open(chromium, tmp_path,
                                                      screenshots):
    database = str(tmp_path / 'training.sqlite')
    writer, uuid = start_writer(database, 80, pause=30)
    while writer.stdout.readline().strip() != 'paused':
        pass
    with serving(database) as server:
        open_page(chromium, server.url + 'run/' + uuid)
        assert set(points(chromium).values()) == set(
            count_values(database, uuid).values())
        writer.stdin.write('\n')
        writer.stdin.flush()
        writer.communicate(timeout=60)  # 80 iterations, committed
        final = set(count_values(database, uuid).values())
        assert len(final) == 1
        # within 2 s of the commit, without a reload
        wait(chromium, 'Object.values(window.blocksLog.charts).every('
                       'function (c) { return Number(c.box.dataset.points)'
                       ' === ' + str(final.pop()) + '; })', timeout=2)
        screenshots(chromium, 'live')
        assert errors(chromium) == []


def fetched(session):
    """The /api/series requests the page made, each as its query."""
    from urllib.parse import parse_qs, urlsplit
    return [dict((name, values[0]) for name, values in parse_qs(
        urlsplit(url).query).items()) for url in session.execute_script(
            'return performance.getEntriesByType("resource").map('
            'function (e) { return e.name; });') if '/api/series' in url]


def test_a_run_that_grows_large_stays_downsampled(chromium, tmp_path):
    database = str(tmp_path / 'growing.sqlite')
    log = SQLiteLog(database)

    def train(until):
        while log.status['iterations_done'] < until:
            log.status['iterations_done'] += 1
            log.current_row['loss'] = 1.0 / log.status['iterations_done']
        log.flush()
    train(1000)
    with serving(database) as server:
        open_page(chromium, server.url + 'run/' + log.h_uuid)
        wanted = int(fetched(chromium)[0]['points'])
        # 1,500 iterations more at a time: what the page appends is cut
        # into buckets again in the page once it passes twice what a chart
        # draws, and the run is never fetched whole again
        for until in (2500, 4000, 5500, 7000, 8500):
            train(until)
            wait(chromium, 'Number(document.querySelector(".chart")'
                           '.dataset.logged) === {}'.format(until),
                 timeout=10)
            assert points(chromium)['loss'] <= 2 * (2 * wanted + 1500)
        requests = fetched(chromium)
        header = chromium.find_element('css selector', '.about').text
    log.close()
    assert 'start' not in requests[0]
    assert all(request.get('start') for request in requests[1:])
    assert '8500 iterations' in header


def test_a_hostile_key_shows_as_text(chromium, tmp_path, screenshots):
    path = str(tmp_path / 'hostile.sqlite')
    with SQLiteLog(path) as log:
        for time in range(1, 4):
            log.status['iterations_done'] = time
            log.current_row[HOSTILE] = float(time)
            log.current_row['<img src=x onerror="window.pwned=2">'] = 1.0
        uuid = log.h_uuid
    with serving(path) as server:
        open_page(chromium, server.url)
        keys = chromium.find_element('css selector', 'td.keys').text
        open_page(chromium, server.url + 'run/' + uuid)
        screenshots(chromium, 'hostile')
        titles = [element.text for element in chromium.find_elements(
            'css selector', '.chart h3')]
        labels = [element.text for element in chromium.find_elements(
            'css selector', '#keys label')]
        assert chromium.execute_script('return window.pwned') is None
        assert chromium.find_elements('css selector', 'main img') == []
    assert HOSTILE in keys
    assert HOSTILE in titles and HOSTILE in labels


def test_a_big_run_is_downsampled_and_finer_when_zoomed(chromium, tmp_path,
                                                        screenshots):
    path = str(tmp_path / 'big.sqlite')
    with SQLiteLog(path) as log:
        for time in range(1, 20001):
            log.status['iterations_done'] = time
            log.current_row['loss'] = 1.0 / time
        uuid = log.h_uuid
    with serving(path) as server:
        with urllib.request.urlopen(
                server.url + 'api/series?runs=' + uuid) as response:
            sent = json.loads(response.read().decode())
        open_page(chromium, server.url + 'run/' + uuid)
        shown = points(chromium)['loss']
        wanted = int(fetched(chromium)[0]['points'])
        # A person drags across a twentieth of the chart: that range
        # again, every iteration of it.
        from selenium.webdriver.common.action_chains import ActionChains
        area = chromium.find_element('css selector', '.chart .u-over')
        width = area.size['width']
        ActionChains(chromium).move_to_element_with_offset(
            area, -width // 2 + 2, 0).click_and_hold().move_by_offset(
                width // 20, 0).release().perform()
        wait(chromium, 'window.blocksLog.zoom !== null')
        low, high = chromium.execute_script('return window.blocksLog.zoom')
        inside = min(high, 20001) - max(low, 1)
        # every iteration of the range, and one beyond each end that has
        # one
        wait(chromium, 'Number(document.querySelector(".chart")'
                       '.dataset.points) === {}'.format(
                           inside + (low > 1) + (high < 20001)))
        assert logged(chromium)['loss'] == inside
        screenshots(chromium, 'zoomed')
        assert errors(chromium) == []
    # twice the pixels of the plot, at most, of a run of 20,000 values
    assert shown <= wanted < 2000
    assert len(sent['runs'][uuid]['keys']['loss'][0]) <= 2000
    assert 0 <= low < high <= 20001 and high - low < 2000


def test_a_bad_run_id_is_the_404_page(chromium, demo_database, screenshots):
    with serving(demo_database) as server:
        open_page(chromium, server.url + 'run/ffffffff')
        screenshots(chromium, 'not-found')
        heading = chromium.find_element('css selector', 'h1').text
        home = chromium.find_element('css selector', 'main a').get_attribute(
            'href')
        assert fits(chromium)
    assert heading == 'Not found'
    assert home == server.url


def drawn_pairs(session, key):
    """(time, value) of each point the chart of `key` draws."""
    return session.execute_script(
        'var d = window.blocksLog.charts[arguments[0]].chart.data;'
        'return d[0].map(function (t, i) { return [t, d[1][i]]; });', key)


def test_a_value_that_is_not_a_finite_number_is_a_gap(chromium, tmp_path):
    # NaN and inf, sent as NaN among float64s, drawn as gaps (null), not
    # as a number; every other value as it was logged.
    path = str(tmp_path / 'gaps.sqlite')
    with SQLiteLog(path) as log:
        for time in range(1, 101):
            log.status['iterations_done'] = time
            log.current_row['loss'] = {40: float('inf'), 50: float('nan')}.get(
                time, time / 100.0)
        uuid = log.h_uuid
    with serving(path) as server:
        open_page(chromium, server.url + 'run/' + uuid + '?smoothing=0')
        times, values = chromium.execute_script(
            'var chart = window.blocksLog.charts.loss.chart;'
            'return [chart.data[0], chart.data[1].map(function (value) {'
            '  return value === null ? "gap" : isNaN(value) ? "NaN" : value;'
            '})];')
        assert errors(chromium) == []
    assert times == list(range(1, 101))
    assert values == ['gap' if time in (40, 50) else time / 100.0
                      for time in times]


def test_each_point_drawn_and_hovered_is_a_value_logged_at_its_step(
        chromium, tmp_path, screenshots):
    # A run of 5,000 iterations with a spike: downsampled to the chart's
    # pixels, each bucket's smallest and largest at the steps they were
    # logged, and the legend under the cursor says what was logged there.
    path = str(tmp_path / 'spiky.sqlite')
    logged = dict((time, 1.0 + 0.01 * ((time * 7919) % 13))
                  for time in range(1, 5001))
    logged[1001] = 1.0356 * 3
    with SQLiteLog(path) as log:
        for time in range(1, 5001):
            log.status['iterations_done'] = time
            log.current_row['loss'] = logged[time]
        uuid = log.h_uuid
    with serving(path) as server:
        open_page(chromium, server.url + 'run/' + uuid + '?smoothing=0')
        pairs = drawn_pairs(chromium, 'loss')
        hovered = chromium.execute_script(
            'var chart = window.blocksLog.charts.loss.chart;'
            'chart.setCursor({left: chart.valToPos(1001, "x"), top: 5});'
            'var idx = chart.cursor.idx;'
            'var texts = Array.prototype.map.call(chart.root.querySelectorAll('
            '  ".u-legend .u-value"), function (c) { return c.textContent; });'
            'return [chart.data[0][idx], chart.data[1][idx], texts,'
            '        uPlot.fmtNum(chart.data[0][idx]),'
            '        uPlot.fmtNum(chart.data[1][idx])];')
        note = chromium.find_element('css selector', '.chart .drawn').text
        # the tooltip: the value logged there, and the extremes of the
        # steps its pixel stands for
        wanted = int(fetched(chromium)[0]['points'])
        width = 5000.0 / (wanted // 2)
        # a step drawn in the later half of its bucket
        step = next(time for time, _ in pairs
                    if 0.6 < ((time - 1) / width) % 1 < 0.9)
        tip = chromium.execute_script(
            'var chart = window.blocksLog.charts.loss.chart;'
            'chart.setCursor({left: chart.valToPos(arguments[0], "x"),'
            ' top: 5});'
            'return chart.root.parentNode.querySelector(".tip div:not(.step)")'
            '.textContent;', step)
        screenshots(chromium, 'spiky')
        assert errors(chromium) == []
    assert len(pairs) < 5000
    assert all(logged[time] == value for time, value in pairs)
    assert [1001, logged[1001]] in pairs
    time, value, texts, time_text, value_text = hovered
    assert (time, value) == (1001, logged[1001])
    assert texts == [time_text, value_text]
    assert note == '5,000 logged / {:,} drawn'.format(len(pairs))
    bucket = int((step - 1) // width)
    low = int(math.ceil(1 + bucket * width))
    high = int(math.ceil(1 + (bucket + 1) * width)) - 1
    shown = [logged[each] for each in range(low, high + 1)]
    values, steps = tip.split(' (')[1].rstrip(')').split(' over steps ')
    assert tip.startswith('loss: {}'.format(logged[step]))
    assert [float(v) for v in values.split('\u2013')] == [min(shown),
                                                          max(shown)]
    assert steps == '{:,}\u2013{:,}'.format(low, high)


def test_a_zoomed_page_follows_the_run_and_exports_its_range(
        chromium, tmp_path, screenshots):
    database = str(tmp_path / 'zoomed.sqlite')
    log = SQLiteLog(database)

    def train(until):
        while log.status['iterations_done'] < until:
            log.status['iterations_done'] += 1
            log.current_row['loss'] = float(log.status['iterations_done'])
        log.flush()
    train(500)
    with serving(database) as server:
        open_page(chromium, server.url + 'run/' + log.h_uuid)
        chromium.execute_script(
            'window.blocksLog.charts.loss.chart.setSelect('
            '{left: 100, width: 50, top: 0, height: 10});')
        wait(chromium, 'window.blocksLog.view !== null')
        low, high = chromium.execute_script('return window.blocksLog.zoom')
        link = chromium.find_element('id', 'csv').get_attribute('href')
        with urllib.request.urlopen(link) as response:
            lines = response.read().decode().splitlines()
        # zoomed, the head and the whole run still follow the training
        train(800)
        wait(chromium, 'window.blocksLog.full.runs["{}"].last_time === 800'
             .format(log.h_uuid), timeout=10)
        header = chromium.find_element('css selector', '.about').text
        still = chromium.execute_script('return window.blocksLog.zoom')
        # out of the zoom: the whole run, with what came meanwhile
        chromium.execute_script(
            'var box = window.blocksLog.charts.loss.box;'
            'box.dispatchEvent(new MouseEvent("dblclick", {bubbles: true}));')
        wait(chromium, 'window.blocksLog.zoom === null')
        whole = logged(chromium)['loss']
        screenshots(chromium, 'unzoomed')
        assert errors(chromium) == []
    log.close()
    assert lines[0] == 'run,time,loss'
    assert [int(line.split(',')[1]) for line in lines[1:]] == list(
        range(max(low, 1), min(high, 501)))
    assert '800 iterations' in header and still == [low, high]
    assert whole == 800


def test_keys_with_commas_and_backslashes(chromium, tmp_path):
    # Keys are data: the page names them in its lists (its URL, what it
    # asks for, its CSV links) with each comma and backslash escaped.
    database = str(tmp_path / 'commas.sqlite')
    keys = ['loss', 'loss,top5', 'back\\slash,']
    with SQLiteLog(database) as log:
        for time in range(1, 301):
            log.status['iterations_done'] = time
            for index, key in enumerate(keys):
                log.current_row[key] = time * (index + 1.0)
        uuid = log.h_uuid
    with serving(database) as server:
        # Two of the three picked, as the page's own URL says it.
        open_page(chromium, server.url + 'run/' + uuid + '?keys=' +
                  urllib.parse.quote('loss\\,top5,back\\\\slash\\,'))
        wait(chromium, 'document.querySelectorAll(".chart").length === 2')
        assert set(points(chromium)) == set(keys[1:])
        chromium.execute_script(
            'window.blocksLog.charts["loss,top5"].chart.setSelect('
            '{left: 100, width: 50, top: 0, height: 10});')
        wait(chromium, 'window.blocksLog.view !== null')
        wait(chromium, 'Object.values(window.blocksLog.charts).every('
                       'function (c) { return c.box.dataset.logged > 0; })')
        low, high = chromium.execute_script('return window.blocksLog.zoom')
        zoomed = logged(chromium)
        links = [chromium.find_element('id', 'csv').get_attribute('href')] + [
            chromium.execute_script(
                'return window.blocksLog.charts[arguments[0]].box'
                '.querySelector("a.csv").href', key) for key in keys[1:]]
        headers = []
        for link in links:
            with urllib.request.urlopen(link) as response:
                headers.append(next(csv.reader(io.StringIO(
                    response.read().decode())))[2:])
        assert errors(chromium) == []
    inside = min(high, 301) - max(low, 1)
    assert zoomed == dict((key, inside) for key in keys[1:])
    assert headers == [keys[1:], keys[1:2], keys[2:]]


def test_a_hidden_page_asks_for_nothing(chromium, tmp_path):
    database = str(tmp_path / 'hidden.sqlite')
    with SQLiteLog(database) as log:
        log.status['iterations_done'] = 1
        log.current_row['loss'] = 1.0
        uuid = log.h_uuid
    with serving(database) as server:
        open_page(chromium, server.url + 'run/' + uuid)
        wait(chromium, 'performance.getEntriesByType("resource").filter('
                       'function (e) { return e.name.indexOf("start=") > 0;'
                       ' }).length > 0')  # it polls while shown
        chromium.minimize_window()
        hidden = chromium.execute_script('return document.hidden')
        before = len(fetched(chromium))
        clock.sleep(2)  # four polls, were it shown
        after = len(fetched(chromium))
        chromium.maximize_window()
        browser.viewport(chromium, *SIZES['laptop'])
        # shown again: it asks at once
        wait(chromium, 'performance.getEntriesByType("resource").filter('
                       'function (e) { return e.name.indexOf("/api/series")'
                       ' > 0; }).length > ' + str(after), timeout=2)
    assert hidden is True
    assert after == before


def test_the_charts_as_drawn(chromium, demo_database, screenshots):
    # Every numeric key charted; the page's table style not on uPlot's
    # legend; the last label of the time axis whole; epoch ends in a
    # colour of their own, not to be taken for grid lines.
    run = blocks_log.list_runs(demo_database)[-1]
    with serving(demo_database) as server:
        open_page(chromium, server.url + 'run/' + run.uuid)
        screenshots(chromium, 'drawn')
        charted = sorted(points(chromium))
        borders = chromium.execute_script(
            'function border(selector) { var cell = document.querySelector('
            '  selector); return getComputedStyle(cell).borderBottomWidth; }'
            'return [border(".u-legend th"), border("#rows td")];')
        label = chromium.execute_script(
            'var chart = window.blocksLog.charts.train_loss.chart;'
            'var axis = chart.axes[0], values = axis._values,'
            '    splits = axis._splits;'
            'var ctx = chart.ctx; ctx.save(); ctx.font = axis.font[0];'
            'var half = ctx.measureText(values[values.length - 1]).width / 2;'
            'ctx.restore();'
            'return [chart.valToPos(splits[splits.length - 1], "x", true) +'
            '        half, chart.ctx.canvas.width];')
        epoch = chromium.execute_script(
            'var chart = window.blocksLog.charts.train_loss.chart;'
            'var ends = window.blocksLog.full.runs[arguments[0]].epochs;'
            'var x = Math.round(chart.valToPos(ends[0], "x", true));'
            'var box = chart.bbox, ctx = chart.ctx;'
            'var column = ctx.getImageData(x, box.top, 1, box.height).data;'
            'var red = 0;'
            'for (var i = 0; i < column.length; i += 4) {'
            '  if (column[i] > column[i + 1] + 40) { red += 1; } }'
            'return [red, box.height];', run.uuid)
        # where the run resumed its parent: a solid line of its colour
        marks = chromium.execute_script(
            'var chart = window.blocksLog.charts.train_loss.chart;'
            'var restarts = window.blocksLog.full.runs[arguments[0]].restarts;'
            'var x = Math.round(chart.valToPos(restarts[0][1], "x", true));'
            'var box = chart.bbox, ctx = chart.ctx, found = 0;'
            'var column = ctx.getImageData(x, box.top, 1, box.height).data;'
            'for (var i = 0; i < column.length; i += 4) {'
            '  if (column[i] < 60 && column[i + 2] > 140) { found += 1; } }'
            'return [restarts, found];', run.uuid)
    assert charted == ['train_loss', 'valid_loss']
    assert borders[0] == '0px' and borders[1] == '1px'
    right, canvas = label
    assert right <= canvas
    red, height = epoch
    assert red > height / 4
    restarts, restart_pixels = marks
    assert restarts == [[run.uuid, 101]]
    assert restart_pixels > height * 0.8  # a solid line, all the way


def test_the_runs_page_follows_the_runs(chromium, tmp_path):
    database = str(tmp_path / 'runs.sqlite')
    first = SQLiteLog(database)
    first.status['iterations_done'] = 1
    first.current_row['loss'] = 1.0
    first.flush()
    with serving(database) as server:
        open_page(chromium, server.url)
        chromium.find_element(
            'css selector', '.pick[value="{}"]'.format(first.h_uuid)).click()
        # the run trains on, a new one starts: both shown, the pick kept
        first.status['iterations_done'] = 40
        first.current_row['loss'] = 0.5
        first.flush()
        with SQLiteLog(database) as second:
            second.status['iterations_done'] = 3
            second.current_row['loss'] = 2.0
        wait(chromium, 'document.querySelectorAll("#runs tbody tr").length'
                       ' === 2', timeout=10)
        rows = chromium.execute_script(
            'return Array.prototype.map.call(document.querySelectorAll('
            '"#runs tbody tr"), function (row) { return [row.querySelector('
            '".pick").value, row.querySelector(".pick").checked, '
            'row.cells[3].textContent]; });')
        assert errors(chromium) == []
    first.close()
    assert sorted(rows) == sorted([[first.h_uuid, True, '40'],
                                   [second.h_uuid, False, '3']])


def smoothed_pairs(session, key, series=2):
    """(time, value) of each point of a chart's series number `series` (2:
    the smoothing of the first run)."""
    return session.execute_script(
        'var d = window.blocksLog.charts[arguments[0]].chart.data;'
        'var n = arguments[1];'
        'return d[0].map(function (t, i) { return [t, d[n][i]]; })'
        '.filter(function (p) { return p[1] !== null && p[1] !== undefined;'
        ' });', key, series)


def test_the_smoothing_is_tensorboards_and_goes_on_as_the_run_trains(
        chromium, tmp_path, screenshots):
    # TensorBoard's smoothing at its default weight, of every value logged
    # (made by the server before downsampling, then gone on with in the
    # page as new values come), the logged values faint behind it.
    from blocks_log import smoothing
    database = str(tmp_path / 'smooth.sqlite')
    log = SQLiteLog(database)
    values = {}

    def train(until):
        while log.status['iterations_done'] < until:
            log.status['iterations_done'] += 1
            time = log.status['iterations_done']
            values[time] = ((time * 7919) % 101) / 100.0 + time / 500.0
            log.current_row['loss'] = values[time]
            log.current_row['lr'] = 0.1  # one value: not smoothed
        log.flush()

    def expected():
        times = sorted(values)
        return dict(zip(times, smoothing.ema([values[t] for t in times],
                                             0.6)))
    train(3000)
    with serving(database) as server:
        open_page(chromium, server.url + 'run/' + log.h_uuid)
        first = smoothed_pairs(chromium, 'loss')
        strokes = chromium.execute_script(
            'return window.blocksLog.charts.loss.chart.series.slice(1).map('
            'function (s) { return s._stroke; });')
        # new values, a few at a time: smoothed in the page from where the
        # server left off
        for until in (3005, 3010, 3020):
            train(until)
            wait(chromium, 'Number(document.querySelector(".chart")'
                           '.dataset.logged) === {}'.format(until))
        later = smoothed_pairs(chromium, 'loss')
        constant = smoothed_pairs(chromium, 'lr')
        # none of it asked the server to smooth again
        asked = [request for request in fetched(chromium)
                 if 'start' in request and 'smoothing' in request]
        screenshots(chromium, 'smoothed')
        assert errors(chromium) == []
    log.close()
    smooth = expected()
    assert all(smooth[time] == value for time, value in first)
    assert len(first) < 3000 and first[-1][0] > 2990
    assert [time for time, _ in later if time > 3000] == list(
        range(3001, 3021))
    assert all(smooth[time] == value for time, value in later)
    assert strokes[0].endswith('0.25)') and '0.25' not in strokes[1]
    assert set(value for _, value in constant) == {0.1}
    assert constant[-1][0] == 3020 and asked == []


def test_the_view_is_in_the_url(chromium, tmp_path):
    # Keys, zoom, smoothing and log scales in the URL: a reload, or the
    # link sent to someone, shows the same view.
    path = str(tmp_path / 'view.sqlite')
    with SQLiteLog(path) as log:
        for time in range(1, 501):
            log.status['iterations_done'] = time
            log.current_row.update({'loss': 1.0 / time, 'acc': time / 500.0,
                                    'lr': 0.1})
        uuid = log.h_uuid
    with serving(path) as server:
        open_page(chromium, server.url + 'run/' + uuid)
        chromium.find_element('css selector',
                              '#keys input[value="lr"]').click()
        chromium.find_element('id', 'logy').click()
        chromium.execute_script(
            'var slider = document.getElementById("smoothing");'
            'slider.value = "0.3";'
            'slider.dispatchEvent(new Event("input"));')
        chromium.execute_script(
            'window.blocksLog.charts.loss.chart.setSelect('
            '{left: 100, width: 60, top: 0, height: 10});')
        wait(chromium, 'window.blocksLog.view !== null')
        wait(chromium, 'location.search.indexOf("smoothing=0.3") >= 0')
        url = chromium.current_url
        zoom = chromium.execute_script('return window.blocksLog.zoom')
        chromium.get('about:blank')
        open_page(chromium, url)
        wait(chromium, 'window.blocksLog.view !== null')
        again = chromium.execute_script(
            'var s = window.blocksLog; return [s.picked, s.zoom, s.smoothing,'
            ' s.logy, s.logx, s.charts.loss.chart.scales.y.distr,'
            ' document.getElementById("smoothing").value,'
            ' document.getElementById("logy").checked];')
        assert errors(chromium) == []
    assert again == [['acc', 'loss'], zoom, 0.3, True, False, 3, '0.3', True]


def write_runs(path, count, iterations, row):
    """`count` runs into `path`, each of `iterations` iterations logging
    ``row(run, time)`` (a dict); their uuids."""
    uuids = []
    for run in range(count):
        with SQLiteLog(path) as log:
            for time in range(1, iterations + 1):
                log.status['iterations_done'] = time
                log.current_row.update(row(run, time))
            uuids.append(log.h_uuid)
    return uuids


def contrast(first, second):
    """WCAG's contrast ratio of two colours, (r, g, b) of 0-255."""
    def luminance(colour):
        parts = [c / 255.0 for c in colour]
        parts = [c / 12.92 if c <= 0.03928 else ((c + 0.055) / 1.055) ** 2.4
                 for c in parts]
        return 0.2126 * parts[0] + 0.7152 * parts[1] + 0.0722 * parts[2]
    high, low = sorted([luminance(first), luminance(second)], reverse=True)
    return (high + 0.05) / (low + 0.05)


def rgb(text):
    """(r, g, b) of '#rrggbb' or 'rgb(r, g, b)'."""
    if text.startswith('#'):
        return tuple(int(text[i:i + 2], 16) for i in (1, 3, 5))
    return tuple(int(float(part)) for part in text[text.index('(') + 1:
                                                   -1].split(',')[:3])


@pytest.mark.parametrize('scheme', ['light', 'dark'])
def test_many_runs_look_apart_in_either_scheme(chromium, tmp_path, scheme,
                                               screenshots):
    # 16 runs compared: no two drawn alike (colour and dash), colour never
    # the only cue (dashes differ between neighbours), each line 3:1
    # against the chart; the page follows prefers-color-scheme.
    path = str(tmp_path / 'many.sqlite')
    uuids = write_runs(path, 16, 20, lambda run, time: {
        'loss': run + 1.0 / time})
    chromium.execute_cdp_cmd('Emulation.setEmulatedMedia', {
        'features': [{'name': 'prefers-color-scheme', 'value': scheme}]})
    try:
        with serving(path) as server:
            open_page(chromium, server.url + 'compare?runs=' + ','.join(
                uuids) + '&smoothing=0')
            screenshots(chromium, 'sixteen-' + scheme)
            # the list of runs folded: the charts on the first screen
            folded = chromium.execute_script(
                'return [!document.querySelector("details.runs").open,'
                ' document.querySelector(".chart").getBoundingClientRect()'
                '.top < window.innerHeight, document.querySelector("h1")'
                '.textContent];')
            drawn = chromium.execute_script(
                'return window.blocksLog.charts.loss.chart.series.slice(1)'
                '.map(function (s) {'
                ' return [s._stroke, (s.dash || []).join()]; });')
            background = chromium.execute_script(
                'return [getComputedStyle(document.querySelector(".chart"))'
                '.backgroundColor, getComputedStyle(document.body).color];')
            assert errors(chromium) == []
    finally:
        chromium.execute_cdp_cmd('Emulation.setEmulatedMedia',
                                 {'features': []})
    assert folded[:2] == [True, True] and '(16 runs)' in folded[2]
    assert len(drawn) == 16 and len(set(map(tuple, drawn))) == 16
    assert all(drawn[i][1] != drawn[i + 1][1] for i in range(15))
    chart = rgb(background[0])
    assert all(contrast(rgb(stroke), chart) >= 3 for stroke, _ in drawn)
    ink = rgb(background[1])
    assert contrast(ink, chart) >= 4.5
    assert (sum(chart) < 200) == (scheme == 'dark')


def test_hundreds_of_runs_filtered_sorted_and_summed_up(chromium, tmp_path):
    # A run filter (text, or a /regular expression/), columns sorted with
    # a click, each run's last and best value of a key picked; all of it
    # in the URL.
    path = str(tmp_path / 'many.sqlite')
    runs = {}
    for run in range(24):
        with SQLiteLog(path) as log:
            for time in range(1, run + 3):
                log.status['iterations_done'] = time
                log.current_row['loss'] = (run % 7) + 1.0 / time
                if run == 5 and time == 2:
                    log.current_row['loss'] = float('nan')  # no number
            runs[log.h_uuid] = run
    last = dict((uuid, (run % 7) + 1.0 / (run + 2)) for uuid, run in
                runs.items())
    lowest = dict((uuid, min((run % 7) + 1.0 / t for t in range(1, run + 3)
                             if not (run == 5 and t == 2)))
                  for uuid, run in runs.items())

    def table():
        return chromium.execute_script(
            'return Array.prototype.filter.call(document.querySelectorAll('
            '"#runs tbody tr"), function (row) { return !row.hidden; })'
            '.map(function (row) { return [row.querySelector(".pick").value,'
            ' row.cells[3].textContent, row.querySelector(".last")'
            '.textContent, row.querySelector(".best").textContent]; });')
    with serving(path) as server:
        open_page(chromium, server.url)
        first = sorted(runs)[0]
        box = chromium.find_element('id', 'filter')
        box.send_keys(first[:6])
        by_text = table()
        box.clear()
        box.send_keys('/^(' + '|'.join(sorted(runs)[:3]) + ')/')
        by_expression = table()
        box.clear()
        box.send_keys('/([/')
        note = chromium.find_element('id', 'filter-note').text
        every = table()
        box.clear()
        chromium.execute_script('document.getElementById("filter")'
                                '.dispatchEvent(new Event("input"))')
        from selenium.webdriver.support.ui import Select
        Select(chromium.find_element('id', 'summary-key')).select_by_value(
            'loss')
        wait(chromium, 'Object.keys(window.blocksLogRuns.summary).length'
                       ' === 24')
        head = chromium.find_element('css selector', 'th[data-sort="best"]')
        head.click()
        sorted_up = table()
        head.click()
        sorted_down = table()
        url = chromium.current_url
        chromium.get('about:blank')
        open_page(chromium, url)
        wait(chromium, 'Object.keys(window.blocksLogRuns.summary).length'
                       ' === 24')
        again = table()
        assert errors(chromium) == []
    assert [row[0] for row in by_text] == [first]
    assert sorted(row[0] for row in by_expression) == sorted(runs)[:3]
    assert note.startswith('not a regular expression') and len(every) == 24
    assert [float(row[2]) for row in sorted_up] == [last[row[0]] for row in
                                                    sorted_up]
    assert [float(row[3]) for row in sorted_up] == sorted(lowest.values())
    assert [float(row[3]) for row in sorted_down] == sorted(
        lowest.values(), reverse=True)
    assert 'key=loss' in url and 'sort=best' in url and 'desc=1' in url
    assert again == sorted_down


def test_the_runs_page_shows_an_int_as_logged(chromium, tmp_path):
    # Past 2 ** 53, a JavaScript number is not the int logged.
    path = str(tmp_path / 'seed.sqlite')
    with SQLiteLog(path) as log:
        log[1]['seed'] = 0.5
        log[2]['seed'] = 2 ** 60 + 1
    with serving(path) as server:
        open_page(chromium, server.url + '?key=seed')
        wait(chromium, 'Object.keys(window.blocksLogRuns.summary).length'
                       ' === 1')
        shown = chromium.execute_script(
            'var row = document.querySelector("#runs tbody tr");'
            'return [row.querySelector(".last").textContent,'
            ' row.querySelector(".best").textContent];')
        assert errors(chromium) == []
    assert shown == [str(2 ** 60 + 1), '0.5']


def test_a_chart_says_a_big_value_is_a_float(chromium, tmp_path):
    # Drawn, 2 ** 60 + 1 is the float 1152921504606846976, which JavaScript
    # writes 1152921504606847000: digits that read as an int logged. The
    # legend and the tooltip (its bucket's extremes too, the run drawn
    # downsampled) write it as a float instead.
    path = str(tmp_path / 'big.sqlite')
    with SQLiteLog(path) as log:
        for time in range(1, 5001):
            log.status['iterations_done'] = time
            log.current_row['bytes'] = 2 ** 60 + 1 if time == 3001 else 1
        uuid = log.h_uuid
    with serving(path) as server:
        open_page(chromium, server.url + 'run/' + uuid + '?smoothing=0')
        wait(chromium, 'window.blocksLog.charts.bytes')
        shown = chromium.execute_script(
            'var chart = window.blocksLog.charts.bytes.chart;'
            'var texts = function (left) {'
            '  chart.setCursor({left: chart.valToPos(left, "x"), top: 5});'
            '  return [chart.root.querySelectorAll(".u-legend .u-value")[1]'
            '          .textContent, chart.root.parentNode.querySelector('
            '          ".tip div:not(.step)").textContent];'
            '};'
            'return [texts(3001), texts(2)];')
        assert errors(chromium) == []
    (legend, tip), small = shown
    assert legend == '1.152921504606847e+18'
    assert tip.startswith('bytes: 1.152921504606847e+18 '
                          '(1\u20131.152921504606847e+18 over steps ')
    assert small[0] == '1' and small[1].startswith('bytes: 1 (1\u20131 over')


def test_a_chart_of_steps_past_a_float_says_so(chromium, tmp_path):
    # A clock's nanoseconds as the time: JavaScript places 10 ** 18 + 1 at
    # 10 ** 18, and the page says its steps are not exact; its rows and
    # head, which show times as digits, show them exactly.
    path = str(tmp_path / 'nanoseconds.sqlite')
    with SQLiteLog(path) as log:
        for time in range(10 ** 18, 10 ** 18 + 5):
            log[time]['loss'] = 1.0
        log.status['iterations_done'] = 10 ** 18 + 3
        uuid = log.h_uuid
    with serving(path) as server:
        open_page(chromium, server.url + 'run/' + uuid + '?smoothing=0')
        wait(chromium, 'window.blocksLog.charts.loss')
        wait(chromium, 'document.querySelectorAll("#rows tbody tr")'
                       '.length === 5')
        times = chromium.execute_script(
            'return Array.prototype.map.call(document.querySelectorAll('
            '"#rows tbody tr td:first-child"), function (cell) {'
            ' return cell.textContent; });')
        # The head, once the page has set it from what the server sent.
        wait(chromium, 'document.getElementById("live").textContent'
                       '.indexOf("updated") === 0')
        iterations = chromium.find_element(
            'css selector', '[data-field="iterations"]').text
        note = chromium.find_element('css selector', '.chart .drawn').text
        step = chromium.execute_script(
            'var chart = window.blocksLog.charts.loss.chart;'
            'chart.setCursor({left: chart.valToPos(1e18, "x"), top: 5});'
            'return chart.root.parentNode.querySelector(".tip .step")'
            '.textContent;')
        assert errors(chromium) == []
    assert note.endswith(', steps past 2^53 placed as floats (not exact)')
    assert step == 'step 1e+18'
    assert sorted(times) == [str(time) for time in
                             range(10 ** 18, 10 ** 18 + 5)]
    assert iterations == str(10 ** 18 + 3)


def test_the_cursor_tooltip_exports_and_outliers(chromium, tmp_path,
                                                 screenshots):
    # Two runs, two keys: the cursor over one chart shows every run's
    # value at that step in each chart, the highest first; each chart
    # exports what it shows as CSV and JSON; a spike can be left out of
    # the scale.
    path = str(tmp_path / 'two.sqlite')
    uuids = write_runs(path, 2, 100, lambda run, time: {
        'loss': run + 1.0 / time, 'acc': float('nan') if time == 60 else
        1e6 if time == 50 else time / 100.0})
    from selenium.webdriver.common.action_chains import ActionChains
    with serving(path) as server:
        open_page(chromium, server.url + 'compare?runs=' + ','.join(uuids) +
                  '&smoothing=0')
        area = chromium.find_element('css selector',
                                     '.chart[data-key="loss"] .u-over')
        ActionChains(chromium).move_to_element_with_offset(
            area, area.size['width'] // 4, 0).perform()
        wait(chromium, 'Array.prototype.every.call(document.querySelectorAll('
                       '".chart .tip"), function (t) { return !t.hidden; })')
        tips = chromium.execute_script(
            'return Array.prototype.map.call(document.querySelectorAll('
            '".chart"), function (c) { return [c.dataset.key, Array.prototype'
            '.map.call(c.querySelectorAll(".tip div:not(.step)"), function (d)'
            ' { return d.textContent; })]; });')
        screenshots(chromium, 'tooltip')
        scale = chromium.execute_script(
            'return window.blocksLog.charts.acc.chart.scales.y.max')
        chromium.find_element('id', 'outliers').click()
        wait(chromium, 'window.blocksLog.charts.acc.chart.scales.y.max < 1e5')
        chromium.execute_script(
            'window.blocksLog.charts.acc.chart.setSelect('
            '{left: 100, width: 80, top: 0, height: 10});')
        wait(chromium, 'window.blocksLog.view !== null')
        low, high = chromium.execute_script('return window.blocksLog.zoom')
        link = chromium.find_element(
            'css selector', '.chart[data-key="acc"] a.json').get_attribute(
                'href')
        with urllib.request.urlopen(link) as response:
            exported = json.loads(response.read().decode())
        url = chromium.current_url
        assert errors(chromium) == []
    assert scale >= 1e6 and 'outliers=1' in url
    for key, lines in tips:
        values = [float(line.split(': ')[1]) for line in lines]
        assert len(values) == 2 and values == sorted(values, reverse=True)
    assert sorted(exported) == sorted(uuids)
    for uuid in uuids:
        assert list(exported[uuid]) == ['acc']
        times = [time for time, _ in exported[uuid]['acc']]
        values = [value for _, value in exported[uuid]['acc']]
        assert times == list(range(max(low, 1), min(high, 101)))
        for time, value in zip(times, values):
            assert value == ('nan' if time == 60 else 1e6 if time == 50
                             else time / 100.0)


def test_the_time_axis_as_the_wall_clock_or_since_the_run_began(
        chromium, tmp_path, screenshots):
    # Each point at the wall clock of its commit (a pause in the training
    # is a gap in time), or at the time since the run began; the axis in
    # the URL; a range picked by the clock zooms into its steps; the tip
    # says each run's step. A log that keeps no clock says so.
    import pickle
    from selenium.webdriver.common.action_chains import ActionChains
    from selenium.webdriver.support.ui import Select
    path = str(tmp_path / 'clocked.sqlite')
    with SQLiteLog(path) as log:
        for time in range(1, 201):
            # steps a few pixels apart on the clock, a pause at 101
            clock.sleep(0.5 if time == 101 else 0.005)
            log.status['iterations_done'] = time
            log.current_row['loss'] = 1.0 / time
        log.status['_epoch_ends'] = [150]
        uuid = log.h_uuid
    with SQLiteLog(path, uuid=uuid, read_only=True) as log:
        walls = dict(zip(*log.clock()))
    chart = 'var c = window.blocksLog.charts.loss.chart; '
    with serving(path) as server:
        open_page(chromium, server.url + 'run/' + uuid + '?x=wall&smoothing=0')
        wall = chromium.execute_script(
            chart + 'return [c.data[0], c.data[1], c.scales.x.time, '
            'c.axes[0].label];')
        Select(chromium.find_element('id', 'axis')).select_by_value(
            'relative')
        wait(chromium, 'location.search.indexOf("x=relative") >= 0 && '
                       'window.blocksLog.charts.loss.chart.axes[0].label'
                       '.indexOf("since") >= 0')
        relative = chromium.execute_script(
            chart + 'return [c.data[0], c.axes[0]._values, '
            'document.getElementById("logx").disabled];')
        epoch = chromium.execute_script(
            chart + 'var x = Math.round(c.valToPos(arguments[0], "x", true));'
            'var column = c.ctx.getImageData(x, c.bbox.top, 1, c.bbox.height)'
            '.data, red = 0;'
            'for (var i = 0; i < column.length; i += 4) {'
            '  if (column[i] > column[i + 1] + 40) { red += 1; } }'
            'return [red, c.bbox.height];', walls[150] - walls[1])
        screenshots(chromium, 'relative-time')
        area = chromium.find_element('css selector',
                                     '.chart[data-key="loss"] .u-over')
        ActionChains(chromium).move_to_element_with_offset(
            area, -area.size['width'] // 4, 0).perform()
        wait(chromium, '!document.querySelector(".chart .tip").hidden')
        tip, legend = chromium.execute_script(
            'return [document.querySelector(".chart .tip").textContent, '
            'document.querySelector(".chart .u-legend .u-value")'
            '.textContent];')
        chromium.execute_script(
            chart + 'var l = c.valToPos(arguments[0], "x"), '
            'r = c.valToPos(arguments[1], "x");'
            'c.setSelect({left: l, width: r - l, top: 0, height: 10});',
            walls[20] - walls[1], walls[80] - walls[1])
        wait(chromium, 'window.blocksLog.view !== null')
        zoom = chromium.execute_script('return window.blocksLog.zoom')
        assert errors(chromium) == []
    assert wall[0] == [walls[time] for time in range(1, 201)]
    assert wall[1] == [1.0 / time for time in range(1, 201)]
    assert wall[2:] == [True, 'wall clock']
    assert relative[0] == [walls[time] - walls[1] for time in range(1, 201)]
    assert relative[0][100] - relative[0][99] >= 0.5  # the pause
    assert all(tick.endswith(' s') for tick in relative[1])
    assert relative[2] is True  # no log scale of a clock
    red, height = epoch
    assert red > height / 4
    assert ' at step ' in tip and legend.endswith(' s')
    assert abs(zoom[0] - 20) <= 2 and abs(zoom[1] - 81) <= 2
    # A log held in memory (a pickle) keeps no clock: nothing to draw on
    # it, and the chart says why.
    memory = TrainingLog()
    for time in range(1, 11):
        memory[time]['loss'] = float(time)
    pickled = str(tmp_path / 'memory.pkl')
    with open(pickled, 'wb') as out:
        pickle.dump(memory, out)
    with serving(pickled) as server:
        open_page(chromium, server.url + 'run/' + memory.h_uuid + '?x=wall')
        note = chromium.execute_script(
            'return document.querySelector(".chart .drawn").textContent')
        assert errors(chromium) == []
    assert note == '10 logged / 0 drawn, 10 with no wall clock (written ' \
        'before blocks_log kept one, or held in memory)'
