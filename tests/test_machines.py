"""An SQLite file written from two machines at once, as on a network
filesystem (a home directory on NFS, where ``~/blocks_log.sqlite`` lies),
is damaged: the index of its WAL is in memory that only one machine's
processes share. The second machine's writer is refused, and says what to
do instead; its reader is warned that what it reads may be out of date.
Containers of one machine share a file as processes do.

The other machine is a writer in a mount and UTS namespace of its own, with
another host name and another kernel boot id bound over
``/proc/sys/kernel/random/boot_id``: what a process on another machine
reads there. Root only; skipped elsewhere, a failure under CI=true."""
import os
import shutil
import sqlite3
import subprocess
import sys
import uuid
import warnings

import pytest

import blocks_log
from blocks_log import RunInUseError, SQLiteLog
from helpers import unavailable
from test_processes import KEYS, WRITER

pytestmark = pytest.mark.skipif(not sys.platform.startswith('linux'),
                                reason='boot ids and namespaces of Linux')


@pytest.fixture
def elsewhere(tmp_path):
    """``elsewhere(argv, host, same_machine=False)``: `argv` run as a
    process on another machine named `host` (or, `same_machine`, in a
    container of this one: another host name, the same kernel)."""
    if os.geteuid() != 0 or not shutil.which('unshare'):
        unavailable('another machine', 'a mount namespace needs root and '
                    'unshare')
    boot_id = tmp_path / 'boot_id'
    boot_id.write_text(str(uuid.uuid4()) + '\n')

    def command(argv, host, same_machine=False):
        script = ('{}hostname "$2" && shift 2 && exec "$@"'.format(
            '' if same_machine else
            'mount --bind "$1" /proc/sys/kernel/random/boot_id && '))
        return ['unshare', '--mount', '--uts', 'sh', '-c', script, 'sh',
                str(boot_id), host] + list(argv)
    return command


def start(command, database, iterations, pause):
    writer = subprocess.Popen(
        command([sys.executable, WRITER, database, str(iterations),
                 str(pause)]),
        stdin=subprocess.PIPE, stdout=subprocess.PIPE, stderr=subprocess.PIPE,
        universal_newlines=True)
    run = writer.stdout.readline().strip()
    if not run:
        pytest.fail('the writer did not start: ' + writer.stderr.read())
    while writer.stdout.readline().strip() != 'paused':
        pass
    return writer, run


def finish(writer):
    writer.stdin.write('\n')
    writer.stdin.flush()
    out, error = writer.communicate(timeout=60)
    assert writer.returncode == 0, error


def rows_of(database, run):
    with SQLiteLog(database, uuid=run, read_only=True) as log:
        return dict((time, dict(log[time])) for time in log)


def written(iterations):
    return dict((time, dict((key, float(time)) for key in KEYS))
                for time in range(1, iterations + 1))


def test_a_second_machine_is_refused_and_loses_nothing(tmp_path, elsewhere):
    database = str(tmp_path / 'shared.sqlite')
    with SQLiteLog(database) as earlier:  # a run of this machine, done
        earlier.current_row['loss'] = 1.0
    writer, run = start(lambda argv: elsewhere(argv, 'node-b'), database,
                        40, pause=20)
    # Two runs written there: a reader is told once.
    second, _ = start(lambda argv: elsewhere(argv, 'node-b'), database,
                      40, pause=20)
    try:
        # A new run, and a run of the file taken up again: both refused.
        for options in ({}, {'uuid': earlier.h_uuid}):
            with pytest.raises(RunInUseError) as refused:
                SQLiteLog(database, **options)
            message = str(refused.value)
            for words in (database, run, 'another machine', 'node-b',
                          'a file of its own', 'PostgreSQL'):
                assert words in message, message
        # Reading is not refused, and the refusals took nothing away; a
        # reader is told that it may be behind that machine.
        with pytest.warns(RuntimeWarning) as told:
            with SQLiteLog(database, uuid=earlier.h_uuid,
                           read_only=True) as reader:
                assert dict(reader[0]) == {'loss': 1.0}
        message, = [str(each.message) for each in told]
        for words in (database, run, 'another machine', 'node-b',
                      'may be out of date', 'PostgreSQL'):
            assert words in message, message
        with pytest.warns(RuntimeWarning):
            assert [each.uuid for each in blocks_log.list_runs(
                database)][:2] == [earlier.h_uuid, run]
        # The command line says it on one line, and goes on.
        shown = subprocess.run(
            [sys.executable, '-m', 'blocks_log', 'show', database, run[:8],
             '--tail', '1'], stdout=subprocess.PIPE, stderr=subprocess.PIPE,
            universal_newlines=True, timeout=60)
        assert shown.returncode == 0
        assert shown.stdout.splitlines()[-1].split() == ['20'] * 11
        warning, = shown.stderr.splitlines()
        assert warning.startswith('blocks-log show: warning: ' + database)
        assert 'node-b' in warning
    finally:
        finish(writer)
        finish(second)
    assert rows_of(database, run) == written(40)
    # Once that machine is done, this one writes.
    with SQLiteLog(database) as log:
        log.current_row['loss'] = 2.0


def test_a_machine_writing_keeps_out_another(tmp_path, elsewhere):
    database = str(tmp_path / 'shared.sqlite')
    log = SQLiteLog(database)
    log.current_row['loss'] = 1.0
    log.flush()
    other = subprocess.run(
        elsewhere([sys.executable, WRITER, database, '5'], 'node-b'),
        stdout=subprocess.PIPE, stderr=subprocess.PIPE,
        universal_newlines=True, timeout=60)
    assert other.returncode != 0 and 'RunInUseError' in other.stderr
    assert 'another machine' in other.stderr and log.h_uuid in other.stderr
    log.current_row['loss'] = 3.0
    log.close()
    assert rows_of(database, log.h_uuid) == {0: {'loss': 3.0}}
    assert len(blocks_log.list_runs(database)) == 1


def test_containers_of_one_machine_share_a_file(tmp_path, elsewhere):
    # Their host names differ; their kernel, and so the WAL's index, is one.
    database = str(tmp_path / 'shared.sqlite')
    writer, run = start(
        lambda argv: elsewhere(argv, 'container-b', same_machine=True),
        database, 40, pause=20)
    try:
        with warnings.catch_warnings():
            warnings.simplefilter('error')  # and no reader is warned
            with SQLiteLog(database) as log:
                log.current_row['loss'] = 1.0
            assert rows_of(database, run) == written(20)
    finally:
        finish(writer)
    assert rows_of(database, run) == written(40)
    assert rows_of(database, log.h_uuid) == {0: {'loss': 1.0}}


def test_a_killed_writer_of_another_machine_keeps_nobody_out(
        tmp_path, elsewhere):
    # Its claim stays recorded; its lock went with its process.
    database = str(tmp_path / 'shared.sqlite')
    writer, run = start(lambda argv: elsewhere(argv, 'node-b'), database,
                        40, pause=20)
    writer.kill()
    writer.wait(timeout=60)
    with sqlite3.connect(database) as connection:
        claim, = connection.execute(
            'SELECT writer FROM blocks_log_runs').fetchone()
    assert 'node-b' in claim
    with SQLiteLog(database) as log:
        log.current_row['loss'] = 1.0
    assert rows_of(database, run) == written(20)  # committed at the pause
