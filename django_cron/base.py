"""The module layout of the oldest django-cron: ``from django_cron.base import cron, Job``."""

from .jobs import Job
from .registry import cronScheduler

cron = cronScheduler

__all__ = ["Job", "cron", "cronScheduler"]
