"""Secrets the portal reads back are encrypted with DATA_ENCRYPTION_KEY and survive its rotation."""

from __future__ import annotations

import pytest
from cryptography.fernet import Fernet

from identity.encryption import DecryptionFailed, decrypt, encrypt


def test_encrypted_value_is_not_the_plaintext_and_reads_back():
    token = encrypt(b"JBSWY3DPEHPK3PXP")
    assert b"JBSWY3DPEHPK3PXP" not in token.encode()
    opened = decrypt(token)
    assert opened.plaintext == b"JBSWY3DPEHPK3PXP"
    assert opened.stale is False


def test_value_under_a_fallback_key_reads_back_and_is_marked_for_reencryption(settings):
    old_key = settings.DATA_ENCRYPTION_KEY
    token = encrypt(b"seed")
    settings.DATA_ENCRYPTION_KEY = Fernet.generate_key().decode()
    settings.DATA_ENCRYPTION_KEY_FALLBACKS = [old_key]
    opened = decrypt(token)
    assert (opened.plaintext, opened.stale) == (b"seed", True)
    assert decrypt(encrypt(opened.plaintext)).stale is False


def test_value_under_a_lost_key_is_refused(settings):
    token = encrypt(b"seed")
    settings.DATA_ENCRYPTION_KEY = Fernet.generate_key().decode()
    settings.DATA_ENCRYPTION_KEY_FALLBACKS = []
    with pytest.raises(DecryptionFailed):
        decrypt(token)


def test_tampered_value_is_refused():
    token = encrypt(b"seed")
    tampered = token[:-6] + ("A" if token[-6] != "A" else "B") + token[-5:]
    with pytest.raises(DecryptionFailed):
        decrypt(tampered)
