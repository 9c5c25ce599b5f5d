"""
Backfill: a job run once for each slot of its schedule in a past range, oldest
first, each with its slot; from the command line, the admin and the API.
"""

from collections import Counter
from datetime import datetime, timedelta
from datetime import timezone as dt_timezone
from io import StringIO
from zoneinfo import ZoneInfo

import pytest
from django.conf import settings
from django.core.management import call_command
from django.core.management.base import CommandError
from django.test import Client
from django.urls import reverse
from django.utils import timezone

from django_cron.clock import aware
from django_cron.models import AuditEntry, Backfill, JobRun, JobState
from django_cron.runner import run_due
from tests.conftest import on_each_cron_database, on_each_database, start, wait_for
from tests.effects import Flaky

SLOTS = []
FROM, TO = "2026-11-01T00:00:00+00:00", "2026-11-01T06:00:00+00:00"
SIX = [datetime(2026, 11, 1, hour, tzinfo=dt_timezone.utc) for hour in range(6)]


def hourly(slot):
    SLOTS.append(slot)


@pytest.fixture
def job(registry):
    SLOTS.clear()
    registry.register(hourly, name="hourly", schedule="0 * * * *")
    run_due()
    yield registry
    SLOTS.clear()


def backfill(*extra):
    out = StringIO()
    call_command("cron", "backfill", "hourly", "--from", FROM, "--to", TO, *extra, stdout=out)
    return out.getvalue()


def runs(alias, name="hourly"):
    return JobRun.objects.using(alias).filter(job__name=name).order_by("pk")


@on_each_database
@pytest.mark.usefixtures("cron_db")
def test_a_backfill_runs_each_slot_once_oldest_first_with_its_slot(alias, job):
    out = backfill()
    assert SLOTS == SIX
    assert [aware(run.scheduled_for) for run in runs(alias)] == SIX
    lines = out.splitlines()
    number = Backfill.objects.using(alias).get().pk
    assert lines[0] == f"Backfill #{number}: 6 slots of hourly, oldest first."
    # Each slot in the job's time zone (TIME_ZONE here).
    first = SIX[0].astimezone(ZoneInfo(settings.TIME_ZONE)).isoformat()
    assert lines[1].startswith(f"{first} hourly: ok in ")
    assert lines[-1] == "Ran 6 of 6 slots; 0 not run; 0 did not succeed."
    # Again: each slot had a successful run, and says so.
    out = backfill()
    assert len(SLOTS) == 6
    last = SIX[-1].astimezone(ZoneInfo(settings.TIME_ZONE)).isoformat()
    assert f"{last} hourly: not run, it had a successful run" in out
    # With --again, each runs once more.
    backfill("--again")
    assert SLOTS == SIX + SIX
    assert AuditEntry.objects.using(alias).filter(action="backfill").count() == 3


@on_each_database
@pytest.mark.usefixtures("cron_db")
def test_a_failed_slot_fails_the_command_is_not_retried_and_runs_at_the_next_backfill(
    alias, registry
):
    flaky = Flaky()
    registry.register(flaky, name="hourly", schedule="0 * * * *", retries=3, retry_delay=0)
    run_due()
    with pytest.raises(CommandError, match="6 of 6 runs did not succeed"):
        backfill()
    state = JobState.objects.using(alias).get(name="hourly")
    assert state.retry_slot is None
    flaky.failing = False
    backfill()
    assert Counter(runs(alias).values_list("status", flat=True)) == {"failed": 6, "ok": 6}


@on_each_database
@pytest.mark.usefixtures("cron_db")
def test_with_overlap_skip_a_slot_whose_turn_comes_while_a_run_is_in_flight_is_skipped(alias, job):
    # Another process's run holds the job's lease for the next minute.
    JobState.objects.using(alias).filter(name="hourly").update(
        lease_owner="elsewhere", lease_until=timezone.now() + timedelta(minutes=1)
    )
    out = backfill("--overlap", "skip")
    assert SLOTS == [] and out.count("another run was in flight") == 6
    assert Backfill.objects.using(alias).get().passed == 6


