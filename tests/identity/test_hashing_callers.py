"""The callers moved to identity.hashing keep the digests already stored: remembered devices,
one-time link tokens and DOT's token checksums still match."""

from __future__ import annotations

import hashlib
from types import SimpleNamespace
from uuid import uuid4

from accounts.services.history import _known_device_key
from accounts.services.secrets import hash_token
from sso.selectors import token_checksum


def test_the_known_device_key_is_the_one_already_stored():
    user = SimpleNamespace(public_id=uuid4())
    before = hashlib.sha256(b"Firefox on Linux|203.0.113.0/24").hexdigest()[:32]
    key = _known_device_key(user, "Firefox on Linux", "203.0.113.0/24")
    assert key == f"known-device:{user.public_id.hex}:{before}"


def test_link_tokens_and_oauth_checksums_stay_full_sha256_hex():
    raw = "a-random-url-safe-token"
    full = hashlib.sha256(raw.encode()).hexdigest()
    assert hash_token(raw) == full
    assert token_checksum(raw) == full  # DOT stores this: a truncation would orphan every token
    assert len(full) == 64
