"""The reads of the PostgreSQL store: rows, times and series of a lineage,
from the head (batches of what each commit wrote, and rows of a value each
of older databases) and the chunks, in binary, with the runs of a lineage
as an array.

Every read runs in one REPEATABLE READ transaction, so that its statements
see one state of the database: a packing commit (chunks written, their
rows deleted) whole, never half (under READ COMMITTED, a read of chunks and
then rows missed the blocks packed in between).

"""
from blocks_log import codec, series
from blocks_log.stores import (batches, chunks, clock, merging,
                               postgresql_sql as sql, status_pieces)
from blocks_log.stores.keys import KeyIds
from blocks_log.stores.run_packing import HEAD_SPAN


class PostgreSQLReads(KeyIds):
    """What :class:`~blocks_log.stores.postgresql.PostgreSQLStore` reads
    with: its ``db``, ``version``, ``_spans`` and key caches."""
    sql = sql

    def _decode(self, f, i, t, b):
        stored = sql.stored_of(f, i, t, b)
        if type(stored) is not bytes:
            return stored
        return codec.decode(stored, self.allow_pickle)

    def _read(self, work):
        # A read-only transaction that sees one state of the database,
        # again after a reconnection.
        def transaction(connection):
            with connection.transaction():
                with connection.cursor(binary=True) as cursor:
                    cursor.execute(sql.BEGIN_READ)
                    return work(cursor)
        return self.db.run(transaction)

    def _chunk_columns(self, values=True):
        return sql.CHUNK_COLUMNS.format(
            values='"values"' if values else 'NULL::bytea',
            checksum='checksum' if self.version != 3 else 'NULL::bigint')

    def read_status(self, run, key=None):
        # Of one key: a reader's status[key] decodes no other value.
        if self.version is not None and self.version >= 7:
            rows = self.db.query(*(
                (sql.SELECT_STATUS_AND_PIECES, (run.ref, run.ref))
                if key is None else (sql.SELECT_STATUS_AND_PIECES_OF_KEY,
                                     (run.ref, key, run.ref, key))),
                binary=True)
        else:
            rows = [row for row in self._read(
                lambda cursor: self._old_status_rows(cursor, run))
                if key is None or row[0] == key]
        status = {}
        for name, piece, *columns in rows:
            value = self._decode(*columns)
            status[name] = status_pieces.extended(
                status.get(name), value) if piece else value
        return status

    def _old_status_rows(self, cursor, run):
        # The rows of the status of a database opened at a version before
        # 7, with its pieces if a writer has made their table since. The
        # table is looked for first, which takes the snapshot of the
        # transaction: one made after it holds no piece in it.
        cursor.execute(sql.HAS_STATUS_PIECES)
        if cursor.fetchone()[0]:
            cursor.execute(sql.SELECT_STATUS_AND_PIECES, (run.ref, run.ref))
        else:
            cursor.execute(sql.SELECT_STATUS, (run.ref,))
        return cursor.fetchall()

    def _has_status_pieces(self):
        # Version 7 and up; a database opened at an earlier one may have
        # been brought up to it since, by a writer that appends pieces.
        if self.version is None or self.version >= 7:
            return self.version is not None
        return self.db.query(sql.HAS_STATUS_PIECES)[0][0]

    def _head_span(self, run):
        # The times of a block of batches: the run's span, or what a run
        # that is never packed has.
        return self._spans.get(run.ref) or HEAD_SPAN

    def _head(self, cursor, run, start, stop, key_ids=None):
        # The head of `run` over [start, stop): (time, key id, stored,
        # order), the later winning (see batches.head); a batch that
        # begins before `start` may hold times from it on: those of
        # several times are read from its block's first time.
        first = start - start % self._head_span(run)
        cursor.execute(sql.SELECT_RECORDS, (run.ref, first, stop, start))
        rows = [(time, key, sql.stored_of(f, i, t, b))
                for time, key, f, i, t, b in cursor.fetchall()]
        return [entry for entry in batches.head(rows, key_ids, start)
                if start <= entry[0] < stop]

    def _head_marks(self, cursor, run, start, stop):
        # {(time, key id): (order, deleted)} of the head of `run` over [start,
        # stop), as _head() reads it (see batches.HeadMarks), a few rows made
        # into Python and let go at a time (the driver holds them all, as
        # the server sent them, until the next statement).
        marks = batches.HeadMarks(start, stop)
        first = start - start % self._head_span(run)
        cursor.execute(sql.SELECT_RECORDS, (run.ref, first, stop, start))
        for rows in iter(lambda: cursor.fetchmany(batches.ROWS_AT_ONCE), []):
            marks.add([(time, key, sql.stored_of(f, i, t, b))
                       for time, key, f, i, t, b in rows])
        return marks.found

    def read_keys(self, run):
        if self.version is None:
            return []

        def work(cursor):
            ids = set(key for (_, key), (_, deleted) in self._head_marks(
                cursor, run, 0, sql.STATUS_TIME).items() if not deleted)
            cursor.execute(sql.SELECT_KEYS_OF_CHUNKS, (run.ref,))
            ids.update(key for key, in cursor.fetchall())
            return ids
        return sorted(self._key_name(key) for key in self._read(work))

    def read_row(self, runs, time, key=None):
        if self.version is None:
            return {}
        key_id = None
        if key is not None:
            key_id = self._read_key_id(key)
            if key_id is None:
                return {}
        wanted = None if key_id is None else set([key_id])
        refs = [run.ref for run in runs]
        spans = dict((ref, self._spans.get(ref) or chunks.SPAN)
                     for ref in refs)
        query = sql.SELECT_ROW.format(
            key='' if key_id is None else ' AND (key < 0 OR key = %s)',
            chunk_key='' if key_id is None else ' AND key = %s',
            columns=self._chunk_columns())
        key_parameter = [] if key_id is None else [key_id]
        # Runs by the span of their blocks of batches and of chunks (one
        # in all but odd lineages).
        groups = {}
        for run in runs:
            groups.setdefault((self._head_span(run), spans[run.ref]),
                              []).append(run.ref)

        def work(cursor):
            rows = []
            for (head_span, span), group in groups.items():
                cursor.execute(query, [group, time - time % head_span, time,
                                       time] + key_parameter + [
                    time // span, group, time, time] + key_parameter)
                rows.extend(cursor.fetchall())
            return rows
        # (run, order, key, stored, chunk), as merging.merged_row takes
        # them: a chunk of order 0, below the head's.
        merged_rows = []
        for row in self._read(work):
            if row[7] is not None:  # a chunk
                merged_rows.append((row[0], 0, None, None, row[7:]))
                continue
            merged_rows.extend(
                (row[0], order, entry_key, value, None)
                for entry_time, entry_key, value, order in batches.head(
                    [(row[1], row[2], sql.stored_of(*row[3:7]))], wanted,
                    time) if entry_time == time)
        depth = dict((ref, index) for index, ref in enumerate(refs))
        return dict((self._key_name(name), _decode(stored, self.allow_pickle))
                    for name, stored in merging.merged_row(
                        merged_rows, time, depth, spans,
                        self.version != 3).items())

    def read_times(self, runs, start, stop):
        if self.version is None:
            return []
        stop = min(stop, sql.STATUS_TIME)

        def work(cursor):
            pieces, loose, marked = [], set(), set()
            for run in runs:
                for (time, _), (_, deleted) in self._head_marks(
                        cursor, run, start, stop).items():
                    (marked if deleted else loose).add(time)
                pieces += merging.times_of(
                    run.ref, self._spans.get(run.ref), self._chunks(
                        cursor, run, None, start, stop, values=False),
                    self.version != 3)
            times = merging.union_of(pieces, loose, start, stop)
            deletions = False
            if marked:
                cursor.execute(sql.SELECT_DELETIONS,
                               ([run.ref for run in runs],))
                deletions = bool(cursor.fetchall())
            return times, marked if deletions else set()
        times, marked = self._read(work)
        return self._without_deleted(runs, times, marked) if marked else times

    def read_first(self, run):
        if self.version is None:
            return None
        return self.db.query(sql.SELECT_FIRST_TIME, (run.ref, run.ref))[0][0]

    def read_end(self, runs, start, stop):
        if self.version is None:
            return None
        stop = min(stop, sql.STATUS_TIME)

        def work(cursor):
            ends = []
            for run in runs:
                # A batch that begins before `start`, in its block, may
                # hold times from it on; one there may hold later times.
                span = self._head_span(run)
                cursor.execute(sql.SELECT_LAST_ROW_TIME,
                               (run.ref, start - start % span, stop))
                for last, in cursor.fetchall():
                    if last is not None:
                        ends.append(last - last % span + span - 1)
                span = self._spans.get(run.ref)
                if span and stop > start:
                    cursor.execute(sql.SELECT_LAST_CHUNK_TIME, (
                        run.ref, start // span, (stop - 1) // span, stop,
                        start))
                    ends.extend(last for last, in cursor.fetchall())
            return ends
        return merging.end_of(self._read(work), stop)

    def _chunks(self, cursor, run, key_ids, start, stop, values=True):
        span = self._spans.get(run.ref)
        if not span or stop <= start:
            return []
        keys = '' if key_ids is None else ' AND key = ANY(%s)'
        cursor.execute(sql.SELECT_CHUNKS.format(
            keys=keys, columns=self._chunk_columns(values)),
            [run.ref, start // span, (stop - 1) // span] + (
                [] if key_ids is None else [key_ids]))
        return cursor.fetchall()

    def read_clock(self, runs, start, stop):
        if self.version is None or self.version < 6:
            return series.empty()  # no clock before version 6
        stop = min(stop, sql.STATUS_TIME)

        def work(cursor):
            found = []
            for run in runs:
                span = self._spans.get(run.ref)
                packed = []
                if span and stop > start:
                    cursor.execute(sql.SELECT_CLOCKS, (
                        run.ref, start // span, (stop - 1) // span))
                    packed = cursor.fetchall()
                cursor.execute(sql.SELECT_RECORDS, (
                    run.ref, start - start % self._head_span(run), stop,
                    start))
                head = [(time, key, b if b is None else bytes(b))
                        for time, key, _, _, _, b in cursor.fetchall()
                        if key < 0]
                found.append((run, span, packed, head))
            return found
        return clock.lineage_clock([
            clock.run_clock(run.ref, span, packed, head, start, stop)
            for run, span, packed, head in self._read(work)])

    def read_series(self, runs, keys, start, stop):
        if self.version is None:
            return {}
        stop = min(stop, sql.STATUS_TIME)
        key_ids = self._read_key_ids(keys)
        if key_ids == []:  # none of `keys` was ever written
            return {}

        wanted = None if key_ids is None else set(key_ids)

        def work(cursor):
            found = []
            for run in reversed(runs):  # farthest first: nearer overwrite
                pieces = self._chunks(cursor, run, key_ids, start, stop)
                found.append((run, pieces, self._head(cursor, run, start,
                                                      stop, wanted)))
            return found
        columns = {}
        for run, pieces, entries in self._read(work):
            head = [(time, key, _decode(stored, self.allow_pickle))
                    for time, key, stored, _ in entries]
            for key, column in merging.run_series(
                    run.ref, self._spans.get(run.ref), pieces, head, start,
                    stop, self.version != 3).items():
                name = self._key_name(key)
                columns[name] = series.merge(
                    columns.get(name, series.empty()), column)
        return columns


def _decode(stored, allow_pickle):
    return stored if type(stored) is not bytes else codec.decode(
        stored, allow_pickle)
