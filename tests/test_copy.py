"""``blocks-log copy`` of a run still being written: what the copy holds
is exact as far as it goes, and a later copy finishes it (issue 19)."""
import io
import os

import pytest

from blocks_log import SQLiteLog, cli
from blocks_log.copy import copy
from blocks_log.runs import list_runs

from helpers import lineage, pickled_log, shallow_stack
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


def reads(path, run):
    """What a log of `run` reads: its times, their count, its rows and its
    status (in an SQLite file, or a PostgreSQL database given its DSN)."""
    from blocks_log.sources import is_postgresql
    opened = open_copy(path) if is_postgresql(path) else SQLiteLog
    with opened(path, uuid=run, read_only=True) as log:
        times = list(log)
        return times, len(log), [dict(log[time]) for time in times], dict(
            log.status)


def test_a_run_is_copied_with_its_ancestors_first_and_its_deletions(
        tmp_path):
    source = str(tmp_path / 'training.sqlite')
    destination = str(tmp_path / 'copy.sqlite')
    with SQLiteLog(source) as log:
        lineage = [log.h_uuid]
        for time in range(1, 7):
            log.status['iterations_done'] = time
            log.current_row['loss'] = time * 0.5
        log.resume()
        lineage.append(log.h_uuid)
        # Its only value hidden in the child: time 3 holds nothing there.
        del log[3]['loss']
        for time in range(7, 10):
            log.status['iterations_done'] = time
            log.current_row['loss'] = time * 0.25
        log.resume()
        lineage.append(log.h_uuid)
        log.status['iterations_done'] = 10
        log.current_row['text'] = 'ten'
    with SQLiteLog(source) as other:
        other.current_row['loss'] = 1.0
        unrelated = other.h_uuid
    assert 3 not in reads(source, lineage[1])[0]
    # The last run asked for: copied after its ancestors, the other left.
    assert copy(source, destination, [lineage[-1]]) == [
        (uuid, 'copied') for uuid in lineage]
    for uuid in lineage:
        assert reads(destination, uuid) == reads(source, uuid)
    assert [run.uuid for run in list_runs(destination)] == lineage
    assert unrelated in [run.uuid for run in list_runs(source)]


def reads_of(store_class, monkeypatch):
    """The values each ``read_series`` of a store of `store_class` reads,
    listed as they are read."""
    counts = []
    read_series = store_class.read_series

    def counted(self, *arguments):
        columns = read_series(self, *arguments)
        counts.append(sum(len(times) for times, _ in columns.values()))
        return columns
    monkeypatch.setattr(store_class, 'read_series', counted)
    return counts


def train(log, times, keys, sign=1):
    """Log, as a training loop, a value of each of `keys` at each of
    `times`: ``sign * time / 2``."""
    for time in times:
        log.status['iterations_done'] = time
        for key in keys:
            log.current_row[key] = sign * time * 0.5


def test_a_run_deeper_than_the_stack_is_copied_with_its_ancestors(
        tmp_path):
    # A lineage of a checkpoint each epoch, thousands of runs deep (past
    # Python's recursion limit); its last run named alone.
    source, destination = str(tmp_path / 'a.sqlite'), str(tmp_path / 'b')
    deepest = lineage(source, 300)
    with shallow_stack(150):
        copied = copy(source, destination, [deepest])
    ancestors = [run.uuid for run in list_runs(source)]
    assert copied == [(uuid, 'copied') for uuid in ancestors]
    assert [(run.uuid, run.parent) for run in list_runs(destination)] == [
        (run.uuid, run.parent) for run in list_runs(source)]
    assert rows(destination, deepest)[0] == dict(
        (time, {'x': time}) for time in range(1, 301))


