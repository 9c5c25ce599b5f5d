"""
The audit trail: a row for each operator action from the admin, the API and
the command line, none for a refused one; and what started each run.
"""

import getpass
from datetime import timedelta
from io import StringIO

import pytest
from django.contrib.auth.models import Permission, User
from django.core.management import call_command
from django.urls import reverse
from django.utils import timezone

import django_cron
from django_cron.models import AuditEntry, JobRun, JobSchedule, JobState
from django_cron.runner import run_due
from tests import test_admin
from tests.conftest import on_each_cron_database, wait_for
from tests.effects import Flaky, record
from tests.test_admin import act, job_url
from tests.test_db_schedule_admin import ADD, change_url, form
from tests.test_views import logged_in

# The threads of "Run now", joined after each test.
started = test_admin.started
ME = f"command line ({getpass.getuser()})"
AUDIT = reverse("admin:django_cron_auditentry_changelist")


def trail(alias="default"):
    return list(
        AuditEntry.objects.using(alias)
        .order_by("pk")
        .values_list("actor", "via", "action", "job", "note")
    )


@pytest.fixture
def jobs(registry):
    registry.register(lambda to="ops": record("mail", to=to), name="mail", every=300)
    registry.register(lambda: None, name="sync", every=600)
    run_due()
    return registry


# The admin ------------------------------------------------------------------------------


@on_each_cron_database
def test_each_admin_action_on_jobs_leaves_one_row_naming_the_user_and_address(
    alias, cron_db, jobs, admin_client, started
):
    mail = JobState.objects.using(alias).get(name="mail")
    act(admin_client, "pause", mail, apply="Pause", reason="relay moves")
    act(admin_client, "resume", mail)
    act(admin_client, "resume", mail)  # not paused: nothing changes, nothing is written
    admin_client.post(job_url(mail), {"pause_reason": "by hand"})  # enabled unticked
    admin_client.post(job_url(mail), {"enabled": "on"})
    act(admin_client, "run_now", mail)
    assert trail(alias) == [
        ("admin", "admin", "pause", "mail", "relay moves"),
        ("admin", "admin", "resume", "mail", ""),
        ("admin", "admin", "pause", "mail", "by hand"),
        ("admin", "admin", "resume", "mail", ""),
        ("admin", "admin", "run", "mail", ""),
    ]
    assert set(AuditEntry.objects.using(alias).values_list("remote_addr", flat=True)) == {
        "127.0.0.1"
    }
    run = wait_for(
        lambda: JobRun.objects.using(alias).filter(job=mail, forced=True).first(),
        message="the forced run",
    )
    assert run.started_by == "forced by admin"


@pytest.mark.django_db
def test_schedules_in_the_admin_are_audited_with_before_and_after(jobs, admin_client):
    admin_client.post(ADD, form(job="mail", kind="extra", every="60", kwargs='{"to": "board"}'))
    entry = JobSchedule.objects.get()
    assert entry.author == "admin"
    fields = form(every="120", kwargs='{"to": "board"}', description="slower")
    fields.pop("job"), fields.pop("kind")
    admin_client.post(change_url(entry), fields)
    admin_client.post(
        reverse("admin:django_cron_jobschedule_delete", args=[entry.pk]), {"post": "yes"}
    )
    added, changed, deleted = AuditEntry.objects.order_by("pk")
    assert (added.action, added.job, added.before, added.arguments) == (
        "add schedule",
        "mail",
        None,
        {"args": [], "kwargs": {"to": "board"}},
    )
    assert added.after["every"] == "60" and added.after["id"] == entry.pk
    assert changed.action == "change schedule"
    assert (changed.before["every"], changed.after["every"]) == ("60", "120")
    assert changed.after["description"] == "slower"
    assert deleted.action == "delete schedule" and deleted.before["every"] == "120"


