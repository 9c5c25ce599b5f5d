"""System checks: bad job definitions fail ``manage.py check`` with an id and a hint."""

from zoneinfo import ZoneInfo, ZoneInfoNotFoundError

from croniter import croniter
from django.conf import settings
from django.core.checks import Error, Warning
from django.urls import NoReverseMatch, reverse
from django.utils.module_loading import import_string

from . import conf
from .jobs import MISSED_POLICIES
from .registry import cronScheduler
from .schedules import Schedule, parse_every


def check_settings(app_configs=None, **kwargs):
    errors = []
    path = conf.get("LOCK_BACKEND")
    try:
        backend = import_string(path)
    except ImportError as exc:
        errors.append(
            Error(
                f"DJANGO_CRON['LOCK_BACKEND'] {path!r} cannot be imported: {exc}.",
                hint="Use a dotted path such as 'django_cron.locks.database.DatabaseLock'; "
                "RedisLock needs 'pip install django-cron-revival[redis]'.",
                id="django_cron.E006",
            )
        )
    else:
        errors.extend(_check_lock_cache(backend))
    if not settings.USE_TZ:
        errors.append(
            Error(
                "django_cron needs USE_TZ = True.",
                hint="Schedules, leases and history are kept as aware datetimes.",
                id="django_cron.E007",
            )
        )
    if conf.get("MISSED") not in MISSED_POLICIES:
        errors.append(_missed_error("DJANGO_CRON['MISSED']", conf.get("MISSED")))
    return errors


# Caches that live inside one process: a lock there coordinates nothing.
LOCAL_CACHES = (
    "django.core.cache.backends.locmem.LocMemCache",
    "django.core.cache.backends.dummy.DummyCache",
)


def _check_lock_cache(backend):
    """Check the cache alias that a cache-based lock backend names."""
    needs = getattr(backend, "needs_cache", None)
    if needs is None:
        return []
    alias = conf.get("LOCK_OPTIONS").get("alias", "default")
    if alias not in settings.CACHES:
        return [
            Error(
                f"DJANGO_CRON['LOCK_OPTIONS'] names the cache {alias!r}, which CACHES lacks.",
                hint="Give 'alias' the name of a cache in CACHES.",
                id="django_cron.E010",
            )
        ]
    cache_backend = settings.CACHES[alias].get("BACKEND", "")
    if needs != "any" and cache_backend != needs:
        return [
            Warning(
                f"{backend.__name__} uses the cache {alias!r}, whose backend {cache_backend!r} "
                f"is not {needs}, so it has no Redis client to lock with.",
                hint=f"Point it at a cache with BACKEND '{needs}', or use CacheLock.",
                id="django_cron.W003",
            )
        ]
    if cache_backend in LOCAL_CACHES:
        return [
            Warning(
                f"{backend.__name__} uses the cache {alias!r} ({cache_backend}), which cannot "
                "coordinate processes: every process would hold its own locks.",
                hint="Use memcached, the database cache or Redis, or the default DatabaseLock.",
                id="django_cron.W002",
            )
        ]
    return []


def check_ping_key(app_configs=None, **kwargs):
    """Warn when the ping URL is routed but no key can open it."""
    if conf.get("PING_KEY"):
        return []
    try:
        reverse("django_cron:ping", kwargs={"key": "k"})
    except NoReverseMatch:
        return []
    return [
        Warning(
            "django_cron's URLs are included but DJANGO_CRON['PING_KEY'] is empty, "
            "so cron/ping/<key>/ answers 404 to everyone.",
            hint="Set PING_KEY to a long random string, e.g. from "
            "django.core.management.utils.get_random_secret_key().",
            id="django_cron.W001",
        )
    ]


