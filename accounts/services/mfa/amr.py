"""How a sign-in was proven: the stored AuthMethod values, the RFC 8176 ``amr`` claim, ``acr``.

Stored values (UserSession.amr, LoginEvent.amr, PendingSignIn.amr) are AuthMethod values
joined by spaces. Tokens never carry ``rc``: a recovery code is a one-time code (``otp``).
"""

from __future__ import annotations

from collections.abc import Iterable

from accounts.models import AuthMethod

PASSKEYS = frozenset({AuthMethod.HARDWARE_KEY, AuthMethod.SOFTWARE_KEY})
_ORDER = [choice.value for choice in AuthMethod]

# acr values (advertised in discovery as acr_values_supported), weakest first.
ACR_PASSWORD = "pwd"  # noqa: S105 - an acr value, not a password
ACR_MFA = "mfa"
ACR_PHISHING_RESISTANT = "phr"
ACR_VALUES = (ACR_PASSWORD, ACR_MFA, ACR_PHISHING_RESISTANT)


def amr_methods(amr: str | None) -> list[str]:
    """The stored methods of ``amr``; a sign-in from before factors existed was a password."""
    return (amr or "").split() or [AuthMethod.PASSWORD.value]


def amr_join(*parts: str | Iterable[str]) -> str:
    """The stored form of several methods (strings or stored amr strings), each once, ordered."""
    methods: set[str] = set()
    for part in parts:
        methods.update(part.split() if isinstance(part, str) else part)
    return " ".join(method for method in _ORDER if method in methods)


def is_multi_factor(amr: str | None) -> bool:
    """Two factors, or a passkey: possession plus the user verification it always requires."""
    methods = set(amr_methods(amr))
    return bool(methods & PASSKEYS) or len(methods) >= 2


def amr_claim(amr: str | None) -> list[str]:
    """The RFC 8176 values for tokens: ``rc`` is sent as ``otp``; a passkey adds ``user``
    (user verification); every multi-factor sign-in adds ``mfa``."""
    methods = amr_methods(amr)
    claim = [AuthMethod.TOTP.value if m == AuthMethod.RECOVERY_CODE else m for m in methods]
    if set(methods) & PASSKEYS:
        claim.append("user")
    if is_multi_factor(amr):
        claim.append("mfa")
    return list(dict.fromkeys(claim))


def acr_value(amr: str | None) -> str:
    """``phr`` for a passkey (phishing-resistant), ``mfa`` for two factors, else ``pwd``."""
    methods = set(amr_methods(amr))
    if methods & PASSKEYS:
        return ACR_PHISHING_RESISTANT
    return ACR_MFA if is_multi_factor(amr) else ACR_PASSWORD


def acr_satisfies(amr: str | None, wanted: str) -> bool:
    """Whether a sign-in proven by ``amr`` meets the acr value ``wanted`` (unknown: never)."""
    if wanted not in ACR_VALUES:
        return False
    return ACR_VALUES.index(acr_value(amr)) >= ACR_VALUES.index(wanted)


def proof_label(amr: str | None) -> str:
    """How the sessions page and the history say it: "Password + authenticator app"."""
    labels = dict.fromkeys(AuthMethod(method).label for method in amr_methods(amr))
    return " + ".join(labels)
