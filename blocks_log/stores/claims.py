"""Claims: which handle writes a run, and whether it is still there.

A writable handle records a claim on its run (host, the kernel's boot id,
process id, the process's start time and a random handle id), which says
who writes it, and from which machine;
a second writable open of the run is refused while the claim is held.

Whether it is held is the kernel's or the server's to say, wherever they
can: an SQLite file's writer holds a lock on one byte (the run's id) of a
file beside the database (:class:`FileClaim`), and a PostgreSQL writer's
session an advisory lock (see :mod:`.postgresql_sql`). Either is let go
when its process ends, however it ends, and holds across PID namespaces
(containers on one host), which a process id does not. Elsewhere (a
database in memory, a system without such locks) a claim is stale when its
process has ended, when its process id was reused by another process, or
when it names a handle of this process that is closed or was
garbage-collected.

"""
import contextlib
import errno
import functools
import os
import struct
import sys
import time
import warnings

try:
    import fcntl
except ImportError:  # pragma: no cover (not a POSIX system)
    fcntl = None

from blocks_log import flat_json
from blocks_log.errors import LogDatabaseError, RunInUseError

# The handle ids of this process's open writable handles, by their claims.
_LIVE_HANDLES = {}


def _host():
    # The kernel's nodename, as socket.gethostname() gives it, without
    # importing socket (4 ms of a training script's start-up).
    if hasattr(os, 'uname'):
        return os.uname().nodename
    import socket
    return socket.gethostname()


@functools.lru_cache(maxsize=None)
def _boot():
    # The running kernel's boot id (Linux): shared by every container of a
    # machine, another on another machine (or after a reboot). Read once:
    # a process does not change machines.
    try:
        with open('/proc/sys/kernel/random/boot_id') as boot_id:
            return boot_id.read().strip() or None
    except OSError:
        return None


def _start_time(pid):
    """The start time of process `pid` in clock ticks since boot, or None
    where /proc does not tell (not Linux)."""
    try:
        with open('/proc/{}/stat'.format(pid), 'rb') as stat:
            # The process name, in parentheses, may hold spaces.
            fields = stat.read().rsplit(b')', 1)[1].split()
        return int(fields[19])
    except (OSError, IndexError, ValueError):
        return None


def _alive(pid):
    try:
        os.kill(pid, 0)
    except ProcessLookupError:
        return False
    except OSError:  # another user's process: there
        return True
    return True


def new_claim():
    """Make the claim of a new writable handle, held until :func:`drop`.

    Returns
    -------
    str
        What a store records as the run's writer.

    """
    pid = os.getpid()
    handle = os.urandom(16).hex()
    claim = flat_json.dumps({'host': _host(), 'pid': pid, 'boot': _boot(),
                             'start': _start_time(pid), 'handle': handle})
    _LIVE_HANDLES[claim] = handle
    return claim


def drop(claim):
    """Forget `claim`, made by :func:`new_claim`: its handle is closed."""
    _LIVE_HANDLES.pop(claim, None)


def parse(claim):
    """The fields of `claim` (a dict; empty if it is damaged)."""
    return _parse(claim)


def _parse(claim):
    import json  # not at start-up: a new log's claim is made, not read
    try:
        parsed = json.loads(claim)
    except (TypeError, ValueError):
        return {}
    return parsed if isinstance(parsed, dict) else {}


def is_stale(claim):
    """Whether the writer that made `claim` is gone.

    A claim made on another host is never found stale: nothing here can
    tell whether its process lives.

    """
    info = _parse(claim)
    if not info:
        return True  # damaged: nobody can hold it
    if info.get('host') != _host():
        return False
    pid = info.get('pid')
    if not isinstance(pid, int):
        return True
    if pid == os.getpid():
        return info.get('handle') not in _LIVE_HANDLES.values()
    if not _alive(pid):
        return True
    start = _start_time(pid)
    return start is not None and info.get('start') not in (None, start)


def on_another_machine(claim):
    """Whether `claim` was made on another machine than this process runs
    on: under another running kernel (containers of one machine share
    theirs, whatever their host names). ``False`` where either side does
    not tell (not Linux; a claim of an earlier blocks_log)."""
    theirs, ours = _parse(claim).get('boot'), _boot()
    return bool(theirs and ours and theirs != ours)


def describe(claim):
    """A claim in words, for error messages."""
    info = _parse(claim)
    if not info:
        return 'an unknown writer'
    return 'process {} on host {}'.format(info.get('pid'), info.get('host'))


