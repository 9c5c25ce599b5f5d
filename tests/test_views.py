"""The ping and status views: honest answers without a database, and who sees job details."""

import logging
from datetime import datetime, time

import pytest
from django.conf import settings as django_settings
from django.contrib.auth.models import Permission, User
from django.db import connections
from django.db.migrations.executor import MigrationExecutor
from django.test import Client

from django_cron.clock import with_offset
from django_cron.models import JobState
from django_cron.runner import run_due
from django_cron.trigger import trigger
from tests.conftest import no_queries
from tests.effects import CALLS, record
from tests.settings import PING_KEY

KEY = PING_KEY

DOWN = {
    "healthy": False,
    "reason": "database_unavailable",
    "message": "the database is unavailable",
}
UNMIGRATED = {
    "healthy": False,
    "reason": "not_migrated",
    "message": "django_cron's tables are missing or out of date: run manage.py migrate",
}
# The aliases of tests/settings.py: a refused connection, and a database with no tables.
ANSWERS = {"offline": DOWN, "unmigrated": UNMIGRATED}
UNANSWERING = [
    pytest.param("offline", id="database-down"),
    pytest.param("unmigrated", id="not-migrated"),
]


@pytest.fixture(autouse=True)
def fresh_trigger():
    trigger.__init__()  # as a new process starts
    yield
    if trigger._thread is not None:
        trigger._thread.join(timeout=30)
    trigger.__init__()


@pytest.fixture
def unanswering(request, settings, registry, django_db_blocker):
    """Point django_cron at a database that cannot answer (the parameter), with one job."""
    registry.register(lambda: record("job"), name="job", every=60)
    settings.DJANGO_CRON = {"PING_KEY": KEY, "DATABASE": request.param}
    # No django_db mark: under one, pytest-django makes every alias the test does
    # not own raise before connecting. Here the connection is attempted for real.
    with django_db_blocker.unblock():
        yield request.param


# Without a database -----------------------------------------------------------


@pytest.mark.parametrize("unanswering", UNANSWERING, indirect=True)
def test_status_answers_503_with_the_reason(unanswering):
    response = Client().get("/cron/status/")
    assert response.status_code == 503
    assert response.json() == ANSWERS[unanswering]


@pytest.mark.parametrize("unanswering", UNANSWERING, indirect=True)
def test_the_log_says_which_endpoint_could_not_answer_and_why(unanswering, caplog):
    with caplog.at_level(logging.WARNING, logger="django_cron"):
        Client().get("/cron/status/")
    (message,) = [r.getMessage() for r in caplog.records if r.name == "django_cron"]
    expected = {"offline": "database unavailable: ", "unmigrated": "django_cron's tables"}
    assert message.startswith(f"/cron/status/: {expected[unanswering]}")


@pytest.mark.parametrize("unanswering", UNANSWERING, indirect=True)
def test_status_gives_the_databases_words_only_with_the_key(unanswering):
    assert "detail" not in Client().get("/cron/status/?key=wrong").json()
    body = Client().get("/cron/status/", headers={"X-Cron-Key": KEY}).json()
    assert body == {**ANSWERS[unanswering], "detail": body["detail"]}
    expected = "django_cron.0001_initial" if unanswering == "unmigrated" else "127.0.0.1"
    assert expected in body["detail"] and "\n" not in body["detail"]


@pytest.mark.parametrize("unanswering", UNANSWERING, indirect=True)
@pytest.mark.parametrize("method", ["get", "post"])
def test_ping_answers_503_with_the_reason_and_checks_nothing_after(unanswering, method, caplog):
    with caplog.at_level(logging.WARNING, logger="django_cron"):
        response = getattr(Client(), method)(f"/cron/ping/{KEY}/")
    assert response.status_code == 503
    body = response.json()
    assert body == {**ANSWERS[unanswering], "detail": body["detail"]}
    # A due check would have failed the same way, and said so in the log.
    assert "due check" not in caplog.text
    assert trigger._failures == 0 and trigger.next_check == 0.0
    assert CALLS == []


@pytest.mark.parametrize("unanswering", UNANSWERING, indirect=True)
def test_a_wrong_ping_key_gets_404_before_the_database_is_asked(unanswering, caplog):
    with caplog.at_level(logging.WARNING, logger="django_cron"), no_queries():
        assert Client().get("/cron/ping/wrong-key/").status_code == 404
        assert Client().post(f"/cron/ping/{KEY}x/").status_code == 404
    assert [r for r in caplog.records if r.name == "django_cron"] == []
    assert trigger.next_check == 0.0 and CALLS == []


class SessionsOffline:
    """Keep sessions in the database that is down, as a site with one database would."""

    def db_for_read(self, model, **hints):
        return "offline" if model._meta.app_label == "sessions" else None


@pytest.mark.parametrize("unanswering", [UNANSWERING[0]], indirect=True)
def test_status_without_a_database_to_find_the_user_in_answers_503(unanswering, settings):
    settings.DATABASE_ROUTERS = [f"{__name__}.SessionsOffline"]
    client = Client()
    client.cookies[settings.SESSION_COOKIE_NAME] = "k3y0fas3ss10nthed8tabas3wouldkn0w"
    response = client.get("/cron/status/")
    assert response.status_code == 503 and response.json() == DOWN


