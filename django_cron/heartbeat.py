"""
A heartbeat: a thread that keeps a running job's lease alive.

A lease ends a dead run on its own (lock-at-most-for). While the job runs, the
heartbeat extends it every third of its length, so a job may run longer than
its lease for as long as its process lives, and a crash is still noticed
within one lease.
"""

import logging
import threading
from contextlib import contextmanager

from django.db import connections

from . import conf

logger = logging.getLogger("django_cron")


@contextmanager
def heartbeat(beat, every: float, name: str):
    """
    Call ``beat()`` every ``every`` seconds in a thread of its own while the
    block runs; ``beat()`` returns whether the lease is still held.
    """
    if not conf.get("HEARTBEAT"):
        yield
        return
    stopping = threading.Event()
    thread = threading.Thread(
        target=_beat,
        args=(beat, max(every, 0.05), name, stopping),
        daemon=True,
        name="django_cron heartbeat",
    )
    thread.start()
    try:
        yield
    finally:
        stopping.set()
        thread.join()


def _beat(beat, every, name, stopping):
    warned = False
    try:
        while not stopping.wait(every):
            try:
                held = beat()
            except Exception as exc:
                # A database or cache blip: the next beat tries again, well
                # before the lease runs out.
                logger.warning("Could not extend the lease of job %s: %r", name, exc)
                continue
            if not held and not warned:
                logger.warning("Job %s lost its lease while running", name)
                warned = True
    finally:
        # This thread's own connections; nobody else would close them.
        connections.close_all()
