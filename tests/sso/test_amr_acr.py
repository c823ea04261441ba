"""How a sign-in was proven, for OAuth clients: ``amr``/``acr`` in id_tokens (RFC 8176, OIDC
Core §2), ``acr_values_supported`` in discovery, and the step-up ``acr_values`` asks for."""

from __future__ import annotations

import secrets
from datetime import timedelta
from urllib.parse import parse_qs, urlsplit

import jwt as pyjwt
import pytest
from django.urls import reverse
from django.utils import timezone

from accounts.models import Channel, Passkey, User, UserSession
from accounts.services.mfa import user_mfa_refresh
from accounts.services.sessions import session_proof_renew
from sso import services
from tests.sso.conftest import REDIRECT_URI, authorize_url, exchange, pkce_pair, query, refresh

pytestmark = pytest.mark.django_db


@pytest.fixture
def first_party(rp):
    services.application_first_party_set(application=rp.app, is_first_party=True)
    return rp


def _browser_session(client, user: User) -> UserSession:
    client.force_login(user)
    client.get(reverse("accounts:profile"))  # the middleware records the browser sign-in
    return UserSession.objects.get(user=user, channel=Channel.BROWSER, revoked_at=None)


def _passkey_add(user: User) -> Passkey:
    passkey = Passkey.objects.create(
        user=user,
        name="Laptop",
        credential_id=secrets.token_urlsafe(32),
        public_key=b"\xa5",
        backup_eligible=False,
    )
    user_mfa_refresh(user=user)
    return passkey


def _claims(tokens: dict) -> dict:
    return pyjwt.decode(tokens["id_token"], options={"verify_signature": False})


def _code_flow(client, rp, **extra: str) -> dict:
    """The authorization request (answered at once: first party, signed in) and the exchange."""
    verifier, challenge = pkce_pair()
    response = client.get(
        authorize_url(rp.client_id, challenge=challenge, state="st", nonce="n", **extra)
    )
    assert response.status_code == 302
    assert response["Location"].startswith(REDIRECT_URI), response["Location"]
    tokens = exchange(client, rp, query(response)["code"], verifier)
    assert tokens.status_code == 200, tokens.content
    return tokens.json()


# -- claims -----------------------------------------------------------------------------------
def test_id_token_of_a_password_sign_in_says_pwd(client, first_party, user):
    _browser_session(client, user)
    claims = _claims(_code_flow(client, first_party))
    assert claims["amr"] == ["pwd"]
    assert claims["acr"] == "pwd"
    assert isinstance(claims["auth_time"], int)


def test_id_token_of_a_password_and_app_sign_in_says_mfa(client, first_party, totp_user):
    user, _app = totp_user
    browser = _browser_session(client, user)
    session_proof_renew(session_id=str(browser.pk), amr="otp")
    tokens = _code_flow(client, first_party)
    claims = _claims(tokens)
    assert claims["amr"] == ["pwd", "otp", "mfa"]
    assert claims["acr"] == "mfa"
    # The OAuth sign-in is recorded with what the browser proved: the sessions page says so.
    oauth = UserSession.objects.get(pk=claims["sid"], channel=Channel.OAUTH)
    assert oauth.amr == "pwd otp"


def test_refreshed_id_token_keeps_the_sign_ins_amr_and_acr(client, first_party, totp_user):
    user, _app = totp_user
    browser = _browser_session(client, user)
    session_proof_renew(session_id=str(browser.pk), amr="otp")
    tokens = _code_flow(client, first_party)
    refreshed = refresh(client, first_party, tokens["refresh_token"])
    assert refreshed.status_code == 200, refreshed.content
    claims = _claims(refreshed.json())
    assert (claims["amr"], claims["acr"]) == (["pwd", "otp", "mfa"], "mfa")


def test_discovery_advertises_acr_values_and_the_proof_claims(client):
    data = client.get(reverse("openid_configuration")).json()
    assert data["acr_values_supported"] == ["pwd", "mfa", "phr"]
    assert {"amr", "acr", "auth_time"} <= set(data["claims_supported"])


# -- step-up ----------------------------------------------------------------------------------
@pytest.mark.parametrize("asked", ["mfa", "phr", "unknown phr", "mfa phr"])
def test_step_up_sends_a_weaker_sign_in_to_prove_the_missing_factor(
    client, first_party, totp_user, asked
):
    user, _app = totp_user
    _passkey_add(user)
    _browser_session(client, user)
    _, challenge = pkce_pair()
    url = authorize_url(
        first_party.client_id, challenge=challenge, state="st", nonce="n", acr_values=asked
    )
    response = client.get(url)
    assert response.status_code == 302
    target = urlsplit(response["Location"])
    assert target.path == reverse("accounts:reauthenticate")
    params = {key: value[0] for key, value in parse_qs(target.query).items()}
    assert params == {"acr": asked.split()[-1], "next": url}


