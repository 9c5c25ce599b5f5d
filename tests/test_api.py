"""
The operator API: every endpoint with every credential, each action allowed,
and every refusal, which changes nothing.
"""

import json
from datetime import datetime, timedelta
from datetime import timezone as dt_timezone

import pytest
from django.contrib.auth.models import Permission, User
from django.test import Client
from django.utils import timezone

import django_cron
from django_cron import keys
from django_cron.clock import aware
from django_cron.models import AuditEntry, JobRun, JobSchedule, JobState, OperatorKey
from django_cron.runner import run_due
from tests import test_db_schedules, test_views
from tests.conftest import before_first_update, on_each_cron_database, on_each_database, wait_for
from tests.effects import CALLS
from tests.test_db_schedules import report
from tests.test_views import KEY, logged_in

# Fixtures: "report" (to "nobody") and "hourly", seen by the runner and due in an
# hour; and, for every test, the trigger of a process just started.
jobs = test_db_schedules.jobs
fresh_trigger = test_views.fresh_trigger

# A CSRF secret as Django's cookie holds it: 32 letters and digits.
CSRF_SECRET = "k3y0fth1scl13nt5c00k13w1thn0m45k"


class Action:
    """One endpoint: how to call it, the scope and permissions it needs, its answer."""

    def __init__(self, method, path, body, scope, permissions, allowed):
        self.method, self.path, self.body = method, path, body
        self.scope, self.permissions, self.allowed = scope, permissions, allowed

    @property
    def changes(self) -> bool:
        return self.method == "post"


ACTIONS = {
    "list": Action("get", "/cron/api/jobs/", None, "read", ["view_jobstate"], 200),
    "once-list": Action("get", "/cron/api/once/", None, "read", ["view_jobschedule"], 200),
    "audit": Action("get", "/cron/api/audit/", None, "read", ["view_auditentry"], 200),
    "run": Action("post", "/cron/api/jobs/report/run/", None, "run", ["change_jobstate"], 202),
    "pause": Action(
        "post", "/cron/api/jobs/report/pause/", {"reason": "db upgrade"}, "pause",
        ["change_jobstate"], 200,
    ),
    "resume": Action(
        "post", "/cron/api/jobs/hourly/resume/", None, "pause", ["change_jobstate"], 200
    ),
    "once": Action(
        "post", "/cron/api/jobs/report/once/", {"delay": 60, "kwargs": {"to": "ops"}},
        "schedule", ["add_jobschedule", "change_jobstate"], 201,
    ),
    "cancel": Action(
        "post", "/cron/api/once/{pk}/cancel/", None, "schedule", ["change_jobschedule"], 200
    ),
}  # fmt: skip
CHANGES = [name for name, action in ACTIONS.items() if action.changes]
PERMISSIONS = sorted({codename for action in ACTIONS.values() for codename in action.permissions})


@pytest.fixture
def scene(jobs):
    """Something for each action to change: "hourly" paused, and a one-off run still to run."""
    JobState.objects.filter(name="hourly").update(enabled=False)
    return django_cron.schedule_once("report", delay=600, kwargs={"to": "later"})


def send(client, name, scene=None, **extra):
    action = ACTIONS[name]
    path = action.path.format(pk=scene.pk if scene is not None else 0)
    if action.body is not None:
        extra.update(data=json.dumps(action.body), content_type="application/json")
    return getattr(client, action.method)(path, **extra)


def user_with(*codenames, **fields) -> User:
    user = User.objects.create_user(f"user{User.objects.count()}", **fields)
    ours = Permission.objects.filter(content_type__app_label="django_cron")
    wanted = ours.filter(codename__in=codenames)
    assert wanted.count() == len(set(codenames))
    user.user_permissions.add(*wanted)
    return user


def staff_with(*codenames) -> Client:
    return logged_in(user_with(*codenames, is_staff=True))


def with_key(key: str, bearer: bool = False) -> Client:
    if bearer:
        return Client(headers={"Authorization": f"Bearer {key}"})
    return Client(headers={"X-Cron-Key": key})


