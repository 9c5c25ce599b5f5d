"""
The package as PyPI would ship it: the sdist and the wheel build and pass
``twine check``, and the wheel, installed in a fresh virtualenv away from this
checkout, migrates and runs a job.
"""

import subprocess
import sys
import venv
import zipfile
from pathlib import Path

import pytest

from tests.conftest import ROOT

SETTINGS = """
SECRET_KEY = "packaging-test"
USE_TZ = True
# A worker's settings: no URLs, no admin.
INSTALLED_APPS = ["django_cron", "site_jobs"]
DATABASES = {"default": {"ENGINE": "django.db.backends.sqlite3", "NAME": "site.sqlite3"}}
"""

JOBS = """
import django_cron
from django_cron import register


@register(every="1h")
def report():
    return f"ran from {django_cron.__file__}"
"""


def run(*args, cwd=ROOT):
    done = subprocess.run(args, cwd=cwd, capture_output=True, text=True, timeout=600)
    assert done.returncode == 0, f"{args}:\n{done.stdout}\n{done.stderr}"
    return done.stdout


@pytest.fixture(scope="module")
def dist(tmp_path_factory):
    """The sdist and the wheel, built the way a release is (the wheel from the sdist)."""
    out = tmp_path_factory.mktemp("dist")
    run(sys.executable, "-m", "build", "--outdir", str(out), str(ROOT))
    return out


def test_the_sdist_and_the_wheel_pass_twine_check(dist):
    files = sorted(str(path) for path in dist.iterdir())
    assert sorted(Path(f).suffix for f in files) == [".gz", ".whl"]
    assert run(sys.executable, "-m", "twine", "check", "--strict", *files).count("PASSED") == 2


def test_the_wheel_holds_every_file_of_the_package_and_the_license(dist):
    (wheel,) = dist.glob("*.whl")
    names = set(zipfile.ZipFile(wheel).namelist())
    package = ROOT / "django_cron"
    # Migrations, and any template, static file or data file added later.
    expected = {
        str(path.relative_to(ROOT))
        for path in package.rglob("*")
        if path.is_file() and "__pycache__" not in path.parts
    }
    assert expected <= names, sorted(expected - names)
    assert any(name.endswith(".dist-info/licenses/LICENSE") for name in names)


def test_the_wheel_installed_in_a_fresh_virtualenv_migrates_and_runs_a_job(dist, tmp_path):
    (wheel,) = dist.glob("*.whl")
    env_dir = tmp_path / "venv"
    venv.create(env_dir, with_pip=True)
    python = str(env_dir / "bin" / "python")
    run(python, "-m", "pip", "install", "--quiet", str(wheel))
    site = tmp_path / "site"
    (site / "site_jobs").mkdir(parents=True)
    (site / "settings.py").write_text(SETTINGS)
    (site / "site_jobs" / "__init__.py").write_text("")
    (site / "site_jobs" / "cron.py").write_text(JOBS)

    def manage(*args):
        return run(python, "-m", "django", *args, "--settings=settings", "--pythonpath=.", cwd=site)

    manage("migrate", "-v", "0")
    assert "[X] 0003_last_return_value" in manage("showmigrations", "django_cron")
    line = manage("cron", "run", "--force", "site_jobs.cron.report")
    assert line.startswith("site_jobs.cron.report: ok in ")
    # The job ran from the installed wheel, not from this checkout.
    assert f": ran from {env_dir}" in line
