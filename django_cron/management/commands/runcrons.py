"""
``manage.py runcrons``, as Tivix django-cron had it: run the due classes of
CRON_CLASSES (or those named), printing ``[✔] code`` for a run, ``[✘] code``
for a failure and ``[ ] code`` for a job that was not due.
"""

import traceback

from django.conf import settings
from django.core.management.base import BaseCommand, CommandError
from django.db import DatabaseError
from django.utils import timezone

import django_cron
from django_cron import audit
from django_cron.availability import diagnose
from django_cron.compat.tivix.jobs import is_tivix_job, tivix_options
from django_cron.compat.tivix.log import prune_logs
from django_cron.jobs import Job, JobDefinition
from django_cron.models import JobRun
from django_cron.registry import registry
from django_cron.runner import is_due, run_due, usable_definitions
from django_cron.runtime.states import sync_states

RAN, FAILED, NOT_DUE = "\N{HEAVY CHECK MARK}", "\N{HEAVY BALLOT X}", " "


class Command(BaseCommand):
    help = "Run the due Tivix cron classes (CRON_CLASSES), as Tivix django-cron's runcrons did."

    def add_arguments(self, parser):
        parser.add_argument("cron_classes", nargs="*", help="Dotted paths; default CRON_CLASSES.")
        parser.add_argument("--force", action="store_true", help="Run them now, due or not.")
        parser.add_argument("--silent", action="store_true", help="Print nothing.")
        parser.add_argument(
            "--dry-run", action="store_true", help="Say which would run, run nothing."
        )

    def handle(self, *args, cron_classes, force, silent, dry_run, **options):
        self.silent = silent
        self._say("Running Crons")
        self._say("=" * 40)
        paths = cron_classes or getattr(settings, "CRON_CLASSES", [])
        try:
            classes = [django_cron.get_class(path) for path in paths]
        except ImportError:
            # Tivix's answer, and exit status 0: nothing ran.
            self.stdout.write(
                f"ERROR: Make sure these are valid cron class names: {paths}\n\n"
                + traceback.format_exc()
            )
            return
        try:
            # Each entry in turn, as listed: one named twice runs twice if due twice.
            for job_class in classes:
                self._run(job_class, force, dry_run)
            if not dry_run:
                prune_logs()
        except DatabaseError as exc:
            raise CommandError(str(diagnose(exc))) from exc

    def _say(self, line):
        if not self.silent:
            self.stdout.write(line)

    def _run(self, job_class, force, dry_run):
        name = self._name(job_class)
        if name is None:
            return
        if dry_run:
            self._say(f"[{RAN if self._due(name, force) else NOT_DUE}] {name}")
            return
        forced_by = ""
        if force:
            forced_by = audit.command_line_actor()
            audit.record(forced_by, audit.Via.COMMAND_LINE, "run", name)
        runs = run_due([name], force=force, forced_by=forced_by).runs
        if not runs:
            self._say(f"[{NOT_DUE}] {name}")
        for run in runs:
            failed = run.status not in (JobRun.Status.OK, JobRun.Status.QUEUED)
            self._say(f"[{FAILED if failed else RAN}] {name}")

    def _name(self, job_class):
        """Return the job name of a class; register it if nothing did yet. None: not a job."""
        if not (isinstance(job_class, type) and issubclass(job_class, Job)):
            message = f"{job_class!r} is not a subclass of CronJobBase, so it cannot run."
        elif is_tivix_job(job_class) and not job_class.code:
            message = (
                f"Cron class '{job_class.__name__}' does not have a code attribute: "
                "set code to a unique name."
            )
        else:
            options = tivix_options(job_class) if is_tivix_job(job_class) else {}
            name = JobDefinition(job_class, options=options).name
            if name not in registry:
                registry.register(job_class, **options)
            return name
        self._say(message)
        django_cron.logger.info(message)
        return None

    def _due(self, name, force):
        definitions = usable_definitions([name])
        states = sync_states(definitions, timezone.now())
        now = timezone.now()
        return any(force or is_due(d, states[d.name], now) for d in definitions)
