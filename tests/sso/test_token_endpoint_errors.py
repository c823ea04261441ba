"""Errors of the token, revocation and introspection endpoints are JSON that no cache keeps
(RFC 6749 §5.2: application/json; §5.1: Cache-Control no-store), never an HTML page."""

from __future__ import annotations

import pytest
from django.test import Client
from django.urls import reverse

from tests.sso.conftest import basic, exchange, pkce_pair, refresh, sign_in

pytestmark = pytest.mark.django_db


def _assert_json_no_store(response, status: int, error: str | None = None) -> None:
    assert response.status_code == status, response.content
    assert response["Content-Type"].split(";")[0] == "application/json"
    assert "no-store" in response["Cache-Control"]
    if error is not None:
        assert response.json()["error"] == error


def test_invalid_grant_is_json(client, rp):
    verifier, _ = pkce_pair()
    _assert_json_no_store(exchange(client, rp, "no-such-code", verifier), 400, "invalid_grant")


def test_wrong_client_secret_is_json(client, rp):
    response = client.post(
        reverse("oauth2_provider:token"),
        {"grant_type": "client_credentials"},
        HTTP_AUTHORIZATION=basic(rp.client_id, "wrong"),
    )
    _assert_json_no_store(response, 401, "invalid_client")


@pytest.mark.parametrize("grant_type", ["made-up", "urn:ietf:params:oauth:grant-type:device_code"])
def test_unsupported_grant_type_is_json(client, rp, grant_type):
    response = client.post(
        reverse("oauth2_provider:token"),
        {"grant_type": grant_type},
        HTTP_AUTHORIZATION=basic(rp.client_id, rp.secret),
    )
    assert response.status_code == 400
    _assert_json_no_store(response, 400)
    assert response.json()["error"] in {"unsupported_grant_type", "unauthorized_client"}


def test_reused_refresh_token_is_json(client, rp, user):
    tokens = sign_in(client, rp, user)
    assert refresh(client, rp, tokens["refresh_token"]).status_code == 200
    _assert_json_no_store(refresh(client, rp, tokens["refresh_token"]), 400, "invalid_grant")


@pytest.mark.parametrize("name", ["token", "revoke-token", "introspect"])
@pytest.mark.parametrize("method", ["get", "put", "delete"])
def test_wrong_method_is_json(client, name, method):
    response = getattr(client, method)(reverse(f"oauth2_provider:{name}"))
    _assert_json_no_store(response, 405, "invalid_request")
    assert "POST" in response["Allow"]


def test_revocation_with_a_wrong_secret_is_json(client, rp):
    response = client.post(
        reverse("oauth2_provider:revoke-token"),
        {"token": "anything"},
        HTTP_AUTHORIZATION=basic(rp.client_id, "wrong"),
    )
    _assert_json_no_store(response, 401, "invalid_client")


def test_revocation_success_is_not_cached(client, rp, user):
    tokens = sign_in(client, rp, user)
    response = client.post(
        reverse("oauth2_provider:revoke-token"),
        {"token": tokens["access_token"]},
        HTTP_AUTHORIZATION=basic(rp.client_id, rp.secret),
    )
    assert response.status_code == 200
    assert "no-store" in response["Cache-Control"]


@pytest.mark.parametrize("name", ["token", "revoke-token", "introspect"])
def test_back_channel_needs_no_csrf_token(rp, name):
    """Clients authenticate themselves; a CSRF 403 HTML page would break every one of them."""
    strict = Client(enforce_csrf_checks=True)
    response = strict.post(
        reverse(f"oauth2_provider:{name}"),
        {"token": "unknown", "grant_type": "client_credentials"},
        HTTP_AUTHORIZATION=basic(rp.client_id, rp.secret),
    )
    assert response.status_code != 403, response.content
    assert response["Content-Type"].split(";")[0] == "application/json" or name == "revoke-token"
