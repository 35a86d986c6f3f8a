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

So each store tells here of the write transactions it begins, each of
those threads marks itself, and such a log is closed by a thread of its
own (see :meth:`Session.collected
<blocks_log.database.session.Session.collected>`). A transaction is
asked whether it is still open rather than counted: a Ctrl-C between its
beginning and its end leaves nothing marked for ever.

"""
import threading
import weakref

_threads = threading.local()


def began(holder, is_open):
    """The calling thread began a write transaction, which `holder` holds
    (held weakly here); ``is_open(holder)`` tells whether it still is."""
    _threads.open = _still_open() + [(weakref.ref(holder), is_open)]


def own_thread():
    """The calling thread is one of blocks_log's own, for good."""
    _threads.own = True


def in_progress():
    """Whether a log's commit may not be made at once in the calling
    thread (see the module's docstring)."""
    if getattr(_threads, 'own', False):
        return True
    _threads.open = _still_open()
    return bool(_threads.open)


def _still_open():
    # The calling thread's transactions still open.
    still = []
    for holder, is_open in getattr(_threads, 'open', ()):
        held = holder()
        if held is not None and is_open(held):
            still.append((holder, is_open))
    return still
