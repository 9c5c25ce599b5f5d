"""
Backfills: the job run once for each slot of its schedule in a past range,
oldest first, each with its slot, one at a time under the job's lease.

A slot with a successful run is not run again, unless the backfill says so;
a slot whose run is in flight is not run either. The lease makes the check
and the run one step (runs.claim_slot()), so two backfills of one range run
each slot once. A backfill's runs are not retried: a failed slot is run by
the next backfill of its range.
"""

import logging
import time
from dataclasses import dataclass, field
from datetime import datetime

from django.core.exceptions import ValidationError
from django.db import transaction
from django.db.models import F
from django.utils import timezone

from .. import conf, slots
from ..clock import PassClock, aware, stored, with_offset
from ..locks.base import new_token
from ..models import Backfill, JobRun
from ..registry import registry
from . import execution, runs, states

logger = logging.getLogger("django_cron")

# Seconds a slot's turn waits between tries while another run holds the lease.
WAIT = 0.2


@dataclass
class Progress:
    """What a backfill did: its runs, and the slots it did not run, with why."""

    runs: list = field(default_factory=list)
    passed: list = field(default_factory=list)  # (slot, why)


def _backfills():
    return Backfill.objects.using(conf.database())


def create(
    name: str,
    start: datetime,
    end: datetime,
    overlap: str = Backfill.Overlap.BUFFER_ALL,
    again: bool = False,
    requested_by: str = "",
    then=None,
) -> Backfill:
    """
    Record a backfill of the registered job ``name`` from ``start`` up to
    ``end``; return it, with its number of slots. Raise ValidationError, by
    field, if the job is unknown, the range is empty or holds too many slots.
    ``then(backfill)`` is called in the transaction that saves it (the audit row).
    """
    if name not in registry:
        raise ValidationError({"job": f"No job named {name!r} is registered."})
    if overlap not in Backfill.Overlap.values:
        choices = ", ".join(Backfill.Overlap.values)
        raise ValidationError({"overlap": f"Use one of {choices} for a backfill."})
    start, end = stored(aware(start)), stored(aware(end))
    if end <= start:
        raise ValidationError({"end": "The end of the range must come after its start."})
    backfill = Backfill(
        job=name, start=start, end=end, overlap=overlap, again=again, requested_by=requested_by
    )
    try:
        backfill.total = len(slots_of(backfill))
    except ValueError as exc:
        raise ValidationError({"start": f"Give a shorter range: {exc}."}) from exc
    if not backfill.total:
        raise ValidationError({"start": f"{name} has no slot in that range."})
    # The checks read and may write (the job's row) before the transaction:
    # SQLite refuses a transaction that reads, then writes beside another writer.
    with transaction.atomic(using=conf.database()):
        backfill.save(using=conf.database())
        if then is not None:
            then(backfill)
    return backfill


def shown(backfill: Backfill) -> dict:
    """Return the backfill and how far it got, as the API answers and the audit trail keeps it."""
    statuses = list(backfill.runs.values_list("status", flat=True))
    return {
        "id": backfill.pk,
        "job": backfill.job,
        "from": with_offset(backfill.start).isoformat(),
        "to": with_offset(backfill.end).isoformat(),
        "overlap": backfill.overlap,
        "again": backfill.again,
        "requested_by": backfill.requested_by,
        "slots": backfill.total,
        "ran": len(statuses),
        "ok": statuses.count(JobRun.Status.OK),
        "not_run": backfill.passed,
        "finished": with_offset(backfill.finished_at).isoformat() if backfill.finished_at else None,
    }


def _job(backfill: Backfill) -> tuple:
    """Return the backfill's job definition and state row (made if the runner has not yet)."""
    definition = registry.get(backfill.job)
    return definition, states.sync_states([definition], timezone.now()).get(definition.name)


def slots_of(backfill: Backfill, job=None) -> list:
    """Return the slots the backfill runs, oldest first, as stored; ValueError if too many."""
    definition, state = job or _job(backfill)
    anchor = state.next_run_at if state is not None else None
    return slots.between(definition.schedule, backfill.start, backfill.end, anchor)


def run(backfill: Backfill, on_run=None, on_pass=None, should_stop=None) -> Progress:
    """
    Run the backfill's slots in order; return what it did. ``on_run(run)``
    and ``on_pass(slot, why)`` are told of each slot as it goes;
    ``should_stop()`` is asked between slots and while one waits.
    """
    definition, state = _job(backfill)
    found = slots_of(backfill, (definition, state))
    _backfills().filter(pk=backfill.pk).update(total=len(found))
    progress = Progress()
    for slot in found:
        if should_stop is not None and should_stop():
            break
        claimed = _claim(definition, state, slot, backfill, should_stop)
        if isinstance(claimed, JobRun):
            outcome = execution.call_holding_lease(definition, claimed)
            runs.finish(definition, claimed, outcome, PassClock(timezone.now()))
            progress.runs.append(claimed)
            if on_run is not None:
                on_run(claimed)
            if outcome.stop is not None:
                raise outcome.stop
        else:
            progress.passed.append((slot, claimed))
            _backfills().filter(pk=backfill.pk).update(passed=F("passed") + 1)
            if on_pass is not None:
                on_pass(slot, claimed)
    _backfills().filter(pk=backfill.pk).update(finished_at=timezone.now())
    return progress


def _claim(definition, state, slot: datetime, backfill, should_stop):
    """Claim the slot; with overlap="buffer_all", wait for the lease. Return the run or why not."""
    while True:
        clock = PassClock(timezone.now())
        claimed = runs.claim_slot(definition, state, slot, new_token(), clock, backfill)
        if claimed != runs.BUSY or backfill.overlap == Backfill.Overlap.SKIP:
            return claimed
        if should_stop is not None and should_stop():
            return claimed
        time.sleep(WAIT)
