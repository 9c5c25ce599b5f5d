"""The ping endpoint for uptime monitors, and the status endpoint they alert on."""

import logging

from django.http import JsonResponse
from django.utils.log import log_response
from django.views.decorators.cache import never_cache
from django.views.decorators.csrf import csrf_exempt
from django.views.decorators.http import require_http_methods

from .availability import Unavailable, ask
from .clock import with_offset
from .credentials import ping_key_matches, viewer
from .db_schedules.listing import one_offs
from .health import counts, is_healthy, overview, skipped_text
from .inputs import BadInput
from .pages import page_of
from .trigger import trigger

logger = logging.getLogger("django_cron")

# What a log line shows of the ping key: the path is logged, the key is not.
MASK = "********"
# One-off runs still to come that the status details list; api/once/ pages through all.
WAITING_SHOWN = 100


def summary(counted: dict) -> dict:
    """The summary both endpoints give: healthy or not, and how many jobs are in each health."""
    unhealthy = any(n for health, n in counted.items() if not is_healthy(health))
    return {"healthy": not unhealthy, **counted}


def masked_path(request) -> str:
    """Return the request's path with the ping key in it masked, for logs."""
    match = getattr(request, "resolver_match", None)
    key = match.kwargs.get("key") if match is not None else None
    return request.path.replace(key, MASK) if key else request.path


def _logged(response, request, message: str):
    """Log ``response`` as Django would, with the path masked, and only once."""
    log_response(f"{message}: %s", masked_path(request), response=response, request=request)
    return response


@csrf_exempt
@never_cache
@require_http_methods(["GET", "HEAD", "POST"])
def ping(request, key):
    """Answer at once with a summary, then run the due jobs after the response."""
    if not ping_key_matches(key):
        # Not Http404: Django would log the path, and a near miss is the key with a typo.
        response = JsonResponse({"error": "Not found."}, status=404)
        return _logged(response, request, "Not Found")
    try:
        counted = ask(counts)
    except Unavailable as exc:
        # No due check after this answer: it would fail the same way.
        return unavailable(request, exc, details=True)
    response = JsonResponse(summary(counted))
    # Not gated: a monitor's ping is the trigger. Each slot still runs once.
    trigger.after(response, request, gated=False)
    return response


@never_cache
@require_http_methods(["GET", "HEAD"])
def status(request):
    """200 when every enabled job is healthy, 503 otherwise; details for those who may see them."""
    who = viewer(request)
    try:
        body = summary(ask(counts))
        if who is not None:
            jobs, about = page_of(request, ask(overview))
            body["jobs"] = [job_details(job) for job in jobs]
            body["page"] = about
            body["once"] = ask(
                lambda: one_offs(arguments=who.sees_arguments, waiting=WAITING_SHOWN)
            )
    except Unavailable as exc:
        return unavailable(request, exc, details=who is not None)
    except BadInput as exc:
        return JsonResponse({"error": str(exc)}, status=400)
    return JsonResponse(body, status=200 if body["healthy"] else 503)


def unavailable(request, exc: Unavailable, details: bool) -> JsonResponse:
    """Return the 503 for a database that cannot answer; its own words only with ``details``."""
    # The log keeps the database's own words, which the body gives only to those with details.
    logger.warning("%s: %s", masked_path(request), exc)
    body = {"healthy": False, "reason": exc.reason, "message": exc.message}
    if details:
        body["detail"] = exc.detail
    return _logged(JsonResponse(body, status=503), request, "Service Unavailable")


def paused(state) -> dict | None:
    """Return who paused a job, when and why; None unless it is paused."""
    if state is None or state.enabled:
        return None
    return {
        "by": state.paused_by,
        "at": with_offset(state.paused_at).isoformat() if state.paused_at else None,
        "reason": state.pause_reason,
    }


def job_details(job) -> dict:
    """Return a job as the status details and the operator API show it."""
    state = job.state
    wait = state.last_queue_wait if state else None
    return {
        "name": job.name,
        "health": job.health,
        "schedule": job.schedule_text,
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
        # Who paused it, when and why, while it is paused.
        "paused": paused(state),
        # What becomes of a slot due while a run is in flight.
        "overlap": job.definition.overlap,
        # Slots that did not run: those that fell in a pause, those its
        # overlap policy skipped, and those in blackout windows.
        "skipped": {
            "paused": state.skipped_paused if state else 0,
            "overlap": state.skipped_overlap if state else 0,
            "blackout": state.skipped_blackout if state else 0,
            "text": skipped_text(state),
        },
    }
