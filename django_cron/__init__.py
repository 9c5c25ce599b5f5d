"""
Scheduled jobs for Django, run from the site itself.

    from django_cron import register

    @register(schedule="*/5 * * * *")
    def check_mail():
        ...
"""

from .compat.tivix import CronJobBase, Schedule
from .jobs import Job
from .registry import autodiscover, cronScheduler

register = cronScheduler.register
register_command = cronScheduler.register_command
cron = cronScheduler

__all__ = [
    "CronJobBase",
    "Job",
    "Schedule",
    "autodiscover",
    "cron",
    "cronScheduler",
    "register",
    "register_command",
]
