"""The SQL of the SQLite store: schema, migrations and statements.

Plain SQL with ``?`` placeholders. Schema (version 7). Runs and keys get
integer ids, so that an entry costs four integers and its value instead of
Blocks' 32-character uuid and key text on every row::

    blocks_log_meta(name PRIMARY KEY, value)         -- schema_version
    blocks_log_runs(id, uuid UNIQUE, resumed_from, created, writer,
                    deletions, span, packed, summary)
    blocks_log_keys(id, name UNIQUE)
    blocks_log_entries(run, time, key, value)        -- PK (run, time, key)
    blocks_log_chunks(run, block, key, first, last, count, kind, step,
                      times, "values", checksum)
                                            -- PK (run, block, key, first)
    blocks_log_clocks(...)                  -- as blocks_log_chunks
    blocks_log_status_pieces(run, key, piece, value)
                                            -- PK (run, key, piece)

A run's status is stored in ``blocks_log_entries`` too, at the reserved
time :data:`STATUS_TIME`: there it sorts right after the run's newest
entries, in the page that a commit of an iteration writes anyway. In a
table of its own, it cost every commit one more page written to the WAL,
about 8% of the time of the training-loop workload (schema version 1).
Since version 7, a status list that only grows (``_epoch_ends``, an int an
epoch) may go on in ``blocks_log_status_pieces``: its value is the list at
STATUS_TIME followed by the items of its pieces, in order (see
:meth:`blocks_log.stores.base.Store.write` and
:mod:`blocks_log.stores.status_pieces`), so that an epoch's end writes
what it adds, not the whole list again.

``writer`` is the claim of the handle writing the run (see
:mod:`blocks_log.stores.claims`); ``deletions`` is 1 once the run holds a
deleted value, which reads must then look for; ``summary`` is what a list
of runs shows of the run (JSON, see :meth:`.Store.summarize`), saved by its
writer when it lets the run go and cleared when one takes it: a list of a
file of many finished runs reads their rows, not their values.

``blocks_log_entries`` is the head: recent values, values that are not
numbers, and batches that hold a large one, as they were written. Since
version 5, a commit writes there one row per block of times it holds
values of, a batch of them (``key`` negative; see
:mod:`blocks_log.stores.batches`), and the status rows it changed, in one
statement; files of version 4 and before hold a row per value (``key`` its
id), which read as they are. Numbers of past blocks of ``span`` times are
packed, per key, into ``blocks_log_chunks`` (see
:mod:`blocks_log.stores.packing` and :mod:`blocks_log.stores.chunks`);
``block`` is ``first // span``, so that the chunks of a time are found in
one seek. Times below ``packed`` are packed: what is written there stays
in the head.

Since version 6, each batch is stamped with the wall clock of its commit,
and packing a block writes the clock of its times into
``blocks_log_clocks`` (see :mod:`blocks_log.stores.clock`).

Version 2 (blocks_log 0.1) lacks ``writer``, ``deletions``, ``span`` and the
chunks; version 3 lacks the chunks' ``checksum`` (its chunks are checked
without one, and mix no ints with floats); version 4 has no batches;
version 5 no clock; version 6 no pieces of status lists. Each
is read as it is, and migrated when opened for writing.

"""
import functools
import itertools
import operator

from blocks_log.stores import batches

SCHEMA_VERSION = 7
#: Versions read; older ones are migrated when opened for writing.
READABLE_VERSIONS = (2, 3, 4, 5, 6, 7)
# The largest SQLite integer: no iteration reaches it.
STATUS_TIME = 2 ** 63 - 1

TABLES = {
    'blocks_log_meta': {'name', 'value'},
    'blocks_log_runs': {'id', 'uuid', 'resumed_from', 'created', 'writer',
                        'deletions', 'span', 'packed', 'summary'},
    'blocks_log_keys': {'id', 'name'},
    'blocks_log_entries': {'run', 'time', 'key', 'value'},
    'blocks_log_chunks': {'run', 'block', 'key', 'first', 'last', 'count',
                          'kind', 'step', 'times', 'values', 'checksum'},
}
TABLES['blocks_log_clocks'] = set(TABLES['blocks_log_chunks'])
TABLES['blocks_log_status_pieces'] = {'run', 'key', 'piece', 'value'}
# The columns each version added to the tables of the one before, and the
# tables it added.
COLUMNS_ADDED = {
    3: {'blocks_log_runs': {'writer', 'deletions', 'span', 'packed',
                            'summary'}},
    4: {'blocks_log_chunks': {'checksum'}},
}
TABLES_ADDED = {3: {'blocks_log_chunks'}, 6: {'blocks_log_clocks'},
                7: {'blocks_log_status_pieces'}}


