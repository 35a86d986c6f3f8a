"""Reading pickles: logs (and checkpoints) written by Blocks or blocks_log,
and the pickled values inside Blocks' SQLite databases.

A pickle names the functions that rebuild it, and unpickling calls them: a
file someone sent you can run any code. So every pickle is read with
:class:`RestrictedUnpickler` unless the caller opts in: it builds only
containers, numbers, strings, numpy arrays, uuids and the log classes of
Blocks and blocks_log; any other class or function named by the file
becomes an inert :class:`Placeholder` that records what the file said and is
never called.

"""
import copyreg
import pickle
import threading

# Where Blocks' classes live, and where ours do. A pickle names a class by
# module and name; these are the names Blocks' pickles use.
BLOCKS_CLASSES = {
    ('blocks.log.log', 'TrainingLog'): ('blocks_log.log', 'TrainingLog'),
    ('blocks.log.log', 'TrainingLogBase'): ('blocks_log.log',
                                            'TrainingLogBase'),
    ('blocks.log.sqlite', 'SQLiteLog'): ('blocks_log.sqlite', 'SQLiteLog'),
    # Views of Blocks' SQLiteLog, pickled in its state: what they held
    # is read again from the database.
    ('blocks.log.sqlite', 'SQLiteStatus'): ('blocks_log.pickles',
                                            'BlocksView'),
    ('blocks.log.sqlite', 'SQLiteEntry'): ('blocks_log.pickles',
                                           'BlocksView'),
    ('blocks.log', 'TrainingLog'): ('blocks_log.log', 'TrainingLog'),
    ('blocks.log', 'SQLiteLog'): ('blocks_log.sqlite', 'SQLiteLog'),
}

# numpy moved its internals from numpy.core to numpy._core in 2.0; pickles
# name whichever wrote them.
_NUMPY_CORE = {'numpy.core.multiarray': 'multiarray',
               'numpy._core.multiarray': 'multiarray',
               'numpy.core.numeric': 'numeric',
               'numpy._core.numeric': 'numeric'}

# What a pickle may name: each builds a value and runs nothing else.
# Containers, numbers and strings need no name at all in a pickle.
_VALUE_GLOBALS = frozenset([
    ('numpy', 'ndarray'), ('numpy', 'dtype'),
    ('numpy.core.multiarray', '_reconstruct'),
    ('numpy._core.multiarray', '_reconstruct'),
    ('numpy.core.multiarray', 'scalar'), ('numpy._core.multiarray', 'scalar'),
    ('numpy.core.numeric', '_frombuffer'),
    ('numpy._core.numeric', '_frombuffer'),
    ('_codecs', 'encode'),
    ('builtins', 'set'), ('builtins', 'frozenset'), ('builtins', 'complex'),
    ('builtins', 'bytearray'), ('builtins', 'slice'), ('builtins', 'range'),
    ('builtins', 'object'), ('builtins', 'dict'), ('builtins', 'list'),
    ('builtins', 'tuple'), ('builtins', 'int'), ('builtins', 'float'),
    ('builtins', 'str'), ('builtins', 'bytes'), ('builtins', 'bool'),
    ('__builtin__', 'set'), ('__builtin__', 'frozenset'),
    ('__builtin__', 'complex'), ('__builtin__', 'bytearray'),
    ('__builtin__', 'object'),
    ('collections', 'OrderedDict'), ('collections', 'defaultdict'),
    ('collections', 'deque'),
    ('datetime', 'datetime'), ('datetime', 'date'), ('datetime', 'time'),
    ('datetime', 'timedelta'),
    ('uuid', 'UUID'), ('uuid', 'SafeUUID'),
])
# The log classes a loaded object may hold (after BLOCKS_CLASSES).
_LOG_GLOBALS = frozenset([
    ('blocks_log.log', 'TrainingLog'),
    ('blocks_log.log', '_ALL_ROWS'),  # the key of every row, in one item
    ('blocks_log.sqlite', 'SQLiteLog'),
    ('blocks_log.pickles', 'BlocksView'),
])

_loading = threading.local()


def loading_restricted():
    """Whether the calling thread is inside a restricted load.

    A persistent log unpickled then opens its database read-only and never
    unpickles values from it: the file that named the database may be
    hostile.

    """
    return getattr(_loading, 'restricted', False)


def _reconstructor(cls, base, state):
    # copyreg._reconstructor, which protocols 0 and 1 name for instances of
    # plain classes, without calling anything but what may be built.
    if isinstance(cls, type) and issubclass(cls, Placeholder):
        placeholder = cls()
        placeholder.state = state
        return placeholder
    return copyreg._reconstructor(cls, base, state)


def _numpy_global(module, name):
    import numpy
    core = 'numpy._core.' if int(numpy.__version__.split('.')[0]) >= 2 else (
        'numpy.core.')
    return core + _NUMPY_CORE[module], name


class Placeholder(object):
    """An object of a class that a restricted load would not build.

    Records what the pickle said, and does nothing else: it never calls
    the class, nor anything the pickle names.

    Attributes
    ----------
    args : tuple
        The arguments the pickle gave the class.
    state : object
        The state the pickle gave the object (often a dict), or ``None``.
    items : list
        What the pickle appended to it (a list subclass).
    mapping : dict
        What the pickle set in it (a dict subclass).

    """
    pickle_module = None
    pickle_name = None

    def __new__(cls, *args, **kwargs):
        placeholder = object.__new__(cls)
        placeholder.args = args
        placeholder.state = None
        placeholder.items = []
        placeholder.mapping = {}
        return placeholder

    def __init__(self, *args, **kwargs):
        pass

    def __setstate__(self, state):
        self.state = state

    def append(self, item):
        self.items.append(item)

    def extend(self, items):
        self.items.extend(items)

    def __setitem__(self, key, value):
        self.mapping[key] = value

    def __reduce__(self):
        raise TypeError('a {!r} cannot be pickled again'.format(self))

    def __repr__(self):
        return '<placeholder for {}.{}>'.format(self.pickle_module,
                                                self.pickle_name)


