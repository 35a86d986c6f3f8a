"""The HTTP server of ``blocks-log serve``: the standard library's, a
thread per connection, every request read-only.

It is neither the way in nor the way down: it answers only requests that
name it (a ``Host`` of this machine: a page elsewhere cannot reach the
runs through DNS rebinding), gives each connection :data:`IDLE_SECONDS`
between requests and :data:`REQUEST_SECONDS` to send one, answers
:data:`MAX_CONNECTIONS` at once (a 503 past them), bounds what one request
may ask for (see :mod:`.data`, :mod:`.charts` and :mod:`.rows`), and stops
reading the runs for a client that went away.

"""
import http.server
import ipaddress
import json
import os
import select
import socket
import sys
import threading
import traceback
from urllib.parse import parse_qsl, unquote, urlsplit

from blocks_log.errors import LogError, UnknownKeyError
from blocks_log.sources import Source
from blocks_log.web import charts, data, pages, rows

#: Seconds a connection may wait idle for its next request.
IDLE_SECONDS = 15
#: Seconds a client has, besides, to send a whole request: one that sends
#: its headers a byte at a time cannot hold a thread.
REQUEST_SECONDS = 10
#: Connections answered at once; a connection past them gets a 503.
MAX_CONNECTIONS = 64
#: Connections the system holds until one is answered (Python's default,
#: 5, dropped a tenth of 200 requests at once).
REQUEST_QUEUE = 128

STATIC = os.path.join(os.path.dirname(os.path.abspath(__file__)), 'static')
# The files served, and nothing else: no path reaches outside the app.
STATIC_FILES = {
    'app.js': 'text/javascript; charset=utf-8',
    'style.css': 'text/css; charset=utf-8',
    'uPlot.iife.min.js': 'text/javascript; charset=utf-8',
    'uPlot.min.css': 'text/css; charset=utf-8',
    'uPlot.LICENSE': 'text/plain; charset=utf-8',
}
HEADERS = {
    # Only the app's own script and styles run: a key named <script> is
    # text wherever it goes.
    'Content-Security-Policy': "default-src 'self'; style-src 'self'; "
                               "img-src 'self' data:; object-src 'none'",
    'X-Content-Type-Options': 'nosniff',
    'Referrer-Policy': 'no-referrer',
    'Cache-Control': 'no-store',
}


class Handler(http.server.BaseHTTPRequestHandler):
    """Answers the pages and the API for ``self.server.source``."""
    server_version = 'blocks-log'
    protocol_version = 'HTTP/1.1'

    @property
    def timeout(self):
        """Seconds each read or write of the connection may wait
        (socketserver's): an idle client, or one that reads nothing of its
        answer, lets the thread go."""
        return IDLE_SECONDS

    def handle_one_request(self):
        # A client has IDLE_SECONDS + REQUEST_SECONDS to send a request,
        # however slowly it sends it; then the connection is cut.
        self._deadline = threading.Timer(IDLE_SECONDS + REQUEST_SECONDS,
                                         self._cut)
        self._deadline.daemon = True
        self._deadline.start()
        try:
            http.server.BaseHTTPRequestHandler.handle_one_request(self)
        finally:
            self._deadline.cancel()

    def _cut(self):
        try:
            self.connection.shutdown(socket.SHUT_RDWR)
        except OSError:
            pass

    def gone(self):
        """Whether the client closed its connection (a page closed): the
        work for it stops there."""
        try:
            readable, _, _ = select.select([self.connection], [], [], 0)
            return bool(readable) and self.connection.recv(
                1, socket.MSG_PEEK) == b''
        except OSError:
            return True

    def do_GET(self):
        self._deadline.cancel()  # the request is here, whole
        parts = urlsplit(self.path)
        query = dict(parse_qsl(parts.query))
        path = unquote(parts.path)
        api = path.startswith('/api/')
        source = self.server.source
        if not self.server.answers_for(self.headers.get('Host')):
            # 421: this server is not the one the page meant.
            self._error(421, 'this server answers requests for {} only'
                        .format(self.server.url), api)
            return
        try:
            if path.startswith('/static/'):
                self._static(path[8:])
                return
            # One Source a request: the file looked at once, its runs
            # listed once, a run being trained seen as it grows.
            with Source(source, strict=True) as opened:
                self._route(path, query, opened)
        except data.Gone:
            self.close_connection = True
        except data.NotFound as error:
            self._error(404, str(error), api)
        except (data.BadRequest, UnknownKeyError) as error:
            self._error(400, str(error), api)
        except LookupError as error:  # a run prefix naming no run, or many
            self._error(404, str(error).strip('"\''), api)
        except LogError as error:
            self._error(500, str(error), api)
        except Exception:  # never a traceback in the page; one on stderr
            traceback.print_exc(file=sys.stderr)
            self._error(500, 'something went wrong reading the runs', api)

    def _route(self, path, query, source):
        if path == '/':
            self._send(200, pages.runs_page(source.name,
                                            data.run_list(source)))
        elif path.startswith('/run/') and '/' not in path[5:] and path[5:]:
            uuid = data.find(source, path[5:])
            self._send(200, pages.chart_page(
                source.name, 'Run ' + uuid, data.described(source, [uuid])))
        elif path == '/compare':
            uuids = [data.find(source, name)
                     for name in data.names(query, 'runs')]
            if not uuids:
                raise data.BadRequest('pick the runs to compare: '
                                      '/compare?runs=uuid,uuid')
            shown = [uuid[:8] for uuid in uuids[:pages.COMPACT]]
            if len(uuids) > pages.COMPACT:
                shown.append('\u2026 ({} runs)'.format(len(uuids)))
            self._send(200, pages.chart_page(
                source.name, 'Runs ' + ', '.join(shown),
                data.described(source, uuids)))
        elif path == '/api/runs':
            self._json(data.run_list(source))
        elif path == '/api/series':
            self._json(charts.series(source, query, self.gone))
        elif path == '/api/summary':
            self._json(data.summary(source, query, self.gone))
        elif path == '/api/rows':
            self._json(rows.rows(source, query))
        elif path == '/api/json':
            self._stream(rows.json_text(source, query), 'application/json',
                         'blocks-log.json')
        elif path == '/api/csv':
            self._stream(rows.csv_text(source, query),
                         'text/csv; charset=utf-8', 'blocks-log.csv')
        else:
            raise data.NotFound('no page {}'.format(path))

    def _static(self, name):
        if name not in STATIC_FILES:
            raise data.NotFound('no page /static/{}'.format(name))
        with open(os.path.join(STATIC, name), 'rb') as f:
            self._send(200, f.read(), STATIC_FILES[name],
                       {'Cache-Control': 'max-age=3600'})

    def _json(self, value):
        self._send(200, json.dumps(value, allow_nan=False, default=str),
                   'application/json')

    def _error(self, status, message, api):
        if api:
            self._send(status, json.dumps({'error': message}),
                       'application/json')
        else:
            self._send(status, pages.error_page(self.server.source, status,
                                                message))

    def _send(self, status, body, content_type='text/html; charset=utf-8',
              extra=None):
        if isinstance(body, str):
            body = body.encode('utf-8')
        self._begin(status, dict(extra or {}, **{
            'Content-Type': content_type,
            'Content-Length': str(len(body))}))
        self.wfile.write(body)

    def _begin(self, status, headers):
        # The status line and the headers: ours (HEADERS) and `headers`.
        self.send_response(status)
        for name, value in dict(HEADERS, **headers).items():
            self.send_header(name, value)
        self.end_headers()

    def _stream(self, pieces, content_type, name):
        # An export sent as it is read (HTTP/1.1 chunks), so that what a
        # request holds does not grow with the runs. What fails once the
        # answer has begun cuts it short (the client sees it incomplete),
        # and is told on stderr.
        self._begin(200, {
            'Content-Type': content_type, 'Transfer-Encoding': 'chunked',
            'Content-Disposition': 'attachment; filename="{}"'.format(name)})
        try:
            for piece in pieces:
                body = piece.encode('utf-8')
                if body:
                    self.wfile.write(b'%x\r\n%s\r\n' % (len(body), body))
            self.wfile.write(b'0\r\n\r\n')
        except OSError:  # the client went away
            self.close_connection = True
        except Exception as error:
            self.close_connection = True
            sys.stderr.write('blocks-log serve: {} cut short: {}\n'.format(
                self.path, error))

    def log_message(self, format, *arguments):
        if self.server.verbose:
            super(Handler, self).log_message(format, *arguments)


