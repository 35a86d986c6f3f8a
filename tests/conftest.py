"""Fixtures shared by the test suite: one log factory per backend."""
import os

import pytest

import blocks_log
from blocks_log.stores import chunks

ROOT = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))
FIXTURES = os.path.join(ROOT, 'tests', 'fixtures', 'blocks')

#: Times per block of the 'sqlite-chunked' backend: small, so that numbers
#: are packed into chunks after a few iterations, and every read goes
#: through chunks and rows alike.
SMALL_SPAN = 3


def backend_factories(tmp_path):
    """name -> callable(**kwargs) making a new log, for every backend."""
    factories = {'python': blocks_log.TrainingLog}
    sqlite_log = blocks_log.BACKENDS.get('sqlite')
    if sqlite_log is not None:
        factories['sqlite-file'] = lambda **kwargs: sqlite_log(
            database=str(tmp_path / 'log.sqlite'), **kwargs)
        factories['sqlite-memory'] = lambda **kwargs: sqlite_log(
            database=':memory:', **kwargs)
        factories['sqlite-chunked'] = lambda **kwargs: sqlite_log(
            database=str(tmp_path / 'chunked.sqlite'), **kwargs)
    return factories


BACKEND_NAMES = ['python', 'sqlite-file', 'sqlite-memory', 'sqlite-chunked']


def use_backend(name, monkeypatch):
    """Set up what backend `name` needs for the rest of a test."""
    if name == 'sqlite-chunked':
        monkeypatch.setattr(chunks, 'SPAN', SMALL_SPAN)


@pytest.fixture(params=BACKEND_NAMES)
def make_log(request, tmp_path, monkeypatch):
    """A callable making a new, empty log of one backend.

    The contract suite runs once per backend in ``BACKEND_NAMES``.

    """
    factories = backend_factories(tmp_path)
    if request.param not in factories:
        pytest.skip('backend {} is not available'.format(request.param))
    use_backend(request.param, monkeypatch)
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
