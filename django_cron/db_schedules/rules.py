"""
What a schedule kept in the database must be to run: a registered job, a
cron expression or an interval that comes due no more often than
MIN_INTERVAL, a known time zone, dates within reach, JSON arguments that the
job takes, and no more one-off runs waiting than MAX_PENDING_ONE_OFFS.

``JobSchedule.clean()`` asks here (through ``checking_schedule``), so the
admin's form, the Python API and the operator API refuse the same things.
"""

import difflib
import json
from datetime import datetime

from django.core.exceptions import ValidationError
from django.utils import timezone

from .. import conf
from ..arguments import check_binds
from ..clock import aware
from ..definitions import entry_arguments, entry_schedule, row_name
from ..inputs import within_reach
from ..jobs import NAME_LIMIT
from ..models import JobSchedule, JobState, checking_schedule
from ..registry import registry
from ..schedules import Cron, Interval, both_or_neither, zone

Kind = JobSchedule.Kind


def _entries():
    return JobSchedule.objects.using(conf.database())


def _states():
    return JobState.objects.using(conf.database())


def _json(value, what: str):
    try:
        json.dumps(value, allow_nan=False)
    except (TypeError, ValueError) as exc:
        raise ValidationError(f"The {what} must be JSON-serialisable: {exc}.") from exc


class TooManyPending(ValidationError):
    """A job has as many one-off runs waiting as MAX_PENDING_ONE_OFFS allows."""


def pending_one_offs(job: str):
    """Return the one-off runs of ``job`` still to run."""
    return _entries().filter(
        kind=Kind.ONCE, job=job, cancelled_at__isnull=True, state__next_run_at__isnull=False
    )


def check_pending(job: str) -> None:
    limit = conf.get("MAX_PENDING_ONE_OFFS")
    if limit is not None and pending_one_offs(job).count() >= limit:
        raise TooManyPending(
            {
                "job": f"{job} has {limit} one-off runs waiting, as many as "
                "DJANGO_CRON['MAX_PENDING_ONE_OFFS'] allows: cancel some, or wait for them to run."
            }
        )


def shortest_gap(schedule, least: float = 0) -> float | None:
    """
    Return the shortest time in seconds between two slots of an interval or
    cron schedule, if it may be under ``least``; None where it cannot be (five
    cron fields, ``least`` a minute or less) or is not known (a schedule
    object of the site's own).
    """
    if isinstance(schedule, Interval):
        return schedule.every.total_seconds()
    if not isinstance(schedule, Cron):
        return None
    if len(schedule.expression.split()) != 6 and least <= 60:
        return None  # whole minutes
    # The shortest gap shows within the first 61 slots: a minute of a seconds
    # field holds at most 60, and so does an hour of a minutes field.
    slot, gaps = schedule.next_after(aware(timezone.now())), []
    for _ in range(61):
        following = schedule.next_after(slot) if slot is not None else None
        if following is None:
            break
        gaps.append((following - slot).total_seconds())
        slot = following
    return min(gaps, default=None)


def _check_rate(schedule) -> str | None:
    """Say why a schedule in the database runs too often for MIN_INTERVAL; None if it does not."""
    least = conf.get("MIN_INTERVAL")
    gap = shortest_gap(schedule, least)
    if gap is None or gap >= least:
        return None
    return (
        f"It runs every {gap:g}s at times; a schedule in the database runs at most once "
        f"every {least:g}s (DJANGO_CRON['MIN_INTERVAL'])."
    )


def validate(entry: JobSchedule) -> None:
    """
    Raise ValidationError, by field, if ``entry`` cannot run: an unknown job,
    a bad cron expression, interval, time zone or date, arguments that are
    not JSON or that the job does not take. ``JobSchedule.clean()`` calls it.
    """
    if entry.job not in registry:
        close = difflib.get_close_matches(entry.job, [d.name for d in registry.all()], n=1)
        hint = f" Did you mean {close[0]!r}?" if close else " See manage.py cron list."
        raise ValidationError(
            {"job": f"No job or command named {entry.job!r} is registered.{hint}"}
        )
    base = registry.get(entry.job)
    saved = _entries().filter(pk=entry.pk).values("job", "kind", "at").first() if entry.pk else None
    if saved is not None and (saved["job"], saved["kind"]) != (entry.job, entry.kind):
        # Its row, history and name go with the job and kind it was made for.
        raise ValidationError(
            {"kind": "The job and the kind of a saved schedule cannot change: add another."}
        )
    errors = _check_kind(entry, saved)
    errors.update(_check_dates_and_zone(entry))
    if entry.kind != Kind.ONCE and not errors:
        errors.update(_check_schedule(entry, base))
    errors.update(_check_arguments(entry, base))
    if entry.times is not None and entry.times < 1:
        errors["times"] = "Give the number of successful runs after which it stops: 1 or more."
    # Room for an id of up to 12 digits: the entry has none before it is saved.
    if entry.kind != Kind.REPLACE and len(row_name(entry)) + 12 > NAME_LIMIT:
        errors["job"] = f"The job's name is too long for a schedule of its own ({NAME_LIMIT})."
    if errors:
        raise ValidationError(errors)


