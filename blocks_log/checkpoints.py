"""Blocks' checkpoints: the tar files of ``blocks.serialization``.

Blocks' ``Checkpoint`` extension wrote a tar holding ``_pkl``, the whole
main loop pickled, whose parameter arrays are persistent ids into
``_parameters`` (an npz), and, with ``save_separately=['log']``, ``log``,
the log pickled alone. This module reads them without Blocks, Theano or
the code that trained: the tar is read in memory (nothing is extracted),
and the pickles with :class:`~blocks_log.pickles.RestrictedUnpickler`, so
that the main loop, the algorithm and the Theano variables are inert
placeholders, never called, and the log is found among them.

"""
import io
import pickle
import posixpath
import tarfile

from blocks_log.errors import LogDatabaseError, LogError
from blocks_log.pickles import (BlocksUnpickler, PersistentPlaceholder,
                                RestrictedUnpickler, find_log)

#: The members a checkpoint may hold.
MAIN_LOOP, LOG, PARAMETERS = '_pkl', 'log', '_parameters'
# Blocks named the bricks of a parameter's path with this in the npz.
BRICK_DELIMITER = '|'


class CheckpointError(LogDatabaseError):
    """A file is not a checkpoint that can be read: not a tar, truncated,
    without a log, or with a member pointing outside the archive."""


def is_checkpoint(path):
    """Whether the file at `path` is a tar file (a checkpoint of Blocks),
    by the magic of its first header: a truncated tar is one too."""
    try:
        with open(path, 'rb') as f:
            return f.read(262)[257:] == b'ustar'
    except OSError:
        return False


class Checkpoint(object):
    """A checkpoint of Blocks, read without running anything it names.

    Parameters
    ----------
    path : str
    trusted : bool, optional
        Unpickle as Blocks did, running what the pickles name (Theano and
        Blocks must then be importable). Only for files you made.

    Attributes
    ----------
    path : str
    names : list of str
        The members of the tar.

    Raises
    ------
    CheckpointError
        If the file is not a tar, is truncated, has a member whose path
        leaves the archive, or holds neither ``_pkl`` nor ``log``.
    OSError
        If the file cannot be read.

    """
    def __init__(self, path, trusted=False):
        self.path = path
        self.trusted = trusted
        self._members = _read_members(path)
        self.names = list(self._members)
        if MAIN_LOOP not in self._members and LOG not in self._members:
            raise CheckpointError('{}: holds neither {} nor {}: not a '
                                  'checkpoint of Blocks'.format(
                                      path, MAIN_LOOP, LOG))
        self._parameters = None

    @property
    def parameters(self):
        """dict: the parameters, name -> numpy array, as Blocks'
        ``load_parameters`` gave them (brick paths with ``/``); empty when
        the checkpoint holds none.

        Raises
        ------
        CheckpointError
            If ``_parameters`` is not an npz of plain arrays.
        ImportError
            If numpy is not installed.
        """
        if self._parameters is None:
            self._parameters = {}
            data = self._members.get(PARAMETERS)
            if data is not None:
                import numpy
                try:
                    with numpy.load(io.BytesIO(data)) as arrays:
                        self._parameters = dict(
                            (name.replace(BRICK_DELIMITER, '/'),
                             arrays[name]) for name in arrays.files)
                except Exception as error:
                    raise CheckpointError('{}: {} is not an npz of arrays '
                                          '({})'.format(self.path,
                                                        PARAMETERS, error))
        return self._parameters

    def main_loop(self):
        """The main loop of ``_pkl``: a placeholder holding, in its
        ``state``, the log and what else the main loop held (the parameter
        arrays among them), unless `trusted`.

        Raises
        ------
        CheckpointError
            If there is no ``_pkl``, or it is not a whole pickle.
        blocks_log.errors.LogError
            If it holds a log of a database that cannot be opened.
        """
        if MAIN_LOOP not in self._members:
            raise CheckpointError('{}: holds no {}'.format(self.path,
                                                           MAIN_LOOP))
        return self._unpickle(MAIN_LOOP)

    @property
    def log(self):
        """The training log: the ``log`` member if there is one, else the
        log of the main loop.

        Raises
        ------
        CheckpointError
            If no log is found, or a pickle is not whole.
        blocks_log.errors.LogError
            If the log is a persistent one whose database cannot be opened.
        """
        if LOG in self._members:
            log = find_log(self._unpickle(LOG))
        else:
            log = find_log(self.main_loop())
        if log is None:
            raise CheckpointError('{}: holds no training log'.format(
                self.path))
        return log

    @property
    def status(self):
        """dict: the status of the main loop (its log's, in Blocks)."""
        return dict(self.log.status)

    def _unpickle(self, name):
        stream = io.BytesIO(self._members[name])
        if self.trusted:
            unpickler = BlocksUnpickler(stream)
            unpickler.persistent_load = self._persistent_load
        else:
            unpickler = RestrictedUnpickler(
                stream, persistent_load=self._persistent_load)
        try:
            return unpickler.load()
        except LogError:
            raise  # a log's database that cannot be opened, say
        except (pickle.UnpicklingError, EOFError, ValueError, TypeError,
                IndexError, KeyError, AttributeError, ImportError) as error:
            raise CheckpointError('{}: its {} cannot be read ({}: {})'.format(
                self.path, name, type(error).__name__, error))

    def _persistent_load(self, persistent_id):
        # Blocks' ids: '#1<array type>.<context>.<name>', or of old
        # releases '#<array type>.<name>'.
        if isinstance(persistent_id, bytes):
            persistent_id = persistent_id.decode('utf-8', 'replace')
        name = None
        if isinstance(persistent_id, str):
            if persistent_id.startswith('#1'):
                parts = persistent_id[2:].split('.', 2)
                name = parts[2] if len(parts) == 3 else None
            elif persistent_id.startswith('#'):
                parts = persistent_id[1:].split('.', 1)
                name = parts[1] if len(parts) == 2 else None
        if name is not None:
            array = self.parameters.get(name.replace(BRICK_DELIMITER, '/'))
            if array is not None:
                return array
        placeholder = PersistentPlaceholder()
        placeholder.persistent_id = persistent_id
        return placeholder


def _read_members(path):
    """The regular members of the tar at `path`, name -> bytes, read in
    memory; every member's path checked first."""
    try:
        with tarfile.open(path, mode='r:') as archive:
            members = archive.getmembers()
            for member in members:
                name = member.name
                if posixpath.isabs(name) or '..' in name.split('/') or (
                        member.issym() or member.islnk()):
                    raise CheckpointError(
                        '{}: refusing a checkpoint whose member {!r} points '
                        'outside the archive'.format(path, name))
            return dict((member.name, archive.extractfile(member).read())
                        for member in members
                        if member.isfile() and member.name in (
                            MAIN_LOOP, LOG, PARAMETERS))
    except CheckpointError:
        raise
    except (tarfile.TarError, EOFError, ValueError) as error:
        raise CheckpointError('{}: not a whole tar file ({})'.format(
            path, ' '.join(str(error).split())))


def load_parameters(path):
    """The parameters of a checkpoint, name -> numpy array, as Blocks'
    ``blocks.serialization.load_parameters`` gave them.

    Raises
    ------
    CheckpointError
        If the file is not a checkpoint, or its parameters cannot be read.
    """
    return Checkpoint(path).parameters
