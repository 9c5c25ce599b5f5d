"""
The run lifecycle: claim, finish, sweep, retry and alerts, each transition
pinned against the races and faults that could break it.
"""

import logging
import re
import threading
import time
from datetime import datetime, timedelta
from datetime import timezone as dt_timezone

import pytest
from django.db import OperationalError, connections
from django.utils import timezone

from django_cron.locks import get_lock
from django_cron.models import JobRun, JobState, Lock
from django_cron.runner import run_due, run_one
from django_cron.runtime.runs import LOST_ERROR, sweep
from django_cron.schedules import Interval
from tests.conftest import before_first_update, on_each_database
from tests.effects import CALLS, Flaky, record

pytestmark = [on_each_database, pytest.mark.usefixtures("cron_db")]


def states(alias):
    return JobState.objects.using(alias)


def runs(alias, name):
    return JobRun.objects.using(alias).filter(job__name=name).order_by("started_at", "pk")


def make_due(alias, name, ago=1.0):
    slot = timezone.now() - timedelta(seconds=ago)
    assert states(alias).filter(name=name).update(next_run_at=slot) == 1
    return states(alias).get(name=name).next_run_at


# Claims -----------------------------------------------------------------------


def test_a_runner_holding_a_stale_state_neither_reruns_a_slot_nor_moves_it_back(alias, registry):
    registry.register(lambda: record("tick"), name="tick", every=60, missed="catch_up")
    run_due()
    slot = make_due(alias, "tick", ago=60 * 3 + 30)
    stale = states(alias).get(name="tick")
    # Another runner runs the first two missed slots meanwhile.
    run_due(["tick"])
    run_due(["tick"])
    assert run_one(registry.get("tick"), stale) is None
    assert list(runs(alias, "tick").values_list("scheduled_for", flat=True)) == [
        slot,
        slot + timedelta(seconds=60),
    ]
    assert states(alias).get(name="tick").next_run_at == slot + timedelta(seconds=120)


def test_a_state_that_is_not_yet_due_is_not_claimed(alias, registry):
    registry.register(lambda: record("tick"), name="tick", every=60)
    run_due()
    state = states(alias).get(name="tick")
    assert run_one(registry.get("tick"), state) is None
    assert CALLS == [] and not runs(alias, "tick").exists()


def test_the_jobs_lease_keeps_a_second_run_out_even_if_the_lock_store_forgets(alias, registry):
    seen = {}

    def body():
        if seen:
            return  # the second run, had it been let in
        seen["first"] = True
        # The lock backend loses the job's lock (a Redis failover, say) ...
        Lock.objects.using(alias).filter(key="job:solo").delete()
        # ... and another runner forces the job meanwhile.
        seen["second"] = run_due(["solo"], force=True).runs

    registry.register(body, name="solo", every=3600)
    (first,) = run_due(["solo"], force=True).runs
    assert first.status == "ok" and seen["second"] == []
    assert runs(alias, "solo").count() == 1


@pytest.mark.parametrize("enqueue", [None, "dummy"], ids=["inline", "queued"])
def test_a_due_slot_holds_the_jobs_lease_while_it_runs_inline_or_waits_in_the_queue(
    alias, registry, enqueue
):
    seen = {}

    def body():
        state = states(alias).get(name="solo")
        seen.update(owner=state.lease_owner, until=state.lease_until)

    registry.register(body, name="solo", every=3600, enqueue=enqueue)
    run_due()
    make_due(alias, "solo")
    (run,) = run_due().runs
    state = states(alias).get(name="solo")
    if enqueue:
        # Queued, the run and the job's lease wait for the worker that takes them.
        assert run.status == "queued" and seen == {}
        assert state.lease_owner == run.owner and state.lease_until > timezone.now()
        assert run.lease_until > timezone.now()
    else:
        assert (state.lease_owner, state.lease_until) == ("", None)
        assert seen["owner"] == run.owner and seen["until"] > timezone.now()


def test_a_disabled_job_is_not_claimed_by_a_runner_that_read_it_enabled(alias, registry):
    registry.register(lambda: record("tick"), name="tick", every=60)
    run_due()
    make_due(alias, "tick")
    stale = states(alias).get(name="tick")
    states(alias).filter(name="tick").update(enabled=False)  # from the admin, meanwhile
    assert run_one(registry.get("tick"), stale) is None
    assert CALLS == [] and not runs(alias, "tick").exists()


