"""
The runner: find what is due and take each job through its run.

Every trigger (``cron run``, ``cron worker``, the middleware, the ping view,
the admin's run now, a task worker) calls ``run_due()`` or ``run_queued()``;
only what starts it differs. How a slot is claimed once and how a run ends is
the business of ``runs.py``.

A fault of one job stays with that job. A schedule that cannot say when the
job runs next marks the job broken (``manage.py check`` says so too), and the
others run; whatever the job itself raises is its run's outcome. A database or
cache outage ends the pass, with every lease handed back or left to expire,
and the trigger tries again later.
"""

import logging
import weakref
from dataclasses import dataclass, field
from datetime import datetime, timedelta

from django.db import connections
from django.db.models import Min
from django.utils import timezone

from . import alerts, conf, execution, runs, tasks
from .clock import DbNow, PassClock
from .heartbeat import heartbeat
from .models import JobRun, JobState
from .registry import cronScheduler

logger = logging.getLogger("django_cron")

# Broken jobs already logged by this process: once each, not once per pass.
_reported = weakref.WeakSet()


@dataclass
class Pass:
    """What one call of run_due() did."""

    runs: list = field(default_factory=list)
    next_due: datetime | None = None
    # How many jobs were looked at, and which were due but not run here, with why.
    checked: int = 0
    skipped: list = field(default_factory=list)
    # True when should_stop() ended the pass with due jobs left over.
    stopped: bool = False


def _states():
    return JobState.objects.using(conf.database())


def tidy_connections() -> None:
    """
    Close connections that are broken or past CONN_MAX_AGE, as Django does
    around each request. A connection inside a transaction is left alone:
    closing it would roll back the caller's work (a TestCase, say).
    """
    for connection in connections.all(initialized_only=True):
        if not connection.in_atomic_block:
            connection.close_if_unusable_or_obsolete()


def _broken(definition) -> bool:
    """Tell whether the job cannot run; log why, once per process."""
    if definition.problem is None:
        return False
    if definition not in _reported:
        _reported.add(definition)
        logger.error(
            "Job %s is not run: %s (see manage.py check)", definition.name, definition.problem
        )
    return True


def usable_definitions(names=None) -> list:
    """Return the registered jobs named (all if None) that can run."""
    return [
        definition
        for definition in cronScheduler.all()
        if (names is None or definition.name in names) and not _broken(definition)
    ]


def _schedule_key(definition) -> str:
    try:
        return definition.schedule.key
    except Exception:
        return ""  # no schedule to speak of: the job is broken


def _first_slot(definition, now: datetime):
    """Return ``(schedule key, first run)`` of a job; no first run for a broken one."""
    key = _schedule_key(definition)
    if _broken(definition):
        return key, None
    try:
        return key, definition.schedule.first_after(now)
    except Exception as exc:
        definition.mark_broken(f"its schedule cannot say when it runs first ({exc!r})")
        _broken(definition)
        return key, None


def sync_states(definitions, now: datetime) -> dict:
    """
    Return {name: JobState}, creating the rows of jobs seen for the first time
    and moving next_run_at when a job's schedule changed in code. A broken
    job gets a row too, so that the admin lists it, but no next run. Each
    state also carries ``db_now``, the database's clock as it read the row.
    """
    # A name too long for its column (a broken job, which check reports) gets no row.
    limit = JobState._meta.get_field("name").max_length
    definitions = [d for d in definitions if len(d.name) <= limit]
    names = [d.name for d in definitions]
    stamped = _states().annotate(db_now=DbNow())
    states = {s.name: s for s in stamped.filter(name__in=names)}
    missing = []
    for definition in definitions:
        if definition.name not in states:
            key, first = _first_slot(definition, now)
            missing.append(JobState(name=definition.name, schedule_key=key, next_run_at=first))
    if missing:
        # Another process may create the same rows at the same moment.
        _states().bulk_create(missing, ignore_conflicts=True)
        states.update((s.name, s) for s in stamped.filter(name__in=[m.name for m in missing]))
    for definition in definitions:
        state = states.get(definition.name)
        if state is None:
            continue
        stale = state.next_run_at is None and definition.problem is None
        if stale or state.schedule_key != _schedule_key(definition):
            key, first = _first_slot(definition, now)
            _states().filter(pk=state.pk, schedule_key=state.schedule_key).update(
                schedule_key=key, next_run_at=first
            )
            state.refresh_from_db()
    return states


def is_due(definition, state, now) -> bool:
    """Tell whether a job may run now: enabled in code and in the database, and due."""
    return (
        definition.enabled
        and state.enabled
        and state.next_run_at is not None
        and state.next_run_at <= now
    )


