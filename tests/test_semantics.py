"""
What a pause, an overlap and a run asked for mean for the slots around them,
tried against real processes: ``cron worker``, gunicorn under traffic, and
parallel API calls. The jobs are those of tests/semanticsapp, which write what
they did apart from the database.
"""

import http.client
import json
import signal
import threading
import time
from collections import Counter
from datetime import datetime
from datetime import timezone as dt_timezone
from itertools import pairwise

import pytest
from django.test import Client
from django.utils import timezone

from django_cron import register
from django_cron.models import JobRun, JobState
from tests.conftest import on_each_cron_database, start, wait_for
from tests.servers import server, traffic

# Real processes racing: the main run has them; the version matrix leaves them out.
pytestmark = [on_each_cron_database, pytest.mark.usefixtures("cron_db"), pytest.mark.races]

BURST = "semantics.burst"
SLOW = "semantics.slow"
# Long enough for several one-second slots to fall in it.
PAUSE = 4.0


def effects(path, name, event):
    """Return the times at which the job ``name`` wrote ``event``, in order."""
    found = []
    for line in path.read_text().splitlines():
        fields = line.split()
        # Other jobs of the site write "name pid" lines (tests/effects.py).
        if len(fields) == 4 and fields[:2] == [name, event]:
            found.append(float(fields[2]))
    return found


def api(key):
    return Client(headers={"Authorization": f"Bearer {key}"})


def slots_of(alias, name) -> list:
    """Return the slots of the job's runs, as POSIX times."""
    runs = JobRun.objects.using(alias).filter(job__name=name)
    return [_posix(slot) for slot in runs.values_list("scheduled_for", flat=True)]


def _posix(moment: datetime) -> float:
    if moment.tzinfo is None:
        moment = timezone.make_aware(moment)
    return moment.astimezone(dt_timezone.utc).timestamp()


def pause_and_resume(call, log, name):
    """
    Pause the job through the API for PAUSE seconds; return the wall times of
    both. ``call(path)`` POSTs to the API and returns the status.
    """
    wait_for(lambda: len(effects(log, name, "ran")) >= 2, timeout=60, message="two runs")
    paused = time.time()
    assert call(f"/cron/api/jobs/{name}/pause/") == 200
    # The pause itself is what is tried: slots fall due while it lasts.
    time.sleep(PAUSE)
    resumed = time.time()
    assert call(f"/cron/api/jobs/{name}/resume/") == 200
    return paused, resumed


def in_process(key):
    client = api(key)
    return lambda path: client.post(path, {}, content_type="application/json").status_code


def assert_the_pause_was_skipped(alias, log, paused, resumed):
    # No slot that fell while the job was paused ran, before or after the resume.
    in_pause = [slot for slot in slots_of(alias, BURST) if paused < slot < resumed]
    assert in_pause == [], f"{len(in_pause)} slots of the pause ran"
    # After the resume, one run a second, as before it: no burst.
    after = [at for at in effects(log, BURST, "ran") if resumed <= at < resumed + 1.5]
    assert len(after) <= 3, f"{len(after)} runs in the 1.5 s after the resume"
    state = JobState.objects.using(alias).get(name=BURST)
    # About PAUSE slots fell in the pause; all of them are counted.
    assert PAUSE - 1 <= state.skipped_paused <= PAUSE + 1, state.skipped_paused


@pytest.fixture
def burst(registry, operator_key, tmp_path):
    """The burst job, as the processes register it, a key that may pause, and the effects file."""
    register(lambda: None, name=BURST, every=1, missed="catch_up")
    log = tmp_path / "effects.log"
    log.touch()
    return operator_key("pause"), log


def test_a_paused_job_skips_the_slots_of_its_pause_under_cron_worker(alias, burst):
    key, log = burst
    worker = start(
        ["command", "cron", "worker", BURST],
        alias,
        DJANGO_CRON_TEST_SEMANTICS=1,
        DJANGO_CRON_TEST_EFFECTS=log,
        DJANGO_CRON_TEST_POLL=0.2,
    )
    paused, resumed = pause_and_resume(in_process(key), log, BURST)
    wait_for(lambda: effects(log, BURST, "ran")[-1] > resumed + 2, timeout=30, message="runs")
    worker.send_signal(signal.SIGTERM)
    worker.communicate(timeout=30)
    assert_the_pause_was_skipped(alias, log, paused, resumed)


def test_a_paused_job_skips_the_slots_of_its_pause_under_traffic(alias, tmp_path, burst):
    key, log = burst
    env = {"DJANGO_CRON_TEST_SEMANTICS": 1, "DJANGO_CRON_TEST_EFFECTS": log}
    with server("gunicorn-2", alias, tmp_path / "server.log", **env) as port:
        statuses = []
        done = threading.Event()

        def browse():
            while not done.is_set():
                statuses.extend(traffic(port, seconds=0.5, concurrency=2))

        browsing = threading.Thread(target=browse)
        browsing.start()
        try:
            # Through the server: the process that takes the resume looks again at once.
            call = lambda path: post(port, path, key)[0]  # noqa: E731
            paused, resumed = pause_and_resume(call, log, BURST)
            wait_for(lambda: effects(log, BURST, "ran")[-1] > resumed + 2, timeout=30)
        finally:
            done.set()
            browsing.join()
    assert Counter(statuses) == {200: len(statuses)}
    assert_the_pause_was_skipped(alias, log, paused, resumed)


def post(port, path, key):
    """POST to the server; a 503 (SQLite busy with a writer) is tried again, as a client would."""
    for _ in range(20):
        status, body = _post(port, path, key)
        if status != 503:
            return status, body
        time.sleep(0.1)
    return status, body


