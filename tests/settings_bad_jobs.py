"""The test settings with bad CRONJOBS and CRON_CLASSES entries next to the good ones."""

from tests.settings import *  # noqa: F403
from tests.settings import CRON_CLASSES, CRONJOBS, DATABASES

# Only SQLite: on Django 6.1 `check` connects to a MySQL alias, whose
# database exists only while a test run has created it.
DATABASES = {"default": DATABASES["default"]}

CRONJOBS = [
    *CRONJOBS,
    ("@daily", "tests.nowhere.report"),
    ("@daily", "tests.settings.SECRET_KEY"),
    ("@daily",),
]
CRON_CLASSES = [
    *CRON_CLASSES,
    "tests.tivix_cron.Missing",
    "tests.crontab_jobs.report",
]
