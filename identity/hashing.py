"""The project's two unkeyed SHA-256 uses: a stored digest of a high-entropy secret, and a
bounded cache-key part that must not hold what it was built from (addresses, identifiers).

Keyed hashes (HMAC of short codes, client secrets) stay with their owners: they need a key.
"""

from __future__ import annotations

import hashlib

KEY_DIGEST_LENGTH = 32  # hex characters: 128 bits, far beyond any collision a key could meet


def sha256_hex(value: str) -> str:
    """The full hex SHA-256 of a random secret (a link token, an OAuth token) as stored or
    looked up: the input is 256 bits of entropy, so brute force is out of reach without a
    slow or keyed hash. Changing it orphans every stored digest."""
    return hashlib.sha256(value.encode()).hexdigest()


def key_digest(*parts: str) -> str:
    """A fixed-length cache-key part for ``parts`` joined by ``|``: keys stay short and never
    hold an address, an email or a username in the clear."""
    return sha256_hex("|".join(parts))[:KEY_DIGEST_LENGTH]
