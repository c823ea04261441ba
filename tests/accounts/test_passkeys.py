"""Passkey ceremonies through the services, answered by a software authenticator."""

from __future__ import annotations

import contextlib

import pytest
from django.test import RequestFactory

from accounts.errors import (
    FactorCodeInvalid,
    MfaRequired,
    PasskeyInvalid,
    PasskeyNameExists,
    PasswordChangeRequired,
)
from accounts.models import AuthMethod, Passkey, PasskeyChallenge, RecoveryCode
from accounts.services import mfa
from accounts.services.login import browser_sign_in
from accounts.services.mfa import passkeys
from accounts.services.mfa.pending import sign_in_factor_prove, sign_in_pending_get
from tests.factories import DEFAULT_PASSWORD
from tests.passkeys import authenticator_new, passkey_enrol

pytestmark = pytest.mark.django_db


@pytest.fixture(autouse=True)
def _relying_party(settings):
    settings.WEBAUTHN_RP_ID = "localhost"
    settings.WEBAUTHN_ORIGINS = ["http://localhost:8000"]


def test_passkey_register_keeps_the_public_key_and_gives_recovery_codes_once(
    user, mailoutbox, django_capture_on_commit_callbacks
):
    authenticator = authenticator_new()
    with django_capture_on_commit_callbacks(execute=True):
        passkey, codes = passkey_enrol(user, authenticator, name="Work laptop")
    assert passkey.name == "Work laptop"
    assert passkey.credential_id == authenticator.get({"challenge": "eA"})["id"]
    assert bytes(passkey.public_key)
    assert passkey.aaguid == "00000000-0000-0000-0000-000000000000"
    assert passkey.transports == ["internal"]
    assert len(codes) == 10
    assert user.mfa_enabled
    assert "passkey was added" in mailoutbox[-1].body
    _second, more_codes = passkey_enrol(user, authenticator_new(), name="Phone")
    assert more_codes == []  # not the first factor: the set is unchanged
    assert RecoveryCode.objects.filter(user=user).count() == 10


def test_passkey_registration_options_require_a_discoverable_verified_credential(user):
    passkey_enrol(user, authenticator_new())
    options = passkeys.passkey_registration_options(user=user)
    assert options["rp"] == {"id": "localhost", "name": options["rp"]["name"]}
    assert options["authenticatorSelection"]["residentKey"] == "required"
    assert options["authenticatorSelection"]["userVerification"] == "required"
    assert options["user"]["name"] == user.username
    assert len(options["excludeCredentials"]) == 1  # the passkey already there


def test_passkey_register_synced_passkey_is_a_software_key(user):
    passkey, _codes = passkey_enrol(user, authenticator_new(synced=True))
    assert passkey.backup_eligible
    assert passkey.backed_up
    assert passkey.amr == AuthMethod.SOFTWARE_KEY


@pytest.mark.parametrize(
    "misbehaviour",
    [{"origin": "https://evil.example"}, {"rp_id": "evil.example"}, {"user_verified": False}],
)
def test_passkey_register_refuses_wrong_origin_rp_id_or_no_user_verification(user, misbehaviour):
    authenticator = authenticator_new(**misbehaviour)
    options = passkeys.passkey_registration_options(user=user)
    with pytest.raises(PasskeyInvalid):
        passkeys.passkey_register(user=user, name="x", credential=authenticator.create(options))
    assert not Passkey.objects.filter(user=user).exists()


def test_passkey_register_refuses_a_challenge_issued_to_another_user(user, user_factory):
    other = user_factory()
    options = passkeys.passkey_registration_options(user=other)
    credential = authenticator_new().create(options)
    with pytest.raises(PasskeyInvalid):
        passkeys.passkey_register(user=user, name="x", credential=credential)


def test_passkey_register_refuses_a_duplicate_name_in_any_case(user):
    passkey_enrol(user, authenticator_new(), name="Laptop")
    with pytest.raises(PasskeyNameExists):
        passkey_enrol(user, authenticator_new(), name="LAPTOP")


def test_passkey_sign_in_finds_the_user_by_the_credential_and_counts_use(user):
    authenticator = authenticator_new()
    passkey, _codes = passkey_enrol(user, authenticator)
    found = passkeys.passkey_sign_in(
        credential=authenticator.get(passkeys.passkey_sign_in_options())
    )
    assert found.user == user
    assert found.pk == passkey.pk
    passkey.refresh_from_db()
    assert passkey.sign_count == 1
    assert passkey.last_used_at is not None


