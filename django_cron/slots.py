"""
When a job runs: its first slot, the slot after a due one, the slots to come,
and a slot as the runner stores it. Everything that asks "when" asks here:
the state rows, the claim, the database schedules, the health reports and
``cron next``.

Schedules answer in aware datetimes (``schedules.py``); the runner stores
them as Django stores datetimes (``clock.stored()``), naive in TIME_ZONE
without USE_TZ.
"""

from dataclasses import dataclass
from datetime import datetime, timedelta

from . import conf
from .clock import aware, stored
from .registry import registry
from .schedules import Interval

# The most slots a skip counts one by one; past it, the count says "at least".
COUNT_LIMIT = 10_000
# The most slots one backfill runs.
BACKFILL_LIMIT = 10_000


def storable_slot(schedule, slot: datetime) -> datetime:
    """
    Return the aware ``slot`` of ``schedule``, or the first slot after it that
    storage keeps apart from the others. With USE_TZ = False, a slot in the
    second pass of a repeated hour would read back as the first pass's, an
    hour early and a wall time already run: it is skipped, as its stored time
    cannot say when it is due. Interval jobs keep their phase. None (a
    schedule with no slot left) stays None.
    """
    while slot is not None and aware(stored(slot)) != slot:
        following = schedule.next_after(slot)
        if following is not None and following <= slot:
            raise ValueError(f"next_after({slot}) returned {following}, not a later slot")
        slot = following
    return slot


def stored_slot(schedule, slot: datetime) -> datetime:
    """Return ``slot`` (aware, from ``schedule``) as the runner stores it: see storable_slot()."""
    return stored(storable_slot(schedule, slot))


def key(definition) -> str:
    """Return what identifies the job's schedule on its row: a change of it plans the job anew."""
    try:
        return definition.schedule.key
    except Exception:
        return ""  # no schedule to speak of: the job is broken


def first_after(schedule, now: datetime):
    """Return the first slot of ``schedule`` after ``now``, as stored; raise what it raises."""
    return stored_slot(schedule, schedule.first_after(aware(now)))


def first_slot(definition, now: datetime):
    """Return the first run of a job, or None for a job that is broken or becomes so."""
    if definition.problem is not None:
        return None
    try:
        return first_after(definition.schedule, now)
    except Exception as exc:
        reason = f"its schedule cannot say when it runs first ({exc!r})"
        registry.mark_broken(definition, reason)
        return None


def preview(definition, now: datetime):
    """
    Return when a job the runner has not seen yet would run first, without
    marking it broken; None if it never runs.
    """
    if definition.problem is not None or not definition.enabled:
        return None
    try:
        return first_after(definition.schedule, now)
    except Exception:
        return None  # a schedule that cannot plan: its health says "broken"


def after_due(definition, seen: datetime, now: datetime):
    """
    Return ``(slot to run or None, next_run_at)`` for a job due at ``seen``.

    On time, or with missed="catch_up", the seen slot runs and the next one
    follows it. After missed slots, "coalesce" runs once and "skip" runs
    nothing; both then wait for the first slot after now, in phase.

    A schedule's last slot (a one-off run, an end date) has no next one:
    ``next_run_at`` becomes None. Missed by more than GRACE, "skip" drops it.
    """
    schedule = definition.schedule
    # Schedules answer in aware datetimes; without USE_TZ the runner's are naive.
    seen_at, now_at = aware(seen), aware(now)
    following = storable_slot(schedule, schedule.next_after(seen_at))
    if following is None:
        late = now_at - seen_at > timedelta(seconds=conf.get("GRACE"))
        return (None if late and definition.missed == "skip" else seen), None
    if following > now_at or definition.missed == "catch_up":
        return seen, stored(following)
    resumed = stored_slot(schedule, schedule.resume_after(seen_at, now_at))
    if definition.missed == "skip":
        return None, resumed
    return seen, resumed


def passed(schedule, seen: datetime, until: datetime) -> tuple:
    """
    Return ``(count, following)`` for slots skipped from ``seen`` (a slot, as
    stored) up to and including ``until``: how many there were, and the first
    slot after ``until``, as stored and in the phase of ``seen``. A ``seen``
    after ``until`` is not skipped: ``(0, seen)``.
    """
    seen_at, until_at = aware(seen), aware(until)
    if seen_at > until_at:
        return 0, seen
    following = schedule.resume_after(seen_at, until_at)
    if isinstance(schedule, Interval):
        # An interval's slots are evenly spaced from seen: count them by division.
        last = until_at if schedule.end is None else min(until_at, schedule.end)
        count = (last - seen_at) // schedule.every + 1
    else:
        count, slot = 0, seen_at
        while slot is not None and slot <= until_at and count < COUNT_LIMIT:
            count += 1
            slot = schedule.next_after(slot)
    following = storable_slot(schedule, following)
    return count, None if following is None else stored(following)


