"""Passkeys in Chromium with a virtual authenticator (CDP WebAuthn): add one on the security
page, sign in with it alone, use it as the second factor, remove it."""

from __future__ import annotations

import json
import re
import secrets
from urllib.parse import parse_qs, urlsplit

import httpx
import pytest
from authlib.integrations.httpx_client import OAuth2Client
from django.urls import reverse
from jwcrypto import jwk, jwt
from playwright.sync_api import Page, Route, expect

from accounts.models import Passkey, UserSession
from sso import services as sso_services
from tests.e2e.conftest import sign_in, sign_in_form_submit
from tests.factories import UserFactory
from tests.mfa import totp_enrol

pytestmark = pytest.mark.django_db(transaction=True)

AUTHENTICATOR = {
    "protocol": "ctap2",
    "transport": "internal",
    "hasResidentKey": True,
    "hasUserVerification": True,
    "isUserVerified": True,
    "automaticPresenceSimulation": True,
}


@pytest.fixture(autouse=True)
def _relying_party(settings, live_server) -> None:
    # http://localhost is a secure context; the live server's origin is the only one allowed.
    settings.WEBAUTHN_RP_ID = "localhost"
    settings.WEBAUTHN_ORIGINS = [live_server.url]


@pytest.fixture
def authenticator(page: Page) -> dict:
    """A platform authenticator with user verification, resident keys, presence simulated."""
    cdp = page.context.new_cdp_session(page)
    cdp.send("WebAuthn.enable")
    added = cdp.send("WebAuthn.addVirtualAuthenticator", {"options": AUTHENTICATOR})
    return {"cdp": cdp, "id": added["authenticatorId"]}


def _add_passkey(page: Page, name: str) -> None:
    page.goto(reverse("accounts:security"))
    page.get_by_label("Name for the new passkey").fill(name)
    page.get_by_role("button", name="Add a passkey").click()


def _without_autofill(page: Page) -> None:
    """As a browser without passkey autofill: Chromium's virtual authenticator answers the
    login page's conditional request at once, before any button could be clicked."""
    page.add_init_script("PublicKeyCredential.isConditionalMediationAvailable = async () => false;")


def _sign_out(page: Page) -> None:
    page.goto(reverse("accounts:logout"))
    page.locator("#main").get_by_role("button", name="Sign out").click()
    expect(page.get_by_role("heading", name="Sign in")).to_be_visible()


def test_passkey_added_signs_in_alone_then_removed(page: Page, authenticator, screenshot):
    user = UserFactory(username="ada")
    _without_autofill(page)
    sign_in(page, "ada")
    _add_passkey(page, "Work laptop")
    codes = page.locator("[data-recovery-codes-list]")
    expect(codes).to_be_visible()
    assert len(codes.inner_text().split()) == 10
    screenshot(page, "passkeys-recovery-codes")
    page.get_by_role("button", name="I saved them").click()
    expect(page.get_by_role("row", name="Work laptop")).to_be_visible()
    screenshot(page, "passkeys-security-page")

    _sign_out(page)
    screenshot(page, "passkeys-login-page")
    page.get_by_role("button", name="Sign in with a passkey").click()
    expect(page.get_by_role("heading", name="Signed in as")).to_be_visible()
    assert UserSession.objects.filter(user=user, amr="hwk", revoked_at__isnull=True).exists()

    page.goto(reverse("accounts:security"))
    expect(page.get_by_role("row", name="Work laptop")).to_contain_text("This device only")
    page.get_by_role("button", name="Remove Work laptop").click()
    expect(page.get_by_text("Passkey removed.")).to_be_visible()
    assert not Passkey.objects.filter(user=user).exists()
    screenshot(page, "passkeys-removed")


def test_passkey_sign_in_refused_once_the_passkey_is_removed(page: Page, authenticator):
    user = UserFactory(username="bea")
    _without_autofill(page)
    sign_in(page, "bea")
    _add_passkey(page, "Phone")
    page.get_by_role("button", name="I saved them").click()
    Passkey.objects.filter(user=user).delete()  # removed elsewhere (another browser, the admin)
    _sign_out(page)
    page.get_by_role("button", name="Sign in with a passkey").click()
    expect(page.locator("[data-passkey-error]")).to_contain_text("could not be verified")
    assert not UserSession.objects.filter(user=user, revoked_at__isnull=True).exists()


