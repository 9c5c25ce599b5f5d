"""
A database that Tivix django-cron 0.6.0 built and ran jobs on, upgraded with
``manage.py migrate`` alone.

The test installs Tivix 0.6.0 and Django 4.2 from the package registry into a
virtualenv of its own, lets them migrate a site's database and run its cron
classes, then runs this project on the same site and database.
"""

import json
import os
import subprocess
import sys
import textwrap
import venv
from datetime import timedelta

import pytest
from django.conf import settings as django_settings
from django.utils.dateparse import parse_datetime

from tests.conftest import ROOT

SITE_SETTINGS = """
import json, os

SECRET_KEY = "upgrade"
USE_TZ = True
TIME_ZONE = "Europe/Berlin"
INSTALLED_APPS = ["django.contrib.contenttypes", "django.contrib.auth", "django_cron"]
DATABASES = {"default": json.loads(os.environ["SITE_DATABASE"])}
if DATABASES["default"]["ENGINE"].endswith("mysql"):
    try:
        import MySQLdb  # noqa: F401
    except ImportError:
        import pymysql

        pymysql.version_info = (2, 2, 1, "final", 0)
        pymysql.install_as_MySQLdb()
CRON_CLASSES = ["site_crons.Report", "site_crons.Broken"]
"""

SITE_CRONS = """
from django_cron import CronJobBase, Schedule


class Report(CronJobBase):
    RUN_EVERY_MINS = 60
    schedule = Schedule(run_every_mins=RUN_EVERY_MINS)
    code = "site.report"

    def do(self):
        return "3 reports sent"


class Broken(CronJobBase):
    schedule = Schedule(run_every_mins=0)
    code = "site.broken"

    def do(self):
        raise RuntimeError("the mail server is down")
"""

# What the test reads back through Django, as JSON.
READ_BACK = """
import json
from django_cron.models import CronJobLog, JobRun, JobState
print(json.dumps({
    "logs": list(CronJobLog.objects.order_by("id").values_list("code", "is_success")),
    "runs": list(JobRun.objects.order_by("started_at", "id").values_list("job__name", "status")),
    "report": {
        "next": str(JobState.objects.get(name="site.report").next_run_at),
        "last_ok": str(CronJobLog.objects.filter(code="site.report", is_success=True)
                        .latest("start_time").start_time),
        "status": JobState.objects.get(name="site.report").last_status,
    },
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


@pytest.fixture(params=["default", "postgresql", "mysql"])
def site_database(request, tmp_path):
    """An empty database for the site, as Django's DATABASES entry."""
    alias = request.param
    missing = django_settings.MISSING_SERVICES.get(alias)
    if missing:
        pytest.skip(missing)
    name = f"tivix_upgrade{os.environ.get('DJANGO_CRON_TEST_DB_SUFFIX', '')}"
    if alias == "default":
        yield {"ENGINE": "django.db.backends.sqlite3", "NAME": str(tmp_path / "site.sqlite3")}
        return
    server = django_settings.DATABASES[alias]
    entry = {key: server[key] for key in ("ENGINE", "HOST", "PORT", "USER", "PASSWORD")}
    entry["NAME"] = name
    recreate = [f"DROP DATABASE IF EXISTS {name}", f"CREATE DATABASE {name}"]
    _server_sql(alias, server, recreate)
    yield entry
    _server_sql(alias, server, recreate[:1])


def _server_sql(alias, server, statements):
    if alias == "postgresql":
        import psycopg

        with psycopg.connect(
            host=server["HOST"], user=server["USER"], dbname="postgres", autocommit=True
        ) as connection:
            for statement in statements:
                connection.execute(statement)
        return
    import pymysql

    connection = pymysql.connect(
        host=server["HOST"], user=server["USER"], password=server["PASSWORD"] or ""
    )
    with connection, connection.cursor() as cursor:
        for statement in statements:
            cursor.execute(statement)


def test_a_tivix_database_upgrades_with_migrate_alone_and_keeps_its_history(
    tivix_python, site_database, tmp_path
):
    (tmp_path / "site_settings.py").write_text(SITE_SETTINGS)
    (tmp_path / "site_crons.py").write_text(SITE_CRONS)
    env = dict(os.environ, SITE_DATABASE=json.dumps(site_database), PYTHONPATH=str(tmp_path))
    env.pop("DJANGO_SETTINGS_MODULE", None)

    def manage(python, *args, extra_path=()):
        path = os.pathsep.join([str(tmp_path), *extra_path])
        done = subprocess.run(
            [python, "-m", "django", *args, "--settings=site_settings"],
            cwd=tmp_path,
            env={**env, "PYTHONPATH": path},
            capture_output=True,
            text=True,
            timeout=120,
        )
        assert done.returncode == 0, done.stdout + done.stderr
        return done.stdout

    def ours(*args):
        return manage(sys.executable, *args, extra_path=[str(ROOT)])

    # The site under Tivix: migrated, and runcrons run twice.
    manage(tivix_python, "migrate")
    assert "[✔] site.report" in manage(tivix_python, "runcrons")
    tivix_second = manage(tivix_python, "runcrons")
    assert "[ ] site.report" in tivix_second and "[✘] site.broken" in tivix_second

    # The swap: this project on the same site and database, then migrate alone.
    migrated = ours("migrate")
    assert "Applying django_cron.0002_run_leases_and_pending_alerts... OK" in migrated
    assert "Applying django_cron.0006_tivix_run_log... OK" in migrated
    assert "No migrations to apply." in ours("migrate")

    def read_back():
        # The last line: Django 5.2's shell first says what it imported.
        return json.loads(ours("shell", "-c", textwrap.dedent(READ_BACK)).splitlines()[-1])

    before = read_back()
    logged = [["site.report", True], ["site.broken", False], ["site.broken", False]]
    assert before["logs"] == logged
    # Tivix's log is now run history too.
    assert sorted(before["runs"]) == sorted(
        [[code, "ok" if ok else "failed"] for code, ok in logged]
    )
    assert before["report"]["status"] == "ok"

    # The jobs go on where Tivix left them: the report waits out its hour
    # from Tivix's last success, the failing job runs again at once.
    out = ours("runcrons")
    assert "[ ] site.report" in out and "[✘] site.broken" in out
    after = read_back()
    assert after["logs"] == [*logged, ["site.broken", False]]
    assert len(after["runs"]) == 4
    next_run = parse_datetime(after["report"]["next"])
    assert next_run == parse_datetime(after["report"]["last_ok"]) + timedelta(minutes=60)
    assert "site.report" in ours("cron", "list")
