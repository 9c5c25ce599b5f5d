"""
Telling people about a job: mail to ADMINS when it keeps failing and when it
recovers, and outbound pings in the style of healthchecks.io and Cronitor.
"""

import logging
import urllib.request

from django.core.mail import mail_admins
from django.db.models import F

from . import conf
from .models import JobRun, JobState

logger = logging.getLogger("django_cron")


def record_outcome(definition, state_pk, run, using) -> None:
    """Count failures in a row; mail ADMINS once when they reach the limit, once on recovery."""
    states = JobState.objects.using(using).filter(pk=state_pk)
    if run.status == JobRun.Status.OK:
        # Conditional, so that of two processes one mails about the recovery.
        if states.filter(alerted=True).update(consecutive_failures=0, alerted=False):
            mail_admins(
                f"[cron] {definition.name} recovered",
                f"{definition.name} ran fine at {run.started_at:%Y-%m-%d %H:%M:%S %Z} "
                "after failing.",
            )
        else:
            states.update(consecutive_failures=0)
        return
    states.update(consecutive_failures=F("consecutive_failures") + 1)
    limit = definition.alert_after
    if limit and states.filter(consecutive_failures__gte=limit, alerted=False).update(alerted=True):
        failures = states.values_list("consecutive_failures", flat=True).first()
        mail_admins(
            f"[cron] {definition.name} failed {failures} times in a row",
            f"{definition.name} has failed {failures} times in a row. The last error:\n\n"
            f"{run.error}\n\n{run.traceback}",
        )


def ping(definition, event: str, body: str = "") -> None:
    """Request the job's ``event`` URL (start, success or fail); log, never raise, on failure."""
    url = (definition.pings or {}).get(event)
    if not url:
        return
    data = body.encode()[:10_000] if body else None
    try:
        with urllib.request.urlopen(url, data=data, timeout=conf.get("PING_TIMEOUT")):
            pass
    except Exception as exc:
        logger.warning("Ping %s of %s to %s failed: %r", event, definition.name, url, exc)
