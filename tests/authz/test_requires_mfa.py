"""A role that requires a second factor: its holders (also through an including role) must
sign in with one; the flag is set in the admin and the API, audited, and applies at once."""

from __future__ import annotations

import pytest
from django.urls import reverse
from rest_framework.test import APIClient

from accounts.models import User
from accounts.services.mfa import mfa_required
from authz import selectors, services
from authz.models import AuditAction, AuthzAuditEvent, Role

pytestmark = pytest.mark.django_db


def fresh(user: User) -> User:
    """The user as the next request loads it: no per-request memo."""
    return User.objects.get(pk=user.pk)


def _role_api(actor: User) -> APIClient:
    client = APIClient()
    client.force_authenticate(actor)
    return client


@pytest.fixture
def lead(billing_clerk) -> Role:
    """A role including billing-clerk: its holders hold billing-clerk too."""
    return services.role_create(name="billing-lead", included_roles=["billing-clerk"])


def test_requires_mfa_applies_through_an_included_role(user, billing_clerk, lead) -> None:
    services.role_assign(user=user, role=lead, granted_by=None)
    assert not mfa_required(user=fresh(user))

    services.role_update(role=billing_clerk, requires_mfa=True)

    assert selectors.user_requires_mfa(user=fresh(user))
    assert mfa_required(user=fresh(user))


def test_revoking_the_role_lifts_the_requirement(user, billing_clerk, lead) -> None:
    services.role_update(role=billing_clerk, requires_mfa=True)
    services.role_assign(user=user, role=lead, granted_by=None)
    assert mfa_required(user=fresh(user))

    services.role_unassign(user=user, role=lead)

    assert not mfa_required(user=fresh(user))


def test_a_role_of_nobody_requires_nothing(user, billing_clerk) -> None:
    services.role_update(role=billing_clerk, requires_mfa=True)
    assert not mfa_required(user=fresh(user))


def test_a_flag_change_reaches_a_warm_cache_on_the_next_check(
    user, billing_clerk, lead, django_assert_num_queries
) -> None:
    services.role_assign(user=user, role=lead, granted_by=None)
    assert not selectors.user_requires_mfa(user=fresh(user))
    next_request_user = fresh(user)
    with django_assert_num_queries(0):
        assert not selectors.user_requires_mfa(user=next_request_user)  # cached

    services.role_update(role=billing_clerk, requires_mfa=True)
    assert selectors.user_requires_mfa(user=fresh(user))

    services.role_update(role=billing_clerk, requires_mfa=False)
    assert not selectors.user_requires_mfa(user=fresh(user))


def test_a_flag_change_is_audited_with_before_and_after(billing_clerk, admin_user) -> None:
    services.role_update(role=billing_clerk, requires_mfa=True, actor=admin_user)
    event = AuthzAuditEvent.objects.filter(action=AuditAction.ROLE_UPDATE).latest("created_at")
    assert event.actor == admin_user
    assert (event.before["requires_mfa"], event.after["requires_mfa"]) == (False, True)


# -- admin ------------------------------------------------------------------------------------
def test_admin_sets_the_flag_through_the_service(admin_client, admin_user, billing_clerk, user):
    services.role_assign(user=user, role=billing_clerk, granted_by=None)
    assert not mfa_required(user=fresh(user))
    response = admin_client.post(
        reverse("admin:authz_role_change", args=[billing_clerk.pk]),
        {
            "name": "billing-clerk",
            "description": "",
            "requires_mfa": "on",
            "grant_permissions": [p.pk for p in billing_clerk.permissions.all()],
        },
    )

    assert response.status_code == 302, response.content
    billing_clerk.refresh_from_db()
    assert billing_clerk.requires_mfa
    assert mfa_required(user=fresh(user))
    event = AuthzAuditEvent.objects.filter(action=AuditAction.ROLE_UPDATE).latest("created_at")
    assert event.actor == admin_user
    # The form set the instance before the service ran: "before" is still the old state.
    assert (event.before["requires_mfa"], event.after["requires_mfa"]) == (False, True)


def test_admin_role_list_shows_the_flag(admin_client, billing_clerk) -> None:
    services.role_update(role=billing_clerk, requires_mfa=True)
    body = admin_client.get(reverse("admin:authz_role_changelist")).content.decode()
    assert "column-requires_mfa" in body
    assert 'alt="True"' in body  # the role's flag, as Django shows a boolean
    page = admin_client.get(reverse("admin:authz_role_change", args=[billing_clerk.pk]))
    assert 'name="requires_mfa"' in page.content.decode()


# -- API --------------------------------------------------------------------------------------
def test_api_reads_and_writes_the_flag(roles_admin, billing_clerk) -> None:
    api = _role_api(roles_admin)
    created = api.post(
        reverse("api:authz:roles"), {"name": "vault", "requires_mfa": True}, format="json"
    )
    assert created.status_code == 201, created.content
    assert created.json()["requires_mfa"] is True
    url = reverse("api:authz:role", kwargs={"name": "billing-clerk"})
    assert api.get(url).json()["requires_mfa"] is False

    patched = api.patch(url, {"requires_mfa": True}, format="json")

    assert patched.status_code == 200, patched.content
    assert patched.json()["requires_mfa"] is True
    assert patched.json()["effective_permissions"] == ["billing.read"]  # nothing else changed
    event = AuthzAuditEvent.objects.filter(action=AuditAction.ROLE_UPDATE).latest("created_at")
    assert event.actor == roles_admin
    assert event.after["requires_mfa"] is True


def test_api_refuses_a_flag_that_is_not_a_boolean(roles_admin, billing_clerk) -> None:
    url = reverse("api:authz:role", kwargs={"name": "billing-clerk"})
    response = _role_api(roles_admin).patch(url, {"requires_mfa": "yes"}, format="json")
    assert response.status_code == 400
    assert response.json()["errors"][0]["field"] == "requires_mfa"
    billing_clerk.refresh_from_db()
    assert not billing_clerk.requires_mfa


def test_api_refuses_a_reader_or_a_plain_user_changing_the_flag(
    user, user_factory, role_factory, permission_factory, billing_clerk
) -> None:
    reader_role = role_factory(
        name="test-reader", permissions=[permission_factory(code="roles.read")]
    )
    reader = user_factory()
    services.role_assign(user=reader, role=reader_role, granted_by=None)
    url = reverse("api:authz:role", kwargs={"name": "billing-clerk"})
    for actor in (reader, user):
        response = _role_api(actor).patch(url, {"requires_mfa": True}, format="json")
        assert response.status_code == 403
    billing_clerk.refresh_from_db()
    assert not billing_clerk.requires_mfa
