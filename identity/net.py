"""The client's IP address, trusting X-Forwarded-For only from configured proxies."""

from __future__ import annotations

import ipaddress
from collections.abc import Sequence
from functools import lru_cache

from django.conf import settings
from django.http import HttpRequest

Network = ipaddress.IPv4Network | ipaddress.IPv6Network


@lru_cache(maxsize=8)
def _networks(specs: tuple[str, ...]) -> tuple[Network, ...]:
    return tuple(ipaddress.ip_network(p.strip(), strict=False) for p in specs if p.strip())


def _is_trusted(ip: str, networks: tuple[Network, ...]) -> bool:
    try:
        address = ipaddress.ip_address(ip)
    except ValueError:
        return False
    return any(address in network for network in networks)


def ip_in(ip: str, networks: Sequence[str]) -> bool:
    """Whether ``ip`` is one of ``networks`` (IP addresses or CIDRs, as the settings list them:
    TRUSTED_PROXIES, METRICS_ALLOWED_IPS); False for anything that is not an IP address."""
    return _is_trusted(ip, _networks(tuple(networks)))


# Headers a proxy adds to say whom it relays for.
_FORWARDING_HEADERS = ("HTTP_X_FORWARDED_FOR", "HTTP_FORWARDED", "HTTP_X_REAL_IP")


def relayed_by_untrusted_proxy(request: HttpRequest) -> bool:
    """The request names a client it was relayed for, but came from a peer not in
    TRUSTED_PROXIES: a proxy (a load balancer on the same host, say) whose client the portal
    cannot know, so REMOTE_ADDR is the proxy's address, not the client's."""
    if not any(request.META.get(header) for header in _FORWARDING_HEADERS):
        return False
    networks = _networks(tuple(settings.TRUSTED_PROXIES))
    return not _is_trusted(request.META.get("REMOTE_ADDR", ""), networks)


def client_ip(request: HttpRequest) -> str:
    """REMOTE_ADDR, unless it is a trusted proxy: then the right-most untrusted hop.

    Walking X-Forwarded-For from the right means a client cannot spoof its address by
    sending its own header: only hops appended by trusted proxies are skipped.
    """
    remote = request.META.get("REMOTE_ADDR", "") or "0.0.0.0"  # noqa: S104
    networks = _networks(tuple(settings.TRUSTED_PROXIES))
    if not networks or not _is_trusted(remote, networks):
        return remote
    forwarded = request.META.get("HTTP_X_FORWARDED_FOR", "")
    hops = [hop.strip() for hop in forwarded.split(",") if hop.strip()]
    for hop in reversed(hops):
        if not _is_trusted(hop, networks):
            try:
                return str(ipaddress.ip_address(hop))
            except ValueError:
                return remote
    return remote
