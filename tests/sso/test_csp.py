"""The login page of an authorization request allows the client's registered redirect URI origin
in CSP form-action (Chromium checks the whole redirect chain after a form submission); nothing
else is ever added (tests/e2e/test_sso_pages.py proves the browser side)."""

from __future__ import annotations

from urllib.parse import urlencode

import pytest
from django.conf import settings
from django.urls import reverse

from tests.sso.conftest import REDIRECT_URI

pytestmark = pytest.mark.django_db


def _login_policy(client, next_params: dict[str, str] | None, path: str | None = None) -> str:
    next_url = (path or reverse("oauth2_provider:authorize")) + "?" + urlencode(next_params or {})
    response = client.get(reverse("accounts:login"), {"next": next_url})
    assert response.status_code == 200
    return response["Content-Security-Policy"]


def test_registered_redirect_uri_origin_is_allowed(client, rp) -> None:
    policy = _login_policy(client, {"client_id": rp.client_id, "redirect_uri": REDIRECT_URI})
    assert "form-action 'self' https://rp.example.com;" in policy + ";"


@pytest.mark.parametrize(
    "params",
    [
        {"client_id": "unknown", "redirect_uri": REDIRECT_URI},
        {"client_id": "{client_id}", "redirect_uri": "https://evil.example/callback"},
        {"client_id": "{client_id}"},  # two URIs registered: none is the default
        {},
    ],
)
def test_nothing_else_widens_form_action(client, rp, params) -> None:
    params = {key: value.format(client_id=rp.client_id) for key, value in params.items()}
    assert _login_policy(client, params) == settings.CONTENT_SECURITY_POLICY


def test_a_next_that_is_not_the_authorize_endpoint_changes_nothing(client, rp) -> None:
    params = {"client_id": rp.client_id, "redirect_uri": REDIRECT_URI}
    policy = _login_policy(client, params, path=reverse("accounts:profile"))
    assert policy == settings.CONTENT_SECURITY_POLICY


def test_failed_sign_in_keeps_the_allowance(client, rp) -> None:
    next_url = (
        reverse("oauth2_provider:authorize")
        + "?"
        + urlencode({"client_id": rp.client_id, "redirect_uri": REDIRECT_URI})
    )
    response = client.post(
        reverse("accounts:login"), {"username": "nobody", "password": "wrong", "next": next_url}
    )
    assert response.status_code == 200
    assert "form-action 'self' https://rp.example.com" in response["Content-Security-Policy"]
