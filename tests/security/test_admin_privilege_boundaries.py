"""Limited administrators stay within their grant: apps.manage is no way to act as a trusted
application, view-only admin staff change nothing, Django's groups and consents are not a way
round, and a grant cannot outlive the granter's own hold.

Found by an independent review of the issue-16 fixes (each test failed on the merged code).
Each drives the real endpoint or admin page as the limited account would.
"""

from __future__ import annotations

from datetime import timedelta

import pytest
from django.contrib.auth.models import Group
from django.contrib.auth.models import Permission as DjangoPermission
from django.test import Client
from django.urls import reverse
from django.utils import timezone

from accounts.models import User
from authz import cache as authz_cache
from authz import services as authz_services
from authz.models import Role, RoleAssignment
from sso.models import Consent
from tests.admin_forms import form_data
from tests.api.conftest import assert_problem
from tests.factories import PermissionFactory, RoleFactory, UserFactory
from tests.security.conftest import api_as, staff_with_django_perms
from tests.security.test_oauth_scopes import (
    _client_credentials,
    _service_with_account,
    _trusted,
)
from tests.sso.conftest import (
    Registered,
    register,
)

pytestmark = pytest.mark.django_db


# -- items 1 and 2: apps.manage is no way to act as a trusted application ---------------------


def _apps_manager() -> User:
    """Holds apps.manage and nothing else."""
    role = RoleFactory(name="apps-manager", permissions=[PermissionFactory(code="apps.manage")])
    user = UserFactory()
    authz_services.role_assign(user=user, role=role, granted_by=None)
    return User.objects.get(pk=user.pk)


def _app_url(name: str, app: Registered) -> str:
    return reverse(f"api:sso:{name}", kwargs={"client_id": app.client_id})


def test_apps_manager_cannot_take_over_a_trusted_service_by_rotating_its_secret(owner):
    """A trusted service acts with its service account's roles (here user-manager): rotating
    its secret would let a mere apps.manage holder act with users.write."""
    service, account = _service_with_account(owner)
    authz_services.role_assign(
        user=account, role=Role.objects.get(name="user-manager"), granted_by=None
    )
    response = api_as(_apps_manager()).post(_app_url("application_rotate_secret", service))
    assert response.status_code == 404, response.content
    stolen = Registered(app=service.app, secret=response.json().get("client_secret", ""))
    assert _client_credentials(stolen, "admin.read admin.write").status_code == 401
    assert _client_credentials(service, "admin.read").status_code == 200  # still the owner's


def test_apps_manager_cannot_redirect_a_trusted_apps_codes(owner):
    """A trusted app's tokens carry admin scopes for whoever signs in (a superuser too):
    pointing its redirect URI elsewhere would hand those codes to the apps.manage holder."""
    trusted = _trusted(owner)
    response = api_as(_apps_manager()).patch(
        _app_url("application", trusted),
        {"redirect_uris": ["https://evil.example.net/callback"]},
        format="json",
    )
    assert response.status_code == 404, response.content
    trusted.app.refresh_from_db()
    assert "evil.example.net" not in trusted.app.redirect_uris


def test_admin_staff_with_application_rights_cannot_change_a_trusted_app(owner):
    """The Django admin's application form is the same power as apps.manage: a trusted
    application is changed (redirect URIs, owner) by a superuser only."""
    trusted = _trusted(owner)
    staff = staff_with_django_perms("sso.view_application", "sso.change_application")
    client = Client()
    client.force_login(staff)
    url = reverse("admin:sso_application_change", args=[trusted.app.pk])
    page = client.get(url)
    assert page.status_code == 200
    data = form_data(page.context["adminform"].form)
    data.update(redirect_uris="https://evil.example.net/callback", user=str(staff.pk))
    for inline in page.context["inline_admin_formsets"]:
        data.update(form_data(inline.formset.management_form))
    client.post(url, data)
    trusted.app.refresh_from_db()
    assert "evil.example.net" not in trusted.app.redirect_uris
    assert trusted.app.user_id == owner.pk


def test_admin_staff_with_application_rights_cannot_trust_an_app(owner):
    """Trust (admin scopes for everyone signing in) and first-party (no consent) are a
    superuser's decision, like the account flags."""
    app = register(owner).app
    staff = staff_with_django_perms("sso.view_application", "sso.change_application")
    client = Client()
    client.force_login(staff)
    url = reverse("admin:sso_application_change", args=[app.pk])
    page = client.get(url)
    data = form_data(page.context["adminform"].form)
    data.update(is_trusted="on", is_first_party="on")
    for inline in page.context["inline_admin_formsets"]:
        data.update(form_data(inline.formset.management_form))
    client.post(url, data)
    app.refresh_from_db()
    assert not app.is_trusted
    assert not app.is_first_party


