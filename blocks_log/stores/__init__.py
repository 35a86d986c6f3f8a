"""Stores: where a database log keeps its runs.

A store is the narrow, driver-specific floor under
:class:`blocks_log.database.DatabaseLog`: it opens and versions its schema,
keeps runs and their parents, claims a run for one writer, writes a run's
entries and status in one transaction, and answers reads with their key and
time filters in the query. Every driver error becomes one of
:mod:`blocks_log.errors` here; no module above this floor imports a driver.

- :mod:`blocks_log.stores.base`: the interface, and what every store shares.
- :mod:`blocks_log.stores.sqlite`: blocks_log's tables in SQLite.
- :mod:`blocks_log.stores.blocks`: Blocks' own tables in SQLite, read-only.

"""
