"""Token lifecycle of first-party API sign-ins: issue, rotate, revoke, verify, id_tokens.

Each API sign-in is one UserSession (its id is the ``sid`` claim). Only the current refresh
``jti`` of the session is stored, never a token; an access token is good while its session row
is not revoked, read with the user in one query (accounts.selectors.user_get_for_access_token).
The rows themselves are written by accounts.services.sessions only: this module issues and
verifies the JWTs and asks that package to start, rotate and revoke.
"""

from __future__ import annotations

import logging
import uuid
from dataclasses import dataclass
from datetime import datetime, timedelta
from typing import Any

from django.utils import timezone
from rest_framework_simplejwt.exceptions import TokenError

from accounts.claims import FIRST_PARTY_SCOPES, user_claims
from accounts.errors import ApplicationError, PasswordChangeRequired
from accounts.jwt import AccessToken, RefreshToken, jwt_setting, token_backend
from accounts.models import AuthMethod, Channel, User, UserSession
from accounts.selectors import user_get_for_access_token, user_password_change_pending
from accounts.services.mfa.amr import acr_value, amr_claim
from accounts.services.sessions import (
    client_describe,
    session_refresh_rotate,
    session_revoke,
    session_start,
)
from authz import selectors as authz_selectors
from identity import metrics

__all__ = ["session_revoke"]  # re-exported: callers of tokens use it

logger = logging.getLogger(__name__)

REVOKED_REFRESH_REUSED = "refresh_token_reused"
REVOKED_SIGNED_OUT = "signed_out"


class InvalidToken(ApplicationError):
    code = "token_not_valid"
    status = 401
    message = "The token is invalid, expired or revoked."


@dataclass(frozen=True)
class TokenPair:
    access_token: str
    refresh_token: str
    expires_in: int  # seconds until the access token expires
    session: UserSession


def user_roles(user: User) -> list[str]:
    """The role names carried in access tokens: live roles, included roles expanded."""
    return authz_selectors.user_roles(user=user)


def refresh_lifetime() -> timedelta:
    return jwt_setting("REFRESH_TOKEN_LIFETIME")


def api_session_start(
    *,
    user: User,
    ip: str | None,
    user_agent: str,
    channel: str = Channel.API,
    amr: str = AuthMethod.PASSWORD,
) -> TokenPair:
    """Records a new sign-in proven by ``amr`` and returns its first token pair."""
    sid = uuid.uuid4()
    refresh, access = _tokens_issue(user=user, sid=sid, amr=amr)
    session = session_start(
        user=user,
        channel=channel,
        client=client_describe(ip=ip, user_agent=user_agent),
        lifetime=refresh_lifetime(),
        sid=sid,
        refresh_jti=refresh["jti"],
        amr=amr,
    )
    metrics.token_grant_record(issuer="first_party", grant_type="sign_in")
    return _pair(refresh, access, session)


def token_refresh(*, refresh_token: str) -> TokenPair:
    """Rotates a refresh token; a rotated one presented again ends its whole sign-in."""
    claims = _refresh_claims(refresh_token)
    session = _session_of(claims)
    # The sign-in's amr as it stands now: a step-up on this sign-in raises the next token's.
    refresh, access = _tokens_issue(user=session.user, sid=session.pk, amr=session.amr)
    if not session_refresh_rotate(
        session=session,
        presented_jti=claims["jti"],
        new_jti=refresh["jti"],
        lifetime=refresh_lifetime(),
    ):
        _refresh_refused(session_id=session.pk, jti=claims["jti"])
        raise InvalidToken()
    metrics.token_grant_record(issuer="first_party", grant_type="refresh_token")
    return _pair(refresh, access, session)


def _session_of(claims: dict[str, Any]) -> UserSession:
    """The sign-in a refresh token names, with its user, who must still be active.

    The profile comes in the same query: the refreshed id_token's ``name`` claim reads it."""
    session = (
        UserSession.objects.select_related("user", "user__profile").filter(pk=claims["sid"]).first()
    )
    if session is None or str(session.user.public_id) != claims["sub"]:
        raise InvalidToken()
    if not session.user.is_active:
        raise InvalidToken()
    if user_password_change_pending(user=session.user):
        # Tokens issued before the flag never come back, even once the password is changed.
        session_revoke(session=session, reason="password_change_required")
        raise PasswordChangeRequired()
    return session


