"""
Tivix django-cron's settings: its lock backends, mapped onto ours, and a
check that names each of its settings not honoured here. A leaf below
``conf``, which reads it: the rest of Tivix's drop-in is ``compat/tivix/``.
"""

from django.conf import settings
from django.core import checks

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


def check(app_configs=None, **kwargs):
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
