"""Building and sending the account emails (templates under templates/accounts/email/)."""

from __future__ import annotations

from datetime import datetime
from typing import Any

from django.conf import settings
from django.urls import reverse

from identity.emails import template_send


def portal_link(view_name: str, *args: Any) -> str:
    """An absolute link into the portal, built from PORTAL_URL rather than the Host header."""
    return settings.PORTAL_URL + reverse(view_name, args=args)


def _send(*, template: str, to: str, context: dict[str, Any]) -> bool:
    return template_send(template=f"accounts/email/{template}", to=to, context=context)


def send_verification(*, username: str, to: str, link: str) -> bool:
    hours = int(settings.EMAIL_VERIFICATION_TTL.total_seconds() // 3600)
    context = {"username": username, "link": link, "hours": hours}
    return _send(template="verify_email", to=to, context=context)


def send_password_reset(*, username: str, to: str, link: str, code: str) -> bool:
    context = {
        "username": username,
        "link": link,
        "code": code,
        "link_minutes": int(settings.PASSWORD_RESET_LINK_TTL.total_seconds() // 60),
        "code_minutes": int(settings.PASSWORD_RESET_CODE_TTL.total_seconds() // 60),
    }
    return _send(template="password_reset", to=to, context=context)


def send_invitation(*, username: str, to: str, link: str) -> bool:
    return _send(template="invitation", to=to, context={"username": username, "link": link})


def send_email_changed(*, username: str, to: str, new_email: str) -> bool:
    context = {"username": username, "new_email": new_email}
    return _send(template="email_changed", to=to, context=context)


def send_email_change_requested(*, username: str, to: str, new_email: str) -> bool:
    context = {"username": username, "new_email": new_email}
    return _send(template="email_change_requested", to=to, context=context)


def send_address_in_use(*, to: str) -> bool:
    """Told to an address someone tried to add although it already has an account."""
    return _send(
        template="address_in_use", to=to, context={"login_link": portal_link("accounts:login")}
    )


def send_new_sign_in(
    *, username: str, to: str, when: datetime, device: str, ip: str, proof: str = "Password"
) -> bool:
    context = {
        "proof": proof,
        "username": username,
        "when": when,
        "device": device,
        "ip": ip,
        "sessions_link": portal_link("accounts:sessions"),
    }
    return _send(template="new_sign_in", to=to, context=context)


def send_security_change(*, username: str, to: str, change: str) -> bool:
    """A second factor was added, removed or reset, or recovery codes were replaced:
    ``change`` says which, in a sentence ("An authenticator app was added")."""
    context = {
        "username": username,
        "change": change,
        "security_link": portal_link("accounts:security"),
    }
    return _send(template="security_change", to=to, context=context)


def send_recovery_code_used(*, username: str, to: str, left: int) -> bool:
    context = {
        "username": username,
        "left": left,
        "low": left <= settings.MFA_RECOVERY_CODES_LOW,
        "security_link": portal_link("accounts:security"),
    }
    return _send(template="recovery_code_used", to=to, context=context)
