"""The admin's change form and password page end every sign-in, like the services do."""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass

import pytest
from django.test import Client
from django.urls import reverse
from rest_framework.test import APIClient

from accounts.models import User, UserSession
from tests.admin_forms import admin_change_form_post
from tests.factories import DEFAULT_PASSWORD
from tests.sso.conftest import Registered, refresh, register, sign_in

pytestmark = pytest.mark.django_db

NEW_PASSWORD = "a brand new admin-set secret 42"


@pytest.fixture
def owner(user_factory) -> User:
    return user_factory()


@pytest.fixture
def admin_client(client, user_factory):
    client.force_login(user_factory(superuser=True))
    return client


@dataclass
class SignIns:
    """One live sign-in of the user on each channel."""

    api_tokens: dict[str, str]
    oauth_tokens: dict[str, str]
    rp: Registered
    browser: Client


def _sign_in_everywhere(user: User, owner: User, api_tokens: Callable[..., dict]) -> SignIns:
    rp = register(owner)
    browser = Client()
    oauth_tokens = sign_in(browser, rp, user)  # the browser signs in, then authorizes rp
    signins = SignIns(api_tokens(user), oauth_tokens, rp, browser)
    assert _live(signins) == {"api access", "oauth access", "browser"}
    return signins


def _live(signins: SignIns) -> set[str]:
    """Which of the sign-ins still work (the OAuth refresh token is tried last: it rotates)."""
    live = set()
    api = APIClient()
    bearer = f"Bearer {signins.api_tokens['access_token']}"
    if api.get(reverse("api:accounts:me"), HTTP_AUTHORIZATION=bearer).status_code == 200:
        live.add("api access")
    bearer = f"Bearer {signins.oauth_tokens['access_token']}"
    if (
        Client().get(reverse("oauth2_provider:user-info"), HTTP_AUTHORIZATION=bearer).status_code
        == 200
    ):
        live.add("oauth access")
    if signins.browser.get(reverse("accounts:profile")).status_code == 200:
        live.add("browser")
    return live


def _refreshes(signins: SignIns) -> set[str]:
    working = set()
    body = {"refresh_token": signins.api_tokens["refresh_token"]}
    if APIClient().post(reverse("api:accounts:refresh"), body, format="json").status_code == 200:
        working.add("api refresh")
    if refresh(Client(), signins.rp, signins.oauth_tokens["refresh_token"]).status_code == 200:
        working.add("oauth refresh")
    return working


def test_admin_change_form_deactivation_ends_every_sign_in(admin_client, user, owner, api_tokens):
    signins = _sign_in_everywhere(user, owner, api_tokens)
    admin_change_form_post(admin_client, "admin:accounts_user_change", user, is_active=False)
    assert not User.objects.get(pk=user.pk).is_active
    assert _live(signins) == set()
    assert _refreshes(signins) == set()
    assert not UserSession.objects.filter(user=user, revoked_at__isnull=True).exists()


def test_admin_password_page_ends_every_sign_in(admin_client, user, owner, api_tokens):
    signins = _sign_in_everywhere(user, owner, api_tokens)
    response = admin_client.post(
        reverse("admin:auth_user_password_change", args=[user.pk]),
        {"password1": NEW_PASSWORD, "password2": NEW_PASSWORD, "usable_password": "true"},
    )
    assert response.status_code == 302, response.context["form"].errors
    assert User.objects.get(pk=user.pk).check_password(NEW_PASSWORD)
    assert _live(signins) == set()
    assert _refreshes(signins) == set()
    assert not UserSession.objects.filter(user=user, revoked_at__isnull=True).exists()


def test_admin_change_form_saves_what_it_changed(admin_client, user):
    admin_change_form_post(admin_client, "admin:accounts_user_change", user, user_type="partner")
    user.refresh_from_db()
    assert user.user_type == "partner"
    assert user.is_active
    assert user.check_password(DEFAULT_PASSWORD)


def test_admin_setting_their_own_password_goes_to_the_account_page(client, user_factory):
    """One's own password is changed with the current one (the account page), never through
    the admin's form (tests/security/test_review_followups.py)."""
    admin = user_factory(superuser=True)
    client.force_login(admin)
    assert client.get(reverse("admin:index")).status_code == 200  # adopts a UserSession
    response = client.post(
        reverse("admin:auth_user_password_change", args=[admin.pk]),
        {"password1": NEW_PASSWORD, "password2": NEW_PASSWORD, "usable_password": "true"},
    )
    assert response.status_code == 302
    assert response["Location"] == reverse("accounts:password_change")
    assert not User.objects.get(pk=admin.pk).check_password(NEW_PASSWORD)
