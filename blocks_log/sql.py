"""The SQL of persistent logs: schema, statements and the lineage of runs.

Plain SQL with ``?`` placeholders, shared by every SQL backend; what is
particular to :mod:`sqlite3` (pragmas, connections, files) lives in
:mod:`blocks_log.sqlite_db`.

Schema (version 2). Runs and keys get integer ids, so that an entry costs
four integers and its value instead of Blocks' 32-character uuid and key
text on every row (measured in ``benchmarks/bench_sqlite.py``)::

    blocks_log_meta(name PRIMARY KEY, value)         -- schema_version
    blocks_log_runs(id, uuid UNIQUE, resumed_from, created)
    blocks_log_keys(id, name UNIQUE)
    blocks_log_entries(run, time, key, value)        -- PK (run, time, key)

A run's status is stored in ``blocks_log_entries`` too, at the reserved
time :data:`STATUS_TIME`: there it sorts right after the run's newest
entries, in the page that a commit of an iteration writes anyway. In a
table of its own, it cost every commit one more page written to the WAL,
about 8% of the time of the training-loop workload (schema version 1).

Blocks' own tables, ``entries`` and ``status``, may share the file: they
are read (:data:`BLOCKS_SELECT_ROW` and friends) and never written.

"""
import functools
import itertools

SCHEMA_VERSION = 2
# The largest SQLite integer: no iteration reaches it.
STATUS_TIME = 2 ** 63 - 1

CREATE_SCHEMA = (
    """CREATE TABLE IF NOT EXISTS blocks_log_meta (
           name TEXT PRIMARY KEY NOT NULL, value) WITHOUT ROWID""",
    """CREATE TABLE IF NOT EXISTS blocks_log_runs (
           id INTEGER PRIMARY KEY,
           uuid TEXT NOT NULL UNIQUE,
           resumed_from TEXT,
           created REAL NOT NULL)""",
    """CREATE TABLE IF NOT EXISTS blocks_log_keys (
           id INTEGER PRIMARY KEY,
           name TEXT NOT NULL UNIQUE)""",
    """CREATE TABLE IF NOT EXISTS blocks_log_entries (
           run INTEGER NOT NULL,
           time INTEGER NOT NULL,
           key INTEGER NOT NULL,
           value,
           PRIMARY KEY (run, time, key)) WITHOUT ROWID""",
)
INSERT_SCHEMA_VERSION = (
    "INSERT OR IGNORE INTO blocks_log_meta (name, value) "
    "VALUES ('schema_version', ?)")
SELECT_SCHEMA_VERSION = (
    "SELECT value FROM blocks_log_meta WHERE name = 'schema_version'")
SELECT_TABLES = "SELECT name FROM sqlite_master WHERE type = 'table'"

INSERT_RUN = ("INSERT INTO blocks_log_runs (uuid, resumed_from, created) "
              "VALUES (?, ?, ?)")
SELECT_RUN = "SELECT id, resumed_from FROM blocks_log_runs WHERE uuid = ?"
SELECT_RUNS = ("SELECT id, uuid, resumed_from, created FROM blocks_log_runs "
               "ORDER BY id")
SELECT_RUNS_BY_PREFIX = ("SELECT uuid FROM blocks_log_runs "
                         "WHERE uuid >= ? AND uuid < ? ORDER BY uuid")

INSERT_KEY = "INSERT OR IGNORE INTO blocks_log_keys (name) VALUES (?)"
SELECT_KEY_ID = "SELECT id FROM blocks_log_keys WHERE name = ?"
SELECT_KEYS = "SELECT id, name FROM blocks_log_keys"

UPSERT_ENTRY = ("INSERT OR REPLACE INTO blocks_log_entries "
                "(run, time, key, value) VALUES (?, ?, ?, ?)")
# Rows per statement of upsert_entries(): within every SQLite's limit of
# 999 parameters.
UPSERT_CHUNK = 100
# Status values are entries at STATUS_TIME, written with UPSERT_ENTRY.
DELETE_STATUS = ("DELETE FROM blocks_log_entries "
                 "WHERE run = ? AND time = {} AND key = ?".format(STATUS_TIME))
SELECT_STATUS = ("SELECT k.name, e.value FROM blocks_log_entries e "
                 "JOIN blocks_log_keys k ON k.id = e.key "
                 "WHERE e.run = ? AND e.time = {}".format(STATUS_TIME))


def upsert_entries(rows):
    """Statements that write `rows`, as ``(sql, parameters)`` pairs.

    One ``INSERT`` of many rows costs SQLite about a quarter fewer
    instructions than :data:`UPSERT_ENTRY` run once per row by
    ``executemany`` (callgrind, issue 3); later rows win over earlier ones
    with the same key, as they would one by one.

    Parameters
    ----------
    rows : list of tuple
        ``(run, time, key id, value)`` each.

    Returns
    -------
    list of (str, list)

    """
    statements = []
    for start in range(0, len(rows), UPSERT_CHUNK):
        chunk = rows[start:start + UPSERT_CHUNK]
        statements.append((_upsert_rows(len(chunk)),
                           list(itertools.chain.from_iterable(chunk))))
    return statements


@functools.lru_cache(maxsize=None)
def _upsert_rows(count):
    # At most UPSERT_CHUNK distinct texts, each compiled once by sqlite3's
    # statement cache.
    return UPSERT_ENTRY + ', (?, ?, ?, ?)' * (count - 1)


def in_list(count):
    """``(?, ?, ...)`` with `count` placeholders."""
    return '(' + ', '.join('?' * count) + ')'


# Reads through a lineage take the run ids (nearest first) as an IN list;
# the caller keeps, for each (time, key), the value of the nearest run.
SELECT_ROW = ("SELECT run, key, value FROM blocks_log_entries "
              "WHERE time = ? AND run IN {runs}")
SELECT_TIMES = ("SELECT DISTINCT time FROM blocks_log_entries "
                "WHERE run IN {runs} AND time < %d "
                "ORDER BY time" % STATUS_TIME)
SELECT_RECORDS = ("SELECT run, time, key, value FROM blocks_log_entries "
                  "WHERE run IN {runs} AND time >= ? AND time < ? "
                  "ORDER BY time, key")

# Blocks' tables (blocks/log/sqlite.py), read-only.
BLOCKS_TABLES = frozenset(['entries', 'status'])
BLOCKS_SELECT_RUN = ("SELECT value FROM status "
                     "WHERE uuid = ? AND key = 'resumed_from'")
BLOCKS_SELECT_RUN_EXISTS = "SELECT 1 FROM status WHERE uuid = ? LIMIT 1"
BLOCKS_SELECT_RUNS = "SELECT DISTINCT uuid FROM status ORDER BY uuid"
BLOCKS_SELECT_STATUS = "SELECT key, value FROM status WHERE uuid = ?"
BLOCKS_SELECT_ROW = ("SELECT uuid, key, value FROM entries "
                     "WHERE time = ? AND uuid IN {runs}")
BLOCKS_SELECT_TIMES = ("SELECT DISTINCT time FROM entries "
                       "WHERE uuid IN {runs} ORDER BY time")
BLOCKS_SELECT_RECORDS = ("SELECT uuid, time, key, value FROM entries "
                         "WHERE uuid IN {runs} AND time >= ? AND time < ? "
                         "ORDER BY time, key")