def snapshot(alias="default"):
    """Everything an action could change, the audit trail and the keys' last use included."""
    return (
        list(JobSchedule.objects.using(alias).values_list("pk", "cancelled_at", "updated_at")),
        list(
            JobState.objects.using(alias).values_list(
                "name", "enabled", "next_run_at", "paused_by", "pause_reason"
            )
        ),
        JobRun.objects.using(alias).count(),
        AuditEntry.objects.using(alias).count(),
        list(CALLS),
    )


def refused(response, before, status=403, alias="default"):
    """Assert the answer is a JSON refusal and that nothing changed."""
    assert response.status_code == status, response.content
    assert response["Content-Type"] == "application/json"
    assert "error" in response.json() and "jobs" not in response.json()
    assert snapshot(alias) == before


# Every endpoint, every credential ----------------------------------------------------


def _credentials(action: Action, make_key):
    """(label, client, allowed?) for every kind of credential a request can carry."""
    scope, others = action.scope, [s for s in keys.SCOPES if s != action.scope]
    revoked = make_key(*keys.SCOPES, name="revoked")
    keys.revoke("revoked")
    lacking = [c for c in PERMISSIONS if c not in action.permissions]
    superuser = logged_in(User.objects.create_superuser(f"root{User.objects.count()}"))
    wrong_key_superuser = logged_in(User.objects.create_superuser(f"root{User.objects.count()}"))
    wrong_key_superuser.defaults.update(HTTP_X_CRON_KEY="dcr_wrong")
    partial = [
        (f"staff lacking {codename}", staff_with(*lacking, *set(action.permissions) - {codename}))
        for codename in action.permissions
    ]
    return [
        ("anonymous", Client(), False),
        ("the ping key", with_key(KEY), False),
        ("the ping key as a bearer token", with_key(KEY, bearer=True), False),
        ("the ping key in the query string", Client(), False),  # path gets ?key=
        ("a wrong key", with_key("dcr_" + "x" * 43), False),
        ("an empty key", with_key(""), False),
        ("a key with every other scope", with_key(make_key(*others)), False),
        *[(f"a key with only {other}", with_key(make_key(other)), False) for other in others],
        ("a revoked key with every scope", with_key(revoked), False),
        ("a wrong key with a superuser's session", wrong_key_superuser, False),
        *[(label, client, False) for label, client in partial],
        ("a user with the permissions, not staff", logged_in(user_with(*action.permissions)), 0),
        (
            "an inactive superuser",
            logged_in(User.objects.create_superuser("gone", is_active=False)),
            False,
        ),
        (f"a key with the scope {scope}", with_key(make_key(scope)), True),
        (f"a bearer key with the scope {scope}", with_key(make_key(scope), bearer=True), True),
        ("staff with the permissions", staff_with(*action.permissions), True),
        ("a superuser", superuser, True),
    ]


@on_each_cron_database
@pytest.mark.parametrize("name", list(ACTIONS))
def test_each_endpoint_answers_exactly_the_credentials_that_allow_it(
    alias, cron_db, jobs, operator_key, name
):
    action = ACTIONS[name]
    JobState.objects.using(alias).filter(name="hourly").update(enabled=False)
    for label, client, allowed in _credentials(action, operator_key):
        # A fresh one-off run for each, so that every allowed cancel has one to cancel.
        scene = django_cron.schedule_once("report", delay=600, kwargs={"to": "later"})
        before = snapshot(alias)
        extra = {"QUERY_STRING": f"key={KEY}"} if "query string" in label else {}
        response = send(client, name, scene, **extra)
        if not allowed:
            refused(response, before, alias=alias)
            continue
        assert response.status_code == action.allowed, (label, response.content)
        if action.changes:
            # Each change leaves exactly one audit row, naming who did it.
            latest = AuditEntry.objects.using(alias).order_by("-pk")
            assert latest.count() == before[3] + 1, label
            actor = latest[0].actor
            assert actor.startswith("API key ") if "key" in label else not actor.startswith("API")


@pytest.mark.django_db
@pytest.mark.parametrize("name", CHANGES)
def test_the_ping_key_is_told_which_credential_a_change_needs(scene, name):
    before = snapshot()
    response = send(with_key(KEY), name, scene)
    refused(response, before)
    error = response.json()["error"]
    assert "ping key" in error and "cron key create" in error
    assert f"--scope {ACTIONS[name].scope}" in error