def test_a_long_run_is_copied_a_window_at_a_time(tmp_path, monkeypatch):
    # What a copy holds at once does not grow with the run: about BATCH
    # values a read (a whole run of 1,000,000 iterations took 1.5 GB); a
    # resumed run's own values, which begin late (and after a gap of a
    # trillion times), are found in a few reads.
    from blocks_log import copy as copying
    from blocks_log.stores.sqlite import SQLiteStore
    source = str(tmp_path / 'long.sqlite')
    destination = str(tmp_path / 'copy.sqlite')
    with SQLiteLog(source, commit_every=100) as log:
        train(log, range(1, 3001), KEYS)
        log.resume()
        train(log, range(10 ** 12, 10 ** 12 + 2000), KEYS, sign=-1)
    monkeypatch.setattr(copying, 'BATCH', 1000)
    counts = reads_of(SQLiteStore, monkeypatch)
    progress = []
    copy(source, destination, progress=lambda *done: progress.append(done))
    assert sum(counts) == 5000 * len(KEYS)
    # Each run's progress goes up, to the whole of it.
    for run in list_runs(source):
        done = [(done, total) for uuid, done, total in progress
                if uuid == run.uuid]
        assert len(done) > 2 and done == sorted(done)
        assert done[-1][0] == done[-1][1]
    # (A read of the source, and one of the copy, a window.)
    assert max(counts) <= 8 * 1000 and len(counts) < 200
    for run in list_runs(source):
        assert reads(destination, run.uuid) == reads(source, run.uuid)
    # A value written into the copy, in the gap before the resumed run's
    # own values: the windows cross the gap where neither side holds one.
    with SQLiteLog(destination, uuid=log.h_uuid) as copied:
        copied[5 * 10 ** 11]['stray'] = 1
    assert copy(source, destination, [log.h_uuid])[-1] == (
        log.h_uuid, 'updated')
    assert reads(destination, log.h_uuid) == reads(source, log.h_uuid)


def test_a_run_of_arrays_is_copied_a_few_mb_at_a_time(tmp_path,
                                                      monkeypatch):
    # Reads and commits are sized by what their values weigh (see
    # series.weight), not by their count: a run logging an array each
    # iteration was read, and written, whole (2 GB held to copy 630 MB).
    from blocks_log import copy as copying, series
    from blocks_log.stores.sqlite import SQLiteStore
    source = str(tmp_path / 'arrays.sqlite')
    destination = str(tmp_path / 'copy.sqlite')
    with SQLiteLog(source) as log:
        for time in range(1, 301):
            log.status['iterations_done'] = time
            log.current_row['loss'] = 1.0 / time
            log.current_row['weights'] = bytes([time % 256]) * 2 ** 16
    monkeypatch.setattr(copying, 'BATCH', 1000)
    weights, written = [], []
    read_series, write = SQLiteStore.read_series, SQLiteStore.write

    def weighed(self, *arguments):
        columns = read_series(self, *arguments)
        weights.append(series.weight(columns))
        return columns

    def counted(self, run, items, *arguments, **options):
        written.append(sum(len(stored) for stored in items[2::3]
                           if type(stored) is bytes))
        return write(self, run, items, *arguments, **options)
    monkeypatch.setattr(SQLiteStore, 'read_series', weighed)
    monkeypatch.setattr(SQLiteStore, 'write', counted)
    copy(source, destination)
    # 300 arrays weigh 19,800 values; a read about 2 * BATCH, after a
    # first of FIRST_SPAN times; a commit a window's at most.
    assert sum(weights) >= 300 * 2 ** 16 // series.VALUE_BYTES
    assert max(weights[1:]) <= 2 * 2 * 1000
    assert len(written) > 5
    assert max(written) <= max(weights) * series.VALUE_BYTES
    assert reads(destination, log.uuid) == reads(source, log.uuid)


