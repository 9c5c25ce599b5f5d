"""
Settings for the test suite.

SQLite always runs. PostgreSQL and MariaDB/MySQL join as the database aliases
"postgresql" and "mysql" when their servers answer on 127.0.0.1; otherwise the
tests on them skip with a reason. With DJANGO_CRON_TEST_SERVICES=require (CI
sets it), a server that does not answer is an error instead.

Subprocesses started by the tests set DJANGO_CRON_TEST_USE_TEST_DBS=1 to
connect straight to the test databases that pytest created.
"""

import os
import socket
import tempfile

SECRET_KEY = "tests-only"
# DJANGO_CRON_TEST_USE_TZ=0 runs the suite as a legacy site runs: USE_TZ = False,
# and Django's old default TIME_ZONE, six hours off UTC in winter, so that naive
# UTC mistaken for naive local time (or the reverse) fails the tests.
USE_TZ = os.environ.get("DJANGO_CRON_TEST_USE_TZ", "1") != "0"
TIME_ZONE = "UTC" if USE_TZ else "America/Chicago"
DEBUG = False
ALLOWED_HOSTS = ["*"]
DEFAULT_AUTO_FIELD = "django.db.models.BigAutoField"
ROOT_URLCONF = "tests.urls"

INSTALLED_APPS = [
    "django.contrib.admin",
    "django.contrib.contenttypes",
    "django.contrib.auth",
    "django.contrib.sessions",
    "django.contrib.messages",
    "django_cron",
    "tests.legacy2008",
    "tests.legacy2009",
    "tests.modern",
    *filter(None, os.environ.get("DJANGO_CRON_TEST_EXTRA_APPS", "").split(",")),
]

# What the admin needs (tests/test_admin.py). test_middleware.py sets its own MIDDLEWARE.
MIDDLEWARE = [
    "django.contrib.sessions.middleware.SessionMiddleware",
    "django.contrib.auth.middleware.AuthenticationMiddleware",
    "django.contrib.messages.middleware.MessageMiddleware",
]
TEMPLATES = [
    {
        "BACKEND": "django.template.backends.django.DjangoTemplates",
        "APP_DIRS": True,
        "OPTIONS": {
            "context_processors": [
                "django.template.context_processors.request",
                "django.contrib.auth.context_processors.auth",
                "django.contrib.messages.context_processors.messages",
            ]
        },
    }
]

PG_HOST = os.environ.get("DJANGO_CRON_TEST_PG_HOST", "127.0.0.1")
MYSQL_HOST = os.environ.get("DJANGO_CRON_TEST_MYSQL_HOST", "127.0.0.1")
# Database 15 of the local Redis, 14 for a run with a suffix (tests flush it),
# or the one DJANGO_CRON_TEST_REDIS_DB names; the task queues use the one two below.
REDIS_DB = int(
    os.environ.get(
        "DJANGO_CRON_TEST_REDIS_DB", 14 if os.environ.get("DJANGO_CRON_TEST_DB_SUFFIX") else 15
    )
)
REDIS_URL = os.environ.get("DJANGO_CRON_TEST_REDIS_URL", f"redis://127.0.0.1:6379/{REDIS_DB}")
REQUIRE_SERVICES = os.environ.get("DJANGO_CRON_TEST_SERVICES") == "require"
USE_TEST_DBS = os.environ.get("DJANGO_CRON_TEST_USE_TEST_DBS") == "1"
# Two checkouts may run their suites side by side with different suffixes.
SUFFIX = os.environ.get("DJANGO_CRON_TEST_DB_SUFFIX", "")
SQLITE_PATH = os.path.join(
    tempfile.gettempdir(), f"django_cron_tests_{os.getuid()}{SUFFIX}.sqlite3"
)


def _answers(host, port):
    try:
        with socket.create_connection((host, port), timeout=1):
            return True
    except OSError:
        return False


def _database(engine, name, **extra):
    # No DEPENDENCIES: each test database stands alone, so a run that needs only
    # one of them (pytest -k postgresql) can create it.
    test = {"NAME": f"test_{name}{SUFFIX}", "DEPENDENCIES": []}
    entry = {"ENGINE": engine, "NAME": name, "TEST": test, **extra}
    if USE_TEST_DBS:
        entry["NAME"] = entry["TEST"]["NAME"]
    return entry


