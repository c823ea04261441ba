"""Recovery codes: 10 per set, each single-use, stored hashed; a new set replaces the old.

A code is 12 base32 characters (60 bits) shown as ``xxxx-xxxx-xxxx``. Under 112 bits, ASVS 5.0
V6.5.2 asks for a password hash with a random salt, so each code is stored with Django's
``make_password`` (Argon2id) and checked against the user's unused codes (at most 10) with
``check_password``; online guesses count towards lockout like passwords.
"""

from __future__ import annotations

import secrets

from django.conf import settings
from django.contrib.auth.hashers import check_password, make_password
from django.db import transaction
from django.utils import timezone

from accounts.models import RecoveryCode, User

_ALPHABET = "abcdefghijklmnopqrstuvwxyz234567"
_LENGTH = 12


def _normalised(code: str) -> str:
    return "".join(ch for ch in (code or "").lower() if ch.isalnum())[:64]


def _code() -> str:
    raw = "".join(secrets.choice(_ALPHABET) for _ in range(_LENGTH))
    return "-".join(raw[i : i + 4] for i in range(0, _LENGTH, 4))


@transaction.atomic
def recovery_codes_replace(*, user: User) -> list[str]:
    """A new set of codes (returned once, never stored in the clear); the old set dies."""
    codes = [_code() for _ in range(settings.MFA_RECOVERY_CODES)]
    RecoveryCode.objects.filter(user=user).delete()
    RecoveryCode.objects.bulk_create(
        RecoveryCode(user=user, code_hash=make_password(_normalised(code))) for code in codes
    )
    return codes


def recovery_code_spend(*, user: User, code: str) -> bool:
    """Whether ``code`` was an unused code of the user's set; it is used up by a
    compare-and-swap, so two requests racing with one code cannot both succeed."""
    normalised = _normalised(code)
    if len(normalised) != _LENGTH:
        return False
    unused = RecoveryCode.objects.filter(user=user, used_at__isnull=True).only("code_hash")
    for row in unused:
        if check_password(normalised, row.code_hash):
            spent = RecoveryCode.objects.filter(pk=row.pk, used_at__isnull=True)
            return spent.update(used_at=timezone.now()) == 1
    return False


def recovery_codes_left(*, user: User) -> int:
    return RecoveryCode.objects.filter(user=user, used_at__isnull=True).count()
