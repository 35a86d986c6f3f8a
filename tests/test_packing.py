"""Every run packs its numbers into chunks, however it was opened, and as
fast as it writes them (issue 19): on SQLite and PostgreSQL."""
import pickle

import pytest

from blocks_log.stores import chunks

from conftest import backend_factories, use_backend

SPAN = 4
BACKENDS = ['sqlite-file', 'postgresql']


@pytest.fixture(params=BACKENDS)
def factory(request, tmp_path, monkeypatch):
    dsn = use_backend(request.param, monkeypatch, request)
    monkeypatch.setattr(chunks, 'SPAN', SPAN)
    made = []

    def make(**kwargs):
        log = backend_factories(tmp_path, dsn)[request.param](**kwargs)
        made.append(log)
        return log
    make.backend = request.param
    yield make
    for log in made:
        log.close()


def counts(log):
    """``(numbers in chunks, numbers in rows)`` of `log`'s own run, as the
    database holds them (the status left out)."""
    sql = ('SELECT (SELECT coalesce(sum(count), 0) FROM blocks_log_chunks '
           'WHERE run = r.id), (SELECT count(*) FROM blocks_log_entries '
           'WHERE run = r.id AND time < 9223372036854775807) '
           'FROM blocks_log_runs r WHERE uuid = ?')
    if hasattr(log, 'database'):
        import sqlite3
        connection = sqlite3.connect(log.database)
        try:
            return connection.execute(sql, (log.h_uuid,)).fetchone()
        finally:
            connection.close()
    import psycopg
    with psycopg.connect(log.dsn) as connection:
        return connection.execute(sql.replace('?', '%s'),
                                  (log.h_uuid,)).fetchone()


def train(log, iterations):
    for _ in range(iterations):
        log.status['iterations_done'] += 1
        log.current_row['loss'] = 1.0 / log.status['iterations_done']
        log.current_row['step'] = log.status['iterations_done']


def test_a_new_run_packs(factory):
    log = factory()
    train(log, 6 * SPAN)
    log.flush()
    packed, rows = counts(log)
    assert packed >= 2 * 4 * SPAN and rows <= 2 * 2 * SPAN


@pytest.mark.parametrize('how', ['resume', 'pickle', 'reopen'])
def test_every_run_packs_however_it_was_opened(factory, how):
    log = factory()
    train(log, 3 * SPAN)
    if how == 'resume':
        log.resume()
    elif how == 'pickle':
        # The checkpoint keeps the run; the live log goes on in a child.
        checkpoint = pickle.dumps(log)
        assert pickle.loads(checkpoint).uuid != log.uuid
    else:
        uuid = log.uuid
        log.close()
        log = factory(uuid=uuid)
    first = log.status['iterations_done']
    train(log, 6 * SPAN)
    log.flush()
    packed, rows = counts(log)
    # The numbers written there, but the last blocks', are packed.
    assert rows <= 2 * 2 * SPAN
    assert packed + rows >= 2 * (log.status['iterations_done'] - first) - 2


def test_a_commit_of_many_blocks_packs_them_all(factory):
    # commit_every far above a block: each commit packs every complete
    # block the commits before it wrote, not one.
    log = factory(commit_every=25 * SPAN)
    for _ in range(8):
        train(log, 25 * SPAN)
        packed, rows = counts(log)
        assert rows <= 2 * (25 + 1) * SPAN, 'packing falls behind'
    assert packed >= 2 * 6 * 25 * SPAN
    history = log.history('step')
    assert [time for time, _ in history] == list(range(1, 200 * SPAN + 1))
