"""
Calling a job in its own box.

Whatever the job does (raises anything, SystemExit included, prints, activates
a time zone or a language, closes its connection), the outcome comes back as
an ``Outcome`` and the thread is left as the job found it. Signals and the
job's pings go out from here; none of their faults reach the caller either.
"""

import logging
import random
import signal
import threading
import time
import traceback
from contextlib import contextmanager
from dataclasses import dataclass
from datetime import timedelta

from django.conf import settings
from django.db import connections
from django.utils import timezone, translation

from .. import conf
from ..clock import aware
from ..models import JobRun
from ..output import capture
from ..signals import cron_done, job_failed, job_started, job_succeeded
from ..text import storable
from . import pings, runs
from .connections import mend_connections
from .heartbeat import heartbeat

logger = logging.getLogger("django_cron")

# Characters of an error message, of a traceback, and of a return value kept:
# a 5 MB exception message must not go whole into the database, a log line or a mail.
ERROR_LIMIT = 2_000
TRACEBACK_LIMIT = 20_000
MESSAGE_LIMIT = 10_000


@dataclass
class Outcome:
    """What one call of a job came to."""

    status: str = JobRun.Status.OK
    error: str = ""
    traceback: str = ""
    output: str = ""
    message: str = ""
    duration: float = 0.0
    exception: BaseException | None = None
    # The Job instance (or the function) called: the sender of the signals.
    instance: object = None
    # The process was told to stop while the job ran (Ctrl-C, a server's
    # shutdown signal): the runner records the run, then raises this.
    stop: BaseException | None = None

    def apply_to(self, run: JobRun) -> None:
        """Set the outcome on the run (in memory; runs.finish() records it)."""
        run.status = self.status
        run.finished_at = run.started_at + timedelta(seconds=self.duration)
        run.duration = self.duration
        run.error, run.traceback = self.error, self.traceback
        run.output, run.message = self.output, self.message


def call_holding_lease(definition, run: JobRun, lock=None) -> Outcome:
    """
    Call the job for ``run`` with its lease (and its lock, if it holds one)
    kept alive by the heartbeat meanwhile; return its outcome.
    """

    def beat():
        held = lock.extend() if lock is not None else True
        return runs.extend(definition, run) and held

    try:
        with heartbeat(beat, definition.lease.total_seconds() / 3, definition.name):
            return call(definition, run)
    except Exception as exc:
        # Not the job (its faults are its outcome) but what runs it: still its run's end.
        logger.exception("Running %s failed", definition.name)
        return Outcome(status=JobRun.Status.FAILED, error=cap(repr(exc), ERROR_LIMIT))


def call(definition, run: JobRun) -> Outcome:
    """Call the job once for ``run``; return its outcome. Raise nothing."""
    if definition.jitter:
        # Spread jobs that many sites schedule for the same minute.
        time.sleep(random.uniform(0, definition.jitter))
    mend_connections()
    pings.ping(definition, "start")
    started = time.monotonic()
    limit = definition.time_limit
    if limit:
        # The job runs in a thread of its own, so that the runner can stop
        # waiting; Python cannot stop the thread, which is abandoned.
        box = {}
        done = threading.Event()
        thread = threading.Thread(
            target=_call_in_thread, args=(definition, run, box, done), daemon=True
        )
        thread.start()
        if done.wait(limit):
            outcome = box["outcome"]
        else:
            outcome = Outcome(
                status=JobRun.Status.TIMED_OUT,
                error=f"Timed out: still running after its time limit of {limit:g}s; "
                "its thread was abandoned.",
            )
    else:
        outcome = _call(definition, run)
    outcome.duration = time.monotonic() - started
    outcome.apply_to(run)
    mend_connections()
    _announce(definition, run, outcome)
    return outcome


def _call_in_thread(definition, run, box, done):
    try:
        box["outcome"] = _call(definition, run)
    finally:
        done.set()
        connections.close_all()


