"""CronMiddleware and the ping and status views, through Django's test clients."""

import logging
import threading
import time
from datetime import timedelta

import pytest
from asgiref.sync import async_to_sync
from django.core.handlers.wsgi import WSGIHandler
from django.test import AsyncClient, Client, RequestFactory
from django.utils import timezone

from django_cron.locks import get_lock
from django_cron.models import JobRun, JobState
from django_cron.runner import run_due
from django_cron.trigger import GATE, run_in_background, trigger
from tests.conftest import no_queries, wait_for
from tests.effects import CALLS, record
from tests.settings import PING_KEY

KEY = PING_KEY
MIDDLEWARE = ["django_cron.middleware.CronMiddleware"]


@pytest.fixture(autouse=True)
def fresh_trigger(settings):
    settings.MIDDLEWARE = MIDDLEWARE
    settings.DJANGO_CRON = {"PING_KEY": KEY, "POLLING_FREQUENCY": 60}
    trigger.__init__()  # as a new process starts
    yield
    if trigger._thread is not None:
        trigger._thread.join(timeout=30)
    trigger.__init__()


def make_due(*names):
    past = timezone.now() - timedelta(seconds=1)
    assert JobState.objects.filter(name__in=names).update(next_run_at=past) == len(names)


def seen_by_runner(client):
    """Make one request so that the runner creates the state rows, then allow another."""
    assert client.get("/").status_code == 200
    trigger.next_check = 0.0
    CALLS.clear()


@pytest.mark.django_db
def test_a_request_with_nothing_due_makes_no_query(registry):
    registry.register(lambda: record("job"), name="job", every=60)
    client = Client()
    seen_by_runner(client)
    trigger.next_check = time.time() + 60
    with no_queries():
        response = client.get("/")
    assert response.status_code == 200 and response.content == b"hello"


@pytest.mark.django_db
def test_due_jobs_run_after_the_response_and_never_change_it(registry):
    registry.register(lambda: record("job"), name="job", every=60)

    def broken():
        raise RuntimeError("job exploded")

    registry.register(broken, name="broken", every=60)
    client = Client()
    seen_by_runner(client)
    make_due("job", "broken")
    response = client.get("/")
    assert response.status_code == 200 and response.content == b"hello"
    # The view ran first; the jobs only when the handler closed the response.
    assert [name for name, *_ in CALLS] == ["view", "job"]
    statuses = dict(JobRun.objects.values_list("job__name", "status"))
    assert statuses == {"job": "ok", "broken": "failed"}


@pytest.mark.django_db
def test_one_check_per_polling_interval_per_process(registry):
    registry.register(lambda: record("job"), name="job", every=60)
    client = Client()
    seen_by_runner(client)
    make_due("job")
    trigger.next_check = time.time() + 60
    client.get("/")
    assert [name for name, *_ in CALLS] == ["view"]


@pytest.mark.django_db
def test_the_gate_lets_one_process_per_interval_through(registry):
    registry.register(lambda: record("job"), name="job", every=60)
    client = Client()
    seen_by_runner(client)  # this process holds the gate for 60 s now
    make_due("job")
    trigger._gate_token = None  # as if another process had passed the gate
    client.get("/")
    assert [name for name, *_ in CALLS] == ["view"]


@pytest.mark.django_db
def test_a_check_refused_by_the_gate_waits_a_polling_interval_before_the_next(registry):
    registry.register(lambda: record("job"), name="job", every=60)
    client = Client()
    seen_by_runner(client)
    get_lock().acquire(GATE, timedelta(minutes=5))  # another process's turn
    trigger._gate_token = None
    client.get("/")
    # The next request does not ask the lock again at once.
    assert trigger.next_check >= time.time() + 50


@pytest.mark.django_db(transaction=True)
def test_jobs_run_when_the_server_closes_the_response_not_before(registry):
    registry.register(lambda: record("job"), name="job", every=60)
    handler = WSGIHandler()
    environ = RequestFactory().get("/").environ
    started = []

    def serve():
        response = handler(environ, lambda status, headers: started.append(status))
        body = b"".join(response)
        assert CALLS == [("view", (), {})], "a job ran before the response was sent"
        response.close()
        return body

    serve()  # the runner sees the job
    trigger.next_check = 0.0
    make_due("job")
    CALLS.clear()
    assert serve() == b"hello" and started == ["200 OK", "200 OK"]
    assert CALLS == [("view", (), {}), ("job", (), {})]


