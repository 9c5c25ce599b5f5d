"""Tests that start real OS processes: races for one slot, a killed run, worker shutdown."""

import os
import signal
from collections import Counter
from datetime import timedelta
from itertools import pairwise

import pytest
from django.utils import timezone

from django_cron.models import JobRun, JobState
from django_cron.runner import run_due
from django_cron.schedules import Interval
from tests.conftest import FAKETIME, on_each_database, on_each_lock, start, wait_for
from tests.effects import record

pytestmark = [on_each_database, pytest.mark.usefixtures("cron_db")]

RACE_JOBS = [f"race.job{i}" for i in range(10)]  # as in tests/procs.py
PROCESSES = 4
ROUNDS = 3


def due_states(alias, names):
    past = timezone.now() - timedelta(seconds=1)
    key = Interval(3600).key
    JobState.objects.using(alias).bulk_create(
        JobState(name=name, schedule_key=key, next_run_at=past) for name in names
    )


def finish(process, timeout=60):
    out, err = process.communicate(timeout=timeout)
    assert process.returncode == 0, err
    return out, err


@pytest.mark.races
@on_each_lock
def test_four_processes_some_in_threads_run_each_due_slot_exactly_once(alias, tmp_path, lock_env):
    effects = tmp_path / "effects.log"
    effects.touch()
    due_states(alias, RACE_JOBS)
    # Half the racers run their due jobs in three threads, as cron worker --threads 3 does.
    processes = [
        start(
            ["race", str(tmp_path), str(ROUNDS), "3" if number % 2 else "1"],
            alias,
            DJANGO_CRON_TEST_EFFECTS=effects,
            **lock_env,
        )
        for number in range(PROCESSES)
    ]
    for number in range(ROUNDS):
        wait_for(
            lambda n=number: len(list(tmp_path.glob(f"ready-{n}-*"))) == PROCESSES,
            timeout=120,
            message=f"{PROCESSES} racers ready for round {number}",
        )
        # All racers wait on this file, then call the runner at the same instant.
        (tmp_path / f"go-{number}").touch()
        wait_for(
            lambda n=number: len(list(tmp_path.glob(f"done-{n}-*"))) == PROCESSES,
            timeout=120,
            message=f"round {number} done",
        )
        counts = Counter(line.split()[0] for line in effects.read_text().splitlines())
        assert counts == {name: number + 1 for name in RACE_JOBS}
        JobState.objects.using(alias).filter(name__in=RACE_JOBS).update(
            next_run_at=timezone.now() - timedelta(seconds=1)
        )
    for process in processes:
        finish(process)
    runs = JobRun.objects.using(alias).filter(job__name__in=RACE_JOBS)
    assert Counter(runs.values_list("job__name", flat=True)) == {n: ROUNDS for n in RACE_JOBS}
    assert set(runs.values_list("status", flat=True)) == {"ok"}


@on_each_lock
def test_a_killed_run_is_recorded_lost_after_its_lease_and_the_next_slot_runs(
    alias, tmp_path, registry, lock_env
):
    started = tmp_path / "started"
    process = start(["hang", str(started)], alias, **lock_env)
    wait_for(lambda: started.exists() or process.poll() is not None, timeout=60)
    assert started.exists(), process.communicate()[1]
    process.kill()  # SIGKILL: no cleanup, the lease is all that is left
    process.wait(timeout=30)
    runs = JobRun.objects.using(alias).filter(job__name="hang.job")
    (dead,) = runs
    assert dead.status == "running"

    # The same job, as another process (this one) knows it.
    registry.register(lambda: record("hang.job"), name="hang.job", every=3600, lease=1)

    def swept():
        run_due(["hang.job"])
        return runs.get(pk=dead.pk).status == "lost"

    wait_for(swept, timeout=15, message="the run to be recorded as lost")
    state = JobState.objects.using(alias).get(name="hang.job")
    assert state.last_status == "lost" and state.lease_owner == ""
    JobState.objects.using(alias).filter(pk=state.pk).update(
        next_run_at=timezone.now() - timedelta(seconds=1)
    )
    # The lock backend's lease ends on its own clock, a moment apart from the database's.
    (run,) = wait_for(lambda: run_due(["hang.job"]).runs, timeout=15, message="the next run")
    assert run.status == "ok"


