"""Damaged chunks: right numbers or a placeholder that says why, never a
wrong, missing or duplicated number in silence (issue 19).

Each test writes one run (blocks of 8 times: floats, ints, a key mixing
both, a key of irregular times and one of text), damages one chunk row in
the database file (or server) as a disk, a bad copy or a hand would, and
reads everything back: no read raises, every number read is the one
written, a number is missing only where the damaged chunk was and a
:class:`~blocks_log.placeholders.DamagedChunk` stands there, and ``blocks-log``
says so in one line and exits 2.

"""
import io
import math
import zlib

import pytest

import blocks_log
from blocks_log import DamagedBatch, DamagedChunk, cli
from blocks_log.stores import batches, chunks, sqlite_sql

from conftest import FIXTURES

SPAN = 8
ITERATIONS = 60
KEYS = ['f', 'i', 'm', 'irregular', 'text']
#: The block damaged: times 16 to 23.
BLOCK = 2


def values_at(time):
    """What the run logs at `time`."""
    values = {'f': time / 3.0, 'i': time * 7 - 50,
              'm': time % 5 if time % 2 else time * 0.37,
              'text': 'at {}'.format(time)}
    if time % 8 in (0, 1, 3):
        values['irregular'] = float('nan') if time == 17 else -time / 2.0
    return values


def same(a, b):
    if type(a) is not type(b):
        return False
    if isinstance(a, float) and math.isnan(a):
        return math.isnan(b)
    return a == b


class Database(object):
    """The database of a run, as SQL sees it: its chunks as dicts, and
    writing them back."""

    COLUMNS = ['run', 'block', 'key', 'first', 'last', 'count', 'kind',
               'step', 'times', 'values', 'checksum']

    def __init__(self, connect, placeholder):
        self.connect, self.mark = connect, placeholder

    def execute(self, statement, parameters=()):
        connection = self.connect()
        try:
            cursor = connection.cursor()
            cursor.execute(statement.replace('?', self.mark), parameters)
            rows = cursor.fetchall() if cursor.description else []
            connection.commit()
            return rows
        finally:
            connection.close()

    def key_id(self, name):
        return self.execute('SELECT id FROM blocks_log_keys WHERE name = ?',
                            (name,))[0][0]

    def chunk(self, key, block=BLOCK):
        rows = self.execute(
            'SELECT run, block, key, first, last, count, kind, step, times, '
            '"values", checksum FROM blocks_log_chunks WHERE key = ? AND '
            'block = ?', (self.key_id(key), block))
        assert len(rows) == 1
        row = dict(zip(self.COLUMNS, rows[0]))
        for name in ('times', 'values'):
            if row[name] is not None:
                row[name] = bytes(row[name])
        return row

    def replace(self, old, new_rows):
        self.execute('DELETE FROM blocks_log_chunks WHERE run = ? AND '
                     'block = ? AND key = ? AND first = ?',
                     (old['run'], old['block'], old['key'], old['first']))
        for row in new_rows:
            self.execute(
                'INSERT INTO blocks_log_chunks (run, block, key, first, last, '
                'count, kind, step, times, "values", checksum) VALUES '
                '(?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?)',
                [row[name] for name in self.COLUMNS])


def changed(**changes):
    return lambda db, row: [dict(row, **changes)]


def flipped(blob, index):
    return blob[:index] + bytes([blob[index] ^ 0x10]) + blob[index + 1:]


def compressed_differences(differences):
    import array
    return zlib.compress(array.array('q', differences).tobytes())


def forged(**changes):
    """A damage made on purpose: the chunk changed, and its checksum made
    again to match (a CRC is no seal), so that only the chunk's other
    checks can tell."""
    def forge(db, row):
        row = dict(row, **changes)
        row['checksum'] = chunks.checksum(*[row[name] for name in (
            'run', 'key', 'block', 'first', 'last', 'count', 'kind', 'step',
            'times', 'values')])
        return [row]
    return forge


