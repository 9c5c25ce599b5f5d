"""
What the runner costs, counted rather than timed: statements per pass and per
run, connections per pass, and what a pass reads. Counts do not depend on the
machine, so a regression fails here; the times are in benchmarks/runner.py.
"""

import threading
from collections import Counter
from datetime import timedelta

import pytest
from django.db import connections, transaction
from django.db.backends.signals import connection_created
from django.db.models.signals import post_init
from django.test.utils import CaptureQueriesContext
from django.utils import timezone

from django_cron import health
from django_cron.models import JobRun, JobState
from django_cron.runner import run_due
from django_cron.runtime import states
from django_cron.schedules import Interval
from tests.conftest import on_each_database
from tests.effects import CALLS, record

pytestmark = [on_each_database, pytest.mark.usefixtures("cron_db")]

# Transaction control and a new connection's session settings do no work of
# their own: SQLite's savepoints around an insert are not what these tests count.
CONTROL = ("BEGIN", "COMMIT", "ROLLBACK", "SAVEPOINT", "RELEASE", "SET ")


def statements(alias, action) -> list:
    """Run ``action``; return the SQL of the statements it sent that do work."""
    with CaptureQueriesContext(connections[alias]) as captured:
        action()
    return [
        q["sql"]
        for q in captured.captured_queries
        if not q["sql"].lstrip().upper().startswith(CONTROL)
    ]


def rows(alias):
    return JobState.objects.using(alias)


def make_due(alias, *names):
    rows(alias).filter(name__in=names).update(next_run_at=timezone.now() - timedelta(seconds=1))


def register_many(registry, n, body=lambda: None, every=3600):
    for i in range(n):
        registry.register(body, name=f"job{i}", every=every)
    return [f"job{i}" for i in range(n)]


# Statements ----------------------------------------------------------------------


@pytest.mark.parametrize("jobs", [10, 300])
def test_an_idle_pass_takes_two_statements_however_many_jobs(alias, registry, jobs):
    register_many(registry, jobs)
    run_due()  # the first sight makes the rows
    sent = statements(alias, run_due)
    # What is due; when the next job is due, and whether a run's lease expired.
    assert len(sent) == 2, sent


def test_an_idle_pass_reads_no_row_that_is_not_due(alias, registry):
    register_many(registry, 50)
    run_due()
    make_due(alias, "job7")
    read = []

    def count(sender, instance, **kwargs):
        read.append(instance.name)

    post_init.connect(count, sender=JobState)
    try:
        result = run_due()
    finally:
        post_init.disconnect(count, sender=JobState)
    assert [run.job.name for run in result.runs] == ["job7"]
    # The due row only: the other 49 stay in the database, and so does the
    # next due time's row (one value, no row).
    assert read == ["job7"]


def test_a_lost_run_is_swept_by_an_idle_pass(alias, registry):
    register_many(registry, 3)
    run_due()
    state = rows(alias).get(name="job1")
    expired = timezone.now() - timedelta(seconds=1)
    dead = JobRun.objects.using(alias).create(
        job=state, scheduled_for=expired, started_at=expired, status="running", lease_until=expired
    )
    assert run_due().runs == []
    dead.refresh_from_db(using=alias)
    assert dead.status == "lost" and rows(alias).get(name="job1").last_status == "lost"


def test_a_trivial_run_adds_four_statements_to_the_pass(alias, registry):
    register_many(registry, 5)
    run_due()
    make_due(alias, "job1")
    run_due()  # a process prunes old history after a run, once a minute at most
    idle = statements(alias, run_due)
    make_due(alias, "job3")
    busy = statements(alias, run_due)
    # Claim, record the run, record its end, write the job's summary and lease.
    assert len(busy) - len(idle) == 4, "\n".join(s[:120] for s in busy)
    assert rows(alias).get(name="job3").last_status == "ok"


def test_the_ping_and_status_summary_takes_one_statement_however_many_jobs(alias, registry):
    register_many(registry, 300)
    run_due()
    health.counts()  # the first reading learns which rows belong to no job here
    assert len(statements(alias, health.counts)) == 1


# What a pass reads -------------------------------------------------------------


def test_the_summary_counts_each_job_as_the_overview_judges_it(alias, registry, settings):
    settings.DJANGO_CRON = {**settings.DJANGO_CRON, "GRACE": 60}
    for name in ("fine", "late", "failing", "paused", "fresh"):
        registry.register(lambda: None, name=name, every=3600)
    registry.register(lambda: None, name="off", every=3600, enabled=False)
    registry.register(lambda: None, name="never", schedule="0 0 30 2 *")
    run_due()
    registry.register(lambda: None, name="new", every=3600)
    rows(alias).filter(name="late").update(next_run_at=timezone.now() - timedelta(hours=1))
    rows(alias).filter(name="failing").update(last_status="failed")
    rows(alias).filter(name="paused").update(enabled=False)
    # A row whose job is gone from the code counts for nothing.
    rows(alias).create(name="removed", last_status="failed", next_run_at=timezone.now())
    judged = Counter(job.health for job in health.overview())
    counted = {h: n for h, n in health.counts().items() if n}
    assert (
        counted
        == judged
        == {
            "ok": 2,
            "overdue": 1,
            "failing": 1,
            "paused": 2,
            "broken": 1,
            "new": 1,
        }
    )


def test_a_job_registered_while_the_process_runs_gets_its_row(alias, registry):
    registry.register(lambda: None, name="first", every=3600)
    run_due()
    registry.register(lambda: record("later"), name="later", every=60)
    run_due()
    assert rows(alias).filter(name="later").exists()


