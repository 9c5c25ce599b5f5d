"""
The job state rows: kept in step with the registry, read by what is due.

A pass must cost the same with 10 registered jobs as with 10,000, so it never
reads every row. The rows are brought in step with the registry (a row for
each new job, a new next run for each changed schedule) once per process,
again whenever the registry changes, and at least every RESYNC seconds, which
brings back a row deleted behind the runner's back. A pass then reads only
the rows that are due, through the index on ``next_run_at``, and the next due
time, through the same index.
"""

import threading
import time
from dataclasses import dataclass
from datetime import datetime

from django.core.signals import setting_changed
from django.db import connections
from django.db.models import Exists, F, OuterRef, Q
from django.db.models.functions import Coalesce
from django.db.models.signals import post_delete, post_migrate

from .. import conf, slots
from ..clock import DbNow, aware, stored, utc_offset
from ..definitions import definition_for
from ..jobs import NAME_LIMIT
from ..models import MISSED, Blackout, JobState
from ..registry import registry

# Seconds after which a process brings the rows in step again, changed
# registry or not: an hour costs a 10,000-job site one full read an hour.
RESYNC = 3600.0


@dataclass(frozen=True)
class Survey:
    """What one full read of the rows found, for one registry and database."""

    alias: str
    generation: int
    taken: float  # time.monotonic() of the read
    # Rows whose job is not registered here (removed from the code): a summary leaves them out.
    strangers: frozenset
    synced: bool

    def fresh(self, alias: str, synced: bool) -> bool:
        return (
            self.alias == alias
            and self.generation == registry.generation
            and (self.synced or not synced)
            and time.monotonic() - self.taken < RESYNC
        )


_survey = None
_lock = threading.Lock()


def forget(**kwargs) -> None:
    """Make the next pass read every row again (after a migration, a deletion, new settings)."""
    global _survey
    _survey = None


setting_changed.connect(forget)
post_migrate.connect(forget)
post_delete.connect(forget, sender=JobState)


def _states():
    return JobState.objects.using(conf.database())


def _storable(definitions) -> list:
    # A name too long for its column (a broken job, which check reports) gets no row.
    return [d for d in definitions if len(d.name) <= NAME_LIMIT]


def _create(definitions, now: datetime) -> None:
    rows = [
        JobState(name=d.name, schedule_key=slots.key(d), next_run_at=slots.first_slot(d, now))
        for d in definitions
    ]
    # Another process may create the same rows at the same moment.
    _states().bulk_create(rows, ignore_conflicts=True)


def out_of_step(definition, key: str, next_run_at, successes: int = 0) -> bool:
    """
    Tell whether a row no longer matches its job: a new schedule, or a job
    fixed (a job finished after its ``times`` runs stays finished).
    """
    finished = definition.times is not None and successes >= definition.times
    stale = next_run_at is None and definition.problem is None and not finished
    return stale or key != slots.key(definition)


def bring_in_step(definition, pk, key: str, now: datetime) -> None:
    """Plan a changed job's first run anew; conditional, so two processes do it once."""
    _states().filter(pk=pk, schedule_key=key).update(
        schedule_key=slots.key(definition), next_run_at=slots.first_slot(definition, now)
    )


def keep_in_step(now: datetime) -> Survey:
    """
    Bring the rows in step with the registry, unless done recently: create
    the missing rows and plan the changed jobs. Return what was found.
    """
    return _read(now, sync=True)


def survey(now: datetime) -> Survey:
    """Return what the rows hold, reading them all unless done recently; change nothing."""
    return _read(now, sync=False)


