"""The ``blocks-log`` command line (also ``python -m blocks_log``).

Reading commands open databases read-only: they never create or change a
file. Errors in what the user gave print one line on stderr and exit 2.

"""
import argparse
import csv
import json
import math
import os
import sys
import time as _time

from blocks_log import runs as runs_module
from blocks_log.errors import LogError
from blocks_log.sqlite import SQLiteLog
from blocks_log.termplot import chart

class UsageError(Exception):
    """Bad input from the user: reported on one line, exit status 2."""


def open_source(source, run=None, trusted=False):
    """:func:`blocks_log.runs.open_source`, its errors as usage errors."""
    try:
        return runs_module.open_source(source, run, trusted=trusted)
    except (LogError, ValueError, OSError) as error:
        raise UsageError(str(error).strip('"\''))


def _check_keys(log, keys):
    if keys is None:
        return None
    keys = [key for key in keys.split(',') if key]
    known = set(key for _, key, _ in log.records())
    unknown = [key for key in keys if key not in known]
    if unknown:
        raise UsageError('unknown key{} {}; the log holds: {}'.format(
            's' if len(unknown) > 1 else '', ', '.join(unknown),
            ', '.join(sorted(known)) or 'nothing'))
    return keys


def _rows(log, keys=None):
    """(columns, [(time, {key: value})]) of the log, keys as they appear."""
    rows, columns = [], []
    for time, key, value in log.records():
        if keys is not None and key not in keys:
            continue
        if key not in columns:
            columns.append(key)
        if not rows or rows[-1][0] != time:
            rows.append((time, {}))
        rows[-1][1][key] = value
    if keys is not None:
        columns = keys
    return columns, rows


def _cell(value):
    if value is None:
        return ''
    if isinstance(value, float):
        return '{:.6g}'.format(value)
    if isinstance(value, (str, int)):
        return str(value)
    return json.dumps(_jsonable(value))


def _jsonable(value):
    if isinstance(value, (list, tuple)):
        return [_jsonable(item) for item in value]
    if isinstance(value, dict):
        return dict((str(key), _jsonable(item)) for key, item in
                    value.items())
    if isinstance(value, bytes):
        return value.decode('latin-1')
    if hasattr(value, 'tolist'):
        return value.tolist()
    if value is None or isinstance(value, (bool, int, float, str)):
        return value
    return repr(value)


def table(columns, rows):
    """Rows as an aligned text table, ``time`` first."""
    header = ['time'] + list(columns)
    body = [[str(time)] + [_cell(values.get(key)) for key in columns]
            for time, values in rows]
    widths = [max(len(line[index]) for line in [header] + body)
              for index in range(len(header))]
    return '\n'.join('  '.join(cell.rjust(width) for cell, width in
                               zip(line, widths)).rstrip()
                     for line in [header] + body)


# The subcommands.

def cmd_demo(args, out):
    from blocks_log import demo
    started = _time.time()
    log, story = demo.run(args.database, args.iterations)
    with log:
        for line in story:
            print(line, file=out)
        columns, rows = _rows(log)
        print('\nlast rows of run {}:'.format(log.h_uuid[:8]), file=out)
        print(table(columns, rows[-5:]), file=out)
        print('\n' + chart(dict((key, log.history(key))
                                for key in ('train_loss', 'valid_loss'))),
              file=out)
        database, short = log.database, log.h_uuid[:8]
    print('\ndone in {:.2f} s. Next, try:'.format(_time.time() - started),
          file=out)
    for command in ('runs {db}', 'show {db} {run} --tail 5',
                    'export {db} {run} --format csv -o losses.csv',
                    'plot {db} {run} train_loss valid_loss'):
        print('  blocks-log ' + command.format(db=database, run=short),
              file=out)


def cmd_runs(args, out):
    database = args.database or _default_database()
    if not os.path.isfile(database):
        raise UsageError('{}: no such file'.format(database))
    try:
        runs = runs_module.list_runs(database)
    except (LogError, ValueError) as error:
        raise UsageError(str(error))
    lines = [['run', 'parent', 'iterations', 'epochs', 'rows', 'keys',
              'last time', 'by']]
    for run in runs:
        with SQLiteLog(database, uuid=run['uuid'], read_only=True) as log:
            status = log.status
            times = list(log)
            keys = sorted(set(key for _, key, _ in log.records()))
            lines.append([
                run['uuid'][:8], (run['resumed_from'] or '-')[:8],
                str(status.get('iterations_done', '?')),
                str(status.get('epochs_done', '?')), str(len(times)),
                ','.join(keys) or '-',
                str(times[-1]) if times else '-', run['written_by']])
    widths = [max(len(line[i]) for line in lines) for i in range(8)]
    for line in lines:
        print('  '.join(cell.ljust(width) for cell, width in
                        zip(line, widths)).rstrip(), file=out)


