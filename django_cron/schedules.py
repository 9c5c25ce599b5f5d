"""
When a job runs: a fixed interval, or a cron expression in a time zone.

Every schedule answers one question, ``next_after(dt)``: the first slot strictly
after ``dt``, as an aware datetime. The runner keeps the slot it claimed and
asks for the one after it, so interval jobs keep their phase and never drift.
"""

import re
from datetime import datetime, timedelta
from datetime import timezone as dt_timezone
from zoneinfo import ZoneInfo, ZoneInfoNotFoundError

from cron_descriptor import Options, get_description
from croniter import croniter

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


def _words(seconds: float) -> str:
    for unit, size in (("day", 86400), ("hour", 3600), ("minute", 60)):
        if seconds >= size and seconds % size == 0:
            count = int(seconds // size)
            return f"Every {unit}" if count == 1 else f"Every {count} {unit}s"
    return "Every second" if seconds == 1 else f"Every {seconds:g} seconds"


class Schedule:
    """The interface every schedule provides."""

    def next_after(self, dt: datetime) -> datetime:
        """Return the first slot strictly after the aware datetime ``dt``."""
        raise NotImplementedError("subclasses of Schedule must provide a next_after() method")

    def first_after(self, now: datetime) -> datetime:
        """Return the first slot of a job seen for the first time at ``now``."""
        return self.next_after(now)

    def resume_after(self, slot: datetime, now: datetime) -> datetime:
        """Return the first slot after ``now``, in the phase of the earlier ``slot``."""
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


class Interval(Schedule):
    """Every ``every`` (seconds, timedelta or "5m"), counted from the first sighting."""

    def __init__(self, every):
        self.every = parse_every(every)

    def next_after(self, dt):
        return dt + self.every

    def resume_after(self, slot, now):
        if slot > now:
            return slot
        missed = (now - slot) // self.every
        return slot + (missed + 1) * self.every

    def describe(self):
        return _words(self.every.total_seconds())

    @property
    def key(self):
        return f"every {self.every.total_seconds():g}s"

    def __repr__(self):
        return f"Interval({self.every.total_seconds():g})"


def _describe_options():
    # cron-descriptor takes its language and 12/24-hour clock from the process
    # locale, which Python 3.12 reports differently for C.UTF-8; pin both so
    # the words are the same everywhere.
    options = Options()
    options.locale_code = "en_US"
    options.use_24hour_time_format = False
    return options


class Cron(Schedule):
    """
    A cron expression, read by croniter in the wall-clock time of ``timezone``.

    Daylight saving time follows cronie. A job at a fixed time (no ``*`` in its
    minute and hour fields) runs once on each day: a time that a spring-forward
    change skips runs that much later (02:30 becomes 03:30), and a time that a
    fall-back change repeats runs at its first occurrence only. A job with a
    wildcard in the minute or hour field follows elapsed time, so it runs in both
    passes of a repeated hour.
    """

    zoned = True

    def __init__(self, expression: str, timezone="UTC"):
        expression = " ".join(str(expression).split())
        if not croniter.is_valid(expression):
            raise ValueError(f"{expression!r} is not a valid cron expression")
        self.expression = expression
        try:
            self.tz = ZoneInfo(timezone) if isinstance(timezone, str) else timezone
        except (ZoneInfoNotFoundError, ValueError) as exc:
            raise ValueError(f"{timezone!r} is not a known time zone") from exc
        fields = _ALIASES.get(expression.lower(), expression).split()
        self.wildcard = fields[0].startswith("*") or fields[1].startswith("*")

    def next_after(self, dt):
        if dt.tzinfo is None:
            raise ValueError("next_after() needs an aware datetime")
        local = dt.astimezone(self.tz)
        wall = croniter(self.expression, local.replace(tzinfo=None)).get_next(datetime)
        slot = self._instants(wall)
        if len(slot) == 1 and slot[0] > dt and self._steady(dt, slot[0]):
            return slot[0]
        return self._next_near_change(dt)

    def _steady(self, *instants):
        """Tell whether no clock change falls near any of ``instants``."""
        offsets = {
            (moment + delta).astimezone(self.tz).utcoffset()
            for moment in instants
            for delta in (-_DST_WINDOW, _DST_WINDOW)
        }
        return len(offsets) == 1

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
        """next_after() for slots near a clock change: walk wall times, keep the earliest."""
        start = (dt - _DST_WINDOW).astimezone(self.tz).replace(tzinfo=None)
        walk = croniter(self.expression, start)
        best = None
        while True:
            wall = walk.get_next(datetime)
            for instant in self._instants(wall):
                if instant > dt and (best is None or instant < best):
                    best = instant
            if best is not None and wall > _naive_local(best, self.tz) + 2 * _DST_WINDOW:
                return best

    def describe(self):
        try:
            text = get_description(
                _ALIASES.get(self.expression.lower(), self.expression), _describe_options()
            )
        except Exception:  # cron-descriptor rejects some croniter extensions
            text = self.expression
        return text

    @property
    def key(self):
        return f"cron {self.expression} {self.tz}"

    def __repr__(self):
        return f"Cron({self.expression!r}, {str(self.tz)!r})"


def _exists(aware):
    """Tell whether an aware local time survives a round trip through UTC."""
    back = aware.astimezone(dt_timezone.utc).astimezone(aware.tzinfo)
    return back.replace(tzinfo=None) == aware.replace(tzinfo=None)


def _naive_local(instant, tz):
    return instant.astimezone(tz).replace(tzinfo=None)
