"""Blocks' own tables in an SQLite file, read-only.

Blocks' ``SQLiteLog`` kept ``entries(uuid, time, key, value)`` and
``status(uuid, key, value)``, a run named by its hex uuid, numbers stored
natively and every other value pickled. This store reads them and never
writes: a run of Blocks is continued by resuming it into blocks_log's own
tables (:mod:`blocks_log.stores.sqlite`), whose reads fall through to it.

"""
import io
import pickle

from blocks_log import placeholders
from blocks_log.pickles import RestrictedUnpickler
from blocks_log.stores.base import RunInfo, Store

SELECT_RUN = "SELECT 1 FROM status WHERE uuid = ? LIMIT 1"
SELECT_PARENT = ("SELECT value FROM status "
                 "WHERE uuid = ? AND key = 'resumed_from'")
# In the order Blocks wrote them.
SELECT_RUNS = "SELECT uuid FROM status GROUP BY uuid ORDER BY min(rowid)"
SELECT_STATUS = "SELECT key, value FROM status WHERE uuid = ?"
SELECT_ROW = ("SELECT uuid, key, value FROM entries "
              "WHERE time = ? AND uuid IN {runs}")
SELECT_TIMES = ("SELECT DISTINCT time FROM entries "
                "WHERE uuid = ? AND time >= ? AND time < ?")
SELECT_RECORDS = ("SELECT time, key, value FROM entries "
                  "WHERE uuid = ? AND time >= ? AND time < ?")


def _in_list(count):
    return '(' + ', '.join('?' * count) + ')'


def decode(stored, allow_pickle=False):
    """A value as Blocks stored it.

    Blocks pickled every value SQLite has no type for, and stored ``bytes``
    as they are: a BLOB that is no pickle is raw bytes. A pickle that names
    anything but containers and numpy arrays reads as an
    :class:`~blocks_log.placeholders.Undecodable` saying so, unless
    `allow_pickle`.

    """
    if not isinstance(stored, bytes):
        return stored
    stream = io.BytesIO(stored)
    try:
        if allow_pickle:
            value = pickle.Unpickler(stream).load()
        else:
            value = RestrictedUnpickler(stream, placeholders=False).load()
    except pickle.UnpicklingError as error:
        if 'refusing' in str(error):
            return placeholders.Undecodable(stored, str(error))
        return stored
    except Exception:  # not a pickle: what a forged BLOB makes it raise
        return stored
    return value if stream.tell() == len(stored) else stored


class BlocksStore(Store):
    """The runs Blocks wrote into an SQLite file.

    Parameters
    ----------
    db : blocks_log.stores.sqlite_connection.SQLiteConnection
        The file's connection, shared with blocks_log's own store.
    allow_pickle : bool, optional
        Unpickle every value, running what the pickles name.

    """
    def __init__(self, db, allow_pickle=False):
        self.db = db
        self.name = db.path
        self.allow_pickle = allow_pickle

    def _info(self, uuid):
        rows = self.db.query(SELECT_PARENT, (uuid,))
        parent = rows[0][0] if rows else None
        return RunInfo(uuid, uuid, parent if isinstance(parent, str) else
                       None, None, None)

    def find_run(self, uuid):
        if not self.db.query(SELECT_RUN, (uuid,)):
            return None
        return self._info(uuid)

    def runs(self):
        return [self._info(uuid) for uuid, in self.db.query(SELECT_RUNS)]

    def _decode(self, stored):
        return decode(stored, self.allow_pickle)

    def read_status(self, run, key=None):
        return dict((name, self._decode(value)) for name, value in
                    self.db.query(SELECT_STATUS, (run.ref,))
                    if key is None or name == key)

    def read_row(self, runs, time, key=None):
        refs = [run.ref for run in runs]
        rows = self.db.query(SELECT_ROW.format(runs=_in_list(len(refs))),
                             [time] + refs)
        depth = dict((ref, index) for index, ref in enumerate(refs))
        rows.sort(key=lambda row: -depth[row[0]])
        return dict((name, self._decode(stored)) for _, name, stored in rows
                    if key is None or name == key)

    def read_keys(self, run):
        return [key for key, in self.db.query(
            "SELECT DISTINCT key FROM entries WHERE uuid = ? ORDER BY key",
            (run.ref,))]

    def read_times(self, runs, start, stop):
        times = set()
        for run in runs:
            times.update(time for time, in self.db.query(
                SELECT_TIMES, (run.ref, start, stop)))
        return sorted(times)

    def read_series(self, runs, keys, start, stop):
        wanted = None if keys is None else set(keys)
        columns = {}
        for run in reversed(runs):  # nearer runs overwrite
            for time, key, stored in self.db.query(
                    SELECT_RECORDS, (run.ref, start, stop)):
                if wanted is None or key in wanted:
                    columns.setdefault(key, {})[time] = self._decode(stored)
        return dict((key, (sorted(column), [column[time] for time in
                                            sorted(column)]))
                    for key, column in columns.items())
