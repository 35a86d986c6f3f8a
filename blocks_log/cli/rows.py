"""``blocks-log show`` and ``blocks-log export``: a run's rows."""
import csv
import json

from blocks_log.analysis import series_records
from blocks_log.cli import common


def cmd_show(args, out):
    log = common.open_log(args.source, args.run, args.trust_pickle)
    try:
        keys = common.keys_of(args)
        columns, rows = common.rows_of(log, keys, head=args.head,
                                       tail=args.tail)
        if keys is not None and not set(keys) <= set(
                key for _, values in rows for key in values):
            # Only a key missing from what is shown costs a full read.
            common.check_keys(set(common.read_series(log)), keys)
    finally:
        common.close(log)
    if args.json:
        print(json.dumps([dict(time=time, **dict(
            (key, common.jsonable(value)) for key, value in values.items()))
            for time, values in rows], indent=1), file=out)
        return
    header = ['time'] + columns
    lines = [[str(time)] + [common.cell(values.get(key)) for key in columns]
             for time, values in rows]
    print(common.table(header, lines, right=header), file=out)


def cmd_export(args, out):
    keys = common.keys_of(args)
    runs = args.runs or common.every_run(args.source)
    path = common.output_path(args.output, '.' + args.format) if (
        args.output) else None
    logs = [common.open_log(args.source, run, args.trust_pickle)
            for run in runs]
    target = open(path, 'w', newline='') if path else out
    try:
        several = len(logs) > 1
        if args.long:
            write = _long_csv if args.format == 'csv' else _long_jsonl
            write(logs, keys, target)
        else:
            write = _wide_csv if args.format == 'csv' else _wide_jsonl
            write(logs, keys, target, several)
    finally:
        for log in logs:
            common.close(log)
        if path:
            target.close()
    if path:
        print('wrote {}'.format(path), file=out)


def _csv_cell(value):
    if isinstance(value, float):
        return repr(value)  # exact, and nan/inf stay nan/inf
    return common.cell(value)


def _wide_csv(logs, keys, target, several):
    tables = [(log.h_uuid,) + common.rows_of(log, keys) for log in logs]
    columns = []
    for _, each, _ in tables:
        columns.extend(key for key in each if key not in columns)
    writer = csv.writer(target, lineterminator='\n')
    writer.writerow((['run'] if several else []) + ['time'] + columns)
    for uuid, _, rows in tables:
        for time, values in rows:
            writer.writerow(([uuid] if several else []) + [time] + [
                _csv_cell(values.get(key)) for key in columns])


def _wide_jsonl(logs, keys, target, several):
    for log in logs:
        _, rows = common.rows_of(log, keys)
        for time, values in rows:
            record = {'run': log.h_uuid} if several else {}
            record['time'] = time
            record.update((key, common.jsonable(value))
                          for key, value in values.items())
            target.write(json.dumps(record) + '\n')


def _long_csv(logs, keys, target):
    # One record per value: what a SQL view of (run, time, key, value)
    # would give, read from chunks and rows alike.
    writer = csv.writer(target, lineterminator='\n')
    writer.writerow(['run', 'time', 'key', 'value'])
    for log in logs:
        for time, key, value in series_records(common.read_series(log)):
            if keys is None or key in keys:
                writer.writerow([log.h_uuid, time, key, _csv_cell(value)])


def _long_jsonl(logs, keys, target):
    for log in logs:
        for time, key, value in series_records(common.read_series(log)):
            if keys is None or key in keys:
                target.write(json.dumps({
                    'run': log.h_uuid, 'time': time, 'key': key,
                    'value': common.jsonable(value)}) + '\n')


def add_commands(command):
    """Declare the commands of this module with `command(name, help,
    example)`."""
    parser = command('show', "print a run's rows as a table",
                     'blocks-log show demo.sqlite 3fa8 --keys valid_loss '
                     '--tail 5')
    common.add_source(parser)
    common.add_keys(parser)
    ends = parser.add_mutually_exclusive_group()
    ends.add_argument('--head', type=common.natural, metavar='N',
                      help='only the first N rows')
    ends.add_argument('--tail', type=common.natural, metavar='N',
                      help='only the last N rows')
    common.add_json(parser)
    parser.set_defaults(run_command=cmd_show)

    parser = command('export', "write runs' rows as CSV or JSON Lines",
                     'blocks-log export demo.sqlite 3fa8 --format csv -o '
                     'log.csv')
    common.add_source(parser, runs='*')
    parser.add_argument('--format', choices=['csv', 'jsonl'], required=True,
                        help='CSV: a header, then a row per time (NaN and '
                             'inf as such); JSON Lines: an object per row')
    parser.add_argument('--long', action='store_true',
                        help='one record per value (run, time, key, value) '
                             'instead of one per time')
    common.add_keys(parser)
    parser.add_argument('-o', '--output', metavar='FILE',
                        help='the file to write (its suffix added if it has '
                             'none); default: standard output')
    parser.set_defaults(run_command=cmd_export)
