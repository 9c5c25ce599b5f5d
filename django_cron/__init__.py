"""
Scheduled jobs for Django, run from the site itself.

    from django_cron import register

    @register(schedule="*/5 * * * *")
    def check_mail():
        ...
"""

import logging

from django.utils.module_loading import import_string

from .compat.tivix.jobs import CronJobBase
from .compat.tivix.schedule import TivixSchedule
from .jobs import Job
from .registry import autodiscover, cronScheduler, registry

# Tivix django-cron's name for its schedule class.
Schedule = TivixSchedule

register = registry.register
register_command = registry.register_command

# The "django_cron" logger, which Tivix django-cron offered here.
logger = logging.getLogger("django_cron")


def get_class(path: str):
    """Return what a dotted path names, as Tivix django-cron's get_class() did."""
    return import_string(path)


def get_current_time():
    """Return timezone.now() in the current time zone, as Tivix django-cron did."""
    from django.utils import timezone

    now = timezone.now()
    return timezone.localtime(now) if timezone.is_aware(now) else now


# Schedules kept in the database and one-off runs (db_schedules/api.py), imported
# on first use: their models cannot load before Django's apps are ready.
_DB_SCHEDULES = ("add_schedule", "cancel", "replace_schedule", "restore_schedule", "schedule_once")


def __getattr__(name):
    if name in _DB_SCHEDULES:
        from .db_schedules import api

        return getattr(api, name)
    raise AttributeError(f"module {__name__!r} has no attribute {name!r}")


__all__ = [
    *_DB_SCHEDULES,
    "CronJobBase",
    "Job",
    "Schedule",
    "TivixSchedule",
    "autodiscover",
    "cronScheduler",
    "get_class",
    "get_current_time",
    "logger",
    "register",
    "register_command",
    "registry",
]
