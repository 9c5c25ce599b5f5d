"""
The guides of docs/migrating.rst, read step by step, and a throwaway Django
site that follows them: its own folder, settings, manage.py and database,
each command run as the guide writes it, in a subprocess.
"""

import contextlib
import os
import re
import shlex
import shutil
import subprocess
import sys
from dataclasses import dataclass, field
from pathlib import Path

from django.db import connections
from docutils import nodes
from docutils.core import publish_doctree

from tests.conftest import ROOT

GUIDES = ROOT / "docs" / "migrating.rst"


@dataclass
class Step:
    number: int
    text: str
    blocks: list = field(default_factory=list)  # (language, text), in order

    def commands(self) -> list[str]:
        """Return the command lines of the step's console blocks, without their prompt."""
        return [
            line[2:]
            for language, text in self.blocks
            if language == "console"
            for line in text.splitlines()
            if line.startswith("$ ")
        ]

    def code(self, path: str) -> str:
        """Return the Python block whose first line is the comment ``# path``."""
        for language, text in self.blocks:
            if language == "python" and text.splitlines()[0] == f"# {path}":
                return text
        raise LookupError(f"step {self.number} shows no {path}")

    def sql(self) -> list[str]:
        return [
            statement.strip()
            for language, text in self.blocks
            if language == "sql"
            for statement in text.split(";")
            if statement.strip()
        ]


@dataclass
class Guide:
    title: str
    steps: list

    def step(self, number: int) -> Step:
        return self.steps[number - 1]

    def sql(self) -> list[str]:
        return [statement for step in self.steps for statement in step.sql()]


def guide(title: str) -> Guide:
    """Return the numbered steps of the section of docs/migrating.rst called ``title``."""
    doctree = publish_doctree(GUIDES.read_text(), settings_overrides={"report_level": 4})
    for section in doctree.findall(nodes.section):
        if section[0].astext() == title:
            break
    else:
        raise LookupError(f"docs/migrating.rst has no section {title!r}")
    steps = next(node for node in section.children if isinstance(node, nodes.enumerated_list))
    return Guide(
        title,
        [
            Step(
                number,
                item.astext(),
                [
                    (block["classes"][-1], block.astext())
                    for block in item.findall(nodes.literal_block)
                ],
            )
            for number, item in enumerate(steps.children, 1)
        ],
    )


def settings_follow(step: Step, settings: str) -> None:
    """
    Fail unless the site's settings.py does what the step's ``# settings.py``
    block shows: each plain assignment as it is written, and each quoted name
    of a list that the block elides with ``...``.
    """
    for line in step.code("settings.py").splitlines()[1:]:
        line = line.split("  #")[0].strip()
        if not line:
            continue
        if "..." in line:
            for name in re.findall(r'"[^"]*"', line):
                assert name in settings, f"step {step.number}: {name} is not in settings.py"
        else:
            assert line in settings.splitlines(), f"step {step.number}: {line!r} not in settings.py"


MANAGE = """\
#!/usr/bin/env python
import contextlib
import os
import sys

if __name__ == "__main__":
    os.environ.setdefault("DJANGO_SETTINGS_MODULE", "settings")
    from django.core.management import execute_from_command_line

    execute_from_command_line(sys.argv)
"""

# The site's own settings may not find MySQLdb where the suite uses PyMySQL.
PYMYSQL = """\
try:
    import MySQLdb  # noqa: F401
except ImportError:
    import pymysql

    pymysql.version_info = (2, 2, 1, "final", 0)
    pymysql.install_as_MySQLdb()
"""

# What each distribution that a guide uninstalls puts on sys.path.
MODULES = {
    "django-crontab": ["django_crontab"],
    "django-apscheduler": ["django_apscheduler"],
    "apscheduler": ["apscheduler"],
}


def site_database(alias: str, name: str) -> dict:
    """Return the DATABASES entry of a site on the server of the suite's ``alias``."""
    from django.conf import settings

    if alias == "default":
        return {"ENGINE": "django.db.backends.sqlite3", "NAME": name + ".sqlite3"}
    server = settings.DATABASES[alias]
    keys = ("ENGINE", "HOST", "PORT", "USER", "PASSWORD")
    return {**{key: server[key] for key in keys if key in server}, "NAME": name}