def test_a_copy_holding_more_than_the_run_is_read_a_window_at_a_time(
        tmp_path, monkeypatch):
    # A checkpoint's copy holds its parent's rows as the run's own; its
    # database's run, copied next, holds a few values of its own, late:
    # the windows are sized by what both sides hold, so that no read of
    # the copy takes all of those rows at once.
    import pickle
    from blocks_log import copy as copying
    from blocks_log.stores.sqlite import SQLiteStore
    source = str(tmp_path / 'long.sqlite')
    destination = str(tmp_path / 'copy.sqlite')
    with SQLiteLog(source, commit_every=100) as log:
        train(log, range(1, 3001), KEYS)
        log.resume()
        train(log, range(3001, 3006), ['loss'], sign=-1)
        run = log.h_uuid
        checkpoint = str(tmp_path / 'checkpoint.pkl')
        with open(checkpoint, 'wb') as pickled:
            pickle.dump(log, pickled)
    copy(checkpoint, destination)
    monkeypatch.setattr(copying, 'BATCH', 1000)
    counts = reads_of(SQLiteStore, monkeypatch)
    assert copy(source, destination, [run])[-1] == (run, 'updated')
    assert max(counts) <= 8 * 2 * 1000
    assert reads(destination, run) == reads(source, run)


def test_a_pickled_log_is_copied_in_one_read(tmp_path, monkeypatch):
    # A log in memory sorts all its times at each read of a range: read in
    # windows, a copy of it would take time that grows as its square.
    from blocks_log import copy as copying
    source = pickled_log(str(tmp_path / 'log.pkl'))
    monkeypatch.setattr(copying, 'BATCH', 100)
    counts = reads_of(copying.LogStore, monkeypatch)
    copy(source, str(tmp_path / 'copy.sqlite'))
    assert counts == [3000]


def test_a_pickled_log_resumed_reads_in_its_copy_as_it_did_pickled(
        tmp_path):
    # A checkpoint's log resumed from a run that the destination holds
    # (a copy of an earlier checkpoint, and of a later one of the same
    # run: a TrainingLog keeps its uuid when pickled). Its copy reads what
    # the log held, its parent's rows as they were when it resumed: not
    # what it deleted from them, nor what the parent logged later.
    import pickle
    from blocks_log import TrainingLog

    def checkpoint(log, name):
        path = str(tmp_path / name)
        with open(path, 'wb') as pickled:
            pickle.dump(log, pickled)
        copy(path, destination)
        return path

    destination = str(tmp_path / 'copy.sqlite')
    parent = TrainingLog()
    for time in range(1, 4):
        parent[time]['loss'] = float(time)
    parent[2]['accuracy'] = 0.5
    early = checkpoint(parent, 'early.pkl')
    for time in range(4, 7):
        parent[time]['loss'] = float(time)
        parent[time]['accuracy'] = 0.75
    checkpoint(parent, 'late.pkl')
    with open(early, 'rb') as pickled:
        child = pickle.load(pickled)
    child.resume()
    del child[2]['accuracy']
    child[4]['loss'] = -4.0
    checkpoint(child, 'child.pkl')
    with SQLiteLog(destination, uuid=child.h_uuid, read_only=True) as copied:
        assert dict((time, dict(copied[time])) for time in copied) == {
            1: {'loss': 1.0}, 2: {'loss': 2.0}, 3: {'loss': 3.0},
            4: {'loss': -4.0}}
        assert copied.status['resumed_from'] == parent.h_uuid
    with SQLiteLog(destination, uuid=parent.h_uuid,
                   read_only=True) as copied:
        assert len(copied) == 6 and dict(copied[2]) == {
            'loss': 2.0, 'accuracy': 0.5}


def open_copy(dsn):
    from blocks_log import PostgreSQLLog
    return lambda _, **options: PostgreSQLLog(dsn, **options)


