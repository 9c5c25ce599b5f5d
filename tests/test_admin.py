"""The admin of jobs and runs, through Django's test client as a superuser."""

import re
import threading
import time
from datetime import timedelta

import pytest
from django.conf import settings as django_settings
from django.contrib.messages import get_messages
from django.db import connection, connections
from django.test.utils import CaptureQueriesContext
from django.urls import reverse
from django.utils import timezone

from django_cron import admin as cron_admin
from django_cron.models import JobRun, JobState
from django_cron.runner import run_due
from tests.conftest import on_each_cron_database, wait_for, wall_time
from tests.effects import CALLS, record

JOBS = reverse("admin:django_cron_jobstate_changelist")
RUNS = reverse("admin:django_cron_jobrun_changelist")


def job_url(state):
    return reverse("admin:django_cron_jobstate_change", args=[state.pk])


def run_url(run, view="change"):
    return reverse(f"admin:django_cron_jobrun_{view}", args=[run.pk])


def listed(response):
    """The names of the jobs (or the job names of the runs) on a changelist page."""
    assert response.status_code == 200
    rows = response.context["cl"].result_list
    return [getattr(row, "job", row).name for row in rows]


def messages_of(response):
    return [(m.level_tag, str(m.message)) for m in get_messages(response.wsgi_request)]


def act(client, action, *states, follow=True, **fields):
    data = {"action": action, "_selected_action": [state.pk for state in states], **fields}
    return client.post(JOBS, data, follow=follow)


def broken():
    raise ValueError("disk full")


@pytest.fixture
def jobs(registry):
    """An interval job that has not run yet and a cron job whose last run failed."""
    registry.register(lambda: record("mail"), name="mail", every=300)
    registry.register(broken, name="broken", schedule="30 2 * * 1-5", timezone="Europe/Berlin")
    run_due()
    run_due(["broken"], force=True)
    return registry


@pytest.fixture
def started(monkeypatch):
    """The threads "Run now" starts, joined after the test so none outlives its data."""
    threads = []

    def run_in_background(names, **options):
        threads.append(real(names, **options))
        return threads[-1]

    real = cron_admin.run_in_background
    monkeypatch.setattr(cron_admin, "run_in_background", run_in_background)
    yield threads
    for thread in threads:
        thread.join(timeout=30)


def make_due(name):
    past = timezone.now() - timedelta(seconds=1)
    assert JobState.objects.filter(name=name).update(next_run_at=past) == 1


def add_run(state, status=JobRun.Status.OK, started_at=None, **fields):
    started_at = started_at or timezone.now()
    return JobRun.objects.create(
        job=state, scheduled_for=started_at, started_at=started_at, status=status, **fields
    )


# Jobs -------------------------------------------------------------------------


@pytest.mark.django_db
def test_the_job_list_shows_schedule_in_words_time_zone_and_health(jobs, admin_client):
    response = admin_client.get(JOBS)
    assert listed(response) == ["broken", "mail"]
    content = response.content.decode()
    assert "Every 5 minutes" in content
    assert "At 02:30 AM, Monday through Friday" in content and "Europe/Berlin" in content
    assert '<td class="field-health_status"><span title="ValueError: disk full">failing' in content
    assert '<td class="field-health_status">ok</td>' in content
    # An interval job's time zone makes no difference, so none is shown.
    assert '<td class="field-time_zone">-</td>' in content
    assert "(failed)</td>" in content  # the last run, with its status


@pytest.mark.django_db
def test_a_row_whose_job_is_gone_says_so(jobs, admin_client):
    JobState.objects.create(name="gone")
    response = admin_client.get(JOBS, {"health": "not registered"})
    assert listed(response) == ["gone"]
    assert response.content.decode().count("not registered</td>") == 2  # schedule, health


@pytest.mark.django_db
def test_jobs_are_searched_by_name(jobs, admin_client):
    assert listed(admin_client.get(JOBS, {"q": "mai"})) == ["mail"]


@pytest.mark.django_db
def test_jobs_are_filtered_by_health(jobs, admin_client):
    registry = jobs
    registry.register(lambda: None, name="late", every=60)
    registry.register(lambda: None, name="stopped", every=60)
    run_due()
    JobState.objects.filter(name="late").update(next_run_at=timezone.now() - timedelta(hours=1))
    JobState.objects.filter(name="stopped").update(enabled=False)
    assert listed(admin_client.get(JOBS, {"health": "failing"})) == ["broken"]
    assert listed(admin_client.get(JOBS, {"health": "overdue"})) == ["late"]
    assert listed(admin_client.get(JOBS, {"health": "paused"})) == ["stopped"]
    assert listed(admin_client.get(JOBS, {"health": "ok"})) == ["mail"]


