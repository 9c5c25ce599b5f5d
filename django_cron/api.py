"""
The operator API: JSON endpoints to list the jobs, run one now, pause and
resume it, schedule a one-off run and cancel one (docs/api.rst).

A change is a POST. The ping key in the X-Cron-Key header allows every
action; a logged-in user needs the model permission of the action, and
passes Django's CSRF check.
"""

import json
from datetime import timedelta
from functools import wraps

from django.core.exceptions import NON_FIELD_ERRORS as NON_FIELD
from django.core.exceptions import ValidationError
from django.db import DatabaseError
from django.http import HttpRequest, JsonResponse
from django.http.request import RawPostDataException
from django.middleware.csrf import CsrfViewMiddleware
from django.utils import timezone
from django.utils.dateparse import parse_datetime
from django.views.decorators.cache import never_cache
from django.views.decorators.csrf import csrf_exempt
from django.views.decorators.http import require_http_methods

from . import conf, db_schedules
from .availability import Unavailable
from .health import overview
from .models import JobSchedule, JobState
from .registry import cronScheduler
from .states import sync_states
from .trigger import trigger
from .views import _ask, _details, _unavailable, key_matches

KEY_HEADER = "X-Cron-Key"
ONCE_FIELDS = ("at", "delay", "args", "kwargs")
# Far enough for any plan; a delay of 1e300 seconds would overflow a datetime.
LONGEST_DELAY = timedelta(days=36500)


def _error(message: str, status: int) -> JsonResponse:
    return JsonResponse({"error": message}, status=status)


def _passes_csrf(request: HttpRequest) -> bool:
    # The views are csrf_exempt, so the site's CsrfViewMiddleware lets them
    # through: the check runs here, for session requests only. No callback:
    # nothing marks it exempt. It returns a refusal, or None to accept.
    return CsrfViewMiddleware(lambda request: None).process_view(request, None, (), {}) is None


def refusal(request: HttpRequest, permission: str) -> JsonResponse | None:
    """
    Return a 403 response if the request may not do what needs ``permission``;
    None if it may.

    The key is read from the X-Cron-Key header only: a query string ends up
    in access logs. A header that is there but wrong is refused, even with a
    logged-in user, so a client that means to use the key learns at once that
    it is wrong. A key request needs no CSRF check: a cross-site page cannot
    make a browser send a header of its choosing (not without the site's CORS
    consent), and it does not know the key. A session request is another
    matter: the browser sends its cookie with a forged cross-site POST too,
    so it must pass Django's CSRF check.
    """
    if KEY_HEADER in request.headers:
        if key_matches(request.headers[KEY_HEADER]):
            return None
        return _error(f"The {KEY_HEADER} header does not match the ping key.", 403)
    user = getattr(request, "user", None)
    try:
        # False for anonymous and inactive users, True for active superusers.
        allowed = user is not None and user.has_perm(permission)
    except DatabaseError:
        # The users' database may be the one that is down: refused, not a 500.
        allowed = False
    if not allowed:
        return _error(
            f"Give the ping key in the {KEY_HEADER} header, or log in as a user "
            f"with the permission {permission}.",
            403,
        )
    if not _passes_csrf(request):
        return _error(
            "CSRF check failed: send the csrftoken cookie's value in the X-CSRFToken header.",
            403,
        )
    return None


def endpoint(permission: str, methods=("POST",)):
    """
    Make a view an API endpoint: for ``methods`` only, never cached, refused
    without ``permission``. The view runs in a savepoint on django_cron's
    database: if that fails, the answer is a 503 saying why, and a
    ValidationError is a 400 by field; either way nothing is stored.
    """

    def decorate(view):
        @wraps(view)
        def wrapper(request, *args, **kwargs):
            refused = refusal(request, permission)
            if refused is not None:
                return refused
            try:
                return _ask(lambda: view(request, *args, **kwargs))
            except Unavailable as exc:
                return _unavailable(request, exc, details=True)
            except ValidationError as exc:
                by_field = hasattr(exc, "error_dict")
                errors = exc.message_dict if by_field else {NON_FIELD: exc.messages}
                return JsonResponse({"errors": errors}, status=400)

        return csrf_exempt(never_cache(require_http_methods(list(methods))(wrapper)))

    return decorate


def _unknown(name: str) -> JsonResponse:
    return _error(f"No job named {name!r} is registered (GET api/jobs/ lists them).", 404)


