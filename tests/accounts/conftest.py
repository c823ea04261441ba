"""Fixtures of the accounts tests: no remembered devices, a signing key set, a token pair."""

from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path

import pytest

from accounts.models import User
from accounts.services import history
from accounts.tokens import TokenPair, api_session_start


@pytest.fixture(autouse=True)
def _forget_known_devices() -> Iterator[None]:
    """Each test starts with no device remembered by this process (as the cache is cleared)."""
    history._remembered.clear()
    yield
    history._remembered.clear()


@pytest.fixture
def keys_dir(settings, tmp_path: Path) -> Path:
    """A signing key set of the test's own (token tests use it with ``usefixtures``)."""
    settings.SIGNING_KEYS_DIR = tmp_path / "keys"
    return settings.SIGNING_KEYS_DIR


@pytest.fixture
def pair(user: User) -> TokenPair:
    """A first-party API sign-in of ``user``, made by the token service itself."""
    return api_session_start(user=user, ip="203.0.113.7", user_agent="pytest/1.0")
