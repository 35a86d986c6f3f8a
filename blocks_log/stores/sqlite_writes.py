"""The writes of the SQLite store: a commit's batches and status, in one
statement in autocommit as a rule, or in a transaction that packs the
blocks the run's writes moved past (see :mod:`.packing`); the clock;
compacting a run.

"""
from blocks_log.stores import clock, packing, sqlite_sql as sql, status_pieces
from blocks_log.stores.sqlite_checkpointer import LARGE_COMMIT_BYTES

# The statement of a training loop's commit (see write_iteration).
_TWO_ROWS = sql.upsert_statement(2)
_STATUS_TIME = sql.STATUS_TIME


class SQLiteWrites(packing.PackingWrites):
    """What :class:`~blocks_log.stores.sqlite.SQLiteStore` writes with, over
    its ``db``, ``_packing``, ``_pieced``, ``_running()``,
    ``_in_forked_child()``, ``appends_status`` and key ids."""

    def _running_to_write(self, run):
        return self._packing.get(run.ref) or self._running(run)

    def _write_in_one_statement(self, run, running, items, status, stamp):
        # A commit that packs nothing, changes no status list and deletes
        # nothing, in one statement, as a rule; False if it takes a
        # transaction (see _statement), or if a batch of the same part and
        # time is there, a forked process's, and kept: the commit then goes
        # again in a transaction, in parts above every one.
        written = None
        if items and len(status) == 1 and (
                items[0] == items[-3]):  # an iteration's
            (key, stored), = status.items()
            written = self.write_iteration(run, items, key, stored, stamp)
            if written:
                return True
        statement = None if written is False else self._statement(
            run.ref, running, items, status, stamp)
        if statement is None:
            return False
        parameters, found = statement
        if not parameters:
            return True
        count = len(parameters) // 4
        if self.db.write(sql.upsert_statement(count), parameters, sum(
                len(value) for value in parameters[3::4]
                if type(value) is bytes) >= LARGE_COMMIT_BYTES) != count:
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
        saved, new_ids = None, {}  # what to forget if it rolls back
        try:
            with self.db.commit_lock(), self.db.transaction() as connection:
                # A key never written before gets its id in this same
                # transaction, and is forgotten if it rolls back.
                new_ids = self._new_ids_of_commit(connection, items,
                                                  status)
                ids = self._cache_new_ids(new_ids)
                rows, found, saved, packed = packing.pack_in_commit(
                    connection, ref, running, sql, items, due,
                    lambda: self._rows(ref, running, items, status, ids,
                                       not new_ids, stamp))
                rows = _unpacked(rows, packed)
                written = sum(connection.execute(statement, parameters)
                              .rowcount for statement, parameters in
                              sql.upsert_entries(rows))
                if written != len(rows):
                    # A batch of the same part and time is there, a forked
                    # process's (parent and child count parts alike), and
                    # kept: this commit's go again, in parts above every
                    # one.
                    lowest, = connection.execute(sql.SELECT_LOWEST_KEY,
                                                 (ref,)).fetchone()
                    running.above(lowest)
                    rows, found = self._rows(ref, running, items, status,
                                             ids, not new_ids, stamp)
                    for statement, parameters in sql.upsert_entries(
                            _unpacked(rows, packed)):
                        connection.execute(statement, parameters)
                if deleted_status:
                    connection.executemany(sql.DELETE_STATUS, [
                        (ref, ids[key]) for key in deleted_status
                        if key in ids])
                if deletions:
                    connection.execute(sql.MARK_DELETIONS, (ref,))
                now_pieced = status_pieces.write(
                    connection, ref, ids, pieced, status, deleted_status,
                    pieces, self.appends_status, sql)
        except BaseException:
            self._forget_ids(new_ids)
            if saved is not None:
                running.undo(saved)
            raise
        if pieced is not None:
            self._pieced[ref] = now_pieced
        running.commit_landed(found, saved is not None, due)

    def write_iteration(self, run, items, key, stored, stamp):
        # One statement of two rows (the iteration's batch and the status
        # value) made in fewer steps than write() and _statement() take
        # (4,800 instructions fewer an iteration of the training-loop
        # workload, 3%, callgrind). None if the commit is not that (or
        # holds a key never written before, or packing is due); False if a
        # forked process's batch was in the way (see write()).
        ref = run.ref
        running = self._packing.get(ref)
        key_id = self._key_ids.get(key)
        if running is None or key_id is None or running.due():
            return None
        times, keys, values = items[0::3], tuple(items[1::3]), items[2::3]
        try:
            made = running.iteration(times, keys, values, self._key_ids,
                                     True, stamp)
        except KeyError:
            return None
        if made is None:
            return None
        time, column, blob, part = made
        if self.db.write(_TWO_ROWS, (ref, time, column, blob, ref,
                                     _STATUS_TIME, key_id, stored),
                         not part[5] and len(blob) >= LARGE_COMMIT_BYTES
                         ) != 2:
            return False
        running.remember(time, part)
        return True

    def _statement(self, ref, running, items, status, stamp):
        # The parameters of the one UPSERT_ENTRY statement of a commit,
        # and what the packing remembers of it; None if it takes a
        # transaction (a key never written before, too many rows).
        key_ids = self._key_ids
        try:
            head, found = running.batches(
                items, key_ids, True, stamp) if items else ([], [])
        except KeyError:
            return None
        if len(head) + len(status) > sql.UPSERT_CHUNK:
            return None
        parameters = []
        for time, key, blob in head:
            parameters += ref, time, key, blob
        status_time = sql.STATUS_TIME
        for key, stored in status.items():
            key_id = key_ids.get(key)
            if key_id is None:
                return None
            parameters += ref, status_time, key_id, stored
        return parameters, found

    @staticmethod
    def _rows(ref, running, items, status, key_ids, committed_ids, stamp):
        # The rows of UPSERT_ENTRY of a commit (its batches, then the
        # status), and what the packing remembers of them (see
        # RunPacking.batches).
        head, found = running.batches(
            items, key_ids, committed_ids, stamp) if items else ([], [])
        status_time = sql.STATUS_TIME
        return [(ref, time, key, blob) for time, key, blob in head] + [
            (ref, status_time, key_ids[key], stored)
            for key, stored in status.items()], found

    def write_clock(self, run, times, walls):
        span = self._running(run).span
        if not span or not len(times):
            return
        with self.db.commit_lock(), self.db.transaction() as connection:
            connection.executemany(sql.INSERT_CLOCK, clock.chunk_rows(
                run.ref, span, times, walls))

    def compact(self, run):
        running = self._running(run)
        while running.due():
            before = running.packed
            with self.db.commit_lock(), self.db.transaction() as connection:
                packing.pack(connection, run.ref, running, sql)
            running.landed()
            if running.packed == before:
                break


def _unpacked(rows, packed):
    # The rows of UPSERT_ENTRY (run, time, key id, stored) outside the
    # range of times `packed` (packed with the commit's own values).
    return [row for row in rows if row[1] not in packed] if packed else rows