def _shown(pk: int) -> dict:
    """Return the one-off run ``pk`` as it is now, with its run's state."""
    entry = JobSchedule.objects.using(conf.database()).select_related("state").get(pk=pk)
    return db_schedules.one_off(entry)


@endpoint("django_cron.view_jobstate", methods=("GET", "HEAD"))
def jobs(request):
    """List every job with its state, then the one-off runs."""
    listed = [{**_details(job), "enabled": job.enabled} for job in overview()]
    return JsonResponse({"jobs": listed, "once": db_schedules.one_offs()})


@endpoint("django_cron.change_jobstate")
def run(request, name):
    """
    Run a job now: a one-off run due at once, which this process runs after
    the response, unless another runner claims it first. It runs once either way.
    """
    if name not in cronScheduler:
        return _unknown(name)
    entry = db_schedules.schedule_once(name)
    response = JsonResponse({"once": _shown(entry.pk)}, status=202)
    # Not gated, as a ping is not: the run was asked for. The claim keeps it to one run.
    trigger.after(response, request, gated=False)
    return response


def _set_enabled(name: str, enabled: bool) -> JsonResponse:
    rows = JobState.objects.using(conf.database())
    if name in cronScheduler:
        # Its row, made now if the runner has not seen the job yet.
        sync_states([cronScheduler.get(name)], timezone.now())
        rows = rows.filter(name=name)
    else:
        # A further schedule, as GET api/jobs/ names it; a one-off run is cancelled instead.
        rows = rows.filter(name=name, db_schedule__kind=JobSchedule.Kind.EXTRA)
    if not rows.update(enabled=enabled):
        return _unknown(name)
    return JsonResponse({"name": name, "enabled": enabled})


@endpoint("django_cron.change_jobstate")
def pause(request, name):
    """Pause a job: it does not run until resumed."""
    return _set_enabled(name, False)


@endpoint("django_cron.change_jobstate")
def resume(request, name):
    """Resume a paused job."""
    return _set_enabled(name, True)


class BadBody(ValueError):
    """A body that is not a JSON object of the fields a one-off run takes."""


def _once_options(request) -> dict:
    """
    Return schedule_once()'s options from the request's JSON body; raise
    BadBody, or ValidationError by field, saying what is wrong.
    """
    try:
        text = request.body.strip()
        body = json.loads(text) if text else {}
    except (RawPostDataException, UnicodeDecodeError, ValueError):
        body = None
    if not isinstance(body, dict):
        raise BadBody('The body must be a JSON object, such as {"delay": 60}.')
    unknown = sorted(set(body) - set(ONCE_FIELDS))
    if unknown:
        raise BadBody(f"Unknown fields: {', '.join(unknown)}. A one-off run takes {ONCE_FIELDS}.")
    errors = {}
    options = {"args": body.get("args", []), "kwargs": body.get("kwargs", {})}
    if not isinstance(options["args"], list):
        errors["args"] = "The arguments must be a JSON list."
    if not isinstance(options["kwargs"], dict):
        errors["kwargs"] = "The keyword arguments must be a JSON object."
    at, delay = body.get("at"), body.get("delay")
    if at is not None and delay is not None:
        errors["delay"] = 'Give "at" or "delay", not both.'
    elif at is not None:
        options["at"] = _date(at)
        if options["at"] is None:
            errors["at"] = "Give an ISO 8601 date and time, such as 2031-05-04T09:30:00+02:00."
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


@endpoint("django_cron.add_jobschedule")
def once(request, name):
    """Schedule a one-off run of a job, at a time or after a delay, with its own arguments."""
    if name not in cronScheduler:
        return _unknown(name)
    try:
        options = _once_options(request)
    except BadBody as exc:
        return _error(str(exc), 400)
    entry = db_schedules.schedule_once(name, **options)
    return JsonResponse({"once": _shown(entry.pk)}, status=201)


@endpoint("django_cron.change_jobschedule")
def cancel(request, pk):
    """
    Cancel a one-off run: 200 if it was still to run, 409 if it ran, runs,
    or was cancelled already. One conditional UPDATE decides, as a claim does.
    """
    try:
        cancelled = db_schedules.cancel(pk)
    except JobSchedule.DoesNotExist:
        return _error(f"No one-off run has the id {pk}.", 404)
    shown = _shown(pk)
    return JsonResponse({"cancelled": cancelled, "once": shown}, status=200 if cancelled else 409)
