"""Access tokens answered from each process's memory, kept true by Redis pub/sub
(accounts.signin_memory): no query for a token used again, and no stale answer after a change."""

from __future__ import annotations

import time
import uuid
from collections.abc import Iterator

import pytest
import redis
from django.test.utils import CaptureQueriesContext
from django.urls import reverse
from django.utils import timezone
from rest_framework.test import APIClient

from accounts import signin_memory
from accounts.models import User, UserSession
from tests.api.conftest import assert_problem

ME = reverse("api:accounts:me")


@pytest.fixture
def memory(settings, redis_cache: redis.Redis) -> Iterator[redis.Redis]:
    """The portal on a Redis cache, as in production, with an empty memory."""
    settings.ACCESS_TOKEN_MEMORY_SECONDS = 10.0
    signin_memory.clear()
    yield redis_cache
    signin_memory.clear()


def _latest_sid(user: User) -> uuid.UUID:
    """The id of the user's newest sign-in (the one ``signed_in_api`` just made)."""
    return UserSession.objects.filter(user=user).latest("created_at").pk


def _queries(client: APIClient) -> tuple[int, int]:
    from django.db import connection

    with CaptureQueriesContext(connection) as captured:
        status = client.get(ME).status_code
    return status, len(captured)


def _another_process_publishes(memory: redis.Redis, payload: str) -> None:
    """What another process's signin_memory.forget sends once its change is committed."""
    assert memory.publish(signin_memory.channel(), payload) >= 1  # we are subscribed


def test_a_token_used_again_costs_no_query(memory, user, signed_in_api) -> None:
    client, _ = signed_in_api(user), _latest_sid(user)
    assert _queries(client) == (200, 1)
    assert _queries(client) == (200, 0)
    assert client.get(ME).json()["username"] == user.username


def test_a_revocation_by_another_process_is_seen_on_the_next_request(
    memory, user, signed_in_api
) -> None:
    client, sid = signed_in_api(user), _latest_sid(user)
    assert client.get(ME).status_code == 200
    # Another process revokes the sign-in: the row changes, nothing happens in this process.
    UserSession.objects.filter(pk=sid).update(revoked_at=timezone.now())
    assert client.get(ME).status_code == 200  # still remembered: the message is the signal
    _another_process_publishes(memory, f"s:{sid.hex}")
    assert_problem(client.get(ME), 401, "token_not_valid")


def test_a_user_changed_by_another_process_is_seen_on_the_next_request(
    memory, user, signed_in_api
) -> None:
    client, _ = signed_in_api(user), _latest_sid(user)
    assert client.get(ME).status_code == 200
    User.objects.filter(pk=user.pk).update(is_active=False)
    _another_process_publishes(memory, f"u:{user.pk}")
    assert_problem(client.get(ME), 401, "user_inactive")


def test_changes_made_in_this_process_are_seen_at_once(memory, user, signed_in_api) -> None:
    client, _ = signed_in_api(user), _latest_sid(user)
    assert client.get(ME).status_code == 200
    response = client.patch(ME, {"username": "renamed-now"}, format="json")
    assert response.status_code == 200, response.content
    assert client.get(ME).json()["username"] == "renamed-now"
    user.refresh_from_db()
    user.is_active = False
    user.save()  # what the Django admin does
    assert_problem(client.get(ME), 401, "user_inactive")


def test_signing_out_elsewhere_is_seen_at_once(memory, user, signed_in_api) -> None:
    client, sid = signed_in_api(user), _latest_sid(user)
    other, _ = signed_in_api(user), _latest_sid(user)
    assert client.get(ME).status_code == 200
    assert other.get(ME).status_code == 200
    response = other.delete(reverse("api:accounts:me_session", args=[sid]))
    assert response.status_code == 204, response.content
    assert_problem(client.get(ME), 401, "token_not_valid")
    assert other.get(ME).status_code == 200


def test_a_lost_subscription_forgets_everything(memory, user, signed_in_api) -> None:
    client, _ = signed_in_api(user), _latest_sid(user)
    assert client.get(ME).status_code == 200
    # The subscription dies (Redis restarted, or cut us off); a change is made meanwhile and
    # its message is lost. The memory must not answer from before.
    for entry in memory.client_list(_type="pubsub"):
        if entry["name"].startswith("signin-memory-"):
            memory.client_kill_filter(_id=entry["id"])
    User.objects.filter(pk=user.pk).update(is_active=False)
    assert_problem(client.get(ME), 401, "user_inactive")


@pytest.mark.django_db
def test_an_answer_read_before_a_change_is_not_kept(memory) -> None:
    public_id, sid = uuid.uuid4(), uuid.uuid4()
    assert signin_memory.recall(public_id, sid) is None  # subscribes
    since = signin_memory.generation()
    signin_memory.forget(sids=[sid])  # arrives while the answer was being read
    signin_memory.remember(public_id, sid, user_pk=1, row=(1,), live=True, since=since)
    assert signin_memory.recall(public_id, sid) is None
    since = signin_memory.generation()
    signin_memory.remember(public_id, sid, user_pk=1, row=(1,), live=True, since=since)
    assert signin_memory.recall(public_id, sid) is not None
    assert signin_memory.recall(uuid.uuid4(), sid) is None  # another user's token, same sid


def test_entries_expire_whatever_happens(memory, settings, user, signed_in_api) -> None:
    settings.ACCESS_TOKEN_MEMORY_SECONDS = 0.2
    client, _ = signed_in_api(user), _latest_sid(user)
    assert _queries(client) == (200, 1)
    assert _queries(client) == (200, 0)
    time.sleep(0.25)
    assert _queries(client) == (200, 1)


def test_without_a_redis_cache_every_request_asks_the_database(user, signed_in_api) -> None:
    # tests.settings use the local-memory cache: no pub/sub, so no memory.
    client, _ = signed_in_api(user), _latest_sid(user)
    assert _queries(client) == (200, 1)
    assert _queries(client) == (200, 1)


def test_a_remembered_user_is_a_whole_fresh_instance(memory, user, signed_in_api) -> None:
    from accounts.selectors import user_get_for_access_token

    client, sid = signed_in_api(user), _latest_sid(user)
    assert client.get(ME).status_code == 200  # remembered now
    first, live = user_get_for_access_token(public_id=user.public_id, sid=sid)
    second, _ = user_get_for_access_token(public_id=user.public_id, sid=sid)
    fresh = User.objects.get(pk=user.pk)
    assert live is True
    assert first is not second
    for field in User._meta.concrete_fields:
        assert getattr(first, field.attname) == getattr(fresh, field.attname)
    assert first._state.adding is False
    assert first._state.db == "default"
    first.username = "changed-in-memory-only"
    assert second.username == user.username  # nothing shared between requests
    assert first.has_perm("users.read") is fresh.has_perm("users.read")