#: name -> (key whose chunk of BLOCK is damaged, damage(db, row) -> rows
#: that replace it, whether a store with typed columns can hold it).
DAMAGES = {
    'values cut by 8 bytes': ('f', lambda db, r: [dict(
        r, values=r['values'][:-8])], True),
    'values cut by 8 bytes at the start': ('f', lambda db, r: [dict(
        r, values=r['values'][8:])], True),
    'values 8 bytes longer': ('i', lambda db, r: [dict(
        r, values=r['values'] + b'\x01' * 8)], True),
    'a byte of a value flipped': ('f', lambda db, r: [dict(
        r, values=flipped(r['values'], 12))], True),
    'a byte of the int bitmap flipped': ('m', lambda db, r: [dict(
        r, values=flipped(r['values'], len(r['values']) - 1))], True),
    'values empty': ('f', changed(values=b''), True),
    'values of another key': ('f', lambda db, r: [dict(
        r, values=db.chunk('i')['values'])], True),
    'values as text': ('f', changed(values='not bytes'), False),
    'count one more': ('f', lambda db, r: [dict(
        r, count=r['count'] + 1)], True),
    'count one less': ('f', lambda db, r: [dict(
        r, count=r['count'] - 1)], True),
    'count 0': ('f', changed(count=0), True),
    'count huge': ('irregular', changed(count=2 ** 31 - 1), True),
    'count negative': ('f', changed(count=-5), True),
    'count as text': ('f', changed(count='eight'), False),
    'first one later': ('f', lambda db, r: [dict(
        r, first=r['first'] + 1)], True),
    'first one earlier': ('i', lambda db, r: [dict(
        r, first=r['first'] - 1)], True),
    'first huge': ('f', changed(first=10 ** 15), True),
    'first negative': ('f', changed(first=-3), True),
    'first as text': ('f', changed(first='sixteen'), False),
    'last one later': ('f', lambda db, r: [dict(
        r, last=r['last'] + 1)], True),
    'last one earlier': ('f', lambda db, r: [dict(
        r, last=r['last'] - 1)], True),
    'last huge': ('f', changed(last=10 ** 15), True),
    'kind int for floats': ('f', changed(kind='i'), True),
    'kind float for ints': ('i', changed(kind='f'), True),
    'kind mixed for floats': ('f', changed(kind='m'), True),
    'kind unknown': ('f', changed(kind='x'), True),
    'step one more': ('f', lambda db, r: [dict(
        r, step=r['step'] + 1)], True),
    'step 0': ('f', changed(step=0), True),
    'step huge': ('f', changed(step=10 ** 12), True),
    'step negative': ('f', changed(step=-1), True),
    'step missing': ('f', changed(step=None), True),
    'times garbage': ('irregular', changed(times=b'\x78\x9cgarbage'), True),
    'times of other differences': ('irregular', changed(
        times=compressed_differences([2, 1])), True),
    'times a zip bomb': ('irregular', changed(
        times=zlib.compress(b'\x01' * 10 ** 7)), True),
    'times given to a stepped chunk': ('f', changed(
        times=compressed_differences([1] * 7)), True),
    'times missing': ('irregular', changed(times=None), True),
    'checksum one more': ('f', lambda db, r: [dict(
        r, checksum=r['checksum'] + 1)], True),
    'checksum missing': ('f', changed(checksum=None), True),
    'checksum of another chunk': ('f', lambda db, r: [dict(
        r, checksum=db.chunk('f', BLOCK + 1)['checksum'])], True),
    'forged: a count the values do not hold': ('f', forged(
        count=9, last=24), True),
    'forged: a count beyond the times': ('f', forged(count=7), True),
    'forged: a step off': ('f', forged(step=2), True),
    'forged: fewer values than times': ('f', lambda db, r: forged(
        values=r['values'][:-8])(db, r), True),
    'forged: fewer values than irregular times': ('irregular', lambda db, r:
                                                  forged(values=r['values'][
                                                      :-8])(db, r), True),
    'forged: times that do not increase': ('irregular', forged(
        times=compressed_differences([0, 3])), True),
    'moved one block on': ('f', lambda db, r: [dict(
        r, block=r['block'] + 1)], True),
    'copied into the next block': ('f', lambda db, r: [r, dict(
        r, block=r['block'] + 1, first=r['first'] + 1)], True),
    'copied under another key': ('irregular', lambda db, r: [r, dict(
        r, key=db.key_id('text'))], True),
}


