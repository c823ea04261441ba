"""Recovery codes: 10 per set, each single-use, stored as digests; a new set replaces the old.

A code is 12 base32 characters (60 bits) shown as ``xxxx-xxxx-xxxx``. Its digest is SHA-256
over the user's public id and the normalised code: per-user salted, and with 60 random bits
out of reach of offline guessing; online guesses count towards lockout like passwords.
"""

from __future__ import annotations

import secrets

from django.conf import settings
from django.db import transaction
from django.utils import timezone

from accounts.models import RecoveryCode, User
from identity.hashing import sha256_hex

_ALPHABET = "abcdefghijklmnopqrstuvwxyz234567"
_LENGTH = 12


def _normalised(code: str) -> str:
    return "".join(ch for ch in (code or "").lower() if ch.isalnum())[:64]


def _digest(user: User, code: str) -> str:
    return sha256_hex(f"{user.public_id}:{_normalised(code)}")


def _code() -> str:
    raw = "".join(secrets.choice(_ALPHABET) for _ in range(_LENGTH))
    return "-".join(raw[i : i + 4] for i in range(0, _LENGTH, 4))


@transaction.atomic
def recovery_codes_replace(*, user: User) -> list[str]:
    """A new set of codes (returned once, never stored in the clear); the old set dies."""
    codes = [_code() for _ in range(settings.MFA_RECOVERY_CODES)]
    RecoveryCode.objects.filter(user=user).delete()
    RecoveryCode.objects.bulk_create(
        RecoveryCode(user=user, code_hash=_digest(user, code)) for code in codes
    )
    return codes


def recovery_code_spend(*, user: User, code: str) -> bool:
    """Whether ``code`` was an unused code of the user's set; it is used up by the same
    statement, so two requests racing with one code cannot both succeed."""
    if len(_normalised(code)) != _LENGTH:
        return False
    return (
        RecoveryCode.objects.filter(
            user=user, code_hash=_digest(user, code), used_at__isnull=True
        ).update(used_at=timezone.now())
        == 1
    )


def recovery_codes_left(*, user: User) -> int:
    return RecoveryCode.objects.filter(user=user, used_at__isnull=True).count()
