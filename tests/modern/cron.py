from datetime import timedelta

from django_cron import Job, register
from tests.effects import record


@register(schedule="*/5 * * * *")
def send_digest():
    record("send_digest")


@register(every="90s", name="reports.refresh")
def refresh_reports():
    record("refresh_reports")


@register
class Cleanup(Job):
    schedule = "@daily"
    timezone = "Europe/Berlin"
    lease = 120

    def job(self):
        record("Cleanup")


def rotate(kind):
    record("rotate", kind)


register(rotate, "logs", every=timedelta(hours=2), name="rotate.logs")
