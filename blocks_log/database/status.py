"""The status of a session's run, as its commits store it.

A status value that cannot change in place is stored when it is set. One
that can (a list, a dict) is watched: kept with a copy that each commit
compares it with, in C, so that a change in place (``status['_epoch_ends']
.append(t)``, as Blocks' main loop ends an epoch) is stored by the next
commit. A status list that only grows is stored by what it gains, in
pieces where the store takes them (see :meth:`Store.write
<blocks_log.stores.base.Store.write>`): an epoch's end then writes the
items it adds, not the whole list again.

A list of values that cannot change in place (``_epoch_ends``, or a list
of ``(epoch, path)`` tuples) changes only through a reference to it.
While the status alone holds it, and none was handed out since it last
equalled its copy, it is not compared: so a commit costs the same at the
millionth iteration as at the first, rather than a compare of every
epoch's end (6 us at 10,000 epochs, at each commit; 71 us at 100,000
tuples). Its references are counted with :func:`sys.getrefcount` (in
CPython with the GIL; elsewhere every commit compares).

"""
import os
import sys
import warnings

from blocks_log import codec

#: Status values that cannot change in place: not re-encoded at commits.
IMMUTABLE = frozenset([int, float, str, bytes, bool, type(None)])


def _snapshot(value, depth=0):
    """A copy of the status value `value` to compare it with at each
    commit: its lists, tuples and dicts copied, what they hold that cannot
    change in place shared, so that comparing an unchanged value finds
    each of those identical, in C, without comparing it (a list of 10,000
    ints: 6 us, where a copy with ints of its own took 81, at every commit;
    ``_epoch_ends`` is such a list, an int an epoch); :data:`NO_SNAPSHOT`
    if it holds anything else (a numpy array, which may change in place),
    or is nested deeper than a store takes.
    """
    kind = type(value)
    if kind in IMMUTABLE:
        return value
    if depth >= codec.MAX_DEPTH:
        return NO_SNAPSHOT
    if kind is list or kind is tuple:
        if IMMUTABLE.issuperset(map(type, value)):
            return kind(value)  # as a rule: told, and copied, in C
        items = [_snapshot(item, depth + 1) for item in value]
        if any(item is NO_SNAPSHOT for item in items):
            return NO_SNAPSHOT
        return items if kind is list else tuple(items)
    if kind is dict:
        items = {}
        for key, item in value.items():
            item = _snapshot(item, depth + 1)
            if item is NO_SNAPSHOT or type(key) not in IMMUTABLE:
                return NO_SNAPSHOT
            items[key] = item
        return items
    return NO_SNAPSHOT


#: What :func:`_snapshot` gives of a value it cannot copy so.
NO_SNAPSHOT = object()


def fixed(value):
    """Whether `value` cannot change in place, nor anything it holds: a
    value of :data:`IMMUTABLE`, or a tuple of such values (a list of
    ``(epoch, path)`` pairs changes only through a reference to it, as a
    list of ints does)."""
    kind = type(value)
    return kind in IMMUTABLE or kind is tuple and all(map(fixed, value))


_getrefcount = getattr(sys, 'getrefcount', None)


def _references(values, key):
    # The references that the value of `key` in the dict `values` has,
    # counted as StatusCommits._changed_in_place() counts them (by the
    # same expression, inside a function: what the interpreter itself
    # holds meanwhile is counted alike).
    return _getrefcount(values[key])


#: What :func:`_references` counts of a value that its dict alone holds;
#: ``None`` where counts cannot tell (not CPython, or CPython without the
#: GIL, whose counts another thread may change unseen).
_ALONE = (_references({None: []}, None)
          if sys.implementation.name == 'cpython' and
          getattr(sys, '_is_gil_enabled', lambda: True)() else None)


class _EqualToAnything(object):
    """Stands in for the copy of a status value that is not watched."""
    def __eq__(self, other):
        return True


_EQUAL_TO_ANYTHING = _EqualToAnything()


