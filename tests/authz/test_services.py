"""Services of authz: permissions, roles, inclusions, assignments, audit, sign-up roles."""

from __future__ import annotations

import importlib
from datetime import timedelta

import pytest
from django.apps import apps
from django.core.exceptions import ValidationError
from django.db import IntegrityError, transaction
from django.utils import timezone

from accounts.services import user_sign_up
from authz import services
from authz.errors import (
    ExpiryInPast,
    PermissionExists,
    RoleAlreadyAssigned,
    RoleCycle,
    RoleExists,
    RoleNotAssigned,
    UnknownPermission,
    UnknownRole,
)
from authz.models import AuditAction, AuthzAuditEvent, Permission, Role, RoleAssignment
from authz.selectors import user_has_permission, user_roles

pytestmark = pytest.mark.django_db


def test_permission_create_records_audit(admin_user) -> None:
    permission = services.permission_create(
        code="billing.refund", description="Refund", actor=admin_user
    )

    event = AuthzAuditEvent.objects.get(action=AuditAction.PERMISSION_CREATE)
    assert permission.code == "billing.refund"
    assert event.actor == admin_user
    assert event.actor_username == admin_user.username
    assert event.before is None
    assert event.after == {"code": "billing.refund", "description": "Refund"}


@pytest.mark.parametrize(
    "code",
    ["Users.read", "users", "users.", ".read", "users..read", "users.re ad", "a." + "b" * 99],
)
def test_permission_create_refuses_malformed_codes(code: str) -> None:
    with pytest.raises(ValidationError) as error:
        services.permission_create(code=code)

    assert "code" in error.value.message_dict


def test_permission_code_check_constraint_holds_in_the_database() -> None:
    with pytest.raises(IntegrityError), transaction.atomic():
        Permission.objects.create(code="Not Valid")


def test_permission_create_refuses_duplicates(permission_factory) -> None:
    permission_factory(code="billing.read")

    with pytest.raises(PermissionExists):
        services.permission_create(code="billing.read")


def test_permission_update_and_delete_are_audited(billing_clerk, billing_read) -> None:
    services.permission_update(permission=billing_read, description="New")
    services.permission_delete(permission=billing_read)

    update, delete = AuthzAuditEvent.objects.order_by("id")
    assert update.after["description"] == "New"
    assert delete.before["roles"] == ["billing-clerk"]
    assert not billing_clerk.permissions.exists()


def test_role_create_with_permissions_and_included_roles(billing_clerk) -> None:
    services.permission_create(code="billing.refund")

    role = services.role_create(
        name="billing-lead", permissions=["billing.refund"], included_roles=["billing-clerk"]
    )

    assert list(role.included_roles.values_list("name", flat=True)) == ["billing-clerk"]
    event = AuthzAuditEvent.objects.get(action=AuditAction.ROLE_CREATE)
    assert event.after["permissions"] == ["billing.refund"]
    assert event.after["included_roles"] == ["billing-clerk"]


@pytest.mark.parametrize("name", ["Billing", "billing clerk", "-billing", ""])
def test_role_create_refuses_malformed_names(name: str) -> None:
    with pytest.raises(ValidationError):
        services.role_create(name=name)


def test_role_create_refuses_duplicates_and_unknown_references(billing_clerk) -> None:
    with pytest.raises(RoleExists):
        services.role_create(name="billing-clerk")
    with pytest.raises(UnknownPermission):
        services.role_create(name="x", permissions=["nope.read"])
    with pytest.raises(UnknownRole):
        services.role_create(name="y", included_roles=["nope"])
    assert not Role.objects.filter(name__in=["x", "y"]).exists()


def test_role_update_refuses_including_itself(billing_clerk) -> None:
    with pytest.raises(RoleCycle) as error:
        services.role_update(role=billing_clerk, included_roles=["billing-clerk"])

    assert error.value.code == "role_cycle"


def test_role_update_refuses_longer_cycles(role_factory) -> None:
    a, b, c = (services.role_create(name=name) for name in ("a", "b", "c"))
    services.role_update(role=a, included_roles=["b"])
    services.role_update(role=b, included_roles=["c"])

    with pytest.raises(RoleCycle) as error:
        services.role_update(role=c, included_roles=["a"])

    assert "c cannot include a" in error.value.message
    assert not c.included_roles.exists()


def test_role_update_may_replace_an_inclusion_that_would_otherwise_close_a_cycle() -> None:
    a, b = services.role_create(name="a"), services.role_create(name="b")
    services.role_update(role=a, included_roles=["b"])

    services.role_update(role=a, included_roles=[])
    services.role_update(role=b, included_roles=["a"])

    assert list(b.included_roles.all()) == [a]


def test_role_update_renames_and_audits_before_and_after(billing_clerk) -> None:
    services.role_update(role=billing_clerk, name="clerk", description="d")

    event = AuthzAuditEvent.objects.get(action=AuditAction.ROLE_UPDATE)
    assert event.before["name"] == "billing-clerk"
    assert event.after["name"] == "clerk"