DATABASES = {
    "default": {
        "ENGINE": "django.db.backends.sqlite3",
        "NAME": SQLITE_PATH if USE_TEST_DBS else ":memory:",
        # A file, not memory: the race tests' subprocesses open it too.
        "TEST": {"NAME": SQLITE_PATH},
        "OPTIONS": {"timeout": 30},
    }
}
# A database that is down: nothing listens on port 1. Tests of outages use it.
DATABASES["offline"] = {
    "ENGINE": "django.db.backends.postgresql",
    "NAME": "offline",
    "HOST": "127.0.0.1",
    "PORT": 1,
    "USER": "postgres",
    "OPTIONS": {"connect_timeout": 2},
}
# A database that answers but lacks django_cron's migrations: SQLite in memory.
# Tests of "run manage.py migrate" point DJANGO_CRON["DATABASE"] at it.
DATABASES["unmigrated"] = {"ENGINE": "django.db.backends.sqlite3", "NAME": ":memory:"}
SERVICES = {
    "postgresql": (PG_HOST, 5432, "django.db.backends.postgresql", {"USER": "postgres"}),
    "mysql": (MYSQL_HOST, 3306, "django.db.backends.mysql", {"USER": "root", "PASSWORD": ""}),
}
MISSING_SERVICES = {}


def _mysql_driver():
    """
    The MySQL driver the tests use: mysqlclient where it is installed (sites
    use it; it needs a compiler and the client headers), else PyMySQL, which
    installs from a wheel and stands in for it as Django's MySQLdb.
    """
    try:
        import MySQLdb  # noqa: F401

        return "mysqlclient"
    except ImportError:
        pass
    try:
        import pymysql
    except ImportError:
        return None
    # Django checks the version of MySQLdb; PyMySQL reports an old one.
    pymysql.version_info = (2, 2, 1, "final", 0)
    pymysql.install_as_MySQLdb()
    return "PyMySQL"


MYSQL_DRIVER = _mysql_driver()
if MYSQL_DRIVER is None:
    del SERVICES["mysql"]
    if REQUIRE_SERVICES:
        raise RuntimeError(
            "no MySQL driver is importable (mysqlclient or PyMySQL) and CI requires one"
        )
    MISSING_SERVICES["mysql"] = "no MySQL driver: pip install PyMySQL (or mysqlclient)"
for alias, (host, port, engine, extra) in SERVICES.items():
    if _answers(host, port):
        DATABASES[alias] = _database(engine, "django_cron", HOST=host, PORT=port, **extra)
    elif REQUIRE_SERVICES:
        raise RuntimeError(f"{alias} does not answer on {host}:{port} and CI requires it")
    else:
        MISSING_SERVICES[alias] = f"{alias} does not answer on {host}:{port}"

# Redis: database 15 of the local server, flushed by the tests that use it.
redis_host, redis_port = REDIS_URL.split("//")[1].split("/")[0].split(":")
CACHES = {
    "default": {"BACKEND": "django.core.cache.backends.locmem.LocMemCache"},
    "db": {"BACKEND": "django.core.cache.backends.db.DatabaseCache", "LOCATION": "cron_cache"},
}
if _answers(redis_host, int(redis_port)):
    CACHES["redis"] = {"BACKEND": "django_redis.cache.RedisCache", "LOCATION": REDIS_URL}
    CACHES["django-builtin-redis"] = {
        "BACKEND": "django.core.cache.backends.redis.RedisCache",
        "LOCATION": REDIS_URL,
    }
elif REQUIRE_SERVICES:
    raise RuntimeError(f"Redis does not answer at {REDIS_URL} and CI requires it")
else:
    MISSING_SERVICES["redis"] = f"Redis does not answer at {REDIS_URL}"

# Django's Tasks framework (django.tasks from Django 6.0, else the backport).
try:
    import django.tasks  # noqa: F401

    TASKS_MODULE = "django.tasks"
except ImportError:
    TASKS_MODULE = "django_tasks"
TASKS = {
    "default": {"BACKEND": f"{TASKS_MODULE}.backends.immediate.ImmediateBackend"},
    "dummy": {"BACKEND": f"{TASKS_MODULE}.backends.dummy.DummyBackend"},
    "broker-down": {"BACKEND": "tests.task_backends.BrokerDownBackend"},
    "reply-lost": {"BACKEND": "tests.task_backends.ReplyLostBackend"},
}

# Task workers on a real engine (tests/test_task_workers.py): the web servers and
# the workers it starts share PostgreSQL, as the default database too (where the
# database backend keeps its queue), and a Redis database of their own.
TASK_ENGINE = os.environ.get("DJANGO_CRON_TEST_TASKS", "")
TASKS_REDIS_URL = f"redis://{redis_host}:{redis_port}/{REDIS_DB - 2}"
if TASK_ENGINE:
    DATABASES["default"] = DATABASES["postgresql"]
    INSTALLED_APPS.append("tests.taskapp")
    MIDDLEWARE = ["django_cron.middleware.CronMiddleware", *MIDDLEWARE]
    TASKS["default"] = {
        "db": {"BACKEND": "django_tasks_db.DatabaseBackend"},
        "rq": {"BACKEND": "django_tasks_rq.RQBackend"},
        "celery": {
            "BACKEND": "django_tasks_celery.CeleryBackend",
            "OPTIONS": {"CELERY_APP": "tests.celery_app.app"},
        },
    }[TASK_ENGINE]
