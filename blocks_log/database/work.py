"""A session's work, and code that interrupts it in its own thread.

Python runs a signal's handler in the main thread, between two steps of
whatever that thread does: half-way through a commit of the log, say,
with the session's lock held. The lock is reentrant, so a handler that
uses the log is let in (a lock that is not would hang it for ever), and
Blocks' main loop writes into the log from its handlers of SIGINT and
SIGTERM, Lightning's of SLURM's SIGUSR1 saves a checkpoint (a flush and a
resume). Let in, a commit made there went into the transaction the
interrupted one had open, and committed it half-made: values read back
under another key, a block packed twice, ``cannot commit - no transaction
is active``.

So a commit, a resume and a close (work) mark the session busy, and a
read marks it read; each finds what is under way:

- a write goes into the buffer at once, as ever (one C call);
- work asked for during work or a read (a flush, a commit of an
  iteration, a resume, a close, pickling) is done as that ends, in the
  order it was asked for: the handler returns at once, its values
  buffered, the checkpoint's run named;
- a read during work is refused with
  :class:`~blocks_log.errors.ReentrantReadError`: what it would read is
  half-way. A value still buffered is read from a copy of the buffer,
  whole, and reads during a read are answered.

Only the thread that holds the lock sees the marks set: any other waits
for the lock first.

The work of another log, asked for during this one's work in the same
thread (a handler that flushes or pickles a second log), is done as this
one's ends too: made there, in a file of SQLite, it waited for the
transaction the interrupted work held open, which waited for it (600 s of
SQLite's busy handler, then ``LogWriteError``). A fork during work
leaves it to the parent (see ``Session.before_fork``).

"""
import functools

from blocks_log.database import lifecycle
from blocks_log.errors import ReentrantReadError


class Work(object):
    """A mixin of :class:`~blocks_log.database.session.Session` (see the
    module's docstring): ``busy``, ``reading`` and ``requested``, of the
    thread that holds its ``lock``."""

    def __init__(self):
        # Set here, not as class attributes: CPython 3.11 loads an
        # instance's own in fewer steps, and a commit and a read ask each.
        self.busy = None  # the name of the work under way, if any
        self.reading = 0  # reads under way
        # (session, name) of the work asked for meanwhile, this session's
        # or another's (see the module's docstring)
        self.requested = []

    def exclusive(self, name, action, *arguments):
        """``action(*arguments)`` as the session's work (`name`, one of
        :data:`REQUESTS`), with the lock held; or, if work or a read of
        this session, or work of another, is under way in this thread,
        asked for, to be done as that ends (``None``)."""
        if self.busy or self.reading:
            self.request(self, name)
            return None
        if len(lifecycle.OPEN_SESSIONS) > 1:
            other = lifecycle.work_under_way_here(self)
            if other is not None:
                other.request(self, name)
                return None
        self.busy = name
        try:
            return action(*arguments)
        finally:
            self.busy = None
            if self.requested:
                self.do_requested()

    def request(self, session, name):
        """Ask for the work `name` of `session` (this one, or another) to
        be done as the work or read under way ends; once, if it was the
        last asked for."""
        requested = self.requested
        if not requested or requested[-1] != (session, name):
            requested.append((session, name))

    def do_requested(self):
        """Do the work asked for during work or a read, now over, in
        order. Work that raises leaves what was asked for after it, done
        as the next work ends."""
        while self.requested and not (self.busy or self.reading):
            session, name = self.requested.pop(0)
            if session is self:
                self.exclusive(name, getattr(self, REQUESTS[name]))
            else:
                session.do_for_another(name)

    def do_for_another(self, name):
        """Do the work `name`, asked for during another session's work in
        this thread, now over; or, if another thread holds the lock (a
        fork, which takes every session's lock in turn, may hold it and
        wait for the other's), ask for it of this session's next work."""
        if not self.lock.acquire(blocking=False):
            self.request(self, name)
            return
        try:
            self.exclusive(name, getattr(self, REQUESTS[name]))
        finally:
            self.lock.release()

    def refuse_read(self):
        """Refuse a read during work (see the module's docstring).

        Raises
        ------
        blocks_log.errors.ReentrantReadError
            Always, naming the work.
        """
        raise ReentrantReadError(
            '{} was read by code that interrupted its {} in the same '
            'thread (a signal\'s handler, as a rule), half-way: set a flag '
            'there, and read from the loop'.format(self, self.busy))


def read(method):
    """A read of the session (a method of it): under its lock, marked (see
    the module's docstring); refused during work, and work asked for
    during it done as it ends.

    Raises
    ------
    blocks_log.errors.ReentrantReadError
        If work is under way in this thread.
    """
    @functools.wraps(method)
    def marked(self, *arguments, **options):
        with self.lock:
            if self.busy:
                self.refuse_read()
            self.reading += 1
            try:
                return method(self, *arguments, **options)
            finally:
                self.reading -= 1
                if self.requested and not self.reading:
                    self.do_requested()
    return marked


#: The work that may be asked for, by name, and the session's method that
#: does it.
REQUESTS = {'commit': '_flush', 'resume': '_resume', 'close': '_close'}
