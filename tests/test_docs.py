"""README.rst and CHANGELOG.rst render without a docutils warning (PyPI shows the README)."""

import pytest
from docutils.core import publish_string

from tests.conftest import ROOT


@pytest.mark.parametrize("name", ["README.rst", "CHANGELOG.rst", "docs/migrating.rst"])
def test_renders_cleanly(name):
    source = (ROOT / name).read_text()
    publish_string(source, writer_name="html", settings_overrides={"halt_level": 2})


def test_readme_gives_the_test_command_that_ci_runs():
    command = (
        "python3 -m venv .venv && .venv/bin/pip install -e '.[test]' && .venv/bin/python -m pytest"
    )
    assert command in (ROOT / "README.rst").read_text()
    assert command in (ROOT / ".ci" / "run").read_text()
