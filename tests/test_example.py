"""The demo site in example/ works as README.rst says."""

import contextlib
import os
import re
import socket
import sqlite3
import subprocess
import sys
import urllib.request

import pytest

from tests.conftest import ROOT, wait_for
from tests.servers import free_port

MANAGE = str(ROOT / "example" / "manage.py")
JOBS = [
    "inbox.cron.CheckMail",
    "inbox.cron.PurgeOld",
    "reports.cron.DailySummary",
    "reports.cron.send_digest",
    "reports.flaky",
    "reports.refresh",
]


def example_env(tmp_path):
    env = {**os.environ, "EXAMPLE_DB": str(tmp_path / "example.sqlite3")}
    # The demo's own settings and its demo key, whatever the test run set.
    env.pop("DJANGO_SETTINGS_MODULE", None)
    env.pop("EXAMPLE_PING_KEY", None)
    return env


def manage(tmp_path, *args):
    return subprocess.run(
        [sys.executable, MANAGE, *args],
        env=example_env(tmp_path),
        capture_output=True,
        text=True,
        timeout=120,
    )


PAGE = """
from django.test import Client
page = Client(HTTP_HOST="localhost").get("/").content.decode()
print("inbox.cron.CheckMail" in page, "reports.refresh" in page, "(forced)" in page)
"""


def test_example_migrates_runs_a_job_and_lists_it(tmp_path):
    assert manage(tmp_path, "check").returncode == 0
    assert manage(tmp_path, "migrate", "-v0").returncode == 0
    run = manage(tmp_path, "cron", "run", "--force", "reports.refresh")
    # The line may go on with the job's return value.
    assert run.returncode == 0 and run.stdout.startswith("reports.refresh: ok in ")
    listing = manage(tmp_path, "cron", "list").stdout
    assert "reports.cron.DailySummary\n    schedule: At 12:00 AM (Europe/Berlin)" in listing
    page = manage(tmp_path, "shell", "-c", PAGE).stdout.splitlines()[-1]
    assert page.split() == ["True", "True", "True"]


def _listens(port):
    with contextlib.suppress(OSError), socket.create_connection(("127.0.0.1", port), timeout=1):
        return True
    return False


@pytest.fixture
def runserver(tmp_path):
    """Start the demo as README says, on a fresh database and a free port; yield the process."""
    assert manage(tmp_path, "migrate", "-v0").returncode == 0
    port = free_port()
    with open(tmp_path / "runserver.log", "w") as log:
        # --noreload: the process that serves is the one started here, whose
        # pid the runs' owners carry.
        process = subprocess.Popen(
            [sys.executable, MANAGE, "runserver", "--noreload", f"127.0.0.1:{port}"],
            env=example_env(tmp_path),
            stdout=log,
            stderr=subprocess.STDOUT,
        )
        try:
            # Listening is enough: the first request is the test's own.
            wait_for(lambda: _listens(port), timeout=60, interval=0.1, message="runserver")
            process.port = port
            yield process
        finally:
            process.kill()
            process.wait()


def recorded_runs(tmp_path):
    """Return each run in the demo's database as a dict, read with sqlite3 as it happens."""
    with contextlib.closing(sqlite3.connect(tmp_path / "example.sqlite3", timeout=20)) as db:
        db.row_factory = sqlite3.Row
        rows = db.execute(
            "SELECT state.name, run.status, run.owner, run.forced, run.output, run.message"
            " FROM django_cron_jobrun run JOIN django_cron_jobstate state ON state.id = run.job_id"
        )
        return [dict(row) for row in rows]


def test_browsing_the_example_runs_jobs_and_shows_them(runserver, tmp_path):
    url = f"http://127.0.0.1:{runserver.port}/"

    def browse():
        with urllib.request.urlopen(url, timeout=10) as response:
            assert response.status == 200
            return response.read().decode()

    def run_from_traffic():
        browse()
        # Only runserver runs jobs here, and a run's owner says which process ran it.
        return [
            run
            for run in recorded_runs(tmp_path)
            if run["name"] == "reports.refresh"
            and run["status"] == "ok"
            and run["owner"].split(":")[1] == str(runserver.pid)
            and not run["forced"]
        ]

    # A browser's pace: about a request a second, from the first one on.
    run = wait_for(run_from_traffic, timeout=30, interval=1, message="a run from browsing")[0]
    assert run["output"] == (
        "refreshed the sales report\nrefreshed the signups report\nrefreshed the churn report\n"
    )
    assert run["message"] == "3 reports refreshed"

    def page_with_error():
        page = browse()
        return page if "RuntimeError: demo failure" in page else None

    # The failing job falls due 20 s after the first request, and fails at once.
    page = wait_for(page_with_error, timeout=30, interval=1, message="the failing job's error")
    assert "refreshed the sales report" in page and "3 reports refreshed" in page
    assert "this server, after a request" in page
    assert re.search(r"\d+ s ago", page)
    next_runs = re.findall(r'<td class="next-run[^"]*">(.*?)</td>', page, re.S)
    assert len(next_runs) == len(JOBS) and all(name in page for name in JOBS)
    assert all(re.search(r"\d{4}-\d\d-\d\d \d\d:\d\d:\d\d", cell) for cell in next_runs)
    assert f"curl -X POST {url}cron/ping/demo-ping-key-of-the-example-site/" in page
    assert 'href="/admin/"' in page and "example/manage.py createsuperuser" in page


def test_the_example_page_left_open_runs_jobs_and_shows_them(runserver, browser):
    browser.get(f"http://127.0.0.1:{runserver.port}/")
    assert "No runs yet" in browser.page_source
    # A reload would lose this: the page must update itself in place.
    browser.execute_script("window.loadedOnce = true")

    def live_text():
        return browser.execute_script("return document.getElementById('live').innerText")

    # The page's own fetches are the only traffic: they run the jobs and show them.
    wait_for(lambda: "3 reports refreshed" in live_text(), interval=0.5, message="a run shown")
    assert "this server, after a request" in live_text()
    assert browser.execute_script("return window.loadedOnce") is True
