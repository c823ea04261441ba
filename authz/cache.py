"""Version numbers in the shared cache that make every authorization change visible everywhere.

Cached entries are keyed by a version: the role graph by one global version, a user's
assignments by that user's version. A change bumps the version (``cache.incr``, atomic in
Redis), so every process reads the new key on its next check and never the stale one.
"""

from __future__ import annotations

import time

from django.core.cache import cache
from django.db import transaction

from identity.cache import CACHE_DOWN, invalidate, safe_add, safe_get, safe_get_many

GRAPH_VERSION_KEY = "authz:graph:version"


def user_version_key(user_id: int) -> str:
    return f"authz:user:{user_id}:version"


def graph_key(version: int) -> str:
    return f"authz:graph:{version}"


def user_key(user_id: int, version: int) -> str:
    return f"authz:user:{user_id}:{version}:assignments"


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
            safe_add(key, _seed(), timeout=None)
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
        cache.add(key, _seed(), timeout=None)


def _bump_now_and_on_commit(key: str) -> None:
    # Now, so that this process and this transaction see the change at once; again after
    # commit, so that an answer another process cached from the not yet committed state (under
    # the first new version) is never read.
    _bump(key)
    transaction.on_commit(lambda: _bump(key))


def graph_changed() -> None:
    """Roles, permissions or inclusions changed: every user's answer may differ."""
    _bump_now_and_on_commit(GRAPH_VERSION_KEY)


def user_changed(user_id: int) -> None:
    """One user's assignments changed."""
    _bump_now_and_on_commit(user_version_key(user_id))
