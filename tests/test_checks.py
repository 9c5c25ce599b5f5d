import os
import subprocess
import sys
from datetime import timedelta
from importlib import import_module

import pytest
from django.apps import AppConfig
from django.core import checks
from django.core.management import call_command
from django.core.management.base import SystemCheckError

from django_cron import Job
from django_cron.checks import (
    check_cron_classes,
    check_cronjobs,
    check_jobs,
    check_settings,
    check_unregistered_jobs,
)
from django_cron.compat.crontab import register_cronjobs
from django_cron.compat.tivix.jobs import register_cron_classes
from tests.conftest import ROOT


def ids(errors):
    return [error.id for error in errors]


def noop():
    pass


def other():
    pass


@pytest.mark.parametrize(
    "options, expected",
    [
        ({"schedule": "61 * * * *"}, "django_cron.E001"),
        ({"schedule": "every day"}, "django_cron.E001"),
        # An empty expression is a bad expression, not a missing one: in code
        # only None is unset (the database's blank fields differ).
        ({"schedule": ""}, "django_cron.E001"),
        ({"every": 0}, "django_cron.E002"),
        ({"every": "soon"}, "django_cron.E002"),
        ({"every": -timedelta(seconds=5)}, "django_cron.E002"),
        ({"schedule": "@daily", "every": 60}, "django_cron.E003"),
        ({"every": 60, "timezone": "Mars/Olympus_Mons"}, "django_cron.E004"),
        ({"every": 60, "missed": "sometimes"}, "django_cron.E008"),
        ({"every": 60, "lease": -1}, "django_cron.E009"),
        ({"every": 60, "overlap": "queue"}, "django_cron.E018"),
        ({"every": 60, "overlap": "allow"}, "django_cron.E018"),  # one at a time: nothing overlaps
        ({"every": 60, "overlap": "skip", "max_running": 3}, "django_cron.E018"),
        ({"schedule": "0 0 30 2 *"}, "django_cron.E016"),
        ({"schedule": "0 0 31 4,6,9,11 *"}, "django_cron.E016"),
        ({"schedule": "0 0 25 * * *"}, "django_cron.E001"),  # six fields: hour 25
        ({"schedule": "0 0 9 * * * 2027"}, "django_cron.E001"),
        ({"schedule": "0 0 * * 5L"}, "django_cron.E001"),
        ({"every": 60, "start_date": "2026-05-02", "end_date": "2026-05-01"}, "django_cron.E001"),
        ({"schedule": "@daily", "start_date": "next week"}, "django_cron.E001"),
        (
            {
                "schedule": "0 9 * * *",
                "start_date": "2026-05-01T10:00",
                "end_date": "2026-05-01T11:00",
            },
            "django_cron.E016",
        ),
    ],
)
def test_bad_job_options_fail_the_check_with_an_id_and_a_hint(registry, options, expected):
    registry.register(noop, name="bad", **options)
    (error,) = check_jobs()
    assert error.id == expected
    assert "'bad'" in error.msg and error.hint and error.obj == "bad"


def test_bad_class_attributes_are_checked_too(registry):
    class NotANumber(Job):
        run_every = "often"

    class Both(Job):
        run_every = 60
        schedule = "@hourly"

    class Broken(Job):
        schedule = "* * *"

    for cls in (NotANumber, Both, Broken):
        registry.register(cls)
    assert ids(check_jobs()) == ["django_cron.E002", "django_cron.E003", "django_cron.E001"]


def test_a_job_with_only_a_schedule_does_not_inherit_the_daily_default(registry):
    class Hourly(Job):
        schedule = "@hourly"

    registry.register(Hourly)
    assert check_jobs() == []


def test_two_different_jobs_with_one_name_are_an_error(registry):
    registry.register(noop, name="same", every=60)
    registry.register(other, name="same", every=60)
    (error,) = check_jobs()
    assert error.id == "django_cron.E005"
    assert "tests.test_checks.noop" in error.msg and "tests.test_checks.other" in error.msg


def test_a_lock_backend_that_cannot_be_imported_is_an_error(settings):
    settings.DJANGO_CRON = {"LOCK_BACKEND": "django_cron.locks.nowhere.Lock"}
    assert ids(check_settings()) == ["django_cron.E006"]


def test_use_tz_false_passes_the_checks(settings):
    # django_cron.E007 refused it until naive times were supported.
    settings.USE_TZ = False
    settings.TIME_ZONE = "America/Chicago"
    assert check_settings() == []


