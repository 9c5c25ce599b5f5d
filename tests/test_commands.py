import contextlib
import logging
import os
import re
import signal
import threading
from datetime import timedelta
from io import StringIO

import pytest
from django.core.management import CommandError, call_command
from django.db import DatabaseError, connections
from django.db.migrations.executor import MigrationExecutor
from django.utils import timezone

from django_cron import Job
from django_cron.clock import with_offset
from django_cron.compat.tivix.jobs import tivix_options
from django_cron.models import Blackout, CronJobLog, JobRun, JobState
from django_cron.registry import cronScheduler
from django_cron.runner import run_due
from django_cron.schedules import Interval
from tests.effects import CALLS, record


def cron(*args):
    out, err = StringIO(), StringIO()
    call_command("cron", *args, stdout=out, stderr=err)
    return out.getvalue(), err.getvalue()


def cron_exit(*args):
    """
    Run a cron command expected to fail; return (exit status, stdout, stderr).

    It raises CommandError, as Django's own commands do, for call_command()
    callers to catch; the command line turns it into that exit status.
    """
    out, err = StringIO(), StringIO()
    with pytest.raises(CommandError) as error:
        call_command("cron", *args, stdout=out, stderr=err)
    return error.value.returncode, out.getvalue(), err.getvalue()


def make_due(name):
    JobState.objects.filter(name=name).update(next_run_at=timezone.now() - timedelta(seconds=1))


# The db fixture, not a module-wide django_db mark: the tests without a
# database below must connect for real, which no mark allows.
@pytest.fixture
def jobs(registry, db):
    class CheckMail(Job):
        run_every = 300

        def job(self):
            record("mail")

    def broken():
        raise ValueError("disk full")

    registry.register(CheckMail, name="mail")
    registry.register(broken, name="broken", schedule="30 2 * * 1-5", timezone="Europe/Berlin")
    return registry


def test_list_shows_schedule_in_words_timezone_runs_and_enabled(jobs):
    cron("run")
    make_due("mail")
    cron("run")
    out, _ = cron("list")
    assert "mail\n    schedule: Every 5 minutes\n" in out
    assert "broken\n    schedule: At 02:30 AM, Monday through Friday (Europe/Berlin)\n" in out
    assert re.search(r" ok in \d+\.\d{3}s\n    enabled:  yes\n    health:   ok", out)
    assert out.count("next run: 20") == 2


def test_run_runs_what_is_due_and_reports_each_run(jobs):
    cron("run")
    make_due("mail")
    out, _ = cron("run")
    assert out.startswith("mail: ok in ") and CALLS == [("mail", (), {})]
    assert cron("run")[0] == "Nothing was due.\n"
    assert cron("run", "-v", "0")[0] == ""


def test_run_force_runs_the_named_jobs_now_and_fails_if_one_failed(jobs):
    code, out, _ = cron_exit("run", "--force", "broken")
    assert code == 1
    assert out.startswith("broken: failed in ") and out.endswith(": ValueError: disk full\n")
    assert cron("run", "--force", "mail")[0].startswith("mail: ok in ")
    assert CALLS == [("mail", (), {})]


def test_run_force_needs_names_and_unknown_names_are_errors(jobs):
    with pytest.raises(CommandError, match="needs the names"):
        cron("run", "--force")
    with pytest.raises(CommandError, match="Unknown job: nope"):
        cron("run", "nope")


def test_status_is_zero_when_healthy_and_names_each_unhealthy_job(jobs):
    out, _ = cron("status")
    assert out.strip() == "2 jobs, all healthy."
    cron("run")
    cron_exit("run", "--force", "broken")
    JobState.objects.filter(name="mail").update(next_run_at=timezone.now() - timedelta(hours=1))
    code, _, err = cron_exit("status")
    assert code == 1
    assert err.splitlines() == ["broken: failing ValueError: disk full", "mail: overdue"]


def test_status_ignores_paused_jobs(jobs):
    cron_exit("run", "--force", "broken")
    JobState.objects.filter(name="broken").update(enabled=False)
    assert cron("status")[0].strip() == "2 jobs, all healthy."


def test_next_prints_run_times_in_the_jobs_zone_then_the_sites(jobs, settings):
    settings.TIME_ZONE = "America/New_York"
    out, err = cron("next", "broken", "--after", "2026-10-23T12:00", "--count", "3")
    assert [line.split() for line in out.splitlines()] == [
        ["2026-10-26T02:30:00+01:00", "2026-10-25T21:30:00-04:00"],
        ["2026-10-27T02:30:00+01:00", "2026-10-26T21:30:00-04:00"],
        ["2026-10-28T02:30:00+01:00", "2026-10-27T21:30:00-04:00"],
    ]
    # The schedule in words and the two zones, apart from the times a script reads.
    assert err.startswith("broken: At 02:30 AM, Monday through Friday. Each run in Europe/Berlin,")
    assert "then in America/New_York (TIME_ZONE)" in err


