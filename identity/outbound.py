"""The one way the portal calls a URL an application or an administrator gave it.

Webhook endpoints and back-channel logout URIs are typed in by people who are not the
portal's operator, so a POST to them must not become a way into the portal's own network
(server-side request forgery, OWASP ASVS 5.0 V1.3.6, RFC 9700 §4.10 by analogy):

- only ``http`` and ``https``, with no user name or password in the URL;
- the host is resolved once, and every address it resolves to must be public (globally
  routable: not loopback, private, link-local such as the cloud metadata address
  169.254.169.254, shared, multicast or reserved, nor such an address mapped into IPv6);
  then the connection goes to the address that was checked, not to a second lookup of the
  name (no DNS rebinding between the check and the connection). TLS still verifies the
  certificate against the host name (SNI), and the request carries the name in ``Host``;
- redirects are never followed (a redirect to an internal address would undo the check);
- proxies from the environment are not used; each phase has the caller's timeout; at most
  ``RESPONSE_LIMIT_BYTES`` of the answer are read.

``WEBHOOK_ALLOW_PRIVATE=true`` lifts the address rule, for receivers on the operator's own
network and for the tests, whose receivers listen on loopback.
"""

from __future__ import annotations

import ipaddress
import socket
from urllib.parse import SplitResult, urlsplit, urlunsplit

import httpx
from django.conf import settings

# A receiver answers with a status; its body is read only this far (error text for the admin).
RESPONSE_LIMIT_BYTES = 64 * 1024
_SCHEMES = {"http": 80, "https": 443}

Address = ipaddress.IPv4Address | ipaddress.IPv6Address


class OutboundRefused(Exception):
    """The URL may not be called (scheme, credentials in it, or a non-public address). Not
    worth retrying: the same URL is refused again."""


def post(
    url: str, *, content: bytes, headers: dict[str, str], timeout: float = 5.0
) -> httpx.Response:
    """POSTs ``content`` to ``url`` under the rules above; the answer, whatever its status.

    Raises OutboundRefused before any connection for a URL the rules refuse, and httpx's
    TransportError (TimeoutException included) when the receiver cannot be reached in time.
    """
    try:
        parts = urlsplit(url)
    except ValueError as error:  # an invalid IPv6 literal
        raise OutboundRefused("The URL is not valid.") from error
    host, port = _target(parts)
    address = _checked_address(host, port)
    # Connect to the checked address; tell the receiver (Host) and TLS (SNI) the name.
    literal = f"[{address}]" if address.version == 6 else str(address)
    netloc = f"{literal}:{port}"
    pinned = urlunsplit((parts.scheme, netloc, parts.path or "/", parts.query, ""))
    default_port = _SCHEMES[parts.scheme] == port
    host_header = host if default_port else f"{host}:{port}"
    request_headers = {**headers, "Host": host_header}
    extensions = {"sni_hostname": host} if parts.scheme == "https" else {}
    with (
        httpx.Client(follow_redirects=False, trust_env=False, timeout=timeout) as client,
        client.stream(
            "POST", pinned, content=content, headers=request_headers, extensions=extensions
        ) as response,
    ):
        body = bytearray()
        for chunk in response.iter_bytes():
            body.extend(chunk[: RESPONSE_LIMIT_BYTES - len(body)])
            if len(body) >= RESPONSE_LIMIT_BYTES:
                break
        return httpx.Response(
            response.status_code,
            headers=response.headers,
            content=bytes(body),
            request=httpx.Request("POST", url),
        )


def url_refusal(url: str) -> str | None:
    """Why ``url`` would be refused, or None: for forms and serializers that take a URL, so a
    person learns it when they type it rather than at the first delivery."""
    try:
        host, port = _target(urlsplit(url))
        _checked_address(host, port)
    except ValueError:  # urlsplit: an invalid IPv6 literal
        return "The URL is not valid."
    except OutboundRefused as refusal:
        return str(refusal)
    return None


def receiver_url_refusal(url: str) -> str | None:
    """Why a receiver's URL (a webhook endpoint, a back-channel logout URI) cannot be
    registered, or None: https (what the portal sends carries account data or a logout token)
    unless WEBHOOK_ALLOW_PRIVATE, no fragment (never sent, so never meant), and url_refusal's
    rule first: an internal target is named as such, whatever its scheme."""
    refusal = url_refusal(url)
    if refusal:
        return refusal
    if urlsplit(url).fragment or url.endswith("#"):
        return "The URL must not contain a fragment."
    if urlsplit(url).scheme != "https" and not settings.WEBHOOK_ALLOW_PRIVATE:
        return "Use an https URL."
    return None


def _target(parts: SplitResult) -> tuple[str, int]:
    if parts.scheme not in _SCHEMES:
        raise OutboundRefused("Only http and https URLs can be called.")
    if parts.username is not None or parts.password is not None:
        raise OutboundRefused("The URL must not carry a user name or password.")
    if not parts.hostname:
        raise OutboundRefused("The URL has no host.")
    try:
        port = parts.port or _SCHEMES[parts.scheme]
    except ValueError as error:  # a port out of range or not a number
        raise OutboundRefused("The URL's port is not valid.") from error
    return parts.hostname, port


def _checked_address(host: str, port: int) -> Address:
    """The address to connect to: the first the name resolves to, once every one of them is
    allowed (a name with one public and one internal address is refused: which one a later
    lookup returns is the attacker's choice)."""
    try:
        found = socket.getaddrinfo(host, port, type=socket.SOCK_STREAM)
    except (socket.gaierror, UnicodeError) as error:
        raise OutboundRefused(f"The host {host!r} does not resolve.") from error
    addresses = [_unmapped(ipaddress.ip_address(info[4][0].split("%", 1)[0])) for info in found]
    if not addresses:
        raise OutboundRefused(f"The host {host!r} does not resolve.")
    if not getattr(settings, "WEBHOOK_ALLOW_PRIVATE", False):
        for address in addresses:
            if not address.is_global or address.is_multicast:
                raise OutboundRefused(
                    f"The host {host!r} is not on the public internet (it resolves to {address})."
                )
    return addresses[0]


def _unmapped(address: Address) -> Address:
    """An IPv4 address mapped into IPv6 (::ffff:127.0.0.1) is judged as the IPv4 address."""
    if isinstance(address, ipaddress.IPv6Address) and address.ipv4_mapped is not None:
        return address.ipv4_mapped
    return address
