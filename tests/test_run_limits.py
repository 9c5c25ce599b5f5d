"""
Limits on a job's runs: a failure streak that pauses it (``pause_after``), and
a number of successful runs after which it is finished (``times``).
"""

from datetime import timedelta
from io import StringIO

import pytest
from django.core.exceptions import ValidationError
from django.core.management import call_command
from django.utils import timezone

import django_cron
from django_cron.checks import check_jobs
from django_cron.health import job_health
from django_cron.models import JobRun, JobState
from django_cron.runner import run_due
from django_cron.runtime import states
from django_cron.runtime.states import resume
from tests.conftest import on_each_database
from tests.effects import Flaky, record

pytestmark = [on_each_database, pytest.mark.usefixtures("cron_db")]


def rows(alias, name):
    return JobState.objects.using(alias).filter(name=name)


def run_when_due(alias, name):
    rows(alias, name).update(next_run_at=timezone.now() - timedelta(seconds=1))
    return run_due([name]).runs


def test_a_failure_streak_pauses_the_job_with_why_and_one_alert(
    alias, registry, mailoutbox, settings
):
    settings.ADMINS = [("Ops", "ops@example.com")]
    flaky = Flaky()
    registry.register(flaky, name="flaky", every=60, pause_after=3, alert_after=None)
    run_due()
    for _ in range(3):
        assert len(run_when_due(alias, "flaky")) == 1
    state = rows(alias, "flaky").get()
    assert not state.enabled and state.paused_by == "django_cron"
    assert state.pause_reason == (
        "paused after 3 failures in a row; last error: ValueError: still broken"
    )
    assert job_health(state) == "paused"
    assert [m.subject for m in mailoutbox] == [
        "[Django] [cron] flaky paused after failing 3 times in a row"
    ]
    assert "ValueError: still broken" in mailoutbox[0].body
    # Paused until someone resumes it: its slots come and go.
    assert run_when_due(alias, "flaky") == [] and len(mailoutbox) == 1
    flaky.failing = False
    resume(rows(alias, "flaky"))
    assert [run.status for run in run_when_due(alias, "flaky")] == ["ok"]
    assert [m.subject for m in mailoutbox][1:] == ["[Django] [cron] flaky recovered"]


def test_a_failure_alert_before_the_pause_is_one_mail_and_the_pause_another(
    alias, registry, mailoutbox, settings
):
    settings.ADMINS = [("Ops", "ops@example.com")]
    registry.register(Flaky(), name="flaky", every=60, alert_after=2, pause_after=4)
    run_due()
    for _ in range(6):
        run_when_due(alias, "flaky")
    assert [m.subject for m in mailoutbox] == [
        "[Django] [cron] flaky failed 2 times in a row",
        "[Django] [cron] flaky paused after failing 4 times in a row",
    ]
    assert JobRun.objects.using(alias).filter(job__name="flaky").count() == 4


def test_a_job_with_times_runs_that_many_times_then_is_finished(alias, registry):
    registry.register(lambda: record("twice"), name="twice", every=60, times=2)
    run_due()
    assert len(run_when_due(alias, "twice")) == 1
    assert len(run_when_due(alias, "twice")) == 1
    state = rows(alias, "twice").get()
    assert (state.successes, state.next_run_at) == (2, None)
    assert job_health(state) == "finished"
    # No slot comes due, even if a row is moved by hand, and a resync plans none.
    assert run_when_due(alias, "twice") == []
    rows(alias, "twice").update(next_run_at=None)
    states.forget()
    run_due()
    assert rows(alias, "twice").get().next_run_at is None
    listed = StringIO()
    call_command("cron", "list", stdout=listed)
    assert "    health:   finished\n" in listed.getvalue()


def test_failed_runs_do_not_count_towards_times(alias, registry):
    flaky = Flaky()
    registry.register(flaky, name="flaky", every=60, times=1, alert_after=None)
    run_due()
    assert [run.status for run in run_when_due(alias, "flaky")] == ["failed"]
    flaky.failing = False
    assert [run.status for run in run_when_due(alias, "flaky")] == ["ok"]
    assert run_when_due(alias, "flaky") == []


def test_a_schedule_in_the_database_can_set_times(alias, registry):
    registry.register(lambda to="": record("report", to), name="report", every=3600)
    run_due()
    entry = django_cron.add_schedule("report", every=60, kwargs={"to": "ops"}, times=1)
    name = JobState.objects.using(alias).get(db_schedule=entry).name
    assert len(run_when_due(alias, name)) == 1
    assert run_when_due(alias, name) == []
    assert job_health(rows(alias, name).get()) == "finished"
    with pytest.raises(ValidationError) as refused:
        django_cron.add_schedule("report", every=60, times=0)
    assert "times" in refused.value.message_dict


@pytest.mark.parametrize("option", ["pause_after", "times"])
@pytest.mark.parametrize("value", [0, -1, 2.5, "5"])
def test_a_bad_count_fails_the_check(registry, option, value):
    registry.register(lambda: None, name="bad", every=60, **{option: value})
    (error,) = check_jobs()
    assert error.id == "django_cron.E019" and option in error.msg and error.hint
