"""Getting a whole run out: ``blocks-log export`` (CSV, a row per time) and
``blocks-log copy`` (SQLite to SQLite), against the raw limit, in time and
in peak memory.

A run of ITERATIONS x 10 floats, written by ``SQLiteLog`` as a training
loop writes it, and the same values in Blocks' layout (one row per value in
``entries(uuid, time, key, value)``) for the limits:

- export: raw ``sqlite3``, ``SELECT time, key, value ... ORDER BY time``
  streamed into ``csv.writer``, a row per time (what the export writes,
  and nothing more);
- copy: raw ``sqlite3``, ``INSERT INTO copy.entries SELECT * FROM
  entries`` into an attached new file, in one transaction (SQLite copying
  rows in C: the floor of any copy); and ``blocks-log copy`` again into a
  file that holds the run as it is (it compares the two, and writes
  nothing).

Each contender runs in a process of its own, so that its peak resident
memory (``ru_maxrss``) is its own; its time is the process' whole wall
time, start-up included (tens of milliseconds, against seconds).

Run: ``python benchmarks/bench_export.py [-n ITERATIONS] [-r ROUNDS]``.

"""
import os
import shutil
import subprocess
import sys
import tempfile
import time

sys.path.insert(0, os.path.join(os.path.dirname(__file__), '..'))

from benchmarks.bench_read import make_ours, make_raw  # noqa
from benchmarks.common import KEYS, parse_args  # noqa

ROOT = os.path.join(os.path.dirname(os.path.abspath(__file__)), '..')

RAW_EXPORT = '''
import csv, sqlite3, sys
connection = sqlite3.connect(sys.argv[1])
keys = {keys!r}
with open(sys.argv[2], 'w', newline='') as target:
    writer = csv.writer(target, lineterminator='\\n')
    writer.writerow(['time'] + keys)
    row, last = None, None
    for time, key, value in connection.execute(
            'SELECT time, key, value FROM entries ORDER BY time'):
        if time != last:
            if row is not None:
                writer.writerow([last] + [row.get(k, '') for k in keys])
            row, last = {{}}, time
        row[key] = repr(value)
    if row is not None:
        writer.writerow([last] + [row.get(k, '') for k in keys])
'''.format(keys=KEYS)

RAW_COPY = '''
import sqlite3, sys
connection = sqlite3.connect(sys.argv[1], isolation_level=None)
connection.execute("ATTACH DATABASE ? AS copy", (sys.argv[2],))
connection.execute(
    'CREATE TABLE copy.entries (uuid TEXT NOT NULL, time INT NOT NULL, '
    '"key" TEXT NOT NULL, value, PRIMARY KEY(uuid, time, "key"))')
connection.execute('BEGIN')
connection.execute('INSERT INTO copy.entries SELECT * FROM entries')
connection.execute('COMMIT')
'''

OURS = '''
import sys
from blocks_log import cli
sys.exit(cli.main(sys.argv[1:]))
'''


def measure(code, *argv):
    """(seconds, peak resident MB) of a process running `code`."""
    start = time.perf_counter()
    process = subprocess.Popen([sys.executable, '-c', code] + list(argv),
                               cwd=ROOT, stdout=subprocess.DEVNULL)
    _, status, usage = os.wait4(process.pid, 0)
    seconds = time.perf_counter() - start
    process.returncode = os.waitstatus_to_exitcode(status)
    if process.returncode:
        raise SystemExit('{} failed'.format(argv))
    return seconds, usage.ru_maxrss / 1024.0


def main():
    args = parse_args(__doc__.splitlines()[0], iterations=100000)
    directory = tempfile.mkdtemp(prefix='bench_export_')
    try:
        raw, ours = (os.path.join(directory, name)
                     for name in ('raw.sqlite', 'ours.sqlite'))
        make_raw(raw, args.iterations)
        make_ours(ours, args.iterations)
        fresh = iter(range(10 ** 6))
        again = os.path.join(directory, 'again.sqlite')
        measure(OURS, 'copy', ours, again)

        def target(suffix):
            return os.path.join(directory, 'out{}{}'.format(
                next(fresh), suffix))
        contenders = [
            ('export: raw SELECT + csv', lambda: measure(
                RAW_EXPORT, raw, target('.csv'))),
            ('export: blocks-log export', lambda: measure(
                OURS, 'export', ours, '--format', 'csv', '-o',
                target('.csv'))),
            ('copy: raw INSERT ... SELECT', lambda: measure(
                RAW_COPY, raw, target('.sqlite'))),
            ('copy: blocks-log copy', lambda: measure(
                OURS, 'copy', ours, target('.sqlite'))),
            ('copy again, nothing changed', lambda: measure(
                OURS, 'copy', ours, again)),
        ]
        results = dict((name, []) for name, _ in contenders)
        for _ in range(args.rounds):
            for name, run in contenders:
                results[name].append(run())
                for entry in os.listdir(directory):
                    if entry.startswith('out'):
                        os.remove(os.path.join(directory, entry))
        print('a run of {} iterations x {} values, {} rounds'.format(
            args.iterations, len(KEYS), args.rounds))
        for limit, mine in ((0, [1]), (2, [3, 4])):
            base = contenders[limit][0]
            for name in [base] + [contenders[each][0] for each in mine]:
                seconds = sorted(s for s, _ in results[name])
                peaks = sorted(m for _, m in results[name])
                ratios = sorted(s / b for (s, _), (b, _) in zip(
                    results[name], results[base]))
                print('  {:<28} {:7.2f} s [{:.2f}-{:.2f}]  {:5.2f}x '
                      '[{:.2f}-{:.2f}]  peak {:6.0f} MB'.format(
                          name, seconds[len(seconds) // 2], seconds[0],
                          seconds[-1], ratios[len(ratios) // 2], ratios[0],
                          ratios[-1], peaks[len(peaks) // 2]))
    finally:
        shutil.rmtree(directory)


if __name__ == '__main__':
    main()