def _check_kind(entry, saved) -> dict:
    """Check what each kind needs: a one-off run a date, the others a schedule."""
    errors = {}
    if entry.kind == Kind.ONCE:
        if entry.pk is None:
            check_pending(entry.job)
        # No date is now (JobSchedule.save()); a new date for a run that is over is refused.
        if entry.at is not None and saved is not None and saved["at"] != entry.at and _done(entry):
            errors["at"] = "It ran or was cancelled already: schedule another one-off run."
        for field in ("cron", "every", "start_date", "end_date"):
            if getattr(entry, field):
                errors[field] = "A one-off run has a date to run at, not a schedule."
        return errors
    which = both_or_neither(entry.cron, entry.every)
    if which == "both":
        errors["every"] = "Give a cron expression or an interval, not both."
    elif which == "neither" and entry.kind == Kind.EXTRA:
        errors["cron"] = "Give a cron expression or an interval."
    elif entry.kind == Kind.REPLACE:
        others = _entries().filter(kind=Kind.REPLACE, job=entry.job).exclude(pk=entry.pk)
        if others.exists():
            errors["job"] = f"{entry.job} has a replaced schedule already: edit that one."
    return errors


def _check_dates_and_zone(entry) -> dict:
    errors = {}
    for field in ("at", "start_date", "end_date"):
        value = getattr(entry, field)
        if isinstance(value, datetime) and not within_reach(value):
            errors[field] = (
                f"Give a date within {conf.MAX_DAYS // 365} years of now, not {value.isoformat()}."
            )
    if entry.timezone:
        try:
            zone(entry.timezone)
        except ValueError:
            errors["timezone"] = f"{entry.timezone!r} is not a known time zone."
    return errors


def _check_schedule(entry, base) -> dict:
    """Check the schedule, alone first, then with its dates: the error goes to its field."""
    zone = entry.timezone or base.timezone
    for field, dated in (("cron" if entry.cron else "every", False), ("end_date", True)):
        try:
            schedule = entry_schedule(entry, base, zone, dated)
            schedule.validate()
        except ValueError as exc:
            return {field: f"{str(exc)[:1].upper()}{str(exc)[1:]}."}
        # Only what the entry sets: a replacement that keeps the code's
        # schedule keeps the code's rate too.
        if not dated and (entry.cron or entry.every):
            too_often = _check_rate(schedule)
            if too_often:
                return {field: too_often}
    return {}


def shape_errors(args, kwargs) -> dict:
    """Return what is wrong, by field, with the shape of a run's arguments: a list and a dict."""
    errors = {}
    if not isinstance(args, (list, tuple)):
        errors["args"] = "The arguments must be a JSON list."
    if not isinstance(kwargs, dict):
        errors["kwargs"] = "The keyword arguments must be a JSON object."
    return errors


def _check_arguments(entry, base) -> dict:
    errors = shape_errors(entry.args, entry.kwargs)
    if errors:
        return dict(list(errors.items())[:1])  # the first: the other may follow from it
    for field, what in (("args", "arguments"), ("kwargs", "keyword arguments")):
        try:
            _json(getattr(entry, field), what)
        except ValidationError as exc:
            errors[field] = exc.messages[0]
    if not errors:
        try:
            check_binds(base, *entry_arguments(entry, base))
        except ValidationError as exc:
            errors["args"] = exc.messages[0]
    return errors


def _done(entry) -> bool:
    """Tell whether a one-off run has no run left: it was claimed or cancelled."""
    state = _states().filter(db_schedule=entry.pk).values("next_run_at", "schedule_key").first()
    return state is not None and state["next_run_at"] is None


def _on_clean(sender, entry, **kwargs) -> None:
    validate(entry)


checking_schedule.connect(_on_clean, sender=JobSchedule, dispatch_uid="django_cron_schedule_rules")
