"""Vertical privilege escalation (issue 16, items 1, 3 and 17b).

Nobody acts on an account that holds more than they do; nobody grants a permission they do
not hold; authz codes never answer for Django's own permissions; the admin's flag fields and
the session-revoke action need more than a view permission. Each test drives the real
endpoint or admin page as the limited account would.
"""

from __future__ import annotations

import pytest
from django.test import Client
from django.urls import reverse

from accounts.models import User, UserSession
from authz import services as authz_services
from authz.models import AuthzAuditEvent, Permission, Role, RoleAssignment
from tests.factories import PermissionFactory, RoleFactory, UserFactory, UserSessionFactory
from tests.security.conftest import api_as, holder_of, with_django_perms

pytestmark = pytest.mark.django_db
PROBLEM = "application/problem+json"


def holder_of_codes(*codes: str, **user_fields: object) -> User:
    role = RoleFactory(
        name=f"test-{'-'.join(c.replace('.', '-') for c in codes)}",
        permissions=[PermissionFactory(code=code) for code in codes],
    )
    user = UserFactory(**user_fields)
    authz_services.role_assign(user=user, role=role, granted_by=None)
    return User.objects.get(pk=user.pk)


def admin_as(user: User) -> Client:
    client = Client()
    client.force_login(user)
    return client


def assert_denied(response, why: str) -> None:
    assert response.status_code == 403, response.content
    assert response["Content-Type"].startswith(PROBLEM)
    body = response.json()
    assert body["code"] == "permission_denied", body
    assert why in body["detail"], body


def users_url(route: str, /, **kwargs: object) -> str:
    return reverse(f"api:accounts:{route}", kwargs=kwargs or None)


def authz_url(route: str, /, **kwargs: object) -> str:
    return reverse(f"api:authz:{route}", kwargs=kwargs or None)


@pytest.fixture
def user_manager() -> User:
    return holder_of("user-manager")


@pytest.fixture
def superuser() -> User:
    return UserFactory(superuser=True)


# --- item 1: the users API ----------------------------------------------------------------


def test_user_manager_cannot_change_a_superusers_email(user_manager, superuser, mailoutbox):
    response = api_as(user_manager).patch(
        users_url("user", public_id=superuser.public_id),
        {"email": "attacker@example.com"},
        format="json",
    )
    assert_denied(response, "superuser")
    assert mailoutbox == []  # no verification link went to the attacker's address
    superuser.refresh_from_db()
    assert superuser.email != "attacker@example.com"


def test_user_manager_cannot_deactivate_or_delete_a_superuser(user_manager, superuser):
    client = api_as(user_manager)
    detail = users_url("user", public_id=superuser.public_id)
    assert_denied(client.patch(detail, {"is_active": False}, format="json"), "superuser")
    assert_denied(client.delete(detail), "superuser")
    superuser.refresh_from_db()
    assert superuser.is_active


def test_user_manager_cannot_reset_or_sign_out_a_superuser(user_manager, superuser, mailoutbox):
    client = api_as(user_manager)
    reset = users_url("user_password_reset", public_id=superuser.public_id)
    assert_denied(client.post(reset), "superuser")
    session = UserSessionFactory(user=superuser)
    revoke = users_url("user_session", public_id=superuser.public_id, session_id=session.pk)
    assert_denied(client.delete(revoke), "superuser")
    assert UserSession.objects.get(pk=session.pk).revoked_at is None
    assert mailoutbox == []


def test_user_manager_cannot_act_on_someone_holding_more(user_manager):
    roles_admin = holder_of("admin")
    detail = users_url("user", public_id=roles_admin.public_id)
    response = api_as(user_manager).patch(detail, {"email": "x@example.com"}, format="json")
    assert_denied(response, "roles.write")
    staff = UserFactory(staff=True)
    response = api_as(user_manager).patch(
        users_url("user", public_id=staff.public_id), {"is_active": False}, format="json"
    )
    assert_denied(response, "staff")
    assert User.objects.get(pk=staff.pk).is_active


def test_user_manager_still_manages_ordinary_accounts(user_manager, user):
    detail = users_url("user", public_id=user.public_id)
    response = api_as(user_manager).patch(detail, {"is_active": False}, format="json")
    assert response.status_code == 200, response.content
    assert api_as(user_manager).delete(detail).status_code == 204


def test_superuser_may_act_on_a_superuser(superuser):
    other = UserFactory(superuser=True)
    detail = users_url("user", public_id=other.public_id)
    response = api_as(superuser).patch(detail, {"user_type": "partner"}, format="json")
    assert response.status_code == 200, response.content


# --- item 1: role grants ------------------------------------------------------------------


@pytest.fixture
def role_writer() -> User:
    return holder_of_codes("roles.read", "roles.write")


def test_roles_write_cannot_grant_itself_admin(role_writer):
    url = authz_url("user_roles", public_id=role_writer.public_id)
    response = api_as(role_writer).post(url, {"role": "admin"}, format="json")
    assert_denied(response, "users.write")
    assert not RoleAssignment.objects.filter(user=role_writer, role__name="admin").exists()