@pytest.mark.django_db
def test_a_key_lacking_the_scope_is_told_which_it_lacks(scene, operator_key):
    response = send(with_key(operator_key("read", name="reader")), "pause", scene)
    assert response.status_code == 403
    assert response.json()["error"] == (
        "The operator key 'reader' lacks the scope 'pause'; it has read."
    )


@pytest.mark.django_db
def test_a_revoked_key_is_refused_from_the_moment_it_is_revoked(scene, operator_key):
    key = operator_key("read", name="ci")
    client = with_key(key)
    assert client.get("/cron/api/jobs/").status_code == 200
    keys.revoke("ci")
    response = client.get("/cron/api/jobs/")
    assert response.status_code == 403 and "revoked" in response.json()["error"]


@pytest.mark.django_db
def test_a_keys_use_is_noted_once_a_minute_at_most(scene, operator_key):
    key = operator_key("read", name="ci")
    assert OperatorKey.objects.get().last_used_at is None
    with_key(key).get("/cron/api/jobs/")
    first = OperatorKey.objects.get().last_used_at
    assert first is not None
    with_key(key).get("/cron/api/jobs/")
    assert OperatorKey.objects.get().last_used_at == first


def _viewers(make_key):
    """(label, client, sees details?) for the status endpoint, every credential."""
    revoked = make_key("read", name="revoked")
    keys.revoke("revoked")
    return [
        ("anonymous", Client(), False),
        ("the ping key in the header", with_key(KEY), True),
        ("the ping key in the query string", Client(), True),
        ("a wrong key", with_key("dcr_" + "x" * 43), False),
        ("a revoked read key", with_key(revoked), False),
        *[(f"a key with only {s}", with_key(make_key(s)), s == "read") for s in keys.SCOPES],
        ("a bearer read key", with_key(make_key("read"), bearer=True), True),
        ("staff without view_jobstate", staff_with("view_jobschedule"), False),
        ("a user with view_jobstate", logged_in(user_with("view_jobstate")), True),
        ("a superuser", logged_in(User.objects.create_superuser("root")), True),
    ]


@on_each_cron_database
def test_the_status_details_answer_exactly_the_credentials_that_may_see_them(
    alias, cron_db, jobs, operator_key
):
    before = snapshot(alias)
    for label, client, sees in _viewers(operator_key):
        extra = {"QUERY_STRING": f"key={KEY}"} if "query string" in label else {}
        response = client.get("/cron/status/", **extra)
        assert response.status_code == 200, label
        assert ("jobs" in response.json()) is sees, label
    # The ping URL opens with the ping key only: an operator key is not a ping key.
    assert Client().get(f"/cron/ping/{KEY}/").status_code == 200
    assert Client().get(f"/cron/ping/{operator_key('read', 'run')}/").status_code == 404
    assert snapshot(alias)[:4] == before[:4]


# Each action, allowed --------------------------------------------------------------


BOTH = pytest.mark.parametrize("how", ["key", "user"])


def client_for(how: str, name: str, make_key) -> Client:
    """A client with a key of the action's scope, or staff with exactly its permissions."""
    action = ACTIONS[name]
    if how == "key":
        return with_key(make_key(action.scope), bearer=True)
    return staff_with(*action.permissions)


@pytest.mark.django_db
@BOTH
def test_list_shows_each_job_with_its_state_a_page_at_a_time(scene, how, operator_key):
    response = send(client_for(how, "list", operator_key), "list")
    assert response.status_code == 200
    assert "no-cache" in response["Cache-Control"]
    body = response.json()
    listed = {job["name"]: job for job in body["jobs"]}
    assert list(listed) == ["hourly", "report"]
    assert listed["hourly"]["enabled"] is False and listed["hourly"]["health"] == "paused"
    assert listed["report"]["enabled"] is True and listed["report"]["schedule"] == "Every hour"
    assert listed["report"]["last_status"] == "" and listed["report"]["next_run"]
    assert (body["count"], body["page"], body["pages"], body["next"]) == (2, 1, 1, None)


