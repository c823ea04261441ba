"""The OAuth scopes each REST API view accepts (``oauth_scopes``), checked for OAuth tokens only.

Every API view declares them; tests walk the URL resolver to prove it, and a view without a
declaration refuses OAuth tokens (sso.authentication). First-party JWTs and the browser session
are not scoped: they are the user themselves.
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass, field
from typing import Any

from rest_framework.exceptions import PermissionDenied

INSUFFICIENT_SCOPE = "insufficient_scope"
READ = "read"
WRITE = "write"
# Administration (other people's accounts, roles, permissions, domain rules, applications):
# only an application an administrator marked as trusted may be granted these (sso.scopes).
ADMIN_READ = "admin.read"
ADMIN_WRITE = "admin.write"
ADMIN_SCOPES = frozenset({ADMIN_READ, ADMIN_WRITE})

_READ_METHODS = ("get", "head", "options")
_WRITE_METHODS = ("post", "put", "patch", "delete")


@dataclass(frozen=True)
class OAuthScopes:
    """Per HTTP method, the scopes an OAuth token must all hold; a method with no entry refuses
    OAuth tokens (RFC 6750 §3.1 insufficient_scope)."""

    by_method: Mapping[str, frozenset[str]] = field(default_factory=dict)

    def required(self, method: str) -> frozenset[str] | None:
        return self.by_method.get(method.lower())


def oauth_scopes(
    *, read: str | None = None, write: str | None = None, **methods: str
) -> OAuthScopes:
    """``read`` for GET/HEAD/OPTIONS, ``write`` for POST/PUT/PATCH/DELETE, or per method
    (``post="read"`` for a query sent by POST); nothing given refuses OAuth tokens."""
    by_method: dict[str, frozenset[str]] = {}
    for scope, names in ((read, _READ_METHODS), (write, _WRITE_METHODS)):
        if scope:
            by_method.update(dict.fromkeys(names, frozenset({scope})))
    by_method.update({name.lower(): frozenset({scope}) for name, scope in methods.items()})
    return OAuthScopes(by_method)


# The declarations the views use.
NO_OAUTH = oauth_scopes()
OWN_ACCOUNT = oauth_scopes(read=READ, write=WRITE)
OWN_ACCOUNT_READ_ONLY = oauth_scopes(read=READ)
ADMINISTRATION = oauth_scopes(read=ADMIN_READ, write=ADMIN_WRITE)


def token_scopes(request: Any) -> frozenset[str] | None:
    """The scopes of the OAuth token behind ``request``; None for a first-party caller."""
    return getattr(request, "oauth_token_scopes", None)


def oauth_scope_demand(request: Any, scope: str) -> None:
    """For a view whose answer widens with its input (e.g. asking about another user): an
    OAuth token must also hold ``scope``; first-party callers pass."""
    scopes = token_scopes(request)
    if scopes is not None and scope not in scopes:
        raise PermissionDenied(f"This access token lacks the scope {scope}.", INSUFFICIENT_SCOPE)
