"""Second factors for tests: enrol an authenticator app or recovery codes through the services,
and compute TOTP codes with pyotp (RFC 6238), as a user's phone would."""

from __future__ import annotations

import time
from datetime import timedelta

import pyotp
from django.conf import settings
from django.utils import timezone

from accounts.models import User, UserSession
from accounts.services import mfa


def totp_enrol(user: User) -> pyotp.TOTP:
    """Adds a confirmed authenticator app to ``user`` (as the security page does); returns the
    app, whose ``now()`` is the current code. The recovery codes it gave are ``.recovery_codes``."""
    secret, _uri = mfa.totp_enrol_start(user=user)
    app = pyotp.TOTP(secret)
    codes = mfa.totp_enrol_confirm(user=user, code=app.now())
    app.recovery_codes = codes  # type: ignore[attr-defined]
    user.refresh_from_db()
    return app


def totp_code(app: pyotp.TOTP, *, steps: int = 0) -> str:
    """The code ``steps`` time steps from now (negative: earlier), for skew and replay tests."""
    return app.at(time.time() + steps * app.interval)


def totp_fresh_code(app: pyotp.TOTP) -> str:
    """A code of a time step no earlier code was accepted for: the next step's, which the
    ±1-step window accepts. Use it for a second sign-in within the same 30 seconds."""
    return totp_code(app, steps=1)


def sign_ins_make_stale(user: User) -> None:
    """Every sign-in of ``user`` was last proven longer ago than REAUTHENTICATION_SECONDS, as
    if the user had stepped away: sensitive actions ask for a proof again."""
    long_ago = timezone.now() - timedelta(seconds=settings.REAUTHENTICATION_SECONDS + 60)
    UserSession.objects.filter(user=user).update(proven_at=long_ago, created_at=long_ago)
