"""The training-loop workload on PostgreSQLLog, against raw psycopg.

Starts a PostgreSQL server of its own (as the tests do: Debian's, in a
temporary directory, with fsync on), and runs, side by side:

- the limit: raw psycopg 3 in autocommit, one multi-row ``INSERT ... ON
  CONFLICT DO UPDATE`` of the iteration's 10 values per iteration, into a
  table of (run, time, key, value float8), over the unix socket;
- the same with the status too: an 11th row, updated by every upsert (the
  log saves ``iterations_done`` with each iteration), to tell what the
  status costs from what the log's own code does;
- ``PostgreSQLLog.current_row``, 10 floats per iteration;
- the same as Blocks' main loop runs it, with a read of the current row
  each iteration (``current_row.get('training_finish_requested')``);

each with ``synchronous_commit`` on and off. Then reads: ``to_dataframe()``
against a binary SELECT plus a dict pivot (no pandas), and bytes on disk
per value (the tables and their indexes, after VACUUM FULL).

Run: ``python benchmarks/bench_postgresql.py [-n ITERATIONS] [-r ROUNDS]``.

"""
import os
import sys
import uuid

sys.path.insert(0, os.path.join(os.path.dirname(__file__), '..'))
sys.path.insert(0, os.path.join(os.path.dirname(__file__), '..', 'tests'))

from benchmarks.common import (  # noqa
    KEYS, columns_of, parse_args, report, run_rounds, train,
    train_as_blocks)
from blocks_log import PostgreSQLLog  # noqa

STATUS_TIME = 2 ** 63 - 1
RAW_SCHEMA = ('CREATE TABLE IF NOT EXISTS raw (run text, time bigint, '
              'key text, value float8, PRIMARY KEY (run, time, key))')


def raw_step(psycopg, dsn, synchronous_commit, status=False):
    """``(step, close, run)``: ``step(iteration)`` writes an iteration of
    the limit (see the module's docstring) into run `run`."""
    connection = psycopg.connect(dsn, autocommit=True, options=(
        '-c synchronous_commit=' + synchronous_commit))
    connection.execute(RAW_SCHEMA)
    run = uuid.uuid4().hex
    statement = ('INSERT INTO raw VALUES ' + ', '.join(
        ['(%s, %s, %s, %s)'] * (len(KEYS) + status)) +
        ' ON CONFLICT (run, time, key) DO UPDATE SET value = EXCLUDED.value')

    def step(iteration):
        value = iteration * 0.5
        parameters = []
        for key in KEYS:
            parameters += [run, iteration, key, value]
        if status:
            parameters += [run, STATUS_TIME, 'iterations_done',
                           float(iteration)]
        connection.execute(statement, parameters)
    return step, connection.close, run


def raw_limit(psycopg, dsn, iterations, synchronous_commit, status=False):
    step, close, run = raw_step(psycopg, dsn, synchronous_commit, status)
    for iteration in range(1, iterations + 1):
        step(iteration)
    close()
    return run


def log_limit(dsn, iterations, synchronous_commit, loop=train):
    log = PostgreSQLLog(dsn, synchronous_commit=synchronous_commit)
    loop(log, iterations)
    return log.uuid


def raw_read(psycopg, dsn, run):
    connection = psycopg.connect(dsn)
    with connection.cursor(binary=True) as cursor:
        cursor.execute('SELECT time, key, value FROM raw WHERE run = %s',
                       (run,))
        columns = columns_of(cursor)
    connection.close()
    return columns


def size(psycopg, dsn, tables):
    # After VACUUM FULL: the rows a packing deleted, and the old versions of
    # the status row each commit updated, are space autovacuum reuses.
    with psycopg.connect(dsn, autocommit=True) as connection:
        for table in tables:
            connection.execute('VACUUM FULL ' + table)
        return sum(connection.execute(
            'SELECT pg_total_relation_size(%s)', (table,)).fetchone()[0]
            for table in tables)


def main():
    import psycopg
    import postgres_server
    args = parse_args(__doc__.splitlines()[0], iterations=2000)
    n = args.iterations
    server = postgres_server.Server(fsync=True)
    try:
        dsn = server.socket_dsn
        with psycopg.connect(dsn, autocommit=True) as connection:
            connection.execute(RAW_SCHEMA)
        for setting in ('on', 'off'):
            medians = run_rounds([
                ('raw psycopg, upsert per iteration', lambda: raw_limit(
                    psycopg, dsn, n, setting)),
                ('raw psycopg, and a status row', lambda: raw_limit(
                    psycopg, dsn, n, setting, status=True)),
                ('PostgreSQLLog.current_row', lambda: log_limit(
                    dsn, n, setting)),
                ('PostgreSQLLog, as Blocks', lambda: log_limit(
                    dsn, n, setting, loop=train_as_blocks)),
            ], args.rounds)
            report('write, synchronous_commit={} ({} iterations x {} '
                   'values)'.format(setting, n, len(KEYS)), medians,
                   'raw psycopg, upsert per iteration', n * len(KEYS))
            print('  PostgreSQLLog: {:.2f}x the raw limit\'s values/s'
                  .format(medians['raw psycopg, upsert per iteration'] /
                          medians['PostgreSQLLog.current_row']))
            print('  PostgreSQLLog: {:.2f}x the values/s of raw psycopg '
                  'with a status row'.format(
                      medians['raw psycopg, and a status row'] /
                      medians['PostgreSQLLog.current_row']))
            print('  PostgreSQLLog, as Blocks: {:.2f}x the raw limit\'s '
                  'values/s'.format(
                      medians['raw psycopg, upsert per iteration'] /
                      medians['PostgreSQLLog, as Blocks']))
        read_n = 3000
        with psycopg.connect(dsn, autocommit=True) as connection:
            connection.execute('TRUNCATE raw, blocks_log_entries, '
                               'blocks_log_chunks')
        raw_run = raw_limit(psycopg, dsn, read_n, 'off')
        raw_bytes = size(psycopg, dsn, ['raw'])
        log_run = log_limit(dsn, read_n, 'off')
        reader = PostgreSQLLog(dsn, uuid=log_run, read_only=True)
        medians = run_rounds([
            ('binary SELECT + dict pivot', lambda: raw_read(
                psycopg, dsn, raw_run)),
            ('PostgreSQLLog.to_dataframe()', reader.to_dataframe),
        ], args.rounds)
        values = read_n * len(KEYS)
        ours = size(psycopg, dsn, ['blocks_log_entries',
                                   'blocks_log_chunks'])
        report('read {} x {} values into a DataFrame'.format(
            read_n, len(KEYS)), medians, 'binary SELECT + dict pivot',
            values, extra={
                'binary SELECT + dict pivot': '{:.1f} bytes/value'.format(
                    raw_bytes / float(values)),
                'PostgreSQLLog.to_dataframe()': '{:.1f} bytes/value'.format(
                    ours / float(values))})
        reader.close()
    finally:
        server.stop()


if __name__ == '__main__':
    main()
