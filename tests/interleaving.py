"""Threads made to switch where the scheduler might switch them.

Python's tracing calls back before each instruction a traced thread runs
(``frame.f_trace_opcodes``): a thread stopped there, while another runs,
is a switch of threads at that instruction, made at will, so that a test
sees what a switch there does, every time.

"""
import contextlib
import dis
import inspect
import sys
import threading

import pytest

#: For the tests that trace instructions: Python 3.12 gives a frame's
#: instructions to a trace function only if they were asked for before
#: tracing began, not as the frame is called (CPython issue 114480, 3.13
#: as 3.11).
needs_instruction_events = pytest.mark.skipif(
    sys.version_info[:2] == (3, 12),
    reason='Python 3.12 traces no instruction of a frame that asks for '
    'them as it is called (CPython issue 114480)')


def _tracer(code, visit):
    # A trace function that calls visit(frame) before each instruction of
    # `code`.
    def local(frame, event, argument):
        if event == 'opcode':
            visit(frame)
        return local

    def tracer(frame, event, argument):
        if frame.f_code is code:
            # Its trace function first: Python 3.13 traces the
            # instructions of a frame only if it has one as the flag is set.
            frame.f_trace = local
            frame.f_trace_opcodes = True
            return local
        return None
    return tracer


@contextlib.contextmanager
def _tracing(settrace, tracer, before):
    # settrace(tracer) inside the block, settrace(before) after.
    settrace(tracer)
    try:
        yield
    finally:
        settrace(before)


def tracing_instructions(code, visit):
    """Trace the calling thread: before each instruction of `code` it runs,
    ``visit(frame)`` is called."""
    # After, the trace function of before: a coverage tool's, say.
    return _tracing(sys.settrace, _tracer(code, visit), sys.gettrace())


def tracing_new_threads(code, visit):
    """Trace the threads started inside the block (a log's own), as
    :func:`tracing_instructions` traces the calling thread."""
    return _tracing(threading.settrace, _tracer(code, visit), None)


@contextlib.contextmanager
def stopping(code, offset, then):
    """Trace the calling thread: where it first comes to the instruction
    at `offset` of `code`, it calls `then()` before it goes on; it must
    come there."""
    done = []

    def visit(frame):
        if frame.f_lasti == offset and not done:
            done.append(True)
            then()
    with tracing_instructions(code, visit):
        yield
    assert done, 'never came to the instruction'


def offsets(code, *names):
    """The offsets in `code` of the instructions of opname ``names[0]``
    (and ``argval`` ``names[1]``, if given), in order."""
    return [instruction.offset for instruction in dis.get_instructions(code)
            if (instruction.opname, instruction.argval)[:len(names)] ==
            names]


def line_start(function, text):
    """The offset where the line of `function` (or code object) that holds
    `text` begins."""
    code = getattr(function, '__code__', function)
    lines, first = inspect.getsourcelines(code)
    number = first + [index for index, line in enumerate(lines)
                      if text in line][0]
    return min(offset for offset, line in dis.findlinestarts(code)
               if line == number)


def inner(function, name):
    """The code of the function `name` defined inside `function`."""
    return [constant for constant in function.__code__.co_consts
            if getattr(constant, 'co_name', None) == name][0]


def in_a_thread(action):
    """A started thread that does `action()`."""
    thread = threading.Thread(target=action)
    thread.start()
    return thread


class WatchedLock(object):
    """A lock (an ``RLock``, a session's) that tells which threads wait
    for it: a thread stopped where it holds the lock lets another run up
    to the lock, then goes on."""

    def __init__(self, lock):
        self.lock, self.waiting = lock, set()

    def acquire(self, blocking=True, timeout=-1):
        if self.lock.acquire(False):
            return True
        if not blocking:
            return False
        waiter = threading.get_ident()
        self.waiting.add(waiter)
        try:
            return self.lock.acquire(True, timeout)
        finally:
            self.waiting.discard(waiter)

    def release(self):
        self.lock.release()

    def _is_owned(self):
        return self.lock._is_owned()

    def __enter__(self):
        self.acquire()
        return self

    def __exit__(self, *error):
        self.release()

    def run_until_done_or_waiting(self, action, poll=0.0005):
        """A thread doing `action()`, once it has done it or waits for
        this lock."""
        thread = in_a_thread(action)
        while thread.is_alive() and thread.ident not in self.waiting:
            thread.join(poll)
        return thread
