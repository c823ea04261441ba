"""Account flows in a real Chromium: sign-up to sign-out, reset, lockout, forced change."""

from __future__ import annotations

import re

from django.urls import reverse
from playwright.sync_api import Page, expect

from accounts import services
from accounts.models import User
from tests.e2e.conftest import sign_in_form_submit
from tests.factories import DEFAULT_PASSWORD

NEW_PASSWORD = "a brand new passphrase 7"
PHONE = {"width": 390, "height": 844}


def _emailed_path(mailoutbox, pattern: str) -> str:
    """The path of the last emailed link (emails point at PORTAL_URL, not the live server)."""
    match = re.search(rf"https?://[^/\s]+({pattern}[\w-]+/)", mailoutbox[-1].body)
    assert match, mailoutbox[-1].body
    return match[1]


def test_sign_up_verify_sign_in_edit_profile_sign_out(page: Page, screenshot, mailoutbox) -> None:
    page.goto(reverse("accounts:signup"))
    screenshot(page, "signup")
    page.get_by_label("Username").fill("grace")
    page.get_by_label("Email address").fill("grace@example.com")
    page.get_by_label("Password", exact=True).fill(NEW_PASSWORD)
    page.get_by_label("Confirm password").fill("not the same passphrase")
    page.get_by_role("button", name="Create account").click()
    expect(page.get_by_text("The two passwords do not match.").first).to_be_visible()
    screenshot(page, "signup-errors")

    page.get_by_label("Password", exact=True).fill(NEW_PASSWORD)
    page.get_by_label("Confirm password").fill(NEW_PASSWORD)
    page.get_by_role("button", name="Create account").click()
    expect(page).to_have_url(re.compile(re.escape(reverse("accounts:signup_done")) + "$"))
    expect(page.get_by_text("We sent a link to")).to_contain_text("grace@example.com")
    screenshot(page, "signup-done")

    page.goto(_emailed_path(mailoutbox, "/accounts/verify-email/"))
    expect(page.get_by_role("heading", name="Confirm your email address")).to_be_visible()
    screenshot(page, "verify-email")
    page.get_by_role("button", name="Confirm my email address").click()
    expect(page.get_by_text("Your email address is confirmed.")).to_be_visible()
    screenshot(page, "login-after-verify")

    sign_in_form_submit(page, "grace", NEW_PASSWORD)
    expect(page.get_by_role("heading", name="Signed in as grace")).to_be_visible()
    screenshot(page, "home")

    page.get_by_role("navigation").get_by_role("link", name="Profile").click()
    screenshot(page, "profile")
    page.get_by_label("First name").fill("Grace")
    page.get_by_label("Last name").fill("Hopper")
    page.get_by_label("Phone number").fill("+1 555 0100")
    page.get_by_label("Date of birth").fill("1906-12-09")
    page.get_by_role("button", name="Save changes").click()
    expect(page.get_by_text("Your profile has been saved.")).to_be_visible()
    expect(page.get_by_label("Last name")).to_have_value("Hopper")
    expect(page.get_by_label("Date of birth")).to_have_value("1906-12-09")
    screenshot(page, "profile-saved")
    page.set_viewport_size(PHONE)
    screenshot(page, "profile-phone")

    page.get_by_role("button", name="Sign out").click()
    expect(page.get_by_text("You have been signed out.")).to_be_visible()
    screenshot(page, "signed-out-phone")


def test_password_reset_from_emailed_link(page: Page, screenshot, user, mailoutbox) -> None:
    page.goto(reverse("accounts:login"))
    sign_in_form_submit(page, user.username, "not my password")
    expect(page.get_by_text("The username, email or password is not correct.")).to_be_visible()
    screenshot(page, "login-wrong-password")

    page.get_by_role("link", name="Forgot your password?").click()
    screenshot(page, "password-reset")
    page.get_by_label("Username or email").fill(user.email)
    page.get_by_label("Username or email").press("Enter")
    expect(page.get_by_role("heading", name="Check your email")).to_be_visible()
    screenshot(page, "password-reset-done")

    link = _emailed_path(mailoutbox, "/accounts/password-reset/")
    page.goto(link)
    expect(page.get_by_role("heading", name="Choose a new password")).to_be_visible()
    page.get_by_label("New password", exact=True).fill(NEW_PASSWORD)
    page.get_by_label("Confirm new password").fill(NEW_PASSWORD)
    screenshot(page, "password-reset-confirm")
    page.get_by_role("button", name="Save password").click()
    expect(page.get_by_text("Your password has been changed; sign in with it now.")).to_be_visible()

    sign_in_form_submit(page, user.username, NEW_PASSWORD)
    expect(page.get_by_role("heading", name=f"Signed in as {user.username}")).to_be_visible()

    page.goto(link)
    expect(page.get_by_role("heading", name="This link does not work")).to_be_visible()
    screenshot(page, "password-reset-link-used")


def test_lockout_after_repeated_failures(page: Page, screenshot, user) -> None:
    page.goto(reverse("accounts:login"))
    for attempt in range(5):
        sign_in_form_submit(page, user.username, f"wrong password {attempt}")
        page.wait_for_load_state()

    expect(page.get_by_role("heading", name="Sign-in temporarily blocked")).to_be_visible()
    expect(page.get_by_text("Try again in 15 minutes")).to_be_visible()
    screenshot(page, "locked-out")
    page.set_viewport_size(PHONE)
    screenshot(page, "locked-out-phone")


