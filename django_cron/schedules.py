"""
When a job runs: a fixed interval, or a cron expression in a time zone.

Every schedule answers one question, ``next_after(dt)``: the first slot strictly
after ``dt``, as an aware datetime. The runner keeps the slot it claimed and
asks for the one after it, so interval jobs keep their phase and never drift.
"""

import re
from datetime import date, datetime, timedelta
from datetime import timezone as dt_timezone
from zoneinfo import ZoneInfo, ZoneInfoNotFoundError

from cron_descriptor import Options, get_description
from croniter import croniter
from django.utils.dateparse import parse_date, parse_datetime

_UNITS = {"s": 1, "m": 60, "h": 3600, "d": 86400}
_DURATION = re.compile(r"^(?:\d+(?:\.\d+)?[smhd])+$")
_PART = re.compile(r"(\d+(?:\.\d+)?)([smhd])")

# croniter knows these aliases too; cron's DST rules need the fields behind them.
_ALIASES = {
    "@yearly": "0 0 1 1 *",
    "@annually": "0 0 1 1 *",
    "@monthly": "0 0 1 * *",
    "@weekly": "0 0 * * 0",
    "@daily": "0 0 * * *",
    "@midnight": "0 0 * * *",
    "@hourly": "0 * * * *",
}

# No time zone has moved its clocks by more than three hours at once; a window
# that wide around a slot is sure to contain any change that affects it.
_DST_WINDOW = timedelta(hours=3)

# What a job does after missing several slots (slots.py: after_due()).
MISSED_POLICIES = ("coalesce", "skip", "catch_up")
# What becomes of a slot that comes due while a run of the job is in flight
# (slots.py: decide()). The first three run one at a time; "allow" overlaps
# runs, up to max_running.
OVERLAP_POLICIES = ("skip", "buffer_one", "buffer_all", "allow")


def parse_every(value) -> timedelta:
    """
    Return ``value`` as a positive timedelta.

    Accept seconds (int or float), a timedelta, or a string such as "90s",
    "5m", "2h", "1d" or "1h30m". Raise ValueError otherwise.
    """
    if isinstance(value, bool):
        raise ValueError(f"{value!r} is not a duration")
    if isinstance(value, timedelta):
        delta = value
    elif isinstance(value, (int, float)):
        delta = timedelta(seconds=value)
    elif isinstance(value, str) and _DURATION.match(value.strip()):
        seconds = sum(float(n) * _UNITS[u] for n, u in _PART.findall(value.strip()))
        delta = timedelta(seconds=seconds)
    elif isinstance(value, str) and re.fullmatch(r"\d+(?:\.\d+)?", value.strip()):
        delta = timedelta(seconds=float(value))
    else:
        raise ValueError(f"{value!r} is not a duration; use seconds, a timedelta or '5m'")
    if delta <= timedelta(0):
        raise ValueError(f"{value!r} is not a positive duration")
    return delta


def parse_moment(value, timezone="UTC") -> datetime | None:
    """
    Return ``value`` as an aware datetime, or None for None.

    Accept an aware datetime, a naive one or a date (read in ``timezone``), or
    an ISO 8601 string such as "2026-05-01T09:00" or "2026-05-01T07:00Z".
    """
    if value is None:
        return None
    if isinstance(value, str):
        text = value.strip()
        # Django's parsers: Python 3.10's fromisoformat() refuses a "Z" for UTC.
        try:
            value = parse_datetime(text) or parse_date(text)
        except ValueError:
            value = None  # well-formed, but no such date
        if value is None:
            raise ValueError(f"{text!r} is not a date and time")
    moment = value
    if isinstance(value, date) and not isinstance(value, datetime):
        moment = datetime(value.year, value.month, value.day)
    elif not isinstance(value, datetime):
        raise ValueError(f"{value!r} is not a date and time")
    if moment.tzinfo is None:
        moment = moment.replace(tzinfo=zone(timezone), fold=0)
    return moment


def zone(timezone):
    """Return the ZoneInfo an IANA name gives (a tzinfo as it is); ValueError if unknown."""
    try:
        return ZoneInfo(timezone) if isinstance(timezone, str) else timezone
    except (ZoneInfoNotFoundError, ValueError):
        raise ValueError(f"{timezone!r} is not a known time zone") from None