class Site:
    """A Django project in ``root`` whose database is ``database`` (a DATABASES entry)."""

    def __init__(self, root: Path, database: dict, pythonpath=()):
        self.root = root
        self.database = database
        self.pythonpath = list(pythonpath)
        self.uninstalled = root / ".uninstalled"
        self.write("manage.py", MANAGE)

    def write(self, path: str, text: str) -> Path:
        target = self.root / path
        target.parent.mkdir(parents=True, exist_ok=True)
        target.write_text(text)
        return target

    def app(self, name: str, **files: str) -> None:
        """Write an app: its package and the given files (``cron="..."`` for cron.py)."""
        self.write(f"{name}/__init__.py", "")
        for module, text in files.items():
            self.write(f"{name}/{module.replace('__', '/')}.py", text)

    def settings(self, text: str) -> str:
        """Write settings.py: the database, then ``text``; return what was written."""
        database = self.database
        if database["ENGINE"].endswith("sqlite3"):
            database = {**database, "NAME": str(self.root / database["NAME"])}
        head = PYMYSQL if database["ENGINE"].endswith("mysql") else ""
        head += f'SECRET_KEY = "guide"\nDATABASES = {{"default": {database!r}}}\n'
        return self.write("settings.py", head + text).read_text()

    def env(self) -> dict:
        env = {k: v for k, v in os.environ.items() if not k.startswith("DJANGO_")}
        path = [str(self.uninstalled), *map(str, self.pythonpath)]
        env["PYTHONPATH"] = os.pathsep.join(path)
        return env

    def run(self, command: str, input: str | None = None, check: bool = True):
        """Run a command line of a guide in the site's folder; return the finished process."""
        argv = shlex.split(command)
        if argv[:2] == ["pip", "install"]:
            return self._installed(argv[2:])
        if argv[:2] == ["pip", "uninstall"]:
            return self.uninstall(*[arg for arg in argv[2:] if not arg.startswith("-")])
        assert argv[0] == "python", f"the test cannot follow {command!r}"
        return self.python(*argv[1:], input=input, check=check)

    def python(self, *args: str, input: str | None = None, check: bool = True):
        done = subprocess.run(
            [sys.executable, *args],
            cwd=self.root,
            env=self.env(),
            input=input,
            capture_output=True,
            text=True,
            timeout=120,
        )
        if check:
            assert done.returncode == 0, f"{args}:\n{done.stdout}\n{done.stderr}"
        return done

    def manage(self, *args: str, **kwargs):
        return self.python("manage.py", *args, **kwargs)

    def _installed(self, packages: list[str]) -> None:
        # The site shares the test's environment, where the packages a guide
        # installs are already (the test extra); a guide naming another fails.
        known = {"django-cron-revival": "django_cron"}
        for package in packages:
            assert package in known, f"the test cannot install {package!r}"
            assert self.python("-c", f"import {known[package]}").returncode == 0

    def uninstall(self, *distributions: str) -> None:
        """Make the distributions' modules unimportable for the site, as pip uninstall would."""
        for distribution in distributions:
            for module in MODULES[distribution.lower()]:
                self.write(
                    f".uninstalled/{module}/__init__.py",
                    f"raise ModuleNotFoundError(\"No module named '{module}'\", name={module!r})\n",
                )

    def dbshell(self, statements: list[str], blocker) -> None:
        """Run SQL statements in ``manage.py dbshell``, as the guides say."""
        if client_missing(self.database):
            # The same statements through Django's connection, where the
            # database's command-line client is not installed.
            with self.connection(blocker) as connection, connection.cursor() as cursor:
                for statement in statements:
                    cursor.execute(statement)
        else:
            self.manage("dbshell", input="".join(f"{s};\n" for s in statements))

    @contextlib.contextmanager
    def connection(self, blocker):
        """Yield a connection to the site's database from the test process, then close it."""
        settings_dict = dict(self.database)
        if settings_dict["ENGINE"].endswith("sqlite3"):
            settings_dict["NAME"] = str(self.root / settings_dict["NAME"])
        # An alias of its own: Django's backends look their connection up by alias.
        connections.settings[SITE_ALIAS] = connections.configure_settings(
            {"default": settings_dict}
        )["default"]
        try:
            with blocker.unblock():
                yield connections[SITE_ALIAS]
        finally:
            connections[SITE_ALIAS].close()
            del connections[SITE_ALIAS]
            del connections.settings[SITE_ALIAS]


SITE_ALIAS = "guide_site"


def client_missing(database: dict) -> str | None:
    """Return why ``manage.py dbshell`` cannot run on this machine, or None."""
    engine = database["ENGINE"].rsplit(".", 1)[-1]
    clients = {"sqlite3": ["sqlite3"], "postgresql": ["psql"], "mysql": ["mysql", "mariadb"]}
    if any(shutil.which(client) for client in clients[engine]):
        return None
    return f"no {' or '.join(clients[engine])} client for manage.py dbshell"


@contextlib.contextmanager
def server_database(alias: str, name: str, blocker):
    """Create the database ``name`` on the server of the suite's ``alias``; drop it afterwards."""
    if alias == "default":
        yield
        return
    force = " WITH (FORCE)" if alias == "postgresql" else ""
    with blocker.unblock():
        with connections[alias]._nodb_cursor() as cursor:
            cursor.execute(f"DROP DATABASE IF EXISTS {name}{force}")
            cursor.execute(f"CREATE DATABASE {name}")
        try:
            yield
        finally:
            with connections[alias]._nodb_cursor() as cursor:
                cursor.execute(f"DROP DATABASE IF EXISTS {name}{force}")
