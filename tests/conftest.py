import contextlib
import glob
import importlib.metadata
import os
import subprocess
import sys
import time
from datetime import datetime
from pathlib import Path

import pytest
from django.conf import settings as django_settings
from django.db import connections
from django.utils import timezone

from django_cron.registry import cronScheduler
from django_cron.runtime import states
from tests import effects
from tests.browser import browser, missing_browser  # noqa: F401 (browser: a fixture)

ROOT = Path(__file__).resolve().parent.parent
ALIASES = ["default", "postgresql", "mysql"]
# libfaketime shifts a process's clock (the clock-skew test); Debian's package
# "faketime" puts it under the architecture's library directory.
FAKETIME = next(iter(sorted(glob.glob("/usr/lib/*/faketime/libfaketime.so.1"))), None)


def _version(module):
    try:
        return importlib.metadata.version(module)
    except importlib.metadata.PackageNotFoundError:
        return None


def services_report():
    """(name, used, detail) for each database, server and tool the suite can use."""
    missing = django_settings.MISSING_SERVICES
    rows = [("SQLite", True, "always")]
    for alias, name in (("postgresql", "PostgreSQL"), ("mysql", "MariaDB/MySQL")):
        if alias in missing:
            rows.append((name, False, missing[alias]))
        else:
            database = django_settings.DATABASES[alias]
            detail = f"{database['HOST']}:{database['PORT']}"
            if alias == "mysql":
                detail += f", driver {django_settings.MYSQL_DRIVER}"
            rows.append((name, True, detail))
    redis = missing.get("redis")
    rows.append(("Redis", not redis, redis or django_settings.REDIS_URL))
    for server in ("gunicorn", "uvicorn"):
        version = _version(server)
        rows.append((server, bool(version), version or f"not installed (pip install {server})"))
    faketime = "installed" if FAKETIME else "not installed (apt-get install faketime)"
    rows.append(("libfaketime", bool(FAKETIME), faketime))
    no_browser = missing_browser()
    rows.append(("Chromium", not no_browser, no_browser or "installed"))
    return rows


def pytest_report_header(config):
    lines = ["django_cron test services (tests of a skipped one skip, naming it):"]
    for name, used, detail in services_report():
        lines.append(f"  {name + ':':15}{'used' if used else 'SKIPPED'} ({detail})")
    return lines


def wall_time(*args) -> datetime:
    """
    The wall-clock time ``datetime(*args)`` in TIME_ZONE as Django holds it:
    aware, or naive with USE_TZ = False (DJANGO_CRON_TEST_USE_TZ=0).
    """
    value = datetime(*args)
    return timezone.make_aware(value) if django_settings.USE_TZ else value


def _database_param(alias):
    marks = [pytest.mark.django_db(transaction=True, databases=[alias])]
    missing = django_settings.MISSING_SERVICES.get(alias)
    if missing:
        marks.append(pytest.mark.skip(reason=missing))
    return pytest.param(alias, marks=marks, id=alias)


# Runs a test once on SQLite, once on PostgreSQL and once on MariaDB/MySQL.
on_each_database = pytest.mark.parametrize("alias", [_database_param(a) for a in ALIASES])


def _cron_database_param(alias):
    marks = [pytest.mark.django_db(transaction=True, databases=sorted({"default", alias}))]
    missing = django_settings.MISSING_SERVICES.get(alias)
    if missing:
        marks.append(pytest.mark.skip(reason=missing))
    return pytest.param(alias, marks=marks, id=alias)


# As on_each_database, with the default database too: users and sessions stay
# there while django_cron's rows are on the alias (the admin, the API's users).
on_each_cron_database = pytest.mark.parametrize("alias", [_cron_database_param(a) for a in ALIASES])


@pytest.fixture
def cron_db(alias, settings):
    """Point django_cron at the database alias the test is parametrized with."""
    settings.DJANGO_CRON = {**getattr(settings, "DJANGO_CRON", {}), "DATABASE": alias}
    return alias


@pytest.fixture
def operator_key():
    """Make operator keys: ``operator_key("read", "run")`` returns a new key with those scopes."""
    from django_cron import keys

    made = []

    def make(*scopes, name=None):
        row, key = keys.create(name or f"key {len(made) + 1}", scopes or keys.SCOPES)
        made.append(row)
        return key

    return make


