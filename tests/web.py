"""A ``blocks-log serve`` server of the tests' own, in a thread of the test
process, on a free loopback port; and plain HTTP requests to it."""
import contextlib
import threading
import urllib.error
import urllib.request

from blocks_log.web.server import Server


@contextlib.contextmanager
def serving(source, host='127.0.0.1'):
    """The :class:`Server` of `source`, answering until the block ends."""
    server = Server(source, host=host, port=0)
    thread = threading.Thread(target=server.serve_forever, args=(0.05,),
                              daemon=True)
    thread.start()
    try:
        yield server
    finally:
        server.shutdown()
        server.server_close()
        thread.join(10)


def get(server, path):
    """``(status, headers, body as text)`` of GET `path`."""
    try:
        with urllib.request.urlopen(server.url.rstrip('/') + path,
                                    timeout=30) as response:
            return (response.status, response.headers,
                    response.read().decode('utf-8'))
    except urllib.error.HTTPError as error:
        with error:
            return error.code, error.headers, error.read().decode('utf-8')
