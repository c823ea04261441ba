"""Checking credentials on every channel, with lockout and login history."""

from __future__ import annotations

from django.conf import settings
from django.contrib.auth import authenticate
from django.contrib.auth.signals import user_logged_in
from django.http import HttpRequest

from accounts.backends import RESOLVED_LOGIN_ATTR
from accounts.errors import (
    AccountInactive,
    AccountLocked,
    EmailNotVerified,
    IncorrectPassword,
    InvalidCredentials,
    PasswordChangeRequired,
)
from accounts.lockout import LOCKOUT_KEY_ATTR, lockout_key
from accounts.models import Channel, LoginEvent, LoginOutcome, User
from accounts.selectors import user_get_by_login
from accounts.services.history import new_device_alert
from accounts.services.sessions import request_client


def user_authenticate(
    *,
    request: HttpRequest,
    login: str,
    password: str,
    channel: str,
    allow_password_change: bool = False,
) -> User:
    """Returns the user behind valid credentials, or records why not and raises.

    ``request`` must be Django's HttpRequest (for DRF, ``request._request``): django-axes
    reads the client from it and flags a locked username+IP pair on it.
    """
    login = (login or "").strip()[:254]
    client = request_client(request)
    account = user_get_by_login(login=login)
    setattr(request, LOCKOUT_KEY_ATTR, lockout_key(login=login, user=account))
    setattr(request, RESOLVED_LOGIN_ATTR, (login, account))  # the backend needs no 2nd query
    user = authenticate(request, username=login, password=password or "")
    if user is None:
        locked = bool(getattr(request, "axes_locked_out", False))
        outcome = LoginOutcome.LOCKED_OUT if locked else LoginOutcome.BAD_CREDENTIALS
        login_record(
            request=request,
            user=account,
            identifier=login,
            outcome=outcome,
            channel=channel,
            client=client,
        )
        raise AccountLocked() if locked else InvalidCredentials()
    refusal = _refusal(user, allow_password_change=allow_password_change)
    if refusal is not None:
        outcome, error = refusal
        login_record(
            request=request,
            user=user,
            identifier=login,
            outcome=outcome,
            channel=channel,
            client=client,
        )
        raise error
    new_device_alert(user=user, device_label=client["device_label"], ip=client["ip"])
    login_record(
        request=request,
        user=user,
        identifier=login,
        outcome=LoginOutcome.SUCCESS,
        channel=channel,
        client=client,
    )
    if channel != Channel.BROWSER:
        # django.contrib.auth.login() sends this for pages; other channels send it here so
        # that axes resets the failure count on every kind of success.
        user_logged_in.send(sender=type(user), request=request, user=user)
    return user


def _refusal(user: User, *, allow_password_change: bool) -> tuple[str, Exception] | None:
    if not user.is_active:
        return LoginOutcome.INACTIVE, AccountInactive()
    mandatory = settings.ACCOUNT_EMAIL_VERIFICATION == "mandatory"
    if mandatory and user.email_verified_at is None:
        return LoginOutcome.UNVERIFIED, EmailNotVerified()
    if user.must_change_password and not allow_password_change:
        return LoginOutcome.PASSWORD_CHANGE_REQUIRED, PasswordChangeRequired()
    return None


def login_record(
    *,
    request: HttpRequest,
    user: User | None,
    identifier: str,
    outcome: str,
    channel: str,
    reason: str = "",
    client: dict[str, str] | None = None,
) -> LoginEvent:
    """Writes one row of login history; never stores the password that was tried.

    ``client`` is ``request_client(request)`` when the caller has already worked it out.
    """
    return LoginEvent.objects.create(
        user=user,
        identifier=identifier[:254],
        outcome=outcome,
        reason=reason[:200],
        channel=channel,
        **(client or request_client(request)),
    )


def user_password_verify(
    *, request: HttpRequest, user: User, password: str, field: str = "current_password"
) -> None:
    """Checks a signed-in user's password through axes, so that guesses made on the password
    change or account deletion forms count towards the same lockout as sign-ins."""
    setattr(request, LOCKOUT_KEY_ATTR, lockout_key(login=user.username, user=user))
    setattr(request, RESOLVED_LOGIN_ATTR, (user.username, user))
    if authenticate(request, username=user.username, password=password or "") is None:
        if getattr(request, "axes_locked_out", False):
            raise AccountLocked()
        raise IncorrectPassword(field=field)
