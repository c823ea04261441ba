"""Sudo mode in a real Chromium: a sign-in proven too long ago is asked to confirm it's the
user (the password, or a code of the authenticator app) and comes back to the action."""

from __future__ import annotations

import re

from django.urls import reverse
from playwright.sync_api import Page, expect

from accounts.models import OneTimeToken, User
from tests.e2e.conftest import sign_in
from tests.factories import DEFAULT_PASSWORD
from tests.mfa import sign_ins_make_stale, totp_enrol, totp_fresh_code


def test_stale_sign_in_confirms_with_the_password_then_deletes_the_account(
    page: Page, screenshot, user
) -> None:
    sign_in(page, user.username)
    sign_ins_make_stale(user)  # the user stepped away for a while

    page.goto(reverse("accounts:delete"))
    expect(page.get_by_role("heading", name="Confirm it's you")).to_be_visible()
    expect(page).to_have_url(re.compile(re.escape(reverse("accounts:reauthenticate"))))
    page.get_by_label("Password", exact=True).fill("not my password")
    page.get_by_role("button", name="Confirm").click()
    expect(page.get_by_text("Your current password is not correct.").first).to_be_visible()
    screenshot(page, "reauthenticate-password-error")

    page.get_by_label("Password", exact=True).fill(DEFAULT_PASSWORD)
    page.get_by_role("button", name="Confirm").click()
    expect(page.get_by_role("heading", name="Delete your account")).to_be_visible()
    expect(page).to_have_url(re.compile(re.escape(reverse("accounts:delete")) + "$"))
    page.get_by_label("I understand that my account and its data will be deleted").check()
    screenshot(page, "delete-confirm")
    page.get_by_role("button", name="Delete my account").click()
    expect(page.get_by_text("Your account and its data have been deleted.")).to_be_visible()
    assert not User.objects.filter(pk=user.pk).exists()


def test_stale_sign_in_confirms_with_an_authenticator_code_then_changes_the_email(
    page: Page, screenshot, user, mailoutbox
) -> None:
    sign_in(page, user.username)
    app = totp_enrol(user)
    sign_ins_make_stale(user)

    page.goto(reverse("accounts:email_change"))
    expect(page.get_by_role("heading", name="Confirm it's you")).to_be_visible()
    screenshot(page, "reauthenticate-password")
    page.get_by_role("link", name="Use a code from your authenticator app").click()
    page.get_by_label("Code").fill(totp_fresh_code(app))
    screenshot(page, "reauthenticate-code")
    page.get_by_label("Code").press("Enter")

    expect(page.get_by_role("heading", name="Change your email address")).to_be_visible()
    page.get_by_label("New email address").fill("moved@example.org")
    page.get_by_label("New email address").press("Enter")
    expect(page.get_by_text("We sent a confirmation link to moved@example.org.")).to_be_visible()
    assert OneTimeToken.objects.filter(user=user, email="moved@example.org").exists()
