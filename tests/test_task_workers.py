"""
The hand-off to task workers on real engines, as a site that outgrew one
machine runs it: two gunicorn servers under traffic claim the slots of
tests/taskapp and queue them; two workers of the engine run them. Then one
worker is SIGKILLed in the middle of a job.

* ``db``: django-tasks-db and its ``db_worker``, on PostgreSQL;
* ``rq``: django-tasks-rq and django-rq's ``rqworker``, on Redis;
* ``celery``: django-tasks-celery and a ``celery worker``, with Redis as the
  broker. It needs Python 3.12 and Django 6.0 or later: ``nox -s task_workers``
  runs it (CI does), and the main run skips it where those are missing.
"""

import contextlib
import importlib.util
import os
import signal
import subprocess
import sys
import threading
from collections import Counter
from datetime import timedelta

import pytest
from django.conf import settings as django_settings
from django.utils import timezone

from django_cron.models import JobRun
from tests.conftest import ROOT, subprocess_env, wait_for
from tests.servers import server, traffic

ALIAS = "postgresql"

ENGINES = {
    # engine: (packages it needs, the worker's command, what the worker logs once ready)
    "db": (
        ["django_tasks_db"],
        ["-m", "django", "db_worker", "--interval", "0.1", "--no-startup-delay", "--no-reload"],
        "Starting worker",
    ),
    "rq": (
        ["django_tasks_rq", "django_rq"],
        ["-m", "django", "rqworker", "default", "--job-class", "django_tasks_rq.Job"],
        "Listening on",
    ),
    "celery": (
        ["django_tasks_celery", "celery"],
        [
            "-m",
            "celery",
            "--app",
            "tests.celery_app",
            "worker",
            "--pool",
            "solo",
            "--loglevel",
            "INFO",
            "--without-gossip",
            "--without-mingle",
            "--without-heartbeat",
        ],
        "ready.",
    ),
}


def _engine_param(engine):
    packages = ENGINES[engine][0]
    missing = [name for name in packages if importlib.util.find_spec(name) is None]
    services = ["postgresql"] + ([] if engine == "db" else ["redis"])
    down = [
        django_settings.MISSING_SERVICES[s]
        for s in services
        if s in django_settings.MISSING_SERVICES
    ]
    reason = None
    if missing:
        reason = f"{', '.join(missing)} not installed"
        if engine == "celery":
            reason += " (needs Python 3.12 and Django 6.0: nox -s task_workers runs it)"
    elif down:
        reason = "; ".join(down)
    marks = [pytest.mark.skip(reason=reason)] if reason else []
    return pytest.param(engine, marks=marks, id=engine)


pytestmark = [
    pytest.mark.races,
    pytest.mark.django_db(transaction=True, databases=["default", ALIAS]),
]


@contextlib.contextmanager
def task_worker(engine, name, tmp_path, env):
    """Run a worker of ``engine`` in a process group of its own; yield the process."""
    log_path = tmp_path / f"{name}.log"
    with open(log_path, "w") as log:
        process = subprocess.Popen(
            [sys.executable, *ENGINES[engine][1]],
            cwd=ROOT,
            env=subprocess_env(ALIAS, DJANGO_CRON_TEST_WORKER=name, **env),
            stdout=log,
            stderr=subprocess.STDOUT,
            start_new_session=True,
        )
        process.log_path = log_path
        try:
            yield process
        finally:
            with contextlib.suppress(ProcessLookupError):
                os.killpg(process.pid, signal.SIGTERM)
            try:
                process.wait(timeout=20)
            except subprocess.TimeoutExpired:
                os.killpg(process.pid, signal.SIGKILL)
                process.wait()


@contextlib.contextmanager
def background_traffic(ports):
    """Keep requests coming, as a site's visitors do, until the block ends."""
    stop = threading.Event()

    def visit():
        while not stop.is_set():
            traffic(ports, seconds=0.5, concurrency=2)

    thread = threading.Thread(target=visit, daemon=True)
    thread.start()
    try:
        yield
    finally:
        stop.set()
        thread.join()


def runs(name):
    return JobRun.objects.using(ALIAS).filter(job__name=name).order_by("started_at")


def ran(effects, name):
    """How many times the job's body started, in any process."""
    return sum(1 for line in effects.read_text().splitlines() if line.startswith(name + " "))


def logs(tmp_path):
    return "\n".join(
        f"--- {path.name}\n{path.read_text()[-3000:]}" for path in sorted(tmp_path.glob("*.log"))
    )


