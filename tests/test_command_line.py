"""
``cron`` as a shell runs it: Django's common options after the action, the
exit status of a failed run, and a line per run from ``cron run`` and
``cron worker``.
"""

import os
import signal
import subprocess
import sys
import threading

import pytest

from tests.conftest import ROOT, STARTED, subprocess_env, wait_for

pytestmark = pytest.mark.django_db(transaction=True)


def environment(tmp_path, **extra):
    """The test database and tests/serverapp's jobs, but no settings module and no path."""
    env = subprocess_env("default", DJANGO_CRON_TEST_SERVER="1", **extra)
    # --settings and --pythonpath after the action must do what these would.
    del env["DJANGO_SETTINGS_MODULE"], env["PYTHONPATH"]
    env["DJANGO_CRON_TEST_EFFECTS"] = str(tmp_path / "effects.log")
    return env


def cron(tmp_path, *args):
    return subprocess.run(
        [
            sys.executable,
            "-m",
            "django",
            "cron",
            *args,
            "--settings=tests.settings",
            f"--pythonpath={ROOT}",
        ],
        cwd=tmp_path,
        env=environment(tmp_path),
        capture_output=True,
        text=True,
        timeout=60,
    )


def test_djangos_common_options_work_after_the_action(tmp_path):
    done = cron(tmp_path, "status", "-v", "2", "--traceback", "--no-color")
    assert done.returncode == 0, done.stderr
    lines = done.stdout.splitlines()
    assert lines[0].endswith("jobs, all healthy.")
    assert "server.tick: new" in lines


def test_a_failed_run_exits_1_saying_which(tmp_path):
    done = cron(tmp_path, "run", "--force", "server.fail", "server.tick")
    assert done.returncode == 1
    lines = done.stdout.splitlines()
    assert len(lines) == 2
    assert any(
        line.startswith("server.fail: failed in ")
        and line.endswith(": RuntimeError: failing on purpose")
        for line in lines
    )
    assert any(line.startswith("server.tick: ok in ") for line in lines)
    # Before it, the log has the traceback (tests/settings.py logs warnings to stderr).
    assert done.stderr.endswith(
        "\nCommandError: 1 of 2 runs did not succeed: server.fail (failed)\n"
    )


class Worker:
    """A ``cron worker`` process whose output lines are collected as they come."""

    def __init__(self, tmp_path, *args):
        self.process = subprocess.Popen(
            [
                sys.executable,
                "-m",
                "django",
                "cron",
                "worker",
                "server.tick",
                "server.fail",
                *args,
                "--settings=tests.settings",
                f"--pythonpath={ROOT}",
            ],
            cwd=tmp_path,
            env=environment(tmp_path),
            stdout=subprocess.PIPE,
            stderr=subprocess.PIPE,
            text=True,
        )
        STARTED.append(self.process)
        self.lines = []
        self.effects = tmp_path / "effects.log"
        threading.Thread(target=self._read, daemon=True).start()

    def _read(self):
        for line in self.process.stdout:
            self.lines.append(line.rstrip("\n"))

    def has(self, start, end=""):
        return any(start in line and line.endswith(end) for line in self.lines)

    def stop(self):
        self.process.send_signal(signal.SIGTERM)
        assert self.process.wait(timeout=30) == 0, self.process.stderr.read()


def test_a_worker_prints_a_line_per_run_as_it_happens(tmp_path):
    worker = Worker(tmp_path)
    wait_for(lambda: worker.has("] server.tick: ok in "), message="a line for server.tick")
    wait_for(
        lambda: worker.has("] server.fail: failed in ", ": RuntimeError: failing on purpose"),
        message="a line for server.fail",
    )
    worker.stop()
    assert worker.lines[0].startswith("cron worker: ")
    assert not any(line.startswith("Checked ") for line in worker.lines)


def test_a_worker_says_what_it_checked_with_v2_and_nothing_with_v0(tmp_path):
    chatty = Worker(tmp_path, "-v", "2")
    wait_for(lambda: chatty.has("Checked 2 jobs, ran "), message="what a pass checked")
    wait_for(lambda: chatty.has("Sleeping "), message="how long it sleeps")
    chatty.stop()
    quiet = Worker(tmp_path, "-v", "0")
    ran = lambda: os.path.exists(quiet.effects) and quiet.effects.read_text().count("server.tick")  # noqa: E731
    before = ran()
    wait_for(lambda: ran() > before, message="server.tick to run again")
    quiet.stop()
    assert quiet.lines == []
