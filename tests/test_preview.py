"""The next runs, as cron next, the admin's job page and GET api/jobs/ show them."""

from datetime import timedelta
from zoneinfo import ZoneInfo

import pytest
from django.conf import settings
from django.test import Client
from django.urls import reverse

from django_cron.clock import stored
from django_cron.health import job_overview
from django_cron.models import Blackout, JobState
from django_cron.runner import run_due


@pytest.fixture
def jobs(registry):
    registry.register(lambda: None, name="tick", every=60, times=3)
    registry.register(lambda: None, name="nightly", schedule="0 2 * * *", timezone="Asia/Tokyo")
    run_due()
    return registry


@pytest.mark.django_db
def test_the_runs_times_leaves_are_all_that_show(jobs):
    JobState.objects.filter(name="tick").update(successes=1)
    tick = job_overview(JobState.objects.get(name="tick"))
    assert len(tick.upcoming(10)) == 2
    JobState.objects.filter(name="tick").update(successes=3)
    assert job_overview(JobState.objects.get(name="tick")).upcoming(10) == []


@pytest.mark.django_db
def test_the_api_lists_the_next_five_runs_of_each_job(jobs, operator_key):
    client = Client(headers={"Authorization": f"Bearer {operator_key('read')}"})
    listed = {job["name"]: job for job in client.get("/cron/api/jobs/").json()["jobs"]}
    nightly = listed["nightly"]["upcoming"]
    assert len(nightly) == 5 and all(slot.endswith("T02:00:00+09:00") for slot in nightly)
    assert len(listed["tick"]["upcoming"]) == 3  # times=3, none run yet


@pytest.mark.django_db
def test_the_job_page_shows_the_next_ten_runs_in_both_zones_after_windows(jobs, admin_client):
    state = JobState.objects.get(name="nightly")
    first = job_overview(state).upcoming(1)[0]
    Blackout.objects.create(start=stored(first), end=stored(first + timedelta(minutes=1)))
    page = admin_client.get(reverse("admin:django_cron_jobstate_change", args=[state.pk]))
    content = page.content.decode()
    assert "Asia/Tokyo" in content and "(TIME_ZONE)" in content
    site = ZoneInfo(settings.TIME_ZONE)
    following = (first + timedelta(days=1)).astimezone(site)
    assert following.strftime("%Y-%m-%d %H:%M:%S") in content
    # Only as the stored next run: the window holds it, so it is not among the next runs.
    assert content.count(first.astimezone(site).strftime("%Y-%m-%d %H:%M:%S")) == 1
    assert content.count("02:00:00") == 10
