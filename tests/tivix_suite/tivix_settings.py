"""Settings for Tivix django-cron 0.6.0's suite: a Tivix site's, on SQLite."""

SECRET_KEY = "tivix-suite"
USE_TZ = True
TIME_ZONE = "UTC"
INSTALLED_APPS = [
    "django.contrib.admin",
    "django.contrib.auth",
    "django.contrib.contenttypes",
    "django.contrib.sessions",
    "django.contrib.messages",
    "django_cron",
]
MIDDLEWARE = [
    "django.contrib.sessions.middleware.SessionMiddleware",
    "django.contrib.auth.middleware.AuthenticationMiddleware",
    "django.contrib.messages.middleware.MessageMiddleware",
]
TEMPLATES = [
    {
        "BACKEND": "django.template.backends.django.DjangoTemplates",
        "APP_DIRS": True,
        "OPTIONS": {
            "context_processors": [
                "django.template.context_processors.request",
                "django.contrib.auth.context_processors.auth",
                "django.contrib.messages.context_processors.messages",
            ]
        },
    }
]
DATABASES = {"default": {"ENGINE": "django.db.backends.sqlite3", "NAME": ":memory:"}}
CACHES = {"default": {"BACKEND": "django.core.cache.backends.locmem.LocMemCache"}}
ROOT_URLCONF = "tivix_urls"
CRON_CLASSES = [
    "test_crons.TestSuccessCronJob",
    "test_crons.TestErrorCronJob",
    "test_crons.Test5minsCronJob",
    "test_crons.TestRunAtTimesCronJob",
    "test_crons.Wait3secCronJob",
    "test_crons.RunOnWeekendCronJob",
    "test_crons.RunOnMonthDaysCronJob",
    "django_cron.cron.FailedRunsNotificationCronJob",
]
# The failing job's tracebacks would mix with the test runner's report.
LOGGING = {
    "version": 1,
    "disable_existing_loggers": False,
    "loggers": {"django_cron": {"handlers": [], "level": "CRITICAL", "propagate": False}},
}
