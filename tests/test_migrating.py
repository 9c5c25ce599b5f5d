"""
Each guide of docs/migrating.rst, followed step by step on a site made for the
test in its own folder, with the real manage.py in subprocesses and a real
database. The commands run are those the guide's steps show, read from it.
"""

import shutil
import signal
import subprocess
import sys
from pathlib import Path

import pytest
from django.conf import settings

import django_cron
from tests import syncdb2009
from tests.conftest import ROOT, STARTED, wait_for
from tests.guides import (
    Site,
    guide,
    server_database,
    settings_follow,
    site_database,
)


def _server(alias):
    # No django_db mark, unlike conftest's: the sites make databases of their own.
    missing = settings.MISSING_SERVICES.get(alias)
    marks = [pytest.mark.skip(reason=missing)] if missing else []
    return pytest.param(alias, marks=marks, id=alias)


on_each_server = pytest.mark.parametrize(
    "alias", [_server(alias) for alias in ("default", "postgresql", "mysql")]
)


@pytest.fixture
def alias():
    """SQLite, unless the test is parametrized with a database server."""
    return "default"


@pytest.fixture
def site(alias, request, tmp_path, django_db_blocker):
    """A site in tmp_path, its database on the server of the suite's ``alias``."""
    name = f"guide_{request.node.originalname.removeprefix('test_')[:30]}{settings.SUFFIX}"
    with server_database(alias, name, django_db_blocker):
        yield Site(tmp_path / "site", site_database(alias, name))


EFFECTS = """\
from pathlib import Path


def record(name, *args, **kwargs):
    with open(Path(__file__).resolve().parent.parent / "effects.log", "a") as log:
        log.write(f"{name} {args} {kwargs}\\n")
"""


def effects(site):
    path = site.root / "effects.log"
    return path.read_text().splitlines() if path.exists() else []


# From the 2009 django-cron --------------------------------------------------------

SITE_2009 = """
INSTALLED_APPS = ["django.contrib.contenttypes", "django_cron", "mailbox"]
ROOT_URLCONF = "urls"
CRON_POLLING_FREQUENCY = 30
"""
URLS_2009 = """\
import django_cron

django_cron.autodiscover()

urlpatterns = []
"""


@on_each_server
def test_the_2009_guide_on_a_site_with_the_2009_tables(site, django_db_blocker):
    steps = guide("From the 2009 django-cron")
    # The site as 2009 left it: the app checked out into the project, the
    # mailbox app's cron.py (tests/legacy2009, recording to a file), the
    # tables and content types syncdb made. Its Python 2 code cannot run
    # today, so the checkout is an empty stand-in and the test makes the tables.
    site.settings('INSTALLED_APPS = ["django.contrib.contenttypes"]\n')
    site.manage("migrate", "-v0")
    site.write("django_cron/__init__.py", "# django-cron, checked out in 2009\n")
    legacy = (ROOT / "tests" / "legacy2009" / "cron.py").read_text()
    assert "from tests.effects import record" in legacy
    site.app(
        "mailbox",
        cron=legacy.replace("from tests.effects import", "from mailbox.effects import"),
        effects=EFFECTS,
    )
    site.write("urls.py", URLS_2009)
    site.settings(SITE_2009)
    with site.connection(django_db_blocker) as connection:
        syncdb2009.create(connection)
        with connection.cursor() as cursor:
            cursor.execute(
                "INSERT INTO django_content_type (app_label, model)"
                " VALUES ('django_cron', 'job'), ('django_cron', 'cron')"
            )
        before = syncdb2009.snapshot(connection)

    # Step 1: find the 2009 copy, delete it, install this app, look again.
    where, install, again = steps.step(1).commands()
    assert install == "pip install django-cron-revival"
    old_copy = Path(site.run(where).stdout.strip())
    assert old_copy == site.root / "django_cron" / "__init__.py"
    shutil.rmtree(old_copy.parent)
    site.run(install)
    assert Path(site.run(again).stdout.strip()) == Path(django_cron.__file__)

    # Step 2: a trigger, USE_TZ left False as 2009 sites had it; "django_cron" stays, and so do
    # CRON_POLLING_FREQUENCY and autodiscover() in urls.py.
    settings_follow(
        steps.step(2),
        site.settings(
            SITE_2009 + 'USE_TZ = False\nMIDDLEWARE = ["django_cron.middleware.CronMiddleware"]\n'
        ),
    )
    site.manage("check")

    # Step 3: migrate creates the new tables beside the 2009 ones.
    (migrate,) = steps.step(3).commands()
    assert "django_cron" in site.run(migrate).stdout

    # Step 4: the 2009 jobs are listed under their dotted paths, and one runs.
    listing, run = steps.step(4).commands()
    listed = site.run(listing).stdout
    for job in ("CheckMail", "PurgeSessions", "Nightly"):
        assert f"mailbox.cron.{job}" in listed
    assert site.run(run).stdout.startswith("mailbox.cron.CheckMail: ok in ")
    assert effects(site) == ["CheckMail () {}"]
    with site.connection(django_db_blocker) as connection:
        assert syncdb2009.snapshot(connection) == before

    # Step 5: drop the 2009 tables in dbshell, then the stale content types.
    (stale,) = steps.step(5).commands()
    site.dbshell(steps.step(5).sql(), django_db_blocker)
    answer = site.run(stale, input="yes\n").stdout
    assert "django_cron.job\n" in answer and "django_cron.cron\n" in answer
    with site.connection(django_db_blocker) as connection:
        tables = set(connection.introspection.table_names())
        with connection.cursor() as cursor:
            cursor.execute(
                "SELECT model FROM django_content_type WHERE app_label = 'django_cron'"
                " ORDER BY model"
            )
            models = [row[0] for row in cursor.fetchall()]
    assert not tables & set(syncdb2009.TABLES)
    assert "job" not in models and "cron" not in models and "jobstate" in models
    assert site.manage("cron", "run", "--force", "mailbox.cron.Nightly").returncode == 0
    assert effects(site)[-1] == "Nightly () {}"


