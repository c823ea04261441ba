"""Second factors in Chromium: adding an authenticator app from the security page, saving the
recovery codes, and the enrolment a staff account must go through before it may sign in."""

from __future__ import annotations

import re
from pathlib import Path

import pyotp
from django.urls import reverse
from playwright.sync_api import Page, expect
from pytest_django.live_server_helper import LiveServer

from accounts.models import User, UserSession
from tests.e2e.conftest import sign_in, sign_in_form_submit
from tests.e2e.test_console_clean import Watch
from tests.factories import UserFactory
from tests.mfa import totp_fresh_code

CODE = re.compile(r"^[a-z2-7]{4}-[a-z2-7]{4}-[a-z2-7]{4}$")


def _secret(page: Page) -> str:
    return page.get_by_test_id("totp-secret").inner_text().replace(" ", "")


def _confirm_app(page: Page) -> pyotp.TOTP:
    """Reads the key as a user who cannot scan would, and types the app's code."""
    app = pyotp.TOTP(_secret(page))
    page.get_by_label("Code from the app").fill(app.now())
    page.get_by_role("button", name="Confirm").click()
    return app


def _saved_codes(page: Page) -> list[str]:
    expect(page.get_by_role("heading", name="Save your recovery codes")).to_be_visible()
    codes = page.get_by_test_id("recovery-codes").locator("code").all_inner_texts()
    assert len(codes) == 10
    assert all(CODE.match(code) for code in codes)
    return codes


def test_user_adds_an_authenticator_app_and_saves_the_recovery_codes(
    page: Page, screenshot, user: User
) -> None:
    sign_in(page, user.username)
    page.get_by_role("navigation").get_by_role("link", name="Security").click()
    expect(page.get_by_role("heading", name="Sign-in methods")).to_be_visible()
    page.get_by_role("link", name="Add an authenticator app").click()

    qr = page.locator("svg.qr")
    expect(qr).to_be_visible()
    assert qr.bounding_box()["width"] >= 120
    screenshot(page, "mfa-totp-add")
    app = _confirm_app(page)

    codes = _saved_codes(page)
    expect(page.get_by_text("Authenticator app added.")).to_be_visible()
    screenshot(page, "mfa-recovery-codes")
    with page.expect_download() as info:
        page.get_by_role("link", name="Download as .txt").click()
    download = info.value
    assert download.suggested_filename == "recovery-codes.txt"
    text = Path(download.path()).read_text(encoding="utf-8")
    assert all(code in text for code in codes)
    page.get_by_role("button", name="I have saved them").click()

    expect(page.get_by_text("10 unused recovery codes left.")).to_be_visible()
    expect(page.get_by_role("button", name="Remove authenticator app")).to_be_visible()
    screenshot(page, "mfa-security")
    page.reload()
    page.goto(reverse("accounts:security_recovery_codes"))  # shown once
    expect(page.get_by_text("Recovery codes are shown only once.")).to_be_visible()

    page.get_by_role("button", name="Sign out").click()
    page.goto(reverse("accounts:login"))
    sign_in_form_submit(page, user.username)
    page.wait_for_url(re.compile(r"/accounts/login/verify/"))
    assert not UserSession.objects.filter(user=user, revoked_at__isnull=True).exists()
    page.get_by_label("Code from your authenticator app").fill(totp_fresh_code(app))
    page.get_by_role("button", name="Verify").click()
    expect(page.get_by_role("heading", name="Signed in as")).to_be_visible()
    assert UserSession.objects.get(user=user, revoked_at__isnull=True).amr == "pwd otp"


def test_staff_must_enrol_before_signing_in(
    page: Page, screenshot, live_server: LiveServer, settings
) -> None:
    settings.MFA_REQUIRED_FOR_STAFF = True
    staff = UserFactory(is_staff=True)
    page.goto(reverse("accounts:login"))
    sign_in_form_submit(page, staff.username)
    page.wait_for_url(re.compile(r"/accounts/login/enrol/"))

    expect(page.get_by_role("heading", name="Set up a second factor")).to_be_visible()
    assert not UserSession.objects.filter(user=staff).exists()
    screenshot(page, "mfa-enrol-required")
    _confirm_app(page)

    _saved_codes(page)
    page.get_by_role("button", name="I have saved them").click()
    expect(page.get_by_role("heading", name="Signed in as")).to_be_visible()
    session = UserSession.objects.get(user=staff)
    assert session.amr == "pwd otp"


def test_security_pages_have_no_console_error_or_csp_violation(page: Page, user: User) -> None:
    """The QR code is inline SVG markup: the CSP (no inline style or script) must not block it."""
    watch = Watch(page)
    sign_in(page, user.username)
    problems = watch.visit(reverse("accounts:security"))
    problems += watch.visit(reverse("accounts:security_totp"))
    expect(page.locator("svg.qr path").first).to_be_attached()
    _confirm_app(page)
    problems += [f"recovery codes: {p}" for p in watch.problems]
    problems += watch.visit(reverse("accounts:security"))
    assert not problems, "\n".join(problems)