def write_run(log):
    for time in range(1, ITERATIONS + 1):
        log.status['iterations_done'] = time
        log.current_row.update(values_at(time))
    log.close()
    return log.h_uuid


def check_reads(log, damaged_key, noticed):
    """Every read of `log` holds the numbers written, but for those of the
    damaged chunk of `damaged_key`, for which a placeholder stands (if
    `noticed`: the damage hid a number; a forged copy of a chunk beside
    the chunk itself may be passed over). Return whether a placeholder was
    read."""
    # The damaged block, and the next: a chunk moved or copied there is
    # found and reported there.
    block_times = set(range(BLOCK * SPAN, BLOCK * SPAN + 2 * SPAN))
    found = []
    for key in KEYS:
        history = log.history(key)
        times = [time for time, _ in history]
        assert times == sorted(set(times)), key
        expected = dict((time, values_at(time)[key])
                        for time in range(1, ITERATIONS + 1)
                        if key in values_at(time))
        placeholders = [time for time, value in history
                        if isinstance(value, DamagedChunk)]
        found.extend(placeholders)
        for time, value in history:
            if not isinstance(value, DamagedChunk):
                assert same(value, expected.get(time)), (key, time, value)
        missing = set(expected) - set(times)
        if key == damaged_key and noticed:
            assert placeholders, 'the damage went unnoticed'
        # Only what the damaged chunk held, and a placeholder says so.
        assert missing <= block_times, (key, sorted(missing))
        assert placeholders or not missing, (key, sorted(missing))
    # Every other read, whole: none raises, none shows a wrong number.
    assert set(log) >= set(range(1, ITERATIONS + 1)) - block_times
    assert len(log) <= ITERATIONS + 2
    for time in range(ITERATIONS + 2):
        for key, value in dict(log[time]).items():
            if not isinstance(value, DamagedChunk):
                assert same(value, values_at(time).get(key)), (time, key)
    records = list(log.records())
    assert [time for time, _, _ in records] == sorted(
        time for time, _, _ in records)
    try:
        log.to_dataframe()
    except ImportError:
        pass
    return bool(found)


def check_command_line(source, uuid, capsys, damaged):
    """``blocks-log export`` and ``show`` (both a window at a time) of a
    run that reads `damaged`: one line and exit status 2; of one that does
    not, its rows."""
    for command in (['export', source, uuid, '--format', 'csv'],
                    ['show', source, uuid]):
        status = cli.main(command, io.StringIO())
        error = capsys.readouterr().err
        if not damaged:
            assert status == 0 and not error
            continue
        assert status == 2
        assert len(error.strip().splitlines()) == 1 and 'damaged' in error


def keeps_the_chunk(damage):
    """Whether `damage` adds a forged chunk beside the one it copies."""
    return damage.startswith('copied')


@pytest.fixture
def small_blocks(monkeypatch):
    monkeypatch.setattr(chunks, 'SPAN', SPAN)


@pytest.mark.parametrize('damage', sorted(DAMAGES))
def test_a_damaged_chunk_of_sqlite(damage, tmp_path, small_blocks, capsys):
    import sqlite3
    path = str(tmp_path / 'damaged.sqlite')
    uuid = write_run(blocks_log.SQLiteLog(path))
    db = Database(lambda: sqlite3.connect(path), '?')
    key, make, _ = DAMAGES[damage]
    row = db.chunk(key)
    db.replace(row, make(db, row))
    with blocks_log.SQLiteLog(path, uuid=uuid, read_only=True) as log:
        damaged = check_reads(log, key, not keeps_the_chunk(damage))
    check_command_line(path, uuid, capsys, damaged)


