"""One buffered training log over any store.

:class:`DatabaseLog` knows no SQL: it keeps the buffer and its commit
policy, the status, the lineage of runs, the row and status views, the
pickling semantics of Blocks and the process hooks, over a store of
:mod:`blocks_log.stores`. Its modules:

- :mod:`.log`: the log, a :class:`~blocks_log.log.TrainingLogBase`;
- :mod:`.log_reads`: its reads for analysis (series, the data frame);
- :mod:`.session`: what it holds of its open run (buffer, status, reads),
  with :mod:`.opening`, :mod:`.reads`, :mod:`.status`, :mod:`.commits`
  and :mod:`.commit_timer`;
- :mod:`.views`: its rows and status;
- :mod:`.lifecycle`: the hooks at fork and exit.

"""
from blocks_log.database.log import DatabaseLog, check_options

__all__ = ['DatabaseLog', 'check_options']
