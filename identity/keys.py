"""The portal's RSA signing key set: first-party JWTs and OIDC id_tokens share it.

Keys live in Postgres (identity.models.SigningKeyRecord), private keys encrypted with
DATA_ENCRYPTION_KEY, so every node signs with the same key and publishes the same JWKS. The
newest key signs, the older ones only verify until pruned. Each process caches the parsed set
and asks the database at most once per RECHECK_SECONDS whether it changed (kids and times
only); its own writes it sees at once. ``SIGNING_KEYS_DIR`` is read only to import the PEM
files of an older release once, when the table is still empty.
"""

from __future__ import annotations

import logging
import threading
import time
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta
from itertools import pairwise
from pathlib import Path

from cryptography.hazmat.primitives import serialization
from cryptography.hazmat.primitives.asymmetric import rsa
from django.conf import settings
from django.core.exceptions import ImproperlyConfigured
from django.db import DatabaseError, connection, transaction
from django.utils import timezone
from jwcrypto import jwk

from identity.encryption import decrypt, encrypt
from identity.models import SigningKeyRecord

logger = logging.getLogger(__name__)

ALGORITHM = "RS256"
ALLOWED_KEY_SIZES = frozenset({2048, 3072})
# A process asks the database at most this often whether the key set changed: a key another
# node creates or prunes is seen within this time, the process's own writes at once.
RECHECK_SECONDS = 1.0
# Every writer of the key set takes this transaction-level advisory lock first, so that nodes
# starting together create one key, not one each (any constant unique to this use).
_ADVISORY_LOCK_ID = 0x5349474E  # "SIGN"


@dataclass(frozen=True)
class SigningKey:
    kid: str
    private_key: rsa.RSAPrivateKey
    created_at: datetime

    @property
    def public_key(self) -> rsa.RSAPublicKey:
        return self.private_key.public_key()

    def public_jwk(self) -> dict[str, str]:
        """Only the public members (RFC 7517 §4, RFC 7518 §6.3.1), never d, p, q."""
        numbers = jwk.JWK.from_pyca(self.public_key).export_public(as_dict=True)
        return {
            "kty": "RSA",
            "kid": self.kid,
            "use": "sig",
            "alg": ALGORITHM,
            "n": numbers["n"],
            "e": numbers["e"],
        }

    def private_pem(self) -> bytes:
        """The PEM for libraries that take one (django-oauth-toolkit's OIDC settings)."""
        return _pem(self.private_key)


@dataclass(frozen=True)
class KeySet:
    keys: tuple[SigningKey, ...]  # newest first

    @property
    def active(self) -> SigningKey:
        return self.keys[0]

    def get(self, kid: str) -> SigningKey | None:
        return next((key for key in self.keys if key.kid == kid), None)

    def jwks(self) -> dict[str, list[dict[str, str]]]:
        return {"keys": [key.public_jwk() for key in self.keys]}


# (kid, created_at) of every stored key, newest first: what the recheck compares.
_Listing = tuple[tuple[str, datetime], ...]


@dataclass(frozen=True)
class _Snapshot:
    listing: _Listing
    key_set: KeySet
    checked_at: float  # time.monotonic() of the last look at the table


_lock = threading.Lock()
_snapshot: _Snapshot | None = None
# Parsed private keys by kid: a kid is the key's thumbprint, so an entry never goes stale.
_parsed: dict[str, rsa.RSAPrivateKey] = {}


def keys_dir() -> Path:
    """Where an older release kept its PEM files (imported once by ensure_signing_key)."""
    return Path(settings.SIGNING_KEYS_DIR)


def signing_keys() -> KeySet:
    """The current key set: at most one small query per RECHECK_SECONDS, a reload only when
    the table changed (every verified request asks, so the common case is one comparison)."""
    global _snapshot
    snapshot = _snapshot
    now = time.monotonic()
    if snapshot and now - snapshot.checked_at < RECHECK_SECONDS:
        return snapshot.key_set
    with _lock:
        try:
            listing = _listing()
        except DatabaseError:
            if snapshot is None or connection.in_atomic_block:
                raise
            # The database is away: keep verifying and signing with the set already read
            # (a key another node adds meanwhile is seen once it answers again).
            logger.warning("signing key set recheck failed: serving the cached set")
            _snapshot = _Snapshot(snapshot.listing, snapshot.key_set, now)
            return snapshot.key_set
        if snapshot and listing == snapshot.listing:
            _snapshot = _Snapshot(listing, snapshot.key_set, now)
            return snapshot.key_set
        if not listing:
            listing = _create_first_key()
        key_set = _load(listing)
        _snapshot = _Snapshot(listing, key_set, now)
        return key_set


def forget_snapshot() -> None:
    """This process changed the key set: the next call reads it again."""
    global _snapshot
    _snapshot = None


def _listing() -> _Listing:
    rows = SigningKeyRecord.objects.order_by("-created_at", "-kid").values_list("kid", "created_at")
    return tuple(rows)


def _create_first_key() -> _Listing:
    if settings.PRODUCTION:
        raise ImproperlyConfigured(
            "No signing key in the database: run `manage.py ensure_signing_key` before serving."
        )
    ensure_signing_key()
    return _listing()


def _load(listing: _Listing) -> KeySet:
    missing = [kid for kid, _ in listing if kid not in _parsed]
    if missing:
        for record in SigningKeyRecord.objects.filter(kid__in=missing):
            _parsed[record.kid] = _open(record)
    return KeySet(tuple(SigningKey(kid, _parsed[kid], created) for kid, created in listing))


