"""The start_date and end_date job options, from registration to the runner."""

from datetime import datetime, timezone
from zoneinfo import ZoneInfo

import pytest
from freezegun import freeze_time

from django_cron import Job
from django_cron.models import JobState
from django_cron.runner import run_due
from django_cron.schedules import Cron, Interval
from tests.conftest import wall_time
from tests.effects import CALLS, record

UTC = timezone.utc


def noop():
    pass


def test_start_date_and_end_date_reach_an_interval(registry):
    registry.register(
        noop,
        name="window",
        every="5m",
        start_date="2026-05-01T09:00Z",
        end_date="2026-06-01T09:00Z",
    )
    schedule = registry.get("window").schedule
    assert isinstance(schedule, Interval)
    assert schedule.start == datetime(2026, 5, 1, 9, tzinfo=UTC)
    assert schedule.end == datetime(2026, 6, 1, 9, tzinfo=UTC)


def test_naive_dates_are_read_in_the_jobs_time_zone(registry):
    registry.register(
        noop,
        name="berlin",
        schedule="0 9 * * *",
        timezone="Europe/Berlin",
        start_date=datetime(2026, 5, 1, 9),
        end_date="2026-06-01 09:00",
    )
    schedule = registry.get("berlin").schedule
    assert isinstance(schedule, Cron)
    assert schedule.start == datetime(2026, 5, 1, 9, tzinfo=ZoneInfo("Europe/Berlin"))
    assert schedule.end == datetime(2026, 6, 1, 7, tzinfo=UTC)


def test_job_classes_set_the_dates_as_attributes(registry):
    class Campaign(Job):
        run_every = 3600
        start_date = datetime(2026, 5, 1, tzinfo=UTC)
        end_date = datetime(2026, 5, 2, tzinfo=UTC)

    registry.register(Campaign)
    (definition,) = registry.all()
    assert definition.schedule.key == (
        "every 3600s, from 2026-05-01T00:00:00+00:00 until 2026-05-02T00:00:00+00:00"
    )


def test_an_end_date_before_the_start_date_is_the_jobs_problem(registry):
    registry.register(
        noop, name="bad", every=60, start_date="2026-05-02T00:00Z", end_date="2026-05-01T00:00Z"
    )
    assert registry.get("bad").problem == (
        "the end (2026-05-01 00:00 UTC) is before the start (2026-05-02 00:00 UTC)"
    )


@pytest.mark.django_db(transaction=True, databases=["default"])
def test_an_interval_job_stops_after_its_end_date(registry, settings):
    # SQLite reads the runner's clock from Python, which freezegun moves.
    settings.DJANGO_CRON = {**settings.DJANGO_CRON, "DATABASE": "default"}
    registry.register(
        lambda: record("tick"),
        name="tick",
        every=300,
        start_date=datetime(2014, 1, 1, 0, 0),
        end_date=datetime(2014, 1, 1, 0, 10),
    )

    def next_run_at():
        return JobState.objects.using("default").get(name="tick").next_run_at

    with freeze_time("2013-12-31 23:58:00"):
        assert run_due().runs == []
    # The first slot is the start, not one interval after the job was first seen.
    assert next_run_at() == wall_time(2014, 1, 1, 0, 0)
    for minute in (0, 5, 10):
        with freeze_time(f"2014-01-01 00:{minute:02}:01"):
            (run,) = run_due().runs
        assert run.scheduled_for == wall_time(2014, 1, 1, 0, minute)
    assert next_run_at() is None
    with freeze_time("2014-01-01 00:30:00"):
        assert run_due().runs == []
    assert [call[0] for call in CALLS] == ["tick"] * 3