class StatusCommits(object):
    """What a :class:`~blocks_log.database.session.Session` commits of its
    status: a mixin over its ``values`` (the status), ``dirty`` (``{key:
    stored}`` to commit), ``mutable`` (``{key: (stored or None, copy)}``
    of watched values), ``appended`` (``{key: items}`` the lists gained
    since the last commit), ``pieces`` (``{key: (token, sizes)}`` of the
    lists this session stored in pieces), ``flat_lists`` (the watched keys
    whose values are lists of values that cannot change in place),
    ``handed_out`` (whether a watched value may have changed since it
    last equalled its copy, by a reference handed out), ``store`` and
    ``encode()``. Its methods run with the session's lock held."""

    def _changed_in_place(self):
        # The keys of the mutable status values that may have been changed
        # in place (status['_epoch_ends'].append(t), as Blocks' main loop
        # does): each compared in C with a copy, and encoded only if it
        # differs (see _store_changed_in_place). A list in `flat_lists`
        # that the status alone holds, and that was not handed out since
        # it last equalled its copy (`handed_out`), is not compared: only
        # code holding a reference to it could have changed it (one found
        # by gc.get_objects() or ctypes aside).
        values = self.values
        changed = []
        # Cleared before any count is read: a reference handed out
        # meanwhile sets it again, once taken (see
        # DatabaseStatus.__getitem__), and one taken before is counted.
        handed_out, self.handed_out = self.handed_out, False
        flat = self.flat_lists if _ALONE is not None else ()
        for key, (_, copy) in self.mutable.items():
            if key in flat:
                # As _references() counts (inlined: once per commit).
                if _getrefcount(values[key]) != _ALONE:
                    self.handed_out = True  # held: compared while it is
                elif not handed_out:
                    continue
            try:
                if (values[key] == copy) is True:
                    continue
            except Exception:  # numpy arrays compare elementwise
                pass
            changed.append(key)
        if changed:
            # Compared again at the next call: _next_iteration() asks, and
            # _flush() stores them.
            self.handed_out = True
        return changed

    def _encoded_with_copy(self, value, key):
        # A mutable status value as stored, and the copy of it to compare it
        # with at commits (see _watch), where one shares what it holds (see
        # _snapshot); stored is then encoded from that copy, so that what
        # another thread changes meanwhile (the commit timer's commits while
        # the training loop appends to a list) is in neither, and found at
        # the next commit.
        copy = _snapshot(value)
        return self.encode(value if copy is NO_SNAPSHOT else copy, key), copy

    def _watch(self, key, stored, copy):
        # A mutable status value, as stored and as a copy to compare with
        # at each commit: comparing is C, encoding at every commit cost 20%
        # of the training-loop workload (callgrind, bench_sqlite.py). The
        # copy is decoded from what was stored where it is NO_SNAPSHOT.
        if copy is NO_SNAPSHOT:
            copy = codec.decode(stored, self.allow_pickle)
        self.mutable[key] = stored, copy
        if type(self.values[key]) is list and type(copy) is list and (
                IMMUTABLE.issuperset(map(type, copy)) or
                all(map(fixed, copy))):
            self.flat_lists.add(key)
        else:
            self.flat_lists.discard(key)

    def _store_changed_in_place(self, key, stored):
        value = self.values[key]
        try:
            if type(value) is list and self._grew(key, value):
                return
            now, copy = self._encoded_with_copy(value, key)
        except (TypeError, ValueError) as error:
            warnings.warn('status[{!r}] was changed in place into what cannot '
                          'be stored ({}); its last stored value is kept, '
                          'until it is set again'.format(key, error),
                          RuntimeWarning)
            self.mutable[key] = stored, _EQUAL_TO_ANYTHING  # said once
            return
        if now != stored:
            self._watch(key, now, copy)
            self.dirty[key] = now
            self._written_whole(key)

    # Status lists that grow.

    def _written_whole(self, key):
        # `key` is to be written whole (or deleted): what it gained goes
        # with it, and the store drops its pieces (a list's next gain is
        # then written whole, beginning pieces anew).
        self.appended.pop(key, None)
        self.pieces.pop(key, None)

    def _grew(self, key, value):
        # Whether the status list `value` holds what its copy does (what
        # was last stored of `key`, or is to be at the next commit) and
        # more, items that cannot change in place: these then wait in
        # `appended` for the next commit, which stores what they add (see
        # _pieces_of), and the copy holds them too. With the lock held.
        # Raises what encoding them raises.
        watched = self.mutable.get(key)
        if (watched is None or key == 'iterations_done' or
                key in self.dirty or not self.store.appends_status):
            return False
        copy = watched[1]
        count = len(copy) if type(copy) is list else -1
        if not 0 <= count < len(value):
            return False
        added = value[count:]
        if not (IMMUTABLE.issuperset(map(type, added)) or
                all(map(fixed, added))):
            return False
        try:
            if (value[:count] == copy) is not True:
                return False
        except Exception:  # numpy arrays compare elementwise
            return False
        self.encode(added, key)  # refused now, as set whole would be
        copy.extend(added)
        self.mutable[key] = None, copy  # stored: not known whole
        self.appended.setdefault(key, []).extend(added)
        return True

    def _pieces_of(self, appended):
        # What a commit writes of the status lists that grew by `appended`
        # (see _grew and Store.write): their pieces, {key: (token, index,
        # stored)}; those written whole, {key: stored}; and the (token,
        # sizes) of each after it. A list this session wrote no piece of
        # yet is written whole; after that, what it gains goes into
        # pieces as a binary counter carries: a new piece takes in those
        # before it that are no larger. So a list of n items has at most
        # log2(n) pieces, and an item is written about log2(n) times.
        pieces, wholes, layouts = {}, {}, {}
        appends = self.store.appends_status  # false in a forked child
        for key, added in appended.items():
            copy = self.mutable[key][1]
            token, sizes = self.pieces.get(key, (None, None))
            if not appends or sizes is None:
                wholes[key] = self.encode(copy, key)
                if appends:
                    # Random: a forked parent's and child's differ.
                    token = int.from_bytes(os.urandom(8), 'big') >> 1
                    pieces[key] = token, 0, None
                    layouts[key] = token, [len(copy)]
                continue
            sizes, size = list(sizes), len(added)
            while len(sizes) > 1 and sizes[-1] <= size:
                size += sizes.pop()
            pieces[key] = token, len(sizes), self.encode(copy[-size:], key)
            layouts[key] = token, sizes + [size]
        return pieces, wholes, layouts
