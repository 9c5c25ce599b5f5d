"""
A pause skips: the slots that fall while a job is paused, turned off or off
in the database are not run when it comes back, and are counted.
"""

from datetime import datetime, timedelta
from datetime import timezone as dt_timezone
from io import StringIO

import pytest
from django.core.management import call_command
from django.test import Client
from django.urls import reverse
from django.utils import timezone

import django_cron
from django_cron import slots
from django_cron.clock import aware
from django_cron.models import JobState
from django_cron.runner import run_due
from django_cron.runtime.states import resume
from django_cron.schedules import Cron, Interval
from tests.conftest import on_each_database
from tests.effects import CALLS, record
from tests.settings import PING_KEY

START = datetime(2026, 1, 1, tzinfo=dt_timezone.utc)


def _aware(result):
    count, following = result
    return count, following and aware(following)


@pytest.mark.parametrize(
    "schedule, until, expected",
    [
        # 00:00, 00:15, 00:30, 00:45 and 01:00 fell; the next is 01:15.
        (Cron("*/15 * * * *"), timedelta(hours=1), (5, START + timedelta(minutes=75))),
        # Counted by division, in the phase of the first slot skipped.
        (Interval(60), timedelta(minutes=10, seconds=30), (11, START + timedelta(minutes=11))),
        # The end came within the pause: nothing is left to run.
        (Interval(60, end=START + timedelta(minutes=5)), timedelta(hours=1), (6, None)),
        # Not due yet: nothing is skipped, and the slot stays.
        (Interval(60), timedelta(seconds=-1), (0, START)),
    ],
    ids=["cron", "interval", "ended", "not-due"],
)
def test_a_skip_counts_the_slots_up_to_now_and_finds_the_next_in_phase(schedule, until, expected):
    assert _aware(slots.passed(schedule, START, START + until)) == expected


def test_a_skip_of_more_slots_than_it_counts_still_finds_the_next():
    every_second = Cron("* * * * * *")
    count, following = _aware(slots.passed(every_second, START, START + timedelta(days=1)))
    assert count == slots.COUNT_LIMIT
    assert following == START + timedelta(days=1, seconds=1)


def due_since(alias, name, seconds):
    """Put the job's next slot ``seconds`` in the past, as if it fell during a pause."""
    past = timezone.now() - timedelta(seconds=seconds)
    assert JobState.objects.using(alias).filter(name=name).update(next_run_at=past) == 1


@pytest.mark.parametrize("missed", ["coalesce", "catch_up", "skip"])
@pytest.mark.usefixtures("cron_db")
@on_each_database
def test_a_resumed_job_runs_none_of_the_slots_of_its_pause_whatever_its_missed_policy(
    alias, registry, missed
):
    registry.register(lambda: record("tick"), name="tick", every=60, missed=missed)
    run_due()
    rows = JobState.objects.using(alias).filter(name="tick")
    rows.update(**JobState.paused_fields("ops", "moving"))
    due_since(alias, "tick", 170)  # slots at -170 s, -110 s and -50 s fell in the pause
    assert run_due().runs == []
    assert resume(rows) == ["tick"]
    state = rows.get()
    assert state.enabled and state.skipped_paused == 3
    assert timezone.now() < state.next_run_at <= timezone.now() + timedelta(seconds=60)
    assert run_due().runs == [] and CALLS == []
    # Resumed already: a second resume changes nothing and counts nothing.
    assert resume(rows) == [] and rows.get().skipped_paused == 3


@pytest.mark.usefixtures("cron_db")
@on_each_database
def test_a_retry_waiting_when_the_job_was_paused_is_dropped_with_the_pause(alias, registry):
    registry.register(lambda: record("tick"), name="tick", every=60)
    run_due()
    rows = JobState.objects.using(alias).filter(name="tick")
    slot = timezone.now() - timedelta(seconds=100)
    rows.update(
        **JobState.paused_fields("ops"),
        next_run_at=timezone.now() - timedelta(seconds=30),
        retry_slot=slot,
        retry_attempt=2,
    )
    resume(rows)
    state = rows.get()
    # The retry is not run; the slot after the retried one (-40 s) fell too.
    assert (state.retry_slot, state.retry_attempt, state.skipped_paused) == (None, 0, 1)
    assert state.next_run_at > timezone.now()
    assert run_due().runs == []


@pytest.mark.usefixtures("cron_db")
@on_each_database
def test_a_schedule_turned_off_in_the_database_skips_its_slots_until_turned_on(alias, registry):
    registry.register(lambda to="": record("report", to), name="report", every=3600)
    run_due()
    entry = django_cron.add_schedule("report", every=60, kwargs={"to": "ops"})
    entry.enabled = False
    entry.save()
    row = JobState.objects.using(alias).get(db_schedule=entry)
    due_since(alias, row.name, 170)
    assert run_due().runs == []
    row.refresh_from_db()
    assert row.skipped_paused == 3 and row.next_run_at > timezone.now()
    entry.enabled = True
    entry.save()
    row.refresh_from_db()
    assert row.next_run_at > timezone.now()
    assert run_due().runs == [] and CALLS == []


@pytest.mark.django_db
def test_the_skipped_slots_show_in_cron_list_the_status_details_and_the_admin(
    registry, admin_client
):
    registry.register(lambda: None, name="tick", every=60)
    run_due()
    rows = JobState.objects.filter(name="tick")
    rows.update(**JobState.paused_fields("ops"))
    due_since("default", "tick", 590)  # ten slots fell in the pause
    resume(rows)
    rows.update(skipped_overlap=1)
    said = "10 slots while paused, 1 slot while a run was in flight"
    listed = StringIO()
    call_command("cron", "list", stdout=listed)
    assert f"    skipped:  {said}\n" in listed.getvalue()
    details = Client(headers={"X-Cron-Key": PING_KEY}).get("/cron/status/").json()
    (job,) = [job for job in details["jobs"] if job["name"] == "tick"]
    assert job["skipped"] == {"paused": 10, "overlap": 1, "blackout": 0, "text": said}
    assert job["overlap"] == "buffer_one"
    page = admin_client.get(reverse("admin:django_cron_jobstate_change", args=[rows.get().pk]))
    assert said in page.content.decode()


@pytest.mark.usefixtures("cron_db")
@on_each_database
def test_a_schedule_off_in_the_database_whose_slots_cannot_be_counted_stops_no_other_job(
    alias, registry, settings
):
    registry.register(lambda to="": record("report", to), name="report", every=3600)
    registry.register(lambda: record("tick"), name="tick", every=60)
    run_due()
    entry = django_cron.add_schedule("report", cron="*/5 * * * *", kwargs={"to": "ops"})
    entry.enabled = False
    entry.save()
    # Written past every check, as a hand edit would: slots since year 1 cannot be counted.
    first = datetime(1, 1, 1, 0, 5, tzinfo=dt_timezone.utc if settings.USE_TZ else None)
    JobState.objects.using(alias).filter(db_schedule=entry).update(next_run_at=first)
    due_since(alias, "tick", 1)
    assert [run.job.name for run in run_due().runs] == ["tick"]
    # Left as it was, and said broken once rather than failing every pass.
    assert JobState.objects.using(alias).get(db_schedule=entry).next_run_at == first
    assert [run.job.name for run in run_due(["tick"], force=True).runs] == ["tick"]
