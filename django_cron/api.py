"""
The operator API: JSON endpoints to list the jobs, the one-off runs and the
audit trail, to run a job now, pause and resume it, and to schedule a one-off
run and cancel one (docs/api.rst).

Each endpoint names the scope an operator key needs and the permissions a
signed-in staff user needs (credentials.py); the ping key opens none of them.
A change is a POST, and it writes its audit row in its own transaction, so a
refused or failed change leaves none. Input is checked at the edge
(inputs.py): a bad request gets a 4xx and changes nothing.
"""

from datetime import timedelta
from functools import wraps
from zoneinfo import ZoneInfo

from django.core.exceptions import NON_FIELD_ERRORS as NON_FIELD
from django.core.exceptions import ValidationError
from django.http import JsonResponse
from django.utils import timezone
from django.utils.dateparse import parse_datetime
from django.views.decorators.cache import never_cache
from django.views.decorators.csrf import csrf_exempt
from django.views.decorators.http import require_http_methods

from . import audit, conf, inputs
from .arguments import operator_arguments
from .availability import RefusedValue, Unavailable, ask
from .clock import aware, stored, with_offset
from .credentials import Refused, authorise
from .db_schedules import api as db_schedules
from .db_schedules.listing import listed_one_offs, one_off
from .db_schedules.rules import TooManyPending, shape_errors
from .health import overview
from .inputs import BadInput
from .models import AuditEntry, Backfill, Blackout, JobSchedule, JobState
from .pages import page_of
from .registry import registry
from .runtime import backfills
from .runtime.blackouts import ahead as windows_ahead
from .runtime.states import resume as resume_rows
from .runtime.states import sync_states
from .trigger import add_closer, backfill_in_background, trigger
from .views import job_details, paused, unavailable

ONCE_FIELDS = ("at", "delay", "args", "kwargs")
# What an HTTP client sends as a POST with no data. JSON sent without a
# content type (curl -d) comes as a form too, and is read as JSON.
FORMS = ("multipart/form-data", "application/x-www-form-urlencoded")
# Far enough for any plan; a delay of 1e300 seconds would overflow a datetime.
LONGEST_DELAY = inputs.REACH
# Characters of a pause's reason kept: a sentence, not a document.
REASON_LIMIT = 1000
# The largest id a row can have (a 64-bit column): a larger one in a URL is no row's.
BIGGEST_ID = 2**63 - 1

# The next runs a job's entry in GET api/jobs/ lists.
UPCOMING = 5

VIA = AuditEntry.Via.API


def _error(message: str, status: int) -> JsonResponse:
    return JsonResponse({"error": message}, status=status)


def endpoint(scope: str, *permissions: str, methods=("POST",)):
    """
    Make a view an API endpoint: for ``methods`` only, never cached, for an
    operator key with ``scope`` or a staff user with ``permissions``. The view
    gets the credential after the request, and runs in a savepoint on
    django_cron's database: if that fails, the answer is a 503 saying why; a
    ValidationError is a 400 by field. Either way nothing is stored.
    """

    def decorate(view):
        @wraps(view)
        def wrapper(request, *args, **kwargs):
            if inputs.body_too_large(request):
                return _error(f"The body is over {inputs.BODY_LIMIT} bytes.", 413)
            try:
                for value in kwargs.values():
                    if isinstance(value, str):
                        inputs.check_text(value, "The URL")
                credential = authorise(request, scope, permissions)
                return ask(lambda: view(request, credential, *args, **kwargs))
            except Refused as exc:
                return _error(str(exc), exc.status)
            except BadInput as exc:
                return _error(str(exc), 400)
            except RefusedValue:
                # A value the edge let through: the request's fault, not an
                # outage, and no SQL in the answer.
                return _error("The database refused a value of this request.", 400)
            except Unavailable as exc:
                return unavailable(request, exc, details=True)
            except TooManyPending as exc:
                return _error(" ".join(exc.messages), 429)
            except ValidationError as exc:
                by_field = hasattr(exc, "error_dict")
                errors = exc.message_dict if by_field else {NON_FIELD: exc.messages}
                return JsonResponse({"errors": errors}, status=400)

        return csrf_exempt(never_cache(require_http_methods(list(methods))(wrapper)))

    return decorate


def _unknown(name: str) -> JsonResponse:
    return _error(f"No job named {name!r} is registered (GET api/jobs/ lists them).", 404)


