"""Django's RedisCache with one redis-py client per connection pool instead of one per call.

Django builds a new ``redis.Redis`` for every cache call (``RedisCacheClient.get_client``);
with redis-py 8 that construction costs about as much as the network round trip itself, and
the cache sits on hot paths (throttles, revocation, permission checks). A ``redis.Redis`` is
thread-safe and draws connections from its pool, which redis-py resets after a fork.
"""

from __future__ import annotations

from typing import Any

from django.core.cache.backends.redis import RedisCache as DjangoRedisCache
from django.core.cache.backends.redis import RedisCacheClient


class ReusedClientRedisCacheClient(RedisCacheClient):
    def __init__(self, *args: Any, **kwargs: Any) -> None:
        super().__init__(*args, **kwargs)
        self._clients: dict[int, Any] = {}

    def get_client(self, key: Any = None, *, write: bool = False) -> Any:
        pool = self._get_connection_pool(write)
        client = self._clients.get(id(pool))
        if client is None:
            client = self._clients.setdefault(id(pool), self._client(connection_pool=pool))
        return client


class RedisCache(DjangoRedisCache):
    def __init__(self, server: str, params: dict[str, Any]) -> None:
        super().__init__(server, params)
        self._class = ReusedClientRedisCacheClient
