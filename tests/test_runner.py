import logging
import time
from datetime import timedelta

import pytest
from django.utils import timezone
from freezegun import freeze_time

from django_cron import Job
from django_cron.models import JobRun, JobState
from django_cron.runner import run_due
from django_cron.runtime.runs import sweep
from django_cron.signals import cron_done, run_finished
from tests.conftest import on_each_database, wait_for, wall_time
from tests.effects import CALLS, record

pytestmark = [on_each_database, pytest.mark.usefixtures("cron_db")]


def states(alias):
    return JobState.objects.using(alias)


def make_due(alias, name, ago=1.0):
    """Move a job's next run ``ago`` seconds into the past; return that slot."""
    slot = timezone.now() - timedelta(seconds=ago)
    assert states(alias).filter(name=name).update(next_run_at=slot) == 1
    return states(alias).get(name=name).next_run_at


def names_run():
    return [call[0] for call in CALLS]


def test_interval_job_first_runs_one_interval_after_it_is_seen(alias, registry):
    registry.register(lambda: record("tick"), name="tick", every=300)
    before = timezone.now()
    assert run_due().runs == []
    state = states(alias).get(name="tick")
    assert before + timedelta(seconds=300) <= state.next_run_at
    assert state.next_run_at <= timezone.now() + timedelta(seconds=300)
    assert CALLS == []


def test_the_2009_execute_runs_the_due_jobs(alias, registry):
    # cronScheduler.execute() is how a 2009 site ran its jobs; the registry
    # hands it to the runner, which apps.py attaches.
    registry.register(lambda: record("legacy"), name="legacy", every=300)
    run_due()
    make_due(alias, "legacy")
    result = registry.execute()
    assert [run.job.name for run in result.runs] == ["legacy"]
    assert names_run() == ["legacy"]


def test_on_sqlite_freezegun_moves_the_runners_clock(alias, registry):
    if alias != "default":
        pytest.skip("PostgreSQL and MariaDB have a server clock, which the runner reads")
    # SQLite has no server clock: the runner reads Python's, as a site's tests expect.
    registry.register(lambda: record("tick"), name="tick", every=300)
    with freeze_time("2014-01-01 00:00:00"):
        assert run_due().runs == []
    # Frozen times are in UTC, or without USE_TZ naive wall-clock time.
    assert states("default").get(name="tick").next_run_at == wall_time(2014, 1, 1, 0, 5)
    with freeze_time("2014-01-01 00:04:59"):
        assert run_due().runs == []
    with freeze_time("2014-01-01 00:05:01"):
        (run,) = run_due().runs
    assert run.started_at == wall_time(2014, 1, 1, 0, 5, 1)
    assert names_run() == ["tick"]


def test_cron_job_first_runs_at_its_next_slot(alias, registry):
    registry.register(lambda: None, name="hourly", schedule="@hourly")
    run_due()
    due = states(alias).get(name="hourly").next_run_at
    assert (due.minute, due.second, due.microsecond) == (0, 0, 0)
    assert timezone.now() < due <= timezone.now() + timedelta(hours=1)


def test_due_job_runs_once_and_keeps_its_phase(alias, registry):
    registry.register(lambda: record("tick"), name="tick", every=300)
    run_due()
    slot = make_due(alias, "tick", ago=10)
    result = run_due()
    assert names_run() == ["tick"]
    (run,) = result.runs
    assert run.status == JobRun.Status.OK and run.scheduled_for == slot
    # next = previous slot + interval, not finish time + interval: no drift.
    assert states(alias).get(name="tick").next_run_at == slot + timedelta(seconds=300)
    assert run_due().runs == []
    assert names_run() == ["tick"]


def test_every_run_leaves_a_history_row(alias, registry):
    registry.register(lambda: None, name="tick", every=60)
    run_due()
    make_due(alias, "tick")
    run_due()
    (run,) = JobRun.objects.using(alias).filter(job__name="tick")
    assert run.status == "ok" and run.finished_at >= run.started_at and run.duration >= 0
    state = states(alias).get(name="tick")
    assert state.last_status == "ok" and state.last_run_at == run.started_at
    assert state.last_duration == run.duration and state.last_error == ""
    assert state.lease_owner == "" and state.lease_until is None