@pytest.mark.django_db
def test_the_lists_are_paginated(jobs, operator_key):
    for n in range(5):
        jobs.register(lambda: None, name=f"job{n}", every=60)
    client = with_key(operator_key("read"))
    first = client.get("/cron/api/jobs/?per_page=3").json()
    assert [job["name"] for job in first["jobs"]] == ["hourly", "job0", "job1"]
    assert (first["count"], first["pages"]) == (7, 3)
    second = client.get(first["next"]).json()
    assert [job["name"] for job in second["jobs"]] == ["job2", "job3", "job4"]
    assert second["previous"] == "/cron/api/jobs/?per_page=3&page=1"
    for query in (
        "page=4",
        "page=0",
        "page=x",
        "per_page=501",
        "per_page=-1",
        "page=%C2%B2",
        "page=" + "9" * 5000,
    ):
        response = client.get(f"/cron/api/jobs/?{query}")
        assert response.status_code == 400 and "error" in response.json(), query


@pytest.mark.django_db
@BOTH
def test_once_list_shows_the_one_off_runs_waiting_first_with_their_arguments(
    jobs, how, operator_key
):
    ran = django_cron.schedule_once("report", kwargs={"to": "done"})
    run_due()
    later = django_cron.schedule_once("report", delay=600, kwargs={"to": "later"})
    sooner = django_cron.schedule_once("report", delay=60, kwargs={"to": "sooner"})
    body = send(client_for(how, "once-list", operator_key), "once-list").json()
    assert [(o["id"], o["state"]) for o in body["once"]] == [
        (sooner.pk, "pending"),
        (later.pk, "pending"),
        (ran.pk, "ok"),
    ]
    assert body["once"][0]["kwargs"] == {"to": "sooner"} and body["count"] == 3


@pytest.mark.django_db
def test_list_answers_head_too(scene, operator_key):
    assert with_key(operator_key("read")).head("/cron/api/jobs/").status_code == 200


@on_each_database
def test_run_now_answers_at_once_and_runs_the_job_after_the_response(
    alias, cron_db, jobs, operator_key
):
    response = with_key(operator_key("run", name="deploy")).post("/cron/api/jobs/report/run/")
    assert response.status_code == 202
    shown = response.json()["once"]
    # Pending when the answer was written: the run comes after it.
    assert (shown["job"], shown["name"], shown["state"], shown["author"]) == (
        "report",
        f"report (once {shown['id']})",
        "pending",
        "API key deploy",
    )
    entry = JobSchedule.objects.using(alias).get(pk=shown["id"])
    assert entry.kind == JobSchedule.Kind.ONCE
    ran = JobRun.objects.using(alias).filter(job__db_schedule=entry)
    wait_for(lambda: ran.filter(status="ok").exists(), message="the run after the response")
    assert CALLS == [("report", (), {"to": "nobody", "copies": 1})]
    # What started it is in its history.
    assert ran.get().started_by == f"once #{entry.pk} by API key deploy"
    # Claimed once: no later pass runs it again.
    assert run_due().runs == [] and ran.count() == 1


@pytest.mark.django_db
def test_run_now_by_a_staff_user_with_the_change_permission(jobs, operator_key):
    response = send(client_for("user", "run", operator_key), "run")
    assert response.status_code == 202
    wait_for(lambda: CALLS, message="the run after the response")
    assert CALLS == [("report", (), {"to": "nobody", "copies": 1})]
    assert JobRun.objects.get().job.db_schedule_id == response.json()["once"]["id"]


@pytest.mark.django_db
@BOTH
def test_pause_with_a_reason_and_resume(jobs, how, operator_key):
    client = client_for(how, "pause", operator_key)
    response = client.post(
        "/cron/api/jobs/report/pause/",
        json.dumps({"reason": "database upgrade"}),
        content_type="application/json",
    )
    assert response.status_code == 200
    body = response.json()
    assert (body["name"], body["enabled"]) == ("report", False)
    assert body["paused"]["reason"] == "database upgrade" and body["paused"]["at"]
    who = body["paused"]["by"]
    assert who.startswith("API key ") if how == "key" else who.startswith("user")
    state = JobState.objects.get(name="report")
    assert (state.enabled, state.pause_reason, state.paused_by) == (False, "database upgrade", who)
    listed = with_key(operator_key("read")).get("/cron/api/jobs/").json()["jobs"]
    (shown,) = [job for job in listed if job["name"] == "report"]
    assert shown["enabled"] is False and shown["paused"]["reason"] == "database upgrade"
    # Paused, it does not run when due.
    JobState.objects.filter(name="report").update(next_run_at=timezone.now())
    assert run_due().runs == []
    response = client.post("/cron/api/jobs/report/resume/")
    assert response.status_code == 200
    assert response.json() == {"name": "report", "enabled": True, "paused": None}
    state.refresh_from_db()
    assert (state.enabled, state.pause_reason, state.paused_by) == (True, "", "")
    actions = list(AuditEntry.objects.order_by("pk").values_list("action", "job", "note"))
    assert actions == [("pause", "report", "database upgrade"), ("resume", "report", "")]


