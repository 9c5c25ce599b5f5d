from datetime import timedelta
from io import StringIO

import pytest
from django.core.management import CommandError, call_command
from django.utils import timezone

from django_cron import Job
from django_cron.models import JobState
from tests.effects import CALLS, record

pytestmark = pytest.mark.django_db


def cron(*args):
    out, err = StringIO(), StringIO()
    call_command("cron", *args, stdout=out, stderr=err)
    return out.getvalue(), err.getvalue()


def cron_exit(*args):
    """Run a cron command expected to exit non-zero; return (code, stdout, stderr)."""
    out, err = StringIO(), StringIO()
    with pytest.raises(SystemExit) as exit_info:
        call_command("cron", *args, stdout=out, stderr=err)
    return exit_info.value.code, out.getvalue(), err.getvalue()


def make_due(name):
    JobState.objects.filter(name=name).update(next_run_at=timezone.now() - timedelta(seconds=1))


@pytest.fixture
def jobs(registry):
    class CheckMail(Job):
        run_every = 300

        def job(self):
            record("mail")

    def broken():
        raise ValueError("disk full")

    registry.register(CheckMail, name="mail")
    registry.register(broken, name="broken", schedule="30 2 * * 1-5", timezone="Europe/Berlin")
    return registry


def test_list_shows_schedule_in_words_timezone_runs_and_enabled(jobs):
    cron("run")
    make_due("mail")
    cron("run")
    out, _ = cron("list")
    assert "mail\n    schedule: Every 5 minutes\n" in out
    assert "broken\n    schedule: At 02:30 AM, Monday through Friday (Europe/Berlin)\n" in out
    assert " ok\n    enabled:  yes\n    health:   ok" in out
    assert out.count("next run: 20") == 2


def test_run_runs_what_is_due_and_reports_each_run(jobs):
    cron("run")
    make_due("mail")
    out, _ = cron("run")
    assert out.startswith("mail: ok in ") and CALLS == [("mail", (), {})]
    assert cron("run")[0] == ""


def test_run_force_runs_the_named_jobs_now_and_fails_if_one_failed(jobs):
    code, out, _ = cron_exit("run", "--force", "broken")
    assert code == 1
    assert out.startswith("broken: failed in ") and out.endswith(": ValueError: disk full\n")
    assert cron("run", "--force", "mail")[0].startswith("mail: ok in ")
    assert CALLS == [("mail", (), {})]


def test_run_force_needs_names_and_unknown_names_are_errors(jobs):
    with pytest.raises(CommandError, match="needs the names"):
        cron("run", "--force")
    with pytest.raises(CommandError, match="Unknown job: nope"):
        cron("run", "nope")


def test_status_is_zero_when_healthy_and_names_each_unhealthy_job(jobs):
    out, _ = cron("status")
    assert out.strip() == "2 jobs, all healthy."
    cron("run")
    cron_exit("run", "--force", "broken")
    JobState.objects.filter(name="mail").update(next_run_at=timezone.now() - timedelta(hours=1))
    code, _, err = cron_exit("status")
    assert code == 1
    assert err.splitlines() == ["broken: failing ValueError: disk full", "mail: overdue"]


def test_status_ignores_paused_jobs(jobs):
    cron_exit("run", "--force", "broken")
    JobState.objects.filter(name="broken").update(enabled=False)
    assert cron("status")[0].strip() == "2 jobs, all healthy."


def test_next_prints_run_times_with_utc_offsets(jobs):
    out, _ = cron("next", "broken", "--after", "2026-10-23T12:00", "--count", "3")
    assert out.split() == [
        "2026-10-26T02:30:00+01:00",
        "2026-10-27T02:30:00+01:00",
        "2026-10-28T02:30:00+01:00",
    ]


def test_next_keeps_an_interval_jobs_phase(jobs):
    cron("run")
    due = JobState.objects.get(name="mail").next_run_at
    out, _ = cron("next", "mail", "--count", "2")
    assert out.split() == [due.isoformat(), (due + timedelta(seconds=300)).isoformat()]


def test_next_rejects_a_bad_date(jobs):
    with pytest.raises(CommandError, match="--after"):
        cron("next", "mail", "--after", "tomorrow")