def in_use(store_name, run_uuid, claim):
    """The :class:`~blocks_log.errors.RunInUseError` of a second writable
    open of a run that `claim` holds."""
    info = _parse(claim)
    if info.get('pid') == os.getpid() and info.get('host') == _host():
        # A notebook's earlier cell, most often, holds it.
        return RunInUseError(
            '{}: run {} is being written by another log of this process '
            '({}), still open: close() that one first, or open this one '
            'with read_only=True to read it'.format(
                store_name, run_uuid, describe(claim)))
    return RunInUseError(
        '{}: run {} is being written by {}; open it with read_only=True to '
        'read it, or wait until that writer closes it'.format(
            store_name, run_uuid, describe(claim)))


def on_two_machines(store_name, run_uuid, claim):
    """The :class:`~blocks_log.errors.RunInUseError` of a writable open of
    an SQLite file that `claim`, made on another machine, writes run
    `run_uuid` of."""
    return RunInUseError(
        '{}: run {} of this file is being written on another machine ({}); '
        'an SQLite file written from two machines at once (on a network '
        'filesystem) is damaged, as the index of its WAL is in memory that '
        'only the processes of one machine share: give each machine a '
        'file of its own (on its own disk, or by $BLOCKS_SQLITEDB), or '
        'log runs of many machines to PostgreSQL (PostgreSQLLog)'.format(
            store_name, run_uuid, describe(claim)))


def read_from_another_machine(store_name, run_uuid, claim):
    """What to tell a reader of an SQLite file that `claim`, made on
    another machine, writes run `run_uuid` of."""
    return (
        '{}: run {} is being written on another machine ({}); what is read '
        'here may be out of date, or fail: the index of an SQLite file\'s '
        'WAL is in memory that only the processes of one machine share. '
        'Read it on that machine, or log runs of many machines to '
        'PostgreSQL (PostgreSQLLog)'.format(store_name, run_uuid,
                                            describe(claim)))


#: The file beside a database whose bytes its writers lock.
CLAIMS_SUFFIX = '-claims'
# Linux's open file description locks: held by what a fork shares (a
# child writes on for its parent), let go when the last descriptor of it
# closes (never by another handle's close, as a process's locks are), and
# seen by every process on the host. struct flock of 64-bit Linux.
_OFD = sys.platform.startswith('linux') and sys.maxsize > 2 ** 32
# Their commands, by Linux's numbers (the same on every architecture) where
# Python does not name them (3.8).
_GETLK = getattr(fcntl, 'F_OFD_GETLK', 36)
_SETLK = getattr(fcntl, 'F_OFD_SETLK', 37)
_FLOCK = struct.Struct('hhqqi4x')


def file_claims(database):
    """Whether writers of the SQLite file `database` claim runs with
    :class:`FileClaim` (a file, on a system with such locks)."""
    return _OFD and database != ':memory:'


class FileClaim(object):
    """A run of an SQLite file held: a lock on byte `ref` (the run's id) of
    the file ``database + CLAIMS_SUFFIX``, made by the first writer.

    Use :meth:`take`; :meth:`let_go` to release it.

    """
    __slots__ = ('descriptor',)

    def __init__(self, descriptor):
        self.descriptor = descriptor

    @classmethod
    def take(cls, database, ref):
        """The claim on run `ref` of `database`, or ``None`` if another
        handle (of any process) holds it.

        Raises
        ------
        OSError
            If the claims file cannot be made or opened.
        """
        path = database + CLAIMS_SUFFIX
        descriptor = os.open(path, os.O_RDWR | os.O_CREAT, 0o600)
        try:
            try:
                # Whoever may write the database may claim its runs (as
                # SQLite gives its -wal and -shm files the database's mode).
                if os.fstat(descriptor).st_mode & 0o777 == 0o600:
                    os.fchmod(descriptor, os.stat(database).st_mode & 0o666)
            except OSError:
                pass  # not its owner: as it is
            fcntl.fcntl(descriptor, _SETLK, _FLOCK.pack(
                fcntl.F_WRLCK, os.SEEK_SET, ref, 1, 0))
            return cls(descriptor)
        except BaseException as error:
            # Ctrl-C too: a lock taken and never handed over was held
            # until the process ended, and kept every process from
            # claiming its byte, that of the next run made (a run rolled
            # back gives its id again).
            os.close(descriptor)
            if isinstance(error, OSError) and error.errno in (
                    errno.EAGAIN, errno.EACCES):
                return None
            raise

    def let_go(self):
        """Release the run: this handle's descriptor is closed (a forked
        child that shares it holds the run until it closes its own)."""
        # Forgotten first: Ctrl-C after the close must not leave its
        # number to be closed again, when it may be another file's.
        descriptor, self.descriptor = self.descriptor, None
        if descriptor is not None:
            os.close(descriptor)