@pytest.mark.parametrize('block', [BLOCK, 5])
def test_the_summary_of_a_damaged_chunk_is_an_error(block, tmp_path,
                                                    small_blocks):
    # The runs page's summary of a key (see web.summaries): a run read
    # through its lineage (the first), and one that a checkpoint began,
    # read alone (times 31 on): a damaged chunk of either is an error
    # that names the run, never a number left out.
    import pickle
    import sqlite3
    from blocks_log.errors import DamagedLogError
    from blocks_log.sources import Source
    from blocks_log.web import data
    path = str(tmp_path / 'damaged.sqlite')
    log = blocks_log.SQLiteLog(path)
    runs = [log.h_uuid]
    for time in range(1, ITERATIONS + 1):
        log.status['iterations_done'] = time
        log.current_row.update(values_at(time))
        if time == 30:
            pickle.dumps(log)  # a checkpoint: on in a new run
            runs.append(log.h_uuid)
    log.close()
    db = Database(lambda: sqlite3.connect(path), '?')
    row = db.chunk('f', block)
    db.replace(row, DAMAGES['values cut by 8 bytes'][1](db, row))
    damaged = runs[0] if block == BLOCK else runs[1]
    with Source(path, strict=True) as source:
        assert data.summary(source, {'key': 'text'}) == dict(
            (uuid, {'last': None, 'min': None, 'max': None})
            for uuid in runs)
        with pytest.raises(DamagedLogError, match="run {}, key 'f'".format(
                damaged)):
            data.summary(source, {'key': 'f'})


@pytest.mark.parametrize('damage', sorted(
    name for name, (_, _, typed) in DAMAGES.items() if typed))
def test_a_damaged_chunk_of_postgresql(damage, postgresql_dsn, small_blocks):
    import psycopg
    uuid = write_run(blocks_log.PostgreSQLLog(postgresql_dsn))
    db = Database(lambda: psycopg.connect(postgresql_dsn), '%s')
    key, make, _ = DAMAGES[damage]
    row = db.chunk(key)
    db.replace(row, make(db, row))
    with blocks_log.PostgreSQLLog(postgresql_dsn, uuid=uuid,
                                  read_only=True) as log:
        check_reads(log, key, not keeps_the_chunk(damage))


def test_a_forged_count_costs_no_memory(tmp_path, small_blocks):
    # A count of 10**12 with a step: len(log) must not try to make them.
    import sqlite3
    path = str(tmp_path / 'forged.sqlite')
    uuid = write_run(blocks_log.SQLiteLog(path))
    db = Database(lambda: sqlite3.connect(path), '?')
    row = db.chunk('f')
    db.replace(row, [dict(row, count=10 ** 12, last=10 ** 12)])
    with blocks_log.SQLiteLog(path, uuid=uuid, read_only=True) as log:
        assert len(log) <= ITERATIONS + 1


def schema_3_values(time):
    """What the run of ``fixtures/blocks_log_schema_3.sqlite`` logged at
    `time` (see fixtures/README.md)."""
    values = {'train_loss': 1.0 / time, 'mixed': 0 if time % 2 else
              0.37 * time, 'note': 'at {}'.format(time)} if time else {}
    if time and time % 3 == 0:
        values['sparse'] = time
    if time and time % 8 in (0, 1, 3):
        values['irregular'] = float('nan') if time == 17 else -time / 2.0
    if time % 10 == 0:
        values['valid_loss'] = 2.0 / time if time else 2.5
    return values


def check_schema_3_run(log):
    for time in range(0, 41):
        row = dict(log[time])
        expected = schema_3_values(time)
        assert set(row) == set(expected), time
        assert all(same(row[key], value) for key, value in expected.items())
    history = log.history('mixed')
    assert [time for time, _ in history] == list(range(1, 41))
    assert all(same(value, schema_3_values(time)['mixed'])
               for time, value in history)


