"""
Runtime arguments from the admin and the API reach a job only where the job
declares them: the parameters a function names, the options a command's
registration names. The site's own code (the Python API) stays trusted.
"""

import json

import pytest
from django.contrib.auth.models import User
from django.core import checks
from django.core.exceptions import ValidationError

import django_cron
from django_cron import Job
from django_cron.models import JobRun, JobSchedule
from django_cron.runner import run_due
from tests.effects import CALLS, record
from tests.test_api import snapshot, with_key
from tests.test_db_schedule_admin import ADD, errors_of, form
from tests.test_views import logged_in


def notify(to, subject="hello", **extra):
    record("notify", to=to, subject=subject, **extra)


class Digest(Job):
    """A 2009-style Job whose job() takes anything."""

    def job(self, *args, **kwargs):
        record("digest", *args, **kwargs)


@pytest.fixture
def site(registry):
    """What a site registers: a dump of one app, a function, an open Job, a guarded command."""
    registry.register_command("dumpdata", "auth", every=86400)
    registry.register_command(
        "dumpdata", "auth", name="dump.indented", every=86400, operator_options=["--indent"]
    )
    registry.register(notify, "ops", name="notify", every=3600)
    registry.register(notify, "ops", name="notify.open", every=3600, operator_kwargs=True)
    registry.register(Digest, name="digest", every=3600)
    run_due()
    return registry


def once(client, job, body):
    return client.post(
        f"/cron/api/jobs/{job}/once/", json.dumps(body), content_type="application/json"
    )


LEAKS = [
    pytest.param({"args": ["auth.user", "--output", "{out}"]}, "args", id="positional"),
    pytest.param({"kwargs": {"output": "{out}"}}, "kwargs", id="option-by-dest"),
    pytest.param({"kwargs": {"o": "{out}"}}, "kwargs", id="short-option"),
    pytest.param({"kwargs": {"indent": 2, "output": "{out}"}}, "kwargs", id="with-an-allowed-one"),
]


def _filled(body, out):
    return json.loads(json.dumps(body).replace("{out}", str(out)))


@pytest.mark.django_db
@pytest.mark.parametrize("job", ["command:dumpdata", "dump.indented"])
@pytest.mark.parametrize(("body", "field"), LEAKS)
def test_dumpdata_output_cannot_be_chosen_through_the_api(
    site, operator_key, tmp_path, job, body, field
):
    out = tmp_path / "leak.json"
    client = with_key(operator_key("schedule"))
    before = snapshot()
    response = once(client, job, _filled(body, out))
    assert response.status_code == 400, response.content
    assert response.json()["errors"][field]
    assert snapshot() == before
    run_due()
    assert not out.exists()


@pytest.mark.django_db
@pytest.mark.parametrize(("body", "field"), LEAKS)
def test_dumpdata_output_cannot_be_chosen_in_the_admin(site, tmp_path, body, field):
    out = tmp_path / "leak.json"
    admin = logged_in(User.objects.create_superuser("root"))
    fields = {key: json.dumps(value) for key, value in _filled(body, out).items()}
    response = admin.post(ADD, form(job="command:dumpdata", kind="once", **fields))
    assert errors_of(response)[field]
    assert not JobSchedule.objects.exists()
    run_due()
    assert not out.exists()


@pytest.mark.django_db
def test_a_command_without_operator_options_takes_no_arguments_from_operators(site, operator_key):
    response = once(
        with_key(operator_key("schedule")), "command:dumpdata", {"kwargs": {"indent": 2}}
    )
    assert response.status_code == 400
    (message,) = response.json()["errors"]["kwargs"]
    assert "operator_options" in message
    # With none, it runs as registered.
    assert once(with_key(operator_key("schedule")), "command:dumpdata", {}).status_code == 201


@pytest.mark.django_db
def test_an_option_named_in_operator_options_is_parsed_by_the_command_and_added_to_its_call(
    site, operator_key
):
    client = with_key(operator_key("schedule"))
    response = once(client, "dump.indented", {"kwargs": {"indent": "4"}})
    assert response.status_code == 201, response.content
    entry = JobSchedule.objects.get()
    # Stored as the command's parser read it.
    assert (entry.args, entry.kwargs) == ([], {"indent": 4})
    (run,) = run_due().runs
    assert run.status == "ok", run.error
    # "dumpdata auth --indent 4": the registered app label stays.
    dumped = json.loads(run.output)
    assert {row["model"].split(".")[0] for row in dumped} == {"auth"}
    assert '\n{\n    "model"' in run.output


@pytest.mark.django_db
@pytest.mark.parametrize(
    "kwargs, message",
    [
        ({"indent": "two"}, "invalid int value"),
        ({"indent": [2, 3]}, "takes one value"),
        ({"indent": {"a": 1}}, "takes text or numbers"),
        ({"indent": "--output=/tmp/x"}, "invalid int value"),
    ],
)
def test_a_bad_value_gets_the_commands_own_message_and_nothing_is_stored(
    site, operator_key, kwargs, message
):
    before = snapshot()
    response = once(with_key(operator_key("schedule")), "dump.indented", {"kwargs": kwargs})
    assert response.status_code == 400
    assert message in " ".join(response.json()["errors"]["kwargs"])
    assert snapshot() == before


