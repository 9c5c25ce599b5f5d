"""
Days a job does not run: dates, ranges of dates and weekdays, given in code
as ``exclude=`` (Quartz's calendars, in the shape of this project's options).

``Excluding`` wraps any schedule: a slot that falls, in the job's time zone,
on an excluded day is not a slot at all, so it is neither run nor counted as
skipped. A window decided at run time (a blackout, in the database) is the
runner's business instead (runtime/blackouts.py).
"""

from datetime import date, datetime

from .schedules import Schedule, parse_moment, zone

WEEKDAYS = ("monday", "tuesday", "wednesday", "thursday", "friday", "saturday", "sunday")
# The most excluded slots skipped in a row before the schedule counts as never due.
LIMIT = 10_000


def _day(value) -> date:
    if isinstance(value, datetime):
        return value.date()
    if isinstance(value, date):
        return value
    try:
        return parse_moment(str(value)).date()
    except ValueError:
        raise ValueError(f"{value!r} is not a date, a range of dates or a weekday") from None


def _weekday(value) -> int | None:
    if not isinstance(value, str):
        return None
    name = value.strip().lower()
    found = [n for n, day in enumerate(WEEKDAYS) if len(name) >= 3 and day.startswith(name)]
    return found[0] if len(found) == 1 else None


def parse_exclude(items) -> tuple:
    """
    Return ``(weekdays, ranges)`` from ``exclude=``: weekday names ("sat",
    "Sunday"), dates ("2026-12-25", a ``date``) and inclusive ranges of dates
    (a pair). Raise ValueError for anything else.
    """
    if isinstance(items, (str, date)):
        items = [items]
    weekdays, ranges = set(), []
    for item in items:
        number = _weekday(item)
        if number is not None:
            weekdays.add(number)
        elif isinstance(item, (list, tuple)):
            if len(item) != 2:
                raise ValueError(f"{item!r} is not a range of two dates")
            first, last = _day(item[0]), _day(item[1])
            if last < first:
                raise ValueError(f"the range {item!r} ends before it starts")
            ranges.append((first, last))
        else:
            day = _day(item)
            ranges.append((day, day))
    return frozenset(weekdays), tuple(sorted(ranges))


class Excluding(Schedule):
    """``schedule`` without its slots on the excluded days, read in ``timezone``."""

    def __init__(self, schedule: Schedule, exclude, timezone="UTC"):
        self.inner = schedule
        self.weekdays, self.ranges = parse_exclude(exclude)
        self.tz = zone(timezone)
        self.zoned = schedule.zoned

    def __getattr__(self, name):
        # What a schedule offers beyond the interface (Tivix's after_run, an
        # interval's every) is the wrapped schedule's.
        if name == "inner":
            raise AttributeError(name)  # not set yet: a copy being made
        return getattr(self.inner, name)

    def excluded(self, slot: datetime) -> bool:
        """Tell whether ``slot`` falls on an excluded day."""
        day = slot.astimezone(self.tz).date()
        return day.weekday() in self.weekdays or any(a <= day <= b for a, b in self.ranges)

    def _allowed(self, slot):
        for _ in range(LIMIT):
            if slot is None or not self.excluded(slot):
                return slot
            slot = self.inner.next_after(slot)
        raise ValueError(f"its next {LIMIT:,} slots all fall on excluded days")

    def next_after(self, dt):
        return self._allowed(self.inner.next_after(dt))

    def first_after(self, now):
        return self._allowed(self.inner.first_after(now))

    def resume_after(self, slot, now):
        return self._allowed(self.inner.resume_after(slot, now))

    def validate(self):
        self.inner.validate()
        super().validate()

    def _words(self) -> str:
        days = [WEEKDAYS[n].capitalize() + "s" for n in sorted(self.weekdays)]
        days += [str(a) if a == b else f"{a} to {b}" for a, b in self.ranges]
        return ", ".join(days)

    def describe(self):
        return f"{self.inner.describe()}, except on {self._words()}"

    @property
    def key(self):
        return f"{self.inner.key}; except {self._words()}"

    def __repr__(self):
        return f"Excluding({self.inner!r}, {self._words()!r})"
