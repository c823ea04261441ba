"""The rule of issue 16.1 in the selectors and services: nobody acts on an account that holds
more than they do, and nobody grants a permission they do not hold."""

from __future__ import annotations

import pytest
from django.contrib.auth.models import Permission as DjangoPermission

from accounts.models import User
from authz import selectors, services
from authz.errors import PrivilegeRefused
from authz.models import Role, RoleAssignment
from tests.factories import PermissionFactory, RoleFactory, UserFactory

pytestmark = pytest.mark.django_db


def holding(*codes: str, **fields: object) -> User:
    role = RoleFactory(permissions=[PermissionFactory(code=code) for code in codes])
    user = UserFactory(**fields)
    services.role_assign(user=user, role=role, granted_by=None)
    return User.objects.get(pk=user.pk)


def refusal(actor: User | None, target: User) -> str | None:
    return selectors.account_action_refusal(actor=actor, target=target)


def test_superusers_and_the_portal_itself_act_on_anyone() -> None:
    target = UserFactory(superuser=True)
    assert refusal(UserFactory(superuser=True), target) is None
    assert refusal(None, target) is None


def test_acting_on_oneself_is_left_to_the_self_service_rules() -> None:
    me = holding("users.write")
    assert refusal(me, me) is None


def test_flags_outrank_permissions() -> None:
    manager = holding("users.read", "users.write")
    assert "superuser" in refusal(manager, UserFactory(superuser=True))
    assert "staff" in refusal(manager, UserFactory(staff=True))
    staff_manager = holding("users.read", "users.write", is_staff=True)
    assert refusal(staff_manager, UserFactory(staff=True)) is None


def test_an_inactive_superuser_acts_on_nobody_above_them() -> None:
    fallen = UserFactory(superuser=True, is_active=False)
    assert "active" in refusal(fallen, UserFactory())


def test_a_deactivated_account_still_holds_its_roles() -> None:
    # Reactivating it would give them back: a user-manager must not be able to.
    target = holding("roles.write", is_active=False)
    assert "roles.write" in refusal(holding("users.write"), target)


def test_djangos_own_permissions_count_too() -> None:
    target = UserFactory()
    target.user_permissions.add(DjangoPermission.objects.get(codename="change_user"))
    assert "accounts.change_user" in refusal(holding("users.write"), target)


def test_an_included_role_counts_when_granting() -> None:
    granter = holding("roles.write", "users.read")
    top = Role.objects.get(name="admin")
    wrapper = services.role_create(name="wrapper", included_roles=["admin"])
    target = UserFactory()
    with pytest.raises(PrivilegeRefused) as refused:
        services.role_assign(user=target, role=wrapper, granted_by=granter)
    assert refused.value.code == "permission_denied"
    assert "users.write" in refused.value.message
    assert not RoleAssignment.objects.filter(user=target).exists()
    assert top.permissions.count() > 0


def test_a_role_above_the_actor_cannot_be_deleted_or_extended() -> None:
    writer = holding("roles.write")
    admin_role = Role.objects.get(name="admin")
    with pytest.raises(PrivilegeRefused):
        services.role_delete(role=admin_role, actor=writer)
    with pytest.raises(PrivilegeRefused):
        services.role_update(role=admin_role, description="mine now", actor=writer)
    assert Role.objects.filter(name="admin").exists()
