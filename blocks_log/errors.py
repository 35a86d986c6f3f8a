"""Exceptions raised by blocks_log.

Each subclasses the built-in exception that callers of Blocks' ``blocks.log``
already catch, so that ``except ValueError`` (or ``KeyError``, ``TypeError``)
keeps working after porting. No exception of a database driver
(``sqlite3.Error``) reaches a user: the stores turn each into one of these.

"""


class RowNotAvailableError(ValueError, IndexError):
    """A relative row (``previous_row``, ``last_epoch_row``) does not exist.

    Blocks raised a ``ValueError`` for ``previous_row`` before the first
    iteration and an ``IndexError`` for ``last_epoch_row`` before the first
    epoch; this error is both, and its message says which row and why.

    """


class LogError(Exception):
    """Base class of the errors that concern a persistent log's storage."""


class LogDatabaseError(LogError, ValueError):
    """A database cannot be used as a log: missing, not a database, corrupt,
    or holding a table of ours that is not ours.

    The message names the file.

    """


class DamagedLogError(LogDatabaseError):
    """What a reading command met was damaged: numbers of a run packed in
    a chunk that does not check (see
    :class:`blocks_log.placeholders.DamagedChunk`, which reads from Python
    give in their place). The message names the
    run, the key and the times."""


class SchemaVersionError(LogDatabaseError):
    """The database was written with a schema version this blocks_log does
    not read (a newer release, or a development version), or its version
    record is damaged."""


class UnknownRunError(LogError, KeyError):
    """No run with the given uuid (or uuid prefix) is held by the database."""

    def __str__(self):
        # KeyError quotes its argument; this message is a sentence.
        return str(self.args[0]) if self.args else ''


class AmbiguousRunError(UnknownRunError):
    """A uuid prefix names more than one run."""


class UnknownKeyError(LogError, KeyError):
    """A key was asked for that no run asked about holds; the message
    lists the keys they hold."""

    def __str__(self):
        return str(self.args[0]) if self.args else ''


class RunInUseError(LogError, RuntimeError):
    """A run is already open for writing, by another handle or process.

    Two writers on one run would interleave their iterations silently, so
    the second writable open is refused; the message names the run and its
    writer. A writer that was killed does not hold the run: its claim is
    found stale and taken over. A writer of an SQLite file is refused too
    while another machine writes the file (see :class:`~blocks_log.SQLiteLog`).

    """


class ReadOnlyLogError(LogError, TypeError):
    """A write into a log that cannot take it: opened read-only, or a run
    written by Blocks (``resume()`` it to write a child run)."""


class LogWriteError(LogError, OSError):
    """Buffered rows could not be committed (read-only file, full disk, ...).

    Nothing is lost: the rows stay buffered in memory and a later
    ``flush()`` tries again.

    """


class ClosedLogError(LogError, ValueError):
    """The log was closed and cannot be used any more."""


class ReentrantReadError(LogError, RuntimeError):
    """A read of a database log by code that interrupted the log's own
    commit, resume or close in the same thread: a signal's handler, as a
    rule (Python runs it in the main thread, between two steps of whatever
    that thread does). The store is half-way through that work, and what
    the read would find there is not whole yet, so it is refused rather
    than answered wrong; the work goes on once the handler returns, and
    nothing logged is lost.

    Writes, ``flush()``, ``resume()``, pickling and ``close()`` work from
    such code (the last four as the interrupted work ends). To read from a
    handler, set a flag there and read from the loop.

    """