def test_a_file_of_schema_3_reads_right_and_gets_checksums(tmp_path):
    import os
    import shutil
    import sqlite3
    path = str(tmp_path / 'schema_3.sqlite')
    shutil.copy(os.path.join(FIXTURES, '..', 'blocks_log_schema_3.sqlite'),
                path)
    uuid, = [run.uuid for run in blocks_log.list_runs(path)]
    with blocks_log.SQLiteLog(path, uuid=uuid, read_only=True) as log:
        check_schema_3_run(log)
    with blocks_log.SQLiteLog(path, uuid=uuid) as log:
        check_schema_3_run(log)
    connection = sqlite3.connect(path)
    try:
        assert connection.execute(
            'SELECT count(*) FROM blocks_log_chunks WHERE checksum IS NULL'
        ).fetchone() == (0,)
        assert connection.execute(
            'SELECT value FROM blocks_log_meta').fetchone() == (
                sqlite_sql.SCHEMA_VERSION,)
    finally:
        connection.close()
    with blocks_log.SQLiteLog(path, uuid=uuid, read_only=True) as log:
        check_schema_3_run(log)


@pytest.mark.parametrize('count', ['as it was', 2 ** 31 - 1])
def test_a_zip_bomb_in_a_chunk_without_checksum_costs_no_memory(
        tmp_path, count):
    # Chunks of schema version 3 have no checksum: what bounds a read of
    # their times is their count, checked against their block, and the
    # bytes that count takes, never more inflated.
    import os
    import shutil
    import sqlite3
    import tracemalloc
    path = str(tmp_path / 'schema_3.sqlite')
    shutil.copy(os.path.join(FIXTURES, '..', 'blocks_log_schema_3.sqlite'),
                path)
    bomb = zlib.compress(b'\x01' * 10 ** 8)
    connection = sqlite3.connect(path)
    with connection:
        connection.execute(
            'UPDATE blocks_log_chunks SET times = ?{} WHERE times IS NOT '
            'NULL'.format('' if count == 'as it was' else ', count = ?'),
            (bomb,) if count == 'as it was' else (bomb, count))
    connection.close()
    uuid, = [run.uuid for run in blocks_log.list_runs(path)]
    with blocks_log.SQLiteLog(path, uuid=uuid, read_only=True) as log:
        tracemalloc.start()
        try:
            history = log.history('irregular')
            len(log)
            peak = tracemalloc.get_traced_memory()[1]
        finally:
            tracemalloc.stop()
    assert any(isinstance(value, DamagedChunk) for _, value in history)
    assert peak < 20 * 2 ** 20


# Batches: what one commit wrote into one block, in one row of the head
# (see blocks_log.stores.batches), damaged as a disk, a bad copy or a hand
# would. The run is written three iterations a commit, so that the last
# batch holds several times; it is in the head (the block is not packed).

def _count(blob, change):
    import struct
    count, = struct.unpack_from('<I', blob, 1)
    return blob[:1] + struct.pack('<I', change(count)) + blob[5:]


#: name -> damage(BLOB) -> what the row then holds.
BATCH_DAMAGES = {
    'cut by 8 bytes': lambda blob: blob[:-8],
    'one byte longer': lambda blob: blob + b'\x00',
    'empty': lambda blob: b'',
    'form unknown': lambda blob: b'x' + blob[1:],
    'count one more': lambda blob: _count(blob, lambda count: count + 1),
    'count huge': lambda blob: _count(blob, lambda count: 2 ** 32 - 1),
    'as the general form, a tag unknown': lambda blob: b'G' + blob[1:5] + (
        b'\x00' * 100),
    'text, not bytes': lambda blob: 'not a batch',
}
BATCH_ITERATIONS = ITERATIONS


def damaged_batch(damage, blob):
    """`blob` with BATCH_DAMAGES[damage] done to the batch after its stamp
    (the wall clock of its commit, which stays as it was)."""
    stamp = blob[:9] if blob[:1] == b'w' else b''
    damaged = BATCH_DAMAGES[damage](blob[len(stamp):])
    return damaged if isinstance(damaged, str) else stamp + damaged


