"""Opening a run in a session: a new one, an existing one (claimed for
writing where it may be written), a child of the one open (``resume()``),
and letting one go: a mixin of :class:`~.session.Session`.

"""
from blocks_log.base import new_uuid
from blocks_log.database.reads import lineage_groups
from blocks_log.database.status import IMMUTABLE, NO_SNAPSHOT
from blocks_log.errors import LogError, ReadOnlyLogError
from blocks_log.stores import claims
from blocks_log.stores.base import name_text, resolve_run


class Refusing(list):
    """The buffer of a session that takes no writes: empty, and refusing
    each write with an error that says why."""
    __slots__ = ('error', 'message')

    def __init__(self, error, message):
        list.__init__(self)
        self.error, self.message = error, message

    def extend(self, items):
        raise self.error(self.message)


class RunOpening(object):
    """How a :class:`~.session.Session` opens its runs and lets them go,
    over its ``store``, ``blocks_store``, ``read_only``, ``claim``, the run
    held (``run``, ``run_store``, ``groups``), its status and buffer."""

    def start(self, status, parent=None, uuid=None):
        """Start a new run with `status` (a dict), claimed for writing; its
        uuid is `uuid` (hex), or a new random one."""
        if self.read_only:
            raise ReadOnlyLogError('{}: a read-only log needs the uuid of a '
                                   'run'.format(self.store.name))
        encoded = dict((key, self.encode(value, key))
                       for key, value in status.items())
        claim = claims.new_claim()
        try:
            run = self.store.create_run(uuid or new_uuid(), parent,
                                        encoded, claim)
        except BaseException:
            claims.drop(claim)
            raise
        self._release()
        self._take(claim, self.store, run)
        self._enter(self.store, run, dict(status), encoded)
        if self.tail.sole:
            # A new run, resumed from none: no rows.
            self.tail.looked(0, self.flushes)

    def open(self, name):
        """Open the existing run that `name` names (its uuid, a unique
        prefix of it, or ``'last'``): claimed for writing if it is
        writable, else read-only.

        Raises
        ------
        TypeError
            If `name` is neither a :class:`uuid.UUID` nor a str.
        UnknownRunError
        blocks_log.errors.AmbiguousRunError
        blocks_log.errors.RunInUseError
        """
        uuid = name_text(name)
        store, run = self._find(uuid) if len(uuid) == 32 else (None, None)
        if run is None:
            uuid = resolve_run(name, [found.uuid for each in (
                self.blocks_store, self.store) if each is not None
                for found in each.runs()], self.store.name)
            store, run = self._find(uuid)
        claim = None
        if store is self.store and not self.read_only:
            claim = claims.new_claim()
            try:
                store.claim_run(run, claim, claims.is_stale)
            except BaseException:
                claims.drop(claim)
                raise
        # A reader reads the status afresh at each access, key by key: none
        # of it now (a list of 100,000 checkpoints' paths: 170 ms).
        values = {} if self.refreshing else store.read_status(run)
        if claim is not None:
            self._release()
            self._take(claim, store, run)
        self._enter(store, run, values, {})

    def _take(self, claim, store, run):
        # The run and its claim, held from now on: set together, with no
        # call between (where Ctrl-C comes), so that _release() never lets
        # go of one run by the claim of another (or of none, at the first
        # open, where it failed on a run None).
        self.claim, self.run, self.run_store = claim, run, store

    def _find(self, uuid):
        for store in (self.store, self.blocks_store):
            run = store.find_run(uuid) if store is not None else None
            if run is not None:
                return store, run
        return None, None

    def _enter(self, store, run, values, encoded):
        self.run, self.run_store = run, store
        self.groups = lineage_groups(store, run, self._find)
        self.values, self.dirty, self.deleted_status = values, {}, set()
        self.writable = (store is self.store and not self.read_only
                         and not self.closed)
        self.tail.enter(self.writable and self.claim is not None and (
            self.groups == [(store, [run])]))
        self.mutable, self.appended, self.pieces = {}, {}, {}
        self.flat_lists, self.handed_out = set(), True
        if self.writable:
            for key, value in values.items():
                if type(value) not in IMMUTABLE:
                    try:
                        stored, copy = self._encoded_with_copy(value, key)
                        if encoded.get(key, stored) != stored:
                            # Changed since start() stored it: found so
                            # at the next commit.
                            stored, copy = encoded[key], NO_SNAPSHOT
                        self._watch(key, stored, copy)
                    except (TypeError, ValueError):
                        pass  # an undecodable value: never rewritten
            self.pending = []
        else:
            self.pending = Refusing(ReadOnlyLogError, (
                '{}: opened read-only'.format(self) if self.read_only else
                '{} was written by Blocks; resume() it to write a new run '
                'that reads through it'.format(self)))
        self.uncommitted = self.completed = 0
        self.forget_row_of_now()

    def _release(self):
        claim, self.claim = self.claim, None
        if claim is not None:
            try:
                # What the last commits moved past is packed now, not left
                # as rows until the run is written again.
                self.store.compact(self.run)
                self.store.release_run(self.run, claim,
                                       self.store.summarize(self.run))
            except LogError:
                pass  # found stale by whoever opens the run next
            claims.drop(claim)

    def resume(self):
        """Go on in a new run whose reads fall through to this one (as the
        session's work: see :mod:`.work`)."""
        with self.lock:
            self._check_resumable()  # said to this caller, if asked for
            self.exclusive('resume', self._resume)

    def _check_resumable(self):
        self.check_open()
        if self.read_only:
            self.refuse_writes()

    def _resume(self):
        self._check_resumable()  # again, if done as work under way ended
        self._flush()
        status = dict(self.status_values())
        status['resumed_from'] = self.run.uuid
        self.start(status, parent=self.run.uuid)

    def load_snapshot(self, uuid, records, status, clock=None):
        """Hold, in a new run named `uuid`, what a pickled log of a
        ``:memory:`` database carried: its values committed when they were
        first (`clock`, ``(times, walls)``; none in a pickle of before),
        not now."""
        with self.lock:
            self.start(status, parent=status.get('resumed_from'), uuid=uuid)
            for time, key, value in records:
                self.pending.extend((time, key, self.encode(value, key)))
            self._flush(stamp=False)
            if clock is not None:
                self.store.write_clock(self.run, *clock)

    def make_read_only(self):
        """Take no more writes (a read-only log unpickled)."""
        with self.lock:
            self._flush()
            self._release()
            self.read_only = self.refreshing = True
            self._enter(self.run_store, self.run, self.values, {})
