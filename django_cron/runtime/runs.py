"""
The life of a run, in one place.

::

                claim                      finish: status=running AND owner=me
    due ──────────────────► running ───────────────────► ok | failed | timeout
     │                        ▲  │
     │ claim, enqueued   take │  └───────────────────────► lost
     └──► queued ─────────────┘               sweep: status AND owner AND lease expired
            │
            ├── its enqueue() fails ──────────────► failed
            └── no worker takes it in time ───────► lost (the sweep)

Every arrow is one UPDATE conditional on what its writer saw, which either
wins or changes nothing; no other module writes a run's status. So:

* a slot runs once: the claim moves the job's ``next_run_at`` on from the value
  the claimer read, only while no live lease is held, by the database's clock;
  a task worker runs a queued run only if its ``take`` moves it to running, so
  a redelivered or duplicate task runs nothing;
* a run ends in exactly one final state: the finish and the sweep both require
  the status and owner they saw, so whichever comes second changes nothing. A
  finish that comes after the sweep (the process was alive after all, only
  too slow to beat) keeps ``lost`` and adds what really happened to the run:
  its output, duration and outcome, "finished late". It leaves the job's state
  alone, which has moved on;
* nothing stays stuck: each queued or running run holds a lease
  (``lease_until`` on the run, and on the job's state while one run at a time
  is allowed), extended by the heartbeat while its process lives, and swept as
  lost once it expires. A queued run's lease runs from its claim: a run that no
  worker takes within the job's lease is lost, and a worker that gets its task
  later runs nothing.

The job's lock (lock backend, ``max_running`` slots) only keeps runs from
overlapping; exactness never depends on it.
"""

import logging
import time
from contextlib import suppress
from dataclasses import dataclass, replace
from datetime import datetime, timedelta

from django.db import DatabaseError, transaction
from django.db.models import DurationField, ExpressionWrapper, F, Q
from django.utils import timezone

from .. import conf, slots
from ..clock import DbNow, PassClock, db_now_plus
from ..definitions import definition_for
from ..locks import get_lock
from ..locks.base import new_token
from ..models import MISSED, JobRun, JobState
from ..signals import run_finished
from . import alerts, blackouts

logger = logging.getLogger("django_cron")

LOST_ERROR = "The process running this job stopped before it finished: its lease expired."
NOT_TAKEN_ERROR = "No task worker took this run before its lease expired."


class CannotPlan(Exception):
    """The job's schedule failed to say when the job runs next: the job is broken."""


def _states():
    return JobState.objects.using(conf.database())


def _runs():
    return JobRun.objects.using(conf.database())


def one_at_a_time(definition) -> bool:
    """
    Tell whether the job's state row holds its lease: one run at a time. Then
    that lease alone keeps runs from overlapping; a queued run's lease goes to
    the task worker that takes it.
    """
    return definition.max_running == 1


def lease_name(definition) -> str:
    """
    Return the name of the row that holds the job's lease: the job's own row,
    for each of its schedules in the database and its one-off runs too, so
    that the overlap policy and max_running cover every run of the job.
    """
    entry = getattr(definition, "entry", None)
    return entry.job if entry is not None else definition.name


def _holder(definition, run) -> dict:
    """Return the filter that finds the row holding ``run``'s lease, if it still does."""
    if definition is not None and lease_name(definition) != run.job.name:
        return {"name": lease_name(definition), "lease_owner": run.owner}
    return {"pk": run.job_id, "lease_owner": run.owner}


class _Overlap(Exception):
    """The queued job has max_running runs queued or running: roll the claim back."""


class _Moved(Exception):
    """The schedule's row moved on after the job's lease was taken: roll the claim back."""


