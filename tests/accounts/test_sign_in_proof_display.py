"""The sessions page, the sign-in history and their API twins say how each sign-in was proven."""

from __future__ import annotations

import pytest
from django.test import Client
from django.urls import reverse

from accounts.models import LoginOutcome
from tests.factories import DEFAULT_PASSWORD, LoginEventFactory, UserSessionFactory
from tests.mfa import totp_fresh_code

pytestmark = pytest.mark.django_db


def _mfa_browser(user, app) -> Client:
    client = Client()
    body = {"username": user.username, "password": DEFAULT_PASSWORD}
    assert client.post(reverse("accounts:login"), body)["Location"] == reverse(
        "accounts:login_verify"
    )
    response = client.post(reverse("accounts:login_verify"), {"code": totp_fresh_code(app)})
    assert response.status_code == 302
    return client


def test_sessions_page_says_how_each_sign_in_was_proven(totp_user):
    user, app = totp_user
    client = _mfa_browser(user, app)
    UserSessionFactory(user=user, channel="api", device_label="curl", amr="pwd rc")
    page = client.get(reverse("accounts:sessions")).content.decode()
    assert "Signed in with" in page
    assert "Password + Authenticator app" in page
    assert "Password + Recovery code" in page


def test_history_page_says_how_each_success_was_proven(totp_user):
    user, app = totp_user
    client = _mfa_browser(user, app)
    LoginEventFactory(user=user, outcome=LoginOutcome.SUCCESS, amr="hwk")
    page = client.get(reverse("accounts:history")).content.decode()
    assert "Password + Authenticator app" in page
    assert "Passkey" in page


def test_me_sessions_and_history_api_give_amr_and_proof(totp_user):
    user, _app = totp_user
    UserSessionFactory(user=user, channel="api", amr="pwd otp")
    LoginEventFactory(user=user, outcome=LoginOutcome.SUCCESS, amr="pwd rc")
    LoginEventFactory(user=user, outcome=LoginOutcome.BAD_CODE)
    api = Client()
    api.force_login(user)
    sessions = api.get(reverse("api:accounts:me_sessions")).json()["results"]
    proofs = {(tuple(s["amr"]), s["proof"]) for s in sessions}
    assert (("pwd", "otp"), "Password + Authenticator app") in proofs
    history = api.get(reverse("api:accounts:me_login_history")).json()["results"]
    by_outcome = {event["outcome"]: event for event in history}
    assert by_outcome["success"]["amr"] == ["pwd", "rc"]
    assert by_outcome["success"]["proof"] == "Password + Recovery code"
    assert by_outcome["bad_code"]["amr"] == []
    assert by_outcome["bad_code"]["proof"] == ""
