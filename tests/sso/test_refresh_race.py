"""A lost refresh-token rotation race is reuse (RFC 9700 §4.14.2): the whole family ends.

Deterministic: a transaction in the test holds the token row, so both requests have loaded the
still-live token before either may rotate it; the lock is released only once both wait on it.
"""

from __future__ import annotations

import threading
import time

import pytest
from django.db import connection, connections, transaction
from django.test import Client
from oauth2_provider.models import RefreshToken

from accounts.models import Channel, UserSession
from sso.selectors import token_checksum
from tests.factories import UserFactory
from tests.sso.conftest import refresh as oauth_refresh
from tests.sso.conftest import register, sign_in

pytestmark = pytest.mark.django_db(transaction=True)


def _waiting_on_locks() -> int:
    with connections["default"].cursor() as cursor:
        cursor.execute(
            "SELECT count(*) FROM pg_stat_activity"
            " WHERE wait_event_type = 'Lock' AND datname = current_database()"
        )
        return cursor.fetchone()[0]


def _refresh_in_thread(rp, token: str, results: list) -> threading.Thread:
    def run() -> None:
        try:
            results.append(oauth_refresh(Client(), rp, token))
        finally:
            connection.close()

    thread = threading.Thread(target=run)
    thread.start()
    return thread


def test_a_lost_oauth_rotation_race_revokes_the_family() -> None:
    owner, user = UserFactory(), UserFactory()
    rp = register(owner)
    refresh_token = sign_in(Client(), rp, user)["refresh_token"]
    results: list = []

    holder = connections.create_connection("default")
    try:
        with holder.cursor() as cursor:
            cursor.execute("BEGIN")
            cursor.execute(
                f"SELECT id FROM {RefreshToken._meta.db_table}"  # noqa: S608
                " WHERE token_checksum = %s FOR UPDATE",
                [token_checksum(refresh_token)],
            )
            threads = [_refresh_in_thread(rp, refresh_token, results) for _ in range(2)]
            deadline = time.monotonic() + 20
            while _waiting_on_locks() < 2 and time.monotonic() < deadline:
                time.sleep(0.05)
            assert _waiting_on_locks() == 2, "both refreshes must be blocked on the row"
            cursor.execute("COMMIT")
    finally:
        holder.close()
    for thread in threads:
        thread.join(timeout=30)

    statuses = sorted(response.status_code for response in results)
    assert statuses == [200, 400]
    loser = next(response for response in results if response.status_code == 400)
    assert loser.json()["error"] == "invalid_grant"
    # The winner's new refresh token dies with the family: the race was a reuse.
    session = UserSession.objects.get(user=user, channel=Channel.OAUTH)
    assert session.revoked_at is not None
    winner = next(response for response in results if response.status_code == 200)
    assert oauth_refresh(Client(), rp, winner.json()["refresh_token"]).status_code == 400
    with transaction.atomic():
        assert not RefreshToken.objects.filter(user=user, revoked__isnull=True).exists()
