"""A throw-away PostgreSQL server for the tests, started by them.

Debian's PostgreSQL (installed with apt-get if it is absent and we are
root), a new cluster in a temporary directory, listening on 127.0.0.1 (and
on every address, for the tests of several hosts) and on a unix socket,
stopped at the end. As root the cluster belongs to the ``postgres`` user
(initdb refuses root). Under ``CI=true`` a server that cannot be started
fails the tests that need it; elsewhere they skip and say why.

"""
import glob
import os
import shutil
import socket
import subprocess
import tempfile

import helpers

USER, PASSWORD, DATABASE = 'blocks', 'secret-pw-1', 'blocks_log_test'


def unavailable(reason):
    """Fail under CI, skip elsewhere."""
    helpers.unavailable('PostgreSQL', reason)


def _binaries():
    found = sorted(glob.glob('/usr/lib/postgresql/*/bin/initdb'))
    if found:
        return os.path.dirname(found[-1])
    initdb = shutil.which('initdb')
    return os.path.dirname(initdb) if initdb else None


def _free_port():
    with socket.socket() as probe:
        probe.bind(('127.0.0.1', 0))
        return probe.getsockname()[1]


class Server(object):
    """A running cluster: ``dsn`` (TCP, with password), ``socket_dsn``
    (the unix socket), ``bin``, ``port``; ``run(*command)`` runs a command
    as the cluster's owner."""

    def __init__(self, fsync=False):
        self.fsync = fsync
        self.bin = _binaries()
        if self.bin is None:
            helpers.debian_install('postgresql')
            self.bin = _binaries()
        if self.bin is None:
            unavailable('no initdb (apt-get install postgresql)')
        self.root = tempfile.mkdtemp(prefix='blocks_log_pg_')
        self.data = os.path.join(self.root, 'data')
        self.sockets = os.path.join(self.root, 'sockets')
        os.mkdir(self.sockets)
        self.owner = None
        if os.geteuid() == 0:
            self.owner = 'postgres'
            shutil.chown(self.root, self.owner)
            shutil.chown(self.sockets, self.owner)
            os.chmod(self.root, 0o755)
        self.port = _free_port()
        password_file = os.path.join(self.root, 'password')
        with open(password_file, 'w') as f:
            f.write('postgres-pw\n')
        if self.owner:
            shutil.chown(password_file, self.owner)
        self.run('initdb', '-D', self.data, '-U', 'postgres', '-A',
                 'scram-sha-256', '--auth-local=trust', '--pwfile',
                 password_file, '-E', 'UTF8', '--locale=C')
        with open(os.path.join(self.data, 'pg_hba.conf'), 'a') as hba:
            hba.write('host all all 0.0.0.0/0 scram-sha-256\n')
        self.start()
        self.psql("CREATE ROLE {} LOGIN PASSWORD '{}'".format(USER,
                                                              PASSWORD))
        self.psql('CREATE DATABASE {} OWNER {}'.format(DATABASE, USER))
        self.dsn = ('host=127.0.0.1 port={} dbname={} user={} password={}'
                    .format(self.port, DATABASE, USER, PASSWORD))
        self.socket_dsn = 'host={} port={} dbname={} user={}'.format(
            self.sockets, self.port, DATABASE, USER)
        self.socket_url = 'postgresql:///{}?host={}&port={}&user={}'.format(
            DATABASE, self.sockets, self.port, USER)
        self.url = 'postgresql://{}:{}@127.0.0.1:{}/{}'.format(
            USER, PASSWORD, self.port, DATABASE)

    def run(self, program, *arguments, **kwargs):
        command = [os.path.join(self.bin, program)] + list(arguments)
        if self.owner:
            command = ['runuser', '-u', self.owner, '--'] + command
        result = subprocess.run(command, stdout=subprocess.PIPE,
                                stderr=subprocess.STDOUT, timeout=120,
                                universal_newlines=True, **kwargs)
        if result.returncode:
            unavailable('{} failed: {}'.format(program, result.stdout[-500:]))
        return result.stdout

    def start(self):
        self.run('pg_ctl', '-D', self.data, '-w', '-l',
                 os.path.join(self.data, 'server.log'), '-o',
                 "-c listen_addresses='*' -c port={} -c "
                 "unix_socket_directories='{}' -c fsync={} -c "
                 "max_connections=200".format(
                     self.port, self.sockets, 'on' if self.fsync else 'off'),
                 'start')

    def restart(self):
        # The log file again: the server must not hold our pipe open.
        self.run('pg_ctl', '-D', self.data, '-w', '-m', 'fast', '-l',
                 os.path.join(self.data, 'server.log'), 'restart')

    def halt(self):
        """Stop the server, keeping its data (``start()`` it again)."""
        self.run('pg_ctl', '-D', self.data, '-w', '-m', 'fast', 'stop')

    def psql(self, statement, database='postgres'):
        return self.run('psql', '-h', self.sockets, '-p', str(self.port),
                        '-U', 'postgres', '-d', database, '-v',
                        'ON_ERROR_STOP=1', '-qAt', '-c', statement)

    def stop(self):
        self.run('pg_ctl', '-D', self.data, '-w', '-m', 'fast', 'stop')
        shutil.rmtree(self.root, ignore_errors=True)


