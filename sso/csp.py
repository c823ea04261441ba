"""The login page of an authorization request allows the client's redirect URI in CSP
form-action: a hook registered with identity.csp (sso.apps), since accounts' pages know no
application. Only a registered redirect URI of a real application is ever added.
"""

from __future__ import annotations

from urllib.parse import parse_qs, urlsplit

from django.http import HttpResponse
from django.urls import reverse

from identity.csp import form_action_allow
from sso import selectors


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
