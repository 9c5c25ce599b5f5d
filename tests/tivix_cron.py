# Cron classes written for Tivix django-cron (its README's shape), listed in CRON_CLASSES.
from django_cron import CronJobBase, Schedule
from tests.effects import record


class MyCronJob(CronJobBase):
    RUN_EVERY_MINS = 120  # every 2 hours

    schedule = Schedule(run_every_mins=RUN_EVERY_MINS)
    code = "my_app.my_cron_job"  # a unique code

    def do(self):
        record("MyCronJob")
        return "2 reports sent"


class MyAtTimesJob(CronJobBase):
    RUN_AT_TIMES = ["11:30", "14:00", "23:15"]

    schedule = Schedule(run_at_times=RUN_AT_TIMES)
    code = "my_app.at_times"

    def do(self):
        record("MyAtTimesJob")


class FlakyJob(CronJobBase):
    schedule = Schedule(run_every_mins=60, retry_after_failure_mins=5)
    code = "my_app.flaky"
    ALLOW_PARALLEL_RUNS = True
    MIN_NUM_FAILURES = 4

    def do(self):
        raise RuntimeError("remote API down")