@pytest.mark.django_db
def test_a_spent_budget_leaves_the_other_jobs_for_the_next_request(registry, settings):
    settings.DJANGO_CRON = {**settings.DJANGO_CRON, "BUDGET": 0.05}
    for name in ("first", "second"):
        registry.register(lambda name=name: (time.sleep(0.1), record(name)), name=name, every=60)
    client = Client()
    seen_by_runner(client)
    make_due("first", "second")
    client.get("/")
    assert [name for name, *_ in CALLS] == ["view", "first"]
    assert trigger.next_check <= time.time()
    client.get("/")
    assert [name for name, *_ in CALLS] == ["view", "first", "view", "second"]


@pytest.mark.django_db(transaction=True)
def test_background_runs_jobs_in_a_thread(registry, settings):
    settings.DJANGO_CRON = {**settings.DJANGO_CRON, "BACKGROUND": True}
    threads = []
    registry.register(lambda: threads.append(threading.current_thread().name), name="job", every=60)
    client = Client()
    seen_by_runner(client)
    trigger._thread.join(timeout=30)
    trigger.next_check = 0.0
    make_due("job")
    assert client.get("/").status_code == 200
    wait_for(lambda: threads, message="the job to run")
    assert threads == ["django_cron"]


def another_process_takes_the_gate():
    """Let this process's hold on the poll gate end, and another process take it."""
    lock = get_lock()
    if trigger._gate_token:
        lock.release(GATE, trigger._gate_token)
    assert lock.acquire(GATE, timedelta(minutes=5))


def test_one_request_at_a_time_takes_the_turn_to_check():
    assert trigger.take_turn() is True  # a new process checks at its first request
    assert trigger.take_turn() is False  # ... and then not before the next check time
    trigger.next_check = 0.0
    with trigger._mutex:  # another request of the process is taking the turn
        assert trigger.take_turn() is False
    assert trigger.take_turn() is True


@pytest.mark.django_db(transaction=True)
def test_a_background_check_still_running_is_not_started_twice(registry, settings):
    settings.DJANGO_CRON = {**settings.DJANGO_CRON, "BACKGROUND": True}
    started, release = threading.Event(), threading.Event()
    registry.register(lambda: (started.set(), release.wait(30)), name="slow", every=60)
    trigger.check(gated=False)
    make_due("slow")
    trigger.start_thread(gated=False)
    first = trigger._thread
    try:
        assert started.wait(30), "the slow job did not start"
        # A daemon: a process that exits does not wait for its jobs.
        assert first.daemon and first.name == "django_cron"
        trigger.start_thread(gated=False)
        assert trigger._thread is first
    finally:
        release.set()
        first.join(timeout=30)


@pytest.mark.django_db(transaction=True)
def test_background_checks_pass_the_gate_too(registry, settings):
    settings.DJANGO_CRON = {**settings.DJANGO_CRON, "BACKGROUND": True}
    registry.register(lambda: record("job"), name="job", every=60)
    client = Client()
    seen_by_runner(client)
    trigger._thread.join(timeout=30)
    another_process_takes_the_gate()
    trigger.next_check = 0.0
    make_due("job")
    client.get("/")
    trigger._thread.join(timeout=30)
    assert [name for name, *_ in CALLS] == ["view"]


@pytest.mark.django_db
def test_a_process_whose_gate_was_taken_after_it_expired_waits_its_turn(registry):
    registry.register(lambda: record("job"), name="job", every=60)
    client = Client()
    seen_by_runner(client)  # this process holds the gate, and keeps its token
    another_process_takes_the_gate()
    make_due("job")
    client.get("/")
    assert [name for name, *_ in CALLS] == ["view"]


@pytest.mark.django_db(transaction=True)
def test_a_check_while_another_runs_in_the_process_returns_at_once(registry):
    started, release = threading.Event(), threading.Event()
    registry.register(lambda: (started.set(), release.wait(30)), name="slow", every=60)
    trigger.check(gated=False)  # the runner sees the job
    make_due("slow")
    first = threading.Thread(target=trigger.check, kwargs={"gated": False})
    first.start()
    try:
        assert started.wait(30), "the slow job did not start"
        second = threading.Thread(target=trigger.check, kwargs={"gated": False})
        second.start()
        second.join(timeout=10)
        assert not second.is_alive(), "the second check waited for the first"
    finally:
        release.set()
        first.join(timeout=30)