def _default_database():
    from blocks_log.sqlite import default_database
    return default_database()


def cmd_show(args, out):
    log = open_source(args.source, args.run, args.trust_pickle)
    keys = _check_keys(log, args.keys)
    columns, rows = _rows(log, keys)
    if args.head is not None:
        rows = rows[:args.head]
    elif args.tail is not None:
        rows = rows[-args.tail:] if args.tail else []
    print(table(columns, rows), file=out)


def cmd_export(args, out):
    log = open_source(args.source, args.run, args.trust_pickle)
    target = open(args.output, 'w', newline='') if args.output else out
    try:
        if args.long:
            _export_long(log, args.format, target)
            return
        columns, rows = _rows(log)
        if args.format == 'csv':
            writer = csv.writer(target, lineterminator='\n')
            writer.writerow(['time'] + columns)
            for time, values in rows:
                writer.writerow([time] + [_csv_cell(values.get(key))
                                          for key in columns])
        else:
            for time, values in rows:
                record = dict(time=time)
                record.update((key, _jsonable(value))
                              for key, value in values.items())
                target.write(json.dumps(record) + '\n')
    finally:
        if args.output:
            target.close()


def _export_long(log, format, target):
    # One record per value: what a SQL view of (run, time, key, value)
    # would give, read from chunks and rows alike.
    run = log.h_uuid
    if format == 'csv':
        writer = csv.writer(target, lineterminator='\n')
        writer.writerow(['run', 'time', 'key', 'value'])
        for time, key, value in log.records():
            writer.writerow([run, time, key, _csv_cell(value)])
    else:
        for time, key, value in log.records():
            target.write(json.dumps({'run': run, 'time': time, 'key': key,
                                     'value': _jsonable(value)}) + '\n')


def _csv_cell(value):
    if isinstance(value, float):
        return repr(value)  # exact, and nan/inf stay nan/inf
    return _cell(value)


def cmd_plot(args, out):
    log = open_source(args.source, args.run, args.trust_pickle)
    keys = _check_keys(log, ','.join(args.keys))
    series = dict((key, log.history(key)) for key in keys)
    if not args.output:
        print(chart(series), file=out)
        return
    try:
        import matplotlib
        matplotlib.use('Agg')
        from matplotlib import pyplot
    except ImportError:
        raise UsageError("a PNG needs matplotlib: pip install "
                         "'blocks-log[plot]' (or leave out -o for a chart "
                         "in the terminal)")
    figure, axes = pyplot.subplots()
    for key, values in series.items():
        points = [(t, v) for t, v in values if isinstance(v, (int, float))
                  and not isinstance(v, bool) and math.isfinite(v)]
        axes.plot([t for t, _ in points], [v for _, v in points], label=key)
    axes.set_xlabel('time (iteration)')
    axes.legend()
    figure.savefig(args.output)
    print('wrote {}'.format(args.output), file=out)


def cmd_watch(args, out):
    log = open_source(args.database, args.run, args.trust_pickle)
    keys = _check_keys(log, ','.join(args.keys)) if args.keys else None
    shown = -1
    try:
        while True:
            fresh = log.records(start=shown + 1)
            done = log.status['iterations_done']
            rows = {}
            for time, key, value in fresh:
                # Only rows of completed iterations: the current one may
                # still get values.
                if time < done and (keys is None or key in keys):
                    rows.setdefault(time, {})[key] = value
            for time in sorted(rows):
                print('{}  {}'.format(time, '  '.join(
                    '{}={}'.format(key, _cell(value))
                    for key, value in rows[time].items())), file=out)
                out.flush()
            shown = max([shown, done - 1])
            _time.sleep(args.interval)
    except KeyboardInterrupt:
        return


