"""
The ``DJANGO_CRON`` settings, with their defaults.

Values are read from ``django.conf.settings`` at access time, never cached, so
``override_settings`` works in tests.
"""

from django.conf import settings

DEFAULTS = {
    # Discover every installed app's cron.py from AppConfig.ready().
    "AUTODISCOVER": True,
    # Dotted path of the lock backend, and keyword arguments for it.
    "LOCK_BACKEND": "django_cron.locks.database.DatabaseLock",
    "LOCK_OPTIONS": {},
    # Database alias that holds job state, run history and database locks.
    "DATABASE": "default",
    # Seconds between two due checks of one process (middleware, worker).
    # None falls back to the 2009 setting CRON_POLLING_FREQUENCY, then to 60.
    "POLLING_FREQUENCY": None,
    # Seconds a claimed run lasts without a heartbeat before it counts as dead
    # (lock-at-most-for). The heartbeat extends it every third of that while
    # the job runs, so it bounds how long a crash goes unnoticed, not job length.
    "LEASE": 300,
    "HEARTBEAT": True,
    # Seconds a claim is held at least, however fast the job (lock-at-least-for).
    "MIN_LEASE": 0,
    # What a job does after missing several slots: "coalesce", "skip" or "catch_up".
    "MISSED": "coalesce",
    # Seconds past its due time before a job counts as overdue in ``cron status``.
    "GRACE": 300,
    # Seconds of jobs the middleware runs after one response before it leaves
    # the rest for the next request: well under gunicorn's 30 s worker timeout.
    "BUDGET": 10,
    # Run the middleware's and ping's jobs in a background thread instead of in
    # the worker after the response (always so under ASGI).
    "BACKGROUND": False,
    # The secret in cron/ping/<key>/ and for job details in cron/status/.
    # Empty turns the ping endpoint off.
    "PING_KEY": "",
    # Mail ADMINS after this many failures in a row of one job (and once when
    # it recovers); None never mails. Jobs override it with alert_after.
    "ALERT_AFTER": 3,
    # Seconds before a failed run's first retry (jobs that set retries).
    "RETRY_DELAY": 60,
    # Seconds an outbound ping (start, success, fail URLs) may take.
    "PING_TIMEOUT": 5,
    # Characters of a run's stdout and stderr kept in its history.
    "OUTPUT_LIMIT": 65536,
    # Queue jobs into Django's Tasks framework instead of running them where
    # the runner runs: False, True (the default task backend) or a backend alias.
    "ENQUEUE": False,
    # Days of run history to keep (None keeps everything), and rows deleted per batch.
    "HISTORY_DAYS": 30,
    "PRUNE_BATCH_SIZE": 1000,
}

LEGACY_POLLING_DEFAULT = 60


def get(key: str):
    """Return the DJANGO_CRON setting ``key``, or its default."""
    user = getattr(settings, "DJANGO_CRON", {}) or {}
    if key in user:
        return user[key]
    return DEFAULTS[key]


def polling_frequency() -> float:
    """Return the polling interval in seconds."""
    value = get("POLLING_FREQUENCY")
    if value is None:
        value = getattr(settings, "CRON_POLLING_FREQUENCY", LEGACY_POLLING_DEFAULT)
    return float(value)


def database() -> str:
    return get("DATABASE")