@pytest.mark.django_db(transaction=True)
def test_under_asgi_jobs_run_in_a_thread_not_on_the_event_loop(registry):
    threads = []
    registry.register(lambda: threads.append(threading.current_thread().name), name="job", every=60)

    @async_to_sync
    async def get():
        return await AsyncClient().get("/async/")

    get()
    trigger._thread.join(timeout=30)
    trigger.next_check = 0.0
    make_due("job")
    response = get()
    assert response.status_code == 200 and response.content == b"hello async"
    trigger._thread.join(timeout=30)
    assert threads == ["django_cron"]


# The outage tests take no django_db mark: under one, Django's test case refuses
# every alias it does not own before connecting. Here the connection to a port
# where no database listens is attempted for real, and refused.


def test_the_check_logs_and_swallows_an_outage(registry, settings, caplog, django_db_blocker):
    registry.register(lambda: record("job"), name="job", every=60)
    settings.DJANGO_CRON = {**settings.DJANGO_CRON, "LOCK_OPTIONS": {"using": "offline"}}
    with django_db_blocker.unblock(), caplog.at_level(logging.WARNING, logger="django_cron"):
        response = Client().get("/")
    assert response.status_code == 200 and response.content == b"hello"
    (warning,) = [r.getMessage() for r in caplog.records if r.name == "django_cron"]
    assert warning.startswith("The due check failed; next try in 60s: OperationalError")
    assert trigger.next_check > time.time() + 50


# Ping -------------------------------------------------------------------------


@pytest.fixture
def due_job(registry):
    """A job the runner has seen (through one ping) and that is due now."""
    registry.register(lambda: record("job"), name="job", every=60)
    client = Client()
    client.get(f"/cron/ping/{KEY}/")
    make_due("job")
    CALLS.clear()
    return client


@pytest.mark.django_db
@pytest.mark.parametrize("method", ["get", "post", "head"])
def test_a_good_ping_answers_with_a_summary_and_runs_due_jobs_after(due_job, method):
    client = due_job
    response = getattr(client, method)(f"/cron/ping/{KEY}/")
    assert response.status_code == 200
    assert "no-cache" in response["Cache-Control"] and "max-age=0" in response["Cache-Control"]
    if method != "head":
        assert response.json() == {
            "healthy": True,
            "ok": 1,
            "overdue": 0,
            "failing": 0,
            "broken": 0,
            "paused": 0,
            "new": 0,
        }
    assert CALLS == [("job", (), {})]


@pytest.mark.django_db
def test_a_ping_runs_due_jobs_while_another_process_holds_the_poll_gate(due_job):
    client = due_job
    lock = get_lock()
    if trigger._gate_token:
        lock.release(GATE, trigger._gate_token)
    trigger._gate_token = None
    assert lock.acquire(GATE, timedelta(minutes=5))  # another process's turn
    trigger.next_check = time.time() + 60  # and this process's middleware is not due
    assert client.get(f"/cron/ping/{KEY}/").status_code == 200
    assert CALLS == [("job", (), {})]


@pytest.mark.django_db
@pytest.mark.parametrize("key", ["wrong-key-0000000000000", KEY[:-1], KEY + "x", "x", KEY.upper()])
def test_a_wrong_ping_key_gets_404_and_runs_nothing(due_job, key):
    client = due_job
    assert client.get(f"/cron/ping/{key}/").status_code == 404
    assert client.post(f"/cron/ping/{key}/").status_code == 404
    assert CALLS == []


@pytest.mark.django_db
def test_an_empty_key_gets_404():
    assert Client().get("/cron/ping//").status_code == 404


@pytest.mark.django_db
def test_with_no_key_configured_ping_is_off(registry, settings):
    registry.register(lambda: record("job"), name="job", every=60)
    settings.DJANGO_CRON = {"PING_KEY": ""}
    assert Client().get("/cron/ping/anything/").status_code == 404
    assert Client().get(f"/cron/ping/{KEY}/").status_code == 404
    assert CALLS == []


