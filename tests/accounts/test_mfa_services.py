"""Second factors as services: the authenticator app, its encrypted seed, recovery codes."""

from __future__ import annotations

from collections import Counter

import pyotp
import pytest
from cryptography.fernet import Fernet, InvalidToken

from accounts.errors import FactorCodeInvalid, FactorRequired, TotpAlreadyEnrolled, TotpNotEnrolled
from accounts.models import Passkey, RecoveryCode, TotpDevice, User
from accounts.services import mfa
from accounts.services.mfa.totp import totp_enrol_resume
from tests.hardening.conftest import race
from tests.mfa import totp_code, totp_enrol

pytestmark = pytest.mark.django_db

RACERS = 20


def _prove(user: User, method: str, code: str) -> bool:
    try:
        mfa.factor_prove(user=user, proof=mfa.Proof(method=method, code=code))
    except FactorCodeInvalid:
        return False
    return True


def _passkey(user: User) -> Passkey:
    passkey = Passkey.objects.create(user=user, name="Key", credential_id="c1", public_key=b"k")
    mfa.user_mfa_refresh(user=user)
    return passkey


# -- the authenticator app ---------------------------------------------------------------------


def test_totp_enrol_start_is_not_live_until_confirmed(user):
    secret, uri = mfa.totp_enrol_start(user=user)
    assert uri.startswith("otpauth://totp/")
    assert f"secret={secret}" in uri
    assert "issuer=" in uri
    user.refresh_from_db()
    assert user.mfa_enabled is False
    assert mfa.user_factor_methods(user=user) == []
    assert not _prove(user, "totp", pyotp.TOTP(secret).now())


def test_totp_enrol_confirm_needs_a_code_of_the_new_app(user):
    secret, _ = mfa.totp_enrol_start(user=user)
    other = pyotp.TOTP(pyotp.random_base32())
    with pytest.raises(FactorCodeInvalid):
        mfa.totp_enrol_confirm(user=user, code=other.now())
    codes = mfa.totp_enrol_confirm(user=user, code=pyotp.TOTP(secret).now())
    assert len(codes) == 10
    user.refresh_from_db()
    assert user.mfa_enabled is True
    assert mfa.user_factor_methods(user=user) == ["totp", "recovery_code"]


def test_totp_enrol_restart_replaces_the_unconfirmed_seed(user):
    first, _ = mfa.totp_enrol_start(user=user)
    assert totp_enrol_resume(user=user)[0] == first  # a reload shows the same QR code
    second, _ = mfa.totp_enrol_start(user=user)
    assert second != first
    with pytest.raises(FactorCodeInvalid):
        mfa.totp_enrol_confirm(user=user, code=pyotp.TOTP(first).now())


def test_totp_enrol_start_refused_while_an_app_is_set_up(user):
    totp_enrol(user)
    with pytest.raises(TotpAlreadyEnrolled):
        mfa.totp_enrol_start(user=user)
    with pytest.raises(TotpAlreadyEnrolled):
        totp_enrol_resume(user=user)


def test_totp_code_is_accepted_once(user):
    app = totp_enrol(user)
    code = totp_code(app, steps=1)
    assert _prove(user, "totp", code)
    assert not _prove(user, "totp", code)
    assert not _prove(user, "totp", app.now())  # an earlier step than the one used


def test_totp_seed_is_encrypted_at_rest(user, settings):
    app = totp_enrol(user)
    stored = TotpDevice.objects.get(user=user).secret_encrypted
    assert app.secret not in stored
    assert app.secret.lower() not in stored.lower()
    key = Fernet(settings.DATA_ENCRYPTION_KEY)
    assert key.decrypt(stored.encode()) == app.secret.encode()


def test_totp_seed_read_with_a_fallback_key_is_encrypted_again_under_the_current_key(
    user, settings
):
    old, new = Fernet.generate_key().decode(), Fernet.generate_key().decode()
    settings.DATA_ENCRYPTION_KEY, settings.DATA_ENCRYPTION_KEY_FALLBACKS = old, []
    app = totp_enrol(user)
    settings.DATA_ENCRYPTION_KEY, settings.DATA_ENCRYPTION_KEY_FALLBACKS = new, [old]

    assert _prove(user, "totp", totp_code(app, steps=1))  # the rotation did not lock them out

    stored = TotpDevice.objects.get(user=user).secret_encrypted.encode()
    assert Fernet(new).decrypt(stored) == app.secret.encode()
    with pytest.raises(InvalidToken):
        Fernet(old).decrypt(stored)


def test_totp_remove_of_the_last_factor_removes_the_codes(user):
    totp_enrol(user)
    mfa.totp_remove(user=user)
    user.refresh_from_db()
    assert user.mfa_enabled is False
    assert not TotpDevice.objects.filter(user=user).exists()
    assert not RecoveryCode.objects.filter(user=user).exists()
    assert mfa.user_factor_methods(user=user) == []
    with pytest.raises(TotpNotEnrolled):
        mfa.totp_remove(user=user)