@pytest.mark.parametrize("engine", [_engine_param(e) for e in ENGINES])
def test_queued_slots_run_once_in_the_workers_and_a_killed_workers_run_is_lost(
    engine, tmp_path, settings
):
    settings.DJANGO_CRON = {**settings.DJANGO_CRON, "DATABASE": ALIAS}
    if engine != "db":
        import redis

        redis.Redis.from_url(django_settings.TASKS_REDIS_URL).flushdb()
    if engine == "db":
        # The queue's tables, which the suite's own settings leave out.
        migrate = [sys.executable, "-m", "django", "migrate", "django_tasks_database"]
        env = subprocess_env(ALIAS, DJANGO_CRON_TEST_TASKS="db")
        subprocess.run(migrate, cwd=ROOT, env=env, check=True, capture_output=True)
    effects, armed = tmp_path / "effects.txt", tmp_path / "hang"
    effects.touch()
    env = {
        "DJANGO_CRON_TEST_TASKS": engine,
        "DJANGO_CRON_TEST_SERVER": 0,
        "DJANGO_CRON_TEST_EFFECTS": effects,
        "DJANGO_CRON_TEST_HANG": armed,
    }
    with contextlib.ExitStack() as stack:
        workers = [
            stack.enter_context(task_worker(engine, f"worker{i}", tmp_path, env)) for i in (1, 2)
        ]
        ready = ENGINES[engine][2]
        for process in workers:
            wait_for(
                lambda p=process: ready in p.log_path.read_text(),
                timeout=60,
                message=f"{engine} worker to start\n{logs(tmp_path)}",
            )
        ports = [
            stack.enter_context(server("gunicorn-2", ALIAS, tmp_path / f"web{i}.log", **env))
            for i in (1, 2)
        ]
        names = {"worker1", "worker2"}

        # Under traffic, each slot is queued once and runs once, in a worker.
        statuses = traffic(ports, seconds=8, concurrency=4)
        in_flight = [JobRun.Status.QUEUED, JobRun.Status.RUNNING]
        wait_for(
            lambda: not runs("task.tick").filter(status__in=in_flight).exists(),
            message=f"the queue to drain\n{logs(tmp_path)}",
        )
        assert Counter(statuses) == {200: len(statuses)}, logs(tmp_path)
        ticks = list(runs("task.tick"))
        assert len(ticks) >= 3, logs(tmp_path)
        assert len({run.scheduled_for for run in ticks}) == len(ticks)
        assert {run.status for run in ticks} == {"ok"}, logs(tmp_path)
        assert ran(effects, "task.tick") == len(ticks)
        # Each ran in a worker, none in a web process.
        assert {run.message for run in ticks} <= names
        assert all(run.queue_wait is not None and run.queued_at <= run.started_at for run in ticks)

        # A worker killed in the middle of a job: its run is lost once its
        # lease (3 s) expires, and the next slot runs on the other worker.
        armed.touch()
        taken = tmp_path / "hang.taken"
        stack.enter_context(background_traffic(ports))
        victim, pid = wait_for(
            lambda: taken.exists() and taken.read_text(), message="a hang"
        ).split()
        hung = wait_for(lambda: runs("task.hang").filter(status="running").first())
        (survivor,) = names - {victim}
        # While the job runs, the worker's heartbeat keeps its lease alive past
        # the 3 s it was given, with passes sweeping all the while.
        wait_for(lambda: timezone.now() > hung.started_at + timedelta(seconds=4.5), timeout=10)
        hung.refresh_from_db()
        assert hung.status == "running", logs(tmp_path)
        # The worker and the process that runs the job, as when their machine dies.
        os.killpg(workers[int(victim[-1]) - 1].pid, signal.SIGKILL)
        with contextlib.suppress(ProcessLookupError):
            os.kill(int(pid), signal.SIGKILL)

        def recovered():
            hung.refresh_from_db()
            later = runs("task.hang").filter(started_at__gt=hung.started_at, status="ok")
            return hung.status == "lost" and later.exists()

        wait_for(recovered, timeout=60, message=f"the run to be lost\n{logs(tmp_path)}")
        assert "lease expired" in hung.error
        later = runs("task.hang").filter(started_at__gt=hung.started_at).exclude(status="queued")
        assert {run.message for run in later.filter(status="ok")} == {survivor}
        hangs = runs("task.hang").exclude(status__in=["queued", "failed"])
        # Every run that started ran its body once: a redelivered task ran nothing.
        assert ran(effects, "task.hang") == hangs.exclude(queue_wait=None).count()