def test_step_up_done_issues_the_code_and_the_id_token_says_what_was_proven(
    client, first_party, user
):
    _passkey_add(user)
    browser = _browser_session(client, user)
    verifier, challenge = pkce_pair()
    url = authorize_url(
        first_party.client_id, challenge=challenge, state="st", nonce="n", acr_values="phr"
    )
    step_up = client.get(url)
    next_url = parse_qs(urlsplit(step_up["Location"]).query)["next"][0]
    # What the re-authentication page does once the passkey is verified:
    session_proof_renew(session_id=str(browser.pk), amr="hwk")
    response = client.get(next_url)
    assert response["Location"].startswith(REDIRECT_URI), response["Location"]
    tokens = exchange(client, first_party, query(response)["code"], verifier).json()
    claims = _claims(tokens)
    assert claims["acr"] == "phr"
    assert "hwk" in claims["amr"]
    assert "mfa" in claims["amr"]


def test_step_up_is_not_asked_of_a_sign_in_that_meets_it(client, first_party, totp_user):
    user, _app = totp_user
    browser = _browser_session(client, user)
    session_proof_renew(session_id=str(browser.pk), amr="otp")
    for asked in ("pwd", "mfa", "something-else"):
        assert _claims(_code_flow(client, first_party, acr_values=asked))["acr"] == "mfa"


def test_step_up_to_phr_for_a_user_without_a_passkey_is_refused_to_the_client(
    client, first_party, totp_user
):
    user, _app = totp_user
    _browser_session(client, user)
    _, challenge = pkce_pair()
    response = client.get(
        authorize_url(
            first_party.client_id, challenge=challenge, state="st", nonce="n", acr_values="phr"
        )
    )
    assert response["Location"].startswith(REDIRECT_URI)
    assert query(response)["error"] == "unmet_authentication_requirements"
    assert query(response)["state"] == "st"


@pytest.mark.parametrize("asked", ["mfa", "phr"])
def test_step_up_for_a_user_without_factors_is_refused_not_looped(client, first_party, user, asked):
    _browser_session(client, user)
    _, challenge = pkce_pair()
    url = authorize_url(
        first_party.client_id, challenge=challenge, state="st", nonce="n", acr_values=asked
    )
    for _ in range(2):  # asking again answers the same: never the re-authentication page
        response = client.get(url)
        assert response["Location"].startswith(REDIRECT_URI)
        assert query(response)["error"] == "unmet_authentication_requirements"


def test_step_up_with_prompt_none_is_interaction_required(client, first_party, totp_user):
    user, _app = totp_user
    _browser_session(client, user)
    _, challenge = pkce_pair()
    response = client.get(
        authorize_url(
            first_party.client_id,
            challenge=challenge,
            state="st",
            nonce="n",
            acr_values="mfa",
            prompt="none",
        )
    )
    assert response["Location"].startswith(REDIRECT_URI)
    assert query(response)["error"] == "interaction_required"


def test_step_up_of_another_users_session_does_not_count(
    client, first_party, totp_user, user_session_factory
):
    user, _app = totp_user
    _browser_session(client, user)
    other_session = user_session_factory()
    session_proof_renew(session_id=str(other_session.pk), amr="otp")
    _, challenge = pkce_pair()
    response = client.get(
        authorize_url(
            first_party.client_id, challenge=challenge, state="st", nonce="n", acr_values="mfa"
        )
    )
    assert urlsplit(response["Location"]).path == reverse("accounts:reauthenticate")


def test_max_age_still_asks_for_a_new_sign_in_and_keeps_acr_pwd(client, first_party, user):
    browser = _browser_session(client, user)
    UserSession.objects.filter(pk=browser.pk).update(created_at=timezone.now() - timedelta(hours=1))
    verifier, challenge = pkce_pair()
    before = int(timezone.now().timestamp())
    response = client.get(
        authorize_url(
            first_party.client_id, challenge=challenge, state="st", nonce="n", max_age="60"
        )
    )
    assert urlsplit(response["Location"]).path == reverse("accounts:login")
    login_url = response["Location"]
    signed_in = client.post(login_url, {"username": user.username, "password": user.raw_password})
    final = client.get(signed_in["Location"])
    assert final["Location"].startswith(REDIRECT_URI), final["Location"]
    claims = _claims(exchange(client, first_party, query(final)["code"], verifier).json())
    assert claims["acr"] == "pwd"
    assert claims["auth_time"] >= before


def test_max_age_and_acr_values_met_together_issue_the_code_at_once(client, first_party, totp_user):
    user, _app = totp_user
    browser = _browser_session(client, user)
    session_proof_renew(session_id=str(browser.pk), amr="otp")
    claims = _claims(_code_flow(client, first_party, max_age="3600", acr_values="mfa"))
    assert claims["acr"] == "mfa"
    assert claims["auth_time"] == int(browser.created_at.timestamp())
