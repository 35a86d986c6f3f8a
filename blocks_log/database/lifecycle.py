"""Process hooks: nothing buffered is lost by the way a process ends or
forks.

Every open session is registered here. Before a ``fork``, each one is
locked (so that no other thread is half-way through a commit), flushed,
and its database connection closed: SQLite's locks belong to a process,
and a connection, or even SQLite's record of one, copied into a child makes
the child's view of the file wrong (the parent's ``close()`` once deleted
the child's committed iterations). Parent and child then each open their
own connection on first use, and the child gets fresh locks. The logs'
own threads (a commit timer, the checkpoints of a SQLite file) are stopped,
and start again when next needed: the child inherits no lock of theirs,
nor of SQLite's, held. A session whose work or read the fork interrupted
in the thread that forks (a signal's handler forked), and every other
while work is under way there, is left as it is, to go on in the parent
(its store's threads kept out of SQLite, a while at most); in the child,
it is closed (see ``Session.before_fork``). At
interpreter exit, and when a log is garbage-collected without ``close()``,
its session is finished: flushed, its run released, its connection closed
(see :class:`blocks_log.database.session.Session`).

"""
import atexit
import os
import threading
import time
import warnings

#: The open sessions. Held strongly until closed: a log's finalizer that a
#: Ctrl-C stopped as it began (weakref.finalize forgets itself, then calls,
#: in Python code where a signal handler may run between the two) leaves
#: its session here, to be finished at exit rather than lose what it
#: buffered.
OPEN_SESSIONS = set()
# The sessions locked by _before_fork, released after it, each with
# whether it made ready for the fork (see Session.before_fork).
_LOCKED = []


def register(session):
    """Watch `session` until :func:`unregister`."""
    OPEN_SESSIONS.add(session)


def unregister(session):
    """Stop watching `session` (it is closed)."""
    OPEN_SESSIONS.discard(session)


def holds_a_lock():
    """Whether the calling thread holds the lock of an open session: it is
    half-way through a log's work (a commit, a read), or forking. A
    session closed there, by the garbage collector, would take its own
    lock while holding that one, and a fork, which takes them all in turn,
    may hold it and wait for that one: neither would go on."""
    # _is_owned(), as threading.Condition asks it of a lock.
    return any(session.lock._is_owned() for session in list(OPEN_SESSIONS))


def work_under_way_here(session):
    """Another open session than `session` whose work (see
    :mod:`~blocks_log.database.work`) is under way in the calling thread,
    or ``None``."""
    for other in list(OPEN_SESSIONS):
        # Busy, and its lock held by this thread: busy here (any other
        # thread waits for the lock before it looks).
        if other.busy and other is not session and other.lock._is_owned():
            return other
    return None


def _before_fork():
    # The sessions' threads are stopped (see Session.stop_timer and
    # Checkpointer.before_fork): the commit timers' first, out of the
    # sessions' locks, which they may be waiting for (not when this thread
    # holds one: a signal's handler forked half-way through work; they go
    # on then).
    threads, running = _kernel_threads(), threading.active_count()
    if not holds_a_lock():
        for session in list(OPEN_SESSIONS):
            session.stop_timer()
    for session in list(OPEN_SESSIONS):
        session.lock.acquire()
        locked = [session, False]  # released after, should it raise
        _LOCKED.append(locked)
        locked[1] = session.before_fork()
        if not locked[1]:
            session.store.hold_threads()
    _wait_for_the_kernel(threads, running - threading.active_count())


#: Seconds a fork waits at most for the kernel to end the threads it
#: stopped (see _wait_for_the_kernel).
THREADS_END_WAIT = 0.05


def _kernel_threads():
    # The threads of this process as the kernel counts them (Linux), as
    # Python 3.12 and later do to warn at a fork; None where unknown.
    try:
        return len(os.listdir('/proc/self/task'))
    except OSError:
        return None


def _wait_for_the_kernel(threads, stopped):
    # Python 3.12's Thread.join() returns as the thread lets go of its last
    # lock, a moment before the kernel's thread ends (3.13 waits for that):
    # the fork then found several threads and warned, one fork in two with
    # the process on one CPU (tests/test_threads_at_fork.py).
    if threads is None or stopped <= 0:
        return
    deadline = time.monotonic() + THREADS_END_WAIT
    while (_kernel_threads() > threads - stopped and
           time.monotonic() < deadline):
        time.sleep(0.0005)


def _after_fork_in_parent():
    while _LOCKED:
        session, ready = _LOCKED.pop()
        # Ready or not, the store's threads were held (hold_threads).
        session.store.after_fork(child=False)
        if session.timer is not None and session.uncommitted:
            # Iterations its flush could not commit: they may not wait
            # for the next iteration to start the thread again.
            session.timer.start()
        session.lock.release()


def _after_fork_in_child():
    while _LOCKED:
        session, ready = _LOCKED.pop()
        if ready:
            session.store.after_fork(child=True)
        else:
            session.forked_half_way()
        # Held by the thread that forked, which the child runs on (and by
        # the work the fork interrupted, if any); a new lock rather than a
        # release, so that nothing else can be waiting.
        session.lock = threading.RLock()


def _at_exit():
    # After the logs' own finalizers (atexit runs the hooks registered
    # last first: weakref.finalize registers its own at the first log).
    for session in list(OPEN_SESSIONS):
        try:
            session.finalize()
        except Exception as error:  # the next session is finished still
            warnings.warn('{}: not closed at exit ({!r})'.format(
                session, error), RuntimeWarning)


atexit.register(_at_exit)
if hasattr(os, 'register_at_fork'):
    os.register_at_fork(before=_before_fork,
                        after_in_parent=_after_fork_in_parent,
                        after_in_child=_after_fork_in_child)
