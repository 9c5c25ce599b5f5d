"""
Jobs that run in task workers (tests/test_task_workers.py). Each returns the
name of the worker that ran it, which the test gives each worker in its
environment (a forked work horse inherits it); a web process has none.
"""

import os
import time

from django_cron import register
from tests.effects import record


@register(every=2, name="task.tick", enqueue=True)
def tick():
    record("task.tick")
    return worker()


def worker():
    return os.environ.get("DJANGO_CRON_TEST_WORKER", "a web process")


@register(every=2, name="task.hang", enqueue=True, lease=3)
def hang():
    """Return at once, unless the test armed a hang: then the first run to see it hangs."""
    record("task.hang")
    armed = os.environ["DJANGO_CRON_TEST_HANG"]
    try:
        # Only one run wins the rename, in whichever worker.
        os.rename(armed, armed + ".taken")
    except FileNotFoundError:
        return worker()
    # Who hangs, and in which process: RQ runs each job in a work horse of its own.
    with open(armed + ".taken", "w") as taken:
        taken.write(f"{worker()} {os.getpid()}")
    time.sleep(600)
