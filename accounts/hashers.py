"""Password hashing at OWASP's Argon2id parameters."""

from __future__ import annotations

from django.contrib.auth.hashers import Argon2PasswordHasher


class Argon2idHasher(Argon2PasswordHasher):
    """Argon2id, 19 MiB, t=2, p=1 (OWASP Password Storage Cheat Sheet).

    Keeps Django's ``argon2`` algorithm name so hashes stay portable; a hash made with
    other parameters is re-hashed on the next successful sign-in (``must_update``).
    """

    time_cost = 2
    memory_cost = 19 * 1024
    parallelism = 1
