"""Status lists that grow, stored by what they gain (schema 7, SQLite and
PostgreSQL alike): an epoch's end writes what it adds to ``_epoch_ends``,
not the whole list again, and every read gives the list the writer holds,
across reopening, forks and databases of the schema before."""
import ctypes
import os
import shutil
import signal
import sqlite3

import pytest

from blocks_log import PostgreSQLLog, SQLiteLog, codec, placeholders
from blocks_log.stores import postgresql_sql, sqlite_sql as sql

from conftest import FIXTURES


class Database(object):
    """A database of each store that takes pieces, for one test: its logs,
    and its rows as plain SQL reads and writes them."""

    def __init__(self, name, path=None, dsn=None):
        self.name, self.path, self.dsn = name, path, dsn

    def log(self, **kwargs):
        if self.name == 'sqlite':
            return SQLiteLog(self.path, **kwargs)
        return PostgreSQLLog(self.dsn, **kwargs)

    def execute(self, statement, parameters=()):
        """The rows of one statement of plain SQL (``?`` placeholders), in
        a transaction of its own."""
        if self.name == 'sqlite':
            with sqlite3.connect(self.path) as connection:
                return connection.execute(statement, parameters).fetchall()
        import psycopg
        with psycopg.connect(self.dsn) as connection:
            cursor = connection.execute(statement.replace('?', '%s'),
                                        parameters)
            return cursor.fetchall() if cursor.description else []

    def value_columns(self, table):
        """The columns of a stored value in the rows of `table` (a name or
        an alias), as SQL."""
        if self.name == 'sqlite':
            return table + '.value'
        return ', '.join(table + '.' + column for column in 'fitb')

    def stored_of(self, columns):
        """The stored value of the `columns` :meth:`value_columns` names."""
        if self.name == 'sqlite':
            return columns[0]
        return postgresql_sql.stored_of(*columns)

    def set_value(self, table, stored, where, parameters):
        """Set the stored value of the rows of `table` that `where` picks."""
        if self.name == 'sqlite':
            columns, values = 'value = ?', (stored,)
        else:
            columns = 'f = ?, i = ?, t = ?, b = ?'
            values = postgresql_sql.columns_of(stored)
        self.execute('UPDATE {} SET {} WHERE {}'.format(table, columns, where),
                     tuple(values) + tuple(parameters))

    def version(self):
        (version,), = self.execute(
            "SELECT value FROM blocks_log_meta WHERE name = 'schema_version'")
        return version


@pytest.fixture(params=['sqlite', 'postgresql'])
def database(request, tmp_path):
    if request.param == 'sqlite':
        return Database('sqlite', path=str(tmp_path / 'log.sqlite'))
    return Database('postgresql',
                    dsn=request.getfixturevalue('postgresql_dsn'))


def stored(database, key='_epoch_ends'):
    """The status value of `key` as its row holds it (its bytes) and the
    indexes of its pieces, of the one run in `database`."""
    columns, = database.execute(
        'SELECT {} FROM blocks_log_entries e JOIN blocks_log_keys k '
        'ON k.id = e.key WHERE e.time = ? AND k.name = ?'.format(
            database.value_columns('e')), (sql.STATUS_TIME, key))
    pieces = [piece for piece, in database.execute(
        'SELECT p.piece FROM blocks_log_status_pieces p JOIN '
        'blocks_log_keys k ON k.id = p.key WHERE k.name = ? '
        'ORDER BY p.piece', (key,))]
    return database.stored_of(columns), pieces


def read_status(database, uuid):
    with database.log(uuid=uuid, read_only=True) as reader:
        return dict(reader.status)


def a_log_with_pieces(database, epochs=20):
    """A new log of `database` that ended an epoch at each of its first
    `epochs` iterations, Blocks' way (``+=``), each committed: its list in
    pieces."""
    log = database.log()
    for time in range(1, epochs + 1):
        log.status['_epoch_ends'] += [time]
        log.status['iterations_done'] = time
    assert stored(database)[1][:2] == [0, 1]  # a token, pieces
    return log


@pytest.mark.parametrize('item', [
    lambda time: time,
    lambda time: (time, 'checkpoint_{}.tar'.format(time), (None, 0.5))],
    ids=['int', 'tuple'])
