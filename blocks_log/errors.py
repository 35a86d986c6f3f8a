"""Exceptions raised by blocks_log.

Each subclasses the built-in exception that callers of Blocks' ``blocks.log``
already catch, so that ``except ValueError`` (or ``KeyError``, ``TypeError``)
keeps working after porting.

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
    """A database cannot be used as a log: not a database, or corrupt.

    The message names the file.

    """


class SchemaVersionError(LogDatabaseError):
    """The database was written with a schema version this blocks_log does
    not read (a newer release, or a development version)."""


class UnknownRunError(LogError, KeyError):
    """No run with the given uuid (or uuid prefix) is held by the database."""

    def __str__(self):
        # KeyError quotes its argument; this message is a sentence.
        return str(self.args[0]) if self.args else ''


class AmbiguousRunError(UnknownRunError):
    """A uuid prefix names more than one run."""


class LogWriteError(LogError, OSError):
    """Buffered rows could not be committed (read-only file, full disk, ...).

    Nothing is lost: the rows stay buffered in memory and a later
    :meth:`~blocks_log.sqlite.SQLiteLog.flush` tries again.

    """


class ClosedLogError(LogError, ValueError):
    """The log was closed and cannot be used any more."""
