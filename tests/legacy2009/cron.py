# cron.py of a mailbox app, as written for django-cron in 2009. Kept verbatim
# apart from Python 3 syntax: the revival must run it unchanged.
from django_cron import cronScheduler, Job  # noqa: I001 (as written in 2009)

from tests.effects import record


class CheckMail(Job):
    """
    Cron Job that checks the lgr users mailbox and adds any approved senders'
    attachments to the db
    """

    # run every 300 seconds (5 minutes)
    run_every = 300

    def job(self):
        # This will be executed every 5 minutes
        record("CheckMail")


cronScheduler.register(CheckMail)


class PurgeSessions(Job):
    # The older style: override run() and take the arguments given to register().
    run_every = 3600

    def run(self, *args, **kwargs):
        record("PurgeSessions", *args, **kwargs)


cronScheduler.register(PurgeSessions, "sessions", days=30)


class Nightly(Job):
    # No run_every: the 2009 default of one day.
    def job(self):
        record("Nightly")


cronScheduler.register(Nightly)
