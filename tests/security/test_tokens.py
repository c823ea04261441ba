"""Forged, expired, foreign and misused tokens are refused at the HTTP endpoints
(ASVS 4.0.3 V3.5.3, V3.5.2, V13.1.x / 5.0 V9.1.1-V9.2.3, V10.3.x)."""

from __future__ import annotations

import base64
import hashlib
import hmac
import json
import time

import jwt
import pytest
from cryptography.hazmat.primitives import serialization
from cryptography.hazmat.primitives.asymmetric import rsa
from django.test import Client
from django.urls import reverse
from rest_framework.test import APIClient

from identity.keys import signing_keys
from tests.sso.conftest import basic, sign_in

pytestmark = pytest.mark.django_db

PROTECTED = ["api:accounts:me", "api:accounts:token"]


def b64(data: bytes) -> str:
    return base64.urlsafe_b64encode(data).rstrip(b"=").decode()


def claims_of(token: str) -> dict:
    return jwt.decode(token, options={"verify_signature": False})


def sign(claims: dict, *, key=None, kid: str | None = None) -> str:
    active = signing_keys().active
    return jwt.encode(
        claims,
        key or active.private_key,
        algorithm="RS256",
        headers={"kid": kid or active.kid},
    )


def unsigned(claims: dict, header: dict) -> str:
    return f"{b64(json.dumps(header).encode())}.{b64(json.dumps(claims).encode())}"


def hs256_with_public_key(claims: dict) -> str:
    """The classic key-confusion forgery (RFC 8725 §2.1): HMAC keyed with the public PEM."""
    active = signing_keys().active
    pem = active.public_key.public_bytes(
        serialization.Encoding.PEM, serialization.PublicFormat.SubjectPublicKeyInfo
    )
    head = unsigned(claims, {"alg": "HS256", "typ": "JWT", "kid": active.kid})
    mac = hmac.new(pem, head.encode(), hashlib.sha256).digest()
    return f"{head}.{b64(mac)}"


def tampered(token: str, **changes) -> str:
    header, _, signature = token.split(".")
    claims = {**claims_of(token), **changes}
    return f"{header}.{b64(json.dumps(claims).encode())}.{signature}"


@pytest.fixture
def issued(user, api_tokens) -> dict:
    return api_tokens(user)


def forgeries(issued: dict) -> dict[str, str]:
    access = issued["access_token"]
    claims = claims_of(access)
    now = int(time.time())
    stranger = rsa.generate_private_key(public_exponent=65537, key_size=2048)
    return {
        "alg_none": unsigned(
            claims, {"alg": "none", "typ": "JWT", "kid": signing_keys().active.kid}
        )
        + ".",
        "alg_none_no_dot": unsigned(claims, {"alg": "none", "typ": "JWT"}),
        "hs256_public_key": hs256_with_public_key(claims),
        "unknown_kid": sign(claims, kid="not-a-portal-key"),
        "stranger_key_real_kid": sign(claims, key=stranger),
        "expired": sign({**claims, "iat": now - 3600, "exp": now - 600}),
        "other_issuer": sign({**claims, "iss": "https://evil.example"}),
        "other_audience": sign({**claims, "aud": "another-client"}),
        "refresh_as_access": issued["refresh_token"],
        "id_token_as_access": issued["id_token"],
        "tampered_sub": tampered(access, sub="00000000-0000-0000-0000-000000000000"),
        "tampered_roles": tampered(access, roles=["admin"]),
        "no_sid": sign({k: v for k, v in claims.items() if k != "sid"}),
        "garbage": "abc.def.ghi",
    }


FORGERIES = [
    "alg_none",
    "alg_none_no_dot",
    "hs256_public_key",
    "unknown_kid",
    "stranger_key_real_kid",
    "expired",
    "other_issuer",
    "other_audience",
    "refresh_as_access",
    "id_token_as_access",
    "tampered_sub",
    "tampered_roles",
    "no_sid",
    "garbage",
]


def test_the_genuine_access_token_is_accepted(issued, bearer_client):
    for url_name in PROTECTED:
        assert bearer_client(issued["access_token"]).get(reverse(url_name)).status_code == 200


@pytest.mark.parametrize("url_name", PROTECTED)
@pytest.mark.parametrize("forgery", FORGERIES)
def test_forged_or_misused_first_party_token_is_refused(issued, forgery, url_name, bearer_client):
    response = bearer_client(forgeries(issued)[forgery]).get(reverse(url_name))
    assert response.status_code == 401, (forgery, response.content)
    assert response.json()["code"] == "token_not_valid"


def test_access_token_is_not_a_refresh_token(issued):
    response = APIClient().post(
        reverse("api:accounts:refresh"), {"refresh_token": issued["access_token"]}, format="json"
    )
    assert response.status_code == 401


def test_revoked_sign_in_access_token_is_refused(issued, bearer_client):
    APIClient().post(
        reverse("api:accounts:logout"), {"refresh_token": issued["refresh_token"]}, format="json"
    )
    assert bearer_client(issued["access_token"]).get(reverse("api:accounts:me")).status_code == 401


# -- OAuth 2.0 / OIDC side ---------------------------------------------------------------------


def _userinfo(token: str):
    return Client().get(reverse("oauth2_provider:user-info"), HTTP_AUTHORIZATION=f"Bearer {token}")


def _introspect(rp, token: str):
    return Client().post(
        reverse("oauth2_provider:introspect"),
        {"token": token},
        HTTP_AUTHORIZATION=basic(rp.client_id, rp.secret),
    )


def test_userinfo_refuses_id_tokens_first_party_tokens_and_garbage(client, rp, user, issued):
    tokens = sign_in(client, rp, user)
    assert _userinfo(tokens["access_token"]).status_code == 200
    for token in (tokens["id_token"], issued["access_token"], tokens["refresh_token"], "x" * 30):
        response = _userinfo(token)
        assert response.status_code == 401
        assert 'error="invalid_token"' in response["WWW-Authenticate"]


def test_introspection_reports_another_clients_token_inactive(client, rp, other_rp, user):
    tokens = sign_in(client, rp, user)
    assert _introspect(rp, tokens["access_token"]).json()["active"] is True
    assert _introspect(rp, tokens["access_token"]).json()["aud"] == rp.client_id
    assert _introspect(other_rp, tokens["access_token"]).json() == {"active": False}
    for token in (tokens["id_token"], tokens["refresh_token"], "forged-token-value"):
        assert _introspect(rp, token).json() == {"active": False}


def test_introspection_needs_the_clients_own_secret(client, rp, other_rp, user):
    tokens = sign_in(client, rp, user)
    response = Client().post(
        reverse("oauth2_provider:introspect"),
        {"token": tokens["access_token"]},
        HTTP_AUTHORIZATION=basic(rp.client_id, other_rp.secret),
    )
    assert response.status_code == 401


def test_oauth_id_token_is_not_an_api_access_token(client, rp, user, bearer_client):
    tokens = sign_in(client, rp, user, scope="openid read")
    assert bearer_client(tokens["access_token"]).get(reverse("api:accounts:me")).status_code == 200
    assert bearer_client(tokens["id_token"]).get(reverse("api:accounts:me")).status_code == 401


def test_oauth_id_token_is_signed_for_its_client_only(client, rp, user):
    tokens = sign_in(client, rp, user)
    claims = claims_of(tokens["id_token"])
    assert claims["aud"] == rp.client_id
    assert jwt.get_unverified_header(tokens["id_token"])["alg"] == "RS256"
