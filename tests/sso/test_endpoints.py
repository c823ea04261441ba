"""Userinfo, introspection, discovery, consent, restricted applications, prompt, end-session."""

from __future__ import annotations

import logging

import pytest
from django.urls import reverse

from accounts.models import Channel, UserSession
from sso import services
from sso.models import Consent
from tests.sso.conftest import (
    LOGOUT_URI,
    REDIRECT_URI,
    authorize,
    authorize_page,
    basic,
    pkce_pair,
    query,
    register,
    sign_in,
)

pytestmark = pytest.mark.django_db


def _userinfo(client, access_token: str):
    return client.get(
        reverse("oauth2_provider:user-info"), HTTP_AUTHORIZATION=f"Bearer {access_token}"
    )


def test_userinfo_answers_claims_by_scope(client, rp, user):
    user.profile.phone_number = "+44 20 7946 0000"
    user.profile.save()
    tokens = sign_in(client, rp, user, scope="openid email phone roles")
    claims = _userinfo(client, tokens["access_token"]).json()
    assert claims["sub"] == str(user.public_id)
    assert claims["email"] == user.email
    assert claims["email_verified"] is True
    assert claims["phone_number"] == "+44 20 7946 0000"
    assert claims["roles"] == []
    assert "name" not in claims  # no profile scope


def test_userinfo_refuses_a_token_in_the_query(client, rp, user):
    tokens = sign_in(client, rp, user)
    response = client.get(
        reverse("oauth2_provider:user-info"), {"access_token": tokens["access_token"]}
    )
    assert response.status_code == 401


def _introspect(client, rp, token: str):
    return client.post(
        reverse("oauth2_provider:introspect"),
        {"token": token},
        HTTP_AUTHORIZATION=basic(rp.client_id, rp.secret),
    )


def test_introspection_by_the_token_client(client, rp, user):
    tokens = sign_in(client, rp, user)
    data = _introspect(client, rp, tokens["access_token"]).json()
    assert data["active"] is True
    assert data["aud"] == rp.client_id
    assert data["sub"] == str(user.public_id)
    assert data["scope"] == "openid profile email"


def test_a_token_for_one_application_is_refused_by_another(client, rp, owner, user):
    tokens = sign_in(client, rp, user)
    other = register(owner)
    assert _introspect(client, other, tokens["access_token"]).json() == {"active": False}


def test_introspection_needs_client_authentication(client, rp, user):
    tokens = sign_in(client, rp, user)
    response = client.post(reverse("oauth2_provider:introspect"), {"token": tokens["access_token"]})
    assert response.status_code == 401
    assert response.json()["error"] == "invalid_client"
    rp.secret = "wrong"
    assert _introspect(client, rp, tokens["access_token"]).status_code == 401


def test_discovery_lists_only_what_works(client):
    data = client.get("/.well-known/openid-configuration").json()
    assert data["issuer"] == "http://127.0.0.1:8000"
    assert data["jwks_uri"] == "http://127.0.0.1:8000/.well-known/jwks.json"
    assert data["code_challenge_methods_supported"] == ["S256"]
    assert data["response_types_supported"] == ["code"]
    assert "implicit" not in data["grant_types_supported"]
    assert "password" not in data["grant_types_supported"]
    assert data["end_session_endpoint"].endswith("/o/end-session/")
    metadata = client.get("/.well-known/oauth-authorization-server").json()
    assert metadata["issuer"] == data["issuer"]
    assert "userinfo_endpoint" not in metadata


def test_consent_is_remembered_until_the_scopes_grow(client, rp, user):
    sign_in(client, rp, user)
    _, challenge = pkce_pair()
    again = authorize_page(client, rp.client_id, challenge=challenge, scope="openid email")
    assert again.status_code == 302
    assert "code=" in again["Location"]
    grown = authorize(client, rp, challenge=challenge, scope="openid phone", allow=False)
    assert query(grown)["error"] == "access_denied"
    assert Consent.objects.get(user=user, application=rp.app).scope == "email openid profile"


def test_consent_page_shows_the_application_and_plain_words(client, rp, user):
    client.force_login(user)
    _, challenge = pkce_pair()
    response = authorize_page(
        client, rp.client_id, challenge=challenge, scope="openid email", state="s"
    )
    assert response.status_code == 200
    assert rp.app.name.encode() in response.content
    assert b"See your email address" in response.content


def test_deny_returns_access_denied_with_state(client, rp, user):
    client.force_login(user)
    _, challenge = pkce_pair()
    response = authorize(client, rp, challenge=challenge, allow=False)
    assert query(response)["error"] == "access_denied"
    assert query(response)["state"] == "st-123"


