"""Which thread is inside a write transaction, of any store.

A log dropped without ``close()`` is committed and closed by the garbage
collector, in whatever thread it runs, wherever that thread is: perhaps
inside another log's write transaction on the same database (a log held
in a reference cycle, collected while a new log of the same file
commits). Its commit would wait there for that transaction, which waits
for it to return: the thread would hang (for SQLite's 600 s of retries;
for ever on a PostgreSQL key that the other transaction inserts). So
each store marks its write transactions here, and such a log is closed by
a thread of its own (see :meth:`Session.finalize
<blocks_log.database.session.Session.finalize>`).

"""
import threading

_counts = threading.local()


def began():
    """The calling thread began a write transaction."""
    _counts.open = getattr(_counts, 'open', 0) + 1


def ended():
    """The calling thread's write transaction is over (committed or not)."""
    _counts.open -= 1


def in_progress():
    """Whether the calling thread is inside a write transaction."""
    return getattr(_counts, 'open', 0) > 0
