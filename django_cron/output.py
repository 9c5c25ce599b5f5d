"""
Capture what a job prints.

``sys.stdout`` and ``sys.stderr`` belong to the whole process, and jobs in other
threads (gthread workers, the middleware's background thread, the admin's run
now) may print at the same time. So while any job captures, the streams are
stood in for by proxies that send a job's writes to that job's buffer, and
everything else on to the real stream; when the last capture ends, the real
streams are put back.

The buffer is found through a context variable, not a thread-local: an
``async def`` job runs on an event loop in another thread, and asgiref carries
the context over to it.
"""

import sys
import threading
from contextlib import contextmanager
from contextvars import ContextVar

TRUNCATED = "\n[output truncated]\n"

_buffer = ContextVar("django_cron_output", default=None)
_lock = threading.Lock()
_captures = 0


class StreamProxy:
    """
    Stand in for a process stream: writes go to the capturing job's buffer, if
    any. Everything else (fileno, encoding, isatty, buffer, ...) is the real
    stream's, so code that needs a real file keeps working meanwhile.
    """

    def __init__(self, stream):
        self.stream = stream

    def write(self, text):
        buffer = _buffer.get()
        if buffer is None:
            return self.stream.write(text)
        buffer.add(text)
        return len(text)

    def writelines(self, lines):
        for line in lines:
            self.write(line)

    def flush(self):
        if _buffer.get() is None:
            self.stream.flush()

    def __getattr__(self, name):
        return getattr(self.stream, name)


class CappedBuffer:
    """Text up to ``limit`` characters; what comes after is counted, not kept."""

    def __init__(self, limit):
        self.limit = limit
        self.parts = []
        self.size = 0
        self.truncated = False

    def add(self, text):
        room = self.limit - self.size
        if len(text) > room:
            text, self.truncated = text[: max(room, 0)], True
        if text:
            self.parts.append(text)
            self.size += len(text)

    def getvalue(self):
        return "".join(self.parts) + (TRUNCATED if self.truncated else "")


def _stand_in():
    for name in ("stdout", "stderr"):
        stream = getattr(sys, name)
        if not isinstance(stream, StreamProxy):
            setattr(sys, name, StreamProxy(stream))


def _put_back():
    for name in ("stdout", "stderr"):
        stream = getattr(sys, name)
        # Only our own proxy: a stream someone set meanwhile stays.
        if isinstance(stream, StreamProxy):
            setattr(sys, name, stream.stream)


@contextmanager
def capture(limit: int):
    """Collect what the block writes to stdout and stderr into a CappedBuffer."""
    global _captures
    with _lock:
        if _captures == 0:
            _stand_in()
        _captures += 1
    buffer = CappedBuffer(limit)
    token = _buffer.set(buffer)
    try:
        yield buffer
    finally:
        _buffer.reset(token)
        with _lock:
            _captures -= 1
            if _captures == 0:
                _put_back()
