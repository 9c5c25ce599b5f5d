"""
The database server's clock, for claims and leases, and the time as Django
stores it.

Several app servers rarely agree on the time; the one database they share gives
a single clock to compare leases against (ShedLock's reasoning).

With USE_TZ = False, Django stores naive datetimes: wall-clock time in
TIME_ZONE. The runner then keeps time as Django does, naive, and the database's
clock reads the wall clock too. Only the schedules work in aware datetimes,
converted at their edge (``aware()``, ``stored()``).
"""

import time
from datetime import datetime, timedelta
from datetime import timezone as dt_timezone

from django.conf import settings
from django.db.models import DateTimeField, ExpressionWrapper, Func
from django.db.models.functions import Now
from django.utils import timezone


class DbNow(Now):
    """Now() as Django stores datetimes: UTC, or without USE_TZ wall-clock time in TIME_ZONE."""

    def as_postgresql(self, compiler, connection, **extra_context):
        if settings.USE_TZ:
            return super().as_postgresql(compiler, connection, **extra_context)
        # Django sets the connection's time zone to TIME_ZONE and writes naive
        # values, which PostgreSQL turns into instants there, reading a time a
        # fall-back repeats as its second occurrence. The statement's time as a
        # timestamp is the wall clock, turned back by the same rule: times then
        # compare as wall-clock times, as on the other databases. NOW() would
        # run a time of the repeated hour at its second occurrence instead.
        return "STATEMENT_TIMESTAMP()::timestamp", []

    def as_mysql(self, compiler, connection, **extra_context):
        # CURRENT_TIMESTAMP follows the session time zone, which Django leaves
        # alone; Django stores UTC, or with USE_TZ = False local time. CONVERT_TZ()
        # needs the time zone tables, which servers lack unless loaded by hand:
        # UTC moved by TIME_ZONE's offset in force now does without them.
        offset = utc_offset()
        if offset is None:
            return "UTC_TIMESTAMP(6)", []
        return "(UTC_TIMESTAMP(6) + INTERVAL %s SECOND)", [offset]

    def as_sqlite(self, compiler, connection, **extra_context):
        # SQLite has no server: its clock is this machine's, which Python reads
        # too. Read it through Python (python_now(), below), so that freezegun
        # or time-machine move it in a site's tests as they move timezone.now().
        return "django_cron_now()", []


def utc_offset() -> int | None:
    """
    Return TIME_ZONE's offset from UTC now, in seconds, with USE_TZ = False;
    None with USE_TZ. The only value in DbNow's SQL that changes (on MySQL):
    a query compiled once is compiled again when it does.
    """
    if settings.USE_TZ:
        return None
    now = datetime.now(dt_timezone.utc).astimezone(timezone.get_default_timezone())
    return int(now.utcoffset().total_seconds())


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


def aware(value: datetime | None) -> datetime | None:
    """
    Return ``value`` as an aware datetime. A naive one (USE_TZ = False) is
    wall-clock time in TIME_ZONE; a time that a fall-back repeats is read as
    its first occurrence, which is all that a stored time can say. In UTC:
    Python adds and compares datetimes of one zone by their wall-clock times,
    which would make an interval across a clock change an hour off.
    """
    if value is None or timezone.is_aware(value):
        return value
    local = value.replace(tzinfo=timezone.get_default_timezone(), fold=0)
    try:
        return local.astimezone(dt_timezone.utc)
    except OverflowError:
        # A stored time at the edge of year 1 or 9999 (checks refuse such
        # input; a hand edit may not): the edge of time, not a crash.
        edge = datetime.max if value.year > 1 else datetime.min
        return edge.replace(tzinfo=dt_timezone.utc)


def with_offset(value: datetime | None) -> datetime | None:
    """Return ``value`` aware, to show: a naive one at its wall time, with TIME_ZONE's offset."""
    if value is None or timezone.is_aware(value):
        return value
    zone = timezone.get_default_timezone()
    try:
        return aware(value).astimezone(zone)
    except OverflowError:
        return value.replace(tzinfo=zone)  # at the edge of time: its wall time, as stored


def stored(value: datetime | None) -> datetime | None:
    """Return the aware ``value`` as Django stores it: naive in TIME_ZONE with USE_TZ = False."""
    if value is None or settings.USE_TZ or timezone.is_naive(value):
        return value
    return timezone.make_naive(value, timezone.get_default_timezone()).replace(fold=0)


def db_now_plus(delta: timedelta) -> Func:
    """Return an expression for the database's now + ``delta``."""
    return ExpressionWrapper(DbNow() + delta, output_field=DateTimeField())


class PassClock:
    """
    The database's time, read once per pass of the runner and moved on by this
    process's monotonic clock, so that a server whose clock is off neither runs
    a slot early nor skips slots it thinks were missed. Aware, or naive
    without USE_TZ, as Django reads the database's time.
    """

    def __init__(self, start: datetime):
        self.start = start
        self._started = time.monotonic()

    def now(self) -> datetime:
        return self.start + timedelta(seconds=time.monotonic() - self._started)
