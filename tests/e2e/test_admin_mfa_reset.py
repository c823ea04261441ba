"""An admin looks at a user's second factors in the Django admin and resets them."""

from __future__ import annotations

import secrets

from django.conf import settings
from django.test import Client
from django.urls import reverse
from playwright.sync_api import Browser, BrowserContext, expect

from accounts.models import Passkey, User
from accounts.services.mfa import user_factor_methods, user_mfa_refresh
from tests import factories
from tests.mfa import totp_enrol


def _context_of(browser: Browser, live_server, user: User) -> BrowserContext:
    """A browser context carrying a session of ``user`` (the sign-in form has its own tests)."""
    client = Client()
    client.force_login(user)
    context = browser.new_context(base_url=live_server.url)
    context.set_default_timeout(10_000)
    cookie = client.cookies[settings.SESSION_COOKIE_NAME].value
    context.add_cookies(
        [{"name": settings.SESSION_COOKIE_NAME, "value": cookie, "url": live_server.url}]
    )
    return context


def test_admin_sees_a_users_factors_and_resets_them(browser, live_server, screenshot) -> None:
    member = factories.UserFactory()
    totp_enrol(member)
    Passkey.objects.create(
        user=member,
        name="Work laptop",
        credential_id=secrets.token_urlsafe(32),
        public_key=b"\xa5",
    )
    user_mfa_refresh(user=member)
    admin = factories.UserFactory(superuser=True)
    page = _context_of(browser, live_server, admin).new_page()

    page.goto(reverse("admin:accounts_user_change", args=[member.pk]))
    factors = page.locator(".field-second_factors")
    expect(factors).to_contain_text("Authenticator app: added")
    expect(factors).to_contain_text("Passkey “Work laptop” (device-bound)")
    expect(factors).to_contain_text("Recovery codes left: 10")
    screenshot(page, "admin-user-second-factors")

    factors.get_by_role("link", name="Reset second factors…").click()
    expect(page.get_by_text("Every sign-in of theirs ends")).to_be_visible()
    screenshot(page, "admin-user-second-factors-reset-confirm")
    page.get_by_role("button", name="Yes, reset second factors").click()

    expect(page.locator(".messagelist .success")).to_contain_text("second factors reset")
    expect(page.locator(".field-second_factors")).to_contain_text("Recovery codes left: 0")
    assert user_factor_methods(user=member) == []
