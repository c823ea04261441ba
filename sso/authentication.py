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
from rest_framework.permissions import SAFE_METHODS
from rest_framework.request import Request

from accounts.api.authentication import refuse_pending_password_change
from sso.selectors import ResolvedAccessToken, access_token_resolve

TOKEN_NOT_VALID = "token_not_valid"  # noqa: S105 - an error code
INSUFFICIENT_SCOPE = "insufficient_scope"


def bearer_token(request: Any) -> str | None:
    """The opaque token of an ``Authorization: Bearer`` header; JWTs (two dots) are not ours."""
    header = request.META.get("HTTP_AUTHORIZATION", "")
    scheme, _, token = header.partition(" ")
    token = token.strip()
    if scheme.lower() != "bearer" or not token or token.count(".") == 2:
        return None
    return token


class OAuth2Authentication(authentication.OAuth2Authentication):
    def authenticate(self, request: Request) -> tuple[Any, ResolvedAccessToken] | None:
        raw = bearer_token(request)
        if raw is None:
            return None
        token = access_token_resolve(raw_token=raw)
        if token is None or token.user is None:
            # Client-credentials tokens act for no user: the portal API has nothing for them.
            request.oauth2_error = {"error": "invalid_token"}
            raise AuthenticationFailed("The access token is invalid or expired.", TOKEN_NOT_VALID)
        refuse_pending_password_change(token.user)
        self._check_scope(request, token)
        return token.user, token

    @staticmethod
    def _check_scope(request: Request, token: ResolvedAccessToken) -> None:
        # RFC 6750 §3.1: a valid token without the scope the resource needs is a 403.
        view = request.parser_context.get("view") if request.parser_context else None
        required = set(getattr(view, "required_scopes", None) or [])
        if not required:
            required = {"read"} if request.method in SAFE_METHODS else {"write"}
        if not required <= token.scopes:
            request.oauth2_error = {"error": INSUFFICIENT_SCOPE}
            raise PermissionDenied(
                f"This access token lacks the scope {' '.join(sorted(required))}.",
                INSUFFICIENT_SCOPE,
            )


class OAuth2AuthenticationScheme(OpenApiAuthenticationExtension):
    target_class = "sso.authentication.OAuth2Authentication"
    name = "oauth2"

    def get_security_definition(self, auto_schema: Any) -> dict[str, Any]:
        return {
            "type": "oauth2",
            "flows": {
                "authorizationCode": {
                    "authorizationUrl": "/o/authorize/",
                    "tokenUrl": "/o/token/",
                    "scopes": {"read": "Read through the API", "write": "Change through the API"},
                }
            },
        }
