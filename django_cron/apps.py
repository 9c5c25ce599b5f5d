from django.apps import AppConfig
from django.core import checks


class DjangoCronConfig(AppConfig):
    name = "django_cron"
    verbose_name = "Cron"
    default_auto_field = "django.db.models.BigAutoField"

    def ready(self):
        from . import conf
        from .checks import (
            check_cron_classes,
            check_cronjobs,
            check_jobs,
            check_ping_key,
            check_settings,
        )
        from .registry import autodiscover

        checks.register(check_settings, "django_cron")
        checks.register(check_jobs, "django_cron")
        checks.register(check_cronjobs, "django_cron")
        checks.register(check_cron_classes, "django_cron")
        checks.register(check_ping_key, "django_cron", checks.Tags.urls)
        from .compat.crontab import register_cronjobs
        from .compat.tivix import register_cron_classes
        from .registry import cronScheduler

        if conf.get("AUTODISCOVER"):
            autodiscover()
        # Jobs named in settings, the way Tivix django-cron and django-crontab take them.
        # A bad entry is logged and skipped here, and reported by manage.py check:
        # it must not keep the site from starting.
        register_cron_classes(cronScheduler)
        register_cronjobs(cronScheduler)
