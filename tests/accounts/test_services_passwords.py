"""Password reset by link and by code, password change, first-sign-in confirmation."""

from __future__ import annotations

import re
from datetime import timedelta

import pytest
from django.core.exceptions import ValidationError
from django.utils import timezone

from accounts import services
from accounts.errors import (
    CodeInvalid,
    IncorrectPassword,
    LinkInvalid,
    PasswordMismatch,
    PasswordNotChanged,
)
from accounts.models import OneTimeToken, UserSession
from tests.factories import DEFAULT_PASSWORD

pytestmark = pytest.mark.django_db

NEW_PASSWORD = "a brand new passphrase 7"


def _reset(mailoutbox) -> tuple[str, str]:
    body = mailoutbox[-1].body
    token = re.search(r"/accounts/password-reset/([\w-]+)/", body).group(1)
    code = re.search(r"^([2-9A-Z]{10})$", body, re.MULTILINE).group(1)
    return token, code


def _live_session(user) -> UserSession:
    return UserSession.objects.create(
        user=user, channel="api", expires_at=timezone.now() + timedelta(days=1)
    )


def test_password_reset_request_sends_link_and_code_for_username_or_email(user_factory, mailoutbox):
    user = user_factory()
    services.password_reset_request(login=user.username.upper())
    services.password_reset_request(login=user.email)
    assert len(mailoutbox) == 2
    token, code = _reset(mailoutbox)
    assert len(code) >= 8
    assert token not in OneTimeToken.objects.values_list("token_hash", flat=True)


@pytest.mark.parametrize("login", ["nobody", "nobody@example.com", "", "x" * 400])
def test_password_reset_request_unknown_login_sends_nothing_and_raises_nothing(login, mailoutbox):
    assert services.password_reset_request(login=login) is None
    assert mailoutbox == []
    assert not OneTimeToken.objects.exists()


def test_password_reset_request_for_inactive_user_sends_nothing(user_factory, mailoutbox):
    services.password_reset_request(login=user_factory(is_active=False).username)
    assert mailoutbox == []


def test_password_reset_by_link_is_single_use_and_ends_sessions(user_factory, mailoutbox):
    user = user_factory()
    session = _live_session(user)
    services.password_reset_request(login=user.username)
    token, _ = _reset(mailoutbox)
    assert services.password_reset_link_check(token=token) == user
    services.password_reset_confirm(token=token, new_password=NEW_PASSWORD)
    user.refresh_from_db()
    session.refresh_from_db()
    assert user.check_password(NEW_PASSWORD)
    assert session.revoked_at is not None
    with pytest.raises(LinkInvalid):
        services.password_reset_confirm(token=token, new_password="another fine passphrase")


def test_password_reset_link_expires(user_factory, mailoutbox):
    user = user_factory()
    services.password_reset_request(login=user.username)
    token, _ = _reset(mailoutbox)
    OneTimeToken.objects.update(expires_at=timezone.now() - timedelta(seconds=1))
    with pytest.raises(LinkInvalid):
        services.password_reset_link_check(token=token)
    with pytest.raises(LinkInvalid):
        services.password_reset_confirm(token=token, new_password=NEW_PASSWORD)
    user.refresh_from_db()
    assert user.check_password(DEFAULT_PASSWORD)


def test_password_reset_link_dies_when_password_changes(user_factory, mailoutbox):
    user = user_factory()
    services.password_reset_request(login=user.username)
    token, _ = _reset(mailoutbox)
    services.password_change(
        user=user, current_password=DEFAULT_PASSWORD, new_password=NEW_PASSWORD
    )
    with pytest.raises(LinkInvalid):
        services.password_reset_confirm(token=token, new_password="yet another passphrase")


def test_password_reset_weak_password_does_not_burn_the_link(user_factory, mailoutbox):
    user = user_factory()
    services.password_reset_request(login=user.username)
    token, _ = _reset(mailoutbox)
    with pytest.raises(ValidationError):
        services.password_reset_confirm(token=token, new_password="short")
    with pytest.raises(PasswordMismatch):
        services.password_reset_confirm(
            token=token, new_password=NEW_PASSWORD, new_password_confirm="different"
        )
    services.password_reset_confirm(token=token, new_password=NEW_PASSWORD)


def test_password_reset_by_code_is_single_use(user_factory, mailoutbox):
    user = user_factory()
    services.password_reset_request(login=user.email)
    _, code = _reset(mailoutbox)
    services.password_reset_confirm(login=user.email, code=code.lower(), new_password=NEW_PASSWORD)
    user.refresh_from_db()
    assert user.check_password(NEW_PASSWORD)
    with pytest.raises(CodeInvalid):
        services.password_reset_confirm(login=user.email, code=code, new_password=NEW_PASSWORD)


def test_password_reset_code_dies_after_five_wrong_tries(user_factory, mailoutbox):
    user = user_factory()
    services.password_reset_request(login=user.username)
    token, code = _reset(mailoutbox)
    for _ in range(5):
        with pytest.raises(CodeInvalid):
            services.password_reset_confirm(
                login=user.username, code="WRONGCODE2", new_password=NEW_PASSWORD
            )
    with pytest.raises(CodeInvalid):
        services.password_reset_confirm(login=user.username, code=code, new_password=NEW_PASSWORD)
    with pytest.raises(LinkInvalid):
        services.password_reset_link_check(token=token)
    user.refresh_from_db()
    assert user.check_password(DEFAULT_PASSWORD)


def test_password_reset_code_expires_after_fifteen_minutes(user_factory, mailoutbox):
    user = user_factory()
    services.password_reset_request(login=user.username)
    token, code = _reset(mailoutbox)
    OneTimeToken.objects.update(created_at=timezone.now() - timedelta(minutes=16))
    with pytest.raises(CodeInvalid):
        services.password_reset_confirm(login=user.username, code=code, new_password=NEW_PASSWORD)
    # The emailed link lives longer (an hour) than the code typed by hand.
    assert services.password_reset_link_check(token=token) == user


def test_password_reset_code_for_unknown_login_is_the_same_refusal():
    with pytest.raises(CodeInvalid):
        services.password_reset_confirm(login="ghost", code="ABCDEFGHJK", new_password=NEW_PASSWORD)


def test_password_change_checks_current_and_keeps_only_this_session(user_factory):
    user = user_factory()
    this, other = _live_session(user), _live_session(user)
    with pytest.raises(IncorrectPassword):
        services.password_change(user=user, current_password="nope", new_password=NEW_PASSWORD)
    with pytest.raises(PasswordMismatch):
        services.password_change(
            user=user,
            current_password=DEFAULT_PASSWORD,
            new_password=NEW_PASSWORD,
            new_password_confirm="something else",
        )
    services.password_change(
        user=user,
        current_password=DEFAULT_PASSWORD,
        new_password=NEW_PASSWORD,
        new_password_confirm=NEW_PASSWORD,
        keep_session_id=str(this.pk),
    )
    this.refresh_from_db()
    other.refresh_from_db()
    assert this.revoked_at is None
    assert other.revoked_at is not None
    assert other.revoked_reason == "password_changed"


def test_account_confirm_requires_a_different_valid_password(user_factory):
    user = user_factory(needs_password_change=True)
    with pytest.raises(PasswordNotChanged):
        services.account_confirm(user=user, new_password=DEFAULT_PASSWORD)
    with pytest.raises(ValidationError):
        services.account_confirm(user=user, new_password="short")
    services.account_confirm(user=user, new_password=NEW_PASSWORD)
    user.refresh_from_db()
    assert not user.must_change_password
    assert user.check_password(NEW_PASSWORD)