def test_a_failing_job_is_recorded_stays_enabled_and_others_still_run(alias, registry, caplog):
    def broken():
        raise ZeroDivisionError("no mail server")

    registry.register(broken, name="broken", every=60)
    registry.register(lambda: record("after"), name="after", every=60)
    run_due()
    make_due(alias, "broken", ago=5)
    make_due(alias, "after", ago=1)
    with caplog.at_level(logging.ERROR, logger="django_cron"):
        result = run_due()
    assert [r.status for r in result.runs] == ["failed", "ok"]
    assert names_run() == ["after"]
    failed = JobRun.objects.using(alias).get(job__name="broken")
    assert failed.error == "ZeroDivisionError: no mail server"
    assert "Traceback" in failed.traceback and "no mail server" in failed.traceback
    assert "Job broken failed" in caplog.text
    state = states(alias).get(name="broken")
    assert state.enabled and state.last_status == "failed"
    # It runs again at its next slot: one failure disables nothing.
    make_due(alias, "broken")
    assert [r.status for r in run_due().runs] == ["failed"]


def test_a_reporter_that_fails_stops_no_other_job(alias, registry, caplog):
    registry.register(lambda: record("first"), name="first", every=60)
    registry.register(lambda: record("second"), name="second", every=60)
    run_due()
    make_due(alias, "first", ago=5)
    make_due(alias, "second", ago=1)

    def on_run(run):
        # What `cron run` meets when its output pipe is closed.
        raise BrokenPipeError(32, "Broken pipe")

    with caplog.at_level(logging.ERROR, logger="django_cron"):
        result = run_due(on_run=on_run)
    assert names_run() == ["first", "second"]
    assert [r.status for r in result.runs] == ["ok", "ok"]
    assert caplog.text.count("Reporting the run of") == 2


def test_a_pass_says_what_it_checked_and_what_it_skipped(alias, registry):
    registry.register(lambda: None, name="fine", every=60)
    registry.register(lambda: None, name="feb30", schedule="0 0 30 2 *")
    result = run_due()
    assert result.checked == 2 and result.runs == []
    assert [name for name, _ in result.skipped] == ["feb30"]
    assert result.skipped[0][1].startswith("broken: it never comes due")


def test_coalesce_runs_once_after_missed_slots(alias, registry):
    registry.register(lambda: record("tick"), name="tick", every=60)
    run_due()
    slot = make_due(alias, "tick", ago=60 * 5 + 30)
    run_due()
    assert names_run() == ["tick"]
    due = states(alias).get(name="tick").next_run_at
    assert due == slot + timedelta(seconds=60 * 6) and due > timezone.now()


def test_skip_runs_nothing_for_missed_slots_and_says_so(alias, registry, caplog):
    registry.register(lambda: record("tick"), name="tick", every=60, missed="skip")
    run_due()
    slot = make_due(alias, "tick", ago=60 * 5 + 30)
    with caplog.at_level(logging.INFO, logger="django_cron"):
        assert run_due().runs == [] and CALLS == []
    resumed = slot + timedelta(seconds=60 * 6)
    assert states(alias).get(name="tick").next_run_at == resumed
    skipped = [r.getMessage() for r in caplog.records if "skipped" in r.getMessage()]
    assert skipped == [f"Job tick skipped missed slots up to {resumed}"]
    # A slot that is merely late, with none missed after it, still runs, and
    # nothing is said about skipping.
    caplog.clear()
    make_due(alias, "tick", ago=30)
    with caplog.at_level(logging.INFO, logger="django_cron"):
        run_due()
    assert names_run() == ["tick"]
    assert not [r for r in caplog.records if "skipped" in r.getMessage()]


