"""A full disk, for real: a tmpfs of a few MiB that the test mounts, fills
with a file until the kernel says ENOSPC, and frees again. Each failed
commit raises LogWriteError naming the file and the cause; nothing logged
is lost, and once space is back the run holds every value, exactly, as
a plain dict does. The same for PostgreSQL, whose tables the test puts in
a tablespace on such a tmpfs. Root only (mount); skipped elsewhere, a
failure under CI=true."""
import contextlib
import errno
import os
import pickle
import subprocess
import tempfile

import pytest

import blocks_log
from blocks_log import (LogDatabaseError, LogWriteError, PostgreSQLLog,
                        SQLiteLog)
from blocks_log.stores import chunks
from helpers import unavailable
from postgres_server import DATABASE, USER

SIZE = '16m'
KEYS = ['loss', 'cost', 'rate']
# Iterations logged before the disk fills (past what commits by time
# alone, 2,048 values), at most while it is full (the test fails if they go
# by without three failed commits), and once it is freed (a block's
# chunks.SPAN and more: a commit that packs comes after a failure).
BEFORE, WHILE_FULL, AFTER = 700, 1500, 300


@contextlib.contextmanager
def mounted(mount, options=''):
    """Mount a tmpfs of :data:`SIZE` on `mount` for the time of a `with`."""
    if os.geteuid() != 0:
        unavailable('a tmpfs mount', 'mounting one needs root')
    made = subprocess.run(['mount', '-t', 'tmpfs', '-o',
                           'size=' + SIZE + options, 'tmpfs', str(mount)],
                          stdout=subprocess.PIPE, stderr=subprocess.STDOUT,
                          timeout=30)
    if made.returncode:
        unavailable('a tmpfs mount', made.stdout.decode(errors='replace'))
    try:
        yield
    finally:
        # Lazily: a log the test left open still holds its files.
        subprocess.run(['umount', '-l', str(mount)], timeout=30)


@pytest.fixture
def disk(tmp_path):
    """A directory on a tmpfs of :data:`SIZE` of its own."""
    mount = tmp_path / 'disk'
    mount.mkdir()
    with mounted(mount):
        yield mount


@pytest.fixture
def postgresql_disk(postgresql_dsn, postgres_server):
    """(dsn, directory): a database whose tables the server puts on a
    tmpfs of :data:`SIZE` (a tablespace there, the default of the DSN's
    connections), and the directory that tmpfs is mounted on."""
    import pwd
    owner = pwd.getpwnam(postgres_server.owner or 'root')
    # Where the cluster's owner can reach it (pytest's tmp_path is not).
    mount = tempfile.mkdtemp(prefix='blocks_log_full_disk_')
    os.chmod(mount, 0o755)
    space = 'full_disk_' + os.path.basename(mount)[-8:].lower()
    with mounted(mount, ',uid={},gid={},mode=0700'.format(
            owner.pw_uid, owner.pw_gid)):
        postgres_server.psql("CREATE TABLESPACE {} LOCATION '{}'".format(
            space, mount))
        postgres_server.psql('GRANT CREATE ON TABLESPACE {} TO {}'.format(
            space, USER))
        try:
            yield (postgresql_dsn.rstrip("'") + " -c default_tablespace={}'"
                   .format(space)), mount
        finally:
            # The tables first, so that the tablespace is empty.
            schema = postgresql_dsn.split('search_path=')[1].rstrip("'")
            postgres_server.psql('DROP SCHEMA {} CASCADE'.format(schema),
                                 DATABASE)
            postgres_server.psql('DROP TABLESPACE ' + space)
    os.rmdir(mount)


def fill(directory):
    """Write a file in `directory` until its disk is full; its path."""
    path = os.path.join(str(directory), 'filler')
    with open(path, 'wb', buffering=0) as filler:
        for size in (2 ** 20, 4096, 512):
            try:
                while True:
                    filler.write(b'\0' * size)
            except OSError as error:
                assert error.errno == errno.ENOSPC
    return path


def says_full(error, path):
    message = str(error)
    return path in message and 'full' in message


class Logged(object):
    """A training loop over a log, beside a plain dict of what it logged."""

    def __init__(self, log):
        self.log, self.rows, self.failures = log, {}, []

    def iteration(self):
        """One iteration; the LogWriteError it raised, or None."""
        failed = None
        try:
            self.log.status['iterations_done'] += 1
        except LogWriteError as error:
            failed = error  # the iteration goes on: nothing was lost
        time = self.log.status['iterations_done']
        for index, key in enumerate(KEYS):
            value = float(time) / (index + 1)
            try:
                self.log.current_row[key] = value
            except LogWriteError as error:
                # Refused by a full buffer whose commit failed: buffered.
                failed = error
            self.rows.setdefault(time, {})[key] = value
        if failed is not None:
            self.failures.append(failed)
        return failed

    def while_full(self):
        """Iterations until three commits failed (the disk full)."""
        for _ in range(WHILE_FULL):
            self.iteration()
            if len(self.failures) >= 3:
                break
        assert len(self.failures) >= 3, 'the disk never filled'

    def committed_as_logged(self, committed):
        """Whether `committed` (rows read back) holds rows, as logged."""
        return committed and all(self.rows[time] == row
                                 for time, row in committed.items())

    def once_freed(self):
        """Iterations once the disk is freed, each committed; closed."""
        for _ in range(AFTER):
            assert self.iteration() is None
        self.log.close()


