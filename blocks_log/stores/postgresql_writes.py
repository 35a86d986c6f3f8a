"""The writes of the PostgreSQL store: a commit's batches and status, in
one statement in autocommit as a rule (one round trip), or in a transaction
that packs the blocks the run's writes moved past (see :mod:`.packing`),
run again on a new connection if the server was lost; the clock;
compacting a run.

"""
from blocks_log.stores import (clock, packing, postgresql_sql as sql,
                               status_pieces)


class PostgreSQLWrites(packing.PackingWrites):
    """What :class:`~blocks_log.stores.postgresql.PostgreSQLStore` writes
    with, over its ``db``, ``_transact()``, ``_check_held()``,
    ``_running()``, ``_pieced``, ``_in_forked_child()``, ``appends_status``
    and key ids."""

    def _running_to_write(self, run):
        self._check_held(run)
        return self._running(run)

    def _write_in_one_statement(self, run, running, items, status, stamp):
        # A commit that packs nothing, changes no status list and deletes
        # nothing, in one statement; False if it takes a transaction (a key
        # with no id yet, values too large for one statement), or if a
        # batch of the same part and time is there, a forked process's,
        # and kept: the commit then goes again in a transaction, in parts
        # above every one.
        try:
            values, found = self._values(running, items, status,
                                         self._key_ids, True, stamp)
        except KeyError:  # a key with no id yet
            return False
        if not values:
            return True
        if len(values) <= sql.FEW_LARGE_ROWS:  # an iteration's, as a rule
            statement = sql.upsert(run.ref, values)  # as upserts() would
        else:
            statements = sql.upserts(run.ref, values)
            if len(statements) > 1:
                return False
            statement, = statements

        def commit(connection):
            self._check_held(run)
            return connection.execute(*statement).rowcount
        if self.db.run(commit, writing=True) != len(values):
            return False
        running.committed(found)
        return True

    def _write_in_transaction(self, run, running, items, status,
                              deleted_status, deletions, stamp, pieces, due):
        # Any commit: new keys' ids, the blocks `due` packed, the status
        # lists' pieces, deletions.
        ref = run.ref
        pieced = self._pieced[ref]
        for key in deleted_status:
            self._key_id(key)  # its id, if another handle made it

        # What to forget of an attempt that packed this commit's blocks
        # with it, and the key ids it made, if it did not land (it may be
        # run again, reconnected).
        attempts, made = [], {}

        def work(connection):
            if attempts:
                running.undo(attempts.pop())
            self._forget_ids(made)
            made.clear()
            self._check_held(run)
            # A key never written before gets its id in this same
            # transaction, and is forgotten if it rolls back.
            made.update(self._new_ids_of_commit(connection, items, status))
            key_ids = self._cache_new_ids(made)
            values, found, saved, packed = packing.pack_in_commit(
                connection, ref, running, sql, items, due,
                lambda: self._values(running, items, status, key_ids,
                                     not made, stamp))
            if saved is not None:
                attempts.append(saved)
                values = _unpacked(values, packed)
            if values and sql.write_upserts(
                    connection, ref, values) != len(values):
                # A batch of the same part and time is there, a forked
                # process's (parent and child count parts alike), and
                # kept: this commit's go again, in parts above every one.
                lowest, = connection.execute(sql.SELECT_LOWEST_KEY,
                                             (ref,)).fetchone()
                running.above(lowest)
                values, found = self._values(running, items, status,
                                             key_ids, not made, stamp)
                sql.write_upserts(connection, ref,
                                  _unpacked(values, packed))
            if deleted_status:
                connection.cursor().executemany(sql.DELETE_STATUS, [
                    (ref, key_ids[key]) for key in deleted_status
                    if key in key_ids])
            if deletions:
                connection.execute(sql.MARK_DELETIONS, (ref,))
            now_pieced = status_pieces.write(
                connection, ref, key_ids, pieced, status, deleted_status,
                pieces, self.appends_status, sql)
            return found, now_pieced
        try:
            found, now_pieced = self._transact(work)
        except BaseException:
            self._forget_ids(made)
            if attempts:
                running.undo(attempts.pop())
            raise
        if pieced is not None:
            self._pieced[ref] = now_pieced
        running.commit_landed(found, bool(attempts), due)

    @staticmethod
    def _values(running, items, status, key_ids, committed_ids, stamp):
        # ``{(time, key id): stored}`` of a commit (its batches, then the
        # status), for UPSERT_ENTRIES, and what the packing remembers of
        # them (see RunPacking.batches).
        head, found = running.batches(
            items, key_ids, committed_ids, stamp) if items else ([], [])
        values = dict(((time, key), blob) for time, key, blob in head)
        status_time = sql.STATUS_TIME
        values.update(((status_time, key_ids[key]), stored)
                      for key, stored in status.items())
        return values, found

    def write_clock(self, run, times, walls):
        span = self._running(run).span
        if not span or not len(times):
            return
        rows = clock.chunk_rows(run.ref, span, times, walls)
        self._transact(lambda connection: connection.cursor().executemany(
            sql.INSERT_CLOCK, rows))

    def compact(self, run):
        running = self._running(run)
        while running.due():
            before = running.packed
            self._transact(lambda connection: packing.pack(
                connection, run.ref, running, sql))
            running.landed()
            if running.packed == before:
                break


def _unpacked(values, packed):
    # The rows of `values` ({(time, key id): stored}) outside the range of
    # times `packed`.
    return dict(item for item in values.items() if item[0][0] not in packed)
