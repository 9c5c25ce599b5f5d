"""
The Python API of the schedules kept in the database, and of one-off runs.

A ``JobSchedule`` names a registered job or command and says when it runs:
instead of the schedule in code (a replacement), as well as it, with its own
arguments, or once. Saving one plans the next run on its JobState row in the
same transaction, by the database's clock (``planning``). A runner builds the
job from the entry when the row comes due, so a change needs no restart, and
claims the slot with the same conditional UPDATE as any job's: a slot runs
once, and a one-off row has one slot.

Only registered jobs and commands can be scheduled, never an import path.
"""

from datetime import datetime, timedelta

from django.core.exceptions import ValidationError
from django.db import transaction
from django.utils import timezone

from .. import conf
from ..clock import aware, stored
from ..inputs import within_reach
from ..models import JobSchedule, JobState
from ..registry import registry
from .rules import check_pending

Kind = JobSchedule.Kind


def _entries():
    return JobSchedule.objects.using(conf.database())


def _states():
    return JobState.objects.using(conf.database())


def _save(entry: JobSchedule) -> JobSchedule:
    # validate() checks the one-replacement rule on DJANGO_CRON["DATABASE"];
    # full_clean()'s own uniqueness check would ask the default database.
    entry.full_clean(validate_unique=False, validate_constraints=False)
    entry.save(using=conf.database())  # which plans its row too
    return entry


def schedule_once(
    name: str,
    at: datetime | None = None,
    delay: float | timedelta | None = None,
    args=(),
    kwargs=None,
    *,
    author: str = "",
) -> JobSchedule:
    """
    Schedule one run of the registered job ``name``, at ``at`` or after
    ``delay`` (seconds or a timedelta), now if neither; return the entry.
    Raise ValidationError if the job is unknown, the date is more than
    MAX_DAYS away, or the arguments are not JSON-serialisable or not what the
    job takes. ``author`` says who asked for it (the admin and the API set it).
    """
    if at is not None and delay is not None:
        raise ValueError("give at or delay, not both")
    if name in registry:
        # Before the entry is validated, which would fold this into a plain ValidationError.
        check_pending(name)
    if at is None:
        seconds = delay.total_seconds() if isinstance(delay, timedelta) else float(delay or 0)
        if not abs(seconds) <= conf.MAX_SECONDS:  # NaN too
            raise ValidationError({"delay": f"Give a delay of at most {conf.MAX_DAYS} days."})
        at = aware(timezone.now()) + timedelta(seconds=seconds)
    elif not within_reach(at):
        # Checked before any conversion: year 1 at +05:00 has no UTC date.
        raise ValidationError(
            {"at": f"Give a date within {conf.MAX_DAYS // 365} years of now, not {at.isoformat()}."}
        )
    elif timezone.is_naive(at):
        at = timezone.make_aware(at, timezone.get_current_timezone())
    entry = JobSchedule(
        job=name,
        kind=Kind.ONCE,
        at=stored(aware(at)),
        args=list(args),
        kwargs=kwargs or {},
        author=author,
    )
    if not isinstance(args, (list, tuple)):
        entry.args = args  # validate() says what is wrong with it
    return _save(entry)


def cancel(entry) -> bool:
    """
    Keep a one-off run (an entry or its id) from running; return True if it
    was still to run. One conditional UPDATE on its row, as a claim is: a run
    already claimed goes on, and the call returns False.
    """
    pk = entry.pk if isinstance(entry, JobSchedule) else int(entry)
    if not _entries().filter(pk=pk, kind=Kind.ONCE).exists():
        raise JobSchedule.DoesNotExist(f"No one-off run has the id {pk}.")
    with transaction.atomic(using=conf.database()):
        cancelled = (
            _states()
            .filter(db_schedule=pk, next_run_at__isnull=False)
            .update(next_run_at=None, enabled=False)
        )
        if cancelled:
            _entries().filter(pk=pk).update(cancelled_at=timezone.now())
    if isinstance(entry, JobSchedule):
        entry.refresh_from_db()
    return bool(cancelled)


def replace_schedule(
    name: str,
    cron: str = "",
    every=None,
    timezone: str = "",
    enabled: bool = True,
    start_date=None,
    end_date=None,
    times: int | None = None,
) -> JobSchedule:
    """
    Replace the schedule in code of job ``name`` (or only its time zone or
    enabled flag); ``restore_schedule(name)`` goes back to the code's.
    ``times`` ends the job after that many successful runs.
    """
    entry = _entries().filter(kind=Kind.REPLACE, job=name).first() or JobSchedule(
        job=name, kind=Kind.REPLACE
    )
    entry.cron, entry.every, entry.timezone, entry.enabled = cron, _every(every), timezone, enabled
    entry.start_date, entry.end_date, entry.times = start_date, end_date, times
    return _save(entry)


def restore_schedule(name: str) -> bool:
    """Go back to the code's schedule of job ``name``; return True if it had a replacement."""
    return bool(_entries().filter(kind=Kind.REPLACE, job=name).delete()[0])


def add_schedule(
    name: str,
    cron: str = "",
    every=None,
    timezone: str = "",
    args=(),
    kwargs=None,
    start_date=None,
    end_date=None,
    enabled: bool = True,
    description: str = "",
    times: int | None = None,
) -> JobSchedule:
    """
    Add a schedule of the registered job or command ``name``, with its own
    arguments; ``times`` ends it after that many successful runs.
    """
    entry = JobSchedule(
        job=name,
        kind=Kind.EXTRA,
        cron=cron,
        every=_every(every),
        timezone=timezone,
        args=list(args) if isinstance(args, (list, tuple)) else args,
        kwargs=kwargs or {},
        start_date=start_date,
        end_date=end_date,
        enabled=enabled,
        description=description,
        times=times,
    )
    return _save(entry)


def _every(value) -> str:
    """An interval as stored: "300" for 300 seconds or a timedelta, "5m" as given."""
    if value is None:
        return ""
    if isinstance(value, timedelta):
        value = value.total_seconds()
    return f"{value:g}" if isinstance(value, (int, float)) else str(value)
