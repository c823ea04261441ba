"""Fixtures for authorization tests: factories and a role holder."""

from __future__ import annotations

import pytest

from accounts.models import User
from authz import services
from authz.models import Permission, Role
from tests import factories


@pytest.fixture
def permission_factory() -> type[factories.PermissionFactory]:
    return factories.PermissionFactory


@pytest.fixture
def role_factory() -> type[factories.RoleFactory]:
    return factories.RoleFactory


@pytest.fixture
def billing_read(db: None) -> Permission:
    return factories.PermissionFactory(code="billing.read")


@pytest.fixture
def billing_clerk(billing_read: Permission) -> Role:
    return factories.RoleFactory(name="billing-clerk", permissions=[billing_read])


@pytest.fixture
def roles_admin(db: None) -> User:
    """An ordinary user holding roles.read, roles.write and authz.check through a role, and the
    billing permissions it hands out (nobody grants a permission they do not hold)."""
    codes = ["roles.read", "roles.write", "authz.check", "billing.read", "billing.refund"]
    perms = [factories.PermissionFactory(code=code) for code in codes]
    role = factories.RoleFactory(name="test-roles-admin", permissions=perms)
    holder = factories.UserFactory()
    services.role_assign(user=holder, role=role, granted_by=None)
    return holder