def test_roles_write_cannot_add_a_permission_it_lacks_to_a_role(role_writer):
    role = role_writer.role_assignments.get().role
    client = api_as(role_writer)
    response = client.patch(
        authz_url("role", name=role.name),
        {"permissions": ["roles.read", "roles.write", "users.write"]},
        format="json",
    )
    assert_denied(response, "users.write")
    response = client.patch(
        authz_url("role", name=role.name), {"included_roles": ["admin"]}, format="json"
    )
    assert_denied(response, "users.write")
    response = client.post(
        authz_url("roles"), {"name": "sneaky", "permissions": ["apps.manage"]}, format="json"
    )
    assert_denied(response, "apps.manage")
    assert not Role.objects.filter(name="sneaky").exists()
    assert sorted(role.permissions.values_list("code", flat=True)) == ["roles.read", "roles.write"]


def test_roles_write_cannot_take_roles_from_someone_holding_more(role_writer):
    admin = holder_of("admin")
    url = authz_url("user_role", public_id=admin.public_id, name="admin")
    assert_denied(api_as(role_writer).delete(url), "users.write")
    assert RoleAssignment.objects.filter(user=admin, role__name="admin").exists()


def test_roles_write_still_grants_what_it_holds(role_writer, user):
    RoleFactory(name="reader", permissions=[PermissionFactory(code="roles.read")])
    url = authz_url("user_roles", public_id=user.public_id)
    response = api_as(role_writer).post(url, {"role": "reader"}, format="json")
    assert response.status_code == 201, response.content


# --- item 1: the Django admin ---------------------------------------------------------------


@pytest.fixture
def staff_user_admin() -> User:
    """Staff allowed to change users the Django way, holding nothing else."""
    staff = UserFactory(staff=True)
    return with_django_perms(staff, "accounts.view_user", "accounts.change_user")


def _user_form(user: User, **changes: object) -> dict[str, object]:
    data: dict[str, object] = {
        "username": user.username,
        "email": user.email,
        "user_type": user.user_type,
        "is_active": "on",
        "profile-TOTAL_FORMS": "0",
        "profile-INITIAL_FORMS": "0",
        "role_assignments-TOTAL_FORMS": "0",
        "role_assignments-INITIAL_FORMS": "0",
    }
    data.update(changes)
    return {k: v for k, v in data.items() if v is not None}


def test_admin_staff_cannot_change_a_superuser(staff_user_admin, superuser):
    client = admin_as(staff_user_admin)
    url = reverse("admin:accounts_user_change", args=[superuser.pk])
    response = client.post(url, _user_form(superuser, email="attacker@example.com"))
    assert response.status_code == 403
    superuser.refresh_from_db()
    assert superuser.email != "attacker@example.com"


def test_admin_staff_cannot_set_a_superusers_password(staff_user_admin, superuser):
    url = reverse("admin:auth_user_password_change", args=[superuser.pk])
    new = "attacker chosen password 123"
    response = admin_as(staff_user_admin).post(
        url, {"password1": new, "password2": new, "usable_password": "true"}
    )
    assert response.status_code == 403
    superuser.refresh_from_db()
    assert not superuser.check_password(new)


def test_admin_staff_cannot_deactivate_a_superuser_by_action(staff_user_admin, superuser):
    client = admin_as(staff_user_admin)
    client.post(
        reverse("admin:accounts_user_changelist"),
        {"action": "deactivate", "_selected_action": [superuser.pk]},
    )
    superuser.refresh_from_db()
    assert superuser.is_active


def test_admin_role_writer_cannot_include_admin_in_its_role():
    staff = holder_of_codes("roles.read", "roles.write", is_staff=True)
    role = staff.role_assignments.get().role
    response = admin_as(staff).post(
        reverse("admin:authz_role_change", args=[role.pk]),
        {
            "name": role.name,
            "description": "",
            "grant_permissions": list(role.permissions.values_list("pk", flat=True)),
            "include_roles": [Role.objects.get(name="admin").pk],
        },
    )
    assert response.status_code == 200  # the form again, with the refusal
    assert "users.write" in response.content.decode()
    assert not role.included_roles.exists()


def test_admin_role_writer_cannot_change_or_delete_a_role_above_it():
    staff = holder_of_codes("roles.read", "roles.write", is_staff=True)
    admin_role = Role.objects.get(name="admin")
    client = admin_as(staff)
    response = client.post(
        reverse("admin:authz_role_delete", args=[admin_role.pk]), {"post": "yes"}
    )
    assert response.status_code == 403
    response = client.post(
        reverse("admin:authz_role_change", args=[admin_role.pk]),
        {"name": "admin", "description": "", "grant_permissions": [], "include_roles": []},
    )
    assert response.status_code == 403
    assert admin_role.permissions.filter(code="users.write").exists()


