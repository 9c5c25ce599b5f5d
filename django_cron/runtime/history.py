"""
Pruning what is older than HISTORY_DAYS: runs, the audit trail and finished
one-off runs, one bounded batch of each at a time.
"""

import time
from datetime import timedelta

from django.core.signals import setting_changed
from django.db import transaction
from django.db.models import Q
from django.utils import timezone

from .. import audit, conf
from ..models import JobRun, JobSchedule, JobState

# When this process last pruned each database's history (time.monotonic()).
_pruned = {}
# Seconds between two prunings by one process while a batch leaves nothing over.
PRUNE_EVERY = 60.0


def _forget_pruning(**kwargs):
    _pruned.clear()


setting_changed.connect(_forget_pruning)


def prune_history() -> int:
    """
    Delete one bounded batch of runs older than HISTORY_DAYS, and one of the
    audit trail and of finished one-off runs; return how many runs. A process
    prunes once a minute at most, unless its last batch was full.
    """
    days = conf.get("HISTORY_DAYS")
    alias = conf.database()
    if days is None or time.monotonic() < _pruned.get(alias, float("-inf")) + PRUNE_EVERY:
        return 0
    _pruned[alias] = time.monotonic()
    cutoff = timezone.now() - timedelta(days=days)
    size = conf.get("PRUNE_BATCH_SIZE")
    old = JobRun.objects.using(alias)
    batch = list(
        old.filter(started_at__lt=cutoff)
        .exclude(status__in=[JobRun.Status.QUEUED, JobRun.Status.RUNNING])
        .order_by("started_at")
        .values_list("pk", flat=True)[:size]
    )
    pruned = old.filter(pk__in=batch).delete()[0] if batch else 0
    # Kept as long as the runs they explain.
    others = audit.prune(cutoff, size) + prune_one_offs(cutoff, size)
    if len(batch) == size or others >= size:
        _pruned.pop(alias)  # more to do: the next pass goes on
    return pruned


def prune_one_offs(cutoff, batch_size: int) -> int:
    """
    Delete one batch of one-off runs that ran or were cancelled before
    ``cutoff``: their entries, state rows and runs. Return how many entries.
    """
    done = (
        Q(cancelled_at__isnull=False)
        | Q(state__isnull=True)
        | Q(state__next_run_at__isnull=True, state__lease_owner="")
    )
    batch = list(
        JobSchedule.objects.using(conf.database())
        .filter(done, kind=JobSchedule.Kind.ONCE, at__lt=cutoff)
        .order_by("at")
        .values_list("pk", flat=True)[:batch_size]
    )
    if not batch:
        return 0
    with transaction.atomic(using=conf.database()):
        # The rows first, with their runs; then the entries, which no row points at any more.
        JobState.objects.using(conf.database()).filter(db_schedule__in=batch).delete()
        return JobSchedule.objects.using(conf.database()).filter(pk__in=batch).delete()[0]
