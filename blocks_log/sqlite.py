"""The persistent backend: a training log in an SQLite database.

Mirrors Blocks' ``blocks.log.sqlite``.

"""
import atexit
import operator
import os
import threading
import time as _time
import uuid as _uuid
import weakref

try:
    from collections.abc import Mapping, MutableMapping
except ImportError:  # pragma: no cover (Python 2)
    from collections import Mapping, MutableMapping

from blocks_log import analysis, codec, sql
from blocks_log.errors import (AmbiguousRunError, ClosedLogError, LogError,
                               LogDatabaseError,
                               SchemaVersionError, UnknownRunError)
from blocks_log.log import TrainingLogBase, check_time, default_status
from blocks_log.pickles import restricted_loads
from blocks_log.sqlite_db import SQLiteDatabase

DEFAULT_DATABASE = os.path.join('~', 'blocks_log.sqlite')
# Values buffered before a commit even within one iteration: bounds the
# memory a long iteration can hold and the work a crash can lose.
MAX_PENDING = 10000

# Every open writable log, flushed at interpreter exit and before fork.
_OPEN_LOGS = weakref.WeakSet()


def _flush_open_logs():
    for log in list(_OPEN_LOGS):
        try:
            log.flush()
        except LogError:
            pass


atexit.register(_flush_open_logs)
if hasattr(os, 'register_at_fork'):
    # Flushed before a fork, a buffer is never inherited by the child.
    os.register_at_fork(before=_flush_open_logs)


def default_database():
    """The database a log uses when none is given (Blocks' defaults).

    Returns
    -------
    str
        ``$BLOCKS_SQLITEDB`` if set, else ``~/blocks_log.sqlite``.

    """
    return os.path.expanduser(os.environ.get('BLOCKS_SQLITEDB',
                                             DEFAULT_DATABASE))


def check_key(key):
    """Raise ``TypeError`` unless `key` is a ``str``."""
    if type(key) is not str and not isinstance(key, str):
        raise TypeError('keys must be strings, got {!r} ({})'.format(
            key, type(key).__name__))


class _CurrentRow(object):
    """``SQLiteLog._row_of_now``: the row of ``status['iterations_done']``.

    A non-data descriptor: a writable log keeps the row as an instance
    attribute, found without calling Python code, until ``iterations_done``
    changes (only a writable log holds its whole status in memory).

    """
    def __get__(self, log, owner=None):
        if log is None:
            return self
        row = log[log.status['iterations_done']]
        if log._writable:
            # An attribute, never through log.__dict__: asking for that
            # makes CPython 3.11 drop its fast attribute access on the
            # instance, and every load of another attribute (several per
            # logged value) costs 4x the instructions (callgrind).
            log._row_of_now = row
        return row


