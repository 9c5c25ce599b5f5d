from django.apps import AppConfig
from django.core import checks


class DjangoCronConfig(AppConfig):
    name = "django_cron"
    verbose_name = "Cron"
    default_auto_field = "django.db.models.BigAutoField"

    def ready(self):
        from . import conf
        from .checks import check_jobs, check_ping_key, check_settings
        from .registry import autodiscover

        checks.register(check_settings, "django_cron")
        checks.register(check_jobs, "django_cron")
        checks.register(check_ping_key, "django_cron", checks.Tags.urls)
        if conf.get("AUTODISCOVER"):
            autodiscover()
