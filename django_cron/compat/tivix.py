"""
Tivix django-cron, as a drop-in: ``CronJobBase``, ``Schedule``, ``CRON_CLASSES``.

Tivix classes become ordinary jobs here, so they run from ``runcrons``, ``cron
run``, the middleware and the ping endpoint alike, and each slot runs once.
"""

import logging
from collections.abc import Iterator
from datetime import datetime, time, timedelta
from zoneinfo import ZoneInfo

from croniter import croniter
from django.conf import settings
from django.utils.module_loading import import_string

from ..jobs import Job
from ..schedules import Cron, _words
from ..schedules import Schedule as BaseSchedule

logger = logging.getLogger("django_cron")


class Schedule(BaseSchedule):
    """
    When a Tivix job runs: every N minutes, or at times of day ("HH:MM", in
    TIME_ZONE), optionally only on some weekdays (0 is Monday) or days of the
    month. As in Tivix, a job with no previous run runs at once, and a time of
    day that has passed today runs once at the first chance.
    """

    def __init__(
        self,
        run_every_mins=None,
        run_at_times=None,
        retry_after_failure_mins=None,
        run_weekly_on_days=None,
        run_monthly_on_days=None,
        run_on_days=None,
    ):
        self.run_every_mins = run_every_mins
        self.run_at_times = list(run_at_times or [])
        self.retry_after_failure_mins = retry_after_failure_mins
        # run_on_days is the name older Tivix releases used.
        self.weekdays = run_weekly_on_days if run_weekly_on_days is not None else run_on_days
        self.monthdays = run_monthly_on_days

    # Building blocks -------------------------------------------------------

    @property
    def tz(self):
        return ZoneInfo(settings.TIME_ZONE or "UTC")

    def _expressions(self):
        """One cron expression per time of day, in cron's weekday numbering."""
        dom = ",".join(str(day) for day in self.monthdays) if self.monthdays else "*"
        # Tivix counts weekdays from Monday = 0; cron from Sunday = 0.
        dow = ",".join(str((day + 1) % 7) for day in self.weekdays) if self.weekdays else "*"
        for text in self.run_at_times:
            hour, minute = (int(part) for part in text.split(":"))
            yield f"{minute} {hour} {dom} * {dow}"

    def _crons(self):
        return [Cron(expression, self.tz) for expression in self._expressions()]

    def _allowed_day(self, moment):
        local = moment.astimezone(self.tz)
        if self.weekdays and local.weekday() not in self.weekdays:
            return False
        return not self.monthdays or local.day in self.monthdays

    # The Schedule interface ------------------------------------------------

    def next_after(self, dt):
        if self.run_at_times:
            return min(cron.next_after(dt) for cron in self._crons())
        moment = dt + timedelta(minutes=self.run_every_mins)
        while not self._allowed_day(moment):
            local = moment.astimezone(self.tz)
            moment = datetime.combine(local.date() + timedelta(days=1), time(), self.tz)
        return moment

    def first_after(self, now):
        if not self.run_at_times:
            return now if self._allowed_day(now) else self.next_after(now)
        # The latest time of day that has passed today, if any, is still due.
        local = now.astimezone(self.tz)
        midnight = datetime.combine(local.date(), time(), self.tz)
        today = [cron.next_after(midnight - timedelta(microseconds=1)) for cron in self._crons()]
        passed = [slot for slot in today if slot <= now]
        return max(passed) if passed else self.next_after(now)

    def resume_after(self, slot, now):
        if self.run_at_times:
            return self.next_after(now)
        return now + timedelta(minutes=self.run_every_mins)

    def describe(self):
        if self.run_at_times:
            when = "At " + ", ".join(self.run_at_times)
        else:
            when = _words(self.run_every_mins * 60)
        if self.weekdays:
            names = ["Mon", "Tue", "Wed", "Thu", "Fri", "Sat", "Sun"]
            when += " on " + ", ".join(names[day] for day in self.weekdays)
        if self.monthdays:
            when += " on days " + ", ".join(str(day) for day in self.monthdays)
        return when

    @property
    def zoned(self):
        return bool(self.run_at_times) or bool(self.weekdays or self.monthdays)

    @property
    def key(self):
        return (
            f"tivix every={self.run_every_mins} at={self.run_at_times} "
            f"week={self.weekdays} month={self.monthdays} {self.tz}"
        )

    def validate(self):
        """Raise ValueError unless the schedule can run."""
        if not self.run_every_mins and not self.run_at_times:
            raise ValueError("Schedule needs run_every_mins or run_at_times")
        if self.run_every_mins is not None and not float(self.run_every_mins) > 0:
            raise ValueError("run_every_mins must be a positive number of minutes")
        for expression in self._expressions():
            if not croniter.is_valid(expression):
                raise ValueError(f"run_at_times {self.run_at_times} are not all HH:MM")
        if not set(self.weekdays or ()) <= set(range(7)):
            raise ValueError(f"run_weekly_on_days {self.weekdays} are not all 0 (Monday) to 6")
        if not set(self.monthdays or ()) <= set(range(1, 32)):
            raise ValueError(f"run_monthly_on_days {self.monthdays} are not all 1 to 31")
        super().validate()


