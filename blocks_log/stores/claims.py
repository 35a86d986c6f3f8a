"""Claims: which handle writes a run, and whether it is still there.

A writable handle records a claim on its run (host, process id, the
process's start time and a random handle id); a second writable open of the
run is refused while the claim is held. A claim is stale, and taken over,
when its process has ended (a ``kill -9`` leaves its claim behind), when its
process id was reused by another process, or when it names a handle of this
process that is closed or was garbage-collected.

"""
import json
import os
import socket
import uuid

from blocks_log.errors import RunInUseError

# The handle ids of this process's open writable handles.
_LIVE_HANDLES = set()


def _host():
    return socket.gethostname()


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
    handle = uuid.uuid4().hex
    _LIVE_HANDLES.add(handle)
    return json.dumps({'host': _host(), 'pid': pid,
                       'start': _start_time(pid), 'handle': handle},
                      sort_keys=True)


def drop(claim):
    """Forget `claim`: its handle is closed."""
    _LIVE_HANDLES.discard(_parse(claim).get('handle'))


def parse(claim):
    """The fields of `claim` (a dict; empty if it is damaged)."""
    return _parse(claim)


def _parse(claim):
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
        return info.get('handle') not in _LIVE_HANDLES
    if not _alive(pid):
        return True
    start = _start_time(pid)
    return start is not None and info.get('start') not in (None, start)


def describe(claim):
    """A claim in words, for error messages."""
    info = _parse(claim)
    if not info:
        return 'an unknown writer'
    return 'process {} on host {}'.format(info.get('pid'), info.get('host'))


def in_use(store_name, run_uuid, claim):
    """The :class:`~blocks_log.errors.RunInUseError` of a second writable
    open of a run that `claim` holds."""
    return RunInUseError(
        '{}: run {} is being written by {}; open it with read_only=True to '
        'read it, or wait until that writer closes it'.format(
            store_name, run_uuid, describe(claim)))