def _body(request, fields: tuple) -> dict:
    """Return the request's JSON object of ``fields``; raise BadInput saying what is wrong."""
    text = request.body.strip()
    if not text or (request.content_type in FORMS and not request.POST and not request.FILES):
        return {}  # nothing sent, or an empty form: a client's POST with no data
    try:
        text = text.decode()
    except UnicodeDecodeError:
        raise BadInput("The body is not UTF-8.") from None
    body = inputs.parse_json(text)
    if not isinstance(body, dict):
        raise BadInput(f"The body must be a JSON object of {', '.join(fields)}.")
    unknown = sorted(set(body) - set(fields))
    if unknown:
        raise BadInput(f"Unknown fields: {', '.join(unknown)}. This takes {', '.join(fields)}.")
    return body


# Reading ------------------------------------------------------------------------------


@endpoint("read", "django_cron.view_jobstate", methods=("GET", "HEAD"))
def jobs(request, credential):
    """List the jobs with their state, a page at a time."""
    listed, about = page_of(request, overview())
    now = timezone.now()
    windows = windows_ahead(None, now)

    def shown(job):
        # Its next runs, in its own time zone, as cron next gives them.
        upcoming = job.upcoming(UPCOMING, after=now, windows=windows)
        zone = ZoneInfo(job.definition.timezone)
        following = [slot.astimezone(zone).isoformat() for slot in upcoming]
        return {**job_details(job), "enabled": job.enabled, "upcoming": following}

    return JsonResponse({"jobs": [shown(job) for job in listed], **about})


@endpoint("read", "django_cron.view_jobschedule", methods=("GET", "HEAD"))
def once_list(request, credential):
    """List the one-off runs, those still to run first, a page at a time."""
    listed, about = page_of(request, listed_one_offs())
    return JsonResponse({"once": [one_off(entry) for entry in listed], **about})


def _audit_row(entry: AuditEntry) -> dict:
    return {
        "id": entry.pk,
        "at": with_offset(entry.at).isoformat(),
        "actor": entry.actor,
        "via": entry.via,
        "action": entry.action,
        "job": entry.job,
        "arguments": entry.arguments,
        "before": entry.before,
        "after": entry.after,
        "note": entry.note,
        "remote_addr": entry.remote_addr,
    }


@endpoint("read", "django_cron.view_auditentry", methods=("GET", "HEAD"))
def audit_list(request, credential):
    """List the audit trail, newest first, a page at a time; ``?job=`` for one job's."""
    entries = AuditEntry.objects.using(conf.database())
    job = request.GET.get("job")
    if job is not None:
        inputs.check_text(job, "?job=")
        entries = entries.filter(job=job)
    listed, about = page_of(request, entries)
    return JsonResponse({"audit": [_audit_row(entry) for entry in listed], **about})


# Changing -------------------------------------------------------------------------------


def _record(request, credential, action: str, job: str = "", **fields) -> None:
    audit.record(credential.actor, VIA, action, job, request=request, **fields)


@endpoint("run", "django_cron.change_jobstate")
def run(request, credential, name):
    """
    Run a job now: a one-off run due at once, which this process runs after
    the response, unless another runner claims it first. It runs once either way.
    """
    if name not in registry:
        return _unknown(name)
    entry = db_schedules.schedule_once(name, author=credential.actor)
    _record(request, credential, "run", name, after={"once": entry.pk})
    response = JsonResponse({"once": _shown(entry.pk)}, status=202)
    # Not gated, as a ping is not: the run was asked for. The claim keeps it to one run.
    trigger.after(response, request, gated=False)
    return response


def _set_enabled(request, credential, name: str, enabled: bool, reason: str = "") -> JsonResponse:
    rows = JobState.objects.using(conf.database())
    if name in registry:
        # Its row, made now if the runner has not seen the job yet.
        sync_states([registry.get(name)], timezone.now())
        rows = rows.filter(name=name)
    else:
        # A further schedule, as GET api/jobs/ names it; a one-off run is cancelled instead.
        rows = rows.filter(name=name, db_schedule__kind=JobSchedule.Kind.EXTRA)
    if not rows.exists():
        return _unknown(name)
    if enabled:
        resume_rows(rows)
    else:
        rows.update(**JobState.paused_fields(credential.actor, reason))
    _record(request, credential, "resume" if enabled else "pause", name, note=reason)
    if enabled:
        # Its next run may come before this process's next idle check.
        trigger.wake()
    return JsonResponse({"name": name, "enabled": enabled, "paused": paused(rows.get())})


