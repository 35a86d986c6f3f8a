"""A training loop in its own process, for the crash and concurrency tests.

``python writer.py DATABASE ITERATIONS [PAUSE]`` writes a new run (into
an SQLite file, or a PostgreSQL DSN or URL) of
ITERATIONS iterations of 10 values each (-1: forever) and prints the run's
uuid, then each iteration number once it is completed. With PAUSE, it
prints ``paused`` once that many iterations are committed, and waits for a
line on its standard input before going on. ``$WRITER_SPAN`` sets the
times per block of the run's chunks (small: packing at every few commits),
``$WRITER_COMMIT_EVERY`` the log's ``commit_every`` (an iteration is then
printed once the commit that holds it is made). ``$WRITER_COMMIT_SECONDS``
sets ``commit_seconds`` instead, and ``$WRITER_PRINT_EACH`` prints each
iteration once its values are logged instead; ``WRITER_ON_SIGTERM=exit``
installs README's handler of SIGTERM (``sys.exit``, so that the log
closes itself as the process exits).

"""
import os
import signal
import sys

sys.path.insert(0, os.path.dirname(os.path.dirname(os.path.abspath(
    __file__))))

from blocks_log import PostgreSQLLog, SQLiteLog  # noqa: E402
from blocks_log.stores import chunks  # noqa: E402

KEYS = ['value_{}'.format(index) for index in range(10)]
OPEN = []


def main(database, iterations, pause=None):
    chunks.SPAN = int(os.environ.get('WRITER_SPAN', chunks.SPAN))
    every = int(os.environ.get('WRITER_COMMIT_EVERY', 1))
    seconds = os.environ.get('WRITER_COMMIT_SECONDS')
    options = dict(commit_every=every) if seconds is None else dict(
        commit_seconds=float(seconds))
    each = bool(os.environ.get('WRITER_PRINT_EACH'))
    if os.environ.get('WRITER_ON_SIGTERM') == 'exit':
        signal.signal(signal.SIGTERM, lambda number, frame: sys.exit(
            128 + number))
    if database.startswith(('postgresql://', 'host=')):
        log = PostgreSQLLog(database, **options)
    else:
        log = SQLiteLog(database, **options)
    # Held to the interpreter's exit, as a script's top level holds it:
    # a SystemExit (README's SIGTERM handler) leaves it to the exit hook.
    OPEN.append(log)
    print(log.h_uuid, flush=True)
    iteration = 0
    while iterations < 0 or iteration < iterations:
        log.status['iterations_done'] += 1
        iteration = log.status['iterations_done']
        if iteration % every == 0 and not each:
            print(iteration - 1, flush=True)  # committed up to it
        if iteration - 1 == pause:
            print('paused', flush=True)
            sys.stdin.readline()
        for key in KEYS:
            log.current_row[key] = iteration * 1.0
        if each:
            print(iteration, flush=True)  # logged
    log.close()


if __name__ == '__main__':
    main(sys.argv[1], int(sys.argv[2]),
         int(sys.argv[3]) if len(sys.argv) > 3 else None)
