"""Fixtures shared by the test suite: one log factory per backend."""
import os

import pytest

import blocks_log

ROOT = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))
FIXTURES = os.path.join(ROOT, 'tests', 'fixtures', 'blocks')


def backend_factories(tmp_path):
    """name -> callable(**kwargs) making a new log, for every backend."""
    factories = {'python': blocks_log.TrainingLog}
    sqlite_log = blocks_log.BACKENDS.get('sqlite')
    if sqlite_log is not None:
        factories['sqlite-file'] = lambda **kwargs: sqlite_log(
            database=str(tmp_path / 'log.sqlite'), **kwargs)
        factories['sqlite-memory'] = lambda **kwargs: sqlite_log(
            database=':memory:', **kwargs)
    return factories


BACKEND_NAMES = ['python', 'sqlite-file', 'sqlite-memory']


@pytest.fixture(params=BACKEND_NAMES)
def make_log(request, tmp_path):
    """A callable making a new, empty log of one backend.

    The contract suite runs once per backend in ``BACKEND_NAMES``.

    """
    factories = backend_factories(tmp_path)
    if request.param not in factories:
        pytest.skip('backend {} is not available'.format(request.param))
    made = []

    def make(**kwargs):
        log = factories[request.param](**kwargs)
        made.append(log)
        return log
    make.backend = request.param
    yield make
    for log in made:
        close = getattr(log, 'close', None)
        if close is not None:
            close()


@pytest.fixture
def log(make_log):
    """A new, empty log of each backend."""
    return make_log()
