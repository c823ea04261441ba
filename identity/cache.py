"""Cache calls that survive a cache outage: errors are logged (once per interval) and reported
as ``CACHE_DOWN``, so that callers fall back to the database instead of failing the request.

Django's RedisCache raises on every call while Redis is unreachable; the portal keeps no state
only in the cache, so every caller has a database answer to fall back to.

Invalidations are never lost. A revocation made during an outage reaches the database but not
the cache, which still holds what it cached before (a resolved OAuth token, a permission
answer, an application row) and would serve it again once it answers. So the writes that
invalidate (``invalidate``, ``safe_delete``, ``safe_delete_many``, and ``safe_set_many``, which
publishes revocations) are queued while the cache is down and replayed in order when it is
back: by this process before it reads the cache again (every call replays first and reports
CACHE_DOWN until the replay succeeds), and by a background retry every REPLAY_RETRY_SECONDS
for the other processes, which never saw the revocation.
"""

from __future__ import annotations

import logging
import threading
import time
from collections.abc import Callable
from typing import Any, Final, TypeVar

from django.core.cache import cache

from identity import metrics

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
    """``call()``, or CACHE_DOWN (logged) when the cache cannot be reached or still misses an
    invalidation made while it was down."""
    if _pending and not _replay():
        return _fallen_back()
    try:
        result = call()
    except CACHE_ERRORS as error:
        _report(operation, error)
        return _fallen_back()
    if _down:
        _state_set(down=False)
    return result


# Whether the last call fell back; the metrics' gauge moves only when this changes.
_down = False


def _fallen_back() -> _CacheDown:
    metrics.cache_fallback_record()
    if not _down:
        _state_set(down=True)
    return CACHE_DOWN


def _state_set(*, down: bool) -> None:
    global _down
    _down = down
    metrics.cache_state_record(down=down)


# -- invalidations made during an outage ------------------------------------------------------

REPLAY_RETRY_SECONDS = 0.5
# Key -> the write that invalidates it; a key invalidated twice is replayed once, the last way.
_pending: dict[str, Callable[[], Any]] = {}
_pending_lock = threading.Lock()
_replay_lock = threading.Lock()
_retrying = False


def invalidate(key: str, call: Callable[[], Any]) -> None:
    """``call()``, a write that makes the cached ``key`` stale or gone; kept and replayed when
    the cache is back if it cannot be reached now."""
    if guarded("invalidate", call) is CACHE_DOWN:
        _keep(key, call)


def _keep(key: str, call: Callable[[], Any]) -> None:
    global _retrying
    with _pending_lock:
        _pending.pop(key, None)  # re-inserted last: replay keeps the order of the changes
        _pending[key] = call
        start, _retrying = not _retrying, True
    if start:
        threading.Thread(target=_retry, name="cache-replay", daemon=True).start()


def _replay() -> bool:
    """Replays the kept invalidations; True once none is left. One thread replays at a time,
    and the others meanwhile treat the cache as down."""
    if not _replay_lock.acquire(blocking=False):
        return False
    try:
        with _pending_lock:
            todo = list(_pending.items())
        for key, call in todo:
            try:
                call()
            except CACHE_ERRORS as error:
                _report("replay", error)
                return False
            with _pending_lock:
                if _pending.get(key) is call:
                    del _pending[key]
    finally:
        _replay_lock.release()
    if todo:
        logger.warning("cache reachable again; %d invalidations made meanwhile replayed", len(todo))
    return not _pending


def _retry() -> None:
    """Replays in the background, so that the cache stops serving stale entries to every
    process as soon as it is back, whether or not this process serves a request."""
    global _retrying
    try:
        while True:
            time.sleep(REPLAY_RETRY_SECONDS)
            _replay()
            with _pending_lock:
                if not _pending:
                    _retrying = False  # under the lock: a key kept now starts a new thread
                    return
    except BaseException:
        with _pending_lock:
            _retrying = False
        raise


def safe_get(key: str, default: Any = None) -> Any:
    return guarded("get", lambda: cache.get(key, default))


def safe_get_many(keys: list[str]) -> dict[str, Any] | _CacheDown:
    return guarded("get_many", lambda: cache.get_many(keys))


def safe_set(key: str, value: Any, timeout: int | None) -> bool:
    return guarded("set", lambda: cache.set(key, value, timeout)) is not CACHE_DOWN


def safe_set_many(values: dict[str, Any], timeout: int | None) -> bool:
    """Publishes markers (revoked sign-ins): an invalidation, replayed if the cache is down."""
    if guarded("set_many", lambda: cache.set_many(values, timeout)) is not CACHE_DOWN:
        return True
    for key, value in values.items():
        _keep(key, lambda key=key, value=value: cache.set(key, value, timeout))
    return False


def safe_add(key: str, value: Any, timeout: int | None) -> bool | _CacheDown:
    return guarded("add", lambda: cache.add(key, value, timeout))


def safe_incr(key: str) -> int | _CacheDown:
    """The incremented value; raises ValueError like ``cache.incr`` for a missing key."""
    return guarded("incr", lambda: cache.incr(key))


def safe_delete(key: str) -> None:
    invalidate(key, lambda: cache.delete(key))


def safe_delete_many(keys: list[str]) -> None:
    if keys and guarded("delete_many", lambda: cache.delete_many(keys)) is CACHE_DOWN:
        for key in keys:
            _keep(key, lambda key=key: cache.delete(key))
