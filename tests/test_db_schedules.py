"""Schedules kept in the database and one-off runs, through the Python API and the runner."""

import signal
from datetime import timedelta
from zoneinfo import ZoneInfo

import pytest
from django.core.exceptions import ValidationError
from django.core.management import call_command
from django.utils import timezone

import django_cron
from django_cron import Job
from django_cron.clock import aware
from django_cron.models import JobRun, JobSchedule, JobState
from django_cron.runner import run_due
from django_cron.runtime import states
from django_cron.runtime.runs import sweep
from tests.conftest import on_each_database, start, wait_for
from tests.effects import CALLS, record
from tests.settings import PING_KEY
from tests.test_runner import make_due

pytestmark = [on_each_database, pytest.mark.usefixtures("cron_db")]


def rows(alias):
    return JobState.objects.using(alias)


def report(to, copies=1):
    record("report", to=to, copies=copies)


@pytest.fixture
def jobs(registry):
    registry.register(report, "nobody", name="report", every=3600)
    registry.register(lambda: record("hourly"), name="hourly", every=3600)
    run_due()  # the code jobs' rows, first runs an hour away
    return registry


# One-off runs ----------------------------------------------------------------------


def test_a_one_off_run_runs_once_with_its_arguments_and_is_recorded(alias, jobs):
    entry = django_cron.schedule_once("report", kwargs={"to": "ops", "copies": 2})
    assert entry.kind == JobSchedule.Kind.ONCE and entry.pk is not None
    (run,) = run_due().runs
    assert CALLS == [("report", (), {"to": "ops", "copies": 2})]
    assert run.status == "ok" and run.job.name == f"report (once {entry.pk})"
    assert run.job.db_schedule_id == entry.pk
    # Its slot is gone: no pass, forced sweep or new process runs it again.
    states.forget()
    assert run_due().runs == [] and sweep() == 0
    assert rows(alias).get(pk=run.job_id).next_run_at is None
    assert len(CALLS) == 1
    # The code job keeps its own schedule.
    assert rows(alias).get(name="report").next_run_at > timezone.now() + timedelta(minutes=59)


def test_a_one_off_run_waits_for_its_time(alias, jobs):
    entry = django_cron.schedule_once("report", delay=timedelta(minutes=10), kwargs={"to": "x"})
    assert run_due().runs == []
    state = rows(alias).get(db_schedule=entry)
    assert abs(state.next_run_at - (timezone.now() + timedelta(minutes=10))) < timedelta(seconds=5)
    make_due(alias, state.name)
    (run,) = run_due().runs
    assert run.status == "ok"
    assert CALLS == [("report", (), {"to": "x", "copies": 1})]


def test_a_cancelled_one_off_run_never_runs(alias, jobs):
    entry = django_cron.schedule_once("report", kwargs={"to": "ops"})
    assert django_cron.cancel(entry) is True
    assert entry.cancelled_at is not None
    assert run_due().runs == []
    states.forget()
    assert run_due().runs == [] and CALLS == []
    # Cancelling again, by id, finds nothing left to cancel.
    assert django_cron.cancel(entry.pk) is False


def test_a_one_off_run_that_ran_cannot_be_cancelled(alias, jobs):
    entry = django_cron.schedule_once("report", kwargs={"to": "ops"})
    run_due()
    assert django_cron.cancel(entry) is False
    entry.refresh_from_db(using=alias)
    assert entry.cancelled_at is None


def test_cancel_refuses_what_is_not_a_one_off_run(alias, jobs):
    extra = django_cron.add_schedule("report", every=60, kwargs={"to": "x"})
    with pytest.raises(JobSchedule.DoesNotExist):
        django_cron.cancel(extra.pk)
    with pytest.raises(JobSchedule.DoesNotExist):
        django_cron.cancel(10**6)


def test_arguments_that_are_not_json_fail_at_schedule_once(alias, jobs):
    with pytest.raises(ValidationError) as caught:
        django_cron.schedule_once("report", kwargs={"to": timezone.now()})
    assert "JSON-serialisable" in str(caught.value.message_dict["kwargs"])
    with pytest.raises(ValidationError) as caught:
        django_cron.schedule_once("report", args=[{1, 2}])
    assert "JSON-serialisable" in str(caught.value.message_dict["args"])
    assert not JobSchedule.objects.using(alias).exists()


