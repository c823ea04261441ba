"""Signing in with a second factor in a real Chromium: the authenticator app's code computed
with pyotp, then a recovery code, which works once."""

from __future__ import annotations

import re

from django.urls import reverse
from playwright.sync_api import Browser, Page, expect

from tests.e2e.conftest import sign_in_form_submit
from tests.factories import UserFactory
from tests.mfa import totp_enrol, totp_fresh_code

VERIFY = re.compile(re.escape(reverse("accounts:login_verify")))


def _sign_out(page: Page) -> None:
    page.get_by_role("navigation").get_by_role("button", name="Sign out").click()
    expect(page.get_by_role("heading", name="Sign in")).to_be_visible()


def test_sign_in_with_an_authenticator_app_then_a_recovery_code_once(
    page: Page, browser: Browser, live_server, screenshot
) -> None:
    UserFactory(username="hedy")
    from accounts.models import User

    app = totp_enrol(User.objects.get(username="hedy"))
    recovery_code = app.recovery_codes[0]

    page.goto(reverse("accounts:login"))
    sign_in_form_submit(page, "hedy")
    expect(page).to_have_url(VERIFY)
    expect(page.get_by_role("heading", name="Two-step verification")).to_be_visible()
    code_field = page.get_by_label("Code from your authenticator app")
    expect(code_field).to_be_focused()
    expect(code_field).to_have_attribute("autocomplete", "one-time-code")
    screenshot(page, "login-verify-totp")

    code_field.fill("000000" if app.now() != "000000" else "111111")
    page.get_by_role("button", name="Verify").click()
    expect(page.get_by_text("The code is not valid.").first).to_be_visible()
    screenshot(page, "login-verify-wrong-code")

    page.get_by_label("Code from your authenticator app").fill(totp_fresh_code(app))
    page.get_by_role("button", name="Verify").click()
    expect(page.get_by_role("heading", name="Signed in as hedy")).to_be_visible()

    page.goto(reverse("accounts:sessions"))
    expect(page.get_by_text("Password + Authenticator app")).to_be_visible()
    _sign_out(page)

    sign_in_form_submit(page, "hedy")
    expect(page).to_have_url(VERIFY)
    page.get_by_role("link", name="Use a recovery code instead").click()
    expect(page.get_by_label("Recovery code")).to_be_visible()
    screenshot(page, "login-verify-recovery-code")
    page.get_by_label("Recovery code").fill(recovery_code)
    page.get_by_role("button", name="Verify").click()
    expect(page.get_by_role("heading", name="Signed in as hedy")).to_be_visible()
    _sign_out(page)

    # The same recovery code again, from another browser: refused.
    other = browser.new_context(base_url=live_server.url).new_page()
    other.goto(reverse("accounts:login"))
    sign_in_form_submit(other, "hedy")
    other.get_by_role("link", name="Use a recovery code instead").click()
    other.get_by_label("Recovery code").fill(recovery_code)
    other.get_by_role("button", name="Verify").click()
    expect(other.get_by_text("The code is not valid.").first).to_be_visible()
    expect(other).to_have_url(VERIFY)
    other.goto(reverse("accounts:profile"))
    expect(other.get_by_role("heading", name="Sign in")).to_be_visible()
