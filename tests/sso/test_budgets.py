"""Query budgets of the hot OAuth paths (transaction=True: savepoints are not counted,
as in production where each request runs outside an enclosing transaction)."""

from __future__ import annotations

import pytest
from django.contrib.auth.hashers import make_password
from django.core.cache import cache
from django.db import connection
from django.test import Client
from django.urls import reverse
from rest_framework.test import APIClient

from sso.hashers import ALGORITHM
from tests.sso.conftest import (
    REDIRECT_URI,
    authorize,
    basic,
    exchange,
    pkce_pair,
    query,
    refresh,
    sign_in,
)

pytestmark = pytest.mark.django_db(transaction=True)


def test_code_exchange_costs_at_most_eight_queries(client, rp, user, django_assert_max_num_queries):
    client.force_login(user)
    verifier, challenge = pkce_pair()
    code = query(authorize(client, rp, challenge=challenge))["code"]
    with django_assert_max_num_queries(8):
        # The relying party's server: no browser cookie.
        response = exchange(Client(), rp, code, verifier)
    assert response.status_code == 200


def test_client_credentials_costs_at_most_two_queries_then_one(
    client, service_rp, django_assert_max_num_queries
):
    """The client lookup (then cached for a few seconds) and one INSERT, no transaction."""
    for budget in (2, 1):
        with django_assert_max_num_queries(budget):
            response = client.post(
                reverse("oauth2_provider:token"),
                {"grant_type": "client_credentials", "scope": "read"},
                HTTP_AUTHORIZATION=basic(service_rp.client_id, service_rp.secret),
            )
        assert response.status_code == 200


@pytest.mark.skipif(
    connection.vendor != "postgresql",
    reason="one rotation statement needs Postgres's data-modifying CTEs (sso.token_store)",
)
def test_refresh_grant_costs_at_most_two_queries(client, rp, user, django_assert_max_num_queries):
    """The refresh token with its client and all the grant checks, and the rotation with the
    new id_token, access and refresh tokens: one statement, no transaction (sso.token_store).
    Even with an empty cache: the client comes with the token."""
    tokens = sign_in(client, rp, user)
    cache.clear()
    for budget in (2, 2):
        with django_assert_max_num_queries(budget):
            response = refresh(Client(), rp, tokens["refresh_token"])
        assert response.status_code == 200, response.content
        tokens = response.json()
    assert "id_token" in tokens


def test_introspection_costs_at_most_two_queries(client, rp, user, django_assert_max_num_queries):
    tokens = sign_in(client, rp, user)
    with django_assert_max_num_queries(2):
        response = Client().post(
            reverse("oauth2_provider:introspect"),
            {"token": tokens["access_token"]},
            HTTP_AUTHORIZATION=basic(rp.client_id, rp.secret),
        )
    assert response.json()["active"] is True


def test_api_request_with_oauth_token_one_query_then_none(
    client, rp, user, django_assert_num_queries
):
    tokens = sign_in(client, rp, user, scope="openid profile read")
    auth = f"Bearer {tokens['access_token']}"
    api = APIClient()
    with django_assert_num_queries(1):
        assert api.get(reverse("api:accounts:me"), HTTP_AUTHORIZATION=auth).status_code == 200
    with django_assert_num_queries(0):
        assert api.get(reverse("api:accounts:me"), HTTP_AUTHORIZATION=auth).status_code == 200
    with django_assert_num_queries(0):
        response = api.get(reverse("oauth2_provider:user-info"), HTTP_AUTHORIZATION=auth)
    assert response.json()["preferred_username"] == user.username


def test_client_secret_is_stored_with_the_keyed_hash(rp):
    assert rp.app.client_secret.startswith(ALGORITHM + "$")
    assert rp.secret not in rp.app.client_secret
    assert len(rp.secret) >= 43  # 256 bits, base64url


def test_user_passwords_still_use_the_password_hasher(settings):
    settings.PASSWORD_HASHERS = settings.PRODUCTION_PASSWORD_HASHERS
    assert make_password("x" * 12).startswith("argon2")


def test_authorization_with_remembered_consent_costs_at_most_seven_queries(
    client, rp, user, django_assert_max_num_queries
):
    """A browser already signed in, a client it approved before: the code comes back in a
    302 without a page. Read the session, the user, the client, the consent and the browser
    sign-in (its auth_time); write the code and its link to that sign-in."""
    client.force_login(user)
    verifier, challenge = pkce_pair()
    first = authorize(client, rp, challenge=challenge)  # the consent page, approved
    assert "code" in query(first)
    verifier, challenge = pkce_pair()
    with django_assert_max_num_queries(7):
        response = authorize(client, rp, challenge=challenge)
    assert response.status_code == 302
    assert response["Location"].startswith(REDIRECT_URI)
    assert exchange(Client(), rp, query(response)["code"], verifier).status_code == 200
