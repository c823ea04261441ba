"""The tables of the project package: the signing key set every node shares."""

from __future__ import annotations

from django.db import models


class SigningKeyRecord(models.Model):
    """One RSA key of the set: the newest signs, older ones verify until pruned.

    The private key is stored only encrypted (identity.encryption, under DATA_ENCRYPTION_KEY);
    ``kid`` is its RFC 7638 thumbprint, checked against the key whenever it is loaded.
    """

    kid = models.CharField(max_length=64, unique=True)
    private_key_encrypted = models.TextField()
    created_at = models.DateTimeField(db_index=True)
    updated_at = models.DateTimeField(auto_now=True)

    class Meta:
        db_table = "identity_signing_key"
        ordering = ("-created_at", "-kid")
        verbose_name = "signing key"

    def __str__(self) -> str:
        return self.kid
