"""The oauthlib OpenID Connect server with PKCE restricted to S256 (RFC 9700 §2.1.1)."""

from __future__ import annotations

import secrets
from typing import Any

from oauthlib.oauth2.rfc6749 import errors
from oauthlib.oauth2.rfc6749.grant_types.authorization_code import code_challenge_method_s256
from oauthlib.openid import Server as OpenIDServer


def _s256(verifier: str, challenge: str) -> bool:
    if code_challenge_method_s256(verifier, challenge):
        return True
    # RFC 7636 §4.6: a mismatch is invalid_grant; say why, for the developer reading it.
    raise errors.InvalidGrantError(
        description="The code_verifier does not match the code_challenge (RFC 7636 §4.6)."
    )


def token_generate(request: Any, refresh_token: bool = False) -> str:
    """256 random bits, base64url (RFC 6750 §2.1 b64token). oauthlib's default draws 30
    characters one SystemRandom call each (178 bits): a twentieth of a refresh grant's CPU."""
    return secrets.token_urlsafe(32)


class Server(OpenIDServer):
    """oauthlib accepts "plain" and defaults a missing method to it; only S256 remains.
    Tokens come from token_generate unless ACCESS/REFRESH_TOKEN_GENERATOR name another."""

    def __init__(self, request_validator: Any, *args: Any, **kwargs: Any) -> None:
        if kwargs.get("token_generator") is None:
            kwargs["token_generator"] = token_generate
        if kwargs.get("refresh_token_generator") is None:
            kwargs["refresh_token_generator"] = token_generate
        super().__init__(request_validator, *args, **kwargs)
        for grant in (self.auth_grant, self.openid_connect_auth.proxy_target):
            grant._code_challenge_methods = {"S256": _s256}
