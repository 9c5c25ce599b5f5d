"""The loop behind ``manage.py cron worker``."""

import logging
import select
import signal
import socket
import weakref

from django.db import DatabaseError
from django.utils import timezone

from . import conf
from .availability import diagnose
from .runner import run_due

logger = logging.getLogger("django_cron")


class Worker:
    """
    Run due jobs until told to stop, sleeping until the next due time.

    SIGTERM and SIGINT stop it after the job that is running, never during one.
    Any number of workers may run side by side: each slot still runs once.
    """

    def __init__(self, names=None, on_run=None, on_pass=None, threads: int = 1):
        self.names = names
        # Due jobs run this many at a time, each still claimed once.
        self.threads = threads
        # Called with each run as it is recorded, and with each pass's result.
        self.on_run = on_run
        self.on_pass = on_pass
        # stop() runs as a signal handler, between any two bytecodes of the main
        # thread, even while that thread holds a lock: it must take none (an
        # Event's set() takes the lock its wait() holds at times). So it sets a
        # flag and wakes the sleep with a byte on a socket pair.
        self.stopping = False
        self._signal = None
        self._wake, self._waker = socket.socketpair()
        self._waker.setblocking(False)
        weakref.finalize(self, self._wake.close)
        weakref.finalize(self, self._waker.close)

    def stop(self, signum=None, frame=None):
        """Stop after the running job; safe in a signal handler and from any thread."""
        if signum is not None:
            self._signal = signum
        self.stopping = True
        try:
            self._waker.send(b"\0")
        except OSError:
            pass  # The buffer is full: the sleep is woken already.

    def _should_stop(self) -> bool:
        return self.stopping

    def _sleep(self, seconds: float):
        """Sleep ``seconds``, or until stop() is called."""
        if not self.stopping:
            select.select([self._wake], [], [], max(seconds, 0))

    def install_signal_handlers(self):
        for signum in (signal.SIGTERM, signal.SIGINT):
            signal.signal(signum, self.stop)

    def sleep_seconds(self, next_due) -> float:
        """Seconds to sleep: until the next due time, at most one polling interval."""
        poll = conf.polling_frequency()
        if next_due is None:
            return poll
        wait = (next_due - timezone.now()).total_seconds()
        return min(max(wait, 0.05), poll)

    def run_forever(self):
        logger.info("cron worker started")
        while not self.stopping:
            try:
                result = run_due(
                    self.names,
                    should_stop=self._should_stop,
                    on_run=self.on_run,
                    threads=self.threads,
                )
                wait = self.sleep_seconds(result.next_due)
                if self.on_pass is not None:
                    self.on_pass(result, wait)
            except DatabaseError as exc:
                # An outage must not end the worker: one line, wait, try again.
                wait = conf.polling_frequency()
                logger.warning("cron worker: %s; next try in %gs", diagnose(exc), wait)
            except Exception:
                wait = conf.polling_frequency()
                logger.exception("cron worker: the due check failed; next try in %gs", wait)
            self._sleep(wait)
        if self._signal is not None:
            logger.info("Received signal %s: stopped after the current job", self._signal)
        logger.info("cron worker stopped")
