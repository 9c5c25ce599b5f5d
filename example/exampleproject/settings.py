"""
Settings for the django_cron demo site.

For local use only: DEBUG is on, and the secret key and the ping key are
public. The database is a SQLite file next to manage.py, so the demo needs no
server. Jobs run from the site's own traffic (CronMiddleware): browsing is
enough, with no worker and no OS cron.
"""

import os
from pathlib import Path

BASE_DIR = Path(__file__).resolve().parent.parent

SECRET_KEY = "django-insecure-demo-only-never-use-this-key-in-production"
DEBUG = True
ALLOWED_HOSTS = ["localhost", "127.0.0.1", "[::1]"]

INSTALLED_APPS = [
    "django.contrib.admin",
    "django.contrib.auth",
    "django.contrib.contenttypes",
    "django.contrib.sessions",
    "django.contrib.messages",
    "django.contrib.staticfiles",
    "django_cron",
    # A cron.py written for django-cron in 2009, unchanged.
    "inbox",
    # A cron.py written with the register() API, and the overview page.
    "reports",
]

MIDDLEWARE = [
    # First, so that it sees every response, whatever the others do; due jobs
    # run once the response has been sent, so its place costs no request anything.
    "django_cron.middleware.CronMiddleware",
    "django.middleware.security.SecurityMiddleware",
    "django.contrib.sessions.middleware.SessionMiddleware",
    "django.middleware.common.CommonMiddleware",
    "django.middleware.csrf.CsrfViewMiddleware",
    "django.contrib.auth.middleware.AuthenticationMiddleware",
    "django.contrib.messages.middleware.MessageMiddleware",
    "django.middleware.clickjacking.XFrameOptionsMiddleware",
]

ROOT_URLCONF = "exampleproject.urls"

TEMPLATES = [
    {
        "BACKEND": "django.template.backends.django.DjangoTemplates",
        "DIRS": [],
        "APP_DIRS": True,
        "OPTIONS": {
            "context_processors": [
                "django.template.context_processors.request",
                "django.contrib.auth.context_processors.auth",
                "django.contrib.messages.context_processors.messages",
            ],
        },
    },
]

WSGI_APPLICATION = "exampleproject.wsgi.application"

DATABASES = {
    "default": {
        "ENGINE": "django.db.backends.sqlite3",
        # EXAMPLE_DB lets the test suite run the demo on a database of its own.
        "NAME": os.environ.get("EXAMPLE_DB", BASE_DIR / "db.sqlite3"),
        # runserver and `cron worker` write to the same file; wait for the
        # other process's lock rather than fail with "database is locked".
        "OPTIONS": {"timeout": 20},
    }
}

DEFAULT_AUTO_FIELD = "django.db.models.BigAutoField"

LANGUAGE_CODE = "en-us"
TIME_ZONE = "UTC"
USE_I18N = True
# django_cron keeps every slot, lease and run as an aware datetime.
USE_TZ = True

STATIC_URL = "static/"

DJANGO_CRON = {
    # Look for due jobs at most every 5 seconds per process, so that a job due
    # now runs at the next request after that. A real site can leave the
    # default (60): its jobs are rarely due to the second.
    "POLLING_FREQUENCY": 5,
    # The secret of cron/ping/<key>/, which the home page shows. A real site
    # reads a long random one from its environment, as this does when set
    # (python -c "import secrets; print(secrets.token_urlsafe(32))").
    "PING_KEY": os.environ.get("EXAMPLE_PING_KEY", "demo-ping-key-of-the-example-site"),
    # Days of run history to keep; older runs are deleted after each pass.
    "HISTORY_DAYS": 7,
    # Seconds a run may take before it counts as lost and its slot is freed.
    # The demo jobs take milliseconds; a job can ask for more with `lease`.
    "LEASE": 300,
}

# Show what the jobs and the runner do on the console.
LOGGING = {
    "version": 1,
    "disable_existing_loggers": False,
    "handlers": {"console": {"class": "logging.StreamHandler"}},
    "loggers": {
        "django_cron": {"handlers": ["console"], "level": "INFO"},
        "inbox": {"handlers": ["console"], "level": "INFO"},
        "reports": {"handlers": ["console"], "level": "INFO"},
    },
}
