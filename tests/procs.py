"""
Entry points for the subprocesses the tests start: ``python -m tests.procs MODE ...``.

Each registers its own jobs, which report what they do through
tests.effects (a file named by DJANGO_CRON_TEST_EFFECTS).
"""

import os
import signal
import sys
import time
from pathlib import Path

import django

django.setup()

from django_cron import register  # noqa: E402
from django_cron.runner import run_due  # noqa: E402
from django_cron.worker import Worker  # noqa: E402
from tests.effects import record  # noqa: E402

RACE_JOBS = [f"race.job{i}" for i in range(10)]
# A subprocess whose test died gives up on its own after this many seconds.
GIVE_UP = 180


def _job(name, body):
    register(body, name=name, every=3600)


def race(folder, rounds, threads="1"):
    """Run the race jobs in ``rounds`` passes, each started by a go file, in ``threads``."""
    folder = Path(folder)
    for name in RACE_JOBS:
        _job(name, lambda name=name: record(name))
    for number in range(int(rounds)):
        (folder / f"ready-{number}-{os.getpid()}").touch()
        go = folder / f"go-{number}"
        deadline = time.monotonic() + GIVE_UP
        while not go.exists():
            if time.monotonic() > deadline:
                sys.exit("no go file: the test has gone")
            time.sleep(0.0005)
        run_due(RACE_JOBS, threads=int(threads))
        (folder / f"done-{number}-{os.getpid()}").touch()


def hang(started, max_running="1"):
    """Claim a job with a one-second lease and hang inside it until killed."""

    def body():
        Path(started).touch()
        time.sleep(120)

    register(body, name="hang.job", every=3600, lease=1, max_running=int(max_running))
    run_due(["hang.job"], force=True)


def worker(started):
    """Run a worker whose one job takes a second; the test sends SIGTERM meanwhile."""

    def body():
        Path(started).touch()
        time.sleep(1.0)
        record("worker.job")

    register(body, name="worker.job", every=3600)
    w = Worker(["worker.job"])
    w.install_signal_handlers()
    w.run_forever()


def interrupted():
    """
    Run an idle worker that gets SIGTERM over and over, at each function call of
    the main thread after its first pass: as a real signal may find it anywhere,
    holding a lock or handling the previous signal.
    """
    register(lambda: None, name="idle.job", every=3600)
    calls = 0

    def signal_now(frame, event, arg):
        nonlocal calls
        if event == "call" and calls < 1000:
            calls += 1
            # What the interpreter does when a signal arrives: run the handler there and then.
            signal.getsignal(signal.SIGTERM)(signal.SIGTERM, frame)

    w = Worker(["idle.job"], on_pass=lambda result, wait: sys.setprofile(signal_now))
    w.install_signal_handlers()
    w.run_forever()
    sys.setprofile(None)


def loop(folder, every):
    """Run the due check every 20 ms, as a busy server would, until a stop file appears."""
    folder = Path(folder)
    register(lambda: record("loop.job"), name="loop.job", every=float(every))
    run_due(["loop.job"])
    (folder / f"ready-{os.getpid()}").touch()
    deadline = time.monotonic() + GIVE_UP
    while not (folder / "stop").exists() and time.monotonic() < deadline:
        run_due(["loop.job"])
        time.sleep(0.02)


def overlap(folder, policy, seconds):
    """
    Run the due check every 20 ms, as a busy server would, until a stop file
    appears, for a job due every second that runs ``seconds`` with the overlap
    ``policy`` ("allow" with max_running=2). The job notes when each run starts
    and ends, in its own file beside the database.
    """
    folder = Path(folder)
    log = folder / "runs.log"

    def body():
        with open(log, "a") as out:
            out.write(f"start {time.time():.6f}\n")
        time.sleep(float(seconds))
        with open(log, "a") as out:
            out.write(f"end {time.time():.6f}\n")

    allowed = {"max_running": 2} if policy == "allow" else {}
    register(body, name="overlap.job", every=1, overlap=policy, **allowed)
    run_due(["overlap.job"])
    (folder / f"ready-{os.getpid()}").touch()
    deadline = time.monotonic() + GIVE_UP
    while not (folder / "stop").exists() and time.monotonic() < deadline:
        run_due(["overlap.job"])
        time.sleep(0.02)


def cron_worker():
    """Run ``manage.py cron worker`` with a job that records the "to" it is given."""
    from django.core.management import call_command

    register(lambda to="", **kwargs: record(f"db.job:{to}"), name="db.job", every=3600)
    call_command("cron", "worker")


def command(*args):
    """Run ``manage.py ARGS``: the site's own jobs, as the settings of the test give them."""
    from django.core.management import call_command

    call_command(*args)


def names():
    """Print the names of the registered jobs, one per line."""
    from django_cron.registry import cronScheduler

    for definition in cronScheduler.all():
        print(definition.name)


if __name__ == "__main__":
    mode, *args = sys.argv[1:]
    {
        "race": race,
        "hang": hang,
        "worker": worker,
        "loop": loop,
        "names": names,
        "interrupted": interrupted,
        "cron_worker": cron_worker,
        "command": command,
        "overlap": overlap,
    }[mode](*args)
