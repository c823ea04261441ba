"""DRF authentication by first-party access token (RS256 JWT from accounts.tokens)."""

from __future__ import annotations

import uuid
from typing import Any

from drf_spectacular.authentication import SessionScheme
from drf_spectacular.contrib.rest_framework_simplejwt import SimpleJWTScheme
from rest_framework import authentication as drf_authentication
from rest_framework.exceptions import AuthenticationFailed, PermissionDenied
from rest_framework.request import Request
from rest_framework_simplejwt import authentication
from rest_framework_simplejwt.exceptions import TokenError

from accounts.errors import PasswordChangeRequired
from accounts.jwt import AccessToken
from accounts.models import User
from accounts.selectors import user_get_for_access_token, user_password_change_pending
from accounts.tokens import InvalidToken

# The stable code clients key on: sign in again.
TOKEN_NOT_VALID = InvalidToken.code
REFUSAL_DETAIL = (
    "This account must choose a new password first: on the portal's pages, or through "
    "the confirm-account endpoint."
)


def refuse_pending_password_change(user: Any) -> None:
    """The API channel of the forced password change, called by every authentication class
    (session cookie, first-party token, OAuth token): 403 ``password_change_required``."""
    if user_password_change_pending(user=user):
        raise PermissionDenied(REFUSAL_DETAIL, PasswordChangeRequired.code)


class JWTAuthentication(authentication.JWTAuthentication):
    """Verifies the token locally (signature, kid, type, expiry; accounts.jwt remembers
    signatures it has checked), then loads the user and the state of the token's sign-in with
    one query: a revoked sign-in is refused at once by every process."""

    def authenticate(self, request):  # type: ignore[no-untyped-def]
        header = self.get_header(request)
        raw = self.get_raw_token(header) if header is not None else None
        if raw is not None and raw.count(b".") != 2:
            return None  # not a JWT: an opaque OAuth 2.0 token for sso.authentication
        return super().authenticate(request)

    def get_validated_token(self, raw_token: bytes) -> AccessToken:  # type: ignore[override]
        try:
            return AccessToken(raw_token)
        except TokenError as exc:
            raise AuthenticationFailed(
                "The access token is invalid or expired.", TOKEN_NOT_VALID
            ) from exc

    def get_user(self, validated_token: AccessToken) -> User:  # type: ignore[override]
        try:
            public_id = uuid.UUID(validated_token["sub"])
            sid = uuid.UUID(validated_token["sid"])
        except (KeyError, ValueError, TypeError, AttributeError) as exc:
            raise AuthenticationFailed("The access token is invalid.", TOKEN_NOT_VALID) from exc
        user, sign_in_live = user_get_for_access_token(public_id=public_id, sid=sid)
        if user is None:
            raise AuthenticationFailed("The access token is invalid.", TOKEN_NOT_VALID)
        if not sign_in_live:
            raise AuthenticationFailed("This sign-in has been revoked.", TOKEN_NOT_VALID)
        if not user.is_active:
            raise AuthenticationFailed("This account has been deactivated.", "user_inactive")
        refuse_pending_password_change(user)
        return user


class SessionAuthentication(drf_authentication.SessionAuthentication):
    """DRF's browser-session authentication (CSRF enforced), with the forced password change:
    the pages keep a flagged user on the password form, the API with the same cookie refuses."""

    def authenticate(self, request: Request) -> tuple[User, None] | None:
        found = super().authenticate(request)
        if found is not None:
            refuse_pending_password_change(found[0])
        return found


class SessionAuthenticationScheme(SessionScheme):
    """OpenAPI: the subclass is documented as DRF's cookie session scheme."""

    target_class = "accounts.api.authentication.SessionAuthentication"
    priority = 0


class JWTAuthenticationScheme(SimpleJWTScheme):
    """OpenAPI: the subclass is documented as simplejwt's bearer scheme."""

    target_class = "accounts.api.authentication.JWTAuthentication"
    name = "jwtAuth"