@pytest.mark.parametrize('way', ['+=', 'append'])
def test_an_epoch_end_writes_what_it_adds(database, way, item):
    # 1,000 epochs: the list written whole once, at the first; its pieces
    # never more than log2 of its length. So too a list of tuples of what
    # cannot change in place (checkpoints' (epoch, path)): appending one
    # to a list of 100,000 took 258 ms, written whole.
    log = database.log()
    values, most = set(), 0
    for epoch in range(1000):
        log.status['iterations_done'] += 1
        end = item(log.status['iterations_done'])
        if way == '+=':  # as Blocks' main loop ends an epoch
            log.status['_epoch_ends'] += [end]
        else:
            log.status['_epoch_ends'].append(end)
        log.status['iterations_done'] += 1  # commits it
        value, pieces = stored(database)
        values.add(value)
        most = max(most, len(pieces))
        if epoch % 97 == 0:
            assert read_status(database, log.uuid)['_epoch_ends'] == [
                item(time) for time in range(1, 2 * epoch + 2, 2)]
    # As the first epoch stored it.
    assert values == {codec.encode([item(1)])}
    assert 3 <= most <= 11  # a token and at most 10 pieces
    assert read_status(database, log.uuid)['_epoch_ends'] == [
        item(time) for time in range(1, 2000, 2)]
    log.close()


def test_a_list_changed_otherwise_is_written_whole(database):
    log = database.log()
    ends = log.status['_epoch_ends']
    for time in range(1, 20):
        ends.append(time)
        log.status['iterations_done'] = time
    assert len(stored(database)[1]) > 1
    expected = list(range(1, 20))
    for change, done in (
            (lambda: ends.__setitem__(3, -3), lambda: expected.__setitem__(
                3, -3)),
            (lambda: ends.append([1, 2]), lambda: expected.append([1, 2])),
            (lambda: ends.append((1, [2])), lambda: expected.append(
                (1, [2]))),
            (lambda: ends.append(1.5), lambda: expected.append(1.5)),
            (lambda: ends.pop(), lambda: expected.pop()),
            (lambda: ends.pop(), lambda: expected.pop()),
            (lambda: ends.extend(['a', None, True, b'x']),
             lambda: expected.extend(['a', None, True, b'x']))):
        change()
        done()
        log.status['iterations_done'] += 1
        assert read_status(database, log.uuid)['_epoch_ends'] == expected
    # Set anew, shorter: its pieces dropped.
    log.status['_epoch_ends'] = [7]
    log.status['iterations_done'] += 1
    assert stored(database)[1] == []
    assert read_status(database, log.uuid)['_epoch_ends'] == [7]
    del log.status['_epoch_ends']
    log.status['iterations_done'] += 1
    assert '_epoch_ends' not in read_status(database, log.uuid)
    log.close()


def test_a_reader_follows_the_list_as_it_grows(database):
    log = database.log()
    reader = database.log(uuid=log.uuid, read_only=True)
    for time in range(1, 40):
        log.status['_epoch_ends'] += [time]
        log.status['iterations_done'] = time
        assert reader.status['_epoch_ends'] == list(range(1, time + 1))
    reader.close()
    log.close()


def test_a_reader_decodes_the_status_value_it_asks_for_alone(database,
                                                             monkeypatch):
    # A reader reads the status afresh at each access: of the key asked
    # for, not all of it (a list of 100,000 checkpoints' paths took 170 ms
    # to decode, at each status['iterations_done'] of a chart's request).
    saved = []
    with database.log() as log:
        for epoch in range(1, 6):
            saved.append((epoch, 'epoch_{}.tar'.format(epoch)))
            log.status['saved'] = log.status.get('saved', []) + saved[-1:]
            log.status['iterations_done'] = epoch
    decoded, decode = [], codec.decode
    monkeypatch.setattr(codec, 'decode', lambda stored, *arguments: (
        decoded.append(stored) or decode(stored, *arguments)))
    with database.log(uuid=log.uuid, read_only=True) as reader:
        assert reader.status['iterations_done'] == 5
        assert reader.status.get('epochs_done') == 0
        assert 'not there' not in reader.status
        assert dict(reader.current_row) == {}
        assert not any(b'epoch_' in stored for stored in decoded)
        assert reader.status['saved'] == saved
        assert any(b'epoch_' in stored for stored in decoded)
        assert dict(reader.status)['saved'] == saved


@pytest.mark.parametrize('ending', ['close', 'kill -9'])
def test_a_run_opened_again_goes_on_with_its_list(database, ending):
    read_end, write_end = os.pipe()
    pid = os.fork()
    if pid == 0:
        try:
            log = database.log()
            for time in range(1, 30):
                log.status['_epoch_ends'] += [time]
                log.status['iterations_done'] = time
            if ending == 'close':
                log.close()
            os.write(write_end, log.uuid.bytes)
            if ending == 'kill -9':
                os.kill(os.getpid(), 9)
        finally:
            os._exit(0)
    uuid = os.read(read_end, 16).hex()
    os.waitpid(pid, 0)
    assert stored(database)[1][:2] == [0, 1]  # a token, pieces
    assert read_status(database, uuid)['_epoch_ends'] == list(range(1, 30))
    with database.log(uuid=uuid) as again:
        for time in range(30, 60):
            again.status['_epoch_ends'] += [time]
            again.status['iterations_done'] = time
            assert read_status(database, uuid)['_epoch_ends'] == list(
                range(1, time + 1))


