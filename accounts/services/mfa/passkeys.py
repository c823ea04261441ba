"""Passkeys: WebAuthn registration and authentication ceremonies (py_webauthn does the crypto).

Every challenge is issued here, kept as a PasskeyChallenge row (its digest, its purpose, the
user it was issued to) and spent by the first answer, right or wrong: the browser's
clientDataJSON names the challenge it answers, so clients need no handle. Three ways to
authenticate: a passkey alone (discoverable: the credential names the user), the second step of
a pending sign-in, and re-authentication (both through ``PROVERS["webauthn"]``).
"""

from __future__ import annotations

import dataclasses
import functools
import hmac
from datetime import timedelta
from typing import Any

from django.conf import settings
from django.db import IntegrityError, connections, router, transaction
from django.utils import timezone
from webauthn import (
    generate_authentication_options,
    generate_registration_options,
    verify_authentication_response,
    verify_registration_response,
)
from webauthn.helpers import (
    base64url_to_bytes,
    bytes_to_base64url,
    generate_challenge,
    options_to_json_dict,
    parse_authentication_credential_json,
    parse_client_data_json,
    parse_registration_credential_json,
)
from webauthn.helpers.exceptions import WebAuthnException
from webauthn.helpers.structs import (
    AuthenticationCredential,
    AuthenticatorSelectionCriteria,
    AuthenticatorTransport,
    CredentialDeviceType,
    PublicKeyCredentialDescriptor,
    RegistrationCredential,
    ResidentKeyRequirement,
    UserVerificationRequirement,
)
from webauthn.registration.verify_registration_response import VerifiedRegistration

from accounts.errors import (
    EmailNotVerified,
    FactorCodeInvalid,
    PasskeyInvalid,
    PasskeyNameExists,
    PasskeyNotFound,
    PasswordChangeRequired,
)
from accounts.models import Passkey, PasskeyChallenge, PendingSignIn, User
from accounts.services.events import user_event_record
from accounts.services.mfa import (
    METHOD_WEBAUTHN,
    PROVERS,
    Proof,
    factor_change_record,
    user_mfa_refresh,
)
from accounts.services.mfa.pending import sign_in_pending_challenge_set
from accounts.services.mfa.recovery import recovery_codes_replace
from identity import metrics
from identity.hashing import sha256_hex
from identity.postgres import rows_insert
from identity.postgres.statements import (
    Select,
    Statement,
    fast_path,
    select_statement,
    sql_statement,
    update_statement,
)

CHALLENGE_SECONDS = 300
Purpose = PasskeyChallenge.Purpose
_CHALLENGE_DELETE = (
    "DELETE FROM {c} WHERE {c.challenge_hash} = %s AND {c.purpose} = %s AND {c.expires_at} > %s"
)
_CHALLENGE_DELETE_OF_USER = (
    "DELETE FROM {c} WHERE {c.challenge_hash} = %s AND {c.purpose} = %s AND {c.expires_at} > %s"
    " AND {c.user} = %s"
)


# -- challenges -------------------------------------------------------------------------------


def _challenge_issue(*, purpose: str, user: User | None = None) -> bytes:
    """A fresh 64-byte challenge (py_webauthn's generator), remembered for CHALLENGE_SECONDS."""
    challenge = generate_challenge()
    now = timezone.now()
    rows_insert(
        PasskeyChallenge(
            challenge_hash=sha256_hex(bytes_to_base64url(challenge)),
            purpose=purpose,
            user=user,
            created_at=now,
            expires_at=now + timedelta(seconds=CHALLENGE_SECONDS),
        )
    )
    return challenge


