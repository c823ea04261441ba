"""Account pages: status, redirect and message of each page; refusals leave the data alone."""

from __future__ import annotations

import re
import time
from datetime import timedelta

import pytest
from django.conf import settings
from django.contrib.messages import get_messages
from django.test import Client
from django.urls import reverse
from django.utils import timezone

from accounts.models import OneTimeToken, User, UserSession
from accounts.services.secrets import secret_issue
from accounts.views import PENDING_VERIFICATION_KEY
from tests.factories import DEFAULT_PASSWORD

pytestmark = pytest.mark.django_db

NEW_PASSWORD = "a brand new passphrase 7"
VERIFY = OneTimeToken.Purpose.VERIFY_EMAIL
RESET = OneTimeToken.Purpose.PASSWORD_RESET


@pytest.fixture(autouse=True)
def _no_reset_padding(settings) -> None:
    settings.PASSWORD_RESET_MIN_RESPONSE_MS = 0


def _messages(response) -> list[str]:
    return [str(message) for message in get_messages(response.wsgi_request)]


def _text(response) -> str:
    return response.content.decode()


def _token(user, purpose, *, email: str = "") -> str:
    raw, _ = secret_issue(user=user, purpose=purpose, ttl=timedelta(hours=1), email=email)
    return raw


def _expire() -> None:
    OneTimeToken.objects.update(expires_at=timezone.now() - timedelta(seconds=1))


def _signed_in_user_id(client) -> str | None:
    return client.session.get("_auth_user_id")


# -- home ------------------------------------------------------------------------------------


def test_home_for_visitor_and_for_signed_in_user(client, user):
    assert client.get(reverse("home")).status_code == 200
    client.force_login(user)
    response = client.get(reverse("home"))
    assert response.status_code == 200
    assert user.username in _text(response)


# -- sign-up ---------------------------------------------------------------------------------

SIGNUP = {
    "username": "newcomer",
    "email": "Newcomer@Example.com",
    "password": NEW_PASSWORD,
    "password_confirm": NEW_PASSWORD,
}


def test_signup_creates_account_and_says_where_the_link_went(
    client, mailoutbox, django_capture_on_commit_callbacks
):
    assert client.get(reverse("accounts:signup")).status_code == 200
    with django_capture_on_commit_callbacks(execute=True):
        response = client.post(reverse("accounts:signup"), SIGNUP)

    assert response.status_code == 302
    assert response.url == reverse("accounts:signup_done")
    user = User.objects.get(username="newcomer")
    assert user.email == "newcomer@example.com"
    assert not user.email_verified
    assert [message.to for message in mailoutbox] == [["newcomer@example.com"]]
    done = client.get(response.url)
    assert "We sent a link to <strong>newcomer@example.com</strong>" in _text(done)
    assert reverse("accounts:verify_email_resend") in _text(done)


def test_signup_redirects_signed_in_user_home(client, user):
    client.force_login(user)
    response = client.get(reverse("accounts:signup"))
    assert response.status_code == 302
    assert response.url == reverse("home")


@pytest.mark.parametrize(
    ("changes", "field", "message"),
    [
        ({"username": ""}, "username", "This field is required."),
        ({"email": ""}, "email", "This field is required."),
        ({"password": "", "password_confirm": ""}, "password", "This field is required."),
        ({"username": "u" * 151}, "username", "at most 150 characters"),
        ({"email": "a" * 250 + "@example.com"}, "email", "at most 254 characters"),
        ({"email": "not-an-email"}, "email", "Enter a valid email address."),
        ({"password_confirm": "something else entirely"}, "password_confirm", "do not match"),
        ({"password": "x" * 1025, "password_confirm": "x" * 1025}, "password", "at most 1024"),
        ({"password": "short", "password_confirm": "short"}, "password", "too short"),
        ({"username": "no spaces!"}, "username", "Use letters, digits"),
    ],
)
def test_signup_refuses_bad_input_next_to_the_field(client, changes, field, message):
    response = client.post(reverse("accounts:signup"), {**SIGNUP, **changes})

    assert response.status_code == 200
    assert any(message in error for error in response.context["form"].errors[field])
    assert not User.objects.exists()