def test_passkey_sign_in_challenge_is_single_use(user):
    authenticator = authenticator_new(counter=False)
    passkey_enrol(user, authenticator)
    credential = authenticator.get(passkeys.passkey_sign_in_options())
    passkeys.passkey_sign_in(credential=credential)
    with pytest.raises(PasskeyInvalid):
        passkeys.passkey_sign_in(credential=credential)  # the same answer replayed


def test_passkey_sign_in_refuses_an_invented_challenge(user):
    authenticator = authenticator_new()
    passkey_enrol(user, authenticator)
    with pytest.raises(PasskeyInvalid):
        passkeys.passkey_sign_in(credential=authenticator.get({"challenge": "bm90LWlzc3VlZA"}))


def test_passkey_sign_in_refuses_a_cloned_authenticator(user):
    authenticator = authenticator_new()
    passkey_enrol(user, authenticator)
    passkeys.passkey_sign_in(credential=authenticator.get(passkeys.passkey_sign_in_options()))
    next(iter(authenticator.credentials.values())).sign_count = 0  # a copy with the old count
    with pytest.raises(PasskeyInvalid):
        passkeys.passkey_sign_in(credential=authenticator.get(passkeys.passkey_sign_in_options()))


@pytest.mark.parametrize(
    "misbehaviour",
    [{"origin": "https://evil.example"}, {"rp_id": "evil.example"}, {"user_verified": False}],
)
def test_passkey_sign_in_refuses_wrong_origin_rp_id_or_no_user_verification(user, misbehaviour):
    authenticator = authenticator_new()
    passkey_enrol(user, authenticator)
    for name, value in misbehaviour.items():
        setattr(authenticator, name, value)
    with pytest.raises(PasskeyInvalid):
        passkeys.passkey_sign_in(credential=authenticator.get(passkeys.passkey_sign_in_options()))


def test_passkey_sign_in_refuses_a_user_handle_of_another_account(user, user_factory):
    authenticator = authenticator_new()
    passkey_enrol(user, authenticator)
    next(iter(authenticator.credentials.values())).user_handle = user_factory().public_id.bytes
    with pytest.raises(PasskeyInvalid):
        passkeys.passkey_sign_in(credential=authenticator.get(passkeys.passkey_sign_in_options()))


def test_passkey_sign_in_refuses_an_inactive_account(user):
    authenticator = authenticator_new()
    passkey_enrol(user, authenticator)
    user.is_active = False
    user.save(update_fields=["is_active"])
    with pytest.raises(PasskeyInvalid):
        passkeys.passkey_sign_in(credential=authenticator.get(passkeys.passkey_sign_in_options()))


def test_passkey_sign_in_refuses_an_account_that_must_change_its_password(user):
    authenticator = authenticator_new()
    passkey_enrol(user, authenticator)
    user.must_change_password = True
    user.save(update_fields=["must_change_password"])
    with pytest.raises(PasswordChangeRequired):
        passkeys.passkey_sign_in(credential=authenticator.get(passkeys.passkey_sign_in_options()))


def test_passkey_sign_in_refuses_a_deleted_passkey(user):
    authenticator = authenticator_new()
    passkey, _codes = passkey_enrol(user, authenticator)
    passkeys.passkey_delete(user=user, passkey_id=passkey.public_id)
    with pytest.raises(PasskeyInvalid):
        passkeys.passkey_sign_in(credential=authenticator.get(passkeys.passkey_sign_in_options()))


def _pending(user):
    request = RequestFactory().post("/accounts/login/", REMOTE_ADDR="203.0.113.9")
    request.session = {}
    with pytest.raises(MfaRequired) as raised:
        browser_sign_in(request=request, login=user.username, password=DEFAULT_PASSWORD)
    return request, sign_in_pending_get(token=raised.value.mfa_token)


def test_passkey_second_step_proves_the_webauthn_method(user):
    authenticator = authenticator_new()
    passkey_enrol(user, authenticator)
    request, pending = _pending(user)
    options = passkeys.passkey_pending_options(pending=pending)
    assert [c["id"] for c in options["allowCredentials"]] == [
        p.credential_id for p in Passkey.objects.filter(user=user)
    ]
    proof = mfa.Proof(
        method="webauthn",
        credential=authenticator.get(options),
        challenge=pending.webauthn_challenge,
    )
    assert sign_in_factor_prove(request=request, pending=pending, proof=proof) == "hwk"


def test_passkey_second_step_refuses_another_users_passkey_and_counts_it(user, user_factory):
    passkey_enrol(user, authenticator_new())
    mallory = user_factory()
    mallory_key = authenticator_new()
    passkey_enrol(mallory, mallory_key)
    request, pending = _pending(user)
    options = passkeys.passkey_pending_options(pending=pending)
    proof = mfa.Proof(
        method="webauthn", credential=mallory_key.get({**options, "allowCredentials": []})
    )
    with pytest.raises(FactorCodeInvalid):
        sign_in_factor_prove(request=request, pending=pending, proof=proof)
    pending.refresh_from_db()
    assert pending.failures == 1


