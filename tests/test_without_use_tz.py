"""
USE_TZ = False, as legacy sites run: times are naive, wall-clock time in
TIME_ZONE, in Python and in the database alike, and every trigger runs jobs.
"""

import signal
import subprocess
import sys
from datetime import datetime, timedelta
from datetime import timezone as dt_timezone
from io import StringIO

import pytest
from django.conf import settings
from django.core.management import call_command
from django.test import Client
from django.utils import timezone
from freezegun import freeze_time

from django_cron.checks import check_settings
from django_cron.clock import DbNow, aware, db_now_plus, stored
from django_cron.models import JobRun, JobState
from django_cron.runner import run_due
from django_cron.runtime import history
from django_cron.runtime import states as states_module
from django_cron.schedules import Cron, Interval
from django_cron.slots import storable_slot
from django_cron.trigger import trigger
from tests.conftest import ALIASES, ROOT, STARTED, on_each_database, subprocess_env, wait_for
from tests.effects import CALLS, record
from tests.servers import server, traffic
from tests.settings import PING_KEY

# Django's default TIME_ZONE before 5.0: UTC-6 in winter, so naive UTC and naive
# local time are hours apart, and a mix-up shows.
LEGACY_ZONE = "America/Chicago"
KEY = PING_KEY


@pytest.fixture
def naive(settings):
    settings.USE_TZ = False
    settings.TIME_ZONE = LEGACY_ZONE
    trigger.__init__()  # as a new process starts
    yield settings
    trigger.__init__()


def states(alias):
    return JobState.objects.using(alias)


def make_due(alias, name, ago=1.0):
    slot = timezone.now() - timedelta(seconds=ago)
    assert states(alias).filter(name=name).update(next_run_at=slot) == 1
    return slot


def assert_wall_clock(value):
    """Assert that ``value`` is naive local time in TIME_ZONE, now or a moment ago."""
    assert timezone.is_naive(value)
    assert abs(value - timezone.now()) < timedelta(minutes=1), (value, timezone.now())


def test_check_accepts_use_tz_false(naive):
    assert check_settings() == []


# Django 6.1's check connects to each database (for field checks on MySQL): the
# test databases must exist, and the subprocess uses them.
@pytest.mark.django_db(databases=[alias for alias in ALIASES if alias in settings.DATABASES])
def test_manage_py_check_passes_with_use_tz_false():
    env = subprocess_env("default", DJANGO_CRON_TEST_USE_TZ="0")
    done = subprocess.run(
        [sys.executable, "-m", "django", "check"],
        cwd=ROOT,
        env=env,
        capture_output=True,
        text=True,
        timeout=120,
    )
    assert done.returncode == 0, done.stderr
    assert "no issues" in done.stdout


@on_each_database
@pytest.mark.usefixtures("cron_db")
def test_the_database_clock_reads_wall_clock_time_in_time_zone(alias, naive):
    # Kathmandu is 5:45 off UTC: an hour-only or UTC-only clock shows.
    naive.TIME_ZONE = "Asia/Kathmandu"
    states(alias).create(name="clock")
    row = (
        states(alias)
        .annotate(now=DbNow(), later=db_now_plus(timedelta(hours=1)))
        .values("now", "later")
        .get()
    )
    assert_wall_clock(row["now"])
    # SQLite calls its clock function once per use in a statement: microseconds apart.
    assert abs(row["later"] - row["now"] - timedelta(hours=1)) < timedelta(seconds=1)


@pytest.mark.django_db(transaction=True, databases=["mysql"])
def test_mysqls_clock_follows_the_offset_in_force_also_in_a_compiled_query(naive):
    if "mysql" in naive.MISSING_SERVICES:
        pytest.skip(naive.MISSING_SERVICES["mysql"])
    naive.DJANGO_CRON = {**naive.DJANGO_CRON, "DATABASE": "mysql"}
    # Chicago is UTC-6 in winter, UTC-5 in summer. A job half an hour from now
    # on the wall clock (half an hour ago in summer) comes due, or stops being
    # due, while this process's clock is in the other season: the offset of
    # the moment is in the compiled query, not the offset of its first use.
    winter = timezone.make_aware(timezone.now()).utcoffset() == timedelta(hours=-6)
    shift = timedelta(minutes=30 if winter else -30)
    states("mysql").create(name="near", next_run_at=timezone.now() + shift)
    due_now = not winter
    assert bool(states_module.due()) is due_now
    other_season = datetime.now(dt_timezone.utc).replace(month=7 if winter else 1, tzinfo=None)
    with freeze_time(other_season, tick=True):
        assert bool(states_module.due()) is not due_now
    assert bool(states_module.due()) is due_now


