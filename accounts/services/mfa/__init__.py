"""Second factors: enrolling and removing them, proving one, and who must have one.

Modules: ``totp`` (the authenticator app), ``recovery`` (recovery codes), ``pending`` (the
sign-in step between the password and a session), ``amr`` (how a sign-in was proven, as
stored and as claimed in tokens). Passkeys (WebAuthn ceremonies) are ``passkeys``. This module
holds the use cases pages, API and admin call: each keeps ``User.mfa_enabled`` true to the
factors in the same transaction and tells the user by email.
"""

from __future__ import annotations

import logging
from collections.abc import Callable
from dataclasses import dataclass
from typing import Any

from django.conf import settings
from django.contrib.admin.models import CHANGE, LogEntry
from django.db import transaction

from accounts import emails
from accounts.errors import FactorCodeInvalid, FactorRequired, ReauthenticationRequired
from accounts.models import (
    AuthMethod,
    Passkey,
    PendingSignIn,
    RecoveryCode,
    TotpDevice,
    User,
)
from accounts.selectors import user_factors
from accounts.services.events import user_event_record
from accounts.services.mfa.recovery import (
    recovery_code_spend,
    recovery_codes_left,
    recovery_codes_replace,
)
from accounts.services.mfa.totp import (
    totp_check,
    totp_device_confirm,
    totp_device_delete,
    totp_enrol_start,
)
from accounts.services.sessions.revoke import user_sessions_revoke  # not the package: a cycle
from authz.selectors import account_action_check, user_requires_mfa
from identity import metrics

logger = logging.getLogger(__name__)

# The names the API uses for the ways to prove a second factor (``methods``).
METHOD_TOTP = "totp"
METHOD_RECOVERY_CODE = "recovery_code"
METHOD_WEBAUTHN = "webauthn"
# Every method, as the API names them (the OpenAPI schema names this set MfaMethodEnum).
MFA_METHODS = (METHOD_TOTP, METHOD_RECOVERY_CODE, METHOD_WEBAUTHN)

__all__ = [
    "METHOD_RECOVERY_CODE",
    "METHOD_TOTP",
    "METHOD_WEBAUTHN",
    "PROVERS",
    "Proof",
    "factor_change_record",
    "factor_prove",
    "factor_prove_any",
    "mfa_required",
    "recovery_codes_left",
    "recovery_codes_regenerate",
    "totp_enrol_confirm",
    "totp_enrol_start",
    "totp_remove",
    "user_factor_methods",
    "user_mfa_refresh",
    "user_mfa_reset_by_admin",
]


def user_factor_methods(*, user: User) -> list[str]:
    """The ways this user can prove a second factor now (API names, in a stable order); none
    without an app or a passkey (recovery codes stand in for those, never alone)."""
    factors = user_factors(user=user)
    if not factors.any:
        return []
    present = {
        METHOD_TOTP: factors.totp is not None,
        METHOD_RECOVERY_CODE: factors.recovery_codes_left > 0,
        METHOD_WEBAUTHN: bool(factors.passkeys),
    }
    return [method for method in MFA_METHODS if present[method]]


def user_mfa_refresh(*, user: User) -> bool:
    """Sets ``User.mfa_enabled`` from the factors the user has (an app or a passkey); with
    none left, the recovery codes go too. Call inside the transaction that changed them."""
    enabled = (
        TotpDevice.objects.filter(user=user, confirmed_at__isnull=False).exists()
        or Passkey.objects.filter(user=user).exists()
    )
    if not enabled:
        user.recovery_codes.all().delete()
    if user.mfa_enabled != enabled:
        User.objects.filter(pk=user.pk).update(mfa_enabled=enabled)
        user.mfa_enabled = enabled
    return enabled


def mfa_required(*, user: User) -> bool:
    """Whether this account must sign in with a second factor: everyone when
    MFA_REQUIRED_FOR_ALL, staff when MFA_REQUIRED_FOR_STAFF, and holders of a role that
    requires it (authz)."""
    if settings.MFA_REQUIRED_FOR_ALL:
        return True
    if settings.MFA_REQUIRED_FOR_STAFF and user.is_staff:
        return True
    return user_requires_mfa(user=user)


