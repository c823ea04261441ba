"""Sign-up, admin-created accounts, email verification and change, profile, deletion."""

from __future__ import annotations

import re
from datetime import timedelta

import pytest
from django.core.exceptions import ValidationError
from django.utils import timezone

from accounts import services
from accounts.errors import (
    EmailDomainNotAllowed,
    EmailExists,
    IncorrectPassword,
    LinkInvalid,
    UsernameExists,
)
from accounts.models import EmailDomainRule, OneTimeToken, Profile, User, UserSession
from accounts.selectors import email_domain_allowed
from tests.factories import DEFAULT_PASSWORD

pytestmark = pytest.mark.django_db


def _token_from(message_body: str) -> str:
    match = re.search(r"/accounts/(?:verify-email|password-reset)/([\w-]+)/", message_body)
    assert match, message_body
    return match.group(1)


def test_user_sign_up_creates_unverified_user_with_profile_and_sends_link(
    mailoutbox, django_capture_on_commit_callbacks
):
    with django_capture_on_commit_callbacks(execute=True):
        user = services.user_sign_up(
            username=" Alice ", email="Alice@Example.COM", password=DEFAULT_PASSWORD
        )
    user.refresh_from_db()
    assert (user.username, user.email) == ("Alice", "alice@example.com")
    assert user.email_verified_at is None
    assert Profile.objects.filter(user=user).exists()
    assert user.password.startswith(("md5$", "argon2$"))
    assert len(mailoutbox) == 1
    assert mailoutbox[0].to == ["alice@example.com"]
    assert "/accounts/verify-email/" in mailoutbox[0].body


@pytest.mark.parametrize(
    ("username", "email"),
    [("ALICE", "other@example.com"), ("other", "ALICE@example.com")],
)
def test_user_sign_up_refuses_duplicates_ignoring_case(user_factory, username, email):
    user_factory(username="alice", email="alice@example.com")
    with pytest.raises((UsernameExists, EmailExists)):
        services.user_sign_up(username=username, email=email, password=DEFAULT_PASSWORD)
    assert User.objects.count() == 1


@pytest.mark.parametrize(
    ("password", "code"),
    [("short", "password_too_short"), ("password123456", "password_too_common")],
)
def test_user_sign_up_applies_password_rules(password, code):
    with pytest.raises(ValidationError) as caught:
        services.user_sign_up(username="bob", email="bob@example.com", password=password)
    assert code in [e.code for e in caught.value.error_dict["password"]]
    assert not User.objects.exists()


def test_user_sign_up_refuses_password_similar_to_username():
    with pytest.raises(ValidationError):
        services.user_sign_up(
            username="marguerite.duras", email="md@example.com", password="marguerite.duras"
        )


def test_user_sign_up_accepts_long_passphrase_and_refuses_absurd_length():
    services.user_sign_up(username="long", email="long@example.com", password="x y " * 64)
    with pytest.raises(ValidationError):
        services.user_sign_up(username="huge", email="huge@example.com", password="z" * 2000)


def test_user_sign_up_refuses_invalid_username():
    with pytest.raises(ValidationError):
        services.user_sign_up(username="a@b", email="ab@example.com", password=DEFAULT_PASSWORD)
    assert not User.objects.exists()


@pytest.mark.parametrize(
    ("rules", "email", "allowed"),
    [
        ([], "a@anything.org", True),
        ([("spam.com", "block")], "a@spam.com", False),
        ([("spam.com", "block")], "a@mail.spam.com", False),
        ([("spam.com", "block")], "a@notspam.com", True),
        ([("corp.com", "allow")], "a@corp.com", True),
        ([("corp.com", "allow")], "a@eu.corp.com", True),
        ([("corp.com", "allow")], "a@gmail.com", False),
        ([("corp.com", "allow"), ("bad.corp.com", "block")], "a@bad.corp.com", False),
        ([("corp.com", "allow"), ("corp.com.evil.io", "block")], "a@CORP.com", True),
    ],
)
def test_email_domain_allowed_block_wins_and_allow_list_closes(rules, email, allowed):
    for domain, action in rules:
        EmailDomainRule.objects.create(domain=domain, action=action)
    assert email_domain_allowed(email=email) is allowed


