"""Fixtures for the OAuth tests: applications made through the service, PKCE, one sign-in."""

from __future__ import annotations

import base64
import hashlib
import secrets
from dataclasses import dataclass
from urllib.parse import parse_qs, urlencode, urlsplit

import pytest
from django.test import Client
from django.urls import reverse

from accounts.models import User
from sso import services
from sso.models import Application

REDIRECT_URI = "https://rp.example.com/callback"
LOGOUT_URI = "https://rp.example.com/signed-out"
NATIVE_URI = "http://127.0.0.1/callback"


@dataclass
class Registered:
    app: Application
    secret: str | None

    @property
    def client_id(self) -> str:
        return self.app.client_id


def pkce_pair() -> tuple[str, str]:
    verifier = secrets.token_urlsafe(48)
    digest = hashlib.sha256(verifier.encode()).digest()
    return verifier, base64.urlsafe_b64encode(digest).rstrip(b"=").decode()


def query(response) -> dict[str, str]:
    return {k: v[0] for k, v in parse_qs(urlsplit(response["Location"]).query).items()}


def basic(client_id: str, secret: str) -> str:
    return "Basic " + base64.b64encode(f"{client_id}:{secret}".encode()).decode()


@pytest.fixture
def owner(user_factory) -> User:
    return user_factory()


def register(owner: User, **kwargs) -> Registered:
    fields = {
        "name": f"App {secrets.token_hex(3)}",
        "client_type": "confidential",
        "redirect_uris": f"{REDIRECT_URI} {NATIVE_URI}",
        "post_logout_redirect_uris": LOGOUT_URI,
        "allowed_scopes": "openid profile email phone address roles read write",
        **kwargs,
    }
    app, secret = services.application_create(owner=owner, **fields)
    return Registered(app, secret)


@pytest.fixture
def rp(owner: User) -> Registered:
    """A confidential web application."""
    return register(owner)


@pytest.fixture
def public_rp(owner: User) -> Registered:
    return register(owner, client_type="public")


@pytest.fixture
def service_rp(owner: User) -> Registered:
    return register(owner, service=True, redirect_uris="", post_logout_redirect_uris="")


def authorize_url(client_id: str, *, challenge: str, scope: str = "openid", **extra: str) -> str:
    """The authorization endpoint with a valid PKCE request (and ``extra`` parameters)."""
    params = {
        "response_type": "code",
        "client_id": client_id,
        "redirect_uri": REDIRECT_URI,
        "scope": scope,
        "code_challenge": challenge,
        "code_challenge_method": "S256",
        **extra,
    }
    return f"{reverse('oauth2_provider:authorize')}?{urlencode(params)}"


def authorize_page(
    client: Client, client_id: str, *, challenge: str, scope: str = "openid", **extra: str
):
    """GET of the authorization endpoint with a valid PKCE request: the consent page, or the
    redirect when nothing needs asking."""
    return client.get(authorize_url(client_id, challenge=challenge, scope=scope, **extra))


def authorize(
    client: Client,
    rp: Registered,
    *,
    challenge: str | None,
    method: str | None = "S256",
    scope: str = "openid profile email",
    redirect_uri: str = REDIRECT_URI,
    allow: bool = True,
    **extra: str,
):
    params = {
        "response_type": "code",
        "client_id": rp.client_id,
        "redirect_uri": redirect_uri,
        "scope": scope,
        "state": "st-123",
        "nonce": "nonce-456",
        "code_challenge": challenge,
        **extra,
    }
    if method:
        params["code_challenge_method"] = method
    params = {key: value for key, value in params.items() if value is not None}
    response = client.get(reverse("oauth2_provider:authorize"), params)
    if response.status_code != 200 or "form" not in response.context:
        return response
    form = {k: v for k, v in response.context["form"].initial.items() if v is not None}
    if allow:
        form["allow"] = "Authorize"
    return client.post(reverse("oauth2_provider:authorize"), form)


def exchange(client: Client, rp: Registered, code: str, verifier: str | None, **extra: str):
    data = {"grant_type": "authorization_code", "code": code, "redirect_uri": REDIRECT_URI}
    if verifier is not None:
        data["code_verifier"] = verifier
    data.update(extra)
    headers = {"HTTP_AUTHORIZATION": basic(rp.client_id, rp.secret)} if rp.secret else {}
    if not rp.secret:
        data["client_id"] = rp.client_id
    return client.post(reverse("oauth2_provider:token"), data, **headers)


def sign_in(client: Client, rp: Registered, user: User, scope: str = "openid profile email"):
    """The whole front channel and the code exchange; the token response JSON."""
    client.force_login(user)
    verifier, challenge = pkce_pair()
    response = authorize(client, rp, challenge=challenge, scope=scope)
    assert response.status_code == 302, response.content
    tokens = exchange(client, rp, query(response)["code"], verifier)
    assert tokens.status_code == 200, tokens.content
    return tokens.json()


def refresh(client: Client, rp: Registered, refresh_token: str):
    headers = {"HTTP_AUTHORIZATION": basic(rp.client_id, rp.secret)} if rp.secret else {}
    data = {"grant_type": "refresh_token", "refresh_token": refresh_token}
    if not rp.secret:
        data["client_id"] = rp.client_id
    return client.post(reverse("oauth2_provider:token"), data, **headers)