def tables_of(version):
    """The tables of schema `version` and their columns."""
    tables = dict((table, set(columns)) for table, columns in TABLES.items())
    for later in range(version + 1, SCHEMA_VERSION + 1):
        for table in TABLES_ADDED.get(later, ()):
            del tables[table]
        for table, columns in COLUMNS_ADDED.get(later, {}).items():
            if table in tables:
                tables[table] -= columns
    return tables


CREATE_CHUNKS = """CREATE TABLE IF NOT EXISTS blocks_log_chunks (
           run INTEGER NOT NULL,
           block INTEGER NOT NULL,
           key INTEGER NOT NULL,
           first INTEGER NOT NULL,
           last INTEGER NOT NULL,
           count INTEGER NOT NULL,
           kind TEXT NOT NULL,
           step INTEGER,
           times BLOB,
           "values" BLOB NOT NULL,
           checksum INTEGER,
           PRIMARY KEY (run, block, key, first)) WITHOUT ROWID"""
CREATE_CLOCKS = CREATE_CHUNKS.replace('blocks_log_chunks', 'blocks_log_clocks')
CREATE_STATUS_PIECES = """CREATE TABLE IF NOT EXISTS
           blocks_log_status_pieces (
           run INTEGER NOT NULL,
           key INTEGER NOT NULL,
           piece INTEGER NOT NULL,
           value NOT NULL,
           PRIMARY KEY (run, key, piece)) WITHOUT ROWID"""
CREATE_SCHEMA = (
    """CREATE TABLE IF NOT EXISTS blocks_log_meta (
           name TEXT PRIMARY KEY NOT NULL, value) WITHOUT ROWID""",
    """CREATE TABLE IF NOT EXISTS blocks_log_runs (
           id INTEGER PRIMARY KEY,
           uuid TEXT NOT NULL UNIQUE,
           resumed_from TEXT,
           created REAL NOT NULL,
           writer TEXT,
           deletions INTEGER NOT NULL DEFAULT 0,
           span INTEGER,
           packed INTEGER NOT NULL DEFAULT 0,
           summary TEXT)""",
    """CREATE TABLE IF NOT EXISTS blocks_log_keys (
           id INTEGER PRIMARY KEY,
           name TEXT NOT NULL UNIQUE)""",
    """CREATE TABLE IF NOT EXISTS blocks_log_entries (
           run INTEGER NOT NULL,
           time INTEGER NOT NULL,
           key INTEGER NOT NULL,
           value,
           PRIMARY KEY (run, time, key)) WITHOUT ROWID""",
    CREATE_CHUNKS,
    CREATE_CLOCKS,
    CREATE_STATUS_PIECES,
)
# The statements that bring a file of each version to the next.
MIGRATIONS = {
    2: (
        "ALTER TABLE blocks_log_runs ADD COLUMN writer TEXT",
        "ALTER TABLE blocks_log_runs ADD COLUMN deletions INTEGER NOT NULL "
        "DEFAULT 0",
        "ALTER TABLE blocks_log_runs ADD COLUMN span INTEGER",
        "ALTER TABLE blocks_log_runs ADD COLUMN packed INTEGER NOT NULL "
        "DEFAULT 0",
        "ALTER TABLE blocks_log_runs ADD COLUMN summary TEXT",
        CREATE_CHUNKS.replace('           checksum INTEGER,\n', ''),
    ),
    # Chunks of version 3 keep no checksum: NULL.
    3: ("ALTER TABLE blocks_log_chunks ADD COLUMN checksum INTEGER",),
    # Batches (rows of negative keys) in the entries: the same tables.
    4: (),
    # Batches stamped, and the clock of packed blocks.
    5: (CREATE_CLOCKS,),
    # Pieces of status lists.
    6: (CREATE_STATUS_PIECES,),
}
INSERT_SCHEMA_VERSION = (
    "INSERT OR REPLACE INTO blocks_log_meta (name, value) "
    "VALUES ('schema_version', ?)")
