"""Test sessions: every supported (Python, Django) pair, plus ruff.

    nox -l                                  # list the sessions
    nox -s "tests(python='3.13', django='6.1')" -- -x -q
    nox -t edges                            # the oldest and the newest pair
                                            # (the oldest with USE_TZ = False)
    nox -s task_workers                     # real task workers, Celery's included
    nox -s lint
    nox -s mutation                         # mutmut; see README.rst, "Development"

Exports such as DJANGO_CRON_TEST_DB_SUFFIX and DJANGO_CRON_TEST_SERVICES reach
pytest unchanged (see README.rst, "Development").
"""

import glob
import os
import shutil
import subprocess

import nox

# download_python appeared in 2025.05.01.
nox.needs_version = ">=2025.5.1"
# A Python that cannot be found fails the run instead of skipping its sessions,
# which would leave a green run that tested nothing on that Python.
nox.options.error_on_missing_interpreters = True
# The pairs are tested on the interpreters installed here; downloading one
# instead would hide a missing interpreter and needs a network that CI lacks.
nox.options.download_python = "never"

# Django version -> the Pythons it supports that we test it on.
SUPPORTED = {
    "4.2": ["3.10", "3.11", "3.12"],
    "5.2": ["3.10", "3.11", "3.12", "3.13"],
    "6.0": ["3.12", "3.13"],
    "6.1": ["3.12", "3.13"],
}
PAIRS = [(python, django) for django, pythons in SUPPORTED.items() for python in pythons]


def _version(text):
    return tuple(int(part) for part in text.split("."))


def _age(pair):
    python, django = pair
    return _version(django), _version(python)


# The oldest and the newest pair carry the tag "edges": .ci/run runs `nox -t edges`,
# so CI follows this table when a Django or a Python is added or dropped.
EDGES = {min(PAIRS, key=_age), max(PAIRS, key=_age)}
# The oldest pair is the one legacy sites are on, and USE_TZ = False was Django's
# default before 5.0: its session runs the suite so (DJANGO_CRON_TEST_USE_TZ=0,
# see tests/settings.py), which costs CI no session of its own.
WITHOUT_USE_TZ = min(PAIRS, key=_age)

# nox finds "python3.12" etc. on PATH. The Pythons here are pyenv builds, and
# pyenv's shims answer to those names only for the versions that `pyenv global`
# or PYENV_VERSION select (python3.12 is "command not found" otherwise). So put
# each wanted version's own bin directory first, newest patch release first.
# This does not depend on pyenv's shims or settings, so it works the same in a
# shell without `pyenv init` (CI) and on machines that have no pyenv at all.
_pyenv_versions = os.path.join(
    os.environ.get("PYENV_ROOT", os.path.expanduser("~/.pyenv")), "versions"
)


def _newest_first(path):
    name = os.path.basename(os.path.dirname(path))
    return tuple(int(part) if part.isdigit() else -1 for part in name.split("."))


_bins = [
    path
    for python in sorted({python for python, _ in PAIRS})
    for path in sorted(
        glob.glob(os.path.join(_pyenv_versions, f"{python}.*", "bin")),
        key=_newest_first,
        reverse=True,
    )
]
os.environ["PATH"] = os.pathsep.join([*_bins, os.environ.get("PATH", "")])


def _has_mariadb_headers():
    return shutil.which("pkg-config") is not None and (
        subprocess.run(["pkg-config", "--exists", "libmariadb"]).returncode == 0
    )


@nox.session
@nox.parametrize(
    ("python", "django"),
    [nox.param(*pair, tags=["edges"] if pair in EDGES else []) for pair in PAIRS],
)
def tests(session, django):
    # One pip call, so that the resolver picks the test extras for that Django
    # rather than installing the newest Django and then downgrading it.
    # mysqlclient, the driver sites use, where the MariaDB client headers are
    # there to build it (.ci/run installs them): tests/settings.py prefers it
    # to PyMySQL, so these sessions cover the driver the main run does not.
    mysqlclient = ["mysqlclient>=2.2.1"] if _has_mariadb_headers() else []
    session.install("-e", ".[test]", f"Django~={django}.0", *mysqlclient)
    if (session.python, django) == WITHOUT_USE_TZ:
        session.env.setdefault("DJANGO_CRON_TEST_USE_TZ", "0")
    # "python -m" puts the checkout on sys.path, as README's command does:
    # DJANGO_SETTINGS_MODULE is tests.settings, which the bare pytest script can't import.
    session.run("python", "-m", "pytest", *session.posargs)


@nox.session(python="3.12")
def task_workers(session):
    """
    The hand-off to real task workers (tests/test_task_workers.py) on all three
    engines, Celery's included: django-tasks-celery needs Python 3.12 and
    Django 6.0, which the main run does not have. CI runs it.
    """
    session.install("-e", ".[test]", "django-tasks-celery[celery]", "Django~=6.0.0")
    session.run("python", "-m", "pytest", "tests/test_task_workers.py", *session.posargs)


@nox.session
def lint(session):
    session.install("-e", ".", "ruff", "import-linter")
    session.run("ruff", "check", ".")
    session.run("ruff", "format", "--check", ".")
    session.run("lint-imports")


@nox.session(python="3.11")
def mutation(session):
    """
    Mutation testing with mutmut: one-line changes to django_cron/runtime/runs.py,
    trigger.py, views.py and locks/, each run against the fast tests that
    reach it (setup.cfg, [mutmut]). About 85 minutes on 2 cores; not in CI.
    """
    session.install("-e", ".[test]", "mutmut~=3.8")
    # Its own test databases; mutants one at a time, since they share them.
    session.env.setdefault("DJANGO_CRON_TEST_DB_SUFFIX", "_mutation")
    session.run("mutmut", "run", "--max-children", "1", *session.posargs)
    session.run("mutmut", "results")
