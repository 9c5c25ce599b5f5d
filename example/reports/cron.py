"""
Jobs written with the register() API: cron expressions, intervals, names,
time zones, and one job that fails on purpose.
"""

import logging

from django_cron import Job, register

logger = logging.getLogger(__name__)


# Without name=..., a job is named after its dotted path:
# "reports.cron.send_digest".
@register(schedule="*/5 * * * *")
def send_digest():
    """Pretend to send the digest, at :00, :05, :10... of every hour."""
    logger.info("Digest sent")


# A name of one's own survives moving or renaming the function, and it is
# what `cron run NAME` and the history use.
@register(every="90s", name="reports.refresh")
def refresh():
    """Pretend to refresh the cached reports, 90 seconds after the last slot."""
    logger.info("Reports refreshed")


@register
class DailySummary(Job):
    """Pretend to build yesterday's summary, at midnight in Berlin (not UTC)."""

    schedule = "@daily"
    timezone = "Europe/Berlin"

    def job(self):
        logger.info("Daily summary built")


@register(every="2m", name="reports.flaky")
def flaky():
    """
    Fail every time, to show what a failure looks like: the run is recorded
    with its error and traceback, `cron status` exits 1, and the job stays
    enabled and runs again at its next slot.
    """
    raise RuntimeError("demo failure")