@transaction.atomic
def totp_enrol_confirm(*, user: User, code: str) -> list[str]:
    """Makes the app being added live once ``code`` from it is right. Returns a new set of
    recovery codes when this is the user's first factor (shown once), else []."""
    if not totp_check(user=user, code=code, confirmed=False):
        raise FactorCodeInvalid()
    first = not user.mfa_enabled
    totp_device_confirm(user=user)
    user_mfa_refresh(user=user)
    codes = recovery_codes_replace(user=user) if first else []
    factor_change_record(user=user, change="An authenticator app was added")
    user_event_record("mfa.factor_added", user=user, actor=user, data=_added(METHOD_TOTP, first))
    return codes


@transaction.atomic
def totp_remove(*, user: User) -> None:
    totp_device_delete(user=user)
    user_mfa_refresh(user=user)
    factor_change_record(user=user, change="The authenticator app was removed")
    user_event_record("mfa.factor_removed", user=user, actor=user, data={"method": METHOD_TOTP})


@transaction.atomic
def recovery_codes_regenerate(*, user: User) -> list[str]:
    """A new set of recovery codes; the old codes stop working at once."""
    if not user_mfa_refresh(user=user):
        raise FactorRequired()
    codes = recovery_codes_replace(user=user)
    # Only a set replacing one: the first comes with the first factor (mfa.factor_added).
    user_event_record(
        "mfa.recovery_codes_generated", user=user, actor=user, data={"count": len(codes)}
    )
    factor_change_record(
        user=user, change="A new set of recovery codes was made (the old codes no longer work)"
    )
    return codes


@dataclass(frozen=True)
class Proof:
    """What a user presents for one factor: a ``code`` (totp, recovery_code) or a WebAuthn
    ``credential`` (the assertion as the browser's JSON) answering ``challenge``."""

    method: str
    code: str = ""
    credential: dict[str, Any] | None = None
    challenge: str = ""


# method -> function(user, proof) returning the AuthMethod proven, or raising
# FactorCodeInvalid. Passkeys register theirs (accounts.services.mfa.passkeys).
PROVERS: dict[str, Callable[[User, Proof], str]] = {}


def factor_prove(*, user: User, proof: Proof) -> str:
    """Proves one factor of ``user``; returns the AuthMethod it adds to the sign-in. Wrong,
    spent, replayed or of an unknown method: FactorCodeInvalid (callers count the failure)."""
    return factor_prove_any(user=user, proofs=[proof])


def factor_prove_any(*, user: User, proofs: list[Proof]) -> str:
    """factor_prove for the first of ``proofs`` that holds (a code that may be the app's or a
    recovery code), counted as one proof in the metrics: under the method that held, or, when
    none did, under the first one's."""
    for proof in proofs:
        prover = PROVERS.get(proof.method)
        if prover is None:
            continue
        try:
            proven = prover(user, proof)
        except FactorCodeInvalid:
            continue
        metrics.mfa_record(method=proof.method, success=True)
        return proven
    if proofs and proofs[0].method in MFA_METHODS:
        metrics.mfa_record(method=proofs[0].method, success=False)
    raise FactorCodeInvalid()


def _totp_prove(user: User, proof: Proof) -> str:
    if not totp_check(user=user, code=proof.code):
        raise FactorCodeInvalid()
    return AuthMethod.TOTP


def _recovery_code_prove(user: User, proof: Proof) -> str:
    """Using a recovery code is emailed, with a warning when few are left."""
    if not recovery_code_spend(user=user, code=proof.code):
        raise FactorCodeInvalid()
    user_event_record("mfa.recovery_code_used", user=user, actor=user)
    transaction.on_commit(lambda: _recovery_code_used(user))
    return AuthMethod.RECOVERY_CODE


