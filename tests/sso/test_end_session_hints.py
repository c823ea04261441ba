"""RP-initiated logout ends a sign-in only from that user's own browser session; a foreign,
expired, first-party or malformed id_token_hint never signs anyone else out and never 500s."""

from __future__ import annotations

import time

import jwt as pyjwt
import pytest
from django.test import Client
from django.urls import reverse

from accounts.models import Channel, UserSession
from identity.keys import signing_keys
from tests.sso.conftest import LOGOUT_URI, sign_in

pytestmark = pytest.mark.django_db

END_SESSION = "oauth2_provider:rp-initiated-logout"


def _victim_signed_in(rp, victim) -> dict:
    return sign_in(Client(), rp, victim)


def _live(user) -> bool:
    return UserSession.objects.filter(
        user=user, channel=Channel.OAUTH, revoked_at__isnull=True
    ).exists()


def _expired(id_token: str) -> str:
    """The same id_token (same jti, so DOT finds its row) with ``exp`` an hour ago."""
    claims = pyjwt.decode(id_token, options={"verify_signature": False})
    claims["exp"] = int(time.time()) - 3600
    key = signing_keys().active
    return pyjwt.encode(claims, key.private_key, algorithm="RS256", headers={"kid": key.kid})


@pytest.mark.parametrize("expired", [False, True])
def test_anonymous_hint_does_not_end_the_users_sign_in(client, rp, user, expired):
    tokens = _victim_signed_in(rp, user)
    hint = _expired(tokens["id_token"]) if expired else tokens["id_token"]

    response = client.get(reverse(END_SESSION), {"id_token_hint": hint})

    assert response.status_code < 500
    assert _live(user)


def test_another_users_hint_does_not_end_their_sign_in_even_when_confirmed(
    client, rp, user, user_factory
):
    tokens = _victim_signed_in(rp, user)
    attacker = user_factory()
    client.force_login(attacker)
    params = {"id_token_hint": tokens["id_token"], "post_logout_redirect_uri": LOGOUT_URI}

    page = client.get(reverse(END_SESSION), params)
    assert page.status_code == 200  # the OP asks (RP-Initiated Logout 1.0 §2): not the same user
    client.post(reverse(END_SESSION), {**params, "allow": "Logout"})

    assert _live(user)


def test_own_expired_hint_from_own_browser_ends_the_sign_in(client, rp, user):
    tokens = sign_in(client, rp, user)

    response = client.get(
        reverse(END_SESSION),
        {"id_token_hint": _expired(tokens["id_token"]), "post_logout_redirect_uri": LOGOUT_URI},
    )

    assert response.status_code == 302
    assert response["Location"] == LOGOUT_URI
    assert not _live(user)


def test_first_party_id_token_as_hint_is_a_clean_400(rp, user, api_tokens):
    _victim_signed_in(rp, user)
    first_party = api_tokens(user, user.raw_password)["id_token"]

    response = Client().get(reverse(END_SESSION), {"id_token_hint": first_party})

    assert response.status_code == 400
    assert UserSession.objects.get(user=user, channel=Channel.API).revoked_at is None
    assert _live(user)


@pytest.mark.parametrize(
    "hint",
    [
        "not-a-jwt",
        "a.b.c",
        pyjwt.encode({"iss": "x", "jti": "not-a-uuid"}, "k" * 32, algorithm="HS256"),
    ],
)
def test_malformed_hint_is_a_clean_400(client, user, hint):
    client.force_login(user)
    response = client.get(reverse(END_SESSION), {"id_token_hint": hint})
    assert response.status_code == 400
    assert b"cannot be completed" in response.content


def test_signed_jwt_with_a_foreign_jti_is_a_clean_400(client, user):
    key = signing_keys().active
    claims = {"iss": "http://testserver", "sub": str(user.public_id), "jti": "not-a-uuid"}
    hint = pyjwt.encode(claims, key.private_key, algorithm="RS256", headers={"kid": key.kid})
    response = Client().get(reverse(END_SESSION), {"id_token_hint": hint})
    assert response.status_code == 400
