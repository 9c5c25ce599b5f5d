"""Tivix django-cron classes, django-crontab's CRONJOBS, command jobs and async jobs."""

import asyncio
from datetime import datetime, timedelta
from io import StringIO
from zoneinfo import ZoneInfo

import pytest
from asgiref.sync import sync_to_async
from django.core.management import call_command
from django.utils import timezone
from freezegun import freeze_time

from django_cron import CronJobBase, Job, Schedule, register_command
from django_cron.checks import check_cronjobs, check_jobs
from django_cron.compat.crontab import read_cronjobs, register_cronjobs, shell_suffix
from django_cron.models import CronJobLog, JobRun, JobState
from django_cron.registry import cronScheduler
from django_cron.runner import run_due
from tests.conftest import wall_time
from tests.effects import CALLS, record
from tests.test_schedules import walk
from tests.tivix_cron import FailingUntilFixed, MyCronJob

BERLIN = ZoneInfo("Europe/Berlin")


def runcrons(*args):
    out = StringIO()
    call_command("runcrons", *args, stdout=out)
    return out.getvalue()


# Tivix: the classes -------------------------------------------------------------


HEADER = "Running Crons\n" + "=" * 40 + "\n"


def test_cron_classes_are_registered_under_their_code():
    names = {"my_app.my_cron_job", "my_app.at_times", "my_app.flaky"}
    assert names <= {d.name for d in cronScheduler.all()}
    flaky = cronScheduler.get("my_app.flaky")
    assert (flaky.max_running, flaky.alert_after) == (10, 4)
    assert cronScheduler.get("my_app.my_cron_job").max_running == 1


@pytest.mark.django_db
def test_runcrons_runs_a_class_with_no_previous_run_at_once_then_waits():
    out = runcrons("tests.tivix_cron.MyCronJob")
    assert out == HEADER + "[\N{HEAVY CHECK MARK}] my_app.my_cron_job\n"
    assert runcrons("tests.tivix_cron.MyCronJob") == HEADER + "[ ] my_app.my_cron_job\n"
    state = JobState.objects.get(name="my_app.my_cron_job")
    assert timedelta(minutes=119) < state.next_run_at - timezone.now() <= timedelta(minutes=120)
    assert JobRun.objects.get(job=state).message == "2 reports sent"
    log = CronJobLog.objects.get()
    assert (log.code, log.is_success, log.message, log.ran_at_time) == (
        "my_app.my_cron_job",
        True,
        "2 reports sent\n",
        None,
    )
    assert CALLS == [("MyCronJob", (), {})]


@pytest.mark.django_db
def test_runcrons_force_dry_run_and_silent():
    runcrons("tests.tivix_cron.MyCronJob")
    assert runcrons("--dry-run", "tests.tivix_cron.MyCronJob") == (
        HEADER + "[ ] my_app.my_cron_job\n"
    )
    assert runcrons("--dry-run", "--force", "tests.tivix_cron.MyCronJob") == (
        HEADER + "[\N{HEAVY CHECK MARK}] my_app.my_cron_job\n"
    )
    assert len(CALLS) == 1
    assert runcrons("--force", "--silent", "tests.tivix_cron.MyCronJob") == ""
    assert len(CALLS) == 2


@pytest.mark.django_db
def test_runcrons_without_arguments_runs_cron_classes(settings):
    settings.CRON_CLASSES = ["tests.tivix_cron.MyCronJob"]
    assert runcrons() == HEADER + "[\N{HEAVY CHECK MARK}] my_app.my_cron_job\n"


@pytest.mark.django_db
def test_a_failing_tivix_job_is_retried_after_its_minutes_and_runcrons_exits_0():
    out = runcrons("tests.tivix_cron.FlakyJob")
    assert out == HEADER + "[\N{HEAVY BALLOT X}] my_app.flaky\n"
    state = JobState.objects.get(name="my_app.flaky")
    assert state.retry_attempt == 2
    assert timedelta(minutes=4) < state.next_run_at - timezone.now() <= timedelta(minutes=5)
    (log,) = CronJobLog.objects.all()
    assert not log.is_success and "RuntimeError: remote API down" in log.message


