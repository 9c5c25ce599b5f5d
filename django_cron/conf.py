"""
The ``DJANGO_CRON`` settings, with their defaults and what each accepts.

Values are read from ``django.conf.settings`` at access time, never cached, so
``override_settings`` works in tests. One validator per key serves both the
system check (django_cron.E013) and every read: a bad value read at run time
is logged once and replaced by its default, so a typo in settings cannot fail
a request.
"""

import difflib
import functools
import logging
import threading
from datetime import timedelta
from typing import Any

from django.conf import settings
from django.core.checks import Error, Warning
from django.core.signals import setting_changed
from django.utils.module_loading import import_string

from .legacy_settings import lock_backend
from .schedules import MISSED_POLICIES, parse_every

logger = logging.getLogger("django_cron")

DEFAULTS = {
    # Discover every installed app's cron.py from AppConfig.ready().
    "AUTODISCOVER": True,
    # Dotted path of the lock backend, and keyword arguments for it.
    "LOCK_BACKEND": "django_cron.locks.database.DatabaseLock",
    "LOCK_OPTIONS": {},
    # Database alias that holds job state, run history and database locks.
    "DATABASE": "default",
    # Seconds between two due checks of one process (middleware, worker).
    # None falls back to the 2009 setting CRON_POLLING_FREQUENCY, then to 60.
    "POLLING_FREQUENCY": None,
    # Seconds a claimed run lasts without a heartbeat before it counts as dead
    # (lock-at-most-for). The heartbeat extends it every third of that while
    # the job runs, so it bounds how long a crash goes unnoticed, not job length.
    "LEASE": 300,
    "HEARTBEAT": True,
    # Seconds a claim is held at least, however fast the job (lock-at-least-for).
    "MIN_LEASE": 0,
    # What a job does after missing several slots: "coalesce", "skip" or "catch_up".
    "MISSED": "coalesce",
    # Seconds past its due time before a job counts as overdue in ``cron status``.
    "GRACE": 300,
    # Seconds of jobs the middleware runs after one response before it leaves
    # the rest for the next request: well under gunicorn's 30 s worker timeout.
    "BUDGET": 10,
    # Run the middleware's and ping's jobs in a background thread instead of in
    # the worker after the response (always so under ASGI).
    "BACKGROUND": False,
    # The secret in cron/ping/<key>/ and for job details in cron/status/.
    # Empty turns the ping endpoint off.
    "PING_KEY": "",
    # Mail ADMINS after this many failures in a row of one job (and once when
    # it recovers); None never mails. Jobs override it with alert_after.
    "ALERT_AFTER": 3,
    # Seconds before a failed run's first retry (jobs that set retries).
    "RETRY_DELAY": 60,
    # Seconds an outbound ping (start, success, fail URLs) may take.
    "PING_TIMEOUT": 5,
    # Characters of a run's stdout and stderr kept in its history.
    "OUTPUT_LIMIT": 65536,
    # Queue jobs into Django's Tasks framework instead of running them where
    # the runner runs: False, True (the default task backend) or a backend alias.
    "ENQUEUE": False,
    # Days of run history to keep (None keeps everything), and rows deleted per batch.
    # The audit trail and finished one-off runs are kept as long.
    "HISTORY_DAYS": 30,
    "PRUNE_BATCH_SIZE": 1000,
    # One-off runs of one job waiting to run, at most (None: no limit). Each is
    # a row and a claim; a script calling run/ in a loop should hear 429 early.
    "MAX_PENDING_ONE_OFFS": 1000,
    # Seconds between two runs of a schedule kept in the database, at least:
    # one set from the admin or the API cannot make a job run every millisecond.
    "MIN_INTERVAL": 1,
}

LEGACY_POLLING_DEFAULT = 60

# The longest duration or history any key accepts: far beyond any real use,
# and short enough that now plus or minus it is still a date every database
# and datetime can hold (a larger GRACE would make ``cron status`` overflow).
MAX_DAYS = 36500
MAX_SECONDS = MAX_DAYS * 86400.0


