"""The PostgreSQL store: blocks_log's tables in a database on a server, for
runs on many machines.

The layout, lineage, chunks and claims of the SQLite store (see
:mod:`.sqlite`), in PostgreSQL's dialect (:mod:`.postgresql_sql`), through
psycopg 3 (:mod:`.postgresql_connection`); its reads in
:mod:`.postgresql_reads`, its writes in :mod:`.postgresql_writes`. A
commit of an iteration is one statement in autocommit, one round trip; a
connection lost or a server restarted mid-run costs a wait, not an
iteration: the buffer stays, the store connects again and commits it.

Plain SQL throughout (no temporary tables), but for claims: the session
of a writer holds an advisory lock on its run, which the server lets go
when the session ends, however it ends (see :mod:`.postgresql_sql`).
Status lists that only grow are stored by what they gain, in pieces, as
in SQLite (see :mod:`.status_pieces`).

"""
import os
import time as _time

from blocks_log.errors import (LogDatabaseError, LogWriteError,
                               SchemaVersionError)
from blocks_log.stores import (chunks, claims, postgresql_sql as sql,
                               run_packing, schema, status_pieces)
from blocks_log.stores.base import RunInfo, Store, summary_text
from blocks_log.stores.postgresql_connection import (
    RECONNECT_AT_EXIT_FOR, PostgreSQLConnection)
from blocks_log.stores.postgresql_reads import PostgreSQLReads
from blocks_log.stores.postgresql_writes import PostgreSQLWrites


