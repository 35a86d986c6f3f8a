"""The reads of the SQLite store: rows, times and series of a lineage, from
the head (batches of what each commit wrote, and rows of a value each of
older files) and the chunks (packed numbers).

Reads that look at both tables run in one read transaction, so that they
see each commit, a packing included, whole.

"""
from blocks_log import codec, series
from blocks_log.stores import (batches, clock, merging, sqlite_sql as sql,
                               status_pieces)
from blocks_log.stores.keys import KeyIds
from blocks_log.stores.run_packing import HEAD_SPAN


class SQLiteReads(KeyIds):
    """What :class:`~blocks_log.stores.sqlite.SQLiteStore` reads with; its
    ``db``, ``version``, ``_spans`` and key caches."""
    sql = sql

    def _decode(self, stored):
        if type(stored) is not bytes:
            return stored
        return codec.decode(stored, self.allow_pickle)

    def _has_deletions(self, runs):
        if self.version in (None, 2):
            return False
        refs = [run.ref for run in runs]
        return bool(self.db.query(sql.SELECT_DELETIONS.format(
            runs=sql.ids_list(refs))))

    def _span(self, run):
        return self._spans.get(run.ref) if self.version != 2 else None

    def _head_span(self, run):
        # The times of a block of batches: the run's span, or what a run
        # that is never packed has.
        return self._span(run) or HEAD_SPAN

    @property
    def _checked(self):
        # Chunks of schema version 3 have no checksum.
        return self.version != 3

    def _chunk_columns(self, values=True):
        # The columns of a chunk, as chunks.read takes them; a file of
        # version 3 has no checksums.
        columns = sql.CHUNK_COLUMNS
        if self.version == 3:
            columns = columns.replace('checksum', 'NULL')
        if not values:
            columns = columns.replace('"values"', 'NULL')
        return columns

    def read_status(self, run, key=None):
        # Of one key: a reader's status[key] decodes no other value (a
        # list of 100,000 checkpoints' paths: 170 ms).
        of_key, parameters = ('', (run.ref,)) if key is None else (
            sql.OF_KEY, (run.ref, key))
        with self.db.reading():
            status = dict((name, self._decode(value)) for name, value in
                          self.db.query(sql.SELECT_STATUS + of_key,
                                        parameters))
            if not self._has_status_pieces():
                return status
            pieces = self.db.query(sql.SELECT_STATUS_PIECES.format(of_key),
                                   parameters)
        for name, stored in pieces:
            status[name] = status_pieces.extended(status.get(name),
                                                  self._decode(stored))
        return status

    def _has_status_pieces(self):
        # Version 7 and up; a file opened at an earlier one may have been
        # brought up to it since, by a writer that appends pieces.
        if self.version is None or self.version >= 7:
            return self.version is not None
        return bool(self.db.query(sql.HAS_STATUS_PIECES))

    def _head(self, run, start, stop, key_ids=None):
        # The head of `run` over [start, stop): (time, key id, stored,
        # order), the later winning (see batches.head); a batch that
        # begins before `start` may hold times from it on: those of
        # several times are read from its block's first time (a window of
        # a few arrays read each array of its block before it).
        first = start - start % self._head_span(run)
        rows = self.db.query(sql.SELECT_RECORDS, (run.ref, first, stop,
                                                  start))
        return [entry for entry in batches.head(rows, key_ids, start)
                if start <= entry[0] < stop]

    def _head_marks(self, run, start, stop):
        # {(time, key id): (order, deleted)} of the head of `run` over [start,
        # stop), as _head() reads it, a few rows at a time (see
        # batches.HeadMarks).
        marks = batches.HeadMarks(start, stop)
        first = start - start % self._head_span(run)
        self.db.query_each(sql.SELECT_RECORDS, (run.ref, first, stop, start),
                           marks.add, batches.ROWS_AT_ONCE)
        return marks.found

    def read_keys(self, run):
        if self.version is None:
            return []
        ids = set(key for (_, key), (_, deleted) in self._head_marks(
            run, 0, sql.STATUS_TIME).items() if not deleted)
        if self.version != 2:
            ids.update(key for key, in self.db.query(
                sql.SELECT_KEYS_OF_CHUNKS, (run.ref,)))
        return sorted(self._key_name(key) for key in ids)

    def read_row(self, runs, time, key=None):
        if self.version is None:
            return {}
        key_id = None
        if key is not None:
            key_id = self._read_key_id(key)
            if key_id is None:
                return {}
        wanted = None if key_id is None else set([key_id])
        depth = dict((run.ref, index) for index, run in enumerate(runs))
        spans = dict((run.ref, self._span(run)) for run in runs)
        rows = []
        for found in self.db.query(*self._row_query(runs, time, key_id)):
            ref, row_time, row_key, stored = found[:4]
            if found[4] is not None:  # a chunk
                rows.append((ref, 0, None, None, found[4:]))
            else:
                rows.extend((ref, order, entry_key, value, None)
                            for entry_time, entry_key, value, order in
                            batches.head([(row_time, row_key, stored)],
                                         wanted, time) if entry_time == time)
        return dict((self._key_name(key), self._decode(stored))
                    for key, stored in merging.merged_row(
                        rows, time, depth, spans, self._checked).items())

    def _row_query(self, runs, time, key_id):
        # One statement over both tables: "t in log" is one indexed query,
        # and sees one commit whole. The rows of a value at `time`, the
        # batches that begin there or hold several times of its block
        # before it; a row has NULL for a chunk's columns. Runs go by the
        # spans of their blocks (one in all but odd lineages), not a
        # SELECT each: a lineage of a checkpoint every epoch holds
        # hundreds, past SQLite's 500 SELECTs a statement.
        key_parameters = [] if key_id is None else [key_id]
        heads, packed = {}, {}
        for run in runs:
            heads.setdefault(self._head_span(run), []).append(run.ref)
            if self._span(run):
                packed.setdefault(self._span(run), []).append(run.ref)
        parts, parameters = [], []
        for span, refs in sorted(heads.items()):
            parts.append(
                'SELECT run, time, key, value{} FROM blocks_log_entries '
                'WHERE run IN {} AND time >= ? AND time <= ? AND (time = ? '
                'OR (key < 0 AND (-key - 2) % 2 = 1)){}'.format(
                    ', NULL' * 10, sql.ids_list(refs), '' if key_id is None
                    else ' AND (key < 0 OR key = ?)'))
            parameters += [time - time % span, time, time] + key_parameters
        for span, refs in sorted(packed.items()):
            parts.append(
                'SELECT run, NULL, NULL, NULL, {} FROM blocks_log_chunks '
                'WHERE block = ? AND run IN {} AND first <= ? AND last >= ?'
                '{}'.format(self._chunk_columns(), sql.ids_list(refs),
                            '' if key_id is None else ' AND key = ?'))
            parameters += [time // span, time, time] + key_parameters
        return ' UNION ALL '.join(parts), parameters

    def read_times(self, runs, start, stop):
        if self.version is None:
            return []
        stop = min(stop, sql.STATUS_TIME)
        pieces, loose, marked = [], set(), set()
        with self.db.reading():
            for run in runs:
                for (time, _), (_, deleted) in self._head_marks(
                        run, start, stop).items():
                    (marked if deleted else loose).add(time)
                pieces += merging.times_of(
                    run.ref, self._span(run), self._chunks(
                        run, None, start, stop, values=False), self._checked)
            times = merging.union_of(pieces, loose, start, stop)
            if marked and self._has_deletions(runs):
                times = self._without_deleted(runs, times, marked)
        return times

    def read_first(self, run):
        if self.version is None:
            return None
        with self.db.reading():
            firsts = [self.db.query(sql.SELECT_FIRST_ROW_TIME,
                                    (run.ref,))[0][0]]
            if self.version != 2:
                firsts.append(self.db.query(sql.SELECT_FIRST_CHUNK_TIME,
                                            (run.ref,))[0][0])
        firsts = [first for first in firsts if first is not None]
        return min(firsts) if firsts else None

    def read_end(self, runs, start, stop):
        if self.version is None:
            return None
        stop = min(stop, sql.STATUS_TIME)
        ends = []
        with self.db.reading():
            for run in runs:
                # A batch that begins before `start`, in its block, may
                # hold times from it on; one there may hold later times.
                span = self._head_span(run)
                last, = self.db.query(sql.SELECT_LAST_ROW_TIME, (
                    run.ref, start - start % span, stop))[0]
                if last is not None:
                    ends.append(last - last % span + span - 1)
                span = self._span(run)
                if span and stop > start:
                    ends.extend(last for last, in self.db.query(
                        sql.SELECT_LAST_CHUNK_TIME, (
                            run.ref, start // span, (stop - 1) // span,
                            stop, start)))
        return merging.end_of(ends, stop)

    def _chunks(self, run, key_ids, start, stop, values=True):
        span = self._span(run)
        if not span or stop <= start:
            return []
        keys = '' if key_ids is None else 'AND key IN ' + sql.ids_list(
            key_ids)
        columns = self._chunk_columns(values).split(', ')
        query = sql.SELECT_CHUNKS.format(
            keys=keys, values=columns[8], checksum=columns[9])
        return self.db.query(query, [run.ref, start // span,
                                     (stop - 1) // span])

    def read_series(self, runs, keys, start, stop):
        if self.version is None:
            return {}
        stop = min(stop, sql.STATUS_TIME)
        key_ids = self._read_key_ids(keys)
        if key_ids == []:  # none of `keys` was ever written
            return {}
        columns = {}
        # Farthest first, so that nearer runs overwrite.
        with self.db.reading():
            for run in reversed(runs):
                for name, column in self._run_series(
                        run, key_ids, start, stop).items():
                    columns[name] = series.merge(
                        columns.get(name, series.empty()), column)
        return columns

    def read_clock(self, runs, start, stop):
        if self.version is None or self.version < 6:
            return series.empty()  # no clock before version 6
        stop = min(stop, sql.STATUS_TIME)
        clocks = []
        with self.db.reading():
            for run in runs:
                span = self._span(run)
                packed = [] if not span or stop <= start else self.db.query(
                    sql.SELECT_CLOCKS, (run.ref, start // span,
                                        (stop - 1) // span))
                first = start - start % self._head_span(run)
                clocks.append(clock.run_clock(
                    run.ref, span, packed, self.db.query(
                        sql.SELECT_RECORDS, (run.ref, first, stop, start)),
                    start, stop))
        return clock.lineage_clock(clocks)

    def _run_series(self, run, key_ids, start, stop):
        decode = self._decode
        head = [(time, key, decode(stored)) for time, key, stored, _ in
                self._head(run, start, stop, None if key_ids is None else
                           set(key_ids))]
        return dict((self._key_name(key), column) for key, column in
                    merging.run_series(run.ref, self._span(run), self._chunks(
                        run, key_ids, start, stop), head, start, stop,
                        self._checked).items())