def test_catch_up_runs_every_missed_slot(alias, registry):
    registry.register(lambda: record("tick"), name="tick", every=60, missed="catch_up")
    run_due()
    slot = make_due(alias, "tick", ago=60 * 2 + 30)
    scheduled = [run.scheduled_for for _ in range(4) for run in run_due().runs]
    assert scheduled == [slot, slot + timedelta(seconds=60), slot + timedelta(seconds=120)]


def test_a_schedule_changed_in_code_moves_the_next_run(alias, registry):
    registry.register(lambda: None, name="tick", every=60)
    run_due()
    registry.register(lambda: None, name="tick", every=3600)
    run_due()
    state = states(alias).get(name="tick")
    assert state.schedule_key == "every 3600s"
    assert state.next_run_at > timezone.now() + timedelta(seconds=3000)


def test_disabled_jobs_do_not_run(alias, registry):
    registry.register(lambda: record("off"), name="off", every=60, enabled=False)
    registry.register(lambda: record("paused"), name="paused", every=60)
    run_due()
    make_due(alias, "off")
    make_due(alias, "paused")
    states(alias).filter(name="paused").update(enabled=False)
    assert run_due().runs == [] and CALLS == []


def test_force_runs_a_job_now_without_moving_its_schedule(alias, registry):
    registry.register(lambda: record("tick"), name="tick", every=3600)
    run_due()
    due = states(alias).get(name="tick").next_run_at
    (run,) = run_due(["tick"], force=True).runs
    assert run.forced and run.attempt == 1 and names_run() == ["tick"]
    assert states(alias).get(name="tick").next_run_at == due


def test_a_live_lease_keeps_a_second_run_out(alias, registry):
    registry.register(lambda: record("tick"), name="tick", every=60)
    run_due()
    make_due(alias, "tick")
    states(alias).filter(name="tick").update(
        lease_owner="elsewhere", lease_until=timezone.now() + timedelta(minutes=5)
    )
    assert run_due().runs == [] and CALLS == []


def test_an_expired_lease_is_recorded_as_lost_and_the_job_goes_on(alias, registry):
    registry.register(lambda: record("tick"), name="tick", every=60)
    run_due()
    state = states(alias).get(name="tick")
    expired = timezone.now() - timedelta(seconds=1)
    dead = JobRun.objects.using(alias).create(
        job=state,
        scheduled_for=timezone.now(),
        started_at=timezone.now(),
        status="running",
        owner="dead:1:x",
        lease_until=expired,
    )
    states(alias).filter(pk=state.pk).update(lease_owner="dead:1:x", lease_until=expired)
    make_due(alias, "tick")
    result = run_due()
    dead.refresh_from_db(using=alias)
    assert dead.status == "lost" and "lease expired" in dead.error and dead.finished_at
    assert [r.status for r in result.runs] == ["ok"]


def test_legacy_jobs_run_with_their_registered_arguments(alias, registry):
    class Purge(Job):
        run_every = 60

        def run(self, *args, **kwargs):
            record("purge", *args, **kwargs)

    class Mail(Job):
        run_every = 60

        def job(self):
            record("mail")

    registry.register(Purge, "drafts", days=30)
    registry.register(Mail)
    run_due()
    for definition in registry.all():
        make_due(alias, definition.name)
    run_due()
    assert sorted(CALLS) == [("mail", (), {}), ("purge", ("drafts",), {"days": 30})]


def test_cron_done_is_sent_after_each_successful_run_only(alias, registry):
    seen = []

    def receiver(sender, **kwargs):
        seen.append((type(sender).__name__, kwargs["name"], kwargs["run"].status))

    class Good(Job):
        run_every = 60

    class Bad(Job):
        run_every = 60

        def job(self):
            raise RuntimeError("bad")

    registry.register(Good, name="good")
    registry.register(Bad, name="bad")
    cron_done.connect(receiver)
    try:
        run_due()
        make_due(alias, "good")
        make_due(alias, "bad")
        run_due()
    finally:
        cron_done.disconnect(receiver)
    assert seen == [("Good", "good", "ok")]


