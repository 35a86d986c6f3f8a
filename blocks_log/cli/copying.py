"""``blocks-log copy``: runs from one store into another."""
import sys

from blocks_log import copy
from blocks_log.cli import common
from blocks_log.errors import LogError


def cmd_copy(args, out):
    try:
        results = copy.copy(args.source, args.destination, args.runs or None,
                            trusted=args.trust_pickle,
                            progress=copy.print_progress(sys.stderr))
    except (LogError, ValueError, OSError) as error:
        raise common.UsageError(str(error))
    for uuid, state in results:
        print('{}  {}'.format(uuid, state), file=out)


def add_commands(command):
    """Declare the commands of this module with `command(name, help,
    example)`."""
    parser = command('copy', 'copy runs (with their parents, status and '
                     'typed values) into another database; again, only '
                     'what changed', 'blocks-log copy runs.sqlite '
                     'postgresql://me@db.lab/runs')
    common.add_source(parser, runs=None)
    parser.add_argument('destination', metavar='DESTINATION',
                        help="an SQLite file (made if missing) or a "
                             "PostgreSQL database (a postgresql:// URL, or "
                             "libpq's 'host=... dbname=...')")
    parser.add_argument('runs', nargs='*', metavar='RUN',
                        help='uuids or unique prefixes; default: every run')
    parser.set_defaults(run_command=cmd_copy)
