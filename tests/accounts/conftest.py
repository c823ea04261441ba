"""Fixtures of the accounts tests: no remembered devices, a token pair."""

from __future__ import annotations

from collections.abc import Iterator

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
def pair(user: User) -> TokenPair:
    """A first-party API sign-in of ``user``, made by the token service itself."""
    return api_session_start(user=user, ip="203.0.113.7", user_agent="pytest/1.0")
