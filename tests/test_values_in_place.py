"""A database log's values changed in place (blocks_log.database.lent),
where a database differs from a dict: what it stores, when, and what it
stops comparing. What every backend shares is in test_contract."""
import sys
import warnings

import pytest


def reopened(make_database_log, log, flush=True):
    """What another handle reads of `log`'s run (once it committed all it
    holds, if `flush`)."""
    if flush:
        log.flush()
    reader = make_database_log(uuid=log.uuid, read_only=True)
    return dict((time, dict(reader[time])) for time in reader)


def test_a_value_written_is_stored_as_it_is_then(make_database_log):
    # A buffer the loop reuses, or a view of a model's weights: each
    # iteration keeps its numbers (a log in memory holds the object, and
    # shows the last numbers in every row).
    numpy = pytest.importorskip('numpy')
    log = make_database_log()
    weights, events = numpy.zeros(2), []
    for time in range(3):
        weights[:] = time
        events.append(time)
        log.current_row['weights'] = weights
        log.current_row['events'] = events
        log.status['iterations_done'] += 1
    rows = reopened(make_database_log, log)
    assert [rows[time]['weights'].tolist() for time in range(3)] == [
        [0, 0], [1, 1], [2, 2]]
    assert [rows[time]['events'] for time in range(3)] == [
        [0], [0, 1], [0, 1, 2]]


def test_a_value_changed_in_place_is_what_another_handle_reads(
        make_database_log):
    log = make_database_log()
    log.current_row['events'] = ['start']
    log.status['iterations_done'] += 1
    log[0]['events'].append('late')
    # Stored by the next iteration's commit, as a write would be.
    log.current_row['loss'] = 0.5
    log.status['iterations_done'] += 1
    assert reopened(make_database_log, log, flush=False) == {
        0: {'events': ['start', 'late']}, 1: {'loss': 0.5}}


@pytest.mark.skipif(sys.implementation.name != 'cpython',
                    reason='references are counted in CPython only')
def test_a_value_no_one_holds_is_compared_no_more(make_database_log):
    # Else each commit would compare every list a loop ever read from a
    # row (log.current_row.setdefault('events', []).append(e) at each
    # iteration), and a commit would cost more as the run grows.
    log = make_database_log()
    held = []
    for time in range(200):
        log.current_row.setdefault('events', []).append(time)
        if time % 50 == 0:
            held.append(log.current_row['events'])
        log.status['iterations_done'] += 1
    assert len(log._session.lent) == len(held) == 4
    del held[:]
    log.status['iterations_done'] += 1
    assert log._session.lent == {}
    rows = reopened(make_database_log, log)
    assert [rows[time]['events'] for time in range(200)] == [
        [time] for time in range(200)]


def test_a_change_that_cannot_be_stored_keeps_what_was(make_database_log):
    log = make_database_log()
    log.current_row['events'] = ['start']
    log.current_row['loss'] = 0.5
    log.current_row['events'].append(object())
    with warnings.catch_warnings(record=True) as caught:
        warnings.simplefilter('always')
        log.status['iterations_done'] += 1
    assert [str(warning.message) for warning in caught if (
        "'events' at time 0 was changed in place" in str(warning.message))]
    log.current_row['loss'] = 0.25
    log.status['iterations_done'] += 1
    assert reopened(make_database_log, log) == {
        0: {'events': ['start'], 'loss': 0.5}, 1: {'loss': 0.25}}


def test_a_read_only_log_lends_nothing(make_database_log):
    log = make_database_log()
    log.current_row['events'] = ['start']
    log.flush()
    reader = make_database_log(uuid=log.uuid, read_only=True)
    events = reader[0]['events']
    events.append('not stored')
    assert reader[0]['events'] == ['start'] and reader._session.lent == {}


def test_a_write_over_a_value_lent_committed_by_the_timer(make_database_log):
    # The commit timer's commits store no change of a value lent (the
    # training thread may write meanwhile), but a write over it that they
    # commit still wins: the value lent is not the row's after it.
    import time
    log = make_database_log(commit_seconds=60)
    log.current_row['events'] = ['old']
    log.status['iterations_done'] += 1
    events = log[0]['events']
    log[0]['events'] = ['new']
    log.status['iterations_done'] += 1
    session = log._session
    session.committed_at -= 3600
    flushes = session.flushes
    session.commit_if_late(time.monotonic())
    assert session.flushes == flushes + 1 and session.pending == []
    assert log[0]['events'] == ['new'] and log[0]['events'] is not events
    events.append('not the row\'s')
    assert reopened(make_database_log, log) == {0: {'events': ['new']}}


def test_a_row_read_while_the_timer_commits_a_write_over_a_value_lent(
        make_database_log):
    # The commit timer's thread commits between a row's read of what is
    # stored and its look at the values lent: the read and the look are
    # one step under the session's lock, so the row never overlays the
    # value lent on the write over it that the commit took out of the
    # buffer. The commit is made to come at the look, from the thread.
    import threading
    import time
    log = make_database_log(commit_seconds=60)
    log.current_row['events'] = ['old']
    log.status['iterations_done'] += 1
    log[0]['events']
    log[0]['events'] = ['new']
    log.status['iterations_done'] += 1
    session = log._session
    session.committed_at -= 3600
    written_since = session._written_since
    committing = []

    def commit_at_the_look(entry, place):
        if not committing and threading.current_thread() is (
                threading.main_thread()):
            committing.append(threading.Thread(
                target=session.commit_if_late, args=(time.monotonic(),)))
            committing[0].start()
            # Done at once if nothing holds the lock; else left waiting.
            committing[0].join(timeout=0.5)
        return written_since(entry, place)

    session._written_since = commit_at_the_look
    try:
        assert log[0] == {'events': ['new']}
    finally:
        del session._written_since
        for thread in committing:
            thread.join()
    assert committing and session.pending == []
    assert log[0] == {'events': ['new']}
    assert reopened(make_database_log, log) == {0: {'events': ['new']}}


def test_a_change_stored_before_a_commit_reads_back_by_key(
        make_database_log):
    # A run opened again: its handle never wrote the key it reads. A read
    # of series stores the change (and, with nothing else holding the
    # list, stops lending it); each read of the key then finds the change
    # in the buffer, not what the store held before it.
    with make_database_log() as log:
        log[0]['events'] = ['start']
        log.status['iterations_done'] += 1
    log = make_database_log(uuid=log.uuid)
    log[0]['events'].append('late')
    assert list(log.records()) == [(0, 'events', ['start', 'late'])]
    assert log[0]['events'] == ['start', 'late']
    assert log[0].get('events') == ['start', 'late'] and 'events' in log[0]
    log[0]['events'].append('later')
    assert reopened(make_database_log, log) == {
        0: {'events': ['start', 'late', 'later']}}
