"""
Jobs of the processes that tests/test_semantics.py starts: each writes what it
did, with the time, to the file named by DJANGO_CRON_TEST_EFFECTS, apart from
the database, so that the tests can hold the runs the database recorded
against the runs that happened.
"""

import os
import time

from django_cron import register

SLOW = float(os.environ.get("DJANGO_CRON_TEST_SLOW", "2"))


def note(name, event):
    path = os.environ.get("DJANGO_CRON_TEST_EFFECTS")
    if path:
        # O_APPEND writes of one short line do not interleave between processes.
        with open(path, "a") as log:
            log.write(f"{name} {event} {time.time():.6f} {os.getpid()}\n")


@register(every=1, missed="catch_up", name="semantics.burst")
def burst():
    note("semantics.burst", "ran")


@register(every=3600, name="semantics.slow")
def slow():
    note("semantics.slow", "start")
    time.sleep(SLOW)
    note("semantics.slow", "end")


@register(schedule="0 * * * *", name="semantics.hourly")
def hourly(slot=None):
    note("semantics.hourly", slot.isoformat() if slot else "forced")
    time.sleep(0.05)
