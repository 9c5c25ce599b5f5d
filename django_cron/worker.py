"""The loop behind ``manage.py cron worker``."""

import logging
import signal
import threading

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
        self.stopping = threading.Event()

    def stop(self, signum=None, frame=None):
        if signum is not None:
            logger.info("Received signal %s: stopping after the current job", signum)
        self.stopping.set()

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
        while not self.stopping.is_set():
            try:
                result = run_due(
                    self.names,
                    should_stop=self.stopping.is_set,
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
            self.stopping.wait(timeout=max(wait, 0))
        logger.info("cron worker stopped")