def test_next_keeps_an_interval_jobs_phase(jobs):
    cron("run")
    due = JobState.objects.get(name="mail").next_run_at
    out, _ = cron("next", "mail", "--count", "2")
    due = with_offset(due)
    firsts = [line.split()[0] for line in out.splitlines()]
    assert firsts == [due.isoformat(), (due + timedelta(seconds=300)).isoformat()]


def test_next_leaves_out_what_will_not_run_and_says_why(jobs):
    cron("run")
    mail = JobState.objects.filter(name="mail")
    start = mail.get().next_run_at
    # A blackout window over the next two slots: the third is the next run.
    Blackout.objects.create(start=start, end=start + timedelta(seconds=301), jobs="ma*")
    out, _ = cron("next", "mail", "--count", "1")
    assert out.split()[0] == with_offset(start + timedelta(seconds=600)).isoformat()
    mail.update(**JobState.paused_fields("ops", "moving"))
    out, err = cron("next", "mail", "--count", "3")
    assert out == "" and "mail is paused: no run comes due." in err


def test_next_refuses_a_count_out_of_reach(jobs):
    for count in ("0", "1001"):
        with pytest.raises(CommandError, match="--count"):
            cron("next", "mail", "--count", count)


def test_next_rejects_a_bad_date(jobs):
    with pytest.raises(CommandError, match="--after"):
        cron("next", "mail", "--after", "tomorrow")


# Without a database ------------------------------------------------------------

# The aliases of tests/settings.py: a refused connection, and a database with no tables.
UNANSWERING = [
    pytest.param("offline", id="database-down"),
    pytest.param("unmigrated", id="not-migrated"),
]
MESSAGES = {
    "offline": r"database unavailable: connection failed: .*127\.0\.0\.1.*",
    "unmigrated": (
        r"django_cron's tables are missing or out of date: "
        r"run manage\.py migrate --database=unmigrated"
    ),
}
ACTIONS = [
    ["list"],
    ["run"],
    ["run", "--force", "mail"],
    ["status"],
    ["next", "mail"],
]


@pytest.fixture
def unanswering(request, settings, registry, django_db_blocker):
    """Point django_cron at a database that cannot answer (the parameter), with one job."""
    registry.register(lambda: record("mail"), name="mail", every=300)
    settings.DJANGO_CRON = {**settings.DJANGO_CRON, "DATABASE": request.param}
    # No db fixture: under one, pytest-django makes every alias the test does not
    # own raise before connecting. Here the connection is attempted for real.
    with django_db_blocker.unblock():
        yield request.param


def fails_in_one_line(caplog, command, *args):
    """Run a command expected to fail; return its CommandError's message."""
    out, err = StringIO(), StringIO()
    with pytest.raises(CommandError) as error, caplog.at_level(logging.DEBUG):
        call_command(command, *args, stdout=out, stderr=err)
    message = str(error.value)
    assert "\n" not in message
    # Nothing else said, by the command or in the log; runcrons starts with Tivix's header.
    header = "Running Crons\n" + "=" * 40 + "\n" if command == "runcrons" else ""
    assert (out.getvalue(), err.getvalue()) == (header, "") and "Traceback" not in caplog.text
    return message


@pytest.mark.parametrize("unanswering", UNANSWERING, indirect=True)
@pytest.mark.parametrize("args", ACTIONS, ids=" ".join)
def test_every_action_says_in_one_line_why_the_database_cannot_answer(unanswering, args, caplog):
    assert re.fullmatch(MESSAGES[unanswering], fails_in_one_line(caplog, "cron", *args))


@pytest.mark.parametrize("unanswering", UNANSWERING, indirect=True)
@pytest.mark.parametrize("args", [[], ["--force"], ["--dry-run"]], ids=str)
def test_runcrons_says_in_one_line_why_the_database_cannot_answer(unanswering, args, caplog):
    assert re.fullmatch(MESSAGES[unanswering], fails_in_one_line(caplog, "runcrons", *args))


# The latest migration whose absence breaks the runner's queries (it adds
# the queue wait's columns). A later one that only drops a column or adds an index leaves
# a database the code can still work with, as during a rolling deploy.
NEEDED = ("django_cron", "0005_queue_hand_off")


