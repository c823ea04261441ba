"""simplejwt on the portal's key set: an RS256 backend with ``kid`` headers, and token types."""

from __future__ import annotations

import time
from datetime import timedelta
from functools import lru_cache
from typing import Any

import jwt
from django.conf import settings
from rest_framework_simplejwt import tokens
from rest_framework_simplejwt.backends import TokenBackend
from rest_framework_simplejwt.exceptions import TokenBackendError, TokenBackendExpiredToken

from identity.keys import ALGORITHM, signing_keys

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
        text = token.decode("ascii", "replace") if isinstance(token, bytes) else token
        try:
            kid, claims = _verified_claims(text, self.issuer)
        except jwt.InvalidTokenError as exc:
            raise TokenBackendError("Token is invalid") from exc
        # A key pruned since the token was first seen no longer vouches for it.
        if signing_keys().get(kid) is None:
            raise TokenBackendError("Token is invalid")
        if verify:
            _check_times(claims, self.get_leeway().total_seconds())
        return dict(claims)


@lru_cache(maxsize=2048)
def _verified_claims(token: str, issuer: str) -> tuple[str, dict[str, Any]]:
    """The signing ``kid`` and the claims of a token whose signature and issuer check out.

    Signature, header and issuer checks depend only on the token's bytes, so a client that
    presents the same access token for its whole life pays for one RSA verify, not one per
    request. Only successes are remembered; time checks run on every call (_check_times).
    """
    header = jwt.get_unverified_header(token)
    kid = header.get("kid")
    key = signing_keys().get(kid) if isinstance(kid, str) else None
    if header.get("alg") != ALGORITHM or key is None:
        raise jwt.InvalidTokenError("unknown key or algorithm")
    claims = jwt.decode(
        token,
        key.public_key,
        # A fixed list: alg "none" and HS256 keyed with the public key are refused
        # (RFC 8725 §3.1).
        algorithms=[ALGORITHM],
        issuer=issuer,
        options={
            "require": REQUIRED_CLAIMS,
            "verify_exp": False,
            "verify_iat": False,
            "verify_nbf": False,
            "verify_aud": True,
        },
    )
    _check_types(claims)
    return key.kid, claims


def _check_types(claims: dict[str, Any]) -> None:
    for claim in ("exp", "iat", "nbf"):
        value = claims.get(claim)
        if claim in claims and (isinstance(value, bool) or not isinstance(value, int | float)):
            raise jwt.InvalidTokenError(f"{claim} must be a number")


def _check_times(claims: dict[str, Any], leeway: float) -> None:
    """RFC 7519 §4.1.4-6 with the configured leeway, on every use of a token."""
    now = time.time()
    if claims["exp"] <= now - leeway:
        raise TokenBackendExpiredToken("Token is expired")
    if claims.get("nbf", 0) > now + leeway or claims["iat"] > now + leeway:
        raise TokenBackendError("Token is not yet valid")


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
