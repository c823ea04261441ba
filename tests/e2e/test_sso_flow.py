"""Single sign-on end to end: a developer registers an application in Chromium, a user signs
in to it through the portal's sign-in and consent pages, and a standard OAuth library (authlib)
exchanges the code with PKCE, verifies the id_token against the JWKS, refreshes, revokes, and
the browser signs out through end-session."""

from __future__ import annotations

import json
import re
import secrets
from urllib.parse import parse_qs, urlencode, urlsplit

import httpx
from authlib.integrations.httpx_client import OAuth2Client
from django.urls import reverse
from jwcrypto import jwk, jwt
from playwright.sync_api import Page, Route, expect

from tests.e2e.conftest import sign_in_form_submit
from tests.factories import UserFactory

CALLBACK = "http://127.0.0.1:8765/callback"
SIGNED_OUT = "http://127.0.0.1:8765/signed-out"


def _register_app(page: Page, screenshot) -> tuple[str, str]:
    developer = UserFactory()
    page.goto(reverse("sso:app_create"))
    sign_in_form_submit(page, developer.username)
    page.get_by_label("Name", exact=True).fill("Demo RP")
    page.get_by_label(re.compile("Web application with a server")).check()
    page.get_by_label(re.compile("^Redirect URIs")).fill(CALLBACK)
    page.get_by_label("Sign-out redirect URIs").fill(SIGNED_OUT)
    page.locator("input[name=allowed_scopes][value=roles]").check()
    screenshot(page, "sso-register-app")
    page.get_by_role("button", name="Register").click()
    expect(page.get_by_text("Copy the client secret now.")).to_be_visible()
    screenshot(page, "sso-app-registered")
    client_id = page.locator("#client-id").inner_text()
    secret = page.locator("#client-secret").inner_text()
    page.context.clear_cookies()
    return client_id, secret


def _capture(page: Page) -> list[str]:
    """The relying party's callback is not a real server: the browser's request is enough."""
    seen: list[str] = []

    def fulfil(route: Route) -> None:
        seen.append(route.request.url)
        route.fulfill(status=200, body="relying party", content_type="text/plain")

    page.route("http://127.0.0.1:8765/**", fulfil)
    return seen


def test_sign_in_with_pkce_refresh_revoke_and_end_session(
    page: Page, live_server, settings, screenshot
) -> None:
    settings.PORTAL_URL = live_server.url  # the issuer the client discovers
    client_id, secret = _register_app(page, screenshot)
    user = UserFactory()
    seen = _capture(page)
    rp = OAuth2Client(
        client_id,
        secret,
        scope="openid profile email roles",
        redirect_uri=CALLBACK,
        code_challenge_method="S256",
    )
    meta = httpx.get(f"{live_server.url}/.well-known/openid-configuration").json()
    verifier = secrets.token_urlsafe(48)
    url, state = rp.create_authorization_url(
        meta["authorization_endpoint"], code_verifier=verifier, nonce="n-e2e"
    )

    page.goto(url)
    sign_in_form_submit(page, user.username)
    expect(page.get_by_role("heading", name="Allow Demo RP to use your account?")).to_be_visible()
    expect(page.get_by_text("See the roles you hold in the portal")).to_be_visible()
    screenshot(page, "sso-consent")
    page.get_by_role("button", name="Allow").click()
    page.wait_for_url(re.compile(r"^http://127\.0\.0\.1:8765/callback"))
    params = parse_qs(urlsplit(seen[-1]).query)
    assert params["state"] == [state]
    assert params["iss"] == [meta["issuer"]]

    token = rp.fetch_token(
        meta["token_endpoint"], authorization_response=seen[-1], code_verifier=verifier
    )
    jwks = jwk.JWKSet.from_json(httpx.get(meta["jwks_uri"]).text)
    verified = jwt.JWT(
        jwt=token["id_token"],
        key=jwks,
        algs=["RS256"],
        check_claims={"iss": meta["issuer"], "aud": client_id, "exp": None},
    )
    claims = json.loads(verified.claims)
    assert claims["sub"] == str(user.public_id)
    assert claims["nonce"] == "n-e2e"
    assert claims["roles"] == []

    info = rp.get(meta["userinfo_endpoint"]).json()
    assert info["email"] == user.email

    refreshed = rp.refresh_token(meta["token_endpoint"])
    assert refreshed["refresh_token"] != token["refresh_token"]

    page.goto(reverse("sso:connected_apps"))
    expect(page.get_by_role("cell", name="Demo RP", exact=True)).to_be_visible()
    screenshot(page, "sso-connected-apps")

    hint = {"id_token_hint": refreshed["id_token"], "post_logout_redirect_uri": SIGNED_OUT}
    page.goto(reverse("home"))
    with page.expect_request(re.compile(r"^http://127\.0\.0\.1:8765/signed-out")) as signed_out:
        page.evaluate(
            "url => { window.location.href = url; }",
            f"{urlsplit(meta['end_session_endpoint']).path}?{urlencode(hint)}&state=bye",
        )
    assert signed_out.value.url == f"{SIGNED_OUT}?state=bye"
    assert rp.get(meta["userinfo_endpoint"]).status_code == 401
    revoke = rp.revoke_token(meta["revocation_endpoint"], refreshed["refresh_token"])
    assert revoke.status_code == 200
    page.goto(reverse("sso:connected_apps"))
    expect(page.get_by_role("heading", name="Sign in")).to_be_visible()  # signed out of the portal
