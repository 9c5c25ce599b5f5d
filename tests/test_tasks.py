"""Hand-off to Django's Tasks framework: the slot is claimed here, the job runs as a task."""

from datetime import timedelta
from io import StringIO

import pytest
from django.conf import settings as django_settings
from django.core.management import call_command
from django.utils import timezone
from django.utils.module_loading import import_string

from django_cron.checks import check_jobs
from django_cron.models import JobRun, JobState
from django_cron.runner import run_due
from tests.conftest import wait_for
from tests.effects import CALLS, record

pytestmark = pytest.mark.django_db


@pytest.fixture(autouse=True)
def dummy_backend():
    """The dummy task backend, emptied: it keeps what was queued for the whole process."""
    backend = import_string(f"{django_settings.TASKS_MODULE}.task_backends")["dummy"]
    backend.clear()
    yield backend
    backend.clear()


def boom():
    raise RuntimeError("task failed")


def test_a_queued_job_runs_as_a_task_and_its_run_records_the_outcome(registry):
    registry.register(lambda: record("queued") or "done", name="queued", every=60, enqueue=True)
    (run,) = run_due(["queued"], force=True).runs
    # The immediate backend runs the task inside enqueue().
    assert run.status == "ok" and CALLS == [("queued", (), {})]
    assert JobState.objects.get(name="queued").last_status == "ok"


def test_a_failing_task_is_a_failed_run(registry):
    registry.register(boom, name="boom", every=60, enqueue=True)
    (run,) = run_due(["boom"], force=True).runs
    assert run.status == "failed" and "task failed" in run.error


def test_a_task_not_yet_run_leaves_the_run_queued(registry, dummy_backend):
    registry.register(lambda: record("later"), name="later", every=60, enqueue="dummy")
    (run,) = run_due(["later"], force=True).runs
    assert run.status == "queued" and run.message.startswith("task ")
    assert CALLS == []
    (result,) = dummy_backend.results
    assert list(result.args) == ["later", run.pk]
    # The slot is taken: another pass does not queue it again.
    assert run_due(["later"]).runs == []
    assert JobRun.objects.filter(job__name="later").count() == 1
    # The job's lease waits with the run, for the worker that takes it.
    state = JobState.objects.get(name="later")
    assert state.lease_owner == run.owner and state.lease_until > timezone.now()


def test_a_task_delivered_twice_runs_the_job_once(registry):
    from django_cron.tasks import run_claimed

    registry.register(lambda: record("once"), name="once", every=60, enqueue="dummy")
    (run,) = run_due(["once"], force=True).runs
    assert run_claimed.call("once", run.pk) == "ok"
    assert run_claimed.call("once", run.pk) == "ok"  # redelivered: finds the run taken
    assert CALLS == [("once", (), {})]
    run.refresh_from_db()
    assert run.status == "ok" and run.owner != "" and run.lease_until is None


def test_the_global_default_queues_every_job(registry, settings):
    settings.DJANGO_CRON = {"ENQUEUE": "dummy"}
    registry.register(lambda: None, name="any", every=60)
    (run,) = run_due(["any"], force=True).runs
    assert run.status == "queued"


def test_enqueue_without_a_tasks_framework_fails_the_check(registry, monkeypatch):
    from django_cron import task_framework

    registry.register(lambda: None, name="q", every=60, enqueue=True)
    assert check_jobs() == []
    monkeypatch.setattr(task_framework, "task", None)
    assert [e.id for e in check_jobs()] == ["django_cron.E012"]


def test_the_worker_takes_its_run_with_a_lease_and_an_owner_of_its_own(registry):
    from django_cron.tasks import run_claimed

    seen = {}

    def body():
        run = JobRun.objects.get(job__name="leased")
        seen.update(status=run.status, owner=run.owner, leased=run.lease_until > timezone.now())

    registry.register(body, name="leased", every=60, enqueue="dummy")
    registry.register(lambda: None, name="waiting", every=60, enqueue="dummy")
    (run,) = run_due(["leased"], force=True).runs
    (waiting,) = run_due(["waiting"], force=True).runs
    assert run_claimed.call("leased", run.pk) == "ok"
    assert seen["status"] == "running" and seen["leased"]
    assert seen["owner"] not in ("", run.owner)  # the worker's, not the claimer's
    # Only the run the task was for: the other one still waits for its worker.
    waiting.refresh_from_db()
    assert waiting.status == "queued"


def due_now(name):
    JobState.objects.filter(name=name).update(next_run_at=timezone.now() - timedelta(seconds=1))


def scheduled_run(name):
    """Plan the job, make its next slot due, and run the pass that claims it."""
    run_due([name])
    due_now(name)
    return run_due([name]).runs


def expire(run):
    """Move the run's lease (and its job's) into the past, as time passing would."""
    past = timezone.now() - timedelta(seconds=1)
    JobRun.objects.filter(pk=run.pk).update(lease_until=past)
    JobState.objects.filter(pk=run.job_id, lease_until__isnull=False).update(lease_until=past)


def test_a_queued_run_no_worker_took_is_lost_once_its_lease_expires_and_retried(registry):
    from django_cron.tasks import run_claimed

    registry.register(
        lambda: record("never"), name="never", every=3600, enqueue="dummy", retries=1, retry_delay=1
    )
    (run,) = scheduled_run("never")
    assert run.status == "queued" and run.lease_until is not None
    expire(run)
    run_due(["never"])
    run.refresh_from_db()
    assert run.status == "lost" and "lease expired" in run.error
    state = JobState.objects.get(name="never")
    assert state.last_status == "lost" and state.retry_slot == run.scheduled_for
    # A worker that gets the task at last finds the run accounted for and runs nothing.
    assert run_claimed.call("never", run.pk) == "lost"
    assert CALLS == []