def test_schedule_once_refuses_unknown_jobs_and_arguments_the_job_does_not_take(alias, jobs):
    with pytest.raises(ValidationError) as caught:
        django_cron.schedule_once("reprot")
    assert "Did you mean 'report'?" in caught.value.message_dict["job"][0]
    with pytest.raises(ValidationError) as caught:
        django_cron.schedule_once("report", kwargs={"recipient": "ops"})
    assert "cannot take these arguments" in caught.value.message_dict["args"][0]
    with pytest.raises(ValueError, match="not both"):
        django_cron.schedule_once("hourly", at=timezone.now(), delay=5)
    assert not JobSchedule.objects.using(alias).exists()


def test_a_one_off_run_of_a_job_class_gets_its_arguments_in_job(alias, registry):
    class Export(Job):
        run_every = 3600

        def job(self, fmt="csv"):
            record("export", fmt)

    registry.register(Export, name="export")
    django_cron.schedule_once("export", kwargs={"fmt": "json"})
    run_due()
    assert CALLS == [("export", ("json",), {})]


def test_a_missed_one_off_run_follows_the_jobs_missed_policy_with_grace(alias, registry, settings):
    settings.DJANGO_CRON = {**settings.DJANGO_CRON, "GRACE": 60}
    registry.register(lambda: record("skipper"), name="skipper", every=3600, missed="skip")
    registry.register(lambda: record("coalescer"), name="coalescer", every=3600)
    hour_ago = timezone.now() - timedelta(hours=1)
    late = django_cron.schedule_once("skipper", at=hour_ago)
    django_cron.schedule_once("skipper", at=timezone.now() - timedelta(seconds=10))
    django_cron.schedule_once("coalescer", at=hour_ago)
    run_due()
    # Within GRACE it runs; later, "skip" drops it and says so, "coalesce" runs it.
    assert sorted(call[0] for call in CALLS) == ["coalescer", "skipper"]
    missed = rows(alias).get(db_schedule=late)
    assert missed.last_status == "missed" and missed.next_run_at is None
    assert not JobRun.objects.using(alias).filter(job=missed).exists()


def test_a_failed_one_off_run_is_retried_and_a_cancel_stops_the_retry(alias, registry):
    def fails():
        record("fails")
        raise ValueError("no")

    registry.register(fails, name="fails", every=3600, retries=2, retry_delay=600)
    entry = django_cron.schedule_once("fails")
    (run,) = run_due().runs
    assert run.status == "failed"
    state = rows(alias).get(db_schedule=entry)
    assert state.next_run_at is not None and state.retry_attempt == 2
    assert django_cron.cancel(entry) is True
    # Even with its retry's time come, it does not run.
    rows(alias).filter(pk=state.pk).update(next_run_at=timezone.now() - timedelta(seconds=1))
    assert run_due().runs == [] and len(CALLS) == 1


# Schedules in the database ------------------------------------------------------------


def test_a_replaced_schedule_runs_by_the_database_and_restoring_goes_back(alias, jobs):
    hourly = rows(alias).get(name="hourly")
    entry = django_cron.replace_schedule("hourly", every=60)
    state = rows(alias).get(name="hourly")
    assert state.pk == hourly.pk and state.db_schedule_id == entry.pk
    assert state.next_run_at < timezone.now() + timedelta(seconds=61)
    # A new process's full read leaves the replacement alone.
    states.forget()
    run_due()
    assert rows(alias).get(name="hourly").schedule_key == state.schedule_key
    make_due(alias, "hourly")
    (run,) = run_due().runs
    assert run.job_id == hourly.pk and CALLS == [("hourly", (), {})]
    following = rows(alias).get(name="hourly").next_run_at
    assert following < timezone.now() + timedelta(seconds=61)
    assert django_cron.restore_schedule("hourly") is True
    restored = rows(alias).get(name="hourly")
    assert restored.db_schedule_id is None
    assert restored.next_run_at > timezone.now() + timedelta(minutes=59)
    assert not JobSchedule.objects.using(alias).exists()


