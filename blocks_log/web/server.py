"""The HTTP server of ``blocks-log serve``: the standard library's, one
thread per request, every request read-only."""
import http.server
import json
import os
import sys
import traceback
from urllib.parse import parse_qsl, unquote, urlsplit

from blocks_log.errors import LogError
from blocks_log.web import data, pages

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

    def do_GET(self):
        parts = urlsplit(self.path)
        query = dict(parse_qsl(parts.query))
        path = unquote(parts.path)
        api = path.startswith('/api/')
        source = self.server.source
        try:
            self._route(path, query, source)
        except data.NotFound as error:
            self._error(404, str(error), api)
        except data.BadRequest as error:
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
            self._send(200, pages.runs_page(source, data.run_list(source)))
        elif path.startswith('/run/') and '/' not in path[5:] and path[5:]:
            uuid = data.find(source, path[5:])
            self._send(200, pages.chart_page(
                source, 'Run ' + uuid, data.described(source, [uuid])))
        elif path == '/compare':
            uuids = [data.find(source, name)
                     for name in data.names(query, 'runs')]
            if not uuids:
                raise data.BadRequest('pick the runs to compare: '
                                      '/compare?runs=uuid,uuid')
            self._send(200, pages.chart_page(
                source, 'Runs ' + ', '.join(u[:8] for u in uuids),
                data.described(source, uuids)))
        elif path == '/api/runs':
            self._json(data.run_list(source))
        elif path == '/api/series':
            self._json(data.series(source, query))
        elif path == '/api/rows':
            self._json(data.rows(source, query))
        elif path == '/api/csv':
            self._send(200, data.csv_text(source, query),
                       'text/csv; charset=utf-8', {
                           'Content-Disposition':
                               'attachment; filename="blocks-log.csv"'})
        elif path.startswith('/static/') and path[8:] in STATIC_FILES:
            with open(os.path.join(STATIC, path[8:]), 'rb') as f:
                self._send(200, f.read(), STATIC_FILES[path[8:]],
                           {'Cache-Control': 'max-age=3600'})
        else:
            raise data.NotFound('no page {}'.format(path))

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
        self.send_response(status)
        headers = dict(HEADERS, **(extra or {}))
        headers['Content-Type'] = content_type
        headers['Content-Length'] = str(len(body))
        for name, value in headers.items():
            self.send_header(name, value)
        self.end_headers()
        self.wfile.write(body)

    def log_message(self, format, *arguments):
        if self.server.verbose:
            super(Handler, self).log_message(format, *arguments)


class Server(http.server.ThreadingHTTPServer):
    """The server of one SOURCE."""
    daemon_threads = True

    def __init__(self, source, host='127.0.0.1', port=8000, verbose=False):
        self.source = source
        self.verbose = verbose
        http.server.ThreadingHTTPServer.__init__(self, (host, port), Handler)

    @property
    def url(self):
        """The address of the runs page."""
        host, port = self.server_address[:2]
        shown = host if ':' not in host else '[{}]'.format(host)
        if host in ('0.0.0.0', '::'):
            shown = '127.0.0.1'
        return 'http://{}:{}/'.format(shown, port)