class InvalidSetting(ValueError):
    """A value that its setting does not accept, with a hint at what it does accept."""

    def __init__(self, problem: str, hint: str):
        super().__init__(problem)
        self.hint = hint


# Validators: each returns the value to use, or raises InvalidSetting. ------

DURATION_HINT = "Use seconds (60), a timedelta, or a string such as '90s', '5m' or '1h30m'."


def _seconds(value) -> float:
    """Return a duration in seconds, zero and negative ones included."""
    if isinstance(value, bool):
        raise ValueError(value)
    if isinstance(value, (int, float)):
        return float(value)
    if isinstance(value, timedelta):
        return value.total_seconds()
    if not isinstance(value, str):
        raise ValueError(value)
    return _string_seconds(value)


# Settings are read at every due check; parse each string once.
@functools.lru_cache(maxsize=64)
def _string_seconds(value: str) -> float:
    try:
        return parse_every(value).total_seconds()
    except ValueError:
        # parse_every refuses zero, which MIN_LEASE, GRACE and RETRY_DELAY accept:
        # "0s" is zero when the same string with ones for zeros is a duration.
        if set(value.strip()) <= set("0.smhd"):
            parse_every(value.replace("0", "1"))
            return 0.0
        raise


def _duration(allow_zero: bool = False, optional: bool = False, hint: str = DURATION_HINT):
    problem = "not a duration of 0 or more" if allow_zero else "not a positive duration"

    def clean(value):
        if value is None and optional:
            return None
        try:
            seconds = _seconds(value)
        except (ValueError, OverflowError):
            raise InvalidSetting(problem, hint) from None
        if seconds > MAX_SECONDS:
            raise InvalidSetting(f"longer than {MAX_DAYS} days", hint)
        # Written so that NaN fails too.
        if not (seconds > 0 or (allow_zero and seconds == 0)):
            raise InvalidSetting(problem, hint)
        return seconds

    return clean


def _integer(minimum: int, hint: str, optional: bool = False):
    def clean(value):
        if value is None and optional:
            return None
        if isinstance(value, bool) or not isinstance(value, int) or value < minimum:
            raise InvalidSetting(f"not a whole number of {minimum} or more", hint)
        return value

    return clean


def _boolean(value):
    if not isinstance(value, bool):
        raise InvalidSetting("not True or False", "Use True or False.")
    return value


def _history_days(value):
    if value is None:
        return None
    if isinstance(value, bool) or not isinstance(value, (int, float)) or not 0 < value <= MAX_DAYS:
        raise InvalidSetting(
            f"not a number of days above 0 and at most {MAX_DAYS}",
            "Use a number of days such as 30, or None to keep every run.",
        )
    return value


def _missed(value):
    if value not in MISSED_POLICIES:
        choices = ", ".join(repr(policy) for policy in MISSED_POLICIES)
        raise InvalidSetting("not a policy for missed slots", f"Use one of {choices}.")
    return value


def _enqueue(value):
    if not (isinstance(value, bool) or (isinstance(value, str) and value)):
        raise InvalidSetting(
            "not True, False or a task backend alias",
            "Use False, True for the default task backend, or the alias of a backend in TASKS.",
        )
    return value


def _database(value):
    if not isinstance(value, str) or value not in settings.DATABASES:
        aliases = ", ".join(repr(alias) for alias in settings.DATABASES)
        raise InvalidSetting("not an alias in DATABASES", f"Use one of {aliases}.")
    return value


def _lock_backend(value):
    parts = value.split(".") if isinstance(value, str) else []
    if len(parts) < 2 or not all(part.isidentifier() for part in parts):
        raise InvalidSetting(
            "not a dotted path",
            "Use a dotted path such as 'django_cron.locks.database.DatabaseLock'.",
        )
    return value


