"""
A job in its own box: whatever one job does, the other jobs run and the
process is left as the job found it.
"""

import asyncio
import io
import signal
import subprocess
import sys
import threading
from datetime import timedelta

import pytest
from django.conf import settings as django_settings
from django.db import connections
from django.utils import timezone, translation

from django_cron import Job
from django_cron.models import JobRun, JobState
from django_cron.runner import run_due
from django_cron.worker import Worker
from tests.conftest import on_each_database, wait_for
from tests.effects import CALLS, record

pytestmark = [on_each_database, pytest.mark.usefixtures("cron_db")]


def force(*names):
    return run_due(list(names), force=True).runs


def outcomes(alias):
    return dict(JobRun.objects.using(alias).values_list("job__name", "status"))


# Exits -------------------------------------------------------------------------


@pytest.mark.parametrize("exit_with", [lambda: sys.exit(3), lambda: exit(), lambda: quit(4)])
def test_a_job_that_exits_is_a_failed_run_and_the_pass_goes_on(alias, registry, exit_with):
    registry.register(exit_with, name="exits", every=60)
    registry.register(lambda: record("after"), name="after", every=60)
    result = run_due(["exits", "after"], force=True)
    assert [(run.job.name, run.status) for run in result.runs] == [
        ("exits", "failed"),
        ("after", "ok"),
    ]
    failed = JobRun.objects.using(alias).get(job__name="exits")
    assert failed.error.startswith("SystemExit") and "Traceback" in failed.traceback
    state = JobState.objects.using(alias).get(name="exits")
    assert state.lease_owner == "" and state.last_status == "failed"


def test_a_keyboard_interrupt_raised_by_a_job_outside_the_main_thread_is_a_failed_run(
    alias, registry
):
    def interrupt():
        raise KeyboardInterrupt

    registry.register(interrupt, name="interrupt", every=60)
    thread = threading.Thread(target=force, args=("interrupt",))
    thread.start()
    thread.join()
    assert outcomes(alias) == {"interrupt": "failed"}


@pytest.fixture
def interrupted(registry):
    """
    Register "interrupt", a job that raises KeyboardInterrupt, and "after";
    yield a setter for SIGINT's handler (a shell starts background jobs with
    SIGINT ignored, so each test says which it means).
    """

    def interrupt():
        raise KeyboardInterrupt

    registry.register(interrupt, name="interrupt", every=60)
    registry.register(lambda: record("after"), name="after", every=60)
    before = signal.getsignal(signal.SIGINT)
    yield lambda handler: signal.signal(signal.SIGINT, handler)
    signal.signal(signal.SIGINT, before)


def test_ctrl_c_in_the_main_thread_is_recorded_and_then_stops_the_pass(alias, interrupted):
    # With Python's own SIGINT handler, a KeyboardInterrupt in the main thread
    # is the user's Ctrl-C: the run is recorded, then the pass stops.
    interrupted(signal.default_int_handler)
    with pytest.raises(KeyboardInterrupt):
        force("interrupt", "after")
    assert outcomes(alias) == {"interrupt": "failed"}
    assert JobState.objects.using(alias).get(name="interrupt").lease_owner == ""


def test_a_keyboard_interrupt_is_the_jobs_own_when_sigint_is_ignored(alias, interrupted):
    # No Ctrl-C can reach a process that ignores SIGINT, so the job raised it.
    interrupted(signal.SIG_IGN)
    force("interrupt", "after")
    assert outcomes(alias) == {"interrupt": "failed", "after": "ok"}


def test_the_worker_outlives_a_job_that_exits(alias, registry):
    registry.register(lambda: sys.exit(3), name="exits", every=0.2)
    worker = Worker(["exits"])
    thread = threading.Thread(target=worker.run_forever)
    thread.start()
    try:
        wait_for(
            lambda: JobRun.objects.using(alias).filter(status="failed").count() >= 2,
            timeout=20,
            message="two failed runs",
        )
        assert thread.is_alive()
    finally:
        worker.stop()
        thread.join(timeout=20)


# Side effects ------------------------------------------------------------------


def test_a_job_that_activates_a_time_zone_or_language_leaves_the_thread_as_it_was(alias, registry):
    def meddle():
        timezone.activate("Asia/Tokyo")
        translation.activate("de")
        record("meddle", timezone.get_current_timezone_name(), translation.get_language())

    registry.register(meddle, name="meddle", every=60)
    translation.activate(django_settings.LANGUAGE_CODE)
    try:
        force("meddle")
        assert CALLS == [("meddle", ("Asia/Tokyo", "de"), {})]
        assert timezone.get_current_timezone_name() == django_settings.TIME_ZONE
        assert translation.get_language() == django_settings.LANGUAGE_CODE
    finally:
        timezone.deactivate()
        translation.deactivate()


