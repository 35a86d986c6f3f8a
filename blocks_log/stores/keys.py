"""Key ids: a store's values name their key by a number of the keys table,
made by the first write of a key and cached in each process."""
import itertools


class KeyIds(object):
    """The key caches of a store with a ``blocks_log_keys`` table.

    A store mixes this in, names its SQL module as ``sql`` (with
    ``SELECT_KEYS``, ``SELECT_KEY_ID`` and ``INSERT_KEY``), has a ``db``
    whose ``query(statement, parameters)`` returns rows, and starts its
    caches ``_key_ids`` (name to id) and ``_key_names`` (id to name)
    empty.

    """
    sql = None

    def _key_name(self, key_id):
        name = self._key_names.get(key_id)
        if name is None:
            # A key another process made since: read them all once.
            self._key_names.update(self.db.query(self.sql.SELECT_KEYS))
            name = self._key_names.get(key_id)
            if name is None:  # a batch damaged, or a row forged
                from blocks_log.stores.batches import DAMAGED_KEY, DAMAGED_NAME
                name = DAMAGED_NAME if key_id == DAMAGED_KEY else (
                    '<unknown key {}>'.format(key_id))
        return name

    def _key_id(self, name):
        """The id of a key, or None if no run wrote it yet."""
        key_id = self._key_ids.get(name)
        if key_id is None:
            rows = self.db.query(self.sql.SELECT_KEY_ID, (name,))
            if rows:
                key_id = self._key_ids[name] = rows[0][0]
        return key_id

    def _read_key_id(self, name):
        """The id to read the key `name` by: its id; for the name damaged
        batches read under (no key of a run has it), theirs; or None."""
        key_id = self._key_id(name)
        if key_id is None:
            from blocks_log.stores.batches import DAMAGED_KEY, DAMAGED_NAME
            if name == DAMAGED_NAME:
                return DAMAGED_KEY
        return key_id

    def _read_key_ids(self, names):
        """The ids to read the keys `names` by (see :meth:`_read_key_id`),
        those that have one; ``None`` for ``None`` (every key)."""
        if names is None:
            return None
        return [key_id for key_id in map(self._read_key_id, names)
                if key_id is not None]

    def _new_key_ids(self, connection, names):
        """Ids of those of `names` not cached yet, made in the write
        transaction of `connection`, in the order of their names; the
        caller caches them once it commits, or at once and forgets them
        if it does not (see :meth:`_cache_new_ids`)."""
        new_ids = {}
        # Made in one order everywhere: two writers of PostgreSQL making
        # the same new keys in opposite orders deadlocked on the keys'
        # index, and one's commit failed.
        for name in sorted(set(name for name in names
                               if name not in self._key_ids)):
            connection.execute(self.sql.INSERT_KEY, (name,))
            new_ids[name], = connection.execute(
                self.sql.SELECT_KEY_ID, (name,)).fetchone()
        return new_ids

    def _cache_new_ids(self, new_ids):
        """Cache `new_ids`, made in a write transaction that has not landed
        yet, and return the cache, by which the transaction maps its keys
        (a copy with them added took time as the keys grew: 62 us a commit
        at 20,000 keys). If it does not land, :meth:`_forget_ids`."""
        self._key_ids.update(new_ids)
        return self._key_ids

    def _forget_ids(self, new_ids):
        """Forget the cached `new_ids` of a transaction that did not land
        (another process may make those ids for other keys)."""
        for name in new_ids:
            self._key_ids.pop(name, None)

    def _new_ids_of_commit(self, connection, items, status):
        """:meth:`_new_key_ids` of the keys of a commit: of its `items`
        (flat, see :func:`.base.entries_of`), each looked at once, in C (a
        commit of 100 iterations names the same 10 keys 1,000 times), then
        of its `status`."""
        return self._new_key_ids(connection, itertools.chain(
            dict.fromkeys(items[1::3]), status))
