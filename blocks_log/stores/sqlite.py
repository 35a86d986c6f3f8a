"""The SQLite store: blocks_log's tables in an SQLite file (or memory).

All of the SQLite dialect lives here, in :mod:`.sqlite_reads`,
:mod:`.sqlite_writes` and :mod:`.sqlite_sql`; the connection, its pragmas
and its errors in :mod:`.sqlite_connection`; the packing of numbers in
:mod:`.chunks`.

"""
import os
import time as _time
import warnings

from blocks_log.errors import (LogDatabaseError, LogWriteError,
                               SchemaVersionError)
from blocks_log.stores import (chunks, claims, run_packing, schema,
                               sqlite_sql as sql, status_pieces)
from blocks_log.stores.base import RunInfo, Store, summary_text
from blocks_log.stores.sqlite_connection import SQLiteConnection
from blocks_log.stores.sqlite_reads import SQLiteReads
from blocks_log.stores.sqlite_writes import SQLiteWrites

#: Blocks' own tables, which :mod:`blocks_log.stores.blocks` reads.
BLOCKS_TABLES = frozenset(['entries', 'status'])


class SQLiteStore(SQLiteWrites, SQLiteReads, Store):
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
    appends_status = True
    # The status is stored at STATUS_TIME.
    max_time = sql.STATUS_TIME
    # By time alone in a fast loop, such a commit is the slowest iteration
    # of its stretch of a run: over a million iterations, the slowest
    # took 2.3 to 3.0 ms of the training thread's CPU (median 2.9) at
    # session.MAX_PENDING values, 1.9 to 3.5 (median 2.2) at 2,048
    # (benchmarks/MEASUREMENTS.rst). MAX_PENDING, which bounds an iteration
    # too, stays higher: at 2,048, an iteration of 3,000 values committing
    # each iteration took two commits, and 9% longer.
    timed_commit_values = 2048

    def __init__(self, path, read_only=False, synchronous='NORMAL',
                 allow_pickle=False):
        self.name = path
        self.read_only = read_only
        self.allow_pickle = allow_pickle
        self.db = SQLiteConnection(path, read_only=read_only,
                                   synchronous=synchronous)
        self._key_ids = {}
        self._key_names = {}
        # ref -> times per block of the run's chunks (None: no chunks).
        self._spans = {}
        # ref -> run_packing.RunPacking of each run this store writes.
        self._packing = {}
        # ref -> claims.FileClaim of each run this store writes.
        self._held = {}
        # ref -> the status keys that have pieces (see sqlite_sql), of each
        # run this store writes; None where they are not known (in a forked
        # child: its parent may begin pieces since). The process they are
        # known in.
        self._pieced = {}
        self._pid = os.getpid()
        try:
            self._inspect()
            # SQLite's bound on a text, a BLOB and a row, less what the
            # rest of a row of entries takes.
            self.max_value_size = self.db.max_length() - 1024
        except BaseException:
            self.db.close()
            raise

    @property
    def connection(self):
        """The :class:`sqlite3.Connection` (Blocks' ``log.conn``)."""
        return self.db.connection

    # The schema.

    def _inspect(self):
        tables = set(name for name, in self.db.query(sql.SELECT_TABLES))
        self.has_blocks_tables = BLOCKS_TABLES <= tables
        self.version = None
        if 'blocks_log_meta' in tables:
            self.version = self._stored_version()
        ours = sql.tables_of(self.version or sql.SCHEMA_VERSION)
        for table in set(ours) & tables:
            columns = set(name for name, in self.db.query(
                sql.TABLE_COLUMNS, (table,)))
            if columns != ours[table]:
                raise LogDatabaseError(
                    '{}: holds a table {} that blocks_log did not make '
                    '(columns {})'.format(self.name, table,
                                          ', '.join(sorted(columns))))
        if self.version is None and tables & set(sql.TABLES):
            raise LogDatabaseError('{}: holds tables of blocks_log but no '
                                   'schema version'.format(self.name))
        missing = set(ours) - tables
        if missing and self.version is not None:
            raise LogDatabaseError('{}: tables {} are missing'.format(
                self.name, ', '.join(sorted(missing))))
        if self.read_only and self.version not in (None, 2):
            self._warn_of_another_machine()

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

    # Runs.

    def _run_query(self, query):
        new = self.version != 2
        return query.format(writer='writer' if new else 'NULL',
                            summary='summary' if new else 'NULL',
                            span='span' if new else 'NULL')

    def _info(self, row):
        self._spans[row[0]] = row[6]
        return RunInfo(*row[:6])

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

    def create_run(self, uuid, parent, status, claim, created=None):
        ref = None
        try:
            with self.db.commit_lock(), self.db.transaction() as connection:
                schema.prepare(connection, self.version, sql)
                self._refuse_another_machine(connection)
                ref = connection.execute(sql.INSERT_RUN, (
                    uuid, parent, created or _time.time(), claim,
                    chunks.SPAN)).lastrowid
                rows, new_ids = self._status_rows(connection, ref, status)
                for statement, parameters in sql.upsert_entries(rows):
                    connection.execute(statement, parameters)
                if claim is not None:
                    # Before the run exists for others: nobody holds it.
                    self._hold(ref, uuid, connection)
        except BaseException:
            self._let_go(ref)
            raise
        self.version = sql.SCHEMA_VERSION
        self._key_ids.update(new_ids)
        run = self.find_run(uuid)
        self._packing[run.ref] = run_packing.RunPacking(
            chunks.SPAN, 0, 0, 0, new=True, batch_bytes=self.max_value_size)
        self._pieced[run.ref] = set()
        return run

    def claim_run(self, run, claim, is_stale):
        if claims.file_claims(self.db.path):
            self._hold(run.ref, run.uuid)
        held = run.ref in self._held
        try:
            with self.db.commit_lock(), self.db.transaction() as connection:
                schema.prepare(connection, self.version, sql)
                self._refuse_another_machine(connection)
                writer, = connection.execute(sql.SELECT_WRITER,
                                             (run.ref,)).fetchone()
                if not held and writer is not None and writer != claim and (
                        not is_stale(writer)):
                    raise claims.in_use(self.name, run.uuid, writer)
                connection.execute(sql.SET_WRITER, (claim, run.ref))
                self._packing[run.ref] = run_packing.going_on_in(
                    connection, run.ref, self._spans.get(run.ref), sql,
                    self.max_value_size)
                self._pieced[run.ref] = status_pieces.keys_with_pieces(
                    connection.execute, run.ref, sql)
        except BaseException:
            self._let_go(run.ref)
            raise
        self.version = sql.SCHEMA_VERSION

    def _written_elsewhere(self, execute):
        # (uuid, claim) of the runs that another machine writes, known by
        # their locks alone (where the network filesystem passes locks
        # on): a claim that no lock holds may be a crashed machine's, and
        # must not keep every writer out for ever.
        if not claims.file_claims(self.db.path):
            return []
        return [(uuid, writer) for ref, uuid, writer in execute(
            sql.SELECT_WRITERS) if claims.on_another_machine(writer) and
            claims.file_held(self.db.path, ref)]

    def _refuse_another_machine(self, connection):
        # A writer's open, in its transaction: refused while another
        # machine writes the file.
        for uuid, writer in self._written_elsewhere(connection.execute):
            raise claims.on_two_machines(self.name, uuid, writer)

    def _warn_of_another_machine(self):
        # A reader's open: told, once, that what it reads may be stale.
        for uuid, writer in self._written_elsewhere(self.db.query)[:1]:
            warnings.warn(claims.read_from_another_machine(
                self.name, uuid, writer), RuntimeWarning, stacklevel=2)

    def _running(self, run):
        # The packing of a run this store writes; of one it writes without
        # having claimed it (a copy finished), read now.
        running = self._packing.get(run.ref)
        if running is None:
            self.find_run(run.uuid)  # its span
            running = self._packing[run.ref] = run_packing.going_on(
                self._spans.get(run.ref), lambda statement: self.db.query(
                    statement, (run.ref,))[0][0], sql, self.max_value_size)
            self._pieced[run.ref] = set(
                status_pieces.keys_with_pieces(self.db.query, run.ref, sql)
                if self._has_status_pieces() else ())
        return running

    def _hold(self, ref, uuid, connection=None):
        # The file claim on run `ref`, if this file's writers make them.
        if not claims.file_claims(self.db.path):
            return
        try:
            held = claims.FileClaim.take(self.db.path, ref)
        except PermissionError:
            return  # its claims file is another user's: by process, then
        except OSError as error:
            raise LogWriteError('{}: cannot claim run {} ({})'.format(
                self.name, uuid, error))
        if held is None:
            query = connection.execute if connection else self.db.query
            rows = list(query(sql.SELECT_WRITER, (ref,)))
            raise claims.in_use(self.name, uuid, rows[0][0] if rows else None)
        self._held[ref] = held

    def _let_go(self, ref):
        # Let go, then forgotten: Ctrl-C between the two leaves a claim
        # let go (and again, harmlessly, at close), never one forgotten
        # while held until the process ends.
        held = self._held.get(ref)
        if held is not None:
            held.let_go()
        self._held.pop(ref, None)

    def is_written(self, run):
        if claims.file_claims(self.db.path):
            held = claims.file_held(self.db.path, run.ref)
            if held is not None:
                return held
        found = self.find_run(run.uuid)
        return bool(found and found.writer and not claims.is_stale(
            found.writer))

    def counted(self, run):
        return run_packing.counted(self._packing.get(run.ref), self._key_name)

    def release_run(self, run, claim, summary=None):
        self._packing.pop(run.ref, None)
        self._pieced.pop(run.ref, None)
        try:
            with self.db.commit_lock(), self.db.transaction() as connection:
                connection.execute(sql.RELEASE_WRITER, (
                    summary_text(summary), run.ref, claim))
        finally:
            self._let_go(run.ref)

    def set_parent(self, run, parent):
        with self.db.commit_lock(), self.db.transaction() as connection:
            connection.execute(sql.SET_PARENT, (parent, run.ref))
        return run._replace(parent=parent)

    def _status_rows(self, connection, ref, status):
        """`status` as rows of :data:`sql.UPSERT_ENTRY`, and the key ids
        made for them, in a write transaction."""
        new_ids = self._new_key_ids(connection, list(status))
        key_ids = dict(self._key_ids, **new_ids)
        return [(ref, sql.STATUS_TIME, key_ids[key], stored)
                for key, stored in status.items()], new_ids

    def data_version(self):
        return self.db.data_version()

    def close(self):
        for ref in list(self._held):
            self._let_go(ref)
        self.db.close()

    def before_fork(self):
        for running in self._packing.values():
            running.forked()
        self.db.before_fork()

    def after_fork(self, child):
        if child:
            self._in_forked_child()
        self.db.after_fork(child)

    def hold_threads(self):
        self.db.hold_threads()

    def forked_half_way(self):
        self.db.forked_half_way()

    def _in_forked_child(self):
        # In a forked child. Its parent goes on with the pieces of status
        # lists: the child writes none, and looks for them where it writes
        # status.
        self.appends_status = False
        self._pieced = dict.fromkeys(self._pieced)
        self._pid = os.getpid()
