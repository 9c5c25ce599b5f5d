"""
The Job base class, and the definition the runner works from.

``Job`` keeps the 2009 shape: subclasses set ``run_every`` (seconds) and
override ``job()``, or, in the older style, ``run(*args, **kwargs)``. A
``JobDefinition`` is what registration makes of a Job subclass or a plain
function: a stable name, a schedule and a way to call it.
"""

import inspect
import sys
from datetime import timedelta
from functools import cached_property

from asgiref.sync import async_to_sync
from django.core.checks import Error
from django.core.management import call_command

from . import conf, task_framework
from .arguments import check_operator_options
from .calendars import Excluding, parse_exclude
from .schedules import (
    MISSED_POLICIES,
    OVERLAP_POLICIES,
    Cron,
    Interval,
    Schedule,
    both_or_neither,
    parse_every,
    parse_moment,
    zone,
)

OPTIONS = (
    "schedule",
    "every",
    "name",
    "timezone",
    "start_date",
    "end_date",
    "exclude",
    "lease",
    "enabled",
    "missed",
    "time_limit",
    "retries",
    "retry_delay",
    "retry_backoff",
    "max_running",
    "overlap",
    "jitter",
    "alert_after",
    "pause_after",
    "times",
    "pings",
    "enqueue",
    # What the admin and the API may pass (arguments.py): a function's or a
    # Job's *args and **kwargs, a command's options by name.
    "operator_kwargs",
    "operator_options",
)
# The longest job name: the JobState row's name column holds it.
NAME_LIMIT = 200


class Job:
    """
    A scheduled job. Override ``job()``; set ``run_every`` or ``schedule``.

    Optional class attributes: ``name``, ``timezone``, ``lease``, ``enabled``
    and ``missed``, the same as the keyword options of ``register()``.
    """

    # A Job that sets neither run_every nor schedule runs daily, as in 2009.
    run_every = 86400

    # Where self.stdout.write() and self.stderr.write() go: the process's
    # streams, which capture a running job's output. A job may assign its own.
    stdout = property(
        lambda self: self.__dict__.get("stdout", sys.stdout),
        lambda self, value: self.__dict__.__setitem__("stdout", value),
    )
    stderr = property(
        lambda self: self.__dict__.get("stderr", sys.stderr),
        lambda self, value: self.__dict__.__setitem__("stderr", value),
    )

    def run(self, *args, **kwargs):
        """Run the job. The 2009 API lets subclasses override this instead of job()."""
        return self.job(*args, **kwargs)

    def job(self, *args, **kwargs):
        """Do the job's work, with the arguments it was registered or scheduled with."""


async def _wait_for(awaitable):
    return await awaitable


def dotted_path(obj) -> str:
    return f"{obj.__module__}.{obj.__qualname__}"


