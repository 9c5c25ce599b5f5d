"""
The runner: find due jobs, claim each slot once, run it, record the run.

Every trigger (``cron run``, ``cron worker``, and later the middleware, the ping
view and the admin) calls ``run_due()``; only what starts it differs.

Exactly once: a slot is claimed by one UPDATE of the job's state row,
conditional on the ``next_run_at`` the claimer read and on no live lease, and
timed by the database's clock. Two claimers cannot both see rowcount 1. The
lock backend's per-job lease is taken first so that a long job never overlaps
its own next slot, whatever the backend.
"""

import logging
from dataclasses import dataclass, field
from datetime import datetime, timedelta

from django.db import connections
from django.db.models import Min, Q
from django.utils import timezone

from . import conf, tasks
from .alerts import record_outcome
from .clock import DbNow, PassClock, db_now_plus
from .execution import execute
from .leases import Lease
from .locks import get_lock
from .models import JobRun, JobState
from .registry import cronScheduler

logger = logging.getLogger("django_cron")

LOST_ERROR = "The process running this job stopped before it finished: its lease expired."


@dataclass
class Pass:
    """What one call of run_due() did."""

    runs: list = field(default_factory=list)
    next_due: datetime | None = None
    # True when should_stop() ended the pass with due jobs left over.
    stopped: bool = False


def _states():
    return JobState.objects.using(conf.database())


def _runs():
    return JobRun.objects.using(conf.database())


def tidy_connections() -> None:
    """
    Close connections that are broken or past CONN_MAX_AGE, as Django does
    around each request. A connection inside a transaction is left alone:
    closing it would roll back the caller's work (a TestCase, say).
    """
    for connection in connections.all(initialized_only=True):
        if not connection.in_atomic_block:
            connection.close_if_unusable_or_obsolete()


def usable_definitions(names=None) -> list:
    """Return the registered jobs named (all if None) whose schedule is valid."""
    result = []
    for definition in cronScheduler.all():
        if names is not None and definition.name not in names:
            continue
        try:
            _ = definition.schedule  # built here so a bad one is logged, not run
        except Exception as exc:
            logger.error("Job %s is not run: %s (see manage.py check)", definition.name, exc)
            continue
        result.append(definition)
    return result


def sync_states(definitions, now: datetime) -> dict:
    """
    Return {name: JobState}, creating the rows of jobs seen for the first time
    and moving next_run_at when a job's schedule changed in code. Each state
    also carries ``db_now``, the database's clock as it read the row.
    """
    names = [d.name for d in definitions]
    stamped = _states().annotate(db_now=DbNow())
    states = {s.name: s for s in stamped.filter(name__in=names)}
    missing = [
        JobState(
            name=d.name,
            schedule_key=d.schedule.key,
            next_run_at=d.schedule.first_after(now),
        )
        for d in definitions
        if d.name not in states
    ]
    if missing:
        # Another process may create the same rows at the same moment.
        _states().bulk_create(missing, ignore_conflicts=True)
        states.update((s.name, s) for s in stamped.filter(name__in=[m.name for m in missing]))
    for definition in definitions:
        state = states.get(definition.name)
        key = definition.schedule.key
        if state is not None and state.schedule_key != key:
            _states().filter(pk=state.pk, schedule_key=state.schedule_key).update(
                schedule_key=key, next_run_at=definition.schedule.first_after(now)
            )
            state.refresh_from_db()
    return states


def sweep_lost(now: datetime) -> int:
    """Record as lost every run whose lease expired; return how many."""
    lost = 0
    expired = (
        _states()
        .filter(lease_until__lt=DbNow())
        .exclude(lease_owner="")
        .values_list("pk", "name", "lease_owner", "current_run_id")
    )
    for pk, name, owner, run_id in expired:
        # Conditional on the owner, so two sweepers record one loss.
        if (
            not _states()
            .filter(pk=pk, lease_owner=owner)
            .update(
                lease_owner="", lease_until=None, current_run=None, last_status=JobRun.Status.LOST
            )
        ):
            continue
        if run_id is not None:
            _runs().filter(pk=run_id, status=JobRun.Status.RUNNING).update(
                status=JobRun.Status.LOST, finished_at=now, error=LOST_ERROR
            )
        logger.warning("Job %s was lost: %s", name, LOST_ERROR)
        lost += 1
    return lost


def plan(definition, seen: datetime, now: datetime):
    """
    Return ``(slot to run or None, next_run_at)`` for a job due at ``seen``.

    On time, or with missed="catch_up", the seen slot runs and the next one
    follows it. After missed slots, "coalesce" runs once and "skip" runs
    nothing; both then wait for the first slot after now, in phase.
    """
    schedule = definition.schedule
    following = schedule.next_after(seen)
    if following > now or definition.missed == "catch_up":
        return seen, following
    resumed = schedule.resume_after(seen, now)
    if definition.missed == "skip":
        return None, resumed
    return seen, resumed


