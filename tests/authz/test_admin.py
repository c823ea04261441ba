"""Django admin for authz: saves go through the services (audited); the audit is read-only."""

from __future__ import annotations

import pytest
from django.urls import reverse

from authz import services
from authz.models import AuditAction, AuthzAuditEvent, Role

pytestmark = pytest.mark.django_db


def test_admin_creates_a_role_through_the_service(admin_client, admin_user, billing_clerk):
    billing_read = billing_clerk.permissions.get()

    response = admin_client.post(
        reverse("admin:authz_role_add"),
        {
            "name": "billing-lead",
            "description": "",
            "grant_permissions": [billing_read.pk],
            "include_roles": [billing_clerk.pk],
        },
    )

    assert response.status_code == 302, response.content
    role = Role.objects.get(name="billing-lead")
    assert list(role.included_roles.all()) == [billing_clerk]
    event = AuthzAuditEvent.objects.get(action=AuditAction.ROLE_CREATE)
    assert event.actor == admin_user


def test_admin_role_form_refuses_a_cycle(admin_client, billing_clerk) -> None:
    lead = services.role_create(name="billing-lead", included_roles=["billing-clerk"])

    response = admin_client.post(
        reverse("admin:authz_role_change", args=[billing_clerk.pk]),
        {"name": "billing-clerk", "description": "", "include_roles": [lead.pk]},
    )

    assert response.status_code == 200
    assert "billing-clerk cannot include billing-lead" in response.content.decode()
    assert not billing_clerk.included_roles.exists()


def test_admin_role_page_shows_the_effective_permissions(admin_client, billing_clerk) -> None:
    services.role_create(name="billing-lead", included_roles=["billing-clerk"])
    lead = Role.objects.get(name="billing-lead")

    body = admin_client.get(reverse("admin:authz_role_change", args=[lead.pk])).content.decode()

    assert "Effective permissions" in body
    assert "billing.read" in body
    assert "selectfilter" in body  # the filter widget


def test_user_page_has_the_roles_inline(admin_client, user, billing_clerk) -> None:
    services.role_assign(user=user, role=billing_clerk, granted_by=None)

    body = admin_client.get(reverse("admin:accounts_user_change", args=[user.pk])).content.decode()

    assert "role_assignments-TOTAL_FORMS" in body
    assert "billing-clerk" in body


def test_audit_is_read_only_in_the_admin(admin_client, billing_clerk) -> None:
    services.role_update(role=billing_clerk, description="changed")
    event = AuthzAuditEvent.objects.get()

    assert admin_client.get(reverse("admin:authz_authzauditevent_changelist")).status_code == 200
    assert admin_client.get(reverse("admin:authz_authzauditevent_add")).status_code == 403
    change = admin_client.post(reverse("admin:authz_authzauditevent_change", args=[event.pk]), {})
    assert change.status_code == 403
    assert AuthzAuditEvent.objects.get().after["description"] == "changed"