@endpoint("pause", "django_cron.change_jobstate")
def pause(request, credential, name):
    """Pause a job, with a reason: it does not run until resumed."""
    reason = _body(request, ("reason",)).get("reason", "")
    if not isinstance(reason, str):
        raise ValidationError({"reason": "Give the reason as text."})
    if len(reason) > REASON_LIMIT:
        raise ValidationError({"reason": f"Give a reason of at most {REASON_LIMIT} characters."})
    return _set_enabled(request, credential, name, False, reason.strip())


@endpoint("pause", "django_cron.change_jobstate")
def resume(request, credential, name):
    """Resume a paused job."""
    return _set_enabled(request, credential, name, True)


def _once_options(request) -> dict:
    """Return schedule_once()'s options from the JSON body; BadInput or ValidationError if bad."""
    body = _body(request, ONCE_FIELDS)
    options = {"args": body.get("args", []), "kwargs": body.get("kwargs", {})}
    errors = shape_errors(options["args"], options["kwargs"])
    at, delay = body.get("at"), body.get("delay")
    if at is not None and delay is not None:
        errors["delay"] = 'Give "at" or "delay", not both.'
    elif at is not None:
        options["at"] = _date(at)
        if options["at"] is None:
            errors["at"] = "Give an ISO 8601 date and time, such as 2031-05-04T09:30:00+02:00."
        elif not inputs.within_reach(options["at"]):
            errors["at"] = f"Give a date within {conf.MAX_DAYS // 365} years of now."
    elif delay is not None:
        options["delay"] = _delay(delay)
        if options["delay"] is None:
            errors["delay"] = "Give the delay in seconds: a number, 0 or more."
    if errors:
        raise ValidationError(errors)
    return options


def _date(value):
    """Return the datetime an ISO 8601 string gives, or None."""
    try:
        return parse_datetime(value) if isinstance(value, str) else None
    except ValueError:
        return None  # well-formed, but no such date


def _delay(value) -> timedelta | None:
    """Return a delay in seconds as a timedelta, or None if it is not one that can be waited."""
    if isinstance(value, bool) or not isinstance(value, (int, float)):
        return None
    if not 0 <= value <= LONGEST_DELAY.total_seconds():  # False for NaN too
        return None
    return timedelta(seconds=value)


def _shown(pk: int) -> dict:
    """Return the one-off run ``pk`` as it is now, with its run's state."""
    entry = JobSchedule.objects.using(conf.database()).select_related("state").get(pk=pk)
    return one_off(entry)


@endpoint("schedule", "django_cron.add_jobschedule", "django_cron.change_jobstate")
def once(request, credential, name):
    """Schedule a one-off run of a job, at a time or after a delay, with its own arguments."""
    if name not in registry:
        return _unknown(name)
    options = _once_options(request)
    options["args"], options["kwargs"] = operator_arguments(
        registry.get(name), options["args"], options["kwargs"]
    )
    entry = db_schedules.schedule_once(name, author=credential.actor, **options)
    _record(
        request,
        credential,
        "schedule once",
        name,
        arguments={"args": entry.args, "kwargs": entry.kwargs},
        after={"once": entry.pk, "at": entry.at},
    )
    return JsonResponse({"once": _shown(entry.pk)}, status=201)


@endpoint("schedule", "django_cron.change_jobschedule")
def cancel(request, credential, pk):
    """
    Cancel a one-off run: 200 if it was still to run, 409 if it ran, runs,
    or was cancelled already. One conditional UPDATE decides, as a claim does.
    """
    try:
        if pk > BIGGEST_ID:
            raise JobSchedule.DoesNotExist
        cancelled = db_schedules.cancel(pk)
    except JobSchedule.DoesNotExist:
        return _error(f"No one-off run has the id {pk}.", 404)
    shown = _shown(pk)
    if cancelled:
        _record(request, credential, "cancel", shown["job"], before={"once": pk})
    return JsonResponse({"cancelled": cancelled, "once": shown}, status=200 if cancelled else 409)


# Blackout windows ----------------------------------------------------------------------

BLACKOUT_FIELDS = ("start", "end", "jobs", "reason")


def _window(window: Blackout) -> dict:
    return {
        "id": window.pk,
        "start": with_offset(window.start).isoformat(),
        "end": with_offset(window.end).isoformat(),
        "jobs": window.jobs,
        "reason": window.reason,
        "created_by": window.created_by,
        "in_force": window.in_force,
    }