@pytest.fixture
def behind(settings, registry, django_db_blocker):
    """Point django_cron at a database migrated up to, not including, a migration it needs."""
    registry.register(lambda: record("mail"), name="mail", every=300)
    settings.DJANGO_CRON = {**settings.DJANGO_CRON, "DATABASE": "unmigrated"}
    with django_db_blocker.unblock():
        executor = MigrationExecutor(connections["unmigrated"])
        plan = executor.loader.graph.forwards_plan(NEEDED)
        executor.migrate([plan[-2]])
        yield
        # The in-memory database lives as long as its thread: leave it without tables.
        MigrationExecutor(connections["unmigrated"]).migrate([("django_cron", None)])


@pytest.mark.parametrize("args", ACTIONS, ids=" ".join)
def test_a_database_behind_the_latest_migration_says_to_migrate(behind, args, caplog):
    assert re.fullmatch(MESSAGES["unmigrated"], fails_in_one_line(caplog, "cron", *args))


def test_runs_queued_before_the_upgrade_get_a_lease_to_be_taken_within(django_db_blocker):
    """Migration 0005: a run queued with no lease could be neither taken nor swept."""
    before, after = (
        ("django_cron", "0004_lighter_job_state"),
        ("django_cron", "0005_queue_hand_off"),
    )
    connection = connections["unmigrated"]
    with django_db_blocker.unblock():
        executor = MigrationExecutor(connection)
        executor.migrate([before])
        try:
            old = executor.loader.project_state([before]).apps
            state = old.get_model("django_cron", "JobState").objects.using("unmigrated")
            runs = old.get_model("django_cron", "JobRun").objects.using("unmigrated")
            job = state.create(name="old")
            now = timezone.now()
            for status in ("queued", "ok"):
                runs.create(job=job, scheduled_for=now, started_at=now, status=status)
            MigrationExecutor(connection).migrate([after])
            leases = dict(JobRun.objects.using("unmigrated").values_list("status", "lease_until"))
            assert leases["ok"] is None
            assert now + timedelta(seconds=290) < leases["queued"] < now + timedelta(seconds=310)
        finally:
            # The in-memory database lives as long as its thread: leave it without tables.
            MigrationExecutor(connection).migrate([("django_cron", None)])


def test_tivix_jobs_wait_for_migrate_then_run_without_their_log_table(
    settings, registry, django_db_blocker, caplog
):
    """
    A deploy whose migrate has not run yet: the runner's pass fails on the
    missing column, marks nothing broken, and once migrated the jobs run with
    no restart, even with Tivix's CronJobLog table missing.
    """
    from tests.tivix_cron import MyCronJob

    settings.DJANGO_CRON = {**settings.DJANGO_CRON, "DATABASE": "unmigrated"}
    registry.register(MyCronJob, **tivix_options(MyCronJob))
    connection = connections["unmigrated"]
    with django_db_blocker.unblock():
        MigrationExecutor(connection).migrate([("django_cron", "0006_tivix_run_log")])
        try:
            with pytest.raises(DatabaseError):
                run_due()  # migration 0007 is pending
            assert cronScheduler.get("my_app.my_cron_job").problem is None
            executor = MigrationExecutor(connection)
            executor.migrate(executor.loader.graph.leaf_nodes("django_cron"))
            with connection.schema_editor() as editor:
                editor.delete_model(CronJobLog)
            run_due()  # the job is seen; Tivix's log cannot say when it last ran
            assert cronScheduler.get("my_app.my_cron_job").problem is None
            (run,) = run_due(["my_app.my_cron_job"], force=True).runs
            assert run.status == "ok" and run.message == "2 reports sent"
            # Its CronJobLog row is what is missing, and the log says so.
            assert "A receiver of run_finished failed" in caplog.text
        finally:
            if CronJobLog._meta.db_table not in connection.introspection.table_names():
                with connection.schema_editor() as editor:
                    editor.create_model(CronJobLog)
            # The in-memory database lives as long as its thread: leave it without tables.
            MigrationExecutor(connection).migrate([("django_cron", None)])


@contextlib.contextmanager
def sigterm_after(seconds):
    """Send this process SIGTERM after ``seconds``, as systemd stops a worker; restore handlers."""
    handlers = {signum: signal.getsignal(signum) for signum in (signal.SIGTERM, signal.SIGINT)}
    timer = threading.Timer(seconds, os.kill, (os.getpid(), signal.SIGTERM))
    timer.start()
    try:
        yield
    finally:
        timer.cancel()
        for signum, handler in handlers.items():
            signal.signal(signum, handler)


@pytest.mark.parametrize("unanswering", [UNANSWERING[1]], indirect=True)
def test_a_worker_without_tables_does_not_start(unanswering, caplog):
    # Should it start after all, it stops rather than hang the suite.
    with sigterm_after(5):
        message = fails_in_one_line(caplog, "cron", "worker")
    assert re.fullmatch(MESSAGES["unmigrated"], message)


