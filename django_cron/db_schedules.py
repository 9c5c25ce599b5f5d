"""
Schedules kept in the database, and one-off runs.

A ``JobSchedule`` names a registered job or command and says when it runs:
instead of the schedule in code (a replacement), as well as it, with its own
arguments, or once. Saving one plans the next run on its JobState row in the
same transaction, by the database's clock. A runner builds the job from the
entry when the row comes due, so a change needs no restart, and claims the
slot with the same conditional UPDATE as any job's: a slot runs once, and a
one-off row has one slot.

Only registered jobs and commands can be scheduled, never an import path.
"""

import copy
import difflib
import json
import logging
from datetime import datetime, timedelta
from zoneinfo import ZoneInfo, ZoneInfoNotFoundError

from django.core.exceptions import ValidationError
from django.db import transaction
from django.db.models import Case, F, Q, Value, When
from django.db.models.signals import pre_delete
from django.utils import timezone

from . import conf
from .arguments import check_binds
from .clock import DbNow, aware, planned, stored, with_offset
from .inputs import within_reach
from .models import JobSchedule, JobState
from .registry import cronScheduler
from .schedules import Cron, Interval, Once, build_schedule

Kind = JobSchedule.Kind
logger = logging.getLogger("django_cron")
NAME_LIMIT = JobState._meta.get_field("name").max_length


def _entries():
    return JobSchedule.objects.using(conf.database())


def _states():
    return JobState.objects.using(conf.database())


def row_name(entry: JobSchedule) -> str:
    """Return the name of the state row that carries ``entry``'s runs."""
    if entry.kind == Kind.REPLACE:
        return entry.job
    label = "once" if entry.kind == Kind.ONCE else "schedule"
    return f"{entry.job} ({label} {entry.pk})"


# The job as an entry runs it -------------------------------------------------------


def _base(entry):
    if entry.job not in cronScheduler:
        raise ValueError(f"no job or command named {entry.job!r} is registered")
    return cronScheduler.get(entry.job)


def _schedule(entry, base, zone: str, dated: bool = True):
    """Return the entry's Schedule (without its dates unless ``dated``); ValueError if none."""
    bounds = {"start": aware(entry.start_date), "end": aware(entry.end_date)} if dated else {}
    if entry.kind == Kind.ONCE:
        return Once(aware(entry.at))
    if entry.cron or entry.every or entry.kind == Kind.EXTRA:
        return build_schedule(cron=entry.cron, every=entry.every or None, timezone=zone, **bounds)
    # A replacement that keeps the code's schedule, in another zone or dates.
    expression, every = base.schedule_spec()
    if isinstance(expression, str) or every is not None:
        return build_schedule(cron=expression or "", every=every, timezone=zone, **bounds)
    return base.schedule  # a Schedule object in code (Tivix's): kept as it is


def _arguments(entry, base) -> tuple:
    """
    The call's arguments: the entry's, if it gives any, replace those given to
    register(), both positional and keyword; a command keeps its name first.
    A command given options alone (kwargs) keeps its registered call, each
    option given replacing the registered one: what an operator sets
    (operator_options) adds to what the site registered, never widens it.
    """
    if not (entry.args or entry.kwargs):
        return base.args, base.kwargs
    if base.command is not None:
        if not entry.args:
            return base.args, {**base.kwargs, **entry.kwargs}
        return (base.args[0], *entry.args), dict(entry.kwargs or {})
    return tuple(entry.args or ()), dict(entry.kwargs or {})


def definition_of(entry: JobSchedule):
    """Return the job definition ``entry`` runs; raise ValueError if it cannot run."""
    base = _base(entry)
    zone = entry.timezone or base.timezone
    derived = copy.copy(base)
    # Computed from the options on first use: computed again for the copy.
    for cached in ("schedule", "problem"):
        derived.__dict__.pop(cached, None)
    derived.name = row_name(entry)
    derived.args, derived.kwargs = _arguments(entry, base)
    derived.options = {
        **base.options,
        "schedule": _schedule(entry, base, zone),
        "timezone": zone,
        "enabled": entry.enabled and entry.cancelled_at is None,
    }
    derived.options.pop("every", None)
    derived.entry = entry
    return derived


# Built once per version of an entry: the runner logs a broken job once, by identity.
_built = {}


def definition_for(state: JobState):
    """
    Return the definition a state row runs by: its entry's, if it has one,
    else the registered job of its name; None if there is none to run.
    """
    if state.db_schedule_id is None:
        return cronScheduler.get(state.name) if state.name in cronScheduler else None
    entry = _entries().filter(pk=state.db_schedule_id).first()
    if entry is None:
        return None
    base = cronScheduler.get(entry.job) if entry.job in cronScheduler else None
    if base is None:
        return None  # its job is no longer registered
    found = _built.get(entry.pk)
    if found is None or found[0] != entry.updated_at or found[1] is not base:
        try:
            found = _built[entry.pk] = (entry.updated_at, base, definition_of(entry))
        except Exception:
            # Saved past validate() (a queryset update, a hand edit): not run,
            # and the pass goes on with the other jobs.
            logger.exception("Schedule %s in the database cannot run", entry.pk)
            return None
    return found[2]


