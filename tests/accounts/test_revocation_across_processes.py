"""Revocation reaches every server process: two gunicorn processes, one Postgres, one Redis."""

from __future__ import annotations

import httpx
import pytest
import redis

from identity.keys import ensure_signing_key
from tests.factories import DEFAULT_PASSWORD, UserFactory
from tests.processes import database_url, live_api_tokens, portal_processes, redis_or_skip

pytestmark = pytest.mark.django_db(transaction=True)


def _me(base: str, access: str) -> int:
    headers = {"Authorization": f"Bearer {access}"}
    return httpx.get(f"{base}/api/v1/me/", headers=headers).status_code


def test_revoked_sign_in_is_refused_by_another_process_on_its_next_request(tmp_path):
    cache_url = redis_or_skip()
    redis.Redis.from_url(cache_url).flushdb()
    ensure_signing_key()  # in the shared database, before the servers start
    user = UserFactory()
    env = {"DATABASE_URL": database_url(), "CACHE_URL": cache_url}
    with portal_processes(2, env=env, tmp=tmp_path) as (first, second):
        kept, revoked = (
            live_api_tokens(first, user.username, DEFAULT_PASSWORD),
            live_api_tokens(first, user.email, DEFAULT_PASSWORD),
        )
        assert _me(second, revoked["access_token"]) == 200
        logout = httpx.post(
            f"{first}/api/v1/auth/logout/", json={"refresh_token": revoked["refresh_token"]}
        )
        assert logout.status_code == 204
        # The other process refuses the revoked sign-in at once, and only that one.
        assert _me(second, revoked["access_token"]) == 401
        assert _me(second, kept["access_token"]) == 200
        refresh = httpx.post(
            f"{second}/api/v1/auth/refresh/", json={"refresh_token": revoked["refresh_token"]}
        )
        assert refresh.status_code == 401

        # Each process remembers the tokens it has seen (accounts.signin_memory); a change to
        # the user through one process is still seen by the other on its next request.
        auth = {"Authorization": f"Bearer {kept['access_token']}"}
        assert httpx.get(f"{second}/api/v1/me/", headers=auth).json()["username"] == user.username
        renamed = httpx.patch(f"{first}/api/v1/me/", json={"username": "renamed"}, headers=auth)
        assert renamed.status_code == 200, renamed.text
        assert httpx.get(f"{second}/api/v1/me/", headers=auth).json()["username"] == "renamed"
        third = live_api_tokens(first, user.email, DEFAULT_PASSWORD)
        assert _me(second, third["access_token"]) == 200
        everywhere = httpx.post(f"{first}/api/v1/me/sessions/revoke-others/", headers=auth)
        assert everywhere.status_code in {200, 204}, everywhere.text
        assert _me(second, third["access_token"]) == 401
        assert _me(second, kept["access_token"]) == 200  # the current sign-in is kept
