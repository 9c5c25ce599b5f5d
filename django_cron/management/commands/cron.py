import sys
from datetime import datetime
from zoneinfo import ZoneInfo

from django.core.management.base import BaseCommand, CommandError
from django.db import DatabaseError
from django.utils import timezone

from django_cron import conf
from django_cron.availability import NotMigrated, diagnose, pending_migrations
from django_cron.health import BROKEN, FAILING, is_healthy, overview
from django_cron.models import JobRun, JobState
from django_cron.registry import cronScheduler
from django_cron.runner import run_due
from django_cron.worker import Worker


def _when(dt):
    return "-" if dt is None else timezone.localtime(dt).isoformat(timespec="seconds")


class Command(BaseCommand):
    help = "List, run and watch the scheduled jobs of django_cron."

    def add_arguments(self, parser):
        sub = parser.add_subparsers(dest="action", required=True, metavar="ACTION")
        sub.add_parser("list", help="Show every job, its schedule, next and last run.")
        run = sub.add_parser("run", help="Run what is due once, then exit.")
        run.add_argument("names", nargs="*", metavar="NAME", help="Only these jobs.")
        run.add_argument("--force", action="store_true", help="Run the named jobs now.")
        sub.add_parser(
            "status", help="Exit 0 if every enabled job is healthy, 1 naming those that are not."
        )
        worker = sub.add_parser("worker", help="Run due jobs until SIGTERM or SIGINT.")
        worker.add_argument("names", nargs="*", metavar="NAME", help="Only these jobs.")
        nxt = sub.add_parser("next", help="Print the next run times of a job.")
        nxt.add_argument("name", metavar="NAME")
        nxt.add_argument("--after", help="ISO 8601 date and time (default: now).")
        nxt.add_argument("--count", type=int, default=1)

    def handle(self, *args, action, **options):
        try:
            getattr(self, f"handle_{action}")(**options)
        except DatabaseError as exc:
            raise CommandError(str(diagnose(exc))) from exc

    def _known(self, names):
        unknown = [name for name in names if name not in cronScheduler]
        if unknown:
            raise CommandError(f"Unknown job: {', '.join(unknown)}. See 'cron list'.")

    def handle_list(self, **options):
        for job in overview():
            state = job.state
            schedule = f"{job.schedule} ({job.timezone})" if job.timezone else job.schedule
            last = "-"
            if state is not None and state.last_run_at:
                last = f"{_when(state.last_run_at)} {state.last_status}"
            self.stdout.write(
                f"{job.name}\n"
                f"    schedule: {schedule}\n"
                f"    next run: {_when(state.next_run_at if state else None)}\n"
                f"    last run: {last}\n"
                f"    enabled:  {'yes' if job.enabled else 'no'}\n"
                f"    health:   {job.health}"
            )

    def handle_run(self, names, force, **options):
        self._known(names)
        if force and not names:
            raise CommandError("--force needs the names of the jobs to run.")
        result = run_due(names or None, force=force)
        for run in result.runs:
            line = f"{run.job.name}: {run.status} in {run.duration:.3f}s"
            if run.error:
                line += f": {run.error}"
            self.stdout.write(line)
        if not result.runs and options["verbosity"] > 1:
            self.stdout.write("Nothing was due.")
        # A failed run fails the command, so that OS cron or a Kubernetes CronJob notices.
        if any(run.status != JobRun.Status.OK for run in result.runs):
            sys.exit(1)

    def handle_status(self, **options):
        jobs = overview()
        bad = [job for job in jobs if not is_healthy(job.health)]
        for job in bad:
            detail = ""
            if job.health == FAILING:
                detail = job.state.last_error
            elif job.health == BROKEN:
                detail = job.definition.problem
            self.stderr.write(f"{job.name}: {job.health} {detail}".rstrip())
        if bad:
            sys.exit(1)
        self.stdout.write(f"{len(jobs)} jobs, all healthy.")

    def handle_worker(self, names, **options):
        self._known(names)
        try:
            pending = pending_migrations()
        except DatabaseError:
            # Down at start, as when the database's container still boots: the
            # loop waits an outage out.
            pending = []
        if pending:
            # The loop would log this every interval until someone migrates.
            raise CommandError(str(NotMigrated(conf.database(), pending)))
        worker = Worker(names or None)
        worker.install_signal_handlers()
        worker.run_forever()

    def handle_next(self, name, after, count, **options):
        self._known([name])
        definition = cronScheduler.get(name)
        try:
            schedule = definition.schedule
        except ValueError as exc:
            raise CommandError(f"{name}: {exc}") from exc
        zone = ZoneInfo(definition.timezone)
        moment = timezone.now()
        if after:
            try:
                moment = datetime.fromisoformat(after)
            except ValueError as exc:
                raise CommandError(f"--after: {exc}") from exc
            if timezone.is_naive(moment):
                moment = moment.replace(tzinfo=zone)
        # An interval job's slots keep the phase of its stored next run.
        state = JobState.objects.using(conf.database()).filter(name=name).first()
        if state is not None and state.next_run_at is not None:
            slot = schedule.resume_after(state.next_run_at, moment)
        else:
            slot = schedule.next_after(moment)
        for _ in range(count):
            self.stdout.write(slot.astimezone(zone).isoformat())
            slot = schedule.next_after(slot)