def _challenge_take(*, challenge: bytes, purpose: str, user: User | None = None) -> bool:
    """Spends a challenge issued for ``purpose`` (and ``user``); of racing answers, one wins."""
    digest, now = sha256_hex(bytes_to_base64url(challenge)), timezone.now()
    alias = router.db_for_write(PasskeyChallenge)
    if fast_path(connections[alias]):
        params = [digest, purpose, now] + ([user.pk] if user is not None else [])
        return _challenge_delete_statement(alias, user is not None).rowcount(params) == 1
    rows = PasskeyChallenge.objects.filter(
        challenge_hash=digest, purpose=purpose, expires_at__gt=now
    )
    if user is not None:
        rows = rows.filter(user=user)
    return rows.delete()[0] == 1


@functools.cache
def _challenge_delete_statement(alias: str, of_user: bool) -> Statement:
    """The DELETE _challenge_take's queryset makes, built once (identity.postgres.statements:
    the passkey sign-in is a hot path whose ORM compiling cost more than its queries)."""
    template = _CHALLENGE_DELETE_OF_USER if of_user else _CHALLENGE_DELETE
    return sql_statement(template, tables=(("c", PasskeyChallenge),), using=alias)


def passkey_challenges_purge() -> int:
    """Deletes challenges nobody answered (expired)."""
    return PasskeyChallenge.objects.filter(expires_at__lt=timezone.now()).delete()[0]


def _client_challenge(credential: RegistrationCredential | AuthenticationCredential) -> bytes:
    return parse_client_data_json(credential.response.client_data_json).challenge


def _as_json(options: Any) -> dict[str, Any]:
    return options_to_json_dict(options)


# -- registration -----------------------------------------------------------------------------


def passkey_registration_options(*, user: User) -> dict[str, Any]:
    """The publicKey options for navigator.credentials.create(): a discoverable credential
    with user verification, none of the user's existing authenticators again."""
    existing = Passkey.objects.filter(user=user).values_list("credential_id", "transports")
    options = generate_registration_options(
        rp_id=settings.WEBAUTHN_RP_ID,
        rp_name=settings.WEBAUTHN_RP_NAME,
        user_id=user.public_id.bytes,
        user_name=user.username,
        user_display_name=user.get_full_name() or user.username,
        challenge=_challenge_issue(purpose=Purpose.REGISTER, user=user),
        timeout=CHALLENGE_SECONDS * 1000,
        authenticator_selection=AuthenticatorSelectionCriteria(
            resident_key=ResidentKeyRequirement.REQUIRED,
            user_verification=UserVerificationRequirement.REQUIRED,
        ),
        exclude_credentials=_descriptors(existing),
    )
    return _as_json(options)


def _descriptors(rows: Any) -> list[PublicKeyCredentialDescriptor]:
    known = {transport.value for transport in AuthenticatorTransport}
    return [
        PublicKeyCredentialDescriptor(
            id=base64url_to_bytes(credential_id),
            transports=[AuthenticatorTransport(t) for t in transports if t in known] or None,
        )
        for credential_id, transports in rows
    ]


def passkey_register(
    *, user: User, name: str, credential: dict[str, Any]
) -> tuple[Passkey, list[str]]:
    """Verifies the browser's answer to passkey_registration_options and keeps the passkey.
    Returns it and, when it is the user's first factor, a new set of recovery codes. The
    challenge is spent before the checks, outside the transaction: a refusal spends it too."""
    name = _name_clean(user=user, name=name)
    parsed = _registration_parse(credential)
    challenge = _client_challenge(parsed)
    if not _challenge_take(challenge=challenge, purpose=Purpose.REGISTER, user=user):
        raise PasskeyInvalid()
    try:
        verified = verify_registration_response(
            credential=parsed,
            expected_challenge=challenge,
            expected_rp_id=settings.WEBAUTHN_RP_ID,
            expected_origin=settings.WEBAUTHN_ORIGINS,
            require_user_verification=True,
        )
    except WebAuthnException as error:
        raise PasskeyInvalid() from error
    return _passkey_keep(user=user, name=name, verified=verified, parsed=parsed)


