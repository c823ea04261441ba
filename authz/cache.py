"""Version numbers that make every authorization change visible everywhere, and that a cache
restored from an older snapshot cannot roll back.

A user's cached answer is keyed by four things: the user's ``public_id`` (never reused, unlike
the bigint id a restored or recreated database hands out again), the user row's
``authz_version`` (owned by the database, bumped in the transaction of every change that alters
what the user holds), and two versions in the shared cache (the user's and the role graph's),
bumped with ``cache.incr`` so that every process and every in-memory copy of the user sees a
change on its next check. The role graph is cached under a random stamp the database owns
(``authz.GraphStamp``), renewed with every change to roles, grants, inclusions or codes.

So an entry in the cache can only describe the rows it was read from: a Redis snapshot restored
over a newer database brings back entries and versions that name a database version no longer
current, and they are never read again.
"""

from __future__ import annotations

import time
import uuid
from collections.abc import Iterable
from typing import Any

from django.conf import settings
from django.contrib.auth import get_user_model
from django.core.cache import cache
from django.db import transaction
from django.db.models import F

from identity.cache import CACHE_DOWN, invalidate, safe_add, safe_get, safe_get_many

GRAPH_VERSION_KEY = "authz:graph:version"


def _version_timeout() -> int:
    # Versions expire like what they version: one lost to expiry is reseeded with a fresh number.
    return 2 * getattr(settings, "AUTHZ_CACHE_TIMEOUT", 3600)


def user_version_key(user: Any) -> str:
    return f"authz:user:{user.public_id.hex}:version"


def graph_key(stamp: uuid.UUID) -> str:
    return f"authz:graph:{stamp.hex}"


def user_key(user: Any, versions: tuple[int, ...]) -> str:
    db_version = getattr(user, "authz_version", 0)
    joined = ":".join(str(v) for v in versions)
    return f"authz:user:{user.public_id.hex}:{db_version}:{joined}:assignments"


def _seed() -> int:
    # A version lost to eviction restarts from a fresh number, never from one already used.
    return time.time_ns()


def versions(keys: list[str]) -> list[int] | None:
    """The current value of each version key (one cache round trip when all exist); None
    while the cache is down, and callers then read the database."""
    found = safe_get_many(keys)
    if found is CACHE_DOWN:
        return None
    for key in keys:
        if key not in found:
            safe_add(key, _seed(), timeout=_version_timeout())
            value = safe_get(key, _seed())
            if value is CACHE_DOWN:
                return None
            found[key] = value
    return [found[key] for key in keys]


def _bump(key: str) -> None:
    # An invalidation: kept and replayed if the cache is down (identity.cache), so that answers
    # cached before an outage are not served again after it.
    invalidate(key, lambda: _incr_or_seed(key))


def _incr_or_seed(key: str) -> None:
    try:
        cache.incr(key)
    except ValueError:
        cache.add(key, _seed(), timeout=_version_timeout())


def _bump_now_and_on_commit(key: str) -> None:
    # Now, so that this process and this transaction see the change at once; again after
    # commit, so that an answer another process cached from the not yet committed state (under
    # the first new version) is never read.
    _bump(key)
    transaction.on_commit(lambda: _bump(key))


def _users_bump(user_ids: Iterable[int]) -> None:
    """The database's own version of what these users hold: in the caller's transaction, so it
    changes exactly when the change is committed, whatever the cache says."""
    get_user_model().objects.filter(pk__in=user_ids).update(authz_version=F("authz_version") + 1)


def graph_changed(*, holders_of: Iterable[int] = ()) -> None:
    """Roles, permissions or inclusions changed: every user's answer may differ. ``holders_of``
    names the roles whose effective permissions or names changed: their holders, and the
    holders of every role that includes them, get a new database version."""
    from authz.models import GraphStamp, RoleAssignment
    from authz.selectors import role_graph_load

    GraphStamp.objects.update_or_create(pk=1, defaults={"stamp": uuid.uuid4()})
    changed = set(holders_of)
    if changed:
        graph = role_graph_load()
        roles = changed | {rid for rid, ids in graph.expanded.items() if ids & changed}
        _users_bump(
            RoleAssignment.objects.filter(role_id__in=roles).values_list("user_id", flat=True)
        )
    _bump_now_and_on_commit(GRAPH_VERSION_KEY)


def user_changed(user: Any) -> None:
    """One user's assignments changed."""
    _users_bump([user.pk])
    _bump_now_and_on_commit(user_version_key(user))
