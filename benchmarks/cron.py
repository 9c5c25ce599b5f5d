"""The benchmark jobs, registered from the settings when django_cron autodiscovers."""

import time

from django.conf import settings

from django_cron import register


def noop():
    """Never runs in a measurement: every hour, and the runner has just seen it."""


def sleep():
    """The job of benchmark (c): it holds the sync worker after the response."""
    time.sleep(settings.BENCH_SLEEP_SECONDS)


for i in range(settings.BENCH_JOBS):
    register(noop, name=f"bench.job{i}", every=3600)

if settings.BENCH_SLEEP_EVERY:
    register(sleep, name="bench.sleep", every=settings.BENCH_SLEEP_EVERY)
