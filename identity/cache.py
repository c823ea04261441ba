"""Cache calls that survive a cache outage: errors are logged (once per interval) and reported
as ``CACHE_DOWN``, so that callers fall back to the database instead of failing the request.

Django's RedisCache raises on every call while Redis is unreachable; the portal keeps no state
only in the cache, so every caller has a database answer to fall back to.
"""

from __future__ import annotations

import logging
import threading
import time
from collections.abc import Callable
from typing import Any, Final, TypeVar

from django.core.cache import cache

logger = logging.getLogger(__name__)

T = TypeVar("T")


class _CacheDown:
    def __repr__(self) -> str:
        return "CACHE_DOWN"

    def __bool__(self) -> bool:
        return False


CACHE_DOWN: Final = _CacheDown()
# One warning per interval per process, however many requests hit the outage.
WARNING_INTERVAL_SECONDS = 60.0

try:
    from redis.exceptions import RedisError

    CACHE_ERRORS: tuple[type[BaseException], ...] = (RedisError, OSError)
except ImportError:  # pragma: no cover - redis is a dependency; locmem never raises these
    CACHE_ERRORS = (OSError,)

_lock = threading.Lock()
_last_warning = 0.0


def _report(operation: str, error: BaseException) -> None:
    global _last_warning
    now = time.monotonic()
    with _lock:
        if now - _last_warning < WARNING_INTERVAL_SECONDS:
            return
        _last_warning = now
    logger.warning(
        "cache unavailable (%s failed: %s); serving from the database",
        operation,
        type(error).__name__,
    )


def guarded(operation: str, call: Callable[[], T]) -> T | _CacheDown:
    """``call()``, or CACHE_DOWN (logged) when the cache cannot be reached."""
    try:
        return call()
    except CACHE_ERRORS as error:
        _report(operation, error)
        return CACHE_DOWN


def safe_get(key: str, default: Any = None) -> Any:
    return guarded("get", lambda: cache.get(key, default))


def safe_get_many(keys: list[str]) -> dict[str, Any] | _CacheDown:
    return guarded("get_many", lambda: cache.get_many(keys))


def safe_set(key: str, value: Any, timeout: int | None) -> bool:
    return guarded("set", lambda: cache.set(key, value, timeout)) is not CACHE_DOWN


def safe_set_many(values: dict[str, Any], timeout: int | None) -> bool:
    return guarded("set_many", lambda: cache.set_many(values, timeout)) is not CACHE_DOWN


def safe_add(key: str, value: Any, timeout: int | None) -> bool | _CacheDown:
    return guarded("add", lambda: cache.add(key, value, timeout))


def safe_incr(key: str) -> int | _CacheDown:
    """The incremented value; raises ValueError like ``cache.incr`` for a missing key."""
    return guarded("incr", lambda: cache.incr(key))


def safe_delete(key: str) -> None:
    guarded("delete", lambda: cache.delete(key))


def safe_delete_many(keys: list[str]) -> None:
    guarded("delete_many", lambda: cache.delete_many(keys))


class FailOpenCache:
    """The two calls DRF's throttles make; an unreachable cache lets the request through
    (lockout, which counts in the database, still guards passwords)."""

    def get(self, key: str, default: Any = None) -> Any:
        found = safe_get(key, default)
        return default if found is CACHE_DOWN else found

    def set(self, key: str, value: Any, timeout: int | None = None) -> None:
        safe_set(key, value, timeout)
