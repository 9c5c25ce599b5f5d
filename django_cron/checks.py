"""System checks: bad job definitions fail ``manage.py check`` with an id and a hint."""

import difflib
import inspect
import sys
from zoneinfo import ZoneInfo, ZoneInfoNotFoundError

from django.apps import apps
from django.conf import settings
from django.core.checks import Error, Warning
from django.urls import NoReverseMatch, reverse
from django.utils.module_loading import import_string

from . import conf
from .arguments import command_parser, options_named
from .compat.crontab import read_cronjobs, shell_suffix
from .compat.tivix import read_cron_classes
from .jobs import MISSED_POLICIES, Job
from .registry import cronScheduler
from .schedules import Cron, Schedule, parse_every


def check_settings(app_configs=None, **kwargs):
    """Check every DJANGO_CRON value with the validators that reading it uses."""
    errors = []
    try:
        user = conf.user_settings()
    except conf.InvalidSetting as exc:
        errors.append(_bad_value("DJANGO_CRON", settings.DJANGO_CRON, exc))
        user = {}
    # What the runtime will use: each good value, else the default.
    values = dict(conf.DEFAULTS)
    for key, value in user.items():
        if key not in conf.DEFAULTS:
            errors.append(_unknown_key(key))
            continue
        try:
            values[key] = conf.clean(key, value)
        except conf.InvalidSetting as exc:
            # A bad MISSED keeps the id it had before values were checked in general.
            error_id = "django_cron.E008" if key == "MISSED" else "django_cron.E013"
            errors.append(_bad_value(f"DJANGO_CRON[{key!r}]", value, exc, error_id))
    legacy = getattr(settings, "CRON_POLLING_FREQUENCY", None)
    if legacy is not None:
        try:
            conf.clean_legacy_polling_frequency(legacy)
        except conf.InvalidSetting as exc:
            errors.append(_bad_value("CRON_POLLING_FREQUENCY", legacy, exc))
    path = values["LOCK_BACKEND"]
    try:
        backend = import_string(path)
    except Exception as exc:
        errors.append(
            Error(
                f"DJANGO_CRON['LOCK_BACKEND'] {path!r} cannot be imported: {exc}.",
                hint="Use a dotted path such as 'django_cron.locks.database.DatabaseLock'; "
                "RedisLock needs 'pip install django-cron-revival[redis]'.",
                id="django_cron.E006",
            )
        )
    else:
        errors.extend(_check_lock_cache(backend, values["LOCK_OPTIONS"]))
    # django_cron.E007, "USE_TZ is False", is retired: times are then naive, as Django's.
    return errors


def _bad_value(where, value, exc, error_id="django_cron.E013"):
    return Error(f"{where} is {value!r}, {exc}.", hint=exc.hint, id=error_id)


def _unknown_key(key):
    # Compared in capitals: the keys are, and "lease" is a plain typo of "LEASE".
    close = difflib.get_close_matches(str(key).upper(), conf.DEFAULTS, n=1)
    if close:
        hint = f"django_cron ignores it; did you mean {close[0]!r}?"
    else:
        hint = f"django_cron ignores it. The keys it reads are {', '.join(conf.DEFAULTS)}."
    return Warning(f"DJANGO_CRON has an unknown key {key!r}.", hint=hint, id="django_cron.W005")


# Caches that live inside one process: a lock there coordinates nothing.
LOCAL_CACHES = (
    "django.core.cache.backends.locmem.LocMemCache",
    "django.core.cache.backends.dummy.DummyCache",
)


def _check_lock_cache(backend, options):
    """Check the cache alias that a cache-based lock backend names."""
    needs = getattr(backend, "needs_cache", None)
    if needs is None:
        return []
    alias = options.get("alias", "default")
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
    # A project without URLs (a worker-only settings module) routes nothing.
    if conf.get("PING_KEY") or not getattr(settings, "ROOT_URLCONF", None):
        return []
    try:
        reverse("django_cron:ping", kwargs={"key": "k"})
    except NoReverseMatch:
        return []
    return [
        Warning(
            "django_cron's URLs are included but DJANGO_CRON['PING_KEY'] is empty, "
            "so cron/ping/<key>/ answers 404 to everyone.",
            hint=f"Set PING_KEY. {conf.PING_KEY_HINT}.",
            id="django_cron.W001",
        )
    ]


