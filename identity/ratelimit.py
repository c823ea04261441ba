"""A small cache-based rate limiter for pages that DRF's throttles do not cover."""

from __future__ import annotations

import hashlib
import math
import time

from django.http import HttpRequest, HttpResponse
from django.shortcuts import render

from identity.cache import CACHE_DOWN, safe_add, safe_incr, safe_set
from identity.net import client_ip

# scope -> (requests allowed, window in seconds). Sign-up may say that an account exists,
# resends and resets send email: all three are worth limiting per client IP.
PAGE_RATE_LIMITS: dict[str, tuple[int, int]] = {
    "signup": (10, 3600),
    "verify_resend": (5, 900),
    "password_reset": (5, 900),
    "password_reset_ip": (30, 900),
}


def hit(*, scope: str, key: str, limit: int, window_seconds: int) -> int | None:
    """Counts one request; returns the seconds to wait when over ``limit``, else None.

    A fixed window per (scope, key): cheap, shared by every process through the cache.
    """
    now = time.time()
    window = int(now // window_seconds)
    digest = hashlib.sha256(key.encode()).hexdigest()[:32]
    cache_key = f"ratelimit:{scope}:{digest}:{window}"
    safe_add(cache_key, 0, timeout=window_seconds)
    try:
        count = safe_incr(cache_key)
    except ValueError:  # expired between add() and incr()
        safe_set(cache_key, 1, timeout=window_seconds)
        count = 1
    if count is CACHE_DOWN or count <= limit:  # fails open: see identity.cache
        return None
    return max(1, math.ceil((window + 1) * window_seconds - now))


def page_limit(request: HttpRequest, *, scope: str, extra: str = "") -> HttpResponse | None:
    """The 429 page when the client's IP (plus ``extra``) is over the scope's limit."""
    limit, window_seconds = PAGE_RATE_LIMITS[scope]
    key = f"{client_ip(request)}|{extra.strip().lower()}"
    wait = hit(scope=scope, key=key, limit=limit, window_seconds=window_seconds)
    return None if wait is None else too_many_requests(request, retry_after=wait)


def too_many_requests(request: HttpRequest, *, retry_after: int) -> HttpResponse:
    minutes = max(1, math.ceil(retry_after / 60))
    response = render(request, "429.html", {"retry_minutes": minutes}, status=429)
    response["Retry-After"] = str(retry_after)
    return response
