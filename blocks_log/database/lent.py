"""Values a row hands out that can change in place: the row's own.

A log in memory is a dict of dicts: ``row['events']`` is the list the row
holds, and ``row.setdefault('events', []).append(e)`` changes the log. A
database log's row decodes its values from what was stored, so a list read
from it was a copy, and a change made to it was lost without a word. Now a
list, dict or array that a row hands out (``row[key]``, ``get``,
``setdefault``, ``items()``...) is lent: the row hands out that same
object again while it is lent, and each commit compares it with what was
stored (encoding it again) and stores it where it changed, as a write at
its time would; so does a read of series (``records()``, ``history()``,
``to_dataframe()``), so that it reads what the row holds.

A value stops being lent once its row's key is written or deleted (the
value written, not the one lent, is then the row's: found in the buffer
past where the buffer stood when it was lent, so that a write costs
nothing more), or once a commit finds that nothing but the session holds
it (with :func:`sys.getrefcount`, in CPython with the GIL; elsewhere, at
the first commit after it was handed out). So the values compared at a
commit are those the training loop still holds, as a rule none.

A value *written* is stored as it is when written, as before: an array
that the loop then changes in place (a buffer it reuses, a view of a
model's weights) keeps each iteration's numbers, where a log in memory
would show the last in every row.

"""
import sys
import warnings

from blocks_log import codec
from blocks_log.database.status import fixed

_getrefcount = getattr(sys, 'getrefcount', None)


def _references(entry):
    # The references of a lent value, counted as LentValues counts them (by
    # the same expression, inside a function).
    return _getrefcount(entry[0])


#: What :func:`_references` counts of a value that its entry alone holds;
#: ``None`` where counts cannot tell (see :data:`.status._ALONE`).
_ALONE = (_references([[], None])
          if sys.implementation.name == 'cpython' and
          getattr(sys, '_is_gil_enabled', lambda: True)() else None)


class LentValues(object):
    """The values a :class:`~blocks_log.database.session.Session`'s rows
    lent: a mixin over its ``lent`` (``{(time, key): [value, stored,
    position]}``, `position` where the buffer stood when it was lent or
    last stored), ``pending`` and ``pending_bytes`` (the buffer),
    ``known_keys``, ``lock``, ``writable``, ``allow_pickle`` and
    ``max_size``."""

    def lend(self, time, key, value):
        """The value the row at `time` hands out for `key`: the one lent
        before, if it still is, else `value` (decoded from what is stored,
        or just written: ``setdefault``'s default, as a dict hands it
        out), lent from now on if it can change in place and the session
        takes writes."""
        place = time, key
        with self.lock:  # as a commit that compares them
            if not self.writable:
                return value
            entry = self.lent.get(place)
            if entry is not None and not self._written_since(entry, place):
                return entry[0]
            if not fixed(value):
                try:
                    stored = codec.encode(value, key, self.allow_pickle,
                                          self.max_size)
                except (TypeError, ValueError):
                    return value  # a placeholder of an undecodable value
                self.lent[place] = [value, stored, len(self.pending)]
            elif entry is not None:
                del self.lent[place]
            return value

    def lent_at(self, time, values):
        """`values` (a row's, at `time`) with the values lent there, as a
        change in place left them; with the lock held since `values` were
        read."""
        for place, entry in list(self.lent.items()):
            if place[0] == time and place[1] in values and (
                    not self._written_since(entry, place)):
                values[place[1]] = entry[0]
        return values

    def _written_since(self, entry, place):
        # Whether the buffer holds a write (or deletion) at `place` past
        # where it stood when `entry` was lent: the value lent is then not
        # the row's. Looked for in C, as a rule (the key is not there).
        pending = self.pending
        start = entry[2]
        keys = pending[start + 1::3]
        if place[1] not in keys:
            return False
        time, key = place
        return any(written_time == time and written_key == key
                   for written_time, written_key in zip(pending[start::3],
                                                        keys))

    def _store_lent(self):
        # Buffer what changed of the values lent, as writes at their time
        # would (after what the buffer holds: the change is the later);
        # with the lock held, before a commit takes the buffer, or a read
        # of series (records, frames) reads it.
        lent, pending = self.lent, self.pending
        for place, entry in list(lent.items()):
            if self._written_since(entry, place):
                del lent[place]
                continue
            time, key = place
            try:
                stored = codec.encode(entry[0], key, self.allow_pickle,
                                      self.max_size)
            except (TypeError, ValueError) as error:
                warnings.warn(
                    'the value of {!r} at time {} was changed in place into '
                    'what cannot be stored ({}); its last stored value is '
                    'kept'.format(key, time, error), RuntimeWarning)
                del lent[place]
                continue
            if stored != entry[1]:
                # A key read, never written by this session: a read of it
                # looks in the buffer from now on (see MergedReads).
                self.known_keys.add(key)
                pending.extend((time, key, stored))
                if type(stored) in codec.SIZED:
                    self.pending_bytes += len(stored)
                entry[1] = stored
            if _ALONE is not None and _references(entry) != _ALONE:
                entry[2] = len(pending)  # past its own write
            else:
                del lent[place]

    def _lent_committed(self, count):
        # The buffer's first `count` items are committed, and about to be
        # taken out of it: a value lent that was written over since is not
        # the row's (found while the buffer holds the write: the commit
        # timer's commits do not look for it before, see
        # Commits._flush), and where the buffer stood for the others
        # moves back as much.
        lent = self.lent
        for place, entry in list(lent.items()):
            if self._written_since(entry, place):
                del lent[place]
            else:
                entry[2] = max(0, entry[2] - count)
