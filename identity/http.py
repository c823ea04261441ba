"""The one parser of the Authorization request header (RFC 9110 §11.6.2), for every channel."""

from __future__ import annotations

from typing import Any, NamedTuple


class Authorization(NamedTuple):
    scheme: str  # lower case: auth-schemes are case-insensitive (RFC 9110 §11.1)
    credentials: str  # the token68 or auth-params after the scheme, surrounding spaces removed


def authorization(request: Any) -> Authorization:
    """``(scheme, credentials)`` of the request's Authorization header; ``("", "")`` without
    one. ``request`` is Django's or DRF's (both carry ``META``). Callers compare the scheme
    with a lower-case name and refuse empty credentials themselves."""
    # A field value has no leading or trailing whitespace (RFC 9110 §5.5); one or more spaces
    # separate the scheme from its credentials (§11.4).
    header = request.META.get("HTTP_AUTHORIZATION", "").strip()
    scheme, _, credentials = header.partition(" ")
    return Authorization(scheme.lower(), credentials.strip())
