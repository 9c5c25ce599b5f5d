"""The operator API: every action with the key and with a user's permission, and every refusal."""

import json
from datetime import datetime, timedelta
from datetime import timezone as dt_timezone

import pytest
from django.contrib.auth.models import Permission, User
from django.test import Client
from django.utils import timezone

import django_cron
from django_cron.clock import aware
from django_cron.models import JobRun, JobSchedule, JobState
from django_cron.runner import run_due
from tests import test_db_schedules, test_views
from tests.conftest import before_first_update, on_each_database, wait_for
from tests.effects import CALLS
from tests.test_db_schedules import report
from tests.test_views import KEY, logged_in

# Fixtures: "report" (to "nobody") and "hourly", seen by the runner and due in an
# hour; and, for every test, the trigger of a process just started.
jobs = test_db_schedules.jobs
fresh_trigger = test_views.fresh_trigger

WITH_KEY = {"X-Cron-Key": KEY}
# A CSRF secret as Django's cookie holds it: 32 letters and digits.
CSRF_SECRET = "k3y0fth1scl13nt5c00k13w1thn0m45k"

# Each action: method, path (the one-off's id filled in), JSON body, the permission it needs.
ACTIONS = {
    "list": ("get", "/cron/api/jobs/", None, "view_jobstate"),
    "run": ("post", "/cron/api/jobs/report/run/", None, "change_jobstate"),
    "pause": ("post", "/cron/api/jobs/report/pause/", None, "change_jobstate"),
    "resume": ("post", "/cron/api/jobs/hourly/resume/", None, "change_jobstate"),
    "once": (
        "post",
        "/cron/api/jobs/report/once/",
        {"delay": 60, "kwargs": {"to": "ops"}},
        "add_jobschedule",
    ),
    "cancel": ("post", "/cron/api/once/{pk}/cancel/", None, "change_jobschedule"),
}
CHANGES = [name for name, (method, *_) in ACTIONS.items() if method == "post"]
# What each action answers when it is allowed.
ALLOWED = {"list": 200, "run": 202, "pause": 200, "resume": 200, "once": 201, "cancel": 200}
PERMISSIONS = sorted({codename for *_, codename in ACTIONS.values()})


@pytest.fixture
def scene(jobs):
    """Something for each action to change: "hourly" paused, and a one-off run still to run."""
    JobState.objects.filter(name="hourly").update(enabled=False)
    return django_cron.schedule_once("report", delay=600, kwargs={"to": "later"})


def send(client, action, scene=None, **extra):
    method, path, body, _ = ACTIONS[action]
    path = path.format(pk=scene.pk if scene is not None else 0)
    if body is not None:
        extra.update(data=json.dumps(body), content_type="application/json")
    return getattr(client, method)(path, **extra)


def user_with(*codenames, **fields) -> User:
    user = User.objects.create_user(f"user{User.objects.count()}", **fields)
    ours = Permission.objects.filter(content_type__app_label="django_cron")
    wanted = ours.filter(codename__in=codenames)
    assert wanted.count() == len(codenames)
    user.user_permissions.add(*wanted)
    return user


def client_for(how: str, action: str) -> Client:
    """A client with the key, or logged in as a user with exactly the action's permission."""
    if how == "key":
        return Client(headers=WITH_KEY)
    return logged_in(user_with(ACTIONS[action][3]))


def snapshot(alias="default"):
    """Everything an action could change."""
    return (
        list(JobSchedule.objects.using(alias).values_list("pk", "cancelled_at", "updated_at")),
        list(JobState.objects.using(alias).values_list("name", "enabled", "next_run_at")),
        JobRun.objects.using(alias).count(),
        list(CALLS),
    )


# Each action, allowed --------------------------------------------------------------

BOTH = pytest.mark.parametrize("how", ["key", "user"])


@pytest.mark.django_db
@BOTH
def test_list_shows_each_job_with_its_state_and_the_one_off_runs(scene, how):
    response = send(client_for(how, "list"), "list")
    assert response.status_code == 200
    assert "no-cache" in response["Cache-Control"]
    body = response.json()
    listed = {job["name"]: job for job in body["jobs"]}
    assert list(listed) == ["hourly", "report"]
    assert listed["hourly"]["enabled"] is False and listed["hourly"]["health"] == "paused"
    assert listed["report"]["enabled"] is True and listed["report"]["schedule"] == "Every hour"
    assert listed["report"]["last_status"] == "" and listed["report"]["next_run"]
    (once,) = body["once"]
    assert (once["id"], once["state"], once["kwargs"]) == (scene.pk, "pending", {"to": "later"})


