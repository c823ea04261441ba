"""Authorization API: every endpoint, its guard and its error codes."""

from __future__ import annotations

from datetime import timedelta

import pytest
from django.urls import reverse
from django.utils import timezone
from rest_framework.test import APIClient

from accounts.models import User
from authz import services
from authz.models import AuthzAuditEvent, Permission, Role, RoleAssignment

pytestmark = pytest.mark.django_db
PROBLEM = "application/problem+json"


def url(route: str, /, **kwargs: object) -> str:
    return reverse(f"api:authz:{route}", kwargs=kwargs)


def client_for(user: User | None) -> APIClient:
    client = APIClient()
    if user is not None:
        client.force_authenticate(user)
    return client


@pytest.fixture
def api(roles_admin) -> APIClient:
    return client_for(roles_admin)


@pytest.fixture
def reader(user_factory, role_factory, permission_factory) -> User:
    role = role_factory(name="test-reader", permissions=[permission_factory(code="roles.read")])
    holder = user_factory()
    services.role_assign(user=holder, role=role, granted_by=None)
    return holder


def assert_problem(response, status: int, code: str) -> dict:
    assert response.status_code == status, response.content
    assert response["Content-Type"].startswith(PROBLEM)
    body = response.json()
    assert body["code"] == code
    assert body["status"] == status
    return body


# --- guards ------------------------------------------------------------------------------


@pytest.mark.parametrize("name", ["permissions", "roles"])
def test_anonymous_callers_get_401(name: str) -> None:
    assert_problem(client_for(None).get(url(name)), 401, "not_authenticated")


def test_callers_without_roles_read_get_403_naming_it(user) -> None:
    body = assert_problem(client_for(user).get(url("roles")), 403, "permission_denied")

    assert "roles.read" in body["detail"]


def test_readers_may_read_but_not_write(reader) -> None:
    client = client_for(reader)

    assert client.get(url("roles")).status_code == 200
    body = assert_problem(
        client.post(url("roles"), {"name": "x"}, format="json"), 403, "permission_denied"
    )
    assert "roles.write" in body["detail"]


# --- permissions -------------------------------------------------------------------------


def test_permission_create_list_get_patch_delete(api, admin_user) -> None:
    created = api.post(
        url("permissions"), {"code": "billing.export", "description": "B"}, format="json"
    )
    assert created.status_code == 201
    assert created.json()["code"] == "billing.export"

    listed = api.get(url("permissions"), {"page_size": 100}).json()
    assert "billing.export" in [p["code"] for p in listed["results"]]
    assert api.get(url("permission", code="billing.export")).json()["description"] == "B"

    patched = api.patch(
        url("permission", code="billing.export"), {"description": "C"}, format="json"
    )
    assert patched.json()["description"] == "C"

    # Deleting takes the permission from its holders: only one who holds it may (issue 16.1).
    refused = api.delete(url("permission", code="billing.export"))
    assert_problem(refused, 403, "permission_denied")
    deleted = client_for(admin_user).delete(url("permission", code="billing.export"))
    assert deleted.status_code == 204
    assert not Permission.objects.filter(code="billing.export").exists()
    assert AuthzAuditEvent.objects.filter(object_repr="billing.export").count() == 3


def test_permission_errors(api, permission_factory) -> None:
    permission_factory(code="billing.read")

    assert_problem(
        api.post(url("permissions"), {"code": "billing.read"}, format="json"),
        409,
        "permission_exists",
    )
    body = assert_problem(
        api.post(url("permissions"), {"code": "Bad Code"}, format="json"), 400, "validation_error"
    )
    assert body["errors"][0]["field"] == "code"
    assert_problem(api.get(url("permission", code="nope.read")), 404, "permission_not_found")
    assert_problem(
        api.patch(url("permission", code="billing.read"), {"bogus": 1}, format="json"),
        400,
        "validation_error",
    )


# --- roles -------------------------------------------------------------------------------


def test_role_create_get_patch_delete(api, billing_clerk, permission_factory) -> None:
    permission_factory(code="billing.refund")
    body = {
        "name": "billing-lead",
        "permissions": ["billing.refund"],
        "included_roles": ["billing-clerk"],
    }

    created = api.post(url("roles"), body, format="json")

    assert created.status_code == 201, created.content
    assert created.json()["effective_permissions"] == ["billing.read", "billing.refund"]
    fetched = api.get(url("role", name="billing-lead")).json()
    assert fetched["included_roles"] == ["billing-clerk"]
    patched = api.patch(url("role", name="billing-lead"), {"included_roles": []}, format="json")
    assert patched.json()["effective_permissions"] == ["billing.refund"]
    assert api.delete(url("role", name="billing-lead")).status_code == 204
    assert not Role.objects.filter(name="billing-lead").exists()


