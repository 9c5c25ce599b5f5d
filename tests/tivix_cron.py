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


class FailingUntilFixed(CronJobBase):
    schedule = Schedule(run_every_mins=60)
    code = "failing"
    broken = True

    def do(self):
        record("failing")
        if self.broken:
            raise RuntimeError("down")


class ThriceADay(CronJobBase):
    schedule = Schedule(run_at_times=["01:00", "02:00", "03:00"])
    code = "thrice"

    def do(self):
        record("thrice")


class EveryHalfHourAndAtTen(CronJobBase):
    schedule = Schedule(run_every_mins=30, run_at_times=["12:10"])
    code = "both"

    def do(self):
        record("both")


class AtEveryPass(CronJobBase):
    # As in Tivix's demo and tests.
    schedule = Schedule(run_every_mins=0)
    code = "always"

    def do(self):
        record("always")