class JobDefinition:
    """
    A registered job: what to call, with which arguments, and when.

    Building the schedule is deferred to first use, so that a bad definition
    does not raise at import time but fails ``manage.py check`` instead.
    """

    def __init__(self, target, args=(), kwargs=None, options=None):
        self.target = target
        self.args = tuple(args)
        self.kwargs = dict(kwargs or {})
        self.options = dict(options or {})
        self.is_class = inspect.isclass(target)
        self.name = self._option("name") or dotted_path(target)

    def _option(self, key, default=None):
        """Return an option from register(), else from the class, else ``default``."""
        if key in self.options:
            return self.options[key]
        if self.is_class and key != "every":
            return getattr(self.target, key, default)
        return default

    @property
    def identity(self) -> str:
        """The code behind the job; two definitions of one identity are one job."""
        return dotted_path(self.target)

    # The schedule --------------------------------------------------------

    def schedule_spec(self):
        """Return ``(cron_expression, every)``; exactly one should be set."""
        expression = self._option("schedule")
        if isinstance(expression, Schedule):
            return expression, None
        every = self.options.get("every")
        if self.is_class and every is None:
            every = self._class_every(explicit=expression is not None)
        return expression, every

    def _class_every(self, explicit):
        """Return a Job subclass's own run_every; the base default only without a schedule."""
        for klass in inspect.getmro(self.target):
            if klass is Job:
                return None if explicit else Job.run_every
            if "run_every" in vars(klass):
                return vars(klass)["run_every"]
        return None

    @property
    def timezone(self) -> str:
        from django.conf import settings

        return str(self._option("timezone") or settings.TIME_ZONE or "UTC")

    @cached_property
    def schedule(self) -> Schedule:
        """Return the Schedule; raise ValueError if the definition is unusable."""
        schedule = self._schedule()
        exclude = self._option("exclude")
        return Excluding(schedule, exclude, self.timezone) if exclude else schedule

    def _schedule(self) -> Schedule:
        expression, every = self.schedule_spec()
        start, end = self._option("start_date"), self._option("end_date")
        if isinstance(expression, Schedule):
            if start is not None or end is not None:
                raise ValueError("start_date and end_date need a cron expression or an interval")
            return expression
        which = both_or_neither(expression, every, unset=(None,))
        if which == "both":
            raise ValueError("set either a cron schedule or an interval, not both")
        if which == "neither":
            raise ValueError("set a cron schedule or an interval")
        # A naive date, like a cron expression, is read in the job's time zone.
        start, end = parse_moment(start, self.timezone), parse_moment(end, self.timezone)
        if every is not None:
            return Interval(every, start=start, end=end)
        return Cron(expression, self.timezone, start=start, end=end)

    @cached_property
    def problem(self) -> str | None:
        """
        Return why the job cannot run, or None. ``manage.py check``, the runner
        and the health reports all ask this, so they agree.
        """
        if len(self.name) > NAME_LIMIT:
            return f"its name is longer than {NAME_LIMIT} characters"
        try:
            self.schedule.validate()
        except Exception as exc:
            return str(exc)
        return None

    def mark_broken(self, reason: str) -> None:
        """Record that the job cannot run after all: the runner found out while planning it."""
        self.__dict__["problem"] = reason

    @property
    def lease(self) -> timedelta:
        seconds = self._option("lease") or conf.get("LEASE")
        return seconds if isinstance(seconds, timedelta) else timedelta(seconds=seconds)

    @property
    def enabled(self) -> bool:
        return bool(self._option("enabled", True))

    @property
    def missed(self) -> str:
        return self._option("missed") or conf.get("MISSED")

    @property
    def time_limit(self) -> float | None:
        """Seconds after which a run is recorded as timed out and abandoned."""
        return self._option("time_limit")

    @property
    def retries(self) -> int:
        return int(self._option("retries") or 0)

    @property
    def retry_delay(self) -> float:
        """Seconds before the first retry; each further retry waits twice as long."""
        delay = self._option("retry_delay")
        return conf.get("RETRY_DELAY") if delay is None else delay

    @property
    def retry_backoff(self) -> float:
        """What each retry's delay is multiplied by for the next one."""
        backoff = self._option("retry_backoff")
        return 2.0 if backoff is None else float(backoff)

    @property
    def max_running(self) -> int:
        return int(self._option("max_running") or 1)

    @property
    def overlap(self) -> str:
        """
        What becomes of a slot due while a run is in flight: "buffer_one" (one
        waits) by default, "allow" (runs overlap) for a job with max_running > 1.
        """
        value = self._option("overlap")
        if value is None:
            return "allow" if self.max_running > 1 else "buffer_one"
        return value

    @property
    def jitter(self) -> float:
        return float(self._option("jitter") or 0)

    @property
    def alert_after(self) -> int | None:
        value = self._option("alert_after")
        return conf.get("ALERT_AFTER") if value is None else value

    @property
    def pause_after(self) -> int | None:
        """Failed runs in a row after which the job pauses itself; None never."""
        return self._option("pause_after")

    @property
    def times(self) -> int | None:
        """Successful runs after which the job is finished; None for no limit."""
        return self._option("times")

    @property
    def enqueue(self):
        """False to run in the runner's process; True or a task backend alias to queue."""
        value = self._option("enqueue")
        return conf.get("ENQUEUE") if value is None else value

    @property
    def pings(self) -> dict:
        return self._option("pings") or {}

    @property
    def command(self) -> str | None:
        """The management command the job runs (register_command()), or None."""
        return str(self.args[0]) if self.target is call_command and self.args else None

    @property
    def operator_kwargs(self) -> bool:
        """Whether the admin and the API may pass what only *args or **kwargs takes."""
        return self._option("operator_kwargs") is True

    @property
    def operator_options(self) -> list:
        """The options of a command that the admin and the API may set."""
        return list(self._option("operator_options") or [])

    def signature(self):
        """Return the signature that the job's arguments bind to, and the self it needs, or None."""
        target = self.target
        if self.is_class:
            # Job.run() hands its arguments to job(), which then says what it takes.
            target = target.job if target.run is Job.run else target.run
        try:
            return inspect.signature(target), (None,) if self.is_class else ()
        except (TypeError, ValueError):
            return None, ()

    @cached_property
    def takes_slot(self) -> bool:
        """
        Whether the job's function (or its ``job()``) has a parameter named
        ``slot``: then each run is passed the slot it runs for.
        """
        signature, _ = self.signature()
        parameter = signature.parameters.get("slot") if signature is not None else None
        kinds = (inspect.Parameter.POSITIONAL_OR_KEYWORD, inspect.Parameter.KEYWORD_ONLY)
        return parameter is not None and parameter.kind in kinds

    def call_kwargs(self, slot=None) -> dict:
        """Return the keyword arguments of a call for ``slot``: with it, if the job takes it."""
        if self.takes_slot and "slot" not in self.kwargs:
            return {**self.kwargs, "slot": slot}
        return self.kwargs

    # Checks ----------------------------------------------------------------

    def check(self) -> list:
        """Return what ``manage.py check`` reports about this job: errors with ids and hints."""
        errors = self._check_schedule() + self._check_timezone()
        if not errors:
            errors = self._check_dates()
        errors += self._check_exclude()
        if not errors and self.problem is not None:
            # A schedule that parses but can never fire, such as "0 0 30 2 *", or
            # a name too long to store: the runner would skip the job.
            errors.append(
                self._error(
                    f"cannot run: {self.problem}",
                    "Give it a schedule that comes due (February has no 30th) and a "
                    f"name of at most {NAME_LIMIT} characters.",
                    "E016",
                )
            )
        return errors + self._check_options() + check_operator_options(self)

    def _error(self, problem: str, hint: str, number: str) -> Error:
        return Error(
            f"Job {self.name!r} {problem}.", hint=hint, obj=self.name, id=f"django_cron.{number}"
        )

    def _check_schedule(self) -> list:
        expression, every = self.schedule_spec()
        which = both_or_neither(expression, every, unset=(None,))
        if which is not None:
            return [
                self._error(
                    f"sets {which} of schedule and every/run_every",
                    "Give exactly one: schedule='*/5 * * * *' or every='5m'.",
                    "E003",
                )
            ]
        try:
            if every is not None:
                parse_every(every)
            elif isinstance(expression, Schedule):
                expression.validate()
            else:
                Cron(str(expression))  # the fields alone: the time zone has a check of its own
        except ValueError as exc:
            if every is not None:
                return [
                    self._error(
                        f"has run_every/every {every!r}, not a positive duration",
                        "Use seconds (300), a timedelta, or a string such as '90s', '5m', '2h'.",
                        "E002",
                    )
                ]
            hint = (
                "Fix the schedule's arguments."
                if isinstance(expression, Schedule)
                else "Use five fields (minute hour day month weekday), six with seconds "
                "first, or @hourly, @daily, @weekly, @monthly."
            )
            return [self._error(f"has an unusable schedule: {exc}", hint, "E001")]
        return []

    def _check_timezone(self) -> list:
        try:
            zone(self.timezone)
        except ValueError:
            return [
                self._error(
                    f"has an unknown time zone {self.timezone!r}",
                    "Use an IANA name such as 'Europe/Berlin' or 'UTC'.",
                    "E004",
                )
            ]
        return []

    def _check_dates(self) -> list:
        try:
            self._schedule()
        except ValueError as exc:
            # The fields are good: start_date or end_date is not.
            return [
                self._error(
                    f"has an unusable schedule: {exc}",
                    "Give start_date and end_date as datetimes or ISO 8601 strings "
                    "such as '2026-05-01T09:00', the end after the start.",
                    "E001",
                )
            ]
        return []

    def _check_options(self) -> list:
        errors = []
        try:
            if self.lease.total_seconds() <= 0:
                raise ValueError
        except (TypeError, ValueError):
            errors.append(
                self._error(
                    f"has lease {self._option('lease')!r}, not a positive duration",
                    "Give the seconds a run may take before it counts as dead.",
                    "E009",
                )
            )
        if self.enqueue and not task_framework.available():
            errors.append(
                self._error(
                    "is to be queued as a task, but no Tasks framework is installed",
                    "Use Django 6.0 or later, or 'pip install django-tasks'.",
                    "E012",
                )
            )
        errors += self._check_overlap()
        for option in ("pause_after", "times"):
            value = self._option(option)
            if value is not None and (type(value) is not int or value < 1):
                errors.append(
                    self._error(
                        f"option {option} is {value!r}, not a whole number of at least 1",
                        f"Give {option} as a count of runs, or leave it out.",
                        "E019",
                    )
                )
        if self.missed not in MISSED_POLICIES:
            errors.append(
                self._error(
                    f"option missed is {self.missed!r}",
                    f"Use one of {', '.join(MISSED_POLICIES)}.",
                    "E008",
                )
            )
        return errors

    def _check_exclude(self) -> list:
        exclude = self._option("exclude")
        if not exclude:
            return []
        try:
            parse_exclude(exclude)
        except (TypeError, ValueError) as exc:
            return [
                self._error(
                    f"has an unusable exclude: {exc}",
                    "Give weekday names ('sat'), dates ('2026-12-25') and pairs of dates "
                    "(('2026-12-24', '2026-12-26')), in the job's time zone.",
                    "E020",
                )
            ]
        return []

    def _check_overlap(self) -> list:
        overlap = self.overlap
        if overlap not in OVERLAP_POLICIES:
            return [
                self._error(
                    f"option overlap is {overlap!r}",
                    f"Use one of {', '.join(OVERLAP_POLICIES)}.",
                    "E018",
                )
            ]
        try:
            max_running = self.max_running
        except (TypeError, ValueError):
            return []  # said by the check of max_running, where there is one
        if overlap == "allow" and max_running == 1:
            return [
                self._error(
                    "lets runs overlap (overlap='allow') but allows one at a time (max_running=1)",
                    "Give max_running: how many runs may be in flight at once.",
                    "E018",
                )
            ]
        if overlap != "allow" and max_running > 1:
            return [
                self._error(
                    f"runs one at a time (overlap={overlap!r}) but allows {max_running} "
                    "at once (max_running)",
                    "Leave max_running out, or use overlap='allow'.",
                    "E018",
                )
            ]
        return []

    # Running ---------------------------------------------------------------

    def instantiate(self):
        """Return what to call: a fresh Job instance, or the function itself."""
        return self.target() if self.is_class else self.target

    def call(self, instance, slot=None):
        """
        Call the job for ``slot`` (an aware datetime, or None for a forced run);
        an ``async def`` job is awaited to its end, on an event loop of its own.
        """
        kwargs = self.call_kwargs(slot)
        if self.is_class:
            result = instance.run(*self.args, **kwargs)
        else:
            result = instance(*self.args, **kwargs)
        if inspect.isawaitable(result):
            # async_to_sync works from any sync code, also from a thread whose
            # caller runs an event loop (it then runs the coroutine elsewhere).
            result = async_to_sync(_wait_for)(result)
        return result

    def __repr__(self):
        return f"<JobDefinition {self.name}>"
