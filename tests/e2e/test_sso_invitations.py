"""Inviting a member to a restricted application in Chromium (issue 16, item 12): the owner's
page lists what was typed, the same for a real account and an unknown address; the invited
account signs in through the emailed link (``next`` kept) and accepts."""

from __future__ import annotations

import re

from django.core import mail
from django.urls import reverse
from playwright.sync_api import Browser, Page, expect

from tests.e2e.conftest import sign_in_form_submit
from tests.factories import UserFactory
from tests.sso.conftest import register


def test_invite_then_accept(page: Page, browser: Browser, live_server, screenshot) -> None:
    owner = UserFactory()
    member = UserFactory(email="hidden.mailbox@example.org", username="secret-handle")
    app = register(owner, restricted=True).app
    mail.outbox.clear()

    page.goto(
        reverse("accounts:login") + "?next=" + reverse("sso:app_members", args=[app.client_id])
    )
    sign_in_form_submit(page, owner.username)
    for login in (member.email, "nobody-here@example.com"):
        page.get_by_label("Username or email").fill(login)
        page.get_by_role("button", name="Invite").click()
        expect(page.get_by_text(f"{login} is invited.")).to_be_visible()
    expect(page.get_by_role("button", name=f"Withdraw {member.email}")).to_be_visible()
    expect(page.get_by_role("button", name="Withdraw nobody-here@example.com")).to_be_visible()
    expect(page.get_by_text(member.username)).to_have_count(0)
    screenshot(page, "sso-members-pending-invitations")

    link = re.search(r"https?://[^/\s]+(/\S+/invitations/\S+/)", mail.outbox[-1].body).group(1)
    context = browser.new_context(base_url=live_server.url)
    invited = context.new_page()
    invited.goto(link)
    sign_in_form_submit(invited, member.username)
    expect(invited.get_by_role("heading", name=f"Invitation to {app.name}")).to_be_visible()
    screenshot(invited, "sso-invitation-accept")
    invited.get_by_role("button", name="Accept").click()
    expect(invited.get_by_text(f"You are now a member of {app.name}.")).to_be_visible()
    context.close()

    page.reload()
    expect(page.get_by_role("button", name=f"Remove {member.username}")).to_be_visible()
    expect(page.get_by_role("button", name=f"Withdraw {member.email}")).to_have_count(0)
    screenshot(page, "sso-members-after-accept")
