"""
The database server's clock, for claims and leases.

Several app servers rarely agree on the time; the one database they share gives
a single clock to compare leases against (ShedLock's reasoning).
"""

import time
from datetime import datetime, timedelta

from django.db.models import DateTimeField, ExpressionWrapper, Func
from django.db.models.functions import Now


class DbNow(Now):
    """Now() in UTC on every backend."""

    def as_mysql(self, compiler, connection, **extra_context):
        # CURRENT_TIMESTAMP follows the session time zone; Django stores UTC.
        return self.as_sql(compiler, connection, template="UTC_TIMESTAMP(6)", **extra_context)


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
