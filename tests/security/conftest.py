"""Fixtures for the security requirements (docs/security.md maps each test to ASVS)."""

from __future__ import annotations

import itertools

import pytest
from django.core.cache import cache
from django.test import Client
from rest_framework.test import APIClient

from accounts.models import User
from tests.factories import DEFAULT_PASSWORD, UserFactory
from tests.sso.conftest import Registered, register

_ips = itertools.count(1)


def fresh_ip() -> str:
    """A new client address, so that per-IP lockout and rate limits never interfere."""
    n = next(_ips)
    return f"10.{(n >> 16) & 255}.{(n >> 8) & 255}.{n & 255}"


@pytest.fixture
def api() -> APIClient:
    return APIClient()


@pytest.fixture
def csrf_client() -> Client:
    return Client(enforce_csrf_checks=True)


@pytest.fixture
def owner(db: None) -> User:
    return UserFactory()


@pytest.fixture
def rp(owner: User) -> Registered:
    return register(owner)


@pytest.fixture
def other_rp(owner: User) -> Registered:
    return register(owner)


def api_login(user: User, password: str = DEFAULT_PASSWORD) -> dict:
    cache.clear()
    response = APIClient().post(
        "/api/v1/auth/login/", {"login": user.username, "password": password}, format="json"
    )
    assert response.status_code == 200, response.content
    return response.json()