def test_a_replacement_can_turn_on_a_job_that_code_turned_off(alias, registry):
    registry.register(lambda: record("off"), name="off", every=60, enabled=False)
    run_due()
    make_due(alias, "off")
    assert run_due().runs == []
    django_cron.replace_schedule("off", enabled=True)
    make_due(alias, "off")
    (run,) = run_due().runs
    assert run.status == "ok" and CALLS == [("off", (), {})]
    django_cron.replace_schedule("off", enabled=False)
    make_due(alias, "off")
    assert run_due().runs == []


def test_a_replacement_of_the_time_zone_keeps_the_codes_expression(alias, registry):
    registry.register(lambda: None, name="nine", schedule="0 9 * * *", timezone="UTC")
    run_due()
    django_cron.replace_schedule("nine", timezone="Asia/Tokyo")
    state = rows(alias).get(name="nine")
    assert state.schedule_key == "cron 0 9 * * * Asia/Tokyo"
    local = aware(state.next_run_at).astimezone(ZoneInfo("Asia/Tokyo"))
    assert (local.hour, local.minute) == (9, 0)


def test_a_further_schedule_runs_with_its_own_arguments(alias, jobs):
    entry = django_cron.add_schedule("report", every=60, kwargs={"to": "board", "copies": 3})
    state = rows(alias).get(db_schedule=entry)
    assert state.name == f"report (schedule {entry.pk})"
    make_due(alias, state.name)
    (run,) = run_due().runs
    assert run.job_id == state.pk
    assert CALLS == [("report", (), {"to": "board", "copies": 3})]
    # Deleted, its row stops and keeps its history.
    entry.delete()
    stopped = rows(alias).get(pk=state.pk)
    assert stopped.next_run_at is None and stopped.runs.count() == 1


def test_a_further_schedule_of_a_registered_command_passes_its_arguments(alias, registry):
    registry.register_command("cron", "next", every=3600)
    entry = django_cron.add_schedule("command:cron", every=60, args=["next", "command:cron"])
    state = rows(alias).get(db_schedule=entry)
    make_due(alias, state.name)
    (run,) = run_due().runs
    # "cron next command:cron" prints the job's coming slots.
    assert run.status == "ok", run.error
    assert run.output.strip()


YESTERDAY = timezone.now() - timedelta(days=1)


def test_schedules_in_the_database_refuse_what_check_refuses(alias, jobs):
    cases = [
        ({"cron": "61 * * * *"}, "cron"),
        ({"every": "soon"}, "every"),
        ({"every": 60, "timezone": "Mars/Olympus"}, "timezone"),
        ({"cron": "* * * * *", "every": 60}, "every"),
        ({}, "cron"),
        ({"every": 60, "kwargs": {"to": object()}}, "kwargs"),
        ({"cron": "61 * * * *", "end_date": timezone.now()}, "cron"),
        # The end before the start.
        ({"every": 60, "start_date": timezone.now(), "end_date": YESTERDAY}, "end_date"),
    ]
    for options, field in cases:
        with pytest.raises(ValidationError) as caught:
            django_cron.add_schedule("report", **options)
        assert field in caught.value.message_dict, (options, caught.value.message_dict)
    with pytest.raises(ValidationError) as caught:
        django_cron.add_schedule("django.contrib.sessions.models.Session.delete", every=60)
    assert "is registered" in caught.value.message_dict["job"][0]
    assert not JobSchedule.objects.using(alias).exists()


def test_a_schedule_change_never_runs_a_slot_twice(alias, jobs):
    django_cron.replace_schedule("hourly", every=60)
    make_due(alias, "hourly")
    assert len(run_due().runs) == 1
    # Changed and changed back at once: the slot that ran is not planned again.
    django_cron.replace_schedule("hourly", every=120)
    django_cron.replace_schedule("hourly", every=60)
    assert rows(alias).get(name="hourly").next_run_at > timezone.now()
    assert run_due().runs == [] and len(CALLS) == 1