@dataclass(frozen=True)
class Busy:
    """
    When a one-at-a-time job's last run started and ended, as its row keeps
    them, and the end of the run before it if the last run was the one that
    waited (buffer_one's place). Stored datetimes, or None.
    """

    started: datetime | None = None
    ended: datetime | None = None
    waited_until: datetime | None = None
    # Whether the last run was for a slot of the row deciding: then its
    # slots due before that run started were missed, not kept waiting.
    mine: bool = False


@dataclass(frozen=True)
class Decision:
    """What a claim does with a due slot: the slot it runs (or None), and the next run."""

    slot: datetime | None
    following: datetime | None
    # Slots skipped for the overlap policy, counted on the row.
    skipped: int = 0
    # The slot waited for the last run to end: buffer_one's one place is taken.
    waited: bool = False
    # The slot fell in a blackout window (or came due in one): skipped, counted.
    blacked_out: bool = False


def decide(definition, seen: datetime, now: datetime, busy: Busy | None = None) -> Decision:
    """
    Decide what becomes of the job's slot ``seen``, due by ``now``.

    A slot that came due while the job's last run was in flight, or before it
    started if that run was for another schedule of the job (it won the
    claim), waited for a run in flight: the job's overlap policy says what
    becomes of it. "buffer_all" runs each such slot, in order; "buffer_one" runs the
    first that came due during the last run and skips the others; "skip"
    skips them all. A slot due after the last run ended was only missed, and
    ``missed`` says what becomes of it (after_due()).
    """
    if busy is None or busy.ended is None or definition.overlap == "allow":
        return Decision(*after_due(definition, seen, now))
    if aware(seen) > aware(busy.ended) or (busy.mine and aware(seen) <= aware(busy.started)):
        return Decision(*after_due(definition, seen, now))
    schedule, skipped = definition.schedule, 0
    if definition.overlap == "buffer_all":
        return Decision(seen, _stored_next(schedule, seen))
    if definition.overlap == "buffer_one":
        if busy.waited_until is not None and aware(seen) <= aware(busy.waited_until):
            # Due before the run that waited ended: that run took the one place.
            skipped, seen = passed(schedule, seen, busy.waited_until)
        if seen is not None and aware(seen) <= aware(busy.ended):
            # The first slot due during the last run: it waited, the later ones are skipped.
            following = _stored_next(schedule, seen)
            count, following = passed(schedule, following, busy.ended) if following else (0, None)
            return Decision(seen, following, skipped + count, waited=True)
    else:  # skip
        skipped, seen = passed(schedule, seen, busy.ended)
    if seen is None or aware(seen) > aware(now):
        return Decision(None, seen, skipped)
    slot, following = after_due(definition, seen, now)
    return Decision(slot, following, skipped)


def _stored_next(schedule, slot: datetime):
    """Return the slot after ``slot``, as stored; None if there is none."""
    following = storable_slot(schedule, schedule.next_after(aware(slot)))
    return None if following is None else stored(following)


def between(schedule, start: datetime, end: datetime, anchor=None) -> list:
    """
    Return the slots of ``schedule`` from ``start`` up to (not including)
    ``end``, oldest first, as stored. An interval with no start date keeps
    the phase of ``anchor`` (its stored next run), else counts from ``start``.
    Raise ValueError past BACKFILL_LIMIT slots.
    """
    start, end = aware(start), aware(end)
    if isinstance(schedule, Interval) and schedule.start is None and anchor is not None:
        anchor = aware(anchor)
        slot = anchor - ((anchor - start) // schedule.every) * schedule.every
    else:
        slot = schedule.next_after(start - timedelta(microseconds=1))
    found = []
    while slot is not None and slot < end:
        if len(found) == BACKFILL_LIMIT:
            raise ValueError(f"the range holds more than {BACKFILL_LIMIT:,} slots")
        kept = storable_slot(schedule, slot)
        if kept is not None and kept < end and (not found or stored(kept) != found[-1]):
            found.append(stored(kept))
        slot = schedule.next_after(slot)
    return found


def upcoming(schedule, moment: datetime, count: int, next_run_at=None, skip=None) -> list:
    """
    Return up to ``count`` slots after ``moment`` that the runner will run, aware.
    An interval job's slots keep the phase of its stored ``next_run_at``.
    ``skip(slot)`` leaves out slots that will be skipped (blackout windows);
    at most COUNT_LIMIT of them are passed over.
    """
    found = []
    try:
        if next_run_at is not None:
            slot = schedule.resume_after(aware(next_run_at), moment)
        else:
            slot = schedule.next_after(moment)
        # Without USE_TZ, not the slots it cannot store.
        for _ in range(count + (COUNT_LIMIT if skip is not None else 0)):
            slot = storable_slot(schedule, slot)
            if slot is None or len(found) == count:
                break  # past its end date, or a one-off run's one slot
            if skip is None or not skip(slot):
                found.append(slot)
            slot = schedule.next_after(slot)
    except OverflowError:
        pass  # a stored time at the end of the calendar: no slot comes after it
    return found
