"""
``manage.py cronloop``, as Tivix django-cron had it: ``runcrons`` over and
over, sleeping in between. ``cron worker`` does the same job better: it sleeps
until the next job is due, and stops cleanly on SIGTERM.
"""

import time

from django.core.management import call_command
from django.core.management.base import BaseCommand


class Command(BaseCommand):
    help = "Run runcrons in a loop, sleeping in between (Tivix django-cron's cronloop)."

    def add_arguments(self, parser):
        parser.add_argument(
            "-s", "--sleep", type=int, default=300, help="Seconds between two runs (300)."
        )
        parser.add_argument(
            "--cron_classes", nargs="+", default=[], help="Cron classes to run; default all."
        )
        parser.add_argument("--repeat", type=int, help="Stop after this many rounds.")

    def handle(self, *args, sleep, cron_classes, repeat, **options):
        done = 0
        try:
            while repeat is None or done < repeat:
                call_command("runcrons", *cron_classes, stdout=self.stdout, stderr=self.stderr)
                done += 1
                if repeat is None or done < repeat:
                    time.sleep(sleep)
        except KeyboardInterrupt:
            pass
