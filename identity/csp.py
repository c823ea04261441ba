"""CSP form-action for forms whose answer ends in a redirect to another site.

Chromium checks ``form-action`` against every hop of the redirect chain that follows a form
submission (CSP Level 3 §6.4.1 leaves this open; Chromium enforces it), so a form whose answer
redirects on to a client application must allow that client's origin. identity knows no
client: an app whose pages send the browser on (sso's authorization requests) registers a hook
that decides, from the page's ``next``, which registered origin to allow. Never a wildcard.
"""

from __future__ import annotations

import re
from collections.abc import Callable
from urllib.parse import urlsplit

from django.conf import settings
from django.http import HttpResponse

# hook(response, next_url=...) -> the response, its form-action widened or not.
NextHook = Callable[..., HttpResponse]

_SELF = "form-action 'self'"
# scheme://host[:port]: nothing that could end the directive or add another source.
_ORIGIN = re.compile(r"[a-z][a-z0-9+.-]*://([a-z0-9.-]+|\[[0-9a-f:.]+\])(:\d{1,5})?")
_next_hooks: list[NextHook] = []


def form_action_hook_register(hook: NextHook) -> None:
    """Called from an AppConfig.ready(); registering twice (a reloaded app) adds nothing."""
    if hook not in _next_hooks:
        _next_hooks.append(hook)


def form_action_allow(response: HttpResponse, *, redirect_uri: str) -> HttpResponse:
    """Adds the origin of ``redirect_uri`` to this response's form-action."""
    parts = urlsplit(redirect_uri or "")
    origin = f"{parts.scheme}://{parts.netloc}".lower() if parts.scheme and parts.netloc else ""
    policy = response.get("Content-Security-Policy") or settings.CONTENT_SECURITY_POLICY
    if origin and _ORIGIN.fullmatch(origin) and _SELF in policy:
        response["Content-Security-Policy"] = policy.replace(_SELF, f"{_SELF} {origin}", 1)
    return response


def form_action_allow_next(response: HttpResponse, *, next_url: str) -> HttpResponse:
    """A sign-in page's form-action for its ``next``: whatever the registered hooks allow."""
    for hook in _next_hooks:
        response = hook(response, next_url=next_url)
    return response
