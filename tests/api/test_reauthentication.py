"""Sudo mode on the API: an email change (PATCH /me/) and deletion (DELETE /me/) take a token
whose sign-in was proven within REAUTHENTICATION_SECONDS, or the password, or a code; otherwise
403 reauthentication_required. The proof belongs to the sign-in: a refresh does not renew it."""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

import pytest
from django.urls import reverse
from rest_framework.test import APIClient

from accounts.models import AuthMethod, OneTimeToken, User, UserSession
from accounts.services.mfa.amr import amr_join
from accounts.tokens import api_session_start
from tests.api.conftest import assert_problem
from tests.factories import DEFAULT_PASSWORD
from tests.mfa import sign_ins_make_stale, totp_fresh_code

pytestmark = pytest.mark.django_db

NEW_ADDRESS = "moved@example.org"


def url(name: str) -> str:
    return reverse(f"api:accounts:{name}")


def _email_change(client: APIClient, **proof: str):
    return client.patch(url("me"), {"email": NEW_ADDRESS, **proof}, format="json")


def _delete(client: APIClient, **proof: str):
    return client.delete(url("me"), proof, format="json")


def _moved(user: User) -> bool:
    return OneTimeToken.objects.filter(user=user, email=NEW_ADDRESS).exists()


def _gone(user: User) -> bool:
    return not User.objects.filter(pk=user.pk).exists()


# Each sensitive endpoint: how to call it, the name of its password field, whether it acted.
ENDPOINTS = {
    "email_change": (_email_change, "current_password", _moved),
    "delete": (_delete, "password", _gone),
}


def _mfa_client(user: User, bearer_client: Callable[[str], APIClient]) -> APIClient:
    """A sign-in proven by the password and the authenticator app, as the MFA login makes."""
    amr = amr_join(AuthMethod.PASSWORD, AuthMethod.TOTP)
    pair = api_session_start(user=user, ip="127.0.0.1", user_agent="pytest/1.0", amr=amr)
    return bearer_client(pair.access_token)


@pytest.fixture(params=sorted(ENDPOINTS))
def endpoint(request: pytest.FixtureRequest) -> tuple[Callable[..., Any], str, Callable]:
    return ENDPOINTS[request.param]


def test_fresh_token_needs_no_password(user, signed_in_api, endpoint):
    call, _, acted = endpoint
    response = call(signed_in_api(user))
    assert response.status_code in (200, 204), response.content
    assert acted(user)


def test_stale_token_is_refused_with_reauthentication_required(user, signed_in_api, endpoint):
    call, _, acted = endpoint
    client = signed_in_api(user)
    sign_ins_make_stale(user)
    assert_problem(call(client), 403, "reauthentication_required")
    assert not acted(user)


def test_stale_token_with_the_password_is_accepted(user, signed_in_api, endpoint):
    call, field, acted = endpoint
    client = signed_in_api(user)
    sign_ins_make_stale(user)
    body = assert_problem(call(client, **{field: "not my password"}), 400, "incorrect_password")
    assert body["errors"][0]["field"] == field
    assert not acted(user)
    response = call(client, **{field: DEFAULT_PASSWORD})
    assert response.status_code in (200, 204), response.content
    assert acted(user)


def test_stale_token_with_an_authenticator_code_is_accepted(totp_user, bearer_client, endpoint):
    user, app = totp_user
    call, _, acted = endpoint
    client = _mfa_client(user, bearer_client)
    sign_ins_make_stale(user)
    response = call(client, code=totp_fresh_code(app))
    assert response.status_code in (200, 204), response.content
    assert acted(user)


def test_stale_token_with_a_recovery_code_is_accepted_once(totp_user, bearer_client):
    user, app = totp_user
    client = _mfa_client(user, bearer_client)
    sign_ins_make_stale(user)
    code = app.recovery_codes[0]
    assert _email_change(client, code=code).status_code == 200
    sign_ins_make_stale(user)
    assert_problem(_email_change(client, code=code), 400, "invalid_code")


def test_wrong_code_is_refused_with_invalid_code(totp_user, bearer_client, endpoint):
    user, _ = totp_user
    call, _, acted = endpoint
    client = _mfa_client(user, bearer_client)
    sign_ins_make_stale(user)
    body = assert_problem(call(client, code="000000"), 400, "invalid_code")
    assert body["errors"][0]["field"] == "code"
    assert not acted(user)


def test_a_code_given_renews_the_sign_ins_proof(totp_user, bearer_client):
    """The proof belongs to the sign-in: the next sensitive call needs no code for a while."""
    user, app = totp_user
    client = _mfa_client(user, bearer_client)
    sign_ins_make_stale(user)
    assert _email_change(client, code=totp_fresh_code(app)).status_code == 200
    assert _delete(client).status_code == 204
    assert _gone(user)


def test_wrong_codes_lock_out_after_five(totp_user, bearer_client):
    user, app = totp_user
    client = _mfa_client(user, bearer_client)
    sign_ins_make_stale(user)
    for _ in range(4):
        assert_problem(_email_change(client, code="000000"), 400, "invalid_code")
    assert_problem(_email_change(client, code="000000"), 429, "locked_out")
    # Locked: the right code is not even tried, and the password fails the same way.
    assert_problem(_email_change(client, code=totp_fresh_code(app)), 429, "locked_out")
    assert_problem(_email_change(client, current_password=DEFAULT_PASSWORD), 429, "locked_out")
    assert not _moved(user)


def test_refresh_does_not_renew_the_proof(user, api, api_tokens, bearer_client):
    tokens = api_tokens(user)
    sign_ins_make_stale(user)
    refreshed = api.post(url("refresh"), {"refresh_token": tokens["refresh_token"]}, format="json")
    assert refreshed.status_code == 200
    client = bearer_client(refreshed.json()["access_token"])
    assert_problem(_email_change(client), 403, "reauthentication_required")
    assert_problem(_delete(client), 403, "reauthentication_required")
    assert not _moved(user)
    assert not _gone(user)


def test_another_users_fresh_sign_in_does_not_count(user, user_factory, signed_in_api):
    """A stale token of the user cannot borrow anyone's recent proof: the proof is read from
    the token's own sign-in, whoever else signed in a moment ago."""
    client = signed_in_api(user)
    sign_ins_make_stale(user)
    signed_in_api(user_factory())
    assert UserSession.objects.exclude(user=user).get().proven_at is not None
    assert_problem(_email_change(client), 403, "reauthentication_required")


def test_password_change_still_needs_the_current_password(user, signed_in_api):
    """Django's rule: a new password needs the old one, however fresh the sign-in; with it, a
    stale sign-in may change the password."""
    client = signed_in_api(user)
    body = {"new_password": "a brand new passphrase 7", "new_password_confirm": ""}
    body["new_password_confirm"] = body["new_password"]
    missing = client.post(url("me_password"), body, format="json")
    assert missing.status_code == 400
    assert missing.json()["errors"][0]["field"] == "current_password"
    sign_ins_make_stale(user)
    changed = client.post(
        url("me_password"), {**body, "current_password": DEFAULT_PASSWORD}, format="json"
    )
    assert changed.status_code == 204, changed.content
    user.refresh_from_db()
    assert user.check_password(body["new_password"])
