"""The portal's RSA signing key set: first-party JWTs and OIDC id_tokens share it.

Keys are PEM files ``<kid>.pem`` in ``settings.SIGNING_KEYS_DIR``; the newest file (by mtime)
signs, the older ones only verify until pruned. Each process caches the loaded set and reloads
it when the directory changes, so a rotation done elsewhere is picked up without a restart.
"""

from __future__ import annotations

import fcntl
import logging
import os
import threading
import time
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass, replace
from datetime import UTC, datetime, timedelta
from itertools import pairwise
from pathlib import Path

from cryptography.hazmat.primitives import serialization
from cryptography.hazmat.primitives.asymmetric import rsa
from django.conf import settings
from django.core.exceptions import ImproperlyConfigured
from jwcrypto import jwk

logger = logging.getLogger(__name__)

ALGORITHM = "RS256"
ALLOWED_KEY_SIZES = frozenset({2048, 3072})
# Directory changes closer than this to the snapshot may share its mtime tick: reload again
# until the snapshot is safely newer (the "racy git" problem).
_RACY_WINDOW_NS = 2_000_000_000
# A process looks at the key directory at most this often: a key another process writes or
# prunes is seen within this time, the process's own writes at once.
RECHECK_SECONDS = 1.0


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
        return self.private_key.private_bytes(
            serialization.Encoding.PEM,
            serialization.PrivateFormat.PKCS8,
            serialization.NoEncryption(),
        )


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


@dataclass(frozen=True)
class _Snapshot:
    directory: Path
    mtime_ns: int
    loaded_ns: int
    key_set: KeySet
    configured: object = None  # the SIGNING_KEYS_DIR setting it was read for
    checked_at: float = 0.0  # time.monotonic() of the last look at the directory


_lock = threading.Lock()
_snapshot: _Snapshot | None = None


def keys_dir() -> Path:
    return Path(settings.SIGNING_KEYS_DIR)


def signing_keys() -> KeySet:
    """The current key set: at most one stat per RECHECK_SECONDS, a reload only when the
    directory changed (every verified request asks, so the common case is one comparison)."""
    global _snapshot
    snapshot = _snapshot
    configured = settings.SIGNING_KEYS_DIR
    now = time.monotonic()
    if (
        snapshot
        and snapshot.configured is configured
        and now - snapshot.checked_at < RECHECK_SECONDS
    ):
        return snapshot.key_set
    directory = keys_dir()
    mtime_ns = _dir_mtime_ns(directory)
    if snapshot and _is_fresh(snapshot, directory, mtime_ns):
        _snapshot = replace(snapshot, configured=configured, checked_at=now)
        return snapshot.key_set
    with _lock:
        key_set = _load_or_create(directory)
        # Stat again after loading: a key written while we read is seen on the next call.
        _snapshot = _Snapshot(
            directory, _dir_mtime_ns(directory), time.time_ns(), key_set, configured, now
        )
        return key_set


def forget_snapshot() -> None:
    """This process changed the directory: the next call looks at it again."""
    global _snapshot
    _snapshot = None


def _is_fresh(snapshot: _Snapshot, directory: Path, mtime_ns: int) -> bool:
    return (
        snapshot.directory == directory
        and snapshot.mtime_ns == mtime_ns
        and snapshot.loaded_ns - mtime_ns > _RACY_WINDOW_NS
    )


def _dir_mtime_ns(directory: Path) -> int:
    try:
        return directory.stat().st_mtime_ns
    except FileNotFoundError:
        return -1


def _load_or_create(directory: Path) -> KeySet:
    keys = load_keys(directory)
    if keys:
        return KeySet(keys)
    if settings.PRODUCTION:
        raise ImproperlyConfigured(
            f"No signing key in {directory}: run `manage.py ensure_signing_key` before serving."
        )
    ensure_signing_key()
    return KeySet(load_keys(directory))


def load_keys(directory: Path) -> tuple[SigningKey, ...]:
    """Every ``*.pem`` key in the directory, newest first."""
    if not directory.is_dir():
        return ()
    keys = [_load_key_cached(path) for path in directory.glob("*.pem")]
    return tuple(sorted(keys, key=lambda key: (key.created_at, key.kid), reverse=True))


_parsed: dict[tuple[str, int, int], SigningKey] = {}


