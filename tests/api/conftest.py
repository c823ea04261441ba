"""API test fixtures: a clean cache (throttle counters live there) and the problem-body check."""

from __future__ import annotations

from collections.abc import Iterator

import pytest
from django.core.cache import cache


@pytest.fixture(autouse=True)
def _api_defaults(settings: pytest.FixtureRequest) -> Iterator[None]:
    cache.clear()  # DRF throttles and the revoked-sid set use the cache
    settings.PASSWORD_RESET_MIN_RESPONSE_MS = 0  # the timing floor has its own test
    yield
    cache.clear()


def assert_problem(response, status: int, code: str) -> dict:
    assert response.status_code == status, response.content
    assert response["Content-Type"].startswith("application/problem+json")
    body = response.json()
    assert set(body) == {"type", "title", "status", "detail", "code", "errors"}
    assert body["status"] == status
    assert body["code"] == code, body
    return body


@pytest.fixture
def throttle_cache_calls(monkeypatch: pytest.MonkeyPatch) -> list[str]:
    """The names of the cache calls the rate limiter makes from now on (its keys hold
    "throttle"), outermost only: the local-memory cache's get_many calls its own get."""
    calls: list[str] = []
    depth = [0]
    for name in ("get", "get_many", "set", "set_many", "add", "incr"):
        method = getattr(cache, name)

        def spy(*args, _name=name, _method=method, **kwargs):
            if "throttle" in str(args[0]) and not depth[0]:
                calls.append(_name)
            depth[0] += 1
            try:
                return _method(*args, **kwargs)
            finally:
                depth[0] -= 1

        monkeypatch.setattr(cache, name, spy)
    return calls