@on_each_database
@pytest.mark.usefixtures("cron_db")
def test_a_job_runs_from_a_request_once_per_slot(alias, naive, registry):
    naive.MIDDLEWARE = ["django_cron.middleware.CronMiddleware"]
    naive.DJANGO_CRON = {**naive.DJANGO_CRON, "PING_KEY": KEY, "POLLING_FREQUENCY": 60}
    registry.register(lambda: record("tick"), name="tick", every=60)
    client = Client()
    assert client.get("/").status_code == 200
    state = states(alias).get(name="tick")
    assert_wall_clock(state.next_run_at - timedelta(seconds=60))
    CALLS.clear()
    slot = make_due(alias, "tick")
    trigger.next_check = 0.0
    assert client.get("/").status_code == 200
    trigger.next_check = 0.0
    assert client.get("/").status_code == 200
    assert [call[0] for call in CALLS if call[0] == "tick"] == ["tick"]
    (run,) = JobRun.objects.using(alias).all()
    assert run.status == JobRun.Status.OK and run.scheduled_for == slot
    assert_wall_clock(run.started_at)
    assert_wall_clock(run.finished_at)
    state = states(alias).get(name="tick")
    assert state.next_run_at == slot + timedelta(seconds=60)
    assert state.last_run_at == run.started_at and state.lease_until is None


@on_each_database
@pytest.mark.usefixtures("cron_db")
def test_cron_run_and_the_ping_run_due_jobs(alias, naive, registry):
    naive.DJANGO_CRON = {**naive.DJANGO_CRON, "PING_KEY": KEY}
    registry.register(lambda: record("tick"), name="tick", every=60)
    call_command("cron", "run", verbosity=0)
    make_due(alias, "tick")
    call_command("cron", "run", verbosity=0)
    make_due(alias, "tick")
    response = Client().get(f"/cron/ping/{KEY}/")
    assert response.status_code == 200 and response.json()["healthy"] is True
    assert [call[0] for call in CALLS] == ["tick", "tick"]
    slots = JobRun.objects.using(alias).values_list("scheduled_for", flat=True)
    assert len(set(slots)) == 2


@on_each_database
@pytest.mark.usefixtures("cron_db")
def test_cron_worker_runs_jobs_each_slot_once(alias, naive, tmp_path):
    effects = tmp_path / "effects.log"
    worker = start_worker(alias, effects)
    try:
        # server.tick runs every two seconds: three runs take about six.
        wait_for(
            lambda: JobRun.objects.using(alias).filter(job__name="server.tick").count() >= 3,
            timeout=60,
            message="three runs of server.tick",
        )
    finally:
        worker.send_signal(signal.SIGTERM)
        out, err = worker.communicate(timeout=60)
    assert worker.returncode == 0, err
    runs = JobRun.objects.using(alias).filter(job__name="server.tick")
    slots = list(runs.values_list("scheduled_for", flat=True))
    assert len(slots) == len(set(slots)) >= 3
    for run in runs:
        assert run.status == JobRun.Status.OK
        assert_wall_clock(run.started_at)
        # Each ran in its slot (one pass apart at most), not hours off it.
        assert timedelta(0) <= run.started_at - run.scheduled_for < timedelta(seconds=5)


@pytest.mark.races
@on_each_database
@pytest.mark.usefixtures("cron_db")
def test_two_servers_under_traffic_run_each_slot_once(alias, tmp_path):
    # Two gunicorn servers of three worker processes each, on one database, as
    # a legacy site grows; the test reads what they stored.
    effects = tmp_path / "effects.log"
    effects.touch()
    env = {"DJANGO_CRON_TEST_USE_TZ": "0", "DJANGO_CRON_TEST_EFFECTS": effects}
    with (
        server("gunicorn-sync", alias, tmp_path / "one.log", **env) as one,
        server("gunicorn-sync", alias, tmp_path / "two.log", **env) as two,
    ):
        statuses = traffic([one, two], seconds=7)
    assert set(statuses) == {200}
    ticks = [line for line in effects.read_text().splitlines() if line.startswith("server.tick")]
    slots = list(
        JobRun.objects.using(alias)
        .filter(job__name="server.tick")
        .values_list("scheduled_for", flat=True)
    )
    assert len(slots) >= 2, (tmp_path / "one.log").read_text()
    assert len(set(slots)) == len(slots) == len(ticks)