@pytest.mark.django_db
def test_cancelling_one_off_runs_in_the_admin_is_audited_once_each(jobs, admin_client):
    first = django_cron.schedule_once("mail", delay=600)
    second = django_cron.schedule_once("mail", delay=600)
    listing = reverse("admin:django_cron_jobschedule_changelist")
    for _ in range(2):  # the second time, nothing is left to cancel
        admin_client.post(
            listing,
            {"action": "cancel_one_off_runs", "_selected_action": [first.pk, second.pk]},
        )
    assert [row[2:4] for row in trail()] == [("cancel", "mail"), ("cancel", "mail")]


@pytest.mark.django_db
def test_a_refused_admin_action_leaves_no_row(jobs):
    viewer = User.objects.create_user("viewer", is_staff=True)
    viewer.user_permissions.add(
        *Permission.objects.filter(codename__in=["view_jobstate", "view_jobschedule"])
    )
    client = logged_in(viewer)
    mail = JobState.objects.get(name="mail")
    act(client, "pause", mail, apply="Pause")
    client.post(job_url(mail), {})
    client.post(ADD, form(job="mail", kind="once"))
    assert JobState.objects.get(name="mail").enabled and not JobSchedule.objects.exists()
    assert trail() == []


@pytest.mark.django_db
def test_the_job_page_shows_its_audit_trail_to_those_who_may_see_it(jobs, admin_client):
    mail = JobState.objects.get(name="mail")
    act(admin_client, "pause", mail, apply="Pause", reason="relay moves")
    page = admin_client.get(job_url(mail)).content.decode()
    assert "relay moves" in page and f"{AUDIT}?job=mail" in page
    listing = admin_client.get(f"{AUDIT}?job=mail")
    assert listing.status_code == 200 and "relay moves" in listing.content.decode()
    assert admin_client.get(reverse("admin:django_cron_auditentry_add")).status_code == 403
    entry = AuditEntry.objects.get()
    delete = reverse("admin:django_cron_auditentry_delete", args=[entry.pk])
    assert admin_client.post(delete, {"post": "yes"}).status_code == 403
    # Without the audit trail's permission, the job page leaves it out.
    staff = User.objects.create_user("staff", is_staff=True)
    staff.user_permissions.add(Permission.objects.get(codename="view_jobstate"))
    page = logged_in(staff).get(job_url(mail)).content.decode()
    assert "relay moves" in page  # the pause's reason is the job's own
    assert f"{AUDIT}?job=mail" not in page


# The command line -------------------------------------------------------------------------


@pytest.mark.django_db
def test_a_forced_run_from_the_command_line_is_audited_and_says_who_forced_it(jobs):
    call_command("cron", "run", "--force", "mail", stdout=StringIO())
    assert trail() == [(ME, "command line", "run", "mail", "")]
    assert JobRun.objects.get().started_by == f"forced by {ME}"
    # What is due runs without a row: nobody asked for it.
    JobState.objects.filter(name="sync").update(next_run_at=timezone.now())
    call_command("cron", "run", stdout=StringIO())
    assert len(trail()) == 1


# What started each run ---------------------------------------------------------------------


@pytest.mark.django_db
def test_each_run_says_what_started_it(registry, operator_key):
    flaky = Flaky()
    registry.register(flaky, name="flaky", every=3600, retries=1, retry_delay=0)
    registry.register(lambda: None, name="plain", every=3600)
    run_due()
    JobState.objects.update(next_run_at=timezone.now() - timedelta(seconds=1))
    first = {run.job.name: run.started_by for run in run_due().runs}
    assert first == {"flaky": "schedule", "plain": "schedule"}
    (retry,) = run_due().runs
    assert retry.started_by == "retry"
    entry = django_cron.schedule_once("plain")
    (once,) = run_due().runs
    assert once.started_by == f"once #{entry.pk}"
    from django.test import Client

    client = Client(headers={"X-Cron-Key": operator_key("run", name="deploy")})
    response = client.post("/cron/api/jobs/plain/run/")
    pk = response.json()["once"]["id"]
    run = wait_for(lambda: JobRun.objects.filter(job__db_schedule=pk).first(), message="the run")
    assert run.started_by == f"once #{pk} by API key deploy"
    listing = logged_in(User.objects.create_superuser("root")).get(
        reverse("admin:django_cron_jobrun_changelist")
    )
    assert f"once #{pk} by API key deploy" in listing.content.decode()
