"""
The registry of jobs: ``cronScheduler`` in the 2009 API, ``register`` in the new.

Registration only records a definition. Nothing touches the database until the
runner sees the job, so importing a cron.py is safe during migrate and tests.
"""

import inspect

from django.utils.module_loading import autodiscover_modules

from .jobs import OPTIONS, Job, JobDefinition


class Registry:
    def __init__(self):
        self._jobs = {}
        # Moves on at every change, so that the runner knows to bring the job
        # state rows in step again (states.py) without comparing the whole registry.
        self.generation = 0
        self._positions = (None, {})
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
        from django.core.management import call_command

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

    def execute(self):
        """Run the due jobs now (the 2009 entry point)."""
        from .runner import run_due

        return run_due()


cronScheduler = Registry()  # noqa: N816 (the 2009 name)


def autodiscover() -> None:
    """Import every installed app's cron.py. Calling it again does nothing new."""
    autodiscover_modules("cron")