class SQLiteLog(TrainingLogBase, Mapping):
    """Training log stored in an SQLite database.

    A mapping of time -> row over this run and the runs it was resumed from:
    iteration yields the times that hold data, in increasing order, and the
    nearest run wins where several hold the same (time, key). Writes are
    buffered and committed together when ``status['iterations_done']``
    changes, on :meth:`flush`, :meth:`close`, leaving a ``with`` block,
    pickling, interpreter exit, and when :data:`MAX_PENDING` values wait.
    Reads see buffered writes.

    Threads may write into an open log at once, and one may flush while
    others write. Closing it while another thread still writes is a race:
    a value written at that moment may be lost.

    .. warning::

        Durability: after a crash of the process (``kill -9`` included),
        every iteration that was completed (whose
        ``status['iterations_done']`` was advanced past) reads back whole and
        the file opens cleanly. After a power loss or OS crash with the
        default ``synchronous='NORMAL'``, the file stays consistent but the
        last commits may be lost; ``synchronous='FULL'`` keeps them too, at
        the cost of one disk sync per iteration. ``commit_every=N`` commits
        every N iterations only, and may lose up to N-1 of them in a crash.

    Parameters
    ----------
    database : str, optional
        A path or ``':memory:'``; by default ``$BLOCKS_SQLITEDB``, else
        ``~/blocks_log.sqlite``.
    uuid : :class:`uuid.UUID` or str, optional
        Open this existing run (a str may be its hex form). Without it a new
        run is started.
    read_only : bool, optional
        Open without ever writing (needs `uuid`): what the command line
        does. Sees each iteration another process commits.
    allow_pickle : bool, optional
        Pickle values that have no encoding of their own, and unpickle them
        when reading. Off by default: a database is data, and a pickle in it
        could run code.
    synchronous : {'NORMAL', 'FULL', 'EXTRA'}, optional
    commit_every : int, optional
        Commit when the iteration advances this many times (default 1).

    Raises
    ------
    UnknownRunError
        If `uuid` names no run of the database (a ``KeyError``).
    LogDatabaseError
        If the file is not a database, or is corrupt (a ``ValueError``).
    SchemaVersionError
        If the file was written by a newer blocks_log.
    LogWriteError
        If a new run cannot be written (an ``OSError``).

    """
    def __init__(self, database=None, **kwargs):
        uuid = kwargs.pop('uuid', None)
        read_only = kwargs.pop('read_only', False)
        self.allow_pickle = kwargs.pop('allow_pickle', False)
        synchronous = kwargs.pop('synchronous', 'NORMAL')
        self.commit_every = kwargs.pop('commit_every', 1)
        if kwargs:
            raise TypeError('unexpected keyword arguments: {}'.format(
                ', '.join(sorted(kwargs))))
        if database is None:
            database = default_database()
        self.database = database
        self._db = SQLiteDatabase(database, read_only=read_only,
                                  synchronous=synchronous)
        self._lock = threading.RLock()
        # The buffer: (time, key, stored value) in the order written. Only
        # ever appended to, and cut by the prefix a flush committed, so a
        # write needs no lock: a value written from another thread while
        # flush() runs stays for the next one.
        self._pending = []
        self._key_ids = {}
        self._key_names = {}
        self._uncommitted_iterations = 0
        self._closed = False
        self._writable = False
        try:
            self._open(uuid, read_only)
        except BaseException:
            self._db.close()
            raise
        if not read_only:
            _OPEN_LOGS.add(self)

    # Opening and runs.

    def _open(self, uuid, read_only):
        tables = set(name for name, in self._db.execute(sql.SELECT_TABLES))
        self._has_blocks_tables = sql.BLOCKS_TABLES <= tables
        if 'blocks_log_meta' in tables:
            version, = self._db.execute(sql.SELECT_SCHEMA_VERSION)[0]
            if version != sql.SCHEMA_VERSION:
                raise SchemaVersionError(
                    '{}: written with schema version {} by {} blocks_log; '
                    'this one reads version {}'.format(
                        self.database, version,
                        'a newer' if version > sql.SCHEMA_VERSION else
                        'a development version of', sql.SCHEMA_VERSION))
        elif read_only and not self._has_blocks_tables:
            raise UnknownRunError('{}: holds no blocks_log runs'.format(
                self.database))
        if not read_only:
            if uuid is not None and self._find_own_run(
                    _as_uuid(uuid).hex) is None and not (
                        self._blocks_run_exists(uuid)):
                # Checked before the schema is created: a failed open
                # changes nothing.
                raise UnknownRunError('{}: no run with uuid {}'.format(
                    self.database, _as_uuid(uuid).hex))
            with self._db.transaction() as connection:
                for statement in sql.CREATE_SCHEMA:
                    connection.execute(statement)
                connection.execute(sql.INSERT_SCHEMA_VERSION,
                                   (sql.SCHEMA_VERSION,))
        if uuid is None:
            if read_only:
                raise ValueError('a read-only log needs the uuid of a run')
            self._start_run(_uuid.uuid4(), default_status(), None)
        else:
            self._load_run(uuid)

    def _blocks_run_exists(self, uuid):
        return self._has_blocks_tables and bool(self._db.execute(
            sql.BLOCKS_SELECT_RUN_EXISTS, (_as_uuid(uuid).hex,)))

    def _start_run(self, uuid, status, resumed_from):
        with self._db.transaction() as connection:
            cursor = connection.execute(
                sql.INSERT_RUN, (uuid.hex, resumed_from, _time.time()))
            run_id = cursor.lastrowid
            new_ids = self._new_key_ids(connection, status)
            key_ids = dict(self._key_ids, **new_ids)
            _upsert(connection, [
                (run_id, sql.STATUS_TIME, key_ids[key],
                 codec.encode(value, key, self.allow_pickle))
                for key, value in status.items()])
        self._key_ids.update(new_ids)
        self.uuid = uuid
        self._run_id = run_id
        self._writable = not self.read_only
        self._forget_current_row()
        self._status = SQLiteStatus(self, dict(
            (key, self._decode(codec.encode(value, key, self.allow_pickle)))
            for key, value in status.items()))
        self._lineage = self._resolve_lineage(uuid.hex, run_id, resumed_from)

    def _load_run(self, uuid):
        uuid = _as_uuid(uuid)
        found = self._find_own_run(uuid.hex)
        if found is not None:
            run_id, resumed_from = found
            status = dict((key, self._decode(value)) for key, value in
                          self._db.execute(sql.SELECT_STATUS, (run_id,)))
        elif self._blocks_run_exists(uuid):
            run_id, resumed_from = None, self._blocks_parent(uuid.hex)
            status = dict((key, self._decode_blocks(value)) for key, value in
                          self._db.execute(sql.BLOCKS_SELECT_STATUS,
                                           (uuid.hex,)))
        else:
            raise UnknownRunError('{}: no run with uuid {}'.format(
                self.database, uuid.hex))
        self.uuid = uuid
        self._run_id = run_id
        self._writable = run_id is not None and not self.read_only
        self._forget_current_row()
        self._status = SQLiteStatus(self, status)
        self._lineage = self._resolve_lineage(uuid.hex, run_id, resumed_from)

    def _find_own_run(self, hex_uuid):
        try:
            rows = self._db.execute(sql.SELECT_RUN, (hex_uuid,))
        except Exception as error:
            if 'no such table' in str(error):
                return None
            raise
        return rows[0] if rows else None

    def _blocks_parent(self, hex_uuid):
        rows = self._db.execute(sql.BLOCKS_SELECT_RUN, (hex_uuid,))
        return rows[0][0] if rows else None

    def _resolve_lineage(self, hex_uuid, run_id, resumed_from):
        """The runs this one reads through, nearest first: a list of
        ``(run id or None, hex uuid)``; ``None`` marks Blocks' runs."""
        lineage = [(run_id, hex_uuid)]
        seen = set([hex_uuid])
        while resumed_from and resumed_from not in seen:
            seen.add(resumed_from)
            found = self._find_own_run(resumed_from)
            if found is not None:
                lineage.append((found[0], resumed_from))
                resumed_from = found[1]
            elif self._blocks_run_exists(resumed_from):
                lineage.append((None, resumed_from))
                resumed_from = self._blocks_parent(resumed_from)
            else:
                break  # resumed from a log kept elsewhere
        return lineage

    @property
    def read_only(self):
        """bool: whether this log was opened read-only."""
        return self._db.read_only

    # The abstract members.

    @property
    def status(self):
        """The status of this run (see :class:`TrainingLogBase`).

        A read-only log reads it from the database on every access, so it
        follows a run that another process is writing.

        """
        if not self._writable:
            self._check_open()
            if self.read_only:
                self._load_run(self.uuid)
        return self._status

    def __getitem__(self, time):
        """The row at `time`: a view that reads the database and the
        buffer, and buffers writes.

        Raises
        ------
        ValueError
            If `time` is not a non-negative integer below ``2 ** 63 - 1``
            (where the status is stored).
        ClosedLogError
            If the log is closed.

        """
        if type(time) is not int or time < 0:
            time = check_time(time)
        if time >= sql.STATUS_TIME:
            raise ValueError('time must be below 2 ** 63 - 1 in an SQLite '
                             'log, got {!r}'.format(time))
        self._check_open()
        return SQLiteRow(self, time)

    # The hot path of a training loop, ``log.current_row[key] = value``,
    # runs no Python code until the row is written: a property whose getter
    # is C (so ``current_row`` stays read-only) reads ``_row_of_now``, which
    # a writable log keeps in its instance dict until the status changes
    # ``iterations_done``; other logs compute it on every access.
    current_row = property(
        operator.attrgetter('_row_of_now'),
        doc="""The row of ``status['iterations_done']``.""")
    _row_of_now = _CurrentRow()

    def _forget_current_row(self):
        # Not self.__dict__.pop(): see _CurrentRow.
        try:
            del self._row_of_now
        except AttributeError:
            pass

    def __iter__(self):
        return iter(self._times())

    def __len__(self):
        return len(self._times())

    def __contains__(self, time):
        try:
            return check_time(time) in self._times()
        except ValueError:
            return False

    # A log is equal only to itself (Mapping would compare every row).
    __eq__ = object.__eq__
    __ne__ = object.__ne__
    __hash__ = object.__hash__

    def __repr__(self):
        return '<SQLiteLog {!r} run {}{}>'.format(
            self.database, self.h_uuid, ' (closed)' if self._closed else '')

    # Reading.

    def _decode(self, stored):
        return codec.decode(stored, self.allow_pickle)

    def _decode_blocks(self, stored):
        # Blocks pickled every non-numeric value; read those with an
        # unpickler that builds only containers and numpy arrays.
        if isinstance(stored, bytes) and not self.allow_pickle:
            return restricted_loads(stored)
        if isinstance(stored, bytes):
            import pickle
            return pickle.loads(stored)
        return stored

    def _lineage_ids(self):
        own = [run_id for run_id, _ in self._lineage if run_id is not None]
        blocks = [hex_uuid for run_id, hex_uuid in self._lineage
                  if run_id is None]
        return own, blocks

    def _key_name(self, key_id):
        name = self._key_names.get(key_id)
        if name is None:
            for found_id, found_name in self._db.execute(sql.SELECT_KEYS):
                self._key_names[found_id] = found_name
            name = self._key_names[key_id]
        return name

    def _select(self, own_sql, blocks_sql, parameters, runs_first=False):
        """Rows of a lineage query over our runs and Blocks', as
        ``(depth, ...)``, with key ids turned into names and values
        decoded."""
        own, blocks = self._lineage_ids()
        depth = dict((run, index) for index, (run_id, hex_uuid) in
                     enumerate(self._lineage)
                     for run in (run_id, hex_uuid) if run is not None)
        results = []
        if own:
            query = own_sql.format(runs=sql.in_list(len(own)))
            for row in self._db.execute(query, _params(parameters, own,
                                                       runs_first)):
                run, rest = row[0], list(row[1:])
                rest[-2] = self._key_name(rest[-2])
                rest[-1] = self._decode(rest[-1])
                results.append([depth[run]] + rest)
        if blocks and blocks_sql is not None:
            query = blocks_sql.format(runs=sql.in_list(len(blocks)))
            for row in self._db.execute(query, _params(parameters, blocks,
                                                       runs_first)):
                run, rest = row[0], list(row[1:])
                rest[-1] = self._decode_blocks(rest[-1])
                results.append([depth[run]] + rest)
        return results

    def _read_row(self, time):
        """The values at `time`, committed and buffered, nearest run
        first."""
        with self._lock:
            values = {}
            for depth, key, value in sorted(
                    self._select(sql.SELECT_ROW, sql.BLOCKS_SELECT_ROW,
                                 (time,)),
                    key=lambda row: -row[0]):
                values[key] = value
            for buffered_time, key, stored in self._pending[:]:
                if buffered_time == time:
                    values[key] = self._decode(stored)
            return values

    def _times(self):
        self._check_open()
        with self._lock:
            own, blocks = self._lineage_ids()
            times = set()
            if own:
                times.update(time for time, in self._db.execute(
                    sql.SELECT_TIMES.format(runs=sql.in_list(len(own))),
                    own))
            if blocks:
                times.update(time for time, in self._db.execute(
                    sql.BLOCKS_SELECT_TIMES.format(
                        runs=sql.in_list(len(blocks))), blocks))
            times.update(time for time, _, _ in self._pending[:])
            return sorted(times)

    def _records(self, start=None, stop=None):
        """``((time, key), value)`` over the lineage, nearest run winning,
        in time order; a handful of queries whatever the length."""
        self._check_open()
        low = 0 if start is None else min(start, sql.STATUS_TIME)
        # Never past STATUS_TIME, where the status is stored.
        high = sql.STATUS_TIME if stop is None else min(stop,
                                                        sql.STATUS_TIME)
        with self._lock:
            if len(self._lineage) == 1 and self._run_id is not None and (
                    not self._pending):
                return self._own_records(low, high)
            merged = {}
            for depth, time, key, value in sorted(
                    self._select(sql.SELECT_RECORDS,
                                 sql.BLOCKS_SELECT_RECORDS, (low, high),
                                 runs_first=True),
                    key=lambda row: -row[0]):
                merged[time, key] = value
            for time, key, stored in self._pending[:]:
                if low <= time < high:
                    merged[time, key] = self._decode(stored)
        return sorted(merged.items(), key=lambda item: item[0][0])

    def _own_records(self, low, high):
        # One run and nothing buffered, the common case of reading a log:
        # no merging, and only BLOBs need decoding.
        rows = self._db.execute(sql.SELECT_RECORDS.format(
            runs=sql.in_list(1)), (self._run_id, low, high))
        names, decode = self._key_names, self._decode
        if any(key not in names for _, _, key, _ in rows):
            names.update(self._db.execute(sql.SELECT_KEYS))
        return [((time, names[key]),
                 decode(value) if type(value) is bytes else value)
                for _, time, key, value in rows]

    def records(self):
        """Iterate over ``(time, key, value)`` records in time order.

        Reads the whole lineage with one query per kind of run, not one per
        row.

        """
        for (time, key), value in self._records():
            yield time, key, value

    def history(self, key):
        """Return the ``(time, value)`` pairs of `key` in time order."""
        check_key(key)
        return [(time, value) for (time, name), value in self._records()
                if name == key]

    def to_dataframe(self, keys=None, start=None, stop=None):
        """Return the log as a :class:`pandas.DataFrame`.

        As :meth:`TrainingLogBase.to_dataframe`, reading with a few queries
        over the selected range of times only.

        """
        keys = analysis.check_keys(keys)
        analysis.check_range(start, stop)
        pandas = analysis.import_pandas()
        wanted = None if keys is None else set(keys)
        columns = {} if keys is None else dict((key, {}) for key in keys)
        for (time, key), value in self._records(start, stop):
            if wanted is None or key in wanted:
                column = columns.get(key)
                if column is None:
                    column = columns[key] = {}
                column[time] = value
        return analysis.dict_columns_to_dataframe(pandas, columns)

    # Writing.

    def _check_open(self):
        if self._closed:
            raise ClosedLogError('{!r} is closed'.format(self))

    def _check_writable(self):
        self._check_open()
        if self.read_only:
            raise LogError('{!r} was opened read-only'.format(self))
        if self._run_id is None:
            raise LogError(
                'run {} was written by Blocks; resume() it to write a new '
                'run that reads through it'.format(self.h_uuid))

    def _status_changed(self, key, value):
        if key == 'iterations_done':
            if type(value) is int and 0 <= value < sql.STATUS_TIME:
                # The next current_row, made now rather than on first use.
                self._row_of_now = SQLiteRow(self, value)
            else:
                self._forget_current_row()
            self._uncommitted_iterations += 1
            if self._uncommitted_iterations >= self.commit_every:
                # Called with the lock held (by SQLiteStatus.__setitem__).
                self._flush()

    def flush(self):
        """Commit every buffered write in one transaction.

        Raises
        ------
        LogWriteError
            If the database cannot be written (read-only file, full disk).
            The buffered writes are kept, and a later ``flush()`` tries
            again.

        """
        with self._lock:
            self._flush()

    def _flush(self):
        # flush() with the lock held.
        pending, status = self._pending, self._status.dirty
        count = len(pending)
        # Closed, read-only and Blocks' runs are never writable, and hold
        # nothing to commit.
        if not self._writable or not (count or status):
            return
        buffered = pending[:count]
        status = list(status.items())
        try:
            rows, deleted = self._rows(buffered, status, self._key_ids)
            new_ids = None
        except KeyError:
            rows = None
        with self._db.transaction() as connection:
            if rows is None:
                # A key never written before gets its id in this same
                # transaction, and is forgotten if it rolls back.
                new_ids = self._new_key_ids(connection, [
                    key for _, key, _ in buffered] + [
                        key for key, _ in status])
                rows, deleted = self._rows(
                    buffered, status, dict(self._key_ids, **new_ids))
            _upsert(connection, rows)
            if deleted:
                connection.executemany(sql.DELETE_STATUS, deleted)
        if new_ids:
            self._key_ids.update(new_ids)
        # Only the prefix committed: values appended meanwhile by another
        # thread stay for the next flush.
        del pending[:count]
        self._uncommitted_iterations = 0
        self._status.committed(status)

    def _rows(self, buffered, status, key_ids):
        """`buffered` values and `status` changes as the rows of
        :data:`sql.UPSERT_ENTRY` and of :data:`sql.DELETE_STATUS`.

        Raises ``KeyError`` for a key that has no id in `key_ids`.

        """
        run = self._run_id
        rows = [(run, time, key_ids[key], stored)
                for time, key, stored in buffered]
        deleted = []
        for key, stored in status:
            if stored is _DELETED:
                deleted.append((run, key_ids[key]))
            else:
                rows.append((run, sql.STATUS_TIME, key_ids[key], stored))
        return rows, deleted

    def _new_key_ids(self, connection, names):
        """Give an id to each of `names` that has none; return them."""
        new_ids = {}
        for name in names:
            if name not in self._key_ids and name not in new_ids:
                connection.execute(sql.INSERT_KEY, (name,))
                new_ids[name], = connection.execute(
                    sql.SELECT_KEY_ID, (name,)).fetchone()
        return new_ids

    def resume(self):
        """Start a child run of this one, as :meth:`TrainingLogBase.resume`.

        The buffer is committed first; the new run reads through this one.

        Raises
        ------
        LogWriteError
            If the new run cannot be written.

        """
        with self._lock:
            self._check_open()
            if not self.read_only and self._run_id is not None:
                self.flush()
            old_uuid = self.h_uuid
            status = dict(self.status)
            status['resumed_from'] = old_uuid
            if self.read_only:
                raise LogError('{!r} was opened read-only'.format(self))
            self._start_run(_uuid.uuid4(), status, old_uuid)

    def close(self):
        """Commit the buffer and close the database; safe to call twice.

        Raises
        ------
        LogWriteError
            If the buffer cannot be committed; the log then stays open, so
            nothing is lost.

        """
        if self._closed:
            return
        self.flush()
        self._closed = True
        self._writable = False
        self._forget_current_row()
        self._db.close()
        _OPEN_LOGS.discard(self)

    def __enter__(self):
        return self

    def __exit__(self, *exc_info):
        self.close()

    # Pickling: the database and the uuid, never the connection.

    def __getstate__(self):
        with self._lock:
            self._check_open()
            self.flush()
            state = {'database': self.database, 'uuid': self.h_uuid,
                     'allow_pickle': self.allow_pickle,
                     'synchronous': self._db.synchronous,
                     'commit_every': self.commit_every}
            if self._db.in_memory:
                # Nothing outlives this process: the pickle carries the data.
                state['snapshot'] = (list(self.records()), dict(self.status))
            if not self.read_only and self._run_id is not None:
                # Freeze the checkpoint at this run; the live log goes on in
                # a child, so the two never write into the same run.
                self.resume()
            return state

    def __setstate__(self, state):
        snapshot = state.pop('snapshot', None)
        uuid = state.pop('uuid')
        if snapshot is None:
            self.__init__(uuid=uuid, **state)
            return
        self.__init__(database=state.pop('database'), **state)
        records, status = snapshot
        self._load_snapshot(_as_uuid(uuid), records, status)

    def _load_snapshot(self, uuid, records, status):
        with self._db.transaction() as connection:
            connection.execute(
                'UPDATE blocks_log_runs SET uuid = ? WHERE id = ?',
                (uuid.hex, self._run_id))
        self.uuid = uuid
        self._lineage = [(self._run_id, uuid.hex)]
        for time, key, value in records:
            self[time][key] = value
        self._status.replace(status)
        self.flush()


