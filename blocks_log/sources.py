"""Sources: what a command or a page reads runs from, opened once.

A SOURCE is an SQLite file, a PostgreSQL URL or DSN, a pickle holding a
training log (or an object that holds one), or a checkpoint tar of Blocks.
:class:`Source` opens it once, read-only, and is passed down, the way a
TensorBoard plugin holds one data provider: its file is looked at once,
its stores opened once, its runs listed once, a run named by one resolver
(:func:`blocks_log.stores.base.resolve_run`), and its logs opened on the
stores already open. Nothing here creates or changes a file.

"""
import os
import re

from blocks_log.database import DatabaseLog
from blocks_log.errors import (DamagedLogError, LogDatabaseError, LogError,
                               UnknownKeyError)
from blocks_log.series import damaged, empty
from blocks_log.stores import base, claims
from blocks_log.stores.base import LAST, resolve_run
from blocks_log.stores.sqlite_files import not_a_file

SQLITE_MAGIC = b'SQLite format 3\x00'

__all__ = ['LAST', 'Run', 'Source', 'is_postgresql', 'is_sqlite']


# A pair of libpq's key=value DSN: a key, and a value quoted or not.
_DSN_PAIR = re.compile(r"\s*([A-Za-z_]+)\s*=\s*('(?:[^'\\]|\\.)*'|[^\s']+)")
# Keys that say where a database is: one of them makes a DSN of the pairs.
_DSN_KEYS = frozenset(['host', 'hostaddr', 'port', 'dbname', 'user',
                       'service'])


def is_postgresql(source):
    """Whether `source` names a PostgreSQL database: a ``postgresql://`` or
    ``postgres://`` URL, or a DSN of libpq's ``key=value`` pairs
    (``'host=db.lab dbname=runs'``, as :class:`~blocks_log.PostgreSQLLog`
    takes) that no file is named."""
    if not isinstance(source, str):
        return False
    if source.startswith(('postgresql://', 'postgres://')):
        return True
    keys, at, end = set(), 0, len(source.rstrip())
    while at < end:
        pair = _DSN_PAIR.match(source, at)
        if pair is None:
            return False
        keys.add(pair.group(1))
        at = pair.end()
    return bool(keys & _DSN_KEYS) and not os.path.exists(source)


def is_sqlite(path):
    """Whether the file at `path` is an SQLite database."""
    try:
        with open(path, 'rb') as f:
            return f.read(16) == SQLITE_MAGIC
    except OSError:
        return False


class Run(object):
    """What a run is, at a glance.

    Attributes
    ----------
    uuid : str
        32 hex digits.
    parent : str or None
        The uuid it was resumed from.
    created : float or None
        When it was started, in seconds since the epoch (``None`` for runs
        of Blocks and logs of pickles).
    iterations, epochs : int or None
        ``status['iterations_done']`` and ``status['epochs_done']``.
    rows : int
        Times at which it holds a value (of its own, not of its parents).
    keys : list of str
        The keys it logged, sorted.
    last_time : int or None
        The last time at which it holds a value.
    writer : str or None
        Who writes it now (``'process 12 on host h'``), if a writer still
        there holds it (the claim of one that was killed is not shown).
    written_by : str
        ``'blocks_log'``, ``'blocks'`` (Blocks' own tables) or ``'pickle'``.

    """
    FIELDS = ('uuid', 'parent', 'created', 'iterations', 'epochs', 'rows',
              'keys', 'last_time', 'writer', 'written_by')

    def __init__(self, **fields):
        vars(self).update(dict.fromkeys(self.FIELDS), **fields)

    def as_dict(self):
        """dict: the fields, for JSON and DataFrames."""
        return dict((name, getattr(self, name)) for name in self.FIELDS)

    def __getitem__(self, name):
        # run['uuid'], as the dicts of earlier releases.
        return getattr(self, name)

    def __repr__(self):
        return '<Run {} ({} iterations)>'.format(self.uuid, self.iterations)


