"""
One-off runs as the commands, the status endpoint and the operator API show them.
"""

from django.db.models import Case, F, Q, Value, When

from .. import conf
from ..clock import with_offset
from ..definitions import row_name
from ..models import JobSchedule, JobState

Kind = JobSchedule.Kind


def _entries():
    return JobSchedule.objects.using(conf.database())


# Finished one-off runs shown after the pending ones; all are in the run history.
RECENT_ONE_OFFS = 50


def one_off_state(entry: JobSchedule, state: JobState | None) -> str:
    """
    Return where a one-off run is: "pending", "running", "cancelled",
    "missed" (skipped after its time), or its run's outcome.
    """
    if entry.cancelled_at is not None:
        return "cancelled"
    if state is None:
        return "pending"
    if state.next_run_at is not None:
        return "retrying" if state.retry_attempt else "pending"
    if state.lease_owner:
        return "running"
    return state.last_status or "running"


def one_off(entry: JobSchedule, arguments: bool = True) -> dict:
    """
    Return a one-off run as the status endpoint and the operator API show it;
    its arguments only if ``arguments`` (they may hold secrets).
    """
    state = getattr(entry, "state", None)
    shown = {
        "id": entry.pk,
        "job": entry.job,
        "name": row_name(entry),
        "at": with_offset(entry.at).isoformat(),
        "state": one_off_state(entry, state),
        "author": entry.author,
        "last_error": state.last_error if state is not None else "",
    }
    if arguments:
        shown.update(args=entry.args, kwargs=entry.kwargs)
    return shown


_WAITING = Q(state__next_run_at__isnull=False, cancelled_at__isnull=True)


def listed_one_offs():
    """Return the one-off runs, those still to run first (soonest first), then the latest others."""
    waiting = Case(When(_WAITING, then=Value(0)), default=Value(1))
    soonest = Case(When(_WAITING, then=F("at")), default=None)
    return (
        _entries()
        .filter(kind=Kind.ONCE)
        .select_related("state")
        .order_by(waiting, soonest.asc(nulls_last=True), F("at").desc(), F("pk").desc())
    )


def one_offs(limit: int = RECENT_ONE_OFFS, arguments: bool = True, waiting: int | None = None):
    """
    Return the one-off runs still to run (at most ``waiting`` of them, if
    given), then the ``limit`` latest others, as dicts.
    """
    entries = listed_one_offs()
    pending = entries.filter(_WAITING)
    found = list(pending if waiting is None else pending[:waiting])
    found += list(entries.exclude(_WAITING)[:limit])
    return [one_off(entry, arguments) for entry in found]
