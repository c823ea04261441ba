"""Fixtures of the accounts tests."""

from __future__ import annotations

from collections.abc import Iterator

import pytest

from accounts.services import history


@pytest.fixture(autouse=True)
def _forget_known_devices() -> Iterator[None]:
    """Each test starts with no device remembered by this process (as the cache is cleared)."""
    history._remembered.clear()
    yield
    history._remembered.clear()