def test_an_unknown_missed_policy_setting_is_an_error(settings):
    settings.DJANGO_CRON = {"MISSED": "never"}
    assert ids(check_settings()) == ["django_cron.E008"]


def test_manage_py_check_fails_on_a_bad_job(registry):
    registry.register(noop, name="bad", schedule="99 * * * *")
    with pytest.raises(SystemCheckError, match=r"django_cron\.E001"):
        call_command("check")


def test_manage_py_check_names_a_bad_six_field_expression(registry):
    # Read seconds first, "0 0 25 * * *" asks for hour 25.
    registry.register(noop, name="bad", schedule="0 0 25 * * *")
    with pytest.raises(SystemCheckError, match=r"django_cron\.E001.*'0 0 25 \* \* \*'"):
        call_command("check")


def test_manage_py_check_fails_on_an_end_date_before_the_start_date(registry):
    registry.register(noop, name="bad", every=60, start_date="2026-05-02", end_date="2026-05-01")
    with pytest.raises(SystemCheckError, match=r"django_cron\.E001.*before the start"):
        call_command("check")


@pytest.mark.parametrize(
    "options",
    [
        {"schedule": "0 30 9 * * MON"},
        {"schedule": "0 0 9 * * 5#3"},
        {"schedule": "0 18 * * L5"},
        {"schedule": "0 9 L * *"},
        {"schedule": "*/10 * * * * *", "end_date": "2020-01-01T00:00Z"},  # ended, not broken
        {"every": "5m", "start_date": "2026-05-01T09:00", "end_date": "2026-06-01T09:00"},
    ],
)
def test_six_fields_l_hash_and_dates_pass_the_checks(registry, options):
    registry.register(noop, name="fine", **options)
    assert check_jobs() == []


def test_the_discovered_jobs_pass_the_checks():
    call_command("check", "--fail-level", "WARNING")


@pytest.mark.parametrize(
    "backend, alias, expected",
    [
        ("django_cron.locks.cache.CacheLock", "default", ["django_cron.W002"]),
        ("django_cron.locks.cache.CacheLock", "db", []),
        ("django_cron.locks.cache.CacheLock", "nowhere", ["django_cron.E010"]),
        ("django_cron.locks.redis.RedisLock", "db", ["django_cron.W003"]),
        ("django_cron.locks.redis.RedisLock", "default", ["django_cron.W003"]),
        ("django_cron.locks.database.DatabaseLock", None, []),
    ],
)
def test_lock_backends_are_checked_against_their_cache(settings, backend, alias, expected):
    settings.CACHES = {
        "default": {"BACKEND": "django.core.cache.backends.locmem.LocMemCache"},
        "db": {"BACKEND": "django.core.cache.backends.db.DatabaseCache", "LOCATION": "t"},
        "redis": {"BACKEND": "django_redis.cache.RedisCache", "LOCATION": "redis://h:1/0"},
    }
    options = {"alias": alias} if alias else {}
    settings.DJANGO_CRON = {"LOCK_BACKEND": backend, "LOCK_OPTIONS": options}
    assert ids(check_settings()) == expected


def test_redis_lock_on_a_django_redis_cache_passes(settings):
    settings.CACHES = {
        "redis": {"BACKEND": "django_redis.cache.RedisCache", "LOCATION": "redis://h:1/0"},
    }
    settings.DJANGO_CRON = {
        "LOCK_BACKEND": "django_cron.locks.redis.RedisLock",
        "LOCK_OPTIONS": {"alias": "redis"},
    }
    assert check_settings() == []


@pytest.mark.parametrize(
    "key, value",
    [
        ("AUTODISCOVER", "yes"),
        ("LOCK_BACKEND", 42),
        ("LOCK_OPTIONS", "alias=redis"),
        ("DATABASE", "nowhere"),
        ("POLLING_FREQUENCY", "every minute"),
        ("POLLING_FREQUENCY", 0),
        ("LEASE", -5),
        ("MIN_LEASE", "-1s"),
        ("GRACE", "soon"),
        ("BUDGET", timedelta(0)),
        ("BACKGROUND", None),
        ("PING_KEY", None),
        ("ALERT_AFTER", 0),
        ("RETRY_DELAY", -1),
        ("PING_TIMEOUT", 0),
        ("OUTPUT_LIMIT", 1.5),
        ("ENQUEUE", ""),
        ("HISTORY_DAYS", -1),
        ("PRUNE_BATCH_SIZE", 0),
        ("HEARTBEAT", "on"),
    ],
)
def test_a_bad_django_cron_value_is_an_error_naming_the_key_and_value(settings, key, value):
    settings.DJANGO_CRON = {key: value}
    (error,) = check_settings()
    assert error.id == "django_cron.E013"
    assert f"DJANGO_CRON[{key!r}]" in error.msg and repr(value) in error.msg
    assert error.hint


