"""DRF's throttle interface over identity.ratelimit: an API view has the limits of its page twin."""

from __future__ import annotations

from typing import Any

from rest_framework.request import Request
from rest_framework.throttling import BaseThrottle

from identity.net import client_ip
from identity.ratelimit import rate_limit_hit


def _identifier(request: Request, view: Any) -> str | None:
    field = getattr(view, "throttle_identifier_field", None)
    if not field:
        return None
    data = request.data
    value = data.get(field) if isinstance(data, dict) else None
    return value if isinstance(value, str) else None


class RateLimitThrottle(BaseThrottle):
    """Refuses with 429 ``throttled`` and Retry-After (DRF's Throttled) what the limiter
    refuses; one cache read and one write for all of the view's limits.

    A view names its limit with ``throttle_scope`` (a name in settings.RATE_LIMITS) and the
    request field that names the account with ``throttle_identifier_field``; how each limit
    counts (per IP, per identifier and IP, per identifier alone) is the limiter's, the same for
    pages and API."""

    def __init__(self) -> None:
        self.retry_after: int | None = None

    def allow_request(self, request: Request, view: Any) -> bool:
        scope = getattr(view, "throttle_scope", None)
        if not scope:
            return True
        self.retry_after = rate_limit_hit(
            scope=scope, ip=client_ip(request._request), identifier=_identifier(request, view)
        )
        return self.retry_after is None

    def wait(self) -> int | None:
        return self.retry_after


AUTH_THROTTLES = [RateLimitThrottle]
