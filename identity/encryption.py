"""Secrets the portal must read back (TOTP seeds), encrypted at rest with DATA_ENCRYPTION_KEY.

cryptography's Fernet (AES-128-CBC with HMAC-SHA256, authenticated) through MultiFernet: the
first key encrypts, every key (DATA_ENCRYPTION_KEY, then DATA_ENCRYPTION_KEY_FALLBACKS)
decrypts, so a rotation needs no downtime. ``decrypt`` says when the value was read with a
fallback key, and the owner of the row stores ``encrypt(plaintext)`` again (re-encryption on use).
"""

from __future__ import annotations

import functools
from dataclasses import dataclass

from cryptography.fernet import Fernet, InvalidToken, MultiFernet
from django.conf import settings


class DecryptionFailed(RuntimeError):
    """No configured key opens the value: the key was lost or the row was altered (a fault of
    the deployment, not of the request)."""


@dataclass(frozen=True)
class Decrypted:
    plaintext: bytes
    stale: bool  # read with a fallback key: encrypt it again under the current one


@functools.cache
def _keys(current: str, fallbacks: tuple[str, ...]) -> tuple[Fernet, ...]:
    return tuple(Fernet(key) for key in (current, *fallbacks))


def _configured() -> tuple[Fernet, ...]:
    return _keys(settings.DATA_ENCRYPTION_KEY, tuple(settings.DATA_ENCRYPTION_KEY_FALLBACKS))


def encrypt(plaintext: bytes) -> str:
    return _configured()[0].encrypt(plaintext).decode()


def decrypt(token: str) -> Decrypted:
    keys = _configured()
    try:
        return Decrypted(keys[0].decrypt(token.encode()), stale=False)
    except InvalidToken:
        pass
    try:
        return Decrypted(MultiFernet(keys[1:] or keys).decrypt(token.encode()), stale=True)
    except InvalidToken as error:
        raise DecryptionFailed() from error


def key_generate() -> str:
    return Fernet.generate_key().decode()