def _upsert(connection, rows):
    # Entries and status values alike: (run, time, key id, stored value).
    for statement, parameters in sql.upsert_entries(rows):
        connection.execute(statement, parameters)


def _params(parameters, runs, runs_first):
    runs = list(runs)
    return runs + list(parameters) if runs_first else list(parameters) + runs


def _as_uuid(uuid):
    if isinstance(uuid, _uuid.UUID):
        return uuid
    try:
        return _uuid.UUID(str(uuid))
    except ValueError:
        raise UnknownRunError('{!r} is not a uuid'.format(uuid))


_DELETED = object()


class SQLiteRow(MutableMapping):
    """The row of one time: a live view of the log's values at that time.

    Reads go through the run's lineage and see buffered writes; writes are
    buffered (see :class:`SQLiteLog`).

    Raises
    ------
    TypeError
        On writing a key that is not a str, or a value that cannot be stored
        (see :mod:`blocks_log.codec`); nothing is written then.

    """
    __slots__ = ('_log', '_time')

    def __init__(self, log, time):
        self._log = log
        self._time = time

    def __getitem__(self, key):
        values = self._log._read_row(self._time)
        return values[key]

    def __setitem__(self, key, value):
        # The hot path: once per logged value, in one Python frame.
        log = self._log
        if type(key) is not str:
            check_key(key)
        if type(value) is not float or value != value:
            # NaN included: SQLite would store it as NULL.
            value = codec.encode(value, key, log.allow_pickle)
        if not log._writable:
            log._check_writable()
        pending = log._pending
        # One append, atomic under the GIL (see SQLiteLog.__init__).
        pending.append((self._time, key, value))
        if len(pending) >= MAX_PENDING:
            log.flush()

    def __delitem__(self, key):
        raise TypeError('values cannot be deleted from a persistent log')

    def __iter__(self):
        return iter(self._log._read_row(self._time))

    def __len__(self):
        return len(self._log._read_row(self._time))

    def __contains__(self, key):
        return key in self._log._read_row(self._time)

    def update(self, *args, **kwargs):
        """Write several values; each is checked before any is written.

        Raises
        ------
        TypeError
            If a key is not a str or a value cannot be stored.

        """
        values = dict(*args, **kwargs)
        for key, value in values.items():
            check_key(key)
            codec.encode(value, key, self._log.allow_pickle)
        for key, value in values.items():
            self[key] = value

    def __eq__(self, other):
        if isinstance(other, Mapping):
            return dict(self.items()) == dict(other.items())
        return NotImplemented

    def __ne__(self, other):
        result = self.__eq__(other)
        return result if result is NotImplemented else not result

    __hash__ = None

    def __repr__(self):
        return repr(self._log._read_row(self._time))


