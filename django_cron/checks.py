"""
System checks: bad settings and job definitions fail ``manage.py check`` with
an id and a hint.

Each rule lives with what it checks: the settings in ``conf``, each job in
``JobDefinition.check()``, each lock backend in its ``check()``, the ping key
in ``credentials``, the settings of other schedulers in ``compat``. This
module only gathers them and registers them with Django.
"""

from django.core import checks

from . import conf, legacy_settings
from .compat import crontab
from .compat.tivix import jobs as tivix_jobs
from .credentials import check_ping_key as _check_ping_key
from .credentials import check_ping_key_strength as _check_ping_key_strength
from .registry import registry


def check_settings(app_configs=None, **kwargs):
    """Check every DJANGO_CRON value, and the lock backend with its options."""
    return conf.check()


def check_jobs(app_configs=None, **kwargs):
    """Check each registered job, and that no two jobs share a name."""
    return registry.check()


def check_unregistered_jobs(app_configs=None, **kwargs):
    """Warn about Job subclasses in a cron.py that nothing registered."""
    return registry.check_unregistered(app_configs)


def check_cronjobs(app_configs=None, **kwargs):
    """Check django-crontab's CRONJOBS entries as AppConfig.ready() reads them."""
    return crontab.check()


def check_cron_classes(app_configs=None, **kwargs):
    """Check Tivix django-cron's CRON_CLASSES entries as AppConfig.ready() reads them."""
    return tivix_jobs.check_cron_classes()


def check_tivix_settings(app_configs=None, **kwargs):
    """Name each Tivix setting that is not honoured here, with what to use instead."""
    return legacy_settings.check()


def check_ping_key(app_configs=None, **kwargs):
    """Warn when the ping URL is routed but no key can open it."""
    return _check_ping_key()


def check_ping_key_strength(app_configs=None, **kwargs):
    """Warn about a ping key that is short, or that a URL path cannot carry."""
    return _check_ping_key_strength()


def register() -> None:
    """Register every check of django_cron's (AppConfig.ready())."""
    for check in (
        check_settings,
        check_jobs,
        check_unregistered_jobs,
        check_cronjobs,
        check_cron_classes,
        check_tivix_settings,
    ):
        checks.register(check, "django_cron")
    checks.register(check_ping_key, "django_cron", checks.Tags.urls)
    checks.register(check_ping_key_strength, "django_cron", checks.Tags.security)
