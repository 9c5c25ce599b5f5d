"""
django-crontab's ``CRONJOBS`` setting, read as jobs:

    CRONJOBS = [
        ("*/5 * * * *", "myapp.cron.my_scheduled_job"),
        ("0 4 * * 0", "django.core.management.call_command", ["clearsessions"]),
        ("0 0 * * 0", "myapp.cron.backup", ["auth"], {"indent": 4}),
        ("0 3 * * *", "myapp.cron.tidy", ">> /var/log/tidy.log"),
    ]

As in django-crontab, a string in third place is a shell suffix, not args.
"""

import logging
from collections.abc import Iterator

from django.conf import settings
from django.core.checks import Warning
from django.utils.module_loading import import_string

from ..jobs import JobDefinition
from .entries import IMPORT_HINT, bad_entry

logger = logging.getLogger("django_cron")

CALL_COMMAND = "django.core.management.call_command"


def _args(entry) -> tuple:
    # django-crontab reads a string in third place as the shell suffix, and
    # runs such an entry without arguments (its kwargs, if any, still apply).
    return tuple(entry[2]) if len(entry) > 2 and not isinstance(entry[2], str) else ()


def shell_suffix(entry) -> str | None:
    """Return the shell suffix of an entry (``"> file.log"``), which is not used here."""
    if len(entry) > 2 and isinstance(entry[2], str):
        return entry[2]
    return entry[4] if len(entry) > 4 else None


def entry_name(entry) -> str:
    """A readable, stable name: the command and its arguments, or the function's path."""
    path, args = entry[1], _args(entry)
    if path == CALL_COMMAND and args:
        return "crontab:" + " ".join(str(arg) for arg in args)
    return f"crontab:{path}"


def _target(entry):
    """Return the function an entry names; raise ValueError, ImportError or TypeError if wrong."""
    if not isinstance(entry, (list, tuple)) or not 2 <= len(entry) <= 5:
        raise ValueError("is not (schedule, 'dotted.path'[, args[, kwargs]])")
    path = entry[1]
    if not isinstance(path, str):
        raise ValueError("has a path that is not a string")
    if len(entry) > 2 and not isinstance(entry[2], (list, tuple, str)):
        raise ValueError("has args that are not a list")
    if len(entry) > 3 and not isinstance(entry[3], dict):
        raise ValueError("has kwargs that are not a dict")
    try:
        target = import_string(path)
    except Exception as exc:
        # Whatever the module raises on import, the site must still start.
        raise ImportError(f"names {path!r}, which cannot be imported: {exc}") from exc
    if not callable(target):
        raise TypeError(f"names a {type(target).__name__}, not a function")
    return target


def read_cronjobs() -> Iterator[tuple[str, object, JobDefinition | Exception]]:
    """
    Yield ``(where, entry, job)`` for each entry of the CRONJOBS setting.

    An entry that cannot be a job yields the reason in place of the job: a
    ValueError for a malformed entry, an ImportError for a path that does not
    import, a TypeError for a path to something other than a function. The
    system checks report these; AppConfig.ready() skips them.
    """
    entries = getattr(settings, "CRONJOBS", ())
    if not isinstance(entries, (list, tuple)):
        yield "CRONJOBS", entries, ValueError("is not a list")
        return
    seen = {}
    for index, entry in enumerate(entries):
        where = f"CRONJOBS[{index}]"
        try:
            target = _target(entry)
        except (ValueError, ImportError, TypeError) as exc:
            yield where, entry, exc
            continue
        args = _args(entry)
        kwargs = entry[3] if len(entry) > 3 else {}
        name = entry_name(entry)
        seen[name] = seen.get(name, 0) + 1
        if seen[name] > 1:
            name = f"{name} ({seen[name]})"
        options = {"schedule": entry[0], "name": name}
        yield where, entry, JobDefinition(target, args, kwargs, options)


def register_cronjobs(registry) -> None:
    """Register every usable entry of the CRONJOBS setting; log and skip the others."""
    for where, entry, job in read_cronjobs():
        if isinstance(job, Exception):
            logger.warning("%s = %r %s; it is skipped (see manage.py check).", where, entry, job)
        else:
            registry.add(job)


# The id and the hint for each way an entry can be wrong, by the exception
# that read_cronjobs() gives in place of the job.
CRONJOBS_HINTS = {
    ValueError: (
        "django_cron.E011",
        "Make CRONJOBS a list of (schedule, 'dotted.path'[, args[, kwargs]]) tuples, "
        "args a list and kwargs a dict, as django-crontab takes them.",
    ),
    ImportError: IMPORT_HINT,
    TypeError: ("django_cron.E015", "Point the entry at a function."),
}


def check() -> list:
    """Check django-crontab's CRONJOBS entries as AppConfig.ready() reads them."""
    errors = []
    for where, entry, job in read_cronjobs():
        if isinstance(job, Exception):
            errors.append(bad_entry(where, entry, job, CRONJOBS_HINTS))
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
