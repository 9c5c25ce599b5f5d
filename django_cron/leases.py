"""
A running job's lease: how long its claim lasts, kept alive while it runs.

A lease ends a dead run on its own (lock-at-most-for). While the job runs, a
heartbeat thread extends it, so a job may run longer than its lease as long as
its process lives. When the job ends early, the lock is held on until
MIN_LEASE has passed since the claim (lock-at-least-for), so that no trigger
starts the job again within that time.
"""

import logging
import threading
import time
from contextlib import contextmanager
from datetime import timedelta

from django.db import connections

from . import conf

logger = logging.getLogger("django_cron")


class Lease:
    def __init__(self, lock, key: str, ttl: timedelta, on_beat=None):
        self.lock = lock
        self.key = key
        self.ttl = ttl
        # Called at each beat as well, to extend the lease kept in the state row.
        self.on_beat = on_beat
        self.token = None
        self._taken_at = None
        self._stopping = threading.Event()

    def acquire(self) -> str | None:
        """Take the lock; return the owner token, or None if another holds it."""
        self.token = self.lock.acquire(self.key, self.ttl)
        self._taken_at = time.monotonic()
        return self.token

    @contextmanager
    def heartbeat(self):
        """Extend the lease every third of its length while the block runs."""
        if not conf.get("HEARTBEAT"):
            yield
            return
        beat = threading.Thread(target=self._beat, name="django_cron heartbeat", daemon=True)
        beat.start()
        try:
            yield
        finally:
            self._stopping.set()
            beat.join()

    def _beat(self):
        try:
            while not self._stopping.wait(max(self.ttl.total_seconds() / 3, 0.05)):
                try:
                    held = self.lock.extend(self.key, self.token, self.ttl)
                    if self.on_beat is not None:
                        self.on_beat()
                except Exception as exc:
                    logger.warning("Could not extend the lease of %s: %r", self.key, exc)
                    continue
                if not held:
                    logger.warning("%s lost its lease while running", self.key)
        finally:
            # This thread's own connections; nobody else would close them.
            connections.close_all()

    def release(self) -> None:
        """Free the lock, or keep it until MIN_LEASE has passed since the claim."""
        remaining = conf.get("MIN_LEASE") - (time.monotonic() - self._taken_at)
        if remaining > 0:
            self.lock.extend(self.key, self.token, timedelta(seconds=remaining))
        else:
            self.lock.release(self.key, self.token)
