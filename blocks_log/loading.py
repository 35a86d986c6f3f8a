"""Loading a training log from a file: a pickle (of Blocks or blocks_log,
the log alone or inside a larger object) or a checkpoint tar of Blocks,
without running anything the file names unless asked to.

"""
import pickle

from blocks_log.checkpoints import Checkpoint, is_checkpoint
from blocks_log.pickles import find_log, load_pickle
from blocks_log.sources import is_postgresql, is_sqlite

__all__ = ['find_log', 'load']


def load(file, trusted=False):
    """Load a pickled training log, or any pickle that holds one, or the log
    of a checkpoint tar of Blocks.

    Blocks' ``blocks.log.log.TrainingLog`` and ``blocks.log.sqlite.SQLiteLog``
    are read as :class:`blocks_log.TrainingLog` and
    :class:`blocks_log.SQLiteLog` wherever they sit in the pickled object (a
    checkpoint often holds the log inside a larger object); Blocks need not
    be installed. Pickles of blocks_log objects load as they are. A path to
    a tar written by Blocks' ``Checkpoint`` extension gives its log (see
    :mod:`blocks_log.checkpoints`).

    By default nothing named by the file runs: every class but containers,
    numbers, numpy arrays and the log classes becomes an inert
    :class:`~blocks_log.pickles.Placeholder`, and a persistent log opens its
    database read-only. :func:`find_log` finds the log in what comes back.

    .. warning::

        ``trusted=True`` unpickles as :func:`pickle.load` does, and runs
        whatever code the file names. Use it only for files you made.

    Parameters
    ----------
    file : str, path-like or binary file object
        A path, or a file opened for reading in binary mode.
    trusted : bool, optional
        Build every class the file names, as :func:`pickle.load` would.

    Returns
    -------
    object
        The unpickled object, Blocks' classes replaced by ours.

    Raises
    ------
    OSError
        If a path cannot be opened.
    pickle.UnpicklingError, EOFError, ValueError
        If the file is not a (whole) pickle; the first, saying so, if
        `file` names a log database (an SQLite file, a PostgreSQL URL or
        DSN), which :func:`blocks_log.runs.open_source` opens.
    ImportError, AttributeError
        With ``trusted=True``, if the pickle names a class that is not
        installed.
    blocks_log.checkpoints.CheckpointError
        If a tar is not a checkpoint that can be read.
    blocks_log.errors.LogError
        If the pickle holds a persistent log whose database cannot be
        opened (missing, not a database, no such run).

    """
    if not hasattr(file, 'read'):
        if is_checkpoint(file):
            return Checkpoint(file, trusted=trusted).log
        if is_postgresql(file) or is_sqlite(file):
            # Else read as a pickle: "the STRING opcode argument must be
            # quoted", or a missing file.
            raise pickle.UnpicklingError(
                '{!r} is a log database, not a pickle: '
                'blocks_log.runs.open_source({!r}, run=...) opens a run '
                'of it for reading'.format(file, file))
    return load_pickle(file, trusted)