class SQLiteStatus(MutableMapping):
    """The status of a run, held in memory and written with the buffer.

    Setting ``status['iterations_done']`` commits the buffer (see
    :class:`SQLiteLog`).

    Raises
    ------
    TypeError
        On setting a key that is not a str or a value that cannot be stored.

    """
    def __init__(self, log, values):
        self._log = log
        self._values = values
        self.dirty = {}

    def __getitem__(self, key):
        return self._values[key]

    def __setitem__(self, key, value):
        if type(key) is not str:
            check_key(key)
        log = self._log
        stored = codec.encode(value, key, log.allow_pickle)
        with log._lock:
            if not log._writable:
                log._check_writable()
            self._values[key] = value
            self.dirty[key] = stored
            log._status_changed(key, value)

    def __delitem__(self, key):
        with self._log._lock:
            self._log._check_writable()
            del self._values[key]
            self.dirty[key] = _DELETED
            self._log._forget_current_row()

    def __iter__(self):
        return iter(self._values)

    def __len__(self):
        return len(self._values)

    def __repr__(self):
        return repr(self._values)

    def committed(self, items):
        """Forget the changes in `items`: they are in the database."""
        for key, stored in items:
            if self.dirty.get(key) is stored:
                del self.dirty[key]

    def replace(self, values):
        """Set every value of `values`, dropping the others."""
        for key in list(self._values):
            if key not in values:
                del self[key]
        for key, value in values.items():
            self[key] = value


