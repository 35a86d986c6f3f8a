"""Where a log that the garbage collector finishes may not commit at once.

A log dropped without ``close()`` is committed and closed by the garbage
collector, in whatever thread it runs, wherever that thread is:

- inside another log's write transaction on the same database (a log
  held in a reference cycle, collected while a new log of the same file
  commits): its commit would wait there for that transaction, which waits
  for it to return, and the thread would hang (for SQLite's 600 s of
  retries; for ever on a PostgreSQL key that the other transaction
  inserts);
- in one of blocks_log's own threads (the commit timer's, the
  checkpointer's), perhaps half-way through a commit of that very log,
  under its lock: closed there, the log's store was opened again by the
  rest of that commit, and left open.

So each store marks its write transactions here, and each of those
threads marks itself, and such a log is closed by a thread of its own
(see :meth:`Session.finalize
<blocks_log.database.session.Session.finalize>`).

"""
import threading

_counts = threading.local()


def began():
    """The calling thread began a write transaction (or is one of
    blocks_log's own threads, until it ends)."""
    _counts.open = getattr(_counts, 'open', 0) + 1


def ended():
    """The calling thread's write transaction is over (committed or not)."""
    _counts.open -= 1


def in_progress():
    """Whether a log's commit may not be made at once in the calling
    thread (see the module's docstring)."""
    return getattr(_counts, 'open', 0) > 0