def test_signup_refuses_taken_username_and_blocked_domain(
    client, user_factory, email_domain_rule_factory
):
    taken = user_factory(username="Newcomer")
    response = client.post(reverse("accounts:signup"), SIGNUP)
    assert response.context["form"].errors["username"] == ["This username is already taken."]

    email_domain_rule_factory(domain="example.com")

    response = client.post(reverse("accounts:signup"), {**SIGNUP, "username": "other"})
    assert (
        response.context["form"]
        .errors["email"][0]
        .startswith("Sign-up is not open to addresses at this email domain.")
    )
    assert list(User.objects.all()) == [taken]


def test_signup_is_rate_limited_per_ip(client, settings):
    settings.RATE_LIMITS = {**settings.RATE_LIMITS, "signup": "1/hour"}
    client.post(reverse("accounts:signup"), SIGNUP)
    response = client.post(reverse("accounts:signup"), {**SIGNUP, "username": "second"})

    assert response.status_code == 429
    assert 0 < int(response["Retry-After"]) <= 3600
    assert "Too many requests" in _text(response)
    assert not User.objects.filter(username="second").exists()


# -- email verification ----------------------------------------------------------------------


def test_verify_email_get_asks_and_post_confirms(client, unverified_user):
    token = _token(unverified_user, VERIFY)
    url = reverse("accounts:verify_email", args=[token])

    response = client.get(url)
    assert response.status_code == 200
    assert "Confirm your email address" in _text(response)
    unverified_user.refresh_from_db()
    assert not unverified_user.email_verified

    response = client.post(url)
    assert response.status_code == 302
    assert response.url == reverse("accounts:login")
    assert _messages(response) == ["Your email address is confirmed."]
    unverified_user.refresh_from_db()
    assert unverified_user.email_verified


def test_verify_email_signed_in_goes_home(client, unverified_user):
    client.force_login(unverified_user)
    response = client.post(reverse("accounts:verify_email", args=[_token(unverified_user, VERIFY)]))
    assert response.url == reverse("home")


@pytest.mark.parametrize("case", ["reused", "expired", "unknown"])
def test_verify_email_bad_link_shows_resend_page(client, unverified_user, case):
    token = _token(unverified_user, VERIFY)
    url = reverse("accounts:verify_email", args=[token if case != "unknown" else "x" * 43])
    if case == "reused":
        assert client.post(url).status_code == 302
        User.objects.filter(pk=unverified_user.pk).update(email_verified_at=None)
    if case == "expired":
        _expire()

    response = client.post(url)

    assert response.status_code == 400
    assert "This link is invalid, has already been used or has expired." in _text(response)
    assert reverse("accounts:verify_email_resend") in _text(response)
    unverified_user.refresh_from_db()
    assert not unverified_user.email_verified


def test_verify_email_resend_answers_the_same_for_any_address(client, unverified_user, mailoutbox):
    url = reverse("accounts:verify_email_resend")
    assert client.get(url).status_code == 200
    first = client.post(url, {"email": unverified_user.email.upper()})
    second = Client().post(url, {"email": "nobody@example.com"})

    assert first.status_code == second.status_code == 302
    assert _messages(first) == _messages(second)
    assert "If an unverified account uses this address" in _messages(first)[0]
    assert [message.to for message in mailoutbox] == [[unverified_user.email]]


def test_verify_email_resend_refuses_invalid_and_oversized_address(client, mailoutbox):
    for email in ["", "nope", "a" * 250 + "@example.com"]:
        response = client.post(reverse("accounts:verify_email_resend"), {"email": email})
        assert response.status_code == 200
        assert response.context["form"].errors["email"]
    assert mailoutbox == []


# -- sign-in ---------------------------------------------------------------------------------


def _post_login_form(client, login, password=DEFAULT_PASSWORD, **extra):
    return client.post(
        reverse("accounts:login"), {"username": login, "password": password, **extra}
    )


def test_login_page_has_labelled_fields_and_links(client):
    response = client.get(reverse("accounts:login"))
    text = _text(response)
    assert response.status_code == 200
    assert "Username or email" in text
    assert 'name="username"' in text
    assert 'autocomplete="current-password"' in text
    assert reverse("accounts:signup") in text
    assert "Forgot your password?" in text


@pytest.mark.parametrize("which", ["username", "email"])
def test_login_signs_in_with_username_or_email(client, user, which):
    response = _post_login_form(client, getattr(user, which).upper())

    assert response.status_code == 302
    assert response.url == reverse("home")
    assert _signed_in_user_id(client) == str(user.pk)
    assert UserSession.objects.filter(user=user, channel="browser").count() == 1