def test_check_warns_when_ping_is_routed_without_a_key(settings):
    from django_cron.checks import check_ping_key

    settings.DJANGO_CRON = {"PING_KEY": ""}
    assert [w.id for w in check_ping_key()] == ["django_cron.W001"]
    settings.DJANGO_CRON = {"PING_KEY": KEY}
    assert check_ping_key() == []


@pytest.mark.django_db
def test_ping_refuses_other_methods():
    assert Client().put(f"/cron/ping/{KEY}/").status_code == 405


# Status -----------------------------------------------------------------------


@pytest.mark.django_db
def test_status_is_200_when_healthy_and_503_when_a_job_fails(registry):
    def broken():
        raise RuntimeError("nope")

    registry.register(lambda: None, name="fine", every=60)
    registry.register(broken, name="broken", every=60)
    client = Client()
    response = client.get("/cron/status/")
    assert response.status_code == 200 and response.json()["healthy"] is True
    assert "jobs" not in response.json()
    client.get(f"/cron/ping/{KEY}/")
    make_due("broken")
    client.get(f"/cron/ping/{KEY}/")
    response = client.get("/cron/status/")
    assert response.status_code == 503
    assert response.json() == {
        "healthy": False,
        "ok": 1,
        "overdue": 0,
        "failing": 1,
        "broken": 0,
        "paused": 0,
        "new": 0,
    }


@pytest.mark.django_db
def test_status_shows_job_details_only_with_the_key(registry):
    registry.register(lambda: None, name="fine", every=60)
    client = Client()
    assert "jobs" not in client.get("/cron/status/?key=wrong").json()
    (job,) = client.get(f"/cron/status/?key={KEY}").json()["jobs"]
    assert job["name"] == "fine" and job["schedule"] == "Every minute"
    (job,) = client.get("/cron/status/", headers={"X-Cron-Key": KEY}).json()["jobs"]
    assert job["health"] == "ok" and job["next_run"].startswith("20")


def test_checks_back_off_while_the_lock_store_is_down(
    registry, settings, caplog, django_db_blocker
):
    registry.register(lambda: record("job"), name="job", every=60)
    settings.DJANGO_CRON = {
        **settings.DJANGO_CRON,
        "POLLING_FREQUENCY": 1,
        "LOCK_OPTIONS": {"using": "offline"},
    }
    delays = []
    with django_db_blocker.unblock():
        for _ in range(8):
            trigger.check()
            delays.append(round(trigger.next_check - time.time()))
    assert delays == [1, 2, 4, 8, 16, 32, 60, 60]
    assert caplog.text.count("The due check failed; next try in") == 8
    assert caplog.text.count("OperationalError") == 8


@pytest.mark.django_db
def test_a_check_that_passes_ends_the_back_off(registry):
    registry.register(lambda: record("job"), name="job", every=60)
    trigger._failures = 5
    trigger.check()
    assert trigger._failures == 0 and trigger.next_check > time.time() + 50


# Run now (the admin's) ----------------------------------------------------------


@pytest.mark.django_db(transaction=True)
def test_run_in_background_runs_the_named_jobs_now_in_a_daemon_thread(registry):
    registry.register(lambda: record("named"), name="named", every=3600)
    registry.register(lambda: record("other"), name="other", every=3600)
    run_due()
    thread = run_in_background(["named"])
    # A daemon, and named so that a thread dump says what it is.
    assert thread.daemon and thread.name == "django_cron run now"
    thread.join(timeout=30)
    assert CALLS == [("named", (), {})]
    assert JobRun.objects.get().forced


def test_run_in_background_logs_what_it_could_not_run(
    registry, settings, caplog, django_db_blocker
):
    registry.register(lambda: record("named"), name="named", every=3600)
    registry.register(lambda: record("other"), name="other", every=3600)
    settings.DJANGO_CRON = {**settings.DJANGO_CRON, "DATABASE": "offline"}
    with django_db_blocker.unblock(), caplog.at_level(logging.ERROR, logger="django_cron"):
        run_in_background(["named", "other"]).join(timeout=30)
    (failure,) = [r for r in caplog.records if r.name == "django_cron"]
    assert failure.getMessage() == "Running named, other in the background failed"
    assert "OperationalError" in repr(failure.exc_info[1]) and CALLS == []