def _post(port, path, key):
    connection = http.client.HTTPConnection("127.0.0.1", port, timeout=30)
    try:
        connection.request("POST", path, body=b"{}", headers={"Authorization": f"Bearer {key}"})
        response = connection.getresponse()
        return response.status, json.loads(response.read() or b"null")
    finally:
        connection.close()


def overlapping(starts, ends) -> int:
    """Return the most runs that were ever in flight at once."""
    events = sorted([(at, 1) for at in starts] + [(at, -1) for at in ends])
    most = now = 0
    for _at, change in events:
        now += change
        most = max(most, now)
    return most


def test_parallel_run_now_calls_keep_to_the_jobs_one_run_at_a_time(
    alias, tmp_path, registry, operator_key
):
    register(lambda: None, name=SLOW, every=3600)
    key = operator_key("run")
    log = tmp_path / "effects.log"
    log.touch()
    env = {"DJANGO_CRON_TEST_SEMANTICS": 1, "DJANGO_CRON_TEST_EFFECTS": log}
    with server("gunicorn-4", alias, tmp_path / "server.log", **env) as port:
        answers, path = [], f"/cron/api/jobs/{SLOW}/run/"
        calls = [
            threading.Thread(target=lambda: answers.append(post(port, path, key))) for _ in range(4)
        ]
        for call in calls:
            call.start()
        for call in calls:
            call.join()
        assert [status for status, _ in answers] == [202] * 4, answers
        # Traffic after the first run ends lets a waiting run start.
        statuses = traffic(port, seconds=6, concurrency=2)
        wait_for(
            lambda: not JobRun.objects.using(alias).filter(status="running").exists(), timeout=30
        )
    assert set(statuses) == {200}
    starts, ends = effects(log, SLOW, "start"), effects(log, SLOW, "end")
    assert overlapping(starts, ends) == 1, (starts, ends)
    # The default overlap policy, buffer_one: one runs, one waits, two are skipped.
    assert len(starts) == 2, starts


# Overlap policies, across processes ----------------------------------------------------

RUN = 1.6  # seconds each run of the overlap job takes; it is due every second
RACERS = 3


def run_overlap(alias, tmp_path, policy, seconds=5.0):
    """
    Start RACERS processes checking every 20 ms for ``seconds``, then stop them
    and let the runs in flight end; return the runs recorded, oldest first,
    and the (starts, ends) the job noted itself.
    """
    processes = [start(["overlap", str(tmp_path), policy, str(RUN)], alias) for _ in range(RACERS)]
    wait_for(lambda: len(list(tmp_path.glob("ready-*"))) == RACERS, timeout=60, message="racers")
    # The time the racers race is what is tried: slots come due while runs last.
    time.sleep(seconds)
    (tmp_path / "stop").touch()
    for process in processes:
        out, err = process.communicate(timeout=60)
        assert process.returncode == 0, err
    runs = list(
        JobRun.objects.using(alias).filter(job__name="overlap.job").order_by("scheduled_for")
    )
    noted = [line.split() for line in (tmp_path / "runs.log").read_text().splitlines()]
    starts = [float(at) for what, at in noted if what == "start"]
    ends = [float(at) for what, at in noted if what == "end"]
    assert len(runs) == len(starts) == len(ends) >= 2, (runs, noted)
    assert {run.status for run in runs} == {"ok"}
    # Exactly once per slot, whatever the policy.
    slots = [run.scheduled_for for run in runs]
    assert len(set(slots)) == len(slots)
    return runs, starts, ends


def lateness(run) -> float:
    return (run.started_at - run.scheduled_for).total_seconds()


def due_during(run, runs) -> list:
    """Return the runs of ``runs`` whose slot came due while ``run`` was in flight."""
    return [other for other in runs if run.started_at < other.scheduled_for <= run.finished_at]


def skipped(alias) -> int:
    return JobState.objects.using(alias).get(name="overlap.job").skipped_overlap


def test_overlap_skip_runs_no_slot_that_came_due_while_a_run_was_in_flight(alias, tmp_path):
    runs, starts, ends = run_overlap(alias, tmp_path, "skip")
    assert overlapping(starts, ends) == 1
    assert all(due_during(run, runs) == [] for run in runs)
    assert skipped(alias) >= len(runs) - 1 >= 1


def test_overlap_buffer_one_runs_one_waiting_slot_after_each_run_and_skips_the_rest(
    alias, tmp_path
):
    runs, starts, ends = run_overlap(alias, tmp_path, "buffer_one")
    assert overlapping(starts, ends) == 1
    # Of the slots that came due during a run, one waited and ran; the others were skipped.
    waited = [len(due_during(run, runs)) for run in runs]
    assert max(waited) == 1, waited
    assert skipped(alias) >= 1


def test_overlap_buffer_all_runs_every_slot_in_order_one_at_a_time(alias, tmp_path):
    runs, starts, ends = run_overlap(alias, tmp_path, "buffer_all")
    assert overlapping(starts, ends) == 1
    # Every slot from the first, one second apart: none skipped, the backlog grows.
    gaps = {(b.scheduled_for - a.scheduled_for).total_seconds() for a, b in pairwise(runs)}
    assert gaps == {1.0} and skipped(alias) == 0
    assert lateness(runs[-1]) > lateness(runs[0])


def test_overlap_allow_runs_up_to_max_running_at_once(alias, tmp_path):
    runs, starts, ends = run_overlap(alias, tmp_path, "allow")
    assert overlapping(starts, ends) == 2
    assert skipped(alias) == 0