class Source(object):
    """A SOURCE, opened for reading: ``with Source(name) as source:``.

    Parameters
    ----------
    name : str
        An SQLite file, a ``postgresql://`` URL, a pickle holding a log, or
        a checkpoint tar of Blocks.
    trusted : bool, optional
        Unpickle a pickle as :func:`pickle.load` would, running what it
        names (see :func:`blocks_log.load`); by default nothing runs.
    strict : bool, optional
        :meth:`read` raises :class:`~blocks_log.errors.DamagedLogError`
        where it meets a damaged chunk, rather than giving its placeholder
        (what a command or a page does).

    Attributes
    ----------
    name : str
        As given.
    kind : {'sqlite', 'postgresql', 'pickle'}

    Raises
    ------
    LogDatabaseError
        If it is missing, empty, a directory, a pipe or a device, or
        neither a log database nor a pickle holding a log (the message
        names it).
    blocks_log.errors.SchemaVersionError
        If it is a database of a schema version this blocks_log does not
        read.

    """
    def __init__(self, name, trusted=False, strict=False):
        if not isinstance(name, str) or not name.strip():
            raise LogDatabaseError('no SOURCE given: name a database, a '
                                   'postgresql:// URL or a pickle')
        self.name, self.trusted, self.strict = name, trusted, strict
        self.store = self.blocks = self._log = None
        self._infos = self._runs = None  # listed once, when first asked
        self._by_uuid = None
        self._opened = []
        if is_postgresql(name):
            from blocks_log.stores.postgresql import PostgreSQLStore
            self.kind = 'postgresql'
            self.store = PostgreSQLStore(name, read_only=True)
            return
        if os.path.isdir(name):
            raise LogDatabaseError('{}: is a directory, not a log'.format(
                name))
        if not_a_file(name):
            # A pipe (a shell's <(...)) would be read twice, and a device
            # (/dev/zero) for ever.
            raise LogDatabaseError('{}: is not a regular file (a pipe or a '
                                   'device), not a log'.format(name))
        if not os.path.isfile(name):
            raise LogDatabaseError('{}: no such file'.format(name))
        if is_sqlite(name):
            from blocks_log.stores.blocks import BlocksStore
            from blocks_log.stores.sqlite import SQLiteStore
            self.kind = 'sqlite'
            self.store = SQLiteStore(name, read_only=True)
            if self.store.has_blocks_tables:
                self.blocks = BlocksStore(self.store.db)
            if self.store.version is None and self.blocks is None:
                self.store.close()
                raise LogDatabaseError('{}: is not a log database (no runs '
                                       'table)'.format(name))
            return
        self.kind = 'pickle'
        self._log = _load_log(name, trusted)

    def __repr__(self):
        return '<Source {} ({})>'.format(self.name, self.kind)

    @property
    def is_database(self):
        """bool: whether it is a database (of many runs), not a pickle."""
        return self.kind != 'pickle'

    def stores(self):
        """The stores of a database, Blocks' first (then runs are found in
        the order :meth:`runs` lists them); none for a pickle."""
        return [store for store in (self.blocks, self.store) if store]

    def runs(self):
        """Every run, as :class:`Run`: Blocks' runs first, then ours, each
        in order of creation. Listed once.

        Raises
        ------
        blocks_log.errors.LogError
            If the database cannot be read.
        """
        if self._runs is None:
            if self._log is not None:
                self._runs = [_pickled_run(self._log)]
            else:
                self._runs = []
                for store, found in self._run_infos():
                    live = store.written(found)
                    written_by = 'blocks' if store is self.blocks else (
                        'blocks_log')
                    self._runs.extend(
                        _listed(store, run, written_by, run.ref in live)
                        for run in found)
        return self._runs

    def _run_infos(self):
        # [(store, [RunInfo])] of a database, listed once.
        if self._infos is None:
            self._infos = [(store, store.runs()) for store in self.stores()]
        return self._infos

    def uuids(self):
        """The hex uuids of :meth:`runs`, in that order (read without what
        a list of runs shows)."""
        if self._log is not None:
            return [self._log.h_uuid]
        return [run.uuid for _, found in self._run_infos() for run in found]

    def find(self, name=None):
        """The hex uuid of the run `name` names: its uuid, a unique prefix
        of it, or ``'last'`` (the run started last); ``None`` names the
        only run of a source of one.

        Raises
        ------
        blocks_log.errors.UnknownRunError
            If no run matches, or `name` is ``None`` and the source holds
            several runs (the message says how to list them).
        blocks_log.errors.AmbiguousRunError
            If several runs match.
        """
        uuids = self.uuids()
        if name is None:
            if len(uuids) != 1:
                from blocks_log.errors import UnknownRunError
                raise UnknownRunError(
                    '{}: holds {} runs; name one (blocks-log runs {} lists '
                    'them)'.format(self.name, len(uuids), self.name))
            return uuids[0]
        return resolve_run(name, uuids, self.name)

    def keys(self, name=None):
        """The keys the run `name` names holds a value of, through its
        lineage, sorted; found from the keys of each run, not its values.

        Raises
        ------
        blocks_log.errors.UnknownRunError
        """
        uuid = self.find(name)
        if self._log is not None:
            return sorted(key for key, (times, _) in
                          self._log.series().items() if len(times))
        found = dict((run.uuid, (store, run)) for store, runs in
                     self._run_infos() for run in runs)
        keys, seen = set(), set()
        while uuid in found and uuid not in seen:
            seen.add(uuid)
            store, run = found[uuid]
            keys.update(store.read_keys(run))
            uuid = run.parent
        return sorted(keys)

    def check_keys(self, keys, names=None):
        """Raise unless each of `keys` is held by one of the runs that
        `names` name (a list; by default, the only run of the source).

        Raises
        ------
        blocks_log.errors.UnknownKeyError
            Naming the keys none holds, and those they hold.
        """
        if not keys:
            return
        held = set()
        for name in names or [None]:
            held.update(self.keys(name))
        unknown = [key for key in keys if key not in held]
        if unknown:
            # A key mistyped, most often: the key it is nearest to, if any
            # is near, among what may be many.
            import difflib  # an error's alone
            named = [key + ''.join(' (did you mean {}?)'.format(near) for near
                                   in difflib.get_close_matches(
                                       key, held, n=1)) for key in unknown]
            raise UnknownKeyError('unknown key{} {}; {} hold{}: {}'.format(
                's' if len(unknown) > 1 else '', ', '.join(named),
                'the run' if len(names or [None]) == 1 else 'the runs',
                's' if len(names or [None]) == 1 else '',
                ', '.join(sorted(held)) or 'nothing'))

    def own_series(self, uuid, key, start, stop):
        """``(times, values)`` of `key` that the run `uuid` of a database
        holds itself over ``[start, stop)``, not through its lineage (see
        :mod:`blocks_log.series`); a value it deleted is
        :data:`blocks_log.codec.DELETED`.

        Raises
        ------
        KeyError
            If the source is a pickle, or holds no run `uuid`.
        blocks_log.errors.LogError
            If the run cannot be read.
        """
        store, run = self._run_info(uuid)
        stop = min(stop, store.max_time)
        if stop <= start:
            return empty()
        return store.read_series([run], [key], start, stop).get(
            key, empty())

    def own_end(self, uuid):
        """A time past the last at which the run `uuid` of a database holds
        a value itself (see :meth:`own_series`), or ``None``.

        Raises
        ------
        KeyError, blocks_log.errors.LogError
            As :meth:`own_series`.
        """
        store, run = self._run_info(uuid)
        return store.read_end([run], 0, store.max_time)

    def _run_info(self, uuid):
        # (store, RunInfo) of the run `uuid` of a database.
        if self._by_uuid is None:
            self._by_uuid = dict((run.uuid, (store, run)) for store, found
                                 in self._run_infos() for run in found)
        return self._by_uuid[uuid]

    def open(self, name=None):
        """The log of the run `name` names (see :meth:`find`), read-only,
        on the stores already open: closing it leaves them open, and
        :meth:`close` closes every log opened here.

        Raises
        ------
        blocks_log.errors.UnknownRunError, blocks_log.errors.AmbiguousRunError
        blocks_log.errors.LogError
            If the run cannot be read.
        """
        uuid = self.find(name)
        if self._log is not None:
            return self._log
        log = DatabaseLog(self.store, self.blocks, uuid=uuid, read_only=True,
                          shared=True)
        self._opened.append(log)
        return log

    def read(self, name=None, keys=None, start=None, stop=None):
        """``(uuid, {key: series})`` of the run `name` names, read through
        its lineage (see :meth:`TrainingLogBase.series`).

        Raises
        ------
        blocks_log.errors.DamagedLogError
            If the source is `strict` and a value read is a damaged chunk's
            placeholder.
        blocks_log.errors.UnknownRunError, TypeError, ValueError
        """
        log = self.open(name)
        if self.strict:
            return log.h_uuid, checked_series(log, keys, start, stop)
        return log.h_uuid, log.series(keys, start, stop)

    def close(self):
        """Close what was opened; safe twice."""
        while self._opened:
            self._opened.pop().close()
        if self.store is not None:
            self.store.close()
        close = getattr(self._log, 'close', None)
        if close is not None:
            close()

    def __enter__(self):
        return self

    def __exit__(self, *exc_info):
        self.close()


