"""An admin registers a webhook endpoint in the Django admin, copies its secret from the one page
that shows it, sees the endpoint's deliveries and rotates the secret."""

from __future__ import annotations

import re

from playwright.sync_api import expect

from identity.events import event_record
from identity.models import WebhookEndpoint
from tests import factories
from tests.e2e.test_authz_admin import signed_in


def test_admin_adds_an_endpoint_copies_its_secret_once_and_rotates_it(
    browser, live_server, screenshot, settings
) -> None:
    settings.WEBHOOK_ALLOW_PRIVATE = True
    admin = factories.UserFactory(superuser=True)
    page = signed_in(browser, live_server, admin).new_page()

    page.goto("/admin/identity/webhookendpoint/add/")
    page.get_by_label("URL").fill("http://127.0.0.1:9/hooks/siem")
    page.get_by_label("Description").fill("SIEM")
    page.get_by_label("user.created: An account was created").check()
    page.get_by_label("role.assigned: A role was assigned").check()
    screenshot(page, "webhook-admin-add")
    page.locator("input[name=_save]").click()

    secret = page.get_by_label("Signing secret")
    expect(secret).to_have_value(re.compile(r"^whsec_"))
    first = secret.input_value()
    expect(page.get_by_text("it is shown only this once")).to_be_visible()
    screenshot(page, "webhook-admin-secret-once")

    endpoint = WebhookEndpoint.objects.get()
    assert endpoint.event_types == ["role.assigned", "user.created"]
    assert event_record("user.created", data={}).deliveries.count() == 1
    page.get_by_role("link", name="I have copied it").click()
    expect(page.get_by_text("Shown once, when the endpoint was added")).to_be_visible()
    expect(page.locator(".field-recent_deliveries")).to_contain_text("user.created")
    assert first not in page.content()
    screenshot(page, "webhook-admin-change")

    page.get_by_role("link", name="Rotate secret…").click()
    screenshot(page, "webhook-admin-rotate-confirm")
    page.get_by_role("button", name="Yes, rotate the secret").click()
    rotated = page.get_by_label("Signing secret").input_value()
    assert rotated.startswith("whsec_")
    assert rotated != first
    expect(page.get_by_text("The previous secret also signs")).to_be_visible()
    screenshot(page, "webhook-admin-rotated")