@pytest.mark.django_db
def test_a_failing_job_without_retry_minutes_runs_again_at_the_next_runcrons(monkeypatch):
    for _ in range(3):
        runcrons("tests.tivix_cron.FailingUntilFixed")
    assert len(CALLS) == 3
    # A success then waits the whole interval, from when it started.
    monkeypatch.setattr(FailingUntilFixed, "broken", False)
    runcrons("tests.tivix_cron.FailingUntilFixed")
    assert runcrons("tests.tivix_cron.FailingUntilFixed").endswith("[ ] failing\n")
    started = JobRun.objects.filter(status="ok").get().started_at
    assert JobState.objects.get(name="failing").next_run_at == started + timedelta(minutes=60)


def test_unknown_class_paths_get_tivixs_message_and_exit_0():
    out = runcrons("tests.tivix_cron.Nope")
    assert out.startswith(
        HEADER + "ERROR: Make sure these are valid cron class names: ['tests.tivix_cron.Nope']"
    )
    assert "ImportError" in out


@pytest.mark.django_db
def test_tivix_classes_run_from_cron_run_too():
    out = StringIO()
    call_command("cron", "run", "my_app.my_cron_job", stdout=out)
    assert out.getvalue().startswith("my_app.my_cron_job: ok")
    assert CronJobLog.objects.get().code == "my_app.my_cron_job"


# Tivix: the schedules --------------------------------------------------------------


def test_run_at_times_that_passed_today_are_each_due_earliest_first(settings):
    settings.TIME_ZONE = "Europe/Berlin"
    schedule = Schedule(run_at_times=["11:30", "14:00", "23:15"])
    now = datetime(2026, 6, 1, 15, 0, tzinfo=BERLIN)
    assert schedule.first_after(now) == datetime(2026, 6, 1, 11, 30, tzinfo=BERLIN)
    early = datetime(2026, 6, 1, 9, 0, tzinfo=BERLIN)
    assert schedule.first_after(early) == datetime(2026, 6, 1, 11, 30, tzinfo=BERLIN)
    assert schedule.next_after(now) == datetime(2026, 6, 1, 23, 15, tzinfo=BERLIN)
    assert schedule.next_after(datetime(2026, 6, 1, 23, 15, tzinfo=BERLIN)) == datetime(
        2026, 6, 2, 11, 30, tzinfo=BERLIN
    )


@pytest.mark.django_db
def test_missed_run_at_times_are_caught_up_one_per_pass(registry, settings):
    settings.TIME_ZONE = "UTC"

    with freeze_time("2026-06-01 12:00:00"):
        for _ in range(4):
            runcrons("tests.tivix_cron.ThriceADay")
    times = list(CronJobLog.objects.order_by("id").values_list("ran_at_time", flat=True))
    assert [t.strftime("%H:%M") for t in times] == ["01:00", "02:00", "03:00"]
    assert JobState.objects.get(name="thrice").next_run_at == wall_time(2026, 6, 2, 1, 0)


@pytest.mark.django_db
def test_run_every_mins_and_run_at_times_both_count(registry, settings):
    settings.TIME_ZONE = "UTC"

    for moment in ["12:00:00", "12:05:00", "12:10:00", "12:20:00", "12:31:00"]:
        with freeze_time(f"2026-06-01 {moment}"):
            runcrons("tests.tivix_cron.EveryHalfHourAndAtTen")
    started = JobRun.objects.order_by("id").values_list("started_at", flat=True)
    assert [moment.strftime("%H:%M") for moment in started] == ["12:00", "12:10", "12:31"]


@pytest.mark.django_db
def test_force_starts_the_interval_again():
    with freeze_time("2026-06-01 12:00:00"):
        runcrons("tests.tivix_cron.MyCronJob")
    with freeze_time("2026-06-01 13:00:00"):
        runcrons("--force", "tests.tivix_cron.MyCronJob")
    with freeze_time("2026-06-01 14:30:00"):
        assert runcrons("tests.tivix_cron.MyCronJob").endswith("[ ] my_app.my_cron_job\n")
    with freeze_time("2026-06-01 15:00:01"):
        assert runcrons("tests.tivix_cron.MyCronJob").endswith(
            "[\N{HEAVY CHECK MARK}] my_app.my_cron_job\n"
        )