def test_admin_staff_who_may_only_view_applications_cannot_delete_them(owner):
    """Django offers an action without ``permissions`` to everyone who sees the list."""
    app = register(owner).app
    staff = staff_with_django_perms("sso.view_application")
    client = Client()
    client.force_login(staff)
    client.post(
        reverse("admin:sso_application_changelist"),
        {"action": "delete_and_revoke", "_selected_action": [app.pk]},
    )
    assert type(app).objects.filter(pk=app.pk).exists()


ACCOUNT_ACTIONS = [
    "deactivate",
    "send_password_reset",
    "mark_email_verified",
    "require_password_change",
]


@pytest.mark.parametrize("action", ACCOUNT_ACTIONS)
def test_admin_staff_who_may_only_view_users_cannot_run_account_actions(action, mailoutbox):
    """Item 17 beyond the session list: every admin action that changes an account needs
    the change permission, not only a look at the list."""
    target = UserFactory(email_verified_at=None)
    staff = staff_with_django_perms("accounts.view_user")
    client = Client()
    client.force_login(staff)
    client.post(
        reverse("admin:accounts_user_changelist"),
        {"action": action, "_selected_action": [target.pk]},
    )
    after = User.objects.get(pk=target.pk)
    assert after.is_active
    assert after.email_verified_at is None
    assert not after.must_change_password
    assert mailoutbox == []


# -- items 1 and 3: Django's groups are the same power as user_permissions --------------------


def test_admin_staff_cannot_grant_their_group_django_permissions_they_lack():
    """user_permissions and groups are a superuser's to set on accounts; a group's own
    permission list gives the same power to everyone in it, the editor included."""
    staff = staff_with_django_perms("auth.view_group", "auth.change_group")
    group = Group.objects.create(name="helpdesk")
    staff.groups.add(group)
    wanted = DjangoPermission.objects.get(
        content_type__app_label="accounts", codename="change_user"
    )
    client = Client()
    client.force_login(staff)
    client.post(
        reverse("admin:auth_group_change", args=[group.pk]),
        {"name": "helpdesk", "permissions": [str(wanted.pk)]},
    )
    assert not group.permissions.filter(pk=wanted.pk).exists()
    assert not User.objects.get(pk=staff.pk).has_perm("accounts.change_user")


def test_nobody_consents_in_a_users_place_through_the_admin(owner):
    """Consent is the user's own word: a consent row written in the admin would let the
    application take codes (prompt=none) from a signed-in superuser without asking."""
    app = register(owner).app
    victim = UserFactory(superuser=True)
    staff = staff_with_django_perms("sso.view_consent", "sso.add_consent", "sso.change_consent")
    client = Client()
    client.force_login(staff)
    client.post(
        reverse("admin:sso_consent_add"),
        {"user": str(victim.pk), "application": str(app.pk), "scope": "openid profile email"},
    )
    assert not Consent.objects.filter(user=victim, application=app).exists()


# -- item 1 in time: a grant cannot outlive the granter's own hold ----------------------------


def _expire(user: User, role_name: str) -> None:
    RoleAssignment.objects.filter(user=user, role__name=role_name).update(
        expires_at=timezone.now() - timedelta(seconds=1)
    )
    authz_cache.user_changed(user)


def _temporary_admin() -> User:
    user = UserFactory()
    authz_services.role_assign(
        user=user,
        role=Role.objects.get(name="admin"),
        granted_by=None,
        expires_at=timezone.now() + timedelta(hours=1),
    )
    return User.objects.get(pk=user.pk)


def test_a_temporary_admin_cannot_make_their_elevation_permanent_with_a_new_role():
    """An administrator elevated for an hour copies their permissions into a new role and
    assigns it to themselves without expiry: the grant would outlive what they hold."""
    elevated = _temporary_admin()
    api = api_as(elevated)
    codes = ["users.read", "users.write", "roles.read", "roles.write"]
    api.post(reverse("api:authz:roles"), {"name": "forever", "permissions": codes}, format="json")
    url = reverse("api:authz:user_roles", kwargs={"public_id": elevated.public_id})
    api.post(url, {"role": "forever"}, format="json")
    _expire(elevated, "admin")
    assert not User.objects.get(pk=elevated.pk).has_perm("users.write")


def test_a_temporary_admin_cannot_grant_others_beyond_their_own_hold():
    elevated = _temporary_admin()
    friend = UserFactory()
    url = reverse("api:authz:user_roles", kwargs={"public_id": friend.public_id})
    response = api_as(elevated).post(url, {"role": "user-manager"}, format="json")
    assert_problem(response, 403, "permission_denied")
    later = (timezone.now() + timedelta(minutes=30)).isoformat()
    response = api_as(elevated).post(
        url, {"role": "user-manager", "expires_at": later}, format="json"
    )
    assert response.status_code == 201, response.content  # within the granter's own hold