@pytest.mark.django_db
def test_jobs_are_filtered_by_last_status_and_enabled(jobs, admin_client):
    assert listed(admin_client.get(JOBS, {"last_status": "failed"})) == ["broken"]
    assert listed(admin_client.get(JOBS, {"last_status": "never"})) == ["mail"]
    assert listed(admin_client.get(JOBS, {"last_status": "ok"})) == []
    JobState.objects.filter(name="mail").update(enabled=False)
    assert listed(admin_client.get(JOBS, {"enabled__exact": "1"})) == ["broken"]


@pytest.mark.django_db
def test_jobs_whose_last_slot_was_missed_have_a_filter_of_their_own(jobs, admin_client):
    # A missed slot that was skipped leaves "missed" as the job's last status.
    JobState.objects.filter(name="mail").update(last_status="missed")
    page = admin_client.get(JOBS)
    assert "?last_status=missed" in page.content.decode()
    assert listed(admin_client.get(JOBS, {"last_status": "missed"})) == ["mail"]


@pytest.mark.django_db
def test_jobs_cannot_be_added_but_a_gone_jobs_row_can_be_deleted_with_its_runs(
    registry, admin_client
):
    gone = JobState.objects.create(name="gone")
    add_run(gone, JobRun.Status.FAILED)
    assert admin_client.get(reverse("admin:django_cron_jobstate_add")).status_code == 403
    delete = reverse("admin:django_cron_jobstate_delete", args=[gone.pk])
    assert admin_client.post(delete, {"post": "yes"}).status_code == 302
    assert not JobState.objects.exists() and not JobRun.objects.exists()


@pytest.mark.django_db
def test_the_job_page_shows_the_last_ten_runs_and_edits_only_enabled_and_why(jobs, admin_client):
    state = JobState.objects.get(name="mail")
    start = timezone.now() - timedelta(hours=1)
    for minutes in range(12):
        add_run(state, started_at=start + timedelta(minutes=minutes))
    response = admin_client.get(job_url(state))
    assert response.status_code == 200
    content = response.content.decode()
    assert len(re.findall(r"/admin/django_cron/jobrun/\d+/change/", content)) == 10
    assert f"{RUNS}?job=mail" in content
    assert '<div class="readonly">None</div>' not in content  # an interval job's time zone
    assert list(response.context["adminform"].form.fields) == ["enabled", "pause_reason"]


@pytest.mark.django_db
def test_saving_the_job_page_writes_only_enabled(jobs, admin_client, monkeypatch):
    state = JobState.objects.get(name="mail")
    moved = state.next_run_at + timedelta(minutes=5)
    get_object = cron_admin.JobStateAdmin.get_object

    def stale_object(self, request, object_id, from_field=None):
        # The runner claims a slot between the admin's read and its write.
        obj = get_object(self, request, object_id, from_field)
        JobState.objects.filter(pk=obj.pk).update(next_run_at=moved)
        return obj

    monkeypatch.setattr(cron_admin.JobStateAdmin, "get_object", stale_object)
    response = admin_client.post(job_url(state), {})  # the checkbox unticked
    assert response.status_code == 302
    state.refresh_from_db()
    assert not state.enabled and state.next_run_at == moved


# Actions ----------------------------------------------------------------------


@pytest.mark.django_db(transaction=True)
def test_run_now_answers_before_the_job_ends_and_records_a_forced_run(
    registry, admin_client, started
):
    finished = threading.Event()

    def slow():
        time.sleep(1)
        finished.set()

    registry.register(slow, name="slow", every=3600)
    run_due()  # creates the state; not due for an hour
    state = JobState.objects.get(name="slow")
    response = act(admin_client, "run_now", state, follow=False)
    assert not finished.is_set()
    assert response.status_code == 302 and len(started) == 1
    run = wait_for(
        lambda: JobRun.objects.filter(job=state).exclude(status=JobRun.Status.RUNNING).first(),
        message="the run of slow",
    )
    assert finished.is_set()
    assert run.status == JobRun.Status.OK and run.forced
    level, message = messages_of(admin_client.get(response.url))[0]
    assert level == "success" and message.startswith("Started 1 job in the background; see ")