class Pooler(object):
    """pgbouncer, Debian's, in front of `server`, pooling in `mode`
    (``'session'`` or ``'transaction'``; in transaction mode with one
    server session per database and user, which its clients share, one
    transaction at a time); ``dsn(database)``
    connects to it over TCP. With `ignore_options`, ``options`` is among
    the startup parameters it passes over (it refuses them by default),
    as users set it up. Under ``CI=true`` a pooler that cannot start fails
    the tests that need it; elsewhere they skip and say why."""

    def __init__(self, server, mode, ignore_options=True):
        self.binary = shutil.which('pgbouncer') or '/usr/sbin/pgbouncer'
        if not os.path.exists(self.binary):
            helpers.debian_install('pgbouncer')
        if not os.path.exists(self.binary):
            helpers.unavailable('pgbouncer', 'not installed (apt-get install '
                                'pgbouncer)')
        self.root = tempfile.mkdtemp(prefix='blocks_log_pgbouncer_')
        self.port = _free_port()
        users = os.path.join(self.root, 'users.txt')
        with open(users, 'w') as f:
            f.write('"{}" "{}"\n'.format(USER, PASSWORD))
        self.config = os.path.join(self.root, 'pgbouncer.ini')
        with open(self.config, 'w') as f:
            f.write('[databases]\n* = host=127.0.0.1 port={}\n'
                    '[pgbouncer]\nlisten_addr = 127.0.0.1\n'
                    'listen_port = {}\nunix_socket_dir =\n'
                    'auth_type = plain\nauth_file = {}\npool_mode = {}\n'
                    'default_pool_size = {}\n'
                    '{ignore}'
                    'logfile = {root}/pgbouncer.log\n'
                    'pidfile = {root}/pgbouncer.pid\n'.format(
                        server.port, self.port, users, mode,
                        1 if mode == 'transaction' else 4, root=self.root,
                        ignore='ignore_startup_parameters = options\n' if (
                            ignore_options) else ''))
        command = [self.binary, '-d', self.config]
        if os.geteuid() == 0:  # pgbouncer refuses root
            for name in os.listdir(self.root) + ['']:
                shutil.chown(os.path.join(self.root, name), server.owner)
            command = ['runuser', '-u', server.owner, '--'] + command
        started = subprocess.run(command, stdout=subprocess.PIPE,
                                 stderr=subprocess.STDOUT, timeout=60,
                                 universal_newlines=True)
        if started.returncode or not self._listening():
            shutil.rmtree(self.root, ignore_errors=True)
            helpers.unavailable('pgbouncer', 'it did not start: ' + (
                started.stdout[-500:]))

    def _listening(self):
        import time
        deadline = time.monotonic() + 10
        while time.monotonic() < deadline:
            try:
                socket.create_connection(('127.0.0.1', self.port), 1).close()
                return True
            except OSError:
                time.sleep(0.05)
        return False

    def dsn(self, database):
        return 'host=127.0.0.1 port={} dbname={} user={} password={}'.format(
            self.port, database, USER, PASSWORD)

    def stop(self):
        import signal
        try:
            with open(os.path.join(self.root, 'pgbouncer.pid')) as f:
                os.kill(int(f.read()), signal.SIGINT)  # at once
        except (OSError, ValueError):
            pass
        shutil.rmtree(self.root, ignore_errors=True)