def test_a_killed_run_among_concurrent_runs_is_recorded_lost(alias, tmp_path, registry):
    started = tmp_path / "started"
    process = start(["hang", str(started), "2"], alias)
    wait_for(lambda: started.exists() or process.poll() is not None, timeout=60)
    assert started.exists(), process.communicate()[1]
    # A second run of the same job, allowed to overlap the first, runs and ends here.
    registry.register(lambda: None, name="hang.job", every=3600, lease=1, max_running=2)
    (second,) = run_due(["hang.job"], force=True).runs
    assert second.status == "ok"
    process.kill()
    process.wait(timeout=30)
    dead = JobRun.objects.using(alias).exclude(pk=second.pk).get(job__name="hang.job")

    def swept():
        run_due(["hang.job"])
        return JobRun.objects.using(alias).get(pk=dead.pk).status == "lost"

    wait_for(swept, timeout=15, message="the killed run to be recorded as lost")
    assert JobRun.objects.using(alias).get(pk=second.pk).status == "ok"


def test_worker_finishes_the_running_job_then_stops_on_sigterm(alias, tmp_path):
    effects = tmp_path / "effects.log"
    started = tmp_path / "started"
    due_states(alias, ["worker.job"])
    process = start(["worker", str(started)], alias, DJANGO_CRON_TEST_EFFECTS=effects)
    wait_for(started.exists, timeout=60, message="the job to start")
    process.send_signal(signal.SIGTERM)
    finish(process)
    (run,) = JobRun.objects.using(alias).filter(job__name="worker.job")
    assert run.status == "ok" and run.duration >= 1.0
    assert effects.read_text().split()[0] == "worker.job"


def test_an_idle_worker_stops_at_once_on_sigint(alias, tmp_path):
    process = start(["worker", str(tmp_path / "started")], alias)
    # The worker has made its first pass once it created the job's state row.
    wait_for(
        lambda: JobState.objects.using(alias).filter(name="worker.job").exists(),
        timeout=60,
        message="the worker's first pass",
    )
    process.send_signal(signal.SIGINT)
    finish(process, timeout=10)
    assert not (tmp_path / "started").exists()


def test_a_stop_signal_stops_the_worker_whatever_the_main_thread_was_doing(alias):
    # The handler runs in the main thread wherever it was, even inside Event.wait()
    # holding the Event's lock: a handler that wanted that lock waited for ever.
    process = start(["interrupted"], alias)
    finish(process, timeout=20)


@pytest.mark.skipif(
    not FAKETIME and not os.environ.get("DJANGO_CRON_TEST_SERVICES"),
    reason="libfaketime is not installed (apt-get install faketime)",
)
def test_runners_with_skewed_clocks_never_run_a_slot_twice(alias, tmp_path):
    if alias == "default":
        pytest.skip("SQLite has no server clock: its processes share one machine's clock")
    effects = tmp_path / "effects.log"
    effects.touch()
    runners = [
        start(
            ["loop", str(tmp_path), "1"],
            alias,
            DJANGO_CRON_TEST_EFFECTS=effects,
            # A real clock skew: libfaketime shifts what the process's clock reads.
            **({"LD_PRELOAD": FAKETIME, "FAKETIME": skew} if skew else {}),
        )
        for skew in ("+4s", "-4s", None)
    ]
    wait_for(lambda: len(list(tmp_path.glob("ready-*"))) == 3, timeout=120, message="runners")
    first = timezone.now() + timedelta(seconds=0.5)
    JobState.objects.using(alias).filter(name="loop.job").update(next_run_at=first)
    runs = JobRun.objects.using(alias).filter(job__name="loop.job")
    wait_for(lambda: runs.count() >= 6, timeout=60, message="six runs")
    (tmp_path / "stop").touch()
    for runner in runners:
        finish(runner)
    assert runs.count() == len(effects.read_text().splitlines())
    # A runner may have run the first slot of its own before the test set this one.
    slots = sorted(runs.filter(scheduled_for__gte=first).values_list("scheduled_for", flat=True))
    assert len(set(slots)) == len(slots) >= 5
    # The slots keep their one-second phase: no runner ran ahead of the database
    # or skipped slots it wrongly thought were missed.
    assert {b - a for a, b in pairwise(slots)} == {timedelta(seconds=1)}