@pytest.mark.parametrize('into', ['sqlite', 'postgresql'])
@pytest.mark.parametrize('first', ['checkpoint', 'database'])
def test_a_checkpoint_and_its_database_copied_into_one_file(
        tmp_path, request, first, into):
    # A checkpoint of an SQLiteLog holds its rows and its parent's as its
    # own, and reads through to none; its database's run holds its own and
    # reads through to its parent. Copied one after the other into one
    # file, in either order, the run there reads as the source copied
    # last: its parent, and no value of the parent hidden, or shown where
    # the run deleted it.
    import pickle
    source = str(tmp_path / 'training.sqlite')
    destination = str(tmp_path / 'copy.sqlite') if into == 'sqlite' else (
        request.getfixturevalue('postgresql_dsn'))
    log = SQLiteLog(source)
    for time in range(1, 6):
        log[time]['loss'] = float(time)
    parent = log.h_uuid
    log.resume()
    del log[2]['loss']
    log[6]['loss'] = 6.0
    checkpoint = str(tmp_path / 'checkpoint.pkl')
    run = log.h_uuid
    with open(checkpoint, 'wb') as pickled:
        pickle.dump(log, pickled)  # the live log moves on to a child
    log.close()
    expected = reads(source, run)
    assert [row for row in expected[2]] == [
        {'loss': 1.0}, {'loss': 3.0}, {'loss': 4.0}, {'loss': 5.0},
        {'loss': 6.0}]
    order = [checkpoint, source] if first == 'checkpoint' else [
        source, checkpoint]
    for copied_from in order + order:
        copy(copied_from, destination, [run])
        assert reads(destination, run) == expected
        opened = SQLiteLog if into == 'sqlite' else open_copy(destination)
        with opened(destination, uuid=run, read_only=True) as copied:
            assert copied._session.run.parent == (
                parent if copied_from == source else None)
    # Nothing changed: nothing written.
    assert copy(order[-1], destination, [run])[-1] == (run, 'present')


def test_a_value_written_into_a_copy_gives_way_to_the_parents(tmp_path):
    # A value written into a copy of a resumed run, where the run holds
    # none of its own but its parent does: the next copy makes it read the
    # parent's again (a deleted mark in its place hid the parent's).
    source = str(tmp_path / 'training.sqlite')
    destination = str(tmp_path / 'copy.sqlite')
    with SQLiteLog(source) as log:
        log[1]['loss'] = 1.0
        log[2]['loss'] = 2.0
        log.resume()
        log[3]['loss'] = 3.0
        run = log.h_uuid
    copy(source, destination)
    with SQLiteLog(destination, uuid=run) as copied:
        copied[2]['loss'] = 99.0
        copied[2]['stray'] = 'x'
        copied[3]['loss'] = -3.0
        copied[9]['stray'] = 'past the last value of the run'
    assert copy(source, destination, [run])[-1] == (run, 'updated')
    assert reads(destination, run) == reads(source, run)
    assert copy(source, destination, [run])[-1] == (run, 'present')


def test_a_value_written_into_a_copy_gives_way_to_the_nearest_ancestors(
        tmp_path):
    # The same through a lineage that spans both kinds of run: resumed
    # from a run of ours, itself resumed from a run of Blocks' in the same
    # file; the nearer one's value wins.
    import json
    import shutil
    from conftest import FIXTURES
    source = str(tmp_path / 'blocks.sqlite')
    destination = str(tmp_path / 'copy.sqlite')
    shutil.copy(os.path.join(FIXTURES, 'blocks_log.sqlite'), source)
    with open(os.path.join(FIXTURES, 'expected.json')) as expected:
        blocks_run = json.load(expected)['sqlite']['live_child_uuid']
    with SQLiteLog(source, uuid=blocks_run) as log:
        assert log[3]['loss'] == 1 / 3.0
        log.resume()
        log[3]['loss'] = 30.0
        log.resume()
        log[11]['loss'] = 11.0
        run = log.h_uuid
    copy(source, destination, [run])
    with SQLiteLog(destination, uuid=run) as copied:
        copied[3]['loss'] = 99.0  # over the run of ours
        copied[5]['loss'] = 99.0  # over Blocks' alone
    assert copy(source, destination, [run])[-1] == (run, 'updated')
    # repr: Blocks' run holds numpy arrays.
    assert repr(reads(destination, run)) == repr(reads(source, run))
    with SQLiteLog(destination, uuid=run, read_only=True) as copied:
        assert copied[3]['loss'] == 30.0