def test_a_schedule_that_fails_while_planning_marks_its_job_broken(alias, registry):
    class Fading(Interval):
        """Slots from a moment on; earlier ones have no next."""

        def next_after(self, dt):
            if dt < cutoff:
                raise ValueError("no slots before the cutoff")
            return super().next_after(dt)

    # Schedules are given aware datetimes, whatever USE_TZ says.
    cutoff = datetime.now(dt_timezone.utc) - timedelta(minutes=1)
    registry.register(lambda: record("fading"), name="fading", schedule=Fading(60))
    registry.register(lambda: record("other"), name="other", every=60)
    run_due()
    make_due(alias, "fading", ago=3600)
    make_due(alias, "other")
    assert [run.job.name for run in run_due().runs] == ["other"]
    assert registry.get("fading").problem == (
        "its schedule cannot say when it runs next (ValueError('no slots before the cutoff'))"
    )


def test_a_failed_claim_releases_the_lock_at_once_whatever_min_lease(alias, registry, settings):
    settings.DJANGO_CRON = {**settings.DJANGO_CRON, "MIN_LEASE": 30}
    registry.register(lambda: record("tick"), name="tick", every=60)
    run_due()
    assert run_one(registry.get("tick"), states(alias).get(name="tick")) is None
    # Nothing ran, so nothing holds the job back from its next slot.
    assert get_lock().acquire("job:tick", timedelta(seconds=5)) is not None


def test_a_job_with_the_longest_name_and_many_concurrent_runs_takes_its_lock(alias, registry):
    name = "n" * 200
    registry.register(lambda: record("long"), name=name, every=60, max_running=10)
    (run,) = run_due([name], force=True).runs
    assert run.status == "ok" and CALLS == [("long", (), {})]


# The sweep and the finish -----------------------------------------------------


def _expiring_job(registry, alias, during):
    """
    A job whose lease (one second, no heartbeat) expires while it runs; then
    ``during()`` runs inside it, as another process would meanwhile.
    """

    def body():
        time.sleep(1.2)
        during()
        record("expired")

    registry.register(body, name="slow", every=3600, lease=1)


@pytest.fixture
def no_heartbeat(settings):
    settings.DJANGO_CRON = {**settings.DJANGO_CRON, "HEARTBEAT": False}


@pytest.mark.usefixtures("no_heartbeat")
def test_a_heartbeat_between_the_sweeps_read_and_write_keeps_the_run_alive(alias, registry):
    swept = {}

    def beat():
        # What the running job's heartbeat writes: its lease, extended.
        state = states(alias).get(name="slow")
        states(alias).filter(pk=state.pk).update(lease_until=timezone.now() + timedelta(minutes=5))
        JobRun.objects.using(alias).filter(status="running", owner=state.lease_owner).update(
            lease_until=timezone.now() + timedelta(minutes=5)
        )

    def during():
        with before_first_update(alias, beat):
            swept["count"] = sweep(timezone.now())

    _expiring_job(registry, alias, during)
    (run,) = run_due(["slow"], force=True).runs
    assert swept["count"] == 0
    assert run.status == "ok" and runs(alias, "slow").get().status == "ok"


def test_the_sweep_goes_on_past_a_run_that_came_back_to_life(alias, registry, caplog):
    registry.register(lambda: None, name="alive", every=3600)
    registry.register(lambda: None, name="dead", every=3600)
    run_due()
    now, expired = timezone.now(), timezone.now() - timedelta(seconds=10)

    def running(name, started):
        return JobRun.objects.using(alias).create(
            job=states(alias).get(name=name),
            scheduled_for=started,
            started_at=started,
            status="running",
            owner=f"{name}:1:abc",
            lease_until=expired,
        )

    # The sweep reads the newest first; that one's heartbeat lands before the write.
    alive = running("alive", now - timedelta(seconds=5))
    dead = running("dead", now - timedelta(seconds=60))

    def beat():
        JobRun.objects.using(alias).filter(pk=alive.pk).update(
            lease_until=timezone.now() + timedelta(minutes=5)
        )

    with caplog.at_level(logging.WARNING, logger="django_cron"):
        with before_first_update(alias, beat):
            assert sweep(timezone.now()) == 1
    alive.refresh_from_db(using=alias)
    dead.refresh_from_db(using=alias)
    assert alive.status == "running"
    assert (dead.status, dead.error, dead.lease_until) == ("lost", LOST_ERROR, None)
    assert [r.getMessage() for r in caplog.records] == [f"Job dead was lost: {LOST_ERROR}"]