@pytest.mark.parametrize('change', ['set anew', 'deleted'])
def test_a_run_opened_again_drops_the_pieces_of_a_list_it_changes(
        database, change):
    # Its writer knows the list has pieces from the claim: a value set
    # whole or deleted drops them, in the commit's one statement too.
    log = a_log_with_pieces(database)
    log.close()
    with database.log(uuid=log.uuid) as again:
        if change == 'set anew':
            again.status['_epoch_ends'] = [7]
        else:
            del again.status['_epoch_ends']
        again.status['iterations_done'] = 21
        assert read_status(database, log.uuid).get('_epoch_ends') == (
            [7] if change == 'set anew' else None)
        assert database.execute(
            'SELECT piece FROM blocks_log_status_pieces') == []


def test_a_server_restart_between_epochs_keeps_the_list_in_pieces(
        postgresql_dsn, postgres_server):
    # The log connects again and goes on with its pieces: its token is
    # still its own, so the list is not written whole again.
    database = Database('postgresql', dsn=postgresql_dsn)
    log = a_log_with_pieces(database)
    postgres_server.restart()
    for time in range(21, 41):
        log.status['_epoch_ends'] += [time]
        log.status['iterations_done'] = time
    assert read_status(database, log.uuid)['_epoch_ends'] == list(
        range(1, 41))
    value, pieces = stored(database)
    assert value == codec.encode([1]) and pieces[:2] == [0, 1]
    log.close()


FORKS = {
    'os.fork': os.fork,
    # C code's fork runs no at-fork hook: the store finds it by its pid.
    'libc fork': lambda: ctypes.CDLL(None, use_errno=True).fork()}


#: What a forked child adds to the list, in one commit: more than its
#: pieces hold, so that a child going on with its parent's pieces would
#: write its own over all of them but the first.
THE_CHILDS = list(range(-1, -21, -1))


def child_ends_an_epoch(log, fork=os.fork, go=None):
    """Fork a child that adds :data:`THE_CHILDS` to the list of `log` and
    commits it, once `go` (a pipe's read end, if given) says so; returns
    the parent's wait for it."""
    done_end, done = os.pipe()
    pid = fork()
    if pid == 0:
        try:
            signal.alarm(20)
            if go is not None:
                os.read(go, 1)
            log.status['_epoch_ends'] += THE_CHILDS
            log.status['iterations_done'] = 100
            log.flush()
        finally:
            os.write(done, b'x')
            os._exit(0)

    def wait():
        os.read(done_end, 1)
        assert os.waitpid(pid, 0)[1] == 0
    return wait


@pytest.mark.parametrize('how', sorted(FORKS))
def test_a_forked_child_that_writes_the_list_mixes_nothing_into_it(
        database, how):
    # The parent has pieces of the list when it forks; the child writes
    # the list its own way, then the parent goes on: the list is the
    # parent's, not the child's with the parent's pieces on it.
    log = a_log_with_pieces(database)
    child_ends_an_epoch(log, FORKS[how])()
    assert read_status(database, log.uuid)['_epoch_ends'] == list(
        range(1, 21)) + THE_CHILDS
    for time in range(21, 30):
        log.status['_epoch_ends'] += [time]
        log.status['iterations_done'] = time
        assert read_status(database, log.uuid)['_epoch_ends'] == list(
            range(1, time + 1))
    log.close()


def test_a_forked_child_drops_the_pieces_its_parent_began_since(database):
    log = database.log()
    log.status['iterations_done'] = 1
    go_end, go = os.pipe()
    wait = child_ends_an_epoch(log, go=go_end)
    try:
        for time in range(2, 20):
            log.status['_epoch_ends'] += [time]
            log.status['iterations_done'] = time
        assert stored(database)[1][:2] == [0, 1]  # a token, pieces
    finally:
        os.write(go, b'x')
    wait()
    # The child's, written last: [] and its own items.
    assert read_status(database, log.uuid)['_epoch_ends'] == THE_CHILDS
    log.close()


def train(log, times, at_epoch_end=lambda time: None):
    """Iterations of `log` at `times`, a ``train_loss`` each, and an epoch
    each 8 (Blocks' way), after which `at_epoch_end(time)`."""
    for time in times:
        log.status['iterations_done'] = time
        log.current_row['train_loss'] = 1.0 / time
        if time % 8 == 0:
            log.status['epochs_done'] += 1
            log.status['_epoch_ends'] += [time]
            at_epoch_end(time)


