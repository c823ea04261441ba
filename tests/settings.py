"""Test settings: the project's settings under the ``test`` profile."""

from __future__ import annotations

import os

os.environ.setdefault("DJANGO_ENV", "test")

from identity.settings import *  # noqa: F403