def _open(record: SigningKeyRecord) -> rsa.RSAPrivateKey:
    opened = decrypt(record.private_key_encrypted)
    private_key = _parse(opened.plaintext, name=record.kid)
    if _thumbprint(private_key) != record.kid:
        raise ImproperlyConfigured(f"Signing key {record.kid} does not match its kid.")
    if opened.stale:
        # Read with a fallback DATA_ENCRYPTION_KEY: store it under the current one.
        SigningKeyRecord.objects.filter(pk=record.pk).update(
            private_key_encrypted=encrypt(opened.plaintext), updated_at=timezone.now()
        )
    return private_key


def _parse(pem: bytes, *, name: str) -> rsa.RSAPrivateKey:
    try:
        private_key = serialization.load_pem_private_key(pem, password=None)
    except (ValueError, TypeError) as exc:
        raise ImproperlyConfigured(f"{name} is not an unencrypted PEM private key.") from exc
    if not isinstance(private_key, rsa.RSAPrivateKey):
        raise ImproperlyConfigured(f"{name} is not an RSA key.")
    if private_key.key_size not in ALLOWED_KEY_SIZES:
        raise ImproperlyConfigured(f"{name} must be a 2048- or 3072-bit RSA key.")
    return private_key


def _thumbprint(private_key: rsa.RSAPrivateKey) -> str:
    """RFC 7638 JWK thumbprint (SHA-256): stable, derived from the key, same as DOT's kid."""
    return jwk.JWK.from_pyca(private_key.public_key()).thumbprint()


def _pem(private_key: rsa.RSAPrivateKey) -> bytes:
    return private_key.private_bytes(
        serialization.Encoding.PEM,
        serialization.PrivateFormat.PKCS8,
        serialization.NoEncryption(),
    )


@contextmanager
def _writing() -> Iterator[None]:
    """One writer of the key set at a time across every node (SQLite has one writer anyway)."""
    try:
        with transaction.atomic():
            if connection.vendor == "postgresql":
                with connection.cursor() as cursor:
                    cursor.execute("SELECT pg_advisory_xact_lock(%s)", [_ADVISORY_LOCK_ID])
            yield
    finally:
        forget_snapshot()  # whatever this process changed, it sees at once


def ensure_signing_key() -> SigningKey | None:
    """Create a key when the table holds none (importing an older release's key files first);
    the new key, or None when one existed or was imported."""
    with _writing():
        if SigningKeyRecord.objects.exists():
            return None
        if import_key_files(keys_dir()):
            return None
        return _created(_store(_generate()))


def rotate_signing_key() -> SigningKey:
    """Create a new active key; the previous ones keep verifying until pruned."""
    with _writing():
        newest = SigningKeyRecord.objects.order_by("-created_at").first()
        created_at = timezone.now()
        if newest and created_at <= newest.created_at:
            # A clock behind the previous writer's: the new key must still be the newest.
            created_at = newest.created_at + timedelta(milliseconds=1)
        return _created(_store(_generate(), created_at=created_at))


def prune_signing_keys(*, retired_for: timedelta) -> list[str]:
    """Delete keys retired (superseded) longer than ``retired_for`` ago; the kids removed."""
    cutoff = timezone.now() - retired_for
    removed: list[str] = []
    with _writing():
        listing = _listing()
        # listing[i] was retired when listing[i - 1], the next newer one, was created.
        for (_, newer_created), (older_kid, _) in pairwise(listing):
            if newer_created < cutoff:
                removed.append(older_kid)
        SigningKeyRecord.objects.filter(kid__in=removed).delete()
    if removed:
        logger.info("signing keys pruned", extra={"kids": removed})
    return removed


def import_key_files(directory: Path) -> list[str]:
    """Store the ``*.pem`` keys an older release kept in ``directory`` (their mtime as the
    creation time, so the newest file still signs); the kids imported. Call inside _writing."""
    if not directory.is_dir():
        return []
    imported = []
    for path in sorted(directory.glob("*.pem")):
        private_key = _parse(path.read_bytes(), name=path.name)
        created_at = datetime.fromtimestamp(path.stat().st_mtime, tz=UTC)
        imported.append(_store(private_key, created_at=created_at).kid)
    if imported:
        logger.info("signing keys imported from files", extra={"kids": imported})
    return imported


def _generate() -> rsa.RSAPrivateKey:
    bits = int(getattr(settings, "SIGNING_KEY_BITS", 2048))
    if bits not in ALLOWED_KEY_SIZES:
        raise ImproperlyConfigured("SIGNING_KEY_BITS must be 2048 or 3072.")
    return rsa.generate_private_key(public_exponent=65537, key_size=bits)


def _created(key: SigningKey) -> SigningKey:
    logger.info("signing key created", extra={"kid": key.kid})
    return key


def _store(private_key: rsa.RSAPrivateKey, *, created_at: datetime | None = None) -> SigningKey:
    kid = _thumbprint(private_key)
    record, _ = SigningKeyRecord.objects.get_or_create(
        kid=kid,
        defaults={
            "private_key_encrypted": encrypt(_pem(private_key)),
            "created_at": created_at or timezone.now(),
        },
    )
    _parsed[kid] = private_key
    return SigningKey(kid=kid, private_key=private_key, created_at=record.created_at)
