"""
Which definition a job state row runs: the registered job of its name, or,
for a row a schedule in the database carries, the job as that entry runs it
(its schedule, time zone and arguments). The runner asks for every due row,
the sweep for every lost run, the reports for every row they show.
"""

import copy
import logging

from . import conf
from .clock import aware
from .models import JobSchedule, JobState
from .registry import registry
from .schedules import Once, build_schedule

Kind = JobSchedule.Kind
logger = logging.getLogger("django_cron")


def _entries():
    return JobSchedule.objects.using(conf.database())


def _states():
    return JobState.objects.using(conf.database())


def row_name(entry: JobSchedule) -> str:
    """Return the name of the state row that carries ``entry``'s runs."""
    if entry.kind == Kind.REPLACE:
        return entry.job
    label = "once" if entry.kind == Kind.ONCE else "schedule"
    return f"{entry.job} ({label} {entry.pk})"


def _base(entry):
    if entry.job not in registry:
        raise ValueError(f"no job or command named {entry.job!r} is registered")
    return registry.get(entry.job)


def entry_schedule(entry, base, zone: str, dated: bool = True):
    """Return the entry's Schedule (without its dates unless ``dated``); ValueError if none."""
    bounds = {"start": aware(entry.start_date), "end": aware(entry.end_date)} if dated else {}
    if entry.kind == Kind.ONCE:
        return Once(aware(entry.at))
    if entry.cron or entry.every or entry.kind == Kind.EXTRA:
        return build_schedule(cron=entry.cron, every=entry.every or None, timezone=zone, **bounds)
    # A replacement that keeps the code's schedule, in another zone or dates.
    expression, every = base.schedule_spec()
    if isinstance(expression, str) or every is not None:
        return build_schedule(cron=expression or "", every=every, timezone=zone, **bounds)
    return base.schedule  # a Schedule object in code (Tivix's): kept as it is


def entry_arguments(entry, base) -> tuple:
    """
    The call's arguments: the entry's, if it gives any, replace those given to
    register(), both positional and keyword; a command keeps its name first.
    A command given options alone (kwargs) keeps its registered call, each
    option given replacing the registered one: what an operator sets
    (operator_options) adds to what the site registered, never widens it.
    """
    if not (entry.args or entry.kwargs):
        return base.args, base.kwargs
    if base.command is not None:
        if not entry.args:
            return base.args, {**base.kwargs, **entry.kwargs}
        return (base.args[0], *entry.args), dict(entry.kwargs or {})
    return tuple(entry.args or ()), dict(entry.kwargs or {})


def definition_of(entry: JobSchedule):
    """Return the job definition ``entry`` runs; raise ValueError if it cannot run."""
    base = _base(entry)
    zone = entry.timezone or base.timezone
    derived = copy.copy(base)
    # Computed from the options on first use: computed again for the copy.
    for cached in ("schedule", "problem"):
        derived.__dict__.pop(cached, None)
    derived.name = row_name(entry)
    derived.args, derived.kwargs = entry_arguments(entry, base)
    derived.options = {
        **base.options,
        "schedule": entry_schedule(entry, base, zone),
        "timezone": zone,
        "enabled": entry.enabled and entry.cancelled_at is None,
    }
    if entry.times is not None:
        derived.options["times"] = entry.times
    derived.options.pop("every", None)
    derived.entry = entry
    return derived


# Built once per version of an entry: the runner logs a broken job once, by identity.
_built = {}


def definition_for(state: JobState):
    """
    Return the definition a state row runs by: its entry's, if it has one,
    else the registered job of its name; None if there is none to run.
    """
    if state.db_schedule_id is None:
        return registry.get(state.name) if state.name in registry else None
    entry = _entries().filter(pk=state.db_schedule_id).first()
    if entry is None:
        return None
    base = registry.get(entry.job) if entry.job in registry else None
    if base is None:
        return None  # its job is no longer registered
    found = _built.get(entry.pk)
    if found is None or found[0] != entry.updated_at or found[1] is not base:
        try:
            found = _built[entry.pk] = (entry.updated_at, base, definition_of(entry))
        except Exception:
            # Saved past validate() (a queryset update, a hand edit): not run,
            # and the pass goes on with the other jobs.
            logger.exception("Schedule %s in the database cannot run", entry.pk)
            return None
    return found[2]


def definition_named(name: str):
    """Return the definition of the state row ``name`` (a task worker gets a name)."""
    state = _states().filter(name=name).only("pk", "name", "db_schedule").first()
    if state is None:
        return registry.get(name)  # a KeyError if it is not registered either
    definition = definition_for(state)
    if definition is None:
        raise KeyError(name)
    return definition
