"""Model-based test: random operations on a log of each backend, checked
against a plain-dict model of what it must hold."""
import copy
import functools
import os
import pickle

import pytest
from hypothesis import HealthCheck, settings
from hypothesis import strategies as st
from hypothesis.stateful import (RuleBasedStateMachine, invariant,
                                 precondition, rule)

from blocks_log import BACKENDS
from blocks_log import copy as copying

from conftest import (BACKEND_NAMES, backend_factories,
                      new_postgresql_database, use_backend)

#: Examples and steps of each: more for a longer hunt
#: (BLOCKS_LOG_MODEL_EXAMPLES=300 BLOCKS_LOG_MODEL_STEPS=40).
EXAMPLES = int(os.environ.get('BLOCKS_LOG_MODEL_EXAMPLES', 40))
STEPS = int(os.environ.get('BLOCKS_LOG_MODEL_STEPS', 25))
TIMES = st.integers(min_value=0, max_value=12)
KEY_NAMES = ['loss', 'acc', 'saved_to', "it's"]
KEYS = st.sampled_from(KEY_NAMES)
VALUES = st.one_of(
    st.none(), st.booleans(), st.integers(), st.text(max_size=5),
    st.floats(allow_nan=False),
    st.tuples(st.integers(), st.text(max_size=3)),
    st.lists(st.integers(), max_size=3))


