"""Single sign-on in Chromium: the home page's Connected apps tile, and the redirect chain of a
sign-in during an authorization request whose consent is remembered (CSP form-action)."""

from __future__ import annotations

import re
import threading
from collections.abc import Iterator
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from urllib.parse import parse_qs, urlencode, urlsplit

import pytest
from django.urls import reverse
from playwright.sync_api import Page, expect

from sso import services
from tests.e2e.conftest import sign_in_form_submit
from tests.factories import UserFactory
from tests.sso.conftest import pkce_pair, register


class _RelyingParty(BaseHTTPRequestHandler):
    def do_GET(self) -> None:
        body = b"relying party"
        self.send_response(200)
        self.send_header("Content-Type", "text/plain")
        self.send_header("Content-Length", str(len(body)))
        self.end_headers()
        self.wfile.write(body)

    def log_message(self, *args: object) -> None:
        return None


@pytest.fixture
def relying_party() -> Iterator[str]:
    """A real HTTP server on another port (another origin): its callback must be reached."""
    server = ThreadingHTTPServer(("127.0.0.1", 0), _RelyingParty)
    thread = threading.Thread(target=server.serve_forever, daemon=True)
    thread.start()
    yield f"http://127.0.0.1:{server.server_address[1]}"
    server.shutdown()
    server.server_close()


def test_home_shows_the_connected_apps_tile(page: Page, screenshot) -> None:
    user = UserFactory()
    page.goto(reverse("accounts:login"))
    sign_in_form_submit(page, user.username)
    tile = page.get_by_role("link", name=re.compile("^Connected apps"))
    expect(tile).to_be_visible()
    screenshot(page, "sso-home-connected-apps-tile")
    tile.click()
    expect(page).to_have_url(re.compile(r"/accounts/apps/$"))
    expect(page.get_by_role("heading", name="Connected apps")).to_be_visible()
    expect(page.get_by_text("No application can use your account.")).to_be_visible()
    screenshot(page, "sso-connected-apps-empty")


def test_sign_in_during_authorize_with_remembered_consent_reaches_the_client(
    page: Page, relying_party: str, screenshot
) -> None:
    """login POST -> 302 /o/authorize/ -> 302 client callback: Chromium checks the login form's
    CSP form-action against every hop, so the client's origin must be allowed there."""
    callback = f"{relying_party}/callback"
    owner, user = UserFactory(), UserFactory()
    rp = register(owner, redirect_uris=callback, post_logout_redirect_uris="")
    services.consent_grant(user=user, application=rp.app, scopes=["openid", "profile"])
    _, challenge = pkce_pair()
    params = {
        "response_type": "code",
        "client_id": rp.client_id,
        "redirect_uri": callback,
        "scope": "openid profile",
        "state": "st-remembered",
        "code_challenge": challenge,
        "code_challenge_method": "S256",
    }
    page.goto(f"{reverse('oauth2_provider:authorize')}?{urlencode(params)}")
    expect(page.get_by_role("heading", name="Sign in")).to_be_visible()
    policy = _login_policy(page)
    blocked: list[str] = []
    page.on("console", lambda msg: blocked.append(msg.text) if "form-action" in msg.text else None)
    with page.expect_request(re.compile(re.escape(callback))) as reached:
        sign_in_form_submit(page, user.username)
    query = parse_qs(urlsplit(reached.value.url).query)
    assert query["state"] == ["st-remembered"]
    assert "code" in query
    expect(page.get_by_text("relying party")).to_be_visible()
    assert blocked == []
    screenshot(page, "sso-remembered-consent-callback")
    # Narrow: the registered client's origin only, on this login page only.
    assert f"form-action 'self' {relying_party};" in policy + ";"


def _login_policy(page: Page) -> str:
    response = page.request.get(page.url)
    return response.headers.get("content-security-policy", "")
