"""Pages a new user meets in Chromium: the sign-out question, the links to each area, the icon."""

from __future__ import annotations

import re

from django.urls import reverse
from playwright.sync_api import Page, expect

from accounts.models import UserSession
from tests.e2e.conftest import sign_in
from tests.factories import UserFactory


def test_typed_logout_url_asks_then_signs_out_by_post(page: Page, screenshot) -> None:
    user = UserFactory()
    sign_in(page, user.username)

    response = page.goto(reverse("accounts:logout"))
    assert response is not None
    assert response.status == 200
    expect(page.get_by_role("heading", name="Sign out?")).to_be_visible()
    screenshot(page, "logout-confirm")
    assert not UserSession.objects.filter(user=user, revoked_at__isnull=False).exists()

    page.get_by_role("main").get_by_role("button", name="Sign out").click()
    expect(page.get_by_text("You have been signed out.")).to_be_visible()
    assert UserSession.objects.get(user=user).revoked_reason == "signed_out"


def test_stay_signed_in_goes_home(page: Page) -> None:
    user = UserFactory()
    sign_in(page, user.username)
    page.goto(reverse("accounts:logout"))

    page.get_by_role("link", name="Stay signed in").click()
    expect(page.get_by_role("heading", name=f"Signed in as {user.username}")).to_be_visible()


def test_signed_out_visitor_typing_logout_url_lands_onsign_in(page: Page) -> None:
    page.goto(reverse("accounts:logout"))
    expect(page).to_have_url(re.compile(re.escape(reverse("accounts:login")) + "$"))


def test_developer_applications_reached_from_home_and_nav(page: Page, screenshot) -> None:
    sign_in(page, UserFactory().username)
    screenshot(page, "home-with-developer-apps")

    page.get_by_role("main").get_by_role("link", name=re.compile("^Developer applications")).click()
    expect(page).to_have_url(re.compile(re.escape(reverse("sso:app_list")) + "$"))
    page.goto(reverse("accounts:profile"))
    page.get_by_role("navigation", name="Main").get_by_role("link", name="Developers").click()
    expect(page).to_have_url(re.compile(re.escape(reverse("sso:app_list")) + "$"))
    nav_link = page.get_by_role("navigation", name="Main").get_by_role("link", name="Developers")
    expect(nav_link).to_have_attribute("aria-current", "page")
    screenshot(page, "developer-apps-from-nav")


def test_favicon_loads_in_chromium(page: Page) -> None:
    response = page.goto("/favicon.ico")
    assert response is not None
    assert response.status == 200
    assert response.headers["content-type"] in {"image/x-icon", "image/vnd.microsoft.icon"}
