"""Fixtures and helpers for the security tests (docs/security.md maps each test to ASVS): fresh
client addresses, accounts holding a role or Django permissions, clients acting as them."""

from __future__ import annotations

import itertools

import pytest
from django.contrib.auth.models import Permission as DjangoPermission
from django.test import Client
from django.urls import reverse
from rest_framework.test import APIClient

from accounts.models import User
from authz import services as authz_services
from authz.models import Role
from tests.factories import UserFactory
from tests.sso.conftest import Registered, register

_ips = itertools.count(1)


def fresh_ip() -> str:
    """A new client address, so that per-IP lockout and rate limits never interfere."""
    n = next(_ips)
    return f"10.{(n >> 16) & 255}.{(n >> 8) & 255}.{n & 255}"


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


def holder_of(role_name: str, **user_fields: object) -> User:
    """A new account holding the seeded role ``role_name``, loaded afresh (no cached perms)."""
    user = UserFactory(**user_fields)
    authz_services.role_assign(user=user, role=Role.objects.get(name=role_name), granted_by=None)
    return User.objects.get(pk=user.pk)


def with_django_perms(user: User, *perms: str) -> User:
    """``user`` given Django's own permissions (``app_label.codename``), loaded afresh."""
    for perm in perms:
        app_label, codename = perm.split(".")
        user.user_permissions.add(
            DjangoPermission.objects.get(content_type__app_label=app_label, codename=codename)
        )
    return User.objects.get(pk=user.pk)


def staff_with_django_perms(*perms: str) -> User:
    """A new staff member (admin site access) holding only the Django permissions ``perms``."""
    return with_django_perms(UserFactory(staff=True), *perms)


def api_as(user: User) -> APIClient:
    """An API client authenticated as ``user`` without a sign-in (DRF's force_authenticate)."""
    client = APIClient()
    client.force_authenticate(user)
    return client


def user_url(user: User) -> str:
    return reverse("api:accounts:user", kwargs={"public_id": user.public_id})