class JobLock:
    """
    One of the job's ``max_running`` slots in the lock backend, held from
    before the claim until the run has ended (lock-at-most-for its lease, and
    at least MIN_LEASE when it ran). A job that runs one at a time needs none:
    its state row's lease does the same in the claim's own UPDATE, so the lock
    backend is left out and a run costs no lock queries. Nor does a queued job:
    its runs outlive the pass that claims them, so the claim counts them.
    """

    def __init__(self, definition):
        self.definition = definition
        self.needed = not one_at_a_time(definition) and not definition.enqueue
        self.lock = get_lock() if self.needed else None
        self.key = self.token = None
        self._taken_at = None

    def acquire(self) -> bool:
        self._taken_at = time.monotonic()
        if not self.needed:
            self.token = new_token()
            return True
        for index in range(self.definition.max_running):
            key = f"job:{lease_name(self.definition)}" + (f"#{index + 1}" if index else "")
            token = self.lock.acquire(key, self.definition.lease)
            if token is not None:
                self.key, self.token = key, token
                return True
        return False

    def extend(self) -> bool:
        return not self.needed or self.lock.extend(self.key, self.token, self.definition.lease)

    def release(self, ran: bool) -> None:
        """Free the slot; after a run, keep it until MIN_LEASE has passed since the claim."""
        if not self.needed:
            return
        remaining = min_lease_left(self._taken_at)
        if ran and remaining > 0:
            self.lock.extend(self.key, self.token, timedelta(seconds=remaining))
        else:
            self.lock.release(self.key, self.token)


def min_lease_left(claimed_at: float) -> float:
    """Seconds of MIN_LEASE (lock-at-least-for) left after a claim at ``claimed_at``."""
    return conf.get("MIN_LEASE") - (time.monotonic() - claimed_at)


# due → running (or queued) -------------------------------------------------------


def started_by(definition, state, force: bool, forced_by: str = "") -> str:
    """Say what starts a run: "schedule", "retry", "once #12 by alice", "forced by alice"."""
    if force:
        return f"forced by {forced_by}" if forced_by else "forced"
    if state.retry_slot is not None:
        return "retry"
    entry = getattr(definition, "entry", None)
    if entry is not None and entry.kind == entry.Kind.ONCE:
        return f"once #{entry.pk}" + (f" by {entry.author}" if entry.author else "")
    return "schedule"


def claim(
    definition,
    state,
    owner: str,
    force: bool,
    clock: PassClock,
    forced_by: str = "",
    windows: blackouts.Windows | None = None,
) -> JobRun | None:
    """
    Claim the job's due slot, a due retry, or (forced) the present moment, and
    record the run; return it, or None if another claimer won or nothing runs.
    ``forced_by`` names who forced the run, for its history; ``windows`` are
    the pass's blackout windows.
    """
    queued = bool(definition.enqueue)
    lease = _lease_row(definition, state)
    decision, attempt = _slot_to_claim(definition, state, force, clock, lease.busy)
    if not force and decision.slot is not None:
        windows = windows or blackouts.Windows()
        if windows.covering(lease_name(definition), decision.slot, clock.now()):
            decision = replace(decision, slot=None, waited=False, blacked_out=True)
    try:
        # The claim and its run's row commit together: one commit (a disk flush
        # on PostgreSQL) instead of two, and never a claimed slot without its run.
        with transaction.atomic(using=conf.database()):
            if not _claim_row(definition, state, owner, force, decision, lease, clock):
                return None
            if queued and not one_at_a_time(definition):
                if _in_flight(definition) >= definition.max_running:
                    raise _Overlap
            return _runs().create(
                job=state,
                scheduled_for=decision.slot,
                started_at=clock.now(),
                queued_at=clock.now() if queued else None,
                status=JobRun.Status.QUEUED if queued else JobRun.Status.RUNNING,
                owner=owner,
                forced=force,
                started_by=started_by(definition, state, force, forced_by)[:200],
                attempt=attempt,
                # A queued run's lease runs while it waits: a worker must take it in time.
                lease_until=db_now_plus(definition.lease),
            )
    except (_Overlap, _Moved):
        return None


@dataclass(frozen=True)
class _LeaseRow:
    """The row that holds the job's lease, and when the job last ran, as read."""

    pk: int
    busy: slots.Busy | None

    def unchanged(self) -> Q:
        """Match the row only if no run started or ended since it was read."""
        if self.busy is None:
            return Q()
        return Q(busy_from=self.busy.started, busy_until=self.busy.ended)


def _busy(row, state) -> slots.Busy:
    return slots.Busy(row.busy_from, row.busy_until, row.waited_until, row.busy_with == state.pk)


def _lease_row(definition, state) -> _LeaseRow:
    """
    Return the row holding the job's lease: ``state`` itself, or for a schedule
    in the database or a one-off run, its job's row (read here). Only a job
    that runs one at a time keeps when it last ran.
    """
    single = one_at_a_time(definition)
    name = lease_name(definition)
    if name == state.name:
        return _LeaseRow(state.pk, _busy(state, state) if single else None)
    fields = ("pk", "busy_from", "busy_until", "waited_until", "busy_with")
    row = _states().filter(name=name).only(*fields).first()
    if row is None:
        # The job's row is made by the next pass: until then the schedule's own holds it.
        return _LeaseRow(state.pk, _busy(state, state) if single else None)
    return _LeaseRow(row.pk, _busy(row, state) if single else None)