@pytest.mark.django_db
def test_run_every_mins_0_runs_at_every_pass_and_passes_the_check(registry):
    runcrons("tests.tivix_cron.AtEveryPass")
    assert check_jobs() == []
    for _ in range(3):
        runcrons("tests.tivix_cron.AtEveryPass", "tests.tivix_cron.AtEveryPass")
    assert len(CALLS) == 7
    assert cronScheduler.get("always").schedule.describe() == "At every pass"


def test_schedule_attributes_read_back():
    schedule = Schedule(
        run_every_mins=5,
        run_at_times=["10:00"],
        retry_after_failure_mins=2,
        run_on_days=[1],
        run_monthly_on_days=[3],
    )
    assert (schedule.run_every_mins, schedule.run_at_times) == (5, ["10:00"])
    assert (schedule.retry_after_failure_mins, schedule.run_monthly_on_days) == (2, [3])
    assert schedule.run_on_days == schedule.run_weekly_on_days == [1]


def test_weekly_and_monthly_days(settings):
    settings.TIME_ZONE = "UTC"
    monday = datetime(2026, 6, 1, 12, 0, tzinfo=ZoneInfo("UTC"))  # a Monday
    weekly = Schedule(run_at_times=["10:00"], run_weekly_on_days=[2, 4])  # Wed, Fri
    assert [d.strftime("%a %d") for d in walk(weekly, monday, 3)] == ["Wed 03", "Fri 05", "Wed 10"]
    older = Schedule(run_at_times=["10:00"], run_on_days=[2, 4])
    assert walk(older, monday, 3) == walk(weekly, monday, 3)
    monthly = Schedule(run_at_times=["06:00"], run_monthly_on_days=[1, 15])
    assert [d.strftime("%m-%d") for d in walk(monthly, monday, 3)] == ["06-15", "07-01", "07-15"]
    every = Schedule(run_every_mins=60 * 24, run_weekly_on_days=[0])  # Mondays only
    assert every.next_after(monday).strftime("%a %d") == "Mon 08"


def test_a_schedule_with_nothing_to_run_on_fails_the_check(registry):
    class Broken(CronJobBase):
        schedule = Schedule()
        code = "broken"

        def do(self):
            pass

    registry.register(Broken, name="broken")
    (error,) = check_jobs()
    assert error.id == "django_cron.E001" and "run_every_mins or run_at_times" in error.msg


# django-crontab ------------------------------------------------------------------


def test_cronjobs_entries_become_jobs():
    report = cronScheduler.get("crontab:tests.crontab_jobs.report")
    assert report.schedule.expression == "*/5 * * * *"
    assert (report.args, report.kwargs) == (("daily",), {"copies": 2})
    assert "crontab:clearsessions" in cronScheduler
    assert "crontab:clearsessions (2)" in cronScheduler


@pytest.mark.django_db
def test_cronjobs_entries_run_with_their_arguments():
    run_due(["crontab:tests.crontab_jobs.report"], force=True)
    assert CALLS == [("report", ("daily",), {"copies": 2})]
    (run,) = run_due(["crontab:clearsessions"], force=True).runs
    assert run.status == "ok"


@pytest.mark.django_db
def test_a_string_in_third_place_is_a_shell_suffix_as_in_django_crontab(settings, registry):
    # django-crontab's own README redirects a job's output this way.
    settings.CRONJOBS = [
        ("0 3 * * *", "tests.crontab_jobs.tidy", ">> /var/log/tidy.log"),
        ("0 4 * * *", "tests.crontab_jobs.tidy", "> /dev/null", {"deep": True}),
    ]
    jobs = [job for _, _, job in read_cronjobs()]
    assert [(job.name, job.args, job.kwargs) for job in jobs] == [
        ("crontab:tests.crontab_jobs.tidy", (), {}),
        ("crontab:tests.crontab_jobs.tidy (2)", (), {"deep": True}),
    ]
    assert [shell_suffix(entry) for entry in settings.CRONJOBS] == [
        ">> /var/log/tidy.log",
        "> /dev/null",
    ]
    assert [e.id for e in check_cronjobs() if e.id.startswith("django_cron.E")] == []
    register_cronjobs(registry)
    run_due(force=True)
    assert sorted(CALLS, key=str) == [("tidy", (), {"deep": True}), ("tidy", (), {})]


