"""
What the test jobs did: a list in memory, and optionally a file that
subprocesses append to; and a job body that fails on demand.
"""

import os

CALLS = []


def record(name, *args, **kwargs):
    CALLS.append((name, args, kwargs))
    path = os.environ.get("DJANGO_CRON_TEST_EFFECTS")
    if path:
        # O_APPEND writes of one short line do not interleave between processes.
        with open(path, "a") as log:
            log.write(f"{name} {os.getpid()}\n")


class Flaky:
    """A job body that fails while ``failing`` is true."""

    def __init__(self):
        self.failing = True

    def __call__(self):
        record("flaky")
        if self.failing:
            raise ValueError("still broken")
