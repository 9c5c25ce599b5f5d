"""
Real servers on loopback: gunicorn (sync and gthread workers) and uvicorn, each
with several worker processes, and runserver, under concurrent traffic, running the jobs of
tests/serverapp from the middleware.
"""

from collections import Counter
from datetime import timedelta
from itertools import pairwise

import pytest
from django.conf import settings as django_settings

from django_cron.models import JobRun
from tests.conftest import on_each_database, wait_for
from tests.servers import Proxy, RedisServer, get, server, traffic

KINDS = ["gunicorn-sync", "gunicorn-gthread", "uvicorn", "runserver"]


def ticks(effects):
    return [line for line in effects.read_text().splitlines() if line.startswith("server.tick ")]


@pytest.mark.parametrize("kind", KINDS)
@on_each_database
def test_each_due_slot_runs_once_and_every_response_is_200(kind, alias, cron_db, tmp_path):
    effects = tmp_path / "effects.log"
    effects.touch()
    with server(kind, alias, tmp_path / "server.log", DJANGO_CRON_TEST_EFFECTS=effects) as port:
        # Half the requests ask a view that fails if a job left its time zone,
        # language or crippled streams in the worker.
        statuses = traffic(port, seconds=7, paths=["/", "/clean/"])
    log = (tmp_path / "server.log").read_text()
    assert Counter(statuses) == {200: len(statuses)}, log
    runs = JobRun.objects.using(alias).filter(job__name="server.tick")
    slots = list(runs.values_list("scheduled_for", flat=True))
    assert len(slots) >= 2, (tmp_path / "server.log").read_text()
    assert len(set(slots)) == len(slots) == len(ticks(effects))
    assert set(runs.values_list("status", flat=True)) == {"ok"}
    # An async job runs too, from WSGI and ASGI servers alike.
    async_runs = JobRun.objects.using(alias).filter(job__name="server.async")
    assert async_runs.count() >= 2 and set(async_runs.values_list("status", flat=True)) == {"ok"}
    # A failing job fails every time and never touches a response.
    failed = JobRun.objects.using(alias).filter(job__name="server.fail")
    assert failed.count() >= 2 and set(failed.values_list("status", flat=True)) == {"failed"}
    # A job that calls sys.exit() is a failed run like any other; the server never sees it.
    exits = JobRun.objects.using(alias).filter(job__name="server.exit")
    assert exits.count() >= 2 and set(exits.values_list("status", flat=True)) == {"failed"}
    assert "Error handling request" not in log and "Exception in ASGI" not in log, log
    meddled = JobRun.objects.using(alias).filter(job__name="server.meddle")
    assert meddled.count() >= 2 and set(meddled.values_list("output", flat=True)) == {"meddled\n"}


def outage_during_traffic(tmp_path, stop, restart, recovery_seconds, **env):
    """
    Run a gunicorn server through traffic, ``stop()`` a service it needs, then
    ``restart()`` it, and check what every outage test promises.
    """
    effects, log = tmp_path / "effects.log", tmp_path / "server.log"
    effects.touch()
    with server(
        "gunicorn-sync", "postgresql", log, DJANGO_CRON_TEST_EFFECTS=effects, **env
    ) as port:
        before = traffic(port, seconds=5)
        ran_before = len(ticks(effects))
        stop()
        during = traffic(port, seconds=4)
        ran_during = len(ticks(effects)) - ran_before
        restart()
        after = traffic(port, seconds=recovery_seconds)
    statuses = Counter(before + during + after)
    assert statuses == {200: statuses.total()}
    assert ran_before >= 1, log.read_text()
    assert ran_during <= 1  # at most a run claimed just before the outage
    assert len(ticks(effects)) > ran_before + ran_during, "jobs did not resume"
    # A warning per failed check, at most one per worker (3) and second of outage,
    # fewer as the checks back off.
    warnings = log.read_text().count("The due check failed")
    assert 1 <= warnings <= 3 * 4 + 3


