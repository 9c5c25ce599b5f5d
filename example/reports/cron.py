"""
Jobs written with the register() API: intervals, cron expressions, names,
time zones, and a job that fails every other run.

The first two are due seconds after the site first sees them, so that
browsing the demo shows runs at once; a real site's jobs rarely need that.
"""

import itertools
import logging

from django_cron import Job, register

logger = logging.getLogger(__name__)

REPORTS = ["sales", "signups", "churn"]


# A name of one's own survives moving or renaming the function, and it is
# what `cron run NAME` and the history use.
@register(every="10s", name="reports.refresh")
def refresh():
    """
    Pretend to refresh the cached reports. What a job prints is kept as its
    run's output, and what it returns as its message.
    """
    for report in REPORTS:
        print(f"refreshed the {report} report")
    return f"{len(REPORTS)} reports refreshed"


# Counts the calls in this process, so that runs alternate without any state
# of their own in the database.
_fetches = itertools.count(1)


@register(every="20s", name="reports.flaky")
def flaky():
    """
    Fail every other run, to show what a failure looks like: the run is
    recorded with its error and traceback, `cron status` exits 1, and the job
    stays enabled and runs again at its next slot.
    """
    if next(_fetches) % 2:
        raise RuntimeError("demo failure: the exchange rates feed timed out")
    return "exchange rates fetched"


# Without name=..., a job is named after its dotted path:
# "reports.cron.send_digest".
@register(schedule="*/5 * * * *")
def send_digest():
    """Pretend to send the digest, at :00, :05, :10... of every hour."""
    logger.info("Digest sent")


@register
class DailySummary(Job):
    """Pretend to build yesterday's summary, at midnight in Berlin (not UTC)."""

    schedule = "@daily"
    timezone = "Europe/Berlin"

    def job(self):
        logger.info("Daily summary built")
