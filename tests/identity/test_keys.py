"""The signing key set in the database: creation, kid, encryption at rest, JWKS, rotation,
pruning, the once-a-second recheck, the import of an older release's key files."""

from __future__ import annotations

import os
import time
from datetime import timedelta
from pathlib import Path

import pytest
from cryptography.fernet import Fernet
from cryptography.hazmat.primitives import serialization
from cryptography.hazmat.primitives.asymmetric import ec, rsa
from django.core.exceptions import ImproperlyConfigured
from django.core.management import call_command
from django.db import OperationalError, transaction
from django.urls import reverse
from django.utils import timezone
from jwcrypto import jwk

from accounts.jwt import token_backend
from identity import keys
from identity.encryption import DecryptionFailed, decrypt, encrypt
from identity.models import SigningKeyRecord

pytestmark = pytest.mark.django_db


@pytest.fixture
def empty_table() -> None:
    """No key stored yet (a fresh installation); rolled back after the test."""
    SigningKeyRecord.objects.all().delete()
    keys.forget_snapshot()


def _pem(private_key: object) -> bytes:
    return private_key.private_bytes(  # type: ignore[attr-defined]
        serialization.Encoding.PEM,
        serialization.PrivateFormat.PKCS8,
        serialization.NoEncryption(),
    )


def _rsa() -> rsa.RSAPrivateKey:
    return rsa.generate_private_key(public_exponent=65537, key_size=2048)


def _store_foreign_key(private_key: object, *, kid: str | None = None) -> str:
    """What another node (or an operator) does: a row in the shared table."""
    kid = kid or jwk.JWK.from_pyca(private_key.public_key()).thumbprint()  # type: ignore[attr-defined]
    SigningKeyRecord.objects.create(
        kid=kid, private_key_encrypted=encrypt(_pem(private_key)), created_at=timezone.now()
    )
    return kid


def _age(kid: str, *, days: float) -> None:
    SigningKeyRecord.objects.filter(kid=kid).update(
        created_at=timezone.now() - timedelta(days=days)
    )
    keys.forget_snapshot()


@pytest.mark.usefixtures("empty_table")
def test_ensure_signing_key_stores_an_encrypted_rsa_key_named_by_thumbprint() -> None:
    key = keys.ensure_signing_key()

    assert key is not None
    record = SigningKeyRecord.objects.get()
    assert record.kid == key.kid
    assert b"PRIVATE KEY" not in record.private_key_encrypted.encode()
    pem = decrypt(record.private_key_encrypted).plaintext
    assert key.kid == jwk.JWK.from_pem(pem).thumbprint()
    assert key.private_key.key_size in keys.ALLOWED_KEY_SIZES


@pytest.mark.usefixtures("empty_table")
def test_ensure_signing_key_command_is_idempotent(capsys) -> None:
    call_command("ensure_signing_key")
    call_command("ensure_signing_key")

    assert SigningKeyRecord.objects.count() == 1
    kid = SigningKeyRecord.objects.get().kid
    assert capsys.readouterr().out.splitlines() == [
        f"Created signing key {kid}.",
        f"Signing key {kid} is active.",
    ]


@pytest.mark.usefixtures("empty_table")
def test_signing_keys_created_on_first_use_outside_production(settings) -> None:
    settings.PRODUCTION = False

    key_set = keys.signing_keys()

    assert [key.kid for key in key_set.keys] == [SigningKeyRecord.objects.get().kid]


@pytest.mark.usefixtures("empty_table")
def test_signing_keys_missing_in_production_is_a_configuration_error(settings) -> None:
    settings.PRODUCTION = True

    with pytest.raises(ImproperlyConfigured, match=r"manage\.py ensure_signing_key"):
        keys.signing_keys()
    assert not SigningKeyRecord.objects.exists()


@pytest.mark.usefixtures("empty_table")
def test_signing_keys_refuse_a_non_rsa_key() -> None:
    _store_foreign_key(ec.generate_private_key(ec.SECP256R1()), kid="not-rsa")

    with pytest.raises(ImproperlyConfigured, match="not an RSA key"):
        keys.signing_keys()


@pytest.mark.usefixtures("empty_table")
def test_signing_keys_refuse_a_row_whose_key_is_not_its_kid() -> None:
    """A row altered in the database cannot pass off another key under a published kid."""
    _store_foreign_key(_rsa(), kid=jwk.JWK.from_pyca(_rsa().public_key()).thumbprint())

    with pytest.raises(ImproperlyConfigured, match="does not match its kid"):
        keys.signing_keys()