def start_worker(alias, effects):
    env = subprocess_env(
        alias,
        DJANGO_CRON_TEST_USE_TZ="0",
        DJANGO_CRON_TEST_SERVER="1",
        DJANGO_CRON_TEST_EFFECTS=effects,
    )
    process = subprocess.Popen(
        [sys.executable, "-m", "django", "cron", "worker", "server.tick"],
        cwd=ROOT,
        env=env,
        stdout=subprocess.PIPE,
        stderr=subprocess.PIPE,
        text=True,
    )
    STARTED.append(process)
    return process


# Daylight saving time in TIME_ZONE, walked on SQLite, whose clock freezegun moves.
# Frozen times are naive, as the wall clock is under USE_TZ = False.

BERLIN = "Europe/Berlin"


@pytest.fixture
def berlin(naive):
    naive.TIME_ZONE = BERLIN
    return naive


def walk(wall_times):
    """Run a pass at each wall-clock time; return {job: [wall times it ran at]}."""
    ran = {}
    for wall in wall_times:
        with freeze_time(wall):
            for run in run_due().runs:
                ran.setdefault(run.job.name, []).append(run.started_at.strftime("%H:%M"))
    return ran


@pytest.mark.django_db(transaction=True)
def test_fall_back_runs_a_fixed_time_once_and_repeats_no_slot(berlin, registry):
    # 2026-10-25: Berlin's clocks go from 03:00 back to 02:00; the wall clock
    # reads 02:00 to 03:00 twice.
    registry.register(lambda: None, name="daily", schedule="30 2 * * *")
    registry.register(lambda: None, name="half-hourly", schedule="*/30 * * * *")
    registry.register(lambda: None, name="hourly", every=3600)
    first = ["2026-10-25 01:00", "2026-10-25 01:30", "2026-10-25 02:00", "2026-10-25 02:30"]
    second = ["2026-10-25 02:00", "2026-10-25 02:30", "2026-10-25 02:59"]
    after = ["2026-10-25 03:00", "2026-10-25 03:30"]
    ran = walk(first + second + after)
    assert ran == {
        "daily": ["02:30"],
        # The second pass repeats wall times these jobs have run at: they wait
        # until the wall clock passes them, as stored times cannot tell the passes apart.
        "half-hourly": ["01:30", "02:00", "02:30", "03:00", "03:30"],
        "hourly": ["02:00", "03:00"],
    }
    slots = JobRun.objects.values_list("job__name", "scheduled_for")
    assert len(set(slots)) == len(slots)
    assert states("default").get(name="daily").next_run_at == datetime(2026, 10, 26, 2, 30)


@pytest.mark.django_db(transaction=True)
def test_spring_forward_runs_a_skipped_fixed_time_an_hour_later(berlin, registry):
    # 2026-03-29: Berlin's clocks jump from 02:00 to 03:00; 02:30 never happens.
    registry.register(lambda: None, name="daily", schedule="30 2 * * *")
    registry.register(lambda: None, name="half-hourly", schedule="*/30 * * * *")
    ran = walk(["2026-03-29 01:00", "2026-03-29 01:30", "2026-03-29 03:00", "2026-03-29 03:29"])
    assert ran == {"half-hourly": ["01:30", "03:00"]}
    assert states("default").get(name="daily").next_run_at == datetime(2026, 3, 29, 3, 30)
    assert walk(["2026-03-29 03:30"]) == {"daily": ["03:30"], "half-hourly": ["03:30"]}


@pytest.mark.django_db(transaction=True)
def test_a_job_in_its_own_time_zone_is_stored_in_time_zone(berlin, registry):
    # 09:00 in Tokyo is 01:00 in Berlin in winter.
    registry.register(lambda: None, name="tokyo", schedule="0 9 * * *", timezone="Asia/Tokyo")
    with freeze_time("2026-01-10 12:00"):
        run_due()
    assert states("default").get(name="tokyo").next_run_at == datetime(2026, 1, 11, 1, 0)


@on_each_database
@pytest.mark.usefixtures("cron_db")
def test_a_time_the_fall_back_repeats_reads_back_as_written(alias, berlin):
    # The claim compares next_run_at with the value read: a time in the
    # repeated hour must come back equal, or the job would never be claimed.
    repeated = datetime(2026, 10, 25, 2, 30)
    states(alias).create(name="repeated", next_run_at=repeated)
    read = states(alias).get(name="repeated").next_run_at
    assert read == repeated
    assert states(alias).filter(next_run_at=read, next_run_at__lte=DbNow()).count() == 1


