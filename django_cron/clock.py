"""
The database server's clock, for claims and leases.

Several app servers rarely agree on the time; the one database they share gives
a single clock to compare leases against (ShedLock's reasoning).
"""

from datetime import timedelta

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