def test_a_job_sees_the_default_time_zone_and_language_whatever_the_request_had(alias, registry):
    seen = []
    registry.register(
        lambda: seen.append((timezone.get_current_timezone_name(), translation.get_language())),
        name="look",
        every=60,
    )
    timezone.activate("America/New_York")
    translation.activate("fr")
    try:
        force("look")
        assert seen == [(django_settings.TIME_ZONE, django_settings.LANGUAGE_CODE)]
        # ... and the request's own settings are back afterwards.
        assert timezone.get_current_timezone_name() == "America/New_York"
        assert translation.get_language() == "fr"
    finally:
        timezone.deactivate()
        translation.deactivate()


def _capabilities(stream):
    try:
        fileno = stream.fileno()
    except (OSError, ValueError) as exc:
        fileno = type(exc).__name__
    return fileno, stream.encoding, stream.isatty(), stream.writable()


def test_capturing_a_jobs_output_leaves_the_process_streams_as_capable_as_before(alias, registry):
    before = (_capabilities(sys.stdout), _capabilities(sys.stderr))
    registry.register(lambda: print("captured"), name="talk", every=60)
    (run,) = force("talk")
    assert run.output == "captured\n"
    assert (_capabilities(sys.stdout), _capabilities(sys.stderr)) == before
    # What a view may do with the process's stdout.
    subprocess.run([sys.executable, "-c", "pass"], stdout=sys.stdout, check=True)


def test_the_output_of_an_async_job_is_captured(alias, registry):
    async def talk():
        await asyncio.sleep(0)
        print("from the event loop")

    class AsyncJob(Job):
        run_every = 60

        async def job(self):
            await asyncio.sleep(0)
            self.stdout.write("from an async Job\n")

    registry.register(talk, name="talk", every=60)
    registry.register(AsyncJob, name="async-job")
    assert [run.output for run in force("talk", "async-job")] == [
        "from the event loop\n",
        "from an async Job\n",
    ]


def test_output_capture_works_when_the_streams_were_replaced_meanwhile(
    alias, registry, monkeypatch
):
    # A test runner or a logging setup may swap sys.stdout between two runs.
    registry.register(lambda: print("first"), name="first", every=60)
    registry.register(lambda: print("second"), name="second", every=60)
    force("first")
    replaced = io.StringIO()
    monkeypatch.setattr(sys, "stdout", replaced)
    (run,) = force("second")
    assert run.output == "second\n" and replaced.getvalue() == ""
    assert sys.stdout is replaced


def test_a_job_that_closes_the_connection_leaves_it_usable(alias, registry):
    registry.register(lambda: connections[alias].close(), name="closer", every=60)
    registry.register(lambda: record("after"), name="after", every=60)
    assert [run.status for run in force("closer", "after")] == ["ok", "ok"]
    assert JobState.objects.using(alias).count() == 2


# Schedules that cannot run -------------------------------------------------------


def test_a_schedule_that_never_fires_stops_only_its_own_job(alias, registry):
    registry.register(lambda: record("never"), name="never", schedule="0 0 30 2 *")
    registry.register(lambda: record("tick"), name="tick", every=60)
    run_due()
    JobState.objects.using(alias).filter(name="tick").update(
        next_run_at=timezone.now() - timedelta(seconds=1)
    )
    result = run_due()
    assert [run.job.name for run in result.runs] == ["tick"]
    assert CALLS == [("tick", (), {})]
    # Its row exists, so the admin lists it, but it is never due.
    assert JobState.objects.using(alias).get(name="never").next_run_at is None


def test_a_job_name_too_long_to_store_stops_only_its_own_job(alias, registry):
    registry.register(lambda: record("long"), name="n" * 201, every=60)
    registry.register(lambda: record("tick"), name="tick", every=60)
    assert [run.job.name for run in run_due(force=True).runs] == ["tick"]
    assert list(JobState.objects.using(alias).values_list("name", flat=True)) == ["tick"]


def test_nul_characters_in_what_a_job_leaves_are_kept_storable(alias, registry):
    # PostgreSQL text cannot hold NUL; a job that prints one must still be recorded.
    def binary():
        print("before\x00after")
        return "result\x00"

    def raises():
        raise ValueError("bad\x00byte")

    registry.register(binary, name="binary", every=60)
    registry.register(raises, name="raises", every=60)
    assert [run.status for run in force("binary", "raises")] == ["ok", "failed"]
    stored = {run.job.name: run for run in JobRun.objects.using(alias)}
    assert stored["binary"].output == "before\ufffdafter\n"
    assert stored["binary"].message == "result\ufffd"
    assert stored["raises"].error == "ValueError: bad\ufffdbyte"
    assert "bad\ufffdbyte" in stored["raises"].traceback
