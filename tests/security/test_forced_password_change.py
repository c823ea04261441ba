"""The forced password change (``must_change_password``) holds on every channel (issue 16,
item 7): the pages, the REST API with the session cookie, first-party tokens, OAuth
/o/authorize and refresh tokens, first-party and OAuth. Setting the flag ends the user's other
sign-ins; until the password is changed every channel refuses."""

from __future__ import annotations

from urllib.parse import urlencode

import pytest
from django.test import Client
from django.urls import reverse
from rest_framework.test import APIClient

from accounts import services
from accounts.models import User, UserSession
from tests.api.conftest import assert_problem
from tests.factories import DEFAULT_PASSWORD, UserFactory
from tests.sso.conftest import (
    REDIRECT_URI,
    authorize,
    exchange,
    pkce_pair,
    query,
    refresh,
    register,
    sign_in,
)

pytestmark = pytest.mark.django_db

NEW_PASSWORD = "a brand new passphrase 7"


def url(name: str) -> str:
    return reverse(f"api:accounts:{name}")


def _flag_by_plain_save(user: User) -> None:
    """The flag set by a path that is not the service (the admin change form saves the row):
    the channels' own check must still hold."""
    user.must_change_password = True
    user.save(update_fields=["must_change_password", "updated_at"])


def _browser(user: User) -> Client:
    """A browser signed in through the sign-in page (it lets a flagged user in, to the
    password-change page only)."""
    client = Client()
    response = client.post(
        reverse("accounts:login"), {"username": user.username, "password": DEFAULT_PASSWORD}
    )
    assert response.status_code == 302, response.content
    return client


# -- the REST API -----------------------------------------------------------------------------


def test_api_with_the_session_cookie_is_refused_until_the_password_is_changed():
    user = UserFactory(needs_password_change=True)
    browser = _browser(user)
    assert_problem(browser.get(url("me")), 403, "password_change_required")
    assert_problem(browser.get(url("me_sessions")), 403, "password_change_required")

    confirm = browser.post(
        reverse("accounts:confirm_account"),
        {"new_password": NEW_PASSWORD, "new_password_confirm": NEW_PASSWORD},
    )
    assert confirm.status_code == 302
    assert browser.get(url("me")).status_code == 200


def test_setting_the_flag_ends_every_other_sign_in(api_tokens, bearer_client):
    user = UserFactory()
    tokens = api_tokens(user)
    browser = _browser(user)
    rp = register(UserFactory(), allowed_scopes="openid profile email read write")
    oauth = sign_in(Client(), rp, user, scope="openid read")

    services.user_require_password_change(user=user)

    assert not UserSession.objects.filter(user=user, revoked_at__isnull=True).exists()
    assert bearer_client(tokens["access_token"]).get(url("me")).status_code == 401
    refused = APIClient().post(
        url("refresh"), {"refresh_token": tokens["refresh_token"]}, format="json"
    )
    assert refused.status_code in {401, 403}
    assert bearer_client(oauth["access_token"]).get(url("me")).status_code == 401
    assert refresh(Client(), rp, oauth["refresh_token"]).status_code == 400
    assert browser.get(url("me")).status_code == 401  # signed out: no session user


def test_admin_api_setting_the_flag_ends_the_users_sign_ins(admin_user, api_tokens, bearer_client):
    user = UserFactory()
    tokens = api_tokens(user)
    admin = bearer_client(api_tokens(admin_user)["access_token"])
    response = admin.patch(
        reverse("api:accounts:user", args=[user.public_id]),
        {"must_change_password": True},
        format="json",
    )
    assert response.status_code == 200, response.content
    assert bearer_client(tokens["access_token"]).get(url("me")).status_code == 401


