"""blocks_log: the training log of Blocks, standing on its own.

A drop-in for Blocks' ``blocks.log``: ``from blocks_log import TrainingLog``
works as ``from blocks.log import TrainingLog`` did.

"""
from blocks_log.errors import (AmbiguousRunError, ClosedLogError,
                               DamagedLogError, LogDatabaseError, LogError,
                               LogWriteError, ReadOnlyLogError,
                               RowNotAvailableError, RunInUseError,
                               SchemaVersionError, UnknownKeyError,
                               UnknownRunError)
from blocks_log.base import TrainingLogBase
from blocks_log.log import TrainingLog
from blocks_log.loading import find_log, load
from blocks_log.postgresql import PostgreSQLLog
from blocks_log.runs import find_run, list_runs
from blocks_log.sqlite import SQLiteLog

__version__ = '0.2.0.dev0'

BACKENDS = {'python': TrainingLog, 'sqlite': SQLiteLog,
            'postgresql': PostgreSQLLog}
"""dict: backend name -> log class; ``BACKENDS[name]()`` makes a log."""

__all__ = ['TrainingLogBase', 'TrainingLog', 'SQLiteLog', 'PostgreSQLLog',
           'BACKENDS', 'load',
           'find_log', 'list_runs', 'find_run', 'LogError',
           'LogDatabaseError', 'SchemaVersionError', 'UnknownRunError',
           'AmbiguousRunError', 'UnknownKeyError', 'DamagedLogError',
           'RunInUseError', 'ReadOnlyLogError',
           'LogWriteError', 'ClosedLogError', 'RowNotAvailableError',
           '__version__']
