"""
Outbound pings, in the style of healthchecks.io and Cronitor: a job's
``pings={"start": url, "success": url, "fail": url}`` are requested as it
starts and ends. A monitor that is down never breaks a run.
"""

import logging
import urllib.request

from .. import conf

logger = logging.getLogger("django_cron")


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