# Why claim_slot() recorded no run.
BUSY = "busy"  # another run of the job holds its lease
HAD_RUN = "had run"  # the slot had a successful run, or has one in flight


class _HadRun(Exception):
    """The backfilled slot ran already: roll the lease taken for it back."""


def claim_slot(definition, state, slot, owner: str, clock: PassClock, backfill):
    """
    Claim ``slot`` for ``backfill``: take the job's lease, then record the
    slot's run unless it had a successful run (since the backfill was asked
    for, if it runs slots again) or has one in flight. Return the run, or why
    not: BUSY or HAD_RUN. Taken under the job's lease, the check and the run
    are one step for any number of backfills: each slot runs once.
    """
    lease = _lease_row(definition, state)
    free = Q(lease_until__isnull=True) | Q(lease_until__lt=DbNow())
    take = {
        "lease_owner": owner,
        "lease_until": db_now_plus(definition.lease),
        "busy_from": clock.now(),
        "busy_with": None,
    }
    ran = Q(status=JobRun.Status.OK)
    if backfill.again:
        ran &= Q(started_at__gte=backfill.created_at)
    ran |= Q(status__in=[JobRun.Status.QUEUED, JobRun.Status.RUNNING], lease_until__gte=DbNow())
    try:
        with transaction.atomic(using=conf.database()):
            if not _states().filter(free, pk=lease.pk).update(**take):
                return BUSY
            if _runs().filter(ran, job=state.pk, scheduled_for=slot).exists():
                raise _HadRun
            return _runs().create(
                job=state,
                scheduled_for=slot,
                started_at=clock.now(),
                status=JobRun.Status.RUNNING,
                owner=owner,
                started_by=(
                    f"backfill #{backfill.pk}"
                    + (f" by {backfill.requested_by}" if backfill.requested_by else "")
                )[:200],
                backfill=backfill,
                lease_until=db_now_plus(definition.lease),
            )
    except _HadRun:
        return HAD_RUN


def _slot_to_claim(definition, state, force: bool, clock: PassClock, busy) -> tuple:
    """Return ``(slots.Decision, attempt)``: what a claim runs, and moves the row to."""
    if force:
        return slots.Decision(clock.now(), None), 1
    try:
        if state.retry_slot is not None:
            following = slots.after_due(definition, state.retry_slot, clock.now())[1]
            return slots.Decision(state.retry_slot, following), state.retry_attempt
        return slots.decide(definition, state.next_run_at, clock.now(), busy), 1
    except Exception as exc:
        raise CannotPlan(f"its schedule cannot say when it runs next ({exc!r})") from exc


def _claim_row(definition, state, owner, force, decision, lease, clock) -> bool:
    """
    Take the job's lease for this run and move the schedule's row on, with
    conditional UPDATEs; return whether a run is to be recorded. One run at a
    time: the lease on the job's row keeps others out, whichever of its
    schedules they run for, and holds when it ran, for the overlap policy. A
    job allowed several counts them: with its lock slots, or for a queued job,
    its runs still queued or running. Each run has its own lease too.
    """
    single = one_at_a_time(definition)
    runs = decision.slot is not None
    free = Q(lease_until__isnull=True) | Q(lease_until__lt=DbNow()) if single else Q()
    take = _taken(definition, state, owner, force, decision, lease, clock) if runs else {}
    if force and (single or definition.enqueue):
        # A queued job's row is written even with nothing to write: the
        # row's lock orders the count of its runs in flight.
        return bool(_states().filter(free, pk=lease.pk).update(**(take or _TOUCH)))
    if force:
        return True  # the lock backend's slot keeps the count
    row = Q(pk=state.pk, enabled=True, next_run_at=state.next_run_at, next_run_at__lte=DbNow())
    if definition.times is not None:
        row &= Q(successes__lt=definition.times)  # finished: no slot comes due any more
    if lease.pk == state.pk:
        claimed = _states().filter(free, lease.unchanged(), row).update(**_moved(decision), **take)
    else:
        # The job's row first, then the schedule's: both, or the claim rolls back.
        if not _states().filter(free, lease.unchanged(), pk=lease.pk).update(**(take or _TOUCH)):
            return False
        claimed = _states().filter(row).update(**_moved(decision))
        if not claimed:
            raise _Moved
    if claimed:
        _say_skipped(definition, decision)
    return bool(claimed) and runs