def test_cron_list_shows_schedules_in_the_database_and_one_off_runs(alias, jobs, capsys):
    django_cron.replace_schedule("hourly", every=60)
    extra = django_cron.add_schedule("report", every=300, kwargs={"to": "board"})
    once = django_cron.schedule_once("report", delay=600, kwargs={"to": "ops"})
    call_command("cron", "list")
    out = capsys.readouterr().out
    assert "hourly\n    schedule: Every minute (replaced in the database)" in out
    assert f"report (schedule {extra.pk})\n    schedule: Every 5 minutes" in out
    assert f"report (once {once.pk})" in out
    assert '"to": "ops"' in out


def test_status_details_show_one_off_runs_and_their_arguments_to_a_read_key(
    alias, jobs, client, operator_key
):
    once = django_cron.schedule_once("report", delay=600, kwargs={"to": "ops"})
    body = client.get("/cron/status/", HTTP_X_CRON_KEY=operator_key("read")).json()
    (shown,) = body["once"]
    assert shown["id"] == once.pk and shown["job"] == "report" and shown["state"] == "pending"
    assert shown["kwargs"] == {"to": "ops"}
    # The ping key, which sits in access logs, sees the run but not its arguments.
    (shown,) = client.get("/cron/status/", HTTP_X_CRON_KEY=PING_KEY).json()["once"]
    assert shown["id"] == once.pk and "kwargs" not in shown and "args" not in shown


# Real processes ---------------------------------------------------------------------------


def test_two_cron_workers_run_a_one_off_run_once(alias, jobs, tmp_path):
    effects = tmp_path / "effects.log"
    effects.touch()
    workers = [
        start(
            ["cron_worker"],
            alias,
            DJANGO_CRON_TEST_EFFECTS=effects,
            DJANGO_CRON_TEST_POLL=1,
            DJANGO_CRON_TEST_AUTODISCOVER=0,
        )
        for _ in range(2)
    ]
    wait_for(
        lambda: rows(alias).filter(name="db.job").exists(), timeout=60, message="a worker's pass"
    )
    jobs.register(lambda **kwargs: None, name="db.job", every=3600)  # as the workers know it
    entry = django_cron.schedule_once("db.job", delay=3, kwargs={"to": "ops"})
    run_of = JobRun.objects.using(alias).filter(job__db_schedule=entry)
    wait_for(lambda: run_of.filter(status="ok").exists(), timeout=60, message="the one-off run")
    for worker in workers:
        assert worker.poll() is None, worker.communicate()[1]
        worker.send_signal(signal.SIGTERM)
    for worker in workers:
        worker.communicate(timeout=30)
        assert worker.returncode == 0
    ran = [line.split()[0] for line in effects.read_text().splitlines()]
    assert [name for name in ran if name.startswith("db.job")] == ["db.job:ops"]
    assert run_of.count() == 1
    assert rows(alias).get(db_schedule=entry).next_run_at is None


def test_cron_next_follows_a_replaced_schedule(alias, jobs, capsys):
    django_cron.replace_schedule("hourly", cron="0 9 * * *", timezone="Asia/Tokyo")
    call_command("cron", "next", "hourly", "--count", "2")
    first, second = [line.split()[0] for line in capsys.readouterr().out.splitlines()]
    assert first.endswith("T09:00:00+09:00") and second.endswith("T09:00:00+09:00")


def test_the_health_summary_counts_a_job_a_replacement_turned_on_or_off(alias, registry):
    from django_cron.health import counts, overview

    registry.register(lambda: None, name="off", every=60, enabled=False)
    registry.register(lambda: None, name="on", every=60)
    run_due()
    assert (counts()["paused"], counts()["ok"]) == (1, 1)
    django_cron.replace_schedule("off", enabled=True)
    django_cron.replace_schedule("on", enabled=False)
    assert (counts()["paused"], counts()["ok"]) == (1, 1)
    django_cron.replace_schedule("on", enabled=True)
    assert (counts()["paused"], counts()["ok"]) == (0, 2)
    # A further schedule is a job; a one-off run is not.
    django_cron.add_schedule("on", every=60)
    django_cron.schedule_once("on", delay=600)
    found = counts()
    assert found["ok"] == 3 and found["new"] == 0 and sum(found.values()) == 3
    django_cron.add_schedule("on", every=60, enabled=False)
    found = counts()
    assert found["paused"] == 1 and found["ok"] == 3 and sum(found.values()) == 4
    # The summary is what the job list says, job by job.
    listed = [job.health for job in overview()]
    assert sorted(listed) == ["ok", "ok", "ok", "paused"]


