"""Credential checks on every channel: outcomes, login history and lockout."""

from __future__ import annotations

import pytest
from django.test import RequestFactory

from accounts import services
from accounts.errors import (
    AccountInactive,
    AccountLocked,
    EmailNotVerified,
    InvalidCredentials,
    PasswordChangeRequired,
)
from accounts.models import LoginEvent, LoginOutcome
from tests.factories import DEFAULT_PASSWORD

pytestmark = pytest.mark.django_db

UA = "Mozilla/5.0 (Windows NT 10.0; Win64; x64; rv:120.0) Gecko/20100101 Firefox/120.0"


def _request(ip: str = "203.0.113.7"):
    return RequestFactory().post("/accounts/login/", REMOTE_ADDR=ip, HTTP_USER_AGENT=UA)


def _authenticate(login: str, password: str = DEFAULT_PASSWORD, ip: str = "203.0.113.7", **kwargs):
    return services.user_authenticate(
        request=_request(ip), login=login, password=password, channel="api", **kwargs
    )


@pytest.mark.parametrize("form", ["username", "USERNAME", "email", "EMAIL"])
def test_user_authenticate_by_username_or_email_ignoring_case(user_factory, form):
    user = user_factory(username="Carol", email="carol@example.com")
    login = {
        "username": "Carol",
        "USERNAME": "CAROL",
        "email": user.email,
        "EMAIL": user.email.upper(),
    }[form]
    assert _authenticate(login) == user
    event = LoginEvent.objects.get()
    assert (event.user, event.outcome, event.channel) == (user, "success", "api")
    assert (event.ip, event.device_label) == ("203.0.113.7", "Firefox on Windows")


@pytest.mark.parametrize(
    ("traits", "error", "outcome"),
    [
        ({"unverified": True}, EmailNotVerified, LoginOutcome.UNVERIFIED),
        ({"is_active": False}, AccountInactive, LoginOutcome.INACTIVE),
        (
            {"needs_password_change": True},
            PasswordChangeRequired,
            LoginOutcome.PASSWORD_CHANGE_REQUIRED,
        ),
    ],
)
def test_user_authenticate_refusals_are_recorded(user_factory, traits, error, outcome):
    user = user_factory(**traits)
    with pytest.raises(error):
        _authenticate(user.username)
    assert LoginEvent.objects.get().outcome == outcome


def test_user_authenticate_optional_verification_lets_unverified_in(user_factory, settings):
    settings.ACCOUNT_EMAIL_VERIFICATION = "optional"
    user = user_factory(unverified=True)
    assert _authenticate(user.username) == user


def test_user_authenticate_password_change_allowed_for_pages(user_factory):
    user = user_factory(needs_password_change=True)
    assert _authenticate(user.username, allow_password_change=True) == user


def test_user_authenticate_wrong_password_and_unknown_login_look_the_same(user_factory):
    user = user_factory()
    with pytest.raises(InvalidCredentials) as wrong:
        _authenticate(user.username, password="wrong password")
    with pytest.raises(InvalidCredentials) as unknown:
        _authenticate("no-such-user", password="wrong password")
    assert wrong.value.message == unknown.value.message
    events = list(LoginEvent.objects.order_by("id").values_list("user", "identifier", "outcome"))
    assert events == [
        (user.pk, user.username, "bad_credentials"),
        (None, "no-such-user", "bad_credentials"),
    ]


def test_login_history_never_stores_the_password(user_factory):
    user = user_factory()
    with pytest.raises(InvalidCredentials):
        _authenticate(user.username, password="Sup3r-secret-typo")
    row = LoginEvent.objects.values().get()
    assert "Sup3r-secret-typo" not in str(row)


def test_lockout_after_five_failures_for_the_pair_only(user_factory, settings):
    user = user_factory()
    for _ in range(4):
        with pytest.raises(InvalidCredentials):
            _authenticate(user.username, password="wrong")
    with pytest.raises((InvalidCredentials, AccountLocked)):
        _authenticate(user.username, password="wrong")
    # Locked now: even the right password is refused for this username from this IP...
    with pytest.raises(AccountLocked):
        _authenticate(user.username)
    # ...the same username typed differently shares the counter...
    with pytest.raises(AccountLocked):
        _authenticate(user.username.upper())
    # ...but the owner signing in from elsewhere is not locked out.
    assert _authenticate(user.username, ip="198.51.100.1") == user
    outcomes = list(LoginEvent.objects.order_by("id").values_list("outcome", flat=True))
    # The fifth failure is the one that locks the pair, so it is recorded as such.
    assert outcomes == ["bad_credentials"] * 4 + ["locked_out"] * 3 + ["success"]


@pytest.mark.parametrize("success_by", ["username", "email"])
def test_success_resets_the_failure_count(user_factory, success_by):
    """Also when the failures were typed as the username and the success as the email."""
    user = user_factory()
    for _ in range(4):
        with pytest.raises(InvalidCredentials):
            _authenticate(user.username, password="wrong")
    _authenticate(getattr(user, success_by))
    for _ in range(4):
        with pytest.raises(InvalidCredentials):
            _authenticate(user.username, password="wrong")
    assert _authenticate(user.username) == user


def test_pbkdf2_hash_is_upgraded_to_argon2id_on_sign_in(user_factory, settings):
    settings.PASSWORD_HASHERS = settings.PRODUCTION_PASSWORD_HASHERS
    user = user_factory()
    from django.contrib.auth.hashers import make_password

    user.password = make_password(DEFAULT_PASSWORD, hasher="pbkdf2_sha256")
    user.save(update_fields=["password"])
    _authenticate(user.username)
    user.refresh_from_db()
    assert user.password.startswith("argon2$argon2id$v=19$m=19456,t=2,p=1$")


def test_failures_typed_as_email_and_username_share_one_counter(user_factory):
    user = user_factory()
    for login in [user.email, user.username, user.email.upper(), user.username.upper()]:
        with pytest.raises(InvalidCredentials):
            _authenticate(login, password="wrong")
    with pytest.raises((InvalidCredentials, AccountLocked)):
        _authenticate(user.email, password="wrong")
    with pytest.raises(AccountLocked):
        _authenticate(user.username)