def test_login_follows_a_local_next(client, user):
    response = _post_login_form(client, user.username, next="/accounts/profile/?tab=1")
    assert response.url == "/accounts/profile/?tab=1"


@pytest.mark.parametrize(
    "next_url",
    [
        "//evil.com",
        "https://evil.com",
        "/\\evil.com",
        "http:evil.com",
        "javascript:alert(1)",
        "/\t/evil.com",
        "https://testserver/accounts/profile/",
    ],
)
def test_login_ignores_unsafe_next(client, user, next_url):
    response = _post_login_form(client, user.username, next=next_url)
    assert response.url == reverse("home")


def test_login_redirects_signed_in_user(client, user):
    client.force_login(user)
    assert client.get(reverse("accounts:login")).url == reverse("home")
    response = client.get(reverse("accounts:login"), {"next": "//evil.com"})
    assert response.url == reverse("home")


def test_login_wrong_password_is_one_plain_error(client, user):
    response = _post_login_form(client, user.username, "wrong password")

    assert response.status_code == 200
    assert response.context["form"].non_field_errors() == [
        "The username, email or password is not correct."
    ]
    assert _signed_in_user_id(client) is None
    assert not UserSession.objects.exists()


@pytest.mark.parametrize(
    ("data", "field"),
    [
        ({"username": "", "password": "x"}, "username"),
        ({"username": "someone", "password": ""}, "password"),
        ({"username": "u" * 255, "password": "x"}, "username"),
    ],
)
def test_login_refuses_empty_and_oversized_fields(client, data, field):
    response = client.post(reverse("accounts:login"), data)
    assert response.status_code == 200
    assert response.context["form"].errors[field]


def test_login_inactive_account_is_told(client, user_factory):
    user = user_factory(is_active=False)
    response = _post_login_form(client, user.username)
    assert "This account has been deactivated" in response.context["form"].non_field_errors()[0]
    assert _signed_in_user_id(client) is None


def test_login_unverified_offers_to_resend_to_that_account(client, unverified_user, mailoutbox):
    response = _post_login_form(client, unverified_user.username)

    assert response.status_code == 200
    assert "Verify your email address" in response.context["form"].non_field_errors()[0]
    assert reverse("accounts:verify_email_resend_pending") in _text(response)
    assert client.session[PENDING_VERIFICATION_KEY] == str(unverified_user.public_id)

    response = client.post(reverse("accounts:verify_email_resend_pending"))
    assert response.url == reverse("accounts:login")
    assert [message.to for message in mailoutbox] == [[unverified_user.email]]
    assert PENDING_VERIFICATION_KEY not in client.session


def test_login_wrong_password_of_unverified_account_offers_nothing(client, unverified_user):
    response = _post_login_form(client, unverified_user.username, "wrong password")
    assert reverse("accounts:verify_email_resend_pending") not in _text(response)
    assert PENDING_VERIFICATION_KEY not in client.session


def test_resend_pending_without_a_pending_account_sends_nothing(client, mailoutbox):
    response = client.post(reverse("accounts:verify_email_resend_pending"))
    assert response.url == reverse("accounts:verify_email_resend")
    assert mailoutbox == []
    assert client.get(reverse("accounts:verify_email_resend_pending")).status_code == 405


def test_lockout_after_five_failures_for_one_username_and_ip(client, user_factory):
    victim, other = user_factory(), user_factory()
    responses = [_post_login_form(client, victim.username, f"wrong {n}") for n in range(5)]

    assert [r.status_code for r in responses] == [200, 200, 200, 200, 429]
    locked = _post_login_form(client, victim.username)
    assert locked.status_code == 429
    assert "Try again in <strong>15 minutes</strong>" in _text(locked)
    assert int(locked["Retry-After"]) == 15 * 60
    assert _signed_in_user_id(client) is None

    assert _post_login_form(client, other.username).status_code == 302


# -- sign-out --------------------------------------------------------------------------------


def test_logout_by_get_asks_and_signs_nobody_out(client, user):
    # A bookmark or a typed URL meets a question, not a bodiless 405; only the POST signs out.
    client.force_login(user)
    response = client.get(reverse("accounts:logout"))

    assert response.status_code == 200
    html = _text(response)
    assert "Sign out?" in html
    form = re.search(r'<form[^>]*method="post"[^>]*action="([^"]+)"[^>]*>(.*?)</form>', html, re.S)
    assert form, html
    assert form[1] == reverse("accounts:logout")
    assert "csrfmiddlewaretoken" in form[2]
    assert re.search(r'<button type="submit"[^>]*>\s*Sign out\s*</button>', form[2])
    assert _signed_in_user_id(client) == str(user.pk)
    assert not UserSession.objects.filter(user=user, revoked_at__isnull=False).exists()


