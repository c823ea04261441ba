"""Passkeys for tests: a software authenticator (bench.webauthn_soft) registered through the
services, as the security page would, for the portal's configured origin and rp id."""

from __future__ import annotations

from django.conf import settings

from accounts.models import Passkey, User
from accounts.services.mfa import passkeys
from bench.webauthn_soft import SoftAuthenticator

__all__ = ["SoftAuthenticator", "authenticator_new", "passkey_enrol"]


def authenticator_new(**options: object) -> SoftAuthenticator:
    """An authenticator on the first allowed origin (the browser's view of the portal)."""
    options.setdefault("origin", settings.WEBAUTHN_ORIGINS[0])
    return SoftAuthenticator(**options)  # type: ignore[arg-type]


def passkey_enrol(
    user: User, authenticator: SoftAuthenticator, name: str = "Laptop"
) -> tuple[Passkey, list[str]]:
    """Registers a new passkey of ``authenticator`` for ``user``; returns it and the recovery
    codes a first factor gives."""
    options = passkeys.passkey_registration_options(user=user)
    passkey, codes = passkeys.passkey_register(
        user=user, name=name, credential=authenticator.create(options)
    )
    user.refresh_from_db()
    return passkey, codes
