"""Sign-up, verification, sign-in and the token lifecycle over HTTP."""

from __future__ import annotations

import re
from datetime import timedelta

import jwt
import pytest
from django.conf import settings
from django.urls import reverse
from django.utils import timezone

from accounts.models import Channel, EmailDomainRule, LoginEvent, User, UserSession
from tests.api.conftest import assert_problem
from tests.factories import DEFAULT_PASSWORD, UserFactory

pytestmark = pytest.mark.django_db

NEW_PASSWORD = "another long secret 77"


def url(name: str) -> str:
    return reverse(f"api:accounts:{name}")


def link_token(body: str) -> str:
    return re.search(r"https?://\S+/([\w-]+)/\s", body).group(1)


def test_signup_creates_user_and_sends_verification(
    api, mailoutbox, django_capture_on_commit_callbacks
):
    body = {"username": "Newbie", "email": "NEWBIE@example.com", "password": NEW_PASSWORD}
    with django_capture_on_commit_callbacks(execute=True):
        response = api.post(reverse("api:sso:signup"), body, format="json")
    assert response.status_code == 201, response.content
    data = response.json()
    assert data["username"] == "Newbie"
    assert data["email"] == "newbie@example.com"
    assert data["email_verified"] is False
    assert "password" not in data
    assert mailoutbox[-1].to == ["newbie@example.com"]

    token = link_token(mailoutbox[-1].body)
    verified = api.post(url("verify_email"), {"token": token}, format="json")
    assert verified.json() == {"email": "newbie@example.com", "email_verified": True}
    assert_problem(
        api.post(url("verify_email"), {"token": token}, format="json"), 400, "invalid_token"
    )


def test_signup_refused_by_domain_rule(api):
    EmailDomainRule.objects.create(domain="blocked.example", action="block")
    body = {"username": "x", "email": "x@blocked.example", "password": NEW_PASSWORD}
    assert_problem(
        api.post(reverse("api:sso:signup"), body, format="json"), 403, "email_domain_not_allowed"
    )


def test_signup_duplicate_email(api, user):
    body = {"username": "other", "email": user.email.upper(), "password": NEW_PASSWORD}
    assert_problem(api.post(reverse("api:sso:signup"), body, format="json"), 409, "email_exists")


def test_resend_always_202(api, unverified_user, mailoutbox):
    first = api.post(url("verify_email_resend"), {"email": unverified_user.email}, format="json")
    second = api.post(url("verify_email_resend"), {"email": "nobody@example.com"}, format="json")
    assert first.status_code == second.status_code == 202
    assert first.json() == second.json()
    assert len(mailoutbox) == 1


def test_login_returns_tokens_and_id_token(user, api_tokens):
    data = api_tokens(user)
    assert data["token_type"] == "Bearer"
    assert data["expires_in"] == 300
    claims = jwt.decode(data["id_token"], options={"verify_signature": False})
    assert claims["aud"] == settings.PORTAL_URL
    assert claims["sub"] == str(user.public_id)
    assert claims["email"] == user.email
    assert claims["email_verified"] is True
    assert claims["preferred_username"] == user.username
    assert claims["name"]
    assert LoginEvent.objects.filter(user=user, channel=Channel.API, outcome="success").exists()


def test_login_by_email(api, user):
    body = {"login": user.email.upper(), "password": DEFAULT_PASSWORD}
    assert api.post(url("login"), body, format="json").status_code == 200


def test_login_wrong_password(api, user):
    body = {"login": user.username, "password": "wrong"}
    assert_problem(api.post(url("login"), body, format="json"), 401, "invalid_credentials")


def test_login_unverified(api, unverified_user):
    body = {"login": unverified_user.username, "password": DEFAULT_PASSWORD}
    assert_problem(api.post(url("login"), body, format="json"), 403, "email_not_verified")


def test_login_password_change_required_gives_no_tokens(api):
    user = UserFactory(needs_password_change=True)
    body = {"login": user.username, "password": DEFAULT_PASSWORD}
    problem = assert_problem(
        api.post(url("login"), body, format="json"), 403, "password_change_required"
    )
    assert "access_token" not in problem
    assert not UserSession.objects.filter(user=user).exists()


def test_confirm_account(api):
    user = UserFactory(needs_password_change=True)
    body = {"login": user.username, "old_password": DEFAULT_PASSWORD}
    same = api.post(
        url("confirm_account"), {**body, "new_password": DEFAULT_PASSWORD}, format="json"
    )
    assert_problem(same, 400, "password_not_changed")
    response = api.post(
        url("confirm_account"), {**body, "new_password": NEW_PASSWORD}, format="json"
    )
    assert response.status_code == 200, response.content
    assert {"access_token", "refresh_token", "id_token"} <= set(response.json())
    user.refresh_from_db()
    assert not user.must_change_password
    assert user.check_password(NEW_PASSWORD)


def test_login_query_budget(api, user, user_factory, django_assert_max_num_queries, api_tokens):
    # The role graph is shared by every user and stays cached; warm it with someone else's
    # sign-in so that this one counts what a user's first sign-in costs in steady state.
    api_tokens(user_factory())
    body = {"login": user.username, "password": DEFAULT_PASSWORD}
    with django_assert_max_num_queries(6):
        assert api.post(url("login"), body, format="json").status_code == 200


def test_me_with_token_loads_user_in_one_query(user_api, django_assert_num_queries):
    with django_assert_num_queries(1):
        assert user_api.get(url("me")).status_code == 200


