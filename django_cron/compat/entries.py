"""
Settings entries that name jobs (CRONJOBS, CRON_CLASSES): the check error for
one that cannot be a job.
"""

from django.core.checks import Error

# The hint for a settings entry whose dotted path does not import.
IMPORT_HINT = (
    "django_cron.E014",
    "Correct the dotted path, or the error its module raises on import.",
)


def bad_entry(where: str, entry, exc: Exception, hints: dict) -> Error:
    """Return the check error for a settings entry that cannot be a job, by the kind of ``exc``."""
    error_id, hint = next(hints[kind] for kind in hints if isinstance(exc, kind))
    return Error(f"{where} = {entry!r} {exc}.", hint=hint, id=error_id)
