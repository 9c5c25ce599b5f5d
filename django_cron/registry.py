"""
The registry of jobs: ``cronScheduler`` in the 2009 API, ``register`` in the new.

Registration only records a definition. Nothing touches the database until the
runner sees the job, so importing a cron.py is safe during migrate and tests.
"""

import inspect
import sys

from django.apps import apps
from django.core.checks import Error, Warning
from django.core.exceptions import ImproperlyConfigured
from django.core.management import call_command
from django.utils.module_loading import autodiscover_modules

from .jobs import OPTIONS, Job, JobDefinition


class Registry:
    def __init__(self):
        self._jobs = {}
        # Moves on at every change, so that the runner knows to bring the job
        # state rows in step again (states.py) without comparing the whole registry.
        self.generation = 0
        self._positions = (None, {})
        self._set_aside = (None, ([], {}))
        # Pairs of different jobs that asked for the same name (django_cron.E005).
        self.conflicts = []

    def register(self, target=None, *args, **kwargs):
        """
        Register a Job subclass or a function, as a call or a decorator.

        ``register(Job)``, ``@register`` and ``@register(every="5m")`` all work.
        Keyword arguments named in OPTIONS configure the job; any other
        arguments are passed to the job at every run, as in 2009.
        """
        options = {key: kwargs.pop(key) for key in OPTIONS if key in kwargs}
        if target is None:
            return lambda obj: self.register(obj, *args, **kwargs, **options)
        if isinstance(target, Job):
            target = type(target)
        if inspect.isclass(target):
            if not issubclass(target, Job):
                raise TypeError(f"You can only register a Job, not {target!r}")
        elif not callable(target):
            raise TypeError(f"You can only register a Job or a function, not {target!r}")
        elif "schedule" not in options and "every" not in options:
            # A Job subclass runs daily by default, as in 2009; a function says when.
            raise TypeError(
                f"Say when {getattr(target, '__qualname__', target)!r} runs: "
                "register(function, every='5m') or register(function, schedule='*/5 * * * *')."
            )
        self.add(JobDefinition(target, args, kwargs, options))
        return target

    def register_command(self, command: str, *args, **kwargs) -> JobDefinition:
        """
        Schedule a management command: ``register_command("clearsessions",
        schedule="@daily")``. Options as for register(); other arguments go to
        call_command(). The job's name defaults to "command:<command>".
        """
        options = {key: kwargs.pop(key) for key in OPTIONS if key in kwargs}
        options.setdefault("name", f"command:{command}")
        definition = JobDefinition(call_command, (command, *args), kwargs, options)
        self.add(definition)
        return definition

    def add(self, definition: JobDefinition) -> None:
        """Add a definition made elsewhere (CRONJOBS, register_command)."""
        current = self._jobs.get(definition.name)
        if current is not None and current.identity != definition.identity:
            self.conflicts.append((current, definition))
            return
        # Registering the same job again (a second autodiscover, a re-import)
        # replaces the earlier definition.
        self._jobs[definition.name] = definition
        self.changed()

    def unregister(self, name: str) -> None:
        self._jobs.pop(name, None)
        self.changed()

    def mark_broken(self, definition: JobDefinition, reason: str) -> None:
        """Mark a job that turned out unable to run, and note the change."""
        definition.mark_broken(reason)
        self.changed()

    def changed(self) -> None:
        """Note that the jobs changed: a job was added or removed, or found broken."""
        self.generation += 1

    def position(self, name: str) -> int:
        """Return where the job was registered: jobs due together run in that order."""
        if self._positions[0] != self.generation:
            self._positions = (self.generation, {name: i for i, name in enumerate(self._jobs)})
        return self._positions[1].get(name, len(self._jobs))

    def get(self, name: str) -> JobDefinition:
        return self._jobs[name]

    def all(self) -> list:
        return list(self._jobs.values())

    def __contains__(self, name):
        return name in self._jobs

    def __len__(self):
        return len(self._jobs)

    def clear(self) -> None:
        self._jobs.clear()
        self.conflicts.clear()
        self.changed()

    # What execute() runs: the runner's pass, which sits above the registry and
    # is attached when Django is ready (apps.py). The registry runs nothing.
    runner = None

    def execute(self):
        """Run the due jobs now: the 2009 ``cronScheduler.execute()``, kept for it."""
        if self.runner is None:
            raise ImproperlyConfigured("Add 'django_cron' to INSTALLED_APPS to run jobs.")
        return self.runner()

    # Jobs set aside in code ----------------------------------------------------

    def set_aside(self) -> dict:
        """
        Return {name: why} for the jobs that cannot run here: "paused" (off in
        code) or "broken" (``definition.problem``).
        """
        return self._sorted()[1]

    def broken(self) -> list:
        """Return the definitions that cannot run (``problem``), off in code or not."""
        return self._sorted()[0]

    def _sorted(self) -> tuple:
        """The broken definitions and the jobs set aside, worked out once per generation."""
        if self._set_aside[0] != self.generation:
            broken = [d for d in self.all() if d.problem is not None]
            found = {d.name: "paused" for d in self.all() if not d.enabled}
            found.update((d.name, "broken") for d in broken if d.name not in found)
            self._set_aside = (self.generation, (broken, found))
        return self._set_aside[1]

    # Checks ------------------------------------------------------------------

    def check(self) -> list:
        """Return each job's check errors, and one for each pair of jobs with one name."""
        errors = [error for definition in self.all() for error in definition.check()]
        for first, second in self.conflicts:
            errors.append(
                Error(
                    f"Two different jobs are named {first.name!r}: "
                    f"{first.identity} and {second.identity}.",
                    hint="Give one of them another name with name='...'.",
                    obj=second.identity,
                    id="django_cron.E005",
                )
            )
        return errors

    def check_unregistered(self, app_configs=None) -> list:
        """
        Warn about a Job subclass defined in an app's cron.py that nothing
        registered: it would never run, and nothing else would say so. A class
        that registered jobs derive from is a base class, not a forgotten job.
        """
        registered = [d.target for d in self.all() if d.is_class]
        warnings = []
        for config in app_configs or apps.get_app_configs():
            if config.name == "django_cron":
                continue  # Tivix's optional job, run only when CRON_CLASSES names it
            module = sys.modules.get(f"{config.name}.cron")
            if module is None:
                continue  # not discovered (AUTODISCOVER off, or no cron.py)
            for value in vars(module).values():
                if not (
                    inspect.isclass(value)
                    and issubclass(value, Job)
                    and value.__module__ == module.__name__
                ):
                    continue
                if any(issubclass(job, value) for job in registered):
                    continue
                path = f"{module.__name__}.{value.__qualname__}"
                warnings.append(
                    Warning(
                        f"{path} is a Job but is never registered, so it never runs.",
                        hint=(
                            f"Register it: cronScheduler.register({value.__name__}) after "
                            "the class, or @register above it. Delete it if it is not needed."
                        ),
                        obj=path,
                        id="django_cron.W006",
                    )
                )
        return warnings


# The jobs of the site. cronScheduler is its 2009 name.
registry = Registry()
cronScheduler = registry  # noqa: N816 (the 2009 name)


def autodiscover() -> None:
    """Import every installed app's cron.py. Calling it again does nothing new."""
    autodiscover_modules("cron")