def test_a_stored_time_the_fall_back_repeats_is_its_first_occurrence(berlin):
    # 02:30 CEST, not 02:30 CET an hour later.
    utc = dt_timezone.utc
    assert aware(datetime(2026, 10, 25, 2, 30)) == datetime(2026, 10, 25, 0, 30, tzinfo=utc)
    assert stored(datetime(2026, 10, 25, 1, 30, tzinfo=utc)) == datetime(2026, 10, 25, 2, 30)


def test_an_interval_slot_in_the_second_pass_is_skipped_keeping_the_phase(berlin):
    two_hours = Interval(7200)
    # 01:30 CEST + 2h is 02:30 CET, a wall time the first pass had: skipped for
    # 04:30 CET, two hours on, in phase.
    slots = [aware(datetime(2026, 10, 25, 1, 30))]
    for _ in range(2):
        slots.append(storable_slot(two_hours, two_hours.next_after(slots[-1])))
    assert [stored(slot).strftime("%H:%M") for slot in slots] == ["01:30", "04:30", "06:30"]
    assert slots[1] - slots[0] == timedelta(hours=4)
    # Both sides of the change stay: 00:30 CEST, 02:30 CEST, then 03:30 CET.
    slots = [aware(datetime(2026, 10, 25, 0, 30))]
    for _ in range(2):
        slots.append(storable_slot(two_hours, two_hours.next_after(slots[-1])))
    assert [stored(slot).strftime("%H:%M") for slot in slots] == ["00:30", "02:30", "03:30"]
    daily = Cron("30 2 * * *", BERLIN)
    first = slots[0]
    assert stored(storable_slot(daily, daily.next_after(first))) == datetime(2026, 10, 25, 2, 30)


@on_each_database
@pytest.mark.usefixtures("cron_db")
def test_status_list_admin_alerts_and_pruning_take_naive_times(alias, naive, registry, mailoutbox):
    naive.ADMINS = [("Ops", "ops@example.com")]
    naive.DJANGO_CRON = {**naive.DJANGO_CRON, "PING_KEY": KEY, "HISTORY_DAYS": 7}

    def broken():
        raise ValueError("broken on purpose")

    registry.register(broken, name="broken", every=60, alert_after=1)
    registry.register(lambda: None, name="fine", schedule="0 9 * * *")
    run_due()
    make_due(alias, "broken")
    run_due()
    (mail,) = mailoutbox
    assert mail.subject.endswith("[cron] broken failed 1 times in a row")
    # The JSON gives times with TIME_ZONE's offset: unambiguous to a monitor.
    response = Client().get(f"/cron/status/?key={KEY}")
    assert response.status_code == 503
    jobs = {job["name"]: job for job in response.json()["jobs"]}
    next_run = datetime.fromisoformat(jobs["fine"]["next_run"])
    assert next_run.tzinfo is not None
    assert next_run.replace(tzinfo=None) == states(alias).get(name="fine").next_run_at
    assert next_run.utcoffset() == timedelta(hours=-6)
    out = call_command_output("cron", "list")
    assert "next run: " in out and "-06:00" in out
    # A run older than HISTORY_DAYS goes at the next pass that runs something.
    job = states(alias).get(name="broken")
    old = timezone.now() - timedelta(days=8)
    JobRun.objects.using(alias).create(
        job=job, scheduled_for=old, started_at=old, status=JobRun.Status.OK
    )
    history._pruned.clear()
    make_due(alias, "broken")
    run_due()
    assert not JobRun.objects.using(alias).filter(started_at__lt=old + timedelta(days=1)).exists()


def call_command_output(*args):
    out = StringIO()
    call_command(*args, stdout=out)
    return out.getvalue()


@pytest.mark.django_db
def test_the_admin_shows_jobs_and_runs(naive, registry, admin_client):
    registry.register(lambda: None, name="tick", every=60)
    run_due()
    make_due("default", "tick")
    (run,) = run_due().runs
    for url in (
        "/admin/django_cron/jobstate/",
        f"/admin/django_cron/jobstate/{run.job_id}/change/",
        "/admin/django_cron/jobrun/",
        f"/admin/django_cron/jobrun/{run.pk}/change/",
    ):
        assert admin_client.get(url).status_code == 200, url
    shown = admin_client.get(f"/admin/django_cron/jobrun/{run.pk}/change/").content.decode()
    assert run.started_at.strftime("%H:%M:%S") in shown
