"""Rate limits for the unauthenticated entry points: per client IP and per login identifier.

Views name a ``throttle_scope``; the IP limit uses that scope's rate and the identifier limit
the ``<scope>_identifier`` rate. Rates are read on every call (not cached on the class), so
settings overrides apply at once.
"""

from __future__ import annotations

import hashlib
from typing import Any

from rest_framework.request import Request
from rest_framework.settings import api_settings
from rest_framework.throttling import SimpleRateThrottle

from identity.cache import FailOpenCache
from identity.net import client_ip


class _ScopedThrottle(SimpleRateThrottle):
    suffix = ""
    cache = FailOpenCache()  # a cache outage must not turn sign-in into a 500

    def __init__(self) -> None:  # the base class reads the rate here; allow_request does
        pass

    def get_rate(self) -> str | None:
        return api_settings.DEFAULT_THROTTLE_RATES.get(self.scope)

    def allow_request(self, request: Request, view: Any) -> bool:
        base = getattr(view, "throttle_scope", None)
        if not base:
            return True
        self.scope = base + self.suffix
        self.rate = self.get_rate()
        if self.rate is None:
            return True
        self.num_requests, self.duration = self.parse_rate(self.rate)
        return super().allow_request(request, view)


class ScopedIPThrottle(_ScopedThrottle):
    """Counts calls per client IP (identity.net.client_ip trusts only configured proxies)."""

    def get_cache_key(self, request: Request, view: Any) -> str:
        return self.cache_format % {"scope": self.scope, "ident": client_ip(request._request)}


class ScopedIdentifierThrottle(_ScopedThrottle):
    """Counts calls per account identifier (the view's ``throttle_identifier_field``), so that
    one account cannot be hammered from many addresses."""

    suffix = "_identifier"

    def get_cache_key(self, request: Request, view: Any) -> str | None:
        field = getattr(view, "throttle_identifier_field", None)
        data = request.data
        value = data.get(field) if field and isinstance(data, dict) else None
        if not isinstance(value, str) or not value.strip():
            return None
        # Hashed: cache keys must not hold addresses, and keep a bounded length.
        ident = hashlib.sha256(value.strip().lower().encode()).hexdigest()
        return self.cache_format % {"scope": self.scope, "ident": ident}


AUTH_THROTTLES = [ScopedIPThrottle, ScopedIdentifierThrottle]
