"""``blocks-log show`` and ``blocks-log export``: a run's rows."""
import csv
import json
import os

from blocks_log.analysis import series_records
from blocks_log.cli import common
from blocks_log.tables import (
    cell, csv_cell, jsonable, keys_in_order, row_windows, rows_of,
    windows_of)


def cmd_show(args, out):
    keys = common.keys_of(args)
    with common.open_source(args) as source:
        log = source.open(args.run)
        if args.head is None and args.tail is None:
            # A whole run: read and printed a window at a time, as export
            # writes it (1,000,000 iterations of 10 values took 1.9 GB
            # read whole, and printed nothing until then).
            if keys is None:
                keys = keys_in_order([log])
            else:
                source.check_keys(keys, [log.h_uuid])
            last = log.last_time()
            _print_rows(keys, row_windows(log, keys), args.json, out,
                        len(str(last)) if last is not None else 0)
            return
        columns, rows = rows_of(log, keys, head=args.head, tail=args.tail)
        if keys is not None and not set(keys) <= set(
                key for _, values in rows for key in values):
            # Only a key missing from what is shown is looked up.
            source.check_keys(keys, [log.h_uuid])
    _print_rows(columns, [rows], args.json, out)


def _print_rows(columns, windows, as_json, out, time_width=0):
    # The rows of `windows` (lists of (time, {key: value})), of the keys
    # `columns`: as a table, or a JSON list (as json.dumps(rows, indent=1)
    # writes it); a window at a time.
    if as_json:
        opened = False
        for rows in windows:
            if not rows:
                continue
            # The window's records as json.dumps writes them in a list,
            # without the list's brackets.
            records = json.dumps([dict(time=time, **dict(
                (key, jsonable(value)) for key, value in values.items()))
                for time, values in rows], indent=1)[2:-2]
            out.write((',\n' if opened else '[\n') + records)
            opened = True
        print('\n]' if opened else '[]', file=out)
        return
    header = ['time'] + columns
    for line in common.table_lines(header, (
            [[str(time)] + [cell(values.get(key)) for key in columns]
             for time, values in rows] for rows in windows),
            right=header, least=[time_width]):
        print(line, file=out)


#: The suffix of a file of each format of ``export``.
SUFFIXES = {'csv': '.csv', 'jsonl': '.jsonl'}


def export_format(chosen, output):
    """The format ``export`` writes: `chosen` (``--format``), else the one
    that the suffix of `output` (``-o``) names.

    Raises
    ------
    UsageError
        If neither names one, or the suffix names another than `chosen`:
        a file named ``.jsonl`` holding CSV would surprise whoever reads
        it. A suffix that names none (``.txt``) takes `chosen`.
    """
    suffix = os.path.splitext(output or '')[1].lower()
    named = dict((each, name) for name, each in SUFFIXES.items()).get(suffix)
    if chosen is None and named is None:
        raise common.UsageError(
            'which format? --format csv or --format jsonl{}'.format(
                ', or an output FILE named .csv or .jsonl' if output is None
                else ' ({} names none)'.format(output)))
    if chosen is not None and named not in (None, chosen):
        raise common.UsageError(
            '{}: a {} name for --format {}; name it {}, or pass --format '
            '{}'.format(output, suffix, chosen, SUFFIXES[chosen], named))
    return chosen or named


def cmd_export(args, out):
    keys = common.keys_of(args)
    form = export_format(args.format, args.output)
    path = common.output_path(args.output, SUFFIXES[form], [
        args.source]) if args.output else None
    with common.open_source(args) as source:
        uuids = [source.find(run) for run in args.runs] or source.uuids()
        source.check_keys(keys, uuids)
        runs = [(uuid, source.open(uuid)) for uuid in uuids]
        if keys is None:
            # Every key, in the order it first appears: the header's, and
            # within a time the order of a record's values, whatever
            # windows the values are read in (see tables.windows_of).
            keys = keys_in_order([log for _, log in runs])
        if args.long:
            write = _long_csv if form == 'csv' else _long_jsonl
        else:
            write = _wide_csv if form == 'csv' else _wide_jsonl
        if path is None:
            write(runs, keys, out)
            return
        with common.written(path) as target:
            write(runs, keys, target)
    common.say_written(path, out)


# Each writes the values of `keys` (a list: the order of a header, and of
# a time's values) of `runs` ((uuid, log) each), read a window at a time
# (see tables.windows_of).

def _wide_csv(runs, keys, target):
    several = len(runs) > 1
    writer = csv.writer(target, lineterminator='\n')
    writer.writerow((['run'] if several else []) + ['time'] + keys)
    for uuid, log in runs:
        for rows in row_windows(log, keys):
            writer.writerows(([uuid] if several else []) + [time] + [
                csv_cell(values.get(key)) for key in keys]
                for time, values in rows)


def _wide_jsonl(runs, keys, target):
    several = len(runs) > 1
    for uuid, log in runs:
        for rows in row_windows(log, keys):
            for time, values in rows:
                record = {'run': uuid} if several else {}
                record['time'] = time
                record.update((key, jsonable(value))
                              for key, value in values.items())
                target.write(json.dumps(record) + '\n')


def _long_records(runs, keys):
    # One record per value: what a SQL view of (run, time, key, value)
    # would give, read from chunks and rows alike.
    for uuid, log in runs:
        for columns in windows_of(log, keys):
            for time, key, value in series_records(columns):
                yield uuid, time, key, value


def _long_csv(runs, keys, target):
    writer = csv.writer(target, lineterminator='\n')
    writer.writerow(['run', 'time', 'key', 'value'])
    for uuid, time, key, value in _long_records(runs, keys):
        writer.writerow([uuid, time, key, csv_cell(value)])


def _long_jsonl(runs, keys, target):
    for uuid, time, key, value in _long_records(runs, keys):
        target.write(json.dumps({'run': uuid, 'time': time, 'key': key,
                                 'value': jsonable(value)}) + '\n')


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
                     'blocks-log export demo.sqlite 3fa8 -o log.csv')
    common.add_source(parser, runs='*')
    parser.add_argument('--format', choices=sorted(SUFFIXES),
                        help='CSV: a header, then a row per time (NaN and '
                             'inf as such); JSON Lines: an object per row; '
                             'default: the one the output FILE is named '
                             'for (.csv, .jsonl)')
    parser.add_argument('--long', action='store_true',
                        help='one record per value (run, time, key, value) '
                             'instead of one per time')
    common.add_keys(parser)
    parser.add_argument('-o', '--output', metavar='FILE',
                        help='the file to write (its suffix added if it has '
                             'none), whole or not at all, never the SOURCE; '
                             'a pipe or a device (/dev/stdout) as it is '
                             'named; default: standard output')
    parser.set_defaults(run_command=cmd_export)
