"""
Tivix django-cron, as a drop-in: ``CronJobBase``, ``Schedule``, ``CRON_CLASSES``,
its settings and its run log (``CronJobLog``).

Tivix classes become ordinary jobs here, so they run from ``runcrons``, ``cron
run``, the middleware and the ping endpoint alike, and each slot runs once.
Their schedules keep Tivix's rules, which measure from outcomes: the interval
counts from the last successful run, a failed run is due again at the next
pass (or after ``retry_after_failure_mins``), and each time of day that passed
without a success runs, one per pass.
"""

import copy
import logging
from collections.abc import Iterator
from datetime import datetime, time, timedelta
from zoneinfo import ZoneInfo

from croniter import croniter
from django.conf import settings
from django.core import checks
from django.db import DatabaseError, transaction
from django.utils import timezone
from django.utils.module_loading import import_string

from .. import conf
from ..clock import aware, stored
from ..jobs import Job
from ..schedules import Cron, _words
from ..schedules import Schedule as BaseSchedule

logger = logging.getLogger("django_cron")


class Schedule(BaseSchedule):
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
            last = self.code and _last_success(self.code[:64], for_time_of_day=False)
            start = max(aware(last.start_time) + self._interval, now) if last else now
            slots.append(self._on_allowed_day(start))
        if self.run_at_times:
            # Every time of day that has passed today without a success is due,
            # earliest first.
            local = now.astimezone(self.tz)
            midnight = datetime.combine(local.date(), time(), self.tz)
            done = _times_done_since(self.code, midnight) if self.code else set()
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
        last = _last_success(run.job.name[:64], for_time_of_day=False)
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


class CronJobBase(Job):
    """
    A Tivix job: set ``schedule`` and ``code``, override ``do()``. What do()
    returns is kept as the run's message. Each run is also written to
    ``CronJobLog``, as Tivix did.
    """

    schedule = None
    code = None
    ALLOW_PARALLEL_RUNS = False
    MIN_NUM_FAILURES = None

    def __init__(self, *args, **kwargs):
        super().__init__(*args, **kwargs)
        self.prev_success_cron = None

    def job(self):
        self.prev_success_cron = _last_success(self.code)
        return self.do()

    def do(self):
        raise NotImplementedError("subclasses of CronJobBase must provide a do() method")

    def set_prev_success_cron(self, prev_success_cron):
        self.prev_success_cron = prev_success_cron

    def get_prev_success_cron(self):
        """The CronJobLog of the job's last successful run before this one, or None."""
        return self.prev_success_cron

    @classmethod
    def get_time_until_run(cls):
        """How long until the interval since the last run has passed (negative: overdue)."""
        from ..models import CronJobLog

        last = CronJobLog.objects.using(conf.database()).filter(code=cls.code).first()
        if last is None:
            return timedelta()
        return last.start_time + timedelta(minutes=cls.schedule.run_every_mins) - timezone.now()


def _read_log(query, default):
    """
    Return ``query()`` on CronJobLog, or ``default`` if the log cannot be read.
    The log only carries a Tivix site's past over; a job whose log is missing
    (migration 0006 not applied yet) runs as if it had never run, and is not
    broken for it.
    """
    from ..models import CronJobLog

    alias = conf.database()
    try:
        # A savepoint inside a transaction: a failed query must not abort it.
        with transaction.atomic(using=alias):
            return query(CronJobLog.objects.using(alias))
    except DatabaseError as exc:
        logger.warning("Tivix's CronJobLog cannot be read (%s); run manage.py migrate", exc)
        return default


def _last_success(code, for_time_of_day=None):
    """The CronJobLog of the job's latest success (of one kind: for a time of day or not)."""

    def latest(logs):
        logs = logs.filter(code=code, is_success=True)
        if for_time_of_day is not None:
            logs = logs.filter(ran_at_time__isnull=not for_time_of_day)
        return logs.first()

    return _read_log(latest, None)


def _times_done_since(code, moment) -> set:
    """The times of day that the job ran for with success since ``moment``."""

    def done(logs):
        done = logs.filter(code=code[:64], is_success=True, end_time__gte=stored(moment))
        return set(done.exclude(ran_at_time=None).values_list("ran_at_time", flat=True))

    return _read_log(done, set())


def is_tivix_job(target) -> bool:
    return isinstance(target, type) and issubclass(target, CronJobBase)


def tivix_options(job_class) -> dict:
    """The register() options that carry a Tivix class's attributes over."""
    options = {"name": job_class.code or None, "missed": "coalesce"}
    if isinstance(job_class.schedule, Schedule) and job_class.code:
        # A copy: two classes may share one Schedule.
        options["schedule"] = copy.copy(job_class.schedule)
        options["schedule"].code = job_class.code
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
        if is_tivix_job(job_class):
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


# The run log -------------------------------------------------------------------


