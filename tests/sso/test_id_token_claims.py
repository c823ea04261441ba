"""One claims builder: the first-party login's id_token, the OIDC id_token and userinfo carry
the same user claims for the same scopes; only the protocol claims differ by issuer."""

from __future__ import annotations

from pathlib import Path

import jwt
import pytest
from django.test import Client
from django.urls import reverse

from tests.factories import DEFAULT_PASSWORD
from tests.sso.conftest import register, sign_in

pytestmark = pytest.mark.django_db

# The scopes a first-party login's id_token stands for (accounts.claims.FIRST_PARTY_SCOPES).
SCOPES = "openid profile email"
# Claims about the token, not the user: each issuer sets its own (RFC 7519 §4.1, OIDC Core §2).
PROTOCOL_CLAIMS = {"iss", "aud", "azp", "iat", "exp", "jti", "auth_time", "sid", "nonce"}
PROTOCOL_CLAIMS |= {"at_hash", "c_hash"}  # OIDC Core §3.1.3.6, §3.3.2.11: hashes of the tokens
PROTOCOL_CLAIMS |= {"amr", "acr"}  # OIDC Core §2: how the sign-in was proven, not who signed in


def _decoded(token: str) -> dict:
    return jwt.decode(token, options={"verify_signature": False})


def _user_claims(claims: dict) -> dict:
    return {name: value for name, value in claims.items() if name not in PROTOCOL_CLAIMS}


@pytest.fixture
def ada(user):
    user.profile.first_name, user.profile.last_name = "Ada", "Lovelace"
    user.profile.phone_number, user.profile.address = "+44 20 7946 0000", "12 St James's Sq"
    user.profile.save()
    return user


def test_first_party_and_oidc_id_tokens_and_userinfo_carry_the_same_user_claims(ada, user_factory):
    first_party = Client().post(
        reverse("api:accounts:login"),
        {"login": ada.username, "password": DEFAULT_PASSWORD},
        content_type="application/json",
    )
    assert first_party.status_code == 200, first_party.content
    oidc = sign_in(Client(), register(user_factory()), ada, scope=SCOPES)
    userinfo = Client().get(
        reverse("oauth2_provider:user-info"), HTTP_AUTHORIZATION=f"Bearer {oidc['access_token']}"
    )

    first_party_claims = _user_claims(_decoded(first_party.json()["id_token"]))
    assert first_party_claims == _user_claims(_decoded(oidc["id_token"]))
    assert first_party_claims == userinfo.json()
    assert first_party_claims == {
        "sub": str(ada.public_id),
        "name": "Ada Lovelace",
        "given_name": "Ada",
        "family_name": "Lovelace",
        "preferred_username": ada.username,
        "updated_at": first_party_claims["updated_at"],
        "email": ada.email,
        "email_verified": True,
    }
    assert isinstance(first_party_claims["updated_at"], int)


def test_only_accounts_claims_builds_user_claims():
    """Every issuer calls accounts.claims.user_claims: no second builder names the claims."""
    root = Path(__file__).resolve().parents[2]
    builders = {
        str(path.relative_to(root))
        for app in ("identity", "authz", "accounts", "sso")
        for path in (root / app).rglob("*.py")
        if "migrations" not in path.parts
        and any(f'"{claim}"' in path.read_text() for claim in ("preferred_username", "given_name"))
    }
    assert builders == {"accounts/claims.py"}