def read_back(path, uuid):
    with SQLiteLog(path, uuid=uuid, read_only=True) as log:
        return (dict((time, dict(log[time])) for time in log),
                log.status['iterations_done'])


@pytest.mark.parametrize('options', [
    {}, {'commit_every': 100}, {'commit_seconds': 60},
    {'synchronous': 'FULL'}],
    ids=['each', 'every-100', 'by-time', 'full-sync'])
def test_a_full_disk_loses_nothing_logged(disk, options):
    path = str(disk / 'log.sqlite')
    loop = Logged(SQLiteLog(path, **options))
    for _ in range(BEFORE):
        assert loop.iteration() is None
    filler = fill(disk)
    loop.while_full()
    for failure in loop.failures:
        assert says_full(failure, path), failure
        assert 'bytes free' in str(failure)
    # A reader reads what was committed, on a full disk.
    committed, _ = read_back(path, loop.log.h_uuid)
    assert loop.committed_as_logged(committed)
    os.remove(filler)
    loop.once_freed()
    rows, done = read_back(path, loop.log.h_uuid)
    assert done == max(loop.rows)
    assert rows == loop.rows


def test_close_on_a_full_disk_keeps_the_log_open(disk):
    path = str(disk / 'log.sqlite')
    loop = Logged(SQLiteLog(path, commit_every=100))
    for _ in range(49):
        loop.iteration()
    filler = fill(disk)
    with pytest.raises(LogWriteError) as raised:
        loop.log.close()
    assert says_full(raised.value, path)
    os.remove(filler)
    loop.log.close()
    assert read_back(path, loop.log.h_uuid) == (loop.rows, 49)


@pytest.mark.parametrize('moving_on', ['resume', 'pickle'])
def test_a_new_run_refused_by_a_full_disk_leaves_the_log_in_its_run(
        disk, moving_on):
    # resume(), and pickling (which moves the live log on to a child run),
    # write a new run: refused, the log goes on in its own.
    path = str(disk / 'log.sqlite')
    loop = Logged(SQLiteLog(path, commit_every=10))
    for _ in range(5):
        loop.iteration()
    uuid = loop.log.h_uuid
    filler = fill(disk)
    with pytest.raises(LogWriteError) as raised:
        loop.log.resume() if moving_on == 'resume' else pickle.dumps(
            loop.log)
    assert says_full(raised.value, path)
    assert loop.log.h_uuid == uuid
    os.remove(filler)
    loop.iteration()
    loop.log.close()
    assert read_back(path, uuid) == (loop.rows, 6)
    assert [run['uuid'] for run in blocks_log.list_runs(path)] == [uuid]


def test_opening_on_a_full_disk_says_why(disk):
    existing = str(disk / 'existing.sqlite')
    with SQLiteLog(existing) as log:
        log.status['iterations_done'] += 1
        log.current_row['loss'] = 1.0
    fill(disk)
    # A new file: its tables cannot be written.
    new = str(disk / 'new.sqlite')
    with pytest.raises(LogWriteError) as raised:
        SQLiteLog(new)
    assert says_full(raised.value, new)
    assert not os.path.exists(new)  # a failed open makes no file
    # An existing run, to go on writing: SQLite cannot make the -shm
    # index, and says "disk I/O error"; the message says how full.
    with pytest.raises(LogDatabaseError) as raised:
        SQLiteLog(existing, uuid=log.h_uuid)
    message = str(raised.value)
    assert existing in message and 'bytes free' in message
    assert 'as a log database' not in message


@pytest.mark.parametrize('options', [
    {}, {'commit_every': 100}, {'commit_seconds': 60}],
    ids=['each', 'every-100', 'by-time'])
def test_a_full_disk_on_the_server_loses_nothing_logged(
        postgresql_disk, options):
    # The server's own errors: "could not extend file ...: No space left
    # on device", for the values, for the chunks of a pack, or for the
    # index of either; the server rolls the transaction back.
    dsn, mount = postgresql_disk
    loop = Logged(PostgreSQLLog(dsn, **options))
    for _ in range(3 * chunks.SPAN):
        assert loop.iteration() is None
    # Committed past a block's end: the next commit packs that block, and
    # fails. (By time alone, a server's log commits 4,096 values.)
    loop.log.flush()
    filler = fill(mount)
    loop.while_full()
    for failure in loop.failures:
        message = str(failure)
        assert DATABASE in message and 'No space left' in message, message
    with PostgreSQLLog(dsn, uuid=loop.log.h_uuid, read_only=True) as reader:
        committed = dict((time, dict(reader[time])) for time in reader)
    assert loop.committed_as_logged(committed)
    os.remove(filler)
    loop.once_freed()
    with PostgreSQLLog(dsn, uuid=loop.log.h_uuid, read_only=True) as reader:
        assert dict((time, dict(reader[time])) for time in reader) == (
            loop.rows)
        assert reader.status['iterations_done'] == max(loop.rows)