def test_the_overview_says_each_schedule_in_words_under_both_its_names(alias, jobs):
    from django_cron.health import overview

    django_cron.replace_schedule("report", every="5m")
    report_job = next(job for job in overview() if job.name == "report")
    assert report_job.schedule_text == "Every 5 minutes"
    # The name it had before schedule_text, which code written against it reads.
    assert report_job.schedule == report_job.schedule_text


def test_a_saved_schedule_keeps_its_job_and_kind(alias, jobs):
    entry = django_cron.add_schedule("report", every=60, kwargs={"to": "x"})
    entry.kind = JobSchedule.Kind.REPLACE
    with pytest.raises(ValidationError) as caught:
        entry.full_clean(validate_constraints=False)
    assert "cannot change" in caught.value.message_dict["kind"][0]


def test_a_one_off_run_of_a_queued_job_runs_in_the_task_worker(alias, registry):
    if alias != "default":
        pytest.skip("the immediate task backend runs on the default database")
    registry.register(report, "nobody", name="report", every=3600, enqueue=True)
    entry = django_cron.schedule_once("report", kwargs={"to": "worker"})
    # The immediate backend runs the task inside enqueue(), by the row's name.
    (run,) = run_due().runs
    assert run.status == "ok" and run.job.db_schedule_id == entry.pk
    assert run.queued_at is not None and run.queue_wait is not None
    assert CALLS == [("report", (), {"to": "worker", "copies": 1})]


def test_a_one_off_run_that_ran_cannot_be_moved_to_run_again(alias, jobs):
    entry = django_cron.schedule_once("report", kwargs={"to": "ops"})
    run_due()
    entry.refresh_from_db(using=alias)
    entry.description = "kept"
    entry.full_clean(validate_constraints=False)  # unchanged otherwise: fine
    entry.at += timedelta(hours=1)
    with pytest.raises(ValidationError) as caught:
        entry.full_clean(validate_constraints=False)
    assert "ran or was cancelled already" in caught.value.message_dict["at"][0]


def test_cron_next_stops_at_the_last_slot(alias, registry, capsys):
    end = timezone.now() + timedelta(minutes=3)
    registry.register(lambda: None, name="ending", every=60, end_date=end)
    call_command("cron", "next", "ending", "--count", "10")
    assert 2 <= len(capsys.readouterr().out.splitlines()) <= 3


def test_the_database_keeps_one_replacement_per_job(alias, jobs):
    from django.db import IntegrityError, transaction

    django_cron.replace_schedule("hourly", every=60)
    # Past validate(), as two admins saving at once would be: the table refuses the second.
    second = JobSchedule(job="hourly", kind=JobSchedule.Kind.REPLACE, every="120")
    with pytest.raises(IntegrityError), transaction.atomic(using=alias):
        second.save(using=alias)
    assert JobSchedule.objects.using(alias).count() == 1


def test_a_schedule_saved_past_validation_is_skipped_and_the_others_run(alias, jobs, caplog):
    entry = django_cron.add_schedule("report", every=60, kwargs={"to": "board"})
    # A queryset update skips validate(): kwargs that are not an object.
    JobSchedule.objects.using(alias).filter(pk=entry.pk).update(kwargs=[1, 2])
    make_due(alias, f"report (schedule {entry.pk})")
    make_due(alias, "hourly")
    (run,) = run_due().runs
    assert run.job.name == "hourly" and CALLS == [("hourly", (), {})]
    assert f"Schedule {entry.pk} in the database cannot run" in caplog.text