def run_model(backend, tmp_path_factory, dsn, new_database=None):
    class LogModel(RuleBasedStateMachine):
        """The log against ``rows`` (time -> dict) and ``status``."""

        def __init__(self):
            super(LogModel, self).__init__()
            self.directory = tmp_path_factory.mktemp('model')
            self.factories = backend_factories(self.directory, dsn)
            self.log = self.factories[backend]()
            self.rows = {}
            self.status = copy.deepcopy(dict(self.log.status))
            self.uuid = self.log.uuid

        def teardown(self):
            getattr(self.log, 'close', lambda: None)()

        @rule(time=TIMES, key=KEYS, value=VALUES)
        def write(self, time, key, value):
            self.log[time][key] = value
            # A copy: a list the log hands out is the one written, in
            # memory.
            self.rows.setdefault(time, {})[key] = copy.deepcopy(value)

        @rule(key=KEYS, value=VALUES)
        def write_current_row(self, key, value):
            self.log.current_row[key] = value
            time = self.status['iterations_done']
            self.rows.setdefault(time, {})[key] = copy.deepcopy(value)

        @rule(time=TIMES, values=st.dictionaries(KEYS, VALUES, max_size=3))
        def update_row(self, time, values):
            self.log[time].update(values)
            if values:
                self.rows.setdefault(time, {}).update(copy.deepcopy(values))

        @rule(time=TIMES, key=KEYS)
        def delete(self, time, key):
            if key in self.rows.get(time, {}):
                del self.log[time][key]
                assert key not in self.log[time]
                del self.rows[time][key]
                if not self.rows[time]:
                    del self.rows[time]
            else:
                with pytest.raises(KeyError):
                    del self.log[time][key]

        @rule(time=TIMES)
        def end_epoch_in_place(self, time):
            # As Blocks' main loop does: the list changed in place.
            self.log.status['_epoch_ends'].append(time)
            self.status['_epoch_ends'] = self.status['_epoch_ends'] + [time]

        @rule(pick=st.integers(0, 99), item=st.integers(),
              held=st.booleans())
        def change_a_list_in_place(self, pick, item, held):
            # A list read from a row (one the model holds, picked) is the
            # row's: changed, then perhaps held on (for the next rules'
            # commits to compare) or dropped.
            lists = sorted((time, key) for time, row in self.rows.items()
                           for key, value in row.items()
                           if type(value) is list)
            if lists:
                time, key = lists[pick % len(lists)]
                value = self.log[time][key]
                value.append(item)
                self.rows[time][key].append(item)
                if held:
                    self.held = getattr(self, 'held', []) + [value]

        @rule(time=TIMES)
        def read(self, time):
            assert dict(self.log[time]) == self.rows.get(time, {})

        @rule(time=TIMES, key=KEYS)
        def read_one(self, time, key):
            row, expected = self.log[time], self.rows.get(time, {})
            assert (key in row) == (key in expected)
            assert row.get(key, 'absent') == expected.get(key, 'absent')

        @rule()
        def next_iteration(self):
            self.log.status['iterations_done'] += 1
            self.status['iterations_done'] += 1

        @rule(writes=st.lists(st.tuples(st.integers(0, 2), KEYS, VALUES),
                              min_size=2, max_size=5))
        def iterations_unread(self, writes):
            # Several commits with no read between them (the invariant
            # reads after each rule), some into rows before the last.
            for back, key, value in writes:
                self.next_iteration()
                self.write(max(0, self.status['iterations_done'] - back),
                           key, value)

        @rule(time=TIMES)
        def jump(self, time):
            self.log.status['iterations_done'] = time
            self.status['iterations_done'] = time

        @rule()
        def end_epoch(self):
            done = self.status['iterations_done']
            self.log.status['epochs_done'] += 1
            self.log.status['_epoch_ends'] += [done]
            self.status['epochs_done'] += 1
            self.status['_epoch_ends'] = self.status['_epoch_ends'] + [done]

        @rule(count=st.integers(min_value=1, max_value=40),
              in_place=st.booleans())
        def end_many_epochs(self, count, in_place):
            # A commit each: enough for a list stored in several pieces.
            for _ in range(count):
                done = self.status['iterations_done'] + 1
                self.log.status['iterations_done'] = done
                self.status['iterations_done'] = done
                if in_place:
                    self.log.status['_epoch_ends'].append(done)
                else:
                    self.log.status['_epoch_ends'] += [done]
                self.status['_epoch_ends'] = self.status['_epoch_ends'] + [
                    done]

        @rule(keep=st.integers(min_value=0, max_value=80), value=VALUES)
        def set_the_epoch_ends(self, keep, value):
            # What it held, up to `keep` items, and one more: a list that
            # grew, or one set anew.
            ends = self.status['_epoch_ends'][:keep] + [value]
            self.log.status['_epoch_ends'] = list(ends)
            self.status['_epoch_ends'] = ends

        @rule(value=VALUES)
        def custom_status(self, value):
            self.log.status['custom'] = value
            self.status['custom'] = value

        @rule(value=VALUES)
        def keep_a_history(self, value):
            # A list in a dict, kept in the status.
            self.log.status['history'] = {'best': [value]}
            self.status['history'] = {'best': [value]}

        @precondition(lambda self: 'history' in self.status)
        @rule(value=VALUES, replace=st.booleans())
        def change_the_history_in_place(self, value, replace):
            # As a loop changes what it keeps: saved by the next commit.
            for best in (self.log.status['history']['best'],
                         self.status['history']['best']):
                if replace:
                    best[0] = value
                else:
                    best.append(value)

        @rule()
        def resume(self):
            old = self.log.h_uuid
            self.log.resume()
            self.status['resumed_from'] = old
            self.uuid = self.log.uuid

        @precondition(lambda self: backend != 'python')
        @rule(values=st.integers(0, 20), over=st.integers(0, 99),
              value=VALUES)
        def commit_part_of_the_buffer(self, values, over, value):
            # What the commit timer does (commit_seconds): the buffer's
            # first values committed, the rest left, with no look at the
            # values rows lent (the training thread may write meanwhile);
            # after a write, if `over` is odd, over a list the last read
            # lent (one the model holds, picked).
            lists = sorted((time, key) for time, row in self.rows.items()
                           for key, held in row.items()
                           if type(held) is list)
            if lists and over % 2:
                self.write(*lists[over // 2 % len(lists)], value=value)
            session = self.log._session
            with session.lock:
                session._flush(3 * min(values, len(session.pending) // 3))

        @precondition(lambda self: backend in ('sqlite-file',
                                               'sqlite-chunked',
                                               'postgresql'))
        @rule()
        def read_through_another_handle(self):
            # What a reader sees once the writer flushed: the same.
            self.log.flush()
            source = getattr(self.log, 'database', None) or self.log.dsn
            reader = type(self.log)(source, uuid=self.log.uuid,
                                    read_only=True)
            try:
                rows = dict((time, dict(reader[time])) for time in reader)
                assert rows == self.rows
                status = dict(reader.status)
                status['_epoch_ends'] = list(status['_epoch_ends'])
                assert status == self.status
            finally:
                reader.close()

        @precondition(lambda self: backend in ('sqlite-file',
                                               'sqlite-chunked',
                                               'postgresql'))
        @rule()
        def open_again(self):
            # The run closed, and opened again to write on.
            source = getattr(self.log, 'database', None) or self.log.dsn
            self.log.close()
            self.log = type(self.log)(source, uuid=self.uuid)

        @precondition(lambda self: backend != 'sqlite-memory')
        @rule(again=st.booleans(), into_postgresql=st.booleans(),
              stray=st.one_of(st.none(), st.tuples(
                  st.integers(0, 99), TIMES, KEYS, VALUES)))
        def copy_into_a_file(self, again, into_postgresql, stray):
            # blocks-log copy of the log as it is now (a pickled log's,
            # for the one in memory) into a new SQLite file (or PostgreSQL
            # database, where there is a server), or `again` into the
            # last copy's (which it brings up to date, whatever changed
            # since, in the source, or in the copy: a `stray` write into
            # it after the last copy was read): its run there holds what
            # the model holds.
            kind = 'postgresql' if into_postgresql and new_database else (
                'sqlite')
            self.copies = getattr(self, 'copies', {})  # kind: the last
            if not again or kind not in self.copies:
                self.made = getattr(self, 'made', 0) + 1
                self.copies[kind] = new_database() if kind == (
                    'postgresql') else str(self.directory / (
                        'copy{}.sqlite'.format(self.made)))
            destination = self.copies[kind]
            if backend == 'python':
                source = str(self.directory / 'log.pkl')
                with open(source, 'wb') as pickled:
                    pickle.dump(self.log, pickled)
            else:
                self.log.flush()
                source = getattr(self.log, 'database', None) or self.log.dsn
            # The run and its ancestors (a PostgreSQL database holds the
            # runs of every example before).
            copying.copy(source, destination, [self.log.h_uuid])
            opened = dict(database=destination) if kind == 'sqlite' else (
                dict(dsn=destination))
            with BACKENDS[kind](uuid=self.uuid, read_only=True,
                                **opened) as copied:
                rows = dict((time, dict(copied[time])) for time in copied)
                assert rows == self.rows
                status = dict(copied.status)
                status['_epoch_ends'] = list(status['_epoch_ends'])
                # A run still written is "copied so far": its copy's
                # status keeps the iterations it had done.
                status.pop('_blocks_log_copying', None)
                assert status == self.status
            if stray is not None:
                self.stray_into(destination, kind, *stray)

        def stray_into(self, destination, kind, held, time, key, value):
            # A write into the run copied, in its copy, or a deletion there
            # of what it reads (perhaps through its ancestors; `held`
            # picks one of the model's values, if odd).
            values = sorted((time, key) for time in self.rows
                            for key in self.rows[time])
            if values and held % 2:
                time, key = values[held // 2 % len(values)]
            opened = dict(database=destination) if kind == 'sqlite' else (
                dict(dsn=destination))
            with BACKENDS[kind](uuid=self.uuid, **opened) as copied:
                if key in copied[time]:
                    del copied[time][key]
                else:
                    copied[time][key] = value

        @precondition(lambda self: self.status['iterations_done'] > 0)
        @rule()
        def previous_row(self):
            time = self.status['iterations_done'] - 1
            assert dict(self.log.previous_row) == self.rows.get(time, {})

        @rule()
        def pickle_round_trip(self):
            copy = pickle.loads(pickle.dumps(self.log))
            old = self.log
            # Pickling a persistent log moves the live one on to a child
            # run; the copy is the checkpoint. Go on with the copy.
            self.log = copy
            getattr(old, 'close', lambda: None)()
            assert self.log.uuid == self.uuid

        @invariant()
        def holds_what_the_model_holds(self):
            rows = dict((time, dict(self.log[time])) for time in self.log)
            assert dict((t, r) for t, r in rows.items() if r) == self.rows
            held = set(rows) | set(self.rows)
            del rows  # the lists read: a read of series may stop lending
            status = dict(self.log.status)
            status['_epoch_ends'] = list(status['_epoch_ends'])
            assert status == self.status
            assert self.log.uuid == self.uuid
            records = list(self.log.records())
            # Time order; within a time, each backend has its own order.
            assert [time for time, _, _ in records] == sorted(
                time for time, _, _ in records)
            assert sorted(records, key=repr) == sorted(
                [(time, key, value) for time in self.rows
                 for key, value in self.rows[time].items()], key=repr)
            # Key by key too, after that read: a read of one key takes its
            # own ways (a key the handle never wrote is read from the store
            # alone, unless the buffer holds a deletion).
            for time in held:
                for key in KEY_NAMES:
                    self.read_one(time, key)

    LogModel.TestCase.settings = settings(
        max_examples=EXAMPLES, stateful_step_count=STEPS, deadline=None,
        suppress_health_check=list(HealthCheck))
    LogModel.TestCase().runTest()


@pytest.mark.parametrize('backend', BACKEND_NAMES)
def test_log_behaves_as_the_model(backend, tmp_path_factory, tmp_path,
                                  monkeypatch, request):
    dsn = use_backend(backend, monkeypatch, request)
    if backend not in backend_factories(tmp_path, dsn):
        pytest.skip('backend {} is not available'.format(backend))
    # A copy read and written in windows of a few times and values.
    monkeypatch.setattr(copying, 'FIRST_SPAN', 2)
    monkeypatch.setattr(copying, 'BATCH', 3)
    new_database = None
    if not os.environ.get('BLOCKS_LOG_BARE'):
        # Copies into PostgreSQL too, where the tests have a server.
        try:
            new_postgresql_database(request)
        except pytest.skip.Exception:
            pass
        else:
            new_database = functools.partial(new_postgresql_database,
                                             request)
    run_model(backend, tmp_path_factory, dsn, new_database)
