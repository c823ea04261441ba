"""Second factors in the Django admin: shown without secrets, reset through the service by an
admin who may manage the account (audited, emailed, every sign-in ended)."""

from __future__ import annotations

import secrets
from datetime import timedelta

import pytest
from django.contrib.admin.models import LogEntry
from django.contrib.auth.models import Permission as DjangoPermission
from django.urls import reverse
from django.utils import timezone

from accounts.models import Channel, Passkey, PendingSignIn, TotpDevice, User, UserSession
from accounts.services.mfa import user_factor_methods, user_mfa_refresh, user_mfa_reset_by_admin
from authz import services as authz_services
from authz.errors import PrivilegeRefused
from tests.factories import PermissionFactory, RoleFactory
from tests.mfa import totp_enrol

pytestmark = pytest.mark.django_db


@pytest.fixture
def admin(user_factory) -> User:
    return user_factory(superuser=True)


@pytest.fixture
def admin_client(client, admin):
    client.force_login(admin)
    return client


@pytest.fixture
def enrolled(user_factory, user_session_factory) -> User:
    """A user with an authenticator app, a synced passkey named with markup, recovery codes,
    a sign-in and a half-done sign-in."""
    user = user_factory()
    totp_enrol(user)
    Passkey.objects.create(
        user=user,
        name="<b>Phone</b>",
        credential_id=secrets.token_urlsafe(32),
        public_key=b"\xa5\x01\x02",
        backup_eligible=True,
    )
    user_mfa_refresh(user=user)
    user_session_factory(user=user, channel=Channel.API, amr="pwd otp")
    PendingSignIn.objects.create(
        user=user,
        token_hash=secrets.token_hex(32),
        channel=Channel.BROWSER,
        identifier=user.username,
        amr="pwd",
        expires_at=timezone.now() + timedelta(minutes=5),
    )
    return User.objects.get(pk=user.pk)


def _change_page(admin_client, user: User) -> str:
    response = admin_client.get(reverse("admin:accounts_user_change", args=[user.pk]))
    assert response.status_code == 200
    return response.content.decode()


def test_admin_shows_factors_by_name_and_date_never_a_secret(admin_client, enrolled):
    body = _change_page(admin_client, enrolled)
    device = TotpDevice.objects.get(user=enrolled)
    assert "Authenticator app: added" in body
    assert "&lt;b&gt;Phone&lt;/b&gt;" in body  # the user's own name for it, escaped
    assert "<b>Phone</b>" not in body
    assert "(synced)" in body
    assert "Recovery codes left: 10" in body
    assert "Reset second factors" in body
    assert device.secret_encrypted not in body
    for code_hash in enrolled.recovery_codes.values_list("code_hash", flat=True):
        assert code_hash not in body


def test_admin_page_of_a_user_without_factors_offers_no_reset(admin_client, user):
    body = _change_page(admin_client, user)
    assert "Recovery codes left: 0" in body
    assert "Reset second factors" not in body


def test_admin_reset_asks_then_removes_every_factor(
    admin_client, admin, enrolled, mailoutbox, django_capture_on_commit_callbacks
):
    url = reverse("admin:accounts_user_mfa_reset", args=[enrolled.pk])
    confirm = admin_client.get(url)
    assert confirm.status_code == 200
    assert "Yes, reset second factors" in confirm.content.decode()
    assert user_factor_methods(user=enrolled)  # asking changed nothing

    with django_capture_on_commit_callbacks(execute=True):
        response = admin_client.post(url)

    assert response.status_code == 302
    enrolled.refresh_from_db()
    assert not enrolled.mfa_enabled
    assert user_factor_methods(user=enrolled) == []
    assert not TotpDevice.objects.filter(user=enrolled).exists()
    assert not Passkey.objects.filter(user=enrolled).exists()
    assert not enrolled.recovery_codes.exists()
    assert not PendingSignIn.objects.filter(user=enrolled).exists()
    assert not UserSession.objects.filter(user=enrolled, revoked_at__isnull=True).exists()
    assert [m.to for m in mailoutbox] == [[enrolled.email]]
    assert "administrator reset your second factors" in mailoutbox[0].body
    # The account's history also holds the user's own enrolment; the reset is the admin's.
    entry = LogEntry.objects.filter(object_id=str(enrolled.pk)).latest("action_time")
    assert entry.user_id == admin.pk
    assert "Second factors reset" in entry.get_change_message()


def test_admin_action_resets_the_selected_users(admin_client, enrolled):
    response = admin_client.post(
        reverse("admin:accounts_user_changelist"),
        {"action": "reset_second_factors", "_selected_action": [enrolled.pk]},
    )
    assert response.status_code == 302
    enrolled.refresh_from_db()
    assert not enrolled.mfa_enabled


def _user_manager(user_factory) -> User:
    """Staff who may open and change user accounts, and holds one authz permission only."""
    manager = user_factory(staff=True)
    for codename in ("view_user", "change_user"):
        manager.user_permissions.add(DjangoPermission.objects.get(codename=codename))
    role = RoleFactory(permissions=[PermissionFactory(code="users.read")])
    authz_services.role_assign(user=manager, role=role, granted_by=None)
    return User.objects.get(pk=manager.pk)


def test_reset_is_refused_for_an_actor_who_may_not_manage_the_account(
    client, user_factory, enrolled, mailoutbox
):
    manager = _user_manager(user_factory)
    above = RoleFactory(permissions=[PermissionFactory(code="roles.write")])
    authz_services.role_assign(user=enrolled, role=above, granted_by=None)
    client.force_login(manager)

    url = reverse("admin:accounts_user_mfa_reset", args=[enrolled.pk])
    assert client.get(url).status_code == 403
    assert client.post(url).status_code == 403
    client.post(
        reverse("admin:accounts_user_changelist"),
        {"action": "reset_second_factors", "_selected_action": [enrolled.pk]},
    )
    with pytest.raises(PrivilegeRefused):
        user_mfa_reset_by_admin(actor=manager, user=enrolled)

    enrolled.refresh_from_db()
    assert enrolled.mfa_enabled
    assert len(user_factor_methods(user=enrolled)) == 3
    assert mailoutbox == []


def test_reset_by_a_user_manager_of_an_ordinary_account_works(
    client, user_factory, enrolled, django_capture_on_commit_callbacks
):
    manager = _user_manager(user_factory)
    client.force_login(manager)
    with django_capture_on_commit_callbacks(execute=True):
        response = client.post(reverse("admin:accounts_user_mfa_reset", args=[enrolled.pk]))
    assert response.status_code == 302
    enrolled.refresh_from_db()
    assert not enrolled.mfa_enabled


def test_reset_of_ones_own_factors_is_refused(admin_client, admin):
    totp_enrol(admin)
    response = admin_client.post(
        reverse("admin:accounts_user_mfa_reset", args=[admin.pk]), follow=True
    )
    assert "security page" in response.content.decode()
    admin.refresh_from_db()
    assert admin.mfa_enabled