# From django-crontab --------------------------------------------------------------

# A stand-in for the user's crontab(1), so that django-crontab's add and
# remove edit a file of the test's instead of the machine's crontab.
CRONTAB = """\
#!/bin/sh
table="$(dirname "$0")/crontab.txt"
if [ "$1" = "-l" ]; then cat "$table"; else cp "$1" "$table"; fi
"""
SITE_CRONTAB = """
INSTALLED_APPS = [
    "django.contrib.contenttypes",
    "django.contrib.sessions",
    {app},
    "myapp",
]
{settings}
CRONJOBS = [
    ("*/5 * * * *", "myapp.cron.my_scheduled_job"),
    ("0 4 * * *", "django.core.management.call_command", ["clearsessions"]),
    ("0 3 * * *", "myapp.cron.backup", ["auth"], {{"indent": 4}}),
    ("30 2 * * *", "myapp.cron.tidy", ">> /var/log/tidy.log"),
]
"""
CRONTAB_SETTINGS = """\
CRONTAB_EXECUTABLE = {executable!r}
CRONTAB_LOCK_JOBS = True
CRONTAB_COMMAND_SUFFIX = "2>&1"
"""
CRONTAB_JOBS = """\
from myapp.effects import record


def my_scheduled_job():
    record("my_scheduled_job")


def backup(app, indent=2):
    record("backup", app, indent=indent)


def tidy():
    record("tidy")
"""


@pytest.fixture(scope="module")
def django_crontab(tmp_path_factory):
    """
    A folder holding django-crontab, from PyPI: it ships no wheel, so the test
    extra cannot hold it (README promises wheels only). Sites put the folder on
    their path until the guide uninstalls it.
    """
    target = tmp_path_factory.mktemp("django_crontab")
    done = subprocess.run(
        [sys.executable, "-m", "pip", "install", "--quiet", "--no-deps", "--target", str(target)]
        + ["django-crontab==0.7.1"],
        capture_output=True,
        text=True,
        timeout=300,
    )
    if done.returncode != 0:
        reason = f"django-crontab does not install from PyPI: {done.stderr.strip()[-300:]}"
        if settings.REQUIRE_SERVICES:
            pytest.fail(reason)
        pytest.skip(reason)
    return target


def crontab_lines(site):
    return (site.root / "crontab.txt").read_text().splitlines()