if TASK_ENGINE == "db":
    # Its tables are made by the test, in the PostgreSQL test database alone.
    INSTALLED_APPS.append("django_tasks_db")
if TASK_ENGINE == "rq":
    INSTALLED_APPS.append("django_rq")
    RQ_QUEUES = {"default": {"URL": TASKS_REDIS_URL}}
CELERY_BROKER_URL = TASKS_REDIS_URL
# Long jobs: a worker takes one message at a time and acknowledges it once done.
CELERY_TASK_ACKS_LATE = True
CELERY_WORKER_PREFETCH_MULTIPLIER = 1

# Jobs the way Tivix django-cron and django-crontab took them.
CRON_CLASSES = [
    "tests.tivix_cron.MyCronJob",
    "tests.tivix_cron.MyAtTimesJob",
    "tests.tivix_cron.FlakyJob",
]
CRONJOBS = [
    ("*/5 * * * *", "tests.crontab_jobs.report", ["daily"], {"copies": 2}),
    ("0 4 * * 0", "django.core.management.call_command", ["clearsessions"]),
    ("0 5 * * 0", "django.core.management.call_command", ["clearsessions"]),
]

LOGGING = {
    "version": 1,
    "disable_existing_loggers": False,
    "handlers": {"console": {"class": "logging.StreamHandler"}},
    "loggers": {"django_cron": {"handlers": ["console"], "level": "WARNING"}},
}

# Subprocesses of the tests say which database alias django_cron uses.
# As long as check asks (django_cron.W008), and URL-safe.
PING_KEY = "test-ping-key-4f1c2a9e-7d3b5c8a0e6f1b2d"
DJANGO_CRON = {"PING_KEY": PING_KEY}
if os.environ.get("DJANGO_CRON_TEST_ALIAS"):
    DJANGO_CRON["DATABASE"] = os.environ["DJANGO_CRON_TEST_ALIAS"]
if os.environ.get("DJANGO_CRON_TEST_AUTODISCOVER") == "0":
    DJANGO_CRON["AUTODISCOVER"] = False

# The servers that tests start: the middleware on, a one-second polling interval,
# and the jobs of tests/serverapp.
if os.environ.get("DJANGO_CRON_TEST_SERVER") == "1":
    INSTALLED_APPS.append("tests.serverapp")
    MIDDLEWARE = ["django_cron.middleware.CronMiddleware", *MIDDLEWARE]
    DJANGO_CRON["POLLING_FREQUENCY"] = 1
# The processes of the schedule-semantics tests: their jobs, and no others of the servers'.
if os.environ.get("DJANGO_CRON_TEST_SEMANTICS") == "1":
    INSTALLED_APPS.append("tests.semanticsapp")
    if "tests.serverapp" in INSTALLED_APPS:
        INSTALLED_APPS.remove("tests.serverapp")
if TASK_ENGINE:
    DJANGO_CRON["POLLING_FREQUENCY"] = 1
if os.environ.get("DJANGO_CRON_TEST_POLL"):
    DJANGO_CRON["POLLING_FREQUENCY"] = float(os.environ["DJANGO_CRON_TEST_POLL"])

# A site in DEBUG that configured no logging at all, as a new project is.
if os.environ.get("DJANGO_CRON_TEST_NO_LOGGING"):
    del LOGGING
    DEBUG = os.environ["DJANGO_CRON_TEST_NO_LOGGING"] == "debug"

# Subprocesses may lock through Redis instead of the database.
if os.environ.get("DJANGO_CRON_TEST_LOCK") == "redis":
    CACHES["redis"] = {"BACKEND": "django_redis.cache.RedisCache", "LOCATION": REDIS_URL}
    DJANGO_CRON["LOCK_BACKEND"] = "django_cron.locks.redis.RedisLock"
    DJANGO_CRON["LOCK_OPTIONS"] = {"alias": "redis"}

# Job state behind a TCP proxy that a test can cut, to take the database away.
if os.environ.get("DJANGO_CRON_TEST_PROXY_PORT"):
    DATABASES["proxied"] = {
        **DATABASES["postgresql"],
        "PORT": int(os.environ["DJANGO_CRON_TEST_PROXY_PORT"]),
        "OPTIONS": {"connect_timeout": 2},
    }
    DJANGO_CRON["DATABASE"] = "proxied"