def _windows():
    return Blackout.objects.using(conf.database())


@endpoint("read", "django_cron.view_blackout", methods=("GET", "HEAD"))
def blackouts(request, credential):
    """List the blackout windows that have not ended, soonest first."""
    current = _windows().filter(end__gt=timezone.now()).order_by("start", "pk")
    listed, about = page_of(request, list(current))
    return JsonResponse({"blackouts": [_window(window) for window in listed], **about})


def _window_from(request, credential) -> Blackout:
    """Return the window the body describes, checked; ValidationError by field if it is bad."""
    body = _body(request, BLACKOUT_FIELDS)
    errors = {}
    moments = {}
    for field in ("start", "end"):
        value = body.get(field)
        if value is None and field == "start":
            moments[field] = timezone.now()
            continue
        moment = _date(value)
        if moment is None or not inputs.within_reach(moment):
            errors[field] = "Give an ISO 8601 date and time, such as 2031-05-04T09:30:00+02:00."
        else:
            # A naive time is in TIME_ZONE; stored as Django stores times.
            moments[field] = stored(aware(moment))
    for field, limit in (("jobs", 200), ("reason", REASON_LIMIT)):
        if not isinstance(body.get(field, ""), str) or len(body.get(field, "")) > limit:
            errors[field] = f"Give text of at most {limit} characters."
    if errors:
        raise ValidationError(errors)
    window = Blackout(
        **moments,
        jobs=body.get("jobs", "").strip(),
        reason=body.get("reason", "").strip(),
        created_by=credential.actor[:200],
    )
    window.full_clean()
    return window


@endpoint("pause", "django_cron.add_blackout")
def blackout_add(request, credential):
    """Add a blackout window: from ``start`` (now if left out) to ``end``, for ``jobs``."""
    window = _window_from(request, credential)
    window.save(using=conf.database())
    shown = _window(window)
    _record(request, credential, "blackout", window.jobs, after=shown, note=window.reason)
    return JsonResponse({"blackout": shown}, status=201)


@endpoint("pause", "django_cron.delete_blackout")
def blackout_delete(request, credential, pk):
    """Delete a blackout window: the slots it held from now on run again."""
    window = _windows().filter(pk=pk).first() if pk <= BIGGEST_ID else None
    if window is None:
        return _error(f"No blackout window has the id {pk}.", 404)
    shown = _window(window)
    window.delete()
    _record(request, credential, "delete blackout", window.jobs, before=shown)
    return JsonResponse({"deleted": shown})


# Backfills ------------------------------------------------------------------------------

BACKFILL_FIELDS = ("from", "to", "overlap", "again")


@endpoint("run", "django_cron.change_jobstate")
def backfill(request, credential, name):
    """
    Run a job once for each slot of its schedule from ``from`` up to ``to``,
    oldest first, after the response: 202 with the backfill, whose progress
    GET api/backfills/<id>/ gives.
    """
    if name not in registry:
        return _unknown(name)
    body = _body(request, BACKFILL_FIELDS)
    errors, moments = {}, {}
    for field in ("from", "to"):
        moment = _date(body.get(field))
        if moment is None or not inputs.within_reach(moment):
            errors[field] = "Give an ISO 8601 date and time, such as 2026-11-01T00:00:00+00:00."
        else:
            moments[field] = aware(moment)
    again = body.get("again", False)
    if not isinstance(again, bool):
        errors["again"] = "Give true or false."
    if errors:
        raise ValidationError(errors)
    overlap = body.get("overlap", Backfill.Overlap.BUFFER_ALL)
    made = backfills.create(
        name,
        moments["from"],
        moments["to"],
        overlap,
        again,
        requested_by=credential.actor,
        then=lambda made: _record(
            request, credential, "backfill", name, after=backfills.shown(made)
        ),
    )
    shown = backfills.shown(made)
    response = JsonResponse({"backfill": shown}, status=202)
    add_closer(response, lambda: backfill_in_background(made))
    return response


@endpoint("read", "django_cron.view_jobrun", methods=("GET", "HEAD"))
def backfill_detail(request, credential, pk):
    """A backfill and how far it got."""
    found = (
        Backfill.objects.using(conf.database()).filter(pk=pk).first() if pk <= BIGGEST_ID else None
    )
    if found is None:
        return _error(f"No backfill has the id {pk}.", 404)
    return JsonResponse({"backfill": backfills.shown(found)})