class Server(http.server.ThreadingHTTPServer):
    """The server of one SOURCE, on `host` (an IPv4 or IPv6 address, or a
    name) and `port` (0: a free one).

    Raises
    ------
    OSError
        If it cannot listen there.
    """
    daemon_threads = True
    request_queue_size = REQUEST_QUEUE

    def __init__(self, source, host='127.0.0.1', port=8000, verbose=False):
        self.source = source
        self.verbose = verbose
        self.host = host
        self.address_family = (socket.AF_INET6 if ':' in host else
                               socket.AF_INET)
        self._answering = threading.BoundedSemaphore(MAX_CONNECTIONS)
        http.server.ThreadingHTTPServer.__init__(self, (host, port), Handler)
        self._names = set(['localhost', host.lower(), socket.gethostname()
                           .lower(), socket.getfqdn().lower()])

    def answers_for(self, host):
        """Whether a request whose ``Host`` header is `host` is meant for
        this server: its port, and the name or address of this machine
        (an address, ``localhost``, its host name, or that it listens on),
        never a name of some other site's that resolves here."""
        if not host:
            return False
        try:
            parts = urlsplit('//' + host)
            name, port = parts.hostname, parts.port
        except ValueError:
            return False
        if name is None or (port or 80) != self.server_address[1]:
            return False
        try:
            ipaddress.ip_address(name)
            return True
        except ValueError:
            return name.lower() in self._names

    def process_request(self, request, client_address):
        # A thread per connection, MAX_CONNECTIONS at most.
        if not self._answering.acquire(blocking=False):
            try:
                request.sendall(b'HTTP/1.1 503 Service Unavailable\r\n'
                                b'Content-Length: 0\r\nConnection: close'
                                b'\r\nRetry-After: 1\r\n\r\n')
            except OSError:
                pass
            self.shutdown_request(request)
            return
        http.server.ThreadingHTTPServer.process_request(
            self, request, client_address)

    def process_request_thread(self, request, client_address):
        try:
            http.server.ThreadingHTTPServer.process_request_thread(
                self, request, client_address)
        finally:
            self._answering.release()

    @property
    def url(self):
        """The address of the runs page."""
        host, port = self.server_address[:2]
        if host in ('0.0.0.0', '::'):
            host = '127.0.0.1' if host == '0.0.0.0' else '::1'
        shown = host if ':' not in host else '[{}]'.format(host)
        return 'http://{}:{}/'.format(shown, port)
