"""
The package's layers, as setup.cfg's import-linter contracts draw them: kept
by the code, and broken by an import that runs up them.
"""

import shutil
import subprocess
import sys
from pathlib import Path

import pytest

from tests import import_graph

ROOT = Path(__file__).resolve().parent.parent
LINT_IMPORTS = Path(sys.executable).with_name("lint-imports")

needs_import_linter = pytest.mark.skipif(
    not LINT_IMPORTS.exists(), reason="import-linter is not installed (the test extra has it)"
)


def lint_imports(root: Path) -> subprocess.CompletedProcess:
    """Run lint-imports on the package under ``root``, with the contracts of setup.cfg."""
    return subprocess.run(
        [str(LINT_IMPORTS), "--config", str(ROOT / "setup.cfg"), "--no-cache"],
        cwd=root,
        env={"PYTHONPATH": str(root), "PATH": "/usr/bin:/bin"},
        capture_output=True,
        text=True,
        timeout=120,
    )


@needs_import_linter
def test_the_package_keeps_its_layers():
    result = lint_imports(ROOT)
    assert result.returncode == 0, result.stdout + result.stderr
    assert "4 kept, 0 broken" in result.stdout


@needs_import_linter
def test_an_import_that_runs_up_the_layers_fails_with_its_modules(tmp_path):
    shutil.copytree(ROOT / "django_cron", tmp_path / "django_cron")
    models = tmp_path / "django_cron" / "models.py"
    # The models asking the runner: the kind of import that once tied a circle.
    models.write_text(models.read_text() + "\n\ndef _run():\n    from .runner import run_due\n")
    result = lint_imports(tmp_path)
    assert result.returncode != 0
    assert "django_cron.models -> django_cron.runner" in result.stdout


def test_no_module_imports_itself_back_through_others():
    edges = import_graph.imports(ROOT)
    assert import_graph.circles(edges) == []


def test_own_modules_are_imported_in_functions_only_where_django_forces_it():
    # apps.py before the models load, the package's lazily exported API, and
    # Tivix's log, which django_cron's own import reaches before apps are ready.
    allowed = {"django_cron", "django_cron.apps", "django_cron.compat.tivix.log"}
    in_functions = {source for source, _, _, inside in import_graph.imports(ROOT) if inside}
    assert in_functions <= allowed, in_functions - allowed
