"""
The database server's clock, for claims and leases.

Several app servers rarely agree on the time; the one database they share gives
a single clock to compare leases against (ShedLock's reasoning).
"""

import time
from datetime import datetime, timedelta
from datetime import timezone as dt_timezone

from django.db.models import DateTimeField, ExpressionWrapper, Func
from django.db.models.functions import Now
from django.utils import timezone


class DbNow(Now):
    """Now() in UTC on every backend."""

    def as_mysql(self, compiler, connection, **extra_context):
        # CURRENT_TIMESTAMP follows the session time zone; Django stores UTC.
        return self.as_sql(compiler, connection, template="UTC_TIMESTAMP(6)", **extra_context)

    def as_sqlite(self, compiler, connection, **extra_context):
        # SQLite has no server: its clock is this machine's, which Python reads
        # too. Read it through Python (python_now(), below), so that freezegun
        # or time-machine move it in a site's tests as they move timezone.now().
        return "django_cron_now()", []


def python_now() -> str:
    """timezone.now() as Django stores datetimes in SQLite."""
    now = timezone.now()
    if timezone.is_aware(now):
        now = timezone.make_naive(now, dt_timezone.utc)
    return now.isoformat(sep=" ", timespec="microseconds")


def add_sqlite_clock(sender, connection, **kwargs) -> None:
    """Give each new SQLite connection the django_cron_now() function DbNow uses."""
    if connection.vendor == "sqlite":
        connection.connection.create_function("django_cron_now", 0, python_now)


def db_now_plus(delta: timedelta) -> Func:
    """Return an expression for the database's now + ``delta``."""
    return ExpressionWrapper(DbNow() + delta, output_field=DateTimeField())


class PassClock:
    """
    The database's time, read once per pass of the runner and moved on by this
    process's monotonic clock, so that a server whose clock is off neither runs
    a slot early nor skips slots it thinks were missed.
    """

    def __init__(self, start: datetime):
        self.start = start
        self._started = time.monotonic()

    def now(self) -> datetime:
        return self.start + timedelta(seconds=time.monotonic() - self._started)
