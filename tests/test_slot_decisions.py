"""
What a claim does with a due slot (slots.decide()): the overlap policy for a
slot that waited for a run in flight, the missed policy for one only missed.
Pure decisions on an interval job due every minute; no database.
"""

from datetime import datetime, timedelta
from datetime import timezone as dt_timezone

import pytest

from django_cron.clock import aware, stored
from django_cron.jobs import JobDefinition
from django_cron.slots import Busy, decide

T0 = datetime(2026, 1, 1, tzinfo=dt_timezone.utc)


def at(minutes):
    return stored(T0 + timedelta(minutes=minutes))


def job(**options):
    return JobDefinition(lambda: None, options={"every": 60, "name": "job", **options})


def decision(definition, seen, now, busy):
    found = decide(definition, at(seen), at(now), busy)
    following = found.following and (aware(found.following) - T0) / timedelta(minutes=1)
    slot = found.slot and (aware(found.slot) - T0) / timedelta(minutes=1)
    return slot, following, found.skipped, found.waited


# The last run started at 0:00 and ended at 3:30; slots 1, 2 and 3 came due meanwhile.
RAN_LONG = Busy(started=at(0), ended=at(3.5), mine=True)


@pytest.mark.parametrize(
    "overlap, expected",
    [
        # The first slot due during the run waited; 2 and 3 are skipped; 4 is next.
        ("buffer_one", (1, 4, 2, True)),
        # Each runs in turn: 1 now, 2 next.
        ("buffer_all", (1, 2, 0, False)),
        # 1, 2 and 3 are skipped; 4 is not due yet at 3:40.
        ("skip", (None, 4, 3, False)),
    ],
)
def test_a_slot_due_while_a_run_was_in_flight_follows_the_overlap_policy(overlap, expected):
    assert decision(job(overlap=overlap), 1, 3 + 2 / 3, RAN_LONG) == expected


def test_a_slot_that_lost_its_place_to_the_one_that_waited_is_skipped():
    # The run that ended at 6:00 waited from 3:30: slots due by then lost the place.
    busy = Busy(started=at(3.5), ended=at(6), waited_until=at(3.5), mine=False)
    # 2 and 3 lost it; 4 came due during that run and takes it; 5 and 6 are skipped.
    assert decision(job(overlap="buffer_one"), 2, 6.1, busy) == (4, 7, 4, True)


def test_a_slot_only_missed_follows_the_missed_policy_not_the_overlap_policy():
    # Down from 0:30 to 5:10: the row's own last run (0:00 to 0:30) held nothing up.
    busy = Busy(started=at(0), ended=at(0.5), mine=True)
    assert decision(job(overlap="skip", missed="catch_up"), 1, 5 + 1 / 6, busy) == (
        1,
        2,
        0,
        False,
    )


def test_a_slot_due_before_another_schedules_run_started_waited_for_it():
    # Due at 1:00, but a run of another schedule of the job won the claim at 1:00:01.
    busy = Busy(started=at(1 + 1 / 60), ended=at(1.5), mine=False)
    assert decision(job(overlap="skip"), 1, 1.6, busy) == (None, 2, 1, False)
