"""The test settings with bad CRONJOBS and CRON_CLASSES entries next to the good ones."""

from tests.settings import *  # noqa: F403
from tests.settings import CRON_CLASSES, CRONJOBS

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
