"""The SQLite file on disk, as the store looks at it: which file a path
names now, whether its WAL holds commits, how much space its disk has left
when a write fails and why a file cannot be opened or be a database, the
URI that opens it, and removing it while empty.

"""
import os

#: Bytes free on a disk below which an I/O error says how many: a commit
#: of one iteration takes a few KiB, a new -shm index 32 KiB.
LOW_SPACE = 2 ** 20


def failure(path, what, error):
    """The message of an error of `path`: `what` failed (``'cannot
    write'``...), and SQLite's `error`; with the bytes its disk has left
    where that is an I/O error and the disk is (nearly) full: on a full
    disk SQLite says "database or disk is full" of a write, but "disk I/O
    error" of an open that cannot make its -shm index."""
    message = '{}: {} ({})'.format(path, what, error)
    if 'unable to open' in str(error) and path != ':memory:':
        reason = _why_not_opened(path)
        if reason:
            message = '{}: {} ({}: {})'.format(path, what, error, reason)
    if 'disk' in str(error).lower() and path != ':memory:':
        import shutil  # only when a disk fails
        try:
            free = shutil.disk_usage(os.path.dirname(path)).free
        except OSError:
            free = None
        if free is not None and free < LOW_SPACE:
            message += '; its disk has {} bytes free'.format(free)
    return message


def not_a_file(path):
    """Why `path` cannot be a database: it is there and not a regular file
    (``/dev/null``, given to log nowhere, would have SQLite fail at the
    first write, and leave its journal beside it); else ''."""
    if os.path.isdir(path):
        return 'it is a directory'
    if os.path.exists(path) and not os.path.isfile(path):
        return 'it is not a regular file'
    return ''


def _why_not_opened(path):
    # What the file system says of a file that SQLite says only it is
    # "unable to open": '' if nothing there looks wrong.
    directory, reason = os.path.dirname(path), not_a_file(path)
    if reason:
        return reason
    if not os.path.exists(directory):
        return 'no such directory ' + directory
    if not os.path.isdir(directory):
        return directory + ' is not a directory'
    if not os.access(directory, os.W_OK | os.X_OK) and (
            not os.path.exists(path)):
        return 'its directory may not be written'
    if os.path.exists(path) and not os.access(path, os.R_OK):
        return 'permission denied'
    return ''


def quote_path(path):
    """`path` as a ``file:`` URI holds it ('?' and '#' would start its
    query part)."""
    return path.replace('%', '%25').replace('?', '%3f').replace('#', '%23')


def identity(path):
    """``(device, inode)`` of the file at `path`; ``None`` if there is
    none."""
    try:
        status = os.stat(path)
    except OSError:
        return None
    return status.st_dev, status.st_ino


def holds_wal(path):
    """Whether the database at `path` has a WAL to read: a -wal file with
    commits, or one a writer is using (its -shm index beside it). An empty
    -wal file alone holds nothing."""
    try:
        return os.path.getsize(path + '-wal') > 0 or os.path.exists(
            path + '-shm')
    except OSError:
        return False


def is_wal(path):
    """Whether the database at `path` is in WAL mode (its header's read
    and write versions are 2)."""
    try:
        with open(path, 'rb') as header:
            return header.read(20)[18:20] == b'\x02\x02'
    except OSError:
        return False


def remove_if_empty(path):
    """Remove the file at `path` if it is empty (a database whose first
    write failed: any write makes a page, where a writer in WAL mode marks
    it so)."""
    try:
        if os.path.getsize(path) == 0:
            os.remove(path)
    except OSError:
        pass