@pytest.mark.django_db
def test_a_function_takes_only_the_parameters_its_signature_names(site, operator_key):
    client = with_key(operator_key("schedule"))
    assert once(client, "notify", {"kwargs": {"to": "board", "subject": "q3"}}).status_code == 201
    before = snapshot()
    response = once(client, "notify", {"kwargs": {"to": "board", "bcc": "me@evil.example"}})
    assert response.status_code == 400
    (message,) = response.json()["errors"]["kwargs"]
    assert "(to, subject)" in message and "operator_kwargs=True" in message
    assert snapshot() == before
    # Opted in, anything **kwargs takes goes.
    assert once(client, "notify.open", {"kwargs": {"to": "x", "bcc": "y"}}).status_code == 201
    # From the site's own code, as before.
    django_cron.schedule_once("notify", kwargs={"to": "x", "bcc": "y"})


@pytest.mark.django_db
def test_a_job_whose_job_takes_anything_takes_nothing_from_operators(site, operator_key):
    client = with_key(operator_key("schedule"))
    for body, field in (({"args": ["x"]}, "args"), ({"kwargs": {"x": 1}}, "kwargs")):
        response = once(client, "digest", body)
        assert response.status_code == 400 and response.json()["errors"][field]
    assert once(client, "digest", {}).status_code == 201
    (run,) = run_due().runs
    assert run.status == "ok" and CALLS == [("digest", (), {})]


@pytest.mark.django_db
def test_the_admin_applies_the_same_bounds_and_stores_the_parsed_options(site, admin_client):
    response = admin_client.post(
        ADD, form(job="notify", kind="extra", every="60", kwargs='{"to": "x", "cc": "y"}')
    )
    assert "operator_kwargs=True" in " ".join(errors_of(response)["kwargs"])
    response = admin_client.post(
        ADD, form(job="dump.indented", kind="extra", every="3600", kwargs='{"indent": "2"}')
    )
    assert response.status_code == 302
    assert JobSchedule.objects.get().kwargs == {"indent": 2}


@pytest.mark.django_db
def test_arguments_stored_by_code_survive_an_admin_edit_of_something_else(site, admin_client):
    # Code may store what operators may not; an operator editing the
    # description leaves those arguments as they are.
    entry = django_cron.add_schedule("notify", every=60, kwargs={"to": "x", "bcc": "y"})
    change = f"/admin/django_cron/jobschedule/{entry.pk}/change/"
    fields = form(every="60", kwargs='{"to": "x", "bcc": "y"}', description="weekly")
    fields.pop("job"), fields.pop("kind")
    assert admin_client.post(change, fields).status_code == 302
    entry.refresh_from_db()
    assert entry.description == "weekly" and entry.kwargs == {"to": "x", "bcc": "y"}


def test_check_refuses_operator_options_a_command_lacks_or_on_a_function(registry):
    registry.register_command("dumpdata", name="dump.bad", every=60, operator_options=["--outptu"])
    registry.register(notify, "x", name="notify.bad", every=60, operator_options=["--to"])
    registry.register_command("dumpdata", name="dump.str", every=60, operator_options="--indent")
    found = {m.obj: m for m in checks.run_checks() if m.id == "django_cron.E017"}
    assert set(found) == {"dump.bad", "notify.bad", "dump.str"}
    assert "'--outptu'" in found["dump.bad"].msg and "--indent" in found["dump.bad"].hint
    assert "only a management command" in found["notify.bad"].msg


@pytest.mark.django_db
def test_a_command_entry_given_options_alone_keeps_its_registered_call(site):
    # The Python API: options alone add to the registered call ...
    django_cron.add_schedule("command:dumpdata", every=60, kwargs={"indent": 2})
    # ... and positional arguments replace it, as they always did.
    django_cron.add_schedule("command:dumpdata", every=60, args=["contenttypes"])
    for entry in JobSchedule.objects.order_by("pk"):
        state = entry.state
        state.next_run_at = state.next_run_at.replace(year=2000)
        state.save()
    runs = {run.job.db_schedule_id: run for run in run_due().runs}
    indented, other = (
        runs[pk] for pk in JobSchedule.objects.order_by("pk").values_list("pk", flat=True)
    )
    assert indented.status == other.status == "ok"
    assert {row["model"].split(".")[0] for row in json.loads(indented.output)} == {"auth"}
    assert '\n{\n  "model"' in indented.output
    assert {row["model"].split(".")[0] for row in json.loads(other.output)} == {"contenttypes"}
    assert JobRun.objects.count() == 2


def test_operator_arguments_refuse_with_errors_by_field(registry):
    from django_cron.arguments import operator_arguments

    registry.register(notify, "x", name="n", every=60)
    with pytest.raises(ValidationError) as refused:
        operator_arguments(registry.get("n"), ["a", "b", "c"], {})
    assert set(refused.value.message_dict) == {"args"}
