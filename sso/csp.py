"""CSP form-action for forms whose answer ends in a redirect to a client application.

Chromium checks ``form-action`` against every hop of the redirect chain that follows a form
submission (CSP Level 3 §6.4.1 leaves this open; Chromium enforces it), so the consent form and
the login form of an authorization request must allow the client's redirect URI origin. Only a
registered redirect URI of a real application is ever added, never a wildcard.
"""

from __future__ import annotations

import re
from urllib.parse import parse_qs, urlsplit

from django.conf import settings
from django.http import HttpResponse
from django.urls import reverse

from sso import selectors

_SELF = "form-action 'self'"
# scheme://host[:port]: nothing that could end the directive or add another source.
_ORIGIN = re.compile(r"[a-z][a-z0-9+.-]*://([a-z0-9.-]+|\[[0-9a-f:.]+\])(:\d{1,5})?")


def form_action_allow(response: HttpResponse, *, redirect_uri: str) -> HttpResponse:
    """Adds the origin of ``redirect_uri`` to this response's form-action."""
    parts = urlsplit(redirect_uri or "")
    origin = f"{parts.scheme}://{parts.netloc}".lower() if parts.scheme and parts.netloc else ""
    policy = response.get("Content-Security-Policy") or settings.CONTENT_SECURITY_POLICY
    if origin and _ORIGIN.fullmatch(origin) and _SELF in policy:
        response["Content-Security-Policy"] = policy.replace(_SELF, f"{_SELF} {origin}", 1)
    return response


def form_action_allow_authorize_next(response: HttpResponse, *, next_url: str) -> HttpResponse:
    """On the login page of an authorization request (``next`` is /o/authorize/?...), a user
    whose consent is remembered goes login POST -> 302 /o/authorize/ -> 302 the client: allow
    the client's redirect URI when it is registered for the client_id of the request."""
    parts = urlsplit(next_url or "")
    if not next_url or parts.path != reverse("oauth2_provider:authorize"):
        return response
    query = parse_qs(parts.query)
    client_id = (query.get("client_id") or [""])[0]
    application = selectors.application_get(client_id=client_id) if client_id else None
    if application is None:
        return response
    registered = application.redirect_uris.split()
    redirect_uri = (query.get("redirect_uri") or [""])[0]
    if not redirect_uri and len(registered) == 1:
        redirect_uri = registered[0]  # oauthlib uses the only registered URI
    if not redirect_uri or not application.redirect_uri_allowed(redirect_uri):
        return response
    return form_action_allow(response, redirect_uri=redirect_uri)
