"""
The two tables of the 2009 django-cron, as ``syncdb`` made them, with rows as
the 2009 app left them.

The 2009 models were ``Job`` (name, run_frequency, last_run, instance, args,
kwargs, queued) and ``Cron`` (executing). The statements are those Django 1.0
and 1.1 emitted for them on each backend: its column types of the time
(``bool``, ``integer unsigned``, ``serial``, ``longtext``), and on MySQL the
server defaults of then, MyISAM and latin1, which syncdb did not override.
"""

TABLES = ("django_cron_job", "django_cron_cron")

CREATE = {
    "sqlite": [
        'CREATE TABLE "django_cron_job" ('
        '"id" integer NOT NULL PRIMARY KEY, "name" varchar(100) NOT NULL, '
        '"run_frequency" integer unsigned NOT NULL, "last_run" datetime NOT NULL, '
        '"instance" text NOT NULL, "args" text NOT NULL, "kwargs" text NOT NULL, '
        '"queued" bool NOT NULL)',
        'CREATE TABLE "django_cron_cron" ("id" integer NOT NULL PRIMARY KEY, '
        '"executing" bool NOT NULL)',
    ],
    "postgresql": [
        'CREATE TABLE "django_cron_job" ('
        '"id" serial NOT NULL PRIMARY KEY, "name" varchar(100) NOT NULL, '
        '"run_frequency" integer CHECK ("run_frequency" >= 0) NOT NULL, '
        '"last_run" timestamp with time zone NOT NULL, "instance" text NOT NULL, '
        '"args" text NOT NULL, "kwargs" text NOT NULL, "queued" boolean NOT NULL)',
        'CREATE TABLE "django_cron_cron" ("id" serial NOT NULL PRIMARY KEY, '
        '"executing" boolean NOT NULL)',
    ],
    "mysql": [
        "CREATE TABLE `django_cron_job` ("
        "`id` integer AUTO_INCREMENT NOT NULL PRIMARY KEY, `name` varchar(100) NOT NULL, "
        "`run_frequency` integer UNSIGNED NOT NULL, `last_run` datetime NOT NULL, "
        "`instance` longtext NOT NULL, `args` longtext NOT NULL, `kwargs` longtext NOT NULL, "
        "`queued` bool NOT NULL) ENGINE=MyISAM DEFAULT CHARSET=latin1",
        "CREATE TABLE `django_cron_cron` (`id` integer AUTO_INCREMENT NOT NULL PRIMARY KEY, "
        "`executing` bool NOT NULL) ENGINE=MyISAM DEFAULT CHARSET=latin1",
    ],
}

# Job.name was str() of the job's class; instance, args and kwargs were
# pickled with Python 2's cPickle at protocol 0, which is text.
CHECK_MAIL = (
    "ccopy_reg\n_reconstructor\np1\n(cmailbox.cron\nCheckMail\np2\nc__builtin__\n"
    "object\np3\nNtRp4\n(dp5\nS'queued'\np6\nI01\nsb."
)
JOBS = [
    (
        1,
        "<class 'mailbox.cron.CheckMail'>",
        300,
        "2009-06-01 12:00:00",
        CHECK_MAIL,
        "(t.",
        "(dp1\n.",
        True,
    ),
    (
        2,
        "<class 'mailbox.cron.PurgeSessions'>",
        3600,
        "2009-06-01 11:00:00",
        "",
        "(S'sessions'\np1\ntp2\n.",
        "(dp1\nS'days'\np2\nI30\ns.",
        False,
    ),
]
# The flag that a crash left set and someone had to reset by hand.
CRONS = [(1, True)]


def create(connection) -> None:
    """Create the 2009 tables and their rows through a Django database connection."""
    job_columns = "id, name, run_frequency, last_run, instance, args, kwargs, queued"
    with connection.cursor() as cursor:
        for statement in CREATE[connection.vendor]:
            cursor.execute(statement)
        for row in JOBS:
            cursor.execute(
                f"INSERT INTO django_cron_job ({job_columns}) VALUES ({', '.join(['%s'] * 8)})",
                row,
            )
        for row in CRONS:
            cursor.execute("INSERT INTO django_cron_cron (id, executing) VALUES (%s, %s)", row)


def snapshot(connection) -> dict:
    """Return each 2009 table's columns and rows, to compare before and after."""
    tables = {}
    with connection.cursor() as cursor:
        for table in TABLES:
            columns = connection.introspection.get_table_description(cursor, table)
            cursor.execute(f"SELECT * FROM {table} ORDER BY id")
            rows = [tuple(str(value) for value in row) for row in cursor.fetchall()]
            tables[table] = ([(c.name, c.type_code, c.null_ok) for c in columns], rows)
    return tables


def drop(connection) -> None:
    with connection.cursor() as cursor:
        for table in TABLES:
            cursor.execute(f"DROP TABLE IF EXISTS {table}")
