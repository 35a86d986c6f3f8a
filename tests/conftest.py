"""Fixtures shared by the test suite: one log factory per backend."""
import os
import signal

import pytest

import blocks_log
from blocks_log.stores import batches, chunks, packing, run_packing

ROOT = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))
FIXTURES = os.path.join(ROOT, 'tests', 'fixtures', 'blocks')

#: Times per block of the 'sqlite-chunked' backend: small, so that numbers
#: are packed into chunks after a few iterations, and every read goes
#: through chunks and rows alike.
SMALL_SPAN = 3
#: Its bytes of a batch of a block's values that are not numbers, written
#: again in a pack (see packing.REST_BATCH_BYTES): small, so that a block
#: holding any two of them writes them as several batches.
SMALL_REST_BATCH = 1
#: Its bytes of a large value (see run_packing.LARGE_VALUE_BYTES): small, so
#: that some texts of a few characters are large, and their batches stay in
#: the head beside blocks packed (their values not remembered), and others
#: are not.
SMALL_LARGE_VALUE = 5
#: Its rows of the head read at once by reads of times and keys (see
#: batches.HeadMarks): two, so that a later value and the one it wins over
#: (a deleted value, a value written again) are read apart.
SMALL_ROWS_AT_ONCE = 2


@pytest.fixture(scope='session', autouse=True)
def a_home_of_their_own(tmp_path_factory):
    """The tests' own home and caches: nothing they run (Chromium,
    matplotlib, fontconfig) writes into the user's."""
    home = tmp_path_factory.mktemp('home')
    saved = dict((name, os.environ.get(name)) for name in HOME_VARIABLES)
    os.environ.update(HOME=str(home), MPLCONFIGDIR=str(home / 'matplotlib'),
                      XDG_CONFIG_HOME=str(home / '.config'),
                      XDG_CACHE_HOME=str(home / '.cache'))
    yield home
    for name, value in saved.items():
        if value is None:
            os.environ.pop(name, None)
        else:
            os.environ[name] = value


HOME_VARIABLES = ('HOME', 'MPLCONFIGDIR', 'XDG_CONFIG_HOME',
                  'XDG_CACHE_HOME')


@pytest.fixture(scope='session', autouse=True)
def ctrl_c_raises():
    """Ctrl-C (SIGINT) raises KeyboardInterrupt in the tests, as in a
    terminal, even in a run started in the background (``tox &``): the
    shell starts it with SIGINT ignored, Python leaves it so, and the tests
    of interrupts send it (each found no KeyboardInterrupt)."""
    ignored = signal.getsignal(signal.SIGINT) == signal.SIG_IGN
    if ignored:
        signal.signal(signal.SIGINT, signal.default_int_handler)
    yield
    if ignored:
        signal.signal(signal.SIGINT, signal.SIG_IGN)


def backend_factories(tmp_path, postgresql_dsn=None):
    """name -> callable(**kwargs) making a new log, for every backend
    (PostgreSQL given the DSN of a database of its own)."""
    factories = {'python': blocks_log.TrainingLog}
    if postgresql_dsn is not None:
        factories['postgresql'] = lambda **kwargs: (
            blocks_log.PostgreSQLLog(dsn=postgresql_dsn, **kwargs))
    sqlite_log = blocks_log.BACKENDS.get('sqlite')
    if sqlite_log is not None:
        factories['sqlite-file'] = lambda **kwargs: sqlite_log(
            database=str(tmp_path / 'log.sqlite'), **kwargs)
        factories['sqlite-memory'] = lambda **kwargs: sqlite_log(
            database=':memory:', **kwargs)
        factories['sqlite-chunked'] = lambda **kwargs: sqlite_log(
            database=str(tmp_path / 'chunked.sqlite'), **kwargs)
    return factories


BACKEND_NAMES = ['python', 'sqlite-file', 'sqlite-memory', 'sqlite-chunked',
                 'postgresql']


def use_backend(name, monkeypatch, request):
    """Set up what backend `name` needs for the rest of a test; return the
    DSN of a PostgreSQL database of the test's own, for that backend."""
    if name == 'sqlite-chunked':
        monkeypatch.setattr(chunks, 'SPAN', SMALL_SPAN)
        monkeypatch.setattr(packing, 'REST_BATCH_BYTES', SMALL_REST_BATCH)
        monkeypatch.setattr(run_packing, 'LARGE_VALUE_BYTES',
                            SMALL_LARGE_VALUE)
        monkeypatch.setattr(batches, 'ROWS_AT_ONCE', SMALL_ROWS_AT_ONCE)
    if name == 'postgresql':
        return request.getfixturevalue('postgresql_dsn')
    return None


@pytest.fixture(scope='session')
def postgres_server():
    """A PostgreSQL server of the tests' own (see postgres_server.py)."""
    import postgres_server as module
    server = module.Server()
    yield server
    server.stop()


@pytest.fixture
def postgresql_dsn(request):
    """The DSN of an empty database (a schema) of this test's own, on the
    unix socket, with psycopg installed."""
    return new_postgresql_database(request)


def new_postgresql_database(request):
    """The DSN of a new, empty database (a schema) on the tests' server,
    on the unix socket, with psycopg installed (else the test skips in the
    bare environment, and fails under CI)."""
    import uuid
    import postgres_server as module
    try:
        import psycopg
    except ImportError:
        if os.environ.get('BLOCKS_LOG_BARE'):
            pytest.skip('psycopg is not installed: the bare environment')
        module.unavailable('psycopg is not installed')
    postgres_server = request.getfixturevalue('postgres_server')
    schema = 'test_' + uuid.uuid4().hex[:12]
    with psycopg.connect(postgres_server.socket_dsn, autocommit=True) as c:
        c.execute('CREATE SCHEMA ' + schema)
    return "{} options='-c search_path={}'".format(
        postgres_server.socket_dsn, schema)


@pytest.fixture
def postgresql_url(postgres_server, postgresql_dsn):
    """The database of `postgresql_dsn`, as a ``postgresql://`` URL."""
    schema = postgresql_dsn.split('search_path=')[1].rstrip("'")
    return postgres_server.socket_url + '&options=-c%20search_path%3D' + (
        schema)


@pytest.fixture(params=BACKEND_NAMES)
def make_log(request, tmp_path, monkeypatch):
    """A callable making a new, empty log of one backend.

    The contract suite runs once per backend in ``BACKEND_NAMES``.

    """
    dsn = use_backend(request.param, monkeypatch, request)
    factories = backend_factories(tmp_path, dsn)
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


@pytest.fixture(params=['sqlite-file', 'postgresql'])
def make_database_log(request, tmp_path, monkeypatch):
    """A callable making a new log (or opening one, given its uuid) of
    each persistent store; ``make_database_log.backend`` names it."""
    dsn = use_backend(request.param, monkeypatch, request)
    made = []

    def make(**kwargs):
        made.append(backend_factories(tmp_path, dsn)[request.param](
            **kwargs))
        return made[-1]
    make.backend = request.param
    yield make
    for log in made:
        log.close()


@pytest.fixture
def log(make_log):
    """A new, empty log of each backend."""
    return make_log()


@pytest.fixture(scope='module')
def demo_database(tmp_path_factory):
    """An SQLite file made by ``blocks-log demo``: three runs, a lineage,
    epochs (do not write to it)."""
    from blocks_log.cli import demo
    path = str(tmp_path_factory.mktemp('demo') / 'demo.sqlite')
    log, _ = demo.run(path)
    log.close()
    return path