def test_logout_by_get_when_signed_out_goes_to_sign_in(client):
    response = client.get(reverse("accounts:logout"))
    assert response.status_code == 302
    assert response.url == reverse("accounts:login")


def test_logout_refuses_other_methods(client, user):
    client.force_login(user)
    assert client.put(reverse("accounts:logout")).status_code == 405
    assert _signed_in_user_id(client) == str(user.pk)


def test_logout_ends_the_session(client, user):
    _post_login_form(client, user.username)
    response = client.post(reverse("accounts:logout"))

    assert response.url == reverse("accounts:login")
    assert _messages(response) == ["You have been signed out."]
    assert _signed_in_user_id(client) is None
    assert UserSession.objects.get(user=user).revoked_reason == "signed_out"


# -- first sign-in: forced password choice ---------------------------------------------------


def test_must_change_password_user_is_kept_on_confirm_page(client, user_factory):
    user = user_factory(needs_password_change=True)
    client.force_login(user)
    for name in ["home", "accounts:profile", "accounts:password_change"]:
        response = client.get(reverse(name))
        assert response.url == reverse("accounts:confirm_account")
    assert client.get(reverse("accounts:confirm_account")).status_code == 200


def test_confirm_account_refuses_the_old_password_then_accepts_a_new_one(client, user_factory):
    user = user_factory(needs_password_change=True)
    client.force_login(user)
    url = reverse("accounts:confirm_account")

    same = {"new_password": DEFAULT_PASSWORD, "new_password_confirm": DEFAULT_PASSWORD}
    response = client.post(url, same)
    assert response.context["form"].errors["new_password"] == [
        "Choose a password different from your current one."
    ]
    response = client.post(url, {"new_password": NEW_PASSWORD, "new_password_confirm": "other"})
    assert response.context["form"].errors["new_password_confirm"]
    user.refresh_from_db()
    assert user.must_change_password
    assert user.check_password(DEFAULT_PASSWORD)

    response = client.post(
        url, {"new_password": NEW_PASSWORD, "new_password_confirm": NEW_PASSWORD}
    )
    assert response.url == reverse("home")
    user.refresh_from_db()
    assert not user.must_change_password
    assert user.check_password(NEW_PASSWORD)
    assert client.get(reverse("home")).status_code == 200  # still signed in


def test_confirm_account_sends_others_away(client, user):
    assert client.get(reverse("accounts:confirm_account")).url.startswith(reverse("accounts:login"))
    client.force_login(user)
    assert client.get(reverse("accounts:confirm_account")).url == reverse("home")


# -- password reset --------------------------------------------------------------------------


def test_password_reset_request_looks_the_same_for_known_and_unknown(client, user, mailoutbox):
    url = reverse("accounts:password_reset")
    assert client.get(url).status_code == 200
    known = client.post(url, {"login": user.email})
    unknown = client.post(url, {"login": "nobody"})

    assert known.url == unknown.url == reverse("accounts:password_reset_done")
    assert [message.to for message in mailoutbox] == [[user.email]]
    assert "If an account matches" in _text(client.get(known.url))


def test_password_reset_request_takes_as_long_for_unknown_login(client, settings):
    settings.PASSWORD_RESET_MIN_RESPONSE_MS = 150
    started = time.monotonic()
    client.post(reverse("accounts:password_reset"), {"login": "nobody"})
    assert time.monotonic() - started >= 0.15


def test_password_reset_request_refuses_empty_and_oversized(client, mailoutbox):
    for login in ["", "x" * 255]:
        response = client.post(reverse("accounts:password_reset"), {"login": login})
        assert response.status_code == 200
        assert response.context["form"].errors["login"]
    assert mailoutbox == []


def test_password_reset_request_is_rate_limited(client, user, mailoutbox, settings):
    settings.RATE_LIMITS = {**settings.RATE_LIMITS, "password_reset_identifier": "2/15min"}
    url = reverse("accounts:password_reset")
    statuses = [client.post(url, {"login": user.username}).status_code for _ in range(3)]

    assert statuses == [302, 302, 429]
    assert len(mailoutbox) == 2