def test_a_lost_run_counts_as_a_failure_for_alerts_and_retries(
    alias, registry, settings, mailoutbox
):
    settings.ADMINS = [("Ops", "ops@example.com")]
    registry.register(lambda: None, name="vanished", every=86400, alert_after=1, retries=1)
    registry.register(lambda: None, name="retired", every=86400, alert_after=1, retries=1)
    run_due()
    slot = timezone.now() - timedelta(minutes=5)
    for name in ("vanished", "retired"):
        JobRun.objects.using(alias).create(
            job=states(alias).get(name=name),
            scheduled_for=slot,
            started_at=slot,
            status="running",
            owner=f"{name}:1:abc",
            lease_until=slot + timedelta(minutes=1),
        )
    registry.unregister("retired")  # its code is gone: recorded, nothing follows
    before = timezone.now()
    assert sweep(before) == 2
    after = timezone.now()
    vanished, retired = states(alias).get(name="vanished"), states(alias).get(name="retired")
    assert (vanished.retry_slot, vanished.retry_attempt) == (slot, 2)
    # After the default retry delay, counted from the sweep.
    delay = timedelta(seconds=60)
    assert before + delay <= vanished.next_run_at <= after + delay
    assert (retired.last_status, retired.retry_slot) == ("lost", None)
    assert [mail.subject for mail in mailoutbox] == [
        "[Django] [cron] vanished failed 1 times in a row"
    ]


@pytest.mark.usefixtures("no_heartbeat")
def test_a_lease_taken_between_the_sweeps_read_and_write_is_left_alone(alias, registry):
    seen = {}

    def retake():
        # Another claimer takes the expired lease of the job's state row.
        states(alias).filter(name="slow").update(
            lease_owner="elsewhere:1:abc", lease_until=timezone.now() + timedelta(minutes=5)
        )

    def during():
        with before_first_update(alias, retake):
            sweep(timezone.now())
        seen["dead run"] = runs(alias, "slow").get().status
        seen["owner"] = states(alias).get(name="slow").lease_owner

    _expiring_job(registry, alias, during)
    run_due(["slow"], force=True)
    # The expired run is recorded as lost; the new owner keeps its lease.
    assert seen == {"dead run": "lost", "owner": "elsewhere:1:abc"}


@pytest.mark.usefixtures("no_heartbeat")
def _stalls_past_its_lease(registry, alias, then):
    """
    Register "slow": its first run stalls past its one-second lease while
    another process sweeps it as lost and runs the job's next run, then
    ``then()`` ends it.
    """

    def during():
        assert sweep(timezone.now()) == 1
        thread = threading.Thread(target=run_due, args=(["slow"],), kwargs={"force": True})
        thread.start()
        thread.join()

    calls = []

    def body():
        calls.append(1)
        if len(calls) == 1:
            print("the first run, stalled")
            time.sleep(1.2)
            during()
            return then()

    registry.register(body, name="slow", every=3600, lease=1, alert_after=1, retries=2)


def _late_and_next(alias):
    first, second = runs(alias, "slow")
    assert first.status == "lost" and second.status == "ok"
    assert first.output.startswith("the first run, stalled\n") and first.duration >= 1.2
    assert first.finished_at == first.started_at + timedelta(seconds=first.duration)
    return first, second


@pytest.mark.usefixtures("no_heartbeat")
def test_a_late_failure_keeps_the_lost_status_and_leaves_the_newer_state_alone(
    alias, registry, caplog
):
    def fail():
        raise ValueError("too late " + "x" * 3000)

    _stalls_past_its_lease(registry, alias, fail)
    with caplog.at_level(logging.WARNING, logger="django_cron"):
        (late,) = run_due(["slow"], force=True).runs
    first, second = _late_and_next(alias)
    assert first.pk == late.pk and late.status == "lost"
    # What really happened is added to the lost run, within the error's length ...
    added = r" It finished late, after 1\.\ds: failed \(ValueError: too late x+"
    assert re.match(re.escape(LOST_ERROR) + added, first.error) and len(first.error) == 2000
    assert "too late" in first.traceback
    (warning,) = [r.getMessage() for r in caplog.records if "finished late" in r.getMessage()]
    assert warning.startswith("Job slow finished after its run was recorded as lost: It finished")
    # ... and nothing of it to the job, which has moved on: no failure counted, no retry.
    state = states(alias).get(name="slow")
    assert (state.last_status, state.last_run_at) == ("ok", second.started_at)
    assert state.lease_owner == "" and state.lease_until is None
    assert (state.consecutive_failures, state.retry_slot, state.alert_pending) == (0, None, "")


@pytest.mark.usefixtures("no_heartbeat")
def test_a_late_success_keeps_what_the_job_returned(alias, registry):
    _stalls_past_its_lease(registry, alias, lambda: "42 rows")
    run_due(["slow"], force=True)
    first, _ = _late_and_next(alias)
    assert re.fullmatch(
        re.escape(LOST_ERROR) + r" It finished late, after 1\.\ds: ok\.", first.error
    )
    assert first.message == "42 rows"


