"""
What hostile or careless input gets: a 4xx that says why, never a 500 or a
503, and nothing stored. Job text that no database or terminal takes as it
is, limits against abuse, and the ping key kept out of logs.
"""

import json
import logging
from datetime import datetime, timedelta
from datetime import timezone as dt_timezone
from io import StringIO

import pytest
from django.conf import settings as django_settings
from django.contrib.auth.models import User
from django.core import checks
from django.core.exceptions import ValidationError
from django.core.management import CommandError, call_command
from django.test import Client
from django.urls import reverse
from django.utils import timezone

import django_cron
from django_cron import inputs
from django_cron.availability import RefusedValue, ask
from django_cron.models import AuditEntry, JobRun, JobSchedule, JobState
from django_cron.runner import run_due
from django_cron.runtime.history import prune_history
from tests import test_db_schedules, test_views
from tests.conftest import on_each_cron_database, on_each_database
from tests.effects import CALLS, record
from tests.test_api import snapshot, with_key
from tests.test_db_schedule_admin import ADD, errors_of, form
from tests.test_views import KEY, logged_in

jobs = test_db_schedules.jobs
fresh_trigger = test_views.fresh_trigger
JOBS = reverse("admin:django_cron_jobstate_changelist")


def once(client, body, job="report"):
    text = body if isinstance(body, str) else json.dumps(body)
    return client.post(f"/cron/api/jobs/{job}/once/", text, content_type="application/json")


# Far dates ---------------------------------------------------------------------------

FAR = ["9999-12-31T23:59:59Z", "0001-01-01T00:00:00+05:00", "2200-01-01T00:00:00Z"]


@on_each_cron_database
@pytest.mark.parametrize("at", FAR)
def test_a_date_the_product_cannot_handle_gets_400_and_stores_nothing(
    alias, cron_db, jobs, operator_key, at
):
    client = with_key(operator_key("schedule"))
    before = snapshot(alias)
    response = once(client, {"at": at})
    assert response.status_code == 400, response.content
    assert "years of now" in response.json()["errors"]["at"][0]
    assert snapshot(alias) == before
    # The Python API and the admin refuse it too.
    moment = datetime.fromisoformat(at.replace("Z", "+00:00"))
    with pytest.raises(ValidationError) as refused:
        django_cron.schedule_once("report", at=moment)
    assert "at" in refused.value.message_dict
    admin = logged_in(User.objects.create_superuser("root"))
    day, time = at[:10], at[11:19]
    response = admin.post(
        ADD, form(job="report", kind="extra", every="60", start_date_0=day, start_date_1=time)
    )
    assert "years of now" in " ".join(errors_of(response)["start_date"])
    assert snapshot(alias) == before


@on_each_cron_database
def test_no_stored_date_breaks_a_page(alias, cron_db, jobs, operator_key, settings):
    # Written past every check, as a hand edit or an older version would.
    far = datetime(9999, 12, 31, 23, 59, tzinfo=dt_timezone.utc if settings.USE_TZ else None)
    JobState.objects.using(alias).filter(name="report").update(next_run_at=far)
    admin = logged_in(User.objects.create_superuser("root"))
    assert admin.get(JOBS).status_code == 200
    assert admin.get(f"{JOBS}?health=ok").status_code == 200
    assert Client().get("/cron/status/").status_code == 200
    assert "jobs" in Client().get(f"/cron/status/?key={KEY}").json()
    assert with_key(operator_key("read")).get("/cron/api/jobs/").status_code == 200
    call_command("cron", "list", stdout=StringIO())
    call_command("cron", "status", stdout=StringIO())


# Bodies: size, nesting, text that cannot be stored -------------------------------------


@pytest.mark.django_db
def test_a_body_over_64_kb_gets_413_before_it_is_read(jobs, operator_key):
    client = with_key(operator_key("schedule"))
    before = snapshot()
    body = {"kwargs": {"to": "x" * inputs.BODY_LIMIT}}
    response = once(client, body)
    assert response.status_code == 413 and str(inputs.BODY_LIMIT) in response.json()["error"]
    # 100,000 levels of nesting are refused as too large, before the parser recurses.
    response = once(client, '{"args": ' + "[" * 100_000 + "]" * 100_000 + "}")
    assert response.status_code == 413
    assert snapshot() == before


