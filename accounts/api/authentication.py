"""DRF authentication by first-party access token (RS256 JWT from accounts.tokens)."""

from __future__ import annotations

import uuid

from drf_spectacular.contrib.rest_framework_simplejwt import SimpleJWTScheme
from rest_framework.exceptions import AuthenticationFailed
from rest_framework_simplejwt import authentication
from rest_framework_simplejwt.exceptions import TokenError

from accounts.jwt import AccessToken
from accounts.models import User
from accounts.selectors import user_get_for_access_token
from accounts.tokens import InvalidToken

# The stable code clients key on: sign in again.
TOKEN_NOT_VALID = InvalidToken.code


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
        return user


class JWTAuthenticationScheme(SimpleJWTScheme):
    """OpenAPI: the subclass is documented as simplejwt's bearer scheme."""

    target_class = "accounts.api.authentication.JWTAuthentication"
    name = "jwtAuth"