@pytest.mark.django_db
def test_run_now_warns_about_jobs_that_are_not_registered(registry, admin_client, started):
    gone = JobState.objects.create(name="gone")
    response = act(admin_client, "run_now", gone)
    assert messages_of(response) == [
        ("warning", "Not run, no job of this name is registered: gone.")
    ]
    assert started == [] and not JobRun.objects.exists()


@pytest.mark.django_db
def test_pause_asks_why_then_pauses_and_resume_resumes(jobs, admin_client):
    mail = JobState.objects.get(name="mail")
    # First the question: nothing is paused yet.
    response = act(admin_client, "pause", mail)
    assert response.status_code == 200 and "Reason" in response.content.decode()
    assert b"<li>mail</li>" in response.content
    mail.refresh_from_db()
    assert mail.enabled
    response = act(admin_client, "pause", mail, apply="Pause", reason="  mail server moves ")
    assert messages_of(response) == [("success", "Paused 1 job.")]
    mail.refresh_from_db()
    paused = (mail.enabled, mail.paused_by, mail.pause_reason)
    assert paused == (False, "admin", "mail server moves")
    assert mail.paused_at is not None
    # Who, when and why show on the job's page until it is resumed.
    content = admin_client.get(job_url(mail)).content.decode()
    assert "mail server moves" in content and ">admin<" in content
    make_due("mail")
    assert run_due().runs == [] and CALLS == []

    response = act(admin_client, "resume", mail)
    assert messages_of(response) == [("success", "Resumed 1 job.")]
    mail.refresh_from_db()
    assert mail.enabled and (mail.paused_by, mail.pause_reason, mail.paused_at) == ("", "", None)
    # The slot that fell in the pause is skipped, and counted: the job runs at its next one.
    assert mail.skipped_paused == 1 and mail.next_run_at > timezone.now()
    assert run_due().runs == [] and CALLS == []


@pytest.mark.django_db
def test_turning_a_job_on_in_its_page_skips_the_slots_of_its_pause(jobs, admin_client):
    mail = JobState.objects.get(name="mail")
    assert admin_client.post(job_url(mail), {}).status_code == 302  # the checkbox unticked
    # Three slots of five minutes fell while it was off.
    JobState.objects.filter(pk=mail.pk).update(next_run_at=timezone.now() - timedelta(minutes=14))
    assert admin_client.post(job_url(mail), {"enabled": "on"}).status_code == 302
    mail.refresh_from_db()
    assert mail.enabled and mail.skipped_paused == 3
    assert timezone.now() < mail.next_run_at <= timezone.now() + timedelta(minutes=5)
    assert run_due().runs == [] and CALLS == []


# Runs -------------------------------------------------------------------------


@pytest.fixture
def runs(registry):
    """Three finished runs of two jobs, on two days."""
    mail, sync = JobState.objects.create(name="mail"), JobState.objects.create(name="sync")
    day = wall_time(2026, 1, 10, 12)
    add_run(mail, JobRun.Status.OK, started_at=day, duration=0.5)
    add_run(mail, JobRun.Status.FAILED, started_at=day + timedelta(days=1), error="Boom")
    add_run(sync, JobRun.Status.TIMED_OUT, started_at=day + timedelta(days=1))
    return mail, sync


@pytest.mark.django_db
def test_the_run_list_is_read_only(runs, admin_client):
    response = admin_client.get(RUNS)
    assert listed(response) == ["sync", "mail", "mail"]
    assert response.context["has_add_permission"] is False
    assert reverse("admin:django_cron_jobrun_add").encode() not in response.content
    assert admin_client.get(reverse("admin:django_cron_jobrun_add")).status_code == 403
    run = JobRun.objects.get(status=JobRun.Status.FAILED)
    assert admin_client.post(run_url(run), {"status": "ok"}).status_code == 403
    run.refresh_from_db()
    assert run.status == JobRun.Status.FAILED


@pytest.mark.django_db
def test_runs_are_filtered_by_job_status_and_date(runs, admin_client):
    assert listed(admin_client.get(RUNS, {"status__exact": "failed"})) == ["mail"]
    assert listed(admin_client.get(RUNS, {"status__exact": "timeout"})) == ["sync"]
    assert listed(admin_client.get(RUNS, {"job": "sync"})) == ["sync"]
    day = {"started_at__year": 2026, "started_at__month": 1, "started_at__day": 10}
    assert listed(admin_client.get(RUNS, day)) == ["mail"]
    assert listed(admin_client.get(RUNS, {"q": "boom"})) == ["mail"]