def test_user_sign_up_blocked_domain_is_refused_with_plain_message():
    EmailDomainRule.objects.create(domain="corp.com", action="allow")
    with pytest.raises(EmailDomainNotAllowed) as caught:
        services.user_sign_up(username="eve", email="eve@gmail.com", password=DEFAULT_PASSWORD)
    assert "domain" in caught.value.message
    assert caught.value.code == "email_domain_not_allowed"
    assert not User.objects.exists()


def test_email_verify_is_single_use(mailoutbox, django_capture_on_commit_callbacks):
    with django_capture_on_commit_callbacks(execute=True):
        user = services.user_sign_up(username="c", email="c@example.com", password=DEFAULT_PASSWORD)
    token = _token_from(mailoutbox[0].body)
    verified = services.email_verify(token=token)
    assert verified.pk == user.pk
    assert verified.email_verified_at is not None
    with pytest.raises(LinkInvalid):
        services.email_verify(token=token)


def test_email_verify_refuses_expired_and_unknown_links(user_factory, mailoutbox):
    user = user_factory(unverified=True)
    services.email_verification_send(user=user)
    OneTimeToken.objects.update(expires_at=timezone.now() - timedelta(seconds=1))
    with pytest.raises(LinkInvalid):
        services.email_verify(token=_token_from(mailoutbox[0].body))
    with pytest.raises(LinkInvalid):
        services.email_verify(token="not-a-real-token")
    user.refresh_from_db()
    assert user.email_verified_at is None


def test_stored_secrets_are_hashed(user_factory, mailoutbox):
    user = user_factory(unverified=True)
    services.email_verification_send(user=user)
    token = _token_from(mailoutbox[0].body)
    row = OneTimeToken.objects.get()
    assert token not in (row.token_hash, row.code_hash)
    assert len(row.token_hash) == 64


def test_email_verification_resend_is_silent_for_unknown_and_verified(user_factory, mailoutbox):
    verified = user_factory()
    services.email_verification_resend(email="nobody@example.com")
    services.email_verification_resend(email=verified.email)
    assert mailoutbox == []
    unverified = user_factory(unverified=True)
    services.email_verification_resend(email=unverified.email.upper())
    assert [m.to for m in mailoutbox] == [[unverified.email]]


def test_email_change_takes_effect_only_after_verification_and_tells_old_address(
    user_factory, mailoutbox, django_capture_on_commit_callbacks
):
    user = user_factory(email="old@example.com")
    services.email_change_request(user=user, new_email="New@Example.com")
    user.refresh_from_db()
    assert user.email == "old@example.com"
    assert services.email_change_pending(user=user) == "new@example.com"
    link_mail = next(m for m in mailoutbox if m.to == ["new@example.com"])
    assert any(m.to == ["old@example.com"] for m in mailoutbox)
    with django_capture_on_commit_callbacks(execute=True):
        services.email_verify(token=_token_from(link_mail.body))
    user.refresh_from_db()
    assert user.email == "new@example.com"
    assert services.email_change_pending(user=user) == ""
    assert "changed to new@example.com" in mailoutbox[-1].body
    assert mailoutbox[-1].to == ["old@example.com"]


def test_email_change_to_taken_address_reveals_nothing_to_requester(user_factory, mailoutbox):
    owner = user_factory(email="taken@example.com")
    user = user_factory()
    services.email_change_request(user=user, new_email="taken@example.com")
    user.refresh_from_db()
    assert user.email != owner.email
    assert [m.to for m in mailoutbox] == [["taken@example.com"]]
    assert "already belongs to an account" in mailoutbox[0].body
    assert not OneTimeToken.objects.filter(user=user).exists()


