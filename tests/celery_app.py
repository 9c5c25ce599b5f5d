"""
The Celery app of the task-worker tests, set up the way Celery's guide for
Django has it: Django's Tasks on Celery through django-tasks-celery, with
Redis as the broker (tests/settings.py, CELERY_*).

    celery --app tests.celery_app worker

The worker imports each installed app's ``tasks`` module, django_cron.tasks
among them, which registers the hand-off task with this app.
"""

import os

from celery import Celery

os.environ.setdefault("DJANGO_SETTINGS_MODULE", "tests.settings")

app = Celery("tests")
app.config_from_object("django.conf:settings", namespace="CELERY")
app.autodiscover_tasks()