@pytest.mark.django_db
@pytest.mark.parametrize("depth", [inputs.DEPTH_LIMIT, 20_000])
def test_json_nested_too_deep_gets_400_and_stores_nothing(jobs, operator_key, depth):
    client = with_key(operator_key("schedule"))
    before = snapshot()
    # The body is one level, "args" another: the list inside is too deep.
    response = once(client, '{"args": ' + "[" * depth + "]" * depth + "}")
    assert response.status_code == 400
    assert f"deeper than {inputs.DEPTH_LIMIT}" in response.json()["error"]
    assert snapshot() == before
    # One level less is accepted: the job takes one argument, and gets the lists.
    fine = inputs.DEPTH_LIMIT - 1
    response = once(client, '{"args": ' + "[" * fine + "]" * fine + "}")
    assert response.status_code == 201


@pytest.mark.django_db
def test_the_admin_refuses_deep_or_unstorable_arguments_with_a_form_error(jobs, admin_client):
    for kwargs, message in [
        ('{"to": ' + "[" * 20_000 + "]" * 20_000 + "}", "levels deep"),
        ('{"to": "a\\u0000b"}', "NUL"),
        ('{"to": "\\ud800"}', "lone surrogate"),
        ("x" * (inputs.BODY_LIMIT + 1), "characters"),
    ]:
        response = admin_client.post(
            ADD, form(job="report", kind="extra", every="60", kwargs=kwargs)
        )
        assert message in " ".join(errors_of(response)["kwargs"]), message
    assert not JobSchedule.objects.exists()


@on_each_database
@pytest.mark.parametrize(
    "path, body",
    [
        ("/cron/api/jobs/rep%00ort/pause/", None),
        ("/cron/api/jobs/report/pause/", '{"reason": "a\\u0000b"}'),
        ("/cron/api/jobs/report/pause/", '{"reason": "\\udc80"}'),
        ("/cron/api/jobs/report/once/", '{"kwargs": {"to": "a\\u0000b"}}'),
        ("/cron/api/jobs/report/once/", '{"kwargs": {"t\\u0000o": "b"}}'),
        ("/cron/api/jobs/report/once/", '{"kwargs": {"to": "\\ud800"}}'),
        ("/cron/api/audit/?job=rep%00ort", None),
    ],
    ids=["name", "reason", "reason-surrogate", "kwarg", "kwarg-name", "kwarg-surrogate", "query"],
)
def test_nul_and_lone_surrogates_get_400_before_the_database_sees_them(
    alias, cron_db, jobs, operator_key, path, body
):
    client = with_key(operator_key())
    before = snapshot(alias)
    if path.endswith("/"):
        response = client.post(path, body or "", content_type="application/json")
    else:
        response = client.get(path)
    assert response.status_code == 400, response.content
    assert "NUL" in response.json()["error"] and "detail" not in response.json()
    assert snapshot(alias) == before


@pytest.mark.skipif(
    "postgresql" in django_settings.MISSING_SERVICES,
    reason=django_settings.MISSING_SERVICES.get("postgresql", ""),
)
@pytest.mark.django_db(databases=["default", "postgresql"])
def test_a_value_the_database_refuses_is_not_taken_for_an_outage(settings):
    # Past the edge, PostgreSQL refuses NUL in text: the database answered.
    settings.DJANGO_CRON = {**settings.DJANGO_CRON, "DATABASE": "postgresql"}
    with pytest.raises(RefusedValue) as refused:
        ask(lambda: JobState.objects.using("postgresql").filter(name="a\x00b").exists())
    assert refused.value.reason == "value_refused"


# Job text that no database or terminal takes as it is ------------------------------------


@on_each_database
def test_output_that_cannot_be_encoded_is_stored_with_replacement_characters(
    alias, cron_db, registry
):
    undecodable = b"caf\xe9 \x00".decode("utf-8", "surrogateescape")

    def mangled():
        print(undecodable)
        raise ValueError(undecodable)

    registry.register(mangled, name="mangled", every=60)
    registry.register(lambda: undecodable, name="returns", every=60)
    registry.register(lambda: record("after"), name="after", every=60)
    result = run_due(["mangled", "returns", "after"], force=True)
    # Every run recorded, and the job after them ran in the same pass.
    assert [run.status for run in result.runs] == ["failed", "ok", "ok"]
    assert CALLS == [("after", (), {})]
    runs = {run.job.name: run for run in JobRun.objects.using(alias).select_related("job")}
    assert runs["mangled"].output == "caf\ufffd \ufffd\n"
    assert runs["mangled"].error == "ValueError: caf\ufffd \ufffd"
    assert runs["returns"].message == "caf\ufffd \ufffd"
    assert JobState.objects.using(alias).get(name="mangled").last_error.startswith("ValueError")