def placeholder_class(module, name):
    """A :class:`Placeholder` subclass standing for `module`.`name`."""
    return type(str(name), (Placeholder,), {
        'pickle_module': module, 'pickle_name': name,
        '__module__': 'blocks_log.pickles.placeholders'})


class BlocksView(Placeholder):
    """The status or a row of Blocks' ``SQLiteLog``, unpickled with it:
    inert, since the log reads them from its database again."""
    pickle_module = 'blocks.log.sqlite'
    pickle_name = 'view'


class PersistentPlaceholder(Placeholder):
    """What a persistent id of the pickle stands for, when nothing resolves
    it (Blocks' checkpoints keep parameters outside their ``_pkl``).

    Attributes
    ----------
    persistent_id : object
        The id the pickle gave.

    """
    pickle_name = 'persistent id'

    def __repr__(self):
        return '<placeholder for persistent id {!r}>'.format(
            self.persistent_id)


class BlocksUnpickler(pickle.Unpickler):
    """An unpickler that maps Blocks' log classes to blocks_log's and finds
    everything else as :class:`pickle.Unpickler` does: it runs whatever the
    pickle names. Used only with ``trusted=True``."""

    def find_class(self, module, name):
        module, name = BLOCKS_CLASSES.get((module, name), (module, name))
        if module in _NUMPY_CORE:
            module, name = _numpy_global(module, name)
        return super(BlocksUnpickler, self).find_class(module, name)


class RestrictedUnpickler(pickle.Unpickler):
    """An unpickler that builds values, logs and nothing else.

    Containers, numbers, strings, numpy arrays and scalars, uuids, dates,
    and the log classes of Blocks and blocks_log are built; a persistent
    log opens its database read-only (see :func:`loading_restricted`).
    Any other class or function the pickle names becomes a
    :class:`Placeholder`, or, with ``placeholders=False``, is refused.

    Parameters
    ----------
    file : binary file
    placeholders : bool
        Stand an inert placeholder in for what may not be built (what
        :func:`load` does), rather than raise.
    persistent_load : callable, optional
        Resolves persistent ids; without it each becomes a
        :class:`PersistentPlaceholder` (or is refused).

    Raises
    ------
    pickle.UnpicklingError
        With ``placeholders=False``, on a name that may not be built.

    """
    def __init__(self, file, placeholders=True, persistent_load=None):
        super(RestrictedUnpickler, self).__init__(file)
        self._placeholders = placeholders
        self._classes = {}
        self._resolve_persistent = persistent_load

    def persistent_load(self, persistent_id):
        if self._resolve_persistent is not None:
            return self._resolve_persistent(persistent_id)
        if not self._placeholders:
            raise pickle.UnpicklingError(
                'refusing a persistent id in a stored value')
        placeholder = PersistentPlaceholder()
        placeholder.persistent_id = persistent_id
        return placeholder

    def find_class(self, module, name):
        module, name = BLOCKS_CLASSES.get((module, name), (module, name))
        if name == '_reconstructor' and module in ('copyreg', 'copy_reg'):
            return _reconstructor
        if (module, name) in _VALUE_GLOBALS or (
                self._placeholders and (module, name) in _LOG_GLOBALS):
            if module in _NUMPY_CORE:
                module, name = _numpy_global(module, name)
            return super(RestrictedUnpickler, self).find_class(module, name)
        if not self._placeholders:
            raise pickle.UnpicklingError(
                "refusing to unpickle {}.{}: only containers, numbers and "
                "numpy arrays are read from a database without the pickle "
                "opt-in".format(module, name))
        if (module, name) not in self._classes:
            self._classes[module, name] = placeholder_class(module, name)
        return self._classes[module, name]

    def load(self):
        previous = loading_restricted()
        _loading.restricted = True
        try:
            return super(RestrictedUnpickler, self).load()
        finally:
            _loading.restricted = previous


def load_pickle(file, trusted=False):
    """Load a pickle: what :func:`blocks_log.load` does for a file that is
    not a checkpoint tar (see there).

    Parameters
    ----------
    file : str, path-like or binary file object
    trusted : bool, optional

    Raises
    ------
    OSError, pickle.UnpicklingError, EOFError, ValueError, ImportError,
    AttributeError, blocks_log.errors.LogError
        As :func:`blocks_log.load`.
    """
    if hasattr(file, 'read'):
        return _unpickler(file, trusted).load()
    with open(file, 'rb') as stream:
        return _unpickler(stream, trusted).load()


def _unpickler(stream, trusted):
    return BlocksUnpickler(stream) if trusted else RestrictedUnpickler(stream)


def find_log(value, max_depth=12):
    """Return the training log held by `value`, or ``None``.

    Looks into containers, object states and placeholders (a checkpoint's
    main loop keeps its log in its state), breadth first, so that the log
    nearest the top wins.

    """
    from blocks_log.base import TrainingLogBase
    level, seen = [value], set()
    for _ in range(max_depth):
        below = []
        for item in level:
            if isinstance(item, TrainingLogBase):
                return item
            if id(item) in seen:
                continue
            seen.add(id(item))
            below.extend(_children(item))
        level = below
    return None


def _children(item):
    if isinstance(item, dict):
        return list(item.values())
    if isinstance(item, (list, tuple, set, frozenset)):
        return list(item)
    if isinstance(item, Placeholder):
        return [item.state, item.args, item.items, item.mapping]
    state = getattr(item, '__dict__', None)
    return list(state.values()) if isinstance(state, dict) else []