@pytest.mark.django_db
def test_the_run_page_shows_traceback_and_output(registry, admin_client):
    state = JobState.objects.create(name="mail")
    run = add_run(
        state,
        JobRun.Status.FAILED,
        error="ValueError: <disk> full",
        traceback='Traceback (most recent call last):\n  File "x.py"\nValueError: <disk> full',
        output="sent 3 mails\nthen failed",
    )
    response = admin_client.get(run_url(run))
    assert response.status_code == 200
    content = response.content.decode()
    assert (
        '<pre style="white-space: pre-wrap; margin: 0">Traceback (most recent call last):\n'
        "  File &quot;x.py&quot;\nValueError: &lt;disk&gt; full</pre>"
    ) in content
    assert ">sent 3 mails\nthen failed</pre>" in content

    run.output = ""
    run.save()
    content = admin_client.get(run_url(run)).content.decode()
    assert '<div class="readonly">None</div>' not in content


@pytest.mark.django_db
def test_a_run_can_be_deleted_once_it_finished(registry, admin_client):
    state = JobState.objects.create(name="mail")
    running = add_run(state, JobRun.Status.RUNNING)
    done = add_run(state, JobRun.Status.OK)
    assert admin_client.get(run_url(running, "delete")).status_code == 403
    assert admin_client.post(run_url(done, "delete"), {"post": "yes"}).status_code == 302
    assert list(JobRun.objects.all()) == [running]


# Another database -------------------------------------------------------------

other_database = pytest.mark.skipif(
    "postgresql" in django_settings.MISSING_SERVICES,
    reason=django_settings.MISSING_SERVICES.get("postgresql", ""),
)


@other_database
@pytest.mark.django_db(transaction=True, databases=["default", "postgresql"])
def test_the_admin_works_on_the_cron_database(registry, admin_client, settings, started):
    settings.DJANGO_CRON = {**settings.DJANGO_CRON, "DATABASE": "postgresql"}
    registry.register(lambda: record("mail"), name="mail", every=300)
    run_due()
    states = JobState.objects.using("postgresql")
    assert not JobState.objects.exists()
    mail = states.get(name="mail")
    assert listed(admin_client.get(JOBS)) == ["mail"]
    assert admin_client.get(job_url(mail)).status_code == 200

    act(admin_client, "pause", mail, apply="Pause")
    assert not states.get(name="mail").enabled
    admin_client.post(job_url(mail), {"enabled": "on"})
    assert states.get(name="mail").enabled

    act(admin_client, "run_now", mail)
    run = wait_for(
        lambda: JobRun.objects.using("postgresql").exclude(status="running").first(),
        message="the run of mail",
    )
    assert run.forced and run.status == JobRun.Status.OK
    assert listed(admin_client.get(RUNS, {"job": "mail"})) == ["mail"]
    assert admin_client.get(run_url(run)).status_code == 200


# Times, return values and pictures ----------------------------------------------

AT = wall_time(2026, 11, 26, 14, 3, 7)


def svg(content, kind):
    """The one SVG of ``kind`` ("timeline" or "sparkline") on a page."""
    found = re.findall(rf'<svg class="cron-{kind}".*?</svg>', content, re.DOTALL)
    assert len(found) == 1, found
    return found[0]


def bars(picture):
    """(status class, fill, title) of each bar of a picture, in order."""
    return re.findall(
        r'<rect class="run run-(\w+)" fill="(#\w+)"[^>]*><title>(.*?)</title></rect>',
        picture,
        re.DOTALL,
    )


@pytest.mark.django_db
def test_admin_times_show_seconds(registry, admin_client):
    state = JobState.objects.create(
        name="mail", next_run_at=AT + timedelta(minutes=5), last_run_at=AT, last_status="ok"
    )
    run = add_run(state, started_at=AT, finished_at=AT + timedelta(seconds=2), duration=2.0)

    jobs = admin_client.get(JOBS).content.decode()
    assert '<td class="field-next_run">2026-11-26 14:08:07</td>' in jobs
    assert '<td class="field-last_run">2026-11-26 14:03:07 (ok)</td>' in jobs
    job_page = admin_client.get(job_url(state)).content.decode()
    assert '<div class="readonly">2026-11-26 14:08:07</div>' in job_page  # next run
    assert '<div class="readonly">2026-11-26 14:03:07</div>' in job_page  # last run
    assert ">2026-11-26 14:03:07</a></td>" in job_page  # the table of runs
    runs = admin_client.get(RUNS).content.decode()
    assert '<td class="field-started">2026-11-26 14:03:07</td>' in runs
    assert '<td class="field-scheduled">2026-11-26 14:03:07</td>' in runs
    run_page = admin_client.get(run_url(run)).content.decode()
    assert '<div class="readonly">2026-11-26 14:03:09</div>' in run_page  # finished