#: The last batch of several times, its time, key and BLOB (the column of
#: the BLOB named).
LAST_SPREAD_BATCH = ('SELECT time, key, {} FROM blocks_log_entries WHERE '
                     'key < 0 AND (-key - 2) % 2 = 1 ORDER BY time DESC '
                     'LIMIT 1')


def check_batch_reads(log, times):
    """Every read of `log` holds the numbers written, but at `times` (those
    of the damaged batch), where a DamagedBatch stands for each key that
    misses a value, at a time of the batch's block."""
    block = set(range(min(times) - min(times) % SPAN,
                      min(times) - min(times) % SPAN + SPAN))
    for key in KEYS:
        history = log.history(key)
        expected = dict((time, values_at(time)[key])
                        for time in range(1, BATCH_ITERATIONS + 1)
                        if key in values_at(time))
        placeholders = [time for time, value in history
                        if isinstance(value, DamagedBatch)]
        read = dict((time, value) for time, value in history
                    if not isinstance(value, DamagedBatch))
        for time, value in read.items():
            assert same(value, expected.get(time)), (key, time, value)
        missing = set(expected) - set(read)
        assert missing <= set(times), (key, sorted(missing))
        if missing:
            assert set(placeholders) & block, key
        # a range that begins inside the batch says so too
        for start in times:
            _, values = log.series([key], start, start + 1)[key]
            if start in missing:
                assert [type(value) for value in values] == [
                    DamagedBatch], (key, start)
    for time in range(BATCH_ITERATIONS + 2):
        row = dict(log[time])
        for key, value in row.items():
            if not isinstance(value, DamagedBatch):
                assert same(value, values_at(time).get(key)), (time, key)
        if time in times:
            assert any(isinstance(value, DamagedBatch)
                       for value in row.values()), time
        for key, value in row.items():  # each read by its name, too
            assert same(log[time][key], value) or (
                log[time][key] == value), (time, key)
    try:
        log.to_dataframe()
    except ImportError:
        pass


def damaged_run(tmp_path, damage):
    """``(path, uuid, times)``: a file of the run, committed three
    iterations at a time, whose last batch of several times is damaged by
    BATCH_DAMAGES[damage], and the times that batch held."""
    import sqlite3
    path = str(tmp_path / 'damaged.sqlite')
    uuid = write_run(blocks_log.SQLiteLog(path, commit_every=3))
    with sqlite3.connect(path) as connection:
        time, key, blob = connection.execute(LAST_SPREAD_BATCH.format(
            'value')).fetchone()
        connection.execute('UPDATE blocks_log_entries SET value = ? WHERE '
                           'time = ? AND key = ?',
                           (damaged_batch(damage, blob), time, key))
    connection.close()
    return path, uuid, sorted(set(batches.decode(time, blob)[0]))


@pytest.mark.parametrize('damage', sorted(BATCH_DAMAGES))
def test_a_damaged_batch_of_sqlite(damage, tmp_path, small_blocks, capsys):
    path, uuid, times = damaged_run(tmp_path, damage)
    assert len(times) > 1
    with blocks_log.SQLiteLog(path, uuid=uuid, read_only=True) as log:
        check_batch_reads(log, times)
    check_command_line(path, uuid, capsys, True)


