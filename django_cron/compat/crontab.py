"""
django-crontab's ``CRONJOBS`` setting, read as jobs:

    CRONJOBS = [
        ("*/5 * * * *", "myapp.cron.my_scheduled_job"),
        ("0 4 * * 0", "django.core.management.call_command", ["clearsessions"]),
        ("0 0 * * 0", "myapp.cron.backup", ["auth"], {"indent": 4}),
    ]
"""

from django.conf import settings
from django.utils.module_loading import import_string

from ..jobs import JobDefinition

CALL_COMMAND = "django.core.management.call_command"


def entry_name(entry) -> str:
    """A readable, stable name: the command and its arguments, or the function's path."""
    path, args = entry[1], list(entry[2]) if len(entry) > 2 else []
    if path == CALL_COMMAND and args:
        return "crontab:" + " ".join(str(arg) for arg in args)
    return f"crontab:{path}"


def register_cronjobs(registry) -> None:
    """Register every entry of the CRONJOBS setting; checks report malformed ones."""
    seen = {}
    for entry in getattr(settings, "CRONJOBS", ()):
        if not isinstance(entry, (list, tuple)) or not 2 <= len(entry) <= 5:
            continue  # django_cron.E011 says what is wrong
        expression, path = entry[0], entry[1]
        args = entry[2] if len(entry) > 2 else ()
        kwargs = entry[3] if len(entry) > 3 else {}
        name = entry_name(entry)
        seen[name] = seen.get(name, 0) + 1
        if seen[name] > 1:
            name = f"{name} ({seen[name]})"
        registry.add(
            JobDefinition(import_string(path), args, kwargs, {"schedule": expression, "name": name})
        )