@pytest.mark.skipif(
    "postgresql" in django_settings.MISSING_SERVICES,
    reason=django_settings.MISSING_SERVICES.get("postgresql", ""),
)
@pytest.mark.django_db(databases=["default", "postgresql"])
def test_status_says_to_migrate_from_inside_a_transaction_on_postgresql(registry, settings):
    # The test's transaction stands for ATOMIC_REQUESTS: after a failed query,
    # PostgreSQL refuses every other one in it until a rollback. Its rollback
    # also brings the unapplied migrations back afterwards.
    registry.register(lambda: None, name="job", every=60)
    settings.DJANGO_CRON = {"PING_KEY": KEY, "DATABASE": "postgresql"}
    MigrationExecutor(connections["postgresql"]).migrate([("django_cron", None)])
    response = Client().get("/cron/status/")
    assert response.status_code == 503 and response.json() == UNMIGRATED


# Who sees details -------------------------------------------------------------


@pytest.fixture
def job(registry):
    registry.register(lambda: None, name="fine", every=60)


def shows_details(client, path="/cron/status/", **extra) -> bool:
    response = client.get(path, **extra)
    assert response.status_code == 200
    return "jobs" in response.json()


def logged_in(user) -> Client:
    client = Client()
    client.force_login(user)
    return client


def view_jobstate():
    return Permission.objects.get(content_type__app_label="django_cron", codename="view_jobstate")


@pytest.mark.django_db
def test_staff_without_the_view_permission_see_no_details(job):
    staff = User.objects.create_user("staff", is_staff=True)
    client = logged_in(staff)
    assert not shows_details(client)
    staff.user_permissions.add(view_jobstate())
    assert shows_details(client)


@pytest.mark.django_db
def test_a_user_with_the_view_permission_sees_details_without_being_staff(job):
    user = User.objects.create_user("watcher")
    user.user_permissions.add(view_jobstate())
    assert shows_details(logged_in(user))


@pytest.mark.django_db
def test_a_superuser_sees_details(job):
    assert shows_details(logged_in(User.objects.create_superuser("root")))


@pytest.mark.django_db
def test_the_key_shows_details_to_anyone(job):
    assert shows_details(Client(), f"/cron/status/?key={KEY}")
    assert shows_details(Client(), headers={"X-Cron-Key": KEY})
    assert not shows_details(Client())


@pytest.mark.django_db
@pytest.mark.parametrize("given", ["", "anything", KEY])
def test_with_no_ping_key_no_key_shows_details(job, settings, given):
    settings.DJANGO_CRON = {"PING_KEY": ""}
    assert not shows_details(Client(), f"/cron/status/?key={given}")
    assert not shows_details(Client(), headers={"X-Cron-Key": given})


@pytest.mark.django_db
def test_a_job_that_cannot_run_makes_status_503_and_is_named_with_the_key(registry):
    registry.register(lambda: None, name="fine", every=60)
    registry.register(lambda: None, name="feb30", schedule="0 0 30 2 *")
    response = Client().get("/cron/status/")
    assert response.status_code == 503
    assert response.json()["broken"] == 1 and "jobs" not in response.json()
    jobs = {job["name"]: job for job in Client().get(f"/cron/status/?key={KEY}").json()["jobs"]}
    assert jobs["fine"]["health"] == "new" and jobs["fine"]["problem"] is None
    assert jobs["feb30"]["health"] == "broken"
    assert jobs["feb30"]["problem"].startswith("it never comes due")


@pytest.mark.django_db
def test_details_say_everything_the_runner_knows_of_each_job(registry):
    def broken():
        raise ValueError("disk full")

    registry.register(broken, name="berlin", schedule="*/5 * * * *", timezone="Europe/Berlin")
    registry.register(lambda: {"sent": 42}, name="mail", every=300)
    run_due(["berlin", "mail"], force=True)
    # Registered since the runner's pass (a pass makes every registered job's row).
    registry.register(lambda: None, name="unseen", schedule="30 2 * * *")
    state = JobState.objects.get(name="berlin")
    job, mail, unseen = Client().get(f"/cron/status/?key={KEY}").json()["jobs"]
    # Not seen by the runner yet: the first run it will plan.
    assert datetime.fromisoformat(unseen.pop("next_run")).time() == time(2, 30)
    assert unseen == {
        "name": "unseen",
        "health": "new",
        "schedule": "At 02:30 AM",
        "timezone": django_settings.TIME_ZONE,
        "last_run": None,
        "last_status": "",
        "last_duration": None,
        "last_error": "",
        "last_return": "",
        "last_queue_wait": None,
        "problem": None,
        "paused": None,
        "overlap": "buffer_one",
        "skipped": {"paused": 0, "overlap": 0, "blackout": 0, "text": ""},
    }
    assert job == {
        "name": "berlin",
        "health": "failing",
        "schedule": "Every 5 minutes",
        "timezone": "Europe/Berlin",
        "next_run": with_offset(state.next_run_at).isoformat(),
        "last_run": with_offset(state.last_run_at).isoformat(),
        "last_status": "failed",
        "last_duration": state.last_duration,
        "last_error": "ValueError: disk full",
        "last_return": "",
        "last_queue_wait": None,
        "problem": None,
        "paused": None,
        "overlap": "buffer_one",
        "skipped": {"paused": 0, "overlap": 0, "blackout": 0, "text": ""},
    }
    assert mail["last_status"] == "ok" and mail["last_return"] == "{'sent': 42}"
    assert mail["last_duration"] >= 0
