"""``blocks-log copy`` of a run still being written: what the copy holds
is exact as far as it goes, and a later copy finishes it (issue 19)."""
import io

from blocks_log import SQLiteLog, cli
from blocks_log.copy import copy

from test_processes import KEYS, start_writer


def rows(path, run):
    with SQLiteLog(path, uuid=run, read_only=True) as log:
        return dict((time, dict(log[time])) for time in log), dict(
            log.status)


def test_a_run_being_written_is_finished_by_a_later_copy(tmp_path):
    source = str(tmp_path / 'training.sqlite')
    destination = str(tmp_path / 'copy.sqlite')
    process, run = start_writer(source, 300, pause=150)
    assert list(iter(process.stdout.readline, 'paused\n'))[-1] == '150\n'
    # While it trains: what the copy holds is what was committed.
    assert copy(source, destination) == [(run, 'copied so far')]
    copied, status = rows(destination, run)
    assert sorted(copied) == list(range(1, 152)) or sorted(copied) == list(
        range(1, 151))
    for time in range(1, 151):
        assert copied[time] == dict((key, float(time)) for key in KEYS)
    assert copy(source, destination) == [(run, 'copied so far')]
    process.stdin.write('go\n')
    process.stdin.flush()
    process.communicate()
    assert process.returncode == 0
    # Once its writer is done, the next copy finishes it, exactly.
    out = io.StringIO()
    assert cli.main(['copy', source, destination], out) == 0
    assert out.getvalue().split() == [run, 'finished']
    assert rows(destination, run) == rows(source, run)
    assert copy(source, destination) == [(run, 'present')]