ESCAPES = "\x1b[2K\r\x1b[32mall fine\x1b[0m \x1b]8;;https://evil.example/\x07click\x1b]8;;\x07"


@pytest.mark.django_db
def test_the_command_line_prints_a_jobs_control_characters_escaped(registry):
    def lying():
        raise ValueError(ESCAPES)

    registry.register(lying, name="lying", every=60)
    registry.register(lambda: ESCAPES, name="sly", every=60)
    out = StringIO()
    with pytest.raises(CommandError):
        call_command("cron", "run", "--force", "lying", "sly", stdout=out)
    err = StringIO()
    with pytest.raises(CommandError):
        call_command("cron", "status", stdout=StringIO(), stderr=err)
    listed = StringIO()
    call_command("cron", "list", stdout=listed)
    for printed in (out.getvalue(), err.getvalue(), listed.getvalue()):
        assert "\x1b" not in printed and "\x07" not in printed and "\r" not in printed
        assert "\\x1b[2K" in printed
    # The whole error, on one line, as repr() would write it.
    assert "lying: failing ValueError: \\x1b[2K\\r\\x1b[32mall fine\\x1b[0m" in err.getvalue()


# Limits -----------------------------------------------------------------------------------


@pytest.mark.django_db
def test_pending_one_off_runs_are_capped_per_job_with_429(jobs, operator_key, settings):
    settings.DJANGO_CRON = {**settings.DJANGO_CRON, "MAX_PENDING_ONE_OFFS": 3}
    client = with_key(operator_key("schedule", "run"))
    for _ in range(3):
        assert once(client, {"delay": 600}).status_code == 201
    before = snapshot()
    for response in (once(client, {"delay": 600}), client.post("/cron/api/jobs/report/run/")):
        assert response.status_code == 429
        assert "MAX_PENDING_ONE_OFFS" in response.json()["error"]
    assert snapshot() == before
    with pytest.raises(ValidationError):
        django_cron.schedule_once("report")
    # Another job has its own count; one that ran or was cancelled no longer counts.
    assert once(client, {}, job="hourly").status_code == 201
    django_cron.cancel(JobSchedule.objects.filter(job="report").first())
    assert once(client, {"delay": 600}).status_code == 201


@pytest.mark.django_db
@pytest.mark.parametrize(
    "fields, least, field",
    [
        ({"every": "0.001"}, 1, "every"),
        ({"every": "0.5s"}, 1, "every"),
        ({"every": "4"}, 5, "every"),
        ({"cron": "*/2 * * * * *"}, 5, "cron"),
        ({"cron": "0,1 30 * * * *"}, 5, "cron"),
        ({"cron": "*/5 * * * *"}, 600, "cron"),
    ],
)
def test_a_schedule_in_the_database_may_not_run_more_often_than_min_interval(
    jobs, admin_client, settings, fields, least, field
):
    settings.DJANGO_CRON = {**settings.DJANGO_CRON, "MIN_INTERVAL": least}
    response = admin_client.post(ADD, form(job="report", kind="extra", **fields))
    assert "DJANGO_CRON['MIN_INTERVAL']" in " ".join(errors_of(response)[field])
    assert not JobSchedule.objects.exists()
    with pytest.raises(ValidationError) as refused:
        django_cron.add_schedule("report", **fields)
    assert field in refused.value.message_dict


@pytest.mark.django_db
def test_a_schedule_at_min_interval_is_accepted(jobs, settings):
    settings.DJANGO_CRON = {**settings.DJANGO_CRON, "MIN_INTERVAL": 5}
    django_cron.add_schedule("report", every=5)
    django_cron.add_schedule("report", cron="*/5 * * * * *")
    django_cron.replace_schedule("hourly", every="1m")
    assert JobSchedule.objects.count() == 3


@pytest.mark.django_db
def test_finished_one_off_runs_and_old_audit_rows_are_pruned_with_the_history(
    jobs, operator_key, settings
):
    settings.DJANGO_CRON = {**settings.DJANGO_CRON, "HISTORY_DAYS": 1}
    client = with_key(operator_key("run", "schedule"))
    for _ in range(3):
        assert client.post("/cron/api/jobs/report/run/").status_code == 202
    run_due()
    waiting = django_cron.schedule_once("report", delay=600)
    cancelled = django_cron.schedule_once("report", delay=600)
    django_cron.cancel(cancelled)
    # Two days on, the runs, the finished one-off runs and the audit rows are old.
    old = timezone.now() - timedelta(days=2)
    JobRun.objects.update(started_at=old, scheduled_for=old)
    JobSchedule.objects.exclude(pk=waiting.pk).update(at=old)
    AuditEntry.objects.update(at=old)
    states_before = JobState.objects.count()
    django_cron.runtime.history._pruned.clear()
    prune_history()
    assert list(JobSchedule.objects.values_list("pk", flat=True)) == [waiting.pk]
    assert JobState.objects.count() == states_before - 4
    assert not JobRun.objects.exists() and not AuditEntry.objects.exists()


