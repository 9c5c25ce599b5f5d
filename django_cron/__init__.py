"""
Scheduled jobs for Django, run from the site itself.

    from django_cron import register

    @register(schedule="*/5 * * * *")
    def check_mail():
        ...
"""

from .jobs import Job
from .registry import autodiscover, cronScheduler

register = cronScheduler.register
cron = cronScheduler

__all__ = ["Job", "autodiscover", "cron", "cronScheduler", "register"]
