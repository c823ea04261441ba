"""simplejwt on the portal's key set: an RS256 backend with ``kid`` headers, and token types."""

from __future__ import annotations

from datetime import timedelta
from typing import Any

import jwt
from django.conf import settings
from rest_framework_simplejwt import tokens
from rest_framework_simplejwt.backends import TokenBackend
from rest_framework_simplejwt.exceptions import TokenBackendError, TokenBackendExpiredToken

from identity.keys import ALGORITHM, SigningKey, signing_keys

# Claims every first-party token must carry (RFC 7519 §4.1); `sub` and `sid` tie it to a sign-in.
REQUIRED_CLAIMS = ["iss", "sub", "sid", "iat", "exp", "jti", "token_type"]


def jwt_setting(name: str) -> Any:
    """One SIMPLE_JWT value, read at call time so that test overrides apply."""
    return settings.SIMPLE_JWT[name]


class KeySetTokenBackend(TokenBackend):
    """Signs with the active key and names it in ``kid``; verifies with the key ``kid`` names."""

    def __init__(self) -> None:
        super().__init__(ALGORITHM)

    @property
    def issuer(self) -> str:  # type: ignore[override]
        return jwt_setting("ISSUER")

    @issuer.setter
    def issuer(self, value: str | None) -> None:
        """The issuer always comes from settings; the base class's assignment is ignored."""

    def get_leeway(self) -> timedelta:
        leeway = jwt_setting("LEEWAY")
        return leeway if isinstance(leeway, timedelta) else timedelta(seconds=leeway)

    def encode(self, payload: dict[str, Any]) -> str:
        key = signing_keys().active
        claims = {**payload, "iss": self.issuer}
        # RFC 7515 §4.1.4: kid lets verifiers pick the key across rotations.
        return jwt.encode(claims, key.private_key, algorithm=ALGORITHM, headers={"kid": key.kid})

    def decode(self, token: str | bytes, verify: bool = True) -> dict[str, Any]:
        """Verified claims; ``verify=False`` skips time checks, never the signature."""
        key = self._verifying_key(token)
        try:
            return jwt.decode(
                token,
                key.public_key,
                # A fixed list: alg "none" and HS256 keyed with the public key are refused
                # (RFC 8725 §3.1).
                algorithms=[ALGORITHM],
                issuer=self.issuer,
                leeway=self.get_leeway(),
                options={"require": REQUIRED_CLAIMS, "verify_exp": verify, "verify_aud": True},
            )
        except jwt.ExpiredSignatureError as exc:
            raise TokenBackendExpiredToken("Token is expired") from exc
        except jwt.InvalidTokenError as exc:
            raise TokenBackendError("Token is invalid") from exc

    def _verifying_key(self, token: str | bytes) -> SigningKey:
        try:
            header = jwt.get_unverified_header(token)
        except jwt.InvalidTokenError as exc:
            raise TokenBackendError("Token is invalid") from exc
        kid = header.get("kid")
        key = signing_keys().get(kid) if isinstance(kid, str) else None
        if header.get("alg") != ALGORITHM or key is None:
            raise TokenBackendError("Token is invalid")
        return key


token_backend = KeySetTokenBackend()


class _PortalToken(tokens.Token):
    lifetime_setting = ""

    @property
    def lifetime(self) -> timedelta:  # type: ignore[override]
        return jwt_setting(self.lifetime_setting)

    @property
    def token_backend(self) -> TokenBackend:  # type: ignore[override]
        return token_backend


class AccessToken(_PortalToken, tokens.AccessToken):
    lifetime_setting = "ACCESS_TOKEN_LIFETIME"


class RefreshToken(_PortalToken, tokens.RefreshToken):
    lifetime_setting = "REFRESH_TOKEN_LIFETIME"
    access_token_class = AccessToken