@pytest.mark.django_db(transaction=True)
@pytest.mark.parametrize("debug", [True, False], ids=["debug", "no-debug"])
def test_runserver_shows_the_jobs_that_traffic_runs_while_debug_is_on(debug, tmp_path):
    log_path = tmp_path / "server.log"
    mode = "debug" if debug else "production"
    with server("runserver", "default", log_path, DJANGO_CRON_TEST_NO_LOGGING=mode) as port:

        def ran_twice():
            get(port)
            ticks = JobRun.objects.filter(job__name="server.tick", status="ok").count()
            return ticks >= 2 and "Job server.fail failed" in log_path.read_text()

        # Twice: the first run's line, if there is one, is written by then.
        wait_for(ran_twice, interval=0.2, message="the jobs to run from traffic")
        log = log_path.read_text()
    # The site configured no logging: django_cron's lines reach the console anyway.
    ran = "] django_cron: Ran server.fail: failed in "
    assert (ran in log) is debug, log
    assert ("] django_cron: Ran server.tick: ok in " in log) is debug, log
    # Errors show whether DEBUG is on or not, as through Python's last resort.
    assert "] django_cron: Job server.fail failed\nTraceback" in log


@pytest.mark.django_db(transaction=True, databases=["postgresql"])
@pytest.mark.skipif(
    "postgresql" in django_settings.MISSING_SERVICES,
    reason=django_settings.MISSING_SERVICES.get("postgresql", ""),
)
def test_a_database_outage_during_traffic_leaves_every_response_200(tmp_path, settings):
    settings.DJANGO_CRON = {"DATABASE": "postgresql"}
    database = django_settings.DATABASES["postgresql"]
    proxy = Proxy(database["HOST"], int(database["PORT"]))
    try:
        outage_during_traffic(
            tmp_path, proxy.cut, proxy.restore, 6, DJANGO_CRON_TEST_PROXY_PORT=proxy.port
        )
    finally:
        proxy.close()


needs_postgresql_and_redis = pytest.mark.skipif(
    bool({"postgresql", "redis"} & set(django_settings.MISSING_SERVICES)),
    reason="needs PostgreSQL and Redis",
)
REDIS_LOCK = {"DJANGO_CRON_TEST_LOCK": "redis"}


@needs_postgresql_and_redis
@pytest.mark.django_db(transaction=True, databases=["postgresql"])
def test_two_servers_sharing_postgresql_and_redis_run_each_slot_once_and_miss_none(
    tmp_path, settings
):
    settings.DJANGO_CRON = {"DATABASE": "postgresql"}
    from django_redis import get_redis_connection

    get_redis_connection("redis").flushdb()
    effects = tmp_path / "effects.log"
    effects.touch()
    env = {"DJANGO_CRON_TEST_EFFECTS": effects, **REDIS_LOCK}
    with (
        server("gunicorn-sync", "postgresql", tmp_path / "one.log", **env) as one,
        server("gunicorn-gthread", "postgresql", tmp_path / "two.log", **env) as two,
    ):
        statuses = traffic([one, two], seconds=10)
    assert Counter(statuses) == {200: len(statuses)}
    runs = JobRun.objects.using("postgresql").filter(job__name="server.tick")
    slots = sorted(runs.values_list("scheduled_for", flat=True))
    owners = {owner.split(":")[1] for owner in runs.values_list("owner", flat=True)}
    assert len(slots) >= 3
    assert len(set(slots)) == len(slots) == len(ticks(effects))
    # Every two seconds, with no slot missed between the first run and the last.
    assert {b - a for a, b in pairwise(slots)} == {timedelta(seconds=2)}
    assert len(owners) >= 1


@needs_postgresql_and_redis
@pytest.mark.django_db(transaction=True, databases=["postgresql"])
def test_a_redis_outage_during_traffic_leaves_every_response_200(tmp_path, settings):
    settings.DJANGO_CRON = {"DATABASE": "postgresql"}
    redis = RedisServer()
    redis.start()
    try:
        outage_during_traffic(
            tmp_path,
            redis.stop,
            redis.start,
            10,
            DJANGO_CRON_TEST_REDIS_URL=redis.url,
            **REDIS_LOCK,
        )
    finally:
        if redis.process.poll() is None:
            redis.stop()
