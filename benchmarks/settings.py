"""
A minimal standalone site for the benchmarks, configured from the environment.

The bare and the cron variants differ only in MIDDLEWARE, so a comparison
between them measures the middleware and nothing else:

BENCH_MIDDLEWARE     "bare" (no middleware at all) or "cron" (CronMiddleware only)
BENCH_JOBS           how many do-nothing jobs to register, every hour (default 1)
BENCH_SLEEP_EVERY    if set, also register "bench.sleep" at this interval (seconds)
BENCH_SLEEP_SECONDS  how long bench.sleep sleeps (default 2)
BENCH_POLL           DJANGO_CRON["POLLING_FREQUENCY"] (default: the app's, 60 s)
BENCH_DB             the SQLite file (default: one in the temporary directory)
BENCH_DATABASE       "postgresql" for PostgreSQL on 127.0.0.1 instead (default: SQLite)
BENCH_PG_NAME        the PostgreSQL database (default django_cron_bench)
BENCH_CONN_MAX_AGE   its CONN_MAX_AGE in seconds (default 600)
BENCH_PEERS          if "1", also install django-celery-beat and django-apscheduler
"""

import os
import tempfile

SECRET_KEY = "benchmarks-only"
DEBUG = False  # DEBUG records every query: memory growth that would skew long runs
ALLOWED_HOSTS = ["*"]
USE_TZ = True
TIME_ZONE = "UTC"
DEFAULT_AUTO_FIELD = "django.db.models.BigAutoField"
ROOT_URLCONF = "benchmarks.urls"

INSTALLED_APPS = ["django_cron", "benchmarks"]
if os.environ.get("BENCH_PEERS") == "1":
    # The peers compared in peers.py; neither needs another app (timezone_field,
    # which django-celery-beat uses, is a plain field library, not an app).
    INSTALLED_APPS += ["django_celery_beat", "django_apscheduler"]

MIDDLEWARE = {
    "bare": [],
    "cron": ["django_cron.middleware.CronMiddleware"],
}[os.environ.get("BENCH_MIDDLEWARE", "cron")]

DATABASES = {
    "default": {
        "ENGINE": "django.db.backends.sqlite3",
        "NAME": os.environ.get("BENCH_DB")
        or os.path.join(tempfile.gettempdir(), f"django_cron_bench_{os.getuid()}.sqlite3"),
        # Several server processes share the file; wait for a lock rather than fail.
        "OPTIONS": {"timeout": 30},
    }
}
if os.environ.get("BENCH_DATABASE") == "postgresql":
    # The peers run on a database server in production; in-process SQLite
    # would hide what each of their queries costs.
    DATABASES["default"] = {
        "ENGINE": "django.db.backends.postgresql",
        "HOST": "127.0.0.1",
        "USER": "postgres",
        "NAME": os.environ.get("BENCH_PG_NAME", "django_cron_bench"),
        # Persistent connections, as in production: a connect per request
        # would cost more than anything measured.
        "CONN_MAX_AGE": int(os.environ.get("BENCH_CONN_MAX_AGE", "600")),
    }

# Django's Tasks (django.tasks from Django 6.0, else the backport): claims.py
# queues runs on the dummy backend, which keeps them in memory, so that what it
# measures is the claim and not a broker.
try:
    import django.tasks  # noqa: F401

    _TASKS_MODULE = "django.tasks"
except ImportError:
    _TASKS_MODULE = "django_tasks"
TASKS = {"default": {"BACKEND": f"{_TASKS_MODULE}.backends.dummy.DummyBackend"}}

PING_KEY = "bench-ping-key"
DJANGO_CRON = {"PING_KEY": PING_KEY}
if os.environ.get("BENCH_POLL"):
    DJANGO_CRON["POLLING_FREQUENCY"] = float(os.environ["BENCH_POLL"])

BENCH_JOBS = int(os.environ.get("BENCH_JOBS", "1"))
BENCH_SLEEP_EVERY = float(os.environ.get("BENCH_SLEEP_EVERY", "0"))
BENCH_SLEEP_SECONDS = float(os.environ.get("BENCH_SLEEP_SECONDS", "2"))

LOGGING = {
    "version": 1,
    "disable_existing_loggers": False,
    "handlers": {"console": {"class": "logging.StreamHandler"}},
    "loggers": {"django_cron": {"handlers": ["console"], "level": "WARNING"}},
}
