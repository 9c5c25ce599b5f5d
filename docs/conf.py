"""Sphinx configuration of the django-cron-revival documentation."""

from importlib import metadata

project = "django-cron-revival"
try:
    release = metadata.version(project)
except metadata.PackageNotFoundError:  # Built from a checkout that is not installed.
    release = ""

root_doc = "index"
exclude_patterns = ["_build"]

# Sphinx's own theme and no extensions: the docs build offline, with nothing
# more than the test extra installs.
html_theme = "alabaster"
