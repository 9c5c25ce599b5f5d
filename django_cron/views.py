"""The ping endpoint for uptime monitors, and the status endpoint they alert on."""

import logging

from django.db import DatabaseError, transaction
from django.http import Http404, HttpRequest, JsonResponse
from django.utils.crypto import constant_time_compare
from django.views.decorators.cache import never_cache
from django.views.decorators.csrf import csrf_exempt
from django.views.decorators.http import require_http_methods

from . import conf
from .availability import Unavailable, diagnose
from .clock import with_offset
from .db_schedules import one_offs
from .health import counts, is_healthy, overview
from .trigger import trigger

logger = logging.getLogger("django_cron")


def key_matches(given: str | None) -> bool:
    """Compare ``given`` with PING_KEY in constant time; no key configured never matches."""
    expected = conf.get("PING_KEY")
    return bool(expected) and constant_time_compare(given or "", expected)


def summary(counted: dict) -> dict:
    """The summary both endpoints give: healthy or not, and how many jobs are in each health."""
    unhealthy = any(n for health, n in counted.items() if not is_healthy(health))
    return {"healthy": not unhealthy, **counted}


@csrf_exempt
@never_cache
@require_http_methods(["GET", "HEAD", "POST"])
def ping(request, key):
    """Answer at once with a summary, then run the due jobs after the response."""
    if not key_matches(key):
        raise Http404
    try:
        counted = _ask(counts)
    except Unavailable as exc:
        # No due check after this answer: it would fail the same way.
        return _unavailable(request, exc, details=True)
    response = JsonResponse(summary(counted))
    # Not gated: a monitor's ping is the trigger. Each slot still runs once.
    trigger.after(response, request, gated=False)
    return response


@never_cache
@require_http_methods(["GET", "HEAD"])
def status(request):
    """200 when every enabled job is healthy, 503 otherwise; details for those who may see them."""
    details = may_see_details(request)
    try:
        body = summary(_ask(counts))
        if details:
            body["jobs"] = [_details(job) for job in _ask(overview)]
            body["once"] = _ask(one_offs)
    except Unavailable as exc:
        return _unavailable(request, exc, details=details)
    return JsonResponse(body, status=200 if body["healthy"] else 503)


def may_see_details(request: HttpRequest) -> bool:
    """Return True if the request gives the key or comes from a user who may view job state."""
    if key_matches(request.GET.get("key") or request.headers.get("X-Cron-Key")):
        return True
    user = getattr(request, "user", None)
    try:
        # False for anonymous and inactive users, True for active superusers.
        return user is not None and user.has_perm("django_cron.view_jobstate")
    except DatabaseError:
        # The users' database may be the one that is down: no details, not a 500.
        return False


def _ask(question):
    """Return question(); raise Unavailable, saying why, if the database does not answer."""
    alias = conf.database()
    try:
        # A savepoint: in a transaction (ATOMIC_REQUESTS), PostgreSQL refuses
        # every query after a failed one, the diagnosis's too, until a rollback.
        with transaction.atomic(using=alias):
            return question()
    except DatabaseError as exc:
        raise diagnose(exc) from exc


def _unavailable(request, exc: Unavailable, details: bool) -> JsonResponse:
    # The log keeps the database's own words, which the body gives only to those with details.
    logger.warning("%s: %s", request.path, exc)
    body = {"healthy": False, "reason": exc.reason, "message": exc.message}
    if details:
        body["detail"] = exc.detail
    return JsonResponse(body, status=503)


def _details(job) -> dict:
    state = job.state
    wait = state.last_queue_wait if state else None
    return {
        "name": job.name,
        "health": job.health,
        "schedule": job.schedule,
        "timezone": job.timezone,
        # With their offset, also without USE_TZ: a monitor elsewhere reads them right.
        "next_run": with_offset(job.next_run).isoformat() if job.next_run else None,
        "last_run": (
            with_offset(state.last_run_at).isoformat() if state and state.last_run_at else None
        ),
        "last_status": state.last_status if state else "",
        "last_duration": state.last_duration if state else None,
        "last_error": state.last_error if state else "",
        # What the last run returned, as text.
        "last_return": state.last_message if state else "",
        # Seconds the last run waited for a task worker; null unless it was queued.
        "last_queue_wait": wait.total_seconds() if wait is not None else None,
        # Why a broken job cannot run at all.
        "problem": job.definition.problem,
    }