def log_run(sender, run, **kwargs) -> None:
    """Write a Tivix job's finished run to CronJobLog (a receiver of run_finished)."""
    if not is_tivix_job(sender):
        return
    from ..models import CronJobLog

    schedule = sender.schedule
    at = schedule.time_of_day(run.scheduled_for) if isinstance(schedule, Schedule) else None
    ok = run.status == "ok"
    text = run.message if ok else (run.traceback or run.error)
    CronJobLog.objects.using(conf.database()).create(
        code=(sender.code or kwargs.get("name", ""))[:64],
        start_time=run.started_at,
        end_time=run.finished_at or run.started_at,
        is_success=ok,
        # Tivix ended each message with a newline.
        message=f"{text}\n" if text else "",
        ran_at_time=None if run.forced else at,
    )


def prune_logs() -> int:
    """Delete CronJobLog rows older than DJANGO_CRON_DELETE_LOGS_OLDER_THAN days, if set."""
    days = getattr(settings, "DJANGO_CRON_DELETE_LOGS_OLDER_THAN", None)
    if days is None:
        return 0
    from ..models import CronJobLog

    cutoff = timezone.now() - timedelta(days=days)
    deleted, _ = CronJobLog.objects.using(conf.database()).filter(end_time__lt=cutoff).delete()
    return deleted


# Settings ----------------------------------------------------------------------

# Tivix's lock backends, and the lock each maps to here.
LOCK_BACKENDS = {
    "django_cron.backends.lock.cache.CacheLock": "django_cron.locks.cache.CacheLock",
    "django_cron.backends.lock.database.DatabaseLock": "django_cron.locks.database.DatabaseLock",
    "django_cron.backends.lock.file.FileLock": "django_cron.locks.database.DatabaseLock",
}


def lock_backend() -> tuple[str, dict] | None:
    """The lock that DJANGO_CRON_LOCK_BACKEND asks for, as (backend, options), or None."""
    name = getattr(settings, "DJANGO_CRON_LOCK_BACKEND", None)
    if name not in LOCK_BACKENDS:
        return None
    backend = LOCK_BACKENDS[name]
    if backend.endswith("CacheLock"):
        return backend, {"alias": getattr(settings, "DJANGO_CRON_CACHE", "default")}
    return backend, {}


def check_tivix_settings(app_configs=None, **kwargs):
    """Name each Tivix setting that is not honoured here, with what to use instead."""
    warnings = []

    def warn(message, hint):
        warnings.append(checks.Warning(message, hint=hint, id="django_cron.W007"))

    name = getattr(settings, "DJANGO_CRON_LOCK_BACKEND", None)
    user = getattr(settings, "DJANGO_CRON", None) or {}
    if name is not None and "LOCK_BACKEND" in user:
        warn(
            "DJANGO_CRON_LOCK_BACKEND is ignored: DJANGO_CRON['LOCK_BACKEND'] is set.",
            "Remove DJANGO_CRON_LOCK_BACKEND.",
        )
    elif name is not None and name not in LOCK_BACKENDS:
        warn(
            f"DJANGO_CRON_LOCK_BACKEND = {name!r} is not one of Tivix's lock backends, "
            "so it is ignored; the database lock is used.",
            "Set DJANGO_CRON['LOCK_BACKEND'] to one of django_cron.locks' backends.",
        )
    elif name == "django_cron.backends.lock.file.FileLock":
        warn(
            "DJANGO_CRON_LOCK_BACKEND = FileLock: there are no lock files here; "
            "the database lock is used, which also works across servers.",
            "Remove DJANGO_CRON_LOCK_BACKEND, or set DJANGO_CRON['LOCK_BACKEND'].",
        )
    cache = getattr(settings, "DJANGO_CRON_CACHE", None)
    if cache is not None and name != "django_cron.backends.lock.cache.CacheLock":
        warn(
            f"DJANGO_CRON_CACHE = {cache!r} is ignored: it names the cache of Tivix's "
            "CacheLock, and DJANGO_CRON_LOCK_BACKEND does not select it.",
            "Remove it, or set DJANGO_CRON['LOCK_BACKEND'] = "
            "'django_cron.locks.cache.CacheLock' and DJANGO_CRON['LOCK_OPTIONS'] = "
            f"{{'alias': {cache!r}}}.",
        )
    if getattr(settings, "DJANGO_CRON_LOCK_TIME", None) is not None:
        # Mapping it onto the lease would keep a crashed run's job locked that long.
        warn(
            "DJANGO_CRON_LOCK_TIME is not needed: a run's lease is renewed while it "
            "runs and expires soon after a crash, so no lock waits out a fixed time.",
            "Remove it; set lease= on a job (or DJANGO_CRON['LEASE']) for how soon "
            "a dead run is recorded as lost.",
        )
    if getattr(settings, "DJANGO_CRON_OUTPUT_ERRORS", True) is False:
        warn(
            "DJANGO_CRON_OUTPUT_ERRORS = False is not honoured: every failure is "
            "logged at ERROR to the 'django_cron' logger.",
            "Filter the 'django_cron' logger in LOGGING instead.",
        )
    return warnings