def test_password_reset_link_sets_a_new_password(client, user, mailoutbox):
    client.post(reverse("accounts:password_reset"), {"login": user.username})
    url = re.search(r"https?://[^/]+(/accounts/password-reset/[\w-]+/)", mailoutbox[0].body)[1]

    response = client.get(url)
    assert response.status_code == 200
    assert "Choose a new password" in _text(response)
    response = client.post(
        url, {"new_password": NEW_PASSWORD, "new_password_confirm": NEW_PASSWORD}
    )

    assert response.url == reverse("accounts:login")
    assert _messages(response) == ["Your password has been changed; sign in with it now."]
    user.refresh_from_db()
    assert user.check_password(NEW_PASSWORD)


def test_password_reset_mismatch_and_weak_password_keep_the_old_one(client, user):
    url = reverse("accounts:password_reset_confirm", args=[_token(user, RESET)])
    mismatch = {"new_password": NEW_PASSWORD, "new_password_confirm": NEW_PASSWORD + "!"}
    weak = {"new_password": "password", "new_password_confirm": "password"}

    response = client.post(url, mismatch)
    assert response.context["form"].errors["new_password_confirm"] == [
        "The two passwords do not match."
    ]
    response = client.post(url, weak)
    assert response.context["form"].errors["new_password"]
    user.refresh_from_db()
    assert user.check_password(DEFAULT_PASSWORD)
    assert OneTimeToken.objects.get().used_at is None


@pytest.mark.parametrize("case", ["reused", "expired", "unknown"])
def test_password_reset_bad_link_offers_a_new_one(client, user, case):
    token = _token(user, RESET)
    url = reverse("accounts:password_reset_confirm", args=[token if case != "unknown" else "x"])
    data = {"new_password": NEW_PASSWORD, "new_password_confirm": NEW_PASSWORD}
    if case == "reused":
        client.post(url, data)
        user.set_password(DEFAULT_PASSWORD)
        user.save()
    if case == "expired":
        _expire()

    for response in [client.get(url), client.post(url, data)]:
        assert response.status_code == 400
        assert "This link is invalid" in _text(response)
        assert reverse("accounts:password_reset") in _text(response)
    user.refresh_from_db()
    assert user.check_password(DEFAULT_PASSWORD)


# -- password change -------------------------------------------------------------------------


def test_password_change_keeps_this_session_and_ends_the_others(client, user, user_session_factory):
    other = user_session_factory(user=user)
    _post_login_form(client, user.username)
    response = client.post(
        reverse("accounts:password_change"),
        {
            "current_password": DEFAULT_PASSWORD,
            "new_password": NEW_PASSWORD,
            "new_password_confirm": NEW_PASSWORD,
        },
    )

    assert response.url == reverse("home")
    assert "other device" in _messages(response)[0]
    user.refresh_from_db()
    assert user.check_password(NEW_PASSWORD)
    other.refresh_from_db()
    assert other.revoked_reason == "password_changed"
    assert client.get(reverse("home")).status_code == 200


@pytest.mark.parametrize(
    ("changes", "field"),
    [
        ({"current_password": "wrong"}, "current_password"),
        ({"new_password_confirm": "different"}, "new_password_confirm"),
        ({"new_password": "", "new_password_confirm": ""}, "new_password"),
        ({"new_password": "12345", "new_password_confirm": "12345"}, "new_password"),
    ],
)
def test_password_change_refusals_keep_the_password(client, user, changes, field):
    _post_login_form(client, user.username)
    data = {
        "current_password": DEFAULT_PASSWORD,
        "new_password": NEW_PASSWORD,
        "new_password_confirm": NEW_PASSWORD,
        **changes,
    }
    response = client.post(reverse("accounts:password_change"), data)

    assert response.status_code == 200
    assert response.context["form"].errors[field]
    user.refresh_from_db()
    assert user.check_password(DEFAULT_PASSWORD)


@pytest.mark.parametrize(
    "name",
    ["accounts:password_change", "accounts:profile", "accounts:email_change", "accounts:delete"],
)
def test_account_pages_require_sign_in(client, name):
    response = client.get(reverse(name))
    assert response.status_code == 302
    assert response.url.startswith(reverse("accounts:login") + "?next=")


# -- profile and email -----------------------------------------------------------------------


