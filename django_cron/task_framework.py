"""
Django's Tasks framework, where there is one: ``django.tasks`` on Django 6.0
and later, the ``django-tasks`` backport before it; ``task`` is None without.
"""

try:
    from django.tasks import task
except ImportError:  # Django < 6.0
    try:
        from django_tasks import task
    except ImportError:
        task = None


def available() -> bool:
    """Tell whether jobs can be queued as tasks (``enqueue=``)."""
    return task is not None