# -- token lifecycle ---------------------------------------------------------------------------


def test_refresh_rotates_and_reuse_revokes_the_session(api, user, api_tokens):
    first = api_tokens(user)
    second = api.post(url("refresh"), {"refresh_token": first["refresh_token"]}, format="json")
    assert second.status_code == 200
    pair = second.json()
    assert pair["refresh_token"] != first["refresh_token"]
    assert pair["token_type"] == "Bearer"

    reuse = api.post(url("refresh"), {"refresh_token": first["refresh_token"]}, format="json")
    assert_problem(reuse, 401, "token_not_valid")
    # The whole sign-in is dead: the newest refresh token and the access token too.
    after = api.post(url("refresh"), {"refresh_token": pair["refresh_token"]}, format="json")
    assert_problem(after, 401, "token_not_valid")
    api.credentials(HTTP_AUTHORIZATION=f"Bearer {pair['access_token']}")
    assert_problem(api.get(url("token")), 401, "token_not_valid")


def test_logout_kills_refresh_and_access(api, user, api_tokens):
    tokens = api_tokens(user)
    api.credentials(HTTP_AUTHORIZATION=f"Bearer {tokens['access_token']}")
    info = api.get(url("token"))
    assert info.status_code == 200
    assert info.json()["active"] is True
    assert info.json()["sub"] == str(user.public_id)
    assert info.json()["sid"]
    assert info.json()["exp"]

    response = api.post(url("logout"), {"refresh_token": tokens["refresh_token"]}, format="json")
    assert response.status_code == 204
    assert_problem(api.get(url("token")), 401, "token_not_valid")
    assert_problem(api.get(url("me")), 401, "token_not_valid")
    again = api.post(url("refresh"), {"refresh_token": tokens["refresh_token"]}, format="json")
    assert_problem(again, 401, "token_not_valid")


def test_token_endpoint_needs_a_token(api):
    response = api.get(url("token"))
    assert_problem(response, 401, "token_not_valid")
    assert response["WWW-Authenticate"].startswith("Bearer")


def test_expired_access_token_is_401(api, user, settings, api_tokens):
    tokens = api_tokens(user)
    settings.SIMPLE_JWT = {
        **settings.SIMPLE_JWT,
        "ACCESS_TOKEN_LIFETIME": timedelta(seconds=-60),
        "LEEWAY": timedelta(0),
    }
    expired = api_tokens(user)["access_token"]
    api.credentials(HTTP_AUTHORIZATION=f"Bearer {expired}")
    assert_problem(api.get(url("token")), 401, "token_not_valid")
    assert_problem(api.get(url("me")), 401, "token_not_valid")
    api.credentials(HTTP_AUTHORIZATION=f"Bearer {tokens['access_token']}")
    assert api.get(url("token")).status_code == 200


def test_tokens_survive_key_rotation(api, user, api_tokens):
    from identity.keys import rotate_signing_key

    old = api_tokens(user)
    rotate_signing_key()
    new = api_tokens(user)
    old_kid = jwt.get_unverified_header(old["access_token"])["kid"]
    assert jwt.get_unverified_header(new["access_token"])["kid"] != old_kid
    for token in (old["access_token"], new["access_token"]):
        api.credentials(HTTP_AUTHORIZATION=f"Bearer {token}")
        assert api.get(url("me")).status_code == 200
    assert (
        api.post(url("refresh"), {"refresh_token": old["refresh_token"]}, format="json").status_code
        == 200
    )


def test_deactivated_user_tokens_fail(api, user, api_tokens):
    tokens = api_tokens(user)
    from accounts.services import user_deactivate

    user_deactivate(user=user)
    api.credentials(HTTP_AUTHORIZATION=f"Bearer {tokens['access_token']}")
    assert api.get(url("me")).status_code == 401
    assert timezone.now()  # keeps the import honest for DTZ


def test_user_model_untouched_by_bad_login(api, user):
    before = User.objects.get(pk=user.pk).password
    api.post(url("login"), {"login": user.username, "password": 7}, format="json")
    assert User.objects.get(pk=user.pk).password == before


def test_refresh_returns_an_id_token_like_the_login(api, user, profile_factory, api_tokens):
    """Issue 19: refresh answers access, refresh and id tokens (the seed contract)."""
    user.profile.first_name, user.profile.last_name = "Ada", "Lovelace"
    user.profile.save()
    first = api_tokens(user)
    response = api.post(url("refresh"), {"refresh_token": first["refresh_token"]}, format="json")
    assert response.status_code == 200, response.content
    body = response.json()
    assert {"access_token", "refresh_token", "id_token"} <= set(body)
    login_claims = jwt.decode(first["id_token"], options={"verify_signature": False})
    claims = jwt.decode(body["id_token"], options={"verify_signature": False})
    # The same claims builder as the login: only the times may differ.
    times = {"iat", "exp"}
    assert {k: v for k, v in claims.items() if k not in times} == {
        k: v for k, v in login_claims.items() if k not in times
    }
    assert claims["name"] == "Ada Lovelace"
    assert (
        claims["sid"]
        == jwt.decode(body["access_token"], options={"verify_signature": False})["sid"]
    )


def test_refresh_query_budget(api, user, django_assert_max_num_queries, api_tokens):
    """The id_token's claims (the profile's name) come with the session's row: no extra query."""
    body = {"refresh_token": api_tokens(user)["refresh_token"]}
    with django_assert_max_num_queries(2):
        response = api.post(url("refresh"), body, format="json")
    assert response.status_code == 200