def definition_named(name: str):
    """Return the definition of the state row ``name`` (a task worker gets a name)."""
    state = _states().filter(name=name).only("pk", "name", "db_schedule").first()
    if state is None:
        return cronScheduler.get(name)  # a KeyError if it is not registered either
    definition = definition_for(state)
    if definition is None:
        raise KeyError(name)
    return definition


# Validation, shared by the admin's form, the Python API and the operator API ----


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


def _check_pending(job: str) -> None:
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
    errors = {}
    if entry.job not in cronScheduler:
        close = difflib.get_close_matches(entry.job, [d.name for d in cronScheduler.all()], n=1)
        hint = f" Did you mean {close[0]!r}?" if close else " See manage.py cron list."
        errors["job"] = f"No job or command named {entry.job!r} is registered.{hint}"
        raise ValidationError(errors)
    base = cronScheduler.get(entry.job)
    saved = _entries().filter(pk=entry.pk).values("job", "kind", "at").first() if entry.pk else None
    if saved is not None and (saved["job"], saved["kind"]) != (entry.job, entry.kind):
        # Its row, history and name go with the job and kind it was made for.
        errors["kind"] = "The job and the kind of a saved schedule cannot change: add another."
        raise ValidationError(errors)
    if entry.kind == Kind.ONCE:
        if entry.pk is None:
            _check_pending(entry.job)
        if entry.at is None:
            entry.at = timezone.now()
        elif saved is not None and saved["at"] != entry.at and _done(entry):
            errors["at"] = "It ran or was cancelled already: schedule another one-off run."
        for field in ("cron", "every", "start_date", "end_date"):
            if getattr(entry, field):
                errors[field] = "A one-off run has a date to run at, not a schedule."
    elif entry.cron and entry.every:
        errors["every"] = "Give a cron expression or an interval, not both."
    elif entry.kind == Kind.EXTRA and not (entry.cron or entry.every):
        errors["cron"] = "Give a cron expression or an interval."
    elif entry.kind == Kind.REPLACE:
        others = _entries().filter(kind=Kind.REPLACE, job=entry.job).exclude(pk=entry.pk)
        if others.exists():
            errors["job"] = f"{entry.job} has a replaced schedule already: edit that one."
    for field in ("at", "start_date", "end_date"):
        value = getattr(entry, field)
        if isinstance(value, datetime) and not within_reach(value):
            errors[field] = (
                f"Give a date within {conf.MAX_DAYS // 365} years of now, not {value.isoformat()}."
            )
    if entry.timezone:
        try:
            ZoneInfo(entry.timezone)
        except (ZoneInfoNotFoundError, ValueError):
            errors["timezone"] = f"{entry.timezone!r} is not a known time zone."
    if entry.kind != Kind.ONCE and not errors:
        zone = entry.timezone or base.timezone
        # The expression or interval alone first, then with its dates: the
        # error goes to the field that caused it.
        for field, dated in (("cron" if entry.cron else "every", False), ("end_date", True)):
            try:
                schedule = _schedule(entry, base, zone, dated)
                schedule.validate()
            except ValueError as exc:
                errors[field] = f"{str(exc)[:1].upper()}{str(exc)[1:]}."
                break
            # Only what the entry sets: a replacement that keeps the code's
            # schedule keeps the code's rate too.
            if not dated and (entry.cron or entry.every):
                too_often = _check_rate(schedule)
                if too_often:
                    errors[field] = too_often
                    break
    if not isinstance(entry.args, (list, tuple)):
        errors["args"] = "The arguments must be a JSON list."
    elif not isinstance(entry.kwargs, dict):
        errors["kwargs"] = "The keyword arguments must be a JSON object."
    else:
        for field, what in (("args", "arguments"), ("kwargs", "keyword arguments")):
            try:
                _json(getattr(entry, field), what)
            except ValidationError as exc:
                errors[field] = exc.messages[0]
        if "args" not in errors and "kwargs" not in errors:
            try:
                check_binds(base, *_arguments(entry, base))
            except ValidationError as exc:
                errors["args"] = exc.messages[0]
    # Room for an id of up to 12 digits: the entry has none before it is saved.
    if entry.kind != Kind.REPLACE and len(row_name(entry)) + 12 > NAME_LIMIT:
        errors["job"] = f"The job's name is too long for a schedule of its own ({NAME_LIMIT})."
    if errors:
        raise ValidationError(errors)


