"""
Heartbeats: one thread per process that keeps the running jobs' leases alive.

A lease ends a dead run on its own (lock-at-most-for). While a job runs, its
heartbeat extends the lease every third of its length, so a job may run
longer than its lease for as long as its process lives, and a crash is still
noticed within one lease.

One thread beats for every job of the process: a thread started and joined
per run would cost a quick job more than its own work.
"""

import logging
import os
import threading
import time
from contextlib import contextmanager

from django.db import connections

from .. import conf

logger = logging.getLogger("django_cron")


class _Beat:
    """One running job's heartbeat: ``beat()`` returns whether the lease is still held."""

    def __init__(self, beat, every: float, name: str):
        self.beat, self.every, self.name = beat, every, name
        self.due = time.monotonic() + every
        self.warned = False
        self.beating = False

    def __call__(self) -> None:
        try:
            held = self.beat()
        except Exception as exc:
            # A database or cache blip: the next beat tries again, well before
            # the lease runs out.
            logger.warning("Could not extend the lease of job %s: %r", self.name, exc)
            return
        if not held and not self.warned:
            logger.warning("Job %s lost its lease while running", self.name)
            self.warned = True


class Heartbeats:
    """The process's heartbeat thread and the beats it keeps."""

    def __init__(self):
        self._changed = threading.Condition()
        self._beats = set()
        self._thread = None
        self._pid = None
        # When the thread wakes up next on its own (monotonic; inf: never).
        self._wake_at = float("inf")

    @contextmanager
    def keep(self, beat, every: float, name: str):
        """Call ``beat()`` every ``every`` seconds while the block runs."""
        if not conf.get("HEARTBEAT"):
            yield
            return
        entry = _Beat(beat, max(every, 0.05), name)
        with self._changed:
            self._beats.add(entry)
            self._start()
            # Woken only if it would sleep past this beat: a quick job wakes no one.
            if entry.due < self._wake_at:
                self._changed.notify()
        try:
            yield
        finally:
            with self._changed:
                self._beats.discard(entry)
                # No beat after the block: the run's end must not race its last beat.
                while entry.beating:
                    self._changed.wait()

    def _start(self) -> None:
        # A forked child (a web server's worker) has the set but not the thread.
        if self._thread is None or not self._thread.is_alive() or self._pid != os.getpid():
            self._pid = os.getpid()
            self._thread = threading.Thread(
                target=self._run, name="django_cron heartbeat", daemon=True
            )
            self._thread.start()

    def _run(self) -> None:
        while True:
            with self._changed:
                now = time.monotonic()
                due = [entry for entry in self._beats if entry.due <= now]
                if not due:
                    self._wake_at = min((entry.due for entry in self._beats), default=float("inf"))
                    wait = self._wake_at - now if self._beats else None
                    self._changed.wait(timeout=wait)
                    self._wake_at = 0.0  # awake: whatever is added meanwhile is seen
                    continue
            for entry in due:
                with self._changed:
                    if entry not in self._beats:
                        continue  # its job ended meanwhile
                    entry.beating = True
                try:
                    entry()
                finally:
                    with self._changed:
                        entry.beating = False
                        entry.due = time.monotonic() + entry.every
                        self._changed.notify_all()
            # Beats are seconds apart at the least: a connection held between
            # them would outlive CONN_MAX_AGE, and the test databases. A close
            # that fails must not end the thread every job's lease depends on.
            try:
                connections.close_all()
            except Exception:
                logger.exception("The heartbeat could not close its connections")


heartbeats = Heartbeats()


def heartbeat(beat, every: float, name: str):
    """Keep ``beat()`` going every ``every`` seconds while the block runs."""
    return heartbeats.keep(beat, every, name)
