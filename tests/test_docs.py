"""
README.rst, CHANGELOG.rst and the pages in docs/ render cleanly, the docs build
with Sphinx, and README leads a new user from the test command to a job running.
"""

import subprocess
import sys

import pytest
from docutils import nodes
from docutils.core import publish_doctree, publish_string
from docutils.parsers.rst import Directive, directives, roles
from docutils.writers.html5_polyglot import Writer

from tests.conftest import ROOT

DOCS = ROOT / "docs"
PAGES = sorted(path.relative_to(ROOT).as_posix() for path in DOCS.glob("*.rst"))
# Exactly what the pages use of Sphinx; docutils alone checks everything else.
SPHINX_ROLES = ["doc", "ref"]
SPHINX_DIRECTIVES = ["toctree"]


class SphinxOnly(Directive):
    has_content = True
    optional_arguments = 1
    option_spec = {"maxdepth": directives.unchanged, "hidden": directives.flag}

    def run(self):
        return []


def sphinx_role(name, rawtext, text, lineno, inliner, options=None, content=None):
    return [nodes.literal(rawtext, text)], []


@pytest.fixture
def sphinx_markup(monkeypatch):
    """Let docutils read the few Sphinx roles and directives the docs use."""
    for name in SPHINX_ROLES:
        monkeypatch.setitem(roles._roles, name, sphinx_role)
    for name in SPHINX_DIRECTIVES:
        monkeypatch.setitem(directives._directives, name, SphinxOnly)


@pytest.mark.parametrize("name", ["README.rst", "CHANGELOG.rst", *PAGES])
def test_renders_cleanly(name, sphinx_markup):
    source = (ROOT / name).read_text()
    publish_string(source, writer=Writer(), settings_overrides={"halt_level": 2})


def test_readme_uses_no_sphinx_markup():
    # PyPI renders README with docutils alone.
    source = (ROOT / "README.rst").read_text()
    for name in SPHINX_ROLES:
        assert f":{name}:`" not in source
    for name in SPHINX_DIRECTIVES:
        assert f".. {name}::" not in source


def test_docs_build_with_sphinx_without_a_warning(tmp_path):
    result = subprocess.run(
        [sys.executable, "-m", "sphinx", "-W", "--keep-going", "-q", "-b", "html"]
        + [str(DOCS), str(tmp_path)],
        capture_output=True,
        text=True,
    )
    assert result.returncode == 0, result.stderr
    assert (tmp_path / "index.html").exists()


def test_readme_names_every_docs_page_and_only_those():
    readme = (ROOT / "README.rst").read_text()
    named = {page for page in PAGES if f"``{page}``" in readme}
    assert named == set(PAGES) - {"docs/index.rst"}


def test_readme_gives_the_test_command_that_ci_runs():
    command = (
        "python3 -m venv .venv && .venv/bin/pip install -e '.[test]' && .venv/bin/python -m pytest"
    )
    assert command in (ROOT / "README.rst").read_text()
    assert command in (ROOT / ".ci" / "run").read_text()


def test_readme_says_how_to_add_it_to_a_site_right_after_two_commands():
    doctree = publish_doctree((ROOT / "README.rst").read_text())
    sections = [node for node in doctree.children if isinstance(node, nodes.section)]
    titles = [section[0].astext() for section in sections]
    assert titles[:2] == ["Two commands", "Add it to your site"]
    checklist = sections[1]
    assert checklist.next_node(nodes.enumerated_list) is not None
    text = checklist.astext()
    assert "pip install django-cron-revival" in text
    assert '"django_cron.middleware.CronMiddleware"' in text
    assert 'path("cron/", include("django_cron.urls"))' in text
    assert "PING_KEY" in text
    assert "python manage.py migrate" in text
    assert "python manage.py cron run" in text