def _done(entry) -> bool:
    """Tell whether a one-off run has no run left: it was claimed or cancelled."""
    state = _states().filter(db_schedule=entry.pk).values("next_run_at", "schedule_key").first()
    return state is not None and state["next_run_at"] is None


# Planning ------------------------------------------------------------------------------


def _db_now(pk):
    """Return the database's clock, read with the state row ``pk``."""
    return _states().filter(pk=pk).annotate(now=DbNow()).values_list("now", flat=True).get()


def plan(entry: JobSchedule) -> JobState:
    """
    Point the entry's state row at it and plan the row's next run, if its
    slots changed; called as the entry is saved, in its transaction. The
    UPDATE is conditional on the schedule the row had, and the first slot is
    after the database's now: a slot that ran is never planned again.
    """
    if entry.kind == Kind.ONCE and entry.at is None:
        entry.at = timezone.now()
    definition = definition_of(entry)
    name = row_name(entry)
    state, _ = _states().get_or_create(name=name)
    key = definition.schedule.key
    if state.db_schedule_id == entry.pk and state.schedule_key == key:
        return state
    if entry.kind == Kind.ONCE:
        following = stored(definition.schedule.at)
    else:
        schedule = definition.schedule
        following = planned(schedule, schedule.first_after(aware(_db_now(state.pk))))
    _states().filter(pk=state.pk, schedule_key=state.schedule_key).update(
        db_schedule=entry, schedule_key=key, next_run_at=following
    )
    state.refresh_from_db()
    return state


def _save(entry: JobSchedule) -> JobSchedule:
    # validate() checks the one-replacement rule on DJANGO_CRON["DATABASE"];
    # full_clean()'s own uniqueness check would ask the default database.
    entry.full_clean(validate_unique=False, validate_constraints=False)
    entry.save(using=conf.database())  # which plans its row too
    return entry


def restore_code_schedule(state_pk, name: str) -> None:
    """Plan a job's row by its schedule in code again (its replacement is gone)."""
    from .states import first_slot, schedule_key

    if name not in cronScheduler:
        return
    definition = cronScheduler.get(name)
    _states().filter(pk=state_pk).update(
        db_schedule=None,
        schedule_key=schedule_key(definition),
        next_run_at=first_slot(definition, _db_now(state_pk)),
    )


def _on_delete(sender, instance, using, **kwargs) -> None:
    """A replacement deleted: back to the code's schedule. Another entry: its row stops."""
    rows = JobState.objects.using(using).filter(db_schedule=instance.pk)
    if instance.kind == Kind.REPLACE:
        for pk, name in rows.values_list("pk", "name"):
            restore_code_schedule(pk, name)
    else:
        rows.update(db_schedule=None, next_run_at=None, enabled=False)


pre_delete.connect(_on_delete, sender=JobSchedule, dispatch_uid="django_cron_db_schedules")


# The Python API ------------------------------------------------------------------


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
    if name in cronScheduler:
        # Before the entry is validated, which would fold this into a plain ValidationError.
        _check_pending(name)
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
) -> JobSchedule:
    """
    Replace the schedule in code of job ``name`` (or only its time zone or
    enabled flag); ``restore_schedule(name)`` goes back to the code's.
    """
    entry = _entries().filter(kind=Kind.REPLACE, job=name).first() or JobSchedule(
        job=name, kind=Kind.REPLACE
    )
    entry.cron, entry.every, entry.timezone, entry.enabled = cron, _every(every), timezone, enabled
    entry.start_date, entry.end_date = start_date, end_date
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
) -> JobSchedule:
    """Add a schedule of the registered job or command ``name``, with its own arguments."""
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
    )
    return _save(entry)


def _every(value) -> str:
    """An interval as stored: "300" for 300 seconds or a timedelta, "5m" as given."""
    if value is None:
        return ""
    if isinstance(value, timedelta):
        value = value.total_seconds()
    return f"{value:g}" if isinstance(value, (int, float)) else str(value)


# What the commands, the status endpoint and the operator API show ------------------

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


def prune_one_offs(cutoff, batch_size: int) -> int:
    """
    Delete one batch of one-off runs that ran or were cancelled before
    ``cutoff``: their entries, state rows and runs. Return how many entries.
    """
    done = (
        Q(cancelled_at__isnull=False)
        | Q(state__isnull=True)
        | Q(state__next_run_at__isnull=True, state__lease_owner="")
    )
    batch = list(
        _entries()
        .filter(done, kind=Kind.ONCE, at__lt=cutoff)
        .order_by("at")
        .values_list("pk", flat=True)[:batch_size]
    )
    if not batch:
        return 0
    with transaction.atomic(using=conf.database()):
        # The rows first, with their runs; then the entries, which no row points at any more.
        _states().filter(db_schedule__in=batch).delete()
        return _entries().filter(pk__in=batch).delete()[0]