def test_a_run_whose_worker_died_mid_job_is_lost_and_frees_the_job(registry):
    from django_cron.runtime import runs

    registry.register(lambda: None, name="died", every=60, enqueue="dummy")
    definition = registry.get("died")
    (run,) = run_due(["died"], force=True).runs
    taken = runs.take(definition, run.pk)  # the worker starts it, then is SIGKILLed
    assert taken.status == "running"
    # The job's lease went to the worker with the run: no other run starts meanwhile.
    state = JobState.objects.get(name="died")
    assert state.lease_owner == taken.owner and state.lease_until > timezone.now()
    assert run_due(["died"], force=True).runs == []
    expire(taken)
    run_due(["died"])
    taken.refresh_from_db()
    assert taken.status == "lost"
    (following,) = run_due(["died"], force=True).runs
    assert following.status == "queued"


def test_a_failed_enqueue_is_a_failed_run_with_the_error(registry):
    from django_cron.tasks import run_claimed

    registry.register(
        lambda: record("x"),
        name="down",
        every=3600,
        enqueue="broker-down",
        retries=1,
        retry_delay=1,
    )
    (run,) = scheduled_run("down")
    run.refresh_from_db()
    assert run.status == "failed" and "refused" in run.error.lower(), run.error
    assert "Queueing" in run.error and "ConnectionRefusedError" in run.traceback
    assert run.lease_until is None and run.finished_at is not None
    state = JobState.objects.get(name="down")
    assert state.last_status == "failed" and state.lease_owner == ""
    assert state.retry_slot == run.scheduled_for
    # Should the task have reached the broker after all, it runs nothing.
    assert run_claimed.call("down", run.pk) == "failed" and CALLS == []


def test_a_failed_enqueue_whose_task_got_through_keeps_the_workers_outcome(registry, caplog):
    registry.register(
        lambda: record("ran") or "done", name="through", every=60, enqueue="reply-lost"
    )
    (run,) = run_due(["through"], force=True).runs
    assert CALLS == [("ran", (), {})]
    # What the pass reports (cron run prints it) is the worker's outcome, not "lost".
    assert run.status == "ok" and "finished after" not in caplog.text
    run.refresh_from_db()
    assert run.status == "ok" and run.message == "done" and "late" not in run.error
    assert JobState.objects.get(name="through").last_status == "ok"


def test_no_slot_is_queued_while_the_previous_run_is_queued_or_running(registry):
    from django_cron.runtime import runs
    from django_cron.tasks import run_claimed

    registry.register(lambda: None, name="slow", every=60, enqueue="dummy")
    definition = registry.get("slow")
    (first,) = scheduled_run("slow")
    due_now("slow")
    passed = run_due(["slow"])
    assert passed.runs == [] and ("slow", "taken by another process") in passed.skipped
    runs.take(definition, first.pk)
    assert run_due(["slow"]).runs == [] and run_due(["slow"], force=True).runs == []
    JobRun.objects.filter(pk=first.pk).update(status="queued")  # hand it back to the task
    assert run_claimed.call("slow", first.pk) != "queued"
    assert len(run_due(["slow"]).runs) == 1


def test_max_running_lets_that_many_queued_runs_overlap(registry):
    registry.register(lambda: None, name="wide", every=60, enqueue="dummy", max_running=2)
    assert len(run_due(["wide"], force=True).runs) == 1
    assert len(run_due(["wide"], force=True).runs) == 1
    assert run_due(["wide"], force=True).runs == []
    due_now("wide")
    assert run_due(["wide"]).runs == []
    assert JobRun.objects.filter(job__name="wide").count() == 2


def test_the_time_a_run_waited_in_the_queue_is_recorded_and_shown(registry, client, admin_client):
    from django_cron.tasks import run_claimed

    registry.register(lambda: None, name="waits", every=60, enqueue="dummy")
    (run,) = run_due(["waits"], force=True).runs
    assert run.queued_at is not None and run.queue_wait is None
    wait_for(lambda: timezone.now() > run.queued_at + timedelta(milliseconds=50))
    assert run_claimed.call("waits", run.pk) == "ok"
    run.refresh_from_db()
    assert run.queue_wait >= timedelta(milliseconds=50) and run.started_at > run.queued_at
    state = JobState.objects.get(name="waits")
    assert state.last_queue_wait == run.queue_wait
    body = client.get("/cron/status/", {"key": django_settings.PING_KEY}).json()
    (job,) = [job for job in body["jobs"] if job["name"] == "waits"]
    assert job["last_queue_wait"] >= 0.05
    listed = StringIO()
    call_command("cron", "list", stdout=listed)
    assert "s in the queue" in listed.getvalue()
    admin_page = admin_client.get(f"/admin/django_cron/jobrun/{run.pk}/change/")
    shown = f"{run.queue_wait.total_seconds():.2f} s"
    assert admin_page.status_code == 200 and "Queue wait" in admin_page.content.decode()
    assert shown in admin_page.content.decode()
    # A run that was not queued has no wait.
    registry.register(lambda: None, name="direct", every=60)
    (direct,) = run_due(["direct"], force=True).runs
    assert direct.queued_at is None and direct.queue_wait is None