def test_the_django_crontab_guide_on_a_site_with_cronjobs(tmp_path, django_crontab):
    steps = guide("From django-crontab")
    site = Site(tmp_path / "site", site_database("default", "site"), pythonpath=[django_crontab])
    executable = site.write("crontab", CRONTAB)
    executable.chmod(0o755)
    site.write("crontab.txt", "0 1 * * * /usr/local/bin/backup-photos\n")
    site.app("myapp", cron=CRONTAB_JOBS, effects=EFFECTS)
    site.settings(
        SITE_CRONTAB.format(
            app='"django_crontab"', settings=CRONTAB_SETTINGS.format(executable=str(executable))
        )
    )
    # The site as it runs today: its tables, and django-crontab's lines in its crontab.
    site.manage("migrate", "-v0")
    site.manage("crontab", "add")
    assert len(crontab_lines(site)) == 5

    # Step 1: django-crontab takes its lines out; the site owner's line stays.
    (remove,) = steps.step(1).commands()
    site.run(remove)
    assert crontab_lines(site) == ["0 1 * * * /usr/local/bin/backup-photos"]

    # Step 2: the packages.
    uninstall, install = steps.step(2).commands()
    site.run(uninstall)
    site.run(install)
    assert site.python("-c", "import django_crontab", check=False).returncode == 1

    # Step 3: django_cron in place of django_crontab, no CRONTAB_* settings.
    written = site.settings(
        SITE_CRONTAB.format(
            app='"django_cron"',
            settings='USE_TZ = True\nMIDDLEWARE = ["django_cron.middleware.CronMiddleware"]',
        )
    )
    settings_follow(steps.step(3), written)
    assert '"django_crontab"' not in written and "CRONTAB_" not in written

    # Step 4: every entry passes the check; migrate.
    check, migrate = steps.step(4).commands()
    checked = site.run(check)
    assert "django_cron.E" not in checked.stdout + checked.stderr
    site.run(migrate)

    # Step 5: each entry is a job, and runs with its arguments.
    listing, run = steps.step(5).commands()
    listed = site.run(listing).stdout
    others = ["crontab:clearsessions", "crontab:myapp.cron.backup", "crontab:myapp.cron.tidy"]
    for name in ["crontab:myapp.cron.my_scheduled_job", *others]:
        assert f"{name}\n" in listed
    assert site.run(run).stdout.startswith("crontab:myapp.cron.my_scheduled_job: ok in ")
    for name in others:
        assert site.manage("cron", "run", "--force", name).stdout.startswith(f"{name}: ok in ")
    assert effects(site) == [
        "my_scheduled_job () {}",
        "backup ('auth',) {'indent': 4}",
        "tidy () {}",
    ]


# From django-apscheduler ----------------------------------------------------------

SITE_APSCHEDULER = """
INSTALLED_APPS = ["django.contrib.contenttypes", {apps}, "reports"]
USE_TZ = True
TIME_ZONE = "UTC"
{settings}
"""
APSCHEDULER_SETTINGS = """\
APSCHEDULER_DATETIME_FORMAT = "N j, Y, f:s a"
APSCHEDULER_RUN_NOW_TIMEOUT = 25
"""
# The command as django-apscheduler's documentation has sites write it; the
# add_job() lines come from the guide's "before" block.
RUNAPSCHEDULER = """\
from apscheduler.schedulers.blocking import BlockingScheduler
from apscheduler.triggers.cron import CronTrigger
from apscheduler.triggers.interval import IntervalTrigger
from django.conf import settings
from django.core.management.base import BaseCommand
from django_apscheduler import util
from django_apscheduler.jobstores import DjangoJobStore


@util.close_old_connections
def send_digest():
    return "digest sent"


@util.close_old_connections
def refresh_totals():
    return "totals refreshed"


class Command(BaseCommand):
    def handle(self, *args, **options):
        scheduler = BlockingScheduler(timezone=settings.TIME_ZONE)
        scheduler.add_jobstore(DjangoJobStore(), "default")
{add_jobs}
        try:
            scheduler.start()
        except KeyboardInterrupt:
            scheduler.shutdown()
"""
APSCHEDULER_TABLES = {"django_apscheduler_djangojob", "django_apscheduler_djangojobexecution"}


def scheduled_ids(site, blocker):
    """Return the ids of the jobs in django-apscheduler's job store, or None without its table."""
    with site.connection(blocker) as connection:
        if "django_apscheduler_djangojob" not in connection.introspection.table_names():
            return None
        with connection.cursor() as cursor:
            cursor.execute("SELECT id FROM django_apscheduler_djangojob ORDER BY id")
            return [row[0] for row in cursor.fetchall()]


