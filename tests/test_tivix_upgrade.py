"""
The guide "From Tivix django-cron" of docs/migrating.rst, followed on a site
whose database Tivix django-cron 0.6.0 itself migrated and ran jobs on.

The test installs Tivix 0.6.0 and Django 4.2 from the package registry into a
virtualenv of its own, which migrates the site's database and runs its cron
classes; then the site follows the guide's steps with this project.
"""

import json
import os
import subprocess
import venv
from datetime import timedelta

import pytest
from django.conf import settings
from django.utils.dateparse import parse_datetime

from tests.conftest import ROOT
from tests.guides import Site, guide, server_database, settings_follow, site_database

SITE_SETTINGS = """
USE_TZ = {use_tz}
TIME_ZONE = "Europe/Berlin"
INSTALLED_APPS = ["django.contrib.contenttypes", "django.contrib.auth", "django_cron", "reports"]
CRON_CLASSES = ["reports.cron.DailyReport", "reports.cron.Broken"]
"""

REPORTS_CRON = """
from django_cron import CronJobBase, Schedule


class DailyReport(CronJobBase):
    RUN_EVERY_MINS = 60
    schedule = Schedule(run_every_mins=RUN_EVERY_MINS)
    code = "reports.daily"

    def do(self):
        return "3 reports sent"


class Broken(CronJobBase):
    schedule = Schedule(run_every_mins=0)
    code = "reports.broken"

    def do(self):
        raise RuntimeError("the mail server is down")
"""

# What the test reads back through the site's Django, as JSON on the last line.
READ_BACK = """
import json
from django_cron.models import CronJobLog, JobRun, JobState
report = JobState.objects.get(name="reports.daily")
last_ok = CronJobLog.objects.filter(code="reports.daily", is_success=True).latest("start_time")
print(json.dumps({
    "logs": list(CronJobLog.objects.order_by("id").values_list("code", "is_success")),
    "runs": sorted(JobRun.objects.values_list("job__name", "status")),
    "report": [str(report.next_run_at), str(last_ok.start_time), report.last_status],
}))
"""


@pytest.fixture(scope="module")
def tivix_python(tmp_path_factory):
    """A virtualenv's Python with Tivix django-cron 0.6.0 and Django 4.2, from the registry."""
    folder = tmp_path_factory.mktemp("tivix-venv")
    venv.create(folder, with_pip=True)
    python = str(folder / "bin" / "python")
    subprocess.run(
        [python, "-m", "pip", "install", "-q", "--disable-pip-version-check"]
        + ["django-cron==0.6.0", "Django>=4.2,<4.3", "psycopg[binary]>=3.1", "PyMySQL>=1.1"],
        check=True,
        timeout=600,
    )
    return python


def _server(alias):
    # No django_db mark: the site has a database of its own.
    missing = settings.MISSING_SERVICES.get(alias)
    return pytest.param(alias, marks=[pytest.mark.skip(reason=missing)] if missing else [])


@pytest.fixture
def site(request, tmp_path, django_db_blocker):
    alias = request.param
    name = f"guide_tivix{settings.SUFFIX}"
    with server_database(alias, name, django_db_blocker):
        yield Site(tmp_path / "site", site_database(alias, name), pythonpath=[ROOT])


def under_tivix(python, site, *args):
    """Run manage.py with Tivix's package, which this project must not shadow."""
    env = {k: v for k, v in os.environ.items() if not k.startswith("DJANGO_")}
    env.pop("PYTHONPATH", None)
    done = subprocess.run(
        [python, "manage.py", *args], cwd=site.root, env=env, capture_output=True, text=True
    )
    assert done.returncode == 0, done.stdout + done.stderr
    return done.stdout


@pytest.mark.parametrize("use_tz", [True, False], ids=["USE_TZ", "no USE_TZ"])
@pytest.mark.parametrize(
    "site", [_server(alias) for alias in ("default", "postgresql", "mysql")], indirect=True
)
def test_the_tivix_guide_on_a_database_that_tivix_060_made(tivix_python, site, use_tz):
    steps = guide("From Tivix django-cron").steps
    # Many Tivix sites still run with USE_TZ = False, Django's default before 5.0.
    written = site.settings(SITE_SETTINGS.format(use_tz=use_tz))
    site.app("reports", cron=REPORTS_CRON)

    # The site as Tivix ran it: migrated, and runcrons run twice.
    under_tivix(tivix_python, site, "migrate")
    assert "[✔] reports.daily" in under_tivix(tivix_python, site, "runcrons")
    second = under_tivix(tivix_python, site, "runcrons")
    assert "[ ] reports.daily" in second and "[✘] reports.broken" in second
    logged = [["reports.daily", True], ["reports.broken", False], ["reports.broken", False]]

    # Step 1: the package swap. The site runs on the test's own environment from
    # here on, which has this project in place of Tivix's.
    assert steps[0].commands() == [
        "pip uninstall -y django-cron",
        "pip install django-cron-revival",
    ]
    # Step 2: the settings stay as they are.
    settings_follow(steps[1], written)
    # Step 3: migrate alone.
    (migrate,) = steps[2].commands()
    out = site.run(migrate).stdout
    assert "Applying django_cron.0002_run_leases_and_pending_alerts... OK" in out
    assert "Applying django_cron.0006_tivix_run_log... OK" in out
    assert "No migrations to apply." in site.run(migrate).stdout

    def read_back():
        return json.loads(site.manage("shell", "-c", READ_BACK).stdout.splitlines()[-1])

    before = read_back()
    assert before["logs"] == logged
    # Tivix's log is run history too, and the job's latest run its state.
    assert before["runs"] == sorted([code, "ok" if ok else "failed"] for code, ok in logged)
    assert before["report"][2] == "ok"

    # Step 4: check passes, with no Tivix setting to warn about.
    (check,) = steps[3].commands()
    assert "System check identified no issues" in site.run(check).stdout
    # Step 5: runcrons goes on where Tivix left off: the report waits out its
    # hour from Tivix's last success; the failing job runs again at once.
    (runcrons,) = steps[4].commands()
    out = site.run(runcrons).stdout
    assert out.startswith("Running Crons\n" + "=" * 40 + "\n")
    assert "[ ] reports.daily" in out and "[✘] reports.broken" in out
    after = read_back()
    assert after["logs"] == [*logged, ["reports.broken", False]]
    assert len(after["runs"]) == 4
    next_run, last_ok, _ = after["report"]
    assert parse_datetime(next_run) == parse_datetime(last_ok) + timedelta(minutes=60)
    # Step 6: the history shows.
    (listing,) = steps[5].commands()
    listed = site.run(listing).stdout
    assert "reports.daily" in listed and "reports.broken" in listed
