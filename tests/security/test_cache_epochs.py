"""A cache entry only ever describes the row it was made from (issue 16, item 9).

Two ways the shared cache can disagree with the database: Redis is restored from an older
snapshot (revoked grants come back), or the database is restored or recreated while Redis is
kept (a new account reuses a bigint id and inherits what was cached for the old one).
"""

from __future__ import annotations

from collections.abc import Iterator

import pytest
import redis
from django.db import connection
from django.test import RequestFactory

from accounts import services as account_services
from accounts.models import User
from accounts.services import history
from authz import selectors, services
from tests import factories
from tests.factories import DEFAULT_PASSWORD

pytestmark = pytest.mark.django_db

FIREFOX = "Mozilla/5.0 (Windows NT 10.0; Win64; x64; rv:120.0) Gecko/20100101 Firefox/120.0"
CHROME_MAC = (
    "Mozilla/5.0 (Macintosh; Intel Mac OS X 10_15_7) AppleWebKit/537.36 "
    "(KHTML, like Gecko) Chrome/120.0.0.0 Safari/537.36"
)


@pytest.fixture
def shared_cache(redis_cache: redis.Redis) -> Iterator[redis.Redis]:
    """The portal on a real Redis, as in production, with no device remembered in-process."""
    history._remembered.clear()
    yield redis_cache
    history._remembered.clear()


def _snapshot(client: redis.Redis) -> dict[bytes, bytes]:
    return {key: client.dump(key) for key in client.keys("*")}


def _restore(client: redis.Redis, snapshot: dict[bytes, bytes]) -> None:
    """What an operator's restore of an older RDB snapshot does: every key as it was then."""
    client.flushdb()
    for key, value in snapshot.items():
        client.restore(key, 0, value, replace=True)


def _next_request(user: User) -> User:
    return User.objects.get(pk=user.pk)


@pytest.fixture
def clerk(shared_cache, user) -> User:
    role = factories.RoleFactory(
        name="billing-clerk", permissions=[factories.PermissionFactory(code="billing.read")]
    )
    services.role_assign(user=user, role=role, granted_by=None)
    assert selectors.user_has_permission(user=_next_request(user), code="billing.read")
    return user


def test_a_restored_cache_does_not_bring_an_unassigned_role_back(shared_cache, clerk) -> None:
    before = _snapshot(shared_cache)
    services.role_unassign(user=clerk, role=selectors.role_get(name="billing-clerk"))
    assert not selectors.user_has_permission(user=_next_request(clerk), code="billing.read")

    _restore(shared_cache, before)

    assert not selectors.user_has_permission(user=_next_request(clerk), code="billing.read")
    assert selectors.user_roles(user=_next_request(clerk)) == []


def test_a_restored_cache_does_not_bring_a_removed_permission_back(shared_cache, clerk) -> None:
    before = _snapshot(shared_cache)
    services.role_update(role=selectors.role_get(name="billing-clerk"), permissions=[])
    assert not selectors.user_has_permission(user=_next_request(clerk), code="billing.read")

    _restore(shared_cache, before)

    assert not selectors.user_has_permission(user=_next_request(clerk), code="billing.read")


def _recreate_with_same_id(user: User) -> User:
    """The database restored or recreated while Redis is kept: the old account is gone and a
    new one gets the same bigint id (a reset sequence hands it out again)."""
    pk = user.pk
    User.objects.filter(pk=pk).delete()
    newcomer = factories.UserFactory(id=pk)
    with connection.cursor() as cursor:  # as after a restore: the sequence continues from here
        cursor.execute(
            "SELECT setval(pg_get_serial_sequence('accounts_user', 'id'), "
            "(SELECT MAX(id) FROM accounts_user))"
        )
    assert newcomer.pk == pk
    return newcomer


def test_a_new_account_with_a_reused_id_does_not_inherit_cached_roles(shared_cache, clerk) -> None:
    newcomer = _recreate_with_same_id(clerk)

    assert not selectors.user_has_permission(user=_next_request(newcomer), code="billing.read")
    assert selectors.user_roles(user=_next_request(newcomer)) == []


def _authenticate_from(user: User, *, agent: str) -> None:
    request = RequestFactory().post("/", REMOTE_ADDR="203.0.113.10", HTTP_USER_AGENT=agent)
    account_services.user_authenticate(
        request=request, login=user.username, password=DEFAULT_PASSWORD, channel="api"
    )


def test_a_new_account_with_a_reused_id_does_not_inherit_known_devices(shared_cache, user):
    _authenticate_from(user, agent=FIREFOX)
    known = history.is_new_device(user=user, device_label="Firefox on Windows", ip="203.0.113.10")
    assert not known
    newcomer = _recreate_with_same_id(user)
    _authenticate_from(newcomer, agent=CHROME_MAC)  # the newcomer's own history: one other device
    history._remembered.clear()  # another process: only the shared cache remembers

    assert history.is_new_device(
        user=_next_request(newcomer), device_label="Firefox on Windows", ip="203.0.113.10"
    )
