"""Malformed input is never a server error: an absurd ``max_age``, a NUL character in client
credentials, a path or a query string (issue 16, item 13)."""

from __future__ import annotations

import pytest
from django.test import Client
from django.urls import reverse

from tests.api.conftest import assert_problem
from tests.factories import UserFactory
from tests.sso.conftest import (
    authorize,
    basic,
    pkce_pair,
)

pytestmark = pytest.mark.django_db


@pytest.mark.parametrize("max_age", ["99999999999999999999999", "١٢٣"])
def test_an_absurd_max_age_is_no_server_error(client, rp, user, max_age):
    """A max_age beyond any date (or in other digits) is simply not exceeded; never a 500."""
    client.raise_request_exception = False
    client.post(
        reverse("accounts:login"), {"username": user.username, "password": user.raw_password}
    )
    _, challenge = pkce_pair()
    response = authorize(client, rp, challenge=challenge, max_age=max_age)
    assert response.status_code < 500


@pytest.mark.parametrize("endpoint", ["introspect", "token", "revoke-token"])
def test_a_nul_character_in_client_credentials_is_no_server_error(endpoint):
    client = Client(raise_request_exception=False)
    response = client.post(
        reverse(f"oauth2_provider:{endpoint}"),
        {"client_id": "a\x00b", "client_secret": "x", "token": "t\x00", "grant_type": "x"},
    )
    assert response.status_code < 500


@pytest.mark.parametrize("endpoint", ["introspect", "token", "revoke-token"])
def test_a_nul_character_in_basic_credentials_is_no_server_error(endpoint):
    client = Client(raise_request_exception=False)
    response = client.post(
        reverse(f"oauth2_provider:{endpoint}"),
        {"token": "t", "grant_type": "client_credentials"},
        HTTP_AUTHORIZATION=basic("a%00b", "secret%00"),
    )
    assert response.status_code < 500


@pytest.mark.parametrize(
    "url",
    [
        "/o/authorize/?response_type=code&client_id=a%00b&scope=openid",
        "/o/end-session/?client_id=a%00b",
        "/developers/apps/a%00b/",
        "/api/v1/roles/a%00b/",
        "/api/v1/permissions/a%00b/",
        "/api/v1/applications/a%00b/",
    ],
)
def test_a_nul_character_in_a_path_or_query_is_a_clean_400(url):
    client = Client(raise_request_exception=False)
    client.force_login(UserFactory(superuser=True))
    response = client.get(url)
    assert response.status_code == 400, response.status_code
    if url.startswith("/api/"):
        assert_problem(response, 400, "validation_error")
