"""What a client application reads of how a sign-in was proven: ``amr``/``acr`` in the
first-party token response and in /api/v1/auth/token/, kept across refreshes."""

from __future__ import annotations

import jwt
import pytest
from django.urls import reverse

from accounts.services.sessions import session_proof_renew

pytestmark = pytest.mark.django_db


def _claims(token: str) -> dict:
    return jwt.decode(token, options={"verify_signature": False})


def test_token_info_shows_amr_and_acr_of_a_password_sign_in(user, api_tokens, bearer_client):
    tokens = api_tokens(user)
    info = bearer_client(tokens["access_token"]).get(reverse("api:accounts:token"))
    assert info.status_code == 200
    assert (info.json()["amr"], info.json()["acr"]) == (["pwd"], "pwd")
    id_claims = _claims(tokens["id_token"])
    assert (id_claims["amr"], id_claims["acr"]) == (["pwd"], "pwd")


def test_refreshed_token_keeps_its_sign_ins_proof(user, api, api_tokens, bearer_client):
    tokens = api_tokens(user)
    sid = _claims(tokens["access_token"])["sid"]
    session_proof_renew(session_id=sid, amr="otp")  # the sign-in proved the app since
    refreshed = api.post(
        reverse("api:accounts:refresh"), {"refresh_token": tokens["refresh_token"]}, format="json"
    )
    assert refreshed.status_code == 200, refreshed.content
    info = bearer_client(refreshed.json()["access_token"]).get(reverse("api:accounts:token"))
    assert (info.json()["amr"], info.json()["acr"]) == (["pwd", "otp", "mfa"], "mfa")
