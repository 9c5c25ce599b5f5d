"""
Why django_cron's database cannot answer: it is not migrated, or it is down.

The ping and status views answer 503 with the reason and the management
commands one line, where a bare DatabaseError would be a 500 or a traceback.
"""

from django.db import DEFAULT_DB_ALIAS, DatabaseError, DataError, connections, transaction
from django.db.migrations.executor import MigrationExecutor

from . import conf


class Unavailable(Exception):
    """django_cron's database does not answer; ``str()`` says why on one line."""

    # What anyone may read (a monitor without the key): a code and a sentence
    # that name no host, table or alias. ``detail`` has those.
    reason = "database_unavailable"
    message = "the database is unavailable"

    def __init__(self, detail: str):
        # On one line: psycopg's messages span several.
        self.detail = " ".join(detail.split())
        super().__init__(self.detail)

    def __str__(self) -> str:
        return f"database unavailable: {self.detail}"


class NotMigrated(Unavailable):
    """django_cron's migrations are not all applied to its database."""

    reason = "not_migrated"
    message = "django_cron's tables are missing or out of date: run manage.py migrate"

    def __init__(self, using: str, migrations: list[str]):
        self.using = using
        super().__init__(f"database {using!r} lacks {', '.join(migrations)}")

    def __str__(self) -> str:
        if self.using == DEFAULT_DB_ALIAS:
            return self.message
        return f"{self.message} --database={self.using}"


class RefusedValue(Unavailable):
    """
    The database answered, and refused a value (NUL in PostgreSQL's text, a
    number out of a column's range): the request's fault, not an outage. The
    operator API answers 400; checks at the edge (inputs.py) should come first.
    """

    reason = "value_refused"
    message = "the database refused a value"


def pending_migrations(using: str | None = None) -> list[str]:
    """Return django_cron's migrations that ``manage.py migrate`` would apply to ``using``."""
    # Django's own reckoning, as runserver's "unapplied migrations" warning:
    # it sees a database never migrated and one behind a new column alike.
    executor = MigrationExecutor(connections[using or conf.database()])
    targets = executor.loader.graph.leaf_nodes("django_cron")
    return [str(migration) for migration, _ in executor.migration_plan(targets)]


def diagnose(exc: DatabaseError, using: str | None = None) -> Unavailable:
    """Return why django_cron's database ``using`` failed with ``exc``."""
    if isinstance(exc, DataError):
        return RefusedValue(str(exc))
    using = using or conf.database()
    try:
        pending = pending_migrations(using)
    except DatabaseError:
        # It cannot even say what it has applied: it is down, and ``exc`` says how.
        pending = []
    return NotMigrated(using, pending) if pending else Unavailable(str(exc))


def ask(question):
    """Return question(); raise Unavailable, saying why, if django_cron's database fails."""
    alias = conf.database()
    try:
        # A savepoint: in a transaction (ATOMIC_REQUESTS), PostgreSQL refuses
        # every query after a failed one, the diagnosis's too, until a rollback.
        with transaction.atomic(using=alias):
            return question()
    except DatabaseError as exc:
        raise diagnose(exc) from exc
