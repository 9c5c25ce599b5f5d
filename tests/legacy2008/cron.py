# The 2008 layout: jobs imported from django_cron.base, registered on `cron`.
from django_cron.base import Job, cron
from tests.effects import record


class RebuildIndex(Job):
    run_every = 86400

    def job(self):
        record("RebuildIndex")


cron.register(RebuildIndex)
cron.register(RebuildIndex)  # registering twice was harmless in 2008 too
