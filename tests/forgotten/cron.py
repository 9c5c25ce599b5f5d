"""A cron.py with the mistake that django_cron.W006 catches: a Job never registered."""

from django_cron import Job, cronScheduler


class Report(Job):
    """A base class: the job below derives from it and is registered."""

    run_every = 3600

    def job(self):
        pass


class WeeklyReport(Report):
    run_every = 7 * 86400


cronScheduler.register(WeeklyReport)


class CheckMail(Job):
    """Written, and then never registered: without the warning it never runs."""

    run_every = 300

    def job(self):
        pass
