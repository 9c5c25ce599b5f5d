"""
Permissions that nest as the admin's do: whatever makes a job run, stop or run
more often needs change_jobstate wherever it is done, and what a model guards
in the admin (arguments, runs) shows only with its view permission.
"""

import pytest
from django.contrib.auth.models import Permission, User
from django.test import Client
from django.urls import reverse

import django_cron
from django_cron.models import JobRun, JobSchedule, JobState
from django_cron.runner import run_due
from tests.effects import record
from tests.test_admin import JOBS, job_url
from tests.test_db_schedule_admin import ADD, change_url, form
from tests.test_views import logged_in

SECRET = "token-4a1f9c"


@pytest.fixture
def jobs(registry):
    registry.register(lambda to="ops": record("mail", to=to), name="mail", every=300)
    run_due()
    run_due(["mail"], force=True)  # a run, with what it returned
    JobRun.objects.update(message=f"sent with {SECRET}-run")
    return registry


def staff(*codenames) -> Client:
    user = User.objects.create_user(f"staff{User.objects.count()}", is_staff=True)
    wanted = Permission.objects.filter(
        content_type__app_label="django_cron", codename__in=codenames
    )
    assert wanted.count() == len(codenames)
    user.user_permissions.add(*wanted)
    return logged_in(user)


KINDS = [
    pytest.param({"kind": "replace", "enabled": ""}, id="pause-by-replacing"),
    pytest.param({"kind": "extra", "every": "60"}, id="run-more-often"),
    pytest.param({"kind": "once"}, id="run-now"),
]


@pytest.mark.django_db
@pytest.mark.parametrize("fields", KINDS)
def test_adding_a_schedule_needs_the_permission_to_change_jobs_too(jobs, fields):
    alone = staff("add_jobschedule", "view_jobschedule")
    assert alone.get(ADD).status_code == 403
    response = alone.post(ADD, form(job="mail", **fields))
    assert response.status_code == 403
    assert not JobSchedule.objects.exists() and JobState.objects.get(name="mail").enabled
    both = staff("add_jobschedule", "view_jobschedule", "change_jobstate")
    assert both.post(ADD, form(job="mail", **fields)).status_code == 302
    assert JobSchedule.objects.count() == 1


@pytest.mark.django_db
def test_changing_or_deleting_a_schedule_needs_the_permission_to_change_jobs_too(jobs):
    entry = django_cron.add_schedule("mail", every=300)
    fields = form(every="1")
    fields.pop("job"), fields.pop("kind")
    alone = staff("change_jobschedule", "delete_jobschedule", "view_jobschedule")
    delete = reverse("admin:django_cron_jobschedule_delete", args=[entry.pk])
    assert alone.post(change_url(entry), fields).status_code == 403
    assert alone.post(delete, {"post": "yes"}).status_code == 403
    entry.refresh_from_db()
    assert entry.every == "300"
    # Seen, read-only: the change page is the view page.
    assert alone.get(change_url(entry)).status_code == 200
    both = staff("change_jobschedule", "delete_jobschedule", "view_jobschedule", "change_jobstate")
    assert both.post(change_url(entry), fields).status_code == 302
    assert both.post(delete, {"post": "yes"}).status_code == 302
    assert not JobSchedule.objects.exists()


@pytest.mark.django_db
def test_a_jobs_runs_show_on_its_page_only_with_the_permission_to_view_runs(jobs):
    mail = JobState.objects.get(name="mail")
    viewer = staff("view_jobstate")
    page = viewer.get(job_url(mail)).content.decode()
    listing = viewer.get(JOBS).content.decode()
    assert f"{SECRET}-run" not in page and "cron-timeline" not in page
    assert "cron-sparkline" not in listing and f"{SECRET}-run" not in listing
    runs = staff("view_jobstate", "view_jobrun")
    assert f"{SECRET}-run" in runs.get(job_url(mail)).content.decode()
    assert "cron-sparkline" in runs.get(JOBS).content.decode()


@pytest.mark.django_db
def test_arguments_show_in_the_status_details_only_with_the_permission_to_view_schedules(jobs):
    django_cron.schedule_once("mail", delay=600, kwargs={"to": SECRET})
    viewer = staff("view_jobstate")
    response = viewer.get("/cron/status/")
    (shown,) = response.json()["once"]
    assert SECRET not in response.content.decode() and "kwargs" not in shown
    both = staff("view_jobstate", "view_jobschedule")
    (shown,) = both.get("/cron/status/").json()["once"]
    assert shown["kwargs"] == {"to": SECRET}


@pytest.mark.django_db
def test_the_api_asks_for_staff_as_the_admin_does(jobs):
    user = User.objects.create_user("watcher")
    user.user_permissions.add(Permission.objects.get(codename="view_jobstate"))
    client = logged_in(user)
    assert client.get("/cron/api/jobs/").status_code == 403
    # The status details, which monitors read, do not.
    assert "jobs" in client.get("/cron/status/").json()
    user.is_staff = True
    user.save()
    assert client.get("/cron/api/jobs/").status_code == 200