@pytest.mark.parametrize("unanswering", [UNANSWERING[0]], indirect=True)
def test_a_worker_started_while_the_database_is_down_waits_for_it(unanswering, settings, caplog):
    settings.DJANGO_CRON = {**settings.DJANGO_CRON, "POLLING_FREQUENCY": 0.1}
    with sigterm_after(1), caplog.at_level(logging.INFO, logger="django_cron"):
        cron("worker")
    waits = [r.getMessage() for r in caplog.records if "next try in" in r.getMessage()]
    assert len(waits) >= 2 and waits[0].startswith("cron worker: database unavailable: ")
    # One line each, no traceback: an outage of an hour must not bury the log.
    assert all(r.exc_info is None for r in caplog.records)
    assert "cron worker stopped" in caplog.text


def test_status_names_a_job_whose_schedule_never_fires(registry, db):
    registry.register(lambda: None, name="fine", every=60)
    registry.register(lambda: None, name="feb30", schedule="0 0 30 2 *")
    cron("run")
    code, _, err = cron_exit("status")
    assert code == 1
    assert err.startswith("feb30: broken it never comes due")


def test_list_shows_the_next_run_of_a_job_not_seen_yet_and_what_each_job_returned(registry, db):
    registry.register(lambda: "42 mails sent", name="mail", every=300)
    registry.register(lambda: None, name="quiet", schedule="30 2 * * *")
    registry.register(lambda: None, name="feb30", schedule="0 0 30 2 *")
    out, _ = cron("list")
    # Nothing has run and nothing is stored: the runner's first plan, computed.
    assert not JobState.objects.exists()
    assert re.search(
        r"quiet\n    schedule: .*\n    next run: \d{4}-\d\d-\d\dT02:30:00[+-]\d\d:\d\d\n", out
    )
    assert re.search(r"mail\n    schedule: .*\n    next run: \d{4}-", out)
    assert re.search(r"feb30\n    schedule: .*\n    next run: -\n", out)
    cron("run", "--force", "mail", "quiet")
    out, _ = cron("list")
    assert "    returned: 42 mails sent\n" in out
    assert out.count("returned:") == 1


def test_run_prints_a_line_per_run_with_what_it_returned_and_more_with_v2(registry, db):
    registry.register(lambda: "42 mails sent", name="mail", every=300)
    out, _ = cron("run", "--force", "mail")
    assert re.fullmatch(r"mail: ok in \d+\.\d{3}s: 42 mails sent\n", out)
    out, _ = cron("run", "-v", "2")
    assert out.splitlines()[:2] == ["Nothing was due.", "Checked 1 jobs, ran 0."]
    assert out.splitlines()[2].startswith("Next due at 20")
    assert cron("run", "--force", "mail", "-v", "0")[0] == ""


def test_a_failed_run_is_a_command_error_that_call_command_callers_can_catch(jobs):
    status, out, _ = cron_exit("run", "--force", "broken", "mail")
    assert status == 1
    assert "broken: failed in " in out and "mail: ok in " in out
    with pytest.raises(CommandError, match=r"^1 of 2 runs did not succeed: broken \(failed\)$"):
        cron("run", "--force", "broken", "mail")
    with pytest.raises(CommandError, match=r"^1 of 2 jobs are not healthy: broken \(failing\)$"):
        cron("status")


@pytest.mark.django_db(transaction=True, databases=["postgresql"])
def test_a_worker_with_threads_runs_due_jobs_side_by_side(registry, settings):
    if "postgresql" in settings.MISSING_SERVICES:
        pytest.skip(settings.MISSING_SERVICES["postgresql"])
    settings.DJANGO_CRON = {**settings.DJANGO_CRON, "DATABASE": "postgresql"}
    # Each job waits for the other: one at a time, both would fail.
    together = threading.Barrier(2, timeout=10)
    past = timezone.now() - timedelta(seconds=1)
    for name in ("left", "right"):
        registry.register(together.wait, name=name, every=3600)
        JobState.objects.using("postgresql").create(
            name=name, schedule_key=Interval(3600).key, next_run_at=past
        )
    with sigterm_after(3):
        out, _ = cron("worker", "--threads", "2")
    assert out.startswith("cron worker: 2 jobs, 2 at a time, one line per run.")
    assert sorted(line.split("] ")[1].split(" in ")[0] for line in out.splitlines()[1:]) == [
        "left: ok",
        "right: ok",
    ]


@pytest.mark.parametrize("threads", ["0", "-2", "many"])
def test_a_worker_refuses_a_thread_count_below_one(threads):
    with pytest.raises(CommandError, match="--threads"):
        cron("worker", "--threads", threads)