def _call(definition, run) -> Outcome:
    outcome = Outcome()
    with capture(conf.get("OUTPUT_LIMIT")) as output, defaults():
        try:
            outcome.instance = definition.instantiate()
            _send(job_started, outcome, definition, run)
            result = definition.call(outcome.instance, slot=job_slot(run))
        except BaseException as exc:
            outcome.status = JobRun.Status.FAILED
            outcome.exception = exc
            outcome.error = cap(f"{type(exc).__name__}: {exc}", ERROR_LIMIT)
            outcome.traceback = cap(traceback.format_exc(), TRACEBACK_LIMIT)
            if stops_the_process(exc):
                outcome.stop = exc
        else:
            if result is not None:
                outcome.message = cap(str(result), MESSAGE_LIMIT)
    outcome.output = storable(output.getvalue())
    return outcome


def job_slot(run: JobRun):
    """Return the slot a job taking ``slot`` is passed: aware, or None for a forced run."""
    return None if run.forced else aware(run.scheduled_for)


@contextmanager
def defaults():
    """
    Run the block with the default time zone and language, and put back the
    thread's own afterwards: a job run after a response must neither inherit
    the request's settings nor pass its own to the next request of the thread.
    """
    with timezone.override(None), translation.override(settings.LANGUAGE_CODE):
        yield


def stops_the_process(exc: BaseException) -> bool:
    """
    Tell whether ``exc`` is the process being told to stop rather than the
    job's own doing: Ctrl-C under Python's own SIGINT handler, or an exception
    raised by a signal handler (gunicorn's worker exits that way). Signals
    only ever interrupt the main thread.
    """
    if threading.current_thread() is not threading.main_thread():
        return False
    if isinstance(exc, KeyboardInterrupt):
        return signal.getsignal(signal.SIGINT) is signal.default_int_handler
    frame = exc.__traceback__
    while frame is not None and frame.tb_next is not None:
        frame = frame.tb_next
    if frame is None:
        return False
    raised_in = frame.tb_frame.f_code
    for signum in signal.valid_signals():
        handler = signal.getsignal(signum)
        code = getattr(getattr(handler, "__func__", handler), "__code__", None)
        if code is raised_in:
            return True
    return False


def cap(text: str, limit: int) -> str:
    """Return ``text`` storable and cut to ``limit`` characters, keeping its start and end."""
    text = storable(text)
    if len(text) <= limit:
        return text
    marker = f"\n[... {len(text) - limit:,} characters cut ...]\n"
    room = limit - len(marker)
    head = room // 4
    return text[:head] + marker + text[len(text) - (room - head) :]


def _announce(definition, run, outcome):
    """Log a failure, send the job's signals and make its pings."""
    if outcome.status == JobRun.Status.OK:
        _send(job_succeeded, outcome, definition, run)
        _send(cron_done, outcome, definition, run)
        pings.ping(definition, "success")
        return
    if outcome.status == JobRun.Status.TIMED_OUT:
        logger.error("Job %s timed out after %gs", definition.name, definition.time_limit)
    else:
        logger.error("Job %s failed\n%s", definition.name, outcome.traceback)
    _send(job_failed, outcome, definition, run, exception=outcome.exception)
    pings.ping(definition, "fail", outcome.error)


def _send(signal, outcome, definition, run, **extra):
    """Send ``signal``; a receiver's error, of any kind, is logged, never raised into the run."""
    sender = outcome.instance if outcome.instance is not None else definition.target
    try:
        responses = signal.send_robust(sender=sender, name=definition.name, run=run, **extra)
    except BaseException as exc:
        # send_robust() catches Exception only: a receiver raised SystemExit or the like.
        if stops_the_process(exc):
            outcome.stop = outcome.stop or exc
        logger.error("A receiver of %s failed: %r", definition.name, exc)
        return
    for receiver, error in responses:
        if isinstance(error, Exception):
            logger.error("A receiver of %s failed: %r: %r", definition.name, receiver, error)