def test_first_party_application_skips_consent(client, rp, user):
    services.application_first_party_set(application=rp.app, is_first_party=True)
    client.force_login(user)
    _, challenge = pkce_pair()
    response = authorize_page(client, rp.client_id, challenge=challenge, scope="openid")
    assert response.status_code == 302
    assert "code=" in response["Location"]


def test_restricted_application_refuses_non_members(client, owner, user):
    restricted = register(owner, restricted=True)
    client.force_login(user)
    _, challenge = pkce_pair()
    response = authorize(client, restricted, challenge=challenge)
    assert response.status_code == 403
    assert b"not available to your account" in response.content
    services.application_member_add(application=restricted.app, user=user)
    assert sign_in(client, restricted, user)["access_token"]


def test_anonymous_is_sent_to_the_portal_sign_in(client, rp):
    _, challenge = pkce_pair()
    response = authorize(client, rp, challenge=challenge)
    assert response.status_code == 302
    assert response["Location"].startswith(reverse("accounts:login") + "?next=")


def test_prompt_none_is_no_open_redirect(client, rp):
    """django-oauth-toolkit #1719: an unregistered redirect_uri is never followed."""
    response = client.get(
        reverse("oauth2_provider:authorize"),
        {
            "response_type": "code",
            "client_id": rp.client_id,
            "redirect_uri": "https://evil.example.net/",
            "scope": "openid",
            "prompt": "none",
        },
    )
    assert not response.get("Location", "").startswith("https://evil.example.net")
    nobody = client.get(
        reverse("oauth2_provider:authorize"),
        {"redirect_uri": "https://evil.example.net/", "prompt": "none", "scope": "openid"},
    )
    assert not nobody.get("Location", "").startswith("https://evil.example.net")


def test_prompt_none_without_session_is_login_required(client, rp):
    _, challenge = pkce_pair()
    response = authorize(client, rp, challenge=challenge, prompt="none")
    assert response["Location"].startswith(REDIRECT_URI)
    assert query(response)["error"] == "login_required"


def test_prompt_none_without_consent_is_consent_required(client, rp, user):
    client.force_login(user)
    _, challenge = pkce_pair()
    response = authorize(client, rp, challenge=challenge, prompt="none")
    assert query(response)["error"] == "consent_required"


def test_end_session_ends_the_browser_sign_ins(client, rp, user):
    client.post(
        reverse("accounts:login"), {"username": user.username, "password": user.raw_password}
    )
    tokens = sign_in(client, rp, user)
    response = client.get(
        reverse("oauth2_provider:rp-initiated-logout"),
        {
            "id_token_hint": tokens["id_token"],
            "post_logout_redirect_uri": LOGOUT_URI,
            "state": "bye",
        },
    )
    assert response.status_code == 302
    assert response["Location"] == f"{LOGOUT_URI}?state=bye"
    assert _userinfo(client, tokens["access_token"]).status_code == 401
    assert not UserSession.objects.filter(user=user, revoked_at__isnull=True).exists()
    assert "_auth_user_id" not in client.session


def test_end_session_refuses_an_unregistered_post_logout_uri(client, rp, user):
    tokens = sign_in(client, rp, user)
    response = client.get(
        reverse("oauth2_provider:rp-initiated-logout"),
        {"id_token_hint": tokens["id_token"], "post_logout_redirect_uri": "https://evil.example/"},
    )
    assert response.status_code == 400
    assert "Location" not in response


def test_revoking_the_session_revokes_its_tokens(client, rp, user):
    from accounts.services.sessions import session_revoke

    tokens = sign_in(client, rp, user)
    assert _userinfo(client, tokens["access_token"]).status_code == 200  # now cached
    session = UserSession.objects.get(user=user, channel=Channel.OAUTH)
    session_revoke(session=session, reason="user")
    assert _userinfo(client, tokens["access_token"]).status_code == 401


def test_client_secret_never_reaches_logs_or_admin(client, rp, user, admin_client, caplog):
    caplog.set_level(logging.DEBUG)
    _verifier, _challenge = pkce_pair()
    client.post(
        reverse("oauth2_provider:token"),
        {
            "grant_type": "client_credentials",
            "client_id": rp.client_id,
            "client_secret": rp.secret + "x",
        },
    )
    assert rp.secret not in caplog.text
    page = admin_client.get(reverse("admin:sso_application_change", args=[rp.app.pk]))
    assert page.status_code == 200
    assert rp.secret.encode() not in page.content
    assert rp.app.client_secret.encode() not in page.content  # not even the hash
    assert b"client_secret" not in page.content