class CronJobBase(Job):
    """
    A Tivix job: set ``schedule`` and ``code``, override ``do()``. What do()
    returns is kept as the run's message.
    """

    schedule = None
    code = None
    ALLOW_PARALLEL_RUNS = False
    MIN_NUM_FAILURES = None

    def job(self):
        return self.do()

    def do(self):
        raise NotImplementedError("subclasses of CronJobBase must provide a do() method")


def tivix_options(job_class) -> dict:
    """The register() options that carry a Tivix class's attributes over."""
    schedule = job_class.schedule
    options = {"name": job_class.code or None}
    if isinstance(schedule, Schedule):
        options["schedule"] = schedule
        if schedule.retry_after_failure_mins:
            # Tivix retries a failed job every N minutes until it succeeds.
            options.update(
                retries=1_000_000,
                retry_delay=schedule.retry_after_failure_mins * 60,
                retry_backoff=1,
            )
    if job_class.ALLOW_PARALLEL_RUNS:
        options["max_running"] = 10
    if job_class.MIN_NUM_FAILURES:
        options["alert_after"] = job_class.MIN_NUM_FAILURES
    return {key: value for key, value in options.items() if value is not None}


def read_cron_classes() -> Iterator[tuple[str, object, type | Exception]]:
    """
    Yield ``(where, entry, class)`` for each entry of the CRON_CLASSES setting.

    An entry that cannot be a job yields the reason in place of the class: a
    ValueError for an entry that is not a dotted path, an ImportError for one
    that does not import, a TypeError for one that names something other than
    a CronJobBase subclass.
    """
    paths = getattr(settings, "CRON_CLASSES", ())
    if not isinstance(paths, (list, tuple)):
        yield "CRON_CLASSES", paths, ValueError("is not a list")
        return
    for index, path in enumerate(paths):
        where = f"CRON_CLASSES[{index}]"
        if not isinstance(path, str):
            yield where, path, ValueError("is not a dotted path")
            continue
        try:
            job_class = import_string(path)
        except Exception as exc:
            # Whatever the module raises on import, the site must still start.
            yield where, path, ImportError(f"cannot be imported: {exc}")
            continue
        if isinstance(job_class, type) and issubclass(job_class, CronJobBase):
            yield where, path, job_class
            continue
        kind = "a class" if isinstance(job_class, type) else f"a {type(job_class).__name__}"
        yield where, path, TypeError(f"names {kind}, not a CronJobBase subclass")


def register_cron_classes(registry) -> None:
    """Register every usable class named in CRON_CLASSES; log and skip the others."""
    for where, path, job_class in read_cron_classes():
        if isinstance(job_class, Exception):
            logger.warning(
                "%s = %r %s; it is skipped (see manage.py check).", where, path, job_class
            )
        else:
            registry.register(job_class, **tivix_options(job_class))