def checked_series(log, keys=None, start=None, stop=None):
    """``log.series(keys, start, stop)``, a damaged chunk met an error.

    Raises
    ------
    blocks_log.errors.DamagedLogError
    """
    return checked(log, log.series(keys, start, stop))


def checked(log, columns):
    """`columns` (as ``log.series`` gives them), a damaged chunk among them
    an error.

    Raises
    ------
    blocks_log.errors.DamagedLogError
    """
    return checked_run(log.h_uuid, columns)


def checked_run(uuid, columns):
    """As :func:`checked`, of the run `uuid`.

    Raises
    ------
    blocks_log.errors.DamagedLogError
    """
    found = damaged(columns)
    if found is not None:
        key, placeholder = found
        raise DamagedLogError('run {}, key {!r}: {}'.format(
            uuid, key, placeholder.reason))
    return columns


def _listed(store, run, written_by, live):
    # What the run's last writer saved when done; read from the run if it
    # saved nothing (a run being written, or whose writer was killed).
    summary = base.summary_of(run) or store.summarize(run)
    writer = claims.describe(run.writer) if live and run.writer else None
    return Run(uuid=run.uuid, parent=run.parent, created=run.created,
               writer=writer, written_by=written_by, **summary)


def _pickled_run(log):
    columns = log.series()
    times = sorted(set(time for times, _ in columns.values()
                       for time in times))
    return Run(uuid=log.h_uuid, parent=log.status.get('resumed_from'),
               iterations=log.status.get('iterations_done'),
               epochs=log.status.get('epochs_done'), rows=len(times),
               keys=sorted(key for key, (times, _) in columns.items()
                           if len(times)),
               last_time=times[-1] if times else None,
               written_by='pickle')


def _load_log(path, trusted):
    # The training log of a pickle or a checkpoint, loaded once.
    from blocks_log.base import TrainingLogBase
    from blocks_log.loading import find_log, load
    try:
        log = find_log(load(path, trusted=trusted))
    except LogError:
        raise
    except Exception as error:
        raise LogDatabaseError('{}: not a log database nor a pickled log '
                               '({}: {})'.format(path, type(error).__name__,
                                                 error))
    if not isinstance(log, TrainingLogBase):
        raise LogDatabaseError('{}: the pickle holds no training log'.format(
            path))
    return log