@pytest.mark.django_db
def test_times_show_in_the_current_time_zone(registry, admin_client, settings):
    if not settings.USE_TZ:
        pytest.skip("without USE_TZ, Django shows times as stored, in TIME_ZONE alone")
    settings.TIME_ZONE = "Europe/Berlin"
    add_run(JobState.objects.create(name="mail"), started_at=AT)
    assert "2026-11-26 15:03:07" in admin_client.get(RUNS).content.decode()


@pytest.mark.django_db
def test_the_return_value_shows_in_the_run_list_and_in_full_on_the_run_and_job_pages(
    registry, admin_client
):
    state = JobState.objects.create(name="mail")
    message = "sent 3 mails to " + ", ".join(f"user{n}@example.com" for n in range(10))
    run = add_run(state, message=message)

    runs = admin_client.get(RUNS).content.decode()
    assert '<td class="field-short_message">sent 3 mails to user0@example.com, user' in runs
    assert message not in runs  # truncated in the list
    run_page = admin_client.get(run_url(run)).content.decode()
    assert f'<pre style="white-space: pre-wrap; margin: 0">{message}</pre>' in run_page
    job_page = admin_client.get(job_url(state)).content.decode()
    assert "<th>return value</th>" in job_page and "<td>sent 3 mails to user0@" in job_page
    assert admin_client.get(RUNS, {"q": "user9@"}).context["cl"].result_count == 1


@pytest.mark.django_db
def test_the_job_page_shows_what_the_last_run_returned(registry, admin_client):
    state = JobState.objects.create(name="mail", last_status="ok", last_message="sent 3 mails")
    page = admin_client.get(job_url(state)).content.decode()
    assert re.search(
        r"Last return value:</label>\s*<div class=\"readonly\">sent 3 mails</div>", page
    )


@pytest.mark.django_db
def test_the_job_page_draws_each_recent_run_on_a_timeline_coloured_by_status(
    registry, admin_client
):
    state = JobState.objects.create(name="mail")
    add_run(state, started_at=AT, duration=30.0, message="sent 3 mails")
    add_run(state, JobRun.Status.FAILED, AT + timedelta(minutes=5), duration=1.5, error="Boom")
    add_run(state, JobRun.Status.LOST, AT + timedelta(minutes=10))
    add_run(state, JobRun.Status.RUNNING, AT + timedelta(minutes=15))

    timeline = svg(admin_client.get(job_url(state)).content.decode(), "timeline")
    drawn = bars(timeline)
    assert [(status, fill) for status, fill, _ in drawn] == [
        ("ok", "#2e9d47"),
        ("failed", "#d93b3b"),
        ("lost", "#8c8c8c"),
        ("running", "#2f7fd8"),
    ]
    titles = [title for _, _, title in drawn]
    assert titles[0] == "2026-11-26 14:03:07 · 30.00 s · ok\nsent 3 mails"
    assert titles[1] == "2026-11-26 14:08:07 · 1.50 s · failed\nBoom"
    assert titles[2] == "2026-11-26 14:13:07 · - · lost"
    assert titles[3].startswith("2026-11-26 14:18:07 · ") and titles[3].endswith(" s · running")
    # The axis runs from the first start to now, where the running run is.
    assert ">2026-11-26 14:03:07</text>" in timeline


@pytest.mark.django_db
def test_a_timeline_bar_is_as_wide_as_its_run_and_a_short_run_stays_visible(registry, admin_client):
    state = JobState.objects.create(name="mail")
    add_run(state, started_at=AT, duration=0.001)
    add_run(state, started_at=AT + timedelta(seconds=100), duration=100.0)
    timeline = svg(admin_client.get(job_url(state)).content.decode(), "timeline")
    widths = [float(w) for w in re.findall(r'<rect [^>]*width="([\d.]+)"', timeline)]
    assert widths[0] == 3.0  # the minimum
    assert widths[1] == pytest.approx(396.0)  # half of the 792 drawn
    assert ">2026-11-26 14:06:27</text>" in timeline  # the end: the last run's finish


