"""Functions scheduled through django-crontab's CRONJOBS setting in tests/settings.py."""

from tests.effects import record


def report(kind, copies=1):
    record("report", kind, copies=copies)


def tidy(**kwargs):
    record("tidy", **kwargs)