def _load_key_cached(path: Path) -> SigningKey:
    """Parsing and validating an RSA key costs milliseconds; a reload re-parses only new files."""
    stat = path.stat()
    cache_key = (str(path), stat.st_mtime_ns, stat.st_size)
    key = _parsed.get(cache_key)
    if key is None:
        key = _parsed[cache_key] = _load_key(path)
    return key


def _load_key(path: Path) -> SigningKey:
    try:
        private_key = serialization.load_pem_private_key(path.read_bytes(), password=None)
    except (ValueError, TypeError) as exc:
        raise ImproperlyConfigured(f"{path.name} is not an unencrypted PEM private key.") from exc
    if not isinstance(private_key, rsa.RSAPrivateKey):
        raise ImproperlyConfigured(f"{path.name} is not an RSA key.")
    if private_key.key_size not in ALLOWED_KEY_SIZES:
        raise ImproperlyConfigured(f"{path.name} must be a 2048- or 3072-bit RSA key.")
    created_at = datetime.fromtimestamp(path.stat().st_mtime, tz=UTC)
    return SigningKey(kid=_thumbprint(private_key), private_key=private_key, created_at=created_at)


def _thumbprint(private_key: rsa.RSAPrivateKey) -> str:
    """RFC 7638 JWK thumbprint (SHA-256): stable, derived from the key, same as DOT's kid."""
    return jwk.JWK.from_pyca(private_key.public_key()).thumbprint()


@contextmanager
def _directory_lock(directory: Path) -> Iterator[None]:
    """Serialise key creation between processes sharing the directory."""
    directory.mkdir(mode=0o700, parents=True, exist_ok=True)
    os.chmod(directory, 0o700)
    fd = os.open(directory / ".lock", os.O_RDWR | os.O_CREAT, 0o600)
    try:
        fcntl.flock(fd, fcntl.LOCK_EX)
        yield
    finally:
        os.close(fd)
        forget_snapshot()  # whatever this process changed there, it sees at once


def ensure_signing_key() -> SigningKey | None:
    """Create a key when the directory holds none; the new key, or None when one existed."""
    directory = keys_dir()
    with _directory_lock(directory):
        if load_keys(directory):
            return None
        return _write_new_key(directory)


def rotate_signing_key() -> SigningKey:
    """Create a new active key; the previous ones keep verifying until pruned."""
    directory = keys_dir()
    with _directory_lock(directory):
        newest = load_keys(directory)
        key = _write_new_key(directory)
        if newest and key.created_at <= newest[0].created_at:
            # Same mtime tick as the previous key: make the new one unambiguously newest.
            stamp = newest[0].created_at.timestamp() + 0.001
            os.utime(directory / f"{key.kid}.pem", (stamp, stamp))
        return key


def prune_signing_keys(*, retired_for: timedelta) -> list[str]:
    """Delete keys retired (superseded) longer than ``retired_for`` ago; the kids removed."""
    directory = keys_dir()
    cutoff = datetime.now(tz=UTC) - retired_for
    removed: list[str] = []
    with _directory_lock(directory):
        keys = load_keys(directory)
        # keys[i] was retired when keys[i - 1], the next newer one, was created.
        for newer, older in pairwise(keys):
            if newer.created_at < cutoff:
                (directory / f"{older.kid}.pem").unlink(missing_ok=True)
                removed.append(older.kid)
    return removed


def _write_new_key(directory: Path) -> SigningKey:
    bits = int(getattr(settings, "SIGNING_KEY_BITS", 2048))
    if bits not in ALLOWED_KEY_SIZES:
        raise ImproperlyConfigured("SIGNING_KEY_BITS must be 2048 or 3072.")
    private_key = rsa.generate_private_key(public_exponent=65537, key_size=bits)
    kid = _thumbprint(private_key)
    pem = private_key.private_bytes(
        serialization.Encoding.PEM,
        serialization.PrivateFormat.PKCS8,
        serialization.NoEncryption(),
    )
    tmp = directory / f".{kid}.tmp"
    fd = os.open(tmp, os.O_WRONLY | os.O_CREAT | os.O_TRUNC, 0o600)
    with os.fdopen(fd, "wb") as handle:
        handle.write(pem)
        handle.flush()
        os.fsync(handle.fileno())
    # Atomic rename: another process never sees half a key, and the directory mtime changes.
    os.replace(tmp, directory / f"{kid}.pem")
    logger.info("signing key created", extra={"kid": kid})
    return _load_key(directory / f"{kid}.pem")
