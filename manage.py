#!/usr/bin/env python
"""Django's command-line utility for the identity portal."""

from __future__ import annotations

import os
import sys


def main() -> None:
    os.environ.setdefault("DJANGO_SETTINGS_MODULE", "identity.settings")
    if "DJANGO_ENV" not in os.environ and "SECRET_KEY" not in os.environ:
        # A developer's command line (makemigrations, shell): production could not start
        # without its secrets anyway. Servers (identity.wsgi) never take this shortcut.
        os.environ["DJANGO_ENV"] = "development"
        print("manage.py: DJANGO_ENV is not set; using the development profile.", file=sys.stderr)
    from django.core.management import execute_from_command_line

    execute_from_command_line(sys.argv)


if __name__ == "__main__":
    main()