PAUSE = "/cron/api/jobs/report/pause/"


@pytest.mark.django_db
def test_pause_takes_no_body_too_and_refuses_a_bad_reason(jobs, operator_key):
    client = with_key(operator_key("pause"))
    assert client.post("/cron/api/jobs/report/pause/").json()["paused"]["reason"] == ""
    before = snapshot()
    for body in ('{"reason": 5}', json.dumps({"reason": "x" * 1001}), '{"why": "x"}'):
        response = client.post(PAUSE, body, content_type="application/json")
        assert response.status_code == 400, body
    assert snapshot() == before


@pytest.mark.django_db
def test_pause_makes_the_row_of_a_job_the_runner_has_not_seen_yet(jobs, operator_key):
    jobs.register(lambda: None, name="new", every=60)
    assert not JobState.objects.filter(name="new").exists()
    response = with_key(operator_key("pause")).post("/cron/api/jobs/new/pause/")
    assert response.status_code == 200
    assert JobState.objects.get(name="new").enabled is False


@pytest.mark.django_db
def test_pause_takes_a_further_schedules_name_as_the_list_gives_it(jobs, operator_key):
    extra = django_cron.add_schedule("report", every=300, kwargs={"to": "board"})
    client = with_key(operator_key("read", "pause"))
    names = [job["name"] for job in client.get("/cron/api/jobs/").json()["jobs"]]
    name = f"report (schedule {extra.pk})"
    assert name in names
    response = client.post(f"/cron/api/jobs/{name}/pause/")
    assert response.status_code == 200 and response.json()["enabled"] is False
    assert JobState.objects.get(name=name).enabled is False
    assert JobState.objects.get(name="report").enabled is True


@pytest.mark.django_db
@BOTH
def test_once_schedules_a_one_off_run_after_a_delay_with_arguments(jobs, how, operator_key):
    before = timezone.now()
    response = send(client_for(how, "once", operator_key), "once")
    assert response.status_code == 201
    shown = response.json()["once"]
    entry = JobSchedule.objects.get()
    assert shown["id"] == entry.pk and shown["state"] == "pending"
    assert (entry.kind, entry.args, entry.kwargs) == ("once", [], {"to": "ops"})
    assert before + timedelta(seconds=60) <= entry.at <= timezone.now() + timedelta(seconds=60)
    (row,) = AuditEntry.objects.all()
    assert (row.action, row.job, row.arguments) == (
        "schedule once",
        "report",
        {"args": [], "kwargs": {"to": "ops"}},
    )
    assert run_due().runs == []  # not yet
    JobState.objects.filter(db_schedule=entry).update(next_run_at=timezone.now())
    (run,) = run_due().runs
    assert run.status == "ok" and CALLS == [("report", (), {"to": "ops", "copies": 1})]


@pytest.mark.django_db
def test_once_reads_a_naive_date_in_time_zone_and_takes_positional_arguments(
    jobs, settings, operator_key
):
    settings.TIME_ZONE = "Asia/Tokyo"
    body = {"at": "2031-05-04T09:30:00", "args": ["board", 3]}
    response = with_key(operator_key("schedule")).post(
        "/cron/api/jobs/report/once/", json.dumps(body), content_type="application/json"
    )
    assert response.status_code == 201
    entry = JobSchedule.objects.get()
    assert entry.args == ["board", 3]
    expected = datetime(2031, 5, 4, 0, 30, tzinfo=dt_timezone.utc)
    assert aware(entry.at) == expected
    assert datetime.fromisoformat(response.json()["once"]["at"]) == expected


