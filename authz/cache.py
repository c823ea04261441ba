"""Version numbers in the shared cache that make every authorization change visible everywhere.

Cached entries are keyed by a version: the role graph by one global version, a user's
assignments by that user's version. A change bumps the version (``cache.incr``, atomic in
Redis), so every process reads the new key on its next check and never the stale one.
"""

from __future__ import annotations

import time

from django.core.cache import cache
from django.db import transaction

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


def versions(keys: list[str]) -> list[int]:
    """The current value of each version key (one cache round trip when all exist)."""
    found = cache.get_many(keys)
    for key in keys:
        if key not in found:
            cache.add(key, _seed(), timeout=None)
            found[key] = cache.get(key, _seed())
    return [found[key] for key in keys]


def _bump(key: str) -> None:
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
