"""The row and status views of a database log.

A row is a live view of one time: reads go through the lineage and the
buffer, writes go to the buffer. The status view reads and writes the
session's status. Both hold the session, never the log itself (a row
made by ``log[t]`` also holds its log, for ``row.log``).

"""
try:
    from collections.abc import Mapping, MutableMapping
except ImportError:  # pragma: no cover (Python 2)
    from collections import Mapping, MutableMapping

from blocks_log import codec
from blocks_log.database.status import IMMUTABLE

_encode = codec.encode
_SIZED = codec.SIZED
_MISSING = object()


class DictMethods(object):
    """What a dict does besides a mutable mapping's methods: a mixin of
    the row and the status, which are dicts in a log in memory, so that
    code written for one runs on the other."""
    __slots__ = ()

    def copy(self):
        """The values as a new dict (the lists, dicts and arrays they
        hold shared, as :meth:`dict.copy` shares them)."""
        return dict(self)

    def __or__(self, other):
        if not isinstance(other, Mapping):
            return NotImplemented
        return _union(self, other)

    def __ror__(self, other):
        if not isinstance(other, Mapping):
            return NotImplemented
        return _union(other, self)

    def __ior__(self, other):
        """``mapping |= values``: ``update``, which raises what it
        raises."""
        self.update(other)
        return self

    def __reversed__(self):
        return reversed(list(self))


def _union(first, second):
    # first | second, of dicts: a new dict, second's values winning.
    values = dict(first)
    values.update(second)
    return values


class DatabaseRow(DictMethods, MutableMapping):
    """The row of one time: a live view of the log's values at that time.

    Reads go through the run's lineage and see buffered writes; writes are
    buffered (see :class:`~blocks_log.database.DatabaseLog`). A list, dict
    or array read from a row is the row's, as in a log in memory: changed
    in place, it is stored by the next commit (see
    :mod:`~blocks_log.database.lent`); a value written is stored as it is
    then. Blocks called this class ``SQLiteEntry``.

    Attributes
    ----------
    log : DatabaseLog
    time : int

    Raises
    ------
    TypeError
        On writing a key that is not a str, or a value that cannot be stored
        (see :mod:`blocks_log.codec`); nothing is written then.
    ValueError
        On writing a str key or value that UTF-8 cannot hold, or a container
        holding itself or nested too deep.
    blocks_log.errors.ReadOnlyLogError
        On writing into a read-only log, or a run of Blocks.
    blocks_log.errors.ClosedLogError
        On any use after the log was closed.

    """
    __slots__ = ('_session', '_time', '_log', '_snapshot', '_stamp')

    def __init__(self, session, time, log=None):
        self._session = session
        self._time = time
        self._log = log
        self._snapshot = None
        self._stamp = None

    @property
    def log(self):
        """The log this row belongs to."""
        return self._log if self._log is not None else self._session.log()

    @property
    def time(self):
        """int: the time of this row."""
        return self._time

    def __setitem__(self, key, value):
        # The hot path: once per logged value, in one Python frame.
        session = self._session
        if type(key) is not str or key not in session.known_keys:
            session.admit_key(key)
        if type(value) is not float:
            # A float, NaN included, is buffered as it is: buffered values
            # reach the database packed in batches and chunks (float64
            # each), never as SQL values (where NaN would be NULL); 1,000
            # instructions an iteration fewer (callgrind).
            value = _encode(value, key, session.allow_pickle,
                            session.max_size)
            if type(value) in _SIZED:  # counted in bytes too
                session.buffer_sized(self._time, key, value)
                return
        pending = session.pending
        # One extend, atomic under the GIL: a write takes no lock, and a
        # flush commits only the prefix it saw. Refused, with the reason,
        # by a log that takes no writes. Flat (time, key, value, time...),
        # not a tuple each: a commit splits it by slicing, and the garbage
        # collector has no tuples to walk.
        pending.extend((self._time, key, value))
        if len(pending) >= session.max_items:
            session.flush()

    def _read(self):
        # The whole row, kept for the __getitem__ calls that usually follow
        # (dict(row) asks for the keys, then each value).
        # One step under the lock: a commit by the timer's thread between
        # the read and the look at the values lent would take a write over
        # one out of the buffer, where the look finds it.
        session = self._session
        with session.lock:
            values = session.read_row(self._time)
            if session.lent:
                session.lent_at(self._time, values)
            self._snapshot, self._stamp = values, session.stamp()
        return values

    def _values(self, key):
        snapshot = self._snapshot
        if snapshot is not None:
            stamp = self._session.stamp()
            if stamp is not None and stamp == self._stamp:
                return snapshot
            self._snapshot = None
        return self._session.read_row(self._time, key)

    def __getitem__(self, key):
        value = self._values(key)[key]
        if type(value) in IMMUTABLE:
            return value
        return self._session.lend(self._time, key, value)

    def __contains__(self, key):
        return key in self._values(key)

    def get(self, key, default=None):
        """The value of `key`, or `default` if the row holds none."""
        # Mapping's get raises and catches a KeyError for a key the row
        # does not hold: Blocks' main loop asks for one after every batch.
        value = self._values(key).get(key, default)
        if type(value) in IMMUTABLE or value is default:
            return value
        return self._session.lend(self._time, key, value)

    def setdefault(self, key, default=None):
        """The value of `key`; if the row holds none, `default`, written
        first. Either is the row's (see :mod:`~blocks_log.database.lent`):
        ``row.setdefault('events', []).append(event)`` is stored.

        Raises
        ------
        TypeError, ValueError
            If `default`, to be written, cannot be stored; nothing is
            written then.
        """
        value = self.get(key, _MISSING)
        if value is not _MISSING:
            return value
        self[key] = default
        # Lent as written: the buffer holds it, before where it stands.
        return self._session.lend(self._time, key, default)

    def __delitem__(self, key):
        """Delete `key` from this row, in the runs resumed from too.

        Raises
        ------
        KeyError
            If the row holds no `key`.
        """
        self._session.delete_value(self._time, key)

    def __iter__(self):
        return iter(self._read())

    def __len__(self):
        return len(self._read())

    def clear(self):
        """Delete every key of this row."""
        for key in list(self._read()):
            del self[key]

    def update(self, *args, **kwargs):
        """Write several values; each is checked before any is written.

        Raises
        ------
        TypeError, ValueError
            If a key or value cannot be stored; nothing is written then.
        """
        values = dict(*args, **kwargs)
        session = self._session
        for key, value in values.items():
            session.encode(value, key)
        for key, value in values.items():
            self[key] = value

    def __eq__(self, other):
        if isinstance(other, Mapping):
            return dict(self._read()) == dict(other.items())
        return NotImplemented

    def __ne__(self, other):
        result = self.__eq__(other)
        return result if result is NotImplemented else not result

    __hash__ = None

    def __repr__(self):
        return repr(self._read())


