"""Password reset by link or code, password change, and the first-sign-in password choice."""

from __future__ import annotations

from django.conf import settings
from django.contrib.auth.password_validation import validate_password
from django.core.exceptions import ValidationError
from django.db import transaction
from django.http import HttpRequest
from django.utils import timezone

from accounts import emails
from accounts.errors import (
    IncorrectPassword,
    PasswordChangeRequired,
    PasswordMismatch,
    PasswordNotChanged,
)
from accounts.models import OneTimeToken, User
from accounts.selectors import user_get_by_login
from accounts.services import events
from accounts.services.login import user_password_verify
from accounts.services.secrets import code_consume, secret_consume, secret_issue, secret_peek
from accounts.services.secrets import secrets_revoke as _secrets_revoke
from accounts.services.sessions import user_sessions_revoke

RESET = OneTimeToken.Purpose.PASSWORD_RESET
VERIFY = OneTimeToken.Purpose.VERIFY_EMAIL


def password_reset_request(*, login: str) -> None:
    """Emails a reset link and code when the account exists; looks the same when it does not."""
    user = user_get_by_login(login=login)
    if user is None or not user.is_active:
        return
    raw, code = secret_issue(
        user=user, purpose=RESET, ttl=settings.PASSWORD_RESET_LINK_TTL, with_code=True
    )
    link = emails.portal_link("accounts:password_reset_confirm", raw)
    emails.send_password_reset(username=user.username, to=user.email, link=link, code=code)


def password_reset_link_check(*, token: str) -> User:
    """The user a live reset link belongs to, without using the link up."""
    return secret_peek(raw=token, purpose=RESET).user


def password_reset_confirm(
    *,
    new_password: str,
    new_password_confirm: str | None = None,
    token: str | None = None,
    login: str | None = None,
    code: str | None = None,
) -> User:
    """Sets a new password from a reset link (``token``) or a typed code (``login`` + ``code``)."""
    _check_confirmation(new_password, new_password_confirm)
    if token is not None:
        user = secret_peek(raw=token, purpose=RESET).user
        _validate(new_password, user=user)
        secret = secret_consume(raw=token, purpose=RESET)
    else:
        user = user_get_by_login(login=login or "")
        # A weak password must not burn a code, nor tell whether the login exists.
        if user is not None:
            _validate(new_password, user=user)
        secret = code_consume(user=user, code=code or "", purpose=RESET)
    # Not one transaction with the code check: a wrong try must stay counted.
    with transaction.atomic():
        user = secret.user
        proven: list[str] = []
        if user.email_verified_at is None and secret.email.lower() == user.email.lower():
            user.email_verified_at = timezone.now()  # the link or code proves the address
            proven = ["email_verified_at"]
        _password_set(user=user, password=new_password, also=proven, how=events.HOW_RESET)
        user_sessions_revoke(user=user, reason="password_reset")
    return user


def password_change(
    *,
    user: User,
    current_password: str,
    new_password: str,
    new_password_confirm: str | None = None,
    keep_session_id: str | None = None,
    request: HttpRequest | None = None,
) -> None:
    """Changes a signed-in user's password; every other sign-in of theirs ends.

    With ``request``, the current password is checked through axes (lockout applies).
    """
    if request is not None:
        user_password_verify(request=request, user=user, password=current_password)
    elif not user.check_password(current_password or ""):
        raise IncorrectPassword()
    _check_confirmation(new_password, new_password_confirm)
    _validate(new_password, user=user)
    with transaction.atomic():
        _password_set(user=user, password=new_password, how=events.HOW_CHANGE)
        user_sessions_revoke(
            user=user, reason="password_changed", except_session_id=keep_session_id
        )


def account_confirm(
    *,
    user: User,
    new_password: str,
    new_password_confirm: str | None = None,
    keep_session_id: str | None = None,
) -> None:
    """The forced password change (a temporary password, or an administrator's demand): choose
    a different one. Sign-ins made before, but the one choosing, do not come back with it."""
    _check_confirmation(new_password, new_password_confirm)
    if user.check_password(new_password or ""):
        raise PasswordNotChanged()
    _validate(new_password, user=user)
    with transaction.atomic():
        _password_set(user=user, password=new_password, how=events.HOW_CHANGE)
        user_sessions_revoke(
            user=user, reason="password_changed", except_session_id=keep_session_id
        )


def password_choice_check(*, user: User, new_password: str | None) -> None:
    """Before a second factor is spent on a sign-in that must choose a new password (the API's
    first sign-in with a temporary password, whose code goes to /auth/login/mfa/): the new
    password is required and must pass the rules, so a refusal never wastes the code. An
    account that must choose none is told so, never silently ignored."""
    if not user.must_change_password:
        if new_password:
            raise ValidationError(
                {"new_password": "This account has no password to choose at sign-in."},
                code="unexpected",
            )
        return
    if not new_password:
        raise PasswordChangeRequired(
            "This account must choose a new password: send new_password with the code."
        )
    if user.check_password(new_password):
        raise PasswordNotChanged()
    _validate(new_password, user=user)


@transaction.atomic
def password_set_by_admin(*, user: User, password: str | None, actor: User | None = None) -> None:
    """An administrator sets the password (None: disables password sign-in). Whoever held the
    account until now is signed out on every channel, as after a reset; the admin's form has
    applied the password rules already."""
    if password is None:
        user.set_unusable_password()
    else:
        user.set_password(password)
    user.save(update_fields=["password", "updated_at"])
    _secrets_revoke(user=user, purpose=RESET)
    _secrets_revoke(user=user, purpose=VERIFY)
    events.user_event_record(
        "user.password_changed",
        user=user,
        actor=actor,
        data={"how": events.HOW_ADMIN, "usable": password is not None},
    )
    user_sessions_revoke(user=user, reason="password_set_by_admin")


def _password_set(*, user: User, password: str, how: str, also: list[str] | None = None) -> None:
    user.set_password(password)
    user.must_change_password = False
    # Only these columns: the caller's copy of the row may predate a concurrent change (an
    # administrator's deactivation), which a full-row save would silently revert.
    user.save(update_fields=["password", "must_change_password", "updated_at", *(also or [])])
    # A reset link dies once the password it would replace has changed; so does every
    # verification link: one sent to a thief's address while they held the session must not
    # hand them the account after the owner took it back.
    _secrets_revoke(user=user, purpose=RESET)
    _secrets_revoke(user=user, purpose=VERIFY)
    # The user themselves (a reset proves the mailbox, not a session: still the holder).
    events.user_event_record("user.password_changed", user=user, actor=user, data={"how": how})


def _check_confirmation(new_password: str, confirmation: str | None) -> None:
    if confirmation is not None and confirmation != new_password:
        raise PasswordMismatch()


def _validate(password: str, *, user: User) -> None:
    try:
        validate_password(password or "", user=user)
    except ValidationError as error:
        raise ValidationError({"new_password": error.error_list}) from error