def test_the_heartbeat_extends_the_lease_of_the_run_and_of_the_job(alias, registry, caplog):
    seen = {}

    def body():
        time.sleep(1.5)  # past the one-second lease it was claimed with
        now = timezone.now()
        seen["run"] = runs(alias, "long").get().lease_until > now
        seen["job"] = states(alias).get(name="long").lease_until > now

    registry.register(body, name="long", every=3600, lease=1)
    with caplog.at_level(logging.WARNING, logger="django_cron"):
        (run,) = run_due(["long"], force=True).runs
    assert seen == {"run": True, "job": True} and run.status == "ok"
    assert "lost its lease" not in caplog.text


def test_a_heartbeat_finds_out_that_its_run_was_taken_for_lost(alias, registry, caplog):
    def body():
        # What another process's sweep writes, had this run stalled past its lease.
        runs(alias, "long").update(status="lost")
        time.sleep(1.2)  # a few beats

    registry.register(body, name="long", every=3600, lease=1)
    with caplog.at_level(logging.WARNING, logger="django_cron"):
        run_due(["long"], force=True)
    assert caplog.text.count("Job long lost its lease while running") == 1


def test_a_heartbeat_leaves_alone_a_job_lease_that_another_run_now_holds(alias, registry):
    seen = {}
    later = timezone.now() + timedelta(seconds=30)

    def body():
        # The job's lease went to another run meanwhile (this one stalled, was
        # taken for lost, and the next one claimed the job).
        states(alias).filter(name="long").update(lease_owner="elsewhere:1:abc", lease_until=later)
        time.sleep(1.2)  # a few beats
        seen["until"] = states(alias).get(name="long").lease_until

    registry.register(body, name="long", every=3600, lease=1)
    run_due(["long"], force=True)
    assert seen["until"] == later


def cut_run_updates(execute, sql, params, many, context):
    """The database goes away just as a run's outcome is written."""
    if sql.lstrip().upper().startswith("UPDATE") and "django_cron_jobrun" in sql:
        raise OperationalError("server closed the connection unexpectedly")
    return execute(sql, params, many, context)


def test_when_recording_a_run_fails_the_job_lease_and_lock_are_handed_back(alias, registry):
    registry.register(lambda: record("tick"), name="tick", every=3600)
    run_due()

    with connections[alias].execute_wrapper(cut_run_updates), pytest.raises(OperationalError):
        run_due(["tick"], force=True)
    state = states(alias).get(name="tick")
    assert (state.lease_owner, state.lease_until) == ("", None)
    assert get_lock().acquire("job:tick", timedelta(seconds=5)) is not None
    # The run itself is found by the sweep once its lease has expired.
    assert runs(alias, "tick").get().status == "running"


def test_when_the_database_is_gone_for_the_recording_its_error_is_what_comes_out(alias, registry):
    down = threading.Event()
    registry.register(down.set, name="tick", every=3600)  # the database goes as the job ends
    run_due()

    def cut(execute, sql, params, many, context):
        if down.is_set() and sql.lstrip().upper().startswith("UPDATE"):
            raise OperationalError("server closed the connection unexpectedly")
        return execute(sql, params, many, context)

    with connections[alias].execute_wrapper(cut), pytest.raises(OperationalError):
        run_due(["tick"], force=True)
    # The job's lease could not be handed back either: it expires on its own.
    assert states(alias).get(name="tick").lease_owner != ""


def test_a_failed_recording_leaves_a_lease_another_run_took_meanwhile(alias, registry):
    later = timezone.now() + timedelta(hours=1)

    def body():
        # This run stalled, its lease expired, and another runner claimed the job.
        states(alias).filter(name="tick").update(lease_owner="elsewhere:1:abc", lease_until=later)

    registry.register(body, name="tick", every=3600)
    run_due()

    with connections[alias].execute_wrapper(cut_run_updates), pytest.raises(OperationalError):
        run_due(["tick"], force=True)
    state = states(alias).get(name="tick")
    assert (state.lease_owner, state.lease_until) == ("elsewhere:1:abc", later)