@pytest.mark.django_db
def test_list_answers_head_too(scene):
    assert Client(headers=WITH_KEY).head("/cron/api/jobs/").status_code == 200


@on_each_database
def test_run_now_answers_at_once_and_runs_the_job_after_the_response(alias, cron_db, jobs):
    response = Client(headers=WITH_KEY).post("/cron/api/jobs/report/run/")
    assert response.status_code == 202
    shown = response.json()["once"]
    # Pending when the answer was written: the run comes after it.
    assert (shown["job"], shown["name"], shown["state"]) == (
        "report",
        f"report (once {shown['id']})",
        "pending",
    )
    entry = JobSchedule.objects.using(alias).get(pk=shown["id"])
    assert entry.kind == JobSchedule.Kind.ONCE
    ran = JobRun.objects.using(alias).filter(job__db_schedule=entry)
    wait_for(lambda: ran.filter(status="ok").exists(), message="the run after the response")
    assert CALLS == [("report", (), {"to": "nobody", "copies": 1})]
    # Claimed once: no later pass runs it again.
    assert run_due().runs == [] and ran.count() == 1


@pytest.mark.django_db
def test_run_now_by_a_user_with_the_change_permission(jobs):
    response = send(client_for("user", "run"), "run")
    assert response.status_code == 202
    wait_for(lambda: CALLS, message="the run after the response")
    assert CALLS == [("report", (), {"to": "nobody", "copies": 1})]
    assert JobRun.objects.get().job.db_schedule_id == response.json()["once"]["id"]


@pytest.mark.django_db
@BOTH
def test_pause_and_resume_set_the_jobs_enabled_flag(jobs, how):
    client = client_for(how, "pause")
    response = client.post("/cron/api/jobs/report/pause/")
    assert response.status_code == 200
    assert response.json() == {"name": "report", "enabled": False}
    assert JobState.objects.get(name="report").enabled is False
    listed = Client(headers=WITH_KEY).get("/cron/api/jobs/").json()["jobs"]
    assert [job["enabled"] for job in listed if job["name"] == "report"] == [False]
    # Paused, it does not run when due.
    JobState.objects.filter(name="report").update(next_run_at=timezone.now())
    assert run_due().runs == []
    response = client.post("/cron/api/jobs/report/resume/")
    assert response.status_code == 200
    assert response.json() == {"name": "report", "enabled": True}
    assert JobState.objects.get(name="report").enabled is True


@pytest.mark.django_db
def test_pause_makes_the_row_of_a_job_the_runner_has_not_seen_yet(jobs):
    jobs.register(lambda: None, name="new", every=60)
    assert not JobState.objects.filter(name="new").exists()
    response = Client(headers=WITH_KEY).post("/cron/api/jobs/new/pause/")
    assert response.status_code == 200
    assert JobState.objects.get(name="new").enabled is False


@pytest.mark.django_db
def test_pause_takes_a_further_schedules_name_as_the_list_gives_it(jobs):
    extra = django_cron.add_schedule("report", every=300, kwargs={"to": "board"})
    names = [job["name"] for job in Client(headers=WITH_KEY).get("/cron/api/jobs/").json()["jobs"]]
    name = f"report (schedule {extra.pk})"
    assert name in names
    response = Client(headers=WITH_KEY).post(f"/cron/api/jobs/{name}/pause/")
    assert response.status_code == 200 and response.json() == {"name": name, "enabled": False}
    assert JobState.objects.get(name=name).enabled is False
    assert JobState.objects.get(name="report").enabled is True


@pytest.mark.django_db
@BOTH
def test_once_schedules_a_one_off_run_after_a_delay_with_arguments(jobs, how):
    before = timezone.now()
    response = send(client_for(how, "once"), "once")
    assert response.status_code == 201
    shown = response.json()["once"]
    entry = JobSchedule.objects.get()
    assert shown["id"] == entry.pk and shown["state"] == "pending"
    assert (entry.kind, entry.args, entry.kwargs) == ("once", [], {"to": "ops"})
    assert before + timedelta(seconds=60) <= entry.at <= timezone.now() + timedelta(seconds=60)
    assert run_due().runs == []  # not yet
    JobState.objects.filter(db_schedule=entry).update(next_run_at=timezone.now())
    (run,) = run_due().runs
    assert run.status == "ok" and CALLS == [("report", (), {"to": "ops", "copies": 1})]


