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
import threading
import time
import traceback
import weakref
from dataclasses import dataclass, field
from datetime import datetime, timedelta

from django.core.signals import setting_changed
from django.db import connections
from django.db.models import Exists
from django.utils import timezone

from . import alerts, audit, conf, db_schedules, execution, runs, states, tasks
from .clock import PassClock
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
    around each request: at the start and the end of a pass. A connection
    inside a transaction is left alone: closing it would roll back the
    caller's work (a TestCase, say).
    """
    for connection in connections.all(initialized_only=True):
        if not connection.in_atomic_block:
            connection.close_if_unusable_or_obsolete()


def mend_connections() -> None:
    """
    Between two jobs of a pass, close only the connections a job left unusable
    (broken, or with autocommit turned off), so that the next job gets a sound
    one; with CONN_MAX_AGE = 0 the pass keeps one connection, not one per job.
    """
    for connection in connections.all(initialized_only=True):
        if connection.connection is None or connection.in_atomic_block:
            continue
        if connection.get_autocommit() != connection.settings_dict["AUTOCOMMIT"]:
            connection.close()
        elif connection.errors_occurred:
            if connection.is_usable():
                connection.errors_occurred = False
            else:
                connection.close()


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


def is_due(definition, state, now) -> bool:
    """Tell whether a job may run now: enabled in code and in the database, and due."""
    return (
        definition.enabled
        and state.enabled
        and state.next_run_at is not None
        and state.next_run_at <= now
    )


class _Broken:
    """The broken jobs of one registry generation, found in one sweep of the registry."""

    generation = None
    skipped = ()

    def list(self) -> list:
        generation = cronScheduler.generation
        if generation != self.generation:
            broken = [d for d in cronScheduler.all() if d.problem is not None]
            for definition in broken:
                _broken(definition)
            self.skipped = [(d.name, f"broken: {d.problem}") for d in broken]
            self.generation = generation
        return self.skipped


_broken_jobs = _Broken()


def run_due(
    names=None,
    *,
    force: bool = False,
    should_stop=None,
    on_run=None,
    threads: int = 1,
    forced_by: str = "",
) -> Pass:
    """
    Run every due job once (only those in ``names``, if given).

    ``force`` runs the named jobs now, due or not; ``forced_by`` says who
    asked, in each run's history. ``should_stop`` is asked
    before each job; the worker uses it to stop cleanly between jobs.
    ``on_run`` is called with each run as soon as it is recorded. ``threads``
    runs that many jobs at a time, each in a thread of its own.

    Without ``force``, a pass reads only what is due, so that its cost
    follows the due jobs rather than the registered ones: two statements
    when nothing is due.
    """
    tidy_connections()
    result = Pass()
    now = timezone.now()
    states.survey(now)
    if force:
        definitions = [d for d in cronScheduler.all() if names is None or d.name in names]
        rows = states.in_order(states.sync_states(definitions, now).values())
    else:
        rows = states.due(names)
    result.checked = len(cronScheduler) if names is None else len(names)
    result.skipped = [s for s in _broken_jobs.list() if names is None or s[0] in names]
    # Due or not is the database's call, so servers with skewed clocks agree.
    clock = PassClock(rows[0].db_now if rows else now)
    if force:
        runs.sweep()
    todo, passed_over = [], []
    for state in rows:
        if state.alert_pending:
            alerts.send(state.name, state.pk, retry=True)
        definition = db_schedules.definition_for(state)
        if force:
            if definition is not None and not _broken(definition):
                todo.append((definition, state))
        elif definition is None or _broken(definition) or not definition.enabled:
            passed_over.append(state.pk)
        elif state.schedule_key != states.schedule_key(definition):
            # Planned by a process with other code (a deploy under way): plan it anew.
            states.bring_in_step(definition, state.pk, state.schedule_key, clock.now())
        elif is_due(definition, state, clock.now()):
            todo.append((definition, state))
    _run_all(todo, result, force, clock, should_stop, on_run, threads, forced_by)
    if result.runs:
        prune_history()
    if not force:
        result.next_due = _sweep_and_look_ahead(names, passed_over)
    tidy_connections()
    return result


def _sweep_and_look_ahead(names, passed_over):
    """
    Record the runs whose lease expired as lost, and return the next due time.
    Whether any lease expired comes with the next due time, in one statement:
    an idle pass takes two, and the sweep's own queries only when it has work.
    """
    lost = Exists(runs.expired())
    following, found = states.next_due(names, passed_over, lost=lost)
    if found is None:  # no job has a next run to carry the question
        found = {"lost": runs.expired().exists()}
    if found["lost"] and runs.sweep():
        # A retry may have brought a job forward.
        following = states.next_due(names, passed_over)[0]
    return following


def _run_all(todo, result, force, clock, should_stop, on_run, threads, forced_by="") -> None:
    """Take each (definition, state) through its run, in up to ``threads`` threads."""
    pending = list(todo)
    reporting = threading.Lock()

    def work():
        while pending:
            if should_stop is not None and should_stop():
                result.stopped = True
                return
            try:
                definition, state = pending.pop(0)
            except IndexError:
                return
            try:
                run = run_one(definition, state, force=force, clock=clock, forced_by=forced_by)
            except runs.CannotPlan as exc:
                cronScheduler.mark_broken(definition, str(exc))
                _broken(definition)
                result.skipped.append((definition.name, f"broken: {exc}"))
                continue
            finally:
                mend_connections()
            if run is None:
                result.skipped.append((definition.name, "taken by another process"))
                continue
            with reporting:
                result.runs.append(run)
                if on_run is not None:
                    _report(on_run, run)

    if threads <= 1 or len(pending) <= 1:
        work()
        return
    failures = []

    def worker():
        try:
            work()
        except BaseException as exc:
            failures.append(exc)
        finally:
            # A thread's connections die with it: close them rather than leak them.
            connections.close_all()

    pool = [
        threading.Thread(target=worker, name=f"django_cron job {i + 1}", daemon=True)
        for i in range(min(threads, len(pending)))
    ]
    for thread in pool:
        thread.start()
    for thread in pool:
        thread.join()
    if failures:
        raise failures[0]


def _report(on_run, run) -> None:
    """Tell ``on_run`` of a recorded run; a reporter that fails (a closed pipe) stops nothing."""
    try:
        on_run(run)
    except Exception:
        logger.exception("Reporting the run of %s failed", run.job.name)


def run_one(
    definition, state: JobState, force: bool = False, clock=None, forced_by: str = ""
) -> JobRun | None:
    """Claim and run (or queue) one job's due slot; return the run, or None if not claimed."""
    clock = clock or PassClock(timezone.now())
    lock = runs.JobLock(definition)
    if not lock.acquire():
        return None
    run = outcome = None
    try:
        run = runs.claim(definition, state, lock.token, force, clock, forced_by)
        if run is None:
            return None
        if run.status == JobRun.Status.QUEUED:
            # The task worker runs it and records the outcome; the slot is taken.
            _enqueue(definition, run, clock)
            return run
        outcome = _call(definition, run, lock)
        runs.finish(definition, run, outcome, clock)
    finally:
        lock.release(ran=run is not None)
    if outcome.stop is not None:
        # The process was told to stop while the job ran: recorded, now stop.
        raise outcome.stop
    return run