PROVERS[METHOD_TOTP] = _totp_prove
PROVERS[METHOD_RECOVERY_CODE] = _recovery_code_prove


def _recovery_code_used(user: User) -> None:
    emails.send_recovery_code_used(
        username=user.username, to=user.email, left=recovery_codes_left(user=user)
    )


def _added(method: str, first: bool) -> dict[str, Any]:
    # first: the account's first factor, which came with its first set of recovery codes.
    return {"method": method, "first": first}


def factor_change_record(
    *, user: User, change: str, actor: User | None = None, detail: str = ""
) -> None:
    """A factor added, removed or reset, or recovery codes replaced: written to the account's
    admin history (LogEntry, by ``actor``, the user themselves by default) and emailed to the
    user. ``change`` is a sentence ("An authenticator app was added"); ``detail`` what the
    history says instead, when it says more."""
    LogEntry.objects.log_actions(
        user_id=(actor or user).pk,
        queryset=[user],
        action_flag=CHANGE,
        change_message=detail or f"{change}.",
        single_object=True,
    )
    transaction.on_commit(
        lambda: emails.send_security_change(username=user.username, to=user.email, change=change)
    )


# -- an administrator's reset -------------------------------------------------------------
OWN_FACTORS_MESSAGE = (
    "Manage your own second factors on your security page, confirmed with a recent proof."
)
MFA_RESET_REASON = "mfa_reset_by_admin"


@transaction.atomic
def user_mfa_reset_by_admin(*, actor: User, user: User) -> None:
    """Takes every second factor of ``user`` away (a lost phone, no codes left): the app,
    passkeys, recovery codes and half-done sign-ins. Only an admin who may act on the account
    (authz.selectors.account_action_check), never on their own (a stolen admin session would
    strip its own account's factors).

    Unlike Keycloak's "reset OTP", every sign-in of the user ends too: their amr names factors
    that no longer exist (an OAuth client reading acr=mfa from a refresh would be misled), and a
    reset is what one asks for when a factor is lost or stolen. The user signs in again with the
    password and, where a policy requires it, enrols anew before anything else. Recorded in the
    account's admin history (LogEntry, with the actor, as accounts' other admin exceptions) and
    the log; the user is emailed."""
    account_action_check(actor=actor, target=user)
    if actor is not None and actor.pk == user.pk:
        raise ReauthenticationRequired(OWN_FACTORS_MESSAGE)
    removed, methods = _factors_delete(user=user)
    for method in methods:
        user_event_record("mfa.factor_removed", user=user, actor=actor, data={"method": method})
    user_mfa_refresh(user=user)
    user_sessions_revoke(user=user, reason=MFA_RESET_REASON)
    logger.warning(
        "second factors reset by an administrator",
        extra={"actor": str(getattr(actor, "public_id", "")), "user": str(user.public_id)},
    )
    factor_change_record(
        user=user,
        actor=actor,
        change="An administrator reset your second factors (the authenticator app, passkeys "
        "and recovery codes were removed; sign in with your password and add new ones)",
        detail=f"Second factors reset: {removed}.",
    )


def _factors_delete(*, user: User) -> tuple[str, list[str]]:
    """Deletes every factor and pending sign-in of ``user``; says what went, never a secret,
    and which methods went."""
    apps, _ = TotpDevice.objects.filter(user=user).delete()
    keys, _ = Passkey.objects.filter(user=user).delete()
    codes, _ = RecoveryCode.objects.filter(user=user, used_at__isnull=True).delete()
    RecoveryCode.objects.filter(user=user).delete()
    PendingSignIn.objects.filter(user=user).delete()
    said = f"{apps} authenticator app(s), {keys} passkey(s), {codes} unused recovery code(s)"
    return said, [method for method, n in ((METHOD_TOTP, apps), (METHOD_WEBAUTHN, keys)) if n]


# Last: passkeys registers PROVERS["webauthn"] and needs the names above.
from accounts.services.mfa import passkeys  # noqa: E402, F401