@pytest.mark.django_db
def test_once_reads_a_naive_date_in_time_zone_and_takes_positional_arguments(jobs, settings):
    settings.TIME_ZONE = "Asia/Tokyo"
    body = {"at": "2031-05-04T09:30:00", "args": ["board", 3]}
    response = Client(headers=WITH_KEY).post(
        "/cron/api/jobs/report/once/", json.dumps(body), content_type="application/json"
    )
    assert response.status_code == 201
    entry = JobSchedule.objects.get()
    assert entry.args == ["board", 3]
    expected = datetime(2031, 5, 4, 0, 30, tzinfo=dt_timezone.utc)
    assert aware(entry.at) == expected
    assert datetime.fromisoformat(response.json()["once"]["at"]) == expected


@pytest.mark.django_db
def test_once_with_no_body_runs_now_with_the_registered_arguments(jobs):
    # As curl -X POST sends it: no body at all.
    response = Client(headers=WITH_KEY).post(
        "/cron/api/jobs/report/once/", "", content_type="application/json"
    )
    assert response.status_code == 201
    (run,) = run_due().runs
    assert run.job.db_schedule_id == response.json()["once"]["id"]
    assert CALLS == [("report", (), {"to": "nobody", "copies": 1})]


@pytest.mark.django_db
@BOTH
def test_cancel_keeps_a_one_off_run_from_running_and_a_second_cancel_gets_409(scene, how):
    client = client_for(how, "cancel")
    response = send(client, "cancel", scene)
    assert response.status_code == 200
    body = response.json()
    assert body["cancelled"] is True
    assert (body["once"]["id"], body["once"]["state"]) == (scene.pk, "cancelled")
    scene.refresh_from_db()
    assert scene.cancelled_at is not None
    again = send(client, "cancel", scene)
    assert again.status_code == 409 and again.json()["cancelled"] is False
    # Even with its time come, it does not run.
    JobState.objects.filter(db_schedule=scene).update(next_run_at=timezone.now())
    assert run_due().runs == [] and CALLS == []


@on_each_database
def test_cancel_of_a_one_off_run_that_ran_gets_409_and_changes_nothing(alias, cron_db, jobs):
    entry = django_cron.schedule_once("report", kwargs={"to": "ops"})
    run_due()
    before = snapshot(alias)
    response = Client(headers=WITH_KEY).post(f"/cron/api/once/{entry.pk}/cancel/")
    assert response.status_code == 409
    body = response.json()
    assert body["cancelled"] is False and body["once"]["state"] == "ok"
    assert snapshot(alias) == before


@on_each_database
def test_cancel_loses_to_a_runner_that_claims_the_run_between_its_read_and_write(
    alias, cron_db, jobs
):
    entry = django_cron.schedule_once("report", kwargs={"to": "ops"})

    def claim():
        # Another runner, as the cancel is about to write: it claims the slot and runs it.
        assert len(run_due().runs) == 1

    with before_first_update(alias, claim):
        response = Client(headers=WITH_KEY).post(f"/cron/api/once/{entry.pk}/cancel/")
    assert response.status_code == 409
    body = response.json()
    assert body["cancelled"] is False and body["once"]["state"] == "ok"
    entry.refresh_from_db(using=alias)
    assert entry.cancelled_at is None
    assert CALLS == [("report", (), {"to": "ops", "copies": 1})]


# Refusals ------------------------------------------------------------------------


def refused(response, before, status=403):
    """Assert the answer is a JSON refusal and that nothing changed."""
    assert response.status_code == status, response.content
    assert "error" in response.json() and "jobs" not in response.json()
    assert snapshot() == before


def without_credentials(action):
    return Client()


def with_a_wrong_key(action):
    return Client(headers={"X-Cron-Key": KEY + "x"})


def with_an_empty_key(action):
    return Client(headers={"X-Cron-Key": ""})


