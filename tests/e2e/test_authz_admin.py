"""An admin grants a role in the Django admin; the user's next page shows the new permission."""

from __future__ import annotations

from datetime import timedelta

from django.conf import settings
from django.test import Client
from django.urls import reverse
from django.utils import timezone
from playwright.sync_api import Browser, BrowserContext, expect

from accounts.models import User
from authz.models import AuditAction, AuthzAuditEvent, RoleAssignment
from tests import factories


def signed_in(browser: Browser, live_server, user: User) -> BrowserContext:
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


def test_role_granted_in_the_admin_shows_on_the_users_next_page(
    browser, live_server, screenshot
) -> None:
    permission = factories.PermissionFactory(code="billing.read")
    factories.RoleFactory(name="billing-clerk", permissions=[permission])
    admin = factories.UserFactory(superuser=True)
    member = factories.UserFactory()
    member_context = signed_in(browser, live_server, member)
    member_page = member_context.new_page()
    member_page.goto(reverse("home"))
    expect(member_page.get_by_text("You hold no permissions")).to_be_visible()

    admin_context = signed_in(browser, live_server, admin)
    page = admin_context.new_page()
    page.goto(reverse("admin:accounts_user_change", args=[member.pk]))
    page.get_by_text("Add another Role").click()
    page.locator("#id_role_assignments-0-role").select_option(label="billing-clerk")
    tomorrow = timezone.now() + timedelta(days=1)
    page.locator("#id_role_assignments-0-expires_at_0").fill(tomorrow.strftime("%Y-%m-%d"))
    page.locator("#id_role_assignments-0-expires_at_1").fill("12:00:00")
    page.locator("input[name=_save]").click()
    expect(page.locator(".messagelist .success")).to_be_visible()

    member_page.reload()
    expect(member_page.get_by_label("Your permissions")).to_contain_text("billing.read")
    expect(member_page.get_by_text("billing-clerk")).to_be_visible()
    screenshot(member_page, "authz-home-permissions")
    assignment = RoleAssignment.objects.get(user=member)
    assert assignment.granted_by == admin
    assert assignment.expires_at is not None
    assert AuthzAuditEvent.objects.filter(action=AuditAction.ROLE_ASSIGN, actor=admin).exists()
    admin_context.close()
    member_context.close()
