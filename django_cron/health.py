"""Whether each job is healthy: what ``cron status``, ``cron list`` and monitors report."""

from dataclasses import dataclass
from datetime import datetime, timedelta

from django.db.models import Count, Q
from django.utils import timezone
from django.utils.translation import gettext_lazy as _

from . import conf, slots
from .clock import aware, stored
from .definitions import definition_for
from .models import JobRun, JobSchedule, JobState
from .registry import registry
from .runtime import blackouts, states
from .runtime.runs import lease_name

# The health of a job: the one vocabulary of ``cron status``, ``cron list``,
# the status endpoint and the admin.
OK = "ok"
OVERDUE = "overdue"
FAILING = "failing"
PAUSED = "paused"
NEW = "new"
BROKEN = "broken"
# Ran its ``times`` successful runs: nothing more comes due.
FINISHED = "finished"
HEALTHS = (OK, OVERDUE, FAILING, PAUSED, NEW, BROKEN, FINISHED)
# What the admin shows for a row whose job is not registered here.
NOT_REGISTERED = "not registered"

BAD_STATUSES = (JobRun.Status.FAILED, JobRun.Status.TIMED_OUT, JobRun.Status.LOST)


def health(definition, state, now: datetime) -> str:
    """
    Return the health of one job.

    "broken" if it cannot run at all (``definition.problem``, which manage.py
    check reports too), "paused" if disabled, "new" if the runner has not seen
    it yet, "finished" after its ``times`` successful runs, "failing" if its
    last run failed or was lost, "overdue" if it is due longer ago than
    DJANGO_CRON["GRACE"] seconds, else "ok".
    """
    if not definition.enabled:
        return PAUSED
    if definition.problem is not None:
        return BROKEN
    if state is not None and not state.enabled:
        return PAUSED
    if state is None:
        return NEW
    if definition.times is not None and state.successes >= definition.times:
        return FINISHED
    if state.last_status in BAD_STATUSES:
        return FAILING
    grace = timedelta(seconds=conf.get("GRACE"))
    # now - grace, not next_run_at + grace: a stored date near year 9999 must not overflow.
    if state.next_run_at is not None and state.next_run_at < now - grace:
        return OVERDUE
    return OK


def is_healthy(status: str) -> bool:
    return status not in (OVERDUE, FAILING, BROKEN)


@dataclass
class JobOverview:
    """A registered job, what the runner saved of it, and its health."""

    definition: object
    state: JobState | None
    health: str

    @property
    def name(self) -> str:
        return self.definition.name

    @property
    def enabled(self) -> bool:
        return self.health != PAUSED

    @property
    def schedule_text(self) -> str:
        """The schedule in words (``definition.schedule`` is the Schedule itself)."""
        try:
            return self.definition.schedule.describe()
        except ValueError as exc:
            return f"invalid: {exc}"

    @property
    def schedule(self) -> str:
        """The schedule in words: the name before ``schedule_text``, kept for code that reads it."""
        return self.schedule_text

    @property
    def timezone(self) -> str | None:
        """The time zone the schedule is read in; None where it makes no difference."""
        try:
            zoned = self.definition.schedule.zoned
        except ValueError:
            zoned = True
        return self.definition.timezone if zoned else None

    @property
    def next_run(self) -> datetime | None:
        """
        When the job runs next: the stored time, or for a job the runner has
        not seen yet, the first slot it will plan. None if it never runs.
        """
        if self.state is not None:
            return self.state.next_run_at
        return slots.preview(self.definition, timezone.now())

    def upcoming(self, count: int, after: datetime | None = None, windows=None) -> list:
        """
        Return the next ``count`` slots the job will run, aware: none while it
        is paused, broken or finished; at most the runs its ``times`` leaves;
        none in a blackout window for it (``windows``, read if not given).
        """
        if self.health in (PAUSED, BROKEN, FINISHED):
            return []
        state, definition = self.state, self.definition
        if definition.times is not None and state is not None:
            count = min(count, definition.times - state.successes)
        moment = aware(after or timezone.now())
        if windows is None:
            windows = blackouts.ahead(self.lease, moment)

        def blacked_out(slot):
            return any(window.covers(self.lease, stored(slot)) for window in windows)

        following = state.next_run_at if state is not None else None
        try:
            return slots.upcoming(definition.schedule, moment, count, following, blacked_out)
        except ValueError:
            return []

    @property
    def lease(self) -> str:
        """The job's own name, for a further schedule of it too: what windows match."""
        return lease_name(self.definition)


