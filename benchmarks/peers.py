"""
The peers' side of the comparison: what django-celery-beat and django-apscheduler
cost on the same database, measured through the installed packages.

Import this after ``django.setup()`` with ``BENCH_PEERS=1`` and after ``migrate``;
it configures nothing itself. What is measured, for each peer, is the path its
scheduler process takes on every wake-up, which is what our runner's due check
is compared with, and the path of one trivial run:

django-celery-beat
    ``celery beat`` with ``DatabaseScheduler`` keeps the whole schedule in
    memory. Each ``tick()`` asks the database whether anything changed
    (``PeriodicTasks.last_change()``), compares the in-memory schedule with the
    copy the heap was built from, entry by entry, and looks at the top of the
    heap. Any change to any task, and in any case every five minutes, reloads
    every enabled task and rebuilds the heap: the "reload", measured as the
    first load, which costs the same. A run
    is the tick that sends the task to the broker plus the ``sync()`` that
    writes ``last_run_at`` and ``total_run_count`` back.
django-apscheduler
    APScheduler's ``_process_jobs()`` asks each job store for its due jobs and
    its next run time, then sleeps until then (or until woken). The idle check
    is those two calls on a ``DjangoJobStore``; a run is one ``_process_jobs()``
    with a job due: the due-job query, the run, the ``DjangoJobExecution``
    rows its event listeners write, and the job's next run stored.

Timings are the minimum of the repetitions (noise only adds time); queries are
the statements that do work (not BEGIN, COMMIT or ROLLBACK), counted in a
call of their own, since recording queries slows the timed calls.
"""

import time
from datetime import datetime, timedelta, timezone

from benchmarks import common

CELERY_BROKER = "redis://127.0.0.1:6379/15"
TASK = "benchmarks.noop"
FILL_PREFIX = "benchmarks.peers.fill."
RUN_NAME = "benchmarks.peers.run"


def noop():
    """Do nothing: the job of every peer."""


def _ms(seconds: float) -> float:
    return seconds * 1000


def _timed(fn, times: int, prepare=None) -> tuple[float, int]:
    """Return the fastest of ``times`` calls of ``fn`` in ms, and its statements."""
    return common.timed(fn, times, prepare)


# django-celery-beat


def _hourly():
    from django_celery_beat.models import IntervalSchedule

    schedule, _ = IntervalSchedule.objects.get_or_create(every=1, period=IntervalSchedule.HOURS)
    return schedule


def fill_celery_beat(n: int) -> None:
    """
    Make the database hold exactly ``n`` enabled periodic tasks, every hour on
    one shared schedule, none due.
    """
    from django.utils import timezone as django_timezone
    from django_celery_beat.models import PeriodicTask, PeriodicTasks

    PeriodicTask.objects.all().delete()
    hourly, now = _hourly(), django_timezone.now()
    PeriodicTask.objects.bulk_create(
        [
            PeriodicTask(name=f"{FILL_PREFIX}{i}", task=TASK, interval=hourly, last_run_at=now)
            for i in range(n)
        ],
        batch_size=1000,
    )
    # bulk_create sends no signals; tell any running beat, as save() would.
    PeriodicTasks.update_changed()


def _celery_app():
    from celery import Celery

    app = Celery("benchmarks", broker=CELERY_BROKER)
    # No result backend, so no "celery.backend_cleanup" entry: DatabaseScheduler
    # would otherwise write one into the table on start.
    app.conf.result_expires = None
    return app


def _beat(app):
    """Return a DatabaseScheduler built as ``celery beat`` builds it, not yet loaded."""
    from celery.beat import Service

    service = Service(app, scheduler_cls="django_celery_beat.schedulers:DatabaseScheduler")
    # lazy=True only defers setup_schedule(), which the callers time.
    return service.get_scheduler(lazy=True)


def celery_beat_tick(times: int = 7) -> tuple[float, float, int]:
    """
    Return the fastest idle ``tick()`` of django-celery-beat's DatabaseScheduler
    in ms, its first schedule load in ms, and the queries per idle tick.

    The first load is ``setup_schedule()``, which reads every enabled task, plus
    the first tick, which asks every entry ``is_due()`` to build the heap: what
    beat pays again on any change to any task.
    """
    app = _celery_app()
    scheduler = _beat(app)
    try:
        start = time.perf_counter()
        scheduler.setup_schedule()
        scheduler.tick()
        load = time.perf_counter() - start

        def tick():
            # In 2.9 (celery 5.7) an idle tick sends a COMMIT and one query,
            # then schedules_equal() compares all n entries with the heap's
            # copy; is_due() runs on the heap's top only. Nothing may be due.
            assert scheduler.tick() > 0

        best, queries = _timed(tick, times)
        return best, _ms(load), queries
    finally:
        scheduler.close()
        app.close()


