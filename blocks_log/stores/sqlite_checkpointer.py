"""WAL checkpoints, off the training thread.

In WAL mode a commit appends to the -wal file, and a checkpoint copies those
pages back into the database and syncs it to disk. SQLite runs one at the
commit that crosses 1,000 pages, in the writer's thread: 10 to 20 ms, every
few hundred iterations, the slowest iterations of a training loop
(``benchmarks/bench_growth.py``). The writer's connection turns that off;
a thread of the store's, with a connection of its own, runs a PASSIVE
checkpoint every :data:`COMMITS` commits instead, which waits for nobody
and which nobody waits for; SQLite's C code runs it without the GIL.

"""
import os
import sqlite3
import threading

#: Commits between two checkpoints: a training iteration writes 3 or 4
#: pages of 1 KiB, so about SQLite's own 1,000 pages.
COMMITS = 250
#: A -wal file this large is checkpointed in the writer's thread: the
#: thread could not keep up, or could not run.
MAX_WAL_BYTES = 64 * 2 ** 20


class Checkpointer(object):
    """Runs the checkpoints of one database file in a thread of its own.

    Parameters
    ----------
    path : str
        The database file.
    connect : callable
        Returns a new :class:`sqlite3.Connection` to it.

    """
    def __init__(self, path, connect):
        self.path = path
        self._connect = connect
        self._wake = threading.Event()
        # Held while a checkpoint runs: a fork waits for it to end.
        self.lock = threading.Lock()
        self._thread = None
        self._pid = None
        self._commits = 0
        self._closed = False

    def committed(self, connection):
        """Count a commit of `connection`, the writer's; every
        :data:`COMMITS`, have a checkpoint run."""
        self._commits += 1
        if self._commits < COMMITS:
            return
        self._commits = 0
        try:
            too_large = os.path.getsize(self.path + '-wal') > MAX_WAL_BYTES
        except OSError:
            too_large = False
        if too_large:
            connection.execute('PRAGMA wal_checkpoint(PASSIVE)')
            return
        if self._thread is None or self._pid != os.getpid():
            self._pid = os.getpid()
            self._thread = threading.Thread(
                target=self._run, name='blocks_log checkpoints of ' +
                os.path.basename(self.path), daemon=True)
            self._thread.start()
        self._wake.set()

    def _run(self):
        connection = None
        while True:
            self._wake.wait()
            self._wake.clear()
            if self._closed:
                break
            with self.lock:
                try:
                    if connection is None:
                        connection = self._connect()
                    connection.execute('PRAGMA wal_checkpoint(PASSIVE)')
                except sqlite3.Error:
                    pass  # the writer checkpoints when the -wal grows large
        if connection is not None:
            connection.close()

    def before_fork(self):
        """Wait for a running checkpoint to end; hold off the next."""
        self.lock.acquire()

    def after_fork(self, child):
        """Let checkpoints run again; a child starts its own thread (its
        copy of the parent's connection is never used nor closed)."""
        if child:
            self.lock = threading.Lock()
            self._thread = None
        else:
            self.lock.release()

    def close(self):
        """Stop the thread (of this process), after its checkpoint."""
        self._closed = True
        self._wake.set()
        if self._thread is not None and self._pid == os.getpid():
            self._thread.join(timeout=60)
        self._thread = None
