"""The PostgreSQL store: blocks_log's tables in a database on a server, for
runs on many machines.

The layout, lineage, chunks and claims of the SQLite store (see
:mod:`.sqlite`), in PostgreSQL's dialect (:mod:`.postgresql_sql`), through
psycopg 3 (:mod:`.postgresql_connection`). A commit of an iteration is one
statement in autocommit, one round trip; a connection lost or a server
restarted mid-run costs a wait, not an iteration: the buffer stays, the
store connects again and commits it.

Plain SQL throughout (no advisory locks, no temporary tables), but for
``pg_stat_activity``, which tells whether the writer of a run is still
connected; where it is missing, a writer's liveness is judged by its host
and process, as for SQLite.

"""
import json
import time as _time

from blocks_log.errors import (LogDatabaseError, LogWriteError,
                               SchemaVersionError)
from blocks_log.stores import chunks, claims, postgresql_sql as sql
from blocks_log.stores.base import RunInfo, Store, summary_text
from blocks_log.stores.postgresql_connection import (
    RECONNECT_AT_EXIT_FOR, PostgreSQLConnection)
from blocks_log.stores.postgresql_reads import PostgreSQLReads


class PostgreSQLStore(PostgreSQLReads, Store):
    """blocks_log's runs in a PostgreSQL database.

    Opening reads the schema and changes nothing; the tables are created by
    the first write: a new run or a claim.

    Parameters
    ----------
    dsn : str
        A libpq connection string or ``postgresql://`` URL.
    read_only : bool, optional
    synchronous_commit : str, optional
    allow_pickle : bool, optional
        Unpickle pickled values when reading.

    Raises
    ------
    LogDatabaseError
        If the server cannot be reached or refuses the connection (the
        message names host and database, never the password), or the
        database holds a table of our name that is not ours.
    SchemaVersionError
        If the database was written with another schema version.
    ImportError
        If psycopg is not installed.

    """
    writable_runs = True
    max_time = sql.STATUS_TIME

    def __init__(self, dsn, read_only=False, synchronous_commit='on',
                 allow_pickle=False):
        self.db = PostgreSQLConnection(dsn, read_only=read_only,
                                       synchronous_commit=synchronous_commit)
        self.db.on_reconnect = self._claim_again
        self.name = self.db.name
        self.read_only = read_only
        self.allow_pickle = allow_pickle
        self._key_ids, self._key_names, self._spans = {}, {}, {}
        self._packing = None
        self._claim = None  # (run ref, claim as stored) of this writer
        self._inspect()

    def _inspect(self):
        tables = {}
        for table, column in self.db.query(sql.SELECT_TABLES):
            tables.setdefault(table, set()).add(column)
        for table, columns in tables.items():
            if table in sql.TABLES and columns != sql.TABLES[table]:
                raise LogDatabaseError(
                    '{}: holds a table {} that blocks_log did not make '
                    '(columns {})'.format(self.name, table,
                                          ', '.join(sorted(columns))))
        self.version = None
        if 'blocks_log_meta' in tables:
            rows = self.db.query(sql.SELECT_SCHEMA_VERSION)
            self.version = rows[0][0] if rows else None
            if self.version != sql.SCHEMA_VERSION:
                raise SchemaVersionError(
                    '{}: written with schema version {!r}; this blocks_log '
                    'reads version {}'.format(self.name, self.version,
                                              sql.SCHEMA_VERSION))

    def _prepare(self, connection):
        # In a write transaction: the schema, made if missing.
        if self.version is None:
            for statement in sql.CREATE_SCHEMA:
                connection.execute(statement)
            connection.execute(sql.INSERT_SCHEMA_VERSION,
                               (sql.SCHEMA_VERSION,))

    def _transact(self, work, writing=True):
        # `work(connection)` in a transaction, again after a reconnection;
        # two processes making the tables at once: the loser tries again.
        def transaction(connection):
            with connection.transaction():
                return work(connection)
        try:
            return self.db.run(transaction, writing=writing)
        except LogWriteError as error:
            if self.version is None and 'already exists' in str(error):
                return self.db.run(transaction, writing=writing)
            raise

    # Runs.

    def _info(self, row):
        self._spans[row[0]] = row[6]
        return RunInfo(*row[:6])

    def find_run(self, uuid):
        if self.version is None:
            return None
        rows = self.db.query(sql.SELECT_RUN, (uuid,))
        return self._info(rows[0]) if rows else None

    def runs(self):
        if self.version is None:
            return []
        return [self._info(row) for row in self.db.query(sql.SELECT_RUNS)]

    def create_run(self, uuid, parent, status, claim, created=None):
        def work(connection):
            self._prepare(connection)
            stored_claim = self._with_backend(connection, claim)
            ref, = connection.execute(sql.INSERT_RUN, (
                uuid, parent, created or _time.time(), stored_claim,
                chunks.SPAN)).fetchone()
            new_ids = self._new_key_ids(connection, list(status))
            self._upsert(connection, ref, [], status,
                         dict(self._key_ids, **new_ids))
            return ref, stored_claim, new_ids
        ref, stored_claim, new_ids = self._transact(work)
        self.version = sql.SCHEMA_VERSION
        self._key_ids.update(new_ids)
        self._claim = (ref, stored_claim) if claim else None
        self._packing = chunks.Packing(chunks.SPAN, 0)
        return self.find_run(uuid)

    def claim_run(self, run, claim, is_stale):
        def work(connection):
            self._prepare(connection)
            writer, = connection.execute(sql.SELECT_WRITER,
                                         (run.ref,)).fetchone()
            stored_claim = self._with_backend(connection, claim)
            if writer is not None and writer != stored_claim and not (
                    self._stale(connection, writer, is_stale)):
                raise claims.in_use(self.name, run.uuid, writer)
            connection.execute(sql.SET_WRITER, (stored_claim, run.ref))
            packed, = connection.execute(sql.SELECT_PACKED,
                                         (run.ref,)).fetchone()
            return stored_claim, packed
        stored_claim, packed = self._transact(work)
        self.version = sql.SCHEMA_VERSION
        self._claim = (run.ref, stored_claim)
        span = self._spans.get(run.ref)
        self._packing = span and chunks.Packing(span, packed)

    def is_written(self, run):
        found = self.find_run(run.uuid)
        if not (found and found.writer):
            return False
        return not self.db.run(lambda connection: self._stale(
            connection, found.writer, claims.is_stale))

    def release_run(self, run, claim, summary=None):
        self._packing, held, self._claim = None, self._claim, None
        if held is not None:
            self.db.run(lambda connection: connection.execute(
                sql.RELEASE_WRITER, (summary_text(summary),) + tuple(
                    held)), writing=True)

    def _with_backend(self, connection, claim):
        # The claim, with the server process of this connection: when it
        # is gone, so is the writer, whatever host it ran on.
        if claim is None:
            return None
        try:
            with connection.transaction():
                backend = connection.execute(sql.SELECT_BACKEND).fetchone()
        except self.db.psycopg.Error:
            return claim  # no pg_stat_activity here
        info = json.loads(claim)
        info['backend'] = list(backend)
        return json.dumps(info, sort_keys=True)

    def _stale(self, connection, writer, is_stale):
        if is_stale(writer):
            return True
        backend = claims.parse(writer).get('backend')
        if not backend:
            return False
        try:
            with connection.transaction():
                return connection.execute(sql.SELECT_BACKEND_ALIVE,
                                          backend).fetchone() is None
        except self.db.psycopg.Error:
            return False

    def _claim_again(self, connection):
        # A new connection, a new server process: the claim follows it,
        # unless someone took the run meanwhile.
        if self._claim is None:
            return
        ref, old = self._claim
        new = self._with_backend(connection, json.dumps(
            dict((key, value) for key, value in claims.parse(old).items()
                 if key != 'backend'), sort_keys=True))
        if connection.execute(sql.REPLACE_WRITER,
                              (new, ref, old)).rowcount != 1:
            self._claim = None
            raise LogWriteError('{}: the run was taken over by another '
                                'writer while the connection was lost'
                                .format(self.name))
        self._claim = (ref, new)

    # Writing.

    def write(self, run, entries, status, deleted_status, deletions=False):
        ref, packing = run.ref, self._packing
        if packing is not None and entries:
            last = entries[-1][0]
            if last > packing.frontier:
                packing.frontier = last
        due = packing is not None and packing.due()
        names = [key for _, key, _ in entries] + list(status)
        if not (due or deleted_status or deletions) and all(
                name in self._key_ids for name in names):
            # An iteration's commit: one statement, in autocommit.
            self.db.run(lambda connection: self._upsert(
                connection, ref, entries, status, self._key_ids),
                writing=True)
            return

        def work(connection):
            if due:
                chunks.pack_next(connection, ref, packing, sql)
            new_ids = self._new_key_ids(connection, names)
            key_ids = dict(self._key_ids, **new_ids)
            self._upsert(connection, ref, entries, status, key_ids)
            if deleted_status:
                connection.cursor().executemany(sql.DELETE_STATUS, [
                    (ref, key_ids[key]) for key in deleted_status
                    if key in key_ids])
            if deletions:
                connection.execute(sql.MARK_DELETIONS, (ref,))
            return new_ids
        self._key_ids.update(self._transact(work))
        if due:
            packing.packed = packing.pending

    def compact(self, run):
        packing = self._packing
        while packing is not None and packing.due():
            before = packing.packed
            self._transact(lambda connection: chunks.pack_next(
                connection, run.ref, packing, sql))
            packing.packed = packing.pending
            if packing.packed == before:
                break

    @staticmethod
    def _upsert(connection, ref, entries, status, key_ids):
        # PostgreSQL refuses a statement that touches a row twice: the
        # later value of a (time, key) wins here.
        values = dict(((time, key_ids[key]), stored)
                      for time, key, stored in entries)
        values.update(((sql.STATUS_TIME, key_ids[key]), stored)
                      for key, stored in status.items())
        if not values:
            return
        connection.execute(sql.UPSERT_ENTRIES, (ref,) + sql.entry_arrays(
            values))

    def close(self):
        self.db.close()

    def before_exit(self):
        self.db.reconnect_for = RECONNECT_AT_EXIT_FOR

    def before_fork(self):
        self.db.before_fork()