def _lock_options(value):
    if not isinstance(value, dict):
        raise InvalidSetting(
            "not a dict",
            "Use a dict of keyword arguments for the lock backend, such as {'alias': 'default'}.",
        )
    return value


# How to make a ping key: URL-safe, so that it goes into the ping URL as it is.
PING_KEY_HINT = (
    'Use a long random string, such as python -c "import secrets; '
    'print(secrets.token_urlsafe(32))" prints'
)


def _ping_key(value):
    if not isinstance(value, str):
        raise InvalidSetting("not a string", f"{PING_KEY_HINT}, or '' to turn ping off.")
    return value


VALIDATORS = {
    "AUTODISCOVER": _boolean,
    "LOCK_BACKEND": _lock_backend,
    "LOCK_OPTIONS": _lock_options,
    "DATABASE": _database,
    "POLLING_FREQUENCY": _duration(
        optional=True,
        hint="Use seconds (60), a timedelta, or a string such as '90s', '5m' or '1h30m'; "
        "or None for CRON_POLLING_FREQUENCY, else 60 seconds.",
    ),
    "LEASE": _duration(),
    "HEARTBEAT": _boolean,
    "MIN_LEASE": _duration(allow_zero=True),
    "MISSED": _missed,
    "GRACE": _duration(allow_zero=True),
    "BUDGET": _duration(),
    "BACKGROUND": _boolean,
    "PING_KEY": _ping_key,
    "ALERT_AFTER": _integer(1, "Use a number of failures such as 3, or None.", optional=True),
    "RETRY_DELAY": _duration(allow_zero=True),
    "PING_TIMEOUT": _duration(),
    "OUTPUT_LIMIT": _integer(0, "Use a number of characters; 0 keeps no output."),
    "ENQUEUE": _enqueue,
    "HISTORY_DAYS": _history_days,
    "PRUNE_BATCH_SIZE": _integer(1, "Use a number of rows such as 1000."),
    "MAX_PENDING_ONE_OFFS": _integer(
        1, "Use a number of one-off runs such as 1000, or None for no limit.", optional=True
    ),
    "MIN_INTERVAL": _duration(allow_zero=True),
}

clean_legacy_polling_frequency = _duration()


def clean(key: str, value: Any) -> Any:
    """Return ``value`` as DJANGO_CRON[key] is used; raise InvalidSetting if unusable."""
    return VALIDATORS[key](value)


def user_settings() -> dict:
    """Return the DJANGO_CRON dict; raise InvalidSetting if it is not one."""
    user = getattr(settings, "DJANGO_CRON", {})
    if not isinstance(user, dict):
        raise InvalidSetting(
            "not a dict", "Use a dict such as {'POLLING_FREQUENCY': '5m'}, or leave it out."
        )
    return user


# Reading at run time ---------------------------------------------------------

# (setting, repr of the bad value) already logged by this process.
_warned = set()
_warned_lock = threading.Lock()


def _warn_once(name: str, value, exc: InvalidSetting, used: str) -> None:
    key = (name, repr(value))
    with _warned_lock:
        if key in _warned:
            return
        _warned.add(key)
    logger.warning(
        "%s is %r, %s; using %s instead. %s manage.py check lists every bad setting.",
        name,
        value,
        exc,
        used,
        exc.hint,
    )


def _forget_warnings(*, setting, **kwargs):
    # A setting changed (override_settings): its new bad values are news.
    if setting in ("DJANGO_CRON", "CRON_POLLING_FREQUENCY", "DATABASES"):
        with _warned_lock:
            _warned.clear()


setting_changed.connect(_forget_warnings)


def _user_or_empty() -> dict:
    try:
        return user_settings()
    except InvalidSetting as exc:
        _warn_once("DJANGO_CRON", settings.DJANGO_CRON, exc, "the defaults")
        return {}


