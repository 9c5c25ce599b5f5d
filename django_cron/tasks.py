"""
The task worker's side of a hand-off to Django's Tasks framework
(``django.tasks`` on Django 6.0 and later, the ``django-tasks`` backport
before it).

The runner still claims the slot, exactly once, and queues ``run_claimed``;
the task worker then runs the job and records the outcome on the same run.
"""

from django.utils import timezone

from . import conf
from .clock import PassClock
from .definitions import definition_named
from .models import JobRun
from .runtime import runs
from .runtime.execution import call_holding_lease
from .task_framework import available, task

__all__ = ["available", "enqueue", "run_claimed", "run_queued"]


def run_queued(name: str, run_id: int) -> str:
    """Run a job that a pass claimed and queued; return its run's status."""
    definition = definition_named(name)
    run = runs.take(definition, run_id)
    if run is None:
        # Taken already: a redelivered or duplicate task does nothing.
        return JobRun.objects.using(conf.database()).get(pk=run_id).status
    outcome = call_holding_lease(definition, run)
    runs.finish(definition, run, outcome, PassClock(timezone.now()))
    if outcome.stop is not None:
        raise outcome.stop
    return run.status


def run_claimed(name: str, run_id: int) -> str:
    """Run a job the runner claimed and queued; return the run's status."""
    return run_queued(name, run_id)


# Decorated in place, as @task would be: backends find a task again through
# its function's module and name (Django 6.1 and workers do), and that name
# must hold the Task itself.
if task is not None:
    run_claimed = task()(run_claimed)


def enqueue(definition, run: JobRun) -> None:
    """Queue the claimed ``run`` on the job's task backend."""
    backend = definition.enqueue
    queued = run_claimed.using(backend=backend) if isinstance(backend, str) else run_claimed
    result = queued.enqueue(definition.name, run.pk)
    JobRun.objects.using(conf.database()).filter(pk=run.pk, status=JobRun.Status.QUEUED).update(
        message=f"task {result.id}"
    )
