"""
The slot a run is for: recorded on each run, passed to a job that takes a
parameter named ``slot``, and shown with the run's lateness.
"""

import asyncio
from datetime import timedelta

import pytest
from django.core.exceptions import ValidationError
from django.test import Client
from django.urls import reverse
from django.utils import timezone

import django_cron
from django_cron import Job
from django_cron.clock import aware
from django_cron.models import JobRun, JobState
from django_cron.runner import run_due
from tests.conftest import on_each_cron_database, on_each_database
from tests.effects import CALLS, record
from tests.test_runner import make_due

SLOTS = []


def takes_slot(slot):
    SLOTS.append(slot)


class Report(Job):
    run_every = 60

    def job(self, to="nobody", *, slot=None):
        SLOTS.append(slot)
        record("report", to)


@pytest.fixture(autouse=True)
def clear_slots():
    SLOTS.clear()
    yield
    SLOTS.clear()


def runs(alias, name):
    return JobRun.objects.using(alias).filter(job__name=name).order_by("scheduled_for")


@on_each_database
@pytest.mark.usefixtures("cron_db")
def test_each_catch_up_run_gets_its_own_slot_as_an_aware_datetime(alias, registry):
    registry.register(takes_slot, name="tick", every=60, missed="catch_up")
    run_due()
    first = make_due(alias, "tick", ago=150)  # three slots: -150 s, -90 s, -30 s
    for _ in range(3):
        run_due()
    recorded = [aware(run.scheduled_for) for run in runs(alias, "tick")]
    assert recorded == [aware(first) + timedelta(seconds=60 * n) for n in range(3)]
    assert SLOTS == recorded and all(slot.tzinfo is not None for slot in SLOTS)


@on_each_database
@pytest.mark.usefixtures("cron_db")
def test_a_forced_run_gets_no_slot_and_has_no_lateness(alias, registry):
    registry.register(takes_slot, name="tick", every=3600)
    run = run_due(["tick"], force=True).runs[0]
    assert SLOTS == [None]
    assert run.forced and run.lateness is None


@on_each_database
@pytest.mark.usefixtures("cron_db")
def test_a_job_class_takes_its_slot_in_job_and_its_arguments_as_before(alias, registry):
    registry.register(Report, "ops")
    run_due()
    slot = make_due(alias, Report.__module__ + ".Report", ago=2)
    (run,) = run_due().runs
    assert SLOTS == [aware(slot)] and CALLS == [("report", ("ops",), {})]
    # Started two seconds after its slot.
    assert 1.9 < run.lateness < 30


@on_each_database
@pytest.mark.usefixtures("cron_db")
def test_a_retry_gets_the_slot_it_retries_and_an_async_job_gets_its_slot(alias, registry):
    failures = []

    async def flaky(slot):
        await asyncio.sleep(0)
        SLOTS.append(slot)
        if not failures:
            failures.append(slot)
            raise RuntimeError("once")

    registry.register(flaky, name="flaky", every=3600, retries=1, retry_delay=0)
    run_due()
    slot = make_due(alias, "flaky")
    run_due()
    run_due()  # the retry, due at once
    assert SLOTS == [aware(slot), aware(slot)]
    assert [run.attempt for run in runs(alias, "flaky")] == [1, 2]


@on_each_database
@pytest.mark.usefixtures("cron_db")
def test_a_one_off_run_gets_its_time_as_its_slot(alias, registry):
    registry.register(takes_slot, name="tick", every=3600)
    run_due()
    entry = django_cron.schedule_once("tick", delay=-1)
    run_due()
    assert SLOTS == [aware(entry.at)]


@on_each_database
@pytest.mark.usefixtures("cron_db")
def test_a_job_taking_slot_can_be_scheduled_with_its_other_arguments(alias, registry):
    def report(to, slot):
        SLOTS.append((to, slot))

    registry.register(report, "nobody", name="report", every=3600)
    run_due()
    django_cron.schedule_once("report", kwargs={"to": "ops"}, delay=-1)
    run_due()
    assert [to for to, _ in SLOTS] == ["ops"]
    with pytest.raises(ValidationError):
        django_cron.schedule_once("report", kwargs={"to": "ops", "nobody": 1})


@on_each_cron_database
@pytest.mark.usefixtures("cron_db")
def test_an_operator_cannot_set_the_slot_a_run_is_for(alias, registry, operator_key):
    def report(to="nobody", slot=None):
        SLOTS.append(slot)

    registry.register(report, name="report", every=3600)
    client = Client(headers={"Authorization": f"Bearer {operator_key('schedule')}"})
    for body in ({"kwargs": {"slot": "2026-01-01T00:00:00Z"}}, {"args": ["ops", "2026-01-01"]}):
        response = client.post("/cron/api/jobs/report/once/", body, content_type="application/json")
        assert response.status_code == 400, response.content
    assert not JobState.objects.using(alias).filter(db_schedule__isnull=False).exists()


@pytest.mark.django_db
def test_the_run_list_and_page_show_the_slot_and_how_late_the_run_started(registry, admin_client):
    registry.register(takes_slot, name="tick", every=60)
    run_due()
    make_due("default", "tick", ago=3)
    (run,) = run_due().runs
    listed = admin_client.get(reverse("admin:django_cron_jobrun_changelist")).content.decode()
    assert "late" in listed and f"{run.lateness:.2f} s" in listed
    page = admin_client.get(reverse("admin:django_cron_jobrun_change", args=[run.pk]))
    assert f"{run.lateness:.2f} s" in page.content.decode()
    assert timezone.now() - timedelta(seconds=60) < run.scheduled_for < run.started_at