def build_parser():
    """The argparse parser of every subcommand."""
    parser = argparse.ArgumentParser(
        prog='blocks-log',
        description='Look at training logs written by blocks_log or Blocks.',
        epilog='A run is named by its uuid or any unique prefix of it. '
               'A SOURCE is an SQLite log database or a pickled log.')
    commands = parser.add_subparsers(dest='command', metavar='COMMAND')
    commands.required = True

    def command(name, help, example):
        sub = commands.add_parser(
            name, help=help, description=help,
            epilog='example: ' + example,
            formatter_class=argparse.RawDescriptionHelpFormatter)
        return sub

    demo = command('demo', 'train a tiny model, logging to SQLite, and show '
                   'its log', 'blocks-log demo --database demo.sqlite')
    demo.add_argument('--database', help='the SQLite file (default: '
                      '$BLOCKS_SQLITEDB or ~/blocks_log.sqlite)')
    demo.add_argument('--iterations', type=_positive, default=200,
                      help='training iterations (default: %(default)s)')
    demo.set_defaults(run_command=cmd_demo)

    runs = command('runs', 'list the runs of a database',
                   'blocks-log runs demo.sqlite')
    runs.add_argument('database', nargs='?', metavar='DB',
                      help='default: $BLOCKS_SQLITEDB or '
                           '~/blocks_log.sqlite')
    runs.set_defaults(run_command=cmd_runs)

    show = command('show', "print a run's rows as a table",
                   'blocks-log show demo.sqlite 3fa8 --keys loss --tail 5')
    _source_args(show)
    show.add_argument('--keys', help='comma-separated keys to show')
    ends = show.add_mutually_exclusive_group()
    ends.add_argument('--head', type=_natural, metavar='N')
    ends.add_argument('--tail', type=_natural, metavar='N')
    show.set_defaults(run_command=cmd_show)

    export = command('export', "write a run's rows as CSV or JSON Lines",
                     'blocks-log export demo.sqlite 3fa8 --format csv '
                     '-o log.csv')
    _source_args(export)
    export.add_argument('--format', choices=['csv', 'jsonl'], required=True)
    export.add_argument('--long', action='store_true',
                        help='one record per value (run, time, key, value) '
                             'instead of one per time')
    export.add_argument('-o', '--output', metavar='FILE',
                        help='default: standard output')
    export.set_defaults(run_command=cmd_export)

    plot = command('plot', 'chart keys of a run, in the terminal or a PNG',
                   'blocks-log plot demo.sqlite 3fa8 train_loss valid_loss')
    plot.add_argument('source', metavar='SOURCE')
    plot.add_argument('run_and_keys', nargs='+', metavar='[RUN] KEY')
    plot.add_argument('-o', '--output', metavar='FILE.png',
                      help='a PNG (needs the plot extra: matplotlib)')
    _trust_arg(plot)
    plot.set_defaults(run_command=cmd_plot)

    watch = command('watch', 'follow a run while it trains, until Ctrl-C',
                    'blocks-log watch demo.sqlite 3fa8 train_loss')
    watch.add_argument('database', metavar='DB')
    watch.add_argument('run', metavar='RUN')
    watch.add_argument('keys', nargs='*', metavar='KEY')
    watch.add_argument('--interval', type=float, default=0.5,
                       help='seconds between looks (default: %(default)s)')
    _trust_arg(watch)
    watch.set_defaults(run_command=cmd_watch)
    return parser


def _source_args(parser):
    parser.add_argument('source', metavar='SOURCE')
    parser.add_argument('run', nargs='?', metavar='RUN')
    _trust_arg(parser)


def _trust_arg(parser):
    parser.add_argument(
        '--trust-pickle', action='store_true',
        help='unpickle a pickled SOURCE as pickle.load would, running the '
             'code it names (only for files you made); by default anything '
             'but a log and plain values is read as an inert placeholder')


def _positive(text):
    value = _natural(text)
    if value < 2:
        raise argparse.ArgumentTypeError('must be at least 2')
    return value


def _natural(text):
    try:
        value = int(text)
    except ValueError:
        raise argparse.ArgumentTypeError('not a whole number: ' + text)
    if value < 0:
        raise argparse.ArgumentTypeError('must not be negative')
    return value


def main(argv=None, out=None):
    """Run the command line; return the exit status.

    Parameters
    ----------
    argv : list of str, optional
        Default: ``sys.argv[1:]``.
    out : file, optional
        Where output goes; default: standard output.

    """
    out = out or sys.stdout
    args = build_parser().parse_args(argv)
    if args.command == 'plot':
        _split_run_and_keys(args)
    try:
        args.run_command(args, out)
    except (UsageError, LogError) as error:
        # LogError: a database that cannot be used (not a database, not
        # writable, a newer schema); the message names the file.
        print('blocks-log {}: {}'.format(args.command, error),
              file=sys.stderr)
        return 2
    except BrokenPipeError:
        return 0
    return 0


def _split_run_and_keys(args):
    words = args.run_and_keys
    args.run, args.keys = None, words
    # The first word is a run if the source has runs to choose from and
    # the word is not one of the log's keys.
    if len(words) > 1 and os.path.isfile(args.source) and (
            runs_module.is_sqlite(args.source)):
        args.run, args.keys = words[0], words[1:]


if __name__ == '__main__':  # pragma: no cover
    sys.exit(main())
