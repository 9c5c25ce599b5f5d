"""
The suite on a machine that lacks a service: the pytest header says what is
used and what is skipped, the tests of a missing one skip naming it, and CI
(DJANGO_CRON_TEST_SERVICES=require) refuses to run without it.
"""

import os
import subprocess
import sys

from tests.conftest import ROOT

NO_REDIS = "redis://127.0.0.1:1/15"


def pytest_run(tmp_path, *args, **env):
    # Neither MySQL driver imports: as on a machine where none is installed.
    blocked = tmp_path / "blocked"
    blocked.mkdir()
    for module in ("MySQLdb", "pymysql"):
        (blocked / f"{module}.py").write_text("raise ImportError('not installed')\n")
    environ = {
        key: value for key, value in os.environ.items() if key != "DJANGO_CRON_TEST_SERVICES"
    }
    environ.update(
        PYTHONPATH=f"{blocked}{os.pathsep}{ROOT}", DJANGO_CRON_TEST_REDIS_URL=NO_REDIS, **env
    )
    return subprocess.run(
        [sys.executable, "-m", "pytest", "-p", "no:cacheprovider", *args],
        cwd=ROOT,
        env=environ,
        capture_output=True,
        text=True,
        timeout=300,
    )


def test_the_header_names_what_is_used_and_what_is_skipped(tmp_path):
    done = pytest_run(tmp_path, "--collect-only", "tests/test_docs.py")
    assert done.returncode == 0, done.stdout + done.stderr
    lines = done.stdout.splitlines()
    assert "  SQLite:        used (always)" in lines
    assert (
        "  MariaDB/MySQL: SKIPPED (no MySQL driver: pip install PyMySQL (or mysqlclient))" in lines
    )
    assert f"  Redis:         SKIPPED (Redis does not answer at {NO_REDIS})" in lines
    for name in ("PostgreSQL", "gunicorn", "uvicorn", "libfaketime", "Chromium"):
        assert any(line.startswith(f"  {name}:") for line in lines), name


def test_the_tests_of_a_missing_service_skip_with_one_line_saying_why(tmp_path):
    done = pytest_run(tmp_path, "-rs", "-k", "mysql", "tests/test_locks.py")
    assert done.returncode == 0, done.stdout + done.stderr
    skips = [line for line in done.stdout.splitlines() if line.startswith("SKIPPED")]
    assert skips and all(
        line.endswith(": no MySQL driver: pip install PyMySQL (or mysqlclient)") for line in skips
    )
    assert " passed" not in done.stdout.splitlines()[-1]


def test_ci_refuses_to_run_without_a_service_it_requires(tmp_path):
    done = pytest_run(
        tmp_path, "--collect-only", "tests/test_docs.py", DJANGO_CRON_TEST_SERVICES="require"
    )
    assert done.returncode != 0
    assert "no MySQL driver is importable (mysqlclient or PyMySQL) and CI requires one" in (
        done.stdout + done.stderr
    )