@pytest.mark.django_db
def test_status_details_are_paginated_and_list_a_bounded_number_of_one_offs(
    jobs, settings, monkeypatch
):
    monkeypatch.setattr(django_cron.views, "WAITING_SHOWN", 3)
    for n in range(5):
        jobs.register(lambda: None, name=f"job{n}", every=60)
    for _ in range(5):
        django_cron.schedule_once("report", delay=600, kwargs={"to": "secret"})
    client = Client(headers={"X-Cron-Key": KEY})
    body = client.get("/cron/status/?per_page=4").json()
    assert len(body["jobs"]) == 4 and body["page"]["count"] == 7 and body["page"]["pages"] == 2
    assert len(body["once"]) == 3
    # The ping key sees that they are there, not their arguments.
    assert all("kwargs" not in shown for shown in body["once"])
    second = client.get(body["page"]["next"]).json()
    assert len(second["jobs"]) == 3
    assert client.get("/cron/status/?page=9").status_code == 400


# The ping key --------------------------------------------------------------------------


@pytest.fixture
def database_down(settings, registry, django_db_blocker):
    registry.register(lambda: None, name="job", every=60)
    settings.DJANGO_CRON = {"PING_KEY": KEY, "DATABASE": "offline"}
    with django_db_blocker.unblock():
        yield


def test_the_ping_key_stays_out_of_the_log_while_the_database_is_down(database_down, caplog):
    with caplog.at_level(logging.INFO):
        for method in ("get", "post"):
            assert getattr(Client(), method)(f"/cron/ping/{KEY}/").status_code == 503
    logged = [record.getMessage() for record in caplog.records]
    assert logged and all(KEY not in line for line in logged), logged
    assert any("/cron/ping/********/" in line for line in logged)


def test_a_wrong_ping_key_is_not_logged_either(database_down, caplog):
    near_miss = KEY[:-1] + "X"
    with caplog.at_level(logging.INFO):
        assert Client().get(f"/cron/ping/{near_miss}/").status_code == 404
    logged = [record.getMessage() for record in caplog.records]
    assert logged == ["Not Found: /cron/ping/********/"]


@pytest.mark.django_db
def test_a_key_in_the_header_wins_over_the_query_string(jobs):
    wrong = Client(headers={"X-Cron-Key": "wrong"})
    assert "jobs" not in wrong.get(f"/cron/status/?key={KEY}").json()
    assert "jobs" in Client(headers={"X-Cron-Key": KEY}).get("/cron/status/?key=wrong").json()
    assert "jobs" in Client().get(f"/cron/status/?key={KEY}").json()


def ping_key_warnings(settings, key):
    settings.DJANGO_CRON = {"PING_KEY": key}
    return {
        m.id: m for m in checks.run_checks() if m.id in ("django_cron.W008", "django_cron.W009")
    }


@pytest.mark.parametrize(
    "key, ids",
    [
        ("x", {"django_cron.W008"}),
        ("a-31-character-key-0123456789ab", {"django_cron.W008"}),
        ("a/key/with/slashes/0123456789abcdef", {"django_cron.W009"}),
        ("a key with spaces and a % sign 0123", {"django_cron.W009"}),
        ("#short", {"django_cron.W008", "django_cron.W009"}),
        ("a-32-character-key-0123456789abc", set()),
    ],
)
def test_check_warns_about_a_short_ping_key_or_one_a_url_cannot_carry(settings, key, ids):
    found = ping_key_warnings(settings, key)
    assert set(found) == ids
    for message in found.values():
        assert "secrets.token_urlsafe(32)" in message.hint


def test_the_hint_for_a_missing_ping_key_gives_a_url_safe_generator(settings):
    settings.DJANGO_CRON = {"PING_KEY": ""}
    (warning,) = [m for m in checks.run_checks() if m.id == "django_cron.W001"]
    assert "secrets.token_urlsafe(32)" in warning.hint
    assert "get_random_secret_key" not in warning.hint