def test_admin_created_user_must_choose_a_password_first(page: Page, screenshot, db) -> None:
    services.user_create(
        username="newhire",
        email="newhire@example.com",
        password=DEFAULT_PASSWORD,
        email_verified=True,
    )
    page.goto(reverse("accounts:login"))
    sign_in_form_submit(page, "newhire", DEFAULT_PASSWORD)
    confirm = re.compile(re.escape(reverse("accounts:confirm_account")) + "$")
    expect(page).to_have_url(confirm)
    screenshot(page, "confirm-account")

    for name in ["home", "accounts:profile", "accounts:password_change"]:
        page.goto(reverse(name))
        expect(page).to_have_url(confirm)

    page.get_by_label("New password", exact=True).fill(DEFAULT_PASSWORD)
    page.get_by_label("Confirm new password").fill(DEFAULT_PASSWORD)
    page.get_by_role("button", name="Set password and continue").click()
    expect(
        page.get_by_text("Choose a password different from your current one.").first
    ).to_be_visible()
    screenshot(page, "confirm-account-errors")

    page.get_by_label("New password", exact=True).fill(NEW_PASSWORD)
    page.get_by_label("Confirm new password").fill(NEW_PASSWORD)
    page.get_by_label("Confirm new password").press("Enter")
    expect(page.get_by_role("heading", name="Signed in as newhire")).to_be_visible()
    page.goto(reverse("accounts:profile"))
    expect(page.get_by_role("heading", name="Your profile")).to_be_visible()


def test_change_password_and_email_then_delete_account(
    page: Page, screenshot, user, mailoutbox
) -> None:
    page.goto(reverse("accounts:login"))
    sign_in_form_submit(page, user.username, DEFAULT_PASSWORD)
    page.goto(reverse("accounts:password_change"))
    page.get_by_label("Current password").fill(DEFAULT_PASSWORD)
    page.get_by_label("New password", exact=True).fill(NEW_PASSWORD)
    page.get_by_label("Confirm new password").fill(NEW_PASSWORD)
    screenshot(page, "password-change")
    page.get_by_role("button", name="Change password").click()
    expect(page.get_by_text("Your password has been changed.")).to_be_visible()

    page.goto(reverse("accounts:email_change"))
    page.get_by_label("New email address").fill("moved@example.org")
    screenshot(page, "email-change")
    page.get_by_label("New email address").press("Enter")
    expect(page.get_by_text("We sent a confirmation link to moved@example.org.")).to_be_visible()
    expect(page.get_by_text("Waiting for confirmation")).to_be_visible()
    screenshot(page, "profile-email-pending")

    page.get_by_role("link", name="Delete account").click()
    # The browser itself refuses the form until the confirmation is ticked.
    page.get_by_role("button", name="Delete my account").click()
    expect(page.get_by_role("heading", name="Delete your account")).to_be_visible()
    page.get_by_label("I understand that my account and its data will be deleted").check()
    page.get_by_role("button", name="Delete my account").click()
    expect(page.get_by_text("Your account and its data have been deleted.")).to_be_visible()
    page.set_viewport_size(PHONE)
    screenshot(page, "deleted-phone")


def test_unverified_sign_in_offers_a_new_link(
    page: Page, screenshot, unverified_user, mailoutbox, settings
) -> None:
    page.goto(reverse("accounts:login"))
    sign_in_form_submit(page, unverified_user.username, DEFAULT_PASSWORD)
    expect(page.get_by_text("Verify your email address before signing in.")).to_be_visible()
    screenshot(page, "login-unverified")
    page.get_by_role("button", name="Send a new link").click()
    expect(page.get_by_text("We sent a new link to your email address.")).to_be_visible()
    assert mailoutbox[-1].to == [unverified_user.email]

    page.goto(reverse("accounts:verify_email", args=["no-such-link"]))
    page.get_by_role("button", name="Confirm my email address").click()
    expect(page.get_by_role("heading", name="This link does not work")).to_be_visible()
    screenshot(page, "verify-email-invalid")
    page.get_by_role("link", name="Send a new link").click()
    screenshot(page, "verify-email-resend")

    settings.RATE_LIMITS = {**settings.RATE_LIMITS, "verify_resend": "0/15min"}
    page.get_by_label("Email address").fill(unverified_user.email)
    page.get_by_role("button", name="Send link").click()
    expect(page.get_by_role("heading", name="Too many requests")).to_be_visible()
    screenshot(page, "too-many-requests")


def test_sign_up_shows_every_error_at_once_and_takes_the_profile_fields(
    page: Page, screenshot
) -> None:
    """Issue 19: the password error shows with the others; the optional names are kept."""
    page.goto(reverse("accounts:signup"))
    page.get_by_label("Username").fill("no spaces!")
    page.get_by_label("Email address").fill("ada@example.com")
    page.get_by_label("Password", exact=True).fill("short")
    page.get_by_label("Confirm password").fill("short")
    page.get_by_label("First name").fill("Ada")
    page.get_by_role("button", name="Create account").click()
    expect(page.get_by_text("Use letters, digits and . - _ only.").first).to_be_visible()
    expect(page.get_by_text("This password is too short", exact=False).first).to_be_visible()
    screenshot(page, "signup-all-errors")

    page.get_by_label("Username").fill("ada")
    page.get_by_label("Password", exact=True).fill(NEW_PASSWORD)
    page.get_by_label("Confirm password").fill(NEW_PASSWORD)
    page.get_by_label("Last name").fill("Lovelace")
    page.get_by_role("button", name="Create account").click()
    expect(page).to_have_url(re.compile(re.escape(reverse("accounts:signup_done")) + "$"))
    profile = User.objects.get(username="ada").profile
    assert (profile.first_name, profile.last_name) == ("Ada", "Lovelace")