def _taken(definition, state, owner, force, decision, lease, clock) -> dict:
    """The fields that take a one-at-a-time job's lease, and say when and for what it runs."""
    if not one_at_a_time(definition):
        return {}
    taken = {
        "lease_owner": owner,
        "lease_until": db_now_plus(definition.lease),
        "busy_from": clock.now(),
        "busy_with": None if force else state.pk,
    }
    if decision.waited:
        taken["waited_until"] = lease.busy.ended
    return taken


def _moved(decision) -> dict:
    """The fields that move a schedule's row past the slot claimed, counting what it skipped."""
    moved = {"next_run_at": decision.following, "retry_slot": None, "retry_attempt": 0}
    if decision.slot is None and decision.following is None:
        moved["last_status"] = MISSED  # its last slot, missed or skipped
    if decision.skipped:
        moved["skipped_overlap"] = F("skipped_overlap") + decision.skipped
    if decision.blacked_out:
        moved["skipped_blackout"] = F("skipped_blackout") + 1
    return moved


def _say_skipped(definition, decision) -> None:
    if decision.blacked_out:
        logger.info("Job %s skipped a slot in a blackout window", definition.name)
    elif decision.skipped:
        logger.info(
            "Job %s skipped %d slots due while a run was in flight (overlap=%r)",
            definition.name,
            decision.skipped,
            definition.overlap,
        )
    elif decision.slot is None:
        logger.info("Job %s skipped missed slots up to %s", definition.name, decision.following)


_TOUCH = {"enabled": F("enabled")}


def _in_flight(definition) -> int:
    """
    Count the job's runs queued or running on a live lease, whichever of its
    schedules they run for. Called after the claim's UPDATE, which holds the
    row until the commit: claimers count one after another, each seeing the
    runs of those before it.
    """
    name = lease_name(definition)
    return (
        _runs()
        .filter(
            Q(job__name=name) | Q(job__db_schedule__job=name),
            status__in=[JobRun.Status.QUEUED, JobRun.Status.RUNNING],
            lease_until__gte=DbNow(),
        )
        .count()
    )


def take(definition, run_id: int) -> JobRun | None:
    """
    Move a queued run to running for this task worker, with a lease of its own
    (and the job's lease, which the claim took for it); return the run, or None
    if it is not queued any more: taken already, failed to queue, or lost.
    """
    seen = _runs().filter(pk=run_id, status=JobRun.Status.QUEUED).values("owner").first()
    if seen is None:
        return None
    owner, until = new_token(), db_now_plus(definition.lease)
    with transaction.atomic(using=conf.database()):
        taken = (
            _runs()
            .filter(
                pk=run_id,
                status=JobRun.Status.QUEUED,
                owner=seen["owner"],
                # Past its lease, the run is the sweep's: lost, not late.
                lease_until__gte=DbNow(),
            )
            .update(
                status=JobRun.Status.RUNNING,
                owner=owner,
                lease_until=until,
                started_at=DbNow(),
                queue_wait=ExpressionWrapper(DbNow() - F("queued_at"), DurationField()),
            )
        )
        if not taken:
            return None
        run = _runs().select_related("job").get(pk=run_id)
        holder = _holder(definition, run)
        _states().filter(**{**holder, "lease_owner": seen["owner"]}).update(
            lease_owner=owner, lease_until=until
        )
    return run


def extend(definition, run: JobRun) -> bool:
    """Extend the run's lease (the heartbeat); return whether the run still holds it."""
    until = db_now_plus(definition.lease)
    held = (
        _runs()
        .filter(pk=run.pk, status=JobRun.Status.RUNNING, owner=run.owner)
        .update(lease_until=until)
    )
    _states().filter(**_holder(definition, run)).update(lease_until=until)
    return bool(held)


# running → ok | failed | timeout ------------------------------------------------