def test_run_finished_is_sent_with_the_recorded_run_and_a_failing_receiver_breaks_nothing(
    alias, registry
):
    seen = []

    def receiver(sender, name, run, **kwargs):
        stored = JobRun.objects.using(alias).get(pk=run.pk)
        seen.append((sender, name, run.status, stored.status, stored.finished_at is not None))

    def broken(**kwargs):
        raise RuntimeError("a receiver that fails")

    def good():
        record("good")

    def bad():
        raise RuntimeError("bad")

    registry.register(good, name="good", every=60)
    registry.register(bad, name="bad", every=60)
    run_finished.connect(broken)
    run_finished.connect(receiver)
    try:
        run_due()
        make_due(alias, "good")
        make_due(alias, "bad")
        run_due()
    finally:
        run_finished.disconnect(receiver)
        run_finished.disconnect(broken)
    assert sorted(seen, key=lambda item: item[1]) == [
        (bad, "bad", "failed", "failed", True),
        (good, "good", "ok", "ok", True),
    ]
    assert names_run() == ["good"]


def test_history_is_pruned_in_bounded_batches(alias, registry, settings):
    settings.DJANGO_CRON = {**settings.DJANGO_CRON, "HISTORY_DAYS": 7, "PRUNE_BATCH_SIZE": 3}
    registry.register(lambda: None, name="tick", every=60)
    run_due()
    state = states(alias).get(name="tick")
    old = timezone.now() - timedelta(days=8)
    JobRun.objects.using(alias).bulk_create(
        JobRun(job=state, scheduled_for=old, started_at=old, status="ok") for _ in range(5)
    )
    make_due(alias, "tick")
    run_due()  # one run, then one batch of three old rows deleted
    assert (
        JobRun.objects.using(alias)
        .filter(started_at__lt=timezone.now() - timedelta(days=7))
        .count()
        == 2
    )
    assert JobRun.objects.using(alias).count() == 3


def test_next_due_is_the_earliest_next_run(alias, registry):
    registry.register(lambda: None, name="soon", every=30)
    registry.register(lambda: None, name="later", every=3600)
    result = run_due()
    assert result.next_due == states(alias).get(name="soon").next_run_at


def _hold_for(alias, seconds, seen):
    """A job that runs ``seconds`` and meanwhile looks at its own lease from outside."""

    def body():
        time.sleep(seconds)
        held = states(alias).filter(name="long", lease_until__gt=timezone.now()).exists()
        seen["lease_held"] = held
        seen["swept"] = sweep(timezone.now())

    return body


@pytest.mark.parametrize("heartbeat", [True, False])
def test_the_heartbeat_keeps_a_long_job_alive_past_its_lease(alias, registry, settings, heartbeat):
    settings.DJANGO_CRON = {**settings.DJANGO_CRON, "HEARTBEAT": heartbeat}
    seen = {}
    registry.register(_hold_for(alias, 2.0, seen), name="long", every=60, lease=1)
    run_due()
    make_due(alias, "long")
    (run,) = run_due().runs
    if heartbeat:
        assert seen == {"lease_held": True, "swept": 0}
        assert run.status == "ok"
    else:
        # Without it, a job longer than its lease is taken for dead.
        assert seen == {"lease_held": False, "swept": 1}


@pytest.mark.parametrize("min_lease", [1.5, 0.8])
@pytest.mark.parametrize("max_running", [1, 2])
def test_min_lease_holds_the_job_after_a_short_run(
    alias, registry, settings, min_lease, max_running
):
    settings.DJANGO_CRON = {**settings.DJANGO_CRON, "MIN_LEASE": min_lease}
    registry.register(lambda: None, name="quick", every=60, max_running=max_running)
    run_due(["quick"], force=True)
    started = time.monotonic()
    # Held by the state row's lease (one at a time) or by every lock slot (several).
    for _ in range(max_running - 1):
        run_due(["quick"], force=True)
    assert run_due(["quick"], force=True).runs == []
    wait_for(lambda: run_due(["quick"], force=True).runs, timeout=10, message="expiry")
    assert time.monotonic() - started >= min_lease * 0.8