def test_first_party_tokens_issued_before_the_flag_stop_working(api_tokens, bearer_client):
    user = UserFactory()
    tokens = api_tokens(user)
    _flag_by_plain_save(user)

    assert_problem(
        bearer_client(tokens["access_token"]).get(url("me")), 403, "password_change_required"
    )
    refused = APIClient().post(
        url("refresh"), {"refresh_token": tokens["refresh_token"]}, format="json"
    )
    assert_problem(refused, 403, "password_change_required")
    # Changing the password does not bring the old sign-in back.
    confirm = APIClient().post(
        url("confirm_account"),
        {"login": user.username, "old_password": DEFAULT_PASSWORD, "new_password": NEW_PASSWORD},
        format="json",
    )
    assert confirm.status_code == 200, confirm.content
    again = APIClient().post(
        url("refresh"), {"refresh_token": tokens["refresh_token"]}, format="json"
    )
    assert again.status_code == 401
    assert bearer_client(confirm.json()["access_token"]).get(url("me")).status_code == 200


# -- OAuth ------------------------------------------------------------------------------------


def test_oauth_tokens_issued_before_the_flag_stop_working(bearer_client):
    user = UserFactory()
    rp = register(UserFactory(), allowed_scopes="openid profile email read write")
    tokens = sign_in(Client(), rp, user, scope="openid read")
    _flag_by_plain_save(user)

    assert refresh(Client(), rp, tokens["refresh_token"]).json()["error"] == "invalid_grant"
    api_answer = bearer_client(tokens["access_token"]).get(url("me"))
    assert api_answer.status_code in {401, 403}
    userinfo = bearer_client(tokens["access_token"]).get(reverse("oauth2_provider:user-info"))
    assert userinfo.status_code == 401


def test_authorize_sends_a_flagged_user_to_change_the_password_first_then_continues():
    owner = UserFactory()
    rp = register(owner)
    user = UserFactory(needs_password_change=True)
    browser = _browser(user)
    verifier, challenge = pkce_pair()

    detour = authorize(browser, rp, challenge=challenge)
    assert detour.status_code == 302
    assert detour["Location"].startswith(reverse("accounts:confirm_account") + "?")
    assert "code=" not in detour["Location"]
    back_to = query(detour)["next"]
    assert back_to.startswith(reverse("oauth2_provider:authorize") + "?")

    confirm = browser.post(
        detour["Location"],
        {"new_password": NEW_PASSWORD, "new_password_confirm": NEW_PASSWORD, "next": back_to},
    )
    assert confirm.status_code == 302
    assert confirm["Location"] == back_to
    consent = browser.get(back_to)
    assert consent.status_code == 200  # the consent page of the same request
    form = {k: v for k, v in consent.context["form"].initial.items() if v is not None}
    approved = browser.post(reverse("oauth2_provider:authorize"), {**form, "allow": "Authorize"})
    assert approved["Location"].startswith(REDIRECT_URI)
    assert exchange(Client(), rp, query(approved)["code"], verifier).status_code == 200


def test_authorize_url_keeps_its_query_through_the_detour():
    rp = register(UserFactory())
    user = UserFactory(needs_password_change=True)
    browser = _browser(user)
    params = {"response_type": "code", "client_id": rp.client_id, "redirect_uri": REDIRECT_URI}
    response = browser.get(f"{reverse('oauth2_provider:authorize')}?{urlencode(params)}")
    assert response.status_code == 302
    assert query(response)["next"] == f"{reverse('oauth2_provider:authorize')}?{urlencode(params)}"


def test_the_admin_action_ends_every_sign_in(admin_user, api_tokens, bearer_client):
    user = UserFactory()
    tokens = api_tokens(user)
    admin = Client()
    admin.force_login(admin_user)
    response = admin.post(
        reverse("admin:accounts_user_changelist"),
        {"action": "require_password_change", "_selected_action": [user.pk]},
    )
    assert response.status_code == 302
    assert bearer_client(tokens["access_token"]).get(url("me")).status_code == 401
    refused = APIClient().post(
        url("refresh"), {"refresh_token": tokens["refresh_token"]}, format="json"
    )
    assert refused.status_code in {401, 403}