def test_a_state_row_deleted_in_this_process_comes_back_at_the_next_pass(alias, registry):
    registry.register(lambda: record("tick"), name="tick", every=60)
    run_due()
    rows(alias).filter(name="tick").delete()
    run_due()
    assert rows(alias).get(name="tick").next_run_at is not None


def test_a_state_row_deleted_elsewhere_comes_back_within_resync(alias, registry, monkeypatch):
    registry.register(lambda: record("tick"), name="tick", every=60)
    run_due()
    with connections[alias].cursor() as cursor:  # behind the ORM's back: no signal
        cursor.execute("DELETE FROM django_cron_jobstate")
    run_due()
    assert not rows(alias).exists()
    monkeypatch.setattr(states, "RESYNC", 0.0)
    run_due()
    assert rows(alias).filter(name="tick").exists()


def test_a_due_job_planned_by_other_code_is_planned_anew_not_run(alias, registry):
    registry.register(lambda: record("tick"), name="tick", every=60)
    run_due()
    # Another process, running a version where the job ran hourly, planned it.
    rows(alias).filter(name="tick").update(
        schedule_key=Interval(3600).key, next_run_at=timezone.now() - timedelta(seconds=1)
    )
    assert run_due().runs == [] and CALLS == []
    state = rows(alias).get(name="tick")
    assert state.schedule_key == Interval(60).key and state.next_run_at > timezone.now()


def test_rows_of_removed_jobs_leave_the_next_due_time_alone(alias, registry):
    registry.register(lambda: None, name="kept", every=3600)
    run_due()
    rows(alias).create(name="removed", next_run_at=timezone.now() - timedelta(days=1))
    result = run_due()
    assert result.next_due == rows(alias).get(name="kept").next_run_at


# Connections -------------------------------------------------------------------


@pytest.fixture
def conn_max_age_0(alias):
    connection = connections[alias]
    if connection.vendor == "sqlite":
        pytest.skip("an in-memory SQLite database does not survive its connection")
    saved = connection.settings_dict["CONN_MAX_AGE"]
    connection.settings_dict["CONN_MAX_AGE"] = 0
    connection.close()
    yield connection
    connection.close()
    connection.settings_dict["CONN_MAX_AGE"] = saved


def test_a_pass_keeps_one_connection_for_all_its_jobs(alias, registry, conn_max_age_0):
    names = register_many(registry, 5, body=lambda: rows(alias).count())
    run_due()
    make_due(alias, *names)
    conn_max_age_0.close()
    opened = []

    def count(sender, connection, **kwargs):
        opened.append(connection.alias)

    connection_created.connect(count)
    try:
        result = run_due()
    finally:
        connection_created.disconnect(count)
    assert [run.status for run in result.runs] == ["ok"] * 5
    assert opened == [alias]
    # At the end of the pass, as at the end of a request, it is closed.
    assert conn_max_age_0.connection is None


def _autocommit_off():
    transaction.set_autocommit(False, using=_autocommit_off.alias)


def _kill_own_connection():
    connection = connections[_kill_own_connection.alias]
    with connection.cursor() as cursor:
        if connection.vendor == "postgresql":
            cursor.execute("SELECT pg_terminate_backend(pg_backend_pid())")
        else:
            cursor.execute("KILL CONNECTION CONNECTION_ID()")


@pytest.mark.parametrize("fault", [_autocommit_off, _kill_own_connection], ids=lambda f: f.__name__)
def test_a_job_that_spoils_its_connection_leaves_a_sound_one_for_the_next(
    alias, registry, conn_max_age_0, fault
):
    fault.alias = alias
    registry.register(fault, name="a.spoiler", every=3600)
    registry.register(lambda: record("next", rows(alias).count()), name="b.next", every=3600)
    run_due()
    make_due(alias, "a.spoiler", "b.next")
    result = run_due()
    assert [run.job.name for run in result.runs] == ["a.spoiler", "b.next"]
    assert result.runs[1].status == "ok" and CALLS == [("next", (2,), {})]
    # The next job's work was committed, not left in a transaction nobody ends.
    assert rows(alias).get(name="b.next").last_status == "ok"


# Threads ------------------------------------------------------------------------


def test_threads_run_due_jobs_at_the_same_time(alias, registry):
    if connections[alias].vendor == "sqlite":
        pytest.skip("SQLite takes one writer at a time")
    together = threading.Barrier(3, timeout=10)
    names = register_many(registry, 3, body=together.wait, every=60)
    run_due()
    make_due(alias, *names)
    result = run_due(threads=3)
    assert sorted(run.status for run in result.runs) == ["ok"] * 3
    # One at a time, the first would wait for the others in vain.
    together.reset()
    make_due(alias, *names)
    assert run_due().runs[0].status == "failed"


def test_a_pass_in_threads_stops_between_jobs_when_told(alias, registry):
    if connections[alias].vendor == "sqlite":
        pytest.skip("SQLite takes one writer at a time")
    names = register_many(registry, 6, body=lambda: record("ran"), every=60)
    run_due()
    make_due(alias, *names)
    asked = []

    def stop_after_two():
        asked.append(1)
        return len(CALLS) >= 2

    result = run_due(threads=2, should_stop=stop_after_two)
    assert result.stopped and 2 <= len(result.runs) < 6
    assert JobRun.objects.using(alias).count() == len(result.runs) == len(CALLS)