@pytest.mark.django_db
def test_the_timeline_shows_the_last_fifty_runs_with_one_query_for_runs(registry, admin_client):
    state = JobState.objects.create(name="mail")
    for minutes in range(55):
        add_run(state, started_at=AT + timedelta(minutes=minutes))
    with CaptureQueriesContext(connection) as queries:
        content = admin_client.get(job_url(state)).content.decode()
    assert len(bars(svg(content, "timeline"))) == 50
    assert len([q for q in queries if "django_cron_jobrun" in q["sql"]]) == 1


@pytest.mark.django_db
def test_a_job_without_runs_has_no_timeline_or_sparkline(registry, admin_client):
    state = JobState.objects.create(name="mail")
    assert "cron-timeline" not in admin_client.get(job_url(state)).content.decode()
    assert '<td class="field-run_sparkline">-</td>' in admin_client.get(JOBS).content.decode()


@pytest.mark.django_db
def test_a_runs_output_is_escaped_everywhere_the_admin_shows_it(registry, admin_client):
    state = JobState.objects.create(name="mail", last_error="<script>alert(1)</script>")
    add_run(
        state,
        JobRun.Status.FAILED,
        error="<script>alert(1)</script>",
        message='<img src=x onerror="alert(2)">',
    )
    pages = [JOBS, job_url(state), RUNS, run_url(JobRun.objects.get())]
    for url in pages:
        content = admin_client.get(url).content.decode()
        assert "<script>alert" not in content and "<img src=x" not in content, url
    job_page = admin_client.get(job_url(state)).content.decode()
    title = bars(svg(job_page, "timeline"))[0][2]
    assert title.endswith("\n&lt;script&gt;alert(1)&lt;/script&gt;")


@pytest.mark.django_db
def test_the_job_list_draws_a_sparkline_of_each_jobs_last_twenty_runs(registry, admin_client):
    mail, sync = JobState.objects.create(name="mail"), JobState.objects.create(name="sync")
    for minutes in range(25):
        add_run(mail, started_at=AT + timedelta(minutes=minutes), duration=minutes + 1.0)
    add_run(sync, JobRun.Status.FAILED, AT, duration=2.0, error="Boom")
    add_run(sync, JobRun.Status.TIMED_OUT, AT + timedelta(minutes=1), duration=1.0)

    content = admin_client.get(JOBS).content.decode()
    lines = re.findall(r'<svg class="cron-sparkline".*?</svg>', content, re.DOTALL)
    assert len(lines) == 2
    mail_bars, sync_bars = bars(lines[0]), bars(lines[1])
    assert len(mail_bars) == 20
    # The last twenty, oldest first: from the sixth run on.
    assert mail_bars[0][2] == "2026-11-26 14:08:07 · 6.00 s · ok"
    assert mail_bars[-1][2] == "2026-11-26 14:27:07 · 25.00 s · ok"
    assert sync_bars == [
        ("failed", "#d93b3b", "2026-11-26 14:03:07 · 2.00 s · failed\nBoom"),
        ("timeout", "#e8871e", "2026-11-26 14:04:07 · 1.00 s · timed out"),
    ]
    heights = [float(h) for h in re.findall(r'height="([\d.]+)"><title>', lines[1])]
    assert heights == [18.0, 9.0]  # as tall as each run was long, beside the longest


# The sparklines' one query is a window function: it runs on each database.


@on_each_cron_database
def test_the_job_list_reads_all_its_sparklines_in_one_query(registry, admin_client, alias, cron_db):
    def page_of(count):
        for n in range(len(JobState.objects.using(alias).all()), count):
            state = JobState.objects.using(alias).create(name=f"job{n:02}")
            for minutes in range(3):
                JobRun.objects.using(alias).create(
                    job=state,
                    scheduled_for=AT,
                    started_at=AT + timedelta(minutes=minutes),
                    status=JobRun.Status.OK,
                    duration=1.0,
                )
        with CaptureQueriesContext(connections[alias]) as queries:
            content = admin_client.get(JOBS).content.decode()
        assert content.count('<svg class="cron-sparkline"') == count
        return [q["sql"] for q in queries]

    few, many = page_of(2), page_of(30)
    assert len(many) == len(few)
    assert len([sql for sql in many if "django_cron_jobrun" in sql]) == 1