@pytest.mark.parametrize('damage', sorted(BATCH_DAMAGES))
def test_a_damaged_batch_of_one_iteration_of_sqlite(damage, tmp_path,
                                                    small_blocks):
    # A batch of floats at one time, as a commit of each iteration writes
    # it: a read of some keys (which finds them where the batch's keys
    # say) sees the damage as a read of all does.
    import sqlite3
    path = str(tmp_path / 'damaged.sqlite')
    with blocks_log.SQLiteLog(path) as log:
        for time in range(1, ITERATIONS + 1):
            log.status['iterations_done'] = time
            log.current_row.update({'x': time * 0.5, 'y': -time * 0.5})
        uuid = log.h_uuid
    with sqlite3.connect(path) as connection:
        time, key, blob = connection.execute(
            'SELECT time, key, value FROM blocks_log_entries WHERE key < 0 '
            'ORDER BY time DESC LIMIT 1').fetchone()
        assert blob[9:10] == b'f'
        connection.execute('UPDATE blocks_log_entries SET value = ? WHERE '
                           'time = ? AND key = ?',
                           (damaged_batch(damage, blob), time, key))
    connection.close()
    expected = dict((name, [(each, sign * each * 0.5)
                            for each in range(1, ITERATIONS)])
                    for name, sign in (('x', 1), ('y', -1)))
    with blocks_log.SQLiteLog(path, uuid=uuid, read_only=True) as log:
        for name in expected:
            # read alone: a placeholder at the batch's time
            for found in (log.history(name), list(zip(*log.series(
                    [name])[name]))):
                assert found[:-1] == expected[name]
                assert found[-1][0] == time == ITERATIONS
                assert isinstance(found[-1][1], DamagedBatch), name
        # read with every key: which keys it held cannot be told
        every = dict((name, list(zip(*column)))
                     for name, column in log.series().items())
        (at, placeholder), = every.pop(batches.DAMAGED_NAME)
        assert at == time and isinstance(placeholder, DamagedBatch)
        assert every == expected


@pytest.mark.parametrize('damage', ['cut by 8 bytes', 'form unknown'])
def test_a_damaged_batch_is_kept_when_its_run_packs_past_it(
        damage, tmp_path, small_blocks):
    # The run is written on after the damage: its writer packs the block
    # of the damaged batch from the database (written before it opened the
    # run), and must leave that block as it is, not pack the rest of it and
    # delete its rows, the damaged batch with them.
    import sqlite3
    path, uuid, times = damaged_run(tmp_path, damage)
    later = range(BATCH_ITERATIONS + 2, BATCH_ITERATIONS + 2 + 4 * SPAN)
    with blocks_log.SQLiteLog(path, uuid=uuid, commit_every=3) as log:
        for each in later:
            log.status['iterations_done'] = each
            log.current_row['later'] = each * 0.25
    with sqlite3.connect(path) as connection:
        packed, = connection.execute(
            'SELECT packed FROM blocks_log_runs WHERE uuid = ?',
            (uuid,)).fetchone()
    connection.close()
    assert packed > max(times) - max(times) % SPAN + SPAN  # packed past it
    with blocks_log.SQLiteLog(path, uuid=uuid, read_only=True) as log:
        check_batch_reads(log, times)
        # (read alone, a key meets the placeholder of the damaged batch)
        history = log.history('later')
        assert [(each, value) for each, value in history
                if each in later] == [(each, each * 0.25) for each in later]
        assert all(isinstance(value, DamagedBatch)
                   for each, value in history if each not in later)


@pytest.mark.parametrize('damage', sorted(BATCH_DAMAGES))
def test_a_damaged_batch_of_postgresql(damage, postgresql_dsn, small_blocks):
    import psycopg
    uuid = write_run(blocks_log.PostgreSQLLog(postgresql_dsn,
                                              commit_every=3))
    with psycopg.connect(postgresql_dsn) as connection:
        time, key, blob = connection.execute(LAST_SPREAD_BATCH.format(
            'b')).fetchone()
        blob = bytes(blob)
        damaged = damaged_batch(damage, blob)
        connection.execute(
            'UPDATE blocks_log_entries SET b = %s, t = %s WHERE time = %s '
            'AND key = %s', (None, damaged, time, key) if isinstance(
                damaged, str) else (damaged, None, time, key))
    times = sorted(set(batches.decode(time, blob)[0]))
    assert len(times) > 1
    with blocks_log.PostgreSQLLog(postgresql_dsn, uuid=uuid,
                                  read_only=True) as log:
        check_batch_reads(log, times)
