import logging

from django.apps import AppConfig
from django.conf import settings
from django.db.backends.signals import connection_created

from . import conf
from .clock import add_sqlite_clock
from .compat.crontab import register_cronjobs
from .compat.tivix.jobs import log_run, register_cron_classes
from .registry import autodiscover, registry
from .signals import run_finished


class _DebugOrWarning(logging.Filter):
    """Pass warnings and errors always, the rest only while DEBUG is on."""

    def filter(self, record):
        return record.levelno >= logging.WARNING or settings.DEBUG


def log_to_console_by_default() -> None:
    """
    Give the "django_cron" logger a console handler if the site configured no
    logging for it: the runs that requests start then show in runserver's
    console while DEBUG is on, as Django's own requests do. Warnings show
    either way, as they did through Python's last-resort handler.
    """
    logger = logging.getLogger("django_cron")
    if logger.handlers or logger.level != logging.NOTSET or logging.getLogger().handlers:
        return
    handler = logging.StreamHandler()
    handler.addFilter(_DebugOrWarning())
    handler.setFormatter(
        logging.Formatter("[%(asctime)s] django_cron: %(message)s", "%d/%b/%Y %H:%M:%S")
    )
    logger.addHandler(handler)
    logger.setLevel(logging.INFO)


class DjangoCronConfig(AppConfig):
    name = "django_cron"
    verbose_name = "Cron"
    default_auto_field = "django.db.models.BigAutoField"

    def ready(self):
        # Imported here, not above: these modules import the models, which
        # cannot load before the app registry is ready.
        from . import checks, runner
        from .db_schedules import planning, rules  # noqa: F401 (their receivers connect)

        log_to_console_by_default()
        connection_created.connect(add_sqlite_clock, dispatch_uid="django_cron_sqlite_clock")
        # Tivix jobs' runs go to its CronJobLog too.
        run_finished.connect(log_run, dispatch_uid="django_cron_tivix_log")
        checks.register()
        # The 2009 cronScheduler.execute() runs a pass; the registry runs nothing itself.
        registry.runner = runner.run_due

        if conf.get("AUTODISCOVER"):
            autodiscover()
        # Jobs named in settings, the way Tivix django-cron and django-crontab take them.
        # A bad entry is logged and skipped here, and reported by manage.py check:
        # it must not keep the site from starting.
        register_cron_classes(registry)
        register_cronjobs(registry)
