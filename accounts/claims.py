"""A user's claims by scope (OIDC Core §5.4): the one builder for every id_token and userinfo.

The first-party login's id_token (accounts.tokens), the OIDC id_token and userinfo (sso) all
take their user claims from ``user_claims``; the protocol claims (iss, aud, exp, sid, nonce,
at_hash...) stay with each issuer.
"""

from __future__ import annotations

from collections.abc import Iterable
from typing import Any

from accounts.models import User
from authz.selectors import user_roles

CLAIMS_BY_SCOPE: dict[str, tuple[str, ...]] = {
    "openid": ("sub",),
    "profile": ("name", "given_name", "family_name", "preferred_username", "updated_at"),
    "email": ("email", "email_verified"),
    "phone": ("phone_number", "phone_number_verified"),
    "address": ("address",),
    "roles": ("roles",),
}
SUPPORTED_CLAIMS = sorted({claim for claims in CLAIMS_BY_SCOPE.values() for claim in claims})
# What a first-party login's id_token stands for: who signed in, their name and email.
FIRST_PARTY_SCOPES = ("openid", "profile", "email")


def _profile_claims(user: User) -> dict[str, Any]:
    profile = getattr(user, "profile", None)
    updated = max(filter(None, [user.updated_at, getattr(profile, "updated_at", None)]))
    return {
        "name": user.get_full_name(),
        "given_name": getattr(profile, "first_name", ""),
        "family_name": getattr(profile, "last_name", ""),
        "preferred_username": user.username,
        "updated_at": int(updated.timestamp()),
    }


def _phone_claims(user: User) -> dict[str, Any]:
    phone = getattr(getattr(user, "profile", None), "phone_number", "")
    # The portal does not verify phone numbers: say so rather than omit the claim.
    return {"phone_number": phone, "phone_number_verified": False} if phone else {}


def _address_claims(user: User) -> dict[str, Any]:
    address = getattr(getattr(user, "profile", None), "address", "")
    return {"address": {"formatted": address}} if address else {}


def user_claims(*, user: User, scopes: Iterable[str]) -> dict[str, Any]:
    """``sub`` is the public UUID, never the database id; other claims only for their scope."""
    scopes = set(scopes)
    claims: dict[str, Any] = {"sub": str(user.public_id)}
    if "profile" in scopes:
        claims.update(_profile_claims(user))
    if "email" in scopes:
        claims.update(email=user.email, email_verified=user.email_verified)
    if "phone" in scopes:
        claims.update(_phone_claims(user))
    if "address" in scopes:
        claims.update(_address_claims(user))
    if "roles" in scopes:
        claims["roles"] = user_roles(user=user)
    return claims
