"""Single-use, expiring secrets sent by email: stored hashed, consumed atomically."""

from __future__ import annotations

import hashlib
import hmac
import secrets
from datetime import timedelta

from django.conf import settings
from django.db.models import F
from django.utils import timezone

from accounts.errors import CodeInvalid, LinkInvalid
from accounts.models import OneTimeToken, User
from identity.hashing import sha256_hex

# Crockford-style alphabet: no 0/O or 1/I/L to mistype.
CODE_ALPHABET = "23456789ABCDEFGHJKMNPQRSTUVWXYZ"
CODE_LENGTH = 10


def hash_token(raw: str) -> str:
    """SHA-256 of a 256-bit link token: brute force is out of reach, so no slow hash."""
    return sha256_hex(raw)


def hash_code(code: str, *, key: str | None = None) -> str:
    """Keyed hash of a short code: without SECRET_KEY a stolen table cannot be brute-forced."""
    normalised = code.strip().upper().replace("-", "").replace(" ", "")
    secret_key = (key if key is not None else settings.SECRET_KEY).encode()
    return hmac.new(secret_key, normalised.encode(), hashlib.sha256).hexdigest()


def code_matches(*, code_hash: str, code: str) -> bool:
    """SECRET_KEY first; a code mailed before a key rotation still matches under the key now in
    SECRET_KEY_FALLBACKS. Codes are single use, so there is nothing to re-key."""
    if hmac.compare_digest(code_hash, hash_code(code)):
        return True
    return any(
        hmac.compare_digest(code_hash, hash_code(code, key=key))
        for key in getattr(settings, "SECRET_KEY_FALLBACKS", [])
    )


def secret_issue(
    *,
    user: User,
    purpose: str,
    ttl: timedelta,
    email: str = "",
    with_code: bool = False,
) -> tuple[str, str]:
    """Stores a new secret and returns the raw link token and code ("" when none)."""
    raw = secrets.token_urlsafe(32)
    code = "".join(secrets.choice(CODE_ALPHABET) for _ in range(CODE_LENGTH)) if with_code else ""
    OneTimeToken.objects.create(
        user=user,
        purpose=purpose,
        token_hash=hash_token(raw),
        code_hash=hash_code(code) if code else "",
        email=email or user.email,
        expires_at=timezone.now() + ttl,
    )
    return raw, code


def secret_peek(*, raw: str, purpose: str) -> OneTimeToken:
    """The live secret for a link, without using it up (a GET must not burn a link)."""
    token = (
        OneTimeToken.objects.select_related("user")
        .filter(token_hash=hash_token(raw or ""), purpose=purpose, used_at__isnull=True)
        .filter(expires_at__gt=timezone.now())
        .first()
    )
    if token is None or not token.user.is_active:
        raise LinkInvalid()
    return token


def secret_consume(*, raw: str, purpose: str) -> OneTimeToken:
    """Uses up a link secret; of two racing requests exactly one succeeds."""
    token = secret_peek(raw=raw, purpose=purpose)
    if not _mark_used(token):
        raise LinkInvalid()
    return token


def code_consume(*, user: User | None, code: str, purpose: str) -> OneTimeToken:
    """Uses up the newest live code of ``user``; each wrong try counts towards the limit."""
    token = _newest_live_code(user=user, purpose=purpose)
    if token is None:
        raise CodeInvalid()
    if not code_matches(code_hash=token.code_hash, code=code or ""):
        _count_wrong_code(token)
        raise CodeInvalid()
    if not _mark_used(token):
        raise CodeInvalid()
    return token


def secrets_revoke(*, user: User, purpose: str) -> None:
    """Kills every live secret of a purpose, e.g. reset links once the password changes."""
    OneTimeToken.objects.filter(user=user, purpose=purpose, used_at__isnull=True).update(
        used_at=timezone.now()
    )


def _newest_live_code(*, user: User | None, purpose: str) -> OneTimeToken | None:
    if user is None:
        return None
    now = timezone.now()
    return (
        OneTimeToken.objects.filter(user=user, purpose=purpose, used_at__isnull=True)
        .exclude(code_hash="")
        # The code lives shorter than the link it travels with.
        .filter(expires_at__gt=now, created_at__gt=now - settings.PASSWORD_RESET_CODE_TTL)
        .filter(code_attempts__lt=_max_attempts())
        .order_by("-created_at")
        .first()
    )


def _count_wrong_code(token: OneTimeToken) -> None:
    OneTimeToken.objects.filter(pk=token.pk).update(code_attempts=F("code_attempts") + 1)
    # After the last allowed try the secret dies, link included.
    OneTimeToken.objects.filter(
        pk=token.pk, used_at__isnull=True, code_attempts__gte=_max_attempts()
    ).update(used_at=timezone.now())


def _mark_used(token: OneTimeToken) -> bool:
    now = timezone.now()
    return bool(
        OneTimeToken.objects.filter(pk=token.pk, used_at__isnull=True, expires_at__gt=now).update(
            used_at=now
        )
    )


def _max_attempts() -> int:
    return settings.PASSWORD_RESET_CODE_MAX_ATTEMPTS
