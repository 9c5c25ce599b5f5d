"""
Calling a job: its output captured, its time limited, its outcome recorded on
the run, signals sent and pings made. Nothing here raises into the runner.
"""

import logging
import random
import threading
import time
import traceback
from datetime import timedelta

from django.db import connections

from . import alerts, conf
from .models import JobRun
from .output import capture
from .signals import cron_done, job_failed, job_started, job_succeeded

logger = logging.getLogger("django_cron")


def execute(definition, run: JobRun, tidy=lambda: None) -> JobRun:
    """Run the job once and record status, error, traceback, output and timing on ``run``."""
    if definition.jitter:
        # Spread jobs that many sites schedule for the same minute.
        time.sleep(random.uniform(0, definition.jitter))
    tidy()
    alerts.ping(definition, "start")
    started = time.monotonic()
    outcome = {}
    limit = definition.time_limit
    if limit:
        # The job runs in a thread of its own, so that the runner can stop
        # waiting; Python cannot stop the thread, which is abandoned.
        done = threading.Event()
        worker = threading.Thread(
            target=_call_in_thread, args=(definition, run, outcome, done), daemon=True
        )
        worker.start()
        if not done.wait(limit):
            outcome = {"timed_out": True}
    else:
        _call(definition, run, outcome)
    run.duration = time.monotonic() - started
    run.finished_at = run.started_at + timedelta(seconds=run.duration)
    tidy()
    _record(definition, run, outcome)
    return run


def _call_in_thread(definition, run, outcome, done):
    try:
        _call(definition, run, outcome)
    finally:
        done.set()
        connections.close_all()


def _call(definition, run, outcome):
    with capture(conf.get("OUTPUT_LIMIT")) as output:
        try:
            outcome["instance"] = instance = definition.instantiate()
            _send(job_started, instance, definition, run)
            outcome["result"] = definition.call(instance)
        except Exception as exc:
            outcome["exception"] = exc
            outcome["traceback"] = traceback.format_exc()
    outcome["output"] = output.getvalue()


def _record(definition, run, outcome):
    instance = outcome.get("instance", definition.target)
    run.output = outcome.get("output", "")
    if outcome.get("result") is not None:
        run.message = str(outcome["result"])[:10_000]
    if outcome.get("timed_out"):
        run.status = JobRun.Status.TIMED_OUT
        run.error = (
            f"Timed out: still running after its time limit of {definition.time_limit:g}s; "
            "its thread was abandoned."
        )
        logger.error("Job %s timed out after %gs", definition.name, definition.time_limit)
        _send(job_failed, instance, definition, run, exception=None)
        alerts.ping(definition, "fail", run.error)
    elif "exception" in outcome:
        exc = outcome["exception"]
        run.status = JobRun.Status.FAILED
        run.error = f"{type(exc).__name__}: {exc}"[:2000]
        run.traceback = outcome["traceback"]
        logger.error("Job %s failed\n%s", definition.name, run.traceback)
        _send(job_failed, instance, definition, run, exception=exc)
        alerts.ping(definition, "fail", run.error)
    else:
        run.status = JobRun.Status.OK
        _send(job_succeeded, instance, definition, run)
        _send(cron_done, instance, definition, run)
        alerts.ping(definition, "success")


def _send(signal, instance, definition, run, **extra):
    """Send ``signal``; a receiver's error is logged, never raised into the run."""
    for receiver, error in signal.send_robust(
        sender=instance, name=definition.name, run=run, **extra
    ):
        if isinstance(error, Exception):
            logger.error("A receiver of %s failed: %r: %r", definition.name, receiver, error)