def run_due(names=None, *, force: bool = False, should_stop=None, on_run=None) -> Pass:
    """
    Run every due job once (only those in ``names``, if given).

    ``force`` runs the named jobs now, due or not. ``should_stop`` is asked
    before each job; the worker uses it to stop cleanly between jobs.
    ``on_run`` is called with each run as soon as it is recorded.
    """
    tidy_connections()
    result = Pass()
    now = timezone.now()
    definitions = [d for d in cronScheduler.all() if names is None or d.name in names]
    states = sync_states(definitions, now)
    # Due or not is the database's call, so servers with skewed clocks agree.
    clock = PassClock(next(iter(states.values())).db_now if states else now)
    runs.sweep(clock.now())
    for state in states.values():
        if state.alert_pending:
            alerts.send(state.name, state.pk, retry=True)
    result.checked = len(definitions)
    usable = [d for d in definitions if not _broken(d)]
    result.skipped = [
        (d.name, f"broken: {d.problem}") for d in definitions if d.problem is not None
    ]
    due = [
        definition
        for definition in sorted(usable, key=lambda d: states[d.name].next_run_at or now)
        if force or is_due(definition, states[definition.name], clock.now())
    ]
    for definition in due:
        if should_stop is not None and should_stop():
            result.stopped = True
            break
        try:
            run = run_one(definition, states[definition.name], force=force, clock=clock)
        except runs.CannotPlan as exc:
            definition.mark_broken(str(exc))
            _broken(definition)
            result.skipped.append((definition.name, f"broken: {exc}"))
            continue
        if run is None:
            result.skipped.append((definition.name, "taken by another process"))
            continue
        result.runs.append(run)
        if on_run is not None:
            _report(on_run, run)
    if result.runs:
        prune_history()
    result.next_due = next_due(usable)
    tidy_connections()
    return result


def _report(on_run, run) -> None:
    """Tell ``on_run`` of a recorded run; a reporter that fails (a closed pipe) stops nothing."""
    try:
        on_run(run)
    except Exception:
        logger.exception("Reporting the run of %s failed", run.job.name)


def run_one(definition, state: JobState, force: bool = False, clock=None) -> JobRun | None:
    """Claim and run (or queue) one job's due slot; return the run, or None if not claimed."""
    clock = clock or PassClock(timezone.now())
    lock = runs.JobLock(definition)
    if not lock.acquire():
        return None
    run = outcome = None
    try:
        run = runs.claim(definition, state, lock.token, force, clock)
        if run is None:
            return None
        if run.status == JobRun.Status.QUEUED:
            # The task worker runs it and records the outcome; the slot is taken.
            tasks.enqueue(definition, run)
            run.refresh_from_db()
            return run
        outcome = _call(definition, run, lock)
        runs.finish(definition, run, outcome, clock)
    finally:
        lock.release(ran=run is not None)
    if outcome.stop is not None:
        # The process was told to stop while the job ran: recorded, now stop.
        raise outcome.stop
    return run


def run_queued(name: str, run_id: int) -> str:
    """Run a job that a pass claimed and queued (the task worker's side); return its status."""
    definition = cronScheduler.get(name)
    run = runs.take(definition, run_id)
    if run is None:
        # Taken already: a redelivered or duplicate task does nothing.
        return JobRun.objects.using(conf.database()).get(pk=run_id).status
    outcome = _call(definition, run)
    runs.finish(definition, run, outcome, PassClock(timezone.now()))
    if outcome.stop is not None:
        raise outcome.stop
    return run.status


def _call(definition, run, lock=None) -> execution.Outcome:
    """Call the job with its lease (and lock) kept alive meanwhile."""

    def beat():
        held = lock.extend() if lock is not None else True
        return runs.extend(definition, run) and held

    try:
        with heartbeat(beat, definition.lease.total_seconds() / 3, definition.name):
            return execution.call(definition, run, tidy=tidy_connections)
    except Exception as exc:
        # Not the job (its faults are its outcome) but what runs it: still its run's end.
        logger.exception("Running %s failed", definition.name)
        return execution.Outcome(
            status=JobRun.Status.FAILED, error=execution.cap(repr(exc), execution.ERROR_LIMIT)
        )


def next_due(definitions) -> datetime | None:
    """Return the earliest next_run_at of the enabled ``definitions``."""
    names = [d.name for d in definitions if d.enabled]
    if not names:
        return None
    return _states().filter(name__in=names, enabled=True).aggregate(due=Min("next_run_at"))["due"]


def prune_history() -> int:
    """Delete one bounded batch of runs older than HISTORY_DAYS; return how many."""
    days = conf.get("HISTORY_DAYS")
    if days is None:
        return 0
    cutoff = timezone.now() - timedelta(days=days)
    old = JobRun.objects.using(conf.database())
    batch = list(
        old.filter(started_at__lt=cutoff)
        .exclude(status=JobRun.Status.RUNNING)
        .order_by("started_at")
        .values_list("pk", flat=True)[: conf.get("PRUNE_BATCH_SIZE")]
    )
    if not batch:
        return 0
    _states().filter(current_run__in=batch).update(current_run=None)
    return old.filter(pk__in=batch).delete()[0]
