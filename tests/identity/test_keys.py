"""The signing key set: creation, kid, JWKS, rotation, pruning, reload across processes."""

from __future__ import annotations

import os
import stat
import time
from datetime import timedelta
from pathlib import Path

import pytest
from cryptography.hazmat.primitives import serialization
from cryptography.hazmat.primitives.asymmetric import ec, rsa
from django.core.exceptions import ImproperlyConfigured
from django.core.management import call_command
from django.urls import reverse
from jwcrypto import jwk

from accounts.jwt import token_backend
from identity import keys


@pytest.fixture(autouse=True)
def keys_dir(settings, tmp_path: Path) -> Path:
    settings.SIGNING_KEYS_DIR = tmp_path / "keys"
    return settings.SIGNING_KEYS_DIR


def _age(path: Path, *, days: float) -> None:
    stamp = time.time() - days * 86400
    os.utime(path, (stamp, stamp))


def _write_foreign_key(directory: Path, private_key: object) -> None:
    """What another process (or an operator) does: drop a PEM into the directory."""
    pem = private_key.private_bytes(  # type: ignore[attr-defined]
        serialization.Encoding.PEM,
        serialization.PrivateFormat.PKCS8,
        serialization.NoEncryption(),
    )
    tmp = directory / ".incoming.tmp"
    tmp.write_bytes(pem)
    os.replace(tmp, directory / "incoming.pem")


def test_ensure_signing_key_creates_private_rsa_key_named_by_thumbprint(keys_dir: Path) -> None:
    key = keys.ensure_signing_key()

    assert key is not None
    path = keys_dir / f"{key.kid}.pem"
    assert stat.S_IMODE(path.stat().st_mode) == 0o600
    assert stat.S_IMODE(keys_dir.stat().st_mode) == 0o700
    assert key.private_key.key_size in keys.ALLOWED_KEY_SIZES
    assert key.kid == jwk.JWK.from_pem(path.read_bytes()).thumbprint()


def test_ensure_signing_key_command_is_idempotent(keys_dir: Path) -> None:
    call_command("ensure_signing_key")
    call_command("ensure_signing_key")

    assert len(list(keys_dir.glob("*.pem"))) == 1


def test_signing_keys_created_on_first_use_outside_production(settings, keys_dir: Path) -> None:
    settings.PRODUCTION = False

    key_set = keys.signing_keys()

    assert [key.kid for key in key_set.keys] == [p.stem for p in keys_dir.glob("*.pem")]


def test_signing_keys_missing_in_production_is_a_configuration_error(settings) -> None:
    settings.PRODUCTION = True

    with pytest.raises(ImproperlyConfigured, match=r"manage\.py ensure_signing_key"):
        keys.signing_keys()


def test_signing_keys_refuse_a_non_rsa_key(keys_dir: Path) -> None:
    keys_dir.mkdir()
    _write_foreign_key(keys_dir, ec.generate_private_key(ec.SECP256R1()))

    with pytest.raises(ImproperlyConfigured, match="not an RSA key"):
        keys.signing_keys()


def test_jwks_lists_public_members_only() -> None:
    key = keys.signing_keys().active

    assert keys.signing_keys().jwks() == {"keys": [key.public_jwk()]}
    assert set(key.public_jwk()) == {"kty", "kid", "use", "alg", "n", "e"}
    assert key.public_jwk() | {"n": "", "e": ""} == {
        "kty": "RSA",
        "kid": key.kid,
        "use": "sig",
        "alg": "RS256",
        "n": "",
        "e": "",
    }


def test_jwks_view_serves_the_key_set_cacheably(client) -> None:
    keys.rotate_signing_key()
    keys.rotate_signing_key()

    response = client.get(reverse("jwks"))

    assert response.status_code == 200
    assert response["Cache-Control"] == "public, max-age=300"
    assert response.json() == keys.signing_keys().jwks()
    assert len(response.json()["keys"]) == 2
    assert all("d" not in member for member in response.json()["keys"])


def test_rotation_activates_new_key_and_keeps_old_one_verifying() -> None:
    old = keys.signing_keys().active
    token = token_backend.encode(
        {"sub": "s", "sid": "x", "iat": 1, "exp": 2**40, "jti": "j", "token_type": "access"}
    )

    new = keys.rotate_signing_key()

    assert keys.signing_keys().active.kid == new.kid != old.kid
    assert {k["kid"] for k in keys.signing_keys().jwks()["keys"]} == {old.kid, new.kid}
    assert token_backend.decode(token)["sub"] == "s"


def test_prune_deletes_only_keys_retired_longer_than_the_threshold(keys_dir: Path) -> None:
    oldest = keys.rotate_signing_key()
    middle = keys.rotate_signing_key()
    newest = keys.rotate_signing_key()
    _age(keys_dir / f"{oldest.kid}.pem", days=40)
    _age(keys_dir / f"{middle.kid}.pem", days=20)  # so `oldest` was retired 20 days ago

    removed = keys.prune_signing_keys(retired_for=timedelta(days=14))

    assert removed == [oldest.kid]
    assert [k.kid for k in keys.signing_keys().keys] == [newest.kid, middle.kid]


def test_rotate_command_prunes_after_refresh_lifetime_by_default(keys_dir: Path) -> None:
    first = keys.rotate_signing_key()
    second = keys.rotate_signing_key()
    _age(keys_dir / f"{first.kid}.pem", days=30)
    _age(keys_dir / f"{second.kid}.pem", days=15)  # first retired 15 days ago > 14

    call_command("rotate_signing_key")

    kids = {k.kid for k in keys.signing_keys().keys}
    assert first.kid not in kids
    assert second.kid in kids  # retired just now: tokens it signed still verify
    assert len(kids) == 2


def test_rotate_command_honours_prune_older_than_days(keys_dir: Path) -> None:
    first = keys.rotate_signing_key()
    _age(keys_dir / f"{first.kid}.pem", days=30)
    second = keys.rotate_signing_key()
    _age(keys_dir / f"{second.kid}.pem", days=3)

    call_command("rotate_signing_key", "--prune-older-than-days", "2")

    assert first.kid not in {k.kid for k in keys.signing_keys().keys}


def test_rotation_by_another_process_is_seen_without_restart(keys_dir: Path) -> None:
    before = keys.ensure_signing_key()
    # Age the directory out of the racy window, so only a real change triggers a reload.
    _age(keys_dir, days=1)
    cached = keys.signing_keys()
    assert keys.signing_keys() is cached

    time.sleep(0.01)
    _write_foreign_key(keys_dir, rsa.generate_private_key(public_exponent=65537, key_size=2048))
    # Requests look at the directory at most once per RECHECK_SECONDS, then see the new key.
    time.sleep(keys.RECHECK_SECONDS)

    reloaded = keys.signing_keys()
    assert reloaded is not cached
    assert before is not None
    assert reloaded.active.kid != before.kid
    assert reloaded.get(before.kid) is not None