def test_good_django_cron_values_pass_the_check(settings):
    settings.DJANGO_CRON = {
        "POLLING_FREQUENCY": "1m",
        "LEASE": timedelta(hours=1),
        "MIN_LEASE": 0,
        "GRACE": "0s",
        "BUDGET": 2.5,
        "RETRY_DELAY": "1h30m",
        "PING_TIMEOUT": "10",
        "ALERT_AFTER": None,
        "OUTPUT_LIMIT": 0,
        "HISTORY_DAYS": 0.5,
        "PRUNE_BATCH_SIZE": 1,
        "ENQUEUE": "dummy",
        "DATABASE": "default",
        "LOCK_OPTIONS": {"using": "default"},
        "PING_KEY": "k",
    }
    assert check_settings() == []


def test_django_cron_that_is_not_a_dict_is_an_error(settings):
    settings.DJANGO_CRON = "LEASE=10"
    (error,) = check_settings()
    assert error.id == "django_cron.E013" and "'LEASE=10'" in error.msg and error.hint


def test_a_bad_2009_polling_frequency_is_an_error(settings):
    settings.CRON_POLLING_FREQUENCY = "often"
    (error,) = check_settings()
    assert error.id == "django_cron.E013" and "CRON_POLLING_FREQUENCY" in error.msg


@pytest.mark.parametrize(
    "key, suggestion",
    [
        ("POLING_FREQUENCY", "POLLING_FREQUENCY"),
        ("lease", "LEASE"),
        ("HISTORY_DAY", "HISTORY_DAYS"),
    ],
)
def test_an_unknown_key_is_a_warning_that_suggests_the_known_one(settings, key, suggestion):
    settings.DJANGO_CRON = {key: 30}
    (warning,) = check_settings()
    assert warning.id == "django_cron.W005" and repr(key) in warning.msg
    assert f"did you mean {suggestion!r}?" in warning.hint


def test_an_unknown_key_like_no_other_lists_the_known_ones(settings):
    settings.DJANGO_CRON = {"COLOUR": "blue"}
    (warning,) = check_settings()
    assert warning.id == "django_cron.W005" and "POLLING_FREQUENCY" in warning.hint


BAD_CRONJOBS = [
    ("*/5 * * * *", "tests.crontab_jobs.report", ["daily"]),
    ("@daily", "tests.nowhere.report"),
    ("@daily", "tests.crontab_jobs.missing"),
    ("@daily", "tests.settings.SECRET_KEY"),
    ("@daily", "tests.crontab_jobs.report", [], ["copies", 2]),
    ("@daily", 42),
    ("@daily",),
]


def test_bad_cronjobs_entries_are_errors_naming_the_index_and_the_entry(settings):
    settings.CRONJOBS = BAD_CRONJOBS
    errors = check_cronjobs()
    assert ids(errors) == [
        "django_cron.E014",
        "django_cron.E014",
        "django_cron.E015",
        "django_cron.E011",
        "django_cron.E011",
        "django_cron.E011",
    ]
    for index, error in enumerate(errors, start=1):
        assert f"CRONJOBS[{index}]" in error.msg and repr(BAD_CRONJOBS[index]) in error.msg
        assert error.hint


def test_cronjobs_that_is_not_a_list_is_an_error(settings):
    settings.CRONJOBS = None
    assert ids(check_cronjobs()) == ["django_cron.E011"]


def test_bad_cronjobs_entries_are_skipped_and_the_good_ones_registered(settings, registry):
    settings.CRONJOBS = BAD_CRONJOBS
    register_cronjobs(registry)
    assert [d.name for d in registry.all()] == ["crontab:tests.crontab_jobs.report"]


BAD_CRON_CLASSES = [
    "tests.tivix_cron.MyCronJob",
    "tests.tivix_cron.Missing",
    "tests.nowhere.Job",
    "tests.crontab_jobs.report",
    "django_cron.Job",
    42,
]


