"""One rate limiter for pages and API: settings.RATE_LIMITS counted in the cache; the 429 page."""

from __future__ import annotations

import functools
import math
import re
import time
from dataclasses import dataclass

from django.conf import settings
from django.core import checks
from django.core.cache import cache
from django.http import HttpRequest, HttpResponse
from django.shortcuts import render

from identity.cache import CACHE_DOWN, guarded, safe_get_many
from identity.hashing import key_digest
from identity.net import client_ip

# A limit <name> counts per client IP; <name>_identifier counts per account identifier (the
# login, the email address) and client IP, as django-axes counts username+IP: counted per
# identifier alone, it would be a switch any stranger could flip to lock the owner out of
# sign-in or reset from everywhere (issue 16, item 10). Guessing one account from many
# addresses is bounded by axes' lockout and the reset code's attempt counter.
IDENTIFIER_SUFFIX = "_identifier"
# Except these, counted per identifier alone, from anywhere. Sign-up's locks no account out of
# anything (sign-in, reset and resend have limits of their own) and at most delays registering
# an address someone else is hammering; counted across addresses, it caps how often a
# distributed client can probe one address with sign-up's duplicate check or mail it.
IDENTIFIER_ALONE = frozenset({"signup"})
# Part of every counter's key ("throttle:<limit>:<digest>"), as DRF's throttles named theirs.
KEY_PREFIX = "throttle"

_RATE = re.compile(r"(\d+)/(\d*)([smhd])[a-z]*")
_UNIT_SECONDS = {"s": 1, "m": 60, "h": 3600, "d": 86400}


@dataclass(frozen=True)
class Rate:
    requests: int
    seconds: int


@functools.lru_cache(maxsize=64)
def rate_parse(text: str) -> Rate:
    """``N/period`` as DRF writes rates (``10/min``, ``5/hour``), or with a count of periods
    (``5/15min``)."""
    match = _RATE.fullmatch(text.strip().lower().replace(" ", ""))
    if match is None or int(match.group(2) or 1) == 0:  # a window of no time counts nothing
        raise ValueError(f"rate {text!r} is not N/period, such as 10/min, 5/hour or 5/15min")
    requests, periods, unit = match.groups()
    return Rate(requests=int(requests), seconds=int(periods or 1) * _UNIT_SECONDS[unit])


def rate_get(name: str) -> Rate | None:
    """The limit ``name`` of settings.RATE_LIMITS, None when unset. Read on every call, so that
    a settings override applies at once."""
    text = settings.RATE_LIMITS.get(name)
    return None if text is None else rate_parse(text)


def rate_limits_check(**kwargs: object) -> list[checks.CheckMessage]:
    """A system check: a malformed rate would fail every request it limits, not the start."""
    errors = []
    for name, text in settings.RATE_LIMITS.items():
        try:
            rate_parse(text)
        except (ValueError, AttributeError) as error:
            errors.append(checks.Error(f"RATE_LIMITS[{name!r}]: {error}", id="identity.E001"))
    return errors


def _counters(*, scope: str, ip: str, identifier: str | None) -> list[tuple[str, Rate]]:
    """The (cache key, rate) of each of ``scope``'s limits that applies to this request."""
    counters = []
    if (rate := rate_get(scope)) is not None:
        counters.append((f"{KEY_PREFIX}:{scope}:{key_digest(ip)}", rate))
    material = identifier.strip().lower() if isinstance(identifier, str) else ""
    name = scope + IDENTIFIER_SUFFIX
    if material and (rate := rate_get(name)) is not None:
        parts = (material,) if scope in IDENTIFIER_ALONE else (material, ip)
        counters.append((f"{KEY_PREFIX}:{name}:{key_digest(*parts)}", rate))
    return counters


def _wait(history: list[float], rate: Rate, now: float) -> int:
    """Seconds until the window holds fewer than ``rate.requests`` calls (history is newest
    first); whole seconds, at least one, as Retry-After is written."""
    if not rate.requests:
        return max(1, rate.seconds)
    return max(1, math.ceil(history[rate.requests - 1] + rate.seconds - now))


def rate_limit_hit(*, scope: str, ip: str, identifier: str | None = None) -> int | None:
    """Counts one request against ``scope`` (per ``ip``) and ``<scope>_identifier`` (per
    ``identifier``, see above); the seconds to wait when a limit refuses it, else None.

    A sliding window: each counter is the list of its accepted calls' times, as DRF's
    SimpleRateThrottle keeps it. Every limit of a request costs one cache read of all the lists
    and one write, not a round trip per limit and operation: sign-in is a benchmarked hot path.
    As DRF's check_throttles does for two throttles, a call is counted by each limit that lets
    it through even when another refuses it (rotating identifiers from one address still spends
    the address's allowance); the wait is the longest. An unreachable cache lets the call
    through rather than failing it: lockout, which counts in the database, still guards
    passwords.
    """
    counters = _counters(scope=scope, ip=ip, identifier=identifier)
    if not counters:
        return None
    histories = safe_get_many([key for key, _ in counters])
    if histories is CACHE_DOWN:
        return None
    now = time.time()
    waits: list[int] = []
    writes: dict[str, list[float]] = {}
    for key, rate in counters:
        history = [t for t in histories.get(key, ()) if t > now - rate.seconds]
        if len(history) >= rate.requests:
            waits.append(_wait(history, rate, now))
        else:
            writes[key] = [now, *history]
    if writes:
        # One write with the longest window as the timeout: a list kept a little longer than
        # its own window costs memory only, as reads drop the times outside the window.
        timeout = max(rate.seconds for key, rate in counters if key in writes)
        guarded("set_many", functools.partial(cache.set_many, writes, timeout))
    return max(waits, default=None)


def page_limit(
    request: HttpRequest, *, scope: str, identifier: str | None = None
) -> HttpResponse | None:
    """The 429 page when the client is over ``scope``'s limits, the ones its API twin has."""
    wait = rate_limit_hit(scope=scope, ip=client_ip(request), identifier=identifier)
    return None if wait is None else too_many_requests(request, retry_after=wait)


def too_many_requests(request: HttpRequest, *, retry_after: int) -> HttpResponse:
    minutes = max(1, math.ceil(retry_after / 60))
    response = render(request, "429.html", {"retry_minutes": minutes}, status=429)
    response["Retry-After"] = str(retry_after)
    return response
