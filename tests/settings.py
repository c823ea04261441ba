"""Test settings: the project's settings under the ``test`` profile."""

from __future__ import annotations

import os

os.environ.setdefault("DJANGO_ENV", "test")

from identity.settings import *  # noqa: F403

# Key files of an older release are imported only when a test asks for it (identity.keys).
SIGNING_KEYS_DIR = BASE_DIR / "var" / "no-signing-key-files"  # noqa: F405
