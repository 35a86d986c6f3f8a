"""The reads of the PostgreSQL store: rows, times and series of a lineage,
from rows and chunks, in binary, with the runs of a lineage as an array.

Every read runs in one REPEATABLE READ transaction, so that its statements
see one state of the database: a packing commit (chunks written, their
rows deleted) whole, never half (under READ COMMITTED, a read of chunks and
then rows missed the blocks packed in between).

"""
from blocks_log import codec, series
from blocks_log.stores import chunks, postgresql_sql as sql
from blocks_log.stores.keys import KeyIds

_DELETED = codec.DELETED
# Its stored form, as SQL compares it.
_DELETED_STORED = codec.DELETED_STORED


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

    def read_status(self, run):
        return dict((key, self._decode(*columns)) for key, *columns in
                    self.db.query(sql.SELECT_STATUS, (run.ref,),
                                  binary=True))

    def read_keys(self, run):
        if self.version is None:
            return []
        return [name for name, in self.db.query(
            sql.SELECT_KEYS_OF_RUN, (run.ref, _DELETED_STORED, run.ref))]

    def read_row(self, runs, time, key=None):
        if self.version is None:
            return {}
        key_id = None
        if key is not None:
            key_id = self._key_id(key)
            if key_id is None:
                return {}
        refs = [run.ref for run in runs]
        spans = dict((ref, self._spans.get(ref) or chunks.SPAN)
                     for ref in refs)
        key_filter = '' if key_id is None else ' AND key = %s'
        key_parameter = [] if key_id is None else [key_id]
        query = sql.SELECT_ROW.format(key=key_filter,
                                      columns=self._chunk_columns())

        def work(cursor):
            rows = []
            for span in set(spans.values()):  # one in all but odd lineages
                cursor.execute(query, [time, refs] + key_parameter + [
                    time // span, refs, time, time] + key_parameter)
                rows.extend(cursor.fetchall())
            return rows
        # (run, order, key, stored, chunk), as chunks.merged_row takes
        # them: a chunk of order 0, below a row of the head.
        merged_rows = [
            (row[0], 0, None, None, row[6:]) if row[6] is not None else
            (row[0], 1, row[1], sql.stored_of(*row[2:6]), None)
            for row in self._read(work)]
        depth = dict((ref, index) for index, ref in enumerate(refs))
        return dict((self._key_name(name), _decode(stored, self.allow_pickle))
                    for name, stored in chunks.merged_row(
                        merged_rows, time, depth, spans,
                        self.version != 3).items())

    def read_times(self, runs, start, stop):
        if self.version is None:
            return []
        stop = min(stop, sql.STATUS_TIME)

        def work(cursor):
            times = set()
            for run in runs:
                cursor.execute(sql.SELECT_TIMES,
                               (run.ref, start, stop, _DELETED_STORED))
                times.update(time for time, in cursor.fetchall())
                # The keys of a block mostly share their times: each set of
                # times is unpacked once (a chunk's checked, each).
                unpacked = {}
                for row in self._chunks(cursor, run, None, start, stop,
                                        values=False):
                    times.update(chunks.read_times(
                        run.ref, self._spans.get(run.ref), row, unpacked,
                        self.version != 3))
            deleted = set()
            cursor.execute(sql.SELECT_DELETIONS, ([run.ref for run in runs],))
            if cursor.fetchall():
                for run in runs:
                    cursor.execute(sql.SELECT_DELETED_TIMES,
                                   (run.ref, start, stop, _DELETED_STORED))
                    deleted.update(time for time, in cursor.fetchall())
            return times, deleted
        times, deleted = self._read(work)
        for time in deleted:
            # A time whose every value is deleted, here or in a nearer run,
            # holds nothing.
            if not any(value is not _DELETED for value in
                       self.read_row(runs, time).values()):
                times.discard(time)
        return sorted(time for time in times if start <= time < stop)

    def read_end(self, runs, start, stop):
        if self.version is None:
            return None
        stop = min(stop, sql.STATUS_TIME)

        def work(cursor):
            ends = []
            for run in runs:
                cursor.execute(sql.SELECT_LAST_ROW_TIME,
                               (run.ref, start, stop))
                ends.extend(last for last, in cursor.fetchall())
                span = self._spans.get(run.ref)
                if span and stop > start:
                    cursor.execute(sql.SELECT_LAST_CHUNK_TIME, (
                        run.ref, start // span, (stop - 1) // span, stop,
                        start))
                    ends.extend(last for last, in cursor.fetchall())
            return ends
        return chunks.end_of(self._read(work), stop)

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

    def read_series(self, runs, keys, start, stop):
        if self.version is None:
            return {}
        stop = min(stop, sql.STATUS_TIME)
        key_ids = None
        if keys is not None:
            key_ids = [key_id for key_id in map(self._key_id, keys)
                       if key_id is not None]
            if not key_ids:
                return {}

        def work(cursor):
            found = []
            for run in reversed(runs):  # farthest first: nearer overwrite
                pieces = self._chunks(cursor, run, key_ids, start, stop)
                cursor.execute(sql.SELECT_RECORDS.format(
                    keys='' if key_ids is None else ' AND key = ANY(%s)'),
                    [run.ref, start, stop] + (
                        [] if key_ids is None else [key_ids]))
                found.append((run, pieces, cursor.fetchall()))
            return found
        columns = {}
        for run, pieces, rows in self._read(work):
            head = [(time, key, self._decode(f, i, t, b))
                    for time, key, f, i, t, b in rows]
            for key, column in chunks.run_series(
                    run.ref, self._spans.get(run.ref), pieces, head, start,
                    stop, self.version != 3).items():
                name = self._key_name(key)
                columns[name] = series.merge(
                    columns.get(name, series.empty()), column)
        return columns


def _decode(stored, allow_pickle):
    return stored if type(stored) is not bytes else codec.decode(
        stored, allow_pickle)
