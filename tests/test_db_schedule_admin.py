"""Schedules in the database through the admin: its form's checks, and a running worker."""

import signal
from datetime import timedelta

import pytest
from django.urls import reverse
from django.utils import timezone

import django_cron
from django_cron.models import JobRun, JobSchedule, JobState
from django_cron.runner import run_due
from tests.conftest import start, wait_for
from tests.effects import record

ADD = reverse("admin:django_cron_jobschedule_add")
LIST = reverse("admin:django_cron_jobschedule_changelist")


def change_url(entry):
    return reverse("admin:django_cron_jobschedule_change", args=[entry.pk])


def form(**fields):
    data = {
        "job": "db.job",
        "kind": "replace",
        "cron": "",
        "every": "",
        "timezone": "",
        "start_date_0": "",
        "start_date_1": "",
        "end_date_0": "",
        "end_date_1": "",
        "at_0": "",
        "at_1": "",
        "args": "[]",
        "kwargs": "{}",
        "enabled": "on",
        "description": "",
    }
    data.update(fields)
    return data


@pytest.fixture
def job(registry):
    registry.register(lambda to="": record(f"db.job:{to}"), name="db.job", every=3600)
    run_due()
    return registry


def errors_of(response):
    assert response.status_code == 200, "the form was accepted"
    return response.context["adminform"].form.errors


@pytest.mark.django_db
@pytest.mark.parametrize(
    "fields, field, message",
    [
        ({"cron": "61 * * * *"}, "cron", "is not a valid cron expression"),
        ({"every": "soon"}, "every", "is not a duration"),
        ({"every": "5m", "timezone": "Mars/Olympus"}, "timezone", "is not a known time zone"),
        ({"kind": "extra"}, "cron", "Give a cron expression or an interval"),
        ({"every": "5m", "kwargs": '{"recipient": 1}'}, "args", "cannot take these arguments"),
        ({"every": "5m", "kwargs": "{not json"}, "kwargs", "Enter a valid JSON"),
        ({"job": "os.system", "every": "5m"}, "job", "Select a valid choice"),
    ],
)
def test_the_form_refuses_what_check_refuses_and_saves_nothing(
    job, admin_client, fields, field, message
):
    response = admin_client.post(ADD, form(**fields))
    assert message in " ".join(errors_of(response)[field])
    assert not JobSchedule.objects.exists()
    assert JobState.objects.get(name="db.job").db_schedule_id is None


@pytest.mark.django_db
def test_the_form_offers_only_registered_jobs(job, admin_client):
    response = admin_client.get(ADD)
    choices = [value for value, label in response.context["adminform"].form.fields["job"].choices]
    assert choices == ["db.job"]


@pytest.mark.django_db
def test_deleting_a_replacement_in_the_admin_goes_back_to_the_code(job, admin_client):
    admin_client.post(ADD, form(every="60"))
    entry = JobSchedule.objects.get()
    assert JobState.objects.get(name="db.job").schedule_key == "every 60s"
    response = admin_client.post(
        reverse("admin:django_cron_jobschedule_delete", args=[entry.pk]), {"post": "yes"}
    )
    assert response.status_code == 302
    state = JobState.objects.get(name="db.job")
    assert state.db_schedule_id is None and state.schedule_key == "every 3600s"


@pytest.mark.django_db
def test_the_cancel_action_cancels_pending_one_off_runs_only(job, admin_client):
    pending = django_cron.schedule_once("db.job", delay=600)
    ran = django_cron.schedule_once("db.job")
    run_due()
    response = admin_client.post(
        LIST,
        {"action": "cancel_one_off_runs", "_selected_action": [pending.pk, ran.pk]},
        follow=True,
    )
    assert response.status_code == 200
    pending.refresh_from_db()
    ran.refresh_from_db()
    assert pending.cancelled_at is not None and ran.cancelled_at is None
    page = admin_client.get(LIST).content.decode()
    assert "cancelled" in page
    # A one-off run's page shows it, read-only: it cannot be moved.
    assert b'name="at_0"' not in admin_client.get(change_url(pending)).content


@pytest.mark.django_db(transaction=True)
def test_an_admin_edit_reaches_a_running_worker_without_a_restart(
    job, admin_client, tmp_path, settings
):
    effects = tmp_path / "effects.log"
    effects.touch()
    worker = start(
        ["cron_worker"],
        "default",
        DJANGO_CRON_TEST_EFFECTS=effects,
        DJANGO_CRON_TEST_POLL=1,
        DJANGO_CRON_TEST_AUTODISCOVER=0,
    )
    state = JobState.objects.filter(name="db.job")
    wait_for(lambda: state.exists(), timeout=60, message="the worker's first pass")
    assert state.get().next_run_at > timezone.now() + timedelta(minutes=59)

    def lines(to):
        return [line for line in effects.read_text().splitlines() if line.startswith(to)]

    # Every second instead of hourly, with an argument: the worker runs it.
    response = admin_client.post(ADD, form(every="1", kwargs='{"to": "first"}'))
    assert response.status_code == 302
    wait_for(
        lambda: len(lines("db.job:first")) >= 2, timeout=30, message="runs by the new schedule"
    )
    # Edited again: the worker follows, still without a restart.
    entry = JobSchedule.objects.get()
    response = admin_client.post(change_url(entry), form(every="1", kwargs='{"to": "second"}'))
    assert response.status_code == 302
    wait_for(lambda: lines("db.job:second"), timeout=30, message="a run with the new argument")
    assert worker.poll() is None, worker.communicate()[1]
    worker.send_signal(signal.SIGTERM)
    worker.communicate(timeout=30)
    # Each slot once: one run per second at most, none at the same slot.
    slots = list(JobRun.objects.filter(job__name="db.job").values_list("scheduled_for", flat=True))
    assert len(slots) == len(set(slots)) >= 3
