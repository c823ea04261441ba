"""Rate limits for the unauthenticated entry points: per client IP and per (identifier, IP).

Views name a ``throttle_scope``; the IP limit uses that scope's rate and the identifier limit
the ``<scope>_identifier`` rate. Rates are read on every call (not cached on the class), so
settings overrides apply at once.

The identifier limit counts the pair of the login identifier and the client IP, as django-axes
counts username+IP: counted per identifier alone, it would be a switch any stranger could flip
to lock the owner out of sign-in or reset from everywhere (issue 16, item 10). Guessing one
account from many addresses is bounded by axes' lockout and the reset code's attempt counter.
"""

from __future__ import annotations

import functools
import hashlib
from typing import Any

from django.core.cache import cache
from rest_framework.request import Request
from rest_framework.settings import api_settings
from rest_framework.throttling import BaseThrottle, SimpleRateThrottle

from identity.cache import CACHE_DOWN, guarded, safe_get_many
from identity.net import client_ip


class _ScopedThrottle(SimpleRateThrottle):
    """One limit of ScopedAuthThrottle: DRF's rate parsing, cache key format and wait()."""

    suffix = ""

    def __init__(self) -> None:  # the base class reads the rate here; prepare does
        pass

    def get_rate(self) -> str | None:
        return api_settings.DEFAULT_THROTTLE_RATES.get(self.scope)

    def prepare(self, request: Request, view: Any) -> bool:
        """Sets this limit's scope, rate and cache key; False when it does not apply."""
        base = getattr(view, "throttle_scope", None)
        if not base:
            return False
        self.scope = base + self.suffix
        self.rate = self.get_rate()
        if self.rate is None:
            return False
        self.num_requests, self.duration = self.parse_rate(self.rate)
        self.key = self.get_cache_key(request, view)
        return self.key is not None


class ScopedIPThrottle(_ScopedThrottle):
    """Counts calls per client IP (identity.net.client_ip trusts only configured proxies)."""

    def get_cache_key(self, request: Request, view: Any) -> str:
        return self.cache_format % {"scope": self.scope, "ident": client_ip(request._request)}


class ScopedIdentifierThrottle(_ScopedThrottle):
    """Counts calls per account identifier (the view's ``throttle_identifier_field``) and
    client IP, so that one address cannot hammer one account. A view whose identifier limit
    can lock no existing account out sets ``throttle_identifier_per_ip = False`` to count the
    identifier alone."""

    suffix = "_identifier"

    def get_cache_key(self, request: Request, view: Any) -> str | None:
        field = getattr(view, "throttle_identifier_field", None)
        data = request.data
        value = data.get(field) if field and isinstance(data, dict) else None
        if not isinstance(value, str) or not value.strip():
            return None
        material = value.strip().lower()
        if getattr(view, "throttle_identifier_per_ip", True):
            material = f"{material}|{client_ip(request._request)}"
        # Hashed: cache keys must not hold addresses, and keep a bounded length.
        ident = hashlib.sha256(material.encode()).hexdigest()
        return self.cache_format % {"scope": self.scope, "ident": ident}


class ScopedAuthThrottle(BaseThrottle):
    """The IP limit and the identifier limit together, with DRF's own sliding-window counting
    (SimpleRateThrottle's history of request times), in two cache round trips, one read of
    both histories and one write, where the two throttles one after the other take four.

    As DRF's check_throttles does for two throttles, a request is counted by each limit that
    lets it through, even when the other refuses it; Retry-After is the longer wait. An
    unreachable cache lets the request through, not a 500 (lockout, which counts in the
    database, still guards passwords)."""

    parts = (ScopedIPThrottle, ScopedIdentifierThrottle)

    def __init__(self) -> None:
        self.refused: list[SimpleRateThrottle] = []

    def allow_request(self, request: Request, view: Any) -> bool:
        active = [part for part in (cls() for cls in self.parts) if part.prepare(request, view)]
        if not active:
            return True
        histories = safe_get_many([part.key for part in active])
        if histories is CACHE_DOWN:
            return True
        now = active[0].timer()
        writes: dict[int, dict[str, list[float]]] = {}
        for part in active:
            part.now = now
            part.history = [t for t in histories.get(part.key, []) if t > now - part.duration]
            if len(part.history) >= part.num_requests:
                self.refused.append(part)
            else:
                part.history.insert(0, now)
                writes.setdefault(part.duration, {})[part.key] = part.history
        for duration, values in writes.items():  # one duration unless the two rates differ
            guarded("set_many", functools.partial(cache.set_many, values, duration))
        return not self.refused

    def wait(self) -> float | None:
        waits = [wait for wait in (part.wait() for part in self.refused) if wait is not None]
        return max(waits, default=None)


AUTH_THROTTLES = [ScopedAuthThrottle]