def test_admin_role_writer_cannot_grant_itself_admin_on_its_user_page():
    staff = holder_of_codes("roles.read", "roles.write", is_staff=True)
    staff = with_django_perms(staff, "accounts.view_user", "accounts.change_user")
    mine = staff.role_assignments.get()
    form = _user_form(
        staff,
        **{
            "role_assignments-TOTAL_FORMS": "2",
            "role_assignments-INITIAL_FORMS": "1",
            "role_assignments-0-id": str(mine.pk),
            "role_assignments-0-user": str(staff.pk),
            "role_assignments-0-role": str(mine.role_id),
            "role_assignments-1-user": str(staff.pk),
            "role_assignments-1-role": str(Role.objects.get(name="admin").pk),
        },
    )
    response = admin_as(staff).post(reverse("admin:accounts_user_change", args=[staff.pk]), form)
    assert response.status_code == 200  # the form again, with the refusal
    assert "users.write" in response.content.decode()
    assert not RoleAssignment.objects.filter(user=staff, role__name="admin").exists()


def test_admin_staff_cannot_create_a_staff_account():
    staff = with_django_perms(
        UserFactory(staff=True), "accounts.add_user", "accounts.change_user", "accounts.view_user"
    )
    form = {"username": "newstaff", "email": "newstaff@example.com", "user_type": "employee"}
    response = admin_as(staff).post(
        reverse("admin:accounts_user_add"), {**form, "is_staff": "on", "password": ""}
    )
    assert response.status_code == 302, response.content
    assert User.objects.get(username="newstaff").is_staff is False


# --- item 3: authz codes cannot be Django permissions -------------------------------------


def test_api_refuses_a_permission_code_in_djangos_namespace(role_writer):
    response = api_as(role_writer).post(
        authz_url("permissions"), {"code": "accounts.change_user"}, format="json"
    )
    assert response.status_code == 400, response.content
    body = response.json()
    assert body["errors"][0]["field"] == "code"
    assert body["errors"][0]["code"] == "reserved_permission_code"
    assert not Permission.objects.filter(code="accounts.change_user").exists()


def test_a_role_carrying_a_django_permission_name_does_not_open_the_admin():
    # As if the row had slipped in before the namespace rule (or straight into the database).
    forged = Permission.objects.create(code="accounts.change_user")
    viewer = Permission.objects.create(code="accounts.view_user")
    role = RoleFactory(name="forged", permissions=[forged, viewer])
    staff = UserFactory(staff=True)
    authz_services.role_assign(user=staff, role=role, granted_by=None)
    staff = User.objects.get(pk=staff.pk)
    assert not staff.has_perm("accounts.change_user")
    assert not staff.has_module_perms("accounts")
    client = admin_as(staff)
    assert client.get(reverse("admin:accounts_user_change", args=[staff.pk])).status_code == 403
    response = client.post(
        reverse("admin:accounts_user_change", args=[staff.pk]),
        _user_form(staff, is_superuser="on", is_staff="on"),
    )
    assert response.status_code == 403
    assert not User.objects.get(pk=staff.pk).is_superuser


def test_admin_staff_cannot_tick_is_superuser_on_themselves(staff_user_admin):
    client = admin_as(staff_user_admin)
    url = reverse("admin:accounts_user_change", args=[staff_user_admin.pk])
    response = client.post(url, _user_form(staff_user_admin, is_superuser="on", is_staff="on"))
    assert response.status_code == 302, response.content
    staff_user_admin.refresh_from_db()
    assert not staff_user_admin.is_superuser


# --- item 17b: revoking sessions in the admin needs more than view ------------------------


def test_admin_session_revoke_action_needs_more_than_view_permission(user):
    viewer = with_django_perms(UserFactory(staff=True), "accounts.view_usersession")
    session = UserSessionFactory(user=user)
    admin_as(viewer).post(
        reverse("admin:accounts_usersession_changelist"),
        {"action": "revoke", "_selected_action": [str(session.pk)]},
    )
    assert UserSession.objects.get(pk=session.pk).revoked_at is None


def test_migration_moves_existing_django_style_codes_out_of_djangos_namespace():
    from importlib import import_module

    from django.apps import apps

    migration = import_module("authz.migrations.0005_permission_codes_outside_django_namespace")
    forged = Permission.objects.create(code="auth.change_group")
    kept = Permission.objects.get(code="sessions.revoke")
    role = RoleFactory(name="forged-group-admin", permissions=[forged])
    migration.quarantine(apps, None)
    forged.refresh_from_db()
    assert forged.code == "quarantined.auth.change_group"
    assert list(role.permissions.all()) == [forged]
    assert Permission.objects.get(pk=kept.pk).code == "sessions.revoke"
    assert AuthzAuditEvent.objects.filter(
        object_type="permission", object_id=str(forged.pk), before__code="auth.change_group"
    ).exists()


def test_admin_session_revoke_action_with_sessions_revoke_stops_at_superusers(user, superuser):
    staff = holder_of_codes("sessions.revoke", is_staff=True)
    staff = with_django_perms(staff, "accounts.view_usersession")
    theirs, above = UserSessionFactory(user=user), UserSessionFactory(user=superuser)
    admin_as(staff).post(
        reverse("admin:accounts_usersession_changelist"),
        {"action": "revoke", "_selected_action": [str(theirs.pk), str(above.pk)]},
    )
    assert UserSession.objects.get(pk=theirs.pk).revoked_at is not None
    assert UserSession.objects.get(pk=above.pk).revoked_at is None
