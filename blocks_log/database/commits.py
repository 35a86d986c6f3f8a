"""The commits of a session: when the buffer and the status go to the
store, and how.

Each iteration (``commit_every`` of 1, as a rule), in one call to the store
where the commit is a training loop's iteration and nothing else; every
``commit_every`` iterations; at least every ``commit_seconds`` (see
:mod:`.commit_timer`); and whenever asked (``flush()``, a fork, a close).

"""
import time as _time

from blocks_log import codec
from blocks_log.database import lifecycle
from blocks_log.errors import LogError
from blocks_log.stores.base import StalePieces


class Commits(object):
    """What commits a :class:`~blocks_log.database.session.Session`: a
    mixin over its buffer (``pending``), its status (see
    :class:`~blocks_log.database.status.StatusCommits`), its commit policy
    (``commit_every``, ``commit_seconds``, ``timer``), ``store`` and
    ``run``; it counts its commits in ``flushes``, and keeps the items of
    the last in ``last_commit`` (see :mod:`.stored_tail`)."""

    def _next_iteration(self, iterations_done):
        # set_status('iterations_done', iterations_done) in a training loop
        # that commits each iteration, as set_status(), _advance() and
        # _flush() would do it, in fewer steps: the buffer (the iteration's
        # values) and the new value go to the store in one call (see
        # Store.write_iteration), without a dict of the status to commit
        # (7,600 instructions fewer an iteration of the training-loop
        # workload, 6%, callgrind). False, having done nothing, if it is not
        # that commit. set_status() calls it only with a commit each
        # iteration, so commit_seconds has none to make; a session that
        # takes no writes buffers nothing. A value a row lent is stored
        # first where it changed, as _flush() stores it, so that a loop
        # doing row.setdefault('events', []).append(e) keeps this path.
        # Marked as a commit (see .work); during work or a read, the
        # general way asks for the commit, made as they end.
        with self.lock:
            if self.busy or self.reading or (
                    len(lifecycle.OPEN_SESSIONS) > 1 and
                    lifecycle.work_under_way_here(self) is not None):
                return False
            self.busy = 'commit'
            try:
                pending = self.pending
                if self.lent:  # what a row's value changed in place holds now
                    self._store_lent()
                count = len(pending)
                if not count or self.dirty or (
                        self.deletions or self.deleted_status or
                        self._changed_in_place() or self.appended):
                    return False
                stamp = self.advanced
                self.advanced = (iterations_done, _time.time())
                self.move_on(iterations_done)
                written = None
                items = pending[:count]
                try:
                    written = self.store.write_iteration(
                        self.run, items, 'iterations_done', iterations_done,
                        stamp)
                finally:
                    if not written:  # left to commit, as _advance() leaves it
                        self.dirty['iterations_done'] = iterations_done
                if written:
                    if self.lent:
                        self._lent_committed(count)
                    self.flushes += 1  # before the cut, as in _flush()
                    del pending[:count]
                    self.last_commit = items
                    if self.pending_bytes:
                        self.pending_bytes = _sized_bytes(pending)
                else:
                    self._flush(stamp=stamp)
                return True
            finally:
                self.busy = None
                if self.requested:
                    self.do_requested()

    def _advance(self, iterations_done, counted):
        # What was logged up to now is stamped with when iterations_done
        # was last set (see Store.write), and what is logged from now on
        # with now; now is read only if a commit may come before the next
        # iteration (a stamp of an earlier one, or none, gives the
        # commit's own wall). `counted`: iterations_done is a time.
        stamp = self.advanced
        self.uncommitted += 1
        flushing = self.uncommitted >= self.commit_every
        self.advanced = True
        if counted:
            if self.uncommitted + 1 >= self.commit_every or (
                    self.timer is not None):
                self.advanced = (iterations_done, _time.time())
            # The row of now moved on with the status (see move_on).
        else:
            self.forget_row_of_now()
        self.completed = len(self.pending)
        if flushing or self.completed >= self.timed_items:
            self.exclusive('commit', self._flush, None, stamp)
        elif self.timer is not None:
            if _time.monotonic() - self.committed_at >= self.commit_seconds:
                self.exclusive('commit', self._flush, None, stamp)
            self.timer.start()  # in this process, if it does not run yet

    def commit_if_late(self, now):
        """Commit the iterations completed if the last commit was
        `commit_seconds` ago or more (what :mod:`.commit_timer`'s thread
        does); how many seconds until it is next due, ``None`` once the
        session takes no writes."""
        with self.lock:
            if not self.writable:
                return None
            late = now - self.committed_at - self.commit_seconds
            if late < 0:
                return -late
            if self.uncommitted:
                try:
                    self.exclusive('commit', self._flush, self.completed)
                except LogError:
                    pass  # kept; the training thread's commit says why
                else:
                    return self.commit_seconds
            return self.commit_seconds

    def flush(self):
        with self.lock:
            self.exclusive('commit', self._flush)

    def _flush(self, count=None, stamp=None):
        # flush() with the lock held; of the buffer's first `count` items
        # only (three a value: time, key, stored), if given; `stamp` as
        # for Store.write (by default, when iterations_done was last set).
        if not self.writable:
            return
        if count is None and self.lent:
            # Not at the commit timer's (`count`): a change it found could
            # land after a write the training thread made meanwhile.
            self._store_lent()
        for key in self._changed_in_place():
            self._store_changed_in_place(key, self.mutable[key][0])
        pending = self.pending
        count = len(pending) if count is None else min(count, len(pending))
        appended = self.appended
        if not (count or self.dirty or self.deleted_status or appended):
            return
        # Handed over whole rather than copied: the status changes only
        # with the lock held, as here, and gets them back if the commit
        # fails.
        status, deleted = self.dirty, self.deleted_status
        written, pieces = status, None
        if appended:
            pieces, wholes, layouts = self._pieces_of(appended)
            self.appended = {}
            if wholes:
                written = dict(status)
                written.update(wholes)
        self.dirty = {}
        if deleted:
            self.deleted_status = set()
        deletions = self.deletions
        if deletions:
            # The commit timer's commit (`count`) may leave one buffered:
            # reads still look for it there.
            self.deletions = codec.DELETED_STORED in pending[count + 2::3]
        if stamp is None:
            stamp = self.advanced
        items = pending[:count]
        try:
            self.store.write(self.run, items, written, deleted, deletions,
                             stamp, pieces)
        except BaseException as error:
            self.dirty, self.deleted_status = status, deleted
            self.deletions = self.deletions or deletions
            if appended:
                self.appended = appended
            if isinstance(error, StalePieces):
                # Another process wrote a list since: each written whole.
                self.pieces.clear()
                return self._flush(count, stamp)
            raise
        if appended:
            self.pieces.update(layouts)
            for key, stored in wholes.items():
                self.mutable[key] = stored, self.mutable[key][1]
        # Only the prefix committed: values appended meanwhile by another
        # thread stay for the next flush.
        if self.lent:
            self._lent_committed(count)
        # Counted before the buffer is cut (see MergedReads.stamp).
        self.flushes += 1
        del pending[:count]
        self.last_commit = items
        if self.pending_bytes:
            self.pending_bytes = _sized_bytes(pending)
        # Never less than the completed iterations hold: the buffer only
        # grows between the iteration that counted them and a flush.
        self.completed = 0
        self.uncommitted = 0
        if self.timer is not None:
            self.committed_at = _time.monotonic()


def _sized_bytes(pending):
    # Session.pending_bytes of the values `pending` (a buffer) holds.
    return sum(len(stored) for stored in pending[2::3]
               if type(stored) in codec.SIZED)
