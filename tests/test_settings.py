"""The DJANGO_CRON settings at run time: validated values, and defaults in place of bad ones."""

import logging
import time
from datetime import timedelta

import pytest
from django.test import Client
from django.utils import timezone

from django_cron import conf
from django_cron.models import JobState
from django_cron.trigger import trigger
from tests.effects import CALLS, record

BAD = "every minute"


def warnings_about(caplog, text):
    return [
        record
        for record in caplog.records
        if record.name == "django_cron"
        and record.levelno == logging.WARNING
        and text in record.getMessage()
    ]


@pytest.mark.parametrize(
    "key, value, expected",
    [
        ("POLLING_FREQUENCY", "1m", 60.0),
        ("POLLING_FREQUENCY", 30, 30.0),
        ("LEASE", "1h30m", 5400.0),
        ("LEASE", timedelta(minutes=2), 120.0),
        ("MIN_LEASE", 0, 0.0),
        ("MIN_LEASE", "0s", 0.0),
        ("GRACE", "90s", 90.0),
        ("BUDGET", 0.5, 0.5),
        ("RETRY_DELAY", timedelta(0), 0.0),
        ("PING_TIMEOUT", "300", 300.0),
    ],
)
def test_durations_read_as_float_seconds(settings, key, value, expected):
    settings.DJANGO_CRON = {key: value}
    result = conf.polling_frequency() if key == "POLLING_FREQUENCY" else conf.get(key)
    assert result == expected and type(result) is float


@pytest.mark.parametrize(
    "key, value",
    [
        ("AUTODISCOVER", "yes"),
        ("LOCK_BACKEND", 42),
        ("LOCK_BACKEND", "not a path"),
        ("LOCK_OPTIONS", ["alias", "redis"]),
        ("DATABASE", "nowhere"),
        ("LEASE", 0),
        ("LEASE", "5 minutes"),
        ("HEARTBEAT", 1),
        ("MIN_LEASE", -1),
        ("MISSED", "never"),
        ("GRACE", float("nan")),
        ("BUDGET", "-5s"),
        ("BACKGROUND", "False"),
        ("PING_KEY", 1234),
        ("ALERT_AFTER", 0),
        ("ALERT_AFTER", 2.5),
        ("RETRY_DELAY", float("inf")),
        ("PING_TIMEOUT", timedelta(0)),
        ("OUTPUT_LIMIT", -1),
        ("OUTPUT_LIMIT", True),
        ("ENQUEUE", ""),
        ("ENQUEUE", 1),
        ("HISTORY_DAYS", 0),
        ("HISTORY_DAYS", "30"),
        ("PRUNE_BATCH_SIZE", 0),
    ],
)
def test_a_bad_value_reads_as_its_default(settings, caplog, key, value):
    settings.DJANGO_CRON = {key: value}
    assert conf.get(key) == conf.DEFAULTS[key]
    (warning,) = warnings_about(caplog, f"DJANGO_CRON[{key!r}]")
    message = warning.getMessage()
    assert repr(value) in message and repr(conf.DEFAULTS[key]) in message


@pytest.mark.parametrize("key", list(conf.DEFAULTS))
def test_every_default_passes_its_own_validator(key):
    assert conf.clean(key, conf.DEFAULTS[key]) == conf.DEFAULTS[key]


def test_a_bad_value_is_logged_once_however_often_it_is_read(settings, caplog):
    settings.DJANGO_CRON = {"LEASE": "five minutes", "GRACE": -1}
    for _ in range(100):
        assert conf.get("LEASE") == 300
        assert conf.get("GRACE") == 300
    assert len(warnings_about(caplog, "DJANGO_CRON['LEASE']")) == 1
    assert len(warnings_about(caplog, "DJANGO_CRON['GRACE']")) == 1
    # Another bad value of the same key is news.
    settings.DJANGO_CRON = {"LEASE": "six minutes"}
    conf.get("LEASE")
    assert len(warnings_about(caplog, "'six minutes'")) == 1


def test_a_bad_polling_frequency_falls_back_to_the_2009_setting_then_60(settings, caplog):
    settings.DJANGO_CRON = {"POLLING_FREQUENCY": BAD}
    assert conf.polling_frequency() == 60.0
    settings.CRON_POLLING_FREQUENCY = "17s"
    assert conf.polling_frequency() == 17.0
    settings.CRON_POLLING_FREQUENCY = "often"
    assert conf.polling_frequency() == 60.0
    (warning,) = warnings_about(caplog, "CRON_POLLING_FREQUENCY is 'often'")
    assert "60" in warning.getMessage()


def test_a_django_cron_setting_that_is_not_a_dict_reads_as_the_defaults(settings, caplog):
    settings.DJANGO_CRON = [("LEASE", 10)]
    assert conf.get("LEASE") == 300 and conf.polling_frequency() == 60.0
    assert len(warnings_about(caplog, "DJANGO_CRON is [('LEASE', 10)]")) == 1


@pytest.fixture
def fresh_trigger(settings):
    settings.MIDDLEWARE = ["django_cron.middleware.CronMiddleware"]
    trigger.next_check, trigger._gate_token = 0.0, None
    yield
    if trigger._thread is not None:
        trigger._thread.join(timeout=30)
    trigger.next_check, trigger._gate_token = 0.0, None


@pytest.mark.django_db
def test_a_bad_polling_frequency_neither_fails_requests_nor_stops_the_jobs(
    registry, settings, caplog, fresh_trigger
):
    registry.register(lambda: record("job"), name="job", every=3600)
    settings.DJANGO_CRON = {"POLLING_FREQUENCY": BAD}
    client = Client(raise_request_exception=False)
    # The first check creates the job's state; make the job due, then look again.
    assert client.get("/").status_code == 200
    JobState.objects.filter(name="job").update(next_run_at=timezone.now() - timedelta(seconds=1))
    trigger.next_check = 0.0
    CALLS.clear()

    before = time.time()
    response = client.get("/")
    assert response.status_code == 200 and response.content == b"hello"
    assert [name for name, *_ in CALLS] == ["view", "job"]
    # The next check is planned with the default interval, not stuck in the past.
    assert trigger.next_check >= before + 60

    for _ in range(50):
        trigger.next_check = 0.0
        assert client.get("/").status_code == 200
    (warning,) = warnings_about(caplog, "DJANGO_CRON['POLLING_FREQUENCY']")
    assert repr(BAD) in warning.getMessage() and "60" in warning.getMessage()
