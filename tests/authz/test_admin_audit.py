"""Role changes made in the admin go through authz.services: audited with the admin as actor,
refused above the admin's own rights, seen by permission checks at once."""

from __future__ import annotations

from datetime import timedelta

import pytest
from django.contrib.admin.models import ADDITION, LogEntry
from django.test import Client
from django.urls import reverse
from django.utils import timezone

from authz import services
from authz.models import AuditAction, AuthzAuditEvent, Permission, Role, RoleAssignment
from authz.selectors import user_has_permission
from tests.admin_forms import admin_change_form_post, form_data
from tests.factories import PermissionFactory, RoleFactory, UserFactory
from tests.security.test_privilege_escalation import with_django_perms

pytestmark = pytest.mark.django_db

USER_CHANGE = "admin:accounts_user_change"


def _new_row(role: Role) -> dict[str, str]:
    return {"role_assignments-TOTAL_FORMS": "1", "role_assignments-0-role": str(role.pk)}


def test_role_added_on_the_user_page_is_audited_with_the_admin_as_actor(
    admin_client, admin_user, user, billing_clerk
):
    admin_change_form_post(admin_client, USER_CHANGE, user, **_new_row(billing_clerk))

    assignment = RoleAssignment.objects.get(user=user, role=billing_clerk)
    assert assignment.granted_by == admin_user
    event = AuthzAuditEvent.objects.get(action=AuditAction.ROLE_ASSIGN)
    assert (event.actor, event.object_id) == (admin_user, str(assignment.pk))
    assert user_has_permission(user=user, code="billing.read")  # no stale cache


def test_role_removed_on_the_user_page_is_audited_and_takes_effect(
    admin_client, admin_user, user, billing_clerk
):
    services.role_assign(user=user, role=billing_clerk, granted_by=None)
    assert user_has_permission(user=user, code="billing.read")

    admin_change_form_post(admin_client, USER_CHANGE, user, **{"role_assignments-0-DELETE": True})

    assert not RoleAssignment.objects.filter(user=user).exists()
    event = AuthzAuditEvent.objects.get(action=AuditAction.ROLE_UNASSIGN)
    assert event.actor == admin_user
    assert event.before["role"] == "billing-clerk"
    assert not user_has_permission(user=user, code="billing.read")


def test_expiry_changed_on_the_user_page_is_audited(admin_client, admin_user, user, billing_clerk):
    services.role_assign(user=user, role=billing_clerk, granted_by=None)
    until = (timezone.localtime() + timedelta(days=3)).replace(microsecond=0, second=0)

    admin_change_form_post(
        admin_client,
        USER_CHANGE,
        user,
        **{
            "role_assignments-0-expires_at_0": until.strftime("%Y-%m-%d"),
            "role_assignments-0-expires_at_1": until.strftime("%H:%M:%S"),
        },
    )

    assert RoleAssignment.objects.get(user=user).expires_at == until
    event = AuthzAuditEvent.objects.get(action=AuditAction.ROLE_ASSIGNMENT_UPDATE)
    assert event.actor == admin_user


def test_staff_cannot_grant_through_the_inline_a_role_carrying_more_than_they_hold(user):
    """roles.write and the billing.read it holds: not billing.refund, so not a role with it."""
    codes = ["roles.read", "roles.write", "billing.read"]
    writer_role = RoleFactory(
        name="test-writer", permissions=[PermissionFactory(code=code) for code in codes]
    )
    staff = UserFactory(staff=True)
    services.role_assign(user=staff, role=writer_role, granted_by=None)
    staff = with_django_perms(staff, "accounts.view_user", "accounts.change_user")
    refunds = RoleFactory(name="refunds", permissions=[PermissionFactory(code="billing.refund")])
    client = Client()
    client.force_login(staff)
    url = reverse(USER_CHANGE, args=[user.pk])
    page = client.get(url)
    assert "role_assignments-TOTAL_FORMS" in page.content.decode()  # the inline is shown

    data = form_data(page.context["adminform"].form)
    for inline in page.context["inline_admin_formsets"]:
        data.update(form_data(inline.formset.management_form))
    data.update(_new_row(refunds))
    response = client.post(url, data)

    assert response.status_code == 200  # the form again, with the refusal
    assert "billing.refund" in response.content.decode()
    assert not RoleAssignment.objects.filter(user=user).exists()
    assert not AuthzAuditEvent.objects.filter(action=AuditAction.ROLE_ASSIGN, actor=staff).exists()


def test_role_added_in_the_admin_is_the_services_row_and_shown_after(admin_client, admin_user):
    response = admin_client.post(
        reverse("admin:authz_role_add"),
        {"name": "auditors", "description": "", "_continue": "Save and continue"},
    )

    role = Role.objects.get(name="auditors")
    assert response.status_code == 302
    assert response["Location"] == reverse("admin:authz_role_change", args=[role.pk])
    logged = LogEntry.objects.get(action_flag=ADDITION)
    assert (logged.object_id, logged.user_id) == (str(role.pk), admin_user.pk)
    assert AuthzAuditEvent.objects.get(action=AuditAction.ROLE_CREATE).actor == admin_user


def test_permission_added_in_the_admin_is_the_services_row_and_shown_after(
    admin_client, admin_user
):
    response = admin_client.post(
        reverse("admin:authz_permission_add"),
        {"code": "reports.read", "description": "Reports", "_continue": "Save and continue"},
    )

    permission = Permission.objects.get(code="reports.read")
    assert response["Location"] == reverse("admin:authz_permission_change", args=[permission.pk])
    assert LogEntry.objects.get(action_flag=ADDITION).object_id == str(permission.pk)
    event = AuthzAuditEvent.objects.get(action=AuditAction.PERMISSION_CREATE)
    assert event.actor == admin_user


def test_roles_deleted_in_bulk_in_the_admin_are_audited(admin_client, admin_user, billing_clerk):
    other = RoleFactory(name="other-role")

    admin_client.post(
        reverse("admin:authz_role_changelist"),
        {
            "action": "delete_selected",
            "_selected_action": [billing_clerk.pk, other.pk],
            "post": "yes",
        },
    )

    assert not Role.objects.filter(pk__in=[billing_clerk.pk, other.pk]).exists()
    events = AuthzAuditEvent.objects.filter(action=AuditAction.ROLE_DELETE)
    assert sorted(e.object_repr for e in events) == ["billing-clerk", "other-role"]
    assert {e.actor for e in events} == {admin_user}