@on_each_server
def test_the_django_apscheduler_guide_on_a_site_with_its_scheduler(site, django_db_blocker):
    pytest.importorskip("django_apscheduler", reason="django-apscheduler (the test extra)")
    steps = guide("From django-apscheduler")
    command = "reports/management/commands/runapscheduler.py"
    before = steps.step(4).code(f"before: {command}").splitlines()[1:]
    site.app(
        "reports",
        management__commands____init__="",
        management____init__="",
        **{
            "management__commands__runapscheduler": RUNAPSCHEDULER.format(
                add_jobs="\n".join(f"        {line}" for line in before)
            )
        },
    )
    site.settings(
        SITE_APSCHEDULER.format(apps='"django_apscheduler"', settings=APSCHEDULER_SETTINGS)
    )
    # The site as it runs today: its scheduler started, its jobs in its job store.
    site.manage("migrate", "-v0")
    scheduler = subprocess.Popen(
        [sys.executable, "manage.py", "runapscheduler"],
        cwd=site.root,
        env=site.env(),
        stdout=subprocess.PIPE,
        stderr=subprocess.STDOUT,
        text=True,
    )
    STARTED.append(scheduler)
    wait_for(
        lambda: scheduled_ids(site, django_db_blocker) == ["refresh_totals", "send_digest"],
        timeout=60,
        interval=0.2,
        message="runapscheduler to store its jobs",
    )

    # Step 1: the package (django-apscheduler stays).
    (install,) = steps.step(1).commands()
    site.run(install)

    # Step 2: stop the scheduler and delete its command.
    scheduler.send_signal(signal.SIGINT)
    assert scheduler.wait(timeout=30) == 0, scheduler.stdout.read()
    (site.root / command).unlink()

    # Step 3: django_cron beside django_apscheduler, and a trigger.
    settings_follow(
        steps.step(3),
        site.settings(
            SITE_APSCHEDULER.format(
                apps='"django_apscheduler", "django_cron"',
                settings=APSCHEDULER_SETTINGS
                + 'MIDDLEWARE = ["django_cron.middleware.CronMiddleware"]\n',
            )
        ),
    )

    # Step 4: the jobs, in reports/cron.py as the guide writes it.
    site.write("reports/cron.py", steps.step(4).code("reports/cron.py"))

    # Step 5: the new tables; django-apscheduler's keep their rows.
    (migrate,) = steps.step(5).commands()
    site.run(migrate)
    assert scheduled_ids(site, django_db_blocker) == ["refresh_totals", "send_digest"]

    # Step 6: the jobs under their old ids, on their schedules, and one runs.
    listing, run = steps.step(6).commands()
    listed = site.run(listing).stdout
    assert "send_digest\n" in listed and "refresh_totals\n" in listed
    assert "(Europe/Berlin)" in listed
    ran = site.run(run).stdout
    assert ran.startswith("send_digest: ok in ") and ran.endswith(": digest sent\n")

    # Step 7: django-apscheduler's tables dropped, then the app and the packages.
    forget, uninstall, stale = steps.step(7).commands()
    site.run(forget)
    site.dbshell(steps.step(7).sql(), django_db_blocker)
    assert scheduled_ids(site, django_db_blocker) is None
    written = site.settings(
        SITE_APSCHEDULER.format(
            apps='"django_cron"',
            settings='MIDDLEWARE = ["django_cron.middleware.CronMiddleware"]',
        )
    )
    assert '"django_apscheduler"' not in written and "APSCHEDULER_" not in written
    site.run(uninstall)
    assert site.python("-c", "import apscheduler", check=False).returncode == 1
    assert "django_apscheduler" in site.run(stale, input="yes\n").stdout
    assert "django_apscheduler" not in site.manage("showmigrations").stdout
    ran = site.manage("cron", "run", "--force", "refresh_totals").stdout
    assert ran.startswith("refresh_totals: ok in ") and ran.endswith(": totals refreshed\n")
    with site.connection(django_db_blocker) as connection:
        assert not APSCHEDULER_TABLES & set(connection.introspection.table_names())
        with connection.cursor() as cursor:
            cursor.execute("SELECT app_label FROM django_content_type")
            assert "django_apscheduler" not in {row[0] for row in cursor.fetchall()}