def _read(now: datetime, sync: bool) -> Survey:
    """Read every row once, unless done recently; with ``sync``, bring them in step."""
    global _survey
    alias = conf.database()
    current = _survey
    if current is not None and current.fresh(alias, sync):
        return current
    with _lock:
        generation = registry.generation
        definitions = {d.name: d for d in _storable(registry.all())}
        rows = _states().values_list(
            "pk", "name", "schedule_key", "next_run_at", "db_schedule", "successes"
        )
        found, strangers = set(), set()
        for pk, name, key, next_run_at, entry, successes in list(rows):
            definition = definitions.get(name)
            if entry is not None:
                # Planned by its schedule in the database as it is saved (db_schedules/).
                found.add(name)
                continue
            if definition is None:
                strangers.add(name)
                continue
            found.add(name)
            if sync and out_of_step(definition, key, next_run_at, successes):
                bring_in_step(definition, pk, key, now)
        if sync:
            _create([d for name, d in definitions.items() if name not in found], now)
        # A job found broken meanwhile moved the generation on: read again next time.
        _survey = Survey(alias, generation, time.monotonic(), frozenset(strangers), sync)
        return _survey


def sync_states(definitions, now: datetime) -> dict:
    """
    Return {name: JobState} for ``definitions``, creating the rows of jobs seen
    for the first time and planning those whose schedule changed. Each state
    carries ``db_now``, the database's clock as it read the row. For a few
    named jobs (a forced run, runcrons); a pass reads only what is due.
    """
    definitions = _storable(definitions)
    names = [d.name for d in definitions]
    stamped = _states().annotate(db_now=DbNow())
    states = {s.name: s for s in stamped.filter(name__in=names)}
    missing = [d for d in definitions if d.name not in states]
    if missing:
        _create(missing, now)
        states.update((s.name, s) for s in stamped.filter(name__in=[d.name for d in missing]))
    for definition in definitions:
        state = states.get(definition.name)
        if state is None or state.db_schedule_id is not None:
            continue  # planned by its schedule in the database (db_schedules/planning.py)
        if out_of_step(definition, state.schedule_key, state.next_run_at, state.successes):
            bring_in_step(definition, state.pk, state.schedule_key, now)
            state.refresh_from_db()
    return states


class Compiled:
    """
    A query compiled once per database and then sent as the same SQL.

    A pass's queries cost Django's compiler more than the database: on
    PostgreSQL about 0.3 ms to build one against 0.1 ms to run it. Their SQL
    holds no value that changes (the database's clock is NOW() in it), so it
    is built once; Django's converters still read the rows, as for any query.
    The exception, TIME_ZONE's offset in MySQL's clock without USE_TZ, is in
    the key: a change of the offset compiles the query again.
    """

    def __init__(self):
        self._compiled = {}

    def rows(self, key, alias: str, build) -> list:
        """Return the rows of the query ``build()`` makes, compiled once per ``key`` and alias."""
        key = (key, alias, utc_offset())
        compiled = self._compiled.get(key)
        if compiled is None:
            compiler = build().query.get_compiler(using=alias)
            sql, params = compiler.as_sql()
            compiled = self._compiled[key] = (compiler, sql, params)
        compiler, sql, params = compiled
        with connections[alias].cursor() as cursor:
            cursor.execute(sql, params)
            return list(compiler.results_iter(results=[cursor.fetchall()]))

    def forget(self, **kwargs) -> None:
        self._compiled.clear()


compiled = Compiled()
setting_changed.connect(compiled.forget)

FIELDS = [field.attname for field in JobState._meta.concrete_fields]


def due(names=None) -> list:
    """
    Return the state rows that need the runner now, by the database's clock:
    enabled and due, or with an alert waiting to go out. Each carries ``db_now``.
    """
    alias = conf.database()

    def build():
        rows = _states().annotate(db_now=DbNow())
        if names is not None:
            rows = rows.filter(name__in=names)
        # Both sides are index range scans (next_run_at, alert_pending), which
        # the databases combine; alert_pending != '' would read every row.
        needed = Q(enabled=True, next_run_at__lte=DbNow()) | Q(alert_pending__gt="")
        # Whether a blackout window ends after the row's slot: only then does
        # the pass read the windows (runtime/blackouts.py). Evaluated for the
        # due rows only: the idle check returns none.
        slot = Coalesce(OuterRef("retry_slot"), OuterRef("next_run_at"))
        windows = Exists(Blackout.objects.filter(end__gt=slot))
        rows = rows.filter(needed).annotate(blackout_ahead=windows)
        return rows.order_by().values_list(*FIELDS, "db_now", "blackout_ahead")

    found = compiled.rows("due", alias, build) if names is None else build()
    states = []
    for *values, db_now, blackout_ahead in found:
        state = JobState.from_db(alias, FIELDS, values)
        state.db_now, state.blackout_ahead = db_now, bool(blackout_ahead)
        states.append(state)
    return in_order(states)