def file_held(database, ref):
    """Whether a :class:`FileClaim` holds run `ref` of `database`; ``None``
    if no writer made its claims file (so no claim of this kind holds
    it). Opens the file read-only, and changes nothing."""
    try:
        descriptor = os.open(database + CLAIMS_SUFFIX, os.O_RDONLY)
    except OSError:
        return None
    try:
        found = fcntl.fcntl(descriptor, _GETLK, _FLOCK.pack(
            fcntl.F_WRLCK, os.SEEK_SET, ref, 1, 0))
    finally:
        os.close(descriptor)
    return _FLOCK.unpack(found)[0] != fcntl.F_UNLCK


# A byte of the claims file beyond any run's id: readers of the database
# lock it shared while they open it, and its last writer exclusively while
# it closes (when SQLite deletes the -wal and -shm files), so that a
# reader never opens a -wal file that is being deleted (SQLite would make
# it again, empty, and find no -shm beside it).
_GATE = 2 ** 62


#: Seconds a reader waits at the gate for a writer that closes the file
#: (milliseconds, as a rule) before it gives up: a writer stopped as it
#: closed (Ctrl-Z, SIGSTOP) held every reader for as long. A writer waits
#: as long for the readers that open the file, then closes it without the
#: gate: a reader stopped as it opened the file held the training process
#: at its exit for as long.
GATE_WAIT = 30.0
# What a gate is where there is none to take.
_NO_GATE = contextlib.nullcontext()


def _gate(database, kind, mode):
    # The gate, locked: the claims file opened unbuffered, whose __exit__
    # (that of io.FileIO) is C code that closes it, and so lets the lock
    # go, with no Python frame on the way where a Ctrl-C could land first
    # (as at the start of a class's __exit__, or of a generator resumed by
    # contextlib.contextmanager's: Python 3.9 then ended the generator
    # with no `finally` run, and the lock was held until the process
    # ended: the next reader waited for ever). Between this return and
    # the `with` that takes it, Python runs no signal handler.
    if not file_claims(database):
        return _NO_GATE
    try:
        gate = open(database + CLAIMS_SUFFIX, mode, buffering=0)
    except OSError:  # no writer made it: no writer of ours to wait for
        return _NO_GATE
    try:
        if not _wait_at_the_gate(gate, kind):
            if kind == fcntl.F_RDLCK:
                raise LogDatabaseError(
                    '{}: a writer has been closing this file for {:g} s, '
                    'and no reader may open it meanwhile: is that process '
                    'stopped (Ctrl-Z, SIGSTOP)? Let it go on, or end it, '
                    'and read again'.format(database, GATE_WAIT))
            # The writer closes all the same: what it wrote is in the
            # file. The reader, once it goes on, finds the -wal file gone:
            # SQLite makes it again, empty, and fails for want of a -shm
            # beside it; the reader then reads the file as immutable (see
            # sqlite_connection), and the empty -wal file stays.
            warnings.warn(
                '{}: a reader has been opening this file for {:g} s (is '
                'that process stopped: Ctrl-Z, SIGSTOP?); closed without '
                'waiting for it'.format(database, GATE_WAIT),
                RuntimeWarning)
    except OSError:
        pass  # a file system without such locks: as before them
    except BaseException:
        gate.close()  # Ctrl-C as it was locked, or no writer let go
        raise
    return gate


def _wait_at_the_gate(gate, kind):
    # Lock the gate (a lock of `kind`), tried again and again for at most
    # GATE_WAIT seconds (the lock's own wait has no end): whether it was
    # taken. Each side holds it for milliseconds, as a rule.
    deadline, pause = None, 0.001
    while True:
        try:
            fcntl.fcntl(gate, _SETLK, _FLOCK.pack(
                kind, os.SEEK_SET, _GATE, 1, 0))
            return True
        except OSError as error:
            if error.errno not in (errno.EAGAIN, errno.EACCES):
                raise
        deadline = deadline or time.monotonic() + GATE_WAIT
        if time.monotonic() > deadline:
            return False
        time.sleep(pause)
        pause = min(pause * 2, 0.05)


def opening(database):
    """``with opening(database):`` around a reader's opening of an SQLite
    file: no writer closes it meanwhile. Makes no file.

    Raises
    ------
    LogDatabaseError
        If a writer has been closing the file for :data:`GATE_WAIT`
        seconds (a process stopped as it closed it).
    """
    return _gate(database, fcntl.F_RDLCK if fcntl else None, 'rb')


def closing(database):
    """``with closing(database):`` around a writer's closing of its
    connection to an SQLite file: no reader opens it meanwhile. Makes no
    file.

    Warns
    -----
    RuntimeWarning
        If a reader has been opening the file for :data:`GATE_WAIT`
        seconds (a process stopped as it opened it): the writer then
        closes without the gate.
    """
    return _gate(database, fcntl.F_WRLCK if fcntl else None, 'r+b')
