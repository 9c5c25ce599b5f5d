"""Whether a job is healthy: what ``cron status`` (and monitors) report."""

from datetime import datetime, timedelta

from . import conf
from .models import JobRun

OK = "ok"
OVERDUE = "overdue"
FAILING = "failing"
PAUSED = "paused"
NEW = "new"

BAD_STATUSES = (JobRun.Status.FAILED, JobRun.Status.LOST)


def health(definition, state, now: datetime) -> str:
    """
    Return the health of one job.

    "failing" if its last run failed or was lost, "overdue" if it is due
    longer ago than DJANGO_CRON["GRACE"] seconds, "paused" if disabled, "new"
    if the runner has not seen it yet, else "ok".
    """
    if not definition.enabled or (state is not None and not state.enabled):
        return PAUSED
    if state is None:
        return NEW
    if state.last_status in BAD_STATUSES:
        return FAILING
    grace = timedelta(seconds=conf.get("GRACE"))
    if state.next_run_at is not None and state.next_run_at + grace < now:
        return OVERDUE
    return OK


def is_healthy(status: str) -> bool:
    return status not in (OVERDUE, FAILING)
