"""Hand-off to Django's Tasks framework: the slot is claimed here, the job runs as a task."""

import pytest
from django.conf import settings as django_settings
from django.utils import timezone
from django.utils.module_loading import import_string

from django_cron.checks import check_jobs
from django_cron.models import JobRun, JobState
from django_cron.runner import run_due
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
    # The job's lease went with the run: the worker takes a lease of its own.
    state = JobState.objects.get(name="later")
    assert (state.lease_owner, state.lease_until) == ("", None)


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
    from django_cron import tasks

    registry.register(lambda: None, name="q", every=60, enqueue=True)
    assert check_jobs() == []
    monkeypatch.setattr(tasks, "task", None)
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
