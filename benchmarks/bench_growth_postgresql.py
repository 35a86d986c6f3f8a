"""Does a write cost the same late in a run as early, on PostgreSQLLog?

The lines of ``bench_growth.py`` (the training-loop workload, timed in
blocks of iterations: the cost per iteration of the early and the last
blocks, their ratio, and the slowest iterations) for PostgreSQLLog, with
no epochs and with one every 100 iterations (``_epoch_ends`` gets an int
an epoch), next to their limit in the same run: raw psycopg's upsert per
iteration, as in ``bench_postgresql.py``. A PostgreSQL server of its own,
with fsync on, as there (``synchronous_commit`` on).

Run: ``python benchmarks/bench_growth_postgresql.py [-n ITERATIONS]``.

"""
import os
import sys

sys.path.insert(0, os.path.join(os.path.dirname(__file__), '..'))
sys.path.insert(0, os.path.join(os.path.dirname(__file__), '..', 'tests'))

from benchmarks.bench_growth import grown, log_step  # noqa
from benchmarks.bench_postgresql import raw_step  # noqa
from benchmarks.common import parse_args  # noqa
from blocks_log import PostgreSQLLog  # noqa


def main():
    import psycopg
    import postgres_server
    args = parse_args(__doc__.splitlines()[0], iterations=200000)
    server = postgres_server.Server(fsync=True)
    try:
        dsn = server.socket_dsn
        for name, make in [
                ('raw psycopg', lambda: raw_step(psycopg, dsn, 'on')[:2]),
                ('PostgreSQLLog', lambda: log_step(PostgreSQLLog(dsn))),
                ('  epochs of 100', lambda: log_step(PostgreSQLLog(dsn),
                                                     epoch=100))]:
            grown(name, make, args.iterations)
    finally:
        server.stop()


if __name__ == '__main__':
    main()
