"""The demo site in example/ works as README.rst says."""

import os
import subprocess
import sys

from tests.conftest import ROOT

MANAGE = str(ROOT / "example" / "manage.py")


def manage(tmp_path, *args):
    env = {**os.environ, "EXAMPLE_DB": str(tmp_path / "example.sqlite3")}
    env.pop("DJANGO_SETTINGS_MODULE", None)
    return subprocess.run(
        [sys.executable, MANAGE, *args], env=env, capture_output=True, text=True, timeout=120
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
    assert run.returncode == 0 and run.stdout.startswith("reports.refresh: ok in ")
    listing = manage(tmp_path, "cron", "list").stdout
    assert "reports.cron.DailySummary\n    schedule: At 12:00 AM (Europe/Berlin)" in listing
    page = manage(tmp_path, "shell", "-c", PAGE).stdout.splitlines()[-1]
    assert page.split() == ["True", "True", "True"]