def test_email_change_refuses_blocked_domain_and_invalid_address(user_factory):
    EmailDomainRule.objects.create(domain="spam.com", action="block")
    user = user_factory()
    with pytest.raises(EmailDomainNotAllowed):
        services.email_change_request(user=user, new_email="x@spam.com")
    with pytest.raises(ValidationError):
        services.email_change_request(user=user, new_email="not-an-email")


def test_email_verify_for_address_taken_meanwhile_fails_cleanly(user_factory, mailoutbox):
    user = user_factory(email="first@example.com")
    services.email_change_request(user=user, new_email="race@example.com")
    token = _token_from(next(m for m in mailoutbox if m.to == ["race@example.com"]).body)
    user_factory(email="race@example.com")
    with pytest.raises(EmailExists):
        services.email_verify(token=token)
    user.refresh_from_db()
    assert user.email == "first@example.com"


def test_user_update_username_refuses_taken_ignoring_case(user_factory):
    user_factory(username="taken")
    user = user_factory(username="mine")
    with pytest.raises(UsernameExists):
        services.user_update(user=user, data={"username": "TAKEN"})
    services.user_update(user=user, data={"username": "renamed"})
    user.refresh_from_db()
    assert user.username == "renamed"


def test_profile_update_saves_and_validates(user_factory):
    user = user_factory()
    services.profile_update(
        user=user, data={"first_name": "Ada", "phone_number": "+44 20 7946 0958"}
    )
    assert Profile.objects.get(user=user).first_name == "Ada"
    with pytest.raises(ValidationError):
        services.profile_update(user=user, data={"phone_number": "call me maybe"})
    with pytest.raises(ValidationError):
        services.profile_update(user=user, data={"first_name": "x" * 151})
    assert Profile.objects.get(user=user).phone_number == "+44 20 7946 0958"


def test_user_delete_needs_password_and_cascades(user_factory):
    user = user_factory()
    with pytest.raises(IncorrectPassword):
        services.user_delete(user=user, password="wrong")
    assert User.objects.filter(pk=user.pk).exists()
    services.user_delete(user=user, password=DEFAULT_PASSWORD)
    assert not User.objects.filter(pk=user.pk).exists()
    assert not Profile.objects.filter(user_id=user.pk).exists()


def test_user_create_with_temporary_password_requires_change(
    mailoutbox, django_capture_on_commit_callbacks
):
    with django_capture_on_commit_callbacks(execute=True):
        user = services.user_create(
            username="temp", email="temp@example.com", password=DEFAULT_PASSWORD
        )
    assert user.must_change_password
    assert user.check_password(DEFAULT_PASSWORD)
    assert [m.to for m in mailoutbox] == [["temp@example.com"]]  # verification link


def test_user_create_without_password_sends_invitation(
    mailoutbox, django_capture_on_commit_callbacks
):
    with django_capture_on_commit_callbacks(execute=True):
        user = services.user_create(username="inv", email="inv@example.com", user_type="partner")
    assert not user.has_usable_password()
    assert user.user_type == "partner"
    assert "invited" in mailoutbox[0].subject
    token = _token_from(mailoutbox[0].body)
    services.password_reset_confirm(token=token, new_password=DEFAULT_PASSWORD)
    user.refresh_from_db()
    assert user.check_password(DEFAULT_PASSWORD)
    assert user.email_verified_at is not None  # the invitation link proves the address


def test_user_deactivate_revokes_every_session(user_factory):
    user = user_factory()
    session = UserSession.objects.create(
        user=user, channel="api", expires_at=timezone.now() + timedelta(days=1)
    )
    services.user_deactivate(user=user)
    user.refresh_from_db()
    session.refresh_from_db()
    assert not user.is_active
    assert session.revoked_at is not None
    assert session.revoked_reason == "deactivated"


def test_admin_flags(user_factory):
    user = user_factory(unverified=True)
    services.user_mark_email_verified(user=user)
    services.user_require_password_change(user=user)
    user.refresh_from_db()
    assert user.email_verified_at is not None
    assert user.must_change_password
