"""A user signed in on two browsers and one API client ends two of those from one page."""

from __future__ import annotations

import httpx
from django.urls import reverse
from playwright.sync_api import Browser, Page, expect

from tests.e2e.conftest import sign_in, sign_in_form_submit
from tests.factories import DEFAULT_PASSWORD, UserFactory
from tests.processes import live_api_tokens

FIREFOX = "Mozilla/5.0 (Windows NT 10.0; Win64; x64; rv:120.0) Gecko/20100101 Firefox/120.0"


def test_sessions_page_ends_another_browser_and_an_api_client(
    page: Page, browser: Browser, live_server, screenshot
) -> None:
    user = UserFactory(username="ada")
    other = browser.new_context(base_url=live_server.url, user_agent=FIREFOX).new_page()
    sign_in(page, "ada")
    sign_in(other, "ada@" + user.email.split("@")[1])
    api = live_api_tokens(live_server.url, "ada", DEFAULT_PASSWORD)
    me = f"{live_server.url}{reverse('api:accounts:me')}"
    bearer = {"Authorization": f"Bearer {api['access_token']}"}
    assert httpx.get(me, headers=bearer).status_code == 200

    page.get_by_role("link", name="Sessions", exact=True).click()
    rows = page.locator("tbody tr")
    expect(rows).to_have_count(3)
    expect(page.get_by_text("This session")).to_have_count(1)
    screenshot(page, "sessions-three")

    page.get_by_role("button", name="Sign out all other sessions").click()
    expect(page.get_by_text("Signed out 2 other session(s).")).to_be_visible()
    expect(rows).to_have_count(1)
    screenshot(page, "sessions-after-revoke")

    # The other two are refused on their very next request.
    other.goto(reverse("accounts:profile"))
    expect(other).to_have_url(
        f"{live_server.url}{reverse('accounts:login')}?next=/accounts/profile/"
    )
    assert httpx.get(me, headers=bearer).status_code == 401
    other.context.close()


def test_history_page_shows_failures_plainly(page: Page, screenshot) -> None:
    UserFactory(username="grace")
    page.goto(reverse("accounts:login"))
    sign_in_form_submit(page, "grace", "not my password")
    sign_in(page, "grace")
    page.get_by_role("link", name="History", exact=True).click()
    expect(page.get_by_text("Wrong username or password")).to_be_visible()
    expect(page.get_by_text("Signed in", exact=True).first).to_be_visible()
    screenshot(page, "history")