class PostgreSQLStore(PostgreSQLWrites, PostgreSQLReads, Store):
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
    appends_status = True
    max_time = sql.STATUS_TIME
    #: A value is sent as text in an array literal (a BLOB as hex, twice
    #: its size), and the server takes no text over 1 GB.
    max_value_size = 2 ** 28

    def __init__(self, dsn, read_only=False, synchronous_commit='on',
                 allow_pickle=False):
        self.db = PostgreSQLConnection(dsn, read_only=read_only,
                                       synchronous_commit=synchronous_commit)
        self.db.on_open = self._hold_again
        self.name = self.db.name
        self.read_only = read_only
        self.allow_pickle = allow_pickle
        self._key_ids, self._key_names, self._spans = {}, {}, {}
        # ref -> run_packing.RunPacking of each run this store writes.
        self._packing = {}
        # ref -> claim of each run this store writes (its session holds
        # them); the runs another writer took while the connection was lost.
        self._held, self._lost = {}, set()
        # ref -> the status keys that have pieces, of each run this store
        # writes (see SQLiteStore._pieced); the process they are known in.
        self._pieced = {}
        self._pid = os.getpid()
        # Whether this is the copy of a forked child.
        self._forked = False
        # What marks a session as this writer's (see _own_session); a
        # forked child's is its parent's: they write the same runs.
        self._mark = os.urandom(8).hex()
        self._inspect()

    def _inspect(self):
        tables = {}
        for table, column in self.db.query(sql.SELECT_TABLES):
            tables.setdefault(table, set()).add(column)
        self.version = None
        if 'blocks_log_meta' in tables:
            rows = self.db.query(sql.SELECT_SCHEMA_VERSION)
            self.version = rows[0][0] if rows else None
            if self.version not in sql.READABLE_VERSIONS:
                raise SchemaVersionError(
                    '{}: written with schema version {!r}; this blocks_log '
                    'reads versions {}'.format(
                        self.name, self.version,
                        ', '.join(map(str, sql.READABLE_VERSIONS))))
        for table, columns in tables.items():
            expected = sql.TABLES.get(table)
            if expected is not None and self.version == 3:
                expected = expected - sql.COLUMNS_ADDED_IN_4.get(table, set())
            if expected is not None and columns != expected:
                raise LogDatabaseError(
                    '{}: holds a table {} that blocks_log did not make '
                    '(columns {})'.format(self.name, table,
                                          ', '.join(sorted(columns))))

    def _transact(self, work, writing=True):
        # `work(connection)` in a transaction, again after a reconnection;
        # two processes making the tables at once: the loser tries again.
        def transaction(connection):
            with connection.transaction():
                return work(connection)
        try:
            return self.db.run(transaction, writing=writing)
        except LogWriteError as error:
            if self.version != sql.SCHEMA_VERSION and 'already exists' in str(
                    error):
                return self.db.run(transaction, writing=writing)
            if self.version is None and 'permission denied for schema' in (
                    str(error)):
                raise LogWriteError(
                    '{}; the first writer makes blocks_log\'s tables, which '
                    'needs the right to create in the schema (PostgreSQL 15 '
                    'gives it in the public schema to the database\'s owner '
                    'alone): have a role that may open a log there once, '
                    'then grant this one SELECT, INSERT, UPDATE, DELETE on '
                    'the tables and USAGE on their sequences'.format(error))
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
            schema.prepare(connection, self.version, sql)
            ref, = connection.execute(sql.INSERT_RUN, (
                uuid, parent, created or _time.time(), claim,
                chunks.SPAN)).fetchone()
            new_ids = self._new_key_ids(connection, list(status))
            key_ids = dict(self._key_ids, **new_ids)
            if status:
                sql.write_upserts(connection, ref, dict(
                    ((sql.STATUS_TIME, key_ids[key]), stored)
                    for key, stored in status.items()))
            if claim is not None:
                self._take(connection, ref, uuid)
            return ref, new_ids
        ref, new_ids = self._transact(work)
        self._committed_claim(ref, claim, run_packing.RunPacking(
            chunks.SPAN, 0, 0, 0, new=True,
            batch_bytes=self.max_value_size), set())
        self._key_ids.update(new_ids)
        return self.find_run(uuid)

    def claim_run(self, run, claim, is_stale):
        def work(connection):
            schema.prepare(connection, self.version, sql)
            self._take(connection, run.ref, run.uuid)
            connection.execute(sql.SET_WRITER, (claim, run.ref))
            return run_packing.going_on_in(
                connection, run.ref, self._spans.get(run.ref), sql,
                self.max_value_size), (
                    status_pieces.keys_with_pieces(connection.execute,
                                                   run.ref, sql))
        self._committed_claim(run.ref, claim, *self._transact(work))

    def _running(self, run):
        # The packing of a run this store writes; of one it writes without
        # having claimed it (a copy finished), read now.
        running = self._packing.get(run.ref)
        if running is None:
            self.find_run(run.uuid)  # its span
            running = self._packing[run.ref] = self._transact(
                lambda connection: run_packing.going_on_in(
                    connection, run.ref, self._spans.get(run.ref), sql,
                    self.max_value_size))
            self._pieced[run.ref] = set(
                status_pieces.keys_with_pieces(self.db.query, run.ref, sql)
                if self._has_status_pieces() else ())
        return running

    def _own_session(self, connection):
        # A run is held by this connection's server session: one that
        # another writer marked is shared (see sql.MARK_SESSION), and would
        # let a second writer of a run in, silently.
        marked, = connection.execute(sql.MARK_SESSION,
                                     (self._mark,)).fetchone()
        if marked != self._mark:
            raise LogDatabaseError(
                '{}: the server session of this connection is shared with '
                'another writer, as a connection pooler in transaction mode '
                "(pgbouncer's pool_mode = transaction) shares them: a "
                'writer holds its run through its session, and needs one '
                'of its own. Connect to the server directly, or through a '
                'pooler in session mode; or open the log with '
                'read_only=True to read'.format(self.name))

    def _take(self, connection, ref, uuid):
        # In the transaction that records a claim: refused if a session
        # holds the run; held by this session from then on.
        self._own_session(connection)
        if not connection.execute(sql.LOCK_RUN_ALONE, (ref,)).fetchone()[0]:
            writer, = connection.execute(sql.SELECT_WRITER,
                                         (ref,)).fetchone()
            raise claims.in_use(self.name, uuid, writer)
        connection.execute(sql.HOLD_RUN, (ref,))

    def _committed_claim(self, ref, claim, running, pieced):
        self.version = sql.SCHEMA_VERSION
        if claim is not None:
            self._held[ref] = claim
            self._lost.discard(ref)
        self._packing[ref] = running
        self._pieced[ref] = pieced

    def held_runs(self):
        """The refs of the runs that some session holds now (a writer, or
        a forked child of one): a set."""
        if self.version is None:
            return set()
        return set(ref for ref, in self.db.query(sql.SELECT_HELD_RUNS))

    def is_written(self, run):
        return run.ref in self.held_runs()

    def written(self, runs):
        return self.held_runs() & set(run.ref for run in runs)

    def counted(self, run):
        return run_packing.counted(self._packing.get(run.ref), self._key_name)

    def release_run(self, run, claim, summary=None):
        self._packing.pop(run.ref, None)
        self._pieced.pop(run.ref, None)
        held = self._held.pop(run.ref, None)
        self._lost.discard(run.ref)
        if held is None:
            return

        def work(connection):
            connection.execute(sql.RELEASE_WRITER, (
                summary_text(summary), run.ref, held))
            connection.execute(sql.LET_GO_RUN, (run.ref,))
        self.db.run(work, writing=True)

    def set_parent(self, run, parent):
        self.db.run(lambda connection: connection.execute(
            sql.SET_PARENT, (parent, run.ref)), writing=True)
        return run._replace(parent=parent)

    def _hold_again(self, connection):
        # A new connection (after a lost one, or in a forked child): a new
        # session, which holds the runs this store writes again, unless
        # another writer took one meanwhile.
        for ref, claim in list(self._held.items()):
            with connection.transaction():
                held = connection.execute(sql.HOLD_RUN, (ref,)).fetchone()[0]
                writer = connection.execute(sql.SELECT_WRITER,
                                            (ref,)).fetchone()
                if held and writer == (None,) and self._forked:
                    # The writer this process was forked from let the run
                    # go (it closed first): its child goes on with it.
                    connection.execute(sql.SET_WRITER, (claim, ref))
                    continue
                if held and writer == (claim,):
                    continue
            if held:
                connection.execute(sql.LET_GO_RUN, (ref,))
            del self._held[ref]
            self._lost.add(ref)

    # Writing.

    def _check_held(self, run):
        # Before each attempt of a commit: a new connection, made in the
        # attempt before, finds whether another writer took the run.
        if run.ref in self._lost:
            raise LogWriteError(
                '{}: run {} was taken over by another writer while the '
                'connection was lost; nothing more is written into '
                'it'.format(self.name, run.uuid))

    def close(self):
        self.db.close()

    def before_exit(self):
        self.db.reconnect_for = RECONNECT_AT_EXIT_FOR

    def before_fork(self):
        """Nothing to drop: the parent keeps its connection, and the session
        that holds its runs; a child connects anew (and holds them too).
        Parent and child will each write the run, and remember only their
        own values: both pack from the database."""
        for running in self._packing.values():
            running.forked()

    def after_fork(self, child):
        if child:
            self._in_forked_child()

    def _in_forked_child(self):
        # Its parent goes on with the pieces of status lists: the child
        # writes none, and looks for them where it writes status (see
        # SQLiteStore._in_forked_child).
        self._forked = True
        self.appends_status = False
        self._pieced = dict.fromkeys(self._pieced)
        self._pid = os.getpid()
