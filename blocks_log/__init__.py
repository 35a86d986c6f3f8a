"""blocks_log: the training log of Blocks, standing on its own.

A drop-in for Blocks' ``blocks.log``: ``from blocks_log import TrainingLog``
works as ``from blocks.log import TrainingLog`` did.

"""
from blocks_log.log import TrainingLog, TrainingLogBase
from blocks_log.pickles import load
from blocks_log.sqlite import SQLiteLog

__version__ = '0.1.0'

BACKENDS = {'python': TrainingLog, 'sqlite': SQLiteLog}
"""dict: backend name -> log class; ``BACKENDS[name]()`` makes a log."""

__all__ = ['TrainingLogBase', 'TrainingLog', 'SQLiteLog', 'BACKENDS', 'load',
           '__version__']