SELECT_SCHEMA_VERSION = (
    "SELECT value FROM blocks_log_meta WHERE name = 'schema_version'")
SELECT_TABLES = "SELECT name FROM sqlite_master WHERE type = 'table'"
TABLE_COLUMNS = "SELECT name FROM pragma_table_info(?)"

INSERT_RUN = ("INSERT INTO blocks_log_runs (uuid, resumed_from, created, "
              "writer, span) VALUES (?, ?, ?, ?, ?)")
# Version 2 has no writer, deletions, span nor summary: NULL and 0 stand in.
SELECT_RUN = ("SELECT id, uuid, resumed_from, created, {writer}, "
              "{summary}, {span} FROM blocks_log_runs WHERE uuid = ?")
SELECT_RUNS = ("SELECT id, uuid, resumed_from, created, {writer}, "
               "{summary}, {span} FROM blocks_log_runs ORDER BY id")
SELECT_WRITER = "SELECT writer FROM blocks_log_runs WHERE id = ?"
SELECT_WRITERS = ("SELECT id, uuid, writer FROM blocks_log_runs "
                  "WHERE writer IS NOT NULL")
SET_WRITER = ("UPDATE blocks_log_runs SET writer = ?, summary = NULL "
              "WHERE id = ?")
RELEASE_WRITER = ("UPDATE blocks_log_runs SET writer = NULL, summary = ? "
                  "WHERE id = ? AND writer = ?")
SET_PARENT = "UPDATE blocks_log_runs SET resumed_from = ? WHERE id = ?"
SELECT_DELETIONS = ("SELECT 1 FROM blocks_log_runs "
                    "WHERE deletions = 1 AND id IN {runs}")
MARK_DELETIONS = ("UPDATE blocks_log_runs SET deletions = 1 "
                  "WHERE id = ? AND deletions = 0")

INSERT_KEY = "INSERT OR IGNORE INTO blocks_log_keys (name) VALUES (?)"
SELECT_KEY_ID = "SELECT id FROM blocks_log_keys WHERE name = ?"
SELECT_KEYS = "SELECT id, name FROM blocks_log_keys"

UPSERT_ENTRY = ("INSERT INTO blocks_log_entries "
                "(run, time, key, value) VALUES (?, ?, ?, ?)")
# A value (key an id) replaces the one there; a batch (key below 0) never
# does: a batch of that time and part is another process's (parent and
# child of a fork count parts alike), and is kept. The statement's count
# of changes then falls short, and the writer writes its batch again in a
# new part (see sqlite_writes.SQLiteWrites.write).
_ON_CONFLICT = (" ON CONFLICT (run, time, key) DO UPDATE SET value = "
                "excluded.value WHERE excluded.key >= 0")
# Rows per statement of upsert_entries(): within every SQLite's limit of
# 999 parameters.
UPSERT_CHUNK = 100
# Status values are entries at STATUS_TIME, written with UPSERT_ENTRY.
DELETE_STATUS = ("DELETE FROM blocks_log_entries "
                 "WHERE run = ? AND time = {} AND key = ?".format(STATUS_TIME))
SELECT_STATUS = ("SELECT k.name, e.value FROM blocks_log_entries e "
                 "JOIN blocks_log_keys k ON k.id = e.key "
                 "WHERE e.run = ? AND e.time = {}".format(STATUS_TIME))
# The pieces of status lists (version 7; see Store.write): piece 0 holds
# the token they were begun under, pieces 1 and up the items that follow
# the value at STATUS_TIME; a piece written replaces those from its index
# on, and a value written whole (or deleted) drops them all.
SELECT_STATUS_PIECES = ("SELECT k.name, p.value FROM blocks_log_status_pieces "
                        "p JOIN blocks_log_keys k ON k.id = p.key "
                        "WHERE p.run = ? AND p.piece > 0{} "
                        "ORDER BY p.key, p.piece")
#: SELECT_STATUS and SELECT_STATUS_PIECES of one key.
OF_KEY = " AND k.name = ?"
SELECT_STATUS_PIECES_TOKEN = ("SELECT value FROM blocks_log_status_pieces "
                              "WHERE run = ? AND key = ? AND piece = 0")
