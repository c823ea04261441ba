"""Smoke tests proving the harness works: probes, database, cache and factories."""

from __future__ import annotations

from typing import Any

import pytest
from django.test import Client
from django.urls import reverse

from accounts.models import Profile, User
from tests.factories import DEFAULT_PASSWORD, UserFactory


def test_healthz_returns_ok(client: Client) -> None:
    response = client.get(reverse("healthz"))

    assert response.status_code == 200
    assert response.json() == {"status": "ok"}


@pytest.mark.django_db
def test_readyz_checks_database_and_cache(client: Client) -> None:
    response = client.get(reverse("readyz"))

    assert response.status_code == 200
    assert response.json()["checks"] == {"database": True, "cache": True}


@pytest.mark.django_db
def test_probes_answer_plain_http_where_every_other_page_redirects_to_https(
    client: Client, settings: Any
) -> None:
    """A load balancer health-checks nodes over plain HTTP: a redirect would read as down."""
    settings.SECURE_SSL_REDIRECT = True

    assert client.get(reverse("healthz")).status_code == 200
    assert client.get(reverse("readyz")).status_code == 200
    login = client.get(reverse("accounts:login"))
    assert login.status_code == 301
    assert login["Location"].startswith("https://")


def test_user_factory_makes_a_verified_customer_with_profile(user: User, password: str) -> None:
    user.refresh_from_db()

    assert user.check_password(password)
    assert user.raw_password == DEFAULT_PASSWORD
    assert user.email_verified
    assert user.is_active
    assert not user.is_staff
    assert user.email == user.email.lower()
    assert "@" not in user.username
    assert Profile.objects.filter(user=user).count() == 1


@pytest.mark.django_db
def test_user_factory_traits() -> None:
    unverified = UserFactory(unverified=True)
    superuser = UserFactory(superuser=True)
    must_change = UserFactory(needs_password_change=True)

    assert not unverified.email_verified
    assert superuser.is_superuser
    assert superuser.is_staff
    assert must_change.must_change_password