def claim(definition, state, token: str, force: bool, clock: PassClock):
    """
    Claim the job's due slot, a due retry, or (forced) the present moment.

    Return ``(slot, attempt)``, or None if another claimer won or nothing runs.
    """
    lease = {"lease_owner": token, "lease_until": db_now_plus(definition.lease)}
    # A job allowed several concurrent runs counts them with its lock slots.
    free = Q(lease_until__isnull=True) | Q(lease_until__lt=DbNow())
    if definition.max_running > 1:
        free = Q()
    if force:
        slot = clock.now()
        claimed = _states().filter(free, pk=state.pk).update(**lease)
        return (slot, 1) if claimed else None
    if state.retry_slot is not None:
        slot, attempt = state.retry_slot, state.retry_attempt
        following = plan(definition, state.retry_slot, clock.now())[1]
    else:
        (slot, following), attempt = plan(definition, state.next_run_at, clock.now()), 1
    if slot is None:
        lease = {}
    claimed = (
        _states()
        .filter(free, pk=state.pk, enabled=True, next_run_at=state.next_run_at)
        .filter(next_run_at__lte=DbNow())
        .update(next_run_at=following, retry_slot=None, retry_attempt=0, **lease)
    )
    if claimed and slot is None:
        logger.info("Job %s skipped missed slots up to %s", definition.name, following)
    return (slot, attempt) if claimed and slot is not None else None


def take_lease(definition) -> Lease | None:
    """Take one of the job's max_running lock slots; return the lease or None."""
    for index in range(definition.max_running):
        key = f"job:{definition.name}" + (f"#{index + 1}" if index else "")
        lease = Lease(get_lock(), key, definition.lease)
        if lease.acquire() is not None:
            return lease
    return None


def schedule_retry(definition, state_pk, run, clock) -> None:
    """After a failed attempt with retries left, bring the job back sooner, on the same slot."""
    if run.forced or run.attempt > definition.retries:
        return
    delay = definition.retry_delay * definition.retry_backoff ** (run.attempt - 1)
    retry_at = clock.now() + timedelta(seconds=delay)
    # Only before the next regular slot: from there, that slot is the next try.
    _states().filter(pk=state_pk, next_run_at__gt=retry_at).update(
        next_run_at=retry_at, retry_slot=run.scheduled_for, retry_attempt=run.attempt + 1
    )


def run_one(definition, state: JobState, force: bool = False, clock=None) -> JobRun | None:
    """Claim and run (or queue) one job's due slot; return the run, or None if not claimed."""
    clock = clock or PassClock(timezone.now())
    lease = take_lease(definition)
    if lease is None:
        return None
    token = lease.token
    mine = _states().filter(pk=state.pk, lease_owner=token)
    lease.on_beat = lambda: mine.update(lease_until=db_now_plus(definition.lease))
    try:
        claimed = claim(definition, state, token, force, clock)
        if claimed is None:
            return None
        slot, attempt = claimed
        queue = bool(definition.enqueue)
        run = _runs().create(
            job=state,
            scheduled_for=slot,
            started_at=clock.now(),
            status=JobRun.Status.QUEUED if queue else JobRun.Status.RUNNING,
            owner=token,
            forced=force,
            attempt=attempt,
        )
        if queue:
            # The task worker runs it and records the outcome; the slot is taken.
            mine.update(lease_owner="", lease_until=None)
            tasks.enqueue(definition, run)
            run.refresh_from_db()
            return run
        mine.update(current_run=run)
        with lease.heartbeat():
            finish(definition, run, clock)
        mine.update(lease_owner="", lease_until=None, current_run=None)
        return run
    finally:
        lease.release()


def finish(definition, run: JobRun, clock=None) -> JobRun:
    """Execute the claimed ``run``; record the run, the state's summary, alerts and retry."""
    execute(definition, run, tidy=tidy_connections)
    _runs().filter(pk=run.pk).update(
        status=run.status,
        finished_at=run.finished_at,
        duration=run.duration,
        error=run.error,
        traceback=run.traceback,
        output=run.output,
        message=run.message,
    )
    _states().filter(pk=run.job_id).update(
        last_run_at=run.started_at,
        last_status=run.status,
        last_duration=run.duration,
        last_error=run.error,
    )
    record_outcome(definition, run.job_id, run, conf.database())
    if run.status != JobRun.Status.OK:
        schedule_retry(definition, run.job_id, run, clock or PassClock(timezone.now()))
    return run


def run_due(names=None, *, force: bool = False, should_stop=None) -> Pass:
    """
    Run every due job once (only those in ``names``, if given).

    ``force`` runs the named jobs now, due or not. ``should_stop`` is asked
    before each job; the worker uses it to stop cleanly between jobs.
    """
    tidy_connections()
    result = Pass()
    now = timezone.now()
    definitions = usable_definitions(names)
    states = sync_states(definitions, now)
    # Due or not is the database's call, so servers with skewed clocks agree.
    clock = PassClock(next(iter(states.values())).db_now if states else now)
    sweep_lost(clock.now())
    due = [
        definition
        for definition in sorted(definitions, key=lambda d: states[d.name].next_run_at)
        if force or is_due(definition, states[definition.name], clock.now())
    ]
    for definition in due:
        if should_stop is not None and should_stop():
            result.stopped = True
            break
        run = run_one(definition, states[definition.name], force=force, clock=clock)
        if run is not None:
            result.runs.append(run)
    if result.runs:
        prune_history()
    result.next_due = next_due(definitions)
    tidy_connections()
    return result


def is_due(definition, state, now) -> bool:
    """Tell whether a job may run now: enabled in code and in the database, and due."""
    return definition.enabled and state.enabled and state.next_run_at <= now


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
    batch = list(
        _runs()
        .filter(started_at__lt=cutoff)
        .exclude(status=JobRun.Status.RUNNING)
        .order_by("started_at")
        .values_list("pk", flat=True)[: conf.get("PRUNE_BATCH_SIZE")]
    )
    if not batch:
        return 0
    _states().filter(current_run__in=batch).update(current_run=None)
    return _runs().filter(pk__in=batch).delete()[0]