def test_malformed_cronjobs_and_shell_suffixes_are_reported(settings):
    settings.CRONJOBS = [
        ("* * * * *",),
        ("0 0 * * 0", "django.core.management.call_command", ["dumpdata"], {}, "> out.json"),
        ("0 3 * * *", "tests.crontab_jobs.report", ">> /var/log/report.log"),
    ]
    found = check_cronjobs()
    assert [e.id for e in found] == ["django_cron.E011", "django_cron.W004", "django_cron.W004"]
    assert "'>> /var/log/report.log'" in found[2].msg


# Management-command jobs -------------------------------------------------------------


@pytest.mark.django_db
def test_a_management_command_runs_as_a_job_with_its_output_captured(registry):
    register_command("check", "--deploy", "--fail-level", "CRITICAL", every="1h")
    (run,) = run_due(["command:check"], force=True).runs
    assert run.status == "ok"
    assert "System check identified" in run.output


@pytest.mark.django_db
def test_a_failing_command_is_a_failed_run(registry):
    register_command("nosuchcommand", name="broken", schedule="@daily")
    (run,) = run_due(["broken"], force=True).runs
    assert run.status == "failed" and "Unknown command" in run.error


# Async jobs ---------------------------------------------------------------------------


@pytest.fixture
def async_jobs(registry):
    async def fetch(kind):
        await asyncio.sleep(0.01)
        record("fetch", kind)
        return "fetched"

    class AsyncJob(Job):
        run_every = 60

        async def job(self):
            await asyncio.sleep(0.01)
            record("async job")

    registry.register(fetch, "feeds", name="fetch", every=60)
    registry.register(AsyncJob, name="async-job")
    return registry


@pytest.mark.django_db(transaction=True)
def test_async_jobs_run_from_sync_code(async_jobs):
    runs = run_due(["fetch", "async-job"], force=True).runs
    assert [r.status for r in runs] == ["ok", "ok"]
    assert sorted(CALLS) == [("async job", (), {}), ("fetch", ("feeds",), {})]
    assert runs[0].message == "fetched"


@pytest.mark.django_db(transaction=True)
def test_async_jobs_run_when_the_caller_has_an_event_loop(async_jobs):
    async def main():
        # As under ASGI: the runner is called from a thread off the event loop.
        return await sync_to_async(run_due)(["fetch", "async-job"], force=True)

    result = asyncio.run(main())
    assert [r.status for r in result.runs] == ["ok", "ok"]


# Tivix: settings, the log, the notification job -------------------------------------


def test_tivix_lock_backends_map_onto_ours(settings):
    from django_cron import conf
    from django_cron.checks import check_tivix_settings

    settings.DJANGO_CRON = {}
    settings.DJANGO_CRON_LOCK_BACKEND = "django_cron.backends.lock.cache.CacheLock"
    settings.DJANGO_CRON_CACHE = "locks"
    assert conf.get("LOCK_BACKEND") == "django_cron.locks.cache.CacheLock"
    assert conf.get("LOCK_OPTIONS") == {"alias": "locks"}
    assert check_tivix_settings() == []
    del settings.DJANGO_CRON_CACHE
    settings.DJANGO_CRON_LOCK_BACKEND = "django_cron.backends.lock.database.DatabaseLock"
    assert conf.get("LOCK_BACKEND") == "django_cron.locks.database.DatabaseLock"
    settings.DJANGO_CRON_LOCK_BACKEND = "django_cron.backends.lock.file.FileLock"
    assert conf.get("LOCK_BACKEND") == "django_cron.locks.database.DatabaseLock"
    (warning,) = check_tivix_settings()
    assert warning.id == "django_cron.W007" and "FileLock" in warning.msg
    # The project's own setting wins, and the Tivix one is named as ignored.
    settings.DJANGO_CRON = {"LOCK_BACKEND": "django_cron.locks.cache.CacheLock"}
    assert conf.get("LOCK_OPTIONS") == {}
    (warning,) = check_tivix_settings()
    assert "DJANGO_CRON_LOCK_BACKEND is ignored" in warning.msg


