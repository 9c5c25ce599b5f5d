"""Signals, failure mail, outbound pings, retries, time limits, overlap, jitter, output capture."""

import http.server
import sys
import threading
import time
from datetime import timedelta
from itertools import pairwise

import pytest
from django.utils import timezone

from django_cron import Job
from django_cron.models import JobRun, JobState
from django_cron.runner import run_due
from django_cron.signals import job_failed, job_started, job_succeeded
from tests.conftest import wait_for
from tests.effects import CALLS, Flaky, record

pytestmark = pytest.mark.django_db(transaction=True)


def make_due(name):
    past = timezone.now() - timedelta(seconds=1)
    assert JobState.objects.filter(name=name).update(next_run_at=past) == 1


def run_when_due(name):
    make_due(name)
    return run_due([name]).runs


# Signals ----------------------------------------------------------------------


def test_started_succeeded_and_failed_signals_carry_name_run_and_exception(registry):
    seen = []

    def on(signal_name):
        def receiver(sender, **kwargs):
            seen.append((signal_name, kwargs["name"], repr(kwargs.get("exception"))))

        return receiver

    receivers = [(job_started, on("started")), (job_succeeded, on("ok")), (job_failed, on("fail"))]
    flaky = Flaky()
    registry.register(flaky, name="flaky", every=60)
    run_due()
    for signal, receiver in receivers:
        signal.connect(receiver)
    try:
        run_when_due("flaky")
        flaky.failing = False
        run_when_due("flaky")
    finally:
        for signal, receiver in receivers:
            signal.disconnect(receiver)
    assert seen == [
        ("started", "flaky", "None"),
        ("fail", "flaky", "ValueError('still broken')"),
        ("started", "flaky", "None"),
        ("ok", "flaky", "None"),
    ]


def test_a_failing_signal_receiver_does_not_fail_the_run(registry):
    def receiver(sender, **kwargs):
        raise RuntimeError("receiver bug")

    registry.register(lambda: None, name="job", every=60)
    run_due()
    job_succeeded.connect(receiver)
    try:
        (run,) = run_when_due("job")
    finally:
        job_succeeded.disconnect(receiver)
    assert run.status == "ok"


# Mail to ADMINS -----------------------------------------------------------------


def test_admins_get_one_mail_after_n_failures_and_one_on_recovery(registry, mailoutbox, settings):
    settings.ADMINS = [("Ops", "ops@example.com")]
    flaky = Flaky()
    registry.register(flaky, name="flaky", every=60, alert_after=3)
    run_due()
    for _ in range(5):
        run_when_due("flaky")
    assert [m.subject for m in mailoutbox] == ["[Django] [cron] flaky failed 3 times in a row"]
    assert "ValueError: still broken" in mailoutbox[0].body
    flaky.failing = False
    run_when_due("flaky")
    run_when_due("flaky")
    assert [m.subject for m in mailoutbox][1:] == ["[Django] [cron] flaky recovered"]
    assert JobState.objects.get(name="flaky").consecutive_failures == 0


def test_the_global_alert_setting_applies_and_none_turns_mail_off(registry, mailoutbox, settings):
    settings.ADMINS = [("Ops", "ops@example.com")]
    settings.DJANGO_CRON = {"ALERT_AFTER": 1}
    registry.register(Flaky(), name="loud", every=60)
    registry.register(Flaky(), name="quiet", every=60, alert_after=None)
    settings.DJANGO_CRON = {"ALERT_AFTER": 1}
    run_due()
    run_when_due("loud")
    assert len(mailoutbox) == 1
    settings.DJANGO_CRON = {"ALERT_AFTER": None}
    run_when_due("quiet")
    assert len(mailoutbox) == 1


# Outbound pings -------------------------------------------------------------------


@pytest.fixture
def ping_server():
    """A real HTTP server on loopback that records the paths it is asked for."""
    hits = []

    class Handler(http.server.BaseHTTPRequestHandler):
        def _hit(self):
            length = int(self.headers.get("Content-Length") or 0)
            hits.append((self.command, self.path, self.rfile.read(length).decode()))
            if self.path.startswith("/slow"):
                time.sleep(2)
            self.send_response(200)
            self.end_headers()

        do_GET = do_POST = _hit

        def log_message(self, *args):
            pass

    server = http.server.ThreadingHTTPServer(("127.0.0.1", 0), Handler)
    threading.Thread(target=server.serve_forever, daemon=True).start()
    yield f"http://127.0.0.1:{server.server_port}", hits
    server.shutdown()


def test_pings_go_out_at_start_success_and_fail(registry, ping_server):
    base, hits = ping_server
    pings = {"start": f"{base}/start", "success": f"{base}/ok", "fail": f"{base}/fail"}
    flaky = Flaky()
    registry.register(flaky, name="flaky", every=60, pings=pings)
    run_due()
    run_when_due("flaky")
    flaky.failing = False
    run_when_due("flaky")
    assert [(method, path) for method, path, _ in hits] == [
        ("GET", "/start"),
        ("POST", "/fail"),
        ("GET", "/start"),
        ("GET", "/ok"),
    ]
    assert hits[1][2] == "ValueError: still broken"


def test_a_failed_or_slow_ping_is_logged_never_raised(registry, settings, ping_server, caplog):
    base, _ = ping_server
    settings.DJANGO_CRON = {"PING_TIMEOUT": 0.3}
    pings = {"start": "http://127.0.0.1:1/refused", "success": f"{base}/slow"}
    registry.register(lambda: record("job"), name="job", every=60, pings=pings)
    run_due()
    (run,) = run_when_due("job")
    assert run.status == "ok" and CALLS == [("job", (), {})]
    assert caplog.text.count("Ping") == 2