def test_bad_cron_classes_are_errors_naming_the_index_and_the_entry(settings):
    settings.CRON_CLASSES = BAD_CRON_CLASSES
    errors = check_cron_classes()
    assert ids(errors) == [
        "django_cron.E014",
        "django_cron.E014",
        "django_cron.E015",
        "django_cron.E015",
        "django_cron.E011",
    ]
    for index, error in enumerate(errors, start=1):
        assert f"CRON_CLASSES[{index}]" in error.msg and repr(BAD_CRON_CLASSES[index]) in error.msg
        assert error.hint


def test_cron_classes_given_as_one_string_is_an_error(settings):
    settings.CRON_CLASSES = "tests.tivix_cron.MyCronJob"
    assert ids(check_cron_classes()) == ["django_cron.E011"]


def test_bad_cron_classes_are_skipped_and_the_good_ones_registered(settings, registry):
    settings.CRON_CLASSES = BAD_CRON_CLASSES
    register_cron_classes(registry)
    assert [d.name for d in registry.all()] == ["my_app.my_cron_job"]


# Run in a fresh interpreter: Django starts and says which jobs it registered.
LIST_JOBS = """
import django
django.setup()
from django_cron.registry import cronScheduler
print(" ".join(sorted(d.name for d in cronScheduler.all())))
"""


def test_django_starts_despite_bad_entries_and_check_reports_each():
    env = {**os.environ, "DJANGO_SETTINGS_MODULE": "tests.settings_bad_jobs"}
    env["PYTHONPATH"] = str(ROOT)

    def run(*args):
        return subprocess.run(
            [sys.executable, *args], cwd=ROOT, env=env, capture_output=True, text=True, timeout=120
        )

    started = run("-c", LIST_JOBS)
    assert started.returncode == 0, started.stderr
    names = started.stdout.split()
    assert {"my_app.my_cron_job", "my_app.flaky", "crontab:tests.crontab_jobs.report"} <= set(names)
    # Each skipped entry is logged as the process starts.
    for where in (
        "CRONJOBS[3]",
        "CRONJOBS[4]",
        "CRONJOBS[5]",
        "CRON_CLASSES[3]",
        "CRON_CLASSES[4]",
    ):
        assert where in started.stderr

    checked = run("-m", "django", "check")
    assert checked.returncode == 1
    for where, id in [
        ("CRONJOBS[3]", "E014"),
        ("CRONJOBS[4]", "E015"),
        ("CRONJOBS[5]", "E011"),
        ("CRON_CLASSES[3]", "E014"),
        ("CRON_CLASSES[4]", "E015"),
    ]:
        assert f"(django_cron.{id}) {where}" in checked.stderr, checked.stderr


def test_a_job_name_too_long_to_store_fails_the_check(registry):
    registry.register(noop, name="n" * 201, every=60)
    (error,) = check_jobs()
    assert error.id == "django_cron.E016" and "longer than 200 characters" in error.msg


def test_a_function_registered_without_a_schedule_is_refused_at_once(registry):
    with pytest.raises(TypeError, match=r"^Say when 'noop' runs: register\(function, every="):
        registry.register(noop)
    with pytest.raises(TypeError, match="Say when 'noop' runs"):
        registry.register(name="quiet")(noop)
    assert len(registry) == 0
    # A Job subclass with neither runs daily, as in 2009.
    registry.register(Job, name="daily")
    assert registry.get("daily").schedule_spec() == (None, 86400)


def test_a_job_class_in_a_cron_py_that_nothing_registered_is_a_warning(registry):
    module = import_module("tests.forgotten.cron")
    registry.register(module.WeeklyReport)  # as importing it did the first time
    config = AppConfig.create("tests.forgotten")
    (warning,) = check_unregistered_jobs([config])
    assert warning.id == "django_cron.W006"
    assert warning.msg == (
        "tests.forgotten.cron.CheckMail is a Job but is never registered, so it never runs."
    )
    assert warning.hint.startswith("Register it: cronScheduler.register(CheckMail) after")
    registry.register(module.CheckMail)
    assert check_unregistered_jobs([config]) == []


def test_the_unregistered_job_check_runs_with_manage_py_check():
    assert check_unregistered_jobs in checks.registry.registry.get_checks()
    # The test apps' own cron.py files register everything they define.
    assert check_unregistered_jobs() == []