def with_a_wrong_key_and_a_superuser(action):
    client = logged_in(User.objects.create_superuser("root"))
    client.defaults.update(HTTP_X_CRON_KEY="wrong")
    return client


def as_a_user_lacking_its_permission(action):
    """A user with every other permission of the API, and staff."""
    others = [codename for codename in PERMISSIONS if codename != ACTIONS[action][3]]
    return logged_in(user_with(*others, is_staff=True))


def as_an_inactive_superuser(action):
    return logged_in(User.objects.create_superuser("gone", is_active=False))


REFUSALS = [
    without_credentials,
    with_a_wrong_key,
    with_an_empty_key,
    with_a_wrong_key_and_a_superuser,
    as_a_user_lacking_its_permission,
    as_an_inactive_superuser,
]


@pytest.mark.django_db
@pytest.mark.parametrize("action", list(ACTIONS))
@pytest.mark.parametrize("credentials", REFUSALS, ids=lambda f: f.__name__)
def test_a_request_without_the_right_credentials_gets_403_and_changes_nothing(
    scene, action, credentials
):
    client = credentials(action)
    before = snapshot()
    refused(send(client, action, scene), before)


@pytest.mark.django_db
@pytest.mark.parametrize("action", list(ACTIONS))
def test_the_key_in_the_query_string_is_not_accepted(scene, action):
    method, path, *_ = ACTIONS[action]
    before = snapshot()
    path = path.format(pk=scene.pk)
    refused(getattr(Client(), method)(f"{path}?key={KEY}"), before)


@pytest.mark.django_db
@pytest.mark.parametrize("given", ["", "anything", KEY])
def test_with_no_ping_key_configured_no_key_is_accepted(scene, settings, given):
    settings.DJANGO_CRON = {"PING_KEY": ""}
    before = snapshot()
    refused(Client(headers={"X-Cron-Key": given}).post("/cron/api/jobs/report/pause/"), before)


@pytest.mark.django_db
def test_a_user_needs_the_permission_of_each_action_and_no_other(scene):
    # Holding one permission allows exactly the actions that need it.
    for codename in PERMISSIONS:
        client = logged_in(user_with(codename))
        for action, (_, _, _, needed) in ACTIONS.items():
            before = snapshot()
            response = send(client, action, scene)
            if needed == codename:
                assert response.status_code == ALLOWED[action], (codename, action)
            else:
                refused(response, before)


@pytest.mark.django_db
@pytest.mark.parametrize("action", CHANGES)
def test_a_session_post_without_the_csrf_token_is_refused_and_changes_nothing(scene, action):
    client = Client(enforce_csrf_checks=True)
    client.force_login(User.objects.create_superuser("root"))
    client.cookies["csrftoken"] = CSRF_SECRET  # the cookie alone, as a forged form sends it
    before = snapshot()
    response = send(client, action, scene)
    refused(response, before)
    assert "CSRF" in response.json()["error"]


@pytest.mark.django_db
@pytest.mark.parametrize("action", CHANGES)
def test_a_session_post_with_the_csrf_token_is_accepted(scene, action):
    client = Client(enforce_csrf_checks=True)
    client.force_login(User.objects.create_superuser("root"))
    client.cookies["csrftoken"] = CSRF_SECRET
    response = send(client, action, scene, headers={"X-CSRFToken": CSRF_SECRET})
    assert response.status_code == ALLOWED[action], response.content


@pytest.mark.django_db
@pytest.mark.parametrize("action", CHANGES)
def test_the_key_needs_no_csrf_token(scene, action):
    client = Client(enforce_csrf_checks=True, headers=WITH_KEY)
    assert send(client, action, scene).status_code == ALLOWED[action]


@pytest.mark.django_db
@pytest.mark.parametrize("action", CHANGES)
@pytest.mark.parametrize("method", ["get", "put", "delete"])
def test_an_action_answers_only_post(scene, action, method):
    _, path, *_ = ACTIONS[action]
    before = snapshot()
    response = getattr(Client(headers=WITH_KEY), method)(path.format(pk=scene.pk))
    assert response.status_code == 405 and response["Allow"] == "POST"
    assert snapshot() == before


@pytest.mark.django_db
def test_the_list_answers_only_get_and_head(scene):
    response = Client(headers=WITH_KEY).post("/cron/api/jobs/")
    assert response.status_code == 405 and response["Allow"] == "GET, HEAD"