def test_role_delete_removes_assignments(user, billing_clerk) -> None:
    services.role_assign(user=user, role=billing_clerk, granted_by=None)

    services.role_delete(role=billing_clerk)

    assert not RoleAssignment.objects.exists()
    event = AuthzAuditEvent.objects.get(action=AuditAction.ROLE_DELETE)
    assert event.before["assigned_to"] == [str(user.public_id)]
    assert not user_has_permission(user=user, code="billing.read")


def test_role_assign_grants_at_once_and_revoke_takes_it_away(user, admin_user, billing_clerk):
    assert not user_has_permission(user=user, code="billing.read")

    assignment = services.role_assign(user=user, role=billing_clerk, granted_by=admin_user)
    assert user_has_permission(user=user, code="billing.read")
    assert assignment.granted_by == admin_user

    services.role_unassign(user=user, role=billing_clerk, actor=admin_user)
    assert not user_has_permission(user=user, code="billing.read")
    actions = list(AuthzAuditEvent.objects.order_by("id").values_list("action", flat=True))
    assert actions == [AuditAction.ROLE_ASSIGN, AuditAction.ROLE_UNASSIGN]


def test_role_assign_refuses_a_live_duplicate(user, billing_clerk) -> None:
    services.role_assign(user=user, role=billing_clerk, granted_by=None)

    with pytest.raises(RoleAlreadyAssigned):
        services.role_assign(user=user, role=billing_clerk, granted_by=None)


def test_role_assign_refuses_an_expiry_in_the_past(user, billing_clerk) -> None:
    with pytest.raises(ExpiryInPast):
        services.role_assign(
            user=user,
            role=billing_clerk,
            granted_by=None,
            expires_at=timezone.now() - timedelta(seconds=1),
        )


def test_role_assign_renews_an_expired_assignment(user, billing_clerk) -> None:
    services.role_assign(user=user, role=billing_clerk, granted_by=None)
    RoleAssignment.objects.update(expires_at=timezone.now() - timedelta(seconds=1))

    renewed = services.role_assign(user=user, role=billing_clerk, granted_by=None)

    assert renewed.expires_at is None
    assert RoleAssignment.objects.count() == 1
    assert AuthzAuditEvent.objects.filter(action=AuditAction.ROLE_ASSIGN).count() == 2


def test_role_unassign_refuses_a_role_not_held(user, billing_clerk) -> None:
    with pytest.raises(RoleNotAssigned):
        services.role_unassign(user=user, role=billing_clerk)


def test_inclusion_grants_the_included_roles_permissions(user, billing_clerk) -> None:
    lead = services.role_create(name="billing-lead", included_roles=["billing-clerk"])
    services.role_assign(user=user, role=lead, granted_by=None)

    assert user_has_permission(user=user, code="billing.read")
    assert user_roles(user=user) == ["billing-clerk", "billing-lead"]

    services.role_update(role=lead, included_roles=[])
    assert not user_has_permission(user=user, code="billing.read")


def test_sign_up_gives_the_configured_roles(settings, billing_clerk, mailoutbox) -> None:
    settings.AUTHZ_SIGNUP_ROLES = ["billing-clerk", "missing-role"]

    user = user_sign_up(username="newbie", email="newbie@example.com", password="Lp9!xq2#vB7z")

    assert user_roles(user=user) == ["billing-clerk"]


def test_sign_up_gives_no_role_by_default(billing_clerk, mailoutbox) -> None:
    user = user_sign_up(username="plain", email="plain@example.com", password="Lp9!xq2#vB7z")

    assert user_roles(user=user) == []


def test_data_migration_creates_the_portal_permissions_and_roles() -> None:
    migration = importlib.import_module("authz.migrations.0002_portal_permissions_and_roles")
    migration.create(apps, None)  # idempotent: also what the test database was migrated with

    codes = set(Permission.objects.values_list("code", flat=True))
    assert {
        "users.read",
        "users.write",
        "roles.read",
        "roles.write",
        "authz.check",
        "sessions.revoke",
        "apps.manage",
    } <= codes
    later = importlib.import_module("authz.migrations.0007_webhook_and_audit_permissions")
    later.create(apps, None)
    admin = Role.objects.get(name="admin")
    assert set(admin.permissions.values_list("code", flat=True)) == set(migration.PERMISSIONS) | {
        "webhooks.write",
        "audit.read",
    }
    auditor = Role.objects.get(name="auditor")
    assert set(auditor.permissions.values_list("code", flat=True)) == {
        "users.read",
        "roles.read",
        "audit.read",
    }
    manager = Role.objects.get(name="user-manager")
    assert set(manager.permissions.values_list("code", flat=True)) == {
        "users.read",
        "users.write",
        "sessions.revoke",
    }