def check_cronjobs(app_configs=None, **kwargs):
    """Check django-crontab's CRONJOBS entries."""
    errors = []
    for index, entry in enumerate(getattr(settings, "CRONJOBS", ())):
        where = f"CRONJOBS[{index}]"
        if not isinstance(entry, (list, tuple)) or not 2 <= len(entry) <= 5:
            errors.append(
                Error(
                    f"{where} is {entry!r}, not (schedule, 'dotted.path'[, args[, kwargs]]).",
                    hint="See django-crontab's CRONJOBS format.",
                    id="django_cron.E011",
                )
            )
        elif len(entry) == 5:
            errors.append(
                Warning(
                    f"{where} has a shell suffix {entry[4]!r}, which is ignored: jobs run "
                    "inside Django here, not from a shell.",
                    hint="Write to a file from the job itself, or read its output in the admin.",
                    id="django_cron.W004",
                )
            )
    return errors


def _missed_error(where, value, obj=None):
    return Error(
        f"{where} is {value!r}.",
        hint=f"Use one of {', '.join(MISSED_POLICIES)}.",
        obj=obj,
        id="django_cron.E008",
    )


def check_jobs(app_configs=None, **kwargs):
    errors = []
    for definition in cronScheduler.all():
        errors.extend(_check_definition(definition))
    for first, second in cronScheduler.conflicts:
        errors.append(
            Error(
                f"Two different jobs are named {first.name!r}: "
                f"{first.identity} and {second.identity}.",
                hint="Give one of them another name with name='...'.",
                obj=second.identity,
                id="django_cron.E005",
            )
        )
    return errors


def _check_definition(definition):
    name = definition.name
    expression, every = definition.schedule_spec()
    errors = []
    if (expression is None) == (every is None):
        which = "both" if expression is not None else "neither"
        errors.append(
            Error(
                f"Job {name!r} sets {which} of schedule and every/run_every.",
                hint="Give exactly one: schedule='*/5 * * * *' or every='5m'.",
                obj=name,
                id="django_cron.E003",
            )
        )
    elif every is not None:
        try:
            parse_every(every)
        except ValueError:
            errors.append(
                Error(
                    f"Job {name!r} has run_every/every {every!r}, not a positive duration.",
                    hint="Use seconds (300), a timedelta, or a string such as '90s', '5m', '2h'.",
                    obj=name,
                    id="django_cron.E002",
                )
            )
    elif isinstance(expression, Schedule):
        try:
            expression.validate()
        except ValueError as exc:
            errors.append(
                Error(
                    f"Job {name!r} has an unusable schedule: {exc}.",
                    hint="Fix the schedule's arguments.",
                    obj=name,
                    id="django_cron.E001",
                )
            )
    elif not croniter.is_valid(str(expression)):
        errors.append(
            Error(
                f"Job {name!r} has an invalid cron expression {expression!r}.",
                hint="Use five fields (minute hour day month weekday) or @hourly, @daily, "
                "@weekly, @monthly.",
                obj=name,
                id="django_cron.E001",
            )
        )
    try:
        ZoneInfo(definition.timezone)
    except (ZoneInfoNotFoundError, ValueError):
        errors.append(
            Error(
                f"Job {name!r} has an unknown time zone {definition.timezone!r}.",
                hint="Use an IANA name such as 'Europe/Berlin' or 'UTC'.",
                obj=name,
                id="django_cron.E004",
            )
        )
    try:
        if definition.lease.total_seconds() <= 0:
            raise ValueError
    except (TypeError, ValueError):
        errors.append(
            Error(
                f"Job {name!r} has lease {definition._option('lease')!r}, not a positive duration.",
                hint="Give the seconds a run may take before it counts as dead.",
                obj=name,
                id="django_cron.E009",
            )
        )
    if definition.enqueue:
        from . import tasks

        if not tasks.available():
            errors.append(
                Error(
                    f"Job {name!r} is to be queued as a task, but no Tasks framework is installed.",
                    hint="Use Django 6.0 or later, or 'pip install django-tasks'.",
                    obj=name,
                    id="django_cron.E012",
                )
            )
    if definition.missed not in MISSED_POLICIES:
        errors.append(_missed_error(f"Job {name!r} option missed", definition.missed, name))
    return errors
