"""
Windows when nothing runs: blackout windows kept in the database (the admin
and the API, scope "pause"), and days excluded in code (``exclude=``).
"""

from datetime import date, datetime, timedelta
from datetime import timezone as dt_timezone
from zoneinfo import ZoneInfo

import pytest
from django.conf import settings
from django.test import Client
from django.urls import reverse
from django.utils import timezone

import django_cron
from django_cron.calendars import Excluding
from django_cron.checks import check_jobs
from django_cron.clock import aware
from django_cron.models import AuditEntry, Blackout, JobRun, JobState
from django_cron.runner import run_due
from django_cron.schedules import Cron, Interval
from tests.conftest import on_each_cron_database, on_each_database, start, wait_for
from tests.effects import CALLS, record


def rows(alias, name):
    return JobState.objects.using(alias).filter(name=name)


def make_due(alias, name, ago=1.0):
    rows(alias, name).update(next_run_at=timezone.now() - timedelta(seconds=ago))


def window(alias, start, end, jobs=""):
    now = timezone.now()
    return Blackout.objects.using(alias).create(
        start=now + timedelta(seconds=start), end=now + timedelta(seconds=end), jobs=jobs
    )


@pytest.fixture
def jobs(registry):
    registry.register(lambda: record("daily"), name="reports.daily", every=60)
    registry.register(lambda: record("backup"), name="backup", every=60)
    run_due()
    return registry


# The runner -------------------------------------------------------------------------------


@on_each_database
@pytest.mark.usefixtures("cron_db")
def test_a_slot_in_a_window_is_skipped_counted_and_the_next_one_runs(alias, jobs):
    window(alias, -5, 5)
    make_due(alias, "backup")
    assert run_due().runs == [] and CALLS == []
    state = rows(alias, "backup").get()
    assert state.skipped_blackout == 1 and state.next_run_at > timezone.now()
    # After the window, the job runs at its slots again.
    Blackout.objects.using(alias).all().delete()
    make_due(alias, "backup")
    assert [run.job.name for run in run_due().runs] == ["backup"]


@on_each_database
@pytest.mark.usefixtures("cron_db")
def test_a_window_holds_only_the_jobs_its_pattern_matches(alias, jobs):
    window(alias, -5, 5, jobs="reports.*")
    make_due(alias, "reports.daily")
    make_due(alias, "backup")
    assert [run.job.name for run in run_due().runs] == ["backup"]
    assert rows(alias, "reports.daily").get().skipped_blackout == 1


@on_each_database
@pytest.mark.usefixtures("cron_db")
def test_a_slot_due_before_a_window_does_not_run_while_it_lasts(alias, jobs):
    # Due 30 s ago, before the window began 10 s ago: nothing runs while a window lasts.
    window(alias, -10, 5)
    make_due(alias, "backup", ago=30)
    assert run_due().runs == []
    assert rows(alias, "backup").get().skipped_blackout == 1


@on_each_database
@pytest.mark.usefixtures("cron_db")
def test_a_window_past_or_to_come_holds_nothing_now(alias, jobs):
    window(alias, -60, -40)
    window(alias, 40, 60)
    make_due(alias, "backup", ago=1)
    assert len(run_due().runs) == 1


@on_each_database
@pytest.mark.usefixtures("cron_db")
def test_a_forced_run_and_a_one_off_run_meet_the_window_differently(alias, jobs):
    window(alias, -5, 5, jobs="backup")
    # A forced run is someone's decision to run now: it runs.
    assert [run.forced for run in run_due(["backup"], force=True).runs] == [True]
    # A one-off run is a slot of the job: the window holds it.
    entry = django_cron.schedule_once("backup", delay=-1)
    assert run_due().runs == []
    once = JobState.objects.using(alias).get(db_schedule=entry)
    assert once.skipped_blackout == 1 and once.next_run_at is None


# The API and the admin --------------------------------------------------------------------


def api(key):
    return Client(headers={"Authorization": f"Bearer {key}"})


@on_each_cron_database
@pytest.mark.usefixtures("cron_db")
def test_the_api_adds_lists_and_deletes_windows_with_the_pause_scope(alias, operator_key):
    client = api(operator_key("pause", "read"))
    end = (timezone.now() + timedelta(hours=1)).isoformat()
    body = {"end": end, "jobs": "reports.*", "reason": "warehouse reload"}
    response = client.post("/cron/api/blackouts/add/", body, content_type="application/json")
    assert response.status_code == 201, response.content
    shown = response.json()["blackout"]
    assert shown["in_force"] and shown["jobs"] == "reports.*" and shown["created_by"]
    assert [w["id"] for w in client.get("/cron/api/blackouts/").json()["blackouts"]] == [
        shown["id"]
    ]
    response = client.post(f"/cron/api/blackouts/{shown['id']}/delete/")
    assert response.status_code == 200 and not Blackout.objects.using(alias).exists()
    actions = AuditEntry.objects.using(alias).order_by("at").values_list("action", flat=True)
    assert list(actions) == ["blackout", "delete blackout"]


@on_each_cron_database
@pytest.mark.usefixtures("cron_db")
def test_the_api_refuses_a_bad_window_and_other_scopes_and_changes_nothing(alias, operator_key):
    now = timezone.now()
    bad = [
        {"end": (now - timedelta(hours=1)).isoformat()},  # ends before it starts (now)
        {"end": "tomorrow"},
        {"start": now.isoformat()},  # no end
        {"end": (now + timedelta(hours=1)).isoformat(), "jobs": 5},
        {"end": (now + timedelta(hours=1)).isoformat(), "until": "later"},
    ]
    client = api(operator_key("pause"))
    for body in bad:
        response = client.post("/cron/api/blackouts/add/", body, content_type="application/json")
        assert response.status_code == 400, (body, response.content)
    good = {"end": (now + timedelta(hours=1)).isoformat()}
    for scopes in (("read",), ("run",), ("schedule",)):
        response = api(operator_key(*scopes)).post(
            "/cron/api/blackouts/add/", good, content_type="application/json"
        )
        assert response.status_code == 403, scopes
    assert Client().post("/cron/api/blackouts/add/", good).status_code in (401, 403)
    assert not Blackout.objects.using(alias).exists()
    assert not AuditEntry.objects.using(alias).exists()


