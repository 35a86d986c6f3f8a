"""The pieces of status lists in a store's tables (schema version 7, in
SQLite and PostgreSQL alike).

A status list that only grows (``_epoch_ends``, an int an epoch) is
stored as its value at ``STATUS_TIME`` followed by the items of its
pieces, in ``blocks_log_status_pieces``, as :meth:`Store.write
<blocks_log.stores.base.Store.write>` says: an epoch's end writes what it
adds. Piece 0 holds the token that the pieces were begun under: a writer
goes on only with the pieces it began, so that a forked parent and child
that both write the list never leave one's pieces on the other's value.

"""
from blocks_log import placeholders
from blocks_log.stores.base import StalePieces


def may_have_pieces(pieced, status):
    """Whether a key of `status` may have pieces to drop: one of `pieced`
    (the keys that have some), or, where that is ``None`` (not known, in
    a forked child), any key but ``iterations_done``, which has none."""
    if pieced is None:
        return any(key != 'iterations_done' for key in status)
    return bool(pieced) and not pieced.isdisjoint(status)


def keys_with_pieces(query, ref, sql):
    """The names of the status keys of run `ref` that have pieces, read
    with `query` (``connection.execute``, or a store's ``db.query``) in
    the dialect of `sql` (the store's SQL module)."""
    return set(key for key, in query(sql.SELECT_KEYS_OF_STATUS_PIECES,
                                     (ref,)))


def write(connection, ref, key_ids, pieced, status, deleted_status, pieces,
          appends, sql):
    """Write, in the write transaction of `connection`, the `pieces` of a
    commit of run `ref` (see :meth:`Store.write
    <blocks_log.stores.base.Store.write>`), and drop those of the keys of
    `status` (written whole) and of `deleted_status`.

    Parameters
    ----------
    key_ids : dict
        Key name -> id, of every key named.
    pieced : set or None
        The keys that have pieces before the commit; ``None``: read them.
    appends : bool
        Whether this store goes on with pieces (not in a forked child,
        whose session may have made some before it knew).
    sql : module
        The store's SQL (:mod:`.sqlite_sql` or :mod:`.postgresql_sql`).

    Returns
    -------
    set
        The keys that have pieces after the commit.

    Raises
    ------
    StalePieces
        If a piece does not go on from the pieces begun under its token.
    """
    if not pieces and pieced is not None and not pieced:
        return pieced  # none to write, none to drop
    pieced = set(keys_with_pieces(connection.execute, ref, sql)
                 if pieced is None else pieced)
    pieces = pieces or {}
    # Dropped, once each: the pieces of the values written whole or
    # deleted, and of those begun anew (index 0). `pieced` knows every key
    # that has pieces (only a forked child begins none, and it reads them),
    # so the latter are among the former: named again only so that pieces
    # this handle does not know of could never outlive a new beginning.
    dropped = set(key for key in pieced
                  if key in status or key in deleted_status)
    dropped.update(key for key, (_, index, _) in pieces.items() if not index)
    for key in dropped:
        connection.execute(sql.DELETE_STATUS_PIECES, (ref, key_ids[key], 0))
        pieced.discard(key)
    for key, (token, index, stored) in pieces.items():
        key_id = key_ids[key]
        if index:
            found = connection.execute(sql.SELECT_STATUS_PIECES_TOKEN,
                                       (ref, key_id)).fetchone()
            if not appends or found is None or found[0] != token:
                raise StalePieces(key)
            connection.execute(sql.DELETE_STATUS_PIECES, (ref, key_id, index))
        else:
            stored = token
        connection.execute(sql.INSERT_STATUS_PIECE,
                           sql.status_piece(ref, key_id, index, stored))
        pieced.add(key)
    return pieced


def extended(value, piece):
    """The status list `value` extended by its next `piece` (both decoded);
    an :class:`~blocks_log.placeholders.Undecodable` if either is damaged,
    or not a list."""
    if type(value) is list and type(piece) is list:
        value.extend(piece)
        return value
    for part in (value, piece):
        if isinstance(part, placeholders.Undecodable):
            return part
    return placeholders.Undecodable(
        piece, 'a piece of a status list, over a {} rather than a '
        'list'.format(type(value).__name__))
