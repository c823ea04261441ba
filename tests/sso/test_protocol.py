"""The authorization code flow with PKCE, and each way it must fail (standard errors)."""

from __future__ import annotations

import json
from datetime import timedelta

import pytest
from django.urls import reverse
from django.utils import timezone
from jwcrypto import jwk, jwt
from oauth2_provider.models import get_grant_model

from accounts.models import Channel, UserSession
from identity.keys import signing_keys
from tests.sso.conftest import (
    NATIVE_URI,
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


def _claims(id_token: str) -> dict:
    keys = jwk.JWKSet.from_json(json.dumps(signing_keys().jwks()))
    return json.loads(jwt.JWT(jwt=id_token, key=keys, algs=["RS256"]).claims)


def test_code_flow_issues_tokens_and_an_id_token(client, rp, user):
    client.force_login(user)
    verifier, challenge = pkce_pair()
    response = authorize(client, rp, challenge=challenge)
    assert response.status_code == 302
    params = query(response)
    assert params["state"] == "st-123"
    assert params["iss"] == "http://127.0.0.1:8000"  # RFC 9207
    tokens = exchange(client, rp, params["code"], verifier).json()
    assert tokens["token_type"] == "Bearer"
    assert tokens["expires_in"] == 900
    claims = _claims(tokens["id_token"])
    assert claims["sub"] == str(user.public_id)
    assert claims["aud"] == rp.client_id
    assert claims["nonce"] == "nonce-456"
    assert {"at_hash", "sid", "auth_time", "email", "preferred_username"} <= set(claims)
    session = UserSession.objects.get(pk=claims["sid"])
    assert session.channel == Channel.OAUTH
    assert session.user == user


def test_id_token_header_names_the_portal_key(client, rp, user):
    tokens = sign_in(client, rp, user)
    token = jwt.JWT()
    token.deserialize(tokens["id_token"])
    assert token.token.jose_header["alg"] == "RS256"
    assert token.token.jose_header["kid"] == signing_keys().active.kid


def test_missing_challenge_is_invalid_request(client, rp, user):
    client.force_login(user)
    response = authorize(client, rp, challenge=None, method=None)
    assert response.status_code == 302
    assert query(response)["error"] == "invalid_request"
    assert "challenge" in query(response)["error_description"].lower()


def test_plain_challenge_is_refused(client, rp, user):
    client.force_login(user)
    verifier, _ = pkce_pair()
    response = authorize(client, rp, challenge=verifier, method="plain")
    params = query(response)
    assert params["error"] == "invalid_request"
    assert "S256" in params["error_description"]
    assert params["state"] == "st-123"


def test_challenge_without_method_is_refused(client, rp, user):
    client.force_login(user)
    _, challenge = pkce_pair()
    response = authorize(client, rp, challenge=challenge, method=None)
    assert query(response)["error"] == "invalid_request"


def _code(client, rp, user):
    client.force_login(user)
    verifier, challenge = pkce_pair()
    return verifier, query(authorize(client, rp, challenge=challenge))["code"]


def test_missing_verifier_is_invalid_request(client, rp, user):
    _, code = _code(client, rp, user)
    response = exchange(client, rp, code, None)
    assert response.status_code == 400
    assert response.json()["error"] == "invalid_request"
    assert "verifier" in response.json()["error_description"].lower()


def test_wrong_verifier_is_invalid_grant(client, rp, user):
    _, code = _code(client, rp, user)
    response = exchange(client, rp, code, pkce_pair()[0])
    assert response.status_code == 400
    assert response.json()["error"] == "invalid_grant"
    assert "code_verifier" in response.json()["error_description"]


def test_redirect_uri_mismatch_at_authorize_shows_a_page_not_a_redirect(client, rp, user):
    client.force_login(user)
    _, challenge = pkce_pair()
    response = authorize(client, rp, challenge=challenge, redirect_uri=REDIRECT_URI + "/x")
    assert response.status_code == 400
    assert b"invalid_request" in response.content or b"Mismatching" in response.content


def test_redirect_uri_mismatch_at_token_is_invalid_request(client, rp, user):
    verifier, code = _code(client, rp, user)
    response = exchange(client, rp, code, verifier, redirect_uri="https://rp.example.com/other")
    assert response.status_code == 400
    assert response.json()["error"] in {"invalid_request", "invalid_grant"}


def test_loopback_redirect_may_use_any_port(client, rp, user):
    client.force_login(user)
    _, challenge = pkce_pair()
    response = authorize(
        client, rp, challenge=challenge, redirect_uri=NATIVE_URI.replace("1/", "1:53127/")
    )
    assert response.status_code == 302
    assert response["Location"].startswith("http://127.0.0.1:53127/callback?code=")


def test_code_reuse_fails_and_revokes_what_it_issued(client, rp, user):
    verifier, code = _code(client, rp, user)
    first = exchange(client, rp, code, verifier).json()
    second = exchange(client, rp, code, verifier)
    assert second.status_code == 400
    assert second.json()["error"] == "invalid_grant"
    assert refresh(client, rp, first["refresh_token"]).json()["error"] == "invalid_grant"
    info = client.get(
        reverse("oauth2_provider:user-info"), HTTP_AUTHORIZATION=f"Bearer {first['access_token']}"
    )
    assert info.status_code == 401
    assert UserSession.objects.get(pk=_claims(first["id_token"])["sid"]).revoked_at is not None


def test_expired_code_is_invalid_grant(client, rp, user):
    verifier, code = _code(client, rp, user)
    get_grant_model().objects.filter(code=code).update(
        expires=timezone.now() - timedelta(seconds=1)
    )
    assert exchange(client, rp, code, verifier).json()["error"] == "invalid_grant"


def test_code_lives_sixty_seconds(client, rp, user):
    _, code = _code(client, rp, user)
    grant = get_grant_model().objects.get(code=code)
    assert timedelta(seconds=55) < grant.expires - timezone.now() <= timedelta(seconds=60)


def test_wrong_client_secret_is_invalid_client(client, rp, user):
    verifier, code = _code(client, rp, user)
    rp.secret = "not-the-secret"
    response = exchange(client, rp, code, verifier)
    assert response.status_code == 401
    assert response.json()["error"] == "invalid_client"


def test_code_of_another_client_is_invalid_grant(client, rp, owner, user):
    verifier, code = _code(client, rp, user)
    other = register(owner)
    assert exchange(client, other, code, verifier).json()["error"] == "invalid_grant"


def test_public_client_exchanges_with_pkce_only(client, public_rp, user):
    tokens = sign_in(client, public_rp, user)
    assert "refresh_token" in tokens


def test_refresh_rotates_and_reuse_revokes_the_family(client, rp, user):
    tokens = sign_in(client, rp, user)
    rotated = refresh(client, rp, tokens["refresh_token"]).json()
    assert rotated["refresh_token"] != tokens["refresh_token"]
    assert _claims(rotated["id_token"])["sid"] == _claims(tokens["id_token"])["sid"]
    replay = refresh(client, rp, tokens["refresh_token"])
    assert replay.status_code == 400
    assert replay.json()["error"] == "invalid_grant"
    # The family is dead: the newest refresh token and access token too.
    assert refresh(client, rp, rotated["refresh_token"]).json()["error"] == "invalid_grant"
    info = client.get(
        reverse("oauth2_provider:user-info"),
        HTTP_AUTHORIZATION=f"Bearer {rotated['access_token']}",
    )
    assert info.status_code == 401


def test_refreshed_id_token_is_signed_like_the_first(client, rp, user):
    """Same key, kid and audience as the code exchange's (OIDC Core §12.2: iss, sub, aud and
    auth_time unchanged), a new jti, and tokens of at least 256 bits."""
    tokens = sign_in(client, rp, user)
    rotated = refresh(client, rp, tokens["refresh_token"]).json()
    first, second = _claims(tokens["id_token"]), _claims(rotated["id_token"])
    for claim in ("iss", "sub", "aud", "auth_time", "sid", "email"):
        assert second[claim] == first[claim], claim
    assert second["aud"] == rp.client_id
    assert second["jti"] != first["jti"]
    header = jwt.JWT(jwt=rotated["id_token"]).token.jose_header
    assert header == {"alg": "RS256", "kid": signing_keys().active.kid, "typ": "JWT"}
    assert len(rotated["access_token"]) >= 43
    assert len(rotated["refresh_token"]) >= 43


def test_refresh_kills_the_previous_access_token(client, rp, user):
    tokens = sign_in(client, rp, user)
    auth = f"Bearer {tokens['access_token']}"
    assert (
        client.get(reverse("oauth2_provider:user-info"), HTTP_AUTHORIZATION=auth).status_code == 200
    )
    refresh(client, rp, tokens["refresh_token"])
    assert (
        client.get(reverse("oauth2_provider:user-info"), HTTP_AUTHORIZATION=auth).status_code == 401
    )


def test_refresh_token_of_another_client_is_refused(client, rp, owner, user):
    tokens = sign_in(client, rp, user)
    other = register(owner)
    assert refresh(client, other, tokens["refresh_token"]).json()["error"] == "invalid_grant"
    assert refresh(client, rp, tokens["refresh_token"]).status_code == 200


def test_refresh_token_expires(client, rp, user, settings):
    tokens = sign_in(client, rp, user)
    UserSession.objects.filter(user=user, channel=Channel.OAUTH).update(
        expires_at=timezone.now() - timedelta(seconds=1)
    )
    assert refresh(client, rp, tokens["refresh_token"]).json()["error"] == "invalid_grant"


def test_revoked_refresh_token_is_not_honoured_in_a_grace_period(client, rp, user):
    """django-oauth-toolkit #1816: a token revoked through /revoke/ must die at once."""
    tokens = sign_in(client, rp, user)
    response = client.post(
        reverse("oauth2_provider:revoke-token"),
        {"token": tokens["refresh_token"], "token_type_hint": "refresh_token"},
        HTTP_AUTHORIZATION=_basic(rp),
    )
    assert response.status_code == 200
    assert refresh(client, rp, tokens["refresh_token"]).json()["error"] == "invalid_grant"


def _basic(rp):
    from tests.sso.conftest import basic

    return basic(rp.client_id, rp.secret)


def test_one_client_cannot_revoke_another_clients_token(client, rp, owner, user):
    """django-oauth-toolkit #727."""
    tokens = sign_in(client, rp, user)
    other = register(owner)
    client.post(
        reverse("oauth2_provider:revoke-token"),
        {"token": tokens["access_token"]},
        HTTP_AUTHORIZATION=_basic(other),
    )
    info = client.get(
        reverse("oauth2_provider:user-info"), HTTP_AUTHORIZATION=f"Bearer {tokens['access_token']}"
    )
    assert info.status_code == 200


def test_revoking_the_access_token_ends_the_sign_in(client, rp, user):
    tokens = sign_in(client, rp, user)
    client.post(
        reverse("oauth2_provider:revoke-token"),
        {"token": tokens["access_token"]},
        HTTP_AUTHORIZATION=_basic(rp),
    )
    auth = f"Bearer {tokens['access_token']}"
    assert (
        client.get(reverse("oauth2_provider:user-info"), HTTP_AUTHORIZATION=auth).status_code == 401
    )
    assert refresh(client, rp, tokens["refresh_token"]).json()["error"] == "invalid_grant"


def test_implicit_and_password_grants_are_refused(client, rp, user):
    client.force_login(user)
    _, challenge = pkce_pair()
    response = authorize(client, rp, challenge=challenge, response_type="token")
    assert query(response)["error"] in {"unsupported_response_type", "unauthorized_client"}
    password = client.post(
        reverse("oauth2_provider:token"),
        {"grant_type": "password", "username": user.username, "password": user.raw_password},
        HTTP_AUTHORIZATION=_basic(rp),
    )
    assert password.status_code == 400
    assert password.json()["error"] in {"unauthorized_client", "unsupported_grant_type"}


def test_client_credentials_for_a_service(client, service_rp):
    response = client.post(
        reverse("oauth2_provider:token"),
        {"grant_type": "client_credentials", "scope": "read"},
        HTTP_AUTHORIZATION=_basic(service_rp),
    )
    assert response.status_code == 200, response.content
    assert "refresh_token" not in response.json()


def test_web_app_may_not_use_client_credentials(client, rp):
    response = client.post(
        reverse("oauth2_provider:token"),
        {"grant_type": "client_credentials"},
        HTTP_AUTHORIZATION=_basic(rp),
    )
    assert response.json()["error"] == "unauthorized_client"