def finish(definition, run: JobRun, outcome, clock: PassClock, was=JobRun.Status.RUNNING) -> JobRun:
    """
    Record the outcome of ``run`` and hand the job's lease back, then count
    failures for alerts and schedule a retry. A run already swept as lost
    keeps that status and gets what really happened added to it. A queued run
    whose enqueue() failed ends here too, ``was`` queued.
    """
    outcome.apply_to(run)
    then, holder = _after_run(definition, run), _holder(definition, run)
    try:
        # The run's end first, on its own: should the summary fail, the run
        # keeps its outcome, and the sweep leaves it alone.
        won = (
            _runs()
            .filter(pk=run.pk, status=was, owner=run.owner)
            .update(
                status=run.status,
                finished_at=run.finished_at,
                duration=run.duration,
                error=run.error,
                traceback=run.traceback,
                output=run.output,
                message=run.message,
                lease_until=None,
            )
        )
        # A success held the job's lease: its count for alerts went in the same UPDATE.
        counted = (
            won
            and _summarise(run, run.status, run.duration, run.error, run.message, then, holder)
            and run.status == JobRun.Status.OK
        )
    except BaseException:
        # Recording failed, most likely because the database is down: then
        # this fails too, the lease expires on its own, and the error that
        # counts is the one on its way out.
        with suppress(DatabaseError):
            _release(run, holder)
        raise
    if not won:
        if was == JobRun.Status.QUEUED:
            # Its enqueue() failed after the task got through, and a worker took
            # the run: the outcome is the worker's to record.
            run.refresh_from_db()
            return run
        _finish_late(definition, run)
        return run
    _follow_up(definition, run, clock, counted)
    _announce_finished(definition, run)
    return run


def _after_run(definition, run) -> dict:
    """
    The job's state fields that a schedule measuring from outcomes (Tivix's)
    sets as ``run`` ends, written with the run's summary; usually none.
    """
    hook = getattr(definition.schedule, "after_run", None) if definition is not None else None
    if hook is None:
        return {}
    try:
        return hook(run)
    except Exception:
        logger.exception("The schedule of %s cannot say when it runs next", definition.name)
        return {}


def _announce_finished(definition, run) -> None:
    """Send run_finished; a receiver's error is logged, never raised."""
    if definition is None:
        return  # a job no longer registered
    sent = run_finished.send_robust(sender=definition.target, name=definition.name, run=run)
    for receiver, error in sent:
        if isinstance(error, Exception):
            logger.error("A receiver of run_finished failed: %r: %r", receiver, error)


def _finish_late(definition, run):
    """Add the real outcome to a run that was swept as lost meanwhile."""
    note = f" It finished late, after {run.duration:.1f}s: {run.status}"
    note += f" ({run.error})." if run.error else "."
    _runs().filter(pk=run.pk, status=JobRun.Status.LOST, owner=run.owner).update(
        finished_at=run.finished_at,
        duration=run.duration,
        error=(LOST_ERROR + note)[:2000],
        traceback=run.traceback,
        output=run.output,
        message=run.message,
    )
    logger.warning("Job %s finished after its run was recorded as lost:%s", definition.name, note)
    run.status, run.error = JobRun.Status.LOST, LOST_ERROR + note


def _summarise(run, status, duration, error, message="", then=None, holder=None) -> bool:
    """
    Write the run's outcome as the job's latest, and hand back the job's lease
    if it has it. Return True if it did: then a success's count for alerts is
    written too, in the same UPDATE. ``then`` holds further fields to write
    with it (the next run, for a schedule that measures from outcomes).
    ``holder`` finds the row that holds the lease (_holder()): the run's own,
    unless it ran for a schedule of the job in the database.
    """
    summary = {
        "last_run_at": run.started_at,
        "last_status": status,
        "last_duration": duration,
        "last_error": error,
        "last_message": message,
        "last_queue_wait": run.queue_wait,
        **(then or {}),
    }
    # A run that ended keeps a one-at-a-time job's lease until MIN_LEASE has
    # passed since its claim (lock-at-least-for); a lost one hands it back.
    left = conf.get("MIN_LEASE") - duration if duration is not None else 0
    until = db_now_plus(timedelta(seconds=left)) if left > 0 else None
    # When the run ended, by the clock it started by: a slot due before then
    # waited for it, and the overlap policy decides what becomes of it.
    ended = run.finished_at or timezone.now()
    held = {"lease_owner": "", "lease_until": until, "busy_until": ended}
    holder = holder or {"pk": run.job_id, "lease_owner": run.owner}
    if "pk" not in holder:
        # The lease is on the job's row: hand it back there, and write the
        # outcome on the schedule's row, as the latest of its runs.
        _states().filter(**holder).update(**held)
        _summarise_newest(run, summary, then)
        return False
    # Holding the job's lease, this run is the job's latest: one UPDATE does it all.
    if status == JobRun.Status.OK:
        summary["successes"] = F("successes") + 1
        # Most successes follow successes: failures in a row go back to 0 and no
        # alert is due, as long as none was sent (the pass read so, the UPDATE
        # checks). Otherwise the longer form decides the recovery alert.
        if not run.job.alerted and _states().filter(alerted=False, **holder).update(
            **held, **summary, consecutive_failures=0
        ):
            return True
        summary.update(alerts.success())
    if _states().filter(**holder).update(**held, **summary):
        return True
    _summarise_newest(run, summary, then)
    return False