def celery_beat_run(times: int = 7) -> tuple[float, int]:
    """
    Return the fastest run of a trivial task from django-celery-beat's side in
    ms (the tick that sends it to Redis and the ``sync()`` that records it) and
    its queries.
    """
    from django_celery_beat.models import IntervalSchedule, PeriodicTask

    # Due again 50 ms after each run, so that each run is a plain tick: a
    # change to the task in the database would reload the whole schedule.
    every = timedelta(milliseconds=50)
    schedule = IntervalSchedule.objects.create(
        every=every // timedelta(microseconds=1), period=IntervalSchedule.MICROSECONDS
    )
    task = PeriodicTask.objects.create(name=RUN_NAME, task=TASK, interval=schedule)
    app = _celery_app()
    scheduler = _beat(app)
    try:
        scheduler.setup_schedule()

        def run():
            # Beat writes sent entries in sync(), every 3 minutes (sync_every)
            # and once right after its first send; force it for each run.
            assert scheduler.tick() == 0, "the task was not sent"
            scheduler.sync()

        def wait():
            time.sleep(every.total_seconds() * 2)

        # The first tick builds the heap and opens the broker connection.
        wait()
        run()
        best, queries = _timed(run, times, prepare=wait)
        task.refresh_from_db()
        # The first run, the timed ones and the counted one.
        assert task.total_run_count == times + 2, task.total_run_count
        return best, queries
    finally:
        scheduler.close()
        app.control.purge()
        app.close()
        task.delete()
        schedule.delete()


# django-apscheduler


def _apscheduler():
    """
    Return a BackgroundScheduler on a DjangoJobStore and the DebugExecutor,
    started paused, and its job store.

    Paused, the scheduler's thread waits for a wakeup() that only add_job(),
    modify_job() and resume() send while it runs; but _process_jobs() also
    returns at once while paused, so _process() marks it running around the
    call, without waking the thread.
    """
    from apscheduler.executors.debug import DebugExecutor
    from apscheduler.schedulers.background import BackgroundScheduler
    from django_apscheduler.jobstores import DjangoJobStore

    jobstore = DjangoJobStore()
    scheduler = BackgroundScheduler(
        jobstores={"default": jobstore}, executors={"default": DebugExecutor()}, timezone="UTC"
    )
    scheduler.start(paused=True)
    return scheduler, jobstore


def _process(scheduler):
    from apscheduler.schedulers.base import STATE_PAUSED, STATE_RUNNING

    scheduler.state = STATE_RUNNING
    try:
        return scheduler._process_jobs()
    finally:
        scheduler.state = STATE_PAUSED


def _shutdown(scheduler):
    # DjangoJobStore.shutdown() closes the connection; the next query reopens it.
    scheduler.shutdown()


def fill_apscheduler(n: int) -> None:
    """
    Make the DjangoJobStore hold exactly ``n`` jobs, every hour, the first run
    an hour from now.
    """
    from django.db import transaction

    scheduler, jobstore = _apscheduler()
    try:
        jobstore.remove_all_jobs()
        # One transaction: a commit per job would make this the slow part.
        with transaction.atomic():
            for i in range(n):
                scheduler.add_job(noop, "interval", hours=1, id=f"{FILL_PREFIX}{i}")
    finally:
        _shutdown(scheduler)


def apscheduler_idle(times: int = 7) -> tuple[float, int]:
    """
    Return the fastest idle check of a DjangoJobStore in ms (its due jobs, then
    its next run time, as APScheduler asks on each wake-up) and its queries.
    """
    scheduler, jobstore = _apscheduler()
    try:

        def check():
            now = datetime.now(timezone.utc)
            assert not jobstore.get_due_jobs(now), "a job is due"
            jobstore.get_next_run_time()

        check()
        return _timed(check, times)
    finally:
        _shutdown(scheduler)


def apscheduler_run(times: int = 7) -> tuple[float, int]:
    """
    Return the fastest ``_process_jobs()`` of APScheduler on a DjangoJobStore
    that runs one trivial job due now, in ms, and its queries.
    """
    from django_apscheduler.models import DjangoJobExecution

    scheduler, jobstore = _apscheduler()
    try:

        def make_due():
            # Added while paused: the scheduler's thread stays asleep.
            scheduler.add_job(
                noop,
                "interval",
                hours=1,
                id=RUN_NAME,
                next_run_time=datetime.now(timezone.utc),
                replace_existing=True,
            )

        def run():
            _process(scheduler)

        make_due()
        run()
        best, queries = _timed(run, times, prepare=make_due)
        runs = DjangoJobExecution.objects.filter(
            job_id=RUN_NAME, status=DjangoJobExecution.SUCCESS
        ).count()
        assert runs == times + 2, runs  # the first, the timed and the counted runs
        return best, queries
    finally:
        if jobstore.lookup_job(RUN_NAME):
            jobstore.remove_job(RUN_NAME)  # and its executions, on cascade
        _shutdown(scheduler)