def test_totp_remove_keeps_the_codes_while_a_passkey_remains(user):
    totp_enrol(user)
    _passkey(user)
    mfa.totp_remove(user=user)
    user.refresh_from_db()
    assert user.mfa_enabled is True
    assert mfa.recovery_codes_left(user=user) == 10


def test_totp_enrol_after_a_passkey_gives_no_new_codes(user):
    _passkey(user)
    secret, _ = mfa.totp_enrol_start(user=user)
    assert mfa.totp_enrol_confirm(user=user, code=pyotp.TOTP(secret).now()) == []


# -- recovery codes ----------------------------------------------------------------------------


def test_recovery_codes_ten_distinct_and_only_digests_stored(user):
    codes = totp_enrol(user).recovery_codes
    assert len(codes) == 10
    assert len(set(codes)) == 10
    rows = list(RecoveryCode.objects.filter(user=user).values_list("code_hash", flat=True))
    assert len(rows) == 10
    stored = " ".join(rows)
    for code in codes:
        assert code not in stored
        assert code.replace("-", "") not in stored


def test_recovery_code_is_single_use(user, mailoutbox, django_capture_on_commit_callbacks):
    code = totp_enrol(user).recovery_codes[0]
    with django_capture_on_commit_callbacks(execute=True):
        assert _prove(user, "recovery_code", code.upper())  # as typed from paper
    assert not _prove(user, "recovery_code", code)
    assert mfa.recovery_codes_left(user=user) == 9
    assert len(mailoutbox) == 1
    assert code not in mailoutbox[0].body


def test_recovery_codes_regenerate_invalidates_the_old_set(user):
    old = totp_enrol(user).recovery_codes
    _prove(user, "recovery_code", old[0])
    new = mfa.recovery_codes_regenerate(user=user)
    assert mfa.recovery_codes_left(user=user) == 10
    assert not any(_prove(user, "recovery_code", code) for code in old[1:])
    assert _prove(user, "recovery_code", new[0])


def test_recovery_codes_regenerate_needs_a_factor(user):
    with pytest.raises(FactorRequired):
        mfa.recovery_codes_regenerate(user=user)
    assert not RecoveryCode.objects.filter(user=user).exists()


def test_factor_changes_are_emailed(user, mailoutbox, django_capture_on_commit_callbacks):
    with django_capture_on_commit_callbacks(execute=True):
        app = totp_enrol(user)
        mfa.recovery_codes_regenerate(user=user)
        mfa.totp_remove(user=user)
    bodies = [message.body for message in mailoutbox]
    assert len(bodies) == 3
    assert "authenticator app was added" in bodies[0]
    assert "new set of recovery codes" in bodies[1]
    assert "authenticator app was removed" in bodies[2]
    assert all(user.email in message.to for message in mailoutbox)
    assert not any(app.secret in body for body in bodies)


# -- races: one secret, many requests at once --------------------------------------------------


@pytest.mark.django_db(transaction=True)
def test_one_recovery_code_spent_by_20_threads_works_once(user):
    code = totp_enrol(user).recovery_codes[0]
    results = Counter(race(RACERS, lambda _: _prove(user, "recovery_code", code)))
    assert results == {True: 1, False: RACERS - 1}
    assert mfa.recovery_codes_left(user=user) == 9


@pytest.mark.django_db(transaction=True)
def test_one_totp_code_used_by_20_threads_works_once(user):
    app = totp_enrol(user)
    code = totp_code(app, steps=1)
    results = Counter(race(RACERS, lambda _: _prove(user, "totp", code)))
    assert results == {True: 1, False: RACERS - 1}


def test_factor_changes_are_written_to_the_accounts_history(user):
    from django.contrib.admin.models import LogEntry

    totp_enrol(user)
    mfa.recovery_codes_regenerate(user=user)
    mfa.totp_remove(user=user)
    entries = LogEntry.objects.filter(object_id=str(user.pk)).order_by("pk")
    assert [entry.change_message for entry in entries] == [
        "An authenticator app was added.",
        "A new set of recovery codes was made (the old codes no longer work).",
        "The authenticator app was removed.",
    ]
    assert {entry.user_id for entry in entries} == {user.pk}


def test_using_a_recovery_code_is_emailed_with_a_warning_when_few_are_left(
    user, mailoutbox, django_capture_on_commit_callbacks, settings
):
    codes = totp_enrol(user).recovery_codes
    mailoutbox.clear()
    for code in codes[:7]:
        with django_capture_on_commit_callbacks(execute=True):
            mfa.factor_prove(user=user, proof=mfa.Proof(method="recovery_code", code=code))
    bodies = [message.body for message in mailoutbox]
    assert len(bodies) == 7
    assert all("recovery code was just used" in body for body in bodies)
    assert "3 are left" in bodies[6]
    assert "running out" not in bodies[6]
    with django_capture_on_commit_callbacks(execute=True):
        mfa.factor_prove(user=user, proof=mfa.Proof(method="recovery_code", code=codes[7]))
    assert "2 are left" in mailoutbox[-1].body
    assert "running out of recovery codes" in mailoutbox[-1].body
    assert not any(code in message.body for code in codes for message in mailoutbox)
