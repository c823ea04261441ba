"""The demo relying party (sso/demo_client.py, `make demo-client`) in Chromium: its WSGI app
runs in-process on a free port against the live server, registered as `make demo-client`
registers it. Sign in with PKCE -> verified claims -> refresh -> sign out back to its home."""

from __future__ import annotations

import re
import threading
from collections.abc import Iterator

import pytest
from playwright.sync_api import Page, expect

from accounts.models import UserSession
from authz import services as authz_services
from sso import services
from sso.demo_client import Config, DemoClient, serve
from tests.e2e.conftest import sign_in_form_submit
from tests.factories import DEFAULT_PASSWORD, UserFactory


@pytest.fixture
def demo(live_server, settings) -> Iterator[str]:
    settings.PORTAL_URL = live_server.url  # the issuer the demo discovers and checks
    server = serve(lambda environ, start_response: [], port=0)
    base_url = f"http://127.0.0.1:{server.server_address[1]}"
    application = services.demo_client_register(base_url=base_url)
    assert services.demo_client_register(base_url=base_url) == application  # reused
    config = Config(portal_url=live_server.url, client_id=application.client_id, base_url=base_url)
    server.set_app(DemoClient(config))
    thread = threading.Thread(target=server.serve_forever, daemon=True)
    thread.start()
    yield base_url
    server.shutdown()
    server.server_close()


def test_demo_client_signs_in_refreshes_and_signs_out(page: Page, demo: str, screenshot) -> None:
    user = UserFactory()
    role = authz_services.role_create(name="demo-tester")
    authz_services.role_assign(user=user, role=role, granted_by=None)

    page.goto(f"{demo}/")
    page.get_by_role("button", name="Sign in with the portal").click()
    sign_in_form_submit(page, user.username, DEFAULT_PASSWORD)
    expect(
        page.get_by_role("heading", name="Allow Demo client to use your account?")
    ).to_be_visible()
    page.get_by_role("button", name="Allow").click()

    expect(page).to_have_url(f"{demo}/")
    expect(page.get_by_role("status")).to_have_text("Signed in.")
    claims = page.get_by_role("table", name="Verified id_token claims")
    expect(claims.get_by_role("row", name=re.compile("^sub"))).to_contain_text(str(user.public_id))
    expect(claims.get_by_role("row", name=re.compile("^email "))).to_contain_text(user.email)
    expect(claims.get_by_role("row", name=re.compile("^roles"))).to_contain_text("demo-tester")
    screenshot(page, "demo-client-signed-in")

    page.get_by_role("button", name="Refresh tokens").click()
    expect(page.get_by_role("status")).to_have_text("Tokens refreshed.")
    expect(claims.get_by_role("row", name=re.compile("^sub"))).to_contain_text(str(user.public_id))
    oauth = UserSession.objects.get(user=user, channel="oauth")
    assert oauth.revoked_at is None

    page.get_by_role("button", name="Sign out").click()
    expect(page).to_have_url(re.compile(rf"^{re.escape(demo)}/(\?.*)?$"))
    expect(page.get_by_text("You are not signed in.")).to_be_visible()
    screenshot(page, "demo-client-signed-out")
    oauth.refresh_from_db()
    assert oauth.revoked_at is not None  # end-session ended the demo's sign-in