def overview(now: datetime | None = None) -> list:
    """
    Return a JobOverview for every registered job, and for every further
    schedule kept in the database (a job of its own), sorted by name.
    """
    now = now or timezone.now()
    definitions = registry.all()
    # Only the registered jobs' rows: rows of removed jobs may be many.
    table = JobState.objects.using(conf.database())
    rows = table.filter(name__in=[d.name for d in definitions])
    states = {state.name: state for state in rows}
    found = [(definition, states.get(definition.name)) for definition in definitions]
    found += [(None, state) for state in table.filter(db_schedule__kind=JobSchedule.Kind.EXTRA)]
    result = []
    for definition, state in found:
        if state is not None and state.db_schedule_id is not None:
            # Its schedule in the database: a replacement's, or a further one's.
            definition = definition_for(state) or definition
        if definition is not None:  # None: a further schedule of a job no longer registered
            result.append(JobOverview(definition, state, health(definition, state, now)))
    return sorted(result, key=lambda job: job.name)


def counts(now: datetime | None = None) -> dict:
    """
    Return how many registered jobs are in each health, as overview() would
    tell them, counted by the database in one query: what the ping and status
    endpoints answer, at the same cost for 10 jobs as for 10,000.
    """
    now = now or timezone.now()
    set_aside = registry.set_aside()
    broken = [name for name, health in set_aside.items() if health == BROKEN]
    off = [name for name, health in set_aside.items() if health == PAUSED]
    # Rows of jobs no longer registered here, and of broken ones, are left out.
    strangers = states.survey(now).strangers
    rows = JobState.objects.using(conf.database()).exclude(name__in=[*strangers, *broken])
    # One-off runs are not jobs: their runs are in the history, and in the status details.
    rows = rows.exclude(db_schedule__kind=JobSchedule.Kind.ONCE)
    # Paused from the admin; off in a schedule kept in the database; or off in
    # code, unless a replacement in the database turns the job on.
    # (The clauses on jobs off in code only when there are some: building a
    # query costs Django more than running it, and an empty IN costs most.)
    paused = Q(enabled=False) | Q(db_schedule__enabled=False)
    if off:
        paused |= Q(name__in=off) & ~Q(db_schedule__enabled=True)
    bad = Q(last_status__in=BAD_STATUSES)
    failing = ~paused & bad
    overdue = ~paused & ~bad & Q(next_run_at__lt=now - timedelta(seconds=conf.get("GRACE")))
    found = rows.aggregate(
        rows=Count("pk"),
        # Further schedules kept in the database: jobs that are not in the registry.
        extras=Count("pk", filter=Q(db_schedule__kind=JobSchedule.Kind.EXTRA)),
        **({"off_rows": Count("pk", filter=Q(name__in=off))} if off else {}),
        paused=Count("pk", filter=paused),
        failing=Count("pk", filter=failing),
        overdue=Count("pk", filter=overdue),
    )
    result = dict.fromkeys((OK, OVERDUE, FAILING, BROKEN, PAUSED, NEW), 0)
    result[BROKEN] = len(broken)
    # Jobs off in code that the runner has not seen yet are paused too.
    off_rows = found.get("off_rows", 0)
    result[PAUSED] = found["paused"] + len(off) - off_rows
    result[FAILING] = found["failing"]
    result[OVERDUE] = found["overdue"]
    result[OK] = found["rows"] - found["paused"] - found["failing"] - found["overdue"]
    code_rows = found["rows"] - found["extras"] - off_rows
    result[NEW] = len(registry) - len(set_aside) - code_rows
    return result


# The admin's names for them, and its look-ups by row -----------------------------

HEALTH_CHOICES = [
    (OK, _("ok")),
    (OVERDUE, _("overdue")),
    (FAILING, _("failing")),
    (PAUSED, _("paused")),
    (BROKEN, _("broken")),
    (FINISHED, _("finished")),
    (NOT_REGISTERED, _("not registered")),
]


def job_overview(state: JobState, now=None) -> JobOverview | None:
    """Return the JobOverview of a state row, or None if no job of its name is registered."""
    definition = definition_for(state)
    if definition is None:
        return None
    return JobOverview(definition, state, health(definition, state, now or timezone.now()))


def job_health(state: JobState, now=None) -> str:
    overview = job_overview(state, now)
    return NOT_REGISTERED if overview is None else overview.health


def skipped_text(state: JobState | None) -> str:
    """
    Say which slots the job skipped, and why: "10 slots while paused, 3
    slots while a run was in flight"; "" if none.
    """
    if state is None:
        return ""
    parts = []
    for count, why in (
        (state.skipped_paused, "while paused"),
        (state.skipped_overlap, "while a run was in flight"),
        (state.skipped_blackout, "in blackout windows"),
    ):
        if count:
            parts.append(f"{count} {'slot' if count == 1 else 'slots'} {why}")
    return ", ".join(parts)
