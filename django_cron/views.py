"""The ping endpoint for uptime monitors, and the status endpoint they alert on."""

from collections import Counter

from django.http import Http404, JsonResponse
from django.utils.crypto import constant_time_compare
from django.views.decorators.cache import never_cache
from django.views.decorators.csrf import csrf_exempt
from django.views.decorators.http import require_http_methods

from . import conf
from .health import FAILING, NEW, OK, OVERDUE, PAUSED, is_healthy, overview
from .trigger import trigger


def key_matches(given: str) -> bool:
    """Compare ``given`` with PING_KEY in constant time; no key configured never matches."""
    expected = conf.get("PING_KEY")
    return bool(expected) and constant_time_compare(given or "", expected)


def summary(jobs) -> dict:
    counts = Counter(job.health for job in jobs)
    return {
        "healthy": all(is_healthy(job.health) for job in jobs),
        **{health: counts[health] for health in (OK, OVERDUE, FAILING, PAUSED, NEW)},
    }


@csrf_exempt
@never_cache
@require_http_methods(["GET", "HEAD", "POST"])
def ping(request, key):
    """Answer at once with a summary, then run the due jobs after the response."""
    if not key_matches(key):
        raise Http404
    response = JsonResponse(summary(overview()))
    # Not gated: a monitor's ping is the trigger. Each slot still runs once.
    trigger.after(response, request, gated=False)
    return response


@never_cache
@require_http_methods(["GET", "HEAD"])
def status(request):
    """200 when every enabled job is healthy, 503 otherwise; details with the key or for staff."""
    jobs = overview()
    body = summary(jobs)
    given = request.GET.get("key") or request.headers.get("X-Cron-Key", "")
    user = getattr(request, "user", None)
    if key_matches(given) or (user is not None and user.is_staff):
        body["jobs"] = [_details(job) for job in jobs]
    return JsonResponse(body, status=200 if body["healthy"] else 503)


def _details(job) -> dict:
    state = job.state
    return {
        "name": job.name,
        "health": job.health,
        "schedule": job.schedule,
        "timezone": job.timezone,
        "next_run": state.next_run_at.isoformat() if state and state.next_run_at else None,
        "last_run": state.last_run_at.isoformat() if state and state.last_run_at else None,
        "last_status": state.last_status if state else "",
        "last_error": state.last_error if state else "",
    }
