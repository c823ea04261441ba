"""API test fixtures: clients, tokens, and a clean cache (throttle counters live there)."""

from __future__ import annotations

from collections.abc import Iterator

import pytest
from django.core.cache import cache
from django.urls import reverse
from rest_framework.test import APIClient

from accounts.models import User
from tests.factories import DEFAULT_PASSWORD


@pytest.fixture(autouse=True)
def _api_defaults(settings: pytest.FixtureRequest) -> Iterator[None]:
    cache.clear()  # DRF throttles and the revoked-sid set use the cache
    settings.PASSWORD_RESET_MIN_RESPONSE_MS = 0  # the timing floor has its own test
    yield
    cache.clear()


@pytest.fixture
def api() -> APIClient:
    return APIClient()


def login(api: APIClient, user: User, password: str = DEFAULT_PASSWORD) -> dict:
    response = api.post(
        reverse("api:accounts:login"), {"login": user.username, "password": password}, format="json"
    )
    assert response.status_code == 200, response.content
    return response.json()


def authed(user: User) -> APIClient:
    """A client sending a fresh first-party access token of ``user``."""
    client = APIClient()
    client.credentials(HTTP_AUTHORIZATION=f"Bearer {login(APIClient(), user)['access_token']}")
    return client


@pytest.fixture
def user_api(user: User) -> APIClient:
    return authed(user)


@pytest.fixture
def admin_api(admin_user: User) -> APIClient:
    return authed(admin_user)


def assert_problem(response, status: int, code: str) -> dict:
    assert response.status_code == status, response.content
    assert response["Content-Type"].startswith("application/problem+json")
    body = response.json()
    assert set(body) == {"type", "title", "status", "detail", "code", "errors"}
    assert body["status"] == status
    assert body["code"] == code, body
    return body