def in_order(rows) -> list:
    """Return the rows earliest first; jobs due at the same time in the order registered."""
    return sorted(
        rows,
        key=lambda s: (s.next_run_at is None, s.next_run_at, registry.position(s.name)),
    )


def next_due(names=None, passed_over=(), **also) -> tuple:
    """
    Return the earliest next run of the enabled jobs, and a dict of the
    expressions ``also``, read in the same statement; (None, None) if no job
    has a next run. The rows ``passed_over`` are left out: due, but not for
    this process to run (a job no longer registered, one broken or paused in
    code), they would otherwise hold the next due time in the past.
    """

    def build():
        rows = _states().filter(enabled=True, next_run_at__isnull=False)
        if names is not None:
            rows = rows.filter(name__in=names)
        if passed_over:
            rows = rows.exclude(pk__in=passed_over)
        # ORDER BY ... LIMIT 1 walks the index on every backend; MIN() with a
        # WHERE clause does not on SQLite.
        rows = rows.annotate(**also).order_by("next_run_at")
        return rows.values_list("next_run_at", *also)[:1]

    if names is None and not passed_over:
        found = compiled.rows(("next_due", *also), conf.database(), build)
    else:
        found = list(build())
    if not found:
        return None, None
    following, *values = found[0]
    return following, dict(zip(also, values, strict=True))


# Pausing skips ---------------------------------------------------------------------


def skipping(definition, state, now, counter: str = "skipped_paused") -> dict:
    """
    Return the fields that skip the row's slots due by ``now`` and count them
    in ``counter``; {} if none is due. A retry waiting is dropped with them:
    the job goes on at its first slot after ``now``, in phase.
    """
    seen = state.next_run_at
    if definition is None or seen is None or seen > now:
        return {}
    schedule = definition.schedule
    start = seen
    if state.retry_slot is not None:
        # A retry is due, not a slot: count the slots after the one it retries.
        start = schedule.next_after(aware(state.retry_slot))
        start = None if start is None else stored(start)
    count, following = slots.passed(schedule, start, now) if start is not None else (0, None)
    fields = {"next_run_at": following, "retry_slot": None, "retry_attempt": 0}
    if count:
        fields[counter] = F(counter) + count
    if following is None:
        fields["last_status"] = MISSED  # its last slot fell in the pause
    return fields


def resume(rows) -> list:
    """
    Resume the paused rows among ``rows`` (JobState); return their names.

    A pause is a decision not to run: the slots that fell while a row was
    paused are skipped and counted, whatever its ``missed`` policy, and it
    runs next at its first slot after now. Each row is one UPDATE conditional
    on what was read, so a resume racing a claim or another resume counts once.
    """
    resumed = []
    for state in rows.filter(enabled=False).annotate(db_now=DbNow()):
        try:
            skipped = skipping(definition_for(state), state, state.db_now)
        except Exception:
            skipped = {}  # a schedule that cannot plan: its health says broken
        done = (
            _states()
            .filter(pk=state.pk, enabled=False, next_run_at=state.next_run_at)
            .update(**JobState.RESUMED, **skipped)
        )
        if done:
            resumed.append(state.name)
    return resumed


def skip_while_off(definition, state, now) -> bool:
    """
    Skip and count the due slots of a row whose schedule in the database is
    off: when it is turned on again, it runs from its next slot, as a resumed
    job does. Return whether this process did it.
    """
    skipped = skipping(definition, state, now)
    if not skipped:
        return False
    return bool(_states().filter(pk=state.pk, next_run_at=state.next_run_at).update(**skipped))
