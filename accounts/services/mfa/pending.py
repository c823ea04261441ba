"""The step between the password and a session: a pending sign-in, proven in part.

The password step (accounts.services.login) ends here for an account with a factor, or one
that must enrol: no UserSession, no success event, no Django login, only a PendingSignIn whose
opaque token the browser keeps in its session and the API returns as ``mfa_token``. Each
wrong code counts towards the same lockout as a wrong password (username + IP, through
django-axes) and towards the step's own limit; using the step is a compare-and-swap, so one
token finishes at most one sign-in however many requests race with it.
"""

from __future__ import annotations

import secrets
from datetime import timedelta

from axes.handlers.proxy import AxesProxyHandler
from django.conf import settings
from django.contrib.auth.signals import user_login_failed
from django.db.models import F
from django.http import HttpRequest
from django.utils import timezone

from accounts.backends import RESOLVED_LOGIN_ATTR
from accounts.errors import AccountLocked, FactorCodeInvalid, MfaTokenInvalid
from accounts.lockout import LOCKOUT_KEY_ATTR, lockout_key
from accounts.models import Channel, LoginEvent, LoginOutcome, PendingSignIn, User
from accounts.services import events
from accounts.services.mfa import Proof, factor_prove
from accounts.services.sessions import request_client
from identity import metrics
from identity.hashing import sha256_hex

# Where a browser keeps the token of its pending sign-in (in its Django session).
PENDING_SESSION_KEY = "_mfa_pending_token"


def sign_in_pending_start(
    *,
    user: User,
    channel: str,
    identifier: str,
    amr: str,
    purpose: str = PendingSignIn.Purpose.VERIFY,
) -> str:
    """Records a pending sign-in; returns its token (shown once, stored as a digest)."""
    token = secrets.token_urlsafe(32)
    now = timezone.now()
    PendingSignIn.objects.create(
        token_hash=sha256_hex(token),
        user=user,
        channel=channel,
        purpose=purpose,
        identifier=identifier[:254],
        amr=amr,
        created_at=now,
        expires_at=now + timedelta(seconds=settings.MFA_PENDING_SECONDS),
    )
    return token


# The channels whose password step ends on a page (the sign-in page, the Django admin's).
PAGE_CHANNELS = (Channel.BROWSER, Channel.ADMIN)


def sign_in_pending_get(
    *,
    token: str | None,
    channel: str | None = None,
    channels: tuple[str, ...] | None = None,
    purpose: str | None = None,
) -> PendingSignIn:
    """The live pending sign-in of ``token`` with its user; MfaTokenInvalid when it is
    unknown, used, expired, dead of wrong codes, of another channel (``channel`` or one of
    ``channels``) or for another ``purpose``."""
    if not token or len(token) > 200:
        raise MfaTokenInvalid()
    pending = (
        # The app and the profile too, as the password step has the profile: the code is
        # checked and the id_token's claims built without more queries.
        PendingSignIn.objects.select_related("user__profile", "user__totp_device")
        .filter(
            token_hash=sha256_hex(token),
            used_at__isnull=True,
            expires_at__gt=timezone.now(),
            failures__lt=settings.MFA_MAX_ATTEMPTS,
        )
        .first()
    )
    allowed = channels or ((channel,) if channel else None)
    if pending is None or (allowed is not None and pending.channel not in allowed):
        raise MfaTokenInvalid()
    if (purpose is not None and pending.purpose != purpose) or not pending.user.is_active:
        raise MfaTokenInvalid()
    return pending


def sign_in_pending_fail(*, request: HttpRequest, pending: PendingSignIn) -> None:
    """A wrong code: one more failure for the step (it dies at MFA_MAX_ATTEMPTS) and for
    django-axes' username + IP counter, exactly as a wrong password counts."""
    PendingSignIn.objects.filter(pk=pending.pk).update(failures=F("failures") + 1)
    pending.failures += 1
    code_failure_record(request=request, user=pending.user, identifier=pending.identifier)


def code_failure_record(*, request: HttpRequest, user: User, identifier: str) -> None:
    """A wrong factor code counts as a failed sign-in for django-axes' username + IP counter
    (and the history), as a wrong password does; AccountLocked once the pair is locked."""
    login = lockout_key(login=identifier, user=user)
    setattr(request, LOCKOUT_KEY_ATTR, login)
    setattr(request, RESOLVED_LOGIN_ATTR, (identifier, user))  # whose lockout it would be
    user_login_failed.send(sender=__name__, credentials={"username": login}, request=request)
    channel = _channel_of(request)
    LoginEvent.objects.create(
        user=user,
        identifier=identifier[:254],
        outcome=LoginOutcome.BAD_CODE,
        channel=channel,
        **request_client(request),
    )
    metrics.sign_in_record(channel=channel, outcome=LoginOutcome.BAD_CODE)
    events.sign_in_failure_record(
        user=user, channel=channel, outcome=LoginOutcome.BAD_CODE, ip=request_client(request)["ip"]
    )
    if getattr(request, "axes_locked_out", False):
        raise AccountLocked()


def _channel_of(request: HttpRequest) -> str:
    return events.channel_of(request)


def sign_in_pending_lockout_check(*, request: HttpRequest, pending: PendingSignIn) -> None:
    """Refuses a code while the account's username + IP pair is locked out (429)."""
    code_lockout_check(request=request, user=pending.user, identifier=pending.identifier)


def code_lockout_check(*, request: HttpRequest, user: User, identifier: str) -> None:
    """Refuses a code while ``user``'s username + IP pair is locked out (429): checked before
    the code, or a locked pair could go on guessing and learn only from the right one."""
    login = lockout_key(login=identifier, user=user)
    setattr(request, LOCKOUT_KEY_ATTR, login)
    if AxesProxyHandler.is_locked(request, credentials={"username": login}):
        request.axes_locked_out = True  # type: ignore[attr-defined]
        raise AccountLocked()


def sign_in_factor_prove(*, request: HttpRequest, pending: PendingSignIn, proof: Proof) -> str:
    """One factor for a pending sign-in, on any channel: refused while the account's username
    + IP pair is locked out; a wrong proof counts as a failed sign-in. Returns the AuthMethod
    proven (sign_in_complete adds it to the pending step's)."""
    sign_in_pending_lockout_check(request=request, pending=pending)
    try:
        return factor_prove(user=pending.user, proof=proof)
    except FactorCodeInvalid:
        sign_in_pending_fail(request=request, pending=pending)
        raise


def sign_in_pending_use(*, pending: PendingSignIn) -> None:
    """Spends the step (compare-and-swap): of requests racing with one token, one goes on.

    Not conditioned on the failure count: the step was live when this proof was read
    (sign_in_pending_get), and the requests racing with the one right code fail because its
    time step is spent; counting them against it would leave no request to succeed."""
    used = PendingSignIn.objects.filter(
        pk=pending.pk, used_at__isnull=True, expires_at__gt=timezone.now()
    ).update(used_at=timezone.now())
    if used != 1:
        raise MfaTokenInvalid()


def sign_in_pending_challenge_set(*, pending: PendingSignIn, challenge: str) -> None:
    """Remembers the WebAuthn challenge just issued for this step (one at a time)."""
    PendingSignIn.objects.filter(pk=pending.pk).update(webauthn_challenge=challenge)
    pending.webauthn_challenge = challenge


def pending_sign_ins_purge() -> int:
    """Deletes pending steps that ended (used or expired) over a day ago."""
    cutoff = timezone.now() - timedelta(days=1)
    return PendingSignIn.objects.filter(expires_at__lt=cutoff).delete()[0]
