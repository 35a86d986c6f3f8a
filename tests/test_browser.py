"""``blocks-log serve`` in a real headless Chromium (see browser.py): what
a person sees on the runs page, a run's page, a comparison and the 404
page, at a laptop's size and at a phone's width; a run growing while its
page is open; a hostile key.

A screenshot of each page is saved in ``$BLOCKS_LOG_SCREENSHOTS``, or else
in ``screenshots/`` of pytest's temporary directory of the run.
"""
import json
import os
import urllib.request

import pytest

import blocks_log
from blocks_log import SQLiteLog

import browser
from test_processes import start_writer
from test_serve import HOSTILE
from web import serving

SIZES = {'laptop': (1280, 800), 'phone': (390, 844)}


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


def fits(session):
    """Nothing sticks out sideways: the page is no wider than the
    screen, and every chart fits in its box."""
    return session.execute_script(
        'var wide = document.documentElement.scrollWidth <= window.innerWidth;'
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
    assert labels == ['time', first.uuid[:8], last.uuid[:8]]
    assert counts == [count_values(demo_database, first.uuid)['train_loss'],
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
        # 1,500 iterations more at a time, each sent whole: at most 4,000
        # points shown (twice what the server sends at once), as once what
        # the page appended passes that, the whole run is fetched again,
        # downsampled
        for until in (2500, 4000, 5500, 7000):
            train(until)
            wait(chromium, 'window.blocksLog.data.runs["{}"].last_time === '
                           '{}'.format(log.h_uuid, until), timeout=10)
            assert points(chromium)['loss'] <= 4000
    log.close()


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
        wait(chromium, 'Number(document.querySelector(".chart")'
                       '.dataset.points) === {}'.format(
                           min(high, 20001) - max(low, 1)))
        screenshots(chromium, 'zoomed')
        assert errors(chromium) == []
    assert shown == len(sent['runs'][uuid]['keys']['loss'][0]) <= 2000
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