# Shorter than this, a key falls to guessing sooner than a session cookie would.
SHORTEST_PING_KEY = 32
# What a URL path cannot carry as it is: "/" ends the key, "?" and "#" end the path.
URL_UNSAFE = set("/?#% \t\r\n")


def check_ping_key_strength(app_configs=None, **kwargs):
    """Warn about a ping key that is short, or that a URL path cannot carry."""
    key = conf.get("PING_KEY")
    if not key:
        return []
    warnings = []
    if len(key) < SHORTEST_PING_KEY:
        warnings.append(
            Warning(
                f"DJANGO_CRON['PING_KEY'] has {len(key)} characters, fewer than "
                f"{SHORTEST_PING_KEY}: it is in every access log and monitor, and short "
                "enough to guess.",
                hint=f"{conf.PING_KEY_HINT}.",
                id="django_cron.W008",
            )
        )
    unsafe = sorted(URL_UNSAFE & set(key)) + sorted({c for c in key if not c.isprintable()})
    if unsafe:
        warnings.append(
            Warning(
                f"DJANGO_CRON['PING_KEY'] holds {', '.join(map(repr, unsafe))}, which a ping "
                "URL cannot carry as it is: the monitor's requests would miss the key.",
                hint=f"{conf.PING_KEY_HINT}: letters, digits, - and _ only.",
                id="django_cron.W009",
            )
        )
    return warnings


def check_cronjobs(app_configs=None, **kwargs):
    """Check django-crontab's CRONJOBS entries as AppConfig.ready() reads them."""
    errors = []
    for where, entry, job in read_cronjobs():
        if isinstance(job, Exception):
            errors.append(_bad_entry(where, entry, job, CRONJOBS_HINTS))
        elif shell_suffix(entry) is not None:
            errors.append(
                Warning(
                    f"{where} has a shell suffix {shell_suffix(entry)!r}, which is ignored: "
                    "jobs run inside Django here, not from a shell.",
                    hint="Write to a file from the job itself, or read its output in the admin.",
                    id="django_cron.W004",
                )
            )
    return errors


def check_cron_classes(app_configs=None, **kwargs):
    """Check Tivix django-cron's CRON_CLASSES entries as AppConfig.ready() reads them."""
    return [
        _bad_entry(where, entry, job_class, CRON_CLASSES_HINTS)
        for where, entry, job_class in read_cron_classes()
        if isinstance(job_class, Exception)
    ]


# The id and the hint for each way an entry can be wrong, by the exception
# that read_cronjobs() and read_cron_classes() give in place of the job.
CRONJOBS_HINTS = {
    ValueError: (
        "django_cron.E011",
        "Make CRONJOBS a list of (schedule, 'dotted.path'[, args[, kwargs]]) tuples, "
        "args a list and kwargs a dict, as django-crontab takes them.",
    ),
    ImportError: (
        "django_cron.E014",
        "Correct the dotted path, or the error its module raises on import.",
    ),
    TypeError: ("django_cron.E015", "Point the entry at a function."),
}
CRON_CLASSES_HINTS = {
    ValueError: (
        "django_cron.E011",
        "Make CRON_CLASSES a list of dotted paths as strings, e.g. ['myapp.cron.MyCronJob'].",
    ),
    ImportError: CRONJOBS_HINTS[ImportError],
    TypeError: (
        "django_cron.E015",
        "Point the entry at a subclass of django_cron.CronJobBase; register other jobs "
        "with django_cron.register.",
    ),
}


