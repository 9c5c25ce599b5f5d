"""
Planning a schedule kept in the database: saving an entry points its state
row at it and plans the row's next run, in the save's transaction, by the
database's clock; deleting one stops its row, or for a replacement, goes back
to the code's schedule. Receivers of the entry's signals, connected when this
module is imported (AppConfig.ready()).
"""

from django.db.models.signals import post_save, pre_delete

from .. import conf, slots
from ..clock import DbNow, stored
from ..definitions import definition_of, row_name
from ..models import JobSchedule, JobState
from ..registry import registry

Kind = JobSchedule.Kind


def _states():
    return JobState.objects.using(conf.database())


def _db_now(pk):
    """Return the database's clock, read with the state row ``pk``."""
    return _states().filter(pk=pk).annotate(now=DbNow()).values_list("now", flat=True).get()


def plan_row(entry: JobSchedule) -> JobState:
    """
    Point the entry's state row at it and plan the row's next run, if its
    slots changed; called as the entry is saved, in its transaction. The
    UPDATE is conditional on the schedule the row had, and the first slot is
    after the database's now: a slot that ran is never planned again.
    """
    definition = definition_of(entry)
    name = row_name(entry)
    state, _ = _states().get_or_create(name=name)
    key = definition.schedule.key
    if state.db_schedule_id == entry.pk and state.schedule_key == key:
        return state
    if entry.kind == Kind.ONCE:
        following = stored(definition.schedule.at)
    else:
        following = slots.first_after(definition.schedule, _db_now(state.pk))
    _states().filter(pk=state.pk, schedule_key=state.schedule_key).update(
        db_schedule=entry, schedule_key=key, next_run_at=following
    )
    state.refresh_from_db()
    return state


def restore_code_schedule(state_pk, name: str) -> None:
    """Plan a job's row by its schedule in code again (its replacement is gone)."""
    if name not in registry:
        return
    definition = registry.get(name)
    _states().filter(pk=state_pk).update(
        db_schedule=None,
        schedule_key=slots.key(definition),
        next_run_at=slots.first_slot(definition, _db_now(state_pk)),
    )


def _on_delete(sender, instance, using, **kwargs) -> None:
    """A replacement deleted: back to the code's schedule. Another entry: its row stops."""
    rows = JobState.objects.using(using).filter(db_schedule=instance.pk)
    if instance.kind == Kind.REPLACE:
        for pk, name in rows.values_list("pk", "name"):
            restore_code_schedule(pk, name)
    else:
        rows.update(db_schedule=None, next_run_at=None, enabled=False)


pre_delete.connect(_on_delete, sender=JobSchedule, dispatch_uid="django_cron_db_schedules")


def _on_save(sender, instance, raw=False, **kwargs) -> None:
    """Plan a saved entry's row, inside JobSchedule.save()'s transaction."""
    if not raw:  # loaddata saves rows as they are: nothing is planned
        plan_row(instance)


post_save.connect(_on_save, sender=JobSchedule, dispatch_uid="django_cron_db_schedules_plan")