class RowOfNow(object):
    """``Session.row_of_now``: the row of ``status['iterations_done']``.

    A non-data descriptor: a writable session keeps the row as an instance
    attribute, and as the log's ``current_row`` (see
    :meth:`~blocks_log.database.session.Session.now`), until
    ``iterations_done`` changes; other sessions make it on every access,
    from a status read afresh.

    """
    def __get__(self, session, owner=None):
        if session is None:
            return self
        row = DatabaseRow(session, session.check_time(
            session.status_values('iterations_done')['iterations_done']))
        if session.writable:
            session.now(row)
        return row


class DatabaseStatus(DictMethods, MutableMapping):
    """The status of a run, held in memory and written with the buffer.

    Setting ``status['iterations_done']`` commits the buffer (see
    :class:`~blocks_log.database.DatabaseLog`); a value changed in place
    (``status['_epoch_ends'].append(t)``) is saved by the next commit. A
    read-only log reads it afresh on every access, of the key asked for
    alone where one is. Blocks called this class ``SQLiteStatus``.

    Raises
    ------
    TypeError, ValueError
        On setting a key or value that cannot be stored.
    blocks_log.errors.ReadOnlyLogError
        On a change in a read-only log or a run of Blocks.

    """
    __slots__ = ('_session',)

    def __init__(self, session):
        self._session = session

    def __getitem__(self, key):
        session = self._session
        if session.refreshing:
            return session.status_values(key)[key]
        value = session.values[key]
        if type(value) not in IMMUTABLE:
            # Once its reference is taken: a commit that clears the mark
            # before then counts it (see StatusCommits._changed_in_place).
            session.handed_out = True
        return value

    def get(self, key, default=None):
        """The status value of `key`, or `default` if there is none."""
        # Mapping's get raises and catches a KeyError for a key not there:
        # Blocks' main loop asks for one after every batch.
        session = self._session
        if not session.refreshing and key not in session.values:
            return default
        try:
            return self[key]
        except KeyError:
            return default

    def __contains__(self, key):
        # Not through __getitem__: asking hands no value out.
        return key in self._session.status_values(key)

    def __setitem__(self, key, value):
        self._session.set_status(key, value)

    def __delitem__(self, key):
        self._session.delete_status(key)

    def __iter__(self):
        return iter(list(self._session.status_values()))

    def __len__(self):
        return len(self._session.status_values())

    def __repr__(self):
        return repr(self._session.status_values())

    def __reduce__(self):
        # Pickled alone, the status is the plain dict it stands for; copied
        # (copy.copy), one holding the same values, handed out as in
        # __getitem__.
        values = dict(self._session.status_values())
        self._session.handed_out = True
        return dict, (values,)
