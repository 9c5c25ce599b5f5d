from django.conf import settings
from django.core.management.base import BaseCommand, CommandError
from django.db import DatabaseError
from django.utils import timezone
from django.utils.module_loading import import_string

from django_cron.availability import diagnose
from django_cron.compat.tivix import tivix_options
from django_cron.registry import cronScheduler
from django_cron.runner import is_due, run_due, usable_definitions
from django_cron.states import sync_states


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
        names = [self._name(path) for path in cron_classes or getattr(settings, "CRON_CLASSES", [])]
        try:
            self._run(names, force, silent, dry_run)
        except DatabaseError as exc:
            raise CommandError(str(diagnose(exc))) from exc

    def _run(self, names, force, silent, dry_run):
        if dry_run:
            for name in self._due(names, force):
                self.stdout.write(f"{name}: would run")
            return
        for run in run_due(names, force=force).runs:
            if not silent:
                message = f": {run.message}" if run.message else ""
                self.stdout.write(f"{run.job.name}: {run.status}{message}")

    def _name(self, path):
        """Return the job name of a class path; register the class if nothing did yet."""
        try:
            job_class = import_string(path)
        except ImportError as exc:
            raise CommandError(f"{path}: {exc}") from exc
        name = tivix_options(job_class).get("name", path)
        if name not in cronScheduler:
            cronScheduler.register(job_class, **tivix_options(job_class))
        return name

    def _due(self, names, force):
        definitions = usable_definitions(names)
        states = sync_states(definitions, timezone.now())
        now = timezone.now()
        return [d.name for d in definitions if force or is_due(d, states[d.name], now)]