@pytest.mark.django_db
def test_the_admin_adds_a_window_with_its_author_and_an_audit_row(admin_client):
    # The form reads its times in TIME_ZONE.
    start = datetime.now(ZoneInfo(settings.TIME_ZONE))
    data = {
        "start_0": start.strftime("%Y-%m-%d"),
        "start_1": start.strftime("%H:%M:%S"),
        "end_0": (start + timedelta(days=1)).strftime("%Y-%m-%d"),
        "end_1": start.strftime("%H:%M:%S"),
        "jobs": "",
        "reason": "migration",
    }
    response = admin_client.post(reverse("admin:django_cron_blackout_add"), data)
    assert response.status_code == 302, response.content
    (window,) = Blackout.objects.all()
    assert window.created_by == "admin" and window.reason == "migration"
    assert AuditEntry.objects.get().action == "blackout"
    listed = admin_client.get(reverse("admin:django_cron_blackout_changelist")).content.decode()
    assert "every job" in listed
    data["end_0"] = (start - timedelta(days=1)).strftime("%Y-%m-%d")
    response = admin_client.post(reverse("admin:django_cron_blackout_add"), data)
    assert response.status_code == 200 and "must come after the start" in response.content.decode()


# Two runners ------------------------------------------------------------------------------


@pytest.mark.races
@on_each_database
@pytest.mark.usefixtures("cron_db")
def test_two_runners_skip_every_slot_of_a_window_once_and_run_the_others(alias, tmp_path):
    effects = tmp_path / "effects.log"
    effects.touch()
    processes = [
        start(["loop", str(tmp_path), "0.5"], alias, DJANGO_CRON_TEST_EFFECTS=effects)
        for _ in range(2)
    ]
    wait_for(lambda: len(list(tmp_path.glob("ready-*"))) == 2, timeout=60, message="runners")
    wait_for(lambda: rows(alias, "loop.job").filter(last_status="ok").exists(), timeout=30)
    held = window(alias, 0.5, 3.0, jobs="loop.*")
    wait_for(lambda: timezone.now() > held.end + timedelta(seconds=1.5), timeout=30)
    (tmp_path / "stop").touch()
    for process in processes:
        process.communicate(timeout=30)
    runs = JobRun.objects.using(alias).filter(job__name="loop.job")
    slots = list(runs.values_list("scheduled_for", flat=True))
    assert len(set(slots)) == len(slots)
    assert not [slot for slot in slots if held.start <= slot < held.end]
    assert any(slot >= held.end for slot in slots)
    # Five slots of half a second fell in it, each skipped once.
    assert 4 <= rows(alias, "loop.job").get().skipped_blackout <= 6


# Days excluded in code --------------------------------------------------------------------


def test_excluded_days_are_not_slots_at_all():
    friday = datetime(2026, 12, 25, 9, tzinfo=dt_timezone.utc)  # Christmas, a Friday
    schedule = Excluding(Cron("0 9 * * *"), ["sat", "Sunday", "2026-12-25"], "UTC")
    following = [schedule.next_after(friday - timedelta(days=1, hours=1))]
    for _ in range(2):
        following.append(schedule.next_after(following[-1]))
    assert [slot.date() for slot in following] == [
        date(2026, 12, 24),
        date(2026, 12, 28),
        date(2026, 12, 29),
    ]
    assert schedule.describe().endswith("except on Saturdays, Sundays, 2026-12-25")
    assert schedule.key != Cron("0 9 * * *").key


def test_an_excluded_range_is_read_in_the_jobs_time_zone():
    schedule = Excluding(Interval(3600), [("2026-12-24", "2026-12-26")], "Pacific/Auckland")
    # 2026-12-23 11:30 UTC is 2026-12-24 00:30 in Auckland: excluded until the 27th there.
    slot = schedule.next_after(datetime(2026, 12, 23, 10, 30, tzinfo=dt_timezone.utc))
    assert aware(slot) == datetime(2026, 12, 26, 11, 30, tzinfo=dt_timezone.utc)


@pytest.mark.django_db
def test_a_job_with_exclude_skips_those_days_and_says_so(registry):
    registry.register(lambda: None, name="weekdays", schedule="0 9 * * *", exclude=["sat", "sun"])
    definition = registry.get("weekdays")
    assert definition.problem is None and check_jobs() == []
    assert "except on Saturdays, Sundays" in definition.schedule.describe()


@pytest.mark.parametrize(
    "exclude",
    [["someday"], [("2026-12-26", "2026-12-24")], [("2026-12-24",)], ["2026-02-30"]],
)
def test_an_unusable_exclude_fails_the_check(registry, exclude):
    registry.register(lambda: None, name="bad", every=60, exclude=exclude)
    (error,) = check_jobs()
    assert error.id == "django_cron.E020" and error.hint


def test_a_schedule_excluded_on_every_day_it_has_never_comes_due(registry):
    registry.register(lambda: None, name="never", schedule="0 9 * * 6", exclude=["sat"])
    (error,) = check_jobs()
    assert error.id == "django_cron.E016"
