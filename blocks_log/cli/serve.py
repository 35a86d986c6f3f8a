"""``blocks-log serve``: a live web page of the runs of a SOURCE."""
import ipaddress
import sys

from blocks_log.cli import common


def cmd_serve(args, out):
    from blocks_log.web.server import Server
    if not _loopback(args.host) and not args.public:
        raise common.UsageError(
            '--host {} is not this machine only: anyone who can reach it '
            'would read the runs (there is no password); add --public to '
            'serve them there'.format(args.host))
    with common.open_source(args) as source:
        source.runs()  # a SOURCE that cannot be read: exit 2
    try:
        server = Server(args.source, args.host, args.port,
                        verbose=args.verbose)
    except OSError as error:
        raise common.UsageError('cannot listen on {}:{} ({})'.format(
            args.host, args.port, error.strerror or error))
    if not _loopback(args.host):
        print('warning: anyone who can reach {} on this network can read '
              'these runs; the page has no password'.format(args.host),
              file=sys.stderr)
    print('serving {} at {} (Ctrl-C to stop)'.format(
        common.redact(args.source), server.url), file=out)
    out.flush()
    try:
        server.serve_forever()
    finally:
        server.server_close()


def _loopback(host):
    try:
        return ipaddress.ip_address(host).is_loopback
    except ValueError:
        return host == 'localhost'


def _port(text):
    value = common.natural(text)
    if value > 65535:
        import argparse
        raise argparse.ArgumentTypeError('must be at most 65535')
    return value


def add_commands(command):
    """Declare the commands of this module with `command(name, help,
    example)`."""
    parser = command('serve', 'a live web page of the runs: charts, lineage, '
                     'comparisons, rows, CSV', 'blocks-log serve demo.sqlite '
                     '--port 8000')
    common.add_source(parser, runs=None, trust=False)
    parser.add_argument('--host', default='127.0.0.1',
                        help='the address to listen on (default: '
                             '%(default)s, this machine only; ::1 for IPv6; '
                             'another one needs --public)')
    parser.add_argument('--public', action='store_true',
                        help='allow a --host that is not this machine only: '
                             'the runs are then shown to its whole network, '
                             'without a password')
    parser.add_argument('--port', type=_port, default=8000,
                        help='the port (default: %(default)s; 0 picks a free '
                             'one)')
    parser.add_argument('--verbose', action='store_true',
                        help='print each request on standard error')
    parser.set_defaults(run_command=cmd_serve)
