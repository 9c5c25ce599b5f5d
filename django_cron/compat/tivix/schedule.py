"""
When a Tivix job runs: Tivix's ``Schedule``, which measures from outcomes.
"""

from datetime import datetime, time, timedelta
from zoneinfo import ZoneInfo

from croniter import croniter
from django.conf import settings

from ...clock import aware, stored
from ...schedules import Cron, Schedule, _words
from .log import last_success, times_done_since


class TivixSchedule(Schedule):
    """
    When a Tivix job runs: every N minutes, at times of day ("HH:MM", in
    TIME_ZONE), or both, optionally only on some weekdays (0 is Monday) or days
    of the month. As in Tivix, a job with no previous run runs at once, every
    time of day that has passed today without a run runs, one per pass, and
    ``run_every_mins=0`` runs at every pass.
    """

    def __init__(
        self,
        run_every_mins=None,
        run_at_times=None,
        retry_after_failure_mins=None,
        run_weekly_on_days=None,
        run_monthly_on_days=None,
        run_on_days=None,
        run_tolerance_seconds=0,
    ):
        self.run_every_mins = run_every_mins
        self.run_at_times = list(run_at_times or [])
        self.retry_after_failure_mins = retry_after_failure_mins
        # run_on_days is the name Tivix 0.6 and earlier used.
        self.run_weekly_on_days = (
            run_weekly_on_days if run_weekly_on_days is not None else run_on_days
        )
        self.run_monthly_on_days = run_monthly_on_days
        self.run_tolerance_seconds = run_tolerance_seconds or 0

    @property
    def run_on_days(self):
        return self.run_weekly_on_days

    # Building blocks -------------------------------------------------------

    @property
    def tz(self):
        return ZoneInfo(settings.TIME_ZONE or "UTC")

    @property
    def _interval(self):
        """The interval, less the tolerance; None without run_every_mins."""
        if self.run_every_mins is None:
            return None
        interval = timedelta(minutes=self.run_every_mins)
        return max(interval - timedelta(seconds=self.run_tolerance_seconds), timedelta(0))

    def _expressions(self):
        """One cron expression per time of day, in cron's weekday numbering."""
        days = self.run_monthly_on_days
        dom = ",".join(str(day) for day in days) if days else "*"
        # Tivix counts weekdays from Monday = 0; cron from Sunday = 0.
        weekdays = self.run_weekly_on_days
        dow = ",".join(str((day + 1) % 7) for day in weekdays) if weekdays else "*"
        for text in self.run_at_times:
            hour, minute = (int(part) for part in text.split(":"))
            yield f"{minute} {hour} {dom} * {dow}"

    def _crons(self):
        return [Cron(expression, self.tz) for expression in self._expressions()]

    def _allowed_day(self, moment):
        local = moment.astimezone(self.tz)
        if self.run_weekly_on_days and local.weekday() not in self.run_weekly_on_days:
            return False
        return not self.run_monthly_on_days or local.day in self.run_monthly_on_days

    def _on_allowed_day(self, moment):
        """``moment``, or the start of the first allowed day after it."""
        while not self._allowed_day(moment):
            local = moment.astimezone(self.tz)
            moment = datetime.combine(local.date() + timedelta(days=1), time(), self.tz)
        return moment

    def _next_time_of_day(self, dt):
        return min(cron.next_after(dt) for cron in self._crons())

    def time_of_day(self, slot) -> time | None:
        """The time of day of run_at_times that ``slot`` is for, if any."""
        local = aware(slot).astimezone(self.tz)
        for text in self.run_at_times:
            hour, minute = (int(part) for part in text.split(":"))
            if (local.hour, local.minute, local.second) == (hour, minute, 0):
                return time(hour, minute)
        return None

    # The Schedule interface ------------------------------------------------

    def next_after(self, dt):
        slots = []
        if self._interval is not None:
            slots.append(self._on_allowed_day(dt + self._interval))
        if self.run_at_times:
            slots.append(self._next_time_of_day(dt))
        return min(slots)

    # The job's code, set when its class is registered: the first run then
    # follows the job's CronJobLog, so that a Tivix site's jobs go on where
    # Tivix left them.
    code = None

    def first_after(self, now):
        slots = []
        if self._interval is not None:
            # Never run: due at once (on an allowed day); else an interval after
            # the last success that Tivix logged.
            last = self.code and last_success(self.code[:64], for_time_of_day=False)
            start = max(aware(last.start_time) + self._interval, now) if last else now
            slots.append(self._on_allowed_day(start))
        if self.run_at_times:
            # Every time of day that has passed today without a success is due,
            # earliest first.
            local = now.astimezone(self.tz)
            midnight = datetime.combine(local.date(), time(), self.tz)
            done = times_done_since(self.code, midnight) if self.code else set()
            today = [
                cron.next_after(midnight - timedelta(microseconds=1)) for cron in self._crons()
            ]
            passed = [s for s in today if s <= now and self.time_of_day(s) not in done]
            slots.append(min(passed) if passed else self.next_after(now))
        return min(slots)

    def resume_after(self, slot, now):
        return self.next_after(now)

    def after_run(self, run) -> dict:
        """
        The job's next run, measured from this run's outcome, as Tivix did: a
        failure is due again at once, or ``retry_after_failure_mins`` after it
        started, for the same slot; a success starts the interval again (a
        forced one too) and moves on to the next time of day.
        """
        # The run's times are as stored (naive with USE_TZ = False); so is what this returns.
        if run.status != "ok":
            delay = timedelta(minutes=self.retry_after_failure_mins or 0)
            return {
                "next_run_at": stored(aware(run.started_at) + delay),
                "retry_slot": run.scheduled_for,
                "retry_attempt": run.attempt + 1,
            }
        slots = []
        if self._interval is not None:
            slots.append(self._on_allowed_day(self._interval_from(run) + self._interval))
        if self.run_at_times and not run.forced:
            slots.append(self._next_time_of_day(aware(run.scheduled_for)))
        if not slots:
            return {}  # a forced run does not count for the times of day
        return {"next_run_at": stored(min(slots)), "retry_slot": None, "retry_attempt": 0}

    def _interval_from(self, run):
        """
        When the interval starts: at this run, unless it ran for a time of day;
        then, as in Tivix, at the last success that did not.
        """
        if run.forced or not self.run_at_times or self.time_of_day(run.scheduled_for) is None:
            return aware(run.started_at)
        last = last_success(run.job.name[:64], for_time_of_day=False)
        return aware(last.start_time if last is not None else run.started_at)

    def describe(self):
        parts = []
        if self.run_every_mins == 0:
            parts.append("At every pass")
        elif self.run_every_mins is not None:
            parts.append(_words(self.run_every_mins * 60))
        if self.run_at_times:
            parts.append("At " + ", ".join(self.run_at_times))
        when = " and ".join(parts)
        if self.run_weekly_on_days:
            names = ["Mon", "Tue", "Wed", "Thu", "Fri", "Sat", "Sun"]
            when += " on " + ", ".join(names[day] for day in self.run_weekly_on_days)
        if self.run_monthly_on_days:
            when += " on days " + ", ".join(str(day) for day in self.run_monthly_on_days)
        return when

    @property
    def zoned(self):
        return bool(self.run_at_times) or bool(self.run_weekly_on_days or self.run_monthly_on_days)

    @property
    def key(self):
        return (
            f"tivix every={self.run_every_mins} at={self.run_at_times} "
            f"week={self.run_weekly_on_days} month={self.run_monthly_on_days} "
            f"retry={self.retry_after_failure_mins} tolerance={self.run_tolerance_seconds} "
            f"{self.tz}"
        )[:255]

    def validate(self):
        """Raise ValueError unless the schedule can run."""
        if self.run_every_mins is None and not self.run_at_times:
            raise ValueError("Schedule needs run_every_mins or run_at_times")
        if self.run_every_mins is not None:
            try:
                valid = float(self.run_every_mins) >= 0
            except (TypeError, ValueError):
                valid = False
            if not valid:
                raise ValueError(
                    f"run_every_mins={self.run_every_mins!r} is not a number of minutes, 0 or more"
                )
        for expression in self._expressions():
            if not croniter.is_valid(expression):
                raise ValueError(f"run_at_times {self.run_at_times} are not all HH:MM")
        if not set(self.run_weekly_on_days or ()) <= set(range(7)):
            raise ValueError(
                f"run_weekly_on_days {self.run_weekly_on_days} are not all 0 (Monday) to 6"
            )
        if not set(self.run_monthly_on_days or ()) <= set(range(1, 32)):
            raise ValueError(f"run_monthly_on_days {self.run_monthly_on_days} are not all 1 to 31")
        super().validate()