def _bad_entry(where, entry, exc, hints):
    error_id, hint = next(hints[kind] for kind in hints if isinstance(exc, kind))
    return Error(f"{where} = {entry!r} {exc}.", hint=hint, id=error_id)


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


def check_unregistered_jobs(app_configs=None, **kwargs):
    """
    Warn about a Job subclass defined in an app's cron.py that nothing
    registered: it would never run, and nothing else would say so. A class
    that registered jobs derive from is a base class, not a forgotten job.
    """
    registered = [d.target for d in cronScheduler.all() if d.is_class]
    warnings = []
    for config in app_configs or apps.get_app_configs():
        if config.name == "django_cron":
            continue  # Tivix's optional job, run only when CRON_CLASSES names it
        module = sys.modules.get(f"{config.name}.cron")
        if module is None:
            continue  # not discovered (AUTODISCOVER off, or no cron.py)
        for value in vars(module).values():
            if not (
                inspect.isclass(value)
                and issubclass(value, Job)
                and value.__module__ == module.__name__
            ):
                continue
            if any(issubclass(job, value) for job in registered):
                continue
            path = f"{module.__name__}.{value.__qualname__}"
            warnings.append(
                Warning(
                    f"{path} is a Job but is never registered, so it never runs.",
                    hint=(
                        f"Register it: cronScheduler.register({value.__name__}) after "
                        "the class, or @register above it. Delete it if it is not needed."
                    ),
                    obj=path,
                    id="django_cron.W006",
                )
            )
    return warnings


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
    else:
        try:
            Cron(str(expression))  # the fields alone: the time zone has a check of its own
        except ValueError as exc:
            errors.append(
                Error(
                    f"Job {name!r} has an unusable schedule: {exc}.",
                    hint="Use five fields (minute hour day month weekday), six with seconds "
                    "first, or @hourly, @daily, @weekly, @monthly.",
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
    if not errors:
        try:
            _ = definition.schedule
        except ValueError as exc:
            # The fields are good: start_date or end_date is not.
            errors.append(
                Error(
                    f"Job {name!r} has an unusable schedule: {exc}.",
                    hint="Give start_date and end_date as datetimes or ISO 8601 strings "
                    "such as '2026-05-01T09:00', the end after the start.",
                    obj=name,
                    id="django_cron.E001",
                )
            )
    if not errors and definition.problem is not None:
        # A schedule that parses but can never fire, such as "0 0 30 2 *", or
        # a name too long to store: the runner would skip the job.
        errors.append(
            Error(
                f"Job {name!r} cannot run: {definition.problem}.",
                hint="Give it a schedule that comes due (February has no 30th) and a "
                "name of at most 200 characters.",
                obj=name,
                id="django_cron.E016",
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
    errors.extend(_check_operator_options(definition))
    return errors


def _check_operator_options(definition):
    """Check that operator_options names options of the job's command."""
    name, wanted = definition.name, definition._option("operator_options")
    if wanted is None:
        return []

    def error(problem, hint):
        return Error(f"Job {name!r} {problem}.", hint=hint, obj=name, id="django_cron.E017")

    if definition.command is None:
        return [
            error(
                "sets operator_options, which only a management command has",
                "Give a function or a Job operator_kwargs=True, or register_command() a command.",
            )
        ]
    if isinstance(wanted, str) or not all(isinstance(option, str) for option in wanted):
        return [error(f"has operator_options {wanted!r}", "Give a list: ['--indent'].")]
    try:
        parser = command_parser(definition.command)
    except Exception as exc:
        return [error(f"runs the command {definition.command!r}, which cannot load: {exc!r}", "")]
    unknown = []
    for option in wanted:
        try:
            options_named(parser, [option])
        except KeyError:
            unknown.append(option)
    if not unknown:
        return []
    known = [action.option_strings[-1] for action in parser._actions if action.option_strings]
    return [
        error(
            f"lets operators set {', '.join(map(repr, unknown))}, which "
            f"{definition.command} has no option of",
            f"Name options of {definition.command}: {', '.join(known)}.",
        )
    ]