def _summarise_newest(run, summary, then) -> None:
    """Write the outcome on the run's row unless a run that started later wrote its own."""
    # Runs that overlap (max_running) end in any order: the latest started wins.
    newest = Q(last_run_at__isnull=True) | Q(last_run_at__lte=run.started_at)
    _states().filter(newest, pk=run.job_id).update(
        **{key: value for key, value in summary.items() if key.startswith("last_")},
        **(then or {}),
    )
    if run.status == JobRun.Status.OK:
        # Counted whichever run ended last.
        _states().filter(pk=run.job_id).update(successes=F("successes") + 1)


def _release(run, holder) -> None:
    """Hand back the job's lease if ``run`` still holds it."""
    _states().filter(**holder).update(lease_owner="", lease_until=None)


def _follow_up(definition, run, clock, counted=False) -> None:
    """Count the outcome for alerts (unless ``counted`` already), and retry a failed slot."""
    if definition is None:
        return  # a job no longer registered: nothing to alert on or retry
    # A mail that fails stays in alerts; what can fail here is the database,
    # which ends the pass like any outage, with the run already recorded.
    if not counted:
        alerts.count_and_send(definition, run.job_id, run.status, run.error)
    elif run.job.alerted:
        # The job had failed enough to alert: this success decided the recovery mail.
        alerts.send(definition.name, run.job_id)
    if run.status != JobRun.Status.OK:
        _schedule_retry(definition, run, clock)
    elif definition.times is not None:
        # Its last successful run: no slot comes due any more (the claim checks it too).
        finished = _states().filter(pk=run.job_id, successes__gte=definition.times)
        finished.update(next_run_at=None, retry_slot=None, retry_attempt=0)


def _schedule_retry(definition, run, clock) -> None:
    """After a failed attempt with retries left, bring the job back sooner, on the same slot."""
    if run.forced or run.backfill_id is not None or run.attempt > definition.retries:
        return  # a backfill's run is its one go at the slot: a backfill again retries it
    delay = definition.retry_delay * definition.retry_backoff ** (run.attempt - 1)
    retry_at = clock.now() + timedelta(seconds=delay)
    # Only before the next regular slot: from there, that slot is the next try.
    # A schedule with no slot left (a one-off run) retries too.
    later = Q(next_run_at__gt=retry_at) | Q(next_run_at__isnull=True)
    _states().filter(later, pk=run.job_id).update(
        next_run_at=retry_at, retry_slot=run.scheduled_for, retry_attempt=run.attempt + 1
    )


# running → lost -------------------------------------------------------------------


def expired():
    """Return the queued and running runs whose lease expired, by the database's clock."""
    return _runs().filter(
        status__in=[JobRun.Status.QUEUED, JobRun.Status.RUNNING], lease_until__lt=DbNow()
    )


def sweep(now: datetime | None = None) -> int:
    """Record as lost every queued or running run whose lease expired; return how many."""
    now = now or timezone.now()
    lost = 0
    for run in expired().select_related("job"):
        error = NOT_TAKEN_ERROR if run.status == JobRun.Status.QUEUED else LOST_ERROR
        # Conditional on all the sweep saw: a heartbeat that extended the lease
        # meanwhile, a worker that took the run, or another sweeper that got
        # there first, wins.
        swept = (
            _runs()
            .filter(pk=run.pk, status=run.status, owner=run.owner, lease_until__lt=DbNow())
            .update(status=JobRun.Status.LOST, finished_at=now, error=error, lease_until=None)
        )
        if not swept:
            continue
        run.status, run.finished_at, run.error = JobRun.Status.LOST, now, error
        definition = definition_for(run.job)
        _summarise(run, JobRun.Status.LOST, None, error, holder=_holder(definition, run))
        logger.warning("Job %s was lost: %s", run.job.name, error)
        _follow_up(definition, run, PassClock(now))
        lost += 1
    return lost