def test_passkey_factor_refuses_a_challenge_of_the_sign_in_without_account(user):
    authenticator = authenticator_new()
    passkey_enrol(user, authenticator)
    credential = authenticator.get(passkeys.passkey_sign_in_options())
    with pytest.raises(FactorCodeInvalid):
        mfa.factor_prove(user=user, proof=mfa.Proof(method="webauthn", credential=credential))


def test_passkey_reauthentication_proof_is_single_use(user):
    authenticator = authenticator_new(counter=False)
    passkey_enrol(user, authenticator)
    credential = authenticator.get(passkeys.passkey_factor_options(user=user))
    proof = mfa.Proof(method="webauthn", credential=credential)
    assert mfa.factor_prove(user=user, proof=proof) == "hwk"
    with pytest.raises(FactorCodeInvalid):
        mfa.factor_prove(user=user, proof=proof)


def test_passkey_factor_refuses_garbage_without_crashing(user):
    for credential in (
        {},
        {"id": "x"},
        {"response": "nope"},
        {"id": 5, "rawId": [], "response": {}},
    ):
        with pytest.raises(FactorCodeInvalid):
            mfa.factor_prove(user=user, proof=mfa.Proof(method="webauthn", credential=credential))


def test_passkey_delete_of_the_last_factor_drops_recovery_codes_and_mfa(
    user, mailoutbox, django_capture_on_commit_callbacks
):
    passkey, _codes = passkey_enrol(user, authenticator_new())
    with django_capture_on_commit_callbacks(execute=True):
        passkeys.passkey_delete(user=user, passkey_id=passkey.public_id)
    user.refresh_from_db()
    assert not user.mfa_enabled
    assert not RecoveryCode.objects.filter(user=user).exists()
    assert "passkey was removed" in mailoutbox[-1].body


def test_passkey_rename_keeps_names_unique(user):
    first, _codes = passkey_enrol(user, authenticator_new(), name="Laptop")
    passkey_enrol(user, authenticator_new(), name="Phone")
    assert (
        passkeys.passkey_rename(user=user, passkey_id=first.public_id, name=" Old  laptop ").name
        == "Old laptop"
    )
    with pytest.raises(PasskeyNameExists):
        passkeys.passkey_rename(user=user, passkey_id=first.public_id, name="phone")


def test_passkey_challenges_purge_deletes_only_expired(user):
    passkeys.passkey_sign_in_options()
    PasskeyChallenge.objects.update(expires_at="2000-01-01T00:00:00Z")
    passkeys.passkey_factor_options(user=user)
    assert passkeys.passkey_challenges_purge() == 1
    assert PasskeyChallenge.objects.count() == 1


def test_purge_expired_sessions_also_purges_unanswered_passkey_challenges(user):
    from django.core.management import call_command

    passkeys.passkey_sign_in_options()
    PasskeyChallenge.objects.update(expires_at="2000-01-01T00:00:00Z")
    passkeys.passkey_factor_options(user=user)
    call_command("purge_expired_sessions")
    assert list(PasskeyChallenge.objects.values_list("user", flat=True)) == [user.pk]


@pytest.mark.parametrize("synced", [False, True])
def test_passkey_sign_in_prepared_statements_match_the_orm(user, synced):
    """The sign-in's hot path (challenge spent, passkey with user and profile, use recorded)
    gives on Postgres what the querysets it replaces give (identity.postgres.statements)."""
    from identity.postgres.statements import orm_only

    user.profile.first_name = "Ada"
    user.profile.save(update_fields=["first_name"])
    authenticator = authenticator_new(synced=synced, counter=not synced)
    passkey_enrol(user, authenticator)
    found = []
    for reference in (False, True):
        options = passkeys.passkey_sign_in_options()
        credential = authenticator.get(options)
        with orm_only() if reference else contextlib.nullcontext():
            passkey = passkeys.passkey_sign_in(credential=credential)
            with pytest.raises(PasskeyInvalid):  # the challenge is spent on both paths
                passkeys.passkey_sign_in(credential=credential)
        stored = Passkey.objects.get(pk=passkey.pk)
        assert (stored.sign_count, stored.last_used_at) == (
            passkey.sign_count,
            passkey.last_used_at,
        )
        found.append((passkey.pk, passkey.user, passkey.user.profile.first_name, passkey.backed_up))
    assert found[0] == found[1]
    assert found[0][1:3] == (user, "Ada")
