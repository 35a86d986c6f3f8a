"""The SQLite store: blocks_log's tables in an SQLite file (or memory).

All of the SQLite dialect lives here and in :mod:`.sqlite_sql`; the
connection, its pragmas and its errors in :mod:`.sqlite_connection`.

"""
import time as _time

from blocks_log import codec
from blocks_log.errors import (LogDatabaseError, RunInUseError,
                               SchemaVersionError)
from blocks_log.stores import claims, sqlite_sql as sql
from blocks_log.stores.base import RunInfo, Store
from blocks_log.stores.sqlite_connection import SQLiteConnection

#: Blocks' own tables, which :mod:`blocks_log.stores.blocks` reads.
BLOCKS_TABLES = frozenset(['entries', 'status'])


class SQLiteStore(Store):
    """blocks_log's runs in an SQLite database.

    Opening reads the schema and changes nothing; the tables are created
    (or a version-2 file migrated) by the first write: a new run or a
    claim.

    Parameters
    ----------
    path : str
        A file path or ``':memory:'``.
    read_only : bool, optional
    synchronous : {'NORMAL', 'FULL', 'EXTRA'}, optional
    allow_pickle : bool, optional
        Unpickle pickled values when reading.

    Raises
    ------
    LogDatabaseError
        If the file is not a database, or holds a table named as ours that
        is not ours.
    SchemaVersionError
        If the file was written with another schema version, or its
        version record is damaged.
    ValueError
        If `synchronous` is not one of those.

    """
    writable_runs = True
    # The status is stored at STATUS_TIME.
    max_time = sql.STATUS_TIME

    def __init__(self, path, read_only=False, synchronous='NORMAL',
                 allow_pickle=False):
        self.name = path
        self.read_only = read_only
        self.allow_pickle = allow_pickle
        self.db = SQLiteConnection(path, read_only=read_only,
                                   synchronous=synchronous)
        self._key_ids = {}
        self._key_names = {}
        try:
            self._inspect()
        except BaseException:
            self.db.close()
            raise

    @property
    def connection(self):
        """The :class:`sqlite3.Connection` (Blocks' ``log.conn``)."""
        return self.db.connection

    def _inspect(self):
        tables = set(name for name, in self.db.query(sql.SELECT_TABLES))
        self.has_blocks_tables = BLOCKS_TABLES <= tables
        self.version = None
        if 'blocks_log_meta' in tables:
            self.version = self._stored_version()
        for table in set(sql.TABLES) & tables:
            columns = set(name for name, in self.db.query(
                sql.TABLE_COLUMNS, (table,)))
            expected = sql.TABLES[table]
            if self.version == 2:
                expected = expected - sql.ADDED_IN_3.get(table, set())
            if columns != expected:
                raise LogDatabaseError(
                    '{}: holds a table {} that blocks_log did not make '
                    '(columns {})'.format(self.name, table,
                                          ', '.join(sorted(columns))))
        if self.version is None and tables & set(sql.TABLES):
            raise LogDatabaseError('{}: holds tables of blocks_log but no '
                                   'schema version'.format(self.name))
        missing = set(sql.TABLES) - tables
        if missing and self.version is not None:
            raise LogDatabaseError('{}: tables {} are missing'.format(
                self.name, ', '.join(sorted(missing))))

    def _stored_version(self):
        rows = self.db.query(sql.SELECT_SCHEMA_VERSION)
        version = rows[0][0] if rows else None
        if type(version) is not int:
            raise SchemaVersionError(
                '{}: its schema version record is damaged ({!r})'.format(
                    self.name, version))
        if version not in sql.READABLE_VERSIONS:
            raise SchemaVersionError(
                '{}: written with schema version {} by {} blocks_log; '
                'this one reads versions {}'.format(
                    self.name, version,
                    'a newer' if version > sql.SCHEMA_VERSION else
                    'a development version of',
                    ', '.join(map(str, sql.READABLE_VERSIONS))))
        return version

    def _prepare(self, connection):
        # In a write transaction: the schema, made or brought up to date.
        if self.version == sql.SCHEMA_VERSION:
            return
        if self.version == 2:
            for statement in sql.MIGRATE_2_TO_3:
                connection.execute(statement)
        else:
            for statement in sql.CREATE_SCHEMA:
                connection.execute(statement)
        connection.execute(sql.INSERT_SCHEMA_VERSION, (sql.SCHEMA_VERSION,))

    # Runs.

    def _run_query(self, query):
        new = self.version != 2
        return query.format(writer='writer' if new else 'NULL',
                            deletions='deletions' if new else '0')

    @staticmethod
    def _info(row):
        return RunInfo(*row[:5])

    def find_run(self, uuid):
        if self.version is None:
            return None
        rows = self.db.query(self._run_query(sql.SELECT_RUN), (uuid,))
        return self._info(rows[0]) if rows else None

    def runs(self):
        if self.version is None:
            return []
        return [self._info(row) for row in self.db.query(
            self._run_query(sql.SELECT_RUNS))]

    def _has_deletions(self, runs):
        if self.version in (None, 2):
            return False
        refs = [run.ref for run in runs]
        return bool(self.db.query(sql.SELECT_DELETIONS.format(
            runs=sql.in_list(len(refs))), refs))

    def create_run(self, uuid, parent, status, claim):
        with self.db.transaction() as connection:
            self._prepare(connection)
            ref = connection.execute(sql.INSERT_RUN, (
                uuid, parent, _time.time(), claim)).lastrowid
            rows, new_ids = self._rows(connection, ref, [], status)
            for statement, parameters in sql.upsert_entries(rows):
                connection.execute(statement, parameters)
        self.version = sql.SCHEMA_VERSION
        self._key_ids.update(new_ids)
        return self.find_run(uuid)

    def claim_run(self, run, claim, is_stale):
        with self.db.transaction() as connection:
            self._prepare(connection)
            writer, = connection.execute(sql.SELECT_WRITER,
                                         (run.ref,)).fetchone()
            if writer is not None and writer != claim and not is_stale(
                    writer):
                raise RunInUseError(
                    '{}: run {} is being written by {}; open it with '
                    'read_only=True to read it, or resume() a read-only '
                    'log of it to go on in a new run'.format(
                        self.name, run.uuid, claims.describe(writer)))
            connection.execute(sql.SET_WRITER, (claim, run.ref))
        self.version = sql.SCHEMA_VERSION

    def release_run(self, run, claim):
        with self.db.transaction() as connection:
            connection.execute(sql.RELEASE_WRITER, (run.ref, claim))

    # Writing.

    def write(self, run, entries, status, deleted_status, deletions=False):
        # Once per iteration: the rows are made here, not in a helper.
        ref, key_ids, status_time = run.ref, self._key_ids, sql.STATUS_TIME
        try:
            rows = [(ref, time, key_ids[key], stored)
                    for time, key, stored in entries] + [
                        (ref, status_time, key_ids[key], stored)
                        for key, stored in status.items()]
            new_ids = None
        except KeyError:
            rows = None
        with self.db.transaction() as connection:
            if rows is None:
                # A key never written before gets its id in this same
                # transaction, and is forgotten if it rolls back.
                rows, new_ids = self._rows(connection, ref, entries, status)
            for statement, parameters in sql.upsert_entries(rows):
                connection.execute(statement, parameters)
            if deleted_status:
                key_ids = dict(key_ids, **(new_ids or {}))
                connection.executemany(sql.DELETE_STATUS, [
                    (ref, key_ids[key]) for key in deleted_status
                    if key in key_ids])
            if deletions:
                connection.execute(sql.MARK_DELETIONS, (ref,))
        if new_ids:
            self._key_ids.update(new_ids)

    def _rows(self, connection, ref, entries, status):
        """`entries` and `status` as rows of :data:`sql.UPSERT_ENTRY`, and
        the key ids made for them, in a write transaction."""
        names = [key for _, key, _ in entries] + list(status)
        new_ids = self._new_key_ids(connection, names)
        key_ids = dict(self._key_ids, **new_ids)
        return [(ref, time, key_ids[key], stored)
                for time, key, stored in entries] + [
                    (ref, sql.STATUS_TIME, key_ids[key], stored)
                    for key, stored in status.items()], new_ids

    def _new_key_ids(self, connection, names):
        new_ids = {}
        for name in names:
            if name not in self._key_ids and name not in new_ids:
                connection.execute(sql.INSERT_KEY, (name,))
                new_ids[name], = connection.execute(
                    sql.SELECT_KEY_ID, (name,)).fetchone()
        return new_ids

    # Reading.

    def _decode(self, stored):
        if type(stored) is not bytes:
            return stored
        return codec.decode(stored, self.allow_pickle)

    def _key_name(self, key_id):
        name = self._key_names.get(key_id)
        if name is None:
            self._key_names.update(self.db.query(sql.SELECT_KEYS))
            name = self._key_names[key_id]
        return name

    def _key_id(self, name):
        key_id = self._key_ids.get(name)
        if key_id is None:
            rows = self.db.query(sql.SELECT_KEY_ID, (name,))
            if rows:
                key_id = self._key_ids[name] = rows[0][0]
        return key_id

    def read_status(self, run):
        return dict((key, self._decode(value)) for key, value in
                    self.db.query(sql.SELECT_STATUS, (run.ref,)))

    def read_row(self, runs, time, key=None):
        if self.version is None:
            return {}
        refs = [run.ref for run in runs]
        if key is None:
            rows = self.db.query(sql.SELECT_ROW.format(
                runs=sql.in_list(len(refs))), [time] + refs)
        else:
            key_id = self._key_id(key)
            if key_id is None:
                return {}
            rows = self.db.query(sql.SELECT_ROW_KEY.format(
                runs=sql.in_list(len(refs))), [time, key_id] + refs)
        depth = dict((ref, index) for index, ref in enumerate(refs))
        # Farthest first, so that nearer runs overwrite.
        rows.sort(key=lambda row: -depth[row[0]])
        return dict((self._key_name(key_id), self._decode(stored))
                    for _, key_id, stored in rows)

    def read_times(self, runs, start, stop):
        if self.version is None:
            return []
        stop = min(stop, sql.STATUS_TIME)
        times = set()
        for run in runs:
            times.update(time for time, in self.db.query(
                sql.SELECT_TIMES, (run.ref, start, stop, codec.DELETED)))
        if self._has_deletions(runs):
            # A time whose every value is deleted, here or in a nearer
            # run, holds nothing.
            for run in runs:
                for time, in self.db.query(sql.SELECT_DELETED_TIMES, (
                        run.ref, start, stop, codec.DELETED)):
                    if not any(value is not codec.DELETED for value in
                               self.read_row(runs, time).values()):
                        times.discard(time)
        return sorted(times)

    def read_columns(self, runs, keys, start, stop):
        columns = {}
        if self.version is None:
            return columns
        stop = min(stop, sql.STATUS_TIME)
        if keys is not None:
            ids = [key_id for key_id in map(self._key_id, keys)
                   if key_id is not None]
            if not ids:
                return columns
            query = sql.SELECT_RECORDS_OF_KEYS.format(
                keys=sql.in_list(len(ids)))
        else:
            ids, query = [], sql.SELECT_RECORDS
        names, decode = self._key_names, self._decode
        # Farthest first, so that nearer runs overwrite.
        for run in reversed(runs):
            rows = self.db.query(query, [run.ref, start, stop] + ids)
            if any(key not in names for _, key, _ in rows):
                names.update(self.db.query(sql.SELECT_KEYS))
            for time, key, stored in rows:
                column = columns.get(names[key])
                if column is None:
                    column = columns[names[key]] = {}
                column[time] = decode(stored)
        return columns

    def data_version(self):
        return self.db.data_version()

    def close(self):
        self.db.close()

    def disconnect(self):
        self.db.disconnect()