def test_passkey_autofill_on_the_username_field_signs_in(page: Page, authenticator):
    user = UserFactory(username="dee")
    sign_in(page, "dee")
    _add_passkey(page, "Laptop")
    page.get_by_role("button", name="I saved them").click()
    expect(page.get_by_role("row", name="Laptop")).to_be_visible()
    page.goto(reverse("accounts:logout"))
    page.locator("#main").get_by_role("button", name="Sign out").click()
    # The login page asks for a passkey with mediation "conditional"; the virtual authenticator
    # answers as a user picking it from the username field's suggestions would.
    expect(page.get_by_role("heading", name="Signed in as dee")).to_be_visible()
    assert page.get_by_label("Username or email").count() == 0
    assert UserSession.objects.filter(user=user, amr="hwk", revoked_at__isnull=True).exists()


def test_passkey_as_the_second_factor_after_the_password(page: Page, authenticator, screenshot):
    user = UserFactory(username="cyd")
    _without_autofill(page)
    sign_in(page, "cyd")
    _add_passkey(page, "Laptop")
    page.get_by_role("button", name="I saved them").click()
    totp_enrol(user)  # the account has an authenticator app too
    _sign_out(page)
    sign_in_form_submit(page, "cyd")
    page.wait_for_url(re.compile(r"/accounts/login/verify/"))
    screenshot(page, "passkeys-verify-page")
    page.get_by_role("button", name="Use a passkey").click()
    expect(page.get_by_role("heading", name="Signed in as")).to_be_visible()
    assert UserSession.objects.filter(user=user, amr="pwd hwk", revoked_at__isnull=True).exists()


CALLBACK = "http://127.0.0.1:8765/callback"


def _relying_party_app() -> tuple[str, str]:
    app, secret = sso_services.application_create(
        owner=UserFactory(),
        name="Phishing-resistant RP",
        client_type="confidential",
        redirect_uris=CALLBACK,
        allowed_scopes="openid profile",
    )
    return app.client_id, secret


def _callbacks(page: Page) -> list[str]:
    seen: list[str] = []

    def fulfil(route: Route) -> None:
        seen.append(route.request.url)
        route.fulfill(status=200, body="relying party", content_type="text/plain")

    page.route("http://127.0.0.1:8765/**", fulfil)
    return seen


def test_passkey_sign_in_for_an_oauth_client_asking_acr_phr(
    page: Page, authenticator, live_server, settings, screenshot
):
    settings.PORTAL_URL = live_server.url  # the issuer the client discovers
    _without_autofill(page)
    user = UserFactory(username="eve")
    sign_in(page, "eve")
    _add_passkey(page, "Laptop")
    page.get_by_role("button", name="I saved them").click()
    _sign_out(page)
    client_id, secret = _relying_party_app()
    seen = _callbacks(page)
    rp = OAuth2Client(
        client_id,
        secret,
        scope="openid profile",
        redirect_uri=CALLBACK,
        code_challenge_method="S256",
    )
    meta = httpx.get(f"{live_server.url}/.well-known/openid-configuration").json()
    verifier = secrets.token_urlsafe(48)
    url, state = rp.create_authorization_url(
        meta["authorization_endpoint"], code_verifier=verifier, nonce="n-phr", acr_values="phr"
    )
    page.goto(url)
    screenshot(page, "passkeys-oauth-sign-in")
    page.get_by_role("button", name="Sign in with a passkey").click()
    page.get_by_role("button", name="Allow").click()
    page.wait_for_url(re.compile(r"^http://127\.0\.0\.1:8765/callback"))
    assert parse_qs(urlsplit(seen[-1]).query)["state"] == [state]
    token = rp.fetch_token(
        meta["token_endpoint"], authorization_response=seen[-1], code_verifier=verifier
    )
    jwks = jwk.JWKSet.from_json(httpx.get(meta["jwks_uri"]).text)
    verified = jwt.JWT(jwt=token["id_token"], key=jwks, algs=["RS256"])
    claims = json.loads(verified.claims)
    assert claims["sub"] == str(user.public_id)
    assert UserSession.objects.filter(user=user, amr="hwk", revoked_at__isnull=True).exists()
    assert "hwk" in claims["amr"]
    assert claims.get("acr") == "phr"
