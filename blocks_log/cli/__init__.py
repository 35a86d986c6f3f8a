"""The ``blocks-log`` command line (also ``python -m blocks_log``).

One module per group of commands: :mod:`.runs` (runs, compare),
:mod:`.rows` (show, export), :mod:`.charts` (plot, watch),
:mod:`.copying` (copy), :mod:`.serve` (serve, over :mod:`blocks_log.web`),
:mod:`.demo`; :mod:`.common` holds what they
share. Reading commands open databases read-only: they never create or
change a file, and write a file the user names whole or not at all,
never over what they read. Errors in what the user gave print one line on
stderr and exit 2; Ctrl-C exits 130; a database is named in messages,
never its password.

"""
import argparse
import sys
import warnings

from blocks_log.cli import (charts, common, copying, demo, rows, runs,
                            serve)
from blocks_log.errors import LogError
from blocks_log.tables import printable

MODULES = (demo, runs, rows, charts, copying, serve)


class _Parser(argparse.ArgumentParser):
    """An argparse parser whose errors are one line, as every error of
    the command line is."""

    def error(self, message):
        self.exit(2, '{}: error: {}\n'.format(self.prog, message))


def build_parser():
    """The argparse parser of every command."""
    from blocks_log import __version__
    parser = _Parser(
        prog='blocks-log',
        description='Look at training logs written by blocks_log or Blocks.',
        epilog='A run is named by its uuid or any unique prefix of it. A '
               "SOURCE is an SQLite log database, a PostgreSQL database (a "
               "postgresql:// URL, or libpq's 'host=... dbname=...'), a "
               "pickled log or a checkpoint tar of Blocks.")
    parser.add_argument('--version', action='version',
                        version='blocks-log ' + __version__)
    commands = parser.add_subparsers(dest='command', metavar='COMMAND',
                                     parser_class=_Parser)
    commands.required = True

    def command(name, help, example):
        return commands.add_parser(
            name, help=help, description=help, epilog='example: ' + example,
            formatter_class=argparse.RawDescriptionHelpFormatter)
    for module in MODULES:
        module.add_commands(command)
    return parser


def _say(command, message):
    # On one line of standard error (a driver's message of several lines
    # too), with no password, nor an escape that the terminal would act on
    # (a key of a log someone sent).
    print('blocks-log {}: {}'.format(command, common.redact(printable(
        ' '.join(str(message).split())))), file=sys.stderr)


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
    try:
        with warnings.catch_warnings():
            # A warning on one line too, as an error is, never a file and
            # line of blocks_log's.
            warnings.showwarning = lambda message, *rest: _say(
                args.command, 'warning: {}'.format(message))
            args.run_command(args, out)
    except KeyboardInterrupt:
        # Stopped by Ctrl-C (watch, serve): as a shell reports SIGINT.
        return 130
    except (common.UsageError, LogError) as error:
        # LogError: a database that cannot be used (not a database, not
        # writable, a newer schema); the message names it.
        _say(args.command, error)
        return 2
    except BrokenPipeError:
        return 0
    return 0