def get(key: str) -> Any:
    """Return the DJANGO_CRON setting ``key``, or its default if unset or unusable."""
    user = _user_or_empty()
    if key not in user:
        if key in ("LOCK_BACKEND", "LOCK_OPTIONS") and "LOCK_BACKEND" not in user:
            # Tivix's DJANGO_CRON_LOCK_BACKEND, mapped onto a lock of ours.
            tivix = lock_backend()
            if tivix is not None:
                return tivix[0] if key == "LOCK_BACKEND" else tivix[1]
        return DEFAULTS[key]
    try:
        return VALIDATORS[key](user[key])
    except InvalidSetting as exc:
        _warn_once(f"DJANGO_CRON[{key!r}]", user[key], exc, repr(DEFAULTS[key]))
        return DEFAULTS[key]


def _legacy_polling_frequency() -> float:
    value = getattr(settings, "CRON_POLLING_FREQUENCY", None)
    if value is None:
        return float(LEGACY_POLLING_DEFAULT)
    try:
        return clean_legacy_polling_frequency(value)
    except InvalidSetting as exc:
        _warn_once("CRON_POLLING_FREQUENCY", value, exc, repr(float(LEGACY_POLLING_DEFAULT)))
        return float(LEGACY_POLLING_DEFAULT)


def polling_frequency() -> float:
    """Return the polling interval in seconds."""
    value = _user_or_empty().get("POLLING_FREQUENCY")
    if value is None:
        return _legacy_polling_frequency()
    try:
        return VALIDATORS["POLLING_FREQUENCY"](value)
    except InvalidSetting as exc:
        # The warning names the interval actually used, not the None behind it.
        fallback = _legacy_polling_frequency()
        _warn_once("DJANGO_CRON['POLLING_FREQUENCY']", value, exc, repr(fallback))
        return fallback


def database() -> str:
    """Return the alias of the database that holds job state and history."""
    return get("DATABASE")


# Checks ------------------------------------------------------------------------


def check() -> list:
    """Check every DJANGO_CRON value with the validators that reading it uses."""
    errors = []
    try:
        user = user_settings()
    except InvalidSetting as exc:
        errors.append(_bad_value("DJANGO_CRON", settings.DJANGO_CRON, exc))
        user = {}
    # What the runtime will use: each good value, else the default.
    values = dict(DEFAULTS)
    for key, value in user.items():
        if key not in DEFAULTS:
            errors.append(_unknown_key(key))
            continue
        try:
            values[key] = clean(key, value)
        except InvalidSetting as exc:
            # A bad MISSED keeps the id it had before values were checked in general.
            error_id = "django_cron.E008" if key == "MISSED" else "django_cron.E013"
            errors.append(_bad_value(f"DJANGO_CRON[{key!r}]", value, exc, error_id))
    legacy = getattr(settings, "CRON_POLLING_FREQUENCY", None)
    if legacy is not None:
        try:
            clean_legacy_polling_frequency(legacy)
        except InvalidSetting as exc:
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
        # Each backend checks its own options (a cache lock, its cache).
        check_backend = getattr(backend, "check", None)
        if check_backend is not None:
            errors.extend(check_backend(values["LOCK_OPTIONS"]))
    # django_cron.E007, "USE_TZ is False", is retired: times are then naive, as Django's.
    return errors


def _bad_value(where, value, exc, error_id="django_cron.E013"):
    return Error(f"{where} is {value!r}, {exc}.", hint=exc.hint, id=error_id)


def _unknown_key(key):
    # Compared in capitals: the keys are, and "lease" is a plain typo of "LEASE".
    close = difflib.get_close_matches(str(key).upper(), DEFAULTS, n=1)
    if close:
        hint = f"django_cron ignores it; did you mean {close[0]!r}?"
    else:
        hint = f"django_cron ignores it. The keys it reads are {', '.join(DEFAULTS)}."
    return Warning(f"DJANGO_CRON has an unknown key {key!r}.", hint=hint, id="django_cron.W005")