# Retries -------------------------------------------------------------------------


def test_a_failed_slot_is_retried_with_backoff_and_never_run_twice(registry):
    flaky = Flaky()
    registry.register(flaky, name="flaky", every=3600, retries=2, retry_delay=0.3)
    run_due()
    slot = JobState.objects.get(name="flaky").next_run_at - timedelta(hours=1)
    JobState.objects.filter(name="flaky").update(next_run_at=slot)
    (first,) = run_due(["flaky"]).runs
    state = JobState.objects.get(name="flaky")
    assert (state.retry_slot, state.retry_attempt) == (slot, 2)
    assert run_due(["flaky"]).runs == []  # the retry waits its delay
    wait_for(lambda: run_due(["flaky"]).runs, timeout=10, message="the first retry")
    wait_for(lambda: run_due(["flaky"]).runs, timeout=10, message="the second retry")
    runs = list(JobRun.objects.filter(job__name="flaky").order_by("started_at"))
    assert [(r.attempt, r.scheduled_for) for r in runs] == [(1, slot), (2, slot), (3, slot)]
    gaps = [(b.started_at - a.started_at).total_seconds() for a, b in pairwise(runs)]
    assert gaps[0] >= 0.3 and gaps[1] >= 0.6
    # Retries spent: the job waits for its next regular slot, in phase.
    state = JobState.objects.get(name="flaky")
    assert state.retry_slot is None and state.next_run_at == slot + timedelta(hours=1)
    assert run_due(["flaky"]).runs == []


def test_a_retry_that_succeeds_ends_the_retries(registry):
    flaky = Flaky()
    registry.register(flaky, name="flaky", every=3600, retries=3, retry_delay=0.1)
    run_due()
    run_when_due("flaky")
    flaky.failing = False
    (retry,) = wait_for(lambda: run_due(["flaky"]).runs, timeout=10, message="the retry")
    assert retry.status == "ok" and retry.attempt == 2
    assert JobState.objects.get(name="flaky").retry_slot is None


# Time limits ----------------------------------------------------------------------


def test_a_run_over_its_time_limit_is_recorded_as_timed_out(registry):
    release = threading.Event()
    registry.register(lambda: release.wait(30), name="slow", every=60, time_limit=0.3)
    run_due()
    started = time.monotonic()
    (run,) = run_when_due("slow")
    assert time.monotonic() - started < 5
    release.set()
    assert run.status == "timeout" and "time limit of 0.3s" in run.error
    state = JobState.objects.get(name="slow")
    assert state.last_status == "timeout" and state.lease_owner == ""


def test_a_job_within_its_time_limit_runs_normally(registry):
    registry.register(lambda: record("quick"), name="quick", every=60, time_limit=5)
    run_due()
    (run,) = run_when_due("quick")
    assert run.status == "ok" and CALLS == [("quick", (), {})]


# Overlap and jitter ----------------------------------------------------------------


@pytest.mark.parametrize("max_running, expected", [(1, 1), (2, 2)])
def test_max_running_bounds_concurrent_runs_of_one_job(registry, max_running, expected):
    inside, release = [], threading.Event()

    def body():
        inside.append(threading.current_thread().name)
        release.wait(10)

    registry.register(body, name="busy", every=60, max_running=max_running)
    run_due()
    threads = [
        threading.Thread(target=run_due, args=(["busy"],), kwargs={"force": True}) for _ in range(3)
    ]
    for thread in threads:
        thread.start()
    wait_for(lambda: len(inside) >= expected, timeout=10, message="runs to start")
    time.sleep(0.3)  # give a run beyond the limit the chance to start, if it could
    running = len(inside)
    release.set()
    for thread in threads:
        thread.join()
    assert running == expected


def test_jitter_delays_a_run_by_at_most_its_value(registry):
    registry.register(lambda: None, name="spread", every=60, jitter=0.4)
    run_due()
    (run,) = run_when_due("spread")
    assert run.status == "ok" and run.duration < 0.4  # the wait comes before the job


# Output capture ----------------------------------------------------------------------


def test_print_and_self_stdout_are_captured_into_the_run(registry):
    class Legacy(Job):
        run_every = 60

        def job(self):
            print("fetched 3 messages")
            self.stdout.write("legacy line\n")
            sys.stderr.write("a warning\n")

    registry.register(Legacy, name="legacy")
    run_due()
    (run,) = run_when_due("legacy")
    assert run.output == "fetched 3 messages\nlegacy line\na warning\n"
    assert JobRun.objects.get(pk=run.pk).output == run.output


def test_output_is_capped(registry, settings):
    settings.DJANGO_CRON = {"OUTPUT_LIMIT": 10}
    registry.register(lambda: print("x" * 100), name="chatty", every=60)
    run_due()
    (run,) = run_when_due("chatty")
    assert run.output == "x" * 10 + "\n[output truncated]\n"


def test_jobs_in_two_threads_keep_their_output_apart(registry):
    barrier = threading.Barrier(2)

    def talker(word):
        def body():
            for _ in range(50):
                barrier.wait(5)
                print(word)

        return body

    registry.register(talker("ping"), name="a", every=60)
    registry.register(talker("pong"), name="b", every=60)
    run_due()
    threads = [
        threading.Thread(target=run_due, args=([n],), kwargs={"force": True}) for n in ("a", "b")
    ]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join()
    outputs = dict(JobRun.objects.values_list("job__name", "output"))
    assert outputs == {"a": "ping\n" * 50, "b": "pong\n" * 50}
