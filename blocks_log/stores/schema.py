"""A store's tables, made or brought up to date: the same steps on every
store, each in its own dialect (its ``sql`` module)."""
from blocks_log.stores import chunks


def prepare(connection, version, sql):
    """Make the schema of `sql` (``CREATE_SCHEMA``) where `version` is
    ``None``, or bring it from `version` up to ``SCHEMA_VERSION`` (by
    ``MIGRATIONS``), and record the version; in the write transaction of
    `connection` (a DB-API connection with ``execute``), which the caller
    commits or rolls back. Raises what the driver raises."""
    if version == sql.SCHEMA_VERSION:
        return
    if version is None:
        for statement in sql.CREATE_SCHEMA:
            connection.execute(statement)
    else:
        for step in range(version, sql.SCHEMA_VERSION):
            for statement in sql.MIGRATIONS[step]:
                connection.execute(statement)
            if step == 3:
                # Chunks of version 3 get their checksums.
                spans = dict(connection.execute(sql.SELECT_SPANS).fetchall())
                updates = chunks.checksums(connection.execute(
                    sql.SELECT_UNCHECKED_CHUNKS).fetchall(), spans)
                connection.cursor().executemany(sql.UPDATE_CHECKSUM,
                                                list(updates))
    connection.execute(sql.INSERT_SCHEMA_VERSION, (sql.SCHEMA_VERSION,))