def _words(seconds: float) -> str:
    for unit, size in (("day", 86400), ("hour", 3600), ("minute", 60)):
        if seconds >= size and seconds % size == 0:
            count = int(seconds // size)
            return f"Every {unit}" if count == 1 else f"Every {count} {unit}s"
    return "Every second" if seconds == 1 else f"Every {seconds:g} seconds"


def _when(moment: datetime, tz) -> str:
    """Return ``moment`` in words for people: its wall-clock time in ``tz``, and the zone."""
    local = moment.astimezone(tz)
    return local.strftime("%Y-%m-%d %H:%M:%S %Z" if local.second else "%Y-%m-%d %H:%M %Z")


class Schedule:
    """The interface every schedule provides."""

    def next_after(self, dt: datetime) -> datetime | None:
        """Return the first slot strictly after the aware datetime ``dt``; None if none is left."""
        raise NotImplementedError("subclasses of Schedule must provide a next_after() method")

    def first_after(self, now: datetime) -> datetime | None:
        """Return the first slot of a job first seen at ``now``; None if none is left."""
        return self.next_after(now)

    def resume_after(self, slot: datetime, now: datetime) -> datetime | None:
        """Return the first slot after ``now``, in the phase of the earlier ``slot``; or None."""
        return self.next_after(now)

    # Whether the time zone changes the slots (it does for cron expressions).
    zoned = False

    def validate(self) -> None:
        """
        Raise ValueError if the schedule cannot run. ``manage.py check`` and the
        runner both ask; subclasses that check more call this too.
        """
        try:
            self.next_after(datetime.now(dt_timezone.utc))
        except Exception as exc:
            raise ValueError(f"it never comes due ({exc})") from exc

    def describe(self) -> str:
        """Return the schedule in words."""
        raise NotImplementedError("subclasses of Schedule must provide a describe() method")

    @property
    def key(self) -> str:
        """A string that changes whenever the slots would."""
        raise NotImplementedError("subclasses of Schedule must provide a key property")


class _Dated(Schedule):
    """
    A schedule between an optional ``start`` and ``end`` (aware datetimes,
    APScheduler's start_date and end_date): no slot before the start, none
    after the end. The end is a slot if the schedule has one there.
    """

    # The zone that describe() shows the dates in; None: the zone they came in.
    tz = None

    def _set_dates(self, start, end):
        for name, value in (("start", start), ("end", end)):
            if value is not None and (not isinstance(value, datetime) or value.tzinfo is None):
                raise ValueError(f"the {name} must be an aware datetime, not {value!r}")
        given = start if start is not None else end
        self._shown_in = given and given.tzinfo
        if start is not None and end is not None and end < start:
            raise ValueError(
                f"the end ({self._when(end)}) is before the start ({self._when(start)})"
            )
        # Kept in UTC: Python adds a timedelta to a zoned datetime by its wall clock.
        self.start = start and start.astimezone(dt_timezone.utc)
        self.end = end and end.astimezone(dt_timezone.utc)

    def _bounded(self, slot):
        """Return ``slot``, or None if it falls after the end."""
        if slot is None or (self.end is not None and slot > self.end):
            return None
        return slot

    def _when(self, moment):
        return _when(moment, self.tz or self._shown_in)

    def _dated(self, text, show):
        """Return ``text`` followed by the start and the end, each written by ``show``."""
        if self.start is not None:
            text += f", from {show(self.start)}"
        if self.end is not None:
            text += f"{'' if self.start else ','} until {show(self.end)}"
        return text

    def _dated_repr(self):
        return "".join(
            f", {name}={value.isoformat()!r}"
            for name, value in (("start", self.start), ("end", self.end))
            if value is not None
        )


class Interval(_Dated):
    """
    Every ``every`` (seconds, timedelta or "5m"). Slots are counted from
    ``start`` when one is given (start, start + every, ...), else from the
    runner's first sighting of the job.
    """

    def __init__(self, every, start: datetime | None = None, end: datetime | None = None):
        self.every = parse_every(every)
        self._set_dates(start, end)

    def next_after(self, dt):
        if self.start is None:
            slot = dt + self.every
        elif dt < self.start:
            slot = self.start
        else:
            slot = self.start + ((dt - self.start) // self.every + 1) * self.every
        return self._bounded(slot)

    def resume_after(self, slot, now):
        if slot > now:
            return self._bounded(slot)
        if self.start is not None:
            return self.next_after(now)
        missed = (now - slot) // self.every
        return self._bounded(slot + (missed + 1) * self.every)

    def describe(self):
        return self._dated(_words(self.every.total_seconds()), self._when)

    @property
    def key(self):
        return self._dated(f"every {self.every.total_seconds():g}s", datetime.isoformat)

    def __repr__(self):
        return f"Interval({self.every.total_seconds():g}{self._dated_repr()})"


def _describe_options():
    # cron-descriptor takes its language and 12/24-hour clock from the process
    # locale, which Python 3.12 reports differently for C.UTF-8; pin both so
    # the words are the same everywhere.
    options = Options()
    options.locale_code = "en_US"
    options.use_24hour_time_format = False
    return options


# croniter's random values (R, R(0-29)) differ in every process that reads them.
_RANDOM = re.compile(r"^r(\(\d+-\d+\))?(/\d+)?$", re.IGNORECASE)
# Quartz writes the last Friday 5L; croniter wants L5.
_LAST_WEEKDAY = re.compile(r"^[0-7]l$", re.IGNORECASE)


def _cron_fields(expression: str) -> list[str]:
    """Return the fields of a cron expression, or raise ValueError for one croniter cannot run."""
    fields = _ALIASES.get(expression.lower(), expression).split()
    if len(fields) == 7:
        raise ValueError(
            f"{expression!r} has a year field, which is not supported; use start_date and end_date"
        )
    parts = [part for field in fields for part in field.split(",")]
    if any(_RANDOM.match(part) for part in parts):
        raise ValueError(f"{expression!r} has a random value (R), which every process draws anew")
    if not croniter.is_valid(expression, second_at_beginning=True):
        weekday = fields[-1] if len(fields) >= 5 else ""
        if _LAST_WEEKDAY.match(weekday):
            raise ValueError(
                f"{expression!r} is not a valid cron expression: "
                f"write L{weekday[:-1]}, not {weekday}, for the last such weekday of the month"
            )
        raise ValueError(f"{expression!r} is not a valid cron expression")
    return fields


class Cron(_Dated):
    """
    A cron expression, read by croniter in the wall-clock time of ``timezone``.

    Five fields (minute hour day month weekday), or six with seconds first.

    Daylight saving time follows cronie. A job at a fixed time (no ``*`` in its
    minute and hour fields) runs once on each day: a time that a spring-forward
    change skips runs that much later (02:30 becomes 03:30), and a time that a
    fall-back change repeats runs at its first occurrence only. A job with a
    wildcard in the minute or hour field follows elapsed time, so it runs in both
    passes of a repeated hour. A seconds field does not change this.
    """

    zoned = True

    def __init__(
        self,
        expression: str,
        timezone="UTC",
        start: datetime | None = None,
        end: datetime | None = None,
    ):
        expression = " ".join(str(expression).split())
        fields = _cron_fields(expression)
        self.expression = expression
        self.tz = zone(timezone)
        self._set_dates(start, end)
        minute, hour = fields[-5:-3]
        self.wildcard = minute.startswith("*") or hour.startswith("*")

    def _walk(self, wall):
        """Return a croniter over the naive wall-clock times after ``wall``."""
        return croniter(self.expression, wall, second_at_beginning=True)

    def next_after(self, dt):
        if dt.tzinfo is None:
            raise ValueError("next_after() needs an aware datetime")
        if self.start is not None and dt < self.start:
            dt = self.start - timedelta(microseconds=1)  # the start itself may be a slot
        return self._bounded(self._next(dt))

    def _next(self, dt):
        """Return the first slot strictly after ``dt``, the start and the end aside."""
        local = dt.astimezone(self.tz)
        wall = self._walk(local.replace(tzinfo=None)).get_next(datetime)
        slot = self._instants(wall)
        if len(slot) == 1 and slot[0] > dt and self._steady(dt, slot[0]):
            return slot[0]
        return self._next_near_change(dt)

    def validate(self):
        try:
            first = self._next(self.start or datetime.now(dt_timezone.utc))
        except Exception as exc:
            raise ValueError(f"it never comes due (no date matches {self.expression!r})") from exc
        # Only with a start: an end that has passed is a schedule that ended, not a broken one.
        if self.start is not None and self._bounded(first) is None:
            raise ValueError(f"{self.expression!r} has no slot between the start and the end")

    def _steady(self, *instants):
        """Tell whether no clock change falls near any of ``instants``."""
        return len(self._offsets(*instants)) == 1

    def _offsets(self, *instants):
        """Return the UTC offsets in force within _DST_WINDOW of ``instants``."""
        return {
            (moment + delta).astimezone(self.tz).utcoffset()
            for moment in instants
            for delta in (-_DST_WINDOW, timedelta(0), _DST_WINDOW)
        }

    def _instants(self, wall):
        """Return the instants at which the naive wall-clock time ``wall`` runs."""
        first = wall.replace(tzinfo=self.tz, fold=0)
        second = wall.replace(tzinfo=self.tz, fold=1)
        if first.utcoffset() == second.utcoffset():
            return [first.astimezone(dt_timezone.utc)]
        if _exists(first):
            # A repeated wall time: the second pass is for wildcard jobs only.
            both = [first.astimezone(dt_timezone.utc), second.astimezone(dt_timezone.utc)]
            return both if self.wildcard else both[:1]
        # A skipped wall time: fold=0 reads it with the offset before the change,
        # which lands as far after the change as the time was into the gap.
        return [first.astimezone(dt_timezone.utc)]

    def _next_near_change(self, dt):
        """
        next_after() for slots near a clock change: walk wall times, keep the earliest.

        A wall time runs at itself minus an offset in force near it, so none
        before dt plus the least such offset runs after dt, and none after the
        best instant found plus the greatest runs before it. The walk covers
        that span only: a seconds field makes every wall time a step.
        """
        utc = dt.astimezone(dt_timezone.utc).replace(tzinfo=None)
        walk = self._walk(utc + min(self._offsets(dt)))
        best = None
        while True:
            wall = walk.get_next(datetime)
            for instant in self._instants(wall):
                if instant > dt and (best is None or instant < best):
                    best = instant
            if best is not None:
                last = best.astimezone(dt_timezone.utc).replace(tzinfo=None)
                if wall > last + max(self._offsets(best)):
                    return best

    def describe(self):
        try:
            text = get_description(
                _ALIASES.get(self.expression.lower(), self.expression), _describe_options()
            )
        except Exception:  # cron-descriptor rejects some croniter extensions
            text = self.expression
        return self._dated(text, self._when)

    @property
    def key(self):
        return self._dated(f"cron {self.expression} {self.tz}", datetime.isoformat)

    def __repr__(self):
        return f"Cron({self.expression!r}, {str(self.tz)!r}{self._dated_repr()})"


def both_or_neither(cron, every, unset=(None, "")) -> str | None:
    """
    Return "both" or "neither" if a cron expression and an interval are both
    given or neither is; None if exactly one is. The one rule every way of
    defining a job keeps: in code, in the database, in the admin. ``unset``
    is what counts as not given: in code only None, so that ``schedule=""``
    is an expression, and a bad one.
    """
    has_cron, has_every = cron not in unset, every not in unset
    if has_cron == has_every:
        return "both" if has_cron else "neither"
    return None


def build_schedule(cron: str = "", every=None, timezone="UTC", start=None, end=None) -> Schedule:
    """
    Return a checked Cron or Interval: give a cron expression or an interval.

    ``start`` and ``end`` may be aware datetimes, naive ones or dates (read in
    ``timezone``), or ISO 8601 strings. Raise ValueError with a short message
    for people (a form's error) if the schedule cannot run.
    """
    cron = (cron or "").strip()
    problem = both_or_neither(cron, every)
    if problem == "both":
        raise ValueError("give a cron expression or an interval, not both")
    if problem == "neither":
        raise ValueError("give a cron expression or an interval")
    start, end = parse_moment(start, timezone), parse_moment(end, timezone)
    if cron:
        schedule = Cron(cron, timezone, start=start, end=end)
    else:
        schedule = Interval(every, start=start, end=end)
    schedule.validate()
    return schedule


def _exists(aware):
    """Tell whether an aware local time survives a round trip through UTC."""
    back = aware.astimezone(dt_timezone.utc).astimezone(aware.tzinfo)
    return back.replace(tzinfo=None) == aware.replace(tzinfo=None)


class Once(Schedule):
    """One slot, at the aware datetime ``at``: a one-off run (APScheduler's date trigger)."""

    def __init__(self, at: datetime):
        if at.tzinfo is None:
            raise ValueError("a one-off run needs an aware datetime")
        self.at = at.astimezone(dt_timezone.utc)

    def next_after(self, dt):
        return self.at if self.at > dt else None

    def first_after(self, now):
        # Due already when asked for (delay=0, or a date just past): it still runs.
        return self.at

    def resume_after(self, slot, now):
        return None

    def validate(self):
        pass  # a date in the past is due at once, not broken

    def describe(self):
        return f"Once, at {self.at.isoformat()}"

    @property
    def key(self):
        return f"once {self.at.isoformat()}"

    def __repr__(self):
        return f"Once({self.at.isoformat()!r})"
