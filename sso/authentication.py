"""DRF authentication by OAuth 2.0 access token (RFC 6750 §2.1, header only), scopes checked.

At most one query per token, none for a repeated token within OAUTH_TOKEN_CACHE_SECONDS
(sso.selectors.access_token_resolve): stock django-oauth-toolkit runs the whole oauthlib
request validation and two or three queries per API call.
"""

from __future__ import annotations

from typing import Any

from drf_spectacular.extensions import OpenApiAuthenticationExtension
from oauth2_provider.contrib.rest_framework import authentication
from rest_framework.exceptions import AuthenticationFailed, PermissionDenied
from rest_framework.request import Request

from accounts.api.authentication import refuse_pending_password_change
from identity.api.scopes import ADMIN_SCOPES, INSUFFICIENT_SCOPE, OAuthScopes
from identity.http import authorization
from sso.selectors import ResolvedAccessToken, access_token_resolve

TOKEN_NOT_VALID = "token_not_valid"  # noqa: S105 - an error code


def bearer_token(request: Any) -> str | None:
    """The opaque token of an ``Authorization: Bearer`` header; JWTs (two dots) are not ours."""
    scheme, token = authorization(request)
    if scheme != "bearer" or not token or token.count(".") == 2:
        return None
    return token


class OAuth2Authentication(authentication.OAuth2Authentication):
    """The user behind the token (a client-credentials token: its application's service
    account), with the scope the view declares for the method (identity.api.scopes) checked.
    The authz permission check still runs for that user: a token acts with its scope
    intersected with the user's own permissions."""

    def authenticate(self, request: Request) -> tuple[Any, ResolvedAccessToken] | None:
        raw = bearer_token(request)
        if raw is None:
            return None
        token = access_token_resolve(raw_token=raw)
        user = None if token is None else (token.user or token.service_account)
        if user is None:
            # A client-credentials token of an application without a service account acts for
            # nobody: the portal API has nothing for it.
            request.oauth2_error = {"error": "invalid_token"}
            raise AuthenticationFailed("The access token is invalid or expired.", TOKEN_NOT_VALID)
        refuse_pending_password_change(user)
        granted = granted_scopes(token)
        _check_scope(request, granted)
        request._request.oauth_token_scopes = granted
        return user, token


def granted_scopes(token: ResolvedAccessToken) -> frozenset[str]:
    """The token's scopes, less the administration scopes once the application is no longer
    trusted (a refresh carries the original scopes forward without asking sso.scopes)."""
    scopes = frozenset(token.scopes)
    return scopes if token.application_trusted else scopes - ADMIN_SCOPES


def _check_scope(request: Request, granted: frozenset[str]) -> None:
    # RFC 6750 §3.1: a valid token without the scope the resource needs is a 403. A view that
    # declares nothing, or nothing for this method, accepts no OAuth token at all.
    view = request.parser_context.get("view") if request.parser_context else None
    declared = getattr(view, "oauth_scopes", None)
    required = declared.required(request.method or "") if declared is not None else None
    if required is not None and required <= granted:
        return
    request.oauth2_error = {"error": INSUFFICIENT_SCOPE}
    wanted = " ".join(sorted(required)) if required else None
    raise PermissionDenied(
        f"This access token lacks the scope {wanted}."
        if wanted
        else "This endpoint accepts no OAuth access token; sign in to the portal instead.",
        INSUFFICIENT_SCOPE,
    )


class OAuth2AuthenticationScheme(OpenApiAuthenticationExtension):
    """Lists, per operation, the scope its view declares; operations that accept no OAuth
    token carry no oauth2 requirement."""

    target_class = "sso.authentication.OAuth2Authentication"
    name = "oauth2"

    def get_security_definition(self, auto_schema: Any) -> dict[str, Any]:
        scopes = {
            "read": "Read your own account through the API",
            "write": "Change your own account through the API (never email, password, factors "
            "or deletion)",
            "admin.read": "Read the administration API, within the user's own permissions "
            "(trusted applications only)",
            "admin.write": "Change through the administration API, within the user's own "
            "permissions (trusted applications only)",
        }
        return {
            "type": "oauth2",
            "flows": {
                "authorizationCode": {
                    "authorizationUrl": "/o/authorize/",
                    "tokenUrl": "/o/token/",
                    "scopes": scopes,
                },
                # A trusted application's service account (its own roles).
                "clientCredentials": {"tokenUrl": "/o/token/", "scopes": scopes},
            },
        }

    def get_security_requirement(self, auto_schema: Any) -> dict[str, list[str]] | None:
        declared = getattr(auto_schema.view, "oauth_scopes", None)
        if not isinstance(declared, OAuthScopes):
            return None
        required = declared.required(auto_schema.method or "")
        return {self.name: sorted(required)} if required else None
