"""blocks_log: the training log of Blocks, standing on its own.

A drop-in for Blocks' ``blocks.log``: ``from blocks_log import TrainingLog``
works as ``from blocks.log import TrainingLog`` did.

"""
from blocks_log.errors import (AmbiguousRunError, ClosedLogError,
                               DamagedLogError, LogDatabaseError, LogError,
                               LogWriteError, ReadOnlyLogError,
                               ReentrantReadError, RowNotAvailableError,
                               RunInUseError, SchemaVersionError,
                               UnknownKeyError, UnknownRunError)
from blocks_log.placeholders import (DamagedBatch, DamagedChunk, Pickled,
                                     Undecodable)
from blocks_log.base import TrainingLogBase
from blocks_log.sqlite import SQLiteLog

__version__ = '0.2.0.dev0'

# Imported on first use (PEP 562), so that a training script that opens a
# log pays for nothing else at start-up: name -> (module, attribute), or
# (module, None) for the module itself (``blocks_log.log``, which importing
# the package made an attribute of it before TrainingLog came later).
_LATER = {
    'TrainingLog': ('blocks_log.log', 'TrainingLog'),
    'log': ('blocks_log.log', None),
    'PostgreSQLLog': ('blocks_log.postgresql', 'PostgreSQLLog'),
    'load': ('blocks_log.loading', 'load'),
    'find_log': ('blocks_log.loading', 'find_log'),
    'list_runs': ('blocks_log.runs', 'list_runs'),
    'find_run': ('blocks_log.runs', 'find_run'),
}


def __getattr__(name):
    if name == 'BACKENDS':
        value = {'python': __getattr__('TrainingLog'), 'sqlite': SQLiteLog,
                 'postgresql': __getattr__('PostgreSQLLog')}
    elif name in _LATER:
        import importlib
        module, attribute = _LATER[name]
        value = importlib.import_module(module)
        if attribute is not None:
            value = getattr(value, attribute)
    else:
        raise AttributeError('module {!r} has no attribute {!r}'.format(
            __name__, name))
    globals()[name] = value
    return value


def __dir__():
    return sorted(set(globals()) | set(__all__))


#: dict: backend name -> log class; ``BACKENDS[name]()`` makes a log.
#: (Made on first use, as the names above.)
BACKENDS: dict

__all__ = ['TrainingLogBase', 'TrainingLog', 'SQLiteLog', 'PostgreSQLLog',
           'BACKENDS', 'load',
           'find_log', 'list_runs', 'find_run', 'LogError',
           'LogDatabaseError', 'SchemaVersionError', 'UnknownRunError',
           'AmbiguousRunError', 'UnknownKeyError', 'DamagedLogError',
           'RunInUseError', 'ReadOnlyLogError',
           'LogWriteError', 'ClosedLogError', 'ReentrantReadError',
           'RowNotAvailableError',
           'Undecodable', 'Pickled', 'DamagedChunk', 'DamagedBatch',
           '__version__']
