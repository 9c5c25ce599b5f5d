"""
Tivix django-cron's run log, ``CronJobLog``: read to carry a Tivix site's
past over, written after each run of a Tivix job, pruned as Tivix did.

The model is imported in each function: ``django_cron`` imports CronJobBase,
which reads this log, before Django's apps are ready.
"""

import logging
from datetime import timedelta

from django.conf import settings
from django.db import DatabaseError, transaction
from django.utils import timezone

from ... import conf
from ...clock import stored

logger = logging.getLogger("django_cron")


def _read_log(query, default):
    """
    Return ``query()`` on CronJobLog, or ``default`` if the log cannot be read.
    The log only carries a Tivix site's past over; a job whose log is missing
    (migration 0006 not applied yet) runs as if it had never run, and is not
    broken for it.
    """
    from ...models import CronJobLog  # not before the apps are ready

    alias = conf.database()
    try:
        # A savepoint inside a transaction: a failed query must not abort it.
        with transaction.atomic(using=alias):
            return query(CronJobLog.objects.using(alias))
    except DatabaseError as exc:
        logger.warning("Tivix's CronJobLog cannot be read (%s); run manage.py migrate", exc)
        return default


def latest(code):
    """The CronJobLog of the job's latest run, or None."""
    from ...models import CronJobLog  # not before the apps are ready

    return CronJobLog.objects.using(conf.database()).filter(code=code).first()


def latest_runs(code: str, count: int) -> list:
    """The job's latest ``count`` CronJobLog rows, latest first."""
    from ...models import CronJobLog  # not before the apps are ready

    logs = CronJobLog.objects.using(conf.database())
    return list(logs.filter(code=code).order_by("-end_time")[:count])


def write(code: str, run, time_of_day) -> None:
    """Write a finished run to CronJobLog, as Tivix wrote its own."""
    from ...models import CronJobLog  # not before the apps are ready

    ok = run.status == "ok"
    text = run.message if ok else (run.traceback or run.error)
    CronJobLog.objects.using(conf.database()).create(
        code=code[:64],
        start_time=run.started_at,
        end_time=run.finished_at or run.started_at,
        is_success=ok,
        # Tivix ended each message with a newline.
        message=f"{text}\n" if text else "",
        ran_at_time=None if run.forced else time_of_day,
    )


def last_success(code, for_time_of_day=None):
    """The CronJobLog of the job's latest success (of one kind: for a time of day or not)."""

    def latest(logs):
        logs = logs.filter(code=code, is_success=True)
        if for_time_of_day is not None:
            logs = logs.filter(ran_at_time__isnull=not for_time_of_day)
        return logs.first()

    return _read_log(latest, None)


def times_done_since(code, moment) -> set:
    """The times of day that the job ran for with success since ``moment``."""

    def done(logs):
        done = logs.filter(code=code[:64], is_success=True, end_time__gte=stored(moment))
        return set(done.exclude(ran_at_time=None).values_list("ran_at_time", flat=True))

    return _read_log(done, set())


def prune_logs() -> int:
    """Delete CronJobLog rows older than DJANGO_CRON_DELETE_LOGS_OLDER_THAN days, if set."""
    days = getattr(settings, "DJANGO_CRON_DELETE_LOGS_OLDER_THAN", None)
    if days is None:
        return 0
    from ...models import CronJobLog  # not before the apps are ready

    cutoff = timezone.now() - timedelta(days=days)
    deleted, _ = CronJobLog.objects.using(conf.database()).filter(end_time__lt=cutoff).delete()
    return deleted
