from datetime import timedelta

import pytest
from django.core.management import call_command
from django.core.management.base import SystemCheckError

from django_cron import Job
from django_cron.checks import check_jobs, check_settings


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
        ({"every": 0}, "django_cron.E002"),
        ({"every": "soon"}, "django_cron.E002"),
        ({"every": -timedelta(seconds=5)}, "django_cron.E002"),
        ({"schedule": "@daily", "every": 60}, "django_cron.E003"),
        ({}, "django_cron.E003"),
        ({"every": 60, "timezone": "Mars/Olympus_Mons"}, "django_cron.E004"),
        ({"every": 60, "missed": "sometimes"}, "django_cron.E008"),
        ({"every": 60, "lease": -1}, "django_cron.E009"),
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


def test_use_tz_false_is_an_error(settings):
    settings.USE_TZ = False
    assert ids(check_settings()) == ["django_cron.E007"]


def test_an_unknown_missed_policy_setting_is_an_error(settings):
    settings.DJANGO_CRON = {"MISSED": "never"}
    assert ids(check_settings()) == ["django_cron.E008"]


def test_manage_py_check_fails_on_a_bad_job(registry):
    registry.register(noop, name="bad", schedule="99 * * * *")
    with pytest.raises(SystemCheckError, match=r"django_cron\.E001"):
        call_command("check")


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
