"""Deleting an account, by a user manager or by its holder, ends its OAuth access at once, like a
deactivation does, despite the OAuth token cache (issue 16, item 5)."""

from __future__ import annotations

import pytest
from django.urls import reverse

from tests.security.conftest import api_as, holder_of, user_url
from tests.sso.conftest import (
    sign_in,
)

pytestmark = pytest.mark.django_db


def test_deleting_an_account_ends_its_oauth_access_at_once(client, rp, user, bearer_client):
    """The OAuth token cache keeps a resolved token for OAUTH_TOKEN_CACHE_SECONDS unless the
    sign-in is revoked: deleting the account must revoke it like a deactivation does."""
    tokens = sign_in(client, rp, user, scope="openid read")
    api = bearer_client(tokens["access_token"])
    assert api.get(reverse("api:accounts:me")).status_code == 200  # now cached
    manager = holder_of("user-manager")
    assert api_as(manager).delete(user_url(user)).status_code == 204
    assert api.get(reverse("api:accounts:me")).status_code == 401


def test_deleting_ones_own_account_ends_its_oauth_access_at_once(client, rp, user, bearer_client):
    tokens = sign_in(client, rp, user, scope="openid read")
    api = bearer_client(tokens["access_token"])
    assert api.get(reverse("api:accounts:me")).status_code == 200
    own = api_as(user).delete(
        reverse("api:accounts:me"), {"password": user.raw_password}, format="json"
    )
    assert own.status_code == 204, own.content
    assert api.get(reverse("api:accounts:me")).status_code == 401