@pytest.mark.django_db
def test_once_with_no_body_runs_now_with_the_registered_arguments(jobs, operator_key):
    # As curl -X POST sends it: no body at all.
    response = with_key(operator_key("schedule")).post(
        "/cron/api/jobs/report/once/", "", content_type="application/json"
    )
    assert response.status_code == 201
    (run,) = run_due().runs
    assert run.job.db_schedule_id == response.json()["once"]["id"]
    assert CALLS == [("report", (), {"to": "nobody", "copies": 1})]


@pytest.mark.django_db
@BOTH
def test_cancel_keeps_a_one_off_run_from_running_and_a_second_cancel_gets_409(
    scene, how, operator_key
):
    client = client_for(how, "cancel", operator_key)
    response = send(client, "cancel", scene)
    assert response.status_code == 200
    body = response.json()
    assert body["cancelled"] is True
    assert (body["once"]["id"], body["once"]["state"]) == (scene.pk, "cancelled")
    scene.refresh_from_db()
    assert scene.cancelled_at is not None
    assert list(AuditEntry.objects.values_list("action", "job")) == [("cancel", "report")]
    again = send(client, "cancel", scene)
    assert again.status_code == 409 and again.json()["cancelled"] is False
    # Nothing changed the second time: no audit row either.
    assert AuditEntry.objects.count() == 1
    # Even with its time come, it does not run.
    JobState.objects.filter(db_schedule=scene).update(next_run_at=timezone.now())
    assert run_due().runs == [] and CALLS == []


@on_each_database
def test_cancel_of_a_one_off_run_that_ran_gets_409_and_changes_nothing(
    alias, cron_db, jobs, operator_key
):
    entry = django_cron.schedule_once("report", kwargs={"to": "ops"})
    run_due()
    client = with_key(operator_key("schedule"))
    before = snapshot(alias)
    response = client.post(f"/cron/api/once/{entry.pk}/cancel/")
    assert response.status_code == 409
    body = response.json()
    assert body["cancelled"] is False and body["once"]["state"] == "ok"
    assert snapshot(alias) == before


@on_each_database
def test_cancel_loses_to_a_runner_that_claims_the_run_between_its_read_and_write(
    alias, cron_db, jobs, operator_key
):
    entry = django_cron.schedule_once("report", kwargs={"to": "ops"})
    client = with_key(operator_key("schedule"))

    def claim():
        # Another runner, as the cancel is about to write: it claims the slot and runs it.
        assert len(run_due().runs) == 1

    # The key's first use is written: the next one's, within a minute, is not.
    client.post("/cron/api/once/0/cancel/")
    with before_first_update(alias, claim):
        response = client.post(f"/cron/api/once/{entry.pk}/cancel/")
    assert response.status_code == 409
    body = response.json()
    assert body["cancelled"] is False and body["once"]["state"] == "ok"
    entry.refresh_from_db(using=alias)
    assert entry.cancelled_at is None
    assert CALLS == [("report", (), {"to": "ops", "copies": 1})]


@pytest.mark.django_db
def test_the_audit_list_gives_the_trail_newest_first_and_by_job(jobs, operator_key):
    client = with_key(operator_key("pause", "read", name="ops"))
    client.post("/cron/api/jobs/report/pause/")
    client.post("/cron/api/jobs/hourly/pause/")
    body = client.get("/cron/api/audit/").json()
    assert [(e["action"], e["job"], e["actor"]) for e in body["audit"]] == [
        ("pause", "hourly", "API key ops"),
        ("pause", "report", "API key ops"),
    ]
    assert body["audit"][0]["remote_addr"] == "127.0.0.1"
    only = client.get("/cron/api/audit/?job=report").json()["audit"]
    assert [e["job"] for e in only] == ["report"]


# Refusals ------------------------------------------------------------------------


@pytest.mark.django_db
@pytest.mark.parametrize("name", CHANGES)
def test_a_session_post_without_the_csrf_token_is_refused_and_changes_nothing(scene, name):
    client = Client(enforce_csrf_checks=True)
    client.force_login(User.objects.create_superuser("root"))
    client.cookies["csrftoken"] = CSRF_SECRET  # the cookie alone, as a forged form sends it
    before = snapshot()
    response = send(client, name, scene)
    refused(response, before)
    assert "CSRF" in response.json()["error"]


