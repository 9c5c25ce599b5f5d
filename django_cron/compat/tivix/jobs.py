"""
Tivix's job class, ``CronJobBase``, and the ``CRON_CLASSES`` setting that
names such classes.
"""

import copy
import logging
from collections.abc import Iterator
from datetime import timedelta

from django.conf import settings
from django.utils import timezone
from django.utils.module_loading import import_string

from ...jobs import Job
from ..entries import IMPORT_HINT, bad_entry
from .log import last_success, latest, write
from .schedule import TivixSchedule

logger = logging.getLogger("django_cron")


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
        self.prev_success_cron = last_success(self.code)
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
        last = latest(cls.code)
        if last is None:
            return timedelta()
        return last.start_time + timedelta(minutes=cls.schedule.run_every_mins) - timezone.now()


def is_tivix_job(target) -> bool:
    return isinstance(target, type) and issubclass(target, CronJobBase)


def tivix_options(job_class) -> dict:
    """The register() options that carry a Tivix class's attributes over."""
    options = {"name": job_class.code or None, "missed": "coalesce"}
    if isinstance(job_class.schedule, TivixSchedule) and job_class.code:
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


def log_run(sender, run, **kwargs) -> None:
    """Write a Tivix job's finished run to CronJobLog (a receiver of run_finished)."""
    if not is_tivix_job(sender):
        return
    schedule = sender.schedule
    at = schedule.time_of_day(run.scheduled_for) if isinstance(schedule, TivixSchedule) else None
    write(sender.code or kwargs.get("name", ""), run, at)


# The id and the hint for each way an entry can be wrong, by the exception
# that read_cron_classes() gives in place of the class.
CRON_CLASSES_HINTS = {
    ValueError: (
        "django_cron.E011",
        "Make CRON_CLASSES a list of dotted paths as strings, e.g. ['myapp.cron.MyCronJob'].",
    ),
    ImportError: IMPORT_HINT,
    TypeError: (
        "django_cron.E015",
        "Point the entry at a subclass of django_cron.CronJobBase; register other jobs "
        "with django_cron.register.",
    ),
}


def check_cron_classes() -> list:
    """Check Tivix django-cron's CRON_CLASSES entries as AppConfig.ready() reads them."""
    return [
        bad_entry(where, entry, job_class, CRON_CLASSES_HINTS)
        for where, entry, job_class in read_cron_classes()
        if isinstance(job_class, Exception)
    ]