def test_tivix_settings_that_are_not_honoured_are_check_warnings(settings):
    from django_cron.checks import check_tivix_settings

    settings.DJANGO_CRON_LOCK_BACKEND = "myapp.locks.RedisLock"
    settings.DJANGO_CRON_LOCK_TIME = 3600
    settings.DJANGO_CRON_OUTPUT_ERRORS = False
    settings.DJANGO_CRON_CACHE = "locks"
    warnings = check_tivix_settings()
    assert [w.id for w in warnings] == ["django_cron.W007"] * 4
    assert [w.msg.split(" ", 1)[0] for w in warnings] == [
        "DJANGO_CRON_LOCK_BACKEND",
        "DJANGO_CRON_CACHE",
        "DJANGO_CRON_LOCK_TIME",
        "DJANGO_CRON_OUTPUT_ERRORS",
    ]
    assert all(w.hint for w in warnings)
    settings.DJANGO_CRON_OUTPUT_ERRORS = True
    del settings.DJANGO_CRON_LOCK_BACKEND, settings.DJANGO_CRON_LOCK_TIME
    del settings.DJANGO_CRON_CACHE
    assert check_tivix_settings() == []


@pytest.mark.django_db
def test_runcrons_deletes_logs_older_than_the_tivix_setting(settings):
    settings.DJANGO_CRON_DELETE_LOGS_OLDER_THAN = 7
    now = timezone.now()
    old = CronJobLog.objects.create(
        code="x", start_time=now - timedelta(days=8), end_time=now - timedelta(days=8)
    )
    recent = CronJobLog.objects.create(
        code="x", start_time=now - timedelta(days=6), end_time=now - timedelta(days=6)
    )
    runcrons("tests.tivix_cron.MyCronJob")
    assert not CronJobLog.objects.filter(pk=old.pk).exists()
    assert CronJobLog.objects.filter(pk=recent.pk).exists()
    assert CronJobLog.objects.count() == 2


@pytest.mark.django_db
def test_failed_runs_notification_mails_admins_with_the_tivix_prefix(settings, mailoutbox):
    settings.CRON_CLASSES = [
        "tests.tivix_cron.FlakyJob",
        "tests.tivix_cron.MyCronJob",
        "django_cron.cron.FailedRunsNotificationCronJob",
    ]
    settings.ADMINS = [("Ops", "ops@example.com")]
    settings.FAILED_RUNS_CRONJOB_EMAIL_PREFIX = "[site] "
    for _ in range(4):  # FlakyJob's MIN_NUM_FAILURES
        runcrons("--force", "tests.tivix_cron.FlakyJob")
    runcrons("--force", "tests.tivix_cron.MyCronJob")
    out = runcrons("django_cron.cron.FailedRunsNotificationCronJob")
    assert out.endswith("[\N{HEAVY CHECK MARK}] django_cron.FailedRunsNotificationCronJob\n")
    # MIN_NUM_FAILURES also sent this project's own alert (alert_after).
    (mail,) = [mail for mail in mailoutbox if mail.subject.startswith("[site]")]
    assert mail.subject == "[site] my_app.flaky failed 4 times in a row!"
    assert mail.to == ["ops@example.com"]
    assert mail.body.count("RuntimeError: remote API down") == 4


@pytest.mark.django_db
def test_a_tivix_job_reads_its_previous_success():
    seen = []
    runcrons("tests.tivix_cron.MyCronJob")
    original = MyCronJob.do
    try:
        MyCronJob.do = lambda self: seen.append(self.get_prev_success_cron())
        runcrons("--force", "tests.tivix_cron.MyCronJob")
    finally:
        MyCronJob.do = original
    (previous,) = seen
    assert previous == CronJobLog.objects.order_by("id").first()
    assert MyCronJob.get_time_until_run() > timedelta(minutes=119)


@pytest.mark.django_db
def test_the_admin_shows_cronjoblog_on_sites_with_cron_classes(admin_client):
    runcrons("tests.tivix_cron.MyCronJob")
    log = CronJobLog.objects.get()
    response = admin_client.get(f"/admin/django_cron/cronjoblog/{log.pk}/change/")
    assert response.status_code == 200
    assert "Cron job logs" in response.content.decode()
    assert "2 reports sent" in response.content.decode()
