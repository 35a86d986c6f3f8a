"""A commit at least every so many seconds (``commit_seconds``), however
slowly the iterations come.

The training thread commits the buffer at the end of an iteration once
``commit_seconds`` have passed since the last commit (see
:meth:`blocks_log.database.session.Session.advance`). This thread covers the
time between: if the loop stalls (a long validation, a data loader that
waits) while iterations it completed are not committed, it commits them,
up to the last one completed, once they have waited that long. What a
crash loses is then at most ``commit_seconds`` of iterations.

One thread per log, started at its first iteration, in each process that
writes it (a forked child starts its own), and stopped when the log is
closed. It holds the log's session weakly: a log dropped without
``close()`` is still collected.

"""
import os
import threading
import time
import weakref

from blocks_log.stores import writing


class CommitTimer(object):
    """The thread that commits a session's completed iterations once they
    have waited `seconds`.

    Parameters
    ----------
    session : blocks_log.database.session.Session
        Held weakly; its ``commit_if_late()`` gives how long until it is
        next due, or ``None`` once it is closed.
    seconds : float

    """
    def __init__(self, session, seconds):
        self._session = weakref.ref(session)
        self.seconds = seconds
        self._pid = None
        self._stop = None
        self._thread = None

    def start(self):
        """Run the thread in this process, if it does not run yet."""
        if self._pid == os.getpid():
            return
        # A forked child makes its own thread and event: the parent's
        # thread does not run here, and its event may be mid-use.
        self._pid = os.getpid()
        self._stop = threading.Event()
        self._thread = threading.Thread(
            target=_run, args=(self._session, self._stop, self.seconds),
            name='blocks_log commits', daemon=True)
        self._thread.start()

    def stop(self):
        """Tell the thread of this process, if it runs, to stop; wait for
        it with :meth:`join`."""
        if self._pid != os.getpid():
            self._thread = None  # another process's (a forked child's)
            return
        self._pid = None
        self._stop.set()

    def join(self):
        """Wait for the thread :meth:`stop` stopped, unless it is the
        caller. Never with the session's lock held: the thread, about to
        commit as it was stopped, waits for that lock, and finds the
        session closed once it has it."""
        thread, self._thread = self._thread, None
        if thread is not None and thread is not threading.current_thread():
            thread.join(timeout=60)


def _run(session_ref, stop, seconds):
    # The thread's loop: sleep until the session is next due, commit if it
    # is late; it refers to the session only while it asks.
    writing.own_thread()  # a log collected here closes elsewhere
    wait = seconds
    while not stop.wait(wait):
        session = session_ref()
        if session is None:
            return
        wait = session.commit_if_late(time.monotonic())
        del session
        if wait is None:
            return