def _enqueue(definition, run, clock) -> None:
    """Hand a queued run to its task backend; if that fails, the run failed, with why."""
    try:
        tasks.enqueue(definition, run)
    except Exception as exc:
        logger.exception("Queueing %s failed", definition.name)
        outcome = execution.Outcome(
            status=JobRun.Status.FAILED,
            error=execution.cap(f"Queueing the task failed: {exc!r}", execution.ERROR_LIMIT),
            traceback=execution.cap(traceback.format_exc(), execution.TRACEBACK_LIMIT),
        )
        runs.finish(definition, run, outcome, clock, was=JobRun.Status.QUEUED)
        return
    run.refresh_from_db()


def run_queued(name: str, run_id: int) -> str:
    """Run a job that a pass claimed and queued (the task worker's side); return its status."""
    definition = db_schedules.definition_named(name)
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
            return execution.call(definition, run, tidy=mend_connections)
    except Exception as exc:
        # Not the job (its faults are its outcome) but what runs it: still its run's end.
        logger.exception("Running %s failed", definition.name)
        return execution.Outcome(
            status=JobRun.Status.FAILED, error=execution.cap(repr(exc), execution.ERROR_LIMIT)
        )


# When this process last pruned each database's history (time.monotonic()).
_pruned = {}
# Seconds between two prunings by one process while a batch leaves nothing over.
PRUNE_EVERY = 60.0


def _forget_pruning(**kwargs):
    _pruned.clear()


setting_changed.connect(_forget_pruning)


def prune_history() -> int:
    """
    Delete one bounded batch of runs older than HISTORY_DAYS, and one of the
    audit trail and of finished one-off runs; return how many runs. A process
    prunes once a minute at most, unless its last batch was full.
    """
    days = conf.get("HISTORY_DAYS")
    alias = conf.database()
    if days is None or time.monotonic() < _pruned.get(alias, float("-inf")) + PRUNE_EVERY:
        return 0
    _pruned[alias] = time.monotonic()
    cutoff = timezone.now() - timedelta(days=days)
    size = conf.get("PRUNE_BATCH_SIZE")
    old = JobRun.objects.using(alias)
    batch = list(
        old.filter(started_at__lt=cutoff)
        .exclude(status__in=[JobRun.Status.QUEUED, JobRun.Status.RUNNING])
        .order_by("started_at")
        .values_list("pk", flat=True)[:size]
    )
    pruned = old.filter(pk__in=batch).delete()[0] if batch else 0
    # Kept as long as the runs they explain.
    others = audit.prune(cutoff, size) + db_schedules.prune_one_offs(cutoff, size)
    if len(batch) == size or others >= size:
        _pruned.pop(alias)  # more to do: the next pass goes on
    return pruned
