"""The demo relying party (sso/demo_client.py, `make demo-client`) in Chromium: its WSGI app
runs in-process on a free port against the live server, registered as `make demo-client`
registers it. Sign in with PKCE -> verified claims -> refresh -> sign out back to its home; and
signed out by the portal through back-channel logout, delivered by the real task worker."""

from __future__ import annotations

import re
import threading
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path

import pytest
from django.urls import reverse
from playwright.sync_api import Page, expect

from accounts.models import UserSession
from authz import services as authz_services
from identity.models import Delivery
from sso import services
from sso.demo_client import Config, DemoClient, serve
from tests.e2e.conftest import sign_in_form_submit
from tests.factories import DEFAULT_PASSWORD, UserFactory
from tests.identity.outbox_receiver import start_worker, wait_for
from tests.processes import database_url


@contextmanager
def _demo_served(live_server, settings) -> Iterator[str]:
    settings.PORTAL_URL = live_server.url  # the issuer the demo discovers and checks
    server = serve(lambda environ, start_response: [], port=0)
    base_url = f"http://127.0.0.1:{server.server_address[1]}"
    application = services.demo_client_register(base_url=base_url)
    assert services.demo_client_register(base_url=base_url) == application  # reused
    config = Config(portal_url=live_server.url, client_id=application.client_id, base_url=base_url)
    server.set_app(DemoClient(config))
    thread = threading.Thread(target=server.serve_forever, daemon=True)
    thread.start()
    try:
        yield base_url
    finally:
        server.shutdown()
        server.server_close()


@pytest.fixture
def demo(live_server, settings) -> Iterator[str]:
    with _demo_served(live_server, settings) as base_url:
        yield base_url


@pytest.fixture
def demo_with_backchannel(live_server, settings, monkeypatch, tmp_path: Path) -> Iterator[str]:
    """The demo registered with its back-channel logout URI (loopback: allowed as in
    development), and the real ``manage.py db_worker`` delivering, with the live server's
    issuer."""
    settings.WEBHOOK_ALLOW_PRIVATE = True
    monkeypatch.setenv("PORTAL_URL", live_server.url)
    worker = start_worker(database_url=database_url(), log=tmp_path / "worker.log")
    try:
        with _demo_served(live_server, settings) as base_url:
            yield base_url
    finally:
        worker.terminate()
        worker.wait(10)


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


def test_revoking_the_demo_clients_session_on_the_portal_signs_the_demo_out(
    page: Page, live_server, demo_with_backchannel: str, screenshot
) -> None:
    demo = demo_with_backchannel
    user = UserFactory()
    page.goto(f"{demo}/")
    page.get_by_role("button", name="Sign in with the portal").click()
    sign_in_form_submit(page, user.username, DEFAULT_PASSWORD)
    page.get_by_role("button", name="Allow").click()
    expect(page.get_by_role("status")).to_have_text("Signed in.")

    page.goto(f"{live_server.url}{reverse('accounts:sessions')}")
    row = page.get_by_role("row").filter(has_text="Demo client")
    expect(row).to_contain_text("OAuth")
    screenshot(page, "backchannel-portal-sessions")
    row.get_by_role("button", name=re.compile("^Sign out")).click()
    expect(page.get_by_role("row").filter(has_text="Demo client")).to_have_count(0)

    delivered = Delivery.objects.filter(kind="backchannel_logout")
    wait_for(
        lambda: delivered.filter(status=Delivery.Status.SUCCEEDED).exists(),
        what="the worker to deliver the logout token",
    )
    page.goto(f"{demo}/")
    expect(page.get_by_role("status")).to_have_text("The portal signed you out.")
    expect(page.get_by_text("You are not signed in.")).to_be_visible()
    screenshot(page, "backchannel-demo-signed-out")
    assert delivered.get().last_status_code == 200
