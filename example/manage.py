#!/usr/bin/env python
"""Django's command-line utility for the django_cron demo site."""

import os
import sys


def main():
    # The settings module is found through this file's directory, which Python
    # puts first on sys.path, so the demo runs from any working directory.
    os.environ.setdefault("DJANGO_SETTINGS_MODULE", "exampleproject.settings")
    from django.core.management import execute_from_command_line

    execute_from_command_line(sys.argv)


if __name__ == "__main__":
    main()
