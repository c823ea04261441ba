"""OIDC Core §3.1.2.1: ``prompt=login`` and an exceeded ``max_age`` make a signed-in user
authenticate again before a code is issued, and the id_token's ``auth_time`` is the new one."""

from __future__ import annotations

from datetime import timedelta

import jwt as pyjwt
import pytest
from django.urls import reverse
from django.utils import timezone

from accounts.models import Channel, UserSession
from sso import services
from tests.sso.conftest import REDIRECT_URI, authorize_url, exchange, pkce_pair, query

pytestmark = pytest.mark.django_db


@pytest.fixture
def first_party(rp):
    services.application_first_party_set(application=rp.app, is_first_party=True)
    return rp


def _signed_in_an_hour_ago(client, user) -> UserSession:
    client.post(
        reverse("accounts:login"), {"username": user.username, "password": user.raw_password}
    )
    session = UserSession.objects.get(user=user, channel=Channel.BROWSER, revoked_at=None)
    UserSession.objects.filter(pk=session.pk).update(created_at=timezone.now() - timedelta(hours=1))
    session.refresh_from_db()
    return session


def _auth_time(client, rp, response, verifier: str) -> int:
    assert response.status_code == 302
    assert response["Location"].startswith(REDIRECT_URI), response["Location"]
    tokens = exchange(client, rp, query(response)["code"], verifier).json()
    return pyjwt.decode(tokens["id_token"], options={"verify_signature": False})["auth_time"]


def _reauthenticate(client, user, response):
    """Follows the redirect to the sign-in page, which must ask (not bounce), and signs in."""
    assert response.status_code == 302
    login_url = response["Location"]
    assert login_url.startswith(reverse("accounts:login")), login_url
    page = client.get(login_url)
    assert page.status_code == 200, "a signed-in user must be asked to sign in again"
    signed_in = client.post(login_url, {"username": user.username, "password": user.raw_password})
    assert signed_in.status_code == 302
    return client.get(signed_in["Location"])


@pytest.mark.parametrize("extra", [{"prompt": "login"}, {"max_age": "60"}, {"max_age": "0"}])
def test_reauthentication_is_required_and_auth_time_is_the_new_one(
    client, first_party, user, extra
):
    old = _signed_in_an_hour_ago(client, user)
    verifier, challenge = pkce_pair()
    before = int(timezone.now().timestamp())

    response = client.get(
        authorize_url(first_party.client_id, challenge=challenge, state="st", nonce="n", **extra)
    )
    assert not response["Location"].startswith(REDIRECT_URI), "a code without re-authentication"
    final = _reauthenticate(client, user, response)

    auth_time = _auth_time(client, first_party, final, verifier)
    assert auth_time >= before > int(old.created_at.timestamp())


def test_max_age_not_exceeded_issues_the_code_at_once(client, first_party, user):
    old = _signed_in_an_hour_ago(client, user)
    verifier, challenge = pkce_pair()
    response = client.get(
        authorize_url(
            first_party.client_id, challenge=challenge, state="st", nonce="n", max_age="7200"
        )
    )
    assert _auth_time(client, first_party, response, verifier) == int(old.created_at.timestamp())


def test_prompt_none_with_max_age_exceeded_is_login_required(client, first_party, user):
    _signed_in_an_hour_ago(client, user)
    _, challenge = pkce_pair()
    response = client.get(
        authorize_url(
            first_party.client_id,
            challenge=challenge,
            state="st",
            nonce="n",
            max_age="60",
            prompt="none",
        )
    )
    assert response["Location"].startswith(REDIRECT_URI)
    assert query(response)["error"] == "login_required"


def test_reauthentication_ends_the_previous_browser_sign_in(client, first_party, user):
    old = _signed_in_an_hour_ago(client, user)
    _, challenge = pkce_pair()
    _reauthenticate(
        client,
        user,
        client.get(
            authorize_url(
                first_party.client_id, challenge=challenge, state="st", nonce="n", prompt="login"
            )
        ),
    )
    old.refresh_from_db()
    assert old.revoked_at is not None
    assert (
        UserSession.objects.filter(user=user, channel=Channel.BROWSER, revoked_at=None).count() == 1
    )


def test_the_sign_in_page_still_bounces_a_signed_in_user_otherwise(client, user):
    _signed_in_an_hour_ago(client, user)
    assert client.get(reverse("accounts:login")).status_code == 302