@pytest.mark.django_db
@pytest.mark.parametrize("action", ["run", "pause", "resume", "once"])
@pytest.mark.parametrize("name", ["reprot", "report/extra", "report (once 1)"])
def test_an_unknown_job_gets_404_and_changes_nothing(scene, action, name):
    before = snapshot()
    response = Client(headers=WITH_KEY).post(f"/cron/api/jobs/{name}/{action}/")
    refused(response, before, status=404)
    assert name in response.json()["error"]


@pytest.mark.django_db
def test_an_unknown_one_off_run_gets_404(scene):
    extra = django_cron.add_schedule("report", every=300, kwargs={"to": "board"})
    before = snapshot()
    for pk in (10**6, extra.pk):  # none, and a further schedule, which is not a one-off run
        refused(Client(headers=WITH_KEY).post(f"/cron/api/once/{pk}/cancel/"), before, status=404)


BAD_BODIES = [
    pytest.param("delay=60", "error", id="not-json"),
    pytest.param("[60]", "error", id="a-list"),
    pytest.param('{"delay": 60, "when": "now"}', "error", id="an-unknown-field"),
    pytest.param('{"at": "tomorrow"}', "at", id="not-a-date"),
    pytest.param('{"at": "2031-02-30T09:00:00"}', "at", id="no-such-day"),
    pytest.param('{"at": 1900000000}', "at", id="a-timestamp"),
    pytest.param('{"at": "2031-05-04T09:30:00", "delay": 60}', "delay", id="at-and-delay"),
    pytest.param('{"delay": "soon"}', "delay", id="delay-not-a-number"),
    pytest.param('{"delay": -5}', "delay", id="delay-negative"),
    pytest.param('{"delay": 1e300}', "delay", id="delay-too-long"),
    pytest.param('{"delay": true}', "delay", id="delay-a-boolean"),
    pytest.param('{"args": "board"}', "args", id="args-not-a-list"),
    pytest.param('{"kwargs": ["board"]}', "kwargs", id="kwargs-not-an-object"),
    pytest.param('{"kwargs": []}', "kwargs", id="kwargs-an-empty-list"),
    pytest.param('{"kwargs": {"to": NaN}}', "kwargs", id="kwargs-not-json"),
    pytest.param('{"kwargs": {"recipient": "ops"}}', "args", id="kwargs-the-job-does-not-take"),
    pytest.param('{"args": ["a", 1, 2]}', "args", id="too-many-args"),
]


@pytest.mark.django_db
@pytest.mark.parametrize(("body", "field"), BAD_BODIES)
def test_a_bad_body_gets_400_saying_why_and_stores_nothing(jobs, body, field):
    before = snapshot()
    response = Client(headers=WITH_KEY).post(
        "/cron/api/jobs/report/once/", body, content_type="application/json"
    )
    assert response.status_code == 400, response.content
    answer = response.json()
    if field == "error":
        assert answer["error"]
    else:
        assert answer["errors"][field], answer
    assert snapshot() == before


# Without a database -------------------------------------------------------------------


@pytest.fixture
def offline(settings, registry, django_db_blocker):
    registry.register(report, "nobody", name="report", every=3600)
    settings.DJANGO_CRON = {"PING_KEY": KEY, "DATABASE": "offline"}
    with django_db_blocker.unblock():
        yield


@pytest.mark.parametrize(
    ("method", "path"),
    [("get", "/cron/api/jobs/"), ("post", "/cron/api/jobs/report/pause/")],
    ids=["list", "pause"],
)
def test_the_api_answers_503_with_the_reason_when_the_database_is_down(offline, method, path):
    response = getattr(Client(headers=WITH_KEY), method)(path)
    assert response.status_code == 503
    assert response.json()["reason"] == "database_unavailable"


@pytest.mark.usefixtures("offline")
def test_a_user_who_cannot_be_looked_up_gets_403_not_500(settings):
    settings.DATABASE_ROUTERS = ["tests.test_views.SessionsOffline"]
    client = Client()
    client.cookies[settings.SESSION_COOKIE_NAME] = "k3y0fas3ss10nthed8tabas3wouldkn0w"
    response = client.get("/cron/api/jobs/")
    assert response.status_code == 403 and "error" in response.json()