def test_a_key_read_with_a_fallback_encryption_key_is_stored_again_under_the_current_one(
    settings,
) -> None:
    kid = _store_foreign_key(_rsa())
    old_ciphertext = SigningKeyRecord.objects.get(kid=kid).private_key_encrypted
    settings.DATA_ENCRYPTION_KEY_FALLBACKS = [settings.DATA_ENCRYPTION_KEY]
    settings.DATA_ENCRYPTION_KEY = Fernet.generate_key().decode()
    keys.forget_snapshot()

    assert keys.signing_keys().active.kid == kid

    new_ciphertext = SigningKeyRecord.objects.get(kid=kid).private_key_encrypted
    assert new_ciphertext != old_ciphertext
    assert decrypt(new_ciphertext).stale is False


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
    assert len(response.json()["keys"]) == 3
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


def test_rotation_stays_newest_when_the_previous_key_is_dated_ahead_of_this_clock() -> None:
    """Nodes' clocks differ: a rotation on a node that lags still makes its key the active one."""
    ahead = keys.signing_keys().active
    SigningKeyRecord.objects.filter(kid=ahead.kid).update(
        created_at=timezone.now() + timedelta(minutes=5)
    )

    new = keys.rotate_signing_key()

    assert keys.signing_keys().active.kid == new.kid


@pytest.mark.usefixtures("empty_table")
def test_prune_deletes_only_keys_retired_longer_than_the_threshold() -> None:
    oldest = keys.rotate_signing_key()
    middle = keys.rotate_signing_key()
    newest = keys.rotate_signing_key()
    _age(oldest.kid, days=40)
    _age(middle.kid, days=20)  # so `oldest` was retired 20 days ago

    removed = keys.prune_signing_keys(retired_for=timedelta(days=14))

    assert removed == [oldest.kid]
    assert [k.kid for k in keys.signing_keys().keys] == [newest.kid, middle.kid]
    assert set(SigningKeyRecord.objects.values_list("kid", flat=True)) == {newest.kid, middle.kid}


@pytest.mark.usefixtures("empty_table")
def test_rotate_command_prunes_after_refresh_lifetime_by_default() -> None:
    first = keys.rotate_signing_key()
    second = keys.rotate_signing_key()
    _age(first.kid, days=30)
    _age(second.kid, days=15)  # first retired 15 days ago > 14

    call_command("rotate_signing_key")

    kids = {k.kid for k in keys.signing_keys().keys}
    assert first.kid not in kids
    assert second.kid in kids  # retired just now: tokens it signed still verify
    assert len(kids) == 2


@pytest.mark.usefixtures("empty_table")
def test_rotate_command_honours_prune_older_than_days() -> None:
    first = keys.rotate_signing_key()
    _age(first.kid, days=30)
    second = keys.rotate_signing_key()
    _age(second.kid, days=3)

    call_command("rotate_signing_key", "--prune-older-than-days", "2")

    assert first.kid not in {k.kid for k in keys.signing_keys().keys}


def test_the_hot_path_asks_the_database_at_most_once_a_second(
    monkeypatch, django_assert_num_queries
) -> None:
    monkeypatch.setattr(keys, "RECHECK_SECONDS", 1.0)
    keys.forget_snapshot()
    cached = keys.signing_keys()

    with django_assert_num_queries(0):
        for _ in range(100):
            assert keys.signing_keys() is cached

    time.sleep(keys.RECHECK_SECONDS)
    # The recheck reads kids and times only; an unchanged set is not loaded again.
    with django_assert_num_queries(1):
        assert keys.signing_keys() is cached


def test_rotation_by_another_node_is_seen_within_a_second(monkeypatch) -> None:
    monkeypatch.setattr(keys, "RECHECK_SECONDS", 1.0)
    before = keys.signing_keys()

    kid = _store_foreign_key(_rsa())
    assert keys.signing_keys() is before  # until the next recheck
    time.sleep(keys.RECHECK_SECONDS)

    reloaded = keys.signing_keys()
    assert reloaded.active.kid == kid
    assert reloaded.get(before.active.kid) is not None