SELECT_KEYS_OF_STATUS_PIECES = ("SELECT DISTINCT k.name FROM "
                                "blocks_log_status_pieces p JOIN "
                                "blocks_log_keys k ON k.id = p.key "
                                "WHERE p.run = ?")
DELETE_STATUS_PIECES = ("DELETE FROM blocks_log_status_pieces "
                        "WHERE run = ? AND key = ? AND piece >= ?")
INSERT_STATUS_PIECE = ("INSERT INTO blocks_log_status_pieces "
                       "(run, key, piece, value) VALUES (?, ?, ?, ?)")
HAS_STATUS_PIECES = ("SELECT 1 FROM sqlite_master WHERE type = 'table' "
                     "AND name = 'blocks_log_status_pieces'")


def status_piece(ref, key_id, index, stored):
    """The parameters of :data:`INSERT_STATUS_PIECE`."""
    return ref, key_id, index, stored


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
    if not rows:
        return []
    if len(rows) <= UPSERT_CHUNK:  # one iteration's worth
        return [(upsert_statement(len(rows)),
                 list(itertools.chain.from_iterable(rows)))]
    statements = []
    for start in range(0, len(rows), UPSERT_CHUNK):
        chunk = rows[start:start + UPSERT_CHUNK]
        statements.append((upsert_statement(len(chunk)),
                           list(itertools.chain.from_iterable(chunk))))
    return statements


@functools.lru_cache(maxsize=None)
def upsert_statement(count):
    """The statement that writes `count` rows (at most
    :data:`UPSERT_CHUNK`) of ``(run, time, key id, value)``: one of at most
    UPSERT_CHUNK texts, each compiled once by sqlite3's statement cache."""
    return UPSERT_ENTRY + ', (?, ?, ?, ?)' * (count - 1) + _ON_CONFLICT


def ids_list(ids):
    """``(1, 2, ...)``: the integer ids `ids` (of runs, of keys) as SQL
    literals.

    A lineage has no bound on its runs (a checkpoint begins one), nor a
    read on its keys, while a statement has on its placeholders (999
    before SQLite 3.32) and on the SELECTs it joins (500); ints written
    out are neither, and run no SQL of their own.

    Raises
    ------
    TypeError
        If an id is not an int.
    """
    return '(' + ', '.join(str(operator.index(id_)) for id_ in ids) + ')'


# Chunks: written by the writer of a run, the rows they hold deleted in the
# same transaction.
INSERT_CHUNK = ('INSERT INTO blocks_log_chunks (run, block, key, first, '
                'last, count, kind, step, times, "values", checksum) '
                'VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?)')
# The clock of a packed block (see blocks_log.stores.clock); a copy of a
# run writes its clock again where it finishes an interrupted one.
INSERT_CLOCK = INSERT_CHUNK.replace('INTO blocks_log_chunks',
                                    'OR REPLACE INTO blocks_log_clocks')
# Version 3 to 4: the checksums of the chunks there are.
SELECT_UNCHECKED_CHUNKS = ('SELECT run, key, block, first, last, count, kind, '
                           'step, times, "values", checksum '
                           'FROM blocks_log_chunks')
SELECT_SPANS = "SELECT id, span FROM blocks_log_runs"
UPDATE_CHECKSUM = ("UPDATE blocks_log_chunks SET checksum = ? WHERE run = ? "
                   "AND block = ? AND key = ? AND first = ?")
#: The columns of a chunk, in the order chunks.read takes them.
CHUNK_COLUMNS = ('key, block, first, last, count, kind, step, times, '
                 '"values", checksum')
# Packing a block (see blocks_log.stores.packing): its rows read (from
# the database, when the writer does not remember them), their times
# found, deleted in one sweep; where packing stands.
SELECT_BLOCK_ROWS = ("SELECT time, key, value FROM blocks_log_entries "
                     "WHERE run = ? AND time >= ? AND time < ?")
SELECT_NEXT_ROW = ("SELECT min(time) FROM blocks_log_entries "
                   "WHERE run = ? AND time >= ? AND time < ?")
DELETE_BLOCK_ROWS = ("DELETE FROM blocks_log_entries "
                     "WHERE run = ? AND time >= ? AND time < ?")