def test_overlapping_runs_leave_the_summary_of_the_one_that_started_last(alias, registry):
    release_first, first_started = threading.Event(), threading.Event()
    calls = []

    def body():
        calls.append(1)
        if len(calls) == 1:
            first_started.set()
            release_first.wait(30)
            raise ValueError("the first run, ending last")

    registry.register(body, name="twice", every=3600, max_running=2)
    registry.register(lambda: None, name="bystander", every=3600)
    (bystander,) = run_due(["bystander"], force=True).runs
    first = threading.Thread(target=run_due, args=(["twice"],), kwargs={"force": True})
    first.start()
    assert first_started.wait(30)
    (second,) = run_due(["twice"], force=True).runs
    release_first.set()
    first.join(timeout=30)
    state = states(alias).get(name="twice")
    assert (state.last_status, state.last_run_at) == ("ok", second.started_at)
    # Another job's summary stays its own.
    state = states(alias).get(name="bystander")
    assert (state.last_status, state.last_run_at) == ("ok", bystander.started_at)


# Retries ----------------------------------------------------------------------


def test_each_retry_waits_retry_delay_times_backoff_to_the_attempts_before(alias, registry):
    registry.register(
        Flaky(), name="flaky", every=86400, retries=3, retry_delay=100, retry_backoff=3
    )
    registry.register(lambda: None, name="bystander", every=86400)
    run_due()
    bystander = states(alias).get(name="bystander").next_run_at
    waits = []
    for _ in range(3):
        make_due(alias, "flaky")
        (run,) = run_due(["flaky"]).runs
        state = states(alias).get(name="flaky")
        waits.append(round((state.next_run_at - run.finished_at).total_seconds() / 10) * 10)
    assert waits == [100, 300, 900]
    assert states(alias).get(name="bystander").next_run_at == bystander


def test_a_retry_that_would_come_after_the_next_slot_is_left_to_that_slot(alias, registry):
    registry.register(Flaky(), name="flaky", every=60, retries=3, retry_delay=100)
    run_due()
    slot = make_due(alias, "flaky")
    (run,) = run_due(["flaky"]).runs
    state = states(alias).get(name="flaky")
    assert run.status == "failed" and state.retry_slot is None
    assert state.next_run_at == slot + timedelta(seconds=60)


# Alerts -----------------------------------------------------------------------


@pytest.fixture
def mail_server_down(settings, mailoutbox):
    """Mail through SMTP to a port where nothing listens: every send is refused."""
    settings.ADMINS = [("Ops", "ops@example.com")]
    settings.EMAIL_BACKEND = "django.core.mail.backends.smtp.EmailBackend"
    settings.EMAIL_HOST, settings.EMAIL_PORT, settings.EMAIL_TIMEOUT = "127.0.0.1", 1, 2
    return mailoutbox


def test_an_alert_that_cannot_be_sent_breaks_nothing_and_goes_out_later_once(
    alias, registry, settings, mail_server_down, caplog
):
    outbox = mail_server_down
    registry.register(Flaky(), name="flaky", every=3600, alert_after=1, retries=1)
    registry.register(lambda: record("other"), name="other", every=3600)
    run_due()
    make_due(alias, "flaky", ago=2)
    make_due(alias, "other", ago=1)
    with caplog.at_level(logging.WARNING, logger="django_cron"):
        result = run_due()
        run_due()  # mail is still down: tried again, not logged again
    assert [(run.job.name, run.status) for run in result.runs] == [
        ("flaky", "failed"),
        ("other", "ok"),
    ]
    state = states(alias).get(name="flaky")
    assert state.lease_owner == "" and state.lease_until is None
    assert state.retry_attempt == 2, "the retry was not scheduled"
    assert caplog.text.count("could not be sent") == 1
    # The mail server is back: the alert goes out once, at the next pass.
    settings.EMAIL_BACKEND = "django.core.mail.backends.locmem.EmailBackend"
    run_due()
    run_due()
    assert [mail.subject for mail in outbox] == ["[Django] [cron] flaky failed 1 times in a row"]
    # The failed run stays failed: nothing took it for lost.
    sweep(timezone.now() + timedelta(hours=1))
    assert list(runs(alias, "flaky").values_list("status", flat=True)) == ["failed"]


def test_tracebacks_are_capped_in_the_run_the_log_and_the_mail(
    alias, registry, settings, mailoutbox, caplog
):
    settings.ADMINS = [("Ops", "ops@example.com")]

    def huge():
        raise ValueError("x" * 5_000_000)

    registry.register(huge, name="huge", every=3600, alert_after=1)
    with caplog.at_level(logging.ERROR, logger="django_cron"):
        (run,) = run_due(["huge"], force=True).runs
    stored = runs(alias, "huge").get()
    assert len(stored.error) <= 2000 and len(stored.traceback) <= 20_000
    assert stored.traceback.startswith("Traceback") and "characters cut" in stored.traceback
    assert max(len(record.getMessage()) for record in caplog.records) <= 21_000
    (mail,) = mailoutbox
    assert len(mail.body) <= 23_000