@pytest.mark.django_db
@pytest.mark.parametrize("name", CHANGES)
def test_a_session_post_with_the_csrf_token_is_accepted(scene, name):
    client = Client(enforce_csrf_checks=True)
    client.force_login(User.objects.create_superuser("root"))
    client.cookies["csrftoken"] = CSRF_SECRET
    response = send(client, name, scene, headers={"X-CSRFToken": CSRF_SECRET})
    assert response.status_code == ACTIONS[name].allowed, response.content


@pytest.mark.django_db
@pytest.mark.parametrize("name", CHANGES)
def test_a_key_needs_no_csrf_token(scene, name, operator_key):
    client = Client(enforce_csrf_checks=True, headers={"X-Cron-Key": operator_key()})
    assert send(client, name, scene).status_code == ACTIONS[name].allowed


@pytest.mark.django_db
@pytest.mark.parametrize("name", CHANGES)
@pytest.mark.parametrize("method", ["get", "put", "delete"])
def test_an_action_answers_only_post(scene, name, method, operator_key):
    before = snapshot()
    response = getattr(with_key(operator_key()), method)(ACTIONS[name].path.format(pk=scene.pk))
    assert response.status_code == 405 and response["Allow"] == "POST"
    assert snapshot() == before


@pytest.mark.django_db
def test_the_lists_answer_only_get_and_head(scene, operator_key):
    client = with_key(operator_key())
    for path in ("/cron/api/jobs/", "/cron/api/once/", "/cron/api/audit/"):
        response = client.post(path)
        assert response.status_code == 405 and response["Allow"] == "GET, HEAD"


@pytest.mark.django_db
@pytest.mark.parametrize("name", ["run", "pause", "resume", "once"])
@pytest.mark.parametrize("job", ["reprot", "report/extra", "report (once 1)"])
def test_an_unknown_job_gets_404_and_changes_nothing(scene, name, job, operator_key):
    client = with_key(operator_key())
    before = snapshot()
    response = client.post(f"/cron/api/jobs/{job}/{name}/")
    refused(response, before, status=404)
    assert job in response.json()["error"]


@pytest.mark.django_db
def test_an_unknown_one_off_run_gets_404(scene, operator_key):
    extra = django_cron.add_schedule("report", every=300, kwargs={"to": "board"})
    client = with_key(operator_key())
    before = snapshot()
    # None; a further schedule, which is not a one-off run; an id no column holds.
    for pk in (10**6, extra.pk, 10**30):
        refused(client.post(f"/cron/api/once/{pk}/cancel/"), before, status=404)


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
    pytest.param('{"kwargs": {"to": NaN}}', "error", id="kwargs-not-json"),
    pytest.param('{"kwargs": {"recipient": "ops"}}', "args", id="kwargs-the-job-does-not-take"),
    pytest.param('{"args": ["a", 1, 2]}', "args", id="too-many-args"),
]


@pytest.mark.django_db
@pytest.mark.parametrize(("body", "field"), BAD_BODIES)
def test_a_bad_body_gets_400_saying_why_and_stores_nothing(jobs, body, field, operator_key):
    client = with_key(operator_key("schedule"))
    before = snapshot()
    response = client.post("/cron/api/jobs/report/once/", body, content_type="application/json")
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
    # The key cannot be looked up: the answer says why, rather than refusing it.
    response = getattr(with_key("dcr_" + "k" * 43), method)(path)
    assert response.status_code == 503
    assert response.json()["reason"] == "database_unavailable"


@pytest.mark.usefixtures("offline")
def test_a_user_who_cannot_be_looked_up_gets_403_not_500(settings):
    settings.DATABASE_ROUTERS = ["tests.test_views.SessionsOffline"]
    client = Client()
    client.cookies[settings.SESSION_COOKIE_NAME] = "k3y0fas3ss10nthed8tabas3wouldkn0w"
    response = client.get("/cron/api/jobs/")
    assert response.status_code == 403 and "error" in response.json()
