"""
Tivix django-cron's FailedRunsNotificationCronJob, for sites that list it in
CRON_CLASSES. ``alert_after`` (and ``MIN_NUM_FAILURES`` on a Tivix class)
already mails ADMINS after failures in a row, and once on recovery; this job
is kept so that such sites run unchanged.
"""

from django.conf import settings
from django.core.mail import send_mail

from .compat.tivix.jobs import CronJobBase, read_cron_classes
from .compat.tivix.log import latest_runs
from .compat.tivix.schedule import TivixSchedule as Schedule


def _admin_addresses():
    # Django 6.0 takes plain addresses; before, (name, address) pairs.
    return [admin if isinstance(admin, str) else admin[1] for admin in settings.ADMINS]


class FailedRunsNotificationCronJob(CronJobBase):
    """Mail ADMINS about each CRON_CLASSES job whose last MIN_NUM_FAILURES runs all failed."""

    RUN_EVERY_MINS = 30
    schedule = Schedule(run_every_mins=RUN_EVERY_MINS)
    code = "django_cron.FailedRunsNotificationCronJob"

    def do(self):
        prefix = getattr(settings, "FAILED_RUNS_CRONJOB_EMAIL_PREFIX", "")
        told = []
        for _where, _path, job_class in read_cron_classes():
            if isinstance(job_class, Exception) or job_class is type(self):
                continue
            needed = job_class.MIN_NUM_FAILURES or 10
            latest = latest_runs(job_class.code, needed)
            if len(latest) < needed or any(log.is_success for log in latest):
                continue
            body = "".join(f"Job ran at {log.start_time}:\n\n{log.message}\n\n" for log in latest)
            send_mail(
                f"{prefix}{job_class.code} failed {needed} times in a row!",
                body,
                settings.DEFAULT_FROM_EMAIL,
                _admin_addresses(),
            )
            told.append(job_class.code)
        return f"Mailed about {', '.join(told)}" if told else ""