def list_runs(database):
    """Describe every run of a database, without writing to it.

    Parameters
    ----------
    database : str

    Returns
    -------
    list of dict
        One per run (ours and Blocks'), in order of creation: ``uuid`` (hex),
        ``resumed_from``, ``written_by`` (``'blocks_log'`` or ``'blocks'``).

    Raises
    ------
    LogDatabaseError
        If the file does not exist or is not a database.

    """
    db = SQLiteDatabase(database, read_only=True)
    try:
        tables = set(name for name, in db.execute(sql.SELECT_TABLES))
        runs = []
        if sql.BLOCKS_TABLES <= tables:
            for hex_uuid, in db.execute(sql.BLOCKS_SELECT_RUNS):
                parent = db.execute(sql.BLOCKS_SELECT_RUN, (hex_uuid,))
                runs.append({'uuid': hex_uuid, 'written_by': 'blocks',
                             'resumed_from': parent[0][0] if parent
                             else None})
        if 'blocks_log_runs' in tables:
            for _, hex_uuid, parent, _ in db.execute(sql.SELECT_RUNS):
                runs.append({'uuid': hex_uuid, 'resumed_from': parent,
                             'written_by': 'blocks_log'})
        if not tables & (sql.BLOCKS_TABLES | set(['blocks_log_runs'])):
            raise LogDatabaseError('{}: is not a log database (no runs '
                                   'table)'.format(database))
        return runs
    finally:
        db.close()


def find_run(database, prefix):
    """Return the full hex uuid of the run whose uuid starts with `prefix`.

    Raises
    ------
    UnknownRunError
        If no run matches (a ``KeyError``).
    AmbiguousRunError
        If several runs match; the message lists them.

    """
    prefix = str(prefix).lower().replace('-', '')
    matches = sorted(set(run['uuid'] for run in list_runs(database)
                         if run['uuid'].startswith(prefix)))
    if not matches:
        raise UnknownRunError('{}: no run with uuid {}...'.format(
            database, prefix))
    if len(matches) > 1:
        raise AmbiguousRunError('{}: {!r} names {} runs: {}'.format(
            database, prefix, len(matches), ', '.join(matches)))
    return matches[0]
