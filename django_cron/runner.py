"""
The runner: find what is due and take each job through its run.

Every trigger (``cron run``, ``cron worker``, the middleware, the ping view,
the admin's run now) calls ``run_due()``; a task worker runs what a pass
queued through ``tasks.run_claimed``. Only what starts it differs. How a slot
is claimed once and how a run ends is the business of ``runtime/runs.py``;
calling the job, of ``runtime/execution.py``.

A fault of one job stays with that job. A schedule that cannot say when the
job runs next marks the job broken (``manage.py check`` says so too), and the
others run; whatever the job itself raises is its run's outcome. A database or
cache outage ends the pass, with every lease handed back or left to expire,
and the trigger tries again later.
"""

import logging
import threading
import traceback
import weakref
from dataclasses import dataclass, field
from datetime import datetime

from django.db import connections
from django.db.models import Exists
from django.utils import timezone

from . import slots, tasks
from .clock import PassClock
from .definitions import definition_for
from .models import JobRun, JobState
from .registry import registry
from .runtime import alerts, blackouts, execution, runs, states
from .runtime.connections import mend_connections, tidy_connections
from .runtime.history import prune_history

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
        for definition in registry.all()
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


def _broken_skipped(names) -> list:
    """Return (name, why) for each broken job among ``names`` (all if None); log each once."""
    skipped = []
    for definition in registry.broken():
        _broken(definition)
        if names is None or definition.name in names:
            skipped.append((definition.name, f"broken: {definition.problem}"))
    return skipped


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
    states.keep_in_step(now)
    if force:
        definitions = [d for d in registry.all() if names is None or d.name in names]
        rows = states.in_order(states.sync_states(definitions, now).values())
    else:
        rows = states.due(names)
    result.checked = len(registry) if names is None else len(names)
    result.skipped = _broken_skipped(names)
    # Due or not is the database's call, so servers with skewed clocks agree.
    clock = PassClock(rows[0].db_now if rows else now)
    if force:
        runs.sweep()
    _send_pending_alerts(rows)
    todo, passed_over = _to_run(rows, force, clock)
    windows = _windows(rows, todo)
    _run_all(todo, result, force, clock, should_stop, on_run, threads, forced_by, windows)
    if result.runs:
        prune_history()
    if not force:
        result.next_due = _sweep_and_look_ahead(names, passed_over)
    tidy_connections()
    return result


def _send_pending_alerts(rows) -> None:
    """Send the alerts waiting on the rows read: a mail that failed before goes out now."""
    for state in rows:
        if state.alert_pending:
            alerts.send(state.name, state.pk, retry=True)


def _to_run(rows, force: bool, clock) -> tuple:
    """
    Return ``(todo, passed_over)``: the (definition, state) pairs to run,
    and the pks of due rows this process leaves (not registered here,
    broken, or off in code), which must not hold the next due time back.
    """
    todo, passed_over = [], []
    for state in rows:
        definition = definition_for(state)
        if force:
            if definition is not None and not _broken(definition):
                todo.append((definition, state))
        elif definition is None or _broken(definition) or not definition.enabled:
            if not _skipped_while_off(definition, state, clock):
                passed_over.append(state.pk)
        elif state.schedule_key != slots.key(definition):
            # Planned by a process with other code (a deploy under way): plan it anew.
            states.bring_in_step(definition, state.pk, state.schedule_key, clock.now())
        elif is_due(definition, state, clock.now()):
            todo.append((definition, state))
    return todo, passed_over


def _skipped_while_off(definition, state, clock) -> bool:
    """
    Skip the due slots of a row whose schedule in the database is off, as a
    pause's are; return whether this pass did. A schedule that cannot count
    them marks the job broken, as a claim that cannot plan does.
    """
    if getattr(definition, "entry", None) is None or _broken(definition):
        return False
    try:
        return states.skip_while_off(definition, state, clock.now())
    except Exception as exc:
        registry.mark_broken(definition, f"its schedule cannot say when it runs next ({exc!r})")
        _broken(definition)
        return False


def _windows(rows, todo) -> blackouts.Windows:
    """
    Return the pass's blackout windows, read by the first claim that needs
    them, and by none if the due rows say no window ends after their slots.
    """
    seen = [at for s in rows for at in (s.next_run_at, s.retry_slot) if at is not None]
    ahead = any(getattr(state, "blackout_ahead", True) for _, state in todo)
    return blackouts.Windows(since=min(seen, default=None), ahead=ahead)


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


def _run_all(
    todo, result, force, clock, should_stop, on_run, threads, forced_by="", windows=None
) -> None:
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
            run = _run_counted(definition, state, result, force, clock, forced_by, windows)
            if run is not None:
                with reporting:
                    result.runs.append(run)
                    if on_run is not None:
                        _report(on_run, run)

    if threads <= 1 or len(pending) <= 1:
        work()
    else:
        _in_threads(work, min(threads, len(pending)))


def _run_counted(definition, state, result, force, clock, forced_by, windows=None):
    """Run one job; note in ``result`` why it did not run, if it did not."""
    try:
        run = run_one(
            definition, state, force=force, clock=clock, forced_by=forced_by, windows=windows
        )
    except runs.CannotPlan as exc:
        registry.mark_broken(definition, str(exc))
        _broken(definition)
        result.skipped.append((definition.name, f"broken: {exc}"))
        return None
    finally:
        mend_connections()
    if run is None:
        result.skipped.append((definition.name, "taken by another process"))
    return run


def _in_threads(work, count: int) -> None:
    """Call ``work`` in ``count`` threads and wait for them; raise the first failure."""
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
        for i in range(count)
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
    definition,
    state: JobState,
    force: bool = False,
    clock=None,
    forced_by: str = "",
    windows=None,
) -> JobRun | None:
    """
    Claim and run (or queue) one job's due slot; return the run, or None if
    not claimed. ``windows``: the pass's blackout windows, read when needed.
    """
    clock = clock or PassClock(timezone.now())
    lock = runs.JobLock(definition)
    if not lock.acquire():
        return None
    run = outcome = None
    try:
        run = runs.claim(definition, state, lock.token, force, clock, forced_by, windows)
        if run is None:
            return None
        if run.status == JobRun.Status.QUEUED:
            # The task worker runs it and records the outcome; the slot is taken.
            _enqueue(definition, run, clock)
            return run
        outcome = execution.call_holding_lease(definition, run, lock)
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
