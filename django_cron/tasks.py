"""
Hand-off to Django's Tasks framework: ``django.tasks`` on Django 6.0 and
later, the ``django-tasks`` backport before it.

The runner still claims the slot, exactly once; the task worker then runs the
job and records the outcome on the same run.
"""

try:
    from django.tasks import task
except ImportError:  # Django < 6.0
    try:
        from django_tasks import task
    except ImportError:
        task = None

from . import conf
from .models import JobRun


def available() -> bool:
    return task is not None


def run_claimed(name: str, run_id: int) -> str:
    """Run a job the runner claimed and queued; return the run's status."""
    from .runner import run_queued

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