@transaction.atomic
def _passkey_keep(
    *, user: User, name: str, verified: VerifiedRegistration, parsed: RegistrationCredential
) -> tuple[Passkey, list[str]]:
    first = not user.mfa_enabled
    passkey = _passkey_create(user=user, name=name, verified=verified, parsed=parsed)
    user_mfa_refresh(user=user)
    codes = recovery_codes_replace(user=user) if first else []
    factor_change_record(user=user, change=f"A passkey was added: {name}")
    user_event_record(
        "mfa.factor_added", user=user, actor=user, data={**_webauthn(passkey), "first": first}
    )
    return passkey, codes


def _registration_parse(credential: Any) -> RegistrationCredential:
    try:
        return parse_registration_credential_json(credential)
    except (WebAuthnException, TypeError, ValueError, KeyError, AttributeError) as error:
        raise PasskeyInvalid() from error


def _passkey_create(
    *, user: User, name: str, verified: VerifiedRegistration, parsed: RegistrationCredential
) -> Passkey:
    transports = [t.value for t in (parsed.response.transports or [])]
    try:
        with transaction.atomic():
            return Passkey.objects.create(
                user=user,
                name=name,
                credential_id=bytes_to_base64url(verified.credential_id),
                public_key=verified.credential_public_key,
                sign_count=verified.sign_count,
                transports=transports,
                aaguid=str(verified.aaguid),
                backup_eligible=verified.credential_device_type
                == CredentialDeviceType.MULTI_DEVICE,
                backed_up=verified.credential_backed_up,
            )
    except IntegrityError as error:
        # A name taken by a racing request, or a credential registered already (to anyone).
        raise PasskeyInvalid() from error


def _name_clean(*, user: User, name: str, passkey: Passkey | None = None) -> str:
    name = " ".join((name or "").split())[:100] or "Passkey"
    taken = Passkey.objects.filter(user=user, name__iexact=name)
    if passkey is not None:
        taken = taken.exclude(pk=passkey.pk)
    if taken.exists():
        raise PasskeyNameExists()
    return name


# -- managing ---------------------------------------------------------------------------------


def passkey_get(*, user: User, passkey_id: Any) -> Passkey:
    """One of ``user``'s passkeys by public id; another user's is as unknown as none."""
    passkey = Passkey.objects.filter(user=user, public_id=passkey_id).first()
    if passkey is None:
        raise PasskeyNotFound()
    return passkey


def passkey_rename(*, user: User, passkey_id: Any, name: str) -> Passkey:
    passkey = passkey_get(user=user, passkey_id=passkey_id)
    passkey.name = _name_clean(user=user, name=name, passkey=passkey)
    try:
        with transaction.atomic():
            passkey.save(update_fields=["name", "updated_at"])
    except IntegrityError as error:
        raise PasskeyNameExists() from error
    return passkey


@transaction.atomic
def passkey_delete(*, user: User, passkey_id: Any) -> None:
    """Removes a passkey; with no factor left the recovery codes go too (user_mfa_refresh)."""
    passkey = passkey_get(user=user, passkey_id=passkey_id)
    passkey.delete()
    user_mfa_refresh(user=user)
    factor_change_record(user=user, change=f"A passkey was removed: {passkey.name}")
    user_event_record("mfa.factor_removed", user=user, actor=user, data=_webauthn(passkey))


def _webauthn(passkey: Passkey) -> dict[str, str]:
    # The passkey's public id, never its credential id or key: ids a receiver can look up.
    return {"method": METHOD_WEBAUTHN, "passkey_id": str(passkey.public_id)}


# -- authentication ---------------------------------------------------------------------------


def passkey_sign_in_options() -> dict[str, Any]:
    """Options for a passkey alone (discoverable: no account named, no credentials listed)."""
    options = generate_authentication_options(
        rp_id=settings.WEBAUTHN_RP_ID,
        challenge=_challenge_issue(purpose=Purpose.SIGN_IN),
        timeout=CHALLENGE_SECONDS * 1000,
        user_verification=UserVerificationRequirement.REQUIRED,
    )
    return _as_json(options)


