"""Access-token checks that a remembered signature must not weaken, and revocation read from
the database on every request (accounts.jwt, accounts.api.authentication)."""

from __future__ import annotations

import time
from datetime import timedelta

import pytest
from django.core.cache import cache
from django.urls import reverse
from rest_framework.test import APIClient
from rest_framework_simplejwt.exceptions import TokenBackendError, TokenBackendExpiredToken

from accounts.jwt import AccessToken, token_backend
from accounts.models import UserSession
from accounts.services.sessions import session_revoke
from accounts.tokens import TokenPair, api_session_start
from identity import keys

pytestmark = pytest.mark.django_db


def _me(token: str):
    return APIClient().get(reverse("api:accounts:me"), HTTP_AUTHORIZATION=f"Bearer {token}")


def test_token_verified_before_is_refused_once_it_expires(settings, pair: TokenPair) -> None:
    settings.SIMPLE_JWT = {**settings.SIMPLE_JWT, "LEEWAY": timedelta(0)}
    token = AccessToken(pair.access_token)
    token.set_exp(lifetime=timedelta(seconds=1))
    short_lived = str(token)

    assert token_backend.decode(short_lived)["sid"] == str(pair.session.pk)
    time.sleep(1.2)

    with pytest.raises(TokenBackendExpiredToken):
        token_backend.decode(short_lived)
    assert _me(short_lived).status_code == 401


def test_token_verified_before_is_refused_once_its_key_is_pruned(pair: TokenPair) -> None:
    assert _me(pair.access_token).status_code == 200
    keys.rotate_signing_key()
    assert _me(pair.access_token).status_code == 200  # the retired key still verifies

    keys.prune_signing_keys(retired_for=timedelta(0))

    with pytest.raises(TokenBackendError):
        token_backend.decode(pair.access_token)
    assert _me(pair.access_token).status_code == 401


def test_token_verified_under_another_issuer_is_refused(settings, pair: TokenPair) -> None:
    assert _me(pair.access_token).status_code == 200
    settings.SIMPLE_JWT = {**settings.SIMPLE_JWT, "ISSUER": "https://elsewhere.example"}

    assert _me(pair.access_token).status_code == 401


def test_revoked_sign_in_is_refused_even_when_the_cache_has_forgotten_it(pair: TokenPair) -> None:
    assert _me(pair.access_token).status_code == 200

    session_revoke(session=pair.session, reason="test")
    cache.clear()  # the revocation is read from the session row, not from the cache

    response = _me(pair.access_token)
    assert response.status_code == 401
    assert response.json()["code"] == "token_not_valid"


def test_token_whose_sign_in_row_is_gone_is_refused(pair: TokenPair) -> None:
    UserSession.objects.filter(pk=pair.session.pk).delete()

    assert _me(pair.access_token).status_code == 401


def test_token_of_another_users_sign_in_is_refused(user_factory, pair: TokenPair) -> None:
    other = api_session_start(user=user_factory(), ip=None, user_agent="")
    token = AccessToken(pair.access_token)
    token["sid"] = str(other.session.pk)  # re-signed by us: a sid that is not this user's

    assert _me(str(token)).status_code == 401
