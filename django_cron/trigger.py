"""
The in-request trigger: when this process next looks for due jobs, and the look.

The middleware and the ping view hand their response to ``after()``; the due
check runs once the server has sent that response, never before it, and
nothing it does can reach the response.
"""

import logging
import threading
import time
from datetime import timedelta

from django.core.handlers.asgi import ASGIRequest
from django.db import connections

from . import conf
from .clock import aware
from .locks import get_lock
from .runner import run_due
from .runtime import backfills
from .text import printable

logger = logging.getLogger("django_cron")

GATE = "poll"
# However far off the next due job is, look again this often: a paused job may
# have been resumed, or another process may have changed the state.
MAX_IDLE = 300.0
# The longest wait between two checks while the database or cache is down.
MAX_BACKOFF = 60.0


class Trigger:
    """One per process: the next check time and the check itself."""

    def __init__(self):
        # time.time() before which this process does not look at shared state.
        # A plain float, so that a request with nothing due costs one comparison.
        self.next_check = 0.0
        self._mutex = threading.Lock()
        # One check at a time per process: pings arriving together wait for none.
        self._checking = threading.Lock()
        self._gate_token = None
        self._thread = None
        self._failures = 0

    def take_turn(self) -> bool:
        """Return True to one caller per check in this process, and push the next back."""
        if not self._mutex.acquire(blocking=False):
            return False
        try:
            now = time.time()
            if now < self.next_check:
                return False
            self.next_check = now + conf.polling_frequency()
            return True
        finally:
            self._mutex.release()

    def wake(self) -> None:
        """
        Look at shared state on the next request, whatever the last check
        planned: a job resumed in this process may run before that plan.
        """
        self.next_check = 0.0

    def after(self, response, request=None, gated=True) -> None:
        """Check for due jobs once ``response`` has been sent."""
        # Under ASGI, close() runs in the one thread that serves all sync code:
        # a job there would stall every sync view of the process.
        background = conf.get("BACKGROUND") or isinstance(request, ASGIRequest)
        if background:
            add_closer(response, lambda: self.start_thread(gated))
        else:
            add_closer(response, lambda: self.check(gated))

    def start_thread(self, gated: bool) -> None:
        """Run check() in a thread of its own, unless one is still running."""
        if self._thread is not None and self._thread.is_alive():
            return
        self._thread = threading.Thread(
            target=self._check_in_thread, args=(gated,), name="django_cron", daemon=True
        )
        self._thread.start()

    def _check_in_thread(self, gated):
        try:
            self.check(gated)
        finally:
            # The thread's connections die with it; close them rather than leak them.
            connections.close_all()

    def check(self, gated=True) -> None:
        """Pass the gate, run due jobs within the budget, plan the next check. Never raise."""
        if not self._checking.acquire(blocking=False):
            return
        try:
            self._check(gated)
        finally:
            self._checking.release()

    def _check(self, gated):
        poll = conf.polling_frequency()
        try:
            if gated and not self._pass_gate(poll):
                return
            deadline = time.monotonic() + conf.get("BUDGET")
            result = run_due(should_stop=lambda: time.monotonic() >= deadline, on_run=_log_run)
        except Exception as exc:
            # A database or cache outage: a warning per failed check, not an
            # error per request, and checks further apart while it lasts.
            self._failures += 1
            delay = min(poll * 2 ** (self._failures - 1), max(poll, MAX_BACKOFF))
            self.next_check = time.time() + delay
            logger.warning("The due check failed; next try in %gs: %r", delay, exc)
            return
        self._failures = 0
        now = time.time()
        if result.stopped:
            self.next_check = now  # the budget is spent: the next request goes on
        elif result.next_due is not None:
            # aware(): without USE_TZ, timestamp() would read the naive time in
            # the process's local time, not necessarily TIME_ZONE.
            wake = min(aware(result.next_due).timestamp(), now + max(poll, MAX_IDLE))
            self.next_check = max(self.next_check, wake)

    def _pass_gate(self, poll) -> bool:
        """Let one process per polling interval through to the database."""
        lock, ttl = get_lock(), timedelta(seconds=poll)
        if self._gate_token and lock.extend(GATE, self._gate_token, ttl):
            return True
        self._gate_token = lock.acquire(GATE, ttl)
        return self._gate_token is not None


def _log_run(run) -> None:
    # INFO: with DEBUG and no LOGGING of its own, a site sees it in runserver's console,
    # a terminal: the job's text is escaped.
    logger.info("Ran %s", printable(run.summary))


def add_closer(response, function) -> None:
    """
    Call ``function`` from ``response.close()``.

    The WSGI and ASGI handlers call close() once the response is sent. Django's
    own FileResponse uses this list; close() runs it before request_finished,
    and an exception in it cannot reach the server.
    """
    response._resource_closers.append(function)


trigger = Trigger()


def run_in_background(names, force: bool = True, forced_by: str = "") -> threading.Thread:
    """Run the named jobs in a thread of their own (the admin's "run now"); return it."""

    def target():
        try:
            run_due(names, force=force, on_run=_log_run, forced_by=forced_by)
        except Exception:
            logger.exception("Running %s in the background failed", ", ".join(names))
        finally:
            connections.close_all()

    thread = threading.Thread(target=target, name="django_cron run now", daemon=True)
    thread.start()
    return thread


def backfill_in_background(backfill) -> threading.Thread:
    """Run a backfill in a thread of its own (the admin's and the API's); return it."""

    def target():
        try:
            backfills.run(backfill, on_run=_log_run)
        except Exception:
            logger.exception("Backfill #%s of %s failed", backfill.pk, backfill.job)
        finally:
            connections.close_all()

    thread = threading.Thread(target=target, name="django_cron backfill", daemon=True)
    thread.start()
    return thread