def test_role_errors(api, billing_clerk) -> None:
    assert_problem(
        api.post(url("roles"), {"name": "billing-clerk"}, format="json"), 409, "role_exists"
    )
    assert_problem(api.get(url("role", name="nope")), 404, "role_not_found")
    assert_problem(
        api.post(url("roles"), {"name": "x", "permissions": ["nope.read"]}, format="json"),
        400,
        "unknown_permission",
    )
    assert_problem(
        api.post(url("roles"), {"name": "x", "included_roles": ["nope"]}, format="json"),
        400,
        "unknown_role",
    )
    body = assert_problem(
        api.patch(
            url("role", name="billing-clerk"), {"included_roles": ["billing-clerk"]}, format="json"
        ),
        400,
        "role_cycle",
    )
    assert body["errors"][0]["field"] == "included_roles"


def test_roles_list_is_paginated(api, billing_clerk) -> None:
    body = api.get(url("roles"), {"page_size": 1}).json()

    assert body["count"] >= 2
    assert len(body["results"]) == 1
    assert body["next"]


# --- a user's roles ----------------------------------------------------------------------


def test_assign_list_and_revoke_a_users_role(api, roles_admin, user, billing_clerk) -> None:
    expires = (timezone.now() + timedelta(days=1)).isoformat()

    assigned = api.post(
        url("user_roles", public_id=user.public_id),
        {"role": "billing-clerk", "expires_at": expires},
        format="json",
    )

    assert assigned.status_code == 201, assigned.content
    assert assigned.json()["granted_by"] == str(roles_admin.public_id)
    listed = api.get(url("user_roles", public_id=user.public_id)).json()["results"]
    assert [(a["role"], a["active"]) for a in listed] == [("billing-clerk", True)]
    revoked = api.delete(url("user_role", public_id=user.public_id, name="billing-clerk"))
    assert revoked.status_code == 204
    assert not RoleAssignment.objects.filter(user=user).exists()


def test_user_role_errors(api, user, billing_clerk) -> None:
    roles = url("user_roles", public_id=user.public_id)
    past = (timezone.now() - timedelta(days=1)).isoformat()

    assert_problem(api.get(url("user_roles", public_id="not-a-uuid")), 404, "user_not_found")
    assert_problem(api.post(roles, {"role": "nope"}, format="json"), 404, "role_not_found")
    assert_problem(
        api.post(roles, {"role": "billing-clerk", "expires_at": past}, format="json"),
        400,
        "expiry_in_past",
    )
    api.post(roles, {"role": "billing-clerk"}, format="json")
    assert_problem(
        api.post(roles, {"role": "billing-clerk"}, format="json"), 409, "role_already_assigned"
    )
    api.delete(url("user_role", public_id=user.public_id, name="billing-clerk"))
    assert_problem(
        api.delete(url("user_role", public_id=user.public_id, name="billing-clerk")),
        404,
        "role_not_assigned",
    )


# --- me and check ------------------------------------------------------------------------


def test_me_permissions(user, billing_clerk) -> None:
    services.role_assign(user=user, role=billing_clerk, granted_by=None)

    body = client_for(user).get(url("me_permissions")).json()

    assert body == {"roles": ["billing-clerk"], "permissions": ["billing.read"]}


def test_me_permissions_requires_authentication() -> None:
    assert_problem(client_for(None).get(url("me_permissions")), 401, "not_authenticated")


def test_check_self_allowed_and_denied(user, billing_clerk) -> None:
    services.role_assign(user=user, role=billing_clerk, granted_by=None)
    client = client_for(user)

    allowed = client.post(url("check"), {"permission": "billing.read"}, format="json")
    assert allowed.status_code == 200
    assert allowed.json()["allowed"] is True
    assert allowed.json()["granted_by"] == ["billing-clerk"]

    body = assert_problem(
        client.post(url("check"), {"permission": "users.write"}, format="json"),
        403,
        "permission_denied",
    )
    assert "users.write" in body["detail"]
    assert "roles_granting" not in body


def test_check_another_user_requires_authz_check(user, user_factory) -> None:
    other = user_factory()

    body = assert_problem(
        client_for(user).post(
            url("check"),
            {"permission": "billing.read", "user": str(other.public_id)},
            format="json",
        ),
        403,
        "permission_denied",
    )
    assert "authz.check" in body["detail"]


def test_check_another_user_explains_a_denial(api, user, billing_clerk) -> None:
    body = assert_problem(
        api.post(
            url("check"), {"permission": "billing.read", "user": str(user.public_id)}, format="json"
        ),
        403,
        "permission_denied",
    )

    # roles_admin's own role carries billing.read too: it may only grant what it holds.
    assert body["roles_granting"] == ["billing-clerk", "test-roles-admin"]
    assert body["permission"] == "billing.read"


def test_check_another_user_allowed_and_unknown_user(api, user, billing_clerk) -> None:
    services.role_assign(user=user, role=billing_clerk, granted_by=None)

    allowed = api.post(
        url("check"), {"permission": "billing.read", "user": str(user.public_id)}, format="json"
    )
    missing = api.post(
        url("check"),
        {"permission": "billing.read", "user": "00000000-0000-0000-0000-000000000000"},
        format="json",
    )

    assert allowed.json()["granted_by"] == ["billing-clerk"]
    assert_problem(missing, 404, "user_not_found")