def test_profile_shows_account_and_saves_details(client, user):
    client.force_login(user)
    page = client.get(reverse("accounts:profile"))
    assert page.status_code == 200
    for text in [user.username, user.email, "Verified", "Customer", 'type="date"']:
        assert text in _text(page)

    data = {
        "first_name": "Ada",
        "last_name": "Lovelace",
        "phone_number": "+44 20 7946 0000",
        "address": "12 St James's Square\nLondon",
        "date_of_birth": "1815-12-10",
    }
    response = client.post(reverse("accounts:profile"), data)

    assert response.url == reverse("accounts:profile")
    assert _messages(response) == ["Your profile has been saved."]
    user.profile.refresh_from_db()
    assert (user.profile.first_name, str(user.profile.date_of_birth)) == ("Ada", "1815-12-10")


@pytest.mark.parametrize(
    ("data", "field"),
    [
        ({"first_name": "x" * 151}, "first_name"),
        ({"phone_number": "call me maybe"}, "phone_number"),
        ({"phone_number": "1" * 33}, "phone_number"),
        ({"address": "x" * 501}, "address"),
        ({"date_of_birth": "not a date"}, "date_of_birth"),
    ],
)
def test_profile_refusals_change_nothing(client, user, data, field):
    client.force_login(user)
    before = user.profile.first_name
    response = client.post(reverse("accounts:profile"), {"first_name": "Changed", **data})

    assert response.status_code == 200
    assert response.context["form"].errors[field]
    user.profile.refresh_from_db()
    assert user.profile.first_name == before


def test_email_change_sends_a_link_and_shows_it_pending(client, user, mailoutbox):
    _post_login_form(client, user.username)
    assert client.get(reverse("accounts:email_change")).status_code == 200
    response = client.post(
        reverse("accounts:email_change"),
        {"new_email": "New@Example.org", "current_password": DEFAULT_PASSWORD},
    )

    assert response.url == reverse("accounts:profile")
    assert _messages(response) == [
        "We sent a confirmation link to new@example.org. Your address changes once you open it."
    ]
    user.refresh_from_db()
    assert user.email != "new@example.org"
    assert ["new@example.org"] in [message.to for message in mailoutbox]
    profile = _text(client.get(reverse("accounts:profile")))
    assert "new@example.org" in profile
    assert "Waiting for confirmation" in profile


def test_email_change_to_a_taken_address_says_the_same(client, user, user_factory):
    taken = user_factory()
    _post_login_form(client, user.username)
    response = client.post(
        reverse("accounts:email_change"),
        {"new_email": taken.email, "current_password": DEFAULT_PASSWORD},
    )
    assert _messages(response) == [
        f"We sent a confirmation link to {taken.email}. Your address changes once you open it."
    ]
    assert not OneTimeToken.objects.filter(user=user).exists()


def test_email_change_refuses_invalid_and_blocked_addresses(
    client, user, email_domain_rule_factory
):
    email_domain_rule_factory(domain="blocked.example")
    _post_login_form(client, user.username)
    for email, message in [
        ("not-an-email", "Enter a valid email address."),
        ("a@blocked.example", "Sign-up is not open to addresses at this email domain."),
    ]:
        response = client.post(
            reverse("accounts:email_change"),
            {"new_email": email, "current_password": DEFAULT_PASSWORD},
        )
        assert response.status_code == 200
        assert response.context["form"].errors["new_email"][0].startswith(message)
    assert not OneTimeToken.objects.exists()


# -- deletion --------------------------------------------------------------------------------


def test_delete_account_asks_for_a_confirmation(client, user):
    """The recent proof (RecentProofRequiredMixin) is the password; the form confirms intent."""
    _post_login_form(client, user.username)
    page = client.get(reverse("accounts:delete"))
    assert "This cannot be undone." in _text(page)
    assert 'name="password"' not in _text(page)

    response = client.post(reverse("accounts:delete"), {})
    assert response.context["form"].errors["confirm"] == ["This field is required."]
    assert User.objects.filter(pk=user.pk).exists()

    response = client.post(reverse("accounts:delete"), {"confirm": "on"})
    assert response.url == reverse("accounts:login")
    assert _messages(response) == ["Your account and its data have been deleted."]
    assert not User.objects.filter(pk=user.pk).exists()
    assert _signed_in_user_id(client) is None


def test_password_fields_are_password_inputs_and_never_echoed(client):
    response = client.post(reverse("accounts:signup"), {**SIGNUP, "username": ""})
    text = _text(response)
    assert text.count('type="password"') == 2
    assert NEW_PASSWORD not in text
    assert settings.PASSWORD_MAX_LENGTH == 1024
