"""Gaps an independent review of the issue-16 fixes found (each test failed on the merged code).

Each drives the real endpoint as the attacker would: a stolen session or token of a limited
account, a self-registered application, a cross-site request.
"""

from __future__ import annotations

import pytest
from django.test import Client
from django.urls import reverse
from rest_framework.test import APIClient

from accounts.models import User
from authz import services as authz_services
from authz.models import Role
from tests.api.conftest import assert_problem
from tests.factories import UserFactory
from tests.security.test_oauth_scopes import ADMIN_SCOPES, _bearer, _trusted
from tests.sso.conftest import sign_in

pytestmark = pytest.mark.django_db


def _holder_of(role_name: str) -> User:
    user = UserFactory()
    authz_services.role_assign(user=user, role=Role.objects.get(name=role_name), granted_by=None)
    return User.objects.get(pk=user.pk)


def _api_as(user: User) -> APIClient:
    client = APIClient()
    client.force_authenticate(user)
    return client


def _user_url(user: User) -> str:
    return reverse("api:accounts:user", kwargs={"public_id": user.public_id})


# -- item 4 through the administration API: one's own account is self-service ---------------


def test_user_manager_cannot_move_their_own_email_through_the_users_api(mailoutbox):
    """PATCH /me/ needs the current password; the users API on one's own account must too,
    or a stolen user-manager session moves the account to the thief's mailbox."""
    manager = _holder_of("user-manager")
    response = _api_as(manager).patch(
        _user_url(manager), {"email": "thief@example.com"}, format="json"
    )
    assert_problem(response, 403, "reauthentication_required")
    assert not any("thief@example.com" in message.to for message in mailoutbox)


def test_user_manager_cannot_delete_their_own_account_through_the_users_api():
    """Self-service deletion needs the password; the users API on oneself is no way round."""
    manager = _holder_of("user-manager")
    response = _api_as(manager).delete(_user_url(manager))
    assert_problem(response, 403, "reauthentication_required")
    assert User.objects.filter(pk=manager.pk).exists()


def test_admin_write_token_cannot_change_its_users_email_or_delete_them(client, owner):
    """Item 2: no scope lets an app change the email or delete the account, admin.write on
    the user's own account included."""
    manager = _holder_of("user-manager")
    tokens = sign_in(client, _trusted(owner), manager, scope=ADMIN_SCOPES)
    api = _bearer(tokens["access_token"])
    response = api.patch(_user_url(manager), {"email": "app@example.com"}, format="json")
    assert_problem(response, 403, "reauthentication_required")
    assert_problem(api.delete(_user_url(manager)), 403, "reauthentication_required")
    manager.refresh_from_db()
    assert manager.email != "app@example.com"