def passkey_factor_options(*, user: User) -> dict[str, Any]:
    """Options for ``user`` to prove a passkey of theirs (re-authentication, the second step)."""
    existing = Passkey.objects.filter(user=user).values_list("credential_id", "transports")
    options = generate_authentication_options(
        rp_id=settings.WEBAUTHN_RP_ID,
        challenge=_challenge_issue(purpose=Purpose.FACTOR, user=user),
        timeout=CHALLENGE_SECONDS * 1000,
        allow_credentials=_descriptors(existing),
        user_verification=UserVerificationRequirement.REQUIRED,
    )
    return _as_json(options)


def passkey_pending_options(*, pending: PendingSignIn) -> dict[str, Any]:
    """passkey_factor_options for a pending sign-in; the step remembers the challenge too."""
    options = passkey_factor_options(user=pending.user)
    sign_in_pending_challenge_set(pending=pending, challenge=options["challenge"])
    return options


def passkey_sign_in(*, credential: dict[str, Any]) -> Passkey:
    """The passkey (with its active user) behind an answer to passkey_sign_in_options.
    Every failure is the same PasskeyInvalid: nothing tells whether a credential exists."""
    try:
        parsed = _assertion_parse(credential)
        passkey = _sign_in_challenge_take(
            challenge=_client_challenge(parsed), credential_id=parsed.id
        )
        if passkey is None or not passkey.user.is_active:
            raise PasskeyInvalid()
        _user_handle_check(parsed, passkey.user, required=True)
        _assertion_verify(passkey=passkey, parsed=parsed)
    except PasskeyInvalid:
        metrics.mfa_record(method="webauthn", success=False)
        raise
    metrics.mfa_record(method="webauthn", success=True)
    _account_refusal_check(passkey.user)
    return passkey


def _account_refusal_check(user: User) -> None:
    """What stops a password sign-in stops a passkey one (told only to the passkey's holder):
    a password the administrator made temporary, an address not verified where it must be."""
    if user.must_change_password:
        raise PasswordChangeRequired()
    mandatory = settings.ACCOUNT_EMAIL_VERIFICATION == "mandatory"
    if mandatory and user.email_verified_at is None:
        raise EmailNotVerified()


def passkey_prove(*, user: User, credential: dict[str, Any], challenge: str = "") -> Passkey:
    """A passkey of ``user`` answering a challenge issued to them (passkey_factor_options);
    ``challenge``, when given, is the one the caller expects (a pending step's)."""
    parsed = _assertion_parse(credential)
    answered = _client_challenge(parsed)
    if challenge and not hmac.compare_digest(challenge, bytes_to_base64url(answered)):
        raise PasskeyInvalid()
    if not _challenge_take(challenge=answered, purpose=Purpose.FACTOR, user=user):
        raise PasskeyInvalid()
    passkey = Passkey.objects.filter(user=user, credential_id=parsed.id).first()
    if passkey is None:
        raise PasskeyInvalid()
    _user_handle_check(parsed, user, required=False)
    _assertion_verify(passkey=passkey, parsed=parsed)
    return passkey


def _assertion_parse(credential: Any) -> AuthenticationCredential:
    try:
        parsed = parse_authentication_credential_json(credential)
        _client_challenge(parsed)
    except (WebAuthnException, TypeError, ValueError, KeyError, AttributeError) as error:
        raise PasskeyInvalid() from error
    if len(parsed.id) > 1400:
        raise PasskeyInvalid()
    return parsed


def _user_handle_check(parsed: AuthenticationCredential, user: User, *, required: bool) -> None:
    """The user handle the authenticator returns must be the account's (WebAuthn §7.2 step 6)."""
    handle = parsed.response.user_handle
    if handle is None and not required:
        return
    if handle is None or not hmac.compare_digest(handle, user.public_id.bytes):
        raise PasskeyInvalid()


