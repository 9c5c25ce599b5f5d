"""
A database that still holds the 2009 django-cron's tables migrates with plain
``migrate``, runs jobs, and keeps the 2009 tables and rows as they were until
the site drops them with the SQL that docs/migrating.rst gives.
"""

from io import StringIO

import pytest
from django.core.management import call_command
from django.db import connections

from django_cron.models import JobRun, JobState
from tests import syncdb2009
from tests.conftest import on_each_database
from tests.effects import CALLS
from tests.guides import guide


@pytest.fixture
def database_of_2009(cron_db):
    """The test database as a 2009 site's: no django_cron migration, the 2009 tables."""
    connection = connections[cron_db]
    call_command("migrate", "django_cron", "zero", database=cron_db, verbosity=0)
    assert JobState._meta.db_table not in connection.introspection.table_names()
    try:
        syncdb2009.create(connection)
        yield connection
    finally:
        syncdb2009.drop(connection)
        call_command("migrate", "django_cron", database=cron_db, verbosity=0)


@on_each_database
def test_a_2009_database_migrates_and_runs_jobs_beside_its_old_tables(database_of_2009, alias):
    connection = database_of_2009
    before = syncdb2009.snapshot(connection)
    assert [len(rows) for columns, rows in before.values()] == [2, 1]

    call_command("migrate", database=alias, verbosity=0)
    out = StringIO()
    call_command("cron", "run", "--force", "tests.legacy2009.cron.CheckMail", stdout=out)

    assert out.getvalue().startswith("tests.legacy2009.cron.CheckMail: ok in ")
    assert CALLS == [("CheckMail", (), {})]
    assert JobRun.objects.using(alias).get().status == "ok"
    assert syncdb2009.snapshot(connection) == before


@on_each_database
def test_the_documented_sql_drops_the_2009_tables_and_nothing_else(database_of_2009, alias):
    call_command("migrate", database=alias, verbosity=0)
    with database_of_2009.cursor() as cursor:
        for statement in guide("From the 2009 django-cron").sql():
            cursor.execute(statement)
    tables = set(database_of_2009.introspection.table_names())
    assert not tables & set(syncdb2009.TABLES)
    out = StringIO()
    call_command("cron", "run", "--force", "tests.legacy2009.cron.Nightly", stdout=out)
    assert out.getvalue().startswith("tests.legacy2009.cron.Nightly: ok in ")
