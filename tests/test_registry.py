import importlib
import subprocess
import sys
from datetime import timedelta

import pytest

import django_cron
from django_cron import Job, autodiscover, conf, cronScheduler, register
from django_cron.base import Job as BaseJob
from django_cron.base import cron
from django_cron.worker import Worker
from tests.conftest import ROOT, no_queries, subprocess_env

LEGACY = {
    "tests.legacy2009.cron.CheckMail",
    "tests.legacy2009.cron.PurgeSessions",
    "tests.legacy2009.cron.Nightly",
    "tests.legacy2008.cron.RebuildIndex",
}


def test_app_ready_discovered_every_cron_py():
    names = {definition.name for definition in cronScheduler.all()}
    assert LEGACY | {"tests.modern.cron.send_digest", "reports.refresh", "rotate.logs"} <= names


def test_autodiscover_again_is_harmless():
    before = [(d.name, d.target) for d in cronScheduler.all()]
    autodiscover()
    django_cron.autodiscover()
    assert [(d.name, d.target) for d in cronScheduler.all()] == before


def test_legacy_names_are_the_same_objects():
    assert cron is cronScheduler
    # django_cron.cron is Tivix's module, as CRON_CLASSES entries name it.
    from django_cron.cron import FailedRunsNotificationCronJob

    assert django_cron.cron.FailedRunsNotificationCronJob is FailedRunsNotificationCronJob
    assert BaseJob is Job
    assert register == cronScheduler.register


def test_legacy_job_keeps_its_2009_defaults():
    nightly = cronScheduler.get("tests.legacy2009.cron.Nightly")
    assert nightly.schedule.every == timedelta(days=1)
    purge = cronScheduler.get("tests.legacy2009.cron.PurgeSessions")
    assert purge.args == ("sessions",) and purge.kwargs == {"days": 30}
    assert cronScheduler.get("tests.legacy2009.cron.CheckMail").schedule.every.seconds == 300


def test_registering_what_is_not_a_job_raises_type_error(registry):
    class NotAJob:
        run_every = 60

    with pytest.raises(TypeError, match="You can only register a Job"):
        registry.register(NotAJob)
    with pytest.raises(TypeError):
        registry.register("tests.legacy2009.cron.CheckMail")
    assert len(registry) == 0


def test_registering_the_same_class_twice_keeps_one_job(registry):
    class Twice(Job):
        run_every = 60

    registry.register(Twice)
    registry.register(Twice)
    assert len(registry) == 1 and registry.conflicts == []


def test_register_works_as_a_decorator_with_and_without_options(registry):
    @registry.register
    class Bare(Job):
        run_every = 60

    @registry.register(every="5m", name="fn")
    def fn():
        return "called"

    def plain(kind):
        return kind

    assert registry.register(plain, "x", schedule="@hourly") is plain
    assert fn() == "called" and isinstance(Bare(), Job)  # the decorated objects are unchanged
    bare, fn_job, plain_job = registry.all()
    # The default name is the dotted path, the job's identity in the database.
    assert bare.name == f"tests.test_registry.{Bare.__qualname__}"
    assert (fn_job.name, plain_job.name) == ("fn", f"tests.test_registry.{plain.__qualname__}")
    assert fn_job.schedule.every == timedelta(minutes=5)
    assert plain_job.args == ("x",)


def test_class_attributes_configure_the_job(registry):
    class Report(Job):
        schedule = "30 6 * * 1-5"
        timezone = "Europe/Berlin"
        lease = 60
        name = "reports.weekday"

    registry.register(Report)
    definition = registry.get("reports.weekday")
    assert definition.schedule.key == "cron 30 6 * * 1-5 Europe/Berlin"
    assert definition.lease == timedelta(seconds=60)


def test_options_win_over_class_attributes(registry):
    class Report(Job):
        run_every = 60
        timezone = "Europe/Berlin"

    registry.register(Report, every="2h", timezone="UTC", lease=timedelta(minutes=3))
    (definition,) = registry.all()
    assert definition.schedule.every == timedelta(hours=2)
    assert definition.timezone == "UTC" and definition.lease == timedelta(minutes=3)


def test_timezone_defaults_to_time_zone(registry, settings):
    settings.TIME_ZONE = "America/New_York"
    registry.register(lambda: None, name="nyc", schedule="@daily")
    assert registry.get("nyc").schedule.key.endswith("America/New_York")


def test_importing_and_registering_touch_no_database(registry):
    import tests.modern.cron

    # The reload makes new classes; the registry gets its old jobs back
    # afterwards, so the module must get back the classes they are.
    saved = dict(vars(tests.modern.cron))
    try:
        with no_queries():
            importlib.reload(tests.modern.cron)
            autodiscover()
        assert "reports.refresh" in registry
    finally:
        vars(tests.modern.cron).update(saved)


def test_polling_frequency_honours_the_2009_setting(settings):
    settings.CRON_POLLING_FREQUENCY = 17
    assert conf.polling_frequency() == 17.0
    assert Worker().sleep_seconds(None) == 17.0
    settings.DJANGO_CRON = {"POLLING_FREQUENCY": 2}
    assert conf.polling_frequency() == 2.0


def run_names(**env):
    return subprocess.run(
        [sys.executable, "-m", "tests.procs", "names"],
        cwd=ROOT,
        env=subprocess_env("default", **env),
        capture_output=True,
        text=True,
        timeout=120,
    )


def test_an_error_in_a_cron_py_propagates():
    result = run_names(DJANGO_CRON_TEST_EXTRA_APPS="tests.brokenapp")
    assert result.returncode != 0
    assert "RuntimeError: typo in brokenapp/cron.py" in result.stderr


def test_autodiscover_can_be_turned_off():
    assert LEGACY <= set(run_names().stdout.split())
    # Jobs named in settings (CRON_CLASSES, CRONJOBS) are not discovered, so they stay.
    names = run_names(DJANGO_CRON_TEST_AUTODISCOVER="0").stdout.splitlines()
    assert not LEGACY & set(names) and "reports.refresh" not in names
    assert "my_app.my_cron_job" in names
