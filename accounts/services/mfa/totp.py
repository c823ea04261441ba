"""The authenticator app (RFC 6238: SHA-1, 6 digits, 30 s steps, one step of skew either way).

The seed is encrypted at rest (identity.encryption) and a code is accepted once: the step it
belongs to is stored by a compare-and-swap, so a replay in its window, or a race of the same
code, finds the step taken.
"""

from __future__ import annotations

import hmac
import time

import pyotp
from django.conf import settings
from django.db import transaction
from django.db.models import Q
from django.utils import timezone

from accounts.errors import TotpAlreadyEnrolled, TotpNotEnrolled
from accounts.models import TotpDevice, User
from identity.encryption import decrypt, encrypt

DIGITS = 6
INTERVAL = 30
VALID_WINDOW = 1  # steps accepted before and after the current one (clock skew)


def _totp(secret: str) -> pyotp.TOTP:
    return pyotp.TOTP(secret, digits=DIGITS, interval=INTERVAL)


def totp_secret(device: TotpDevice) -> str:
    """The device's base32 seed; a seed read with a fallback key is stored again under the
    current key (DATA_ENCRYPTION_KEY rotation)."""
    opened = decrypt(device.secret_encrypted)
    if opened.stale:
        device.secret_encrypted = encrypt(opened.plaintext)
        TotpDevice.objects.filter(pk=device.pk).update(secret_encrypted=device.secret_encrypted)
    return opened.plaintext.decode()


def totp_uri(*, user: User, secret: str) -> str:
    return _totp(secret).provisioning_uri(
        name=user.email or user.username, issuer_name=settings.TOTP_ISSUER
    )


@transaction.atomic
def totp_enrol_start(*, user: User) -> tuple[str, str]:
    """Starts (or restarts) adding an authenticator app: a new seed, not live until a code
    from it is confirmed. Returns the seed (base32) and its ``otpauth://`` URI."""
    device = TotpDevice.objects.select_for_update().filter(user=user).first()
    if device is not None and device.is_confirmed:
        raise TotpAlreadyEnrolled()
    secret = pyotp.random_base32(length=32)  # 160 bits, RFC 4226 §4's recommendation
    TotpDevice.objects.update_or_create(
        user=user,
        defaults={
            "secret_encrypted": encrypt(secret.encode()),
            "confirmed_at": None,
            "last_used_step": None,
            "last_used_at": None,
        },
    )
    return secret, totp_uri(user=user, secret=secret)


def totp_enrol_resume(*, user: User) -> tuple[str, str]:
    """The seed and URI of the app being added, started now if none is waiting: a page shown
    again (a wrong code, a reload) keeps the QR code the user may have scanned already."""
    device = TotpDevice.objects.filter(user=user, confirmed_at__isnull=True).first()
    if device is None:
        return totp_enrol_start(user=user)
    secret = totp_secret(device)
    return secret, totp_uri(user=user, secret=secret)


def _matching_step(secret: str, code: str, *, now: float) -> int | None:
    code = "".join((code or "").split())
    if len(code) != DIGITS or not code.isdigit():
        return None
    totp = _totp(secret)
    current = int(now) // INTERVAL
    for step in range(current - VALID_WINDOW, current + VALID_WINDOW + 1):
        if hmac.compare_digest(totp.at(step * INTERVAL), code):
            return step
    return None


def totp_check(*, user: User, code: str, confirmed: bool = True) -> bool:
    """Whether ``code`` is a fresh code of the user's app; a match spends its time step.

    ``confirmed=False`` checks the app being added (its confirmation code)."""
    device = _device_loaded(user) if confirmed else None
    if device is None:
        device = TotpDevice.objects.filter(user=user, confirmed_at__isnull=not confirmed).first()
    if device is None:
        return False
    step = _matching_step(totp_secret(device), code, now=time.time())
    if step is None:
        return False
    spent = TotpDevice.objects.filter(
        Q(last_used_step__isnull=True) | Q(last_used_step__lt=step), pk=device.pk
    ).update(last_used_step=step, last_used_at=timezone.now())
    return spent == 1


def _device_loaded(user: User) -> TotpDevice | None:
    """The confirmed app loaded with ``user`` already (sign_in_pending_get joins it, to keep the
    second step within its query budget); None to look it up. The step is spent by the
    compare-and-swap above either way, so a stale copy cannot accept a code twice."""
    descriptor = User.totp_device  # type: ignore[attr-defined]
    if not descriptor.is_cached(user):
        return None
    device = descriptor.related.get_cached_value(user)
    return device if device is not None and device.is_confirmed else None


def totp_device_confirm(*, user: User) -> bool:
    """Makes the app being added live; False when there was none to confirm."""
    return bool(
        TotpDevice.objects.filter(user=user, confirmed_at__isnull=True).update(
            confirmed_at=timezone.now()
        )
    )


def totp_device_delete(*, user: User) -> None:
    if not TotpDevice.objects.filter(user=user).delete()[0]:
        raise TotpNotEnrolled()
