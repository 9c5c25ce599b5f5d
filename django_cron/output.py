"""
Capture what a job prints, per thread.

``sys.stdout`` and ``sys.stderr`` are process-wide, and jobs in other threads
(gthread workers, the middleware's background thread, the admin's run now) may
print at the same time. So the streams are replaced, once, by proxies that
send a thread's writes to that thread's buffer while it captures, and
everything else on to the real stream.
"""

import io
import sys
import threading
from contextlib import contextmanager

_local = threading.local()
_install_lock = threading.Lock()

TRUNCATED = "\n[output truncated]\n"


class _ThreadStream(io.TextIOBase):
    def __init__(self, stream, name):
        self._stream = stream
        self._name = name

    def write(self, text):
        buffer = getattr(_local, "buffer", None)
        if buffer is None:
            return self._stream.write(text)
        buffer.add(text)
        return len(text)

    def flush(self):
        if getattr(_local, "buffer", None) is None:
            self._stream.flush()

    def __getattr__(self, name):
        return getattr(self._stream, name)


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


def _install():
    with _install_lock:
        for name in ("stdout", "stderr"):
            stream = getattr(sys, name)
            if not isinstance(stream, _ThreadStream):
                setattr(sys, name, _ThreadStream(stream, name))


@contextmanager
def capture(limit: int):
    """Collect what this thread writes to stdout and stderr into a CappedBuffer."""
    _install()
    outer = getattr(_local, "buffer", None)
    _local.buffer = buffer = CappedBuffer(limit)
    try:
        yield buffer
    finally:
        _local.buffer = outer