def _assertion_verify(*, passkey: Passkey, parsed: AuthenticationCredential) -> None:
    """Checks the signature, origin, rp id, user verification and the sign count (a count
    that does not grow, where one is kept, is a cloned authenticator), then records the use.
    The update is a compare-and-swap on the count: of two racing answers one is refused."""
    try:
        verified = verify_authentication_response(
            credential=parsed,
            expected_challenge=_client_challenge(parsed),
            expected_rp_id=settings.WEBAUTHN_RP_ID,
            expected_origin=settings.WEBAUTHN_ORIGINS,
            credential_public_key=bytes(passkey.public_key),
            credential_current_sign_count=passkey.sign_count,
            require_user_verification=True,
        )
    except WebAuthnException as error:
        raise PasskeyInvalid() from error
    now = timezone.now()
    updated = _passkey_use_record(
        passkey=passkey,
        sign_count=verified.new_sign_count,
        at=now,
        backed_up=verified.credential_backed_up,
    )
    if updated != 1:
        raise PasskeyInvalid()
    passkey.sign_count, passkey.last_used_at = verified.new_sign_count, now
    passkey.backed_up = verified.credential_backed_up


def _sign_in_challenge_take(*, challenge: bytes, credential_id: str) -> Passkey | None:
    """Spends a sign-in challenge and returns the passkey of ``credential_id`` with its user
    and profile (the id_token reads it); None unless both are found. The challenge is spent
    whether or not the passkey exists. On Postgres one prepared statement does both (a
    DELETE in a WITH clause, which runs whatever the SELECT finds): one round trip less on
    every passkey sign-in; elsewhere the DELETE and the queryset."""
    alias = router.db_for_write(Passkey)
    if not fast_path(connections[alias]):
        if not _challenge_take(challenge=challenge, purpose=Purpose.SIGN_IN):
            return None
        rows = Passkey.objects.select_related("user", "user__profile")
        return rows.filter(credential_id=credential_id).first()
    digest = sha256_hex(bytes_to_base64url(challenge))
    statement = _sign_in_statement(alias)
    row = statement.row([digest, Purpose.SIGN_IN, timezone.now(), credential_id])
    return None if row is None else statement.instances(row)[0]


@functools.cache
def _sign_in_statement(alias: str) -> Select:
    select = select_statement(
        Passkey,
        "k",
        related=(("user", "u"), ("user__profile", "p")),
        where="{k.credential_id} = %s AND EXISTS (SELECT 1 FROM spent)",
        tail="LIMIT 1",
        using=alias,
    )
    spend = _challenge_delete_statement(alias, False).sql
    return dataclasses.replace(select, sql=f"WITH spent AS ({spend} RETURNING 1) {select.sql}")


def _passkey_use_record(*, passkey: Passkey, sign_count: int, at: Any, backed_up: bool) -> int:
    """Records a use if the stored count is still the one checked (compare-and-swap)."""
    alias = router.db_for_write(Passkey)
    if not fast_path(connections[alias]):
        rows = Passkey.objects.filter(pk=passkey.pk, sign_count=passkey.sign_count)
        return rows.update(sign_count=sign_count, last_used_at=at, backed_up=backed_up)
    statement = update_statement(
        Passkey,
        "k",
        columns=("sign_count", "last_used_at", "backed_up"),
        where="{k.id} = %s AND {k.sign_count} = %s",
        using=alias,
    )
    return statement.rowcount([sign_count, at, backed_up, passkey.pk, passkey.sign_count])


def _webauthn_prove(user: User, proof: Proof) -> str:
    """PROVERS["webauthn"]: a failed passkey is a wrong code to the pending step's counting."""
    try:
        passkey = passkey_prove(
            user=user, credential=proof.credential or {}, challenge=proof.challenge
        )
    except PasskeyInvalid as error:
        raise FactorCodeInvalid() from error
    return passkey.amr


PROVERS[METHOD_WEBAUTHN] = _webauthn_prove