# A block's rows but those that stay (see packing.py): their times and
# keys, then the others deleted, one by one where one that stays shares
# their time.
SELECT_BLOCK_KEYS = ("SELECT time, key FROM blocks_log_entries "
                     "WHERE run = ? AND time >= ? AND time < ?")
SELECT_HEAD_ROW = ("SELECT time, key, value FROM blocks_log_entries "
                   "WHERE run = ? AND time = ? AND key = ?")
DELETE_ROW = ("DELETE FROM blocks_log_entries "
              "WHERE run = ? AND time = ? AND key = ?")
COUNT_BLOCK_ROWS = ("SELECT count(*) FROM blocks_log_entries "
                    "WHERE run = ? AND time >= ? AND time < ?")
SET_PACKED = "UPDATE blocks_log_runs SET packed = ? WHERE id = ?"
# Where a writer that opens a run goes on: its next part (above every
# batch's), the first block past every value it holds.
SELECT_LOWEST_KEY = ("SELECT min(key) FROM blocks_log_entries "
                     "WHERE run = ? AND key < 0")
SELECT_LAST_ROW_BEFORE_STATUS = (
    "SELECT max(time) FROM blocks_log_entries WHERE run = ? AND time < "
    "{}".format(STATUS_TIME))
SELECT_LAST_BLOCK = "SELECT max(block) FROM blocks_log_chunks WHERE run = ?"


def entry_of(row):
    """``(time, key, stored)`` of a row of :data:`SELECT_BLOCK_ROWS`."""
    return row


def write_rest(connection, ref, rest, packing):
    """Write `rest`, values of a block that are not numbers (``(times, key
    ids, stored values)``, lists), again in a pack: one batch (see
    :mod:`blocks_log.stores.batches`) of a part of its own, so that what
    is written there later wins."""
    times, key_ids, values = rest
    spread, blob = batches.encode(times, key_ids, values)
    connection.execute(upsert_statement(1), (ref, times[0], batches.key_of(
        packing.next_part(), spread), blob))


SELECT_PACKED = "SELECT packed FROM blocks_log_runs WHERE id = ?"
# {checksum} is NULL in a file of version 3; {values} NULL where only the
# times are read.
SELECT_CHUNKS = ('SELECT key, block, first, last, count, kind, step, times, '
                 '{values}, {checksum} FROM blocks_log_chunks WHERE run = ? '
                 'AND block >= ? AND block <= ? {keys} '
                 'ORDER BY block, key, first')

# Reads of one run: the store merges a lineage run by run. The time bounds
# keep STATUS_TIME out.
# Where a run began (a batch's time is the first it holds).
SELECT_FIRST_ROW_TIME = ("SELECT min(time) FROM blocks_log_entries "
                         "WHERE run = ? AND time < {}".format(STATUS_TIME))
SELECT_FIRST_CHUNK_TIME = ("SELECT min(first) FROM blocks_log_chunks "
                           "WHERE run = ?")
# Where the values of a run in a range of times end: its last row, and the
# last time of the chunks of its last block (whose first is in the range).
SELECT_LAST_ROW_TIME = ("SELECT max(time) FROM blocks_log_entries "
                        "WHERE run = ? AND time >= ? AND time < ?")
SELECT_LAST_CHUNK_TIME = (
    "SELECT last FROM blocks_log_chunks WHERE run = ? AND block >= ? AND "
    "block <= ? AND first < ? AND last >= ? ORDER BY block DESC, last DESC "
    "LIMIT 1")
# The head over [start, stop) (see Store._head): the rows there, and the
# batches of several times that begin before it in its first block.
SELECT_RECORDS = ("SELECT time, key, value FROM blocks_log_entries "
                  "WHERE run = ? AND time >= ? AND time < ? AND (time >= ? "
                  "OR (key < 0 AND (-key - 2) % 2 = 1))")
SELECT_CLOCKS = SELECT_CHUNKS.format(
    keys='', values='"values"', checksum='checksum').replace(
        'blocks_log_chunks', 'blocks_log_clocks')
SELECT_KEYS_OF_CHUNKS = ("SELECT DISTINCT key FROM blocks_log_chunks "
                         "WHERE run = ?")