def a_run_of_schema_6(database):
    """Make `database` one of schema 6 holding a run of 40 iterations, an
    epoch each 8, ``train_loss`` in each: for SQLite, the file that the
    release before wrote (fixtures/blocks_log_schema_6.sqlite); for
    PostgreSQL, a run written now, its list then made whole and the table
    of pieces dropped, which is all that tells 7 from 6. Returns its
    uuid."""
    if database.name == 'sqlite':
        shutil.copy(os.path.join(FIXTURES, '..',
                                 'blocks_log_schema_6.sqlite'), database.path)
        with database.log(uuid='last', read_only=True) as log:
            return log.uuid
    with database.log() as log:
        train(log, range(1, 41))
    database.set_value(
        'blocks_log_entries', codec.encode([8, 16, 24, 32, 40]),
        'time = ? AND key = (SELECT id FROM blocks_log_keys WHERE name = ?)',
        (sql.STATUS_TIME, '_epoch_ends'))
    database.execute('DROP TABLE blocks_log_status_pieces')
    database.execute("UPDATE blocks_log_meta SET value = 6 "
                     "WHERE name = 'schema_version'")
    return log.uuid


def test_a_database_of_schema_6_reads_as_it_is_and_goes_on_in_pieces(
        database):
    uuid = a_run_of_schema_6(database)
    assert database.version() == 6
    ends = [8, 16, 24, 32, 40]
    with database.log(uuid=uuid, read_only=True) as log:
        assert log.status['_epoch_ends'] == ends
        assert log.status['epochs_done'] == 5
    # A reader opened on version 6 follows a writer that brings the
    # database up to 7, and writes pieces.
    reader = database.log(uuid=uuid, read_only=True)
    assert reader.status['_epoch_ends'] == ends
    with database.log(uuid=uuid) as log:
        def followed(time):
            ends.append(time)
            log.flush()
            assert reader.status['_epoch_ends'] == ends
        train(log, range(41, 81), followed)
    assert stored(database)[1][:2] == [0, 1]  # a token, pieces
    assert reader.status['_epoch_ends'] == ends == list(range(8, 81, 8))
    assert len(reader.history('train_loss')) == 80
    reader.close()
    assert database.version() == 7


def test_pieces_are_read_from_the_current_schema_only(postgresql_dsn):
    # A database of schema 6 first on the search path, one of 7 after it:
    # its table of pieces is the other database's, never read as ours.
    schema = postgresql_dsn.split('search_path=')[1].rstrip("'")
    other = Database('postgresql', dsn=postgresql_dsn.replace(
        schema, schema + '_other'))
    other.execute('CREATE SCHEMA {}_other'.format(schema))
    with other.log() as log:  # the same run, keys and ids, in pieces
        train(log, range(1, 41))
    assert stored(other)[1][:2] == [0, 1]  # a token, pieces
    ours = Database('postgresql', dsn=postgresql_dsn)
    uuid = a_run_of_schema_6(ours)
    both = Database('postgresql', dsn=postgresql_dsn.replace(
        schema, '{0},{0}_other'.format(schema)))
    with both.log(uuid=uuid, read_only=True) as log:
        assert log.status['_epoch_ends'] == [8, 16, 24, 32, 40]


@pytest.mark.parametrize('damage', [
    'a piece that is not JSON', 'a piece that is not a list',
    'a value that is not a list'])
def test_a_damaged_piece_gives_an_undecodable_list_and_nothing_else(
        database, damage):
    log = database.log()
    for time in range(1, 20):
        log.current_row['loss'] = float(time)
        log.status['_epoch_ends'] += [time]
        log.status['iterations_done'] = time
    log.close()
    if damage == 'a value that is not a list':
        database.set_value(
            'blocks_log_entries', codec.encode((1, 2)), 'time = ? AND key = '
            '(SELECT id FROM blocks_log_keys WHERE name = ?)',
            (sql.STATUS_TIME, '_epoch_ends'))
    else:
        database.set_value(
            'blocks_log_status_pieces', codec.JSON_TAG + b'[1,'
            if damage.endswith('JSON') else codec.encode({'a': 1}),
            'piece = (SELECT max(piece) FROM blocks_log_status_pieces)', ())
    with database.log(uuid=log.uuid, read_only=True) as reader:
        ends = reader.status['_epoch_ends']
        assert isinstance(ends, placeholders.Undecodable), ends
        assert reader.status['iterations_done'] == 19
        assert reader.history('loss') == [(time - 1, float(time))
                                          for time in range(1, 20)]