def written_by(store_class, monkeypatch):
    """The values each ``write`` of a store of `store_class` writes (those
    of its items), listed as they are written."""
    counts = []
    write = store_class.write

    def counted(self, run, items, *arguments, **options):
        counts.append(len(items) // 3)
        return write(self, run, items, *arguments, **options)
    monkeypatch.setattr(store_class, 'write', counted)
    return counts


def test_a_copy_again_writes_what_changed_before_where_it_got(
        tmp_path, monkeypatch):
    # A copy made while the run was written, copied again once it was
    # done: what its writer wrote into rows before where the first copy
    # got (a value changed, a key added, a value deleted, 0.0 made -0.0,
    # 50.0 made 50)
    # is in the copy too, and only that and what came after is written.
    # Then the run is opened again and changed: the next copy brings it
    # up to date ('updated'); the one after writes nothing ('present').
    import math
    from blocks_log.stores.sqlite import SQLiteStore
    source = str(tmp_path / 'training.sqlite')
    destination = str(tmp_path / 'copy.sqlite')
    log = SQLiteLog(source, commit_every=10)
    for time in range(1, 301):
        log.status['iterations_done'] = time
        log.current_row['loss'] = 0.0 if time == 40 else float(time)
        log.current_row['nan'] = float('nan')
    log.flush()
    assert copy(source, destination) == [(log.h_uuid, 'copied so far')]
    log[10]['loss'] = -1.0
    log[20]['extra'] = 'x'
    del log[30]['loss']
    log[40]['loss'] = -0.0
    log[50]['loss'] = 50  # an int, equal to the float it was
    for time in range(301, 321):
        log.status['iterations_done'] = time
        log.current_row['loss'] = float(time)
    log.close()
    counts = written_by(SQLiteStore, monkeypatch)
    assert copy(source, destination) == [(log.h_uuid, 'finished')]
    assert sum(counts) == 5 + 20
    assert repr(reads(destination, log.h_uuid)) == repr(
        reads(source, log.h_uuid))  # NaN is NaN, -0.0 not 0.0
    with SQLiteLog(destination, uuid=log.h_uuid, read_only=True) as copied:
        assert math.copysign(1, copied[40]['loss']) == -1
    with SQLiteLog(source, uuid=log.h_uuid) as again:
        again[5]['loss'] = 5.5
        again.status['note'] = 'opened again'
    assert copy(source, destination) == [(log.h_uuid, 'updated')]
    assert repr(reads(destination, log.h_uuid)) == repr(
        reads(source, log.h_uuid))  # NaN is NaN, -0.0 not 0.0
    # Compared an array at a time where both read arrays, not a value at
    # a time.
    from blocks_log import copy as copying
    compared = []
    same = copying._same
    monkeypatch.setattr(copying, '_same', lambda *values: compared.append(
        values) or same(*values))
    del counts[:]
    assert copy(source, destination) == [(log.h_uuid, 'present')]
    assert counts == [] and len(compared) < 100
    # The status alone changed; and a value written into the copy itself,
    # which the run does not hold, is deleted from it.
    with SQLiteLog(source, uuid=log.h_uuid) as again:
        again.status['note'] = 'changed'
    assert copy(source, destination) == [(log.h_uuid, 'updated')]
    with SQLiteLog(source, uuid=log.h_uuid) as again:
        del again.status['note']
    assert copy(source, destination) == [(log.h_uuid, 'updated')]
    assert 'note' not in reads(destination, log.h_uuid)[3]
    with SQLiteLog(destination, uuid=log.h_uuid) as copied:
        copied[7]['stray'] = 1
    assert copy(source, destination) == [(log.h_uuid, 'updated')]
    assert repr(reads(destination, log.h_uuid)) == repr(
        reads(source, log.h_uuid))
