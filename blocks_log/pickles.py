"""Reading pickles: logs (and checkpoints) written by Blocks or blocks_log,
and the pickled values inside Blocks' SQLite databases.

"""
import io
import pickle

# Where Blocks' classes live, and where ours do. A pickle names a class by
# module and name; these are the names Blocks' pickles use.
BLOCKS_CLASSES = {
    ('blocks.log.log', 'TrainingLog'): ('blocks_log.log', 'TrainingLog'),
    ('blocks.log.log', 'TrainingLogBase'): ('blocks_log.log',
                                            'TrainingLogBase'),
    ('blocks.log.sqlite', 'SQLiteLog'): ('blocks_log.sqlite', 'SQLiteLog'),
    ('blocks.log', 'TrainingLog'): ('blocks_log.log', 'TrainingLog'),
    ('blocks.log', 'SQLiteLog'): ('blocks_log.sqlite', 'SQLiteLog'),
}

# numpy moved its internals from numpy.core to numpy._core in 2.0; pickles
# name whichever wrote them.
_NUMPY_CORE_MODULES = ('numpy.core.multiarray', 'numpy._core.multiarray')


def _numpy_core_name(module, name):
    import numpy
    if int(numpy.__version__.split('.')[0]) >= 2:
        return 'numpy._core.multiarray', name
    return 'numpy.core.multiarray', name


class BlocksUnpickler(pickle.Unpickler):
    """An unpickler that maps Blocks' log classes to blocks_log's.

    Everything else is found as by :class:`pickle.Unpickler`.

    """
    def find_class(self, module, name):
        module, name = BLOCKS_CLASSES.get((module, name), (module, name))
        if module in _NUMPY_CORE_MODULES:
            module, name = _numpy_core_name(module, name)
        return super(BlocksUnpickler, self).find_class(module, name)


def load(file):
    """Load a pickled training log, or any pickle that holds one.

    Blocks' ``blocks.log.log.TrainingLog`` and ``blocks.log.sqlite.SQLiteLog``
    are read as :class:`blocks_log.TrainingLog` and
    :class:`blocks_log.SQLiteLog` wherever they sit in the pickled object (a
    checkpoint often holds the log inside a larger object); Blocks need not
    be installed. Pickles of blocks_log objects load as they are.

    .. warning::

        Unpickling runs code named by the file. Load only files you trust,
        exactly as with :func:`pickle.load`.

    Parameters
    ----------
    file : str, path-like or binary file object
        A path, or a file opened for reading in binary mode.

    Returns
    -------
    object
        The unpickled object, Blocks' classes replaced by ours.

    Raises
    ------
    OSError
        If a path cannot be opened.
    pickle.UnpicklingError, EOFError
        If the file is not a (whole) pickle.
    ImportError, AttributeError
        If the pickle names a class that is not installed (other than
        Blocks' log classes).

    """
    if hasattr(file, 'read'):
        return BlocksUnpickler(file).load()
    with open(file, 'rb') as stream:
        return BlocksUnpickler(stream).load()


# The callables a pickled value in a Blocks database may name: they build
# numpy arrays and scalars and nothing else. Containers and numbers need no
# callable at all in a pickle.
_SAFE_GLOBALS = frozenset([
    ('numpy', 'ndarray'),
    ('numpy', 'dtype'),
    ('numpy.core.multiarray', '_reconstruct'),
    ('numpy._core.multiarray', '_reconstruct'),
    ('numpy.core.multiarray', 'scalar'),
    ('numpy._core.multiarray', 'scalar'),
    ('_codecs', 'encode'),
    ('builtins', 'set'),
    ('builtins', 'frozenset'),
    ('builtins', 'complex'),
    ('builtins', 'bytearray'),
    ('__builtin__', 'set'),
    ('__builtin__', 'frozenset'),
    ('__builtin__', 'complex'),
    ('__builtin__', 'bytearray'),
])


class RestrictedUnpickler(pickle.Unpickler):
    """An unpickler that builds only plain containers, numbers, strings and
    numpy arrays and scalars.

    Any other class or function named by the pickle raises
    :class:`pickle.UnpicklingError`, so reading a value never runs code.

    """
    def find_class(self, module, name):
        if (module, name) in _SAFE_GLOBALS:
            if module in _NUMPY_CORE_MODULES:
                module, name = _numpy_core_name(module, name)
            return super(RestrictedUnpickler, self).find_class(module, name)
        raise pickle.UnpicklingError(
            "refusing to unpickle {}.{}: only containers, numbers and numpy "
            "arrays are read from a database without the pickle opt-in"
            .format(module, name))


def restricted_loads(data):
    """Unpickle `data` with :class:`RestrictedUnpickler`.

    Raises
    ------
    pickle.UnpicklingError
        If the pickle names anything but containers and numpy arrays.

    """
    return RestrictedUnpickler(io.BytesIO(data)).load()