def _key_file(directory: Path, private_key: rsa.RSAPrivateKey, *, days_old: float) -> str:
    directory.mkdir(mode=0o700, exist_ok=True)
    kid = jwk.JWK.from_pyca(private_key.public_key()).thumbprint()
    path = directory / f"{kid}.pem"
    path.write_bytes(_pem(private_key))
    stamp = time.time() - days_old * 86400
    os.utime(path, (stamp, stamp))
    return kid


@pytest.mark.usefixtures("empty_table")
def test_ensure_signing_key_imports_an_older_releases_key_files_once(settings, tmp_path) -> None:
    settings.SIGNING_KEYS_DIR = tmp_path / "keys"
    older = _key_file(settings.SIGNING_KEYS_DIR, _rsa(), days_old=3)
    newer = _key_file(settings.SIGNING_KEYS_DIR, _rsa(), days_old=1)

    assert keys.ensure_signing_key() is None  # imported, nothing created

    assert [k.kid for k in keys.signing_keys().keys] == [newer, older]
    assert (
        b"PRIVATE KEY"
        not in "".join(
            SigningKeyRecord.objects.values_list("private_key_encrypted", flat=True)
        ).encode()
    )
    # Once imported the files are not read again: a later file is ignored, deleting them is safe.
    _key_file(settings.SIGNING_KEYS_DIR, _rsa(), days_old=0)
    assert keys.ensure_signing_key() is None
    for path in settings.SIGNING_KEYS_DIR.glob("*.pem"):
        path.unlink()
    keys.forget_snapshot()
    assert [k.kid for k in keys.signing_keys().keys] == [newer, older]


@pytest.mark.usefixtures("empty_table")
def test_key_file_import_refuses_a_file_that_is_no_rsa_key(settings, tmp_path) -> None:
    settings.SIGNING_KEYS_DIR = tmp_path / "keys"
    settings.SIGNING_KEYS_DIR.mkdir()
    (settings.SIGNING_KEYS_DIR / "ec.pem").write_bytes(
        _pem(ec.generate_private_key(ec.SECP256R1()))
    )

    with pytest.raises(ImproperlyConfigured, match="not an RSA key"):
        keys.ensure_signing_key()
    assert not SigningKeyRecord.objects.exists()


def test_admin_lists_the_keys_without_their_material(admin_client) -> None:
    old = keys.signing_keys().active
    new = keys.rotate_signing_key()
    record = SigningKeyRecord.objects.get(kid=new.kid)

    changelist = admin_client.get(reverse("admin:identity_signingkeyrecord_changelist"))
    detail = admin_client.get(reverse("admin:identity_signingkeyrecord_change", args=[record.pk]))

    assert changelist.status_code == detail.status_code == 200
    page = changelist.content.decode() + detail.content.decode()
    assert new.kid in page
    assert old.kid in page
    assert record.private_key_encrypted not in page
    assert "PRIVATE KEY" not in page
    assert admin_client.get(reverse("admin:identity_signingkeyrecord_add")).status_code == 403


def test_a_rotation_with_immediate_prune_replaces_keys_a_lost_encryption_key_locked(
    settings,
) -> None:
    """The README's way out when DATA_ENCRYPTION_KEY was lost: the unreadable keys go."""
    locked = keys.rotate_signing_key()
    settings.DATA_ENCRYPTION_KEY = Fernet.generate_key().decode()
    keys._parsed.clear()  # a freshly started node has read nothing yet
    keys.forget_snapshot()
    with pytest.raises(DecryptionFailed):
        keys.signing_keys()

    call_command("rotate_signing_key", "--prune-older-than-days", "0")

    assert [key.kid for key in keys.signing_keys().keys] != [locked.kid]
    assert len(keys.signing_keys().keys) == 1


@pytest.mark.django_db(transaction=True)
def test_a_failed_recheck_keeps_serving_the_cached_set(monkeypatch, client) -> None:
    """A database outage does not take the JWKS (and the token checks) down with it."""
    monkeypatch.setattr(keys, "RECHECK_SECONDS", 0.0)
    cached = keys.signing_keys()

    def database_away() -> object:
        raise OperationalError("connection refused")

    monkeypatch.setattr(keys, "_listing", database_away)

    assert keys.signing_keys() is cached
    response = client.get(reverse("jwks"))
    assert response.status_code == 200
    assert response.json() == cached.jwks()
    # Inside a transaction the failed query is the caller's to handle: no silent fallback.
    with pytest.raises(OperationalError), transaction.atomic():
        keys.signing_keys()