def _refresh_refused(*, session_id: Any, jti: str) -> None:
    """A validly signed refresh token that is no longer current on a live session was stolen
    or replayed: end the sign-in (RFC 9700 §4.14.2)."""
    session = UserSession.objects.filter(pk=session_id).first()
    if session is None or not session.is_live or session.refresh_jti == jti:
        return
    logger.warning("refresh token reuse; session revoked", extra={"sid": str(session_id)})
    session_revoke(session=session, reason=REVOKED_REFRESH_REUSED)


def api_session_end(*, refresh_token: str) -> None:
    """Signs out the sign-in the refresh token belongs to; repeating it is harmless."""
    claims = _refresh_claims(refresh_token)
    session = UserSession.objects.filter(pk=claims["sid"], user__public_id=claims["sub"]).first()
    if session is not None:
        session_revoke(session=session, reason=REVOKED_SIGNED_OUT)


def access_token_verify(*, token: str) -> dict[str, Any]:
    """The claims of a valid, unrevoked access token; raises InvalidToken otherwise."""
    try:
        access = AccessToken(token)
        public_id, sid = uuid.UUID(access["sub"]), uuid.UUID(access["sid"])
    except (TokenError, KeyError, ValueError, TypeError, AttributeError) as exc:
        raise InvalidToken() from exc
    user, sign_in_live = user_get_for_access_token(public_id=public_id, sid=sid)
    if user is None or not sign_in_live or not user.is_active:
        raise InvalidToken()
    return dict(access.payload)


def id_token_issue(
    *,
    user: User,
    session: UserSession,
    audience: str,
    nonce: str | None = None,
    auth_time: datetime | None = None,
) -> str:
    """An OpenID Connect id_token (OIDC Core §2) signed with the active key."""
    now = timezone.now()
    claims: dict[str, Any] = {
        "sub": str(user.public_id),
        "aud": audience,
        "iat": int(now.timestamp()),
        "exp": int((now + jwt_setting("ACCESS_TOKEN_LIFETIME")).timestamp()),
        "auth_time": int((auth_time or session.created_at).timestamp()),
        "sid": str(session.pk),
        **proof_claims(session.amr),
        **user_claims(user=user, scopes=FIRST_PARTY_SCOPES),
    }
    if nonce is not None:
        claims["nonce"] = nonce  # OIDC Core §3.1.3.7 step 11: the client checks it
    return token_backend.encode(claims)


def proof_claims(amr: str | None) -> dict[str, Any]:
    """How the sign-in was proven: ``amr`` (RFC 8176 values) and ``acr`` (pwd, mfa or phr)."""
    return {"amr": amr_claim(amr), "acr": acr_value(amr)}


def _tokens_issue(
    *, user: User, sid: uuid.UUID, amr: str | None
) -> tuple[RefreshToken, AccessToken]:
    """A fresh refresh/access pair for sign-in ``sid`` proven by ``amr`` (the refresh token's
    jti is what the sign-in stores). The access token carries amr/acr itself, so a resource
    server reads them without a query and the hot path stays as it was."""
    refresh = RefreshToken()
    refresh["sub"] = str(user.public_id)
    refresh["sid"] = str(sid)
    access = refresh.access_token
    access["roles"] = user_roles(user)
    access.payload.update(proof_claims(amr))
    return refresh, access


def _pair(refresh: RefreshToken, access: AccessToken, session: UserSession) -> TokenPair:
    return TokenPair(
        access_token=str(access),
        refresh_token=str(refresh),
        expires_in=int(access.lifetime.total_seconds()),
        session=session,
    )


def _refresh_claims(refresh_token: str) -> dict[str, Any]:
    try:
        return dict(RefreshToken(refresh_token).payload)
    except TokenError as exc:
        raise InvalidToken() from exc
