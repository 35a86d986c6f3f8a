"""``blocks-log runs`` and ``blocks-log compare``: many runs at once."""
import json
import time

from blocks_log import runs
from blocks_log.cli import common
from blocks_log.tables import cell, jsonable


def cmd_runs(args, out):
    source = common.default_source() if args.source is None else args.source
    with common.open_source(args, source) as opened:
        found = opened.runs()
    if args.json:
        print(json.dumps([run.as_dict() for run in found], indent=1),
              file=out)
        return
    header = ['run', 'parent', 'created', 'iterations', 'epochs', 'rows',
              'keys', 'last time', 'writer']
    lines = [[run.uuid[:8], (run.parent or '-')[:8], _when(run.created),
              _count(run.iterations), _count(run.epochs), str(run.rows),
              _keys(run.keys), _count(run.last_time),
              run.writer or ('-' if run.written_by == 'blocks_log' else
                             'written by ' + run.written_by)]
             for run in found]
    print(common.table(header, lines, right=('iterations', 'epochs', 'rows',
                                             'last time')), file=out)


def _keys(keys):
    # The keys of a run, as many as a cell holds, and how many there are
    # if not all (a run logging a key named after each step had 400,000
    # in one line); --json lists them all.
    text = ','.join(keys) or '-'
    shown = cell(text)
    return shown if shown == text else '{} ({:,} keys)'.format(
        shown, len(keys))


def _when(created):
    if created is None:
        return '-'
    # time's strftime: a third of what datetime's costs, once per run.
    return time.strftime('%Y-%m-%d %H:%M', time.localtime(created))


def _count(value):
    return '-' if value is None else str(value)


def cmd_compare(args, out):
    keys = common.keys_of(args)
    with common.open_source(args) as source:
        names = [source.find(run) for run in args.runs] or source.uuids()
        source.check_keys(keys, names)
        table = runs.compare(source, names, keys)
    if args.json:
        print(json.dumps([dict((name, jsonable(value))
                               for name, value in row.items())
                          for row in table], indent=1), file=out)
        return
    header = ['run', 'key', 'values', 'last time', 'last', 'min', 'at',
              'max', 'at ']
    lines = [[row['run'][:8], row['key'], str(row['count']),
              _count(row['last_time']), cell(row['last']),
              cell(row['min']), _count(row['min_time']),
              cell(row['max']), _count(row['max_time'])]
             for row in table]
    print(common.table(header, lines, right=(
        'values', 'last time', 'last', 'min', 'at', 'max', 'at ')), file=out)


def add_commands(command):
    """Declare the commands of this module with `command(name, help,
    example)`."""
    parser = command('runs', 'list the runs of a database, with their '
                     'lineage, size and writer',
                     'blocks-log runs demo.sqlite')
    parser.add_argument('source', nargs='?', metavar='SOURCE',
                        help='a database, pickle or checkpoint; default: '
                             '$BLOCKS_SQLITEDB or ~/blocks_log.sqlite')
    parser.add_argument('--trust-pickle', action='store_true',
                        help='unpickle a pickled SOURCE as pickle.load '
                             'would (only for files you made)')
    common.add_json(parser)
    parser.set_defaults(run_command=cmd_runs)

    parser = command('compare', "compare runs key by key: values, last, "
                     "smallest and largest", 'blocks-log compare '
                     'demo.sqlite 3fa8 7f02 --keys valid_loss')
    common.add_source(parser, runs='*')
    common.add_keys(parser)
    common.add_json(parser)
    parser.set_defaults(run_command=cmd_compare)