@pytest.fixture
def registry():
    """An empty job registry for the test; the discovered jobs come back afterwards."""
    saved, conflicts = dict(cronScheduler._jobs), list(cronScheduler.conflicts)
    cronScheduler.clear()
    yield cronScheduler
    cronScheduler.clear()
    cronScheduler._jobs.update(saved)
    cronScheduler.conflicts.extend(conflicts)
    cronScheduler.changed()


@pytest.fixture(autouse=True)
def fresh_survey():
    """
    Let the runner read every job state row at its next pass: a test's rows
    vanish with its transaction, which no signal tells, as a deletion would.
    """
    states.forget()


@pytest.fixture(autouse=True)
def clear_effects():
    effects.CALLS.clear()
    yield
    effects.CALLS.clear()


@contextlib.contextmanager
def no_queries():
    """
    Fail if anything queries any database inside the block.

    The queries are collected and asserted on at the end, not refused as they
    come: code that swallows exceptions (a response closer, the due check)
    would swallow the refusal too.
    """
    queries = []

    def collect(execute, sql, params, many, context):
        queries.append(sql)
        return execute(sql, params, many, context)

    with contextlib.ExitStack() as stack:
        for alias in django_settings.DATABASES:
            stack.enter_context(connections[alias].execute_wrapper(collect))
        yield
    assert queries == [], f"unexpected queries: {queries}"


@contextlib.contextmanager
def before_first_update(alias, action):
    """
    Call ``action()`` once, just before the next UPDATE on ``alias`` in this
    thread: another process acting between a read and the write that follows it.
    """
    done = []

    def wrapper(execute, sql, params, many, context):
        if not done and sql.lstrip().upper().startswith("UPDATE"):
            done.append(sql)
            action()
        return execute(sql, params, many, context)

    with connections[alias].execute_wrapper(wrapper):
        yield
    assert done, "no UPDATE ran"


def subprocess_env(alias, **extra):
    """The environment of a subprocess that uses the test database ``alias``."""
    env = dict(os.environ)
    env.update(
        DJANGO_SETTINGS_MODULE="tests.settings",
        DJANGO_CRON_TEST_USE_TEST_DBS="1",
        DJANGO_CRON_TEST_ALIAS=alias,
        PYTHONPATH=str(ROOT),
        **{key: str(value) for key, value in extra.items()},
    )
    return env


STARTED = []


@pytest.fixture(autouse=True)
def reap_processes():
    """Kill what a test started and left running, so that a failed test leaves nothing behind."""
    yield
    while STARTED:
        process = STARTED.pop()
        if process.poll() is None:
            process.kill()
            process.wait()


def start(args, alias, **extra):
    """Start ``python -m tests.procs ARGS`` against the test database ``alias``."""
    process = subprocess.Popen(
        [sys.executable, "-m", "tests.procs", *args],
        cwd=ROOT,
        env=subprocess_env(alias, **extra),
        stdout=subprocess.PIPE,
        stderr=subprocess.PIPE,
        text=True,
    )
    STARTED.append(process)
    return process


def wait_for(predicate, timeout=30.0, interval=0.02, message="condition"):
    """Poll ``predicate`` until it is true; fail after ``timeout`` seconds."""
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        value = predicate()
        if value:
            return value
        time.sleep(interval)
    raise AssertionError(f"timed out after {timeout}s waiting for {message}")


def _lock_param(name):
    missing = django_settings.MISSING_SERVICES.get("redis") if name == "redis" else None
    return pytest.param(name, marks=[pytest.mark.skip(reason=missing)] if missing else [], id=name)


# Runs a test with the default DatabaseLock and with RedisLock.
on_each_lock = pytest.mark.parametrize("lock", [_lock_param(n) for n in ("database", "redis")])


@pytest.fixture
def lock_env(lock, settings):
    """Use the lock backend the test is parametrized with; return a subprocess's env for it."""
    if lock == "database":
        return {}
    from django_redis import get_redis_connection

    get_redis_connection("redis").flushdb()
    settings.DJANGO_CRON = {
        **settings.DJANGO_CRON,
        "LOCK_BACKEND": "django_cron.locks.redis.RedisLock",
        "LOCK_OPTIONS": {"alias": "redis"},
    }
    return {"DJANGO_CRON_TEST_LOCK": "redis"}