@pytest.mark.django_db
def test_a_bad_range_is_refused_and_records_nothing(job):
    for first, last in ((TO, FROM), ("2026-11-01T00:30", "2026-11-01T00:45"), ("soon", TO)):
        with pytest.raises(CommandError):
            call_command("cron", "backfill", "hourly", "--from", first, "--to", last)
    with pytest.raises(CommandError, match="10,000"):
        call_command("cron", "backfill", "hourly", "--from", "2020-01-01", "--to", TO)
    assert not Backfill.objects.exists() and not JobRun.objects.exists()


@pytest.mark.races
@on_each_database
@pytest.mark.usefixtures("cron_db")
def test_two_backfills_of_one_range_at_once_run_each_slot_once(alias, tmp_path):
    log = tmp_path / "effects.log"
    log.touch()
    command = ["command", "cron", "backfill", "semantics.hourly", "--from", FROM, "--to", TO]
    processes = [
        start(command, alias, DJANGO_CRON_TEST_SEMANTICS=1, DJANGO_CRON_TEST_EFFECTS=log)
        for _ in range(2)
    ]
    for process in processes:
        out, err = process.communicate(timeout=120)
        assert process.returncode == 0, err
    ran = [line.split()[1] for line in log.read_text().splitlines()]
    assert sorted(ran) == [slot.isoformat() for slot in SIX]
    assert runs(alias, "semantics.hourly").count() == 6


# The API and the admin --------------------------------------------------------------------


@on_each_cron_database
@pytest.mark.usefixtures("cron_db")
def test_the_api_backfills_with_the_run_scope_and_reports_progress(alias, job, operator_key):
    path, body = "/cron/api/jobs/hourly/backfill/", {"from": FROM, "to": TO}
    for scopes in (("read",), ("pause",), ("schedule",)):
        client = Client(headers={"Authorization": f"Bearer {operator_key(*scopes)}"})
        assert client.post(path, body, content_type="application/json").status_code == 403
    client = Client(headers={"Authorization": f"Bearer {operator_key('run', 'read')}"})
    for bad in ({"from": FROM}, {"from": TO, "to": FROM}, {**body, "overlap": "allow"}):
        assert client.post(path, bad, content_type="application/json").status_code == 400
    assert not Backfill.objects.using(alias).exists()
    response = client.post(path, body, content_type="application/json")
    assert response.status_code == 202, response.content
    shown = response.json()["backfill"]
    assert shown["slots"] == 6
    detail = f"/cron/api/backfills/{shown['id']}/"
    done = wait_for(lambda: client.get(detail).json()["backfill"]["finished"], timeout=30)
    assert done and client.get(detail).json()["backfill"]["ok"] == 6
    assert SLOTS == SIX


@pytest.mark.django_db(transaction=True)
def test_the_admin_asks_for_the_range_then_backfills_and_shows_progress(job, admin_client):
    state = JobState.objects.get(name="hourly")
    changelist = reverse("admin:django_cron_jobstate_changelist")
    data = {"action": "backfill", "_selected_action": [state.pk]}
    response = admin_client.post(changelist, data)
    assert response.status_code == 200 and "From" in response.content.decode()
    # The form reads its times in TIME_ZONE.
    local = ZoneInfo(settings.TIME_ZONE)
    start, end = (
        at.astimezone(local).strftime("%Y-%m-%d %H:%M:%S")
        for at in (SIX[0], SIX[-1] + timedelta(minutes=1))
    )
    data.update(apply="Backfill", start=start, end=end)
    data.update(overlap="buffer_all")
    response = admin_client.post(changelist, data, follow=True)
    assert response.status_code == 200
    (made,) = Backfill.objects.all()
    wait_for(lambda: Backfill.objects.get().finished_at is not None, timeout=30)
    listed = admin_client.get(reverse("admin:django_cron_backfill_changelist")).content.decode()
    assert "ran 6 of 6 slots" in listed and made.requested_by == "admin"
    assert AuditEntry.objects.get(action="backfill").job == "hourly"
    assert SLOTS == SIX
