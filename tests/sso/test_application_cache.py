"""The token endpoint's client lookup: a few seconds' cache of the client row, forgotten at
once when the secret is rotated or the application deleted; on the refresh grant, the row the
refresh token's own lookup brings (one query and no cache read)."""

from __future__ import annotations

import pytest
from django.core.cache import cache
from django.db import connection
from django.test import Client
from django.test.utils import CaptureQueriesContext
from django.urls import reverse

from sso import services
from sso.selectors import APPLICATION_CACHE_PREFIX
from tests.sso.conftest import basic, refresh, register, sign_in

pytestmark = pytest.mark.django_db


@pytest.fixture(autouse=True)
def _clean_cache():
    cache.clear()
    yield
    cache.clear()


def _client_credentials(client, client_id: str, secret: str):
    return client.post(
        reverse("oauth2_provider:token"),
        {"grant_type": "client_credentials", "scope": "read"},
        HTTP_AUTHORIZATION=basic(client_id, secret),
    )


def test_second_request_skips_the_client_query(client, service_rp) -> None:
    assert _client_credentials(client, service_rp.client_id, service_rp.secret).status_code == 200
    with CaptureQueriesContext(connection) as queries:
        response = _client_credentials(client, service_rp.client_id, service_rp.secret)
    assert response.status_code == 200
    assert [q["sql"].split()[0] for q in queries.captured_queries] == ["INSERT"]


def test_rotated_secret_stops_working_at_once(client, service_rp) -> None:
    assert _client_credentials(client, service_rp.client_id, service_rp.secret).status_code == 200
    new = services.application_secret_rotate(application=service_rp.app)
    assert _client_credentials(client, service_rp.client_id, service_rp.secret).status_code == 401
    assert _client_credentials(client, service_rp.client_id, new).status_code == 200


def test_deleted_application_stops_working_at_once(client, service_rp) -> None:
    assert _client_credentials(client, service_rp.client_id, service_rp.secret).status_code == 200
    services.application_delete(application=service_rp.app)
    assert _client_credentials(client, service_rp.client_id, service_rp.secret).status_code == 401


@pytest.mark.skipif(
    connection.vendor != "postgresql",
    reason="one rotation statement needs Postgres's data-modifying CTEs (sso.token_store)",
)
def test_refresh_grant_takes_its_client_from_the_token_lookup(client, rp, user) -> None:
    tokens = sign_in(client, rp, user)
    cache.clear()
    with CaptureQueriesContext(connection) as queries:
        response = refresh(Client(), rp, tokens["refresh_token"])  # the server: no cookie
    assert response.status_code == 200, response.content
    verbs = [q["sql"].split()[0] for q in queries.captured_queries]
    assert verbs == ["SELECT", "WITH"]
    assert cache.get(APPLICATION_CACHE_PREFIX + rp.client_id) is None


def _refresh_with_a_wrong_secret(client, rp, refresh_token):
    """The refresh grant with the client authenticating badly; the right secret is back after."""
    right, rp.secret = rp.secret, "not-the-secret"
    try:
        return refresh(client, rp, refresh_token)
    finally:
        rp.secret = right


def test_refresh_with_a_wrong_secret_is_invalid_client_and_spends_nothing(client, rp, user):
    tokens = sign_in(client, rp, user)
    response = _refresh_with_a_wrong_secret(client, rp, tokens["refresh_token"])
    assert (response.status_code, response.json()["error"]) == (401, "invalid_client")
    assert refresh(client, rp, tokens["refresh_token"]).status_code == 200


def test_replayed_refresh_token_with_a_wrong_secret_revokes_nothing(client, rp, user) -> None:
    """The token is looked up before the client is authenticated, but reuse detection still
    acts only for the authenticated client (RFC 9700 §4.14.2 applies to its own tokens)."""
    tokens = sign_in(client, rp, user)
    rotated = refresh(client, rp, tokens["refresh_token"]).json()
    response = _refresh_with_a_wrong_secret(client, rp, tokens["refresh_token"])
    assert (response.status_code, response.json()["error"]) == (401, "invalid_client")
    assert refresh(client, rp, rotated["refresh_token"]).status_code == 200


def test_refresh_by_another_client_is_still_invalid_grant(client, rp, owner, user) -> None:
    tokens = sign_in(client, rp, user)
    other = register(owner)
    response = refresh(client, other, tokens["refresh_token"])
    assert (response.status_code, response.json()["error"]) == (400, "invalid_grant")
    assert refresh(client, rp, tokens["refresh_token"]).status_code == 200


def test_refresh_after_a_secret_rotation_takes_the_new_secret_only(client, rp, user) -> None:
    tokens = sign_in(client, rp, user)
    old = rp.secret
    rp.secret = services.application_secret_rotate(application=rp.app)
    rotated = refresh(client, rp, tokens["refresh_token"])
    assert rotated.status_code == 200
    rp.secret = old
    response = refresh(client, rp, rotated.json()["refresh_token"])
    assert (response.status_code, response.json()["error"]) == (401, "invalid_client")


def test_public_client_refreshes_with_its_client_id(client, public_rp, user) -> None:
    tokens = sign_in(client, public_rp, user)
    response = refresh(client, public_rp, tokens["refresh_token"])
    assert response.status_code == 200, response.content
    assert response.json()["refresh_token"] != tokens["refresh_token"]
